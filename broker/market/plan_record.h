/* SPDX-License-Identifier: MIT */
/*
 * One tick of the planner as one line of text: what plan_tick() was given
 * (struct plan_input, the market keys of the config included) and what it
 * decided (struct plan_result). `rammd --record FILE` appends a line per
 * tick; `ramm-sim --replay FILE` parses each, plans it again and compares.
 * Pure: formatting and parsing only, no I/O, no logging.
 *
 * The line: space-separated KEY=VALUE tokens, in exactly the order below,
 * one '\n' at the end. Every number is decimal ASCII (no sign, no leading
 * zero, no '+', no spaces; the *_us times may start with '-' and lie in
 * [-2^62, 2^62]); flags are 0 or 1. LIST is VALUE,VALUE,... (possibly
 * empty). Repeated groups start with their index token (`guest=I`, ...),
 * which must count up from 0.
 *
 *   ramm-plan-record=3 now_us=T elapsed_us=T partial=FLAG urgent=I
 *                              (urgent < guests in a partial round, else 0)
 *   cfg.KEY=N ...              every numeric key of struct rammd_config,
 *                              in plan_record_config_keys order; supply_mib
 *                              may be "auto". Read back with config_parse(),
 *                              so the same bounds hold; other keys are the
 *                              defaults
 *   host.base_page_bytes= host.meminfo_ok= host.mem_total_bytes=
 *   host.mem_available_bytes= host.hugepools_ok=
 *   hp.default_page_bytes= hp.nodes= hp.n_sizes=S
 *   S x { hp.size=I hp.page_bytes= hp.total_pages= hp.resv_pages=
 *         hp.free_pages= hp.node_free=LIST (node 0 first, at most
 *         HUGEPOOL_MAX_NODES; missing trailing nodes are 0) }
 *   guests=N
 *   N x { guest=I, then each struct plan_guest member by name in
 *         declaration order; hist_vmem=LIST of exactly RAMM_HIST_SIZES;
 *         bid=LIST of UNITS:PRICE (its n_bid steps, in place of n_bid
 *         and bid); account as account.balance= account.weight=
 *         account.credit= }
 *   emergency= pools=P
 *   P x { pool=I name=NAME (1..47 of [A-Za-z0-9@_.-]) page_bytes=
 *         host_nodes= unit_bytes= n_guests= price= supply_bytes=
 *         free_bytes= allocated_bytes= demand_bytes= error=-ERRNO }
 *   actions=M
 *   M x { action=I guest= total_bytes= from_units= to_units= price=
 *         why= (enum plan_why) bid= offered_units= only_offered= }
 *   N x { result=I pool= too_many_pools= planned= target_units= price=
 *         account_open= account.balance= account.weight= account.credit=
 *         paid= growth_waits= shrink_since_us= shrink_waits= }
 *
 * Bounds on reading: at most PLAN_RECORD_MAX_LINE bytes and
 * PLAN_RECORD_MAX_GUESTS guests; sizes at most 2^50 bytes, huge page
 * and histogram counts at most 2^40, a valid bid curve
 * (market_validate_bid()), page sizes pages_valid_size() (or 0 for a
 * guest's), and for a guest in the market a unit at least its pool's:
 * what rammd's snapshot guarantees and plan_tick() needs.
 *
 * A line starts (cut short here):
 *   ramm-plan-record=3 now_us=6643714000 elapsed_us=1000212 partial=0
 *   urgent=0 cfg.tick_ms=1000 cfg.supply_mib=auto ... guests=2 guest=0
 *   in_market=1 device_unknown=0 pins_memory=0 device_ready=1
 *   ... hist_vmem=12,0,0,0,0,0,0,0,0,0 bid=64:8000,64:300 ...
 */
#ifndef RAMM_PLAN_RECORD_H
#define RAMM_PLAN_RECORD_H

#include <stddef.h>

#include "config.h"
#include "plan.h"

/* The version in the first token; a reader refuses any other. */
#define PLAN_RECORD_VERSION 3
/* Most guests in one record: rammd's own limit (RAMMD_MAX_GUESTS). */
#define PLAN_RECORD_MAX_GUESTS 4096
/* Longest line, newline included: room for PLAN_RECORD_MAX_GUESTS guests
 * with full bid curves (about 2.5 KiB each). */
#define PLAN_RECORD_MAX_LINE (16u << 20)

/* One parsed record. Everything in it is owned by it. */
struct plan_record {
	struct rammd_config cfg;  /* config_defaults() with the recorded keys */
	struct plan_input in;     /* as recorded; .cfg is &@cfg, .guests is
				   * @guests */
	struct plan_guest *guests; /* [in.n_guests] */
	struct plan_result out;   /* as recorded; .actions and .guests have
				   * room for in.n_guests entries (at least
				   * one), so plan_tick() may reuse the sizes */
};

/*
 * plan_record_format - @in and what plan_tick() made of it, @out, as one
 * line ending in '\n'. On success *@line is a NUL-terminated string the
 * caller frees with free(), *@len its length without the NUL. Returns 0,
 * -ENOMEM, or -EINVAL if @in has more than PLAN_RECORD_MAX_GUESTS guests,
 * or @out more pools than PLAN_MAX_POOLS or more actions than guests;
 * then *@line is NULL. Pure; O(n_guests x bid steps).
 */
int plan_record_format(const struct plan_input *in,
		       const struct plan_result *out, char **line, size_t *len);

/*
 * plan_record_parse - read one line of @len bytes (an optional final
 * '\n'; no NUL) written by plan_record_format(). The line is untrusted:
 * every token, number, count and bound above is checked.
 * On success *@rec is a new record the caller frees with
 * plan_record_free(). Returns 0, -ENOMEM, or -EINVAL with @err (room for
 * @errlen bytes, caller-owned) saying which token is wrong and why; then
 * *@rec is NULL. Pure; O(@len).
 */
int plan_record_parse(const char *line, size_t len, struct plan_record **rec,
		      char *err, size_t errlen);

/* plan_record_free - free @rec and what it owns. NULL is fine. */
void plan_record_free(struct plan_record *rec);

#endif /* RAMM_PLAN_RECORD_H */
