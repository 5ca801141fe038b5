/* SPDX-License-Identifier: MIT */
/*
 * The host's hugetlb pools, as rammd plans plugs in whole host huge pages:
 * per page size, the global counts and the free pages on each NUMA node.
 *
 * hugepool_read() takes one snapshot from /sys and /proc/meminfo; the rest
 * is pure arithmetic on that snapshot, so a tick can hand the same pages
 * to one guest only. The kernel's counts move under us (other users of
 * hugetlbfs), so the snapshot is a plan, not a promise: a plug can still
 * fail and the caller must handle that.
 */
#ifndef RAMM_HUGEPOOL_H
#define RAMM_HUGEPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "pages.h"

#define HUGEPOOL_MAX_SIZES 4      /* page sizes looked at, smallest first */
#define HUGEPOOL_MAX_NODES 64     /* nodes 0..63; higher nodes are ignored */

/* Page sizes outside this range are not hugetlb sizes of any Linux arch. */
#define HUGEPOOL_MIN_PAGE_BYTES (64ULL << 10)
#define HUGEPOOL_MAX_PAGE_BYTES PAGES_MAX_BYTES

/* One hugetlb page size. Counts are pages of @page_bytes. */
struct hugepool_size {
	uint64_t page_bytes;                      /* e.g. 2 MiB, 1 GiB */
	uint64_t total_pages;                     /* global nr_hugepages */
	uint64_t resv_pages;                      /* global resv_hugepages: promised to mappings, still counted free */
	uint64_t free_pages;                      /* global free_hugepages */
	uint64_t node_free[HUGEPOOL_MAX_NODES];   /* per node free_hugepages */
};

/* One snapshot of the host's pools. */
struct hugepool_host {
	uint64_t default_page_bytes;  /* "Hugepagesize:" of /proc/meminfo; 0 if absent */
	uint64_t nodes;               /* bit n set: node n has a hugepages dir */
	size_t n_sizes;               /* entries used in @sizes; 0: no hugetlb */
	struct hugepool_size sizes[HUGEPOOL_MAX_SIZES]; /* ascending page_bytes */
};

/*
 * hugepool_read - snapshot the pools of the host under @root ("" or NULL:
 * this host; otherwise a directory laid out like it, for tests) into the
 * caller's @out. Reads ROOT/sys/kernel/mm/hugepages/hugepages-<N>kB/
 * {nr,free,resv}_hugepages, ROOT/sys/devices/system/node/node<N>/hugepages/
 * hugepages-<N>kB/free_hugepages and the Hugepagesize line of
 * ROOT/proc/meminfo.
 *
 * /sys is read as untrusted text: each number file must be at most 64
 * bytes of decimal digits and an optional newline, with no overflow.
 * Entries whose names are not exactly the kernel's (a page size that is
 * not a power of two in [64 KiB, 16 GiB], a node number with a leading
 * zero) are skipped; past HUGEPOOL_MAX_SIZES the smallest sizes are kept,
 * nodes >= HUGEPOOL_MAX_NODES are left out of @nodes and @node_free. A
 * node with a hugepages directory but no file for a size has 0 free of
 * it. With no node directories at all (a non-NUMA kernel) node 0 holds
 * the global free count and @nodes is 1; with no hugepages directory
 * (no hugetlb) n_sizes and @nodes are 0 and that is not an error.
 *
 * Returns 0, or -errno: -EINVAL when a file's content is not what the
 * kernel writes, -ENOENT if /proc/meminfo or a size's global file is
 * missing, -ENAMETOOLONG for a @root too long, -ENOMEM, or what open or
 * read said. The file at fault is named nowhere: the caller logs. On
 * failure @out is untouched. Cost: two directory scans and about
 * (3 + nodes) small reads per size.
 */
int hugepool_read(const char *root, struct hugepool_host *out);

/*
 * hugepool_find - the entry of @h for @page_bytes, pointing into @h (valid
 * while @h is; the caller may take pages from it with hugepool_take()), or
 * NULL if the host has no such pool or @h is NULL.
 */
struct hugepool_size *hugepool_find(struct hugepool_host *h,
				    uint64_t page_bytes);

/*
 * hugepool_available - pages a mapping bound to the nodes of @node_mask
 * (0: any node) can get now: their free pages less all reservations.
 * Reservations are global and the kernel counts them as free without
 * saying on which node they will land, so all are taken off each mask:
 * this undercounts on a multi-node host rather than promise pages that a
 * fault already owns. Never negative; 0 for a NULL @s. Pure, O(nodes).
 */
uint64_t hugepool_available(const struct hugepool_size *s, uint64_t node_mask);

/*
 * hugepool_take - take @pages just granted out of the snapshot @s, so a
 * second pool sharing nodes in the same tick does not count them again:
 * from the free pages of the nodes in @node_mask in node order (0: any
 * node) and from the global free count. Counts stop at 0; a NULL @s is
 * a no-op. Pure, O(nodes).
 */
void hugepool_take(struct hugepool_size *s, uint64_t node_mask, uint64_t pages);

/*
 * hugepool_set_aside_bytes - host memory held in hugetlb pools (persistent
 * pages of every size), which guests backed by ordinary memory cannot use:
 * supply for them must leave it out. Saturates at UINT64_MAX; 0 for a
 * NULL @h. Pure.
 */
uint64_t hugepool_set_aside_bytes(const struct hugepool_host *h);

/*
 * hugepool_default_page_bytes - this host's default huge page size (what
 * hugetlb=on or an empty libvirt <hugepages/> gets), read on the first call
 * and kept: it is fixed at boot. 0 while it cannot be read.
 */
uint64_t hugepool_default_page_bytes(void);

#endif /* RAMM_HUGEPOOL_H */
