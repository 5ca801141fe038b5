"""Hostile agent input, sent from inside a real guest over its real
virtio-serial port: garbage, an over-long line, wrong types, and a flood.
Each must be counted and logged, rammd must keep serving the other guest,
and the hostile guest must keep the memory it holds."""

import time

from common import Broker, check, lab, vmem_config, wait_for

PORT_OF = ("P=; for d in /sys/class/virtio-ports/*; do "
           "[ \"$(cat $d/name)\" = org.ramm.agent.0 ] && P=/dev/${d##*/}; done; ")

VALID_HELLO = '{"type":"hello","v":1,"agent":"evil","version":"1","mode":"proc"}'
WRONG_TYPES = ('{"type":"report","v":1,"seq":"seven","urgent":"yes","mem_total_kib":-1,'
               '"mem_free_kib":1,"mem_available_kib":1,"psi_some_avg10":0,'
               '"psi_full_avg10":0,"refault_anon":0,"refault_file":0,"pgscan":0,'
               '"unit_bytes":2097152,"bid":[[1,5],[2,9]]}')
GREEDY_BID = ('{"type":"report","v":1,"seq":1,"urgent":false,"mem_total_kib":1,'
              '"mem_free_kib":1,"mem_available_kib":1,"psi_some_avg10":0,'
              '"psi_full_avg10":0,"refault_anon":0,"refault_file":0,"pgscan":0,'
              '"unit_bytes":2097152,"bid":[[10,5],[20,900]]}')


def counters(broker, name):
    return broker.guest(name)["counters"]


def send_from_guest(g, shell_producing_lines):
    """Write to the agent port from inside the guest (agent stopped)."""
    g.run(PORT_OF + "{ %s; } > $P" % shell_producing_lines, timeout=120)


def wait_counter(broker, name, key, at_least=1):
    return wait_for("%s's %s counter" % (name, key),
                    lambda: counters(broker, name)[key] >= at_least, 20)


def test_hostile_agent_input():
    with lab.Lab() as L:
        # Nothing plugged at boot: an idle guest's plugged memory is not
        # sold at the default reserve price, and a hog starting while that
        # unplug is still running can meet the guest's OOM killer.
        good, evil = L.boot_all([("good", dict(vmem_mib=0)), ("evil", dict(vmem_mib=0))])
        # Configured guests (not a scan), and a roomy supply: nothing here
        # should make rammd move memory away from the hostile guest.
        broker = Broker(L, vmem_config(guests=[good, evil], supply_mib=2048,
                                       stale_report_ms=1500))
        wait_for("reports from both agents",
                 lambda: all(g["counters"]["reports"] >= 2 for g in broker.state()["guests"]), 30)
        # The hostile guest uses memory, so it holds more than its floor.
        evil.hog(250)
        try:
            wait_for("the hostile guest's hog to hold 250 MiB",
                     lambda: evil.hog_status().get("held_mib") == "250", 60)
        except AssertionError:
            # What a failure needs to be understood from a CI log.
            print("hog: %r" % evil.hog_status())
            print(evil.run("dmesg | tail -20", check=False)[1])
            print(broker.rammctl("bids").stdout)
            print(broker.log()[-4000:])
            raise
        wait_for("the hostile guest to settle", lambda: not broker.guest("evil")["resizing"], 30)
        # Its own agent stops; the port is ours now. Once its last report
        # is stale it keeps what it holds, whatever it sends next.
        evil.run("kill $(cat /run/ramm-agent.pid)")
        time.sleep(2.5)
        wait_for("the hostile guest to settle", lambda: not broker.guest("evil")["resizing"], 30)
        evil_size = evil.total_mib()
        check(evil_size > 256, "the hostile guest holds only its floor")
        good_reports = counters(broker, "good")["reports"]

        send_from_guest(evil, "echo 'this is not json'; echo '[1,2,3]'; echo '{\"v\":1}'")
        wait_counter(broker, "evil", "bad_json", 3)

        send_from_guest(evil, "head -c 10000 /dev/zero | tr '\\0' x; echo")
        wait_counter(broker, "evil", "oversize")

        send_from_guest(evil, "echo '%s'; echo '%s'" % (WRONG_TYPES, GREEDY_BID))
        wait_counter(broker, "evil", "bad_field", 2)

        send_from_guest(evil, "i=0; while [ $i -lt 400 ]; do echo '%s'; i=$((i+1)); done"
                        % VALID_HELLO)
        wait_counter(broker, "evil", "rate_limited", 100)

        c = counters(broker, "evil")
        print("evil counters: %r" % c)
        log = broker.log()
        for needle in ("agent sent garbage", "agent sent an over-long line",
                       "agent sent a bad message", "agent sent a flood"):
            check(needle in log, "rammd log lacks '%s'" % needle)
        check(broker.alive(), "rammd died")

        # The other guest was served all along, and still is.
        time.sleep(3)
        g = broker.guest("good")
        check(g["counters"]["reports"] > good_reports + 2,
              "good guest's reports stalled (%d -> %d)" % (good_reports, g["counters"]["reports"]))
        check(g["report_age_ms"] < 2500, "good guest's report is %d ms old" % g["report_age_ms"])
        check(sum(g["counters"][k] for k in ("bad_json", "oversize", "bad_field", "rate_limited")) == 0,
              "good guest was charged for evil's lines: %r" % g["counters"])
        # The hostile guest lost nothing: no valid bid means it keeps its size.
        check(evil.total_mib() == evil_size,
              "hostile guest went from %d to %d MiB" % (evil_size, evil.total_mib()))

        # Its agent comes back and is heard again.
        before = counters(broker, "evil")["reports"]
        evil.run("ramm-agent --pidfile /run/ramm-agent.pid >/run/ramm-agent.log 2>&1 &")
        wait_for("the restarted agent's reports",
                 lambda: counters(broker, "evil")["reports"] > before + 1, 20)
        check(broker.alive(), "rammd died")
