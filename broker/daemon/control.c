/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>

#include "fdwatch.h"
#include "control.h"
#include "linebuf.h"
#include "log.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59 /* Linux 4.13 */
#endif
/* Supplementary groups looked at for the admin group. */
#define CONTROL_MAX_PEER_GROUPS 256

/* A client that has not sent its request by then is dropped. */
#define CONTROL_CLIENT_TIMEOUT_MS 5000

struct control_client {
	struct control *c;    /* owner */
	int fd;
	guint watch;          /* readable watch */
	guint timeout;        /* deadline for the request */
	struct linebuf lines; /* the request */
};

struct control {
	char path[108];
	int fd;               /* listening socket */
	guint watch;          /* accept watch, removed while at the client limit */
	guint resume;         /* re-arms accept after running out of fds */
	control_handler_fn handler;
	void *ctx;
	GPtrArray *clients;   /* struct control_client *, owned */
};

static gboolean control_on_accept(gint fd, GIOCondition cond, gpointer data);

/* How long accept pauses when the process is out of file descriptors. */
#define CONTROL_ACCEPT_PAUSE_MS 200

static gboolean control_on_accept_resume(gpointer data)
{
	struct control *c = data;

	c->resume = 0;
	if (!c->watch && c->clients->len < CONTROL_MAX_CLIENTS)
		c->watch = fdwatch_add(c->fd, G_IO_IN, control_on_accept, c);
	return G_SOURCE_REMOVE;
}

static void control_client_free(struct control_client *cl)
{
	struct control *c = cl->c;

	if (cl->watch)
		fdwatch_remove(cl->watch);
	if (cl->timeout)
		g_source_remove(cl->timeout);
	close(cl->fd);
	linebuf_free(&cl->lines);
	g_ptr_array_remove(c->clients, cl);
	g_free(cl);
	if (!c->watch && c->clients->len < CONTROL_MAX_CLIENTS)
		c->watch = fdwatch_add(c->fd, G_IO_IN, control_on_accept, c);
}

static void control_reply(struct control_client *cl, struct json_object *reply)
{
	const char *text = json_object_to_json_string_ext(reply,
							  JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(text);
	struct timeval tv = { .tv_sec = 2 };

	/* The reply may be large; a client that stops reading gets cut off
	 * after the send timeout rather than stalling the daemon. */
	setsockopt(cl->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	fcntl(cl->fd, F_SETFL, fcntl(cl->fd, F_GETFL) & ~O_NONBLOCK);
	while (len) {
		ssize_t n = send(cl->fd, text, len, MSG_NOSIGNAL);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return;
		}
		text += n;
		len -= (size_t)n;
	}
	send(cl->fd, "\n", 1, MSG_NOSIGNAL);
}

/*
 * Who is on the other end of @fd. Privileged: root, or CONTROL_ADMIN_GROUP
 * as its primary group or among the supplementary groups it had when it
 * connected (SO_PEERGROUPS). The group is looked up now, so adding it or
 * changing its members needs no restart of rammd.
 */
static void control_peer_of(int fd, struct control_peer *peer)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t groups[CONTROL_MAX_PEER_GROUPS];
	struct group *gr;

	peer->uid = peer->gid = peer->pid = -1;
	peer->privileged = 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) || len != sizeof(cred))
		return;
	peer->uid = (long)cred.uid;
	peer->gid = (long)cred.gid;
	peer->pid = (long)cred.pid;
	if (cred.uid == 0) {
		peer->privileged = 1;
		return;
	}
	gr = getgrnam(CONTROL_ADMIN_GROUP);
	if (!gr)
		return;
	if (cred.gid == gr->gr_gid) {
		peer->privileged = 1;
		return;
	}
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len))
		return; /* too many groups, or an old kernel: primary only */
	for (size_t i = 0; i < len / sizeof(groups[0]); i++)
		if (groups[i] == gr->gr_gid)
			peer->privileged = 1;
}

static void control_error(struct control_client *cl, const char *error)
{
	struct json_object *reply = json_object_new_object();
	struct control_peer peer;

	control_peer_of(cl->fd, &peer);
	log_warn("control: refused request from uid %ld pid %ld: %s", peer.uid,
		 peer.pid, error);
	json_object_object_add(reply, "error", json_object_new_string(error));
	control_reply(cl, reply);
	json_object_put(reply);
}

/* @line as one strict JSON value with nothing but whitespace after it, or
 * NULL. A NUL inside the line makes it invalid. */
static struct json_object *control_parse(const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(16);
	struct json_object *v;
	size_t end;

	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	v = json_tokener_parse_ex(tok, line, (int)len);
	end = (size_t)json_tokener_get_parse_end(tok);
	if (v && json_tokener_get_error(tok) == json_tokener_success) {
		while (end < len && (line[end] == ' ' || line[end] == '\t' ||
				     line[end] == '\r'))
			end++;
		if (end != len) {
			json_object_put(v);
			v = NULL;
		}
	} else if (v) {
		json_object_put(v);
		v = NULL;
	}
	json_tokener_free(tok);
	return v;
}

