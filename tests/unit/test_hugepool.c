/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the hugetlb pool reader (broker/daemon/hugepool.c): fake /sys
 * trees under a temp dir (NUMA, non-NUMA, no hugetlb, hostile files and
 * names), the snapshot arithmetic, and one read of this host.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hugepool.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)
#define SIZES "sys/kernel/mm/hugepages"
#define NODES "sys/devices/system/node"

static const char meminfo[] =
	"MemTotal:        8000000 kB\n"
	"HugePages_Total:     256\n"
	"Hugepagesize:       2048 kB\n"
	"Hugetlb:         2621440 kB\n";

/* ---- fake trees ---------------------------------------------------------- */

/* Creates @rel under @root and every directory above it. */
static void mkdirs(const char *root, const char *rel)
{
	char path[1024];
	size_t base = strlen(root) + 1;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + base; ; p++) {
		if (*p == '/' || !*p) {
			char c = *p;

			*p = 0;
			assert_true(mkdir(path, 0700) == 0 || errno == EEXIST);
			*p = c;
			if (!c)
				break;
		}
	}
}

/* Writes @len bytes of @text to @root/@rel, creating its directories. */
static void put_n(const char *root, const char *rel, const char *text,
		  size_t len)
{
	char path[1024], dir[1024];
	char *slash;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s", rel);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = 0;
		mkdirs(root, dir);
	}
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void put(const char *root, const char *rel, const char *text)
{
	put_n(root, rel, text, strlen(text));
}

/* One global pool: @kib page size, its three counts. */
static void put_size(const char *root, unsigned long kib, const char *nr,
		     const char *free, const char *resv)
{
	char rel[256];

	snprintf(rel, sizeof(rel), SIZES "/hugepages-%lukB/nr_hugepages", kib);
	put(root, rel, nr);
	snprintf(rel, sizeof(rel), SIZES "/hugepages-%lukB/free_hugepages", kib);
	put(root, rel, free);
	snprintf(rel, sizeof(rel), SIZES "/hugepages-%lukB/resv_hugepages", kib);
	put(root, rel, resv);
}

