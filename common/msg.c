/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "bid_curve.h"
#include "msg.h"

/* Messages are flat; anything deeper than this is hostile. */
#define MSG_MAX_DEPTH 4

static int msg_get_u64(struct json_object *obj, const char *key, uint64_t max,
		       uint64_t *out)
{
	struct json_object *v;
	uint64_t n;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -EINVAL;
	/*
	 * json-c clamps silently: get_int64 reads anything above INT64_MAX
	 * as INT64_MAX, get_uint64 anything negative as 0. Ask for the sign
	 * with one and the magnitude with the other.
	 */
	if (json_object_get_int64(v) < 0)
		return -EINVAL;
	n = json_object_get_uint64(v);
	if (n > max)
		return -EINVAL;
	*out = n;
	return 0;
}

static int msg_get_percent(struct json_object *obj, const char *key,
			   double *out)
{
	struct json_object *v;
	double d;

	if (!json_object_object_get_ex(obj, key, &v))
		return -EINVAL;
	if (!json_object_is_type(v, json_type_double) &&
	    !json_object_is_type(v, json_type_int))
		return -EINVAL;
	d = json_object_get_double(v);
	if (!isfinite(d) || d < 0.0 || d > 100.0)
		return -EINVAL;
	*out = d;
	return 0;
}

/* Copy a short printable-ASCII string member; anything else is an error. */
static int msg_get_word(struct json_object *obj, const char *key, char *out,
			size_t size)
{
	struct json_object *v;
	const char *s;
	size_t n;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return -EINVAL;
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (n == 0 || n >= size)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return -EINVAL;
	memcpy(out, s, n + 1);
	return 0;
}

static int msg_parse_hello(struct json_object *obj, struct agent_hello *h,
			   const char **reason)
{
	if (msg_get_word(obj, "agent", h->agent, sizeof(h->agent)) ||
	    msg_get_word(obj, "version", h->version, sizeof(h->version))) {
		*reason = "hello: bad agent or version";
		return -EINVAL;
	}
	if (msg_get_word(obj, "mode", h->mode, sizeof(h->mode)) ||
	    (strcmp(h->mode, RAMM_MODE_PROC) && strcmp(h->mode, RAMM_MODE_KERNEL))) {
		*reason = "hello: mode must be proc or kernel";
		return -EINVAL;
	}
	return 0;
}

static int msg_parse_bid(struct json_object *obj, struct agent_report *r,
			 const char **reason)
{
	struct json_object *bid;
	size_t n;

	if (!json_object_object_get_ex(obj, "bid", &bid) ||
	    !json_object_is_type(bid, json_type_array)) {
		*reason = "report: bid must be an array";
		return -EINVAL;
	}
	n = json_object_array_length(bid);
	if (n > RAMM_MAX_BID_STEPS) {
		*reason = "report: too many bid steps";
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *step = json_object_array_get_idx(bid, i);
		struct json_object *units, *price;
		int64_t u, p;

		if (!json_object_is_type(step, json_type_array) ||
		    json_object_array_length(step) != 2) {
			*reason = "report: bid step must be [units, price]";
			return -EINVAL;
		}
		units = json_object_array_get_idx(step, 0);
		price = json_object_array_get_idx(step, 1);
		if (!json_object_is_type(units, json_type_int) ||
		    !json_object_is_type(price, json_type_int)) {
			*reason = "report: bid step members must be integers";
			return -EINVAL;
		}
		u = json_object_get_int64(units);
		p = json_object_get_int64(price);
		if (u < 1 || u > UINT32_MAX || p < 0 || p > RAMM_MAX_PRICE) {
			*reason = "report: bid step out of range";
			return -EINVAL;
		}
		r->bid[i].units = (uint32_t)u;
		r->bid[i].price = (uint32_t)p;
	}
	r->n_bid = n;
	if (bid_curve_validate(r->bid, n, RAMM_MAX_BID_STEPS)) {
		*reason = "report: bid prices must not increase";
		return -EINVAL;
	}
	return 0;
}

