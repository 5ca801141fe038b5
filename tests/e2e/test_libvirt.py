"""The libvirt backend against a real libvirtd and a real TCG domain.

The test starts its own libvirtd in the foreground (tracked by PID, stopped
in the lab's close), listening on a private socket directory in the lab
directory, so nothing connects to it by accident. Per LAB-NOTES it needs
/etc/libvirt/qemu.conf to run QEMU as root without a security driver or
cgroups; the test writes that file and puts back what was there before.
QEMU's output goes to a file (stdio_handler = "file"), so no virtlogd runs.

One transient domain boots the lab guest (kernel, initramfs, virtio-mem with
2 MiB blocks, the org.ramm.agent.0 channel, and the lab's command channel).
It boots with nothing plugged: on Debian 12's 6.1 guest kernel, an unplug
asked for while the boot-time plug is still being onlined left virtio-mem
stuck half-way for minutes (seen here with requested 256 MiB at boot and
rammd shrinking the idle guest at once), which is a guest-kernel matter,
not the backend's.
rammd, pointed at the private libvirtd with libvirt_uri, must:
  1. discover it, with boot memory as floor and its plugged size;
  2. grow it through libvirt when ramm-hog makes demand (checked in the
     domain's live XML and in the guest's MemTotal);
  3. keep it across a libvirtd restart, and resume driving it afterwards
     (a shrink through the new connection when the demand goes);
  4. stop driving it while the domain is paused, and resume after;
  5. drop it when the domain is destroyed, and find it again when it is
     started.
"""

import os
import signal
import re
import shutil
import subprocess
import time

from common import (BUILD, Broker, check, free_huge_pages, lab, reserve_huge_pages,
                    wait_for)

NAME = "rammlv-a"
BOOT_MIB = 256
VMEM_MAX_MIB = 1024
QEMU_CONF = "/etc/libvirt/qemu.conf"
QEMU_CONF_TEXT = """# Written by ramm's tests/e2e/test_libvirt.py for the test's own libvirtd
# (restored afterwards): QEMU as root, no security driver, no cgroups.
user = "root"
group = "root"
security_driver = "none"
cgroup_controllers = [ ]
stdio_handler = "file"
"""

DOMAIN_XML = """<domain type='%(type)s'>
  <name>%(name)s</name>
  <memory unit='MiB'>%(total)d</memory>
  <maxMemory slots='4' unit='MiB'>%(maxmem)d</maxMemory>%(backing)s
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>/boot/vmlinuz-%(kernel)s</kernel>
    <initrd>%(initrd)s</initrd>
    <cmdline>console=ttyS0 memhp_default_state=online_movable loglevel=4 panic=-1</cmdline>
  </os>
  <cpu mode='custom' match='exact' check='none'>
    <model fallback='allow'>qemu64</model>
    <numa><cell id='0' cpus='0' memory='%(boot)d' unit='MiB'/></numa>
  </cpu>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='file'><source path='%(dir)s/%(name)s.console'/><target port='0'/></serial>
    <channel type='unix'>
      <source mode='bind' path='%(dir)s/%(name)s.agent'/>
      <target type='virtio' name='org.ramm.agent.0'/>
    </channel>
    <channel type='unix'>
      <source mode='bind' path='%(dir)s/%(name)s.lab'/>
      <target type='virtio' name='org.ramm.lab.0'/>
    </channel>
    <memballoon model='none'/>
    <memory model='virtio-mem'>
      <target>
        <size unit='MiB'>%(vmem_max)d</size>
        <node>0</node>
        <block unit='MiB'>2</block>
        <requested unit='MiB'>%(vmem)d</requested>
      </target>
    </memory>
  </devices>
</domain>
"""


class _Running:
    """Stands in for Guest.proc: libvirtd, not the lab, owns this QEMU."""

    returncode = None

    def poll(self):
        return None


class DomainGuest(lab.Guest):
    """A lab guest whose QEMU libvirtd started: only the command channel
    (run, hog, meminfo) of lab.Guest is used."""

    def __init__(self, the_lab, name):  # noqa: D401 - no QEMU of our own
        self.lab = the_lab
        self.name = name
        self.boot_mib = BOOT_MIB
        self.vmem_max_mib = VMEM_MAX_MIB
        self.lab_path = os.path.join(the_lab.dir, name + ".lab")
        self.console_path = os.path.join(the_lab.dir, name + ".console")
        self.proc = _Running()
        self._lab_sock = None
        self._lab_buf = b""
        self._next_id = 1
        self.qmp = None

    def disconnect(self):
        if self._lab_sock is not None:
            self._lab_sock.close()
        self._lab_sock = None
        self._lab_buf = b""


