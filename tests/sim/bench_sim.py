#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""make bench-sim: every ramm-sim policy on real VM traces (issue 13).

The traces are the Bitbrains GWA-T-12 "Rnd" VMs of July 2013 (TU Delft's
Grid Workloads Archive; S. Shen, V. van Beek, A. Iosup, CCGrid 2015), read
from ../shared/traces/bitbrains-rnd-2013-07 beside the repository, never
copied into it. The trace does not say which VMs shared a host, so the
bench shuffles the VMs with a seed and deals them into hosts of PER_HOST,
then runs every host at two sizes: the sum of its guests' mean use, and
125 % of it. Per host and in total it prints each policy's shortfall,
excess over the oracle, saved %, churn, fairness and OOM-risk events;
then, per host, size and in total, whether ramm wins (tests/sim/wins.py):
lowest shortfall, at most half the best peer's excess over the oracle,
churn bounded, and a frontier: ramm swept over its reserve price must
have, for every peer's (saved %, shortfall), a point that saves at least
as much with less shortfall. A bench, not a test: it exits 0 whatever
ramm's figures, 1 if ramm-sim fails, 2 on bad usage.

Environment:
  BENCH_SIM_TRACES    the VM files' folder (default above)
  BENCH_SIM_SEED      the shuffle's seed (2013)
  BENCH_SIM_DAYS      days of trace from its start (7, the most ramm-sim
                      replays)
  BENCH_SIM_PER_HOST  VMs per host (20; the last host takes the rest)
  BENCH_SIM_RESERVES  the frontier's reserve prices (0,50,150,300,600,1000)
  BENCH_SIM_JSON      also write every report to this file

usage: bench_sim.py [path/to/ramm-sim]   (default build/ramm-sim)
"""
import concurrent.futures
import glob
import json
import os
import random
import subprocess
import sys
import time

import wins

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DEFAULT_TRACES = os.path.join(os.path.dirname(REPO), "shared", "traces",
                              "bitbrains-rnd-2013-07")
HOST_PCTS = (100, 125)
COLUMNS = [("shortfall GiB*s", "shortfall_gib_s", 15, ".1f"),
           ("excess", "excess_over_oracle_gib_s", 10, ".1f"),
           ("saved %", "saved_pct", 8, ".1f"),
           ("churn GiB", "churn_gib", 10, ".1f"),
           ("fairness", "fairness", 8, ".3f"),
           ("OOM-risk", "oom_risk_events", 8, "d")]


def env_int(name, default, lo, hi):
    text = os.environ.get(name, str(default))
    try:
        value = int(text)
    except ValueError:
        value = lo - 1
    if not lo <= value <= hi:
        sys.exit(f"bench_sim: {name}={text}: want {lo}..{hi}")
    return value


def run_sim(sim, files, seconds, host_pct, policies, reserve=None):
    args = [sim, "--json", "--policies", policies, "--seconds", str(seconds),
            "--host-pct", str(host_pct)]
    if reserve is not None:
        args += ["--reserve-price", str(reserve)]
    for f in files:
        args += ["--bitbrains", f]
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode:
        print(f"bench_sim: ramm-sim failed ({proc.returncode}): "
              f"{proc.stderr.strip()}", file=sys.stderr)
        sys.exit(1)
    return json.loads(proc.stdout)


def total(reports):
    """The policies' figures summed over hosts: shortfall, excess, churn
    and OOM-risk events add up; saved % is weighted by each host's statics,
    fairness is the hosts' mean."""
    statics = [sum(g["static_mib"] for g in r["guests"]) for r in reports]
    rows = {}
    for name in [p["policy"] for p in reports[0]["policies"]]:
        per = [{p["policy"]: p for p in r["policies"]}[name] for r in reports]
        rows[name] = {
            "policy": name,
            "shortfall_gib_s": sum(p["shortfall_gib_s"] for p in per),
            "excess_over_oracle_gib_s":
                sum(p["excess_over_oracle_gib_s"] for p in per),
            "saved_pct": sum(p["saved_pct"] * s for p, s in
                             zip(per, statics)) / max(sum(statics), 1),
            "churn_gib": sum(p["churn_gib"] for p in per),
            "fairness": sum(p["fairness"] for p in per) / len(per),
            "oom_risk_events": sum(p["oom_risk_events"] for p in per),
        }
    return rows


def print_rows(rows):
    print(f"   {'policy':<8}" + "".join(f" {c[0]:>{c[2]}}" for c in COLUMNS))
    for name, p in rows.items():
        print(f"   {name:<8}" + "".join(f" {p[c[1]]:>{c[2]}{c[3]}}"
                                         for c in COLUMNS))


