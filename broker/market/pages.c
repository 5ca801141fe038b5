/* SPDX-License-Identifier: MIT */
/* Sizing a guest in whole host pages; pages.h states the contract. */
#include <errno.h>

#include "pages.h"

#define HIST_MIN_BYTES (UINT64_C(1) << RAMM_HIST_MIN_SHIFT)

static int is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

int pages_valid_size(uint64_t bytes)
{
	return bytes >= PAGES_MIN_BYTES && bytes <= PAGES_MAX_BYTES &&
	       is_pow2(bytes);
}

int pages_guest_unit(uint64_t base_unit, const struct vmem_device *dev,
		     uint64_t *unit, const char **why)
{
	uint64_t block = dev->block_bytes, page = dev->page_bytes, u;

	if (!page) {
		*why = "its backing page size could not be read";
		return -EINVAL;
	}
	if (!is_pow2(block) || !is_pow2(page) || !is_pow2(base_unit)) {
		*why = "its block or backing page size is not a power of two";
		return -EINVAL;
	}
	if (block < page) {
		*why = "its virtio-mem block is smaller than its backing page, so unplugging a block would free no host memory";
		return -EINVAL;
	}
	u = base_unit > block ? base_unit : block;
	*unit = u > page ? u : page;
	return 0;
}

uint64_t pages_offer_bytes(const uint64_t hist[RAMM_HIST_SIZES],
			   uint64_t unit_bytes)
{
	uint64_t extent = HIST_MIN_BYTES;
	unsigned int i = 0;

	if (unit_bytes > (HIST_MIN_BYTES << (RAMM_HIST_SIZES - 1)))
		return 0;
	/* The smallest extent size that holds whole units. */
	while (extent < unit_bytes) {
		extent <<= 1;
		i++;
	}
	if (hist[i] > UINT64_MAX / extent)
		return UINT64_MAX;
	return hist[i] * extent;
}
