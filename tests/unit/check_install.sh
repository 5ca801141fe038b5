#!/usr/bin/env bash
# `make install PREFIX=... DESTDIR=...` installs exactly the expected files
# with the expected modes; the unit's ExecStart follows the prefix and passes
# `systemd-analyze verify` (its Documentation= man pages found among the
# installed ones); the installed config passes `rammd --check-config`; the
# man pages are the sources, gzipped; an existing config is never
# overwritten. Run from `make unit`.
set -euo pipefail
cd "$(dirname "$0")/../.."
MAKE=${MAKE:-make}
BUILD=${BUILD:-build}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "check_install: FAIL: $*"; fail=1; }

install_into() { # DESTDIR PREFIX
	$MAKE -s --no-print-directory install BUILD="$BUILD" DESTDIR="$1" PREFIX="$2" >"$tmp/log" 2>&1 ||
		{ cat "$tmp/log"; bad "make install DESTDIR=$1 PREFIX=$2 failed"; return 1; }
}

for prefix in /usr/local /usr; do
	d=$tmp/root${prefix//\//_}
	install_into "$d" "$prefix" || continue
	want=$(sort <<EOF
644 /etc/ramm/rammd.conf
644 $prefix/lib/systemd/system/rammd.service
644 $prefix/share/bash-completion/completions/rammctl
644 $prefix/share/man/man5/rammd.conf.5.gz
644 $prefix/share/man/man8/rammctl.8.gz
644 $prefix/share/man/man8/rammd.8.gz
755 $prefix/bin/rammctl
755 $prefix/sbin/ramm-pve-args
755 $prefix/sbin/rammd
EOF
)
	got=$(cd "$d" && find . \( -type f -o -type l \) -printf '%m /%P\n' | sort)
	if [ "$got" != "$want" ]; then
		bad "PREFIX=$prefix installed file list differs:"
		diff <(echo "$want") <(echo "$got") || true
	fi

	unit=$d$prefix/lib/systemd/system/rammd.service
	grep -qx "ExecStart=$prefix/sbin/rammd --config /etc/ramm/rammd.conf" "$unit" ||
		bad "PREFIX=$prefix: unit's ExecStart is not $prefix/sbin/rammd --config /etc/ramm/rammd.conf"
	grep -q "^ExecReload=$prefix/sbin/rammd --check-config /etc/ramm/rammd.conf$" "$unit" ||
		bad "PREFIX=$prefix: unit's ExecReload does not validate the config"

	"$d$prefix/sbin/rammd" --check-config "$d/etc/ramm/rammd.conf" >/dev/null ||
		bad "installed rammd.conf does not pass rammd --check-config"
	cmp -s config/rammd.conf "$d/etc/ramm/rammd.conf" || bad "installed rammd.conf differs"
	cmp -s config/rammctl.bash-completion "$d$prefix/share/bash-completion/completions/rammctl" ||
		bad "installed completion differs"
	for m in rammd.8 rammctl.8 rammd.conf.5; do
		gzip -dc "$d$prefix/share/man/man${m##*.}/$m.gz" | cmp -s - "docs/man/$m" ||
			bad "installed $m.gz is not docs/man/$m"
	done
done

# The unit, as installed, through systemd's own checker. ExecStart must
# exist, so point it at the DESTDIR copy; Documentation=man:... must resolve,
# so give man the installed pages. Any warning fails.
d=$tmp/root_usr_local
if [ -f "$d/usr/local/lib/systemd/system/rammd.service" ]; then
	if command -v systemd-analyze >/dev/null; then
		mkdir -p "$tmp/unit"
		sed "s#/usr/local/sbin/#$d/usr/local/sbin/#g" \
			"$d/usr/local/lib/systemd/system/rammd.service" >"$tmp/unit/rammd.service"
		if ! MANPATH=$d/usr/local/share/man systemd-analyze verify \
			"$tmp/unit/rammd.service" >"$tmp/verify" 2>&1 || [ -s "$tmp/verify" ]; then
			cat "$tmp/verify"
			bad "systemd-analyze verify rammd.service"
		else
			echo "check_install: systemd-analyze verify rammd.service: clean"
		fi
	else
		bad "systemd-analyze not found (the systemd package): cannot verify rammd.service"
	fi
fi

# A second install keeps an operator's config.
echo "tick_ms = 2000  # the operator's" >>"$d/etc/ramm/rammd.conf"
install_into "$d" /usr/local &&
	{ grep -q "the operator's" "$d/etc/ramm/rammd.conf" || bad "make install overwrote an existing rammd.conf"; }
grep -q "keeping" "$tmp/log" || bad "make install did not say it kept the existing config"

[ "$fail" = 0 ] && echo "check_install: PREFIX=/usr/local and /usr: 9 files, modes, unit paths, man pages, config kept: ok"
exit "$fail"
