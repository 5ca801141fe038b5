#!/usr/bin/env python3
"""make bench, part 3: does rammd's evict notice gain anything?

One kernel-mode guest (ramm_guest.ko loaded) under rammd, in two modes run
one after the other in the same run:
  together  evict_prepare_ms = 0: the notice and requested-size go out
            together (the baseline: the module sees virtio-mem start and
            gives way)
  prepared  evict_prepare_ms = 2500 (the default): requested-size is lowered
            once the guest's report shows the memory free, or 2.5 s on
For each run the guest's ramm-hog holds HOLD_MIB of memory spread over its
virtio-mem memory, then gives most of it back; rammd shrinks the guest.
From rammd's record of that shrink we take the preparation (decided to
requested-size lowered) and the unplug (lowered to size reached), and
report each mode's median and the ratio of their unplug times. The unplug
is the part that holds virtio-mem's hotplug lock and migrates pages under
the workload; preparing first moves that work ahead of it."""

import json
import os
import statistics
import time

from common import BUILD, Broker, lab, vmem_config, wait_for

RUNS = int(os.environ.get("BENCH_EVICT_RUNS", "2"))
BOOT_MIB = 256
VMEM_MIB = 768
HOLD_MIB = 560
KEEP_MIB = 60


def one_run(prepare_ms):
    """One shrink; returns (prepare_s, unplug_s, unplugged MiB)."""
    with lab.Lab() as L:
        (g,) = L.boot_all([("g", dict(boot_mib=BOOT_MIB, vmem_mib=VMEM_MIB,
                                      vmem_max_mib=1024, kmod=True))])
        broker = Broker(L, vmem_config(scan_dir=L.dir, supply_mib=4096,
                                       evict_prepare_ms=prepare_ms,
                                       max_unplug_mib=1024))
        try:
            wait_for("g in kernel mode", lambda: broker.guest("g").get("mode") == "kernel", 60)
            g.hog(HOLD_MIB, step_mib=32, step_ms=50)
            wait_for("the hog to hold %d MiB" % HOLD_MIB,
                     lambda: g.hog_status().get("held_mib") == str(HOLD_MIB), 120)
            time.sleep(3)
            t0_us = int(time.monotonic() * 1e6)
            g.hog(KEEP_MIB)

            def shrunk():
                rs = broker.guest("g")["last_resize"]
                if (rs["decided_us"] > t0_us and rs["to_mib"] < rs["from_mib"] and
                        rs["done_us"] and rs["set_us"]):
                    return rs
                return None
            rs = wait_for("a completed shrink", shrunk, 120, interval=0.2)
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
            print("%-9s prepared %.2f s, unplug %.2f s, %d MiB" % (mode, prep, unplug, mib))
    med = {m: statistics.median(u for _, u, _ in r) for m, r in results.items()}
    ratio = med["prepared"] / med["together"] if med["together"] else float("nan")
    print("unplug median: together %.2f s, prepared %.2f s: prepared/together = %.2f"
          % (med["together"], med["prepared"], ratio))
    with open(os.path.join(BUILD, "bench-evict.json"), "w") as f:
        json.dump({"runs": results, "unplug_median_s": med,
                   "prepared_over_together": ratio}, f)


if __name__ == "__main__":
    main()
