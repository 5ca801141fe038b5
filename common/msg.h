/* SPDX-License-Identifier: MIT */
/*
 * The one place the agent channel's messages are parsed and formatted
 * (docs/PROTOCOL.md), for both directions: rammd parses the agent's hello
 * and report and formats welcome, grant, evict and error; ramm-agent parses
 * those. Host and guest both build it (common/). Pure: no I/O, no logging;
 * every input is treated as hostile.
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
	int have_evicting;          /* "evicting" was sent: the guest says
				     * when it has prepared an unplug */
	int evicting;               /* ... and it is still preparing for
				     * the evict notice @evict_id (or has
				     * not taken a later one up) */
	uint64_t evict_id;          /* the last evict notice it took up,
				     * 0..RAMM_EVICT_MAX_ID; 0 if not sent */
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
 * bid that bid_curve_validate() refuses - more than RAMM_MAX_BID_STEPS
 * steps, a step of 0 units, increasing prices - or a "hist_vmem" that is
 * not RAMM_HIST_SIZES counts of at most 2^40, an "evicting" that is not a
 * boolean, an "evict_id" that is not an integer in 0..RAMM_EVICT_MAX_ID or
 * comes without "evicting"), or -ENOMEM if the JSON
 * parser could not be allocated.
 */
int msg_parse_agent(const char *line, size_t len, struct agent_msg *out,
		    const char **reason);

/* Bounds ramm-agent puts on the broker's messages. */
#define MSG_MAX_UNIT_BYTES (1ull << 30) /* largest unit: a 1 GiB host page */
#define MSG_MAX_BYTES (1ull << 50)      /* floor, cap, size and target */
#define MSG_MAX_REASON 200              /* error reason kept, NUL included */

enum broker_msg_type {
	BROKER_MSG_WELCOME = 1,
	BROKER_MSG_GRANT,
	BROKER_MSG_EVICT,
	BROKER_MSG_ERROR,
};

struct broker_welcome {
	uint64_t unit_bytes;  /* market unit: a power of two, 4096..MSG_MAX_UNIT_BYTES */
	uint64_t floor_bytes; /* guaranteed size, <= @cap_bytes */
	uint64_t cap_bytes;   /* most the guest may get, <= MSG_MAX_BYTES */
	uint64_t size_bytes;  /* the guest's size as the host sees it, <= MSG_MAX_BYTES */
	/* Its boot memory (outside virtio-mem), <= @size_bytes; 0: not told.
	 * Fixed for the guest's life, unlike @size_bytes, which a resize
	 * sent after the welcome may have left behind on arrival. */
	uint64_t boot_bytes;
};

struct broker_grant {
	uint64_t target_bytes; /* the size the broker is moving to, <= MSG_MAX_BYTES */
	uint32_t price;        /* clearing price, <= RAMM_MAX_PRICE */
};

struct broker_evict {
	uint32_t units;       /* units to give back */
	uint32_t deadline_ms; /* within this long */
	uint64_t id;          /* the broker's id for it, 0..RAMM_EVICT_MAX_ID;
			       * 0 if it sent none */
};

struct broker_error {
	/* The broker's reason up to its first NUL, cut to MSG_MAX_REASON - 1
	 * bytes; NUL-terminated but not otherwise cleaned: any other byte,
	 * control characters included, may be in it. */
	char reason[MSG_MAX_REASON];
};

struct broker_msg {
	enum broker_msg_type type;
	union {
		struct broker_welcome welcome;
		struct broker_grant grant;
		struct broker_evict evict;
		struct broker_error error;
	};
};

/*
 * msg_parse_broker - parse one line from the broker (ramm-agent's side).
 * @line/@len: the line without its newline; need not be NUL-terminated.
 * @out: caller-owned; fully written on success, zeroed on failure.
 * @reason: set on failure to a static string naming the problem (member
 *          problems start with the message type, "welcome: ...").
 *
 * JSON is parsed strictly (json-c's strict mode), and a NUL byte anywhere
 * in the line is refused. Members the message does not use are ignored.
 *
 * Returns 0, -EBADMSG if the line is not one JSON object with a string
 * "type" and v == RAMM_PROTO_VERSION, -ENOMSG for an unknown type,
 * -EINVAL if a member is missing, mistyped or out of range (welcome:
 * unit_bytes not a power of two in 4096..MSG_MAX_UNIT_BYTES, floor_bytes
 * above cap_bytes, a size above MSG_MAX_BYTES; grant: target_bytes above
 * MSG_MAX_BYTES or price above RAMM_MAX_PRICE; evict: units or deadline_ms
 * above UINT32_MAX, id present and not an integer in 0..RAMM_EVICT_MAX_ID;
 * error: reason not a string), or -ENOMEM if the JSON
 * parser could not be allocated. O(@len).
 */
int msg_parse_broker(const char *line, size_t len, struct broker_msg *out,
		     const char **reason);

/*
 * The msg_format_* functions write one message, newline included, into
 * @buf of @size bytes. They return its length, or -ENOSPC if it does not
 * fit (buf then holds a truncated, unusable string).
 */
int msg_format_welcome(char *buf, size_t size, uint64_t unit_bytes,
		       uint64_t floor_bytes, uint64_t cap_bytes,
		       uint64_t size_bytes, uint64_t boot_bytes);
int msg_format_grant(char *buf, size_t size, uint64_t target_bytes,
		     uint32_t price);
int msg_format_evict(char *buf, size_t size, uint64_t units,
		     uint32_t deadline_ms, uint64_t id);
/* @reason: a string without '"', '\\' or newlines (-EINVAL otherwise), such
 * as the ones msg_parse_agent() returns. */
int msg_format_error(char *buf, size_t size, const char *reason);

#endif /* RAMM_MSG_H */
