/* SPDX-License-Identifier: MIT */
/*
 * The market engine: a pure function from guests' bids, holdings and limits
 * plus a host supply to new allocations and a uniform clearing price.
 *
 * No I/O, no globals, no clock reads. All quantities are whole market units
 * above each guest's floor, so "0 units" means "at its floor".
 */
#ifndef RAMM_MARKET_H
#define RAMM_MARKET_H

#include <stddef.h>
#include <stdint.h>

#include "ramm/proto.h"

/* No per-tick limit. */
#define MARKET_UNLIMITED UINT32_MAX

/*
 * Credit scores are in thousandths: 100 (0.1, the floor a guest never falls
 * below) to 1000 (1.0, a guest that predicts its needs and answers
 * evictions). A new guest starts at MARKET_CREDIT_MAX.
 */
#define MARKET_CREDIT_MIN 100u
#define MARKET_CREDIT_MAX 1000u

/*
 * Most steps in a curve market_clear() takes: market_effective_bid() may
 * cut each of an agent's RAMM_MAX_BID_STEPS steps in up to four pieces
 * (used or not, affordable or not), but the used cut falls in one step
 * and so does each budget cut, at most one per piece; and the parts the
 * budget does not afford at their price are cut in MARKET_TAIL_CUTS more
 * steps, at most, in all: past what its balance affords at its raw price,
 * a curve is priced balance / k for its k-th unit in steps of at most
 * 1/MARKET_TAIL_DIV of the units before them (one unit below
 * MARKET_TAIL_DIV units: exactly balance / k); the last takes the rest.
 */
#define MARKET_TAIL_CUTS 1024
#define MARKET_TAIL_DIV 4096
#define MARKET_MAX_STEPS (2 * RAMM_MAX_BID_STEPS + 2 + MARKET_TAIL_CUTS)

/* One guest as the market sees it. The market never writes to it. */
struct market_guest {
	uint32_t cap_units;      /* most units above the floor it may hold */
	uint32_t current_units;  /* units above the floor it holds now */
	uint32_t max_plug_units; /* most units it may gain this tick */
	uint32_t max_unplug_units; /* most units it may lose this tick */
	uint32_t offered_units;  /* of current_units, how many the guest
				  * reports free in whole host pages: cheap
				  * to take, so they rank without the
				  * move-cost bonus; ignored if frozen */
	int frozen;              /* nonzero: no usable bid; keep what it holds */
	const struct ramm_bid_step *steps; /* bid curve, may be NULL if n_steps 0 */
	size_t n_steps;          /* entries in @steps, <= MARKET_MAX_STEPS */
};

struct market_params {
	uint64_t supply_units; /* units above all floors the host can give */
	uint32_t move_cost;    /* ranking bonus for units a guest already holds */
	uint32_t quantum_units; /* changes smaller than this are skipped */
	uint32_t reserve_price; /* units bid at or below this are not sold: the
				 * host keeps them (memory saved) */
	int emergency;          /* host memory is critical: see market_clear() */
};

struct market_result {
	uint32_t price;          /* uniform clearing price; 0 if supply not binding */
	uint64_t allocated_units; /* sum of all targets */
	uint64_t demand_units;   /* units bid for at a price > 0 (within caps) */
};

