/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "market.h"
#include "ramm/bid_tiers.h"
#include "ramm/proto.h"

/* KIND_STRING: printable, no spaces, at most max bytes; may be empty. */
enum config_kind { KIND_U32, KIND_U64, KIND_SUPPLY, KIND_SOCKET, KIND_LISTEN,
		   KIND_STRING };

struct config_key {
	const char *name;
	enum config_kind kind;
	size_t offset;     /* into struct rammd_config or struct guest_config */
	uint64_t min, max; /* inclusive bounds for numbers */
};

#define RK(n, k, lo, hi) { #n, k, offsetof(struct rammd_config, n), lo, hi }
static const struct config_key config_rammd_keys[] = {
	RK(tick_ms, KIND_U32, 100, 60000),
	RK(supply_mib, KIND_SUPPLY, 0, 1ULL << 32),
	RK(host_reserve_mib, KIND_U64, 0, 1ULL << 32),
	RK(unit_mib, KIND_U64, 2, 1024),
	RK(max_plug_mib, KIND_U64, 2, 1ULL << 32),
	RK(max_unplug_mib, KIND_U64, 2, 1ULL << 32),
	RK(move_cost, KIND_U32, 0, 1000000),
	RK(quantum_mib, KIND_U64, 0, 1ULL << 20),
	RK(min_floor_mib, KIND_U64, 0, 1ULL << 32),
	RK(stale_report_ms, KIND_U32, 1000, 3600000),
	RK(resize_timeout_ms, KIND_U32, 1000, 3600000),
	RK(evict_deadline_ms, KIND_U32, 100, 600000),
	RK(evict_prepare_ms, KIND_U32, 0, 600000),
	RK(min_hold_ms, KIND_U32, 0, 600000),
	RK(shrink_delay_ms, KIND_U32, 0, 600000),
	RK(return_window_ms, KIND_U32, 0, 600000),
	RK(preempt_price, KIND_U32, 0, RAMM_MAX_PRICE),
	RK(max_price, KIND_U32, 1, RAMM_MAX_PRICE),
	RK(reserve_price, KIND_U32, 0, RAMM_MAX_PRICE),
	RK(budget_price, KIND_U32, 1, RAMM_MAX_PRICE),
	RK(savings_ticks, KIND_U32, 1, 1000000),
	RK(claim_price, KIND_U32, 1, RAMM_MAX_PRICE),
	RK(credit_idle_slack_pct, KIND_U32, 0, 1000),
	RK(credit_idle_slack_mib, KIND_U64, 0, 1ULL << 32),
	RK(credit_fall_idle, KIND_U32, 0, 1000),
	RK(credit_fall_unplug, KIND_U32, 0, 1000),
	RK(credit_rise, KIND_U32, 0, 1000),
	RK(critical_free_mib, KIND_U64, 0, 1ULL << 32),
	RK(default_weight, KIND_U32, 1, 10000),
	RK(control_socket, KIND_SOCKET, 0, 0),
	RK(scan_dir, KIND_SOCKET, 0, 0),
	RK(proxmox_dir, KIND_SOCKET, 0, 0),
	RK(proxmox_agent_dir, KIND_SOCKET, 0, 0),
	RK(metrics_listen, KIND_LISTEN, 0, 0),
	RK(state_file, KIND_SOCKET, 0, 0),
	RK(libvirt_uri, KIND_STRING, 0, CONFIG_MAX_URI),
};
#undef RK

#define GK(n, k, lo, hi) { #n, k, offsetof(struct guest_config, n), lo, hi }
static const struct config_key config_guest_keys[] = {
	{ "qmp", KIND_SOCKET, offsetof(struct guest_config, qmp_path), 0, 0 },
	{ "agent", KIND_SOCKET, offsetof(struct guest_config, agent_path), 0, 0 },
	GK(floor_mib, KIND_U64, 0, 1ULL << 32),
	GK(cap_mib, KIND_U64, 0, 1ULL << 32),
	GK(weight, KIND_U32, 0, 10000),
	GK(excluded, KIND_U32, 0, 1),
};
#undef GK

