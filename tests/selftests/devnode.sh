#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# /dev/vhost-blk under dist/60-vhost-blk.rules, as root where vhost_blk.ko
# is loaded (run_guest.sh runs it as "devnode" in the test VM). The test
# VM runs no udevd, so the rule's KERNEL, GROUP and MODE are read from it
# and applied with chgrp and chmod; without a group kvm in /etc/group one
# is bind-mounted over it for the test. A user (uid 4242, no capabilities)
# in that group must be able to run verified I/O on a disk it may open,
# and must not get a disk it may not open, a device outside the group,
# more workers than its RLIMIT_NPROC or more pinned memory than its
# RLIMIT_MEMLOCK. kselftest TAP on stdout; everything is restored.

set -u

DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=${VHOST_BLK_REPO:-$(cd "$DIR/../../.." && pwd)}
[ -f "$REPO/dist/60-vhost-blk.rules" ] || REPO=$(cd "$DIR/../.." && pwd)
RULE=$REPO/dist/60-vhost-blk.rules
TOOL=$REPO/tools/build/vhost-blk
PIN=$REPO/tests/selftests/build/pin
DISK=${VHOST_BLK_TEST_DEV2:-/dev/ram1}
OTHER=${VHOST_BLK_TEST_DEV:-/dev/ram0}
USER_ID=4242
WORK=$(mktemp -d /tmp/vhost-blk-devnode.XXXXXX) || exit 1
NUM=0
FAILED=0

ok()
{
	NUM=$((NUM + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $NUM $2"
	else
		FAILED=$((FAILED + 1))
		sed 's/^/# /' "$WORK/out" 2>/dev/null
		echo "not ok $NUM $2"
	fi
}

# rule_key KEY: the value of KEY== or KEY= in the rule.
rule_key()
{
	grep -v '^#' "$RULE" | grep -o "$1=\{1,2\}\"[^\"]*\"" | head -n 1 |
		sed 's/.*"\(.*\)"/\1/'
}

NODE=/dev/$(rule_key KERNEL)
GROUP=$(rule_key GROUP)
MODE=$(rule_key MODE)
echo "TAP version 13"
if [ ! -c "$NODE" ] || [ -z "$GROUP" ] || [ -z "$MODE" ]; then
	echo "1..0 # SKIP no $NODE or no GROUP/MODE in $RULE"
	exit 4
fi
echo "1..7"
SAVED_NODE=$(stat -c '%a %g' "$NODE")
SAVED_DISK=$(stat -c '%u' "$DISK")

cleanup()
{
	chmod "${SAVED_NODE% *}" "$NODE"
	chgrp "${SAVED_NODE#* }" "$NODE"
	chown "$SAVED_DISK" "$DISK"
	mountpoint -q /etc/group 2>/dev/null && umount /etc/group
	rm -rf "$WORK"
}
trap cleanup EXIT

if ! getent group "$GROUP" >/dev/null; then
	echo "# no group $GROUP: bind-mounting an /etc/group that has it"
	cp /etc/group "$WORK/group"
	echo "$GROUP:x:4343:" >>"$WORK/group"
	mount --bind "$WORK/group" /etc/group
fi
GID=$(getent group "$GROUP" | cut -d: -f3)
echo "# no udevd here: applying $RULE by hand: $NODE group $GROUP ($GID), mode $MODE"
chgrp "$GROUP" "$NODE" && chmod "$MODE" "$NODE"
chown "$USER_ID" "$DISK"

# as_user [GROUPS] -- CMD...: run CMD as uid USER_ID without capabilities.
as_user()
{
	local groups=$1

	shift 2
	setpriv --reuid="$USER_ID" --regid="$USER_ID" --groups="$groups" \
		--inh-caps=-all --bounding-set=-all -- "$@"
}

stat -c '%a %G' "$NODE" >"$WORK/out"
[ "$(cat "$WORK/out")" = "${MODE#0} $GROUP" ]
ok $? "$NODE is $MODE, group $GROUP, under the rule"

as_user "$GID" -- "$TOOL" io "$DISK" --count 256 --queues 2 --qd 8 \
	>"$WORK/out" 2>&1
ok $? "a member of $GROUP runs verified I/O on $DISK (2 queues)"

as_user "$USER_ID" -- "$TOOL" io "$DISK" --count 16 >"$WORK/out" 2>&1
rc=$?
grep -q "device: Permission denied" "$WORK/out"
ok $(( rc != 0 && $? == 0 ? 0 : 1 )) "a user outside $GROUP cannot open $NODE"

as_user "$GID" -- "$TOOL" io "$OTHER" --count 16 >"$WORK/out" 2>&1
rc=$?
grep -q "$OTHER: Permission denied" "$WORK/out"
ok $(( rc != 0 && $? == 0 ? 0 : 1 )) "a member of $GROUP cannot attach $OTHER it may not open"

# Its only task is the tool: the first worker is one task too many.
as_user "$GID" -- prlimit --nproc=1 "$TOOL" io "$DISK" --count 16 \
	>"$WORK/out" 2>&1
rc=$?
grep -q "Resource temporarily unavailable" "$WORK/out"
ok $(( rc != 0 && $? == 0 ? 0 : 1 )) "a member of $GROUP gets no worker past RLIMIT_NPROC (EAGAIN)"

as_user "$GID" -- prlimit --nproc=3 "$TOOL" io "$DISK" --count 64 \
	--queues 2 >"$WORK/out" 2>&1
ok $? "with RLIMIT_NPROC 3 the same user runs 2 queues"

if [ -x "$PIN" ]; then
	VHOST_BLK_TEST_DEV=$DISK as_user "$GID" -- "$PIN" \
		-t over_rlimit_memlock_enomem >"$WORK/out" 2>&1
	ok $? "a member of $GROUP cannot pin past RLIMIT_MEMLOCK (pin: over_rlimit_memlock_enomem)"
else
	echo "ok $((NUM + 1)) devnode: RLIMIT_MEMLOCK # SKIP $PIN not built"
fi
[ "$FAILED" -eq 0 ]
