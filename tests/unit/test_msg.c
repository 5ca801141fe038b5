/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the message parsers and formatters of both directions
 * (common/msg.c, docs/PROTOCOL.md).
 *
 * Valid messages read back member by member; then each member left out,
 * mistyped or out of range; then lines that are not one JSON object; then
 * the formatters, parsed back with json-c; and last a seeded mutation test
 * feeding damaged copies of valid lines. Then the broker's messages as
 * ramm-agent reads them (msg_parse_broker()): each bound at its limit and
 * one past it, members left out or mistyped, lines that are not a message,
 * and the formatters' output read back.
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

#include <json-c/json.h>

#include "market.h"
#include "msg.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* One "key": value pair of a message; the value is raw JSON text. */
struct member {
	const char *key;
	const char *value;
};

static const struct member hello_members[] = {
	{ "type", "\"hello\"" },
	{ "v", "1" },
	{ "agent", "\"ramm-agent\"" },
	{ "version", "\"0.1.0\"" },
	{ "mode", "\"proc\"" },
	{ "boot_id", "\"5c1e0f3a-0000-4000-8000-000000000000\"" },
};

static const struct member report_members[] = {
	{ "type", "\"report\"" },
	{ "v", "1" },
	{ "seq", "42" },
	{ "urgent", "false" },
	{ "mem_total_kib", "786432" },
	{ "mem_free_kib", "40000" },
	{ "mem_available_kib", "61000" },
	{ "psi_some_avg10", "1.25" },
	{ "psi_full_avg10", "0.40" },
	{ "refault_anon", "0" },
	{ "refault_file", "1234" },
	{ "pgscan", "5678" },
	{ "unit_bytes", "2097152" },
	{ "bid", "[[12,1000],[40,300],[64,50]]" },
};

/* Report members whose absence is -EINVAL (type and v are -EBADMSG). */
static const char *const report_required[] = {
	"seq", "urgent", "mem_total_kib", "mem_free_kib", "mem_available_kib",
	"psi_some_avg10", "psi_full_avg10", "refault_anon", "refault_file",
	"pgscan", "unit_bytes", "bid",
};

static const char *const hello_required[] = { "agent", "version", "mode" };

/*
 * Write a message of @members with @key's value replaced by raw JSON
 * @value, or @key left out if @value is NULL; a @key not among @members is
 * added at the end. Returns the line's length.
 */
static size_t build(char *buf, size_t size, const struct member *members,
		    size_t n, const char *key, const char *value)
{
	size_t len = 0;
	int found = 0;

	len += (size_t)snprintf(buf + len, size - len, "{");
	for (size_t i = 0; i < n; i++) {
		const char *v = members[i].value;

		if (key && !strcmp(members[i].key, key)) {
			found = 1;
			if (!value)
				continue;
			v = value;
		}
		len += (size_t)snprintf(buf + len, size - len, "%s\"%s\":%s",
					len > 1 ? "," : "", members[i].key, v);
	}
	if (key && !found && value)
		len += (size_t)snprintf(buf + len, size - len, ",\"%s\":%s", key,
					value);
	len += (size_t)snprintf(buf + len, size - len, "}");
	assert_true(len < size);
	return len;
}

static int parse_report_with(const char *key, const char *value,
			     struct agent_msg *out, const char **reason)
{
	char line[RAMM_MAX_LINE];
	size_t len = build(line, sizeof(line), report_members,
			   ARRAY_LEN(report_members), key, value);

	return msg_parse_agent(line, len, out, reason);
}

static int parse_hello_with(const char *key, const char *value,
			    struct agent_msg *out, const char **reason)
{
	char line[RAMM_MAX_LINE];
	size_t len = build(line, sizeof(line), hello_members,
			   ARRAY_LEN(hello_members), key, value);

	return msg_parse_agent(line, len, out, reason);
}

static int parse_str(const char *line, const char **reason)
{
	struct agent_msg m;

	return msg_parse_agent(line, strlen(line), &m, reason);
}

static const char *or_missing(const char *value)
{
	return value ? value : "(missing)";
}

/* A failure must come with a reason we can send back in an error reply. */
static void assert_reason(const char *reason)
{
	char buf[256];

	assert_non_null(reason);
	assert_true(strlen(reason) > 0);
	assert_true(msg_format_error(buf, sizeof(buf), reason) > 0);
}

#define ASSERT_REPORT_FAILS(key, value, want)                              \
	do {                                                               \
		struct agent_msg m_;                                       \
		const char *r_ = NULL;                                     \
                                                                           \
		if (parse_report_with(key, value, &m_, &r_) != (want))     \
			fail_msg("report %s=%s: want %d, reason %s", key,  \
				 or_missing(value), want,         \
				 r_ ? r_ : "(none)");                       \
		assert_reason(r_);                                         \
	} while (0)

#define ASSERT_HELLO_FAILS(key, value, want)                               \
	do {                                                               \
		struct agent_msg m_;                                       \
		const char *r_ = NULL;                                     \
                                                                           \
		if (parse_hello_with(key, value, &m_, &r_) != (want))      \
			fail_msg("hello %s=%s: want %d, reason %s", key,   \
				 or_missing(value), want,         \
				 r_ ? r_ : "(none)");                       \
		assert_reason(r_);                                         \
	} while (0)

#define ASSERT_REPORT_OK(key, value)                                       \
	do {                                                               \
		struct agent_msg m_;                                       \
		const char *r_ = "unset";                                  \
                                                                           \
		if (parse_report_with(key, value, &m_, &r_) != 0)          \
			fail_msg("report %s=%s rejected: %s", key, value,  \
				 r_ ? r_ : "(none)");                       \
		assert_null(r_);                                           \
	} while (0)

/* ---- valid messages ---- */

static void test_hello_valid(void **state)
{
	struct agent_msg m;
	const char *reason = "unset";

	(void)state;
	memset(&m, 0xa5, sizeof(m));
	assert_int_equal(parse_hello_with(NULL, NULL, &m, &reason), 0);
	assert_null(reason);
	assert_int_equal(m.type, AGENT_MSG_HELLO);
	assert_string_equal(m.hello.agent, "ramm-agent");
	assert_string_equal(m.hello.version, "0.1.0");
	assert_string_equal(m.hello.mode, RAMM_MODE_PROC);

	assert_int_equal(parse_hello_with("mode", "\"kernel\"", &m, &reason), 0);
	assert_string_equal(m.hello.mode, RAMM_MODE_KERNEL);

	/* Without the optional boot_id, with unknown members, any order. */
	assert_int_equal(parse_hello_with("boot_id", NULL, &m, &reason), 0);
	assert_int_equal(parse_hello_with("later", "{\"x\":[1,2]}", &m, &reason),
			 0);
	assert_int_equal(parse_str("{\"mode\":\"proc\",\"version\":\"2\","
				   "\"agent\":\"a\",\"v\":1,\"type\":\"hello\"}",
				   &reason), 0);

	/* Longest names that fit: 31 and 15 characters. */
	assert_int_equal(parse_hello_with("agent",
		"\"abcdefghijklmnopqrstuvwxyz01234\"", &m, &reason), 0);
	assert_string_equal(m.hello.agent, "abcdefghijklmnopqrstuvwxyz01234");
	assert_int_equal(parse_hello_with("version", "\"!~0123456789abc\"", &m,
					  &reason), 0);
	assert_string_equal(m.hello.version, "!~0123456789abc");
}

