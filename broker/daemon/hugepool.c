/* SPDX-License-Identifier: MIT */
/*
 * The host's hugetlb pools; hugepool.h states the contract.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decimal.h"
#include "hugepool.h"

/* A sysfs number is "%lu\n": 21 bytes; anything past this is not one. */
#define HUGEPOOL_FILE_MAX 64
/* /proc/meminfo is about 1.5 KiB on any kernel we run on. */
#define HUGEPOOL_MEMINFO_MAX (16 * 1024)

#define HUGEPOOL_SIZES_DIR "/sys/kernel/mm/hugepages"
#define HUGEPOOL_NODES_DIR "/sys/devices/system/node"

__attribute__((format(printf, 3, 4)))
static int hugepool_path(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	return (size_t)n < len ? 0 : -ENAMETOOLONG;
}

/*
 * Reads at most @max bytes of @path into @buf (room for @max + 1, so a
 * longer file shows as one byte too many). O_NONBLOCK: a FIFO planted in
 * a test tree must not hang the tick; a non-regular file is refused.
 */
static int hugepool_slurp(const char *path, char *buf, size_t max, size_t *len)
{
	struct stat st;
	size_t used = 0;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		err = -errno;
	else if (!S_ISREG(st.st_mode))
		err = -EINVAL;
	while (!err && used <= max) {
		ssize_t r = read(fd, buf + used, max + 1 - used);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err = -errno;
		else if (r == 0)
			break;
		else
			used += (size_t)r;
	}
	close(fd);
	if (err)
		return err;
	if (used > max)
		return -EINVAL;
	*len = used;
	return 0;
}

