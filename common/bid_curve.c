/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "bid_curve.h"

int bid_curve_validate(const struct ramm_bid_step *steps, size_t n_steps,
		       size_t max_steps)
{
	size_t i;

	if (n_steps > max_steps)
		return -EINVAL;
	if (n_steps > 0 && !steps)
		return -EINVAL;
	for (i = 0; i < n_steps; i++) {
		if (steps[i].units == 0 || steps[i].price > RAMM_MAX_PRICE)
			return -EINVAL;
		if (i > 0 && steps[i].price > steps[i - 1].price)
			return -EINVAL;
	}
	return 0;
}
