/* SPDX-License-Identifier: MIT */
/* Unit tests for guest-agent/bid_model.c, the /proc fallback bid curve. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../guest-agent/bid_model.h"
#include "proc_sample.h"

#define MIB (1024ull * 1024ull)
#define UNIT (2 * MIB)

static struct proc_sample
sample(uint64_t total_mib, uint64_t avail_mib, double psi_some)
{
	struct proc_sample s;

	memset(&s, 0, sizeof(s));
	s.mem_total_kib = total_mib * 1024;
	s.mem_available_kib = avail_mib * 1024;
	s.mem_free_kib = avail_mib * 1024 / 2;
	s.psi_some_avg10 = psi_some;
	s.psi_full_avg10 = psi_some / 4;
	s.have_psi = 1;
	return s;
}

/*
 * Check the invariants of any curve: within the step limit, no empty step,
 * prices strictly decreasing in 1..RAMM_MAX_PRICE, units within the cap.
 * Returns the total units.
 */
static uint64_t
check_curve(const struct ramm_bid_step *st, int n, uint64_t floor_b,
    uint64_t cap_b, uint64_t unit)
{
	uint64_t sum = 0, cap_units = (cap_b - floor_b) / unit;

	assert_true(n >= 0);
	assert_true(n <= RAMM_MAX_BID_STEPS);
	assert_true(n <= BID_MODEL_MAX_STEPS);
	for (int i = 0; i < n; i++) {
		assert_true(st[i].units >= 1);
		assert_true(st[i].price >= 1);
		assert_true(st[i].price <= RAMM_MAX_PRICE);
		if (i > 0)
			assert_true(st[i].price < st[i - 1].price);
		sum += st[i].units;
	}
	assert_true(sum <= cap_units);
	assert_true(sum <= UINT32_MAX);
	return sum;
}

static uint64_t
total_units(const struct ramm_bid_step *st, int n)
{
	uint64_t sum = 0;

	for (int i = 0; i < n; i++)
		sum += st[i].units;
	return sum;
}

/* A guest idling at its floor asks for nothing: the floor is free. */
static void
test_idle_at_floor(void **state)
{
	struct proc_sample s = sample(490, 440, 0.0);
	struct ramm_bid_step st[RAMM_MAX_BID_STEPS];
	int n;

	(void)state;
	n = bid_model_compute(&s, UNIT, 512 * MIB, 4096 * MIB, st,
	    RAMM_MAX_BID_STEPS);
	assert_int_equal(n, 0);
}

/* A busy, calm guest: its memory in use, then the three ACMA tiers. */
static void
test_busy_guest_tiers(void **state)
{
	/* wss = 800 MiB: in use 844.5, need 944, comfort 1200, spare 1600 MiB. */
	struct proc_sample s = sample(1000, 200, 0.0);
	struct ramm_bid_step st[RAMM_MAX_BID_STEPS];
	int n;

	(void)state;
	n = bid_model_compute(&s, UNIT, 512 * MIB, 4096 * MIB, st,
	    RAMM_MAX_BID_STEPS);
	check_curve(st, n, 512 * MIB, 4096 * MIB, UNIT);
	assert_int_equal(n, 4);
	assert_int_equal(st[0].units, 167); /* 332.5 MiB, rounded up */
	assert_int_equal(st[0].price, RAMM_PRICE_IN_USE);
	assert_int_equal(st[1].units, (944 - 512) / 2 - 167);
	assert_int_equal(st[1].price, RAMM_PRICE_NEED);
	assert_int_equal(st[2].units, (1200 - 944) / 2);
	assert_int_equal(st[2].price, RAMM_PRICE_COMFORT);
	assert_int_equal(st[3].units, (1600 - 1200) / 2);
	assert_int_equal(st[3].price, RAMM_PRICE_SPARE);
}

/* A rising working set raises the need tier by the projected growth, and
 * only that tier: the same guest as above, rising 50 MiB/s. */
