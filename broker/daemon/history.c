/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"

int history_push(struct history *h, const struct history_entry *e)
{
	if (!h->entries) {
		h->entries = calloc(HISTORY_LEN, sizeof(*h->entries));
		if (!h->entries)
			return -ENOMEM;
		h->capacity = HISTORY_LEN;
		h->head = h->len = 0;
	}
	h->entries[h->head] = *e;
	h->head = (h->head + 1) % h->capacity;
	if (h->len < h->capacity)
		h->len++;
	return 0;
}

size_t history_len(const struct history *h)
{
	return h->len;
}

const struct history_entry *history_get(const struct history *h, size_t i)
{
	if (i >= h->len)
		return NULL;
	return &h->entries[(h->head + h->capacity - h->len + i) % h->capacity];
}

void history_free(struct history *h)
{
	free(h->entries);
	memset(h, 0, sizeof(*h));
}
