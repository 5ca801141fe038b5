/* SPDX-License-Identifier: MIT */
/* ramm-sim --replay (replay.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "plan_record.h"
#include "replay.h"

/* One differing field: count it, and print it while under the limit. */
__attribute__((format(printf, 4, 5)))
static void replay_mismatch(FILE *report, struct replay_summary *sum,
			    uint64_t tick, const char *fmt, ...)
{
	va_list ap;

	if (sum->mismatches++ >= REPLAY_MAX_REPORTED)
		return;
	fprintf(report, "tick %llu: ", (unsigned long long)tick);
	va_start(ap, fmt);
	vfprintf(report, fmt, ap);
	va_end(ap);
	fputc('\n', report);
}

/* Compare one unsigned field of @what. */
#define CMP(what, field, rec, got)                                            \
	do {                                                                  \
		if ((unsigned long long)(rec) != (unsigned long long)(got))   \
			replay_mismatch(report, sum, tick,                    \
					"%s: %s recorded %llu, replayed %llu", what,  \
					field, (unsigned long long)(rec),     \
					(unsigned long long)(got));           \
	} while (0)

/* Compare one signed field of @what. */
#define CMPS(what, field, rec, got)                                           \
	do {                                                                  \
		if ((long long)(rec) != (long long)(got))                     \
			replay_mismatch(report, sum, tick,                    \
					"%s: %s recorded %lld, replayed %lld", what,  \
					field, (long long)(rec), (long long)(got)); \
	} while (0)

static void replay_compare_actions(const struct plan_record *rec,
				   const struct plan_result *got, uint64_t tick,
				   FILE *report, struct replay_summary *sum)
{
	const struct plan_result *want = &rec->out;
	size_t n = want->n_actions < got->n_actions ? want->n_actions : got->n_actions;
	char what[64];

	CMP("actions", "n_actions", want->n_actions, got->n_actions);
	sum->actions += want->n_actions;
	for (size_t i = 0; i < n; i++) {
		const struct plan_action *a = &want->actions[i], *b = &got->actions[i];

		snprintf(what, sizeof(what), "action %zu (guest %zu)", i, a->guest);
		CMP(what, "guest", a->guest, b->guest);
		CMP(what, "total_bytes", a->total_bytes, b->total_bytes);
		CMP(what, "from_units", a->from_units, b->from_units);
		CMP(what, "to_units", a->to_units, b->to_units);
		CMP(what, "price", a->price, b->price);
		CMP(what, "why", a->why, b->why);
		CMP(what, "bid", a->bid, b->bid);
		CMP(what, "offered_units", a->offered_units, b->offered_units);
		CMP(what, "only_offered", a->only_offered, b->only_offered);
		CMP(what, "for_short", a->for_short, b->for_short);
	}
}

static void replay_compare_guests(const struct plan_record *rec,
				  const struct plan_result *got, uint64_t tick,
				  FILE *report, struct replay_summary *sum)
{
	char what[32];

	for (size_t i = 0; i < rec->in.n_guests; i++) {
		const struct plan_guest_result *a = &rec->out.guests[i], *b = &got->guests[i];

		snprintf(what, sizeof(what), "guest %zu", i);
		CMPS(what, "pool", a->pool, b->pool);
		CMP(what, "too_many_pools", a->too_many_pools, b->too_many_pools);
		CMP(what, "planned", a->planned, b->planned);
		CMP(what, "target_units", a->target_units, b->target_units);
		CMP(what, "price", a->price, b->price);
		CMP(what, "account_open", a->account_open, b->account_open);
		CMP(what, "account.balance", a->account.balance, b->account.balance);
		CMP(what, "account.weight", a->account.weight, b->account.weight);
		CMP(what, "account.credit", a->account.credit, b->account.credit);
		CMP(what, "paid", a->paid, b->paid);
		CMP(what, "growth_waits", a->growth_waits, b->growth_waits);
	}
}

