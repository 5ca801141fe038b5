/* SPDX-License-Identifier: MIT */
/*
 * ramm-sim's output: the table, --json and --svg. Each writes to a stream
 * the caller owns and returns 0, or -EIO if the stream reports an error.
 */
#ifndef RAMM_SIM_REPORT_H
#define RAMM_SIM_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "metrics.h"
#include "sim.h"

/* One policy's run. Everything is the caller's and only read. */
struct sim_report_row {
	const char *policy;
	const struct sim_metrics *m;
	const uint32_t *history; /* sim_run()'s history, or NULL */
};

/* Where a scenario came from, for the headings, and the yardstick. */
struct sim_report_source {
	const char *trace; /* the trace, or NULL for a built-in scenario */
	uint64_t seed;     /* a built-in scenario's seed */
	const struct sim_metrics *oracle; /* the oracle's run over the same
					   * scenario: each row's excess
					   * shortfall is measured from it */
};

/* sim_report_table - a heading and a row per policy, aligned. O(n). */
int sim_report_table(FILE *f, const struct sim_scenario *sc,
		     const struct sim_report_source *src,
		     const struct sim_report_row *rows, size_t n);

/*
 * sim_report_json - one JSON object: scenario, seconds, host and guests,
 * and a "policies" array with each row's metrics and per-guest results
 * (docs/SIMULATOR.md lists the fields). O(n * n_guests).
 */
int sim_report_json(FILE *f, const struct sim_scenario *sc,
		    const struct sim_report_source *src,
		    const struct sim_report_row *rows, size_t n);

/*
 * sim_report_svg - a standalone SVG with one panel per row: each guest's
 * allocation (solid) and working set (dashed) over time, on one scale.
 * Every row needs a history taken with @stride. O(n * samples * guests).
 */
int sim_report_svg(FILE *f, const struct sim_scenario *sc,
		   const struct sim_report_row *rows, size_t n, size_t stride);

#endif /* RAMM_SIM_REPORT_H */
