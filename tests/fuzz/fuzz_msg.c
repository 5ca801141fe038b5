/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: msg_parse_agent() on arbitrary agent lines. Every
 * failure must carry a reason that msg_format_error() can send back. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "market.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_msg msg;
	const char *reason;
	char buf[256];
	int ret;

	ret = msg_parse_agent((const char *)data, size, &msg, &reason);
	if (ret == 0) {
		if (msg.type == AGENT_MSG_REPORT &&
		    market_validate_bid(msg.report.bid, msg.report.n_bid))
			abort(); /* a bid the market would refuse got through */
		return 0;
	}
	if (ret != -EBADMSG && ret != -EINVAL && ret != -ENOMSG && ret != -ENOMEM)
		abort();
	if (!reason || msg_format_error(buf, sizeof(buf), reason) <= 0)
		abort();
	return 0;
}
