/* SPDX-License-Identifier: MIT */
/*
 * The tick planner: everything rammd decides in one tick, as one pure
 * function. rammd takes a snapshot of the host and its guests, calls
 * plan_tick() and carries out the actions; ramm-sim's `ramm` policy calls
 * the same function on the guests it simulates. No I/O, no clock reads, no
 * globals: the time and every input are in struct plan_input.
 *
 * Rules, in the order a tick applies them (docs/ARCHITECTURE.md, "One
 * tick"):
 *   - pools: ordinary memory is pool 0; each hugetlb page size on a set of
 *     host nodes is another, cleared on its own in its own unit, after the
 *     pools before it took the pages they granted;
 *   - accounts open on the budget of ordinary memory;
 *   - a guest with no fresh bid in its unit, a growth in flight, or an
 *     exclusion is frozen: it keeps what it holds;
 *   - a shrink in flight can be stopped, never deepened: an urgent report
 *     after it was decided, or a bid that wins back any of what is being
 *     taken, sets the request back up to what the guest holds; for
 *     min_hold_ms after that, no short bid takes from it at once;
 *   - a dip must last: a shrink is carried out only once the market has
 *     wanted it for shrink_delay_ms on end (not in an emergency or drain);
 *   - a rise keeps its memory: no shrink but an emergency's or a drain's
 *     takes what a guest whose working set is rising (wss_rise_bps) would
 *     still have available after 10 s more of that rise;
 *   - a lease: memory won in the last min_hold_ms is not taken back;
 *   - a short bid (preempt_price or more, after a credit under half, for
 *     a unit it lacks) takes at once, past the lease and the dip, what
 *     others bid at most reserve_price for, and did not claim in the last
 *     shrink_delay_ms, while they bid more for some; past the dip
 *     of a guest that bids for nothing too, but past any dip only what
 *     the short guests lack beyond free memory; shrinks decided while a
 *     guest is short are marked for_short: their unplug does not wait for
 *     preparation, unless the guest shrunk bids for nothing;
 *   - a return window: memory the market took from a guest stays free for
 *     it to grow back into for return_window_ms; others' growth waits for
 *     it unless they bid short or grow back into a window of their own;
 *   - the stuck window: after a short unplug only offered units are taken;
 *   - time: income, bills, credit's rise and idle fall and the rate
 *     limits are rates per tick_ms of wall time, paid for the time since
 *     the last regular tick (plan_input.elapsed_us), never per call;
 *   - rate limits (max_plug_mib, max_unplug_mib, at least one unit) and
 *     the quantum are the market's (market_clear());
 *   - emergency: host MemAvailable below critical_free_mib cuts ordinary
 *     supply to what its guests hold less the deficit, once per unplug;
 *   - actuation: a guest below its floor is raised to it; shrinks go
 *     first; growth comes only out of memory free now: free in the books,
 *     and in ordinary memory free on the host too (MemAvailable less
 *     critical_free_mib less growth in flight; for a guest that pins what
 *     it plugs, less what other guests plugged and may not have touched
 *     yet); no growth at all while a guest's device is unknown;
 *   - a partial round (an urgent report) may only grow its one guest, out
 *     of memory free now; nothing accrues and no other guest moves.
 */
#ifndef RAMM_PLAN_H
#define RAMM_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "hugepool.h"
#include "market.h"
#include "ramm/proto.h"

struct rammd_config;

/* At most this many memory pools (page size and host nodes) at once. */
#define PLAN_MAX_POOLS 16
/* A tick accrues for at most this many tick_ms, however long the daemon
 * stalled: a stopped or starved rammd must not pay out a fortune, nor
 * let a guest plug minutes' worth of memory in one step. */
#define PLAN_MAX_ELAPSED_TICKS 2

/* The most a guest claimed lately; caller-owned, zeroed. */
struct plan_claim_peak {
	int64_t at_us;   /* when it last claimed @units or more; 0: never */
	uint32_t units;  /* its units bid for above reserve_price then */
};

