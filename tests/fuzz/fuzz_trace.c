/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: sim_trace_parse() on arbitrary traces. A failure must
 * name the file and leave no scenario; a success must be a scenario the
 * simulator can run, holding exactly the rows given. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim_scenario *sc = NULL;
	char err[512] = "";
	/* The first byte, when odd, picks a small explicit host size. */
	uint32_t host = size && (data[0] & 1) ? 1024u * data[0] : 0;
	/* ... and, when it is 2 mod 4, a host of 50..305 % of the mean. */
	struct sim_trace_host h = {
		host, !host && size && (data[0] & 3) == 2 ? 50u + data[0] : 0
	};
	int ret;

	ret = sim_trace_parse((const char *)data, size, "fuzz.csv", &h, &sc,
			      err, sizeof(err));
	if (ret) {
		if (sc || (ret != -EINVAL && ret != -ENOMEM) ||
		    (ret == -EINVAL && strncmp(err, "fuzz.csv:", 9)))
			abort();
		return 0;
	}
	if (sim_scenario_check(sc) || (host && sc->host_mib != host))
		abort();
	for (size_t i = 0; i < sc->n_guests * sc->n_seconds; i++)
		if (sc->wss_mib[i] > SIM_TRACE_MAX_WSS_MIB)
			abort();
	sim_scenario_free(sc);
	return 0;
}
