/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for guest-agent/dev_record.c: /dev/ramm records checked and
 * turned into report lines. Every line made is parsed with the broker's own
 * msg_parse_agent(), so what the agent sends is what the broker accepts.
 *
 * The .c file is included so the test links without it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "msg.h"
#include "../../guest-agent/dev_record.c"

#define MIB (1024ull * 1024ull)

/* A record as the module would send it in a 512 MiB lab guest. */
static struct ramm_dev_record
record(void)
{
	struct ramm_dev_record r;

	memset(&r, 0, sizeof(r));
	r.version = RAMM_DEV_VERSION;
	r.size = sizeof(r);
	r.seq = 42;
	r.timestamp_ns = 123456789;
	r.flags = RAMM_REC_WELCOMED;
	r.mem_total_kib = 406592;
	r.mem_free_kib = 40000;
	r.mem_available_kib = 61000;
	r.refault_anon = 7;
	r.refault_file = 1234;
	r.shrinker_scans = 99;
	r.oom_events = 1;
	r.vmem_online_kib = 262144;
	r.kernel_free_kib = 23456;
	for (int i = 0; i < RAMM_HIST_SIZES; i++) {
		r.hist_vmem[i] = (uint64_t)(RAMM_HIST_SIZES - i);
		r.hist_all[i] = (uint64_t)(100 + i);
	}
	r.unit_bytes = 2 * MIB;
	r.n_bid = 3;
	r.bid[0] = (struct ramm_bid_step){ 12, 1000 };
	r.bid[1] = (struct ramm_bid_step){ 40, 300 };
	r.bid[2] = (struct ramm_bid_step){ 64, 50 };
	return r;
}

static struct proc_sample
proc(void)
{
	struct proc_sample s;

	memset(&s, 0, sizeof(s));
	s.mem_total_kib = 1; /* never used */
	s.psi_some_avg10 = 1.25;
	s.psi_full_avg10 = 0.4;
	s.refault_anon = 555; /* never used: the record's are */
	s.pgscan = 5678;
	s.have_psi = 1;
	s.have_vmstat = 1;
	return s;
}

/* Format @r, check the line's shape and that the broker takes it. */
static int
format_ok(const struct ramm_dev_record *r, const struct proc_sample *s,
    char *buf, size_t size, struct agent_report *out)
{
	struct agent_msg m;
	const char *why = NULL;
	int n;

	n = dev_record_format(r, s, NULL, buf, size);
	assert_true(n > 0);
	assert_true((size_t)n < size);
	assert_true(n <= DEV_REPORT_MAX);
	assert_int_equal(strlen(buf), (size_t)n);
	assert_int_equal(buf[n - 1], '\n');
	assert_null(memchr(buf, '\n', (size_t)n - 1));
	if (msg_parse_agent(buf, (size_t)n - 1, &m, &why) != 0)
		fail_msg("broker rejects \"%s\": %s", buf, why);
	assert_int_equal(m.type, AGENT_MSG_REPORT);
	*out = m.report;
	return n;
}

static json_object *
parse(const char *line)
{
	json_object *o = json_tokener_parse(line);

	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_object));
	return o;
}

static void
test_format_exact(void **state)
{
	struct ramm_dev_record r = record();
	struct proc_sample s = proc();
	struct agent_report rep;
	char buf[RAMM_MAX_LINE];

	(void)state;
	format_ok(&r, &s, buf, sizeof(buf), &rep);
	assert_string_equal(buf,
	    "{\"type\":\"report\",\"v\":1,\"seq\":42,\"urgent\":false,"
	    "\"mem_total_kib\":406592,\"mem_free_kib\":40000,"
	    "\"mem_available_kib\":61000,"
	    "\"psi_some_avg10\":1.25,\"psi_full_avg10\":0.40,"
	    "\"refault_anon\":7,\"refault_file\":1234,\"pgscan\":5678,"
	    "\"unit_bytes\":2097152,\"bid\":[[12,1000],[40,300],[64,50]],"
	    "\"shrinker_scans\":99,\"oom_events\":1,\"vmem_online_kib\":262144,"
	    "\"kernel_free_kib\":23456,"
	    "\"hist_vmem\":[10,9,8,7,6,5,4,3,2,1],"
	    "\"hist_all\":[100,101,102,103,104,105,106,107,108,109],"
	    "\"evicting\":false,\"evict_id\":0}\n");
	assert_int_equal(rep.seq, 42);
	assert_true(rep.have_evicting);
	assert_false(rep.evicting);
	assert_false(rep.urgent);
	assert_int_equal(rep.mem_total_kib, 406592);
	assert_int_equal(rep.refault_anon, 7);
	assert_int_equal(rep.pgscan, 5678);
	assert_int_equal(rep.unit_bytes, 2 * MIB);
	assert_int_equal(rep.n_bid, 3);
	assert_int_equal(rep.bid[1].units, 40);
	assert_int_equal(rep.bid[1].price, 300);
}

