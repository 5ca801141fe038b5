/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for VM UUIDs (broker/daemon/vm_uuid.c): the canonical form
 * taken, lowercased, and anything else a hostile QMP reply or state file
 * could hold refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "vm_uuid.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void test_canonical(void **state)
{
	char out[VM_UUID_BUFLEN];
	const char *u = "550e8400-e29b-41d4-a716-446655440000";

	(void)state;
	assert_int_equal(vm_uuid_parse(u, strlen(u), out), 0);
	assert_string_equal(out, u);
	/* Upper case, as some tools print it, is the same UUID. */
	assert_int_equal(vm_uuid_parse("550E8400-E29B-41D4-A716-44665544ABCD", 36, out), 0);
	assert_string_equal(out, "550e8400-e29b-41d4-a716-44665544abcd");
	/* Only the first VM_UUID_LEN bytes are read: no NUL needed. */
	assert_int_equal(vm_uuid_parse("550e8400-e29b-41d4-a716-446655440000XYZ", 36, out), 0);
	assert_string_equal(out, u);
}

static void test_refused(void **state)
{
	static const struct {
		const char *s;
		size_t len;
		int err;
	} bad[] = {
		{ "", 0, -EMSGSIZE },
		{ "550e8400-e29b-41d4-a716-44665544000", 35, -EMSGSIZE },
		{ "550e8400-e29b-41d4-a716-4466554400000", 37, -EMSGSIZE },
		{ "550e8400e29b-41d4-a716-4466554400000", 36, -EINVAL },
		{ "550e8400-e29b-41d4-a716-44665544000g", 36, -EINVAL },
		{ "{550e8400-e29b-41d4-a716-4466554400}", 36, -EINVAL },
		{ "550e8400-e29b-41d4-a716-44665544000\n", 36, -EINVAL },
		{ "550e8400-e29b-41d4-a716 446655440000", 36, -EINVAL },
		{ "550e8400-e29b-41d4-a716-44665544\0000", 36, -EINVAL },
		{ "------------------------------------", 36, -EINVAL },
		{ "550e8400-e29b-41d4-a716-44665544000\xc3", 36, -EINVAL },
	};
	char out[VM_UUID_BUFLEN];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		memset(out, 'x', sizeof(out));
		if (vm_uuid_parse(bad[i].s, bad[i].len, out) != bad[i].err)
			fail_msg("case %zu: not refused with %d", i, bad[i].err);
		if (out[0] != '\0')
			fail_msg("case %zu: output left set", i);
	}
}

static void test_nil(void **state)
{
	char out[VM_UUID_BUFLEN];

	(void)state;
	assert_int_equal(vm_uuid_parse("00000000-0000-0000-0000-000000000000", 36, out), 0);
	assert_true(vm_uuid_is_nil(out));
	assert_int_equal(vm_uuid_parse("00000000-0000-0000-0000-000000000001", 36, out), 0);
	assert_false(vm_uuid_is_nil(out));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_nil),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
