/* SPDX-License-Identifier: MIT */
/*
 * bid_curve: the one rule a bid curve must follow (docs/PROTOCOL.md), for
 * the broker's message parser (msg.c), the market (market.c) and anything
 * else that takes a curve. Pure: no I/O, no globals.
 */
#ifndef RAMM_BID_CURVE_H
#define RAMM_BID_CURVE_H

#include <stddef.h>

#include "ramm/proto.h"

/*
 * bid_curve_validate - check a bid curve: at most @max_steps steps (a bid
 * on the wire has at most RAMM_MAX_BID_STEPS), @steps non-NULL if @n_steps
 * > 0, every step at least 1 unit, prices at most RAMM_MAX_PRICE and
 * non-increasing (equal neighbours are fine). An empty curve is valid: it
 * bids for nothing.
 * @steps stays the caller's and is only read.
 * Returns 0 if valid, -EINVAL otherwise. Pure; O(n_steps).
 */
int bid_curve_validate(const struct ramm_bid_step *steps, size_t n_steps,
		       size_t max_steps);

#endif /* RAMM_BID_CURVE_H */
