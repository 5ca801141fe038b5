/* SPDX-License-Identifier: MIT */
/*
 * bid_model: the /proc fallback bid curve.
 *
 * The model (also in docs/BID-MODEL.md):
 *
 *   wss = MemTotal - MemAvailable, the memory the guest cannot give up
 *   without reclaiming something it uses (an ACMA-style working set
 *   estimate; page cache the kernel counts as available is not in it).
 *
 *   Following ACMA, the guest wants free memory in proportion to its working
 *   set. Each tier names a target for the memory the kernel manages
 *   (MemTotal) and a price:
 *
 *     in use   wss * 1.016 + 32 MiB  8000   what it holds now, plus the
 *                                          kernel's watermarks; losing it
 *                                          means reclaim or the OOM killer
 *     need     wss * 1.10 + 64 MiB   1000   run without reclaim, with
 *              + rise                      room for the working set's
 *                                          growth over the next 2 s
 *     comfort  wss * 1.5              300   room for cache and growth
 *     spare    wss * 2                 50   nice to have
 *
 *   When the guest is short -- PSI memory "some" avg10 above 0.5 %,
 *   MemAvailable below 8 % of MemTotal, or running out: the rise over the
 *   next 2 s more than MemAvailable, so that the workload fills the guest
 *   before a grant decided on this report can land -- it adds
 *
 *     short    max(MemTotal * 1.25,  2000 * (1 + (some + full) / 10 + lack)
 *                  demand * 1.10 + 64 MiB
 *                  + rise)
 *
 *   where demand = wss + swap in use (SwapTotal - SwapFree): what the guest
 *   would hold if it had the room. Asking for it all at once is what lets a
 *   guest whose working set jumps get there in one tick, not in steps of
 *   a quarter.
 *
 *   where lack in [0, 1] grows from 0 at 8 % available to 1 at none, and the
 *   price is capped at RAMM_MAX_PRICE. A guest whose memory is full thus
 *   keeps asking for a quarter more than it has, at a price above any calm
 *   guest's, until the pressure goes away.
 *
 *   The broker counts the guest's physical memory (boot memory plus plugged
 *   virtio-mem), which is larger than MemTotal by what the kernel reserved
 *   at boot (mem_reserved_kib: the size the broker's welcome reports less
 *   MemTotal; 113 MiB of a 256 MiB boot in the lab, mostly the 64 MiB
 *   swiotlb buffer). Plugging virtio-mem memory does not change it. Each target gets
 *   that added before it is compared with the floor; without it a full
 *   small guest would seem to be asking for less than its floor.
 *
 *   Each target is turned into units above the floor, rounded up, and
 *   clipped to (cap - floor) / unit: memory the floor already gives is free,
 *   so a target at or below the floor asks for nothing. Walking the tiers
 *   from the highest price down, each tier bids for the units between the
 *   previous tier's reach and its own, so the curve's prices are strictly
 *   decreasing and a tier that reaches no further than a dearer one
 *   vanishes.
 */
#include <errno.h>

#include "bid_model.h"
#include "proc_sample.h"

#define MIB (1024ull * 1024ull)

/* The tier order in bid_model_compute() relies on this. */
_Static_assert(RAMM_PRICE_IN_USE > RAMM_PRICE_SHORT &&
    RAMM_PRICE_IN_USE <= RAMM_MAX_PRICE &&
    RAMM_PRICE_SHORT > RAMM_PRICE_NEED &&
    RAMM_PRICE_NEED > RAMM_PRICE_COMFORT &&
    RAMM_PRICE_COMFORT > RAMM_PRICE_SPARE && RAMM_PRICE_SPARE > 0 &&
    RAMM_PRICE_SHORT <= RAMM_MAX_PRICE, "tier prices must decrease");

/*
 * MemTotal (or reserved memory) above this (1 PiB) is nonsense; the bound
 * also keeps the math in range.
 */
#define BID_MAX_TOTAL_KIB (1ull << 40)

struct tier {
	uint64_t target; /* total bytes the guest wants at this price */
	uint32_t price;  /* per unit per tick */
};

/* Units above @floor needed to reach @target, rounded up, at most @cap. */
static uint32_t
units_above(uint64_t target, uint64_t floor_bytes, uint64_t unit,
    uint32_t cap_units)
{
	uint64_t u;

	if (target <= floor_bytes)
		return 0;
	u = (target - floor_bytes + unit - 1) / unit;
	return u > cap_units ? cap_units : (uint32_t)u;
}

/* The short tier's price: RAMM_PRICE_SHORT scaled up with pressure. */
static uint32_t
short_price(const struct proc_sample *s)
{
	double psi = 0, lack = 0, avail_pct, p;

	if (s->have_psi)
		psi = s->psi_some_avg10 + s->psi_full_avg10;
	if (!(psi >= 0)) /* negative or NaN: no information */
		psi = 0;
	avail_pct = 100.0 * (double)s->mem_available_kib /
	    (double)s->mem_total_kib;
	if (avail_pct < RAMM_AVAIL_SHORT_PCT)
		lack = (RAMM_AVAIL_SHORT_PCT - avail_pct) / RAMM_AVAIL_SHORT_PCT;
	p = RAMM_PRICE_SHORT * (1.0 + psi / 10.0 + lack);
	/* Growth never outbids anyone's memory in use (also catches NaN). */
	if (!(p < RAMM_PRICE_IN_USE))
		return RAMM_PRICE_IN_USE - 1;
	return (uint32_t)p;
}