static void test_report_valid(void **state)
{
	struct agent_msg m;
	const char *reason = "unset";

	(void)state;
	memset(&m, 0xa5, sizeof(m));
	assert_int_equal(parse_report_with(NULL, NULL, &m, &reason), 0);
	assert_null(reason);
	assert_int_equal(m.type, AGENT_MSG_REPORT);
	assert_int_equal(m.report.seq, 42);
	assert_int_equal(m.report.urgent, 0);
	assert_int_equal(m.report.mem_total_kib, 786432);
	assert_int_equal(m.report.mem_free_kib, 40000);
	assert_int_equal(m.report.mem_available_kib, 61000);
	assert_true(m.report.psi_some_avg10 == 1.25);
	assert_true(m.report.psi_full_avg10 == 0.40);
	assert_int_equal(m.report.refault_anon, 0);
	assert_int_equal(m.report.refault_file, 1234);
	assert_int_equal(m.report.pgscan, 5678);
	assert_int_equal(m.report.unit_bytes, 2097152);
	assert_int_equal(m.report.n_bid, 3);
	assert_int_equal(m.report.bid[0].units, 12);
	assert_int_equal(m.report.bid[0].price, 1000);
	assert_int_equal(m.report.bid[1].units, 40);
	assert_int_equal(m.report.bid[1].price, 300);
	assert_int_equal(m.report.bid[2].units, 64);
	assert_int_equal(m.report.bid[2].price, 50);
	/* "Fully written": nothing of the 0xa5 fill is left. */
	for (size_t i = 3; i < RAMM_MAX_BID_STEPS; i++) {
		assert_int_equal(m.report.bid[i].units, 0);
		assert_int_equal(m.report.bid[i].price, 0);
	}

	assert_int_equal(parse_report_with("urgent", "true", &m, &reason), 0);
	assert_int_equal(m.report.urgent, 1);

	/* Before the first welcome: unit 0 and an empty bid. */
	assert_int_equal(parse_report_with("unit_bytes", "0", &m, &reason), 0);
	assert_int_equal(m.report.unit_bytes, 0);
	assert_int_equal(parse_report_with("bid", "[]", &m, &reason), 0);
	assert_int_equal(m.report.n_bid, 0);

	/* PSI may be written as an integer; the ends are included. */
	assert_int_equal(parse_report_with("psi_some_avg10", "100", &m,
					   &reason), 0);
	assert_true(m.report.psi_some_avg10 == 100.0);
	assert_int_equal(parse_report_with("psi_full_avg10", "0", &m,
					   &reason), 0);
	assert_true(m.report.psi_full_avg10 == 0.0);
	assert_int_equal(parse_report_with("psi_full_avg10", "100.0", &m,
					   &reason), 0);
	assert_true(m.report.psi_full_avg10 == 100.0);

	/* Limits that are still in range. */
	assert_int_equal(parse_report_with("seq", "9223372036854775807", &m,
					   &reason), 0);
	assert_int_equal(m.report.seq, INT64_MAX);
	assert_int_equal(parse_report_with("mem_total_kib", "1125899906842624",
					   &m, &reason), 0);
	assert_int_equal(m.report.mem_total_kib, 1ULL << 50);
	assert_int_equal(parse_report_with("unit_bytes", "1099511627776", &m,
					   &reason), 0);
	assert_int_equal(m.report.unit_bytes, 1ULL << 40);
	assert_int_equal(parse_report_with("bid",
		"[[4294967295,1000000],[1,1000000],[2,0],[3,0]]", &m, &reason),
		0);
	assert_int_equal(m.report.n_bid, 4);
	assert_int_equal(m.report.bid[0].units, UINT32_MAX);
	assert_int_equal(m.report.bid[0].price, RAMM_MAX_PRICE);
	assert_int_equal(m.report.bid[1].price, RAMM_MAX_PRICE);
	assert_int_equal(m.report.bid[3].price, 0);
}

static void test_report_max_steps(void **state)
{
	char bid[RAMM_MAX_LINE];
	size_t len = 0;
	struct agent_msg m;
	const char *reason;

	(void)state;
	len += (size_t)snprintf(bid + len, sizeof(bid) - len, "[");
	for (int i = 0; i < RAMM_MAX_BID_STEPS; i++)
		len += (size_t)snprintf(bid + len, sizeof(bid) - len, "%s[%d,%d]",
					i ? "," : "", i + 1, 1000 - i);
	snprintf(bid + len, sizeof(bid) - len, "]");
	assert_int_equal(parse_report_with("bid", bid, &m, &reason), 0);
	assert_int_equal(m.report.n_bid, RAMM_MAX_BID_STEPS);
	assert_int_equal(m.report.bid[RAMM_MAX_BID_STEPS - 1].units,
			 RAMM_MAX_BID_STEPS);
	assert_int_equal(m.report.bid[RAMM_MAX_BID_STEPS - 1].price,
			 1000 - (RAMM_MAX_BID_STEPS - 1));

	/* One more step is too many. */
	snprintf(bid + len, sizeof(bid) - len, ",[1,1]]");
	ASSERT_REPORT_FAILS("bid", bid, -EINVAL);
}

/* ---- missing, mistyped and out-of-range members ---- */

static void test_missing_members(void **state)
{
	struct agent_msg m;
	const char *reason;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(report_required); i++)
		ASSERT_REPORT_FAILS(report_required[i], NULL, -EINVAL);
	for (size_t i = 0; i < ARRAY_LEN(hello_required); i++)
		ASSERT_HELLO_FAILS(hello_required[i], NULL, -EINVAL);

	/* type and v make a line a message at all: -EBADMSG. */
	ASSERT_REPORT_FAILS("type", NULL, -EBADMSG);
	ASSERT_REPORT_FAILS("v", NULL, -EBADMSG);
	ASSERT_HELLO_FAILS("type", NULL, -EBADMSG);
	ASSERT_HELLO_FAILS("v", NULL, -EBADMSG);

	/* The reasons say what was wrong. */
	assert_int_equal(parse_report_with("bid", NULL, &m, &reason), -EINVAL);
	assert_string_equal(reason, "report: bid must be an array");
	assert_int_equal(parse_report_with("urgent", NULL, &m, &reason), -EINVAL);
	assert_string_equal(reason, "report: urgent must be a boolean");
	assert_int_equal(parse_report_with("type", NULL, &m, &reason), -EBADMSG);
	assert_string_equal(reason, "missing type");
	assert_int_equal(parse_hello_with("mode", NULL, &m, &reason), -EINVAL);
	assert_string_equal(reason, "hello: mode must be proc or kernel");
}

static void test_wrong_types(void **state)
{
	static const char *const int_keys[] = {
		"seq", "mem_total_kib", "mem_free_kib", "mem_available_kib",
		"refault_anon", "refault_file", "pgscan", "unit_bytes",
	};
	static const char *const not_ints[] = {
		"\"42\"", "42.0", "4.2e1", "-1", "true", "false", "null",
		"[42]", "{}", "1e3",
	};

	(void)state;
	for (size_t k = 0; k < ARRAY_LEN(int_keys); k++)
		for (size_t v = 0; v < ARRAY_LEN(not_ints); v++)
			ASSERT_REPORT_FAILS(int_keys[k], not_ints[v], -EINVAL);

	ASSERT_REPORT_FAILS("urgent", "1", -EINVAL);
	ASSERT_REPORT_FAILS("urgent", "0", -EINVAL);
	ASSERT_REPORT_FAILS("urgent", "\"true\"", -EINVAL);
	ASSERT_REPORT_FAILS("urgent", "null", -EINVAL);

	ASSERT_REPORT_FAILS("psi_some_avg10", "\"1.25\"", -EINVAL);
	ASSERT_REPORT_FAILS("psi_some_avg10", "true", -EINVAL);
	ASSERT_REPORT_FAILS("psi_full_avg10", "null", -EINVAL);
	ASSERT_REPORT_FAILS("psi_full_avg10", "[1]", -EINVAL);

	ASSERT_REPORT_FAILS("bid", "{}", -EINVAL);
	ASSERT_REPORT_FAILS("bid", "\"[[1,2]]\"", -EINVAL);
	ASSERT_REPORT_FAILS("bid", "null", -EINVAL);
	ASSERT_REPORT_FAILS("bid", "[1,2]", -EINVAL);
	ASSERT_REPORT_FAILS("bid", "[[1]]", -EINVAL);
	ASSERT_REPORT_FAILS("bid", "[[1,2,3]]", -EINVAL);
	ASSERT_REPORT_FAILS("bid", "[[]]", -EINVAL);
	ASSERT_REPORT_FAILS("bid", "[{\"units\":1,\"price\":2}]", -EINVAL);
	ASSERT_REPORT_FAILS("bid", "[[1.0,5]]", -EINVAL);
	ASSERT_REPORT_FAILS("bid", "[[1,5.5]]", -EINVAL);
	ASSERT_REPORT_FAILS("bid", "[[1,\"5\"]]", -EINVAL);
	ASSERT_REPORT_FAILS("bid", "[[true,5]]", -EINVAL);
	ASSERT_REPORT_FAILS("bid", "[[1,null]]", -EINVAL);
	ASSERT_REPORT_FAILS("bid", "[[2,5],7]", -EINVAL);

	ASSERT_HELLO_FAILS("agent", "42", -EINVAL);
	ASSERT_HELLO_FAILS("agent", "null", -EINVAL);
	ASSERT_HELLO_FAILS("version", "[\"0.1\"]", -EINVAL);
	ASSERT_HELLO_FAILS("mode", "true", -EINVAL);
}

/* The free-extent histogram is optional, exactly RAMM_HIST_SIZES
 * bounded counts when sent. */