void config_market(const struct rammd_config *cfg, uint64_t unit_mib,
		   uint64_t supply_units, struct market_params *params,
		   struct market_budget *budget,
		   struct market_credit_params *credit)
{
	*params = (struct market_params){
		.supply_units = supply_units,
		.move_cost = cfg->move_cost,
		.quantum_units = (uint32_t)(cfg->quantum_mib / unit_mib),
		.reserve_price = cfg->reserve_price,
	};
	*budget = (struct market_budget){
		.income_pool = supply_units * cfg->budget_price,
		.savings_ticks = cfg->savings_ticks,
	};
	*credit = (struct market_credit_params){
		.claim_price = cfg->claim_price,
		.idle_slack_pct = cfg->credit_idle_slack_pct,
		.idle_slack_units = (uint32_t)(cfg->credit_idle_slack_mib / unit_mib),
		.fall_idle = cfg->credit_fall_idle,
		.fall_unplug = cfg->credit_fall_unplug,
		.rise = cfg->credit_rise,
	};
}

void config_defaults(struct rammd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->tick_ms = 1000;
	cfg->supply_mib = CONFIG_SUPPLY_AUTO;
	cfg->host_reserve_mib = 2048;
	cfg->unit_mib = 2;
	cfg->max_plug_mib = 4096;
	cfg->max_unplug_mib = 1024;
	cfg->move_cost = 100;
	cfg->quantum_mib = 8;
	cfg->min_floor_mib = 0;
	cfg->stale_report_ms = 5000;
	cfg->resize_timeout_ms = 30000;
	cfg->evict_deadline_ms = 5000;
	cfg->evict_prepare_ms = 2500;
	cfg->min_hold_ms = 5000;
	cfg->shrink_delay_ms = 3000;
	cfg->return_window_ms = 10000;
	cfg->preempt_price = RAMM_PRICE_SHORT;
	cfg->max_price = RAMM_PRICE_IN_USE;
	cfg->reserve_price = RAMM_PRICE_COMFORT;
	cfg->budget_price = RAMM_PRICE_IN_USE;
	cfg->savings_ticks = 300;
	cfg->claim_price = RAMM_PRICE_IN_USE;
	cfg->credit_idle_slack_pct = 10;
	cfg->credit_idle_slack_mib = 64;
	cfg->credit_fall_idle = 20;
	cfg->credit_fall_unplug = 200;
	cfg->credit_rise = 2;
	cfg->critical_free_mib = 512;
	cfg->default_weight = 100;
	snprintf(cfg->control_socket, sizeof(cfg->control_socket), "%s",
		 "/run/ramm/rammd.sock");
	snprintf(cfg->metrics_listen, sizeof(cfg->metrics_listen), "%s",
		 "127.0.0.1:9464");
	snprintf(cfg->state_file, sizeof(cfg->state_file), "%s",
		 "/var/lib/ramm/state");
	snprintf(cfg->proxmox_agent_dir, sizeof(cfg->proxmox_agent_dir), "%s",
		 "/run/ramm");
}

struct config_parser {
	const char *filename;
	unsigned int line;
	char *err;
	size_t errlen;
	/* line of each guest's [guest NAME] header, for the end-of-file checks */
	unsigned int guest_line[CONFIG_MAX_GUESTS];
};

__attribute__((format(printf, 3, 4)))
static int config_fail(struct config_parser *p, const char *key,
		       const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (key)
		snprintf(p->err, p->errlen, "%s:%u: key '%s': %s", p->filename,
			 p->line, key, what);
	else
		snprintf(p->err, p->errlen, "%s:%u: %s", p->filename, p->line,
			 what);
	return -EINVAL;
}

