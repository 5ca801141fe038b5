/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for ramm-sim's baseline policies (broker/sim/policy_proxmox.c,
 * policy_mom.c, policy_esx.c, policy_hyperv.c): each published rule on
 * small hand-made cases, and that none of them looks at backing pages.
 * The policy files are included whole so that their static helpers (the
 * ESX ratio, the estimator) can be reached.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../broker/sim/policy_esx.c"
#include "../../broker/sim/policy_hyperv.c"
#include "../../broker/sim/policy_mom.c"
#include "../../broker/sim/policy_proxmox.c"

/* A scenario of @n guests on @host MiB, all with the same sizes. */
static struct sim_scenario *scenario(size_t n, uint32_t host, uint32_t floor,
				     uint32_t stat, uint32_t cap)
{
	struct sim_scenario *sc = calloc(1, sizeof(*sc));

	assert_non_null(sc);
	sc->host_mib = host;
	sc->unit_mib = 2;
	sc->n_guests = n;
	sc->n_seconds = 1;
	for (size_t g = 0; g < n; g++) {
		sc->guests[g].floor_mib = floor;
		sc->guests[g].static_mib = stat;
		sc->guests[g].cap_mib = cap;
	}
	return sc;
}

/* What the simulator shows of a guest holding @alloc for working set @wss. */
static struct sim_observation observe(uint32_t alloc, uint32_t wss,
				      uint32_t weight)
{
	uint32_t used = wss < alloc ? wss : alloc;

	return (struct sim_observation){ .alloc_mib = alloc,
					 .used_mib = used,
					 .free_mib = alloc - used,
					 .short_mib = wss - used,
					 .weight = weight };
}

static struct sim_host host_view(const struct sim_scenario *sc,
				 const struct sim_observation *obs)
{
	struct sim_host h = { .host_mib = sc->host_mib };

	for (size_t g = 0; g < sc->n_guests; g++)
		h.alloc_mib += obs[g].alloc_mib;
	return h;
}

