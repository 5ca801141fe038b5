/* SPDX-License-Identifier: MIT */
/*
 * bid_model: the /proc fallback bid curve (docs/BID-MODEL.md).
 *
 * A pure function: no I/O, no globals, no clock. The agent calls it on each
 * report when the in-kernel driver is absent.
 */
#ifndef RAMM_BID_MODEL_H
#define RAMM_BID_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "ramm/bid_tiers.h"
#include "ramm/proto.h"

struct proc_sample;

/* Most steps bid_model_compute() ever produces (one per tier). */
#define BID_MODEL_MAX_STEPS 5

/* Tier prices are RAMM_PRICE_* in ramm/bid_tiers.h, shared with the kernel. */

/* The guest is short when PSI "some" avg10 exceeds this (percent)... */
#define BID_PSI_SHORT 0.5
/* ...or MemAvailable is below RAMM_AVAIL_SHORT_PCT of MemTotal. */

/*
 * bid_model_compute - the bid curve for one sample.
 * @sample: only the mem_*, swap_used_kib, wss_rise_kib, psi_* and have_psi
 *          members are read; wss_rise_kib raises the need tier. Targets
 *          are raised by mem_reserved_kib to compare with the floor and
 *          cap, which count physical memory.
 * @unit_bytes: the market unit from welcome; a power of two >= 4096.
 * @floor_bytes, @cap_bytes: the guest's floor and cap (total memory, bytes);
 *                           floor <= cap.
 * @steps: caller-owned array of @max_steps entries, written with the curve.
 * @max_steps: capacity of @steps; if it is below the number of steps the
 *             model makes, the cheapest steps are left off. Values above
 *             RAMM_MAX_BID_STEPS are treated as RAMM_MAX_BID_STEPS.
 *
 * The curve counts units above the floor, has strictly decreasing prices in
 * 1..RAMM_MAX_PRICE, no empty step, and its units sum to at most
 * (cap - floor) / unit (and UINT32_MAX).
 *
 * Returns the number of steps written (0 when the guest wants nothing above
 * its floor), or -EINVAL if an argument is out of range (unit not a power of
 * two >= 4096, floor > cap, MemTotal 0, MemTotal or reserved memory above
 * 2^40 KiB); then nothing is written. O(1).
 */
int bid_model_compute(const struct proc_sample *sample, uint64_t unit_bytes,
    uint64_t floor_bytes, uint64_t cap_bytes, struct ramm_bid_step *steps,
    size_t max_steps);

/* How fast a guest's working set rose lately; caller-owned, zeroed. */
struct bid_rise {
	int64_t at_ms;    /* when @wss_kib was taken; 0: no sample yet */
	uint64_t wss_kib; /* MemTotal - MemAvailable then */
	uint64_t kib_s;   /* the recent rise, KiB per second */
};

/*
 * bid_rise_update - take the working set @wss_kib seen at @now_ms into @r
 * and return the growth to bid for: the recent rise times
 * RAMM_RISE_LEAD_MS, in KiB (@wss_kib is taken as at most 2^40 KiB, so the
 * result stays below 2^43). A rise is measured over spans of at least
 * RAMM_RISE_MIN_MS (later samples are folded into the next span, but a
 * fall starts it again there, so that a workload that exits and starts
 * again at once rises from where it fell); the
 * figure is the faster of the span's rise and half the previous one (none
 * below RAMM_RISE_MIN_KIB_S), so a
 * burst's projection fades within seconds and a falling or steady working
 * set projects nothing. A clock that goes back restarts the span. Cannot
 * fail. O(1).
 */
uint64_t bid_rise_update(struct bid_rise *r, int64_t now_ms, uint64_t wss_kib);

#endif /* RAMM_BID_MODEL_H */
