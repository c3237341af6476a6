#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run every vhost-blk selftest binary, then the vhost-blk tool (also over
# vhost-user, against vhost-user-blk-bridge and qemu-storage-daemon), as root in
# a machine where vhost_blk.ko is loaded (tests/vm/run.sh runs it in the
# test VM). Prints one TAP stream: each binary's kselftest results are
# renumbered into it as "ok N <binary>: <fixture>.<variant>.<test>", its
# other output kept as "# " diagnostics. A binary that crashes, times out
# (settings: timeout=) or reports fewer results than it planned adds a
# "not ok". Never stops early; exits 1 if anything failed.
#
# Usage: tests/selftests/run_guest.sh [binary...]   (default: all)
# "pinned:BINARY" runs BINARY with every device on a pinned memory table
# (VBLK_PIN_MEM=1: VHOST_BLK_OPT_F_PIN_MEM, where requests complete
# directly from their bios), its results named "pinned BINARY: ...", and
# VHOST_BLK_TEST_DEV a null_blk device that completes from a timer
# interrupt 20 us after each request (brd completes inside submit_bio()).
# Environment: VHOST_BLK_TEST_DEV / VHOST_BLK_TEST_DEV2 (default /dev/ram0,
# /dev/ram1) are overwritten by the tests; null_blk devices the tests make
# through configfs (vhost-blk-*) and the faults, resize and slowflush tests'
# device-mapper disks are removed at the end, and fault injection the
# faults_* tests left on is turned off.

set -u

DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${VHOST_BLK_SELFTEST_BUILD:-$DIR/build}
TOOL=$DIR/../../tools/build/vhost-blk
BRIDGE=$DIR/../../tools/build/vhost-user-blk-bridge
QSD=/usr/bin/qemu-storage-daemon
# Run again on pinned tables (VHOST_BLK_PINNED overrides the list).
PINNED=${VHOST_BLK_PINNED-data vring teardown faults_dm faults_flood owner}
TESTS=(abi ioctl backend data file slowflush vring giant teardown bridge pin
       faults_dm faults_fmr faults_fslab faults_flood owner devnode stats
       dirtylog service inflight resize)
for t in $PINNED; do
	TESTS+=("pinned:$t")
