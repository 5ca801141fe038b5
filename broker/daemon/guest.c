/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "agent_chan.h"
#include "evict_wait.h"
#include "guest.h"
#include "pages.h"
#include "persist.h"
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
 * not give more (unmovable pages) or take more, and virtio-mem, after an
 * -EBUSY pass, waits 50 s before it tries again. The broker counts what was
 * reached, asks for what the guest holds (guest_request_held()) and lets it
 * bid again. Migrating one block's pages took over 3 s in the lab under
 * load, and a shrink in flight no longer freezes its guest (it can be
 * stopped), so the limit errs long.
 */
#define GUEST_RESIZE_STALL_MS 10000
/* After a short unplug, how long only offered memory is taken: the rest
 * is memory the guest could not free, and asking again at once would only
 * fail again (and cost it credit). */
#define GUEST_STUCK_MS 60000
/* The same window for a guest the operator drains: shorter, because the
 * operator wants it all back, but long enough that the guest is not asked
 * back to back for pages it just failed to migrate (a drain that did that
 * kept a guest with a running workload migrating for good). */
#define GUEST_DRAIN_STUCK_MS 15000
/*
 * How long a growth's size must hold before it counts as done. The guest's
 * virtio-mem driver plugs a block before it adds it to Linux, and unplugs
 * it again if adding fails (no memory left for its memmap, say): a size
 * reached for a moment is not yet memory the guest has.
 */
#define GUEST_PLUG_HOLD_MS 1000
/* How long growth waits for the device of a guest just found: one whose
 * QEMU has not answered by then (a monitor that never greets) is not let
 * hold the whole market back. */
#define GUEST_FIND_GRACE_MS 10000

static void guest_send_welcome(struct guest *g);
static uint64_t guest_send_evict(struct guest *g, uint64_t units);

/* Its device has been read and its QEMU holds the memory. */
static int guest_device_known(const struct guest *g)
{
	return g->state != GUEST_NEW && g->state != GUEST_GONE;
}

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
	case GUEST_GONE: return "gone";
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
	g->found_us = rammd_now_us();
	g->evict_id = (uint64_t)g_get_real_time();
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
 * half; growths, and resizes this rammd did not ask for, are not judged.
 * A guest that reports its free extents answers for the units it showed
 * free: memory in use can fail to migrate for a while (one -EBUSY pass of
 * its virtio-mem driver, which then waits 50 s), which is no lie.
 */
static void guest_judge_unplug(struct guest *g)
{
	uint64_t unit = g->unit_bytes;
	uint64_t from = g->resize.from_bytes, to = g->resize.to_bytes;
	uint64_t now = guest_total_bytes(g);
	uint64_t asked, done;
	/* From the unplug's request, not from the notice (time rammd gave
	 * the guest to prepare is not its delay), to the size's last move,
	 * not to when the stall was called. */
	int64_t took_us = g->resize_moved_us - g->resize.set_us;

	if (to >= from || g->resize.found)
		return;
	asked = (from - to) / unit;
	done = now < from ? (from - (now > to ? now : to)) / unit : 0;
	if (took_us > (int64_t)g->d->cfg.evict_deadline_ms * 1000)
		done /= 2;
	if (g->resize.had_offer && asked > MAX(g->resize.offered_units, done))
		asked = MAX(g->resize.offered_units, done);
	g->unplug_asked_units += (uint32_t)asked;
	g->unplug_done_units += (uint32_t)done;
}

/*
 * After a resize that ended short, ask the device for what @g holds, in
 * whole units: left where it was, the request would be carried out later by
 * the guest's virtio-mem driver on its own (it retries 50 s later, then up
 * to every 300 s), and memory the market left with the guest would vanish
 * with no notice, or memory it never got would stay booked. A failure is
 * logged; the booked request stays what the device was asked for.
 */
