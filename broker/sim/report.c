/* SPDX-License-Identifier: MIT */
/* ramm-sim's output: table, JSON and SVG of a set of runs. */
#include <errno.h>
#include <inttypes.h>

#include "report.h"

static int stream_status(FILE *f)
{
	return ferror(f) ? -EIO : 0;
}

/* How hard the scenario presses on its host. */
struct demand {
	double mean_pct;   /* time-mean of sum(wss) / host, % */
	double peak_pct;   /* its maximum */
	size_t over_s;     /* seconds with sum(wss) > host */
};

static struct demand demand_of(const struct sim_scenario *sc)
{
	struct demand d = { 0 };
	double sum_pct = 0;

	for (size_t t = 0; t < sc->n_seconds; t++) {
		uint64_t wss = 0;
		double pct;

		for (size_t g = 0; g < sc->n_guests; g++)
			wss += sc->wss_mib[t * sc->n_guests + g];
		pct = 100.0 * (double)wss / sc->host_mib;
		sum_pct += pct;
		d.peak_pct = pct > d.peak_pct ? pct : d.peak_pct;
		d.over_s += wss > sc->host_mib;
	}
	d.mean_pct = sum_pct / (double)sc->n_seconds;
	return d;
}

/* With huge pages, a line naming the host's pools (sim_pools()). */
static void pools_line(FILE *f, const struct sim_scenario *sc)
{
	struct sim_pool pools[SIM_MAX_POOLS];
	size_t n = sim_pools(sc, pools);

	if (n == 1 && !pools[0].page_mib)
		return;
	fputs("pools:", f);
	for (size_t p = 0; p < n; p++) {
		fprintf(f, "%s %.1f GiB of ", p ? "," : "",
			pools[p].size_mib / 1024.0);
		if (pools[p].page_mib)
			fprintf(f, "%" PRIu32 " MiB pages", pools[p].page_mib);
		else
			fputs("ordinary memory", f);
	}
	fputc('\n', f);
}

static void heading(FILE *f, const struct sim_scenario *sc,
		    const struct sim_report_source *src)
{
	struct demand d = demand_of(sc);

	if (src->trace)
		fprintf(f, "trace %s", src->trace);
	else
		fprintf(f, "scenario %s (seed %" PRIu64 ")", sc->name, src->seed);
	fprintf(f, ": %zu guests, %zu s, host %.1f GiB; working sets %.0f %% "
		"of host on average, %.0f %% at peak, over the host for %zu s\n",
		sc->n_guests, sc->n_seconds, sc->host_mib / 1024.0, d.mean_pct,
		d.peak_pct, d.over_s);
	pools_line(f, sc);
}

/* @m's shortfall beyond the oracle's, GiB*s. */
static double excess_over_oracle(const struct sim_report_source *src,
				 const struct sim_metrics *m)
{
	return m->shortfall_gib_s - src->oracle->shortfall_gib_s;
}

int sim_report_table(FILE *f, const struct sim_scenario *sc,
		     const struct sim_report_source *src,
		     const struct sim_report_row *rows, size_t n)
{
	heading(f, sc, src);
	fprintf(f, "%-8s %16s %12s %19s %16s %8s %10s %9s %10s %16s\n",
		"policy", "shortfall GiB*s", "over oracle", "peak shortfall GiB",
		"OOM-risk events", "saved %", "churn GiB", "fairness",
		"freed GiB", "whole pages GiB");
	for (size_t i = 0; i < n; i++) {
		const struct sim_metrics *m = rows[i].m;

		fprintf(f, "%-8s %16.1f %12.1f %19.2f %16" PRIu32 " %8.1f %10.1f "
			"%9.3f %10.2f %16.2f\n", rows[i].policy,
			m->shortfall_gib_s, excess_over_oracle(src, m),
			m->peak_shortfall_gib, m->oom_risk_events,
			m->saved_pct, m->churn_gib, m->fairness, m->freed_gib,
			m->freed_whole_gib);
	}
	return stream_status(f);
}

