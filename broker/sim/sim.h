/* SPDX-License-Identifier: MIT */
/*
 * ramm-sim: replays guest demand against memory policies, side by side.
 *
 * The model, one step per simulated second t:
 *   1. the scenario gives each guest's working set wss[t] and weight[t];
 *   2. the metrics judge the allocations in force during t against wss[t];
 *   3. each policy sees one observation per guest for t (below) and names
 *      the allocations it wants for t + 1;
 *   4. the simulator clamps every request to [floor, cap], rounds it to the
 *      unit, and, if a pool's total would pass the pool, scales growth back
 *      (never a shrink) so that it fits. The same rule for every policy.
 *
 * The host's memory is in pools, one per backing page size (sim_pools()):
 * hugetlbfs pages of each size are reserved apart, and a guest draws only
 * on the pool of its page size. Ordinary memory is one pool: a scenario
 * without huge pages has a single pool, the whole host.
 *
 * Everything is in MiB. Policies are pure over (state, observations): no
 * I/O, no clock, no global state; the simulator owns all buffers.
 */
#ifndef RAMM_SIM_H
#define RAMM_SIM_H

#include <stddef.h>
#include <stdint.h>

#define SIM_MAX_GUESTS 4096
#define SIM_MAX_SECONDS (7 * 86400)
#define SIM_NAME_MAX 32

struct sim_guest_spec {
	char name[SIM_NAME_MAX]; /* NUL-terminated, [A-Za-z0-9_.-]+ */
	uint32_t floor_mib;      /* boot memory: no policy goes below it */
	uint32_t static_mib;     /* configured size: what `static` keeps */
	uint32_t cap_mib;        /* most it may have (virtio-mem or balloon max) */
	int overbidder;          /* ramm only: bids the maximum for every unit */
	uint32_t page_mib;       /* host page backing its memory (hugetlbfs:
				  * 2 or 1024), 0 for ordinary memory; a
				  * multiple of the unit dividing floor,
				  * static and cap. The host frees only whole
				  * pages (sim_backing_mib()) */
};

struct sim_scenario {
	char name[SIM_NAME_MAX];
	uint32_t host_mib;   /* memory the guests may share, reserve taken off */
	uint32_t unit_mib;   /* allocation granularity (2) */
	size_t n_guests;     /* 1..SIM_MAX_GUESTS */
	size_t n_seconds;    /* 1..SIM_MAX_SECONDS */
	struct sim_guest_spec guests[SIM_MAX_GUESTS];
	uint32_t *wss_mib;   /* [t * n_guests + g]; owned by the scenario */
	uint32_t *weight;    /* [t * n_guests + g], shares >= 1; owned */
	/* Not demand but the run's setting of ramm's one knob: the
	 * planner's reserve price (--reserve-price), SIM_RESERVE_DEFAULT for
	 * rammd's default. */
	uint32_t ramm_reserve_price;
};

#define SIM_RESERVE_DEFAULT UINT32_MAX

/*
 * What a policy sees of guest g at the end of second t. Each policy reads
 * only the fields its real counterpart can read (docs/SIMULATOR.md says
 * which): e.g. a balloon driver sees free memory, not the working set it
 * cannot fit.
 */
struct sim_observation {
	uint32_t alloc_mib;  /* memory the guest has during t */
	uint32_t used_mib;   /* min(wss, alloc): what it can hold */
	uint32_t free_mib;   /* alloc - used */
	uint32_t short_mib;  /* wss - used: demand it could not fit (it pages,
			      * refaults and stalls for it) */
	uint32_t weight;     /* its shares during t */
};

/* Host-wide view at the end of second t. */
struct sim_host {
	uint32_t host_mib;   /* as in the scenario */
	uint32_t alloc_mib;  /* sum of allocations during t */
};

struct sim_policy_ops {
	const char *name;    /* as given to --policies */
	const char *summary; /* one line for --list */
	/*
	 * init - make the policy's state for @sc in *@priv. Returns 0 or
	 * -errno (-ENOMEM); on failure *@priv is untouched.
	 */
	int (*init)(void **priv, const struct sim_scenario *sc);
	/*
	 * step - from the observations of second @t (n_guests entries) and
	 * the host view, write the allocation wanted for t + 1 of every guest
	 * to @next_mib (n_guests entries, caller-owned). Never fails.
	 */
	void (*step)(void *priv, const struct sim_scenario *sc, size_t t,
		     const struct sim_host *host,
		     const struct sim_observation *obs, uint32_t *next_mib);
	/* fini - free what init made; accepts NULL. */
	void (*fini)(void *priv);
};

