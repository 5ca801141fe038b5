"""A guest's account belongs to a VM, not to a name (issue 12, item 11): a
Proxmox VMID or a libvirt domain name can be reused by a new VM, which must
not inherit the old one's balance, credit, cap or drain. rammd reads each
VM's UUID (QMP query-uuid; fleet.py answers it, by default with a UUID
derived from the guest's name) and keeps it in the state file's identity
line.

Each test gives a guest a first life - rammd drives it, the operator drains
and caps it - and stops rammd, which saves its state. The account in the
file is then made unmistakable (credit 0.150: a fresh account has 1.000,
and credit rises only slowly), and rammd starts again on the same VM, a
new VM of the same name, or a file from before identity lines.
"""

import os
import re
import time

from harness import check, wait_for
from test_daemon import Bed

OLD_UUID = "6f0c2b1e-8d4a-4c5e-9b7f-0a1b2c3d4e5f"
NEW_UUID = "d2a7e9c4-3b1f-4e6a-8c0d-5f9e8a7b6c1d"
# What the first life leaves in the file, made unmistakable.
OLD_ACCOUNT = "balance=4242 weight=100 credit=150"
CAP_MIB = 768
GUEST = {"demand_mib": 700, "size_mib": 0, "uuid": OLD_UUID}


def _state_path(bed):
    return os.path.join(bed.dir, "state")


def _read_state(bed):
    with open(_state_path(bed)) as f:
        return f.read()


def _first_life(bed, name, uuid=OLD_UUID, keep_identity=True):
    """Drive @name, drain and cap it, stop rammd (it saves at exit) and give
    its account OLD_ACCOUNT in the file; without @keep_identity, the file
    is turned into one from before identity lines."""
    bed.ready([name])
    # Accounts open at a regular tick; a partial round may grow it first.
    bed.settled([name])
    for args in (("drain", name), ("set", name, "cap", str(CAP_MIB))):
        code, out, _ = bed.rammd.rammctl(*args)
        check(code == 0, "rammctl %s: exit %d %s" % (" ".join(args), code, out))
    bed.rammd.stop()
    text = _read_state(bed)
    check("identity %s uuid=%s\n" % (name, uuid) in text,
          "rammd saved no identity line for %s:\n%s" % (name, text))
    check(re.search(r"^overrides %s .*cap_mib=%d .*drain=1$" % (name, CAP_MIB), text, re.M),
          "the drain and cap were not saved:\n" + text)
    text, n = re.subn(r"^account %s .*$" % name, "account %s %s" % (name, OLD_ACCOUNT),
                      text, flags=re.M)
    check(n == 1, "no account line for %s:\n%s" % (name, text))
    if not keep_identity:
        text = re.sub(r"^identity .*\n", "", text, flags=re.M)
    with open(_state_path(bed), "w") as f:
        f.write(text)


def _warnings(rammd, name):
    """rammd's log lines that say guest @name's VM was replaced."""
    return [l for l in rammd.log().splitlines()
            if "guest %s: VM uuid" % name in l and "not %s as before" % OLD_UUID in l]


def _check_kept(g, what):
    check(g["uuid"] == OLD_UUID, "%s: uuid %s, want %s" % (what, g["uuid"], OLD_UUID))
    check(g["credit"] < 0.5, "%s: credit %.3f: the old account (0.150) was not kept"
          % (what, g["credit"]))
    check(g["overrides"]["drain"] and g["overrides"]["cap_mib"] == CAP_MIB,
          "%s: overrides %s: the old drain and cap were not kept" % (what, g["overrides"]))


