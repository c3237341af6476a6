#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Compare three ways to reach the same memory-backed null_blk device with
# the same fio jobs, in one boot of the test VM:
#   io_uring   fio's io_uring engine on the device itself (the bare limit)
#   vhost-blk  tools/fio/build/vhost-blk-engine.so on /dev/vhost-blk
#   qsd        the same engine over vhost-user to qemu-storage-daemon
#              exporting the device (vhost-user-blk, io_uring, 1 iothread)
#   io_uring+sqpoll  with --poll: io_uring with a polling SQ thread
#              (sqthread_poll=1) on the vCPU a polling worker gets
# Jobs: 4k randread/randwrite at QD1 and QD32, 64k sequential read/write
# at QD16, each with 1 and 2 queues (fio jobs; the engine gives each its
# own queue of one shared device). Besides IOPS and latency, each job
# reports the guest's CPU time and context switches per I/O: /proc/stat
# deltas over the measured part of the job (after the ramp), whole guest,
# so the kernel worker and qemu-storage-daemon count too.
#
# Usage: tests/bench/run.sh [--smoke] [--file] [--timed] [--pin] [--pin-mem]
#                           [--poll [US]] [--variants] [--scale]
#                           [--runtime SEC] [--guest]
#   --smoke        1 s per job, a few jobs, plus fio verify=crc32c through
#                  the engine (on /dev/vhost-blk and over vhost-user)
#   --runtime SEC  seconds per job (default 6; ramp 1 s extra)
#   --file         also a 48 MiB file on ext4 on /dev/ram1 (brd) as backend
#   --timed        also a null_blk device that completes each request from
#                  a timer 10 us after it arrives (irqmode=2,
#                  completion_nsec=10000, memory-backed), about the service
#                  time of a fast NVMe drive, so that a request's
#                  completion comes later than its submission as on real
#                  hardware, and QD1 latency ratios mean something
#   --pin          every path: fio job N runs on vCPU N (cpus_allowed_policy=
#                  split); a vhost-blk queue's worker, created by its job,
#                  shares that vCPU
#   --pin-mem      two more paths: vhost-blk+pin, the engine with
#                  pin_mem=1 (VHOST_BLK_OPT_F_PIN_MEM), where requests
#                  are posted by their completion; and vhost-blk+pin+
#                  nodirect, the same with the module's direct_complete
#                  off, where the worker posts them as without pin_mem
#   --poll [US]    polling instead of sleeping (implies --pin): on every
#                  vhost path the engine polls its used ring US us (default
#                  200) before it sleeps; a vhost-blk queue's worker runs
#                  on the next vCPU and polls its empty ring US us
#                  (VHOST_SET_VRING_BUSYLOOP_TIMEOUT); qemu-storage-daemon
#                  polls with its iothread's own default; one more path,
#                  io_uring+sqpoll, polls on the bare device with an SQ
#                  thread on that vCPU and fio spinning on its CQ. Only
#                  where there are two vCPUs per queue (sqpoll: one queue);
#                  other jobs run as with --pin
#   --variants     instead of the jobs above: 4k random read at QD1 and
#                  QD32, one queue, job on vCPU 0, through the polling
#                  variants of vhost-blk side by side (worker with the job;
#                  on vCPU 1; on vCPU 1 with worker, engine or both
#                  polling, for --poll's US or 200 us)
#   --scale        instead of the jobs above: 4k random read at QD32 and
#                  QD1 with 1, 2 and 4 queues of one device, and with 2
#                  and 4 devices of one queue each ("2xnullb0"): fio jobs
#                  on the bare device, vhost-blk devices (one fd each),
#                  and as many qemu-storage-daemon exports, each with an
#                  iothread of its own (queues of one export share its
#                  iothread: QEMU 7.2 has no iothread per queue)
#   --guest        run here (inside the test VM) instead of booting one
#
# On the host: builds the module and the engine, boots the VM once, writes
# build/bench/results.md (Markdown table), results.rst (the same for
# Documentation/benchmarks.rst), results.tsv and results.png
# (gnuplot: kIOPS per job, and kIOPS against CPU per I/O), and prints the
# table. --smoke only prints. Exit status 0 if
# every job ran and measured a positive CPU time and context switch count
# per I/O.

