#!/usr/bin/env bash
# config/rammd.service's sandbox is enough for rammd, and its one capability
# is needed. Without systemd as PID 1 this emulates the two parts that can
# break rammd: the capability bounding set (read from the unit, applied with
# setpriv, plus NoNewPrivileges) and ProtectSystem=strict (every mount
# read-only in a private mount namespace, then the unit's ReadWritePaths,
# here temporary stand-ins for /run/ramm and /var/lib/ramm, writable).
# Under it build/rammd must start, answer `rammctl guests`, serve metrics
# and write its state file; and a root process must need CAP_DAC_OVERRIDE to
# reach a socket in another user's 0750 directory (libvirt's channel
# sockets), and have it under the unit's set. Needs root (skipped without).
# The seccomp filter, MemoryDenyWriteExecute and the address families are
# not emulated. Run from `make unit`.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
UNIT=config/rammd.service

if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null || ! command -v setpriv >/dev/null; then
	echo "check_sandbox: SKIP (needs root, unshare and setpriv)"
	exit 0
fi

caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")
[ -n "$caps" ] || { echo "check_sandbox: FAIL: no CapabilityBoundingSet= in $UNIT"; exit 1; }
bset=-all
for c in $caps; do
	c=${c#CAP_}
	bset+=",+${c,,}"
done
grep -qx "ProtectSystem=strict" "$UNIT" || { echo "check_sandbox: FAIL: $UNIT is not ProtectSystem=strict"; exit 1; }
grep -qx "NoNewPrivileges=yes" "$UNIT" || { echo "check_sandbox: FAIL: $UNIT lacks NoNewPrivileges=yes"; exit 1; }
grep -qx "ReadWritePaths=-/run/ramm -/var/lib/ramm" "$UNIT" ||
	{ echo "check_sandbox: FAIL: ReadWritePaths changed: update this test's stand-ins"; exit 1; }

tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
bad() { echo "check_sandbox: FAIL: $*"; fail=1; }

mkdir -p "$tmp/run" "$tmp/lib"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/rammd.conf" <<EOF
[rammd]
tick_ms = 200
control_socket = $tmp/run/rammd.sock
state_file = $tmp/lib/state
metrics_listen = 127.0.0.1:$port
EOF

# sandbox.sh CMD...: run CMD as the unit would (see the header).
cat >"$tmp/sandbox.sh" <<EOF
set -e
for m in \$(findmnt -rno TARGET | sort -r); do
	case \$m in /proc | /proc/* | /sys | /sys/* | /dev | /dev/*) continue ;; esac
	mount -o remount,bind,ro "\$m" 2>/dev/null || true
done
for d in "$tmp/run" "$tmp/lib"; do
	mount --bind "\$d" "\$d"
	mount -o remount,bind,rw "\$d"
done
if touch /etc/.ramm-sandbox-probe "$tmp/probe" 2>/dev/null; then
	rm -f /etc/.ramm-sandbox-probe "$tmp/probe"
	echo "sandbox: the file system is still writable" >&2
	exit 1
fi
exec setpriv --bounding-set=$bset --inh-caps=-all --no-new-privs "\$@"
EOF

unshare -m --propagation private bash "$tmp/sandbox.sh" "$BUILD/rammd" -c "$tmp/rammd.conf" \
	>"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 50); do [ -S "$tmp/run/rammd.sock" ] && break; sleep 0.1; done
if "$BUILD/rammctl" -s "$tmp/run/rammd.sock" guests >"$tmp/guests" 2>&1; then
	echo "check_sandbox: rammctl guests under the sandbox: ok"
else
	cat "$tmp/guests" "$tmp/log"
	bad "rammd under the unit's sandbox does not answer rammctl guests"
fi
if python3 -c "import sys, urllib.request; sys.exit(b'ramm_' not in urllib.request.urlopen('http://127.0.0.1:$port/metrics', timeout=5).read())"; then
	echo "check_sandbox: metrics on 127.0.0.1:$port: ok"
else
	bad "no metrics on 127.0.0.1:$port under the sandbox"
fi
kill -TERM "$pid"
wait "$pid" || bad "rammd exited $? on SIGTERM under the sandbox: $(cat "$tmp/log")"
pid=
if [ -s "$tmp/lib/state" ]; then
	echo "check_sandbox: state file written under ProtectSystem=strict: ok"
else
	bad "rammd wrote no state file under the sandbox: $(cat "$tmp/log")"
fi

# Why CAP_DAC_OVERRIDE: a socket of another user, in its 0750 directory.
mkdir -p "$tmp/other"
python3 - "$tmp/other/sock" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(4)
time.sleep(30)
PY
lsn=$!
for _ in $(seq 50); do [ -S "$tmp/other/sock" ] && break; sleep 0.1; done
chown -R nobody: "$tmp/other"
chmod 0750 "$tmp/other"
chmod 0700 "$tmp/other/sock"
chmod 0755 "$tmp"
probe="import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])"
if setpriv --bounding-set=-all --inh-caps=-all --no-new-privs \
	python3 -c "$probe" "$tmp/other/sock" 2>/dev/null; then
	bad "root with no capabilities reached another user's socket: CAP_DAC_OVERRIDE would be unneeded"
elif setpriv --bounding-set="$bset" --inh-caps=-all --no-new-privs \
	python3 -c "$probe" "$tmp/other/sock"; then
	echo "check_sandbox: another user's socket: refused with no capabilities, reached with the unit's ($caps): ok"
else
	bad "the unit's capabilities ($caps) do not reach another user's socket"
fi
kill "$lsn" 2>/dev/null || true
wait "$lsn" 2>/dev/null || true

exit "$fail"
