/* SPDX-License-Identifier: MIT */
/*
 * proc_sample: the guest's memory signals as /proc shows them.
 *
 * The parsers take a buffer and its length (it need not be NUL-terminated),
 * look at complete lines only (a last line without '\n' is ignored, so a
 * truncated read cannot yield half a number), never read past @len, do no
 * I/O and keep no state. They are strict: every complete line must have the
 * file's format, or the whole buffer is rejected. proc_sample_read() is the
 * one function that reads files.
 */
#ifndef RAMM_PROC_SAMPLE_H
#define RAMM_PROC_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Longest line the meminfo, PSI and vmstat parsers accept; a longer one is
 * malformed.
 */
#define PROC_MAX_LINE 256

/* One sample of the guest's memory signals. Plain data, caller-owned. */
struct proc_sample {
	uint64_t mem_total_kib;     /* /proc/meminfo MemTotal */
	uint64_t mem_free_kib;      /* MemFree */
	uint64_t mem_available_kib; /* MemAvailable, clamped to MemTotal */
	uint64_t mem_reserved_kib;  /* boot memory kept out of MemTotal: the
				     * broker's size less MemTotal, from the
				     * last welcome; 0 if unknown */
	uint64_t swap_used_kib;     /* SwapTotal - SwapFree: memory the guest
				     * uses but could not keep in RAM; 0
				     * without swap */
	uint64_t wss_rise_kib;      /* how much the working set is expected to
				     * grow over RAMM_RISE_LEAD_MS, from
				     * earlier samples (bid_rise_update());
				     * 0: not known */
	double psi_some_avg10;      /* /proc/pressure/memory "some" avg10, % */
	double psi_full_avg10;      /* "full" avg10, %; 0 if there is none */
	uint64_t refault_anon;      /* /proc/vmstat workingset_refault_anon */
	uint64_t refault_file;      /* workingset_refault_file */
	uint64_t pgscan;            /* pgscan_kswapd + pgscan_direct */
	int have_psi;               /* nonzero: the psi_* members are real */
	int have_vmstat;            /* nonzero: the counters are real */
};

/*
 * proc_parse_meminfo - fill mem_total_kib, mem_free_kib,
 * mem_available_kib and swap_used_kib of @out from /proc/meminfo text.
 * @buf, @len: the text; not modified, need not be NUL-terminated.
 *
 * Every complete line must read "Name: <decimal>" or "Name: <decimal> kB".
 * MemTotal, MemFree and MemAvailable must all be present, in kB; MemTotal
 * must be nonzero. MemAvailable is clamped to MemTotal. SwapTotal and
 * SwapFree are optional (kB); swap_used_kib is their difference, 0 if either
 * is missing or SwapFree exceeds SwapTotal.
 *
 * Returns 0 on success. Returns -EINVAL if a field is missing, malformed or
 * overflows; then those three members of @out are zeroed. O(len).
 */
int proc_parse_meminfo(const char *buf, size_t len, struct proc_sample *out);

/*
 * proc_parse_psi - fill psi_some_avg10/psi_full_avg10 of @out from
 * /proc/pressure/memory text.
 *
 * Every complete line must be "some" or "full" followed by key=<decimal>
 * fields. The "some" line must be present with an avg10 in 0..100; the
 * "full" line is optional (0 if absent).
 *
 * Returns 0 on success and sets out->have_psi. Returns -EINVAL on missing
 * or malformed input; then the psi members and have_psi are zeroed. O(len).
 */
int proc_parse_psi(const char *buf, size_t len, struct proc_sample *out);

/*
 * proc_parse_vmstat - fill refault_anon, refault_file and pgscan of @out
 * from /proc/vmstat text ("name <decimal>" per line).
 *
 * A counter this kernel lacks counts as 0, but at least one of the four
 * counters must be present. Every line must look like "name <decimal>".
 *
 * Returns 0 on success and sets out->have_vmstat. Returns -EINVAL if no
 * counter was found or a line is malformed; then the counters and
 * have_vmstat are zeroed. O(len).
 */
int proc_parse_vmstat(const char *buf, size_t len, struct proc_sample *out);

/*
 * proc_sample_read - read /proc/meminfo, /proc/pressure/memory and
 * /proc/vmstat into @out (mem_reserved_kib is left 0; the agent sets it).
 * @proc_root: directory to read them from, NULL for "/proc" (tests point
 *             it at a directory of canned files).
 *
 * /proc/meminfo is required; PSI and vmstat are optional and only clear
 * have_psi / have_vmstat when unreadable or malformed. Each file is read
 * into a bounded stack buffer and anything past it is ignored.
 *
 * Returns 0 on success, or the negative errno of opening, reading or
 * parsing meminfo; on error @out is zeroed. Does not log.
 */
int proc_sample_read(const char *proc_root, struct proc_sample *out);

/*
 * proc_meminfo_read - read only /proc/meminfo into @out (the members other
 * than those proc_parse_meminfo() fills are zeroed): the cheap check for
 * frequent polling.
 * Returns 0, or -errno as proc_sample_read(); on error @out is zeroed.
 */
int proc_meminfo_read(const char *proc_root, struct proc_sample *out);

#endif /* RAMM_PROC_SAMPLE_H */
