/* SPDX-License-Identifier: MIT */
/*
 * Real VM traces for ramm-sim: the Bitbrains GWA-T-12 per-VM files (one
 * file per VM, a row about every 300 s, columns separated by ';' and
 * whitespace), read as hostile input. docs/SIMULATOR.md, "Bitbrains
 * traces", says how they become a scenario.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

/* The columns this reader uses, by position, and how many a row has. */
#define BB_COL_TIME 0
#define BB_COL_PROVISIONED 5
#define BB_COL_USAGE 6
#define BB_COLUMNS 11

/* One reading of one VM. */
struct bb_sample {
	uint64_t ts;          /* Unix seconds */
	uint32_t usage_mib;   /* memory in use, rounded to MiB */
	uint32_t provisioned_mib; /* configured size then, rounded down */
};

/* One VM's file, read. */
struct bb_vm {
	struct bb_sample *samples; /* in time order */
	size_t n;
};

/* Split @s/@len at ';' into at most @max trimmed fields; returns the count,
 * or max + 1 if there are more. */
static size_t bb_split(const char *s, size_t len, const char **f, size_t *fl,
		       size_t max)
{
	size_t k = 0, start = 0;

	for (size_t i = 0; i <= len; i++) {
		size_t a, b;

		if (i < len && s[i] != ';')
			continue;
		if (k == max)
			return max + 1;
		a = start;
		b = i;
		while (a < b && (s[a] == ' ' || s[a] == '\t'))
			a++;
		while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
			b--;
		f[k] = s + a;
		fl[k++] = b - a;
		start = i + 1;
	}
	return k;
}

/* Field @f/@len is exactly @name. */
static int bb_is(const char *f, size_t len, const char *name)
{
	return len == strlen(name) && !memcmp(f, name, len);
}

/* A plain decimal timestamp in 1..2^40 into *@v; -EINVAL otherwise. */
static int bb_parse_ts(const char *s, size_t len, uint64_t *v)
{
	uint64_t x = 0;

	if (!len || len > 13)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	if (!x || x > (1ull << 40))
		return -EINVAL;
	*v = x;
	return 0;
}

/*
 * A KB figure ("2097152.0", "1.6703488E7") in 0..16 TiB into *@mib,
 * rounded to the nearest MiB (@round_down: down); -EINVAL otherwise.
 */
static int bb_parse_kb(const char *s, size_t len, int round_down,
		       uint32_t *mib)
{
	char buf[40], *end;
	double kb;

	if (!len || len >= sizeof(buf) || strspn(s, "0123456789.eE+-") < len)
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	kb = strtod(buf, &end);
	if (errno || *end || !isfinite(kb) || kb < 0 ||
	    kb > (double)SIM_TRACE_MAX_WSS_MIB * 1024)
		return -EINVAL;
	*mib = (uint32_t)(round_down ? kb / 1024 : kb / 1024 + 0.5);
	return 0;
}

/* Check the header line @s/@len: the columns this reader needs, in place. */
static int bb_check_header(const char *s, size_t len)
{
	const char *f[BB_COLUMNS];
	size_t fl[BB_COLUMNS];

	return bb_split(s, len, f, fl, BB_COLUMNS) == BB_COLUMNS &&
	       bb_is(f[BB_COL_TIME], fl[BB_COL_TIME], "Timestamp [ms]") &&
	       bb_is(f[BB_COL_PROVISIONED], fl[BB_COL_PROVISIONED],
		     "Memory capacity provisioned [KB]") &&
	       bb_is(f[BB_COL_USAGE], fl[BB_COL_USAGE], "Memory usage [KB]") ?
	       0 : -EINVAL;
}

/* Parse file @path's text into @vm (samples heap-owned by @vm). */
static int bb_parse(const char *path, const char *text, size_t len,
		    struct bb_vm *vm, char *err, size_t errlen)
{
	size_t pos = 0, line = 0, cap = 0;
	uint64_t last_ts = 0;

