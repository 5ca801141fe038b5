/* SPDX-License-Identifier: MIT */
/*
 * ramm-sim's metrics: how well a run's allocations met the working sets.
 * Fed one second at a time (sim_metrics_step()), so a run needs no history.
 * docs/SIMULATOR.md, "Metrics", defines each one.
 */
#ifndef RAMM_SIM_METRICS_H
#define RAMM_SIM_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "sim.h"

/* A guest below this share of its working set (%) is at risk ... */
#define SIM_OOM_RISK_PCT 90u
/* ... once it has been so for more than this many seconds in a row. */
#define SIM_OOM_RISK_SECONDS 5u

struct sim_guest_metrics {
	double mean_alloc_mib; /* time-mean allocation */
	double mean_backing_mib; /* time-mean of sim_backing_mib(): the
				  * allocation in whole backing pages */
	double satisfied;      /* time-mean of min(1, alloc / wss) */
	double share;          /* time-mean of (alloc - floor) /
				* (host - sum of floors): its memory share */
	double weight_share;   /* time-mean of weight / sum of weights */
	double shortfall_gib_s; /* its part of the shortfall */
	uint32_t oom_risk_events;

	/* Running state, for sim_metrics_step() only. */
	uint64_t alloc_sum;   /* MiB.s */
	uint64_t backing_sum; /* MiB.s */
	uint64_t short_sum;   /* MiB.s */
	double satisfied_sum;
	double share_sum;
	double weight_share_sum;
	double weight_sum;    /* sum over t of its weight */
	uint32_t prev_alloc;  /* allocation in the previous second */
	uint32_t risk_run;    /* seconds in a row below SIM_OOM_RISK_PCT */
};

struct sim_metrics {
	size_t seconds;           /* seconds judged */
	double shortfall_gib_s;   /* sum over t, g of max(0, wss - alloc) */
	double peak_shortfall_gib; /* max over t of the sum over g */
	uint32_t oom_risk_events; /* episodes, all guests */
	double saved_pct;         /* time-mean of (static - alloc) / static */
	double churn_gib;         /* sum of |alloc(t+1) - alloc(t)| */
	size_t last_move_s;       /* the last second whose allocations differ
				   * from the second before (0: none did):
				   * after it, the allocations had settled */
	double fairness;          /* weighted Jain's index of satisfied */
	double mean_alloc_gib;    /* time-mean of the sum of allocations */
	double freed_gib;         /* time-mean of host - sum of allocations:
				   * the nominal figure */
	double freed_whole_gib;   /* time-mean of host - sum of allocations
				   * in whole backing pages: what the host
				   * actually gets back (below 0: the
				   * allocations do not fit in whole pages) */
	size_t n_guests;
	struct sim_guest_metrics guest[SIM_MAX_GUESTS];

	/* Running state, for sim_metrics_step() only. */
	uint64_t short_sum;  /* MiB.s */
	uint64_t peak_short; /* MiB */
	uint64_t churn_sum;  /* MiB */
	double saved_sum;
};

/* sim_metrics_begin - reset @m (caller-owned) for a run of @sc. O(n). */
void sim_metrics_begin(struct sim_metrics *m, const struct sim_scenario *sc);

/*
 * sim_metrics_step - judge second @t: @alloc_mib (n_guests entries, read
 * only) are the allocations in force during t, against wss[t]. Call for
 * t = 0, 1, ... in order. Never fails; O(n_guests).
 */
void sim_metrics_step(struct sim_metrics *m, const struct sim_scenario *sc,
		      size_t t, const uint32_t *alloc_mib);

/*
 * sim_metrics_end - turn the running sums into the results. Call once,
 * after at least one step. Never fails; O(n_guests).
 */
void sim_metrics_end(struct sim_metrics *m, const struct sim_scenario *sc);

#endif /* RAMM_SIM_METRICS_H */
