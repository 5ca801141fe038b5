/* SPDX-License-Identifier: MIT */
/*
 * Scenarios for ramm-sim: the built-in seeded ones and CSV traces.
 * docs/SIMULATOR.md describes each built-in scenario and the trace format.
 * No global state; a scenario is one heap object freed with
 * sim_scenario_free().
 */
#ifndef RAMM_SIM_SCENARIO_H
#define RAMM_SIM_SCENARIO_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "sim.h"

/* The seed the built-in scenarios use unless --seed says otherwise. */
#define SIM_DEFAULT_SEED 20240601u

/* Trace limits: the file is untrusted input. */
#define SIM_TRACE_MAX_BYTES (64u << 20)
#define SIM_TRACE_MAX_BYTES_TEXT "64 MiB"
#define SIM_TRACE_MAX_LINE 128
#define SIM_TRACE_MAX_WSS_MIB (16u << 20) /* 16 TiB */
#define SIM_TRACE_MAX_WEIGHT 1000000u
#define SIM_TRACE_DEFAULT_WEIGHT 100u     /* an empty weight field */
#define SIM_TRACE_FLOOR_MIB 1024u
#define SIM_TRACE_MAX_HOST_MIB (1u << 30) /* 1 PiB */
#define SIM_TRACE_HEADER "t_s,guest,wss_mib,weight"
#define SIM_TRACE_HEADER_SIZED "t_s,guest,wss_mib,weight,cap_mib,floor_mib"

/* The host a trace's guests share; zeroed, the default. */
struct sim_trace_host {
	uint32_t host_mib; /* memory the guests share, or 0: derive it */
	uint32_t host_pct; /* with host_mib 0, the host is this % of the sum
			    * of the guests' mean working sets (0: 100) */
};

/* Number of built-in scenarios, and their names and one-line summaries. */
#define SIM_N_SCENARIOS 7
const char *sim_scenario_name(size_t i);
const char *sim_scenario_summary(size_t i);

/*
 * sim_scenario_build - make built-in scenario @name with @seed: the same
 * (name, seed) always gives the same scenario. *@out is set to a new
 * scenario the caller frees with sim_scenario_free().
 * Returns 0, -ENOENT (no such scenario) or -ENOMEM; on failure *@out is
 * NULL.
 */
int sim_scenario_build(const char *name, uint64_t seed,
		       struct sim_scenario **out);

/*
 * sim_trace_parse - make a scenario from CSV trace text (see
 * docs/SIMULATOR.md): header SIM_TRACE_HEADER or SIM_TRACE_HEADER_SIZED,
 * then one row per guest per second t = 0..T-1, in any order, each exactly
 * once.
 * @text, @len: the file; need not be NUL-terminated, at most
 *              SIM_TRACE_MAX_BYTES.
 * @filename: used in error messages only.
 * @host: the host's size (sim_trace_size()).
 * @out: set to a new scenario (named "trace"), freed by the caller with
 *       sim_scenario_free().
 * @err: caller-owned; on -EINVAL receives "FILE:LINE: problem" (or
 *       "FILE: problem" for what no single line shows).
 * Returns 0, -EINVAL (bad input) or -ENOMEM; on failure *@out is NULL.
 * O(len * guests) time, O(len) memory.
 */
int sim_trace_parse(const char *text, size_t len, const char *filename,
		    const struct sim_trace_host *host, struct sim_scenario **out,
		    char *err, size_t errlen);

/*
 * sim_trace_load - read file @path and sim_trace_parse() it.
 * Returns as sim_trace_parse(), or -errno if the file cannot be read
 * (-EFBIG over SIM_TRACE_MAX_BYTES); @err is filled on every failure.
 */
int sim_trace_load(const char *path, const struct sim_trace_host *host,
		   struct sim_scenario **out, char *err, size_t errlen);