/* One sysfs count: digits, an optional newline, nothing else. */
static int hugepool_read_count(const char *path, uint64_t *out)
{
	char buf[HUGEPOOL_FILE_MAX + 1];
	const char *p = buf, *end;
	size_t len;
	uint64_t v;
	int err;

	err = hugepool_slurp(path, buf, HUGEPOOL_FILE_MAX, &len);
	if (err)
		return err;
	end = buf + len;
	if (len && end[-1] == '\n')
		end--;
	if (decimal_parse(&p, end, UINT64_MAX, &v) || p != end)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A per-node count the node may not have: missing reads as 0. */
static int hugepool_read_node_count(const char *path, uint64_t *out)
{
	int err = hugepool_read_count(path, out);

	if (err == -ENOENT || err == -ENOTDIR) {
		*out = 0;
		return 0;
	}
	return err;
}

/*
 * "<prefix><decimal><suffix>" exactly, the number without a leading zero
 * (so one size or node has one name) and at most @max. Returns 0 or
 * -EINVAL.
 */
static int hugepool_name_number(const char *name, const char *prefix,
				const char *suffix, uint64_t max, uint64_t *out)
{
	size_t plen = strlen(prefix), slen = strlen(suffix), len = strlen(name);
	const char *p = name + plen, *end;

	if (len <= plen + slen || strncmp(name, prefix, plen) ||
	    strcmp(name + len - slen, suffix))
		return -EINVAL;
	end = name + len - slen;
	if (*p == '0' && end - p > 1)
		return -EINVAL;
	if (decimal_parse(&p, end, max, out) || p != end)
		return -EINVAL;
	return 0;
}

/*
 * Calls @fn for each entry of @path named "<prefix><number><suffix>" as
 * hugepool_name_number() reads it, stopping at the first error @fn
 * returns. A missing @path has no entries.
 */
static int hugepool_scan(const char *path, const char *prefix,
			 const char *suffix, uint64_t max,
			 int (*fn)(uint64_t number, void *ctx), void *ctx)
{
	struct dirent *de;
	DIR *dir;
	int err = 0;

	dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	errno = 0;
	while (!err && (de = readdir(dir))) {
		uint64_t number;

		if (!hugepool_name_number(de->d_name, prefix, suffix, max, &number))
			err = fn(number, ctx);
		errno = 0;
	}
	if (!err)
		err = -errno;
	closedir(dir);
	return err;
}

/* The kernel only makes power-of-two sizes; others are not its entries. */
static int hugepool_is_page_size(uint64_t bytes)
{
	return bytes >= HUGEPOOL_MIN_PAGE_BYTES && pages_valid_size(bytes);
}

/*
 * For each hugepages-<N>kB entry: keeps the HUGEPOOL_MAX_SIZES smallest
 * sizes seen, ascending.
 */
static int hugepool_keep_size(uint64_t kib, void *ctx)
{
	struct hugepool_host *h = ctx;
	uint64_t page_bytes = kib << 10;
	size_t i = h->n_sizes;

	if (!hugepool_is_page_size(page_bytes))
		return 0;
	if (i == HUGEPOOL_MAX_SIZES) {
		if (page_bytes >= h->sizes[i - 1].page_bytes)
			return 0;
		i--;
	} else {
		h->n_sizes++;
	}
	for (; i > 0 && h->sizes[i - 1].page_bytes > page_bytes; i--)
		h->sizes[i] = h->sizes[i - 1];
	memset(&h->sizes[i], 0, sizeof(h->sizes[i]));
	h->sizes[i].page_bytes = page_bytes;
	return 0;
}

/* The page sizes under @root and their global counts. */
static int hugepool_read_sizes(const char *root, struct hugepool_host *h)
{
	char path[PATH_MAX];
	int err;

	err = hugepool_path(path, sizeof(path), "%s" HUGEPOOL_SIZES_DIR, root);
	if (!err)
		err = hugepool_scan(path, "hugepages-", "kB",
				    HUGEPOOL_MAX_PAGE_BYTES >> 10,
				    hugepool_keep_size, h);
	if (err)
		return err;

	for (size_t i = 0; i < h->n_sizes; i++) {
		static const char *const names[] = {
			"nr_hugepages", "free_hugepages", "resv_hugepages",
		};
		struct hugepool_size *s = &h->sizes[i];
		uint64_t *fields[] = {
			&s->total_pages, &s->free_pages, &s->resv_pages,
		};

		for (size_t f = 0; f < sizeof(names) / sizeof(names[0]); f++) {
			err = hugepool_path(path, sizeof(path),
					    "%s" HUGEPOOL_SIZES_DIR "/hugepages-%llukB/%s",
					    root, (unsigned long long)(s->page_bytes >> 10),
					    names[f]);
			if (!err)
				err = hugepool_read_count(path, fields[f]);
			if (err)
				return err;
		}
	}
	return 0;
}

/* Node @node's free pages of each size, if it has a hugepages directory. */
static int hugepool_read_node(const char *root, unsigned int node,
			      struct hugepool_host *h)
{
	char path[PATH_MAX];
	struct stat st;
	int err;

	err = hugepool_path(path, sizeof(path),
			    "%s" HUGEPOOL_NODES_DIR "/node%u/hugepages", root, node);
	if (err)
		return err;
	if (stat(path, &st) < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return 0;
	h->nodes |= 1ULL << node;
	for (size_t i = 0; i < h->n_sizes; i++) {
		struct hugepool_size *s = &h->sizes[i];

		err = hugepool_path(path, sizeof(path),
				    "%s" HUGEPOOL_NODES_DIR "/node%u/hugepages/hugepages-%llukB/free_hugepages",
				    root, node, (unsigned long long)(s->page_bytes >> 10));
		if (!err)
			err = hugepool_read_node_count(path, &s->node_free[node]);
		if (err)
			return err;
	}
	return 0;
}

struct hugepool_nodes_ctx {
	const char *root;
	struct hugepool_host *h;
	int numa; /* some node<N> entry exists, even one we ignore */
};

/* For each node<N> entry. */
static int hugepool_node_entry(uint64_t node, void *ctx)
{
	struct hugepool_nodes_ctx *c = ctx;

	c->numa = 1;
	if (node >= HUGEPOOL_MAX_NODES)
		return 0;
	return hugepool_read_node(c->root, (unsigned int)node, c->h);
}

/*
 * The per-node free counts. Sets *@numa when the kernel shows any node
 * directory at all, even only ones we ignore: then node 0 is not the
 * whole host.
 */
static int hugepool_read_nodes(const char *root, struct hugepool_host *h,
			       int *numa)
{
	struct hugepool_nodes_ctx c = { .root = root, .h = h };
	char path[PATH_MAX];
	int err;

	err = hugepool_path(path, sizeof(path), "%s" HUGEPOOL_NODES_DIR, root);
	if (!err)
		err = hugepool_scan(path, "node", "", UINT32_MAX,
				    hugepool_node_entry, &c);
	*numa = c.numa;
	return err;
}

/* The "Hugepagesize:" line of meminfo, in bytes; 0 if there is none. */
static int hugepool_read_default_size(const char *root, uint64_t *out)
{
	static const char key[] = "Hugepagesize:";
	char path[PATH_MAX], buf[HUGEPOOL_MEMINFO_MAX + 1];
	const char *p, *end;
	uint64_t kib;
	size_t len;
	int err;

	err = hugepool_path(path, sizeof(path), "%s/proc/meminfo", root);
	if (!err)
		err = hugepool_slurp(path, buf, HUGEPOOL_MEMINFO_MAX, &len);
	if (err)
		return err;
	end = buf + len;
	for (p = buf; p < end; p++) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (!eol)
			eol = end;
		if ((size_t)(eol - p) >= sizeof(key) - 1 &&
		    !memcmp(p, key, sizeof(key) - 1))
			break;
		p = eol;
	}
	*out = 0;
	if (p >= end)
		return 0;
	for (p += sizeof(key) - 1; p < end && (*p == ' ' || *p == '\t'); p++)
		;
	if (decimal_parse(&p, end, HUGEPOOL_MAX_PAGE_BYTES >> 10, &kib))
		return -EINVAL;
	if ((size_t)(end - p) < 3 || memcmp(p, " kB", 3) ||
	    (p + 3 < end && p[3] != '\n'))
		return -EINVAL;
	if (!hugepool_is_page_size(kib << 10))
		return -EINVAL;
	*out = kib << 10;
	return 0;
}

int hugepool_read(const char *root, struct hugepool_host *out)
{
	struct hugepool_host h;
	int numa = 0, err;

	if (!root)
		root = "";
	memset(&h, 0, sizeof(h));
	err = hugepool_read_default_size(root, &h.default_page_bytes);
	if (!err)
		err = hugepool_read_sizes(root, &h);
	if (!err && h.n_sizes)
		err = hugepool_read_nodes(root, &h, &numa);
	if (err)
		return err;
	if (h.n_sizes && !numa) {
		for (size_t i = 0; i < h.n_sizes; i++)
			h.sizes[i].node_free[0] = h.sizes[i].free_pages;
		h.nodes = 1;
	}
	*out = h;
	return 0;
}

struct hugepool_size *hugepool_find(struct hugepool_host *h,
				    uint64_t page_bytes)
{
	if (!h)
		return NULL;
	for (size_t i = 0; i < h->n_sizes && i < HUGEPOOL_MAX_SIZES; i++)
		if (h->sizes[i].page_bytes == page_bytes)
			return &h->sizes[i];
	return NULL;
}

uint64_t hugepool_available(const struct hugepool_size *s, uint64_t node_mask)
{
	uint64_t free = 0;

	if (!s)
		return 0;
	if (!node_mask) {
		free = s->free_pages;
	} else {
		for (unsigned int n = 0; n < HUGEPOOL_MAX_NODES; n++) {
			if (!(node_mask & (1ULL << n)))
				continue;
			free = s->node_free[n] > UINT64_MAX - free ?
			       UINT64_MAX : free + s->node_free[n];
		}
	}
	return free > s->resv_pages ? free - s->resv_pages : 0;
}

void hugepool_take(struct hugepool_size *s, uint64_t node_mask, uint64_t pages)
{
	uint64_t left = pages;

	if (!s)
		return;
	if (!node_mask)
		node_mask = UINT64_MAX;
	for (unsigned int n = 0; n < HUGEPOOL_MAX_NODES && left; n++) {
		uint64_t got;

		if (!(node_mask & (1ULL << n)))
			continue;
		got = s->node_free[n] < left ? s->node_free[n] : left;
		s->node_free[n] -= got;
		left -= got;
	}
	s->free_pages = s->free_pages > pages ? s->free_pages - pages : 0;
}

uint64_t hugepool_set_aside_bytes(const struct hugepool_host *h)
{
	uint64_t sum = 0;

	if (!h)
		return 0;
	for (size_t i = 0; i < h->n_sizes && i < HUGEPOOL_MAX_SIZES; i++) {
		const struct hugepool_size *s = &h->sizes[i];
		uint64_t bytes;

		if (s->page_bytes && s->total_pages > UINT64_MAX / s->page_bytes)
			return UINT64_MAX;
		bytes = s->total_pages * s->page_bytes;
		if (bytes > UINT64_MAX - sum)
			return UINT64_MAX;
		sum += bytes;
	}
	return sum;
}

uint64_t hugepool_default_page_bytes(void)
{
	static uint64_t page_bytes;
	struct hugepool_host h;

	if (!page_bytes && hugepool_read(NULL, &h) == 0)
		page_bytes = h.default_page_bytes;
	return page_bytes;
}
