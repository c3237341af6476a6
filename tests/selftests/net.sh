#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vhost-blk on networked backends, on loopback in the test VM: an NVMe/TCP
# target (nvmet, nvmet-tcp, configfs) and initiator (nvme-tcp, nvme-cli),
# and NBD (qemu-nbd serving, the nbd module with nbd-client). Each target
# exports a memory-backed null_blk device made through configfs.
#
# For each backend: the data selftest and the vhost-blk tool's checked
# workload run on it; then, with net_load's checked workload running
# through vhost-blk, the target goes away and comes back within the
# initiator's window (every write acknowledged OK, read back intact), goes
# away for good (everything in flight and new fails with IOERR within a
# bound; the target restored under a new device node and attached with
# VHOST_BLK_SET_BACKEND holds every write acknowledged before and serves;
# then VHOST_RESET_OWNER), the owner is killed, or the device reset or
# closed, while requests wait on a lost target, and the initiator's
# device is hot-removed (as for good, then close). One TAP line per
# check, with what it measured.
#
# Usage: tests/selftests/net.sh [nvme|nbd|hang-nbd]...   (default: nvme nbd)
# "hang-nbd" is not a test: it measures how long a killed owner takes to
# go away while its NBD server is stopped (SIGSTOP) with a long timeout,
# and prints the owner's and its workers' stacks if it does not.
# Runs as root where vhost_blk.ko is loaded; tests/vm/run.sh sets MODROOT.
# Exit status 1 if anything failed; a missing tool or module is a SKIP.

set -u

DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${VHOST_BLK_SELFTEST_BUILD:-$DIR/build}
LOAD=$BUILD/net_load
TOOL=$DIR/../../tools/build/vhost-blk
# The data selftest's second disk.
DEV2=${VHOST_BLK_TEST_DEV2:-/dev/ram1}
NULLB=/sys/kernel/config/nullb
NVMET=/sys/kernel/config/nvmet
NQN=nqn.2026-12.org.vhost-blk:net
HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:6b1e2c7a-0f3d-4b8e-9a51-2c7d3e4f5a61
NVME_PORT=4420
NBD_PORT=10809
# Seconds: NVMe reconnect delay and loss timeout while the target is
# expected back; the loss timeout once it is not; the NBD request timeout.
NVME_RECONNECT=1
NVME_LOSS_WINDOW=30
NVME_LOSS_SHORT=2
NBD_TIMEOUT=4
# How long a target stays away when it comes back (below both windows).
OUTAGE=2
# Upper bound for everything in flight to fail once a target is gone.
LIMIT=20

WORK=$(mktemp -d /tmp/vhost-blk-net.XXXXXX) || exit 1
NUM=0
FAILED=0
T0=$SECONDS

ok()
{
	NUM=$((NUM + 1))
	echo "ok $NUM $*"
}

not_ok()
{
	NUM=$((NUM + 1))
	FAILED=$((FAILED + 1))
	echo "not ok $NUM $*"
}

mod()
{
	if [ -n "${MODROOT:-}" ]; then
		modprobe -d "$MODROOT" "$@"
	else
		modprobe "$@"
	fi
}

# nullb_make NAME: a 256 MiB memory-backed null_blk; prints its node.
nullb_make()
{
	local cfg=$NULLB/$1 i

	mkdir "$cfg" && echo 256 >"$cfg/size" && echo 1 >"$cfg/memory_backed" &&
		echo 1 >"$cfg/discard" && echo 1 >"$cfg/power" || return 1
	for ((i = 0; i < 50; i++)); do
		[ -b "/dev/$1" ] && { echo "/dev/$1"; return 0; }
		[ -b "/dev/nullb$(cat "$cfg/index")" ] &&
			{ echo "/dev/nullb$(cat "$cfg/index")"; return 0; }
		sleep 0.1
	done
	return 1
}

nullb_remove()
{
	[ -d "$NULLB/$1" ] || return 0
	echo 0 >"$NULLB/$1/power"
	rmdir "$NULLB/$1"
}

