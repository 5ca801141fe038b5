/* SPDX-License-Identifier: MIT */
/*
 * `proxmox`: Proxmox VE auto-ballooning, as pvestatd runs it.
 *
 * Written from pve-manager's PVE/AutoBalloon.pm (compute_alg1) and
 * PVE/Service/pvestatd.pm (auto_balloning); docs/SIM-POLICIES.md has the
 * sources and every simplification. Every 10 s pvestatd asks for the
 * change that brings host memory use to 80%:
 *
 *   goal = int(memtotal * 0.8 - memused)
 *
 * and, if |goal| > 10 MiB, splits it over the ballooned VMs in proportion
 * to their shares, each VM's wanted size being
 *
 *   desired = balloon_min + (sum(balloon - balloon_min) + rest) * shares
 *                           / sum(shares)
 *
 * clamped to [balloon_min, maxmem] and reached by at most 100 MiB a cycle.
 * A VM that is clamped or reaches its desired size leaves the round and the
 * rest is split again among the others (the redistribution). Growth goes
 * first to VMs under pressure, shrinking first to VMs with free memory.
 *
 * In the sim: memtotal = host_mib, memused = the sum of allocations,
 * balloon = alloc_mib, freemem = free_mib, shares = weight,
 * balloon_min = floor_mib, maxmem = static_mib (the configured memory,
 * which a balloon cannot pass). All in MiB.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "sim.h"

#define PVE_CYCLE_S 10          /* pvestatd's $updatetime */
#define PVE_MAXCHANGE_MIB 100   /* $maxchange: 100 MiB per VM per cycle */
#define PVE_GOAL_MIN_MIB 10     /* |goal| at or below this: do nothing */
#define PVE_TARGET_USE 0.8      /* try to use ~80% of host memory */
#define PVE_MAX_ROUNDS 1000     /* bound on change_func's loop (ours) */

/* Scratch for one cycle; everything is indexed by guest. */
struct pve_state {
	int64_t balloon[SIM_MAX_GUESTS]; /* current size (alloc_mib) */
	int64_t min[SIM_MAX_GUESTS];     /* balloon_min (floor_mib) */
	int64_t max[SIM_MAX_GUESTS];     /* maxmem (static_mib) */
	int64_t shares[SIM_MAX_GUESTS];  /* shares (weight) */
	int64_t res[SIM_MAX_GUESTS];     /* proposed size, valid if has_res */
	int has_res[SIM_MAX_GUESTS];     /* res[] set this cycle */
	int done[SIM_MAX_GUESTS];        /* left the current change_func */
	size_t all[SIM_MAX_GUESTS];      /* @$idlist: ballooned VMs */
	size_t press[SIM_MAX_GUESTS];    /* @$idlist1: VMs under pressure */
	size_t roomy[SIM_MAX_GUESTS];    /* @$idlist2: VMs with free memory */
};

static int pve_init(void **priv, const struct sim_scenario *sc)
{
	struct pve_state *st;

	(void)sc;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	*priv = st;
	return 0;
}

static void pve_fini(void *priv)
{
	free(priv);
}

static int64_t pve_current(const struct pve_state *st, size_t g)
{
	return st->has_res[g] ? st->res[g] : st->balloon[g];
}

/*
 * change_func: move up to @bytes (MiB; > 0 grows, < 0 shrinks) among the
 * @n VMs of @list, shares-weighted, each by at most PVE_MAXCHANGE_MIB from
 * its size at the start of the cycle. Returns what could not be placed.
 * O(n) a round; rounds end when nothing moves.
 */
