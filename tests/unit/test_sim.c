/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for ramm-sim (broker/sim/): the trace reader on good and
 * hostile input, the built-in scenarios, the metrics on hand-computed
 * cases (whole backing pages included), the clamp/scale rule and the
 * pools it applies to, the ramm policy's guest model, and whole runs:
 * deterministic, within the host (and each pool) for every policy, and
 * ramm planning 1 GiB-backed guests in whole pages.
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

#include "market.h"
#include "ramm/bid_tiers.h"
#include "sim/metrics.h"
#include "sim/scenario.h"
#include "sim/sim.h"

#define HDR SIM_TRACE_HEADER "\n"
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MIB (1024ull * 1024ull)

static struct sim_scenario *parse_ok(const char *text, uint32_t host_mib)
{
	struct sim_scenario *sc = NULL;
	char err[256] = "";

	assert_int_equal(sim_trace_parse(text, strlen(text), "f.csv",
					 &(struct sim_trace_host){ host_mib, 0 }, &sc, err, sizeof(err)), 0);
	assert_non_null(sc);
	assert_int_equal(sim_scenario_check(sc), 0);
	return sc;
}

/* ---- traces ---- */

static void test_trace_valid(void **state)
{
	/* Out of order, CRLF, an empty weight (100), no final newline. */
	struct sim_scenario *sc = parse_ok(HDR "1,b,3000,50\r\n0,a,2000,\n"
					   "0,b,1000,50\n1,a,4000,", 0);

	(void)state;
	assert_int_equal(sc->n_guests, 2);
	assert_int_equal(sc->n_seconds, 2);
	assert_string_equal(sc->guests[0].name, "b"); /* first seen first */
	assert_string_equal(sc->guests[1].name, "a");
	assert_int_equal(sc->wss_mib[0 * 2 + 0], 1000);
	assert_int_equal(sc->wss_mib[0 * 2 + 1], 2000);
	assert_int_equal(sc->wss_mib[1 * 2 + 0], 3000);
	assert_int_equal(sc->wss_mib[1 * 2 + 1], 4000);
	assert_int_equal(sc->weight[0], 50);
	assert_int_equal(sc->weight[1], 100);
	assert_int_equal(sc->unit_mib, 2);
	/* Sizes (docs/SIMULATOR.md): host = 2000 + 3000 mean wss; floors
	 * 1000 (b's smallest wss) and 1024; the 2976 MiB above them split
	 * 2:3 in whole units; caps twice static. */
	assert_int_equal(sc->host_mib, 5000);
	assert_int_equal(sc->guests[0].floor_mib, 1000);
	assert_int_equal(sc->guests[1].floor_mib, 1024);
	assert_int_equal(sc->guests[0].static_mib, 1000 + 1190);
	assert_int_equal(sc->guests[1].static_mib, 1024 + 1784);
	assert_int_equal(sc->guests[0].cap_mib, 2 * 2190);
	assert_int_equal(sc->guests[1].cap_mib, 2 * 2808);
	sim_scenario_free(sc);

	sc = parse_ok(HDR "0,x.y_Z-9,0,1\n", 8192);
	assert_int_equal(sc->host_mib, 8192);
	assert_int_equal(sc->guests[0].floor_mib, 2); /* wss 0: one unit */
	assert_int_equal(sc->guests[0].static_mib, 8192);
	sim_scenario_free(sc);
}

static void expect_trace_error(const char *text, size_t len, uint32_t host,
			       const char *want)
{
	static struct sim_scenario dummy;
	struct sim_scenario *sc = &dummy;
	char err[256] = "";

	assert_int_equal(sim_trace_parse(text, len, "f.csv",
					 &(struct sim_trace_host){ host, 0 }, &sc,
					 err, sizeof(err)), -EINVAL);
	assert_null(sc);
	if (!strstr(err, want) || strncmp(err, "f.csv:", 6))
		fail_msg("error '%s' does not start with 'f.csv:' and say '%s'",
			 err, want);
}

static void test_trace_hostile(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{ "", "f.csv:1: empty file" },
		{ "t_s,guest,wss,weight\n0,a,1,1\n", "f.csv:1: header" },
		{ HDR, "no data rows" },
		{ HDR "\n", "f.csv:2: 1 fields" },
		{ HDR "0,a,1\n", "f.csv:2: 3 fields" },
		{ HDR "0,a,1,1,1\n", "f.csv:2: more than 4 fields" },
		{ HDR "0,a,1,1\nx,a,1,1\n", "f.csv:3: bad t_s" },
		{ HDR "604800,a,1,1\n", "bad t_s" },
		{ HDR "-1,a,1,1\n", "bad t_s" },
		{ HDR "+1,a,1,1\n", "bad t_s" },
		{ HDR " 1,a,1,1\n", "bad t_s" },
		{ HDR "0,a,16777217,1\n", "bad wss_mib" },
		{ HDR "0,a,99999999999999999999999,1\n", "bad wss_mib" },
		{ HDR "0,a,1.5,1\n", "bad wss_mib" },
		{ HDR "0,a,1,0\n", "bad weight" },
		{ HDR "0,a,1,1000001\n", "bad weight" },
		{ HDR "0,a b,1,1\n", "bad guest name" },
		{ HDR "0,,1,1\n", "bad guest name" },
		{ HDR "0,a\"<>,1,1\n", "bad guest name" },
		{ HDR "0,abcdefghijabcdefghijabcdefghij12,1,1\n", "bad guest name" },
		{ HDR "0,a,1,1\n0,b,1,1\n1,a,1,1\n",
		  "f.csv: guest 'b' has no row for t_s=1" },
		{ HDR "1,a,1,1\n", "guest 'a' has no row for t_s=0" },
		{ HDR "0,a,1,1\n0,a,2,1\n", "f.csv:3: a second row for guest 'a'" },
		/* As many rows as cells, one twice and one missing. */
		{ HDR "0,a,1,1\n1,a,1,1\n0,b,1,1\n0,b,1,1\n",
		  "f.csv:5: a second row for guest 'b' at t_s=0" },
	};
	char big[1024];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		expect_trace_error(cases[i].text, strlen(cases[i].text), 0,
				   cases[i].want);
	expect_trace_error(HDR "0,a\0,1,1\n", strlen(HDR) + 9, 0, "NUL byte");
	expect_trace_error(HDR "0,a,2000,1\n", strlen(HDR) + 11, 1000,
			   "below the guests' floors");
	/* Never read: the size is refused first. */
	expect_trace_error(HDR, (size_t)SIM_TRACE_MAX_BYTES + 1, 0,
			   "larger than 64 MiB");

	memset(big, '1', sizeof(big));
	memcpy(big, HDR "0,a,", strlen(HDR) + 4);
	big[sizeof(big) - 1] = '\0';
	expect_trace_error(big, strlen(big), 0, "f.csv:2: line longer than");
}