/* The optional free-extent histogram: absent is fine (proc mode). */
static int msg_parse_hist(struct json_object *obj, struct agent_report *r,
			  const char **reason)
{
	const int64_t max_count = (int64_t)RAMM_HIST_MAX_COUNT;
	struct json_object *hist;

	r->have_hist = 0;
	if (!json_object_object_get_ex(obj, "hist_vmem", &hist))
		return 0;
	if (!json_object_is_type(hist, json_type_array) ||
	    json_object_array_length(hist) != RAMM_HIST_SIZES) {
		*reason = "report: hist_vmem must be an array of 10 counts";
		return -EINVAL;
	}
	for (size_t i = 0; i < RAMM_HIST_SIZES; i++) {
		struct json_object *c = json_object_array_get_idx(hist, i);
		int64_t count;

		if (!json_object_is_type(c, json_type_int) ||
		    (count = json_object_get_int64(c)) < 0 || count > max_count) {
			*reason = "report: hist_vmem count out of range";
			return -EINVAL;
		}
		r->hist_vmem[i] = (uint64_t)count;
	}
	r->have_hist = 1;
	return 0;
}

/*
 * The optional evict state (kernel mode): "evicting" and "evict_id". An
 * id without "evicting" means nothing and is refused; "evicting" without
 * an id speaks for no notice in particular (id 0).
 */
static int msg_parse_evicting(struct json_object *obj, struct agent_report *r,
			      const char **reason)
{
	struct json_object *v;
	int have_id = json_object_object_get_ex(obj, "evict_id", NULL);

	r->have_evicting = r->evicting = 0;
	r->evict_id = 0;
	if (!json_object_object_get_ex(obj, "evicting", &v)) {
		if (!have_id)
			return 0;
		*reason = "report: evict_id without evicting";
		return -EINVAL;
	}
	if (!json_object_is_type(v, json_type_boolean)) {
		*reason = "report: evicting must be a boolean";
		return -EINVAL;
	}
	if (have_id && msg_get_u64(obj, "evict_id", RAMM_EVICT_MAX_ID,
				   &r->evict_id)) {
		*reason = "report: bad evict_id";
		return -EINVAL;
	}
	r->evicting = json_object_get_boolean(v);
	r->have_evicting = 1;
	return 0;
}

static int msg_parse_report(struct json_object *obj, struct agent_report *r,
			    const char **reason)
{
	struct json_object *v;
	/* Guest memory sizes: 16 EiB is not a real guest; 2^50 KiB is. */
	const uint64_t max_kib = 1ULL << 50;

	if (msg_get_u64(obj, "seq", INT64_MAX, &r->seq)) {
		*reason = "report: bad seq";
		return -EINVAL;
	}
	if (!json_object_object_get_ex(obj, "urgent", &v) ||
	    !json_object_is_type(v, json_type_boolean)) {
		*reason = "report: urgent must be a boolean";
		return -EINVAL;
	}
	r->urgent = json_object_get_boolean(v);
	if (msg_get_u64(obj, "mem_total_kib", max_kib, &r->mem_total_kib) ||
	    msg_get_u64(obj, "mem_free_kib", max_kib, &r->mem_free_kib) ||
	    msg_get_u64(obj, "mem_available_kib", max_kib, &r->mem_available_kib)) {
		*reason = "report: bad memory size";
		return -EINVAL;
	}
	if (msg_get_percent(obj, "psi_some_avg10", &r->psi_some_avg10) ||
	    msg_get_percent(obj, "psi_full_avg10", &r->psi_full_avg10)) {
		*reason = "report: bad psi value";
		return -EINVAL;
	}
	if (msg_get_u64(obj, "refault_anon", INT64_MAX, &r->refault_anon) ||
	    msg_get_u64(obj, "refault_file", INT64_MAX, &r->refault_file) ||
	    msg_get_u64(obj, "pgscan", INT64_MAX, &r->pgscan)) {
		*reason = "report: bad vmstat counter";
		return -EINVAL;
	}
	if (msg_get_u64(obj, "unit_bytes", 1ULL << 40, &r->unit_bytes)) {
		*reason = "report: bad unit_bytes";
		return -EINVAL;
	}
	if (msg_parse_hist(obj, r, reason) || msg_parse_evicting(obj, r, reason))
		return -EINVAL;
	return msg_parse_bid(obj, r, reason);
}

/*
 * Parse @line/@len into a JSON object and check its envelope: a string
 * "type" (returned in @type, borrowed from @obj) and v == RAMM_PROTO_VERSION.
 * @strict: json-c's strict mode, and no NUL byte anywhere in the line.
 * On success *@obj is the caller's to put; on failure it is NULL.
 * Returns 0, -EBADMSG or -ENOMEM, with *@reason set on failure.
 */
