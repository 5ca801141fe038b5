/* SPDX-License-Identifier: MIT */
/*
 * The Prometheus text exposition of rammd's state (format 0.0.4), as a pure
 * function of a snapshot, so that it is tested without a daemon.
 */
#ifndef RAMM_METRICS_TEXT_H
#define RAMM_METRICS_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* One guest's figures. Sizes are guest totals (boot plus virtio-mem). */
struct metrics_guest {
	const char *name;          /* label value; escaped on output */
	uint64_t size_bytes;
	uint64_t target_bytes;     /* 0 while the device is not ready */
	uint64_t floor_bytes;
	uint64_t cap_bytes;
	uint64_t bid_in_use_bytes; /* bid above the floor at >= the in-use price */
	uint64_t bid_need_bytes;   /* ... at >= the need price */
	uint64_t bid_any_bytes;    /* ... at any price above 0 */
	uint64_t paid_total;       /* price-units paid since rammd started */
	uint64_t balance;          /* price-units it may spend */
	double credit;             /* 0.1 .. 1 */
	int agent_up;              /* agent channel connected */
	uint64_t unit_bytes;       /* its market unit (block, host page) */
	uint64_t offer_bytes;      /* held memory it reports free in units */
	int pins_memory;           /* a VFIO device pins what it plugs */
};

/* One memory pool's figures (ordinary memory, or a hugetlb page size). */
struct metrics_pool {
	const char *name;          /* label value; escaped on output */
	uint32_t price;
	uint64_t supply_bytes;
	uint64_t free_bytes;       /* hugetlb: free pages it may plug now */
	uint64_t allocated_bytes;
	uint64_t demand_bytes;
};

struct metrics_snapshot {
	uint32_t price;            /* last clearing price */
	uint64_t supply_bytes;     /* auctionable, above all floors */
	uint64_t allocated_bytes;  /* sum of targets above floors */
	uint64_t demand_bytes;     /* bid for at a positive price */
	uint64_t ticks;            /* clearings so far */
	int emergency;
	const struct metrics_guest *guests; /* @n_guests entries; borrowed */
	size_t n_guests;
	const struct metrics_pool *pools; /* @n_pools entries; borrowed */
	size_t n_pools;
};

/*
 * metrics_format - the exposition of @m, HELP and TYPE lines included.
 * On success *@out is a NUL-terminated malloc()ed string the caller frees
 * and *@len its length; returns 0, or -ENOMEM (then *@out is NULL).
 */
int metrics_format(const struct metrics_snapshot *m, char **out, size_t *len);

#endif /* RAMM_METRICS_TEXT_H */