static void put_node(const char *root, unsigned int node, unsigned long kib,
		     const char *free)
{
	char rel[256];

	snprintf(rel, sizeof(rel), NODES "/node%u/hugepages/hugepages-%lukB/free_hugepages",
		 node, kib);
	put(root, rel, free);
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup_tree(void **state)
{
	char *dir = strdup("/tmp/test_hugepool.XXXXXX");

	if (!dir || !mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int teardown_tree(void **state)
{
	char *dir = *state;
	int err = nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);

	free(dir);
	return err;
}

/*
 * The layout this machine's kernel writes for two sizes on two nodes,
 * with some 2 MiB pages reserved.
 */
static void put_numa_host(const char *root)
{
	put(root, "proc/meminfo", meminfo);
	put_size(root, 2048, "256\n", "200\n", "10\n");
	put_size(root, 1048576, "2\n", "2\n", "0\n");
	put_node(root, 0, 2048, "120\n");
	put_node(root, 1, 2048, "80\n");
	put_node(root, 0, 1048576, "0\n");
	put_node(root, 1, 1048576, "2\n");
	/* Files the reader must not need. */
	put(root, SIZES "/hugepages-2048kB/surplus_hugepages", "0\n");
	put(root, NODES "/online", "0-1\n");
	put(root, NODES "/possible", "0-1\n");
}

static void poison(struct hugepool_host *h)
{
	memset(h, 0xa5, sizeof(*h));
}

static void assert_poisoned(const struct hugepool_host *h)
{
	struct hugepool_host p;

	poison(&p);
	assert_memory_equal(h, &p, sizeof(p));
}

/* ---- reading ------------------------------------------------------------- */

static void test_numa_two_sizes(void **state)
{
	const char *root = *state;
	const struct hugepool_size *s;
	struct hugepool_host h;

	put_numa_host(root);
	poison(&h);
	assert_int_equal(hugepool_read(root, &h), 0);
	assert_int_equal(h.default_page_bytes, 2 * MIB);
	assert_int_equal(h.nodes, 0x3);
	assert_int_equal(h.n_sizes, 2);

	s = &h.sizes[0];
	assert_int_equal(s->page_bytes, 2 * MIB);
	assert_int_equal(s->total_pages, 256);
	assert_int_equal(s->free_pages, 200);
	assert_int_equal(s->resv_pages, 10);
	assert_int_equal(s->node_free[0], 120);
	assert_int_equal(s->node_free[1], 80);
	for (unsigned int n = 2; n < HUGEPOOL_MAX_NODES; n++)
		assert_int_equal(s->node_free[n], 0);

	s = &h.sizes[1];
	assert_int_equal(s->page_bytes, GIB);
	assert_int_equal(s->total_pages, 2);
	assert_int_equal(s->free_pages, 2);
	assert_int_equal(s->resv_pages, 0);
	assert_int_equal(s->node_free[0], 0);
	assert_int_equal(s->node_free[1], 2);

	assert_ptr_equal(hugepool_find(&h, 2 * MIB), &h.sizes[0]);
	assert_ptr_equal(hugepool_find(&h, GIB), &h.sizes[1]);
	assert_null(hugepool_find(&h, 4 * MIB));
	assert_null(hugepool_find(NULL, 2 * MIB));
}

/* No node directories (a non-NUMA kernel): node 0 is the whole host. */
static void test_non_numa(void **state)
{
	const char *root = *state;
	struct hugepool_host h;

	put(root, "proc/meminfo", meminfo);
	put_size(root, 2048, "64\n", "60\n", "4\n");
	assert_int_equal(hugepool_read(root, &h), 0);
	assert_int_equal(h.nodes, 1);
	assert_int_equal(h.n_sizes, 1);
	assert_int_equal(h.sizes[0].node_free[0], 60);
	assert_int_equal(h.sizes[0].node_free[1], 0);
	assert_int_equal(hugepool_available(&h.sizes[0], 1), 56);
	assert_int_equal(hugepool_available(&h.sizes[0], 0), 56);

	/* A node directory with no node in it is still no NUMA. */
	put(root, NODES "/online", "0\n");
	assert_int_equal(hugepool_read(root, &h), 0);
	assert_int_equal(h.nodes, 1);
	assert_int_equal(h.sizes[0].node_free[0], 60);
}

/* No hugetlb at all: nothing to plan in, and not an error. */
static void test_no_hugetlb(void **state)
{
	const char *root = *state;
	struct hugepool_host h;

	put(root, "proc/meminfo", "MemTotal:        8000000 kB\n");
	put(root, NODES "/node0/meminfo", "x\n");
	poison(&h);
	assert_int_equal(hugepool_read(root, &h), 0);
	assert_int_equal(h.n_sizes, 0);
	assert_int_equal(h.nodes, 0);
	assert_int_equal(h.default_page_bytes, 0);
	assert_null(hugepool_find(&h, 2 * MIB));
	assert_int_equal(hugepool_set_aside_bytes(&h), 0);

	/* An empty hugepages directory is the same. */
	mkdirs(root, SIZES);
	assert_int_equal(hugepool_read(root, &h), 0);
	assert_int_equal(h.n_sizes, 0);
}

/* Files the kernel would never write: -EINVAL, and @out untouched. */
static void test_malformed_numbers(void **state)
{
	static const char *const bad[] = {
		"",
		"\n",
		"12a\n",
		"abc\n",
		"-1\n",
		"+1\n",
		" 12\n",
		"12 \n",
		"12\n\n",
		"1\n2\n",
		"0x10\n",
		"18446744073709551616\n",          /* UINT64_MAX + 1 */
		"99999999999999999999999999\n",
		/* 65 bytes: past the bound even though every one is a digit. */
		"00000000000000000000000000000000000000000000000000000000000000012",
	};
	const char *root = *state;
	struct hugepool_host h;

	put(root, "proc/meminfo", meminfo);
	put_size(root, 2048, "8\n", "8\n", "0\n");
	put_node(root, 0, 2048, "8\n");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *files[] = {
			SIZES "/hugepages-2048kB/nr_hugepages",
			SIZES "/hugepages-2048kB/free_hugepages",
			SIZES "/hugepages-2048kB/resv_hugepages",
			NODES "/node0/hugepages/hugepages-2048kB/free_hugepages",
		};

		for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
			put(root, files[f], bad[i]);
			poison(&h);
			assert_int_equal(hugepool_read(root, &h), -EINVAL);
			assert_poisoned(&h);
			put(root, files[f], "8\n");
		}
	}
	/* The edges that are fine: no newline, UINT64_MAX, zero. */
	put(root, SIZES "/hugepages-2048kB/nr_hugepages", "18446744073709551615");
	put(root, SIZES "/hugepages-2048kB/resv_hugepages", "0");
	assert_int_equal(hugepool_read(root, &h), 0);
	assert_int_equal(h.sizes[0].total_pages, UINT64_MAX);
	assert_int_equal(hugepool_set_aside_bytes(&h), UINT64_MAX);

	/* A NUL in the number. */
	put_n(root, SIZES "/hugepages-2048kB/free_hugepages", "1\0" "2\n", 4);
	poison(&h);
	assert_int_equal(hugepool_read(root, &h), -EINVAL);
	assert_poisoned(&h);
}

