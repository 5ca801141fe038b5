/* SPDX-License-Identifier: MIT */
/*
 * One market tick in rammd: take a snapshot of the host and the guests,
 * let plan_tick() (broker/market/plan.c) decide, and carry out what it
 * decided. Everything this file decides is I/O: reading the host, asking
 * backends for resizes, logging. Every rule is the planner's.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "ctl_commands.h"
#include "guest.h"
#include "hugepool.h"
#include "log.h"
#include "plan.h"
#include "proc_sample.h"
#include "rammd.h"
#include "record.h"

#define MIB (1024ULL * 1024ULL)
/* Urgent reports may pull their guests' rounds forward, and an operator's
 * change a tick, but never closer than this to the last round. */
#define RAMMD_MIN_TICK_GAP_MS 200
/* The state file is saved every this many clearings (and on every change
 * an operator makes, and at exit): a crash loses at most this many ticks
 * of balance. */
#define RAMMD_SAVE_TICKS 10
/* A ready guest's device is re-read every this many ticks (see
 * rammd_tick()). */
#define RAMMD_REFRESH_TICKS 5

/* The host's /proc/meminfo and hugetlb pools, read once a tick. */
static void tick_read_host(struct rammd *d, struct plan_host *host)
{
	struct proc_sample mem;
	int ret;

	host->base_page_bytes = (uint64_t)getpagesize();
	host->meminfo_ok = proc_meminfo_read(NULL, &mem) == 0;
	if (host->meminfo_ok) {
		host->mem_total_bytes = mem.mem_total_kib * 1024;
		host->mem_available_bytes = mem.mem_available_kib * 1024;
	}
	ret = hugepool_read(NULL, &host->hugepools);
	if (ret && !d->hugepool_error)
		log_warn("host: cannot read the hugetlb pools under /sys: %s; hugetlb-backed guests do not grow until it can",
			 strerror(-ret));
	d->hugepool_error = ret;
	host->hugepools_ok = !ret;
}

/* The reason for @a, as one log line says it. */
static void tick_reason(const struct guest *g, const struct plan_action *a,
			char *buf, size_t len)
{
	switch (a->why) {
	case PLAN_GROW:
		snprintf(buf, len, "bids %u for unit %u, price %u", a->bid,
			 a->from_units + 1, a->price);
		break;
	case PLAN_EMERGENCY:
		snprintf(buf, len, "emergency reclaim: bids %u for unit %u, price %u",
			 a->bid, a->to_units + 1, a->price);
		break;
	case PLAN_OUTBID:
		snprintf(buf, len, "outbid: bids %u for unit %u, price %u", a->bid,
			 a->to_units + 1, a->price);
		break;
	case PLAN_NO_BID:
		snprintf(buf, len, "no longer bids for units above %u", a->to_units);
		break;
	case PLAN_STOP_SHRINK:
		snprintf(buf, len, "bids %u for what is being taken, price %u, or reports urgent",
			 a->bid, a->price);
		break;
	default:
		snprintf(buf, len, "%s", plan_why_text(a->why));
	}
	(void)g;
}

/* Ask @g's backend for the size @a names, and log the decision with its
 * reason, one line per decision; @partial_why: why a partial round ran,
 * NULL in a regular one. */
static void tick_carry_out(struct guest *g, const struct plan_action *a,
			   int64_t now, const char *partial_why)
{
	char reason[128];
	int ret;

	tick_reason(g, a, reason, sizeof(reason));
	ret = guest_resize(g, a->total_bytes, a->price, a->bid, a->for_short, now);
	if (ret) {
		log_warn("guest %s: resize to %llu MiB failed: %s", g->cfg.name,
			 (unsigned long long)(a->total_bytes / MIB), strerror(-ret));
		return;
	}
	if (a->why == PLAN_STOP_SHRINK) {
		/* It is growing again: a new dip must last before the next
		 * shrink, also when a partial round, which takes in no
		 * other result, stopped this one. */
		g->shrink_since_us = 0;
		g->shrink_stopped_us = now;
		log_info("guest %s: shrink stopped at %u units of %llu MiB (%llu MiB total): %s",
			 g->cfg.name, a->to_units, (unsigned long long)(g->unit_bytes / MIB),
			 (unsigned long long)(a->total_bytes / MIB), reason);
		return;
	}
	if (a->why == PLAN_RAISE_TO_FLOOR || a->why == PLAN_GROW) {
		log_info("guest %s: grow %u -> %u units of %llu MiB (%llu MiB total): %s%s%s",
			 g->cfg.name, a->why == PLAN_GROW ? a->from_units : 0,
			 a->to_units, (unsigned long long)(g->unit_bytes / MIB),
			 (unsigned long long)(a->total_bytes / MIB), reason,
			 partial_why ? "; " : "", partial_why ? partial_why : "");
		return;
	}
	/* What it offers, and whether only that may be taken: the figures
	 * an operator needs to judge a shrink of memory in use. */
	log_info("guest %s: shrink %u -> %u units of %llu MiB (%llu MiB total): %s; offers %u%s%s",
		 g->cfg.name, a->from_units, a->to_units,
		 (unsigned long long)(g->unit_bytes / MIB),
		 (unsigned long long)(a->total_bytes / MIB), reason,
		 a->offered_units,
		 a->only_offered ? ", only offered units taken after a short unplug" : "",
		 a->for_short ? "; at once, for a short guest" : "");
}