/*
 * market_clear - compute every guest's target allocation.
 * @params: supply and stability knobs; read only.
 * @guests: @n_guests guests; read only, not kept after the call.
 * @targets: caller-owned array of @n_guests entries, written with each guest's
 *           target units above its floor.
 * @result: caller-owned; written with the price and totals.
 *
 * Unit k (k = 1..cap) of a guest is bid at the price of the step covering it,
 * 0 beyond the curve; prices at or below @reserve_price count as 0 here and
 * below. The curves are the effective ones (market_effective_bid()), so
 * prices and the clearing price are effective prices. Each guest has a
 * window [lo, hi]:
 * lo = current - min(current, max_unplug) and hi = min(cap, current + max_plug)
 * (frozen guests: lo = hi = min(current, cap)). A guest above its cap gets
 * lo = hi = cap: the cap wins over the unplug limit.
 *
 * In an @emergency (the caller has cut supply because host free memory is
 * critical) no guest grows, unplug limits are ignored and so is the quantum:
 * a non-frozen guest's window is [0, min(current, cap)]. Its units keep
 * their ranks, so memory is taken back from the lowest effective bids first;
 * frozen guests keep theirs unless the frozen holdings alone exceed supply.
 *
 * Units 1..lo are kept whatever they are bid at. The units in (lo, hi] bid at
 * a price p > 0 compete for the rest of supply: each ranks by p, plus
 * @move_cost if the guest already holds it and does not offer it back
 * (index <= current - min(offered, current)), and the
 * highest ranks are served. A held unit the guest offers back (the top
 * min(offered, current) of 1..current) ranks as if it were not held: taking
 * memory the guest reports free costs it nothing, while the rest would have
 * to be migrated first. Rank ties go to incumbent units, then to the lower
 * guest index. Units bid at price 0 are never allocated above lo.
 * Since prices never rise along a curve, each guest is served a prefix of its
 * units. A frozen guest has no usable bid: its curve is not read (nor
 * validated) and it adds nothing to demand.
 *
 * If the lo's alone exceed supply, reserved units are dropped until they
 * fit, starting from the lowest bid (among equal bids, the higher guest index
 * first); frozen guests' units go last, higher guest index first. Targets
 * never go below 0, and with no supply every target is 0.
 *
 * The price is the highest raw bid (no move-cost bonus) among units in a
 * window that were bid at p > 0 and left unserved - including reserved units
 * dropped above - or 0 when supply is not binding.
 *
 * Then changes smaller than @quantum_units are skipped: a guest whose target
 * grew by less is put back to current (that only frees supply); then, in
 * guest index order, a guest whose target shrank by less is put back to
 * current if the sum of targets still fits supply. A guest above its cap is
 * never put back. The price is that of the clearing before this step.
 *
 * With unchanged bids, no rate limits, nothing offered and current = the
 * previous targets,
 * the targets come out the same: incumbents only gain from the move cost.
 * The sum of targets never exceeds supply.
 *
 * Cost: O(S + n_guests) time and O(S) scratch memory, S = total bid steps
 * (no sort: a weighted radix select finds the last served rank).
 *
 * Returns 0 on success. @guests and @targets may be NULL when @n_guests is 0.
 * On -EINVAL (a non-frozen guest's curve with increasing prices, a step of 0
 * units, a price above RAMM_MAX_PRICE, more than MARKET_MAX_STEPS steps or
 * NULL steps with n_steps > 0; NULL @params, @result, or @guests/@targets
 * with @n_guests > 0) or -ENOMEM, @targets and @result are left untouched.
 */
int market_clear(const struct market_params *params,
		 const struct market_guest *guests, size_t n_guests,
		 uint32_t *targets, struct market_result *result);

/*
 * market_validate_bid - check one bid curve against the rules above, which
 * are bid_curve_validate()'s (common/bid_curve.h) with RAMM_MAX_BID_STEPS: at
 * most RAMM_MAX_BID_STEPS steps, @steps non-NULL if @n_steps > 0, every step
 * at least 1 unit, prices at most RAMM_MAX_PRICE and non-increasing (equal
 * neighbours are fine). An empty curve is valid: it bids for nothing.
 * @steps stays the caller's and is only read.
 * Returns 0 if valid, -EINVAL otherwise. Pure; O(n_steps).
 */
int market_validate_bid(const struct ramm_bid_step *steps, size_t n_steps);

/*
 * market_bid_price - what the curve @steps bids for its @unit-th unit above
 * the floor (1-based): the price of the step covering it, or 0 beyond the
 * curve. Pure; O(n_steps); never fails.
 */
uint32_t market_bid_price(const struct ramm_bid_step *steps, size_t n_steps,
			  uint64_t unit);

/* ---- budgets and credit -------------------------------------------------- */

