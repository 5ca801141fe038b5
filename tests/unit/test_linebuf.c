/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the bounded line assembler (common/linebuf.c).
 *
 * Hand-made cases for each promise in linebuf.h, then a seeded random
 * stream cut into random chunks and checked against a plain reference
 * splitter: every line in order, and one -EMSGSIZE per over-long line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "linebuf.h"

/* Append all of @s, which must fit without draining. */
static void append_all(struct linebuf *lb, const char *s)
{
	size_t n = strlen(s);

	assert_int_equal(linebuf_append(lb, s, n), n);
}

static void expect_line(struct linebuf *lb, const char *want)
{
	char *line = NULL;
	size_t len = 0;

	assert_int_equal(linebuf_next(lb, &line, &len), 1);
	assert_non_null(line);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(line, want, len);
	assert_int_equal(line[len], '\0');
}

static void expect_none(struct linebuf *lb)
{
	char *line;
	size_t len;

	assert_int_equal(linebuf_next(lb, &line, &len), 0);
}

static void expect_too_long(struct linebuf *lb)
{
	char *line;
	size_t len;

	assert_int_equal(linebuf_next(lb, &line, &len), -EMSGSIZE);
}

static void test_init_capacity(void **state)
{
	struct linebuf lb;

	(void)state;
	assert_int_equal(linebuf_init(&lb, 0), -EINVAL);
	linebuf_free(&lb);
	assert_int_equal(linebuf_init(&lb, 1), -EINVAL);
	assert_null(lb.buf);
	linebuf_free(&lb);

	/* The smallest buffer holds one character and its newline. */
	assert_int_equal(linebuf_init(&lb, 2), 0);
	assert_non_null(lb.buf);
	append_all(&lb, "x\n");
	expect_line(&lb, "x");
	append_all(&lb, "xy\nz\n");
	expect_too_long(&lb);
	expect_line(&lb, "z");
	expect_none(&lb);
	linebuf_free(&lb);
	assert_null(lb.buf);
	linebuf_free(&lb); /* twice is fine */
}

static void test_byte_by_byte(void **state)
{
	const char *text = "hello, world\nsecond\n";
	struct linebuf lb;
	int lines = 0;

	(void)state;
	assert_int_equal(linebuf_init(&lb, 64), 0);
	expect_none(&lb);
	for (const char *c = text; *c; c++) {
		char *line;
		size_t len;
		int ret;

		assert_int_equal(linebuf_append(&lb, c, 1), 1);
		ret = linebuf_next(&lb, &line, &len);
		if (*c != '\n') {
			assert_int_equal(ret, 0);
			continue;
		}
		assert_int_equal(ret, 1);
		assert_string_equal(line, lines == 0 ? "hello, world" : "second");
		lines++;
	}
	assert_int_equal(lines, 2);
	expect_none(&lb);
	linebuf_free(&lb);
}

static void test_many_lines_one_append(void **state)
{
	struct linebuf lb;

	(void)state;
	assert_int_equal(linebuf_init(&lb, 64), 0);
	append_all(&lb, "one\ntwo\nthree\nfour, unfinish");
	expect_line(&lb, "one");
	expect_line(&lb, "two");
	expect_line(&lb, "three");
	expect_none(&lb);
	append_all(&lb, "ed\n");
	expect_line(&lb, "four, unfinished");
	expect_none(&lb);
	linebuf_free(&lb);
}

static void test_crlf(void **state)
{
	struct linebuf lb;

	(void)state;
	assert_int_equal(linebuf_init(&lb, 64), 0);
	append_all(&lb, "abc\r\n\r\na\rb\nx\r\r\n");
	expect_line(&lb, "abc");
	expect_line(&lb, "");
	expect_line(&lb, "a\rb"); /* only a trailing '\r' goes */
	expect_line(&lb, "x\r");  /* and only one */
	expect_none(&lb);

	/* A '\r' that arrives alone is kept until its '\n' is seen. */
	append_all(&lb, "y\r");
	expect_none(&lb);
	append_all(&lb, "\n");
	expect_line(&lb, "y");
	linebuf_free(&lb);
}

static void test_empty_lines(void **state)
{
	struct linebuf lb;

	(void)state;
	assert_int_equal(linebuf_init(&lb, 4), 0);
	/* Each empty line is one byte: four fill the buffer... */
	for (int i = 0; i < 4; i++)
		append_all(&lb, "\n");
	/* ...and the fifth waits for a drain. */
	assert_int_equal(linebuf_append(&lb, "\n", 1), 0);
	for (int i = 0; i < 4; i++)
		expect_line(&lb, "");
	expect_none(&lb);
	append_all(&lb, "\n\r\n");
	expect_line(&lb, "");
	expect_line(&lb, "");
	expect_none(&lb);
	linebuf_free(&lb);
}

