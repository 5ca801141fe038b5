/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for common/proc_sample.c: the /proc parsers on real text
 * from a lab guest (Debian 6.1 kernel, 256 MiB boot + 256 MiB virtio-mem),
 * on every truncation of it, on garbage, and on missing fields.
 *
 * The .c file is included so its static helpers are reachable and the test
 * links without it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/proc_sample.c"

/* ---- real samples, captured in a lab guest ----------------------------- */

static const char meminfo_61[] =
	"MemTotal:         406592 kB\n"
	"MemFree:          371664 kB\n"
	"MemAvailable:     373660 kB\n"
	"Buffers:               0 kB\n"
	"Cached:             4032 kB\n"
	"SwapCached:            0 kB\n"
	"Active:             2404 kB\n"
	"Inactive:           1716 kB\n"
	"Active(anon):       2404 kB\n"
	"Inactive(anon):     1716 kB\n"
	"Active(file):          0 kB\n"
	"Inactive(file):        0 kB\n"
	"Unevictable:           0 kB\n"
	"Mlocked:               0 kB\n"
	"SwapTotal:             0 kB\n"
	"SwapFree:              0 kB\n"
	"Zswap:                 0 kB\n"
	"Zswapped:              0 kB\n"
	"Dirty:                 0 kB\n"
	"Writeback:             0 kB\n"
	"AnonPages:           140 kB\n"
	"Mapped:             1932 kB\n"
	"Shmem:              4032 kB\n"
	"KReclaimable:       8764 kB\n"
	"Slab:              16376 kB\n"
	"SReclaimable:       8764 kB\n"
	"SUnreclaim:         7612 kB\n"
	"KernelStack:         752 kB\n"
	"PageTables:           80 kB\n"
	"SecPageTables:         0 kB\n"
	"NFS_Unstable:          0 kB\n"
	"Bounce:                0 kB\n"
	"WritebackTmp:          0 kB\n"
	"CommitLimit:      203296 kB\n"
	"Committed_AS:       4884 kB\n"
	"VmallocTotal:   34359738367 kB\n"
	"VmallocUsed:        7556 kB\n"
	"VmallocChunk:          0 kB\n"
	"Percpu:              260 kB\n"
	"HardwareCorrupted:     0 kB\n"
	"AnonHugePages:         0 kB\n"
	"ShmemHugePages:        0 kB\n"
	"ShmemPmdMapped:        0 kB\n"
	"FileHugePages:         0 kB\n"
	"FilePmdMapped:         0 kB\n"
	"HugePages_Total:       0\n"
	"HugePages_Free:        0\n"
	"HugePages_Rsvd:        0\n"
	"HugePages_Surp:        0\n"
	"Hugepagesize:       2048 kB\n"
	"Hugetlb:               0 kB\n"
	"DirectMap4k:       28544 kB\n"
	"DirectMap2M:      495616 kB\n";

static const char psi_61[] =
	"some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
	"full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";

