/* SPDX-License-Identifier: MIT */
/* The `static` policy: every guest keeps its configured size. */
#include "sim.h"

static int static_init(void **priv, const struct sim_scenario *sc)
{
	(void)sc;
	*priv = NULL;
	return 0;
}

static void static_step(void *priv, const struct sim_scenario *sc, size_t t,
			const struct sim_host *host,
			const struct sim_observation *obs, uint32_t *next_mib)
{
	(void)priv;
	(void)t;
	(void)host;
	(void)obs;
	for (size_t g = 0; g < sc->n_guests; g++)
		next_mib[g] = sc->guests[g].static_mib;
}

static void static_fini(void *priv)
{
	(void)priv;
}

const struct sim_policy_ops sim_policy_static = {
	.name = "static",
	.summary = "each guest keeps its configured size (no broker)",
	.init = static_init,
	.step = static_step,
	.fini = static_fini,
};