static void test_trace_too_many_guests(void **state)
{
	size_t cap = strlen(HDR) + (SIM_MAX_GUESTS + 1) * 16, len;
	char *text = malloc(cap), want[64];

	(void)state;
	assert_non_null(text);
	len = (size_t)sprintf(text, HDR);
	for (int g = 0; g <= SIM_MAX_GUESTS; g++)
		len += (size_t)sprintf(text + len, "0,g%d,1,1\n", g);
	/* The header is line 1, guest g is on line g + 2. */
	snprintf(want, sizeof(want), "f.csv:%d: more than %d guests",
		 SIM_MAX_GUESTS + 2, SIM_MAX_GUESTS);
	expect_trace_error(text, len, 0, want);
	free(text);
}

static void test_trace_load(void **state)
{
	char path[] = "/tmp/test_sim_XXXXXX", err[256];
	struct sim_scenario *sc;
	const char *text = HDR "0,a,3000,1\n";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	assert_int_equal(sim_trace_load(path, &(struct sim_trace_host){ 0 }, &sc,
					err, sizeof(err)), 0);
	assert_int_equal(sc->wss_mib[0], 3000);
	sim_scenario_free(sc);
	unlink(path);
	assert_int_equal(sim_trace_load(path, &(struct sim_trace_host){ 0 }, &sc,
					err, sizeof(err)),
			 -ENOENT);
	assert_null(sc);
	assert_true(!strncmp(err, path, strlen(path)));
}

/* The optional cap_mib and floor_mib columns, and --host-pct. */
static void test_trace_sized(void **state)
{
	static const char *hdr = SIM_TRACE_HEADER_SIZED "\n";
	struct sim_scenario *sc = NULL;
	char text[256], err[256] = "";

	(void)state;
	/* a: cap 3001 (whole units above its floor 512: 3000) on one row
	 * only; b: neither given. */
	snprintf(text, sizeof(text), "%s0,a,2000,,3001,512\n0,b,1000,,,\n"
		 "1,a,2000,,,\n1,b,3000,,,\n", hdr);
	assert_int_equal(sim_trace_parse(text, strlen(text), "f.csv",
					 &(struct sim_trace_host){ 0, 125 },
					 &sc, err, sizeof(err)), 0);
	assert_int_equal(sim_scenario_check(sc), 0);
	/* Host: 125 % of 2000 + 2000 mean working sets. */
	assert_int_equal(sc->host_mib, 5000);
	assert_int_equal(sc->guests[0].floor_mib, 512);
	assert_int_equal(sc->guests[0].cap_mib, 3000);
	assert_int_equal(sc->guests[1].floor_mib, 1000);
	/* 3488 MiB above the floors, half each in whole units; a's static
	 * stays within its cap. */
	assert_int_equal(sc->guests[0].static_mib, 512 + 1744);
	assert_int_equal(sc->guests[1].static_mib, 1000 + 1744);
	assert_int_equal(sc->guests[1].cap_mib, 2 * 2744);
	sim_scenario_free(sc);

	/* A small cap bounds the derived floor; a static above it is cut. */
	snprintf(text, sizeof(text), "%s0,a,4000,,600,\n", hdr);
	assert_int_equal(sim_trace_parse(text, strlen(text), "f.csv",
					 &(struct sim_trace_host){ 0 }, &sc,
					 err, sizeof(err)), 0);
	assert_int_equal(sc->guests[0].floor_mib, 600);
	assert_int_equal(sc->guests[0].cap_mib, 600);
	assert_int_equal(sc->guests[0].static_mib, 600);
	sim_scenario_free(sc);

	snprintf(text, sizeof(text), "%s0,a,1,,100,\n1,a,1,,200,\n", hdr);
	expect_trace_error(text, strlen(text), 0,
			   "f.csv:3: guest 'a' has cap_mib 200 here and 100");
	snprintf(text, sizeof(text), "%s0,a,1,,100,200\n", hdr);
	expect_trace_error(text, strlen(text), 0,
			   "f.csv: guest 'a': floor_mib 200 is above its cap_mib");
	snprintf(text, sizeof(text), "%s0,a,1,,0,\n", hdr);
	expect_trace_error(text, strlen(text), 0, "f.csv:2: bad cap_mib");
	snprintf(text, sizeof(text), "%s0,a,1,,,x\n", hdr);
	expect_trace_error(text, strlen(text), 0, "f.csv:2: bad floor_mib");
	snprintf(text, sizeof(text), "%s0,a,1,1\n", hdr);
	expect_trace_error(text, strlen(text), 0, "f.csv:2: 4 fields, "
			   "expected 6");
	expect_trace_error(HDR "0,a,1,1,5,5\n", strlen(HDR) + 12, 0,
			   "more than 4 fields");
}

