/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: msg_parse_broker() on arbitrary broker lines, as
 * ramm-agent reads them. What it accepts must be within the bounds it
 * promises; what it refuses must come with a reason and a cleared @out. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_accepted(const struct broker_msg *m)
{
	const struct broker_welcome *w = &m->welcome;

	switch (m->type) {
	case BROKER_MSG_WELCOME:
		if (w->unit_bytes < 4096 || w->unit_bytes > MSG_MAX_UNIT_BYTES ||
		    (w->unit_bytes & (w->unit_bytes - 1)) ||
		    w->floor_bytes > w->cap_bytes ||
		    w->cap_bytes > MSG_MAX_BYTES || w->size_bytes > MSG_MAX_BYTES)
			abort();
		break;
	case BROKER_MSG_GRANT:
		if (m->grant.target_bytes > MSG_MAX_BYTES ||
		    m->grant.price > RAMM_MAX_PRICE)
			abort();
		break;
	case BROKER_MSG_EVICT:
		break;
	case BROKER_MSG_ERROR:
		if (strnlen(m->error.reason, sizeof(m->error.reason)) >=
		    sizeof(m->error.reason))
			abort();
		break;
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct broker_msg zero;
	struct broker_msg msg;
	const char *reason;
	int ret;

	memset(&msg, 0xa5, sizeof(msg));
	ret = msg_parse_broker((const char *)data, size, &msg, &reason);
	if (ret == 0) {
		check_accepted(&msg);
		return 0;
	}
	if (ret != -EBADMSG && ret != -EINVAL && ret != -ENOMSG && ret != -ENOMEM)
		abort();
	if (!reason || !reason[0] || memcmp(&msg, &zero, sizeof(msg)))
		abort();
	return 0;
}
