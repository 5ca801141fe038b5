/* SPDX-License-Identifier: MIT */
/*
 * The bid model's price tiers, shared by the in-kernel agent
 * (kernel/guest-driver/ramm_guest.c), the /proc fallback
 * (guest-agent/bid_model.c) and the broker's max_price default, so that all
 * three price memory the same way. Plain defines: safe in kernel and user
 * space. docs/BID-MODEL.md and docs/KERNEL-AGENT.md explain each tier.
 */
#ifndef RAMM_BID_TIERS_H
#define RAMM_BID_TIERS_H

/*
 * Memory the guest is using now: losing it means reclaim of what it needs,
 * or the OOM killer. Priced above any bid for more memory, so no guest's
 * growth, however urgent, takes another's working set.
 */
#define RAMM_PRICE_IN_USE 8000u  /* up to wss * 1.016 + 32 MiB */
#define RAMM_PRICE_SHORT 2000u   /* base; under pressure or running out
				  * (the rise below more than available),
				  * to total * 1.25 or the need target;
				  * always below RAMM_PRICE_IN_USE */
#define RAMM_PRICE_NEED 1000u    /* up to wss * 1.10 + 64 MiB */
#define RAMM_PRICE_COMFORT 300u  /* up to wss * 1.5 */
#define RAMM_PRICE_SPARE 50u     /* up to wss * 2 */

/*
 * A working set that rises is bid for where it will be this far ahead, at
 * the need tier: memory a workload is filling now is gone before a plug
 * decided on the next report lands, and a shrink in flight is only stopped
 * by a bid for what is being taken. The rise is the fastest recent one,
 * halved at each look that does not match it, so a burst's projection is
 * gone a few seconds after the burst.
 */
#define RAMM_RISE_LEAD_MS 2000u
#define RAMM_RISE_MIN_MS 250u     /* a rise is measured over at least this */
#define RAMM_RISE_MIN_KIB_S 1024u  /* a slower figure is none: the halving
				   * would otherwise keep a unit's worth
				   * for half a minute */

/* Short of memory when available falls below this share of total (%). */
#define RAMM_AVAIL_SHORT_PCT 8u

#endif /* RAMM_BID_TIERS_H */
