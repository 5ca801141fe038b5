/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for broker/daemon/evict_wait.c: when a shrink waiting for its
 * guest to prepare goes out (prepared, deadline, not preparing), on
 * reports that may be hostile.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "evict_wait.h"

#define MS 1000 /* µs */

/* A notice (id 42) sent at 10 s with a 2.5 s limit, and a report of the
 * guest still at work on it, 100 ms later. */
static struct evict_wait_in
waiting(void)
{
	return (struct evict_wait_in){
		.now_us = 10000 * MS + 200 * MS,
		.sent_us = 10000 * MS,
		.limit_us = 2500 * MS,
		.stale_us = 5000 * MS,
		.id = 42,
		.have_report = 1,
		.report_us = 10000 * MS + 100 * MS,
		.have_evicting = 1,
		.evicting = 1,
		.evict_id = 42,
	};
}

static void
test_waits_while_evicting(void **state)
{
	struct evict_wait_in in = waiting();

	(void)state;
	assert_int_equal(evict_wait_decide(&in), EVICT_WAIT);
	in.now_us = in.sent_us + in.limit_us - 1;
	assert_int_equal(evict_wait_decide(&in), EVICT_WAIT);
}

/* The report for the notice's id says the work is over: go at once. */
static void
test_prepared(void **state)
{
	struct evict_wait_in in = waiting();

	(void)state;
	in.evicting = 0;
	assert_int_equal(evict_wait_decide(&in), EVICT_PREPARED);
	/* Prepared wins over a deadline passed at the same time. */
	in.now_us = in.sent_us + in.limit_us + 1;
	assert_int_equal(evict_wait_decide(&in), EVICT_PREPARED);
	assert_string_equal(evict_wait_name(EVICT_PREPARED), "prepared");
}

/* An urgent report says the guest is short, or a workload started in it:
 * the round it pulls forward stops the shrink, so even "prepared" or "not
 * preparing" waits for that until the limit, when what the round let
 * stand goes out (in the soak, the report that ended an idle guest's
 * preparation was the first to show a workload starting). */
static void
test_urgent_waits_for_its_round(void **state)
{
	struct evict_wait_in in = waiting();

	(void)state;
	in.evicting = 0;
	in.urgent = 1;
	assert_int_equal(evict_wait_decide(&in), EVICT_WAIT);
	in.have_evicting = 0;
	assert_int_equal(evict_wait_decide(&in), EVICT_WAIT);
	in.now_us = in.sent_us + in.limit_us;
	assert_int_equal(evict_wait_decide(&in), EVICT_NOT_PREPARING);
	in.have_evicting = 1;
	assert_int_equal(evict_wait_decide(&in), EVICT_PREPARED);
}

/* A finished notice, but not this one: an earlier notice's end, or a
 * notice the module has not taken up. */
static void
test_other_id_not_prepared(void **state)
{
	struct evict_wait_in in = waiting();

	(void)state;
	in.evicting = 0;
	in.evict_id = 41;
	assert_int_equal(evict_wait_decide(&in), EVICT_WAIT);
	in.evict_id = 43;
	assert_int_equal(evict_wait_decide(&in), EVICT_WAIT);
	in.evict_id = 0;
	assert_int_equal(evict_wait_decide(&in), EVICT_WAIT);
}

/* A report from before the notice went out says nothing of it, even one
 * naming its id (a guest may guess ids). */
static void
test_stale_report(void **state)
{
	struct evict_wait_in in = waiting();

	(void)state;
	in.evicting = 0;
	in.report_us = in.sent_us - 1;
	assert_int_equal(evict_wait_decide(&in), EVICT_WAIT);
	in.have_evicting = 0; /* nor that it stopped preparing */
	assert_int_equal(evict_wait_decide(&in), EVICT_WAIT);
	in.report_us = in.sent_us; /* the same µs counts as after */
	assert_int_equal(evict_wait_decide(&in), EVICT_NOT_PREPARING);
	in.have_report = 0;
	assert_int_equal(evict_wait_decide(&in), EVICT_WAIT);
}

/* A guest that claims to be busy for ever is waited for only up to the
 * limit. */
static void
test_deadline(void **state)
{
	struct evict_wait_in in = waiting();

	(void)state;
	in.now_us = in.sent_us + in.limit_us;
	assert_int_equal(evict_wait_decide(&in), EVICT_DEADLINE);
	in = waiting();
	in.limit_us = 0; /* evict_prepare_ms 0: at once */
	in.now_us = in.sent_us;
	in.report_us = in.sent_us - 1;
	assert_int_equal(evict_wait_decide(&in), EVICT_DEADLINE);
	assert_string_equal(evict_wait_name(EVICT_DEADLINE), "deadline");
}

/* A guest silent since the notice may have lost its agent, which then
 * could not stop the unplug: at the limit the shrink waits for one more
 * report, and is called off once the last one is stale. */
static void
test_unheard(void **state)
{
	struct evict_wait_in in = waiting();

	(void)state;
	in.report_us = in.sent_us - 300 * MS;
	in.now_us = in.sent_us + in.limit_us;
	assert_int_equal(evict_wait_decide(&in), EVICT_WAIT);
	in.now_us = in.report_us + in.stale_us - 1;
	assert_int_equal(evict_wait_decide(&in), EVICT_WAIT);
	in.now_us = in.report_us + in.stale_us;
	assert_int_equal(evict_wait_decide(&in), EVICT_UNHEARD);
	assert_string_equal(evict_wait_name(EVICT_UNHEARD), "unheard");
	in.have_report = 0;
	in.now_us = in.sent_us + in.limit_us;
	assert_int_equal(evict_wait_decide(&in), EVICT_UNHEARD);
	/* A report after the notice, still at work: heard, so it goes. */
	in = waiting();
	in.now_us = in.report_us + in.stale_us;
	assert_int_equal(evict_wait_decide(&in), EVICT_DEADLINE);
}

/* Its reports stop saying "evicting" (the agent left kernel mode): no
 * point waiting out the limit. */
static void
test_not_preparing(void **state)
{
	struct evict_wait_in in = waiting();

	(void)state;
	in.have_evicting = 0;
	in.evicting = 0;
	in.evict_id = 0;
	assert_int_equal(evict_wait_decide(&in), EVICT_NOT_PREPARING);
	assert_string_equal(evict_wait_name(EVICT_NOT_PREPARING),
	    "not preparing");
	assert_string_equal(evict_wait_name(EVICT_WAIT), "waiting");
}

/* Clock values a long-running daemon reaches, ids at the top of range. */
static void
test_extremes(void **state)
{
	struct evict_wait_in in = waiting();

	(void)state;
	in.id = in.evict_id = 0x7fffffffffffffffULL;
	in.sent_us = INT64_MAX / 2;
	in.report_us = in.sent_us + 1;
	in.now_us = in.sent_us + 1;
	assert_int_equal(evict_wait_decide(&in), EVICT_WAIT);
	in.evicting = 0;
	assert_int_equal(evict_wait_decide(&in), EVICT_PREPARED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_waits_while_evicting),
		cmocka_unit_test(test_prepared),
		cmocka_unit_test(test_urgent_waits_for_its_round),
		cmocka_unit_test(test_other_id_not_prepared),
		cmocka_unit_test(test_stale_report),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_unheard),
		cmocka_unit_test(test_not_preparing),
		cmocka_unit_test(test_extremes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
