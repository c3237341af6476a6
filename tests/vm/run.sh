#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the cached Debian kernel in QEMU with the host's root shared
# read-only over 9p, set up block devices and vhost_blk.ko, run one command
# as root in the guest, unload the module and power off.
#
# Usage: tests/vm/run.sh [options] [--] [COMMAND [ARG...]]
# Environment: VHOST_BLK_KERNEL=debug boots the debug kernel of
# tests/vm/debug-kernel.sh instead of the stock Debian one,
# VHOST_BLK_KERNEL=6.1 Debian's 6.1 kernel (tests/vm/headers-6.1.sh).
#   -m, --module PATH   module to insmod (default <repo>/vhost_blk.ko)
#       --no-module     load brd/null_blk but not vhost_blk
#       --no-setup      load nothing
#   -a, --append STR    extra kernel parameters (also $VM_APPEND)
#   -e, --env KEY=VAL   export KEY=VAL to the command (repeatable)
#   -k, --keep DIR      keep host DIR visible if under /root or /tmp (repeatable)
#   -t, --timeout SEC   whole-VM time limit (default $VM_TIMEOUT or 1800)
#   -o, --log-dir DIR   logs (default <repo>/build/vm/<date>-<pid>)
#   -v, --verbose       copy the guest console to stderr while it runs
#   -h, --help
# COMMAND runs with bash -c in the repository; default: uname -r.
#
# The command's output (stdout+stderr) is printed on stdout. Exit status:
# the command's, unless a VM-level check failed (setup, kernel warnings on
# the console, rmmod vhost_blk, end marker never reached), then non-zero.
# <log-dir>/result holds those checks as VM_* shell variables; console.log
# and output.log (the command's output) are kept there.
#
# Guest environment: /run, /tmp, /var/tmp, /root are tmpfs; brd gives
# /dev/ram0 and /dev/ram1 (64 MiB), null_blk /dev/nullb0 (1 GiB, memory
# backed); the command sees KVER KREL KDIR MODROOT VHOST_BLK_KO VHOST_BLK_REPO.

set -euo pipefail

# shellcheck source=../lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

MODULE=$VB_REPO/vhost_blk.ko
SETUP=1
APPEND=${VM_APPEND:-}
TIMEOUT=${VM_TIMEOUT:-1800}
LOG_DIR=
VERBOSE=0
CMD_ENV=()
KEEP=()

usage()
{
	vb_usage "$0"
	exit "${1:-0}"
}

while [ $# -gt 0 ]; do
	case $1 in
	-m | --module) MODULE=$(realpath -m "$2"); shift ;;
	--no-module) MODULE= ;;
	--no-setup) SETUP=0; MODULE= ;;
	-a | --append) APPEND="$APPEND $2"; shift ;;
	-e | --env) CMD_ENV+=("$2"); shift ;;
	-k | --keep) KEEP+=("$(realpath -m "$2")"); shift ;;
	-t | --timeout) TIMEOUT=$2; shift ;;
	-o | --log-dir) LOG_DIR=$(realpath -m "$2"); shift ;;
	-v | --verbose) VERBOSE=1 ;;
	-h | --help) usage 0 ;;
	--) shift; break ;;
	-*) vb_log "unknown option $1"; usage 2 >&2 ;;
	*) break ;;
	esac
	shift
done

