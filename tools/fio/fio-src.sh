#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch and configure the source of the installed fio, which an external
# ioengine must be compiled against (its struct layouts are not an ABI).
# Prints the source directory. Debian's fio package must be installed; the
# source comes from Debian (a deb-src entry is added if apt has none).
#
# Usage: tools/fio/fio-src.sh   (cache: $VHOST_BLK_CACHE, ~/.cache/vhost-blk)

set -euo pipefail

CACHE=${VHOST_BLK_CACHE:-$HOME/.cache/vhost-blk}
SRC_LIST=/etc/apt/sources.list.d/vhost-blk-src.sources

die()
{
	echo "fio-src.sh: $*" >&2
	exit 1
}

command -v fio >/dev/null || die "fio is not installed (apt-get install fio)"
# "fio-3.33" -> 3.33
VER=$(fio --version | sed 's/^fio-//')
DIR=$CACHE/fio-$VER
# configure's output defines CONFIG_*; "configure --help" leaves a header
# without any, which the engine cannot be built against.
configured()
{
	grep -q '^#define CONFIG_' "$1/config-host.h" 2>/dev/null
}

if [ -f "$DIR/fio.h" ] && configured "$DIR"; then
	echo "$DIR"
	exit 0
fi
if [ -f "$DIR/fio.h" ] &&
	(cd "$DIR" && ./configure --disable-native >/dev/null 2>&1) &&
	configured "$DIR"; then
	echo "$DIR"
	exit 0
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$CACHE"
cd "$TMP"
if ! apt-get source --download-only fio >/dev/null 2>&1; then
	if ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list \
		/etc/apt/sources.list.d/; then
		[ "$(id -u)" -eq 0 ] || die "no deb-src entry and not root"
		cat >"$SRC_LIST" <<EOT
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOT
	fi
	apt-get update >/dev/null 2>&1 || die "apt-get update failed"
	apt-get source --download-only fio >/dev/null 2>&1 ||
		die "apt-get source --download-only fio failed"
fi
ORIG=$(ls fio_*.orig.tar.* 2>/dev/null | head -n1)
[ -n "$ORIG" ] || die "no fio orig tarball downloaded"
mkdir src
tar -xf "$ORIG" -C src --strip-components=1
[ -f src/fio.h ] || die "unexpected layout of $ORIG"
(cd src && ./configure --disable-native >"$TMP/configure.log" 2>&1) ||
	{ cat "$TMP/configure.log" >&2; die "fio's configure failed"; }
rm -rf "$DIR"
mv src "$DIR"
echo "$DIR"