done
# The bridge and stats selftests run these binaries.
export VHOST_BLK_BRIDGE=${VHOST_BLK_BRIDGE:-$BRIDGE}
export VHOST_BLK_CLI=${VHOST_BLK_CLI:-$TOOL}
[ $# -gt 0 ] && TESTS=("$@")

TIMEOUT=$(sed -n 's/^timeout=//p' "$DIR/settings" 2>/dev/null)
TIMEOUT=${TIMEOUT:-600}

# Results are "ok N <binary>: ...", kselftest's style.
TAP_SEP=" "
# shellcheck source=../lib/tap.sh
. "$DIR/../lib/tap.sh"
WORK=$(mktemp -d /tmp/vhost-blk-selftests.XXXXXX) || exit 1

# setup_fs: an ext4 filesystem on a configfs null_blk device, mounted at
# $WORK/ext4 and exported as VHOST_BLK_TEST_FSDIR for the file tests.
setup_fs()
{
	local cfg=/sys/kernel/config/nullb/vhost-blk-fs dev i

	command -v mkfs.ext4 >/dev/null || return 1
	[ -d /sys/kernel/config/nullb ] || return 1
	grep -qw ext4 /proc/filesystems || modprobe ext4 2>/dev/null ||
		{ [ -n "${MODROOT:-}" ] && modprobe -d "$MODROOT" ext4; } || return 1
	mkdir "$cfg" 2>/dev/null || return 1
	echo 256 >"$cfg/size" && echo 1 >"$cfg/memory_backed" &&
		echo 1 >"$cfg/power" || return 1
	for ((i = 0; i < 50; i++)); do
		for dev in /dev/vhost-blk-fs "/dev/nullb$(cat "$cfg/index")"; do
			[ -b "$dev" ] && break 2
		done
		sleep 0.1
	done
	[ -b "$dev" ] || return 1
	mkfs.ext4 -q -F "$dev" >/dev/null 2>&1 || return 1
	mkdir -p "$WORK/ext4" && mount -t ext4 "$dev" "$WORK/ext4" || return 1
	export VHOST_BLK_TEST_FSDIR=$WORK/ext4
}

cleanup()
{
	local d f

	mountpoint -q "$WORK/ext4" 2>/dev/null && umount "$WORK/ext4"
	# The slowflush test's file system, should it have died half-way.
	for d in /tmp/vhost-blk-slow.*; do
		mountpoint -q "$d" 2>/dev/null && umount "$d" && rmdir "$d"
	done
	# What the faults tests set up, should one have died half-way.
	for f in /sys/block/*/make-it-fail \
		 /sys/kernel/debug/{fail_make_request,failslab}/probability; do
		[ -w "$f" ] && echo 0 >"$f"
	done
	for d in vhost-blk-faults vhost-blk-resize vhost-blk-slowflush; do
		grep -qsx "$d" /sys/block/dm-*/dm/name &&
			/usr/sbin/dmsetup --noudevsync remove --retry "$d" >/dev/null 2>&1
	done
	for d in /sys/kernel/config/nullb/vhost-blk-*; do
		[ -d "$d" ] || continue
		echo 0 >"$d/power" 2>/dev/null
		rmdir "$d" 2>/dev/null || echo "# could not remove $d"
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

# irq_nullb: a 64 MiB memory-backed null_blk with discard that completes
# every request from an hrtimer (irqmode=2), made once; prints its node.
irq_nullb()
{
	local cfg=/sys/kernel/config/nullb/vhost-blk-irq dev i

	[ -d /sys/kernel/config/nullb ] || return 1
	if [ ! -d "$cfg" ]; then
		mkdir "$cfg" && echo 64 >"$cfg/size" &&
			echo 512 >"$cfg/blocksize" && echo 1 >"$cfg/discard" &&
			echo 1 >"$cfg/memory_backed" && echo 2 >"$cfg/irqmode" &&
			echo 20000 >"$cfg/completion_nsec" &&
			echo 1024 >"$cfg/hw_queue_depth" &&
			echo 1 >"$cfg/power" || return 1
	fi
	for ((i = 0; i < 50; i++)); do
		for dev in /dev/vhost-blk-irq "/dev/nullb$(cat "$cfg/index")"; do
			[ -b "$dev" ] && { echo "$dev"; return 0; }
		done
		sleep 0.1
	done
	return 1
}

# run_binary NAME: run build/NAME and merge its TAP into ours;
# pinned:NAME on pinned memory tables.
run_binary()
{
	local name=$1 bin=$BUILD/${1#pinned:} out=$WORK/${1/:/-}.out rc=0
	local planned reported skip_reason='' pin=0 start=$SECONDS
	local dev=${VHOST_BLK_TEST_DEV:-/dev/ram0}

	if [[ $name == pinned:* ]]; then
		pin=1
		name="pinned ${name#pinned:}"
		dev=$(irq_nullb) || dev=${VHOST_BLK_TEST_DEV:-/dev/ram0}
	fi
	echo "# ---- $name ----"
	if [ ! -x "$bin" ]; then
		tap_not_ok "$name: $bin not built (make -C tests/selftests)"
		return
	fi
	VHOST_BLK_TEST_DEV=$dev VBLK_PIN_MEM=$pin KSFT_TAP_LEVEL=1 \
		timeout -k 10 "$TIMEOUT" "$bin" >"$out" 2>&1 || rc=$?
	tap_fold "$name: " "$out"
	echo "# $name took $((SECONDS - start)) s"
	reported=$TAP_FOLD_RESULTS
	planned=$TAP_FOLD_PLAN
	[[ $TAP_FOLD_PLAN_REST =~ SKIP[[:space:]]*(.*)$ ]] &&
		skip_reason=${BASH_REMATCH[1]}

	if [ "$rc" -eq 4 ] && [ "$reported" -eq 0 ]; then
		tap_skip "$name" "${skip_reason:-skipped}"
	elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		tap_not_ok "$name: timed out after ${TIMEOUT}s"
	elif [ -z "$planned" ] || [ "$reported" -ne "$planned" ]; then
		tap_not_ok "$name: exited $rc after $reported of ${planned:-?} results"
	elif [ "$rc" -ne 0 ] && [ "$rc" -ne 4 ]; then
		# Failures were reported above; this only notes the status.
		echo "# $name: exit status $rc"
	fi
}

# tool_check DESC CMD...: run the vhost-blk tool, ok if it exits 0.
tool_check()
{
	local desc=$1 out=$WORK/tool.out rc=0

	shift
	timeout -k 10 "$TIMEOUT" "$@" >"$out" 2>&1 || rc=$?
	sed 's/^/# /' "$out"
	if [ "$rc" -eq 0 ]; then
		tap_ok "tool: $desc"
	else
		tap_not_ok "tool: $desc (exit $rc)"
	fi
}

# vu_tool_check DESC SOCK TOOL-ARGS... -- SERVER...: start a vhost-user
# server listening on SOCK, run "vhost-blk io --vhost-user SOCK TOOL-ARGS"
# against it, stop the server; the server's log follows a failure.
vu_tool_check()
{
	local desc=$1 sock=$2 log=$WORK/server.log pid i before=$TAP_FAILED
	local -a args=()

	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		args+=("$1")
		shift
	done
	shift
	rm -f "$sock"
	"$@" >"$log" 2>&1 &
	pid=$!
	for ((i = 0; i < 300; i++)); do
		[ -S "$sock" ] && break
		sleep 0.1
	done
	tool_check "$desc" "$TOOL" io --vhost-user "$sock" "${args[@]}"
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	[ "$TAP_FAILED" -eq "$before" ] || sed 's/^/# server: /' "$log"
}

echo "TAP version 13"
if [ "$(id -u)" -ne 0 ]; then
	echo "# not root: tests needing block devices will fail"
fi
if [ ! -e /sys/kernel/config/nullb ] && [ -d /sys/kernel/config ]; then
	mountpoint -q /sys/kernel/config ||
		mount -t configfs configfs /sys/kernel/config 2>/dev/null
fi

if setup_fs; then
	echo "# ext4 for the file tests: $VHOST_BLK_TEST_FSDIR"
else
	echo "# no ext4 for the file tests (needs mkfs.ext4 and configfs null_blk)"
fi

for t in "${TESTS[@]}"; do
	run_binary "$t"
done

if [ $# -eq 0 ]; then
	echo "# ---- vhost-blk tool ----"
	if [ ! -e /dev/vhost-blk ]; then
		tap_skip tool "/dev/vhost-blk not present"
	elif [ -x "$TOOL" ]; then
		dev=${VHOST_BLK_TEST_DEV:-/dev/ram0}
		tool_check "vhost-blk info $dev" "$TOOL" info "$dev"
		tool_check "vhost-blk io $dev (4 KiB, qd 32, 2 queues)" \
			"$TOOL" io "$dev" --count 2000 --bs 4096 --qd 32 --queues 2
		tool_check "vhost-blk io $dev (1 MiB, qd 4, indirect)" \
			"$TOOL" io "$dev" --count 64 --bs 1M --qd 4 --indirect
		if [ -b /dev/nullb0 ]; then
			tool_check "vhost-blk io /dev/nullb0 (64 KiB, qd 64, 4 queues)" \
				"$TOOL" io /dev/nullb0 --count 1000 --bs 64k --qd 64 --queues 4
		fi
		if [ -x "$BRIDGE" ]; then
			vu_tool_check "vhost-blk io --vhost-user (bridge on $dev, 4 KiB, qd 32, 2 queues)" \
				"$WORK/bridge.sock" --count 2000 --bs 4096 --qd 32 \
				--queues 2 --serial vhost-blk-io -- \
				"$BRIDGE" --socket "$WORK/bridge.sock" --backend "$dev" \
				--serial vhost-blk-io --queues 2
		else
			tap_not_ok "tool: $BRIDGE not built (make -C tools)"
		fi
		dev2=${VHOST_BLK_TEST_DEV2:-/dev/ram1}
		if [ -x "$QSD" ]; then
			vu_tool_check "vhost-blk io --vhost-user (qemu-storage-daemon on $dev2, 4 KiB, qd 32, 2 queues)" \
				"$WORK/qsd.sock" --count 2000 --bs 4096 --qd 32 --queues 2 -- \
				"$QSD" --blockdev "driver=host_device,node-name=d,filename=$dev2,cache.direct=on" \
				--export "type=vhost-user-blk,id=e,node-name=d,addr.type=unix,addr.path=$WORK/qsd.sock,writable=on,num-queues=2"
		else
			tap_skip "tool: vhost-blk io --vhost-user (qemu-storage-daemon)" \
				"$QSD not installed"
		fi
	else
		tap_not_ok "tool: $TOOL not built (make -C tools)"
	fi
fi

if [ $# -eq 0 ]; then
	echo "# ---- fio engine, bench smoke ----"
	if [ ! -f "$DIR/../../tools/fio/build/vhost-blk-engine.so" ]; then
		tap_skip "bench: smoke" "fio engine not built (make -C tools/fio)"
	elif [ ! -e /dev/vhost-blk ] || ! command -v fio >/dev/null; then
		tap_skip "bench: smoke" "needs /dev/vhost-blk and fio"
	else
		tool_check "bench smoke (fio engine with verify=crc32c; io_uring, vhost-blk, qsd)" \
			"$DIR/../bench/run.sh" --guest --smoke
	fi
fi

tap_plan
echo "# $((TAP_NUM - TAP_FAILED)) of $TAP_NUM passed or skipped"
[ "$TAP_FAILED" -eq 0 ]
