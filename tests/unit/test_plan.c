/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the tick planner (broker/market/plan.c): one test per rule
 * of plan.h, each on a small snapshot built by hand, asserting what the rule
 * decides and, where it helps, what the same snapshot decides without it.
 *
 * Every guest boots with 1 GiB, has its floor there and its cap 64 GiB
 * above it, and holds whole units of its own above the floor. Bids stay
 * below claim_price (8000) and guests report no memory available, so the
 * credit score stays at 1.0 and effective bids are the raw ones.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "plan.h"
#include "ramm/bid_tiers.h"

#define MIB (1024ULL * 1024ULL)
#define GIB (1024ULL * MIB)
#define PAGE_4K 4096ULL
#define PAGE_2M (2 * MIB)
#define PAGE_1G GIB
#define BOOT (1 * GIB)
#define CAP (BOOT + 64 * GIB)
#define NOW_US (1000LL * 1000 * 1000) /* 1000 s into the host's uptime */
#define MAX_GUESTS 24

/* One planner call: its input and caller-owned output. */
struct fixture {
	struct rammd_config cfg;
	struct plan_input in;
	struct plan_guest g[MAX_GUESTS];
	struct plan_action actions[MAX_GUESTS];
	struct plan_guest_result results[MAX_GUESTS];
	struct plan_result out;
};

/* Defaults, an explicit supply of @supply_mib, a 4 KiB-page host whose
 * meminfo and hugetlb pools were not read. */
static struct fixture *fixture_new(uint64_t supply_mib)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	config_defaults(&f->cfg);
	f->cfg.supply_mib = supply_mib;
	/* Each rule is tested on one tick; the dip's own tests set it. */
	f->cfg.shrink_delay_ms = 0;
	f->in.cfg = &f->cfg;
	f->in.now_us = NOW_US;
	f->in.host.base_page_bytes = PAGE_4K;
	f->in.guests = f->g;
	return f;
}

/* A guest on pages of @page with unit @unit, holding @held units above its
 * floor, with a fresh report in its unit that bids for nothing yet. */
static struct plan_guest *add_guest(struct fixture *f, uint64_t page,
				    uint64_t unit, uint32_t held)
{
	struct plan_guest *g;

	assert_true(f->in.n_guests < MAX_GUESTS);
	g = &f->g[f->in.n_guests++];
	*g = (struct plan_guest){
		.in_market = 1,
		.device_ready = 1,
		.weight = 100,
		.unit_bytes = unit,
		.floor_bytes = BOOT,
		.cap_bytes = CAP,
		.boot_bytes = BOOT,
		.size_bytes = held * unit,
		.requested_bytes = held * unit,
		.page_bytes = page,
		.have_report = 1,
		.report_us = NOW_US,
		.report_unit_bytes = unit,
	};
	return g;
}

/* An ordinary-memory guest in 2 MiB units. */
static struct plan_guest *add_ordinary(struct fixture *f, uint32_t held)
{
	return add_guest(f, PAGE_4K, 2 * MIB, held);
}

/* Append a step of @units at @price to @g's bid. */
static void bid(struct plan_guest *g, uint32_t units, uint32_t price)
{
	assert_true(g->n_bid < RAMM_MAX_BID_STEPS);
	g->bid[g->n_bid++] = (struct ramm_bid_step){ units, price };
}

/* @g's histogram shows @units of its own unit free (2 MiB units). */
static void offer(struct plan_guest *g, uint64_t units)
{
	g->have_hist = 1;
	g->hist_vmem[0] = units;
}

/* Add a hugetlb pool of @page pages, @total in all, none reserved. */
static struct hugepool_size *add_hugepool(struct fixture *f, uint64_t page,
					  uint64_t total)
{
	struct hugepool_host *h = &f->in.host.hugepools;
	struct hugepool_size *s;

	assert_true(h->n_sizes < HUGEPOOL_MAX_SIZES);
	f->in.host.hugepools_ok = 1;
	s = &h->sizes[h->n_sizes++];
	*s = (struct hugepool_size){ .page_bytes = page, .total_pages = total };
	return s;
}

/* @pages free on node @node of @s. */
static void set_node_free(struct fixture *f, struct hugepool_size *s,
			  unsigned int node, uint64_t pages)
{
	s->free_pages += pages - s->node_free[node];
	s->node_free[node] = pages;
	f->in.host.hugepools.nodes |= 1ULL << node;
}

static void run(struct fixture *f)
{
	memset(f->actions, 0xa5, sizeof(f->actions));
	memset(f->results, 0xa5, sizeof(f->results));
	memset(&f->out, 0, sizeof(f->out));
	f->out.actions = f->actions;
	f->out.guests = f->results;
	assert_int_equal(plan_tick(&f->in, &f->out), 0);
	assert_true(f->out.n_actions <= f->in.n_guests);
	/* At most one resize per guest per tick. */
	for (size_t i = 0; i < f->out.n_actions; i++)
		for (size_t j = i + 1; j < f->out.n_actions; j++)
			assert_true(f->actions[i].guest != f->actions[j].guest);
}

/* The action planned for guest @i, or NULL. */
static const struct plan_action *action_for(const struct fixture *f, size_t i)
{
	for (size_t a = 0; a < f->out.n_actions; a++)
		if (f->actions[a].guest == i)
			return &f->actions[a];
	return NULL;
}

/* Guest @i is to hold @to units: the action exists, says so, and asks
 * for the floor plus them. */
static const struct plan_action *expect_resize(const struct fixture *f,
					       size_t i, uint32_t from,
					       uint32_t to, enum plan_why why)
{
	const struct plan_action *a = action_for(f, i);

	assert_non_null(a);
	assert_int_equal(a->from_units, from);
	assert_int_equal(a->to_units, to);
	assert_int_equal(a->why, why);
	assert_int_equal(a->total_bytes,
			 f->g[i].floor_bytes + (uint64_t)to * f->g[i].unit_bytes);
	return a;
}

static void expect_no_action(const struct fixture *f, size_t i)
{
	assert_null(action_for(f, i));
}

/* ---- pools ---- */

/* Ordinary memory, 2 MiB and 1 GiB hugetlb pages clear apart: each pool
 * has its unit, its supply (the free pages for hugetlb) and its price. */
static void test_pools_separate_units_and_prices(void **state)
{
	struct fixture *f = fixture_new(1024); /* 512 ordinary units */
	struct hugepool_size *s2m, *s1g;

	(void)state;
	s2m = add_hugepool(f, PAGE_2M, 64);
	set_node_free(f, s2m, 0, 10);
	s1g = add_hugepool(f, PAGE_1G, 4);
	set_node_free(f, s1g, 0, 2);
	bid(add_ordinary(f, 0), 100, 1000);
	bid(add_guest(f, PAGE_2M, 2 * MIB, 0), 100, 2000);
	bid(add_guest(f, PAGE_1G, GIB, 0), 10, 3000);
	run(f);

	assert_int_equal(f->out.n_pools, 3);
	assert_int_equal(f->results[0].pool, 0);
	assert_int_equal(f->results[1].pool, 1);
	assert_int_equal(f->results[2].pool, 2);

	assert_string_equal(f->out.pools[0].name, "ordinary");
	assert_int_equal(f->out.pools[0].page_bytes, 0);
	assert_int_equal(f->out.pools[0].unit_bytes, 2 * MIB);
	assert_int_equal(f->out.pools[0].n_guests, 1);
	assert_int_equal(f->out.pools[0].supply_bytes, 1024 * MIB);
	assert_int_equal(f->out.pools[0].price, 0); /* 100 of 512 bid for */

	assert_string_equal(f->out.pools[1].name, "hugetlb-2048k");
	assert_int_equal(f->out.pools[1].page_bytes, PAGE_2M);
	assert_int_equal(f->out.pools[1].unit_bytes, 2 * MIB);
	assert_int_equal(f->out.pools[1].n_guests, 1);
	assert_int_equal(f->out.pools[1].free_bytes, 10 * PAGE_2M);
	assert_int_equal(f->out.pools[1].supply_bytes, 10 * PAGE_2M);
	assert_int_equal(f->out.pools[1].price, 2000);

	assert_string_equal(f->out.pools[2].name, "hugetlb-1048576k");
	assert_int_equal(f->out.pools[2].page_bytes, PAGE_1G);
	assert_int_equal(f->out.pools[2].unit_bytes, GIB);
	assert_int_equal(f->out.pools[2].free_bytes, 2 * GIB);
	assert_int_equal(f->out.pools[2].price, 3000);

	for (size_t i = 0; i < 3; i++)
		assert_int_equal(f->results[i].price,
				 f->out.pools[f->results[i].pool].price);
	/* Each grows in its own unit, hugetlb guests only into free pages. */
	expect_resize(f, 0, 0, 100, PLAN_GROW);
	expect_resize(f, 1, 0, 10, PLAN_GROW);
	expect_resize(f, 2, 0, 2, PLAN_GROW);
	assert_int_equal(action_for(f, 2)->total_bytes, BOOT + 2 * GIB);
	assert_int_equal(f->out.emergency, 0);
	free(f);
}

/* A hugetlb guest grows into the free pages of its own nodes, less the
 * global reservations, and into nothing when the pools were not read. */
