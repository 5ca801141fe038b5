/* SPDX-License-Identifier: MIT */
/*
 * The market engine; market.h states the contract.
 *
 * Clearing works on bid segments, never on single units. A segment is a run
 * of one guest's units that share one rank key: one bid step, cut at the
 * guest's window edges and where its incumbent units end (so that it is
 * wholly incumbent or wholly not). Supply can be half a million units and there can
 * be ten thousand guests, so per-unit work is out of the question; a guest
 * has at most n_steps + 2 segments.
 *
 * We do not sort the segments either. A weighted radix select finds the rank
 * key of the last unit that supply can serve (a histogram pass per 9 bits of
 * the highest key, two or three for real prices); then every segment above
 * that key is served whole, and the segments exactly at it are served in the
 * order they were built - guest index, then unit index - which is the
 * contract's tie-break. That is O(S), no sort and no second copy.
 *
 * That general path (clear_by_segments()) is only taken when the lo's alone
 * exceed supply, or the clearing key is too high for the fast path's
 * histogram. Every ordinary tick takes the fast path at the end of this
 * file: no segment array at all, one pass over the curves to build a
 * histogram of contested units by key, one (partial) pass to hand out
 * targets: about 2.5 times faster than building the segments.
 *
 * Within one guest the rank key never rises with the unit index (prices are
 * non-increasing and the move-cost bonus covers a prefix), so what a guest is
 * served is always a prefix of its units: adding up the served units of its
 * segments is enough to get its target.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "decimal.h"
#include "bid_curve.h"
#include "market.h"

/*
 * A segment's rank key: (price + move-cost bonus) << 1 | incumbent, so that
 * comparing keys compares rank first and lets incumbents win rank ties.
 * Price is at most RAMM_MAX_PRICE (< 2^20) and the bonus below 2^32, so keys
 * fit in 34 bits. The radix select looks at KEY_BITS bits; the spare ones
 * hold KEY_FROZEN, which outranks every bid when reserved units must be
 * dropped.
 */
#define KEY_BITS 36
#define KEY_FROZEN ((UINT64_C(1) << KEY_BITS) - 1)
#define RADIX_BITS 9
#define RADIX_BUCKETS (1u << RADIX_BITS)

#define SEGMENTS_PER_GUEST(n_steps) ((n_steps) + 2)

_Static_assert(KEY_BITS % RADIX_BITS == 0, "radix passes cover the key");
_Static_assert((((uint64_t)RAMM_MAX_PRICE + UINT32_MAX) << 1 | 1) < KEY_FROZEN,
	       "frozen key outranks every bid key");

/*
 * 16 bytes, as the passes over the segments are bound by memory bandwidth.
 * market_clear() refuses more than 2^32 segments, and every guest counts for
 * at least one, so a guest index fits 32 bits.
 */
struct market_segment {
	uint64_t key;   /* rank key, see above; higher is served first */
	uint32_t guest; /* index into the guests array */
	uint32_t units; /* length of the run, >= 1 */
};

_Static_assert(sizeof(struct market_segment) == 16, "segment is 16 bytes");

