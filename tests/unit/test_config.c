/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for rammd's INI parser (broker/daemon/config.c).
 *
 * Defaults, every key, guest sections and comments; then every error, each
 * checked against the exact "FILE:LINE: key 'K': problem" text; then
 * config_load() on real files.
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
#include <unistd.h>

#include "config.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* struct rammd_config holds 256 guests: keep it off the stack. */
static struct rammd_config *new_config(void)
{
	struct rammd_config *cfg = malloc(sizeof(*cfg));

	assert_non_null(cfg);
	config_defaults(cfg);
	return cfg;
}

static int parse(struct rammd_config *cfg, const char *text, char *err,
		 size_t errlen)
{
	config_defaults(cfg);
	err[0] = '\0';
	return config_parse(text, strlen(text), "t.conf", cfg, err, errlen);
}

static void parse_ok(struct rammd_config *cfg, const char *text)
{
	char err[512];

	if (parse(cfg, text, err, sizeof(err)) != 0)
		fail_msg("rejected: %s\n%s", err, text);
}

/* @text must fail with exactly @want. */
static void parse_fails(const char *text, const char *want)
{
	struct rammd_config *cfg = new_config();
	char err[512];

	assert_int_equal(parse(cfg, text, err, sizeof(err)), -EINVAL);
	if (strcmp(err, want))
		fail_msg("error for\n%s\nis   \"%s\"\nwant \"%s\"", text, err,
			 want);
	free(cfg);
}

static void test_defaults(void **state)
{
	struct rammd_config *cfg = new_config();
	struct rammd_config *empty = new_config();
	char err[64];

	(void)state;
	assert_int_equal(cfg->tick_ms, 1000);
	assert_true(cfg->supply_mib == CONFIG_SUPPLY_AUTO);
	assert_int_equal(cfg->host_reserve_mib, 2048);
	assert_int_equal(cfg->unit_mib, 2);
	assert_int_equal(cfg->max_plug_mib, 4096);
	assert_int_equal(cfg->max_unplug_mib, 1024);
	assert_int_equal(cfg->reserve_price, 300);
	assert_int_equal(cfg->budget_price, 8000);
	assert_int_equal(cfg->savings_ticks, 300);
	assert_int_equal(cfg->claim_price, 8000);
	assert_int_equal(cfg->preempt_price, 2000);
	assert_int_equal(cfg->return_window_ms, 10000);
	assert_int_equal(cfg->critical_free_mib, 512);
	assert_int_equal(cfg->default_weight, 100);
	assert_int_equal(cfg->move_cost, 100);
	assert_int_equal(cfg->quantum_mib, 8);
	assert_int_equal(cfg->min_floor_mib, 0);
	assert_int_equal(cfg->stale_report_ms, 5000);
	assert_int_equal(cfg->resize_timeout_ms, 30000);
	assert_int_equal(cfg->evict_deadline_ms, 5000);
	assert_string_equal(cfg->control_socket, "/run/ramm/rammd.sock");
	assert_string_equal(cfg->scan_dir, "");
	assert_string_equal(cfg->proxmox_dir, "");
	assert_string_equal(cfg->proxmox_agent_dir, "/run/ramm");
	assert_int_equal(cfg->n_guests, 0);

	/* An empty file, or one of comments, changes nothing. */
	assert_int_equal(parse(empty, "", err, sizeof(err)), 0);
	assert_memory_equal(empty, cfg, sizeof(*cfg));
	assert_int_equal(parse(empty, "# nothing\n\n;\n[rammd]\n", err,
			       sizeof(err)), 0);
	assert_memory_equal(empty, cfg, sizeof(*cfg));

	/* Defaults overwrite whatever was there. */
	memset(empty, 0x5a, sizeof(*empty));
	config_defaults(empty);
	assert_memory_equal(empty, cfg, sizeof(*cfg));
	free(empty);
	free(cfg);
}

