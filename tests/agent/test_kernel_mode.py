#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Host test of ramm-agent's kernel mode, no QEMU needed.

A unix SOCK_SEQPACKET socket stands in for /dev/ramm (--dev: one record per
read, one message per write, like the device) and a unix stream socket for
the broker's end of the virtio port (--port). The test plays both the module
and the broker:

  1. hello says mode kernel; the broker's welcome reaches the "device";
  2. records become reports (seq, urgent, kernel-mode members), and no
     periodic /proc report is sent in kernel mode;
  3. a record with a bad bid is dropped; grant and evict reach the device;
  4. the device goes away: new hello in proc mode, /proc reports resume with
     a seq that does not go back;
  5. the device comes back: the agent reconnects within DEV_RETRY_MS, says
     hello in kernel mode and relays the last welcome at once;
  6. a record of another ABI: back to proc mode.

usage: tests/agent/test_kernel_mode.py [build/ramm-agent]
"""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

AGENT = sys.argv[1] if len(sys.argv) > 1 else "build/ramm-agent"

REC_FMT = "<IIQQII" + "Q" * 8 + "Q" * 10 + "Q" * 10 + "QQ" + "II" * 64 + "Q"
REC_SIZE = struct.calcsize(REC_FMT)
assert REC_SIZE == 792, REC_SIZE
MSG_FMT = "<IIQQQQ"
MSG_SIZE = struct.calcsize(MSG_FMT)
assert MSG_SIZE == 40

URGENT, SHRINKER, OOM, WELCOMED = 1, 2, 4, 8
MSG_WELCOME, MSG_GRANT, MSG_EVICT, MSG_BOOT = 1, 2, 3, 4
MIB = 1 << 20
KERNEL_FREE_KIB = 23456


def record(seq, flags=WELCOMED, bid=((12, 1000), (40, 300)), version=1,
           size=REC_SIZE, unit=2 * MIB):
    steps = []
    for u, p in bid:
        steps += [u, p]
    steps += [0, 0] * (64 - len(bid))
    hist_vmem = list(range(10, 0, -1))
    hist_all = list(range(100, 110))
    return struct.pack(REC_FMT, version, size, seq, 1234, flags, len(bid),
                       406592, 40000, 61000, 7, 1234, 99, 1, 262144,
                       *hist_vmem, *hist_all, unit, KERNEL_FREE_KIB, *steps, 0)


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)
    print("ok  ", what)


class Broker:
    """The broker's end of the port: reads JSON lines."""

    def __init__(self, path):
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(1)
        self.conn = None
        self.buf = b""

    def accept(self, timeout=5):
        self.srv.settimeout(timeout)
        self.conn, _ = self.srv.accept()

    def send(self, obj):
        self.conn.sendall((json.dumps(obj) + "\n").encode())

    def recv(self, timeout=3):
        """The next line as an object, or None after @timeout seconds."""
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.conn.settimeout(left)
            try:
                data = self.conn.recv(65536)
            except socket.timeout:
                return None
            if not data:
                raise Fail("agent closed the port")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        assert len(line) < 4096
        return json.loads(line)

    def recv_type(self, typ, timeout=3):
        end = time.monotonic() + timeout
        while True:
            m = self.recv(max(0.01, end - time.monotonic()))
            if m is None or m["type"] == typ:
                return m


class Dev:
    """The module's end of /dev/ramm."""

    def __init__(self, path):
        self.path = path
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.srv.bind(path)
        self.srv.listen(1)
        self.conn = None

    def accept(self, timeout=5):
        self.srv.settimeout(timeout)
        self.conn, _ = self.srv.accept()

    def send(self, rec):
        self.conn.send(rec)

    def recv_msg(self, timeout=3):
        self.conn.settimeout(timeout)
        try:
            m = self.conn.recv(4096)
        except socket.timeout:
            return None
        if len(m) != MSG_SIZE:
            raise Fail("message of %d bytes" % len(m))
        return struct.unpack(MSG_FMT, m)

    def drop(self):
        self.conn.close()
        self.conn = None


