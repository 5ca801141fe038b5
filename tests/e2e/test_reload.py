"""SIGHUP reloads rammd's configuration, with a real guest: a new cap and
tick apply without a restart; a broken file changes nothing; a key that
only a restart can change is kept, with a warning."""

import os
import signal

from common import Broker, check, lab, vmem_config, wait_for


def hup_and_wait(broker, marker, count):
    os.kill(broker.proc.pid, signal.SIGHUP)
    wait_for("rammd to log %r" % marker, lambda: broker.log().count(marker) >= count, 10)


def test_sighup_reload():
    with lab.Lab() as L:
        (a,) = L.boot_all([("a", dict(boot_mib=256, vmem_mib=0))])
        broker = Broker(L, vmem_config(guests=[a], supply_mib=1024))
        wait_for("a's device", lambda: broker.guest("a")["device_ready"], 30)
        check(broker.guest("a")["cap_mib"] == 1280, "unexpected cap before the reload")
        with open(broker.config_path) as f:
            good = f.read()

        # A new cap for a, a new tick: applied in place.
        with open(broker.config_path, "w") as f:
            f.write(good.replace("[rammd]\n", "[rammd]\ntick_ms = 500\n", 1)
                        .replace("[guest a]\n", "[guest a]\ncap_mib = 512\n", 1))
        hup_and_wait(broker, "reload: %s applied" % broker.config_path, 1)
        check(broker.guest("a")["cap_mib"] == 512, "the new cap did not apply")
        ticks = broker.state()["ticks"]
        wait_for("ticks every 500 ms", lambda: broker.state()["ticks"] >= ticks + 4, 3)

        # A file that does not load changes nothing.
        with open(broker.config_path, "w") as f:
            f.write(good + "tick_ms = banana\n")
        hup_and_wait(broker, "keeping the running configuration", 1)
        check(broker.alive(), "rammd died on a bad reload")
        check(broker.guest("a")["cap_mib"] == 512, "a bad reload changed the cap")

        # The control socket only changes at a restart; the old one still works.
        with open(broker.config_path, "w") as f:
            f.write(good.replace(broker.control, broker.control + ".new", 1))
        hup_and_wait(broker, "control_socket changed; it takes effect at the next start", 1)
        check(broker.guest("a")["cap_mib"] == 1280, "the cap was not restored by the reload")
        check(not os.path.exists(broker.control + ".new"), "a new control socket appeared")
