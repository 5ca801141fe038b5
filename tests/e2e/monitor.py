"""A thread that samples every guest's virtio-mem size over the lab QMP
sockets and checks the broker's invariants on each sample:
  - no guest below its floor
  - the plugged total above the floors never exceeds the supply
It owns the guests' lab QMP connections while it runs."""

import threading
import time

MIB = 1024 * 1024


class SizeMonitor(threading.Thread):
    def __init__(self, guests, floor_mib, supply_mib, interval=0.3):
        super().__init__(daemon=True)
        self.guests = guests
        self.floor_mib = floor_mib
        self.supply_mib = supply_mib
        self.interval = interval
        self.lock = threading.Lock()
        self.latest = {}        # name -> total MiB (boot + plugged)
        self.moved = {}         # name -> MiB plugged plus unplugged so far
        self.samples = 0
        self.violations = []
        self.errors = []
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            try:
                totals = {g.name: g.total_mib() for g in self.guests}
            except Exception as e:  # noqa: BLE001 - reported by check()
                self.errors.append(repr(e))
                return
            above = sum(t - self.floor_mib[n] for n, t in totals.items())
            with self.lock:
                for n, t in totals.items():
                    self.moved[n] = self.moved.get(n, 0) + abs(t - self.latest.get(n, t))
                self.latest = totals
                self.samples += 1
                for n, t in totals.items():
                    if t < self.floor_mib[n]:
                        self.violations.append("%s at %d MiB, below floor %d" %
                                               (n, t, self.floor_mib[n]))
                if above > self.supply_mib:
                    self.violations.append("plugged %d MiB above floors > supply %d: %r" %
                                           (above, self.supply_mib, totals))
            time.sleep(self.interval)

    def total(self, name):
        with self.lock:
            return self.latest.get(name)

    def churn(self):
        """MiB each guest's device moved (plugged plus unplugged) between
        samples so far: ramm-sim's churn, measured."""
        with self.lock:
            return dict(self.moved)

    def wait_samples(self, n=1, timeout=10):
        deadline = time.time() + timeout
        start = self.samples
        while self.samples < start + n:
            if time.time() > deadline or self.errors:
                raise AssertionError("size monitor stalled: %r" % self.errors)
            time.sleep(0.05)

    def stop(self):
        self._stop_event.set()
        self.join(5)

    def check(self):
        if self.errors:
            raise AssertionError("size monitor failed: %s" % self.errors[0])
        if self.violations:
            raise AssertionError("invariant broken %d times, first: %s" %
                                 (len(self.violations), self.violations[0]))
        if self.samples < 10:
            raise AssertionError("size monitor took only %d samples" % self.samples)
