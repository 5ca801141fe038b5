/* SPDX-License-Identifier: MIT */
/*
 * bench_market - how long market_clear() takes, for `make bench` and
 * `make bench-market` (no QEMU needed).
 *
 * A host of 1 TiB in 2 MiB units (524,288 units of supply) and 100, 1,000
 * and 10,000 guests, each with a 64-step non-increasing bid curve from a
 * seeded PRNG: prices in 1..8000 with some equal neighbours, total demand
 * about 2x supply so supply binds, caps, holdings from a previous
 * allocation (summing to at most supply), mostly unlimited rate limits and
 * some finite ones, a few frozen guests; move_cost 10, quantum 4.
 *
 * Each size is timed against a simple "sort everything" clearing written
 * here: every guest's window cut into the same (rank key, guest, units)
 * segments market_clear() ranks, all qsort()ed by rank, served highest
 * first. Before timing, both must agree - targets, price, totals - with the
 * quantum off (the baseline skips it), or the benchmark aborts: a speedup
 * over a baseline that computes something else would mean nothing.
 *
 * stdout: one line per size,
 *   market_clear guests=N steps=64 median_us=… p99_us=… baseline_median_us=…
 *   speedup=…
 * stderr: instance statistics.
 *
 * `bench_market --profile [N_GUESTS [REPS]]` only calls market_clear() on
 * one instance (default 10,000 guests, 2,000 calls), for
 * `perf record -g build/bench_market --profile`.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "market.h"

#define SUPPLY_UNITS (UINT64_C(1) << 19) /* 1 TiB in 2 MiB units */
#define STEPS_PER_GUEST 64
#define MOVE_COST 10
#define QUANTUM 4
#define WARMUP 10

_Static_assert(STEPS_PER_GUEST <= RAMM_MAX_BID_STEPS, "curve fits a bid");

/* ---- seeded PRNG (splitmix64) ---- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Uniform in [0, n), n >= 1 (the modulo bias is irrelevant here). */
static uint32_t rng_below(uint32_t n)
{
	return (uint32_t)(rng_next() % n);
}

/* Uniform in [0, 1). */
static double rng_unit(void)
{
	return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- instances ---- */

struct instance {
	size_t n_guests;
	struct market_params params;
	struct market_guest *guests;
	struct ramm_bid_step *steps; /* n_guests * STEPS_PER_GUEST */
};

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p) {
		fprintf(stderr, "bench_market: out of memory\n");
		exit(1);
	}
	return p;
}

