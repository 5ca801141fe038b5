#!/usr/bin/env bash
# Install everything ramm's build, tests and demo need, with apt-get.
# Idempotent: packages already present are not fetched again.
set -euo pipefail

packages=(
	build-essential pkg-config python3 cpio kmod clang libclang-rt-14-dev
	qemu-system-x86 qemu-utils
	linux-image-amd64 linux-headers-amd64 busybox-static
	libjson-c-dev libcmocka-dev libglib2.0-dev
	libvirt-dev libvirt-glib-1.0-dev
	libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libxml2-dev
	groff-base man-db systemd # make unit: man page warnings, systemd-analyze verify
)

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: run as root (apt-get install)" >&2
	exit 1
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done

export DEBIAN_FRONTEND=noninteractive
updated=0
if [ "${#missing[@]}" -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	apt-get update -qq
	updated=1
	apt-get install -y -qq "${missing[@]}"
fi

# The kernel matrix: the guest driver is built and tested on Debian 12's own
# kernel (6.1, from linux-image-amd64 above) and on the newest 6.12 kernel
# Debian 12 ships (linux-image-6.12.N+deb12-amd64). N is found at run time.
newest_612() {
	apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' |
		awk '{print $1}' | sort -V | tail -n 1
}
if ! ls /lib/modules/6.12.*/build >/dev/null 2>&1; then
	[ "$updated" = 1 ] || apt-get update -qq
	image=$(newest_612)
	if [ -z "$image" ]; then
		echo "deps: no linux-image-6.12.*+deb12-amd64 in the archive" >&2
		exit 1
	fi
	echo "deps: installing $image and its headers (kernel matrix)"
	apt-get install -y -qq "$image" "linux-headers-${image#linux-image-}"
fi
echo "deps: all present"