set -uo pipefail

DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$DIR/../.." && pwd)
ENGINE=$REPO/tools/fio/build/vhost-blk-engine.so
QSD=/usr/bin/qemu-storage-daemon
SMOKE=0
FILE=0
TIMED=0
GUEST=0
PIN=0
PINMEM=0
POLL=0
VARIANTS=0
SCALE=0
RUNTIME=6
RAMP=1

while [ $# -gt 0 ]; do
	case $1 in
	--smoke) SMOKE=1 ;;
	--file) FILE=1 ;;
	--timed) TIMED=1 ;;
	--guest) GUEST=1 ;;
	--pin) PIN=1 ;;
	--pin-mem) PINMEM=1 ;;
	--poll)
		POLL=200
		case ${2:-} in [0-9]*) POLL=$2; shift ;; esac
		PIN=1 ;;
	--variants) VARIANTS=1; PIN=1 ;;
	--scale) SCALE=1 ;;
	--runtime) RUNTIME=$2; shift ;;
	-h | --help)
		# shellcheck source=../lib/common.sh
		. "$REPO/tests/lib/common.sh"
		vb_usage "$0"
		exit 0
		;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
[ "$SMOKE" -eq 1 ] && RUNTIME=1

# ---- in the guest ----

# fio_json FILE STAT: "iops MiB/s p50_us p99_us cpu_us cs vcpus" of a
# group_reporting run, read and write summed, CPU time (us) and context
# switches per I/O and busy vCPUs from the /proc/stat snapshots in STAT;
# tests/bench/report.py says which latency and which window.
fio_json()
{
	python3 "$DIR/report.py" fio-json "$1" "$2" "$(getconf CLK_TCK)" "$RAMP"
}

QSD_PID=
WORK=

qsd_stop()
{
	[ -n "$QSD_PID" ] || return 0
	kill "$QSD_PID" 2>/dev/null
	wait "$QSD_PID" 2>/dev/null
	QSD_PID=
}

# qsd_start DEV QUEUES: export DEV as vhost-user-blk on $WORK/q.sock.
qsd_start()
{
	local dev=$1 nq=$2 i

	qsd_stop
	rm -f "$WORK/q.sock"
	local drv=host_device

	[ -b "$dev" ] || drv="file"
	"$QSD" --blockdev "driver=$drv,node-name=d,filename=$dev,cache.direct=on,aio=io_uring" \
		--object iothread,id=io0 \
		--export "type=vhost-user-blk,id=e,node-name=d,iothread=io0,addr.type=unix,addr.path=$WORK/q.sock,writable=on,num-queues=$nq" \
		>"$WORK/qsd.log" 2>&1 &
	QSD_PID=$!
	for ((i = 0; i < 100; i++)); do
		[ -S "$WORK/q.sock" ] && return 0
		kill -0 "$QSD_PID" 2>/dev/null || break
		sleep 0.1
	done
	sed 's/^/# qsd: /' "$WORK/qsd.log"
	return 1
}

FAILED=0

# poll_ok QUEUES: whether --poll polls with QUEUES queues. A poller needs
# a CPU to itself: with fewer than two vCPUs per queue (a job and its
# worker) the job runs as with --pin, worker with it.
poll_ok()
{
	[ "$POLL" -gt 0 ] && [ $((2 * $1)) -le "$(nproc)" ]
}

# sqpoll_ok QUEUES: whether the io_uring+sqpoll path runs with QUEUES
# queues: where --poll polls, and with one queue only, as fio gives every
# job of a section the same sqthread_poll_cpu.
sqpoll_ok()
{
	poll_ok "$1" && [ "$1" -eq 1 ]
}

