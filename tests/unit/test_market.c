/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the market engine (broker/market/market.c).
 *
 * Three layers: hand-made cases for each rule in market.h; seeded random
 * cases checked against a slow unit-by-unit reference written straight from
 * the contract, plus the invariants from DESIGN.md; and a brute-force search
 * proving the allocation is value-maximising on small instances.
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

#define STEPS(...) ((const struct ramm_bid_step[]){ __VA_ARGS__ })
#define N_STEPS(...) \
	(sizeof(STEPS(__VA_ARGS__)) / sizeof(struct ramm_bid_step))
/* A guest with no rate limits bidding the given steps. */
#define BIDDER(cap, current, ...)                                          \
	((struct market_guest){ .cap_units = (cap),                        \
				.current_units = (current),                \
				.max_plug_units = MARKET_UNLIMITED,        \
				.max_unplug_units = MARKET_UNLIMITED,      \
				.steps = STEPS(__VA_ARGS__),               \
				.n_steps = N_STEPS(__VA_ARGS__) })
#define NO_BID(cap, current)                                               \
	((struct market_guest){ .cap_units = (cap),                        \
				.current_units = (current),                \
				.max_plug_units = MARKET_UNLIMITED,        \
				.max_unplug_units = MARKET_UNLIMITED })
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static struct market_params supply_of(uint64_t supply)
{
	return (struct market_params){ .supply_units = supply };
}

static struct market_result clear_ok(const struct market_params *params,
				     const struct market_guest *guests,
				     size_t n, uint32_t *targets)
{
	struct market_result res;

	assert_int_equal(market_clear(params, guests, n, targets, &res), 0);
	return res;
}

/* ---- market_validate_bid ---- */

static void test_validate_bid(void **state)
{
	struct ramm_bid_step many[RAMM_MAX_BID_STEPS + 1];
	size_t i;

	(void)state;
	assert_int_equal(market_validate_bid(NULL, 0), 0);
	assert_int_equal(market_validate_bid(STEPS({ 1, 5 }), 1), 0);
	assert_int_equal(market_validate_bid(STEPS({ 3, 5 }, { 2, 5 },
						   { 1, 0 }), 3), 0);
	assert_int_equal(market_validate_bid(STEPS({ 1, RAMM_MAX_PRICE }), 1),
			 0);
	assert_int_equal(market_validate_bid(STEPS({ UINT32_MAX, 1 },
						   { UINT32_MAX, 1 }), 2), 0);

	assert_int_equal(market_validate_bid(NULL, 1), -EINVAL);
	assert_int_equal(market_validate_bid(STEPS({ 0, 5 }), 1), -EINVAL);
	assert_int_equal(market_validate_bid(STEPS({ 2, 5 }, { 0, 1 }), 2),
			 -EINVAL);
	assert_int_equal(market_validate_bid(STEPS({ 1, RAMM_MAX_PRICE + 1 }),
					     1), -EINVAL);
	assert_int_equal(market_validate_bid(STEPS({ 1, 4 }, { 1, 5 }), 2),
			 -EINVAL);
	assert_int_equal(market_validate_bid(STEPS({ 1, 0 }, { 1, 1 }), 2),
			 -EINVAL);

	for (i = 0; i < ARRAY_LEN(many); i++)
		many[i] = (struct ramm_bid_step){ .units = 1, .price = 1 };
	assert_int_equal(market_validate_bid(many, RAMM_MAX_BID_STEPS), 0);
	assert_int_equal(market_validate_bid(many, RAMM_MAX_BID_STEPS + 1),
			 -EINVAL);
}

/* ---- fixed cases, one rule each ---- */

static void test_empty_market(void **state)
{
	struct market_params params = supply_of(100);
	struct market_result res;

	(void)state;
	res = clear_ok(&params, NULL, 0, NULL);
	assert_int_equal(res.price, 0);
	assert_int_equal(res.allocated_units, 0);
	assert_int_equal(res.demand_units, 0);
}

static void test_supply_not_binding(void **state)
{
	struct market_params params = supply_of(100);
	struct market_guest guests[] = {
		BIDDER(50, 0, { 10, 5 }, { 5, 3 }, { 20, 0 }),
		BIDDER(8, 4, { 3, 7 }),
	};
	uint32_t targets[2];
	struct market_result res;

	(void)state;
	res = clear_ok(&params, guests, 2, targets);
	assert_int_equal(targets[0], 15);
	assert_int_equal(targets[1], 3);
	assert_int_equal(res.price, 0);
	assert_int_equal(res.allocated_units, 18);
	assert_int_equal(res.demand_units, 18);
}

static void test_binding_highest_bids_win(void **state)
{
	struct market_params params = supply_of(10);
	struct market_guest guests[] = {
		BIDDER(100, 0, { 6, 10 }),
		BIDDER(100, 0, { 6, 5 }),
		BIDDER(100, 0, { 3, 2 }),
	};
	uint32_t targets[3];
	struct market_result res;

	(void)state;
	res = clear_ok(&params, guests, 3, targets);
	assert_int_equal(targets[0], 6);
	assert_int_equal(targets[1], 4);
	assert_int_equal(targets[2], 0);
	/* B's two unserved units at 5 are the best rejected bid. */
	assert_int_equal(res.price, 5);
	assert_int_equal(res.allocated_units, 10);
	assert_int_equal(res.demand_units, 15);
}