static void test_exact_capacity(void **state)
{
	struct linebuf lb;

	(void)state;
	assert_int_equal(linebuf_init(&lb, 8), 0);
	/* 7 characters and the newline: exactly the capacity. */
	append_all(&lb, "1234567\n");
	expect_line(&lb, "1234567");
	expect_none(&lb);

	/* The same, byte by byte, with a next() after every byte. */
	for (const char *c = "abcdefg"; *c; c++) {
		assert_int_equal(linebuf_append(&lb, c, 1), 1);
		expect_none(&lb);
	}
	assert_int_equal(linebuf_append(&lb, "\n", 1), 1);
	expect_line(&lb, "abcdefg");

	/* Exactly the capacity with CRLF. */
	append_all(&lb, "123456\r\n");
	expect_line(&lb, "123456");
	expect_none(&lb);
	linebuf_free(&lb);
}

static void test_capacity_plus_one(void **state)
{
	struct linebuf lb;
	int too_long = 0, lines = 0;

	(void)state;
	assert_int_equal(linebuf_init(&lb, 8), 0);
	append_all(&lb, "12345678\nnext\n");
	expect_too_long(&lb);
	expect_line(&lb, "next");
	expect_none(&lb);

	/* Byte by byte, polling after each byte: still exactly once. */
	for (const char *c = "ABCDEFGH\nafter\n"; *c; c++) {
		char *line;
		size_t len;
		int ret;

		assert_int_equal(linebuf_append(&lb, c, 1), 1);
		while ((ret = linebuf_next(&lb, &line, &len)) != 0) {
			if (ret == -EMSGSIZE) {
				too_long++;
				continue;
			}
			assert_int_equal(ret, 1);
			assert_string_equal(line, "after");
			lines++;
		}
	}
	assert_int_equal(too_long, 1);
	assert_int_equal(lines, 1);

	/* Filled exactly by one append, the overflow seen by the next one. */
	append_all(&lb, "abcdefgh");
	append_all(&lb, "\nok\n");
	expect_too_long(&lb);
	expect_line(&lb, "ok");
	expect_none(&lb);
	linebuf_free(&lb);
}

static void test_overlong_many_appends(void **state)
{
	struct linebuf lb;
	char *line;
	size_t len;
	int too_long = 0;

	(void)state;
	assert_int_equal(linebuf_init(&lb, 16), 0);
	append_all(&lb, "first\n");
	expect_line(&lb, "first");
	/* 500 bytes of one line, polled after every append. */
	for (int i = 0; i < 100; i++) {
		int ret;

		append_all(&lb, "xxxxx");
		while ((ret = linebuf_next(&lb, &line, &len)) != 0) {
			assert_int_equal(ret, -EMSGSIZE);
			too_long++;
		}
		/* Never more buffered than the capacity. */
		assert_true(lb.len <= lb.capacity);
	}
	assert_int_equal(too_long, 1);
	append_all(&lb, "yy\nok\n");
	expect_line(&lb, "ok");
	expect_none(&lb);

	/* The same without polling in between: one report. */
	for (int i = 0; i < 100; i++)
		append_all(&lb, "zzzzz");
	append_all(&lb, "\nlast\n");
	expect_too_long(&lb);
	expect_line(&lb, "last");
	expect_none(&lb);
	linebuf_free(&lb);
}

static void test_consecutive_overlong(void **state)
{
	struct linebuf lb;

	(void)state;
	assert_int_equal(linebuf_init(&lb, 4), 0);
	/* Two over-long lines in one append are two reports, not one. */
	append_all(&lb, "aaaaaaa\nbbbbbbb\nok\n");
	expect_too_long(&lb);
	expect_too_long(&lb);
	expect_line(&lb, "ok");
	expect_none(&lb);

	/* Three, and the last one ends the append. */
	append_all(&lb, "1234\n12345\n123456789\n");
	expect_too_long(&lb);
	expect_too_long(&lb);
	expect_too_long(&lb);
	expect_none(&lb);
	linebuf_free(&lb);
}

