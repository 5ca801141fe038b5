/* SPDX-License-Identifier: MIT */
/*
 * ramm-sim's scenarios: the built-in seeded ones, made from a table of
 * guests and their demand shapes, and CSV traces, parsed as hostile input.
 * docs/SIMULATOR.md describes both.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ramm/proto.h"
#include "scenario.h"

#define UNIT_MIB ((uint32_t)(RAMM_DEFAULT_UNIT_BYTES >> 20))
#define GIB(x) ((uint32_t)((x) * 1024))
#define MIN_WSS_MIB 256u

/* ---- built-in scenarios ---------------------------------------------------- */

/*
 * A guest's working set over time: the sum of the parts below, times a slow
 * random drift, never below MIN_WSS_MIB. A zero field turns its part off.
 */
struct shape {
	uint32_t base;       /* MiB at rest */
	uint32_t amp;        /* daily swing: base +- amp MiB ... */
	uint32_t period;     /* ... over this many seconds (a compressed day) */
	uint32_t phase;      /* seconds the swing is shifted back */
	uint32_t drift_pct;  /* slow random drift, typically within +- this % */
	uint32_t step_at;    /* from this second on ... */
	uint32_t step;       /* ... this many MiB more (a job starts) */
	uint32_t leak_from;  /* from this second on ... */
	uint32_t leak;       /* ... this many MiB more every second ... */
	uint32_t leak_reset; /* ... until this second (restart), then again */
	uint32_t burst;      /* MiB a burst adds, reached over BURST_RAMP s */
	uint32_t burst_gap;  /* mean seconds between bursts (+- 50 %) */
	uint32_t burst_min;  /* shortest burst, s */
	uint32_t burst_max;  /* longest burst, s */
	uint32_t burst_at;   /* first burst starts here; 0: after a gap */
};

#define BURST_RAMP 10u

/* One guest of a built-in scenario; its floor is FLOOR_MIB. */
struct guest_def {
	const char *name;
	uint32_t static_mib; /* configured size; statics sum to the host */
	uint32_t cap_mib;
	uint32_t weight;     /* the same every second */
	int overbidder;      /* as sim_guest_spec */
	struct shape shape;  /* its working set over time */
	uint32_t page_mib;   /* as sim_guest_spec: 0, or a hugetlbfs page */
};

#define MAX_DEF_GUESTS 8

struct scenario_def {
	const char *name;
	const char *summary;  /* one line for --list */
	uint32_t seconds;     /* its length */
	struct guest_def guests[MAX_DEF_GUESTS]; /* ends at a NULL name */
};

/* Every guest boots with 1 GiB, the floor no policy goes below. */
#define FLOOR_MIB GIB(1)

/* A compressed day: 900 s. */
#define DAY 900u

/* Hugetlbfs page sizes, for guest_def.page_mib. */
#define PAGE_2M 2u
#define PAGE_1G 1024u