static void
test_urgent_flag(void **state)
{
	struct ramm_dev_record r = record();
	struct proc_sample s = proc();
	struct agent_report rep;
	char buf[RAMM_MAX_LINE];

	(void)state;
	r.flags |= RAMM_REC_URGENT | RAMM_REC_OOM | RAMM_REC_SHRINKER |
	    (1u << 31); /* unknown bits are ignored */
	format_ok(&r, &s, buf, sizeof(buf), &rep);
	assert_true(rep.urgent);
	assert_non_null(strstr(buf, "\"urgent\":true"));
}

/*
 * "evicting": the module's flag, or the notice the agent last wrote not
 * over as far as the record can tell (sampled before the write, or naming
 * another id); "evict_id" is the record's.
 */
static void
test_evicting(void **state)
{
	struct ramm_dev_record r = record();
	struct proc_sample s = proc();
	struct agent_report rep;
	struct dev_evict_note note = { .id = 7, .write_ns = 1000 };
	char buf[RAMM_MAX_LINE];

	(void)state;
	/* No notice written: the flag alone. */
	r.evict_id = 7;
	r.timestamp_ns = 2000;
	assert_false(dev_record_evicting(&r, NULL));
	r.flags |= RAMM_REC_EVICTING;
	assert_true(dev_record_evicting(&r, NULL));
	assert_int_equal(dev_record_format(&r, &s, NULL, buf, sizeof(buf)) > 0, 1);
	assert_non_null(strstr(buf, ",\"evicting\":true,\"evict_id\":7}\n"));
	format_ok(&r, &s, buf, sizeof(buf), &rep);
	assert_true(rep.have_evicting && rep.evicting);
	assert_true(rep.evict_id == 7);

	/* The notice's work is over: newer than the write, its id, no flag. */
	r.flags &= ~RAMM_REC_EVICTING;
	assert_false(dev_record_evicting(&r, &note));
	assert_true(dev_record_format(&r, &s, &note, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, ",\"evicting\":false,\"evict_id\":7}\n"));
	/* Flag set: still at work. */
	r.flags |= RAMM_REC_EVICTING;
	assert_true(dev_record_evicting(&r, &note));
	r.flags &= ~RAMM_REC_EVICTING;
	/* Sampled before (or as) the notice was written: says nothing of
	 * it, whatever id it shows (a restarted broker may reuse one). */
	r.timestamp_ns = 1000;
	assert_true(dev_record_evicting(&r, &note));
	r.timestamp_ns = 999;
	assert_true(dev_record_evicting(&r, &note));
	/* Newer, but the module has not taken the notice up yet. */
	r.timestamp_ns = 2000;
	r.evict_id = 6;
	assert_true(dev_record_evicting(&r, &note));
	format_ok(&r, &s, buf, sizeof(buf), &rep);
	r.evict_id = 8;
	assert_true(dev_record_evicting(&r, &note));
}

/* Before a welcome the bid and its unit are not used, whatever they hold. */
static void
test_not_welcomed(void **state)
{
	struct ramm_dev_record r = record();
	struct proc_sample s = proc();
	struct agent_report rep;
	char buf[RAMM_MAX_LINE];

	(void)state;
	r.flags = 0;
	r.unit_bytes = 3; /* garbage: not checked */
	r.bid[1].price = 5000; /* increasing: not checked */
	assert_int_equal(dev_record_check(&r, sizeof(r), NULL), 0);
	format_ok(&r, &s, buf, sizeof(buf), &rep);
	assert_int_equal(rep.unit_bytes, 0);
	assert_int_equal(rep.n_bid, 0);
	assert_non_null(strstr(buf, "\"unit_bytes\":0,\"bid\":[],"));
}

