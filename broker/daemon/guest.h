/* SPDX-License-Identifier: MIT */
/*
 * A managed guest: what its backend says about its virtio-mem device, what
 * its agent bids, and the broker's resize in flight. Owned by the daemon
 * (struct rammd); every field is touched only from the main loop.
 */
#ifndef RAMM_GUEST_H
#define RAMM_GUEST_H

#include <stdint.h>

#include <glib.h>

#include "backend.h"
#include "config.h"
#include "discover.h"
#include "history.h"
#include "market.h"
#include "state.h"
#include "msg.h"
#include "plan.h"
#include "vm_uuid.h"

struct rammd;
struct agent_chan;
struct plan_guest;

/* Protocol errors per guest, exported through rammctl. */
struct guest_counters {
	uint64_t reports;      /* valid reports */
	uint64_t hellos;       /* valid hellos */
	uint64_t oversize;     /* lines over RAMM_MAX_LINE */
	uint64_t bad_json;     /* not a versioned JSON object */
	uint64_t bad_field;    /* a member missing, mistyped or out of range */
	uint64_t unknown_type; /* a type this broker does not know */
	uint64_t rate_limited; /* lines dropped by the per-second limit */
	uint64_t bad_unit;     /* reports in a unit other than ours, dropped */
	uint64_t resize_errors; /* backend refused a resize, at once or by
				 * guest_backend_resize_failed() */
	uint64_t resize_short; /* resizes that timed out short of target */
	uint64_t fell_short;   /* a completed size fell below its request */
};

/* How many resizes before the latest the status keeps: a growth that a
 * workload outran is followed by the next at once, and the first one's
 * times are what an operator asks "how fast" about. */
#define GUEST_EARLIER_RESIZES 8

/* The latest resize, for rammctl and the latency figures. */
struct guest_resize {
	uint64_t from_bytes;  /* guest total before */
	uint64_t to_bytes;    /* guest total asked for */
	uint64_t was_requested_bytes; /* dev.requested_bytes before the
				       * request: restored if it fails */
	int64_t report_us;    /* receipt of the report the decision used */
	int64_t decided_us;   /* decided (and the evict notice sent) */
	int64_t set_us;       /* the request went to the backend; 0 while a
			       * shrink waits for the guest to prepare */
	int64_t done_us;      /* size change confirmed; 0 while in flight */
	int64_t reached_us;   /* the size was first seen at @to_bytes; 0
			       * while it is not there */
	int found;            /* found in flight on the device, not asked for
			       * by this rammd: followed, not judged */
	int had_offer;        /* the report it was decided on had a histogram */
	int set_pending;      /* a shrink whose request waits for the guest
			       * to prepare (evict_prepare_ms) */
	uint32_t shrink_bid;  /* a shrink: the guest's bid for the first unit
			       * taken, when decided; 0 otherwise */
	uint32_t evict_units; /* units its evict notice asked for */
	uint64_t evict_id;    /* ... and that notice's id */
	uint32_t offered_units; /* ... and the units it showed free */
};

/*
 * A guest's lifecycle, as far as its device goes. Transitions:
 *
 *   NEW, GONE  -> READY       first device report that can be sized
 *   NEW, UNMANAGED, LOST, GONE -> RESIZING
 *                             a device report that can be sized, with its
 *                             size not yet at its requested size
 *   NEW        -> UNMANAGED   first device report that cannot
 *   READY      -> RESIZING    guest_resize() sent a new size
 *   RESIZING   -> READY       the size was reached, stalled or timed out,
 *                             or the backend refused the request
 *   READY, RESIZING, LOST -> UNMANAGED
 *                             a device report that cannot be sized (a
 *                             resize in flight is no longer followed)
 *   UNMANAGED, LOST -> READY  a device report that can be sized
 *   any but NEW, GONE -> LOST the backend lost the device
 *                             (guest_backend_lost(); NEW and GONE stay)
 *   any        -> GONE        its QEMU is gone (guest_backend_gone())
 */
enum guest_state {
	GUEST_NEW,       /* no device report yet: out of the market */
	GUEST_UNMANAGED, /* device known, but its block or backing cannot be
			  * sized in whole host pages (unit_bytes 0): kept at
			  * its size, its memory out of the supply */
	GUEST_READY,     /* device current: the market may resize it */
	GUEST_RESIZING,  /* a resize is in flight; device re-read every
			  * GUEST_RESIZE_POLL_MS */
	GUEST_LOST,      /* backend lost the device (connection, paused
			  * domain): its last size kept in the books, frozen */
	GUEST_GONE,      /* its QEMU is gone (nothing listens on its socket):
			  * it holds nothing, out of the market until a
			  * QEMU answers there again */
};

struct guest {
	struct rammd *d;              /* owner */
	struct guest_config cfg;      /* from the config file or a scan */
	enum discover_source source;  /* who found it, and so who drops it */
	int seen;                     /* discovery bookkeeping, per pass */
	int64_t found_us;             /* when it was found (monotonic) */

	const struct backend_ops *backend; /* how the device is driven */
	void *backend_priv;           /* the backend's per-guest state */
	enum guest_state state;       /* see enum guest_state */
	struct vmem_device dev;       /* last device state from the backend;
				       * kept after a loss, because QEMU
				       * still holds that memory */

