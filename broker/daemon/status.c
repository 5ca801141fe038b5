/* SPDX-License-Identifier: MIT */
/*
 * The state JSON and the market totals; status.h states the contract.
 */
#include <unistd.h>

#include <json-c/json.h>

#include "agent_chan.h"
#include "ctl_commands.h"
#include "guest.h"
#include "rammd.h"
#include "status.h"

#define MIB (1024ULL * 1024ULL)

void status_totals(const struct rammd *d, struct status_totals *out)
{
	*out = (struct status_totals){ .price = d->n_pools ? d->pools[0].price : 0 };
	for (size_t p = 0; p < d->n_pools; p++) {
		out->supply_bytes += d->pools[p].supply_bytes;
		out->allocated_bytes += d->pools[p].allocated_bytes;
		out->demand_bytes += d->pools[p].demand_bytes;
	}
}

static struct json_object *json_mib(uint64_t bytes)
{
	return json_object_new_uint64(bytes / MIB);
}

/* One resize's sizes and times (rammd's monotonic clock, 0: not yet). */
static struct json_object *status_resize_json(const struct guest_resize *r)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "from_mib", json_mib(r->from_bytes));
	json_object_object_add(o, "to_mib", json_mib(r->to_bytes));
	json_object_object_add(o, "report_us", json_object_new_int64(r->report_us));
	json_object_object_add(o, "decided_us", json_object_new_int64(r->decided_us));
	json_object_object_add(o, "set_us", json_object_new_int64(r->set_us));
	json_object_object_add(o, "reached_us", json_object_new_int64(r->reached_us));
	json_object_object_add(o, "done_us", json_object_new_int64(r->done_us));
	return o;
}

static struct json_object *status_guest_json(struct guest *g, int64_t now)
{
	struct json_object *o = json_object_new_object();
	struct json_object *bid = json_object_new_array();
	struct json_object *cnt = json_object_new_object();
	struct json_object *earlier = json_object_new_array();
	const struct guest_counters *c = &g->counters;
	uint64_t unit = g->unit_bytes;

