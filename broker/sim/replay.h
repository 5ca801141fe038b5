/* SPDX-License-Identifier: MIT */
/*
 * ramm-sim --replay FILE: plan every tick `rammd --record FILE` wrote
 * again, with the planner ramm-sim's `ramm` policy runs (plan_tick()),
 * and compare what it decides with what rammd decided: every field of
 * every action, each guest's target and account, each pool's clearing.
 * The records' format is broker/market/plan_record.h.
 */
#ifndef RAMM_SIM_REPLAY_H
#define RAMM_SIM_REPLAY_H

#include <stdint.h>
#include <stdio.h>

/* Most mismatch lines printed; the count goes on past it. */
#define REPLAY_MAX_REPORTED 200

struct replay_summary {
	uint64_t ticks;      /* records planned again */
	uint64_t actions;    /* recorded actions compared */
	uint64_t mismatches; /* fields that differ */
};

struct plan_record;
struct plan_result;

/*
 * replay_compare - compare @got, what plan_tick() made of record @rec's
 * input, with what @rec says rammd decided; print one line per differing
 * field to @report, "tick N: WHAT: FIELD recorded X, replayed Y" (N is
 * @tick), while @sum->mismatches is below REPLAY_MAX_REPORTED, and add to
 * @sum. Never fails.
 */
void replay_compare(const struct plan_record *rec, const struct plan_result *got,
		    uint64_t tick, FILE *report, struct replay_summary *sum);

/*
 * replay_file - replay every line of @path (tick N is line N), printing
 * mismatches to @report and filling the caller's @sum.
 * Returns 0 once every line was replayed (mismatches or not), -errno if
 * the file cannot be read, -ENOMEM, or -EINVAL for a malformed line; on
 * failure @err (caller-owned, @errlen bytes) says "FILE:LINE: problem"
 * or "FILE: problem", and @sum counts the ticks replayed before it.
 */
int replay_file(const char *path, FILE *report, struct replay_summary *sum,
		char *err, size_t errlen);

#endif /* RAMM_SIM_REPLAY_H */