static void test_every_rammd_key(void **state)
{
	struct rammd_config *cfg = new_config();

	(void)state;
	parse_ok(cfg,
		 "[rammd]\n"
		 "tick_ms = 250\n"
		 "supply_mib = 65536\n"
		 "host_reserve_mib = 4096\n"
		 "unit_mib = 128\n"
		 "max_plug_mib = 1024\n"
		 "max_unplug_mib = 64\n"
		 "move_cost = 1000000\n"
		 "quantum_mib = 0\n"
		 "min_floor_mib = 300\n"
		 "stale_report_ms = 3600000\n"
		 "resize_timeout_ms = 1000\n"
		 "evict_deadline_ms = 600000\n"
		 "control_socket = /tmp/r.sock\n"
		 "scan_dir = /var/run/qemu-server\n"
		 "proxmox_dir = /var/run/qemu-server\n"
		 "proxmox_agent_dir = /run/ramm-agents\n");
	assert_int_equal(cfg->tick_ms, 250);
	assert_int_equal(cfg->supply_mib, 65536);
	assert_int_equal(cfg->host_reserve_mib, 4096);
	assert_int_equal(cfg->unit_mib, 128);
	assert_int_equal(cfg->max_plug_mib, 1024);
	assert_int_equal(cfg->max_unplug_mib, 64);
	assert_int_equal(cfg->move_cost, 1000000);
	assert_int_equal(cfg->quantum_mib, 0);
	assert_int_equal(cfg->min_floor_mib, 300);
	assert_int_equal(cfg->stale_report_ms, 3600000);
	assert_int_equal(cfg->resize_timeout_ms, 1000);
	assert_int_equal(cfg->evict_deadline_ms, 600000);
	assert_string_equal(cfg->control_socket, "/tmp/r.sock");
	assert_string_equal(cfg->scan_dir, "/var/run/qemu-server");
	assert_string_equal(cfg->proxmox_dir, "/var/run/qemu-server");
	assert_string_equal(cfg->proxmox_agent_dir, "/run/ramm-agents");
	assert_int_equal(cfg->n_guests, 0);

	/* Each bound is inclusive; keys before any section are [rammd]'s. */
	parse_ok(cfg, "tick_ms=100\nunit_mib=1024\nsupply_mib=4294967296\n"
		      "max_plug_mib = 2\nstale_report_ms = 1000\n"
		      "evict_deadline_ms = 100\nquantum_mib = 1048576\n");
	assert_int_equal(cfg->tick_ms, 100);
	assert_int_equal(cfg->unit_mib, 1024);
	assert_int_equal(cfg->supply_mib, 1ULL << 32);
	assert_int_equal(cfg->max_plug_mib, 2);
	assert_int_equal(cfg->stale_report_ms, 1000);
	assert_int_equal(cfg->evict_deadline_ms, 100);
	assert_int_equal(cfg->quantum_mib, 1ULL << 20);

	/* A later value wins. */
	parse_ok(cfg, "tick_ms = 200\ntick_ms = 300\n");
	assert_int_equal(cfg->tick_ms, 300);
	free(cfg);
}

static void test_supply_auto(void **state)
{
	struct rammd_config *cfg = new_config();

	(void)state;
	parse_ok(cfg, "supply_mib = 0\n");
	assert_int_equal(cfg->supply_mib, 0);
	parse_ok(cfg, "supply_mib = 100\nsupply_mib = auto\n");
	assert_true(cfg->supply_mib == CONFIG_SUPPLY_AUTO);
	parse_ok(cfg, "supply_mib =\tauto  \n");
	assert_true(cfg->supply_mib == CONFIG_SUPPLY_AUTO);
	/* Only supply_mib knows "auto". */
	parse_fails("supply_mib = AUTO\n",
		    "t.conf:1: key 'supply_mib': 'AUTO' is not a whole number");
	parse_fails("tick_ms = auto\n",
		    "t.conf:1: key 'tick_ms': 'auto' is not a whole number");
	parse_fails("supply_mib = 4294967297\n",
		    "t.conf:1: key 'supply_mib': 4294967297 is outside "
		    "0..4294967296");
	free(cfg);
}