/* ---- Bitbrains traces ---- */

#define BB_HDR "Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];" \
	"\tCPU usage [MHZ];\tCPU usage [%];\tMemory capacity provisioned " \
	"[KB];\tMemory usage [KB];\tDisk read throughput [KB/s];\tDisk " \
	"write throughput [KB/s];\tNetwork received throughput [KB/s];" \
	"\tNetwork transmitted throughput [KB/s]\n"

/* One Bitbrains row at @ts with @prov_kb and @use_kb as written. */
#define BB_ROW(ts, prov_kb, use_kb) \
	ts ";\t1;\t2599.9;\t46.7;\t1.8;\t" prov_kb ";\t" use_kb \
	";\t0.1;\t9.3;\t0.6;\t4.5\n"

/* Write @text to a new file called @name under @dir; its path to @path. */
static void bb_write(const char *dir, const char *name, const char *text,
		     char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void expect_bitbrains_error(const char *dir, const char *text,
				   const char *want)
{
	char path[128], err[256] = "";
	const char *paths[] = { path };
	struct sim_scenario *sc = NULL;

	bb_write(dir, "bad.csv", text, path, sizeof(path));
	assert_int_equal(sim_bitbrains_load(paths, 1, 0,
					    &(struct sim_trace_host){ 0 },
					    &sc, err, sizeof(err)), -EINVAL);
	assert_null(sc);
	if (!strstr(err, want))
		fail_msg("error '%s' does not say '%s'", err, want);
	unlink(path);
}

static void test_bitbrains(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} bad[] = {
		{ "", "no data rows" },
		{ "t;a\n", "bad.csv:1: not a GWA-T-12 header" },
		{ BB_HDR, "bad.csv: no data rows" },
		{ BB_HDR "1;2;3\n", "bad.csv:2: want 11 columns" },
		{ BB_HDR BB_ROW("1000", "1", "1") BB_ROW("999", "1", "1"),
		  "bad.csv:3: timestamp 999 is before" },
		{ BB_HDR BB_ROW("-5", "1", "1"), "bad timestamp" },
		{ BB_HDR BB_ROW("0", "1", "1"), "bad timestamp" },
		{ BB_HDR BB_ROW("1", "nan", "1"), "bad memory figure" },
		{ BB_HDR BB_ROW("1", "1", "-1.0"), "bad memory figure" },
		{ BB_HDR BB_ROW("1", "1", "1e300"), "bad memory figure" },
		{ BB_HDR BB_ROW("1", "1", "0x10"), "bad memory figure" },
	};
	char dir[] = "/tmp/test_sim_bb_XXXXXX", p1[128], p2[128], err[256];
	const char *paths[] = { p1, p2 };
	struct sim_scenario *sc = NULL;
	char long_line[SIM_BITBRAINS_MAX_LINE + 64];

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* VM 7: 2 GiB provisioned, then 4 GiB; two rows at 1010, the later
	 * wins; scientific notation as published. */
	bb_write(dir, "7.csv", BB_HDR
		 BB_ROW("1000", "2097152.0", "1048576.0")
		 BB_ROW("1010", "2097152.0", "10240.0")
		 BB_ROW("1010", "4.194304E6", "2.097152E6"), p1, sizeof(p1));
	/* VM x-1 starts 5 s later and holds 512 MiB. */
	bb_write(dir, "x-1.csv", BB_HDR BB_ROW("1005", "1048576", "524288.4"),
		 p2, sizeof(p2));
	assert_int_equal(sim_bitbrains_load(paths, 2, 20,
					    &(struct sim_trace_host){ 0 },
					    &sc, err, sizeof(err)), 0);
	assert_string_equal(sc->name, "bitbrains");
	assert_int_equal(sc->n_guests, 2);
	assert_int_equal(sc->n_seconds, 20);
	assert_string_equal(sc->guests[0].name, "7");
	assert_string_equal(sc->guests[1].name, "x-1");
	for (size_t t = 0; t < 20; t++) {
		/* Each reading holds until the next; 0 before the first. */
		assert_int_equal(sc->wss_mib[t * 2], t < 10 ? 1024 : 2048);
		assert_int_equal(sc->wss_mib[t * 2 + 1], t < 5 ? 0 : 512);
		assert_int_equal(sc->weight[t * 2], SIM_TRACE_DEFAULT_WEIGHT);
	}
	/* Caps: the largest provisioned size; floors: the smallest working
	 * sets (1024 MiB; 0, so one unit). */
	assert_int_equal(sc->guests[0].cap_mib, 4096);
	assert_int_equal(sc->guests[1].cap_mib, 1024);
	assert_int_equal(sc->guests[0].floor_mib, 1024);
	assert_int_equal(sc->guests[1].floor_mib, 2);
	/* Host: the sum of the mean working sets, 1536 + 384. */
	assert_int_equal(sc->host_mib, 1920);
	sim_scenario_free(sc);

	/* The default window is the files' span; one 20-s window ends
	 * before 1010, so 7's cap is the 2 GiB seen in it. */
	assert_int_equal(sim_bitbrains_load(paths, 2, 0,
					    &(struct sim_trace_host){ 0, 125 },
					    &sc, err, sizeof(err)), 0);
	assert_int_equal(sc->n_seconds, 11);
	sim_scenario_free(sc);
	assert_int_equal(sim_bitbrains_load(paths, 2, 8,
					    &(struct sim_trace_host){ 0 },
					    &sc, err, sizeof(err)), 0);
	assert_int_equal(sc->guests[0].cap_mib, 2048);
	sim_scenario_free(sc);

	paths[1] = p1;
	assert_int_equal(sim_bitbrains_load(paths, 2, 0,
					    &(struct sim_trace_host){ 0 },
					    &sc, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "a second file for VM '7'"));

	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		expect_bitbrains_error(dir, bad[i].text, bad[i].want);
	memset(long_line, '1', sizeof(long_line) - 1);
	long_line[sizeof(long_line) - 1] = '\0';
	expect_bitbrains_error(dir, long_line, "bad.csv:1: line longer than");
	unlink(p1);
	unlink(p2);
	assert_int_equal(rmdir(dir), 0);
}

