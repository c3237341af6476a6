#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (once, then cached) the initramfs of the Linux guest that
# tests/guest/run_guest.sh boots on the bridge inside the test VM, and
# print its path:
#
#  - busybox-static, tests/guest/init as /init;
#  - Debian's modules for virtio PCI, virtio_blk and ext4 (decompressed:
#    busybox insmod wants plain .ko files), their load order in
#    /lib/modules/order;
#  - mke2fs, e2fsck and filefrag from e2fsprogs with their libraries;
#  - a static fio (Debian's links 80 MB of libraries), built from the
#    source of the installed fio version that tools/fio/fio-src.sh fetches,
#    cached under $VHOST_BLK_CACHE/fio-VERSION-static/;
#  - vbg-memcheck (tests/guest/memcheck.c, static), which checks that a
#    live migration carries what the device wrote into guest memory;
#  - /payload: 1 MiB of random data and a copy of busybox, with
#    their SHA-256 sums in /payload.sha256, for the guest to write to its
#    disk and check after remounts and reboots.
#
# The image is cached under $VHOST_BLK_CACHE/linux-guest/, keyed by the
# kernel release and a hash of everything in it, so a new kernel, busybox,
# e2fsprogs or init script makes a new one.
#
# Usage: tests/guest/initramfs.sh [--no-build]
#   --no-build  only print the cached image's path; fail if it is missing
#               (the test VM sees the cache read-only)

set -euo pipefail

# shellcheck source=../lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

BUILD=1
case ${1:-} in
--no-build) BUILD=0 ;;
'') ;;
*) vb_die "usage: $0 [--no-build]" ;;
esac

export PATH=$PATH:/usr/sbin:/sbin
if [ -z "${KREL:-}" ] || [ -z "${MODROOT:-}" ]; then
	[ -f "$VB_CACHE/env" ] || vb_die "no cached kernel: run tests/vm/kernel.sh"
	# shellcheck source=/dev/null
	. "$VB_CACHE/env"
fi
[ "$BUILD" -eq 0 ] || vb_ensure_packages busybox-static e2fsprogs fio cpio xz-utils zstd \
	gcc libc6-dev >&2
BUSYBOX=$(command -v busybox) || vb_die "busybox missing (apt-get install busybox-static)"
INIT=$VB_REPO/tests/guest/init
MEMCHECK=$VB_REPO/tests/guest/memcheck.c
BINS=(/sbin/mke2fs /sbin/e2fsck /usr/sbin/filefrag)
FIO_VER=$(fio --version 2>/dev/null | sed 's/^fio-//') || FIO_VER=
[ -n "$FIO_VER" ] || vb_die "fio is not installed (apt-get install fio)"
FIO=$VB_CACHE/fio-$FIO_VER-static/fio

# guest_modules: the guest's modules, dependencies first, one path a
# line. crc32c_generic is what ext4's crc32c lookup finds (the qemu64 CPU
# has no SSE 4.2 for crc32c-intel, which is left out).
guest_modules()
{
	local m

	for m in virtio_pci virtio_blk crc32c_generic ext4; do
		modprobe -d "$MODROOT" -S "$KREL" --show-depends "$m" ||
			vb_die "module $m not found under $MODROOT for $KREL"
	done | awk '$1 == "insmod" && $2 !~ /crc32c-intel/ && !seen[$2]++ { print $2 }'
}

# build_fio: a static fio, without the libraries of the engines it does
# not need. Two to three minutes on two busy cores, once.
build_fio()
{
	local src tmp

	[ -x "$FIO" ] && return 0
	[ "$BUILD" -eq 1 ] || vb_die "$FIO not built (run $0 on the host)"
	src=$("$VB_REPO/tools/fio/fio-src.sh") || vb_die "no fio source"
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/vhost-blk-fio.XXXXXX")
	vb_log "building a static fio $FIO_VER in $tmp"
	cp -a "$src/." "$tmp/"
	(
		cd "$tmp"
		make clean >/dev/null 2>&1 || true
		./configure --build-static --disable-native --disable-numa \
			--disable-rdma --disable-rados --disable-rbd --disable-http \
			--disable-gfapi --disable-libnfs --disable-pmem \
			--disable-xnvme --disable-libzbc --disable-tcmalloc \
			--disable-dfs >configure.log 2>&1 ||
			{ cat configure.log >&2; exit 1; }
		make -j"$(nproc)" fio >make.log 2>&1 || { tail -n 30 make.log >&2; exit 1; }
		strip fio
	) || { rm -rf "$tmp"; vb_die "static fio build failed"; }
	mkdir -p "${FIO%/*}"
	mv -f "$tmp/fio" "$FIO"
	rm -rf "$tmp"
}

build_fio
mods=$(guest_modules)
key=$( (cat "$0" "$INIT" "$MEMCHECK" "$BUSYBOX" "$FIO" "${BINS[@]}" /etc/mke2fs.conf
	echo "$mods") | sha256sum | cut -c1-16)
OUT=$VB_CACHE/linux-guest/$KREL-$key.cpio.gz
if [ -s "$OUT" ]; then
	echo "$OUT"
	exit 0
fi
[ "$BUILD" -eq 1 ] || vb_die "$OUT not built (run $0 on the host)"

stage=$(mktemp -d "${TMPDIR:-/tmp}/vhost-blk-guest-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,mnt,ro,etc,lib/modules,payload}
cp "$BUSYBOX" "$stage/bin/busybox"
"$BUSYBOX" --list | while read -r a; do
	[ "$a" = busybox ] || ln -s busybox "$stage/bin/$a"
done
# shellcheck disable=SC2086 # one path a word
vb_stage_modules "$stage" $mods || vb_die "cannot stage the modules"

# The e2fsprogs binaries and the libraries ldd finds for them, at the
# same paths (the dynamic loader's search path is compiled in).
for b in "${BINS[@]}"; do
	cp "$b" "$stage/sbin/"
	ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
done | sort -u | while read -r lib; do
	mkdir -p "$stage${lib%/*}"
	cp -L "$lib" "$stage$lib"
done
ln -s mke2fs "$stage/sbin/mkfs.ext4"
cp /etc/mke2fs.conf "$stage/etc/"
cp "$FIO" "$stage/bin/fio"
gcc -static -O2 -Wall -Wextra -Werror -o "$stage/bin/vbg-memcheck" "$MEMCHECK" ||
	vb_die "could not build $MEMCHECK (static glibc from libc6-dev)"

head -c 1M /dev/urandom >"$stage/payload/random.bin"
cp "$BUSYBOX" "$stage/payload/busybox"
(cd "$stage/payload" && sha256sum random.bin busybox) >"$stage/payload.sha256"

install -m 755 "$INIT" "$stage/init"
mkdir -p "$VB_CACHE/linux-guest"
(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc -R 0:0 --quiet) | gzip -6n >"$OUT.tmp.$$"
mv -f "$OUT.tmp.$$" "$OUT"
echo "$OUT"