static void test_pool_hugetlb_grows_into_its_nodes_free_pages(void **state)
{
	struct fixture *f = fixture_new(1024);
	struct hugepool_size *s;
	struct plan_guest *g;

	(void)state;
	s = add_hugepool(f, PAGE_2M, 100);
	set_node_free(f, s, 0, 6);
	set_node_free(f, s, 1, 20);
	g = add_guest(f, PAGE_2M, 2 * MIB, 0);
	g->host_nodes = 0x1;
	bid(g, 50, 2000);
	run(f);
	assert_int_equal(f->out.n_pools, 2);
	assert_string_equal(f->out.pools[1].name, "hugetlb-2048k@0x1");
	assert_int_equal(f->out.pools[1].host_nodes, 0x1);
	assert_int_equal(f->out.pools[1].free_bytes, 6 * PAGE_2M);
	expect_resize(f, 0, 0, 6, PLAN_GROW);

	/* Two pages promised to mappings are not free on any node. */
	s->resv_pages = 2;
	run(f);
	assert_int_equal(f->out.pools[1].free_bytes, 4 * PAGE_2M);
	expect_resize(f, 0, 0, 4, PLAN_GROW);

	/* Any node: all 26 free pages. */
	s->resv_pages = 0;
	g->host_nodes = 0;
	run(f);
	assert_int_equal(f->out.pools[1].free_bytes, 26 * PAGE_2M);
	expect_resize(f, 0, 0, 26, PLAN_GROW);

	/* Pools unread: nothing is known free, nothing is plugged. */
	f->in.host.hugepools_ok = 0;
	run(f);
	assert_int_equal(f->out.pools[1].free_bytes, 0);
	assert_int_equal(f->out.n_actions, 0);
	free(f);
}

/* Two pools of one page size on overlapping nodes: the pages the first
 * grants are gone from the snapshot when the second clears. */
static void test_pools_sharing_nodes_never_share_a_page(void **state)
{
	struct fixture *f = fixture_new(1024);
	struct hugepool_size *s;
	struct plan_guest *a, *b;
	struct hugepool_host before;

	(void)state;
	s = add_hugepool(f, PAGE_2M, 100);
	set_node_free(f, s, 0, 8);
	set_node_free(f, s, 1, 0);
	a = add_guest(f, PAGE_2M, 2 * MIB, 0);
	a->host_nodes = 0x1;
	bid(a, 50, 2000);
	b = add_guest(f, PAGE_2M, 2 * MIB, 0);
	b->host_nodes = 0x3;
	bid(b, 50, 2000);
	before = f->in.host.hugepools;
	run(f);

	assert_int_equal(f->out.n_pools, 3);
	assert_int_equal(f->results[0].pool, 1);
	assert_int_equal(f->results[1].pool, 2);
	assert_int_equal(f->out.pools[1].free_bytes, 8 * PAGE_2M);
	expect_resize(f, 0, 0, 8, PLAN_GROW);
	/* Without the first pool's grant taken out, it would see 8 too. */
	assert_int_equal(f->out.pools[2].free_bytes, 0);
	expect_no_action(f, 1);
	/* The pages were taken from a copy: the input is as it was. */
	assert_memory_equal(&f->in.host.hugepools, &before, sizeof(before));
	free(f);
}

/* A hugetlb guest raised to its floor plugs free pages of its pool: they
 * are not free for another guest's growth in the same tick. */
static void test_raise_to_floor_takes_free_pages(void **state)
{
	struct fixture *f = fixture_new(1024);
	struct hugepool_size *s;
	struct plan_guest *low, *grower;

	(void)state;
	s = add_hugepool(f, PAGE_2M, 100);
	set_node_free(f, s, 0, 10);
	low = add_guest(f, PAGE_2M, 2 * MIB, 0);
	low->floor_bytes = BOOT + 10 * MIB; /* 5 pages above what it has */
	grower = add_guest(f, PAGE_2M, 2 * MIB, 0);
	bid(grower, 10, 2000);
	run(f);
	expect_resize(f, 0, 0, 0, PLAN_RAISE_TO_FLOOR);
	assert_int_equal(f->actions[0].total_bytes, BOOT + 10 * MIB);
	/* 10 free pages: 5 for the floor, 5 left to grow into, not 10. */
	expect_resize(f, 1, 0, 5, PLAN_GROW);
	free(f);
}

/* Past PLAN_MAX_POOLS distinct pools a guest gets none: pool -1, marked
 * too_many_pools, and no resize though pages are free for it. */
static void test_too_many_pools(void **state)
{
	struct fixture *f = fixture_new(1024);
	struct hugepool_size *s;

	(void)state;
	s = add_hugepool(f, PAGE_2M, 1000);
	/* Pool 0 is ordinary memory: PLAN_MAX_POOLS - 1 hugetlb pools fit. */
	for (unsigned int i = 0; i < PLAN_MAX_POOLS; i++) {
		struct plan_guest *g = add_guest(f, PAGE_2M, 2 * MIB, 0);

		g->host_nodes = 1ULL << i;
		set_node_free(f, s, i, 10);
		bid(g, 50, 2000);
	}
	run(f);
	assert_int_equal(f->out.n_pools, PLAN_MAX_POOLS);
	for (unsigned int i = 0; i < PLAN_MAX_POOLS - 1; i++) {
		assert_int_equal(f->results[i].pool, (int)i + 1);
		assert_int_equal(f->results[i].too_many_pools, 0);
		expect_resize(f, i, 0, 10, PLAN_GROW);
	}
	assert_int_equal(f->results[PLAN_MAX_POOLS - 1].pool, -1);
	assert_int_equal(f->results[PLAN_MAX_POOLS - 1].too_many_pools, 1);
	assert_int_equal(f->results[PLAN_MAX_POOLS - 1].planned, 0);
	expect_no_action(f, PLAN_MAX_POOLS - 1);
	assert_int_equal(f->out.n_actions, PLAN_MAX_POOLS - 1);
	free(f);
}

/* A guest not in the market (or with no unit) is in no pool and is left
 * alone, even below its floor and bidding. */
static void test_not_in_market_gets_no_pool(void **state)
{
	struct fixture *f = fixture_new(1024);
	struct plan_guest *g;

	(void)state;
	g = add_ordinary(f, 0);
	g->in_market = 0;
	g->floor_bytes = BOOT + 512 * MIB; /* below its floor */
	bid(g, 50, 2000);
	g = add_ordinary(f, 0);
	g->unit_bytes = 0;
	bid(g, 50, 2000);
	run(f);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(f->results[i].pool, -1);
		assert_int_equal(f->results[i].too_many_pools, 0);
		assert_int_equal(f->results[i].planned, 0);
	}
	assert_int_equal(f->out.n_pools, 1);
	assert_int_equal(f->out.pools[0].n_guests, 0);
	assert_int_equal(f->out.n_actions, 0);
	free(f);
}

/* ---- leases ---- */

/* Memory won less than min_hold_ms ago is not taken back, even from a
 * guest outbid ten to one; at min_hold_ms it is. */
static void test_lease(void **state)
{
	struct fixture *f = fixture_new(20); /* 10 units */
	struct plan_guest *g;

	(void)state;
	g = add_ordinary(f, 10);
	bid(g, 10, 500);
	g->last_grow_us = NOW_US - 1000;
	bid(add_ordinary(f, 0), 10, 5000);
	run(f);
	assert_int_equal(f->out.n_actions, 0);
	assert_int_equal(f->results[0].target_units, 10);
	assert_int_equal(f->results[1].target_units, 0);

	g->last_grow_us = NOW_US - (int64_t)f->cfg.min_hold_ms * 1000;
	run(f);
	assert_int_equal(expect_resize(f, 0, 10, 0, PLAN_OUTBID)->bid, 500);
	/* Its memory is still plugged: the winner waits for it. */
	expect_no_action(f, 1);
	assert_int_equal(f->results[1].target_units, 10);
	assert_int_equal(f->results[1].growth_waits, 1);
	free(f);
}

/* A guest under lease that holds memory it bids at most reserve_price
 * for (comfort, spare) in a full pool, and a guest that bids @short_price
 * for units it lacks. */
static struct fixture *lease_against(uint32_t short_price)
{
	struct fixture *f = fixture_new(20); /* 10 units */
	struct plan_guest *g;

	g = add_ordinary(f, 10);
	bid(g, 6, 1000);
	bid(g, 4, 300);
	g->last_grow_us = NOW_US - 1000;
	bid(add_ordinary(f, 0), 10, short_price);
	return f;
}

/* A short bid (preempt_price or more for a unit it lacks) takes at once
 * what a leased guest bids at most reserve_price for, and says the unplug
 * may not wait for the guest to prepare it; what the leased guest bids
 * more for stays. A bid under preempt_price waits out the lease, and so
 * does any bid with preempt_price 0. */
static void test_short_bid_breaks_lease(void **state)
{
	struct fixture *f = lease_against(5000);
	const struct plan_action *a;

	(void)state;
	run(f);
	a = expect_resize(f, 0, 10, 6, PLAN_OUTBID);
	assert_int_equal(a->for_short, 1);
	assert_int_equal(f->results[1].growth_waits, 1);
	free(f);

	f = lease_against(RAMM_PRICE_SHORT - 1);
	run(f);
	expect_no_action(f, 0);
	assert_int_equal(f->results[0].target_units, 10);
	free(f);

	f = lease_against(5000);
	f->cfg.preempt_price = 0;
	run(f);
	expect_no_action(f, 0);
	free(f);
}

/* @f's short guest (guest 1) with an open account at @credit. */
static void short_guest_credit(struct fixture *f, uint32_t credit)
{
	f->g[1].account_open = 1;
	f->g[1].account = (struct market_account){
		.balance = UINT64_MAX / 4, .weight = 100, .credit = credit,
	};
}

/* The market judges a short bid after credit: a guest at the lowest
 * credit bids a tenth for memory it does not use, under preempt_price.
 * A blemish is not over-claiming: at the soak's 974, or at half, the
 * short tier still counts whole (it counted 1948 and took nothing). */
static void test_short_bid_after_credit(void **state)
{
	static const uint32_t trusted[] = { 974, MARKET_CREDIT_MAX / 2 };
	struct fixture *f = lease_against(5000);

	(void)state;
	short_guest_credit(f, MARKET_CREDIT_MIN);
	run(f);
	expect_no_action(f, 0);
	free(f);

	f = lease_against(RAMM_PRICE_SHORT);
	short_guest_credit(f, MARKET_CREDIT_MAX / 2 - 1);
	run(f);
	expect_no_action(f, 0);
	free(f);

	for (size_t i = 0; i < sizeof(trusted) / sizeof(trusted[0]); i++) {
		f = lease_against(RAMM_PRICE_SHORT);
		short_guest_credit(f, trusted[i]);
		run(f);
		assert_int_equal(expect_resize(f, 0, 10, 6, PLAN_OUTBID)->for_short, 1);
		free(f);
	}
}