static void test_full_buffer_with_line(void **state)
{
	const char *text = "abc\ndefgh\n";
	struct linebuf lb;
	size_t used;

	(void)state;
	assert_int_equal(linebuf_init(&lb, 8), 0);
	/* The buffer fills holding "abc\n": the append stops short. */
	used = linebuf_append(&lb, text, strlen(text));
	assert_int_equal(used, 8);
	expect_line(&lb, "abc");
	expect_none(&lb);
	assert_int_equal(linebuf_append(&lb, text + used, strlen(text) - used),
			 strlen(text) - used);
	expect_line(&lb, "defgh");
	expect_none(&lb);

	/* Full of complete lines: nothing more goes in until drained. */
	append_all(&lb, "a\nb\nc\nd\n");
	assert_int_equal(linebuf_append(&lb, "e\n", 2), 0);
	expect_line(&lb, "a");
	assert_int_equal(linebuf_append(&lb, "e\n", 2), 2);
	expect_line(&lb, "b");
	expect_line(&lb, "c");
	expect_line(&lb, "d");
	expect_line(&lb, "e");
	expect_none(&lb);
	linebuf_free(&lb);
}

static void test_reset(void **state)
{
	struct linebuf lb;

	(void)state;
	assert_int_equal(linebuf_init(&lb, 8), 0);
	append_all(&lb, "one\ntw");
	linebuf_reset(&lb);
	expect_none(&lb);
	append_all(&lb, "o\n");
	expect_line(&lb, "o");

	/* A reset mid-way through an over-long line forgets it entirely. */
	append_all(&lb, "0123456789");
	linebuf_reset(&lb);
	append_all(&lb, "ok\n");
	expect_line(&lb, "ok");
	expect_none(&lb);

	/* And after a line was handed out but not yet compacted. */
	append_all(&lb, "a\nb\n");
	expect_line(&lb, "a");
	linebuf_reset(&lb);
	expect_none(&lb);
	append_all(&lb, "c\n");
	expect_line(&lb, "c");
	linebuf_free(&lb);
}

/* ---- seeded random streams against a reference splitter ---- */

/* xorshift64: the same sequence everywhere, unlike rand(). */
static uint64_t rng_state;

static uint32_t rng(uint32_t bound)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % bound);
}

#define EV_TOO_LONG ((size_t)-1)
#define MAX_EVENTS 4096

struct events {
	size_t len[MAX_EVENTS]; /* line length, or EV_TOO_LONG */
	size_t off[MAX_EVENTS]; /* into text */
	size_t n;
	char text[1 << 17];
	size_t used;
};

static void ev_add(struct events *ev, const char *s, size_t len)
{
	assert_true(ev->n < MAX_EVENTS);
	if (len == EV_TOO_LONG) {
		ev->len[ev->n++] = EV_TOO_LONG;
		return;
	}
	assert_true(ev->used + len <= sizeof(ev->text));
	memcpy(ev->text + ev->used, s, len);
	ev->off[ev->n] = ev->used;
	ev->len[ev->n++] = len;
	ev->used += len;
}

/* What linebuf.h promises, written the obvious way. */
static void reference_split(const char *s, size_t n, size_t capacity,
			    struct events *ev)
{
	size_t start = 0;

	for (size_t i = 0; i < n; i++) {
		size_t len;

		if (s[i] != '\n')
			continue;
		len = i - start;
		if (len + 1 > capacity) {
			ev_add(ev, NULL, EV_TOO_LONG);
		} else {
			if (len && s[start + len - 1] == '\r')
				len--;
			ev_add(ev, s + start, len);
		}
		start = i + 1;
	}
}

/* Take every line available now; returns how many events came out. */
static size_t drain(struct linebuf *lb, struct events *ev)
{
	size_t before = ev->n;
	char *line;
	size_t len;
	int ret;

	while ((ret = linebuf_next(lb, &line, &len)) != 0) {
		if (ret == -EMSGSIZE) {
			ev_add(ev, NULL, EV_TOO_LONG);
			continue;
		}
		assert_int_equal(ret, 1);
		assert_int_equal(line[len], '\0');
		ev_add(ev, line, len);
	}
	return ev->n - before;
}

