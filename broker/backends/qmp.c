/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>

#include "fdwatch.h"
#include "linebuf.h"
#include "qmp.h"
#include "unix_socket.h"

/* query-memory-devices for a few devices is ~1 KiB; leave a wide margin. */
#define QMP_MAX_LINE (256 * 1024)
#define QMP_MAX_PENDING 64

struct qmp_pending {
	uint64_t id;
	qmp_reply_fn fn;
	void *ctx;
	int64_t sent_us;      /* monotonic send time, for the deadline */
};

struct qmp {
	char path[108];       /* socket path */
	int fd;               /* -1 when not connected */
	guint watch;          /* fdwatch on fd, 0 when not connected */
	int greeted;          /* greeting seen */
	int up;               /* capabilities accepted */
	uint64_t next_id;     /* id for the next command */
	struct qmp_pending pending[QMP_MAX_PENDING]; /* in send order */
	size_t n_pending;
	int64_t connected_us; /* monotonic connect time, for the greeting */
	guint deadline;       /* QMP_REPLY_TIMEOUT_MS timer, 0 if none */
	int session;          /* the deadline runs from the connect */
	enum qmp_timeout timed_out; /* why the last connection was dropped
			       * by the deadline; QMP_TIMEOUT_NONE if not */
	struct linebuf lines; /* incoming bytes */
	qmp_event_fn on_event;
	qmp_state_fn on_state;
	void *ctx;
};

struct qmp *qmp_new(const char *path, qmp_event_fn on_event,
		    qmp_state_fn on_state, void *ctx)
{
	struct qmp *q = g_try_new0(struct qmp, 1);

	if (!q)
		return NULL;
	if (strlen(path) >= sizeof(q->path) ||
	    linebuf_init(&q->lines, QMP_MAX_LINE)) {
		g_free(q);
		return NULL;
	}
	strcpy(q->path, path);
	q->fd = -1;
	q->on_event = on_event;
	q->on_state = on_state;
	q->ctx = ctx;
	return q;
}

int qmp_is_up(const struct qmp *q)
{
	return q->up;
}

enum qmp_timeout qmp_timed_out(const struct qmp *q)
{
	return q->timed_out;
}

void qmp_set_session(struct qmp *q, int on)
{
	q->session = on;
}

static gboolean qmp_on_deadline(gpointer data);

/* Watch for an answer, unless the timer is already running: it re-arms
 * itself for whatever is awaited when it fires. */
static void qmp_arm_deadline(struct qmp *q)
{
	if (!q->deadline)
		q->deadline = g_timeout_add(QMP_REPLY_TIMEOUT_MS,
					    qmp_on_deadline, q);
}

/*
 * The oldest thing awaited - the greeting, else the first command in
 * send order; in session mode the connection itself - is
 * QMP_REPLY_TIMEOUT_MS old: the monitor is hung, and the connection is
 * dropped. Otherwise wait until it would be.
 */
static gboolean qmp_on_deadline(gpointer data)
{
	struct qmp *q = data;
	int64_t since, left_ms;

	q->deadline = 0;
	if (q->fd < 0)
		return G_SOURCE_REMOVE;
	if (q->greeted && !q->n_pending)
		return G_SOURCE_REMOVE; /* nothing awaited: armed again on send */
	since = !q->greeted || q->session ? q->connected_us
					   : q->pending[0].sent_us;
	left_ms = QMP_REPLY_TIMEOUT_MS -
		  (g_get_monotonic_time() - since) / 1000;
	if (left_ms > 0) {
		q->deadline = g_timeout_add((guint)left_ms, qmp_on_deadline, q);
		return G_SOURCE_REMOVE;
	}
	q->timed_out = q->greeted ? QMP_TIMEOUT_REPLY : QMP_TIMEOUT_GREETING;
	qmp_disconnect(q);
	return G_SOURCE_REMOVE;
}

