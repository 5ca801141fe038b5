/* SPDX-License-Identifier: MIT */
/*
 * dev_record: /dev/ramm records checked and formatted as report lines.
 * See dev_record.h for the contract.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "bid_curve.h"
#include "dev_record.h"
#include "proc_sample.h"

static int
bad(const char **why, const char *reason, int err)
{
	if (why != NULL)
		*why = reason;
	return err;
}

static int
all_le(const uint64_t *v, size_t n, uint64_t max)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] > max)
			return 0;
	return 1;
}

int
dev_record_check(const struct ramm_dev_record *rec, size_t len,
    const char **why)
{
	const uint64_t imax = INT64_MAX;

	if (len != sizeof(*rec))
		return bad(why, "record of the wrong length", -EPROTO);
	if (rec->version != RAMM_DEV_VERSION)
		return bad(why, "unknown record version", -EPROTO);
	if (rec->size != sizeof(*rec))
		return bad(why, "record size member wrong", -EPROTO);
	if (rec->seq == 0 || rec->seq > imax)
		return bad(why, "seq out of range", -EINVAL);
	if (rec->mem_total_kib == 0 || rec->mem_total_kib > DEV_REC_MAX_KIB ||
	    rec->mem_free_kib > DEV_REC_MAX_KIB ||
	    rec->mem_available_kib > DEV_REC_MAX_KIB ||
	    rec->vmem_online_kib > DEV_REC_MAX_KIB ||
	    rec->kernel_free_kib > DEV_REC_MAX_KIB)
		return bad(why, "memory size out of range", -EINVAL);
	if (rec->refault_anon > imax || rec->refault_file > imax ||
	    rec->shrinker_scans > imax || rec->oom_events > imax ||
	    !all_le(rec->hist_vmem, RAMM_HIST_SIZES, RAMM_HIST_MAX_COUNT) ||
	    !all_le(rec->hist_all, RAMM_HIST_SIZES, RAMM_HIST_MAX_COUNT))
		return bad(why, "counter out of range", -EINVAL);
	if (rec->evict_id > RAMM_EVICT_MAX_ID)
		return bad(why, "evict_id out of range", -EINVAL);
	if (rec->n_bid > RAMM_MAX_BID_STEPS)
		return bad(why, "too many bid steps", -EINVAL);
	if (!(rec->flags & RAMM_REC_WELCOMED))
		return 0;
	if (rec->unit_bytes < 4096 || rec->unit_bytes > DEV_REC_MAX_UNIT ||
	    (rec->unit_bytes & (rec->unit_bytes - 1)) != 0)
		return bad(why, "unit_bytes not a power of two in 4 KiB..1 GiB",
		    -EINVAL);
	if (bid_curve_validate(rec->bid, rec->n_bid, RAMM_MAX_BID_STEPS))
		return bad(why, "bid not a valid curve (a step of no units, "
		    "a price above the maximum, or prices that increase)",
		    -EINVAL);
	return 0;
}

/* Appends to a bounded buffer; the first overflow sticks. */
struct out {
	char *buf;
	size_t size, len;
	int overflow;
};

static void put(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->size - o->len) {
		o->overflow = 1;
		return;
	}
	o->len += (size_t)n;
}

static void
put_array(struct out *o, const char *name, const uint64_t *v, size_t n)
{
	put(o, ",\"%s\":[", name);
	for (size_t i = 0; i < n; i++)
		put(o, "%s%" PRIu64, i ? "," : "", v[i]);
	put(o, "]");
}

static double
percent(double x)
{
	/* !(x >= 0) also catches NaN. */
	if (!(x >= 0))
		return 0;
	return x > 100 ? 100 : x;
}

static uint64_t
min_u64(uint64_t x, uint64_t y)
{
	return x < y ? x : y;
}

int
dev_record_evicting(const struct ramm_dev_record *rec,
    const struct dev_evict_note *note)
{
	if (rec->flags & RAMM_REC_EVICTING)
		return 1;
	return note != NULL &&
	    (rec->timestamp_ns <= note->write_ns || rec->evict_id != note->id);
}

int
dev_record_format(const struct ramm_dev_record *rec,
    const struct proc_sample *proc, const struct dev_evict_note *note,
    char *buf, size_t size)
{
	struct out o = { .buf = buf, .size = size };
	int welcomed = (rec->flags & RAMM_REC_WELCOMED) != 0;

	if (dev_record_check(rec, sizeof(*rec), NULL) < 0)
		return -EINVAL;
	if (size == 0)
		return -EMSGSIZE;
	buf[0] = '\0';
	put(&o, "{\"type\":\"" RAMM_MSG_REPORT "\",\"v\":%d,\"seq\":%" PRIu64
	    ",\"urgent\":%s,\"mem_total_kib\":%" PRIu64
	    ",\"mem_free_kib\":%" PRIu64 ",\"mem_available_kib\":%" PRIu64
	    ",\"psi_some_avg10\":%.2f,\"psi_full_avg10\":%.2f"
	    ",\"refault_anon\":%" PRIu64 ",\"refault_file\":%" PRIu64
	    ",\"pgscan\":%" PRIu64 ",\"unit_bytes\":%" PRIu64 ",\"bid\":[",
	    RAMM_PROTO_VERSION, rec->seq,
	    (rec->flags & RAMM_REC_URGENT) ? "true" : "false",
	    rec->mem_total_kib, min_u64(rec->mem_free_kib, rec->mem_total_kib),
	    min_u64(rec->mem_available_kib, rec->mem_total_kib),
	    percent(proc->psi_some_avg10), percent(proc->psi_full_avg10),
	    rec->refault_anon, rec->refault_file, proc->pgscan,
	    welcomed ? rec->unit_bytes : 0);
	for (uint32_t i = 0; welcomed && i < rec->n_bid; i++)
		put(&o, "%s[%" PRIu32 ",%" PRIu32 "]", i ? "," : "",
		    rec->bid[i].units, rec->bid[i].price);
	put(&o, "],\"shrinker_scans\":%" PRIu64 ",\"oom_events\":%" PRIu64
	    ",\"vmem_online_kib\":%" PRIu64 ",\"kernel_free_kib\":%" PRIu64,
	    rec->shrinker_scans, rec->oom_events, rec->vmem_online_kib,
	    rec->kernel_free_kib);
	put_array(&o, "hist_vmem", rec->hist_vmem, RAMM_HIST_SIZES);
	put_array(&o, "hist_all", rec->hist_all, RAMM_HIST_SIZES);
	put(&o, ",\"evicting\":%s,\"evict_id\":%" PRIu64 "}\n",
	    dev_record_evicting(rec, note) ? "true" : "false", rec->evict_id);
	if (o.overflow)
		return -EMSGSIZE;
	return (int)o.len;
}