static uint64_t add_saturated(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

int market_validate_bid(const struct ramm_bid_step *steps, size_t n_steps)
{
	return bid_curve_validate(steps, n_steps, RAMM_MAX_BID_STEPS);
}

/* A price the host's reserve turns away counts as no bid at all. */
static uint32_t above_reserve(uint32_t price, uint32_t reserve_price)
{
	return price > reserve_price ? price : 0;
}

/*
 * The units a guest may end the tick with are (0, hi]; (0, lo] it keeps
 * whatever it bids. A guest above its cap (the cap was lowered under it)
 * comes down to the cap even beyond its unplug limit: the cap is a hard
 * limit, the rate limit a courtesy. In an emergency nobody grows and the
 * unplug limit is off.
 */
/* Units 1..this rank as incumbents: held, and not offered back. A frozen
 * guest has no usable report, so no usable offer either. */
static uint64_t anchored_units(const struct market_guest *g)
{
	if (g->frozen)
		return g->current_units;
	return g->current_units - min_u32(g->current_units, g->offered_units);
}

static void guest_window(const struct market_params *params,
			 const struct market_guest *g, uint32_t *lo,
			 uint32_t *hi)
{
	uint32_t current = g->current_units;
	uint64_t reachable;
	uint32_t kept;

	if (g->frozen) {
		*lo = *hi = min_u32(current, g->cap_units);
		return;
	}
	if (params->emergency) {
		*lo = 0;
		*hi = min_u32(current, g->cap_units);
		return;
	}
	reachable = (uint64_t)current + g->max_plug_units;
	*hi = (uint32_t)min_u64(reachable, g->cap_units);
	kept = current - min_u32(current, g->max_unplug_units);
	*lo = min_u32(kept, *hi);
}

uint32_t market_bid_price(const struct ramm_bid_step *steps, size_t n_steps,
			  uint64_t unit)
{
	uint64_t covered = 0;

	for (size_t i = 0; i < n_steps; i++) {
		covered += steps[i].units;
		if (unit <= covered)
			return steps[i].price;
	}
	return 0;
}

uint64_t market_claimed_units(const struct ramm_bid_step *steps,
			      size_t n_steps, uint32_t claim_price)
{
	uint64_t claimed = 0;
	size_t i;

	/* Prices never rise, so the claiming steps are a prefix. */
	for (i = 0; i < n_steps && steps[i].price >= claim_price; i++)
		claimed += steps[i].units;
	return claimed;
}

/* The lowest price the host sells at. No valid bid reaches a reserve at
 * or above RAMM_MAX_PRICE, and clamping keeps the + 1 from wrapping. */
static uint32_t lowest_sold_price(const struct market_params *params)
{
	return min_u32(params->reserve_price, RAMM_MAX_PRICE) + 1;
}

/* Units the guest bids for above the reserve, up to its cap. */
static uint64_t priced_units_within_cap(const struct market_params *params,
					const struct market_guest *g)
{
	uint64_t priced = market_claimed_units(g->steps, g->n_steps,
					       lowest_sold_price(params));

	return min_u64(priced, g->cap_units);
}

/*
 * emit_segments - cut units (@from, @to] of non-frozen guest @gi into
 * segments: one per bid step, split where its incumbent units end. With
 * @priced_only, units bid at price 0 (and those beyond the curve) are left
 * out, otherwise they make segments of their own.
 * Writes the segments to @out and returns how many there are: at most
 * SEGMENTS_PER_GUEST(n_steps), one per step plus one beyond the curve, plus
 * one where the incumbent units end inside a step.
 */
static size_t emit_segments(const struct market_params *params,
			    const struct market_guest *g, uint32_t gi,
			    uint64_t from, uint64_t to, int priced_only,
			    struct market_segment *out)
{
	uint64_t step_start = 0;
	size_t n = 0;
	size_t i;

	for (i = 0; i <= g->n_steps && from < to; i++) {
		uint64_t step_end = UINT64_MAX; /* beyond the curve */
		uint32_t price = 0;

		if (i < g->n_steps) {
			step_end = step_start + g->steps[i].units;
			price = above_reserve(g->steps[i].price,
					      params->reserve_price);
		}
		if (price == 0 && priced_only)
			break;
		step_start = step_end;
		if (step_end <= from)
			continue;

		uint64_t end = min_u64(step_end, to);

		while (from < end) {
			uint64_t anchored = anchored_units(g);
			int incumbent = from < anchored;
			uint64_t cut = incumbent ? min_u64(end, anchored) : end;
			uint64_t rank = (uint64_t)price +
					(incumbent ? params->move_cost : 0);

			out[n].key = rank << 1 | (uint64_t)incumbent;
			out[n].guest = gi;
			out[n].units = (uint32_t)(cut - from);
			n++;
			from = cut;
		}
	}
	return n;
}

/*
 * The segments taking part in this clearing. Normally they are the priced
 * units inside each guest's window above lo (lo itself is kept, outside the
 * contest). When the lo's alone exceed supply (@dropping), they are the
 * reserved units (0, lo] instead, frozen guests' outranking everyone's.
 * Writes to @out, which must have room for max_segments() entries; returns
 * how many it wrote.
 */
static size_t build_segments(const struct market_params *params,
			     const struct market_guest *guests, size_t n_guests,
			     int dropping, struct market_segment *out)
{
	size_t n = 0;
	size_t gi;

	for (gi = 0; gi < n_guests; gi++) {
		const struct market_guest *g = &guests[gi];
		struct market_segment *at = out + n;
		uint32_t index = (uint32_t)gi; /* see struct market_segment */
		uint32_t lo, hi;

		guest_window(params, g, &lo, &hi);
		if (!dropping) {
			if (!g->frozen)
				n += emit_segments(params, g, index, lo, hi, 1,
						   at);
		} else if (!g->frozen) {
			n += emit_segments(params, g, index, 0, lo, 0, at);
		} else if (lo > 0) {
			at->key = KEY_FROZEN;
			at->guest = index;
			at->units = lo;
			n++;
		}
	}
	return n;
}

/*
 * Room build_segments() may need. A bound rather than an exact count: that
 * would take a second pass over every curve, the costliest part of a
 * clearing, to save a few unused entries per guest. Curves must be valid
 * (n_steps bounded), so the sum cannot overflow before 2^32 entries.
 */
static uint64_t max_segments(const struct market_guest *guests,
			     size_t n_guests)
{
	uint64_t n = 0;
	size_t gi;

	for (gi = 0; gi < n_guests; gi++)
		n += guests[gi].frozen ? 1
				       : SEGMENTS_PER_GUEST(guests[gi].n_steps);
	return n;
}

/*
 * threshold_key - weighted radix select. Returns the rank key of the
 * @want-th unit in serving order, and in *@take_at_key how many units with
 * exactly that key are served. Needs 1 <= @want <= total units in @segs and
 * @key_max >= every key. Each pass fixes RADIX_BITS more bits of the key,
 * looking only at segments whose higher bits match what is fixed so far;
 * bits above @key_max's are 0 everywhere and need no pass (real prices are
 * far below RAMM_MAX_PRICE, so that usually saves one or two).
 */
static uint64_t threshold_key(const struct market_segment *segs, size_t n,
			      uint64_t want, uint64_t key_max,
			      uint64_t *take_at_key)
{
	uint64_t histogram[RADIX_BUCKETS];
	uint64_t prefix = 0;
	unsigned int shift = 0;

	while (shift < KEY_BITS && key_max >> shift)
		shift += RADIX_BITS;

	while (shift > 0) {
		unsigned int fixed_shift = shift; /* bits above are fixed */
		unsigned int bucket;
		size_t i;

		shift -= RADIX_BITS;
		memset(histogram, 0, sizeof(histogram));
		for (i = 0; i < n; i++) {
			uint64_t key = segs[i].key;

			if (key >> fixed_shift != prefix >> fixed_shift)
				continue;
			histogram[(key >> shift) & (RADIX_BUCKETS - 1)] +=
				segs[i].units;
		}
		/*
		 * Service starts at the highest bucket. Bucket 0 needs no test:
		 * the caller promised that the units suffice.
		 */
		for (bucket = RADIX_BUCKETS - 1; bucket > 0; bucket--) {
			if (histogram[bucket] >= want)
				break;
			want -= histogram[bucket];
		}
		prefix |= (uint64_t)bucket << shift;
	}
	*take_at_key = want;
	return prefix;
}

/*
 * serve_highest - hand @supply units to the segments, highest key first,
 * ties in array order, adding what each guest gets to its target.
 */
static void serve_highest(const struct market_segment *segs, size_t n,
			  uint64_t supply, uint32_t *targets)
{
	uint64_t total = 0, key_max = 0;
	uint64_t threshold, take_at_threshold;
	size_t i;

	for (i = 0; i < n; i++) {
		total += segs[i].units;
		if (segs[i].key > key_max)
			key_max = segs[i].key;
	}
	if (total <= supply) {
		for (i = 0; i < n; i++)
			targets[segs[i].guest] += segs[i].units;
		return;
	}
	if (supply == 0)
		return;

	threshold = threshold_key(segs, n, supply, key_max, &take_at_threshold);
	for (i = 0; i < n; i++) {
		uint64_t served;

		if (segs[i].key > threshold) {
			served = segs[i].units;
		} else if (segs[i].key == threshold) {
			served = min_u64(segs[i].units, take_at_threshold);
			take_at_threshold -= served;
		} else {
			continue;
		}
		targets[segs[i].guest] += (uint32_t)served;
	}
}

/*
 * The highest raw bid that supply left unserved. A guest's first unserved
 * unit is its best unserved one (prices never rise), and every priced unit
 * in the window that is unserved was turned away for lack of supply - so
 * looking at unit target + 1 of each guest is enough.
 */
static uint32_t clearing_price(const struct market_params *params,
			       const struct market_guest *guests,
			       size_t n_guests, const uint32_t *targets)
{
	uint32_t price = 0;
	size_t gi;

	for (gi = 0; gi < n_guests; gi++) {
		uint32_t lo, hi, unserved;

		if (guests[gi].frozen)
			continue;
		guest_window(params, &guests[gi], &lo, &hi);
		if (targets[gi] >= hi)
			continue;
		unserved = above_reserve(market_bid_price(guests[gi].steps,
						guests[gi].n_steps,
						(uint64_t)targets[gi] + 1),
					 params->reserve_price);
		if (unserved > price)
			price = unserved;
	}
	return price;
}

/*
 * Skip changes smaller than the quantum. Undoing a growth frees supply, so
 * those go first and always; undoing a shrink needs supply back, so those
 * follow in guest order and only while the total still fits. A guest held
 * above its cap is never put back there, and one going to its floor goes.
 */
static void apply_quantum(const struct market_params *params,
			  const struct market_guest *guests, size_t n_guests,
			  uint32_t *targets)
{
	uint32_t quantum = params->quantum_units;
	uint64_t allocated = 0;
	size_t gi;

	if (quantum <= 1 || params->emergency)
		return; /* every change is at least one unit; or no time to lose */

	for (gi = 0; gi < n_guests; gi++) {
		uint32_t current = guests[gi].current_units;

		/* Targets never pass the cap, so neither does current here. */
		if (targets[gi] > current && targets[gi] - current < quantum)
			targets[gi] = current;
		allocated += targets[gi];
	}
	for (gi = 0; gi < n_guests; gi++) {
		uint32_t current = guests[gi].current_units;
		uint32_t give_back;

		if (current > guests[gi].cap_units || targets[gi] >= current)
			continue;
		give_back = current - targets[gi];
		/* A shrink to the floor is made however small: a drain cut
		 * short by the unplug rate would otherwise keep its last
		 * units for good. */
		if (give_back >= quantum || targets[gi] == 0 ||
		    allocated + give_back > params->supply_units)
			continue;
		targets[gi] = current;
		allocated += give_back;
	}
}

/*
 * The general clearing on an array of segments. market_clear() takes it
 * when the lo's alone exceed supply (then reserved units, frozen ones too,
 * compete instead: the fast path below does not cover that), and when the
 * clearing key is above the fast path's histogram.
 */
static int clear_by_segments(const struct market_params *params,
			     const struct market_guest *guests,
			     size_t n_guests, uint32_t *targets,
			     struct market_result *result)
{
	struct market_segment *segs = NULL;
	uint64_t reserved = 0, allocated = 0, demand = 0;
	uint64_t contested, room;
	uint32_t price;
	size_t n_segs = 0, gi;
	int dropping;

	for (gi = 0; gi < n_guests; gi++) {
		uint32_t lo, hi;

		/* A frozen guest's curve is never read, so never judged. */
		if (!guests[gi].frozen &&
		    bid_curve_validate(guests[gi].steps, guests[gi].n_steps,
				       MARKET_MAX_STEPS))
			return -EINVAL;
		guest_window(params, &guests[gi], &lo, &hi);
		reserved = add_saturated(reserved, lo);
	}
	dropping = reserved > params->supply_units;

	/*
	 * Past 2^32 segments (64 GiB of scratch) the unit sums in uint64_t
	 * could overflow and guest indices outgrow a segment's 32 bits; no
	 * host gets there, so refuse rather than check every addition.
	 */
	room = max_segments(guests, n_guests);
	if (room > UINT32_MAX || room > SIZE_MAX / sizeof(*segs))
		return -ENOMEM;
	if (room > 0) {
		segs = malloc((size_t)room * sizeof(*segs));
		if (!segs)
			return -ENOMEM;
		n_segs = build_segments(params, guests, n_guests, dropping,
					segs);
	}

	/* Nothing fails from here on: the outputs may be written. */
	for (gi = 0; gi < n_guests; gi++) {
		uint32_t lo, hi;

		guest_window(params, &guests[gi], &lo, &hi);
		targets[gi] = dropping ? 0 : lo;
	}
	contested = dropping ? params->supply_units
			     : params->supply_units - reserved;
	serve_highest(segs, n_segs, contested, targets);
	free(segs);

	/* The price reflects the clearing itself, before the quantum. */
	price = clearing_price(params, guests, n_guests, targets);
	apply_quantum(params, guests, n_guests, targets);

	for (gi = 0; gi < n_guests; gi++) {
		allocated = add_saturated(allocated, targets[gi]);
		if (!guests[gi].frozen)
			demand = add_saturated(demand,
					priced_units_within_cap(params,
								&guests[gi]));
	}
	result->price = price;
	result->allocated_units = allocated;
	result->demand_units = demand;
	return 0;
}

/*
 * The fast path, taken whenever the lo's fit supply (every ordinary tick),
 * with no segment array. A guest's rank keys never rise along its units, so
 * a histogram of contested units by key is all the selection needs:
 *  1. one pass over the curves validates them, adds up demand and counts
 *     the contested units of each key, directly indexed up to HIST_TOP
 *     (prices up to about HIST_TOP / 2: the agents' calm prices are at
 *     most 8000), keys above it all in the top bucket;
 *  2. scanning the buckets from the top finds the threshold key T where
 *     supply runs out, and how many units at T are served;
 *  3. a guest's units ranked above T, and those at T, are prefixes of its
 *     curve: a binary search on its prices finds them, with no cutting into
 *     runs; units at T go in guest order while they last;
 *  4. the price is the highest raw bid left unserved, read off the
 *     histogram at and below T.
 * When T lands in the top bucket (scarce supply bid for above HIST_TOP / 2)
 * the histogram cannot tell keys apart there: clear_by_segments() does it.
 */
#define HIST_TOP ((UINT64_C(1) << 15) - 1)

static uint64_t rank_key(uint32_t price, uint64_t bonus, int incumbent)
{
	return ((uint64_t)price + (incumbent ? bonus : 0)) << 1 |
	       (uint64_t)incumbent;
}

/*
 * Counts units (@*at, @edge] of a valid prefix of curve @s into
 * @hist[min(price * 2 + @bias, HIST_TOP)], from step @*i (@*pos units
 * before it, @*pos <= @*at; @*prev the price before it). Stops at @edge,
 * leaving @*i on the step @edge cuts, or on the first step it cannot take
 * (units 0, a rising price, a price at or below @reserve, past the curve)
 * for the caller to judge. Returns how many units it counted.
 */
static uint64_t tally_region(const struct ramm_bid_step *s, size_t n,
			     size_t *i, uint64_t *pos, uint64_t *at,
			     uint32_t *prev, uint64_t edge, uint64_t bias,
			     uint32_t reserve, uint64_t *hist)
{
	uint64_t from = *at, to = *at, start = *pos;
	uint32_t last = *prev;
	size_t k = *i;

	while (to < edge && k < n) {
		uint32_t units = s[k].units, price = s[k].price;
		uint64_t end = start + units;
		uint64_t key = ((uint64_t)price << 1) + bias;

		if ((units == 0) | (price > last) | (price <= reserve))
			break;
		last = price;
		key = min_u64(key, HIST_TOP);
		if (end > edge) {
			hist[key] += edge - to;
			to = edge;
			break;
		}
		hist[key] += end - to;
		to = start = end;
		k++;
	}
	*i = k;
	*pos = start;
	*at = to;
	*prev = last;
	return to - from;
}

/*
 * Pass 1 for non-frozen guest @g with window (@lo, @hi]: checks its curve
 * like bid_curve_validate() and counts its contested units - bid above the
 * reserve price, in (lo, hi] - into @hist, adding their number to @*total.
 * Returns the units it bids for at @claim or more (as
 * market_claimed_units()), or UINT64_MAX if the curve is invalid. Each step
 * is read once, or twice where the incumbent units end in it.
 */
static uint64_t scan_guest(const struct market_params *params,
			   const struct market_guest *g, uint64_t lo,
			   uint64_t hi, uint32_t claim, uint64_t *hist,
			   uint64_t *total)
{
	uint64_t move_cost = params->move_cost;
	uint32_t reserve = params->reserve_price;
	const struct ramm_bid_step *s = g->steps;
	uint64_t anchored = anchored_units(g), pos = 0, at = lo, unpriced = 0;
	uint32_t prev = RAMM_MAX_PRICE, bad = 0;
	size_t n = g->n_steps, i = 0;

	if (n > MARKET_MAX_STEPS || (n > 0 && !s))
		return UINT64_MAX;
	/* Steps wholly at or below lo: kept, not contested. */
	for (; i < n; i++) {
		uint32_t units = s[i].units, price = s[i].price;

		bad |= (units == 0) | (price > prev);
		if (pos + units > lo)
			break;
		prev = price;
		unpriced += price >= claim ? 0 : units;
		pos += units;
	}
	if (bad)
		return UINT64_MAX;
	if (lo < hi) {
		/* Incumbent units, then the others. */
		*total += tally_region(s, n, &i, &pos, &at, &prev,
				       min_u64(anchored, hi),
				       move_cost << 1 | 1, reserve, hist);
		*total += tally_region(s, n, &i, &pos, &at, &prev, hi, 0,
				       reserve, hist);
	}
	/* The rest of the curve, from where the walk stopped. */
	for (; i < n; i++) {
		uint32_t units = s[i].units, price = s[i].price;

		bad |= (units == 0) | (price > prev);
		prev = price;
		unpriced += price >= claim ? 0 : units;
		pos += units;
	}
	return bad ? UINT64_MAX : pos - unpriced;
}

/*
 * The highest bucket of @hist[0..@top] at which @*want units are reached,
 * scanning down; takes the units of the buckets above off @*want.
 */
static uint64_t select_bucket(const uint64_t *hist, uint64_t top,
			      uint64_t *want)
{
	uint64_t b;

	for (b = top; b > 0; b--) {
		if (hist[b] >= *want)
			break;
		*want -= hist[b];
	}
	return b;
}

/* How many steps at the start of valid curve @s bid at @m or more: prices
 * never rise, so a branch-free binary search finds it. */
static size_t steps_at_least(const struct ramm_bid_step *s, size_t n,
			     uint64_t m)
{
	size_t base = 0;

	if (n == 0)
		return 0;
	while (n > 1) {
		size_t half = n / 2;

		base = s[base + half - 1].price >= m ? base + half : base;
		n -= half;
	}
	return base + (s[base].price >= m);
}

/*
 * The lowest price at which a unit ranks at @key or above: incumbent units
 * rank at (p + move_cost) << 1 | 1, the others at p << 1. At least
 * @least: units bid at or below the reserve price never compete.
 */
static uint64_t min_price_incumbent(uint64_t key, uint64_t move_cost,
				    uint64_t least)
{
	uint64_t half = key >> 1;

	return half > move_cost && half - move_cost > least ? half - move_cost
							    : least;
}

static uint64_t min_price_new(uint64_t key, uint64_t least)
{
	uint64_t half = (key + 1) >> 1;

	return half > least ? half : least;
}

/*
 * End of the prefix of a guest's units ranking at some key or above, from
 * the units bid at >= its incumbent price (@at_inc) and at >= its price
 * for the others (@at_new): units 1..@anchored rank as incumbents.
 */
static uint64_t prefix_end(uint64_t at_inc, uint64_t at_new, uint64_t anchored)
{
	return min_u64(anchored, at_inc) + (at_new > anchored ? at_new - anchored
							      : 0);
}

/* @v clamped to [@lo, @hi]. */
static uint64_t clamp_u64(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : min_u64(v, hi);
}

/*
 * Pass 2: each guest's target is lo, plus its units ranked above
 * @threshold, plus its units at @threshold while @take lasts, in guest
 * order; never above hi.
 */
static void serve_guests(const struct market_params *params,
			 const struct market_guest *guests, size_t n_guests,
			 uint64_t threshold, uint64_t take, uint32_t *targets)
{
	uint64_t mc = params->move_cost;
	uint64_t least = (uint64_t)params->reserve_price + 1;
	/*
	 * Lowest prices ranking above the threshold (key >= threshold + 1)
	 * and at it or above. In order: m_new1 >= m_new2 >= m_inc2 and
	 * m_new1 >= m_inc1 >= m_inc2.
	 */
	uint64_t m_inc1 = min_price_incumbent(threshold + 1, mc, least);
	uint64_t m_new1 = min_price_new(threshold + 1, least);
	uint64_t m_inc2 = min_price_incumbent(threshold, mc, least);
	uint64_t m_new2 = min_price_new(threshold, least);
	size_t gi;

	for (gi = 0; gi < n_guests; gi++) {
		const struct market_guest *g = &guests[gi];
		const struct ramm_bid_step *s = g->steps;
		uint64_t new1, inc1, new2, inc2, sum = 0, above, upto;
		size_t j_new1, j_inc1, j_new2, j_inc2, i, n = g->n_steps;
		uint32_t lo, hi;

		guest_window(params, g, &lo, &hi);
		if (g->frozen || lo == hi) {
			targets[gi] = lo;
			continue;
		}
		/* Units bid at >= each price: a prefix of the curve. */
		j_new1 = steps_at_least(s, n, m_new1);
		j_inc1 = steps_at_least(s, n, m_inc1);
		j_new2 = steps_at_least(s, n, m_new2);
		j_inc2 = steps_at_least(s, n, m_inc2);
		for (i = 0; i < j_new1; i++)
			sum += s[i].units;
		new1 = inc1 = new2 = sum;
		for (; i < j_inc2; i++) {
			inc1 += i < j_inc1 ? s[i].units : 0;
			new2 += i < j_new2 ? s[i].units : 0;
			sum += s[i].units;
		}
		inc2 = sum;

		above = clamp_u64(prefix_end(inc1, new1, anchored_units(g)),
				  lo, hi);
		upto = clamp_u64(prefix_end(inc2, new2, anchored_units(g)), lo,
				 hi);
		if (upto > above) { /* units at the threshold */
			uint64_t tie = min_u64(upto - above, take);

			take -= tie;
			above += tie;
		}
		targets[gi] = (uint32_t)above;
	}
}

/*
 * The highest raw bid among the units left unserved: those at keys below
 * @threshold, and those at @threshold beyond the @take served. Even keys
 * are other units bid at key / 2, odd keys incumbent ones bid at
 * key / 2 - move_cost, so the highest of each kind is enough. @hist must
 * resolve every key up to @threshold.
 */
static uint32_t price_from_hist(const uint64_t *hist, uint64_t threshold,
				uint64_t take, uint64_t move_cost)
{
	uint64_t best = 0, key = threshold + 1;
	int seen[2] = { 0, 0 };

	while (key-- > 0 && !(seen[0] && seen[1])) {
		uint64_t unserved = hist[key] - (key == threshold ? take : 0);
		uint64_t raw;

		if (!unserved || seen[key & 1])
			continue;
		seen[key & 1] = 1;
		raw = (key >> 1) - ((key & 1) ? move_cost : 0);
		if (raw > best)
			best = raw;
	}
	return (uint32_t)best;
}

int market_clear(const struct market_params *params,
		 const struct market_guest *guests, size_t n_guests,
		 uint32_t *targets, struct market_result *result)
{
	uint64_t reserved = 0, room = 0, allocated = 0, demand = 0, total = 0;
	uint64_t contested, top, threshold, take;
	uint32_t top_price = 0, price = 0;
	uint64_t *hist;
	size_t gi;

	if (!params || !result || (n_guests > 0 && (!guests || !targets)))
		return -EINVAL;
	/* O(n_guests), no curve walks: windows and the highest bid. */
	for (gi = 0; gi < n_guests; gi++) {
		const struct market_guest *g = &guests[gi];
		uint32_t lo, hi;

		guest_window(params, g, &lo, &hi);
		reserved = add_saturated(reserved, lo);
		if (g->frozen) {
			room++;
			continue;
		}
		/* Capped: an invalid n_steps fails below, not overflows. */
		room += SEGMENTS_PER_GUEST(min_u64(g->n_steps,
						   MARKET_MAX_STEPS + 1));
		/* A valid curve's first price is its highest. */
		if (lo < hi && g->n_steps > 0 && g->steps &&
		    g->steps[0].price > top_price)
			top_price = g->steps[0].price;
	}
	if (reserved > params->supply_units)
		return clear_by_segments(params, guests, n_guests, targets,
					 result);

	top = min_u64(rank_key(min_u32(top_price, RAMM_MAX_PRICE),
			       params->move_cost, 1), HIST_TOP);
	hist = calloc((size_t)top + 1, sizeof(*hist));
	if (!hist)
		return -ENOMEM;
	for (gi = 0; gi < n_guests; gi++) {
		const struct market_guest *g = &guests[gi];
		uint64_t priced;
		uint32_t lo, hi;

		if (g->frozen)
			continue;
		guest_window(params, g, &lo, &hi);
		priced = scan_guest(params, g, lo, hi,
				    lowest_sold_price(params), hist, &total);
		if (priced == UINT64_MAX) {
			free(hist);
			return -EINVAL;
		}
		demand = add_saturated(demand, min_u64(priced, g->cap_units));
	}
	contested = params->supply_units - reserved;
	if (room > UINT32_MAX ||
	    room > SIZE_MAX / sizeof(struct market_segment) ||
	    (total > contested && top == HIST_TOP && hist[top] > 0 &&
	     hist[top] >= contested)) {
		/*
		 * Too big (clear_by_segments() returns -ENOMEM), or the
		 * threshold is among the keys the top bucket lumps together.
		 */
		free(hist);
		return clear_by_segments(params, guests, n_guests, targets,
					 result);
	}

	/* Nothing fails from here on: the outputs may be written. */
	threshold = 0; /* every contested unit is served */
	take = 0;
	if (total > contested && contested == 0) {
		threshold = UINT64_MAX; /* none is */
		for (gi = 0; gi < n_guests; gi++) {
			uint32_t lo, hi;

			guest_window(params, &guests[gi], &lo, &hi);
			targets[gi] = lo;
		}
	} else {
		if (total > contested) {
			take = contested;
			threshold = select_bucket(hist, top, &take);
		}
		serve_guests(params, guests, n_guests, threshold, take,
			     targets);
	}
	/* The price reflects the clearing itself, before the quantum. */
	if (total > contested)
		price = price_from_hist(hist, min_u64(threshold, top), take,
					params->move_cost);
	free(hist);
	apply_quantum(params, guests, n_guests, targets);

	for (gi = 0; gi < n_guests; gi++)
		allocated = add_saturated(allocated, targets[gi]);
	result->price = price;
	result->allocated_units = allocated;
	result->demand_units = demand;
	return 0;
}

/* ---- budgets and credit -------------------------------------------------- */

static uint32_t clamp_credit(uint32_t credit)
{
	if (credit < MARKET_CREDIT_MIN)
		return MARKET_CREDIT_MIN;
	return credit > MARKET_CREDIT_MAX ? MARKET_CREDIT_MAX : credit;
}

uint64_t market_income(const struct market_budget *budget,
		       const struct market_account *acc, uint64_t total_weight)
{
	unsigned __int128 share;

	if (!total_weight)
		return 0;
	share = (unsigned __int128)budget->income_pool * acc->weight /
		total_weight;
	return share > UINT64_MAX ? UINT64_MAX : (uint64_t)share;
}

struct market_account market_account_open(const struct market_budget *budget,
					  uint32_t weight,
					  uint64_t total_weight)
{
	struct market_account acc = { .weight = weight,
				      .credit = MARKET_CREDIT_MAX };
	unsigned __int128 start = (unsigned __int128)market_income(budget, &acc,
						total_weight) *
				  budget->savings_ticks / 10;

	acc.balance = start > UINT64_MAX ? UINT64_MAX : (uint64_t)start;
	return acc;
}

/* What a guest that may spend @balance can bid for its @unit-th unit. */
static uint32_t affordable_price(uint64_t balance, uint64_t unit)
{
	uint64_t price = balance / unit;

	return price > RAMM_MAX_PRICE ? RAMM_MAX_PRICE : (uint32_t)price;
}

/*
 * Append units (@start, @start + @units] at @price to the curve at @out[*n],
 * clipped to what @balance affords: units up to balance / price keep the
 * price, the rest are cut in steps each priced for its last unit, the
 * dearest of the step to afford, while *@cuts last (market.h,
 * MARKET_TAIL_DIV); the last step takes the rest. Steps of one price are
 * merged.
 *
 * The rest used to be one step priced for the last unit of the piece:
 * then a guest the budget limits wanted all of its tail at a price or
 * none of it, and two such guests after the same units could not share
 * them. Under a steady overcommit every short guest bids the budget price
 * for a little more than it holds, so the budgets decided: one guest took
 * the contested units, paid more than its income until one tick's income
 * was left, then priced all it held past that at balance / (the end of
 * its step); the other, having paid no more than its income, outbid it
 * for all of them once the lease and the dip delay were over, and the two
 * swapped them every 9 ticks for as long as the demand lasted. Priced
 * balance / k, two such guests meet where their balances divided by what
 * they hold are equal, and stay there.
 * Returns 0 when the budget is exhausted (nothing further can be bid).
 */
static int append_affordable(struct ramm_bid_step *out, size_t *n,
			     uint64_t *start, uint32_t units, uint32_t price,
			     uint64_t balance, uint32_t *cuts)
{
	uint64_t end = *start + units;
	uint64_t affordable = balance / price;
	uint32_t tail;

	if (affordable >= end) {
		out[(*n)++] = (struct ramm_bid_step){ units, price };
		*start = end;
		return 1;
	}
	if (affordable > *start) {
		out[(*n)++] = (struct ramm_bid_step){
			(uint32_t)(affordable - *start), price };
		*start = affordable;
	}
	while (*start < end) {
		uint64_t step = *start / MARKET_TAIL_DIV;
		uint64_t to = *cuts <= 1 ? end :
			      min_u64(end, *start + (step ? step : 1));

		if (*cuts)
			(*cuts)--;
		tail = affordable_price(balance, to);
		if (tail == 0)
			return 0;
		if (*n && out[*n - 1].price == tail &&
		    out[*n - 1].units <= UINT32_MAX - (to - *start))
			out[*n - 1].units += (uint32_t)(to - *start);
		else
			out[(*n)++] = (struct ramm_bid_step){ (uint32_t)(to - *start), tail };
		*start = to;
	}
	return 1;
}

int market_effective_bid(const struct ramm_bid_step *steps, size_t n_steps,
			 uint32_t credit, uint64_t used_units,
			 uint64_t balance, struct ramm_bid_step *out)
{
	uint64_t start = 0; /* units before the next piece */
	uint32_t cuts = MARKET_TAIL_CUTS; /* tail steps left */
	size_t n = 0, i;

	if (!out || market_validate_bid(steps, n_steps))
		return -EINVAL;
	credit = clamp_credit(credit);

	/*
	 * Each step is cut at @used_units into at most two pieces: the part
	 * the guest is using keeps its price, the rest is scaled by credit.
	 * Prices stay non-increasing: scaling only lowers them.
	 */
	for (i = 0; i < n_steps; i++) {
		uint64_t end = start + steps[i].units;

		while (start < end) {
			int used = start < used_units;
			uint64_t piece_end = used ? min_u64(end, used_units) : end;
			uint32_t price = used ? steps[i].price
				: (uint32_t)((uint64_t)steps[i].price * credit /
					     MARKET_CREDIT_MAX);

			if (price == 0 ||
			    !append_affordable(out, &n, &start,
					       (uint32_t)(piece_end - start),
					       price, balance, &cuts))
				return (int)n;
		}
	}
	return (int)n;
}

/* @v for @permille thousandths of a whole tick (0: a whole tick), rounded
 * down, saturating. */
static uint64_t scale_permille(uint64_t v, uint32_t permille)
{
	unsigned __int128 x;

	if (!permille)
		return v;
	x = (unsigned __int128)v * permille / 1000;
	return x > UINT64_MAX ? UINT64_MAX : (uint64_t)x;
}

uint64_t market_bill(const struct market_budget *budget, uint32_t held_units,
		     uint32_t price)
{
	return scale_permille((uint64_t)held_units * price, budget->tick_permille);
}

void market_settle(const struct market_budget *budget,
		   struct market_account *accounts, const uint32_t *held_units,
		   size_t n, uint32_t price, uint64_t *spent)
{
	uint64_t total_weight = 0;
	size_t i;

	for (i = 0; i < n; i++)
		total_weight += accounts[i].weight;
	for (i = 0; i < n; i++) {
		struct market_account *acc = &accounts[i];
		uint64_t whole = market_income(budget, acc, total_weight);
		uint64_t income = scale_permille(whole, budget->tick_permille);
		unsigned __int128 cap = (unsigned __int128)whole *
					budget->savings_ticks;
		uint64_t bill = market_bill(budget, held_units[i], price);
		uint64_t paid = min_u64(bill, acc->balance);

		acc->balance = add_saturated(acc->balance - paid, income);
		if (acc->balance > cap)
			acc->balance = (uint64_t)cap;
		if (spent)
			spent[i] = paid;
	}
}

uint32_t market_credit_next(uint32_t credit,
			    const struct market_conduct *c,
			    const struct market_credit_params *p)
{
	uint64_t claimed = c->claimed_units;
	uint64_t slack = claimed * p->idle_slack_pct / 100 + p->idle_slack_units;
	uint64_t loss = 0;
	int judged = 0;

	credit = clamp_credit(credit);
	/*
	 * Judged on the claim, not on what the claim won: a guest whose
	 * memory was taken for its poor credit uses all it holds, and would
	 * earn its credit back while still claiming what it does not use.
	 */
	if (claimed > (uint64_t)c->used_units + slack) {
		uint64_t over_claim = claimed - c->used_units - slack;

		loss += (uint64_t)p->fall_idle * over_claim / claimed;
		judged = 1;
	}
	if (c->unplug_asked > 0 && c->unplug_done < c->unplug_asked) {
		uint64_t missed = c->unplug_asked - c->unplug_done;

		loss += (uint64_t)p->fall_unplug * missed / c->unplug_asked;
		judged = 1;
	}
	if (!judged)
		return clamp_credit(credit + p->rise);
	return loss >= credit ? MARKET_CREDIT_MIN
			      : clamp_credit(credit - (uint32_t)loss);
}

int market_round(const struct market_params *params,
		 const struct market_budget *budget,
		 const struct market_credit_params *credit_params,
		 const struct market_guest *guests,
		 struct market_account *accounts,
		 const struct market_conduct *conduct, size_t n,
		 uint32_t *targets, struct market_result *result)
{
	struct ramm_bid_step *curves = NULL, *scratch, *more;
	size_t i, used = 0, room = 0;
	struct market_guest *effective;
	size_t *offsets;
	uint32_t *credits;
	int ret = -ENOMEM;

	if (!params || !result || !credit_params ||
	    (n > 0 && (!guests || !accounts || !targets)))
		return -EINVAL;
	if (n == 0)
		return market_clear(params, guests, n, targets, result);
	effective = calloc(n, sizeof(*effective));
	offsets = calloc(n, sizeof(*offsets));
	credits = calloc(n, sizeof(*credits));
	/* One curve at a time at full length, then packed: a budget's
	 * tail can be long, but few curves have one. */
	scratch = malloc(MARKET_MAX_STEPS * sizeof(*scratch));
	if (!effective || !offsets || !credits || !scratch)
		goto out_free;

	ret = 0;
	for (i = 0; i < n && !ret; i++) {
		uint64_t balance = budget ? accounts[i].balance : UINT64_MAX;
		int got;

		credits[i] = conduct ? market_credit_next(accounts[i].credit,
							  &conduct[i],
							  credit_params)
				     : clamp_credit(accounts[i].credit);
		effective[i] = guests[i];
		if (guests[i].frozen)
			continue;
		got = market_effective_bid(guests[i].steps, guests[i].n_steps,
					   credits[i],
					   conduct ? conduct[i].used_units : 0,
					   balance, scratch);
		if (got < 0) {
			ret = got;
			break;
		}
		if (used + (size_t)got > room) {
			room = 2 * room + (size_t)got + 64;
			more = realloc(curves, room * sizeof(*curves));
			if (!more) {
				ret = -ENOMEM;
				break;
			}
			curves = more;
		}
		memcpy(curves + used, scratch, (size_t)got * sizeof(*curves));
		offsets[i] = used;
		effective[i].n_steps = (size_t)got;
		used += (size_t)got;
	}
	/* The curves are in place now that they no longer move. */
	for (i = 0; i < n && !ret; i++)
		if (!guests[i].frozen)
			effective[i].steps = curves ? curves + offsets[i] : NULL;
	if (!ret)
		ret = market_clear(params, effective, n, targets, result);
	if (ret)
		goto out_free;

	/* Cleared: now the credit scores may change. */
	for (i = 0; i < n; i++)
		accounts[i].credit = credits[i];
out_free:
	free(scratch);
	free(credits);
	free(offsets);
	free(curves);
	free(effective);
	return ret;
}

#define ACCOUNT_MAX_TEXT 256

int market_account_format(const struct market_account *acc, char *buf,
			  size_t size)
{
	int len = snprintf(buf, size, "balance=%llu weight=%u credit=%u",
			   (unsigned long long)acc->balance, acc->weight,
			   acc->credit);

	return len < 0 || (size_t)len >= size ? -ENOSPC : len;
}

int market_account_parse(const char *text, size_t len,
			 struct market_account *acc)
{
	static const struct {
		const char *key;
		uint64_t max;
	} keys[] = {
		{ "balance", UINT64_MAX },
		{ "weight", UINT32_MAX },
		{ "credit", MARKET_CREDIT_MAX },
	};
	uint64_t values[3];
	unsigned int seen = 0;
	const char *p = text, *end = text + len;

	if (!text || !acc || len > ACCOUNT_MAX_TEXT)
		return -EINVAL;
	while (p < end) {
		size_t k, key_len;

		for (k = 0; k < 3; k++) {
			key_len = strlen(keys[k].key);
			if ((size_t)(end - p) > key_len &&
			    !memcmp(p, keys[k].key, key_len) && p[key_len] == '=')
				break;
		}
		if (k == 3 || seen & (1u << k))
			return -EINVAL;
		p += key_len + 1;
		if (decimal_parse(&p, end, keys[k].max, &values[k]))
			return -EINVAL;
		seen |= 1u << k;
		if (p < end && (*p++ != ' ' || p == end))
			return -EINVAL;
	}
	if (seen != 7 || values[2] < MARKET_CREDIT_MIN)
		return -EINVAL;
	acc->balance = values[0];
	acc->weight = (uint32_t)values[1];
	acc->credit = (uint32_t)values[2];
	return 0;
}
