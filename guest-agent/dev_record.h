/* SPDX-License-Identifier: MIT */
/*
 * dev_record: records from /dev/ramm (the in-kernel agent, ramm_guest.ko)
 * checked and turned into report lines (docs/PROTOCOL.md).
 *
 * Pure functions: no I/O, no globals, no clock. ramm-agent reads a record,
 * checks it with dev_record_check() and sends what dev_record_format()
 * makes of it.
 */
#ifndef RAMM_DEV_RECORD_H
#define RAMM_DEV_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "ramm/proto.h"

struct proc_sample;

/*
 * The evict notice ramm-agent last wrote to /dev/ramm, so that a record
 * is only taken as that notice's end if it is newer than the write.
 */
struct dev_evict_note {
	uint64_t id;       /* the notice's id, as written (ramm_dev_msg.c) */
	uint64_t write_ns; /* CLOCK_MONOTONIC just before the write(): the
			    * clock of the record's timestamp_ns */
};

/* Largest unit a record may name: a 1 GiB host page (as ramm-agent's
 * welcome check). */
#define DEV_REC_MAX_UNIT (1ull << 30)
/* Largest memory size in KiB (the broker's bound on report sizes). */
#define DEV_REC_MAX_KIB (1ull << 50)

/*
 * Most bytes dev_record_format() ever writes, '\n' included: 64 bid steps
 * and every number at its largest. Checked by the unit test, and below
 * RAMM_MAX_LINE.
 */
#define DEV_REPORT_MAX 2660

/*
 * dev_record_check - check one record as read() returned it.
 * @rec: the buffer read() filled; only its first @len bytes are looked at.
 * @len: what read() returned.
 * @why: if not NULL, set to a static reason string when the record is bad.
 *
 * A record must be exactly sizeof(struct ramm_dev_record) bytes with
 * version RAMM_DEV_VERSION and size sizeof(struct ramm_dev_record);
 * anything else is a different ABI and gets -EPROTO: the device cannot be
 * used. Within the ABI, the record gets -EINVAL, and is to be dropped, if
 *   - seq is 0 or above INT64_MAX;
 *   - mem_total_kib is 0 or any size in KiB is above DEV_REC_MAX_KIB;
 *   - a counter (refaults, shrinker scans, OOMs, histogram entries) is
 *     above INT64_MAX (JSON integers are signed 64-bit);
 *   - evict_id is above RAMM_EVICT_MAX_ID;
 *   - n_bid is above RAMM_MAX_BID_STEPS;
 *   - RAMM_REC_WELCOMED is set, and unit_bytes is not a power of two in
 *     4096..DEV_REC_MAX_UNIT, or the first n_bid steps are not a valid bid
 *     (bid_curve_validate(): a step with 0 units, a price above RAMM_MAX_PRICE, or a price above
 *     the previous step's).
 * Without RAMM_REC_WELCOMED, unit_bytes and the bid are not used and not
 * checked. Unknown flag bits are ignored. MemFree and MemAvailable above
 * MemTotal are not errors (the kernel's counters race); the report clamps
 * them.
 *
 * Returns 0, -EPROTO or -EINVAL. O(n_bid).
 */
int dev_record_check(const struct ramm_dev_record *rec, size_t len,
    const char **why);

/*
 * dev_record_evicting - whether the report of @rec says "evicting": the
 * module works on an evict notice (RAMM_REC_EVICTING), or @note (the
 * notice last written, NULL if none) is not over as far as @rec can tell:
 * @rec was sampled no later than the write, or names another id (the
 * module has not taken the notice up). A record older than the write must
 * not end the broker's wait for it. O(1).
 */
int dev_record_evicting(const struct ramm_dev_record *rec,
    const struct dev_evict_note *note);

/*
 * dev_record_format - the report line (with its '\n') for record @rec.
 * @rec: a record; it is checked as dev_record_check(@rec, sizeof(*rec)).
 * @proc: what the record lacks, from /proc: only psi_some_avg10,
 *        psi_full_avg10 (each clamped to 0..100) and pgscan are read.
 * @note: the evict notice last written to the device, or NULL.
 * @buf, @size: where to write; a line is at most DEV_REPORT_MAX bytes.
 *
 * The line has the members of every report, "seq", "urgent"
 * (RAMM_REC_URGENT), the memory sizes (MemFree and MemAvailable clamped to
 * MemTotal), the refault counters and "unit_bytes"/"bid" from the record
 * (0 and [] without RAMM_REC_WELCOMED), the PSI values and "pgscan" from
 * @proc, and then the kernel-mode members "shrinker_scans", "oom_events",
 * "vmem_online_kib", "kernel_free_kib", "hist_vmem", "hist_all",
 * "evicting" (dev_record_evicting()) and "evict_id" (the record's).
 *
 * Returns the line's length (no NUL counted; one is written after it), or
 * -EINVAL if the record is bad, or -EMSGSIZE if @size is too small (then
 * @buf holds a truncated line).
 */
int dev_record_format(const struct ramm_dev_record *rec,
    const struct proc_sample *proc, const struct dev_evict_note *note,
    char *buf, size_t size);

#endif /* RAMM_DEV_RECORD_H */
