/* SPDX-License-Identifier: MIT */
/*
 * The tick planner (plan.h). Pure: it reads its input and writes its
 * output, nothing else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "pages.h"
#include "plan.h"

#define MIB (1024ULL * 1024ULL)
#define PLAN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PLAN_MAX(a, b) ((a) > (b) ? (a) : (b))

uint32_t plan_held_units(const struct plan_guest *g)
{
	uint64_t vmem = PLAN_MAX(g->size_bytes, g->requested_bytes);
	uint64_t held = g->boot_bytes + vmem;

	if (!g->unit_bytes || held <= g->floor_bytes)
		return 0;
	return (uint32_t)((held - g->floor_bytes + g->unit_bytes - 1) /
			  g->unit_bytes);
}

/* Units above the floor that @g's device was last asked for, rounded up. */
static uint32_t plan_requested_units(const struct plan_guest *g)
{
	uint64_t asked = g->boot_bytes + g->requested_bytes;

	if (!g->unit_bytes || asked <= g->floor_bytes)
		return 0;
	return (uint32_t)((asked - g->floor_bytes + g->unit_bytes - 1) /
			  g->unit_bytes);
}

/* A shrink of @g is in flight: its device is asked for less than it
 * holds. */
static int plan_shrinking(const struct plan_guest *g)
{
	return g->resizing && g->requested_bytes < g->size_bytes;
}

/* Whether @g sent an urgent report (short now) after its resize in flight
 * was decided. */
static int plan_urgent_since_decided(const struct plan_guest *g)
{
	return g->report_urgent && g->report_us > g->resize_decided_us;
}

uint32_t plan_offered_units(const struct plan_guest *g)
{
	uint32_t held = plan_held_units(g);
	uint64_t units;

	if (!g->have_report || !g->have_hist || !held)
		return 0;
	units = pages_offer_bytes(g->hist_vmem, g->unit_bytes) / g->unit_bytes;
	return units < held ? (uint32_t)units : held;
}

const char *plan_why_text(enum plan_why why)
{
	switch (why) {
	case PLAN_RAISE_TO_FLOOR:
		return "raised to its floor";
	case PLAN_GROW:
		return "won more";
	case PLAN_OUTBID:
		return "outbid";
	case PLAN_NO_BID:
		return "no longer bids";
	case PLAN_DRAIN:
		return "drained by the operator";
	case PLAN_EMERGENCY:
		return "emergency reclaim";
	case PLAN_STOP_SHRINK:
		return "shrink stopped";
	}
	return "?";
}

/*
 * The share of a whole tick_ms this tick's accruals cover, in thousandths:
 * the wall time since the last regular tick, clamped so that a stall pays
 * out at most PLAN_MAX_ELAPSED_TICKS ticks. Rounded to nearest: regular
 * ticks come a few ms early or late, and a credit rise of 2 must stay 2.
 */
static uint32_t plan_tick_permille(const struct plan_input *in)
{
	int64_t tick_us = (int64_t)in->cfg->tick_ms * 1000;
	int64_t e = in->elapsed_us;

	if (e <= 0 || tick_us <= 0)
		return 1000;
	if (e > PLAN_MAX_ELAPSED_TICKS * tick_us)
		e = PLAN_MAX_ELAPSED_TICKS * tick_us;
	return (uint32_t)((e * 1000 + tick_us / 2) / tick_us);
}

/* @v per whole tick, for @permille of one, rounded to nearest. */
static uint64_t plan_accrue(uint64_t v, uint32_t permille)
{
	return (uint64_t)(((unsigned __int128)v * permille + 500) / 1000);
}

/* Backed by hugetlbfs: its memory comes from a huge-page pool, not from
 * the host's ordinary memory. */
static int plan_hugetlb(const struct plan_input *in, const struct plan_guest *g)
{
	return g->page_bytes > in->host.base_page_bytes;
}

static int plan_usable_bid(const struct plan_input *in, const struct plan_guest *g)
{
	return g->have_report &&
	       in->now_us - g->report_us <= (int64_t)in->cfg->stale_report_ms * 1000 &&
	       g->report_unit_bytes == g->unit_bytes;
}

/* What @g bids for its @k-th unit above the floor; 0 without a report. */
static uint32_t plan_bid_for_unit(const struct plan_guest *g, uint64_t k)
{
	return g->have_report ? market_bid_price(g->bid, g->n_bid, k) : 0;
}

/* Ordinary memory auctionable above every floor: configured, or host RAM
 * less the reserve, less what hugetlb pools set aside (no ordinary guest
 * can use it), less what the floors of guests in ordinary memory pin. */
static uint64_t plan_ordinary_supply_bytes(const struct plan_input *in)
{
	const struct rammd_config *cfg = in->cfg;
	uint64_t pinned;

	if (cfg->supply_mib != CONFIG_SUPPLY_AUTO)
		return cfg->supply_mib * MIB;
	if (!in->host.meminfo_ok)
		return 0;
	pinned = cfg->host_reserve_mib * MIB;
	if (in->host.hugepools_ok)
		pinned += hugepool_set_aside_bytes(&in->host.hugepools);
	for (size_t i = 0; i < in->n_guests; i++) {
		const struct plan_guest *g = &in->guests[i];

		if (g->in_market && !plan_hugetlb(in, g))
			pinned += g->floor_bytes;
	}
	return in->host.mem_total_bytes > pinned ?
	       in->host.mem_total_bytes - pinned : 0;
}

/*
 * The pool @g draws from, added to @out->pools if new; -1 if @g is not in
 * the market or there are too many pools. Ordinary memory is pool 0,
 * whatever the NUMA binding: the kernel does not keep free ordinary memory
 * per guest binding the way hugetlb does.
 */