static void test_price_is_highest_rejected_bid(void **state)
{
	struct market_params params = supply_of(8);
	struct market_guest guests[] = {
		BIDDER(100, 0, { 4, 9 }, { 4, 3 }),
		BIDDER(100, 0, { 4, 6 }, { 4, 1 }),
	};
	uint32_t targets[2];
	struct market_result res;

	(void)state;
	res = clear_ok(&params, guests, 2, targets);
	assert_int_equal(targets[0], 4);
	assert_int_equal(targets[1], 4);
	assert_int_equal(res.price, 3);

	/* One more unit of supply goes to the best rejected bid. */
	params.supply_units = 9;
	res = clear_ok(&params, guests, 2, targets);
	assert_int_equal(targets[0], 5);
	assert_int_equal(targets[1], 4);
	assert_int_equal(res.price, 3);

	/* Enough for everyone: the price falls to 0. */
	params.supply_units = 16;
	res = clear_ok(&params, guests, 2, targets);
	assert_int_equal(res.price, 0);
	assert_int_equal(res.allocated_units, 16);
}

static void test_caps(void **state)
{
	struct market_params params = supply_of(100);
	struct market_guest guests[] = {
		BIDDER(3, 0, { 10, 5 }),
		BIDDER(0, 0, { 10, 5 }),
		BIDDER(7, 2, { 4, 9 }, { 10, 1 }),
	};
	uint32_t targets[3];
	struct market_result res;

	(void)state;
	res = clear_ok(&params, guests, 3, targets);
	assert_int_equal(targets[0], 3);
	assert_int_equal(targets[1], 0);
	assert_int_equal(targets[2], 7);
	assert_int_equal(res.demand_units, 3 + 0 + 7);
	assert_int_equal(res.price, 0);

	/* Units above a cap are not "rejected": they never compete. */
	params.supply_units = 10;
	res = clear_ok(&params, guests, 3, targets);
	assert_int_equal(targets[0] + targets[1] + targets[2], 10);
	assert_int_equal(res.price, 0);
}

static void test_current_above_cap(void **state)
{
	struct market_params params = supply_of(100);
	struct market_guest guests[] = {
		BIDDER(5, 9, { 20, 4 }),
		NO_BID(5, 9),
	};
	uint32_t targets[2];

	(void)state;
	/* The cap wins over the unplug limit and over the quantum. */
	guests[0].max_unplug_units = 1;
	guests[1].max_unplug_units = 0;
	params.quantum_units = 10;
	clear_ok(&params, guests, 2, targets);
	assert_int_equal(targets[0], 5);
	assert_int_equal(targets[1], 5);
}

/* Held memory the guest reports free loses its incumbent bonus: a
 * newcomer outbidding its raw price gets it, while memory that would
 * have to be migrated keeps the bonus and stays. */
static void test_offered_units_are_cheap_to_take(void **state)
{
	struct market_params params = supply_of(6);
	struct market_guest guests[] = {
		BIDDER(10, 4, { 10, 5 }),
		BIDDER(10, 2, { 10, 6 }),
	};
	uint32_t targets[2];
	struct market_result res;

	(void)state;
	params.move_cost = 3;
	res = clear_ok(&params, guests, 2, targets);
	assert_int_equal(targets[0], 4); /* 5 + 3 outranks 6 */
	assert_int_equal(targets[1], 2);
	assert_int_equal(res.price, 6);

	guests[0].offered_units = 2;
	res = clear_ok(&params, guests, 2, targets);
	assert_int_equal(targets[0], 2); /* its 2 free units went to 6 */
	assert_int_equal(targets[1], 4);
	assert_int_equal(res.price, 6);

	/* Offering more than it holds offers what it holds. */
	guests[0].offered_units = 50;
	clear_ok(&params, guests, 2, targets);
	assert_int_equal(targets[0], 0);
	assert_int_equal(targets[1], 6);
}

static void test_floors(void **state)
{
	struct market_params params = supply_of(100);
	struct market_guest guests[] = {
		NO_BID(20, 10),
		NO_BID(20, 3),
		BIDDER(20, 10, { 2, 8 }),
	};
	uint32_t targets[3];
	struct market_result res;

	(void)state;
	guests[0].max_unplug_units = 4; /* lo = 6 */
	guests[1].max_unplug_units = 10; /* lo = 0, not -7 */
	guests[2].max_unplug_units = 4; /* lo = 6 although it bids for 2 */
	res = clear_ok(&params, guests, 3, targets);
	assert_int_equal(targets[0], 6);
	assert_int_equal(targets[1], 0);
	assert_int_equal(targets[2], 6);
	assert_int_equal(res.price, 0);
	assert_int_equal(res.demand_units, 2);
}

static void test_plug_limit(void **state)
{
	struct market_params params = supply_of(10);
	struct market_guest guests[] = {
		BIDDER(100, 0, { 10, 9 }),
		BIDDER(100, 0, { 10, 4 }),
	};
	uint32_t targets[2];
	struct market_result res;

	(void)state;
	guests[0].max_plug_units = 3;
	res = clear_ok(&params, guests, 2, targets);
	assert_int_equal(targets[0], 3);
	assert_int_equal(targets[1], 7);
	/* A's units above its window are not rejected bids; B's are. */
	assert_int_equal(res.price, 4);
	assert_int_equal(res.demand_units, 20);

	guests[0].current_units = 2; /* hi = 5 */
	res = clear_ok(&params, guests, 2, targets);
	assert_int_equal(targets[0], 5);
	assert_int_equal(targets[1], 5);
	assert_int_equal(res.price, 4);
}

static void test_unplug_limit(void **state)
{
	struct market_params params = supply_of(10);
	struct market_guest guests[] = {
		BIDDER(100, 8, { 8, 1 }),
		BIDDER(100, 0, { 10, 9 }),
	};
	uint32_t targets[2];
	struct market_result res;

	(void)state;
	guests[0].max_unplug_units = 2; /* A keeps 6 come what may */
	res = clear_ok(&params, guests, 2, targets);
	assert_int_equal(targets[0], 6);
	assert_int_equal(targets[1], 4);
	assert_int_equal(res.price, 9);

	guests[0].max_unplug_units = MARKET_UNLIMITED;
	res = clear_ok(&params, guests, 2, targets);
	assert_int_equal(targets[0], 0);
	assert_int_equal(targets[1], 10);
	assert_int_equal(res.price, 1);
}

