#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A real Linux guest on the device: in a machine where vhost_blk.ko is
# loaded (the test VM of tests/vm/run.sh), an unmodified QEMU boots
# Debian's kernel with the initramfs of tests/guest/initramfs.sh, whose
# own virtio_blk driver uses three disks through vhost-user-blk-bridge:
#
#  - read-write: a memory-backed null_blk with discard, the bridge with
#    its defaults, vhost-user-blk-pci without num-queues on 2 vCPUs (so
#    QEMU asks for 2 queues and the bridge must offer at least that),
#    its chardev with reconnect=1;
#  - read-only: an ext4 on another null_blk, bridge --read-only
#    --queues 2, num-queues=2;
#  - a 16 MiB file, one queue, which the host grows to 24 MiB.
#
# The guest (tests/guest/init) runs its checks, reboots once inside the
# same QEMU (a machine reset, so a device reset) and checks again; its
# results come back on a second serial port. In the second boot the host
# grows the file when the guest asks, and SIGKILLs the read-write disk's
# bridge while the guest writes and checks on both queues, then starts
# another. Here: QEMU refuses a bridge with --queues 1 for 2 vCPUs (what
# the bridge's old default did), QEMU connected to the new bridge, the
# guest restarted exactly once and powered off, the backend counted the
# discarded sectors the guest sent, the read-only backend is unchanged,
# and the guest kernel logged no warning.
#
# Prints TAP ("linux guest: ..."); a missing prerequisite is a SKIP with
# its reason. Exits 1 if anything failed.
#
# Usage: tests/guest/run_guest.sh
# Environment: VHOST_BLK_GUEST_INITRD (default: tests/guest/initramfs.sh
# --no-build), KREL and MODROOT (set by tests/vm/run.sh), GUEST_TIMEOUT
# (seconds for the whole QEMU run, default 1800), GUEST_BOOT_TIMEOUT
# (seconds until the guest's init must have started, default 900),
# GUEST_MIGRATE=0 (leave out the live migration of the second boot).

set -u

DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$DIR/../.." && pwd)
BRIDGE=$REPO/tools/build/vhost-user-blk-bridge
QEMU=/usr/bin/qemu-system-x86_64
TIMEOUT=${GUEST_TIMEOUT:-1800}
BOOT_TIMEOUT=${GUEST_BOOT_TIMEOUT:-900}
MIGRATE=${GUEST_MIGRATE:-1}
P="linux guest"

# shellcheck source=../lib/tap.sh
. "$DIR/../lib/tap.sh"
WORK=
PIDS=()
NULLB=()

diag_file()
{
	[ -s "$1" ] && tail -n "${2:-20}" "$1" | sed 's/^/#   /'
}

# finish: the plan, and exit 1 if anything failed.
finish()
{
	tap_plan
	[ "$TAP_FAILED" -eq 0 ]
	exit
}

# skip REASON: the whole run is skipped.
skip()
{
	tap_skip "$P" "$*"
	finish
}

cleanup()
{
	local p d

	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for d in "${NULLB[@]}"; do
		echo 0 >"$d/power" 2>/dev/null
		rmdir "$d" 2>/dev/null || echo "# could not remove $d"
	done
	[ -z "$WORK" ] || rm -rf "$WORK"
}
trap cleanup EXIT

# nullb NAME MIB [ATTR=VALUE...]: a memory-backed null_blk through
# configfs; its device node in $DEV (not printed: the device must be
# in NULLB for the cleanup, so no subshell).
nullb()
{
	local name=$1 cfg=/sys/kernel/config/nullb/$1 size=$2 a i

	shift 2
	DEV=
	mkdir "$cfg" || return 1
	NULLB+=("$cfg")
	echo "$size" >"$cfg/size" && echo 1 >"$cfg/memory_backed" || return 1
	for a in "$@"; do
		echo "${a#*=}" >"$cfg/${a%%=*}" || return 1
	done
	echo 1 >"$cfg/power" || return 1
	for ((i = 0; i < 50; i++)); do
		for DEV in "/dev/$name" "/dev/nullb$(cat "$cfg/index")"; do
			[ -b "$DEV" ] && return 0
		done
		sleep 0.1
	done
	DEV=
	return 1
}