static void test_random_streams(void **state)
{
	static const size_t capacities[] = { 2, 3, 4, 7, 16, 61, 256 };
	static const char alphabet[] = "ab\r\n{}";
	struct events *want = malloc(sizeof(*want));
	struct events *got = malloc(sizeof(*got));
	char *stream = malloc(1 << 16);

	(void)state;
	assert_non_null(want);
	assert_non_null(got);
	assert_non_null(stream);
	rng_state = 0x9e3779b97f4a7c15ULL;
	for (int round = 0; round < 2000; round++) {
		size_t capacity = capacities[rng(7)];
		size_t n = 0, pos = 0;
		size_t lines = 1 + rng(60);
		struct linebuf lb;

		/* Line lengths cluster around the capacity. */
		for (size_t l = 0; l < lines; l++) {
			size_t len = rng(3) ? rng((uint32_t)capacity + 3)
					    : rng((uint32_t)capacity * 3 + 1);

			for (size_t i = 0; i < len && n < (1 << 16) - 1; i++)
				stream[n++] = alphabet[rng(3)]; /* 'a' 'b' '\r' */
			if (rng(8) == 0 && n < (1 << 16) - 1)
				stream[n++] = alphabet[3 + rng(3)];
			if (n < (1 << 16))
				stream[n++] = '\n';
		}
		if (stream[n - 1] != '\n')
			stream[n - 1] = '\n';

		memset(want, 0, sizeof(*want));
		memset(got, 0, sizeof(*got));
		reference_split(stream, n, capacity, want);

		assert_int_equal(linebuf_init(&lb, capacity), 0);
		while (pos < n) {
			size_t chunk = 1 + rng((uint32_t)capacity * 3);
			size_t used;

			if (chunk > n - pos)
				chunk = n - pos;
			used = linebuf_append(&lb, stream + pos, chunk);
			assert_true(used <= chunk);
			assert_true(lb.len <= lb.capacity);
			pos += used;
			/* Short: the buffer holds a line, so draining frees room. */
			if (used < chunk)
				assert_true(drain(&lb, got) > 0);
			else if (rng(2))
				drain(&lb, got);
		}
		drain(&lb, got);
		expect_none(&lb);
		linebuf_free(&lb);

		assert_int_equal(got->n, want->n);
		for (size_t i = 0; i < want->n; i++) {
			assert_int_equal(got->len[i], want->len[i]);
			if (want->len[i] == EV_TOO_LONG || want->len[i] == 0)
				continue;
			assert_memory_equal(got->text + got->off[i],
					    want->text + want->off[i],
					    want->len[i]);
		}
	}
	free(stream);
	free(got);
	free(want);
}

/* What linebuf_feed() handed to its callback, in order. */
struct fed {
	char lines[8][16]; /* the lines; "" for an over-long one */
	int overlong[8];   /* nonzero where the callback got NULL */
	int n;             /* callbacks so far */
	int stop_at;       /* return nonzero on this callback (1-based) */
};

static int collect(void *ctx, char *line, size_t len)
{
	struct fed *f = ctx;

	assert_true(f->n < 8);
	if (line) {
		assert_true(len < sizeof(f->lines[0]));
		assert_int_equal(strlen(line), len);
		memcpy(f->lines[f->n], line, len + 1);
	} else {
		f->overlong[f->n] = 1;
	}
	f->n++;
	return f->n == f->stop_at ? 7 : 0;
}

/* feed: every line and every over-long line once, in order; a nonzero
 * return stops it and is passed back. */
static void test_feed(void **state)
{
	struct linebuf lb;
	struct fed f = { .stop_at = 0 };
	/* capacity 8 leaves a full buffer mid-way, so feed must drain and
	 * append again within one call */
	const char data[] = "ab\ncdefghijkl\nmn\r\nop\nq";

	(void)state;
	assert_int_equal(linebuf_init(&lb, 8), 0);
	assert_int_equal(linebuf_feed(&lb, data, strlen(data), collect, &f), 0);
	assert_int_equal(f.n, 4);
	assert_string_equal(f.lines[0], "ab");
	assert_true(f.overlong[1]);
	assert_string_equal(f.lines[2], "mn");
	assert_string_equal(f.lines[3], "op");
	/* "q" waits for its newline */
	assert_int_equal(linebuf_feed(&lb, "\n", 1, collect, &f), 0);
	assert_int_equal(f.n, 5);
	assert_string_equal(f.lines[4], "q");

	memset(&f, 0, sizeof(f));
	f.stop_at = 2;
	linebuf_reset(&lb);
	assert_int_equal(linebuf_feed(&lb, "x\ny\nz\n", 6, collect, &f), 7);
	assert_int_equal(f.n, 2);
	assert_string_equal(f.lines[1], "y");
	linebuf_free(&lb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_capacity),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_many_lines_one_append),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_empty_lines),
		cmocka_unit_test(test_exact_capacity),
		cmocka_unit_test(test_capacity_plus_one),
		cmocka_unit_test(test_overlong_many_appends),
		cmocka_unit_test(test_consecutive_overlong),
		cmocka_unit_test(test_full_buffer_with_line),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_random_streams),
		cmocka_unit_test(test_feed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
