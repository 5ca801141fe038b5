/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the Prometheus exposition (broker/daemon/metrics_text.c), the
 * per-guest tick history (broker/daemon/history.c) and the metrics_listen parser
 * (config_parse_listen() in broker/daemon/config.c).
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
#include "history.h"
#include "metrics_text.h"

/* @text has a line exactly @line. */
static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

static void test_format_guests(void **state)
{
	const struct metrics_guest g[] = {
		{ .name = "web1", .size_bytes = 512ULL << 20, .target_bytes = 768ULL << 20,
		  .floor_bytes = 256ULL << 20, .cap_bytes = 1280ULL << 20,
		  .bid_in_use_bytes = 100ULL << 20, .bid_need_bytes = 200ULL << 20,
		  .bid_any_bytes = 300ULL << 20, .paid_total = 12345, .balance = 77,
		  .credit = 0.5, .agent_up = 1, .unit_bytes = 1ULL << 30,
		  .offer_bytes = 2ULL << 30, .pins_memory = 1 },
		{ .name = "db\"x\\y\nz", .size_bytes = 1 },
	};
	const struct metrics_pool p[] = {
		{ .name = "ordinary", .price = 300, .supply_bytes = 1ULL << 30 },
		{ .name = "hugetlb-1048576k", .price = 1000, .supply_bytes = 4ULL << 30,
		  .free_bytes = 1ULL << 30, .allocated_bytes = 3ULL << 30,
		  .demand_bytes = 5ULL << 30 },
	};
	const struct metrics_snapshot m = {
		.price = 300, .supply_bytes = 1ULL << 30, .allocated_bytes = 2,
		.demand_bytes = 3, .ticks = 42, .emergency = 1,
		.guests = g, .n_guests = 2, .pools = p, .n_pools = 2,
	};
	char *out;
	size_t len;

	(void)state;
	assert_int_equal(metrics_format(&m, &out, &len), 0);
	assert_int_equal(strlen(out), len);
	assert_true(has_line(out, "# TYPE ramm_guest_size_bytes gauge"));
	assert_true(has_line(out, "ramm_guest_size_bytes{guest=\"web1\"} 536870912"));
	assert_true(has_line(out, "ramm_guest_unit_bytes{guest=\"web1\"} 1073741824"));
	assert_true(has_line(out, "ramm_guest_offer_bytes{guest=\"web1\"} 2147483648"));
	assert_true(has_line(out, "# TYPE ramm_pool_free_bytes gauge"));
	assert_true(has_line(out, "ramm_pool_price{pool=\"ordinary\"} 300"));
	assert_true(has_line(out, "ramm_pool_price{pool=\"hugetlb-1048576k\"} 1000"));
	assert_true(has_line(out, "ramm_pool_free_bytes{pool=\"hugetlb-1048576k\"} 1073741824"));
	assert_true(has_line(out, "ramm_pool_demand_bytes{pool=\"hugetlb-1048576k\"} 5368709120"));
	assert_true(has_line(out, "ramm_guest_target_bytes{guest=\"web1\"} 805306368"));
	assert_true(has_line(out, "ramm_guest_floor_bytes{guest=\"web1\"} 268435456"));
	assert_true(has_line(out, "ramm_guest_cap_bytes{guest=\"web1\"} 1342177280"));
	assert_true(has_line(out, "# TYPE ramm_guest_paid_total counter"));
	assert_true(has_line(out, "ramm_guest_paid_total{guest=\"web1\"} 12345"));
	assert_true(has_line(out, "ramm_guest_balance{guest=\"web1\"} 77"));
	assert_true(has_line(out, "ramm_guest_credit{guest=\"web1\"} 0.500"));
	assert_true(has_line(out, "ramm_guest_agent_up{guest=\"web1\"} 1"));
	assert_true(has_line(out, "ramm_guest_pins_memory{guest=\"web1\"} 1"));
	assert_true(has_line(out, "ramm_guest_pins_memory{guest=\"db\\\"x\\\\y\\nz\"} 0"));
	assert_true(has_line(out, "ramm_guest_bid_bytes{guest=\"web1\",tier=\"in_use\"} 104857600"));
	assert_true(has_line(out, "ramm_guest_bid_bytes{guest=\"web1\",tier=\"need\"} 209715200"));
	assert_true(has_line(out, "ramm_guest_bid_bytes{guest=\"web1\",tier=\"any\"} 314572800"));
	/* Label values are escaped: no line is broken by a name. */
	assert_true(has_line(out, "ramm_guest_size_bytes{guest=\"db\\\"x\\\\y\\nz\"} 1"));
	assert_true(has_line(out, "ramm_market_price 300"));
	assert_true(has_line(out, "ramm_supply_bytes 1073741824"));
	assert_true(has_line(out, "ramm_allocated_bytes 2"));
	assert_true(has_line(out, "ramm_demand_bytes 3"));
	assert_true(has_line(out, "# TYPE ramm_ticks_total counter"));
	assert_true(has_line(out, "ramm_ticks_total 42"));
	assert_true(has_line(out, "ramm_emergency 1"));
	assert_int_equal(out[len - 1], '\n');
	/* Every sample line has a HELP and a TYPE before it. */
	for (char *line = out; *line;) {
		char *nl = strchr(line, '\n'), name[128];
		size_t n = strcspn(line, "{ ");

		assert_non_null(nl);
		if (line[0] != '#') {
			char help[160];

			assert_true(n < sizeof(name));
			memcpy(name, line, n);
			name[n] = '\0';
			snprintf(help, sizeof(help), "# HELP %s ", name);
			assert_non_null(strstr(out, help));
		}
		line = nl + 1;
	}
	free(out);
}

