/* SPDX-License-Identifier: MIT */
/*
 * The operator's side of rammd: the control commands (reads and the
 * overrides rammctl sets), the per-guest tick history, and the Prometheus
 * exposition. Runs on the main loop, like everything in rammd.
 */
#ifndef RAMM_CTL_COMMANDS_H
#define RAMM_CTL_COMMANDS_H

#include <stddef.h>

#include "control.h"

struct guest;
struct rammd;

/*
 * ctl_commands_handle - the control socket's handler (control_handler_fn).
 * Each command has a strict schema: unknown keys, missing or mistyped
 * members, invalid guest names get an error naming the problem. Mutating
 * commands need @peer->privileged, else CONTROL_EPERM. Each accepted
 * mutation is logged with the peer's uid. Returns a new reply, or NULL
 * with *@error pointing at a static buffer valid until the next call.
 */
struct json_object *ctl_commands_handle(void *ctx, const struct control_peer *peer,
				      struct json_object *req, const char **error);

/* ctl_commands_overrides_json - @g's operator overrides as a new object. */
struct json_object *ctl_commands_overrides_json(const struct guest *g);

/* ctl_commands_record - append this tick to every guest's history. A guest
 * whose ring cannot be allocated just misses the tick. Never fails. */
void ctl_commands_record(struct rammd *d);

/* ctl_commands_start_metrics - serve metrics on cfg.metrics_listen, unless it
 * is empty. A bind failure is logged and rammd runs on without metrics. */
void ctl_commands_start_metrics(struct rammd *d);

#endif /* RAMM_CTL_COMMANDS_H */