static void
test_rise_raises_need(void **state)
{
	struct proc_sample s = sample(1000, 200, 0.0);
	struct ramm_bid_step st[RAMM_MAX_BID_STEPS];
	int n;

	(void)state;
	s.wss_rise_kib = 100 * 1024; /* 50 MiB/s over RAMM_RISE_LEAD_MS */
	n = bid_model_compute(&s, UNIT, 512 * MIB, 4096 * MIB, st,
	    RAMM_MAX_BID_STEPS);
	check_curve(st, n, 512 * MIB, 4096 * MIB, UNIT);
	assert_int_equal(n, 4);
	assert_int_equal(st[0].units, 167);
	assert_int_equal(st[1].units, (1044 - 512) / 2 - 167);
	assert_int_equal(st[1].price, RAMM_PRICE_NEED);
	assert_int_equal(st[2].units, (1200 - 1044) / 2);
	/* A projection past everything else runs the guest out: it bids
	 * the short price, never the price of memory in use. */
	s.wss_rise_kib = UINT64_MAX;
	n = bid_model_compute(&s, UNIT, 512 * MIB, 4096 * MIB, st,
	    RAMM_MAX_BID_STEPS);
	check_curve(st, n, 512 * MIB, 4096 * MIB, UNIT);
	assert_int_equal(n, 2);
	assert_int_equal(st[1].price, RAMM_PRICE_SHORT);
	assert_int_equal(st[0].units + st[1].units, (4096 - 512) / 2);
}

/* Running out: a rise that fills what is available within
 * RAMM_RISE_LEAD_MS makes the guest short with 20 % available, and its
 * short tier reaches past the rise; a slower one does not. */
static void
test_rise_running_out_is_short(void **state)
{
	struct proc_sample s = sample(1000, 200, 0.0);
	struct ramm_bid_step st[RAMM_MAX_BID_STEPS];
	int n;

	(void)state;
	s.wss_rise_kib = 150 * 1024;
	n = bid_model_compute(&s, UNIT, 512 * MIB, 4096 * MIB, st,
	    RAMM_MAX_BID_STEPS);
	check_curve(st, n, 512 * MIB, 4096 * MIB, UNIT);
	assert_int_equal(n, 4);
	assert_int_equal(st[1].price, RAMM_PRICE_NEED);

	s.wss_rise_kib = 250 * 1024; /* 125 MiB/s: 200 MiB gone in 1.6 s */
	n = bid_model_compute(&s, UNIT, 512 * MIB, 4096 * MIB, st,
	    RAMM_MAX_BID_STEPS);
	check_curve(st, n, 512 * MIB, 4096 * MIB, UNIT);
	assert_int_equal(n, 3);
	assert_int_equal(st[0].units, 167);
	assert_int_equal(st[1].price, RAMM_PRICE_SHORT);
	/* max(1000 * 1.25, 800 * 1.1 + 64 + 250 = 1194) */
	assert_int_equal(st[1].units, (1250 - 512) / 2 - 167);
	assert_int_equal(st[2].price, RAMM_PRICE_SPARE);

	/* A rise past a quarter more than MemTotal: the short tier reaches
	 * where the rise goes. */
	s.wss_rise_kib = 500 * 1024;
	n = bid_model_compute(&s, UNIT, 512 * MIB, 4096 * MIB, st,
	    RAMM_MAX_BID_STEPS);
	check_curve(st, n, 512 * MIB, 4096 * MIB, UNIT);
	assert_int_equal(st[1].price, RAMM_PRICE_SHORT);
	assert_int_equal(st[0].units + st[1].units, (1444 - 512) / 2);
}

/* The rise: measured over spans of RAMM_RISE_MIN_MS or more, fading by
 * half per span once the working set stops growing; a fall starts a
 * short span again. */
