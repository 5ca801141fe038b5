/* SPDX-License-Identifier: MIT */
/*
 * bench_hostread - what reading the host's hugetlb pools costs rammd each
 * tick (hugepool_read(): /sys/kernel/mm/hugepages and every NUMA node's
 * per-size counts), against the read rammd already did every tick before
 * it planned in huge pages (proc_meminfo_read() of /proc/meminfo), timed
 * alternately in the same run so that machine noise hits both alike.
 *
 * stdout: one line,
 *   hostread sizes=N nodes=N hugepool_median_us=… meminfo_median_us=… ratio=…
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hugepool.h"
#include "proc_sample.h"

#define ROUNDS 2000

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static double median_us(int64_t *ns, size_t n)
{
	qsort(ns, n, sizeof(*ns), by_value);
	return ns[n / 2] / 1000.0;
}

int main(void)
{
	static int64_t pool_ns[ROUNDS], meminfo_ns[ROUNDS];
	struct hugepool_host hp;
	struct proc_sample ps;
	double pool, meminfo;
	int nodes = 0;

	for (int i = 0; i < ROUNDS; i++) {
		int64_t t0 = now_ns(), t1, t2;

		if (hugepool_read(NULL, &hp)) {
			fprintf(stderr, "bench_hostread: hugepool_read failed\n");
			return 1;
		}
		t1 = now_ns();
		if (proc_meminfo_read(NULL, &ps)) {
			fprintf(stderr, "bench_hostread: proc_meminfo_read failed\n");
			return 1;
		}
		t2 = now_ns();
		pool_ns[i] = t1 - t0;
		meminfo_ns[i] = t2 - t1;
	}
	for (uint64_t m = hp.nodes; m; m &= m - 1)
		nodes++;
	pool = median_us(pool_ns, ROUNDS);
	meminfo = median_us(meminfo_ns, ROUNDS);
	printf("hostread sizes=%zu nodes=%d hugepool_median_us=%.1f meminfo_median_us=%.1f ratio=%.2f\n",
	       hp.n_sizes, nodes, pool, meminfo, pool / meminfo);
	return 0;
}
