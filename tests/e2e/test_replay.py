"""rammd --record, then ramm-sim --replay: the simulator's path plans what
rammd planned.

Two real guests with their agents; rammd records every tick. Guest A's
demand rises, then falls, then B's rises, so that rammd grows and shrinks
devices (the recording must show a growth of each guest and a shrink).
Then rammd stops and `ramm-sim --replay` plans every recorded tick again
with plan_tick(), the function ramm-sim's ramm policy calls: every
action, target, account and price must come out the same.

A second run puts guest H on 2 MiB host huge pages with ramm_guest.ko
(its own pool, the host's hugetlb snapshot, offers from its free-extent
histogram) and drains it. A third checks that a recording that cannot be
written stops with one log line while the market goes on.
"""

import os
import re
import subprocess
import time

from common import (BUILD, Broker, check, lab, require_huge_page_size,
                    reserve_huge_pages, vmem_config, wait_for)

BOOT_MIB = 256
SUPPLY_MIB = 768
# enum plan_why (broker/market/plan.h)
WHY_GROW = 1
WHY_SHRINK = (2, 3, 4, 5)  # outbid, no bid, drain, emergency


def read_actions(path):
    """Every action in the recording: (tick, guest index, from, to, why)."""
    actions, ticks = [], 0
    with open(path) as f:
        for line in f:
            if not line.endswith("\n"):
                break  # rammd is writing it now
            ticks += 1
            cur = None
            for tok in line.split():
                key, _, val = tok.partition("=")
                if key == "action":
                    cur = {}
                    actions.append(cur)
                elif key == "result":
                    break
                elif cur is not None:
                    cur[key] = int(val)
                    cur["tick"] = ticks
    return ticks, [(a["tick"], a["guest"], a["from_units"], a["to_units"], a["why"])
                   for a in actions]


def count(path, whys):
    return sum(1 for a in read_actions(path)[1] if a[4] in whys)


def test_record_and_replay():
    with lab.Lab() as L:
        a, b = L.boot_all([("a", dict(boot_mib=BOOT_MIB, vmem_mib=0)),
                           ("b", dict(boot_mib=BOOT_MIB, vmem_mib=0))])
        record = os.path.join(L.dir, "rammd.rec")
        # Short leases, the walking skeleton's rate limits and a 250 ms
        # tick, so that memory moves both ways within seconds over many
        # ticks.
        broker = Broker(L, vmem_config(scan_dir=L.dir, supply_mib=SUPPLY_MIB,
                                       max_plug_mib=512, max_unplug_mib=256,
                                       min_hold_ms=1000, tick_ms=250),
                        extra_args=["--record", record])
        try:
            wait_for("reports from both agents",
                     lambda: all(g["report_age_ms"] is not None and g["report_age_ms"] < 2000
                                 for g in broker.state()["guests"]), 30)
            # A's demand rises: rammd grows it.
            a.hog(200)
            wait_for("a growth in the recording",
                     lambda: count(record, (WHY_GROW,)) > 0, 40)
            time.sleep(3)  # it puts the memory to use
            shrinks = count(record, WHY_SHRINK)
            # ... and falls: rammd takes memory back.
            a.run("ramm-hog free")
            wait_for("a shrink after A's demand fell",
                     lambda: count(record, WHY_SHRINK) > shrinks, 40)
            # B's demand rises: a second guest grows.
            b.hog(150)
            wait_for("growth of both guests in the recording",
                     lambda: guests_grown(record) == 2, 40)
            check(broker.alive(), "rammd died")
        except Exception:
            for g in (a, b):
                print("%s: %s\n%s" % (g.name, g.run("cat /run/ramm-hog.log", check=False)[1],
                                       g.run("dmesg | tail -8", check=False)[1]))
            print(broker.log()[-3000:])
            raise
        finally:
            broker.stop()
        replay_and_compare(record)


def guests_grown(record):
    return len(set(x[1] for x in read_actions(record)[1] if x[4] == WHY_GROW))


