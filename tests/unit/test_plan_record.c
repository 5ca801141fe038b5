/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for plan records (broker/market/plan_record.c): random ticks
 * round-trip through the line exactly, a parsed record plans to the same
 * result, and malformed lines are refused with a message.
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

#include "config.h"
#include "plan.h"
#include "plan_record.h"

#define MIB (1024ULL * 1024ULL)
#define GIB (1024ULL * MIB)

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* A tick's input, with its own storage. */
struct tick {
	struct rammd_config cfg;
	struct plan_input in;
	struct plan_guest guests[8];
	struct plan_action actions[8];
	struct plan_guest_result results[8];
	struct plan_result out;
};

/* A random guest that rammd could have snapshotted. */
static void random_guest(const struct rammd_config *cfg, struct plan_guest *g)
{
	static const uint64_t pages[] = { 4096, 2 * MIB, GIB };
	uint64_t page = pages[rnd_below(3)];
	uint64_t pool_unit = page > cfg->unit_mib * MIB ? page : cfg->unit_mib * MIB;
	uint32_t price = (uint32_t)rnd_below(RAMM_MAX_PRICE + 1);

	memset(g, 0, sizeof(*g));
	g->in_market = rnd_below(8) != 0;
	g->device_ready = rnd_below(8) != 0;
	g->resizing = rnd_below(4) == 0;
	g->excluded = rnd_below(8) == 0;
	g->drain = rnd_below(8) == 0;
	g->weight = (uint32_t)rnd_below(1000);
	g->unit_bytes = g->in_market ? pool_unit * (1 + rnd_below(2)) : 0;
	g->boot_bytes = (256 + rnd_below(4096)) * MIB;
	g->floor_bytes = g->boot_bytes + rnd_below(4) * g->unit_bytes;
	g->cap_bytes = g->floor_bytes + rnd_below(64) * (g->unit_bytes ? g->unit_bytes : MIB);
	g->size_bytes = rnd_below(32) * 2 * MIB;
	g->requested_bytes = rnd_below(2) ? g->size_bytes : rnd_below(32) * 2 * MIB;
	g->page_bytes = page;
	g->host_nodes = rnd_below(3);
	g->have_report = rnd_below(4) != 0;
	g->report_us = (int64_t)rnd_below(10000000);
	g->report_unit_bytes = rnd_below(8) ? g->unit_bytes : 2 * MIB;
	g->mem_available_bytes = rnd_below(1024) * MIB;
	g->have_hist = rnd_below(2);
	g->report_urgent = rnd_below(4) == 0;
	for (size_t h = 0; h < RAMM_HIST_SIZES; h++)
		g->hist_vmem[h] = rnd_below(100);
	g->n_bid = (size_t)rnd_below(RAMM_MAX_BID_STEPS + 1);
	for (size_t s = 0; s < g->n_bid; s++) {
		price -= (uint32_t)rnd_below(price / 4 + 1);
		g->bid[s] = (struct ramm_bid_step){
			.units = (uint32_t)(1 + rnd_below(16)), .price = price };
	}
	g->last_grow_us = rnd_below(2) ? (int64_t)rnd_below(10000000) : 0;
	g->stuck_until_us = rnd_below(4) ? 0 : (int64_t)rnd_below(20000000);
	g->resize_decided_us = (int64_t)rnd_below(10000000);
	g->shrink_since_us = rnd_below(2) ? 0 : (int64_t)rnd_below(10000000);
	g->shrink_stopped_us = rnd_below(2) ? 0 : (int64_t)rnd_below(10000000);
	if (rnd_below(2))
		g->claim_peak = (struct plan_claim_peak){
			.at_us = (int64_t)rnd_below(10000000), .units = (uint32_t)rnd_below(64) };
	g->account_open = rnd_below(4) != 0;
	g->account = (struct market_account){
		.balance = rnd_below(1ULL << 40), .weight = g->weight,
		.credit = (uint32_t)(MARKET_CREDIT_MIN + rnd_below(901)) };
	g->unplug_asked_units = (uint32_t)rnd_below(8);
	g->unplug_done_units = (uint32_t)rnd_below(g->unplug_asked_units + 1);
}