# bridge LOG ARGS...: start the bridge, wait for its socket (--socket
# must be the first two ARGS).
bridge()
{
	local log=$1 sock=$3 i

	shift
	rm -f "$sock"
	"$BRIDGE" "$@" >"$log" 2>&1 &
	PIDS+=($!)
	for ((i = 0; i < 100; i++)); do
		[ -S "$sock" ] && return 0
		sleep 0.1
	done
	echo "# no socket $sock:"
	diag_file "$log"
	return 1
}

# qemu_args: what both QEMU runs share; the guest's memory is a shared
# memfd so that the bridge can map it. Multi-threaded TCG inside the
# (TCG) test VM has crashed the guest on cross-modifying code: one thread.
# shellcheck disable=SC2054 # commas are QEMU's
QEMU_ARGS=(
	-nodefaults -display none -M q35 -accel tcg,thread=single
	-m 256 -smp 2
	-object memory-backend-memfd,id=mem,size=256M,share=on
	-numa node,memdev=mem
)

echo "TAP version 13"
T0=$SECONDS
[ "$(id -u)" -eq 0 ] || skip "not root"
[ -e /dev/vhost-blk ] || skip "/dev/vhost-blk not present (vhost_blk.ko not loaded)"
[ -x "$BRIDGE" ] || skip "$BRIDGE not built (make -C tools)"
[ -x "$QEMU" ] || skip "$QEMU not installed (apt-get install qemu-system-x86)"
[ -n "${KREL:-}" ] && [ -n "${MODROOT:-}" ] ||
	skip "KREL and MODROOT not set (run it with tests/vm/run.sh)"
VMLINUZ=$MODROOT/boot/vmlinuz-$KREL
[ -f "$VMLINUZ" ] || skip "$VMLINUZ missing"
INITRD=${VHOST_BLK_GUEST_INITRD:-$("$DIR/initramfs.sh" --no-build 2>&1)} ||
	skip "no guest initramfs ($INITRD)"
[ -f "$INITRD" ] || skip "guest initramfs $INITRD missing (run tests/guest/initramfs.sh on the host)"
[ -d /sys/kernel/config/nullb ] || modprobe -d "$MODROOT" null_blk 2>/dev/null
[ -d /sys/kernel/config/nullb ] || skip "no configfs null_blk"
command -v mkfs.ext4 >/dev/null || skip "mkfs.ext4 missing"
WORK=$(mktemp -d /tmp/vhost-blk-linux-guest.XXXXXX) || exit 1

nullb vhost-blk-guest-rw 256 discard=1 ||
	{ tap_not_ok "$P: setup: null_blk with discard for the read-write disk"; finish; }
RW_DEV=$DEV
nullb vhost-blk-guest-ro 64 ||
	{ tap_not_ok "$P: setup: null_blk for the read-only disk"; finish; }
RO_DEV=$DEV
# The read-only disk: an ext4 holding a file of known checksum (mke2fs
# -d copies it in; nothing is mounted here).
mkdir "$WORK/ro"
head -c 1M /dev/urandom >"$WORK/ro/data.bin"
ROSUM=$(sha256sum "$WORK/ro/data.bin" | cut -d' ' -f1)
if ! mkfs.ext4 -q -F -d "$WORK/ro" "$RO_DEV" >"$WORK/ro-setup.log" 2>&1; then
	tap_not_ok "$P: setup: ext4 on the read-only disk's backend"
	diag_file "$WORK/ro-setup.log"
	finish
fi
RO_BEFORE=$(sha256sum <"$RO_DEV")

