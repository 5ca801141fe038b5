#!/usr/bin/env python3
"""Check ramm_guest.ko in real lab guests (tests/lab/lab.py), and measure it.

    make -C kernel/guest-driver KVER=<guest kernel> && make -C kernel/guest-driver tools
    python3 kernel/guest-driver/tools/lab-check.py [--kernel VER] [--evict-runs N]

Runs, in one guest (256 MiB boot + 256 MiB virtio-mem, no ramm-agent):
  load/unload five times; /dev/ramm size and message checks; a welcome;
  a plug to 768 MiB (the histogram must cover it); ramm-hog filling and
  emptying the guest (the histogram must follow); a tmpfs write that drives
  the guest into reclaim and the OOM killer (urgent records, EPOLLPRI, and
  their latency from krammd's debug line); and a clean dmesg.
Then, in fresh guests each, the evict measurement: the time virtio-mem
takes to unplug 384 MiB whose upper part holds anonymous memory, without an
evict notice ("base"), after krammd has finished preparing for one
("lead"), and with the notice and the resize at once ("conc", what rammd
does today).

--kernel VER picks the guest kernel (any lab.py lists with `lab.py
kernels`); the module is this folder's build if it is for VER, else
build/kmod/VER/ramm_guest.ko from `make kmod`, or --ko PATH.

Every process is stopped by PID through lab.Lab. Prints PASS/FAIL lines and
the numbers; exits 1 if a check failed.
"""
import argparse
import os
import re
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(REPO, "tests", "lab"))
import lab  # noqa: E402

MIB = 1 << 20
KO = os.path.join(REPO, "kernel", "guest-driver", "ramm_guest.ko")
DUMP = os.path.join(HERE, "ramm-dump")
failed = []


def check(ok, what):
    print("%s %s" % ("PASS" if ok else "FAIL", what), flush=True)
    if not ok:
        failed.append(what)


def parse(rec):
    """One ramm-dump record line as a dict (lists for hist_*)."""
    out = {}
    for key, val in re.findall(r"(\w+)=(\S+)", rec):
        if key.startswith("hist_"):
            out[key] = [int(x) for x in val.split(",")]
        elif key in ("flags", "bid", "poll"):
            out[key] = val
        else:
            out[key] = int(val)
    return out


class Shell:
    def __init__(self, guest):
        self.g = guest

    def __call__(self, cmd, timeout=60):
        _, out = self.g.run(cmd, timeout=timeout, check=False)
        return out.strip()

    def rc(self, cmd, timeout=60):
        return self.g.run(cmd, timeout=timeout, check=False)[0]

    def record(self):
        return parse(self("ramm-dump read -n 1 -N"))

    def held(self, ctl):
        m = re.search(r"held_mib=(\d+)", self("ramm-hog status --ctl %s" % ctl))
        return int(m.group(1)) if m else 0


def dmesg_clean(sh):
    """No warning, BUG or oops; the OOM killer's own stack dumps are fine."""
    bad = sh("dmesg | grep -E 'WARNING|BUG|general protection|Oops|refcount_t|"
             "list_(add|del) corruption|ramm_guest.*(fail|error)' | "
             "grep -v 'module verification failed' || true")
    traces = int(sh("dmesg | grep -c 'Call Trace' || true") or 0)
    ooms = int(sh("dmesg | grep -c 'invoked oom-killer' || true") or 0)
    if traces > ooms:
        bad += "\n%d call traces, %d from the OOM killer" % (traces, ooms)
    return bad.strip() == "", bad.strip()


def wait_size(g, size, timeout=60):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if g.vmem()["size"] == size:
            return time.time() - t0
        time.sleep(0.05)
    return None