/* A random tick, planned by plan_tick(). */
static void random_tick(struct tick *t)
{
	struct hugepool_host *hp = &t->in.host.hugepools;

	memset(t, 0, sizeof(*t));
	config_defaults(&t->cfg);
	t->cfg.unit_mib = 2 << rnd_below(3);
	t->cfg.supply_mib = rnd_below(2) ? CONFIG_SUPPLY_AUTO : rnd_below(8192);
	t->cfg.reserve_price = (uint32_t)rnd_below(500);
	t->cfg.min_hold_ms = (uint32_t)rnd_below(10000);
	t->cfg.shrink_delay_ms = (uint32_t)rnd_below(10000);
	t->cfg.critical_free_mib = rnd_below(2048);
	t->in.cfg = &t->cfg;
	t->in.now_us = (int64_t)(5000000 + rnd_below(10000000));
	t->in.host = (struct plan_host){
		.base_page_bytes = 4096,
		.meminfo_ok = rnd_below(8) != 0,
		.mem_total_bytes = (8 + rnd_below(64)) * GIB,
		.mem_available_bytes = rnd_below(16) * GIB,
		.hugepools_ok = rnd_below(8) != 0,
	};
	hp->default_page_bytes = 2 * MIB;
	hp->nodes = 3;
	hp->n_sizes = (size_t)rnd_below(3);
	for (size_t s = 0; s < hp->n_sizes; s++) {
		struct hugepool_size *hs = &hp->sizes[s];

		hs->page_bytes = s ? GIB : 2 * MIB;
		hs->total_pages = rnd_below(4096);
		hs->free_pages = rnd_below(hs->total_pages + 1);
		hs->resv_pages = rnd_below(hs->free_pages + 1);
		hs->node_free[0] = hs->free_pages / 2;
		hs->node_free[1] = hs->free_pages - hs->node_free[0];
		if (rnd_below(2))
			hs->node_free[63] = 1;
	}
	t->in.n_guests = (size_t)rnd_below(9);
	for (size_t i = 0; i < t->in.n_guests; i++)
		random_guest(&t->cfg, &t->guests[i]);
	t->in.guests = t->guests;
	t->out.actions = t->actions;
	t->out.guests = t->results;
	assert_int_equal(plan_tick(&t->in, &t->out), 0);
}

static void assert_same_guest(const struct plan_guest *a, const struct plan_guest *b)
{
	assert_int_equal(a->in_market, b->in_market);
	assert_int_equal(a->device_ready, b->device_ready);
	assert_int_equal(a->resizing, b->resizing);
	assert_int_equal(a->excluded, b->excluded);
	assert_int_equal(a->drain, b->drain);
	assert_int_equal(a->weight, b->weight);
	assert_int_equal(a->unit_bytes, b->unit_bytes);
	assert_int_equal(a->floor_bytes, b->floor_bytes);
	assert_int_equal(a->cap_bytes, b->cap_bytes);
	assert_int_equal(a->boot_bytes, b->boot_bytes);
	assert_int_equal(a->size_bytes, b->size_bytes);
	assert_int_equal(a->requested_bytes, b->requested_bytes);
	assert_int_equal(a->page_bytes, b->page_bytes);
	assert_int_equal(a->host_nodes, b->host_nodes);
	assert_int_equal(a->have_report, b->have_report);
	assert_int_equal(a->report_us, b->report_us);
	assert_int_equal(a->report_unit_bytes, b->report_unit_bytes);
	assert_int_equal(a->mem_available_bytes, b->mem_available_bytes);
	assert_int_equal(a->have_hist, b->have_hist);
	assert_memory_equal(a->hist_vmem, b->hist_vmem, sizeof(a->hist_vmem));
	assert_int_equal(a->n_bid, b->n_bid);
	assert_memory_equal(a->bid, b->bid, a->n_bid * sizeof(a->bid[0]));
	assert_int_equal(a->last_grow_us, b->last_grow_us);
	assert_int_equal(a->stuck_until_us, b->stuck_until_us);
	assert_int_equal(a->resize_decided_us, b->resize_decided_us);
	assert_int_equal(a->shrink_since_us, b->shrink_since_us);
	assert_int_equal(a->shrink_stopped_us, b->shrink_stopped_us);
	assert_int_equal(a->claim_peak.at_us, b->claim_peak.at_us);
	assert_int_equal(a->claim_peak.units, b->claim_peak.units);
	assert_int_equal(a->account_open, b->account_open);
	assert_int_equal(a->account.balance, b->account.balance);
	assert_int_equal(a->account.weight, b->account.weight);
	assert_int_equal(a->account.credit, b->account.credit);
	assert_int_equal(a->unplug_asked_units, b->unplug_asked_units);
	assert_int_equal(a->unplug_done_units, b->unplug_done_units);
}

