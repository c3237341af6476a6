#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch and cache a stock Debian 6.12 kernel to build against and boot:
# the unsigned image, its headers and kbuild, unpacked with dpkg -x (no
# install), plus checkpatch.pl and the kselftest headers taken from the
# matching linux-source-6.12 tarball.
#
# Usage: tests/vm/kernel.sh [--no-source] [--print]
#   --no-source  do not fetch linux-source (no CHECKPATCH/KSFT_DIR)
#   --print      print the environment file when done
#
# KVER=6.12.117+deb12 picks a version; by default the newest
# linux-image-6.12.*+deb12-amd64-unsigned that apt knows of is used, or,
# if apt knows none, the newest one already in the cache.
#
# Layout under $VHOST_BLK_CACHE (default ~/.cache/vhost-blk):
#   dl/                      downloaded .deb files
#   debian-<KVER>/           dpkg -x root: boot/, lib/modules/, usr/src/
#   linux-source-<ver>/      scripts/checkpatch.pl, tools/testing/selftests/*.h
#   env                      the environment file of the last run
#   debian-<KVER>/env        the same, per version
#
# Safe to rerun: each package is unpacked once (a stamp records it; a tree
# unpacked by hand is recognised by its files) and the fix-ups only write
# what differs. A lock serialises concurrent runs.

set -euo pipefail

# shellcheck source=../lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

FETCH_SOURCE=1
PRINT=0
while [ $# -gt 0 ]; do
	case $1 in
	--no-source) FETCH_SOURCE=0 ;;
	--print) PRINT=1 ;;
	-h | --help)
		vb_usage "$0"
		exit 0
		;;
	*) vb_die "unknown option: $1" ;;
	esac
	shift
done

export PATH=$PATH:/usr/sbin:/sbin
vb_ensure_packages kmod xz-utils
DL=$VB_CACHE/dl
mkdir -p "$DL"
exec 9>"$VB_CACHE/.lock"
flock 9

# Newest linux-image-6.12.*+deb12-amd64-unsigned apt knows of, as "6.12.N+deb12".
apt_newest_kver()
{
	apt-cache search --names-only \
		'^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' 2>/dev/null |
		sed -n 's/^linux-image-\(6\.12\.[0-9]*+deb12\)-amd64-unsigned .*/\1/p' |
		sort -V | tail -n 1
}

# Newest version already fully unpacked in the cache.
cached_newest_kver()
{
	local d

	for d in "$VB_CACHE"/debian-6.12.*/.vhost-blk/complete; do
		[ -e "$d" ] || continue
		d=${d%/.vhost-blk/complete}
		echo "${d##*/debian-}"
	done | sort -V | tail -n 1
}

pick_kver()
{
	local v

	if [ -n "${KVER:-}" ]; then
		echo "$KVER"
		return
	fi
	vb_apt_lists_fresh || vb_apt_update || true
	v=$(apt_newest_kver)
	if [ -z "$v" ] && [ "$VB_APT_UPDATED" -eq 0 ]; then
		vb_apt_update || true
		v=$(apt_newest_kver)
	fi
	[ -n "$v" ] || v=$(cached_newest_kver)
	[ -n "$v" ] || vb_die "no linux-image-6.12.*+deb12-amd64-unsigned known to apt, none cached"
	echo "$v"
}

# cached_deb PKG [VERSION]: newest cached .deb of PKG, or the one of
# VERSION; empty if none.
cached_deb()
{
	local f

	for f in "$DL/$1"_*.deb; do
		[ -e "$f" ] || continue
		if [ -z "${2:-}" ] || [ "$(dpkg-deb -f "$f" Version 2>/dev/null)" = "$2" ]; then
			echo "$f"
		fi
	done | sort -V | tail -n 1
}