static void test_guest_sections(void **state)
{
	struct rammd_config *cfg = new_config();

	(void)state;
	parse_ok(cfg,
		 "[rammd]\n"
		 "tick_ms = 500\n"
		 "[guest web1]\n"
		 "qmp = /var/run/ramm/web1.qmp\n"
		 "agent = /var/run/ramm/web1.agent\n"
		 "floor_mib = 512\n"
		 "cap_mib = 4096\n"
		 "\n"
		 "[guest db_2.x-Y]\n"
		 "agent = /b.agent\n"
		 "qmp = /b.qmp\n"
		 "[rammd]\n"
		 "move_cost = 7\n"
		 "[  guest \t spaced  ]\n"
		 "qmp = /c\n"
		 "agent = /d\n"
		 "floor_mib = 4096\n"
		 "cap_mib = 4096\n");
	assert_int_equal(cfg->tick_ms, 500);
	assert_int_equal(cfg->move_cost, 7);
	assert_int_equal(cfg->n_guests, 3);
	assert_string_equal(cfg->guests[0].name, "web1");
	assert_string_equal(cfg->guests[0].qmp_path, "/var/run/ramm/web1.qmp");
	assert_string_equal(cfg->guests[0].agent_path,
			    "/var/run/ramm/web1.agent");
	assert_int_equal(cfg->guests[0].floor_mib, 512);
	assert_int_equal(cfg->guests[0].cap_mib, 4096);
	assert_string_equal(cfg->guests[1].name, "db_2.x-Y");
	assert_string_equal(cfg->guests[1].qmp_path, "/b.qmp");
	assert_string_equal(cfg->guests[1].agent_path, "/b.agent");
	assert_int_equal(cfg->guests[1].floor_mib, 0);
	assert_int_equal(cfg->guests[1].cap_mib, 0);
	assert_string_equal(cfg->guests[2].name, "spaced");
	assert_int_equal(cfg->guests[2].floor_mib, 4096);
	assert_int_equal(cfg->guests[2].cap_mib, 4096);

	/* A floor with no cap (cap 0 means the device maximum) is fine. */
	parse_ok(cfg, "[guest a]\nqmp=/q\nagent=/a\nfloor_mib = 4294967296\n");
	assert_int_equal(cfg->guests[0].floor_mib, 1ULL << 32);
	assert_int_equal(cfg->guests[0].cap_mib, 0);
	free(cfg);
}

static void test_comments_and_blanks(void **state)
{
	struct rammd_config *cfg = new_config();

	(void)state;
	parse_ok(cfg,
		 "# a comment\n"
		 "; another\n"
		 "   # indented = 5\n"
		 "\t; tabbed\n"
		 "\n"
		 "   \t \n"
		 "[rammd]  \r\n"
		 "#tick_ms = 200\n"
		 "  tick_ms\t=\t300  \r\n"
		 "\r\n"
		 ";[guest not_a_guest]\n"
		 "quantum_mib = 16"); /* no newline at the end */
	assert_int_equal(cfg->tick_ms, 300);
	assert_int_equal(cfg->quantum_mib, 16);
	assert_int_equal(cfg->n_guests, 0);

	/* Only @len bytes are read, even if the text goes on. */
	{
		const char *text = "tick_ms = 2000";
		char err[128];

		config_defaults(cfg);
		assert_int_equal(config_parse(text, strlen(text) - 1, "t.conf",
					      cfg, err, sizeof(err)), 0);
		assert_int_equal(cfg->tick_ms, 200);
	}
	free(cfg);
}

/* ---- errors: the exact message, line and key ---- */

static void test_error_unknown_key(void **state)
{
	(void)state;
	parse_fails("[rammd]\n\nbogus = 1\n",
		    "t.conf:3: key 'bogus': unknown key in [rammd]");
	parse_fails("# x\nTick_ms = 100\n",
		    "t.conf:2: key 'Tick_ms': unknown key in [rammd]");
	/* Guest keys are not [rammd] keys and the other way round. */
	parse_fails("qmp = /x\n", "t.conf:1: key 'qmp': unknown key in [rammd]");
	parse_fails("[guest a]\nqmp = /q\nagent = /a\ntick_ms = 500\n",
		    "t.conf:4: key 'tick_ms': unknown key in [guest]");
	parse_fails("[guest a]\nqmp_path = /q\n",
		    "t.conf:2: key 'qmp_path': unknown key in [guest]");
	parse_fails("= 5\n", "t.conf:1: key '': unknown key in [rammd]");
}