static char *config_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int config_set(struct config_parser *p, const struct config_key *k,
		      void *base, const char *value)
{
	char *end;
	unsigned long long n;

	if (k->kind == KIND_SOCKET) {
		if (value[0] != '/')
			return config_fail(p, k->name, "must be an absolute path");
		if (strlen(value) > CONFIG_MAX_SOCKET_PATH)
			return config_fail(p, k->name,
					   "longer than %d bytes (unix socket limit)",
					   CONFIG_MAX_SOCKET_PATH);
		strcpy((char *)base + k->offset, value);
		return 0;
	}
	if (k->kind == KIND_LISTEN) {
		if (value[0] && config_parse_listen(value, NULL))
			return config_fail(p, k->name,
					   "'%s' is not a loopback HOST:PORT (127.x.x.x:PORT or [::1]:PORT, port 1..65535), nor empty",
					   value);
		snprintf((char *)base + k->offset, CONFIG_MAX_LISTEN + 1, "%s", value);
		return 0;
	}
	if (k->kind == KIND_STRING) {
		if (strlen(value) > k->max)
			return config_fail(p, k->name, "longer than %llu bytes",
					   (unsigned long long)k->max);
		for (const char *c = value; *c; c++)
			if (!isgraph((unsigned char)*c))
				return config_fail(p, k->name,
						   "only printable characters without spaces");
		strcpy((char *)base + k->offset, value);
		return 0;
	}
	if (k->kind == KIND_SUPPLY && !strcmp(value, "auto")) {
		*(uint64_t *)((char *)base + k->offset) = CONFIG_SUPPLY_AUTO;
		return 0;
	}
	if (!isdigit((unsigned char)value[0]))
		return config_fail(p, k->name, "'%s' is not a whole number", value);
	errno = 0;
	n = strtoull(value, &end, 10);
	if (errno || *end)
		return config_fail(p, k->name, "'%s' is not a whole number", value);
	if (n < k->min || n > k->max)
		return config_fail(p, k->name, "%llu is outside %llu..%llu", n,
				   (unsigned long long)k->min,
				   (unsigned long long)k->max);
	if (k->kind == KIND_U32)
		*(uint32_t *)((char *)base + k->offset) = (uint32_t)n;
	else
		*(uint64_t *)((char *)base + k->offset) = n;
	return 0;
}

int config_parse_listen(const char *s, struct config_listen *out)
{
	struct config_listen l = { 0 };
	const char *colon;
	char *end;
	unsigned long port;
	size_t host_len;

	if (strlen(s) > CONFIG_MAX_LISTEN)
		return -EINVAL;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		host_len = (size_t)(close - s - 1);
		if (host_len != 3 || strncmp(s + 1, "::1", 3))
			return -EINVAL;
		l.ipv6 = 1;
		colon = close + 1;
	} else {
		struct in_addr in;

		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		host_len = (size_t)(colon - s);
		if (host_len >= sizeof(l.host) ||
		    !isdigit((unsigned char)s[0]))
			return -EINVAL;
		memcpy(l.host, s, host_len);
		l.host[host_len] = '\0';
		/* Dotted quad only (inet_pton), in 127.0.0.0/8. */
		if (inet_pton(AF_INET, l.host, &in) != 1 ||
		    (ntohl(in.s_addr) >> 24) != 127)
			return -EINVAL;
	}
	if (l.ipv6)
		strcpy(l.host, "::1");
	if (!isdigit((unsigned char)colon[1]))
		return -EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port < 1 || port > 65535)
		return -EINVAL;
	l.port = (uint16_t)port;
	if (out)
		*out = l;
	return 0;
}

int config_valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= CONFIG_MAX_NAME)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return 0;
	return 1;
}

static int config_section(struct config_parser *p, char *header,
			  struct rammd_config *cfg, struct guest_config **guest)
{
	char *name;

	header = config_trim(header);
	if (!strcmp(header, "rammd")) {
		*guest = NULL;
		return 0;
	}
	if (strncmp(header, "guest", 5) || !isspace((unsigned char)header[5]))
		return config_fail(p, NULL, "unknown section [%s]", header);
	name = config_trim(header + 5);
	if (!config_valid_name(name))
		return config_fail(p, NULL,
				   "guest name '%s' must be 1-63 of [A-Za-z0-9._-]",
				   name);
	for (size_t i = 0; i < cfg->n_guests; i++)
		if (!strcmp(cfg->guests[i].name, name))
			return config_fail(p, NULL, "guest '%s' defined twice", name);
	if (cfg->n_guests == CONFIG_MAX_GUESTS)
		return config_fail(p, NULL, "more than %d guests", CONFIG_MAX_GUESTS);
	p->guest_line[cfg->n_guests] = p->line;
	*guest = &cfg->guests[cfg->n_guests++];
	strcpy((*guest)->name, name);
	return 0;
}