static void
test_empty_bid(void **state)
{
	struct ramm_dev_record r = record();
	struct proc_sample s = proc();
	struct agent_report rep;
	char buf[RAMM_MAX_LINE];

	(void)state;
	r.n_bid = 0;
	format_ok(&r, &s, buf, sizeof(buf), &rep);
	assert_int_equal(rep.unit_bytes, 2 * MIB);
	assert_int_equal(rep.n_bid, 0);
}

/* MemFree/MemAvailable above MemTotal are clamped; PSI to 0..100. */
static void
test_clamps(void **state)
{
	struct ramm_dev_record r = record();
	struct proc_sample s = proc();
	struct agent_report rep;
	char buf[RAMM_MAX_LINE];

	(void)state;
	r.mem_free_kib = r.mem_total_kib + 1;
	r.mem_available_kib = DEV_REC_MAX_KIB;
	s.psi_some_avg10 = 250;
	s.psi_full_avg10 = NAN;
	format_ok(&r, &s, buf, sizeof(buf), &rep);
	assert_int_equal(rep.mem_free_kib, r.mem_total_kib);
	assert_int_equal(rep.mem_available_kib, r.mem_total_kib);
	assert_true(rep.psi_some_avg10 == 100.0);
	assert_true(rep.psi_full_avg10 == 0.0);
	s.psi_some_avg10 = -1;
	format_ok(&r, &s, buf, sizeof(buf), &rep);
	assert_true(rep.psi_some_avg10 == 0.0);
}

/* No /proc at all: the report still goes, with zeros from /proc. */
static void
test_no_proc(void **state)
{
	struct ramm_dev_record r = record();
	struct proc_sample s;
	struct agent_report rep;
	char buf[RAMM_MAX_LINE];

	(void)state;
	memset(&s, 0, sizeof(s));
	format_ok(&r, &s, buf, sizeof(buf), &rep);
	assert_int_equal(rep.pgscan, 0);
	assert_true(rep.psi_some_avg10 == 0.0);
}

/* The largest line there can be fits DEV_REPORT_MAX and RAMM_MAX_LINE. */
static void
test_largest(void **state)
{
	struct ramm_dev_record r = record();
	struct proc_sample s = proc();
	struct agent_report rep;
	char buf[RAMM_MAX_LINE];
	json_object *o, *v;
	int n;

	(void)state;
	r.seq = INT64_MAX;
	r.flags = ~0u;
	r.mem_total_kib = r.mem_free_kib = r.mem_available_kib =
	    r.vmem_online_kib = r.kernel_free_kib = DEV_REC_MAX_KIB;
	r.refault_anon = r.refault_file = r.shrinker_scans = r.oom_events =
	    INT64_MAX;
	for (int i = 0; i < RAMM_HIST_SIZES; i++)
		r.hist_vmem[i] = r.hist_all[i] = RAMM_HIST_MAX_COUNT;
	r.unit_bytes = DEV_REC_MAX_UNIT;
	r.evict_id = RAMM_EVICT_MAX_ID;
	r.n_bid = RAMM_MAX_BID_STEPS;
	for (int i = 0; i < RAMM_MAX_BID_STEPS; i++)
		r.bid[i] = (struct ramm_bid_step){ UINT32_MAX, RAMM_MAX_PRICE };
	s.psi_some_avg10 = s.psi_full_avg10 = 100;
	s.pgscan = UINT64_MAX;
	n = dev_record_format(&r, &s, NULL, buf, sizeof(buf));
	assert_true(n > 0);
	print_message("largest report line: %d bytes\n", n);
	assert_true(n <= DEV_REPORT_MAX);
	/* pgscan above INT64_MAX is /proc's problem (the broker refuses it as
	 * it does in proc mode); with it in range the broker takes the line. */
	s.pgscan = INT64_MAX;
	format_ok(&r, &s, buf, sizeof(buf), &rep);
	assert_int_equal(rep.n_bid, RAMM_MAX_BID_STEPS);

	o = parse(buf);
	assert_true(json_object_object_get_ex(o, "hist_all", &v));
	assert_int_equal(json_object_array_length(v), RAMM_HIST_SIZES);
	assert_true(json_object_get_int64(json_object_array_get_idx(v, 9)) ==
	    (int64_t)RAMM_HIST_MAX_COUNT);
	assert_true(json_object_object_get_ex(o, "vmem_online_kib", &v));
	assert_true((uint64_t)json_object_get_int64(v) == DEV_REC_MAX_KIB);
	assert_true(json_object_object_get_ex(o, "kernel_free_kib", &v));
	assert_true((uint64_t)json_object_get_int64(v) == DEV_REC_MAX_KIB);
	json_object_put(o);
}

