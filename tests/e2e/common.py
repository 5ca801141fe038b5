"""Shared pieces of the end-to-end tests and the demo: rammd under a lab,
rammctl calls, and small assertion helpers that say what failed."""

import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lab"))
sys.path.insert(0, os.path.dirname(HERE))

import lab  # noqa: E402
from runner import Skip  # noqa: E402 - a test that needs a missing host feature raises it

BUILD = lab.BUILD
MIB = lab.MIB


class Broker:
    """rammd started by a test, stopped by PID through the lab."""

    def __init__(self, the_lab, config_text, name="rammd", extra_args=()):
        self.lab = the_lab
        self.control = os.path.join(the_lab.dir, name + ".sock")
        self.config_path = os.path.join(the_lab.dir, name + ".conf")
        self.log_path = os.path.join(the_lab.dir, name + ".log")
        with open(self.config_path, "w") as f:
            # The state file lives with the lab, never in /var/lib/ramm.
            f.write("[rammd]\ncontrol_socket = %s\nstate_file = %s\n" %
                    (self.control, os.path.join(the_lab.dir, name + ".state")))
            f.write(config_text)
        # A socket left by a killed rammd would pass for the new one's.
        if os.path.exists(self.control):
            os.unlink(self.control)
        self.proc = the_lab.spawn([os.path.join(BUILD, "rammd"), "-c", self.config_path] +
                                  list(extra_args), self.log_path)
        deadline = time.time() + 10
        while not os.path.exists(self.control):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("rammd did not start:\n" + self.log())
            time.sleep(0.05)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def state(self, cmd="guests"):
        out = subprocess.run([os.path.join(BUILD, "rammctl"), "-s", self.control, "--json", cmd],
                             check=True, stdout=subprocess.PIPE, timeout=10).stdout
        return json.loads(out)

    def guest(self, name):
        for g in self.state()["guests"]:
            if g["name"] == name:
                return g
        raise KeyError(name)

    def rammctl(self, *args):
        return subprocess.run([os.path.join(BUILD, "rammctl"), "-s", self.control] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=10, text=True)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        self.lab.stop(self.proc)


def require_huge_page_size(page_kib):
    """Skip unless the host kernel offers huge pages of @page_kib KiB
    (1 GiB pages need CPU support and a kernel that enables them)."""
    path = "/sys/kernel/mm/hugepages/hugepages-%dkB" % page_kib
    if not os.path.isdir(path):
        raise Skip("the host has no %d KiB huge pages (%s is absent)" % (page_kib, path))


def reserve_huge_pages(the_lab, page_kib, count):
    """Set the host's pool of @page_kib KiB pages to @count (given back
    when the lab closes); fail if the host cannot make that many."""
    got = the_lab.hugepages(page_kib, count)
    check(got == count, "the host gave %d of the %d %d KiB pages asked for "
          "(memory too fragmented?); this test needs them" % (got, count, page_kib))


def free_huge_pages(page_kib):
    """The host's free huge pages of @page_kib KiB, all nodes."""
    with open("/sys/kernel/mm/hugepages/hugepages-%dkB/free_hugepages" % page_kib) as f:
        return int(f.read())


def wait_for(what, predicate, timeout, interval=0.25):
    """Poll predicate() until it returns a truthy value; fail with @what."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def vmem_config(scan_dir=None, guests=(), **keys):
    """rammd config text: [rammd] keys, optional scan_dir, [guest] sections."""
    text = ""
    for k, v in keys.items():
        text += "%s = %s\n" % (k, v)
    if scan_dir:
        text += "scan_dir = %s\n" % scan_dir
    for g in guests:
        text += "[guest %s]\nqmp = %s\nagent = %s\n" % (g.name, g.qmp_path, g.agent_path)
    return text