/* ---- the oracle ---- */

/* With demand that fits its host and caps, the oracle falls short only at
 * t = 0, where every policy holds its statics; no policy does better. */
static void test_oracle(void **state)
{
	struct sim_scenario *sc = parse_ok(HDR "0,a,3000,\n0,b,1000,\n"
					   "1,a,1000,\n1,b,3000,\n"
					   "2,a,2000,\n2,b,2000,\n", 0);
	struct sim_metrics *m = calloc(1, sizeof(*m));
	struct sim_metrics *o = calloc(1, sizeof(*o));

	(void)state;
	assert_non_null(m);
	assert_non_null(o);
	assert_int_equal(sim_run(sc, &sim_policy_oracle, o, NULL, 1), 0);
	assert_true(o->shortfall_gib_s > 0);
	assert_true(o->shortfall_gib_s * 1024 <=
		    3000 - sc->guests[0].static_mib + 1e-9);
	for (size_t p = 0; p < SIM_N_POLICIES; p++) {
		assert_int_equal(sim_run(sc, sim_policies[p], m, NULL, 1), 0);
		assert_true(m->shortfall_gib_s >= o->shortfall_gib_s - 1e-9);
	}
	sim_scenario_free(sc);
	free(m);
	free(o);
}

/* ---- built-in scenarios ---- */

static void test_scenarios(void **state)
{
	struct sim_scenario *sc;

	(void)state;
	assert_int_equal(sim_scenario_build("nope", 1, &sc), -ENOENT);
	assert_null(sc);
	for (size_t i = 0; i < SIM_N_SCENARIOS; i++) {
		size_t over = 0, slack = 0, bidders = 0, n;
		uint64_t statics = 0;
		int unequal = 0;

		assert_int_equal(sim_scenario_build(sim_scenario_name(i),
						    SIM_DEFAULT_SEED, &sc), 0);
		assert_int_equal(sim_scenario_check(sc), 0);
		n = sc->n_guests;
		for (size_t g = 0; g < n; g++) {
			statics += sc->guests[g].static_mib;
			bidders += sc->guests[g].overbidder != 0;
			unequal |= sc->weight[g] != sc->weight[0];
		}
		/* Static sizing hands out the whole host ... */
		assert_int_equal(statics, sc->host_mib);
		/* ... which the working sets sometimes pass, sometimes not. */
		for (size_t t = 0; t < sc->n_seconds; t++) {
			uint64_t wss = 0;

			for (size_t g = 0; g < n; g++)
				wss += sc->wss_mib[t * n + g];
			over += wss > sc->host_mib;
			slack += wss < sc->host_mib;
		}
		assert_true(over > 0 && slack > 0);
		assert_int_equal(bidders, !strcmp(sc->name, "overbidder"));
		assert_int_equal(unequal, !strcmp(sc->name, "mixed"));
		sim_scenario_free(sc);
	}
}

/* ---- metrics ---- */

/* Two guests, 8 s, host 8192: floors 1024, statics 4096, caps 8192. */
static struct sim_scenario *two_guests(uint32_t *wss, uint32_t *weight)
{
	static struct sim_scenario sc;

	memset(&sc, 0, sizeof(sc));
	snprintf(sc.name, sizeof(sc.name), "hand");
	sc.host_mib = 8192;
	sc.unit_mib = 2;
	sc.n_guests = 2;
	sc.n_seconds = 8;
	for (size_t g = 0; g < 2; g++)
		sc.guests[g] = (struct sim_guest_spec){ "g", 1024, 4096, 8192, 0, 0 };
	sc.wss_mib = wss;
	sc.weight = weight;
	return &sc;
}