/* A short bid does not wait for another guest's dip to last for what that
 * guest bids at most reserve_price for while it still bids for what it
 * uses: that goes at once, the rest once the dip has lasted. */
static void test_short_bid_skips_dip(void **state)
{
	struct fixture *f = lease_against(5000);

	(void)state;
	f->cfg.shrink_delay_ms = 3000;
	f->g[0].last_grow_us = 0;
	run(f);
	assert_int_equal(f->results[0].shrink_waits, 1);
	assert_int_equal(expect_resize(f, 0, 10, 6, PLAN_OUTBID)->for_short, 1);
	f->g[0].shrink_since_us = NOW_US - 3000 * 1000;
	run(f);
	expect_resize(f, 0, 10, 0, PLAN_OUTBID);
	free(f);
}

/* A guest whose shrink was just stopped bids behind a workload that
 * started again: for min_hold_ms no short bid takes from it at once,
 * neither what it bids little for nor, idle, what it holds; then the
 * short bid has its way again. */
static void test_stopped_shrink_holds_against_short_bids(void **state)
{
	struct fixture *f = lease_against(5000);
	struct plan_guest *g = &f->g[0];

	(void)state;
	f->cfg.shrink_delay_ms = 3000;
	f->cfg.min_hold_ms = 5000;
	g->last_grow_us = 0;
	g->shrink_stopped_us = NOW_US - 300 * 1000;
	run(f);
	expect_no_action(f, 0);
	assert_int_equal(f->results[0].shrink_waits, 1);
	assert_int_equal(f->results[1].growth_waits, 1);

	g->n_bid = 0;
	run(f);
	expect_no_action(f, 0);

	g->shrink_stopped_us = NOW_US - 5000 * 1000;
	run(f);
	expect_resize(f, 0, 10, 0, PLAN_NO_BID);
	free(f);
}

/* A claim that just fell is a dip: what the guest claimed in the last
 * shrink_delay_ms stays against short bids (soak seed 1212: a claim that
 * fell from 88 units to 18 on one report was taken down to 18 at once,
 * and a workload that started meanwhile was OOM-killed). Memory it has
 * not claimed for that long goes at once as before. */
static void test_claim_that_just_fell_holds_against_short_bids(void **state)
{
	struct fixture *f = lease_against(5000);
	struct plan_guest *g = &f->g[0];

	(void)state;
	f->cfg.shrink_delay_ms = 3000;
	g->last_grow_us = 0;
	g->claim_peak = (struct plan_claim_peak){ .at_us = NOW_US - 900 * 1000, .units = 10 };
	run(f);
	expect_no_action(f, 0);
	assert_int_equal(f->results[0].shrink_waits, 1);

	g->claim_peak.units = 8;
	run(f);
	expect_resize(f, 0, 10, 8, PLAN_OUTBID);

	g->claim_peak = (struct plan_claim_peak){ .at_us = NOW_US - 3000 * 1000, .units = 10 };
	run(f);
	expect_resize(f, 0, 10, 6, PLAN_OUTBID);
	free(f);
}

/* The peak follows a claim up at once and down only once it is
 * shrink_delay_ms old; a clock that goes back starts it again. */
static void test_claim_peak_update(void **state)
{
	struct rammd_config cfg;
	struct ramm_bid_step busy[] = { { 20, 8000 }, { 10, 1000 }, { 50, 300 } };
	struct ramm_bid_step idle[] = { { 4, 1000 }, { 76, 50 } };
	struct plan_claim_peak p = { 0 };
	const int64_t s = 1000 * 1000;

	(void)state;
	config_defaults(&cfg);
	cfg.shrink_delay_ms = 3000;
	plan_claim_peak_update(&p, &cfg, idle, 2, 10 * s);
	assert_int_equal(p.units, 4);
	plan_claim_peak_update(&p, &cfg, busy, 3, 11 * s);
	assert_int_equal(p.units, 30);
	assert_int_equal(p.at_us, 11 * s);
	plan_claim_peak_update(&p, &cfg, idle, 2, 12 * s);
	plan_claim_peak_update(&p, &cfg, idle, 2, 14 * s - 1);
	assert_int_equal(p.units, 30);
	assert_int_equal(p.at_us, 11 * s);
	plan_claim_peak_update(&p, &cfg, idle, 2, 14 * s);
	assert_int_equal(p.units, 4);
	assert_int_equal(p.at_us, 14 * s);
	plan_claim_peak_update(&p, &cfg, busy, 3, 15 * s);
	plan_claim_peak_update(&p, &cfg, idle, 2, 5 * s);
	assert_int_equal(p.units, 4);
	assert_int_equal(p.at_us, 5 * s);
}

/* A rising working set keeps what its rise will use within 10 s
 * (PLAN_RISE_HORIZON_MS), whatever its bid says: its bid lags it (soak
 * seed 1212: four OOM kills 1-6 s after such shrinks). Neither another
 * guest's short bid nor the dip's end takes that; what it will not use,
 * they take as before. */
static void test_rising_working_set_keeps_its_rise(void **state)
{
	struct fixture *f = lease_against(5000);
	struct plan_guest *g = &f->g[0];

	(void)state;
	f->cfg.shrink_delay_ms = 3000;
	g->last_grow_us = 0;
	g->mem_available_bytes = 86 * MIB;
	/* 8 MiB/s for 10 s: 6 MiB, 3 of its units, stay available; 7 are
	 * kept. */
	g->wss_rise_bps = 8 * MIB;
	run(f);
	assert_int_equal(expect_resize(f, 0, 10, 7, PLAN_OUTBID)->for_short, 1);
	g->shrink_since_us = NOW_US - 3000 * 1000;
	run(f);
	expect_resize(f, 0, 10, 7, PLAN_OUTBID);
	/* 8.6 MiB/s: all it has available goes within 10 s. */
	g->wss_rise_bps = 86 * MIB / 10;
	run(f);
	expect_no_action(f, 0);
	/* Not rising: the market has its way. */
	g->wss_rise_bps = 0;
	run(f);
	expect_resize(f, 0, 10, 0, PLAN_OUTBID);
	free(f);
}

/* Rising: 4 MiB at least, at 8 MiB/s or faster, over spans of 250 ms or
 * more; the figure halves while the working set stands still, a report
 * right after another (urgent) neither clears nor makes one, and a fall
 * starts the span again. */
static void test_rise_update(void **state)
{
	const uint64_t mib = 1ull << 20;
	const int64_t s = 1000000;
	struct plan_rise r = { 0 };

	(void)state;
	assert_true(plan_rise_update(&r, 100 * mib, 10 * s) == 0);
	assert_true(plan_rise_update(&r, 140 * mib, 11 * s) == 40 * mib);
	/* 100 ms on, 1 MiB more: too short a span to judge. */
	assert_true(plan_rise_update(&r, 141 * mib, 11 * s + s / 10) == 40 * mib);
	/* Standing still: halved each span, none below 8 MiB/s. */
	assert_true(plan_rise_update(&r, 141 * mib, 12 * s) == 20 * mib);
	assert_true(plan_rise_update(&r, 141 * mib, 13 * s) == 10 * mib);
	assert_true(plan_rise_update(&r, 141 * mib, 14 * s) == 0);
	/* 7 MiB in 1 s is drift; 4 MiB in 0.5 s is a rise; less than 4 MiB
	 * is noise however fast. */
	assert_true(plan_rise_update(&r, 148 * mib, 15 * s) == 0);
	assert_true(plan_rise_update(&r, 152 * mib, 15 * s + s / 2) == 8 * mib);
	r = (struct plan_rise){ 0 };
	assert_true(plan_rise_update(&r, 100 * mib, 10 * s) == 0);
	assert_true(plan_rise_update(&r, 104 * mib - 1, 10 * s + s / 4) == 0);
	/* Falling is no rise; a clock gone back starts again. */
	assert_true(plan_rise_update(&r, 50 * mib, 11 * s) == 0);
	assert_true(plan_rise_update(&r, 200 * mib, 12 * s) == 150 * mib);
	assert_true(plan_rise_update(&r, 400 * mib, 5 * s) == 0);
	assert_true(r.bps == 0 && r.at_us == 5 * s);
	assert_true(plan_rise_update(&r, UINT64_MAX, 5 * s + s / 4) == UINT64_MAX / (s / 4));
	/* A workload exits and another starts: the fall, 200 ms into a
	 * span, starts it again, and the new rise is seen from there. */
	r = (struct plan_rise){ 0 };
	assert_true(plan_rise_update(&r, 334 * mib, 10 * s) == 0);
	assert_true(plan_rise_update(&r, 182 * mib, 10 * s + s / 5) == 0);
	assert_true(plan_rise_update(&r, 204 * mib, 10 * s + 7 * s / 10) == 44 * mib);
}

/* What a short guest lacks is taken once: while one idle guest's unplug
 * for it is in flight, the next tick takes nothing more from another idle
 * guest inside its dip, and the unplug goes on although the market would
 * rather take the other's units (neither bids for them). */
static void test_short_need_taken_once(void **state)
{
	struct fixture *f = fixture_new(40); /* 20 units */
	struct plan_guest *first, *second, *shorty;

	(void)state;
	f->cfg.shrink_delay_ms = 3000;
	first = add_ordinary(f, 10);
	second = add_ordinary(f, 10);
	shorty = add_ordinary(f, 0);
	bid(shorty, 3, 5000);
	bid(shorty, 7, 1000);
	run(f);
	expect_resize(f, 0, 10, 7, PLAN_NO_BID);
	expect_no_action(f, 1);

	first->resizing = 1;
	first->requested_bytes = 7 * first->unit_bytes;
	first->shrink_since_us = NOW_US;
	second->shrink_since_us = NOW_US;
	run(f);
	expect_no_action(f, 0);
	expect_no_action(f, 1);
	assert_int_equal(f->results[2].growth_waits, 1);
	free(f);
}

