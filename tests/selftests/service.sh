#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vhost-user-blk-bridge as a service, as root where vhost_blk.ko is loaded
# (run_guest.sh runs it as "service" in the test VM, where no systemd
# runs): what systemd would do is done by hand here. The socket's mode
# and group are applied whatever the umask; a user in that group gets
# verified I/O through it and one outside does not; a live socket is not
# taken over, a stale one is; a listening socket passed by socket
# activation (LISTEN_FDS, fd 3) or with --fd is served; READY=1 arrives
# on NOTIFY_SOCKET once the socket accepts, STOPPING=1 on SIGTERM; log
# lines carry "<N>" priorities on the journal's stream (JOURNAL_STREAM)
# and the pid and uid of each frontend. kselftest TAP on stdout.

set -u

DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=${VHOST_BLK_REPO:-$(cd "$DIR/../../.." && pwd)}
[ -f "$REPO/tools/vhost-user-blk-bridge.c" ] || REPO=$(cd "$DIR/../.." && pwd)
BRIDGE=${VHOST_BLK_BRIDGE:-$REPO/tools/build/vhost-user-blk-bridge}
TOOL=${VHOST_BLK_CLI:-$REPO/tools/build/vhost-blk}
DISK=${VHOST_BLK_TEST_DEV:-/dev/ram0}
PY=/usr/bin/python3
MEMBER=4242		# uid of a user in the socket's group
OUTSIDER=4244		# uid of a user outside it
GID=4343		# the socket's group
WORK=$(mktemp -d /tmp/vhost-blk-service.XXXXXX) || exit 1
SOCK=$WORK/s/bridge.sock
LOG=$WORK/bridge.log
NUM=0
FAILED=0
PID=

echo "TAP version 13"
for f in /dev/vhost-blk "$BRIDGE" "$TOOL" "$PY" "$DISK"; do
	if [ ! -e "$f" ]; then
		echo "1..0 # SKIP $f not present"
		rm -rf "$WORK"
		exit 4
	fi
done
echo "1..13"