# --- the trap of a one-queue backend ----------------------------------------
# QEMU's vhost-user-blk-pci asks for a queue per vCPU when num-queues is
# not given, and refuses a backend offering fewer: what the bridge's
# default of one queue did to every multi-vCPU guest. -S: should QEMU
# accept it, nothing runs and the timeout ends it.
if bridge "$WORK/bridge1.log" --socket "$WORK/q1.sock" --backend "$RW_DEV" --queues 1; then
	rc=0
	timeout -k 5 120 "$QEMU" "${QEMU_ARGS[@]}" -S \
		-chardev "socket,id=c,path=$WORK/q1.sock" -device vhost-user-blk-pci,chardev=c \
		>"$WORK/qemu-q1.log" 2>&1 || rc=$?
	want="The maximum number of queues supported by the backend is 1"
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q "$want" "$WORK/qemu-q1.log"; then
		tap_ok "$P: QEMU with 2 vCPUs and no num-queues refuses a bridge with --queues 1 ('$want')"
	else
		tap_not_ok "$P: QEMU with 2 vCPUs and no num-queues refuses a bridge with --queues 1 (exit $rc)"
		diag_file "$WORK/qemu-q1.log"
	fi
	kill "${PIDS[-1]}" && wait "${PIDS[-1]}" 2>/dev/null
	unset 'PIDS[-1]'
else
	tap_not_ok "$P: bridge --queues 1 starts"
fi

# --- the guest ----------------------------------------------------------------
# start_bridges: the guest's three bridges (the only ones in PIDS), the
# read-write one's pid in RW_PID; the file the third one serves, and the
# guest sees grow, made anew at GROW_FROM bytes.
GROW_FROM=$((16 << 20))
GROW_TO=$((24 << 20))
start_bridges()
{
	bridge "$WORK/bridge-rw.log" --socket "$WORK/rw.sock" --backend "$RW_DEV" \
		--serial vbg-rw || { tap_not_ok "$P: bridge with its defaults starts"; finish; }
	RW_PID=${PIDS[-1]}
	bridge "$WORK/bridge-ro.log" --socket "$WORK/ro.sock" --backend "$RO_DEV" \
		--serial vbg-ro --read-only --queues 2 ||
		{ tap_not_ok "$P: bridge --read-only --queues 2 starts"; finish; }
	rm -f "$WORK/grow.img"
	truncate -s "$GROW_FROM" "$WORK/grow.img"
	bridge "$WORK/bridge-grow.log" --socket "$WORK/grow.sock" \
		--backend "$WORK/grow.img" --serial vbg-grow --queues 1 ||
		{ tap_not_ok "$P: bridge on a file starts"; finish; }
}
start_bridges
NONCE=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
d0=$(awk '{ print $14 }' "/sys/block/${RW_DEV#/dev/}/stat")
# loglevel=5: only warnings and worse reach the console (each byte is a
# write to an emulated UART, and the console is checked for warnings).
APPEND="console=ttyS0,115200 loglevel=5 panic=-1 no_timer_check"
APPEND="$APPEND vbg.nonce=$NONCE vbg.rw=vbg-rw vbg.ro=vbg-ro vbg.rosum=$ROSUM"
APPEND="$APPEND vbg.grow=vbg-grow vbg.growto=$((GROW_TO / 512))"

[ "$MIGRATE" -eq 0 ] || APPEND="$APPEND vbg.migrate=1"

# disk_args SUFFIX: DISK_ARGS, the three disks on the bridges' sockets
# rwSUFFIX.sock, roSUFFIX.sock and growSUFFIX.sock, and the kernel.
# QEMU connects to the read-write disk's bridge again when it goes away
# (reconnect=1: every second).
disk_args()
{
	DISK_ARGS=(
		-chardev "socket,id=rw,path=$WORK/rw$1.sock,reconnect=1"
		-device vhost-user-blk-pci,chardev=rw
		-chardev "socket,id=ro,path=$WORK/ro$1.sock" -device vhost-user-blk-pci,chardev=ro,num-queues=2
		-chardev "socket,id=grow,path=$WORK/grow$1.sock" -device vhost-user-blk-pci,chardev=grow,num-queues=1
		-kernel "$VMLINUZ" -initrd "$INITRD" -append "$APPEND"
	)
}

