/* SPDX-License-Identifier: MIT */
/*
 * Plan records (plan_record.h): one tick of the planner as one text line.
 * Every member is described once, in the tables below, and both
 * directions walk the same tables, so what is written is what is read.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "market.h"
#include "pages.h"
#include "plan_record.h"

#define MIB (1024ULL * 1024ULL)
#define REC_MAX_BYTES (1ULL << 50)
#define REC_MAX_COUNT (1ULL << 40)
#define REC_MAX_TIME (1LL << 62)

/*
 * A record must name every member plan_tick() reads. When one of these
 * fails, a member was added to plan.h or hugepool.h: add it to the tables
 * below (and to the format in plan_record.h), then update the size here.
 */
_Static_assert(sizeof(struct plan_guest) == 848,
	       "struct plan_guest changed: record the new member in plan_record.c");
_Static_assert(sizeof(struct plan_input) == 2296,
	       "struct plan_input changed: record the new member in plan_record.c");
_Static_assert(sizeof(struct plan_host) == 2240,
	       "struct plan_host changed: record the new member in plan_record.c");
_Static_assert(sizeof(struct hugepool_size) == 544,
	       "struct hugepool_size changed: record the new member in plan_record.c");
_Static_assert(sizeof(struct plan_action) == 48,
	       "struct plan_action changed: record the new member in plan_record.c");
_Static_assert(sizeof(struct plan_pool) == 120,
	       "struct plan_pool changed: record the new member in plan_record.c");
_Static_assert(sizeof(struct plan_guest_result) == 96,
	       "struct plan_guest_result changed: record the new member in plan_record.c");
_Static_assert(sizeof(struct rammd_config) == 80904,
	       "struct rammd_config changed: record a new market key in plan_record.c");

/* How a member is written and what bounds it has when read. */
enum rec_kind {
	REC_FLAG, /* int, 0 or 1 */
	REC_INT,  /* int in [min, max] */
	REC_U32,  /* uint32_t, at most max */
	REC_U64,  /* uint64_t, at most max */
	REC_SIZE, /* size_t, at most max */
	REC_I64,  /* int64_t in [min, max] */
};

struct rec_field {
	const char *key;
	enum rec_kind kind;
	size_t offset;
	int64_t min;      /* REC_INT, REC_I64 */
	uint64_t max;     /* all but REC_FLAG */
};

#define F_FLAG(s, m, k) { k, REC_FLAG, offsetof(s, m), 0, 1 }
#define F_U32(s, m, k) { k, REC_U32, offsetof(s, m), 0, UINT32_MAX }
#define F_U64(s, m, k, hi) { k, REC_U64, offsetof(s, m), 0, hi }
#define F_TIME(s, m, k) { k, REC_I64, offsetof(s, m), -REC_MAX_TIME, REC_MAX_TIME }

/* The market keys of struct rammd_config: every numeric key, read back
 * with config_parse(). */
static const struct rec_field rec_config[] = {
#define C32(n) F_U32(struct rammd_config, n, "cfg." #n)
#define C64(n) F_U64(struct rammd_config, n, "cfg." #n, UINT64_MAX)
	C32(tick_ms), C64(supply_mib), C64(host_reserve_mib), C64(unit_mib),
	C64(max_plug_mib), C64(max_unplug_mib), C32(move_cost),
	C64(quantum_mib), C64(min_floor_mib), C32(stale_report_ms),
	C32(resize_timeout_ms), C32(evict_deadline_ms), C32(min_hold_ms),
	C32(shrink_delay_ms), C32(return_window_ms), C32(preempt_price), C32(max_price), C32(reserve_price), C32(budget_price),
	C32(savings_ticks), C32(claim_price), C32(credit_idle_slack_pct),
	C64(credit_idle_slack_mib), C32(credit_fall_idle),
	C32(credit_fall_unplug), C32(credit_rise), C64(critical_free_mib),
	C32(default_weight),
#undef C32
#undef C64
};

static const struct rec_field rec_host[] = {
	F_U64(struct plan_host, base_page_bytes, "host.base_page_bytes", PAGES_MAX_BYTES),
	F_FLAG(struct plan_host, meminfo_ok, "host.meminfo_ok"),
	F_U64(struct plan_host, mem_total_bytes, "host.mem_total_bytes", REC_MAX_BYTES),
	F_U64(struct plan_host, mem_available_bytes, "host.mem_available_bytes", REC_MAX_BYTES),
	F_FLAG(struct plan_host, hugepools_ok, "host.hugepools_ok"),
	F_U64(struct plan_host, hugepools.default_page_bytes, "hp.default_page_bytes",
	      PAGES_MAX_BYTES),
	F_U64(struct plan_host, hugepools.nodes, "hp.nodes", UINT64_MAX),
	{ "hp.n_sizes", REC_SIZE, offsetof(struct plan_host, hugepools.n_sizes), 0,
	  HUGEPOOL_MAX_SIZES },
};