static void test_error_out_of_range(void **state)
{
	(void)state;
	parse_fails("tick_ms = 99\n",
		    "t.conf:1: key 'tick_ms': 99 is outside 100..60000");
	parse_fails("\ntick_ms = 60001\n",
		    "t.conf:2: key 'tick_ms': 60001 is outside 100..60000");
	/* Past 32 bits is still reported as the number given. */
	parse_fails("tick_ms = 4294968296\n",
		    "t.conf:1: key 'tick_ms': 4294968296 is outside 100..60000");
	parse_fails("unit_mib = 1\n",
		    "t.conf:1: key 'unit_mib': 1 is outside 2..1024");
	parse_fails("unit_mib = 1025\n",
		    "t.conf:1: key 'unit_mib': 1025 is outside 2..1024");
	parse_fails("move_cost = 1000001\n",
		    "t.conf:1: key 'move_cost': 1000001 is outside 0..1000000");
	parse_fails("stale_report_ms = 999\n",
		    "t.conf:1: key 'stale_report_ms': 999 is outside "
		    "1000..3600000");
	parse_fails("max_unplug_mib = 0\n",
		    "t.conf:1: key 'max_unplug_mib': 0 is outside 2..4294967296");
	parse_fails("[guest a]\nqmp = /q\ncap_mib = 4294967297\n",
		    "t.conf:3: key 'cap_mib': 4294967297 is outside "
		    "0..4294967296");
}

static void test_error_not_a_number(void **state)
{
	static const char *const values[] = {
		"abc", "-5", "+100", "0x100", "10ms", "1 000", "1.5", "1e3",
		"99999999999999999999999", "", " ",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(values); i++) {
		char text[128], want[256];
		const char *shown = strcmp(values[i], " ") ? values[i] : "";

		snprintf(text, sizeof(text), "[rammd]\nquantum_mib = %s\n",
			 values[i]);
		snprintf(want, sizeof(want),
			 "t.conf:2: key 'quantum_mib': '%s' is not a whole number",
			 shown);
		parse_fails(text, want);
	}
	parse_fails("[guest a]\nfloor_mib = lots\n",
		    "t.conf:2: key 'floor_mib': 'lots' is not a whole number");
}

static void test_error_socket_path(void **state)
{
	char text[1024], path[256];
	struct rammd_config *cfg = new_config();

	(void)state;
	parse_fails("control_socket = run/rammd.sock\n",
		    "t.conf:1: key 'control_socket': must be an absolute path");
	parse_fails("scan_dir = ~/vms\n",
		    "t.conf:1: key 'scan_dir': must be an absolute path");
	parse_fails("proxmox_dir = qemu-server\n",
		    "t.conf:1: key 'proxmox_dir': must be an absolute path");
	parse_fails("[guest a]\nqmp = a.qmp\n",
		    "t.conf:2: key 'qmp': must be an absolute path");
	parse_fails("[guest a]\nqmp = /a.qmp\nagent =\n",
		    "t.conf:3: key 'agent': must be an absolute path");

	/* 107 bytes fit in sun_path with its NUL; 108 do not. */
	memset(path, 'p', sizeof(path));
	path[0] = '/';
	path[CONFIG_MAX_SOCKET_PATH] = '\0';
	snprintf(text, sizeof(text), "control_socket = %s\n[guest a]\nqmp = %s\n"
		 "agent = %s\n", path, path, path);
	parse_ok(cfg, text);
	assert_string_equal(cfg->control_socket, path);
	assert_string_equal(cfg->guests[0].qmp_path, path);
	assert_string_equal(cfg->guests[0].agent_path, path);

	path[CONFIG_MAX_SOCKET_PATH] = 'p';
	path[CONFIG_MAX_SOCKET_PATH + 1] = '\0';
	snprintf(text, sizeof(text), "# 1\ncontrol_socket = %s\n", path);
	parse_fails(text, "t.conf:2: key 'control_socket': longer than 107 "
			  "bytes (unix socket limit)");
	snprintf(text, sizeof(text), "[guest a]\nqmp = /q\nagent = %s\n", path);
	parse_fails(text, "t.conf:3: key 'agent': longer than 107 bytes (unix "
			  "socket limit)");
	free(cfg);
}