static void replay_compare_pools(const struct plan_record *rec,
				 const struct plan_result *got, uint64_t tick,
				 FILE *report, struct replay_summary *sum)
{
	const struct plan_result *want = &rec->out;
	size_t n = want->n_pools < got->n_pools ? want->n_pools : got->n_pools;
	char what[64];

	CMP("the host", "emergency", want->emergency, got->emergency);
	CMP("pools", "n_pools", want->n_pools, got->n_pools);
	for (size_t p = 0; p < n; p++) {
		const struct plan_pool *a = &want->pools[p], *b = &got->pools[p];

		snprintf(what, sizeof(what), "pool %zu (%s)", p, a->name);
		if (strcmp(a->name, b->name))
			replay_mismatch(report, sum, tick,
					"%s: name recorded %s, replayed %s", what,
					a->name, b->name);
		CMP(what, "page_bytes", a->page_bytes, b->page_bytes);
		CMP(what, "host_nodes", a->host_nodes, b->host_nodes);
		CMP(what, "unit_bytes", a->unit_bytes, b->unit_bytes);
		CMP(what, "n_guests", a->n_guests, b->n_guests);
		CMP(what, "price", a->price, b->price);
		CMP(what, "supply_bytes", a->supply_bytes, b->supply_bytes);
		CMP(what, "free_bytes", a->free_bytes, b->free_bytes);
		CMP(what, "allocated_bytes", a->allocated_bytes, b->allocated_bytes);
		CMP(what, "demand_bytes", a->demand_bytes, b->demand_bytes);
		CMPS(what, "error", a->error, b->error);
	}
}

void replay_compare(const struct plan_record *rec, const struct plan_result *got,
		    uint64_t tick, FILE *report, struct replay_summary *sum)
{
	sum->ticks++;
	replay_compare_actions(rec, got, tick, report, sum);
	replay_compare_guests(rec, got, tick, report, sum);
	replay_compare_pools(rec, got, tick, report, sum);
}

/*
 * The next line of @f into *@buf (grown as needed, at most
 * PLAN_RECORD_MAX_LINE bytes with its newline), NUL bytes and all; *@len
 * counts the newline if there is one. Returns 1, 0 at the end of the
 * file, -EFBIG for a longer line, -ENOMEM, or -EIO on a read error.
 */
static int replay_read_line(FILE *f, char **buf, size_t *cap, size_t *len)
{
	size_t n = 0;
	int c;

	while ((c = getc_unlocked(f)) != EOF) {
		if (n == PLAN_RECORD_MAX_LINE)
			return -EFBIG;
		if (n == *cap) {
			size_t grow = *cap ? *cap * 2 : 65536;
			char *b = realloc(*buf, grow);

			if (!b)
				return -ENOMEM;
			*buf = b;
			*cap = grow;
		}
		(*buf)[n++] = (char)c;
		if (c == '\n')
			break;
	}
	if (ferror(f))
		return -EIO;
	*len = n;
	return n ? 1 : 0;
}

int replay_file(const char *path, FILE *report, struct replay_summary *sum,
		char *err, size_t errlen)
{
	struct plan_result got = { 0 };
	size_t got_room = 0, cap = 0, len;
	char *buf = NULL, why[256];
	uint64_t line_no = 0;
	FILE *f = fopen(path, "re");
	int ret, said = 0; /* @err holds the failure's message */

	*sum = (struct replay_summary){ 0 };
	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	while ((ret = replay_read_line(f, &buf, &cap, &len)) == 1) {
		struct plan_record *rec;

		line_no++;
		ret = plan_record_parse(buf, len, &rec, why, sizeof(why));
		if (ret) {
			snprintf(err, errlen, "%s:%llu: %s", path,
				 (unsigned long long)line_no, why);
			said = 1;
			break;
		}
		if (rec->in.n_guests + 1 > got_room) {
			size_t room = rec->in.n_guests + 1;

			free(got.actions);
			free(got.guests);
			got.actions = calloc(room, sizeof(*got.actions));
			got.guests = calloc(room, sizeof(*got.guests));
			got_room = got.actions && got.guests ? room : 0;
		}
		ret = got_room ? plan_tick(&rec->in, &got) : -ENOMEM;
		if (!ret)
			replay_compare(rec, &got, line_no, report, sum);
		plan_record_free(rec);
		if (ret) {
			snprintf(err, errlen, "%s:%llu: planning it: %s", path,
				 (unsigned long long)line_no, strerror(-ret));
			said = 1;
			break;
		}
	}
	if (ret == -EFBIG) {
		snprintf(err, errlen, "%s:%llu: line longer than %u bytes", path,
			 (unsigned long long)line_no + 1, PLAN_RECORD_MAX_LINE);
		ret = -EINVAL;
	} else if (ret < 0 && !said) {
		snprintf(err, errlen, "%s:%llu: %s", path,
			 (unsigned long long)line_no + 1, strerror(-ret));
	}
	if (sum->mismatches > REPLAY_MAX_REPORTED)
		fprintf(report, "(%llu more mismatches not shown)\n",
			(unsigned long long)(sum->mismatches - REPLAY_MAX_REPORTED));
	free(buf);
	free(got.actions);
	free(got.guests);
	fclose(f);
	return ret > 0 ? 0 : ret;
}