/* One huge page size; node_free is written apart. */
static const struct rec_field rec_hugepool[] = {
	F_U64(struct hugepool_size, page_bytes, "hp.page_bytes", PAGES_MAX_BYTES),
	F_U64(struct hugepool_size, total_pages, "hp.total_pages", REC_MAX_COUNT),
	F_U64(struct hugepool_size, resv_pages, "hp.resv_pages", REC_MAX_COUNT),
	F_U64(struct hugepool_size, free_pages, "hp.free_pages", REC_MAX_COUNT),
};

/* One guest up to hist_vmem, then (after hist_vmem and bid) the rest. */
#define G(m) offsetof(struct plan_guest, m)
static const struct rec_field rec_guest_head[] = {
	F_FLAG(struct plan_guest, in_market, "in_market"),
	F_FLAG(struct plan_guest, device_unknown, "device_unknown"),
	F_FLAG(struct plan_guest, pins_memory, "pins_memory"),
	F_FLAG(struct plan_guest, device_ready, "device_ready"),
	F_FLAG(struct plan_guest, resizing, "resizing"),
	F_FLAG(struct plan_guest, excluded, "excluded"),
	F_FLAG(struct plan_guest, drain, "drain"),
	F_U32(struct plan_guest, weight, "weight"),
	F_U64(struct plan_guest, unit_bytes, "unit_bytes", PAGES_MAX_BYTES),
	F_U64(struct plan_guest, floor_bytes, "floor_bytes", REC_MAX_BYTES),
	F_U64(struct plan_guest, cap_bytes, "cap_bytes", REC_MAX_BYTES),
	F_U64(struct plan_guest, boot_bytes, "boot_bytes", REC_MAX_BYTES),
	F_U64(struct plan_guest, size_bytes, "size_bytes", REC_MAX_BYTES),
	F_U64(struct plan_guest, requested_bytes, "requested_bytes", REC_MAX_BYTES),
	F_U64(struct plan_guest, page_bytes, "page_bytes", PAGES_MAX_BYTES),
	F_U64(struct plan_guest, host_nodes, "host_nodes", UINT64_MAX),
	F_FLAG(struct plan_guest, have_report, "have_report"),
	F_TIME(struct plan_guest, report_us, "report_us"),
	F_U64(struct plan_guest, report_unit_bytes, "report_unit_bytes", PAGES_MAX_BYTES),
	F_U64(struct plan_guest, mem_available_bytes, "mem_available_bytes", REC_MAX_BYTES),
	F_FLAG(struct plan_guest, have_hist, "have_hist"),
	F_FLAG(struct plan_guest, report_urgent, "report_urgent"),
};

static const struct rec_field rec_guest_tail[] = {
	F_TIME(struct plan_guest, last_grow_us, "last_grow_us"),
	F_TIME(struct plan_guest, stuck_until_us, "stuck_until_us"),
	F_TIME(struct plan_guest, resize_decided_us, "resize_decided_us"),
	F_U32(struct plan_guest, shrink_bid, "shrink_bid"),
	F_TIME(struct plan_guest, shrink_since_us, "shrink_since_us"),
	F_TIME(struct plan_guest, shrink_stopped_us, "shrink_stopped_us"),
	F_TIME(struct plan_guest, claim_peak.at_us, "claim_peak.at_us"),
	F_U32(struct plan_guest, claim_peak.units, "claim_peak.units"),
	F_U64(struct plan_guest, wss_rise_bps, "wss_rise_bps", REC_MAX_BYTES),
	F_TIME(struct plan_guest, taken_us, "taken_us"),
	F_U32(struct plan_guest, taken_from_units, "taken_from_units"),
	F_FLAG(struct plan_guest, account_open, "account_open"),
	F_U64(struct plan_guest, account.balance, "account.balance", UINT64_MAX),
	F_U32(struct plan_guest, account.weight, "account.weight"),
	{ "account.credit", REC_U32, G(account.credit), 0, MARKET_CREDIT_MAX },
	F_U32(struct plan_guest, unplug_asked_units, "unplug_asked_units"),
	F_U32(struct plan_guest, unplug_done_units, "unplug_done_units"),
};
#undef G