/* One guest as the planner sees it when a tick starts. Sizes in bytes. */
struct plan_guest {
	int in_market;            /* its device is known and sized in whole
				   * host pages: it has a unit */
	int device_unknown;       /* found, but its device not read yet: it
				   * may hold any amount of host memory */
	int pins_memory;          /* a VFIO device: every block it plugs is
				   * pinned in host RAM at once */
	int device_ready;         /* the device may be resized now */
	int resizing;             /* a resize is in flight */
	int excluded;             /* by the config or the operator */
	int drain;                /* the operator drains it to its floor */
	uint32_t weight;          /* income shares (override, config, default) */
	uint64_t unit_bytes;      /* its market unit; 0 if not in the market */
	uint64_t floor_bytes;     /* total memory never auctioned */
	uint64_t cap_bytes;       /* total memory at most */
	uint64_t boot_bytes;      /* memory outside virtio-mem */
	uint64_t size_bytes;      /* virtio-mem plugged */
	uint64_t requested_bytes; /* virtio-mem requested */
	uint64_t page_bytes;      /* backing page size */
	uint64_t host_nodes;      /* host nodes of its backing; 0: any */

	int have_report;          /* the fields below hold its latest report */
	int64_t report_us;        /* when it arrived */
	uint64_t report_unit_bytes; /* the unit its bid is in */
	uint64_t mem_available_bytes; /* what it reports available */
	int have_hist;            /* @hist_vmem is there (kernel mode) */
	int report_urgent;        /* that report was urgent */
	uint64_t hist_vmem[RAMM_HIST_SIZES]; /* its free virtio-mem extents */
	size_t n_bid;             /* steps in @bid */
	struct ramm_bid_step bid[RAMM_MAX_BID_STEPS]; /* its bid, in its unit */

	int64_t last_grow_us;     /* its latest growth was decided; 0: never */
	int64_t stuck_until_us;   /* an unplug fell short: until then only
				   * offered memory is taken */
	int64_t resize_decided_us; /* the resize in flight was decided */
	uint32_t shrink_bid;      /* its bid for the first unit the shrink in
				   * flight takes, when the shrink was decided
				   * (plan_action.bid); 0 without one */
	int64_t shrink_since_us;  /* the market has wanted to shrink it on
				   * end since then; 0: it has not (from
				   * plan_guest_result) */
	int64_t shrink_stopped_us; /* a shrink of it was last stopped
				   * (PLAN_STOP_SHRINK); 0: never */
	struct plan_claim_peak claim_peak; /* the most it claimed lately
				   * (plan_claim_peak_update()) */
	uint64_t wss_rise_bps;    /* how fast its working set rose lately,
				   * bytes a second (plan_rise_update());
				   * 0: it did not */
	int64_t taken_us;         /* the market last shrank it; 0: never */
	uint32_t taken_from_units; /* what it held before the shrinks of
				   * its return window (from
				   * plan_guest_result) */
	int account_open;         /* @account holds an account */
	struct market_account account; /* balance, weight, credit */
	uint32_t unplug_asked_units; /* shrinks ended since the last tick ... */
	uint32_t unplug_done_units;  /* ... and what they achieved in time */
};

/* The host when a tick starts. */
struct plan_host {
	uint64_t base_page_bytes;     /* the host's base page size */
	int meminfo_ok;               /* the two below were read */
	uint64_t mem_total_bytes;     /* MemTotal */
	uint64_t mem_available_bytes; /* MemAvailable */
	int hugepools_ok;             /* @hugepools was read */
	struct hugepool_host hugepools; /* its hugetlb pools */
};

