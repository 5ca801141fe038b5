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
 * @params: supply and stability knobs; read only.
 * @guests: @n_guests guests; read only, not kept after the call.
 * @targets: caller-owned array of @n_guests entries, written with each guest's
 *           target units above its floor.
 * @result: caller-owned; written with the price and totals.
 *
 * Unit k (k = 1..cap) of a guest is bid at the price of the step covering it,
 * 0 beyond the curve. Each guest has a window [lo, hi]:
 * lo = current - min(current, max_unplug) and hi = min(cap, current + max_plug)
 * (frozen guests: lo = hi = min(current, cap)). A guest above its cap gets
 * lo = hi = cap: the cap wins over the unplug limit.
 *
 * Units 1..lo are kept whatever they are bid at. The units in (lo, hi] bid at
 * a price p > 0 compete for the rest of supply: each ranks by p, plus
 * @move_cost if the guest already holds it (index <= current), and the
 * highest ranks are served. Rank ties go to incumbent units, then to the
 * lower guest index. Units bid at price 0 are never allocated above lo.
 * Since prices never rise along a curve, each guest is served a prefix of its
 * units. A frozen guest has no usable bid: its curve is not read (nor
 * validated) and it adds nothing to demand.
 *
 * If the lo's alone exceed supply, reserved units are dropped until they
 * fit, starting from the lowest bid (among equal bids, the higher guest index
 * first); frozen guests' units go last, higher guest index first. Targets
 * never go below 0, and with no supply every target is 0.
 *
 * The price is the highest raw bid (no move-cost bonus) among units in a
 * window that were bid at p > 0 and left unserved - including reserved units
 * dropped above - or 0 when supply is not binding.
 *
 * Then changes smaller than @quantum_units are skipped: a guest whose target
 * grew by less is put back to current (that only frees supply); then, in
 * guest index order, a guest whose target shrank by less is put back to
 * current if the sum of targets still fits supply. A guest above its cap is
 * never put back. The price is that of the clearing before this step.
 *
 * With unchanged bids, no rate limits and current = the previous targets,
 * the targets come out the same: incumbents only gain from the move cost.
 * The sum of targets never exceeds supply.
 *
 * Cost: O(S + n_guests) time and O(S) scratch memory, S = total bid steps
 * (no sort: a weighted radix select finds the last served rank).
 *
 * Returns 0 on success. @guests and @targets may be NULL when @n_guests is 0.
 * On -EINVAL (a non-frozen guest's curve with increasing prices, a step of 0
 * units, a price above RAMM_MAX_PRICE, more than RAMM_MAX_BID_STEPS steps or
 * NULL steps with n_steps > 0; NULL @params, @result, or @guests/@targets
 * with @n_guests > 0) or -ENOMEM, @targets and @result are left untouched.
 */
int market_clear(const struct market_params *params,
		 const struct market_guest *guests, size_t n_guests,
		 uint32_t *targets, struct market_result *result);

/*
 * market_validate_bid - check one bid curve against the rules above: at most
 * RAMM_MAX_BID_STEPS steps, @steps non-NULL if @n_steps > 0, every step
 * at least 1 unit, prices at most RAMM_MAX_PRICE and non-increasing (equal
 * neighbours are fine). An empty curve is valid: it bids for nothing.
 * @steps stays the caller's and is only read.
 * Returns 0 if valid, -EINVAL otherwise. Pure; O(n_steps).
 */
int market_validate_bid(const struct ramm_bid_step *steps, size_t n_steps);

/*
 * market_bid_price - what the curve @steps bids for its @unit-th unit above
 * the floor (1-based): the price of the step covering it, or 0 beyond the
 * curve. Pure; O(n_steps); never fails.
 */
uint32_t market_bid_price(const struct ramm_bid_step *steps, size_t n_steps,
			  uint64_t unit);

#endif /* RAMM_MARKET_H */