# poll_args TRANSPORT QUEUES: add the engine's polling options of --poll
# to args, where poll_ok.
poll_args()
{
	poll_ok "$2" || return 0
	case $1 in
	vhost-blk*) args+=(--poll_us="$POLL" --busyloop_us="$POLL"
			   --worker_cpu=1) ;;
	qsd) args+=(--poll_us="$POLL") ;;
	esac
}

# variant_args PATH: the engine options named by the "+" suffixes of a
# vhost-blk path: pin (pin_mem=1), w1 (the queue's worker on the next
# vCPU), wpoll (the worker busy-polls), epoll (the engine polls its used
# ring); the windows are --poll's, or 200 us. nodirect is run_fio's.
variant_args()
{
	local opt us=200 IFS=+

	[ "$POLL" -gt 0 ] && us=$POLL
	for opt in ${1#vhost-blk}; do
		case $opt in
		pin) args+=(--pin_mem=1) ;;
		w1) args+=(--worker_cpu=1) ;;
		wpoll) args+=(--busyloop_us="$us") ;;
		epoll) args+=(--poll_us="$us") ;;
		esac
	done
}

# qsd_start_devs DEV N: N exports of DEV, one queue and one iothread
# each, on $WORK/q0.sock to q(N-1).sock.
qsd_start_devs()
{
	local dev=$1 n=$2 i drv=host_device
	local -a args=()

	qsd_stop
	[ -b "$dev" ] || drv="file"
	for ((i = 0; i < n; i++)); do
		rm -f "$WORK/q$i.sock"
		args+=(--blockdev "driver=$drv,node-name=d$i,filename=$dev,cache.direct=on,aio=io_uring,locking=off"
		       --object "iothread,id=io$i"
		       --export "type=vhost-user-blk,id=e$i,node-name=d$i,iothread=io$i,addr.type=unix,addr.path=$WORK/q$i.sock,writable=on,num-queues=1")
	done
	"$QSD" "${args[@]}" >"$WORK/qsd.log" 2>&1 &
	QSD_PID=$!
	for ((i = 0; i < 100; i++)); do
		[ -S "$WORK/q$((n - 1)).sock" ] && return 0
		kill -0 "$QSD_PID" 2>/dev/null || break
		sleep 0.1
	done
	sed 's/^/# qsd: /' "$WORK/qsd.log"
	return 1
}

# run_fio_devs TRANSPORT DEV N NAME RW BS QD SIZE_MB: one job on N
# devices of one queue each (N fio jobs, each its own part of DEV), one
# "BENCH|Nxdev|..." result line (or "BENCH-FAIL|...").
run_fio_devs()
{
	local tr=$1 dev=$2 n=$3 name=$4 rw=$5 bs=$6 qd=$7 size=$8 i out res
	local label
	local -a args

	label="${n}x$(basename "$dev")"

	args=(--rw="$rw" --bs="$bs" --iodepth="$qd" --thread=1
	      --group_reporting=1 --lat_percentiles=1 --output-format=json
	      --runtime="$RUNTIME" --time_based=1 --ramp_time="$RAMP"
	      --size=$((size / n))M)
	[ "$PIN" -eq 1 ] && args+=(--cpus_allowed=0-$((n - 1))
				   --cpus_allowed_policy=split)
	rm -f "$WORK/stat"
	args+=(--exec_prerun="sh $DIR/stat-snap.sh $WORK/stat $RAMP $((RUNTIME * 9 / 10)).$((RUNTIME * 9 % 10))")
	case $tr in
	io_uring) args+=(--ioengine=io_uring --direct=1 --filename="$dev"
			 --name="$name" --numjobs="$n"
			 --offset_increment=$((size / n))M) ;;
	# Without queues=, each fio job opens a device of its own.
	vhost-blk) args+=(--ioengine=external:"$ENGINE" --filename="$dev"
			  --name="$name" --numjobs="$n"
			  --offset_increment=$((size / n))M) ;;
	qsd) args+=(--ioengine=external:"$ENGINE" --filename=vhost-user)
	     for ((i = 0; i < n; i++)); do
		args+=(--name="$name.$i" --vhost_user="$WORK/q$i.sock"
		       --offset=$((i * size / n))M)
	     done ;;
	esac
	out=$WORK/$tr-$name-$label.json
	if (cd "$WORK" && timeout -k 5 $((RUNTIME * 4 + 60)) fio "${args[@]}" \
		--output="$out") >"$WORK/fio.err" 2>&1 &&
	   res=$(fio_json "$out" "$WORK/stat" 2>>"$WORK/fio.err"); then
		echo "BENCH|$label|$name|1|$tr|${res// /|}"
	else
		FAILED=$((FAILED + 1))
		echo "BENCH-FAIL|$label|$name|1|$tr"
		sed 's/^/# /' "$WORK/fio.err" | tail -n 20
	fi
}