/* Every short buffer gets -EMSGSIZE and a NUL-terminated prefix. */
static void
test_short_buffer(void **state)
{
	struct ramm_dev_record r = record();
	struct proc_sample s = proc();
	char full[RAMM_MAX_LINE], buf[RAMM_MAX_LINE];
	int n;

	(void)state;
	n = dev_record_format(&r, &s, NULL, full, sizeof(full));
	assert_true(n > 0);
	for (size_t size = 0; size <= (size_t)n; size++) {
		memset(buf, 'x', sizeof(buf));
		assert_int_equal(dev_record_format(&r, &s, NULL, buf, size),
		    -EMSGSIZE);
		if (size > 0)
			assert_non_null(memchr(buf, '\0', size));
		assert_int_equal(buf[size], 'x'); /* nothing written past */
	}
	assert_int_equal(dev_record_format(&r, &s, NULL, buf, (size_t)n + 1), n);
	assert_string_equal(buf, full);
}

/* The ABI checks: -EPROTO, the device is of no use. */
static void
test_check_abi(void **state)
{
	struct ramm_dev_record r = record();
	struct proc_sample s = proc();
	const char *why;
	char buf[RAMM_MAX_LINE];

	(void)state;
	assert_int_equal(dev_record_check(&r, sizeof(r), NULL), 0);
	why = NULL;
	assert_int_equal(dev_record_check(&r, sizeof(r) - 1, &why), -EPROTO);
	assert_non_null(why);
	assert_int_equal(dev_record_check(&r, 0, NULL), -EPROTO);
	assert_int_equal(dev_record_check(&r, sizeof(r) + 8, NULL), -EPROTO);

	r.version = RAMM_DEV_VERSION + 1;
	assert_int_equal(dev_record_check(&r, sizeof(r), NULL), -EPROTO);
	assert_int_equal(dev_record_format(&r, &s, NULL, buf, sizeof(buf)),
	    -EINVAL);
	r = record();
	r.size = sizeof(r) - 8;
	assert_int_equal(dev_record_check(&r, sizeof(r), NULL), -EPROTO);
}

#define EXPECT_BAD(stmt) do {						\
	struct ramm_dev_record r_ = record();				\
	struct proc_sample s_ = proc();					\
	const char *why_ = NULL;					\
	char buf_[RAMM_MAX_LINE];					\
	struct ramm_dev_record *r = &r_;				\
	stmt;								\
	if (dev_record_check(r, sizeof(*r), &why_) != -EINVAL)		\
		fail_msg("accepted: %s", #stmt);			\
	assert_non_null(why_);						\
	assert_int_equal(dev_record_format(r, &s_, NULL, buf_, sizeof(buf_)),	\
	    -EINVAL);							\
} while (0)

#define EXPECT_GOOD(stmt) do {						\
	struct ramm_dev_record r_ = record();				\
	struct proc_sample s_ = proc();					\
	struct agent_report rep_;					\
	char buf_[RAMM_MAX_LINE];					\
	struct ramm_dev_record *r = &r_;				\
	stmt;								\
	if (dev_record_check(r, sizeof(*r), NULL) != 0)			\
		fail_msg("rejected: %s", #stmt);			\
	format_ok(r, &s_, buf_, sizeof(buf_), &rep_);			\
} while (0)