static void
test_rise_update(void **state)
{
	struct bid_rise r = { 0 };

	(void)state;
	assert_int_equal(bid_rise_update(&r, 1000, 100 * 1024), 0);
	/* 10 ms later (an urgent report): too short a span to judge. */
	assert_int_equal(bid_rise_update(&r, 1010, 120 * 1024), 0);
	/* 80 MiB in 1 s from the span's start: 160 MiB over 2 s. */
	assert_int_equal(bid_rise_update(&r, 2000, 180 * 1024), 160 * 1024);
	/* Steady, then falling: half, then a quarter. */
	assert_int_equal(bid_rise_update(&r, 3000, 180 * 1024), 80 * 1024);
	assert_int_equal(bid_rise_update(&r, 4000, 50 * 1024), 40 * 1024);
	/* A rise no faster than half the figure: the figure halves. */
	assert_int_equal(bid_rise_update(&r, 5000, 60 * 1024), 20 * 1024);
	/* A clock that went back restarts the span, figure kept. */
	assert_int_equal(bid_rise_update(&r, 100, 60 * 1024), 20 * 1024);
	assert_int_equal(bid_rise_update(&r, 600, 60 * 1024), 10 * 1024);
	/* Below 1 MiB/s the figure is none: 5, 2.5, 1.25 MiB/s, then 0. */
	assert_int_equal(bid_rise_update(&r, 1100, 60 * 1024), 5 * 1024);
	assert_int_equal(bid_rise_update(&r, 1600, 60 * 1024), 5 * 1024 / 2);
	assert_int_equal(bid_rise_update(&r, 2100, 60 * 1024), 0);
	/* Nonsense sizes stay in range. */
	assert_true(bid_rise_update(&r, 1600, UINT64_MAX) < (1ull << 43));
	/* A workload exits and another starts: the fall, 200 ms into a
	 * span, starts it again, and the new rise is seen from there: 22 MiB
	 * in 0.5 s, 88 MiB over 2 s. */
	r = (struct bid_rise){ 0 };
	assert_int_equal(bid_rise_update(&r, 1000, 334 * 1024), 0);
	assert_int_equal(bid_rise_update(&r, 1200, 182 * 1024), 0);
	assert_int_equal(bid_rise_update(&r, 1700, 204 * 1024), 88 * 1024);
}

/* Targets round up to whole units. */
static void
test_rounds_up(void **state)
{
	/* wss = 101 MiB: spare target 202 MiB = 101 units of 2 MiB... */
	struct proc_sample s = sample(1000, 899, 0.0);
	struct ramm_bid_step st[RAMM_MAX_BID_STEPS];
	int n;

	(void)state;
	/* ...with a floor of 1 MiB, 201 MiB above it: 100.5 -> 101 units. */
	n = bid_model_compute(&s, UNIT, 1 * MIB, 4096 * MIB, st,
	    RAMM_MAX_BID_STEPS);
	check_curve(st, n, 1 * MIB, 4096 * MIB, UNIT);
	assert_int_equal(total_units(st, n), 101);
}

/*
 * Pressure adds a tier dearer than any growth, and more pressure makes it
 * dearer, yet never as dear as memory in use.
 */