static void test_metrics_hand(void **state)
{
	/* a wants 4000 throughout, b 2000. a is held at 3000 (< 90 % of
	 * 4000) for 6 s: one OOM-risk event; b at 1500 (< 90 % of 2000)
	 * for only 5 s: none. */
	static const uint32_t alloc[8][2] = {
		{ 4096, 2048 }, { 3000, 1500 }, { 3000, 1500 }, { 3000, 1500 },
		{ 3000, 1500 }, { 3000, 1500 }, { 3000, 2048 }, { 4096, 2048 },
	};
	uint32_t wss[16], weight[16];
	struct sim_scenario *sc;
	struct sim_metrics m;
	double saved = 0, share_a = 0;

	(void)state;
	for (size_t t = 0; t < 8; t++) {
		wss[2 * t] = 4000;
		wss[2 * t + 1] = 2000;
		weight[2 * t] = 100;
		weight[2 * t + 1] = 300;
		saved += (8192.0 - alloc[t][0] - alloc[t][1]) / 8192.0;
		share_a += (alloc[t][0] - 1024) / 6144.0;
	}
	sc = two_guests(wss, weight);
	sim_metrics_begin(&m, sc);
	for (size_t t = 0; t < 8; t++)
		sim_metrics_step(&m, sc, t, alloc[t]);
	sim_metrics_end(&m, sc);

	assert_int_equal(m.seconds, 8);
	/* a short 1000 for 6 s, b 500 for 5 s. */
	assert_float_equal(m.shortfall_gib_s, (6000.0 + 2500.0) / 1024, 1e-9);
	assert_float_equal(m.guest[0].shortfall_gib_s, 6000.0 / 1024, 1e-9);
	assert_float_equal(m.peak_shortfall_gib, 1500.0 / 1024, 1e-9);
	assert_int_equal(m.oom_risk_events, 1);
	assert_int_equal(m.guest[0].oom_risk_events, 1);
	assert_int_equal(m.guest[1].oom_risk_events, 0);
	assert_float_equal(m.saved_pct, 100.0 * saved / 8, 1e-9);
	/* a: -1096 then +1096; b: -548, +548. */
	assert_float_equal(m.churn_gib, 2 * (1096.0 + 548.0) / 1024, 1e-9);
	assert_float_equal(m.guest[0].satisfied, (2 + 6 * 0.75) / 8, 1e-9);
	assert_float_equal(m.guest[1].satisfied, (3 + 5 * 0.75) / 8, 1e-9);
	assert_float_equal(m.guest[0].share, share_a / 8, 1e-9);
	assert_float_equal(m.guest[0].weight_share, 0.25, 1e-9);
	assert_float_equal(m.guest[1].weight_share, 0.75, 1e-9);
	assert_float_equal(m.guest[0].mean_alloc_mib,
			   (2 * 4096 + 6 * 3000) / 8.0, 1e-9);
	{
		double xa = 0.8125, xb = 0.84375, wa = 100, wb = 300;
		double want = (wa * xa + wb * xb) * (wa * xa + wb * xb) /
			      ((wa + wb) * (wa * xa * xa + wb * xb * xb));

		assert_float_equal(m.fairness, want, 1e-12);
	}
}

static void test_metrics_extremes(void **state)
{
	uint32_t wss[16] = { 0 }, weight[16], alloc[2] = { 1024, 1024 };
	struct sim_scenario *sc;
	struct sim_metrics m;

	(void)state;
	for (size_t i = 0; i < 16; i++)
		weight[i] = 1;
	/* No demand at all: nobody short, all satisfied, fairness 1. */
	sc = two_guests(wss, weight);
	sim_metrics_begin(&m, sc);
	for (size_t t = 0; t < 8; t++)
		sim_metrics_step(&m, sc, t, alloc);
	sim_metrics_end(&m, sc);
	assert_float_equal(m.shortfall_gib_s, 0, 0);
	assert_float_equal(m.fairness, 1, 1e-12);
	assert_float_equal(m.saved_pct, 75, 1e-9);
	assert_float_equal(m.churn_gib, 0, 0);
	/* Equal satisfaction is perfectly fair whatever the weights. */
	for (size_t i = 0; i < 16; i++)
		wss[i] = 2048, weight[i] = (uint32_t)(1 + i % 2 * 9);
	sim_metrics_begin(&m, sc);
	for (size_t t = 0; t < 8; t++)
		sim_metrics_step(&m, sc, t, alloc);
	sim_metrics_end(&m, sc);
	assert_float_equal(m.fairness, 1, 1e-12);
	assert_int_equal(m.oom_risk_events, 2);
}

static struct sim_scenario *limit_scenario(size_t n, uint32_t host)
{
	static struct sim_scenario sc;

	memset(&sc, 0, sizeof(sc));
	sc.host_mib = host;
	sc.unit_mib = 2;
	sc.n_guests = n;
	for (size_t g = 0; g < n; g++)
		sc.guests[g] = (struct sim_guest_spec){ "g", 1024, 4096, 8192, 0, 0 };
	return &sc;
}

static void test_metrics_whole_pages(void **state)
{
	/* a on 1 GiB pages, b on 2 MiB pages, c on ordinary memory; host
	 * 16384. Over 2 s: a holds 2050 then 4096, b 3000 then 2002, c
	 * 1500 then 1501. Whole pages: a 3072 then 4096; b and c as
	 * allocated (b's sizes are whole 2 MiB pages). */
	static const uint32_t alloc[2][3] = { { 2050, 3000, 1500 },
					      { 4096, 2002, 1501 } };
	uint32_t wss[6] = { 0 }, weight[6] = { 1, 1, 1, 1, 1, 1 };
	struct sim_scenario *sc = limit_scenario(3, 16384);
	struct sim_metrics m;
	double nominal, whole;

	(void)state;
	sc->n_seconds = 2;
	sc->wss_mib = wss;
	sc->weight = weight;
	sc->guests[0].page_mib = 1024;
	sc->guests[1].page_mib = 2;
	assert_int_equal(sim_backing_mib(&sc->guests[0], 1024), 1024);
	assert_int_equal(sim_backing_mib(&sc->guests[0], 1026), 2048);
	assert_int_equal(sim_backing_mib(&sc->guests[0], 2050), 3072);
	assert_int_equal(sim_backing_mib(&sc->guests[1], 3000), 3000);
	assert_int_equal(sim_backing_mib(&sc->guests[2], 1501), 1501);
	sim_metrics_begin(&m, sc);
	for (size_t t = 0; t < 2; t++)
		sim_metrics_step(&m, sc, t, alloc[t]);
	sim_metrics_end(&m, sc);
	nominal = ((16384 - 6550) + (16384 - 7599)) / 2.0 / 1024;
	whole = ((16384 - 7572) + (16384 - 7599)) / 2.0 / 1024;
	assert_float_equal(m.freed_gib, nominal, 1e-9);
	assert_float_equal(m.freed_whole_gib, whole, 1e-9);
	assert_float_equal(m.guest[0].mean_alloc_mib, (2050 + 4096) / 2.0, 1e-9);
	assert_float_equal(m.guest[0].mean_backing_mib, (3072 + 4096) / 2.0,
			   1e-9);
	assert_float_equal(m.guest[1].mean_backing_mib, (3000 + 2002) / 2.0,
			   1e-9);
}