# mark_backend TEXT: TEXT in the block before the guest's reboot mark, on
# the read-write disk's backend, which the checked workloads poll.
mark_backend()
{
	local blk=$(($(blockdev --getsz "$RW_DEV") / 8 - 2))

	printf '%s\n' "$1" | dd of="$RW_DEV" bs=4096 seek="$blk" count=1 \
		conv=sync oflag=direct 2>/dev/null
}

# monitor CMD: an HMP command to the source QEMU; its answer goes to
# qemu.log.
monitor() { echo "$*" >&"$MON"; }

# migrate_guest: a destination QEMU with its own three bridges on the same
# backends, waiting on a unix socket; the source migrates to it while the
# guest's workload runs, and quits. Sets MIGRATED (1 when the guest runs
# on the destination, whose QEMU is DPID), MIG_SECS, MIG_WRITES (writes
# the backend completed while the migration ran) and MIG_MSG.
migrate_guest()
{
	local st t0 w0 i

	MIG_MSG=
	if ! bridge "$WORK/bridge-rw2.log" --socket "$WORK/rw2.sock" --backend "$RW_DEV" \
		--serial vbg-rw ||
	   ! bridge "$WORK/bridge-ro2.log" --socket "$WORK/ro2.sock" --backend "$RO_DEV" \
		--serial vbg-ro --read-only --queues 2 ||
	   ! bridge "$WORK/bridge-grow2.log" --socket "$WORK/grow2.sock" \
		--backend "$WORK/grow.img" --serial vbg-grow --queues 1; then
		MIG_MSG="the destination's bridges did not start"
		mark_backend "ABORT $NONCE"
		return
	fi
	rm -f "$WORK/mig.sock"
	disk_args 2
	timeout -k 10 "$TIMEOUT" "$QEMU" "${QEMU_ARGS[@]}" "${DISK_ARGS[@]}" \
		-serial "file:$WORK/console-dst.log" -serial "file:$WORK/results-dst.log" \
		-incoming "unix:$WORK/mig.sock" </dev/null >"$WORK/qemu-dst.log" 2>&1 &
	DPID=$!
	for ((i = 0; i < 600; i++)); do
		[ -S "$WORK/mig.sock" ] || ! kill -0 "$DPID" 2>/dev/null && break
		sleep 0.1
	done
	if [ ! -S "$WORK/mig.sock" ]; then
		MIG_MSG="the destination QEMU did not listen: $(tail -n 3 "$WORK/qemu-dst.log")"
		mark_backend "ABORT $NONCE"
		return
	fi
	w0=$(awk '{ print $5 }' "/sys/block/${RW_DEV#/dev/}/stat")
	t0=$SECONDS
	monitor "migrate_set_parameter max-bandwidth 1G"
	monitor "migrate -d unix:$WORK/mig.sock"
	st=
	for ((i = 0; i < 300; i++)); do
		sleep 2
		monitor "info migrate"
		sleep 0.2
		st=$(grep -ao 'Migration status: [a-z-]*' "$WORK/qemu.log" | tail -n 1)
		case $st in
		*completed | *failed | *cancelled) break ;;
		esac
		kill -0 "$DPID" 2>/dev/null || break
	done
	MIG_SECS=$((SECONDS - t0))
	MIG_WRITES=$(($(awk '{ print $5 }' "/sys/block/${RW_DEV#/dev/}/stat") - w0))
	if [ "$st" = "Migration status: completed" ]; then
		MIGRATED=1
		monitor quit
		mark_backend "MIGRATED $NONCE"
	else
		MIG_MSG="${st:-no migration status} after ${MIG_SECS}s: $(grep -a -i 'error' "$WORK/qemu.log" "$WORK/qemu-dst.log" | tail -n 2)"
		monitor "migrate_cancel"
		mark_backend "ABORT $NONCE"
		kill "$DPID" 2>/dev/null
		wait "$DPID"
	fi
}

