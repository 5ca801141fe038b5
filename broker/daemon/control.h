/* SPDX-License-Identifier: MIT */
/*
 * rammd's control socket: a unix stream socket where each connection sends
 * one JSON request line ({"cmd":"guests"}) and gets one JSON reply line,
 * then the connection closes. Requests are untrusted: bounded in size, in
 * time and in concurrent connections.
 */
#ifndef RAMM_CONTROL_H
#define RAMM_CONTROL_H

#include <json-c/json.h>

/* Longest request line accepted, newline included. */
#define CONTROL_MAX_REQUEST 4096
/* Connections served at once; more wait in the listen backlog. */
#define CONTROL_MAX_CLIENTS 16

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
			 * supplementary, as of connect time); looked up
			 * when the request arrives. No such group: root only. */
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

/* control_free - stop listening, close clients, unlink the socket. NULL ok. */
void control_free(struct control *c);

#endif /* RAMM_CONTROL_H */
