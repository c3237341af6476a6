#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch and cache the newest Debian 6.1 (bookworm) amd64 kernel headers,
# the other kernel vhost-blk must build against, and print the KDIR to
# build with. Idempotent; works from an empty cache.
#
# Usage: tests/vm/headers-6.1.sh    (prints KDIR on stdout)

set -euo pipefail

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
echo "$kdir"