static void test_malformed_meminfo(void **state)
{
	static const char *const bad[] = {
		"Hugepagesize:\n",
		"Hugepagesize:       x kB\n",
		"Hugepagesize:       2048\n",
		"Hugepagesize:       2048 MB\n",
		"Hugepagesize:       2048 kBx\n",
		"Hugepagesize:       3000 kB\n",
		"Hugepagesize:       32 kB\n",
		"Hugepagesize:       33554432 kB\n",
		"Hugepagesize:       99999999999999999999999 kB\n",
	};
	const char *root = *state;
	struct hugepool_host h;
	char big[20000];

	put_size(root, 2048, "8\n", "8\n", "0\n");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(root, "proc/meminfo", bad[i]);
		poison(&h);
		assert_int_equal(hugepool_read(root, &h), -EINVAL);
		assert_poisoned(&h);
	}
	/* Far longer than any meminfo. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	put(root, "proc/meminfo", big);
	assert_int_equal(hugepool_read(root, &h), -EINVAL);

	/* The last line may lack its newline; a look-alike key is no match. */
	put(root, "proc/meminfo", "XHugepagesize: 4 kB\nHugepagesize: 1048576 kB");
	assert_int_equal(hugepool_read(root, &h), 0);
	assert_int_equal(h.default_page_bytes, GIB);
}

/* Names the kernel does not make are skipped, and their files never read. */
static void test_bad_dir_names(void **state)
{
	static const char *const names[] = {
		"hugepages-abckB", "hugepages-3000kB", "hugepages-2048KB",
		"hugepages-2048kBx", "hugepages-02048kB", "hugepages-32kB",
		"hugepages-33554432kB", "hugepages-kB", "hugepages-2048",
		"hugepages--2048kB", "Hugepages-4096kB", "hugepages-0kB",
		"hugepages-99999999999999999999999kB",
	};
	static const char *const nodes[] = {
		"node", "nodeX", "node01", "node1a", "Node2", "node-3",
	};
	const char *root = *state;
	struct hugepool_host h;
	char rel[256];

	put(root, "proc/meminfo", meminfo);
	put_size(root, 2048, "8\n", "6\n", "0\n");
	put_node(root, 0, 2048, "6\n");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(rel, sizeof(rel), SIZES "/%s/nr_hugepages", names[i]);
		put(root, rel, "garbage");
		snprintf(rel, sizeof(rel), NODES "/node0/hugepages/%s/free_hugepages",
			 names[i]);
		put(root, rel, "garbage");
	}
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		snprintf(rel, sizeof(rel), NODES "/%s/hugepages/hugepages-2048kB/free_hugepages",
			 nodes[i]);
		put(root, rel, "garbage");
	}
	put(root, SIZES "/README", "garbage");

	assert_int_equal(hugepool_read(root, &h), 0);
	assert_int_equal(h.n_sizes, 1);
	assert_int_equal(h.sizes[0].page_bytes, 2 * MIB);
	assert_int_equal(h.nodes, 1);
	assert_int_equal(h.sizes[0].node_free[0], 6);
}