/* A guest that bids for nothing any more has lost its workload, and one
 * often starts again at once: it keeps its lease, and inside its dip a
 * short bid takes from it only what the short guest lacks (soak seed
 * 4242: a greedy workload OOM-killed while an idle guest held 202 units
 * through its dip); the rest waits for the dip like any other shrink.
 * Its unplug is not for_short: it waits for its preparation. */
static void test_short_bid_takes_what_it_lacks_from_idle_guest(void **state)
{
	struct fixture *f = lease_against(5000);
	struct plan_guest *shorty = &f->g[1];

	(void)state;
	f->g[0].n_bid = 0;
	shorty->n_bid = 0;
	bid(shorty, 3, 5000);
	bid(shorty, 7, 1000);
	run(f);
	expect_no_action(f, 0);
	f->cfg.shrink_delay_ms = 3000;
	f->g[0].last_grow_us = 0;
	run(f);
	/* Its unplug waits for its preparation all the same: the report
	 * that ends it is the last look at a workload starting again. */
	assert_int_equal(expect_resize(f, 0, 10, 7, PLAN_NO_BID)->for_short, 0);
	assert_int_equal(f->results[0].shrink_waits, 1);
	/* Once the dip has lasted, the market has its way. */
	f->g[0].shrink_since_us = NOW_US - 3000 * 1000;
	run(f);
	expect_resize(f, 0, 10, 0, PLAN_NO_BID);
	free(f);
}

/* Memory taken because its guest stopped bidding for it is left free for
 * that guest to grow back into for return_window_ms: another guest's
 * growth waits for it unless it bids short, and the guest itself takes it
 * back at once. A window open runs its course: further shrinks do not
 * move it. Memory taken for another's higher bid opens no window. */
static void test_return_window(void **state)
{
	struct fixture *f = fixture_new(20); /* 10 units */
	struct plan_guest *g, *other;
	int64_t window_us;

	(void)state;
	window_us = (int64_t)f->cfg.return_window_ms * 1000;
	g = add_ordinary(f, 10);
	bid(g, 4, 1000);
	other = add_ordinary(f, 0);
	run(f);
	expect_resize(f, 0, 10, 4, PLAN_NO_BID);
	assert_true(f->results[0].taken_us == NOW_US);
	assert_int_equal(f->results[0].taken_from_units, 10);

	/* Unplugged: 6 units free, its own for the window. */
	g->taken_us = NOW_US;
	g->taken_from_units = 10;
	g->size_bytes = g->requested_bytes = 4 * 2 * MIB;
	f->in.now_us = NOW_US + window_us / 2;
	g->report_us = other->report_us = f->in.now_us;
	bid(other, 10, 1000);
	run(f);
	expect_no_action(f, 1);
	assert_int_equal(f->results[1].growth_waits, 1);
	/* It shrinks further: the window and its start stay. */
	g->n_bid = 0;
	bid(g, 2, 1000);
	run(f);
	expect_resize(f, 0, 4, 2, PLAN_NO_BID);
	assert_true(f->results[0].taken_us == NOW_US);
	assert_int_equal(f->results[0].taken_from_units, 10);

	/* A short bid does not wait for it... */
	other->n_bid = 0;
	bid(other, 10, 5000);
	run(f);
	expect_resize(f, 1, 0, 6, PLAN_GROW);
	/* ... nor does its guest, which wants it back... */
	other->n_bid = 0;
	bid(other, 10, 1000);
	g->n_bid = 0;
	bid(g, 10, 8000);
	run(f);
	expect_resize(f, 0, 4, 10, PLAN_GROW);
	expect_no_action(f, 1);
	/* ... and when the window has passed, anyone may have it. */
	g->n_bid = 0;
	bid(g, 4, 1000);
	f->in.now_us = NOW_US + window_us;
	g->report_us = other->report_us = f->in.now_us;
	run(f);
	expect_resize(f, 1, 0, 6, PLAN_GROW);

	/* Taken for another's higher bid: no window. */
	free(f);
	f = fixture_new(20);
	g = add_ordinary(f, 10);
	bid(g, 10, 1000);
	bid(add_ordinary(f, 0), 10, 5000);
	run(f);
	expect_resize(f, 0, 10, 0, PLAN_OUTBID);
	assert_true(f->results[0].taken_us == 0);
	free(f);
}

/* Two return windows may claim the same free memory: a guest growing back
 * into its own window takes it, up to what was taken from it, rather
 * than wait for a guest that bids for nothing (soak seed 4242: a greedy
 * workload OOM-killed beside 96 free units an idle guest's window held). */
static void test_return_windows_overlap(void **state)
{
	struct fixture *f = fixture_new(20); /* 10 units */
	struct plan_guest *back, *idle;

	(void)state;
	back = add_ordinary(f, 2);
	back->taken_us = NOW_US - 1000000;
	back->taken_from_units = 8;
	bid(back, 9, 1000);
	idle = add_ordinary(f, 0);
	idle->taken_us = back->taken_us;
	idle->taken_from_units = 8;
	run(f);
	/* 8 free, all in idle's window; 6 of them were taken from back. */
	expect_resize(f, 0, 2, 8, PLAN_GROW);
	expect_no_action(f, 1);
	free(f);
}

/* A guest pays for what it holds and keeps, not for a target it has not
 * got: growth that waits for memory still being unplugged is not billed. */
static void test_bill_what_it_holds(void **state)
{
	struct fixture *f = fixture_new(20); /* 10 units */
	struct plan_guest *g;

	(void)state;
	f->cfg.reserve_price = 0;
	g = add_ordinary(f, 10);
	bid(g, 6, 5000);
	bid(g, 4, 500);
	bid(add_ordinary(f, 0), 10, 3000);
	run(f);
	expect_resize(f, 0, 10, 6, PLAN_OUTBID);
	assert_int_equal(f->results[1].target_units, 4);
	assert_int_equal(f->results[1].growth_waits, 1);
	assert_true(f->results[0].price > 0);
	assert_true(f->results[0].paid == 6ULL * f->results[0].price);
	assert_true(f->results[1].paid == 0);
	free(f);
}

/* ---- the stuck window ---- */

/* Inside the window only offered units are taken, and the action says
 * so; once it has passed, the unplug limit applies again. */
static void test_stuck_window(void **state)
{
	struct fixture *f = fixture_new(40); /* 20 units */
	struct plan_guest *g;
	const struct plan_action *a;

	(void)state;
	g = add_ordinary(f, 20);
	bid(g, 20, 500);
	offer(g, 5);
	g->stuck_until_us = NOW_US + 1000 * 1000;
	bid(add_ordinary(f, 0), 20, 5000);
	assert_int_equal(plan_offered_units(g), 5);
	run(f);
	a = expect_resize(f, 0, 20, 15, PLAN_OUTBID);
	assert_int_equal(a->only_offered, 1);
	assert_int_equal(a->offered_units, 5);

	g->stuck_until_us = NOW_US;
	run(f);
	a = expect_resize(f, 0, 20, 0, PLAN_OUTBID);
	assert_int_equal(a->only_offered, 0);
	assert_int_equal(a->offered_units, 5);
	free(f);
}

/* ---- offers ---- */

/* Two guests hold the same and bid the same; a third outbids both by
 * more than the move cost. The one offering units loses them; with no
 * offer, the tie goes against the higher index. */
static void test_offers_taken_before_held_units(void **state)
{
	struct fixture *f = fixture_new(40); /* 20 units */
	struct plan_guest *a, *b, *c;

	(void)state;
	a = add_ordinary(f, 10);
	bid(a, 10, 1000);
	offer(a, 4);
	b = add_ordinary(f, 10);
	bid(b, 10, 1000);
	c = add_ordinary(f, 0);
	bid(c, 4, 1000 + f->cfg.move_cost + 5);
	run(f);
	expect_resize(f, 0, 10, 6, PLAN_OUTBID);
	expect_no_action(f, 1);
	assert_int_equal(f->results[2].target_units, 4);
	assert_int_equal(f->results[2].growth_waits, 1);

	offer(a, 0);
	run(f);
	expect_no_action(f, 0);
	expect_resize(f, 1, 10, 6, PLAN_OUTBID);

	/* A guest on 1 GiB units offers nothing for free 2 MiB extents. */
	c = add_guest(f, PAGE_4K, GIB, 4);
	offer(c, 1000);
	assert_int_equal(plan_offered_units(c), 0);
	free(f);
}

/* ---- rate limits ---- */

static void test_rate_limit_plug(void **state)
{
	struct fixture *f = fixture_new(2048);

	(void)state;
	f->cfg.max_plug_mib = 20; /* 10 units */
	bid(add_ordinary(f, 0), 100, 2000);
	run(f);
	expect_resize(f, 0, 0, 10, PLAN_GROW);
	assert_int_equal(f->results[0].target_units, 10);
	free(f);
}

static void test_rate_limit_unplug(void **state)
{
	struct fixture *f = fixture_new(2048);
	const struct plan_action *a;

	(void)state;
	f->cfg.max_unplug_mib = 20; /* 10 units */
	add_ordinary(f, 100); /* a fresh report that bids for nothing */
	run(f);
	a = expect_resize(f, 0, 100, 90, PLAN_NO_BID);
	assert_int_equal(a->bid, 0);
	free(f);
}

/* Limits below one unit of a guest still move it by one of its units:
 * 1 GiB hugetlb pages, and ordinary memory in a guest with 1 GiB blocks
 * (counted as 512 pool units). */