class Libvirtd:
    """A private libvirtd: its sockets in the lab directory, stopped by PID."""

    def __init__(self, the_lab):
        self.lab = the_lab
        self.sock_dir = os.path.join(the_lab.dir, "lv")
        os.makedirs(self.sock_dir, exist_ok=True)
        self.conf = os.path.join(the_lab.dir, "libvirtd.conf")
        self.log_path = os.path.join(the_lab.dir, "libvirtd.log")
        with open(self.conf, "w") as f:
            f.write('unix_sock_dir = "%s"\n' % self.sock_dir)
            f.write('unix_sock_rw_perms = "0700"\n')
            f.write('auth_unix_rw = "none"\nauth_unix_ro = "none"\n')
            f.write('log_outputs = "3:stderr"\n')
        self.uri = "qemu:///system?socket=%s/libvirt-sock" % self.sock_dir
        self.proc = None

    def start(self):
        self.proc = self.lab.spawn(["libvirtd", "-f", self.conf, "-p",
                                    os.path.join(self.lab.dir, "libvirtd.pid")],
                                   self.log_path)
        wait_for("libvirtd to answer",
                 lambda: self.proc.poll() is None and
                 self.virsh("version", check=False).returncode == 0, 30)

    def stop(self):
        if self.proc is not None:
            self.lab.stop(self.proc)
            self.proc = None

    def virsh(self, *args, check=True):
        r = subprocess.run(["virsh", "-c", self.uri] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError("virsh %s: %s" % (" ".join(args), r.stdout))
        return r

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""



def _write_domain_xml(L, name, vmem_max_mib, backing=""):
    """Write the lab domain @name (no virtio-mem plugged, up to
    @vmem_max_mib, @backing inside <domain>) into the lab's folder; returns
    the file's path."""
    path = os.path.join(L.dir, name + ".xml")
    with open(path, "w") as f:
        f.write(DOMAIN_XML % {
            "type": "kvm" if lab.accel() == "kvm" else "qemu",
            "name": name, "boot": BOOT_MIB, "vmem": 0, "backing": backing,
            "vmem_max": vmem_max_mib, "total": BOOT_MIB + vmem_max_mib,
            "maxmem": BOOT_MIB + vmem_max_mib + 1024,
            "kernel": L.kernel, "initrd": L.initramfs, "dir": L.dir})
    return path

def _prepare_host(qemu_conf_extra=""):
    """LAB-NOTES' one-time host setup; returns what to restore."""
    for d in ("/var/log/libvirt", "/var/run/libvirt", "/var/lib/libvirt/qemu",
              "/var/cache/libvirt"):
        os.makedirs(d, exist_ok=True)
    if subprocess.run(["getent", "group", "libvirt-qemu"],
                      stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["groupadd", "--system", "libvirt-qemu"], check=True)
    if subprocess.run(["getent", "passwd", "libvirt-qemu"],
                      stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["useradd", "--system", "-g", "libvirt-qemu", "-d",
                        "/var/lib/libvirt", "-s", "/usr/sbin/nologin",
                        "libvirt-qemu"], check=True)
    old = None
    if os.path.exists(QEMU_CONF):
        with open(QEMU_CONF) as f:
            old = f.read()
    os.makedirs(os.path.dirname(QEMU_CONF), exist_ok=True)
    with open(QEMU_CONF, "w") as f:
        f.write(QEMU_CONF_TEXT + qemu_conf_extra)
    return old


def _restore_host(old):
    if old is None:
        os.unlink(QEMU_CONF)
    else:
        with open(QEMU_CONF, "w") as f:
            f.write(old)


def _system_libvirtd_running():
    try:
        with open("/run/libvirtd.pid") as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def _kill_leftover_qemu(name):
    """A domain libvirtd could not destroy: stop its QEMU by its PID file,
    after checking that the PID is that domain's QEMU."""
    path = "/run/libvirt/qemu/%s.pid" % name
    try:
        with open(path) as f:
            pid = int(f.read().strip())
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read()
    except (OSError, ValueError):
        return
    if b"qemu-system" in cmd and ("guest=%s" % name).encode() in cmd:
        os.kill(pid, 9)


def _live_vmem(lv):
    """(requested, current) MiB of the domain's virtio-mem, from live XML."""
    return _live_vmem_of(lv, NAME)


def _live_vmem_of(lv, name):
    xml = lv.virsh("dumpxml", name).stdout
    mem = re.search(r"<memory model='virtio-mem'>.*?</memory>", xml, re.S).group(0)

    def kib(tag):
        m = re.search(r"<%s unit='KiB'>(\d+)</%s>" % (tag, tag), mem)
        return int(m.group(1)) // 1024 if m else 0
    return kib("requested"), kib("current")


def _stop_all(lv, broker, name, old_conf):
    """A test's teardown, whatever state it failed in: rammd (its log
    printed), the domain, libvirtd and any QEMU it left, by PID, and the
    host's qemu.conf put back."""
    try:
        if broker is not None:
            print(broker.log()[-5000:])
            broker.stop()
        if lv.proc is not None:
            lv.virsh("destroy", name, check=False)
    finally:
        lv.stop()
        _kill_leftover_qemu(name)
        _restore_host(old_conf)
        if lv.log():
            print("libvirtd log (tail):\n" + lv.log()[-2000:])


def _rammd_guest(broker, name=NAME):
    for g in broker.state()["guests"]:
        if g["name"] == name:
            return g
    return None


def test_libvirt_backend():
    check(os.geteuid() == 0, "the libvirt test runs libvirtd and needs root")
    for tool in ("libvirtd", "virsh"):
        check(shutil.which(tool), "%s missing: run `make deps`" % tool)
    other = _system_libvirtd_running()
    check(other is None, "a system libvirtd (pid %s) is running; this test "
          "starts its own and would share /run/libvirt/qemu with it" % other)
    old_conf = _prepare_host()
    t_start = time.time()
    timings = {}
    with lab.Lab() as L:
        lv = Libvirtd(L)
        broker = None
        domain_xml = _write_domain_xml(L, NAME, VMEM_MAX_MIB)
        guest = DomainGuest(L, NAME)
        try:
            lv.start()
            lv.virsh("create", domain_xml)
            t0 = time.time()
            guest.wait_ready(120)
            timings["boot_s"] = time.time() - t0
            broker_config = ("libvirt_uri = %s\n"
                             "supply_mib = 1024\nreserve_price = 0\n"
                             "min_hold_ms = 1000\nmax_plug_mib = 512\n"
                             "max_unplug_mib = 256\n" % lv.uri)
            broker = Broker(L, broker_config)

            # 1. Discovery: the domain appears with its boot memory as floor.
            t0 = time.time()
            g = wait_for("rammd to discover %s" % NAME,
                         lambda: (lambda x: x if x and x["device_ready"] and
                                  x["agent_connected"] else None)(_rammd_guest(broker)), 30)
            timings["discovery_s"] = time.time() - t0
            check(g["backend"] == "libvirt", "backend is %r" % g["backend"])
            check(g["floor_mib"] == BOOT_MIB, "floor %r, not %d" % (g["floor_mib"], BOOT_MIB))
            check(g["cap_mib"] == BOOT_MIB + VMEM_MAX_MIB, "cap %r" % g["cap_mib"])
            out = broker.rammctl("guests").stdout
            check(NAME in out, "rammctl guests does not list %s:\n%s" % (NAME, out))
            print(out)

            # 2. A resize through libvirt, from real demand.
            wait_for("a report from the agent",
                     lambda: (_rammd_guest(broker) or {}).get("report_age_ms") is not None, 30)
            wait_for("the guest to settle",
                     lambda: not _rammd_guest(broker)["resizing"], 30)
            mt0 = guest.meminfo_kib() // 1024
            req0, cur0 = _live_vmem(lv)
            print("before demand: MemTotal %d MiB, libvirt requested %d current %d MiB"
                  % (mt0, req0, cur0))
            t0 = time.time()
            guest.hog(500)
            wait_for("libvirt's <current> to grow by 256 MiB",
                     lambda: _live_vmem(lv)[1] >= cur0 + 256, 120)
            timings["grow_s"] = time.time() - t0
            wait_for("ramm-hog to hold 500 MiB",
                     lambda: guest.hog_status().get("held_mib") == "500", 120)
            mt1 = guest.meminfo_kib() // 1024
            req1, cur1 = _live_vmem(lv)
            g = _rammd_guest(broker)
            print("under demand: MemTotal %d MiB, libvirt requested %d current %d MiB, rammd size %d"
                  % (mt1, req1, cur1, g["size_mib"]))
            check(mt1 - mt0 >= 256, "MemTotal grew only %d MiB" % (mt1 - mt0))
            check("grow" in broker.log() and "resized" in broker.log(),
                  "rammd logged no completed growth")

            # 3. libvirtd restarts: rammd keeps the guest and its account.
            before = _rammd_guest(broker)
            t0 = time.time()
            lv.stop()
            wait_for("rammd to see libvirtd go",
                     lambda: "connection to" in broker.log() and "lost" in broker.log(), 15)
            g = _rammd_guest(broker)
            check(g is not None, "rammd forgot %s when libvirtd stopped" % NAME)
            check(not g["device_ready"], "device still ready without libvirtd")
            # Down long enough for reconnect attempts to fail and back off.
            time.sleep(3)
            check("cannot connect to" in broker.log(), "no failed reconnect logged")
            # The same guest object: its counters and credit carry on.
            check(g["counters"]["reports"] >= before["counters"]["reports"] and
                  g["credit"] == before["credit"],
                  "guest state reset across the outage: %r -> %r" % (before, g))
            lv.start()
            wait_for("rammd to re-attach after the restart",
                     lambda: broker.log().count("libvirt: connected to") >= 2 and
                     _rammd_guest(broker)["device_ready"], 60)
            timings["reattach_s"] = time.time() - t0
            check(len([x for x in broker.state()["guests"] if x["name"] == NAME]) == 1,
                  "the guest is listed twice after the restart")
            # ... and drives it through the new connection: demand goes,
            # memory comes back.
            t_us = int(time.monotonic() * 1e6)
            guest.run("ramm-hog free")
            t0 = time.time()

            def shrunk():
                rs = _rammd_guest(broker)["last_resize"]
                return rs["decided_us"] > t_us and rs["to_mib"] < rs["from_mib"] and \
                    _live_vmem(lv)[1] <= cur1 - 128
            wait_for("a shrink through the new connection", shrunk, 90)
            timings["shrink_s"] = time.time() - t0
            check(guest.meminfo_kib() // 1024 < mt1 - 128, "MemTotal did not shrink")

            # 4. Paused: kept but not driven; resumed: driven again.
            lv.virsh("suspend", NAME)
            wait_for("rammd to stop driving the paused domain",
                     lambda: not _rammd_guest(broker)["device_ready"], 15)
            lv.virsh("resume", NAME)
            wait_for("rammd to drive the resumed domain",
                     lambda: _rammd_guest(broker)["device_ready"], 15)

            # 5. Stop and start: the guest goes and comes back.
            t0 = time.time()
            guest.disconnect()
            lv.virsh("destroy", NAME)
            wait_for("rammd to drop the destroyed domain",
                     lambda: _rammd_guest(broker) is None, 30)
            check("domain destroyed" in broker.log(), "no reason logged for the removal")
            lv.virsh("create", domain_xml)
            guest.wait_ready(120)
            wait_for("rammd to find the domain again",
                     lambda: (lambda x: x and x["device_ready"] and x["agent_connected"])(
                         _rammd_guest(broker)), 60)
            timings["restart_domain_s"] = time.time() - t0
            check(broker.alive(), "rammd died")
            print(broker.rammctl("guests").stdout)

            # 6. rammd killed with SIGKILL mid-resize, then started again:
            # it adopts the domain as libvirt has it and keeps its account.
            guest.hog(400)
            wait_for("ramm-hog to hold 400 MiB",
                     lambda: guest.hog_status().get("held_mib") == "400", 120)
            wait_for("the guest to settle", lambda: not _rammd_guest(broker)["resizing"], 30)
            credit = _rammd_guest(broker)["credit"]
            shrinks = broker.log().count("%s: shrink" % NAME)
            guest.run("ramm-hog free")
            wait_for("a shrink to start",
                     lambda: broker.log().count("%s: shrink" % NAME) > shrinks, 60,
                     interval=0.02)
            os.kill(broker.proc.pid, signal.SIGKILL)
            broker.proc.wait(5)
            req, cur = _live_vmem(lv)
            print("killed rammd: libvirt requested %d MiB, current %d MiB%s" %
                  (req, cur, " (in flight)" if req != cur else ""))
            broker = Broker(L, broker_config)
            g = wait_for("rammd 2 to adopt the domain",
                         lambda: (lambda x: x if x and x["device_ready"] else None)(
                             _rammd_guest(broker)), 30)
            check("%s: restored from the state file" % NAME in broker.log(),
                  "rammd 2 did not restore the guest's account")
            check(abs(g["credit"] - credit) < 0.05, "credit %.3f, was %.3f" % (g["credit"], credit))
            check(g["size_mib"] >= BOOT_MIB, "below its floor after the restart")
            wait_for("rammd 2 and libvirt to agree on the size",
                     lambda: not _rammd_guest(broker)["resizing"] and
                     _rammd_guest(broker)["size_mib"] == BOOT_MIB + _live_vmem(lv)[1], 60)
            check(broker.alive(), "rammd 2 died")
        finally:
            guest.disconnect()
            try:
                if lv.proc is not None:
                    # What a failure needs: libvirt's view and QEMU's.
                    print("libvirt: requested/current MiB %r" % (_live_vmem(lv),))
                    print("QEMU: " + lv.virsh("qemu-monitor-command", NAME,
                                              '{"execute":"query-memory-devices"}',
                                              check=False).stdout)
            except Exception as e:  # noqa: BLE001 - never mask the failure
                print("(no domain state: %r)" % e)
            _stop_all(lv, broker, NAME, old_conf)
    timings["total_s"] = time.time() - t_start
    print("timings: " + ", ".join("%s=%.1f" % kv for kv in timings.items()))


STOP_NAME = "rammlv-stop"
STOP_MAX_S = 14.0  # libvirtd stopped at most this long (keepalive gives up after ~20 s)
STALL_S = 3.0      # GUEST_RESIZE_STALL_MS: a resize that long without moving is over
CTL_TIMEOUT_S = 3  # what rammctl gets to answer meanwhile
KEEPALIVE_MAX_S = 40.0  # rammd gives a stopped libvirtd up after ~20 s
RECONNECT_S = 4.0  # ... and tries again within 0.5 s, then 1 s, 2 s


def _ctl_while_stopped(broker, lv, until, max_s):
    """Ask rammctl guests every 0.5 s until @until() or @max_s, then
    SIGCONT @lv. Returns (seconds, answered, unanswered within
    CTL_TIMEOUT_S, ticks meanwhile)."""
    before = broker.state()
    t0 = time.monotonic()
    answered = unanswered = 0
    while time.monotonic() - t0 < max_s and not until():
        try:
            r = subprocess.run([os.path.join(BUILD, "rammctl"), "-s", broker.control,
                                "--json", "guests"], stdout=subprocess.PIPE,
                               timeout=CTL_TIMEOUT_S)
            check(r.returncode == 0, "rammctl guests: exit %d" % r.returncode)
            answered += 1
        except subprocess.TimeoutExpired:
            unanswered += 1
        time.sleep(0.5)
    elapsed = time.monotonic() - t0
    try:
        after = broker.state()
    except subprocess.TimeoutExpired:
        after = None
    os.kill(lv.proc.pid, signal.SIGCONT)
    ticks = after["ticks"] - before["ticks"] if after else 0
    print("libvirtd stopped %.1f s: %d rammctl answered, %d not within %d s, %d ticks"
          % (elapsed, answered, unanswered, CTL_TIMEOUT_S, ticks))
    check(unanswered == 0, "%d rammctl requests not answered within %d s while "
          "libvirtd was stopped" % (unanswered, CTL_TIMEOUT_S))
    check(ticks >= elapsed / 0.5 / 2,
          "%d ticks in %.1f s of 500 ms ticks while libvirtd was stopped" % (ticks, elapsed))
    return elapsed


def _first_grow_after(broker, name, t):
    """When (CLOCK_MONOTONIC, as time.monotonic()) rammd first decided to
    grow @name after @t, or None."""
    for m in re.finditer(r"^rammd\[(\d+\.\d+)\] info: guest %s: grow " % re.escape(name),
                         broker.log(), re.M):
        if float(m.group(1)) > t:
            return float(m.group(1))
    return None


def test_libvirt_loop_does_not_wait():
    """libvirtd hangs (SIGSTOP, by its PID) for up to 14 s while rammd
    manages a domain, and the guest's demand grows meanwhile: rammd's loop never
    waits for libvirtd. Every rammctl request is answered and ticks keep
    coming although device reads and a resize are due meanwhile; once
    libvirtd runs again (SIGCONT) the resize asked for during the hang goes
    through libvirt and is not judged short: the time it waited for
    libvirtd is not taken for a device that stopped moving. Then libvirtd
    is stopped until rammd gives the connection up (keepalive, ~20 s) and
    for 4 s of reconnect attempts to the stopped daemon, whose socket
    still accepts: rammd answers all along, and drives the guest again
    once libvirtd goes on."""
    check(os.geteuid() == 0, "the libvirt test runs libvirtd and needs root")
    other = _system_libvirtd_running()
    check(other is None, "a system libvirtd (pid %s) is running" % other)
    old_conf = _prepare_host()
    with lab.Lab() as L:
        lv = Libvirtd(L)
        broker = None
        stopped = False
        domain_xml = _write_domain_xml(L, STOP_NAME, VMEM_MAX_MIB)
        guest = DomainGuest(L, STOP_NAME)
        try:
            lv.start()
            lv.virsh("create", domain_xml)
            guest.wait_ready(120)
            broker = Broker(L, "libvirt_uri = %s\ntick_ms = 500\nsupply_mib = 1024\n"
                            "reserve_price = 0\nmin_hold_ms = 1000\n" % lv.uri)
            wait_for("rammd to discover %s" % STOP_NAME,
                     lambda: (lambda x: x and x["device_ready"] and x["agent_connected"])(
                         _rammd_guest(broker, STOP_NAME)), 30)
            wait_for("a report from the agent",
                     lambda: _rammd_guest(broker, STOP_NAME).get("report_age_ms") is not None,
                     30)
            wait_for("the guest to settle",
                     lambda: not _rammd_guest(broker, STOP_NAME)["resizing"], 30)

            cur0 = _live_vmem_of(lv, STOP_NAME)[1]
            os.kill(lv.proc.pid, signal.SIGSTOP)
            stopped = True
            t0 = time.monotonic()
            # The lab channel and the agent's socket are QEMU's, not
            # libvirtd's: demand grows and rammd hears of it. Stopped until
            # a growth has waited for libvirtd well past the stall limit
            # (the guest's demand takes a while under TCG).
            guest.hog(400)
            grow = []

            def grown_waited():
                grow[:] = grow or [_first_grow_after(broker, STOP_NAME, t0)]
                return grow[0] is not None and time.monotonic() > grow[0] + STALL_S + 2
            elapsed = _ctl_while_stopped(broker, lv, grown_waited, STOP_MAX_S)
            stopped = False
            grow_at = _first_grow_after(broker, STOP_NAME, t0)
            check(grow_at is not None and grow_at + STALL_S < t0 + elapsed,
                  "no growth decided %.0f s before libvirtd went on (%s s after it stopped)"
                  % (STALL_S, grow_at and grow_at - t0))

            # Driven again: the growth goes through libvirt.
            wait_for("libvirt's <current> to grow by 128 MiB",
                     lambda: _live_vmem_of(lv, STOP_NAME)[1] >= cur0 + 128, 120)
            wait_for("rammd and libvirt to agree on the size",
                     lambda: (lambda g: not g["resizing"] and
                              g["size_mib"] == BOOT_MIB + _live_vmem_of(lv, STOP_NAME)[1])(
                                  _rammd_guest(broker, STOP_NAME)), 60)
            g = _rammd_guest(broker, STOP_NAME)
            check(g["counters"]["resize_short"] == 0 and "stopped at" not in broker.log(),
                  "a resize was judged short: %s" % g["counters"])

            # Stopped until the keepalive gives the connection up, and
            # then while rammd tries to connect again to the stopped
            # libvirtd (the socket still accepts).
            os.kill(lv.proc.pid, signal.SIGSTOP)
            stopped = True
            t1 = time.monotonic()
            lost = []
            losses = broker.log().count("libvirt: connection to")

            def reconnect_tried():
                if not lost and broker.log().count("libvirt: connection to") > losses:
                    lost.append(time.monotonic())
                return lost and time.monotonic() > lost[0] + RECONNECT_S
            _ctl_while_stopped(broker, lv, reconnect_tried, KEEPALIVE_MAX_S)
            stopped = False
            check(lost, "the connection was not given up within %.0f s" % (
                time.monotonic() - t1))
            wait_for("the device driven again after the reconnect",
                     lambda: broker.log().count("libvirt: connected to") >= 2 and
                     _rammd_guest(broker, STOP_NAME)["device_ready"], 60)
            check(broker.alive(), "rammd died")
        finally:
            if stopped:
                os.kill(lv.proc.pid, signal.SIGCONT)
            guest.disconnect()
            _stop_all(lv, broker, STOP_NAME, old_conf)


HUGE_NAME = "rammlv-huge"
HUGE_VMEM_MAX_MIB = 256
HUGE_SPARE_PAGES = 16  # free 2 MiB pages once boot memory is backed


def test_libvirt_hugepage_backing():
    """A domain whose memory is backed by 2 MiB huge pages
    (<memoryBacking><hugepages>): rammd reads the page size from the XML,
    grows it only into the pool's free pages, and a drain gives back
    exactly the pages unplugged."""
    check(os.geteuid() == 0, "the libvirt test runs libvirtd and needs root")
    other = _system_libvirtd_running()
    check(other is None, "a system libvirtd (pid %s) is running" % other)
    with lab.Lab() as L:
        pages = BOOT_MIB // 2 + HUGE_SPARE_PAGES
        reserve_huge_pages(L, 2048, pages)
        mnt = L.mount_hugetlbfs(2048)
        old_conf = _prepare_host('hugetlbfs_mount = "%s"\n' % mnt)
        lv = Libvirtd(L)
        broker = None
        domain_xml = _write_domain_xml(
            L, HUGE_NAME, HUGE_VMEM_MAX_MIB,
            backing="\n  <memoryBacking><hugepages><page size='2048' unit='KiB'/>"
                    "</hugepages></memoryBacking>")
        guest = DomainGuest(L, HUGE_NAME)
        try:
            lv.start()
            lv.virsh("create", domain_xml)
            guest.wait_ready(120)
            check(free_huge_pages(2048) == HUGE_SPARE_PAGES,
                  "%d pages free after boot, expected %d: boot memory is not "
                  "on huge pages" % (free_huge_pages(2048), HUGE_SPARE_PAGES))
            # quantum_mib 0: the pool's last pages are plugged however few.
            broker = Broker(L, "libvirt_uri = %s\nsupply_mib = 8192\nreserve_price = 0\n"
                            "quantum_mib = 0\n" % lv.uri)
            g = wait_for("rammd to discover %s" % HUGE_NAME,
                         lambda: (lambda x: x if x and x["device_ready"] else None)(
                             _rammd_guest(broker, HUGE_NAME)), 30)
            check(g["page_kib"] == 2048 and g["pool"] == "hugetlb",
                  "backing read as %r KiB, pool %r" % (g["page_kib"], g["pool"]))

            # Demand beyond the pool: only its free pages are plugged.
            guest.hog(200)
            wait_for("the pool's free pages plugged",
                     lambda: _live_vmem_of(lv, HUGE_NAME)[1] == 2 * HUGE_SPARE_PAGES, 90)
            time.sleep(4)
            req, cur = _live_vmem_of(lv, HUGE_NAME)
            check(req == cur == 2 * HUGE_SPARE_PAGES and free_huge_pages(2048) == 0,
                  "requested %d current %d MiB with %d pages free"
                  % (req, cur, free_huge_pages(2048)))

            # Drain: every unplugged MiB comes back as free pages.
            guest.hog(0)
            broker.rammctl("drain", HUGE_NAME)
            wait_for("the drain", lambda: _live_vmem_of(lv, HUGE_NAME) == (0, 0), 60)
            print("libvirt hugepages: plugged %d MiB, drained; %d pages free"
                  % (cur, free_huge_pages(2048)))
            check(free_huge_pages(2048) * 2 == cur,
                  "%d pages free after unplugging %d MiB" % (free_huge_pages(2048), cur))
            check(broker.alive(), "rammd died")
        finally:
            guest.disconnect()
            _stop_all(lv, broker, HUGE_NAME, old_conf)
