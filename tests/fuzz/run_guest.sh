#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the vhost-blk fuzzers as root where vhost_blk.ko is loaded
# (tests/vm/run.sh runs it in the test VM) and print one TAP stream:
# each fuzzer's results renumbered as "ok N <fuzzer>: <property>", its
# diagnostics kept as "# " lines. A fuzzer that crashes, times out or
# reports fewer results than it planned adds a "not ok". Exits 1 if
# anything failed.
#
#   1. ioctl_fuzz, IOCTL_CALLS calls, backends on /dev/ram1;
#   2. ring_fuzz on a slow null_blk device (requests stay in flight while
#      queues are stopped), RING_SLOW_ROUNDS rounds, no chaos device;
#   3. ring_fuzz on /dev/ram0 (verified) and a tmpfs image (chaos), until
#      RING_HOSTILE hostile requests or RING_TIME seconds.
#
# Usage: tests/fuzz/run_guest.sh [ioctl|slow|ring...]   (default: all)
# Environment (defaults in brackets): FUZZ_SEED [1], RING_HOSTILE
# [1000000], RING_TIME [300], RING_BATCHES [50], RING_SLOW_ROUNDS [3],
# IOCTL_CALLS [100000], FUZZ_TIMEOUT [600] per fuzzer.

set -u

DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${VHOST_BLK_FUZZ_BUILD:-$DIR/build}
SEED=${FUZZ_SEED:-1}
RING_HOSTILE=${RING_HOSTILE:-1000000}
RING_TIME=${RING_TIME:-300}
RING_BATCHES=${RING_BATCHES:-50}
RING_SLOW_ROUNDS=${RING_SLOW_ROUNDS:-3}
IOCTL_CALLS=${IOCTL_CALLS:-100000}
TIMEOUT=${FUZZ_TIMEOUT:-600}
STEPS=(ioctl slow ring)
[ $# -gt 0 ] && STEPS=("$@")

# Results are "ok N <fuzzer>: ...", kselftest's style.
TAP_SEP=" "
# shellcheck source=../lib/tap.sh
. "$DIR/../lib/tap.sh"
LAST_OUT=/dev/null
WORK=$(mktemp -d /tmp/vhost-blk-fuzz.XXXXXX) || exit 1
NULLB=/sys/kernel/config/nullb/vhost-blk-fuzz-slow

cleanup()
{
	if [ -d "$NULLB" ]; then
		echo 0 >"$NULLB/power" 2>/dev/null
		rmdir "$NULLB" 2>/dev/null || echo "# could not remove $NULLB"
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

# slow_nullb: a 64 MiB memory-backed null_blk device whose requests take
# 1 ms; prints its node.
slow_nullb()
{
	local i dev

	if [ ! -d /sys/kernel/config/nullb ]; then
		mountpoint -q /sys/kernel/config ||
			mount -t configfs configfs /sys/kernel/config 2>/dev/null
	fi
	[ -d /sys/kernel/config/nullb ] || return 1
	mkdir "$NULLB" 2>/dev/null || return 1
	echo 64 >"$NULLB/size" && echo 512 >"$NULLB/blocksize" &&
		echo 1 >"$NULLB/memory_backed" && echo 2 >"$NULLB/irqmode" &&
		echo 1000000 >"$NULLB/completion_nsec" &&
		echo 1 >"$NULLB/power" || return 1
	for ((i = 0; i < 50; i++)); do
		for dev in /dev/vhost-blk-fuzz-slow "/dev/nullb$(cat "$NULLB/index")"; do
			if [ -b "$dev" ]; then
				echo "$dev"
				return 0
			fi
		done
		sleep 0.1
	done
	return 1
}

# run_fuzzer NAME BINARY ARGS...: run it and merge its TAP into ours.
# refused_trace on|off: the vhost_blk_chain_refused event, if tracefs has it.
refused_trace()
{
	local t=/sys/kernel/tracing
	local ev=$t/events/vhost_blk/vhost_blk_chain_refused/enable

	[ -d "$t/events" ] || mount -t tracefs nodev "$t" 2>/dev/null
	[ -w "$ev" ] || return 0
	if [ "$1" = on ]; then
		: >"$t/trace"
		echo 1 >"$ev"
	else
		echo 0 >"$ev"
	fi
}

run_fuzzer()
{
	local name=$1 bin=$BUILD/$2 out=$WORK/$1.out rc=0 start
	local planned reported skip

	shift 2
	echo "# ---- $name: $(basename "$bin") $* ----"
	if [ ! -x "$bin" ]; then
		tap_not_ok "$name: $bin not built (make -C tests/fuzz)"
		return
	fi
	start=$SECONDS
	timeout -k 10 "$TIMEOUT" "$bin" "$@" >"$out" 2>&1 || rc=$?
	tap_fold "$name: " "$out"
	reported=$TAP_FOLD_RESULTS
	planned=$TAP_FOLD_PLAN
	if [ "$planned" = 0 ]; then
		skip=${TAP_FOLD_PLAN_REST#*SKIP}
		tap_skip "$name" "${skip#"${skip%%[! ]*}"}"
		return
	fi
	echo "# $name: exit status $rc after $((SECONDS - start)) s"
	LAST_OUT=$out
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		tap_not_ok "$name: timed out after ${TIMEOUT}s"
	elif [ -z "$planned" ] || [ "$reported" -ne "$planned" ]; then
		tap_not_ok "$name: exited $rc after $reported of ${planned:-?} results"
	fi
}

echo "TAP version 13"
if [ ! -e /dev/vhost-blk ]; then
	echo "1..0 # SKIP /dev/vhost-blk not present (is vhost_blk.ko loaded?)"
	exit 0
fi

for step in "${STEPS[@]}"; do
	case $step in
	ring)
		truncate -s 64M "$WORK/chaos.img"
		run_fuzzer ring ring_fuzz --seed "$SEED" --rounds 1000000 \
			--batches "$RING_BATCHES" --hostile "$RING_HOSTILE" \
			--time "$RING_TIME" --chaos-dev "$WORK/chaos.img" \
			--chaos-pause 300
		# The figure the suite promises: hostile requests sent.
		n=$(sed -n 's/^# hostile requests: \([0-9]*\) .*/\1/p' "$LAST_OUT" | tail -n 1)
		echo "# fuzz total: ring: ${n:-0} hostile requests, $(sed -n 's/^# requests sent (chains and heads): \([0-9]*\) .*/\1/p' "$LAST_OUT" | tail -n 1) requests in all"
		if [ "${n:-0}" -ge "$RING_HOSTILE" ]; then
			tap_ok "ring: ${n} hostile requests sent (at least $RING_HOSTILE)"
		else
			tap_not_ok "ring: ${n:-0} hostile requests sent (at least $RING_HOSTILE; RING_TIME=$RING_TIME s too short?)"
		fi
		;;
	slow)
		if dev=$(slow_nullb); then
			run_fuzzer ring-slow ring_fuzz --seed "$((SEED + 1))" \
				--rounds "$RING_SLOW_ROUNDS" --batches 20 \
				--dev "$dev" --chaos-queues 0
		else
			tap_skip ring-slow "no configfs null_blk"
		fi
		;;
	ioctl)
		# Why a load chain was refused, should one ever be: the
		# fuzzer shows its queue's refusals from the trace.
		refused_trace on
		run_fuzzer ioctl ioctl_fuzz --seed "$SEED" \
			--calls "$IOCTL_CALLS" --dev /dev/ram1
		refused_trace off
		n=$(sed -n 's/^# seed [0-9]*: \([0-9]*\) calls .*/\1/p' "$LAST_OUT" | tail -n 1)
		echo "# fuzz total: ioctl: ${n:-0} ioctl calls"
		if [ "${n:-0}" -ge "$IOCTL_CALLS" ]; then
			tap_ok "ioctl: ${n} ioctl calls made (at least $IOCTL_CALLS)"
		else
			tap_not_ok "ioctl: ${n:-0} ioctl calls made (at least $IOCTL_CALLS)"
		fi
		;;
	*)
		tap_not_ok "unknown step $step"
		;;
	esac
done

tap_plan
echo "# $((TAP_NUM - TAP_FAILED)) of $TAP_NUM passed or skipped"
[ "$TAP_FAILED" -eq 0 ]