/* The two ends of the accepted range. */
static void test_size_bounds(void **state)
{
	const char *root = *state;
	struct hugepool_host h;

	put(root, "proc/meminfo", meminfo);
	put_size(root, 16777216, "1\n", "1\n", "0\n");
	put_size(root, 64, "3\n", "2\n", "1\n");
	assert_int_equal(hugepool_read(root, &h), 0);
	assert_int_equal(h.n_sizes, 2);
	assert_int_equal(h.sizes[0].page_bytes, 64 << 10);
	assert_int_equal(h.sizes[1].page_bytes, 16 * GIB);
	assert_int_equal(hugepool_set_aside_bytes(&h), 3 * (64 << 10) + 16 * GIB);
}

/* Past HUGEPOOL_MAX_SIZES the smallest are kept, sorted. */
static void test_too_many_sizes(void **state)
{
	static const unsigned long kib[] = {
		1048576, 64, 16777216, 2048, 524288, 32768,
	};
	static const uint64_t want[] = {
		64 << 10, 2 * MIB, 32 * MIB, 512 * MIB,
	};
	const char *root = *state;
	struct hugepool_host h;
	char nr[32];

	put(root, "proc/meminfo", meminfo);
	for (size_t i = 0; i < sizeof(kib) / sizeof(kib[0]); i++) {
		snprintf(nr, sizeof(nr), "%zu\n", i + 1);
		put_size(root, kib[i], nr, "0\n", "0\n");
	}
	/* A dropped size's files are not read. */
	put(root, SIZES "/hugepages-16777216kB/resv_hugepages", "garbage");
	assert_int_equal(hugepool_read(root, &h), 0);
	assert_int_equal(h.n_sizes, HUGEPOOL_MAX_SIZES);
	for (size_t i = 0; i < HUGEPOOL_MAX_SIZES; i++)
		assert_int_equal(h.sizes[i].page_bytes, want[i]);
	assert_int_equal(h.sizes[0].total_pages, 2);
	assert_int_equal(h.sizes[1].total_pages, 4);
	assert_int_equal(h.sizes[2].total_pages, 6);
	assert_int_equal(h.sizes[3].total_pages, 5);
	assert_null(hugepool_find(&h, GIB));
}

/*
 * Nodes 64 and up are left out; a node without a hugepages directory is
 * not in the mask; one without a size's file has none free of it.
 */
static void test_nodes(void **state)
{
	const char *root = *state;
	struct hugepool_host h;

	put(root, "proc/meminfo", meminfo);
	put_size(root, 2048, "40\n", "40\n", "0\n");
	put_size(root, 1048576, "1\n", "1\n", "0\n");
	put_node(root, 0, 2048, "10\n");
	put_node(root, 3, 2048, "20\n");
	put_node(root, 63, 2048, "5\n");
	put_node(root, 63, 1048576, "1\n");
	put_node(root, 64, 2048, "garbage");
	put_node(root, 100, 2048, "garbage");
	put(root, NODES "/node5/cpumap", "1\n");        /* memoryless: no hugepages */
	mkdirs(root, NODES "/node7/hugepages");          /* no files yet */
	put(root, NODES "/node4294967296/hugepages/x", "");

	assert_int_equal(hugepool_read(root, &h), 0);
	assert_int_equal(h.nodes, 1ULL | 1ULL << 3 | 1ULL << 7 | 1ULL << 63);
	assert_int_equal(h.sizes[0].node_free[0], 10);
	assert_int_equal(h.sizes[0].node_free[3], 20);
	assert_int_equal(h.sizes[0].node_free[7], 0);
	assert_int_equal(h.sizes[0].node_free[63], 5);
	assert_int_equal(h.sizes[1].node_free[0], 0);
	assert_int_equal(h.sizes[1].node_free[63], 1);
	assert_int_equal(hugepool_available(&h.sizes[0], 1ULL << 63 | 1), 15);
	assert_int_equal(hugepool_available(&h.sizes[0], 1ULL << 5), 0);

	/* Only nodes we ignore: NUMA still, so node 0 is not the host. */
	teardown_tree(state);
	assert_int_equal(setup_tree(state), 0);
	root = *state;
	put(root, "proc/meminfo", meminfo);
	put_size(root, 2048, "40\n", "40\n", "0\n");
	put_node(root, 64, 2048, "40\n");
	assert_int_equal(hugepool_read(root, &h), 0);
	assert_int_equal(h.nodes, 0);
	assert_int_equal(h.sizes[0].node_free[0], 0);
	assert_int_equal(hugepool_available(&h.sizes[0], 0), 40);
}

