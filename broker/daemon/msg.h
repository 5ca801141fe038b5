/* SPDX-License-Identifier: MIT */
/*
 * The one place agent messages are parsed (docs/PROTOCOL.md), and where
 * the broker's replies are formatted. Pure: no I/O, no logging; every
 * input is treated as hostile.
 */
#ifndef RAMM_MSG_H
#define RAMM_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "ramm/proto.h"

enum agent_msg_type {
	AGENT_MSG_HELLO = 1,
	AGENT_MSG_REPORT,
};

struct agent_hello {
	char agent[32];   /* agent name, printable ASCII */
	char version[32]; /* agent version, printable ASCII */
	char mode[16];    /* RAMM_MODE_PROC or RAMM_MODE_KERNEL */
};

struct agent_report {
	uint64_t seq;               /* sender's sequence number */
	int urgent;                 /* pressure rose: clear the market early */
	uint64_t mem_total_kib;     /* guest MemTotal */
	uint64_t mem_free_kib;      /* guest MemFree */
	uint64_t mem_available_kib; /* guest MemAvailable */
	double psi_some_avg10;      /* % of time some task stalled on memory */
	double psi_full_avg10;      /* % of time all tasks stalled on memory */
	uint64_t refault_anon;      /* cumulative workingset_refault_anon */
	uint64_t refault_file;      /* cumulative workingset_refault_file */
	uint64_t pgscan;            /* cumulative pgscan_kswapd + pgscan_direct */
	uint64_t unit_bytes;        /* unit the bid is in; 0 before welcome */
	struct ramm_bid_step bid[RAMM_MAX_BID_STEPS]; /* the bid curve */
	size_t n_bid;               /* valid entries in @bid */
	int have_hist;              /* @hist_vmem was sent (kernel mode) */
	uint64_t hist_vmem[RAMM_HIST_SIZES]; /* free naturally aligned extents
				     * of 2 MiB << i in virtio-mem memory */
};

struct agent_msg {
	enum agent_msg_type type;
	union {
		struct agent_hello hello;
		struct agent_report report;
	};
};

/*
 * msg_parse_agent - parse one line from an agent.
 * @line/@len: the line without its newline; need not be NUL-terminated.
 * @out: caller-owned; fully written on success, unspecified on failure.
 * @reason: set on failure to a static string naming the problem.
 *
 * Returns 0, -EBADMSG if the line is not a JSON object with a string
 * "type" and v == RAMM_PROTO_VERSION, -ENOMSG for an unknown type,
 * -EINVAL if a member is missing, mistyped or out of range (including a
 * bid that is not non-increasing or has more than RAMM_MAX_BID_STEPS steps,
 * or a "hist_vmem" that is not RAMM_HIST_SIZES counts of at most 2^40),
 * or -ENOMEM if the JSON parser could not be allocated.
 */
int msg_parse_agent(const char *line, size_t len, struct agent_msg *out,
		    const char **reason);

/*
 * The msg_format_* functions write one message, newline included, into
 * @buf of @size bytes. They return its length, or -ENOSPC if it does not
 * fit (buf then holds a truncated, unusable string).
 */
int msg_format_welcome(char *buf, size_t size, uint64_t unit_bytes,
		       uint64_t floor_bytes, uint64_t cap_bytes,
		       uint64_t size_bytes);
int msg_format_grant(char *buf, size_t size, uint64_t target_bytes,
		     uint32_t price);
int msg_format_evict(char *buf, size_t size, uint64_t units,
		     uint32_t deadline_ms);
/* @reason: a string without '"', '\\' or newlines (-EINVAL otherwise), such
 * as the ones msg_parse_agent() returns. */
int msg_format_error(char *buf, size_t size, const char *reason);

#endif /* RAMM_MSG_H */