static void
test_grows_under_pressure(void **state)
{
	struct proc_sample calm = sample(1000, 200, 0.0);
	struct proc_sample tense = sample(1000, 200, 2.0);
	struct proc_sample worse = sample(1000, 200, 40.0);
	struct ramm_bid_step a[RAMM_MAX_BID_STEPS], b[RAMM_MAX_BID_STEPS];
	struct ramm_bid_step c[RAMM_MAX_BID_STEPS];
	int na, nb, nc;

	(void)state;
	na = bid_model_compute(&calm, UNIT, 512 * MIB, 4096 * MIB, a, 64);
	nb = bid_model_compute(&tense, UNIT, 512 * MIB, 4096 * MIB, b, 64);
	nc = bid_model_compute(&worse, UNIT, 512 * MIB, 4096 * MIB, c, 64);
	check_curve(a, na, 512 * MIB, 4096 * MIB, UNIT);
	check_curve(b, nb, 512 * MIB, 4096 * MIB, UNIT);
	check_curve(c, nc, 512 * MIB, 4096 * MIB, UNIT);
	assert_true(na == 4 && nb >= 2 && nc >= 2);
	/* The same memory in use either way, at the same price. */
	assert_int_equal(b[0].price, RAMM_PRICE_IN_USE);
	assert_int_equal(b[0].units, a[0].units);
	assert_true(b[1].price >= RAMM_PRICE_SHORT);
	assert_true(b[1].price > a[1].price);
	assert_true(c[1].price > b[1].price);
	assert_true(c[1].price < RAMM_PRICE_IN_USE);
	/* Short tier reaches MemTotal * 1.25 = 1250 MiB from in use. */
	assert_int_equal(b[1].units, (1250 - 512) / 2 - 167);
	assert_true(total_units(b, nb) >= total_units(a, na));
}

/*
 * Swap in use is demand the guest could not keep in RAM: under pressure the
 * short tier asks for all of it, (wss + swap) * 1.1 + 64 MiB, at once.
 */
static void
test_short_tier_asks_for_swapped_demand(void **state)
{
	struct proc_sample s = sample(1000, 200, 2.0);
	struct proc_sample calm = sample(1000, 200, 0.0);
	struct ramm_bid_step st[RAMM_MAX_BID_STEPS];
	int n;

	(void)state;
	s.swap_used_kib = 1000 * 1024;
	n = bid_model_compute(&s, UNIT, 512 * MIB, 4096 * MIB, st, 64);
	check_curve(st, n, 512 * MIB, 4096 * MIB, UNIT);
	/* (800 + 1000) * 1.1 + 64 = 2044 MiB. */
	assert_true(st[1].price >= RAMM_PRICE_SHORT);
	assert_int_equal(st[0].units + st[1].units, (2044 - 512) / 2);
	/* Stale swap with no pressure asks for nothing more. */
	calm.swap_used_kib = 1000 * 1024;
	n = bid_model_compute(&calm, UNIT, 512 * MIB, 4096 * MIB, st, 64);
	assert_int_equal(total_units(st, n), (1600 - 512) / 2);
}

/* PSI below the threshold is not pressure. */
static void
test_small_psi_is_calm(void **state)
{
	struct proc_sample s = sample(1000, 200, 0.4);
	struct ramm_bid_step st[RAMM_MAX_BID_STEPS];
	int n;

	(void)state;
	n = bid_model_compute(&s, UNIT, 512 * MIB, 4096 * MIB, st, 64);
	assert_int_equal(n, 4);
	assert_int_equal(st[0].price, RAMM_PRICE_IN_USE);
	assert_int_equal(st[1].price, RAMM_PRICE_NEED);
}

/* A guest whose memory is full keeps asking for more than it has. */
static void
test_full_guest_keeps_asking(void **state)
{
	/* At its floor, 2 % available, no PSI on this kernel. */
	struct proc_sample s = sample(500, 10, 0.0);
	struct ramm_bid_step st[RAMM_MAX_BID_STEPS];
	uint64_t sum;
	int n;

	(void)state;
	s.have_psi = 0;
	n = bid_model_compute(&s, UNIT, 512 * MIB, 4096 * MIB, st, 64);
	sum = check_curve(st, n, 512 * MIB, 4096 * MIB, UNIT);
	assert_true(n >= 1);
	assert_true(n >= 2);
	assert_int_equal(st[0].price, RAMM_PRICE_IN_USE);
	assert_true(st[1].price > RAMM_PRICE_SHORT); /* scaled by the lack */
	assert_true(512 * MIB + sum * UNIT > 500 * MIB);
	assert_true((st[0].units + st[1].units) * UNIT + 512 * MIB >= 625 * MIB);
}