static int qmp_send_raw(struct qmp *q, const char *text, size_t len)
{
	while (len) {
		ssize_t n = send(q->fd, text, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

static int qmp_send(struct qmp *q, const char *cmd, struct json_object *args,
		    qmp_reply_fn fn, void *ctx)
{
	struct json_object *msg;
	const char *text;
	int ret;

	if (q->n_pending == QMP_MAX_PENDING) {
		json_object_put(args);
		return -EBUSY;
	}
	msg = json_object_new_object();
	json_object_object_add(msg, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(msg, "arguments", args);
	json_object_object_add(msg, "id", json_object_new_uint64(q->next_id));
	text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
	ret = qmp_send_raw(q, text, strlen(text));
	if (!ret)
		ret = qmp_send_raw(q, "\n", 1);
	json_object_put(msg);
	if (ret)
		return ret;
	q->pending[q->n_pending++] = (struct qmp_pending){
		q->next_id++, fn, ctx, g_get_monotonic_time()
	};
	qmp_arm_deadline(q);
	return 0;
}

int qmp_command(struct qmp *q, const char *cmd, struct json_object *args,
		qmp_reply_fn fn, void *ctx)
{
	if (!q->up) {
		json_object_put(args);
		return -ENOTCONN;
	}
	return qmp_send(q, cmd, args, fn, ctx);
}

static void qmp_caps_done(struct qmp *q, struct json_object *ret,
			  const char *error, void *ctx)
{
	(void)ctx;
	if (!ret || error) {
		qmp_disconnect(q);
		return;
	}
	q->up = 1;
	if (q->on_state)
		q->on_state(q, 1, q->ctx);
}

static void qmp_dispatch_reply(struct qmp *q, struct json_object *msg)
{
	struct json_object *id, *ret = NULL, *err = NULL, *desc;
	const char *error = NULL;
	struct qmp_pending p;
	uint64_t want;
	size_t i;

	if (!json_object_object_get_ex(msg, "id", &id) ||
	    !json_object_is_type(id, json_type_int))
		return;
	want = json_object_get_uint64(id);
	for (i = 0; i < q->n_pending; i++)
		if (q->pending[i].id == want)
			break;
	if (i == q->n_pending)
		return; /* not ours: drop */
	p = q->pending[i];
	memmove(&q->pending[i], &q->pending[i + 1],
		(q->n_pending - i - 1) * sizeof(p));
	q->n_pending--;

	if (json_object_object_get_ex(msg, "error", &err)) {
		error = "QMP error";
		if (json_object_object_get_ex(err, "desc", &desc) &&
		    json_object_is_type(desc, json_type_string))
			error = json_object_get_string(desc);
	} else if (!json_object_object_get_ex(msg, "return", &ret)) {
		error = "QMP reply without return or error";
	}
	if (p.fn)
		p.fn(q, error ? NULL : ret, error, p.ctx);
}

/* One line from QEMU. Returns nonzero once a callback has disconnected. */
static int qmp_dispatch(void *ctx, char *line, size_t len)
{
	struct qmp *q = ctx;
	struct json_object *msg, *v;

	(void)len;
	if (!line)
		return 0; /* over-long line: dropped */
	msg = json_tokener_parse(line);
	if (!msg || !json_object_is_type(msg, json_type_object)) {
		json_object_put(msg);
		return 0;
	}
	if (!q->greeted) {
		if (json_object_object_get_ex(msg, "QMP", &v)) {
			q->greeted = 1;
			qmp_send(q, "qmp_capabilities", NULL, qmp_caps_done, NULL);
		}
	} else if (json_object_object_get_ex(msg, "event", &v)) {
		struct json_object *data = NULL;

		if (json_object_is_type(v, json_type_string) && q->on_event) {
			json_object_object_get_ex(msg, "data", &data);
			q->on_event(q, json_object_get_string(v), data, q->ctx);
		}
	} else {
		qmp_dispatch_reply(q, msg);
	}
	json_object_put(msg);
	return q->fd < 0;
}

static gboolean qmp_on_readable(gint fd, GIOCondition cond, gpointer data)
{
	struct qmp *q = data;
	char buf[16384];
	ssize_t n;

	(void)cond;
	n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return G_SOURCE_CONTINUE;
	if (n <= 0) {
		q->watch = 0;
		qmp_disconnect(q);
		return G_SOURCE_REMOVE;
	}
	if (linebuf_feed(&q->lines, buf, (size_t)n, qmp_dispatch, q))
		return G_SOURCE_REMOVE; /* a callback disconnected */
	return G_SOURCE_CONTINUE;
}

int qmp_connect(struct qmp *q)
{
	int fd, flags;

	if (q->fd >= 0)
		return -EISCONN;
	/* Non-blocking connect: a full backlog (QEMU serving another client
	 * and others queued) is -EAGAIN, never a hang of the main loop. */
	fd = unix_socket_connect(q->path, SOCK_STREAM, 1);
	if (fd < 0)
		return fd;
	/* Writes stay blocking (commands are small, QEMU reads promptly);
	 * reads are driven by the main loop. */
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		flags = -errno;
		close(fd);
		return flags;
	}
	q->fd = fd;
	q->greeted = 0;
	q->up = 0;
	q->timed_out = QMP_TIMEOUT_NONE;
	q->connected_us = g_get_monotonic_time();
	qmp_arm_deadline(q);
	linebuf_reset(&q->lines);
	q->watch = fdwatch_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
				 qmp_on_readable, q);
	return 0;
}

void qmp_disconnect(struct qmp *q)
{
	struct qmp_pending pending[QMP_MAX_PENDING];
	size_t n = q->n_pending;

	if (q->fd < 0)
		return;
	if (q->watch)
		fdwatch_remove(q->watch);
	q->watch = 0;
	if (q->deadline)
		g_source_remove(q->deadline);
	q->deadline = 0;
	close(q->fd);
	q->fd = -1;
	q->up = 0;
	q->greeted = 0;
	memcpy(pending, q->pending, n * sizeof(pending[0]));
	q->n_pending = 0;
	for (size_t i = 0; i < n; i++)
		if (pending[i].fn)
			pending[i].fn(q, NULL, NULL, pending[i].ctx);
	/* Also when the handshake never finished: the owner must retry. */
	if (q->on_state)
		q->on_state(q, 0, q->ctx);
}

void qmp_free(struct qmp *q)
{
	if (!q)
		return;
	/* The owner is going away: tell it nothing more. */
	q->on_state = NULL;
	q->on_event = NULL;
	qmp_disconnect(q);
	linebuf_free(&q->lines);
	g_free(q);
}