/* One step of @ops at second @t. */
static void step(const struct sim_policy_ops *ops, void *priv,
		 const struct sim_scenario *sc, size_t t,
		 const struct sim_observation *obs, uint32_t *next)
{
	struct sim_host h = host_view(sc, obs);

	ops->step(priv, sc, t, &h, obs, next);
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* ---- proxmox ---------------------------------------------------------- */

static void test_proxmox_acts_every_10s_only(void **state)
{
	struct sim_scenario *sc = scenario(2, 20000, 1000, 6000, 8000);
	struct sim_observation obs[2] = { observe(2000, 1500, 1000),
					  observe(2000, 1500, 1000) };
	uint32_t next[2];
	void *priv = NULL;

	(void)state;
	assert_int_equal(sim_policy_proxmox.init(&priv, sc), 0);
	for (size_t t = 0; t < 9; t++) {
		step(&sim_policy_proxmox, priv, sc, t, obs, next);
		assert_int_equal(next[0], 2000);
		assert_int_equal(next[1], 2000);
	}
	/* goal = 0.8 * 20000 - 4000: grow, but 100 MiB per VM at most */
	step(&sim_policy_proxmox, priv, sc, 9, obs, next);
	assert_int_equal(next[0], 2100);
	assert_int_equal(next[1], 2100);
	sim_policy_proxmox.fini(priv);
	free(sc);
}

static void test_proxmox_small_goal_does_nothing(void **state)
{
	/* 0.8 * 10000 - 7995 = 5 MiB: below the 10 MiB threshold */
	struct sim_scenario *sc = scenario(1, 10000, 1000, 9000, 9000);
	struct sim_observation obs[1] = { observe(7995, 1000, 1000) };
	uint32_t next[1];
	void *priv = NULL;

	(void)state;
	assert_int_equal(sim_policy_proxmox.init(&priv, sc), 0);
	step(&sim_policy_proxmox, priv, sc, 9, obs, next);
	assert_int_equal(next[0], 7995);
	sim_policy_proxmox.fini(priv);
	free(sc);
}

static void test_proxmox_shrink_by_shares(void **state)
{
	/*
	 * goal = 8000 - 10000 = -2000 over two roomy VMs with shares 2:1:
	 * desired = 1000 + 6000 * 2/3 = 5000 for the first (already there),
	 * 1000 + 6000 / 3 = 3000 for the second, reached 100 MiB at a time.
	 */
	struct sim_scenario *sc = scenario(2, 10000, 1000, 6000, 8000);
	struct sim_observation obs[2] = { observe(5000, 2000, 2000),
					  observe(5000, 2000, 1000) };
	uint32_t next[2];
	void *priv = NULL;

	(void)state;
	assert_int_equal(sim_policy_proxmox.init(&priv, sc), 0);
	step(&sim_policy_proxmox, priv, sc, 19, obs, next);
	assert_int_equal(next[0], 5000);
	assert_int_equal(next[1], 4900);
	sim_policy_proxmox.fini(priv);
	free(sc);
}

static void test_proxmox_shrink_prefers_free_memory(void **state)
{
	/*
	 * The second VM has no free memory (pressure list): a shrink goes to
	 * the first, roomy one, even though the shares would split it.
	 */
	struct sim_scenario *sc = scenario(2, 10000, 1000, 6000, 8000);
	struct sim_observation obs[2] = { observe(5000, 1000, 1000),
					  observe(5000, 6000, 1000) };
	uint32_t next[2];
	void *priv = NULL;

	(void)state;
	assert_int_equal(sim_policy_proxmox.init(&priv, sc), 0);
	step(&sim_policy_proxmox, priv, sc, 9, obs, next);
	assert_int_equal(next[0], 4900);
	assert_int_equal(next[1], 5000);
	sim_policy_proxmox.fini(priv);
	free(sc);
}

static void test_proxmox_grow_stops_at_configured_size(void **state)
{
	/* The first VM is at maxmem (static_mib): it takes no more. */
	struct sim_scenario *sc = scenario(2, 40000, 1000, 3000, 8000);
	struct sim_observation obs[2] = { observe(3000, 3000, 1000),
					  observe(2000, 2000, 1000) };
	uint32_t next[2];
	void *priv = NULL;

	(void)state;
	assert_int_equal(sim_policy_proxmox.init(&priv, sc), 0);
	step(&sim_policy_proxmox, priv, sc, 9, obs, next);
	assert_int_equal(next[0], 3000);
	assert_int_equal(next[1], 2100);
	sim_policy_proxmox.fini(priv);
	free(sc);
}

static void test_proxmox_random_rate_limit(void **state)
{
	struct sim_scenario *sc = scenario(5, 16000, 1000, 5000, 9000);
	struct sim_observation obs[5];
	uint32_t next[5];
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	void *priv = NULL;

	(void)state;
	assert_int_equal(sim_policy_proxmox.init(&priv, sc), 0);
	for (size_t t = 0; t < 4000; t++) {
		for (size_t g = 0; g < 5; g++) {
			uint32_t a = 1000 + (uint32_t)(rng_next(&seed) % 4001);
			uint32_t wss = (uint32_t)(rng_next(&seed) % 7000);
			uint32_t w = 1 + (uint32_t)(rng_next(&seed) % 3000);

			obs[g] = observe(a, wss, w);
		}
		step(&sim_policy_proxmox, priv, sc, t, obs, next);
		for (size_t g = 0; g < 5; g++) {
			int64_t d = (int64_t)next[g] - obs[g].alloc_mib;

			if (t % 10 != 9)
				assert_int_equal(d, 0);
			assert_true(d <= 100 && d >= -100);
			assert_true(next[g] >= 1000 && next[g] <= 5000);
		}
	}
	sim_policy_proxmox.fini(priv);
	free(sc);
}

/* ---- mom -------------------------------------------------------------- */

/* Feed @obs for seconds 0..9; returns the targets of the cycle at t = 9. */
static void mom_cycle(void *priv, const struct sim_scenario *sc,
		      const struct sim_observation *obs, uint32_t *next)
{
	for (size_t t = 0; t < 10; t++) {
		step(&sim_policy_mom, priv, sc, t, obs, next);
		if (t < 9)
			for (size_t g = 0; g < sc->n_guests; g++)
				assert_int_equal(next[g], obs[g].alloc_mib);
	}
}

static void test_mom_grows_5pct_without_pressure(void **state)
{
	struct sim_scenario *sc = scenario(2, 100000, 1000, 4000, 8000);
	/* used + 20% is below +5% for the first, above it for the second */
	struct sim_observation obs[2] = { observe(2000, 1000, 1),
					  observe(2000, 2000, 1) };
	uint32_t next[2];
	void *priv = NULL;

	(void)state;
	assert_int_equal(sim_policy_mom.init(&priv, sc), 0);
	mom_cycle(priv, sc, obs, next);
	assert_int_equal(next[0], 2100);
	assert_int_equal(next[1], 2400);
	sim_policy_mom.fini(priv);
	free(sc);
}

static void test_mom_shrinks_at_most_5pct(void **state)
{
	/* host free 10% (< 20%): guest_free = 10%; 1000 + 450 < 0.95 * 4500 */
	struct sim_scenario *sc = scenario(2, 10000, 1000, 5000, 8000);
	struct sim_observation obs[2] = { observe(4500, 1000, 1),
					  observe(4500, 4400, 1) };
	uint32_t next[2];
	void *priv = NULL;

	(void)state;
	assert_int_equal(sim_policy_mom.init(&priv, sc), 0);
	mom_cycle(priv, sc, obs, next);
	assert_in_range(next[0], 4274, 4275); /* 0.95 * 4500, truncated */
	/* the second needs 4400 + 450 > 4500: no shrink, and no growth */
	assert_int_equal(next[1], 4500);
	sim_policy_mom.fini(priv);
	free(sc);
}

static void test_mom_critical_pushes_below_used(void **state)
{
	/* host free 4% (critical): guest_free = 4% - 5% = -1% */
	struct sim_scenario *sc = scenario(2, 10000, 1000, 5000, 8000);
	struct sim_observation obs[2] = { observe(4800, 4700, 1),
					  observe(4800, 4700, 1) };
	uint32_t next[2];
	void *priv = NULL;

	(void)state;
	assert_int_equal(sim_policy_mom.init(&priv, sc), 0);
	mom_cycle(priv, sc, obs, next);
	assert_in_range(next[0], 4651, 4652); /* 4700 - 0.01 * 4800 */
	assert_in_range(next[1], 4651, 4652);
	sim_policy_mom.fini(priv);
	free(sc);
}

static void test_mom_uses_averaged_stats(void **state)
{
	/*
	 * Samples at t = 4 (used 1000) and t = 9 (used 3900): the rules use
	 * the average, 2450, so 2450 + 9% * 4000 < 3800 and the guest shrinks
	 * by the full 5%; the last sample alone would forbid any shrink.
	 */
	struct sim_scenario *sc = scenario(1, 4400, 1000, 5000, 8000);
	struct sim_observation a[1] = { observe(4000, 1000, 1) };
	struct sim_observation b[1] = { observe(4000, 3900, 1) };
	uint32_t next[1];
	void *priv = NULL;

	(void)state;
	assert_int_equal(sim_policy_mom.init(&priv, sc), 0);
	for (size_t t = 0; t < 5; t++)
		step(&sim_policy_mom, priv, sc, t, a, next);
	for (size_t t = 5; t < 10; t++)
		step(&sim_policy_mom, priv, sc, t, b, next);
	assert_in_range(next[0], 3799, 3800);
	sim_policy_mom.fini(priv);
	free(sc);
}

static void test_mom_skips_tiny_changes(void **state)
{
	/* +4 MiB to reach balloon_max is below 0.25% of 3996 */
	struct sim_scenario *sc = scenario(1, 100000, 1000, 4000, 8000);
	struct sim_observation obs[1] = { observe(3996, 1000, 1) };
	uint32_t next[1];
	void *priv = NULL;

	(void)state;
	assert_int_equal(sim_policy_mom.init(&priv, sc), 0);
	mom_cycle(priv, sc, obs, next);
	assert_int_equal(next[0], 3996);
	sim_policy_mom.fini(priv);
	free(sc);
}

/* ---- esx -------------------------------------------------------------- */

static void test_esx_idle_tax_ratio(void **state)
{
	const double k = 1 / (1 - ESX_TAU);

	(void)state;
	assert_true(fabs(k - 4) < 1e-12);
	/* S / (P * (f + k (1 - f))) with S 1000, P 1000, f 0.25 */
	assert_true(fabs(esx_rho(1000, 1000, 250, k) - 1000.0 / 3250) < 1e-12);
	/* fully active: plain shares per page */
	assert_true(fabs(esx_rho(1000, 1000, 1000, k) - 1.0) < 1e-12);
	/* fully idle: k times the cost */
	assert_true(fabs(esx_rho(1000, 1000, 0, k) - 0.25) < 1e-12);
	/* the inverse: pages_at(1 / rho) gives back P */
	assert_true(fabs(esx_pages_at(3250.0 / 1000, 1000, 250, k, 0, 1e9) -
			 1000) < 1e-9);
}

static void test_esx_no_contention_keeps_configured(void **state)
{
	/* 2 * 4000 <= 94% of 9000 */
	struct sim_scenario *sc = scenario(2, 9000, 1000, 4000, 8000);
	struct sim_observation obs[2] = { observe(2000, 100, 1),
					  observe(3000, 3000, 1) };
	uint32_t next[2];
	void *priv = NULL;

	(void)state;
	assert_int_equal(sim_policy_esx.init(&priv, sc), 0);
	step(&sim_policy_esx, priv, sc, 0, obs, next);
	assert_int_equal(next[0], 4000);
	assert_int_equal(next[1], 4000);
	sim_policy_esx.fini(priv);
	free(sc);
}

static void test_esx_idle_memory_is_taxed(void **state)
{
	/*
	 * Equal shares, 4700 MiB to share (94% of 5000). A: 400 of 4000
	 * active; B: all active. Levelled ratios: A + 4 (P_A - A) = P_B and
	 * P_A + P_B = 4700, so P_B = 3520 and P_A = 1180 (2350 each without
	 * the tax).
	 */
	struct sim_scenario *sc = scenario(2, 5000, 500, 4000, 8000);
	struct sim_observation obs[2] = { observe(4000, 400, 100),
					  observe(4000, 4000, 100) };
	uint32_t next[2];
	void *priv = NULL;

	(void)state;
	assert_int_equal(sim_policy_esx.init(&priv, sc), 0);
	step(&sim_policy_esx, priv, sc, 0, obs, next);
	assert_in_range(next[0], 1179, 1181);
	assert_in_range(next[1], 3519, 3521);
	assert_true(next[0] + next[1] <= 4700);
	sim_policy_esx.fini(priv);
	free(sc);
}

static void test_esx_shares_split_active_memory(void **state)
{
	/* Both fully active, shares 2:1: 4700 split 2:1 */
	struct sim_scenario *sc = scenario(2, 5000, 500, 4000, 8000);
	struct sim_observation obs[2] = { observe(4000, 4000, 200),
					  observe(4000, 4000, 100) };
	uint32_t next[2];
	void *priv = NULL;

	(void)state;
	assert_int_equal(sim_policy_esx.init(&priv, sc), 0);
	step(&sim_policy_esx, priv, sc, 0, obs, next);
	assert_in_range(next[0], 3132, 3134);
	assert_in_range(next[1], 1565, 1567);
	sim_policy_esx.fini(priv);
	free(sc);
}

static void test_esx_estimate_rises_fast_falls_slowly(void **state)
{
	struct esx_state *st = calloc(1, sizeof(*st));
	struct sim_observation lo = observe(1000, 200, 1);
	struct sim_observation hi = observe(1000, 1000, 1);
	double est = 0;
	size_t t = 0;

	(void)state;
	assert_non_null(st);
	for (; t < 120; t++)
		est = esx_estimate(st, 0, &lo, t % 30 == 29);
	assert_true(fabs(est - 0.2) < 1e-9);
	/* the second the working set grows, the estimate follows */
	est = esx_estimate(st, 0, &hi, t++ % 30 == 29);
	assert_true(est >= 0.8 - 1e-9);
	for (; t < 600; t++)
		est = esx_estimate(st, 0, &hi, t % 30 == 29);
	assert_true(est > 0.999);
	/* it shrinks back over minutes, not seconds */
	for (; t < 660; t++)
		est = esx_estimate(st, 0, &lo, t % 30 == 29);
	assert_true(est > 0.6);
	for (; t < 1200; t++)
		est = esx_estimate(st, 0, &lo, t % 30 == 29);
	assert_true(est < 0.25);
	free(st);
}

/* ---- hyperv ----------------------------------------------------------- */

static void test_hyperv_target_is_demand_plus_buffer(void **state)
{
	struct sim_scenario *sc = scenario(3, 100000, 500, 4000, 8000);
	struct sim_observation obs[3] = {
		observe(1200, 1000, 1), /* at target: stays */
		observe(1000, 1000, 1), /* below: to 1200 at once */
		observe(1200, 2000, 1), /* paging 800: demand 2000 -> 2400 */
	};
	uint32_t next[3];
	void *priv = NULL;

	(void)state;
	assert_int_equal(sim_policy_hyperv.init(&priv, sc), 0);
	step(&sim_policy_hyperv, priv, sc, 0, obs, next);
	assert_int_equal(next[0], 1200);
	assert_int_equal(next[1], 1200);
	assert_int_equal(next[2], 2400);
	sim_policy_hyperv.fini(priv);
	free(sc);
}

static void test_hyperv_removes_gradually(void **state)
{
	struct sim_scenario *sc = scenario(1, 100000, 500, 4000, 8000);
	struct sim_observation obs[1] = { observe(4000, 1000, 1) };
	uint32_t next[1];
	void *priv = NULL;
	size_t t;

	(void)state;
	assert_int_equal(sim_policy_hyperv.init(&priv, sc), 0);
	step(&sim_policy_hyperv, priv, sc, 0, obs, next);
	assert_int_equal(next[0], 4000 - 280); /* 10% of the 2800 excess */
	for (t = 1; t < 200 && next[0] != 1200; t++) {
		assert_true(next[0] > 1200);
		obs[0] = observe(next[0], 1000, 1);
		step(&sim_policy_hyperv, priv, sc, t, obs, next);
	}
	assert_int_equal(next[0], 1200);
	assert_true(t > 20);
	sim_policy_hyperv.fini(priv);
	free(sc);
}

static void test_hyperv_weight_first_when_short(void **state)
{
	/*
	 * 5000 MiB host. A (weight 200) needs 3200; B (weight 100) holds
	 * 2000 for a demand of 1500. Free is 5000 - 2000 - 1980 (B's first
	 * removal step) = 1020: A takes it, then B's buffer down to B's
	 * demand, and B's buffer is not refilled.
	 */
	struct sim_scenario *sc = scenario(2, 5000, 500, 4000, 8000);
	struct sim_observation obs[2] = { observe(2000, 3200, 200),
					  observe(2000, 1500, 100) };
	uint32_t next[2];
	void *priv = NULL;

	(void)state;
	assert_int_equal(sim_policy_hyperv.init(&priv, sc), 0);
	step(&sim_policy_hyperv, priv, sc, 0, obs, next);
	assert_int_equal(next[0], 3200);
	assert_int_equal(next[1], 1800);

	/* the other way round: B cannot take from A, which has more weight */
	obs[0] = observe(2000, 1500, 200);
	obs[1] = observe(2000, 3200, 100);
	step(&sim_policy_hyperv, priv, sc, 1, obs, next);
	assert_int_equal(next[0], 1980);
	assert_int_equal(next[1], 3020);
	sim_policy_hyperv.fini(priv);
	free(sc);
}

static void test_hyperv_within_min_max(void **state)
{
	struct sim_scenario *sc = scenario(2, 100000, 1000, 4000, 8000);
	struct sim_observation obs[2] = { observe(4000, 20000, 1),
					  observe(1000, 10, 1) };
	uint32_t next[2];
	void *priv = NULL;

	(void)state;
	assert_int_equal(sim_policy_hyperv.init(&priv, sc), 0);
	step(&sim_policy_hyperv, priv, sc, 0, obs, next);
	assert_int_equal(next[0], 8000); /* Maximum RAM */
	assert_int_equal(next[1], 1000); /* Minimum RAM */
	sim_policy_hyperv.fini(priv);
	free(sc);
}

/* ---- backing pages ------------------------------------------------------ */

static void test_baselines_ignore_pages(void **state)
{
	/*
	 * The baselines know nothing of the host's pages: on the same
	 * observations a guest on 1 GiB pages gets the same requests as one
	 * on ordinary memory, so Proxmox's 100 MiB balloon step leaves a
	 * partly used 1 GiB page (which frees nothing: the simulator counts
	 * it in whole pages, sim_backing_mib()). Sizes are whole GiB.
	 */
	static const struct sim_policy_ops *const ops[] = {
		&sim_policy_proxmox, &sim_policy_mom, &sim_policy_esx,
		&sim_policy_hyperv,
	};
	struct sim_observation obs[2] = { observe(5120, 2000, 1000),
					  observe(5120, 6000, 1000) };

	(void)state;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		uint32_t want[2], got[2];

		for (uint32_t page = 0; page <= 1024; page += 1024) {
			struct sim_scenario *sc = scenario(2, 10240, 1024, 6144,
							   8192);
			uint32_t *next = page ? got : want;
			void *priv = NULL;

			sc->guests[0].page_mib = sc->guests[1].page_mib = page;
			assert_int_equal(ops[i]->init(&priv, sc), 0);
			for (size_t t = 0; t < 10; t++)
				step(ops[i], priv, sc, t, obs, next);
			ops[i]->fini(priv);
			free(sc);
		}
		assert_memory_equal(want, got, sizeof(want));
	}
	/* goal = 0.8 * 10240 - 10240 < 0: the roomy first VM gives back
	 * 100 MiB, less than a page. */
	{
		struct sim_scenario *sc = scenario(2, 10240, 1024, 6144, 8192);
		uint32_t next[2];
		void *priv = NULL;

		sc->guests[0].page_mib = sc->guests[1].page_mib = 1024;
		assert_int_equal(sim_policy_proxmox.init(&priv, sc), 0);
		step(&sim_policy_proxmox, priv, sc, 9, obs, next);
		assert_int_equal(next[0], 5120 - 100);
		assert_int_not_equal(next[0] % 1024, 0);
		sim_policy_proxmox.fini(priv);
		free(sc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proxmox_acts_every_10s_only),
		cmocka_unit_test(test_proxmox_small_goal_does_nothing),
		cmocka_unit_test(test_proxmox_shrink_by_shares),
		cmocka_unit_test(test_proxmox_shrink_prefers_free_memory),
		cmocka_unit_test(test_proxmox_grow_stops_at_configured_size),
		cmocka_unit_test(test_proxmox_random_rate_limit),
		cmocka_unit_test(test_mom_grows_5pct_without_pressure),
		cmocka_unit_test(test_mom_shrinks_at_most_5pct),
		cmocka_unit_test(test_mom_critical_pushes_below_used),
		cmocka_unit_test(test_mom_uses_averaged_stats),
		cmocka_unit_test(test_mom_skips_tiny_changes),
		cmocka_unit_test(test_esx_idle_tax_ratio),
		cmocka_unit_test(test_esx_no_contention_keeps_configured),
		cmocka_unit_test(test_esx_idle_memory_is_taxed),
		cmocka_unit_test(test_esx_shares_split_active_memory),
		cmocka_unit_test(test_esx_estimate_rises_fast_falls_slowly),
		cmocka_unit_test(test_hyperv_target_is_demand_plus_buffer),
		cmocka_unit_test(test_hyperv_removes_gradually),
		cmocka_unit_test(test_hyperv_weight_first_when_short),
		cmocka_unit_test(test_hyperv_within_min_max),
		cmocka_unit_test(test_baselines_ignore_pages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
