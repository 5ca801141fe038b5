/* SPDX-License-Identifier: MIT */
/*
 * What rammctl and the metrics endpoint show of the market: the state
 * JSON, and the totals over the pools of the latest tick (derived from
 * d->pools each time, never stored beside them).
 */
#ifndef RAMM_STATUS_H
#define RAMM_STATUS_H

#include <stdint.h>

struct json_object;
struct rammd;

/* The latest tick's figures over all pools. */
struct status_totals {
	uint32_t price;           /* ordinary memory's clearing price */
	uint64_t supply_bytes;    /* auctionable memory above floors */
	uint64_t allocated_bytes; /* sum of targets above floors */
	uint64_t demand_bytes;    /* memory bid for at a positive price */
};

/* status_totals - sums over d->pools into @out (caller-owned); all zero
 * before the first tick. O(pools); never fails. */
void status_totals(const struct rammd *d, struct status_totals *out);

/* status_json - the market and every guest, as `rammctl --json guests`
 * prints it. Returns a new object (the caller owns it). O(guests). */
struct json_object *status_json(struct rammd *d);

#endif /* RAMM_STATUS_H */
