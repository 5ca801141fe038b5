/* SPDX-License-Identifier: MIT */
/*
 * rammd: the host memory broker. Each tick it collects the guests' bids,
 * clears the market (market.c) and resizes the virtio-mem devices whose
 * target changed, through the guests' backends.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>

#include "agent_chan.h"
#include "control.h"
#include "guest.h"
#include "hugepool.h"
#include "log.h"
#include "market.h"
#include "metrics.h"
#include "../guest-agent/proc_sample.h"
#include "rammd.h"
#include "rammd_ops.h"

#define MIB (1024ULL * 1024ULL)
/* Urgent reports may pull a tick forward, but never closer than this. */
#define RAMMD_MIN_TICK_GAP_MS 200
/* The state file is saved every this many clearings (and on every change
 * an operator makes, and at exit): a crash loses at most this many ticks
 * of balance. */
#define RAMMD_SAVE_TICKS 10
#define RAMMD_SCAN_SUFFIX ".qmp"
#define RAMMD_AGENT_SUFFIX ".agent"

int64_t rammd_now_us(void)
{
	return g_get_monotonic_time();
}

uint64_t rammd_unit_bytes(const struct rammd *d)
{
	return d->cfg.unit_mib * MIB;
}

/* ---- supply -------------------------------------------------------- */

/* Backed by hugetlbfs: its memory comes from a huge-page pool, not from
 * the host's ordinary memory. */
static int rammd_guest_hugetlb(const struct guest *g)
{
	return g->dev.page_bytes > (uint64_t)getpagesize();
}

/* Ordinary memory auctionable above every floor: configured, or host RAM
 * less the reserve, less what hugetlb pools set aside (@set_aside: no
 * ordinary guest can use it), less what the floors of guests in ordinary
 * memory pin. @host is the host's /proc/meminfo this tick, NULL if it
 * could not be read. */
static uint64_t rammd_supply_bytes(struct rammd *d,
				   const struct proc_sample *host,
				   uint64_t set_aside)
{
	uint64_t total, pinned;

	if (d->cfg.supply_mib != CONFIG_SUPPLY_AUTO)
		return d->cfg.supply_mib * MIB;
	if (!host)
		return 0;
	total = host->mem_total_kib * 1024;
	pinned = d->cfg.host_reserve_mib * MIB + set_aside;
	for (guint i = 0; i < d->guests->len; i++) {
		struct guest *g = g_ptr_array_index(d->guests, i);

		if (g->dev_known && !rammd_guest_hugetlb(g))
			pinned += g->floor_bytes;
	}
	return total > pinned ? total - pinned : 0;
}

/* ---- the market tick ------------------------------------------------- */

uint32_t rammd_guest_weight(const struct rammd *d, const struct guest *g)
{
	if (g->ov.weight)
		return g->ov.weight;
	return g->cfg.weight ? g->cfg.weight : d->cfg.default_weight;
}

static int rammd_guest_usable_bid(const struct rammd *d, const struct guest *g,
				  int64_t now)
{
	return g->have_report &&
	       now - g->report_us <= (int64_t)d->cfg.stale_report_ms * 1000 &&
	       g->report.unit_bytes == g->unit_bytes;
}

/* What @g bids for its @k-th unit above the floor; 0 without a report. */
static uint32_t rammd_bid_for_unit(const struct guest *g, uint64_t k)
{
	return g->have_report ? market_bid_price(g->report.bid, g->report.n_bid, k) : 0;
}

/* Resize @g to @target of its units above its floor, granted at @price,
 * and log the decision with the reason the market had for it, one line
 * per decision. */
static void rammd_apply(struct rammd *d, struct guest *g, uint32_t target,
			uint32_t held, uint32_t price, int64_t now,
			const char *why)
{
	uint64_t total = g->floor_bytes + (uint64_t)target * g->unit_bytes;
	uint32_t offered = guest_offered_units(g); /* before the resize */
	char reason[128];
	int ret;

	if (total > g->cap_bytes)
		total = g->cap_bytes;
	if (why) {
		snprintf(reason, sizeof(reason), "%s", why);
	} else if (target > held) {
		snprintf(reason, sizeof(reason), "bids %u for unit %u, price %u",
			 rammd_bid_for_unit(g, held + 1), held + 1, price);
	} else {
		uint32_t bid = rammd_bid_for_unit(g, (uint64_t)target + 1);

		if (g->ov.drain)
			snprintf(reason, sizeof(reason),
				 "drained by the operator");
		else if (d->emergency && !rammd_guest_hugetlb(g))
			snprintf(reason, sizeof(reason),
				 "emergency reclaim: bids %u for unit %u, price %u",
				 bid, target + 1, price);
		else if (bid)
			snprintf(reason, sizeof(reason),
				 "outbid: bids %u for unit %u, price %u", bid,
				 target + 1, price);
		else
			snprintf(reason, sizeof(reason),
				 "no longer bids for units above %u", target);
	}
	ret = guest_resize(g, total, price, now);
	if (ret) {
		log_warn("guest %s: resize to %llu MiB failed: %s", g->cfg.name,
			 (unsigned long long)(total / MIB), strerror(-ret));
		return;
	}
	if (target >= held) {
		log_info("guest %s: grow %u -> %u units of %llu MiB (%llu MiB total): %s",
			 g->cfg.name, held, target,
			 (unsigned long long)(g->unit_bytes / MIB),
			 (unsigned long long)(total / MIB), reason);
		return;
	}
	/* What it offers, and whether only that may be taken: the figures
	 * an operator needs to judge a shrink of memory in use. */
	log_info("guest %s: shrink %u -> %u units of %llu MiB (%llu MiB total): %s; offers %u%s",
		 g->cfg.name, held, target,
		 (unsigned long long)(g->unit_bytes / MIB),
		 (unsigned long long)(total / MIB), reason, offered,
		 now < g->stuck_until_us ? ", only offered units taken after a short unplug" : "");
}

/*
 * One pool's clearing, in the pool's unit. A guest whose unit is @k[i]
 * pool units is counted in pool units and moved only in whole units of its
 * own: its targets are rounded towards what it holds.
 */
struct rammd_pool_tick {
	struct rammd_pool *pool;
	guint n;                   /* guests in the pool */
	struct guest **guests;     /* [n] */
	uint32_t *k;               /* [n]: its unit in pool units */
	uint32_t *held;            /* [n]: its units held (its own unit) */
	struct market_guest *mg;   /* [n], in pool units */
	uint32_t *targets;         /* [n], in pool units */
	struct market_account *accounts;
	struct market_conduct *conduct;
	struct ramm_bid_step *steps; /* [n * RAMM_MAX_BID_STEPS]: curves of
				      * guests with k > 1, in pool units */
	uint64_t supply_units;
};

