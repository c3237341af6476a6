#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch and cache the newest Debian 6.1 (bookworm) amd64 kernel headers,
# the other kernel vhost-blk must build against, and print the KDIR to
# build with. Idempotent; works from an empty cache.
#
# Usage: tests/vm/headers-6.1.sh [--image]   (prints KDIR on stdout)
#   --image   also the unsigned kernel image and its modules, to boot
#             (tests/vm/run.sh with VHOST_BLK_KERNEL=6.1), and the
#             environment file <root>/env that run.sh reads

set -euo pipefail

IMAGE=0
case ${1:-} in
--image) IMAGE=1 ;;
"") ;;
*) echo "usage: $0 [--image]" >&2; exit 2 ;;
esac

# shellcheck source=../lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

abi=$(apt-cache search --names-only '^linux-headers-6\.1\.0-[0-9]+-amd64$' 2>/dev/null |
	awk '{ print $1 }' | sed 's/^linux-headers-//; s/-amd64$//' | sort -V | tail -n 1)
if [ -z "$abi" ]; then
	vb_apt_update
	abi=$(apt-cache search --names-only '^linux-headers-6\.1\.0-[0-9]+-amd64$' |
		awk '{ print $1 }' | sed 's/^linux-headers-//; s/-amd64$//' | sort -V | tail -n 1)
fi
[ -n "$abi" ] || vb_die "apt knows no linux-headers-6.1.0-*-amd64"

root=$VB_CACHE/debian-$abi
kdir=$root/usr/src/linux-headers-$abi-amd64
if [ ! -e "$root/.headers-ok" ]; then
	dl=$(mktemp -d)
	chown _apt "$dl" 2>/dev/null || true
	(cd "$dl" && apt-get download -q "linux-headers-$abi-amd64" \
		"linux-headers-$abi-common" linux-kbuild-6.1 </dev/null >&2)
	rm -rf "$root"
	mkdir -p "$root"
	for deb in "$dl"/*.deb; do
		dpkg -x "$deb" "$root"
	done
	rm -rf "$dl"
	# The -amd64 Makefile includes the -common tree by absolute path.
	sed -i "s|/usr/src/|$root/usr/src/|" "$kdir/Makefile"
	touch "$root/.headers-ok"
fi
if [ "$IMAGE" -eq 1 ] && [ ! -e "$root/.image-ok" ]; then
	export PATH=$PATH:/usr/sbin:/sbin
	vb_ensure_packages kmod >&2
	dl=$(mktemp -d)
	chown _apt "$dl" 2>/dev/null || true
	(cd "$dl" && apt-get download -q "linux-image-$abi-amd64-unsigned" \
		</dev/null >&2)
	dpkg -x "$dl"/linux-image-*.deb "$root"
	rm -rf "$dl"
	depmod -b "$root" "$abi-amd64"
	[ -f "$root/boot/vmlinuz-$abi-amd64" ] ||
		vb_die "$root/boot/vmlinuz-$abi-amd64 missing after unpack"
	touch "$root/.image-ok"
fi
if [ "$IMAGE" -eq 1 ]; then
	# The stock kernel's environment gives the host-side tools.
	ksft=''
	chk=''
	if [ -f "$VB_CACHE/env" ]; then
		# shellcheck source=/dev/null
		ksft=$(. "$VB_CACHE/env" && echo "${KSFT_DIR:-}")
		# shellcheck source=/dev/null
		chk=$(. "$VB_CACHE/env" && echo "${CHECKPATCH:-}")
	fi
	{
		echo "# Written by tests/vm/headers-6.1.sh --image; source it."
		printf 'KVER=%q\n' "$abi"
		printf 'KREL=%q\n' "$abi-amd64"
		printf 'KDIR=%q\n' "$kdir"
		printf 'VMLINUZ=%q\n' "$root/boot/vmlinuz-$abi-amd64"
		printf 'KSFT_DIR=%q\n' "$ksft"
		printf 'CHECKPATCH=%q\n' "$chk"
		printf 'KROOT=%q\n' "$root"
		printf 'MODROOT=%q\n' "$root"
	} >"$root/env.tmp"
	mv -f "$root/env.tmp" "$root/env"
fi
echo "$kdir"
