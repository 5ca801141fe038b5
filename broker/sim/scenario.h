/* SPDX-License-Identifier: MIT */
/*
 * Scenarios for ramm-sim: the built-in seeded ones and CSV traces.
 * docs/SIMULATOR.md describes each built-in scenario and the trace format.
 * No global state; a scenario is one heap object freed with
 * sim_scenario_free().
 */
#ifndef RAMM_SIM_SCENARIO_H
#define RAMM_SIM_SCENARIO_H

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
 * docs/SIMULATOR.md): header SIM_TRACE_HEADER, then one row per guest per
 * second t = 0..T-1, in any order, each exactly once.
 * @text, @len: the file; need not be NUL-terminated, at most
 *              SIM_TRACE_MAX_BYTES.
 * @filename: used in error messages only.
 * @host_mib: memory the guests share, or 0 for the default (the sum of the
 *            guests' mean working sets, rounded up to whole units).
 * @out: set to a new scenario (named "trace"), freed by the caller with
 *       sim_scenario_free().
 * @err: caller-owned; on -EINVAL receives "FILE:LINE: problem" (or
 *       "FILE: problem" for what no single line shows).
 * Returns 0, -EINVAL (bad input) or -ENOMEM; on failure *@out is NULL.
 * O(len * guests) time, O(len) memory.
 */
int sim_trace_parse(const char *text, size_t len, const char *filename,
		    uint32_t host_mib, struct sim_scenario **out, char *err,
		    size_t errlen);

/*
 * sim_trace_load - read file @path and sim_trace_parse() it.
 * Returns as sim_trace_parse(), or -errno if the file cannot be read
 * (-EFBIG over SIM_TRACE_MAX_BYTES); @err is filled on every failure.
 */
int sim_trace_load(const char *path, uint32_t host_mib,
		   struct sim_scenario **out, char *err, size_t errlen);

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

/* sim_scenario_free - free @sc and its arrays; accepts NULL. */
void sim_scenario_free(struct sim_scenario *sc);

#endif /* RAMM_SIM_SCENARIO_H */
