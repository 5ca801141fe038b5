"""rammd against a fleet of fake guests (fleet.py): discovery, resizes,
QEMU and agent faults, restart. No QEMU needed; each test takes seconds.

Every test builds its own bed (Bed): a short temp dir, a fleet on a thread,
one rammd started by PID with a test config (harness.TEST_KEYS: 500 ms
ticks, 2 s staleness, no emergency clearing), all stopped in __exit__.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import time

from fleet import FleetThread
from harness import (RAMMCTL, Rammd, Skip, TEST_KEYS, check, need_binaries,
                     remove_tree, short_tmpdir, wait_for)

# rammctl must answer within this while a guest misbehaves (the brief's
# "the control socket still answers within a second").
CTL_MAX_S = 1.0
# QMP_REPLY_TIMEOUT_MS in broker/backends/qmp.h, plus a refresh period at
# most before rammd next sends the hung monitor a command.
QMP_REPLY_DEADLINE_S = 2.0 + 2.5


class Bed:
    """A fleet with @guests ({name: Guest keyword args}) and one rammd with
    @keys over TEST_KEYS. On a failure the rammd log's tail is printed."""

    def __init__(self, tag, guests, proxmox=False, env=None, **keys):
        need_binaries()
        self.env = env
        self.dir = short_tmpdir(tag)
        self.scan = os.path.join(self.dir, "s")
        os.mkdir(self.scan)
        self.keys = dict(TEST_KEYS, **keys)
        if proxmox:  # found as qemu-server's VMID.qmp: shared (polite) QMP
            self.keys.update(scan_dir=None, proxmox_dir=self.scan,
                             proxmox_agent_dir=self.scan)
        self.rammds = []
        self.fleet = FleetThread(self.scan)
        try:
            for name, spec in guests.items():
                self.fleet.add(name, **spec)
            self.rammd = self.start_rammd("rammd")
        except BaseException:
            self.close(failed=True)
            raise

    def start_rammd(self, name):
        r = Rammd(self.dir, self.scan, self.keys, name=name, env=self.env)
        self.rammds.append(r)
        return r.start()

    def ready(self, names):
        """Wait until rammd drives every guest in @names (device read, agent
        connected, bids in its unit); returns {name: guest JSON}."""
        def all_ready():
            gs = self.rammd.guests()
            ok = all(n in gs and gs[n]["device_ready"] and gs[n]["agent_connected"]
                     and gs[n]["bid_unit_bytes"] == gs[n]["unit_kib"] * 1024
                     for n in names)
            return gs if ok else None
        return wait_for("guests %s ready in rammd" % ", ".join(names), all_ready, 10)

    def settled(self, names, quiet_s=1.5, timeout=20):
        """Wait until, for @quiet_s on end, no guest in @names is resizing
        (in rammd or the fleet) or has a shrink waiting (shrink_delay_ms)
        and no qom-set reaches any of them; returns
        {name: guest JSON} from the end of that quiet spell."""
        quiet_since = [None]

        def quiet():
            gs = self.rammd.guests()
            sets = 0
            for n in names:
                f = self.fleet.guest(n)
                if (gs[n]["resizing"] or gs[n]["shrink_wanted_ms"] is not None
                        or f["size_mib"] != f["requested_mib"]):
                    quiet_since[0] = None
                    return None
                sets += len(f["qom_sets_mib"])
            now = time.monotonic()
            if quiet_since[0] is None or quiet_since[0][1] != sets:
                quiet_since[0] = (now, sets)
            return gs if now - quiet_since[0][0] >= quiet_s else None
        return wait_for("guests %s settled" % ", ".join(names), quiet, timeout, 0.25)

    def ctl_time(self):
        """Seconds rammctl guests took; fails if rammd did not answer."""
        code, _, took = self.rammd.rammctl("--json", "guests")
        check(code == 0, "rammctl guests exit %d" % code)
        return took

    def close(self, failed=False):
        for r in self.rammds:
            r.stop()
        self.fleet.close()
        if failed:
            for r in self.rammds:
                tail = r.log().splitlines()[-40:]
                print("---- %s log (last %d lines)" % (r.name, len(tail)))
                print("\n".join(tail))
        remove_tree(self.dir)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        self.close(failed=exc_type is not None)


def sets_since(snapshot, t):
    """The requested sizes (MiB) set on a fleet guest after monotonic @t."""
    return [v for when, v in snapshot["qom_sets_mib"] if when > t]