/* Guests on ordinary memory leave page_mib out of their entry (0). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct scenario_def scenarios[SIM_N_SCENARIOS] = {
{ "steady", "flat working sets; two jobs start and hold (host 48 GiB)", 1200, {
	{ "web1", GIB(8), GIB(16), 100, 0, { .base = GIB(7), .drift_pct = 3 } },
	{ "web2", GIB(8), GIB(16), 100, 0, { .base = GIB(7.5), .drift_pct = 3 } },
	{ "db", GIB(12), GIB(20), 100, 0, { .base = GIB(10), .drift_pct = 2,
		.step_at = 700, .step = GIB(5) } },
	{ "cache", GIB(8), GIB(12), 100, 0, { .base = GIB(7), .drift_pct = 2 } },
	{ "batch", GIB(8), GIB(16), 100, 0, { .base = GIB(4), .drift_pct = 3,
		.step_at = 400, .step = GIB(8) } },
	{ "idle", GIB(4), GIB(8), 100, 0, { .base = GIB(1.5), .drift_pct = 5 } },
} },
{ "diurnal", "two compressed days: web peaks by day, batch by night (host 64 GiB)",
  1800, {
	{ "web-a", GIB(10), GIB(20), 100, 0, { .base = GIB(9), .amp = GIB(7),
		.period = DAY, .drift_pct = 3 } },
	{ "web-b", GIB(10), GIB(20), 100, 0, { .base = GIB(9), .amp = GIB(7),
		.period = DAY, .phase = 30, .drift_pct = 3 } },
	{ "api", GIB(8), GIB(16), 100, 0, { .base = GIB(7), .amp = GIB(4),
		.period = DAY, .phase = 60, .drift_pct = 3 } },
	{ "db", GIB(12), GIB(20), 100, 0, { .base = GIB(11), .amp = GIB(3),
		.period = DAY, .drift_pct = 2 } },
	{ "report", GIB(8), GIB(16), 100, 0, { .base = GIB(5), .amp = GIB(4),
		.period = DAY, .phase = DAY / 2, .drift_pct = 3 } },
	{ "backup", GIB(6), GIB(12), 100, 0, { .base = GIB(3), .amp = GIB(2),
		.period = DAY, .phase = DAY / 2, .drift_pct = 3 } },
	{ "dev", GIB(4), GIB(8), 100, 0, { .base = GIB(2.5), .amp = GIB(1.5),
		.period = DAY, .phase = 200, .drift_pct = 5 } },
	{ "mail", GIB(6), GIB(10), 100, 0, { .base = GIB(3.5), .amp = GIB(1.5),
		.period = DAY, .drift_pct = 3 } },
} },
{ "bursty", "small bases, random bursts of CI and analytics jobs, a release storm at "
  "500 s (host 48 GiB)", 1200, {
	{ "ci-1", GIB(8), GIB(16), 100, 0, { .base = GIB(2), .drift_pct = 5,
		.burst = GIB(10), .burst_gap = 120, .burst_min = 30,
		.burst_max = 120, .burst_at = 500 } },
	{ "ci-2", GIB(8), GIB(16), 100, 0, { .base = GIB(2), .drift_pct = 5,
		.burst = GIB(10), .burst_gap = 120, .burst_min = 30,
		.burst_max = 120, .burst_at = 510 } },
	{ "analytics", GIB(12), GIB(20), 100, 0, { .base = GIB(3),
		.drift_pct = 5, .burst = GIB(14), .burst_gap = 200,
		.burst_min = 60, .burst_max = 200, .burst_at = 520 } },
	{ "web", GIB(8), GIB(12), 100, 0, { .base = GIB(4), .drift_pct = 5,
		.burst = GIB(2), .burst_gap = 60, .burst_min = 10,
		.burst_max = 30 } },
	{ "db", GIB(8), GIB(14), 100, 0, { .base = GIB(6), .drift_pct = 2 } },
	{ "build", GIB(4), GIB(8), 100, 0, { .base = GIB(1), .drift_pct = 5,
		.burst = GIB(5), .burst_gap = 150, .burst_min = 20,
		.burst_max = 90 } },
} },
{ "leak", "one guest leaks 10 MiB/s until restarted at 1400 s (host 40 GiB)", 1800, {
	{ "app", GIB(8), GIB(16), 100, 0, { .base = GIB(3), .drift_pct = 2,
		.leak_from = 120, .leak = 10, .leak_reset = 1400 } },
	{ "db", GIB(12), GIB(20), 100, 0, { .base = GIB(11), .drift_pct = 2 } },
	{ "web", GIB(8), GIB(16), 100, 0, { .base = GIB(6), .amp = GIB(1.5),
		.period = 600, .drift_pct = 3 } },
	{ "cache", GIB(8), GIB(12), 100, 0, { .base = GIB(7), .drift_pct = 2 } },
	{ "ops", GIB(4), GIB(8), 100, 0, { .base = GIB(2), .drift_pct = 5 } },
} },
{ "overbidder", "one guest bids the maximum for its whole cap; four others want more "
  "than the supply (host 40 GiB)", 1200, {
	{ "greedy", GIB(8), GIB(16), 100, 1, { .base = GIB(3), .drift_pct = 3 } },
	{ "w1", GIB(8), GIB(16), 100, 0, { .base = GIB(9.5), .amp = GIB(3),
		.period = 600, .drift_pct = 3 } },
	{ "w2", GIB(8), GIB(16), 100, 0, { .base = GIB(9.5), .amp = GIB(3),
		.period = 600, .phase = 50, .drift_pct = 3 } },
	{ "w3", GIB(8), GIB(16), 100, 0, { .base = GIB(9.5), .amp = GIB(3),
		.period = 600, .phase = 100, .drift_pct = 3 } },
	{ "w4", GIB(8), GIB(16), 100, 0, { .base = GIB(9.5), .amp = GIB(3),
		.period = 600, .phase = 150, .drift_pct = 3 } },
} },
{ "mixed", "diurnal, steady, bursty and leaking guests with unequal weights "
  "(host 64 GiB)", 1800, {
	{ "web", GIB(10), GIB(20), 100, 0, { .base = GIB(7), .amp = GIB(5),
		.period = DAY, .drift_pct = 3 } },
	{ "db", GIB(12), GIB(20), 200, 0, { .base = GIB(10), .drift_pct = 2,
		.step_at = 900, .step = GIB(3) } },
	{ "ci", GIB(8), GIB(16), 50, 0, { .base = GIB(2), .drift_pct = 5,
		.burst = GIB(10), .burst_gap = 150, .burst_min = 30,
		.burst_max = 120 } },
	{ "leaky", GIB(8), GIB(16), 100, 0, { .base = GIB(3), .drift_pct = 2,
		.leak_from = 300, .leak = 6, .leak_reset = 1500 } },
	{ "analytics", GIB(8), GIB(16), 100, 0, { .base = GIB(2),
		.drift_pct = 5, .burst = GIB(12), .burst_gap = 300,
		.burst_min = 60, .burst_max = 240 } },
	{ "cache", GIB(8), GIB(12), 100, 0, { .base = GIB(6.5), .amp = GIB(1),
		.period = DAY, .phase = 100, .drift_pct = 2 } },
	{ "batch", GIB(6), GIB(12), 50, 0, { .base = GIB(4), .amp = GIB(3.5),
		.period = DAY, .phase = DAY / 2, .drift_pct = 3 } },
	{ "idle", GIB(4), GIB(8), 25, 0, { .base = GIB(1.2), .drift_pct = 5 } },
} },
/* Hugetlbfs-backed guests: three big VMs on 1 GiB pages, five smaller ones
 * on 2 MiB pages. Each page size is a pool of its own (sim_pools()): 64 GiB
 * of 1 GiB pages, 36 GiB of 2 MiB pages. */
{ "hugepages", "big VMs on 1 GiB pages, bursty and diurnal ones on 2 MiB pages "
  "(host 100 GiB)", 1800, {
	{ "oltp", GIB(24), GIB(40), 100, 0, { .base = GIB(19), .amp = GIB(5),
		.period = DAY, .drift_pct = 3 }, PAGE_1G },
	{ "warehouse", GIB(24), GIB(40), 100, 0, { .base = GIB(10),
		.drift_pct = 4, .burst = GIB(16), .burst_gap = 240,
		.burst_min = 90, .burst_max = 300 }, PAGE_1G },
	{ "jvm", GIB(16), GIB(28), 100, 0, { .base = GIB(11), .amp = GIB(1.5),
		.period = 300, .drift_pct = 3, .step_at = 900,
		.step = GIB(6) }, PAGE_1G },
	{ "web-1", GIB(8), GIB(16), 100, 0, { .base = GIB(5.5), .amp = GIB(4),
		.period = DAY, .drift_pct = 3 }, PAGE_2M },
	{ "web-2", GIB(8), GIB(16), 100, 0, { .base = GIB(5.5), .amp = GIB(4),
		.period = DAY, .phase = 60, .drift_pct = 3 }, PAGE_2M },
	{ "ci", GIB(8), GIB(16), 100, 0, { .base = GIB(2), .drift_pct = 5,
		.burst = GIB(10), .burst_gap = 150, .burst_min = 30,
		.burst_max = 120 }, PAGE_2M },
	{ "cache", GIB(6), GIB(12), 100, 0, { .base = GIB(4.5), .amp = GIB(1),
		.period = DAY, .phase = 100, .drift_pct = 2 }, PAGE_2M },
	{ "batch", GIB(6), GIB(12), 100, 0, { .base = GIB(3), .amp = GIB(2.5),
		.period = DAY, .phase = DAY / 2, .drift_pct = 3 }, PAGE_2M },
} },
};
#pragma GCC diagnostic pop

