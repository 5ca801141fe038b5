"""rammd and rammctl for the fleet tests and the benchmark: a config of their
own in a temp dir, the daemon started and stopped by PID, its state read
through rammctl.

RAMMD and RAMMCTL (environment) name the binaries; by default build/rammd
and build/rammctl of this repository.
"""

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RAMMD = os.environ.get("RAMMD", os.path.join(REPO, "build", "rammd"))
RAMMCTL = os.environ.get("RAMMCTL", os.path.join(REPO, "build", "rammctl"))


sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from runner import Skip  # noqa: E402,F401 - the runner counts it


def need_binaries():
    """Raise Skip unless rammd and rammctl are built."""
    for path in (RAMMD, RAMMCTL):
        if not os.access(path, os.X_OK):
            raise Skip("%s not built (make build/rammd build/rammctl, or set "
                       "RAMMD/RAMMCTL)" % path)


def short_tmpdir(tag):
    """A fresh directory under /tmp with a short name: unix socket paths
    must fit in 108 bytes."""
    return tempfile.mkdtemp(prefix="rf-%s-" % tag, dir="/tmp")


def remove_tree(path):
    """Remove @path and everything in it; never raises."""
    shutil.rmtree(path, ignore_errors=True)


def wait_for(what, predicate, timeout, interval=0.1):
    """Poll @predicate until it returns something true, and return that.
    Raises AssertionError naming @what after @timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def check(cond, what):
    """Raise AssertionError(@what) unless @cond."""
    if not cond:
        raise AssertionError(what)


# Keys tests use unless they say otherwise: quick ticks, no emergency
# clearing (the host's own MemAvailable must not steer a test), no metrics.
TEST_KEYS = {
    "tick_ms": 500,
    "min_hold_ms": 1000,
    "stale_report_ms": 2000,
    "resize_timeout_ms": 15000,
    "critical_free_mib": 0,
    "metrics_listen": "",
}


def _nofile_preexec(nofile):
    def preexec():
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(nofile, hard)
        if want > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return preexec


class Rammd:
    """One rammd with its own control socket, state file and log in
    @workdir, scanning @scan_dir. @keys go in its [rammd] section (a value
    None drops the key); @base_config, if given, is the text the keys are
    substituted into (the benchmark uses the shipped config). @env, if
    given, is added to rammd's environment."""

    def __init__(self, workdir, scan_dir, keys=None, base_config=None,
                 name="rammd", nofile=4096, env=None):
        self.workdir = workdir
        self.env = dict(os.environ, **(env or {}))
        self.name = name
        self.conf = os.path.join(workdir, name + ".conf")
        self.sock = os.path.join(workdir, name + ".sock")
        self.log_path = os.path.join(workdir, name + ".log")
        self.nofile = nofile
        self.proc = None
        all_keys = dict(keys or {})
        all_keys.setdefault("control_socket", self.sock)
        all_keys.setdefault("state_file", os.path.join(workdir, "state"))
        all_keys.setdefault("scan_dir", scan_dir)
        self.write_config(all_keys, base_config)

    def write_config(self, keys, base_config):
        """Write the config: @base_config with each key's line replaced (or
        uncommented), keys it lacks added to [rammd]; without a base, just
        the [rammd] section."""
        lines = (base_config or "[rammd]\n").splitlines()
        todo = dict(keys)
        out = []
        marker = None      # where keys the base lacks go: after [rammd]
        in_rammd = False
        for line in lines:
            bare = line.lstrip("#").strip()
            key = bare.split("=", 1)[0].strip() if "=" in bare else None
            if line.startswith("["):
                in_rammd = line.strip() == "[rammd]"
            if key in todo and in_rammd:
                value = todo.pop(key)
                if value is not None:
                    out.append("%s = %s" % (key, value))
                continue
            out.append(line)
            if line.strip() == "[rammd]":
                marker = len(out)
        extra = ["%s = %s" % (k, v) for k, v in todo.items() if v is not None]
        if marker is None:
            out[0:0] = ["[rammd]"] + extra
        else:
            out[marker:marker] = extra
        with open(self.conf, "w") as f:
            f.write("\n".join(out) + "\n")

    def start(self):
        """Start rammd; raises AssertionError if it exits or its control
        socket does not answer within 5 s."""
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen([RAMMD, "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=self.log_file, stderr=self.log_file,
                                     env=self.env, preexec_fn=_nofile_preexec(self.nofile))
        wait_for("rammd control socket", lambda: self.alive() is False or self.try_state(),
                 5)
        if not self.alive():
            raise AssertionError("rammd exited at start:\n" + self.log())
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def rammctl(self, *args, timeout=10):
        """Run rammctl on our socket; returns (exit code, stdout, seconds)."""
        start = time.monotonic()
        r = subprocess.run([RAMMCTL, "--socket", self.sock] + list(args),
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout)
        return r.returncode, r.stdout, time.monotonic() - start

    def try_state(self, cmd="guests"):
        """The state JSON, or None if rammd does not answer."""
        try:
            code, out, _ = self.rammctl("--json", cmd)
        except subprocess.TimeoutExpired:
            return None
        if code != 0:
            return None
        return json.loads(out)

    def state(self, cmd="guests"):
        """The state JSON; raises AssertionError if rammd does not answer."""
        st = self.try_state(cmd)
        check(st is not None, "rammctl %s: no answer from rammd" % cmd)
        return st

    def guests(self):
        """{name: guest JSON} from rammctl guests."""
        return {g["name"]: g for g in self.state()["guests"]}

    def kill(self, sig=signal.SIGKILL):
        """Send @sig to our rammd and wait for it to exit."""
        if self.alive():
            self.proc.send_signal(sig)
            self.proc.wait(10)

    def stop(self):
        """SIGTERM, then SIGKILL after 5 s; idempotent, never raises."""
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
        except OSError:
            pass
        self.log_file.close()
