#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The tools' errors name their cause and their exit codes are the
# documented ones (2: usage, 1: failure, 0: success). Runs on the host,
# where /dev/vhost-blk is normally absent; the checks that need it absent
# are skipped where it exists.
#
# Usage: tests/lib/cli-errors.sh TOOLS_BUILD_DIR   (exit 1 on any failure)

set -u

T=$1/vhost-blk
B=$1/vhost-user-blk-bridge
FAILED=0
WORK=$(mktemp -d) || exit 1
trap 'rm -rf "$WORK"' EXIT

# expect DESC RC PATTERN CMD...: CMD exits RC and its output has PATTERN.
expect()
{
	local desc=$1 want=$2 pat=$3 out rc

	shift 3
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$want" ] && grep -q -- "$pat" <<<"$out"; then
		echo "ok: $desc"
	else
		echo "FAIL: $desc: exit $rc (want $want), output:"
		sed 's/^/    /' <<<"$out"
		FAILED=$((FAILED + 1))
	fi
}

if [ ! -e /dev/vhost-blk ]; then
	expect "io without the module suggests loading it" 1 "modprobe vhost_blk" \
		"$T" io /dev/null
	expect "info without the module suggests loading it" 1 "modprobe vhost_blk" \
		"$T" info /dev/null
	expect "stat without the module suggests loading it" 1 "modprobe vhost_blk" \
		"$T" stat
else
	echo "skip: /dev/vhost-blk exists here: no missing-module checks"
fi

start=$(date +%s%N)
expect "a missing vhost-user socket fails at once and says so" 1 \
	"no vhost-user backend listens there (--wait SEC" \
	"$T" io --vhost-user "$WORK/none.sock"
ms=$((($(date +%s%N) - start) / 1000000))
if [ "$ms" -lt 2000 ]; then
	echo "ok: ... within $ms ms"
else
	echo "FAIL: a missing socket took $ms ms"
	FAILED=$((FAILED + 1))
fi
start=$(date +%s%N)
expect "--wait 1 waits for the socket, then fails" 1 "no vhost-user backend" \
	"$T" io --vhost-user "$WORK/none.sock" --wait 1
ms=$((($(date +%s%N) - start) / 1000000))
if [ "$ms" -ge 1000 ] && [ "$ms" -lt 5000 ]; then
	echo "ok: ... after $ms ms"
else
	echo "FAIL: --wait 1 took $ms ms"
	FAILED=$((FAILED + 1))
fi

for n in -1 " -1" $'\n-1' 18446744073709551616 17179869184G x 1q; do
	expect "io --count '$n' is refused" 2 "bad number" "$T" io /dev/null --count "$n"
done
expect "stat --count -1 is refused" 2 "takes a number" "$T" stat --interval 1 --count -1
expect "stat --pid 0 is refused" 2 "takes a number" "$T" stat --pid 0
expect "io --wait without --vhost-user is a usage error" 2 "usage" \
	"$T" io /dev/null --wait 3
expect "an unknown subcommand is a usage error" 2 "usage" "$T" frobnicate
for sub in io info stat; do
	expect "vhost-blk $sub --help" 0 "usage: vhost-blk $sub" "$T" "$sub" --help
done
expect "vhost-user-blk-bridge --help" 0 "usage" "$B" --help

# The bridge's listening socket: every mistake is a usage error (2) found
# before anything is opened.
for m in 999 0800 -1 " -1" " 600" +600 x ""; do
	expect "bridge --socket-mode '$m' is refused" 2 "socket-mode takes" \
		"$B" --backend /dev/null --socket "$WORK/b.sock" --socket-mode "$m"
done
for g in no-such-group-vb " -1" -1; do
	expect "bridge --socket-group '$g' is refused" 2 "no such group" \
		"$B" --backend /dev/null --socket "$WORK/b.sock" --socket-group "$g"
done
for n in -1 " 3" x 2147483648; do
	expect "bridge --fd '$n' is refused" 2 "takes a file descriptor" \
		"$B" --backend /dev/null --fd "$n"
done
# strtoul() would wrap a minus sign into range: -4294967295 is 1 queue.
for n in 0 17 -4294967295 " -1" 1x ""; do
	expect "bridge --queues '$n' is refused" 2 "queues takes 1..16" \
		"$B" --backend /dev/null --fd 0 --queues "$n"
done
for n in 10001 -18446744073709551615 " -1" 5x ""; do
	expect "bridge --busyloop-us '$n' is refused" 2 "busyloop-us takes 0..10000" \
		"$B" --backend /dev/null --fd 0 --busyloop-us "$n"
done
expect "bridge --fd naming no listening socket is refused" 2 \
	"fd 0 is not a listening unix stream socket" \
	"$B" --backend /dev/null --fd 0 </dev/null
expect "bridge --socket with --fd is refused" 2 "exclude each other" \
	"$B" --backend /dev/null --socket "$WORK/b.sock" --fd 0
expect "bridge --socket-mode without --socket is refused" 2 "apply to --socket" \
	"$B" --backend /dev/null --fd 0 --socket-mode 0600
expect "bridge without --socket, --fd or LISTEN_FDS is refused" 2 \
	"no --socket, no --fd and no LISTEN_FDS" "$B" --backend /dev/null
expect "bridge with LISTEN_FDS=2 is refused" 2 "one socket expected" \
	sh -c 'LISTEN_PID=$$ LISTEN_FDS=2 exec "$0" --backend /dev/null' "$B"
expect "bridge with LISTEN_FDS=1 and no fd 3 is refused" 2 \
	"fd 3 is not a listening unix stream socket" \
	sh -c 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" --backend /dev/null 3<&-' "$B"
[ -z "$(ls -A "$WORK")" ] || { echo "FAIL: files left in $WORK: $(ls -A "$WORK")"; FAILED=$((FAILED + 1)); }

echo "$FAILED failed"
[ "$FAILED" -eq 0 ]