/* Take in what the planner decided: accounts, prices, pools, and the
 * log lines for changes of state. */
static void tick_take_result(struct rammd *d, const struct plan_result *out)
{
	if (out->emergency != d->emergency)
		log_warn("host: MemAvailable %s critical_free_mib %llu MiB: %s",
			 out->emergency ? "below" : "back above",
			 (unsigned long long)d->cfg.critical_free_mib,
			 out->emergency ? "emergency clearing, reclaiming from the lowest bids"
					: "normal clearing");
	d->emergency = out->emergency;
	for (guint i = 0; i < d->guests->len; i++) {
		struct guest *g = g_ptr_array_index(d->guests, i);
		const struct plan_guest_result *r = &out->guests[i];

		g->account = r->account;
		g->account_open = r->account_open;
		if (r->too_many_pools)
			log_warn("guest %s: more than %d memory pools; its memory is not auctioned this tick",
				 g->cfg.name, PLAN_MAX_POOLS);
		if (r->pool < 0 || out->pools[r->pool].error)
			continue;
		g->shrink_since_us = r->shrink_since_us;
		g->taken_us = r->taken_us;
		g->taken_from_units = r->taken_from_units;
		g->paid_total += r->paid;
		g->price = r->price;
		if (r->planned)
			g->target_units = r->target_units;
		g->growth_waits = r->growth_waits;
		if (r->growth_waits)
			log_debug("guest %s: growth waits for memory free now (unplugs in flight, the host's MemAvailable, or a guest's device not read yet)",
				  g->cfg.name);
	}
	d->n_pools = out->n_pools;
	memcpy(d->pools, out->pools, out->n_pools * sizeof(out->pools[0]));
	/* Totals over the pools are derived where read (status_totals()). */
	for (size_t p = 0; p < d->n_pools; p++)
		if (d->pools[p].error)
			log_err("market: clearing the %s pool failed: %s; no changes this tick",
				d->pools[p].name, strerror(-d->pools[p].error));
}

/* The duration of the tick that started at @start_us, for rammctl. */
static void tick_note_duration(struct rammd *d, int64_t start_us)
{
	d->tick_us[d->ticks % RAMMD_TICK_HISTORY] =
		(uint32_t)MIN(rammd_now_us() - start_us, (int64_t)UINT32_MAX);
}

/* The wall time a round at @now accrues for: since the last regular
 * tick; 0 (one tick_ms) before the first. */
static int64_t tick_elapsed_us(const struct rammd *d, int64_t now)
{
	return d->last_regular_tick_us ? now - d->last_regular_tick_us : 0;
}

/*
 * A partial round for guest @i, for the reason @why (tick_partial_why()):
 * plan_tick() may grow it out of memory free now, and moves no one else.
 * No account is settled, nothing accrues, no history sample is taken and
 * the tick count stays: those are the regular tick's, at tick_ms, however
 * often a guest reports.
 */
static void tick_partial(struct rammd *d, guint i, int64_t now, const char *why)
{
	guint n = d->guests->len;
	struct plan_guest *snap = g_new0(struct plan_guest, n);
	struct plan_result out = {
		.actions = g_new0(struct plan_action, n),
		.guests = g_new0(struct plan_guest_result, n),
	};
	struct plan_input in = {
		.cfg = &d->cfg,
		.now_us = now,
		.elapsed_us = tick_elapsed_us(d, now),
		.partial = 1,
		.urgent = i,
		.n_guests = n,
		.guests = snap,
	};
	int ret;

	tick_read_host(d, &in.host);
	for (guint j = 0; j < n; j++)
		guest_snapshot(g_ptr_array_index(d->guests, j), &snap[j]);
	ret = plan_tick(&in, &out);
	if (ret) {
		log_err("market: cannot plan an urgent round: %s; no changes",
			strerror(-ret));
		goto out;
	}
	record_tick(d->record, &in, &out);
	((struct guest *)g_ptr_array_index(d->guests, i))->growth_waits =
		out.guests[i].growth_waits;
	for (size_t a = 0; a < out.n_actions; a++)
		tick_carry_out(g_ptr_array_index(d->guests, out.actions[a].guest),
			       &out.actions[a], now, why);
out:
	g_free(out.guests);
	g_free(out.actions);
	g_free(snap);
}

/*
 * Why guest @g gets a partial round now, or NULL: its latest report,
 * urgent or raising its bid for the next unit, arrived since the last
 * round at @since, or it became free to grow since after such a report
 * or after any growth (a guest being resized cannot grow: a workload that
 * outruns one growth would wait for the next tick, as a report meanwhile
 * may ask nothing new); or an unplug ended since and its growth waited
 * for memory.
 */
