#!/usr/bin/env python3
"""make bench: demand-to-plug latency through the whole broker, against the
bare virtio-mem plug measured in the same run as the baseline.

Guest `a` runs in kernel mode (ramm_guest.ko, relayed by ramm-agent). For
each of BENCH_SPIKES rounds (default 10), its ramm-hog starts asking for
memory, and we time:
  detection  demand -> report: krammd notices and ramm-agent relays it
  decision   report -> qom-set: rammd clears the market
  plug       qom-set -> plugged: the device first shows the new size
             (rammd confirms it a hold later; the guest may grow again
             from the moment it is plugged)
The baseline is a direct qom-set of the same size on guest `b`, with no
broker involved. Figures are medians and 90th percentiles over the rounds;
ratios are against the baseline's median, because these machines are
noisy."""

import os
import statistics
import time

from common import MIB, Broker, lab, vmem_config, wait_for

ROUNDS = int(os.environ.get("BENCH_SPIKES", "10"))


def direct_plug_ms(g, qmp, mib):
    """Plug @mib more into @g straight through QMP; returns ms to confirm."""
    size = g_size = qmp.execute("query-memory-devices")[0]["data"]["size"]
    want = g_size + mib * MIB
    t0 = time.monotonic()
    qmp.execute("qom-set", path="/machine/peripheral/vm0", property="requested-size", value=want)
    while size != want:
        time.sleep(0.005)
        size = qmp.execute("query-memory-devices")[0]["data"]["size"]
    ms = (time.monotonic() - t0) * 1000
    qmp.execute("qom-set", path="/machine/peripheral/vm0", property="requested-size", value=g_size)
    while qmp.execute("query-memory-devices")[0]["data"]["size"] != g_size:
        time.sleep(0.05)
    return ms


def main():
    with lab.Lab() as L:
        a, b = L.boot_all([("a", dict(boot_mib=256, vmem_mib=0, kmod=True)),
                           ("b", dict(boot_mib=256, vmem_mib=0, agent=False))])
        # b is outside the broker (no scan_dir): it is the baseline guest.
        broker = Broker(L, vmem_config(guests=[a], supply_mib=2048))
        wait_for("a's reports", lambda: broker.guest("a")["report_age_ms"] is not None, 30)
        rounds = []
        for r in range(ROUNDS):
            time.sleep(5)  # let a settle at its floor
            t0 = int(time.monotonic() * 1e6)
            a.hog(300, step_mib=32, step_ms=20)

            def first_growth():
                """The spike's first growth, once plugged: a workload
                that outruns it gets the next at once, which replaces it
                as last_resize."""
                g = broker.guest("a")
                rs = next((r for r in g["earlier_resizes"] + [g["last_resize"]]
                           if r["decided_us"] > t0 and r["to_mib"] > r["from_mib"]), None)
                return rs if rs and rs["reached_us"] else None
            rs = wait_for("a plug after demand", first_growth, 60, interval=0.05)
            plug_mib = rs["to_mib"] - rs["from_mib"]
            base = direct_plug_ms(b, b.lab_qmp(), plug_mib)
            rounds.append({
                "demand_to_report_ms": (rs["report_us"] - t0) / 1000,
                "decision_ms": (rs["set_us"] - rs["report_us"]) / 1000,
                "plug_ms": (rs["reached_us"] - rs["set_us"]) / 1000,
                "total_ms": (rs["reached_us"] - t0) / 1000,
                "plug_mib": plug_mib,
                "baseline_plug_ms": base,
            })
            print("round %d: %r" % (r + 1, rounds[-1]), flush=True)
            a.run("ramm-hog free")
            wait_for("a back at its floor", lambda: broker.guest("a")["size_mib"] <= 256 + 8, 60)

        def med(k):
            return statistics.median(x[k] for x in rounds)

        def p90(k):
            xs = sorted(x[k] for x in rounds)
            return xs[min(len(xs) - 1, (len(xs) * 9 + 9) // 10 - 1)]
        print("demand_to_plug mode=kernel rounds=%d plug_mib=%.0f baseline_plug_ms=%.0f" %
              (ROUNDS, med("plug_mib"), med("baseline_plug_ms")))
        for k, name in (("demand_to_report_ms", "detection"), ("decision_ms", "decision"),
                        ("plug_ms", "plug"), ("total_ms", "total")):
            print("demand_to_plug %s median_ms=%.1f p90_ms=%.1f median_vs_baseline=%.2f" %
                  (name, med(k), p90(k), med(k) / med("baseline_plug_ms")))


if __name__ == "__main__":
    main()