/* Missing pieces the kernel always has: -errno, @out untouched. */
static void test_missing_files(void **state)
{
	const char *root = *state;
	struct hugepool_host h;
	char path[1024], longroot[5000];

	put_size(root, 2048, "8\n", "8\n", "0\n");
	poison(&h);
	assert_int_equal(hugepool_read(root, &h), -ENOENT); /* no meminfo */
	assert_poisoned(&h);

	put(root, "proc/meminfo", meminfo);
	snprintf(path, sizeof(path), "%s/" SIZES "/hugepages-2048kB/resv_hugepages", root);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(hugepool_read(root, &h), -ENOENT);
	assert_poisoned(&h);

	/* A directory where a number should be. */
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(hugepool_read(root, &h), -EINVAL);
	assert_poisoned(&h);

	assert_int_equal(hugepool_read("/nonexistent-ramm", &h), -ENOENT);
	memset(longroot, 'a', sizeof(longroot) - 1);
	longroot[0] = '/';
	longroot[sizeof(longroot) - 1] = 0;
	assert_int_equal(hugepool_read(longroot, &h), -ENAMETOOLONG);
	assert_poisoned(&h);
}

/* ---- arithmetic ---------------------------------------------------------- */

static void test_available(void **state)
{
	struct hugepool_size s = {
		.page_bytes = 2 * MIB, .total_pages = 300, .free_pages = 250,
		.resv_pages = 30, .node_free = { 100, 150 },
	};

	(void)state;
	assert_int_equal(hugepool_available(&s, 0), 220);
	assert_int_equal(hugepool_available(&s, 0x1), 70);
	assert_int_equal(hugepool_available(&s, 0x2), 120);
	assert_int_equal(hugepool_available(&s, 0x3), 220);
	assert_int_equal(hugepool_available(&s, 0x4), 0);
	assert_int_equal(hugepool_available(&s, 1ULL << 63), 0);
	/* Reservations past what a mask holds, or past all free: 0. */
	s.resv_pages = 120;
	assert_int_equal(hugepool_available(&s, 0x1), 0);
	assert_int_equal(hugepool_available(&s, 0x2), 30);
	s.resv_pages = 400;
	assert_int_equal(hugepool_available(&s, 0), 0);
	assert_int_equal(hugepool_available(&s, 0x3), 0);
	assert_int_equal(hugepool_available(NULL, 0), 0);
	/* Node counts that sum past 64 bits do not wrap. */
	s.resv_pages = 0;
	s.node_free[0] = UINT64_MAX;
	s.node_free[1] = 2;
	assert_int_equal(hugepool_available(&s, 0x3), UINT64_MAX);
}

