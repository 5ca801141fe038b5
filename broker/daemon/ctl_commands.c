/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <json-c/json.h>

#include "agent_chan.h"
#include "guest.h"
#include "history.h"
#include "log.h"
#include "market.h"
#include "metrics.h"
#include "metrics_text.h"
#include "rammd.h"
#include "registry.h"
#include "status.h"
#include "ctl_commands.h"
#include "ramm/bid_tiers.h"

#define MIB (1024ULL * 1024ULL)
/* set floor|cap: MiB of total guest memory, as in the config file. */
#define OPS_MAX_MIB (1ULL << 32)
#define OPS_MAX_WEIGHT 10000

/* Error text for the reply; valid until the next request. */
static char ops_err[256];

__attribute__((format(printf, 2, 3)))
static struct json_object *ops_fail(const char **error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ops_err, sizeof(ops_err), fmt, ap);
	va_end(ap);
	*error = ops_err;
	return NULL;
}

/* ---- commands ----------------------------------------------------------- */

struct ops_req {
	const struct control_peer *peer;
	struct json_object *req;
	struct guest *g;        /* for commands that take "guest" */
	const char *name;       /* the command */
};

struct json_object *ctl_commands_overrides_json(const struct guest *g)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "weight", json_object_new_uint64(g->ov.weight));
	json_object_object_add(o, "floor_mib", json_object_new_uint64(g->ov.floor_mib));
	json_object_object_add(o, "cap_mib", json_object_new_uint64(g->ov.cap_mib));
	json_object_object_add(o, "excluded", json_object_new_boolean(g->ov.excluded));
	json_object_object_add(o, "drain", json_object_new_boolean(g->ov.drain));
	return o;
}

static struct json_object *ops_state(struct rammd *d, struct ops_req *r,
				     const char **error)
{
	(void)r;
	(void)error;
	return status_json(d);
}

static struct json_object *ops_history(struct rammd *d, struct ops_req *r,
				       const char **error)
{
	struct json_object *o = json_object_new_object();
	struct json_object *arr = json_object_new_array();
	const struct history *h = &r->g->history;

	(void)error;
	json_object_object_add(o, "guest", json_object_new_string(r->g->cfg.name));
	json_object_object_add(o, "tick_ms", json_object_new_uint64(d->cfg.tick_ms));
	json_object_object_add(o, "capacity", json_object_new_uint64(HISTORY_LEN));
	for (size_t i = 0; i < history_len(h); i++) {
		const struct history_entry *e = history_get(h, i);
		struct json_object *x = json_object_new_object();

		json_object_object_add(x, "time_ms", json_object_new_int64(e->time_ms));
		json_object_object_add(x, "size_mib", json_object_new_uint64(e->size_bytes / MIB));
		json_object_object_add(x, "target_mib", json_object_new_uint64(e->target_bytes / MIB));
		json_object_object_add(x, "price", json_object_new_uint64(e->price));
		json_object_object_add(x, "credit", json_object_new_double(e->credit / 1000.0));
		json_object_object_add(x, "balance", json_object_new_uint64(e->balance));
		json_object_array_add(arr, x);
	}
	json_object_object_add(o, "entries", arr);
	return o;
}

/* The reply of every mutation: the guest's overrides and limits now. */
static struct json_object *ops_changed(struct rammd *d, struct guest *g)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "guest", json_object_new_string(g->cfg.name));
	json_object_object_add(o, "overrides", ctl_commands_overrides_json(g));
	json_object_object_add(o, "floor_mib", json_object_new_uint64(g->floor_bytes / MIB));
	json_object_object_add(o, "cap_mib", json_object_new_uint64(g->cap_bytes / MIB));
	rammd_state_changed(d);
	rammd_request_tick(d);
	return o;
}

static struct json_object *ops_set(struct rammd *d, struct ops_req *r,
				   const char **error)
{
	struct guest *g = r->g;
	struct json_object *jk, *jv;
	const char *key;
	int64_t v;

	json_object_object_get_ex(r->req, "key", &jk);
	json_object_object_get_ex(r->req, "value", &jv);
	key = json_object_get_string(jk);
	v = json_object_get_int64(jv);
	if (v < 0)
		return ops_fail(error, "\"value\" must be >= 0 (0 clears the override)");
	if (!strcmp(key, "weight")) {
		if (v > OPS_MAX_WEIGHT)
			return ops_fail(error, "weight %lld is outside 1..%d (0 clears)",
					(long long)v, OPS_MAX_WEIGHT);
		/* The account takes it at the next tick (guest_snapshot()). */
		g->ov.weight = (uint32_t)v;
	} else if (!strcmp(key, "floor") || !strcmp(key, "cap")) {
		int is_floor = key[0] == 'f';
		uint64_t floor = g->ov.floor_mib ? g->ov.floor_mib : g->cfg.floor_mib;
		uint64_t cap = g->ov.cap_mib ? g->ov.cap_mib : g->cfg.cap_mib;

		if ((uint64_t)v > OPS_MAX_MIB)
			return ops_fail(error, "%s %lld MiB is outside 1..%llu (0 clears)",
					key, (long long)v, OPS_MAX_MIB);
		if (is_floor)
			floor = v ? (uint64_t)v : g->cfg.floor_mib;
		else
			cap = v ? (uint64_t)v : g->cfg.cap_mib;
		if (floor && cap && floor > cap)
			return ops_fail(error, "guest '%s': floor %llu MiB above cap %llu MiB",
					g->cfg.name, (unsigned long long)floor,
					(unsigned long long)cap);
		if (is_floor)
			g->ov.floor_mib = (uint64_t)v;
		else
			g->ov.cap_mib = (uint64_t)v;
		guest_overrides_changed(g);
	} else {
		return ops_fail(error, "\"key\" must be weight, floor or cap, not '%.32s'", key);
	}
	log_info("control: uid %ld: guest %s: set %s %lld%s%s", r->peer->uid,
		 g->cfg.name, key, (long long)v, key[0] == 'w' ? "" : " MiB",
		 v ? "" : " (override cleared)");
	return ops_changed(d, g);
}

