/* SPDX-License-Identifier: MIT */
/* ramm-sim's runner: one policy over one scenario, the model in sim.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "sim.h"

const struct sim_policy_ops *const sim_policies[SIM_N_POLICIES] = {
	&sim_policy_static, &sim_policy_proxmox, &sim_policy_mom,
	&sim_policy_esx,    &sim_policy_hyperv,  &sim_policy_ramm,
};

const struct sim_policy_ops *sim_policy_find(const char *name)
{
	for (size_t i = 0; i < SIM_N_POLICIES; i++)
		if (!strcmp(sim_policies[i]->name, name))
			return sim_policies[i];
	return NULL;
}

void sim_limit(const struct sim_scenario *sc, const uint32_t *cur_mib,
	       uint32_t *next_mib)
{
	uint32_t want[SIM_MAX_GUESTS]; /* units each guest asks to grow */
	uint64_t kept = 0, grow = 0, room, left;
	uint32_t unit = sc->unit_mib;
	size_t n = sc->n_guests;

	for (size_t g = 0; g < n; g++) {
		const struct sim_guest_spec *s = &sc->guests[g];
		uint32_t v = next_mib[g];

		v = v < s->floor_mib ? s->floor_mib : v > s->cap_mib ? s->cap_mib : v;
		v = s->floor_mib + (v - s->floor_mib) / unit * unit;
		next_mib[g] = v;
		want[g] = v > cur_mib[g] ? (v - cur_mib[g]) / unit : 0;
		kept += v < cur_mib[g] ? v : cur_mib[g];
		grow += want[g];
	}
	if (kept + grow * unit <= sc->host_mib)
		return;
	/* Growth does not fit: each grower gets its share of the room. */
	room = kept < sc->host_mib ? (sc->host_mib - kept) / unit : 0;
	left = room;
	for (size_t g = 0; g < n; g++) {
		uint64_t give = (uint64_t)want[g] * room / grow;

		if (!want[g])
			continue;
		next_mib[g] = cur_mib[g] + (uint32_t)give * unit;
		want[g] -= (uint32_t)give;
		left -= give;
	}
	/* Rounding left fewer units than growers: one each, in order. */
	for (size_t g = 0; g < n && left; g++) {
		if (!want[g])
			continue;
		next_mib[g] += unit;
		left--;
	}
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
