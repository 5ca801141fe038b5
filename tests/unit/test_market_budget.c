/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the market's budgets, credit scores, emergency clearing and
 * whole rounds (broker/market/market.c, the second half of market.h). The clearing
 * itself is tested in test_market.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "market.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const struct market_credit_params credit_params = {
	.claim_price = 8000,
	.idle_slack_pct = 10,
	.idle_slack_units = 2,
	.fall_idle = 20,
	.fall_unplug = 200,
	.rise = 2,
};

/* xorshift64*, as in test_market.c. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

static uint32_t rng_below(uint64_t *s, uint32_t n)
{
	return (uint32_t)((rng_next(s) >> 32) % n);
}

static int effective_ok(const struct ramm_bid_step *steps, size_t n,
			uint32_t credit, uint64_t used, uint64_t balance,
			struct ramm_bid_step *out)
{
	int got = market_effective_bid(steps, n, credit, used, balance, out);

	assert_true(got >= 0 && got <= (int)MARKET_MAX_STEPS);
	return got;
}

/* ---- market_effective_bid ---- */

static void test_effective_credit_scales(void **state)
{
	const struct ramm_bid_step raw[] = { { 10, 1000 }, { 5, 3 } };
	struct ramm_bid_step out[MARKET_MAX_STEPS];

	(void)state;
	assert_int_equal(effective_ok(raw, 2, 500, 0, UINT64_MAX, out), 2);
	assert_int_equal(out[0].units, 10);
	assert_int_equal(out[0].price, 500);
	assert_int_equal(out[1].units, 5);
	assert_int_equal(out[1].price, 1);
	/* 3 * 0.1 rounds to 0: that unit is no bid at all. */
	assert_int_equal(effective_ok(raw, 2, 100, 0, UINT64_MAX, out), 1);
	assert_int_equal(out[0].price, 100);
	/* Credit outside its range is clamped, not trusted. */
	assert_int_equal(effective_ok(raw, 2, 0, 0, UINT64_MAX, out), 1);
	assert_int_equal(out[0].price, 100);
	assert_int_equal(effective_ok(raw, 2, 5000, 0, UINT64_MAX, out), 2);
	assert_int_equal(out[0].price, 1000);
	/* The 4 units it uses keep their price; its credit discounts the
	 * rest of its claim. */
	assert_int_equal(effective_ok(raw, 2, 500, 4, UINT64_MAX, out), 3);
	assert_int_equal(out[0].units, 4);
	assert_int_equal(out[0].price, 1000);
	assert_int_equal(out[1].units, 6);
	assert_int_equal(out[1].price, 500);
	assert_int_equal(out[2].units, 5);
	assert_int_equal(out[2].price, 1);
	/* Used beyond the curve changes nothing. */
	assert_int_equal(effective_ok(raw, 2, 500, 99, UINT64_MAX, out), 2);
	assert_int_equal(out[1].price, 3);
}

static void test_effective_budget_splits(void **state)
{
	const struct ramm_bid_step raw[] = { { 10, 100 }, { 10, 30 } };
	struct ramm_bid_step out[MARKET_MAX_STEPS];

	(void)state;
	/* 500 pays 100 for 5 units; unit k of 6..10 at most 500/k; 30 for
	 * 16 units (480), then unit k of 17..20 at 500/k. */
	static const struct ramm_bid_step want[] = {
		{ 5, 100 }, { 1, 83 }, { 1, 71 }, { 1, 62 }, { 1, 55 }, { 1, 50 },
		{ 6, 30 }, { 1, 29 }, { 1, 27 }, { 1, 26 }, { 1, 25 },
	};

	assert_int_equal(effective_ok(raw, 2, 1000, 0, 500, out), 11);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(out[i].units, want[i].units);
		assert_int_equal(out[i].price, want[i].price);
	}
	/* Broke: no bid. */
	assert_int_equal(effective_ok(raw, 2, 1000, 0, 0, out), 0);
	/* Rich enough: unchanged. */
	assert_int_equal(effective_ok(raw, 2, 1000, 0, 1300, out), 2);
}