# scale_target DEV SIZE_MB: the --scale jobs, by count of queues and of
# devices.
scale_target()
{
	local dev=$1 size=$2 n job name rw bs qd tr

	bench_target "$dev" "$size"
	for n in 2 4; do
		if [[ " ${transports[*]} " == *" qsd "* ]] &&
		   ! qsd_start_devs "$dev" "$n"; then
			FAILED=$((FAILED + 1))
			echo "BENCH-FAIL|${n}x$(basename "$dev")|*|1|qsd (did not start)"
		fi
		for job in "${jobs[@]}"; do
			read -r name rw bs qd <<<"$job"
			for tr in "${transports[@]}"; do
				[ "$tr" = qsd ] && [ -z "$QSD_PID" ] && continue
				run_fio_devs "$tr" "$dev" "$n" "$name" "$rw" \
					"$bs" "$qd" "$size"
			done
		done
		qsd_stop
	done
}

# direct_complete Y|N: the module's direct completion on or off.
direct_complete()
{
	echo "$1" >/sys/module/vhost_blk/parameters/direct_complete
}

# run_fio TRANSPORT DEV QUEUES NAME RW BS QD [fio args...]: one job, one
# "BENCH|..." result line (or "BENCH-FAIL|...").
run_fio()
{
	local tr=$1 dev=$2 nq=$3 name=$4 rw=$5 bs=$6 qd=$7 out res
	local -a args

	shift 7
	args=(--name="$name" --rw="$rw" --bs="$bs" --iodepth="$qd"
	      --numjobs="$nq" --thread=1 --group_reporting=1
	      --lat_percentiles=1 --output-format=json "$@")
	# Same placement for every path; qemu-storage-daemon's own threads
	# are not the job's and stay where the scheduler puts them.
	[ "$PIN" -eq 1 ] && args+=(--cpus_allowed=0-$((nq - 1))
				   --cpus_allowed_policy=split)
	case $tr in
	io_uring) args+=(--ioengine=io_uring --direct=1 --filename="$dev") ;;
	# The SQ thread polls on the vCPU where worker_cpu=1 puts a polling
	# vhost-blk worker (queue 0's: the second CPU); fio spins on its CQ
	# the way the engine spins on its used ring.
	io_uring+sqpoll) args+=(--ioengine=io_uring --direct=1
				--filename="$dev" --sqthread_poll=1
				--sqthread_poll_cpu=1) ;;
	vhost-blk*) args+=(--ioengine=external:"$ENGINE" --filename="$dev"
			   --queues="$nq")
		    variant_args "$tr" ;;
	qsd) args+=(--ioengine=external:"$ENGINE" --filename=vhost-user
		    --vhost_user="$WORK/q.sock" --queues="$nq") ;;
	esac
	# Engine options only parse after the engine is named.
	poll_args "$tr" "$nq"
	# The guest's CPU and context switches over nine tenths of the
	# measured part of the job, from the end of the ramp (fio runs this
	# in its working directory, where it writes its output).
	rm -f "$WORK/stat"
	args+=(--exec_prerun="sh $DIR/stat-snap.sh $WORK/stat $RAMP $((RUNTIME * 9 / 10)).$((RUNTIME * 9 % 10))")
	out=$WORK/$tr-$name-$nq.json
	# Read when a queue starts: for this job only.
	[[ $tr == *+nodirect* ]] && direct_complete N
	if (cd "$WORK" && timeout -k 5 $((RUNTIME * 4 + 60)) fio "${args[@]}" \
		--output="$out") >"$WORK/fio.err" 2>&1 &&
	   res=$(fio_json "$out" "$WORK/stat" 2>>"$WORK/fio.err"); then
		direct_complete Y
		echo "BENCH|$(basename "$dev")|$name|$nq|$tr|${res// /|}"
	else
		direct_complete Y
		FAILED=$((FAILED + 1))
		echo "BENCH-FAIL|$(basename "$dev")|$name|$nq|$tr"
		sed 's/^/# /' "$WORK/fio.err" | tail -n 20
		[ -s "$out" ] && grep -m3 '"error"\|verror' "$out" | sed 's/^/# /'
	fi
}

