"""Guests cannot set the clock (issue 12, item 10): an urgent report pulls
forward only a partial round for its guest. The regular tick keeps its
tick_ms cadence, and income accrues per second of wall time however often
a guest reports.

The figures come from `rammctl history`: rammd pushes one entry per
regular tick, with its wall time and each guest's balance after settling.
"""

import json
import time

from harness import check, wait_for
from test_daemon import Bed, sets_since

# Urgent reports a second: just under the agent channel's 20 lines a
# second, so none is dropped by the line limit.
URGENT_PER_S = 16


def history(bed, name):
    """The guest's history entries (oldest first)."""
    code, out, _ = bed.rammd.rammctl("--json", "history", name)
    check(code == 0, "rammctl history %s: exit %d" % (name, code))
    return json.loads(out)["entries"]


def window(entries, start_ms, end_ms):
    """(ticks per second, balance earned per second) over the entries whose
    time falls in [@start_ms, @end_ms]."""
    es = [e for e in entries if start_ms <= e["time_ms"] <= end_ms]
    check(len(es) >= 3, "only %d ticks in a %.1f s window" % (
        len(es), (end_ms - start_ms) / 1000.0))
    span_s = (es[-1]["time_ms"] - es[0]["time_ms"]) / 1000.0
    return ((len(es) - 1) / span_s,
            (es[-1]["balance"] - es[0]["balance"]) / span_s)


def test_urgent_reports_keep_the_clock():
    """A guest sending urgent reports at ~16 a second neither raises the
    tick rate nor another guest's income per second. Before, each urgent
    report pulled a whole tick forward (up to 5 a second), and every tick
    paid a whole tick's income."""
    tick_ms = 500
    with Bed("clock", {"a": {"demand_mib": 300}, "b": {"demand_mib": 300}},
             tick_ms=tick_ms) as bed:
        bed.ready(["a", "b"])
        bed.settled(["a", "b"])
        calm = (time.time() * 1000, None)
        time.sleep(5)
        calm = (calm[0], time.time() * 1000)
        spam_start = time.time() * 1000
        end = time.monotonic() + 5
        while time.monotonic() < end:
            bed.fleet.do("a", "set_demand", 300, True)
            time.sleep(1.0 / URGENT_PER_S)
        spam = (spam_start, time.time() * 1000)
        check(bed.rammd.alive(), "rammd exited")
        hb = history(bed, "b")
        calm_rate, calm_income = window(hb, *calm)
        spam_rate, spam_income = window(hb, *spam)
        print("ticks/s calm %.2f, with urgent reports %.2f (tick_ms %d); "
              "b's income/s calm %.0f, with urgent reports %.0f" % (
                  calm_rate, spam_rate, tick_ms, calm_income, spam_income))
        check(calm_income > 0, "b earned nothing while calm")
        check(spam_rate <= 1.25 * 1000.0 / tick_ms,
              "%.2f ticks a second under urgent reports; tick_ms %d makes %.2f"
              % (spam_rate, tick_ms, 1000.0 / tick_ms))
        check(spam_income <= 1.25 * calm_income,
              "b earned %.0f a second under a's urgent reports, %.0f without"
              % (spam_income, calm_income))
        check(bed.rammd.guests()["a"]["counters"]["reports"] >= 5 * URGENT_PER_S * 0.8,
              "rammd did not get a's urgent reports: %s"
              % bed.rammd.guests()["a"]["counters"])


def _next_growth_after_growth_ends(tag, plain_report):
    """Guest a grows on an urgent report; while that growth is in flight
    (a frozen guest) an urgent report asks for more, followed by a plain
    one with the same bid if @plain_report. Returns rammd's log and how
    long after the growth ended the next one was asked for (ticks 15 s
    apart, reports 60 s)."""
    with Bed(tag, {"a": {"demand_mib": 300, "max_mib": 2048,
                         "plug_mib_s": 100, "report_s": 60}},
             tick_ms=15000, stale_report_ms=120000) as bed:
        wait_for("a's welcome", lambda: bed.fleet.guest("a")["welcome"], 10)
        bed.fleet.do("a", "send_report")
        bed.ready(["a"])
        t0 = time.monotonic()
        bed.fleet.do("a", "set_demand", 900, True)
        first = wait_for("a's first growth", lambda: max(
            sets_since(bed.fleet.guest("a"), t0), default=0) or None, 8)
        # The agent bids from what the guest holds: its urgent report asks
        # for more than the growth in flight once most of it is plugged.
        mid = wait_for("a's growth three quarters done", lambda: (
            lambda size: size if size >= 256 + (first - 256) * 3 // 4 else None)(
                bed.fleet.guest("a")["size_mib"]), 8, interval=0.02)
        check(mid < first, "a's growth to %d MiB ended before its second report" % first)
        bed.fleet.do("a", "set_demand", 1400, True)
        if plain_report:
            bed.fleet.do("a", "send_report")
        t_end = wait_for("a's first growth done", lambda: (
            lambda f: time.monotonic() if f["size_mib"] >= first else None)(
                bed.fleet.guest("a")), 15, interval=0.02)
        t_next = wait_for("a's next growth", lambda: min(
            [t for t, v in bed.fleet.guest("a")["qom_sets_mib"] if v > first],
            default=None), 40)
        print("a's next growth asked for %.2f s after its growth ended" % (t_next - t_end))
        check(t_next - t_end < 1.5,
              "a's next growth came %.2f s after its growth ended (tick 15 s)" % (t_next - t_end))
        return bed.rammd.log()


