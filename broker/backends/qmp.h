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

/* qmp_disconnect - close the socket; outstanding replies get NULL/NULL. */
void qmp_disconnect(struct qmp *q);

/* qmp_free - disconnect and free; accepts NULL. */
void qmp_free(struct qmp *q);

#endif /* RAMM_QMP_H */
