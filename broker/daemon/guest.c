/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "agent_chan.h"
#include "guest.h"
#include "pages.h"
#include "plan.h"
#include "log.h"
#include "rammd.h"

#define MIB (1024ULL * 1024ULL)
/*
 * QEMU rate-limits MEMORY_DEVICE_SIZE_CHANGE to one a second per device, so
 * while a resize is in flight the device is also re-read this often; the
 * resize completes when either says so.
 */
#define GUEST_RESIZE_POLL_MS 100
/*
 * A resize whose size has not moved for this long is over: the guest could
 * not give more (unmovable pages) or take more. virtio-mem keeps trying on
 * its own; the broker counts what was reached and lets the guest bid again.
 */
#define GUEST_RESIZE_STALL_MS 3000
/* After a short unplug, how long only offered memory is taken: the rest
 * is memory the guest could not free, and asking again at once would only
 * fail again (and cost it credit). */
#define GUEST_STUCK_MS 60000

static void guest_send_welcome(struct guest *g);

int guest_device_ready(const struct guest *g)
{
	return g->state == GUEST_READY || g->state == GUEST_RESIZING;
}

const char *guest_state_name(enum guest_state state)
{
	switch (state) {
	case GUEST_NEW: return "new";
	case GUEST_UNMANAGED: return "unmanaged";
	case GUEST_READY: return "ready";
	case GUEST_RESIZING: return "resizing";
	case GUEST_LOST: return "lost";
	}
	return "?";
}

uint32_t guest_weight(const struct guest *g)
{
	if (g->ov.weight)
		return g->ov.weight;
	return g->cfg.weight ? g->cfg.weight : g->d->cfg.default_weight;
}

struct guest *guest_new(struct rammd *d, const struct guest_config *cfg,
			const struct backend_ops *backend)
{
	struct guest *g = g_try_new0(struct guest, 1);

	if (!g)
		return NULL;
	g->d = d;
	g->cfg = *cfg;
	g->backend = backend;
	return g;
}

int guest_start(struct guest *g)
{
	int ret = g->backend->attach(g);

	if (ret)
		return ret;
	g->chan = agent_chan_new(g, g->cfg.agent_path);
	if (!g->chan) {
		g->backend->detach(g);
		return -ENOMEM;
	}
	return 0;
}

static void guest_stop_resize_poll(struct guest *g)
{
	if (g->resize_poll)
		g_source_remove(g->resize_poll);
	g->resize_poll = 0;
}

/*
 * The credit score's view of a shrink that just ended: what was asked, and
 * what came out by the evict deadline told to the guest. Late unplugs count
 * half; growths are not judged.
 */
static void guest_judge_unplug(struct guest *g)
{
	uint64_t unit = g->unit_bytes;
	uint64_t from = g->resize.from_bytes, to = g->resize.to_bytes;
	uint64_t now = guest_total_bytes(g);
	uint64_t asked, done;
	int64_t took_us = g->resize.done_us - g->resize.decided_us;

	if (to >= from || g->resize.found)
		return;
	asked = (from - to) / unit;
	done = now < from ? (from - (now > to ? now : to)) / unit : 0;
	if (took_us > (int64_t)g->d->cfg.evict_deadline_ms * 1000)
		done /= 2;
	g->unplug_asked_units += (uint32_t)asked;
	g->unplug_done_units += (uint32_t)done;
}