/* One pool; its name is written apart. */
static const struct rec_field rec_pool[] = {
	F_U64(struct plan_pool, page_bytes, "page_bytes", UINT64_MAX),
	F_U64(struct plan_pool, host_nodes, "host_nodes", UINT64_MAX),
	F_U64(struct plan_pool, unit_bytes, "unit_bytes", UINT64_MAX),
	F_U32(struct plan_pool, n_guests, "n_guests"),
	F_U32(struct plan_pool, price, "price"),
	F_U64(struct plan_pool, supply_bytes, "supply_bytes", UINT64_MAX),
	F_U64(struct plan_pool, free_bytes, "free_bytes", UINT64_MAX),
	F_U64(struct plan_pool, allocated_bytes, "allocated_bytes", UINT64_MAX),
	F_U64(struct plan_pool, demand_bytes, "demand_bytes", UINT64_MAX),
	{ "error", REC_INT, offsetof(struct plan_pool, error), -4095, 0 },
};

/* One action; guest is bounded by n_guests apart. */
static const struct rec_field rec_action[] = {
	{ "guest", REC_SIZE, offsetof(struct plan_action, guest), 0,
	  PLAN_RECORD_MAX_GUESTS - 1 },
	F_U64(struct plan_action, total_bytes, "total_bytes", UINT64_MAX),
	F_U32(struct plan_action, from_units, "from_units"),
	F_U32(struct plan_action, to_units, "to_units"),
	F_U32(struct plan_action, price, "price"),
	{ "why", REC_INT, offsetof(struct plan_action, why), PLAN_RAISE_TO_FLOOR,
	  PLAN_STOP_SHRINK },
	F_U32(struct plan_action, bid, "bid"),
	F_U32(struct plan_action, offered_units, "offered_units"),
	F_FLAG(struct plan_action, only_offered, "only_offered"),
	F_FLAG(struct plan_action, for_short, "for_short"),
};