static void test_frozen_keeps_units(void **state)
{
	struct market_params params = supply_of(12);
	struct market_guest guests[] = {
		NO_BID(10, 5),
		BIDDER(100, 0, { 20, 9 }),
		/* Frozen: its curve, even a broken one, is not read. */
		BIDDER(10, 12, { 1, 1 }, { 1, 2 }),
	};
	uint32_t targets[3];
	struct market_result res;

	(void)state;
	guests[0].frozen = 1;
	guests[2].frozen = 1;
	params.supply_units = 22;
	res = clear_ok(&params, guests, 3, targets);
	assert_int_equal(targets[0], 5);
	assert_int_equal(targets[1], 7);
	assert_int_equal(targets[2], 10); /* down to its cap */
	assert_int_equal(res.price, 9);
	assert_int_equal(res.demand_units, 20);

	/* Frozen guests neither grow nor shrink with plenty of supply. */
	params.supply_units = 1000;
	res = clear_ok(&params, guests, 3, targets);
	assert_int_equal(targets[0], 5);
	assert_int_equal(targets[1], 20);
	assert_int_equal(targets[2], 10);
	assert_int_equal(res.price, 0);
}

static void test_zero_price_incumbent_released(void **state)
{
	struct market_params params = supply_of(100);
	struct market_guest guests[] = {
		BIDDER(50, 10, { 4, 3 }, { 6, 0 }),
		BIDDER(50, 10, { 4, 3 }),
		NO_BID(50, 10),
	};
	uint32_t targets[3];
	struct market_result res;

	(void)state;
	params.move_cost = 5; /* no bonus makes a 0 bid worth keeping */
	res = clear_ok(&params, guests, 3, targets);
	assert_int_equal(targets[0], 4);
	assert_int_equal(targets[1], 4);
	assert_int_equal(targets[2], 0);
	assert_int_equal(res.price, 0);
	assert_int_equal(res.allocated_units, 8);
}

static void test_incumbent_keeps_against_close_challenger(void **state)
{
	static const uint32_t challenger_price[] = { 5, 6, 7, 8 };
	struct market_params params = supply_of(10);
	struct market_guest guests[2];
	uint32_t targets[2];
	struct market_result res;
	size_t i;

	(void)state;
	params.move_cost = 3;
	/* Both orders: the incumbent must not win by guest index. */
	for (i = 0; i < ARRAY_LEN(challenger_price); i++) {
		struct ramm_bid_step incumbent_bid = { 10, 5 };
		struct ramm_bid_step challenger_bid = {
			.units = 10,
			.price = challenger_price[i],
		};

		guests[0] = NO_BID(100, 0);
		guests[0].steps = &challenger_bid;
		guests[0].n_steps = 1;
		guests[1] = NO_BID(100, 10);
		guests[1].steps = &incumbent_bid;
		guests[1].n_steps = 1;
		res = clear_ok(&params, guests, 2, targets);
		assert_int_equal(targets[0], 0);
		assert_int_equal(targets[1], 10);
		assert_int_equal(res.price, challenger_price[i]);

		/* Clearing again changes nothing: no ping-pong. */
		guests[0].current_units = targets[0];
		guests[1].current_units = targets[1];
		clear_ok(&params, guests, 2, targets);
		assert_int_equal(targets[0], 0);
		assert_int_equal(targets[1], 10);
	}

	/* A challenger above price + move cost does take the units. */
	guests[0] = BIDDER(100, 0, { 10, 9 });
	guests[1] = BIDDER(100, 10, { 10, 5 });
	res = clear_ok(&params, guests, 2, targets);
	assert_int_equal(targets[0], 10);
	assert_int_equal(targets[1], 0);
	assert_int_equal(res.price, 5);
}

static void test_quantum_skips_small_growth(void **state)
{
	struct market_params params = supply_of(100);
	struct market_guest guests[] = {
		BIDDER(100, 10, { 12, 5 }),
		BIDDER(100, 10, { 14, 5 }),
		BIDDER(100, 10, { 8, 5 }),
	};
	uint32_t targets[3];
	struct market_result res;

	(void)state;
	params.quantum_units = 4;
	res = clear_ok(&params, guests, 3, targets);
	assert_int_equal(targets[0], 10); /* +2 skipped */
	assert_int_equal(targets[1], 14); /* +4 is not small */
	assert_int_equal(targets[2], 10); /* -2 skipped: supply allows */
	assert_int_equal(res.allocated_units, 34);
}

static void test_quantum_growth_frees_supply_for_shrink(void **state)
{
	struct market_params params = supply_of(20);
	struct market_guest guests[] = {
		BIDDER(100, 10, { 10, 1 }),
		BIDDER(100, 8, { 10, 5 }),
		BIDDER(100, 0, { 2, 3 }),
	};
	uint32_t targets[3];
	struct market_result res;

	(void)state;
	/* Clearing alone gives 8 / 10 / 2. */
	res = clear_ok(&params, guests, 3, targets);
	assert_int_equal(targets[0], 8);
	assert_int_equal(targets[1], 10);
	assert_int_equal(targets[2], 2);
	assert_int_equal(res.price, 1);

	/* Undoing both growths leaves room to undo A's shrink. */
	params.quantum_units = 3;
	res = clear_ok(&params, guests, 3, targets);
	assert_int_equal(targets[0], 10);
	assert_int_equal(targets[1], 8);
	assert_int_equal(targets[2], 0);
	assert_int_equal(res.price, 1);
	assert_int_equal(res.allocated_units, 18);
}