def functional(L):
    g, = L.boot_all([("k", dict(boot_mib=256, vmem_mib=256, agent=False))])
    sh = Shell(g)
    wait_size(g, 256 * MIB)
    time.sleep(1)

    print("  " + sh("dmesg | grep -iE 'virtio_mem.*(block size|subblock)' | sed 's/^.*virtio_mem/virtio_mem/'")
          .replace("\n", "\n  "))
    print("== load/unload x5")
    seqs = []
    for _ in range(5):
        out = sh("insmod /lib/modules/ramm_guest.ko && ls -l /dev/ramm && "
                 "ramm-dump read -n 2 && rmmod ramm_guest")
        seqs.append([parse(l)["seq"] for l in out.splitlines() if "seq=" in l])
    check(all(s == [1, 2] for s in seqs), "five load/read/unload cycles, seq 1 then 2: %s" % seqs)
    ok, bad = dmesg_clean(sh)
    check(ok, "dmesg clean after unloads" + ("" if ok else ": " + bad))

    print("== /dev/ramm checks")
    sh("insmod /lib/modules/ramm_guest.ko dyndbg=+p")
    r0 = sh.record()
    check(r0.get("flags") == "-" and r0.get("unit") == 0 and r0.get("bid") == "[]",
          "before a welcome: no flags, unit 0, empty bid")
    cases = [
        ("write-size 39", "EINVAL"), ("write-size 41", "EINVAL"),
        ("read-size 791", "EINVAL"), ("read-size 792", "ok 792"),
        ("raw 2 1 2M 512M 1G 512M", "EINVAL"), ("raw 1 0 0 0 0 0", "EINVAL"),
        ("raw 1 4 1 0 0 0", "EINVAL"),
        ("welcome 3M 512M 1G 512M", "EINVAL"), ("welcome 2048 512M 1G 512M", "EINVAL"),
        ("welcome 2M 1G 512M 512M", "EINVAL"), ("welcome 2M 512M 1073741825 512M", "EINVAL"),
        ("welcome 2M 512M 1G 536870913", "EINVAL"), ("welcome 2M 536866817 1G 512M", "EINVAL"),
        ("grant 512M 300", "ok 40"), ("raw 1 2 512M 300 1 0", "EINVAL"),
        ("evict 0 5000", "ok 40"), ("evict 4 600001", "EINVAL"),
        ("raw 1 3 4 5000 0 7", "EINVAL"),
        ("raw 1 3 4 5000 0x8000000000000000 0", "EINVAL"),
    ]
    for args, want in cases:
        got = sh("ramm-dump " + args)
        check(want in got, "ramm-dump %s -> %s (%s)" % (args, want, got))
    p = "/sys/module/ramm_guest/parameters/interval_ms"
    check(sh.rc("echo 50 > %s" % p) != 0 and sh.rc("echo 60001 > %s" % p) != 0,
          "interval_ms rejects 50 and 60001")
    sh("echo 60000 > %s" % p)
    sh("ramm-dump read -n 1")  # the one record that may be sampled at 1 s
    check("EAGAIN" in sh("ramm-dump read -n 2 -N"), "second O_NONBLOCK read of the same record -> EAGAIN")
    sh("echo 1000 > %s" % p)
    r1 = sh.record()
    check(r1["unit"] == 0 and r1["bid"] == "[]", "rejected welcomes changed nothing")
    total = g.total_mib() * MIB
    sh("ramm-dump welcome 2M %d %d %d" % (512 * MIB, 1280 * MIB, total))
    r2 = parse(sh("ramm-dump read -n 1"))
    check("W" in r2["flags"] and r2["unit"] == 2 * MIB and r2["seq"] > r1["seq"],
          "welcome publishes a record at once: flags=%s unit=%d seq %d->%d"
          % (r2["flags"], r2["unit"], r1["seq"], r2["seq"]))
    two = sh("ramm-dump read -n 1 & ramm-dump read -n 1; wait")
    check(two.count("seq=") == 2, "two openers at once each get a record")

    print("== plug 256 -> 768 MiB")
    before = sh.record()
    g.lab_qmp().execute("qom-set", path="/machine/peripheral/vm0",
                        property="requested-size", value=768 * MIB)
    wait_size(g, 768 * MIB)
    time.sleep(2)
    sh("ramm-dump welcome 2M %d %d %d" % (512 * MIB, 1280 * MIB, g.total_mib() * MIB))
    after = sh.record()
    print("  before: vmem_online_kib=%d hist_vmem=%s" % (before["vmem_online_kib"], before["hist_vmem"]))
    print("  after:  vmem_online_kib=%d hist_vmem=%s hist_all=%s" %
          (after["vmem_online_kib"], after["hist_vmem"], after["hist_all"]))
    check(after["vmem_online_kib"] == 768 * 1024, "vmem_online_kib follows the plug")
    check(after["hist_vmem"][0] >= 370 and after["hist_all"][0] > after["hist_vmem"][0],
          "hist_vmem covers the new memory")

    print("== ramm-hog fills and empties")
    sh("ramm-dump watch -n 1000 -t 60 > /run/w.log 2>&1 &")
    sh("ramm-hog run --target 1200 --reserve-mib 0 --step-mib 16 --step-ms 50 >/run/hog.log 2>&1 &")
    for _ in range(120):
        if "waiting=1" in sh("ramm-hog status"):
            break
        time.sleep(0.5)
    time.sleep(1.5)
    full = sh.record()
    print("  full:  avail_kib=%d hist_vmem=%s hist_all=%s bid=%s" %
          (full["avail_kib"], full["hist_vmem"], full["hist_all"], full["bid"]))
    check(full["hist_vmem"][0] <= 2, "hist_vmem drops to ~0 when the guest is full")
    sh("ramm-hog set 200")
    while sh.held("/run/ramm-hog.ctl") > 200:
        time.sleep(0.5)
    time.sleep(1.5)
    part = sh.record()
    print("  200 MiB held: hist_vmem=%s bid=%s" % (part["hist_vmem"], part["bid"]))
    check(part["hist_vmem"][0] >= 250, "hist_vmem recovers when the hog shrinks")

    print("== reclaim and OOM")
    sh("ramm-hog set 1200")
    for _ in range(120):
        if "waiting=1" in sh("ramm-hog status"):
            break
        time.sleep(0.5)
    sh("dd if=/dev/zero of=/tmp/fill bs=1M count=64 2>/dev/null", timeout=120)
    time.sleep(2)
    sh("rm -f /tmp/fill; ramm-hog quit")
    time.sleep(1)
    recs = [parse(l) for l in sh("cat /run/w.log").splitlines() if "seq=" in l]
    urgent = [r for r in recs if "U" in r["flags"]]
    pri = [r for r in urgent if "PRI" in r.get("poll", "")]
    for r in urgent:
        print("  urgent seq=%d flags=%s shrinker=%d oom=%d poll=%s delivery_us=%d bid=%s" %
              (r["seq"], r["flags"], r["shrinker"], r["oom"], r["poll"], r["delay_us"], r["bid"]))
    check(any("S" in r["flags"] for r in urgent), "an urgent record with RAMM_REC_SHRINKER")
    check(len(pri) == len(urgent) and urgent, "every urgent record polled with EPOLLPRI")
    gaps = [b["ts"] - a["ts"] for a, b in zip(urgent, urgent[1:])]
    check(all(gap >= 100_000_000 for gap in gaps), "urgent records >= 100 ms apart: %s ms" %
          [gap // 1_000_000 for gap in gaps])
    lat = sh("dmesg | grep 'urgent (' | sed 's/.*ramm_guest: //'")
    print("  " + lat.replace("\n", "\n  "))
    seqs = [r["seq"] for r in recs]
    check(seqs == list(range(seqs[0], seqs[0] + len(seqs))), "watcher saw every seq in order (%d..%d)" %
          (seqs[0], seqs[-1]))
    sh("kill $(pidof ramm-dump) 2>/dev/null; sleep 0.5")
    check(sh.rc("rmmod ramm_guest") == 0, "rmmod after the pressure test")
    ok, bad = dmesg_clean(sh)
    check(ok, "dmesg clean at the end" + ("" if ok else ": " + bad))


def evict_run(L, scenario, name):
    """One guest: unplug 384 of 768 MiB with anonymous memory in the top."""
    g = L.boot(name, boot_mib=256, vmem_mib=768, agent=False)
    g.wait_ready()
    sh = Shell(g)
    wait_size(g, 768 * MIB)
    time.sleep(1)
    sh("insmod /lib/modules/ramm_guest.ko")
    sh("ramm-dump welcome 2M %d %d %d" % (256 * MIB, 1280 * MIB, g.total_mib() * MIB))
    # Fill the low memory with hog a, then the high with hog b, drop a.
    sh("ramm-hog run --ctl /run/a.ctl --target 500 --reserve-mib 0 --step-ms 20 >/dev/null 2>&1 &")
    while sh.held("/run/a.ctl") < 484:
        time.sleep(0.3)
    sh("ramm-hog run --ctl /run/b.ctl --target 300 --reserve-mib 0 --step-ms 20 >/dev/null 2>&1 &")
    while sh.held("/run/b.ctl") < 284:
        time.sleep(0.3)
    sh("ramm-hog quit --ctl /run/a.ctl")
    time.sleep(2)
    res = {}
    q = g.lab_qmp()
    if scenario == "lead":
        t0 = time.time()
        sh("ramm-dump evict 192 60000")
        while "evict 192 units" not in sh("dmesg | grep 'evict 192'"):
            time.sleep(0.05)
        res["prepare_s"] = round(time.time() - t0, 2)
    elif scenario == "conc":
        sh("ramm-dump evict 192 60000")
    t0 = time.time()
    q.execute("qom-set", path="/machine/peripheral/vm0", property="requested-size", value=384 * MIB)
    took = wait_size(g, 384 * MIB, timeout=120)
    res["unplug_s"] = round(took, 2) if took is not None else None
    time.sleep(0.5)
    res["log"] = sh("dmesg | grep 'evict 192' | sed 's/.*ramm_guest: //'")
    res["hog_b_mib"] = sh.held("/run/b.ctl")
    ok, bad = dmesg_clean(sh)
    res["dmesg_clean"] = ok
    if g.qmp:
        g.qmp.close()
        g.qmp = None
    L.stop(g.proc)
    return res


def module_for(ver, path):
    """The ramm_guest.ko to test on kernel @ver: @path, else this folder's
    build if it is for @ver, else `make kmod`'s."""
    import subprocess
    cands = [path] if path else [KO, os.path.join(lab.BUILD, "kmod", ver, "ramm_guest.ko")]
    for ko in cands:
        if not os.path.exists(ko):
            continue
        magic = subprocess.run(["modinfo", "-F", "vermagic", ko], stdout=subprocess.PIPE,
                               text=True).stdout.split()
        if path or (magic and magic[0] == ver):
            return ko
    sys.exit("no ramm_guest.ko built for %s: make -C kernel/guest-driver KVER=%s" % (ver, ver))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", help="guest kernel release (default: the lab's)")
    ap.add_argument("--ko", help="the module to test (default: built for --kernel)")
    ap.add_argument("--evict-runs", type=int, default=2)
    ap.add_argument("--skip-functional", action="store_true")
    args = ap.parse_args()
    if args.kernel:
        os.environ["RAMM_LAB_KERNEL"] = args.kernel
    ver = lab.kernel_version()
    ko = module_for(ver, args.ko)
    print("kernel: %s, module: %s" % (ver, ko))
    tmp = tempfile.mkdtemp(prefix="ramm-guest-check-", dir="/tmp")
    try:
        out = lab.build_initramfs(os.path.join(tmp, "initramfs.cpio.gz"), ver,
                                  extra_files={"/lib/modules/ramm_guest.ko": ko,
                                               "/bin/ramm-dump": DUMP})
        run(args, ver, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d check(s) failed" % len(failed) if failed else "all checks passed")
    return 1 if failed else 0


def run(args, ver, out):
    with lab.Lab(initramfs=out, kernel=ver) as L:
        if not args.skip_functional:
            functional(L)
            for g in list(L.guests.values()):
                L.stop(g.proc)
        if args.evict_runs:
            print("== evict: unplug 384 MiB (192 units) with ~300 MiB of anon memory on top")
            for i in range(args.evict_runs):
                for scen in ("base", "lead", "conc"):
                    res = evict_run(L, scen, "e%d%s" % (i, scen))
                    print("  %-4s %s" % (scen, res), flush=True)
                    check(res["unplug_s"] is not None and res["hog_b_mib"] >= 284 and res["dmesg_clean"],
                          "%s run %d: unplugged, hog intact, dmesg clean" % (scen, i))


if __name__ == "__main__":
    sys.exit(main())
