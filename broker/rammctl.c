/* SPDX-License-Identifier: MIT */
/*
 * rammctl: the operator's view of rammd, a thin client on its control socket.
 *
 * Exit codes: 0 success, 1 rammd refused the request, 2 usage error,
 * 3 rammd could not be reached or answered garbage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>

#include "unix_socket.h"

#define RAMMCTL_DEFAULT_SOCKET "/run/ramm/rammd.sock"
/* A state reply for hundreds of guests is well under this. */
#define RAMMCTL_MAX_REPLY (16 * 1024 * 1024)

enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

struct rammctl {
	const char *socket_path;
	int json;
};

struct rammctl_cmd {
	const char *name;
	int (*fn)(struct rammctl *ctl, int argc, char **argv);
	const char *help;
};

/* Send one request, read the whole reply. Returns a parsed object or NULL
 * (the reason already printed). */
static struct json_object *rammctl_request(const struct rammctl *ctl,
					   const char *cmd)
{
	struct json_object *req, *reply;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	const char *text;
	int fd;

	fd = unix_socket_connect(ctl->socket_path, SOCK_STREAM, 0);
	if (fd < 0) {
		fprintf(stderr, "rammctl: cannot reach rammd at %s: %s\n",
			ctl->socket_path, strerror(-fd));
		return NULL;
	}
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	if (send(fd, text, strlen(text), MSG_NOSIGNAL) < 0 ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) < 0) {
		fprintf(stderr, "rammctl: send: %s\n", strerror(errno));
		json_object_put(req);
		close(fd);
		return NULL;
	}
	json_object_put(req);
	for (;;) {
		ssize_t n;

		if (len + 65536 + 1 > cap) {
			char *bigger;

			cap = cap ? cap * 2 : 131072;
			if (cap > RAMMCTL_MAX_REPLY + 65536 + 1 ||
			    !(bigger = realloc(buf, cap))) {
				fprintf(stderr, "rammctl: reply too large\n");
				free(buf);
				close(fd);
				return NULL;
			}
			buf = bigger;
		}
		n = read(fd, buf + len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (!buf) {
		fprintf(stderr, "rammctl: rammd closed the connection without a reply\n");
		return NULL;
	}
	buf[len] = '\0';
	reply = json_tokener_parse(buf);
	free(buf);
	if (!reply || !json_object_is_type(reply, json_type_object)) {
		fprintf(stderr, "rammctl: rammd answered something that is not JSON\n");
		json_object_put(reply);
		return NULL;
	}
	return reply;
}

static int64_t jint(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : "-";
}

static void rammctl_print_market(struct json_object *st)
{
	printf("price %lld  supply %lld MiB  allocated %lld MiB  demand %lld MiB  unit %lld MiB  ticks %lld\n",
	       (long long)jint(st, "price"), (long long)jint(st, "supply_mib"),
	       (long long)jint(st, "allocated_mib"), (long long)jint(st, "demand_mib"),
	       (long long)jint(st, "unit_mib"), (long long)jint(st, "ticks"));
	if (jint(st, "emergency"))
		printf("EMERGENCY: host MemAvailable below critical_free_mib; reclaiming\n");
}

static double jdouble(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && v ? json_object_get_double(v) : 0.0;
}

static void rammctl_format_age(struct json_object *g, char *buf, size_t size)
{
	struct json_object *age;

	if (!json_object_object_get_ex(g, "report_age_ms", &age) || !age)
		snprintf(buf, size, "never");
	else
		snprintf(buf, size, "%.1fs", (double)json_object_get_int64(age) / 1000.0);
}

static void rammctl_format_bid(struct json_object *g, char *buf, size_t size)
{
	struct json_object *bid;
	size_t used = 0;

	buf[0] = '\0';
	if (!json_object_object_get_ex(g, "bid", &bid) ||
	    !json_object_array_length(bid)) {
		snprintf(buf, size, "(none)");
		return;
	}
	for (size_t i = 0; i < json_object_array_length(bid) && used < size; i++) {
		struct json_object *step = json_object_array_get_idx(bid, i);
		int n = snprintf(buf + used, size - used, "%s%lld@%lld", i ? " " : "",
				 (long long)json_object_get_int64(json_object_array_get_idx(step, 0)),
				 (long long)json_object_get_int64(json_object_array_get_idx(step, 1)));

		if (n < 0)
			break;
		used += (size_t)n;
	}
}

static int rammctl_by_name(const void *a, const void *b)
{
	struct json_object *const *ga = a, *const *gb = b;

	return strcmp(jstr(*ga, "name"), jstr(*gb, "name"));
}

static struct json_object *rammctl_fetch(struct rammctl *ctl, const char *cmd,
					 int *status)
{
	struct json_object *st = rammctl_request(ctl, cmd), *err;

	*status = 0;
	if (!st) {
		*status = EXIT_UNREACHABLE;
		return NULL;
	}
	if (json_object_object_get_ex(st, "error", &err)) {
		fprintf(stderr, "rammctl: rammd: %s\n", json_object_get_string(err));
		json_object_put(st);
		*status = EXIT_REFUSED;
		return NULL;
	}
	if (json_object_object_get_ex(st, "guests", &err) &&
	    json_object_is_type(err, json_type_array))
		json_object_array_sort(err, rammctl_by_name);
	if (ctl->json) {
		printf("%s\n", json_object_to_json_string_ext(st, JSON_C_TO_STRING_PRETTY));
		json_object_put(st);
		return NULL;
	}
	return st;
}

static int cmd_guests(struct rammctl *ctl, int argc, char **argv)
{
	struct json_object *st, *guests;
	int status;

	(void)argc;
	(void)argv;
	st = rammctl_fetch(ctl, "guests", &status);
	if (!st)
		return status;
	rammctl_print_market(st);
	printf("%-16s %-6s %-5s %7s %7s %7s %7s %8s %7s %6s  %s\n", "GUEST", "MODE",
	       "AGENT", "FLOOR", "CAP", "SIZE", "TARGET", "REPORT", "AVAIL", "ERRORS",
	       "BID (units@price)");
	json_object_object_get_ex(st, "guests", &guests);
	for (size_t i = 0; guests && i < json_object_array_length(guests); i++) {
		struct json_object *g = json_object_array_get_idx(guests, i), *c;
		char age[32], bid[1024];
		long long errors = 0;

		rammctl_format_age(g, age, sizeof(age));
		rammctl_format_bid(g, bid, sizeof(bid));
		if (json_object_object_get_ex(g, "counters", &c)) {
			static const char *const kinds[] = { "oversize", "bad_json",
				"bad_field", "unknown_type", "rate_limited", "bad_unit" };

			for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
				errors += jint(c, kinds[k]);
		}
		printf("%-16s %-6s %-5s %7lld %7lld %7lld %7lld %8s %7lld %6lld  %s\n",
		       jstr(g, "name"), jstr(g, "mode"),
		       jint(g, "agent_connected") ? "up" : "down",
		       (long long)jint(g, "floor_mib"), (long long)jint(g, "cap_mib"),
		       (long long)jint(g, "size_mib"), (long long)jint(g, "target_mib"),
		       age, (long long)jint(g, "mem_available_mib"), errors, bid);
	}
	printf("(sizes in MiB, guest totals: boot memory plus virtio-mem)\n");
	json_object_put(st);
	return 0;
}

static int cmd_bids(struct rammctl *ctl, int argc, char **argv)
{
	struct json_object *st, *guests;
	int status;

	(void)argc;
	(void)argv;
	st = rammctl_fetch(ctl, "bids", &status);
	if (!st)
		return status;
	rammctl_print_market(st);
	printf("%-16s %7s %7s %7s %7s %6s %6s %12s %8s  %s\n", "GUEST", "FLOOR",
	       "CAP", "SIZE", "TARGET", "WEIGHT", "CREDIT", "BALANCE", "REPORT",
	       "BID (units@price above floor)");
	json_object_object_get_ex(st, "guests", &guests);
	for (size_t i = 0; guests && i < json_object_array_length(guests); i++) {
		struct json_object *g = json_object_array_get_idx(guests, i);
		char age[32], bid[1024];

		rammctl_format_age(g, age, sizeof(age));
		rammctl_format_bid(g, bid, sizeof(bid));
		printf("%-16s %7lld %7lld %7lld %7lld %6lld %6.3f %12lld %8s  %s\n",
		       jstr(g, "name"), (long long)jint(g, "floor_mib"),
		       (long long)jint(g, "cap_mib"), (long long)jint(g, "size_mib"),
		       (long long)jint(g, "target_mib"), (long long)jint(g, "weight"),
		       jdouble(g, "credit"), (long long)jint(g, "balance"), age, bid);
	}
	json_object_put(st);
	return 0;
}

static const struct rammctl_cmd rammctl_cmds[] = {
	{ "guests", cmd_guests, "each guest's agent mode, floor, cap, size, target and report age" },
	{ "bids", cmd_bids, "each guest's bid curve beside its size and target, with the clearing price" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: rammctl [-s SOCKET] [--json] COMMAND\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(rammctl_cmds) / sizeof(rammctl_cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", rammctl_cmds[i].name, rammctl_cmds[i].help);
	fprintf(f, "\noptions:\n"
		"  -s, --socket PATH  rammd control socket (default %s)\n"
		"  -j, --json         print rammd's reply as JSON\n"
		"\nexit codes: 0 ok, 1 rammd refused, 2 usage, 3 rammd unreachable\n",
		RAMMCTL_DEFAULT_SOCKET);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct rammctl ctl = { RAMMCTL_DEFAULT_SOCKET, 0 };
	int opt;

	while ((opt = getopt_long(argc, argv, "+s:jh", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			ctl.socket_path = optarg;
			break;
		case 'j':
			ctl.json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(rammctl_cmds) / sizeof(rammctl_cmds[0]); i++)
		if (!strcmp(argv[optind], rammctl_cmds[i].name))
			return rammctl_cmds[i].fn(&ctl, argc - optind, argv + optind);
	fprintf(stderr, "rammctl: unknown command '%s'\n", argv[optind]);
	usage(stderr);
	return EXIT_USAGE;
}