static void test_effective_rejects_bad_curves(void **state)
{
	const struct ramm_bid_step rising[] = { { 1, 5 }, { 1, 6 } };
	struct ramm_bid_step out[MARKET_MAX_STEPS];

	(void)state;
	out[0].units = 77;
	assert_int_equal(market_effective_bid(rising, 2, 1000, 0, 10, out),
			 -EINVAL);
	assert_int_equal(out[0].units, 77);
	assert_int_equal(market_effective_bid(rising, 1, 1000, 0, 10, NULL),
			 -EINVAL);
	assert_int_equal(market_effective_bid(NULL, 1, 1000, 0, 10, out),
			 -EINVAL);
	assert_int_equal(market_effective_bid(NULL, 0, 1000, 0, 10, out), 0);
}

/*
 * Random curves: the effective curve is a valid curve of at most
 * MARKET_MAX_STEPS steps, never bids above credit * raw nor above
 * balance / k for its k-th unit, and equals credit * raw wherever the
 * balance affords that price for the whole raw step.
 */
static void test_effective_random(void **state)
{
	uint64_t rng = UINT64_C(0x5eed5eed12345678);
	int n;

	(void)state;
	for (n = 0; n < 3000; n++) {
		struct ramm_bid_step raw[RAMM_MAX_BID_STEPS];
		struct ramm_bid_step out[MARKET_MAX_STEPS];
		size_t n_raw = rng_below(&rng, RAMM_MAX_BID_STEPS + 1);
		uint32_t price = 1 + rng_below(&rng, 9000);
		uint32_t credit = MARKET_CREDIT_MIN +
				  rng_below(&rng, MARKET_CREDIT_MAX - MARKET_CREDIT_MIN + 1);
		uint64_t balance = rng_below(&rng, 4) == 0
					   ? UINT64_MAX
					   : rng_below(&rng, 2000000);
		uint64_t used = rng_below(&rng, 2) ? rng_below(&rng, 8000) : 0;
		uint64_t raw_end = 0, k;
		size_t i, o = 0;
		uint64_t out_end;
		int got;

		for (i = 0; i < n_raw; i++) {
			price -= rng_below(&rng, price / 4 + 1);
			raw[i].units = 1 + rng_below(&rng, 300);
			raw[i].price = price;
		}
		got = effective_ok(raw, n_raw, credit, used, balance, out);
		for (i = 0; i < (size_t)got; i++) {
			assert_true(out[i].units >= 1 && out[i].price >= 1);
			if (i > 0)
				assert_true(out[i].price <= out[i - 1].price);
		}
		/* Walk both curves unit by unit, step by step. */
		out_end = got > 0 ? out[0].units : 0;
		for (i = 0; i < n_raw; i++) {
			uint64_t start = raw_end;

			raw_end += raw[i].units;
			for (k = start + 1; k <= raw_end; k++) {
				uint64_t scaled = k <= used ? raw[i].price
					: (uint64_t)raw[i].price * credit /
					  MARKET_CREDIT_MAX;
				uint32_t eff;

				while (o < (size_t)got && k > out_end) {
					o++;
					if (o < (size_t)got)
						out_end += out[o].units;
				}
				eff = o < (size_t)got ? out[o].price : 0;
				assert_true(eff <= scaled);
				assert_true(balance == UINT64_MAX ||
					    (uint64_t)eff * k <= balance);
				if ((balance == UINT64_MAX ||
				     (used == 0 && scaled * raw_end <= balance)) &&
				    eff != scaled)
					fail_msg("case %d unit %llu: %u, want %llu "
						 "(balance %llu)", n,
						 (unsigned long long)k, eff,
						 (unsigned long long)scaled,
						 (unsigned long long)balance);
			}
		}
	}
}

/* ---- market_settle ---- */