/* What the tick decided for one guest; pool is bounded by n_pools apart. */
static const struct rec_field rec_result[] = {
	{ "pool", REC_INT, offsetof(struct plan_guest_result, pool), -1,
	  PLAN_MAX_POOLS - 1 },
	F_FLAG(struct plan_guest_result, too_many_pools, "too_many_pools"),
	F_FLAG(struct plan_guest_result, planned, "planned"),
	F_U32(struct plan_guest_result, target_units, "target_units"),
	F_U32(struct plan_guest_result, price, "price"),
	F_FLAG(struct plan_guest_result, account_open, "account_open"),
	F_U64(struct plan_guest_result, account.balance, "account.balance", UINT64_MAX),
	F_U32(struct plan_guest_result, account.weight, "account.weight"),
	F_U32(struct plan_guest_result, account.credit, "account.credit"),
	F_U64(struct plan_guest_result, paid, "paid", UINT64_MAX),
	F_FLAG(struct plan_guest_result, growth_waits, "growth_waits"),
	F_TIME(struct plan_guest_result, shrink_since_us, "shrink_since_us"),
	F_FLAG(struct plan_guest_result, shrink_waits, "shrink_waits"),
	F_TIME(struct plan_guest_result, taken_us, "taken_us"),
	F_U32(struct plan_guest_result, taken_from_units, "taken_from_units"),
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- formatting ---------------------------------------------------------- */

/* A growing string; @err is set once an allocation fails. */
struct rec_buf {
	char *s;
	size_t len, cap;
	int err;
};

__attribute__((format(printf, 2, 3)))
static void rec_printf(struct rec_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->err = -EINVAL;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap * 2 + (size_t)n + 1;
		char *s = realloc(b->s, cap);

		if (!s) {
			b->err = -ENOMEM;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
}

static void rec_format_fields(struct rec_buf *b, const struct rec_field *f,
			      size_t n, const void *base)
{
	const char *p = base;

	for (size_t i = 0; i < n; i++, f++) {
		const void *m = p + f->offset;

		switch (f->kind) {
		case REC_FLAG:
		case REC_INT:
			rec_printf(b, " %s=%d", f->key, *(const int *)m);
			break;
		case REC_U32:
			rec_printf(b, " %s=%u", f->key, *(const uint32_t *)m);
			break;
		case REC_U64:
			if (!strcmp(f->key, "cfg.supply_mib") &&
			    *(const uint64_t *)m == CONFIG_SUPPLY_AUTO)
				rec_printf(b, " %s=auto", f->key);
			else
				rec_printf(b, " %s=%llu", f->key,
					   (unsigned long long)*(const uint64_t *)m);
			break;
		case REC_SIZE:
			rec_printf(b, " %s=%zu", f->key, *(const size_t *)m);
			break;
		case REC_I64:
			rec_printf(b, " %s=%lld", f->key, (long long)*(const int64_t *)m);
			break;
		}
	}
}

static void rec_format_guest(struct rec_buf *b, size_t i, const struct plan_guest *g)
{
	rec_printf(b, " guest=%zu", i);
	rec_format_fields(b, rec_guest_head, N_OF(rec_guest_head), g);
	rec_printf(b, " hist_vmem=");
	for (size_t h = 0; h < RAMM_HIST_SIZES; h++)
		rec_printf(b, "%s%llu", h ? "," : "",
			   (unsigned long long)g->hist_vmem[h]);
	rec_printf(b, " bid=");
	for (size_t s = 0; s < g->n_bid && s < RAMM_MAX_BID_STEPS; s++)
		rec_printf(b, "%s%u:%u", s ? "," : "", g->bid[s].units,
			   g->bid[s].price);
	rec_format_fields(b, rec_guest_tail, N_OF(rec_guest_tail), g);
}

static void rec_format_host(struct rec_buf *b, const struct plan_host *h)
{
	size_t n_sizes = h->hugepools.n_sizes;

	rec_format_fields(b, rec_host, N_OF(rec_host), h);
	for (size_t s = 0; s < n_sizes && s < HUGEPOOL_MAX_SIZES; s++) {
		const struct hugepool_size *hs = &h->hugepools.sizes[s];
		size_t last = HUGEPOOL_MAX_NODES;

		rec_printf(b, " hp.size=%zu", s);
		rec_format_fields(b, rec_hugepool, N_OF(rec_hugepool), hs);
		while (last && !hs->node_free[last - 1])
			last--;
		rec_printf(b, " hp.node_free=");
		for (size_t n = 0; n < last; n++)
			rec_printf(b, "%s%llu", n ? "," : "",
				   (unsigned long long)hs->node_free[n]);
	}
}

int plan_record_format(const struct plan_input *in,
		       const struct plan_result *out, char **line, size_t *len)
{
	struct rec_buf b = { 0 };

	*line = NULL;
	*len = 0;
	if (in->n_guests > PLAN_RECORD_MAX_GUESTS || out->n_pools > PLAN_MAX_POOLS ||
	    out->n_actions > in->n_guests)
		return -EINVAL;
	b.cap = 4096 + in->n_guests * 1024;
	b.s = malloc(b.cap);
	if (!b.s)
		return -ENOMEM;
	rec_printf(&b, "ramm-plan-record=%d now_us=%lld elapsed_us=%lld partial=%d urgent=%zu",
		   PLAN_RECORD_VERSION, (long long)in->now_us,
		   (long long)in->elapsed_us, in->partial ? 1 : 0,
		   in->partial ? in->urgent : 0);
	rec_format_fields(&b, rec_config, N_OF(rec_config), in->cfg);
	rec_format_host(&b, &in->host);
	rec_printf(&b, " guests=%zu", in->n_guests);
	for (size_t i = 0; i < in->n_guests; i++)
		rec_format_guest(&b, i, &in->guests[i]);
	rec_printf(&b, " emergency=%d pools=%zu", out->emergency, out->n_pools);
	for (size_t p = 0; p < out->n_pools; p++) {
		rec_printf(&b, " pool=%zu name=%s", p, out->pools[p].name);
		rec_format_fields(&b, rec_pool, N_OF(rec_pool), &out->pools[p]);
	}
	rec_printf(&b, " actions=%zu", out->n_actions);
	for (size_t a = 0; a < out->n_actions; a++) {
		rec_printf(&b, " action=%zu", a);
		rec_format_fields(&b, rec_action, N_OF(rec_action), &out->actions[a]);
	}
	for (size_t i = 0; i < in->n_guests; i++) {
		rec_printf(&b, " result=%zu", i);
		rec_format_fields(&b, rec_result, N_OF(rec_result), &out->guests[i]);
	}
	rec_printf(&b, "\n");
	if (!b.err && b.len > PLAN_RECORD_MAX_LINE)
		b.err = -EINVAL;
	if (b.err) {
		free(b.s);
		return b.err;
	}
	*line = b.s;
	*len = b.len;
	return 0;
}

/* ---- parsing ------------------------------------------------------------- */

struct rec_parser {
	const char *p, *end; /* what is left of the line */
	size_t token;        /* 1-based number of the token being read */
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3)))
static int rec_fail(struct rec_parser *r, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(r->err, r->errlen, "token %zu: %s", r->token, what);
	return -EINVAL;
}