/* Values out of range within the ABI: -EINVAL, the record is dropped. */
static void
test_check_values(void **state)
{
	(void)state;
	EXPECT_BAD(r->seq = 0);
	EXPECT_BAD(r->seq = (uint64_t)INT64_MAX + 1);
	EXPECT_BAD(r->mem_total_kib = 0);
	EXPECT_BAD(r->mem_total_kib = DEV_REC_MAX_KIB + 1);
	EXPECT_BAD(r->mem_free_kib = DEV_REC_MAX_KIB + 1);
	EXPECT_BAD(r->mem_available_kib = UINT64_MAX);
	EXPECT_BAD(r->vmem_online_kib = DEV_REC_MAX_KIB + 1);
	EXPECT_BAD(r->kernel_free_kib = DEV_REC_MAX_KIB + 1);
	EXPECT_BAD(r->refault_anon = UINT64_MAX);
	EXPECT_BAD(r->refault_file = (uint64_t)INT64_MAX + 1);
	EXPECT_BAD(r->shrinker_scans = UINT64_MAX);
	EXPECT_BAD(r->oom_events = UINT64_MAX);
	EXPECT_BAD(r->hist_vmem[9] = UINT64_MAX);
	EXPECT_BAD(r->hist_vmem[3] = RAMM_HIST_MAX_COUNT + 1);
	EXPECT_BAD(r->hist_all[0] = UINT64_MAX);
	EXPECT_BAD(r->n_bid = RAMM_MAX_BID_STEPS + 1);
	EXPECT_BAD(r->n_bid = UINT32_MAX);
	EXPECT_BAD(r->evict_id = RAMM_EVICT_MAX_ID + 1);
	EXPECT_BAD(r->evict_id = UINT64_MAX);
	EXPECT_BAD(r->flags &= ~RAMM_REC_WELCOMED;
	    r->n_bid = RAMM_MAX_BID_STEPS + 1);
	EXPECT_BAD(r->unit_bytes = 0);
	EXPECT_BAD(r->unit_bytes = 2048);
	EXPECT_BAD(r->unit_bytes = 3 * MIB);
	EXPECT_BAD(r->unit_bytes = DEV_REC_MAX_UNIT * 2);
	EXPECT_BAD(r->bid[0].units = 0);
	EXPECT_BAD(r->bid[2].units = 0);
	EXPECT_BAD(r->bid[0].price = RAMM_MAX_PRICE + 1);
	EXPECT_BAD(r->bid[1].price = 1001);
	EXPECT_BAD(r->bid[2].price = 301);

	EXPECT_GOOD(r->seq = 1);
	EXPECT_GOOD(r->seq = INT64_MAX);
	EXPECT_GOOD(r->mem_total_kib = DEV_REC_MAX_KIB);
	EXPECT_GOOD(r->unit_bytes = 4096);
	EXPECT_GOOD(r->unit_bytes = DEV_REC_MAX_UNIT);
	EXPECT_GOOD(r->bid[1].price = 1000; r->bid[2].price = 1000);
	EXPECT_GOOD(r->bid[2].price = 0);
	EXPECT_GOOD(r->bid[3].units = 0; r->bid[3].price = UINT32_MAX);
	EXPECT_GOOD(r->timestamp_ns = UINT64_MAX);
	EXPECT_GOOD(r->evict_id = RAMM_EVICT_MAX_ID);
	EXPECT_GOOD(r->flags |= RAMM_REC_EVICTING);
}

/* Random records: check and format agree, and the broker takes every
 * record the check passes. */
static void
test_random(void **state)
{
	unsigned seed = 12345;

	(void)state;
	for (int iter = 0; iter < 20000; iter++) {
		struct ramm_dev_record r = record();
		struct proc_sample s = proc();
		struct agent_report rep;
		char buf[RAMM_MAX_LINE];
		unsigned char *p = (unsigned char *)&r;
		int n;

		/* Flip a few bytes after the header. */
		for (int k = 0; k < 1 + iter % 4; k++) {
			size_t off = 8 + (size_t)rand_r(&seed) %
			    (sizeof(r) - 8);
			p[off] = (unsigned char)rand_r(&seed);
		}
		if (iter % 3 == 0)
			r.n_bid %= RAMM_MAX_BID_STEPS + 1;
		n = dev_record_format(&r, &s, NULL, buf, sizeof(buf));
		if (dev_record_check(&r, sizeof(r), NULL) < 0) {
			assert_int_equal(n, -EINVAL);
			continue;
		}
		format_ok(&r, &s, buf, sizeof(buf), &rep);
		assert_int_equal(rep.seq, r.seq);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_exact),
		cmocka_unit_test(test_urgent_flag),
		cmocka_unit_test(test_evicting),
		cmocka_unit_test(test_not_welcomed),
		cmocka_unit_test(test_empty_bid),
		cmocka_unit_test(test_clamps),
		cmocka_unit_test(test_no_proc),
		cmocka_unit_test(test_largest),
		cmocka_unit_test(test_short_buffer),
		cmocka_unit_test(test_check_abi),
		cmocka_unit_test(test_check_values),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