static const char vmstat_61[] =
	"nr_free_pages 92887\n"
	"nr_zone_inactive_anon 437\n"
	"nr_zone_active_anon 605\n"
	"nr_zone_inactive_file 0\n"
	"nr_zone_active_file 0\n"
	"nr_zone_unevictable 0\n"
	"nr_zone_write_pending 0\n"
	"nr_mlock 0\n"
	"nr_bounce 0\n"
	"nr_zspages 0\n"
	"nr_free_cma 0\n"
	"numa_hit 7079\n"
	"numa_miss 0\n"
	"numa_foreign 0\n"
	"numa_interleave 627\n"
	"numa_local 7079\n"
	"numa_other 0\n"
	"nr_inactive_anon 436\n"
	"nr_active_anon 601\n"
	"nr_inactive_file 0\n"
	"nr_active_file 0\n"
	"nr_unevictable 0\n"
	"nr_slab_reclaimable 2199\n"
	"nr_slab_unreclaimable 1913\n"
	"nr_isolated_anon 0\n"
	"nr_isolated_file 0\n"
	"workingset_nodes 0\n"
	"workingset_refault_anon 0\n"
	"workingset_refault_file 0\n"
	"workingset_activate_anon 0\n"
	"workingset_activate_file 0\n"
	"workingset_restore_anon 0\n"
	"workingset_restore_file 0\n"
	"workingset_nodereclaim 0\n"
	"nr_anon_pages 42\n"
	"nr_mapped 609\n"
	"nr_file_pages 1008\n"
	"nr_dirty 0\n"
	"nr_writeback 0\n"
	"nr_writeback_temp 0\n"
	"nr_shmem 1008\n"
	"nr_shmem_hugepages 0\n"
	"nr_shmem_pmdmapped 0\n"
	"nr_file_hugepages 0\n"
	"nr_file_pmdmapped 0\n"
	"nr_anon_transparent_hugepages 0\n"
	"nr_vmscan_write 0\n"
	"nr_vmscan_immediate_reclaim 0\n"
	"nr_dirtied 0\n"
	"nr_written 0\n"
	"nr_throttled_written 0\n"
	"nr_kernel_misc_reclaimable 0\n"
	"nr_foll_pin_acquired 0\n"
	"nr_foll_pin_released 0\n"
	"nr_kernel_stack 768\n"
	"nr_page_table_pages 20\n"
	"nr_sec_page_table_pages 0\n"
	"nr_swapcached 0\n"
	"pgpromote_success 0\n"
	"pgpromote_candidate 0\n"
	"nr_dirty_threshold 18330\n"
	"nr_dirty_background_threshold 9153\n"
	"pgpgin 0\n"
	"pgpgout 0\n"
	"pswpin 0\n"
	"pswpout 0\n"
	"pgalloc_dma 32\n"
	"pgalloc_dma32 11760\n"
	"pgalloc_normal 0\n"
	"pgalloc_movable 239\n"
	"pgalloc_device 0\n"
	"allocstall_dma 0\n"
	"allocstall_dma32 0\n"
	"allocstall_normal 0\n"
	"allocstall_movable 0\n"
	"allocstall_device 0\n"
	"pgskip_dma 0\n"
	"pgskip_dma32 0\n"
	"pgskip_normal 0\n"
	"pgskip_movable 0\n"
	"pgskip_device 0\n"
	"pgfree 104962\n"
	"pgactivate 488\n"
	"pgdeactivate 0\n"
	"pglazyfree 0\n"
	"pgfault 1338\n"
	"pgmajfault 0\n"
	"pglazyfreed 0\n"
	"pgrefill 0\n"
	"pgreuse 173\n"
	"pgsteal_kswapd 0\n"
	"pgsteal_direct 0\n"
	"pgdemote_kswapd 0\n"
	"pgdemote_direct 0\n"
	"pgscan_kswapd 0\n"
	"pgscan_direct 0\n"
	"pgscan_direct_throttle 0\n"
	"pgscan_anon 0\n"
	"pgscan_file 0\n"
	"pgsteal_anon 0\n"
	"pgsteal_file 0\n"
	"zone_reclaim_failed 0\n"
	"pginodesteal 0\n"
	"slabs_scanned 0\n"
	"kswapd_inodesteal 0\n"
	"kswapd_low_wmark_hit_quickly 0\n"
	"kswapd_high_wmark_hit_quickly 0\n"
	"pageoutrun 0\n"
	"pgrotated 0\n"
	"drop_pagecache 0\n"
	"drop_slab 0\n"
	"oom_kill 0\n"
	"numa_pte_updates 0\n"
	"numa_huge_pte_updates 0\n"
	"numa_hint_faults 0\n"
	"numa_hint_faults_local 0\n"
	"numa_pages_migrated 0\n"
	"pgmigrate_success 0\n"
	"pgmigrate_fail 0\n"
	"thp_migration_success 0\n"
	"thp_migration_fail 0\n"
	"thp_migration_split 0\n"
	"compact_migrate_scanned 0\n"
	"compact_free_scanned 0\n"
	"compact_isolated 0\n"
	"compact_stall 0\n"
	"compact_fail 0\n"
	"compact_success 0\n"
	"compact_daemon_wake 0\n"
	"compact_daemon_migrate_scanned 0\n"
	"compact_daemon_free_scanned 0\n"
	"htlb_buddy_alloc_success 0\n"
	"htlb_buddy_alloc_fail 0\n"
	"unevictable_pgs_culled 0\n"
	"unevictable_pgs_scanned 0\n"
	"unevictable_pgs_rescued 0\n"
	"unevictable_pgs_mlocked 0\n"
	"unevictable_pgs_munlocked 0\n"
	"unevictable_pgs_cleared 0\n"
	"unevictable_pgs_stranded 0\n"
	"thp_fault_alloc 0\n"
	"thp_fault_fallback 0\n"
	"thp_fault_fallback_charge 0\n"
	"thp_collapse_alloc 0\n"
	"thp_collapse_alloc_failed 0\n"
	"thp_file_alloc 0\n"
	"thp_file_fallback 0\n"
	"thp_file_fallback_charge 0\n"
	"thp_file_mapped 0\n"
	"thp_split_page 0\n"
	"thp_split_page_failed 0\n"
	"thp_deferred_split_page 0\n"
	"thp_split_pmd 0\n"
	"thp_scan_exceed_none_pte 0\n"
	"thp_scan_exceed_swap_pte 0\n"
	"thp_scan_exceed_share_pte 0\n"
	"thp_split_pud 0\n"
	"thp_zero_page_alloc 0\n"
	"thp_zero_page_alloc_failed 0\n"
	"thp_swpout 0\n"
	"thp_swpout_fallback 0\n"
	"balloon_inflate 0\n"
	"balloon_deflate 0\n"
	"balloon_migrate 0\n"
	"swap_ra 0\n"
	"swap_ra_hit 0\n"
	"ksm_swpin_copy 0\n"
	"cow_ksm 0\n"
	"zswpin 0\n"
	"zswpout 0\n"
	"direct_map_level2_splits 2\n"
	"direct_map_level3_splits 0\n"
	"nr_unstable 0\n";

