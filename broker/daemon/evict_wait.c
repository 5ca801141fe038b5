/* SPDX-License-Identifier: MIT */
/* When a shrink waiting for its guest to prepare goes out; evict_wait.h. */
#include "evict_wait.h"

enum evict_wait evict_wait_decide(const struct evict_wait_in *in)
{
	/* A report from before the notice went out cannot speak for it,
	 * whatever id it names (a guest may guess ids). */
	int fresh = in->have_report && in->report_us >= in->sent_us;

	if (fresh && !in->have_evicting)
		return EVICT_NOT_PREPARING;
	if (fresh && !in->evicting && in->evict_id == in->id)
		return EVICT_PREPARED;
	if (in->now_us - in->sent_us >= in->limit_us)
		return EVICT_DEADLINE;
	return EVICT_WAIT;
}

const char *evict_wait_name(enum evict_wait w)
{
	switch (w) {
	case EVICT_WAIT: return "waiting";
	case EVICT_PREPARED: return "prepared";
	case EVICT_DEADLINE: return "deadline";
	case EVICT_NOT_PREPARING: return "not preparing";
	}
	return "?";
}