/* @s's sizes are at most BID_MAX_TOTAL_KIB (bid_model_compute()). */
static int
is_short(const struct proc_sample *s)
{
	if (s->have_psi && s->psi_some_avg10 > BID_PSI_SHORT)
		return 1;
	return s->mem_available_kib * 100 <
	    s->mem_total_kib * RAMM_AVAIL_SHORT_PCT ||
	    s->wss_rise_kib > s->mem_available_kib;
}

int
bid_model_compute(const struct proc_sample *sample, uint64_t unit_bytes,
    uint64_t floor_bytes, uint64_t cap_bytes, struct ramm_bid_step *steps,
    size_t max_steps)
{
	struct tier tiers[BID_MODEL_MAX_STEPS];
	struct proc_sample c = *sample, *s = &c;
	uint64_t total, avail, reserved, wss, rise, cap_units64;
	uint32_t cap_units, covered = 0;
	size_t nt = 0, ns = 0;

	if (unit_bytes < 4096 || (unit_bytes & (unit_bytes - 1)) != 0)
		return -EINVAL;
	if (floor_bytes > cap_bytes)
		return -EINVAL;
	if (s->mem_total_kib == 0 || s->mem_total_kib > BID_MAX_TOTAL_KIB ||
	    s->mem_reserved_kib > BID_MAX_TOTAL_KIB)
		return -EINVAL;
	if (max_steps > RAMM_MAX_BID_STEPS)
		max_steps = RAMM_MAX_BID_STEPS;
	/* From here on all of s's sizes are at most BID_MAX_TOTAL_KIB. */
	if (c.mem_available_kib > c.mem_total_kib)
		c.mem_available_kib = c.mem_total_kib;

	if (c.wss_rise_kib > BID_MAX_TOTAL_KIB)
		c.wss_rise_kib = BID_MAX_TOTAL_KIB;
	rise = c.wss_rise_kib * 1024;
	total = s->mem_total_kib * 1024;
	reserved = s->mem_reserved_kib * 1024;
	avail = s->mem_available_kib * 1024;
	wss = total - avail;
	cap_units64 = (cap_bytes - floor_bytes) / unit_bytes;
	cap_units = cap_units64 > UINT32_MAX ? UINT32_MAX :
	    (uint32_t)cap_units64;

	/*
	 * Highest price first: short_price() lies in [RAMM_PRICE_SHORT,
	 * RAMM_PRICE_IN_USE), so the order below is the price order and the
	 * prices strictly decrease.
	 */
	/* At exactly wss MemAvailable is 0 and the kernel is already below
	 * its watermarks: the margin is what keeps the OOM killer away. */
	tiers[nt++] = (struct tier){ wss + wss / 64 + 32 * MIB,
	    RAMM_PRICE_IN_USE };
	if (is_short(s)) {
		uint64_t swap = s->swap_used_kib > BID_MAX_TOTAL_KIB ?
		    BID_MAX_TOTAL_KIB * 1024 : s->swap_used_kib * 1024;
		uint64_t demand = wss + swap;
		uint64_t reach = demand + demand / 10 + 64 * MIB + rise;

		if (reach < total + total / 4)
			reach = total + total / 4;
		tiers[nt++] = (struct tier){ reach, short_price(s) };
	}
	tiers[nt++] = (struct tier){ wss + wss / 10 + 64 * MIB + rise,
	    RAMM_PRICE_NEED };
	tiers[nt++] = (struct tier){ wss + wss / 2, RAMM_PRICE_COMFORT };
	tiers[nt++] = (struct tier){ 2 * wss, RAMM_PRICE_SPARE };

	for (size_t i = 0; i < nt && ns < max_steps; i++) {
		uint32_t u = units_above(reserved + tiers[i].target,
		    floor_bytes, unit_bytes, cap_units);

		if (u <= covered)
			continue;
		steps[ns].units = u - covered;
		steps[ns].price = tiers[i].price;
		ns++;
		covered = u;
	}
	return (int)ns;
}

uint64_t
bid_rise_update(struct bid_rise *r, int64_t now_ms, uint64_t wss_kib)
{
	int64_t span = now_ms - r->at_ms;

	if (wss_kib > BID_MAX_TOTAL_KIB)
		wss_kib = BID_MAX_TOTAL_KIB;
	if (!r->at_ms || span < 0) {
		r->at_ms = now_ms;
		r->wss_kib = wss_kib;
		return r->kib_s * RAMM_RISE_LEAD_MS / 1000;
	}
	if (span >= RAMM_RISE_MIN_MS) {
		uint64_t up = wss_kib > r->wss_kib ?
		    (wss_kib - r->wss_kib) * 1000 / (uint64_t)span : 0;

		r->kib_s = up > r->kib_s / 2 ? up : r->kib_s / 2;
		if (r->kib_s < RAMM_RISE_MIN_KIB_S)
			r->kib_s = 0;
		r->at_ms = now_ms;
		r->wss_kib = wss_kib;
	} else if (wss_kib < r->wss_kib) {
		r->at_ms = now_ms;
		r->wss_kib = wss_kib;
	}
	return r->kib_s * RAMM_RISE_LEAD_MS / 1000;
}