/* ---- helpers ----------------------------------------------------------- */

/* Parse from an exact-size heap copy, so an over-read is out of bounds. */
typedef int (*parse_fn)(const char *, size_t, struct proc_sample *);

static int
parse_copy(parse_fn fn, const char *text, size_t len, struct proc_sample *s)
{
	char *copy = malloc(len ? len : 1);
	int r;

	assert_non_null(copy);
	memcpy(copy, text, len);
	r = fn(copy, len, s);
	free(copy);
	return r;
}

/* Offset just past the line that starts with @key in @text. */
static size_t
end_of_line(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	assert_non_null(p);
	p = strchr(p, '\n');
	assert_non_null(p);
	return (size_t)(p - text) + 1;
}

/* A copy of @text without the line starting with @key (caller frees). */
static char *
without_line(const char *text, const char *key)
{
	const char *p = strstr(text, key), *e;
	char *out;

	assert_non_null(p);
	e = strchr(p, '\n') + 1;
	out = malloc(strlen(text) + 1);
	assert_non_null(out);
	memcpy(out, text, (size_t)(p - text));
	strcpy(out + (p - text), e);
	return out;
}

static void
poison(struct proc_sample *s)
{
	memset(s, 0x5a, sizeof(*s));
}

/* ---- meminfo ----------------------------------------------------------- */

static void
test_meminfo_real(void **state)
{
	struct proc_sample s;

	(void)state;
	poison(&s);
	assert_int_equal(parse_copy(proc_parse_meminfo, meminfo_61,
	    strlen(meminfo_61), &s), 0);
	assert_int_equal(s.mem_total_kib, 406592);
	assert_int_equal(s.mem_free_kib, 371664);
	assert_int_equal(s.mem_available_kib, 373660);
}

/* Every truncation parses, or fails cleanly with the fields zeroed. */
static void
test_meminfo_every_prefix(void **state)
{
	size_t full = strlen(meminfo_61);
	size_t need = end_of_line(meminfo_61, "MemAvailable:");

	(void)state;
	for (size_t len = 0; len <= full; len++) {
		struct proc_sample s;
		int r;

		poison(&s);
		r = parse_copy(proc_parse_meminfo, meminfo_61, len, &s);
		if (len >= need) {
			assert_int_equal(r, 0);
			assert_int_equal(s.mem_available_kib, 373660);
		} else {
			assert_int_equal(r, -EINVAL);
			assert_int_equal(s.mem_total_kib, 0);
			assert_int_equal(s.mem_available_kib, 0);
		}
	}
}

/* A number cut short by the end of the buffer is not taken. */
static void
test_meminfo_cut_number(void **state)
{
	static const char t[] = "MemTotal: 406592 kB\nMemFree: 371664 kB\n"
	    "MemAvailable: 37";
	struct proc_sample s;

	(void)state;
	assert_int_equal(parse_copy(proc_parse_meminfo, t, strlen(t), &s),
	    -EINVAL);
}

