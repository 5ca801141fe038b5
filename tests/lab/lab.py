#!/usr/bin/env python3
"""The ramm lab: real QEMU guests with virtio-mem, booted in seconds.

A lab guest is the host's own Debian kernel plus a busybox initramfs that
holds the virtio modules, ramm-agent, ramm-hog, ramm-dump and, once
`make kmod` built it for that kernel, ramm_guest.ko. Each guest gets, in one
run directory (short, under /tmp, because unix socket paths are limited to
108 bytes):

  NAME.qmp      QMP socket for rammd (the broker's only QMP connection)
  NAME.labqmp   a second QMP socket for the tests to query and watch
  NAME.agent    chardev socket behind the guest port org.ramm.agent.0
  NAME.lab      chardev socket behind org.ramm.lab.0: the guest runs a shell
                loop on it, which is how Guest.run() executes commands
  NAME.console  the serial console (kernel log)

The names follow the convention rammd's directory scan expects
(`NAME.qmp` + `NAME.agent`).

Every process the lab starts is tracked by PID and stopped in Lab.close(),
which runs on normal exit, on an exception, and on SIGINT/SIGTERM.

As a command:  lab.py build-initramfs   (build/lab/initramfs-VER.cpio.gz)
                lab.py kernel            (the default guest kernel)
                lab.py kernels           (every installed kernel)
"""

import glob
import gzip
import json
import lzma
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(REPO, "build")
LAB_BUILD = os.path.join(BUILD, "lab")
GUEST_MODULES = ["virtio_ring", "virtio", "virtio_pci_modern_dev",
                 "virtio_pci_legacy_dev", "virtio_pci", "virtio_mem",
                 "virtio_console"]
MIB = 1024 * 1024
DONE_MARK = "@@RAMM-LAB@@"

INIT_SCRIPT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /run /tmp
for m in %(modules)s; do insmod /lib/modules/$m.ko || echo "lab: insmod $m failed"; done