	while (pos < len) {
		const char *s = text + pos, *nl, *f[BB_COLUMNS];
		size_t n, fl[BB_COLUMNS];
		struct bb_sample smp;

		line++;
		nl = memchr(s, '\n', len - pos);
		n = nl ? (size_t)(nl - s) : len - pos;
		pos += n + (nl != NULL);
		if (n && s[n - 1] == '\r')
			n--;
		if (n > SIM_BITBRAINS_MAX_LINE)
			return sim_fail(err, errlen, path, line, "line longer "
				        "than %d bytes", SIM_BITBRAINS_MAX_LINE);
		if (memchr(s, '\0', n))
			return sim_fail(err, errlen, path, line, "NUL byte");
		if (line == 1) {
			if (bb_check_header(s, n))
				return sim_fail(err, errlen, path, 1, "not a "
					        "GWA-T-12 header: want %d columns "
					        "separated by ';', with 'Timestamp "
					        "[ms]', 'Memory capacity provisioned "
					        "[KB]' and 'Memory usage [KB]' "
					        "first, sixth and seventh",
					        BB_COLUMNS);
			continue;
		}
		if (!n && pos >= len)
			break; /* the final newline */
		if (bb_split(s, n, f, fl, BB_COLUMNS) != BB_COLUMNS)
			return sim_fail(err, errlen, path, line, "want %d "
				        "columns separated by ';'", BB_COLUMNS);
		if (bb_parse_ts(f[BB_COL_TIME], fl[BB_COL_TIME], &smp.ts))
			return sim_fail(err, errlen, path, line, "bad timestamp: "
				        "want Unix seconds, a decimal in 1..2^40");
		if (smp.ts < last_ts)
			return sim_fail(err, errlen, path, line, "timestamp %"
				        PRIu64 " is before the previous row's %"
				        PRIu64, smp.ts, last_ts);
		if (bb_parse_kb(f[BB_COL_PROVISIONED], fl[BB_COL_PROVISIONED],
				1, &smp.provisioned_mib) ||
		    bb_parse_kb(f[BB_COL_USAGE], fl[BB_COL_USAGE], 0,
				&smp.usage_mib))
			return sim_fail(err, errlen, path, line, "bad memory "
				        "figure: want KB, a decimal in 0..16 TiB");
		last_ts = smp.ts;
		if (vm->n == cap) {
			struct bb_sample *more;

			cap = cap ? 2 * cap : 1024;
			more = realloc(vm->samples, cap * sizeof(*more));
			if (!more)
				return -ENOMEM;
			vm->samples = more;
		}
		vm->samples[vm->n++] = smp;
	}
	if (!vm->n)
		return sim_fail(err, errlen, path, 0, "no data rows");
	return 0;
}

/* The guest name of @path: its file name without ".csv". */
static int bb_name(const char *path, char *name)
{
	const char *base = strrchr(path, '/');
	size_t len;

	base = base ? base + 1 : path;
	len = strlen(base);
	if (len > 4 && !strcmp(base + len - 4, ".csv"))
		len -= 4;
	if (!sim_name_valid(base, len))
		return -EINVAL;
	memcpy(name, base, len);
	name[len] = '\0';
	return 0;
}

/*
 * Fill guest @g's working set from @vm: 0 before its first reading (the VM
 * is not there yet), then each reading held until the next; the last is
 * held to the end. Its cap is the largest provisioned size seen in the
 * window (0 if none).
 */
static void bb_fill(struct sim_scenario *sc, size_t g, const struct bb_vm *vm,
		    uint64_t t0, uint32_t *cap)
{
	size_t n = sc->n_guests, t = 0;
	uint32_t value = 0;

	*cap = 0;
	for (size_t i = 0; i < vm->n && t < sc->n_seconds; i++) {
		uint64_t at = vm->samples[i].ts - t0;

		for (; t < at && t < sc->n_seconds; t++)
			sc->wss_mib[t * n + g] = value;
		value = vm->samples[i].usage_mib;
		if (at < sc->n_seconds && vm->samples[i].provisioned_mib > *cap)
			*cap = vm->samples[i].provisioned_mib;
	}
	for (; t < sc->n_seconds; t++)
		sc->wss_mib[t * n + g] = value;
	for (t = 0; t < sc->n_seconds; t++)
		sc->weight[t * n + g] = SIM_TRACE_DEFAULT_WEIGHT;
}

