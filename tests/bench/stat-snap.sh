#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# stat-snap.sh FILE WAIT LEN: in the background, WAIT seconds from now
# append "start UPTIME BUSY CTXT" to FILE, LEN seconds later "end UPTIME
# BUSY CTXT"; return at once. UPTIME is /proc/uptime's seconds; BUSY is
# user + nice + system + irq + softirq + steal of /proc/stat's "cpu" line
# (all CPUs) in USER_HZ ticks (`getconf CLK_TCK`), guest time being part
# of user and nice already and iowait idle; CTXT is /proc/stat's count of
# context switches since boot.
#
# tests/bench/run.sh hands it to fio's exec_prerun, which runs just
# before a job's ramp starts, with WAIT the ramp time and LEN a little
# less than the runtime: both snapshots fall into the part of the job
# whose I/O fio counts. POSIX sh: the short-lived shells cost the guest
# little CPU.

snap()
{
	read -r up _ </proc/uptime
	read -r _ u n s _ _ q sq st _ </proc/stat
	while read -r k v _; do
		[ "$k" = ctxt ] && break
	done </proc/stat
	echo "$1 $up $((u + n + s + q + sq + st)) $v" >>"$2"
}

{
	sleep "$2"
	snap start "$1"
	sleep "$3"
	snap end "$1"
} </dev/null >/dev/null 2>&1 &