/* A guest's standing in the market, carried from tick to tick. */
struct market_account {
	uint64_t balance; /* price-units it may spend; never above the cap in
			   * market_settle() */
	uint32_t weight;  /* shares of income; 0 earns nothing */
	uint32_t credit;  /* MARKET_CREDIT_MIN..MARKET_CREDIT_MAX */
};

struct market_budget {
	uint64_t income_pool;   /* price-units paid out per whole tick, split
				 * among all guests by weight */
	uint32_t savings_ticks; /* a balance is capped at this many whole
				 * ticks of the guest's income: enough to
				 * save for a burst, not to corner the
				 * market */
	uint32_t tick_permille; /* the share of a whole tick one settlement
				 * covers, in thousandths: income and bills
				 * are rates, paid for the wall time that
				 * passed, not per call; 0 counts as 1000 */
};

/*
 * market_income - @acc's share of @budget's income pool for one tick,
 * pool * weight / @total_weight rounded down; 0 if @total_weight is 0.
 * Pure; never fails.
 */
uint64_t market_income(const struct market_budget *budget,
		       const struct market_account *acc, uint64_t total_weight);

/*
 * market_account_open - a new guest's account: @weight, full credit, and a
 * tenth of its savings cap to start on, so that it can bid at once.
 * @total_weight counts @weight in. Pure; never fails.
 */
struct market_account market_account_open(const struct market_budget *budget,
					  uint32_t weight,
					  uint64_t total_weight);

/*
 * market_effective_bid - the curve the market ranks for one guest.
 * @steps/@n_steps: its raw bid, valid for market_validate_bid(); only read.
 * @credit: its credit score, clamped to [MARKET_CREDIT_MIN, MARKET_CREDIT_MAX].
 * @used_units: units above the floor it was seen using; they count at
 *              full price whatever its credit, so a poor credit score costs
 *              a guest what it claims beyond its use, never its working set.
 * @balance: what it may spend this tick.
 * @out: caller-owned, room for MARKET_MAX_STEPS entries.
 *
 * Unit k's effective price is min(p_k, @balance / k), where p_k is its raw
 * price for k <= @used_units and raw price * credit / 1000 beyond, all
 * rounded down: whatever uniform price at most its k-th unit's bid the
 * guest pays for k units, it can afford it. Units whose price comes to 0
 * are left off the end. Steps are split at @used_units and where the budget
 * starts to bind; the unaffordable tail is cut in steps each priced for its
 * last unit (MARKET_TAIL_DIV, MARKET_TAIL_CUTS), so the result
 * is non-increasing, has at most MARKET_MAX_STEPS steps and never bids
 * above either limit.
 *
 * Returns the number of steps written, or -EINVAL if the raw curve is
 * invalid or @out is NULL (nothing written). Pure; O(n_steps).
 */
int market_effective_bid(const struct ramm_bid_step *steps, size_t n_steps,
			 uint32_t credit, uint64_t used_units,
			 uint64_t balance, struct ramm_bid_step *out);

/*
 * market_bill - what one settlement under @budget charges for @held_units
 * at @price: held * price for tick_permille of a whole tick, rounded
 * down, saturating; the balance it is paid from may cover less. Pure;
 * never fails.
 */
uint64_t market_bill(const struct market_budget *budget, uint32_t held_units,
		     uint32_t price);

/*
 * market_settle - one tick's payments and income.
 * @accounts: @n entries, updated in place (the caller owns them).
 * @held_units: units above the floor each guest held through the tick.
 * @price: the tick's clearing price.
 * @spent: caller-owned, @n entries or NULL; written with each payment.
 *
 * Each guest pays min(balance, held * price * tick_permille / 1000) -
 * never more than it has - then earns market_income() of the pool scaled
 * the same way; its balance is then capped at savings_ticks times its
 * income for a whole tick (the cap does not shrink with a short
 * settlement). Pure; never fails; O(n).
 */
void market_settle(const struct market_budget *budget,
		   struct market_account *accounts, const uint32_t *held_units,
		   size_t n, uint32_t price, uint64_t *spent);