static void test_report_hist(void **state)
{
	struct agent_msg m;
	const char *reason;

	(void)state;
	assert_int_equal(parse_report_with("hist_vmem", NULL, &m, &reason), 0);
	assert_false(m.report.have_hist);
	assert_int_equal(parse_report_with("hist_vmem",
			 "[12,3,1,0,0,0,0,0,0,1099511627776]", &m, &reason), 0);
	assert_true(m.report.have_hist);
	assert_int_equal(m.report.hist_vmem[0], 12);
	assert_int_equal(m.report.hist_vmem[2], 1);
	assert_int_equal(m.report.hist_vmem[9], UINT64_C(1) << 40);
	ASSERT_REPORT_FAILS("hist_vmem", "[1,2,3,4,5,6,7,8,9]", -EINVAL);
	ASSERT_REPORT_FAILS("hist_vmem", "[1,2,3,4,5,6,7,8,9,10,11]", -EINVAL);
	ASSERT_REPORT_FAILS("hist_vmem", "[0,0,0,0,0,0,0,0,0,-1]", -EINVAL);
	ASSERT_REPORT_FAILS("hist_vmem", "[0,0,0,0,0,0,0,0,0,1099511627777]",
			    -EINVAL);
	ASSERT_REPORT_FAILS("hist_vmem", "[0,0,0,0,0,0,0,0,0,1.5]", -EINVAL);
	ASSERT_REPORT_FAILS("hist_vmem", "[0,0,0,0,0,0,0,0,0,\"1\"]", -EINVAL);
	ASSERT_REPORT_FAILS("hist_vmem", "{}", -EINVAL);
	ASSERT_REPORT_FAILS("hist_vmem", "null", -EINVAL);
	assert_int_equal(parse_report_with("hist_vmem", "[]", &m, &reason),
			 -EINVAL);
	assert_string_equal(reason,
			    "report: hist_vmem must be an array of 10 counts");
}

/* A report with "evicting" (raw JSON @evicting) and, unless NULL,
 * "evict_id" (raw JSON @id). */
static int parse_report_evicting(const char *evicting, const char *id,
				 struct agent_msg *out, const char **reason)
{
	char value[256];

	if (id)
		snprintf(value, sizeof(value), "%s,\"evict_id\":%s", evicting, id);
	else
		snprintf(value, sizeof(value), "%s", evicting);
	return parse_report_with("evicting", value, out, reason);
}

/*
 * "evicting" and "evict_id": optional (proc mode, older agents), but a
 * guest that sends them is waited for, so they are checked: a boolean, an
 * id in 0..2^63-1, no id without "evicting".
 */
static void test_report_evicting(void **state)
{
	struct agent_msg m;
	const char *reason;

	(void)state;
	assert_int_equal(parse_report_with("evicting", NULL, &m, &reason), 0);
	assert_false(m.report.have_evicting);
	assert_false(m.report.evicting);
	assert_true(m.report.evict_id == 0);

	assert_int_equal(parse_report_evicting("true", "1733498400000001", &m,
					       &reason), 0);
	assert_true(m.report.have_evicting);
	assert_true(m.report.evicting);
	assert_true(m.report.evict_id == UINT64_C(1733498400000001));
	assert_int_equal(parse_report_evicting("false", "9223372036854775807",
					       &m, &reason), 0);
	assert_true(m.report.have_evicting);
	assert_false(m.report.evicting);
	assert_true(m.report.evict_id == UINT64_C(9223372036854775807));
	assert_int_equal(parse_report_evicting("false", NULL, &m, &reason), 0);
	assert_true(m.report.have_evicting);
	assert_true(m.report.evict_id == 0);

	ASSERT_REPORT_FAILS("evicting", "1", -EINVAL);
	ASSERT_REPORT_FAILS("evicting", "\"true\"", -EINVAL);
	ASSERT_REPORT_FAILS("evicting", "null", -EINVAL);
	ASSERT_REPORT_FAILS("evicting", "[true]", -EINVAL);
	ASSERT_REPORT_FAILS("evict_id", "5", -EINVAL); /* without evicting */
	assert_int_equal(parse_report_evicting("true", "-1", &m, &reason),
			 -EINVAL);
	assert_string_equal(reason, "report: bad evict_id");
	assert_reason(reason);
	assert_int_equal(parse_report_evicting("true", "9223372036854775808",
					       &m, &reason), -EINVAL);
	assert_int_equal(parse_report_evicting("true", "18446744073709551616",
					       &m, &reason), -EINVAL);
	assert_int_equal(parse_report_evicting("true", "1.0", &m, &reason),
			 -EINVAL);
	assert_int_equal(parse_report_evicting("true", "\"1\"", &m, &reason),
			 -EINVAL);
	assert_int_equal(parse_report_evicting("true", "null", &m, &reason),
			 -EINVAL);
	assert_int_equal(parse_report_evicting("1", "1", &m, &reason), -EINVAL);
	assert_string_equal(reason, "report: evicting must be a boolean");
}

static void test_out_of_range(void **state)
{
	struct agent_msg m;
	const char *reason;

	(void)state;
	/* PSI is a percentage; json-c also reads NaN and Infinity. */
	ASSERT_REPORT_FAILS("psi_some_avg10", "100.01", -EINVAL);
	ASSERT_REPORT_FAILS("psi_some_avg10", "101", -EINVAL);
	ASSERT_REPORT_FAILS("psi_some_avg10", "-0.5", -EINVAL);
	ASSERT_REPORT_FAILS("psi_some_avg10", "-1", -EINVAL);
	ASSERT_REPORT_FAILS("psi_full_avg10", "1e999", -EINVAL);
	ASSERT_REPORT_FAILS("psi_full_avg10", "-1e999", -EINVAL);
	ASSERT_REPORT_FAILS("psi_full_avg10", "NaN", -EINVAL);
	ASSERT_REPORT_FAILS("psi_full_avg10", "Infinity", -EINVAL);
	assert_int_equal(parse_report_with("psi_some_avg10", "1e999", &m,
					   &reason), -EINVAL);
	assert_string_equal(reason, "report: bad psi value");

	/* Integers past each member's limit, including past int64/uint64. */
	ASSERT_REPORT_FAILS("mem_total_kib", "1125899906842625", -EINVAL);
	ASSERT_REPORT_FAILS("mem_available_kib", "9223372036854775807",
			    -EINVAL);
	ASSERT_REPORT_FAILS("unit_bytes", "1099511627777", -EINVAL);
	ASSERT_REPORT_FAILS("seq", "9223372036854775808", -EINVAL);
	ASSERT_REPORT_FAILS("seq", "18446744073709551615", -EINVAL);
	ASSERT_REPORT_FAILS("seq", "100000000000000000000000000000", -EINVAL);
	ASSERT_REPORT_FAILS("refault_anon", "18446744073709551616", -EINVAL);
	ASSERT_REPORT_FAILS("pgscan", "-9223372036854775809", -EINVAL);
	ASSERT_REPORT_FAILS("v", "9223372036854775809", -EBADMSG);

	/* Bid steps. */
	ASSERT_REPORT_FAILS("bid", "[[1,1000001]]", -EINVAL);
	ASSERT_REPORT_FAILS("bid", "[[1,4294967296]]", -EINVAL);
	ASSERT_REPORT_FAILS("bid", "[[1,18446744073709551615]]", -EINVAL);
	ASSERT_REPORT_FAILS("bid", "[[1,-1]]", -EINVAL);
	ASSERT_REPORT_FAILS("bid", "[[0,5]]", -EINVAL);
	ASSERT_REPORT_FAILS("bid", "[[5,5],[0,1]]", -EINVAL);
	ASSERT_REPORT_FAILS("bid", "[[-1,5]]", -EINVAL);
	ASSERT_REPORT_FAILS("bid", "[[4294967296,5]]", -EINVAL);
	ASSERT_REPORT_FAILS("bid", "[[9223372036854775808,5]]", -EINVAL);
	assert_int_equal(parse_report_with("bid", "[[1,1000001]]", &m, &reason),
			 -EINVAL);
	assert_string_equal(reason, "report: bid step out of range");

	/* Prices must not increase along the curve. */
	ASSERT_REPORT_FAILS("bid", "[[1,5],[1,6]]", -EINVAL);
	ASSERT_REPORT_FAILS("bid", "[[1,5],[1,5],[1,4],[1,5]]", -EINVAL);
	ASSERT_REPORT_FAILS("bid", "[[1,0],[1,1]]", -EINVAL);
	assert_int_equal(parse_report_with("bid", "[[1,5],[1,6]]", &m, &reason),
			 -EINVAL);
	assert_string_equal(reason, "report: bid prices must not increase");
	assert_int_equal(parse_report_with("bid", "[[1,5],[1,5]]", &m, &reason),
			 0);
}

/* ---- lines that are not one JSON object ---- */

