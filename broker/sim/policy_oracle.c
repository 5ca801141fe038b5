/* SPDX-License-Identifier: MIT */
/*
 * The `oracle` policy: the lower bound on shortfall, not a broker anyone
 * could build. It reads the scenario's next second, which no real policy
 * can see, and asks for exactly that working set, with no rate limit. The
 * simulator's rule still holds it to the floors, the caps and the pools,
 * so its shortfall is what no policy can avoid: demand above a cap, and
 * demand over a pool while the pool is full (to within the rounding to
 * whole units). Other policies are judged by their excess over it.
 */
#include "sim.h"

static int oracle_init(void **priv, const struct sim_scenario *sc)
{
	(void)sc;
	*priv = NULL;
	return 0;
}

static void oracle_step(void *priv, const struct sim_scenario *sc, size_t t,
			const struct sim_host *host,
			const struct sim_observation *obs, uint32_t *next_mib)
{
	size_t next = t + 1 < sc->n_seconds ? t + 1 : t;
	uint32_t unit = sc->unit_mib;

	(void)priv;
	(void)host;
	(void)obs;
	for (size_t g = 0; g < sc->n_guests; g++) {
		const struct sim_guest_spec *s = &sc->guests[g];
		uint64_t want = sc->wss_mib[next * sc->n_guests + g];

		/* Round up: the simulator rounds the part above the floor
		 * down, and a unit short is shortfall. */
		if (want > s->floor_mib)
			want = s->floor_mib +
			       (want - s->floor_mib + unit - 1) / unit * unit;
		next_mib[g] = want > s->cap_mib ? s->cap_mib : (uint32_t)want;
	}
}

static void oracle_fini(void *priv)
{
	(void)priv;
}

const struct sim_policy_ops sim_policy_oracle = {
	.name = "oracle",
	.summary = "perfect foresight, no rate limits: the lower bound on "
		   "shortfall (reads the future)",
	.init = oracle_init,
	.step = oracle_step,
	.fini = oracle_fini,
};
