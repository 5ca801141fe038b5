#!/usr/bin/env python3
"""rammd's cost against fleets of fake guests (fleet.py), no QEMU.

For each fleet size, rammd runs with the shipped config/rammd.conf, only
its paths changed (control socket, state file, scan_dir, metrics on a free
loopback port) and supply_mib set so that what the guests bid for above
the reserve price is about 1.5 x the supply. The fleet runs as its own
process. Once every guest is driven and the market has settled, one
window (default 60 s) is measured, and one line printed per size:

  fleet guests=N rss_kib=... cpu_pct=... tick_p50_us=... tick_p99_us=...
        ctl_guests_ms=... fleet_cpu_pct=... rss_anon_kib=... [managed=M]

  cpu_pct        rammd's utime+stime over the window's wall time (100 =
                 one core); fleet_cpu_pct the same for the fleet process
  rss_kib        rammd's VmRSS at the end of the window; rss_anon_kib its
                 RssAnon, the part that is rammd's own (the rest is the
                 shared libraries' pages: libvirt, GLib, json-c, libxml2)
  tick_p50/p99   from the state's "tick_us" (durations of the last ticks);
                 "na" when this rammd does not report it
  ctl_guests_ms  median wall time of `rammctl --json guests` (5 runs)
  managed=M      only when rammd manages fewer guests than the fleet has

  bench_fleet.py [--sizes 10,100,1000] [--window 60] [--churn-pct 1]

RAMMD and RAMMCTL (environment) name the binaries; by default build/rammd
and build/rammctl of this repository.
"""

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree

from fleet import plan_demands, raise_nofile, wanted_mib  # noqa: E402
from harness import (REPO, Rammd, Skip, need_binaries, remove_tree,  # noqa: E402
                     short_tmpdir, wait_for)

OVERCOMMIT = 1.5
CTL_RUNS = 5
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of @pid in seconds, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # after the command: state is field 3, utime 14 and stime 15
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_kib(pid, field):
    """@field ("VmRSS", "RssAnon") of /proc/PID/status, in KiB; 0 if absent."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def free_loopback_port():
    """A TCP port free on 127.0.0.1 right now (it may be taken later:
    rammd then runs on without metrics, which it logs)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def percentile(values, pct):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def stop_pid(proc):
    """SIGTERM @proc (a Popen we started), SIGKILL after 10 s; never raises."""
    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
    except OSError:
        pass


def start_fleet(work, scan, n, args):
    """The fleet as its own process; returns its Popen once every socket
    is bound. Raises AssertionError if it exits or takes over 120 s."""
    ready = os.path.join(work, "fleet.ready")
    log = open(os.path.join(work, "fleet.log"), "wb")
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "fleet.py"), "--dir", scan,
         "--guests", str(n), "--boot-mib", str(args.boot_mib), "--max-mib",
         str(args.max_mib), "--seed", str(args.seed), "--churn-pct",
         str(args.churn_pct), "--ready-file", ready],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    log.close()
    try:
        wait_for("fleet of %d ready" % n,
                 lambda: os.path.exists(ready) or proc.poll() is not None, 120, 0.2)
        if proc.poll() is not None:
            with open(os.path.join(work, "fleet.log")) as f:
                raise AssertionError("fleet exited:\n" + f.read()[-2000:])
    except BaseException:
        stop_pid(proc)
        raise
    return proc


def driven(state):
    """Guests rammd drives: device read, agent connected, bids in its unit."""
    return [g for g in state["guests"] if g["device_ready"] and g["agent_connected"]
            and g["bid_unit_bytes"] == g["unit_kib"] * 1024]


def wait_discovered(rammd, n, timeout):
    """Wait until rammd drives all @n guests, or as many as it will take
    (its count stopped growing for 6 s, three scans). Returns the count."""
    last, since = -1, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = rammd.state()
        listed, ok = len(st["guests"]), len(driven(st))
        if ok == n:
            return ok
        if listed != last:
            last, since = listed, time.monotonic()
        elif ok == listed and time.monotonic() - since > 6:
            return ok
        time.sleep(1)
    raise AssertionError("rammd drives %d of %d guests after %ds" % (ok, n, timeout))


