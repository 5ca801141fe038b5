/* SPDX-License-Identifier: MIT */
/*
 * proc_sample: parse the guest's /proc memory signals.
 *
 * All parsing works on (buffer, length) pairs with an explicit cursor, so it
 * never depends on a terminating NUL and never reads past the end. Only
 * complete lines are looked at.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proc_sample.h"

/* Bounds for the files read by proc_sample_read(). */
#define MEMINFO_BUF 8192
#define PSI_BUF 512
#define VMSTAT_BUF 16384

/* A view of one line: not NUL-terminated, without its '\n'. */
struct span {
	const char *p; /* first byte */
	size_t n;      /* bytes */
};

/*
 * next_line - take the next complete line of @buf starting at *@pos.
 * Returns 1 and advances *@pos past the '\n', or 0 when no complete line is
 * left (a trailing partial line is never returned).
 */
static int
next_line(const char *buf, size_t len, size_t *pos, struct span *line)
{
	const char *nl;

	if (*pos >= len)
		return 0;
	nl = memchr(buf + *pos, '\n', len - *pos);
	if (nl == NULL)
		return 0;
	line->p = buf + *pos;
	line->n = (size_t)(nl - line->p);
	*pos += line->n + 1;
	return 1;
}

static int
span_eq(const struct span *s, const char *lit)
{
	size_t n = strlen(lit);

	return s->n == n && memcmp(s->p, lit, n) == 0;
}

/* Skip spaces and tabs from *@i. */
static void
skip_blanks(const struct span *s, size_t *i)
{
	while (*i < s->n && (s->p[*i] == ' ' || s->p[*i] == '\t'))
		(*i)++;
}

/*
 * parse_u64 - read a decimal number at *@i. Returns 0 and advances *@i, or
 * -EINVAL if there is no digit or the value does not fit in 64 bits.
 */
static int
parse_u64(const struct span *s, size_t *i, uint64_t *v)
{
	uint64_t x = 0;
	size_t start = *i;

	while (*i < s->n && s->p[*i] >= '0' && s->p[*i] <= '9') {
		unsigned d = (unsigned)(s->p[*i] - '0');

		if (x > (UINT64_MAX - d) / 10)
			return -EINVAL;
		x = x * 10 + d;
		(*i)++;
	}
	if (*i == start)
		return -EINVAL;
	*v = x;
	return 0;
}

/*
 * parse_decimal - read "<digits>[.<digits>]" at *@i as a double. At most 9
 * integer digits and 9 fraction digits. Returns 0 or -EINVAL.
 */
static int
parse_decimal(const struct span *s, size_t *i, double *v)
{
	uint64_t ip, fp = 0, scale = 1;
	size_t start = *i;
	int r;

	r = parse_u64(s, i, &ip);
	if (r < 0 || *i - start > 9)
		return -EINVAL;
	if (*i < s->n && s->p[*i] == '.') {
		(*i)++;
		start = *i;
		r = parse_u64(s, i, &fp);
		if (r < 0 || *i - start > 9)
			return -EINVAL;
		for (size_t k = start; k < *i; k++)
			scale *= 10;
	}
	*v = (double)ip + (double)fp / (double)scale;
	return 0;
}

/* Line is printable ASCII only (no NUL, no control bytes) and bounded. */
static int
line_sane(const struct span *s)
{
	if (s->n > PROC_MAX_LINE)
		return 0;
	for (size_t i = 0; i < s->n; i++) {
		unsigned char c = (unsigned char)s->p[i];

		if ((c < 0x20 && c != '\t') || c >= 0x7f)
			return 0;
	}
	return 1;
}

