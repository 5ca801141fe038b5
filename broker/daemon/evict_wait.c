/* SPDX-License-Identifier: MIT */
/* When a shrink waiting for its guest to prepare goes out; evict_wait.h. */
#include "evict_wait.h"

enum evict_wait evict_wait_decide(const struct evict_wait_in *in)
{
	/* A report from before the notice went out cannot speak for it,
	 * whatever id it names (a guest may guess ids). */
	int fresh = in->have_report && in->report_us >= in->sent_us;
	int in_limit = in->now_us - in->sent_us < in->limit_us;

	if (fresh && in->urgent && in_limit)
		return EVICT_WAIT;
	if (fresh && !in->have_evicting)
		return EVICT_NOT_PREPARING;
	if (fresh && !in->evicting && in->evict_id == in->id)
		return EVICT_PREPARED;
	if (in_limit)
		return EVICT_WAIT;
	/* A guest that reports every second and said nothing for the whole
	 * limit may have lost its agent (killed, upgraded, hung): it could
	 * not report urgent to stop an unplug under a workload that starts.
	 * One more report clears it; a stale last one calls the shrink off.
	 * No limit (evict_prepare_ms 0) is no wait at all. */
	if (fresh || !in->limit_us)
		return EVICT_DEADLINE;
	if (!in->have_report || in->now_us - in->report_us >= in->stale_us)
		return EVICT_UNHEARD;
	return EVICT_WAIT;
}

const char *evict_wait_name(enum evict_wait w)
{
	switch (w) {
	case EVICT_WAIT: return "waiting";
	case EVICT_PREPARED: return "prepared";
	case EVICT_DEADLINE: return "deadline";
	case EVICT_NOT_PREPARING: return "not preparing";
	case EVICT_UNHEARD: return "unheard";
	}
	return "?";
}