static void test_rate_limit_at_least_one_unit(void **state)
{
	struct fixture *f = fixture_new(8192);
	struct hugepool_size *s;

	(void)state;
	f->cfg.max_plug_mib = 64;
	f->cfg.max_unplug_mib = 64;
	s = add_hugepool(f, PAGE_1G, 10);
	set_node_free(f, s, 0, 4);
	bid(add_guest(f, PAGE_1G, GIB, 0), 3, 2000);
	add_guest(f, PAGE_1G, GIB, 3);
	bid(add_guest(f, PAGE_4K, GIB, 0), 3, 2000);
	add_guest(f, PAGE_4K, GIB, 3);
	run(f);
	assert_int_equal(f->results[0].pool, 1);
	assert_int_equal(f->results[2].pool, 0);
	expect_resize(f, 0, 0, 1, PLAN_GROW);
	expect_resize(f, 1, 3, 2, PLAN_NO_BID);
	expect_resize(f, 2, 0, 1, PLAN_GROW);
	expect_resize(f, 3, 3, 2, PLAN_NO_BID);
	free(f);
}

/* ---- the quantum ---- */

/* With quantum_mib 8 (4 units), moves of 3 units are skipped, of 4 made;
 * with quantum 0 every move is made. */
static void test_quantum(void **state)
{
	struct fixture *f = fixture_new(1024);

	(void)state;
	assert_int_equal(f->cfg.quantum_mib, 8);
	bid(add_ordinary(f, 10), 13, 2000);
	bid(add_ordinary(f, 10), 14, 2000);
	bid(add_ordinary(f, 10), 7, 2000);
	bid(add_ordinary(f, 10), 6, 2000);
	run(f);
	expect_no_action(f, 0);
	expect_resize(f, 1, 10, 14, PLAN_GROW);
	expect_no_action(f, 2);
	expect_resize(f, 3, 10, 6, PLAN_NO_BID);

	f->cfg.quantum_mib = 0;
	run(f);
	expect_resize(f, 0, 10, 13, PLAN_GROW);
	expect_resize(f, 2, 10, 7, PLAN_NO_BID);

	/* A drain the unplug rate cut short leaves one unit: it still goes
	 * to the floor, under the quantum. */
	free(f);
	f = fixture_new(1024);
	add_ordinary(f, 1)->drain = 1;
	run(f);
	expect_resize(f, 0, 1, 0, PLAN_DRAIN);
	free(f);
}

/* ---- emergency ---- */

/* MemAvailable 100 MiB under critical_free_mib 512: 412 MiB (206 units)
 * come back at once from the lowest bid, past a 1-unit unplug limit, and
 * nobody grows. */
static void test_emergency(void **state)
{
	struct fixture *f = fixture_new(2048); /* 1024 units */

	(void)state;
	f->cfg.max_unplug_mib = 2;
	f->in.host.meminfo_ok = 1;
	f->in.host.mem_total_bytes = 16 * GIB;
	f->in.host.mem_available_bytes = 100 * MIB;
	bid(add_ordinary(f, 300), 300, 500);
	bid(add_ordinary(f, 300), 300, 2000);
	bid(add_ordinary(f, 10), 100, 5000);
	run(f);
	assert_int_equal(f->out.emergency, 1);
	assert_int_equal(f->out.pools[0].supply_bytes, (610 - 206) * 2 * MIB);
	expect_resize(f, 0, 300, 94, PLAN_EMERGENCY);
	expect_no_action(f, 1);
	expect_no_action(f, 2);
	assert_int_equal(f->out.n_actions, 1);

	/* The stuck window is off too, and the action does not claim that
	 * only offered units were taken. */
	offer(&f->g[0], 5);
	f->g[0].stuck_until_us = NOW_US + 1000 * 1000;
	run(f);
	assert_int_equal(expect_resize(f, 0, 300, 94, PLAN_EMERGENCY)->only_offered, 0);
	f->g[0].stuck_until_us = 0;
	f->g[0].have_hist = 0;

	/* Leases are off too (docs/ARCHITECTURE.md, "Emergency"). */
	f->g[0].last_grow_us = NOW_US - 1000;
	run(f);
	expect_resize(f, 0, 300, 94, PLAN_EMERGENCY);
	f->g[0].last_grow_us = 0;

	/* Control: enough memory available, no emergency, the third grows. */
	f->in.host.mem_available_bytes = 1 * GIB;
	run(f);
	assert_int_equal(f->out.emergency, 0);
	expect_no_action(f, 0);
	expect_resize(f, 2, 10, 100, PLAN_GROW);
	free(f);
}

/* A deficit larger than everything held takes every guest to its floor,
 * never below it. */
static void test_emergency_never_below_floor(void **state)
{
	struct fixture *f = fixture_new(2048);

	(void)state;
	f->cfg.critical_free_mib = 100000;
	f->in.host.meminfo_ok = 1;
	f->in.host.mem_total_bytes = 16 * GIB;
	f->in.host.mem_available_bytes = 0;
	bid(add_ordinary(f, 300), 300, 500);
	bid(add_ordinary(f, 300), 300, 2000);
	bid(add_ordinary(f, 10), 100, 5000);
	run(f);
	assert_int_equal(f->out.emergency, 1);
	assert_int_equal(f->out.n_actions, 3);
	for (size_t i = 0; i < 3; i++) {
		const struct plan_action *a = action_for(f, i);

		assert_non_null(a);
		assert_int_equal(a->to_units, 0);
		assert_int_equal(a->why, PLAN_EMERGENCY);
		assert_int_equal(a->total_bytes, f->g[i].floor_bytes);
	}
	free(f);
}

/* While a guest is resizing, MemAvailable has not seen what it frees yet:
 * no second cut for the same deficit, and still no growth. */
static void test_emergency_no_second_cut_while_resizing(void **state)
{
	struct fixture *f = fixture_new(2048);
	struct plan_guest *g;

	(void)state;
	f->in.host.meminfo_ok = 1;
	f->in.host.mem_total_bytes = 16 * GIB;
	f->in.host.mem_available_bytes = 100 * MIB;
	bid(add_ordinary(f, 300), 300, 500);
	g = add_ordinary(f, 300);
	bid(g, 300, 2000);
	g->requested_bytes = 250 * g->unit_bytes; /* unplugging */
	g->resizing = 1;
	bid(add_ordinary(f, 10), 100, 5000);
	run(f);
	assert_int_equal(f->out.emergency, 1);
	assert_int_equal(f->out.n_actions, 0);
	free(f);
}

/* ---- freezing ---- */

enum freeze_kind {
	FREEZE_NONE,
	FREEZE_STALE,
	FREEZE_OTHER_UNIT,
	FREEZE_RESIZING,
	FREEZE_EXCLUDED,
	FREEZE_DEVICE_LOST,
};

/*
 * Supply 30 units. Guest 0 holds 10 and bids 500 for them; guest 1 holds
 * nothing and bids 5000 for 30. Unfrozen, guest 0 loses all 10 and guest
 * 1's target is 30. Frozen, guest 0 has no action and its 10 units count
 * against the supply: guest 1's target is 20.
 */
static void freeze_case(enum freeze_kind kind)
{
	struct fixture *f = fixture_new(60);
	struct plan_guest *g;

	g = add_ordinary(f, 10);
	bid(g, 10, 500);
	bid(add_ordinary(f, 0), 30, 5000);
	switch (kind) {
	case FREEZE_NONE:
		break;
	case FREEZE_STALE:
		g->report_us = NOW_US - (int64_t)f->cfg.stale_report_ms * 1000 - 1;
		break;
	case FREEZE_OTHER_UNIT:
		g->report_unit_bytes = 4 * MIB;
		break;
	case FREEZE_RESIZING:
		g->resizing = 1;
		break;
	case FREEZE_EXCLUDED:
		g->excluded = 1;
		break;
	case FREEZE_DEVICE_LOST:
		g->device_ready = 0;
		break;
	}
	run(f);
	if (kind == FREEZE_NONE) {
		expect_resize(f, 0, 10, 0, PLAN_OUTBID);
		assert_int_equal(f->results[1].target_units, 30);
	} else {
		expect_no_action(f, 0);
		assert_int_equal(f->results[1].target_units, 20);
		if (kind != FREEZE_DEVICE_LOST)
			assert_int_equal(f->results[0].target_units, 10);
	}
	/* Either way only the 20 units free now are plugged. */
	expect_resize(f, 1, 0, 20, PLAN_GROW);
	free(f);
}

static void test_freeze_stale_report(void **state)
{
	struct fixture *f = fixture_new(60);
	struct plan_guest *g;

	(void)state;
	freeze_case(FREEZE_NONE);
	freeze_case(FREEZE_STALE);
	/* Exactly stale_report_ms old is still fresh. */
	g = add_ordinary(f, 10);
	bid(g, 10, 500);
	g->report_us = NOW_US - (int64_t)f->cfg.stale_report_ms * 1000;
	bid(add_ordinary(f, 0), 30, 5000);
	run(f);
	expect_resize(f, 0, 10, 0, PLAN_OUTBID);
	free(f);
}

static void test_freeze_report_in_other_unit(void **state)
{
	(void)state;
	freeze_case(FREEZE_OTHER_UNIT);
}

static void test_freeze_resizing(void **state)
{
	(void)state;
	freeze_case(FREEZE_RESIZING);
}

static void test_freeze_excluded(void **state)
{
	(void)state;
	freeze_case(FREEZE_EXCLUDED);
}

static void test_freeze_device_lost(void **state)
{
	(void)state;
	freeze_case(FREEZE_DEVICE_LOST);
}

/* ---- shrinks in flight and dips ---- */

/* A guest of @f being shrunk from 60 to 20 units, decided 0.5 s ago,
 * that bids for @bid_units at 5000. */
static struct plan_guest *add_shrinking(struct fixture *f, uint32_t bid_units)
{
	struct plan_guest *g = add_ordinary(f, 0);

	g->resizing = 1;
	g->size_bytes = 60 * g->unit_bytes;
	g->requested_bytes = 20 * g->unit_bytes;
	g->resize_decided_us = NOW_US - 500000;
	bid(g, bid_units, 5000);
	return g;
}

