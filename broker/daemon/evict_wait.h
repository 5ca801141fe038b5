/* SPDX-License-Identifier: MIT */
/*
 * evict_wait: when a shrink that waits for its guest to prepare goes out.
 *
 * rammd sends a kernel-mode guest the evict notice first, and lowers
 * virtio-mem's requested-size only once the guest's module has emptied
 * the chunks virtio-mem will take (docs/KERNEL-AGENT.md): the unplug is
 * then several times faster. The guest says so in its reports
 * ("evicting", "evict_id", docs/PROTOCOL.md), which are untrusted: a guest
 * that claims to be busy for ever delays its own shrink by at most the
 * limit, and one that claims to be done at once gets what it would have
 * got without the wait.
 *
 * Pure: no I/O, no clock, no globals. Time and inputs are passed in.
 */
#ifndef RAMM_EVICT_WAIT_H
#define RAMM_EVICT_WAIT_H

#include <stdint.h>

enum evict_wait {
	EVICT_WAIT = 0,     /* keep waiting */
	EVICT_PREPARED,     /* a report says the notice's work is over */
	EVICT_DEADLINE,     /* the limit passed first */
	EVICT_NOT_PREPARING, /* the guest no longer says when it is done
			     * (its agent left kernel mode): waiting would
			     * only run out the limit */
	EVICT_UNHEARD,      /* past the limit, no report since the notice,
			     * and the last one stale: its agent is gone or
			     * hung, and could not stop the unplug by
			     * reporting urgent; the shrink is called off */
};

/* One shrink waiting for its guest, and the guest's latest report. */
struct evict_wait_in {
	int64_t now_us;       /* now */
	int64_t sent_us;      /* when the notice went out */
	int64_t limit_us;     /* most it waits (evict_prepare_ms) */
	int64_t stale_us;     /* a report this old is stale (stale_report_ms) */
	uint64_t id;          /* the notice's id */
	int have_report;      /* the guest reported since it was known */
	int64_t report_us;    /* when the latest report came */
	int have_evicting;    /* that report had "evicting" */
	int evicting;         /* ... its value */
	uint64_t evict_id;    /* ... and the notice it speaks for */
	int urgent;           /* ... and whether it was urgent */
};

/*
 * evict_wait_decide - whether the shrink described by @in goes out now,
 * and why. Prepared: a report that came after the notice went out, names
 * its id and is not evicting. Not preparing: a report after the notice
 * without "evicting". Either wins over the deadline when both hold, but
 * neither holds while that report is urgent, until the limit: the guest
 * is short or a workload just started in it, and the round its urgent
 * report pulls forward stops the shrink (plan.h) before anything is
 * unplugged; a shrink that round lets stand goes out at the limit. The
 * deadline sends the shrink only to a guest heard from since the notice:
 * one that went silent is waited for until its last report is stale, then
 * the shrink is unheard. O(1).
 */
enum evict_wait evict_wait_decide(const struct evict_wait_in *in);

/* "waiting", "prepared", "deadline", "not preparing", "unheard": for the
 * log. */
const char *evict_wait_name(enum evict_wait w);

#endif /* RAMM_EVICT_WAIT_H */
