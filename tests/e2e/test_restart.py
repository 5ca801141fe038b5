"""rammd killed with SIGKILL in the middle of a resize, then started again,
with real guests: nothing is lost and no guest goes below its floor.

Before the first start the state file already holds guest a's account
(credit 0.5) and an operator's weight override. rammd 1 restores them,
starts a large unplug of b (idle, with 768 MiB plugged it does not bid
for), and is killed by PID while QEMU is still unplugging. rammd 2 must
adopt b's size as it finds it (never reset it), restore a's credit where
rammd 1 left it and keep the override; and every 0.3 s sample, across the
kill, keeps both guests at or above their floors."""

import os
import signal
import time

from common import Broker, check, lab, vmem_config, wait_for
from monitor import SizeMonitor

BOOT_MIB = 256
SUPPLY_MIB = 1536


def test_sigkill_mid_resize_then_adopt():
    with lab.Lab() as L:
        a, b = L.boot_all([("a", dict(boot_mib=BOOT_MIB, vmem_mib=0)),
                           ("b", dict(boot_mib=BOOT_MIB, vmem_mib=768))])
        with open(os.path.join(L.dir, "rammd.state"), "w") as f:
            f.write("ramm-state 1\n"
                    "account a balance=1000000 weight=100 credit=500\n"
                    "overrides a weight=300 floor_mib=0 cap_mib=0 excluded=0 drain=0\n")
        mon = SizeMonitor([a, b], {"a": BOOT_MIB, "b": BOOT_MIB}, SUPPLY_MIB)
        mon.start()
        config = vmem_config(guests=[a, b], supply_mib=SUPPLY_MIB, max_unplug_mib=1024)
        first = Broker(L, config)
        try:
            check("restored from the state file: credit 0.500" in first.log() or
                  wait_for("a restored", lambda: "guest a: restored" in first.log(), 10),
                  "rammd did not restore a from the state file")
            wait_for("a's report", lambda: first.guest("a")["report_age_ms"] is not None, 30)
            check(first.guest("a")["weight"] == 300, "the weight override was not restored")
            # b is idle: its unplugged spare memory is taken back in one go.
            # Killed once QEMU has the request (rammd logs the decision as
            # it queues the command, which may not be written yet).
            wait_for("b's unplug to start", lambda: "guest b: shrink" in first.log(), 30,
                     interval=0.02)
            wait_for("QEMU to have b's new requested size",
                     lambda: b.vmem()["requested-size"] < 768 * lab.MIB, 10, interval=0.01)
            os.kill(first.proc.pid, signal.SIGKILL)
            first.proc.wait(5)
            dev = b.vmem()
            in_flight = dev["size"] != dev["requested-size"]
            print("killed rammd: b size %d MiB, requested %d MiB" %
                  (dev["size"] // lab.MIB, dev["requested-size"] // lab.MIB))
            check(in_flight, "the unplug had already finished: not a mid-resize kill")
            credit_before = None
            with open(os.path.join(L.dir, "rammd.state")) as f:
                for line in f:
                    if line.startswith("account a "):
                        credit_before = int(line.split("credit=")[1])
            check(credit_before is not None and 500 <= credit_before < 1000,
                  "state file lost a's account: %r" % credit_before)

            second = Broker(L, config)
            wait_for("rammd 2 to see both guests",
                     lambda: all(g["device_ready"] for g in second.state()["guests"]), 30)
            log = second.log()
            check("guest a: restored from the state file" in log, "rammd 2 did not restore a")
            ga = second.guest("a")
            check(ga["weight"] == 300, "rammd 2 lost the weight override")
            check(credit_before / 1000.0 - 0.001 <= ga["credit"] < credit_before / 1000.0 + 0.1,
                  "rammd 2 credit %.3f, the state file had %.3f" %
                  (ga["credit"], credit_before / 1000.0))
            # b is adopted where QEMU has it; the unplug QEMU was doing ends,
            # and the market goes on from there.
            wait_for("b's unplug to settle", lambda: b.vmem()["size"] == b.vmem()["requested-size"], 60)
            # rammd 2 clears the market from what it adopted and carries on:
            # b ends at the target its bids earn, as rammd 2 and QEMU agree.
            wait_for("rammd 2 to clear a few times", lambda: second.state()["ticks"] >= 3, 30)

            def b_settled():
                gb = second.guest("b")
                return (not gb["resizing"] and gb["size_mib"] == gb["target_mib"] and
                        gb["size_mib"] == b.total_mib())
            wait_for("b at its target under rammd 2", b_settled, 60)
            check(second.guest("a")["credit"] >= ga["credit"],
                  "a's credit fell under rammd 2 while it behaved")
            check(b.total_mib() >= BOOT_MIB and a.total_mib() >= BOOT_MIB, "a guest below its floor")
            check(second.alive(), "rammd 2 died")
            for g in (a, b):
                _, kills = g.run("dmesg | grep -c 'Out of memory'", check=False)
                check(kills.strip() == "0", "%s: the OOM killer ran" % g.name)
            print(second.rammctl("bids").stdout)
        finally:
            mon.stop()
            print(first.log()[-2000:])
            print(second.log()[-3000:] if "second" in dir() else "")
        mon.check()