/*
 * The lab guest that exposed the need for mem_reserved_kib: 512 MiB
 * physical, MemTotal 397 MiB, 113 MiB reserved at boot, filled to 27 MiB
 * available. Without the reserve its short tier (397 * 1.25 = 496 MiB)
 * ends below the 512 MiB floor and the full guest asks for nothing dear.
 */
static void
test_reserved_lifts_targets(void **state)
{
	struct proc_sample s = sample(397, 27, 0.0);
	struct ramm_bid_step st[RAMM_MAX_BID_STEPS];
	int n;

	(void)state;
	s.have_psi = 0;
	n = bid_model_compute(&s, UNIT, 512 * MIB, 1280 * MIB, st, 64);
	check_curve(st, n, 512 * MIB, 1280 * MIB, UNIT);
	assert_true(n == 0 || st[0].price < RAMM_PRICE_SHORT);

	s.mem_reserved_kib = 113 * 1024;
	n = bid_model_compute(&s, UNIT, 512 * MIB, 1280 * MIB, st, 64);
	check_curve(st, n, 512 * MIB, 1280 * MIB, UNIT);
	assert_true(n >= 2);
	assert_int_equal(st[0].price, RAMM_PRICE_IN_USE);
	assert_true(st[1].price > RAMM_PRICE_SHORT);
	/* 397 * 1.25 + 113 = 609.25 MiB: 49 units above the floor. */
	assert_int_equal(st[0].units + st[1].units, 49);

	/* Idle at the floor, the reserve does not make it ask. */
	s = sample(397, 373, 0.0);
	s.mem_reserved_kib = 113 * 1024;
	n = bid_model_compute(&s, UNIT, 512 * MIB, 1280 * MIB, st, 64);
	assert_int_equal(n, 0);

	s.mem_reserved_kib = UINT64_MAX;
	assert_int_equal(bid_model_compute(&s, UNIT, 0, MIB, st, 64), -EINVAL);

	/* A wild MemAvailable is clamped, not multiplied into nonsense. */
	s = sample(1000, 0, 0.0);
	s.mem_available_kib = UINT64_MAX;
	n = bid_model_compute(&s, UNIT, 0, 4096 * MIB, st, 64);
	check_curve(st, n, 0, 4096 * MIB, UNIT);
	assert_int_equal(n, 2); /* wss 0: the 32 MiB margin, then 64 MiB */
	assert_int_equal(st[0].units, 16);
	assert_int_equal(st[0].units + st[1].units, 32);
}

/* Less available memory means a dearer short tier. */
static void
test_short_price_grows_with_lack(void **state)
{
	struct proc_sample a = sample(1000, 70, 0.0), b = sample(1000, 10, 0.0);
	struct ramm_bid_step sa[RAMM_MAX_BID_STEPS], sb[RAMM_MAX_BID_STEPS];

	(void)state;
	a.have_psi = b.have_psi = 0;
	/* Step 0 is the memory in use; step 1 the short tier. */
	assert_true(bid_model_compute(&a, UNIT, 0, 4096 * MIB, sa, 64) > 1);
	assert_true(bid_model_compute(&b, UNIT, 0, 4096 * MIB, sb, 64) > 1);
	assert_true(sb[1].price > sa[1].price);
	assert_true(sb[1].price < RAMM_PRICE_IN_USE);
}

/* Extreme pressure never names a price above RAMM_MAX_PRICE. */
static void
test_price_bounded(void **state)
{
	struct proc_sample s = sample(1000, 0, 100.0);
	struct ramm_bid_step st[RAMM_MAX_BID_STEPS];
	int n;

	(void)state;
	s.psi_full_avg10 = 100.0;
	n = bid_model_compute(&s, UNIT, 0, 4096 * MIB, st, 64);
	check_curve(st, n, 0, 4096 * MIB, UNIT);
	assert_true(n >= 1);
	assert_true(st[0].price <= RAMM_MAX_PRICE);
}

