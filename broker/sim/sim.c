/* SPDX-License-Identifier: MIT */
/* ramm-sim's runner: one policy over one scenario, the model in sim.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "sim.h"

const struct sim_policy_ops *const sim_policies[SIM_N_POLICIES] = {
	&sim_policy_static, &sim_policy_proxmox, &sim_policy_mom,
	&sim_policy_esx,    &sim_policy_hyperv,  &sim_policy_ramm,   &sim_policy_oracle,
};

const struct sim_policy_ops *sim_policy_find(const char *name)
{
	for (size_t i = 0; i < SIM_N_POLICIES; i++)
		if (!strcmp(sim_policies[i]->name, name))
			return sim_policies[i];
	return NULL;
}

size_t sim_pools(const struct sim_scenario *sc, struct sim_pool *pools)
{
	uint64_t huge = 0;
	size_t n = 0, ordinary = SIM_MAX_POOLS;

	for (size_t g = 0; g < sc->n_guests; g++) {
		const struct sim_guest_spec *s = &sc->guests[g];
		size_t p = 0;

		while (p < n && pools[p].page_mib != s->page_mib)
			p++;
		if (p == n) {
			pools[n++] = (struct sim_pool){ .page_mib = s->page_mib };
			if (!s->page_mib)
				ordinary = p;
		}
		if (s->page_mib) {
			pools[p].size_mib += s->static_mib;
			huge += s->static_mib;
		}
	}
	/* Whatever the huge page reserves leave is ordinary memory. */
	if (ordinary < n)
		pools[ordinary].size_mib = sc->host_mib - huge;
	return n;
}

uint64_t sim_backing_mib(const struct sim_guest_spec *s, uint32_t alloc_mib)
{
	if (!s->page_mib)
		return alloc_mib;
	return ((uint64_t)alloc_mib + s->page_mib - 1) / s->page_mib * s->page_mib;
}

/*
 * sim_limit()'s scale-back in one pool: @want holds each guest's growth in
 * units (clamped and rounded); only guests of @pool's page size are read
 * or written.
 */
static void limit_pool(const struct sim_scenario *sc, const struct sim_pool *pool,
		       const uint32_t *cur_mib, uint32_t *next_mib,
		       uint32_t *want)
{
	uint64_t kept = 0, grow = 0, room, left;
	uint32_t unit = sc->unit_mib;
	size_t n = sc->n_guests;

	for (size_t g = 0; g < n; g++) {
		if (sc->guests[g].page_mib != pool->page_mib)
			continue;
		kept += next_mib[g] < cur_mib[g] ? next_mib[g] : cur_mib[g];
		grow += want[g];
	}
	if (kept + grow * unit <= pool->size_mib)
		return;
	/* Growth does not fit: each grower gets its share of the room. */
	room = kept < pool->size_mib ? (pool->size_mib - kept) / unit : 0;
	left = room;
	for (size_t g = 0; g < n; g++) {
		uint64_t give;

		if (!want[g] || sc->guests[g].page_mib != pool->page_mib)
			continue;
		give = (uint64_t)want[g] * room / grow;
		next_mib[g] = cur_mib[g] + (uint32_t)give * unit;
		want[g] -= (uint32_t)give;
		left -= give;
	}
	/* Rounding left fewer units than growers: one each, in order. */
	for (size_t g = 0; g < n && left; g++) {
		if (!want[g] || sc->guests[g].page_mib != pool->page_mib)
			continue;
		next_mib[g] += unit;
		left--;
	}
}

void sim_limit(const struct sim_scenario *sc, const uint32_t *cur_mib,
	       uint32_t *next_mib)
{
	uint32_t want[SIM_MAX_GUESTS]; /* units each guest asks to grow */
	struct sim_pool pools[SIM_MAX_POOLS];
	uint32_t unit = sc->unit_mib;
	size_t n_pools = sim_pools(sc, pools);

	for (size_t g = 0; g < sc->n_guests; g++) {
		const struct sim_guest_spec *s = &sc->guests[g];
		uint32_t v = next_mib[g];

		v = v < s->floor_mib ? s->floor_mib : v > s->cap_mib ? s->cap_mib : v;
		v = s->floor_mib + (v - s->floor_mib) / unit * unit;
		next_mib[g] = v;
		want[g] = v > cur_mib[g] ? (v - cur_mib[g]) / unit : 0;
	}
	for (size_t p = 0; p < n_pools; p++)
		limit_pool(sc, &pools[p], cur_mib, next_mib, want);
}

int sim_run(const struct sim_scenario *sc, const struct sim_policy_ops *ops,
	    struct sim_metrics *m, uint32_t *history, size_t stride)
{
	size_t n = sc->n_guests;
	uint32_t *alloc = calloc(n, sizeof(*alloc));
	uint32_t *next = calloc(n, sizeof(*next));
	struct sim_observation *obs = calloc(n, sizeof(*obs));
	void *priv = NULL;
	int ret = -ENOMEM;

	if (!alloc || !next || !obs)
		goto out;
	ret = ops->init(&priv, sc);
	if (ret)
		goto out;
	for (size_t g = 0; g < n; g++)
		alloc[g] = sc->guests[g].static_mib;
	sim_metrics_begin(m, sc);
	for (size_t t = 0; t < sc->n_seconds; t++) {
		const uint32_t *wss = sc->wss_mib + t * n;
		struct sim_host host = { .host_mib = sc->host_mib };
		uint32_t *swap;

		sim_metrics_step(m, sc, t, alloc);
		if (history && t % stride == 0)
			memcpy(history + t / stride * n, alloc, n * sizeof(*alloc));
		if (t + 1 == sc->n_seconds)
			break;
		for (size_t g = 0; g < n; g++) {
			uint32_t used = wss[g] < alloc[g] ? wss[g] : alloc[g];

			obs[g] = (struct sim_observation){
				.alloc_mib = alloc[g],
				.used_mib = used,
				.free_mib = alloc[g] - used,
				.short_mib = wss[g] - used,
				.weight = sc->weight[t * n + g],
			};
			host.alloc_mib += alloc[g];
		}
		/* A policy that leaves a guest out keeps its allocation. */
		memcpy(next, alloc, n * sizeof(*next));
		ops->step(priv, sc, t, &host, obs, next);
		sim_limit(sc, alloc, next);
		swap = alloc;
		alloc = next;
		next = swap;
	}
	sim_metrics_end(m, sc);
	ops->fini(priv);
out:
	free(obs);
	free(next);
	free(alloc);
	return ret;
}
