/* SPDX-License-Identifier: MIT */
/*
 * The `ramm` policy: the market as rammd runs it, on the bids the agent's
 * bid model makes. Nothing here decides an allocation: each tick builds
 * what rammd_tick() would hand the market (docs/SIMULATOR.md, "The ramm
 * policy") and calls market_round(), the code the daemon calls.
 */
#include <errno.h>
#include <stdlib.h>

#include "../../guest-agent/bid_model.h"
#include "../../guest-agent/proc_sample.h"
#include "config.h"
#include "market.h"
#include "sim.h"

#define MIB (1024ull * 1024ull)

/* What the market remembers of a guest between ticks. */
struct ramm_guest {
	struct ramm_bid_step curve[RAMM_MAX_BID_STEPS]; /* this tick's bid */
	uint32_t prev_alloc_mib; /* allocation during the previous tick */
	uint32_t claimed_units;  /* units the previous tick's bid claimed */
	size_t last_grow;        /* tick whose clearing last grew it ... */
	int grew;                /* ... if nonzero */
};

struct ramm_sim {
	struct market_params params;
	struct market_budget budget;
	struct market_credit_params credit;
	uint32_t max_price;         /* an overbidder's price */
	uint32_t max_plug_units;    /* per guest per tick */
	uint32_t max_unplug_units;  /* per guest per tick, outside a lease */
	size_t min_hold_ticks;      /* the lease after a growth */
	/* n_guests entries each: */
	struct ramm_guest *guests;
	struct market_guest *mg;
	struct market_account *acc;
	struct market_conduct *conduct;
	uint32_t *targets;
};

size_t sim_ramm_bid(const struct sim_guest_spec *spec,
		    const struct sim_observation *obs, uint32_t unit_mib,
		    uint32_t max_price, struct ramm_bid_step *steps)
{
	uint32_t cap_units = (spec->cap_mib - spec->floor_mib) / unit_mib;
	struct proc_sample s = { 0 };
	int n;

	if (spec->overbidder) {
		if (!cap_units)
			return 0;
		steps[0] = (struct ramm_bid_step){ cap_units, max_price };
		return 1;
	}
	/* A guest with alloc_mib of RAM, all of it in MemTotal, whose page
	 * cache is the free part; pressure stall when it cannot fit. */
	s.mem_total_kib = (uint64_t)obs->alloc_mib * 1024;
	s.mem_free_kib = (uint64_t)obs->free_mib * 1024;
	s.mem_available_kib = s.mem_free_kib;
	/* What it could not fit is paged out: swap in use, to the agent. */
	s.swap_used_kib = (uint64_t)obs->short_mib * 1024;
	s.have_psi = 1;
	if (obs->short_mib && obs->alloc_mib) {
		double p = 100.0 * obs->short_mib / obs->alloc_mib;

		s.psi_some_avg10 = p > 100 ? 100 : p;
		s.psi_full_avg10 = s.psi_some_avg10 / 2;
	}
	n = bid_model_compute(&s, unit_mib * MIB, spec->floor_mib * MIB,
			      spec->cap_mib * MIB, steps, RAMM_MAX_BID_STEPS);
	if (n <= 0)
		return 0;
	for (int i = 0; i < n; i++)
		if (steps[i].price > max_price)
			steps[i].price = max_price;
	return (size_t)n;
}

static void ramm_fini(void *priv)
{
	struct ramm_sim *rs = priv;

	if (!rs)
		return;
	free(rs->guests);
	free(rs->mg);
	free(rs->acc);
	free(rs->conduct);
	free(rs->targets);
	free(rs);
}

/* The daemon's defaults, in units of @unit_mib, as rammd_tick() uses them. */
static void ramm_params(struct ramm_sim *rs, const struct sim_scenario *sc)
{
	struct rammd_config cfg;
	uint32_t unit = sc->unit_mib;
	uint64_t floors = 0;

	config_defaults(&cfg);
	for (size_t g = 0; g < sc->n_guests; g++)
		floors += sc->guests[g].floor_mib;
	config_market(&cfg, unit, (sc->host_mib - floors) / unit, &rs->params,
		      &rs->budget, &rs->credit);
	rs->max_price = cfg.max_price;
	rs->max_plug_units = (uint32_t)(cfg.max_plug_mib / unit);
	rs->max_unplug_units = (uint32_t)(cfg.max_unplug_mib / unit);
	rs->min_hold_ticks = cfg.min_hold_ms / 1000;
}