# reconnect_bridge: with the guest's writes in flight, SIGKILL the
# read-write disk's bridge and start another on the same socket; QEMU
# connects again by itself, and the kernel takes again what was in flight
# from the inflight region QEMU hands over. Then the mark, which the
# guest can only read once the disk works again. Sets RECONNECT_MSG.
reconnect_bridge()
{
	local t0 i p keep=()

	sleep 3
	kill -KILL "$RW_PID"
	wait "$RW_PID" 2>/dev/null
	for p in "${PIDS[@]}"; do
		[ "$p" = "$RW_PID" ] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
	t0=$SECONDS
	if ! bridge "$WORK/bridge-rw-again.log" --socket "$WORK/rw.sock" --backend "$RW_DEV" \
		--serial vbg-rw; then
		RECONNECT_MSG="the new bridge did not start"
		mark_backend "ABORT $NONCE"
		return
	fi
	RW_PID=${PIDS[-1]}
	for ((i = 0; i < 60; i++)); do
		grep -q 'frontend connected' "$WORK/bridge-rw-again.log" && break
		sleep 1
	done
	if [ "$i" -eq 60 ]; then
		# The guest's I/O cannot go on: stop it rather than wait.
		RECONNECT_MSG="QEMU did not connect to the new bridge within 60 s"
		kill "$qpid"
		return
	fi
	RECONNECTED=1
	RECONNECT_MSG="bridge killed with SIGKILL; QEMU connected to the new one after $((SECONDS - t0)) s"
	echo "# $RECONNECT_MSG"
	mark_backend "RECONNECTED $NONCE"
}

# run_qemu: boot the guest and wait for it; with MIGRATE, migrate it when
# its workload starts and wait for the destination. Sets rc. A guest
# whose kernel oopses or panics before its init said "first boot", or
# whose init has not said so within BOOT_TIMEOUT seconds, is stopped:
# nested TCG occasionally dies or hangs in early boot (text patching
# under emulated SMP), before anything of the device is used.
run_qemu()
{
	local qpid wpid tpid

	rc=0
	: >"$WORK/results.log"
	: >"$WORK/console.log"
	rm -f "$WORK/mon"
	mkfifo "$WORK/mon"
	exec {MON}<>"$WORK/mon"
	disk_args ""
	timeout -k 10 "$TIMEOUT" "$QEMU" "${QEMU_ARGS[@]}" "${DISK_ARGS[@]}" \
		-serial "file:$WORK/console.log" -serial "file:$WORK/results.log" \
		-monitor stdio <"$WORK/mon" >"$WORK/qemu.log" 2>&1 &
	qpid=$!
	(
		for ((i = 0; i < BOOT_TIMEOUT; i++)); do
			sleep 1
			grep -q '^# first boot' "$WORK/results.log" && exit 0
			kill -0 "$qpid" 2>/dev/null || exit 0
			if grep -aq 'Kernel panic\|Oops' "$WORK/console.log"; then
				echo "# the guest's kernel died before its init: stopping QEMU"
				kill "$qpid"
				exit 0
			fi
		done
		echo "# the guest's init did not start within ${BOOT_TIMEOUT}s: stopping QEMU"
		kill "$qpid"
	) &
	wpid=$!
	# The guest's diagnostics as they come (until QEMU exits), so a slow
	# or stuck run shows how far it got.
	tail -n +1 -f --pid="$qpid" "$WORK/results.log" 2>/dev/null |
		sed -u -n 's/\r$//; /^#/p' &
	tpid=$!
	# What the guest asks of the host, each once, in its order.
	resized=0
	reconnected=0
	while kill -0 "$qpid" 2>/dev/null; do
		sleep 1
		if [ "$resized" -eq 0 ] && grep -q '^@@resize=ready' "$WORK/results.log"; then
			resized=1
			truncate -s "$GROW_TO" "$WORK/grow.img"
			echo "# grew $WORK/grow.img to $GROW_TO bytes"
		fi
		if [ "$reconnected" -eq 0 ] && grep -q '^@@reconnect=ready' "$WORK/results.log"; then
			reconnected=1
			reconnect_bridge
		fi
		if [ "$MIGRATE" -eq 1 ] && grep -q '^@@migrate=ready' "$WORK/results.log"; then
			echo "# migrating the guest to a second QEMU"
			migrate_guest
			echo "# migration: ${MIG_SECS}s, $MIG_WRITES writes completed meanwhile${MIG_MSG:+: $MIG_MSG}"
			break
		fi
	done
	wait "$qpid" || rc=$?
	wait "$wpid" "$tpid"
	exec {MON}>&-
	if [ "$MIGRATED" -eq 1 ]; then
		# QEMU's "quit" on the source exits 0; the rest is the destination's.
		tail -n +1 -f --pid="$DPID" "$WORK/results-dst.log" 2>/dev/null |
			sed -u -n 's/\r$//; /^#/p'
		rc=0
		wait "$DPID" || rc=$?
	fi
}