static void make_instance(struct instance *inst, size_t n_guests,
			  uint64_t seed)
{
	double mean_demand = 2.2 * (double)SUPPLY_UNITS / (double)n_guests;
	uint64_t demand_total = 0, held_total = 0, capped_total = 0;
	size_t n_frozen = 0, n_limited = 0;
	size_t gi;

	rng_state = seed;
	inst->n_guests = n_guests;
	inst->params = (struct market_params){
		.supply_units = SUPPLY_UNITS,
		.move_cost = MOVE_COST,
		.quantum_units = QUANTUM,
	};
	inst->guests = xcalloc(n_guests, sizeof(*inst->guests));
	inst->steps = xcalloc(n_guests * STEPS_PER_GUEST,
			      sizeof(*inst->steps));

	for (gi = 0; gi < n_guests; gi++) {
		struct market_guest *g = &inst->guests[gi];
		struct ramm_bid_step *s = &inst->steps[gi * STEPS_PER_GUEST];
		uint32_t weight[STEPS_PER_GUEST];
		uint64_t weight_sum = 0, demand = 0;
		uint32_t want, extra, price;
		size_t i;

		/* Demand: 0.25x..1.75x the mean, at least a unit per step. */
		want = (uint32_t)(mean_demand * (0.25 + 1.5 * rng_unit()));
		if (want < STEPS_PER_GUEST)
			want = STEPS_PER_GUEST;
		extra = want - STEPS_PER_GUEST;
		for (i = 0; i < STEPS_PER_GUEST; i++) {
			weight[i] = 1 + rng_below(16);
			weight_sum += weight[i];
		}
		/* Prices: a top in 1000..8000, falling ~2.5% a step. */
		price = 1000 + rng_below(7001);
		for (i = 0; i < STEPS_PER_GUEST; i++) {
			s[i].units = 1 + (uint32_t)((uint64_t)extra * weight[i] /
						    weight_sum);
			demand += s[i].units;
			if (i > 0 && rng_below(100) >= 15) {
				uint32_t drop = 1 + rng_below(price / 20 + 1);

				price = price > drop ? price - drop : 1;
			}
			s[i].price = price;
		}
		g->steps = s;
		g->n_steps = STEPS_PER_GUEST;
		demand_total += demand;

		/* Most caps above the curve, some cutting it short. */
		if (rng_below(100) < 85)
			g->cap_units = (uint32_t)demand + rng_below(
				(uint32_t)demand / 2 + 1);
		else
			g->cap_units = (uint32_t)((double)demand *
						  (0.5 + 0.45 * rng_unit()));
		capped_total += demand < g->cap_units ? demand : g->cap_units;

		/* Holdings: scaled below to sum to at most supply. */
		g->current_units = (uint32_t)((double)demand *
					      (0.2 + 0.6 * rng_unit()));
		if (g->current_units > g->cap_units)
			g->current_units = g->cap_units;

		g->max_plug_units = MARKET_UNLIMITED;
		g->max_unplug_units = MARKET_UNLIMITED;
		if (rng_below(100) < 25) {
			g->max_plug_units = 1 + rng_below((uint32_t)demand / 4 +
							  1);
			g->max_unplug_units = 1 + rng_below(
				g->current_units / 3 + 1);
			n_limited++;
		}
		if (rng_below(100) < 1) {
			g->frozen = 1;
			n_frozen++;
		}
	}

	for (gi = 0; gi < n_guests; gi++)
		held_total += inst->guests[gi].current_units;
	if (held_total > SUPPLY_UNITS * 95 / 100) {
		double scale = (double)(SUPPLY_UNITS * 95 / 100) /
			       (double)held_total;

		held_total = 0;
		for (gi = 0; gi < n_guests; gi++) {
			struct market_guest *g = &inst->guests[gi];

			g->current_units = (uint32_t)((double)g->current_units *
						      scale);
			held_total += g->current_units;
		}
	}
	fprintf(stderr,
		"instance guests=%zu: demand %.2fx supply (%.2fx within caps), "
		"held %.2f of supply, %zu rate-limited, %zu frozen\n",
		n_guests, (double)demand_total / SUPPLY_UNITS,
		(double)capped_total / SUPPLY_UNITS,
		(double)held_total / SUPPLY_UNITS, n_limited, n_frozen);
}

static void free_instance(struct instance *inst)
{
	free(inst->guests);
	free(inst->steps);
}

/* ---- the sort-everything baseline ---- */

struct seg {
	uint64_t key;   /* (price + incumbent bonus) << 1 | incumbent */
	uint32_t guest;
	uint32_t units;
};

