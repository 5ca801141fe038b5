/* SPDX-License-Identifier: MIT */
/*
 * The daemon's state: configuration, the managed guests and the latest
 * market outcome. One instance, owned by main(); everything runs on the one
 * GLib main loop, so nothing here is locked.
 */
#ifndef RAMM_RAMMD_H
#define RAMM_RAMMD_H

#include <stdint.h>

#include <glib.h>

#include "config.h"
#include "plan.h"
#include "state.h"

struct control;
struct guest;
struct json_object;
struct metrics;
struct persist_job;
struct record;

/* Tick durations kept for rammctl (the last this many ticks). */
#define RAMMD_TICK_HISTORY 256

struct rammd {
	struct rammd_config cfg;   /* as loaded */
	GMainLoop *loop;
	GPtrArray *guests;         /* struct guest *, owned, in tick order
				    * (registry.h) */
	GHashTable *guest_by_name; /* name -> struct guest * of @guests */
	GHashTable *guests_refused; /* names past RAMMD_MAX_GUESTS, logged
				    * once each (owned strings) */
	struct control *control;   /* control socket server */
	struct metrics *metrics;   /* Prometheus endpoint, NULL if off */
	guint early_tick_source;   /* pending early round, 0 if none */
	int early_tick_full;       /* it is a whole tick (an operator's
				    * change), not urgent reports' rounds */
	int unplug_ended;          /* since the last round: growth that
				    * waited for memory gets a partial one */
	int64_t last_tick_us;      /* monotonic time of the last round, a
				    * partial one included */
	int64_t last_regular_tick_us; /* ... of the last whole tick: what
				    * accrues is paid from there */
	uint32_t tick_us[RAMMD_TICK_HISTORY]; /* how long tick t took, at
				    * t % RAMMD_TICK_HISTORY */

	/* Latest market outcome, for rammctl; totals over the pools are
	 * status_totals()'s. */
	uint64_t ticks;            /* clearings so far */
	int emergency;             /* host MemAvailable below critical */
	struct plan_pool pools[PLAN_MAX_POOLS]; /* the latest tick's */
	size_t n_pools;            /* entries of @pools in use, >= 1 */
	int hugepool_error;        /* last hugepool_read() failure, logged
				    * once; 0 if it read */

	/* The state file (state.h): entries as last saved or loaded, so a
	 * guest that is down across a restart keeps its record. */
	struct state_entry *saved; /* STATE_MAX_ENTRIES, owned (persist.h) */
	size_t n_saved;
	GHashTable *saved_by_name; /* name -> entry of @saved */
	size_t saved_cursor;       /* where persist.c looks next for a record
				    * to drop when @saved is full */
	guint save_source;         /* pending save, 0 if none */
	struct persist_job *save_job; /* the save on its worker thread,
				    * NULL if none (persist.c) */
	int save_again;            /* records changed while @save_job ran:
				    * save again when it ends */
	guint tick_source;         /* the periodic clearing */
	const char *config_path;   /* what SIGHUP reloads */
	struct record *record;     /* --record FILE, NULL if off (record.h) */
};

/*
 * rammd_state_changed - an override or an account changed in a way that
 * must survive a crash: save the state file soon (from the main loop).
 * persist.c; never fails (a failed save is logged and retried).
 */
void rammd_state_changed(struct rammd *d);

/* rammd_tick - one market tick (tick.c): snapshot, plan_tick(), carry
 * out. Never fails: what goes wrong is logged and retried next tick. */
void rammd_tick(struct rammd *d);

/* rammd_on_tick - rammd_tick() as the periodic GLib source. */
gboolean rammd_on_tick(gpointer data);

/*
 * rammd_request_tick - clear the whole market soon, ahead of the periodic
 * tick (an operator's change): at most RAMMD_MIN_TICK_GAP_MS after the
 * last round. What accrues is paid for the wall time since the last
 * whole tick, so an early tick pays no more than waiting would.
 */
void rammd_request_tick(struct rammd *d);

/*
 * rammd_request_urgent - a guest sent an urgent report: soon, a partial
 * round for each guest whose latest report is urgent and new
 * (plan_input.partial), never closer than RAMMD_MIN_TICK_GAP_MS to the
 * last round. A guest cannot pull the periodic tick forward nor make
 * anything accrue faster.
 */
void rammd_request_urgent(struct rammd *d);

/*
 * rammd_request_waiting_growth - an unplug has ended: soon, as for
 * rammd_request_urgent(), a partial round for each guest whose growth won
 * in the last round waited for memory free now, so that it need not wait
 * for the next tick to get what was freed for it.
 */
void rammd_request_waiting_growth(struct rammd *d);

/* rammd_now_us - the monotonic clock every timestamp in rammd uses. */
int64_t rammd_now_us(void);

/* rammd_unit_bytes - the configured market unit: ordinary memory's, and
 * the least unit of any guest. */
uint64_t rammd_unit_bytes(const struct rammd *d);

#endif /* RAMM_RAMMD_H */