# verify_check TRANSPORT DEV: fio verify=crc32c through the engine.
verify_check()
{
	local tr=$1 dev=$2 desc rc=0
	local -a args=(--name=verify --ioengine=external:"$ENGINE"
		       --rw=randwrite --bsrange=4k-64k --iodepth=16
		       --size=16M --verify=crc32c --do_verify=1
		       --verify_fatal=1 --numjobs=2 --thread=1 --queues=2
		       --offset_increment=16M)

	if [ "$tr" = qsd ]; then
		args+=(--filename=vhost-user --vhost_user="$WORK/q.sock")
	else
		args+=(--filename="$dev")
	fi
	variant_args "$tr"
	desc="fio verify=crc32c through the engine ($tr, $dev, 2 queues)"
	timeout -k 5 120 fio "${args[@]}" >"$WORK/verify.out" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ] && grep -q 'err= 0' "$WORK/verify.out" &&
	   ! grep -q 'err=[ ]*[1-9]' "$WORK/verify.out"; then
		echo "VERIFY-OK|$desc"
	else
		FAILED=$((FAILED + 1))
		echo "VERIFY-FAIL|$desc (exit $rc)"
		sed 's/^/# /' "$WORK/verify.out" | tail -n 20
	fi
}

# bench_target DEV SIZE_MB: every job, path and queue count on DEV, whose
# first SIZE_MB MiB the queues split between them.
bench_target()
{
	local dev=$1 size=$2

	# The paths of one job run back to back, so that a change in the
	# load of the machine hits them alike.
	for nq in "${queues[@]}"; do
		if [[ " ${transports[*]} " == *" qsd "* ]] &&
		   ! qsd_start "$dev" "$nq"; then
			FAILED=$((FAILED + 1))
			echo "BENCH-FAIL|$(basename "$dev")|*|$nq|qsd (did not start)"
		fi
		for job in "${jobs[@]}"; do
			read -r name rw bs qd <<<"$job"
			for tr in "${transports[@]}"; do
				[ "$tr" = qsd ] && [ -z "$QSD_PID" ] && continue
				[ "$tr" = io_uring+sqpoll ] &&
					! sqpoll_ok "$nq" && continue
				# Each queue (fio job) its own part of the device.
				run_fio "$tr" "$dev" "$nq" "$name" "$rw" "$bs" \
					"$qd" --runtime="$RUNTIME" --time_based=1 \
					--ramp_time="$RAMP" --size=$((size / nq))M \
					--offset_increment=$((size / nq))M
			done
		done
		qsd_stop
	done
}

