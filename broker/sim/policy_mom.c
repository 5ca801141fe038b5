/* SPDX-License-Identifier: MIT */
/*
 * `mom`: oVirt MoM (Memory Overcommitment Manager) with its balloon rules.
 *
 * Written from oVirt/mom doc/balloon.rules (the same rules vdsm ships as
 * mom.d/02-balloon.policy) and doc/mom-balloon.conf; docs/SIM-POLICIES.md
 * has the sources and every simplification. The monitors sample every 5 s
 * and keep the last 10 samples; every 10 s the policy engine evaluates:
 *
 *   host_free = avg(host mem_free) / host mem_available
 *   host_free < 20%: shrink every guest, at most 5% of balloon_cur a cycle,
 *       not below max(balloon_min, used + guest_free * balloon_cur), where
 *       guest_free = 20% * host_free / 20% (host_free - 5% when at or below
 *       the 5% critical level, so the guest is pushed to swap);
 *   otherwise: grow every ballooned guest by 5% of balloon_cur, at least to
 *       used + 20% of balloon_cur, at most to balloon_max;
 *   used = avg(balloon_cur) - avg(mem_unused); changes of no more than
 *   0.25% of balloon_cur are skipped.
 *
 * In the sim: mem_available = host_mib, mem_free = host_mib - sum(alloc),
 * balloon_cur = alloc_mib, mem_unused = free_mib, balloon_min = floor_mib,
 * balloon_max = static_mib (the domain's configured memory).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "sim.h"

#define MOM_MONITOR_S 5      /* host- and guest-monitor-interval */
#define MOM_POLICY_S 10      /* policy-engine-interval */
#define MOM_HISTORY 10       /* sample-history-length */
#define MOM_PRESSURE 0.20    /* pressure_threshold */
#define MOM_CRITICAL 0.05    /* pressure_critical */
#define MOM_GUEST_FREE 0.20  /* min_guest_free_percent */
#define MOM_MAX_CHANGE 0.05  /* max_balloon_change_percent */
#define MOM_MIN_CHANGE 0.0025 /* min_balloon_change_percent */

/* The monitors' sample history: a ring of the last MOM_HISTORY samples. */
struct mom_state {
	double host_free[MOM_HISTORY];             /* host mem_free, MiB */
	double cur[SIM_MAX_GUESTS][MOM_HISTORY];    /* balloon_cur, MiB */
	double unused[SIM_MAX_GUESTS][MOM_HISTORY]; /* mem_unused, MiB */
	size_t count; /* samples held, <= MOM_HISTORY; slots 0..count-1 */
	size_t head;  /* next slot to write */
};

static int mom_init(void **priv, const struct sim_scenario *sc)
{
	struct mom_state *st;

	(void)sc;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	*priv = st;
	return 0;
}

static void mom_fini(void *priv)
{
	free(priv);
}

/* Entity.StatAvg: the mean of the samples held in the ring @v. */
static double mom_avg(const struct mom_state *st, const double *v)
{
	double sum = 0;

	for (size_t i = 0; i < st->count; i++)
		sum += v[i];
	return st->count ? sum / (double)st->count : 0;
}

/*
 * One guest's new balloon target, or @cur when the rules set none. O(1)
 * apart from the O(history) averages.
 */
static double mom_guest(const struct mom_state *st, size_t g, double cur,
			double bmin, double bmax, double host_free)
{
	double used = mom_avg(st, st->cur[g]) - mom_avg(st, st->unused[g]);
	double lo, size, gfree;

	if (host_free < MOM_PRESSURE) { /* shrink_guest */
		if (host_free <= MOM_CRITICAL)
			gfree = -0.05 + host_free;
		else
			gfree = MOM_GUEST_FREE * (host_free / MOM_PRESSURE);
		lo = used + gfree * cur;
		if (lo < bmin)
			lo = bmin;
		size = cur * (1 - MOM_MAX_CHANGE);
		if (size < lo)
			size = lo;
		if (size > cur)
			return cur;
	} else { /* grow_guest */
		if (cur >= bmax)
			return cur;
		lo = used + MOM_GUEST_FREE * cur;
		if (lo < bmin)
			lo = bmin;
		size = cur * (1 + MOM_MAX_CHANGE);
		if (size < lo)
			size = lo;
		if (size > bmax)
			size = bmax;
	}
	/* change_big_enough: |size - cur| > 0.25% of cur */
	if ((size > cur ? size - cur : cur - size) <= MOM_MIN_CHANGE * cur)
		return cur;
	return size;
}

static void mom_step(void *priv, const struct sim_scenario *sc, size_t t,
		     const struct sim_host *host,
		     const struct sim_observation *obs, uint32_t *next_mib)
{
	struct mom_state *st = priv;
	size_t n = sc->n_guests;
	double host_free;

	for (size_t g = 0; g < n; g++)
		next_mib[g] = obs[g].alloc_mib;

	if (t % MOM_MONITOR_S == MOM_MONITOR_S - 1) {
		double free_mib = (double)host->host_mib -
				  (double)host->alloc_mib;

		st->host_free[st->head] = free_mib > 0 ? free_mib : 0;
		for (size_t g = 0; g < n; g++) {
			st->cur[g][st->head] = obs[g].alloc_mib;
			st->unused[g][st->head] = obs[g].free_mib;
		}
		st->head = (st->head + 1) % MOM_HISTORY;
		if (st->count < MOM_HISTORY)
			st->count++;
	}
	if (t % MOM_POLICY_S != MOM_POLICY_S - 1 || !st->count ||
	    !host->host_mib)
		return;

	host_free = mom_avg(st, st->host_free) / (double)host->host_mib;
	for (size_t g = 0; g < n; g++) {
		const struct sim_guest_spec *sp = &sc->guests[g];
		double bmax = sp->static_mib < sp->cap_mib ? sp->static_mib
							   : sp->cap_mib;
		double v = mom_guest(st, g, obs[g].alloc_mib, sp->floor_mib,
				     bmax, host_free);

		if (v < sp->floor_mib)
			v = sp->floor_mib;
		if (v > sp->cap_mib)
			v = sp->cap_mib;
		next_mib[g] = (uint32_t)v;
	}
}

const struct sim_policy_ops sim_policy_mom = {
	.name = "mom",
	.summary = "oVirt MoM balloon.rules: shrink under 20% host free, "
		   "5%/10 s steps",
	.init = mom_init,
	.step = mom_step,
	.fini = mom_fini,
};