	uint64_t unit_bytes;          /* its market unit, pages_guest_unit():
				       * 0 while its device is unknown or
				       * cannot be sized in whole host pages */
	uint64_t floor_bytes;         /* total memory never auctioned */
	uint64_t cap_bytes;           /* total memory at most */

	struct agent_chan *chan;      /* agent channel, NULL if never opened */
	char mode[16];                /* agent mode from hello, "" if unknown */
	struct agent_report report;   /* last valid report */
	int have_report;              /* @report is valid */
	int report_raised;            /* @report raised its bid for the unit
				       * after those it holds: decided at once
				       * in a partial round, as an urgent one */
	int64_t report_us;            /* monotonic receipt time of @report */
	struct guest_counters counters;

	uint32_t target_units;        /* last market target above the floor,
				       * in @unit_bytes */
	uint32_t price;               /* its pool's latest clearing price */
	int64_t resize_moved_us;      /* the size last changed (or resize
				       * began), to spot a stalled resize */
	guint resize_poll;            /* re-reads the device while resizing */
	int resize_unsent;            /* the backend has not yet handed the
				       * resize to the hypervisor
				       * (resize_sent_later): not judged
				       * stalled until it has */
	struct guest_resize resize;   /* the latest resize */
	struct guest_resize earlier[GUEST_EARLIER_RESIZES];
				      /* the ones before it: resize n (counted
				       * from 0) is at n % GUEST_EARLIER_RESIZES */
	uint64_t n_resizes;           /* resizes before @resize */
	int64_t last_grow_us;         /* when the latest growth was decided */
	int64_t stuck_until_us;       /* an unplug fell short: until then only
				       * memory it offers is taken */
	int64_t shrink_since_us;      /* the market has wanted it smaller on
				       * end since; 0: not (plan.h) */
	int64_t shrink_stopped_us;    /* a shrink of it was last stopped;
				       * 0: never (plan.h) */
	struct plan_claim_peak claim_peak; /* the most it claimed lately, from
					    * its reports */
	struct plan_rise rise;        /* its working set's recent rise, from
				       * its reports (plan_rise_update()) */
	int growth_waits;             /* its growth, won in the last round,
				       * waited for memory free now */
	int64_t taken_us;             /* the market last shrank it ... */
	uint32_t taken_from_units;    /* ... from this many units: its return
				       * window (plan.h), from the planner */
	int resize_refused;           /* the last request failed (logged);
				       * cleared by one that goes through */
	uint64_t evict_id;            /* id of the last evict notice sent;
				       * starts at the wall clock in µs, so
				       * a restarted rammd does not reuse
				       * the ids a guest may still show */

	char uuid[VM_UUID_BUFLEN];    /* the VM its account and overrides
				       * belong to: the state file's until
				       * the backend reads the VM's
				       * (guest_backend_identity()); "" if
				       * unknown */
	struct guest_overrides ov;    /* the operator's, from rammctl */
	struct market_account account; /* balance and credit; its weight is
				       * guest_weight()'s, copied in by
				       * guest_snapshot() for the market:
				       * read guest_weight() */
	int account_open;             /* @account has been opened */
	uint64_t paid_total;          /* price-units paid since rammd started:
				       * per tick min(target x price, balance
				       * before settling), what market_settle()
				       * charges */
	struct history history;       /* the last ticks, for rammctl history */
	uint32_t unplug_asked_units;  /* shrinks ended since the last tick */
	uint32_t unplug_done_units;   /* ... and what they achieved in time */
};

/*
 * guest_new - a guest for @cfg, driven by @backend. The backend is not
 * attached yet. Returns NULL on allocation failure.
 */
struct guest *guest_new(struct rammd *d, const struct guest_config *cfg,
			const struct backend_ops *backend);

/* guest_start - attach the backend and open the agent channel.
 * Returns 0 or -errno; on failure nothing is left running. */
int guest_start(struct guest *g);

/* guest_free - detach and free; accepts NULL. */
void guest_free(struct guest *g);

/* guest_device_ready - whether @g's device is current and the market may
 * resize it (READY or RESIZING). */
int guest_device_ready(const struct guest *g);

/* guest_state_name - "new", "unmanaged", "ready", "resizing" or "lost". */
const char *guest_state_name(enum guest_state state);

/* guest_weight - @g's income shares: the operator's override, else its
 * [guest] section's, else default_weight. Never fails. */
uint32_t guest_weight(const struct guest *g);

/* guest_total_bytes - boot plus plugged memory (0 if the device is unknown). */
uint64_t guest_total_bytes(const struct guest *g);

/*
 * guest_derive_limits - recompute floor_bytes and cap_bytes from the device,
 * the config and the operator's overrides (@ov wins). Call after changing
 * @ov on a guest whose device is known. Never fails.
 */
void guest_derive_limits(struct guest *g);

/*
 * guest_overrides_changed - after the operator changed @g->ov.floor_mib or
 * cap_mib: re-derive the limits and, if they moved, tell the agent (a
 * welcome carries floor and cap). Does nothing while the device is
 * unknown: the limits are derived when it is first seen. Never fails.
 */