/* End the resize in flight; @reached_target says whether it got there. */
static void guest_end_resize(struct guest *g, int reached_target)
{
	g->state = GUEST_READY;
	guest_stop_resize_poll(g);
	g->resize.done_us = rammd_now_us();
	g->resize_refused = 0; /* this one was taken */
	guest_judge_unplug(g);
	if (reached_target) {
		log_info("guest %s: resized %llu -> %llu MiB in %lld ms",
			 g->cfg.name, (unsigned long long)(g->resize.from_bytes / MIB),
			 (unsigned long long)(g->resize.to_bytes / MIB),
			 (long long)((g->resize.done_us - g->resize.decided_us) / 1000));
	} else {
		g->counters.resize_short++;
		/* What it could not give is not takeable for a while: only
		 * memory it reports free is asked for until then. */
		if (g->resize.to_bytes < g->resize.from_bytes)
			g->stuck_until_us = g->resize.done_us +
					    GUEST_STUCK_MS * 1000;
		log_warn("guest %s: resize %llu -> %llu MiB stopped at %llu MiB after %lld ms; counting what it reached",
			 g->cfg.name, (unsigned long long)(g->resize.from_bytes / MIB),
			 (unsigned long long)(g->resize.to_bytes / MIB),
			 (unsigned long long)(guest_total_bytes(g) / MIB),
			 (long long)((g->resize.done_us - g->resize.decided_us) / 1000));
	}
	/* The agent re-derives its floor in its own terms from our size. */
	guest_send_welcome(g);
}

void guest_check_resize(struct guest *g, int64_t now_us)
{
	int64_t timeout_us = (int64_t)g->d->cfg.resize_timeout_ms * 1000;

	if (g->state != GUEST_RESIZING)
		return;
	if ((!g->resize_unsent &&
	     now_us - g->resize_moved_us >= GUEST_RESIZE_STALL_MS * 1000) ||
	    now_us - g->resize.decided_us >= timeout_us)
		guest_end_resize(g, 0);
}

static gboolean guest_on_resize_poll(gpointer data)
{
	struct guest *g = data;

	guest_check_resize(g, rammd_now_us());
	if (g->state != GUEST_RESIZING) {
		g->resize_poll = 0;
		return G_SOURCE_REMOVE;
	}
	g->backend->refresh(g);
	return G_SOURCE_CONTINUE;
}

void guest_free(struct guest *g)
{
	if (!g)
		return;
	guest_stop_resize_poll(g);
	agent_chan_free(g->chan);
	if (g->backend_priv)
		g->backend->detach(g);
	history_free(&g->history);
	g_free(g);
}

void guest_snapshot(const struct guest *g, struct plan_guest *out)
{
	const struct agent_report *r = &g->report;

	*out = (struct plan_guest){
		.in_market = g->state != GUEST_NEW && g->unit_bytes,
		.device_ready = guest_device_ready(g),
		.resizing = g->state == GUEST_RESIZING,
		.excluded = g->ov.excluded || g->cfg.excluded,
		.drain = g->ov.drain,
		.weight = guest_weight(g),
		.unit_bytes = g->unit_bytes,
		.floor_bytes = g->floor_bytes,
		.cap_bytes = g->cap_bytes,
		.boot_bytes = g->dev.boot_bytes,
		.size_bytes = g->dev.size_bytes,
		.requested_bytes = g->dev.requested_bytes,
		.page_bytes = g->dev.page_bytes,
		.host_nodes = g->dev.host_nodes,
		.have_report = g->have_report,
		.report_us = g->report_us,
		.report_unit_bytes = r->unit_bytes,
		.mem_available_bytes = r->mem_available_kib * 1024,
		.have_hist = r->have_hist,
		.n_bid = r->n_bid,
		.last_grow_us = g->last_grow_us,
		.stuck_until_us = g->stuck_until_us,
		.account_open = g->account_open,
		.account = g->account,
		.unplug_asked_units = g->unplug_asked_units,
		.unplug_done_units = g->unplug_done_units,
	};
	/* The weight lives in the config and the overrides; an account
	 * carries it for market_settle(), taken from there at each tick. */
	out->account.weight = out->weight;
	memcpy(out->hist_vmem, r->hist_vmem, sizeof(out->hist_vmem));
	memcpy(out->bid, r->bid, r->n_bid * sizeof(r->bid[0]));
}

uint32_t guest_held_units(const struct guest *g)
{
	struct plan_guest s;

	guest_snapshot(g, &s);
	return plan_held_units(&s);
}

uint32_t guest_offered_units(const struct guest *g)
{
	struct plan_guest s;

	guest_snapshot(g, &s);
	return plan_offered_units(&s);
}

