/* SPDX-License-Identifier: MIT */
/*
 * ramm-sim: replay a scenario or a trace against memory policies, side by
 * side, and print how each met the guests' working sets
 * (docs/SIMULATOR.md).
 *
 * Exit status: 0 on success, 1 on a failure to run (out of memory, an
 * unwritable output), 2 on bad usage or a bad trace. --replay FILE
 * (replay.h): 0 if every recorded tick plans the same again, 1 on a
 * mismatch or an empty FILE, 2 if FILE cannot be read or is malformed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ramm/proto.h"
#include "metrics.h"
#include "replay.h"
#include "report.h"
#include "scenario.h"
#include "sim.h"

/* An SVG panel draws at most this many points per curve. */
#define SVG_MAX_POINTS 600

struct options {
	const char *scenario; /* --scenario NAME, or NULL */
	const char *trace;    /* --trace FILE, or NULL */
	const char **bitbrains; /* each --bitbrains FILE, in order */
	size_t n_bitbrains;
	const char *replay;   /* --replay FILE, or NULL */
	const char *svg;      /* --svg FILE, or NULL */
	const char *policies; /* --policies, "all" by default */
	uint64_t seed;        /* --seed, SIM_DEFAULT_SEED by default */
	uint32_t host_mib;    /* --host-mib, 0: the trace's default */
	uint32_t host_pct;    /* --host-pct, 0: 100 */
	uint64_t seconds;     /* --seconds, 0: a Bitbrains trace's span */
	uint32_t reserve_price; /* --reserve-price, or SIM_RESERVE_DEFAULT */
	int have_seed;        /* --seed was given */
	int json;             /* --json */
	int list;             /* --list */
};

static void usage(FILE *f)
{
	fputs("usage: ramm-sim --list\n"
	      "       ramm-sim (--scenario NAME [--seed N] | --trace FILE |\n"
	      "                 --bitbrains FILE [--bitbrains FILE ...] "
	      "[--seconds N])\n"
	      "                [--host-mib N | --host-pct N] [--reserve-price N]\n"
	      "                [--policies all|P1,P2,...] [--json] [--svg FILE]\n"
	      "       ramm-sim --replay FILE\n"
	      "Replays guest working sets against memory policies and prints\n"
	      "shortfall, OOM risk, memory saved, churn and fairness per policy.\n"
	      "--replay plans again each tick `rammd --record FILE` recorded and\n"
	      "compares the actions, targets, accounts and prices with rammd's:\n"
	      "exit 0 if they all match (and FILE has a tick), 1 if not.\n"
	      "See docs/SIMULATOR.md.\n", f);
}

static void list(void)
{
	puts("scenarios:");
	for (size_t i = 0; i < SIM_N_SCENARIOS; i++)
		printf("  %-11s %s\n", sim_scenario_name(i),
		       sim_scenario_summary(i));
	puts("policies:");
	for (size_t i = 0; i < SIM_N_POLICIES; i++)
		printf("  %-11s %s\n", sim_policies[i]->name,
		       sim_policies[i]->summary);
}

/* A decimal in [1, max] from @s into *@v; -EINVAL otherwise. */
static int parse_number(const char *s, uint64_t max, uint64_t *v)
{
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	*v = strtoull(s, &end, 10);
	return errno || *end || *v < 1 || *v > max ? -EINVAL : 0;
}

/*
 * The policies named in @spec ("all" or a comma list) into @out, in the
 * order given. Returns how many, or -EINVAL naming the bad one on stderr.
 */
