#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the debug kernel the suite runs on besides the stock one: Debian's
# linux-source-6.12 (the version tests/vm/kernel.sh fetched), configured
# with x86_64_defconfig + kernel/configs/kvm_guest.config +
# tests/vm/debug.config (KASAN, lockdep, kmemleak, debug objects, hung
# task and soft lockup detection, fault injection, KUnit), its modules
# installed into a root of their own for modprobe -d.
#
# Usage: tests/vm/debug-kernel.sh [--jobs N] [--print]
#   --jobs N  make -j (default: nproc)
#   --print   print the environment file when done
#
# Cached under $VHOST_BLK_CACHE/debug (default ~/.cache/vhost-blk/debug),
# keyed by the source version and the content of debug.config, so a run
# with nothing changed costs seconds and a changed fragment builds anew:
#   linux-<ver>/             the unpacked source tree (built with O=)
#   build-<ver>-<key>/       the build tree: KDIR for the module, bzImage
#   root-<ver>-<key>/        lib/modules/<release>/ (modules_install)
#   build-<ver>-<key>.log    make's output
#   env                      KVER KREL KDIR VMLINUZ MODROOT ... of the
#                            last build; tests/vm/run.sh reads it when
#                            VHOST_BLK_KERNEL=debug
# A lock serialises concurrent runs.

set -euo pipefail

# shellcheck source=../lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

JOBS=$(nproc 2>/dev/null || echo 2)
PRINT=0
while [ $# -gt 0 ]; do
	case $1 in
	--jobs) JOBS=$2; shift ;;
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
vb_ensure_packages gcc make bc flex bison libelf-dev libssl-dev python3 \
	perl xz-utils cpio kmod
# The stock kernel's environment: the linux-source .deb it fetched, the
# kselftest headers and checkpatch.
vb_ensure_kernel

DCACHE=$VB_CACHE/debug
FRAGMENT=$VB_REPO/tests/vm/debug.config
mkdir -p "$DCACHE"
exec 8>"$DCACHE/.lock"
flock 8

deb=
for f in "$VB_CACHE"/dl/linux-source-6.12_*.deb; do
	[ -s "$f" ] && deb=$f
done
[ -n "$deb" ] || vb_die "no linux-source-6.12 .deb in $VB_CACHE/dl (tests/vm/kernel.sh fetches it)"
deb_ver=$(dpkg-deb -f "$deb" Version)		# 6.12.117-1~deb12u1
VER=${deb_ver%%-*}
SRC=$DCACHE/linux-$VER
KEY=$( (cat "$FRAGMENT"; gcc --version | head -n 1) | sha256sum | cut -c1-12)
BUILD=$DCACHE/build-$VER-$KEY
ROOT=$DCACHE/root-$VER-$KEY
LOG=$DCACHE/build-$VER-$KEY.log

if [ ! -e "$SRC/.vhost-blk-complete" ]; then
	vb_log "unpacking $(basename "$deb") into $SRC"
	tmp=$(mktemp -d "$DCACHE/.src.XXXXXX")
	tarball=$(dpkg-deb -c "$deb" |
		  awk '$6 ~ /linux-source-.*\.tar\.xz$/ { print $6; exit }')
	[ -n "$tarball" ] || { rm -rf "$tmp"; vb_die "no tarball in $deb"; }
	if ! dpkg-deb --fsys-tarfile "$deb" | tar -xOf - "$tarball" |
	     tar -xJf - -C "$tmp"; then
		rm -rf "$tmp"
		vb_die "cannot unpack $deb"
	fi
	rm -rf "$SRC"
	mv "$tmp/$(basename "$tarball" .tar.xz)" "$SRC"
	rm -rf "$tmp"
	touch "$SRC/.vhost-blk-complete"
fi

# config_check: every option the fragment sets must have its value in the
# final .config (a dependency Kconfig could not satisfy drops it silently).
config_check()
{
	local line opt want got missing=0

	while read -r line; do
		case $line in
		CONFIG_*=*)
			opt=${line%%=*}
			want=${line#*=}
			;;
		'# CONFIG_'*' is not set')
			opt=${line#\# }
			opt=${opt%% *}
			want=n
			;;
		*) continue ;;
		esac
		got=$(sed -n "s/^$opt=//p" "$BUILD/.config")
		[ -n "$got" ] || got=n
		if [ "$got" != "$want" ]; then
			vb_log "debug.config: $opt=$want did not stick ($got)"
			missing=1
		fi
	done <"$FRAGMENT"
	return "$missing"
}

if [ ! -e "$BUILD/.vhost-blk-complete" ]; then
	T0=$SECONDS
	mkdir -p "$BUILD"
	if [ ! -e "$BUILD/.vhost-blk-configured" ]; then
		vb_log "configuring $BUILD"
		{
			make -C "$SRC" O="$BUILD" x86_64_defconfig &&
			"$SRC/scripts/kconfig/merge_config.sh" -m -O "$BUILD" \
				"$BUILD/.config" "$SRC/kernel/configs/kvm_guest.config" \
				"$FRAGMENT" &&
			make -C "$SRC" O="$BUILD" olddefconfig
		} >"$LOG" 2>&1 || { tail -n 30 "$LOG" >&2; vb_die "configuring the debug kernel failed"; }
		config_check || vb_die "debug.config does not apply to linux $VER"
		touch "$BUILD/.vhost-blk-configured"
	fi
	vb_log "building linux $VER (debug) with make -j$JOBS, log in $LOG"
	if ! make -C "$SRC" O="$BUILD" -j"$JOBS" bzImage modules >>"$LOG" 2>&1; then
		grep -E 'error|Error' "$LOG" | tail -n 20 >&2
		vb_die "building the debug kernel failed (see $LOG)"
	fi
	rm -rf "$ROOT.tmp"
	make -C "$SRC" O="$BUILD" modules_install INSTALL_MOD_PATH="$ROOT.tmp" \
		INSTALL_MOD_STRIP=1 >>"$LOG" 2>&1 ||
		vb_die "modules_install failed (see $LOG)"
	rm -rf "$ROOT"
	mv "$ROOT.tmp" "$ROOT"
	touch "$BUILD/.vhost-blk-complete"
	vb_log "debug kernel built in $(vb_elapsed "$T0")s"
fi

KREL=$(cat "$BUILD/include/config/kernel.release")
VMLINUZ=$BUILD/arch/x86/boot/bzImage
[ -f "$VMLINUZ" ] || vb_die "$VMLINUZ missing"
[ -d "$ROOT/lib/modules/$KREL" ] || vb_die "$ROOT/lib/modules/$KREL missing"

tmp_env=$(mktemp "$DCACHE/.env.XXXXXX")
{
	echo "# Written by tests/vm/debug-kernel.sh; source it."
	printf 'KVER=%q\n' "$KREL"
	printf 'KREL=%q\n' "$KREL"
	printf 'KDIR=%q\n' "$BUILD"
	printf 'VMLINUZ=%q\n' "$VMLINUZ"
	printf 'KSFT_DIR=%q\n' "$KSFT_DIR"
	printf 'CHECKPATCH=%q\n' "$CHECKPATCH"
	printf 'KROOT=%q\n' "$ROOT"
	printf 'MODROOT=%q\n' "$ROOT"
} >"$tmp_env"
chmod 644 "$tmp_env"
mv -f "$tmp_env" "$DCACHE/env"
vb_log "environment: $DCACHE/env"
[ "$PRINT" -eq 0 ] || cat "$DCACHE/env"