static void test_settle_pays_and_earns(void **state)
{
	const struct market_budget budget = { .income_pool = 300,
					      .savings_ticks = 10 };
	struct market_account acc[] = {
		{ .balance = 1000, .weight = 100, .credit = 1000 },
		{ .balance = 50, .weight = 200, .credit = 1000 },
		{ .balance = 5000, .weight = 0, .credit = 1000 },
	};
	const uint32_t held[] = { 4, 10, 1 };
	uint64_t spent[3];

	(void)state;
	market_settle(&budget, acc, held, 3, 100, spent);
	/* 400 due, paid; earns 300 * 100/300. */
	assert_int_equal(spent[0], 400);
	assert_int_equal(acc[0].balance, 1000 - 400 + 100);
	/* 1000 due but only 50 there: pays 50, never more. */
	assert_int_equal(spent[1], 50);
	assert_int_equal(acc[1].balance, 200);
	/* No weight, no income; and no savings cap above 0. */
	assert_int_equal(spent[2], 100);
	assert_int_equal(acc[2].balance, 0);

	/* Savings are capped at savings_ticks of income. */
	acc[0].balance = 999999;
	market_settle(&budget, acc, (const uint32_t[]){ 0, 0, 0 }, 3, 0, NULL);
	assert_int_equal(acc[0].balance, 100 * 10);
}

/* A settlement for part of a tick pays and charges that part; the
 * savings cap stays that of a whole tick. */
static void test_settle_part_of_a_tick(void **state)
{
	const struct market_budget half = { .income_pool = 300,
					    .savings_ticks = 10,
					    .tick_permille = 500 };
	struct market_account acc[] = {
		{ .balance = 1000, .weight = 100, .credit = 1000 },
		{ .balance = 999999, .weight = 200, .credit = 1000 },
	};
	uint64_t spent[2];

	(void)state;
	assert_int_equal(market_bill(&half, 4, 100), 200);
	market_settle(&half, acc, (const uint32_t[]){ 4, 0 }, 2, 100, spent);
	assert_int_equal(spent[0], 200);
	assert_int_equal(acc[0].balance, 1000 - 200 + 50);
	assert_int_equal(spent[1], 0);
	assert_int_equal(acc[1].balance, 200 * 10);
}

/* Spending never exceeds the balance, on random accounts. */
static void test_settle_random_never_overspends(void **state)
{
	uint64_t rng = UINT64_C(0xfeedfacecafebeef);
	int n;

	(void)state;
	for (n = 0; n < 2000; n++) {
		struct market_budget budget = {
			.income_pool = rng_below(&rng, 100000),
			.savings_ticks = 1 + rng_below(&rng, 400),
		};
		struct market_account acc[8], before[8];
		uint32_t held[8];
		uint64_t spent[8], total_weight = 0;
		uint32_t price = rng_below(&rng, 9000);
		size_t i, m = 1 + rng_below(&rng, 8);

		for (i = 0; i < m; i++) {
			acc[i].balance = rng_below(&rng, 3) ? rng_next(&rng) >> 20
							    : rng_below(&rng, 100);
			acc[i].weight = rng_below(&rng, 1000);
			acc[i].credit = MARKET_CREDIT_MAX;
			held[i] = rng_below(&rng, 100000);
			total_weight += acc[i].weight;
		}
		memcpy(before, acc, sizeof(acc));
		market_settle(&budget, acc, held, m, price, spent);
		for (i = 0; i < m; i++) {
			uint64_t income = market_income(&budget, &before[i],
							total_weight);

			assert_true(spent[i] <= before[i].balance);
			assert_true(spent[i] == (uint64_t)held[i] * price ||
				    spent[i] == before[i].balance);
			assert_true(acc[i].balance <= income * budget.savings_ticks);
		}
	}
}

/* ---- market_credit_next ---- */

static void test_credit_rules(void **state)
{
	struct market_conduct honest = { .held_units = 100,
					 .claimed_units = 100,
					 .used_units = 95 };
	struct market_conduct idle = { .held_units = 100,
				       .claimed_units = 100,
				       .used_units = 0 };
	struct market_conduct missed = { .held_units = 10,
					 .claimed_units = 10,
					 .used_units = 10,
					 .unplug_asked = 40,
					 .unplug_done = 10 };

	(void)state;
	assert_int_equal(market_credit_next(500, &honest, &credit_params), 502);
	assert_int_equal(market_credit_next(1000, &honest, &credit_params),
			 1000);
	/* 100 held, 0 used, slack 10 + 2: over-claim 88 of 100 -> -17. */
	assert_int_equal(market_credit_next(1000, &idle, &credit_params), 983);
	assert_int_equal(market_credit_next(105, &idle, &credit_params),
			 MARKET_CREDIT_MIN);
	/* 30 of 40 missed: -150. */
	assert_int_equal(market_credit_next(1000, &missed, &credit_params),
			 850);
	missed.unplug_done = 40;
	assert_int_equal(market_credit_next(1000, &missed, &credit_params),
			 1000);
	/* Memory bid for below the claim price may sit idle freely. */
	idle.claimed_units = 0;
	assert_int_equal(market_credit_next(700, &idle, &credit_params), 702);
	/* Out-of-range input is clamped. */
	assert_int_equal(market_credit_next(0, &honest, &credit_params),
			 MARKET_CREDIT_MIN + 2);
}