/* splitmix64: small, fast, and the same on every platform. */
struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static double rng_signed(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1p-52 - 1.0;
}

/* Uniform in [lo, hi]; lo <= hi. */
static uint32_t rng_range(struct rng *r, uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(rng_next(r) % ((uint64_t)hi - lo + 1));
}

/* Fill wss[t * stride] for t < n with @sh's working set, drawing on @r. */
static void shape_fill(const struct shape *sh, struct rng *r, uint32_t *wss,
		       size_t n, size_t stride)
{
	double drift = 0;
	size_t burst_start = 0, burst_end = 0;
	size_t next_burst = sh->burst_at ? sh->burst_at :
			    rng_range(r, sh->burst_gap / 2, sh->burst_gap * 3 / 2);

	for (size_t t = 0; t < n; t++) {
		double v = sh->base;

		if (sh->period)
			v += sh->amp * sin(2 * M_PI * (double)(t + sh->phase) /
					   sh->period);
		if (sh->step_at && t >= sh->step_at)
			v += sh->step;
		if (sh->leak && t >= sh->leak_from)
			v += (double)sh->leak *
			     (double)(sh->leak_reset && t >= sh->leak_reset ?
				      t - sh->leak_reset : t - sh->leak_from);
		if (sh->burst && t == next_burst) {
			burst_start = t;
			burst_end = t + rng_range(r, sh->burst_min, sh->burst_max);
			next_burst = burst_end + rng_range(r, sh->burst_gap / 2,
							   sh->burst_gap * 3 / 2);
		}
		if (sh->burst && t >= burst_start && t < burst_end) {
			size_t in = t - burst_start + 1;

			v += in >= BURST_RAMP ? sh->burst :
			     (double)sh->burst * (double)in / BURST_RAMP;
		}
		/* Mean-reverting random walk: typically within +-1. */
		drift = 0.98 * drift + 0.2 * rng_signed(r);
		v *= 1.0 + drift * sh->drift_pct / 100.0;
		wss[t * stride] = v < MIN_WSS_MIB ? MIN_WSS_MIB : (uint32_t)v;
	}
}