static int seg_cmp(const void *pa, const void *pb)
{
	const struct seg *a = pa, *b = pb;

	if (a->key != b->key)
		return a->key > b->key ? -1 : 1;
	/*
	 * Equal keys of one guest may come in either order: they add to the
	 * same target, so only the guest order matters.
	 */
	return (a->guest > b->guest) - (a->guest < b->guest);
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void window(const struct market_guest *g, uint32_t *lo, uint32_t *hi)
{
	uint32_t cur = g->current_units;
	uint32_t kept;

	if (g->frozen) {
		*lo = *hi = cur < g->cap_units ? cur : g->cap_units;
		return;
	}
	*hi = (uint32_t)min64((uint64_t)cur + g->max_plug_units, g->cap_units);
	kept = cur - (cur < g->max_unplug_units ? cur : g->max_unplug_units);
	*lo = kept < *hi ? kept : *hi;
}

/*
 * The contract of market.h for instances whose lo's fit supply, with no
 * reserve price, no emergency and no quantum. Returns 0, or -1 if the
 * instance is outside that.
 */
static int baseline_clear(const struct market_params *params,
			  const struct market_guest *guests, size_t n_guests,
			  uint32_t *targets, struct market_result *result)
{
	uint64_t reserved = 0, contested, allocated = 0, demand = 0;
	uint32_t price = 0;
	struct seg *segs;
	size_t n = 0, cap_segs = 0, gi, i;

	for (gi = 0; gi < n_guests; gi++) {
		const struct market_guest *g = &guests[gi];
		uint32_t lo, hi;

		if (!g->frozen && market_validate_bid(g->steps, g->n_steps))
			return -1;
		window(g, &lo, &hi);
		targets[gi] = lo;
		reserved += lo;
		cap_segs += g->frozen ? 0 : g->n_steps + 1;
	}
	if (reserved > params->supply_units || params->reserve_price ||
	    params->emergency)
		return -1;
	contested = params->supply_units - reserved;

	segs = malloc((cap_segs ? cap_segs : 1) * sizeof(*segs));
	if (!segs)
		return -1;
	for (gi = 0; gi < n_guests; gi++) {
		const struct market_guest *g = &guests[gi];
		uint64_t start = 0, cur = g->current_units;
		uint32_t lo, hi;

		if (g->frozen)
			continue;
		window(g, &lo, &hi);
		/* Priced units in (lo, hi], cut at each step and at current. */
		for (i = 0; i < g->n_steps && g->steps[i].price > 0; i++) {
			uint64_t end = start + g->steps[i].units;
			uint64_t a = start > lo ? start : lo;
			uint64_t b = min64(end, hi);

			start = end;
			while (a < b) {
				int inc = a < cur;
				uint64_t cut = inc ? min64(b, cur) : b;
				uint64_t rank = (uint64_t)g->steps[i].price +
						(inc ? params->move_cost : 0);

				segs[n].key = rank << 1 | (uint64_t)inc;
				segs[n].guest = (uint32_t)gi;
				segs[n].units = (uint32_t)(cut - a);
				n++;
				a = cut;
			}
		}
	}
	qsort(segs, n, sizeof(*segs), seg_cmp);

	for (i = 0; i < n; i++) {
		uint64_t take = min64(segs[i].units, contested);

		targets[segs[i].guest] += (uint32_t)take;
		contested -= take;
		if (take < segs[i].units) {
			/* Raw price: take the incumbent bonus back off. */
			uint64_t raw = (segs[i].key >> 1) -
				       ((segs[i].key & 1) ? params->move_cost
							  : 0);

			if (raw > price)
				price = (uint32_t)raw;
		}
	}
	free(segs);

	for (gi = 0; gi < n_guests; gi++) {
		const struct market_guest *g = &guests[gi];
		uint64_t priced = 0;

		allocated += targets[gi];
		if (g->frozen)
			continue;
		for (i = 0; i < g->n_steps && g->steps[i].price > 0; i++)
			priced += g->steps[i].units;
		demand += min64(priced, g->cap_units);
	}
	result->price = price;
	result->allocated_units = allocated;
	result->demand_units = demand;
	return 0;
}

/* ---- timing ---- */

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;

	return (a > b) - (a < b);
}

/* The q-quantile (nearest rank) of @n sorted samples. */
static double quantile(const double *sorted, size_t n, double q)
{
	size_t rank = (size_t)(q * (double)n + 0.999999);

	if (rank < 1)
		rank = 1;
	return sorted[(rank > n ? n : rank) - 1];
}

typedef int clear_fn(const struct market_params *, const struct market_guest *,
		     size_t, uint32_t *, struct market_result *);

/* Times @fn on @inst: fills @samples (@reps entries, sorted, in us). */
static void time_clear(clear_fn *fn, const struct instance *inst,
		       uint32_t *targets, double *samples, size_t reps)
{
	struct market_result res;
	size_t i;

	for (i = 0; i < WARMUP + reps; i++) {
		double t0 = now_us();

		if (fn(&inst->params, inst->guests, inst->n_guests, targets,
		       &res)) {
			fprintf(stderr, "bench_market: clearing failed\n");
			exit(1);
		}
		if (i >= WARMUP)
			samples[i - WARMUP] = now_us() - t0;
	}
	qsort(samples, reps, sizeof(*samples), cmp_double);
}

