#!/usr/bin/env python3
"""make bench: demand-to-plug latency through the whole broker, against the
bare virtio-mem plug measured in the same run as the baseline.

For each round, guest `a`'s ramm-hog starts asking for memory, and we time:
  demand -> report   the agent notices and reports (PSI trigger or 1 s tick)
  report -> decision rammd clears the market and sends qom-set
  decision -> done   virtio-mem plugs and QEMU confirms
The baseline is a direct qom-set of the same size on guest `b`, with no
broker involved. Figures are medians over the rounds; ratios are against
the baseline, because these machines are noisy."""

import statistics
import time

from common import MIB, Broker, lab, vmem_config, wait_for

ROUNDS = 3


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
        a, b = L.boot_all([("a", dict(boot_mib=256, vmem_mib=0)),
                           ("b", dict(boot_mib=256, vmem_mib=0, agent=False))])
        # b is outside the broker (no scan_dir): it is the baseline guest.
        broker = Broker(L, vmem_config(guests=[a], supply_mib=2048))
        wait_for("a's reports", lambda: broker.guest("a")["report_age_ms"] is not None, 30)
        rounds = []
        for r in range(ROUNDS):
            time.sleep(5)  # let a settle at its floor
            t0 = int(time.monotonic() * 1e6)
            a.hog(300, step_mib=32, step_ms=20)

            def done():
                rs = broker.guest("a")["last_resize"]
                if rs["decided_us"] > t0 and rs["done_us"] and rs["to_mib"] > rs["from_mib"]:
                    return rs
                return None
            rs = wait_for("a plug after demand", done, 60, interval=0.05)
            plug_mib = rs["to_mib"] - rs["from_mib"]
            base = direct_plug_ms(b, b.lab_qmp(), plug_mib)
            rounds.append({
                "demand_to_report_ms": (rs["report_us"] - t0) / 1000,
                "decision_ms": (rs["decided_us"] - rs["report_us"]) / 1000,
                "plug_ms": (rs["done_us"] - rs["decided_us"]) / 1000,
                "total_ms": (rs["done_us"] - t0) / 1000,
                "plug_mib": plug_mib,
                "baseline_plug_ms": base,
            })
            print("round %d: %r" % (r + 1, rounds[-1]), flush=True)
            a.run("ramm-hog free")
            wait_for("a back at its floor", lambda: broker.guest("a")["size_mib"] <= 256 + 8, 60)

        def med(k):
            return statistics.median(x[k] for x in rounds)
        print("demand_to_plug rounds=%d demand_to_report_ms=%.0f decision_ms=%.1f plug_ms=%.0f "
              "total_ms=%.0f plug_mib=%.0f baseline_plug_ms=%.0f plug_vs_baseline=%.2f "
              "total_vs_baseline=%.2f" %
              (ROUNDS, med("demand_to_report_ms"), med("decision_ms"), med("plug_ms"),
               med("total_ms"), med("plug_mib"), med("baseline_plug_ms"),
               med("plug_ms") / med("baseline_plug_ms"),
               med("total_ms") / med("baseline_plug_ms")))


if __name__ == "__main__":
    main()