const char *sim_scenario_name(size_t i)
{
	return i < SIM_N_SCENARIOS ? scenarios[i].name : NULL;
}

const char *sim_scenario_summary(size_t i)
{
	return i < SIM_N_SCENARIOS ? scenarios[i].summary : NULL;
}

/* A scenario with zeroed specs and arrays for @n_guests x @n_seconds. */
struct sim_scenario *sim_scenario_alloc(size_t n_guests, size_t n_seconds)
{
	struct sim_scenario *sc = calloc(1, sizeof(*sc));

	if (!sc)
		return NULL;
	sc->n_guests = n_guests;
	sc->n_seconds = n_seconds;
	sc->unit_mib = UNIT_MIB;
	sc->ramm_reserve_price = SIM_RESERVE_DEFAULT;
	sc->wss_mib = calloc(n_guests * n_seconds, sizeof(uint32_t));
	sc->weight = calloc(n_guests * n_seconds, sizeof(uint32_t));
	if (!sc->wss_mib || !sc->weight) {
		sim_scenario_free(sc);
		return NULL;
	}
	return sc;
}

int sim_scenario_build(const char *name, uint64_t seed,
		       struct sim_scenario **out)
{
	const struct scenario_def *def = NULL;
	struct sim_scenario *sc;
	size_t n = 0;

	*out = NULL;
	for (size_t i = 0; i < SIM_N_SCENARIOS; i++)
		if (!strcmp(scenarios[i].name, name))
			def = &scenarios[i];
	if (!def)
		return -ENOENT;
	while (n < MAX_DEF_GUESTS && def->guests[n].name)
		n++;
	sc = sim_scenario_alloc(n, def->seconds);
	if (!sc)
		return -ENOMEM;
	snprintf(sc->name, sizeof(sc->name), "%s", def->name);
	for (size_t g = 0; g < n; g++) {
		const struct guest_def *gd = &def->guests[g];
		struct sim_guest_spec *spec = &sc->guests[g];
		/* Each guest draws from its own stream: adding a guest
		 * leaves the others' demand as it was. */
		struct rng r = { seed * 0x100000001b3ull + g };

		snprintf(spec->name, sizeof(spec->name), "%s", gd->name);
		spec->floor_mib = FLOOR_MIB;
		spec->static_mib = gd->static_mib;
		spec->cap_mib = gd->cap_mib;
		spec->overbidder = gd->overbidder;
		spec->page_mib = gd->page_mib;
		sc->host_mib += gd->static_mib;
		shape_fill(&gd->shape, &r, sc->wss_mib + g, sc->n_seconds, n);
		for (size_t t = 0; t < sc->n_seconds; t++)
			sc->weight[t * n + g] = gd->weight;
	}
	*out = sc;
	return 0;
}

void sim_scenario_free(struct sim_scenario *sc)
{
	if (!sc)
		return;
	free(sc->wss_mib);
	free(sc->weight);
	free(sc);
}

int sim_name_valid(const char *s, size_t len)
{
	if (len == 0 || len >= SIM_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') &&
		    !(s[i] >= '0' && s[i] <= '9') && s[i] != '_' && s[i] != '.' &&
		    s[i] != '-')
			return 0;
	return 1;
}

