/* SPDX-License-Identifier: MIT */
/* ramm-sim's metrics; the definitions are in docs/SIMULATOR.md. */
#include <string.h>

#include "metrics.h"

#define MIB_PER_GIB 1024.0

void sim_metrics_begin(struct sim_metrics *m, const struct sim_scenario *sc)
{
	memset(m, 0, sizeof(*m));
	m->n_guests = sc->n_guests;
}

void sim_metrics_step(struct sim_metrics *m, const struct sim_scenario *sc,
		      size_t t, const uint32_t *alloc_mib)
{
	const uint32_t *wss = sc->wss_mib + t * sc->n_guests;
	const uint32_t *weight = sc->weight + t * sc->n_guests;
	uint64_t floors = 0, statics = 0, allocs = 0, shorts = 0, weights = 0;
	double spare;

	for (size_t g = 0; g < sc->n_guests; g++) {
		floors += sc->guests[g].floor_mib;
		statics += sc->guests[g].static_mib;
		weights += weight[g];
	}
	spare = (double)(sc->host_mib - floors);
	for (size_t g = 0; g < sc->n_guests; g++) {
		struct sim_guest_metrics *gm = &m->guest[g];
		uint32_t a = alloc_mib[g], w = wss[g];
		uint32_t lack = w > a ? w - a : 0;

		allocs += a;
		shorts += lack;
		gm->alloc_sum += a;
		gm->backing_sum += sim_backing_mib(&sc->guests[g], a);
		gm->short_sum += lack;
		gm->satisfied_sum += w > a ? (double)a / w : 1.0;
		if (spare > 0 && a > sc->guests[g].floor_mib)
			gm->share_sum += (a - sc->guests[g].floor_mib) / spare;
		gm->weight_share_sum += (double)weight[g] / (double)weights;
		gm->weight_sum += weight[g];
		if (t > 0 && a != gm->prev_alloc) {
			m->churn_sum += a > gm->prev_alloc ? a - gm->prev_alloc :
				       gm->prev_alloc - a;
			m->last_move_s = t;
		}
		gm->prev_alloc = a;
		if ((uint64_t)a * 100 < (uint64_t)w * SIM_OOM_RISK_PCT) {
			if (++gm->risk_run == SIM_OOM_RISK_SECONDS + 1)
				gm->oom_risk_events++;
		} else {
			gm->risk_run = 0;
		}
	}
	m->short_sum += shorts;
	if (shorts > m->peak_short)
		m->peak_short = shorts;
	m->saved_sum += ((double)statics - (double)allocs) / (double)statics;
	m->seconds++;
}

void sim_metrics_end(struct sim_metrics *m, const struct sim_scenario *sc)
{
	double n = (double)m->seconds, sw = 0, swx = 0, swx2 = 0, allocs = 0;
	double backing = 0;

	for (size_t g = 0; g < sc->n_guests; g++) {
		struct sim_guest_metrics *gm = &m->guest[g];
		double w = gm->weight_sum / n;

		gm->mean_alloc_mib = (double)gm->alloc_sum / n;
		gm->mean_backing_mib = (double)gm->backing_sum / n;
		gm->satisfied = gm->satisfied_sum / n;
		gm->share = gm->share_sum / n;
		gm->weight_share = gm->weight_share_sum / n;
		gm->shortfall_gib_s = (double)gm->short_sum / MIB_PER_GIB;
		m->oom_risk_events += gm->oom_risk_events;
		allocs += gm->mean_alloc_mib;
		backing += gm->mean_backing_mib;
		sw += w;
		swx += w * gm->satisfied;
		swx2 += w * gm->satisfied * gm->satisfied;
	}
	m->shortfall_gib_s = (double)m->short_sum / MIB_PER_GIB;
	m->peak_shortfall_gib = (double)m->peak_short / MIB_PER_GIB;
	m->saved_pct = 100.0 * m->saved_sum / n;
	m->churn_gib = (double)m->churn_sum / MIB_PER_GIB;
	m->mean_alloc_gib = allocs / MIB_PER_GIB;
	m->freed_gib = (sc->host_mib - allocs) / MIB_PER_GIB;
	m->freed_whole_gib = (sc->host_mib - backing) / MIB_PER_GIB;
	/* Nobody satisfied at all is as fair as everybody satisfied. */
	m->fairness = swx2 > 0 ? swx * swx / (sw * swx2) : 1.0;
}