uint64_t guest_total_bytes(const struct guest *g)
{
	return g->state != GUEST_NEW ? g->dev.boot_bytes + g->dev.size_bytes : 0;
}

static void guest_send_welcome(struct guest *g)
{
	char buf[256];
	int n;

	if (!guest_device_ready(g))
		return;
	n = msg_format_welcome(buf, sizeof(buf), g->unit_bytes,
			       g->floor_bytes, g->cap_bytes, guest_total_bytes(g));
	if (n > 0)
		agent_chan_send(g->chan, buf, (size_t)n);
}

/*
 * Floor and cap in total memory. The floor never dips below boot memory or
 * rises above what the device can reach, and sits a whole number of units
 * above boot memory so that every size the market names is one the device
 * can take and frees or takes whole host pages; the cap sits a whole number
 * of units above the floor. A guest without a unit (not managed) is pinned
 * where it is.
 */
void guest_derive_limits(struct guest *g)
{
	const struct rammd_config *cfg = &g->d->cfg;
	uint64_t unit = g->unit_bytes;
	uint64_t boot = g->dev.boot_bytes;
	uint64_t most, floor, cap;

	if (!unit) {
		g->floor_bytes = g->cap_bytes = guest_total_bytes(g);
		return;
	}
	most = boot + g->dev.max_bytes / unit * unit;

	uint64_t floor_mib = g->ov.floor_mib ? g->ov.floor_mib : g->cfg.floor_mib;
	uint64_t cap_mib = g->ov.cap_mib ? g->ov.cap_mib : g->cfg.cap_mib;

	floor = floor_mib ? floor_mib * MIB : boot + cfg->min_floor_mib * MIB;
	if (floor < boot)
		floor = boot;
	floor = boot + (floor - boot + unit - 1) / unit * unit;
	if (floor > most)
		floor = most;
	cap = most;
	if (cap_mib && cap_mib * MIB < cap)
		cap = cap_mib * MIB;
	if (cap < floor)
		cap = floor;
	cap = floor + (cap - floor) / unit * unit;
	g->floor_bytes = floor;
	g->cap_bytes = cap;
}

void guest_overrides_changed(struct guest *g)
{
	uint64_t old_floor = g->floor_bytes, old_cap = g->cap_bytes;

	if (g->state == GUEST_NEW)
		return;
	guest_derive_limits(g);
	if (old_floor != g->floor_bytes || old_cap != g->cap_bytes)
		guest_send_welcome(g);
}

static void guest_start_resize_poll(struct guest *g)
{
	if (!g->resize_poll)
		g->resize_poll = g_timeout_add(GUEST_RESIZE_POLL_MS,
					       guest_on_resize_poll, g);
}

/*
 * A device read afresh (at start, or back after an outage) that is still
 * moving toward a requested size this rammd did not see through: a qom-set
 * whose reply was lost with the connection, or one sent before a restart.
 * QEMU carries it out whatever we think, so it is booked and followed like
 * our own, instead of being taken as the guest's settled size.
 */
static void guest_follow_found_resize(struct guest *g)
{
	int64_t now_us = rammd_now_us();

	g->state = GUEST_RESIZING;
	g->resize_moved_us = now_us;
	g->resize_unsent = 0;
	g->resize = (struct guest_resize){
		.from_bytes = guest_total_bytes(g),
		.to_bytes = g->dev.boot_bytes + g->dev.requested_bytes,
		.was_requested_bytes = g->dev.requested_bytes,
		.report_us = g->report_us,
		.decided_us = now_us,
		.found = 1,
	};
	guest_start_resize_poll(g);
	log_info("guest %s: device moving %llu -> %llu MiB, not asked for by this rammd; following it",
		 g->cfg.name, (unsigned long long)(g->resize.from_bytes / MIB),
		 (unsigned long long)(g->resize.to_bytes / MIB));
}