static void test_error_sections(void **state)
{
	(void)state;
	parse_fails("[ramd]\n", "t.conf:1: unknown section [ramd]");
	parse_fails("# x\n[guest]\n", "t.conf:2: unknown section [guest]");
	parse_fails("[guests a]\n", "t.conf:1: unknown section [guests a]");
	parse_fails("[]\n", "t.conf:1: unknown section []");

	parse_fails("[rammd\n", "t.conf:1: malformed section header");
	parse_fails("\n\n[rammd] tick_ms = 100\n",
		    "t.conf:3: malformed section header");
	parse_fails("[guest a]]\n", "t.conf:1: malformed section header");

	parse_fails("[rammd]\ntick_ms 100\n", "t.conf:2: expected 'key = value'");
	parse_fails("tick_ms\n", "t.conf:1: expected 'key = value'");
}

static void test_error_guests(void **state)
{
	char text[256], name[CONFIG_MAX_NAME + 1];
	struct rammd_config *cfg = new_config();

	(void)state;
	parse_fails("[guest a]\nqmp=/q\nagent=/a\n[guest b]\nqmp=/q2\nagent=/a2\n"
		    "[guest a]\n",
		    "t.conf:7: guest 'a' defined twice");

	parse_fails("[guest a b]\n",
		    "t.conf:1: guest name 'a b' must be 1-63 of [A-Za-z0-9._-]");
	parse_fails("\n[guest a/b]\n",
		    "t.conf:2: guest name 'a/b' must be 1-63 of [A-Za-z0-9._-]");
	parse_fails("[guest ../x]\n",
		    "t.conf:1: guest name '../x' must be 1-63 of [A-Za-z0-9._-]");
	parse_fails("[guest caf\xc3\xa9]\n",
		    "t.conf:1: guest name 'caf\xc3\xa9' must be 1-63 of "
		    "[A-Za-z0-9._-]");

	/* 63 characters are a name; 64 are not. */
	memset(name, 'n', sizeof(name));
	name[CONFIG_MAX_NAME - 1] = '\0';
	snprintf(text, sizeof(text), "[guest %s]\nqmp=/q\nagent=/a\n", name);
	parse_ok(cfg, text);
	assert_string_equal(cfg->guests[0].name, name);
	name[CONFIG_MAX_NAME - 1] = 'n';
	name[CONFIG_MAX_NAME] = '\0';
	snprintf(text, sizeof(text), "[guest %s]\n", name);
	{
		char want[256];

		snprintf(want, sizeof(want),
			 "t.conf:1: guest name '%s' must be 1-63 of "
			 "[A-Za-z0-9._-]", name);
		parse_fails(text, want);
	}
	free(cfg);
}

static void test_error_guest_incomplete(void **state)
{
	struct rammd_config *cfg = new_config();

	(void)state;
	/* Checked at the end of the file, reported at the guest's header. */
	parse_fails("[guest a]\nqmp=/q\nagent=/a\n\n[guest b]\nqmp = /q\n"
		    "# more\n\n[rammd]\ntick_ms = 100\n",
		    "t.conf:5: key 'agent': guest 'b' needs both qmp and agent");
	parse_fails("[guest c]\nagent = /a\n\n\n",
		    "t.conf:1: key 'qmp': guest 'c' needs both qmp and agent");
	/* Neither socket: settings for a guest found by scan or libvirt. */
	parse_ok(cfg, "# one\n[guest d]\nweight = 50\nexcluded = 1\n");
	assert_int_equal(cfg->n_guests, 1);
	assert_int_equal(cfg->guests[0].weight, 50);
	assert_int_equal(cfg->guests[0].excluded, 1);
	free(cfg);
	parse_fails("[guest e]\nqmp=/q\nagent=/a\nfloor_mib = 2049\n"
		    "cap_mib = 2048\n[guest f]\nqmp=/q\nagent=/a\n",
		    "t.conf:1: key 'floor_mib': guest 'e' floor above its cap");
}