# wait_dev PATH [TENTHS]: wait for a block device to appear (default 10 s).
wait_dev()
{
	local i

	for ((i = 0; i < ${2:-100}; i++)); do
		[ -b "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# start_load LOG ARGS...: net_load in the background, $LOAD_PID; waits
# until it is ready (its device is set up).
start_load()
{
	local log=$1 i

	shift
	"$LOAD" "$@" >"$log" 2>&1 &
	LOAD_PID=$!
	for ((i = 0; i < 200; i++)); do
		grep -q '^READY' "$log" && return 0
		kill -0 "$LOAD_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# finish_load DESC LOG: wait for net_load, one TAP line from its RESULT.
finish_load()
{
	local desc=$1 log=$2 rc=0 res

	wait "$LOAD_PID" || rc=$?
	res=$(sed -n 's/^RESULT //p' "$log" | tail -n 1)
	grep -v '^READY' "$log" | grep '^#'
	if [ "$rc" -eq 0 ] && [ -n "$res" ]; then
		ok "$desc: $res"
	else
		not_ok "$desc (net_load exit $rc): ${res:-no result}"
	fi
}

# owner_killed DESC: kill -9 the running net_load and time until it and
# its workers are gone (the close of /dev/vhost-blk is the last of it).
owner_killed()
{
	local desc=$1 pid=$LOAD_PID t0 t i

	t0=$EPOCHREALTIME
	# No "Killed" from bash: the job is not its to report.
	disown "$pid"
	kill -9 "$pid"
	# Gone: reaped, or a zombie whose threads (the workers too) all exited.
	for ((i = 0; i < LIMIT * 10; i++)); do
		gone "$pid" && break
		sleep 0.1
	done
	t=$(awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
	if gone "$pid"; then
		ok "$desc: owner killed with requests in flight, gone in $t s"
	else
		not_ok "$desc: owner still there ${t} s after kill -9"
		for i in /proc/"$pid"/task/*; do
			echo "# task ${i##*/}: $(cat "$i/comm")"
			sed 's/^/#   /' "$i/stack" 2>/dev/null
		done
	fi
}

gone()
{
	[ ! -d "/proc/$1" ] ||
		{ grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null &&
		  grep -q '^Threads:.*\<1$' "/proc/$1/status" 2>/dev/null; }
}

# data_checks NAME DEV: the data selftest and the tool's workload on DEV.
data_checks()
{
	local name=$1 dev=$2 out=$WORK/data.out rc=0 pass fail

	VHOST_BLK_TEST_DEV=$dev VHOST_BLK_TEST_DEV2=$DEV2 \
		timeout -k 5 300 "$BUILD/data" >"$out" 2>&1 || rc=$?
	pass=$(grep -c '^ok ' "$out")
	fail=$(grep -c '^not ok ' "$out")
	if [ "$rc" -eq 0 ] && [ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]; then
		ok "$name: selftest data on $dev ($pass cases written, read back, compared)"
	else
		grep -E '^not ok|^# .*(FAIL|Expected)' "$out" | head -n 20 | sed 's/^/# /'
		not_ok "$name: selftest data on $dev ($fail of $((pass + fail)) failed, exit $rc)"
	fi
	rc=0
	timeout -k 5 120 "$TOOL" io "$dev" --count 2000 --bs 4096 --qd 32 \
		--queues 2 >"$out" 2>&1 || rc=$?
	sed 's/^/# /' "$out"
	if [ "$rc" -eq 0 ]; then
		ok "$name: vhost-blk io $dev (2000 x 4 KiB written, flushed, read back, qd 32, 2 queues)"
	else
		not_ok "$name: vhost-blk io $dev (exit $rc)"
	fi
}

# ---- NVMe/TCP ----

nvme_target_up()
{
	local s=$NVMET/subsystems/$NQN p=$NVMET/ports/1

	if [ ! -d "$s" ]; then
		mkdir "$s" && echo 1 >"$s/attr_allow_any_host" &&
			mkdir "$s/namespaces/1" &&
			echo "$NVME_BACKING" >"$s/namespaces/1/device_path" &&
			echo 1 >"$s/namespaces/1/enable" || return 1
	fi
	if [ ! -d "$p" ]; then
		mkdir "$p" && echo tcp >"$p/addr_trtype" &&
			echo ipv4 >"$p/addr_adrfam" &&
			echo 127.0.0.1 >"$p/addr_traddr" &&
			echo "$NVME_PORT" >"$p/addr_trsvcid" || return 1
	fi
	[ -e "$p/subsystems/$NQN" ] || ln -s "$s" "$p/subsystems/$NQN"
}

# The target leaves its port: the host loses its queues and reconnects.
nvme_target_down()
{
	rm -f "$NVMET/ports/1/subsystems/$NQN"
}

nvme_target_destroy()
{
	nvme_target_down
	rmdir "$NVMET/ports/1" 2>/dev/null
	[ -d "$NVMET/subsystems/$NQN" ] || return 0
	echo 0 >"$NVMET/subsystems/$NQN/namespaces/1/enable" 2>/dev/null
	rmdir "$NVMET/subsystems/$NQN/namespaces/1" "$NVMET/subsystems/$NQN"
}

# nvme_ctrl: the fabrics controller connected to $NQN (e.g. nvme0), if any.
nvme_ctrl()
{
	local c

	for c in /sys/class/nvme/nvme*; do
		[ "$(cat "$c/subsysnqn" 2>/dev/null)" = "$NQN" ] || continue
		basename "$c"
		return 0
	done
	return 1
}

# nvme_connect LOSS_TMO: connect; NVME_DEV is the namespace's node.
nvme_connect()
{
	local c i n

	nvme connect -t tcp -a 127.0.0.1 -s "$NVME_PORT" -n "$NQN" \
		--hostnqn="$HOSTNQN" --reconnect-delay="$NVME_RECONNECT" \
		--ctrl-loss-tmo="$1" >"$WORK/nvme.log" 2>&1 || {
		sed 's/^/# /' "$WORK/nvme.log"
		return 1
	}
	for ((i = 0; i < 100; i++)); do
		c=$(nvme_ctrl) && for n in /sys/class/nvme/"$c"/nvme*n*; do
			[ -e "$n" ] || continue
			# native multipath: the head's node, nvmeXnY
			n=$(basename "$n")
			NVME_DEV=/dev/$(sed 's/c[0-9]*n/n/' <<<"$n")
			wait_dev "$NVME_DEV" 50 && return 0
		done
		sleep 0.1
	done
	return 1
}

nvme_disconnect()
{
	nvme disconnect -n "$NQN" >/dev/null 2>&1
	true
}

run_nvme()
{
	local log=$WORK/nvme-load.log c

	echo "# ---- nvme-tcp ----"
	if ! command -v nvme >/dev/null; then
		ok "nvme-tcp # SKIP nvme-cli not installed"
		return
	fi
	if ! mod nvmet || ! mod nvmet-tcp || ! mod nvme-tcp; then
		ok "nvme-tcp # SKIP nvmet, nvmet-tcp or nvme-tcp missing"
		return
	fi
	NVME_BACKING=$(nullb_make vhost-blk-net-nvme) ||
		{ not_ok "nvme-tcp: null_blk for the namespace"; return; }
	if ! nvme_target_up || ! nvme_connect "$NVME_LOSS_WINDOW"; then
		not_ok "nvme-tcp: target on 127.0.0.1:$NVME_PORT and connect"
		return
	fi
	c=$(nvme_ctrl)
	echo "# nvme-tcp: $c, $NVME_DEV on $NVME_BACKING"

	data_checks nvme-tcp "$NVME_DEV"

	# Away for $OUTAGE s, within the reconnect window.
	if start_load "$log" --dev "$NVME_DEV" --mode recover --qd 32; then
		sleep 1
		kill -USR1 "$LOAD_PID"
		nvme_target_down
		sleep "$OUTAGE"
		nvme_target_up
		kill -USR2 "$LOAD_PID"
		finish_load "nvme-tcp: target away ${OUTAGE} s (reconnect every ${NVME_RECONNECT} s, ctrl_loss_tmo ${NVME_LOSS_WINDOW} s)" "$log"
	else
		not_ok "nvme-tcp: net_load did not start"; cat "$log"
	fi

	# Away for good: past ctrl_loss_tmo the controller is deleted. Then
	# the target comes back, under a new controller: it must hold every
	# write acknowledged before, and serve.
	c=$(nvme_ctrl) && echo "$NVME_LOSS_SHORT" >"/sys/class/nvme/$c/ctrl_loss_tmo"
	if start_load "$log" --dev "$NVME_DEV" --mode fail --qd 32 \
		--limit "$LIMIT" --replace-file "$WORK/replace" --check-acked \
		--end reset; then
		sleep 1
		kill -USR1 "$LOAD_PID"
		nvme_target_down
		wait_gone "$NVME_DEV"
		nvme_target_up
		nvme_connect "$NVME_LOSS_WINDOW" && echo "$NVME_DEV" >"$WORK/replace"
		kill -USR2 "$LOAD_PID"
		finish_load "nvme-tcp: target removed for good (ctrl_loss_tmo ${NVME_LOSS_SHORT} s)" "$log"
	else
		not_ok "nvme-tcp: net_load did not start"; cat "$log"
	fi
	nvme_disconnect
	wait_gone "$NVME_DEV"

	# The owner dies while requests wait for a target that is gone.
	nvme_target_up
	if nvme_connect "$NVME_LOSS_SHORT" &&
	   start_load "$log" --dev "$NVME_DEV" --mode fail --qd 32 --limit "$LIMIT"; then
		sleep 1
		kill -USR1 "$LOAD_PID"
		nvme_target_down
		sleep 0.5
		owner_killed "nvme-tcp: target removed (ctrl_loss_tmo ${NVME_LOSS_SHORT} s)"
	else
		not_ok "nvme-tcp: reconnect for the owner-death check"; cat "$log"
	fi
	wait_gone "$NVME_DEV"

	# VHOST_RESET_OWNER while requests wait for a target that is gone.
	nvme_target_up
	if nvme_connect "$NVME_LOSS_SHORT" &&
	   start_load "$log" --dev "$NVME_DEV" --mode fail --qd 32 \
		--limit "$LIMIT" --teardown-at-mark reset --delay 500; then
		sleep 1
		kill -USR1 "$LOAD_PID"
		nvme_target_down
		finish_load "nvme-tcp: target removed (ctrl_loss_tmo ${NVME_LOSS_SHORT} s): VHOST_RESET_OWNER" "$log"
	else
		not_ok "nvme-tcp: reconnect for the RESET_OWNER check"; cat "$log"
	fi
	wait_gone "$NVME_DEV"

	# Hot-removal of the initiator's device: nvme disconnect under load;
	# connected again, the namespace holds every acknowledged write.
	nvme_target_up
	if nvme_connect "$NVME_LOSS_WINDOW" &&
	   start_load "$log" --dev "$NVME_DEV" --mode fail --qd 32 \
		--limit "$LIMIT" --replace-file "$WORK/replace" --check-acked \
		--end close; then
		sleep 1
		kill -USR1 "$LOAD_PID"
		nvme_disconnect
		wait_gone "$NVME_DEV"
		c=$NVME_DEV
		nvme_connect "$NVME_LOSS_WINDOW" && echo "$NVME_DEV" >"$WORK/replace"
		kill -USR2 "$LOAD_PID"
		finish_load "nvme-tcp: $c hot-removed (nvme disconnect)" "$log"
	else
		not_ok "nvme-tcp: reconnect for the hot-removal check"; cat "$log"
	fi
	nvme_disconnect
	nvme_target_destroy
	nullb_remove vhost-blk-net-nvme
}

# wait_gone PATH: up to $LIMIT s for a removed device node to go.
wait_gone()
{
	local i

	for ((i = 0; i < LIMIT * 10; i++)); do
		[ -e "$1" ] || return 0
		sleep 0.1
	done
	echo "# $1 still there"
}

# ---- NBD ----

NBD_PID=

nbd_server_start()
{
	local i

	qemu-nbd -f raw -x net -b 127.0.0.1 -p "$NBD_PORT" -t -e 4 \
		--cache=none --aio=native "$NBD_BACKING" >"$WORK/qemu-nbd.log" 2>&1 &
	NBD_PID=$!
	for ((i = 0; i < 100; i++)); do
		nbd-client -l 127.0.0.1 "$NBD_PORT" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	sed 's/^/# /' "$WORK/qemu-nbd.log"
	return 1
}

nbd_server_kill()
{
	[ -n "$NBD_PID" ] || return 0
	kill -CONT "$NBD_PID" 2>/dev/null
	kill -9 "$NBD_PID" 2>/dev/null
	wait "$NBD_PID" 2>/dev/null
	NBD_PID=
}

# nbd_connect TIMEOUT [DEV]: DEV (default /dev/nbd0) to the server,
# requests time out after TIMEOUT s.
nbd_connect()
{
	local dev=${2:-/dev/nbd0} i

	nbd-client -N net 127.0.0.1 "$NBD_PORT" "$dev" -t "$1" \
		>"$WORK/nbd-client.log" 2>&1 || {
		sed 's/^/# /' "$WORK/nbd-client.log"
		return 1
	}
	for ((i = 0; i < 100; i++)); do
		[ "$(cat "/sys/block/${dev#/dev/}/size" 2>/dev/null)" -gt 0 ] 2>/dev/null &&
			return 0
		sleep 0.1
	done
	return 1
}

nbd_disconnect()
{
	nbd-client -d "${1:-/dev/nbd0}" >/dev/null 2>&1
	true
}

nbd_setup()
{
	nbd_server_start && nbd_connect "$1"
}

run_nbd()
{
	local log=$WORK/nbd-load.log

	echo "# ---- nbd ----"
	if ! command -v qemu-nbd >/dev/null || ! command -v nbd-client >/dev/null; then
		ok "nbd # SKIP needs qemu-nbd (qemu-utils) and nbd-client"
		return
	fi
	if ! mod nbd nbds_max=2; then
		ok "nbd # SKIP no nbd module"
		return
	fi
	NBD_BACKING=$(nullb_make vhost-blk-net-nbd) ||
		{ not_ok "nbd: null_blk for the export"; return; }
	if ! nbd_setup "$NBD_TIMEOUT"; then
		not_ok "nbd: qemu-nbd on 127.0.0.1:$NBD_PORT and nbd-client"
		nbd_server_kill
		return
	fi
	echo "# nbd: /dev/nbd0 on $NBD_BACKING, timeout $NBD_TIMEOUT s"

	data_checks nbd /dev/nbd0

	# The server stops answering for $OUTAGE s, less than the timeout.
	if start_load "$log" --dev /dev/nbd0 --mode recover --qd 32; then
		sleep 1
		kill -USR1 "$LOAD_PID"
		kill -STOP "$NBD_PID"
		sleep "$OUTAGE"
		kill -CONT "$NBD_PID"
		kill -USR2 "$LOAD_PID"
		finish_load "nbd: server stopped ${OUTAGE} s (timeout ${NBD_TIMEOUT} s)" "$log"
	else
		not_ok "nbd: net_load did not start"; cat "$log"
	fi

	# The server is killed: the connection is gone for good. A new
	# server on the same disk, through /dev/nbd1, must hold every write
	# acknowledged before, and serve.
	if start_load "$log" --dev /dev/nbd0 --mode fail --qd 32 \
		--limit "$LIMIT" --replace-file "$WORK/replace" --check-acked \
		--end reset; then
		sleep 1
		kill -USR1 "$LOAD_PID"
		nbd_server_kill
		nbd_server_start && nbd_connect "$NBD_TIMEOUT" /dev/nbd1 &&
			echo /dev/nbd1 >"$WORK/replace"
		kill -USR2 "$LOAD_PID"
		finish_load "nbd: server killed" "$log"
	else
		not_ok "nbd: net_load did not start"; cat "$log"
	fi
	nbd_disconnect /dev/nbd1
	nbd_server_kill
	nbd_disconnect

	# The owner dies while requests wait for a server that does not
	# answer (stopped, so they wait for the timeout).
	if nbd_setup "$NBD_TIMEOUT" &&
	   start_load "$log" --dev /dev/nbd0 --mode fail --qd 32 --limit "$LIMIT"; then
		sleep 1
		kill -USR1 "$LOAD_PID"
		kill -STOP "$NBD_PID"
		sleep 0.5
		owner_killed "nbd: server stopped (timeout ${NBD_TIMEOUT} s)"
	else
		not_ok "nbd: reconnect for the owner-death check"; cat "$log"
	fi
	nbd_server_kill
	nbd_disconnect

	# close() while requests wait for a server that does not answer.
	if nbd_setup "$NBD_TIMEOUT" &&
	   start_load "$log" --dev /dev/nbd0 --mode fail --qd 32 \
		--limit "$LIMIT" --teardown-at-mark close --delay 500; then
		sleep 1
		kill -USR1 "$LOAD_PID"
		kill -STOP "$NBD_PID"
		finish_load "nbd: server stopped (timeout ${NBD_TIMEOUT} s): close" "$log"
	else
		not_ok "nbd: reconnect for the close check"; cat "$log"
	fi
	nbd_server_kill
	nbd_disconnect

	# Hot-removal: nbd-client -d under load; the export, through
	# /dev/nbd1, holds every acknowledged write.
	if nbd_setup "$NBD_TIMEOUT" &&
	   start_load "$log" --dev /dev/nbd0 --mode fail --qd 32 \
		--limit "$LIMIT" --replace-file "$WORK/replace" --check-acked \
		--end close; then
		sleep 1
		kill -USR1 "$LOAD_PID"
		nbd_disconnect
		nbd_connect "$NBD_TIMEOUT" /dev/nbd1 && echo /dev/nbd1 >"$WORK/replace"
		kill -USR2 "$LOAD_PID"
		finish_load "nbd: /dev/nbd0 disconnected under load (nbd-client -d)" "$log"
	else
		not_ok "nbd: reconnect for the hot-removal check"; cat "$log"
	fi
	nbd_disconnect /dev/nbd1
	nbd_disconnect
	nbd_server_kill
	nullb_remove vhost-blk-net-nbd
}

# ---- measurement: a killed owner behind an NBD server that never answers ----

hang_nbd()
{
	local log=$WORK/hang.log pid t0 t i w state

	echo "# ---- hang-nbd (measurement) ----"
	mod nbd nbds_max=2 || return
	NBD_BACKING=$(nullb_make vhost-blk-net-nbd) || return
	echo 20 >/proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
	echo "# hung_task_timeout_secs=$(cat /proc/sys/kernel/hung_task_timeout_secs 2>/dev/null)"
	nbd_setup 60 || { not_ok "hang-nbd: setup"; return; }
	start_load "$log" --dev /dev/nbd0 --mode fail --qd 32 --limit 120 ||
		{ not_ok "hang-nbd: net_load"; return; }
	pid=$LOAD_PID
	sleep 1
	kill -STOP "$NBD_PID"
	sleep 1
	t0=$EPOCHREALTIME
	disown "$pid"
	kill -9 "$pid"
	for ((i = 0; i < 900; i++)); do
		[ -d "/proc/$pid" ] || break
		if [ $((i % 50)) -eq 10 ]; then
			t=$(awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
			for w in /proc/"$pid"/task/*; do
				state=$(sed -n 's/^State:\t//p' "$w/status" 2>/dev/null)
				echo "# t=$t s task $(basename "$w") $(cat "$w/comm" 2>/dev/null): $state"
				sed 's/^/#     /' "$w/stack" 2>/dev/null
			done
			for w in $(pgrep -f "vhost-$pid"); do
				echo "# t=$t s $w $(cat /proc/"$w"/comm): $(sed -n 's/^State:\t//p' /proc/"$w"/status)"
				sed 's/^/#     /' /proc/"$w"/stack
			done
		fi
		sleep 0.1
	done
	t=$(awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
	ok "hang-nbd: owner killed with requests on a stopped NBD server (timeout 60 s): gone after $t s"
	dmesg | grep -E -A25 'blocked for more than|nbd' | tail -n 60 | sed 's/^/# dmesg: /'
	nbd_server_kill
	nbd_disconnect
	nullb_remove vhost-blk-net-nbd
}

cleanup()
{
	[ -z "${LOAD_PID:-}" ] || kill -9 "$LOAD_PID" 2>/dev/null
	nvme_disconnect
	nvme_target_destroy 2>/dev/null
	nbd_disconnect
	nbd_disconnect /dev/nbd1
	nbd_server_kill
	nullb_remove vhost-blk-net-nvme 2>/dev/null
	nullb_remove vhost-blk-net-nbd 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

echo "TAP version 13"
if [ ! -e /dev/vhost-blk ] || [ ! -x "$LOAD" ] || [ ! -d "$NULLB" ]; then
	echo "1..0 # SKIP needs /dev/vhost-blk, $LOAD and configfs null_blk"
	exit 0
fi
ip link set lo up 2>/dev/null
[ $# -gt 0 ] || set -- nvme nbd
for t in "$@"; do
	case $t in
	nvme) run_nvme ;;
	nbd) run_nbd ;;
	hang-nbd) hang_nbd ;;
	*) not_ok "unknown part $t" ;;
	esac
done
echo "# net.sh took $((SECONDS - T0)) s"
echo "1..$NUM"
[ "$FAILED" -eq 0 ]
