#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the KUnit suites of tests/kunit/ (vhost_blk_mem, vhost_blk_vring)
# against this tree's drivers/vhost-blk/mem.c, pin.c, vring.c, decode.c
# and stats.c, in a User Mode Linux kernel built from Debian's
# linux-source-6.12 with tools/testing/kunit/kunit.py run --arch=um.
#
# Usage: tests/kunit/run.sh [--log-dir DIR] [--jobs N]
#   --log-dir DIR  where kunit.log (kunit.py output) and ktap.log (the raw
#                  kernel output) go; default <repo>/build/kunit
#   --jobs N       make -j for the kernel build; default: nproc
#
# Output on stdout is TAP: one line per KUnit case, numbered from 1,
#   ok N - kunit: <suite>.<case>
#   ok N - kunit: <suite>.<case> # SKIP <reason>
#   not ok N - kunit: <suite>.<case>
# the last followed by the failed expectations as "#   ..." lines; a
# parameterised case is one line (its failed parameters are listed under
# it). After the cases, one more result:
#   ok N - kunit: kernel log clean while the suites ran
# (no WARNING, BUG, KASAN, lockdep or RCU splat once the tests started).
# Set-up or build failures, a kernel that crashed and cases or suites that
# never reported are "not ok" lines of their own ("kunit: ..."). Then a
# plan "1..N" and "# kunit: P passed, F failed, S skipped". Every other
# line begins with "#". Exit status 0 if no result is "not ok" and at least
# one case ran.
#
# Cache (VHOST_BLK_CACHE, default ~/.cache/vhost-blk), keyed by the kernel
# version, rebuilt from nothing when missing:
#   dl/linux-source-6.12_*.deb   apt-get download'ed unless present
#   kunit/linux-<ver>/           unpacked source tree; drivers/Kconfig and
#                                drivers/Makefile carry one hook line each,
#                                drivers/vhost_blk_kunit links to overlay/
#   kunit/overlay/               Kconfig, Kbuild and the test sources from
#                                tests/kunit/, mem.c, vring.c and headers
#                                from drivers/ and include/, copied from
#                                this tree on every run (only what changed,
#                                so make rebuilds exactly that)
#   kunit/build-<ver>/           kunit.py --build_dir (the UML kernel)
# Runs from different trees take turns (kunit/.lock).
#
# Environment: KUNIT_TIMEOUT (seconds the kernel may run, default 300).

set -uo pipefail

# shellcheck source=../lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

LOGS=$VB_BUILD/kunit
JOBS=$(nproc 2>/dev/null || echo 2)
while [ $# -gt 0 ]; do
	case $1 in
	--log-dir)
		[ $# -ge 2 ] || vb_die "--log-dir needs a directory"
		LOGS=$2
		shift
		;;
	--jobs)
		[ $# -ge 2 ] || vb_die "--jobs needs a number"
		JOBS=$2
		shift
		;;
	-h | --help)
		vb_usage "$0"
		exit 0
		;;
	*) vb_die "unknown option: $1" ;;
	esac
	shift
done

# The suites tests/kunit/ defines: each must report.
SUITES=(vhost_blk_mem vhost_blk_vring)
# Build dependencies of kunit.py and UML.
KUNIT_PACKAGES=(gcc make libc6-dev bc flex bison libelf-dev python3 xz-utils perl)
KDIR_NAME=vhost_blk_kunit

KCACHE=$VB_CACHE/kunit
DL=$VB_CACHE/dl
T0=$SECONDS

mkdir -p "$LOGS" "$KCACHE" "$DL" || exit 1
LOGS=$(cd "$LOGS" && pwd)
SETUP_LOG=$LOGS/setup.log
KUNIT_LOG=$LOGS/kunit.log
KTAP_LOG=$LOGS/ktap.log
rm -f "$SETUP_LOG" "$KUNIT_LOG" "$KTAP_LOG"

echo "TAP version 13"

# setup_fail WHAT: report a set-up failure as the only result and stop.
setup_fail()
{
	echo "not ok 1 - kunit: $1"
	[ -s "$SETUP_LOG" ] && tail -n 20 "$SETUP_LOG" | sed 's/^/#   /'
	echo "1..1"
	echo "# kunit: 0 passed, 1 failed, 0 skipped"
	exit 1
}

exec 7>"$KCACHE/.lock"
if ! flock -n 7; then
	echo "# kunit: waiting for another run (lock $KCACHE/.lock)"
	flock 7
fi

# A subshell: vb_ensure_packages exits (vb_die) when it cannot install.
(vb_ensure_packages "${KUNIT_PACKAGES[@]}") >>"$SETUP_LOG" 2>&1 ||
	setup_fail "setup: packages ${KUNIT_PACKAGES[*]}"

# --- the kernel source --------------------------------------------------

# Newest linux-source-6.12 .deb in the download cache.
cached_deb()
{
	local f

	for f in "$DL"/linux-source-6.12_*.deb; do
		[ -s "$f" ] && echo "$f"
	done | sort -V | tail -n 1
}