static void assert_same_result(const struct plan_result *a,
			       const struct plan_result *b, size_t n_guests)
{
	assert_int_equal(a->emergency, b->emergency);
	assert_int_equal(a->n_pools, b->n_pools);
	for (size_t p = 0; p < a->n_pools; p++) {
		const struct plan_pool *x = &a->pools[p], *y = &b->pools[p];

		assert_string_equal(x->name, y->name);
		assert_int_equal(x->page_bytes, y->page_bytes);
		assert_int_equal(x->host_nodes, y->host_nodes);
		assert_int_equal(x->unit_bytes, y->unit_bytes);
		assert_int_equal(x->n_guests, y->n_guests);
		assert_int_equal(x->price, y->price);
		assert_int_equal(x->supply_bytes, y->supply_bytes);
		assert_int_equal(x->free_bytes, y->free_bytes);
		assert_int_equal(x->allocated_bytes, y->allocated_bytes);
		assert_int_equal(x->demand_bytes, y->demand_bytes);
		assert_int_equal(x->error, y->error);
	}
	assert_int_equal(a->n_actions, b->n_actions);
	for (size_t i = 0; i < a->n_actions; i++) {
		const struct plan_action *x = &a->actions[i], *y = &b->actions[i];

		assert_int_equal(x->guest, y->guest);
		assert_int_equal(x->total_bytes, y->total_bytes);
		assert_int_equal(x->from_units, y->from_units);
		assert_int_equal(x->to_units, y->to_units);
		assert_int_equal(x->price, y->price);
		assert_int_equal(x->why, y->why);
		assert_int_equal(x->bid, y->bid);
		assert_int_equal(x->offered_units, y->offered_units);
		assert_int_equal(x->only_offered, y->only_offered);
	}
	for (size_t i = 0; i < n_guests; i++) {
		const struct plan_guest_result *x = &a->guests[i], *y = &b->guests[i];

		assert_int_equal(x->pool, y->pool);
		assert_int_equal(x->too_many_pools, y->too_many_pools);
		assert_int_equal(x->planned, y->planned);
		assert_int_equal(x->target_units, y->target_units);
		assert_int_equal(x->price, y->price);
		assert_int_equal(x->account_open, y->account_open);
		assert_int_equal(x->account.balance, y->account.balance);
		assert_int_equal(x->account.weight, y->account.weight);
		assert_int_equal(x->account.credit, y->account.credit);
		assert_int_equal(x->paid, y->paid);
		assert_int_equal(x->growth_waits, y->growth_waits);
	}
}

/* Random ticks: the line reads back as the same input and result, it
 * formats to the same line again, and planning the parsed input gives the
 * recorded result. */
