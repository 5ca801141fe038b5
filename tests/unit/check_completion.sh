#!/usr/bin/env bash
# config/rammctl.bash-completion: subcommands, options, socket paths, guest
# names (from a stand-in rammd on a temporary socket, through the real
# build/rammctl) and `set GUEST weight|floor|cap`; and nothing, quietly,
# when rammd cannot be reached. Run from `make unit`.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
RAMMCTL=$PWD/$BUILD/rammctl
[ -x "$RAMMCTL" ] || { echo "check_completion: build $RAMMCTL first" >&2; exit 1; }

tmp=$(mktemp -d)
server=
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# A stand-in rammd: answers every request with two guests.
python3 - "$tmp/rammd.sock" <<'PY' &
import json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1] + ".tmp")
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.listen(8)
reply = json.dumps({"price": 0, "guests": [
    {"name": "web1", "counters": {}}, {"name": "db-2", "bid": []}]}).encode()
while True:
    c, _ = s.accept()
    req = b""
    while not req.endswith(b"\n"):  # read the whole request line first
        part = c.recv(4096)
        if not part:
            break
        req += part
    c.sendall(reply + b"\n")
    c.close()
PY
server=$!
for _ in $(seq 50); do [ -S "$tmp/rammd.sock" ] && break; sleep 0.1; done
[ -S "$tmp/rammd.sock" ] || { echo "check_completion: stand-in rammd did not start" >&2; exit 1; }

# shellcheck source=../../config/rammctl.bash-completion
source config/rammctl.bash-completion
complete -p rammctl >/dev/null

fail=0
# expect "WORDS..." "EXPECTED REPLY (sorted, space-separated)": the last
# word is the one being completed (may be empty).
expect() {
	local line=$1 want=$2 got errfile=$tmp/err
	read -r -a COMP_WORDS <<<"$line"
	[[ $line == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_rammctl 2>"$errfile" || true  # compgen fails when nothing matches
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//')
	if [ "$got" != "$want" ]; then
		echo "FAIL: '$line' -> '$got', want '$want'"
		fail=1
	elif [ -s "$errfile" ]; then
		echo "FAIL: '$line' printed to stderr: $(cat "$errfile")"
		fail=1
	else
		echo "ok:   '$line' -> '$got'"
	fi
}

S="-s $tmp/rammd.sock"
expect "$RAMMCTL " "bids drain exclude guests history include market set top"
expect "$RAMMCTL g" "guests"
expect "$RAMMCTL --j" "--json"
expect "$RAMMCTL -" "--help --json --socket -h -j -s"
expect "$RAMMCTL -s $tmp/rammd.so" "$tmp/rammd.sock"
expect "$RAMMCTL $S --json b" "bids"
expect "$RAMMCTL $S drain " "db-2 web1"
expect "$RAMMCTL $S history w" "web1"
expect "$RAMMCTL $S set " "db-2 web1"
expect "$RAMMCTL $S set web1 " "cap floor weight"
expect "$RAMMCTL $S set web1 f" "floor"
expect "$RAMMCTL $S set web1 floor " ""
expect "$RAMMCTL $S drain web1 " ""
expect "$RAMMCTL $S guests " ""
expect "$RAMMCTL $S guests --j" "--json"
expect "$RAMMCTL $S top -" "--json --once"
expect "$RAMMCTL $S history -" "--json -n"
expect "$RAMMCTL $S history web1 -n " ""
expect "$RAMMCTL $S bids --json " ""
expect "$RAMMCTL $S drain --json " "db-2 web1"
# rammd not there: no names, no noise.
expect "$RAMMCTL -s $tmp/nothing.sock exclude " ""
expect "$RAMMCTL -s $tmp/nothing.sock set " ""

[ "$fail" = 0 ] && echo "check_completion: all cases pass"
exit "$fail"
