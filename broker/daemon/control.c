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
/* A client that has not taken its whole reply by then is dropped. The
 * reply waits in the client's buffer, never on the loop, so a client that
 * stops reading costs memory (bounded below), not time. */
#define CONTROL_REPLY_TIMEOUT_MS 5000

struct control_client {
	struct control *c;    /* owner */
	int fd;
	guint watch;          /* readable watch, then writable while a
			       * reply is left to send */
	guint timeout;        /* deadline for the request, then the reply */
	struct linebuf lines; /* the request */
	struct control_peer peer; /* who sent it; set when it arrives */
	char *out;            /* the reply line, newline included; NULL
			       * until the request is handled */
	size_t out_len;       /* bytes in @out */
	size_t out_sent;      /* bytes of @out the client has taken */
};

struct control {
	char path[108];
	int fd;               /* listening socket */
	guint watch;          /* accept watch, removed while at the client limit */
	guint resume;         /* re-arms accept after running out of fds */
	control_handler_fn handler;
	void *ctx;
	GPtrArray *clients;   /* struct control_client *, owned */
	size_t buffered;      /* reply bytes held for all clients, at most
			       * CONTROL_MAX_BUFFERED */
	int have_admin_gid;   /* CONTROL_ADMIN_GROUP existed when last
			       * looked up (control_new, control_refresh_group) */
	gid_t admin_gid;      /* its gid, if @have_admin_gid */
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
	c->buffered -= cl->out_len;
	g_free(cl->out);
	g_ptr_array_remove(c->clients, cl);
	g_free(cl);
	if (!c->watch && c->clients->len < CONTROL_MAX_CLIENTS)
		c->watch = fdwatch_add(c->fd, G_IO_IN, control_on_accept, c);
}

/*
 * Send what the socket takes now of @cl's reply, without waiting.
 * Returns 1 when all of it has gone, 0 when the rest must wait for the
 * socket to be writable, -1 when the client is gone.
 */