/* Pool units for @units of a guest whose unit is @k of them, saturating. */
static uint32_t rammd_scale(uint64_t units, uint32_t k)
{
	uint64_t v = units * k;

	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/*
 * Carry out one pool's targets. Shrinks go first and at once; growth is
 * granted only out of memory that is free now, so the plugged total never
 * exceeds the pool's supply, even for a moment while another guest is
 * still unplugging. Growth held back here is granted on a later tick, once
 * the unplugs it waits for have completed. Returns the pool units granted
 * to growth.
 */
static uint64_t rammd_actuate(struct rammd *d, struct rammd_pool_tick *pt,
			      uint32_t price, int64_t now)
{
	uint64_t committed = 0, free_units, granted = 0;

	for (guint i = 0; i < pt->n; i++)
		committed += (uint64_t)pt->held[i] * pt->k[i];
	free_units = pt->supply_units > committed ? pt->supply_units - committed : 0;

	for (guint i = 0; i < pt->n; i++) {
		struct guest *g = pt->guests[i];
		uint32_t k = pt->k[i], held = pt->held[i], target;

		if (!g->device_ready)
			continue;
		/* A guest below its floor (a new floor, a short plug) is
		 * raised to it whatever the bids say. */
		if (!g->resizing &&
		    g->dev.boot_bytes + g->dev.requested_bytes < g->floor_bytes) {
			rammd_apply(d, g, 0, 0, price, now, "raised to its floor");
			continue;
		}
		/* Whole units of its own, rounded towards what it holds. */
		target = pt->targets[i] >= (uint64_t)held * k
				 ? pt->targets[i] / k
				 : (pt->targets[i] + k - 1) / k;
		g->target_units = target;
		if (!pt->mg[i].frozen && target < held)
			rammd_apply(d, g, target, held, price, now, NULL);
	}
	for (guint i = 0; i < pt->n; i++) {
		struct guest *g = pt->guests[i];
		uint32_t k = pt->k[i], held = pt->held[i];
		uint64_t grow;

		if (pt->mg[i].frozen || !g->device_ready ||
		    g->target_units <= held || g->resizing)
			continue;
		grow = MIN((uint64_t)(g->target_units - held) * k, free_units);
		grow -= grow % k;
		if (!grow) {
			log_debug("guest %s: growth waits for memory being unplugged",
				  g->cfg.name);
			continue;
		}
		free_units -= grow;
		granted += grow;
		rammd_apply(d, g, held + (uint32_t)(grow / k), held, price, now,
			    NULL);
	}
	return granted;
}

/*
 * Emergency: the host's MemAvailable is below critical_free_mib. The market
 * for ordinary memory then clears at once with the supply cut to what its
 * guests hold now less the deficit, and takes it back past the usual unplug
 * limits. Returns the emergency supply in pool units, or UINT64_MAX when
 * there is no emergency.
 */
static uint64_t rammd_emergency_supply(struct rammd *d,
				       const struct proc_sample *host,
				       const struct rammd_pool_tick *pt)
{
	uint64_t avail = host ? host->mem_available_kib * 1024 : 0;
	uint64_t critical = d->cfg.critical_free_mib * MIB;
	uint64_t unit = pt->pool->unit_bytes;
	uint64_t committed = 0, deficit_units;
	int emergency = host && avail < critical;

	if (emergency != d->emergency)
		log_warn("host: MemAvailable %s critical_free_mib %llu MiB: %s",
			 emergency ? "below" : "back above",
			 (unsigned long long)d->cfg.critical_free_mib,
			 emergency ? "emergency clearing, reclaiming from the lowest bids"
				   : "normal clearing");
	d->emergency = emergency;
	if (!emergency)
		return UINT64_MAX;
	for (guint i = 0; i < pt->n; i++)
		committed += pt->mg[i].current_units;
	/*
	 * While an unplug is in flight, MemAvailable has not yet seen what it
	 * frees: cutting again for the same deficit would take it twice.
	 */
	for (guint i = 0; i < pt->n; i++)
		if (pt->guests[i]->resizing)
			return committed;
	deficit_units = (critical - avail + unit - 1) / unit;
	return committed > deficit_units ? committed - deficit_units : 0;
}

/* The credit score's view of @g's last tick (see market_credit_next()),
 * in its own units. */
static struct market_conduct rammd_conduct(struct rammd *d, struct guest *g,
					   uint32_t held)
{
	struct market_conduct c = { .held_units = held, .used_units = held };
	uint64_t avail_units;

	c.unplug_asked = g->unplug_asked_units;
	c.unplug_done = g->unplug_done_units;
	g->unplug_asked_units = g->unplug_done_units = 0;
	if (!g->have_report)
		return c; /* nothing claimed, nothing to judge */
	c.claimed_units = (uint32_t)market_claimed_units(g->report.bid,
				g->report.n_bid, d->cfg.claim_price);
	avail_units = g->report.mem_available_kib * 1024 / g->unit_bytes;
	c.used_units = avail_units < held ? held - (uint32_t)avail_units : 0;
	return c;
}

/* Fill guest @i of @pt: its limits, conduct and curve in pool units. */
static void rammd_pool_guest(struct rammd *d, struct rammd_pool_tick *pt,
			     guint i, int64_t now)
{
	struct guest *g = pt->guests[i];
	struct market_guest *mg = &pt->mg[i];
	struct market_conduct c;
	uint64_t unit = pt->pool->unit_bytes;
	uint32_t k = pt->k[i], held = guest_held_units(g);

	pt->held[i] = held;
	pt->accounts[i] = g->account;
	c = rammd_conduct(d, g, held);
	pt->conduct[i] = (struct market_conduct){
		.held_units = rammd_scale(c.held_units, k),
		.claimed_units = rammd_scale(c.claimed_units, k),
		.used_units = rammd_scale(c.used_units, k),
		.unplug_asked = rammd_scale(c.unplug_asked, k),
		.unplug_done = rammd_scale(c.unplug_done, k),
	};
	/* A guest whose device we lost, or cannot manage, still has its
	 * memory plugged: it holds it, frozen, against the supply. */
	mg->frozen = 1;
	mg->cap_units = rammd_scale((g->cap_bytes - g->floor_bytes) / g->unit_bytes, k);
	mg->current_units = rammd_scale(held, k);
	if (!g->device_ready)
		return;
	/* At least one unit of its own, or a guest on pages larger than the
	 * limits could never move. */
	mg->max_plug_units = (uint32_t)MAX(MIN(d->cfg.max_plug_mib * MIB / unit,
					       UINT32_MAX), k);
	mg->max_unplug_units = (uint32_t)MAX(MIN(d->cfg.max_unplug_mib * MIB / unit,
						 UINT32_MAX), k);
	/* A lease: memory just won is being put to use, and taking it back
	 * at once would strike whatever is moving into it. It is what keeps
	 * two short guests from trading memory tick by tick. */
	if (g->last_grow_us &&
	    now - g->last_grow_us < (int64_t)d->cfg.min_hold_ms * 1000)
		mg->max_unplug_units = 0;
	/* No fresh bid, or a resize still settling: keep what it has. A guest
	 * whose agent is silent never loses memory for it. */
	mg->frozen = g->resizing || g->ov.excluded || g->cfg.excluded ||
		     (!g->ov.drain && !rammd_guest_usable_bid(d, g, now));
	mg->offered_units = rammd_scale(guest_offered_units(g), k);
	/* It could not give what was asked last time: take only what it
	 * reports free until that passes. */
	if (now < g->stuck_until_us)
		mg->max_unplug_units = MIN(mg->max_unplug_units, mg->offered_units);
	/* A drained guest bids for nothing: the market takes it back to its
	 * floor at the usual unplug rate. */
	if (mg->frozen || g->ov.drain)
		return;
	mg->steps = g->report.bid;
	mg->n_steps = g->report.n_bid;
	if (k > 1) {
		struct ramm_bid_step *s = pt->steps + (size_t)i * RAMM_MAX_BID_STEPS;

		for (size_t j = 0; j < g->report.n_bid; j++)
			s[j] = (struct ramm_bid_step){
				.units = rammd_scale(g->report.bid[j].units, k),
				.price = g->report.bid[j].price,
			};
		mg->steps = s;
	}
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
static uint64_t rammd_pool_supply(struct rammd *d, struct rammd_pool_tick *pt,
				  const struct proc_sample *host,
				  struct hugepool_host *hp, int *emergency,
				  uint64_t *income_units)
{
	struct rammd_pool *p = pt->pool;
	uint64_t supply = 0, held = 0, free_pages;
	const struct hugepool_size *size;

	*emergency = 0;
	if (!p->page_bytes) {
		uint64_t e;

		supply = rammd_supply_bytes(d, host,
					    hp ? hugepool_set_aside_bytes(hp) : 0) /
			 p->unit_bytes;
		*income_units = supply;
		e = rammd_emergency_supply(d, host, pt);
		if (e != UINT64_MAX) {
			*emergency = 1;
			supply = MIN(supply, e);
		}
		p->free_bytes = 0;
		return supply;
	}
	for (guint i = 0; i < pt->n; i++)
		held += pt->mg[i].current_units;
	size = hugepool_find(hp, p->page_bytes);
	free_pages = hugepool_available(size, p->host_nodes);
	p->free_bytes = free_pages * p->page_bytes;
	supply = held + p->free_bytes / p->unit_bytes;
	*income_units = MAX(supply, size ? size->total_pages * p->page_bytes /
					   p->unit_bytes : 0);
	return supply;
}

/* Clear pool @pt and carry it out; @hp loses the pages granted. */
static void rammd_clear_pool(struct rammd *d, struct rammd_pool_tick *pt,
			     const struct proc_sample *host,
			     struct hugepool_host *hp, int64_t now)
{
	struct rammd_pool *p = pt->pool;
	struct market_params params;
	struct market_budget budget;
	struct market_credit_params credit;
	struct market_result result;
	uint64_t granted, income_units;
	int emergency, ret;

	for (guint i = 0; i < pt->n; i++)
		rammd_pool_guest(d, pt, i, now);
	pt->supply_units = rammd_pool_supply(d, pt, host, hp, &emergency,
					     &income_units);
	config_market(&d->cfg, p->unit_bytes / MIB, income_units, &params,
		      &budget, &credit);
	params.supply_units = pt->supply_units;
	params.emergency = emergency;
	ret = market_round(&params, &budget, &credit, pt->mg, pt->accounts,
			   pt->conduct, pt->n, pt->targets, &result);
	if (ret) {
		log_err("market: clearing the %s pool failed: %s; no changes this tick",
			p->name, strerror(-ret));
		return;
	}
	p->price = result.price;
	p->supply_bytes = pt->supply_units * p->unit_bytes;
	p->allocated_bytes = result.allocated_units * p->unit_bytes;
	p->demand_bytes = result.demand_units * p->unit_bytes;
	for (guint i = 0; i < pt->n; i++) {
		struct guest *g = pt->guests[i];
		uint64_t bill = (uint64_t)pt->targets[i] * result.price;

		/* What market_settle() charged: the bill, up to the balance. */
		g->paid_total += MIN(bill, g->account.balance);
		g->account = pt->accounts[i];
		g->price = result.price;
	}
	granted = rammd_actuate(d, pt, result.price, now);
	if (p->page_bytes)
		hugepool_take(hugepool_find(hp, p->page_bytes), p->host_nodes,
			      granted * p->unit_bytes / p->page_bytes);
}

/*
 * The pool @g draws from, added to @d->pools if new; -1 if @g is not in the
 * market (its device unknown or not sizeable) or there are too many pools.
 * Ordinary memory is pool 0, whatever the NUMA binding: the kernel does
 * not keep free ordinary memory per guest binding the way hugetlb does.
 */
static int rammd_pool_of(struct rammd *d, const struct guest *g)
{
	uint64_t page = rammd_guest_hugetlb(g) ? g->dev.page_bytes : 0;
	uint64_t nodes = page ? g->dev.host_nodes : 0;
	struct rammd_pool *p;

	if (!g->dev_known || !g->unit_bytes)
		return -1;
	for (size_t i = 0; i < d->n_pools; i++)
		if (d->pools[i].page_bytes == page &&
		    d->pools[i].host_nodes == nodes)
			return (int)i;
	if (d->n_pools == RAMMD_MAX_POOLS) {
		log_warn("guest %s: more than %d memory pools; its memory is not auctioned this tick",
			 g->cfg.name, RAMMD_MAX_POOLS);
		return -1;
	}
	p = &d->pools[d->n_pools];
	*p = (struct rammd_pool){
		.page_bytes = page,
		.host_nodes = nodes,
		.unit_bytes = MAX(rammd_unit_bytes(d), page),
	};
	if (nodes)
		snprintf(p->name, sizeof(p->name), "hugetlb-%lluk@%#llx",
			 (unsigned long long)(page >> 10), (unsigned long long)nodes);
	else
		snprintf(p->name, sizeof(p->name), "hugetlb-%lluk",
			 (unsigned long long)(page >> 10));
	return (int)d->n_pools++;
}

static void rammd_tick(struct rammd *d)
{
	int64_t now = rammd_now_us();
	guint n = d->guests->len, m = n ? n : 1;
	int *pool_of = g_new0(int, m);
	struct rammd_pool_tick pt = {
		.guests = g_new0(struct guest *, m),
		.k = g_new0(uint32_t, m),
		.held = g_new0(uint32_t, m),
		.mg = g_new0(struct market_guest, m),
		.targets = g_new0(uint32_t, m),
		.accounts = g_new0(struct market_account, m),
		.conduct = g_new0(struct market_conduct, m),
		.steps = g_new0(struct ramm_bid_step, (gsize)m * RAMM_MAX_BID_STEPS),
	};
	struct market_budget budget;
	struct market_params params;
	struct market_credit_params credit;
	uint64_t total_weight = 0;
	struct proc_sample host;
	struct hugepool_host hp;
	int host_ok, hp_ret;

	d->last_tick_us = now;
	/* The host's /proc/meminfo and hugetlb pools, read once a tick. */
	host_ok = proc_meminfo_read(NULL, &host) == 0;
	hp_ret = hugepool_read(NULL, &hp);
	if (hp_ret && !d->hugepool_error)
		log_warn("host: cannot read the hugetlb pools under /sys: %s; hugetlb-backed guests do not grow until it can",
			 strerror(-hp_ret));
	d->hugepool_error = hp_ret;
	/* Accounts open on the budget of ordinary memory, the one pool every
	 * host has; market_settle() caps a balance to its own pool's later. */
	config_market(&d->cfg, d->cfg.unit_mib,
		      rammd_supply_bytes(d, host_ok ? &host : NULL,
					 hp_ret ? 0 : hugepool_set_aside_bytes(&hp)) /
			      rammd_unit_bytes(d),
		      &params, &budget, &credit);
	for (guint i = 0; i < n; i++)
		total_weight += rammd_guest_weight(d, g_ptr_array_index(d->guests, i));
	d->n_pools = 1;
	d->pools[0] = (struct rammd_pool){ .unit_bytes = rammd_unit_bytes(d) };
	snprintf(d->pools[0].name, sizeof(d->pools[0].name), "ordinary");
	for (guint i = 0; i < n; i++) {
		struct guest *g = g_ptr_array_index(d->guests, i);

		if (!g->account_open) {
			g->account = market_account_open(&budget,
					rammd_guest_weight(d, g), total_weight);
			g->account_open = 1;
		}
		guest_check_resize(g, now);
		/* Guests being resized are re-read by their own poll. */
		if (!g->resizing)
			g->backend->refresh(g);
		pool_of[i] = rammd_pool_of(d, g);
	}

	for (size_t p = 0; p < d->n_pools; p++) {
		pt.pool = &d->pools[p];
		pt.n = 0;
		memset(pt.mg, 0, sizeof(*pt.mg) * m);
		for (guint i = 0; i < n; i++) {
			struct guest *g = g_ptr_array_index(d->guests, i);

			if (pool_of[i] != (int)p)
				continue;
			pt.guests[pt.n] = g;
			pt.k[pt.n] = (uint32_t)(g->unit_bytes / pt.pool->unit_bytes);
			pt.n++;
		}
		pt.pool->n_guests = pt.n;
		rammd_clear_pool(d, &pt, host_ok ? &host : NULL,
				 hp_ret ? NULL : &hp, now);
	}
	d->ticks++;
	d->price = d->pools[0].price;
	d->supply_bytes = d->allocated_bytes = d->demand_bytes = 0;
	for (size_t p = 0; p < d->n_pools; p++) {
		d->supply_bytes += d->pools[p].supply_bytes;
		d->allocated_bytes += d->pools[p].allocated_bytes;
		d->demand_bytes += d->pools[p].demand_bytes;
	}
	if (d->ticks % RAMMD_SAVE_TICKS == 0)
		rammd_state_changed(d);
	rammd_ops_record(d);
	g_free(pt.steps);
	g_free(pt.conduct);
	g_free(pt.accounts);
	g_free(pt.targets);
	g_free(pt.mg);
	g_free(pt.held);
	g_free(pt.k);
	g_free(pt.guests);
	g_free(pool_of);
}

static gboolean rammd_on_tick(gpointer data)
{
	rammd_tick(data);
	return G_SOURCE_CONTINUE;
}

static gboolean rammd_on_early_tick(gpointer data)
{
	struct rammd *d = data;

	d->early_tick_source = 0;
	rammd_tick(d);
	return G_SOURCE_REMOVE;
}

void rammd_request_tick(struct rammd *d)
{
	int64_t next = d->last_tick_us + RAMMD_MIN_TICK_GAP_MS * 1000;
	int64_t now = rammd_now_us();

	if (d->early_tick_source)
		return;
	d->early_tick_source = g_timeout_add(next > now ? (guint)((next - now) / 1000) : 0,
					     rammd_on_early_tick, d);
}

/* ---- guests ------------------------------------------------------------ */

struct guest *rammd_find_guest(struct rammd *d, const char *name)
{
	for (guint i = 0; i < d->guests->len; i++) {
		struct guest *g = g_ptr_array_index(d->guests, i);

		if (!strcmp(g->cfg.name, name))
			return g;
	}
	return NULL;
}

/* ---- the state file ----------------------------------------------------- */

static struct state_entry *rammd_saved_entry(struct rammd *d, const char *name)
{
	for (size_t i = 0; i < d->n_saved; i++)
		if (!strcmp(d->saved[i].name, name))
			return &d->saved[i];
	return NULL;
}

/* Give a guest back what the state file kept for it. */
static void rammd_restore_guest(struct rammd *d, struct guest *g)
{
	struct state_entry *e = rammd_saved_entry(d, g->cfg.name);

	if (!e)
		return;
	g->ov = e->ov;
	if (e->have_account) {
		g->account = e->account;
		g->account_open = 1;
	}
	log_info("guest %s: restored from the state file: credit %.3f, balance %llu%s%s",
		 g->cfg.name, g->account.credit / 1000.0,
		 (unsigned long long)g->account.balance,
		 g->ov.excluded ? ", excluded" : "", g->ov.drain ? ", draining" : "");
}

/* Write every known guest's record, and keep the records of guests not
 * here now. Logs a failure; the next save tries again. */
static void rammd_save_state(struct rammd *d)
{
	int ret;

	for (guint i = 0; i < d->guests->len; i++) {
		struct guest *g = g_ptr_array_index(d->guests, i);
		struct state_entry *e = rammd_saved_entry(d, g->cfg.name);

		if (!e) {
			if (d->n_saved >= STATE_MAX_ENTRIES)
				continue;
			e = &d->saved[d->n_saved++];
			memset(e, 0, sizeof(*e));
			snprintf(e->name, sizeof(e->name), "%s", g->cfg.name);
		}
		e->ov = g->ov;
		e->have_account = g->account_open;
		e->account = g->account;
	}
	ret = state_save(d->cfg.state_file, d->saved, d->n_saved);
	if (ret)
		log_err("state file %s: cannot save: %s", d->cfg.state_file,
			strerror(-ret));
}

static gboolean rammd_on_save(gpointer data)
{
	struct rammd *d = data;

	d->save_source = 0;
	rammd_save_state(d);
	return G_SOURCE_REMOVE;
}

void rammd_state_changed(struct rammd *d)
{
	if (!d->save_source)
		d->save_source = g_idle_add(rammd_on_save, d);
}

/* Read the state file at start. A bad file is set aside, never trusted
 * in part: every guest then starts afresh, keeping its current size. */
static void rammd_load_state(struct rammd *d)
{
	char err[256], aside[CONFIG_MAX_SOCKET_PATH + 8];
	int ret;

	d->saved = g_new0(struct state_entry, STATE_MAX_ENTRIES);
	ret = state_load(d->cfg.state_file, d->saved, STATE_MAX_ENTRIES,
			 &d->n_saved, err, sizeof(err));
	if (!ret) {
		log_info("state file %s: %zu guests", d->cfg.state_file, d->n_saved);
		return;
	}
	d->n_saved = 0;
	if (ret == -ENOENT) {
		log_info("state file %s: none yet; guests start with fresh accounts",
			 d->cfg.state_file);
		return;
	}
	snprintf(aside, sizeof(aside), "%s.bad", d->cfg.state_file);
	log_err("state file %s: %s; set aside as %s, guests start with fresh accounts",
		d->cfg.state_file, ret == -EINVAL ? err : strerror(-ret), aside);
	if (rename(d->cfg.state_file, aside))
		log_err("state file %s: cannot set it aside: %s", d->cfg.state_file,
			strerror(errno));
}

/* A [guest NAME] section with no sockets: settings for a guest found by
 * scan_dir or libvirt. */
static const struct guest_config *rammd_settings_for(const struct rammd *d,
						     const char *name)
{
	for (size_t i = 0; i < d->cfg.n_guests; i++)
		if (!d->cfg.guests[i].qmp_path[0] && !strcmp(d->cfg.guests[i].name, name))
			return &d->cfg.guests[i];
	return NULL;
}

static struct guest *rammd_add_guest(struct rammd *d,
				     const struct guest_config *found, int from_scan,
				     const struct backend_ops *backend)
{
	const struct guest_config *settings = rammd_settings_for(d, found->name);
	struct guest_config merged = *found, *gc = &merged;
	struct guest *g;
	int ret;

	if (settings) {
		merged.floor_mib = settings->floor_mib;
		merged.cap_mib = settings->cap_mib;
		merged.weight = settings->weight;
		merged.excluded = settings->excluded;
	}

	if (d->guests->len >= CONFIG_MAX_GUESTS) {
		log_err("guest %s: more than %d guests; not managed", gc->name,
			CONFIG_MAX_GUESTS);
		return NULL;
	}
	g = guest_new(d, gc, backend);
	if (!g)
		return NULL;
	g->from_scan = from_scan;
	rammd_restore_guest(d, g);
	ret = guest_start(g);
	if (ret) {
		log_err("guest %s: cannot start: %s", gc->name, strerror(-ret));
		guest_free(g);
		return NULL;
	}
	g_ptr_array_add(d->guests, g);
	if (backend == &backend_qmp_ops)
		log_info("guest %s: managing (qmp %s, agent %s%s)", gc->name,
			 gc->qmp_path, gc->agent_path,
			 gc->qmp_shared ? ", Proxmox VM found in proxmox_dir"
					: from_scan ? ", found by scan" : "");
	else
		log_info("guest %s: managing (%s domain, agent %s)", gc->name,
			 backend->name, gc->agent_path);
	return g;
}

struct guest *rammd_add_libvirt_guest(struct rammd *d, const char *name,
				      const char *agent_path)
{
	struct guest_config gc = { 0 };

	if (strlen(name) >= sizeof(gc.name) ||
	    strlen(agent_path) >= sizeof(gc.agent_path))
		return NULL;
	strcpy(gc.name, name);
	strcpy(gc.agent_path, agent_path);
	return rammd_add_guest(d, &gc, 1, &backend_libvirt_ops);
}

void rammd_remove_guest(struct rammd *d, struct guest *g, const char *why)
{
	log_info("guest %s: no longer managed: %s", g->cfg.name, why);
	/* Its account and overrides wait in the state file for its return. */
	rammd_save_state(d);
	g_ptr_array_remove(d->guests, g);
	guest_free(g);
}

/* Adopt the pair @gc found by a scan, or mark the guest of that name seen. */
static void rammd_scan_found(struct rammd *d, const struct guest_config *gc)
{
	struct guest *g = rammd_find_guest(d, gc->name);

	if (!g)
		g = rammd_add_guest(d, gc, 1, &backend_qmp_ops);
	if (g)
		g->seen = 1;
}

static int rammd_is_socket(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISSOCK(st.st_mode);
}

/*
 * scan_dir holds NAME.qmp (QMP) and NAME.agent (agent channel) sockets, one
 * pair per VM, named like Proxmox's /var/run/qemu-server/VMID.qmp but in a
 * directory of rammd's own: a QMP socket serves one client at a time.
 */
static void rammd_scan_own(struct rammd *d)
{
	DIR *dir = opendir(d->cfg.scan_dir);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		struct guest_config gc = { 0 };
		size_t len = strlen(de->d_name), base = len - strlen(RAMMD_SCAN_SUFFIX);

		if (len <= strlen(RAMMD_SCAN_SUFFIX) || base >= sizeof(gc.name) ||
		    strcmp(de->d_name + base, RAMMD_SCAN_SUFFIX))
			continue;
		memcpy(gc.name, de->d_name, base);
		if ((size_t)snprintf(gc.qmp_path, sizeof(gc.qmp_path), "%s/%s",
				     d->cfg.scan_dir, de->d_name) >= sizeof(gc.qmp_path) ||
		    (size_t)snprintf(gc.agent_path, sizeof(gc.agent_path), "%s/%s%s",
				     d->cfg.scan_dir, gc.name, RAMMD_AGENT_SUFFIX) >=
			    sizeof(gc.agent_path))
			continue;
		if (rammd_is_socket(gc.qmp_path))
			rammd_scan_found(d, &gc);
	}
	closedir(dir);
}

/* A Proxmox VMID: digits only, no leading zero, 100..999999999. */
static int rammd_is_vmid(const char *s, size_t len)
{
	if (len < 3 || len > 9 || s[0] == '0')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/*
 * proxmox_dir holds qemu-server's VMID.qmp sockets, which qemu-server uses
 * itself: those guests get the QMP backend's shared (polite) mode. A VM
 * takes part only once its agent socket, proxmox_agent_dir/VMID.agent
 * (what ramm-pve-args adds to its args: line), exists too; it is named by
 * its VMID.
 */
static void rammd_scan_proxmox(struct rammd *d)
{
	DIR *dir = opendir(d->cfg.proxmox_dir);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		struct guest_config gc = { .qmp_shared = 1 };
		size_t len = strlen(de->d_name), base = len - strlen(RAMMD_SCAN_SUFFIX);

		if (len <= strlen(RAMMD_SCAN_SUFFIX) ||
		    strcmp(de->d_name + base, RAMMD_SCAN_SUFFIX) ||
		    !rammd_is_vmid(de->d_name, base))
			continue;
		memcpy(gc.name, de->d_name, base);
		if ((size_t)snprintf(gc.qmp_path, sizeof(gc.qmp_path), "%s/%s",
				     d->cfg.proxmox_dir, de->d_name) >= sizeof(gc.qmp_path) ||
		    (size_t)snprintf(gc.agent_path, sizeof(gc.agent_path), "%s/%s%s",
				     d->cfg.proxmox_agent_dir, gc.name,
				     RAMMD_AGENT_SUFFIX) >= sizeof(gc.agent_path))
			continue;
		if (rammd_is_socket(gc.qmp_path) && rammd_is_socket(gc.agent_path))
			rammd_scan_found(d, &gc);
	}
	closedir(dir);
}

/*
 * Both scans. A QMP guest found by one whose sockets disappear (the VM
 * stopped) is forgotten; configured guests and libvirt domains are never
 * dropped here. A directory that cannot be read drops nothing.
 */
static void rammd_scan(struct rammd *d)
{
	if (!d->cfg.scan_dir[0] && !d->cfg.proxmox_dir[0])
		return;
	if ((d->cfg.scan_dir[0] && access(d->cfg.scan_dir, R_OK | X_OK)) ||
	    (d->cfg.proxmox_dir[0] && access(d->cfg.proxmox_dir, R_OK | X_OK)))
		return;
	for (guint i = 0; i < d->guests->len; i++)
		((struct guest *)g_ptr_array_index(d->guests, i))->seen = 0;
	if (d->cfg.scan_dir[0])
		rammd_scan_own(d);
	if (d->cfg.proxmox_dir[0])
		rammd_scan_proxmox(d);
	for (guint i = d->guests->len; i-- > 0;) {
		struct guest *g = g_ptr_array_index(d->guests, i);

		if (g->from_scan && !g->seen && g->backend == &backend_qmp_ops)
			rammd_remove_guest(d, g, g->cfg.qmp_shared
					   ? "its QMP or agent socket is gone"
					   : "its QMP socket is gone");
	}
}

static gboolean rammd_on_scan(gpointer data)
{
	rammd_scan(data);
	return G_SOURCE_CONTINUE;
}

/* ---- the control socket ------------------------------------------------ */

static struct json_object *json_mib(uint64_t bytes)
{
	return json_object_new_uint64(bytes / MIB);
}

static struct json_object *rammd_guest_json(struct rammd *d, struct guest *g,
					    int64_t now)
{
	struct json_object *o = json_object_new_object();
	struct json_object *bid = json_object_new_array();
	struct json_object *cnt = json_object_new_object();
	struct json_object *rs = json_object_new_object();
	const struct guest_counters *c = &g->counters;
	uint64_t unit = g->unit_bytes;

	json_object_object_add(o, "name", json_object_new_string(g->cfg.name));
	json_object_object_add(o, "backend", json_object_new_string(g->backend->name));
	json_object_object_add(o, "mode", json_object_new_string(g->mode[0] ? g->mode : "none"));
	json_object_object_add(o, "device_ready", json_object_new_boolean(g->device_ready));
	json_object_object_add(o, "agent_connected", json_object_new_boolean(agent_chan_is_up(g->chan)));
	json_object_object_add(o, "floor_mib", json_mib(g->floor_bytes));
	json_object_object_add(o, "cap_mib", json_mib(g->cap_bytes));
	json_object_object_add(o, "boot_mib", json_mib(g->dev.boot_bytes));
	json_object_object_add(o, "size_mib", json_mib(guest_total_bytes(g)));
	json_object_object_add(o, "requested_mib",
			       json_mib(g->device_ready ? g->dev.boot_bytes + g->dev.requested_bytes : 0));
	json_object_object_add(o, "target_mib",
			       json_mib(g->device_ready ? g->floor_bytes + (uint64_t)g->target_units * unit : 0));
	json_object_object_add(o, "unit_kib", json_object_new_uint64(unit / 1024));
	json_object_object_add(o, "page_kib", json_object_new_uint64(g->dev.page_bytes / 1024));
	json_object_object_add(o, "host_nodes", json_object_new_uint64(g->dev.host_nodes));
	json_object_object_add(o, "pool", json_object_new_string(!g->unit_bytes ? "none"
			       : rammd_guest_hugetlb(g) ? "hugetlb" : "ordinary"));
	json_object_object_add(o, "offer_mib",
			       json_mib((uint64_t)guest_offered_units(g) * unit));
	if (g->have_report && g->report.have_hist) {
		struct json_object *hist = json_object_new_array();

		for (size_t i = 0; i < RAMM_HIST_SIZES; i++)
			json_object_array_add(hist, json_object_new_uint64(g->report.hist_vmem[i]));
		json_object_object_add(o, "hist_vmem", hist);
	}
	json_object_object_add(o, "price", json_object_new_uint64(g->price));
	json_object_object_add(o, "resizing", json_object_new_boolean(g->resizing));
	json_object_object_add(o, "report_age_ms",
			       g->have_report ? json_object_new_int64((now - g->report_us) / 1000) : NULL);
	json_object_object_add(o, "report_seq", json_object_new_uint64(g->report.seq));
	json_object_object_add(o, "urgent", json_object_new_boolean(g->have_report && g->report.urgent));
	json_object_object_add(o, "mem_available_mib",
			       json_object_new_uint64(g->report.mem_available_kib / 1024));
	json_object_object_add(o, "psi_some_avg10", json_object_new_double(g->report.psi_some_avg10));
	json_object_object_add(o, "weight", json_object_new_uint64(rammd_guest_weight(d, g)));
	json_object_object_add(o, "credit", json_object_new_double(g->account.credit / 1000.0));
	json_object_object_add(o, "balance", json_object_new_uint64(g->account.balance));
	json_object_object_add(o, "paid_total", json_object_new_uint64(g->paid_total));
	json_object_object_add(o, "overrides", rammd_ops_overrides_json(g));
	for (size_t i = 0; i < g->report.n_bid; i++) {
		struct json_object *step = json_object_new_array();

		json_object_array_add(step, json_object_new_int64(g->report.bid[i].units));
		json_object_array_add(step, json_object_new_int64(g->report.bid[i].price));
		json_object_array_add(bid, step);
	}
	json_object_object_add(o, "bid", bid);
	json_object_object_add(o, "bid_unit_bytes", json_object_new_uint64(g->report.unit_bytes));
#define CNT(f) json_object_object_add(cnt, #f, json_object_new_uint64(c->f))
	CNT(reports); CNT(hellos); CNT(oversize); CNT(bad_json); CNT(bad_field);
	CNT(unknown_type); CNT(rate_limited); CNT(bad_unit); CNT(resize_errors);
	CNT(resize_short);
#undef CNT
	json_object_object_add(o, "counters", cnt);
	json_object_object_add(rs, "from_mib", json_mib(g->resize.from_bytes));
	json_object_object_add(rs, "to_mib", json_mib(g->resize.to_bytes));
	json_object_object_add(rs, "report_us", json_object_new_int64(g->resize.report_us));
	json_object_object_add(rs, "decided_us", json_object_new_int64(g->resize.decided_us));
	json_object_object_add(rs, "done_us", json_object_new_int64(g->resize.done_us));
	json_object_object_add(o, "last_resize", rs);
	return o;
}

struct json_object *rammd_state_json(struct rammd *d)
{
	struct json_object *o = json_object_new_object();
	struct json_object *guests = json_object_new_array();
	struct json_object *pools = json_object_new_array();
	int64_t now = rammd_now_us();

	json_object_object_add(o, "now_us", json_object_new_int64(now));
	json_object_object_add(o, "ticks", json_object_new_uint64(d->ticks));
	json_object_object_add(o, "price", json_object_new_uint64(d->price));
	json_object_object_add(o, "unit_mib", json_object_new_uint64(d->cfg.unit_mib));
	json_object_object_add(o, "supply_mib", json_mib(d->supply_bytes));
	json_object_object_add(o, "allocated_mib", json_mib(d->allocated_bytes));
	json_object_object_add(o, "demand_mib", json_mib(d->demand_bytes));
	json_object_object_add(o, "reserve_price", json_object_new_uint64(d->cfg.reserve_price));
	json_object_object_add(o, "emergency", json_object_new_boolean(d->emergency));
	for (size_t i = 0; i < d->n_pools; i++) {
		const struct rammd_pool *p = &d->pools[i];
		struct json_object *po = json_object_new_object();

		json_object_object_add(po, "name", json_object_new_string(p->name));
		json_object_object_add(po, "page_kib", json_object_new_uint64(p->page_bytes / 1024));
		json_object_object_add(po, "host_nodes", json_object_new_uint64(p->host_nodes));
		json_object_object_add(po, "unit_kib", json_object_new_uint64(p->unit_bytes / 1024));
		json_object_object_add(po, "guests", json_object_new_uint64(p->n_guests));
		json_object_object_add(po, "price", json_object_new_uint64(p->price));
		json_object_object_add(po, "supply_mib", json_mib(p->supply_bytes));
		json_object_object_add(po, "free_mib", json_mib(p->free_bytes));
		json_object_object_add(po, "allocated_mib", json_mib(p->allocated_bytes));
		json_object_object_add(po, "demand_mib", json_mib(p->demand_bytes));
		json_object_array_add(pools, po);
	}
	json_object_object_add(o, "pools", pools);
	for (guint i = 0; i < d->guests->len; i++)
		json_object_array_add(guests,
				      rammd_guest_json(d, g_ptr_array_index(d->guests, i), now));
	json_object_object_add(o, "guests", guests);
	return o;
}

/* The control commands are rammd_ops_control() (rammd_ops.c). */

/* ---- main -------------------------------------------------------------- */

static gboolean rammd_on_quit(gpointer data)
{
	struct rammd *d = data;

	log_info("signal: shutting down; guests keep their current sizes");
	g_main_loop_quit(d->loop);
	return G_SOURCE_CONTINUE;
}

/* A guest's settings under @cfg: its own [guest] section (by sockets for
 * a configured guest, by name for one found), else none. */
static void rammd_apply_settings(const struct rammd_config *cfg, struct guest *g)
{
	struct guest_config *gc = &g->cfg;

	gc->floor_mib = gc->cap_mib = 0;
	gc->weight = gc->excluded = 0;
	for (size_t i = 0; i < cfg->n_guests; i++) {
		const struct guest_config *s = &cfg->guests[i];

		if (strcmp(s->name, gc->name) || (!g->from_scan && !s->qmp_path[0]))
			continue;
		gc->floor_mib = s->floor_mib;
		gc->cap_mib = s->cap_mib;
		gc->weight = s->weight;
		gc->excluded = s->excluded;
		return;
	}
}

/* Keys a reload cannot change: sockets, files and the unit that accounts
 * and bids are counted in. Kept as they were, with a warning. */
static void rammd_keep_restart_keys(const struct rammd_config *old,
				    struct rammd_config *next)
{
#define KEEP_STR(f) do { if (strcmp(old->f, next->f)) { \
		log_warn("reload: %s changed; it takes effect at the next start", #f); \
		snprintf(next->f, sizeof(next->f), "%s", old->f); } } while (0)
	KEEP_STR(control_socket);
	KEEP_STR(state_file);
	KEEP_STR(metrics_listen);
	KEEP_STR(libvirt_uri);
	KEEP_STR(scan_dir);
	KEEP_STR(proxmox_dir);
	KEEP_STR(proxmox_agent_dir);
#undef KEEP_STR
	if (old->unit_mib != next->unit_mib) {
		log_warn("reload: unit_mib changed; it takes effect at the next start");
		next->unit_mib = old->unit_mib;
	}
}