/*
 * The next token, which must be @key=VALUE: *@val and *@val_len get the
 * value (not NUL-terminated; it ends at a space or the line's end).
 */
static int rec_token(struct rec_parser *r, const char *key, const char **val,
		     size_t *val_len)
{
	size_t klen = strlen(key);
	const char *sp;

	r->token++;
	if (r->p >= r->end)
		return rec_fail(r, "line ends where '%s=' was expected", key);
	sp = memchr(r->p, ' ', (size_t)(r->end - r->p));
	if (!sp)
		sp = r->end;
	if ((size_t)(sp - r->p) <= klen || memcmp(r->p, key, klen) ||
	    r->p[klen] != '=')
		return rec_fail(r, "expected '%s=', got '%.*s'", key,
				(int)((sp - r->p) > 40 ? 40 : (sp - r->p)), r->p);
	*val = r->p + klen + 1;
	*val_len = (size_t)(sp - *val);
	if (sp < r->end) {
		sp++; /* one space between tokens, none at the end */
		if (sp == r->end || *sp == ' ')
			return rec_fail(r, "stray space after '%s'", key);
	}
	r->p = sp;
	return 0;
}

/* A strict decimal of @len bytes at @s, at most @max: digits only, no
 * leading zero. Returns 0 or -EINVAL. */
static int rec_u64(const char *s, size_t len, uint64_t max, uint64_t *v)
{
	uint64_t n = 0;

	if (!len || len > 20 || (len > 1 && s[0] == '0'))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9 || n > (UINT64_MAX - d) / 10)
			return -EINVAL;
		n = n * 10 + d;
	}
	if (n > max)
		return -EINVAL;
	*v = n;
	return 0;
}

/* A strict signed decimal in [@min, @max]; "-0" is refused. */
static int rec_i64(const char *s, size_t len, int64_t min, int64_t max, int64_t *v)
{
	uint64_t n;

	if (len && s[0] == '-') {
		if (rec_u64(s + 1, len - 1, (uint64_t)INT64_MAX, &n) || !n ||
		    -(int64_t)n < min)
			return -EINVAL;
		*v = -(int64_t)n;
		return 0;
	}
	if (rec_u64(s, len, (uint64_t)INT64_MAX, &n) || (int64_t)n > max)
		return -EINVAL;
	*v = (int64_t)n;
	return 0;
}

/* Token @key with a number in [0, @max] into *@v. */
static int rec_number(struct rec_parser *r, const char *key, uint64_t max,
		      uint64_t *v)
{
	const char *val;
	size_t len;
	int ret = rec_token(r, key, &val, &len);

	if (ret)
		return ret;
	if (rec_u64(val, len, max, v))
		return rec_fail(r, "%s: '%.*s' is not a whole number in 0..%llu",
				key, (int)(len > 40 ? 40 : len), val,
				(unsigned long long)max);
	return 0;
}

static int rec_parse_fields(struct rec_parser *r, const struct rec_field *f,
			    size_t n, void *base)
{
	char *p = base;

	for (size_t i = 0; i < n; i++, f++) {
		void *m = p + f->offset;
		const char *val;
		size_t len;
		uint64_t u = 0;
		int64_t s = 0;
		int ret = rec_token(r, f->key, &val, &len);

		if (ret)
			return ret;
		switch (f->kind) {
		case REC_FLAG:
		case REC_INT:
		case REC_I64: {
			int64_t lo = f->kind == REC_FLAG ? 0 : f->min;

			if (rec_i64(val, len, lo, (int64_t)f->max, &s))
				return rec_fail(r, "%s: '%.*s' is not a whole number in %lld..%lld",
						f->key, (int)(len > 40 ? 40 : len), val,
						(long long)lo, (long long)f->max);
			if (f->kind == REC_I64)
				*(int64_t *)m = s;
			else
				*(int *)m = (int)s;
			break;
		}
		default:
			if (rec_u64(val, len, f->max, &u))
				return rec_fail(r, "%s: '%.*s' is not a whole number in 0..%llu",
						f->key, (int)(len > 40 ? 40 : len), val,
						(unsigned long long)f->max);
			if (f->kind == REC_U32)
				*(uint32_t *)m = (uint32_t)u;
			else if (f->kind == REC_U64)
				*(uint64_t *)m = u;
			else
				*(size_t *)m = (size_t)u;
		}
	}
	return 0;
}