int sim_scenario_check(const struct sim_scenario *sc)
{
	uint32_t pages[SIM_MAX_POOLS];
	uint64_t floors = 0, statics = 0;
	size_t n = sc->n_guests, n_pages = 0, p;

	if (n < 1 || n > SIM_MAX_GUESTS || sc->n_seconds < 1 ||
	    sc->n_seconds > SIM_MAX_SECONDS || sc->unit_mib < 1 ||
	    !sc->wss_mib || !sc->weight)
		return -EINVAL;
	for (size_t g = 0; g < n; g++) {
		const struct sim_guest_spec *s = &sc->guests[g];

		if (!sim_name_valid(s->name, strnlen(s->name, SIM_NAME_MAX)) ||
		    s->floor_mib < sc->unit_mib || s->static_mib < s->floor_mib ||
		    s->cap_mib < s->static_mib ||
		    (s->static_mib - s->floor_mib) % sc->unit_mib ||
		    (s->cap_mib - s->floor_mib) % sc->unit_mib)
			return -EINVAL;
		/* A page is a power of two of whole units, and the sizes
		 * are whole pages. */
		if (s->page_mib && ((s->page_mib & (s->page_mib - 1)) ||
				    s->page_mib % sc->unit_mib ||
				    s->floor_mib % s->page_mib ||
				    s->static_mib % s->page_mib ||
				    s->cap_mib % s->page_mib))
			return -EINVAL;
		p = 0;
		while (p < n_pages && pages[p] != s->page_mib)
			p++;
		if (p == n_pages && n_pages == SIM_MAX_POOLS)
			return -EINVAL;
		if (p == n_pages)
			pages[n_pages++] = s->page_mib;
		floors += s->floor_mib;
		statics += s->static_mib;
	}
	if (statics > sc->host_mib || floors > sc->host_mib)
		return -EINVAL;
	for (size_t i = 0; i < n * sc->n_seconds; i++)
		if (sc->weight[i] < 1)
			return -EINVAL;
	return 0;
}

/* ---- CSV traces ------------------------------------------------------------ */

/* One data row, as read. */
struct row {
	uint32_t t;
	uint32_t guest;  /* index into the reader's names */
	uint32_t wss;
	uint32_t weight;
	uint32_t cap;    /* cap_mib, 0 if not given */
	uint32_t floor;  /* floor_mib, 0 if not given */
	size_t line;     /* 1-based, for messages */
};

struct reader {
	const char *text;     /* the whole file, not NUL-terminated */
	size_t len;           /* its length */
	size_t pos;           /* offset of the next line */
	size_t line;          /* number of the line last read, 1-based */
	const char *filename; /* for messages */
	char *err;            /* the caller's message buffer ... */
	size_t errlen;        /* ... and its size */
	char names[SIM_MAX_GUESTS][SIM_NAME_MAX]; /* guests, first seen first */
	uint32_t rows_of[SIM_MAX_GUESTS]; /* rows each guest has */
	uint32_t cap_of[SIM_MAX_GUESTS];   /* cap_mib given, 0 if none */
	uint32_t floor_of[SIM_MAX_GUESTS]; /* floor_mib given, 0 if none */
	size_t n_fields;      /* per row: 4, or 6 with cap_mib,floor_mib */
	size_t n_names;       /* entries in names */
	size_t last_name;     /* index of the last name found: rows come grouped */
};

int sim_vfail(char *err, size_t errlen, const char *file, size_t line,
	      const char *fmt, va_list ap)
{
	char msg[160];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (line)
		snprintf(err, errlen, "%s:%zu: %s", file, line, msg);
	else
		snprintf(err, errlen, "%s: %s", file, msg);
	return -EINVAL;
}

int sim_fail(char *err, size_t errlen, const char *file, size_t line,
	     const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = sim_vfail(err, errlen, file, line, fmt, ap);
	va_end(ap);
	return ret;
}

/* sim_fail() into @r's buffer, naming its file. */
__attribute__((format(printf, 3, 4)))
static int fail(struct reader *r, size_t line, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = sim_vfail(r->err, r->errlen, r->filename, line, fmt, ap);
	va_end(ap);
	return ret;
}

/*
 * The next line into *@s and *@n, without its "\n" or "\r\n". Returns 1, 0 at
 * the end, or -EINVAL for an over-long line or a NUL byte.
 */
static int next_line(struct reader *r, const char **s, size_t *n)
{
	const char *nl;
	size_t len;

	if (r->pos >= r->len)
		return 0;
	r->line++;
	*s = r->text + r->pos;
	nl = memchr(*s, '\n', r->len - r->pos);
	len = nl ? (size_t)(nl - *s) : r->len - r->pos;
	r->pos += len + (nl != NULL);
	if (len && (*s)[len - 1] == '\r')
		len--;
	if (len > SIM_TRACE_MAX_LINE)
		return fail(r, r->line, "line longer than %d bytes",
			    SIM_TRACE_MAX_LINE);
	if (memchr(*s, '\0', len))
		return fail(r, r->line, "NUL byte");
	*n = len;
	return 1;
}

/* A decimal number of @len bytes in [lo, hi] into *@v; -EINVAL otherwise. */
static int parse_u32(const char *s, size_t len, uint32_t lo, uint32_t hi,
		     uint32_t *v)
{
	uint64_t x = 0;

	if (len == 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		x = x * 10 + (uint64_t)(s[i] - '0');
		if (x > hi)
			return -EINVAL;
	}
	if (x < lo)
		return -EINVAL;
	*v = (uint32_t)x;
	return 0;
}

