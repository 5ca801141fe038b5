/* SPDX-License-Identifier: MIT */
/*
 * An asynchronous QMP client on the GLib main loop. Replies are matched to
 * commands by "id"; events go to one callback. Everything QEMU sends is
 * treated as untrusted: lines are bounded, replies are type-checked by the
 * callers, and an unexpected reply is dropped.
 */
#ifndef RAMM_QMP_H
#define RAMM_QMP_H

#include <json-c/json.h>

struct qmp;

/*
 * How long QEMU may take to greet a new connection or to answer a command.
 * A monitor silent for longer is taken as hung (QEMU stuck on its main
 * loop, say): the client drops the connection, outstanding replies get
 * NULL/NULL and on_state(0) follows, as for any disconnect. Each command
 * has its own deadline, counted from when it was sent.
 */
#define QMP_REPLY_TIMEOUT_MS 2000

/* Why the deadline dropped a connection (qmp_timed_out()). */
enum qmp_timeout {
	QMP_TIMEOUT_NONE,     /* it did not */
	QMP_TIMEOUT_GREETING, /* no greeting (another client holds a
			       * single-client socket, or QEMU is hung) */
	QMP_TIMEOUT_REPLY,    /* a command went unanswered */
};

/*
 * Reply callback. Exactly one of @ret and @error is non-NULL, unless the
 * connection closed first: then both are NULL. Borrowed: valid only during
 * the call.
 */
typedef void (*qmp_reply_fn)(struct qmp *q, struct json_object *ret,
			     const char *error, void *ctx);
/* Event callback: @data may be NULL; borrowed. */
typedef void (*qmp_event_fn)(struct qmp *q, const char *event,
			     struct json_object *data, void *ctx);
/* Called once the capabilities handshake is done (@up = 1), and whenever a
 * connection closes (@up = 0), whether or not the handshake had finished. */
typedef void (*qmp_state_fn)(struct qmp *q, int up, void *ctx);

/*
 * qmp_new - create a client for the QMP unix socket at @path. Does not
 * connect. Returns NULL on allocation failure. The callbacks get @ctx.
 */
struct qmp *qmp_new(const char *path, qmp_event_fn on_event,
		    qmp_state_fn on_state, void *ctx);

/*
 * qmp_connect - connect and start the handshake; on_state(1) follows.
 * Returns 0, or -errno if the socket cannot be connected (nothing changes):
 * -ENOENT no socket, -ECONNREFUSED nobody listening, -EAGAIN its backlog
 * is full (the connect never blocks).
 */
int qmp_connect(struct qmp *q);

/*
 * qmp_command - send @cmd with @args (ownership passes to the client; may
 * be NULL). @fn (may be NULL) runs when the reply arrives.
 * Returns 0, -ENOTCONN if not connected, -EBUSY if too many commands are
 * outstanding, or -errno from the write. On failure @fn is not called.
 */
int qmp_command(struct qmp *q, const char *cmd, struct json_object *args,
		qmp_reply_fn fn, void *ctx);

/* qmp_is_up - nonzero once the handshake completed and until a disconnect. */
int qmp_is_up(const struct qmp *q);

/*
 * qmp_timed_out - whether the last connection was dropped because QEMU
 * missed QMP_REPLY_TIMEOUT_MS, and waiting for what. Meant for on_state(0);
 * reset by qmp_connect().
 */
enum qmp_timeout qmp_timed_out(const struct qmp *q);

/*
 * qmp_set_session - @on: the deadline runs from qmp_connect() instead of
 * from each command, so a connection awaiting anything must be done within
 * QMP_REPLY_TIMEOUT_MS in all (short sessions on a shared socket, which
 * must not be held longer). Off by default. Never fails.
 */
void qmp_set_session(struct qmp *q, int on);

/* qmp_disconnect - close the socket; outstanding replies get NULL/NULL. */
void qmp_disconnect(struct qmp *q);

/* qmp_free - disconnect and free; accepts NULL. */
void qmp_free(struct qmp *q);

#endif /* RAMM_QMP_H */