void guest_backend_device(struct guest *g, const struct vmem_device *dev)
{
	uint64_t old_floor = g->floor_bytes, old_cap = g->cap_bytes;
	int first = g->state == GUEST_NEW;
	uint64_t asked = g->dev.requested_bytes, unit = 0;
	const char *why = NULL;
	int refused, found_moving;

	if (!first && dev->size_bytes != g->dev.size_bytes)
		g->resize_moved_us = rammd_now_us();
	g->dev = *dev;
	/* An answer to a query sent before our qom-set must not undo it. */
	if (g->state == GUEST_RESIZING)
		g->dev.requested_bytes = asked;
	refused = pages_guest_unit(rammd_unit_bytes(g->d), dev, &unit, &why);
	g->unit_bytes = refused ? 0 : unit;
	guest_derive_limits(g);
	if (refused) {
		/* No size the market could name would free whole host pages.
		 * The guest keeps its memory, which stays out of the supply. */
		if (first || guest_device_ready(g))
			log_err("guest %s: virtio-mem block %llu KiB, backing page %llu KiB: %s; not managed, kept at %llu MiB",
				g->cfg.name, (unsigned long long)(dev->block_bytes / 1024),
				(unsigned long long)(dev->page_bytes / 1024), why,
				(unsigned long long)(guest_total_bytes(g) / MIB));
		/* A resize in flight is not followed any more. */
		guest_stop_resize_poll(g);
		g->state = GUEST_UNMANAGED;
		return;
	}
	/* Only a device read afresh: a ready guest's device may rest short of
	 * its requested size after a stalled unplug this rammd judged. */
	found_moving = !guest_device_ready(g) &&
		       dev->requested_bytes != dev->size_bytes;
	if (g->state != GUEST_RESIZING)
		g->state = GUEST_READY;
	if (first)
		log_info("guest %s: virtio-mem boot=%llu MiB size=%llu MiB max=%llu MiB block=%llu KiB page=%llu KiB nodes=%#llx; unit=%llu KiB floor=%llu MiB cap=%llu MiB",
			 g->cfg.name, (unsigned long long)(dev->boot_bytes / MIB),
			 (unsigned long long)(dev->size_bytes / MIB),
			 (unsigned long long)(dev->max_bytes / MIB),
			 (unsigned long long)(dev->block_bytes / 1024),
			 (unsigned long long)(dev->page_bytes / 1024),
			 (unsigned long long)dev->host_nodes,
			 (unsigned long long)(unit / 1024),
			 (unsigned long long)(g->floor_bytes / MIB),
			 (unsigned long long)(g->cap_bytes / MIB));
	if (found_moving)
		guest_follow_found_resize(g);
	if (first || old_floor != g->floor_bytes || old_cap != g->cap_bytes)
		guest_send_welcome(g);
	/* A size-change event may have been rate-limited away by QEMU;
	 * the device's own numbers settle the resize just as well. */
	if (g->state == GUEST_RESIZING)
		guest_backend_size(g, dev->size_bytes);
}

void guest_backend_size(struct guest *g, uint64_t size_bytes)
{
	if (g->state == GUEST_NEW)
		return;
	if (size_bytes != g->dev.size_bytes)
		g->resize_moved_us = rammd_now_us();
	g->dev.size_bytes = size_bytes;
	if (g->state == GUEST_RESIZING && size_bytes == g->resize.to_bytes - g->dev.boot_bytes)
		guest_end_resize(g, 1);
}

void guest_backend_lost(struct guest *g)
{
	if (g->state != GUEST_NEW)
		g->state = GUEST_LOST;
	guest_stop_resize_poll(g);
}

void guest_backend_resize_sent(struct guest *g, uint64_t vmem_bytes)
{
	if (g->state != GUEST_RESIZING || g->resize.found ||
	    g->resize.to_bytes != g->dev.boot_bytes + vmem_bytes)
		return;
	g->resize_unsent = 0;
	g->resize_moved_us = rammd_now_us();
}