int
proc_parse_meminfo(const char *buf, size_t len, struct proc_sample *out)
{
	uint64_t total = 0, free_kib = 0, avail = 0, swap_total = 0, swap_free = 0;
	int seen = 0; /* bits 0-2 MemTotal, MemFree, MemAvailable; 3-4 Swap* */
	struct span line;
	size_t pos = 0;

	while (next_line(buf, len, &pos, &line)) {
		struct span name;
		const char *colon;
		uint64_t v;
		size_t i;
		int kb = 0, bit = -1;

		if (line.n == 0)
			continue;
		if (!line_sane(&line))
			goto bad;
		colon = memchr(line.p, ':', line.n);
		if (colon == NULL || colon == line.p)
			goto bad;
		name.p = line.p;
		name.n = (size_t)(colon - line.p);
		if (memchr(name.p, ' ', name.n) || memchr(name.p, '\t', name.n))
			goto bad;
		i = name.n + 1;
		skip_blanks(&line, &i);
		if (parse_u64(&line, &i, &v) < 0)
			goto bad;
		if (i < line.n && line.p[i] == ' ') {
			i++;
			if (line.n - i != 2 || memcmp(line.p + i, "kB", 2) != 0)
				goto bad;
			i += 2;
			kb = 1;
		}
		if (i != line.n)
			goto bad;

		if (span_eq(&name, "MemTotal")) {
			bit = 0;
			total = v;
		} else if (span_eq(&name, "MemFree")) {
			bit = 1;
			free_kib = v;
		} else if (span_eq(&name, "MemAvailable")) {
			bit = 2;
			avail = v;
		} else if (span_eq(&name, "SwapTotal")) {
			bit = 3;
			swap_total = v;
		} else if (span_eq(&name, "SwapFree")) {
			bit = 4;
			swap_free = v;
		}
		if (bit >= 0) {
			if (!kb)
				goto bad;
			seen |= 1 << bit;
		}
	}
	if ((seen & 7) != 7 || total == 0)
		goto bad;

	out->swap_used_kib = (seen & 0x18) == 0x18 && swap_free <= swap_total
	    ? swap_total - swap_free : 0;
	out->mem_total_kib = total;
	out->mem_free_kib = free_kib;
	out->mem_available_kib = avail > total ? total : avail;
	return 0;
bad:
	out->mem_total_kib = 0;
	out->swap_used_kib = 0;
	out->mem_free_kib = 0;
	out->mem_available_kib = 0;
	return -EINVAL;
}

/*
 * parse_psi_fields - parse " key=<decimal> key=<decimal> ..." from *@i to the
 * end of @line; store avg10 in *@avg10. Returns 0, or -EINVAL if a field is
 * malformed, avg10 is missing or above 100.
 */
static int
parse_psi_fields(const struct span *line, size_t i, double *avg10)
{
	int have = 0;

	while (i < line->n) {
		size_t key, key_n;
		double v;

		if (line->p[i] != ' ')
			return -EINVAL;
		i++;
		key = i;
		while (i < line->n && line->p[i] != '=' && line->p[i] != ' ')
			i++;
		if (i >= line->n || line->p[i] != '=' || i == key)
			return -EINVAL;
		key_n = i - key;
		i++;
		/* total= is a microsecond counter that outgrows any decimal
		 * (10^9 us is 17 minutes of stall); only averages are decimals. */
		if (key_n == 5 && memcmp(line->p + key, "total", 5) == 0) {
			uint64_t total;

			if (parse_u64(line, &i, &total) < 0)
				return -EINVAL;
			continue;
		}
		if (parse_decimal(line, &i, &v) < 0)
			return -EINVAL;
		if (key_n == 5 && memcmp(line->p + key, "avg10", 5) == 0) {
			if (v > 100.0)
				return -EINVAL;
			*avg10 = v;
			have = 1;
		}
	}
	return have ? 0 : -EINVAL;
}