static void test_not_an_object(void **state)
{
	static const char *const bad[] = {
		"hello",
		"{",
		"}",
		"{\"type\":\"hello\"",
		"{\"type\":\"hello\",}x",
		"[1,2]",
		"[{\"type\":\"hello\",\"v\":1}]",
		"\"report\"",
		"42",
		"null",
		"true",
		" ",
		"{\"type\" \"hello\"}",
		"{\"type\":\"hello\",\"v\":1,\"agent\":\"a\",\"version\":\"1\","
		"\"mode\":\"proc\"} x",
		"{\"type\":\"hello\",\"v\":1,\"agent\":\"a\",\"version\":\"1\","
		"\"mode\":\"proc\"}{}",
		"{\"type\":\"hello\",\"v\":1,\"agent\":\"a\",\"version\":\"1\","
		"\"mode\":\"proc\"}}",
		"{\"type\":\"hello\",\"v\":1,\"agent\":\"a\",\"version\":\"1\","
		"\"mode\":\"proc\"}\n{}",
	};
	const char *reason;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		reason = NULL;
		if (parse_str(bad[i], &reason) != -EBADMSG)
			fail_msg("accepted as an object: %s", bad[i]);
		assert_reason(reason);
	}
	assert_int_equal(parse_str("[1,2]", &reason), -EBADMSG);
	assert_string_equal(reason, "not a JSON object");
	assert_int_equal(parse_str("{\"type\":5,\"v\":1}", &reason), -EBADMSG);
	assert_string_equal(reason, "missing type");
	assert_int_equal(parse_str("{\"type\":null,\"v\":1}", &reason), -EBADMSG);
	assert_int_equal(parse_str("{\"type\":[\"hello\"],\"v\":1}", &reason),
			 -EBADMSG);
	/* A bare empty line. */
	assert_int_equal(msg_parse_agent("", 0, &(struct agent_msg){ 0 },
					 &reason), -EBADMSG);
	assert_reason(reason);
}

static void test_depth_bomb(void **state)
{
	char line[RAMM_MAX_LINE];
	size_t len = 0;
	const char *reason;
	struct agent_msg m;
	const int depth = 1500;

	(void)state;
	/* A balanced bomb inside an unknown member of a valid report. */
	len += (size_t)snprintf(line + len, sizeof(line) - len,
				"{\"type\":\"report\",\"v\":1,\"x\":");
	for (int i = 0; i < depth; i++)
		line[len++] = '[';
	for (int i = 0; i < depth; i++)
		line[len++] = ']';
	line[len++] = '}';
	assert_true(len < sizeof(line));
	assert_int_equal(msg_parse_agent(line, len, &m, &reason), -EBADMSG);
	assert_reason(reason);

	/* Objects instead of arrays, and never closed. */
	len = 0;
	for (int i = 0; i < 600; i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len,
					"{\"a\":");
	assert_int_equal(msg_parse_agent(line, len, &m, &reason), -EBADMSG);

	/* Five levels is already too deep: agent messages are flat. */
	ASSERT_REPORT_FAILS("x", "[[[[1]]]]", -EBADMSG);
	/* While the bid's own two levels are fine, with room for one more. */
	ASSERT_REPORT_OK("x", "[[1]]");
}

static void test_embedded_nul(void **state)
{
	char line[RAMM_MAX_LINE];
	size_t len = build(line, sizeof(line), hello_members,
			   ARRAY_LEN(hello_members), NULL, NULL);
	struct agent_msg m;
	const char *reason;
	char *p;

	(void)state;
	assert_int_equal(msg_parse_agent(line, len, &m, &reason), 0);

	/* A NUL after the object, inside len. */
	line[len] = '\0';
	assert_int_equal(msg_parse_agent(line, len + 1, &m, &reason), -EBADMSG);
	assert_reason(reason);

	/* A NUL between members. */
	p = strstr(line, ",\"agent\"");
	assert_non_null(p);
	*p = '\0';
	assert_int_equal(msg_parse_agent(line, len, &m, &reason), -EBADMSG);
	*p = ',';

	/* A NUL inside the type string: must not read as "hello". */
	p = strstr(line, "hello\"");
	assert_non_null(p);
	p[5] = '\0';
	assert_int_equal(msg_parse_agent(line, len, &m, &reason), -EBADMSG);
	p[5] = '"';

	/* A NUL inside the agent name. */
	p = strstr(line, "ramm-agent");
	assert_non_null(p);
	p[4] = '\0';
	assert_int_equal(msg_parse_agent(line, len, &m, &reason), -EBADMSG);
	p[4] = '-';
	assert_int_equal(msg_parse_agent(line, len, &m, &reason), 0);

	/* The escaped form reaches the strings: no smuggling through either. */
	ASSERT_HELLO_FAILS("agent", "\"ramm\\u0000agent\"", -EINVAL);
	ASSERT_HELLO_FAILS("mode", "\"proc\\u0000x\"", -EINVAL);
	ASSERT_HELLO_FAILS("type", "\"hello\\u0000x\"", -ENOMSG);
	ASSERT_REPORT_FAILS("type", "\"report\\u0000\"", -ENOMSG);
}

static void test_unknown_type(void **state)
{
	static const char *const types[] = {
		"\"welcome\"", "\"grant\"", "\"error\"", "\"HELLO\"",
		"\"hello \"", "\"\"", "\"reportx\"", "\"repor\"",
	};
	const char *reason;
	struct agent_msg m;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(types); i++)
		ASSERT_HELLO_FAILS("type", types[i], -ENOMSG);
	assert_int_equal(parse_hello_with("type", "\"bye\"", &m, &reason),
			 -ENOMSG);
	assert_string_equal(reason, "unknown message type");
	/* The version is checked first: a wrong v is -EBADMSG whatever type. */
	assert_int_equal(parse_str("{\"type\":\"bye\",\"v\":2}", &reason),
			 -EBADMSG);
	assert_int_equal(parse_str("{\"type\":\"bye\",\"v\":1}", &reason),
			 -ENOMSG);
}

static void test_wrong_version(void **state)
{
	static const char *const versions[] = {
		"0", "2", "-1", "\"1\"", "1.0", "true", "null", "[1]",
		"4294967297", "18446744073709551617",
	};
	struct agent_msg m;
	const char *reason;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(versions); i++) {
		ASSERT_HELLO_FAILS("v", versions[i], -EBADMSG);
		ASSERT_REPORT_FAILS("v", versions[i], -EBADMSG);
	}
	assert_int_equal(parse_hello_with("v", "2", &m, &reason), -EBADMSG);
	assert_string_equal(reason, "missing or unsupported v");
}

static void test_mode(void **state)
{
	static const char *const modes[] = {
		"\"Proc\"", "\"procx\"", "\"pro\"", "\"\"", "\"kernel \"",
		"\"kernel\\n\"", "\"kernelkernelkernel\"", "\"proc,kernel\"",
	};
	struct agent_msg m;
	const char *reason;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(modes); i++) {
		assert_int_equal(parse_hello_with("mode", modes[i], &m, &reason),
				 -EINVAL);
		assert_string_equal(reason, "hello: mode must be proc or kernel");
	}
}

static void test_agent_string(void **state)
{
	static const char *const bad[] = {
		"\"\"",                 /* empty */
		"\"ramm agent\"",       /* space */
		"\"ramm\\tagent\"",     /* control character */
		"\"ramm\\u007f\"",      /* DEL */
		"\"ramm\\u00e9\"",      /* not ASCII */
		"\"ramm\xc3\xa9\"",     /* raw UTF-8 */
		"\"\\u001b[31mred\"",   /* terminal escape */
		"\"abcdefghijklmnopqrstuvwxyz012345\"", /* 32 characters */
	};
	struct agent_msg m;
	const char *reason;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		assert_int_equal(parse_hello_with("agent", bad[i], &m, &reason),
				 -EINVAL);
		assert_string_equal(reason, "hello: bad agent or version");
		assert_int_equal(parse_hello_with("version", bad[i], &m,
						  &reason), -EINVAL);
		assert_string_equal(reason, "hello: bad agent or version");
	}
	/* Escapes of printable characters are fine. */
	assert_int_equal(parse_hello_with("agent", "\"r\\u0061mm\\/x\"", &m,
					  &reason), 0);
	assert_string_equal(m.hello.agent, "ramm/x");
}

