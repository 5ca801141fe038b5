/* SPDX-License-Identifier: MIT */
/*
 * The market engine: a pure function from guests' bids, holdings and limits
 * plus a host supply to new allocations and a uniform clearing price.
 *
 * No I/O, no globals, no clock reads. All quantities are whole market units
 * above each guest's floor, so "0 units" means "at its floor".
 */
#ifndef RAMM_MARKET_H
#define RAMM_MARKET_H

#include <stddef.h>
#include <stdint.h>

#include "ramm/proto.h"

/* No per-tick limit. */
#define MARKET_UNLIMITED UINT32_MAX

/* One guest as the market sees it. The market never writes to it. */
struct market_guest {
	uint32_t cap_units;      /* most units above the floor it may hold */
	uint32_t current_units;  /* units above the floor it holds now */
	uint32_t max_plug_units; /* most units it may gain this tick */
	uint32_t max_unplug_units; /* most units it may lose this tick */
	int frozen;              /* nonzero: no usable bid; keep what it holds */
	const struct ramm_bid_step *steps; /* bid curve, may be NULL if n_steps 0 */
	size_t n_steps;          /* entries in @steps, <= RAMM_MAX_BID_STEPS */
};

struct market_params {
	uint64_t supply_units; /* units above all floors the host can give */
	uint32_t move_cost;    /* ranking bonus for units a guest already holds */
	uint32_t quantum_units; /* changes smaller than this are skipped */
};

struct market_result {
	uint32_t price;          /* uniform clearing price; 0 if supply not binding */
	uint64_t allocated_units; /* sum of all targets */
	uint64_t demand_units;   /* units bid for at a price > 0 (within caps) */
};

/*
 * market_clear - compute every guest's target allocation.
 * @params: supply and stability knobs.
 * @guests: @n_guests guests; read only.
 * @targets: caller-owned array of @n_guests entries, written with each guest's
 *           target units above its floor.
 * @result: caller-owned; written with the price and totals.
 *
 * Ranking: each unit a guest bids for at price p > 0 ranks by p, plus
 * @move_cost if the guest already holds that unit. Supply goes to the highest
 * ranks, within each guest's [lo, hi] window, where
 * lo = current - min(current, max_unplug) and hi = min(cap, current + max_plug)
 * (frozen guests: lo = hi = min(current, cap)). Units bid at price 0 are never
 * allocated above lo. If the lo's alone exceed supply, reserved units are
 * dropped starting from the lowest bid (frozen guests' units last). The price
 * is the highest raw bid that supply left unserved, or 0.
 *
 * Cost: O(S log S) time and O(S) scratch memory, S = total bid steps.
 *
 * Returns 0 on success. On -EINVAL (a curve with increasing prices, a step
 * of 0 units, a price above RAMM_MAX_PRICE, too many steps, NULL arrays) or
 * -ENOMEM, @targets and @result are left untouched.
 */
int market_clear(const struct market_params *params,
		 const struct market_guest *guests, size_t n_guests,
		 uint32_t *targets, struct market_result *result);

/*
 * market_validate_bid - check one bid curve against the rules above.
 * Returns 0 if valid, -EINVAL otherwise. Pure; O(n_steps).
 */
int market_validate_bid(const struct ramm_bid_step *steps, size_t n_steps);

#endif /* RAMM_MARKET_H */