static int parse_policies(const char *spec,
			  const struct sim_policy_ops *out[SIM_N_POLICIES])
{
	char name[64];
	size_t n = 0;

	if (!strcmp(spec, "all")) {
		memcpy(out, sim_policies, sizeof(sim_policies));
		return SIM_N_POLICIES;
	}
	while (*spec) {
		size_t len = strcspn(spec, ",");
		const struct sim_policy_ops *ops = NULL;

		if (len < sizeof(name)) {
			memcpy(name, spec, len);
			name[len] = '\0';
			ops = sim_policy_find(name);
		}
		if (!ops) {
			fprintf(stderr, "ramm-sim: --policies: unknown policy "
				"'%.*s' (see --list)\n", (int)len, spec);
			return -EINVAL;
		}
		for (size_t i = 0; i < n; i++)
			if (out[i] == ops) {
				fprintf(stderr, "ramm-sim: --policies: '%s' named "
					"twice\n", name);
				return -EINVAL;
			}
		out[n++] = ops;
		spec += len + (spec[len] == ',');
	}
	if (!n)
		fputs("ramm-sim: --policies: no policy named\n", stderr);
	return n ? (int)n : -EINVAL;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "list", no_argument, NULL, 'l' },
		{ "scenario", required_argument, NULL, 's' },
		{ "trace", required_argument, NULL, 't' },
		{ "replay", required_argument, NULL, 'r' },
		{ "bitbrains", required_argument, NULL, 'b' },
		{ "seconds", required_argument, NULL, 'T' },
		{ "host-mib", required_argument, NULL, 'H' },
		{ "host-pct", required_argument, NULL, 'P' },
		{ "reserve-price", required_argument, NULL, 'R' },
		{ "policies", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "svg", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, sources;
	uint64_t v;

	*o = (struct options){ .policies = "all", .seed = SIM_DEFAULT_SEED,
			       .bitbrains = o->bitbrains,
			       .reserve_price = SIM_RESERVE_DEFAULT };
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': o->list = 1; break;
		case 's': o->scenario = optarg; break;
		case 't': o->trace = optarg; break;
		case 'r': o->replay = optarg; break;
		case 'p': o->policies = optarg; break;
		case 'j': o->json = 1; break;
		case 'g': o->svg = optarg; break;
		case 'h': usage(stdout); exit(0);
		case 'b':
			if (o->n_bitbrains == SIM_MAX_GUESTS) {
				fprintf(stderr, "ramm-sim: --bitbrains: at most "
					"%d files\n", SIM_MAX_GUESTS);
				return -EINVAL;
			}
			o->bitbrains[o->n_bitbrains++] = optarg;
			break;
		case 'T':
			if (parse_number(optarg, SIM_MAX_SECONDS, &o->seconds)) {
				fprintf(stderr, "ramm-sim: --seconds: want "
					"1..%d\n", SIM_MAX_SECONDS);
				return -EINVAL;
			}
			break;
		case 'R':
			/* 0 is a price: parse_number() wants 1 or more. */
			if (!strcmp(optarg, "0")) {
				o->reserve_price = 0;
				break;
			}
			if (parse_number(optarg, RAMM_MAX_PRICE, &v)) {
				fprintf(stderr, "ramm-sim: --reserve-price: want "
					"0..%u\n", RAMM_MAX_PRICE);
				return -EINVAL;
			}
			o->reserve_price = (uint32_t)v;
			break;
		case 'P':
			if (parse_number(optarg, 1000, &v)) {
				fputs("ramm-sim: --host-pct: want 1..1000\n",
				      stderr);
				return -EINVAL;
			}
			o->host_pct = (uint32_t)v;
			break;
		case 'H':
			if (parse_number(optarg, SIM_TRACE_MAX_HOST_MIB, &v)) {
				fprintf(stderr, "ramm-sim: --host-mib: want 1..%u\n",
					SIM_TRACE_MAX_HOST_MIB);
				return -EINVAL;
			}
			o->host_mib = (uint32_t)v;
			break;
		case 'S':
			if (parse_number(optarg, UINT64_MAX, &v)) {
				fputs("ramm-sim: --seed: want a positive decimal\n",
				      stderr);
				return -EINVAL;
			}
			o->seed = v;
			o->have_seed = 1;
			break;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	sources = !!o->scenario + !!o->trace + !!o->n_bitbrains;
	if (o->replay) {
		if (optind < argc || o->list || sources || o->svg || o->json ||
		    o->have_seed || o->host_mib || o->host_pct || o->seconds ||
		    o->reserve_price != SIM_RESERVE_DEFAULT) {
			fputs("ramm-sim: --replay goes alone\n", stderr);
			return -EINVAL;
		}
		return 0;
	}
	if (optind < argc || (!o->list && sources != 1)) {
		usage(stderr);
		return -EINVAL;
	}
	if ((o->have_seed && !o->scenario) ||
	    ((o->host_mib || o->host_pct) && o->scenario) ||
	    (o->host_mib && o->host_pct) || (o->seconds && !o->n_bitbrains)) {
		fputs("ramm-sim: --seed goes with --scenario, --seconds with "
		      "--bitbrains, --host-mib or --host-pct (not both) with "
		      "a trace\n", stderr);
		return -EINVAL;
	}
	return 0;
}

