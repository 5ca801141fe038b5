/* SPDX-License-Identifier: MIT */
/*
 * A bounded ring of a guest's last market ticks, for `rammctl history`.
 * Pure: no I/O, no globals. The ring's storage is allocated on first push.
 */
#ifndef RAMM_HISTORY_H
#define RAMM_HISTORY_H

#include <stddef.h>
#include <stdint.h>

/* Ticks kept per guest: ten minutes at the default 1 s tick. */
#define HISTORY_LEN 600

struct history_entry {
	int64_t time_ms;       /* wall clock, ms since the epoch */
	uint64_t size_bytes;   /* guest total at the tick */
	uint64_t target_bytes; /* the market's target for it (0: not managed) */
	uint64_t balance;      /* its account after settling */
	uint32_t price;        /* the clearing price */
	uint32_t credit;       /* credit score, thousandths */
};

struct history {
	struct history_entry *entries; /* owned; NULL until the first push */
	size_t capacity;               /* entries allocated */
	size_t head;                   /* next slot written */
	size_t len;                    /* entries held, <= capacity */
};

/*
 * history_push - append @e (copied), dropping the oldest entry when
 * HISTORY_LEN are held. @h must be zeroed or previously used.
 * Returns 0, or -ENOMEM (then @h is unchanged).
 */
int history_push(struct history *h, const struct history_entry *e);

/* history_len - entries held. */
size_t history_len(const struct history *h);

/*
 * history_get - the @i-th entry held, oldest first (0 <= @i < len).
 * Returns a pointer into @h valid until the next push or free, or NULL if
 * @i is out of range.
 */
const struct history_entry *history_get(const struct history *h, size_t i);

/* history_free - release the storage; @h is then empty and reusable. */
void history_free(struct history *h);

#endif /* RAMM_HISTORY_H */
