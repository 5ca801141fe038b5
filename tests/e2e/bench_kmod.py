#!/usr/bin/env python3
"""make bench, part 2: what ramm_guest.ko costs a guest.

Two guests boot side by side in the same run:
  k  ramm_guest.ko loaded, nothing else reading it but ramm-dump
  p  ramm-agent in /proc mode (the baseline: the userspace sampler)
For DURATION seconds at the default 1 s interval we take the on-CPU time of
krammd and of ramm-agent from /proc/PID/schedstat (nanoseconds) and count
their samples (record seq, report count), giving CPU per sample and per
second for each, and their ratio.

Then the urgent path: ramm-hog --greedy drives guest k into reclaim while
ramm-dump watches /dev/ramm; each urgent record's delay from its sampling
(ktime at the shrinker or OOM wakeup) to the read() returning is printed by
ramm-dump as delay_us. We report the median and the worst of those.

Last, the free-extent scan's cost per GiB of guest memory, on the largest
guest this host can boot under TCG (RAMM_BENCH_SCAN_GIB of virtio-mem,
default 256; QEMU maps the device without reserving it, and the guest
touches only its memmap, 16 MiB per GiB). krammd scans back to back
(ramm-dump spin) and /sys/class/misc/ramm/stats gives the scans' mean
time: first with only the boot memory (the baseline, same guest, same
run), then with the device plugged. We report ns per GiB for both, their
ratio, and what a scan costs at the 10 per second reclaim can ask for."""

import os

import statistics
import time

from common import MIB, lab, wait_for

DURATION = 20
SCAN_GIB = int(os.environ.get("RAMM_BENCH_SCAN_GIB", "256"))
SPIN_S = 5


def pid_of(g, comm):
    _, out = g.run("for p in /proc/[0-9]*; do [ \"$(cat $p/comm 2>/dev/null)\" = %s ] && "
                   "echo ${p#/proc/}; done; true" % comm)
    pids = out.split()
    if not pids:
        raise RuntimeError("%s: no %s process" % (g.name, comm))
    return int(pids[0])


def cpu_ns(g, pid):
    _, out = g.run("cat /proc/%d/schedstat" % pid)
    return int(out.split()[0])


def seq_now(g):
    _, out = g.run("ramm-dump read -n 1 -N; true")
    for tok in out.split():
        if tok.startswith("seq="):
            return int(tok[4:])
    raise RuntimeError("no record: %r" % out)


def reports_now(g):
    _, out = g.run("cat /run/ramm-agent.log")
    return out


def scan_stats(g):
    _, out = g.run("cat /sys/class/misc/ramm/stats/scans "
                   "/sys/class/misc/ramm/stats/scan_ns_sum")
    scans, ns = (int(x) for x in out.split())
    return scans, ns


def mean_scan_ns(g):
    """Mean wall-clock time of a scan while krammd scans back to back."""
    s0, n0 = scan_stats(g)
    g.run("ramm-dump spin %d" % SPIN_S, timeout=SPIN_S + 60)
    s1, n1 = scan_stats(g)
    if s1 - s0 < 10:
        raise RuntimeError("only %d scans in %d s" % (s1 - s0, SPIN_S))
    return (n1 - n0) / (s1 - s0), s1 - s0


def bench_scan():
    # The memmap of the plugged memory comes out of boot memory.
    boot_mib = 1024 + SCAN_GIB * 16 * 3 // 2
    with lab.Lab() as L:
        g, = L.boot_all([("s", dict(agent=False, kmod=True, vmem_mib=0, boot_mib=boot_mib,
                                    vmem_max_mib=SCAN_GIB * 1024,
                                    memdev="memory-backend-ram,reserve=off"))], timeout=300)
        total_kib = g.meminfo_kib("MemTotal")
        base_ns, base_n = mean_scan_ns(g)
        base_gib = total_kib / (1 << 20)
        t0 = time.monotonic()
        g.lab_qmp().execute("qom-set", path="/machine/peripheral/vm0",
                            property="requested-size", value=SCAN_GIB * 1024 * MIB)
        wait_for("the plug of %d GiB" % SCAN_GIB,
                 lambda: g.vmem()["size"] == SCAN_GIB * 1024 * MIB, 1800, interval=1)
        plug_s = time.monotonic() - t0
        big_kib = g.meminfo_kib("MemTotal")
        big_ns, big_n = mean_scan_ns(g)
        big_gib = big_kib / (1 << 20)
        with open("/proc/%d/status" % g.proc.pid) as f:
            rss = next(l.split()[1] for l in f if l.startswith("VmRSS:"))
        print("scan_baseline guest_gib=%.1f scans=%d scan_us=%.0f ns_per_gib=%.0f" %
              (base_gib, base_n, base_ns / 1000, base_ns / base_gib))
        print("scan_large guest_gib=%.1f plugged_gib=%d plug_s=%.0f scans=%d scan_us=%.0f "
              "ns_per_gib=%.0f vs_baseline=%.2f cpu_at_10hz=%.1f%% qemu_rss_mib=%d" %
              (big_gib, SCAN_GIB, plug_s, big_n, big_ns / 1000, big_ns / big_gib,
               (big_ns / big_gib) / (base_ns / base_gib), big_ns * 10 / 1e7,
               int(rss) // 1024))


def main():
    with lab.Lab() as L:
        k, p = L.boot_all([("k", dict(agent=False, kmod=True, vmem_mib=0)),
                           ("p", dict(vmem_mib=0))])
        time.sleep(3)
        kpid, ppid = pid_of(k, "krammd"), pid_of(p, "ramm-agent")
        k0, p0, s0 = cpu_ns(k, kpid), cpu_ns(p, ppid), seq_now(k)
        t0 = time.monotonic()
        time.sleep(DURATION)
        k1, p1, s1 = cpu_ns(k, kpid), cpu_ns(p, ppid), seq_now(k)
        secs = time.monotonic() - t0
        samples = max(1, s1 - s0)
        # The agent reports once a second in /proc mode, and more often on
        # its 200 ms MemAvailable checks; both are its sampling cost.
        agent_ns_per_s = (p1 - p0) / secs
        krammd_ns_per_s = (k1 - k0) / secs
        print("krammd samples=%d cpu_us_per_sample=%.1f cpu_us_per_s=%.1f" %
              (samples, (k1 - k0) / samples / 1000, krammd_ns_per_s / 1000))
        print("baseline ramm-agent(proc) cpu_us_per_s=%.1f krammd_vs_agent=%.2f" %
              (agent_ns_per_s / 1000, krammd_ns_per_s / agent_ns_per_s))

        k.run("ramm-dump watch -n 2000 -t 25 >/run/watch.log 2>&1 &")
        time.sleep(1)
        k.run("ramm-hog run --target 400 --greedy --step-ms 20 >/run/hog.log 2>&1 &")
        time.sleep(15)
        _, out = k.run("cat /run/watch.log")
        delays = []
        for line in out.splitlines():
            if "delay_us=" not in line or "flags=" not in line:
                continue
            flags = line.split("flags=")[1].split()[0]
            if "U" in flags:
                delays.append(int(line.split("delay_us=")[1].split()[0]))
        if not delays:
            raise RuntimeError("no urgent record under reclaim:\n" + out[-2000:])
        print("urgent_to_read urgent_records=%d median_us=%d max_us=%d" %
              (len(delays), statistics.median(delays), max(delays)))
    bench_scan()


if __name__ == "__main__":
    main()