/* The policies, in --list order: static proxmox mom esx hyperv ramm oracle. */
extern const struct sim_policy_ops sim_policy_static;
extern const struct sim_policy_ops sim_policy_proxmox;
extern const struct sim_policy_ops sim_policy_mom;
extern const struct sim_policy_ops sim_policy_esx;
extern const struct sim_policy_ops sim_policy_hyperv;
extern const struct sim_policy_ops sim_policy_ramm;
extern const struct sim_policy_ops sim_policy_oracle;

/* ---- the runner (sim.c) -------------------------------------------------- */

/* Most distinct backing page sizes, and so pools, in one scenario. */
#define SIM_MAX_POOLS 4

/* One pool of host memory: the pages of one size. */
struct sim_pool {
	uint32_t page_mib;  /* its page size, 0 for ordinary memory */
	uint64_t size_mib;  /* memory in it */
};

/*
 * sim_pools - the pools of @sc, one per page size its guests use, in the
 * order of each size's first guest, into @pools (caller-owned,
 * SIM_MAX_POOLS entries). A huge page pool holds the statics of its guests,
 * as an operator reserves nr_hugepages for the VMs' configured memory;
 * ordinary memory is the rest of the host. Needs a scenario that
 * sim_scenario_check() accepts. Returns the number of pools (>= 1).
 * Pure; O(n_guests).
 */
size_t sim_pools(const struct sim_scenario *sc, struct sim_pool *pools);

/*
 * sim_backing_mib - host memory guest @s holds with @alloc_mib: @alloc_mib
 * rounded up to whole backing pages, since a partly used huge page stays
 * allocated. Ordinary memory (page_mib 0) is held as allocated. Pure.
 */
uint64_t sim_backing_mib(const struct sim_guest_spec *s, uint32_t alloc_mib);

#define SIM_N_POLICIES 7

/* All policies, in --list order. */
extern const struct sim_policy_ops *const sim_policies[SIM_N_POLICIES];

/* sim_policy_find - the policy called @name, or NULL. O(SIM_N_POLICIES). */
const struct sim_policy_ops *sim_policy_find(const char *name);

/*
 * sim_limit - the simulator's rule, the same for every policy: turn the
 * allocations @next_mib a policy wants for t + 1 into the ones it gets, in
 * place. @cur_mib are the allocations during t (each pool's sum at most the
 * pool, each in [floor, cap] and floor + whole units). Each request is
 * clamped to [floor, cap] and its part above the floor rounded down to whole
 * units; then, pool by pool (sim_pools()), if the pool's total passes the
 * pool, only growth is scaled back, in proportion and in whole units
 * (integer math; leftover units go one each to the pool's growing guests in
 * index order), so no guest shrinks to make room. Without huge pages the
 * one pool is host_mib. Never fails; O(n_guests * pools).
 */
void sim_limit(const struct sim_scenario *sc, const uint32_t *cur_mib,
	       uint32_t *next_mib);

struct sim_metrics;

/*
 * sim_run - replay @sc against policy @ops from t = 0 (every guest at its
 * static_mib) to n_seconds - 1, and fill @m (caller-owned) with the
 * metrics. If @history is non-NULL it receives the allocation of every
 * @stride-th second (t = 0, stride, ...): ceil(n_seconds / stride) rows of
 * n_guests entries, caller-owned; @stride >= 1.
 * Returns 0, or -ENOMEM / the policy's init error; then @m is undefined and
 * @history partly written.
 */
int sim_run(const struct sim_scenario *sc, const struct sim_policy_ops *ops,
	    struct sim_metrics *m, uint32_t *history, size_t stride);

/* ---- the ramm policy's guest model (policy_ramm.c) ----------------------- */

struct ramm_bid_step;

/*
 * sim_ramm_bid - the bid curve guest @spec sends seeing @obs, in units of
 * @unit_mib (its pool's market unit, a power of two): an honest
 * guest runs the agent's bid model (guest-agent/bid_model.c) on the
 * /proc sample a Linux guest with obs->alloc_mib of memory would show; an
 * overbidder bids every unit up to its cap at @max_price. Prices above
 * @max_price count as @max_price, as in rammd.
 * @steps: caller-owned, RAMM_MAX_BID_STEPS entries.
 * Returns the number of steps written (0: it bids for nothing, also when
 * the model rejects its input). Pure; O(1).
 */
size_t sim_ramm_bid(const struct sim_guest_spec *spec,
		    const struct sim_observation *obs, uint32_t unit_mib,
		    uint32_t max_price, struct ramm_bid_step *steps);

#endif /* RAMM_SIM_H */