/* Index of guest @s/@len, adding it if @may_add; -1 if absent or full. */
static long guest_index(struct reader *r, const char *s, size_t len,
			int may_add)
{
	size_t i = r->last_name;

	if (i < r->n_names && !strncmp(r->names[i], s, len) && !r->names[i][len])
		return (long)i;
	for (i = 0; i < r->n_names; i++)
		if (!strncmp(r->names[i], s, len) && !r->names[i][len])
			return (long)(r->last_name = i);
	if (!may_add || r->n_names == SIM_MAX_GUESTS)
		return -1;
	memcpy(r->names[i], s, len);
	r->names[i][len] = '\0';
	r->n_names++;
	return (long)(r->last_name = i);
}

/*
 * The next data row into @row. The first call checks the header. With
 * @may_add, unknown guests are added (the first pass); later passes see
 * only rows the first accepted. Returns 1, 0 at the end, or -EINVAL.
 */
static int next_row(struct reader *r, struct row *row, int may_add)
{
	const char *s, *f[6];
	size_t n, fl[6], k = 0;
	long gi;
	int ret;

	if (r->line == 0) {
		ret = next_line(r, &s, &n);
		if (ret <= 0)
			return ret ? ret : fail(r, 1, "empty file: no header");
		if (n == strlen(SIM_TRACE_HEADER) &&
		    !memcmp(s, SIM_TRACE_HEADER, n))
			r->n_fields = 4;
		else if (n == strlen(SIM_TRACE_HEADER_SIZED) &&
			 !memcmp(s, SIM_TRACE_HEADER_SIZED, n))
			r->n_fields = 6;
		else
			return fail(r, 1, "header must be '%s' or '%s'",
				    SIM_TRACE_HEADER, SIM_TRACE_HEADER_SIZED);
	}
	ret = next_line(r, &s, &n);
	if (ret <= 0)
		return ret;
	f[0] = s;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != ',')
			continue;
		if (++k == r->n_fields)
			return fail(r, r->line, "more than %zu fields",
				    r->n_fields);
		fl[k - 1] = (size_t)(s + i - f[k - 1]);
		f[k] = s + i + 1;
	}
	if (k + 1 != r->n_fields)
		return fail(r, r->line, "%zu fields, expected %zu (%s)", k + 1,
			    r->n_fields, r->n_fields == 4 ? SIM_TRACE_HEADER :
			    SIM_TRACE_HEADER_SIZED);
	fl[k] = (size_t)(s + n - f[k]);
	row->line = r->line;
	row->weight = SIM_TRACE_DEFAULT_WEIGHT;
	row->cap = row->floor = 0;
	if (k == 5 && fl[4] && parse_u32(f[4], fl[4], 1, SIM_TRACE_MAX_WSS_MIB,
					 &row->cap))
		return fail(r, r->line, "bad cap_mib: want a decimal in 1..%u, "
			    "or nothing", SIM_TRACE_MAX_WSS_MIB);
	if (k == 5 && fl[5] && parse_u32(f[5], fl[5], 1, SIM_TRACE_MAX_WSS_MIB,
					 &row->floor))
		return fail(r, r->line, "bad floor_mib: want a decimal in "
			    "1..%u, or nothing", SIM_TRACE_MAX_WSS_MIB);
	if (parse_u32(f[0], fl[0], 0, SIM_MAX_SECONDS - 1, &row->t))
		return fail(r, r->line, "bad t_s: want a decimal in 0..%u",
			    SIM_MAX_SECONDS - 1);
	if (parse_u32(f[2], fl[2], 0, SIM_TRACE_MAX_WSS_MIB, &row->wss))
		return fail(r, r->line, "bad wss_mib: want a decimal in "
			    "0..%u (16 TiB)", SIM_TRACE_MAX_WSS_MIB);
	if (fl[3] && parse_u32(f[3], fl[3], 1, SIM_TRACE_MAX_WEIGHT,
			       &row->weight))
		return fail(r, r->line, "bad weight: want a decimal in 1..%u, "
			    "or nothing for %u", SIM_TRACE_MAX_WEIGHT,
			    SIM_TRACE_DEFAULT_WEIGHT);
	if (!sim_name_valid(f[1], fl[1]))
		return fail(r, r->line,
			    "bad guest name: want 1..%d of [A-Za-z0-9_.-]",
			    SIM_NAME_MAX - 1);
	gi = guest_index(r, f[1], fl[1], may_add);
	if (gi < 0)
		return fail(r, r->line, "more than %d guests", SIM_MAX_GUESTS);
	row->guest = (uint32_t)gi;
	return 1;
}