echo "# booting $KREL in QEMU on the bridge (2 vCPUs, TCG)"
T_QEMU=$SECONDS
MIGRATED=0
MIG_MSG=
MIG_SECS=0
MIG_WRITES=0
RECONNECTED=0
RECONNECT_MSG="the guest never asked for it"
EARLY_DEATHS=0
run_qemu
while ! grep -q '^# first boot' "$WORK/results.log" && [ "$EARLY_DEATHS" -lt 2 ]; do
	# Nothing was written to the disks yet: boot once more, on fresh
	# bridges, so that the retry starts as the first boot did.
	EARLY_DEATHS=$((EARLY_DEATHS + 1))
	echo "# the guest died before its checks (QEMU exit $rc); console:"
	tr -d '\r' <"$WORK/console.log" | grep -a -m 5 -E 'Oops|panic|BUG:|WARNING:|RIP:' | sed 's/^/#   /'
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p"
	done
	PIDS=()
	start_bridges
	echo "# booting again"
	run_qemu
done
T_QEMU=$((SECONDS - T_QEMU))
d1=$(awk '{ print $14 }' "/sys/block/${RW_DEV#/dev/}/stat")
# A migrated guest's output continues in the destination's files.
cat "$WORK/results.log" "$WORK/results-dst.log" 2>/dev/null | tr -d '\r' >"$WORK/results.txt"
cat "$WORK/console.log" "$WORK/console-dst.log" 2>/dev/null | tr -d '\r' >"$WORK/console.txt"

# The guest's results, renumbered (its diagnostics are out already).
# shellcheck disable=SC2317 # called by tap_fold
ignore_diag()
{
	return 0
}
TAP_FOLD_QUIET=1 TAP_FOLD_DIAG=ignore_diag tap_fold "$P: " "$WORK/results.txt"
guest_results=$TAP_FOLD_RESULTS

# How each boot ended: the kernel says so at KERN_EMERG, which loglevel=5
# lets through (its "Linux version" banner, a notice, never reaches the
# console). A panic ends a boot without either line, and is caught below.
MIG_WHERE=
[ "$MIGRATED" -eq 0 ] || MIG_WHERE=" after the migration"
restarts=$(grep -c 'reboot: Restarting system' "$WORK/console.txt")
poweroffs=$(grep -c 'reboot: Power down' "$WORK/console.txt")
init_at=$(grep -m1 -o 'init after [0-9.]* s' "$WORK/results.txt")
echo "# QEMU ran ${T_QEMU}s (exit $rc), first boot's ${init_at:-init not reached}"
if [ "$rc" -eq 0 ] && [ "$restarts" -eq 1 ] && [ "$poweroffs" -eq 1 ] &&
   grep -q '^@@boot1=done' "$WORK/results.txt" &&
   grep -q '^@@boot2=done' "$WORK/results.txt"; then
	tap_ok "$P: booted, rebooted once in the same QEMU (reboot -f) and powered off${MIG_WHERE} ($guest_results guest results, $EARLY_DEATHS boots died early and were retried)"
else
	tap_not_ok "$P: booted, rebooted once in the same QEMU and powered off (QEMU exit $rc, $restarts restarts, $poweroffs power-offs, $guest_results guest results)"
	diag_file "$WORK/qemu.log" 5
	diag_file "$WORK/console.txt" 30
fi