/* Both clearings must agree before either is timed. */
static void check_same(const struct instance *inst, uint32_t *t_market,
		       uint32_t *t_base)
{
	struct market_params params = inst->params;
	struct market_result r_market, r_base;
	size_t gi;
	int err;

	params.quantum_units = 0;
	err = market_clear(&params, inst->guests, inst->n_guests, t_market,
			   &r_market);
	if (err) {
		fprintf(stderr, "bench_market: market_clear() = %d\n", err);
		exit(1);
	}
	if (baseline_clear(&params, inst->guests, inst->n_guests, t_base,
			   &r_base)) {
		fprintf(stderr, "bench_market: baseline cannot clear this\n");
		exit(1);
	}
	for (gi = 0; gi < inst->n_guests; gi++) {
		if (t_market[gi] != t_base[gi]) {
			fprintf(stderr,
				"bench_market: guests=%zu: guest %zu target "
				"%" PRIu32 " from market_clear, %" PRIu32
				" from the baseline\n",
				inst->n_guests, gi, t_market[gi], t_base[gi]);
			abort();
		}
	}
	if (r_market.price != r_base.price ||
	    r_market.allocated_units != r_base.allocated_units ||
	    r_market.demand_units != r_base.demand_units) {
		fprintf(stderr,
			"bench_market: guests=%zu: result differs: price %" PRIu32
			"/%" PRIu32 " allocated %" PRIu64 "/%" PRIu64
			" demand %" PRIu64 "/%" PRIu64 "\n",
			inst->n_guests, r_market.price, r_base.price,
			r_market.allocated_units, r_base.allocated_units,
			r_market.demand_units, r_base.demand_units);
		abort();
	}
	fprintf(stderr,
		"  checked: same targets as the baseline, price %" PRIu32
		", allocated %" PRIu64 " of %" PRIu64 ", demand %" PRIu64 "\n",
		r_market.price, r_market.allocated_units,
		inst->params.supply_units, r_market.demand_units);
}

static void bench_size(size_t n_guests, size_t reps)
{
	struct instance inst;
	uint32_t *t_market, *t_base;
	double *samples;
	double median, p99, base_median;

	make_instance(&inst, n_guests, UINT64_C(0x52414d4d) ^ n_guests);
	t_market = xcalloc(n_guests, sizeof(*t_market));
	t_base = xcalloc(n_guests, sizeof(*t_base));
	samples = xcalloc(reps, sizeof(*samples));

	check_same(&inst, t_market, t_base);

	time_clear(market_clear, &inst, t_market, samples, reps);
	median = quantile(samples, reps, 0.5);
	p99 = quantile(samples, reps, 0.99);
	fprintf(stderr, "  market_clear: min %.1f us, max %.1f us over %zu\n",
		samples[0], samples[reps - 1], reps);

	time_clear(baseline_clear, &inst, t_base, samples, reps);
	base_median = quantile(samples, reps, 0.5);

	printf("market_clear guests=%zu steps=%d median_us=%.1f p99_us=%.1f "
	       "baseline_median_us=%.1f speedup=%.2f\n",
	       n_guests, STEPS_PER_GUEST, median, p99, base_median,
	       base_median / median);
	fflush(stdout);

	free(samples);
	free(t_base);
	free(t_market);
	free_instance(&inst);
}

static void profile(size_t n_guests, size_t reps)
{
	struct instance inst;
	struct market_result res;
	uint32_t *targets;
	double t0;
	size_t i;

	make_instance(&inst, n_guests, UINT64_C(0x52414d4d) ^ n_guests);
	targets = xcalloc(n_guests, sizeof(*targets));
	t0 = now_us();
	for (i = 0; i < reps; i++) {
		if (market_clear(&inst.params, inst.guests, n_guests, targets,
				 &res)) {
			fprintf(stderr, "bench_market: clearing failed\n");
			exit(1);
		}
	}
	fprintf(stderr, "profile: %zu calls, mean %.1f us\n", reps,
		(now_us() - t0) / (double)reps);
	free(targets);
	free_instance(&inst);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--profile") == 0) {
		size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000;
		size_t reps = argc > 3 ? strtoul(argv[3], NULL, 10) : 2000;

		profile(n ? n : 1, reps ? reps : 1);
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "usage: %s [--profile [N_GUESTS [REPS]]]\n",
			argv[0]);
		return 2;
	}
	bench_size(100, 200);
	bench_size(1000, 200);
	bench_size(10000, 100);
	return 0;
}
