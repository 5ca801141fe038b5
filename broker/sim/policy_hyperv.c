/* SPDX-License-Identifier: MIT */
/*
 * `hyperv`: Hyper-V Dynamic Memory.
 *
 * Written from Microsoft's "Hyper-V Dynamic Memory Overview" and the
 * Set-VMMemory reference (Buffer, Priority, Minimum/Startup/Maximum);
 * docs/SIM-POLICIES.md has the sources and every simplification.
 *
 * The guest reports its committed memory (its demand) every second and
 * the host balancer runs every second. Each VM is given its demand plus a
 * memory buffer, 20% of the demand by default, within [Minimum RAM,
 * Maximum RAM]. Memory is added at once when a VM is below that target and
 * removed gradually when it is above. When the host cannot give every VM
 * its target, higher memory weight (priority) is served first and the
 * buffers are the first thing to go.
 *
 * The rule we implement when memory is short (the docs give no formula):
 *   1. demand before buffer: VMs in order of weight, highest first (ties by
 *      index), each takes what it lacks of its demand from free memory, then
 *      from the buffers (memory above demand) of VMs of lower weight,
 *      lowest weight first;
 *   2. buffers: in the same order, from free memory only.
 * Removal (undocumented timing; our choice): a VM above its target gives
 * back 10% of the excess a second, at least one unit.
 *
 * In the sim: demand = used_mib + short_mib (committed memory includes what
 * the guest had to page out), weight = weight, Minimum RAM = floor_mib,
 * Startup RAM = static_mib, Maximum RAM = cap_mib.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "sim.h"

#define HV_BUFFER_PCT 20     /* memory buffer default, percent of demand */
#define HV_REMOVE_FRAC 0.10  /* share of the excess removed a second (ours) */

/* Per-run parameters; no state carries between seconds. */
struct hv_state {
	uint32_t buffer_pct; /* memory buffer, percent of demand (5..2000) */
	double remove_frac;  /* share of the excess removed a second */
};

static int hv_init(void **priv, const struct sim_scenario *sc)
{
	struct hv_state *st;

	(void)sc;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->buffer_pct = HV_BUFFER_PCT;
	st->remove_frac = HV_REMOVE_FRAC;
	*priv = st;
	return 0;
}

static void hv_fini(void *priv)
{
	free(priv);
}

static int64_t hv_clamp(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/*
 * Give VM @i what it lacks of @goal[i], from *@avail (free host memory)
 * and, when @steal, from the memory above @need of VMs of lower weight (the
 * tail of @order, taken from its end). O(n).
 */
static void hv_fill(size_t i, const int64_t *goal, const int64_t *need,
		    int64_t *next, int64_t *avail, const size_t *order,
		    size_t n, const struct sim_observation *obs, int steal)
{
	int64_t gap = goal[i] - next[i], take;

	if (gap <= 0)
		return;
	take = gap < *avail ? gap : *avail;
	next[i] += take;
	*avail -= take;
	gap -= take;
	for (size_t r = n; steal && gap > 0 && r-- > 0;) {
		size_t j = order[r];
		int64_t spare = next[j] - need[j];

		if (obs[j].weight >= obs[i].weight)
			break;
		if (spare <= 0)
			continue;
		take = gap < spare ? gap : spare;
		next[j] -= take;
		next[i] += take;
		gap -= take;
	}
}

static void hv_step(void *priv, const struct sim_scenario *sc, size_t t,
		    const struct sim_host *host,
		    const struct sim_observation *obs, uint32_t *next_mib)
{
	const struct hv_state *st = priv;
	size_t n = sc->n_guests, order[SIM_MAX_GUESTS];
	int64_t need[SIM_MAX_GUESTS], want[SIM_MAX_GUESTS];
	int64_t next[SIM_MAX_GUESTS], avail = host->host_mib;
	int64_t unit = sc->unit_mib ? sc->unit_mib : 1;

	(void)t;
	for (size_t g = 0; g < n; g++) {
		const struct sim_guest_spec *sp = &sc->guests[g];
		int64_t demand = (int64_t)obs[g].used_mib + obs[g].short_mib;
		int64_t lo = sp->floor_mib, hi = sp->cap_mib;
		int64_t buffered =
			demand + (demand * st->buffer_pct + 99) / 100;

		if (hi < lo)
			hi = lo;
		need[g] = hv_clamp(demand, lo, hi);
		want[g] = hv_clamp(buffered, lo, hi);
		next[g] = obs[g].alloc_mib;
		if (next[g] > want[g]) {
			int64_t excess = next[g] - want[g];
			int64_t step =
				(int64_t)((double)excess * st->remove_frac);

			if (step < unit)
				step = unit;
			next[g] -= step < excess ? step : excess;
		}
		avail -= next[g];
	}
	if (avail < 0)
		avail = 0;

	/* by weight, highest first; ties by index (insertion sort, O(n^2)) */
	for (size_t g = 0; g < n; g++) {
		size_t r = g;

		while (r > 0 && obs[order[r - 1]].weight < obs[g].weight) {
			order[r] = order[r - 1];
			r--;
		}
		order[r] = g;
	}
	for (size_t r = 0; r < n; r++)
		hv_fill(order[r], need, need, next, &avail, order, n, obs, 1);
	for (size_t r = 0; r < n; r++)
		hv_fill(order[r], want, need, next, &avail, order, n, obs, 0);

	for (size_t g = 0; g < n; g++)
		next_mib[g] = (uint32_t)hv_clamp(next[g],
						 sc->guests[g].floor_mib,
						 sc->guests[g].cap_mib);
}

const struct sim_policy_ops sim_policy_hyperv = {
	.name = "hyperv",
	.summary = "Hyper-V Dynamic Memory: demand + 20% buffer, weight "
		   "priority",
	.init = hv_init,
	.step = hv_step,
	.fini = hv_fini,
};