static int plan_pool_of(const struct plan_input *in, struct plan_result *out,
			const struct plan_guest *g, int *too_many)
{
	uint64_t page = plan_hugetlb(in, g) ? g->page_bytes : 0;
	uint64_t nodes = page ? g->host_nodes : 0;
	struct plan_pool *p;

	*too_many = 0;
	if (!g->in_market || !g->unit_bytes)
		return -1;
	for (size_t i = 0; i < out->n_pools; i++)
		if (out->pools[i].page_bytes == page &&
		    out->pools[i].host_nodes == nodes)
			return (int)i;
	if (out->n_pools == PLAN_MAX_POOLS) {
		*too_many = 1;
		return -1;
	}
	p = &out->pools[out->n_pools];
	*p = (struct plan_pool){
		.page_bytes = page,
		.host_nodes = nodes,
		.unit_bytes = PLAN_MAX(in->cfg->unit_mib * MIB, page),
	};
	if (nodes)
		snprintf(p->name, sizeof(p->name), "hugetlb-%lluk@%#llx",
			 (unsigned long long)(page >> 10), (unsigned long long)nodes);
	else
		snprintf(p->name, sizeof(p->name), "hugetlb-%lluk",
			 (unsigned long long)(page >> 10));
	return (int)out->n_pools++;
}

/*
 * One pool's clearing, in the pool's unit. A guest whose unit is @k[i]
 * pool units is counted in pool units and moved only in whole units of its
 * own: its targets are rounded towards what it holds.
 */
struct plan_pool_tick {
	struct plan_pool *pool;
	size_t n;                  /* guests in the pool */
	size_t *idx;               /* [n]: their indices in the input */
	uint32_t *k;               /* [n]: its unit in pool units */
	uint32_t *held;            /* [n]: its units held (its own unit) */
	uint32_t *after;           /* [n]: ... and once this tick's action
				    * is carried out */
	uint32_t *billed;          /* [n]: units it pays for, pool units */
	uint64_t *spent;           /* [n]: what it paid */
	struct market_guest *mg;   /* [n], in pool units */
	uint32_t *targets;         /* [n], in pool units */
	struct market_account *accounts; /* [n] */
	struct market_conduct *conduct;  /* [n] */
	struct ramm_bid_step *steps; /* [n * RAMM_MAX_BID_STEPS]: curves of
				      * guests with k > 1, in pool units */
	uint8_t *bids_short;       /* [n]: plan_bids_short() */
	size_t n_short;            /* guests with bids_short set */
	uint64_t supply_units;
};

