/* SPDX-License-Identifier: MIT */
/*
 * Sizing a guest in whole host pages. A guest backed by hugetlbfs frees
 * host memory only in whole huge pages, and virtio-mem moves memory only in
 * whole blocks, so the broker plans each guest in units of the larger of
 * the two, and counts memory a guest offers back only where it frees whole
 * units. Pure: no I/O, no logging.
 */
#ifndef RAMM_PAGES_H
#define RAMM_PAGES_H

#include <stdint.h>

#include "backend.h"
#include "ramm/proto.h"

/* The page sizes any Linux architecture maps: 4 KiB base pages up to
 * 16 GiB huge pages. */
#define PAGES_MIN_BYTES (4ULL << 10)
#define PAGES_MAX_BYTES (16ULL << 30)

/*
 * pages_valid_size - nonzero if @bytes is a page size some host could back
 * memory with: a power of two from PAGES_MIN_BYTES to PAGES_MAX_BYTES. The
 * one check for every page size read from a peer (QMP, domain XML, /sys).
 * Pure; never fails.
 */
int pages_valid_size(uint64_t bytes);

/*
 * pages_guest_unit - the market unit of a guest whose device is @dev:
 * max(@base_unit, block size, backing page size).
 * @base_unit: the configured unit (unit_mib), a power of two.
 * On success returns 0 and sets *@unit. Returns -EINVAL, with *@why a
 * static sentence for the log, if the backing page size is unknown (0),
 * the block is smaller than the backing page (unplugging one block would
 * free no host page: QEMU refuses such a device, so a QMP or XML reply
 * that claims one is wrong and the guest is not driven), or a size is not
 * a power of two. @unit and @why are the caller's; *@unit is untouched on
 * failure.
 */
int pages_guest_unit(uint64_t base_unit, const struct vmem_device *dev,
		     uint64_t *unit, const char **why);

/*
 * pages_offer_bytes - memory a guest's free-extent histogram @hist shows
 * free in extents aligned to and at least @unit_bytes long: what the guest
 * can give back without migrating anything, each unit of it a whole host
 * page or more. hist[i] counts free naturally aligned extents of
 * 2 MiB << i (proto.h). A unit below 2 MiB counts the 2 MiB extents (each
 * holds whole units); a unit above the histogram's largest extent (1 GiB)
 * gets 0: nothing is known to be free in extents that large. Saturates at
 * UINT64_MAX instead of wrapping. Never fails.
 */
uint64_t pages_offer_bytes(const uint64_t hist[RAMM_HIST_SIZES],
			   uint64_t unit_bytes);

#endif /* RAMM_PAGES_H */
