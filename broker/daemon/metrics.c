/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>

#include "fdwatch.h"
#include "metrics.h"

/* A client that has not sent its request head by then is dropped. */
#define METRICS_CLIENT_TIMEOUT_MS 5000

struct metrics_client {
	struct metrics *m;
	int fd;
	guint watch;
	guint timeout;
	size_t len;
	char buf[METRICS_MAX_REQUEST + 1];
};

struct metrics {
	int fd;
	guint watch;       /* accept; removed while at the client limit */
	metrics_render_fn render;
	void *ctx;
	GPtrArray *clients; /* struct metrics_client *, owned */
};

static gboolean metrics_on_accept(gint fd, GIOCondition cond, gpointer data);

static void metrics_client_free(struct metrics_client *cl)
{
	struct metrics *m = cl->m;

	if (cl->watch)
		fdwatch_remove(cl->watch);
	if (cl->timeout)
		g_source_remove(cl->timeout);
	close(cl->fd);
	g_ptr_array_remove(m->clients, cl);
	g_free(cl);
	if (!m->watch && m->clients->len < METRICS_MAX_CLIENTS)
		m->watch = fdwatch_add(m->fd, G_IO_IN, metrics_on_accept, m);
}

static void metrics_send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

static void metrics_reply(struct metrics_client *cl, const char *status,
			  const char *type, const char *body, size_t len)
{
	char head[256];
	struct timeval tv = { .tv_sec = 2 };
	int n;

	/* A client that stops reading is cut off after the send timeout. */
	setsockopt(cl->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	fcntl(cl->fd, F_SETFL, fcntl(cl->fd, F_GETFL) & ~O_NONBLOCK);
	n = snprintf(head, sizeof(head),
		     "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n", status, type, len);
	metrics_send_all(cl->fd, head, (size_t)n);
	metrics_send_all(cl->fd, body, len);
}

static void metrics_plain(struct metrics_client *cl, const char *status)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%s\n", status);

	metrics_reply(cl, status, "text/plain; charset=utf-8", body, (size_t)n);
}

/* Answer the request line in cl->buf (the whole head has arrived). */
static void metrics_serve(struct metrics_client *cl)
{
	char *eol = strpbrk(cl->buf, "\r\n"), *out = NULL, *sp1, *sp2;
	size_t len = 0;

	*eol = '\0';
	sp1 = strchr(cl->buf, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp2 || sp1 != cl->buf + 3 || strncmp(cl->buf, "GET", 3) ||
	    (strcmp(sp2 + 1, "HTTP/1.0") && strcmp(sp2 + 1, "HTTP/1.1"))) {
		metrics_plain(cl, "400 Bad Request");
		return;
	}
	*sp2 = '\0';
	if (strcmp(sp1 + 1, "/metrics")) {
		metrics_plain(cl, "404 Not Found");
		return;
	}
	if (cl->m->render(cl->m->ctx, &out, &len)) {
		metrics_plain(cl, "500 Internal Server Error");
		return;
	}
	metrics_reply(cl, "200 OK", "text/plain; version=0.0.4; charset=utf-8",
		      out, len);
	free(out);
}

static gboolean metrics_on_client(gint fd, GIOCondition cond, gpointer data)
{
	struct metrics_client *cl = data;
	ssize_t n;

	(void)cond;
	n = read(fd, cl->buf + cl->len, METRICS_MAX_REQUEST - cl->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return G_SOURCE_CONTINUE;
	if (n <= 0) {
		cl->watch = 0;
		metrics_client_free(cl);
		return G_SOURCE_REMOVE;
	}
	cl->len += (size_t)n;
	cl->buf[cl->len] = '\0';
	if (memchr(cl->buf, '\0', cl->len)) {
		metrics_plain(cl, "400 Bad Request");
	} else if (strstr(cl->buf, "\r\n\r\n") || strstr(cl->buf, "\n\n")) {
		metrics_serve(cl);
	} else if (cl->len >= METRICS_MAX_REQUEST) {
		char sink[4096];

		metrics_plain(cl, "431 Request Header Fields Too Large");
		/* Closing with unread bytes would reset the connection under
		 * the reply: take what has already arrived, a bounded amount. */
		shutdown(fd, SHUT_WR);
		for (int i = 0; i < 16; i++)
			if (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0)
				break;
	} else {
		return G_SOURCE_CONTINUE; /* the head is not complete yet */
	}
	cl->watch = 0;
	metrics_client_free(cl);
	return G_SOURCE_REMOVE;
}

static gboolean metrics_on_timeout(gpointer data)
{
	struct metrics_client *cl = data;

	cl->timeout = 0;
	metrics_client_free(cl);
	return G_SOURCE_REMOVE;
}

static gboolean metrics_on_accept(gint fd, GIOCondition cond, gpointer data)
{
	struct metrics *m = data;
	struct metrics_client *cl;
	int cfd;

	(void)cond;
	cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return G_SOURCE_CONTINUE;
	cl = g_new0(struct metrics_client, 1);
	cl->m = m;
	cl->fd = cfd;
	cl->watch = fdwatch_add(cfd, G_IO_IN | G_IO_HUP, metrics_on_client, cl);
	cl->timeout = g_timeout_add(METRICS_CLIENT_TIMEOUT_MS, metrics_on_timeout, cl);
	g_ptr_array_add(m->clients, cl);
	if (m->clients->len >= METRICS_MAX_CLIENTS) {
		m->watch = 0;
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

struct metrics *metrics_new(const struct config_listen *addr,
			    metrics_render_fn render, void *ctx)
{
	struct sockaddr_in in4 = { .sin_family = AF_INET };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
	struct sockaddr *sa;
	socklen_t salen;
	struct metrics *m;
	int fd, one = 1, saved;

	if (addr->ipv6) {
		in6.sin6_port = htons(addr->port);
		in6.sin6_addr = in6addr_loopback;
		sa = (struct sockaddr *)&in6;
		salen = sizeof(in6);
	} else {
		in4.sin_port = htons(addr->port);
		if (inet_pton(AF_INET, addr->host, &in4.sin_addr) != 1) {
			errno = EINVAL;
			return NULL;
		}
		sa = (struct sockaddr *)&in4;
		salen = sizeof(in4);
	}
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, sa, salen) < 0 || listen(fd, 16) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return NULL;
	}
	m = g_new0(struct metrics, 1);
	m->fd = fd;
	m->render = render;
	m->ctx = ctx;
	m->clients = g_ptr_array_new();
	m->watch = fdwatch_add(fd, G_IO_IN, metrics_on_accept, m);
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	while (m->clients->len)
		metrics_client_free(g_ptr_array_index(m->clients, 0));
	if (m->watch)
		fdwatch_remove(m->watch);
	m->watch = 0;
	close(m->fd);
	g_ptr_array_free(m->clients, TRUE);
	g_free(m);
}