/* The curve is clipped to (cap - floor) / unit. */
static void
test_clipped_to_cap(void **state)
{
	struct proc_sample s = sample(1000, 100, 10.0);
	struct ramm_bid_step st[RAMM_MAX_BID_STEPS];
	int n;

	(void)state;
	/* 100 units and a bit of room: the bit does not count. */
	n = bid_model_compute(&s, UNIT, 512 * MIB, 712 * MIB + 4096, st, 64);
	assert_int_equal(check_curve(st, n, 512 * MIB, 712 * MIB + 4096, UNIT),
	    100);
	assert_int_equal(n, 1); /* the dearest tier takes all of it */

	n = bid_model_compute(&s, UNIT, 512 * MIB, 512 * MIB, st, 64);
	assert_int_equal(n, 0);
}

/* A small output array keeps the dearest steps. */
static void
test_max_steps(void **state)
{
	struct proc_sample s = sample(1000, 200, 5.0);
	struct ramm_bid_step st[RAMM_MAX_BID_STEPS];
	int n;

	(void)state;
	n = bid_model_compute(&s, UNIT, 512 * MIB, 4096 * MIB, st, 1);
	assert_int_equal(n, 1);
	assert_true(st[0].price >= RAMM_PRICE_SHORT);
	n = bid_model_compute(&s, UNIT, 512 * MIB, 4096 * MIB, st, 0);
	assert_int_equal(n, 0);
}

static void
test_bad_arguments(void **state)
{
	struct proc_sample s = sample(1000, 200, 0.0), z = sample(0, 0, 0.0);
	struct proc_sample huge = sample(0, 0, 0.0);
	struct ramm_bid_step st[RAMM_MAX_BID_STEPS];

	(void)state;
	huge.mem_total_kib = UINT64_MAX;
	assert_int_equal(bid_model_compute(&s, 0, 0, MIB, st, 64), -EINVAL);
	assert_int_equal(bid_model_compute(&s, 2048, 0, MIB, st, 64), -EINVAL);
	assert_int_equal(bid_model_compute(&s, 3 * MIB, 0, 9 * MIB, st, 64),
	    -EINVAL);
	assert_int_equal(bid_model_compute(&s, UNIT, 2 * MIB, MIB, st, 64),
	    -EINVAL);
	assert_int_equal(bid_model_compute(&z, UNIT, 0, MIB, st, 64), -EINVAL);
	assert_int_equal(bid_model_compute(&huge, UNIT, 0, MIB, st, 64),
	    -EINVAL);
}

/* Odd inputs: avail above total, NaN and negative PSI, a 1 GiB unit. */
static void
test_odd_inputs(void **state)
{
	struct proc_sample s = sample(1000, 2000, 0.0);
	struct ramm_bid_step st[RAMM_MAX_BID_STEPS];
	int n;

	(void)state;
	n = bid_model_compute(&s, UNIT, 0, 4096 * MIB, st, 64);
	check_curve(st, n, 0, 4096 * MIB, UNIT);
	assert_int_equal(n, 2); /* wss 0: the 32 MiB margin, then 64 MiB */
	assert_int_equal(st[0].units, 16);
	assert_int_equal(st[0].units + st[1].units, 32);

	s = sample(1000, 200, 0.0);
	s.psi_some_avg10 = __builtin_nan("");
	n = bid_model_compute(&s, UNIT, 0, 4096 * MIB, st, 64);
	check_curve(st, n, 0, 4096 * MIB, UNIT);
	s.psi_some_avg10 = 1.0;
	s.psi_full_avg10 = -50.0;
	n = bid_model_compute(&s, UNIT, 0, 4096 * MIB, st, 64);
	check_curve(st, n, 0, 4096 * MIB, UNIT);
	assert_true(st[0].price >= RAMM_PRICE_SHORT);

	n = bid_model_compute(&s, 1024 * MIB, 0, 4096 * MIB, st, 64);
	check_curve(st, n, 0, 4096 * MIB, 1024 * MIB);
	assert_true(n >= 1);
}