/*
 * The config keys: each value checked as a strict number (or "auto" for
 * supply_mib), then handed to config_parse() as "key = value" lines over
 * the defaults, so a record carries only what rammd could have loaded.
 */
static int rec_parse_config(struct rec_parser *r, struct rammd_config *cfg)
{
	char text[N_OF(rec_config) * 64], cerr[256];
	size_t used = 0;

	for (size_t i = 0; i < N_OF(rec_config); i++) {
		const struct rec_field *f = &rec_config[i];
		const char *val;
		size_t len;
		uint64_t u;
		int ret = rec_token(r, f->key, &val, &len);

		if (ret)
			return ret;
		if (!(!strcmp(f->key, "cfg.supply_mib") && len == 4 &&
		      !memcmp(val, "auto", 4)) &&
		    rec_u64(val, len, f->max, &u))
			return rec_fail(r, "%s: '%.*s' is not a whole number", f->key,
					(int)(len > 40 ? 40 : len), val);
		used += (size_t)snprintf(text + used, sizeof(text) - used,
					 "%s = %.*s\n", f->key + 4, (int)len, val);
	}
	config_defaults(cfg);
	if (config_parse(text, used, "record", cfg, cerr, sizeof(cerr)))
		return rec_fail(r, "config: %s", cerr);
	return 0;
}

/* A comma-separated list of at most @max numbers, each at most @lim. */
static int rec_list(struct rec_parser *r, const char *key, size_t max,
		    uint64_t lim, uint64_t *v, size_t *n)
{
	const char *val, *end;
	size_t len;
	int ret = rec_token(r, key, &val, &len);

	if (ret)
		return ret;
	*n = 0;
	end = val + len;
	while (val < end) {
		const char *c = memchr(val, ',', (size_t)(end - val));
		const char *stop = c ? c : end;

		if (*n == max)
			return rec_fail(r, "%s: more than %zu values", key, max);
		if (rec_u64(val, (size_t)(stop - val), lim, &v[*n]))
			return rec_fail(r, "%s: value %zu is not a whole number in 0..%llu",
					key, *n, (unsigned long long)lim);
		(*n)++;
		val = c ? c + 1 : end;
		if (c && val == end)
			return rec_fail(r, "%s: ends in a comma", key);
	}
	return 0;
}

/* The bid curve: UNITS:PRICE,... (at most RAMM_MAX_BID_STEPS). */
static int rec_bid(struct rec_parser *r, struct plan_guest *g)
{
	const char *val, *end;
	size_t len;
	int ret = rec_token(r, "bid", &val, &len);

	if (ret)
		return ret;
	g->n_bid = 0;
	end = val + len;
	while (val < end) {
		const char *c = memchr(val, ',', (size_t)(end - val));
		const char *stop = c ? c : end;
		const char *colon = memchr(val, ':', (size_t)(stop - val));
		uint64_t units, price;

		if (g->n_bid == RAMM_MAX_BID_STEPS)
			return rec_fail(r, "bid: more than %d steps", RAMM_MAX_BID_STEPS);
		if (!colon || rec_u64(val, (size_t)(colon - val), UINT32_MAX, &units) ||
		    rec_u64(colon + 1, (size_t)(stop - colon - 1), UINT32_MAX, &price))
			return rec_fail(r, "bid: step %zu is not UNITS:PRICE", g->n_bid);
		g->bid[g->n_bid++] = (struct ramm_bid_step){
			.units = (uint32_t)units, .price = (uint32_t)price };
		val = c ? c + 1 : end;
		if (c && val == end)
			return rec_fail(r, "bid: ends in a comma");
	}
	if (market_validate_bid(g->bid, g->n_bid))
		return rec_fail(r, "bid: not a valid curve (steps of at least 1 unit, prices at most %u, never rising)",
				RAMM_MAX_PRICE);
	return 0;
}

/* Group index token @key, which must be @i. */
static int rec_index(struct rec_parser *r, const char *key, size_t i)
{
	uint64_t v;
	int ret = rec_number(r, key, SIZE_MAX, &v);

	if (ret)
		return ret;
	if (v != i)
		return rec_fail(r, "%s=%llu where %s=%zu was expected", key,
				(unsigned long long)v, key, i);
	return 0;
}

