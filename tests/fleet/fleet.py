#!/usr/bin/env python3
"""A fleet of fake guests for rammd: no QEMU, no kernel, just the two sockets
rammd talks to for each guest, in a directory rammd scans (scan_dir).

For each guest NAME it serves, in DIR:
  NAME.qmp    QEMU 7.2's QMP monitor with one virtio-mem device (id "vm0",
              memdev /objects/vmem0, a memory-backend-ram): the greeting,
              capability negotiation, query-uuid (the VM's UUID: by default
              one derived from NAME, so a guest added again under its name
              is the same VM; a test may give another, or any JSON as the
              reply), query-memory-size-summary,
              query-memory-devices, query-memdev, qom-get/qom-set, and
              MEMORY_DEVICE_SIZE_CHANGE events rate-limited to one a second
              per device the way QEMU's monitor throttles them. The plugged
              size moves towards requested-size in whole blocks at a set
              speed (default 512 MiB/s plug, 256 MiB/s unplug, as measured
              in the lab).
  NAME.agent  the chardev behind the guest's org.ramm.agent.0 port, with
              ramm-agent in "proc" mode behind it (docs/PROTOCOL.md): a hello
              on connect, a report every second whose bid follows the /proc
              bid model (docs/BID-MODEL.md) for a settable working set, and
              the broker's welcome/grant/evict lines recorded.

Both servers serve one client at a time with a backlog of one, as QEMU's
socket chardevs do. Faults a test can set per guest: drop the QMP
connection, hang the monitor (accept, never answer), die (listeners closed,
socket files left behind), stall the device, kill or silence the agent, send
hostile lines.

Limits, on purpose: the QMP input is read one JSON object per line (rammd
sends that; QEMU's streaming parser accepts more), and only the commands
rammd uses are implemented; anything else is CommandNotFound, as in QEMU.

Library use (tests): FleetThread runs a Fleet on an asyncio loop in a
background thread; FleetThread.call() runs a function on that loop and
returns its result. CLI use (the benchmark):
  fleet.py --dir D --guests N [--boot-mib ...]   runs until SIGTERM/SIGINT
"""

import argparse
import asyncio
import json
import os
import random
import resource
import signal
import socket
import sys
import threading
import time
import uuid as uuidlib

MIB = 1 << 20
KIB = 1 << 10

QEMU_VERSION = {"qemu": {"micro": 0, "minor": 2, "major": 7},
                "package": "Debian 1:7.2+dfsg-7+deb12u7"}
# QEMU's event rate limit for MEMORY_DEVICE_SIZE_CHANGE, per device.
EVENT_THROTTLE_S = 1.0
# How often a moving device advances; small enough that a 2 MiB block at
# 512 MiB/s is not held back, large enough to stay cheap with 1,000 guests.
DEVICE_STEP_S = 0.05
# docs/PROTOCOL.md
RAMM_MAX_LINE = 4096
PROTO_V = 1
MAX_PRICE_IN_USE = 8000


# ---- the guest's bid model (docs/BID-MODEL.md, the /proc fallback) --------