struct plan_input {
	const struct rammd_config *cfg; /* the market's knobs */
	int64_t now_us;           /* the tick's time, monotonic */
	int64_t elapsed_us;       /* wall time since the last regular tick:
				   * what income, bills, credit and rate
				   * limits accrue over, clamped to
				   * PLAN_MAX_ELAPSED_TICKS x tick_ms; <= 0:
				   * one tick_ms (a first tick, or a caller
				   * stepping whole ticks) */
	int partial;              /* an urgent report's round: only guest
				   * @urgent may move, and only up; nothing
				   * is settled or accrues */
	size_t urgent;            /* the guest a partial round is for */
	struct plan_host host;
	size_t n_guests;
	const struct plan_guest *guests; /* [n_guests] */
};

/* Why a resize was planned. */
enum plan_why {
	PLAN_RAISE_TO_FLOOR,      /* it was below its floor */
	PLAN_GROW,                /* it won more */
	PLAN_OUTBID,              /* others bid more for its units */
	PLAN_NO_BID,              /* it no longer bids for them */
	PLAN_DRAIN,               /* the operator drains it */
	PLAN_EMERGENCY,           /* emergency reclaim */
	PLAN_STOP_SHRINK,         /* a shrink in flight is stopped: it bids
				   * for what is being taken, or is urgent */
};

/* One resize to carry out. At most one per guest per tick. */
struct plan_action {
	size_t guest;             /* index into plan_input.guests */
	uint64_t total_bytes;     /* the size to ask for, boot included */
	uint32_t from_units;      /* units it held above its floor */
	uint32_t to_units;        /* units it is to hold */
	uint32_t price;           /* its pool's clearing price */
	enum plan_why why;
	uint32_t bid;             /* for PLAN_GROW its bid for unit
				   * from_units + 1, else for unit
				   * to_units + 1; 0 without a report */
	uint32_t offered_units;   /* what it offered before the resize */
	int only_offered;         /* a shrink inside the stuck window */
	int for_short;            /* a shrink while another guest is short
				   * (plan_bids_short()): it waits for this
				   * memory, so the unplug goes out at once;
				   * never for a guest that bids for nothing */
};

/* A memory pool and its clearing this tick. */
struct plan_pool {
	char name[48];             /* "ordinary", "hugetlb-2048k", ... */
	uint64_t page_bytes;       /* huge page size; 0: ordinary memory */
	uint64_t host_nodes;       /* nodes its pages come from; 0: any */
	uint64_t unit_bytes;       /* the unit it clears in */
	uint32_t n_guests;         /* guests in it this tick */
	uint32_t price;            /* its clearing price */
	uint64_t supply_bytes;     /* auctionable memory above its floors */
	uint64_t free_bytes;       /* hugetlb: free pages it may plug now */
	uint64_t allocated_bytes;  /* sum of its targets above floors */
	uint64_t demand_bytes;     /* memory bid for at a positive price */
	int error;                 /* market_round() failed (-errno): the
				    * pool made no changes this tick */
};

/* What the tick decided for one guest. */
struct plan_guest_result {
	int pool;                 /* index into plan_result.pools; -1: not in
				   * the market (no unit, or too many pools) */
	int too_many_pools;       /* pool is -1 for want of a pool slot */
	int planned;              /* the market set @target_units: its pool
				   * cleared and its device is ready */
	uint32_t target_units;    /* the market's target above the floor, in
				   * its own unit */
	uint32_t price;           /* its pool's clearing price */
	struct market_account account; /* its account after settling */
	int account_open;         /* @account holds an account */
	uint64_t paid;            /* price-units it paid this tick */
	int growth_waits;         /* it won growth that waits for memory
				   * free now: in the books, on the host,
				   * or until every device is known */
	int64_t shrink_since_us;  /* for its next plan_guest */
	int shrink_waits;         /* a shrink waits for shrink_delay_ms */
	int64_t taken_us;         /* for its next plan_guest */
	uint32_t taken_from_units; /* for its next plan_guest */
};

