#!/usr/bin/env python3
"""make soak: three kernel-mode guests under shifting demand and faults.

Three guests boot with ramm_guest.ko and virtio-mem (nothing plugged), and
rammd runs on config/rammd.conf's shipped defaults except supply_mib, set
SHORT_BY (1.5) times short of the peak demand the schedule creates. A
schedule drawn from SOAK_SEED (default DEFAULT_SEED, printed) runs for
SOAK_MINUTES (default 10, fractions allowed):

  - each guest's workload changes at random: polite steady use of ramm-hog
    at a random size, a greedy growth burst (--greedy: into reclaim), a
    return to idle (the hog frees), an exit (the hog quits), and "grow
    while unplugged": a polite hog holds memory for a while and quits, and
    a new one starts as soon as rammd logs the shrink that follows, while
    virtio-mem is unplugging;
  - faults at random times, at least 25 s apart (less in short runs):
    rammd SIGKILL and restart on the same state file, ramm-agent SIGKILL
    and restart in a guest, and a guest's QEMU SIGKILL followed by
    booting that guest again (one of each per 4 minutes, at least one).

What it watches: every guest's virtio-mem device over the lab QMP socket
(every 0.25 s), `rammctl --json guests` (every 0.5 s), the guests' serial
consoles (the OOM killer's lines), rammd's log and ramm-hog's "short" /
"granted" lines (tests/lab/ramm-hog.c). What it reports:

  - OOM kills, each with what rammd was doing to that guest: shrinking,
    or when its last shrink ended, the device's size, the guest's bid
    (a guest whose QEMU the soak killed has no OOM kill: only the OOM
    killer's console lines count);
  - floor violations: a guest below its floor on the device, or in rammd's
    books, FLOOR_GRACE_S after the guest answered (at boot, or booted
    again) and rammd started;
  - moments over supply: the memory plugged above the floors, summed,
    above supply_mib. Each moment is a lower bound (see oversupply()),
    so sampling never makes one up; a guest whose QEMU the soak killed
    counts what rammd's books say it holds;
  - false completions: rammd logged a resize done (or stopped short), and
    the device later read lower with no new request;
  - the grant latency of each workload (median, p90, max): from the moment
    the guest is short for its hog to the moment it has room again, in the
    guest's own clock;
  - the guest kernels' WARNING, BUG and Oops reports, from dmesg.

Verdict: FAIL on an OOM kill in a guest rammd was shrinking or had shrunk
in the last SHRINK_WINDOW_S (10) seconds (a shrink stopped before the
device gave anything took nothing, and one the market gave back in full
before the kill left the guest no smaller: neither counts; nor do the
window's shrinks when the killed hog, with all the memory they left
missing back, would still have fallen short of the size it asked for:
anon-rss at the kill plus the most the device held in the window less
what it held at the kill, below the workload's size), a floor violation,
a moment over supply, or rammd or a guest dying on its own. Other OOM kills (a greedy
burst the market does not serve, or one while the soak has rammd down:
from its SIGKILL to RESTART_GRACE_S (2 s: a report and a plug) after its
restart, nothing can grow a guest), false completions and kernel warnings
are reported. The run prints a summary and a final "soak: PASS|FAIL" line,
writes build/soak-report.json and copies the logs, and rammd's record of
every round (rammd --record), to build/soak-logs/. The floor
is boot memory with the shipped defaults (min_floor_mib 0);
SOAK_FLOOR_MIB=N gives every guest a [guest] floor_mib N MiB above it.
Every QEMU and rammd is stopped by PID at the end, also on Ctrl-C.
"""

import bisect
import json
import os
import random
import re
import shutil
import signal
import sys
import threading
import time

from common import BUILD, MIB, Broker, lab, vmem_config

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import runner  # noqa: E402

NAMES = ("a", "b", "c")
BOOT_MIB = 256
VMEM_MAX_MIB = 1024
DEFAULT_SEED = 1212
SHORT_BY = 1.5              # peak demand / supply
SHRINK_WINDOW_S = 10        # an OOM this soon after a shrink is rammd's
RESTART_GRACE_S = 2         # a restarted rammd's first report and plug
FLOOR_GRACE_S = 15          # a guest (re)booted, or rammd started, this long ago
QMP_POLL_S = 0.25
CTL_POLL_S = 0.5
UNPLUG_WAIT_S = 20          # "grow while unplugged": how long to wait for the shrink
GREEDY_STEP_MIB = 8         # a greedy burst grows 80 MiB/s (16 MiB steps OOM at once)

REQUESTS = ("grow", "shrink", "stop", "follow")
LOG_RE = re.compile(r"^rammd\[(\d+\.\d+)\] \w+: guest (\S+): (.*)$")
DECISION_RE = re.compile(r"^(grow|shrink) \d+ -> \d+ units of \d+ MiB \((\d+) MiB total\)")
RESIZED_RE = re.compile(r"^resized (\d+) -> (\d+) MiB in")
STOPPED_RE = re.compile(r"^resize (\d+) -> (\d+) MiB stopped at (\d+) MiB")
FOLLOW_RE = re.compile(r"^device moving (\d+) -> (\d+) MiB")
STOP_RE = re.compile(r"^shrink stopped at \d+ units of \d+ MiB \((\d+) MiB total\)")
FELL_RE = re.compile(r"^device fell from (\d+) to (\d+) MiB")
OOM_RE = re.compile(r"Out of memory: Killed process (\d+) \(([^)]*)\)|oom-kill:.*task=([^,]*),pid=(\d+)")
HOG_RE = re.compile(r"^ramm-hog: t=([\d.]+) (short|granted|cancelled)(?: after_ms=(\d+))?")


def now():
    return time.monotonic()


# --- the seeded schedule ----------------------------------------------------

