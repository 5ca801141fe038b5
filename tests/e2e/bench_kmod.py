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
ramm-dump as delay_us. We report the median and the worst of those."""

import statistics
import time

from common import lab, wait_for

DURATION = 20


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


if __name__ == "__main__":
    main()