/* Pool units for @units of a guest whose unit is @k of them, saturating. */
static uint32_t plan_scale(uint64_t units, uint32_t k)
{
	uint64_t v = units * k;

	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* The credit score's view of @g's last tick (market_credit_next()), in
 * its own units. */
static struct market_conduct plan_conduct(const struct plan_input *in,
					  const struct plan_guest *g,
					  uint32_t held)
{
	struct market_conduct c = {
		.held_units = held,
		.used_units = held,
		.unplug_asked = g->unplug_asked_units,
		.unplug_done = g->unplug_done_units,
	};
	uint64_t avail_units;

	if (!g->have_report)
		return c; /* nothing claimed, nothing to judge */
	c.claimed_units = (uint32_t)PLAN_MIN(market_claimed_units(g->bid, g->n_bid,
						in->cfg->claim_price), UINT32_MAX);
	avail_units = g->mem_available_bytes / g->unit_bytes;
	c.used_units = avail_units < held ? held - (uint32_t)avail_units : 0;
	return c;
}

/*
 * A credit score at or above this counts as whole in plan_bids_short().
 * A guest whose claim ran ahead of its use for a few ticks (a workload
 * that exited while its bid still priced it in use) loses a little credit
 * and earns it back at credit_rise a tick: in the soak, one at 974 bid
 * the short tier (2000) for 99 units it was about to use, counted 1948,
 * took nothing past another's dip and was OOM-killed 2 s later. Only a
 * claim that runs idle for dozens of ticks falls below half.
 */
#define PLAN_SHORT_CREDIT_TRUSTED (MARKET_CREDIT_MAX / 2)

/*
 * Whether guest @i of @pt bids preempt_price or more for the unit after
 * those it holds, as the market will see that bid (market_effective_bid():
 * within its balance, scaled by a credit below PLAN_SHORT_CREDIT_TRUSTED):
 * it is short of memory it uses or is about to. A low credit score keeps
 * an over-claimer below the mark.
 */
static int plan_bids_short(const struct plan_input *in,
			   const struct plan_pool_tick *pt, size_t i)
{
	const struct plan_guest *g = &in->guests[pt->idx[i]];
	const struct market_account *acct = &pt->accounts[i];
	struct ramm_bid_step eff[MARKET_MAX_STEPS];
	uint32_t held = pt->held[i];
	int n;

	if (!in->cfg->preempt_price || !g->device_ready || g->excluded ||
	    g->drain || !plan_usable_bid(in, g) ||
	    g->floor_bytes + ((uint64_t)held + 1) * g->unit_bytes > g->cap_bytes)
		return 0;
	n = market_effective_bid(g->bid, g->n_bid,
				 acct->credit >= PLAN_SHORT_CREDIT_TRUSTED ? MARKET_CREDIT_MAX
									   : acct->credit,
				 plan_conduct(in, g, held).used_units,
				 acct->balance, eff);
	return n > 0 && market_bid_price(eff, (size_t)n, (uint64_t)held + 1) >=
			in->cfg->preempt_price;
}

/* The units the bid @bid of @n_bid steps claims above @cfg's
 * reserve_price: what the market would sell it. */
static uint64_t plan_claim(const struct rammd_config *cfg,
			   const struct ramm_bid_step *bid, size_t n_bid)
{
	return market_claimed_units(bid, n_bid, cfg->reserve_price + 1);
}

/* @g bids for nothing above reserve_price: its workload is gone (it
 * exited, or was killed), and often starts again at once. */
static int plan_bids_for_nothing(const struct plan_input *in, const struct plan_guest *g)
{
	return !plan_claim(in->cfg, g->bid, g->n_bid);
}

/* Whether peak @p, at @now_us, is younger than shrink_delay_ms. */
static int plan_claim_peak_fresh(const struct plan_claim_peak *p,
				 const struct rammd_config *cfg, int64_t now_us)
{
	return p->at_us && now_us - p->at_us < (int64_t)cfg->shrink_delay_ms * 1000;
}

void plan_claim_peak_update(struct plan_claim_peak *p, const struct rammd_config *cfg,
			    const struct ramm_bid_step *bid, size_t n_bid, int64_t now_us)
{
	uint32_t units = (uint32_t)PLAN_MIN(plan_claim(cfg, bid, n_bid), UINT32_MAX);

	if (now_us < p->at_us || units >= p->units || !plan_claim_peak_fresh(p, cfg, now_us))
		*p = (struct plan_claim_peak){ .at_us = now_us, .units = units };
}

/*
 * What @g keeps from short bids: the units it bids more than reserve_price
 * for, or claimed in the last shrink_delay_ms if that was more. A claim
 * that just fell is a workload that exited or is between phases, the one
 * a dip must outlast: in the soak a guest whose claim fell from 88 units
 * to 18 on one report was shrunk 63 -> 18 for a short guest 0.9 s later,
 * and the workload that started meanwhile was OOM-killed 1.3 s after.
 */
static uint64_t plan_kept_from_short(const struct plan_input *in, const struct plan_guest *g)
{
	uint64_t kept = plan_claim(in->cfg, g->bid, g->n_bid);

	if (plan_claim_peak_fresh(&g->claim_peak, in->cfg, in->now_us))
		kept = PLAN_MAX(kept, (uint64_t)g->claim_peak.units);
	return kept;
}

/*
 * Of what guest @i of @pt holds, the units another guest's short bid
 * (plan_bids_short()) may take past @i's lease and its dip delay: those
 * @i bids no more than reserve_price for, nor claimed lately
 * (plan_kept_from_short()), which the market would not sell
 * it (comfort and spare, in the agents' tiers), while it still bids more
 * for what it uses: it settled below what it holds, and neither rule may
 * leave a guest that is short now to the OOM killer for memory nobody
 * needs. A guest that bids for nothing any more has lost its workload (it
 * exited, or was killed), and one often starts again at once: it keeps
 * its lease, and its dip unless @idle_too; then all it holds may go, but
 * only what the short guests lack (plan_shrink_now()). What @i bids more
 * for stays: taking its headroom would make it short in turn, and the
 * two would trade memory tick by tick. 0 without another guest's short
 * bid, and for min_hold_ms after a shrink of @i was stopped: the stop
 * said its bid lags a workload that started again (in the soak, a
 * greedy one 0.4 s old bid for 40 units of the 124 it held, was shrunk
 * again for a short guest 0.3 s after the stop, and was OOM-killed 5 s
 * later); only its dip, its rise and the lease's end say when it may
 * give again.
 */
static uint32_t plan_preemptible_units(const struct plan_input *in,
				       const struct plan_pool_tick *pt, size_t i,
				       int idle_too)
{
	const struct plan_guest *g = &in->guests[pt->idx[i]];
	uint64_t kept;

	if (pt->n_short <= pt->bids_short[i])
		return 0;
	if (g->shrink_stopped_us &&
	    in->now_us - g->shrink_stopped_us < (int64_t)in->cfg->min_hold_ms * 1000)
		return 0;
	kept = plan_kept_from_short(in, g);
	if (!kept) /* it bids for nothing, nor did lately */
		return idle_too ? pt->held[i] : 0;
	return kept < pt->held[i] ? pt->held[i] - (uint32_t)kept : 0;
}

/*
 * Pool units the short guests of @pt bid short for (preempt_price or more)
 * beyond what they hold, less the @free_units they can grow into and the
 * units other guests' shrinks are unplugging now: what short bids may
 * take past others' dips this tick. Without the unplugs in flight, each
 * tick of a shrink would take the same need again from the next guest.
 */
static uint64_t plan_short_need(const struct plan_input *in,
				const struct plan_pool_tick *pt, uint64_t free_units)
{
	uint64_t need = 0, coming = free_units;

	for (size_t i = 0; i < pt->n; i++) {
		const struct plan_guest *g = &in->guests[pt->idx[i]];
		uint64_t want;

		if (plan_shrinking(g))
			coming += (uint64_t)(pt->held[i] - PLAN_MIN(pt->held[i],
					plan_requested_units(g))) * pt->k[i];
		if (!pt->bids_short[i])
			continue;
		want = market_claimed_units(g->bid, g->n_bid, in->cfg->preempt_price);
		if (want > pt->held[i])
			need += (want - pt->held[i]) * pt->k[i];
	}
	return need > coming ? need - coming : 0;
}

/*
 * What @g, holding @held of its units, may grow back into inside its
 * return window: the units the market took from it in the last
 * return_window_ms that it has not won back. A workload that exits and
 * starts again, or one whose demand dipped, finds them free, not held by
 * another guest's headroom under a lease.
 */
static uint32_t plan_returnable_units(const struct plan_input *in,
				      const struct plan_guest *g, uint32_t held)
{
	if (!g->taken_us ||
	    in->now_us - g->taken_us >= (int64_t)in->cfg->return_window_ms * 1000)
		return 0;
	return g->taken_from_units > held ? g->taken_from_units - held : 0;
}

/* Fill guest @i of @pt: its limits, conduct and curve in pool units. */
static void plan_pool_guest(const struct plan_input *in,
			    struct plan_pool_tick *pt, size_t i)
{
	const struct rammd_config *cfg = in->cfg;
	const struct plan_guest *g = &in->guests[pt->idx[i]];
	struct market_guest *mg = &pt->mg[i];
	struct market_conduct c;
	uint64_t unit = pt->pool->unit_bytes;
	uint32_t k = pt->k[i], held = pt->held[i];
	int64_t now = in->now_us;
	uint32_t permille = plan_tick_permille(in);

	c = plan_conduct(in, g, held);
	pt->conduct[i] = (struct market_conduct){
		.held_units = plan_scale(c.held_units, k),
		.claimed_units = plan_scale(c.claimed_units, k),
		.used_units = plan_scale(c.used_units, k),
		.unplug_asked = plan_scale(c.unplug_asked, k),
		.unplug_done = plan_scale(c.unplug_done, k),
	};
	/* A guest whose device we lost, or cannot manage, still has its
	 * memory plugged: it holds it, frozen, against the supply. */
	mg->frozen = 1;
	mg->cap_units = plan_scale((g->cap_bytes - g->floor_bytes) / g->unit_bytes, k);
	mg->current_units = plan_scale(held, k);
	/* A partial round moves its urgent guest only. */
	if (!g->device_ready || (in->partial && pt->idx[i] != in->urgent))
		return;
	/* Rates per tick_ms of wall time. At least one unit of its own, or a
	 * guest on pages larger than the limits could never move. */
	mg->max_plug_units = (uint32_t)PLAN_MAX(PLAN_MIN(plan_accrue(cfg->max_plug_mib * MIB,
								     permille) / unit,
							 UINT32_MAX), k);
	mg->max_unplug_units = (uint32_t)PLAN_MAX(PLAN_MIN(plan_accrue(cfg->max_unplug_mib * MIB,
								       permille) / unit,
							   UINT32_MAX), k);
	/* An urgent report asks for more: it never costs its guest memory
	 * ahead of the regular tick. */
	if (in->partial)
		mg->max_unplug_units = 0;
	/* A lease: memory just won is being put to use, and taking it back
	 * at once would strike whatever is moving into it. It is what keeps
	 * two short guests from trading memory tick by tick. Only another's
	 * short bid breaks it, for what this one bids little for. */
	if (g->last_grow_us &&
	    now - g->last_grow_us < (int64_t)cfg->min_hold_ms * 1000)
		mg->max_unplug_units = PLAN_MIN(mg->max_unplug_units,
						plan_scale(plan_preemptible_units(in, pt, i, 0), k));
	/* No fresh bid, or a growth still settling: keep what it has. A guest
	 * whose agent is silent never loses memory for it. A shrink in flight
	 * stays in the market, so that a bid winning back what is being
	 * taken can stop it (plan_actuate()); a drain's is not stopped. */
	mg->frozen = (g->resizing && (!plan_shrinking(g) || g->drain)) ||
		     g->excluded || (!g->drain && !plan_usable_bid(in, g));
	mg->offered_units = plan_scale(plan_offered_units(g), k);
	/* It could not give what was asked last time: take only what it
	 * reports free until that passes. A drain too: asking again at once
	 * for what the guest just failed to free only has it migrate pages
	 * for nothing; the daemon gives a drain a shorter window. */
	if (now < g->stuck_until_us)
		mg->max_unplug_units = PLAN_MIN(mg->max_unplug_units, mg->offered_units);
	/* A shrink in flight is never deepened: its target lies between what
	 * it was asked for and what it still holds. An urgent report since it
	 * was decided says the guest is short now: it keeps what it holds. */
	if (plan_shrinking(g) && !mg->frozen) {
		mg->max_plug_units = 0;
		mg->max_unplug_units = plan_scale(held - plan_requested_units(g), k);
		if (plan_urgent_since_decided(g))
			mg->max_unplug_units = 0;
	}
	/* A drained guest bids for nothing: the market takes it back to its
	 * floor at the usual unplug rate. */
	if (mg->frozen || g->drain)
		return;
	mg->steps = g->bid;
	mg->n_steps = g->n_bid;
	if (k > 1) {
		struct ramm_bid_step *s = pt->steps + i * RAMM_MAX_BID_STEPS;

		for (size_t j = 0; j < g->n_bid; j++)
			s[j] = (struct ramm_bid_step){
				.units = plan_scale(g->bid[j].units, k),
				.price = g->bid[j].price,
			};
		mg->steps = s;
	}
}

/*
 * Emergency: the host's MemAvailable is below critical_free_mib. The market
 * for ordinary memory then clears at once with the supply cut to what its
 * guests hold now less the deficit, and takes it back past the usual unplug
 * limits. Returns the emergency supply in pool units, or UINT64_MAX when
 * there is no emergency.
 */
static uint64_t plan_emergency_supply(const struct plan_input *in,
				      const struct plan_pool_tick *pt)
{
	uint64_t avail = in->host.mem_available_bytes;
	uint64_t critical = in->cfg->critical_free_mib * MIB;
	uint64_t unit = pt->pool->unit_bytes;
	uint64_t committed = 0, deficit_units;

	if (!in->host.meminfo_ok || avail >= critical)
		return UINT64_MAX;
	for (size_t i = 0; i < pt->n; i++)
		committed += pt->mg[i].current_units;
	/* While an unplug is in flight, MemAvailable has not yet seen what it
	 * frees: cutting again for the same deficit would take it twice. */
	for (size_t i = 0; i < pt->n; i++)
		if (in->guests[pt->idx[i]].resizing)
			return committed;
	deficit_units = (critical - avail + unit - 1) / unit;
	return committed > deficit_units ? committed - deficit_units : 0;
}

/*
 * The pool's supply in its units: for ordinary memory the host's, less
 * the deficit in an emergency; for a hugetlb pool what its guests hold
 * plus the free pages of its size on its nodes (@hp, NULL if unread).
 * *@income_units is what the pool's income is paid on: the supply before
 * an emergency cut, or a hugetlb pool's whole size, so that guests keep
 * their savings while a pool is empty and can bid the moment a page is
 * free.
 */
static uint64_t plan_pool_supply(const struct plan_input *in,
				 struct plan_pool_tick *pt,
				 struct hugepool_host *hp, int *emergency,
				 uint64_t *income_units)
{
	struct plan_pool *p = pt->pool;
	uint64_t supply, held = 0, free_pages;
	const struct hugepool_size *size;

	*emergency = 0;
	if (!p->page_bytes) {
		uint64_t e;

		supply = plan_ordinary_supply_bytes(in) / p->unit_bytes;
		*income_units = supply;
		e = plan_emergency_supply(in, pt);
		if (e != UINT64_MAX) {
			*emergency = 1;
			supply = PLAN_MIN(supply, e);
		}
		p->free_bytes = 0;
		return supply;
	}
	for (size_t i = 0; i < pt->n; i++)
		held += pt->mg[i].current_units;
	size = hp ? hugepool_find(hp, p->page_bytes) : NULL;
	free_pages = hugepool_available(size, p->host_nodes);
	p->free_bytes = free_pages * p->page_bytes;
	supply = held + p->free_bytes / p->unit_bytes;
	*income_units = PLAN_MAX(supply, size ? size->total_pages * p->page_bytes /
					      p->unit_bytes : 0);
	return supply;
}

/* Plan a resize of guest @i of @pt to @target of its units. */
static void plan_action_add(const struct plan_input *in, struct plan_result *out,
			    struct plan_pool_tick *pt, size_t i,
			    uint32_t target, enum plan_why why)
{
	const struct plan_guest *g = &in->guests[pt->idx[i]];
	struct plan_action *a = &out->actions[out->n_actions++];
	uint64_t total = g->floor_bytes + (uint64_t)target * g->unit_bytes;

	pt->after[i] = target;
	*a = (struct plan_action){
		.guest = pt->idx[i],
		.total_bytes = PLAN_MIN(total, g->cap_bytes),
		.from_units = pt->held[i],
		.to_units = target,
		.price = pt->pool->price,
		.why = why,
		.offered_units = plan_offered_units(g),
		/* An emergency takes past every unplug limit, the stuck
		 * window's too. */
		.only_offered = target < pt->held[i] && in->now_us < g->stuck_until_us &&
				why != PLAN_EMERGENCY,
		/* Not for a guest that bids for nothing: it is the one a
		 * workload starts in again, and its preparation, quick as
		 * its memory is free, is the last look before the unplug. */
		.for_short = target < pt->held[i] && pt->n_short > pt->bids_short[i] &&
			     !plan_bids_for_nothing(in, g),
	};
	/* Memory taken because the guest stopped bidding for it, not for
	 * another guest's higher bid (the pool's price is 0 then), is its
	 * to grow back into first. What an emergency or a drain takes is the
	 * host's or the operator's. */
	if (why == PLAN_NO_BID || (why == PLAN_OUTBID && !pt->pool->price)) {
		struct plan_guest_result *r = &out->guests[pt->idx[i]];

		/* A window open runs its course: a guest shrinking step by
		 * step does not keep memory back for ever. */
		if (!plan_returnable_units(in, g, pt->held[i])) {
			r->taken_from_units = pt->held[i];
			r->taken_us = in->now_us;
		}
	}
	if (why == PLAN_GROW)
		a->bid = plan_bid_for_unit(g, (uint64_t)pt->held[i] + 1);
	else if (why == PLAN_STOP_SHRINK)
		a->bid = plan_bid_for_unit(g, (uint64_t)plan_requested_units(g) + 1);
	else if (why != PLAN_RAISE_TO_FLOOR)
		a->bid = plan_bid_for_unit(g, (uint64_t)target + 1);
}

/* Why a guest shrinks to @target: the reason the market had. */
static enum plan_why plan_shrink_why(const struct plan_input *in,
				     const struct plan_guest *g,
				     uint32_t target, int emergency)
{
	if (g->drain)
		return PLAN_DRAIN;
	if (emergency && !plan_hugetlb(in, g))
		return PLAN_EMERGENCY;
	return plan_bid_for_unit(g, (uint64_t)target + 1) ? PLAN_OUTBID : PLAN_NO_BID;
}

uint64_t plan_rise_update(struct plan_rise *r, uint64_t wss_bytes, int64_t now_us)
{
	uint64_t up = wss_bytes > r->wss_bytes ? wss_bytes - r->wss_bytes : 0;
	uint64_t span_us, bps = 0;

	if (!r->at_us || now_us < r->at_us) {
		*r = (struct plan_rise){ .at_us = now_us, .wss_bytes = wss_bytes };
		return 0;
	}
	span_us = (uint64_t)(now_us - r->at_us);
	if (span_us < PLAN_RISE_MIN_SPAN_US) {
		if (wss_bytes < r->wss_bytes) {
			r->at_us = now_us;
			r->wss_bytes = wss_bytes;
		}
		return r->bps;
	}
	if (up >= PLAN_RISE_MIN_BYTES)
		bps = up > UINT64_MAX / 1000000 ? UINT64_MAX / span_us
						: up * 1000000 / span_us;
	r->bps = PLAN_MAX(bps, r->bps / 2);
	if (r->bps < PLAN_RISE_BYTES_PER_S)
		r->bps = 0;
	r->at_us = now_us;
	r->wss_bytes = wss_bytes;
	return r->bps;
}

/*
 * How far ahead a rising working set keeps what it will use: about as long
 * as memory taken from a guest takes to come back once it is short (a
 * report, a round, the plug and its hold; the soak's grants took up to 9 s
 * at p90), and the soak's window for blaming a shrink for an OOM kill.
 */
#define PLAN_RISE_HORIZON_MS 10000ull

/*
 * Of the @held units of @g, those it keeps because its working set is
 * rising: all but what would still be available to it after
 * PLAN_RISE_HORIZON_MS more of its latest rise. Its bid lags such a
 * workload (a report a second, its rise projected 2 s ahead), and shrinks
 * decided on the lag were followed by OOM kills 1-6 s later in the soak,
 * four times in ten minutes: a guest whose workload had just started bid
 * for its working set so far, and what it was about to use was taken,
 * for another guest's short bid or as spare. 0 for a guest not rising.
 */
static uint32_t plan_rise_keeps(const struct plan_guest *g, uint32_t held)
{
	uint64_t avail = g->mem_available_bytes, soon, takeable;

	if (!g->wss_rise_bps || !g->have_report || !g->unit_bytes)
		return 0;
	soon = g->wss_rise_bps > UINT64_MAX / PLAN_RISE_HORIZON_MS
		       ? UINT64_MAX
		       : g->wss_rise_bps * PLAN_RISE_HORIZON_MS / 1000;
	takeable = (avail - PLAN_MIN(avail, soon)) / g->unit_bytes;
	return takeable < held ? held - (uint32_t)takeable : 0;
}

/*
 * A dip must last: the market must have wanted guest @i of @pt smaller on
 * every tick for shrink_delay_ms before memory is taken, because a guest
 * whose demand just fell (a workload exiting or restarting, an OOM kill)
 * often grows again at once, and the OOM killer would strike what
 * restarts. Emergency reclaim and drains do not wait, nor does what
 * another guest's short bid may take (plan_preemptible_units()), up to
 * the pool units still in *@short_need (plan_short_need()), which this
 * lowers by what it takes: a guest whose workload may start again gives
 * what a short one lacks now, not all it does not bid for. Nor, in any of
 * these, what a rising working set will use soon (plan_rise_keeps()),
 * whatever its bid says. Records in @r
 * since when it has been wanted; returns the size, in its units, it may
 * be shrunk to now: @target, or less deep while the dip waits.
 */
static uint32_t plan_shrink_now(const struct plan_input *in,
				const struct plan_pool_tick *pt, size_t i,
				struct plan_guest_result *r, uint32_t target,
				int emergency, uint64_t *short_need)
{
	const struct plan_guest *g = &in->guests[pt->idx[i]];
	enum plan_why why = plan_shrink_why(in, g, target, emergency);
	uint32_t take;

	if (why == PLAN_EMERGENCY || why == PLAN_DRAIN)
		return target;
	target = PLAN_MAX(target, plan_rise_keeps(g, pt->held[i]));
	r->shrink_since_us = g->shrink_since_us ? g->shrink_since_us : in->now_us;
	r->shrink_waits = in->now_us - r->shrink_since_us <
			  (int64_t)in->cfg->shrink_delay_ms * 1000;
	if (!r->shrink_waits)
		return target;
	take = PLAN_MIN(pt->held[i] - target, plan_preemptible_units(in, pt, i, 1));
	take = (uint32_t)PLAN_MIN(take, *short_need / pt->k[i]);
	*short_need -= (uint64_t)take * pt->k[i];
	return pt->held[i] - take;
}

/*
 * Of @g's plugged memory, what it may not have touched yet: host memory
 * MemAvailable still counts as free although it is promised. A plugged
 * block the guest never touched is free in the guest, so its report's
 * MemAvailable bounds it; without a report, all of it. A guest that pins
 * what it plugs, or one in a hugetlb pool, has touched all it will take.
 */
static uint64_t plan_untouched_bytes(const struct plan_input *in,
				     const struct plan_guest *g)
{
	if (!g->in_market || g->pins_memory || plan_hugetlb(in, g))
		return 0;
	return g->have_report ? PLAN_MIN(g->size_bytes, g->mem_available_bytes)
			      : g->size_bytes;
}

/*
 * Ordinary memory the host has free for growth now: MemAvailable less
 * critical_free_mib, less the growth still in flight (requested but not
 * plugged yet: MemAvailable has not seen it go). The books cannot see
 * memory used by unmanaged VMs, the ZFS ARC or host services; this can.
 * UINT64_MAX when meminfo was not read: then the books are all there is.
 * *@untouched: what guests in ordinary memory plugged and may not have
 * touched yet (plan_untouched_bytes()).
 */
static uint64_t plan_host_free_bytes(const struct plan_input *in,
				     uint64_t *untouched)
{
	uint64_t critical = in->cfg->critical_free_mib * MIB, in_flight = 0;
	uint64_t avail = in->host.mem_available_bytes;

	*untouched = 0;
	for (size_t i = 0; i < in->n_guests; i++) {
		const struct plan_guest *g = &in->guests[i];

		*untouched += plan_untouched_bytes(in, g);
		if (g->in_market && !plan_hugetlb(in, g) &&
		    g->requested_bytes > g->size_bytes)
			in_flight += g->requested_bytes - g->size_bytes;
	}
	if (!in->host.meminfo_ok)
		return UINT64_MAX;
	return avail > critical + in_flight ? avail - critical - in_flight : 0;
}

/* A guest's device is not known yet: it may hold memory the books and
 * MemAvailable are about to lose. */
static int plan_device_unknown(const struct plan_input *in)
{
	for (size_t i = 0; i < in->n_guests; i++)
		if (in->guests[i].device_unknown)
			return 1;
	return 0;
}

/*
 * Whether the shrink in flight of @g, which this round's target would
 * undo, is called off: the guest bids more for the first unit taken than
 * it did when the shrink was decided (plan_guest.shrink_bid), the mark of
 * a workload that came back; its bid lags such a workload, so stopping
 * where the device stands is what keeps it from the OOM killer. Not the
 * target alone: the shrink lowers the guest's bill, so a budget-bound
 * guest's balance, and the market's target, rise while it is under way.
 * Nor an urgent report alone: the unplug's own page migration has the
 * guest's kernel reclaim, which its agent reports urgent. Stopped on
 * either, a budget-bound guest whose in-use memory the market took was
 * shrunk again every shrink_delay_ms, for minutes (lab, three kernel-mode
 * guests under a steady overcommit).
 */
static int plan_shrink_called_off(const struct plan_guest *g)
{
	return plan_bid_for_unit(g, (uint64_t)plan_requested_units(g) + 1) >
	       g->shrink_bid;
}

/*
 * Carry out one pool's targets. Shrinks go first; growth is granted only
 * out of memory that is free now, so the plugged total never exceeds the
 * pool's supply, even for a moment while another guest is still
 * unplugging. In ordinary memory it must also be free on the host
 * (plan_host_free_bytes()), and a guest that pins what it plugs grows
 * only into memory no other guest may yet touch. Memory in another
 * guest's return window (plan_returnable_units()) is left to it, unless
 * the guest growing bids short. Growth held back here is granted on a
 * later tick, once the unplugs it waits for have completed.
 * In a partial round only the urgent guest is planned, and only up.
 * Returns the pool units granted to growth.
 */
static uint64_t plan_actuate(const struct plan_input *in, struct plan_result *out,
			     struct plan_pool_tick *pt, int emergency)
{
	uint64_t committed = 0, free_units, granted = 0, returnable = 0;
	uint64_t unit = pt->pool->unit_bytes, short_need;
	uint64_t host_free = UINT64_MAX, untouched = 0;
	int unknown = plan_device_unknown(in);

	for (size_t i = 0; i < pt->n; i++)
		committed += (uint64_t)pt->held[i] * pt->k[i];
	free_units = pt->supply_units > committed ? pt->supply_units - committed : 0;
	short_need = plan_short_need(in, pt, free_units);
	if (!pt->pool->page_bytes)
		host_free = plan_host_free_bytes(in, &untouched);

	for (size_t i = 0; i < pt->n; i++) {
		const struct plan_guest *g = &in->guests[pt->idx[i]];
		struct plan_guest_result *r = &out->guests[pt->idx[i]];
		uint32_t k = pt->k[i], held = pt->held[i], target;

		if (!g->device_ready || (in->partial && pt->idx[i] != in->urgent))
			continue;
		/* A guest below its floor (a new floor, a short plug) is
		 * raised to it whatever the bids say; an excluded one is
		 * kept at its size, as excluded means. */
		if (!g->resizing && !g->excluded &&
		    g->boot_bytes + g->requested_bytes < g->floor_bytes) {
			uint64_t need = (g->floor_bytes - g->boot_bytes -
					 g->requested_bytes + unit - 1) / unit;

			/* Floors are guaranteed, but what a raise plugs is
			 * gone from the host for the growth after it. */
			if (host_free != UINT64_MAX)
				host_free -= PLAN_MIN(host_free, need * unit);

			/* Floors sit outside ordinary memory's supply, but a
			 * hugetlb guest's floor is made of the pool's free
			 * pages: what the raise plugs is no longer free for
			 * growth, here or in a later pool on the same nodes. */
			if (pt->pool->page_bytes) {
				need = PLAN_MIN(need, free_units);
				free_units -= need;
				granted += need;
			}
			plan_action_add(in, out, pt, i, 0, PLAN_RAISE_TO_FLOOR);
			continue;
		}
		/* Whole units of its own, rounded towards what it holds. */
		target = pt->targets[i] >= (uint64_t)held * k
				 ? pt->targets[i] / k
				 : (pt->targets[i] + k - 1) / k;
		r->target_units = target;
		r->planned = 1;
		if (pt->mg[i].frozen)
			continue;
		if (plan_shrinking(g)) {
			/* A guest that bids more for what is being taken is
			 * growing again (plan_shrink_called_off()): the whole
			 * shrink is called off where the device stands, and
			 * a new dip must last before it is shrunk again. An
			 * emergency's unplugs are not called off, nor a shrink
			 * the market left short only to take another guest's
			 * units that nobody bids for either. */
			if (!emergency && target > plan_requested_units(g) &&
			    plan_shrink_called_off(g))
				plan_action_add(in, out, pt, i, held, PLAN_STOP_SHRINK);
			continue;
		}
		if (target < held && !in->partial)
			target = plan_shrink_now(in, pt, i, r, target, emergency,
						 &short_need);
		if (target < held && !in->partial)
			plan_action_add(in, out, pt, i, target,
					plan_shrink_why(in, g, target, emergency));
	}
	for (size_t i = 0; i < pt->n; i++)
		returnable += plan_scale(plan_returnable_units(in, &in->guests[pt->idx[i]],
							       pt->held[i]), pt->k[i]);
	for (size_t i = 0; i < pt->n; i++) {
		const struct plan_guest *g = &in->guests[pt->idx[i]];
		struct plan_guest_result *r = &out->guests[pt->idx[i]];
		uint32_t k = pt->k[i], held = pt->held[i];
		uint64_t grow, room = free_units, host_room = host_free;
		uint64_t own = plan_scale(plan_returnable_units(in, g, held), k);

		if (pt->mg[i].frozen || !g->device_ready ||
		    r->target_units <= held || g->resizing)
			continue;
		/* Others' return windows: a short bid does not wait for them,
		 * and a guest growing back into its own takes that first:
		 * free memory may be claimed by two windows at once, and
		 * this one is asking for it. */
		if (!pt->bids_short[i])
			room = PLAN_MIN(room, room - PLAN_MIN(room, returnable - own) + own);
		if (g->pins_memory && host_room != UINT64_MAX)
			host_room -= PLAN_MIN(host_room, untouched);
		if (host_room != UINT64_MAX)
			room = PLAN_MIN(room, host_room / unit);
		grow = unknown ? 0 : PLAN_MIN((uint64_t)(r->target_units - held) * k, room);
		grow -= grow % k;
		if (!grow) {
			r->growth_waits = 1;
			continue;
		}
		returnable -= PLAN_MIN(grow, own);
		free_units -= grow;
		if (host_free != UINT64_MAX)
			host_free -= grow * unit;
		granted += grow;
		plan_action_add(in, out, pt, i, held + (uint32_t)(grow / k), PLAN_GROW);
	}
	return granted;
}

/*
 * Settle the pool's accounts at @price. A guest pays for what it holds and
 * keeps once this tick's actions are carried out, at most its target: not
 * for growth it won that waits for memory (being unplugged elsewhere, or
 * not free on the host), nor for units being taken from it.
 */
static void plan_settle(struct plan_result *out, struct plan_pool_tick *pt,
			const struct market_budget *budget, uint32_t price)
{
	for (size_t i = 0; i < pt->n; i++)
		pt->billed[i] = PLAN_MIN(pt->targets[i], plan_scale(pt->after[i], pt->k[i]));
	market_settle(budget, pt->accounts, pt->billed, pt->n, price, pt->spent);
	for (size_t i = 0; i < pt->n; i++) {
		struct plan_guest_result *r = &out->guests[pt->idx[i]];

		r->paid = pt->spent[i];
		r->account = pt->accounts[i];
	}
}

/* Clear pool @pt and plan its resizes; @hp loses the pages granted. */
static void plan_clear_pool(const struct plan_input *in, struct plan_result *out,
			    struct plan_pool_tick *pt, struct hugepool_host *hp)
{
	struct plan_pool *p = pt->pool;
	struct market_params params;
	struct market_budget budget;
	struct market_credit_params credit;
	struct market_result result;
	uint64_t granted, income_units;
	uint32_t permille = plan_tick_permille(in);
	int emergency, ret;

	pt->n_short = 0;
	for (size_t i = 0; i < pt->n; i++) {
		pt->held[i] = plan_held_units(&in->guests[pt->idx[i]]);
		pt->after[i] = pt->held[i];
		pt->accounts[i] = out->guests[pt->idx[i]].account;
		out->guests[pt->idx[i]].taken_us = in->guests[pt->idx[i]].taken_us;
		out->guests[pt->idx[i]].taken_from_units =
			in->guests[pt->idx[i]].taken_from_units;
		pt->bids_short[i] = (uint8_t)plan_bids_short(in, pt, i);
		pt->n_short += pt->bids_short[i];
	}
	for (size_t i = 0; i < pt->n; i++)
		plan_pool_guest(in, pt, i);
	pt->supply_units = plan_pool_supply(in, pt, hp, &emergency, &income_units);
	if (!p->page_bytes)
		out->emergency = emergency;
	/* An emergency is the regular tick's to handle: an urgent report
	 * never has its guest reclaimed ahead of it. */
	if (in->partial && emergency)
		for (size_t i = 0; i < pt->n; i++)
			pt->mg[i].frozen = 1;
	config_market(in->cfg, p->unit_bytes / MIB, income_units, &params,
		      &budget, &credit);
	/* Income, bills, and credit earned or lost for idling are rates:
	 * paid for the wall time since the last regular tick. */
	budget.tick_permille = permille ? permille : 1;
	credit.rise = (uint32_t)plan_accrue(credit.rise, permille);
	credit.fall_idle = (uint32_t)plan_accrue(credit.fall_idle, permille);
	params.supply_units = pt->supply_units;
	params.emergency = emergency;
	ret = market_round(&params, &budget, &credit, pt->mg, pt->accounts,
			   pt->conduct, pt->n, pt->targets, &result);
	if (ret) {
		p->error = ret;
		return;
	}
	p->price = result.price;
	p->supply_bytes = pt->supply_units * p->unit_bytes;
	p->allocated_bytes = result.allocated_units * p->unit_bytes;
	p->demand_bytes = result.demand_units * p->unit_bytes;
	for (size_t i = 0; i < pt->n; i++)
		out->guests[pt->idx[i]].price = result.price;
	granted = plan_actuate(in, out, pt, emergency);
	/* A partial round settles nothing: the accounts stay as the tick
	 * found them. */
	if (!in->partial)
		plan_settle(out, pt, &budget, result.price);
	if (p->page_bytes && hp)
		hugepool_take(hugepool_find(hp, p->page_bytes), p->host_nodes,
			      granted * p->unit_bytes / p->page_bytes);
}

static void plan_pool_tick_free(struct plan_pool_tick *pt)
{
	free(pt->idx);
	free(pt->k);
	free(pt->held);
	free(pt->after);
	free(pt->billed);
	free(pt->spent);
	free(pt->mg);
	free(pt->targets);
	free(pt->accounts);
	free(pt->conduct);
	free(pt->steps);
	free(pt->bids_short);
}

static int plan_pool_tick_alloc(struct plan_pool_tick *pt, size_t n)
{
	size_t m = n ? n : 1;

	*pt = (struct plan_pool_tick){
		.idx = calloc(m, sizeof(*pt->idx)),
		.k = calloc(m, sizeof(*pt->k)),
		.held = calloc(m, sizeof(*pt->held)),
		.after = calloc(m, sizeof(*pt->after)),
		.billed = calloc(m, sizeof(*pt->billed)),
		.spent = calloc(m, sizeof(*pt->spent)),
		.mg = calloc(m, sizeof(*pt->mg)),
		.targets = calloc(m, sizeof(*pt->targets)),
		.accounts = calloc(m, sizeof(*pt->accounts)),
		.conduct = calloc(m, sizeof(*pt->conduct)),
		.steps = calloc(m * RAMM_MAX_BID_STEPS, sizeof(*pt->steps)),
		.bids_short = calloc(m, sizeof(*pt->bids_short)),
	};
	if (!pt->idx || !pt->k || !pt->held || !pt->after || !pt->billed ||
	    !pt->spent || !pt->mg || !pt->targets ||
	    !pt->accounts || !pt->conduct || !pt->steps || !pt->bids_short) {
		plan_pool_tick_free(pt);
		return -ENOMEM;
	}
	return 0;
}

/* Open the account of every guest that has none, on the budget of
 * ordinary memory, the one pool every host has; market_settle() caps a
 * balance to its own pool's later. */
static void plan_open_accounts(const struct plan_input *in, struct plan_result *out)
{
	struct market_params params;
	struct market_budget budget;
	struct market_credit_params credit;
	uint64_t total_weight = 0;

	config_market(in->cfg, in->cfg->unit_mib,
		      plan_ordinary_supply_bytes(in) / (in->cfg->unit_mib * MIB),
		      &params, &budget, &credit);
	for (size_t i = 0; i < in->n_guests; i++)
		total_weight += in->guests[i].weight;
	for (size_t i = 0; i < in->n_guests; i++) {
		const struct plan_guest *g = &in->guests[i];
		struct plan_guest_result *r = &out->guests[i];

		r->account_open = 1;
		r->account = g->account_open ? g->account :
			     market_account_open(&budget, g->weight, total_weight);
	}
}

int plan_tick(const struct plan_input *in, struct plan_result *out)
{
	struct hugepool_host hp = in->host.hugepools;
	struct plan_pool_tick pt;
	int ret;

	if (in->partial && in->urgent >= in->n_guests)
		return -EINVAL;
	ret = plan_pool_tick_alloc(&pt, in->n_guests);
	if (ret)
		return ret;
	out->emergency = 0;
	out->n_actions = 0;
	out->n_pools = 1;
	out->pools[0] = (struct plan_pool){ .unit_bytes = in->cfg->unit_mib * MIB };
	snprintf(out->pools[0].name, sizeof(out->pools[0].name), "ordinary");
	memset(out->guests, 0, in->n_guests * sizeof(*out->guests));
	plan_open_accounts(in, out);
	for (size_t i = 0; i < in->n_guests; i++)
		out->guests[i].pool = plan_pool_of(in, out, &in->guests[i],
						   &out->guests[i].too_many_pools);
	for (size_t p = 0; p < out->n_pools; p++) {
		pt.pool = &out->pools[p];
		pt.n = 0;
		memset(pt.mg, 0, sizeof(*pt.mg) * (in->n_guests ? in->n_guests : 1));
		for (size_t i = 0; i < in->n_guests; i++) {
			if (out->guests[i].pool != (int)p)
				continue;
			pt.idx[pt.n] = i;
			pt.k[pt.n] = (uint32_t)(in->guests[i].unit_bytes /
						pt.pool->unit_bytes);
			pt.n++;
		}
		pt.pool->n_guests = (uint32_t)pt.n;
		plan_clear_pool(in, out, &pt, in->host.hugepools_ok ? &hp : NULL);
	}
	plan_pool_tick_free(&pt);
	return 0;
}
