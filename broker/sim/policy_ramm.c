/* SPDX-License-Identifier: MIT */
/*
 * The `ramm` policy: rammd's tick planner, plan_tick(), on the bids the
 * agent's bid model makes. Nothing here decides an allocation: each tick
 * takes the snapshot rammd would take of these guests (docs/SIMULATOR.md,
 * "The ramm policy") and carries out the planner's resizes, which complete
 * within the second. Guests on huge pages are in pools of their page size,
 * as hugetlb pools the host reserved for them.
 */
#include <errno.h>
#include <stdlib.h>

#include "../../guest-agent/bid_model.h"
#include "proc_sample.h"
#include "config.h"
#include "market.h"
#include "plan.h"
#include "sim.h"

#define MIB (1024ull * 1024ull)

/*
 * What rammd knows of the simulated guests between ticks: their snapshots
 * (struct plan_guest carries the lease, the account and the conduct
 * forward), and the host as rammd would read it.
 */
struct ramm_sim {
	struct rammd_config cfg;     /* the daemon's defaults, with the
				      * ordinary pool as explicit supply */
	uint32_t max_price;          /* an overbidder's price */
	struct plan_host host;       /* hugetlb pools, one per page size */
	size_t n_pools;
	struct sim_pool pools[SIM_MAX_POOLS];
	struct plan_guest *snap;     /* [n_guests] */
	struct plan_action *actions; /* [n_guests] */
	struct plan_guest_result *results; /* [n_guests] */
	struct plan_rise *rise;      /* [n_guests]: each one's working set's */
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
	free(rs->snap);
	free(rs->actions);
	free(rs->results);
	free(rs->rise);
	free(rs);
}

/*
 * The host as rammd would see it: ordinary memory is the supply the
 * config names (the pool above its guests' floors), and each huge page
 * size is a hugetlb pool of the pages the operator reserved for its
 * guests (sim_pools()), on one node.
 */
static void ramm_host_init(struct ramm_sim *rs, const struct sim_scenario *sc)
{
	struct hugepool_host *hp = &rs->host.hugepools;
	uint64_t ordinary = sc->host_mib;

	rs->host.base_page_bytes = 4096;
	rs->host.hugepools_ok = 1;
	hp->nodes = 1;
	rs->n_pools = sim_pools(sc, rs->pools);
	for (size_t p = 0; p < rs->n_pools; p++) {
		const struct sim_pool *pool = &rs->pools[p];
		struct hugepool_size *size;

		if (!pool->page_mib)
			continue;
		ordinary -= pool->size_mib;
		size = &hp->sizes[hp->n_sizes++];
		size->page_bytes = (uint64_t)pool->page_mib * MIB;
		size->total_pages = pool->size_mib / pool->page_mib;
	}
	/* Ordinary memory is what the huge page reserves leave, even with no
	 * guest in it: accounts open on its budget. */
	for (size_t g = 0; g < sc->n_guests; g++)
		if (!sc->guests[g].page_mib)
			ordinary -= sc->guests[g].floor_mib;
	rs->cfg.supply_mib = ordinary;
	/* hugepool_find() looks sizes up in ascending order. */
	for (size_t i = 1; i < hp->n_sizes; i++)
		for (size_t j = i; j > 0 && hp->sizes[j].page_bytes <
					   hp->sizes[j - 1].page_bytes; j--) {
			struct hugepool_size t = hp->sizes[j];

			hp->sizes[j] = hp->sizes[j - 1];
			hp->sizes[j - 1] = t;
		}
}

static int ramm_init(void **priv, const struct sim_scenario *sc)
{
	size_t n = sc->n_guests;
	struct ramm_sim *rs = calloc(1, sizeof(*rs));

	if (!rs)
		return -ENOMEM;
	rs->snap = calloc(n, sizeof(*rs->snap));
	rs->actions = calloc(n, sizeof(*rs->actions));
	rs->results = calloc(n, sizeof(*rs->results));
	rs->rise = calloc(n, sizeof(*rs->rise));
	if (!rs->snap || !rs->actions || !rs->results || !rs->rise) {
		ramm_fini(rs);
		return -ENOMEM;
	}
	config_defaults(&rs->cfg);
	rs->cfg.unit_mib = sc->unit_mib;
	if (sc->ramm_reserve_price != SIM_RESERVE_DEFAULT)
		rs->cfg.reserve_price = sc->ramm_reserve_price;
	rs->max_price = rs->cfg.max_price;
	ramm_host_init(rs, sc);
	for (size_t g = 0; g < n; g++) {
		const struct sim_guest_spec *spec = &sc->guests[g];
		uint32_t unit = spec->page_mib > sc->unit_mib ? spec->page_mib :
				sc->unit_mib;

		rs->snap[g] = (struct plan_guest){
			.in_market = 1,
			.device_ready = 1,
			.unit_bytes = (uint64_t)unit * MIB,
			.floor_bytes = (uint64_t)spec->floor_mib * MIB,
			.cap_bytes = (uint64_t)spec->cap_mib * MIB,
			.boot_bytes = (uint64_t)spec->floor_mib * MIB,
			.page_bytes = spec->page_mib ? (uint64_t)spec->page_mib * MIB :
				      rs->host.base_page_bytes,
			.have_report = 1,
			.report_unit_bytes = (uint64_t)unit * MIB,
		};
	}
	*priv = rs;
	return 0;
}

