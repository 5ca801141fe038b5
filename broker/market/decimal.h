/* SPDX-License-Identifier: MIT */
/*
 * decimal_parse - the one strict decimal reader for rammd's own text
 * formats (market accounts, the state file): digits only, no sign, no
 * blanks, no overflow.
 */
#ifndef RAMM_DECIMAL_H
#define RAMM_DECIMAL_H

#include <errno.h>
#include <stdint.h>

/*
 * Reads the digits at *@p (never past @end) into *@out and moves *@p past
 * them. Returns 0, or -EINVAL if there is no digit or the value passes
 * @max; then *@p and *@out are untouched. Pure.
 */
static inline int decimal_parse(const char **p, const char *end, uint64_t max,
				uint64_t *out)
{
	uint64_t v = 0;
	const char *s = *p;

	if (s == end || *s < '0' || *s > '9')
		return -EINVAL;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		unsigned int digit = (unsigned int)(*s - '0');

		if (digit > max || v > (max - digit) / 10)
			return -EINVAL;
		v = v * 10 + digit;
	}
	*p = s;
	*out = v;
	return 0;
}

#endif /* RAMM_DECIMAL_H */
