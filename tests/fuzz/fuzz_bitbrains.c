/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: sim_bitbrains_load() on an arbitrary per-VM file. A
 * failure must name the file and leave no scenario; a success must be a
 * scenario the simulator can run, one guest, within the window asked. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sim/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim_scenario *sc = NULL;
	char path[64], err[512] = "";
	const char *paths[] = { path };
	/* A short window keeps each run small; the size sets it. */
	size_t seconds = 1 + size % 61;
	int fd = memfd_create("vm", 0), ret;

	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ret = sim_bitbrains_load(paths, 1, seconds, &(struct sim_trace_host){ 0 },
				 &sc, err, sizeof(err));
	close(fd);
	if (ret) {
		if (sc || (ret != -EINVAL && ret != -ENOMEM) ||
		    (ret == -EINVAL && strncmp(err, path, strlen(path)) &&
		     strncmp(err, "bitbrains:", 10)))
			abort();
		return 0;
	}
	if (sim_scenario_check(sc) || sc->n_guests != 1 ||
	    sc->n_seconds != seconds)
		abort();
	sim_scenario_free(sc);
	return 0;
}