static void guest_request_held(struct guest *g)
{
	uint64_t unit = g->unit_bytes, size = g->dev.size_bytes;
	uint64_t vmem = (size + unit - 1) / unit * unit;
	int ret;

	if (vmem > g->dev.max_bytes)
		vmem = g->dev.max_bytes / unit * unit;
	if (g->resize.to_bytes < g->resize.from_bytes)
		guest_send_evict(g, 0); /* its preparation is over too */
	if (vmem == g->dev.requested_bytes)
		return;
	ret = g->backend->set_requested_size(g, vmem);
	if (ret) {
		g->counters.resize_errors++;
		log_warn("guest %s: cannot set its request back to the %llu MiB it holds: %s",
			 g->cfg.name, (unsigned long long)((g->dev.boot_bytes + vmem) / MIB),
			 strerror(-ret));
		return;
	}
	g->dev.requested_bytes = vmem;
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
				(g->ov.drain ? GUEST_DRAIN_STUCK_MS : GUEST_STUCK_MS) * 1000;
		log_warn("guest %s: resize %llu -> %llu MiB stopped at %llu MiB after %lld ms; counting what it reached",
			 g->cfg.name, (unsigned long long)(g->resize.from_bytes / MIB),
			 (unsigned long long)(g->resize.to_bytes / MIB),
			 (unsigned long long)(guest_total_bytes(g) / MIB),
			 (long long)((g->resize.done_us - g->resize.decided_us) / 1000));
		guest_request_held(g);
	}
	/* The agent re-derives its floor in its own terms from our size. */
	guest_send_welcome(g);
	if (g->resize.to_bytes < g->resize.from_bytes)
		rammd_request_waiting_growth(g->d);
	else
		rammd_request_urgent(g->d); /* see tick_urgent_rounds() */
}

int64_t guest_growable_since_us(const struct guest *g)
{
	if (g->state != GUEST_RESIZING)
		return g->resize.done_us;
	return g->resize.reached_us && g->resize.to_bytes > g->resize.from_bytes
		       ? g->resize.reached_us : 0;
}

/*
 * Forget the resize in flight, which the device never took (refused, or
 * never sent): the request is booked back to what it was, an evict notice
 * is called off, and the guest is ready again. Not guest_end_resize(): the
 * guest did not fall short.
 */
static void guest_drop_resize(struct guest *g)
{
	g->dev.requested_bytes = g->resize.was_requested_bytes;
	if (g->resize.to_bytes < g->resize.from_bytes)
		guest_send_evict(g, 0);
	if (g->state != GUEST_RESIZING)
		return;
	g->state = GUEST_READY;
	guest_stop_resize_poll(g);
	g->resize.done_us = rammd_now_us();
	guest_send_welcome(g);
}

/*
 * A shrink of a guest that prepares its unplugs (ramm_guest.ko empties the
 * chunks virtio-mem will take, and its reports say "evicting" until it is
 * done) waits after the evict notice until a report says the notice's work
 * is over (guest_send_pending_set()), or evict_prepare_ms: the unplug is
 * then several times faster, as the migration is done ahead of it and off
 * virtio-mem's single worker (docs/KERNEL-AGENT.md). Sent together, the
 * module sees virtio-mem start and gets out of its way, gaining nothing.
 * A guest that does not say when it is done gets no wait: its free-extent
 * histogram cannot tell the notice's chunks emptied from memory freed
 * elsewhere, and waiting on it gained nothing (bench_evict.py).
 */
static int guest_prepares_unplug(const struct guest *g)
{
	return g->d->cfg.evict_prepare_ms && g->have_report &&
	       g->report.have_evicting && agent_chan_is_up(g->chan);
}

/*
 * Lower requested-size for the shrink waiting in @g once its guest is
 * prepared, or no longer says, or evict_prepare_ms (at most the notice's
 * own deadline) has passed (evict_wait_decide()); one log line says which.
 */