/* Run every policy of @ops over @sc and print the report. Returns 0 or 1. */
static int run(const struct options *o, const struct sim_scenario *sc,
	       const struct sim_policy_ops *const *ops, size_t n)
{
	struct sim_report_source src = {
		.trace = o->n_bitbrains ? "Bitbrains GWA-T-12" : o->trace,
		.seed = o->seed,
	};
	struct sim_report_row rows[SIM_N_POLICIES] = { { 0 } };
	uint32_t *hist[SIM_N_POLICIES] = { 0 };
	/* One more run than asked: the oracle, the yardstick every report
	 * measures excess shortfall from, even when it is not a row. */
	struct sim_metrics *m = calloc(n + 1, sizeof(*m));
	size_t stride = (sc->n_seconds + SVG_MAX_POINTS - 1) / SVG_MAX_POINTS;
	size_t samples = (sc->n_seconds + stride - 1) / stride;
	FILE *svg = NULL;
	int ret = m ? 0 : -ENOMEM;

	if (!ret) {
		src.oracle = &m[n];
		ret = sim_run(sc, &sim_policy_oracle, &m[n], NULL, 1);
	}
	for (size_t i = 0; i < n && !ret; i++) {
		if (o->svg) {
			hist[i] = calloc(samples * sc->n_guests, sizeof(*hist[i]));
			if (!hist[i]) {
				ret = -ENOMEM;
				break;
			}
		}
		rows[i] = (struct sim_report_row){ ops[i]->name, &m[i], hist[i] };
		ret = sim_run(sc, ops[i], &m[i], hist[i], stride);
		if (ret)
			fprintf(stderr, "ramm-sim: policy %s: %s\n", ops[i]->name,
				strerror(-ret));
	}
	if (!ret)
		ret = o->json ? sim_report_json(stdout, sc, &src, rows, n) :
		      sim_report_table(stdout, sc, &src, rows, n);
	if (!ret && o->svg) {
		svg = fopen(o->svg, "we");
		ret = svg ? sim_report_svg(svg, sc, rows, n, stride) : -errno;
		if (svg && fclose(svg) && !ret)
			ret = -errno;
		if (ret)
			fprintf(stderr, "ramm-sim: %s: %s\n", o->svg,
				strerror(-ret));
	}
	if (ret == -ENOMEM)
		fputs("ramm-sim: out of memory\n", stderr);
	for (size_t i = 0; i < n; i++)
		free(hist[i]);
	free(m);
	return ret ? 1 : 0;
}

/* --replay FILE: the summary line, then exit 0 only if every tick
 * matched and there was one; 2 if FILE cannot be read or is malformed. */
static int replay(const char *path)
{
	struct replay_summary sum;
	char err[512];
	int ret = replay_file(path, stdout, &sum, err, sizeof(err));

	printf("replay: %llu ticks, %llu actions compared, %llu mismatches\n",
	       (unsigned long long)sum.ticks, (unsigned long long)sum.actions,
	       (unsigned long long)sum.mismatches);
	if (ret) {
		fprintf(stderr, "ramm-sim: %s\n", err);
		return ret == -ENOMEM ? 1 : 2;
	}
	if (!sum.ticks)
		fprintf(stderr, "ramm-sim: %s: no ticks to replay\n", path);
	return sum.mismatches || !sum.ticks ? 1 : 0;
}

/* The scenario @o names into *@sc. Returns 0, or the exit status. */
static int load(const struct options *o, struct sim_scenario **sc)
{
	struct sim_trace_host host = { o->host_mib, o->host_pct };
	char err[512];
	int ret;

	if (o->scenario) {
		ret = sim_scenario_build(o->scenario, o->seed, sc);
		if (ret)
			fprintf(stderr, "ramm-sim: scenario %s: %s\n", o->scenario,
				ret == -ENOENT ? "no such scenario (see --list)" :
				strerror(-ret));
		return !ret ? 0 : ret == -ENOENT ? 2 : 1;
	}
	ret = o->trace ? sim_trace_load(o->trace, &host, sc, err, sizeof(err)) :
	      sim_bitbrains_load(o->bitbrains, o->n_bitbrains,
				 (size_t)o->seconds, &host, sc, err,
				 sizeof(err));
	if (ret)
		fprintf(stderr, "ramm-sim: %s\n", err);
	return !ret ? 0 : ret == -ENOMEM ? 1 : 2;
}

int main(int argc, char **argv)
{
	const struct sim_policy_ops *ops[SIM_N_POLICIES];
	struct sim_scenario *sc = NULL;
	struct options o;
	int n, ret;

	/* --bitbrains can name no more files than argv holds. */
	o.bitbrains = calloc((size_t)argc, sizeof(*o.bitbrains));
	if (!o.bitbrains) {
		fputs("ramm-sim: out of memory\n", stderr);
		return 1;
	}
	if (parse_options(argc, argv, &o)) {
		ret = 2;
	} else if (o.replay) {
		ret = replay(o.replay);
	} else if (o.list) {
		list();
		ret = 0;
	} else {
		n = parse_policies(o.policies, ops);
		ret = n < 0 ? 2 : load(&o, &sc);
		if (!ret) {
			sc->ramm_reserve_price = o.reserve_price;
			ret = run(&o, sc, ops, (size_t)n);
		}
	}
	sim_scenario_free(sc);
	free(o.bitbrains);
	return ret;
}
