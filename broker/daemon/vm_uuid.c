/* SPDX-License-Identifier: MIT */
/*
 * VM UUIDs; vm_uuid.h states the contract.
 */
#include <errno.h>
#include <string.h>

#include "vm_uuid.h"

/* Where the hyphens go in the canonical form. */
static int vm_uuid_hyphen_at(size_t i)
{
	return i == 8 || i == 13 || i == 18 || i == 23;
}

int vm_uuid_parse(const char *s, size_t len, char out[VM_UUID_BUFLEN])
{
	out[0] = '\0';
	if (len != VM_UUID_LEN)
		return -EMSGSIZE;
	for (size_t i = 0; i < VM_UUID_LEN; i++) {
		char c = s[i];

		if (vm_uuid_hyphen_at(i)) {
			if (c != '-')
				goto bad;
		} else if (c >= 'A' && c <= 'F') {
			c = (char)(c - 'A' + 'a');
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			goto bad;
		}
		out[i] = c;
	}
	out[VM_UUID_LEN] = '\0';
	return 0;
bad:
	out[0] = '\0';
	return -EINVAL;
}

int vm_uuid_is_nil(const char *uuid)
{
	return !strcmp(uuid, "00000000-0000-0000-0000-000000000000");
}
