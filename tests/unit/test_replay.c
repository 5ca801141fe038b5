/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for ramm-sim --replay (broker/sim/replay.c): a recorded tick
 * replays with no mismatch, a changed field is found and named, and a
 * malformed or missing file is an error naming the file and line.
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
#include <unistd.h>

#include "config.h"
#include "plan.h"
#include "plan_record.h"
#include "sim/replay.h"

#define MIB (1024ULL * 1024ULL)

/* One tick of two guests on ordinary memory, A bidding for more than it
 * has and B idle above its floor, as a record line (malloc'd). */
static char *recorded_tick(void)
{
	static struct rammd_config cfg;
	struct plan_guest g[2];
	struct plan_action actions[2];
	struct plan_guest_result results[2];
	struct plan_result out = { .actions = actions, .guests = results };
	struct plan_input in = { .cfg = &cfg, .now_us = 10000000, .n_guests = 2,
				 .guests = g };
	char *line;
	size_t len;

	config_defaults(&cfg);
	cfg.supply_mib = 512;
	cfg.shrink_delay_ms = 0; /* shrinks on the recorded tick */
	cfg.reserve_price = 0;
	in.host = (struct plan_host){ .base_page_bytes = 4096, .meminfo_ok = 1,
				      .mem_total_bytes = 8192 * MIB,
				      .mem_available_bytes = 4096 * MIB };
	for (int i = 0; i < 2; i++)
		g[i] = (struct plan_guest){
			.in_market = 1, .device_ready = 1, .weight = 100,
			.unit_bytes = 2 * MIB, .floor_bytes = 256 * MIB,
			.cap_bytes = 1024 * MIB, .boot_bytes = 256 * MIB,
			.size_bytes = (i ? 256 : 0) * MIB,
			.requested_bytes = (i ? 256 : 0) * MIB, .page_bytes = 4096,
			.have_report = 1, .report_us = 9900000,
			.report_unit_bytes = 2 * MIB, .mem_available_bytes = 64 * MIB,
			.n_bid = 1, .bid = { { i ? 8 : 200, 8000 } } };
	assert_int_equal(plan_tick(&in, &out), 0);
	assert_true(out.n_actions >= 2);
	assert_int_equal(plan_record_format(&in, &out, &line, &len), 0);
	return line;
}

/* Write @text to a new temporary file; returns its path (static). */
static const char *temp_file(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_replay.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* Replay @text; returns replay_file()'s result, output in @report. */
static int replay_text(const char *text, struct replay_summary *sum,
		       char *report, size_t report_len, char *err)
{
	const char *path = temp_file(text);
	FILE *f = fmemopen(report, report_len, "w");
	int ret;

	assert_non_null(f);
	ret = replay_file(path, f, sum, err, 256);
	fclose(f);
	unlink(path);
	return ret;
}

static void test_identical(void **state)
{
	char *line = recorded_tick(), *two, report[4096] = "", err[256] = "";
	struct replay_summary sum;

	(void)state;
	two = malloc(2 * strlen(line) + 1);
	assert_non_null(two);
	sprintf(two, "%s%s", line, line);
	assert_int_equal(replay_text(two, &sum, report, sizeof(report), err), 0);
	assert_int_equal(sum.ticks, 2);
	assert_true(sum.actions >= 4);
	assert_int_equal(sum.mismatches, 0);
	assert_string_equal(report, "");
	free(two);
	free(line);
}

/* @line with the first " @key=VALUE" given @value (malloc'd). */
static char *with_value(const char *line, const char *key, const char *value)
{
	char pat[256], *s;
	const char *at, *v, *end;

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

/* Each changed field is one mismatch, named with its tick. */
static void test_mismatch_named(void **state)
{
	static const struct { const char *key, *value, *want; } cases[] = {
		{ "action=0 guest", "0", "tick 1: action 0 (guest 0): guest recorded 0, replayed 1" },
		{ "total_bytes", "1", "total_bytes recorded 1, replayed" },
		{ "to_units", "999", "to_units recorded 999, replayed" },
		{ "only_offered", "1", "only_offered recorded 1, replayed 0" },
		{ "offered_units", "7", "offered_units recorded 7, replayed 0" },
		{ "target_units", "4242", "tick 1: guest 0: target_units recorded 4242, replayed" },
		{ "paid", "1", "guest 0: paid recorded 1, replayed" },
	};
	char *line = recorded_tick();

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char report[4096] = "", err[256] = "", *bad;
		struct replay_summary sum;

		bad = with_value(line, cases[i].key, cases[i].value);
		assert_int_equal(replay_text(bad, &sum, report, sizeof(report), err), 0);
		assert_int_equal(sum.ticks, 1);
		if (sum.mismatches < 1 || !strstr(report, cases[i].want))
			fail_msg("%s=%s: %llu mismatches, report:\n%s", cases[i].key,
				 cases[i].value, (unsigned long long)sum.mismatches, report);
		free(bad);
	}
	/* A pool's price and a guest's balance (the last result's keys). */
	{
		char report[4096] = "", err[256] = "", *bad;
		struct replay_summary sum;

		bad = with_value(line, "pool=0 name=ordinary page_bytes=0 host_nodes=0 unit_bytes=2097152 n_guests=2 price",
				 "77");
		assert_int_equal(replay_text(bad, &sum, report, sizeof(report), err), 0);
		if (!strstr(report, "pool 0 (ordinary): price recorded 77"))
			fail_msg("report:\n%s", report);
		free(bad);
	}
	free(line);
}

static void test_bad_files(void **state)
{
	char *line = recorded_tick(), *text, report[4096] = "", err[256] = "";
	struct replay_summary sum;

	(void)state;
	text = malloc(strlen(line) + 16);
	assert_non_null(text);
	sprintf(text, "%sjunk\n", line);
	assert_int_equal(replay_text(text, &sum, report, sizeof(report), err), -EINVAL);
	assert_non_null(strstr(err, ":2: token 1: expected 'ramm-plan-record='"));
	assert_int_equal(sum.ticks, 1);

	/* A line cut short by a crash mid-write. */
	sprintf(text, "%.*s", (int)strlen(line) / 2, line);
	assert_int_equal(replay_text(text, &sum, report, sizeof(report), err), -EINVAL);
	assert_non_null(strstr(err, ":1: token"));

	assert_int_equal(replay_text("", &sum, report, sizeof(report), err), 0);
	assert_int_equal(sum.ticks, 0);

	assert_int_equal(replay_file("/nonexistent/rec", stdout, &sum, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/rec: "));
	free(text);
	free(line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identical),
		cmocka_unit_test(test_mismatch_named),
		cmocka_unit_test(test_bad_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