static void test_quantum_shrink_needs_supply(void **state)
{
	struct market_params params = supply_of(20);
	struct market_guest guests[] = {
		BIDDER(100, 10, { 10, 1 }),
		BIDDER(100, 8, { 12, 5 }),
	};
	uint32_t targets[2];
	struct market_result res;

	(void)state;
	params.quantum_units = 3;
	res = clear_ok(&params, guests, 2, targets);
	assert_int_equal(targets[0], 8); /* -2, but 22 would not fit */
	assert_int_equal(targets[1], 12);
	assert_int_equal(res.allocated_units, 20);

	/* A shrink to the floor is made under the quantum. */
	guests[0] = (struct market_guest)NO_BID(100, 2);
	res = clear_ok(&params, guests, 2, targets);
	assert_int_equal(targets[0], 0);
}

static void test_supply_below_reserved(void **state)
{
	struct market_params params = supply_of(8);
	struct market_guest guests[] = {
		BIDDER(100, 6, { 3, 9 }, { 3, 2 }),
		BIDDER(100, 4, { 4, 5 }),
		NO_BID(100, 3),
	};
	uint32_t targets[3];
	struct market_result res;

	(void)state;
	guests[0].max_unplug_units = 0;
	guests[1].max_unplug_units = 0;
	guests[2].frozen = 1;
	params.quantum_units = 5; /* cannot undo a forced drop */
	/* lo's: 6 + 4 + 3 = 13 > 8. Drop A's 2's, then two of B's 5's. */
	res = clear_ok(&params, guests, 3, targets);
	assert_int_equal(targets[0], 3);
	assert_int_equal(targets[1], 2);
	assert_int_equal(targets[2], 3);
	assert_int_equal(res.price, 5);
	assert_int_equal(res.allocated_units, 8);

	/* Frozen units go last... */
	params.supply_units = 2;
	res = clear_ok(&params, guests, 3, targets);
	assert_int_equal(targets[0], 0);
	assert_int_equal(targets[1], 0);
	assert_int_equal(targets[2], 2);
	assert_int_equal(res.price, 9);

	/* ...and nobody goes below 0. */
	params.supply_units = 0;
	res = clear_ok(&params, guests, 3, targets);
	assert_int_equal(targets[0], 0);
	assert_int_equal(targets[1], 0);
	assert_int_equal(targets[2], 0);
	assert_int_equal(res.allocated_units, 0);
}

static void test_supply_below_reserved_ties(void **state)
{
	struct market_params params = supply_of(5);
	struct market_guest guests[] = {
		BIDDER(100, 3, { 3, 4 }),
		BIDDER(100, 3, { 3, 4 }),
		NO_BID(100, 2),
		NO_BID(100, 2),
	};
	uint32_t targets[4];

	(void)state;
	guests[0].max_unplug_units = 0;
	guests[1].max_unplug_units = 0;
	/* Equal bids: the higher guest index loses first. */
	clear_ok(&params, guests, 2, targets);
	assert_int_equal(targets[0], 3);
	assert_int_equal(targets[1], 2);

	/* Among frozen guests too. */
	guests[2].frozen = 1;
	guests[3].frozen = 1;
	params.supply_units = 3;
	clear_ok(&params, guests, 4, targets);
	assert_int_equal(targets[0], 0);
	assert_int_equal(targets[1], 0);
	assert_int_equal(targets[2], 2);
	assert_int_equal(targets[3], 1);
}

static void test_huge_values(void **state)
{
	struct ramm_bid_step curve[RAMM_MAX_BID_STEPS];
	struct market_params params = {
		.supply_units = UINT64_MAX,
		.move_cost = UINT32_MAX,
		.quantum_units = UINT32_C(1) << 31,
	};
	struct market_guest guests[3];
	uint32_t targets[3];
	struct market_result res;
	size_t i;

	(void)state;
	for (i = 0; i < RAMM_MAX_BID_STEPS; i++)
		curve[i] = (struct ramm_bid_step){ UINT32_MAX, RAMM_MAX_PRICE };
	for (i = 0; i < 3; i++) {
		guests[i] = NO_BID(UINT32_MAX, (uint32_t)i * 1000);
		guests[i].steps = curve;
		guests[i].n_steps = RAMM_MAX_BID_STEPS;
	}
	res = clear_ok(&params, guests, 3, targets);
	for (i = 0; i < 3; i++)
		assert_int_equal(targets[i], UINT32_MAX);
	assert_int_equal(res.price, 0);
	assert_true(res.demand_units == 3 * (uint64_t)UINT32_MAX);
	assert_true(res.allocated_units == 3 * (uint64_t)UINT32_MAX);

	/* Binding, with the largest keys: incumbents first, then index. */
	params.supply_units = (uint64_t)UINT32_MAX + 1500;
	params.quantum_units = 0;
	res = clear_ok(&params, guests, 3, targets);
	assert_int_equal(targets[0], UINT32_MAX - 1500);
	assert_int_equal(targets[1], 1000);
	assert_int_equal(targets[2], 2000);
	assert_int_equal(res.price, RAMM_MAX_PRICE);
}

/* Every failure leaves both outputs exactly as they were. */
static void expect_einval_untouched(const struct market_params *params,
				    const struct market_guest *guests,
				    size_t n)
{
	uint32_t targets[4] = { 0xdead, 0xdead, 0xdead, 0xdead };
	struct market_result res, before;
	size_t i;

	memset(&res, 0xab, sizeof(res));
	before = res;
	assert_true(n <= ARRAY_LEN(targets));
	assert_int_equal(market_clear(params, guests, n, targets, &res),
			 -EINVAL);
	for (i = 0; i < ARRAY_LEN(targets); i++)
		assert_int_equal(targets[i], 0xdead);
	assert_memory_equal(&res, &before, sizeof(res));
}