/*
 * Keep @row's @what (@v, 0 if not given) in @kept, per guest: a guest's
 * rows that give it must agree. Returns 0 or -EINVAL.
 */
static int keep_size(struct reader *r, const struct row *row, uint32_t v,
		     uint32_t *kept, const char *what)
{
	if (!v)
		return 0;
	if (kept[row->guest] && kept[row->guest] != v)
		return fail(r, row->line, "guest '%s' has %s %" PRIu32 " here "
			    "and %" PRIu32 " on an earlier row",
			    r->names[row->guest], what, v, kept[row->guest]);
	kept[row->guest] = v;
	return 0;
}

/* Rewind @r for another pass over the rows. */
static void reader_rewind(struct reader *r)
{
	r->pos = 0;
	r->line = 0;
}

static uint64_t round_up(uint64_t v, uint32_t unit)
{
	return (v + unit - 1) / unit * unit;
}

int sim_trace_size(struct sim_scenario *sc, const char (*names)[SIM_NAME_MAX],
		   const uint32_t *floor_given, const uint32_t *cap_given,
		   const struct sim_trace_host *h, const char *filename,
		   char *err, size_t errlen)
{
	uint64_t mean[SIM_MAX_GUESTS], sum_mean = 0, floors = 0, host, spare;
	uint32_t unit = sc->unit_mib;
	size_t n = sc->n_guests;

	for (size_t g = 0; g < n; g++) {
		struct sim_guest_spec *s = &sc->guests[g];
		uint32_t min = UINT32_MAX, cap = cap_given[g];
		uint64_t sum = 0;

		for (size_t t = 0; t < sc->n_seconds; t++) {
			uint32_t w = sc->wss_mib[t * n + g];

			sum += w;
			min = w < min ? w : min;
		}
		mean[g] = sum / sc->n_seconds;
		sum_mean += mean[g];
		if (floor_given[g]) {
			s->floor_mib = floor_given[g];
		} else {
			min = min < SIM_TRACE_FLOOR_MIB ? min / unit * unit :
			      SIM_TRACE_FLOOR_MIB;
			s->floor_mib = min < unit ? unit : min;
			/* A small given cap bounds the derived floor. */
			if (cap && cap < s->floor_mib)
				s->floor_mib = cap < unit ? unit : cap / unit * unit;
		}
		if (cap && cap < s->floor_mib)
			return sim_fail(err, errlen, filename, 0, "guest '%s': "
					 "floor_mib %" PRIu32 " is above its "
					 "cap_mib %" PRIu32, names[g],
					 s->floor_mib, cap);
		/* The cap is whole units above the floor (0: not yet set). */
		s->cap_mib = cap ? s->floor_mib + (cap - s->floor_mib) / unit *
				   unit : 0;
		floors += s->floor_mib;
	}
	host = h->host_mib ? h->host_mib :
	       round_up(sum_mean * (h->host_pct ? h->host_pct : 100) / 100, unit);
	if (!h->host_mib && host < floors)
		host = floors;
	if (host > SIM_TRACE_MAX_HOST_MIB)
		return sim_fail(err, errlen, filename, 0, "host of %" PRIu64
				 " MiB is over 1 PiB%s", host,
				 h->host_mib ? "" : ": give --host-mib");
	if (host < floors)
		return sim_fail(err, errlen, filename, 0, "host of %" PRIu64
				 " MiB is below the guests' floors (%" PRIu64
				 " MiB)", host, floors);
	sc->host_mib = (uint32_t)host;
	spare = host - floors;
	for (size_t g = 0; g < n; g++) {
		struct sim_guest_spec *s = &sc->guests[g];
		uint64_t share = sum_mean ? spare * mean[g] / sum_mean : spare / n;

		snprintf(s->name, SIM_NAME_MAX, "%s", names[g]);
		s->static_mib = s->floor_mib + (uint32_t)(share / unit * unit);
		if (!s->cap_mib)
			s->cap_mib = s->floor_mib +
				     (2 * s->static_mib - s->floor_mib) / unit * unit;
		else if (s->static_mib > s->cap_mib)
			s->static_mib = s->cap_mib;
	}
	return 0;
}

/* The first second guest @g has no row for; the caller knows one exists. */
static int find_missing(struct reader *r, uint32_t g, size_t n_seconds,
			size_t *t_missing)
{
	uint8_t *seen = calloc(n_seconds / 8 + 1, 1);
	struct row row;
	int ret;

	if (!seen)
		return -ENOMEM;
	reader_rewind(r);
	while ((ret = next_row(r, &row, 0)) > 0)
		if (row.guest == g)
			seen[row.t / 8] |= (uint8_t)(1u << (row.t % 8));
	*t_missing = 0;
	while (*t_missing < n_seconds &&
	       seen[*t_missing / 8] & (1u << (*t_missing % 8)))
		(*t_missing)++;
	free(seen);
	return ret;
}