int sim_bitbrains_load(const char *const *paths, size_t n_paths,
		       size_t seconds, const struct sim_trace_host *host,
		       struct sim_scenario **out, char *err, size_t errlen)
{
	char (*names)[SIM_NAME_MAX] = NULL;
	uint32_t *floors = NULL, *caps = NULL;
	struct sim_scenario *sc = NULL;
	struct bb_vm *vms = NULL;
	uint64_t t0 = UINT64_MAX, t_end = 0;
	int ret = 0;

	*out = NULL;
	if (!n_paths || n_paths > SIM_MAX_GUESTS || seconds > SIM_MAX_SECONDS)
		return sim_fail(err, errlen, "bitbrains", 0, "want 1..%d files "
			        "and at most %d seconds", SIM_MAX_GUESTS,
			        SIM_MAX_SECONDS);
	vms = calloc(n_paths, sizeof(*vms));
	names = calloc(n_paths, sizeof(*names));
	floors = calloc(n_paths, sizeof(*floors));
	caps = calloc(n_paths, sizeof(*caps));
	if (!vms || !names || !floors || !caps) {
		ret = -ENOMEM;
		goto out_free;
	}
	for (size_t g = 0; g < n_paths; g++) {
		char *text;
		size_t len;

		if (bb_name(paths[g], names[g])) {
			ret = sim_fail(err, errlen, paths[g], 0, "file name is "
				       "not a guest name: want 1..%d of "
				       "[A-Za-z0-9_.-], then .csv",
				       SIM_NAME_MAX - 1);
			goto out_free;
		}
		for (size_t h = 0; h < g; h++)
			if (!strcmp(names[h], names[g])) {
				ret = sim_fail(err, errlen, paths[g], 0, "a second "
					       "file for VM '%s'", names[g]);
				goto out_free;
			}
		ret = sim_read_file(paths[g], SIM_TRACE_MAX_BYTES, &text, &len);
		if (ret) {
			snprintf(err, errlen, "%s: %s", paths[g], ret == -EFBIG ?
				 "larger than " SIM_TRACE_MAX_BYTES_TEXT :
				 strerror(-ret));
			goto out_free;
		}
		ret = bb_parse(paths[g], text, len, &vms[g], err, errlen);
		free(text);
		if (ret)
			goto out_free;
		if (vms[g].samples[0].ts < t0)
			t0 = vms[g].samples[0].ts;
		if (vms[g].samples[vms[g].n - 1].ts > t_end)
			t_end = vms[g].samples[vms[g].n - 1].ts;
	}
	if (!seconds)
		seconds = t_end - t0 + 1 < SIM_MAX_SECONDS ?
			  (size_t)(t_end - t0 + 1) : SIM_MAX_SECONDS;
	sc = sim_scenario_alloc(n_paths, seconds);
	if (!sc) {
		ret = -ENOMEM;
		goto out_free;
	}
	snprintf(sc->name, sizeof(sc->name), "bitbrains");
	for (size_t g = 0; g < n_paths; g++)
		bb_fill(sc, g, &vms[g], t0, &caps[g]);
	ret = sim_trace_size(sc, (const char (*)[SIM_NAME_MAX])names, floors,
			     caps, host, "bitbrains", err, errlen);
	if (!ret && sim_scenario_check(sc))
		ret = sim_fail(err, errlen, "bitbrains", 0, "internal error: "
			       "sized scenario is invalid");
out_free:
	if (ret == -ENOMEM)
		snprintf(err, errlen, "bitbrains: %s", strerror(ENOMEM));
	for (size_t g = 0; vms && g < n_paths; g++)
		free(vms[g].samples);
	free(vms);
	free(names);
	free(floors);
	free(caps);
	if (ret) {
		sim_scenario_free(sc);
		return ret;
	}
	*out = sc;
	return 0;
}