static void guest_send_pending_set(struct guest *g, int64_t now_us)
{
	struct evict_wait_in in = {
		.now_us = now_us,
		.sent_us = g->resize.decided_us,
		.limit_us = (int64_t)MIN(g->d->cfg.evict_prepare_ms,
					 g->d->cfg.evict_deadline_ms) * 1000,
		.stale_us = (int64_t)g->d->cfg.stale_report_ms * 1000,
		.id = g->resize.evict_id,
		.have_report = g->have_report,
		.report_us = g->report_us,
		.have_evicting = g->report.have_evicting,
		.evicting = g->report.evicting,
		.evict_id = g->report.evict_id,
		.urgent = g->report.urgent,
	};
	enum evict_wait why = evict_wait_decide(&in);
	uint64_t vmem = g->dev.requested_bytes;
	int ret;

	if (why == EVICT_WAIT)
		return;
	if (why == EVICT_UNHEARD) {
		log_warn("guest %s: shrink %llu -> %llu MiB called off: no report in the %lld ms since its evict notice; its agent could not stop it",
			 g->cfg.name, (unsigned long long)(g->resize.from_bytes / MIB),
			 (unsigned long long)(g->resize.to_bytes / MIB),
			 (long long)((now_us - g->resize.decided_us) / 1000));
		guest_drop_resize(g);
		return;
	}
	log_info("guest %s: shrink %llu -> %llu MiB sent %lld ms after its evict notice: %s",
		 g->cfg.name, (unsigned long long)(g->resize.from_bytes / MIB),
		 (unsigned long long)(g->resize.to_bytes / MIB),
		 (long long)((now_us - g->resize.decided_us) / 1000),
		 evict_wait_name(why));
	g->resize.set_pending = 0;
	g->resize.set_us = now_us;
	g->resize_moved_us = now_us;
	g->resize_unsent = g->backend->resize_sent_later;
	ret = g->backend->set_requested_size(g, vmem);
	if (ret)
		guest_backend_resize_failed(g, vmem, strerror(-ret));
}