if [ "$MIGRATE" -eq 1 ]; then
	if [ "$MIGRATED" -eq 1 ] && [ "$MIG_WRITES" -gt 0 ]; then
		tap_ok "$P: live migration over a unix socket to a second QEMU with its own bridges on the same backends (${MIG_SECS}s, the guest's I/O went on: $MIG_WRITES writes completed meanwhile)"
	else
		tap_not_ok "$P: live migration over a unix socket to a second QEMU with its own bridges (migrated: $MIGRATED, $MIG_WRITES writes meanwhile${MIG_MSG:+, $MIG_MSG})"
		diag_file "$WORK/qemu.log" 10
		diag_file "$WORK/qemu-dst.log" 10
	fi
fi

if [ "$RECONNECTED" -eq 1 ]; then
	tap_ok "$P: bridge killed with SIGKILL and started again: QEMU (reconnect=1) connected to it and the guest's I/O went on ($RECONNECT_MSG)"
else
	tap_not_ok "$P: bridge killed with SIGKILL and started again: QEMU connected to it ($RECONNECT_MSG)"
	diag_file "$WORK/bridge-rw-again.log" 10
fi

sent=$(sed -n 's/^@@discard_sectors=//p' "$WORK/results.txt")
if [ -n "$sent" ] && [ "$sent" -gt 0 ] && [ $((d1 - d0)) -eq "$sent" ]; then
	tap_ok "$P: the backend ($RW_DEV) counted the $sent sectors the guest discarded"
else
	tap_not_ok "$P: the backend ($RW_DEV) counted the ${sent:-?} sectors the guest discarded (counted $((d1 - d0)))"
fi

if [ "$(sha256sum <"$RO_DEV")" = "$RO_BEFORE" ]; then
	tap_ok "$P: read-only export: the backend is unchanged"
else
	tap_not_ok "$P: read-only export: the backend is unchanged"
fi

# A boot that died before its init started is nested TCG's doing (a
# double fault or an int3 Oops in early boot, seen as often in first
# boots that never touched a disk; the disks' drivers are modules that
# init loads): the kernel restarts the machine (panic=-1) and the next
# boot goes on. Those lines are reported; anything from a boot whose
# init had started fails the check.
awk -v early="$WORK/console-early.txt" '
	/vbg: init started/ { init = 1 }
	/reboot: Restarting system/ { init = 0 }
	/BUG:|WARNING:|Oops|general protection|Call Trace|Kernel panic|blocked for more than|soft lockup|I\/O error/ {
		if (init)
			print NR ":" $0
		else
			print NR ":" $0 >early
	}' "$WORK/console.txt" >"$WORK/console-bad.txt"
early=0
if [ -s "$WORK/console-early.txt" ]; then
	early=$(grep -c 'Kernel panic' "$WORK/console-early.txt")
	echo "# the guest's kernel died before its init in a boot after the first, $early times (restarted by panic=-1):"
	head -n 5 "$WORK/console-early.txt" | sed 's/^/#   /'
fi
if ! grep -q 'vbg: init started' "$WORK/console.txt"; then
	tap_not_ok "$P: no warning, oops or I/O error on the guest kernel's console (its init's mark is missing)"
elif [ ! -s "$WORK/console-bad.txt" ]; then
	tap_ok "$P: no warning, oops or I/O error on the guest kernel's console once its init started ($early early deaths before it)"
else
	tap_not_ok "$P: no warning, oops or I/O error on the guest kernel's console once its init started"
	diag_file "$WORK/console-bad.txt"
fi

# The bridges served the whole run and stop cleanly.
BRIDGES=("${PIDS[@]}")
rc=0
for p in "${PIDS[@]}"; do
	kill -0 "$p" 2>/dev/null && kill "$p" || rc=1
	wait "$p" || rc=1
done
PIDS=()
if [ "$rc" -eq 0 ]; then
	tap_ok "$P: the ${#BRIDGES[@]} bridges served the whole run and exit 0 on SIGTERM"
else
	tap_not_ok "$P: the ${#BRIDGES[@]} bridges served the whole run and exit 0 on SIGTERM"
	for f in "$WORK"/bridge-r*.log; do
		diag_file "$f" 10
	done
fi
echo "# $P: $((SECONDS - T0))s in all"
finish