static void test_line_length(void **state)
{
	char line[RAMM_MAX_LINE + 16];
	char pad[RAMM_MAX_LINE];
	size_t base, len;
	struct agent_msg m;
	const char *reason;

	(void)state;
	/* Pad a valid report with an unknown member to an exact length. */
	base = build(line, sizeof(line), report_members,
		     ARRAY_LEN(report_members), "pad", "\"\"");
	/* The longest line: RAMM_MAX_LINE - 1 bytes plus the newline. */
	memset(pad, 'p', sizeof(pad));
	pad[0] = '"';
	pad[RAMM_MAX_LINE - 1 - base + 1] = '"';
	pad[RAMM_MAX_LINE - 1 - base + 2] = '\0';
	len = build(line, sizeof(line), report_members,
		    ARRAY_LEN(report_members), "pad", pad);
	assert_int_equal(len, RAMM_MAX_LINE - 1);
	assert_int_equal(msg_parse_agent(line, len, &m, &reason), 0);
	assert_int_equal(m.report.seq, 42);

	/* One byte more is one too many, whatever the content. */
	pad[RAMM_MAX_LINE - 1 - base + 1] = 'p';
	pad[RAMM_MAX_LINE - 1 - base + 2] = '"';
	pad[RAMM_MAX_LINE - 1 - base + 3] = '\0';
	len = build(line, sizeof(line), report_members,
		    ARRAY_LEN(report_members), "pad", pad);
	assert_int_equal(len, RAMM_MAX_LINE);
	assert_int_equal(msg_parse_agent(line, len, &m, &reason), -EBADMSG);
	assert_string_equal(reason, "line too long");
	assert_int_equal(msg_parse_agent(line, SIZE_MAX, &m, &reason),
			 -EBADMSG);
	assert_string_equal(reason, "line too long");
}

/* ---- formatters ---- */

/* Parse @buf (@len bytes, ending in '\n') back into an object. */
static struct json_object *parse_back(const char *buf, int len,
				      const char *type)
{
	struct json_object *obj, *v;

	assert_true(len > 0);
	assert_int_equal((size_t)len, strlen(buf));
	assert_int_equal(buf[len - 1], '\n');
	assert_null(memchr(buf, '\n', (size_t)len - 1));
	obj = json_tokener_parse(buf);
	assert_non_null(obj);
	assert_true(json_object_is_type(obj, json_type_object));
	assert_true(json_object_object_get_ex(obj, "type", &v));
	assert_string_equal(json_object_get_string(v), type);
	assert_true(json_object_object_get_ex(obj, "v", &v));
	assert_true(json_object_is_type(v, json_type_int));
	assert_int_equal(json_object_get_int64(v), RAMM_PROTO_VERSION);
	return obj;
}

static uint64_t get_u64(struct json_object *obj, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(obj, key, &v));
	assert_true(json_object_is_type(v, json_type_int));
	return json_object_get_uint64(v);
}

/* A buffer one byte short fails; the exact size works. */
#define ASSERT_EXACT_FIT(call_with_buf_size, len)                          \
	do {                                                               \
		char *b_ = malloc((size_t)(len) + 1);                      \
		char *buf_ = b_;                                           \
		size_t size_;                                              \
                                                                           \
		assert_non_null(b_);                                       \
		size_ = (size_t)(len);                                     \
		assert_int_equal(call_with_buf_size, -ENOSPC);             \
		size_ = (size_t)(len) + 1;                                 \
		assert_int_equal(call_with_buf_size, len);                 \
		size_ = 1;                                                 \
		assert_int_equal(call_with_buf_size, -ENOSPC);             \
		buf_ = NULL;                                               \
		size_ = 0;                                                 \
		assert_int_equal(call_with_buf_size, -ENOSPC);             \
		free(b_);                                                  \
	} while (0)

static void test_format_welcome(void **state)
{
	char buf[512];
	struct json_object *obj;
	int len;

	(void)state;
	len = msg_format_welcome(buf, sizeof(buf), 2097152, 268435456,
				 1342177280, 536870912, 268435456);
	obj = parse_back(buf, len, RAMM_MSG_WELCOME);
	assert_int_equal(get_u64(obj, "unit_bytes"), 2097152);
	assert_int_equal(get_u64(obj, "floor_bytes"), 268435456);
	assert_int_equal(get_u64(obj, "cap_bytes"), 1342177280);
	assert_int_equal(get_u64(obj, "size_bytes"), 536870912);
	assert_int_equal(get_u64(obj, "boot_bytes"), 268435456);
	json_object_put(obj);

	len = msg_format_welcome(buf, sizeof(buf), 0, 1, UINT64_MAX - 1,
				 UINT64_MAX, UINT64_MAX - 2);
	obj = parse_back(buf, len, RAMM_MSG_WELCOME);
	assert_int_equal(get_u64(obj, "unit_bytes"), 0);
	assert_int_equal(get_u64(obj, "floor_bytes"), 1);
	assert_int_equal(get_u64(obj, "cap_bytes"), UINT64_MAX - 1);
	assert_int_equal(get_u64(obj, "size_bytes"), UINT64_MAX);
	assert_int_equal(get_u64(obj, "boot_bytes"), UINT64_MAX - 2);
	json_object_put(obj);

	ASSERT_EXACT_FIT(msg_format_welcome(buf_, size_, 0, 1, UINT64_MAX - 1,
					    UINT64_MAX, UINT64_MAX - 2), len);
}

static void test_format_grant(void **state)
{
	char buf[256];
	struct json_object *obj;
	int len;

	(void)state;
	len = msg_format_grant(buf, sizeof(buf), 805306368, 300);
	obj = parse_back(buf, len, RAMM_MSG_GRANT);
	assert_int_equal(get_u64(obj, "target_bytes"), 805306368);
	assert_int_equal(get_u64(obj, "price"), 300);
	json_object_put(obj);

	len = msg_format_grant(buf, sizeof(buf), UINT64_MAX, UINT32_MAX);
	obj = parse_back(buf, len, RAMM_MSG_GRANT);
	assert_int_equal(get_u64(obj, "target_bytes"), UINT64_MAX);
	assert_int_equal(get_u64(obj, "price"), UINT32_MAX);
	json_object_put(obj);

	ASSERT_EXACT_FIT(msg_format_grant(buf_, size_, UINT64_MAX, UINT32_MAX),
			 len);
}

static void test_format_evict(void **state)
{
	char buf[256];
	struct json_object *obj;
	int len;

	(void)state;
	len = msg_format_evict(buf, sizeof(buf), 32, 5000, 7);
	obj = parse_back(buf, len, RAMM_MSG_EVICT);
	assert_int_equal(get_u64(obj, "units"), 32);
	assert_int_equal(get_u64(obj, "deadline_ms"), 5000);
	assert_int_equal(get_u64(obj, "id"), 7);
	json_object_put(obj);

	len = msg_format_evict(buf, sizeof(buf), 0, 0, RAMM_EVICT_MAX_ID);
	obj = parse_back(buf, len, RAMM_MSG_EVICT);
	assert_int_equal(get_u64(obj, "units"), 0);
	assert_int_equal(get_u64(obj, "deadline_ms"), 0);
	assert_true(get_u64(obj, "id") == RAMM_EVICT_MAX_ID);
	json_object_put(obj);

	ASSERT_EXACT_FIT(msg_format_evict(buf_, size_, 32, 5000, 7),
			 (int)strlen("{\"type\":\"evict\",\"v\":1,\"units\":32,"
				     "\"deadline_ms\":5000,\"id\":7}\n"));
}

static void test_format_error(void **state)
{
	char buf[256];
	struct json_object *obj, *v;
	int len;

	(void)state;
	len = msg_format_error(buf, sizeof(buf), "line too long");
	obj = parse_back(buf, len, RAMM_MSG_ERROR);
	assert_true(json_object_object_get_ex(obj, "reason", &v));
	assert_string_equal(json_object_get_string(v), "line too long");
	json_object_put(obj);

	len = msg_format_error(buf, sizeof(buf), "");
	obj = parse_back(buf, len, RAMM_MSG_ERROR);
	json_object_put(obj);

	/* Anything that would break out of the string is refused. */
	assert_int_equal(msg_format_error(buf, sizeof(buf), "a \"quoted\" word"),
			 -EINVAL);
	assert_int_equal(msg_format_error(buf, sizeof(buf), "\""), -EINVAL);
	assert_int_equal(msg_format_error(buf, sizeof(buf), "back\\slash"),
			 -EINVAL);
	assert_int_equal(msg_format_error(buf, sizeof(buf), "two\nlines"),
			 -EINVAL);

	ASSERT_EXACT_FIT(msg_format_error(buf_, size_, "report: bad seq"),
			 (int)strlen("{\"type\":\"error\",\"v\":1,"
				     "\"reason\":\"report: bad seq\"}\n"));
}

/* ---- seeded mutation ---- */

static uint64_t rng_state;

static uint32_t rng(uint32_t bound)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % bound);
}