# setup_file: ext4 on /dev/ram1 at $WORK/ext4 holding a written 48 MiB
# bench.img.
setup_file()
{
	grep -qw ext4 /proc/filesystems || modprobe ext4 2>/dev/null ||
		{ [ -n "${MODROOT:-}" ] && modprobe -d "$MODROOT" ext4; } || return 1
	mkfs.ext4 -q -F /dev/ram1 >/dev/null 2>&1 || return 1
	mkdir -p "$WORK/ext4" && mount -t ext4 /dev/ram1 "$WORK/ext4" || return 1
	dd if=/dev/zero of="$WORK/ext4/bench.img" bs=1M count=48 \
		conv=fsync status=none
}

# setup_timed: print the node of a new 512 MiB memory-backed null_blk
# device (configfs) whose requests complete from a timer after 10 us.
setup_timed()
{
	local cfs=/sys/kernel/config d i n

	mountpoint -q "$cfs" || mount -t configfs none "$cfs" || return 1
	[ -d "$cfs/nullb" ] || return 1
	d=$cfs/nullb/nullb_timed
	[ -d "$d" ] || mkdir "$d" || return 1
	echo 512 >"$d/size" && echo 1 >"$d/memory_backed" &&
		echo 2 >"$d/irqmode" && echo 10000 >"$d/completion_nsec" &&
		echo 1 >"$d/power" || return 1
	# The disk is named after the configfs item since Linux 6.5 (nullbN,
	# N its index, before); devtmpfs creates the node a moment later.
	for ((i = 0; i < 50; i++)); do
		for n in "/dev/${d##*/}" "/dev/nullb$(cat "$d/index")"; do
			[ -b "$n" ] && { echo "$n"; return 0; }
		done
		sleep 0.1
	done
	return 1
}

guest_main()
{
	local dev=/dev/nullb0 nq tr job name rw bs qd
	local -a jobs transports queues

	[ -f "$ENGINE" ] || { echo "# $ENGINE not built (make -C tools/fio)"; return 1; }
	[ -e /dev/vhost-blk ] || { echo "# /dev/vhost-blk missing"; return 1; }
	[ -b "$dev" ] || { echo "# $dev missing"; return 1; }
	WORK=$(mktemp -d /tmp/vhost-blk-bench.XXXXXX) || return 1
	trap 'qsd_stop; mountpoint -q "$WORK/ext4" && umount "$WORK/ext4"; rm -rf "$WORK"' EXIT

	transports=(io_uring)
	[ "$POLL" -gt 0 ] && transports+=(io_uring+sqpoll)
	transports+=(vhost-blk)
	[ "$PINMEM" -eq 1 ] && transports+=(vhost-blk+pin
					    vhost-blk+pin+nodirect)
	if [ -x "$QSD" ]; then
		transports+=(qsd)
	else
		echo "# $QSD not installed: no vhost-user comparison"
	fi
	if [ "$VARIANTS" -eq 1 ]; then
		transports=(io_uring vhost-blk vhost-blk+pin vhost-blk+w1
			    vhost-blk+w1+wpoll vhost-blk+w1+epoll
			    vhost-blk+w1+wpoll+epoll
			    vhost-blk+w1+wpoll+epoll+pin)
		jobs=("randread-4k-qd1 randread 4k 1"
		      "randread-4k-qd32 randread 4k 32")
		queues=(1)
	elif [ "$SCALE" -eq 1 ]; then
		transports=(io_uring vhost-blk)
		[ -x "$QSD" ] && transports+=(qsd)
		jobs=("randread-4k-qd32 randread 4k 32"
		      "randread-4k-qd1 randread 4k 1")
		queues=(1 2 4)
	elif [ "$SMOKE" -eq 1 ]; then
		jobs=("randread-4k-qd32 randread 4k 32"
		      "write-64k-qd16 write 64k 16")
		queues=(1 2)
	else
		jobs=("randread-4k-qd1 randread 4k 1"
		      "randwrite-4k-qd1 randwrite 4k 1"
		      "randread-4k-qd32 randread 4k 32"
		      "randwrite-4k-qd32 randwrite 4k 32"
		      "read-64k-qd16 read 64k 16"
		      "write-64k-qd16 write 64k 16")
		queues=(1 2)
	fi
	local place="jobs not pinned"

	[ "$PIN" -eq 1 ] && place="fio job N pinned to vCPU N"
	[ "$POLL" -gt 0 ] && place="$place; with 2 vCPUs per queue the engine polls the used ring ${POLL} us and vhost-blk queue N's worker runs on vCPU N+1 and busy-polls ${POLL} us; io_uring+sqpoll (one queue): SQ thread on vCPU 1, fio spinning on the CQ"
	echo "BENCH-INFO|$(uname -r)|$(nproc)|$(fio --version)|$("$QSD" --version 2>/dev/null | head -n1)|$RUNTIME|$place"

	if [ "$SMOKE" -eq 1 ]; then
		verify_check vhost-blk /dev/ram0
		verify_check vhost-blk+pin /dev/ram0
		verify_check vhost-blk+w1+wpoll+epoll /dev/ram0
		# A file backend too: a raw image on tmpfs.
		truncate -s 64M "$WORK/verify.img" &&
			verify_check vhost-blk "$WORK/verify.img"
		if [ -x "$QSD" ]; then
			qsd_start /dev/ram1 2 && verify_check qsd /dev/ram1 ||
				{ FAILED=$((FAILED + 1)); echo "VERIFY-FAIL|qsd did not start"; }
			qsd_stop
		fi
	fi

	local target=bench_target

	[ "$SCALE" -eq 1 ] && target=scale_target
	$target "$dev" 512
	if [ "$TIMED" -eq 1 ]; then
		local timed

		if timed=$(setup_timed) && [ -b "$timed" ]; then
			$target "$timed" 512
		else
			FAILED=$((FAILED + 1))
			echo "BENCH-FAIL|timed|*|*|* (no timed null_blk device)"
		fi
	fi
	if [ "$FILE" -eq 1 ]; then
		if setup_file; then
			bench_target "$WORK/ext4/bench.img" 48
			umount "$WORK/ext4"
		else
			FAILED=$((FAILED + 1))
			echo "BENCH-FAIL|bench.img|*|*|* (no ext4 on /dev/ram1)"
		fi
	fi
	echo "BENCH-DONE|$FAILED"
	[ "$FAILED" -eq 0 ]
}

