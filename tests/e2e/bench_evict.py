#!/usr/bin/env python3
"""make bench, part 3: does rammd's evict notice gain anything?

One kernel-mode guest (ramm_guest.ko loaded) under rammd, in two modes run
one after the other in the same run:
  together  evict_prepare_ms = 0: the notice and requested-size go out
            together (the baseline: the module sees virtio-mem start and
            gives way)
  prepared  evict_prepare_ms = 2500 (the default): requested-size is lowered
            once the guest's report shows the memory free, or 2.5 s on
For each run, as in docs/KERNEL-AGENT.md's measurement, one ramm-hog fills
the guest's low memory, a second puts 300 MiB above it, and the first
exits: rammd then shrinks the guest, and virtio-mem's unplug, from the top,
has to migrate the second hog's pages. From rammd's record of that shrink we
take the preparation (decided to requested-size lowered) and the unplug
(lowered to size reached), and report each mode's median unplug time per
100 MiB and the ratio of the two. The unplug is the part that holds
virtio-mem's hotplug lock and migrates pages under the workload; preparing
first moves that work ahead of it."""

import json
import os
import statistics
import time

from common import BUILD, Broker, lab, vmem_config, wait_for

RUNS = int(os.environ.get("BENCH_EVICT_RUNS", "2"))
BOOT_MIB = 256
VMEM_MIB = 768


def hog_held(g, ctl):
    _, out = g.run("ramm-hog status --ctl %s" % ctl, check=False)
    held = [kv.split("=", 1)[1] for kv in out.split() if kv.startswith("held_mib=")]
    return int(held[0]) if held else 0


def one_run(prepare_ms):
    """One shrink; returns (prepare_s, unplug_s, unplugged MiB)."""
    with lab.Lab() as L:
        (g,) = L.boot_all([("g", dict(boot_mib=BOOT_MIB, vmem_mib=VMEM_MIB,
                                      vmem_max_mib=1024, kmod=True))])
        # Filled before rammd starts, so that nothing is taken meanwhile.
        for ctl, mib in (("/run/a.ctl", 500), ("/run/b.ctl", 300)):
            g.run("ramm-hog run --ctl %s --target %d --reserve-mib 0 --step-ms 20 "
                  ">/dev/null 2>&1 &" % (ctl, mib))
            wait_for("%s to hold %d MiB" % (ctl, mib),
                     lambda: hog_held(g, ctl) >= mib - 16, 120)
        broker = Broker(L, vmem_config(scan_dir=L.dir, supply_mib=4096,
                                       evict_prepare_ms=prepare_ms,
                                       max_unplug_mib=1024))
        try:
            wait_for("g in kernel mode", lambda: broker.guest("g").get("mode") == "kernel", 60)
            t0_us = int(time.monotonic() * 1e6)
            g.run("ramm-hog quit --ctl /run/a.ctl")

            def shrunk():
                rs = broker.guest("g")["last_resize"]
                if (rs["decided_us"] > t0_us and rs["to_mib"] + 128 <= rs["from_mib"] and
                        rs["done_us"] and rs["set_us"]):
                    return rs
                return None
            rs = wait_for("a completed shrink of 128 MiB or more", shrunk, 120, interval=0.2)
            return ((rs["set_us"] - rs["decided_us"]) / 1e6,
                    (rs["done_us"] - rs["set_us"]) / 1e6,
                    rs["from_mib"] - rs["to_mib"])
        finally:
            broker.stop()


def main():
    results = {}
    for mode, prepare_ms in (("together", 0), ("prepared", 2500)):
        runs = [one_run(prepare_ms) for _ in range(RUNS)]
        results[mode] = runs
        for prep, unplug, mib in runs:
            print("%-9s prepared %.2f s, unplug %.2f s for %d MiB" % (mode, prep, unplug, mib))
    per100 = {m: statistics.median(100.0 * u / mib for _, u, mib in r)
              for m, r in results.items()}
    ratio = per100["prepared"] / per100["together"] if per100["together"] else float("nan")
    print("unplug median per 100 MiB: together %.3f s, prepared %.3f s: "
          "prepared/together = %.2f" % (per100["together"], per100["prepared"], ratio))
    with open(os.path.join(BUILD, "bench-evict.json"), "w") as f:
        json.dump({"runs": results, "unplug_s_per_100mib": per100,
                   "prepared_over_together": ratio}, f)


if __name__ == "__main__":
    main()
