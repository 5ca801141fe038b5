#!/usr/bin/env python3
"""make demo: three real guests, rammd, and demand that moves between them.

Each phase gives one guest a 500 MiB working set (ramm-hog) and frees the
previous one, then prints `rammctl bids` so you can watch memory follow the
bids. Everything is stopped at the end, also on Ctrl-C."""

import time

from common import Broker, lab, vmem_config, wait_for

SUPPLY_MIB = 768
PHASE_S = 15

# Each phase: what it shows, and every guest's working set (ramm-hog MiB).
PHASES = [
    ("guest a needs 500 MiB: it wins memory the idle guests gave back",
     {"a": 500, "b": 0, "c": 0}),
    ("guest b needs 400 MiB too: supply binds, the price rises, each keeps what it values most",
     {"a": 500, "b": 400, "c": 0}),
    ("guest a is done, guest c needs 300 MiB: a's memory flows to b and c",
     {"a": 0, "b": 400, "c": 300}),
]


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
        try:
            wait_for("idle guests back at their floors",
                     lambda: all(g["size_mib"] <= g["floor_mib"] for g in broker.state()["guests"]),
                     20)
        except AssertionError as e:
            print("(%s)" % e)
        snapshot(broker, "idle: idle guests give their virtio-mem memory back to the host")
        for title, demand in PHASES:
            for g in guests:
                if demand[g.name]:
                    g.hog(demand[g.name])
                else:
                    g.run("test -p /run/ramm-hog.ctl && ramm-hog free", check=False)
            time.sleep(PHASE_S)
            snapshot(broker, title)
            print("hogs: " + "  ".join("%s holds %s of %d MiB%s" %
                                       (g.name, st.get("held_mib", "0"), demand[g.name],
                                        "" if st.get("running", "1") == "1" else " (killed)")
                                       for g, st in ((g, g.hog_status()) for g in guests)),
                  flush=True)
        print("\n### rammctl guests", flush=True)
        print(broker.rammctl("guests").stdout, flush=True)
        print("OOM kills in the guests: " + "  ".join(
            "%s=%s" % (g.name, g.run("dmesg | grep -c 'Out of memory'", check=False)[1].strip())
            for g in guests), flush=True)
        print("stopping guests and rammd...", flush=True)
    print("demo done in %.0f s" % (time.time() - start))


if __name__ == "__main__":
    main()