def _replaced_vm_starts_afresh(proxmox):
    name = "101"
    with Bed("idnew", {name: dict(GUEST)}, proxmox=proxmox, supply_mib=2048) as bed:
        _first_life(bed, name)
        # The VM is deleted; a new one gets its VMID.
        bed.fleet.call(bed.fleet.fleet.remove, name)
        bed.fleet.add(name, **dict(GUEST, uuid=NEW_UUID))
        bed.rammd = bed.start_rammd("rammd2")
        bed.ready([name])
        # Its account opens at the next tick, as a guest's never seen.
        g = wait_for("the new VM's account", lambda: (
            lambda g: g if g["credit"] > 0 else None)(bed.rammd.guests()[name]), 5)
        check(g["uuid"] == NEW_UUID, "uuid %s, want the new VM's %s" % (g["uuid"], NEW_UUID))
        check(g["credit"] > 0.9, "credit %.3f: the new VM inherited the old account (0.150)"
              % g["credit"])
        check(g["balance"] != 4242, "the new VM inherited the old balance")
        check(not g["overrides"]["drain"] and not g["overrides"]["cap_mib"],
              "the new VM inherited the old overrides: %s" % g["overrides"])
        # Not drained: it grows to what it bids for, past the old cap too.
        wait_for("the new VM to grow past its floor and the old cap", lambda: (
            lambda g: g["size_mib"] > max(g["floor_mib"], CAP_MIB))(
                bed.rammd.guests()[name]), 15)
        check(len(_warnings(bed.rammd, name)) == 1,
              "want one warning naming both UUIDs, got:\n" + "\n".join(_warnings(bed.rammd, name)))
        warn = _warnings(bed.rammd, name)[0]
        check(NEW_UUID in warn and "draining" in warn and "credit 0.150" in warn,
              "the warning does not say what was not inherited: " + warn)
        bed.rammd.stop()
        text = _read_state(bed)
        check("identity %s uuid=%s\n" % (name, NEW_UUID) in text and
              OLD_ACCOUNT not in text and
              not re.search(r"^overrides %s .*drain=1$" % name, text, re.M),
              "the state file still holds the old VM's record:\n" + text)


def test_replaced_vm_starts_afresh_proxmox():
    """A Proxmox VMID reused by a new VM (shared QMP socket, a session per
    query) while rammd was down: the new VM gets a fresh account, no
    drain, no cap, and rammd logs one warning with both UUIDs."""
    _replaced_vm_starts_afresh(proxmox=True)


def test_replaced_vm_starts_afresh_own_socket():
    """The same on a QMP socket of rammd's own (one connection held)."""
    _replaced_vm_starts_afresh(proxmox=False)


def _replaced_while_running(proxmox):
    name = "104"
    with Bed("idlive", {name: dict(GUEST)}, proxmox=proxmox) as bed:
        bed.ready([name])
        code, out, _ = bed.rammd.rammctl("drain", name)
        check(code == 0, "rammctl drain: exit %d %s" % (code, out))
        bed.fleet.call(bed.fleet.fleet.remove, name)
        bed.fleet.add(name, **dict(GUEST, uuid=NEW_UUID))
        g = wait_for("%s as the new VM" % name, lambda: (
            lambda g: g if g["uuid"] == NEW_UUID else None)(
                bed.rammd.guests().get(name, {"uuid": None})), 10)
        check(not g["overrides"]["drain"], "the new VM is draining")
        check(len(_warnings(bed.rammd, name)) == 1,
              "want one warning, got %s" % _warnings(bed.rammd, name))


def test_vm_replaced_while_rammd_runs_proxmox():
    """A VMID reused while rammd runs (the VM deleted, a new one started
    at once under its VMID): the next session reads the new UUID and the
    guest starts afresh."""
    _replaced_while_running(proxmox=True)


def test_vm_replaced_while_rammd_runs_own_socket():
    """The same on a socket of rammd's own: the next connection."""
    _replaced_while_running(proxmox=False)


def test_same_vm_keeps_its_account():
    """The same VM (same UUID) after a restart keeps its account, its
    drain and its cap, and nothing is logged about a new VM."""
    name = "102"
    with Bed("idsame", {name: dict(GUEST)}, proxmox=True) as bed:
        _first_life(bed, name)
        bed.rammd = bed.start_rammd("rammd2")
        _check_kept(bed.ready([name])[name], "after the restart")
        time.sleep(1.5)  # a few sessions, each asking query-uuid again
        _check_kept(bed.rammd.guests()[name], "1.5 s on")
        check(not _warnings(bed.rammd, name), "the same VM was taken for a new one")