static void test_round_trip(void **state)
{
	static struct tick t;
	int saw_actions = 0;

	(void)state;
	for (int n = 0; n < 500; n++) {
		struct plan_record *rec;
		struct plan_action actions[8];
		struct plan_guest_result results[8];
		struct plan_result again = { .actions = actions, .guests = results };
		char *line, *line2, err[256];
		size_t len, len2;

		random_tick(&t);
		saw_actions += t.out.n_actions > 0;
		assert_int_equal(plan_record_format(&t.in, &t.out, &line, &len), 0);
		assert_int_equal(strlen(line), len);
		assert_int_equal(line[len - 1], '\n');
		if (plan_record_parse(line, len, &rec, err, sizeof(err)))
			fail_msg("parse: %s\n%s", err, line);
		assert_memory_equal(&rec->cfg, &t.cfg, offsetof(struct rammd_config,
								 control_socket));
		assert_int_equal(rec->in.now_us, t.in.now_us);
		assert_memory_equal(&rec->in.host, &t.in.host, sizeof(t.in.host));
		assert_int_equal(rec->in.n_guests, t.in.n_guests);
		for (size_t i = 0; i < t.in.n_guests; i++)
			assert_same_guest(&rec->guests[i], &t.guests[i]);
		assert_same_result(&rec->out, &t.out, t.in.n_guests);

		assert_int_equal(plan_record_format(&rec->in, &rec->out, &line2, &len2), 0);
		assert_string_equal(line, line2);

		assert_int_equal(plan_tick(&rec->in, &again), 0);
		assert_same_result(&again, &t.out, t.in.n_guests);
		free(line);
		free(line2);
		plan_record_free(rec);
	}
	assert_true(saw_actions > 50);
}

/* @line with the value of its first token @key replaced by @value (a
 * malloc'd copy). */
static char *with_value(const char *line, const char *key, const char *value)
{
	char pat[64];
	const char *at, *v, *end;
	char *s;

	snprintf(pat, sizeof(pat), " %s=", key);
	at = strstr(line, pat);
	assert_non_null(at);
	v = at + strlen(pat);
	end = v + strcspn(v, " \n");
	s = malloc(strlen(line) + strlen(value) + 1);
	assert_non_null(s);
	sprintf(s, "%.*s%s%s", (int)(v - line), line, value, end);
	return s;
}

/* A tick with two guests in the market and at least one action. */
static void tick_with_actions(struct tick *t)
{
	do
		random_tick(t);
	while (t->in.n_guests < 2 || !t->out.n_actions || !t->guests[0].in_market ||
	       t->in.host.hugepools.n_sizes < 1);
}

static void assert_refused(const char *line, const char *why)
{
	struct plan_record *rec = (struct plan_record *)1;
	char err[256] = "";

	if (plan_record_parse(line, strlen(line), &rec, err, sizeof(err)) != -EINVAL)
		fail_msg("accepted (%s): %.200s", why, line);
	assert_null(rec);
	assert_true(strlen(err) > 0);
	assert_non_null(strstr(err, "token"));
	if (getenv("PLAN_RECORD_VERBOSE"))
		printf("%-28s %s\n", why, err);
}