/* A shrink in flight whose guest now bids for what is being taken, above
 * what anybody else bids, is stopped where the guest stands: the request
 * goes back up to what it holds, never past it. */
static void test_shrink_in_flight_stopped_by_bid(void **state)
{
	struct fixture *f = fixture_new(1024);

	(void)state;
	add_shrinking(f, 100);
	run(f);
	expect_resize(f, 0, 60, 60, PLAN_STOP_SHRINK);
	assert_int_equal(action_for(f, 0)->bid, 5000);
	free(f);
}

/* A shrink in flight is never deepened, and it goes on when the guest
 * still bids for less than is being taken; a bid for part of it calls
 * off all of it, where the guest stands. */
static void test_shrink_in_flight_not_deepened(void **state)
{
	struct fixture *f = fixture_new(1024);
	struct plan_guest *g;

	(void)state;
	g = add_shrinking(f, 10);
	run(f);
	expect_no_action(f, 0);
	/* A guest that bids for some of it again is growing again. */
	g->n_bid = 0;
	bid(g, 35, 5000);
	run(f);
	expect_resize(f, 0, 60, 60, PLAN_STOP_SHRINK);
	assert_int_equal(action_for(f, 0)->bid, 5000);
	free(f);
}

/* A shrink in flight is called off only by a bid for the first unit taken
 * above the one it was decided on, in a regular round or in the partial
 * round an urgent report pulls forward: an urgent report alone may be the
 * reclaim the unplug itself causes, and the bid it was decided on was
 * outbid already (a budget-bound guest in the lab was stopped and shrunk
 * again every 4 s). In an emergency nothing is called off. */
static void test_shrink_in_flight_stopped_by_a_higher_bid(void **state)
{
	struct fixture *f = fixture_new(1024);
	struct plan_guest *g;

	(void)state;
	g = add_shrinking(f, 35);
	g->shrink_bid = 5000;
	g->report_urgent = 1;
	g->report_us = NOW_US - 100000;
	for (int partial = 0; partial <= 1; partial++) {
		f->in.partial = partial;
		f->in.urgent = 0;
		g->n_bid = 0;
		bid(g, 35, 5000);
		run(f);
		expect_no_action(f, 0);
		g->n_bid = 0;
		bid(g, 35, 6000);
		run(f);
		expect_resize(f, 0, 60, 60, PLAN_STOP_SHRINK);
	}
	f->in.partial = 0;

	f->cfg.supply_mib = CONFIG_SUPPLY_AUTO;
	f->cfg.critical_free_mib = 512;
	f->in.host.meminfo_ok = 1;
	f->in.host.mem_total_bytes = 8192 * MIB;
	f->in.host.mem_available_bytes = 100 * MIB;
	run(f);
	assert_int_equal(f->out.emergency, 1);
	expect_no_action(f, 0);
	free(f);
}

/* A dip must last: a guest the market wants smaller is shrunk only once it
 * has been wanted smaller on every tick for shrink_delay_ms; a tick that
 * wants it whole again starts the count over. Emergencies do not wait. */
static void test_dip_must_last(void **state)
{
	struct fixture *f = fixture_new(1024);
	struct plan_guest *g;
	int64_t delay_us;

	(void)state;
	f->cfg.shrink_delay_ms = 3000;
	delay_us = (int64_t)f->cfg.shrink_delay_ms * 1000;
	g = add_ordinary(f, 60);
	bid(g, 20, 5000);
	run(f);
	expect_no_action(f, 0);
	assert_int_equal(f->results[0].shrink_waits, 1);
	assert_true(f->results[0].shrink_since_us == NOW_US);

	/* Still wanted smaller just before the delay: it waits. */
	g->shrink_since_us = f->results[0].shrink_since_us;
	f->in.now_us = NOW_US + delay_us - 1;
	g->report_us = f->in.now_us;
	run(f);
	expect_no_action(f, 0);
	assert_true(f->results[0].shrink_since_us == NOW_US);

	/* The bid rose again for one tick: the count starts over. */
	g->n_bid = 0;
	bid(g, 60, 5000);
	run(f);
	expect_no_action(f, 0);
	assert_true(f->results[0].shrink_since_us == 0);
	assert_int_equal(f->results[0].shrink_waits, 0);

	/* Wanted smaller from then on: shrunk once the delay has passed. */
	g->n_bid = 0;
	bid(g, 20, 5000);
	g->shrink_since_us = NOW_US + delay_us;
	f->in.now_us = NOW_US + 2 * delay_us;
	g->report_us = f->in.now_us;
	run(f);
	expect_resize(f, 0, 60, 20, PLAN_NO_BID);

	/* An emergency takes at once. */
	g->shrink_since_us = 0;
	f->cfg.supply_mib = CONFIG_SUPPLY_AUTO;
	f->cfg.critical_free_mib = 512;
	f->in.host.meminfo_ok = 1;
	f->in.host.mem_total_bytes = 8192 * MIB;
	f->in.host.mem_available_bytes = 500 * MIB;
	run(f);
	assert_int_equal(f->out.emergency, 1);
	assert_non_null(action_for(f, 0));
	assert_int_equal(action_for(f, 0)->why, PLAN_EMERGENCY);
	free(f);
}

/* A drained guest bids for nothing, whatever its report says or whether
 * it has one: it goes to its floor at the unplug rate. */
static void test_drain(void **state)
{
	struct fixture *f = fixture_new(1024);
	struct plan_guest *g;

	(void)state;
	f->cfg.max_unplug_mib = 20; /* 10 units */
	g = add_ordinary(f, 100);
	bid(g, 100, 5000);
	g->drain = 1;
	g = add_ordinary(f, 5);
	g->have_report = 0;
	g->drain = 1;
	run(f);
	expect_resize(f, 0, 100, 90, PLAN_DRAIN);
	expect_resize(f, 1, 5, 0, PLAN_DRAIN);
	assert_int_equal(action_for(f, 1)->total_bytes, f->g[1].floor_bytes);
	/* After a short unplug a drain, too, takes only what the guest
	 * reports free until its window passes, then all again. */
	f->g[0].stuck_until_us = NOW_US + 1000 * 1000;
	offer(&f->g[0], 5);
	run(f);
	expect_resize(f, 0, 100, 95, PLAN_DRAIN);
	assert_int_equal(action_for(f, 0)->only_offered, 1);
	f->g[0].stuck_until_us = NOW_US;
	run(f);
	expect_resize(f, 0, 100, 90, PLAN_DRAIN);
	assert_int_equal(action_for(f, 0)->only_offered, 0);
	free(f);
}

/* ---- floors ---- */

/* A guest below its floor is raised to it, whatever it bids, fresh or
 * stale; one resizing is left to finish first. */
static void test_raise_to_floor(void **state)
{
	struct fixture *f = fixture_new(1024);
	struct plan_guest *g;
	const struct plan_action *a;

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		g = add_ordinary(f, 0);
		g->floor_bytes = BOOT + 512 * MIB;
		g->size_bytes = g->requested_bytes = 100 * MIB;
	}
	bid(&f->g[0], 1000, 5000); /* bids for far more than its floor */
	f->g[1].report_us = 0;     /* stale, bids nothing */
	f->g[2].resizing = 1;
	f->g[3].excluded = 1;      /* kept at its size */
	run(f);
	for (size_t i = 0; i < 2; i++) {
		a = expect_resize(f, i, 0, 0, PLAN_RAISE_TO_FLOOR);
		assert_int_equal(a->total_bytes, BOOT + 512 * MIB);
		assert_int_equal(a->bid, 0);
	}
	expect_no_action(f, 2);
	expect_no_action(f, 3);
	assert_int_equal(f->out.n_actions, 2);
	free(f);
}

/* ---- growth only from free memory ---- */

/* Supply 20 units; guest 0 holds 10 and is outbid, guest 1 holds 5 and
 * wants 20. Guest 0's 10 are still plugged until its unplug completes,
 * so guest 1 gets only the 5 free now. */
static void test_growth_only_from_free_memory(void **state)
{
	struct fixture *f = fixture_new(40);
	uint64_t plugged = 0;

	(void)state;
	bid(add_ordinary(f, 10), 10, 500);
	bid(add_ordinary(f, 5), 20, 5000);
	run(f);
	expect_resize(f, 0, 10, 0, PLAN_OUTBID);
	assert_int_equal(f->results[1].target_units, 20);
	expect_resize(f, 1, 5, 10, PLAN_GROW);
	assert_int_equal(f->results[1].growth_waits, 0);
	/* Until the shrink completes each guest holds the larger of before
	 * and after; that never passes the supply. */
	for (size_t a = 0; a < f->out.n_actions; a++)
		plugged += f->actions[a].to_units > f->actions[a].from_units ?
			   f->actions[a].to_units : f->actions[a].from_units;
	assert_true(plugged * 2 * MIB <= f->out.pools[0].supply_bytes);
	free(f);
}

/* ---- accounts ---- */

/* Guests without an account get one; each pays the price for its target
 * up to its balance, and never more. */