static int64_t pve_change(struct pve_state *st, const size_t *list, size_t n,
			  int64_t bytes)
{
	int64_t rest = bytes;
	int repeat = 1, progress = 1, rounds = 0;

	for (size_t i = 0; i < n; i++)
		st->done[list[i]] = 0;
	while (rest && repeat && progress && rounds++ < PVE_MAX_ROUNDS) {
		int64_t shares_total = 0, alloc_old = 0, changes = 0;

		repeat = 0;
		progress = 0;
		for (size_t i = 0; i < n; i++) {
			size_t g = list[i];

			if (st->done[g])
				continue;
			alloc_old += pve_current(st, g) - st->min[g];
			shares_total += st->shares[g];
		}
		if (shares_total == 0)
			break;
		for (size_t i = 0; i < n; i++) {
			size_t g = list[i];
			int64_t desired, moved, diff, change;

			if (st->done[g])
				continue;
			desired = st->min[g] +
				  (int64_t)((double)(alloc_old + rest) /
					    (double)shares_total *
					    (double)st->shares[g]);
			if (desired > st->max[g]) {
				desired = st->max[g];
				repeat = 1;
			} else if (desired < st->min[g]) {
				desired = st->min[g];
				repeat = 1;
			}
			if (bytes > 0 && desired > st->balloon[g]) {
				moved = st->balloon[g] + PVE_MAXCHANGE_MIB;
				if (moved > desired)
					moved = desired;
			} else if (desired < st->balloon[g]) {
				moved = st->balloon[g] - PVE_MAXCHANGE_MIB;
				if (moved < desired)
					moved = desired;
			} else {
				st->done[g] = 1;
				continue;
			}
			diff = moved - st->balloon[g];
			if (diff == 0)
				continue;
			change = moved - pve_current(st, g);
			st->res[g] = moved;
			st->has_res[g] = 1;
			if (change != 0) {
				changes += change;
				progress = 1;
				repeat = 1;
			}
		}
		rest -= changes;
	}
	return rest;
}

static void pve_step(void *priv, const struct sim_scenario *sc, size_t t,
		     const struct sim_host *host,
		     const struct sim_observation *obs, uint32_t *next_mib)
{
	struct pve_state *st = priv;
	size_t n = sc->n_guests, n_all = 0, n_press = 0, n_roomy = 0;
	int64_t goal;

	for (size_t g = 0; g < n; g++)
		next_mib[g] = obs[g].alloc_mib;
	if (t % PVE_CYCLE_S != PVE_CYCLE_S - 1)
		return;

	goal = (int64_t)((double)host->host_mib * PVE_TARGET_USE -
			 (double)host->alloc_mib);
	for (size_t g = 0; g < n; g++) {
		const struct sim_guest_spec *sp = &sc->guests[g];

		st->balloon[g] = obs[g].alloc_mib;
		st->min[g] = sp->floor_mib;
		st->max[g] = sp->static_mib < sp->cap_mib ? sp->static_mib
							  : sp->cap_mib;
		if (st->max[g] < st->min[g])
			st->max[g] = st->min[g];
		st->shares[g] = obs[g].weight;
		st->has_res[g] = 0;
		/* no balloon minimum or zero shares: not auto-ballooned */
		if (!st->min[g] || !st->shares[g])
			continue;
		st->all[n_all++] = g;
		if (obs[g].free_mib &&
		    (double)obs[g].free_mib > (double)st->min[g] * 0.25 &&
		    st->balloon[g] >= st->min[g])
			st->roomy[n_roomy++] = g;
		else
			st->press[n_press++] = g;
	}

	if (goal > PVE_GOAL_MIN_MIB) {
		int64_t rest = pve_change(st, st->press, n_press, goal);

		if (rest >= goal) /* no progress: consider all VMs */
			pve_change(st, st->all, n_all, rest);
	} else if (goal < -PVE_GOAL_MIN_MIB) {
		int64_t rest = pve_change(st, st->roomy, n_roomy, goal);

		if (rest <= goal)
			pve_change(st, st->all, n_all, rest);
	}

	for (size_t i = 0; i < n_all; i++) {
		size_t g = st->all[i];
		int64_t v = st->has_res[g] ? st->res[g] : st->balloon[g];

		if (v < (int64_t)sc->guests[g].floor_mib)
			v = sc->guests[g].floor_mib;
		if (v > (int64_t)sc->guests[g].cap_mib)
			v = sc->guests[g].cap_mib;
		next_mib[g] = (uint32_t)v;
	}
}

const struct sim_policy_ops sim_policy_proxmox = {
	.name = "proxmox",
	.summary = "Proxmox VE auto-ballooning: host to 80%, 100 MiB/VM/10 s, "
		   "shares",
	.init = pve_init,
	.step = pve_step,
	.fini = pve_fini,
};
