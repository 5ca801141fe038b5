# SPDX-License-Identifier: MIT
"""What "ramm wins" means on one ramm-sim report (issue 13, item 4).

Each function takes the report's policies as a dict name -> JSON row
(`ramm-sim --json`) and returns (ok, text). The oracle reads the future:
it is the yardstick, never a peer. Used by tests/sim/acceptance.py and
tests/sim/bench_sim.py.
"""

ORACLE = "oracle"
# ramm's excess shortfall over the oracle, at most this share of the best
# peer's.
EXCESS_SHARE = 0.5
# Churn is judged against peers whose shortfall is within this factor of
# ramm's, and may be at most CHURN_FACTOR times the lowest of theirs.
CHURN_PEER_SHORTFALL = 1.5
CHURN_FACTOR = 2.0


def peers(rows):
    """Every policy but ramm and the oracle."""
    return [p for p in rows if p not in ("ramm", ORACLE)]


def lowest_shortfall(rows):
    ramm = rows["ramm"]["shortfall_gib_s"]
    best = min(peers(rows), key=lambda p: rows[p]["shortfall_gib_s"])
    theirs = rows[best]["shortfall_gib_s"]
    return (ramm < theirs,
            f"shortfall {ramm:.1f} < best peer {best}'s {theirs:.1f} GiB*s")


def excess_at_most_half(rows):
    ramm = rows["ramm"]["excess_over_oracle_gib_s"]
    best = min(peers(rows), key=lambda p: rows[p]["excess_over_oracle_gib_s"])
    theirs = rows[best]["excess_over_oracle_gib_s"]
    return (ramm <= EXCESS_SHARE * theirs,
            f"excess over the oracle {ramm:.1f} <= {EXCESS_SHARE:g} x "
            f"{best}'s {theirs:.1f} GiB*s")


def churn_bounded(rows):
    ramm = rows["ramm"]
    close = [p for p in peers(rows) if rows[p]["shortfall_gib_s"] <=
             CHURN_PEER_SHORTFALL * ramm["shortfall_gib_s"]]
    if not close:
        return (True, f"churn {ramm['churn_gib']:.1f} GiB: no peer's "
                f"shortfall is within {CHURN_PEER_SHORTFALL:g}x ramm's")
    low = min(close, key=lambda p: rows[p]["churn_gib"])
    bound = CHURN_FACTOR * rows[low]["churn_gib"]
    return (ramm["churn_gib"] <= bound,
            f"churn {ramm['churn_gib']:.1f} <= {CHURN_FACTOR:g} x {low}'s "
            f"{rows[low]['churn_gib']:.1f} GiB")


def frontier(rows, ramm_points):
    """For every peer's (saved %, shortfall), some ramm operating point in
    @ramm_points (knob -> JSON row) saves at least as much with less
    shortfall."""
    missed = []
    for p in peers(rows):
        saved, short = rows[p]["saved_pct"], rows[p]["shortfall_gib_s"]
        if not any(r["saved_pct"] >= saved and r["shortfall_gib_s"] < short
                   for r in ramm_points.values()):
            missed.append(f"{p} ({saved:.1f} %, {short:.1f})")
    return (not missed, "frontier covers every peer" if not missed else
            "no ramm point beats " + ", ".join(missed))


CRITERIA = [lowest_shortfall, excess_at_most_half, churn_bounded]