	json_object_object_add(o, "name", json_object_new_string(g->cfg.name));
	json_object_object_add(o, "backend", json_object_new_string(g->backend->name));
	json_object_object_add(o, "uuid", g->uuid[0] ? json_object_new_string(g->uuid) : NULL);
	json_object_object_add(o, "mode", json_object_new_string(g->mode[0] ? g->mode : "none"));
	json_object_object_add(o, "state", json_object_new_string(guest_state_name(g->state)));
	json_object_object_add(o, "device_ready", json_object_new_boolean(guest_device_ready(g)));
	json_object_object_add(o, "agent_connected", json_object_new_boolean(agent_chan_is_up(g->chan)));
	json_object_object_add(o, "floor_mib", json_mib(g->floor_bytes));
	json_object_object_add(o, "cap_mib", json_mib(g->cap_bytes));
	json_object_object_add(o, "boot_mib", json_mib(g->dev.boot_bytes));
	json_object_object_add(o, "size_mib", json_mib(guest_total_bytes(g)));
	json_object_object_add(o, "requested_mib",
			       json_mib(guest_device_ready(g) ? g->dev.boot_bytes + g->dev.requested_bytes : 0));
	json_object_object_add(o, "target_mib",
			       json_mib(guest_device_ready(g) ? g->floor_bytes + (uint64_t)g->target_units * unit : 0));
	json_object_object_add(o, "unit_kib", json_object_new_uint64(unit / 1024));
	json_object_object_add(o, "page_kib", json_object_new_uint64(g->dev.page_bytes / 1024));
	json_object_object_add(o, "host_nodes", json_object_new_uint64(g->dev.host_nodes));
	json_object_object_add(o, "pins_memory", json_object_new_boolean(g->dev.vfio));
	json_object_object_add(o, "pool", json_object_new_string(!g->unit_bytes ? "none"
			       : g->dev.page_bytes > (uint64_t)getpagesize() ? "hugetlb" : "ordinary"));
	json_object_object_add(o, "offer_mib",
			       json_mib((uint64_t)guest_offered_units(g) * unit));
	if (g->have_report && g->report.have_hist) {
		struct json_object *hist = json_object_new_array();

		for (size_t i = 0; i < RAMM_HIST_SIZES; i++)
			json_object_array_add(hist, json_object_new_uint64(g->report.hist_vmem[i]));
		json_object_object_add(o, "hist_vmem", hist);
	}
	json_object_object_add(o, "price", json_object_new_uint64(g->price));
	json_object_object_add(o, "resizing", json_object_new_boolean(g->state == GUEST_RESIZING));
	/* How long the market has wanted it smaller: its shrink waits for
	 * shrink_delay_ms of that. */
	json_object_object_add(o, "shrink_wanted_ms",
			       g->shrink_since_us ? json_object_new_int64((now - g->shrink_since_us) / 1000)
						  : NULL);
	json_object_object_add(o, "report_age_ms",
			       g->have_report ? json_object_new_int64((now - g->report_us) / 1000) : NULL);
	json_object_object_add(o, "report_seq", json_object_new_uint64(g->report.seq));
	json_object_object_add(o, "urgent", json_object_new_boolean(g->have_report && g->report.urgent));
	json_object_object_add(o, "mem_available_mib",
			       json_object_new_uint64(g->report.mem_available_kib / 1024));
	json_object_object_add(o, "psi_some_avg10", json_object_new_double(g->report.psi_some_avg10));
	json_object_object_add(o, "weight", json_object_new_uint64(guest_weight(g)));
	json_object_object_add(o, "credit", json_object_new_double(g->account.credit / 1000.0));
	json_object_object_add(o, "balance", json_object_new_uint64(g->account.balance));
	json_object_object_add(o, "paid_total", json_object_new_uint64(g->paid_total));
	json_object_object_add(o, "overrides", ctl_commands_overrides_json(g));
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
	CNT(resize_short); CNT(fell_short);
#undef CNT
	json_object_object_add(o, "counters", cnt);
	json_object_object_add(o, "last_resize", status_resize_json(&g->resize));
	for (uint64_t n = g->n_resizes > GUEST_EARLIER_RESIZES ?
			  g->n_resizes - GUEST_EARLIER_RESIZES : 0; n < g->n_resizes; n++)
		json_object_array_add(earlier, status_resize_json(
			&g->earlier[n % GUEST_EARLIER_RESIZES]));
	json_object_object_add(o, "earlier_resizes", earlier);
	return o;
}

struct json_object *status_json(struct rammd *d)
{
	struct status_totals sum;
	struct json_object *o = json_object_new_object();
	struct json_object *guests = json_object_new_array();
	struct json_object *pools = json_object_new_array();
	struct json_object *tick_us = json_object_new_array();
	int64_t now = rammd_now_us();

	json_object_object_add(o, "now_us", json_object_new_int64(now));
	json_object_object_add(o, "ticks", json_object_new_uint64(d->ticks));
	/* The last ticks' durations, oldest first: tick t's is at t % size. */
	for (uint64_t t = d->ticks > RAMMD_TICK_HISTORY ? d->ticks - RAMMD_TICK_HISTORY + 1 : 1;
	     t <= d->ticks; t++)
		json_object_array_add(tick_us, json_object_new_uint64(d->tick_us[t % RAMMD_TICK_HISTORY]));
	json_object_object_add(o, "tick_us", tick_us);
	status_totals(d, &sum);
	json_object_object_add(o, "price", json_object_new_uint64(sum.price));
	json_object_object_add(o, "unit_mib", json_object_new_uint64(d->cfg.unit_mib));
	json_object_object_add(o, "supply_mib", json_mib(sum.supply_bytes));
	json_object_object_add(o, "allocated_mib", json_mib(sum.allocated_bytes));
	json_object_object_add(o, "demand_mib", json_mib(sum.demand_bytes));
	json_object_object_add(o, "reserve_price", json_object_new_uint64(d->cfg.reserve_price));
	json_object_object_add(o, "emergency", json_object_new_boolean(d->emergency));
	for (size_t i = 0; i < d->n_pools; i++) {
		const struct plan_pool *p = &d->pools[i];
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
				      status_guest_json(g_ptr_array_index(d->guests, i), now));
	json_object_object_add(o, "guests", guests);
	return o;
}