def watch(bed, seconds, each):
    """Call @each() every 0.25 s for @seconds, checking each time that
    rammd is alive and rammctl answers within CTL_MAX_S."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        check(bed.rammd.alive(), "rammd exited:\n" + bed.rammd.log()[-2000:])
        took = bed.ctl_time()
        check(took < CTL_MAX_S, "rammctl guests took %.2fs" % took)
        each()
        time.sleep(0.25)


# ---- discovery ----------------------------------------------------------------

def test_discovery():
    """Guests appear with their socket pairs and are forgotten when the pair
    is removed; a guest added later is found by the next scan."""
    with Bed("disc", {"a": {}, "b": {}, "c": {}}, supply_mib=1024) as bed:
        bed.ready(["a", "b", "c"])
        gs = bed.settled(["a", "b", "c"])
        f = bed.fleet.guest("a")
        check(gs["a"]["boot_mib"] == 512 and gs["a"]["size_mib"] == f["total_mib"],
              "a: boot %s size %s, the device has 512 + %s" % (
                  gs["a"]["boot_mib"], gs["a"]["size_mib"], f["size_mib"]))
        bed.fleet.add("d")
        bed.ready(["d"])  # scans run every 2 s
        bed.fleet.call(bed.fleet.fleet.remove, "b")
        wait_for("b forgotten", lambda: "b" not in bed.rammd.guests(), 6)
        check(sorted(bed.rammd.guests()) == ["a", "c", "d"],
              "left: %s" % sorted(bed.rammd.guests()))
        check("guest b: no longer managed" in bed.rammd.log(), "no log line for b")


# ---- resizes --------------------------------------------------------------------

def test_resize_confirmed():
    """rammd grows a hungry guest, the device gets there, and rammd records
    the resize as done at the size the device reports."""
    with Bed("resize", {"a": {"demand_mib": 300}, "b": {"demand_mib": 1100}},
             supply_mib=1024) as bed:
        bed.ready(["a", "b"])
        wait_for("a qom-set growing b", lambda: any(
            v > 256 for _, v in bed.fleet.guest("b")["qom_sets_mib"]), 10)
        gs = bed.settled(["a", "b"])
        f = bed.fleet.guest("b")
        g = gs["b"]
        check(f["size_mib"] > 256, "b did not grow: %s" % f)
        check(g["size_mib"] == f["total_mib"],
              "rammd size %d, device %d" % (g["size_mib"], f["total_mib"]))
        check(g["requested_mib"] == f["boot_mib"] + f["requested_mib"],
              "rammd requested %d, device %d" % (g["requested_mib"],
                                                 f["boot_mib"] + f["requested_mib"]))
        rs = g["last_resize"]
        check(rs["done_us"] > 0 and rs["to_mib"] == f["total_mib"],
              "last resize not done at the device's size: %s" % rs)
        check("guest b: resized %d -> %d MiB" % (rs["from_mib"], rs["to_mib"])
              in bed.rammd.log(), "no 'resized' log line")
        check(g["counters"]["resize_short"] == 0, "counted short: %s" % g["counters"])
        # the agent was told the outcome
        check(f["grants"] and f["welcome"]["size_bytes"] == f["total_mib"] << 20,
              "agent not told: grants %s welcome %s" % (f["grants"][-1:], f["welcome"]))


def test_stalled_resize():
    """A device that stops short of the request: rammd counts the resize
    short after its stall limit (10 s), records the size reached, and keeps
    answering meanwhile."""
    with Bed("stall", {"a": {"demand_mib": 1400, "plug_mib_s": 64}},
             supply_mib=1024) as bed:
        bed.ready(["a"])
        wait_for("a growing", lambda: bed.fleet.guest("a")["size_mib"] > 300, 10)
        bed.fleet.do("a", "set_stalled", True)
        stalled_at = bed.fleet.guest("a")
        check(stalled_at["requested_mib"] > stalled_at["size_mib"],
              "a reached its request before the stall: %s" % stalled_at)
        shorts = []

        def counted():
            # rammd may ask again at once (the guest still bids), so the
            # resize in flight is not looked at, only the count
            g = bed.rammd.guests()["a"]
            if g["counters"]["resize_short"] >= 1:
                shorts.append(g)
        watch(bed, 12.0, counted)
        check(shorts, "no short resize counted 12 s into a stall")
        g = shorts[0]
        f = bed.fleet.guest("a")
        check(g["size_mib"] == f["total_mib"],
              "rammd size %d, device stalled at %d" % (g["size_mib"], f["total_mib"]))
        check("stopped at %d MiB" % f["total_mib"] in bed.rammd.log(),
              "no 'stopped at' log line")


def _wait_shrinking(bed, name, below_mib, timeout):
    """Until fleet guest @name is unplugging and below @below_mib."""
    wait_for("%s being shrunk below %d MiB" % (name, below_mib), lambda: (
        lambda f: f["requested_mib"] < f["size_mib"] < below_mib)(bed.fleet.guest(name)),
        timeout)


def test_short_unplug_does_not_return():
    """An unplug that stalls is counted short, and the device is asked for
    what the guest holds: when the guest's driver can unplug again (as
    virtio-mem retries by itself 50 s later), nothing more disappears."""
    with Bed("shortun", {"a": {"demand_mib": 100, "size_mib": 1024,
                               "unplug_mib_s": 64}},
             supply_mib=1024) as bed:
        bed.ready(["a"])
        _wait_shrinking(bed, "a", 960, 15)
        bed.fleet.do("a", "set_stalled", True)
        wait_for("the short unplug counted",
                 lambda: bed.rammd.guests()["a"]["counters"]["resize_short"] >= 1, 14)
        held = bed.fleet.guest("a")
        bed.fleet.do("a", "set_stalled", False)
        t0 = time.monotonic()

        def nothing_vanishes():
            f = bed.fleet.guest("a")
            check(f["size_mib"] >= held["size_mib"],
                  "a lost memory after its short unplug: %d -> %d MiB (requested %d)" % (
                      held["size_mib"], f["size_mib"], f["requested_mib"]))
        watch(bed, 3.0, nothing_vanishes)
        f = bed.fleet.guest("a")
        check(f["requested_mib"] >= f["size_mib"],
              "a's request %d MiB is left below what it holds, %d MiB" % (
                  f["requested_mib"], f["size_mib"]))
        check(not [v for v in sets_since(f, t0) if v < held["size_mib"]],
              "rammd shrank a again inside its stuck window: %s" % sets_since(f, t0))


def test_short_unplug_judged_on_offer():
    """A guest that reports its free extents answers to the credit score
    for what it showed free: an unplug that stalls in memory it did not
    offer (one -EBUSY pass) costs it no credit once it gave what it
    offered."""
    with Bed("offer", {"a": {"demand_mib": 100, "size_mib": 1024,
                             "unplug_mib_s": 160, "free_extents_mib": 64}},
             supply_mib=1024) as bed:
        bed.ready(["a"])
        _wait_shrinking(bed, "a", 1024 - 96, 20)
        bed.fleet.do("a", "set_stalled", True)
        wait_for("the short unplug counted",
                 lambda: bed.rammd.guests()["a"]["counters"]["resize_short"] >= 1, 14)

        def credit_kept():
            g = bed.rammd.guests()["a"]
            check(g["credit"] == 1.0, "a lost credit for memory it never offered: %s" % g["credit"])
        watch(bed, 2.0, credit_kept)


def _first_shrink(bed, name, timeout=15):
    """The first evict notice with units to @name, when it came, and when
    requested-size was first lowered below the size then (None if not)."""
    wait_for("an evict notice", lambda: [
        e for e in bed.fleet.guest(name)["evicts"] if e["units"]], timeout)
    f = bed.fleet.guest(name)
    i = [i for i, e in enumerate(f["evicts"]) if e["units"]][0]
    return f["evicts"][i], f["evict_times"][i], f["size_mib"]


def _lowered_after(bed, name, size, t_evict, timeout):
    wait_for("requested-size lowered", lambda: [
        t for t, v in bed.fleet.guest(name)["qom_sets_mib"] if v < size], timeout)
    t_set = [t for t, v in bed.fleet.guest(name)["qom_sets_mib"] if v < size][0]
    return t_set - t_evict


def test_shrink_waits_for_preparation():
    """A guest that says when it has prepared an unplug ("evicting" in its
    reports, as ramm-agent relays ramm_guest.ko's RAMM_REC_EVICTING) gets
    the evict notice first; requested-size is lowered right after a report
    names the notice's id with evicting false, not with the notice (then
    the module gives way to virtio-mem and nothing is gained), not when
    its free extents grow (here memory freed elsewhere as the notice
    comes, which spares virtio-mem no migration), and not only after the
    whole evict_prepare_ms."""
    with Bed("prep", {"a": {"demand_mib": 100, "size_mib": 1024,
                            "free_extents_mib": 0, "prepare_s": 0.8,
                            "says_evicting": True, "freed_on_evict_mib": 1024}},
             supply_mib=1024, evict_prepare_ms=4000) as bed:
        bed.ready(["a"])
        notice, t_evict, size = _first_shrink(bed, "a")
        check(isinstance(notice.get("id"), int) and notice["id"] > 0,
              "the evict notice has no id: %s" % notice)
        waited = _lowered_after(bed, "a", size, t_evict, 8)
        print("requested-size lowered %.2f s after the evict notice (prepared in 0.8 s)" % waited)
        check(waited >= 0.7, "lowered %.2f s after the notice, before the guest prepared" % waited)
        check(waited < 1.5, "lowered %.2f s after the notice, long after the guest said it was done"
              % waited)
        check(" sent " in bed.rammd.log() and "after its evict notice: prepared" in bed.rammd.log(),
              "rammd did not log the shrink as sent because the guest was prepared")
        bed.settled(["a"])


def test_shrink_waits_until_deadline():
    """A guest that says it is still preparing and never says it is done
    (hostile, or a module that is slow) holds its own shrink back by at
    most evict_prepare_ms, and rammd logs that the deadline sent it."""
    with Bed("prepdl", {"a": {"demand_mib": 100, "size_mib": 1024,
                              "free_extents_mib": 800, "prepare_s": None,
                              "says_evicting": True}},
             supply_mib=1024, evict_prepare_ms=1500) as bed:
        bed.ready(["a"])
        _, t_evict, size = _first_shrink(bed, "a")
        check(bed.fleet.guest("a")["evicting"], "the fake guest is not evicting")
        waited = _lowered_after(bed, "a", size, t_evict, 8)
        print("requested-size lowered %.2f s after the evict notice (limit 1.5 s)" % waited)
        check(1.3 <= waited < 2.5, "lowered %.2f s after the notice, limit 1.5 s" % waited)
        check("after its evict notice: deadline" in bed.rammd.log(),
              "rammd did not log the deadline as the reason")
        bed.settled(["a"])


def test_shrink_no_wait_without_evicting():
    """A kernel-mode guest that reports free extents but not "evicting" (an
    agent from before the flag) is not waited for: its histogram cannot
    tell the notice's chunks were emptied, so requested-size goes out with
    the notice, as for a proc-mode guest."""
    with Bed("noprep", {"a": {"demand_mib": 100, "size_mib": 1024,
                              "free_extents_mib": 0, "prepare_s": 0.8}},
             supply_mib=1024, evict_prepare_ms=4000) as bed:
        bed.ready(["a"])
        _, t_evict, size = _first_shrink(bed, "a")
        waited = _lowered_after(bed, "a", size, t_evict, 8)
        print("requested-size lowered %.2f s after the evict notice" % waited)
        check(waited < 0.3, "waited %.2f s for a guest that never says it prepared" % waited)
        bed.settled(["a"])


def test_shrink_stopped_while_preparing():
    """A shrink stopped while it waits for its guest to prepare (an urgent
    report wins the memory back) never lowers requested-size below what
    the guest holds, and the notice is called off with an evict of 0
    units."""
    with Bed("prepstop", {"a": {"demand_mib": 100, "size_mib": 1024,
                                "free_extents_mib": 0, "prepare_s": None,
                                "says_evicting": True}},
             supply_mib=1024, evict_prepare_ms=8000) as bed:
        bed.ready(["a"])
        notice, t_evict, size = _first_shrink(bed, "a")
        bed.fleet.do("a", "set_demand", 1400, True)
        _check_called_off(bed, "a", notice, t_evict, size, 5, "the shrink was stopped")
        check("shrink stopped" in bed.rammd.log(), "no 'shrink stopped' log line")


def _check_called_off(bed, name, notice, t_evict, size, timeout, why):
    """@notice (sent at @t_evict to @name, then @size MiB) is called off
    within @timeout s by an evict of 0 units, and requested-size was never
    lowered below @size: @why."""
    wait_for("the notice called off", lambda: [
        e for e in bed.fleet.guest(name)["evicts"]
        if e["units"] == 0 and e.get("id", 0) > notice["id"]], timeout)
    f = bed.fleet.guest(name)
    low = [v for t, v in f["qom_sets_mib"] if t >= t_evict and v < size]
    check(not low, "requested-size lowered to %s though %s" % (low, why))
    check(not f["evicting"], "the guest still prepares after the call-off")


def test_shrink_not_sent_to_an_unheard_guest():
    """A guest that prepares its unplugs and then says nothing more after
    the evict notice (its ramm-agent killed, upgraded or hung) could not
    report urgent to stop the unplug if a workload started: at the
    evict_prepare_ms limit the shrink waits for one more report, is called
    off once the last one is stale_report_ms old (an evict of 0 units, and
    requested-size never lowered), and goes ahead once the guest reports
    again."""
    with Bed("unheard", {"a": {"demand_mib": 1000, "size_mib": 1024, "free_extents_mib": 0,
                               "says_evicting": True, "prepare_s": None}},
             supply_mib=1024, shrink_delay_ms=0, evict_prepare_ms=1000,
             stale_report_ms=3000) as bed:
        bed.ready(["a"])
        bed.settled(["a"])
        size = bed.fleet.guest("a")["size_mib"]
        t0 = time.monotonic()

        def last_word():
            guest = bed.fleet.fleet.guests["a"]
            guest.set_demand(100, True)  # one report, then silence
            guest.set_agent_silent(True)
        bed.fleet.call(last_word)

        def notice_since():
            f = bed.fleet.guest("a")
            return [(e, t) for e, t in zip(f["evicts"], f["evict_times"])
                    if e["units"] and t > t0]
        notice, t_evict = wait_for("an evict notice", notice_since, 8)[0]
        _check_called_off(bed, "a", notice, t_evict, size, 6, "a was silent since the notice")
        check("called off: no report" in bed.rammd.log(), "no 'called off' log line")
        print("called off %.1f s after the notice" % (time.monotonic() - t_evict))
        bed.fleet.do("a", "set_agent_silent", False)
        lowered = wait_for("requested-size lowered once a reports again", lambda: [
            t for t, v in bed.fleet.guest("a")["qom_sets_mib"] if t > t_evict and v < size], 10)
        print("shrunk %.1f s after the first notice, once the guest reported again"
              % (lowered[0] - t_evict))


def _short_then_exit(tag, left_mib=300, prepare_s=None, **keys):
    """A bed where b holds most of the supply, bidding for it, and a runs
    short; then b's workload shrinks to @left_mib (300: it exits, and b
    bids for nothing above its 512 MiB floor). b prepares its unplugs in
    @prepare_s (None: it never says it is done). No memory is free, so
    that a stays short until b's workload shrinks, however fast a grows
    into what b's comfort gives up. Returns (bed, monotonic time b's
    workload shrank)."""
    bed = Bed(tag, {"a": {"demand_mib": 400, "size_mib": 0},
                    "b": {"demand_mib": 900, "size_mib": 540, "free_extents_mib": 0,
                          "says_evicting": True, "prepare_s": prepare_s,
                          "unplug_mib_s": 1024}},
              supply_mib=540, **keys)
    try:
        bed.ready(["a", "b"])
        time.sleep(1.0)
        check(bed.fleet.guest("b")["size_mib"] == 540, "b did not keep the 540 MiB it bids for")
        bed.fleet.do("a", "set_demand", 1000, True)
        time.sleep(0.6)
        bed.fleet.do("b", "set_demand", left_mib)
        return bed, time.monotonic()
    except BaseException:
        bed.close(failed=True)
        raise


def _lowered_after_notice(bed, name, t_after, below_mib):
    """Seconds from @name's first evict notice after @t_after to a
    requested-size under @below_mib."""
    f = lambda: bed.fleet.guest(name)  # noqa: E731
    notice = wait_for("an evict notice to %s" % name, lambda: [
        t for t, e in zip(f()["evict_times"], f()["evicts"]) if e["units"] and t > t_after], 8)[0]
    return wait_for("%s's requested-size lowered" % name, lambda: [
        t for t, v in f()["qom_sets_mib"] if t >= notice - 0.1 and v < below_mib], 8)[0] - notice


def test_short_guest_does_not_wait_for_preparation():
    """A shrink decided while another guest is short (in reclaim, bidding
    2000 and up: the agents' short tier) goes out with its evict notice,
    not after the evict_prepare_ms a prepared unplug may wait (4 s here):
    the short guest is waiting for that memory. b's workload falls to
    600 MiB: it still bids for some of its memory."""
    bed, t_fall = _short_then_exit("prepshort", left_mib=600, shrink_delay_ms=0,
                                   evict_prepare_ms=4000)
    with bed:
        lowered = _lowered_after_notice(bed, "b", t_fall, 540)
        print("requested-size lowered %.2f s after b's evict notice" % lowered)
        check(lowered < 0.3, "b's unplug waited %.2f s for its preparation while a was short"
              % lowered)
        check("at once, for a short guest" in bed.rammd.log(),
              "no 'at once, for a short guest' on b's shrink line")
        wait_for("a grown", lambda: bed.fleet.guest("a")["size_mib"] >= 400, 6)


def test_idle_guest_prepares_for_a_short_guest():
    """A guest whose workload exited (it bids for nothing) is shrunk for a
    short one only once it has prepared (0.8 s here), not at once: a
    workload starts again in such a guest more often than in any other,
    and the report that ends its preparation is the last look before the
    unplug (in the soak, one started as the shrink was decided and was
    OOM-killed at the floor under the unplug that went at once)."""
    bed, t_exit = _short_then_exit("prepidle", prepare_s=0.8, shrink_delay_ms=0,
                                   evict_prepare_ms=4000)
    with bed:
        lowered = _lowered_after_notice(bed, "b", t_exit, 540)
        print("requested-size lowered %.2f s after b's evict notice" % lowered)
        check(lowered >= 0.7, "b's unplug went %.2f s after its notice, before it prepared"
              % lowered)
        check("after its evict notice: prepared" in bed.rammd.log(),
              "b's shrink was not sent as prepared")
        wait_for("a grown", lambda: bed.fleet.guest("a")["size_mib"] >= 400, 8)


def test_memory_waits_for_its_guest_to_return():
    """Memory taken from a guest whose workload exited stays free for it for
    return_window_ms (10 s): another guest that wants headroom, not short,
    does not grow into it, and the workload starting again gets it back.
    Before, the other guest took it at the next tick, under a lease."""
    with Bed("return", {"a": {"demand_mib": 450, "size_mib": 0},
                        "b": {"demand_mib": 900, "size_mib": 540}},
             supply_mib=560, shrink_delay_ms=1000, evict_prepare_ms=0) as bed:
        bed.ready(["a", "b"])
        time.sleep(1.5)
        a_before = bed.fleet.guest("a")["size_mib"]
        check(a_before <= 20, "a holds %d MiB; only 20 MiB were free" % a_before)
        bed.fleet.do("b", "set_demand", 300)

        def b_unplugged():
            f = bed.fleet.guest("b")
            return f["requested_mib"] < 540 and f["size_mib"] == f["requested_mib"]
        wait_for("b's shrink done", b_unplugged, 8, interval=0.05)
        time.sleep(2.5)
        a_after = bed.fleet.guest("a")["size_mib"]
        print("a held %d MiB before b's shrink, %d MiB 2.5 s after it" % (a_before, a_after))
        check(a_after == a_before, "a grew into b's memory in its return window: %d -> %d MiB"
              % (a_before, a_after))
        bed.fleet.do("b", "set_demand", 900)
        wait_for("b grown back", lambda: bed.fleet.guest("b")["size_mib"] >= 500, 5)


def test_growth_does_not_wait_for_the_tick():
    """Growth that waits for memory being unplugged from another guest is
    granted when that unplug ends, not at the next tick (4 s here)."""
    bed, t_short = _short_then_exit("growwait", tick_ms=4000, shrink_delay_ms=0,
                                    min_hold_ms=0, evict_prepare_ms=0)
    with bed:
        def b_unplugged():
            f = bed.fleet.guest("b")
            lowered = [t for t, v in f["qom_sets_mib"] if t > t_short]
            return ((lowered[0], time.monotonic())
                    if lowered and f["size_mib"] == f["requested_mib"] else None)
        t_lowered, t_freed = wait_for("b's unplug done", b_unplugged, 12, interval=0.02)
        # What a's urgent report won out of memory free then came before.
        t_grow = wait_for("a's growth", lambda: [
            t for t, v in bed.fleet.guest("a")["qom_sets_mib"] if t > t_lowered], 6)[0]
        print("a's growth asked for %.2f s after b's unplug ended" % (t_grow - t_freed))
        check(t_grow - t_freed < 1.5,
              "a's growth waited %.2f s after b's unplug ended (tick 4 s)" % (t_grow - t_freed))


def test_false_completion():
    """The device reaches a growth's size for a moment, then falls back (the
    guest could not add the memory): rammd does not count the growth done,
    counts it short, and the guest, still short of memory, is grown again
    until it holds what it won."""
    with Bed("falsedone", {"a": {"demand_mib": 900, "size_mib": 0}},
             supply_mib=2048) as bed:
        bed.fleet.do("a", "set_drop_after_plug", 128, 0.3)
        bed.ready(["a"])
        wait_for("a grown and fallen back", lambda: (
            lambda f: f["requested_mib"] - f["size_mib"] >= 128)(bed.fleet.guest("a")), 15)
        fallen = bed.fleet.guest("a")
        wait_for("the growth counted short",
                 lambda: bed.rammd.guests()["a"]["counters"]["resize_short"] >= 1, 14)
        check("resized %d -> %d MiB" % (fallen["boot_mib"], fallen["boot_mib"] + fallen["requested_mib"])
              not in bed.rammd.log(), "rammd logged the growth that fell back as done")
        gs = bed.settled(["a"])
        f = bed.fleet.guest("a")
        check(f["size_mib"] > fallen["size_mib"],
              "a left short: holds %d MiB, the fall left %d MiB" % (f["size_mib"], fallen["size_mib"]))
        check(gs["a"]["size_mib"] == f["total_mib"] and
              gs["a"]["requested_mib"] == f["boot_mib"] + f["requested_mib"],
              "rammd books %s, device %s" % (gs["a"], f))


def test_shrink_stopped_by_urgent():
    """A guest whose demand comes back while rammd unplugs from it sends an
    urgent report: rammd sets its request back up to what it holds at
    once, and the unplug stops there (before, a resizing guest was frozen
    and the unplug went on to the end)."""
    with Bed("stopshrink", {"a": {"demand_mib": 100, "size_mib": 1024,
                                  "unplug_mib_s": 48}},
             supply_mib=1024) as bed:
        bed.ready(["a"])
        _wait_shrinking(bed, "a", 900, 20)
        asked = bed.fleet.guest("a")["requested_mib"]
        t0 = time.monotonic()
        bed.fleet.do("a", "set_demand", 1300, True)
        at_urgent = bed.fleet.guest("a")["size_mib"]
        wait_for("a's request set back up", lambda: any(
            v >= at_urgent - 64 for v in sets_since(bed.fleet.guest("a"), t0)), 3)
        gs = bed.settled(["a"])
        f = bed.fleet.guest("a")
        check(f["size_mib"] >= at_urgent - 64 and f["size_mib"] > asked,
              "the unplug went on: %d MiB at the urgent report, asked %d, now %d" % (
                  at_urgent, asked, f["size_mib"]))
        check("shrink stopped" in bed.rammd.log(), "no 'shrink stopped' log line")
        check(gs["a"]["size_mib"] == f["total_mib"], "rammd books %s, device %s" % (gs["a"], f))


def test_stopped_shrink_restarts_the_dip():
    """A shrink stopped by an urgent report in a partial round is followed
    by a new dip: when the guest's bid falls again, the next shrink waits
    shrink_delay_ms (8 s here) from the stop. Before, the stop kept the dip that
    led to the shrink, and the next regular tick shrank the guest at once
    (soak seed 4242: 0.2 s after the stop, and its workload was
    OOM-killed as that unplug ended)."""
    with Bed("stopdip", {"a": {"demand_mib": 100, "size_mib": 1024,
                               "unplug_mib_s": 32}},
             supply_mib=1024, tick_ms=4000, shrink_delay_ms=8000,
             evict_prepare_ms=0) as bed:
        bed.ready(["a"])
        _wait_shrinking(bed, "a", 1010, 30)
        bed.fleet.do("a", "set_demand", 1300, True)
        wait_for("the shrink stopped", lambda: "shrink stopped" in bed.rammd.log(), 3)
        bed.fleet.do("a", "set_demand", 100)
        bed.fleet.do("a", "send_report")
        def shrinks():
            """(rammd's time, line) of a's shrink decisions and stops."""
            return [(float(ln[len("rammd["):ln.index("]")]), ln)
                    for ln in bed.rammd.log().splitlines() if "guest a: shrink" in ln]
        stop_t = next(t for t, ln in shrinks() if "shrink stopped" in ln)
        again = wait_for("a shrunk again", lambda: [
            t for t, ln in shrinks()
            if t > stop_t and " -> " in ln and "units" in ln and "stopped" not in ln] or None,
            25)[0]
        print("next shrink %.2f s after the stop" % (again - stop_t))
        check(again - stop_t >= 8.0 - 0.05,
              "a shrunk again %.2f s after its shrink was stopped (shrink_delay_ms 8000)"
              % (again - stop_t))


def test_report_from_during_a_shrink_grows_nothing():
    """A report sampled while a shrink was under way (a guest reads the
    block virtio-mem is taking offline as used) is no bid once the shrink
    has ended: the guest keeps what it has until its next report. Before,
    the next tick grew it straight back on that report (lab
    test_demand_moves_memory: an idle guest shrunk 512 -> 256 MiB bid
    8000 for 308 MiB and was grown back, every 9 s)."""
    with Bed("shrinkreport", {"a": {"demand_mib": 100, "size_mib": 512,
                                    "unplug_mib_s": 256, "report_s": 30}},
             supply_mib=1024, tick_ms=4000, shrink_delay_ms=0,
             min_hold_ms=0, evict_prepare_ms=0, stale_report_ms=60000) as bed:
        wait_for("a's welcome", lambda: bed.fleet.guest("a")["welcome"], 10)
        bed.fleet.do("a", "send_report")  # reports are 30 s apart
        bed.ready(["a"])
        _wait_shrinking(bed, "a", 510, 12)
        # What the guest reads during the unplug: sent, not urgent, and
        # read by no round before the unplug ends (ticks 4 s apart).
        bed.fleet.do("a", "set_demand", 700)
        bed.fleet.do("a", "send_report")
        bed.fleet.do("a", "set_demand", 100)
        t_end = wait_for("a's shrink done", lambda: (
            lambda f: time.monotonic() if f["size_mib"] == f["requested_mib"] else None)(
                bed.fleet.guest("a")), 10, interval=0.05)
        time.sleep(5)  # at least one tick
        grown = [v for t, v in bed.fleet.guest("a")["qom_sets_mib"] if t > t_end]
        check(not grown, "a grown to %s MiB on a report from during its shrink" % grown)


def test_dip_not_taken():
    """A guest whose demand falls for one reading and comes back is not
    shrunk: the market must want its memory for shrink_delay_ms on end."""
    with Bed("dip", {"a": {"demand_mib": 900, "size_mib": 0, "report_s": 0.5}},
             supply_mib=2048) as bed:
        bed.ready(["a"])
        held = bed.settled(["a"])["a"]
        check(held["size_mib"] > 900, "a did not grow: %s" % held)
        t0 = time.monotonic()
        bed.fleet.do("a", "set_demand", 100)
        time.sleep(1.2)
        bed.fleet.do("a", "set_demand", 900)

        def not_shrunk():
            low = sets_since(bed.fleet.guest("a"), t0)
            check(not low, "a shrunk on a dip: requests %s" % low)
        watch(bed, 4.0, not_shrunk)


# ---- QEMU vanishing ---------------------------------------------------------------

def _qemu_fault_bed(tag):
    """a (holding 256 MiB) and b (hungry later) with room in the supply."""
    return Bed(tag, {"a": {"demand_mib": 700}, "b": {"demand_mib": 200, "size_mib": 0}},
               supply_mib=2048)


def _b_gets_served(bed, t0):
    """b, made hungry now, is grown by rammd and the resize completes."""
    bed.fleet.do("b", "set_demand", 1000, True)
    wait_for("b grown after a's fault", lambda: any(
        v > 0 for v in sets_since(bed.fleet.guest("b"), t0)), 6)
    wait_for("b's growth confirmed", lambda: (
        lambda g, f: not g["resizing"] and g["size_mib"] == f["total_mib"] > 512)(
            bed.rammd.guests()["b"], bed.fleet.guest("b")), 10)


def test_qemu_dies_sockets_left():
    """QEMU dies leaving its socket files: nothing listens on them, so rammd
    tells it from a hung QEMU within seconds, books nothing for it any
    more, and grows a hungry guest into the memory it freed; when QEMU is
    back, the guest is managed again at the size its device reports."""
    with Bed("die", {"a": {"demand_mib": 900},
                     "b": {"demand_mib": 200, "size_mib": 0}},
             supply_mib=1024) as bed:
        bed.ready(["a", "b"])
        before = bed.settled(["a", "b"])
        held_by_a = before["a"]["size_mib"] - before["a"]["floor_mib"]
        check(held_by_a > 256, "a holds too little to show anything: %s" % before["a"])
        t0 = time.monotonic()
        bed.fleet.do("a", "die")
        wait_for("a gone", lambda: bed.rammd.guests()["a"]["state"] == "gone", 4)
        gone_after = time.monotonic() - t0
        check("guest a: its QEMU is gone" in bed.rammd.log(), "no 'QEMU is gone' log line")
        bed.fleet.do("b", "set_demand", 1200, True)
        free_before = 1024 - held_by_a
        wait_for("b grown into a's memory", lambda: (
            lambda g: g["size_mib"] - g["floor_mib"] > free_before + 64 and not g["resizing"])(
                bed.rammd.guests()["b"]), 15)
        print("a taken as gone after %.1f s" % gone_after)
        bed.fleet.do("a", "revive")
        bed.ready(["a"])
        check(bed.rammd.guests()["a"]["size_mib"] == bed.fleet.guest("a")["total_mib"],
              "a's size after revival differs from the device")


def test_shared_qmp_resize_polls_politely():
    """A Proxmox guest's QMP socket is qemu-server's too: while rammd
    follows a resize it opens a session at most about once a second, not
    once per 100 ms device poll."""
    with Bed("polite", {"101": {"demand_mib": 700, "size_mib": 0, "plug_mib_s": 24}},
             proxmox=True, supply_mib=2048) as bed:
        bed.ready(["101"])
        wait_for("101 growing", lambda: (lambda f: f["requested_mib"] > f["size_mib"] + 90)(
            bed.fleet.guest("101")), 10)
        c0, t0 = bed.fleet.guest("101")["qmp_clients"], time.monotonic()
        time.sleep(3.0)
        f = bed.fleet.guest("101")
        check(f["requested_mib"] > f["size_mib"], "the resize ended too soon to judge")
        rate = (f["qmp_clients"] - c0) / (time.monotonic() - t0)
        check(rate <= 2.5, "%.1f QMP sessions a second during a resize" % rate)
        gs = bed.settled(["101"], timeout=45)
        check(gs["101"]["size_mib"] == bed.fleet.guest("101")["total_mib"],
              "rammd books %s, device %s" % (gs["101"], bed.fleet.guest("101")))


def test_qmp_connection_dropped():
    """The QMP connection drops: rammd reconnects within seconds, the
    guest keeps its size, and the others are served meanwhile."""
    with _qemu_fault_bed("drop") as bed:
        bed.ready(["a", "b"])
        before = bed.settled(["a", "b"])["a"]
        clients = bed.fleet.guest("a")["qmp_clients"]
        t0 = time.monotonic()
        bed.fleet.do("a", "drop_qmp")
        wait_for("a reconnected", lambda: bed.fleet.guest("a")["qmp_clients"] > clients, 4)
        bed.ready(["a"])
        _b_gets_served(bed, t0)
        f = bed.fleet.guest("a")
        check(not [v for v in sets_since(f, t0) if v < before["size_mib"] - 512],
              "a shrunk after a dropped connection: %s" % sets_since(f, t0))
        check(bed.rammd.guests()["a"]["size_mib"] == f["total_mib"],
              "a's size differs from the device after reconnecting")


def test_qmp_monitor_hangs():
    """The monitor accepts but stops answering: within its reply deadline
    rammd takes it as hung (logged once), drops the connection and freezes
    the guest: nothing booked for it, even though its agent now bids for
    more. rammd keeps answering and serves the others meanwhile, and picks
    the guest up at its real size once the monitor answers again."""
    with _qemu_fault_bed("hang") as bed:
        bed.ready(["a", "b"])
        before = bed.settled(["a", "b"])["a"]
        t0 = time.monotonic()
        bed.fleet.do("a", "set_hung", True)
        bed.fleet.do("a", "set_demand", 1300, True)
        # A command sent before the deadline runs out may be booked for
        # that long; once hung, the booking is undone.
        wait_for("a taken as lost", lambda: bed.rammd.guests()["a"]["state"] == "lost",
                 QMP_REPLY_DEADLINE_S + 2)
        _b_gets_served(bed, t0)

        def frozen():
            g = bed.rammd.guests()["a"]
            check(g["state"] == "lost", "a left state lost while hung: %s" % g["state"])
            check(g["size_mib"] == before["size_mib"],
                  "a's size moved while hung: %s -> %s" % (before["size_mib"],
                                                           g["size_mib"]))
            check(g["requested_mib"] in (0, before["requested_mib"]),
                  "rammd booked a resize of the hung guest a: requested %s -> %s"
                  % (before["requested_mib"], g["requested_mib"]))
        watch(bed, 5.0, frozen)
        hung_lines = [l for l in bed.rammd.log().splitlines()
                      if "guest a:" in l and "taken as hung" in l]
        check(len(hung_lines) == 1,
              "'taken as hung' logged %d times for a, not once" % len(hung_lines))
        bed.fleet.do("a", "set_hung", False)
        bed.ready(["a"])

        def matches_device():
            g, f = bed.rammd.guests()["a"], bed.fleet.guest("a")
            still = not g["resizing"] and f["size_mib"] == f["requested_mib"]
            return still and g["size_mib"] == f["total_mib"]
        # The qom-set lost with the hang may still be moving the device;
        # rammd follows it to the end instead of booking a stale size.
        wait_for("a's size in rammd matching its device once it answers",
                 matches_device, 10, 0.25)


# ---- the agent ------------------------------------------------------------------

def test_agent_death():
    """No memory is taken from a guest whose agent is gone (k: socket closed
    and removed mid-run) or silent from the start (s), even with another
    guest bidding for all it can get."""
    with Bed("agent", {
            "k": {"demand_mib": 1000, "size_mib": 768},
            "s": {"demand_mib": 100, "size_mib": 768, "agent_silent": True},
            "b": {"demand_mib": 200, "size_mib": 0}},
            supply_mib=1700) as bed:
        bed.ready(["k", "b"])
        held = bed.settled(["k", "b"])
        k_size = bed.fleet.guest("k")["size_mib"]
        s_size = bed.fleet.guest("s")["size_mib"]
        check(s_size == 768, "s lost memory with a silent agent: %d" % s_size)
        bed.fleet.do("k", "kill_agent")
        wait_for("k's agent gone", lambda: not bed.rammd.guests()["k"]["agent_connected"], 4)
        time.sleep(TEST_KEYS["stale_report_ms"] / 1000 + 1)  # k's bid is stale now
        t0 = time.monotonic()
        bed.fleet.do("b", "set_demand", 1600, True)

        def kept():
            for name, size in (("k", k_size), ("s", s_size)):
                f = bed.fleet.guest(name)
                shrinks = [v for v in sets_since(f, t0) if v < size]
                check(not shrinks and f["size_mib"] >= size,
                      "%s lost memory without an agent: %d -> %s" % (name, size, shrinks))
        watch(bed, 5.0, kept)
        check(held["k"]["size_mib"] == bed.rammd.guests()["k"]["size_mib"],
              "rammd's size for k moved")


def test_hostile_agent():
    """An agent sending garbage, an over-long line, a rising bid and a
    flood: counted, answered with errors, and it keeps its memory."""
    with Bed("hostile", {"h": {"demand_mib": 900}, "b": {"demand_mib": 400}},
             supply_mib=1024) as bed:
        bed.ready(["h", "b"])
        before = bed.settled(["h", "b"])["h"]
        bed.fleet.do("h", "set_agent_silent", True)  # only hostile lines now
        for line in (b"not json\n", b"{\"type\":\"report\",\"v\":1}\n",
                     b"x" * 5000 + b"\n",
                     b"{\"type\":\"report\",\"v\":1,\"seq\":1,\"urgent\":true,"
                     b"\"mem_total_kib\":1,\"mem_free_kib\":1,\"mem_available_kib\":1,"
                     b"\"psi_some_avg10\":0,\"psi_full_avg10\":0,\"refault_anon\":0,"
                     b"\"refault_file\":0,\"pgscan\":0,\"unit_bytes\":2097152,"
                     b"\"bid\":[[1,5],[1,9000000]]}\n"):
            bed.fleet.do("h", "send_raw", line)
        bed.fleet.do("h", "send_raw", b"{}\n" * 100)
        t0 = time.monotonic()

        def counters():
            c = bed.rammd.guests()["h"]["counters"]
            return (c["bad_json"] >= 1 and c["oversize"] >= 1 and c["bad_field"] >= 2
                    and c["rate_limited"] >= 1) and c
        wait_for("h's lines counted", counters, 4)
        wait_for("error replies", lambda: bed.fleet.guest("h")["errors"], 4)

        def kept():
            f = bed.fleet.guest("h")
            check(not [v for v in sets_since(f, t0) if v < before["size_mib"] - 512],
                  "h lost memory for hostile lines: %s" % sets_since(f, t0))
        watch(bed, 3.0, kept)


# ---- restart --------------------------------------------------------------------

def test_restart_adopts_sizes():
    """rammd killed with SIGKILL mid-resize: a new rammd adopts each
    device's size as QEMU reports it (the request in flight included) and
    shrinks no one on start."""
    with Bed("restart", {
            "a": {"demand_mib": 1300, "size_mib": 0, "plug_mib_s": 48},
            "b": {"demand_mib": 1400, "size_mib": 512, "max_mib": 512}},
            supply_mib=1024) as bed:
        bed.ready(["a", "b"])
        wait_for("a mid-resize", lambda: (lambda f: f["requested_mib"] > f["size_mib"] > 16)(
            bed.fleet.guest("a")), 10)
        bed.rammd.kill(signal.SIGKILL)
        t_kill = time.monotonic()
        at_kill = {n: bed.fleet.guest(n) for n in ("a", "b")}
        check(at_kill["a"]["requested_mib"] > at_kill["a"]["size_mib"],
              "a finished before the kill")
        bed.rammd = bed.start_rammd("rammd2")
        gs = bed.ready(["a", "b"])
        for n in ("a", "b"):
            f = bed.fleet.guest(n)
            check(gs[n]["requested_mib"] >= at_kill[n]["boot_mib"] + at_kill[n]["requested_mib"],
                  "%s: new rammd requested %d MiB, QEMU had %d MiB requested" % (
                      n, gs[n]["requested_mib"],
                      at_kill[n]["boot_mib"] + at_kill[n]["requested_mib"]))
            check(abs(gs[n]["size_mib"] - f["total_mib"]) <= 64,
                  "%s: new rammd size %d, device %d" % (n, gs[n]["size_mib"], f["total_mib"]))

        def no_shrink():
            for n in ("a", "b"):
                f = bed.fleet.guest(n)
                low = [v for v in sets_since(f, t_kill) if v < at_kill[n]["requested_mib"]]
                check(not low, "%s shrunk after the restart: requested %d -> %s" % (
                    n, at_kill[n]["requested_mib"], low))
        watch(bed, 4.0, no_shrink)
        wait_for("a's adopted resize complete", lambda: (
            lambda f: f["size_mib"] == f["requested_mib"])(bed.fleet.guest("a")), 20)
        wait_for("rammd sees a's final size", lambda: bed.rammd.guests()["a"]["size_mib"]
                 == bed.fleet.guest("a")["total_mib"], 5)


# ---- the control socket ------------------------------------------------------------

def _unread_requests(path, n, cmd="guests"):
    """@n connections to rammd's control socket that each send a request
    and never read the reply."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        s.sendall(json.dumps({"cmd": cmd}).encode() + b"\n")
        socks.append(s)
    return socks


def test_unread_replies_do_not_stall():
    """16 control clients that send 'guests' (a reply of hundreds of KB
    with 250 guests) and never read it: meanwhile another client is
    answered, ticks keep coming, and no honest guest's resize is judged
    short or costs it credit (the loop never waits on a client)."""
    n = 250
    names = ["g%03d" % i for i in range(n)]
    # Demand near the supply, raised on a few guests every half second
    # below, so that resizes are in flight while the clients hang. Only
    # raised: a working set that shrinks leaves a claim idle, which costs
    # credit by design.
    guests = {name: {"demand_mib": 400 + (i % 5) * 150, "size_mib": 128}
              for i, name in enumerate(names)}
    # Claims left idle for a moment as working sets move cost nothing
    # here, so credit lost is an unplug judged short or late.
    with Bed("unread", guests, supply_mib=n * 300, tick_ms=500,
             credit_fall_idle=0) as bed:
        def all_ready():
            gs = bed.rammd.guests()
            return len(gs) == n and all(g["device_ready"] and g["agent_connected"]
                                        for g in gs.values())
        wait_for("%d guests ready" % n, all_ready, 90, 1.0)
        code, out, _ = bed.rammd.rammctl("--json", "guests", timeout=30)
        check(code == 0 and len(out) > 100_000,
              "rammctl guests: exit %d, %d bytes (want a reply over 100 KB)" % (code, len(out)))
        print("reply: %d bytes" % len(out))
        before = bed.rammd.state()
        t0 = time.monotonic()
        window_s = 12.0
        stuck = []
        answered = []
        demand = {name: spec["demand_mib"] for name, spec in guests.items()}
        turn = 0
        try:
            # Opened again every 5.5 s, so that the pressure lasts the
            # whole window whatever rammd does with them.
            next_open = t0
            while time.monotonic() - t0 < window_s:
                if time.monotonic() >= next_open:
                    for s in stuck:
                        s.close()
                    stuck = _unread_requests(bed.rammd.sock, 16)
                    next_open += 5.5
                try:
                    code, _, took = bed.rammd.rammctl("--json", "bids", timeout=5)
                    check(code == 0, "rammctl bids exit %d" % code)
                    answered.append(took)
                except subprocess.TimeoutExpired:
                    answered.append(None)
                for _ in range(5):
                    name = names[turn * 37 % n]
                    turn += 1
                    demand[name] = min(demand[name] + 150, 1400)
                    bed.fleet.do(name, "set_demand", demand[name])
                time.sleep(0.5)
        finally:
            for s in stuck:
                s.close()
        elapsed = time.monotonic() - t0
        after = bed.rammd.state()
        took = [t for t in answered if t is not None]
        print("answers: %d of %d within 5 s, slowest %.2f s; ticks %d in %.1f s" % (
            len(took), len(answered), max(took, default=0),
            after["ticks"] - before["ticks"], elapsed))
        ticks = after["ticks"] - before["ticks"]
        check(ticks >= elapsed / 0.5 / 2,
              "%d ticks in %.1f s of 500 ms ticks" % (ticks, elapsed))
        b = {g["name"]: g for g in before["guests"]}
        t0_us = before["now_us"]
        moved = sum(1 for g in after["guests"] if g["last_resize"]["decided_us"] > t0_us)
        print("guests resized in the window: %d" % moved)
        check(moved >= 10, "only %d guests resized in the window" % moved)
        for g in after["guests"]:
            was = b[g["name"]]
            check(g["counters"]["resize_short"] == was["counters"]["resize_short"],
                  "%s: resize judged short: %s" % (g["name"], g["counters"]))
            check(g["credit"] >= was["credit"],
                  "%s: credit %.3f -> %.3f" % (g["name"], was["credit"], g["credit"]))
        check(None not in answered,
              "rammctl bids: %d of %d requests not answered within 5 s while 16 "
              "clients left their replies unread" % (answered.count(None), len(answered)))


# Counts rammd's getgrnam() calls in the file $RAMM_TEST_GETGRNAM_LOG.
GETGRNAM_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>

struct group *getgrnam(const char *name)
{
	struct group *(*real)(const char *) =
		(struct group *(*)(const char *))dlsym(RTLD_NEXT, "getgrnam");
	const char *path = getenv("RAMM_TEST_GETGRNAM_LOG");
	FILE *f = path ? fopen(path, "a") : NULL;

	if (f) {
		fprintf(f, "%s\n", name);
		fclose(f);
	}
	return real(name);
}
"""


def _build_shim(d, source):
    """Compile @source into @d/shim.so (for LD_PRELOAD) and return its
    path; Skip if there is no C compiler."""
    if not shutil.which("cc"):
        raise Skip("no C compiler for the LD_PRELOAD shim")
    src, shim = os.path.join(d, "shim.c"), os.path.join(d, "shim.so")
    with open(src, "w") as f:
        f.write(source)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", shim, src, "-ldl"], check=True)
    return shim


def test_admin_group_looked_up_at_start_and_reload():
    """The admin group is looked up at start and at a reload, never per
    request: a lookup can block on NSS (LDAP, sssd), and the loop with it.
    Requests come from an unprivileged user, whose requests need the
    group's gid."""
    need_binaries()
    d = short_tmpdir("grp")
    r = None
    try:
        shim, calls = _build_shim(d, GETGRNAM_SHIM), os.path.join(d, "calls")
        os.mkdir(os.path.join(d, "s"))
        r = Rammd(d, os.path.join(d, "s"), TEST_KEYS,
                  env={"LD_PRELOAD": shim, "RAMM_TEST_GETGRNAM_LOG": calls}).start()

        def lookups():
            with open(calls) as f:
                return f.read().split()
        at_start = lookups()
        check(at_start == ["ramm"], "lookups at start: %s" % at_start)
        # nobody reaches the socket; it may read, not change
        os.chmod(d, 0o711)
        os.chmod(r.sock, 0o666)

        def as_nobody():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
        for _ in range(10):
            p = subprocess.run([RAMMCTL, "--socket", r.sock, "--json", "guests"],
                               capture_output=True, text=True, timeout=10,
                               preexec_fn=as_nobody)
            check(p.returncode == 0, "rammctl guests as nobody: exit %d %s" % (
                p.returncode, p.stdout + p.stderr))
        p = subprocess.run([RAMMCTL, "--socket", r.sock, "drain", "nosuch"],
                           capture_output=True, text=True, timeout=10, preexec_fn=as_nobody)
        check(p.returncode == 4, "drain as nobody: exit %d, want 4" % p.returncode)
        check(lookups() == at_start, "11 requests from nobody: %d lookups since start" % (
            len(lookups()) - len(at_start)))
        r.proc.send_signal(signal.SIGHUP)
        wait_for("reload", lambda: "reload: " in r.log(), 5)
        check(lookups() == ["ramm", "ramm"], "lookups after a reload: %s" % lookups())
    finally:
        if r:
            r.stop()
        remove_tree(d)


# A slow disk: each fsync() of rammd sleeps $RAMM_TEST_FSYNC_MS first, and
# is logged ("begin"/"end") in $RAMM_TEST_FSYNC_LOG.
FSYNC_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void note(const char *what)
{
	const char *path = getenv("RAMM_TEST_FSYNC_LOG");
	FILE *f = path ? fopen(path, "a") : NULL;

	if (f) {
		fprintf(f, "%s\n", what);
		fclose(f);
	}
}

int fsync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	const char *ms = getenv("RAMM_TEST_FSYNC_MS");
	int ret;

	note("begin");
	if (ms)
		usleep((useconds_t)atoi(ms) * 1000);
	ret = real(fd);
	note("end");
	return ret;
}
"""


def test_slow_disk_does_not_stall():
    """Each fsync() takes 1.5 s (a save fsyncs the file and its
    directory): saves asked for every second (overrides) and every 10
    ticks go on while ticks keep coming and rammctl answers; never two
    saves at once; at exit the last override is in the state file."""
    need_binaries()
    d = short_tmpdir("disk")
    try:
        shim, fsyncs = _build_shim(d, FSYNC_SHIM), os.path.join(d, "fsyncs")
        env = {"LD_PRELOAD": shim, "RAMM_TEST_FSYNC_MS": "1500",
               "RAMM_TEST_FSYNC_LOG": fsyncs}
        with Bed("disk", {"a": {}, "b": {}}, env=env, supply_mib=1024) as bed:
            bed.ready(["a", "b"])
            before = bed.rammd.state()
            t0 = time.monotonic()
            weight = 100
            unanswered = 0
            while time.monotonic() - t0 < 10.0:
                weight += 1
                try:
                    code, out, _ = bed.rammd.rammctl("set", "a", "weight", str(weight),
                                                     timeout=5)
                    check(code == 0, "rammctl set: exit %d %s" % (code, out))
                except subprocess.TimeoutExpired:
                    unanswered += 1
                time.sleep(1.0)
            elapsed = time.monotonic() - t0
            ticks = bed.rammd.state()["ticks"] - before["ticks"]
            print("%d ticks in %.1f s; %d requests unanswered in 5 s" % (
                ticks, elapsed, unanswered))
            check(ticks >= elapsed / 0.5 / 2,
                  "%d ticks in %.1f s of 500 ms ticks" % (ticks, elapsed))
            check(unanswered == 0, "%d rammctl set not answered within 5 s" % unanswered)
            weight += 1
            code, out, _ = bed.rammd.rammctl("set", "a", "weight", str(weight), timeout=15)
            check(code == 0, "rammctl set: exit %d %s" % (code, out))
            # At exit rammd waits for the save in flight, then saves: up
            # to four slow fsyncs.
            bed.rammd.proc.terminate()
            bed.rammd.proc.wait(15)
            with open(os.path.join(bed.dir, "state")) as f:
                saved = f.read()
            check("overrides a weight=%d " % weight in saved,
                  "the last override (weight %d) is not in the state file:\n%s" % (
                      weight, saved))
        with open(fsyncs) as f:
            seq = f.read().split()
        print("%d fsyncs" % (len(seq) // 2))
        check(seq == ["begin", "end"] * (len(seq) // 2),
              "fsyncs overlap (two saves at once): %s" % seq)
    finally:
        remove_tree(d)
