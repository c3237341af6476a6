#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 of the test VM, after the initramfs has switched to the host's root
# (9p, read-only). Do not run it on a host. tests/vm/run.sh writes a job
# file (bash variables, see there) and passes its path as VHOST_BLK_JOB.
#
# 1. mounts /run, /tmp, /var/tmp, /root as tmpfs (keeping the host
#    directories the job names visible through them), configfs, debugfs;
# 2. unless VM_SETUP=0: modprobe -d $VM_MODROOT brd, null_blk, then
#    insmod $VM_MODULE and wait for /dev/vhost-blk;
# 3. runs VM_CMD with bash in $VM_REPO, stdout and stderr to /dev/ttyS1,
#    between "@@VHOST-BLK-BEGIN <nonce>@@" and "@@VHOST-BLK-END <nonce> rc=N@@";
# 4. on a kernel with kmemleak, reports the leaks since the set-up (after
#    the command and again after rmmod);
# 5. rmmod vhost_blk; powers off.
# Results go to the kernel log, so to the console (ttyS0), as
# "@@VHOST-BLK <nonce> key=value ... uptime=S@@"; the last one is "done".

set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C TERM=dumb
umask 022

VM_NONCE=unknown

log()
{
	echo "vm-init: $*"
}

# Results go through /dev/kmsg: a printk record is never torn by other
# console output.
mark()
{
	local up

	read -r up _ </proc/uptime
	echo "@@VHOST-BLK $VM_NONCE $* uptime=$up@@" >/dev/kmsg ||
		echo "@@VHOST-BLK $VM_NONCE $* uptime=$up@@"
}

power_off()
{
	sync
	busybox poweroff -f 2>/dev/null
	echo o >/proc/sysrq-trigger
	sleep 60
}

# wait_for PATH...: up to 5 s for each path to appear.
wait_for()
{
	local p i

	for p in "$@"; do
		for ((i = 0; i < 50; i++)); do
			[ -e "$p" ] && break
			sleep 0.1
		done
		[ -e "$p" ] || return 1
	done
}

# shellcheck source=/dev/null
if ! . "${VHOST_BLK_JOB:-/nonexistent}"; then
	log "cannot read the job file '${VHOST_BLK_JOB:-}'"
	power_off
fi
: "${VM_REPO:?}" "${VM_CMD:?}" "${VM_SETUP:=1}" "${VM_MODULE:=}" "${VM_MODROOT:=}"
: "${VM_CMD_TIMEOUT:=1200}" "${VM_OUT:=/dev/ttyS1}"
[ -n "${VM_KEEP+x}" ] || VM_KEEP=()
[ -n "${VM_ENV+x}" ] || VM_ENV=()

mark "init"

# A kernel that already warned, oopsed or reported a memory error before
# anything of ours ran (emulated CPUs under TCG occasionally trip early in
# boot) is not worth testing on: a KASAN report, for one, turns lockdep
# off. Stop here; tests/run.sh boots again.
read -r taint </proc/sys/kernel/tainted
# TAINT_BAD_PAGE | TAINT_DIE | TAINT_WARN | TAINT_SOFTLOCKUP
if (( ${taint:-0} & ((1 << 5) | (1 << 7) | (1 << 9) | (1 << 14)) )); then
	log "the kernel is tainted ($taint) before the set-up: not testing on it"
	mark "boot-tainted=$taint"
	power_off
fi

# Mounts. The initramfs moved /dev, /proc and /sys here already.
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=755 tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null

