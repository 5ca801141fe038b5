/* SPDX-License-Identifier: MIT */
/*
 * rammd's control socket: a unix stream socket where each connection sends
 * one JSON request line ({"cmd":"guests"}) and gets one JSON reply line,
 * then the connection closes. Requests are untrusted: bounded in size, in
 * time and in concurrent connections. Replies are buffered and sent as the
 * client reads them, never waited for: a client that does not take its
 * reply within a deadline is dropped.
 */
#ifndef RAMM_CONTROL_H
#define RAMM_CONTROL_H

#include <json-c/json.h>

/* Longest request line accepted, newline included. */
#define CONTROL_MAX_REQUEST 4096
/* Connections served at once; more wait in the listen backlog. A client
 * that never reads its reply holds a slot until the reply deadline
 * (control.c), so there are enough for a few such to leave room. */
#define CONTROL_MAX_CLIENTS 64
/* Longest reply line (rammctl guests at RAMMD_MAX_GUESTS is about 4 MiB);
 * a longer one is answered with an error. */
#define CONTROL_MAX_REPLY (16 * 1024 * 1024)
/* Reply bytes held for all clients at once, waiting for them to read; a
 * reply past it is answered with an error. */
#define CONTROL_MAX_BUFFERED (64 * 1024 * 1024)

/* Members of this group (and root) may change rammd's state. */
#define CONTROL_ADMIN_GROUP "ramm"
/* The error text of a refused mutation; rammctl maps it to its exit 4. */
#define CONTROL_EPERM "permission denied"

struct control;

/* Who sent a request, from SO_PEERCRED on the accepted connection. */
struct control_peer {
	long uid;       /* -1 if the kernel would not say */
	long gid;
	long pid;
	int privileged; /* root, or in CONTROL_ADMIN_GROUP (primary or
			 * supplementary, as of connect time), the group's
			 * gid as of control_new() or the last
			 * control_refresh_group(). No such group: root only. */
};

/*
 * Handles one request. @req is the parsed request object (borrowed); only
 * "cmd" has been checked (a string). @peer is borrowed.
 * Returns a new reply object (ownership passes to the caller), or NULL with
 * *@error set to a message that must stay valid until the next call
 * (static, or the handler's own buffer).
 */
typedef struct json_object *(*control_handler_fn)(void *ctx,
						  const struct control_peer *peer,
						  struct json_object *req,
						  const char **error);

/*
 * control_new - listen on @path (a stale socket there is replaced; the parent
 * directory is created 0755). The socket is mode 0660 and, when the group
 * CONTROL_ADMIN_GROUP exists, owned by it, so that its members can connect;
 * if that chown fails, *@group_errno is set to its errno (0 otherwise) and
 * the socket stays root's alone. Returns NULL and sets errno on failure.
 */
struct control *control_new(const char *path, control_handler_fn handler,
			    void *ctx, int *group_errno);

/*
 * control_refresh_group - look CONTROL_ADMIN_GROUP up again (at a reload:
 * the group was created, or its gid changed) and give the socket to it.
 * The lookup may block on NSS, so it runs only here and in control_new().
 * Returns 0 (also when there is no such group: then only root may change
 * anything), or -errno if the chown failed; the gid is used regardless.
 */
int control_refresh_group(struct control *c);

/* control_free - stop listening, close clients, unlink the socket. NULL ok. */
void control_free(struct control *c);

#endif /* RAMM_CONTROL_H */
