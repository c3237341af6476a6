#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch and configure the source of the installed fio, which an external
# ioengine must be compiled against (its struct layouts are not an ABI).
# Prints the source directory. Debian's fio package must be installed; the
# source comes from Debian through apt (with a private deb-src list under
# the cache if the system has none: the system's apt sources are not
# edited).
#
# Usage: tools/fio/fio-src.sh   (cache: $VHOST_BLK_CACHE, ~/.cache/vhost-blk)

set -euo pipefail

CACHE=${VHOST_BLK_CACHE:-$HOME/.cache/vhost-blk}

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
	# No deb-src entry: a private apt state in the cache that has one,
	# so the system's sources and lists are left as they are.
	APT=$CACHE/apt-src
	mkdir -p "$APT/lists/partial" "$APT/parts"
	cat >"$APT/sources.list" <<EOT
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
EOT
	opts=(-o "Dir::Etc::SourceList=$APT/sources.list"
	      -o "Dir::Etc::SourceParts=$APT/parts"
	      -o "Dir::State::Lists=$APT/lists")
	apt-get "${opts[@]}" update >/dev/null 2>&1 ||
		die "apt-get update of the private deb-src list failed"
	apt-get "${opts[@]}" source --download-only fio >/dev/null 2>&1 ||
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
