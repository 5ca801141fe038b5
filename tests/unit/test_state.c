/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the state file (broker/daemon/state.c): the format round trip,
 * hostile files, atomic save/load on a real file system, and which VM a
 * record belongs to (state_identify()).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static struct state_entry entries[STATE_MAX_ENTRIES];

static void test_round_trip(void **state)
{
	const struct state_entry in[] = {
		{ .name = "web1", .have_account = 1,
		  .account = { .balance = 123456, .weight = 200, .credit = 731 },
		  .ov = { .weight = 300, .floor_mib = 1024, .cap_mib = 8192,
			  .excluded = 0, .drain = 1 } },
		{ .name = "db", .have_account = 0,
		  .ov = { .excluded = 1 },
		  .uuid = "550e8400-e29b-41d4-a716-446655440000" },
	};
	char err[128];
	size_t n, len;
	char *text;

	(void)state;
	assert_int_equal(state_format(in, ARRAY_LEN(in), &text, &len), 0);
	assert_string_equal(text,
		"ramm-state 1\n"
		"account web1 balance=123456 weight=200 credit=731\n"
		"overrides web1 weight=300 floor_mib=1024 cap_mib=8192 excluded=0 drain=1\n"
		"identity db uuid=550e8400-e29b-41d4-a716-446655440000\n"
		"overrides db weight=0 floor_mib=0 cap_mib=0 excluded=1 drain=0\n");
	assert_int_equal(state_parse(text, len, entries, STATE_MAX_ENTRIES, &n,
				     err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(&entries[0], &in[0], sizeof(in[0]));
	assert_string_equal(entries[1].name, "db");
	assert_int_equal(entries[1].have_account, 0);
	assert_int_equal(entries[1].ov.excluded, 1);
	assert_memory_equal(&entries[1], &in[1], sizeof(in[1]));
	free(text);
}

/* A file from before identity lines loads as it did: no UUID, accounts and
 * overrides kept. An upper-case UUID reads as the canonical one, and the
 * records of one guest may come in any order. */
static void test_identity_optional(void **state)
{
	static const char old[] =
		"ramm-state 1\n"
		"account web1 balance=77 weight=100 credit=640\n"
		"overrides web1 weight=0 floor_mib=0 cap_mib=2048 excluded=0 drain=1\n";
	static const char mixed[] =
		"ramm-state 1\n"
		"account web1 balance=77 weight=100 credit=640\n"
		"identity web1 uuid=550E8400-E29B-41D4-A716-44665544ABCD\n";
	char err[128];
	size_t n;

	(void)state;
	assert_int_equal(state_parse(old, strlen(old), entries, STATE_MAX_ENTRIES,
				     &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(entries[0].uuid, "");
	assert_int_equal(entries[0].have_account, 1);
	assert_int_equal(entries[0].account.balance, 77);
	assert_int_equal(entries[0].ov.cap_mib, 2048);
	assert_int_equal(entries[0].ov.drain, 1);
	assert_int_equal(state_parse(mixed, strlen(mixed), entries,
				     STATE_MAX_ENTRIES, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(entries[0].uuid, "550e8400-e29b-41d4-a716-44665544abcd");
	assert_int_equal(entries[0].account.credit, 640);
}

/* An entry that is not canonical is not written: the file would not read
 * back. */
static void test_format_refuses_bad_uuid(void **state)
{
	struct state_entry e = { .name = "a", .uuid = "550E8400-E29B-41D4-A716-446655440000" };
	char *text = NULL;
	size_t len;

	(void)state;
	assert_int_equal(state_format(&e, 1, &text, &len), -EINVAL);
	snprintf(e.uuid, sizeof(e.uuid), "00000000-0000-0000-0000-000000000000");
	assert_int_equal(state_format(&e, 1, &text, &len), -EINVAL);
	assert_null(text);
}

/* A VM with a new UUID under a known name: the record of the old VM (its
 * account, a drain, a cap) is not inherited. A record that named no VM is
 * adopted whole; the same VM changes nothing. */
static void test_identify(void **state)
{
	const struct state_entry was = {
		.name = "101", .have_account = 1,
		.account = { .balance = 5, .weight = 100, .credit = 200 },
		.ov = { .weight = 50, .cap_mib = 4096, .drain = 1 },
		.uuid = "11111111-2222-3333-4444-555555555555",
	};
	const char *other = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
	struct state_entry e = was;
	char old[VM_UUID_BUFLEN];

	(void)state;
	assert_int_equal(state_identify(&e, was.uuid, old), STATE_IDENTITY_SAME);
	assert_memory_equal(&e, &was, sizeof(e));
	assert_string_equal(old, "");

	assert_int_equal(state_identify(&e, other, old), STATE_IDENTITY_REPLACED);
	assert_string_equal(old, was.uuid);
	assert_string_equal(e.name, "101");
	assert_string_equal(e.uuid, other);
	assert_int_equal(e.have_account, 0);
	assert_int_equal(e.account.balance, 0);
	assert_int_equal(e.ov.drain, 0);
	assert_int_equal(e.ov.cap_mib, 0);
	assert_int_equal(e.ov.weight, 0);
	assert_int_equal(state_identify(&e, other, old), STATE_IDENTITY_SAME);

	e = was;
	e.uuid[0] = '\0';
	assert_int_equal(state_identify(&e, other, old), STATE_IDENTITY_ADOPTED);
	assert_string_equal(old, "");
	assert_string_equal(e.uuid, other);
	assert_int_equal(e.have_account, 1);
	assert_int_equal(e.account.balance, 5);
	assert_int_equal(e.ov.drain, 1);
	assert_int_equal(e.ov.cap_mib, 4096);
}

static void test_rejects_hostile_files(void **state)
{
	static const struct {
		const char *text;
		const char *err;
	} bad[] = {
		{ "", "line 1: empty file" },
		{ "ramm-state 2\n", "line 1: not a ramm state file" },
		{ "ramm-state 1", "line 1: no newline" },
		{ "ramm-state 1\nfoo a b\n", "line 2: unknown record" },
		{ "ramm-state 1\naccount a\n", "line 2: no fields" },
		{ "ramm-state 1\naccount \x01 balance=1 weight=1 credit=500\n",
		  "line 2: bad guest name" },
		{ "ramm-state 1\naccount a balance=1 weight=1 credit=5\n",
		  "line 2: bad account fields" },
		{ "ramm-state 1\noverrides a weight=1 floor_mib=9 cap_mib=8 excluded=0 drain=0\n",
		  "line 2: bad overrides fields" },
		{ "ramm-state 1\noverrides a weight=1 floor_mib=0 cap_mib=0 excluded=2 drain=0\n",
		  "line 2: bad overrides fields" },
		{ "ramm-state 1\noverrides a weight=10001 floor_mib=0 cap_mib=0 excluded=0 drain=0\n",
		  "line 2: bad overrides fields" },
		{ "ramm-state 1\noverrides a weight=1 floor_mib=0 cap_mib=0 excluded=0 drain=0 x=1\n",
		  "line 2: bad overrides fields" },
		{ "ramm-state 1\nidentity a\n", "line 2: no fields" },
		{ "ramm-state 1\nidentity a uuid=\n", "line 2: bad identity fields" },
		{ "ramm-state 1\nidentity a uuid=550e8400-e29b-41d4-a716-44665544000\n",
		  "line 2: bad identity fields" },
		{ "ramm-state 1\nidentity a uuid=550e8400-e29b-41d4-a716-4466554400000\n",
		  "line 2: bad identity fields" },
		{ "ramm-state 1\nidentity a uuid=550e8400-e29b-41d4-a716-44665544000z\n",
		  "line 2: bad identity fields" },
		{ "ramm-state 1\nidentity a uuid=550e8400-e29b-41d4-a716-446655440000 x=1\n",
		  "line 2: bad identity fields" },
		{ "ramm-state 1\nidentity a guid=550e8400-e29b-41d4-a716-446655440000\n",
		  "line 2: bad identity fields" },
		/* The nil UUID names no VM: rammd never writes it. */
		{ "ramm-state 1\nidentity a uuid=00000000-0000-0000-0000-000000000000\n",
		  "line 2: bad identity fields" },
	};
	char err[128];
	size_t n;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		err[0] = 0;
		if (state_parse(bad[i].text, strlen(bad[i].text), entries,
				STATE_MAX_ENTRIES, &n, err, sizeof(err)) != -EINVAL)
			fail_msg("accepted case %zu", i);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)))
			fail_msg("case %zu: \"%s\", want \"%s\"", i, err, bad[i].err);
	}
}

/* More guests than the caller has room for: an error, not an overflow. */
static void test_entry_limit(void **state)
{
	char *text = malloc(64 * 3 + 32), *p;
	char err[128];
	size_t n;

	(void)state;
	p = text + sprintf(text, "ramm-state 1\n");
	for (int i = 0; i < 3; i++)
		p += sprintf(p, "overrides g%d weight=0 floor_mib=0 cap_mib=0 excluded=0 drain=0\n", i);
	assert_int_equal(state_parse(text, (size_t)(p - text), entries, 2, &n,
				     err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 4: more than 2 guests");
	free(text);
}

/* A full file: STATE_MAX_ENTRIES guests (rammd manages that many), each
 * with the longest name and fields, fits under STATE_MAX_FILE and reads
 * back whole. */
static void test_full_file(void **state)
{
	static struct state_entry in[STATE_MAX_ENTRIES];
	char err[128];
	size_t n, len;
	char *text;

	(void)state;
	for (size_t i = 0; i < STATE_MAX_ENTRIES; i++) {
		in[i] = (struct state_entry){
			.have_account = 1,
			.account = { .balance = UINT64_MAX, .weight = UINT32_MAX,
				     .credit = 1000 },
			.ov = { .weight = 10000, .floor_mib = 1ULL << 32,
				.cap_mib = 1ULL << 32, .excluded = 1, .drain = 1 },
			.uuid = "ffffffff-ffff-ffff-ffff-ffffffffffff",
		};
		snprintf(in[i].name, sizeof(in[i].name), "%0*zu",
			 (int)sizeof(in[i].name) - 1, i);
	}
	assert_int_equal(state_format(in, STATE_MAX_ENTRIES, &text, &len), 0);
	assert_true(len <= STATE_MAX_FILE);
	assert_int_equal(state_parse(text, len, entries, STATE_MAX_ENTRIES, &n,
				     err, sizeof(err)), 0);
	assert_int_equal(n, STATE_MAX_ENTRIES);
	assert_memory_equal(&entries[STATE_MAX_ENTRIES - 1],
			    &in[STATE_MAX_ENTRIES - 1], sizeof(in[0]));
	free(text);
}

static void test_save_load(void **state)
{
	char dir[] = "/tmp/ramm-state-test-XXXXXX", path[256], err[128];
	struct state_entry e = { .name = "a", .have_account = 1,
				 .account = { 5, 100, 400 } };
	struct dirent *de;
	size_t n = 99, files = 0;
	DIR *dh;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state", dir);
	assert_int_equal(state_load(path, entries, STATE_MAX_ENTRIES, &n, err,
				    sizeof(err)), -ENOENT);
	assert_int_equal(state_save(path, &e, 1), 0);
	e.account.credit = 900;
	assert_int_equal(state_save(path, &e, 1), 0);
	assert_int_equal(state_load(path, entries, STATE_MAX_ENTRIES, &n, err,
				    sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(entries[0].account.credit, 900);
	/* No temp file is left behind. */
	dh = opendir(dir);
	assert_non_null(dh);
	while ((de = readdir(dh)))
		files += de->d_name[0] != '.';
	closedir(dh);
	assert_int_equal(files, 1);
	/* A save into a directory that is gone fails and changes nothing. */
	assert_int_equal(state_save("/nonexistent-ramm/state", &e, 1), -ENOENT);
	/* A file that is too big is refused before it is read. */
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fseek(f, STATE_MAX_FILE + 1, SEEK_SET), 0);
	fputc('\n', f);
	fclose(f);
	assert_int_equal(state_load(path, entries, STATE_MAX_ENTRIES, &n, err,
				    sizeof(err)), -EFBIG);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_identity_optional),
		cmocka_unit_test(test_format_refuses_bad_uuid),
		cmocka_unit_test(test_identify),
		cmocka_unit_test(test_rejects_hostile_files),
		cmocka_unit_test(test_entry_limit),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_save_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