def wait_settled(rammd, timeout):
    """Wait until at most 5 % of the guests are resizing (the first round
    of resizes is over), at most @timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gs = rammd.state()["guests"]
        if sum(g["resizing"] for g in gs) <= len(gs) * 0.05:
            return
        time.sleep(1)


def bench_one(n, args, base_config):
    """Measure one fleet size; returns the result line."""
    demands = plan_demands(n, args.boot_mib, args.max_mib, args.seed)
    supply = int(sum(wanted_mib(d, args.boot_mib, args.max_mib) for d in demands)
                 / OVERCOMMIT)
    work = short_tmpdir("b%d" % n)
    scan = os.path.join(work, "s")
    os.mkdir(scan)
    fleet = rammd = None
    try:
        fleet = start_fleet(work, scan, n, args)
        keys = {"supply_mib": max(supply, 2),
                "metrics_listen": "127.0.0.1:%d" % free_loopback_port()}
        rammd = Rammd(work, scan, keys, base_config=base_config,
                      nofile=4 * n + 256).start()
        managed = wait_discovered(rammd, n, 60 + n // 10)
        wait_settled(rammd, 60)
        time.sleep(args.settle)

        pid = rammd.proc.pid
        st0 = rammd.state()
        wall0, cpu0, fcpu0 = time.monotonic(), cpu_seconds(pid), cpu_seconds(fleet.pid)
        ctl = []
        for i in range(CTL_RUNS):
            # spread over the window: one run at each of its fifths
            time.sleep(max(0.0, wall0 + args.window * (i + 0.5) / CTL_RUNS - time.monotonic()))
            code, _, took = rammd.rammctl("--json", "guests", timeout=60)
            if code == 0:
                ctl.append(took * 1000)
        time.sleep(max(0.0, wall0 + args.window - time.monotonic()))
        wall1, cpu1, fcpu1 = time.monotonic(), cpu_seconds(pid), cpu_seconds(fleet.pid)
        st1 = rammd.state()
        rss = status_kib(pid, "VmRSS")
        rss_anon = status_kib(pid, "RssAnon")
    finally:
        if rammd:
            rammd.stop()
        if fleet:
            stop_pid(fleet)
        if not args.keep:
            remove_tree(work)

    wall = wall1 - wall0
    if "tick_us" in st1 and isinstance(st1["tick_us"], list) and st1["tick_us"]:
        count = min(st1["ticks"] - st0["ticks"], len(st1["tick_us"]), 256)
        ticks = st1["tick_us"][-count:] if count > 0 else []
        p50 = "%d" % percentile(ticks, 50) if ticks else "na"
        p99 = "%d" % percentile(ticks, 99) if ticks else "na"
    else:
        p50 = p99 = "na"
    line = ("fleet guests=%d rss_kib=%d cpu_pct=%.2f tick_p50_us=%s tick_p99_us=%s "
            "ctl_guests_ms=%s fleet_cpu_pct=%.1f rss_anon_kib=%d" % (
                n, rss, 100.0 * (cpu1 - cpu0) / wall, p50, p99,
                "%.1f" % statistics.median(ctl) if ctl else "na",
                100.0 * (fcpu1 - fcpu0) / wall, rss_anon))
    if managed < n:
        line += " managed=%d" % managed
    return line


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10,100,1000",
                    help="comma-separated fleet sizes (default 10,100,1000)")
    ap.add_argument("--window", type=float, default=60.0,
                    help="seconds measured at steady state (default 60)")
    ap.add_argument("--settle", type=float, default=5.0,
                    help="seconds waited after the first resizes (default 5)")
    ap.add_argument("--churn-pct", type=float, default=1.0,
                    help="%% of guests per second taking a new working set")
    ap.add_argument("--boot-mib", type=int, default=512)
    ap.add_argument("--max-mib", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the temp dirs (logs)")
    args = ap.parse_args(argv)
    try:
        need_binaries()
    except Skip as why:
        print("SKIP bench_fleet: %s" % why)
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if raise_nofile() < 4 * max(sizes) + 256:
        print("SKIP bench_fleet: RLIMIT_NOFILE hard limit below %d" % (4 * max(sizes) + 256))
        return 0
    with open(os.path.join(REPO, "config", "rammd.conf")) as f:
        base_config = f.read()
    for n in sizes:
        print(bench_one(n, args, base_config), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
