/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: plan_record_parse() on arbitrary lines, as
 * `ramm-sim --replay` reads them. A failure says which token; a success
 * round-trips (formatting what was read gives a line that reads back and
 * formats the same), and plan_tick() plans the record without fault, as
 * the replay then does. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "plan_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct plan_record *rec, *rec2;
	struct plan_result again;
	char err[256] = "", *line, *line2;
	size_t len, len2;

	if (plan_record_parse((const char *)data, size, &rec, err, sizeof(err))) {
		if (strncmp(err, "token ", 6) && strcmp(err, "out of memory"))
			abort();
		return 0;
	}
	if (plan_record_format(&rec->in, &rec->out, &line, &len) ||
	    plan_record_parse(line, len, &rec2, err, sizeof(err)) ||
	    plan_record_format(&rec2->in, &rec2->out, &line2, &len2) ||
	    len != len2 || memcmp(line, line2, len))
		abort();
	again = (struct plan_result){
		.actions = calloc(rec->in.n_guests + 1, sizeof(*again.actions)),
		.guests = calloc(rec->in.n_guests + 1, sizeof(*again.guests)),
	};
	if (!again.actions || !again.guests)
		abort();
	if (plan_tick(&rec->in, &again) == 0 && again.n_actions > rec->in.n_guests)
		abort();
	free(again.actions);
	free(again.guests);
	free(line);
	free(line2);
	plan_record_free(rec);
	plan_record_free(rec2);
	return 0;
}