/* A reserve above every price sells nothing and counts no demand. */
static void test_reserve_above_every_price(void **state)
{
	struct market_params params = supply_of(10);
	struct market_guest guests[] = { BIDDER(10, 3, { 5, RAMM_MAX_PRICE }) };
	uint32_t targets[1];
	struct market_result res;

	(void)state;
	params.reserve_price = UINT32_MAX;
	res = clear_ok(&params, guests, 1, targets);
	assert_int_equal(targets[0], 0);
	assert_int_equal(res.demand_units, 0);
	assert_int_equal(res.price, 0);
}

static void test_invalid_bids_leave_outputs(void **state)
{
	struct ramm_bid_step many[MARKET_MAX_STEPS + 1];
	struct market_params params = supply_of(10);
	struct market_guest guests[] = {
		BIDDER(10, 2, { 4, 5 }),
		BIDDER(10, 2, { 4, 5 }),
	};
	uint32_t targets[2];
	struct market_result res;
	size_t i;

	(void)state;
	guests[1].steps = STEPS({ 2, 3 }, { 2, 4 });
	guests[1].n_steps = 2;
	expect_einval_untouched(&params, guests, 2);
	guests[1].steps = STEPS({ 0, 3 });
	guests[1].n_steps = 1;
	expect_einval_untouched(&params, guests, 2);
	guests[1].steps = STEPS({ 1, RAMM_MAX_PRICE + 1 });
	expect_einval_untouched(&params, guests, 2);
	guests[1].steps = NULL;
	expect_einval_untouched(&params, guests, 2);
	for (i = 0; i < ARRAY_LEN(many); i++)
		many[i] = (struct ramm_bid_step){ .units = 1, .price = 1 };
	guests[1].steps = many;
	guests[1].n_steps = ARRAY_LEN(many);
	expect_einval_untouched(&params, guests, 2);

	/* NULL arrays. */
	guests[1].n_steps = MARKET_MAX_STEPS;
	expect_einval_untouched(NULL, guests, 2);
	expect_einval_untouched(&params, NULL, 2);
	assert_int_equal(market_clear(&params, guests, 2, NULL, &res),
			 -EINVAL);
	memset(targets, 0x5a, sizeof(targets));
	assert_int_equal(market_clear(&params, guests, 2, targets, NULL),
			 -EINVAL);
	assert_int_equal(targets[0], 0x5a5a5a5a);
	assert_int_equal(targets[1], 0x5a5a5a5a);

	/* The same guests are fine once the curve is. */
	clear_ok(&params, guests, 2, targets);
}

/* ---- a slow reference, unit by unit, written from market.h ---- */

/* xorshift64*: small, fast, and the same sequence on every platform. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

/* Uniform-enough integer in [0, n). */
static uint32_t rng_below(uint64_t *s, uint32_t n)
{
	return (uint32_t)((rng_next(s) >> 32) % n);
}

#define MAX_RANDOM_GUESTS 8

struct instance {
	struct market_params params;
	size_t n_guests;
	struct market_guest guests[MAX_RANDOM_GUESTS];
	struct ramm_bid_step steps[MAX_RANDOM_GUESTS][RAMM_MAX_BID_STEPS];
};

struct ref_unit {
	size_t guest;
	uint32_t unit;     /* 1-based index above the floor */
	uint32_t price;    /* raw bid price */
	uint64_t rank;     /* price plus move-cost bonus */
	int incumbent;     /* unit <= current - offered: held, not offered */
	int frozen;        /* a frozen guest's: kept before any other */
	int served;
};

static uint32_t ref_unit_price(const struct market_guest *g, uint32_t unit)
{
	uint64_t end = 0;
	size_t i;

	for (i = 0; i < g->n_steps; i++) {
		end += g->steps[i].units;
		if (unit <= end)
			return g->steps[i].price;
	}
	return 0;
}

/* A unit's price as the market counts it: nothing at or below reserve. */
static uint32_t ref_counted_price(const struct market_params *p,
				  const struct market_guest *g, uint32_t unit)
{
	uint32_t price = ref_unit_price(g, unit);

	return price > p->reserve_price ? price : 0;
}

static void ref_window(const struct market_params *p,
		       const struct market_guest *g, uint32_t *lo,
		       uint32_t *hi)
{
	uint64_t top;

	if (g->frozen || p->emergency) {
		*lo = *hi = g->current_units < g->cap_units ? g->current_units
							    : g->cap_units;
		if (!g->frozen)
			*lo = 0;
		return;
	}
	top = (uint64_t)g->current_units + g->max_plug_units;
	*hi = top < g->cap_units ? (uint32_t)top : g->cap_units;
	*lo = g->current_units > g->max_unplug_units
		      ? g->current_units - g->max_unplug_units : 0;
	if (*lo > *hi)
		*lo = *hi;
}

/* Serving order: frozen first, rank, incumbent, guest, unit. */
static int ref_order(const void *pa, const void *pb)
{
	const struct ref_unit *a = pa, *b = pb;

	if (a->frozen != b->frozen)
		return b->frozen - a->frozen;
	if (a->rank != b->rank)
		return a->rank > b->rank ? -1 : 1;
	if (a->incumbent != b->incumbent)
		return b->incumbent - a->incumbent;
	if (a->guest != b->guest)
		return a->guest < b->guest ? -1 : 1;
	return a->unit < b->unit ? -1 : a->unit > b->unit;
}

static void ref_clear(const struct instance *in, uint32_t *targets,
		      struct market_result *res)
{
	const struct market_params *p = &in->params;
	uint32_t lo[MAX_RANDOM_GUESTS], hi[MAX_RANDOM_GUESTS];
	uint32_t top_served[MAX_RANDOM_GUESTS] = { 0 };
	struct ref_unit *units;
	size_t n_units = 0, cap_total = 0, i, g;
	uint64_t reserved = 0, left, allocated = 0;
	int dropping;