static void
test_meminfo_missing_fields(void **state)
{
	static const char *const keys[] = {
		"MemTotal:", "MemFree:", "MemAvailable:",
	};
	struct proc_sample s;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		char *t = without_line(meminfo_61, keys[i]);

		assert_int_equal(parse_copy(proc_parse_meminfo, t, strlen(t),
		    &s), -EINVAL);
		free(t);
	}
	assert_int_equal(parse_copy(proc_parse_meminfo, "", 0, &s), -EINVAL);
}

static void
test_meminfo_garbage(void **state)
{
	static const char *const bad[] = {
		"hello world\n",
		"MemTotal: 1 kB\nMemFree: x kB\nMemAvailable: 1 kB\n",
		"MemTotal: 1 kB\nMemFree: 1 kB\nMemAvailable: 1 MB\n",
		"MemTotal: 1\nMemFree: 1 kB\nMemAvailable: 1 kB\n",
		"MemTotal 1 kB\nMemFree: 1 kB\nMemAvailable: 1 kB\n",
		"MemTotal: 0 kB\nMemFree: 0 kB\nMemAvailable: 0 kB\n",
		"MemTotal: 99999999999999999999999 kB\nMemFree: 1 kB\n"
		    "MemAvailable: 1 kB\n",
		"MemTotal: -5 kB\nMemFree: 1 kB\nMemAvailable: 1 kB\n",
		"MemTotal: 5 kB trailing\nMemFree: 1 kB\nMemAvailable: 1 kB\n",
		": 5 kB\nMemTotal: 5 kB\nMemFree: 1 kB\nMemAvailable: 1 kB\n",
		"MemTotal: 5 kB\n\x01\x02\x03\nMemFree: 1 kB\n"
		    "MemAvailable: 1 kB\n",
		"\n\n\n",
	};
	struct proc_sample s;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		poison(&s);
		assert_int_equal(parse_copy(proc_parse_meminfo, bad[i],
		    strlen(bad[i]), &s), -EINVAL);
		assert_int_equal(s.mem_total_kib, 0);
	}
}

/* NUL bytes inside the buffer are garbage, not an end of string. */
static void
test_meminfo_embedded_nul(void **state)
{
	static const char t[] = "MemTotal: 5 kB\nMemFree: 1 kB\0\n"
	    "MemAvailable: 1 kB\n";
	struct proc_sample s;

	(void)state;
	assert_int_equal(parse_copy(proc_parse_meminfo, t, sizeof(t) - 1, &s),
	    -EINVAL);
}

static void
test_meminfo_clamps_available(void **state)
{
	static const char t[] = "MemTotal: 100 kB\nMemFree: 50 kB\n"
	    "MemAvailable: 200 kB\n";
	struct proc_sample s;

	(void)state;
	assert_int_equal(parse_copy(proc_parse_meminfo, t, strlen(t), &s), 0);
	assert_int_equal(s.mem_available_kib, 100);
}

/* ---- PSI --------------------------------------------------------------- */

static void
test_psi_real(void **state)
{
	static const char busy[] =
	    "some avg10=12.34 avg60=5.00 avg300=1.25 total=123456789\n"
	    "full avg10=3.50 avg60=1.00 avg300=0.20 total=2345678\n";
	struct proc_sample s;

	(void)state;
	poison(&s);
	assert_int_equal(parse_copy(proc_parse_psi, psi_61, strlen(psi_61),
	    &s), 0);
	assert_true(s.have_psi);
	assert_true(s.psi_some_avg10 == 0.0 && s.psi_full_avg10 == 0.0);

	assert_int_equal(parse_copy(proc_parse_psi, busy, strlen(busy), &s),
	    0);
	assert_true(s.psi_some_avg10 > 12.339 && s.psi_some_avg10 < 12.341);
	assert_true(s.psi_full_avg10 > 3.499 && s.psi_full_avg10 < 3.501);

	/* A guest up for days: total= passes 10^9 us and keeps counting. */
	static const char old_guest[] =
	    "some avg10=7.50 avg60=5.00 avg300=1.25 total=18446744073709551615\n"
	    "full avg10=1.50 avg60=1.00 avg300=0.20 total=1000000000\n";
	assert_int_equal(parse_copy(proc_parse_psi, old_guest,
	    strlen(old_guest), &s), 0);
	assert_true(s.have_psi);
	assert_true(s.psi_some_avg10 > 7.499 && s.psi_some_avg10 < 7.501);
}