void guest_backend_resize_failed(struct guest *g, uint64_t vmem_bytes,
				 const char *why)
{
	if (!guest_device_ready(g) || g->dev.requested_bytes != vmem_bytes ||
	    g->resize.to_bytes != g->dev.boot_bytes + vmem_bytes)
		return; /* superseded, or the device is not followed now */
	g->counters.resize_errors++;
	g->dev.requested_bytes = g->resize.was_requested_bytes;
	if (!g->resize_refused)
		log_warn("guest %s: resize %llu -> %llu MiB failed: %s; kept at %llu MiB",
			 g->cfg.name, (unsigned long long)(g->resize.from_bytes / MIB),
			 (unsigned long long)(g->resize.to_bytes / MIB), why,
			 (unsigned long long)(guest_total_bytes(g) / MIB));
	g->resize_refused = 1;
	if (g->state != GUEST_RESIZING)
		return;
	/* Not guest_end_resize(): the guest did not fall short. */
	g->state = GUEST_READY;
	guest_stop_resize_poll(g);
	g->resize.done_us = rammd_now_us();
	guest_send_welcome(g);
}

void guest_agent_connected(struct guest *g)
{
	guest_send_welcome(g);
}

void guest_agent_message(struct guest *g, const struct agent_msg *msg)
{
	if (msg->type == AGENT_MSG_HELLO) {
		g->counters.hellos++;
		if (strcmp(g->mode, msg->hello.mode))
			log_info("guest %s: agent %s %s in %s mode", g->cfg.name,
				 msg->hello.agent, msg->hello.version,
				 msg->hello.mode);
		snprintf(g->mode, sizeof(g->mode), "%s", msg->hello.mode);
		guest_send_welcome(g);
		return;
	}
	g->counters.reports++;
	g->report = msg->report;
	/* Until budgets make over-bidding cost something, no bid may outrank
	 * what an honest agent pays for memory in use: at equal prices the
	 * incumbent keeps its memory. Clipping keeps the curve non-increasing. */
	for (size_t i = 0; i < g->report.n_bid; i++)
		if (g->report.bid[i].price > g->d->cfg.max_price)
			g->report.bid[i].price = g->d->cfg.max_price;
	g->report_us = rammd_now_us();
	g->have_report = 1;
	if (guest_device_ready(g) && msg->report.unit_bytes &&
	    msg->report.unit_bytes != g->unit_bytes) {
		/* A bid in someone else's unit would be misread by a factor;
		 * it is not used, and the guest is told the unit again. */
		g->counters.bad_unit++;
		guest_send_welcome(g);
	}
	if (msg->report.urgent)
		rammd_request_tick(g->d);
}

int guest_resize(struct guest *g, uint64_t total_bytes, uint32_t price,
		 int64_t now_us)
{
	uint64_t from = g->dev.boot_bytes + g->dev.requested_bytes;
	uint64_t unit = g->unit_bytes;
	char buf[256];
	int n, ret;

	if (total_bytes < g->dev.boot_bytes ||
	    total_bytes - g->dev.boot_bytes > g->dev.max_bytes ||
	    !unit || (total_bytes - g->dev.boot_bytes) % unit)
		return -EINVAL;
	if (total_bytes < from) {
		n = msg_format_evict(buf, sizeof(buf), (from - total_bytes) / unit,
				     g->d->cfg.evict_deadline_ms);
		if (n > 0)
			agent_chan_send(g->chan, buf, (size_t)n);
	}
	ret = g->backend->set_requested_size(g, total_bytes - g->dev.boot_bytes);
	if (ret) {
		g->counters.resize_errors++;
		return ret;
	}
	g->state = GUEST_RESIZING;
	g->resize_moved_us = now_us;
	g->resize_unsent = g->backend->resize_sent_later;
	guest_start_resize_poll(g);
	g->dev.requested_bytes = total_bytes - g->dev.boot_bytes;
	if (total_bytes > from)
		g->last_grow_us = now_us;
	g->resize = (struct guest_resize){
		.from_bytes = guest_total_bytes(g),
		.to_bytes = total_bytes,
		.was_requested_bytes = from - g->dev.boot_bytes,
		.report_us = g->report_us,
		.decided_us = now_us,
	};
	n = msg_format_grant(buf, sizeof(buf), total_bytes, price);
	if (n > 0)
		agent_chan_send(g->chan, buf, (size_t)n);
	return 0;
}