def bid_curve(mem_total, mem_avail, psi_some, psi_full, reserve, floor, cap,
              unit):
    """The /proc bid model: tiers of target sizes (MemTotal terms, bytes)
    merged into a non-increasing [units, price] curve above @floor, each
    target raised by the boot @reserve and clipped to the cap. Pure; an
    empty list when nothing above the floor is wanted or @unit is 0."""
    if not unit:
        return []
    wss = max(0, mem_total - mem_avail)
    pressure = psi_some > 0.5 or mem_avail < mem_total * 0.08
    tiers = [(wss + wss // 64 + 32 * MIB, MAX_PRICE_IN_USE)]
    if pressure:
        lack = max(0.0, 1.0 - mem_avail / (mem_total * 0.08)) if mem_total else 1.0
        price = int(2000 * (1 + (psi_some + psi_full) / 10 + lack))
        tiers.append((mem_total * 5 // 4, min(price, MAX_PRICE_IN_USE - 1)))
    tiers += [(wss * 11 // 10 + 64 * MIB, 1000), (wss * 3 // 2, 300),
              (wss * 2, 50)]
    most = (cap - floor) // unit
    steps, reach = [], 0
    for target, price in sorted(tiers, key=lambda t: -t[1]):
        phys = target + reserve
        units = 0 if phys <= floor else min(most, -(-(phys - floor) // unit))
        if units > reach:
            if steps and steps[-1][1] == price:
                steps[-1][0] += units - reach
            else:
                steps.append([units - reach, price])
            reach = units
    return steps


def vm_uuid(name):
    """The UUID fleet guest @name has unless told otherwise: the same for
    the same name, so that a guest added again is the same VM."""
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, "ramm-fleet:" + name))


# ---- one fake guest ----------------------------------------------------------

class Guest:
    """One fake VM: a virtio-mem device behind a QMP server, and an agent
    behind the agent chardev. Every method runs on the fleet's loop."""

    def __init__(self, fleet, name, boot_mib=512, max_mib=1024, block_mib=2,
                 size_mib=256, demand_mib=None, reserve_mib=0,
                 plug_mib_s=512.0, unplug_mib_s=256.0, report_s=1.0,
                 agent_silent=False, free_extents_mib=None, prepare_s=None,
                 says_evicting=False, freed_on_evict_mib=0, vfio=False,
                 uuid=None, uuid_reply=None):
        if size_mib % block_mib or max_mib % block_mib or size_mib > max_mib:
            raise ValueError("%s: sizes must be whole blocks, size <= max" % name)
        self.fleet = fleet
        self.loop = fleet.loop
        self.name = name
        self.qmp_path = os.path.join(fleet.dir, name + ".qmp")
        self.agent_path = os.path.join(fleet.dir, name + ".agent")
        # the device
        self.boot = boot_mib * MIB
        self.max = max_mib * MIB
        self.block = block_mib * MIB
        self.size = size_mib * MIB
        self.requested = size_mib * MIB
        self.plug_speed = plug_mib_s * MIB
        self.unplug_speed = unplug_mib_s * MIB
        self.progress = 0.0          # bytes moved but not yet a whole block
        self.stalled = False         # the size stops moving
        self.drop_after_plug = None  # (MiB, s): the next plug that reaches
                                     # its request falls back by MiB after s
        self.vfio = vfio             # a vfio-pci device (id hostdev0)
        # the VM's UUID (QEMU's -uuid), and if not None the whole "return"
        # of query-uuid instead (a hostile QEMU's, anything JSON)
        self.uuid = uuid if uuid is not None else vm_uuid(name)
        self.uuid_reply = uuid_reply
        self.qom_sets = []           # (monotonic time, requested bytes) as set
        self.events_sent = 0
        self._event_timer = None     # the throttle period is running
        self._event_pending = None   # latest event data held back by it
        # the guest's memory, as its kernel sees it
        self.reserve = reserve_mib * MIB
        self.demand = (demand_mib if demand_mib is not None
                       else boot_mib // 2) * MIB
        # QMP server state
        self.qmp_sock = None
        self.qmp_task = None
        self.qmp_writer = None       # the client in command mode, else None
        self._current_qmp = None     # the connected client's writer, if any
        self.qmp_clients = 0         # connections accepted so far
        self.hung = False
        self._unhung = asyncio.Event()
        self._unhung.set()
        self.dead = False
        # agent state
        self.agent_sock = None
        self.agent_task = None
        self.agent_writer = None
        self.agent_connects = 0
        self.agent_silent = agent_silent  # connected, but sends nothing
        # MiB of free 2 MiB extents in its virtio-mem ranges, reported as a
        # kernel-mode agent's hist_vmem; None: a proc-mode report without
        self.free_extents_mib = free_extents_mib
        # a kernel-mode agent that empties what an evict notice names in
        # @prepare_s, then reports it free at once; None: it does not
        self.prepare_s = prepare_s
        # a kernel-mode agent that also says when it has prepared: its
        # reports carry "evicting" (True from an evict notice until
        # @prepare_s later, for ever with prepare_s None) and "evict_id"
        # (the last notice's id), as ramm-agent relays ramm_guest.ko's
        self.says_evicting = says_evicting
        # MiB of free extents that appear elsewhere as each evict notice
        # comes (a workload exiting as the market takes its memory back):
        # the histogram grows, though no chunk virtio-mem takes was emptied
        self.freed_on_evict = freed_on_evict_mib
        self.evicting = False
        self.evict_id = 0
        self._prepare_timer = None
        self.evict_times = []        # monotonic receipt of each evict
        self.report_s = report_s
        self._report_timer = None
        self.seq = 0
        self.urgent_next = False
        self.welcome = None          # the last welcome (dict), None before
        self.gap = 0                 # size_bytes - MemTotal at that welcome
        self.grants = []             # grant dicts, in order
        self.evicts = []             # evict dicts, in order
        self.errors = []             # error dicts from the broker
        self.agent_lines_in = 0

    # -- device ---------------------------------------------------------------

    def mem_total(self):
        """MemTotal as the guest kernel would report it, in bytes."""
        return max(0, self.boot + self.size - self.reserve)

    def set_requested(self, value):
        """The qom-set: start moving towards @value (checked by the caller)."""
        self.requested = value
        self.qom_sets.append((time.monotonic(), value))
        self.progress = 0.0
        self.fleet.moving.add(self)

    def step(self, dt):
        """Advance the plugged size by @dt seconds of plugging/unplugging in
        whole blocks; returns False once the device no longer moves."""
        if self.dead or self.hung or self.stalled or self.size == self.requested:
            return self.size != self.requested and not self.dead
        speed = self.plug_speed if self.requested > self.size else self.unplug_speed
        self.progress += speed * dt
        blocks = int(self.progress // self.block)
        if not blocks:
            return True
        self.progress -= blocks * self.block
        if self.requested > self.size:
            self.size = min(self.requested, self.size + blocks * self.block)
            if self.size == self.requested and self.drop_after_plug:
                mib, delay = self.drop_after_plug
                self.drop_after_plug = None
                self.loop.call_later(delay, self._fall_back, mib * MIB)
        else:
            self.size = max(self.requested, self.size - blocks * self.block)
        self._size_changed()
        return self.size != self.requested

    def _prepared(self, nbytes):
        """The evict notice's chunks are empty: report them free now."""
        self._prepare_timer = None
        self.free_extents_mib = (self.free_extents_mib or 0) + nbytes // MIB
        self.evicting = False
        self.send_report()

    def _fall_back(self, nbytes):
        """The guest's driver could not add what it plugged and unplugs it
        again; the request stays, as virtio-mem's does."""
        self.size = max(0, self.size - nbytes // self.block * self.block)
        self._size_changed()

    def _size_changed(self):
        """QEMU's MEMORY_DEVICE_SIZE_CHANGE with its per-device throttle: the
        first event goes out at once and opens a 1 s period; events in the
        period replace one held back, which goes out when it ends and opens
        the next period."""
        data = {"id": "vm0", "size": self.size,
                "qom-path": "/machine/peripheral/vm0"}
        if self._event_timer is None:
            self._emit_event(data)
            self._event_timer = self.loop.call_later(EVENT_THROTTLE_S,
                                                     self._event_period_end)
        else:
            self._event_pending = data

    def _event_period_end(self):
        if self._event_pending is None:
            self._event_timer = None
            return
        self._emit_event(self._event_pending)
        self._event_pending = None
        self._event_timer = self.loop.call_later(EVENT_THROTTLE_S,
                                                 self._event_period_end)

    def _emit_event(self, data):
        """Send an event to the client in command mode; with none (or a hung
        monitor) it is lost, as QEMU's would be."""
        if self.qmp_writer is None or self.hung:
            return
        now = time.time()
        self.events_sent += 1
        self._qmp_send({"event": "MEMORY_DEVICE_SIZE_CHANGE", "data": data,
                        "timestamp": {"seconds": int(now),
                                      "microseconds": int(now * 1e6) % 1000000}})

    # -- QMP server ---------------------------------------------------------------

    def _qmp_send(self, obj):
        try:
            self.qmp_writer.write((json.dumps(obj) + "\n").encode())
        except (OSError, AttributeError, RuntimeError):
            pass  # the client went away; its session loop notices

    def qmp_execute(self, msg, negotiated):
        """One QMP command as QEMU 7.2 answers it. Returns (reply or None,
        negotiated after it). Never raises on bad input: errors are replies."""
        def err(cls, desc):
            return {"error": {"class": cls, "desc": desc}}

        if not isinstance(msg, dict):
            return err("GenericError", "QMP input must be a JSON object"), negotiated
        cmd = msg.get("execute")
        if cmd is None:
            return err("GenericError", "QMP input lacks member 'execute'"), negotiated
        if not isinstance(cmd, str):
            return err("GenericError", "QMP input member 'execute' must be a string"), negotiated
        args = msg.get("arguments", {})
        if not isinstance(args, dict):
            return err("GenericError", "QMP input member 'arguments' must be an object"), negotiated
        if not negotiated:
            if cmd == "qmp_capabilities":
                return {"return": {}}, True
            return err("CommandNotFound", "Expecting capabilities negotiation "
                       "with 'qmp_capabilities'"), False
        if cmd == "qmp_capabilities":
            return err("CommandNotFound", "Capabilities negotiation is already "
                       "complete, command ignored"), True
        handler = {
            "query-uuid": self._q_uuid,
            "query-memory-size-summary": self._q_summary,
            "query-memory-devices": self._q_devices,
            "query-memdev": self._q_memdev,
            "qom-get": self._q_qom_get,
            "qom-list": self._q_qom_list,
            "qom-set": self._q_qom_set,
        }.get(cmd)
        if handler is None:
            return err("CommandNotFound", "The command %s has not been found" % cmd), True
        return handler(args), True

    def _q_uuid(self, args):
        if self.uuid_reply is not None:
            return {"return": self.uuid_reply}
        return {"return": {"UUID": self.uuid}}

    def _q_summary(self, args):
        return {"return": {"base-memory": self.boot, "plugged-memory": self.size}}

    def _q_devices(self, args):
        return {"return": [{"type": "virtio-mem", "data": {
            "memaddr": 4 << 30, "node": 0, "requested-size": self.requested,
            "size": self.size, "max-size": self.max, "block-size": self.block,
            "id": "vm0", "memdev": "/objects/vmem0"}}]}

    def _q_qom_list(self, args):
        # The containers of user-created devices, as QEMU 7.2 lists them.
        path = args.get("path")
        if path == "/machine/peripheral":
            devs = [{"name": "type", "type": "string"},
                    {"name": "vm0", "type": "child<virtio-mem-pci>"}]
            if self.vfio:
                devs.append({"name": "hostdev0", "type": "child<vfio-pci>"})
            return {"return": devs}
        if path == "/machine/peripheral-anon":
            return {"return": [{"name": "type", "type": "string"}]}
        return {"error": {"class": "DeviceNotFound",
                          "desc": "Device '%s' not found" % path}}

    def _q_memdev(self, args):
        def backend(ident, size):
            return {"id": ident, "size": size, "merge": True, "dump": True,
                    "prealloc": False, "share": False, "reserve": True,
                    "host-nodes": [], "policy": "default"}
        return {"return": [backend("pc.ram", self.boot),
                           backend("vmem0", self.max)]}

    # Properties of the objects QOM knows here: the device's own and those
    # of an ordinary memory-backend-ram (which has no hugetlb, hugetlbsize
    # or mem-path: asking for those is an error, as on QEMU).
    def _qom_props(self, path):
        if path == "/machine/peripheral/vm0":
            return "virtio-mem-pci", {"requested-size": self.requested,
                                      "size": self.size,
                                      "block-size": self.block,
                                      "memdev": "/objects/vmem0"}
        if path == "/objects/vmem0":
            return "memory-backend-ram", {"size": self.max, "merge": True,
                                          "dump": True, "prealloc": False,
                                          "share": False, "reserve": True,
                                          "policy": "default"}
        return None, None

    def _q_qom_get(self, args):
        path, prop = args.get("path"), args.get("property")
        if not isinstance(path, str) or not isinstance(prop, str):
            return {"error": {"class": "GenericError",
                              "desc": "Parameter 'path' is missing"}}
        typename, props = self._qom_props(path)
        if props is None:
            return {"error": {"class": "DeviceNotFound",
                              "desc": "Device '%s' not found" % path}}
        if prop not in props:
            return {"error": {"class": "GenericError",
                              "desc": "Property '%s.%s' not found" % (typename, prop)}}
        return {"return": props[prop]}

    def _q_qom_set(self, args):
        path, prop, value = args.get("path"), args.get("property"), args.get("value")
        if not isinstance(path, str) or not isinstance(prop, str) or "value" not in args:
            return {"error": {"class": "GenericError",
                              "desc": "Parameter 'path' is missing"}}
        typename, props = self._qom_props(path)
        if props is None:
            return {"error": {"class": "DeviceNotFound",
                              "desc": "Device '%s' not found" % path}}
        if prop not in props:
            return {"error": {"class": "GenericError",
                              "desc": "Property '%s.%s' not found" % (typename, prop)}}
        if typename != "virtio-mem-pci" or prop != "requested-size":
            return {"error": {"class": "GenericError",
                              "desc": "Insufficient permission to perform this operation"}}
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return {"error": {"class": "GenericError",
                              "desc": "Parameter 'requested-size' expects uint64"}}
        if value % self.block:
            return {"error": {"class": "GenericError", "desc":
                              "'requested-size' property has to be multiples of "
                              "'block-size' (0x%x)" % self.block}}
        if value > self.max:
            return {"error": {"class": "GenericError", "desc":
                              "'requested-size' property exceeds the region size "
                              "(0x%x)" % self.max}}
        self.set_requested(value)
        return {"return": {}}

    async def _qmp_serve(self):
        """Accept one client at a time, as QEMU's monitor chardev does."""
        while True:
            conn, _ = await self.loop.sock_accept(self.qmp_sock)
            self.qmp_clients += 1
            try:
                await self._qmp_session(conn)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                pass  # the client went away mid-line, or sent too much
            finally:
                self.qmp_writer = None
                self._current_qmp = None
                conn.close()

    async def _qmp_session(self, conn):
        reader, writer = await asyncio.open_unix_connection(sock=conn, limit=1 << 20)
        await self._unhung.wait()  # a hung monitor never greets
        writer.write((json.dumps({"QMP": {"version": QEMU_VERSION,
                                          "capabilities": ["oob"]}}) + "\n").encode())
        negotiated = False
        self._current_qmp = writer
        while True:
            line = await reader.readline()
            if not line:
                return
            await self._unhung.wait()  # hung: read nothing more, answer nothing
            if writer.is_closing():
                return
            text = line.strip()
            if not text:
                continue
            try:
                msg = json.loads(text)
            except ValueError:
                reply = {"error": {"class": "GenericError",
                                   "desc": "JSON parse error, invalid keyword"}}
            else:
                reply, negotiated = self.qmp_execute(msg, negotiated)
                if isinstance(msg, dict) and "id" in msg:
                    reply["id"] = msg["id"]
            if negotiated:
                self.qmp_writer = writer  # events go to clients in command mode
            writer.write((json.dumps(reply) + "\n").encode())

    # -- the agent ---------------------------------------------------------------

    def memory_signals(self):
        """(MemTotal, MemAvailable, PSI some avg10, PSI full avg10) the
        guest would read now: available is what its working set leaves,
        and PSI rises from 0 as available falls below 8 % of MemTotal."""
        total = self.mem_total()
        avail = max(0, total - self.demand)
        short_by = 1.0 - avail / (total * 0.08) if total else 1.0
        some = round(10.0 * short_by, 2) if short_by > 0 else 0.0
        return total, avail, some, round(some / 3, 2)

    def current_bid(self):
        """The bid curve the agent would send now; [] before a welcome."""
        if not self.welcome:
            return []
        total, avail, some, full = self.memory_signals()
        return bid_curve(total, avail, some, full, self.gap,
                         self.welcome["floor_bytes"], self.welcome["cap_bytes"],
                         self.welcome["unit_bytes"])

    def report(self):
        """The next report ramm-agent sends (a dict); counts its seq."""
        total, avail, some, full = self.memory_signals()
        unit = self.welcome["unit_bytes"] if self.welcome else 0
        bid = self.current_bid()
        self.seq += 1
        urgent, self.urgent_next = self.urgent_next, False
        msg = {"type": "report", "v": PROTO_V, "seq": self.seq, "urgent": urgent,
               "mem_total_kib": total // KIB, "mem_free_kib": avail // KIB,
               "mem_available_kib": avail // KIB, "psi_some_avg10": some,
               "psi_full_avg10": full, "refault_anon": 0,
               "refault_file": self.seq * 3, "pgscan": self.seq * 7,
               "unit_bytes": unit, "bid": bid}
        if self.free_extents_mib is not None:
            msg["hist_vmem"] = [self.free_extents_mib // 2] + [0] * 9
        if self.says_evicting:
            msg["evicting"] = self.evicting
            msg["evict_id"] = self.evict_id
        return msg

    def _agent_send(self, obj_or_bytes):
        """Write a message (dict) or raw bytes to the broker; dropped when no
        broker is connected, as the guest's writes to an unconnected port
        go nowhere."""
        if self.agent_writer is None:
            return False
        data = obj_or_bytes if isinstance(obj_or_bytes, bytes) else \
            (json.dumps(obj_or_bytes, separators=(",", ":")) + "\n").encode()
        try:
            self.agent_writer.write(data)
        except (OSError, RuntimeError):
            return False
        return True

    def send_report(self):
        """A report now (urgent if asked), unless the agent is silent."""
        if not self.agent_silent:
            self._agent_send(self.report())

    def _report_tick(self):
        self._report_timer = None
        if self.agent_writer is None:
            return
        self.send_report()
        self._report_timer = self.loop.call_later(self.report_s, self._report_tick)

    def _agent_line(self, line):
        self.agent_lines_in += 1
        try:
            msg = json.loads(line)
        except ValueError:
            return
        if not isinstance(msg, dict):
            return
        kind = msg.get("type")
        if kind == "welcome":
            self.welcome = msg
            # the agent measures its boot reserve against the host's view
            self.gap = max(0, msg.get("size_bytes", 0) - self.mem_total())
        elif kind == "grant":
            self.grants.append(msg)
        elif kind == "evict":
            self.evicts.append(msg)
            self.evict_times.append(time.monotonic())
            # a new notice supersedes the one being prepared; 0 calls it off
            if self._prepare_timer is not None:
                self._prepare_timer.cancel()
                self._prepare_timer = None
            self.evict_id = msg.get("id", 0)
            self.evicting = bool(msg.get("units")) and self.says_evicting
            if self.prepare_s is not None and msg.get("units"):
                self._prepare_timer = self.loop.call_later(
                    self.prepare_s, self._prepared,
                    msg["units"] * (self.welcome or {}).get("unit_bytes", 0))
            if msg.get("units") and self.freed_on_evict:
                self.free_extents_mib = ((self.free_extents_mib or 0) +
                                         self.freed_on_evict)
            if self.says_evicting or (msg.get("units") and self.freed_on_evict):
                self.send_report()  # the module publishes as it takes it up
        elif kind == "error":
            self.errors.append(msg)

    async def _agent_serve(self):
        while True:
            conn, _ = await self.loop.sock_accept(self.agent_sock)
            self.agent_connects += 1
            try:
                await self._agent_session(conn)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                pass
            finally:
                self.agent_writer = None
                if self._report_timer:
                    self._report_timer.cancel()
                    self._report_timer = None
                conn.close()

    async def _agent_session(self, conn):
        reader, writer = await asyncio.open_unix_connection(sock=conn, limit=1 << 16)
        self.agent_writer = writer
        if not self.agent_silent:
            self._agent_send({"type": "hello", "v": PROTO_V, "agent": "ramm-agent",
                              "version": "0.1.0", "mode": "proc",
                              "boot_id": "fleet-%s" % self.name})
        # agents are not in step with each other: a random phase
        self._report_timer = self.loop.call_later(random.uniform(0, self.report_s),
                                                  self._report_tick)
        while True:
            line = await reader.readline()
            if not line:
                return
            self._agent_line(line)

    # -- life cycle and faults ---------------------------------------------------

    @staticmethod
    def _listen(path):
        """A listening unix socket at @path (a stale file is replaced), with
        a backlog of one like QEMU's chardev. Raises OSError."""
        if os.path.exists(path):
            os.unlink(path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind(path)
        s.listen(1)
        return s

    def start(self):
        """Bind both sockets and serve. Raises OSError if a socket cannot be
        bound (path too long, no such directory)."""
        self.start_qmp()
        self.start_agent()

    def start_qmp(self):
        self.dead = False
        self.qmp_sock = self._listen(self.qmp_path)
        self.qmp_task = self.loop.create_task(self._qmp_serve())
        if self.size != self.requested:
            self.fleet.moving.add(self)

    def start_agent(self):
        self.agent_sock = self._listen(self.agent_path)
        self.agent_task = self.loop.create_task(self._agent_serve())

    def stop_qmp(self, unlink):
        """Close the QMP listener and client; keep the file unless @unlink."""
        if self.qmp_task:
            self.qmp_task.cancel()
            self.qmp_task = None
        if self.qmp_sock:
            self.qmp_sock.close()
            self.qmp_sock = None
        self.drop_qmp()
        if unlink and os.path.exists(self.qmp_path):
            os.unlink(self.qmp_path)

    def stop_agent(self, unlink):
        """Close the agent listener and client; keep the file unless @unlink."""
        if self.agent_task:
            self.agent_task.cancel()
            self.agent_task = None
        if self.agent_sock:
            self.agent_sock.close()
            self.agent_sock = None
        if self.agent_writer:
            self.agent_writer.transport.abort()
            self.agent_writer = None
        if unlink and os.path.exists(self.agent_path):
            os.unlink(self.agent_path)

    def drop_qmp(self):
        """Fault: close the current QMP connection (the listener stays)."""
        w = self._current_qmp
        if w is not None:
            w.transport.abort()
            self._current_qmp = None
        self.qmp_writer = None

    def set_hung(self, hung):
        """Fault: the monitor stops answering (it keeps its connection and
        accepts the next, but reads, answers and greets nothing) and the
        device stops moving, as in a QEMU stuck on its main loop lock; False
        resumes it, with everything sent meanwhile still to be read."""
        self.hung = hung
        if hung:
            self._unhung.clear()
        else:
            self._unhung.set()
            self.fleet.moving.add(self)

    def die(self):
        """Fault: the QEMU process is gone, its socket files left behind."""
        self.dead = True
        self.stop_qmp(unlink=False)
        self.stop_agent(unlink=False)

    def revive(self):
        """A QEMU on the same sockets again, the device as it was."""
        self.start()

    def remove(self):
        """The VM is gone for good: both sockets closed and their files
        removed."""
        self.dead = True
        self.stop_qmp(unlink=True)
        self.stop_agent(unlink=True)
        if self._event_timer:
            self._event_timer.cancel()
        self.fleet.moving.discard(self)

    def kill_agent(self):
        """Fault: the agent's chardev is gone (socket closed and removed)."""
        self.stop_agent(unlink=True)

    def set_stalled(self, stalled):
        """Fault: the device's size stops moving (the guest cannot unplug or
        plug more); False lets it move on."""
        self.stalled = stalled
        if not stalled:
            self.fleet.moving.add(self)

    def set_drop_after_plug(self, mib, delay_s):
        """Fault: the next plug that reaches its request falls back by @mib
        after @delay_s, as when the guest cannot add the memory (no room
        for its memmap); the request is left as it was."""
        self.drop_after_plug = (mib, delay_s)

    def set_agent_silent(self, silent):
        """Fault: the agent stays connected but sends nothing (a hung or
        stopped ramm-agent); False lets it report again."""
        self.agent_silent = silent

    def set_demand(self, demand_mib, urgent=False):
        """The guest's working set, in MiB of its MemTotal; @urgent sends an
        urgent report at once, as the agent does when memory runs short."""
        self.demand = int(demand_mib * MIB)
        if urgent:
            self.urgent_next = True
            self.send_report()

    def send_raw(self, data):
        """Hostile agent: write @data (bytes) as is. Returns whether a broker
        was connected to receive it."""
        return self._agent_send(data)

    def snapshot(self):
        """A plain-data view of this guest for tests."""
        return {
            "name": self.name, "uuid": self.uuid, "boot_mib": self.boot // MIB,
            "size_mib": self.size // MIB, "requested_mib": self.requested // MIB,
            "total_mib": (self.boot + self.size) // MIB,
            "max_mib": self.max // MIB, "block_mib": self.block // MIB,
            "demand_mib": self.demand // MIB,
            "qmp_up": self.qmp_writer is not None, "qmp_clients": self.qmp_clients,
            "agent_up": self.agent_writer is not None,
            "agent_connects": self.agent_connects,
            "welcome": dict(self.welcome) if self.welcome else None,
            "grants": list(self.grants), "evicts": list(self.evicts),
            "evict_times": list(self.evict_times),
            "evicting": self.evicting, "evict_id": self.evict_id,
            "errors": list(self.errors),
            "qom_sets_mib": [(t, v // MIB) for t, v in self.qom_sets],
            "events_sent": self.events_sent, "seq": self.seq,
            "bid": self.current_bid(),
        }


class Fleet:
    """N fake guests in one directory, on one asyncio loop (self.loop, the
    running loop of whoever calls start())."""

    def __init__(self, directory):
        if len(os.path.join(directory, "x" * 16 + ".agent")) >= 108:
            raise ValueError("%s: too long for unix socket paths (108 bytes)" % directory)
        self.dir = directory
        self.loop = None
        self.guests = {}
        self.moving = set()  # guests whose size differs from the request
        self._stepper = None
        self._churn_task = None

    async def start(self):
        self.loop = asyncio.get_running_loop()
        self._stepper = self.loop.create_task(self._step_devices())

    async def _step_devices(self):
        last = time.monotonic()
        while True:
            await asyncio.sleep(DEVICE_STEP_S)
            now = time.monotonic()
            dt, last = now - last, now
            for g in list(self.moving):
                if not g.step(dt):
                    self.moving.discard(g)

    def add(self, name, **spec):
        """Add and start guest @name (see Guest for @spec). Raises
        ValueError on a bad spec or a name already used, OSError if its
        sockets cannot be bound."""
        if name in self.guests:
            raise ValueError("guest %s exists" % name)
        g = Guest(self, name, **spec)
        g.start()
        self.guests[name] = g
        return g

    def remove(self, name):
        """Remove guest @name and its socket files. KeyError if unknown."""
        self.guests.pop(name).remove()

    def churn(self, pct_per_s, low_mib, high_mib, seed=1):
        """Keep demand moving: each second about @pct_per_s % of the guests
        take a new working set between @low_mib and @high_mib (MiB)."""
        rng = random.Random(seed)

        async def run():
            carry = 0.0
            while True:
                await asyncio.sleep(1.0)
                names = sorted(self.guests)
                carry += len(names) * pct_per_s / 100.0
                while carry >= 1.0 and names:
                    carry -= 1.0
                    self.guests[rng.choice(names)].set_demand(
                        rng.uniform(low_mib, high_mib))
        self._churn_task = self.loop.create_task(run())

    def close(self):
        """Stop every guest and remove its socket files. Never raises."""
        for task in (self._stepper, self._churn_task):
            if task:
                task.cancel()
        for g in list(self.guests.values()):
            try:
                g.remove()
            except OSError:
                pass
        self.guests.clear()


class FleetThread:
    """A Fleet on its own loop in a daemon thread, for synchronous tests.
    Use as a context manager, or call close()."""

    def __init__(self, directory):
        self.fleet = Fleet(directory)
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.fleet.start())
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="fleet", daemon=True)
        self.thread.start()
        started.wait(10)

    def call(self, fn, *args, **kwargs):
        """Run @fn(*args, **kwargs) on the fleet's loop and return its
        result; its exception is raised here. Waits at most 10 s."""
        async def wrapped():
            return fn(*args, **kwargs)
        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(10)

    def add(self, name, **spec):
        self.call(self.fleet.add, name, **spec)

    def guest(self, name):
        """A snapshot (dict) of guest @name."""
        return self.call(lambda: self.fleet.guests[name].snapshot())

    def do(self, name, method, *args):
        """Call Guest.@method(*args) of guest @name on the loop."""
        return self.call(lambda: getattr(self.fleet.guests[name], method)(*args))

    def close(self):
        """Stop the guests and the loop; idempotent, never raises."""
        if self.loop.is_closed():
            return
        try:
            self.call(self.fleet.close)
        except Exception:  # noqa: BLE001 - closing must go on regardless
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        if not self.thread.is_alive():
            self.loop.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- the benchmark's fleet -----------------------------------------------------

def plan_demands(n, boot_mib, max_mib, seed):
    """Working sets (MiB) for @n guests, reproducible from @seed: from half
    the boot memory to boot plus 80 % of the device, so that some guests
    stay at their floor and others want a lot."""
    rng = random.Random(seed)
    return [int(rng.uniform(boot_mib * 0.5, boot_mib + max_mib * 0.8)) for _ in range(n)]


def wanted_mib(demand_mib, boot_mib, max_mib):
    """What a guest with @demand_mib of working set bids for above its floor
    (boot memory) above the reserve price: the 'need' tier, wss x 1.1 +
    64 MiB, clipped to the device. Used to size an overcommitted supply."""
    need = demand_mib * 1.1 + 64
    return max(0.0, min(need - boot_mib, max_mib))


def raise_nofile():
    """Raise RLIMIT_NOFILE's soft limit to the hard limit; returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", required=True, help="where the sockets go (keep it short)")
    ap.add_argument("--guests", type=int, required=True)
    ap.add_argument("--prefix", default="g", help="guest names: PREFIX0001, ...")
    ap.add_argument("--boot-mib", type=int, default=512)
    ap.add_argument("--max-mib", type=int, default=1024)
    ap.add_argument("--block-mib", type=int, default=2)
    ap.add_argument("--size-mib", type=int, default=256, help="plugged at start")
    ap.add_argument("--plug-mib-s", type=float, default=512.0)
    ap.add_argument("--unplug-mib-s", type=float, default=256.0)
    ap.add_argument("--seed", type=int, default=1, help="working sets (plan_demands)")
    ap.add_argument("--churn-pct", type=float, default=0.0,
                    help="%% of guests per second taking a new working set")
    ap.add_argument("--ready-file", help="written once every socket is bound")
    args = ap.parse_args(argv)

    need = 4 * args.guests + 64
    if raise_nofile() < need:
        print("fleet: RLIMIT_NOFILE hard limit below %d" % need, file=sys.stderr)
        return 1
    os.makedirs(args.dir, exist_ok=True)
    demands = plan_demands(args.guests, args.boot_mib, args.max_mib, args.seed)

    async def run():
        fleet = Fleet(args.dir)
        await fleet.start()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            fleet.loop.add_signal_handler(sig, stop.set)
        try:
            for i, demand in enumerate(demands):
                fleet.add("%s%04d" % (args.prefix, i + 1), boot_mib=args.boot_mib,
                          max_mib=args.max_mib, block_mib=args.block_mib,
                          size_mib=args.size_mib, demand_mib=demand,
                          plug_mib_s=args.plug_mib_s,
                          unplug_mib_s=args.unplug_mib_s)
            if args.churn_pct:
                fleet.churn(args.churn_pct, args.boot_mib * 0.5,
                            args.boot_mib + args.max_mib * 0.8, args.seed)
            if args.ready_file:
                with open(args.ready_file, "w") as f:
                    f.write("%d\n" % args.guests)
            await stop.wait()
        finally:
            fleet.close()
        return 0

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
