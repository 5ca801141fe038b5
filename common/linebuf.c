/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "linebuf.h"

int linebuf_init(struct linebuf *lb, size_t capacity)
{
	memset(lb, 0, sizeof(*lb));
	if (capacity < 2)
		return -EINVAL;
	/* One spare byte so a full-length line can still be NUL-terminated. */
	lb->buf = malloc(capacity + 1);
	if (!lb->buf)
		return -ENOMEM;
	lb->capacity = capacity;
	return 0;
}

void linebuf_free(struct linebuf *lb)
{
	free(lb->buf);
	memset(lb, 0, sizeof(*lb));
}

void linebuf_reset(struct linebuf *lb)
{
	lb->len = 0;
	lb->consumed = 0;
	lb->discarding = 0;
	lb->overflowed = 0;
}

/* The line handed out last is only valid until the next call: drop it. */
static void linebuf_compact(struct linebuf *lb)
{
	if (!lb->consumed)
		return;
	memmove(lb->buf, lb->buf + lb->consumed, lb->len - lb->consumed);
	lb->len -= lb->consumed;
	lb->consumed = 0;
}

size_t linebuf_append(struct linebuf *lb, const char *data, size_t n)
{
	size_t used = 0;

	linebuf_compact(lb);
	while (used < n) {
		if (lb->discarding) {
			const char *nl = memchr(data + used, '\n', n - used);

			if (!nl)
				return n;
			used = (size_t)(nl - data) + 1;
			lb->discarding = 0;
			continue;
		}
		if (lb->len == lb->capacity) {
			if (memchr(lb->buf, '\n', lb->len))
				return used; /* caller must drain lines first */
			/*
			 * Full and no newline: the line is too long. Count it:
			 * one append can discard several over-long lines, and
			 * each gets its own -EMSGSIZE.
			 */
			lb->len = 0;
			lb->discarding = 1;
			lb->overflowed++;
			continue;
		}
		size_t room = lb->capacity - lb->len;
		size_t take = n - used < room ? n - used : room;

		memcpy(lb->buf + lb->len, data + used, take);
		lb->len += take;
		used += take;
	}
	return used;
}

int linebuf_next(struct linebuf *lb, char **line, size_t *len)
{
	char *nl;
	size_t line_len;

	linebuf_compact(lb);
	if (lb->overflowed) {
		lb->overflowed--;
		return -EMSGSIZE;
	}
	nl = memchr(lb->buf, '\n', lb->len);
	if (!nl) {
		if (lb->len == lb->capacity) {
			/* A full buffer without a newline can never complete. */
			lb->len = 0;
			lb->discarding = 1;
			return -EMSGSIZE;
		}
		return 0;
	}
	line_len = (size_t)(nl - lb->buf);
	lb->consumed = line_len + 1;
	*nl = '\0';
	if (line_len && lb->buf[line_len - 1] == '\r')
		lb->buf[--line_len] = '\0';
	*line = lb->buf;
	*len = line_len;
	return 1;
}

int linebuf_feed(struct linebuf *lb, const char *data, size_t n,
		 linebuf_line_fn fn, void *ctx)
{
	for (size_t off = 0; off < n;) {
		char *line;
		size_t len;
		int r, stop;

		off += linebuf_append(lb, data + off, n - off);
		while ((r = linebuf_next(lb, &line, &len)) != 0) {
			stop = fn(ctx, r < 0 ? NULL : line, r < 0 ? 0 : len);
			if (stop)
				return stop;
		}
	}
	return 0;
}
