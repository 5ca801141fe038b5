/* SPDX-License-Identifier: MIT */
/*
 * The daemon's state: configuration, the managed guests and the latest
 * market outcome. One instance, owned by main(); everything runs on the one
 * GLib main loop, so nothing here is locked.
 */
#ifndef RAMM_RAMMD_H
#define RAMM_RAMMD_H

#include <stdint.h>

#include <glib.h>

#include "config.h"

struct control;

struct rammd {
	struct rammd_config cfg;   /* as loaded */
	GMainLoop *loop;
	GPtrArray *guests;         /* struct guest *, owned */
	struct control *control;   /* control socket server */
	guint early_tick_source;   /* pending urgent tick, 0 if none */
	int64_t last_tick_us;      /* monotonic time of the last clearing */

	/* Latest market outcome, for rammctl. */
	uint64_t ticks;            /* clearings so far */
	uint32_t price;            /* uniform clearing price */
	uint64_t supply_bytes;     /* auctionable memory above floors */
	uint64_t allocated_bytes;  /* sum of targets above floors */
	uint64_t demand_bytes;     /* memory bid for at a positive price */
	int emergency;             /* host MemAvailable below critical */
};

/*
 * rammd_request_tick - clear the market soon, ahead of the periodic tick
 * (an urgent report). Spaced so a guest cannot make the market spin.
 */
void rammd_request_tick(struct rammd *d);

/* rammd_now_us - the monotonic clock every timestamp in rammd uses. */
int64_t rammd_now_us(void);

/* rammd_unit_bytes - the market unit every guest's memory is counted in. */
uint64_t rammd_unit_bytes(const struct rammd *d);

#endif /* RAMM_RAMMD_H */