/* ---- market_account_format / parse ---- */

static void test_account_round_trip(void **state)
{
	const struct market_account acc = { .balance = UINT64_MAX,
					    .weight = 250,
					    .credit = 731 };
	struct market_account back;
	char buf[128];
	int len;

	(void)state;
	len = market_account_format(&acc, buf, sizeof(buf));
	assert_true(len > 0);
	assert_string_equal(buf, "balance=18446744073709551615 weight=250 "
				 "credit=731");
	assert_int_equal(market_account_parse(buf, (size_t)len, &back), 0);
	assert_memory_equal(&acc, &back, sizeof(acc));
	assert_int_equal(market_account_parse("credit=100 weight=1 balance=0",
					      29, &back), 0);
	assert_int_equal(back.credit, 100);
	assert_int_equal(market_account_format(&acc, buf, 10), -ENOSPC);
}

static void test_account_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"balance=1 weight=1",
		"balance=1 weight=1 credit=1000 credit=1000",
		"balance=1 weight=1 credit=99",
		"balance=1 weight=1 credit=1001",
		"balance=1 weight=1 credit=500 ",
		"balance=1 weight=1 credit=500 x=1",
		"balance=18446744073709551616 weight=1 credit=500",
		"balance=1 weight=4294967296 credit=500",
		"balance=-1 weight=1 credit=500",
		"balance=1  weight=1 credit=500",
		"balance= weight=1 credit=500",
		"balancex=1 weight=1 credit=500",
		"balance=1\nweight=1 credit=500",
	};
	struct market_account acc = { 1, 2, 300 }, before = acc;
	char huge[400];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		if (market_account_parse(bad[i], strlen(bad[i]), &acc) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_memory_equal(&acc, &before, sizeof(acc));
	}
	memset(huge, '0', sizeof(huge));
	memcpy(huge, "balance=", 8);
	assert_int_equal(market_account_parse(huge, sizeof(huge), &acc),
			 -EINVAL);
	/* Not NUL-terminated: only @len bytes are read. */
	assert_int_equal(market_account_parse("balance=1 weight=1 credit=500"
					      "garbage", 29, &acc), 0);
}

/* ---- market_round ---- */

static struct market_guest bidder(uint32_t cap, uint32_t current,
				  const struct ramm_bid_step *steps, size_t n)
{
	return (struct market_guest){ .cap_units = cap,
				      .current_units = current,
				      .max_plug_units = MARKET_UNLIMITED,
				      .max_unplug_units = MARKET_UNLIMITED,
				      .steps = steps,
				      .n_steps = n };
}

/*
 * A guest that bids the top price for everything but uses little loses
 * credit, and the honest guest gets what it needs.
 */
