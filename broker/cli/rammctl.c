/* SPDX-License-Identifier: MIT */
/*
 * rammctl: the operator's view of rammd, a thin client on its control socket.
 *
 * Exit codes: 0 success, 1 rammd refused the request (an error reply),
 * 2 usage error, 3 rammd could not be reached or answered garbage,
 * 4 permission denied (a change needs root or the ramm group).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "unix_socket.h"

#define RAMMCTL_DEFAULT_SOCKET "/run/ramm/rammd.sock"
/* A state reply for hundreds of guests is well under this. */
#define RAMMCTL_MAX_REPLY (16 * 1024 * 1024)

enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3, EXIT_DENIED = 4 };

struct rammctl {
	const char *socket_path;
	int json;
};

struct rammctl_cmd {
	const char *name;
	int (*fn)(struct rammctl *ctl, int argc, char **argv);
	const char *help;
};

/* Send @req, read the whole reply. Returns a parsed object or NULL (the
 * reason already printed). */
static struct json_object *rammctl_request(const struct rammctl *ctl,
					   struct json_object *req)
{
	struct json_object *reply;
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
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	if (send(fd, text, strlen(text), MSG_NOSIGNAL) < 0 ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) < 0) {
		fprintf(stderr, "rammctl: send: %s\n", strerror(errno));
		close(fd);
		return NULL;
	}
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
	if (!buf || !len) {
		fprintf(stderr, "rammctl: rammd closed the connection without a reply\n");
		free(buf);
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

/*
 * One request; the reply, or NULL with *@status set to the exit code (the
 * reason already printed). @req is consumed.
 */
static struct json_object *rammctl_call(const struct rammctl *ctl,
					struct json_object *req, int *status)
{
	struct json_object *reply = rammctl_request(ctl, req), *err;

	json_object_put(req);
	*status = 0;
	if (!reply) {
		*status = EXIT_UNREACHABLE;
		return NULL;
	}
	if (json_object_object_get_ex(reply, "error", &err)) {
		const char *msg = json_object_get_string(err);

		fprintf(stderr, "rammctl: rammd: %s\n", msg);
		*status = strncmp(msg, "permission denied", 17) ? EXIT_REFUSED : EXIT_DENIED;
		json_object_put(reply);
		return NULL;
	}
	return reply;
}

/* {"cmd": @cmd} plus, if @guest, {"guest": @guest}. */
static struct json_object *rammctl_req(const char *cmd, const char *guest)
{
	struct json_object *req = json_object_new_object();

	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	if (guest)
		json_object_object_add(req, "guest", json_object_new_string(guest));
	return req;
}

static int rammctl_usage_error(const char *what)
{
	fprintf(stderr, "rammctl: %s (see rammctl --help)\n", what);
	return EXIT_USAGE;
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

/* @kib as "4K", "2M", "1G": a unit or page size at a glance. */
static void rammctl_format_size(long long kib, char *buf, size_t size)
{
	if (kib <= 0)
		snprintf(buf, size, "-");
	else if (kib % (1024 * 1024) == 0)
		snprintf(buf, size, "%lldG", kib / (1024 * 1024));
	else if (kib % 1024 == 0)
		snprintf(buf, size, "%lldM", kib / 1024);
	else
		snprintf(buf, size, "%lldK", kib);
}

static void rammctl_print_market(struct json_object *st)
{
	struct json_object *pools;

	printf("price %lld  supply %lld MiB  allocated %lld MiB  demand %lld MiB  unit %lld MiB  ticks %lld\n",
	       (long long)jint(st, "price"), (long long)jint(st, "supply_mib"),
	       (long long)jint(st, "allocated_mib"), (long long)jint(st, "demand_mib"),
	       (long long)jint(st, "unit_mib"), (long long)jint(st, "ticks"));
	if (jint(st, "emergency"))
		printf("EMERGENCY: host MemAvailable below critical_free_mib; reclaiming\n");
	/* Hugetlb pools clear on their own: one line each. */
	json_object_object_get_ex(st, "pools", &pools);
	for (size_t i = 1; pools && i < json_object_array_length(pools); i++) {
		struct json_object *p = json_object_array_get_idx(pools, i);
		char unit[24];

		rammctl_format_size(jint(p, "unit_kib"), unit, sizeof(unit));
		printf("pool %s: price %lld  supply %lld MiB  free %lld MiB  allocated %lld MiB  demand %lld MiB  unit %s  guests %lld\n",
		       jstr(p, "name"), (long long)jint(p, "price"),
		       (long long)jint(p, "supply_mib"), (long long)jint(p, "free_mib"),
		       (long long)jint(p, "allocated_mib"),
		       (long long)jint(p, "demand_mib"), unit,
		       (long long)jint(p, "guests"));
	}
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

/* The state, guests sorted by name; with --json printed, and NULL
 * returned with *@status 0. */
static struct json_object *rammctl_fetch(struct rammctl *ctl, const char *cmd,
					 int *status)
{
	struct json_object *st = rammctl_call(ctl, rammctl_req(cmd, NULL), status);
	struct json_object *guests;

	if (!st)
		return NULL;
	if (json_object_object_get_ex(st, "guests", &guests) &&
	    json_object_is_type(guests, json_type_array))
		json_object_array_sort(guests, rammctl_by_name);
	if (ctl->json) {
		printf("%s\n", json_object_to_json_string_ext(st, JSON_C_TO_STRING_PRETTY));
		json_object_put(st);
		return NULL;
	}
	return st;
}

/* A guest's overrides, "" if none: "excluded", "drain", "w=N f=N c=N". */
static void rammctl_format_overrides(struct json_object *g, char *buf, size_t size)
{
	struct json_object *ov;
	size_t used = 0;

	buf[0] = '\0';
	if (!json_object_object_get_ex(g, "overrides", &ov) || !ov)
		return;
	if (jint(ov, "excluded"))
		used += (size_t)snprintf(buf + used, size - used, " excluded");
	if (used < size && jint(ov, "drain"))
		used += (size_t)snprintf(buf + used, size - used, " drain");
	if (used < size && jint(ov, "weight"))
		used += (size_t)snprintf(buf + used, size - used, " weight=%lld",
					 (long long)jint(ov, "weight"));
	if (used < size && jint(ov, "floor_mib"))
		used += (size_t)snprintf(buf + used, size - used, " floor=%lld",
					 (long long)jint(ov, "floor_mib"));
	if (used < size && jint(ov, "cap_mib"))
		snprintf(buf + used, size - used, " cap=%lld", (long long)jint(ov, "cap_mib"));
}

static void rammctl_print_guests(struct json_object *st)
{
	struct json_object *guests;

	rammctl_print_market(st);
	printf("%-16s %-6s %-5s %7s %7s %7s %7s %8s %7s %6s  %s\n", "GUEST", "MODE",
	       "AGENT", "FLOOR", "CAP", "SIZE", "TARGET", "REPORT", "AVAIL", "ERRORS",
	       "BID (units@price)  [OVERRIDES]");
	json_object_object_get_ex(st, "guests", &guests);
	for (size_t i = 0; guests && i < json_object_array_length(guests); i++) {
		struct json_object *g = json_object_array_get_idx(guests, i), *c;
		char age[32], bid[1024], ov[128];
		long long errors = 0;

		rammctl_format_age(g, age, sizeof(age));
		rammctl_format_bid(g, bid, sizeof(bid));
		rammctl_format_overrides(g, ov, sizeof(ov));
		if (json_object_object_get_ex(g, "counters", &c)) {
			static const char *const kinds[] = { "oversize", "bad_json",
				"bad_field", "unknown_type", "rate_limited", "bad_unit" };

			for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
				errors += jint(c, kinds[k]);
		}
		printf("%-16s %-6s %-5s %7lld %7lld %7lld %7lld %8s %7lld %6lld  %s%s%s%s%s\n",
		       jstr(g, "name"), jstr(g, "mode"),
		       jint(g, "agent_connected") ? "up" : "down",
		       (long long)jint(g, "floor_mib"), (long long)jint(g, "cap_mib"),
		       (long long)jint(g, "size_mib"), (long long)jint(g, "target_mib"),
		       age, (long long)jint(g, "mem_available_mib"), errors, bid,
		       ov[0] ? "  [" : "", ov[0] ? ov + 1 : "", ov[0] ? "]" : "",
		       jint(g, "pins_memory") ? "  pins (VFIO)" : "");
	}
	printf("(sizes in MiB, guest totals: boot memory plus virtio-mem)\n");
}

static int cmd_guests(struct rammctl *ctl, int argc, char **argv)
{
	struct json_object *st;
	int status;

	(void)argv;
	if (argc != 1)
		return rammctl_usage_error("guests takes no arguments");
	st = rammctl_fetch(ctl, "guests", &status);
	if (!st)
		return status;
	rammctl_print_guests(st);
	json_object_put(st);
	return 0;
}

static int cmd_bids(struct rammctl *ctl, int argc, char **argv)
{
	struct json_object *st, *guests;
	int status;

	(void)argv;
	if (argc != 1)
		return rammctl_usage_error("bids takes no arguments");
	st = rammctl_fetch(ctl, "bids", &status);
	if (!st)
		return status;
	rammctl_print_market(st);
	printf("%-16s %7s %7s %7s %7s %7s %7s %6s %6s %12s %8s  %s\n", "GUEST",
	       "FLOOR", "CAP", "SIZE", "TARGET", "UNIT", "OFFER", "WEIGHT",
	       "CREDIT", "BALANCE", "REPORT", "BID (units@price above floor)");
	json_object_object_get_ex(st, "guests", &guests);
	for (size_t i = 0; guests && i < json_object_array_length(guests); i++) {
		struct json_object *g = json_object_array_get_idx(guests, i);
		char age[32], bid[1024], unit[24];

		rammctl_format_age(g, age, sizeof(age));
		rammctl_format_bid(g, bid, sizeof(bid));
		rammctl_format_size(jint(g, "unit_kib"), unit, sizeof(unit));
		printf("%-16s %7lld %7lld %7lld %7lld %7s %7lld %6lld %6.3f %12lld %8s  %s\n",
		       jstr(g, "name"), (long long)jint(g, "floor_mib"),
		       (long long)jint(g, "cap_mib"), (long long)jint(g, "size_mib"),
		       (long long)jint(g, "target_mib"), unit,
		       (long long)jint(g, "offer_mib"), (long long)jint(g, "weight"),
		       jdouble(g, "credit"), (long long)jint(g, "balance"), age, bid);
	}
	json_object_put(st);
	return 0;
}

/* ---- market ------------------------------------------------------------- */

struct rammctl_level {
	long long price;
	long long units;      /* bid at exactly this price, all guests */
	long long cumulative; /* bid at this price or more */
};

static int rammctl_by_price_desc(const void *a, const void *b)
{
	const struct rammctl_level *la = a, *lb = b;

	return (la->price < lb->price) - (la->price > lb->price);
}

/* Add @units at @price to @levels (@n of them, room for @cap). */
static size_t rammctl_add_level(struct rammctl_level *levels, size_t n,
				size_t cap, long long price, long long units)
{
	for (size_t i = 0; i < n; i++) {
		if (levels[i].price == price) {
			levels[i].units += units;
			return n;
		}
	}
	if (n == cap)
		return n;
	levels[n].price = price;
	levels[n].units = units;
	levels[n].cumulative = 0;
	return n + 1;
}

#define RAMMCTL_MAX_LEVELS 1024
#define RAMMCTL_BAR 50

/* The demand curve: every price any guest bids at, plus the clearing
 * price, highest first, with the units bid at that price or more. */
static size_t rammctl_demand_curve(struct json_object *st,
				   struct rammctl_level *levels)
{
	struct json_object *guests;
	size_t n = 0;
	long long cum = 0;

	json_object_object_get_ex(st, "guests", &guests);
	for (size_t i = 0; guests && i < json_object_array_length(guests); i++) {
		struct json_object *g = json_object_array_get_idx(guests, i), *bid;

		if (!json_object_object_get_ex(g, "bid", &bid) ||
		    !json_object_is_type(bid, json_type_array))
			continue;
		for (size_t k = 0; k < json_object_array_length(bid); k++) {
			struct json_object *step = json_object_array_get_idx(bid, k);
			long long units = json_object_get_int64(json_object_array_get_idx(step, 0));
			long long price = json_object_get_int64(json_object_array_get_idx(step, 1));

			if (units > 0 && price > 0)
				n = rammctl_add_level(levels, n, RAMMCTL_MAX_LEVELS,
						      price, units);
		}
	}
	n = rammctl_add_level(levels, n, RAMMCTL_MAX_LEVELS, jint(st, "price"), 0);
	qsort(levels, n, sizeof(levels[0]), rammctl_by_price_desc);
	for (size_t i = 0; i < n; i++) {
		cum += levels[i].units;
		levels[i].cumulative = cum;
	}
	return n;
}

static int cmd_market(struct rammctl *ctl, int argc, char **argv)
{
	struct rammctl_level *levels;
	struct json_object *st;
	long long unit, supply, price, most;
	size_t n;
	int status;

	(void)argv;
	if (argc != 1)
		return rammctl_usage_error("market takes no arguments");
	st = rammctl_call(ctl, rammctl_req("market", NULL), &status);
	if (!st)
		return status;
	levels = calloc(RAMMCTL_MAX_LEVELS, sizeof(*levels));
	if (!levels) {
		json_object_put(st);
		fprintf(stderr, "rammctl: out of memory\n");
		return EXIT_REFUSED;
	}
	n = rammctl_demand_curve(st, levels);
	unit = jint(st, "unit_mib");
	supply = jint(st, "supply_mib");
	price = jint(st, "price");
	if (ctl->json) {
		struct json_object *o = json_object_new_object();
		struct json_object *arr = json_object_new_array();

		json_object_object_add(o, "price", json_object_new_int64(price));
		json_object_object_add(o, "supply_mib", json_object_new_int64(supply));
		json_object_object_add(o, "allocated_mib", json_object_new_int64(jint(st, "allocated_mib")));
		json_object_object_add(o, "demand_mib", json_object_new_int64(jint(st, "demand_mib")));
		json_object_object_add(o, "reserve_price", json_object_new_int64(jint(st, "reserve_price")));
		json_object_object_add(o, "unit_mib", json_object_new_int64(unit));
		for (size_t i = 0; i < n; i++) {
			struct json_object *l = json_object_new_object();

			json_object_object_add(l, "price", json_object_new_int64(levels[i].price));
			json_object_object_add(l, "demand_mib",
					       json_object_new_int64(levels[i].cumulative * unit));
			json_object_array_add(arr, l);
		}
		json_object_object_add(o, "demand_curve", arr);
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
		json_object_put(o);
		free(levels);
		json_object_put(st);
		return 0;
	}
	rammctl_print_market(st);
	printf("demand curve: MiB bid above the floors at each price or more (raw bids,\n"
	       "before credit and budgets); '|' marks the supply, %lld MiB; reserve price %lld\n\n",
	       supply, (long long)jint(st, "reserve_price"));
	most = supply;
	for (size_t i = 0; i < n; i++)
		if (levels[i].cumulative * unit > most)
			most = levels[i].cumulative * unit;
	printf("  %7s %9s\n", "PRICE", "DEMAND");
	for (size_t i = 0; i < n; i++) {
		long long demand = levels[i].cumulative * unit;
		int is_price = levels[i].price == price;
		char bar[RAMMCTL_BAR + 2];
		long long bar_len = most ? demand * RAMMCTL_BAR / most : 0;
		long long supply_col = most ? supply * RAMMCTL_BAR / most : 0;

		if (levels[i].price == 0 && !is_price)
			continue;
		for (int c = 0; c <= RAMMCTL_BAR; c++)
			bar[c] = c < bar_len ? '#' : ' ';
		if (supply_col > RAMMCTL_BAR)
			supply_col = RAMMCTL_BAR;
		bar[supply_col] = '|';
		bar[RAMMCTL_BAR + 1] = '\0';
		for (int c = RAMMCTL_BAR; c >= 0 && bar[c] == ' '; c--)
			bar[c] = '\0';
		printf("%s %7lld %9lld %s%s\n", is_price ? ">" : " ", levels[i].price,
		       demand, bar, is_price ? "  <== clearing price" : "");
	}
	if (!price)
		printf("\nclearing price 0: the supply covers every bid above the reserve price\n");
	free(levels);
	json_object_put(st);
	return 0;
}

/* ---- history ------------------------------------------------------------ */

static int cmd_history(struct rammctl *ctl, int argc, char **argv)
{
	struct json_object *h, *entries;
	const char *guest = NULL;
	long last = 20;
	size_t len, from;
	int status;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			char *end;

			last = strtol(argv[++i], &end, 10);
			if (*end || last < 0)
				return rammctl_usage_error("history: -n takes a count (0: all)");
		} else if (!guest && argv[i][0] != '-') {
			guest = argv[i];
		} else {
			return rammctl_usage_error("usage: rammctl history GUEST [-n COUNT]");
		}
	}
	if (!guest)
		return rammctl_usage_error("usage: rammctl history GUEST [-n COUNT]");
	h = rammctl_call(ctl, rammctl_req("history", guest), &status);
	if (!h)
		return status;
	if (ctl->json) {
		printf("%s\n", json_object_to_json_string_ext(h, JSON_C_TO_STRING_PRETTY));
		json_object_put(h);
		return 0;
	}
	json_object_object_get_ex(h, "entries", &entries);
	len = entries ? json_object_array_length(entries) : 0;
	from = last && (size_t)last < len ? len - (size_t)last : 0;
	printf("guest %s: %zu ticks kept (at most %lld, one per %lld ms); the last %zu:\n",
	       guest, len, (long long)jint(h, "capacity"), (long long)jint(h, "tick_ms"),
	       len - from);
	printf("%-12s %8s %8s %6s %6s %14s\n", "TIME (UTC)", "SIZE", "TARGET",
	       "PRICE", "CREDIT", "BALANCE");
	for (size_t i = from; i < len; i++) {
		struct json_object *e = json_object_array_get_idx(entries, i);
		long long ms = jint(e, "time_ms");
		time_t secs = (time_t)(ms / 1000);
		struct tm tm;
		char when[16];

		gmtime_r(&secs, &tm);
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
		printf("%s.%03lld %8lld %8lld %6lld %6.3f %14lld\n", when, ms % 1000,
		       (long long)jint(e, "size_mib"), (long long)jint(e, "target_mib"),
		       (long long)jint(e, "price"), jdouble(e, "credit"),
		       (long long)jint(e, "balance"));
	}
	printf("(sizes in MiB)\n");
	json_object_put(h);
	return 0;
}

/* ---- top ---------------------------------------------------------------- */

static volatile sig_atomic_t rammctl_stop;

static void rammctl_on_signal(int sig)
{
	(void)sig;
	rammctl_stop = 1;
}

/* Wait up to @ms for 'q' on stdin (a tty in non-canonical mode). Returns 1
 * if the user asked to quit or a signal came. */
static int rammctl_wait_key(int ms)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	char c;

	if (poll(&pfd, 1, ms) > 0 && read(STDIN_FILENO, &c, 1) == 1 &&
	    (c == 'q' || c == 'Q' || c == 3))
		return 1;
	return rammctl_stop;
}