static int ramm_init(void **priv, const struct sim_scenario *sc)
{
	size_t n = sc->n_guests;
	struct ramm_sim *rs = calloc(1, sizeof(*rs));
	uint64_t weights = 0;

	if (!rs)
		return -ENOMEM;
	rs->guests = calloc(n, sizeof(*rs->guests));
	rs->mg = calloc(n, sizeof(*rs->mg));
	rs->acc = calloc(n, sizeof(*rs->acc));
	rs->conduct = calloc(n, sizeof(*rs->conduct));
	rs->targets = calloc(n, sizeof(*rs->targets));
	if (!rs->guests || !rs->mg || !rs->acc || !rs->conduct || !rs->targets) {
		ramm_fini(rs);
		return -ENOMEM;
	}
	ramm_params(rs, sc);
	for (size_t g = 0; g < n; g++)
		weights += sc->weight[g];
	/* Every guest starts with a tenth of its savings cap. */
	for (size_t g = 0; g < n; g++) {
		rs->acc[g].weight = sc->weight[g];
		rs->acc[g].credit = MARKET_CREDIT_MAX;
		rs->acc[g].balance = market_income(&rs->budget, &rs->acc[g],
						   weights) *
				     rs->budget.savings_ticks / 10;
		rs->guests[g].prev_alloc_mib = sc->guests[g].static_mib;
	}
	*priv = rs;
	return 0;
}

static void ramm_step(void *priv, const struct sim_scenario *sc, size_t t,
		      const struct sim_host *host,
		      const struct sim_observation *obs, uint32_t *next_mib)
{
	struct ramm_sim *rs = priv;
	uint32_t unit = sc->unit_mib;
	struct market_result res;

	(void)host;
	for (size_t g = 0; g < sc->n_guests; g++) {
		const struct sim_guest_spec *spec = &sc->guests[g];
		const struct sim_observation *o = &obs[g];
		struct ramm_guest *rg = &rs->guests[g];
		uint32_t held = (o->alloc_mib - spec->floor_mib) / unit;
		uint32_t shrunk = o->alloc_mib < rg->prev_alloc_mib ?
				  (rg->prev_alloc_mib - o->alloc_mib) / unit : 0;
		uint64_t claimed;
		size_t n;

		if (o->alloc_mib > rg->prev_alloc_mib) {
			rg->grew = 1;
			rg->last_grow = t - 1;
		}
		/* The tick that just ended: what it held, what the bid that
		 * won it claimed, what it used; unplugs always complete. */
		rs->conduct[g] = (struct market_conduct){
			.held_units = held,
			.claimed_units = rg->claimed_units,
			.used_units = o->used_mib > spec->floor_mib ?
				      (o->used_mib - spec->floor_mib) / unit : 0,
			.unplug_asked = shrunk,
			.unplug_done = shrunk,
		};
		rs->acc[g].weight = o->weight;
		n = sim_ramm_bid(spec, o, unit, rs->max_price, rg->curve);
		rs->mg[g] = (struct market_guest){
			.cap_units = (spec->cap_mib - spec->floor_mib) / unit,
			.current_units = held,
			.max_plug_units = rs->max_plug_units,
			/* The lease of rammd_tick(): memory just won is not
			 * taken back for min_hold_ms. */
			.max_unplug_units = rg->grew && t - rg->last_grow <
						     rs->min_hold_ticks ?
					    0 : rs->max_unplug_units,
			.steps = rg->curve,
			.n_steps = n,
		};
		claimed = market_claimed_units(rg->curve, n,
					       rs->credit.claim_price);
		rg->claimed_units = claimed > UINT32_MAX ? UINT32_MAX :
				    (uint32_t)claimed;
		rg->prev_alloc_mib = o->alloc_mib;
	}
	if (market_round(&rs->params, &rs->budget, &rs->credit, rs->mg,
			 rs->acc, t ? rs->conduct : NULL, sc->n_guests,
			 rs->targets, &res)) {
		/* Only a bug gets here: keep every allocation, as rammd. */
		for (size_t g = 0; g < sc->n_guests; g++)
			next_mib[g] = obs[g].alloc_mib;
		return;
	}
	for (size_t g = 0; g < sc->n_guests; g++)
		next_mib[g] = sc->guests[g].floor_mib + rs->targets[g] * unit;
}

const struct sim_policy_ops sim_policy_ramm = {
	.name = "ramm",
	.summary = "the market (market_round) on the agent's bid model, "
		   "daemon defaults",
	.init = ramm_init,
	.step = ramm_step,
	.fini = ramm_fini,
};