static void test_error_line_too_long(void **state)
{
	char *text = malloc(3 * CONFIG_MAX_LINE);
	struct rammd_config *cfg = new_config();
	size_t len;

	(void)state;
	assert_non_null(text);
	/* A comment of exactly CONFIG_MAX_LINE bytes is fine... */
	len = (size_t)sprintf(text, "[rammd]\n");
	memset(text + len, '#', CONFIG_MAX_LINE);
	len += CONFIG_MAX_LINE;
	len += (size_t)sprintf(text + len, "\ntick_ms = 700\n");
	parse_ok(cfg, text);
	assert_int_equal(cfg->tick_ms, 700);

	/* ...one byte more is not, and the line is named. */
	len = (size_t)sprintf(text, "[rammd]\n\n");
	memset(text + len, '#', CONFIG_MAX_LINE + 1);
	len += CONFIG_MAX_LINE + 1;
	sprintf(text + len, "\n");
	parse_fails(text, "t.conf:3: line longer than 1024 bytes");

	/* Also as the last line, without a newline. */
	len = (size_t)sprintf(text, "tick_ms = 100\n");
	memset(text + len, ' ', CONFIG_MAX_LINE + 1);
	text[len + CONFIG_MAX_LINE + 1] = '\0';
	parse_fails(text, "t.conf:2: line longer than 1024 bytes");
	free(cfg);
	free(text);
}