static int rec_parse_host(struct rec_parser *r, struct plan_host *h)
{
	int ret = rec_parse_fields(r, rec_host, N_OF(rec_host), h);

	if (ret)
		return ret;
	if (!pages_valid_size(h->base_page_bytes))
		return rec_fail(r, "host.base_page_bytes is not a page size");
	for (size_t s = 0; s < h->hugepools.n_sizes; s++) {
		struct hugepool_size *hs = &h->hugepools.sizes[s];
		size_t n;

		if ((ret = rec_index(r, "hp.size", s)) ||
		    (ret = rec_parse_fields(r, rec_hugepool, N_OF(rec_hugepool), hs)) ||
		    (ret = rec_list(r, "hp.node_free", HUGEPOOL_MAX_NODES, REC_MAX_COUNT,
				    hs->node_free, &n)))
			return ret;
		if (!pages_valid_size(hs->page_bytes))
			return rec_fail(r, "hp.page_bytes of size %zu is not a page size", s);
	}
	return 0;
}

/* The unit of the pool @g clears in, as plan_tick() makes it. */
static uint64_t rec_pool_unit(const struct plan_input *in, const struct plan_guest *g)
{
	uint64_t unit = in->cfg->unit_mib * MIB;

	if (g->page_bytes > in->host.base_page_bytes && g->page_bytes > unit)
		unit = g->page_bytes;
	return unit;
}

static int rec_parse_guest(struct rec_parser *r, const struct plan_input *in,
			   size_t i, struct plan_guest *g)
{
	size_t n;
	int ret;

	if ((ret = rec_index(r, "guest", i)) ||
	    (ret = rec_parse_fields(r, rec_guest_head, N_OF(rec_guest_head), g)) ||
	    (ret = rec_list(r, "hist_vmem", RAMM_HIST_SIZES, RAMM_HIST_MAX_COUNT,
			    g->hist_vmem, &n)))
		return ret;
	if (n != RAMM_HIST_SIZES)
		return rec_fail(r, "hist_vmem: %zu values, not %d", n, RAMM_HIST_SIZES);
	if ((ret = rec_bid(r, g)) ||
	    (ret = rec_parse_fields(r, rec_guest_tail, N_OF(rec_guest_tail), g)))
		return ret;
	if (g->page_bytes && !pages_valid_size(g->page_bytes))
		return rec_fail(r, "guest %zu: page_bytes is not a page size", i);
	/* plan_tick() counts such a guest in whole units of its pool's. */
	if (g->in_market && g->unit_bytes < rec_pool_unit(in, g))
		return rec_fail(r, "guest %zu: in the market with a unit smaller than its pool's",
				i);
	return 0;
}

static int rec_parse_pool(struct rec_parser *r, size_t p, struct plan_pool *pool)
{
	const char *val;
	size_t len;
	int ret;

	if ((ret = rec_index(r, "pool", p)) ||
	    (ret = rec_token(r, "name", &val, &len)))
		return ret;
	if (!len || len >= sizeof(pool->name))
		return rec_fail(r, "name: 1..%zu bytes", sizeof(pool->name) - 1);
	for (size_t c = 0; c < len; c++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@_.-",
			    val[c]) || !val[c])
			return rec_fail(r, "name: only [A-Za-z0-9@_.-]");
	memcpy(pool->name, val, len);
	pool->name[len] = '\0';
	return rec_parse_fields(r, rec_pool, N_OF(rec_pool), pool);
}