static struct json_object *ops_flag(struct rammd *d, struct ops_req *r,
				    const char **error)
{
	struct guest *g = r->g;

	(void)error;
	/* Excluded (frozen at its size) and drained (taken to its floor)
	 * contradict each other: the latest command wins. */
	if (!strcmp(r->name, "exclude")) {
		g->ov.excluded = 1;
		g->ov.drain = 0;
	} else if (!strcmp(r->name, "drain")) {
		g->ov.drain = 1;
		g->ov.excluded = 0;
	} else {
		g->ov.excluded = 0;
		g->ov.drain = 0;
	}
	log_info("control: uid %ld: guest %s: %s", r->peer->uid, g->cfg.name,
		 r->name);
	return ops_changed(d, g);
}

enum { K_STRING, K_INT };

struct ops_key {
	const char *name;
	int type;
};

static const struct ops_cmd {
	const char *name;
	int mutating;
	struct json_object *(*fn)(struct rammd *d, struct ops_req *r,
				  const char **error);
	struct ops_key keys[3]; /* required members besides "cmd" */
} ops_cmds[] = {
	/* guests, bids and market read the same state; rammctl shows each
	 * its way. */
	{ "guests", 0, ops_state, { { NULL, 0 } } },
	{ "bids", 0, ops_state, { { NULL, 0 } } },
	{ "market", 0, ops_state, { { NULL, 0 } } },
	{ "history", 0, ops_history, { { "guest", K_STRING }, { NULL, 0 } } },
	{ "set", 1, ops_set, { { "guest", K_STRING }, { "key", K_STRING },
			       { "value", K_INT } } },
	{ "exclude", 1, ops_flag, { { "guest", K_STRING }, { NULL, 0 } } },
	{ "include", 1, ops_flag, { { "guest", K_STRING }, { NULL, 0 } } },
	{ "drain", 1, ops_flag, { { "guest", K_STRING }, { NULL, 0 } } },
};

static const struct ops_key *ops_key_of(const struct ops_cmd *c, const char *k)
{
	for (size_t i = 0; i < sizeof(c->keys) / sizeof(c->keys[0]) && c->keys[i].name; i++)
		if (!strcmp(c->keys[i].name, k))
			return &c->keys[i];
	return NULL;
}

struct json_object *ctl_commands_handle(void *ctx, const struct control_peer *peer,
				      struct json_object *req, const char **error)
{
	struct rammd *d = ctx;
	struct ops_req r = { .peer = peer, .req = req };
	const struct ops_cmd *c = NULL;
	struct json_object *cmd, *v;

	json_object_object_get_ex(req, "cmd", &cmd);
	r.name = json_object_get_string(cmd);
	for (size_t i = 0; i < sizeof(ops_cmds) / sizeof(ops_cmds[0]); i++)
		if (!strcmp(ops_cmds[i].name, r.name))
			c = &ops_cmds[i];
	if (!c)
		return ops_fail(error, "unknown command '%.32s'", r.name);
	json_object_object_foreach(req, key, val) {
		(void)val;
		if (strcmp(key, "cmd") && !ops_key_of(c, key))
			return ops_fail(error, "%s: unknown member '%.32s'", c->name, key);
	}
	for (size_t i = 0; i < sizeof(c->keys) / sizeof(c->keys[0]) && c->keys[i].name; i++) {
		const struct ops_key *k = &c->keys[i];

		if (!json_object_object_get_ex(req, k->name, &v) || !v)
			return ops_fail(error, "%s: missing member \"%s\"", c->name, k->name);
		if (k->type == K_STRING && !json_object_is_type(v, json_type_string))
			return ops_fail(error, "%s: \"%s\" must be a string", c->name, k->name);
		if (k->type == K_INT && !json_object_is_type(v, json_type_int))
			return ops_fail(error, "%s: \"%s\" must be an integer", c->name, k->name);
	}
	/* Refused before any lookup: the answer does not depend on the guest. */
	if (c->mutating && !peer->privileged)
		return ops_fail(error, CONTROL_EPERM ": '%s' needs root or group "
				CONTROL_ADMIN_GROUP " (uid %ld)", c->name, peer->uid);
	if (json_object_object_get_ex(req, "guest", &v)) {
		const char *name = json_object_get_string(v);

		if (!config_valid_name(name))
			return ops_fail(error, "%s: a guest name is 1-63 of [A-Za-z0-9._-]",
					c->name);
		r.g = registry_find(d, name);
		if (!r.g)
			return ops_fail(error, "%s: no guest '%s'", c->name, name);
	}
	return c->fn(d, &r, error);
}