if [ "$GUEST" -eq 1 ]; then
	guest_main
	exit $?
fi

# ---- on the host ----

# shellcheck source=../lib/common.sh
. "$REPO/tests/lib/common.sh"

OUT=$VB_BUILD/bench
mkdir -p "$OUT"
vb_ensure_packages
vb_ensure_kernel --no-source || vb_die "cannot fetch the Debian kernel"
vb_log "building vhost_blk.ko against $KREL"
vb_build_module "$OUT/module" >"$OUT/module.log" ||
	{ tail -n 30 "$OUT/module.log" >&2; vb_die "the module does not build"; }
make -C "$REPO/tools/fio" --no-print-directory >"$OUT/engine.log" 2>&1 ||
	{ tail -n 30 "$OUT/engine.log" >&2; vb_die "the fio engine does not build"; }

GUEST_ARGS="--guest --runtime $RUNTIME"
[ "$PIN" -eq 1 ] && GUEST_ARGS="$GUEST_ARGS --pin"
[ "$PINMEM" -eq 1 ] && GUEST_ARGS="$GUEST_ARGS --pin-mem"
[ "$POLL" -gt 0 ] && GUEST_ARGS="$GUEST_ARGS --poll $POLL"
[ "$FILE" -eq 1 ] && GUEST_ARGS="$GUEST_ARGS --file"
[ "$TIMED" -eq 1 ] && GUEST_ARGS="$GUEST_ARGS --timed"
[ "$SMOKE" -eq 1 ] && GUEST_ARGS="$GUEST_ARGS --smoke"
[ "$VARIANTS" -eq 1 ] && GUEST_ARGS="$GUEST_ARGS --variants"
[ "$SCALE" -eq 1 ] && GUEST_ARGS="$GUEST_ARGS --scale"
rc=0
"$REPO/tests/vm/run.sh" -t 1500 --module "$OUT/module/vhost_blk.ko" \
	-o "$OUT/vm" -- "tests/bench/run.sh $GUEST_ARGS" >"$OUT/guest.log" 2>&1 ||
	rc=$?
