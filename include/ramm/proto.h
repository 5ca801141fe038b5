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

#include <stdint.h>

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

_Static_assert(sizeof(struct ramm_bid_step) == 8, "bid step is 8 bytes");

#endif /* RAMM_PROTO_H */
