/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_text.h"

/* A label value with \, " and newline escaped, as the format requires. */
static void metrics_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void metrics_head(FILE *f, const char *name, const char *type,
			 const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metrics_scalar(FILE *f, const char *name, const char *type,
			   const char *help, unsigned long long v)
{
	metrics_head(f, name, type, help);
	fprintf(f, "%s %llu\n", name, v);
}

enum metrics_field {
	MF_SIZE, MF_TARGET, MF_FLOOR, MF_CAP, MF_PAID, MF_BALANCE, MF_CREDIT,
	MF_AGENT, MF_UNIT, MF_OFFER, MF_PINS,
};

static const struct {
	const char *name, *type, *help;
	enum metrics_field field;
} metrics_guest_series[] = {
	{ "ramm_guest_size_bytes", "gauge", "Guest memory now: boot plus plugged virtio-mem.", MF_SIZE },
	{ "ramm_guest_target_bytes", "gauge", "The market's target for the guest (0 while its device is not ready).", MF_TARGET },
	{ "ramm_guest_floor_bytes", "gauge", "Guest memory never auctioned.", MF_FLOOR },
	{ "ramm_guest_cap_bytes", "gauge", "Most memory the guest may hold.", MF_CAP },
	{ "ramm_guest_paid_total", "counter", "Price-units the guest has paid for memory above its floor since rammd started.", MF_PAID },
	{ "ramm_guest_balance", "gauge", "Price-units the guest may spend.", MF_BALANCE },
	{ "ramm_guest_credit", "gauge", "Credit score (0.1..1) scaling bids beyond the memory the guest uses.", MF_CREDIT },
	{ "ramm_guest_agent_up", "gauge", "1 if the guest's agent channel is connected.", MF_AGENT },
	{ "ramm_guest_unit_bytes", "gauge", "The guest's market unit: the largest of unit_mib, its virtio-mem block and its host backing page.", MF_UNIT },
	{ "ramm_guest_offer_bytes", "gauge", "Memory the guest holds and reports free in whole units: taken first.", MF_OFFER },
	{ "ramm_guest_pins_memory", "gauge", "1 if the guest has a VFIO device: every block plugged is pinned in host RAM at once.", MF_PINS },
};

static void metrics_guest_value(FILE *f, const struct metrics_guest *g,
				enum metrics_field field)
{
	switch (field) {
	case MF_SIZE: fprintf(f, "%llu\n", (unsigned long long)g->size_bytes); break;
	case MF_TARGET: fprintf(f, "%llu\n", (unsigned long long)g->target_bytes); break;
	case MF_FLOOR: fprintf(f, "%llu\n", (unsigned long long)g->floor_bytes); break;
	case MF_CAP: fprintf(f, "%llu\n", (unsigned long long)g->cap_bytes); break;
	case MF_PAID: fprintf(f, "%llu\n", (unsigned long long)g->paid_total); break;
	case MF_BALANCE: fprintf(f, "%llu\n", (unsigned long long)g->balance); break;
	case MF_CREDIT: fprintf(f, "%.3f\n", g->credit); break;
	case MF_AGENT: fprintf(f, "%d\n", g->agent_up ? 1 : 0); break;
	case MF_UNIT: fprintf(f, "%llu\n", (unsigned long long)g->unit_bytes); break;
	case MF_OFFER: fprintf(f, "%llu\n", (unsigned long long)g->offer_bytes); break;
	case MF_PINS: fprintf(f, "%d\n", g->pins_memory ? 1 : 0); break;
	}
}

/* Each pool's figures, one series per figure, labelled by pool. */
static void metrics_pools(FILE *f, const struct metrics_snapshot *m)
{
	static const struct {
		const char *name, *help;
	} series[] = {
		{ "ramm_pool_price", "The pool's last clearing price." },
		{ "ramm_pool_supply_bytes", "Memory the pool may hand out above its guests' floors." },
		{ "ramm_pool_free_bytes", "Huge pages free to plug now (0 for ordinary memory)." },
		{ "ramm_pool_allocated_bytes", "Sum of the pool's targets above floors." },
		{ "ramm_pool_demand_bytes", "Memory bid for in the pool at a positive price." },
	};

	for (size_t s = 0; s < sizeof(series) / sizeof(series[0]); s++) {
		metrics_head(f, series[s].name, "gauge", series[s].help);
		for (size_t i = 0; i < m->n_pools; i++) {
			const struct metrics_pool *p = &m->pools[i];
			const uint64_t v[] = { p->price, p->supply_bytes, p->free_bytes,
					       p->allocated_bytes, p->demand_bytes };

			fprintf(f, "%s{pool=\"", series[s].name);
			metrics_label(f, p->name);
			fprintf(f, "\"} %llu\n", (unsigned long long)v[s]);
		}
	}
}

int metrics_format(const struct metrics_snapshot *m, char **out, size_t *len)
{
	static const char *const tiers[] = { "in_use", "need", "any" };
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	*out = NULL;
	*len = 0;
	if (!f)
		return -ENOMEM;
	for (size_t s = 0; s < sizeof(metrics_guest_series) / sizeof(metrics_guest_series[0]); s++) {
		metrics_head(f, metrics_guest_series[s].name, metrics_guest_series[s].type,
			     metrics_guest_series[s].help);
		for (size_t i = 0; i < m->n_guests; i++) {
			fprintf(f, "%s{guest=\"", metrics_guest_series[s].name);
			metrics_label(f, m->guests[i].name);
			fputs("\"} ", f);
			metrics_guest_value(f, &m->guests[i], metrics_guest_series[s].field);
		}
	}
	metrics_head(f, "ramm_guest_bid_bytes", "gauge",
		     "Memory above the floor the guest bids for at or above a tier's price (in_use 8000, need 1000, any > 0).");
	for (size_t i = 0; i < m->n_guests; i++) {
		const uint64_t v[] = { m->guests[i].bid_in_use_bytes,
				       m->guests[i].bid_need_bytes,
				       m->guests[i].bid_any_bytes };

		for (size_t t = 0; t < 3; t++) {
			fputs("ramm_guest_bid_bytes{guest=\"", f);
			metrics_label(f, m->guests[i].name);
			fprintf(f, "\",tier=\"%s\"} %llu\n", tiers[t],
				(unsigned long long)v[t]);
		}
	}
	metrics_pools(f, m);
	metrics_scalar(f, "ramm_market_price", "gauge", "The last clearing price of ordinary memory.", m->price);
	metrics_scalar(f, "ramm_supply_bytes", "gauge", "Memory the market may hand out above all floors, all pools.", m->supply_bytes);
	metrics_scalar(f, "ramm_allocated_bytes", "gauge", "Sum of the targets above floors.", m->allocated_bytes);
	metrics_scalar(f, "ramm_demand_bytes", "gauge", "Memory bid for at a positive price.", m->demand_bytes);
	metrics_scalar(f, "ramm_ticks_total", "counter", "Market clearings since rammd started.", m->ticks);
	metrics_scalar(f, "ramm_emergency", "gauge", "1 while host MemAvailable is below critical_free_mib.", m->emergency ? 1 : 0);
	metrics_scalar(f, "ramm_guests", "gauge", "Guests managed.", m->n_guests);
	if (fclose(f) || !buf) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*len = size;
	return 0;
}