grep -v '^BENCH|' "$OUT/guest.log" | grep '^#\|FAIL\|OK\|run.sh' >&2
grep '^BENCH|' "$OUT/guest.log" | cut -d'|' -f2- >"$OUT/results.tsv"
if [ ! -s "$OUT/results.tsv" ]; then
	tail -n 30 "$OUT/guest.log" >&2
	vb_die "no results (log: $OUT/guest.log)"
fi
INFO=$(grep -m1 '^BENCH-INFO|' "$OUT/guest.log" | cut -d'|' -f2-)

# results.md: one row per job, queue count and transport.
python3 "$DIR/report.py" markdown "$OUT/results.tsv" "$INFO" >"$OUT/results.md"

# results.rst: the same table as an RST grid table for Documentation/.
python3 "$DIR/report.py" rst "$OUT/results.md" >"$OUT/results.rst"

if [ "$SMOKE" -eq 0 ]; then
	if ! command -v gnuplot >/dev/null; then
		vb_ensure_packages gnuplot-nox || vb_log "no gnuplot: no chart"
	fi
	if command -v gnuplot >/dev/null; then
		python3 "$DIR/report.py" chart "$OUT/results.tsv" >"$OUT/chart.dat"
		python3 "$DIR/report.py" scatter "$OUT/results.tsv" \
			>"$OUT/scatter.dat"
		# One series per path in chart.dat (columns 2..N).
		ncol=$(head -n1 "$OUT/chart.dat" | wc -w)
		series="\"$OUT/chart.dat\" using 2:xtic(1) title columnheader(2)"
		for ((c = 3; c <= ncol; c++)); do
			series="$series, '' using $c title columnheader($c)"
		done
		# Below the bars: a point per job and path, kIOPS against CPU
		# time per I/O, one scatter.dat block per path.
		paths=$(head -n1 "$OUT/chart.dat" | cut -d' ' -f2-)
		gnuplot <<EOF || vb_log "gnuplot failed"
set terminal pngcairo size 1200,1300 noenhanced
set output "$OUT/results.png"
set multiplot layout 2,1
set rmargin 10
set bmargin 7
set title "fio on null_blk in a TCG guest: kIOPS (only ratios mean anything)"
set style data histogram
set style histogram cluster gap 1
set style fill solid border -1
set boxwidth 0.9
set xtics rotate by -35
set ylabel "kIOPS"
set key top right
set grid ytics
plot $series
paths = "$paths"
set bmargin 4
set xtics norotate
set title "kIOPS against guest CPU time per I/O (up and left is better)"
set xlabel "guest CPU us per I/O (/proc/stat, whole guest)"
set logscale x
set yrange [0:*]
set grid xtics ytics
plot for [i=1:words(paths)] "$OUT/scatter.dat" index (i - 1) using 1:2 \\
	with points pt 7 ps 1.2 lc i title word(paths, i), \\
     for [i=1:words(paths)] "$OUT/scatter.dat" index (i - 1) using 1:2:3 \\
	with labels font ",7" offset 0.6,0.4 left tc lt i notitle
unset multiplot
EOF
	fi
fi
cat "$OUT/results.md"
if [ "$SCALE" -eq 1 ]; then
	python3 "$DIR/report.py" scale "$OUT/results.tsv" >"$OUT/scale.md"
	echo
	cat "$OUT/scale.md"
fi
[ -f "$OUT/results.png" ] && [ "$SMOKE" -eq 0 ] && echo && echo "chart: $OUT/results.png"
grep -q '^BENCH-DONE|0$' "$OUT/guest.log" || rc=1
exit "$rc"
