/* SPDX-License-Identifier: MIT */
/*
 * rammd's Prometheus endpoint: plain HTTP/1.0 on a loopback TCP address,
 * served on the GLib main loop. Each connection may send one request of at
 * most METRICS_MAX_REQUEST bytes; "GET /metrics" gets the exposition, any
 * other GET 404, anything else 400, and the connection is closed after the
 * reply.
 */
#ifndef RAMM_METRICS_H
#define RAMM_METRICS_H

#include <stddef.h>

#include "config.h"

/* Request head accepted, headers included. */
#define METRICS_MAX_REQUEST 4096
/* Connections served at once; more wait in the listen backlog. */
#define METRICS_MAX_CLIENTS 8

struct metrics;

/*
 * Renders the exposition: on success sets *@out to a malloc()ed string (the
 * server frees it) and *@len, and returns 0; or returns -errno.
 */
typedef int (*metrics_render_fn)(void *ctx, char **out, size_t *len);

/*
 * metrics_new - listen on @addr. Returns NULL and sets errno if the socket
 * cannot be bound (the caller logs). @render is called from the main loop.
 */
struct metrics *metrics_new(const struct config_listen *addr,
			    metrics_render_fn render, void *ctx);

/* metrics_free - stop listening and drop clients. NULL ok. */
void metrics_free(struct metrics *m);

#endif /* RAMM_METRICS_H */
