#!/usr/bin/env python3
"""make demo: three real guests, rammd, and demand that moves between them.

Each phase gives one guest a 500 MiB working set (ramm-hog) and frees the
previous one, then prints `rammctl bids` so you can watch memory follow the
bids. Everything is stopped at the end, also on Ctrl-C."""

import time

from common import Broker, lab, vmem_config, wait_for

SUPPLY_MIB = 1024
PHASE_S = 25


def snapshot(broker, title):
    print("\n### %s" % title, flush=True)
    print(broker.rammctl("bids").stdout, flush=True)


def main():
    start = time.time()
    with lab.Lab() as L:
        print("booting three guests (256 MiB boot memory, virtio-mem up to 1 GiB each)...",
              flush=True)
        guests = L.boot_all([(n, dict(boot_mib=256, vmem_mib=256)) for n in ("a", "b", "c")])
        broker = Broker(L, vmem_config(scan_dir=L.dir, supply_mib=SUPPLY_MIB))
        print("rammd running; supply %d MiB above the guests' floors" % SUPPLY_MIB, flush=True)
        wait_for("reports from every agent",
                 lambda: all(g["report_age_ms"] is not None for g in broker.state()["guests"]), 30)
        time.sleep(4)
        snapshot(broker, "idle: idle guests give their virtio-mem memory back")

        previous = None
        for g in guests:
            if previous:
                previous.run("ramm-hog free")
            g.hog(500)
            deadline = time.time() + PHASE_S
            while time.time() < deadline and g.hog_status().get("held_mib") != "500":
                time.sleep(1)
            time.sleep(3)
            snapshot(broker, "guest %s needs 500 MiB%s (took %.0f s)" %
                     (g.name, ", guest %s freed its memory" % previous.name if previous else "",
                      PHASE_S - max(0, deadline - time.time())))
            previous = g
        print("\n### rammctl guests", flush=True)
        print(broker.rammctl("guests").stdout, flush=True)
        print("stopping guests and rammd...", flush=True)
    print("demo done in %.0f s" % (time.time() - start))


if __name__ == "__main__":
    main()
