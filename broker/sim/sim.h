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
 *      unit, and, if the total would pass host_mib, scales growth back
 *      (never a shrink) so that it fits. The same rule for every policy.
 *
 * Everything is in MiB. Policies are pure over (state, observations): no
 * I/O, no clock, no global state; the simulator owns all buffers.
 */
#ifndef RAMM_SIM_H
#define RAMM_SIM_H

#include <stddef.h>
#include <stdint.h>

#define SIM_MAX_GUESTS 256
#define SIM_MAX_SECONDS (7 * 86400)
#define SIM_NAME_MAX 32

struct sim_guest_spec {
	char name[SIM_NAME_MAX]; /* NUL-terminated, [A-Za-z0-9_.-]+ */
	uint32_t floor_mib;      /* boot memory: no policy goes below it */
	uint32_t static_mib;     /* configured size: what `static` keeps */
	uint32_t cap_mib;        /* most it may have (virtio-mem or balloon max) */
	int overbidder;          /* ramm only: bids the maximum for every unit */
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
};

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

/* The policies, in --list order: static proxmox mom esx hyperv ramm. */
extern const struct sim_policy_ops sim_policy_static;
extern const struct sim_policy_ops sim_policy_proxmox;
extern const struct sim_policy_ops sim_policy_mom;
extern const struct sim_policy_ops sim_policy_esx;
extern const struct sim_policy_ops sim_policy_hyperv;
extern const struct sim_policy_ops sim_policy_ramm;

#endif /* RAMM_SIM_H */