# apt-get download $1 (a name or name=version) into dl/, from a directory
# the _apt sandbox user can write to. Prints nothing; returns apt's status.
apt_download()
{
	local tmp rc=0

	tmp=$(mktemp -d "${TMPDIR:-/tmp}/vhost-blk-dl.XXXXXX")
	if vb_is_root && id _apt >/dev/null 2>&1; then
		chown _apt "$tmp"
	fi
	(cd "$tmp" && apt-get download -q "$1" </dev/null >&2) || rc=$?
	if [ "$rc" -eq 0 ]; then
		mv "$tmp"/*.deb "$DL"/ || rc=$?
	fi
	rm -rf "$tmp"
	return "$rc"
}

# fetch_deb PKG [VERSION]: make sure a valid .deb of PKG is in dl/ and print
# its path. Downloads at most twice (after an apt-get update if needed).
fetch_deb()
{
	local pkg=$1 want=${2:-} deb spec=$1

	[ -n "$want" ] && spec="$pkg=$want"
	deb=$(cached_deb "$pkg" "$want")
	if [ -n "$deb" ] && ! dpkg-deb -f "$deb" Package >/dev/null 2>&1; then
		vb_log "removing damaged $deb"
		rm -f "$deb"
		deb=
	fi
	if [ -z "$deb" ]; then
		vb_log "downloading $spec"
		if ! apt_download "$spec"; then
			vb_apt_update || return 1
			apt_download "$spec" || return 1
		fi
		deb=$(cached_deb "$pkg" "$want")
	fi
	[ -n "$deb" ] || return 1
	echo "$deb"
}

# True if every regular file and symlink of the .deb exists under $2.
deb_present_in()
{
	local deb=$1 root=$2 type path list

	list=$(dpkg-deb -c "$deb" | awk '{ p = $6; sub(/^\.\//, "", p); print $1, p }') ||
		return 1
	while read -r type path; do
		case $type in
		-* | l*) [ -e "$root/$path" ] || [ -L "$root/$path" ] || return 1 ;;
		esac
	done <<<"$list"
	return 0
}

# unpack DEB ROOT: dpkg -x once per .deb (stamped).
unpack()
{
	local deb=$1 root=$2 stamp

	stamp=$root/.vhost-blk/$(basename "$deb").unpacked
	[ -e "$stamp" ] && return 0
	mkdir -p "$root/.vhost-blk"
	if deb_present_in "$deb" "$root"; then
		vb_log "already unpacked: $(basename "$deb")"
	else
		vb_log "unpacking $(basename "$deb")"
		dpkg -x "$deb" "$root"
	fi
	touch "$stamp"
}

# set_link LINK TARGET: (re)point a symlink only if it differs.
set_link()
{
	[ "$(readlink "$1" 2>/dev/null)" = "$2" ] && return 0
	ln -sfn "$2" "$1"
}

KVER=$(pick_kver)
case $KVER in
6.12.*+deb12) ;;
*) vb_die "unexpected KVER '$KVER' (want 6.12.N+deb12)" ;;
esac
KREL=$KVER-amd64
ROOT=$VB_CACHE/debian-$KVER
vb_log "kernel $KREL in $ROOT"
mkdir -p "$ROOT"

IMAGE_DEB=
for pkg in "linux-image-$KREL-unsigned" "linux-headers-$KREL" \
	   "linux-headers-$KVER-common" "linux-kbuild-$KVER"; do
	deb=$(fetch_deb "$pkg") || vb_die "cannot download $pkg"
	[ -n "$IMAGE_DEB" ] || IMAGE_DEB=$deb
	unpack "$deb" "$ROOT"
done

KDIR=$ROOT/usr/src/linux-headers-$KREL
MODDIR=$ROOT/lib/modules/$KREL
VMLINUZ=$ROOT/boot/vmlinuz-$KREL
[ -f "$VMLINUZ" ] || vb_die "$VMLINUZ missing after unpack"
[ -f "$KDIR/Makefile" ] || vb_die "$KDIR/Makefile missing after unpack"

# The -amd64 headers include the -common tree by an absolute /usr/src path.
common_mk="$ROOT/usr/src/linux-headers-$KVER-common/Makefile"
if [ "$(cat "$KDIR/Makefile")" != "include $common_mk" ]; then
	grep -q '^include .*/usr/src/linux-headers-.*-common/Makefile$' "$KDIR/Makefile" ||
		vb_die "unexpected $KDIR/Makefile"
	vb_log "pointing $KDIR/Makefile at the cached -common headers"
	sed -i "s|^include .*/usr/src/\(linux-headers-[^/]*-common/Makefile\)\$|include $ROOT/usr/src/\1|" \
		"$KDIR/Makefile"
fi

# build/source are absolute links into /usr/src: make them relative.
set_link "$MODDIR/build" "../../../usr/src/linux-headers-$KREL"
set_link "$MODDIR/source" "../../../usr/src/linux-headers-$KVER-common"
find "$ROOT/lib" "$ROOT/usr" -type l -lname '/*' -printf '%p -> %l\n' 2>/dev/null |
	while read -r l; do vb_log "warning: absolute link $l"; done

# modules.dep is not shipped; modprobe -d needs it.
if [ ! -s "$MODDIR/modules.dep" ] || [ "$MODDIR/modules.dep" -ot "$MODDIR/modules.order" ]; then
	vb_log "depmod -b $ROOT $KREL"
	depmod -b "$ROOT" "$KREL"
fi
touch "$ROOT/.vhost-blk/complete"

# checkpatch.pl (+ the files it reads) and the kselftest headers.
KSFT_DIR=
CHECKPATCH=
SRC_FILES=(
	scripts/checkpatch.pl scripts/spelling.txt scripts/const_structs.checkpatch
	Documentation/dev-tools/checkpatch.rst
	'tools/testing/selftests/*.h' COPYING
)

cached_source_dir()
{
	local d

	for d in "$VB_CACHE"/linux-source-*/.complete; do
		[ -e "$d" ] && dirname "$d"
	done | sort -V | tail -n 1
}

# extract_source DEB DIR: unpack only SRC_FILES from the tarball in DEB.
extract_source()
{
	local deb=$1 dir=$2 tmp tarball top pats=() f

	tmp=$(mktemp -d "$VB_CACHE/.src.XXXXXX")
	tarball=$(dpkg-deb -c "$deb" | awk '$6 ~ /linux-source-.*\.tar\.xz$/ { print $6 }')
	[ -n "$tarball" ] || { rm -rf "$tmp"; vb_die "no tarball in $deb"; }
	top=$(basename "$tarball" .tar.xz)
	for f in "${SRC_FILES[@]}"; do
		pats+=("$top/$f")
	done
	vb_log "extracting checkpatch and kselftest headers from $(basename "$deb")"
	if ! dpkg-deb --fsys-tarfile "$deb" | tar -xOf - "$tarball" |
	     tar -xJf - -C "$tmp" --wildcards --no-wildcards-match-slash "${pats[@]}"; then
		rm -rf "$tmp"
		return 1
	fi
	rm -rf "$dir"
	mv "$tmp/$top" "$dir"
	rm -rf "$tmp"
	touch "$dir/.complete"
}

if [ "$FETCH_SOURCE" -eq 1 ]; then
	img_ver=$(dpkg-deb -f "$IMAGE_DEB" Version)   # e.g. 6.12.117-1~deb12u1
	src_dir=$VB_CACHE/linux-source-${img_ver%%-*}
	if [ ! -e "$src_dir/.complete" ]; then
		if src_deb=$(fetch_deb linux-source-6.12 "$img_ver") ||
		   src_deb=$(fetch_deb linux-source-6.12); then
			src_ver=$(dpkg-deb -f "$src_deb" Version)
			src_dir=$VB_CACHE/linux-source-${src_ver%%-*}
			[ -e "$src_dir/.complete" ] || extract_source "$src_deb" "$src_dir" ||
				vb_die "cannot extract $src_deb"
		else
			src_dir=$(cached_source_dir)
			[ -n "$src_dir" ] || vb_die "cannot download linux-source-6.12"
			vb_log "using cached $src_dir"
		fi
	fi
	KSFT_DIR=$src_dir/tools/testing/selftests
	CHECKPATCH=$src_dir/scripts/checkpatch.pl
	[ -f "$KSFT_DIR/kselftest_harness.h" ] || vb_die "$KSFT_DIR/kselftest_harness.h missing"
	[ -f "$CHECKPATCH" ] || vb_die "$CHECKPATCH missing"
elif [ -f "$VB_CACHE/env" ]; then
	# Keep what an earlier run found.
	KSFT_DIR=$(. "$VB_CACHE/env" && echo "${KSFT_DIR:-}")
	CHECKPATCH=$(. "$VB_CACHE/env" && echo "${CHECKPATCH:-}")
fi

tmp_env=$(mktemp "$VB_CACHE/.env.XXXXXX")
{
	echo "# Written by tests/vm/kernel.sh; source it."
	for v in KVER KREL KDIR VMLINUZ KSFT_DIR CHECKPATCH; do
		printf '%s=%q\n' "$v" "${!v}"
	done
	printf 'KROOT=%q\n' "$ROOT"
	printf 'MODROOT=%q\n' "$ROOT"
} >"$tmp_env"
chmod 644 "$tmp_env"
cp "$tmp_env" "$ROOT/env"
mv -f "$tmp_env" "$VB_CACHE/env"
vb_log "environment: $VB_CACHE/env"
[ "$PRINT" -eq 0 ] || cat "$VB_CACHE/env"