static int msg_parse_envelope(const char *line, size_t len, int strict,
			      struct json_object **obj, const char **type,
			      const char **reason)
{
	struct json_tokener *tok;
	struct json_object *o, *v;
	uint64_t version;

	*obj = NULL;
	*reason = NULL;
	if (len == 0 || len >= RAMM_MAX_LINE) {
		*reason = len ? "line too long" : "empty line";
		return -EBADMSG;
	}
	if (strict && memchr(line, '\0', len)) {
		*reason = "NUL byte";
		return -EBADMSG;
	}
	tok = json_tokener_new_ex(MSG_MAX_DEPTH);
	if (!tok) {
		*reason = "out of memory";
		return -ENOMEM;
	}
	if (strict)
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, line, (int)len);
	/* Trailing bytes after the object are as bad as a broken object. */
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		json_object_put(o);
		json_tokener_free(tok);
		*reason = "not a JSON object";
		return -EBADMSG;
	}
	json_tokener_free(tok);

	if (!json_object_is_type(o, json_type_object)) {
		*reason = "not a JSON object";
		goto out_put;
	}
	if (!json_object_object_get_ex(o, "type", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		*reason = "missing type";
		goto out_put;
	}
	*type = json_object_get_string(v);
	/* "hello\u0000x" must not compare equal to "hello". */
	if (strlen(*type) != (size_t)json_object_get_string_len(v))
		*type = "";
	if (msg_get_u64(o, "v", UINT32_MAX, &version) ||
	    version != RAMM_PROTO_VERSION) {
		*reason = "missing or unsupported v";
		goto out_put;
	}
	*obj = o;
	return 0;
out_put:
	json_object_put(o);
	return -EBADMSG;
}

int msg_parse_agent(const char *line, size_t len, struct agent_msg *out,
		    const char **reason)
{
	struct json_object *obj;
	const char *type;
	int ret;

	ret = msg_parse_envelope(line, len, 0, &obj, &type, reason);
	if (ret)
		return ret;

	memset(out, 0, sizeof(*out));
	if (!strcmp(type, RAMM_MSG_HELLO)) {
		out->type = AGENT_MSG_HELLO;
		ret = msg_parse_hello(obj, &out->hello, reason);
	} else if (!strcmp(type, RAMM_MSG_REPORT)) {
		out->type = AGENT_MSG_REPORT;
		ret = msg_parse_report(obj, &out->report, reason);
	} else {
		*reason = "unknown message type";
		ret = -ENOMSG;
	}
	json_object_put(obj);
	return ret;
}

static int msg_parse_welcome(struct json_object *obj, struct broker_welcome *w,
			     const char **reason)
{
	if (msg_get_u64(obj, "unit_bytes", MSG_MAX_UNIT_BYTES, &w->unit_bytes) ||
	    msg_get_u64(obj, "floor_bytes", MSG_MAX_BYTES, &w->floor_bytes) ||
	    msg_get_u64(obj, "cap_bytes", MSG_MAX_BYTES, &w->cap_bytes) ||
	    msg_get_u64(obj, "size_bytes", MSG_MAX_BYTES, &w->size_bytes)) {
		*reason = "welcome: missing or invalid member";
		return -EINVAL;
	}
	if (w->unit_bytes < 4096 || (w->unit_bytes & (w->unit_bytes - 1))) {
		*reason = "welcome: unit_bytes not a power of two >= 4096";
		return -EINVAL;
	}
	if (w->floor_bytes > w->cap_bytes) {
		*reason = "welcome: floor_bytes above cap_bytes";
		return -EINVAL;
	}
	/* Optional (0: not told): a broker before it sent none. */
	w->boot_bytes = 0;
	if (json_object_object_get_ex(obj, "boot_bytes", NULL) &&
	    (msg_get_u64(obj, "boot_bytes", MSG_MAX_BYTES, &w->boot_bytes) ||
	     w->boot_bytes > w->size_bytes)) {
		*reason = "welcome: boot_bytes invalid or above size_bytes";
		return -EINVAL;
	}
	return 0;
}

static int msg_parse_grant(struct json_object *obj, struct broker_grant *g,
			   const char **reason)
{
	uint64_t price;

	if (msg_get_u64(obj, "target_bytes", MSG_MAX_BYTES, &g->target_bytes) ||
	    msg_get_u64(obj, "price", RAMM_MAX_PRICE, &price)) {
		*reason = "grant: missing or invalid member";
		return -EINVAL;
	}
	g->price = (uint32_t)price;
	return 0;
}