/* Huge caps clip to UINT32_MAX units. */
static void
test_huge_cap(void **state)
{
	struct proc_sample s = sample(0, 0, 50.0);
	struct ramm_bid_step st[RAMM_MAX_BID_STEPS];
	int n;

	(void)state;
	s.mem_total_kib = 1ull << 40; /* 1 PiB, the model's limit */
	s.mem_available_kib = 0;
	n = bid_model_compute(&s, 4096, 0, UINT64_MAX, st, 64);
	assert_true(n >= 1);
	assert_true(total_units(st, n) <= UINT32_MAX);
	for (int i = 1; i < n; i++)
		assert_true(st[i].price < st[i - 1].price);
}

/* More working set never asks for less. */
static void
test_monotone_in_wss(void **state)
{
	struct ramm_bid_step st[RAMM_MAX_BID_STEPS];
	uint64_t prev = 0;

	(void)state;
	for (int avail = 1000; avail >= 0; avail -= 10) {
		struct proc_sample s = sample(1000, (uint64_t)avail, 0.0);
		int n = bid_model_compute(&s, UNIT, 256 * MIB, 8192 * MIB, st,
		    64);
		uint64_t sum = check_curve(st, n, 256 * MIB, 8192 * MIB, UNIT);

		assert_true(sum >= prev);
		prev = sum;
	}
}

/* Random samples: every curve keeps the invariants. */
static void
test_random_invariants(void **state)
{
	struct ramm_bid_step st[RAMM_MAX_BID_STEPS];

	(void)state;
	srand(12345);
	for (int i = 0; i < 100000; i++) {
		struct proc_sample s;
		uint64_t unit = 4096ull << (rand() % 19);
		uint64_t floor_b = (uint64_t)(rand() % 8192) * MIB;
		uint64_t cap_b = floor_b + (uint64_t)(rand() % 65536) * MIB;
		int n;

		memset(&s, 0, sizeof(s));
		s.mem_total_kib = 1 + (uint64_t)(rand() % (16 << 20));
		s.mem_available_kib = (uint64_t)rand() % (s.mem_total_kib + 1);
		s.have_psi = rand() % 2;
		s.psi_some_avg10 = (rand() % 10001) / 100.0;
		s.psi_full_avg10 = s.psi_some_avg10 / 2;
		s.mem_reserved_kib = (uint64_t)(rand() % (1 << 20));
		n = bid_model_compute(&s, unit, floor_b, cap_b, st,
		    (size_t)(rand() % 70));
		check_curve(st, n, floor_b, cap_b, unit);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_at_floor),
		cmocka_unit_test(test_busy_guest_tiers),
		cmocka_unit_test(test_rise_raises_need),
		cmocka_unit_test(test_rise_running_out_is_short),
		cmocka_unit_test(test_rise_update),
		cmocka_unit_test(test_rounds_up),
		cmocka_unit_test(test_grows_under_pressure),
		cmocka_unit_test(test_short_tier_asks_for_swapped_demand),
		cmocka_unit_test(test_small_psi_is_calm),
		cmocka_unit_test(test_full_guest_keeps_asking),
		cmocka_unit_test(test_reserved_lifts_targets),
		cmocka_unit_test(test_short_price_grows_with_lack),
		cmocka_unit_test(test_price_bounded),
		cmocka_unit_test(test_clipped_to_cap),
		cmocka_unit_test(test_max_steps),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_odd_inputs),
		cmocka_unit_test(test_huge_cap),
		cmocka_unit_test(test_monotone_in_wss),
		cmocka_unit_test(test_random_invariants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
