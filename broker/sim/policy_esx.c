/* SPDX-License-Identifier: MIT */
/*
 * `esx`: VMware ESX Server's proportional shares with an idle memory tax.
 *
 * Written from C. A. Waldspurger, "Memory Resource Management in VMware ESX
 * Server", OSDI 2002, sections 5 and 6; docs/SIM-POLICIES.md has the
 * sources and every simplification.
 *
 * Shares: when memory is short, ESX reclaims from the VM with the lowest
 * adjusted shares-per-page ratio (min-funding revocation)
 *
 *   rho = S / (P * (f + k * (1 - f))),  k = 1 / (1 - tau),  tau = 0.75
 *
 * for S shares, P pages allocated of which a fraction f is active: idle
 * pages cost k = 4 times as much as active ones. Reclaiming from the lowest
 * rho until memory fits levels rho; we solve for that level directly (a
 * bisection on 1/rho) instead of page by page.
 *
 * Contention: VMs get their configured size unless memory is overcommitted;
 * targets then drive free memory above the "high" threshold, 6% of memory.
 *
 * Active memory: sampled each 30 s period; the estimate is the maximum of a
 * slow and a fast exponentially weighted moving average and of the fast one
 * updated with the current period's count so far, so it rises at once and
 * falls slowly.
 *
 * In the sim: S = weight, P = alloc_mib, the sampled fraction is
 * used_mib / alloc_mib (the host sees which pages are touched, not the
 * demand that does not fit), min = floor_mib, max = static_mib.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "sim.h"

#define ESX_TAU 0.75        /* Mem.IdleTax default */
#define ESX_PERIOD_S 30     /* sampling period (MemSamplePeriod) */
#define ESX_GAIN_SLOW 0.25  /* slow EWMA gain per period (ours) */
#define ESX_GAIN_FAST 0.75  /* fast EWMA gain per period (ours) */
#define ESX_HIGH_FREE 0.06  /* "high" free memory threshold */
#define ESX_BISECT 64       /* bisection rounds on the level */

/* The working-set estimator of each VM. */
struct esx_state {
	double slow[SIM_MAX_GUESTS];    /* slow EWMA of the active fraction */
	double fast[SIM_MAX_GUESTS];    /* fast EWMA of the active fraction */
	double touched[SIM_MAX_GUESTS]; /* fraction touched this period */
	int primed[SIM_MAX_GUESTS];     /* averages seeded from a sample */
};

static int esx_init(void **priv, const struct sim_scenario *sc)
{
	struct esx_state *st;

	(void)sc;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	*priv = st;
	return 0;
}

static void esx_fini(void *priv)
{
	free(priv);
}

/*
 * The adjusted shares-per-page ratio of @shares over @pages of which
 * @active are in use (active above @pages count as @pages).
 */
static double esx_rho(double shares, double pages, double active, double k)
{
	double in_use = active < pages ? active : pages;
	double cost = in_use + k * (pages - in_use);

	return cost > 0 ? shares / cost : 1e300;
}

/*
 * The pages a VM holds when reclaim has brought every ratio down to
 * 1 / @level: the P with rho(P) = 1 / level, within [lo, hi].
 */
static double esx_pages_at(double level, double shares, double active,
			   double k, double lo, double hi)
{
	double budget = level * shares, p;

	p = budget <= active ? budget : active + (budget - active) / k;
	return p < lo ? lo : p > hi ? hi : p;
}

/*
 * Feed guest @g's second into its estimator; returns the active fraction
 * estimate, max(slow, fast, fast with this period so far). O(1).
 */
static double esx_estimate(struct esx_state *st, size_t g,
			   const struct sim_observation *o, int period_end)
{
	double f = o->alloc_mib ? (double)o->used_mib / o->alloc_mib : 0;
	double cur, est;

	if (!st->primed[g]) {
		st->slow[g] = st->fast[g] = f;
		st->primed[g] = 1;
	}
	if (f > st->touched[g])
		st->touched[g] = f;
	cur = st->fast[g] + ESX_GAIN_FAST * (st->touched[g] - st->fast[g]);
	est = st->slow[g] > st->fast[g] ? st->slow[g] : st->fast[g];
	if (cur > est)
		est = cur;
	if (period_end) {
		st->slow[g] += ESX_GAIN_SLOW * (st->touched[g] - st->slow[g]);
		st->fast[g] = cur;
		st->touched[g] = 0;
	}
	return est > 1 ? 1 : est;
}

static void esx_step(void *priv, const struct sim_scenario *sc, size_t t,
		     const struct sim_host *host,
		     const struct sim_observation *obs, uint32_t *next_mib)
{
	struct esx_state *st = priv;
	const double k = 1 / (1 - ESX_TAU);
	size_t n = sc->n_guests;
	int period_end = t % ESX_PERIOD_S == ESX_PERIOD_S - 1;
	double active[SIM_MAX_GUESTS], lo[SIM_MAX_GUESTS], hi[SIM_MAX_GUESTS];
	double supply, sum_lo = 0, sum_hi = 0, l0 = 0, l1 = 0;

	supply = (double)host->host_mib * (1 - ESX_HIGH_FREE);
	for (size_t g = 0; g < n; g++) {
		const struct sim_guest_spec *sp = &sc->guests[g];

		active[g] = esx_estimate(st, g, &obs[g], period_end) *
			    obs[g].alloc_mib;
		hi[g] = sp->static_mib < sp->cap_mib ? sp->static_mib
						     : sp->cap_mib;
		lo[g] = sp->floor_mib < hi[g] ? sp->floor_mib : hi[g];
		sum_lo += lo[g];
		sum_hi += hi[g];
		/* the level at which this VM would keep its maximum */
		if (obs[g].weight) {
			double l = 1 / esx_rho(obs[g].weight, hi[g],
					       active[g], k);

			if (l > l1)
				l1 = l;
		}
	}

	if (sum_hi <= supply) {
		/* no contention: every VM has its configured size */
		for (size_t g = 0; g < n; g++)
			next_mib[g] = (uint32_t)hi[g];
		return;
	}
	if (sum_lo < supply) {
		for (int i = 0; i < ESX_BISECT; i++) {
			double mid = (l0 + l1) / 2, sum = 0;

			for (size_t g = 0; g < n; g++)
				sum += esx_pages_at(mid, obs[g].weight,
						    active[g], k, lo[g], hi[g]);
			if (sum <= supply)
				l0 = mid;
			else
				l1 = mid;
		}
	} /* else everyone is down to its minimum: l0 = 0 */
	for (size_t g = 0; g < n; g++) {
		double p = esx_pages_at(l0, obs[g].weight, active[g], k, lo[g],
					hi[g]);

		next_mib[g] = (uint32_t)(p + 1e-9);
		if (next_mib[g] < sc->guests[g].floor_mib)
			next_mib[g] = sc->guests[g].floor_mib;
	}
}

const struct sim_policy_ops sim_policy_esx = {
	.name = "esx",
	.summary = "VMware ESX shares with idle memory tax (tau 0.75), "
		   "reclaim to 6% free",
	.init = esx_init,
	.step = esx_step,
	.fini = esx_fini,
};