static void test_round_overbidder_loses_credit(void **state)
{
	const struct ramm_bid_step honest[] = { { 60, 8000 }, { 20, 1000 } };
	const struct ramm_bid_step greedy[] = { { 100, 8000 } };
	const struct market_params params = { .supply_units = 100,
					       .move_cost = 10 };
	struct market_account acc[2] = {
		{ .balance = 0, .weight = 100, .credit = MARKET_CREDIT_MAX },
		{ .balance = 0, .weight = 100, .credit = MARKET_CREDIT_MAX },
	};
	struct market_guest g[2];
	struct market_conduct conduct[2];
	uint32_t targets[2] = { 0, 0 };
	struct market_result res;
	int tick;

	(void)state;
	for (tick = 0; tick < 200; tick++) {
		g[0] = bidder(100, targets[0], honest, ARRAY_LEN(honest));
		g[1] = bidder(100, targets[1], greedy, ARRAY_LEN(greedy));
		conduct[0] = (struct market_conduct){
			.held_units = targets[0], .claimed_units = 60,
			.used_units = targets[0] < 60 ? targets[0] : 60 };
		conduct[1] = (struct market_conduct){
			.held_units = targets[1], .claimed_units = 100,
			.used_units = targets[1] < 10 ? targets[1] : 10 };
		assert_int_equal(market_round(&params, NULL, &credit_params, g,
					      acc, tick ? conduct : NULL, 2,
					      targets, &res), 0);
		assert_true(targets[0] + targets[1] <= 100);
	}
	assert_int_equal(acc[1].credit, MARKET_CREDIT_MIN);
	assert_int_equal(acc[0].credit, MARKET_CREDIT_MAX);
	/* 60 at 8000 beat 800; then 20 at 1000 beat 800 too. */
	assert_int_equal(targets[0], 80);
	assert_int_equal(targets[1], 20);
}

/*
 * Two guests that both bid the top price for more than there is: budgets
 * drain and the long-run split follows the weights, 3:1.
 */
static void test_round_budgets_follow_weights(void **state)
{
	const struct ramm_bid_step want[] = { { 100, 8000 } };
	const struct market_params params = { .supply_units = 100,
					       .move_cost = 10,
					       .quantum_units = 2 };
	const struct market_budget budget = { .income_pool = 100 * 1000,
					      .savings_ticks = 20 };
	struct market_account acc[2] = {
		{ .balance = 0, .weight = 300, .credit = MARKET_CREDIT_MAX },
		{ .balance = 0, .weight = 100, .credit = MARKET_CREDIT_MAX },
	};
	struct market_guest g[2];
	uint32_t targets[2] = { 0, 0 };
	uint64_t sum[2] = { 0, 0 };
	struct market_result res;
	int tick;

	(void)state;
	for (tick = 0; tick < 2000; tick++) {
		g[0] = bidder(100, targets[0], want, 1);
		g[1] = bidder(100, targets[1], want, 1);
		assert_int_equal(market_round(&params, &budget, &credit_params,
					      g, acc, NULL, 2, targets, &res),
				 0);
		/* Every target is carried out at once here. */
		market_settle(&budget, acc, targets, 2, res.price, NULL);
		assert_true(targets[0] + targets[1] <= 100);
		if (tick >= 1000) {
			sum[0] += targets[0];
			sum[1] += targets[1];
		}
	}
	print_message("long-run shares: %llu %llu\n",
		      (unsigned long long)sum[0] / 1000,
		      (unsigned long long)sum[1] / 1000);
	assert_true(sum[0] / 1000 >= 70 && sum[0] / 1000 <= 80);
	assert_true(sum[1] / 1000 >= 20 && sum[1] / 1000 <= 30);
}

/* With unchanged bids and budgets that cover the bills: no moves. */
static void test_round_stable(void **state)
{
	const struct ramm_bid_step a[] = { { 30, 900 }, { 40, 200 } };
	const struct ramm_bid_step b[] = { { 50, 700 }, { 40, 400 } };
	const struct market_params params = { .supply_units = 100,
					       .move_cost = 10,
					       .quantum_units = 2 };
	const struct market_budget budget = { .income_pool = 1000000,
					      .savings_ticks = 100 };
	struct market_account acc[2] = {
		{ .balance = 100000, .weight = 100, .credit = 600 },
		{ .balance = 100000, .weight = 100, .credit = 1000 },
	};
	struct market_guest g[2];
	uint32_t targets[2] = { 0, 0 }, first[2];
	struct market_result res;
	int tick;

	(void)state;
	for (tick = 0; tick < 50; tick++) {
		g[0] = bidder(100, targets[0], a, 2);
		g[1] = bidder(100, targets[1], b, 2);
		assert_int_equal(market_round(&params, &budget, &credit_params,
					      g, acc, NULL, 2, targets, &res),
				 0);
		/* Every target is carried out at once here. */
		market_settle(&budget, acc, targets, 2, res.price, NULL);
		if (tick == 0)
			memcpy(first, targets, sizeof(first));
		assert_memory_equal(first, targets, sizeof(first));
	}
	/* a's 900 counts 540 at credit 0.6: below b's 700, above its 400. */
	assert_int_equal(targets[1], 70);
	assert_int_equal(targets[0], 30);
	assert_int_equal(res.price, 400);
}