static void test_accounts(void **state)
{
	struct fixture *f = fixture_new(40); /* 20 units */
	struct market_params params;
	struct market_budget budget;
	struct market_credit_params credit;
	struct market_account open, rich = { 1000000000, 100, 1000 };
	struct plan_guest *g;
	uint64_t income, cap;

	(void)state;
	add_ordinary(f, 0); /* no account, bids for nothing */
	g = add_ordinary(f, 10);
	g->report_us = 0; /* frozen: keeps its 10 */
	g->account_open = 1;
	g->account = (struct market_account){ 100, 100, 1000 };
	g = add_ordinary(f, 10);
	bid(g, 30, 2000);
	g->account_open = 1;
	g->account = rich;
	run(f);

	config_market(&f->cfg, f->cfg.unit_mib, 20, &params, &budget, &credit);
	open = market_account_open(&budget, 100, 300);
	income = market_income(&budget, &open, 300);
	assert_true(open.balance > 0);

	assert_int_equal(f->out.pools[0].price, 2000);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(f->results[i].account_open, 1);
		assert_int_equal(f->results[i].account.weight, 100);
	}
	/* Opened, paid nothing for nothing, earned its income. */
	assert_int_equal(f->results[0].paid, 0);
	assert_int_equal(f->results[0].account.balance, open.balance + income);
	/* Owes 10 x 2000, has 100: pays 100. */
	assert_int_equal(f->results[1].target_units, 10);
	assert_int_equal(f->results[1].paid, 100);
	assert_int_equal(f->results[1].account.balance, income);
	/* Pays the whole bill. */
	assert_int_equal(f->results[2].target_units, 10);
	assert_int_equal(f->results[2].paid, 10 * 2000);
	/* ... and its savings are capped at savings_ticks of income. */
	cap = income * f->cfg.savings_ticks;
	assert_int_equal(f->results[2].account.balance,
			 rich.balance - 10 * 2000 + income < cap ?
			 rich.balance - 10 * 2000 + income : cap);
	free(f);
}

/* Actions go pool by pool, and within a pool shrinks before growth,
 * whatever the guests' order. */
static void test_action_order(void **state)
{
	struct fixture *f = fixture_new(60); /* 30 units */
	struct hugepool_size *s;

	(void)state;
	s = add_hugepool(f, PAGE_2M, 100);
	set_node_free(f, s, 0, 10);
	bid(add_guest(f, PAGE_2M, 2 * MIB, 0), 10, 2000); /* pool 1 */
	bid(add_ordinary(f, 0), 15, 2000);
	bid(add_ordinary(f, 20), 20, 500);
	run(f);
	assert_int_equal(f->out.n_actions, 3);
	assert_int_equal(f->actions[0].guest, 2);
	assert_int_equal(f->actions[0].why, PLAN_OUTBID);
	assert_int_equal(f->actions[0].to_units, 15);
	assert_int_equal(f->actions[1].guest, 1);
	assert_int_equal(f->actions[1].why, PLAN_GROW);
	assert_int_equal(f->actions[1].to_units, 10); /* 30 - 20 free now */
	assert_int_equal(f->actions[2].guest, 0);
	assert_int_equal(f->actions[2].why, PLAN_GROW);
	assert_int_equal(f->actions[2].to_units, 10);
	free(f);
}

/* ---- the host's real free memory ---- */

/* The host's meminfo: @avail_mib MiB available of 64 GiB. */
static void host_available(struct fixture *f, uint64_t avail_mib)
{
	f->in.host.meminfo_ok = 1;
	f->in.host.mem_total_bytes = 64 * GIB;
	f->in.host.mem_available_bytes = avail_mib * MIB;
}

/* The books say 1 GiB is free, but the host has only 40 MiB above
 * critical_free_mib: growth fits in that, whatever the supply says. Before,
 * the guest got its 100 units. */
static void test_growth_fits_host_memavailable(void **state)
{
	struct fixture *f = fixture_new(1024);

	(void)state;
	host_available(f, 512 + 40);
	bid(add_ordinary(f, 0), 100, 2000);
	run(f);
	assert_int_equal(f->out.emergency, 0);
	assert_int_equal(f->results[0].target_units, 100);
	expect_resize(f, 0, 0, 20, PLAN_GROW);
	/* Free on the host later: the rest follows. */
	host_available(f, 512 + 1024);
	run(f);
	expect_resize(f, 0, 0, 100, PLAN_GROW);
	free(f);
}

/* Growth still in flight (requested above plugged) is memory MemAvailable
 * has not lost yet; and two guests growing in one tick share what is
 * free, they do not each get it. */
static void test_growth_fits_host_memavailable_less_in_flight(void **state)
{
	struct fixture *f = fixture_new(1024);
	struct plan_guest *g;

	(void)state;
	host_available(f, 512 + 100);
	g = add_ordinary(f, 10);
	g->size_bytes = 0; /* plugging its 10 units: 20 MiB in flight */
	g->resizing = 1;
	bid(add_ordinary(f, 0), 20, 2000);
	bid(add_ordinary(f, 0), 20, 2000);
	run(f);
	/* 100 MiB less 20 in flight: 40 units, 20 each at most. */
	expect_resize(f, 1, 0, 20, PLAN_GROW);
	expect_resize(f, 2, 0, 20, PLAN_GROW);
	host_available(f, 512 + 60);
	run(f);
	/* 60 - 20 = 40 MiB: 20 units in all. */
	expect_resize(f, 1, 0, 20, PLAN_GROW);
	assert_null(action_for(f, 2));
	assert_int_equal(f->results[2].growth_waits, 1);
	free(f);
}

/* A guest found but whose device is not read yet may hold any amount of
 * memory: nobody grows until it is known. Shrinks and floors go on. */
static void test_no_growth_while_a_device_is_unknown(void **state)
{
	struct fixture *f = fixture_new(1024);
	struct plan_guest *g;

	(void)state;
	bid(add_ordinary(f, 0), 20, 2000);
	add_ordinary(f, 30); /* bids for nothing: shrinks */
	g = add_ordinary(f, 0);
	g->floor_bytes = BOOT + 64 * MIB;
	g = add_ordinary(f, 0);
	run(f);
	expect_resize(f, 0, 0, 20, PLAN_GROW);

	*g = (struct plan_guest){ .device_unknown = 1, .weight = 100 };
	run(f);
	assert_null(action_for(f, 0));
	assert_int_equal(f->results[0].growth_waits, 1);
	expect_resize(f, 1, 30, 0, PLAN_NO_BID);
	expect_resize(f, 2, 0, 0, PLAN_RAISE_TO_FLOOR);
	free(f);
}

/* A guest that pins what it plugs (VFIO) grows only into memory no other
 * guest may touch yet: MemAvailable still counts what others plugged and
 * left untouched, which their reports bound (all of it without a report).
 * A guest that does not pin grows into all of MemAvailable. */
static void test_pinning_guest_grows_into_untouched_memory_only(void **state)
{
	struct fixture *f = fixture_new(2048);
	struct plan_guest *other, *vfio;

	(void)state;
	host_available(f, 512 + 200);
	other = add_ordinary(f, 40); /* 80 MiB plugged */
	bid(other, 40, 8000);
	other->mem_available_bytes = 60 * MIB; /* at most 60 untouched */
	vfio = add_ordinary(f, 0);
	bid(vfio, 100, 2000);
	run(f);
	expect_resize(f, 1, 0, 100, PLAN_GROW);

	vfio->pins_memory = 1;
	run(f);
	expect_resize(f, 1, 0, 70, PLAN_GROW); /* (200 - 60) MiB */
	other->have_report = 0; /* silent: any of its 80 MiB may be untouched */
	run(f);
	expect_resize(f, 1, 0, 60, PLAN_GROW);
	free(f);
}

/* ---- time: rates per tick_ms of wall time ---- */

/* A guest that holds nothing and bids for nothing, with an open account
 * of @balance and full credit: what it earns is its whole change. */
static struct plan_guest *add_saver(struct fixture *f, uint64_t balance)
{
	struct plan_guest *g = add_ordinary(f, 0);

	g->account_open = 1;
	g->account = (struct market_account){ balance, 100, 1000 };
	return g;
}

/* Balance earned by guest 0 in one tick @elapsed_us after the last. */
static uint64_t income_over(uint64_t supply_mib, int64_t elapsed_us)
{
	struct fixture *f = fixture_new(supply_mib);
	uint64_t earned;

	add_saver(f, 1000);
	add_saver(f, 1000);
	f->in.elapsed_us = elapsed_us;
	run(f);
	assert_int_equal(f->results[0].paid, 0);
	earned = f->results[0].account.balance - 1000;
	free(f);
	return earned;
}

/* Income is a rate: ticks twice as far apart pay twice as much, half as
 * far half as much, and a long stall pays at most PLAN_MAX_ELAPSED_TICKS
 * ticks. Before, every call paid a whole tick. */
static void test_income_per_wall_time(void **state)
{
	uint64_t one = income_over(2000, 1000 * 1000);

	(void)state;
	assert_true(one > 0);
	assert_int_equal(income_over(2000, 0), one); /* 0: one tick */
	assert_int_equal(income_over(2000, 2000 * 1000), 2 * one);
	assert_int_equal(income_over(2000, 500 * 1000), one / 2);
	assert_int_equal(income_over(2000, 3600LL * 1000 * 1000),
			 PLAN_MAX_ELAPSED_TICKS * one);
}

/* Bills are a rate too, and the savings cap stays savings_ticks of a
 * whole tick's income whatever the tick's length. */
static void test_bills_and_savings_per_wall_time(void **state)
{
	uint64_t paid[2], one;

	(void)state;
	for (int t = 0; t < 2; t++) {
		struct fixture *f = fixture_new(40); /* 20 units */
		struct plan_guest *g;

		g = add_ordinary(f, 10);
		bid(g, 30, 2000);
		g->account_open = 1;
		g->account = (struct market_account){ 1000000000, 100, 1000 };
		bid(add_ordinary(f, 10), 30, 2000);
		f->in.elapsed_us = t ? 2000 * 1000 : 1000 * 1000;
		run(f);
		assert_int_equal(f->out.pools[0].price, 2000);
		paid[t] = f->results[0].paid;
		free(f);
	}
	assert_int_equal(paid[0], 10 * 2000);
	assert_int_equal(paid[1], 2 * paid[0]);

	/* A full purse stays at the same cap after a short tick. */
	one = income_over(2000, 1000 * 1000);
	for (int t = 0; t < 2; t++) {
		struct fixture *f = fixture_new(2000);

		add_saver(f, UINT64_MAX / 2);
		add_saver(f, 0);
		f->in.elapsed_us = t ? 250 * 1000 : 1000 * 1000;
		run(f);
		assert_int_equal(f->results[0].account.balance,
				 one * f->cfg.savings_ticks);
		free(f);
	}
}

