# SPDX-License-Identifier: GPL-2.0
#
# Helpers shared by tests/run.sh, tests/vm/*.sh: paths, host packages, the
# cached Debian kernel and an out-of-tree module build. Source this file;
# it defines functions and variables and runs nothing.
#
# Environment knobs (all optional):
#   VHOST_BLK_CACHE   cache directory (default ~/.cache/vhost-blk)
#   VHOST_BLK_BUILD   build/log directory (default <repo>/build)
#   KVER              Debian kernel version to use, e.g. 6.12.117+deb12

# shellcheck shell=bash

VB_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VB_CACHE=${VHOST_BLK_CACHE:-${HOME:-/root}/.cache/vhost-blk}
VB_BUILD=${VHOST_BLK_BUILD:-$VB_REPO/build}
export VB_REPO VB_CACHE VB_BUILD

# Debian packages the scripts, the module build and the guest need (the
# line of libelf1: what the linux-kbuild binaries link against; dpkg -x
# does not pull them in; the line of clang: the decoder fuzzer's
# toolchain; the last line: the NVMe/TCP and NBD tools of net.sh).
VB_APT_PACKAGES=(
	qemu-system-x86 busybox-static
	gcc-12 gcc libc6-dev make dwarves kmod cpio xz-utils zstd
	sparse codespell perl fio
	bc flex bison libelf-dev python3
	libelf1 libssl3 zlib1g
	clang-16 libfuzzer-16-dev libclang-rt-16-dev llvm-16
	nvme-cli nbd-client qemu-utils
)

vb_log()
{
	printf '%s: %s\n' "${0##*/}" "$*" >&2
}

vb_die()
{
	vb_log "error: $*"
	exit 1
}

# What a script's --help prints: its header comment, from the first line
# after the SPDX tag down to the end of the paragraph that begins with
# "Usage:", without the comment marks. Script: $1 (default $0).
vb_usage()
{
	awk '
		NR == 1 && /^#!/ || /SPDX-License-Identifier/ { next }
		!/^#( |$)/ { exit }
		!text && /^#$/ { next }
		/^# Usage:/ { usage = 1 }
		usage && /^#$/ { exit }
		{ text = 1; sub(/^# ?/, ""); print }
	' "${1:-$0}"
}

vb_is_root()
{
	[ "$(id -u)" -eq 0 ]
}

# True when the apt package lists exist and are younger than a day.
vb_apt_lists_fresh()
{
	local f

	for f in /var/lib/apt/lists/*_Packages*; do
		[ -e "$f" ] || return 1
		[ -n "$(find "$f" -mmin -1440 2>/dev/null)" ] && return 0
	done
	return 1
}

VB_APT_UPDATED=0

vb_apt_update()
{
	[ "$VB_APT_UPDATED" -eq 1 ] && return 0
	vb_is_root || { vb_log "not root: cannot run apt-get update"; return 1; }
	vb_log "apt-get update"
	VB_APT_UPDATED=1
	DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null >&2
}

vb_pkg_installed()
{
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

# vb_ensure_packages [PKG...]: install whatever of PKG (default: the list
# above) is missing, non-interactively.
vb_ensure_packages()
{
	local missing=() p

	[ $# -gt 0 ] || set -- "${VB_APT_PACKAGES[@]}"
	for p in "$@"; do
		vb_pkg_installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	vb_is_root || vb_die "missing packages (install as root): ${missing[*]}"
	vb_apt_update || vb_log "apt-get update failed; trying the install anyway"
	vb_log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${missing[@]}" </dev/null >&2
}

# vb_ensure_kernel [kernel.sh options]: fetch/refresh the cached kernel and
# load its environment file (KVER KREL KROOT KDIR VMLINUZ MODROOT KSFT_DIR
# CHECKPATCH) into this shell, exported.
vb_ensure_kernel()
{
	"$VB_REPO/tests/vm/kernel.sh" "$@" >&2 || return 1
	set -a
	# shellcheck source=/dev/null
	. "$VB_CACHE/env"
	set +a
}

# vb_build_module OUTDIR [make args...]: copy the module sources to OUTDIR
# (wiped first, so every object is rebuilt and every warning shows) and
# build there with the top-level Makefile. Prints the build output.
vb_build_module()
{
	local out=$1

	shift
	rm -rf "$out"
	mkdir -p "$out"
	(cd "$VB_REPO" && cp -a Kbuild Makefile VERSION drivers include "$out"/) || return 1
	make -C "$out" --no-print-directory KDIR="$KDIR" "$@" 2>&1
}

# vb_stage_modules STAGE KO...: the modules KO (.ko, .ko.xz or .ko.zst)
# decompressed into STAGE/lib/modules/NAME.ko (busybox insmod wants plain
# files), their names in load order in STAGE/lib/modules/order. Returns
# 1 at a module of another format.
vb_stage_modules()
{
	local stage=$1 ko m

	shift
	mkdir -p "$stage/lib/modules"
	: >"$stage/lib/modules/order"
	for ko in "$@"; do
		m=${ko##*/}
		m=${m%%.ko*}
		case $ko in
		*.ko.xz) xz -dc "$ko" >"$stage/lib/modules/$m.ko" ;;
		*.ko.zst) zstd -qdc "$ko" >"$stage/lib/modules/$m.ko" ;;
		*.ko) cp "$ko" "$stage/lib/modules/$m.ko" ;;
		*) vb_log "module $ko: unknown format"; return 1 ;;
		esac || return 1
		echo "$m" >>"$stage/lib/modules/order"
	done
}

# vb_elapsed START: seconds since START (from $SECONDS)
vb_elapsed()
{
	echo $((SECONDS - $1))
}