static int control_flush(struct control_client *cl)
{
	while (cl->out_sent < cl->out_len) {
		ssize_t n = send(cl->fd, cl->out + cl->out_sent,
				 cl->out_len - cl->out_sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return -1;
		cl->out_sent += (size_t)n;
	}
	return 1;
}

static gboolean control_on_writable(gint fd, GIOCondition cond, gpointer data)
{
	struct control_client *cl = data;

	(void)fd;
	(void)cond;
	/* A hang-up or an error shows in send() too. */
	if (control_flush(cl) == 0)
		return G_SOURCE_CONTINUE;
	cl->watch = 0;
	control_client_free(cl);
	return G_SOURCE_REMOVE;
}

static gboolean control_on_reply_timeout(gpointer data)
{
	struct control_client *cl = data;

	cl->timeout = 0;
	log_warn("control: uid %ld pid %ld took %zu of its %zu-byte reply within %d ms; dropped",
		 cl->peer.uid, cl->peer.pid, cl->out_sent, cl->out_len,
		 CONTROL_REPLY_TIMEOUT_MS);
	control_client_free(cl);
	return G_SOURCE_REMOVE;
}

/* The reply line for @reply, newline included, or NULL if it is over
 * CONTROL_MAX_REPLY or would take the buffered replies over
 * CONTROL_MAX_BUFFERED (*@why then says which). */
static char *control_format(struct control *c, struct json_object *reply,
			    size_t *len, const char **why)
{
	const char *text = json_object_to_json_string_ext(reply,
							  JSON_C_TO_STRING_PLAIN);
	size_t n = strlen(text) + 1;
	char *out;

	*why = n > CONTROL_MAX_REPLY ? "reply too large" :
	       n > CONTROL_MAX_BUFFERED - c->buffered ? "too many replies pending; try again" :
	       NULL;
	if (*why)
		return NULL;
	out = g_malloc(n);
	memcpy(out, text, n - 1);
	out[n - 1] = '\n';
	*len = n;
	return out;
}

/*
 * Queue @reply (borrowed) for @cl and send what goes at once; the rest
 * goes whenever the socket is writable, until CONTROL_REPLY_TIMEOUT_MS.
 * A reply that does not fit the bounds is replaced by an error reply,
 * logged once. Consumes @cl: it is freed once the reply is out, or the
 * client gone or too slow.
 */
static void control_reply(struct control_client *cl, struct json_object *reply)
{
	struct control *c = cl->c;
	const char *why;

	cl->out = control_format(c, reply, &cl->out_len, &why);
	if (!cl->out) {
		struct json_object *err = json_object_new_object();

		log_warn("control: uid %ld pid %ld: %s (bounds %d and %d bytes)",
			 cl->peer.uid, cl->peer.pid, why, CONTROL_MAX_REPLY,
			 CONTROL_MAX_BUFFERED);
		json_object_object_add(err, "error", json_object_new_string(why));
		cl->out = control_format(c, err, &cl->out_len, &why);
		json_object_put(err);
		if (!cl->out) {
			control_client_free(cl);
			return;
		}
	}
	c->buffered += cl->out_len;
	if (control_flush(cl) != 0) {
		control_client_free(cl);
		return;
	}
	cl->watch = fdwatch_add(cl->fd, G_IO_OUT, control_on_writable, cl);
	if (!cl->watch) {
		control_client_free(cl);
		return;
	}
	if (cl->timeout)
		g_source_remove(cl->timeout);
	cl->timeout = g_timeout_add(CONTROL_REPLY_TIMEOUT_MS,
				    control_on_reply_timeout, cl);
}

/*
 * Who is on the other end of @fd. Privileged: root, or CONTROL_ADMIN_GROUP
 * as its primary group or among the supplementary groups it had when it
 * connected (SO_PEERGROUPS). The group's gid is the one looked up at start
 * or at the last reload (control_refresh_group()): a lookup can block on
 * NSS (LDAP, sssd), so it never runs per request. Membership comes with
 * the peer's credentials, so adding a member needs no reload.
 */
static void control_peer_of(const struct control *c, int fd,
			    struct control_peer *peer)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t groups[CONTROL_MAX_PEER_GROUPS];

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
	if (!c->have_admin_gid)
		return;
	if (cred.gid == c->admin_gid) {
		peer->privileged = 1;
		return;
	}
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len))
		return; /* too many groups, or an old kernel: primary only */
	for (size_t i = 0; i < len / sizeof(groups[0]); i++)
		if (groups[i] == c->admin_gid)
			peer->privileged = 1;
}

static void control_error(struct control_client *cl, const char *error)
{
	struct json_object *reply = json_object_new_object();

	log_warn("control: refused request from uid %ld pid %ld: %s", cl->peer.uid,
		 cl->peer.pid, error);
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
	reply = cl->c->handler(cl->c->ctx, &cl->peer, req, &error);
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
	/* Removed now, so that the reply's writable watch is the fd's one
	 * watch; the G_SOURCE_REMOVE below then finds it gone. */
	fdwatch_remove(cl->watch);
	cl->watch = 0;
	if (n <= 0) {
		control_client_free(cl); /* closed before a whole request */
		return G_SOURCE_REMOVE;
	}
	control_peer_of(cl->c, fd, &cl->peer);
	/* Both consume @cl through control_reply(). */
	if (r < 0)
		control_error(cl, "request too long");
	else
		control_handle(cl, line, len);
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

int control_refresh_group(struct control *c)
{
	struct group *admin = getgrnam(CONTROL_ADMIN_GROUP);

	c->have_admin_gid = admin != NULL;
	if (!admin)
		return 0;
	c->admin_gid = admin->gr_gid;
	if (chown(c->path, (uid_t)-1, c->admin_gid) < 0)
		return -errno;
	return 0;
}

struct control *control_new(const char *path, control_handler_fn handler,
			    void *ctx, int *group_errno)
{
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
	c = g_new0(struct control, 1);
	strcpy(c->path, path);
	c->fd = fd;
	c->handler = handler;
	c->ctx = ctx;
	c->clients = g_ptr_array_new();
	*group_errno = -control_refresh_group(c);
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
