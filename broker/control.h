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

struct control;

/*
 * Handles one request. @req is the parsed request object (borrowed).
 * Returns a new reply object (ownership passes to the caller), or NULL with
 * *@error set to a static message.
 */
typedef struct json_object *(*control_handler_fn)(void *ctx,
						  struct json_object *req,
						  const char **error);

/*
 * control_new - listen on @path (a stale socket there is replaced; the parent
 * directory is created 0755). Returns NULL and sets errno on failure.
 */
struct control *control_new(const char *path, control_handler_fn handler,
			    void *ctx);

/* control_free - stop listening, close clients, unlink the socket. NULL ok. */
void control_free(struct control *c);

#endif /* RAMM_CONTROL_H */
