/* SPDX-License-Identifier: MIT */
/*
 * ramm wire constants shared by the guest agent and the broker.
 *
 * The agent <-> broker channel is a virtio-serial port named
 * RAMM_AGENT_PORT_NAME. Both directions carry JSON objects, one per line,
 * each terminated by '\n' and at most RAMM_MAX_LINE bytes including the
 * newline. docs/PROTOCOL.md is the normative description of every message.
 */
#ifndef RAMM_PROTO_H
#define RAMM_PROTO_H

#ifdef __KERNEL__
#include <linux/build_bug.h>
#include <linux/types.h> /* also defines uint32_t and uint64_t */
#define RAMM_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#include <stdint.h>
#define RAMM_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

#define RAMM_PROTO_VERSION 1

/* virtio-serial port name the agent talks on. */
#define RAMM_AGENT_PORT_NAME "org.ramm.agent.0"

/*
 * Longest line either side may send, newline included. A longer line is a
 * protocol error: the receiver discards it up to the next newline.
 */
#define RAMM_MAX_LINE 4096

/* Most bid steps one bid may carry; more is a protocol error. */
#define RAMM_MAX_BID_STEPS 64

/* Highest price a bid step may name (price per unit per tick). */
#define RAMM_MAX_PRICE 1000000u

/* Default market unit: virtio-mem's usual block size on x86-64. */
#define RAMM_DEFAULT_UNIT_BYTES (2u * 1024u * 1024u)

/* Agent -> broker message types ("type" member). */
#define RAMM_MSG_HELLO "hello"
#define RAMM_MSG_REPORT "report"

/* Broker -> agent message types. */
#define RAMM_MSG_WELCOME "welcome"
#define RAMM_MSG_GRANT "grant"
#define RAMM_MSG_EVICT "evict"
#define RAMM_MSG_ERROR "error"

/* Agent modes announced in hello's "mode" member. */
#define RAMM_MODE_PROC "proc"
#define RAMM_MODE_KERNEL "kernel"

/*
 * One step of a bid curve: the next @units units above the guest's floor are
 * worth @price each, per tick. A curve is a list of steps with non-increasing
 * prices; the first step starts at the floor.
 */
struct ramm_bid_step {
	uint32_t units; /* how many units this step covers, >= 1 */
	uint32_t price; /* price per unit per tick, 0..RAMM_MAX_PRICE */
};

RAMM_STATIC_ASSERT(sizeof(struct ramm_bid_step) == 8, "bid step is 8 bytes");

/*
 * /dev/ramm: the in-kernel agent (ramm_guest.ko) and ramm-agent.
 *
 * read() returns exactly one struct ramm_dev_record (a shorter buffer gets
 * -EINVAL); it blocks until a record newer than the last one read exists,
 * unless O_NONBLOCK (-EAGAIN). poll() reports EPOLLIN when there is one,
 * and EPOLLPRI as well when it is urgent.
 *
 * write() takes exactly one struct ramm_dev_msg per call; anything else
 * (wrong size, version, type, or values out of range) gets -EINVAL and
 * changes nothing.
 */
#define RAMM_DEV_NAME "ramm"
#define RAMM_DEV_VERSION 1

/* Free-extent histogram: naturally aligned extents of 2 MiB << i. */
#define RAMM_HIST_MIN_SHIFT 21 /* 2 MiB */
#define RAMM_HIST_SIZES 10     /* 2 MiB, 4 MiB, ... 1 GiB */
/* Most extents one histogram entry may count: 2^40 of 2 MiB is 2 EiB,
 * more than any guest has. */
#define RAMM_HIST_MAX_COUNT (1ULL << 40)

/* ramm_dev_record.flags */
#define RAMM_REC_URGENT (1u << 0)   /* pressure rose: report at once */
#define RAMM_REC_SHRINKER (1u << 1) /* a shrinker scan since the last record */
#define RAMM_REC_OOM (1u << 2)      /* an OOM since the last record */
#define RAMM_REC_WELCOMED (1u << 3) /* a welcome set unit/floor/cap: bid valid */
/*
 * krammd is still working on the evict notice @evict_id names (or has not
 * taken it up yet): the chunks it empties are not ready for virtio-mem.
 * Clear once that notice's work has ended: its chunks emptied and given
 * back, or the work stopped (called off, deadline, virtio-mem started).
 */
#define RAMM_REC_EVICTING (1u << 4)

struct ramm_dev_record {
	uint32_t version;          /* RAMM_DEV_VERSION */
	uint32_t size;             /* sizeof(struct ramm_dev_record) */
	uint64_t seq;              /* +1 per record, from 1 */
	uint64_t timestamp_ns;     /* CLOCK_MONOTONIC when sampled */
	uint32_t flags;            /* RAMM_REC_* */
	uint32_t n_bid;            /* valid entries in @bid */
	uint64_t mem_total_kib;    /* totalram */
	uint64_t mem_free_kib;     /* free pages */
	uint64_t mem_available_kib; /* si_mem_available() */
	uint64_t refault_anon;     /* cumulative WORKINGSET_REFAULT_ANON */
	uint64_t refault_file;     /* cumulative WORKINGSET_REFAULT_FILE */
	uint64_t shrinker_scans;   /* cumulative shrinker count/scan calls */
	uint64_t oom_events;       /* cumulative OOM notifier calls */
	uint64_t vmem_online_kib;  /* online memory in hotplugged (virtio-mem) ranges */
	uint64_t hist_vmem[RAMM_HIST_SIZES]; /* free aligned extents in those ranges */
	uint64_t hist_all[RAMM_HIST_SIZES];  /* free aligned extents, whole system */
	uint64_t unit_bytes;       /* unit of @bid (from welcome), 0 before */
	uint64_t kernel_free_kib;  /* free in zones below ZONE_MOVABLE, above
				    * what kernel allocations must leave */
	struct ramm_bid_step bid[RAMM_MAX_BID_STEPS]; /* units above the floor */
	uint64_t evict_id;         /* id of the last evict notice written
				    * (ramm_dev_msg.c), which RAMM_REC_EVICTING
				    * speaks for; 0 before one */
};

RAMM_STATIC_ASSERT(sizeof(struct ramm_dev_record) == 792,
		   "ramm_dev_record is 792 bytes");

/* ramm_dev_msg.type: what the broker says, relayed by ramm-agent. */
#define RAMM_DEV_MSG_WELCOME 1 /* a = unit_bytes, b = floor_bytes,
				* c = cap_bytes, d = size_bytes */
#define RAMM_DEV_MSG_GRANT 2   /* a = target_bytes, b = price */
#define RAMM_DEV_MSG_EVICT 3   /* a = units, b = deadline_ms, c = id (the
				* broker's, echoed in evict_id; at most
				* RAMM_EVICT_MAX_ID) */
#define RAMM_DEV_MSG_BOOT 4    /* a = boot_bytes: the guest's memory
				* outside virtio-mem, as the host gave it
				* (welcome's boot_bytes; page-aligned, > 0) */

/* Largest evict id: JSON integers are signed 64-bit. */
#define RAMM_EVICT_MAX_ID 0x7fffffffffffffffULL

struct ramm_dev_msg {
	uint32_t version; /* RAMM_DEV_VERSION */
	uint32_t type;    /* RAMM_DEV_MSG_* */
	uint64_t a, b, c, d; /* per type, above; unused ones must be 0 */
};

RAMM_STATIC_ASSERT(sizeof(struct ramm_dev_msg) == 40, "ramm_dev_msg is 40 bytes");

#endif /* RAMM_PROTO_H */