# Host directories under a path that gets a tmpfs stay visible: bind them
# aside, mount the tmpfs, recreate the path and move the bind back.
kept=()
n=0
for p in "${VM_KEEP[@]}"; do
	for t in /root /tmp /var/tmp; do
		case $p in
		"$t" | "$t"/*)
			mkdir -p "/run/.keep/$n"
			mount --bind "$p" "/run/.keep/$n" && kept+=("$n:$p")
			n=$((n + 1))
			;;
		esac
	done
done
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
mount -t tmpfs -o mode=700 tmpfs /root
for k in "${kept[@]}"; do
	mkdir -p "${k#*:}"
	mount --move "/run/.keep/${k%%:*}" "${k#*:}"
done
hostname vhost-blk-vm 2>/dev/null

setup()
{
	[ "$VM_SETUP" = 1 ] || return 0
	modprobe -d "$VM_MODROOT" configfs || return 1
	mountpoint -q /sys/kernel/config ||
		mount -t configfs configfs /sys/kernel/config || return 1
	modprobe -d "$VM_MODROOT" brd rd_nr=2 rd_size=65536 || return 1
	modprobe -d "$VM_MODROOT" null_blk nr_devices=1 memory_backed=1 gb=1 || return 1
	wait_for /dev/ram0 /dev/ram1 /dev/nullb0 || { log "block devices missing"; return 1; }
	[ -n "$VM_MODULE" ] || return 0
	insmod "$VM_MODULE" || { log "insmod $VM_MODULE failed"; return 1; }
	wait_for /dev/vhost-blk || { log "/dev/vhost-blk missing"; return 1; }
}

# kmemleak_check WHEN: on a kernel with kmemleak, scan (objects younger
# than 5 s are never reported, hence the wait) and print every leak found
# since the "clear" before the set-up to the console, where
# tests/vm/run.sh sees the "kmemleak" lines; mark how many there were.
KMEMLEAK=/sys/kernel/debug/kmemleak
kmemleak_check()
{
	local n

	[ -w "$KMEMLEAK" ] || return 0
	sleep 6
	echo scan >"$KMEMLEAK"
	echo scan >"$KMEMLEAK"
	n=$(grep -c '^unreferenced object' "$KMEMLEAK")
	if [ "$n" -gt 0 ]; then
		log "kmemleak: $n leaks $1:"
		head -n 120 "$KMEMLEAK" | sed 's/^/kmemleak| /'
		# reported once: the next scan shows only new ones
		echo clear >"$KMEMLEAK"
	fi
	mark "kmemleak=$n when=$1"
}

# Whatever the boot leaked is not ours.
[ -w "$KMEMLEAK" ] && echo clear >"$KMEMLEAK"

if setup; then
	mark "setup=ok"
	SETUP_OK=1
else
	mark "setup=fail"
	SETUP_OK=0
fi

# The command. Its output goes to its own serial line, so kernel messages
# cannot interleave with it.
rc=125
if [ "$SETUP_OK" = 1 ]; then
	mark "cmd=start"
	{
		echo "@@VHOST-BLK-BEGIN $VM_NONCE@@"
		(
			cd "$VM_REPO" || exit 125
			for e in "${VM_ENV[@]}"; do
				export "${e?}"
			done
			exec timeout -k 10 "$VM_CMD_TIMEOUT" bash -c "$VM_CMD" </dev/null
		)
		rc=$?
		echo "@@VHOST-BLK-END $VM_NONCE rc=$rc@@"
	} >"$VM_OUT" 2>&1
	[ "$rc" -eq 124 ] && log "command timed out after ${VM_CMD_TIMEOUT}s"
	mark "cmd=end rc=$rc"
fi

[ "$SETUP_OK" = 1 ] && kmemleak_check "after-command"

# A reference the tests leaked keeps the module busy. Give deferred
# releases a few seconds; a leak does not go away.
if [ -n "$VM_MODULE" ] && [ "$SETUP_OK" = 1 ]; then
	if [ ! -d /sys/module/vhost_blk ]; then
		mark "rmmod=absent"
	else
		ok=0
		for ((i = 0; i < 20; i++)); do
			if rmmod vhost_blk 2>/dev/null; then
				ok=1
				break
			fi
			sleep 0.5
		done
		if [ "$ok" = 1 ]; then
			mark "rmmod=ok"
		else
			refcnt=$(cat /sys/module/vhost_blk/refcnt 2>/dev/null)
			rmmod vhost_blk
			mark "rmmod=fail refcnt=${refcnt:-?}"
		fi
	fi
fi

[ -n "$VM_MODULE" ] && [ "$SETUP_OK" = 1 ] && kmemleak_check "after-rmmod"

mark "done"
power_off