/*
 * Emergency: supply falls under what is held. The lowest effective bids
 * give memory back at once, past the unplug limit; nobody grows; the
 * frozen guest keeps its memory.
 */
static void test_round_emergency(void **state)
{
	const struct ramm_bid_step low[] = { { 50, 300 } };
	const struct ramm_bid_step high[] = { { 80, 2000 } };
	struct market_params params = { .supply_units = 70, .move_cost = 10,
					.quantum_units = 8, .emergency = 1 };
	struct market_account acc[3] = {
		{ .weight = 100, .credit = MARKET_CREDIT_MAX },
		{ .weight = 100, .credit = MARKET_CREDIT_MAX },
		{ .weight = 100, .credit = MARKET_CREDIT_MAX },
	};
	struct market_guest g[3];
	uint32_t targets[3];
	struct market_result res;

	(void)state;
	g[0] = bidder(100, 40, low, 1);
	g[1] = bidder(100, 30, high, 1);
	g[2] = (struct market_guest){ .cap_units = 100, .current_units = 20,
				      .frozen = 1 };
	g[0].max_unplug_units = g[1].max_unplug_units = 2;
	assert_int_equal(market_round(&params, NULL, &credit_params, g, acc,
				      NULL, 3, targets, &res), 0);
	assert_int_equal(targets[2], 20);
	assert_int_equal(targets[1], 30); /* would grow to 80, but no growth */
	assert_int_equal(targets[0], 20); /* 20 back at once, past the limit */

	/* Not an emergency, with room: the unplug limit holds, and the
	 * high bidder grows into what is left. */
	params.emergency = 0;
	params.supply_units = 100;
	assert_int_equal(market_round(&params, NULL, &credit_params, g, acc,
				      NULL, 3, targets, &res), 0);
	assert_int_equal(targets[0], 38);
	assert_int_equal(targets[1], 42);
}

static void test_round_failure_leaves_accounts(void **state)
{
	const struct ramm_bid_step rising[] = { { 1, 5 }, { 1, 6 } };
	const struct market_params params = { .supply_units = 10 };
	const struct market_budget budget = { .income_pool = 100,
					      .savings_ticks = 10 };
	struct market_account acc = { .balance = 7, .weight = 1, .credit = 500 };
	const struct market_conduct conduct = { .held_units = 1 };
	struct market_guest g = bidder(10, 0, rising, 2);
	uint32_t target = 99;
	struct market_result res;

	(void)state;
	assert_int_equal(market_round(&params, &budget, &credit_params, &g,
				      &acc, &conduct, 1, &target, &res),
			 -EINVAL);
	assert_int_equal(acc.balance, 7);
	assert_int_equal(acc.credit, 500);
	assert_int_equal(target, 99);
	assert_int_equal(market_round(&params, &budget, NULL, &g, &acc, NULL,
				      1, &target, &res), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_effective_credit_scales),
		cmocka_unit_test(test_effective_budget_splits),
		cmocka_unit_test(test_effective_rejects_bad_curves),
		cmocka_unit_test(test_effective_random),
		cmocka_unit_test(test_settle_pays_and_earns),
		cmocka_unit_test(test_settle_part_of_a_tick),
		cmocka_unit_test(test_settle_random_never_overspends),
		cmocka_unit_test(test_credit_rules),
		cmocka_unit_test(test_account_round_trip),
		cmocka_unit_test(test_account_parse_rejects),
		cmocka_unit_test(test_round_overbidder_loses_credit),
		cmocka_unit_test(test_round_budgets_follow_weights),
		cmocka_unit_test(test_round_stable),
		cmocka_unit_test(test_round_emergency),
		cmocka_unit_test(test_round_failure_leaves_accounts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
