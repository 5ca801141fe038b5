/* SPDX-License-Identifier: MIT */
/*
 * The `ramm` policy: the market as rammd runs it, on the bids the agent's
 * bid model makes. Nothing here decides an allocation: each tick builds
 * what rammd_tick() would hand the market (docs/SIMULATOR.md, "The ramm
 * policy") and calls market_round(), the code the daemon calls: once per
 * pool of host memory, in whole pages of that pool (struct ramm_pool).
 */
#include <errno.h>
#include <stdlib.h>

#include "../../guest-agent/bid_model.h"
#include "proc_sample.h"
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

/*
 * One market per pool of host memory (sim_pools()), as rammd plans guests
 * on hugetlbfs. A guest on 1 GiB pages gives back memory only in whole
 * 1 GiB pages, and those pages can back only guests on the same page size.
 * So each pool is cleared apart, with the pool above its guests' floors as
 * supply, in units of max(market unit, page size): every target is whole
 * pages and nothing is lost to partial ones. The alternatives are worse:
 * rounding one market's targets to pages afterwards would break its
 * supply and price, and one market in the largest page would plan the
 * 2 MiB guests 1 GiB at a time. The market code is the same for every
 * pool; only its inputs are in the pool's units. A pool's guests sit side
 * by side in the per-slot arrays, from slot @first on, so that one
 * market_round() call takes them as they are.
 */
struct ramm_pool {
	uint32_t page_mib;          /* its page size, 0 for ordinary memory */
	uint32_t unit_mib;          /* its market unit */
	size_t first;               /* its first slot ... */
	size_t n;                   /* ... and number of guests */
	struct market_params params; /* supply and knobs, in its units */
	struct market_budget budget; /* its income pool, from its supply */
	struct market_credit_params credit; /* credit knobs, in its units */
	uint32_t max_plug_units;    /* per guest per tick */
	uint32_t max_unplug_units;  /* per guest per tick, outside a lease */
};

struct ramm_sim {
	uint32_t max_price;         /* an overbidder's price */
	size_t min_hold_ticks;      /* the lease after a growth */
	size_t n_pools;             /* entries used in @pools */
	struct ramm_pool pools[SIM_MAX_POOLS];
	/* n_guests entries each, indexed by slot (pool by pool): */
	size_t *guest_of;           /* the guest in the slot */
	struct ramm_guest *guests;  /* its memory between ticks */
	struct market_guest *mg;    /* its bid and limits this tick */
	struct market_account *acc; /* its balance, weight and credit */
	struct market_conduct *conduct; /* its conduct in the last tick */
	uint32_t *targets;          /* the market's answer, in units */
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
	free(rs->guest_of);
	free(rs->guests);
	free(rs->mg);
	free(rs->acc);
	free(rs->conduct);
	free(rs->targets);
	free(rs);
}

/* At least one: a limit below the unit would freeze a guest. */
static uint32_t units_of(uint64_t mib, uint32_t unit_mib)
{
	return mib < unit_mib ? 1 : (uint32_t)(mib / unit_mib);
}

/*
 * Pool @pool's market, its guests' slots and their opening accounts: the
 * daemon's defaults @cfg in the pool's units, as rammd_tick() uses them,
 * with supply = the pool above its guests' floors. Each account starts
 * with a tenth of its savings cap. @next_slot: the first free slot, moved
 * past the pool's guests.
 */
static void ramm_pool_init(struct ramm_sim *rs, struct ramm_pool *rp,
			   const struct sim_pool *pool,
			   const struct rammd_config *cfg,
			   const struct sim_scenario *sc, size_t *next_slot)
{
	uint32_t unit = sc->unit_mib > pool->page_mib ? sc->unit_mib :
			pool->page_mib;
	uint64_t floors = 0, weights = 0;

	*rp = (struct ramm_pool){ .page_mib = pool->page_mib, .unit_mib = unit,
				  .first = *next_slot };
	for (size_t g = 0; g < sc->n_guests; g++) {
		if (sc->guests[g].page_mib != pool->page_mib)
			continue;
		rs->guest_of[rp->first + rp->n++] = g;
		floors += sc->guests[g].floor_mib;
		weights += sc->weight[g];
	}
	*next_slot += rp->n;
	config_market(cfg, unit, (pool->size_mib - floors) / unit, &rp->params,
		      &rp->budget, &rp->credit);
	rp->max_plug_units = units_of(cfg->max_plug_mib, unit);
	rp->max_unplug_units = units_of(cfg->max_unplug_mib, unit);
	for (size_t i = rp->first; i < rp->first + rp->n; i++) {
		size_t g = rs->guest_of[i];

		rs->acc[i].weight = sc->weight[g];
		rs->acc[i].credit = MARKET_CREDIT_MAX;
		rs->acc[i].balance = market_income(&rp->budget, &rs->acc[i],
						   weights) *
				     rp->budget.savings_ticks / 10;
		rs->guests[i].prev_alloc_mib = sc->guests[g].static_mib;
	}
}