struct plan_result {
	int emergency;            /* host MemAvailable below critical */
	size_t n_pools;           /* >= 1: pool 0 is ordinary memory */
	struct plan_pool pools[PLAN_MAX_POOLS];
	size_t n_actions;
	struct plan_action *actions;         /* [n_guests], caller-owned */
	struct plan_guest_result *guests;    /* [n_guests], caller-owned */
};

/*
 * plan_tick - plan one tick for @in. @out->actions and @out->guests must
 * each have room for @in->n_guests entries; the rest of @out is written.
 * @out->actions go pool by pool, each pool's shrinks before its growth:
 * the order to carry them out in. A pool whose market fails keeps its guests as they are and reports
 * the error in its entry. In a partial round (@in->partial) the accounts
 * in @out->guests are those the tick started with and nothing is paid:
 * only @out->actions mean anything. Pure; O(n_guests x (steps + pools)).
 * Returns 0, -EINVAL (a partial round whose @urgent is not a guest) or
 * -ENOMEM (scratch memory); then @out is undefined.
 */
int plan_tick(const struct plan_input *in, struct plan_result *out);

/*
 * plan_held_units - units @g holds above its floor: what it has or was
 * asked to have, whichever is more, so an unplug in flight is never
 * counted as free. 0 without a unit. Pure.
 */
uint32_t plan_held_units(const struct plan_guest *g);

/*
 * plan_offered_units - of plan_held_units(), those @g's report shows free
 * in whole units (pages_offer_bytes()); 0 without a histogram or a unit.
 * Pure.
 */
uint32_t plan_offered_units(const struct plan_guest *g);

/*
 * plan_claim_peak_update - take the bid @bid of @n_bid steps, reported at
 * @now_us, into @p: the units it bids more than @cfg's reserve_price for
 * become the peak when they reach it, or when the peak is shrink_delay_ms
 * old; a lower claim leaves the peak as it was until then. A clock that
 * goes back starts again. Pure; cannot fail.
 */
void plan_claim_peak_update(struct plan_claim_peak *p, const struct rammd_config *cfg,
			    const struct ramm_bid_step *bid, size_t n_bid, int64_t now_us);

/* How fast a guest's working set rose lately; caller-owned, zeroed. */
struct plan_rise {
	int64_t at_us;      /* when @wss_bytes was reported; 0: not yet */
	uint64_t wss_bytes; /* MemTotal less MemAvailable then */
	uint64_t bps;       /* the recent rise, bytes a second */
};

/*
 * plan_rise_update - take the working set @wss_bytes (MemTotal less
 * MemAvailable) of a report at @now_us into @r and return how fast it
 * rises, in bytes a second. A rise is measured over spans of at least
 * PLAN_RISE_MIN_SPAN_US: an urgent report may follow the last by a few
 * ms, and the 1 MiB between them said a workload 0.4 s into a burst of
 * 41 MiB/s was not rising. A shorter span is folded into the next, unless
 * the working set fell: then the span starts again at the fall, or a
 * workload that exits and starts again at once (seen in the soak) would
 * rise from a level it had left and look as if it did not. The
 * figure is the faster of the span's rise and half the previous figure,
 * so a burst is still seen a few reports on; a span's rise counts only at
 * PLAN_RISE_MIN_BYTES or more (noise), and a figure below
 * PLAN_RISE_BYTES_PER_S (page cache and slab drift slower) is 0. A clock
 * that goes back starts again. Pure; cannot fail.
 */
#define PLAN_RISE_MIN_SPAN_US 250000ll
#define PLAN_RISE_MIN_BYTES (4ull << 20)
#define PLAN_RISE_BYTES_PER_S (8ull << 20)
uint64_t plan_rise_update(struct plan_rise *r, uint64_t wss_bytes, int64_t now_us);

/* plan_why_text - a short phrase for @why, for logs. Never NULL. */
const char *plan_why_text(enum plan_why why);

#endif /* RAMM_PLAN_H */
