/* SPDX-License-Identifier: MIT */
/* Sizing guests in whole host pages (broker/market/pages.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pages.h"

#define KIB UINT64_C(1024)
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)

static struct vmem_device device(uint64_t block, uint64_t page)
{
	return (struct vmem_device){ .block_bytes = block, .page_bytes = page,
				     .max_bytes = 8 * GIB };
}

static void assert_unit(uint64_t base, uint64_t block, uint64_t page,
			uint64_t want)
{
	struct vmem_device dev = device(block, page);
	const char *why = NULL;
	uint64_t unit = 0;

	assert_int_equal(pages_guest_unit(base, &dev, &unit, &why), 0);
	assert_int_equal(unit, want);
}

static void assert_refused(uint64_t base, uint64_t block, uint64_t page)
{
	struct vmem_device dev = device(block, page);
	const char *why = NULL;
	uint64_t unit = 12345;

	assert_int_equal(pages_guest_unit(base, &dev, &unit, &why), -EINVAL);
	assert_non_null(why);
	assert_int_equal(unit, 12345);
}

static void test_unit_is_largest_of_block_page_and_base(void **state)
{
	(void)state;
	assert_unit(2 * MIB, 2 * MIB, 4 * KIB, 2 * MIB);   /* ordinary memory */
	assert_unit(2 * MIB, 2 * MIB, 2 * MIB, 2 * MIB);   /* 2 MiB hugetlbfs */
	assert_unit(2 * MIB, 1 * GIB, 1 * GIB, 1 * GIB);   /* 1 GiB hugetlbfs */
	assert_unit(2 * MIB, 4 * MIB, 2 * MIB, 4 * MIB);   /* block above page */
	assert_unit(2 * MIB, 2 * GIB, 1 * GIB, 2 * GIB);
	assert_unit(8 * MIB, 2 * MIB, 2 * MIB, 8 * MIB);   /* base above both */
	assert_unit(2 * MIB, 1 * MIB, 4 * KIB, 2 * MIB);
}

static void test_mis_sized_guests_are_refused(void **state)
{
	(void)state;
	assert_refused(2 * MIB, 2 * MIB, 1 * GIB);  /* block below page */
	assert_refused(2 * MIB, 512 * MIB, 1 * GIB);
	assert_refused(2 * MIB, 2 * MIB, 0);        /* page unknown */
	assert_refused(2 * MIB, 3 * MIB, 4 * KIB);  /* not powers of two */
	assert_refused(2 * MIB, 0, 4 * KIB);
	assert_refused(2 * MIB, 2 * MIB, 12 * KIB);
	assert_refused(3 * MIB, 2 * MIB, 4 * KIB);
}

static void test_offer_counts_whole_units_only(void **state)
{
	/* 2 MiB extents: 12, 4 MiB: 5, 8 MiB: 2, ..., 1 GiB: 1 */
	uint64_t hist[RAMM_HIST_SIZES] = { 12, 5, 2, 1, 0, 0, 0, 0, 0, 1 };

	(void)state;
	assert_int_equal(pages_offer_bytes(hist, 2 * MIB), 24 * MIB);
	assert_int_equal(pages_offer_bytes(hist, 4 * MIB), 20 * MIB);
	assert_int_equal(pages_offer_bytes(hist, 8 * MIB), 16 * MIB);
	assert_int_equal(pages_offer_bytes(hist, 32 * MIB), 0);
	/* 1 GiB pages: the many free 2 MiB extents offer nothing... */
	assert_int_equal(pages_offer_bytes(hist, 1 * GIB), 1 * GIB);
	hist[9] = 0;
	assert_int_equal(pages_offer_bytes(hist, 1 * GIB), 0);
	/* ... and a unit below 2 MiB counts the 2 MiB extents. */
	assert_int_equal(pages_offer_bytes(hist, 1 * MIB), 24 * MIB);
	/* Beyond the histogram nothing is known to be free. */
	hist[9] = 7;
	assert_int_equal(pages_offer_bytes(hist, 2 * GIB), 0);
}

static void test_valid_page_sizes(void **state)
{
	(void)state;
	assert_true(pages_valid_size(4 * KIB));
	assert_true(pages_valid_size(2 * MIB));
	assert_true(pages_valid_size(16 * GIB));
	assert_false(pages_valid_size(0));
	assert_false(pages_valid_size(2 * KIB));
	assert_false(pages_valid_size(32 * GIB));
	assert_false(pages_valid_size(3 * MIB));
}

static void test_offer_saturates(void **state)
{
	uint64_t hist[RAMM_HIST_SIZES] = { 0 };

	(void)state;
	hist[9] = UINT64_C(1) << 40; /* the parser's bound */
	assert_int_equal(pages_offer_bytes(hist, 1 * GIB), UINT64_MAX);
	hist[0] = UINT64_C(1) << 40;
	assert_int_equal(pages_offer_bytes(hist, 2 * MIB), UINT64_C(1) << 61);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unit_is_largest_of_block_page_and_base),
		cmocka_unit_test(test_mis_sized_guests_are_refused),
		cmocka_unit_test(test_offer_counts_whole_units_only),
		cmocka_unit_test(test_offer_saturates),
		cmocka_unit_test(test_valid_page_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