/* @s as a JSON string, escaped. */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_guest(FILE *f, const struct sim_guest_spec *s,
		       const struct sim_guest_metrics *gm)
{
	fputs("{\"name\": ", f);
	json_string(f, s->name);
	if (!gm) {
		fprintf(f, ", \"floor_mib\": %" PRIu32 ", \"static_mib\": %" PRIu32
			", \"cap_mib\": %" PRIu32 ", \"page_mib\": %" PRIu32
			", \"overbidder\": %s}", s->floor_mib, s->static_mib,
			s->cap_mib, s->page_mib, s->overbidder ? "true" : "false");
		return;
	}
	fprintf(f, ", \"mean_alloc_mib\": %.1f, \"mean_backing_mib\": %.1f, "
		"\"satisfied\": %.4f, \"share\": %.4f, \"weight_share\": %.4f, "
		"\"shortfall_gib_s\": %.3f, \"oom_risk_events\": %" PRIu32 "}",
		gm->mean_alloc_mib, gm->mean_backing_mib, gm->satisfied,
		gm->share, gm->weight_share, gm->shortfall_gib_s,
		gm->oom_risk_events);
}

int sim_report_json(FILE *f, const struct sim_scenario *sc,
		    const struct sim_report_source *src,
		    const struct sim_report_row *rows, size_t n)
{
	struct sim_pool pools[SIM_MAX_POOLS];
	struct demand d = demand_of(sc);
	size_t n_pools;

	fputs("{\"scenario\": ", f);
	json_string(f, sc->name);
	if (src->trace) {
		fputs(", \"trace\": ", f);
		json_string(f, src->trace);
	} else {
		fprintf(f, ", \"seed\": %" PRIu64, src->seed);
	}
	fprintf(f, ", \"seconds\": %zu, \"host_mib\": %" PRIu32
		", \"unit_mib\": %" PRIu32 ", \"wss_mean_pct\": %.1f, "
		"\"wss_peak_pct\": %.1f, \"overcommitted_s\": %zu, "
		"\"oracle_shortfall_gib_s\": %.3f,\n \"guests\": [",
		sc->n_seconds, sc->host_mib, sc->unit_mib, d.mean_pct, d.peak_pct,
		d.over_s, src->oracle->shortfall_gib_s);
	for (size_t g = 0; g < sc->n_guests; g++) {
		fputs(g ? ",\n  " : "\n  ", f);
		json_guest(f, &sc->guests[g], NULL);
	}
	fputs("],\n \"pools\": [", f);
	n_pools = sim_pools(sc, pools);
	for (size_t p = 0; p < n_pools; p++)
		fprintf(f, "%s{\"page_mib\": %" PRIu32 ", \"size_mib\": %" PRIu64
			"}", p ? ", " : "", pools[p].page_mib, pools[p].size_mib);
	fputs("],\n \"policies\": [", f);
	for (size_t i = 0; i < n; i++) {
		const struct sim_metrics *m = rows[i].m;

		fputs(i ? ",\n  {\"policy\": " : "\n  {\"policy\": ", f);
		json_string(f, rows[i].policy);
		fprintf(f, ", \"shortfall_gib_s\": %.3f, "
			"\"excess_over_oracle_gib_s\": %.3f, \"peak_shortfall_gib\": "
			"%.3f, \"oom_risk_events\": %" PRIu32 ", \"saved_pct\": "
			"%.3f, \"churn_gib\": %.3f, \"last_move_s\": %zu, "
			"\"fairness\": %.4f, "
			"\"mean_alloc_gib\": %.3f, \"freed_gib\": %.3f, "
			"\"freed_whole_pages_gib\": %.3f,\n   \"guests\": [",
			m->shortfall_gib_s, excess_over_oracle(src, m),
			m->peak_shortfall_gib,
			m->oom_risk_events, m->saved_pct, m->churn_gib,
			m->last_move_s, m->fairness, m->mean_alloc_gib, m->freed_gib,
			m->freed_whole_gib);
		for (size_t g = 0; g < sc->n_guests; g++) {
			fputs(g ? ",\n    " : "\n    ", f);
			json_guest(f, &sc->guests[g], &m->guest[g]);
		}
		fputs("]}", f);
	}
	fputs("]}\n", f);
	return stream_status(f);
}

/* ---- SVG ------------------------------------------------------------------- */

#define SVG_W 960
#define SVG_PANEL_H 260
#define SVG_LEFT 60
#define SVG_RIGHT 130
#define SVG_TOP 30
#define SVG_BOTTOM 30
#define SVG_PLOT_W (SVG_W - SVG_LEFT - SVG_RIGHT)
#define SVG_PLOT_H (SVG_PANEL_H - SVG_TOP - SVG_BOTTOM)

static const char *const palette[] = {
	"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
	"#9467bd", "#8c564b", "#e377c2", "#17becf",
};
#define N_COLORS (sizeof(palette) / sizeof(palette[0]))