/*
 * Guest @g (@spec, seen as @o) as rammd sees it at the end of second @t:
 * its device, its report, and how the unplugs of the tick that just ended
 * went (they always complete). Its lease and account carry over.
 */
static void ramm_snapshot_guest(struct ramm_sim *rs, struct plan_guest *pg,
				struct plan_rise *rise,
				const struct sim_guest_spec *spec,
				const struct sim_observation *o, int64_t now_us)
{
	uint64_t vmem = (uint64_t)(o->alloc_mib - spec->floor_mib) * MIB;
	uint32_t shrunk = vmem < pg->size_bytes ?
			  (uint32_t)((pg->size_bytes - vmem) / pg->unit_bytes) : 0;

	pg->size_bytes = pg->requested_bytes = vmem;
	pg->weight = o->weight;
	/* Its working set as the guest reports it: what it holds. */
	pg->wss_rise_bps = plan_rise_update(rise, (uint64_t)o->used_mib * MIB, now_us);
	pg->report_us = now_us;
	pg->mem_available_bytes = (uint64_t)o->free_mib * MIB;
	pg->unplug_asked_units = pg->unplug_done_units = shrunk;
	pg->n_bid = sim_ramm_bid(spec, o, (uint32_t)(pg->unit_bytes / MIB),
				 rs->max_price, pg->bid);
	plan_claim_peak_update(&pg->claim_peak, &rs->cfg, pg->bid, pg->n_bid, now_us);
}

/* Each hugetlb pool's free pages: what its guests do not hold. */
static void ramm_free_pages(struct ramm_sim *rs, const struct sim_scenario *sc,
			    const struct sim_observation *obs)
{
	struct hugepool_host *hp = &rs->host.hugepools;

	for (size_t i = 0; i < hp->n_sizes; i++) {
		struct hugepool_size *size = &hp->sizes[i];
		uint64_t held = 0;

		for (size_t g = 0; g < sc->n_guests; g++)
			if ((uint64_t)sc->guests[g].page_mib * MIB == size->page_bytes)
				held += sim_backing_mib(&sc->guests[g], obs[g].alloc_mib);
		size->free_pages = size->total_pages - held * MIB / size->page_bytes;
		size->node_free[0] = size->free_pages;
	}
}

static void ramm_step(void *priv, const struct sim_scenario *sc, size_t t,
		      const struct sim_host *host,
		      const struct sim_observation *obs, uint32_t *next_mib)
{
	struct ramm_sim *rs = priv;
	/* Second t ends at t + 1; 0 is "never" for the lease. */
	int64_t now_us = (int64_t)(t + 1) * 1000000;
	struct plan_input in = {
		.cfg = &rs->cfg,
		.now_us = now_us,
		/* A step is one second of wall time. */
		.elapsed_us = 1000000,
		.host = rs->host,
		.n_guests = sc->n_guests,
		.guests = rs->snap,
	};
	struct plan_result out = { .actions = rs->actions, .guests = rs->results };

	(void)host;
	for (size_t g = 0; g < sc->n_guests; g++) {
		ramm_snapshot_guest(rs, &rs->snap[g], &rs->rise[g], &sc->guests[g],
				    &obs[g], now_us);
		next_mib[g] = obs[g].alloc_mib;
	}
	ramm_free_pages(rs, sc, obs);
	in.host = rs->host;
	/* Only running out of memory fails: then everybody keeps their
	 * allocations, as rammd does. */
	if (plan_tick(&in, &out))
		return;
	for (size_t g = 0; g < sc->n_guests; g++) {
		rs->snap[g].account = out.guests[g].account;
		rs->snap[g].account_open = out.guests[g].account_open;
		rs->snap[g].shrink_since_us = out.guests[g].shrink_since_us;
		rs->snap[g].taken_us = out.guests[g].taken_us;
		rs->snap[g].taken_from_units = out.guests[g].taken_from_units;
	}
	for (size_t a = 0; a < out.n_actions; a++) {
		const struct plan_action *act = &out.actions[a];
		struct plan_guest *pg = &rs->snap[act->guest];

		next_mib[act->guest] = (uint32_t)(act->total_bytes / MIB);
		if (act->total_bytes > pg->boot_bytes + pg->requested_bytes)
			pg->last_grow_us = now_us;
		if (act->why == PLAN_STOP_SHRINK)
			pg->shrink_stopped_us = now_us;
	}
}
const struct sim_policy_ops sim_policy_ramm = {
	.name = "ramm",
	.summary = "rammd's tick planner (plan_tick) on the agent's bid model, "
		   "daemon defaults",
	.init = ramm_init,
	.step = ramm_step,
	.fini = ramm_fini,
};