static void test_rejects_malformed(void **state)
{
	static struct tick t;
	static const struct { const char *key, *value, *why; } bad[] = {
		{ "now_us", "007", "leading zero" },
		{ "now_us", "+7", "plus sign" },
		{ "now_us", "-0", "minus zero" },
		{ "now_us", "4611686018427387905", "time past 2^62" },
		{ "now_us", "", "empty number" },
		{ "now_us", "1e6", "not decimal" },
		{ "cfg.unit_mib", "0", "config bound" },
		{ "cfg.tick_ms", "18446744073709551616", "overflow" },
		{ "cfg.supply_mib", "automatic", "supply word" },
		{ "host.base_page_bytes", "4095", "base page size" },
		{ "host.meminfo_ok", "2", "flag" },
		{ "hp.n_sizes", "5", "too many sizes" },
		{ "hp.page_bytes", "3000000", "huge page size" },
		{ "hp.node_free", "1,2,", "trailing comma" },
		{ "hp.node_free",
		  "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,"
		  "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1",
		  "65 nodes" },
		{ "guests", "4097", "too many guests" },
		{ "guests", "9", "count larger than the groups" },
		{ "guest", "1", "index out of order" },
		{ "unit_bytes", "1048576", "unit below its pool's" },
		{ "hist_vmem", "1,2,3,4,5,6,7,8,9", "nine histogram values" },
		{ "hist_vmem", "1,2,3,4,5,6,7,8,9,10,11", "eleven histogram values" },
		{ "bid", "1:10,1:20", "rising curve" },
		{ "bid", "0:10", "empty step" },
		{ "bid", "1:1000001", "price too high" },
		{ "bid", "1", "step without a price" },
		{ "bid", "1:", "step without a price" },
		{ "account.credit", "1001", "credit above 1000" },
		{ "pools", "0", "no pool" },
		{ "pools", "17", "too many pools" },
		{ "name", "a b", "space in a name" },
		{ "name", "x/y", "slash in a name" },
		{ "error", "1", "positive errno" },
		{ "actions", "99", "more actions than guests" },
		{ "guest", "abc", "index not a number" },
		{ "why", "7", "unknown reason" },
		{ "pool", "16", "pool index out of range" },
	};
	char *line, *bad_line;
	size_t len;

	(void)state;
	tick_with_actions(&t);
	assert_int_equal(plan_record_format(&t.in, &t.out, &line, &len), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bad_line = with_value(line, bad[i].key, bad[i].value);
		assert_refused(bad_line, bad[i].why);
		free(bad_line);
	}
	/* An action naming a guest the record does not have. */
	bad_line = with_value(line, "action=0 guest", "8");
	assert_refused(bad_line, "action's guest");
	free(bad_line);

	assert_refused("", "empty line");
	assert_refused("\n", "newline only");
	assert_refused("ramm-plan-record=3", "version");
	assert_refused("hello", "not a record");

	/* Cut short, doubled spaces, trailing space, extra token, bytes. */
	bad_line = strdup(line);
	assert_non_null(bad_line);
	bad_line[len / 2] = '\0';
	assert_refused(bad_line, "truncated");
	free(bad_line);
	bad_line = with_value(line, "now_us", "1  ");
	assert_refused(bad_line, "double space");
	free(bad_line);
	bad_line = malloc(len + 8);
	assert_non_null(bad_line);
	sprintf(bad_line, "%.*s \n", (int)(len - 1), line);
	assert_refused(bad_line, "trailing space");
	sprintf(bad_line, "%.*s x=1\n", (int)(len - 1), line);
	assert_refused(bad_line, "extra token");
	sprintf(bad_line, "%.*s\n\n", (int)(len - 1), line);
	assert_refused(bad_line, "two newlines");
	memcpy(bad_line, line, len + 1);
	bad_line[10] = '\t';
	assert_refused(bad_line, "tab");
	bad_line[10] = (char)0xc3;
	assert_refused(bad_line, "non-ASCII");
	free(bad_line);
	/* A NUL inside the length. */
	{
		struct plan_record *rec;
		char err[256];

		line[20] = '\0';
		assert_int_equal(plan_record_parse(line, len, &rec, err, sizeof(err)),
				 -EINVAL);
	}
	free(line);
}

/* Too many guests, pools or actions are refused when formatting. */
static void test_format_bounds(void **state)
{
	static struct tick t;
	char *line = (char *)1;
	size_t len;

	(void)state;
	tick_with_actions(&t);
	t.out.n_actions = t.in.n_guests + 1;
	assert_int_equal(plan_record_format(&t.in, &t.out, &line, &len), -EINVAL);
	assert_null(line);
	t.out.n_actions = 0;
	t.out.n_pools = PLAN_MAX_POOLS + 1;
	assert_int_equal(plan_record_format(&t.in, &t.out, &line, &len), -EINVAL);
	t.out.n_pools = 1;
	t.in.n_guests = PLAN_RECORD_MAX_GUESTS + 1;
	assert_int_equal(plan_record_format(&t.in, &t.out, &line, &len), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_rejects_malformed),
		cmocka_unit_test(test_format_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
