/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: state_parse() on arbitrary files. A failure names a
 * line; a success round-trips: formatting what was read and reading it
 * again gives the same entries. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct state_entry a[STATE_MAX_ENTRIES], b[STATE_MAX_ENTRIES];
	size_t na, nb, len;
	char err[256] = "";
	char *text;

	if (state_parse((const char *)data, size, a, STATE_MAX_ENTRIES, &na,
			err, sizeof(err))) {
		if (strncmp(err, "line ", 5))
			abort();
		return 0;
	}
	if (na > STATE_MAX_ENTRIES || state_format(a, na, &text, &len))
		abort();
	if (state_parse(text, len, b, STATE_MAX_ENTRIES, &nb, err, sizeof(err)) ||
	    nb != na)
		abort();
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i].name, b[i].name) ||
		    a[i].have_account != b[i].have_account ||
		    (a[i].have_account &&
		     memcmp(&a[i].account, &b[i].account, sizeof(a[i].account))) ||
		    memcmp(&a[i].ov, &b[i].ov, sizeof(a[i].ov)) ||
		    strcmp(a[i].uuid, b[i].uuid))
			abort();
	free(text);
	return 0;
}