def test_urgent_report_during_growth_is_served_when_it_ends():
    """An urgent report that comes while its guest is being grown (frozen
    then) gets the next growth as soon as that one ends, not at the next
    regular tick or report: a workload that outruns one growth waited a
    tick for the next before."""
    _next_growth_after_growth_ends("urgentchain", False)


def test_growth_goes_on_when_it_ends_after_a_plain_report():
    """As above, but a plain report (the periodic one) follows the urgent
    one during the growth, with the same bid: it is neither urgent nor
    raises anything, yet the bid still wants more than the growth in
    flight. The next growth comes as soon as that one ends. Before, it came
    at the next regular tick, as the plain report had replaced the urgent
    one; the test above failed so when its periodic report fell inside
    the growth."""
    log = _next_growth_after_growth_ends("growchain", True)
    check(any("guest a: grow" in ln and "as its growth ended" in ln
              for ln in log.splitlines()),
          "a's next growth was not logged as a partial round's")


def test_urgent_growth_is_prompt():
    """An urgent report still gets its guest's growth at once, from a
    partial round ahead of the regular tick (5 s apart here), logged as
    such; nobody else moves in it."""
    with Bed("urgent", {"a": {"demand_mib": 300}, "b": {"demand_mib": 300}},
             tick_ms=5000, stale_report_ms=20000) as bed:
        bed.ready(["a", "b"])
        bed.settled(["a", "b"], timeout=40)
        partial = False
        # The regular tick may come first and grant it; then ask again.
        for attempt in range(3):
            t = time.monotonic()
            bed.fleet.do("a", "set_demand", 700 + 100 * attempt, True)
            wait_for("a grown after its urgent report",
                     lambda: any(v > 256 for v in sets_since(bed.fleet.guest("a"), t)),
                     8)
            lines = [ln for ln in bed.rammd.log().splitlines()
                     if "guest a: grow" in ln and "on its urgent report" in ln]
            if lines:
                partial = True
                break
        check(partial, "a's growth never came from a partial round:\n" +
              "\n".join(ln for ln in bed.rammd.log().splitlines() if ": grow" in ln))
        check(not [ln for ln in bed.rammd.log().splitlines()
                   if "guest b: " in ln and "on its urgent report" in ln],
              "b moved in a's partial round")


def test_raised_bid_is_decided_at_once():
    """A report that is not urgent but raises its guest's bid for the unit
    after those it holds gets its growth from a partial round at once, not
    at the next regular tick (15 s apart here); a report that raises
    nothing does not pull a round forward. Before, such a report waited
    for the tick, up to tick_ms, while its workload grew."""
    with Bed("raised", {"a": {"demand_mib": 300, "report_s": 30}},
             tick_ms=15000, stale_report_ms=60000) as bed:
        wait_for("a's welcome", lambda: bed.fleet.guest("a")["welcome"], 10)
        bed.fleet.do("a", "send_report")  # reports are 30 s apart
        bed.ready(["a"])
        # The same bid again: nothing raised, nothing decided early.
        t0 = time.monotonic()
        before = len([ln for ln in bed.rammd.log().splitlines() if "on its raised bid" in ln])
        bed.fleet.do("a", "send_report")
        time.sleep(1.0)
        check(not sets_since(bed.fleet.guest("a"), t0),
              "a report that raised nothing moved a: %r" % sets_since(bed.fleet.guest("a"), t0))
        size = bed.fleet.guest("a")["size_mib"]
        t1 = time.monotonic()
        bed.fleet.do("a", "set_demand", 900, False)
        bed.fleet.do("a", "send_report")
        grown = wait_for("a grown after its raised bid", lambda: max(
            sets_since(bed.fleet.guest("a"), t1), default=0) or None, 5)
        print("a grown %d -> %d MiB %.2f s after a report that raised its bid (tick 15 s)"
              % (size, grown, time.monotonic() - t1))
        check(grown > size, "a asked for %d MiB, no more than its %d" % (grown, size))
        lines = [ln for ln in bed.rammd.log().splitlines()
                 if "guest a: grow" in ln and "on its raised bid" in ln]
        check(len(lines) > before, "a's growth did not come from a partial round:\n" +
              "\n".join(ln for ln in bed.rammd.log().splitlines() if ": grow" in ln))