deb=$(cached_deb)
if [ -z "$deb" ]; then
	echo "# kunit: downloading linux-source-6.12 (~150 MB)"
	if ! (cd "$DL" && apt-get download linux-source-6.12) >>"$SETUP_LOG" 2>&1; then
		vb_apt_update >>"$SETUP_LOG" 2>&1
		(cd "$DL" && apt-get download linux-source-6.12) >>"$SETUP_LOG" 2>&1
	fi
	deb=$(cached_deb)
	[ -n "$deb" ] || setup_fail "setup: apt-get download linux-source-6.12"
fi
deb_ver=$(dpkg-deb -f "$deb" Version 2>>"$SETUP_LOG") ||
	setup_fail "setup: read the version of $deb"
KVERSION=${deb_ver%%-*}				# 6.12.117-1~deb12u1 -> 6.12.117
SRC=$KCACHE/linux-$KVERSION
BUILD=$KCACHE/build-$KVERSION
OVERLAY=$KCACHE/overlay

if [ ! -e "$SRC/.vhost-blk-complete" ]; then
	echo "# kunit: unpacking $(basename "$deb") into $SRC"
	tmp=$(mktemp -d "$KCACHE/.src.XXXXXX") || setup_fail "setup: mktemp"
	tarball=$(dpkg-deb -c "$deb" |
		  awk '$6 ~ /linux-source-.*\.tar\.xz$/ { print $6; exit }')
	if [ -z "$tarball" ] ||
	   ! dpkg-deb --fsys-tarfile "$deb" | tar -xOf - "$tarball" |
	     tar -xJf - -C "$tmp" 2>>"$SETUP_LOG"; then
		rm -rf "$tmp"
		setup_fail "setup: unpack $(basename "$deb")"
	fi
	top=$(basename "$tarball" .tar.xz)
	rm -rf "$SRC" "$BUILD"
	if ! mv "$tmp/$top" "$SRC"; then
		rm -rf "$tmp"
		setup_fail "setup: move the source tree to $SRC"
	fi
	rm -rf "$tmp"
	touch "$SRC/.vhost-blk-complete"
fi

# --- the hook and the overlay --------------------------------------------

# sync SRC DST: copy SRC to DST unless DST already has the same bytes.
sync_file()
{
	mkdir -p "$(dirname "$2")" &&
	{ cmp -s "$1" "$2" || cp "$1" "$2"; }
}

hook()
{
	local f

	f=$SRC/drivers/Kconfig
	grep -q "drivers/$KDIR_NAME/Kconfig" "$f" ||
		sed -i '$!b; /^endmenu/i source "drivers/'"$KDIR_NAME"'/Kconfig"\n' "$f" ||
		return 1
	grep -q "drivers/$KDIR_NAME/Kconfig" "$f" || return 1

	f=$SRC/drivers/Makefile
	# shellcheck disable=SC2016 # a make variable, not a shell one
	grep -q "+= $KDIR_NAME/" "$f" ||
		printf 'obj-$(CONFIG_VHOST_BLK_KUNIT_TEST)\t+= %s/\n' "$KDIR_NAME" >>"$f" ||
		return 1

	[ "$(readlink "$SRC/drivers/$KDIR_NAME")" = "$OVERLAY" ] ||
		ln -sfn "$OVERLAY" "$SRC/drivers/$KDIR_NAME"
}

overlay()
{
	local f keep=()

	mkdir -p "$OVERLAY" || return 1
	for f in Kconfig Kbuild mem_kunit.c vring_kunit.c; do
		sync_file "$VB_REPO/tests/kunit/$f" "$OVERLAY/$f" || return 1
		keep+=("$f")
	done
	for f in mem.c pin.c vring.c log.c inflight.c decode.c stats.c direct.c \
		 decode.h vhost_blk.h vhost_blk_trace.h compat.h; do
		sync_file "$VB_REPO/drivers/vhost-blk/$f" "$OVERLAY/$f" || return 1
		keep+=("$f")
	done
	sync_file "$VB_REPO/include/uapi/linux/vhost_blk.h" \
		"$OVERLAY/include/uapi/linux/vhost_blk.h" || return 1
	# A source file that left the list must not be picked up again.
	for f in "$OVERLAY"/*.[ch]; do
		[ -e "$f" ] || continue
		[[ " ${keep[*]} " == *" ${f##*/} "* ]] || rm -f "$f"
	done
}

{ hook && overlay; } >>"$SETUP_LOG" 2>&1 ||
	setup_fail "setup: hook drivers/$KDIR_NAME into $SRC"

# --- build and run --------------------------------------------------------