void guest_overrides_changed(struct guest *g);


/* Backend callbacks: device state and size changes. */
void guest_backend_device(struct guest *g, const struct vmem_device *dev);
void guest_backend_size(struct guest *g, uint64_t size_bytes);
void guest_backend_lost(struct guest *g);
/*
 * guest_backend_gone - @g's QEMU is gone, not merely silent: its socket
 * refuses connections or no longer exists (@why), so the memory it held is
 * free on the host. It leaves the market and its floor the supply; a
 * device report later starts it afresh. Logged once. Never fails.
 */
void guest_backend_gone(struct guest *g, const char *why);
/*
 * guest_backend_identity - the backend read the UUID of @g's VM, @uuid
 * (canonical, from vm_uuid_parse(); the caller drops the nil UUID, which
 * names no VM). The first one known is adopted with the account @g has.
 * One that differs from the one @g's account belongs to means the VM of
 * that name was replaced by another (a Proxmox VMID or a libvirt domain
 * name reused): @g starts afresh - a new account (default balance and
 * credit) and no operator overrides (weight, floor, cap, exclude, drain)
 * - logged once as a warning with both UUIDs. Either way the state file
 * is saved soon after. A backend reports it before the device it goes
 * with, so a new VM is never driven on the old one's overrides. Call on
 * every connection or read: the same UUID again costs O(1) and nothing
 * else. Never fails.
 */
void guest_backend_identity(struct guest *g, const char *uuid);

/*
 * guest_describe_record - what @g's state-file record holds, for the log:
 * "credit C, balance N" (or "no account yet") and its operator overrides,
 * into @buf of @size bytes, caller-owned. Never fails; truncates.
 */
void guest_describe_record(const struct guest *g, char *buf, size_t size);
/*
 * guest_backend_resize_sent - the hypervisor has taken the request for
 * @vmem_bytes that set_requested_size() queued (a backend with
 * resize_sent_later: libvirt's, on its worker thread). The resize's stall
 * clock starts now, so the time the request waited (on a domain's job
 * lock, a hung libvirtd) is not taken for a device that stopped moving;
 * its overall timeout still runs from the decision. Ignored unless it is
 * @g's resize in flight. Never fails.
 */
void guest_backend_resize_sent(struct guest *g, uint64_t vmem_bytes);
/*
 * guest_backend_resize_failed - the request for @vmem_bytes that
 * set_requested_size() sent was refused (@why, the hypervisor's words) or
 * never answered: the device was not asked for it. If it is still @g's
 * latest request, its requested size goes back to what it was, so nothing
 * is booked that the device never took, the resize ends (not judged for
 * credit: the guest did not fail it) and resize_errors is counted. Logged
 * once until a request goes through. Never fails.
 */
void guest_backend_resize_failed(struct guest *g, uint64_t vmem_bytes,
				 const char *why);

/* Agent channel callbacks. */
void guest_agent_connected(struct guest *g);
void guest_agent_message(struct guest *g, const struct agent_msg *msg);

/*
 * guest_snapshot - @g as the planner sees it now (plan.h), into @out
 * (caller-owned). Never fails.
 */
void guest_snapshot(const struct guest *g, struct plan_guest *out);

/*
 * guest_growable_since_us - when @g last became free to grow again: its
 * resize ended, or a growth reached its size and is only held; 0 while a
 * resize holds it. Never fails.
 */
int64_t guest_growable_since_us(const struct guest *g);

/*
 * guest_held_units - units @g holds above its floor: what it has or was
 * asked to have, whichever is more, so an unplug in flight is never
 * counted as free. 0 without a unit. Never fails.
 */
uint32_t guest_held_units(const struct guest *g);

/*
 * guest_offered_units - of guest_held_units(), those @g's latest report
 * shows free in whole units (pages_offer_bytes()); 0 without a histogram
 * (proc mode) or a unit. Never fails.
 */
uint32_t guest_offered_units(const struct guest *g);

/*
 * guest_check_resize - end the resize in flight, counted as short, if its
 * size has stopped moving or resize_timeout_ms has passed. Never fails.
 */
void guest_check_resize(struct guest *g, int64_t now_us);

/*
 * guest_resize - ask the backend to move @g to @total_bytes (boot included),
 * sending the agent an evict notice first if it shrinks, and a grant with
 * @price once the request is sent. @bid is the guest's bid the market
 * decided on (plan_action.bid): for a shrink, what it bid for the first
 * unit taken, against which a later bid is judged (plan_guest.shrink_bid).
 * A guest that prepares its unplugs gets evict_prepare_ms before the
 * request goes out, unless @at_once: another guest is short and waits for
 * the memory. @now_us stamps the decision.
 * Returns 0, -EINVAL if @total_bytes is not a size the device can take, or
 * -errno from the backend (the caller logs it); then nothing was sent.
 */
int guest_resize(struct guest *g, uint64_t total_bytes, uint32_t price,
		 uint32_t bid, int at_once, int64_t now_us);

#endif /* RAMM_GUEST_H */
