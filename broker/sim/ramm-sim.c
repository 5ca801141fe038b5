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
	const char *replay;   /* --replay FILE, or NULL */
	const char *svg;      /* --svg FILE, or NULL */
	const char *policies; /* --policies, "all" by default */
	uint64_t seed;        /* --seed, SIM_DEFAULT_SEED by default */
	uint32_t host_mib;    /* --host-mib, 0: the trace's default */
	int have_seed;        /* --seed was given */
	int json;             /* --json */
	int list;             /* --list */
};

static void usage(FILE *f)
{
	fputs("usage: ramm-sim --list\n"
	      "       ramm-sim (--scenario NAME [--seed N] | --trace FILE "
	      "[--host-mib N])\n"
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
		{ "host-mib", required_argument, NULL, 'H' },
		{ "policies", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "svg", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	*o = (struct options){ .policies = "all", .seed = SIM_DEFAULT_SEED };
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
	if (o->replay) {
		if (optind < argc || o->list || o->scenario || o->trace || o->svg ||
		    o->json || o->have_seed || o->host_mib) {
			fputs("ramm-sim: --replay goes alone\n", stderr);
			return -EINVAL;
		}
		return 0;
	}
	if (optind < argc || (!o->list && !o->scenario == !o->trace)) {
		usage(stderr);
		return -EINVAL;
	}
	if ((o->trace && o->have_seed) || (o->scenario && o->host_mib)) {
		fputs("ramm-sim: --seed goes with --scenario, --host-mib with "
		      "--trace\n", stderr);
		return -EINVAL;
	}
	return 0;
}

/* Run every policy of @ops over @sc and print the report. Returns 0 or 1. */
static int run(const struct options *o, const struct sim_scenario *sc,
	       const struct sim_policy_ops *const *ops, size_t n)
{
	struct sim_report_source src = { .trace = o->trace, .seed = o->seed };
	struct sim_report_row rows[SIM_N_POLICIES] = { { 0 } };
	uint32_t *hist[SIM_N_POLICIES] = { 0 };
	struct sim_metrics *m = calloc(n, sizeof(*m));
	size_t stride = (sc->n_seconds + SVG_MAX_POINTS - 1) / SVG_MAX_POINTS;
	size_t samples = (sc->n_seconds + stride - 1) / stride;
	FILE *svg = NULL;
	int ret = m ? 0 : -ENOMEM;

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

int main(int argc, char **argv)
{
	const struct sim_policy_ops *ops[SIM_N_POLICIES];
	struct sim_scenario *sc = NULL;
	struct options o;
	char err[512];
	int n, ret;

	if (parse_options(argc, argv, &o))
		return 2;
	if (o.replay)
		return replay(o.replay);
	if (o.list) {
		list();
		return 0;
	}
	n = parse_policies(o.policies, ops);
	if (n < 0)
		return 2;
	if (o.trace) {
		ret = sim_trace_load(o.trace, o.host_mib, &sc, err, sizeof(err));
		if (ret) {
			fprintf(stderr, "ramm-sim: %s\n", err);
			return ret == -ENOMEM ? 1 : 2;
		}
	} else {
		ret = sim_scenario_build(o.scenario, o.seed, &sc);
		if (ret) {
			fprintf(stderr, "ramm-sim: scenario %s: %s\n", o.scenario,
				ret == -ENOENT ? "no such scenario (see --list)" :
				strerror(-ret));
			return ret == -ENOENT ? 2 : 1;
		}
	}
	ret = run(&o, sc, ops, (size_t)n);
	sim_scenario_free(sc);
	return ret;
}