int sim_trace_parse(const char *text, size_t len, const char *filename,
		    const struct sim_trace_host *host, struct sim_scenario **out,
		    char *err, size_t errlen)
{
	struct reader *r = calloc(1, sizeof(*r));
	struct sim_scenario *sc = NULL;
	uint64_t rows = 0, cells;
	size_t n_seconds = 0, n;
	struct row row;
	int ret;

	*out = NULL;
	if (!r)
		return -ENOMEM;
	*r = (struct reader){ .text = text, .len = len, .filename = filename,
			      .err = err, .errlen = errlen };
	if (len > SIM_TRACE_MAX_BYTES) {
		ret = fail(r, 0, "larger than " SIM_TRACE_MAX_BYTES_TEXT);
		goto out;
	}
	/* Pass 1: every row well-formed; the guests, T, row counts, sizes. */
	while ((ret = next_row(r, &row, 1)) > 0) {
		rows++;
		r->rows_of[row.guest]++;
		ret = keep_size(r, &row, row.cap, r->cap_of, "cap_mib");
		if (!ret)
			ret = keep_size(r, &row, row.floor, r->floor_of,
					"floor_mib");
		if (ret)
			goto out;
		if (row.t >= n_seconds)
			n_seconds = (size_t)row.t + 1;
	}
	if (ret < 0)
		goto out;
	if (rows == 0) {
		ret = fail(r, r->line, "no data rows");
		goto out;
	}
	n = r->n_names;
	cells = (uint64_t)n * n_seconds;
	if (cells > rows) {
		/* Some guest lacks a second: name the first one missing. */
		size_t g = 0, t;

		while (r->rows_of[g] >= n_seconds)
			g++;
		ret = find_missing(r, (uint32_t)g, n_seconds, &t);
		if (!ret)
			ret = fail(r, 0, "guest '%s' has no row for t_s=%zu "
				   "(every guest needs one for each of "
				   "0..%zu)", r->names[g], t, n_seconds - 1);
		goto out;
	}
	/* Pass 2: fill; a cell filled twice is a duplicate. */
	sc = sim_scenario_alloc(n, n_seconds);
	if (!sc) {
		ret = -ENOMEM;
		goto out;
	}
	snprintf(sc->name, sizeof(sc->name), "trace");
	reader_rewind(r);
	while ((ret = next_row(r, &row, 0)) > 0) {
		size_t i = (size_t)row.t * n + row.guest;

		if (sc->weight[i]) {
			ret = fail(r, row.line, "a second row for guest '%s' at "
				   "t_s=%u", r->names[row.guest], row.t);
			goto out;
		}
		sc->wss_mib[i] = row.wss;
		sc->weight[i] = row.weight;
	}
	if (ret == 0)
		ret = sim_trace_size(sc, r->names, r->floor_of, r->cap_of, host,
				     filename, err, errlen);
	if (ret == 0 && sim_scenario_check(sc))
		ret = fail(r, 0, "internal error: sized scenario is invalid");
out:
	free(r);
	if (ret) {
		sim_scenario_free(sc);
		return ret;
	}
	*out = sc;
	return 0;
}

int sim_read_file(const char *path, size_t max, char **buf, size_t *len)
{
	char *data = NULL, *bigger;
	size_t got = 0, size = 0;
	int fd, ret = 0;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Read at most one byte more than the limit, to see it is passed. */
	for (;;) {
		ssize_t k;

		if (got == size) {
			if (size > max) {
				ret = -EFBIG;
				break;
			}
			size = size ? 2 * size : 65536;
			if (size > max)
				size = max + 1;
			bigger = realloc(data, size);
			if (!bigger) {
				ret = -ENOMEM;
				break;
			}
			data = bigger;
		}
		k = read(fd, data + got, size - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			ret = -errno;
			break;
		}
		if (k == 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	if (ret) {
		free(data);
		return ret;
	}
	*buf = data;
	*len = got;
	return 0;
}

int sim_trace_load(const char *path, const struct sim_trace_host *host,
		   struct sim_scenario **out, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	int ret;

	*out = NULL;
	ret = sim_read_file(path, SIM_TRACE_MAX_BYTES, &buf, &len);
	if (ret) {
		snprintf(err, errlen, "%s: %s", path, ret == -EFBIG ?
			 "larger than " SIM_TRACE_MAX_BYTES_TEXT : strerror(-ret));
		return ret;
	}
	ret = sim_trace_parse(buf, len, path, host, out, err, errlen);
	if (ret == -ENOMEM)
		snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
	free(buf);
	return ret;
}