static void
test_psi_missing_and_truncated(void **state)
{
	static const char only_some[] =
	    "some avg10=1.00 avg60=0.00 avg300=0.00 total=1\n";
	static const char only_full[] =
	    "full avg10=1.00 avg60=0.00 avg300=0.00 total=1\n";
	struct proc_sample s;
	size_t need = end_of_line(psi_61, "some ");

	(void)state;
	assert_int_equal(parse_copy(proc_parse_psi, only_some,
	    strlen(only_some), &s), 0);
	assert_true(s.psi_full_avg10 == 0.0);
	poison(&s);
	assert_int_equal(parse_copy(proc_parse_psi, only_full,
	    strlen(only_full), &s), -EINVAL);
	assert_false(s.have_psi);
	assert_true(s.psi_some_avg10 == 0.0);
	for (size_t len = 0; len <= strlen(psi_61); len++)
		assert_int_equal(parse_copy(proc_parse_psi, psi_61, len, &s),
		    len >= need ? 0 : -EINVAL);
}

static void
test_psi_garbage(void **state)
{
	static const char *const bad[] = {
		"some avg10=abc avg60=0.00 avg300=0.00 total=0\n",
		"some avg10=101.00 avg60=0.00 avg300=0.00 total=0\n",
		"some avg60=0.00 avg300=0.00 total=0\n",
		"some avg10=1.2.3 avg60=0.00 avg300=0.00 total=0\n",
		"some  avg10=1.00\n",
		"some avg10=\n",
		"some avg10=1.\n",
		"some avg10=1234567890.5\n",
		"somewhere avg10=1.00\n",
		"other avg10=1.00\nsome avg10=1.00\n",
		"some avg10=1.00 total=-1\n",
		"some avg10=1.00\nfull avg10=x\n",
		"some avg10=1.00\n\x7f\n",
	};
	struct proc_sample s;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		poison(&s);
		assert_int_equal(parse_copy(proc_parse_psi, bad[i],
		    strlen(bad[i]), &s), -EINVAL);
		assert_false(s.have_psi);
	}
}

/* ---- vmstat ------------------------------------------------------------ */

static void
test_vmstat_real(void **state)
{
	static const char busy[] = "nr_free_pages 1234\n"
	    "workingset_refault_anon 17\nworkingset_refault_file 4242\n"
	    "pgscan_kswapd 1000\npgscan_direct 234\npgscan_khugepaged 9\n";
	struct proc_sample s;

	(void)state;
	poison(&s);
	assert_int_equal(parse_copy(proc_parse_vmstat, vmstat_61,
	    strlen(vmstat_61), &s), 0);
	assert_true(s.have_vmstat);
	assert_int_equal(s.refault_anon, 0);
	assert_int_equal(s.pgscan, 0);

	assert_int_equal(parse_copy(proc_parse_vmstat, busy, strlen(busy), &s),
	    0);
	assert_int_equal(s.refault_anon, 17);
	assert_int_equal(s.refault_file, 4242);
	assert_int_equal(s.pgscan, 1234);
}

/* Kernels before 5.9 have no _anon/_file split: missing counts as 0. */
static void
test_vmstat_missing_fields(void **state)
{
	static const char old[] = "nr_free_pages 1\nworkingset_refault 5\n"
	    "pgscan_kswapd 7\n";
	static const char none[] = "nr_free_pages 1\nworkingset_refault 5\n";
	struct proc_sample s;

	(void)state;
	assert_int_equal(parse_copy(proc_parse_vmstat, old, strlen(old), &s),
	    0);
	assert_int_equal(s.refault_anon, 0);
	assert_int_equal(s.refault_file, 0);
	assert_int_equal(s.pgscan, 7);
	poison(&s);
	assert_int_equal(parse_copy(proc_parse_vmstat, none, strlen(none), &s),
	    -EINVAL);
	assert_false(s.have_vmstat);
	assert_int_equal(s.pgscan, 0);
}

static void
test_vmstat_garbage_and_truncation(void **state)
{
	static const char *const bad[] = {
		"pgscan_kswapd abc\n",
		"pgscan_kswapd 5 6\n",
		"pgscan_kswapd\n",
		" 5\n",
		"pgscan_kswapd 5\ngarbage\n",
		"pgscan_kswapd 99999999999999999999999\n",
		"",
	};
	size_t need = end_of_line(vmstat_61, "workingset_refault_anon");
	struct proc_sample s;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_copy(proc_parse_vmstat, bad[i],
		    strlen(bad[i]), &s), -EINVAL);
	for (size_t len = 0; len <= strlen(vmstat_61); len++)
		assert_int_equal(parse_copy(proc_parse_vmstat, vmstat_61, len,
		    &s), len >= need ? 0 : -EINVAL);
}