/* ---- the clamp/scale rule ---- */

static void test_limit_cases(void **state)
{
	struct sim_scenario *sc = limit_scenario(3, 12288);
	uint32_t cur[3] = { 4096, 4096, 4096 }, next[3];

	(void)state;
	/* Clamped to [floor, cap], rounded down to whole units. */
	sc->host_mib = 3 * 8192;
	memcpy(next, (uint32_t[]){ 10, 9999, 4095 }, sizeof(next));
	sim_limit(sc, cur, next);
	assert_int_equal(next[0], 1024);
	assert_int_equal(next[1], 8192);
	assert_int_equal(next[2], 4094);
	sc->host_mib = 3 * 4096;
	/* A full host: growth waits, the shrink happens. */
	memcpy(next, (uint32_t[]){ 6144, 5120, 4000 }, sizeof(next));
	sim_limit(sc, cur, next);
	assert_int_equal(next[0], 4096 + 64);   /* 96 MiB free: 48 units */
	assert_int_equal(next[1], 4096 + 32);   /* split 2048:1024 */
	assert_int_equal(next[2], 4000);
	/* 1536 MiB freed, 3072 asked for in a 2:1 ratio. */
	memcpy(next, (uint32_t[]){ 6144, 5120, 2560 }, sizeof(next));
	sim_limit(sc, cur, next);
	assert_int_equal(next[0], 4096 + 1024);
	assert_int_equal(next[1], 4096 + 512);
	assert_int_equal(next[2], 2560);
	/* Rounding leftovers go one unit each, in guest order: 4 units of
	 * room for three guests asking 2 each. */
	sc->host_mib = 3 * 4096 + 8;
	memcpy(next, (uint32_t[]){ 4100, 4100, 4100 }, sizeof(next));
	sim_limit(sc, cur, next);
	assert_int_equal(next[0], 4100);
	assert_int_equal(next[1], 4098);
	assert_int_equal(next[2], 4098);
}

static void test_pools(void **state)
{
	/* Ordinary memory, 2 MiB pages and 1 GiB pages: the huge page pools
	 * hold their guests' statics, ordinary memory the rest. */
	struct sim_scenario *sc = limit_scenario(4, 4 * 4096 + 2048);
	uint32_t cur[4] = { 4096, 4096, 4096, 4096 }, next[4];
	struct sim_pool pools[SIM_MAX_POOLS];

	(void)state;
	sc->guests[0].page_mib = 1024;
	sc->guests[1].page_mib = 2;
	sc->guests[3].page_mib = 1024;
	assert_int_equal(sim_pools(sc, pools), 3);
	assert_int_equal(pools[0].page_mib, 1024);
	assert_int_equal(pools[0].size_mib, 8192);
	assert_int_equal(pools[1].page_mib, 2);
	assert_int_equal(pools[1].size_mib, 4096);
	assert_int_equal(pools[2].page_mib, 0);
	assert_int_equal(pools[2].size_mib, 4096 + 2048);
	/* The 1 GiB pool is full: its guest 0 grows only by what guest 3
	 * gives back (100 MiB); the 2 MiB guest has no room at all, while
	 * ordinary memory has 2048 MiB to spare for guest 2. */
	memcpy(next, (uint32_t[]){ 6144, 5120, 8192, 3996 }, sizeof(next));
	sim_limit(sc, cur, next);
	assert_int_equal(next[0], 4096 + 100);
	assert_int_equal(next[1], 4096);
	assert_int_equal(next[2], 4096 + 2048);
	assert_int_equal(next[3], 3996);
	/* One pool (no huge pages) is the whole host, as before. */
	for (size_t g = 0; g < 4; g++)
		sc->guests[g].page_mib = 0;
	assert_int_equal(sim_pools(sc, pools), 1);
	assert_int_equal(pools[0].size_mib, sc->host_mib);
}