echo "# kunit: linux $KVERSION (UML) in $BUILD, logs in $LOGS"
rm -f "$BUILD/test.log"
T_RUN=$SECONDS
rc=0
python3 "$SRC/tools/testing/kunit/kunit.py" run --arch=um \
	--build_dir="$BUILD" --kunitconfig="$VB_REPO/tests/kunit/.kunitconfig" \
	--jobs="$JOBS" --timeout="${KUNIT_TIMEOUT:-300}" 'vhost_blk_*' \
	</dev/null >"$KUNIT_LOG" 2>&1 || rc=$?
echo "# kunit: kunit.py run took $((SECONDS - T_RUN))s (exit $rc)"

if [ ! -s "$BUILD/test.log" ]; then
	echo "not ok 1 - kunit: UML kernel builds and boots (kunit.py run)"
	grep -E 'error:|Error|ERROR' "$KUNIT_LOG" | head -n 30 | sed 's/^/#   /'
	tail -n 10 "$KUNIT_LOG" | sed 's/^/#   /'
	echo "1..1"
	echo "# kunit: 0 passed, 1 failed, 0 skipped"
	exit 1
fi
cp "$BUILD/test.log" "$KTAP_LOG"

# KTAP (depth = indent / 4): suites at depth 0, cases at 1, parameters
# at 2. Lines between two case results belong to the second.
awk -v suites="${SUITES[*]}" '
function out(status, desc) {
	n++
	print status " " n " - kunit: " desc
}
function flush_diag(   i) {
	for (i = 1; i <= ndiag && i <= 40; i++)
		print "#   " diag[i]
	if (ndiag > 40)
		print "#   ... " ndiag - 40 " more lines in ktap.log"
}
function end_suite(   i) {
	if (suite != "" && planned > seen) {
		out_fail(suite ": " planned - seen " of " planned \
			 " cases did not report (kernel crashed?)")
		for (i = NR - 19; i <= NR; i++)
			if (i > 0)
				print "#   " tail[i % 20]
	}
	suite = ""
}
function out_fail(desc) {
	out("not ok", desc)
	failed++
}
BEGIN {
	n = 0; passed = 0; failed = 0; skipped = 0; suite = ""; ndiag = 0
	ncase = 0
	started = 0; bad = 0; nbad = 0
	kernel_bad = "(WARNING:|BUG:|Oops|KASAN|UBSAN|Kernel panic|" \
		     "suspicious RCU usage|possible (recursive|circular) locking|" \
		     "inconsistent lock state|hung_task|soft lockup)"
	split(suites, want, " ")
}
{
	line = $0
	sub(/\r$/, "", line)
	tail[NR % 20] = line
	sub(/^\[[ 0-9.]+\] ?/, "", line)
	if (line ~ /^KTAP version/)
		started = 1
	if (started && !bad && line ~ kernel_bad)
		bad = NR
	if (bad && NR < bad + 30)
		badlines[++nbad] = line
	match(line, /^ */)
	depth = int(RLENGTH / 4)
	body = substr(line, RLENGTH + 1)
}
depth == 1 && body ~ /^# Subtest: / {
	end_suite()
	suite = substr(body, 12)
	ran[suite] = 1
	planned = 0; seen = 0; ndiag = 0
	next
}
suite == "" { next }
depth == 1 && body ~ /^1\.\.[0-9]+/ { planned = substr(body, 4) + 0; ndiag = 0; next }
depth == 1 && body ~ /^(not )?ok [0-9]+ / {
	seen++
	ncase++
	ok = body !~ /^not /
	name = body
	sub(/^(not )?ok [0-9]+ /, "", name)
	directive = ""
	if (match(name, / # .*$/)) {
		directive = substr(name, RSTART)
		name = substr(name, 1, RSTART - 1)
	}
	if (ok && directive ~ /^ # [Ss][Kk][Ii][Pp]/) {
		out("ok", suite "." name directive)
		skipped++
	} else if (ok) {
		out("ok", suite "." name)
		passed++
	} else {
		out_fail(suite "." name)
		flush_diag()
	}
	ndiag = 0
	next
}
depth == 0 && body ~ /^(not )?ok [0-9]+ / { end_suite(); next }
depth >= 1 {
	if (body ~ /^KTAP version/ || body ~ /^# Subtest:/ ||
	    body ~ /^1\.\.[0-9]+/ || body ~ /^ok [0-9]+ /)
		next
	diag[++ndiag] = (depth >= 2 ? "  " : "") body
}
END {
	end_suite()
	for (i = 1; i in want; i++)
		if (!(want[i] in ran))
			out_fail("suite " want[i] " did not run")
	if (!bad) {
		out("ok", "kernel log clean while the suites ran")
		passed++
	} else {
		out_fail("kernel log clean while the suites ran")
		for (i = 1; i <= nbad; i++)
			print "#   " badlines[i]
	}
	print "1.." n
	print "# kunit: " passed " passed, " failed " failed, " skipped " skipped"
	exit (failed == 0 && ncase > 0) ? 0 : 1
}' "$KTAP_LOG"
rc=$?
echo "# kunit: $((SECONDS - T0))s in all"
exit $rc
