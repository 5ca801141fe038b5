/* SPDX-License-Identifier: MIT */
/*
 * The guest registry: the guests rammd manages, in the order the tick
 * snapshots them (d->guests) and by name (O(1), d->guest_by_name). Every
 * guest comes in through registry_add() and leaves through
 * registry_remove(), whichever source found it (discover.h).
 */
#ifndef RAMM_REGISTRY_H
#define RAMM_REGISTRY_H

#include "discover.h"

struct backend_ops;
struct guest;
struct guest_config;
struct rammd;

/* Guests managed at most: a guest found beyond it is logged once and
 * left alone (it keeps its size, out of the market). Config sections are
 * bounded on their own (CONFIG_MAX_GUESTS). */
#define RAMMD_MAX_GUESTS 4096

/* registry_init - empty registry in @d. Never fails (GLib aborts on OOM). */
void registry_init(struct rammd *d);

/* registry_free - free every guest, without saving, and the registry.
 * Safe on an empty registry. */
void registry_free(struct rammd *d);

/* registry_find - the managed guest named @name, or NULL. O(1). */
struct guest *registry_find(struct rammd *d, const char *name);

/*
 * registry_add - manage the guest @gc (copied) that @source found, driven
 * by @backend: its [guest] settings (guest_settings_apply()), its record
 * from the state file, its backend attached and agent channel opened.
 * Returns the guest (owned by @d), or NULL after logging why: past
 * RAMMD_MAX_GUESTS (logged once per name), or the start failed.
 */
struct guest *registry_add(struct rammd *d, const struct guest_config *gc,
			   enum discover_source source,
			   const struct backend_ops *backend);

/*
 * registry_remove - stop managing @g and free it, logging @why. Its record
 * is kept for the state file, which is saved soon. @g is invalid
 * afterwards. O(guests) for the array. Never fails.
 */
void registry_remove(struct rammd *d, struct guest *g, const char *why);

#endif /* RAMM_REGISTRY_H */