def judge(label, rows, ramm_points, tally):
    for crit in wins.CRITERIA:
        ok, text = crit(rows)
        tally.append(ok)
        print(f"{'WIN ' if ok else 'MISS'} {label}: ramm's {text}")
    ok, text = wins.frontier(rows, ramm_points)
    tally.append(ok)
    print(f"{'WIN ' if ok else 'MISS'} {label}: {text}")


def main():
    sim = sys.argv[1] if len(sys.argv) > 1 else "build/ramm-sim"
    traces = os.environ.get("BENCH_SIM_TRACES", DEFAULT_TRACES)
    files = sorted(glob.glob(os.path.join(traces, "*.csv")))
    if not files:
        print(f"bench-sim: no Bitbrains traces in {traces}: this bench "
              f"reads them from ../shared/traces beside the repository "
              f"(or BENCH_SIM_TRACES); nothing run")
        return 0
    seed = env_int("BENCH_SIM_SEED", 2013, 0, 2**32)
    days = env_int("BENCH_SIM_DAYS", 7, 1, 7)
    per_host = env_int("BENCH_SIM_PER_HOST", 20, 1, 4096)
    try:
        reserves = [int(x) for x in os.environ.get(
            "BENCH_SIM_RESERVES", "0,50,150,300,600,1000").split(",")]
    except ValueError:
        sys.exit("bench_sim: BENCH_SIM_RESERVES: want prices like 0,300")
    random.Random(seed).shuffle(files)
    hosts = [files[i:i + per_host] for i in range(0, len(files), per_host)]
    if len(hosts) > 1 and len(hosts[-1]) < per_host // 2:
        hosts[-2] += hosts.pop()
    seconds = days * 86400
    start = time.monotonic()
    print(f"bench-sim: {len(files)} Bitbrains VMs from {traces} (GWA-T-12, "
          f"TU Delft), shuffled with seed {seed} into {len(hosts)} hosts, "
          f"the first {days} day(s) of the trace, each host at "
          f"{' and '.join(f'{p} %' for p in HOST_PCTS)} of its guests' "
          f"mean use; ramm's reserve price swept over {reserves}")

    jobs = {}
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        for h, vms in enumerate(hosts):
            for pct in HOST_PCTS:
                jobs[h, pct, None] = pool.submit(run_sim, sim, vms, seconds,
                                                 pct, "all")
                for r in reserves:
                    jobs[h, pct, r] = pool.submit(run_sim, sim, vms, seconds,
                                                  pct, "ramm", r)
        results = {k: f.result() for k, f in jobs.items()}

    tally, out = [], {"seed": seed, "days": days, "hosts": []}
    for pct in HOST_PCTS:
        reports = [results[h, pct, None] for h in range(len(hosts))]
        for h, rep in enumerate(reports):
            rows = {p["policy"]: p for p in rep["policies"]}
            points = {r: {p["policy"]: p for p in results[h, pct, r][
                "policies"]}["ramm"] for r in reserves}
            names = " ".join(os.path.basename(f)[:-4] for f in hosts[h])
            print(f"\n== host {h + 1} at {pct} %: {len(hosts[h])} VMs "
                  f"({names}), {rep['host_mib'] / 1024:.1f} GiB; working "
                  f"sets {rep['wss_mean_pct']:.0f} % of it on average, "
                  f"{rep['wss_peak_pct']:.0f} % at peak, over it for "
                  f"{rep['overcommitted_s']} s")
            print_rows(rows)
            print("   ramm by reserve price: " + ", ".join(
                f"{r}: {p['saved_pct']:.1f} % saved, "
                f"{p['shortfall_gib_s']:.0f} GiB*s" for r, p in
                points.items()))
            judge(f"host {h + 1} at {pct} %", rows, points, tally)
            out["hosts"].append({"host": h + 1, "host_pct": pct,
                                 "vms": names.split(), "report": rep,
                                 "ramm_by_reserve": points})
        rows = total(reports)
        points = {r: total([results[h, pct, r] for h in range(len(hosts))])[
            "ramm"] for r in reserves}
        print(f"\n== all {len(hosts)} hosts at {pct} %")
        print_rows(rows)
        judge(f"all hosts at {pct} %", rows, points, tally)
    print(f"\nbench-sim: ramm wins {sum(tally)} of {len(tally)} judgements, "
          f"{len(jobs)} ramm-sim runs in {time.monotonic() - start:.0f} s")
    if os.environ.get("BENCH_SIM_JSON"):
        with open(os.environ["BENCH_SIM_JSON"], "w") as f:
            json.dump(out, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
