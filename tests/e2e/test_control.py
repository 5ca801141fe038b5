"""The operator's interface end to end: rammctl against a real rammd and a
real guest, the control socket's permission check and its handling of
untrusted requests, and the Prometheus endpoint.

test_operator_commands: set floor/cap, drain, exclude and include change
what the market does to a live guest; history, market and top show it;
GET /metrics carries the guest's series.

test_untrusted_clients: a user outside root and group ramm may read but
not change (exit 4, logged); group ramm may change; malformed, over-long,
mistyped and unknown requests each get an error reply, are logged, and
rammd keeps serving.
"""

import grp
import json
import os
import pwd
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

from common import BUILD, Broker, check, lab, vmem_config, wait_for

BOOT_MIB = 256
TEST_USER = "rammtest"
ADMIN_GROUP = "ramm"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(port, path):
    """(status, body) of GET @path."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def http_raw(port, data):
    """The status line rammd answers to raw bytes @data."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
    except ConnectionResetError:
        pass
    s.close()
    return out.split(b"\r\n", 1)[0].decode(errors="replace")


def size_of(broker, name="a"):
    return broker.guest(name)["size_mib"]


def grown(broker, mib):
    """Guest a has completed a growth and holds more than @mib."""
    g = broker.guest("a")
    rs = g["last_resize"]
    return (g["size_mib"] > mib and not g["resizing"] and rs["done_us"]
            and rs["to_mib"] > rs["from_mib"])


