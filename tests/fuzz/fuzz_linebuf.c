/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: linebuf_feed() with a small capacity, the input cut
 * into chunks by its own first byte. Lines handed out never exceed the
 * capacity and never contain a newline. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linebuf.h"

#define FUZZ_CAPACITY 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_line(void *ctx, char *line, size_t len)
{
	(void)ctx;
	if (line && (len >= FUZZ_CAPACITY || memchr(line, '\n', len) ||
		     line[len] != '\0'))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct linebuf lb;
	size_t chunk;

	if (size < 1 || linebuf_init(&lb, FUZZ_CAPACITY))
		return 0;
	chunk = (size_t)data[0] % 7 + 1;
	for (size_t off = 1; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;

		linebuf_feed(&lb, (const char *)data + off, n, check_line, NULL);
	}
	linebuf_free(&lb);
	return 0;
}