	for (g = 0; g < in->n_guests; g++) {
		ref_window(p, &in->guests[g], &lo[g], &hi[g]);
		reserved += lo[g];
		cap_total += in->guests[g].cap_units;
	}
	units = calloc(cap_total + 1, sizeof(*units));
	assert_non_null(units);
	dropping = reserved > p->supply_units;

	/*
	 * Normally the contest is over the priced units in (lo, hi]; when
	 * the lo's do not fit, it is over keeping the units in (0, lo].
	 */
	for (g = 0; g < in->n_guests; g++) {
		const struct market_guest *mg = &in->guests[g];
		uint32_t offered = mg->offered_units < mg->current_units
					   ? mg->offered_units : mg->current_units;
		uint32_t k, first = dropping ? 1 : lo[g] + 1;
		uint32_t last = dropping ? lo[g] : hi[g];

		targets[g] = dropping ? 0 : lo[g];
		top_served[g] = targets[g];
		if (mg->frozen && !dropping)
			continue;
		for (k = first; k <= last && k >= first; k++) {
			struct ref_unit *u = &units[n_units];

			u->guest = g;
			u->unit = k;
			u->frozen = mg->frozen;
			u->price = mg->frozen ? 0 : ref_counted_price(p, mg, k);
			u->incumbent = k + (mg->frozen ? 0 : offered) <=
				       mg->current_units;
			u->rank = u->frozen ? 0 : (uint64_t)u->price +
				  (u->incumbent ? p->move_cost : 0);
			if (!dropping && u->price == 0)
				continue;
			n_units++;
		}
	}
	qsort(units, n_units, sizeof(*units), ref_order);
	left = dropping ? p->supply_units : p->supply_units - reserved;
	res->price = 0;
	for (i = 0; i < n_units; i++) {
		struct ref_unit *u = &units[i];

		if (left > 0) {
			left--;
			targets[u->guest]++;
			/* Served units must form a prefix of the guest's. */
			assert_int_equal(u->unit, top_served[u->guest] + 1);
			top_served[u->guest] = u->unit;
		} else if (u->price > res->price) {
			res->price = u->price;
		}
	}
	/* Dropping leaves the priced units in (lo, hi] unserved too. */
	for (g = 0; dropping && g < in->n_guests; g++) {
		uint32_t k;

		if (in->guests[g].frozen)
			continue;
		for (k = lo[g] + 1; k <= hi[g] && k > lo[g]; k++)
			if (ref_counted_price(p, &in->guests[g], k) > res->price)
				res->price = ref_counted_price(p, &in->guests[g], k);
	}
	free(units);

	/* Quantum: growths undone first, then shrinks while they fit. */
	for (g = 0; g < in->n_guests; g++) {
		uint32_t cur = in->guests[g].current_units;

		if (!p->emergency && cur <= in->guests[g].cap_units &&
		    targets[g] > cur && targets[g] - cur < p->quantum_units)
			targets[g] = cur;
		allocated += targets[g];
	}
	for (g = 0; g < in->n_guests; g++) {
		uint32_t cur = in->guests[g].current_units;

		if (!p->emergency && cur <= in->guests[g].cap_units &&
		    targets[g] < cur && cur - targets[g] < p->quantum_units &&
		    targets[g] != 0 &&
		    allocated + (cur - targets[g]) <= p->supply_units) {
			allocated += cur - targets[g];
			targets[g] = cur;
		}
	}
	res->allocated_units = allocated;
	res->demand_units = 0;
	for (g = 0; g < in->n_guests; g++) {
		uint32_t k;

		if (in->guests[g].frozen)
			continue;
		for (k = 1; k <= in->guests[g].cap_units; k++)
			res->demand_units +=
				ref_counted_price(p, &in->guests[g], k) > 0;
	}
}

/* ---- random instances ---- */

static uint32_t random_limit(uint64_t *rng, int rate_limited)
{
	if (!rate_limited || rng_below(rng, 3) == 0)
		return MARKET_UNLIMITED;
	return rng_below(rng, 7);
}

static void random_instance(uint64_t *rng, struct instance *in,
			    int rate_limited)
{
	uint64_t cap_total = 0;
	size_t g;

	memset(in, 0, sizeof(*in));
	in->n_guests = 1 + rng_below(rng, MAX_RANDOM_GUESTS);
	for (g = 0; g < in->n_guests; g++) {
		struct market_guest *mg = &in->guests[g];
		/* Few distinct prices, so that ties are common. */
		uint32_t price = 1 + rng_below(rng, 9);
		size_t s;

		mg->cap_units = rng_below(rng, 26);
		mg->current_units = rng_below(rng, 29);
		mg->max_plug_units = random_limit(rng, rate_limited);
		mg->max_unplug_units = random_limit(rng, rate_limited);
		mg->frozen = rng_below(rng, 10) == 0;
		if (rng_below(rng, 3) == 0)
			mg->offered_units = rng_below(rng, mg->current_units + 3);
		mg->n_steps = rng_below(rng, 7);
		mg->steps = mg->n_steps ? in->steps[g] : NULL;
		for (s = 0; s < mg->n_steps; s++) {
			price -= rng_below(rng, price + 1) / 2;
			if (rng_below(rng, 8) == 0)
				price = 0;
			in->steps[g][s].units = 1 + rng_below(rng, 5);
			in->steps[g][s].price = price;
		}
		cap_total += mg->cap_units;
	}
	in->params.supply_units = rng_below(rng, (uint32_t)cap_total + 6);
	in->params.move_cost = rng_below(rng, 2) ? rng_below(rng, 5) : 0;
	in->params.quantum_units = rng_below(rng, 2) ? rng_below(rng, 5) : 0;
	in->params.reserve_price = rng_below(rng, 3) ? 0 : rng_below(rng, 4);
	in->params.emergency = rate_limited && rng_below(rng, 8) == 0;
}

