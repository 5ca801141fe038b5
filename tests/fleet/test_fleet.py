"""The fleet itself, without rammd: that it speaks QMP the way QEMU 7.2
does and the agent protocol the way ramm-agent does, and that its faults
do what they say. A fleet that drifted from QEMU would make every daemon
test meaningless."""

import json
import os
import socket
import time

from fleet import FleetThread, MIB
from harness import check, remove_tree, short_tmpdir, wait_for


class Client:
    """A line client on a unix socket; line() raises socket.timeout when
    nothing comes within the timeout, and can be called again after."""

    def __init__(self, path, timeout=3.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def line(self):
        """The next JSON line (parsed); raises socket.timeout."""
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            check(data, "connection closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def send(self, obj):
        self.sock.sendall((json.dumps(obj) + "\n").encode())

    def cmd(self, execute, **arguments):
        """Run a QMP command, skipping events; returns the reply."""
        msg = {"execute": execute, "id": "t"}
        if arguments:
            msg["arguments"] = arguments
        self.send(msg)
        while True:
            reply = self.line()
            if "event" not in reply:
                return reply

    def close(self):
        self.sock.close()


class FleetBed:
    def __init__(self, **spec):
        self.dir = short_tmpdir("self")
        self.ft = FleetThread(self.dir)
        self.ft.add("a", **spec)
        self.qmp = os.path.join(self.dir, "a.qmp")
        self.agent = os.path.join(self.dir, "a.agent")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.ft.close()
        remove_tree(self.dir)


def negotiated(path):
    c = Client(path)
    check("QMP" in c.line(), "no greeting")
    check(c.cmd("qmp_capabilities").get("return") == {}, "capabilities refused")
    return c


def test_qmp_as_qemu_7_2():
    """Greeting, negotiation, the queries rammd makes and their errors."""
    with FleetBed(size_mib=256) as bed:
        c = Client(bed.qmp)
        greeting = c.line()["QMP"]
        check(greeting["version"]["qemu"]["major"] == 7 and
              greeting["version"]["qemu"]["minor"] == 2 and
              greeting["capabilities"] == ["oob"], "greeting %s" % greeting)
        r = c.cmd("query-memory-devices")
        check(r["error"]["class"] == "CommandNotFound" and r["id"] == "t",
              "before negotiation: %s" % r)
        check(c.cmd("qmp_capabilities") == {"return": {}, "id": "t"}, "negotiation")
        check(c.cmd("qmp_capabilities")["error"]["class"] == "CommandNotFound",
              "second negotiation accepted")
        check(c.cmd("no-such-command")["error"] == {
            "class": "CommandNotFound",
            "desc": "The command no-such-command has not been found"}, "unknown command")
        u = c.cmd("query-uuid")["return"]
        check(u == {"UUID": bed.ft.guest("a")["uuid"]} and len(u["UUID"]) == 36,
              "query-uuid %s" % u)
        s = c.cmd("query-memory-size-summary")["return"]
        check(s == {"base-memory": 512 * MIB, "plugged-memory": 256 * MIB}, "summary %s" % s)
        d = c.cmd("query-memory-devices")["return"][0]
        check(d["type"] == "virtio-mem" and set(d["data"]) == {
            "memaddr", "node", "requested-size", "size", "max-size", "block-size",
            "id", "memdev"} and d["data"]["memdev"] == "/objects/vmem0", "device %s" % d)
        for prop in ("hugetlb", "hugetlbsize", "mem-path"):
            e = c.cmd("qom-get", path="/objects/vmem0", property=prop)["error"]
            check(e == {"class": "GenericError", "desc":
                        "Property 'memory-backend-ram.%s' not found" % prop},
                  "qom-get %s: %s" % (prop, e))
        ids = [m["id"] for m in c.cmd("query-memdev")["return"]]
        check("vmem0" in ids, "query-memdev %s" % ids)
        e = c.cmd("qom-set", path="/machine/peripheral/vm0", property="requested-size",
                  value=3 * MIB)["error"]
        check("multiples of 'block-size'" in e["desc"], "unaligned request: %s" % e)
        e = c.cmd("qom-set", path="/machine/peripheral/vm0", property="requested-size",
                  value=2048 * MIB)["error"]
        check("exceeds the region size" in e["desc"], "too large: %s" % e)
        c.close()


def test_qmp_size_events_throttled():
    """Plugging 512 MiB at 512 MiB/s: the first event at once, then at most
    one a second, the last one carrying the final size."""
    with FleetBed(size_mib=0) as bed:
        c = negotiated(bed.qmp)
        t0 = time.monotonic()
        check(c.cmd("qom-set", path="/machine/peripheral/vm0", property="requested-size",
                    value=512 * MIB) == {"return": {}, "id": "t"}, "qom-set")
        events = []
        c.sock.settimeout(2.5)
        try:
            while True:
                ev = c.line()
                events.append((time.monotonic() - t0, ev))
        except socket.timeout:
            pass
        check(events and events[0][0] < 0.3, "first event late: %s" % events[:1])
        for (t1, _), (t2, _) in zip(events, events[1:]):
            check(t2 - t1 > 0.9, "events %.2fs apart" % (t2 - t1))
        last = events[-1][1]
        check(last["event"] == "MEMORY_DEVICE_SIZE_CHANGE" and
              last["data"] == {"id": "vm0", "size": 512 * MIB,
                               "qom-path": "/machine/peripheral/vm0"} and
              set(last["timestamp"]) == {"seconds", "microseconds"}, "last event %s" % last)
        d = c.cmd("query-memory-devices")["return"][0]["data"]
        check(d["size"] == d["requested-size"] == 512 * MIB, "device %s" % d)
        c.close()


def test_qmp_one_client_at_a_time():
    """A second client is not greeted until the first has gone."""
    with FleetBed() as bed:
        first = negotiated(bed.qmp)
        second = Client(bed.qmp, timeout=0.5)
        try:
            second.line()
            raise AssertionError("second client greeted while the first is connected")
        except socket.timeout:
            pass
        first.close()
        second.sock.settimeout(3)
        check("QMP" in second.line(), "second client not greeted after the first left")
        second.close()


def test_agent_protocol():
    """hello on connect, reports with an empty bid until a welcome, then in
    its unit; an urgent report on demand."""
    with FleetBed(size_mib=256, demand_mib=900) as bed:
        c = Client(bed.agent)
        hello = c.line()
        check(hello["type"] == "hello" and hello["mode"] == "proc" and hello["v"] == 1,
              "hello %s" % hello)
        r = c.line()
        check(r["type"] == "report" and r["unit_bytes"] == 0 and r["bid"] == [] and
              r["mem_total_kib"] == 768 * 1024, "report before welcome %s" % r)
        c.send({"type": "welcome", "v": 1, "unit_bytes": 2 * MIB, "floor_bytes": 512 * MIB,
                "cap_bytes": 1536 * MIB, "size_bytes": 768 * MIB})
        wait_for("welcome recorded", lambda: bed.ft.guest("a")["welcome"], 2)
        bed.ft.do("a", "set_demand", 900, True)
        r = c.line()
        while not r["urgent"]:  # a periodic report may come first
            r = c.line()
        check(r["urgent"] and r["unit_bytes"] == 2 * MIB and r["bid"] and
              r["bid"][0][1] == 8000, "urgent report after welcome %s" % r)
        prices = [p for _, p in r["bid"]]
        check(prices == sorted(prices, reverse=True), "bid prices increase: %s" % r["bid"])
        c.send({"type": "grant", "v": 1, "target_bytes": 1024 * MIB, "price": 0})
        wait_for("grant recorded", lambda: bed.ft.guest("a")["grants"], 2)
        c.close()


def test_faults():
    """die leaves the socket files but refuses connections; revive serves
    again; kill_agent removes the agent socket; a stalled device stops."""
    with FleetBed(size_mib=0, plug_mib_s=64) as bed:
        bed.ft.do("a", "die")
        check(os.path.exists(bed.qmp) and os.path.exists(bed.agent), "files gone")
        for path in (bed.qmp, bed.agent):
            try:
                Client(path)
                raise AssertionError("%s still accepts" % path)
            except ConnectionRefusedError:
                pass
        bed.ft.do("a", "revive")
        c = negotiated(bed.qmp)
        c.cmd("qom-set", path="/machine/peripheral/vm0", property="requested-size",
              value=512 * MIB)
        wait_for("moving", lambda: bed.ft.guest("a")["size_mib"] > 0, 2)
        bed.ft.do("a", "set_stalled", True)
        at = bed.ft.guest("a")["size_mib"]
        time.sleep(0.5)
        check(bed.ft.guest("a")["size_mib"] == at < 512, "stalled device moved")
        bed.ft.do("a", "kill_agent")
        check(not os.path.exists(bed.agent) and os.path.exists(bed.qmp),
              "kill_agent: agent file left or qmp file gone")
        c.close()