/*
 * sim_trace_size - give a trace's guests their names and sizes, once
 * their working sets are in @sc (docs/SIMULATOR.md, "Traces"):
 *   floor  = @floor_given[g], or 1 GiB, or the guest's smallest working
 *            set if less (in whole units, at least one; at most its cap);
 *   cap    = @cap_given[g] rounded down to whole units above the floor,
 *            or twice its static;
 *   host   = @host->host_mib, or host_pct % of the sum of the mean
 *            working sets, rounded up to a unit (at least the floors);
 *   static = floor + a share of the host above all floors, in proportion
 *            to its mean working set, whole units, at most its cap.
 * @names, @floor_given, @cap_given: n_guests entries each (0: derive).
 * Returns 0, or -EINVAL with "FILENAME: problem" in @err (a floor above
 * its cap, a host over 1 PiB or below the floors). O(n_guests * seconds).
 */
int sim_trace_size(struct sim_scenario *sc, const char (*names)[SIM_NAME_MAX],
		   const uint32_t *floor_given, const uint32_t *cap_given,
		   const struct sim_trace_host *host, const char *filename,
		   char *err, size_t errlen);

/*
 * sim_read_file - read all of @path, at most @max bytes, into *@buf (the
 * caller frees it) and its length into *@len. Returns 0 or -errno
 * (-EFBIG past @max); on failure *@buf is NULL.
 */
int sim_read_file(const char *path, size_t max, char **buf, size_t *len);

/*
 * sim_scenario_alloc - an empty scenario of @n_guests by @n_seconds, its
 * unit the default, every cell 0; NULL without memory. Free it with
 * sim_scenario_free().
 */
struct sim_scenario *sim_scenario_alloc(size_t n_guests, size_t n_seconds);

/*
 * sim_fail - write "FILE:LINE: message" (line 0: "FILE: message") into
 * @err, at most @errlen bytes, for a reader's error. Returns -EINVAL.
 * sim_vfail - the same with a va_list.
 */
__attribute__((format(printf, 5, 6)))
int sim_fail(char *err, size_t errlen, const char *file, size_t line,
	     const char *fmt, ...);
int sim_vfail(char *err, size_t errlen, const char *file, size_t line,
	      const char *fmt, va_list ap);

/* sim_name_valid - 1 if @s/@len is a valid guest name (sim.h), else 0. */
int sim_name_valid(const char *s, size_t len);

/*
 * sim_scenario_check - 0 if @sc is one the simulator can run: 1..MAX
 * guests and seconds, valid names, unit_mib >= 1, floor >= one unit,
 * floor <= static <= cap with static and cap whole units above the floor,
 * each page_mib 0 or a power of two that is whole units and divides the
 * guest's floor, static and cap, at most SIM_MAX_POOLS page sizes,
 * sum of floors and of statics within host_mib, weights >= 1; else
 * -EINVAL. Pure; O(n_guests * n_seconds).
 */
int sim_scenario_check(const struct sim_scenario *sc);

/* A Bitbrains row is at most this long (the published ones: 277 bytes). */
#define SIM_BITBRAINS_MAX_LINE 512

/*
 * sim_bitbrains_load - make a scenario (named "bitbrains") from Bitbrains
 * GWA-T-12 per-VM files @paths (docs/SIMULATOR.md, "Bitbrains traces"):
 * one guest per file, named after it without ".csv"; second 0 is the
 * earliest timestamp of any file; each reading of "Memory usage [KB]"
 * holds until the next, 0 before a VM's first; the cap is the largest
 * "Memory capacity provisioned [KB]" in the window; the rest as
 * sim_trace_size(). Every file is untrusted: at most SIM_TRACE_MAX_BYTES,
 * lines at most SIM_BITBRAINS_MAX_LINE, timestamps in order.
 * @n_paths: 1..SIM_MAX_GUESTS.
 * @seconds: the window's length, or 0 for the files' span (at most
 *           SIM_MAX_SECONDS).
 * Returns 0, -EINVAL (bad input; "FILE:LINE: problem" in @err), -ENOMEM,
 * or -errno if a file cannot be read (@err names it); on failure *@out is
 * NULL. O(bytes + n_paths * seconds).
 */
int sim_bitbrains_load(const char *const *paths, size_t n_paths,
		       size_t seconds, const struct sim_trace_host *host,
		       struct sim_scenario **out, char *err, size_t errlen);

/* sim_scenario_free - free @sc and its arrays; accepts NULL. */
void sim_scenario_free(struct sim_scenario *sc);

#endif /* RAMM_SIM_SCENARIO_H */