static int ramm_init(void **priv, const struct sim_scenario *sc)
{
	size_t n = sc->n_guests, next_slot = 0;
	struct ramm_sim *rs = calloc(1, sizeof(*rs));
	struct sim_pool pools[SIM_MAX_POOLS];
	struct rammd_config cfg;

	if (!rs)
		return -ENOMEM;
	rs->guest_of = calloc(n, sizeof(*rs->guest_of));
	rs->guests = calloc(n, sizeof(*rs->guests));
	rs->mg = calloc(n, sizeof(*rs->mg));
	rs->acc = calloc(n, sizeof(*rs->acc));
	rs->conduct = calloc(n, sizeof(*rs->conduct));
	rs->targets = calloc(n, sizeof(*rs->targets));
	if (!rs->guest_of || !rs->guests || !rs->mg || !rs->acc ||
	    !rs->conduct || !rs->targets) {
		ramm_fini(rs);
		return -ENOMEM;
	}
	config_defaults(&cfg);
	rs->max_price = cfg.max_price;
	rs->min_hold_ticks = cfg.min_hold_ms / 1000;
	rs->n_pools = sim_pools(sc, pools);
	for (size_t p = 0; p < rs->n_pools; p++)
		ramm_pool_init(rs, &rs->pools[p], &pools[p], &cfg, sc,
			       &next_slot);
	*priv = rs;
	return 0;
}

/*
 * The guest in slot @i (@spec, seen as @o) as pool @rp's market sees it at
 * the end of tick @t, in the pool's units: its conduct in the tick that
 * just ended, its bid and its limits.
 */
static void ramm_guest_input(struct ramm_sim *rs, const struct ramm_pool *rp,
			     size_t i, const struct sim_guest_spec *spec,
			     const struct sim_observation *o, size_t t)
{
	struct ramm_guest *rg = &rs->guests[i];
	uint32_t unit = rp->unit_mib;
	uint32_t held = (o->alloc_mib - spec->floor_mib) / unit;
	uint32_t shrunk = o->alloc_mib < rg->prev_alloc_mib ?
			  (rg->prev_alloc_mib - o->alloc_mib) / unit : 0;
	uint64_t claimed;
	size_t n;

	if (o->alloc_mib > rg->prev_alloc_mib) {
		rg->grew = 1;
		rg->last_grow = t - 1;
	}
	/* The tick that just ended: what it held, what the bid that won it
	 * claimed, what it used; unplugs always complete. */
	rs->conduct[i] = (struct market_conduct){
		.held_units = held,
		.claimed_units = rg->claimed_units,
		.used_units = o->used_mib > spec->floor_mib ?
			      (o->used_mib - spec->floor_mib) / unit : 0,
		.unplug_asked = shrunk,
		.unplug_done = shrunk,
	};
	rs->acc[i].weight = o->weight;
	n = sim_ramm_bid(spec, o, unit, rs->max_price, rg->curve);
	rs->mg[i] = (struct market_guest){
		.cap_units = (spec->cap_mib - spec->floor_mib) / unit,
		.current_units = held,
		.max_plug_units = rp->max_plug_units,
		/* The lease of rammd_tick(): memory just won is not taken
		 * back for min_hold_ms. */
		.max_unplug_units = rg->grew && t - rg->last_grow <
					     rs->min_hold_ticks ?
				    0 : rp->max_unplug_units,
		.steps = rg->curve,
		.n_steps = n,
	};
	claimed = market_claimed_units(rg->curve, n, rp->credit.claim_price);
	rg->claimed_units = claimed > UINT32_MAX ? UINT32_MAX :
			    (uint32_t)claimed;
	rg->prev_alloc_mib = o->alloc_mib;
}

static void ramm_step(void *priv, const struct sim_scenario *sc, size_t t,
		      const struct sim_host *host,
		      const struct sim_observation *obs, uint32_t *next_mib)
{
	struct ramm_sim *rs = priv;

	(void)host;
	for (size_t p = 0; p < rs->n_pools; p++) {
		const struct ramm_pool *rp = &rs->pools[p];
		size_t first = rp->first, end = rp->first + rp->n;
		struct market_result res;
		int err;

		for (size_t i = first; i < end; i++) {
			size_t g = rs->guest_of[i];

			ramm_guest_input(rs, rp, i, &sc->guests[g], &obs[g], t);
		}
		err = market_round(&rp->params, &rp->budget, &rp->credit,
				   rs->mg + first, rs->acc + first,
				   t ? rs->conduct + first : NULL, rp->n,
				   rs->targets + first, &res);
		/* Only a bug fails: then the pool keeps its allocations, as
		 * in rammd. */
		for (size_t i = first; i < end; i++) {
			size_t g = rs->guest_of[i];

			next_mib[g] = err ? obs[g].alloc_mib :
				      sc->guests[g].floor_mib +
				      rs->targets[i] * rp->unit_mib;
		}
	}
}

const struct sim_policy_ops sim_policy_ramm = {
	.name = "ramm",
	.summary = "the market (market_round) on the agent's bid model, "
		   "daemon defaults",
	.init = ramm_init,
	.step = ramm_step,
	.fini = ramm_fini,
};