cleanup()
{
	[ -z "$PID" ] || kill -9 "$PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -m 0755 "$WORK/s"
chmod 0755 "$WORK"

# ok RC DESC: a result; on failure the bridge's log and $WORK/out.
ok()
{
	NUM=$((NUM + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $NUM $2"
	else
		FAILED=$((FAILED + 1))
		sed 's/^/# out: /' "$WORK/out" 2>/dev/null
		sed 's/^/# bridge: /' "$LOG" 2>/dev/null
		echo "not ok $NUM $2"
	fi
}

# What a service manager does, in Python: py listen-exec FD PATH CMD...
# runs CMD with a socket listening on PATH as fd FD (with LISTEN_FDS and
# LISTEN_PID set if FD is 3); py notify ADDR SOCK OUT records every
# datagram on ADDR ("@name": abstract) in OUT and, on READY=1, whether
# SOCK accepts a connection at that moment; it ends after STOPPING=1.
cat >"$WORK/manager.py" <<'EOF'
import os, socket, sys

if sys.argv[1] == "listen-exec":
    fd, path, cmd = int(sys.argv[2]), sys.argv[3], sys.argv[4:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(4)
    if s.fileno() != fd:
        os.dup2(s.fileno(), fd)
    os.set_inheritable(fd, True)
    if fd == 3:
        os.environ["LISTEN_FDS"] = "1"
        os.environ["LISTEN_PID"] = str(os.getpid())
    os.execv(cmd[0], cmd)
addr, sock, out = sys.argv[2], sys.argv[3], sys.argv[4]
n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
n.bind("\0" + addr[1:] if addr[0] == "@" else addr)
n.settimeout(60)
with open(out, "w", buffering=1) as f:
    f.write("listening\n")
    while True:
        d = n.recv(4096).decode()
        f.write(d + "\n")
        if "READY=1" in d.split("\n"):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            f.write("connect: %s\n" % ("ok" if c.connect_ex(sock) == 0
                                       else "refused"))
            c.close()
        if "STOPPING=1" in d.split("\n"):
            break
EOF

# wait_for COND...: until COND succeeds, 30 s at most.
wait_for()
{
	local i

	for ((i = 0; i < 300; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# start [ENV=V...] -- ARGS...: the bridge on $DISK with ARGS under umask
# $UMASK (default 022), its stderr in $LOG, in the background ($PID);
# waits for its "serving" line.
start()
{
	local env=()

	while [ "$1" != -- ]; do
		env+=("$1")
		shift
	done
	shift
	: >"$LOG"
	(umask "${UMASK:-022}" &&
		exec env ${env[@]+"${env[@]}"} "$BRIDGE" --backend "$DISK" "$@" \
		>/dev/null 2>>"$LOG") &
	PID=$!
	wait_for grep -q 'serving' "$LOG"
}

# stop: SIGTERM; the bridge's exit status.
stop()
{
	local rc=0

	kill "$PID" 2>/dev/null
	wait "$PID" || rc=$?
	PID=
	return "$rc"
}

# io [setpriv options]: verified I/O over $SOCK, as root or as another user.
io()
{
	if [ $# -eq 0 ]; then
		"$TOOL" io --vhost-user "$SOCK" --count 64 --qd 8 >"$WORK/out" 2>&1
	else
		setpriv "$@" --inh-caps=-all --bounding-set=-all -- \
			"$TOOL" io --vhost-user "$SOCK" --count 64 --qd 8 \
			>"$WORK/out" 2>&1
	fi
}

# --- the socket's mode and group ---------------------------------------------
UMASK=000 start -- --socket "$SOCK" --socket-mode 0660 --socket-group "$GID"
[ "$(stat -c '%a %g' "$SOCK" 2>&1 | tee "$WORK/out")" = "660 $GID" ] &&
	[ "$(ls -A "$WORK/s")" = bridge.sock ]
ok $? "umask 000: --socket-mode 0660 --socket-group $GID give the socket 660, group $GID, nothing else left beside it"

io --reuid="$MEMBER" --regid="$MEMBER" --groups="$GID"
ok $? "a user in group $GID (uid $MEMBER) runs verified I/O through the socket"

io --reuid="$OUTSIDER" --regid="$OUTSIDER" --clear-groups
rc=$?
grep -q 'Permission denied' "$WORK/out"
ok $(( rc == 1 && $? == 0 ? 0 : 1 )) "a user outside it (uid $OUTSIDER) may not connect (EACCES, exit 1)"

grep -q "^vhost-user-blk-bridge: frontend connected (pid [0-9]* uid $MEMBER gid $MEMBER)" "$LOG"
ok $? "without JOURNAL_STREAM the log names the frontend's uid and gid, lines start with the program's name"

"$BRIDGE" --backend "$DISK" --socket "$SOCK" >"$WORK/out" 2>&1
rc=$?
grep -q 'another process listens on it' "$WORK/out" && [ -S "$SOCK" ] && io
ok $(( rc == 1 && $? == 0 ? 0 : 1 )) "a second bridge on a live socket fails (exit 1) and leaves it serving"
stop

UMASK=077 start -- --socket "$SOCK" --socket-mode 0666 --socket-group root
kill -9 "$PID"
wait "$PID" 2>/dev/null
PID=
[ "$(stat -c '%a %g' "$SOCK" 2>&1 | tee "$WORK/out")" = "666 0" ]
ok $? "umask 077: --socket-mode 0666 --socket-group root give 666, group 0"

# --- the log: priorities on the journal's stream, the peer's credentials -------
: >"$LOG"
start JOURNAL_STREAM="$(stat -c '%d:%i' "$LOG")" -- --socket "$SOCK"
"$TOOL" io --vhost-user "$SOCK" --count 64 --qd 8 >"$WORK/out" 2>&1 &
client=$!
wait "$client"
rc=$?
stop
grep -q "^<6>serving $DISK" "$LOG" &&
	grep -q "^<6>frontend connected (pid $client uid 0 gid 0)$" "$LOG" &&
	grep -q '^<6>exiting' "$LOG" && ! grep -qv '^<[0-7]>' "$LOG"
ok $(( rc == 0 && $? == 0 ? 0 : 1 )) "a stale socket is replaced; on JOURNAL_STREAM every line has a <N> priority, the frontend's pid $client and uid appear"

# --- socket activation, --fd ----------------------------------------------------
rm -f "$SOCK"
: >"$LOG"
"$PY" "$WORK/manager.py" listen-exec 3 "$SOCK" "$BRIDGE" --backend "$DISK" \
	2>"$LOG" &
PID=$!
wait_for grep -q 'serving' "$LOG"
io
rc=$?
stop
grep -q "serving $DISK .* on $SOCK (fd 3)" "$LOG"
ok $(( rc == 0 && $? == 0 ? 0 : 1 )) "socket activation: the socket of LISTEN_FDS=1 (fd 3) is served, verified I/O"
[ -S "$SOCK" ]
ok $? "... and the bridge leaves the socket it did not make in place"

rm -f "$SOCK"
"$PY" "$WORK/manager.py" listen-exec 5 "$SOCK" /usr/bin/env LISTEN_FDS=1 \
	LISTEN_PID=1 "$BRIDGE" --backend "$DISK" >"$WORK/out" 2>&1
rc=$?
grep -q 'no --socket, no --fd and no LISTEN_FDS' "$WORK/out"
ok $(( rc == 2 && $? == 0 ? 0 : 1 )) "LISTEN_FDS for another LISTEN_PID is not taken (exit 2)"

rm -f "$SOCK"
: >"$LOG"
"$PY" "$WORK/manager.py" listen-exec 5 "$SOCK" "$BRIDGE" --backend "$DISK" \
	--fd 5 2>"$LOG" &
PID=$!
wait_for grep -q 'serving' "$LOG"
io
rc=$?
stop
ok $(( rc == 0 && $? == 0 ? 0 : 1 )) "--fd 5: a passed listening socket is served, verified I/O"

# --- sd_notify ------------------------------------------------------------------
for addr in "$WORK/notify" "@vhost-blk-service-$$"; do
	rm -f "$SOCK" "$WORK/notify" "$WORK/notified"
	"$PY" "$WORK/manager.py" notify "$addr" "$SOCK" "$WORK/notified" &
	npid=$!
	wait_for grep -qs listening "$WORK/notified"
	start NOTIFY_SOCKET="$addr" -- --socket "$SOCK"
	wait_for grep -qs '^connect:' "$WORK/notified"
	io
	rc=$?
	stop || rc=1
	wait "$npid" || rc=1
	cp "$WORK/notified" "$WORK/out"
	grep -qx 'READY=1' "$WORK/out" &&
		grep -qx "STATUS=serving $DISK on $SOCK" "$WORK/out" &&
		grep -qx 'connect: ok' "$WORK/out" && grep -qx 'STOPPING=1' "$WORK/out"
	ok $(( rc == 0 && $? == 0 ? 0 : 1 )) "NOTIFY_SOCKET=${addr/$WORK/WORK}: READY=1 once the socket accepts, STOPPING=1 on SIGTERM"
done
[ "$FAILED" -eq 0 ]