port_dev() {
	for d in /sys/class/virtio-ports/*; do
		[ "$(cat $d/name 2>/dev/null)" = "$1" ] && echo /dev/${d##*/}
	done
}
i=0
while [ -z "$(port_dev org.ramm.lab.0)" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
LAB=$(port_dev org.ramm.lab.0)

if grep -q 'ramm.kmod=1' /proc/cmdline; then
	insmod /lib/modules/ramm_guest.ko || echo "lab: insmod ramm_guest failed"
fi
if ! grep -q 'ramm.agent=0' /proc/cmdline; then
	/bin/ramm-agent --pidfile /run/ramm-agent.pid >/run/ramm-agent.log 2>&1 &
fi
echo "lab: ready on $LAB"

# The command loop: "ID COMMAND" in, output then "@@RAMM-LAB@@ ID RC" out.
# read returns EOF while the host side is not connected; wait and retry.
while true; do
	exec 3<>$LAB
	while read -r id cmd <&3; do
		eval "$cmd" >&3 2>&3 </dev/null
		printf '\n%(mark)s %%s %%d\n' "$id" "$?" >&3
	done
	exec 3>&-
	sleep 0.1
done
"""


def log(msg):
    print("lab: " + msg, file=sys.stderr, flush=True)


def kernel_version():
    """The guest kernel: RAMM_LAB_KERNEL=VER if set, else Debian 12's own
    (what linux-image-amd64 depends on), else the newest installed."""
    forced = os.environ.get("RAMM_LAB_KERNEL")
    if forced:
        return forced
    # Debian 12's own kernel: the one its linux-image-amd64 depends on.
    dep = subprocess.run(["dpkg-query", "-W", "-f=${Depends}", "linux-image-amd64"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    m = re.search(r"linux-image-(\S+?)(?:\s|,|$)", dep)
    if m and os.path.exists("/boot/vmlinuz-" + m.group(1)) and \
            os.path.isdir("/lib/modules/" + m.group(1)):
        return m.group(1)
    return installed_kernels()[-1]


def installed_kernels():
    """Every kernel with both /boot/vmlinuz-VER and /lib/modules/VER, oldest
    first."""
    found = []
    for path in glob.glob("/boot/vmlinuz-*"):
        ver = path[len("/boot/vmlinuz-"):]
        if os.path.isdir("/lib/modules/" + ver):
            found.append(ver)
    if not found:
        raise RuntimeError("no kernel in /boot with modules; run `make deps`")

    def key(v):
        return [int(x) if x.isdigit() else 0 for x in re.split(r"[.+-]", v)]
    return sorted(found, key=key)


def _builtin_modules(ver):
    """Module names compiled into kernel @ver (6.12 builds virtio in)."""
    try:
        with open("/lib/modules/%s/modules.builtin" % ver) as f:
            return {os.path.basename(l.strip())[:-3] for l in f if l.strip().endswith(".ko")}
    except OSError:
        return set()


def _module_bytes(ver, name):
    hits = glob.glob("/lib/modules/%s/kernel/**/%s.ko*" % (ver, name), recursive=True)
    if not hits:
        raise RuntimeError("module %s not found for kernel %s" % (name, ver))
    path = hits[0]
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".xz"):
        return lzma.decompress(data)
    if path.endswith(".zst"):
        return subprocess.run(["zstd", "-dc", path], check=True,
                              stdout=subprocess.PIPE).stdout
    return data


def kmod_path(ver):
    """Where `make kmod` puts ramm_guest.ko built for kernel @ver."""
    return os.path.join(BUILD, "kmod", ver, "ramm_guest.ko")


def build_initramfs(out, ver=None, extra_files=None):
    """Build the guest initramfs for kernel @ver (default: kernel_version());
    returns its path. ramm_guest.ko goes in when `make kmod` built it for
    @ver. Fails loudly if a part is missing. extra_files maps guest path ->
    host path."""
    ver = ver or kernel_version()
    busybox = shutil.which("busybox") or "/bin/busybox"
    out_dir = os.path.dirname(out)
    os.makedirs(out_dir, exist_ok=True)
    stage = tempfile.mkdtemp(prefix="initramfs-", dir=out_dir)
    try:
        for d in ("bin", "dev", "proc", "sys", "run", "tmp", "lib/modules"):
            os.makedirs(os.path.join(stage, d), exist_ok=True)
        shutil.copy(busybox, os.path.join(stage, "bin/busybox"))
        for prog in ("ramm-agent", "ramm-hog", "ramm-dump"):
            src = os.path.join(BUILD, prog)
            if not os.path.exists(src):
                raise RuntimeError("%s missing: run `make` first" % src)
            shutil.copy(src, os.path.join(stage, "bin", prog))
        builtin = _builtin_modules(ver)
        modules = [m for m in GUEST_MODULES if m not in builtin]
        for mod in modules:
            with open(os.path.join(stage, "lib/modules", mod + ".ko"), "wb") as f:
                f.write(_module_bytes(ver, mod))
        extra = dict(extra_files or {})
        if os.path.exists(kmod_path(ver)):
            extra.setdefault("/lib/modules/ramm_guest.ko", kmod_path(ver))
        for guest_path, host_path in extra.items():
            dst = os.path.join(stage, guest_path.lstrip("/"))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy(host_path, dst)
        init = os.path.join(stage, "init")
        with open(init, "w") as f:
            f.write(INIT_SCRIPT % {"modules": " ".join(modules),
                                   "mark": DONE_MARK})
        os.chmod(init, 0o755)
        files = subprocess.run("find . | LC_ALL=C sort", shell=True, cwd=stage,
                               check=True, stdout=subprocess.PIPE).stdout
        cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=stage,
                              input=files, check=True, stdout=subprocess.PIPE).stdout
        tmp = out + ".tmp"
        with gzip.open(tmp, "wb", compresslevel=1) as f:
            f.write(cpio)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out


def accel():
    """KVM only where the CPU has vmx/svm (see LAB-NOTES), TCG otherwise."""
    forced = os.environ.get("RAMM_LAB_ACCEL")
    if forced:
        return forced
    with open("/proc/cpuinfo") as f:
        flags = f.read()
    if re.search(r"\b(vmx|svm)\b", flags) and os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "kvm"
    return "tcg"


class Qmp:
    """A minimal synchronous QMP client; events are kept in .events."""

    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.events = []
        self._read_msg()  # greeting
        self.execute("qmp_capabilities")

    def _read_msg(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("QMP closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def execute(self, cmd, **args):
        msg = {"execute": cmd}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._read_msg()
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                raise RuntimeError("QMP %s: %s" % (cmd, reply["error"]))
            return reply["return"]

    def close(self):
        self.sock.close()


class Guest:
    """One running lab guest. Create through Lab.boot()."""

    def __init__(self, lab, name, boot_mib, vmem_mib, vmem_max_mib, block_mib,
                 agent, kmod, cmdline_extra, memdev=None, vmem_opts=""):
        self.lab = lab
        self.name = name
        self.boot_mib = boot_mib
        self.vmem_max_mib = vmem_max_mib
        d = lab.dir
        self.qmp_path = os.path.join(d, name + ".qmp")
        self.labqmp_path = os.path.join(d, name + ".labqmp")
        self.agent_path = os.path.join(d, name + ".agent")
        self.lab_path = os.path.join(d, name + ".lab")
        self.console_path = os.path.join(d, name + ".console")
        append = "console=ttyS0 memhp_default_state=online_movable loglevel=4 panic=-1"
        if not agent:
            append += " ramm.agent=0"
        if kmod:
            append += " ramm.kmod=1"
        if cmdline_extra:
            append += " " + cmdline_extra
        argv = [
            "qemu-system-x86_64", "-accel", accel(), "-smp", "1",
            "-m", "%dM,maxmem=%dM" % (boot_mib, boot_mib + vmem_max_mib + 1024),
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-kernel", "/boot/vmlinuz-" + lab.kernel, "-initrd", lab.initramfs,
            "-append", append,
            "-serial", "file:" + self.console_path,
            "-object", (memdev or "memory-backend-ram") + ",id=vmem0,size=%dM" % vmem_max_mib,
            "-device", "virtio-mem-pci,id=vm0,memdev=vmem0,requested-size=%dM,block-size=%dM%s"
            % (vmem_mib, block_mib, vmem_opts),
            "-device", "virtio-serial-pci,id=vser0",
            "-chardev", "socket,id=agent0,path=%s,server=on,wait=off" % self.agent_path,
            "-device", "virtserialport,chardev=agent0,name=org.ramm.agent.0",
            "-chardev", "socket,id=lab0,path=%s,server=on,wait=off" % self.lab_path,
            "-device", "virtserialport,chardev=lab0,name=org.ramm.lab.0",
            "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
            "-qmp", "unix:%s,server=on,wait=off" % self.labqmp_path,
        ]
        self.proc = lab.spawn(argv, os.path.join(d, name + ".qemu.log"))
        self._lab_sock = None
        self._lab_buf = b""
        self._next_id = 1
        self.qmp = None

    # --- command channel -------------------------------------------------
    def _connect_lab(self, deadline):
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("%s: QEMU exited with %s; see %s" %
                                   (self.name, self.proc.returncode, self.console_path))
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.lab_path)
                self._lab_sock = s
                return
            except OSError:
                s.close()
                if time.time() > deadline:
                    raise TimeoutError("%s: lab socket never appeared" % self.name)
                time.sleep(0.05)

    def run(self, cmd, timeout=60, check=True):
        """Run a shell command in the guest; returns (rc, output).

        The command must be one line. Background jobs must redirect their
        output away from the channel (e.g. `>/run/x.log 2>&1 &`)."""
        if "\n" in cmd:
            raise ValueError("guest commands are single lines")
        deadline = time.time() + timeout
        if self._lab_sock is None:
            self._connect_lab(deadline)
        cid = self._next_id
        self._next_id += 1
        self._lab_sock.sendall(("%d %s\n" % (cid, cmd)).encode())
        mark = ("\n%s %d " % (DONE_MARK, cid)).encode()
        while mark not in self._lab_buf or not self._lab_buf.split(mark, 1)[1].count(b"\n"):
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("%s: `%s` did not finish in %ss" % (self.name, cmd, timeout))
            self._lab_sock.settimeout(left)
            try:
                chunk = self._lab_sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise ConnectionError("%s: lab channel closed" % self.name)
            self._lab_buf += chunk
        out, rest = self._lab_buf.split(mark, 1)
        rc_text, self._lab_buf = rest.split(b"\n", 1)
        rc = int(rc_text)
        text = out.decode(errors="replace")
        if check and rc != 0:
            raise RuntimeError("%s: `%s` failed (%d): %s" % (self.name, cmd, rc, text))
        return rc, text

    def wait_ready(self, timeout=90):
        """Wait until the guest's shell loop answers."""
        deadline = time.time() + timeout
        self._connect_lab(deadline)
        while True:
            try:
                self.run("true", timeout=max(1, min(5, deadline - time.time())))
                return
            except TimeoutError:
                if time.time() > deadline:
                    raise
                # The first line may have been sent before the guest opened
                # its port; a fresh connection resynchronises.
                self._lab_sock.close()
                self._lab_sock = None
                self._lab_buf = b""
                self._connect_lab(deadline)

    # --- observations ----------------------------------------------------
    def meminfo_kib(self, field="MemTotal"):
        _, out = self.run("grep '^%s:' /proc/meminfo" % field)
        return int(out.split()[1])

    def lab_qmp(self):
        if self.qmp is None:
            self.qmp = Qmp(self.labqmp_path)
        return self.qmp

    def vmem(self):
        """virtio-mem device state from query-memory-devices (bytes)."""
        for dev in self.lab_qmp().execute("query-memory-devices"):
            if dev["type"] == "virtio-mem":
                return dev["data"]
        raise RuntimeError("%s: no virtio-mem device" % self.name)

    def total_mib(self):
        """Boot memory plus plugged virtio-mem, in MiB, as QMP reports it."""
        return self.boot_mib + self.vmem()["size"] // MIB

    def hog(self, mib, step_mib=16, step_ms=100):
        """Start (or retarget) ramm-hog in the guest at @mib MiB."""
        rc, _ = self.run("test -p /run/ramm-hog.ctl", check=False)
        if rc != 0:
            self.run("ramm-hog run --step-mib %d --step-ms %d --target %d "
                     ">/run/ramm-hog.log 2>&1 &" % (step_mib, step_ms, mib))
            for _ in range(100):
                if self.run("test -p /run/ramm-hog.ctl", check=False)[0] == 0:
                    return
                time.sleep(0.05)
            raise RuntimeError("%s: ramm-hog did not start" % self.name)
        self.run("ramm-hog set %d" % mib)

    def hog_status(self):
        _, out = self.run("ramm-hog status", check=False)
        return dict(kv.split("=", 1) for kv in out.split() if "=" in kv)


class Lab:
    """A set of guests and helper processes, all stopped by PID on close."""

    def __init__(self, initramfs=None, kernel=None):
        self.kernel = kernel or kernel_version()
        self.dir = tempfile.mkdtemp(prefix="ramm-lab-", dir="/tmp")
        # Built afresh for every lab (under a second): never a stale agent
        # or module in the guest.
        self.initramfs = initramfs or build_initramfs(
            os.path.join(self.dir, "initramfs.cpio.gz"), self.kernel)
        self.procs = []
        self.guests = {}
        self._hugepages_old = {}  # nr_hugepages path -> count to restore
        self._mounts = []
        self._old_handlers = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old_handlers[sig] = signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, _frame):
        log("signal %d: stopping everything" % signum)
        self.close()
        sys.exit(128 + signum)

    def spawn(self, argv, log_path, env=None):
        """Start a process whose PID this lab owns and will stop."""
        logf = open(log_path, "ab")
        proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
        logf.close()
        self.procs.append(proc)
        return proc

    def boot(self, name, boot_mib=256, vmem_mib=256, vmem_max_mib=1024,
             block_mib=2, agent=True, kmod=False, cmdline_extra="",
             memdev=None, vmem_opts=""):
        """Start a guest. kmod: load ramm_guest.ko at boot, before the
        agent starts (needs `make kmod` for this lab's kernel). memdev:
        the virtio-mem device's memory backend and its options, without
        id and size (default memory-backend-ram); vmem_opts: more
        virtio-mem-pci options, each starting with a comma."""
        if kmod and not os.path.exists(kmod_path(self.kernel)):
            raise RuntimeError("ramm_guest.ko not built for %s: run `make kmod`" % self.kernel)
        g = Guest(self, name, boot_mib, vmem_mib, vmem_max_mib, block_mib,
                  agent, kmod, cmdline_extra, memdev, vmem_opts)
        self.guests[name] = g
        return g

    def boot_all(self, specs, timeout=120):
        """Boot several guests in parallel; specs: list of (name, kwargs)."""
        guests = [self.boot(name, **kw) for name, kw in specs]
        for g in guests:
            g.wait_ready(timeout)
        return guests

    def stop(self, proc, timeout=10):
        """Stop one of our processes: SIGTERM, then SIGKILL, by PID."""
        if proc.poll() is None:
            try:
                proc.terminate()
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc in self.procs:
            self.procs.remove(proc)

    # --- host huge pages ---------------------------------------------------
    def hugepages(self, page_kib, count):
        """Set the host's persistent pool of @page_kib pages to @count and
        return how many it has now (fewer if memory is too fragmented).
        close() puts back what was there, after the guests stopped."""
        path = "/sys/kernel/mm/hugepages/hugepages-%dkB/nr_hugepages" % page_kib
        with open(path) as f:
            old = int(f.read())
        if path not in self._hugepages_old:
            self._hugepages_old[path] = old
        with open(path, "w") as f:
            f.write("%d\n" % count)
        with open(path) as f:
            return int(f.read())

    def mount_hugetlbfs(self, page_kib):
        """A hugetlbfs of @page_kib pages, mounted in the lab directory
        until close()."""
        path = os.path.join(self.dir, "hugetlbfs-%dk-%d" % (page_kib, len(self._mounts)))
        os.mkdir(path)
        subprocess.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=%dK" % page_kib,
                        "none", path], check=True)
        self._mounts.append(path)
        return path

    def close(self):
        for g in self.guests.values():
            if g.qmp:
                g.qmp.close()
                g.qmp = None
        for proc in reversed(list(self.procs)):
            self.stop(proc)
        # Pages are free again only once the guests are gone.
        for path in reversed(self._mounts):
            subprocess.run(["umount", "-l", path], check=False)
        self._mounts = []
        for path, old in self._hugepages_old.items():
            with open(path, "w") as f:
                f.write("%d\n" % old)
        self._hugepages_old = {}
        if os.environ.get("RAMM_LAB_KEEP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)
        for sig, h in self._old_handlers.items():
            signal.signal(sig, h)
        self._old_handlers = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def main(argv):
    if len(argv) >= 2 and argv[1] == "kernels":
        print("\n".join(installed_kernels()))
        return 0
    if len(argv) >= 2 and argv[1] == "kernel":
        print(kernel_version())
        return 0
    if len(argv) >= 2 and argv[1] == "build-initramfs":
        ver = kernel_version()
        path = build_initramfs(os.path.join(LAB_BUILD, "initramfs-%s.cpio.gz" % ver), ver)
        log("built %s" % path)
        return 0
    print("usage: lab.py build-initramfs | kernel | kernels", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