/* ---- history and metrics -------------------------------------------------- */

static uint64_t ops_target_bytes(const struct guest *g)
{
	return guest_device_ready(g)
		? g->floor_bytes + (uint64_t)g->target_units * g->unit_bytes
		: 0;
}

void ctl_commands_record(struct rammd *d)
{
	int64_t now_ms = g_get_real_time() / 1000;

	for (guint i = 0; i < d->guests->len; i++) {
		struct guest *g = g_ptr_array_index(d->guests, i);
		struct history_entry e = {
			.time_ms = now_ms,
			.size_bytes = guest_total_bytes(g),
			.target_bytes = ops_target_bytes(g),
			.balance = g->account.balance,
			.price = g->price,
			.credit = g->account.credit,
		};

		history_push(&g->history, &e);
	}
}

static uint64_t ops_bid_bytes(const struct guest *g,
			      uint32_t price)
{
	if (!g->have_report)
		return 0;
	return market_claimed_units(g->report.bid, g->report.n_bid, price) *
	       g->unit_bytes;
}

static int ops_render_metrics(void *ctx, char **out, size_t *len)
{
	struct rammd *d = ctx;
	guint n = d->guests->len;
	struct metrics_guest *mg = calloc(n ? n : 1, sizeof(*mg));
	struct metrics_pool pools[PLAN_MAX_POOLS];
	struct status_totals t;
	struct metrics_snapshot s;
	int ret;

	status_totals(d, &t);
	s = (struct metrics_snapshot){
		.price = t.price,
		.supply_bytes = t.supply_bytes,
		.allocated_bytes = t.allocated_bytes,
		.demand_bytes = t.demand_bytes,
		.ticks = d->ticks,
		.emergency = d->emergency,
		.guests = mg,
		.n_guests = n,
		.pools = pools,
		.n_pools = d->n_pools,
	};

	if (!mg)
		return -ENOMEM;
	for (guint i = 0; i < n; i++) {
		struct guest *g = g_ptr_array_index(d->guests, i);

		mg[i].name = g->cfg.name;
		mg[i].size_bytes = guest_total_bytes(g);
		mg[i].target_bytes = ops_target_bytes(g);
		mg[i].floor_bytes = g->floor_bytes;
		mg[i].cap_bytes = g->cap_bytes;
		mg[i].bid_in_use_bytes = ops_bid_bytes(g, RAMM_PRICE_IN_USE);
		mg[i].bid_need_bytes = ops_bid_bytes(g, RAMM_PRICE_NEED);
		mg[i].bid_any_bytes = ops_bid_bytes(g, 1);
		mg[i].paid_total = g->paid_total;
		mg[i].balance = g->account.balance;
		mg[i].credit = g->account.credit / 1000.0;
		mg[i].agent_up = agent_chan_is_up(g->chan);
		mg[i].unit_bytes = g->unit_bytes;
		mg[i].offer_bytes = (uint64_t)guest_offered_units(g) * g->unit_bytes;
		mg[i].pins_memory = g->dev.vfio;
	}
	for (size_t i = 0; i < d->n_pools; i++)
		pools[i] = (struct metrics_pool){
			.name = d->pools[i].name,
			.price = d->pools[i].price,
			.supply_bytes = d->pools[i].supply_bytes,
			.free_bytes = d->pools[i].free_bytes,
			.allocated_bytes = d->pools[i].allocated_bytes,
			.demand_bytes = d->pools[i].demand_bytes,
		};
	ret = metrics_format(&s, out, len);
	free(mg);
	return ret;
}

void ctl_commands_start_metrics(struct rammd *d)
{
	struct config_listen addr;

	if (!d->cfg.metrics_listen[0])
		return;
	if (config_parse_listen(d->cfg.metrics_listen, &addr)) {
		log_err("metrics: bad metrics_listen '%s'; serving no metrics",
			d->cfg.metrics_listen);
		return;
	}
	d->metrics = metrics_new(&addr, ops_render_metrics, d);
	if (!d->metrics)
		log_err("metrics: cannot listen on %s: %s; serving no metrics",
			d->cfg.metrics_listen, strerror(errno));
	else
		log_info("metrics: serving http://%s/metrics", d->cfg.metrics_listen);
}
