#!/bin/bash
# qemu-plugins/proxmox/ramm-pve-args: exact output for a VMID, with and
# without --vmem; refusal (exit 2, nothing on stdout) of what is no VMID or
# no size; shellcheck-clean when shellcheck is installed; and, when QEMU is
# installed, QEMU accepts the arguments it prints. Run from `make unit`.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCRIPT=$ROOT/qemu-plugins/proxmox/ramm-pve-args
fails=0

fail() {
	echo "check_pve_args: $*" >&2
	fails=$((fails + 1))
}

expect() { # expect WANT ARGS...
	local want=$1 got
	shift
	if ! got=$(sh "$SCRIPT" "$@"); then
		fail "ramm-pve-args $* failed"
	elif [ "$got" != "$want" ]; then
		fail "ramm-pve-args $*: got '$got', want '$want'"
	fi
}

refuse() { # refuse ARGS...
	local out rc=0
	out=$(sh "$SCRIPT" "$@" 2>/dev/null) || rc=$?
	[ "$rc" -eq 2 ] || fail "ramm-pve-args $*: exit $rc, want 2"
	[ -z "$out" ] || fail "ramm-pve-args $*: printed '$out' while refusing"
}

AGENT="-device virtio-serial-pci,id=ramm-serial -chardev socket,id=ramm-agent,path=/run/ramm/101.agent,server=on,wait=off -device virtserialport,bus=ramm-serial.0,chardev=ramm-agent,name=org.ramm.agent.0"
expect "$AGENT" 101
expect "$AGENT -object memory-backend-ram,id=ramm-vmem0,size=4G -device virtio-mem-pci,id=ramm-vm0,memdev=ramm-vmem0,requested-size=0,block-size=2M" \
	--vmem 4G 101
expect "${AGENT//\/run\/ramm\//\/srv\/ramm\/}" --agent-dir /srv/ramm/ 101
expect "${AGENT//101/999999999}" 999999999

for bad in abc 99 0101 1000000000 12a "" "101 102" -5; do
	refuse -- "$bad"
done
refuse
refuse 101 102
refuse --vmem 4 101
refuse --vmem 4GG 101
refuse --block 2X 101
refuse --agent-dir relative/dir 101
refuse --agent-dir "/run/ramm dir" 101
refuse --bogus 101

if command -v shellcheck >/dev/null; then
	shellcheck -s sh "$SCRIPT" || fail "shellcheck complains about ramm-pve-args"
	shellcheck "$0" || fail "shellcheck complains about check_pve_args.sh"
else
	echo "check_pve_args: shellcheck not installed; skipped"
fi

# QEMU takes the arguments (it builds every device before reading QMP).
if command -v qemu-system-x86_64 >/dev/null; then
	dir=$(mktemp -d)
	trap 'rm -rf "$dir"' EXIT
	# shellcheck disable=SC2046 # the printed arguments are meant to split
	if ! printf '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n' |
		timeout 60 qemu-system-x86_64 -M q35 -accel tcg -nodefaults -display none \
			-m 256M,maxmem=2G,slots=1 -S -qmp stdio \
			$(sh "$SCRIPT" --agent-dir "$dir" --vmem 1G 101) >"$dir/out" 2>&1 ||
		! grep -q '"return"' "$dir/out"; then
		fail "QEMU refused the arguments: $(cat "$dir/out")"
	fi
fi

if [ "$fails" -ne 0 ]; then
	echo "check_pve_args: $fails failures" >&2
	exit 1
fi
echo "check_pve_args: ramm-pve-args prints the documented arguments and refuses bad input"
