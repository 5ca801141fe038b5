/* SPDX-License-Identifier: MIT */
/*
 * The broker's end of one guest's agent channel: a unix socket (the QEMU
 * chardev or libvirt <channel> behind org.ramm.agent.0) that rammd connects
 * to. Lines are bounded, rate-limited and parsed in msg.c; good messages go
 * to guest_agent_message(), bad ones are counted in the guest's counters and
 * logged at most once per second per guest and kind of fault.
 */
#ifndef RAMM_AGENT_CHAN_H
#define RAMM_AGENT_CHAN_H

#include <stddef.h>

struct guest;
struct agent_chan;

/* Lines accepted per guest per second; the rest are dropped and counted. */
#define AGENT_CHAN_MAX_LINES_PER_SEC 20

/*
 * agent_chan_new - start connecting to @path for @g, retrying every second
 * until it succeeds and again after every disconnect.
 * Returns NULL on allocation failure.
 */
struct agent_chan *agent_chan_new(struct guest *g, const char *path);

/* agent_chan_free - close and free; accepts NULL. */
void agent_chan_free(struct agent_chan *c);

/* agent_chan_is_up - nonzero while connected. */
int agent_chan_is_up(const struct agent_chan *c);

/*
 * agent_chan_send - send one formatted message (newline included).
 * Never blocks: returns 0, -ENOTCONN, or -EAGAIN if the socket is full (the
 * message is dropped; broker messages are advisory and re-sent as state
 * changes).
 */
int agent_chan_send(struct agent_chan *c, const char *line, size_t len);

#endif /* RAMM_AGENT_CHAN_H */