/*
 * SIGHUP: read the config file again. A file that does not load changes
 * nothing. Otherwise the market keys apply from the next tick, configured
 * guests come and go with their sections, and every guest's floor, cap,
 * weight and exclusion follow its section (operator overrides still win).
 */
static void rammd_reload(struct rammd *d)
{
	struct rammd_config *next = g_new(struct rammd_config, 1);
	char err[512];
	int ret = config_load(d->config_path, next, err, sizeof(err));

	if (ret) {
		log_err("reload: %s; keeping the running configuration", err);
		g_free(next);
		return;
	}
	rammd_keep_restart_keys(&d->cfg, next);
	/* Configured guests whose section is gone are let go, as they are. */
	for (guint i = d->guests->len; i-- > 0;) {
		struct guest *g = g_ptr_array_index(d->guests, i);
		int kept = g->from_scan;

		for (size_t k = 0; !kept && k < next->n_guests; k++)
			kept = !strcmp(next->guests[k].name, g->cfg.name) &&
			       !strcmp(next->guests[k].qmp_path, g->cfg.qmp_path) &&
			       !strcmp(next->guests[k].agent_path, g->cfg.agent_path);
		if (!kept)
			rammd_remove_guest(d, g, "its [guest] section changed or is gone");
	}
	if (next->tick_ms != d->cfg.tick_ms) {
		g_source_remove(d->tick_source);
		d->tick_source = g_timeout_add(next->tick_ms, rammd_on_tick, d);
	}
	d->cfg = *next;
	g_free(next);
	for (guint i = 0; i < d->guests->len; i++) {
		struct guest *g = g_ptr_array_index(d->guests, i);

		rammd_apply_settings(&d->cfg, g);
		if (g->dev_known)
			guest_overrides_changed(g);
	}
	for (size_t k = 0; k < d->cfg.n_guests; k++)
		if (d->cfg.guests[k].qmp_path[0] &&
		    !rammd_find_guest(d, d->cfg.guests[k].name))
			rammd_add_guest(d, &d->cfg.guests[k], 0, &backend_qmp_ops);
	log_info("reload: %s applied: %u guests, tick %u ms", d->config_path,
		 d->guests->len, d->cfg.tick_ms);
}