/* One guest's curve in a panel at @y0: its allocation or its wss. */
static void svg_curve(FILE *f, const struct sim_scenario *sc, size_t g,
		      const uint32_t *history, size_t stride, double y0,
		      double y_max)
{
	size_t n = sc->n_guests, samples = (sc->n_seconds + stride - 1) / stride;
	double x_scale = SVG_PLOT_W / (double)(sc->n_seconds > 1 ?
					       sc->n_seconds - 1 : 1);

	fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" %s points=\"",
		palette[g % N_COLORS], history ? "stroke-width=\"1.5\"" :
		"stroke-width=\"1\" stroke-dasharray=\"4 3\" opacity=\"0.7\"");
	for (size_t i = 0; i < samples; i++) {
		size_t t = i * stride;
		uint32_t v = history ? history[i * n + g] : sc->wss_mib[t * n + g];

		fprintf(f, "%s%.1f,%.1f", i ? " " : "", SVG_LEFT + t * x_scale,
			y0 + SVG_PLOT_H * (1.0 - v / y_max));
	}
	fputs("\"/>\n", f);
}

int sim_report_svg(FILE *f, const struct sim_scenario *sc,
		   const struct sim_report_row *rows, size_t n, size_t stride)
{
	size_t ng = sc->n_guests, cells = ng * sc->n_seconds;
	double y_max = 1024;

	/* One scale for all panels: the largest wss or allocation, in GiB. */
	for (size_t i = 0; i < cells; i++)
		if (sc->wss_mib[i] > y_max)
			y_max = sc->wss_mib[i];
	for (size_t g = 0; g < ng; g++)
		if (sc->guests[g].cap_mib > y_max)
			y_max = sc->guests[g].cap_mib;
	y_max = 1024.0 * (double)(((uint64_t)y_max + 1023) / 1024);

	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%zu\" font-family=\"sans-serif\" font-size=\"12\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
		SVG_W, n * SVG_PANEL_H);
	for (size_t r = 0; r < n; r++) {
		double y0 = (double)(r * SVG_PANEL_H + SVG_TOP);
		const struct sim_metrics *m = rows[r].m;

		fprintf(f, "<text x=\"%d\" y=\"%.0f\" font-weight=\"bold\">%s: "
			"%s, shortfall %.1f GiB*s, saved %.1f %%, churn %.1f GiB, "
			"freed %.1f GiB (%.1f in whole pages)</text>\n", SVG_LEFT,
			y0 - 10, sc->name, rows[r].policy, m->shortfall_gib_s,
			m->saved_pct, m->churn_gib, m->freed_gib,
			m->freed_whole_gib);
		fprintf(f, "<rect x=\"%d\" y=\"%.0f\" width=\"%d\" height=\"%d\" "
			"fill=\"none\" stroke=\"#999\"/>\n", SVG_LEFT, y0,
			SVG_PLOT_W, SVG_PLOT_H);
		for (int k = 0; k <= 4; k++)
			fprintf(f, "<text x=\"%d\" y=\"%.0f\" text-anchor=\"end\">"
				"%.0f GiB</text>\n", SVG_LEFT - 4,
				y0 + SVG_PLOT_H * (1 - k / 4.0) + 4,
				y_max * k / 4 / 1024);
		fprintf(f, "<text x=\"%d\" y=\"%.0f\">0 s</text>\n"
			"<text x=\"%d\" y=\"%.0f\" text-anchor=\"end\">%zu s</text>\n",
			SVG_LEFT, y0 + SVG_PLOT_H + 16, SVG_LEFT + SVG_PLOT_W,
			y0 + SVG_PLOT_H + 16, sc->n_seconds - 1);
		for (size_t g = 0; g < ng; g++) {
			svg_curve(f, sc, g, NULL, stride, y0, y_max);
			svg_curve(f, sc, g, rows[r].history, stride, y0, y_max);
			fprintf(f, "<text x=\"%d\" y=\"%.0f\" fill=\"%s\">%s</text>\n",
				SVG_LEFT + SVG_PLOT_W + 10, y0 + 14 * (double)(g + 1),
				palette[g % N_COLORS], sc->guests[g].name);
		}
		fprintf(f, "<text x=\"%d\" y=\"%.0f\" fill=\"#555\">solid: alloc"
			"</text>\n<text x=\"%d\" y=\"%.0f\" fill=\"#555\">"
			"dashed: wss</text>\n", SVG_LEFT + SVG_PLOT_W + 10,
			y0 + 14 * (double)(ng + 2), SVG_LEFT + SVG_PLOT_W + 10,
			y0 + 14 * (double)(ng + 3));
	}
	fputs("</svg>\n", f);
	return stream_status(f);
}