static void check_invariants(const struct instance *in,
			     const uint32_t *targets,
			     const struct market_result *res)
{
	uint64_t reserved = 0, sum = 0;
	size_t g;

	for (g = 0; g < in->n_guests; g++) {
		uint32_t lo, hi;

		ref_window(&in->params, &in->guests[g], &lo, &hi);
		reserved += lo;
	}
	for (g = 0; g < in->n_guests; g++) {
		uint32_t lo, hi;

		ref_window(&in->params, &in->guests[g], &lo, &hi);
		assert_true(targets[g] <= in->guests[g].cap_units);
		assert_true(targets[g] <= hi);
		/* Only a supply below the lo's may push a guest under lo. */
		if (reserved <= in->params.supply_units)
			assert_true(targets[g] >= lo);
		sum += targets[g];
	}
	assert_true(sum <= in->params.supply_units);
	assert_true(sum == res->allocated_units);
	assert_true(res->price <= RAMM_MAX_PRICE);
}

static void test_random_against_reference(void **state)
{
	uint64_t rng = UINT64_C(0x9e3779b97f4a7c15);
	int n;

	(void)state;
	for (n = 0; n < 5000; n++) {
		struct instance in;
		uint32_t got[MAX_RANDOM_GUESTS], want[MAX_RANDOM_GUESTS];
		struct market_result got_res, want_res;
		size_t g;

		random_instance(&rng, &in, 1);
		got_res = clear_ok(&in.params, in.guests, in.n_guests, got);
		check_invariants(&in, got, &got_res);
		ref_clear(&in, want, &want_res);
		for (g = 0; g < in.n_guests; g++) {
			if (got[g] != want[g])
				fail_msg("case %d guest %zu: target %u, "
					 "reference %u", n, g, got[g],
					 want[g]);
		}
		if (got_res.price != want_res.price)
			fail_msg("case %d: price %u, reference %u", n,
				 got_res.price, want_res.price);
		assert_true(got_res.allocated_units ==
			    want_res.allocated_units);
		assert_true(got_res.demand_units == want_res.demand_units);
	}
}

static void assert_same_targets(const uint32_t *a, const uint32_t *b,
				size_t n, int case_no)
{
	size_t g;

	for (g = 0; g < n; g++)
		if (a[g] != b[g])
			fail_msg("case %d guest %zu: %u then %u", case_no, g,
				 a[g], b[g]);
}

static void test_random_stability(void **state)
{
	uint64_t rng = UINT64_C(0x2545f4914f6cdd1d);
	int n;

	(void)state;
	for (n = 0; n < 5000; n++) {
		struct instance in;
		uint32_t first[MAX_RANDOM_GUESTS], again[MAX_RANDOM_GUESTS];
		uint32_t third[MAX_RANDOM_GUESTS];
		struct market_result res;
		int rate_limited = n % 2;
		size_t g;

		random_instance(&rng, &in, rate_limited);
		res = clear_ok(&in.params, in.guests, in.n_guests, first);
		check_invariants(&in, first, &res);

		/* Move everyone to the targets, lift the rate limits; what
		 * was offered has been taken or kept. */
		for (g = 0; g < in.n_guests; g++) {
			in.guests[g].current_units = first[g];
			in.guests[g].offered_units = 0;
			in.guests[g].max_plug_units = MARKET_UNLIMITED;
			in.guests[g].max_unplug_units = MARKET_UNLIMITED;
		}
		res = clear_ok(&in.params, in.guests, in.n_guests, again);
		check_invariants(&in, again, &res);
		if (!rate_limited)
			assert_same_targets(first, again, in.n_guests, n);

		/* Once settled without limits, it stays put. */
		for (g = 0; g < in.n_guests; g++)
			in.guests[g].current_units = again[g];
		res = clear_ok(&in.params, in.guests, in.n_guests, third);
		check_invariants(&in, third, &res);
		assert_same_targets(again, third, in.n_guests, n);
	}
}

/* ---- brute force: the allocation maximises the total bid value ---- */

#define BRUTE_GUESTS 4
#define BRUTE_MAX_CAP 6

static uint64_t value_of(const struct instance *in, const uint32_t *targets)
{
	uint64_t value = 0;
	size_t g;
	uint32_t k;

	for (g = 0; g < in->n_guests; g++)
		for (k = 1; k <= targets[g]; k++)
			value += ref_counted_price(&in->params,
						   &in->guests[g], k);
	return value;
}

/* Best value over all allocations of guests @g.. within caps and @left. */
static uint64_t best_value(const struct instance *in, uint32_t *alloc,
			   size_t g, uint64_t left)
{
	uint64_t best = 0;
	uint32_t t;

	if (g == in->n_guests)
		return value_of(in, alloc);
	for (t = 0; t <= in->guests[g].cap_units && t <= left; t++) {
		uint64_t v;

		alloc[g] = t;
		v = best_value(in, alloc, g + 1, left - t);
		if (v > best)
			best = v;
	}
	alloc[g] = 0;
	return best;
}