def test_record_and_replay_hugetlb():
    """H on 2 MiB huge pages with 10 pages free in its pool, O on ordinary
    memory, both with ramm_guest.ko: H grows into its pool's free pages,
    O grows, H is drained; the replay plans both pools the same."""
    require_huge_page_size(2048)
    with lab.Lab() as L:
        reserve_huge_pages(L, 2048, 64 // 2 + 10)
        h, o = L.boot_all([
            ("h", dict(boot_mib=BOOT_MIB, vmem_mib=64, vmem_max_mib=512, kmod=True,
                       memdev="memory-backend-memfd,hugetlb=on,hugetlbsize=2M,reserve=off",
                       vmem_opts=",prealloc=on")),
            ("o", dict(boot_mib=BOOT_MIB, vmem_mib=0, kmod=True))])
        record = os.path.join(L.dir, "rammd.rec")
        broker = Broker(L, vmem_config(scan_dir=L.dir, supply_mib=SUPPLY_MIB,
                                       reserve_price=0, quantum_mib=0,
                                       max_plug_mib=512, max_unplug_mib=256,
                                       min_hold_ms=1000, tick_ms=250),
                        extra_args=["--record", record])
        try:
            wait_for("reports from both agents",
                     lambda: all(g["report_age_ms"] is not None and g["report_age_ms"] < 2000
                                 for g in broker.state()["guests"]), 30)
            h.hog(150)
            o.hog(150)
            wait_for("growth of both guests in the recording",
                     lambda: guests_grown(record) == 2, 40)
            time.sleep(2)
            shrinks = count(record, WHY_SHRINK)
            broker.rammctl("drain", "h")
            wait_for("H's drain in the recording",
                     lambda: count(record, WHY_SHRINK) > shrinks, 40)
            time.sleep(2)  # the drain's unplug completes or falls short
            check(broker.alive(), "rammd died")
        finally:
            broker.stop()
        with open(record) as f:
            check(" name=hugetlb-2048k " in f.read(), "no 2 MiB pool in the recording")
        replay_and_compare(record)


def test_record_failure_stops_recording():
    """A recording that cannot be written is logged once and stops; the
    market goes on. One that cannot be opened stops rammd at start. No
    guests needed: rammd plans (and records) an empty tick too."""
    with lab.Lab() as L:
        broker = Broker(L, vmem_config(tick_ms=100, metrics_listen=""),
                        extra_args=["--record", "/dev/full"])
        try:
            wait_for("the write failure in rammd's log",
                     lambda: "recording stopped" in broker.log(), 10)
            t0 = broker.state()["ticks"]
            time.sleep(1)  # ten more ticks
            t1 = broker.state()["ticks"]
            log = broker.log()
            print([l for l in log.splitlines() if "record" in l])
            print("ticks after the failure: %d -> %d" % (t0, t1))
            check(log.count("recording stopped") == 1,
                  "the failure was logged %d times" % log.count("recording stopped"))
            check(t1 >= t0 + 5, "the market stopped ticking (%d -> %d)" % (t0, t1))
        finally:
            broker.stop()
        bad = os.path.join(L.dir, "no-such-dir", "rammd.rec")
        r = subprocess.run([os.path.join(BUILD, "rammd"), "-c", broker.config_path,
                            "--record", bad], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=10)
        print(r.stdout.strip())
        check(r.returncode == 1 and ("record %s" % bad) in r.stdout,
              "rammd --record into a missing directory: exit %d, %r" % (r.returncode, r.stdout))


def replay_and_compare(record):
    """ramm-sim --replay on @record, rammd stopped: no mismatch, every
    tick and action compared."""
    ticks, actions = read_actions(record)
    grows = [x for x in actions if x[4] == WHY_GROW]
    shrinks = [x for x in actions if x[4] in WHY_SHRINK]
    print("recorded: %d ticks, %d actions (%d grow, %d shrink)" %
          (ticks, len(actions), len(grows), len(shrinks)))
    check(grows and shrinks, "the recording has no growth or no shrink: %r" % actions)
    for t, g, frm, to, why in grows[:3] + shrinks[:3]:
        print("  tick %d: guest %d %d -> %d units (why %d)" % (t, g, frm, to, why))

    start = time.monotonic()
    r = subprocess.run([os.path.join(BUILD, "ramm-sim"), "--replay", record],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=60)
    print(r.stdout.strip())
    print("replay took %.2f s" % (time.monotonic() - start))
    m = re.search(r"^replay: (\d+) ticks, (\d+) actions compared, (\d+) mismatches$",
                  r.stdout, re.M)
    check(m is not None, "no summary line from ramm-sim --replay")
    n_ticks, n_actions, n_mismatches = (int(x) for x in m.groups())
    check(n_mismatches == 0, "ramm-sim planned %d fields differently" % n_mismatches)
    check(r.returncode == 0, "ramm-sim --replay exited %d" % r.returncode)
    check(n_ticks == ticks, "replayed %d of %d ticks" % (n_ticks, ticks))
    check(n_actions == len(actions), "compared %d of %d actions" % (n_actions, len(actions)))