/* Damage @line (@len bytes, room for @size) once; returns the new length. */
static size_t mutate(char *line, size_t len, size_t size)
{
	static const char *const tokens[] = {
		"-", "1e999", "[", "]", "{", "}", "\"", "\\", "\\u0000", ",",
		":", "null", "true", "9223372036854775808", "0", "-1", ".5",
		"NaN", "[[1,2]]", "\"report\"", "\"hello\"", "\xff", " ",
	};
	size_t pos = len ? rng((uint32_t)len) : 0;

	switch (rng(6)) {
	case 0: /* overwrite one byte */
		if (len)
			line[pos] = (char)rng(256);
		return len;
	case 1: /* delete a run */
	{
		size_t n = 1 + rng(8);

		if (n > len - pos)
			n = len - pos;
		memmove(line + pos, line + pos + n, len - pos - n);
		return len - n;
	}
	case 2: /* insert a token */
	{
		const char *t = tokens[rng(ARRAY_LEN(tokens))];
		size_t n = strlen(t);

		if (len + n > size)
			return len;
		memmove(line + pos + n, line + pos, len - pos);
		memcpy(line + pos, t, n);
		return len + n;
	}
	case 3: /* duplicate a run */
	{
		size_t n = 1 + rng(40);

		if (n > len - pos)
			n = len - pos;
		if (len + n > size)
			return len;
		memmove(line + pos + n, line + pos, len - pos);
		return len + n;
	}
	case 4: /* truncate */
		return pos;
	default: /* change a digit */
		for (size_t i = 0; i < len; i++) {
			size_t j = (pos + i) % len;

			if (line[j] >= '0' && line[j] <= '9') {
				line[j] = (char)('0' + rng(10));
				break;
			}
		}
		return len;
	}
}

static void test_random_mutation(void **state)
{
	char base[2][RAMM_MAX_LINE];
	size_t base_len[2];
	char line[RAMM_MAX_LINE + 64];
	int seen[4] = { 0 }; /* 0, -EBADMSG, -EINVAL, -ENOMSG */

	(void)state;
	base_len[0] = build(base[0], sizeof(base[0]), report_members,
			    ARRAY_LEN(report_members), NULL, NULL);
	base_len[1] = build(base[1], sizeof(base[1]), hello_members,
			    ARRAY_LEN(hello_members), NULL, NULL);
	rng_state = 0x2545f4914f6cdd1dULL;
	for (int iter = 0; iter < 30000; iter++) {
		int which = rng(4) == 0;
		size_t len = base_len[which];
		int rounds = 1 + (int)rng(4);
		struct agent_msg *m = malloc(sizeof(*m));
		const char *reason = "unset";
		int ret;

		assert_non_null(m);
		memcpy(line, base[which], len);
		for (int r = 0; r < rounds; r++)
			len = mutate(line, len, sizeof(line));
		/* An exact-size heap copy: valgrind sees any over-read. */
		char *copy = malloc(len ? len : 1);

		assert_non_null(copy);
		memcpy(copy, line, len);
		ret = msg_parse_agent(copy, len, m, &reason);
		switch (ret) {
		case 0:
			seen[0]++;
			assert_null(reason);
			if (m->type == AGENT_MSG_REPORT) {
				const struct agent_report *rep = &m->report;

				assert_true(rep->n_bid <= RAMM_MAX_BID_STEPS);
				assert_int_equal(market_validate_bid(rep->bid,
								     rep->n_bid),
						 0);
				assert_true(rep->psi_some_avg10 >= 0.0 &&
					    rep->psi_some_avg10 <= 100.0);
				assert_true(rep->psi_full_avg10 >= 0.0 &&
					    rep->psi_full_avg10 <= 100.0);
				assert_true(rep->seq <= INT64_MAX);
				assert_true(rep->mem_total_kib <= 1ULL << 50);
				assert_true(rep->unit_bytes <= 1ULL << 40);
			} else {
				assert_int_equal(m->type, AGENT_MSG_HELLO);
				assert_true(strlen(m->hello.agent) > 0);
				assert_true(!strcmp(m->hello.mode, RAMM_MODE_PROC) ||
					    !strcmp(m->hello.mode,
						    RAMM_MODE_KERNEL));
			}
			break;
		case -EBADMSG:
		case -EINVAL:
		case -ENOMSG:
			seen[ret == -EBADMSG ? 1 : ret == -EINVAL ? 2 : 3]++;
			assert_reason(reason);
			break;
		default:
			fail_msg("iteration %d: unexpected %d for %.*s", iter, ret,
				 (int)len, line);
		}
		free(copy);
		free(m);
	}
	/* The mutator reached every outcome. */
	for (int i = 0; i < 4; i++)
		assert_true(seen[i] > 0);
}

/* ---- msg_parse_broker: the broker's messages, as ramm-agent reads them ---- */

static const struct member welcome_members[] = {
	{ "type", "\"welcome\"" },
	{ "v", "1" },
	{ "unit_bytes", "2097152" },
	{ "floor_bytes", "268435456" },
	{ "cap_bytes", "1342177280" },
	{ "size_bytes", "536870912" },
};

static const struct member grant_members[] = {
	{ "type", "\"grant\"" },
	{ "v", "1" },
	{ "target_bytes", "805306368" },
	{ "price", "300" },
};

static const struct member evict_members[] = {
	{ "type", "\"evict\"" },
	{ "v", "1" },
	{ "units", "32" },
	{ "deadline_ms", "5000" },
};

static const struct member error_members[] = {
	{ "type", "\"error\"" },
	{ "v", "1" },
	{ "reason", "\"rate limit\"" },
};

struct broker_kind {
	const char *name;
	const struct member *members;
	size_t n;
};

static const struct broker_kind broker_kinds[] = {
	{ "welcome", welcome_members, ARRAY_LEN(welcome_members) },
	{ "grant", grant_members, ARRAY_LEN(grant_members) },
	{ "evict", evict_members, ARRAY_LEN(evict_members) },
	{ "error", error_members, ARRAY_LEN(error_members) },
};

static const struct broker_kind *broker_kind(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(broker_kinds); i++)
		if (!strcmp(broker_kinds[i].name, name))
			return &broker_kinds[i];
	fail_msg("no message kind %s", name);
	return NULL;
}

/* Parse message @kind with @key set to raw JSON @value (NULL: left out). */
static int parse_broker_with(const char *kind, const char *key,
			     const char *value, struct broker_msg *out,
			     const char **reason)
{
	const struct broker_kind *k = broker_kind(kind);
	char line[RAMM_MAX_LINE];
	size_t len = build(line, sizeof(line), k->members, k->n, key, value);

	return msg_parse_broker(line, len, out, reason);
}

static int parse_broker_str(const char *line, const char **reason)
{
	struct broker_msg m;

	return msg_parse_broker(line, strlen(line), &m, reason);
}

#define ASSERT_BROKER_FAILS(kind, key, value, want)                        \
	do {                                                               \
		struct broker_msg m_;                                      \
		const char *r_ = NULL;                                     \
		int ret_ = parse_broker_with(kind, key, value, &m_, &r_);  \
                                                                           \
		if (ret_ != (want))                                        \
			fail_msg("%s %s=%s: got %d, want %d, reason %s",   \
				 kind, key, or_missing(value), ret_, want, \
				 r_ ? r_ : "(none)");                       \
		assert_reason(r_);                                         \
		/* Cleared on failure. */                                  \
		assert_int_equal(m_.type, 0);                              \
	} while (0)

#define ASSERT_BROKER_OK(kind, key, value, m)                              \
	do {                                                               \
		const char *r_ = "unset";                                  \
                                                                           \
		if (parse_broker_with(kind, key, value, m, &r_) != 0)      \
			fail_msg("%s %s=%s rejected: %s", kind, key,       \
				 or_missing(value), r_ ? r_ : "(none)");    \
	} while (0)