int
proc_parse_psi(const char *buf, size_t len, struct proc_sample *out)
{
	double some = 0, full = 0;
	int have_some = 0;
	struct span line;
	size_t pos = 0;

	while (next_line(buf, len, &pos, &line)) {
		if (line.n == 0)
			continue;
		if (!line_sane(&line) || line.n < 4)
			goto bad;
		if (memcmp(line.p, "some", 4) == 0) {
			if (parse_psi_fields(&line, 4, &some) < 0)
				goto bad;
			have_some = 1;
		} else if (memcmp(line.p, "full", 4) == 0) {
			if (parse_psi_fields(&line, 4, &full) < 0)
				goto bad;
		} else {
			goto bad;
		}
	}
	if (!have_some)
		goto bad;
	out->psi_some_avg10 = some;
	out->psi_full_avg10 = full;
	out->have_psi = 1;
	return 0;
bad:
	out->psi_some_avg10 = 0;
	out->psi_full_avg10 = 0;
	out->have_psi = 0;
	return -EINVAL;
}

int
proc_parse_vmstat(const char *buf, size_t len, struct proc_sample *out)
{
	uint64_t anon = 0, file = 0, kswapd = 0, direct = 0;
	int found = 0;
	struct span line;
	size_t pos = 0;

	while (next_line(buf, len, &pos, &line)) {
		struct span name;
		const char *sp;
		uint64_t v;
		size_t i;

		if (line.n == 0)
			continue;
		if (!line_sane(&line))
			goto bad;
		sp = memchr(line.p, ' ', line.n);
		if (sp == NULL || sp == line.p)
			goto bad;
		name.p = line.p;
		name.n = (size_t)(sp - line.p);
		i = name.n + 1;
		if (parse_u64(&line, &i, &v) < 0 || i != line.n)
			goto bad;
		if (span_eq(&name, "workingset_refault_anon"))
			anon = v;
		else if (span_eq(&name, "workingset_refault_file"))
			file = v;
		else if (span_eq(&name, "pgscan_kswapd"))
			kswapd = v;
		else if (span_eq(&name, "pgscan_direct"))
			direct = v;
		else
			continue;
		found = 1;
	}
	if (!found)
		goto bad;
	out->refault_anon = anon;
	out->refault_file = file;
	/* Cumulative counters; a wrapped sum only looks like a reset. */
	out->pgscan = kswapd + direct;
	out->have_vmstat = 1;
	return 0;
bad:
	out->refault_anon = 0;
	out->refault_file = 0;
	out->pgscan = 0;
	out->have_vmstat = 0;
	return -EINVAL;
}

/*
 * read_file - read up to @size - 1 bytes of @root/@name into @buf.
 * Returns the byte count, or -errno. The rest of a longer file is ignored.
 */
static ssize_t
read_file(const char *root, const char *name, char *buf, size_t size)
{
	char path[PATH_MAX];
	size_t got = 0;
	int fd, n;

	n = snprintf(path, sizeof(path), "%s/%s", root, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got < size - 1) {
		ssize_t r = read(fd, buf + got, size - 1 - got);

		if (r < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			close(fd);
			return -e;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	return (ssize_t)got;
}

int
proc_meminfo_read(const char *proc_root, struct proc_sample *out)
{
	char buf[MEMINFO_BUF];
	ssize_t n;
	int r;

	memset(out, 0, sizeof(*out));
	n = read_file(proc_root ? proc_root : "/proc", "meminfo", buf,
	    sizeof(buf));
	if (n < 0)
		return (int)n;
	r = proc_parse_meminfo(buf, (size_t)n, out);
	if (r < 0)
		memset(out, 0, sizeof(*out));
	return r;
}

int
proc_sample_read(const char *proc_root, struct proc_sample *out)
{
	/* vmstat is the largest; PSI reuses its buffer. */
	char buf[VMSTAT_BUF];
	ssize_t n;
	int r;

	_Static_assert(PSI_BUF <= VMSTAT_BUF, "one buffer serves both files");
	if (proc_root == NULL)
		proc_root = "/proc";

	r = proc_meminfo_read(proc_root, out);
	if (r < 0)
		return r;

	n = read_file(proc_root, "pressure/memory", buf, PSI_BUF);
	if (n >= 0)
		(void)proc_parse_psi(buf, (size_t)n, out);

	n = read_file(proc_root, "vmstat", buf, VMSTAT_BUF);
	if (n >= 0)
		(void)proc_parse_vmstat(buf, (size_t)n, out);

	return 0;
}