static void control_handle(struct control_client *cl, const char *line,
			   size_t len)
{
	struct json_object *req = control_parse(line, len), *cmd, *reply;
	const char *error = NULL;
	struct control_peer peer;

	if (!req) {
		control_error(cl, "request is not one valid JSON value");
		return;
	}
	if (!json_object_is_type(req, json_type_object) ||
	    !json_object_object_get_ex(req, "cmd", &cmd) ||
	    !json_object_is_type(cmd, json_type_string)) {
		control_error(cl, "request must be a JSON object with a string \"cmd\"");
		json_object_put(req);
		return;
	}
	control_peer_of(cl->fd, &peer);
	reply = cl->c->handler(cl->c->ctx, &peer, req, &error);
	if (reply) {
		control_reply(cl, reply);
		json_object_put(reply);
	} else {
		control_error(cl, error ? error : "request failed");
	}
	json_object_put(req);
}

static gboolean control_on_client(gint fd, GIOCondition cond, gpointer data)
{
	struct control_client *cl = data;
	char buf[CONTROL_MAX_REQUEST];
	char *line;
	size_t len;
	ssize_t n;
	int r;

	(void)cond;
	n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return G_SOURCE_CONTINUE;
	if (n > 0) {
		linebuf_append(&cl->lines, buf, (size_t)n);
		r = linebuf_next(&cl->lines, &line, &len);
		if (r == 0)
			return G_SOURCE_CONTINUE; /* request not complete yet */
	}
	cl->watch = 0;
	if (n <= 0)
		; /* closed before sending a whole request */
	else if (r < 0)
		control_error(cl, "request too long");
	else
		control_handle(cl, line, len);
	control_client_free(cl);
	return G_SOURCE_REMOVE;
}

static gboolean control_on_client_timeout(gpointer data)
{
	struct control_client *cl = data;

	cl->timeout = 0;
	log_warn("control: client sent no request within %d ms; dropped",
		 CONTROL_CLIENT_TIMEOUT_MS);
	control_client_free(cl);
	return G_SOURCE_REMOVE;
}

static gboolean control_on_accept(gint fd, GIOCondition cond, gpointer data)
{
	struct control *c = data;
	struct control_client *cl;
	int cfd;

	(void)cond;
	cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0 && (errno == EMFILE || errno == ENFILE)) {
		/* The pending connection stays readable: stop listening for a
		 * moment rather than spin on it. */
		log_warn("control: out of file descriptors; pausing accept for %d ms",
			 CONTROL_ACCEPT_PAUSE_MS);
		c->watch = 0;
		c->resume = g_timeout_add(CONTROL_ACCEPT_PAUSE_MS,
					  control_on_accept_resume, c);
		return G_SOURCE_REMOVE;
	}
	if (cfd < 0)
		return G_SOURCE_CONTINUE;
	cl = g_new0(struct control_client, 1);
	if (linebuf_init(&cl->lines, CONTROL_MAX_REQUEST)) {
		close(cfd);
		g_free(cl);
		return G_SOURCE_CONTINUE;
	}
	cl->c = c;
	cl->fd = cfd;
	cl->watch = fdwatch_add(cfd, G_IO_IN | G_IO_HUP, control_on_client, cl);
	cl->timeout = g_timeout_add(CONTROL_CLIENT_TIMEOUT_MS,
				    control_on_client_timeout, cl);
	g_ptr_array_add(c->clients, cl);
	if (c->clients->len >= CONTROL_MAX_CLIENTS) {
		c->watch = 0;
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

struct control *control_new(const char *path, control_handler_fn handler,
			    void *ctx, int *group_errno)
{
	struct group *admin;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct control *c;
	char *dir;
	int fd, saved;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	dir = g_path_get_dirname(path);
	g_mkdir_with_parents(dir, 0755);
	g_free(dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return NULL;
	strcpy(addr.sun_path, path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    chmod(path, 0660) < 0 || listen(fd, 16) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return NULL;
	}
	*group_errno = 0;
	admin = getgrnam(CONTROL_ADMIN_GROUP);
	if (admin && chown(path, (uid_t)-1, admin->gr_gid) < 0)
		*group_errno = errno;
	c = g_new0(struct control, 1);
	strcpy(c->path, path);
	c->fd = fd;
	c->handler = handler;
	c->ctx = ctx;
	c->clients = g_ptr_array_new();
	c->watch = fdwatch_add(fd, G_IO_IN, control_on_accept, c);
	return c;
}

void control_free(struct control *c)
{
	if (!c)
		return;
	while (c->clients->len)
		control_client_free(g_ptr_array_index(c->clients, 0));
	if (c->resume)
		g_source_remove(c->resume);
	if (c->watch)
		fdwatch_remove(c->watch);
	c->watch = 0;
	close(c->fd);
	unlink(c->path);
	g_ptr_array_free(c->clients, TRUE);
	g_free(c);
}