static void test_broker_valid(void **state)
{
	struct broker_msg m;

	(void)state;
	ASSERT_BROKER_OK("welcome", NULL, NULL, &m);
	assert_int_equal(m.type, BROKER_MSG_WELCOME);
	assert_int_equal(m.welcome.unit_bytes, 2097152);
	assert_int_equal(m.welcome.floor_bytes, 268435456);
	assert_int_equal(m.welcome.cap_bytes, 1342177280);
	assert_int_equal(m.welcome.size_bytes, 536870912);
	/* boot_bytes is optional: 0 when a broker does not tell it. */
	assert_int_equal(m.welcome.boot_bytes, 0);
	ASSERT_BROKER_OK("welcome", "boot_bytes", "268435456", &m);
	assert_int_equal(m.welcome.boot_bytes, 268435456);

	ASSERT_BROKER_OK("grant", NULL, NULL, &m);
	assert_int_equal(m.type, BROKER_MSG_GRANT);
	assert_int_equal(m.grant.target_bytes, 805306368);
	assert_int_equal(m.grant.price, 300);

	ASSERT_BROKER_OK("evict", NULL, NULL, &m);
	assert_int_equal(m.type, BROKER_MSG_EVICT);
	assert_int_equal(m.evict.units, 32);
	assert_int_equal(m.evict.deadline_ms, 5000);

	ASSERT_BROKER_OK("error", NULL, NULL, &m);
	assert_int_equal(m.type, BROKER_MSG_ERROR);
	assert_string_equal(m.error.reason, "rate limit");

	/* Members a message does not use are ignored, whatever they hold. */
	ASSERT_BROKER_OK("welcome", "extra", "[[1,2],{\"a\":null}]", &m);
	assert_int_equal(m.welcome.unit_bytes, 2097152);
	ASSERT_BROKER_OK("grant", "units", "\"many\"", &m);
	assert_int_equal(m.grant.price, 300);
	ASSERT_BROKER_OK("evict", "price", "-1", &m);
	ASSERT_BROKER_OK("error", "seq", "1.5", &m);
}

/* Every bound: accepted at the limit, refused one past it. */
static void test_broker_bounds(void **state)
{
	char at[32], past[32];
	struct broker_msg m;

	(void)state;
	/* unit_bytes: a power of two in 4096..MSG_MAX_UNIT_BYTES. */
	ASSERT_BROKER_OK("welcome", "unit_bytes", "4096", &m);
	assert_int_equal(m.welcome.unit_bytes, 4096);
	snprintf(at, sizeof(at), "%llu", MSG_MAX_UNIT_BYTES);
	ASSERT_BROKER_OK("welcome", "unit_bytes", at, &m);
	assert_int_equal(m.welcome.unit_bytes, MSG_MAX_UNIT_BYTES);
	snprintf(past, sizeof(past), "%llu", MSG_MAX_UNIT_BYTES * 2);
	ASSERT_BROKER_FAILS("welcome", "unit_bytes", past, -EINVAL);
	snprintf(past, sizeof(past), "%llu", MSG_MAX_UNIT_BYTES + 1);
	ASSERT_BROKER_FAILS("welcome", "unit_bytes", past, -EINVAL);
	ASSERT_BROKER_FAILS("welcome", "unit_bytes", "2048", -EINVAL);
	ASSERT_BROKER_FAILS("welcome", "unit_bytes", "0", -EINVAL);
	ASSERT_BROKER_FAILS("welcome", "unit_bytes", "4095", -EINVAL);
	ASSERT_BROKER_FAILS("welcome", "unit_bytes", "3145728", -EINVAL);
	ASSERT_BROKER_FAILS("welcome", "unit_bytes", "-4096", -EINVAL);

	/* floor <= cap: equal is fine. */
	ASSERT_BROKER_OK("welcome", "floor_bytes", "1342177280", &m);
	assert_int_equal(m.welcome.floor_bytes, m.welcome.cap_bytes);
	ASSERT_BROKER_FAILS("welcome", "floor_bytes", "1342177281", -EINVAL);

	/* boot_bytes <= size_bytes: boot memory is part of the size. */
	ASSERT_BROKER_OK("welcome", "boot_bytes", "536870912", &m);
	assert_int_equal(m.welcome.boot_bytes, m.welcome.size_bytes);
	ASSERT_BROKER_FAILS("welcome", "boot_bytes", "536870913", -EINVAL);
	ASSERT_BROKER_FAILS("welcome", "boot_bytes", "-1", -EINVAL);
	ASSERT_BROKER_FAILS("welcome", "boot_bytes", "\"256M\"", -EINVAL);

	/* Sizes up to MSG_MAX_BYTES. */
	snprintf(at, sizeof(at), "%llu", MSG_MAX_BYTES);
	snprintf(past, sizeof(past), "%llu", MSG_MAX_BYTES + 1);
	ASSERT_BROKER_OK("welcome", "cap_bytes", at, &m);
	assert_int_equal(m.welcome.cap_bytes, MSG_MAX_BYTES);
	ASSERT_BROKER_FAILS("welcome", "cap_bytes", past, -EINVAL);
	ASSERT_BROKER_OK("welcome", "size_bytes", at, &m);
	assert_int_equal(m.welcome.size_bytes, MSG_MAX_BYTES);
	ASSERT_BROKER_FAILS("welcome", "size_bytes", past, -EINVAL);
	ASSERT_BROKER_OK("welcome", "floor_bytes", "0", &m);
	ASSERT_BROKER_OK("grant", "target_bytes", at, &m);
	assert_int_equal(m.grant.target_bytes, MSG_MAX_BYTES);
	ASSERT_BROKER_FAILS("grant", "target_bytes", past, -EINVAL);
	ASSERT_BROKER_OK("grant", "target_bytes", "0", &m);
	ASSERT_BROKER_FAILS("grant", "target_bytes", "-1", -EINVAL);
	ASSERT_BROKER_FAILS("grant", "target_bytes",
			    "18446744073709551615", -EINVAL);
	ASSERT_BROKER_FAILS("grant", "target_bytes",
			    "18446744073709551616", -EINVAL);

	/* price <= RAMM_MAX_PRICE. */
	snprintf(at, sizeof(at), "%u", RAMM_MAX_PRICE);
	snprintf(past, sizeof(past), "%u", RAMM_MAX_PRICE + 1);
	ASSERT_BROKER_OK("grant", "price", at, &m);
	assert_int_equal(m.grant.price, RAMM_MAX_PRICE);
	ASSERT_BROKER_FAILS("grant", "price", past, -EINVAL);
	ASSERT_BROKER_OK("grant", "price", "0", &m);
	ASSERT_BROKER_FAILS("grant", "price", "-1", -EINVAL);

	/* units and deadline_ms <= UINT32_MAX. */
	ASSERT_BROKER_OK("evict", "units", "4294967295", &m);
	assert_int_equal(m.evict.units, UINT32_MAX);
	ASSERT_BROKER_FAILS("evict", "units", "4294967296", -EINVAL);
	ASSERT_BROKER_OK("evict", "deadline_ms", "4294967295", &m);
	assert_int_equal(m.evict.deadline_ms, UINT32_MAX);
	ASSERT_BROKER_FAILS("evict", "deadline_ms", "4294967296", -EINVAL);
	ASSERT_BROKER_OK("evict", "units", "0", &m);
	ASSERT_BROKER_FAILS("evict", "units", "-1", -EINVAL);
	/* The id is optional (a broker from before ids), bounded when sent. */
	ASSERT_BROKER_OK("evict", "id", NULL, &m);
	assert_true(m.evict.id == 0);
	ASSERT_BROKER_OK("evict", "id", "9223372036854775807", &m);
	assert_true(m.evict.id == RAMM_EVICT_MAX_ID);
	ASSERT_BROKER_FAILS("evict", "id", "9223372036854775808", -EINVAL);
	ASSERT_BROKER_FAILS("evict", "id", "-1", -EINVAL);
	ASSERT_BROKER_FAILS("evict", "id", "1.5", -EINVAL);
	ASSERT_BROKER_FAILS("evict", "id", "\"1\"", -EINVAL);
	ASSERT_BROKER_FAILS("evict", "id", "null", -EINVAL);
}