static int config_check_guests(struct config_parser *p, struct rammd_config *cfg)
{
	for (size_t i = 0; i < cfg->n_guests; i++) {
		struct guest_config *g = &cfg->guests[i];

		p->line = p->guest_line[i];
		/* Neither: settings for a guest found by scan_dir or libvirt. */
		if (!g->qmp_path[0] != !g->agent_path[0])
			return config_fail(p, g->qmp_path[0] ? "agent" : "qmp",
					   "guest '%s' needs both qmp and agent",
					   g->name);
		if (g->cap_mib && g->floor_mib > g->cap_mib)
			return config_fail(p, "floor_mib",
					   "guest '%s' floor above its cap", g->name);
	}
	return 0;
}

int config_parse(const char *text, size_t len, const char *filename,
		 struct rammd_config *cfg, char *err, size_t errlen)
{
	struct config_parser p = { .filename = filename, .err = err,
				   .errlen = errlen };
	struct guest_config *guest = NULL;
	size_t pos = 0;

	while (pos < len) {
		char line[CONFIG_MAX_LINE + 1];
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		const struct config_key *keys;
		size_t n_keys;
		char *s, *eq, *key, *value;
		int ret;

		p.line++;
		if (n > CONFIG_MAX_LINE)
			return config_fail(&p, NULL, "line longer than %d bytes",
					   CONFIG_MAX_LINE);
		if (memchr(text + pos, '\0', n))
			return config_fail(&p, NULL, "NUL byte in line");
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + (nl ? 1 : 0);

		s = config_trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');

			if (!close || config_trim(close + 1)[0])
				return config_fail(&p, NULL, "malformed section header");
			*close = '\0';
			ret = config_section(&p, s + 1, cfg, &guest);
			if (ret)
				return ret;
			continue;
		}
		eq = strchr(s, '=');
		if (!eq)
			return config_fail(&p, NULL, "expected 'key = value'");
		*eq = '\0';
		key = config_trim(s);
		value = config_trim(eq + 1);
		keys = guest ? config_guest_keys : config_rammd_keys;
		n_keys = guest ? sizeof(config_guest_keys) / sizeof(keys[0])
			       : sizeof(config_rammd_keys) / sizeof(keys[0]);
		for (size_t i = 0; i < n_keys; i++) {
			if (strcmp(keys[i].name, key))
				continue;
			ret = config_set(&p, &keys[i],
					 guest ? (void *)guest : (void *)cfg, value);
			if (ret)
				return ret;
			goto next_line;
		}
		return config_fail(&p, key, "unknown key in [%s]",
				   guest ? "guest" : "rammd");
next_line:;
	}
	return config_check_guests(&p, cfg);
}

int config_load(const char *path, struct rammd_config *cfg, char *err,
		size_t errlen)
{
	char *text;
	ssize_t n;
	size_t len = 0;
	int fd, ret;

	config_defaults(cfg);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	text = malloc(CONFIG_MAX_FILE + 1);
	if (!text) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	while ((n = read(fd, text + len, CONFIG_MAX_FILE + 1 - len)) > 0) {
		len += (size_t)n;
		if (len > CONFIG_MAX_FILE)
			break;
	}
	ret = n < 0 ? -errno : 0;
	close(fd);
	if (!ret && len > CONFIG_MAX_FILE) {
		snprintf(err, errlen, "%s: larger than %d bytes", path,
			 CONFIG_MAX_FILE);
		ret = -EFBIG;
	} else if (ret) {
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
	} else {
		ret = config_parse(text, len, path, cfg, err, errlen);
	}
	free(text);
	return ret;
}