static int msg_parse_evict(struct json_object *obj, struct broker_evict *e,
			   const char **reason)
{
	uint64_t units, deadline_ms;

	if (msg_get_u64(obj, "units", UINT32_MAX, &units) ||
	    msg_get_u64(obj, "deadline_ms", UINT32_MAX, &deadline_ms)) {
		*reason = "evict: missing or invalid member";
		return -EINVAL;
	}
	/* A broker from before ids sends none. */
	e->id = 0;
	if (json_object_object_get_ex(obj, "id", NULL) &&
	    msg_get_u64(obj, "id", RAMM_EVICT_MAX_ID, &e->id)) {
		*reason = "evict: bad id";
		return -EINVAL;
	}
	e->units = (uint32_t)units;
	e->deadline_ms = (uint32_t)deadline_ms;
	return 0;
}

static int msg_parse_error(struct json_object *obj, struct broker_error *e,
			   const char **reason)
{
	struct json_object *v;
	const char *s;

	if (!json_object_object_get_ex(obj, "reason", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		*reason = "error: missing reason";
		return -EINVAL;
	}
	/* Up to the first NUL, cut to fit: it is only ever logged. */
	s = json_object_get_string(v);
	snprintf(e->reason, sizeof(e->reason), "%s", s);
	return 0;
}

int msg_parse_broker(const char *line, size_t len, struct broker_msg *out,
		     const char **reason)
{
	struct json_object *obj;
	const char *type;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = msg_parse_envelope(line, len, 1, &obj, &type, reason);
	if (ret)
		return ret;

	if (!strcmp(type, RAMM_MSG_WELCOME)) {
		out->type = BROKER_MSG_WELCOME;
		ret = msg_parse_welcome(obj, &out->welcome, reason);
	} else if (!strcmp(type, RAMM_MSG_GRANT)) {
		out->type = BROKER_MSG_GRANT;
		ret = msg_parse_grant(obj, &out->grant, reason);
	} else if (!strcmp(type, RAMM_MSG_EVICT)) {
		out->type = BROKER_MSG_EVICT;
		ret = msg_parse_evict(obj, &out->evict, reason);
	} else if (!strcmp(type, RAMM_MSG_ERROR)) {
		out->type = BROKER_MSG_ERROR;
		ret = msg_parse_error(obj, &out->error, reason);
	} else {
		*reason = "unknown message type";
		ret = -ENOMSG;
	}
	json_object_put(obj);
	if (ret)
		memset(out, 0, sizeof(*out));
	return ret;
}

static int msg_finish(int n, size_t size)
{
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}

int msg_format_welcome(char *buf, size_t size, uint64_t unit_bytes,
		       uint64_t floor_bytes, uint64_t cap_bytes,
		       uint64_t size_bytes, uint64_t boot_bytes)
{
	return msg_finish(snprintf(buf, size,
		"{\"type\":\"welcome\",\"v\":%d,\"unit_bytes\":%llu,"
		"\"floor_bytes\":%llu,\"cap_bytes\":%llu,\"size_bytes\":%llu,"
		"\"boot_bytes\":%llu}\n",
		RAMM_PROTO_VERSION, (unsigned long long)unit_bytes,
		(unsigned long long)floor_bytes, (unsigned long long)cap_bytes,
		(unsigned long long)size_bytes, (unsigned long long)boot_bytes),
		size);
}

int msg_format_grant(char *buf, size_t size, uint64_t target_bytes,
		     uint32_t price)
{
	return msg_finish(snprintf(buf, size,
		"{\"type\":\"grant\",\"v\":%d,\"target_bytes\":%llu,\"price\":%u}\n",
		RAMM_PROTO_VERSION, (unsigned long long)target_bytes, price),
		size);
}

int msg_format_evict(char *buf, size_t size, uint64_t units,
		     uint32_t deadline_ms, uint64_t id)
{
	return msg_finish(snprintf(buf, size,
		"{\"type\":\"evict\",\"v\":%d,\"units\":%llu,\"deadline_ms\":%u,\"id\":%llu}\n",
		RAMM_PROTO_VERSION, (unsigned long long)units, deadline_ms,
		(unsigned long long)id),
		size);
}

int msg_format_error(char *buf, size_t size, const char *reason)
{
	/* Reasons are our own static strings: no quoting needed, but refuse
	 * anything that would break the JSON rather than trust that. */
	if (strpbrk(reason, "\"\\\n"))
		return -EINVAL;
	return msg_finish(snprintf(buf, size,
		"{\"type\":\"error\",\"v\":%d,\"reason\":\"%s\"}\n",
		RAMM_PROTO_VERSION, reason), size);
}