static int cmd_top(struct rammctl *ctl, int argc, char **argv)
{
	int once = !isatty(STDOUT_FILENO) || ctl->json, status = 0;
	int tty_in = isatty(STDIN_FILENO);
	struct termios saved, raw;
	struct sigaction sa = { .sa_handler = rammctl_on_signal };

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--once") || !strcmp(argv[i], "-1"))
			once = 1;
		else
			return rammctl_usage_error("usage: rammctl top [--once]");
	}
	if (once) {
		struct json_object *st = rammctl_fetch(ctl, "guests", &status);

		if (!st)
			return status;
		rammctl_print_guests(st);
		json_object_put(st);
		return 0;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (tty_in && !tcgetattr(STDIN_FILENO, &saved)) {
		raw = saved;
		raw.c_lflag &= (tcflag_t)~(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	} else {
		tty_in = 0;
	}
	printf("\033[?25l"); /* hide the cursor */
	while (!rammctl_stop) {
		struct json_object *st = rammctl_call(ctl, rammctl_req("guests", NULL), &status);
		struct json_object *guests;
		time_t now = time(NULL);
		struct tm tm;
		char when[32];

		if (!st)
			break;
		if (json_object_object_get_ex(st, "guests", &guests) &&
		    json_object_is_type(guests, json_type_array))
			json_object_array_sort(guests, rammctl_by_name);
		localtime_r(&now, &tm);
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
		printf("\033[H\033[2J");
		printf("rammctl top  %s  (q to quit)\n", when);
		rammctl_print_guests(st);
		fflush(stdout);
		json_object_put(st);
		if (rammctl_wait_key(1000))
			break;
	}
	printf("\033[?25h");
	fflush(stdout);
	if (tty_in)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	return status;
}

/* ---- changes ------------------------------------------------------------ */

/* Send a change, print the guest's limits and overrides after it. */
static int rammctl_change(struct rammctl *ctl, struct json_object *req)
{
	struct json_object *r;
	char ov[128];
	int status;

	r = rammctl_call(ctl, req, &status);
	if (!r)
		return status;
	if (ctl->json) {
		printf("%s\n", json_object_to_json_string_ext(r, JSON_C_TO_STRING_PRETTY));
	} else {
		rammctl_format_overrides(r, ov, sizeof(ov));
		printf("guest %s: floor %lld MiB, cap %lld MiB; overrides: %s\n",
		       jstr(r, "guest"), (long long)jint(r, "floor_mib"),
		       (long long)jint(r, "cap_mib"), ov[0] ? ov + 1 : "none");
	}
	json_object_put(r);
	return 0;
}

static int cmd_set(struct rammctl *ctl, int argc, char **argv)
{
	struct json_object *req;
	unsigned long long v;
	char *end;

	if (argc != 4 || (strcmp(argv[2], "weight") && strcmp(argv[2], "floor") &&
			  strcmp(argv[2], "cap")))
		return rammctl_usage_error("usage: rammctl set GUEST weight|floor|cap VALUE");
	errno = 0;
	v = strtoull(argv[3], &end, 10);
	if (!isdigit((unsigned char)argv[3][0]) || *end || errno || v > INT64_MAX)
		return rammctl_usage_error("set: VALUE is a whole number (MiB for floor and cap; 0 clears)");
	req = rammctl_req("set", argv[1]);
	json_object_object_add(req, "key", json_object_new_string(argv[2]));
	json_object_object_add(req, "value", json_object_new_int64((int64_t)v));
	return rammctl_change(ctl, req);
}

static int cmd_flag(struct rammctl *ctl, int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "rammctl: usage: rammctl %s GUEST\n", argv[0]);
		return EXIT_USAGE;
	}
	return rammctl_change(ctl, rammctl_req(argv[0], argv[1]));
}