def make_plan(rng, seconds):
    """Each guest's workloads and the faults, in seconds from the start.
    Returns (phases by guest, faults, planned peak demand in MiB)."""
    phases = {}
    for name in NAMES:
        t, plan = rng.uniform(2, 8), []
        while t < seconds - 5:
            kind = rng.choices(("polite", "greedy", "idle", "exit", "regrow"),
                               (35, 20, 15, 15, 15))[0]
            if kind == "polite":
                ph = dict(kind=kind, mib=rng.randrange(64, 641, 16), dur=rng.uniform(10, 30))
            elif kind == "greedy":
                ph = dict(kind=kind, mib=rng.randrange(96, 449, 16), dur=rng.uniform(6, 15))
            elif kind == "regrow":
                # A polite hog holds mib for hold s, exits, and a hog of
                # regrow_mib starts as rammd begins to unplug.
                ph = dict(kind=kind, mib=rng.randrange(128, 513, 16), hold=rng.uniform(6, 12),
                          regrow_mib=rng.randrange(128, 513, 16), greedy=rng.random() < 0.4)
                ph["dur"] = ph["hold"] + rng.uniform(10, 20)
            else:
                ph = dict(kind=kind, mib=0, dur=rng.uniform(5, 15))
            ph["t"] = t
            plan.append(ph)
            t += ph["dur"]
        phases[name] = plan
    # Demand at every phase start, each guest's running phase counted.
    peak = 0
    for name in NAMES:
        for ph in phases[name]:
            total = 0
            for other in NAMES:
                running = [p for p in phases[other] if p["t"] <= ph["t"] < p["t"] + p["dur"]]
                total += max(running[0]["mib"], running[0].get("regrow_mib", 0)) if running else 0
            peak = max(peak, total)
    n_each = max(1, int(seconds / 240 + 0.5))
    kinds = ["rammd", "agent", "qemu"] * n_each
    rng.shuffle(kinds)
    lo, hi = 20.0, max(30.0, seconds - 25)
    gap = min(25.0, (hi - lo) / (len(kinds) + 1))
    times = []
    while len(times) < len(kinds):
        t = rng.uniform(lo, hi)
        if all(abs(t - u) >= gap for u in times):
            times.append(t)
    times.sort()
    faults = [dict(t=t, kind=k, guest=rng.choice(NAMES), down_s=rng.uniform(1, 6))
              for t, k in zip(times, kinds)]
    return phases, faults, peak


# --- the run ----------------------------------------------------------------

class Soak:
    """The shared state of one run: the guests, rammd, and every observation."""

    def __init__(self, the_lab, config, floor_extra):
        self.lab = the_lab
        self.config = config
        self.floor_extra = floor_extra
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.guests = {}          # name -> lab.Guest (the current QEMU)
        self.gen = {n: 0 for n in NAMES}        # QEMU incarnation
        self.down = {n: False for n in NAMES}   # QEMU killed by the soak
        self.broker = None
        self.broker_since = None  # rammd up since (None: down)
        self.outages = []         # (SIGKILL, restarted): rammd down by the soak
        self.actions = []         # (t, what): everything the soak did
        self.rounds = []          # (t_start, t_end, {name: (gen, plugged, requested)})
        self.polls = []           # (t, {name: compact rammctl view})
        self.ooms = []            # (t, name, gen, pid, task, line)
        self.want_dmesg = {n: [] for n in NAMES}  # OOM kills whose report to fetch
        self.oom_reports = {}     # (name, gen, pid) -> the kernel's OOM report lines
        self.kernel_warnings = {}  # (name, gen) -> WARNING/BUG lines from dmesg
        self.hog_lines = []       # (name, workload, line)
        self.crashes = []         # (t, what, context lines)
        self.harness_errors = []
        self._console_off = {n: 0 for n in NAMES}
        self._seen_oom = set()

    def act(self, what):
        t = now()
        with self.lock:
            self.actions.append((t, what))
        print("soak: %7.1f s  %s" % (t - self.t0, what), flush=True)

    def floor_mib(self):
        return BOOT_MIB + self.floor_extra

    # --- rammd ------------------------------------------------------------
    def start_broker(self):
        # Every round's planner input and actions, appended across
        # restarts, to replay a failure (ramm-sim --replay).
        b = Broker(self.lab, self.config,
                   extra_args=("--record", os.path.join(self.lab.dir, "rammd.rec")))
        with self.lock:
            self.broker, self.broker_since = b, now()
        return b

    def kill_broker(self, down_s):
        b = self.broker
        with self.lock:
            self.broker_since = None
        t_kill = now()
        os.kill(b.proc.pid, signal.SIGKILL)
        b.proc.wait(10)
        self.lab.stop(b.proc)
        self.act("rammd SIGKILL (pid %d); restart in %.1f s" % (b.proc.pid, down_s))
        time.sleep(down_s)
        self.start_broker()
        with self.lock:
            self.outages.append((t_kill, now()))
        self.act("rammd restarted (pid %d), same state file" % self.broker.proc.pid)

    def check_broker(self):
        """rammd gone without the soak killing it: a failure; start it again."""
        b = self.broker
        if self.broker_since is not None and not b.alive():
            with self.lock:
                self.broker_since = None
            self.crashes.append((now(), "rammd exited by itself (status %s)" % b.proc.returncode,
                                 b.log().splitlines()[-15:]))
            self.lab.stop(b.proc)
            self.act("rammd exited by itself (status %s); starting it again" % b.proc.returncode)
            self.start_broker()

    # --- guests -----------------------------------------------------------
    def boot(self, name):
        if self.stopping.is_set():
            raise RuntimeError("the soak is stopping: %s not booted" % name)
        g = self.lab.boot(name, boot_mib=BOOT_MIB, vmem_mib=0, vmem_max_mib=VMEM_MAX_MIB,
                          kmod=True)
        return g

    def console(self, name):
        """Read what the console has grown by; note OOM kills as seen now."""
        g = self.guests[name]
        try:
            with open(g.console_path, "rb") as f:
                f.seek(self._console_off[name])
                data = f.read()
        except OSError:
            return
        end = data.rfind(b"\n") + 1
        self._console_off[name] += end
        for line in data[:end].decode(errors="replace").splitlines():
            m = OOM_RE.search(line)
            if not m:
                continue
            pid = m.group(1) or m.group(4)
            key = (name, self.gen[name], pid)
            if key in self._seen_oom:
                continue
            self._seen_oom.add(key)
            self.ooms.append((now(), name, self.gen[name], int(pid), m.group(2) or m.group(3),
                              line.strip()))
            self.want_dmesg[name].append(key)
            print("soak: %7.1f s  %s: OOM kill: %s" % (now() - self.t0, name, line.strip()),
                  flush=True)

    def kill_qemu(self, driver, down_s):
        """SIGKILL the guest's QEMU (unless it is already gone), keep its
        console, and boot it again after @down_s."""
        name = driver.name
        g = self.guests[name]
        if g.proc.poll() is None:
            driver.collect_hog_log()
            driver.fetch_oom_reports()
            driver.fetch_kernel_warnings()
        with self.lock:
            self.down[name] = True
        if g.proc.poll() is None:
            os.kill(g.proc.pid, signal.SIGKILL)
            g.proc.wait(10)
            self.act("%s: QEMU SIGKILL (pid %d); boot again in %.1f s" %
                     (name, g.proc.pid, down_s))
        self.lab.stop(g.proc)
        with self.lock:
            self.console(name)
            os.rename(g.console_path, "%s.%d" % (g.console_path, self.gen[name]))
            self._console_off[name] = 0
        time.sleep(down_s)
        g = self.boot(name)
        with self.lock:
            self.guests[name] = g
            self.gen[name] += 1
            self.down[name] = False
        g.wait_ready(120)
        self.act("%s: booted again (QEMU pid %d)" % (name, g.proc.pid))