def test_operator_commands():
    port = free_port()
    with lab.Lab() as L:
        (a,) = L.boot_all([("a", dict(boot_mib=BOOT_MIB, vmem_mib=0))])
        broker = Broker(L, vmem_config(scan_dir=L.dir, supply_mib=1024, reserve_price=0,
                                       max_plug_mib=1024, max_unplug_mib=512,
                                       min_hold_ms=0, metrics_listen="127.0.0.1:%d" % port))
        try:
            wait_for("a report from a", lambda: broker.guest("a")["report_age_ms"] is not None, 30)
            a.hog(64)
            check(broker.guest("a")["floor_mib"] == BOOT_MIB, "floor is not boot memory")

            # A floor override raises the guest to it, whatever it bids.
            r = broker.rammctl("set", "a", "floor", "640")
            check(r.returncode == 0, "set floor: %r" % r.stdout)
            check("floor 640 MiB" in r.stdout, "set floor reply: %r" % r.stdout)
            wait_for("a raised to its 640 MiB floor", lambda: size_of(broker) >= 640, 30)
            # floor above cap is refused (exit 1), and changes nothing.
            r = broker.rammctl("set", "a", "cap", "512")
            check(r.returncode == 1 and "above cap" in r.stdout, "floor > cap accepted: %r" % r.stdout)
            check(broker.rammctl("set", "a", "weight", "10001").returncode == 1, "weight 10001 accepted")
            check(broker.rammctl("set", "a", "size", "1").returncode == 2, "bad key not a usage error")

            # With a 96 MiB hog, a bids for about 100 MiB above its floor.
            # Clear the floor, cap at 320: the target stops at the cap.
            a.hog(96)
            check(broker.rammctl("set", "a", "floor", "0").returncode == 0, "clear floor")
            r = broker.rammctl("--json", "set", "a", "cap", "320")
            check(r.returncode == 0, "set cap: %r" % r.stdout)
            reply = json.loads(r.stdout)
            check(reply["cap_mib"] == 320 and reply["overrides"]["cap_mib"] == 320,
                  "set cap reply: %r" % reply)
            # (The agent is told the cap, and bids up to it.)
            wait_for("a held at its 320 MiB cap",
                     lambda: size_of(broker) == 320 and broker.guest("a")["target_mib"] == 320, 40)
            time.sleep(2)
            check(size_of(broker) == 320, "a moved past its cap")
            check(broker.rammctl("set", "a", "cap", "0").returncode == 0, "clear cap")
            wait_for("a to grow past the old cap", lambda: grown(broker, 320), 40)

            # Drain: back to the floor, whatever it bids.
            r = broker.rammctl("drain", "a")
            check(r.returncode == 0 and "drain" in r.stdout, "drain: %r" % r.stdout)
            wait_for("a drained to its floor", lambda: size_of(broker) == BOOT_MIB, 40)
            check("drain" in broker.rammctl("guests").stdout, "guests does not show the drain")

            # Exclude: frozen at its size although it now bids for more.
            r = broker.rammctl("exclude", "a")
            check(r.returncode == 0, "exclude: %r" % r.stdout)
            g = broker.guest("a")
            check(g["overrides"]["excluded"] and not g["overrides"]["drain"],
                  "exclude did not replace drain: %r" % g["overrides"])
            time.sleep(4)
            check(size_of(broker) == BOOT_MIB, "an excluded guest was resized")

            # Include: back in the market, it grows again.
            check(broker.rammctl("include", "a").returncode == 0, "include")
            wait_for("a to grow once included", lambda: grown(broker, BOOT_MIB + 32), 40)
            ov = broker.guest("a")["overrides"]
            check(not ov["excluded"] and not ov["drain"], "include left %r" % ov)

            log = broker.log()
            for line in ("control: uid 0: guest a: set floor 640 MiB",
                         "control: uid 0: guest a: set cap 320 MiB",
                         "control: uid 0: guest a: drain", "control: uid 0: guest a: exclude",
                         "control: uid 0: guest a: include"):
                check(line in log, "no log line %r" % line)

            # history: the ring saw the drain to the floor and the growth.
            r = broker.rammctl("--json", "history", "a")
            check(r.returncode == 0, "history: %r" % r.stdout)
            h = json.loads(r.stdout)
            sizes = [e["size_mib"] for e in h["entries"]]
            check(h["capacity"] == 600 and 5 < len(sizes) <= 600, "history length %d" % len(sizes))
            check(BOOT_MIB in sizes and max(sizes) >= 640, "history sizes %r" % sizes[-40:])
            check(all(set(e) >= {"time_ms", "size_mib", "target_mib", "price", "credit"}
                      for e in h["entries"]), "history entry fields")
            text = broker.rammctl("history", "a", "-n", "5").stdout
            check("TARGET" in text and len(text.strip().splitlines()) == 5 + 3,
                  "history text:\n" + text)
            check(broker.rammctl("history", "nosuch").returncode == 1, "history of no guest")
            check(broker.rammctl("history").returncode == 2, "history without a guest")

            # market: a chart with the clearing price marked.
            text = broker.rammctl("market").stdout
            print(text)
            check("<== clearing price" in text and "PRICE" in text and "|" in text,
                  "market chart:\n" + text)
            m = json.loads(broker.rammctl("market", "--json").stdout)
            check(m["demand_curve"] and any(lv["price"] == m["price"] for lv in m["demand_curve"]),
                  "market json: %r" % m)
            cum = [lv["demand_mib"] for lv in m["demand_curve"]]
            check(cum == sorted(cum), "demand is not cumulative down the prices: %r" % cum)

            # top: one frame when stdout is not a terminal, or --once.
            for args in (("top", "--once"), ("top",)):
                r = broker.rammctl(*args)
                check(r.returncode == 0 and "GUEST" in r.stdout and "\na " in r.stdout
                      and "\033[" not in r.stdout, "%s:\n%s" % (args, r.stdout))
            check(json.loads(broker.rammctl("top", "--json").stdout)["guests"], "top --json")

            # metrics
            status, body = http_get(port, "/metrics")
            check(status == 200, "GET /metrics: %d" % status)
            for name in ("ramm_guest_size_bytes", "ramm_guest_target_bytes", "ramm_guest_floor_bytes",
                         "ramm_guest_cap_bytes", "ramm_guest_bid_bytes", "ramm_guest_paid_total",
                         "ramm_guest_credit", "ramm_guest_balance"):
                check("# TYPE %s " % name in body and '%s{guest="a"' % name in body,
                      "metric %s missing:\n%s" % (name, body))
            for name in ("ramm_market_price", "ramm_supply_bytes", "ramm_allocated_bytes",
                         "ramm_demand_bytes", "ramm_ticks_total", "ramm_emergency"):
                check("\n%s " % name in body, "metric %s missing" % name)
            size = [ln for ln in body.splitlines() if ln.startswith('ramm_guest_size_bytes{guest="a"}')]
            check(size and int(size[0].split()[-1]) == size_of(broker) * 1024 * 1024,
                  "size metric %r vs rammctl %d MiB" % (size, size_of(broker)))
            check(http_get(port, "/")[0] == 404, "GET / is not 404")
            check(http_raw(port, b"POST /metrics HTTP/1.0\r\n\r\n").startswith("HTTP/1.0 400"),
                  "POST not refused")
            check(http_raw(port, b"garbage\r\n\r\n").startswith("HTTP/1.0 400"), "garbage not 400")
            check(http_raw(port, b"GET /metrics HTTP/1.0\r\n" + b"X: y\r\n" * 2000).startswith("HTTP/1.0 431"),
                  "an over-long request is not refused")
            check(broker.alive(), "rammd died")
        finally:
            print(broker.rammctl("guests").stdout)
            print(broker.log()[-4000:])


def ensure_user():
    """The unprivileged test user (created if missing); its uid."""
    try:
        return pwd.getpwnam(TEST_USER).pw_uid
    except KeyError:
        subprocess.run(["useradd", "-r", "-M", "-s", "/usr/sbin/nologin", TEST_USER], check=True)
        return pwd.getpwnam(TEST_USER).pw_uid


