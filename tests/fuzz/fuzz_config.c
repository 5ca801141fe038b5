/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: config_parse() on arbitrary files. A failure must name
 * the file; a success must satisfy the invariants config_parse() promises. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rammd_config cfg;
	char err[512] = "";

	config_defaults(&cfg);
	if (config_parse((const char *)data, size, "fuzz.conf", &cfg, err,
			 sizeof(err))) {
		if (strncmp(err, "fuzz.conf:", 10))
			abort();
		return 0;
	}
	if (cfg.n_guests > CONFIG_MAX_GUESTS || cfg.tick_ms < 100)
		abort();
	/* A guest has both sockets, or neither (settings for a guest found
	 * by a scan or by libvirt). */
	for (size_t i = 0; i < cfg.n_guests; i++)
		if (!cfg.guests[i].qmp_path[0] != !cfg.guests[i].agent_path[0] ||
		    strlen(cfg.guests[i].qmp_path) > CONFIG_MAX_SOCKET_PATH)
			abort();
	return 0;
}
