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

echo "$FAILED failed"
[ "$FAILED" -eq 0 ]