def ensure_group():
    try:
        return grp.getgrnam(ADMIN_GROUP).gr_gid
    except KeyError:
        subprocess.run(["groupadd", "-r", ADMIN_GROUP], check=True)
        return grp.getgrnam(ADMIN_GROUP).gr_gid


def as_user(rammctl, sock, *args, groups=None, gid=None):
    """rammctl run as TEST_USER, with no groups unless @groups."""
    if gid is None:
        gid = pwd.getpwnam(TEST_USER).pw_gid
    cmd = ["setpriv", "--reuid", TEST_USER, "--regid", str(gid)]
    cmd += ["--groups", ",".join(groups)] if groups else ["--clear-groups"]
    return subprocess.run(cmd + [rammctl, "-s", sock] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=10)


def control_request(path, data, timeout=8):
    """Raw bytes to the control socket; the reply line, parsed."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    out = b""
    try:
        while b"\n" not in out:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except ConnectionResetError:
        pass
    s.close()
    return json.loads(out.split(b"\n")[0])


def test_untrusted_clients():
    uid = ensure_user()
    gid = ensure_group()
    with lab.Lab() as L:
        (a,) = L.boot_all([("a", dict(boot_mib=BOOT_MIB, vmem_mib=128))])
        broker = Broker(L, vmem_config(scan_dir=L.dir, supply_mib=1024, metrics_listen=""))
        try:
            wait_for("guest a managed", lambda: broker.guest("a")["device_ready"], 30)
            # rammd gives its 0660 socket to group ramm: a member connects.
            st = os.stat(broker.control)
            check(st.st_gid == gid and st.st_mode & 0o777 == 0o660,
                  "control socket is gid %d mode %o, want group %s and 0660" %
                  (st.st_gid, st.st_mode & 0o777, ADMIN_GROUP))
            # The test user runs a copy of rammctl outside the build tree.
            os.chmod(L.dir, 0o711)
            rammctl = os.path.join(L.dir, "rammctl")
            shutil.copy(os.path.join(BUILD, "rammctl"), rammctl)
            os.chmod(rammctl, 0o755)
            r = as_user(rammctl, broker.control, "guests", groups=[ADMIN_GROUP])
            check(r.returncode == 0, "a ramm group member could not connect: %r" % r.stdout)
            # From here on it reaches the socket without the group.
            os.chmod(broker.control, 0o666)

            r = as_user(rammctl, broker.control, "guests")
            check(r.returncode == 0 and "\na " in r.stdout, "a read was refused: %r" % r.stdout)
            r = as_user(rammctl, broker.control, "history", "a")
            check(r.returncode == 0, "history refused: %r" % r.stdout)
            for args in (("set", "a", "cap", "300"), ("drain", "a"), ("exclude", "a"),
                         ("include", "a"), ("set", "nosuch", "weight", "5")):
                r = as_user(rammctl, broker.control, *args)
                check(r.returncode == 4 and "permission denied" in r.stdout,
                      "%s as uid %d: exit %d %r" % (args, uid, r.returncode, r.stdout))
            check(broker.guest("a")["overrides"] == {"weight": 0, "floor_mib": 0, "cap_mib": 0,
                                                      "excluded": False, "drain": False},
                  "a refused change took effect: %r" % broker.guest("a")["overrides"])
            log = broker.log()
            check("uid %d" % uid in log and "permission denied" in log,
                  "the refusal is not logged:\n" + log[-2000:])
            # Group ramm, supplementary or primary, may change.
            r = as_user(rammctl, broker.control, "set", "a", "weight", "200", groups=[ADMIN_GROUP])
            check(r.returncode == 0, "group ramm (supplementary) refused: %r" % r.stdout)
            r = as_user(rammctl, broker.control, "set", "a", "weight", "0",
                        gid=grp.getgrnam(ADMIN_GROUP).gr_gid)
            check(r.returncode == 0, "group ramm (primary) refused: %r" % r.stdout)
            check("control: uid %d: guest a: set weight 200" % uid in broker.log(),
                  "the change is not logged with its uid")

            # Malformed requests: each one an error reply; rammd serves on.
            bad = [
                (b"garbage\n", "not one valid JSON"),
                (b"{\"cmd\": \"guests\"\n", "not one valid JSON"),
                (b"[1, 2, 3]\n", "JSON object"),
                (b"{\"cmd\": 5}\n", "string \"cmd\""),
                (b"{\"nocmd\": 1}\n", "string \"cmd\""),
                (b"{\"cmd\": \"reboot\"}\n", "unknown command"),
                (b"{\"cmd\": \"guests\", \"extra\": 1}\n", "unknown member"),
                (b"{\"cmd\": \"guests\"} {\"cmd\": \"bids\"}\n", "not one valid JSON"),
                (b"{\"cmd\": \"history\"}\n", "missing member"),
                (b"{\"cmd\": \"history\", \"guest\": 7}\n", "must be a string"),
                (b"{\"cmd\": \"history\", \"guest\": \"../../etc/passwd\"}\n", "guest name"),
                (b"{\"cmd\": \"history\", \"guest\": \"" + b"x" * 200 + b"\"}\n", "guest name"),
                (b"{\"cmd\": \"set\", \"guest\": \"a\", \"key\": \"cap\", \"value\": \"5\"}\n",
                 "must be an integer"),
                (b"{\"cmd\": \"set\", \"guest\": \"a\", \"key\": \"cap\", \"value\": 1.5}\n",
                 "must be an integer"),
                (b"{\"cmd\": \"set\", \"guest\": \"a\", \"key\": \"cap\", \"value\": -1}\n", ">= 0"),
                (b"{\"cmd\": \"set\", \"guest\": \"a\", \"key\": \"mem\", \"value\": 1}\n",
                 "weight, floor or cap"),
                (b"{\"cmd\": \"set\", \"guest\": \"a\", \"key\": \"weight\", \"value\": 99999}\n",
                 "outside"),
                (b"{\"cmd\": \"guests\"}\x00\n", "not one valid JSON"),
                (b"[" * 5000 + b"]" * 5000 + b"\n", "too long"),
                (b"{\"cmd\": \"" + b"g" * 8000 + b"\"}\n", "too long"),
                (b"\xff\xfe\n", "not one valid JSON"),
            ]
            for data, want in bad:
                reply = control_request(broker.control, data)
                check("error" in reply and want in reply["error"],
                      "%r: got %r, want an error with %r" % (data[:60], reply, want))
            # Depth: nested within the line limit, beyond the parser's depth.
            reply = control_request(broker.control, b"[" * 1000 + b"]" * 1000 + b"\n")
            check("error" in reply, "deep nesting: %r" % reply)
            # A client that sends half a request and hangs up costs nothing.
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(broker.control)
            s.sendall(b"{\"cmd\": ")
            s.close()
            check(broker.alive(), "rammd died on malformed requests")
            r = broker.rammctl("guests")
            check(r.returncode == 0 and "\na " in r.stdout, "rammd stopped serving: %r" % r.stdout)
            check(broker.log().count("control: refused request") >= len(bad),
                  "malformed requests are not logged")
        finally:
            print(broker.log()[-3000:])


def test_market_chart_and_paid():
    """A supply below the guest's demand: the price is positive, the market
    chart marks it, and the guest's paid counter grows."""
    port = free_port()
    with lab.Lab() as L:
        (a,) = L.boot_all([("a", dict(boot_mib=BOOT_MIB, vmem_mib=0))])
        broker = Broker(L, vmem_config(scan_dir=L.dir, supply_mib=16, reserve_price=0,
                                       metrics_listen="127.0.0.1:%d" % port))
        try:
            a.hog(96)
            wait_for("a positive clearing price", lambda: broker.state()["price"] > 0, 40)
            st = broker.state()
            text = broker.rammctl("market").stdout
            print(text)
            marked = [ln for ln in text.splitlines() if ln.endswith("<== clearing price")]
            check(len(marked) == 1 and int(marked[0].split()[1]) == st["price"],
                  "the clearing price %d is not marked:\n%s" % (st["price"], text))
            check("| " in text or "|\n" in text or "#|" in text, "no supply line:\n" + text)
            m = json.loads(broker.rammctl("--json", "market").stdout)
            above = [lv["demand_mib"] for lv in m["demand_curve"] if lv["price"] > m["price"]]
            check(not above or max(above) <= m["supply_mib"] + m["unit_mib"],
                  "demand above the clearing price exceeds the supply: %r" % m)
            check(max(lv["demand_mib"] for lv in m["demand_curve"]) > m["supply_mib"],
                  "demand does not exceed the supply: %r" % m)

            def paid():
                body = http_get(port, "/metrics")[1]
                for ln in body.splitlines():
                    if ln.startswith('ramm_guest_paid_total{guest="a"}'):
                        return int(ln.split()[-1])
                return None
            p0 = paid()
            wait_for("a's paid counter to grow", lambda: paid() > p0, 10)
            check(broker.guest("a")["paid_total"] > 0, "paid_total not in the state")
            body = http_get(port, "/metrics")[1]
            check("ramm_market_price %d" % broker.state()["price"] in body or
                  "ramm_market_price " in body, "no price metric")
        finally:
            print(broker.log()[-2000:])