static gboolean rammd_on_hup(gpointer data)
{
	rammd_reload(data);
	return G_SOURCE_CONTINUE;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rammd [-c FILE] [-v]\n"
		"       rammd --check-config FILE\n"
		"  -c, --config FILE    configuration (default /etc/ramm/rammd.conf)\n"
		"      --check-config FILE  validate FILE and exit (0 valid, 1 invalid)\n"
		"  -v, --verbose        debug logging\n"
		"  -h, --help\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", required_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct rammd d = { 0 };
	const char *path = "/etc/ramm/rammd.conf";
	char err[512];
	int opt, check_only = 0, ret, group_err;

	while ((opt = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'C':
			path = optarg;
			check_only = 1;
			break;
		case 'v':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	d.config_path = path;
	ret = config_load(path, &d.cfg, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "rammd: %s\n", err);
		return 1;
	}
	if (check_only) {
		printf("%s: ok (%zu guests)\n", path, d.cfg.n_guests);
		return 0;
	}
	d.loop = g_main_loop_new(NULL, FALSE);
	d.guests = g_ptr_array_new();
	d.control = control_new(d.cfg.control_socket, rammd_ops_control, &d,
				&group_err);
	if (!d.control) {
		log_err("control socket %s: %s", d.cfg.control_socket, strerror(errno));
		return 1;
	}
	if (group_err)
		log_warn("control socket %s: cannot give it to group %s (%s): only root can use rammctl",
			 d.cfg.control_socket, CONTROL_ADMIN_GROUP, strerror(group_err));
	rammd_ops_start_metrics(&d);
	rammd_load_state(&d);
	for (size_t i = 0; i < d.cfg.n_guests; i++)
		if (d.cfg.guests[i].qmp_path[0])
			rammd_add_guest(&d, &d.cfg.guests[i], 0, &backend_qmp_ops);
	rammd_scan(&d);
	if (d.cfg.libvirt_uri[0])
		backend_libvirt_start(&d, d.cfg.libvirt_uri);

	g_unix_signal_add(SIGTERM, rammd_on_quit, &d);
	g_unix_signal_add(SIGINT, rammd_on_quit, &d);
	g_unix_signal_add(SIGHUP, rammd_on_hup, &d);
	d.tick_source = g_timeout_add(d.cfg.tick_ms, rammd_on_tick, &d);
	if (d.cfg.scan_dir[0] || d.cfg.proxmox_dir[0])
		g_timeout_add(2000, rammd_on_scan, &d);
	log_info("rammd started: %zu configured guests, scan_dir %s, proxmox_dir %s, tick %u ms, control %s",
		 d.cfg.n_guests, d.cfg.scan_dir[0] ? d.cfg.scan_dir : "(none)",
		 d.cfg.proxmox_dir[0] ? d.cfg.proxmox_dir : "(none)",
		 d.cfg.tick_ms, d.cfg.control_socket);

	g_main_loop_run(d.loop);
	rammd_save_state(&d);

	for (guint i = 0; i < d.guests->len; i++)
		guest_free(g_ptr_array_index(d.guests, i));
	backend_libvirt_stop();
	g_ptr_array_free(d.guests, TRUE);
	g_free(d.saved);
	control_free(d.control);
	metrics_free(d.metrics);
	g_main_loop_unref(d.loop);
	return 0;
}