static int rec_parse_line(struct rec_parser *r, struct plan_record *rec)
{
	struct plan_input *in = &rec->in;
	struct plan_result *out = &rec->out;
	uint64_t v;
	int64_t now;
	const char *val;
	size_t len;
	int ret;

	if ((ret = rec_number(r, "ramm-plan-record", UINT32_MAX, &v)))
		return ret;
	if (v != PLAN_RECORD_VERSION)
		return rec_fail(r, "version %llu; this reader knows %d",
				(unsigned long long)v, PLAN_RECORD_VERSION);
	if ((ret = rec_token(r, "now_us", &val, &len)))
		return ret;
	if (rec_i64(val, len, -REC_MAX_TIME, REC_MAX_TIME, &now))
		return rec_fail(r, "now_us: not a time in -2^62..2^62");
	in->now_us = now;
	if ((ret = rec_token(r, "elapsed_us", &val, &len)))
		return ret;
	if (rec_i64(val, len, -REC_MAX_TIME, REC_MAX_TIME, &now))
		return rec_fail(r, "elapsed_us: not a time in -2^62..2^62");
	in->elapsed_us = now;
	if ((ret = rec_number(r, "partial", 1, &v)))
		return ret;
	in->partial = (int)v;
	if ((ret = rec_number(r, "urgent", PLAN_RECORD_MAX_GUESTS - 1, &v)))
		return ret;
	in->urgent = (size_t)v;
	if ((ret = rec_parse_config(r, &rec->cfg)) ||
	    (ret = rec_parse_host(r, &in->host)) ||
	    (ret = rec_number(r, "guests", PLAN_RECORD_MAX_GUESTS, &v)))
		return ret;
	in->n_guests = (size_t)v;
	rec->guests = calloc(v ? v : 1, sizeof(*rec->guests));
	out->actions = calloc(v ? v : 1, sizeof(*out->actions));
	out->guests = calloc(v ? v : 1, sizeof(*out->guests));
	if (!rec->guests || !out->actions || !out->guests)
		return -ENOMEM;
	in->guests = rec->guests;
	for (size_t i = 0; i < in->n_guests; i++)
		if ((ret = rec_parse_guest(r, in, i, &rec->guests[i])))
			return ret;
	if (in->partial && in->urgent >= in->n_guests)
		return rec_fail(r, "urgent: guest %zu of %zu", in->urgent,
				in->n_guests);
	if ((ret = rec_number(r, "emergency", 1, &v)))
		return ret;
	out->emergency = (int)v;
	if ((ret = rec_number(r, "pools", PLAN_MAX_POOLS, &v)))
		return ret;
	if (!v)
		return rec_fail(r, "pools: at least 1 (ordinary memory)");
	out->n_pools = (size_t)v;
	for (size_t p = 0; p < out->n_pools; p++)
		if ((ret = rec_parse_pool(r, p, &out->pools[p])))
			return ret;
	if ((ret = rec_number(r, "actions", in->n_guests, &v)))
		return ret;
	out->n_actions = (size_t)v;
	for (size_t a = 0; a < out->n_actions; a++) {
		if ((ret = rec_index(r, "action", a)) ||
		    (ret = rec_parse_fields(r, rec_action, N_OF(rec_action),
					    &out->actions[a])))
			return ret;
		if (out->actions[a].guest >= in->n_guests)
			return rec_fail(r, "action %zu: guest %zu of %zu", a,
					out->actions[a].guest, in->n_guests);
	}
	for (size_t i = 0; i < in->n_guests; i++) {
		if ((ret = rec_index(r, "result", i)) ||
		    (ret = rec_parse_fields(r, rec_result, N_OF(rec_result),
					    &out->guests[i])))
			return ret;
		if (out->guests[i].pool >= (int)out->n_pools)
			return rec_fail(r, "result %zu: pool %d of %zu", i,
					out->guests[i].pool, out->n_pools);
	}
	if (r->p != r->end) {
		r->token++;
		return rec_fail(r, "unexpected text after the last result");
	}
	return 0;
}

int plan_record_parse(const char *line, size_t len, struct plan_record **recp,
		      char *err, size_t errlen)
{
	struct rec_parser r = { .p = line, .end = line + len, .err = err,
				.errlen = errlen };
	struct plan_record *rec;
	int ret;

	*recp = NULL;
	if (errlen)
		err[0] = '\0';
	if (len > PLAN_RECORD_MAX_LINE)
		return rec_fail(&r, "line longer than %u bytes", PLAN_RECORD_MAX_LINE);
	if (len && line[len - 1] == '\n')
		r.end--;
	for (const char *c = r.p; c < r.end; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			return rec_fail(&r, "byte 0x%02x at offset %zu is not printable ASCII",
					(unsigned char)*c, (size_t)(c - line));
	rec = calloc(1, sizeof(*rec));
	if (!rec)
		return -ENOMEM;
	rec->in.cfg = &rec->cfg;
	ret = rec_parse_line(&r, rec);
	if (ret) {
		if (ret == -ENOMEM && errlen)
			snprintf(err, errlen, "out of memory");
		plan_record_free(rec);
		return ret;
	}
	*recp = rec;
	return 0;
}

void plan_record_free(struct plan_record *rec)
{
	if (!rec)
		return;
	free(rec->guests);
	free(rec->out.actions);
	free(rec->out.guests);
	free(rec);
}