static void test_broker_members(void **state)
{
	static const char *const mistyped[] = {
		"\"1\"", "1.0", "true", "null", "[1]", "{}",
	};
	struct broker_msg m;
	const char *reason;

	(void)state;
	for (size_t k = 0; k < ARRAY_LEN(broker_kinds); k++) {
		const struct broker_kind *bk = &broker_kinds[k];

		/* Each member other than type and v, left out or mistyped. */
		for (size_t i = 2; i < bk->n; i++) {
			const char *key = bk->members[i].key;

			ASSERT_BROKER_FAILS(bk->name, key, NULL, -EINVAL);
			for (size_t t = 0; t < ARRAY_LEN(mistyped); t++) {
				/* error's reason must be a string. */
				if (!strcmp(key, "reason") && t == 0)
					continue;
				ASSERT_BROKER_FAILS(bk->name, key, mistyped[t],
						    -EINVAL);
			}
		}
		/* type and v: -EBADMSG, as for the agent's messages. */
		ASSERT_BROKER_FAILS(bk->name, "type", NULL, -EBADMSG);
		ASSERT_BROKER_FAILS(bk->name, "type", "1", -EBADMSG);
		ASSERT_BROKER_FAILS(bk->name, "v", NULL, -EBADMSG);
		ASSERT_BROKER_FAILS(bk->name, "v", "2", -EBADMSG);
		ASSERT_BROKER_FAILS(bk->name, "v", "0", -EBADMSG);
		ASSERT_BROKER_FAILS(bk->name, "v", "\"1\"", -EBADMSG);
		ASSERT_BROKER_FAILS(bk->name, "v", "1.0", -EBADMSG);
	}
	/* Reasons say which message it was. */
	assert_int_equal(parse_broker_with("welcome", "floor_bytes", "2e9", &m,
					   &reason), -EINVAL);
	assert_string_equal(reason, "welcome: missing or invalid member");
	assert_int_equal(parse_broker_with("welcome", "floor_bytes",
					   "1342177281", &m, &reason), -EINVAL);
	assert_string_equal(reason, "welcome: floor_bytes above cap_bytes");
	assert_int_equal(parse_broker_with("error", "reason", NULL, &m,
					   &reason), -EINVAL);
	assert_string_equal(reason, "error: missing reason");

	/* The agent's messages and unknown types: -ENOMSG. */
	ASSERT_BROKER_FAILS("grant", "type", "\"hello\"", -ENOMSG);
	ASSERT_BROKER_FAILS("grant", "type", "\"report\"", -ENOMSG);
	ASSERT_BROKER_FAILS("grant", "type", "\"GRANT\"", -ENOMSG);
	ASSERT_BROKER_FAILS("grant", "type", "\"grant\\u0000\"", -ENOMSG);
	ASSERT_BROKER_FAILS("grant", "type", "\"\"", -ENOMSG);
	assert_int_equal(parse_broker_str("{\"type\":\"bye\",\"v\":1}", &reason),
			 -ENOMSG);
	assert_string_equal(reason, "unknown message type");
}

static void test_broker_error_reason(void **state)
{
	char value[MSG_MAX_REASON * 2];
	struct broker_msg m;
	size_t n;

	(void)state;
	ASSERT_BROKER_OK("error", "reason", "\"\"", &m);
	assert_string_equal(m.error.reason, "");
	/* Up to an escaped NUL only. */
	ASSERT_BROKER_OK("error", "reason", "\"bad\\u0000tail\"", &m);
	assert_string_equal(m.error.reason, "bad");
	/* Cut to MSG_MAX_REASON - 1 bytes. */
	n = (size_t)snprintf(value, sizeof(value), "\"");
	memset(value + n, 'x', MSG_MAX_REASON + 10);
	n += MSG_MAX_REASON + 10;
	snprintf(value + n, sizeof(value) - n, "\"");
	ASSERT_BROKER_OK("error", "reason", value, &m);
	assert_int_equal(strlen(m.error.reason), MSG_MAX_REASON - 1);
}

static void test_broker_not_a_message(void **state)
{
	static const char *const lines[] = {
		"", "welcome", "[]", "1", "\"grant\"", "null", "{",
		"{\"type\":\"grant\",\"v\":1,\"target_bytes\":1,\"price\":1",
		"{\"type\":\"grant\",\"v\":1,\"target_bytes\":1,\"price\":1}}",
		"{\"type\":\"grant\",\"v\":1,\"target_bytes\":1,\"price\":1} x",
		/* Strict JSON only, as ramm-agent always read it. */
		"{\"type\":\"grant\",\"v\":1,\"target_bytes\":1,\"price\":1,}",
		"{'type':'grant','v':1,'target_bytes':1,'price':1}",
		"{\"type\":\"grant\",\"v\":1,\"target_bytes\":01,\"price\":1}",
		"{\"type\":\"grant\",\"v\":1,\"target_bytes\":1,\"price\":1}{}",
		"{\"type\":\"grant\",\"v\":1,\"a\":[[[[1]]]],"
		"\"target_bytes\":1,\"price\":1}",
	};
	const char ok[] = "{\"type\":\"evict\",\"v\":1,\"units\":1,"
			  "\"deadline_ms\":1}";
	char line[RAMM_MAX_LINE + 1];
	const char *reason;
	struct broker_msg m;
	size_t len;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(lines); i++) {
		reason = NULL;
		if (parse_broker_str(lines[i], &reason) != -EBADMSG)
			fail_msg("line %zu accepted: %s", i, lines[i]);
		assert_reason(reason);
	}
	assert_int_equal(parse_broker_str(ok, &reason), 0);

	/* A NUL byte anywhere, even after the object. */
	memcpy(line, ok, sizeof(ok));
	assert_int_equal(msg_parse_broker(line, sizeof(ok), &m, &reason),
			 -EBADMSG);
	assert_string_equal(reason, "NUL byte");
	line[5] = '\0';
	assert_int_equal(msg_parse_broker(line, sizeof(ok) - 1, &m, &reason),
			 -EBADMSG);

	/* Longest line: RAMM_MAX_LINE - 1 bytes without the newline. */
	len = sizeof(ok) - 1;
	memcpy(line, ok, len - 1);
	memset(line + len - 1, ' ', RAMM_MAX_LINE - 1 - len);
	line[RAMM_MAX_LINE - 2] = '}';
	assert_int_equal(msg_parse_broker(line, RAMM_MAX_LINE - 1, &m, &reason),
			 0);
	assert_int_equal(m.evict.units, 1);
	line[RAMM_MAX_LINE - 2] = ' ';
	line[RAMM_MAX_LINE - 1] = '}';
	assert_int_equal(msg_parse_broker(line, RAMM_MAX_LINE, &m, &reason),
			 -EBADMSG);
	assert_string_equal(reason, "line too long");
}

/* What the broker formats, the agent reads back unchanged. */
static void test_broker_round_trip(void **state)
{
	char buf[512];
	const char *reason;
	struct broker_msg m;
	int len;

	(void)state;
	len = msg_format_welcome(buf, sizeof(buf), 1ull << 30, 1ull << 30,
				 MSG_MAX_BYTES, 123456789, 12345678);
	assert_true(len > 0);
	assert_int_equal(msg_parse_broker(buf, (size_t)len - 1, &m, &reason),
			 0);
	assert_int_equal(m.type, BROKER_MSG_WELCOME);
	assert_int_equal(m.welcome.unit_bytes, 1ull << 30);
	assert_int_equal(m.welcome.floor_bytes, 1ull << 30);
	assert_int_equal(m.welcome.cap_bytes, MSG_MAX_BYTES);
	assert_int_equal(m.welcome.size_bytes, 123456789);
	assert_int_equal(m.welcome.boot_bytes, 12345678);

	len = msg_format_grant(buf, sizeof(buf), 805306368, RAMM_MAX_PRICE);
	assert_int_equal(msg_parse_broker(buf, (size_t)len - 1, &m, &reason),
			 0);
	assert_int_equal(m.grant.target_bytes, 805306368);
	assert_int_equal(m.grant.price, RAMM_MAX_PRICE);

	len = msg_format_evict(buf, sizeof(buf), UINT32_MAX, UINT32_MAX,
			       RAMM_EVICT_MAX_ID);
	assert_int_equal(msg_parse_broker(buf, (size_t)len - 1, &m, &reason),
			 0);
	assert_int_equal(m.evict.units, UINT32_MAX);
	assert_int_equal(m.evict.deadline_ms, UINT32_MAX);
	assert_true(m.evict.id == RAMM_EVICT_MAX_ID);

	len = msg_format_error(buf, sizeof(buf), "report: bad seq");
	assert_int_equal(msg_parse_broker(buf, (size_t)len - 1, &m, &reason),
			 0);
	assert_string_equal(m.error.reason, "report: bad seq");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_valid),
		cmocka_unit_test(test_report_valid),
		cmocka_unit_test(test_report_max_steps),
		cmocka_unit_test(test_missing_members),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_report_hist),
		cmocka_unit_test(test_report_evicting),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_not_an_object),
		cmocka_unit_test(test_depth_bomb),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_unknown_type),
		cmocka_unit_test(test_wrong_version),
		cmocka_unit_test(test_mode),
		cmocka_unit_test(test_agent_string),
		cmocka_unit_test(test_line_length),
		cmocka_unit_test(test_format_welcome),
		cmocka_unit_test(test_format_grant),
		cmocka_unit_test(test_format_evict),
		cmocka_unit_test(test_format_error),
		cmocka_unit_test(test_random_mutation),
		cmocka_unit_test(test_broker_valid),
		cmocka_unit_test(test_broker_bounds),
		cmocka_unit_test(test_broker_members),
		cmocka_unit_test(test_broker_error_reason),
		cmocka_unit_test(test_broker_not_a_message),
		cmocka_unit_test(test_broker_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
