#!/usr/bin/env bash
# Install everything ramm's build, tests and demo need, with apt-get.
# Idempotent: packages already present are not fetched again.
set -euo pipefail

packages=(
	build-essential pkg-config python3 cpio kmod clang
	qemu-system-x86 qemu-utils
	linux-image-amd64 linux-headers-amd64 busybox-static
	libjson-c-dev libcmocka-dev libglib2.0-dev
	libvirt-dev libvirt-glib-1.0-dev
	libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
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

if [ "${#missing[@]}" -eq 0 ]; then
	echo "deps: all ${#packages[@]} packages present"
	exit 0
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}"
echo "deps: done"