/* Credit rises and falls per tick_ms of wall time. */
static void test_credit_per_wall_time(void **state)
{
	uint32_t credit[3];
	const int64_t elapsed[3] = { 1000 * 1000, 3000 * 1000, 0 };

	(void)state;
	for (int t = 0; t < 3; t++) {
		struct fixture *f = fixture_new(2000);
		struct plan_guest *g = add_saver(f, 1000);

		f->cfg.tick_ms = t == 2 ? 500 : 1000;
		f->in.elapsed_us = t == 2 ? 1000 * 1000 : elapsed[t];
		g->account.credit = 500;
		run(f);
		credit[t] = f->results[0].account.credit;
		free(f);
	}
	assert_int_equal(credit[0], 500 + 2);
	/* Clamped to PLAN_MAX_ELAPSED_TICKS. */
	assert_int_equal(credit[1], 500 + 2 * PLAN_MAX_ELAPSED_TICKS);
	/* A 1 s wait with tick_ms 500 is two ticks' worth. */
	assert_int_equal(credit[2], 500 + 4);
}

/* max_plug_mib and max_unplug_mib are per tick_ms of wall time. */
static void test_rate_limits_per_wall_time(void **state)
{
	struct fixture *f = fixture_new(2048);

	(void)state;
	f->cfg.max_plug_mib = 20; /* 10 units a tick */
	f->cfg.max_unplug_mib = 20;
	bid(add_ordinary(f, 0), 100, 2000);
	add_ordinary(f, 100); /* bids for nothing */
	f->in.elapsed_us = 2000 * 1000;
	run(f);
	expect_resize(f, 0, 0, 20, PLAN_GROW);
	expect_resize(f, 1, 100, 80, PLAN_NO_BID);
	f->in.elapsed_us = 500 * 1000;
	run(f);
	expect_resize(f, 0, 0, 5, PLAN_GROW);
	expect_resize(f, 1, 100, 95, PLAN_NO_BID);
	free(f);
}

/* A partial round (an urgent report) grows its guest out of memory free
 * now, and nothing else: no other guest moves though the market would
 * move it, nobody pays or earns, and credit stays. */
static void test_partial_round(void **state)
{
	struct fixture *f = fixture_new(120); /* 60 units */
	struct plan_guest before[4];
	struct plan_guest *g;

	(void)state;
	g = add_ordinary(f, 10); /* urgent: bids for 30 */
	bid(g, 30, 5000);
	g->account_open = 1;
	g->account = (struct market_account){ 100000, 100, 900 };
	g = add_ordinary(f, 20); /* outbid in a whole tick */
	bid(g, 5, 500);
	g->account_open = 1;
	g->account = (struct market_account){ 100000, 100, 900 };
	bid(add_ordinary(f, 0), 10, 4000); /* would grow in a whole tick */
	g = add_ordinary(f, 0); /* below its floor */
	g->floor_bytes = BOOT + 64 * MIB;
	memcpy(before, f->g, sizeof(before));

	run(f);
	expect_resize(f, 0, 10, 30, PLAN_GROW);
	assert_non_null(action_for(f, 1));
	assert_non_null(action_for(f, 2));
	assert_non_null(action_for(f, 3));

	f->in.partial = 1;
	f->in.urgent = 0;
	run(f);
	assert_int_equal(f->out.n_actions, 1);
	/* It gets the 20 units it wants out of the 30 free now. */
	expect_resize(f, 0, 10, 30, PLAN_GROW);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(f->results[i].paid, 0);
		if (before[i].account_open)
			assert_memory_equal(&f->results[i].account,
					    &before[i].account,
					    sizeof(before[i].account));
	}
	/* An urgent report never costs its guest memory early. */
	f->in.urgent = 1;
	run(f);
	assert_int_equal(f->out.n_actions, 0);
	/* Nor does it let its guest past its rate limit. */
	f->cfg.max_plug_mib = 8;
	f->in.urgent = 0;
	run(f);
	expect_resize(f, 0, 10, 14, PLAN_GROW);
	/* A partial round for no guest is refused. */
	f->in.urgent = 4;
	f->out.actions = f->actions;
	f->out.guests = f->results;
	assert_int_equal(plan_tick(&f->in, &f->out), -EINVAL);
	free(f);
}

/* ---- purity ---- */

/* The same input twice gives byte-identical output, and the input is not
 * written to. */
static void test_purity(void **state)
{
	struct fixture *f = fixture_new(1024);
	struct plan_action actions[MAX_GUESTS];
	struct plan_guest_result results[MAX_GUESTS];
	struct plan_guest guests[MAX_GUESTS];
	struct plan_result out;
	struct plan_host host;
	struct rammd_config cfg;
	struct hugepool_size *s;
	struct plan_guest *g;

	(void)state;
	s = add_hugepool(f, PAGE_2M, 64);
	set_node_free(f, s, 0, 10);
	set_node_free(f, s, 1, 5);
	bid(add_ordinary(f, 20), 10, 500);
	g = add_ordinary(f, 5);
	bid(g, 20, 5000);
	bid(g, 20, 1000);
	offer(g, 2);
	g = add_guest(f, PAGE_2M, 2 * MIB, 3);
	g->host_nodes = 0x2;
	bid(g, 50, 2000);
	g = add_ordinary(f, 0);
	g->floor_bytes = BOOT + 64 * MIB;
	g->report_us = 0;
	f->in.host.meminfo_ok = 1;
	f->in.host.mem_total_bytes = 16 * GIB;
	f->in.host.mem_available_bytes = 8 * GIB;
	memcpy(guests, f->g, sizeof(guests));
	host = f->in.host;
	cfg = f->cfg;

	run(f);
	assert_true(f->out.n_actions > 0);
	memcpy(actions, f->actions, sizeof(actions));
	memcpy(results, f->results, sizeof(results));
	out = f->out;
	run(f);
	assert_int_equal(f->out.n_actions, out.n_actions);
	assert_memory_equal(f->actions, actions,
			    f->out.n_actions * sizeof(*actions));
	assert_memory_equal(f->results, results,
			    f->in.n_guests * sizeof(*results));
	assert_int_equal(f->out.n_pools, out.n_pools);
	assert_memory_equal(f->out.pools, out.pools,
			    out.n_pools * sizeof(out.pools[0]));
	assert_int_equal(f->out.emergency, out.emergency);

	assert_memory_equal(f->g, guests, sizeof(guests));
	assert_memory_equal(&f->in.host, &host, sizeof(host));
	assert_memory_equal(&f->cfg, &cfg, sizeof(cfg));
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pools_separate_units_and_prices),
		cmocka_unit_test(test_pool_hugetlb_grows_into_its_nodes_free_pages),
		cmocka_unit_test(test_pools_sharing_nodes_never_share_a_page),
		cmocka_unit_test(test_raise_to_floor_takes_free_pages),
		cmocka_unit_test(test_too_many_pools),
		cmocka_unit_test(test_not_in_market_gets_no_pool),
		cmocka_unit_test(test_lease),
		cmocka_unit_test(test_short_bid_breaks_lease),
		cmocka_unit_test(test_short_bid_after_credit),
		cmocka_unit_test(test_short_bid_skips_dip),
		cmocka_unit_test(test_short_bid_takes_what_it_lacks_from_idle_guest),
		cmocka_unit_test(test_short_need_taken_once),
		cmocka_unit_test(test_stopped_shrink_holds_against_short_bids),
		cmocka_unit_test(test_claim_that_just_fell_holds_against_short_bids),
		cmocka_unit_test(test_claim_peak_update),
		cmocka_unit_test(test_rising_working_set_keeps_its_rise),
		cmocka_unit_test(test_rise_update),
		cmocka_unit_test(test_return_window),
		cmocka_unit_test(test_return_windows_overlap),
		cmocka_unit_test(test_bill_what_it_holds),
		cmocka_unit_test(test_stuck_window),
		cmocka_unit_test(test_offers_taken_before_held_units),
		cmocka_unit_test(test_rate_limit_plug),
		cmocka_unit_test(test_rate_limit_unplug),
		cmocka_unit_test(test_rate_limit_at_least_one_unit),
		cmocka_unit_test(test_quantum),
		cmocka_unit_test(test_emergency),
		cmocka_unit_test(test_emergency_never_below_floor),
		cmocka_unit_test(test_emergency_no_second_cut_while_resizing),
		cmocka_unit_test(test_freeze_stale_report),
		cmocka_unit_test(test_freeze_report_in_other_unit),
		cmocka_unit_test(test_freeze_resizing),
		cmocka_unit_test(test_freeze_excluded),
		cmocka_unit_test(test_freeze_device_lost),
		cmocka_unit_test(test_shrink_in_flight_stopped_by_bid),
		cmocka_unit_test(test_shrink_in_flight_not_deepened),
		cmocka_unit_test(test_shrink_in_flight_stopped_by_a_higher_bid),
		cmocka_unit_test(test_dip_must_last),
		cmocka_unit_test(test_drain),
		cmocka_unit_test(test_raise_to_floor),
		cmocka_unit_test(test_growth_only_from_free_memory),
		cmocka_unit_test(test_accounts),
		cmocka_unit_test(test_action_order),
		cmocka_unit_test(test_growth_fits_host_memavailable),
		cmocka_unit_test(test_growth_fits_host_memavailable_less_in_flight),
		cmocka_unit_test(test_no_growth_while_a_device_is_unknown),
		cmocka_unit_test(test_pinning_guest_grows_into_untouched_memory_only),
		cmocka_unit_test(test_income_per_wall_time),
		cmocka_unit_test(test_bills_and_savings_per_wall_time),
		cmocka_unit_test(test_credit_per_wall_time),
		cmocka_unit_test(test_rate_limits_per_wall_time),
		cmocka_unit_test(test_partial_round),
		cmocka_unit_test(test_purity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