class Observer(threading.Thread):
    """Samples the devices, rammctl and the consoles until the soak stops."""

    def __init__(self, soak):
        super().__init__(daemon=True)
        self.soak = soak
        self.qmp = {}             # name -> (gen, lab.Qmp)

    def read_device(self, name):
        s = self.soak
        gen = s.gen[name]
        conn = self.qmp.get(name)
        try:
            if conn is None or conn[0] != gen:
                if conn:
                    conn[1].close()
                conn = (gen, lab.Qmp(s.guests[name].labqmp_path, timeout=5))
                self.qmp[name] = conn
            for dev in conn[1].execute("query-memory-devices"):
                if dev["type"] == "virtio-mem":
                    d = dev["data"]
                    return (gen, d["size"] // MIB, d["requested-size"] // MIB)
        except (OSError, ConnectionError, RuntimeError, ValueError):
            if conn:
                conn[1].close()
            self.qmp.pop(name, None)
        return None

    def poll_rammctl(self):
        s = self.soak
        if s.broker_since is None:
            return
        try:
            st = s.broker.state()
        except Exception:  # noqa: BLE001 - rammd between a kill and a restart
            return
        view = {g["name"]: dict(size=g["size_mib"], floor=g["floor_mib"], target=g["target_mib"],
                                state=g["state"], resizing=g["resizing"], bid=g["bid"][:4],
                                price=g["price"], avail=g["mem_available_mib"],
                                last_resize=g["last_resize"])
                for g in st["guests"]}
        with s.lock:
            s.polls.append((now(), view))

    def run(self):
        s = self.soak
        next_ctl = 0.0
        while not s.stopping.is_set():
            t0 = now()
            sizes = {}
            for name in NAMES:
                if not s.down[name]:
                    r = self.read_device(name)
                    if r:
                        sizes[name] = r
            with s.lock:
                # A guest the soak took down is marked with None.
                sizes.update({n: None for n in NAMES if s.down[n]})
                s.rounds.append((t0, now(), sizes))
                for name in NAMES:
                    if not s.down[name]:
                        s.console(name)
            if t0 >= next_ctl:
                next_ctl = t0 + CTL_POLL_S
                self.poll_rammctl()
            time.sleep(max(0.0, QMP_POLL_S - (now() - t0)))
        for _, conn in self.qmp.values():
            conn.close()


class Driver(threading.Thread):
    """One guest's workloads and faults, in the order the plan gives them."""

    def __init__(self, soak, name, phases, faults):
        super().__init__(daemon=True)
        self.soak = soak
        self.name = name
        self.events = sorted([("phase", p["t"], p) for p in phases] +
                             [("fault", f["t"], f) for f in faults], key=lambda e: e[1])
        self.n = 0                # workloads started
        self.hog = None           # current workload: dict(id, kind, mib, ctl, greedy)

    @property
    def guest(self):
        return self.soak.guests[self.name]

    def sleep_until(self, t):
        while not self.soak.stopping.is_set() and now() < t:
            self.check_crash()
            self.fetch_oom_reports()
            time.sleep(min(0.2, max(0.0, t - now())))

    def fetch_oom_reports(self):
        """The kernel's own report of each new OOM kill (from `invoked
        oom-killer` to the kill: the tasks and their RSS), from dmesg; the
        console shows only the kill at the lab's loglevel."""
        s = self.soak
        with s.lock:
            keys, s.want_dmesg[self.name] = s.want_dmesg[self.name], []
        if not keys:
            return
        _, out = self.guest.run("dmesg", check=False)
        lines = out.splitlines()
        for key in keys:
            pid = key[2]
            end = max([i for i, l in enumerate(lines)
                       if "Killed process %s " % pid in l or "pid=%s," % pid in l] or [-1])
            start = max([i for i, l in enumerate(lines[:end + 1])
                         if "invoked oom-killer" in l] or [end])
            if end >= 0:
                with s.lock:
                    s.oom_reports[key] = lines[start:end + 1][:80]

    def fetch_kernel_warnings(self):
        """The guest kernel's WARNING, BUG and Oops reports (the lab's
        console loglevel hides warnings), each with the lines that name
        where it happened; kept per QEMU incarnation."""
        _, out = self.guest.run("dmesg", check=False)
        lines = out.splitlines()
        found = []
        for i, line in enumerate(lines):
            if re.search(r"WARNING:|BUG:|Oops", line):
                found += [line] + [l for l in lines[i + 1:i + 12] if "RIP:" in l or
                                   "Modules linked" in l or "Comm:" in l][:3]
        if found:
            with self.soak.lock:
                self.soak.kernel_warnings[(self.name, self.soak.gen[self.name])] = found

    def check_crash(self):
        s = self.soak
        g = self.guest
        if s.down[self.name] or g.proc.poll() is None:
            return
        with s.lock:
            s.console(self.name)
        _, tail = read_tail(g.console_path, 20)
        s.crashes.append((now(), "%s: QEMU exited by itself (status %s)" %
                          (self.name, g.proc.returncode), tail))
        s.act("%s: QEMU exited by itself (status %s); booting it again" %
              (self.name, g.proc.returncode))
        self.hog = None
        s.kill_qemu(self, 0)      # the same path: keep the console, boot

    # --- workloads ----------------------------------------------------------
    def hog_alive(self):
        """Whether the current hog runs (its pid file goes as it quits,
        and stays with a dead pid after an OOM kill)."""
        return self.hog is not None and self.guest.run(
            "kill -0 $(cat %s.pid 2>/dev/null) 2>/dev/null" % self.hog["ctl"],
            check=False)[0] == 0

    def start_hog(self, kind, mib, greedy):
        self.n += 1
        ctl = "/run/hog%d.ctl" % self.n
        opts = "--greedy --step-mib %d" % GREEDY_STEP_MIB if greedy else ""
        self.guest.run("ramm-hog run --ctl %s %s --target %d >/run/hog%d.log 2>&1 &" %
                       (ctl, opts, mib, self.n))
        self.hog = dict(id=self.n, kind=kind, mib=mib, ctl=ctl, greedy=greedy)
        self.soak.act("%s: %s workload %d MiB (hog %d)" % (self.name, kind, mib, self.n))

    def quit_hog(self):
        """Make the current hog exit, and be sure it is gone before the next
        one starts: two at once would be the soak's own OOM kill. It writes
        its last line as it exits; one stuck in reclaim for 5 s is killed."""
        if self.hog is None:
            return
        self.guest.run("ramm-hog quit --ctl %s 2>/dev/null; true" % self.hog["ctl"], check=False)
        for _ in range(50):
            if not self.hog_alive():
                break
            time.sleep(0.1)
        else:
            self.guest.run("kill -9 $(cat %s.pid)" % self.hog["ctl"], check=False)
            self.soak.act("%s: hog %d did not quit in 5 s: killed" % (self.name, self.hog["id"]))
        self.collect_hog_log()
        self.hog = None

    def collect_hog_log(self):
        """Keep the current hog's lines (once: its log is read at its end)."""
        if self.hog is None or self.hog.get("collected"):
            return
        rc, out = self.guest.run("cat /run/hog%d.log" % self.hog["id"], check=False)
        if rc == 0:
            with self.soak.lock:
                for line in out.splitlines():
                    if line.startswith("ramm-hog: t="):
                        self.soak.hog_lines.append((self.name, dict(self.hog), line))
        self.hog["collected"] = True

    def wait_for_shrink(self, log_off):
        """Until rammd logs a shrink of this guest after @log_off; True if
        it did within UNPLUG_WAIT_S."""
        s = self.soak
        deadline = now() + UNPLUG_WAIT_S
        mark = "guest %s: shrink " % self.name
        while now() < deadline and not s.stopping.is_set():
            with open(s.broker.log_path, errors="replace") as f:
                f.seek(log_off)
                if mark in f.read():
                    return True
            time.sleep(0.02)
        return False

    def phase(self, ph):
        kind = ph["kind"]
        if kind == "polite" and self.hog and not self.hog["greedy"] and self.hog_alive():
            self.guest.run("ramm-hog set %d --ctl %s" % (ph["mib"], self.hog["ctl"]))
            self.hog["mib"] = ph["mib"]
            self.soak.act("%s: polite workload now %d MiB (hog %d)" %
                          (self.name, ph["mib"], self.hog["id"]))
            return
        if kind == "idle" and self.hog and not self.hog["greedy"] and self.hog_alive():
            self.guest.run("ramm-hog free --ctl %s" % self.hog["ctl"], check=False)
            self.soak.act("%s: idle (hog %d frees)" % (self.name, self.hog["id"]))
            return
        self.quit_hog()
        if kind in ("idle", "exit"):
            self.soak.act("%s: %s" % (self.name, "workload exits" if kind == "exit" else "idle"))
        elif kind in ("polite", "greedy"):
            self.start_hog(kind, ph["mib"], kind == "greedy")
        else:
            self.start_hog("polite", ph["mib"], False)
            self.sleep_until(now() + ph["hold"])
            log_off = os.path.getsize(self.soak.broker.log_path)
            self.quit_hog()
            self.soak.act("%s: workload exits; a new one starts at rammd's next shrink" % self.name)
            seen = self.wait_for_shrink(log_off)
            if self.soak.stopping.is_set():
                return
            label = ("greedy" if ph["greedy"] else "polite") + ("-in-unplug" if seen else "")
            if not seen:
                self.soak.act("%s: no shrink logged within %d s of the exit" %
                              (self.name, UNPLUG_WAIT_S))
            self.start_hog(label, ph["regrow_mib"], ph["greedy"])
            if seen:
                try:
                    inflight = self.soak.broker.guest(self.name)["resizing"]
                except Exception:  # noqa: BLE001 - rammd may be down
                    inflight = "unknown"
                self.soak.act("%s: hog %d started as rammd unplugs; unplug still in flight: %s" %
                              (self.name, self.n, inflight))

    def run(self):
        s = self.soak
        for i, (what, t, ev) in enumerate(self.events):
            self.sleep_until(s.t0 + t)
            if s.stopping.is_set():
                break
            # Behind the plan (a reboot, a slow guest): only the last phase
            # that is due runs.
            if what == "phase" and any(w == "phase" and u <= now() - s.t0
                                       for w, u, _ in self.events[i + 1:]):
                continue
            try:
                if what == "phase":
                    self.phase(ev)
                elif ev["kind"] == "agent":
                    self.guest.run("kill -9 $(cat /run/ramm-agent.pid)")
                    s.act("%s: ramm-agent SIGKILL; restart in %.1f s" % (self.name, ev["down_s"]))
                    time.sleep(ev["down_s"])
                    self.guest.run("ramm-agent --pidfile /run/ramm-agent.pid "
                                   ">>/run/ramm-agent.log 2>&1 &")
                    s.act("%s: ramm-agent restarted" % self.name)
                elif ev["kind"] == "qemu":
                    s.kill_qemu(self, ev["down_s"])
                    self.hog = None
            except Exception as e:  # noqa: BLE001 - a guest under pressure may not answer
                s.harness_errors.append("%s: %s: %r" % (self.name, what, e))
                s.act("%s: %s failed: %r" % (self.name, what, e))
        try:
            if not s.down[self.name]:
                self.collect_hog_log()
                self.fetch_oom_reports()
                self.fetch_kernel_warnings()
        except Exception as e:  # noqa: BLE001
            s.harness_errors.append("%s: final hog log: %r" % (self.name, e))


def read_tail(path, n):
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return 0, []
    return len(lines), lines[-n:]


# --- analysis ---------------------------------------------------------------

def parse_rammd_log(text):
    """rammd's per-guest lines: (t, guest, kind, MiB, line); kind is a
    request (grow, shrink, stop: a shrink stopped and the request set back
    up, follow: a resize found on the device), done (resized), stopped (a
    resize that ended short) or fell (rammd saw the device fall below its
    request)."""
    out = []
    for line in text.splitlines():
        m = LOG_RE.match(line)
        if not m:
            continue
        t, name, rest = float(m.group(1)), m.group(2), m.group(3)
        d = DECISION_RE.match(rest)
        if d:
            out.append((t, name, d.group(1), int(d.group(2)), line))
        elif RESIZED_RE.match(rest):
            r = RESIZED_RE.match(rest)
            out.append((t, name, "done", int(r.group(2)), line))
        elif STOPPED_RE.match(rest):
            out.append((t, name, "stopped", int(STOPPED_RE.match(rest).group(3)), line))
        elif FOLLOW_RE.match(rest):
            out.append((t, name, "follow", int(FOLLOW_RE.match(rest).group(2)), line))
        elif STOP_RE.match(rest):
            out.append((t, name, "stop", int(STOP_RE.match(rest).group(1)), line))
        elif FELL_RE.match(rest):
            out.append((t, name, "fell", int(FELL_RE.match(rest).group(2)), line))
    return out


def oversupply(soak, supply):
    """Moments when the memory plugged above the floors exceeded @supply.

    Two consecutive rounds of device reads bracket an instant T (every read
    of the first before it, every read of the second after it). A resize
    moves one way in 0.25 s, so each guest held at least the smaller of its
    two readings at T, and their sum is a lower bound of what was plugged
    at T: sampling skew cannot make up a moment. A guest the soak killed
    counts what rammd's books say it holds in the polls on both sides of
    T, the smaller: nothing once rammd calls it gone (a poll from before
    T alone may predate that, and count memory rammd had already given
    to others). Returns the moments and the highest bound seen."""
    floor = soak.floor_mib()
    moments, cur, highest = [], None, 0
    poll_times = [p[0] for p in soak.polls]

    def booked(name, t0, t1):
        """What rammd's books held for @name all through [t0, t1]."""
        i = bisect.bisect_right(poll_times, t0) - 1
        j = bisect.bisect_left(poll_times, t1)
        if i < 0 or j >= len(soak.polls):
            return None
        sizes = []
        for _, books in (soak.polls[i], soak.polls[j]):
            if name not in books:
                return None
            held = books[name]["state"] not in ("gone", "new")
            sizes.append(books[name]["size"] - BOOT_MIB if held else 0)
        return min(sizes)

    for (t0, _, r1), (_, t1, r2) in zip(soak.rounds, soak.rounds[1:]):
        total, parts, ok = 0, {}, True
        for name in NAMES:
            a, b = r1.get(name), r2.get(name)
            key = name
            if a and b and a[0] == b[0]:
                plugged = min(a[1], b[1])
            elif a or b:
                plugged = (a or b)[1]
            elif name in r1 and name in r2 and booked(name, t0, t1) is not None:
                # Down (killed by the soak) in both rounds: rammd's books,
                # where a guest whose QEMU it knows is gone holds nothing.
                plugged = booked(name, t0, t1)
                key = name + "(books)"
            else:
                ok = False        # not read, though up: no bound
                break
            parts[key] = plugged
            total += max(0, BOOT_MIB + plugged - floor)
        if not ok:
            continue
        highest = max(highest, total)
        if total > supply:
            if cur is None:
                cur = dict(start=t0, end=t1, peak=total, at_peak=parts)
                moments.append(cur)
            cur["end"] = t1
            if total > cur["peak"]:
                cur["peak"], cur["at_peak"] = total, parts
        else:
            cur = None
    return moments, highest


def floor_violations(soak):
    """A guest below its floor, on the device or in rammd's books, once its
    guest has answered (booted, or booted again) and rammd has run for
    FLOOR_GRACE_S. One entry per episode."""
    floor = soak.floor_mib()
    # Each guest's QEMU going down (None) and its guest answering again.
    ups = {n: [] for n in NAMES}
    for t, what in soak.actions:
        for n in NAMES:
            if what.startswith(n + ": booted again"):
                ups[n].append((t, t))
            elif what.startswith(n + ": QEMU"):
                ups[n].append((t, None))
    starts = [t for t, w in soak.actions if w.startswith("rammd restarted") or
              w.startswith("rammd started") or "starting it again" in w]

    def settled(name, t):
        last = [up for tu, up in ups[name] if tu <= t]
        up = soak.t0 if not last else last[-1]
        rammd_up = max([s for s in starts if s <= t] or [soak.t0])
        return up is not None and t >= max(up, rammd_up) + FLOOR_GRACE_S

    out, open_ = [], {}
    for t0, _, sizes in soak.rounds:
        for name, r in sizes.items():
            if r is None:
                continue
            gen, plugged, _ = r
            key = ("device", name)
            if BOOT_MIB + plugged < floor and settled(name, t0):
                if key not in open_:
                    open_[key] = dict(where="device", guest=name, start=t0, end=t0,
                                      low=BOOT_MIB + plugged, floor=floor)
                    out.append(open_[key])
                v = open_[key]
                v["end"], v["low"] = t0, min(v["low"], BOOT_MIB + plugged)
            else:
                open_.pop(key, None)
    for t, view in soak.polls:
        for name in NAMES:
            g = view.get(name)
            key = ("books", name)
            if g and g["state"] in ("ready", "resizing") and g["size"] < g["floor"] and \
                    settled(name, t):
                if key not in open_:
                    open_[key] = dict(where="books", guest=name, start=t, end=t,
                                      low=g["size"], floor=g["floor"])
                    out.append(open_[key])
                v = open_[key]
                v["end"], v["low"] = t, min(v["low"], g["size"])
            else:
                open_.pop(key, None)
    return out


def false_completions(soak, log_entries):
    """rammd logged a resize done (or stopped) at S MiB, and the device later
    read below S before any new request for that guest."""
    out = []
    kills = {n: [t for t, w in soak.actions if w.startswith(n + ": QEMU")] for n in NAMES}
    starts = [r[0] for r in soak.rounds]
    for i, (t, name, kind, size, line) in enumerate(log_entries):
        if kind not in ("done", "stopped"):
            continue
        t_next = min([e[0] for e in log_entries[i + 1:]
                      if e[1] == name and e[2] in REQUESTS] +
                     [k for k in kills[name] if k > t] + [float("inf")])
        gen = None
        for t0, t1, sizes in soak.rounds[max(0, bisect.bisect_left(starts, t) - 1):]:
            if t1 < t or not sizes.get(name):
                continue
            if gen is None:
                gen = sizes[name][0]
            if t0 <= t or t1 >= t_next or sizes[name][0] != gen:
                if t0 >= t_next:
                    break
                continue
            total = BOOT_MIB + sizes[name][1]
            if total < size:
                asked = [e[4] for e in log_entries[:i] if e[1] == name and
                         e[2] in REQUESTS]
                noticed = [e[4] for e in log_entries[i + 1:] if e[1] == name and
                           e[2] == "fell" and e[0] < t_next]
                out.append(dict(guest=name, kind=("short unplug went on" if kind == "stopped"
                                                  else "false completion"),
                                asked=asked[-1] if asked else None,
                                noticed=noticed[0] if noticed else None,
                                logged=line, at=t, read_after_s=round(t0 - t, 2),
                                read_mib=total, requested_mib=BOOT_MIB + sizes[name][2]))
                break
    return out


def device_gave(soak, name, gen, t_decided, t_end):
    """Whether @name's device (boot @gen) fell below its size at @t_decided
    between then and half a second after @t_end; True with no read from
    before @t_decided (unknown counts against rammd)."""
    reads = device_reads(soak, name, gen, t_decided - 1.0, t_end + 0.5)
    before = [v for t0, v, _ in reads if t0 <= t_decided]
    return not before or any(v < before[-1] for t0, v, _ in reads if t0 > t_decided)


def device_reads(soak, name, gen, t0, t1):
    """@name's device reads (plugged, requested), boot @gen, in rounds that
    started in [@t0, @t1]."""
    return [(tr, r[name][1], r[name][2]) for tr, _, r in soak.rounds
            if r.get(name) and r[name][0] == gen and t0 <= tr <= t1]


def given_back(soak, name, gen, t_decided, t_kill):
    """Whether @name's device, at its last read before @t_kill, held at
    least what it held when a shrink was decided at @t_decided: the
    market gave back all that shrink took, and the kill came of what the
    guest wanted beyond it. False with no read from either side."""
    before = device_reads(soak, name, gen, t_decided - 1.0, t_decided)
    after = device_reads(soak, name, gen, t_decided, t_kill)
    return bool(before and after) and after[-1][1] >= before[-1][1]


def beyond_the_window(soak, name, gen, t, ctx):
    """Whether the workload OOM-killed at @t asked for more than @name
    could have held with every shrink of the window undone: its hog was
    killed at anon-rss R MiB, the device held M MiB more at most in the
    SHRINK_WINDOW_S (and the unplug before it) than at its last read
    before the kill, so with that memory back the hog would have been
    killed at R + M MiB at most, short of the W MiB it asked for. The
    figures go into @ctx. False without a ramm-hog kill, a workload size
    or device reads."""
    rss = re.search(r"anon-rss:(\d+)kB", ctx["line"])
    size = re.search(r"workload (?:now )?(\d+) MiB", ctx["workload"] or "")
    reads = device_reads(soak, name, gen, t - SHRINK_WINDOW_S - 2, t)
    if ctx["task"] != "ramm-hog" or not rss or not size or not reads:
        return False
    rss_mib, want_mib = int(rss.group(1)) // 1024, int(size.group(1))
    missing_mib = max(v for _, v, _ in reads) - reads[-1][1]
    ctx["beyond_the_window"] = dict(rss_mib=rss_mib, window_missing_mib=missing_mib,
                                    workload_mib=want_mib)
    return rss_mib + missing_mib < want_mib


def shrink_text(start, end):
    """A shrink's log line and the line that ended it, without the stamps."""
    return "; ".join(e[4].split(": ", 1)[-1] for e in (start, end) if e)


def oom_context(soak, log_entries, oom):
    """What rammd was doing to the guest when its OOM killer ran."""
    t, name, gen, pid, task, line = oom
    mine = [e for e in log_entries if e[1] == name and e[0] <= t]
    shrinks = [e for e in mine if e[2] == "shrink"]
    ctx = dict(guest=name, t=t, pid=pid, task=task, line=line,
               kernel_report=soak.oom_reports.get((name, gen, str(pid)), []))
    shrinking, since = False, None
    # The latest shrink that took memory the guest still lacked at the
    # kill: one stopped before the device gave any (a workload that
    # started as it was decided) took nothing, and one the market has
    # since given back in full left the guest no smaller.
    for last in reversed(shrinks):
        ends = [e for e in mine if e[0] >= last[0] and e[2] in ("done", "stopped", "stop")]
        if ends and ends[0][2] == "stop" and not device_gave(soak, name, gen, last[0], ends[0][0]):
            ctx.setdefault("shrinks_that_took_nothing", []).append(shrink_text(last, ends[0]))
            continue
        if ends and given_back(soak, name, gen, last[0], t):
            ctx.setdefault("shrinks_given_back", []).append(shrink_text(last, ends[0]))
            continue
        if ends:
            since = t - ends[0][0]
            ctx["last_shrink"] = shrink_text(last, ends[0])
        else:
            shrinking = True
            ctx["last_shrink"] = last[4].split(": ", 1)[-1] + " (in flight)"
        ctx["shrink_decided_ago_s"] = round(t - last[0], 1)
        break
    # The device unplugging toward a lower request, logged or not (same
    # QEMU); a device falling below a request that did not drop is the
    # guest not keeping what it plugged, noted but not rammd's shrink.
    # What the market gave back by the kill is not counted.
    unplugged = fell = False
    reads = [v[1:] for v in device_reads(soak, name, gen, t - SHRINK_WINDOW_S, t)]
    for (a, _), (b, b_req) in zip(reads, reads[1:]):
        if b < a and b_req < a:
            unplugged = unplugged or reads[-1][0] < a
        elif b < a:
            fell = True
    ctx["shrinking"] = shrinking
    ctx["shrunk_ago_s"] = None if since is None else round(since, 1)
    ctx["device_unplugged_in_window"] = unplugged
    ctx["device_fell_unasked_in_window"] = fell
    if reads:
        ctx["device_mib"] = BOOT_MIB + reads[-1][0]
    polls = [v for tp, v in soak.polls if tp <= t and name in v]
    if polls:
        g = polls[-1][name]
        ctx.update(size_mib=g["size"], target_mib=g["target"], bid=g["bid"], price=g["price"],
                   avail_mib=g["avail"], state=g["state"])
    wl = [(tw, w) for tw, w in soak.actions if tw <= t and w.startswith(name + ": ") and
          "workload" in w]
    ctx["workload"] = wl[-1][1] if wl else None
    ctx["workload_age_s"] = round(t - wl[-1][0], 1) if wl else None
    # A shrink decided before the workload began took memory left idle;
    # one decided after took it from a guest that had started to grow.
    ctx["shrink_after_workload_start"] = (
        "shrink_decided_ago_s" in ctx and ctx["workload_age_s"] is not None and
        ctx["shrink_decided_ago_s"] < ctx["workload_age_s"])
    ctx["rammd_lines"] = [e[4] for e in mine[-4:]]
    # With rammd killed by the soak, nothing could grow the guest, however
    # much a shrink before left it: the kill is the outage's, reported. A
    # restarted rammd needs a report and a plug (RESTART_GRACE_S) first.
    with soak.lock:
        outages = list(soak.outages)
    down = [(a, b) for a, b in outages if a <= t <= b + RESTART_GRACE_S]
    ctx["rammd_down"] = bool(down)
    ctx["fails"] = not down and (shrinking or unplugged or
                                 (since is not None and since <= SHRINK_WINDOW_S))
    # A workload bigger than the guest's size before the window's shrinks
    # (and what the market grew it by since) met the OOM killer for want
    # of supply: the shrinks did not decide it. Reported as such.
    ctx["beyond_supply"] = ctx["fails"] and beyond_the_window(soak, name, gen, t, ctx)
    ctx["fails"] = ctx["fails"] and not ctx["beyond_supply"]
    return ctx


def latency_figures(soak):
    """Per workload kind: granted after_ms (median, p90, max) and what was
    never granted."""
    per = {}
    for name, wl, line in soak.hog_lines:
        m = HOG_RE.match(line)
        if not m:
            continue
        k = per.setdefault(wl["kind"], dict(granted=[], cancelled=0, short=0, open=0))
        if m.group(2) == "short":
            k["short"] += 1
        elif m.group(2) == "granted":
            k["granted"].append(int(m.group(3)))
        else:
            k["cancelled"] += 1
    out = {}
    for kind, k in sorted(per.items()):
        g = sorted(k["granted"])
        fig = dict(episodes=k["short"], granted=len(g), cancelled=k["cancelled"],
                   never_ended=k["short"] - len(g) - k["cancelled"])
        if g:
            fig.update(median_ms=g[len(g) // 2], p90_ms=g[min(len(g) - 1, int(len(g) * 0.9))],
                       max_ms=g[-1])
        out[kind] = fig
    return out


def report(soak, seed, minutes, supply, peak, faults):
    text = soak.broker.log() if soak.broker else ""
    entries = parse_rammd_log(text)
    ooms = [oom_context(soak, entries, o) for o in soak.ooms]
    over, highest = oversupply(soak, supply)
    floors = floor_violations(soak)
    falses = false_completions(soak, entries)
    lat = latency_figures(soak)
    t0 = soak.t0

    def rel(t):
        return round(t - t0, 1)

    failures = []
    for o in ooms:
        if not o["fails"]:
            continue
        if o["shrinking"]:
            why = "rammd was shrinking it"
        elif o["shrunk_ago_s"] is not None and o["shrunk_ago_s"] <= SHRINK_WINDOW_S:
            why = "rammd's last shrink ended %s s before" % o["shrunk_ago_s"]
        else:
            why = "its device unplugged in the %d s before" % SHRINK_WINDOW_S
        failures.append("OOM kill in %s at %.1f s: %s: %s" % (o["guest"], rel(o["t"]), why,
                                                              o["line"]))
    for v in floors:
        failures.append("floor violation (%s): %s at %d MiB < floor %d MiB, %.1f..%.1f s" %
                        (v["where"], v["guest"], v["low"], v["floor"], rel(v["start"]), rel(v["end"])))
    for m in over:
        failures.append("over supply: %d MiB plugged above floors > supply %d MiB, %.1f..%.1f s: %r" %
                        (m["peak"], supply, rel(m["start"]), rel(m["end"]), m["at_peak"]))
    for t, what, _ in soak.crashes:
        failures.append("%s at %.1f s" % (what, rel(t)))
    if len(soak.rounds) < 20 or len(soak.polls) < 10:
        failures.append("harness: only %d device rounds and %d rammctl polls" %
                        (len(soak.rounds), len(soak.polls)))

    print("\n==== soak summary: seed %d, %.1f min, supply %d MiB (planned peak demand %d MiB)" %
          (seed, minutes, supply, peak))
    print("faults: " + ", ".join("%s%s at %.0f s" % (f["kind"], "(%s)" % f["guest"]
                                                     if f["kind"] != "rammd" else "", f["t"])
                                 for f in faults))
    print("samples: %d device rounds, %d rammctl polls" % (len(soak.rounds), len(soak.polls)))
    print("\n%-20s %8s %8s %9s %10s %8s %8s %8s" %
          ("workload", "short", "granted", "cancelled", "never-end", "median", "p90", "max"))
    for kind, f in lat.items():
        print("%-20s %8d %8d %9d %10d %8s %8s %8s" %
              (kind, f["episodes"], f["granted"], f["cancelled"], f["never_ended"],
               f.get("median_ms", "-"), f.get("p90_ms", "-"), f.get("max_ms", "-")))
    print("(grant latency in ms, guest clock: from short to room again)")
    print("\nOOM kills: %d (%d while rammd shrank the guest, %d beyond what its shrinks took, "
          "%d while the soak had rammd down)" %
          (len(ooms), sum(1 for o in ooms if o["fails"]),
           sum(1 for o in ooms if o["beyond_supply"]), sum(1 for o in ooms if o["rammd_down"])))
    for o in ooms:
        print("  %.1f s %s [%s]: %s" % (rel(o["t"]), o["guest"],
                                       "FAIL" if o["fails"] else
                                       "reported, rammd down" if o["rammd_down"] else
                                       "reported, beyond what the shrinks took"
                                       if o["beyond_supply"] else "reported",
                                       o["line"]))
        print("    workload: %s, %s s before" % (o["workload"], o["workload_age_s"]))
        if "last_shrink" in o:
            print("    last shrink, decided %s s before (%s the workload started): %s" %
                  (o["shrink_decided_ago_s"],
                   "after" if o["shrink_after_workload_start"] else "before",
                   o["last_shrink"]))
        for key, what in (("shrinks_that_took_nothing", "shrink that took nothing"),
                          ("shrinks_given_back", "shrink given back in full")):
            for line in o.get(key, []):
                print("    %s: %s" % (what, line))
        if "beyond_the_window" in o:
            b = o["beyond_the_window"]
            print("    hog killed at %d MiB + %d MiB the window's shrinks left missing %s the "
                  "%d MiB it asked" % (b["rss_mib"], b["window_missing_mib"],
                                       "<" if o["beyond_supply"] else ">=", b["workload_mib"]))
        print("    rammd: shrinking=%s shrunk_ago=%s s device_unplugged=%s fell_unasked=%s "
              "size=%s target=%s device=%s avail=%s bid=%s price=%s" %
              (o["shrinking"], o["shrunk_ago_s"], o["device_unplugged_in_window"],
               o["device_fell_unasked_in_window"], o.get("size_mib"),
               o.get("target_mib"), o.get("device_mib"), o.get("avail_mib"), o.get("bid"),
               o.get("price")))
        for line in o["rammd_lines"]:
            print("    | " + line)
        # The kernel's view: what asked, and the ramm tasks with their RSS.
        for line in o["kernel_report"]:
            if "invoked oom-killer" in line or "ramm-" in line:
                print("    k " + line)
    print("floor violations: %d" % len(floors))
    print("moments over supply: %d (highest plugged above the floors: %d MiB of %d)" %
          (len(over), highest, supply))
    print("false completions: %d" % len(falses))
    for f in falses:
        print("  %s: %s; %.2f s later the device read %d MiB (requested %d)" %
              (f["kind"], f["logged"], f["read_after_s"], f["read_mib"], f["requested_mib"]))
        print("    | %s" % f["asked"])
        if f["noticed"]:
            print("    | %s" % f["noticed"])
    print("guest kernel warnings: %d" % sum(1 for v in soak.kernel_warnings.values()
                                            for l in v if re.search(r"WARNING:|BUG:|Oops", l)))
    for (name, gen), found in sorted(soak.kernel_warnings.items()):
        for line in found[:8]:
            print("  %s (boot %d): %s" % (name, gen, line))
    if soak.harness_errors:
        print("harness errors (not counted): %d" % len(soak.harness_errors))
        for e in soak.harness_errors[:10]:
            print("  " + e)
    verdict = "FAIL" if failures else "PASS"
    for f in failures:
        print("FAIL: " + f)
    doc = dict(seed=seed, minutes=minutes, supply_mib=supply, planned_peak_mib=peak,
               floor_mib=soak.floor_mib(), faults=faults, verdict=verdict, failures=failures,
               ooms=ooms, floor_violations=floors, over_supply=over, false_completions=falses,
               highest_above_floors_mib=highest,
               kernel_warnings={"%s boot %d" % k: v for k, v in soak.kernel_warnings.items()},
               grant_latency=lat, harness_errors=soak.harness_errors,
               actions=[(rel(t), w) for t, w in soak.actions],
               crashes=[(rel(t), w, c) for t, w, c in soak.crashes],
               samples=dict(device_rounds=len(soak.rounds), rammctl_polls=len(soak.polls)))
    with open(os.path.join(BUILD, "soak-report.json"), "w") as f:
        json.dump(doc, f, indent=1, default=str)
    return verdict


def keep_logs(the_lab):
    out = os.path.join(BUILD, "soak-logs")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    for path in os.listdir(the_lab.dir):
        if path.endswith((".log", ".state", ".conf", ".rec")) or ".console" in path:
            shutil.copy(os.path.join(the_lab.dir, path), out)
    return out


def main():
    seed = int(os.environ.get("SOAK_SEED") or DEFAULT_SEED)
    minutes = float(os.environ.get("SOAK_MINUTES") or 10)
    floor_extra = int(os.environ.get("SOAK_FLOOR_MIB") or 0)
    seconds = minutes * 60
    rng = random.Random(seed)
    phases, faults, peak = make_plan(rng, seconds)
    supply = int(peak / SHORT_BY) // 2 * 2
    print("soak: seed %d (SOAK_SEED), %.1f min (SOAK_MINUTES), supply %d MiB = planned peak "
          "demand %d MiB / %.1f" % (seed, minutes, supply, peak, SHORT_BY), flush=True)
    with lab.Lab() as L:
        config = vmem_config(scan_dir=L.dir, supply_mib=supply)
        if floor_extra:
            config += "".join("[guest %s]\nfloor_mib = %d\n" % (n, BOOT_MIB + floor_extra)
                              for n in NAMES)
        soak = Soak(L, config, floor_extra)
        soak.t0 = now()
        threads = []
        try:
            for name in NAMES:
                soak.guests[name] = soak.boot(name)
            for name in NAMES:
                soak.guests[name].wait_ready(120)
            soak.start_broker()
            soak.t0 = now()
            soak.act("rammd started (pid %d); guests booted" % soak.broker.proc.pid)
            obs = Observer(soak)
            threads.append(obs)
            for name in NAMES:
                threads.append(Driver(soak, name, phases[name],
                                      [f for f in faults if f["kind"] != "rammd" and
                                       f["guest"] == name]))
            for t in threads:
                t.start()
            for f in [f for f in faults if f["kind"] == "rammd"] + [None]:
                end = soak.t0 + (f["t"] if f else seconds)
                while now() < end:
                    soak.check_broker()
                    time.sleep(0.2)
                if f:
                    soak.kill_broker(f["down_s"])
            soak.act("the schedule is over")
        finally:
            # On Ctrl-C the lab has stopped everything already; what a
            # thread still starts, the lab's close stops on the way out.
            soak.stopping.set()
            for t in threads:
                t.join(15)
        verdict = report(soak, seed, minutes, supply, peak, faults)
        print("logs: %s" % keep_logs(L))
    print("soak: %s (seed %d, %.1f min)" % (verdict, seed, minutes), flush=True)
    runner.tally(verdict == "PASS", verdict != "PASS", 0)
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