static void test_format_empty(void **state)
{
	const struct metrics_snapshot m = { 0 };
	char *out;
	size_t len;

	(void)state;
	assert_int_equal(metrics_format(&m, &out, &len), 0);
	assert_true(has_line(out, "ramm_market_price 0"));
	assert_null(strstr(out, "guest=\""));
	free(out);
}

static void test_history_ring(void **state)
{
	struct history h = { 0 };
	struct history_entry e = { 0 };

	(void)state;
	assert_int_equal(history_len(&h), 0);
	assert_null(history_get(&h, 0));
	for (int i = 0; i < HISTORY_LEN + 5; i++) {
		e.time_ms = i;
		e.price = (uint32_t)i;
		assert_int_equal(history_push(&h, &e), 0);
	}
	assert_int_equal(history_len(&h), HISTORY_LEN);
	assert_int_equal(history_get(&h, 0)->time_ms, 5);
	assert_int_equal(history_get(&h, HISTORY_LEN - 1)->time_ms, HISTORY_LEN + 4);
	assert_null(history_get(&h, HISTORY_LEN));
	history_free(&h);
	assert_int_equal(history_len(&h), 0);
	e.time_ms = 9;
	assert_int_equal(history_push(&h, &e), 0);
	assert_int_equal(history_get(&h, 0)->time_ms, 9);
	history_free(&h);
}

static void test_listen_parse(void **state)
{
	struct config_listen l;

	(void)state;
	assert_int_equal(config_parse_listen("127.0.0.1:9464", &l), 0);
	assert_string_equal(l.host, "127.0.0.1");
	assert_int_equal(l.port, 9464);
	assert_int_equal(l.ipv6, 0);
	assert_int_equal(config_parse_listen("127.1.2.3:1", &l), 0);
	assert_int_equal(config_parse_listen("[::1]:65535", &l), 0);
	assert_int_equal(l.ipv6, 1);
	assert_int_equal(l.port, 65535);
	static const char *const bad[] = {
		"0.0.0.0:9464", "10.0.0.1:80", "localhost:9464", "127.0.0.1",
		"127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:9x",
		"[::]:9464", "[::1]9464", "127.0.0.256:80", "127.0.0.1.5:80",
		"127.0.0.1:+80", ":80", "", "127.0.0.01:80", "127.1:80",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(config_parse_listen(bad[i], NULL), -EINVAL);
}

static void test_listen_config(void **state)
{
	struct rammd_config cfg;
	char err[256];
	const char *ok = "[rammd]\nmetrics_listen = \n";
	const char *bad = "[rammd]\n\nmetrics_listen = 0.0.0.0:9464\n";

	(void)state;
	config_defaults(&cfg);
	assert_string_equal(cfg.metrics_listen, "127.0.0.1:9464");
	assert_int_equal(config_parse(ok, strlen(ok), "f.conf", &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.metrics_listen, "");
	config_defaults(&cfg);
	assert_int_equal(config_parse(bad, strlen(bad), "f.conf", &cfg, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "f.conf:3: key 'metrics_listen'"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_guests),
		cmocka_unit_test(test_format_empty),
		cmocka_unit_test(test_history_ring),
		cmocka_unit_test(test_listen_parse),
		cmocka_unit_test(test_listen_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