void guest_check_resize(struct guest *g, int64_t now_us)
{
	int64_t timeout_us = (int64_t)g->d->cfg.resize_timeout_ms * 1000;
	/* A device moving by itself (found, or falling back after a failed
	 * add) may be a guest rebooting: its driver plugs again only once
	 * its kernel is up, so only the timeout ends that. */
	int64_t stall_us = g->resize.found ? timeout_us : GUEST_RESIZE_STALL_MS * 1000;

	if (g->state != GUEST_RESIZING)
		return;
	if (g->resize.set_pending) {
		guest_send_pending_set(g, now_us);
		return;
	}
	if (g->resize.reached_us) {
		if (g->resize.to_bytes <= g->resize.from_bytes ||
		    now_us - g->resize.reached_us >= GUEST_PLUG_HOLD_MS * 1000)
			guest_end_resize(g, 1);
		return;
	}
	/* A request the hypervisor has not taken yet has not stalled. */
	if ((!g->resize_unsent && now_us - g->resize_moved_us >= stall_us) ||
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

/*
 * @g's latest report was sampled before its last shrink ended: while
 * virtio-mem takes a memory block offline, the block's free pages are
 * isolated, neither free nor available, and the guest reads them as used
 * (a lab guest idle at 141 MiB MemTotal bid 8000 for 308 MiB after a shrink
 * of 256 MiB, and was grown straight back).
 */
static int guest_report_predates_shrink(const struct guest *g)
{
	return g->state == GUEST_READY && g->resize.done_us &&
	       g->resize.to_bytes < g->resize.from_bytes &&
	       g->report_us < g->resize.done_us;
}

void guest_snapshot(const struct guest *g, struct plan_guest *out)
{
	const struct agent_report *r = &g->report;

	*out = (struct plan_guest){
		.in_market = guest_device_known(g) && g->unit_bytes,
		/* Growth waits for a device just found, not for one whose
		 * QEMU never answers. */
		.device_unknown = g->state == GUEST_NEW &&
				  rammd_now_us() - g->found_us < GUEST_FIND_GRACE_MS * 1000,
		.pins_memory = g->dev.vfio,
		.device_ready = guest_device_ready(g),
		/* A growth that reached its size and is only being held to
		 * see it stays (GUEST_PLUG_HOLD_MS) may grow again: a guest
		 * growing fast would otherwise wait out every hold. */
		.resizing = g->state == GUEST_RESIZING &&
			    !(g->resize.reached_us && g->resize.to_bytes > g->resize.from_bytes),
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
		/* Such a report is no bid: the guest keeps what it has
		 * until its next one. */
		.have_report = g->have_report && !guest_report_predates_shrink(g),
		.report_us = g->report_us,
		.report_unit_bytes = r->unit_bytes,
		.mem_available_bytes = r->mem_available_kib * 1024,
		.have_hist = r->have_hist,
		.report_urgent = r->urgent,
		.n_bid = r->n_bid,
		.last_grow_us = g->last_grow_us,
		.stuck_until_us = g->stuck_until_us,
		.resize_decided_us = g->resize.decided_us,
		.shrink_bid = g->state == GUEST_RESIZING ? g->resize.shrink_bid : 0,
		.shrink_since_us = g->shrink_since_us,
		.shrink_stopped_us = g->shrink_stopped_us,
		.claim_peak = g->claim_peak,
		.wss_rise_bps = g->rise.bps,
		.taken_us = g->taken_us,
		.taken_from_units = g->taken_from_units,
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
	return guest_device_known(g) ? g->dev.boot_bytes + g->dev.size_bytes : 0;
}

static void guest_send_welcome(struct guest *g)
{
	char buf[256];
	int n;

	if (!guest_device_ready(g))
		return;
	n = msg_format_welcome(buf, sizeof(buf), g->unit_bytes,
			       g->floor_bytes, g->cap_bytes, guest_total_bytes(g),
			       g->dev.boot_bytes);
	if (n > 0)
		agent_chan_send(g->chan, buf, (size_t)n);
}

/* An evict notice for @units; 0 calls off the one before (the shrink it
 * announced was refused or stopped). Returns the notice's id. */
static uint64_t guest_send_evict(struct guest *g, uint64_t units)
{
	char buf[160];
	uint64_t id = ++g->evict_id;
	int n = msg_format_evict(buf, sizeof(buf), units,
				 g->d->cfg.evict_deadline_ms, id);

	if (n > 0)
		agent_chan_send(g->chan, buf, (size_t)n);
	return id;
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

	if (!guest_device_known(g))
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

/* A new resize replaces @g's latest one: keep that one among the earlier. */
static void guest_keep_resize(struct guest *g)
{
	if (!g->resize.decided_us)
		return;
	g->earlier[g->n_resizes % GUEST_EARLIER_RESIZES] = g->resize;
	g->n_resizes++;
}

/*
 * Follow the device as it moves by itself toward its requested size, as a
 * resize this rammd did not decide (not judged for credit). QEMU carries a
 * request out whatever we think, so its memory is booked as held all along.
 */
static void guest_follow_device(struct guest *g, int64_t now_us)
{
	g->state = GUEST_RESIZING;
	g->resize_moved_us = now_us;
	g->resize_unsent = 0;
	guest_keep_resize(g);
	g->resize = (struct guest_resize){
		.from_bytes = guest_total_bytes(g),
		.to_bytes = g->dev.boot_bytes + g->dev.requested_bytes,
		.was_requested_bytes = g->dev.requested_bytes,
		.report_us = g->report_us,
		.decided_us = now_us,
		.found = 1,
	};
	guest_start_resize_poll(g);
}

/*
 * A size the device reports for a guest whose device is current: the
 * resize in flight is reached once the size holds at its target
 * (guest_check_resize()), and a ready device whose size falls below its
 * request (its driver could not add what it plugged, or the guest reset)
 * is noticed and followed back up rather than taken as settled.
 */
static void guest_size_seen(struct guest *g, uint64_t size_bytes)
{
	int64_t now = rammd_now_us();
	uint64_t was = g->dev.size_bytes;

	if (size_bytes != was)
		g->resize_moved_us = now;
	g->dev.size_bytes = size_bytes;
	if (g->state == GUEST_READY && size_bytes < was &&
	    size_bytes < g->dev.requested_bytes) {
		g->counters.fell_short++;
		log_warn("guest %s: device fell from %llu to %llu MiB below its request of %llu MiB (the guest did not keep what it plugged); following it",
			 g->cfg.name, (unsigned long long)((g->dev.boot_bytes + was) / MIB),
			 (unsigned long long)(guest_total_bytes(g) / MIB),
			 (unsigned long long)((g->dev.boot_bytes + g->dev.requested_bytes) / MIB));
		guest_follow_device(g, now);
	}
	if (g->state != GUEST_RESIZING)
		return;
	if (size_bytes != g->resize.to_bytes - g->dev.boot_bytes) {
		g->resize.reached_us = 0;
		return;
	}
	if (!g->resize.reached_us) {
		g->resize.reached_us = now;
		/* Held now, it may grow again (guest_snapshot()). */
		if (g->resize.to_bytes > g->resize.from_bytes)
			rammd_request_urgent(g->d); /* see tick_urgent_rounds() */
	}
	guest_check_resize(g, now);
}

void guest_backend_device(struct guest *g, const struct vmem_device *dev)
{
	uint64_t old_floor = g->floor_bytes, old_cap = g->cap_bytes;
	int first = !guest_device_known(g), was_ready = guest_device_ready(g);
	uint64_t asked = g->dev.requested_bytes, size = g->dev.size_bytes;
	uint64_t unit = 0;
	const char *why = NULL;
	int refused;

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
		if (first || was_ready)
			log_err("guest %s: virtio-mem block %llu KiB, backing page %llu KiB: %s; not managed, kept at %llu MiB",
				g->cfg.name, (unsigned long long)(dev->block_bytes / 1024),
				(unsigned long long)(dev->page_bytes / 1024), why,
				(unsigned long long)(guest_total_bytes(g) / MIB));
		/* A resize in flight is not followed any more. */
		guest_stop_resize_poll(g);
		g->state = GUEST_UNMANAGED;
		return;
	}
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
	if (was_ready) {
		/* Its size moves as the events and polls say. */
		g->dev.size_bytes = size;
		guest_size_seen(g, dev->size_bytes);
	} else {
		g->state = GUEST_READY;
		/* A device read afresh (at start, or back after an outage)
		 * still moving toward a request this rammd did not see
		 * through: a qom-set whose reply was lost with the
		 * connection, or one sent before a restart. */
		if (dev->requested_bytes != dev->size_bytes) {
			guest_follow_device(g, rammd_now_us());
			log_info("guest %s: device moving %llu -> %llu MiB, not asked for by this rammd; following it",
				 g->cfg.name, (unsigned long long)(g->resize.from_bytes / MIB),
				 (unsigned long long)(g->resize.to_bytes / MIB));
		}
	}
	if (first || old_floor != g->floor_bytes || old_cap != g->cap_bytes)
		guest_send_welcome(g);
}

void guest_backend_size(struct guest *g, uint64_t size_bytes)
{
	if (guest_device_ready(g))
		guest_size_seen(g, size_bytes);
	else if (guest_device_known(g))
		g->dev.size_bytes = size_bytes;
}

void guest_backend_lost(struct guest *g)
{
	if (guest_device_known(g))
		g->state = GUEST_LOST;
	guest_stop_resize_poll(g);
}

void guest_backend_gone(struct guest *g, const char *why)
{
	if (g->state == GUEST_GONE)
		return;
	if (guest_device_known(g))
		log_warn("guest %s: its QEMU is gone (%s): the %llu MiB it held and its floor are back in the market",
			 g->cfg.name, why, (unsigned long long)(guest_total_bytes(g) / MIB));
	guest_stop_resize_poll(g);
	g->state = GUEST_GONE;
}

void guest_describe_record(const struct guest *g, char *buf, size_t size)
{
	size_t used;

	if (g->account_open)
		used = (size_t)snprintf(buf, size, "credit %.3f, balance %llu",
					g->account.credit / 1000.0,
					(unsigned long long)g->account.balance);
	else
		used = (size_t)snprintf(buf, size, "no account yet");
	if (used < size && g->ov.weight)
		used += (size_t)snprintf(buf + used, size - used, ", weight %u",
					 g->ov.weight);
	if (used < size && g->ov.floor_mib)
		used += (size_t)snprintf(buf + used, size - used, ", floor %llu MiB",
					 (unsigned long long)g->ov.floor_mib);
	if (used < size && g->ov.cap_mib)
		used += (size_t)snprintf(buf + used, size - used, ", cap %llu MiB",
					 (unsigned long long)g->ov.cap_mib);
	if (used < size && g->ov.excluded)
		used += (size_t)snprintf(buf + used, size - used, ", excluded");
	if (used < size && g->ov.drain)
		snprintf(buf + used, size - used, ", draining");
}

void guest_backend_identity(struct guest *g, const char *uuid)
{
	struct state_entry e = { .have_account = g->account_open,
				 .account = g->account, .ov = g->ov };
	char old[VM_UUID_BUFLEN];

	snprintf(e.uuid, sizeof(e.uuid), "%s", g->uuid);
	switch (state_identify(&e, uuid, old)) {
	case STATE_IDENTITY_SAME:
		return;
	case STATE_IDENTITY_ADOPTED:
		log_info("guest %s: VM uuid %s; its account is this VM's from now on",
			 g->cfg.name, uuid);
		break;
	case STATE_IDENTITY_REPLACED: {
		char was[160];

		guest_describe_record(g, was, sizeof(was));
		log_warn("guest %s: VM uuid %s, not %s as before: another VM under the old one's name; it starts with a fresh account and none of the old VM's overrides (not inherited: %s)",
			 g->cfg.name, uuid, old, was);
		/* The planner opens a new account on the next tick, as for
		 * a guest never seen. */
		g->account_open = e.have_account;
		g->account = e.account;
		g->ov = e.ov;
		g->paid_total = 0;
		guest_overrides_changed(g);
		break;
	}
	}
	snprintf(g->uuid, sizeof(g->uuid), "%s", uuid);
	persist_keep(g->d, g);
	rammd_state_changed(g->d);
}

void guest_backend_resize_sent(struct guest *g, uint64_t vmem_bytes)
{
	if (g->state != GUEST_RESIZING || g->resize.found ||
	    g->resize.to_bytes != g->dev.boot_bytes + vmem_bytes)
		return;
	g->resize_unsent = 0;
	g->resize_moved_us = rammd_now_us();
	g->resize.set_us = g->resize_moved_us;
}

void guest_backend_resize_failed(struct guest *g, uint64_t vmem_bytes,
				 const char *why)
{
	if (!guest_device_ready(g) || g->dev.requested_bytes != vmem_bytes ||
	    g->resize.to_bytes != g->dev.boot_bytes + vmem_bytes)
		return; /* superseded, or the device is not followed now */
	g->counters.resize_errors++;
	if (!g->resize_refused)
		log_warn("guest %s: resize %llu -> %llu MiB failed: %s; kept at %llu MiB",
			 g->cfg.name, (unsigned long long)(g->resize.from_bytes / MIB),
			 (unsigned long long)(g->resize.to_bytes / MIB), why,
			 (unsigned long long)(guest_total_bytes(g) / MIB));
	g->resize_refused = 1;
	guest_drop_resize(g);
}

/* What a report says its guest uses: MemTotal less MemAvailable. */
static uint64_t guest_report_wss_bytes(const struct agent_report *r)
{
	return r->mem_total_kib > r->mem_available_kib
		       ? (r->mem_total_kib - r->mem_available_kib) * 1024 : 0;
}

void guest_agent_connected(struct guest *g)
{
	guest_send_welcome(g);
}

void guest_agent_message(struct guest *g, const struct agent_msg *msg)
{
	uint64_t next_unit;
	uint32_t was;

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
	if (guest_device_ready(g) && msg->report.unit_bytes &&
	    msg->report.unit_bytes != g->unit_bytes) {
		/* A report in someone else's unit would be misread by a
		 * factor, by the market and by the credit check alike: it
		 * is dropped whole, and the guest told the unit again. */
		g->counters.bad_unit++;
		guest_send_welcome(g);
		return;
	}
	g->counters.reports++;
	plan_rise_update(&g->rise, guest_report_wss_bytes(&msg->report), rammd_now_us());
	next_unit = (uint64_t)guest_held_units(g) + 1;
	was = g->have_report ? market_bid_price(g->report.bid, g->report.n_bid, next_unit) : 0;
	g->report = msg->report;
	/* Until budgets make over-bidding cost something, no bid may outrank
	 * what an honest agent pays for memory in use: at equal prices the
	 * incumbent keeps its memory. Clipping keeps the curve non-increasing. */
	for (size_t i = 0; i < g->report.n_bid; i++)
		if (g->report.bid[i].price > g->d->cfg.max_price)
			g->report.bid[i].price = g->d->cfg.max_price;
	g->report_us = rammd_now_us();
	g->have_report = 1;
	plan_claim_peak_update(&g->claim_peak, &g->d->cfg, g->report.bid, g->report.n_bid,
			       g->report_us);
	/* A bid raised for the next unit wants memory now, urgent or not:
	 * waiting for the tick cost a workload up to tick_ms. Not during a
	 * shrink: the guest reads the block being taken offline as used
	 * (guest_report_predates_shrink()); an urgent report still stops it. */
	g->report_raised = !(g->state == GUEST_RESIZING &&
			     g->resize.to_bytes < g->resize.from_bytes) &&
			   market_bid_price(g->report.bid, g->report.n_bid, next_unit) > was;
	if (g->state == GUEST_RESIZING && g->resize.set_pending)
		guest_send_pending_set(g, g->report_us);
	if (msg->report.urgent || g->report_raised)
		rammd_request_urgent(g->d);
}

int guest_resize(struct guest *g, uint64_t total_bytes, uint32_t price,
		 uint32_t bid, int at_once, int64_t now_us)
{
	uint64_t boot = g->dev.boot_bytes, unit = g->unit_bytes;
	uint64_t requested = boot + g->dev.requested_bytes;
	uint64_t plugged = boot + g->dev.size_bytes;
	int prepare = !at_once && total_bytes < plugged && guest_prepares_unplug(g);
	uint64_t evict_id = 0;
	char buf[256];
	int n, ret;

	if (total_bytes < boot || total_bytes - boot > g->dev.max_bytes ||
	    !unit || (total_bytes - boot) % unit)
		return -EINVAL;
	/* A growth being held to see it stays is done as far as anyone can
	 * tell: it is logged and told as such before the next resize. */
	if (g->state == GUEST_RESIZING && g->resize.reached_us)
		guest_end_resize(g, 1);
	if (!prepare) {
		ret = g->backend->set_requested_size(g, total_bytes - boot);
		if (ret) {
			g->counters.resize_errors++;
			return ret;
		}
	}
	/* What it holds decides shrink or growth, not what it was last
	 * asked for: after a short unplug the two differ. Unless the guest
	 * prepares, the notice goes out once the request is on its way, so
	 * a request the backend refused at once starts no eviction. */
	if (total_bytes < plugged)
		evict_id = guest_send_evict(g, (plugged - total_bytes) / unit);
	else if (requested < plugged)
		guest_send_evict(g, 0); /* a shrink in flight is stopped */
	g->state = GUEST_RESIZING;
	g->resize_moved_us = now_us;
	g->resize_unsent = g->backend->resize_sent_later;
	guest_start_resize_poll(g);
	g->dev.requested_bytes = total_bytes - boot;
	if (total_bytes > plugged && total_bytes > requested)
		g->last_grow_us = now_us;
	guest_keep_resize(g);
	g->resize = (struct guest_resize){
		.from_bytes = guest_total_bytes(g),
		.to_bytes = total_bytes,
		.was_requested_bytes = requested - boot,
		.report_us = g->report_us,
		.decided_us = now_us,
		.had_offer = g->have_report && g->report.have_hist,
		.offered_units = guest_offered_units(g),
		.set_pending = prepare,
		.set_us = prepare ? 0 : now_us,
		.shrink_bid = total_bytes < plugged ? bid : 0,
		.evict_units = total_bytes < plugged ? (uint32_t)((plugged - total_bytes) / unit) : 0,
		.evict_id = evict_id,
	};
	n = msg_format_grant(buf, sizeof(buf), total_bytes, price);
	if (n > 0)
		agent_chan_send(g->chan, buf, (size_t)n);
	/* Already there (a shrink stopped where the device stands). */
	if (total_bytes == plugged)
		g->resize.reached_us = now_us;
	else if (prepare)
		guest_send_pending_set(g, now_us); /* deadline 0: at once */
	return 0;
}