/* ---- proc_sample_read on a directory of canned files ------------------- */

static void
put(const char *dir, const char *name, const char *text, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void
rm(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

static void
test_sample_read(void **state)
{
	char dir[] = "/tmp/test_proc_sample.XXXXXX";
	char sub[sizeof(dir) + 16];
	struct proc_sample s;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/pressure", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	put(dir, "meminfo", meminfo_61, strlen(meminfo_61));
	put(dir, "pressure/memory", psi_61, strlen(psi_61));
	put(dir, "vmstat", vmstat_61, strlen(vmstat_61));

	assert_int_equal(proc_sample_read(dir, &s), 0);
	assert_int_equal(s.mem_total_kib, 406592);
	assert_true(s.have_psi && s.have_vmstat);
	assert_int_equal(s.mem_reserved_kib, 0);

	poison(&s);
	assert_int_equal(proc_meminfo_read(dir, &s), 0);
	assert_int_equal(s.mem_available_kib, 373660);
	assert_false(s.have_psi);
	assert_int_equal(s.mem_reserved_kib, 0);

	/* Optional files missing or bad: still a sample. */
	rm(dir, "pressure/memory");
	put(dir, "vmstat", "garbage\n", 8);
	assert_int_equal(proc_sample_read(dir, &s), 0);
	assert_false(s.have_psi);
	assert_false(s.have_vmstat);
	assert_int_equal(s.mem_reserved_kib, 0);
	assert_int_equal(s.mem_available_kib, 373660);

	/* meminfo bad or missing: no sample, all zero. */
	put(dir, "meminfo", "MemTotal: x\n", 12);
	poison(&s);
	assert_int_equal(proc_sample_read(dir, &s), -EINVAL);
	assert_int_equal(s.mem_total_kib, 0);
	assert_false(s.have_vmstat);
	rm(dir, "meminfo");
	assert_int_equal(proc_sample_read(dir, &s), -ENOENT);

	rm(dir, "vmstat");
	rmdir(sub);
	rmdir(dir);
}

/* ---- random damage ----------------------------------------------------- */

/* Flip, insert and cut bytes of real text: never a crash, only 0/-EINVAL. */
static void
test_random_damage(void **state)
{
	static const struct {
		const char *text;
		parse_fn fn;
	} cases[] = {
		{ meminfo_61, proc_parse_meminfo },
		{ psi_61, proc_parse_psi },
		{ vmstat_61, proc_parse_vmstat },
	};
	static const char alphabet[] = "0123456789 :\n\t.=-kBx\0\377";

	(void)state;
	srand(4242);
	for (int iter = 0; iter < 4000; iter++) {
		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			size_t len = strlen(cases[c].text);
			char *t = malloc(len);
			struct proc_sample s;
			int r;

			memset(&s, 0, sizeof(s));
			assert_non_null(t);
			memcpy(t, cases[c].text, len);
			for (int k = 0; k < 1 + rand() % 4; k++) {
				size_t at = (size_t)rand() % len;
				size_t ch = (size_t)rand() %
				    (sizeof(alphabet) - 1);

				t[at] = alphabet[ch];
			}
			r = cases[c].fn(t, (size_t)rand() % (len + 1), &s);
			assert_true(r == 0 || r == -EINVAL);
			free(t);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_meminfo_real),
		cmocka_unit_test(test_meminfo_every_prefix),
		cmocka_unit_test(test_meminfo_cut_number),
		cmocka_unit_test(test_meminfo_missing_fields),
		cmocka_unit_test(test_meminfo_garbage),
		cmocka_unit_test(test_meminfo_embedded_nul),
		cmocka_unit_test(test_meminfo_clamps_available),
		cmocka_unit_test(test_psi_real),
		cmocka_unit_test(test_psi_missing_and_truncated),
		cmocka_unit_test(test_psi_garbage),
		cmocka_unit_test(test_vmstat_real),
		cmocka_unit_test(test_vmstat_missing_fields),
		cmocka_unit_test(test_vmstat_garbage_and_truncation),
		cmocka_unit_test(test_sample_read),
		cmocka_unit_test(test_random_damage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