static void test_check_pages(void **state)
{
	struct sim_scenario *sc;
	uint32_t page;

	(void)state;
	assert_int_equal(sim_scenario_build("hugepages", 1, &sc), 0);
	assert_int_equal(sim_scenario_check(sc), 0);
	page = sc->guests[0].page_mib;
	assert_int_equal(page, 1024);
	sc->guests[0].page_mib = 3 * 1024;     /* not a power of two */
	assert_int_equal(sim_scenario_check(sc), -EINVAL);
	sc->guests[0].page_mib = 1;            /* less than a unit */
	assert_int_equal(sim_scenario_check(sc), -EINVAL);
	sc->guests[0].page_mib = page;
	sc->guests[0].static_mib += 2;         /* not whole pages */
	sc->guests[0].cap_mib += 2;
	assert_int_equal(sim_scenario_check(sc), -EINVAL);
	sc->guests[0].static_mib -= 2;
	sc->guests[0].cap_mib -= 2;
	/* Ordinary, 2 MiB and 1 GiB pages make three sizes; SIM_MAX_POOLS
	 * is the most. */
	for (size_t g = 0; g < sc->n_guests; g++)
		sc->guests[g].page_mib = g < SIM_MAX_POOLS ? 2u << g : 0;
	assert_int_equal(sim_scenario_check(sc), -EINVAL);
	sc->guests[SIM_MAX_POOLS - 1].page_mib = 2;
	assert_int_equal(sim_scenario_check(sc), 0);
	sim_scenario_free(sc);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void test_limit_random(void **state)
{
	uint64_t seed = 42;

	(void)state;
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = 1 + xorshift(&seed) % 8;
		struct sim_scenario *sc = limit_scenario(n, 0);
		uint32_t cur[8], next[8], want[8];
		uint64_t sum = 0, sum_want = 0;

		sc->unit_mib = 1u << (xorshift(&seed) % 4);
		for (size_t g = 0; g < n; g++) {
			struct sim_guest_spec *s = &sc->guests[g];

			s->floor_mib = sc->unit_mib * (uint32_t)(1 + xorshift(&seed) % 64);
			s->cap_mib = s->floor_mib +
				     sc->unit_mib * (uint32_t)(xorshift(&seed) % 256);
			cur[g] = s->floor_mib + sc->unit_mib *
				 (uint32_t)(xorshift(&seed) %
					    ((s->cap_mib - s->floor_mib) / sc->unit_mib + 1));
			sum += cur[g];
			next[g] = (uint32_t)(xorshift(&seed) % (s->cap_mib + 600));
			/* The request clamped and rounded, as sim.h says. */
			want[g] = next[g] < s->floor_mib ? s->floor_mib :
				  next[g] > s->cap_mib ? s->cap_mib : next[g];
			want[g] -= (want[g] - s->floor_mib) % sc->unit_mib;
			sum_want += want[g];
		}
		sc->host_mib = (uint32_t)(sum + xorshift(&seed) % 512);
		sim_limit(sc, cur, next);
		sum = 0;
		for (size_t g = 0; g < n; g++) {
			const struct sim_guest_spec *s = &sc->guests[g];

			sum += next[g];
			assert_true(next[g] >= s->floor_mib && next[g] <= s->cap_mib);
			assert_int_equal((next[g] - s->floor_mib) % sc->unit_mib, 0);
			if (want[g] <= cur[g] || sum_want <= sc->host_mib)
				assert_int_equal(next[g], want[g]);
			else /* growth may be cut, never turned into a shrink */
				assert_true(next[g] >= cur[g] && next[g] <= want[g]);
		}
		assert_true(sum <= sc->host_mib);
		/* Scaled back only as far as needed: at most one unit per
		 * guest is left unused. */
		if (sum_want > sc->host_mib)
			assert_true(sum + sc->unit_mib > sc->host_mib ||
				    sum == sum_want);
	}
}

/* ---- the ramm policy's guest model ---- */

static void test_ramm_bid(void **state)
{
	struct sim_guest_spec spec = { "g", 1024, 4096, 8192, 0, 0 };
	struct sim_observation calm = { 4096, 2048, 2048, 0, 100 };
	struct sim_observation full = { 4096, 4096, 0, 2048, 100 };
	struct ramm_bid_step st[RAMM_MAX_BID_STEPS];
	uint64_t units = 0;
	size_t n;

	(void)state;
	n = sim_ramm_bid(&spec, &calm, 2, 8000, st);
	assert_true(n >= 1);
	assert_int_equal(market_validate_bid(st, n), 0);
	assert_int_equal(st[0].price, RAMM_PRICE_IN_USE);
	for (size_t i = 0; i < n; i++)
		units += st[i].units;
	assert_true(units <= (8192 - 1024) / 2);
	/* Calm: it holds wss + wss / 64 + 32 MiB at the in-use price. */
	assert_int_equal(st[0].units, (2048 * MIB + 2048 * MIB / 64 + 32 * MIB -
				       1024 * MIB + 2 * MIB - 1) / (2 * MIB));

	/* Short: it asks for what it could not fit, above "need". */
	n = sim_ramm_bid(&spec, &full, 2, 8000, st);
	assert_int_equal(market_validate_bid(st, n), 0);
	assert_true(n >= 2 && st[1].price > RAMM_PRICE_NEED);
	assert_int_equal(market_claimed_units(st, n, RAMM_PRICE_IN_USE),
			 st[0].units);

	/* rammd counts prices above max_price at max_price. */
	n = sim_ramm_bid(&spec, &full, 2, 500, st);
	for (size_t i = 0; i < n; i++)
		assert_true(st[i].price <= 500);

	spec.overbidder = 1;
	n = sim_ramm_bid(&spec, &calm, 2, 8000, st);
	assert_int_equal(n, 1);
	assert_int_equal(st[0].units, (8192 - 1024) / 2);
	assert_int_equal(st[0].price, 8000);
}

/* ---- whole runs ---- */

static void test_runs_within_host(void **state)
{
	(void)state;
	for (size_t s = 0; s < SIM_N_SCENARIOS; s++) {
		struct sim_scenario *sc;
		struct sim_metrics *m = malloc(sizeof(*m));
		uint32_t *hist;
		size_t n;

		assert_int_equal(sim_scenario_build(sim_scenario_name(s), 3, &sc), 0);
		n = sc->n_guests;
		hist = calloc(n * sc->n_seconds, sizeof(*hist));
		assert_non_null(hist);
		for (size_t p = 0; p < SIM_N_POLICIES; p++) {
			assert_int_equal(sim_run(sc, sim_policies[p], m, hist, 1), 0);
			for (size_t t = 0; t < sc->n_seconds; t++) {
				uint64_t sum = 0;

				for (size_t g = 0; g < n; g++) {
					const struct sim_guest_spec *gs = &sc->guests[g];
					uint32_t a = hist[t * n + g];

					if (t == 0)
						assert_int_equal(a, gs->static_mib);
					assert_true(a >= gs->floor_mib && a <= gs->cap_mib);
					assert_int_equal((a - gs->floor_mib) % sc->unit_mib, 0);
					sum += a;
				}
				assert_true(sum <= sc->host_mib);
			}
		}
		free(hist);
		free(m);
		sim_scenario_free(sc);
	}
}