if [ $# -eq 0 ]; then
	CMD="uname -r"
elif [ $# -eq 1 ]; then
	CMD=$1
else
	CMD=$(printf '%q ' "$@")
fi
case $TIMEOUT in
'' | *[!0-9]*) vb_die "bad timeout '$TIMEOUT'" ;;
esac

# The kernel: the debug kernel (VHOST_BLK_KERNEL=debug, built by
# debug-kernel.sh), or the stock one kernel.sh cached last, or fetch it now.
if [ "${VHOST_BLK_KERNEL:-stock}" = debug ]; then
	[ -f "$VB_CACHE/debug/env" ] || "$VB_REPO/tests/vm/debug-kernel.sh" >&2
	ENV_FILE=$VB_CACHE/debug/env
	# 4-level paging: with -cpu max the guest has LA57, and 6.12 with
	# KASAN reports a wild access for any interrupt that hits the window
	# of identify_cpu() in which the capability bits are rebuilt (seen in
	# 2 boots of 9, before anything of ours ran).
	APPEND="$APPEND no5lvl"
elif [ "${VHOST_BLK_KERNEL:-stock}" = 6.1 ]; then
	KDIR61=$("$VB_REPO/tests/vm/headers-6.1.sh" --image) ||
		vb_die "cannot fetch the Debian 6.1 kernel"
	ENV_FILE=${KDIR61%/usr/src/*}/env
elif [ -n "${KVER:-}" ] && [ -f "$VB_CACHE/debian-$KVER/env" ]; then
	ENV_FILE=$VB_CACHE/debian-$KVER/env
elif [ -z "${KVER:-}" ] && [ -f "$VB_CACHE/env" ]; then
	ENV_FILE=$VB_CACHE/env
else
	"$VB_REPO/tests/vm/kernel.sh" --no-source >&2
	ENV_FILE=$VB_CACHE/env
fi
# shellcheck source=/dev/null
. "$ENV_FILE"
[ -f "$VMLINUZ" ] || vb_die "$VMLINUZ missing: run tests/vm/kernel.sh"

if [ -n "$MODULE" ] && [ ! -f "$MODULE" ]; then
	vb_die "$MODULE not built (make KDIR=$KDIR), or pass --no-module"
fi

export PATH=$PATH:/usr/sbin:/sbin
vb_ensure_packages qemu-system-x86 busybox-static cpio kmod
QEMU=$(command -v qemu-system-x86_64) || vb_die "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
BUSYBOX=$(command -v busybox) || vb_die "busybox missing (apt-get install busybox-static)"

# initramfs_modules: the modules the 9p root needs that are not built into
# the kernel (virtio PCI, 9p over virtio), dependencies first, one path
# per line.
initramfs_modules()
{
	local m

	for m in virtio_pci 9pnet_virtio 9p; do
		modprobe -d "$MODROOT" -S "$KREL" --show-depends "$m" ||
			vb_die "module $m not found under $MODROOT for $KREL"
	done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }'
}

# build_initramfs: busybox-static, the modules of initramfs_modules
# (decompressed, their load order in lib/modules/order) and /init;
# cached per kernel and content. Prints its path.
build_initramfs()
{
	local init=$VB_REPO/tests/vm/initramfs-init key out stage m a mods
	local moddir=$MODROOT/lib/modules/$KREL

	mods=$(initramfs_modules) || exit 1
	key=$( (cat "$init" "$BUSYBOX" "$moddir/modules.builtin" 2>/dev/null
		echo "$mods") | sha256sum | cut -c1-16)
	out=$VB_CACHE/initramfs/$KREL-$key.cpio.gz
	if [ -s "$out" ]; then
		echo "$out"
		return
	fi
	mkdir -p "$VB_CACHE/initramfs"
	stage=$(mktemp -d "${TMPDIR:-/tmp}/vhost-blk-initramfs.XXXXXX")
	mkdir -p "$stage"/{bin,dev,proc,sys,newroot,lib/modules}
	cp "$BUSYBOX" "$stage/bin/busybox"
	for a in sh mount umount insmod mkdir switch_root poweroff sleep echo cat ls; do
		ln -s busybox "$stage/bin/$a"
	done
	# shellcheck disable=SC2086 # one path a word
	vb_stage_modules "$stage" $mods || { rm -rf "$stage"; vb_die "cannot stage the modules"; }
	install -m 755 "$init" "$stage/init"
	(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc -R 0:0 --quiet) | gzip -6n >"$out.tmp.$$"
	mv -f "$out.tmp.$$" "$out"
	rm -rf "$stage"
	echo "$out"
}

INITRD=$(build_initramfs)

if [ -z "$LOG_DIR" ]; then
	LOG_DIR=$VB_BUILD/vm/$(date +%Y%m%d-%H%M%S)-$$
	mkdir -p "$LOG_DIR"
	ln -sfn "$(basename "$LOG_DIR")" "$VB_BUILD/vm/last"
fi
mkdir -p "$LOG_DIR"
rm -f "$LOG_DIR"/{console.log,output.raw,output.log,result,console-bad.txt}

NONCE=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
GUEST_INIT=$VB_REPO/tests/vm/guest-init.sh
JOB=$LOG_DIR/job.sh
case "$GUEST_INIT$JOB" in
*[[:space:]]*) vb_die "paths with spaces cannot go on the kernel command line: $GUEST_INIT $JOB" ;;
esac

# Host paths the guest needs even where it mounts a tmpfs.
KEEP+=("$VB_REPO" "$VB_CACHE" "$LOG_DIR")
[ -z "$MODULE" ] || KEEP+=("$(dirname "$MODULE")")
CMD_TIMEOUT=$((TIMEOUT > 120 ? TIMEOUT - 60 : TIMEOUT / 2))

{
	echo "# vhost-blk VM job, written by tests/vm/run.sh"
	printf 'VM_NONCE=%q\n' "$NONCE"
	printf 'VM_REPO=%q\n' "$VB_REPO"
	printf 'VM_MODROOT=%q\n' "$MODROOT"
	printf 'VM_MODULE=%q\n' "$MODULE"
	printf 'VM_SETUP=%q\n' "$SETUP"
	printf 'VM_CMD=%q\n' "$CMD"
	printf 'VM_CMD_TIMEOUT=%q\n' "$CMD_TIMEOUT"
	printf 'VM_KEEP=('; printf '%q ' "${KEEP[@]}"; echo ')'
	printf 'VM_ENV=('
	printf '%q ' "KVER=$KVER" "KREL=$KREL" "KDIR=$KDIR" "MODROOT=$MODROOT" \
		"VHOST_BLK_KO=$MODULE" "VHOST_BLK_REPO=$VB_REPO" ${CMD_ENV[@]+"${CMD_ENV[@]}"}
	echo ')'
} >"$JOB"

# KVM when /dev/kvm exists and really boots a kernel (a nested setup can
# offer a /dev/kvm that cannot run one); the probe result is kept for the
# host's current boot. VM_ACCEL=kvm|tcg forces a choice.
kvm_works()
{
	local stamp=$VB_CACHE/kvm-probe boot_id log ok=0

	[ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
	boot_id=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)
	if [ -f "$stamp" ] && [ "$(sed -n 1p "$stamp")" = "$boot_id" ]; then
		[ "$(sed -n 2p "$stamp")" = 1 ]
		return
	fi
	log=$(mktemp)
	(timeout -k 5 20 "$QEMU" -nodefaults -nographic -no-reboot -accel kvm -cpu host \
		-m 256M -kernel "$VMLINUZ" -append "console=ttyS0 panic=-1" \
		-serial "file:$log" </dev/null; true) >/dev/null 2>&1
	grep -aq 'Linux version' "$log" && ok=1
	rm -f "$log"
	printf '%s\n%s\n' "$boot_id" "$ok" >"$stamp"
	[ "$ok" = 1 ]
}

case ${VM_ACCEL:-auto} in
kvm) ACCEL_NAME=kvm ;;
tcg) ACCEL_NAME=tcg ;;
auto) if kvm_works; then ACCEL_NAME=kvm; else ACCEL_NAME=tcg; fi ;;
*) vb_die "VM_ACCEL must be kvm, tcg or auto" ;;
esac
if [ "$ACCEL_NAME" = kvm ]; then
	ACCEL=(-accel kvm -cpu host)
else
	ACCEL=(-accel tcg -cpu max)
fi

# no_timer_check: under TCG on a loaded host the IO-APIC timer check can
# miss its ticks and panic the boot ("IO-APIC + timer doesn't work").
KCMDLINE="console=ttyS0,115200 panic=-1 printk.devkmsg=on no_timer_check"
KCMDLINE+=" VHOST_BLK_INIT=$GUEST_INIT VHOST_BLK_JOB=$JOB $APPEND"

# shellcheck disable=SC2054 # commas are QEMU's
QEMU_ARGS=(
	-nodefaults -nographic -no-reboot
	"${ACCEL[@]}" -m 2G -smp 2
	-kernel "$VMLINUZ" -initrd "$INITRD" -append "$KCMDLINE"
	-virtfs local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap
	-chardev "file,id=con,path=$LOG_DIR/console.log" -serial chardev:con
	-chardev "file,id=out,path=$LOG_DIR/output.raw" -serial chardev:out
)
printf '%q ' timeout -k 10 "$TIMEOUT" "$QEMU" "${QEMU_ARGS[@]}" >"$LOG_DIR/qemu.cmd"
echo >>"$LOG_DIR/qemu.cmd"

vb_log "booting $KREL ($ACCEL_NAME), logs in $LOG_DIR"
start=$EPOCHREALTIME
: >"$LOG_DIR/console.log"
tail_pid=
if [ "$VERBOSE" -eq 1 ]; then
	tail -n +1 -f "$LOG_DIR/console.log" >&2 &
	tail_pid=$!
fi
qemu_rc=0
timeout -k 10 "$TIMEOUT" "$QEMU" "${QEMU_ARGS[@]}" </dev/null \
	>"$LOG_DIR/qemu.log" 2>&1 || qemu_rc=$?
if [ -n "$tail_pid" ]; then
	sleep 0.2
	kill "$tail_pid" 2>/dev/null || true
	wait "$tail_pid" 2>/dev/null || true
fi
wall=$(awk -v a="$EPOCHREALTIME" -v b="$start" 'BEGIN { printf "%.1f", a - b }')

# Results from the console: "@@VHOST-BLK <nonce> key=value ... uptime=S@@".
tr -d '\r' <"$LOG_DIR/console.log" >"$LOG_DIR/console.txt"
mark_line()
{
	grep -ao "@@VHOST-BLK $NONCE $1[^@]*@@" "$LOG_DIR/console.txt" | tail -n 1 || true
}
uptime_of()
{
	sed -n 's/.* uptime=\([0-9.]*\)@@$/\1/p' <<<"$1"
}

VM_TIMED_OUT=0
case $qemu_rc in 124 | 137) VM_TIMED_OUT=1 ;; esac
VM_REACHED_END=0
[ -z "$(mark_line "done")" ] || VM_REACHED_END=1
VM_SETUP=none
l=$(mark_line setup=)
[ -z "$l" ] || VM_SETUP=$(sed -n 's/.* setup=\([a-z]*\).*/\1/p' <<<"$l")
VM_BOOT_SECONDS=$(uptime_of "$(mark_line cmd=start)")
VM_END_SECONDS=$(uptime_of "$(mark_line "done")")
VM_RMMOD=skipped
l=$(mark_line rmmod=)
[ -z "$l" ] || VM_RMMOD=$(sed -n 's/.* rmmod=\([a-z]*\).*/\1/p' <<<"$l")
[ -z "$MODULE" ] || [ "$VM_SETUP" != ok ] || [ -n "$l" ] || VM_RMMOD=missing

# kmemleak's counts (debug kernel): "after-command:N,after-rmmod:N".
VM_KMEMLEAK=
for w in after-command after-rmmod; do
	l=$(mark_line "kmemleak=[0-9]* when=$w")
	[ -n "$l" ] || continue
	VM_KMEMLEAK+="${VM_KMEMLEAK:+,}$w:$(sed -n 's/.* kmemleak=\([0-9]*\) .*/\1/p' <<<"$l")"
done

# Kernel trouble anywhere on the console.
BAD_RE='BUG:|WARNING:|Oops|general protection|hung_task|blocked for more than|soft lockup|hard LOCKUP|KASAN|UBSAN|ODEBUG|kmemleak: [0-9]+ new suspected|kmemleak\||possible circular locking|Call Trace|Kernel panic'
grep -anE "$BAD_RE" "$LOG_DIR/console.txt" | grep -v "@@VHOST-BLK" | head -n 40 \
	>"$LOG_DIR/console-bad.txt" || true
VM_CONSOLE=clean
[ ! -s "$LOG_DIR/console-bad.txt" ] || VM_CONSOLE=dirty

# The command's output, between its markers.
tr -d '\r' <"$LOG_DIR/output.raw" 2>/dev/null >"$LOG_DIR/output.txt" || : >"$LOG_DIR/output.txt"
# Output that does not end in a newline runs into the end marker.
awk -v b="@@VHOST-BLK-BEGIN $NONCE@@" -v e="@@VHOST-BLK-END $NONCE rc=" '
	$0 == b { on = 1; next }
	on && (i = index($0, e)) { if (i > 1) print substr($0, 1, i - 1); on = 0; next }
	on { print }' "$LOG_DIR/output.txt" >"$LOG_DIR/output.log"
VM_CMD_RC=$(sed -n "s/.*@@VHOST-BLK-END $NONCE rc=\([0-9]*\)@@\$/\1/p" "$LOG_DIR/output.txt" | tail -n 1)

{
	for v in VM_REACHED_END VM_TIMED_OUT VM_SETUP VM_CMD_RC VM_RMMOD VM_CONSOLE \
		 VM_BOOT_SECONDS VM_END_SECONDS VM_KMEMLEAK; do
		printf '%s=%q\n' "$v" "${!v}"
	done
	printf 'VM_WALL_SECONDS=%q\nVM_ACCEL=%q\nVM_KREL=%q\nVM_LOG_DIR=%q\n' \
		"$wall" "$ACCEL_NAME" "$KREL" "$LOG_DIR"
} >"$LOG_DIR/result"

cat "$LOG_DIR/output.log"

problems=()
[ "$VM_REACHED_END" -eq 1 ] || problems+=("guest never reached its end marker (timeout=$VM_TIMED_OUT, qemu rc=$qemu_rc)")
[ "$VM_SETUP" = ok ] || problems+=("guest setup: $VM_SETUP")
[ -n "$VM_CMD_RC" ] || problems+=("command did not finish")
case $VM_RMMOD in
ok | absent | skipped) ;;
*) problems+=("rmmod vhost_blk: $VM_RMMOD") ;;
esac
[ "$VM_CONSOLE" = clean ] || problems+=("kernel warnings on the console (see $LOG_DIR/console-bad.txt)")

vb_log "$KREL/$ACCEL_NAME: command started at ${VM_BOOT_SECONDS:-?}s guest uptime, done at ${VM_END_SECONDS:-?}s, ${wall}s wall; rc=${VM_CMD_RC:-none} setup=$VM_SETUP rmmod=$VM_RMMOD console=$VM_CONSOLE"
if [ ${#problems[@]} -gt 0 ]; then
	for p in "${problems[@]}"; do
		vb_log "FAIL: $p"
	done
	if [ -s "$LOG_DIR/console-bad.txt" ]; then
		sed 's/^/  console:/' "$LOG_DIR/console-bad.txt" | head -n 20 >&2
	fi
	vb_log "console log: $LOG_DIR/console.txt"
	rc=${VM_CMD_RC:-1}
	[ "$rc" -ne 0 ] || rc=1
	exit "$rc"
fi
exit "${VM_CMD_RC:-1}"