static const struct rammctl_cmd rammctl_cmds[] = {
	{ "guests", cmd_guests, "each guest's agent mode, floor, cap, size, target and report age" },
	{ "bids", cmd_bids, "each guest's bid curve beside its size and target, with the clearing price" },
	{ "market", cmd_market, "the demand curve against the supply, clearing price marked" },
	{ "history", cmd_history, "GUEST [-n N]: its last ticks (size, target, price, credit)" },
	{ "top", cmd_top, "[--once]: live view, refreshed every second (q quits)" },
	{ "set", cmd_set, "GUEST weight|floor|cap VALUE: override (MiB; 0 clears)" },
	{ "exclude", cmd_flag, "GUEST: freeze it at its size, out of the market" },
	{ "include", cmd_flag, "GUEST: back in the market (clears exclude and drain)" },
	{ "drain", cmd_flag, "GUEST: take it back to its floor, whatever it bids" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: rammctl [-s SOCKET] [--json] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(rammctl_cmds) / sizeof(rammctl_cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", rammctl_cmds[i].name, rammctl_cmds[i].help);
	fprintf(f, "\noptions:\n"
		"  -s, --socket PATH  rammd control socket (default %s)\n"
		"  -j, --json         print the reply as JSON (every command)\n"
		"\nset, exclude, include and drain need root or group %s.\n"
		"\nexit codes:\n"
		"  0  ok\n"
		"  1  rammd refused the request (an error reply)\n"
		"  2  usage error\n"
		"  3  rammd unreachable, or its reply unreadable\n"
		"  4  permission denied\n",
		RAMMCTL_DEFAULT_SOCKET, "ramm");
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
	int opt, n = 0;

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
	/* --json may also follow the command. */
	for (int i = optind; i < argc; i++) {
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			ctl.json = 1;
		else
			argv[optind + n++] = argv[i];
	}
	for (size_t i = 0; i < sizeof(rammctl_cmds) / sizeof(rammctl_cmds[0]); i++)
		if (!strcmp(argv[optind], rammctl_cmds[i].name))
			return rammctl_cmds[i].fn(&ctl, n, argv + optind);
	fprintf(stderr, "rammctl: unknown command '%s'\n", argv[optind]);
	usage(stderr);
	return EXIT_USAGE;
}