def main():
    d = tempfile.mkdtemp(prefix="ramm-kmode-")
    broker = Broker(os.path.join(d, "port"))
    dev = Dev(os.path.join(d, "dev"))
    log = open(os.path.join(d, "agent.log"), "w+")
    agent = subprocess.Popen([AGENT, "--port", broker.srv.getsockname(),
                              "--dev", dev.path, "--interval-ms", "500"],
                             stderr=log)
    try:
        dev.accept()
        broker.accept()
        hello = broker.recv_type("hello")
        check(hello and hello["mode"] == "kernel", "hello in kernel mode")

        welcome = {"type": "welcome", "v": 1, "unit_bytes": 2 * MIB,
                   "floor_bytes": 256 * MIB, "cap_bytes": 1024 * MIB,
                   "size_bytes": 512 * MIB, "boot_bytes": 256 * MIB}
        broker.send(welcome)
        m = dev.recv_msg()
        check(m == (1, MSG_WELCOME, 2 * MIB, 256 * MIB, 1024 * MIB, 512 * MIB),
              "welcome relayed to the device")
        check(dev.recv_msg() == (1, MSG_BOOT, 256 * MIB, 0, 0, 0),
              "the boot memory follows it")

        check(broker.recv_type("report", timeout=1.6) is None,
              "no periodic report in kernel mode")

        dev.send(record(1))
        r = broker.recv_type("report")
        check(r and r["seq"] == 1 and not r["urgent"], "record 1 -> report")
        check(r["bid"] == [[12, 1000], [40, 300]] and
              r["unit_bytes"] == 2 * MIB and r["mem_total_kib"] == 406592 and
              r["refault_file"] == 1234, "record values in the report")
        check(r["hist_vmem"] == list(range(10, 0, -1)) and
              r["hist_all"] == list(range(100, 110)) and
              r["shrinker_scans"] == 99 and r["oom_events"] == 1 and
              r["vmem_online_kib"] == 262144 and
              r["kernel_free_kib"] == KERNEL_FREE_KIB, "kernel-mode members")
        check("psi_some_avg10" in r and "pgscan" in r, "PSI/pgscan present")

        dev.send(record(2, flags=WELCOMED | URGENT))
        r = broker.recv_type("report")
        check(r and r["seq"] == 2 and r["urgent"], "urgent record -> urgent report")

        dev.send(record(3, flags=0))
        r = broker.recv_type("report")
        check(r and r["unit_bytes"] == 0 and r["bid"] == [],
              "no bid before the module is welcomed")

        time.sleep(0.15)
        dev.send(record(4, bid=((1, 10), (1, 20))))
        check(broker.recv_type("report", timeout=0.8) is None,
              "record with an increasing bid dropped")

        broker.send({"type": "grant", "v": 1, "target_bytes": 768 * MIB,
                     "price": 300})
        check(dev.recv_msg() == (1, MSG_GRANT, 768 * MIB, 300, 0, 0),
              "grant relayed")
        broker.send({"type": "evict", "v": 1, "units": 32,
                     "deadline_ms": 5000})
        check(dev.recv_msg() == (1, MSG_EVICT, 32, 5000, 0, 0),
              "evict relayed")
        broker.send({"type": "evict", "v": 1, "units": 32,
                     "deadline_ms": 5000, "id": 9})
        check(dev.recv_msg() == (1, MSG_EVICT, 32, 5000, 9, 0),
              "evict id relayed in c")
        # A record sampled before that write (timestamp 1234) cannot have
        # finished the notice: "evicting" stays true whatever its flags.
        time.sleep(0.15)
        dev.send(record(9))
        rep = broker.recv_type("report")
        check(rep is not None and rep.get("evicting") is True and
              rep.get("evict_id") == 0,
              "a record older than the notice's write reports evicting: %s" %
              (rep and {k: rep.get(k) for k in ("evicting", "evict_id")}))

        # Rate limit: a burst of records gives at most one per 100 ms.
        t0 = time.monotonic()
        for seq in range(10, 30):
            dev.send(record(seq))
        n = 0
        while broker.recv_type("report", timeout=0.5) is not None:
            n += 1
        dt = time.monotonic() - t0
        check(n >= 5 and n / dt <= 11, "burst of 20 records: %d reports in "
              "%.2f s" % (n, dt))

        # The device goes away.
        dev.drop()
        hello = broker.recv_type("hello")
        check(hello and hello["mode"] == "proc", "device gone: hello in proc mode")
        r = broker.recv_type("report", timeout=1)
        check(r and r["seq"] > 29 and "hist_all" not in r,
              "proc reports resume, seq %d continues" % r["seq"])
        r2 = broker.recv_type("report", timeout=1)
        check(r2 and r2["seq"] == r["seq"] + 1 and
              r2["bid"] and r2["unit_bytes"] == 2 * MIB,
              "periodic proc reports with a /proc bid")

        # It comes back (DEV_RETRY_MS = 5 s after a stint with records).
        dev.accept(timeout=7)
        m = dev.recv_msg()
        check(m == (1, MSG_WELCOME, 2 * MIB, 256 * MIB, 1024 * MIB, 512 * MIB),
              "device back: last welcome relayed at once")
        check(dev.recv_msg() == (1, MSG_BOOT, 256 * MIB, 0, 0, 0),
              "device back: the boot memory follows it")
        hello = broker.recv_type("hello")
        check(hello and hello["mode"] == "kernel", "hello in kernel mode again")
        broker.send(welcome)
        check(dev.recv_msg()[1] == MSG_WELCOME, "new welcome relayed")
        check(dev.recv_msg()[1] == MSG_BOOT, "and its boot memory")
        check(broker.recv_type("report", timeout=1.2) is None,
              "no proc reports once back in kernel mode")
        dev.send(record(1))
        r = broker.recv_type("report")
        check(r and r["seq"] == 1 and "hist_all" in r, "records again")

        # A record of another ABI: the device is given up.
        dev.send(record(2, version=2))
        hello = broker.recv_type("hello")
        check(hello and hello["mode"] == "proc",
              "record version 2: back to proc mode")

        agent.send_signal(signal.SIGTERM)
        check(agent.wait(timeout=5) == 0, "exits on SIGTERM")
    except Exception:
        agent.kill()
        agent.wait()
        raise
    finally:
        log.seek(0)
        print("---- agent log")
        sys.stdout.write(log.read())
    print("PASS")


if __name__ == "__main__":
    try:
        main()
    except Fail as e:
        print("FAIL", e)
        sys.exit(1)