def test_file_without_identity_keeps_accounts():
    """A state file from before identity lines loads as it did: the guest
    keeps its account and overrides, and its VM's UUID is adopted and
    saved (one info line, no warning)."""
    name = "103"
    with Bed("idold", {name: dict(GUEST)}, proxmox=True) as bed:
        _first_life(bed, name, keep_identity=False)
        check("identity" not in _read_state(bed), "the identity line is still there")
        bed.rammd = bed.start_rammd("rammd2")
        _check_kept(bed.ready([name])[name], "from an old file")
        log = bed.rammd.log()
        check("set aside" not in log, "the old file was refused:\n" + log[-2000:])
        check("guest %s: VM uuid %s; its account is this VM's" % (name, OLD_UUID) in log,
              "no line says the VM's UUID was adopted")
        check(not _warnings(bed.rammd, name), "an old record was taken for another VM's")
        bed.rammd.stop()
        check("identity %s uuid=%s\n" % (name, OLD_UUID) in _read_state(bed),
              "the adopted UUID was not saved")


# query-uuid replies a hostile or broken QEMU could send, and how rammd
# says it refused each.
HOSTILE = {
    "201": ({"UUID": 12}, "malformed query-uuid reply"),
    "202": ("550e8400-e29b-41d4-a716-446655440000", "malformed query-uuid reply"),
    "203": ({"UUID": "not a uuid"}, "not 36; refused"),
    "204": ({"UUID": "550e8400-e29b-41d4-a716-44665544000\n"}, "not in canonical form; refused"),
    "205": ({"UUID": "550e8400-e29b-41d4-a716-4466554400\x00\x00"}, "not in canonical form; refused"),
    "206": ({"UUID": "%s" * 2000}, "not 36; refused"),
    "207": ([{"UUID": "550e8400-e29b-41d4-a716-446655440000"}], "malformed query-uuid reply"),
    "208": ({"UUID": "00000000-0000-0000-0000-000000000000"}, "QEMU has no -uuid"),
}


def test_hostile_uuid_replies_refused():
    """Garbage for a UUID is refused with one log line per guest: no
    identity is taken from it (none shown, none saved), the guest is still
    driven, the daemon keeps running, and a guest with a saved account
    keeps it."""
    guests = {n: {"uuid_reply": reply} for n, (reply, _) in HOSTILE.items()}
    guests["209"] = dict(GUEST)
    with Bed("idbad", guests, proxmox=True) as bed:
        _first_life(bed, "209")
        # 209's QEMU now answers garbage: its account stays where it was.
        bed.fleet.call(lambda: setattr(bed.fleet.fleet.guests["209"], "uuid_reply",
                                       {"UUID": "zz"}))
        bed.rammd = bed.start_rammd("rammd2")
        gs = bed.ready(list(guests))
        time.sleep(1.5)  # sessions go on asking; each problem is logged once
        check(bed.rammd.alive(), "rammd exited:\n" + bed.rammd.log()[-2000:])
        gs = bed.rammd.guests()
        log = bed.rammd.log().splitlines()
        for name, (_, said) in HOSTILE.items():
            check(gs[name]["uuid"] is None, "%s: uuid %r taken from a bad reply"
                  % (name, gs[name]["uuid"]))
            lines = [l for l in log if "guest %s: " % name in l and said in l]
            check(len(lines) == 1, "%s: want one line saying '%s', got %s"
                  % (name, said, lines))
        _check_kept(gs["209"], "QEMU answering garbage")
        check(not _warnings(bed.rammd, "209"), "garbage taken for a new VM")
        bed.rammd.stop()
        text = _read_state(bed)
        check(not re.search(r"^identity 20[1-8] ", text, re.M),
              "an identity from a bad reply was saved:\n" + text)
        check("identity 209 uuid=%s\n" % OLD_UUID in text, "209's identity was lost")