static void test_take(void **state)
{
	struct hugepool_size s = {
		.page_bytes = 2 * MIB, .total_pages = 20, .free_pages = 16,
		.resv_pages = 2, .node_free = { 3, 5, 8 },
	};

	(void)state;
	/* Across nodes in node order. */
	hugepool_take(&s, 0x3, 6);
	assert_int_equal(s.node_free[0], 0);
	assert_int_equal(s.node_free[1], 2);
	assert_int_equal(s.node_free[2], 8);
	assert_int_equal(s.free_pages, 10);
	assert_int_equal(hugepool_available(&s, 0x3), 0);
	assert_int_equal(hugepool_available(&s, 0x4), 6);
	assert_int_equal(hugepool_available(&s, 0), 8);

	/* Any node. */
	hugepool_take(&s, 0, 4);
	assert_int_equal(s.node_free[1], 0);
	assert_int_equal(s.node_free[2], 6);
	assert_int_equal(s.free_pages, 6);

	/* More than there is: everything stops at 0. */
	hugepool_take(&s, 0x4, 100);
	assert_int_equal(s.node_free[2], 0);
	assert_int_equal(s.free_pages, 0);
	assert_int_equal(s.resv_pages, 2);
	assert_int_equal(s.total_pages, 20);
	hugepool_take(&s, 0, 1);
	assert_int_equal(s.free_pages, 0);
	hugepool_take(NULL, 0, 1);
}

static void test_set_aside(void **state)
{
	const char *root = *state;
	struct hugepool_host h = { .n_sizes = 2 };

	h.sizes[0].page_bytes = 2 * MIB;
	h.sizes[0].total_pages = 256;
	h.sizes[1].page_bytes = GIB;
	h.sizes[1].total_pages = 2;
	assert_int_equal(hugepool_set_aside_bytes(&h), 512 * MIB + 2 * GIB);
	assert_int_equal(hugepool_set_aside_bytes(NULL), 0);
	/* Past 64 bits, in one product or in the sum: saturated. */
	h.sizes[1].total_pages = UINT64_MAX / GIB + 1;
	assert_int_equal(hugepool_set_aside_bytes(&h), UINT64_MAX);
	h.sizes[1].total_pages = UINT64_MAX / GIB;
	h.sizes[0].total_pages = 1024;
	assert_int_equal(hugepool_set_aside_bytes(&h), UINT64_MAX);

	put_numa_host(root);
	assert_int_equal(hugepool_read(root, &h), 0);
	assert_int_equal(hugepool_set_aside_bytes(&h), 256 * 2 * MIB + 2 * GIB);
}

/* ---- this host ----------------------------------------------------------- */

static void test_real_host(void **state)
{
	struct hugepool_host h, h2;

	(void)state;
	assert_int_equal(hugepool_read("", &h), 0);
	assert_true(h.n_sizes <= HUGEPOOL_MAX_SIZES);
	for (size_t i = 0; i < h.n_sizes; i++) {
		uint64_t b = h.sizes[i].page_bytes;

		assert_true(b >= HUGEPOOL_MIN_PAGE_BYTES && b <= HUGEPOOL_MAX_PAGE_BYTES);
		assert_int_equal(b & (b - 1), 0);
		if (i)
			assert_true(b > h.sizes[i - 1].page_bytes);
	}
	if (h.default_page_bytes)
		assert_int_equal(h.default_page_bytes & (h.default_page_bytes - 1), 0);
	assert_int_equal(hugepool_read(NULL, &h2), 0);
	assert_int_equal(h2.n_sizes, h.n_sizes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_numa_two_sizes, setup_tree, teardown_tree),
		cmocka_unit_test_setup_teardown(test_non_numa, setup_tree, teardown_tree),
		cmocka_unit_test_setup_teardown(test_no_hugetlb, setup_tree, teardown_tree),
		cmocka_unit_test_setup_teardown(test_malformed_numbers, setup_tree, teardown_tree),
		cmocka_unit_test_setup_teardown(test_malformed_meminfo, setup_tree, teardown_tree),
		cmocka_unit_test_setup_teardown(test_bad_dir_names, setup_tree, teardown_tree),
		cmocka_unit_test_setup_teardown(test_size_bounds, setup_tree, teardown_tree),
		cmocka_unit_test_setup_teardown(test_too_many_sizes, setup_tree, teardown_tree),
		cmocka_unit_test_setup_teardown(test_nodes, setup_tree, teardown_tree),
		cmocka_unit_test_setup_teardown(test_missing_files, setup_tree, teardown_tree),
		cmocka_unit_test(test_available),
		cmocka_unit_test(test_take),
		cmocka_unit_test_setup_teardown(test_set_aside, setup_tree, teardown_tree),
		cmocka_unit_test(test_real_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