static void test_hugepages(void **state)
{
	struct sim_scenario *a, *b, *c;
	struct sim_metrics *m = malloc(sizeof(*m)), *m2 = malloc(sizeof(*m2));
	struct sim_pool pools[SIM_MAX_POOLS];
	size_t n, listed = 0, huge_1g = 0, huge_2m = 0, cells, n_pools;
	uint32_t *hist;

	(void)state;
	for (size_t i = 0; i < SIM_N_SCENARIOS; i++)
		listed += !strcmp(sim_scenario_name(i), "hugepages");
	assert_int_equal(listed, 1);
	assert_int_equal(sim_scenario_build("hugepages", 11, &a), 0);
	assert_int_equal(sim_scenario_build("hugepages", 11, &b), 0);
	assert_int_equal(sim_scenario_build("hugepages", 12, &c), 0);
	n = a->n_guests;
	cells = n * a->n_seconds;
	assert_memory_equal(a->guests, b->guests, sizeof(a->guests));
	assert_memory_equal(a->wss_mib, b->wss_mib, cells * sizeof(uint32_t));
	assert_memory_not_equal(a->wss_mib, c->wss_mib, cells * sizeof(uint32_t));
	for (size_t g = 0; g < n; g++) {
		huge_1g += a->guests[g].page_mib == 1024;
		huge_2m += a->guests[g].page_mib == 2;
	}
	assert_int_equal(huge_1g + huge_2m, n);
	assert_true(huge_1g >= 2 && huge_2m >= 2);
	n_pools = sim_pools(a, pools);
	assert_int_equal(n_pools, 2);

	hist = calloc(cells, sizeof(*hist));
	assert_non_null(hist);
	for (size_t p = 0; p < SIM_N_POLICIES; p++) {
		assert_int_equal(sim_run(a, sim_policies[p], m, hist, 1), 0);
		assert_int_equal(sim_run(b, sim_policies[p], m2, NULL, 1), 0);
		assert_memory_equal(m, m2, sizeof(*m));
		/* A partly used page is still held. */
		assert_true(m->freed_whole_gib <= m->freed_gib + 1e-9);
		/* Every pool within its size, every second. */
		for (size_t t = 0; t < a->n_seconds; t++)
			for (size_t k = 0; k < n_pools; k++) {
				uint64_t sum = 0;

				for (size_t g = 0; g < n; g++)
					if (a->guests[g].page_mib == pools[k].page_mib)
						sum += hist[t * n + g];
				assert_true(sum <= pools[k].size_mib);
			}
		if (strcmp(sim_policies[p]->name, "ramm"))
			continue;
		/* ramm plans in whole pages: every 1 GiB guest's allocation
		 * is whole GiB, so nothing is lost to partial pages. */
		for (size_t t = 0; t < a->n_seconds; t++)
			for (size_t g = 0; g < n; g++)
				assert_int_equal(hist[t * n + g] %
						 (a->guests[g].page_mib ?
						  a->guests[g].page_mib : 1), 0);
		assert_float_equal(m->freed_whole_gib, m->freed_gib, 1e-9);
		assert_true(m->freed_gib > 0);
	}
	free(hist);
	free(m);
	free(m2);
	sim_scenario_free(a);
	sim_scenario_free(b);
	sim_scenario_free(c);
}

static void test_deterministic(void **state)
{
	struct sim_scenario *a, *b, *c;
	struct sim_metrics *ma = malloc(sizeof(*ma)), *mb = malloc(sizeof(*mb));
	size_t cells;

	(void)state;
	assert_int_equal(sim_scenario_build("mixed", 7, &a), 0);
	assert_int_equal(sim_scenario_build("mixed", 7, &b), 0);
	assert_int_equal(sim_scenario_build("mixed", 8, &c), 0);
	cells = a->n_guests * a->n_seconds;
	assert_memory_equal(a->wss_mib, b->wss_mib, cells * sizeof(uint32_t));
	assert_memory_equal(a->weight, b->weight, cells * sizeof(uint32_t));
	assert_memory_not_equal(a->wss_mib, c->wss_mib, cells * sizeof(uint32_t));
	for (size_t p = 0; p < SIM_N_POLICIES; p++) {
		assert_int_equal(sim_run(a, sim_policies[p], ma, NULL, 1), 0);
		assert_int_equal(sim_run(b, sim_policies[p], mb, NULL, 1), 0);
		assert_memory_equal(ma, mb, sizeof(*ma));
	}
	free(ma);
	free(mb);
	sim_scenario_free(a);
	sim_scenario_free(b);
	sim_scenario_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trace_valid),
		cmocka_unit_test(test_trace_hostile),
		cmocka_unit_test(test_trace_too_many_guests),
		cmocka_unit_test(test_trace_load),
		cmocka_unit_test(test_trace_sized),
		cmocka_unit_test(test_bitbrains),
		cmocka_unit_test(test_oracle),
		cmocka_unit_test(test_scenarios),
		cmocka_unit_test(test_metrics_hand),
		cmocka_unit_test(test_metrics_extremes),
		cmocka_unit_test(test_metrics_whole_pages),
		cmocka_unit_test(test_limit_cases),
		cmocka_unit_test(test_pools),
		cmocka_unit_test(test_check_pages),
		cmocka_unit_test(test_limit_random),
		cmocka_unit_test(test_ramm_bid),
		cmocka_unit_test(test_runs_within_host),
		cmocka_unit_test(test_hugepages),
		cmocka_unit_test(test_deterministic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