/* What a guest did in one tick, as the credit score judges it. */
struct market_conduct {
	uint32_t held_units;    /* units above the floor it holds */
	uint32_t claimed_units; /* units it bid for at >= claim_price */
	uint32_t used_units;    /* units above the floor it actually uses */
	uint32_t unplug_asked;  /* units of shrinks whose deadline fell in
				 * this tick */
	uint32_t unplug_done;   /* of those, units unplugged by the deadline */
};

struct market_credit_params {
	uint32_t claim_price;     /* a bid at or above this says "I use it" */
	uint32_t idle_slack_pct;  /* claimed-but-idle memory tolerated, % of
				   * the claim, before credit falls */
	uint32_t idle_slack_units; /* ... plus this many units */
	uint32_t fall_idle;       /* thousandths lost per tick when all held
				   * memory was claimed and sits idle */
	uint32_t fall_unplug;     /* thousandths lost when an unplug wholly
				   * misses its deadline */
	uint32_t rise;            /* thousandths gained per tick of good
				   * conduct */
};

/*
 * market_credit_next - the credit score after one tick of @conduct.
 *
 * Over-claim is the memory claimed but not used, beyond the slack:
 * max(0, claimed - used - slack), whether or not the claim won the memory
 * (a guest stripped of memory for its poor credit uses all it holds, and
 * must not earn credit back while it keeps claiming). It costs
 * fall_idle * over_claim / claimed. Unplugs short of what was asked by the
 * deadline cost fall_unplug * missed / asked. A tick with neither earns
 * @rise. The result is clamped to [MARKET_CREDIT_MIN, MARKET_CREDIT_MAX];
 * a @credit outside that range is clamped first. Pure; never fails.
 */
uint32_t market_credit_next(uint32_t credit,
			    const struct market_conduct *conduct,
			    const struct market_credit_params *params);

/*
 * market_claimed_units - units at the start of the curve bid at @claim_price
 * or more: what the guest says it uses. Pure; O(n_steps); never fails.
 */
uint64_t market_claimed_units(const struct ramm_bid_step *steps,
			      size_t n_steps, uint32_t claim_price);

/*
 * market_round - one whole tick of the market, as rammd and ramm-sim run it:
 *  1. if @conduct is non-NULL, each account's credit moves by
 *     market_credit_next() on its conduct in the tick that just ended;
 *  2. each non-frozen guest's raw curve becomes market_effective_bid() of
 *     its credit, the units its conduct says it used (none without
 *     @conduct) and its balance (with @budget NULL, budgets are off:
 *     balances are not read and only credit scales the bids);
 *  3. market_clear() on those curves.
 * Settling is the caller's (market_settle()), once it knows what each
 * guest will hold: a target may wait for memory being unplugged.
 * @guests: raw curves (validated like market_validate_bid()); only read.
 * @accounts: @n entries, updated in place; caller-owned.
 * @targets, @result: as market_clear().
 * Returns 0, -EINVAL (a curve, NULL arguments) or -ENOMEM; on failure
 * nothing is written, accounts included.
 */
int market_round(const struct market_params *params,
		 const struct market_budget *budget,
		 const struct market_credit_params *credit_params,
		 const struct market_guest *guests,
		 struct market_account *accounts,
		 const struct market_conduct *conduct, size_t n,
		 uint32_t *targets, struct market_result *result);

/*
 * market_account_format - write @acc as one line of text,
 * "balance=N weight=N credit=N" and no newline, for a state file.
 * Returns its length, or -ENOSPC if it does not fit @size (then @buf holds
 * a truncated string).
 */
int market_account_format(const struct market_account *acc, char *buf,
			  size_t size);

/*
 * market_account_parse - read what market_account_format() wrote.
 * @text/@len need not be NUL-terminated; @acc is caller-owned and written
 * only on success. Every key must appear once, in any order; values are
 * decimal, credit within [MARKET_CREDIT_MIN, MARKET_CREDIT_MAX].
 * Returns 0, or -EINVAL for anything else (unknown or repeated key, bad
 * number, overflow, a line over 256 bytes).
 */
int market_account_parse(const char *text, size_t len,
			 struct market_account *acc);

#endif /* RAMM_MARKET_H */
