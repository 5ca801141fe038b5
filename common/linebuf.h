/* SPDX-License-Identifier: MIT */
/*
 * A bounded line assembler for untrusted byte streams (agent channels, QMP,
 * the control socket). Bytes go in with linebuf_append(); whole lines come
 * out with linebuf_next(). A line longer than the buffer is discarded up to
 * its newline and reported once, so a peer can never make us buffer more
 * than the capacity given at init. Pure: no I/O.
 */
#ifndef RAMM_LINEBUF_H
#define RAMM_LINEBUF_H

#include <stddef.h>

struct linebuf {
	char *buf;       /* owned; capacity bytes */
	size_t capacity; /* longest line accepted, newline included */
	size_t len;      /* bytes buffered */
	size_t consumed; /* prefix of buf handed out by the last next() */
	int discarding;  /* nonzero: dropping an over-long line until '\n' */
	int overflowed;  /* over-long lines discarded, not yet reported by next() */
};

/*
 * linebuf_init - allocate a buffer for lines of at most @capacity bytes.
 * Returns 0, or -ENOMEM (lb is then safe to pass to linebuf_free()).
 */
int linebuf_init(struct linebuf *lb, size_t capacity);

/* linebuf_free - release the buffer; accepts a zeroed or freed linebuf. */
void linebuf_free(struct linebuf *lb);

/*
 * linebuf_append - add @n bytes received from the peer.
 * Returns the number of bytes consumed (always @n unless the buffer holds a
 * complete line not yet taken with linebuf_next(); then fewer, and the
 * caller must drain lines and append the rest). Never fails.
 */
size_t linebuf_append(struct linebuf *lb, const char *data, size_t n);

/*
 * linebuf_next - take the next complete line.
 * On 1, *line points at a NUL-terminated line without its newline (a
 * trailing '\r' is stripped too), valid until the next call on @lb.
 * Returns 1 for a line, 0 if none is complete yet, and -EMSGSIZE once for
 * each over-long line that was discarded.
 */
int linebuf_next(struct linebuf *lb, char **line, size_t *len);

/*
 * Called by linebuf_feed() for each complete line (@line, @len as from
 * linebuf_next()), or with @line NULL for each over-long line discarded.
 * Return 0 to go on, anything else to stop.
 */
typedef int (*linebuf_line_fn)(void *ctx, char *line, size_t len);

/*
 * linebuf_feed - append @n bytes and hand every line they complete to @fn.
 * Returns 0 once all bytes are consumed, or the first nonzero value @fn
 * returned (the bytes not yet appended are then dropped).
 */
int linebuf_feed(struct linebuf *lb, const char *data, size_t n,
		 linebuf_line_fn fn, void *ctx);

/* linebuf_reset - drop all buffered bytes, e.g. after a reconnect. */
void linebuf_reset(struct linebuf *lb);

#endif /* RAMM_LINEBUF_H */