static void test_error_nul_byte(void **state)
{
	static const char text[] = "[rammd]\ntick_ms = 1\0 00\nmove_cost = 1\n";
	struct rammd_config *cfg = new_config();
	char err[256];

	(void)state;
	assert_int_equal(config_parse(text, sizeof(text) - 1, "t.conf", cfg,
				      err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.conf:2: NUL byte in line");
	/* A NUL alone on a line, and one in a comment, are errors too. */
	assert_int_equal(config_parse("#\n\n\0\n", 5, "t.conf", cfg, err,
				      sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.conf:3: NUL byte in line");
	assert_int_equal(config_parse("# a\0b\n", 6, "t.conf", cfg, err,
				      sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.conf:1: NUL byte in line");
	free(cfg);
}

static void test_error_small_buffer(void **state)
{
	struct rammd_config *cfg = new_config();
	char err[12];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(config_parse("bogus = 1\n", 10, "t.conf", cfg, err,
				      sizeof(err)), -EINVAL);
	/* Truncated, but terminated and still starting with FILE:LINE. */
	assert_string_equal(err, "t.conf:1: k");
	free(cfg);
}

static void test_too_many_guests(void **state)
{
	size_t size = (CONFIG_MAX_GUESTS + 2) * 64;
	char *text = malloc(size);
	struct rammd_config *cfg = new_config();
	char err[256], want[256];
	size_t len = 0;
	int i;

	(void)state;
	assert_non_null(text);
	for (i = 0; i < CONFIG_MAX_GUESTS; i++)
		len += (size_t)snprintf(text + len, size - len,
					"[guest g%d]\nqmp = /q%d\nagent = /a%d\n",
					i, i, i);
	parse_ok(cfg, text);
	assert_int_equal(cfg->n_guests, CONFIG_MAX_GUESTS);
	assert_string_equal(cfg->guests[CONFIG_MAX_GUESTS - 1].name, "g255");
	assert_string_equal(cfg->guests[CONFIG_MAX_GUESTS - 1].agent_path,
			    "/a255");

	snprintf(text + len, size - len, "[guest g%d]\n", i);
	assert_int_equal(parse(cfg, text, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "t.conf:%d: more than %d guests",
		 3 * CONFIG_MAX_GUESTS + 1, CONFIG_MAX_GUESTS);
	assert_string_equal(err, want);
	assert_int_equal(cfg->n_guests, CONFIG_MAX_GUESTS);
	free(cfg);
	free(text);
}

/* ---- config_load ---- */

/* Write @len bytes of @text to a new temporary file; returns its path. */
static char *write_temp(const char *text, size_t len)
{
	const char *dir = getenv("TMPDIR");
	char *path = malloc(4096);
	FILE *f;
	int fd;

	assert_non_null(path);
	snprintf(path, 4096, "%s/ramm-test-config-XXXXXX",
		 dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void test_load_missing(void **state)
{
	struct rammd_config *cfg = new_config();
	char err[256];

	(void)state;
	cfg->tick_ms = 1;
	assert_int_equal(config_load("/nonexistent/ramm/rammd.conf", cfg, err,
				     sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/ramm/rammd.conf"));
	/* Defaults were loaded before the failure. */
	assert_int_equal(cfg->tick_ms, 1000);
	free(cfg);
}

static void test_load_file(void **state)
{
	static const char text[] =
		"[rammd]\n"
		"tick_ms = 400\n"
		"supply_mib = 8192\n"
		"[guest vm1]\n"
		"qmp = /run/vm1.qmp\n"
		"agent = /run/vm1.agent\n";
	struct rammd_config *cfg = new_config();
	char err[4200], want[4200];
	char *path;

	(void)state;
	path = write_temp(text, sizeof(text) - 1);
	memset(cfg, 0x5a, sizeof(*cfg));
	assert_int_equal(config_load(path, cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->tick_ms, 400);
	assert_int_equal(cfg->supply_mib, 8192);
	assert_int_equal(cfg->move_cost, 100); /* a default, not 0x5a... */
	assert_int_equal(cfg->n_guests, 1);
	assert_string_equal(cfg->guests[0].name, "vm1");
	assert_string_equal(cfg->guests[0].agent_path, "/run/vm1.agent");
	assert_int_equal(unlink(path), 0);
	free(path);

	/* Errors name the file as given. */
	path = write_temp("tick_ms = 400\nwhat = 1\n", 23);
	assert_int_equal(config_load(path, cfg, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: key 'what': unknown key in [rammd]",
		 path);
	assert_string_equal(err, want);
	assert_int_equal(unlink(path), 0);
	free(path);
	free(cfg);
}

static void test_load_size_limit(void **state)
{
	char *text = malloc(CONFIG_MAX_FILE + 1);
	struct rammd_config *cfg = new_config();
	char err[4200];
	char *path;
	size_t i;

	(void)state;
	assert_non_null(text);
	/* Exactly CONFIG_MAX_FILE bytes: comment lines and one key. */
	for (i = 0; i < CONFIG_MAX_FILE; i++)
		text[i] = i % 64 == 63 ? '\n' : '#';
	memcpy(text, "tick_ms = 900\n", 14);
	path = write_temp(text, CONFIG_MAX_FILE);
	assert_int_equal(config_load(path, cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->tick_ms, 900);
	assert_int_equal(unlink(path), 0);
	free(path);

	/* One byte more is refused before parsing. */
	text[CONFIG_MAX_FILE] = '\n';
	path = write_temp(text, CONFIG_MAX_FILE + 1);
	assert_int_equal(config_load(path, cfg, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, path));
	assert_int_equal(unlink(path), 0);
	free(path);
	free(cfg);
	free(text);
}

/* The example file shipped in config/ must load and say the defaults. */
static void test_load_shipped_example(void **state)
{
	struct rammd_config *cfg = new_config();
	struct rammd_config *defaults = new_config();
	char err[512];
	int ret;

	(void)state;
	ret = config_load("config/rammd.conf", cfg, err, sizeof(err));
	if (ret == -ENOENT) {
		free(defaults);
		free(cfg);
		skip(); /* not run from the top of the tree */
	}
	if (ret)
		fail_msg("config/rammd.conf: %s", err);
	assert_memory_equal(cfg, defaults, sizeof(*cfg));
	free(defaults);
	free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_rammd_key),
		cmocka_unit_test(test_supply_auto),
		cmocka_unit_test(test_guest_sections),
		cmocka_unit_test(test_comments_and_blanks),
		cmocka_unit_test(test_error_unknown_key),
		cmocka_unit_test(test_error_out_of_range),
		cmocka_unit_test(test_error_not_a_number),
		cmocka_unit_test(test_error_socket_path),
		cmocka_unit_test(test_error_sections),
		cmocka_unit_test(test_error_guests),
		cmocka_unit_test(test_error_guest_incomplete),
		cmocka_unit_test(test_error_line_too_long),
		cmocka_unit_test(test_error_nul_byte),
		cmocka_unit_test(test_error_small_buffer),
		cmocka_unit_test(test_too_many_guests),
		cmocka_unit_test(test_load_missing),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_load_size_limit),
		cmocka_unit_test(test_load_shipped_example),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