static const char *tick_partial_why(const struct guest *g, int64_t since, int unplug_ended)
{
	int asks = g->report.urgent || g->report_raised;
	int64_t growable = guest_growable_since_us(g);

	if (g->have_report && asks && (g->report_us > since || growable > since))
		return g->report.urgent ? "on its urgent report" : "on its raised bid";
	if (g->have_report && g->resize.to_bytes > g->resize.from_bytes && growable > since)
		return "as its growth ended";
	if (unplug_ended && g->growth_waits)
		return "as memory came free";
	return NULL;
}

/* A partial round for each guest that tick_partial_why() names. */
static void tick_urgent_rounds(struct rammd *d)
{
	int64_t now = rammd_now_us(), since = d->last_tick_us;
	int unplug_ended = d->unplug_ended;

	d->last_tick_us = now;
	d->unplug_ended = 0;
	for (guint i = 0; i < d->guests->len; i++) {
		const char *why = tick_partial_why(g_ptr_array_index(d->guests, i), since,
						   unplug_ended);

		if (why)
			tick_partial(d, i, now, why);
	}
}

void rammd_tick(struct rammd *d)
{
	int64_t now = rammd_now_us();
	guint n = d->guests->len;
	struct plan_guest *snap = g_new0(struct plan_guest, n ? n : 1);
	struct plan_result out = {
		.actions = g_new0(struct plan_action, n ? n : 1),
		.guests = g_new0(struct plan_guest_result, n ? n : 1),
	};
	struct plan_input in = {
		.cfg = &d->cfg,
		.now_us = now,
		.elapsed_us = tick_elapsed_us(d, now),
		.n_guests = n,
		.guests = snap,
	};
	int ret;

	d->last_tick_us = now;
	d->last_regular_tick_us = now;
	for (guint i = 0; i < n; i++) {
		struct guest *g = g_ptr_array_index(d->guests, i);

		guest_check_resize(g, now);
		/* Guests being resized are re-read by their own poll. A ready
		 * device reports its size changes itself (the size-change
		 * event, and the poll while resizing), so it is re-read only
		 * every RAMMD_REFRESH_TICKS ticks, a share of the guests each
		 * tick: re-reading every device every tick was most of a
		 * tick's time at 1,000 guests. One not ready yet, or lost, is
		 * looked for every tick. */
		if (g->state == GUEST_RESIZING ||
		    (g->state == GUEST_READY && (d->ticks + i) % RAMMD_REFRESH_TICKS))
			continue;
		g->backend->refresh(g);
	}
	tick_read_host(d, &in.host);
	for (guint i = 0; i < n; i++) {
		struct guest *g = g_ptr_array_index(d->guests, i);

		guest_snapshot(g, &snap[i]);
		/* The planner judges the unplugs that ended since last tick. */
		g->unplug_asked_units = g->unplug_done_units = 0;
	}
	d->unplug_ended = 0; /* this tick plans the growth that waited */
	ret = plan_tick(&in, &out);
	if (ret) {
		log_err("market: cannot plan this tick: %s; no changes", strerror(-ret));
		goto out;
	}
	record_tick(d->record, &in, &out);
	tick_take_result(d, &out);
	for (size_t a = 0; a < out.n_actions; a++)
		tick_carry_out(g_ptr_array_index(d->guests, out.actions[a].guest),
			       &out.actions[a], now, NULL);
	d->ticks++;
	if (d->ticks % RAMMD_SAVE_TICKS == 0)
		rammd_state_changed(d);
	ctl_commands_record(d);
out:
	tick_note_duration(d, now);
	g_free(out.guests);
	g_free(out.actions);
	g_free(snap);
}

gboolean rammd_on_tick(gpointer data)
{
	rammd_tick(data);
	return G_SOURCE_CONTINUE;
}

static gboolean rammd_on_early_tick(gpointer data)
{
	struct rammd *d = data;

	d->early_tick_source = 0;
	if (d->early_tick_full) {
		d->early_tick_full = 0;
		rammd_tick(d);
	} else {
		tick_urgent_rounds(d);
	}
	return G_SOURCE_REMOVE;
}

/* Run rammd_on_early_tick() RAMMD_MIN_TICK_GAP_MS after the last round,
 * or now if that has passed; one pending at a time. */
static void tick_schedule_early(struct rammd *d)
{
	int64_t next = d->last_tick_us + RAMMD_MIN_TICK_GAP_MS * 1000;
	int64_t now = rammd_now_us();

	if (d->early_tick_source)
		return;
	d->early_tick_source = g_timeout_add(next > now ? (guint)((next - now) / 1000) : 0,
					     rammd_on_early_tick, d);
}

void rammd_request_tick(struct rammd *d)
{
	d->early_tick_full = 1;
	tick_schedule_early(d);
}

void rammd_request_urgent(struct rammd *d)
{
	tick_schedule_early(d);
}

void rammd_request_waiting_growth(struct rammd *d)
{
	d->unplug_ended = 1;
	tick_schedule_early(d);
}