static void test_brute_force_optimum(void **state)
{
	uint64_t rng = UINT64_C(0xdeadbeefcafef00d);
	int n;

	(void)state;
	for (n = 0; n < 3000; n++) {
		struct instance in;
		uint32_t targets[BRUTE_GUESTS], scratch[BRUTE_GUESTS] = { 0 };
		struct market_result res;
		uint64_t cap_total = 0;
		size_t g;

		random_instance(&rng, &in, 0);
		in.n_guests = 1 + n % BRUTE_GUESTS;
		for (g = 0; g < in.n_guests; g++) {
			in.guests[g].cap_units %= BRUTE_MAX_CAP + 1;
			in.guests[g].current_units %= BRUTE_MAX_CAP + 3;
			in.guests[g].frozen = 0;
			cap_total += in.guests[g].cap_units;
		}
		in.params.supply_units = rng_below(&rng,
						   (uint32_t)cap_total + 2);
		in.params.move_cost = 0;
		in.params.quantum_units = 0;

		res = clear_ok(&in.params, in.guests, in.n_guests, targets);
		check_invariants(&in, targets, &res);
		if (value_of(&in, targets) !=
		    best_value(&in, scratch, 0, in.params.supply_units))
			fail_msg("case %d: value %llu, optimum %llu", n,
				 (unsigned long long)value_of(&in, targets),
				 (unsigned long long)best_value(&in, scratch,
					0, in.params.supply_units));

		/*
		 * The price separates winners from losers: every unit won was
		 * bid at least the price, every priced unit lost at most it.
		 */
		for (g = 0; g < in.n_guests; g++) {
			uint32_t k;

			for (k = 1; k <= in.guests[g].cap_units; k++) {
				uint32_t bid = ref_counted_price(&in.params,
								 &in.guests[g], k);

				if (k <= targets[g])
					assert_true(bid >= res.price);
				else if (bid > 0)
					assert_true(bid <= res.price);
			}
		}
	}
}

/* ---- scale: 10,000 guests x 64 steps, 1 TiB in 2 MiB units ---- */

#define BIG_GUESTS 10000
#define BIG_SUPPLY 524288

static void test_scale(void **state)
{
	uint64_t rng = UINT64_C(0x0123456789abcdef);
	struct market_params params = {
		.supply_units = BIG_SUPPLY,
		.move_cost = 20,
		.quantum_units = 4,
	};
	struct ramm_bid_step *steps;
	struct market_guest *guests;
	uint32_t *targets;
	struct market_result res;
	uint64_t sum = 0;
	size_t g;

	(void)state;
	steps = calloc((size_t)BIG_GUESTS * RAMM_MAX_BID_STEPS, sizeof(*steps));
	guests = calloc(BIG_GUESTS, sizeof(*guests));
	targets = calloc(BIG_GUESTS, sizeof(*targets));
	assert_non_null(steps);
	assert_non_null(guests);
	assert_non_null(targets);
	for (g = 0; g < BIG_GUESTS; g++) {
		struct ramm_bid_step *curve = &steps[g * RAMM_MAX_BID_STEPS];
		uint32_t price = 1000 + rng_below(&rng, 1000);
		size_t s;

		for (s = 0; s < RAMM_MAX_BID_STEPS; s++) {
			price -= rng_below(&rng, 16);
			curve[s].units = 1 + rng_below(&rng, 32);
			curve[s].price = price;
		}
		guests[g].cap_units = 2048;
		guests[g].current_units = rng_below(&rng, 100);
		/* Unlimited growth: every step is inside the window. */
		guests[g].max_plug_units = MARKET_UNLIMITED;
		guests[g].max_unplug_units = 64;
		guests[g].frozen = g % 500 == 0;
		guests[g].steps = curve;
		guests[g].n_steps = RAMM_MAX_BID_STEPS;
	}
	/* Invariants at full scale; its speed is `make bench`'s business. */
	res = clear_ok(&params, guests, BIG_GUESTS, targets);
	for (g = 0; g < BIG_GUESTS; g++) {
		uint32_t lo, hi;

		ref_window(&params, &guests[g], &lo, &hi);
		assert_true(targets[g] >= lo && targets[g] <= hi);
		sum += targets[g];
	}
	assert_true(sum == res.allocated_units);
	assert_true(sum <= BIG_SUPPLY);
	assert_true(res.price > 0);
	free(targets);
	free(guests);
	free(steps);
}

/* market_bid_price: the step covering a unit, 0 past the curve. */
static void test_bid_price(void **state)
{
	const struct ramm_bid_step c[] = { { 2, 900 }, { 3, 40 } };

	(void)state;
	assert_int_equal(market_bid_price(c, 2, 1), 900);
	assert_int_equal(market_bid_price(c, 2, 2), 900);
	assert_int_equal(market_bid_price(c, 2, 3), 40);
	assert_int_equal(market_bid_price(c, 2, 5), 40);
	assert_int_equal(market_bid_price(c, 2, 6), 0);
	assert_int_equal(market_bid_price(NULL, 0, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate_bid),
		cmocka_unit_test(test_bid_price),
		cmocka_unit_test(test_reserve_above_every_price),
		cmocka_unit_test(test_empty_market),
		cmocka_unit_test(test_supply_not_binding),
		cmocka_unit_test(test_binding_highest_bids_win),
		cmocka_unit_test(test_price_is_highest_rejected_bid),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_current_above_cap),
		cmocka_unit_test(test_offered_units_are_cheap_to_take),
		cmocka_unit_test(test_floors),
		cmocka_unit_test(test_plug_limit),
		cmocka_unit_test(test_unplug_limit),
		cmocka_unit_test(test_frozen_keeps_units),
		cmocka_unit_test(test_zero_price_incumbent_released),
		cmocka_unit_test(test_incumbent_keeps_against_close_challenger),
		cmocka_unit_test(test_quantum_skips_small_growth),
		cmocka_unit_test(test_quantum_growth_frees_supply_for_shrink),
		cmocka_unit_test(test_quantum_shrink_needs_supply),
		cmocka_unit_test(test_supply_below_reserved),
		cmocka_unit_test(test_supply_below_reserved_ties),
		cmocka_unit_test(test_huge_values),
		cmocka_unit_test(test_invalid_bids_leave_outputs),
		cmocka_unit_test(test_random_against_reference),
		cmocka_unit_test(test_random_stability),
		cmocka_unit_test(test_brute_force_optimum),
		cmocka_unit_test(test_scale),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
