#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Every test of the project, as one TAP stream ending in
# "N passed, N failed, N skipped" (what `make test` and .ci/run run).
#
#  1. installs missing Debian packages, caches the Debian 6.12 kernel;
#  2. host checks: module build at W=1 without warnings (6.12 and 6.1
#     headers), sparse, checkpatch --strict, codespell, tools, selftests
#     and fuzzers build, tools self-check, tool errors and exit codes
#     (tests/lib/cli-errors.sh), make install, make -C tools
#     install and make dkms-install (twice) into private trees, the
#     decoder fuzzer (libFuzzer over decode.c in userspace, with its
#     coverage), KUnit in UML;
#  3. builds (once, then cached) the debug kernel of tests/vm/debug-kernel.sh
#     (KASAN, lockdep, kmemleak, debug objects, hung task and lockup
#     detection, fault injection) and the module against it;
#  4. one VM per kernel, stock, debug, then Debian's 6.1 (tests/vm/run.sh;
#     on 6.1 the workers are kthreads, not vhost_tasks), that loads
#     brd, null_blk and the module and runs tests/selftests/run_guest.sh
#     and tests/fuzz/run_guest.sh, and on the stock kernel then
#     tests/selftests/net.sh (NVMe/TCP and NBD backends on loopback, and
#     their failures) and tests/guest/run_guest.sh (a Linux guest
#     booted by QEMU on the bridge, with the initramfs
#     tests/guest/initramfs.sh builds and caches on the host); their top-level "ok"/"not ok" lines are
#     renumbered into this stream, followed by the VM checks: setup, exit
#     status, rmmod vhost_blk, kmemleak (debug), kernel console clean, end
#     marker reached.
#
# Logs go to <repo>/build/test/. Exit status is non-zero if any test failed
# or none ran. VM_TIMEOUT (seconds, default 2700) bounds each VM;
# VHOST_BLK_DEBUG_KERNEL=0 skips the debug kernel;
# VHOST_BLK_GUEST_CMD replaces the guest command (e.g. to run one binary:
# "tests/selftests/run_guest.sh data").

set -uo pipefail

# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/tap.sh"

cd "$VB_REPO" || exit 1
mkdir -p "$VB_BUILD"
# One run at a time per tree: they share build/test and build/module.
exec 8>"$VB_BUILD/.test.lock"
if ! flock -n 8; then
	echo "# waiting for another tests/run.sh in this tree"
	flock 8
fi
LOGS=$VB_BUILD/test
rm -rf "$LOGS"
mkdir -p "$LOGS"

say()
{
	echo "# $*"
}

# failure_summary: the failed results again, with the guests' FAIL
# diagnostics, so that the end of the output says what went wrong.
failure_summary()
{
	local f

	[ "$TAP_FAILED" -gt 0 ] || return 0
	say "failed:"
	for f in "${TAP_FAIL_LIST[@]}"; do
		say "  $f"
	done
	for f in "$LOGS"/vm-*/guest-output.log; do
		[ -f "$f" ] || continue
		grep -aE '^#.*(\<FAIL\>|FAILED:)' "$f" | head -n 10 |
			sed "s|^|# $(basename "$(dirname "$f")"): |"
	done
}

finish()
{
	failure_summary
	tap_plan
	say "logs: $LOGS ($(vb_elapsed "$T0")s in all)"
	echo "$TAP_PASSED passed, $TAP_FAILED failed, $TAP_SKIPPED skipped"
	[ "$TAP_FAILED" -eq 0 ] && [ $((TAP_PASSED + TAP_FAILED)) -gt 0 ]
	exit
}

T0=$SECONDS
echo "TAP version 13"

# --- set-up -----------------------------------------------------------------
say "checking Debian packages"
if vb_ensure_packages >"$LOGS/packages.log" 2>&1; then
	tap_ok "setup: Debian packages installed"
else
	tap_not_ok "setup: Debian packages installed"
	tap_diag "$LOGS/packages.log"
	finish
fi

say "fetching/checking the Debian kernel"
if vb_ensure_kernel 2>"$LOGS/kernel.log"; then
	tap_ok "setup: Debian kernel $KVER cached"
else
	tap_not_ok "setup: Debian kernel cached"
	tap_diag "$LOGS/kernel.log"
	finish
fi
say "kernel $KREL, KDIR=$KDIR"

# --- host checks --------------------------------------------------------------
MOD_OUT=$VB_BUILD/module
say "building the module at W=1 in $MOD_OUT"
rc=0
vb_build_module "$MOD_OUT" W=1 >"$LOGS/module.log" || rc=$?
MODULE_OK=0
if [ "$rc" -ne 0 ]; then
	tap_not_ok "host: module builds (make KDIR=... W=1)"
	grep -E 'error|warning' "$LOGS/module.log" | head -n 30 | sed 's/^/#   /'
	tap_diag "$LOGS/module.log" 10
elif grep -qiE 'warning:' "$LOGS/module.log"; then
	MODULE_OK=1
	tap_not_ok "host: module builds at W=1 without warnings"
	grep -iE -A3 'warning:' "$LOGS/module.log" | head -n 40 | sed 's/^/#   /'
else
	MODULE_OK=1
	tap_ok "host: module builds at W=1 without warnings"
fi

say "building the module against the Debian 6.1 headers at W=1"
rc=0
MOD61=
KDIR61=$(tests/vm/headers-6.1.sh --image 2>"$LOGS/headers-6.1.log") || rc=$?
if [ "$rc" -ne 0 ]; then
	tap_not_ok "host: module builds against Debian 6.1 headers (headers not fetched)"
	tap_diag "$LOGS/headers-6.1.log"
else
	KDIR=$KDIR61 vb_build_module "$VB_BUILD/module-6.1" W=1 \
		>"$LOGS/module-6.1.log" || rc=$?
	if [ "$rc" -eq 0 ] && ! grep -qiE 'warning:' "$LOGS/module-6.1.log"; then
		MOD61=$VB_BUILD/module-6.1/vhost_blk.ko
		tap_ok "host: module builds against Debian 6.1 headers at W=1 without warnings"
	else
		tap_not_ok "host: module builds against Debian 6.1 headers at W=1 without warnings"
		grep -iE -A3 'error|warning:' "$LOGS/module-6.1.log" | head -n 40 | sed 's/^/#   /'
	fi
fi

if [ "$MODULE_OK" -eq 1 ]; then
	say "sparse"
	rc=0
	make -C "$MOD_OUT" --no-print-directory KDIR="$KDIR" check \
		>"$LOGS/sparse.log" 2>&1 || rc=$?
	# Only our files count; kernel headers have their own sparse noise.
	grep -E ': (warning|error):' "$LOGS/sparse.log" |
		grep -E 'drivers/vhost-blk/|vhost_blk\.h:' >"$LOGS/sparse-ours.log"
	if [ "$rc" -ne 0 ]; then
		tap_not_ok "host: sparse (make check, C=2) clean"
		tap_diag "$LOGS/sparse.log"
	elif [ -s "$LOGS/sparse-ours.log" ]; then
		tap_not_ok "host: sparse (make check, C=2) clean"
		tap_diag "$LOGS/sparse-ours.log" 40
	else
		tap_ok "host: sparse (make check, C=2) clean"
	fi
else
	tap_not_ok "host: sparse (make check, C=2) clean (module does not build)"
fi

say "checkpatch --strict, kernel-doc"
rc=0
make --no-print-directory style CHECKPATCH="$CHECKPATCH" KDIR="$KDIR" \
	>"$LOGS/checkpatch.log" 2>&1 || rc=$?
if [ "$rc" -eq 0 ]; then
	tap_ok "host: checkpatch --strict and kernel-doc of the ABI header clean"
else
	tap_not_ok "host: checkpatch --strict and kernel-doc of the ABI header clean"
	grep -E -A4 '^(ERROR|WARNING|CHECK):|: warning:' "$LOGS/checkpatch.log" | head -n 60 | sed 's/^/#   /'
	tap_diag "$LOGS/checkpatch.log" 5
fi

say "codespell"
spell_dirs=()
for d in drivers include tools Documentation; do
	[ -e "$d" ] && spell_dirs+=("$d")
done
rc=0
codespell --skip='*.o,*.ko,*.a,*.cmd,*.mod,*.mod.c,build' \
	--ignore-words="$VB_REPO/tests/lib/codespell-ignore" "${spell_dirs[@]}" \
	>"$LOGS/codespell.log" 2>&1 || rc=$?
tap_check "host: codespell clean (${spell_dirs[*]})" "$rc" "$LOGS/codespell.log"

say "tools"
TOOLS_OK=0
if [ -f tools/Makefile ]; then
	rc=0
	make -C tools --no-print-directory >"$LOGS/tools.log" 2>&1 || rc=$?
	tap_check "host: tools build (make -C tools)" "$rc" "$LOGS/tools.log"
	[ "$rc" -ne 0 ] || TOOLS_OK=1
	if grep -q '^check:' tools/Makefile; then
		if [ "$TOOLS_OK" -eq 1 ]; then
			rc=0
			make -C tools --no-print-directory check >"$LOGS/tools-check.log" 2>&1 || rc=$?
			tap_check "host: tools self-check (make -C tools check)" "$rc" "$LOGS/tools-check.log"
		else
			tap_not_ok "host: tools self-check (tools do not build)"
		fi
	fi
	if [ "$TOOLS_OK" -eq 1 ]; then
		rc=0
		bash tests/lib/cli-errors.sh tools/build >"$LOGS/cli-errors.log" 2>&1 || rc=$?
		tap_check "host: tool errors name their cause, exit codes as documented ($(grep -c '^ok' "$LOGS/cli-errors.log") checks)" \
			"$rc" "$LOGS/cli-errors.log"
	fi
else
	tap_not_ok "host: tools build (tools/Makefile missing)"
fi
# The fio engine the guest's bench smoke uses (fetches fio's source once).
if [ -f tools/fio/Makefile ]; then
	rc=0
	make -C tools/fio --no-print-directory >"$LOGS/fio-engine.log" 2>&1 || rc=$?
	tap_check "host: fio engine build (make -C tools/fio)" "$rc" "$LOGS/fio-engine.log"
fi

say "selftests"
if [ -f tests/selftests/Makefile ]; then
	rc=0
	make -C tests/selftests --no-print-directory KSFT_DIR="$KSFT_DIR" \
		>"$LOGS/selftests-build.log" 2>&1 || rc=$?
	tap_check "host: selftests build (make -C tests/selftests)" "$rc" "$LOGS/selftests-build.log"
else
	tap_not_ok "host: selftests build (tests/selftests/Makefile missing)"
fi

# --- installing ---------------------------------------------------------------
# make install, make -C tools install and make dkms-install into private
# trees under $INST (DKMS with its own --dkmstree, --sourcetree and
# --installtree, so the host's /usr/src, /var/lib/dkms and /lib/modules
# are not touched).
say "install"
T_INST=$SECONDS
INST=$VB_BUILD/install
rm -rf "$INST"
mkdir -p "$INST"
if [ "$MODULE_OK" -eq 1 ]; then
	# The built module tree, plus what install needs, so nothing rebuilds.
	cp -a "$MOD_OUT" "$INST/src" && cp -a dist dkms.conf "$INST/src/"
	rc=0
	make -C "$INST/src" --no-print-directory KDIR="$KDIR" \
		DESTDIR="$INST/mod" install >"$LOGS/install.log" 2>&1 || rc=$?
	for f in "lib/modules/$KREL/updates/vhost_blk.ko.xz" \
		 usr/lib/udev/rules.d/60-vhost-blk.rules \
		 usr/lib/modules-load.d/vhost-blk.conf; do
		[ "$(stat -c %a "$INST/mod/$f" 2>/dev/null)" = 644 ] ||
			{ echo "missing or not 0644: $f"; rc=1; }
	done >>"$LOGS/install.log"
	grep -qs '^updates/vhost_blk.ko.xz:' "$INST/mod/lib/modules/$KREL/modules.dep" ||
		{ echo "not in modules.dep of $KREL"; rc=1; } >>"$LOGS/install.log"
	tap_check "host: make install puts the module (depmod'd for KDIR's $KREL), udev rule and modules-load.d file under DESTDIR" \
		"$rc" "$LOGS/install.log"
	rc=0
	make -C "$INST/src" --no-print-directory KDIR="$KDIR" \
		DESTDIR="$INST/mod" uninstall >>"$LOGS/install.log" 2>&1 || rc=$?
	[ -z "$(find "$INST/mod" -name '*vhost*')" ] || rc=1
	tap_check "host: make uninstall removes them" "$rc" "$LOGS/install.log"
else
	tap_not_ok "host: make install (module does not build)"
fi

if [ "$TOOLS_OK" -eq 1 ]; then
	TD=$INST/tools
	rc=0
	make -C tools --no-print-directory DESTDIR="$TD" PREFIX=/usr install \
		>"$LOGS/tools-install.log" 2>&1 || rc=$?
	while read -r mode f; do
		[ "$(stat -c %a "$TD/usr/$f" 2>/dev/null)" = "$mode" ] ||
			{ echo "missing or not $mode: $f"; rc=1; }
	done >>"$LOGS/tools-install.log" 2>&1 <<-LIST
	755 bin/vhost-blk
	755 bin/vhost-user-blk-bridge
	644 lib/libvhost-blk.a
	644 lib/pkgconfig/libvhost-blk.pc
	644 include/linux/vhost_blk.h
	644 include/vhost-blk/vhost_blk_ctl.h
	644 include/vhost-blk/virtio_blk_drv.h
	644 include/vhost-blk/vhost_user.h
	644 include/vhost-blk/vhost_compat.h
	644 share/man/man8/vhost-blk.8
	644 share/man/man8/vhost-user-blk-bridge.8
	644 share/man/man4/vhost_blk.4
	644 lib/systemd/system/vhost-user-blk-bridge@.service
	644 ../etc/vhost-user-blk-bridge/example.conf
	LIST
	grep -qx 'ExecStart=/usr/bin/vhost-user-blk-bridge .*' \
		"$TD/usr/lib/systemd/system/vhost-user-blk-bridge@.service" &&
		grep -qx 'EnvironmentFile=/etc/vhost-user-blk-bridge/%i.conf' \
			"$TD/usr/lib/systemd/system/vhost-user-blk-bridge@.service" ||
		{ echo "the unit does not name /usr/bin and /etc"; rc=1; } >>"$LOGS/tools-install.log"
	tap_check "host: make -C tools install puts tools, library, headers, pkg-config file, man pages, the bridge's unit and example.conf under DESTDIR" \
		"$rc" "$LOGS/tools-install.log"

	# The unit as installed, where its binary and man page really are:
	# any output of systemd-analyze verify (also a mere warning) fails.
	if command -v systemd-analyze >/dev/null; then
		rc=0
		SV=$INST/verify
		{
			make -C tools --no-print-directory PREFIX="$SV/usr" \
				SYSCONFDIR="$SV/etc" install >/dev/null &&
				MANPATH=$SV/usr/share/man systemd-analyze verify \
				"$SV/usr/lib/systemd/system/vhost-user-blk-bridge@example.service" 2>&1
		} >"$LOGS/unit-verify.log" 2>&1 || rc=1
		[ -s "$LOGS/unit-verify.log" ] && rc=1
		tap_check "host: systemd-analyze verify vhost-user-blk-bridge@example.service ($(systemd-analyze --version | head -n 1))" \
			"$rc" "$LOGS/unit-verify.log"
		rm -rf "$SV"
	else
		tap_skip "host: systemd-analyze verify of the bridge's unit" \
			"no systemd-analyze"
	fi

	# A VMM built from the installed tree only, through pkg-config.
	rc=0
	printf '%s\n' '#include <linux/vhost_blk.h>' '#include <vhost_blk_ctl.h>' \
		'int main(void) { return vhost_blk_open("/nonexistent") < 0 ? 0 : 1; }' \
		>"$INST/pc.c"
	(
		export PKG_CONFIG_PATH=$TD/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$TD
		set -x
		read -ra flags <<<"$(pkg-config --cflags --libs libvhost-blk)"
		[ "$(pkg-config --modversion libvhost-blk)" = "$(cat VERSION)" ] &&
			cc -Wall -Werror -o "$INST/pc" "$INST/pc.c" "${flags[@]}" &&
			"$INST/pc"
	) >"$LOGS/pkg-config.log" 2>&1 || rc=$?
	tap_check "host: libvhost-blk.pc resolves; a program builds and links from the installed tree" \
		"$rc" "$LOGS/pkg-config.log"

	rc=0
	for m in "$TD"/usr/share/man/man*/*; do
		LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$m" 2>&1 |
			sed "s|^|${m##*/}: |"
		man -l "$m" 2>&1 | grep -q "$(basename "${m%.*}" | tr a-z A-Z)" ||
			echo "${m##*/}: man -l does not show its title"
	done >"$LOGS/man.log" 2>&1
	[ -s "$LOGS/man.log" ] && rc=1
	tap_check "host: man pages render with groff -ww and man -l without warnings" \
		"$rc" "$LOGS/man.log"

	rc=0
	{
		v=$(modinfo -F version "$MOD_OUT/vhost_blk.ko")
		echo "VERSION $(cat VERSION), modinfo $v, dkms.conf $(grep PACKAGE_VERSION dkms.conf)"
		[ -n "$v" ] && [ "$v" = "$(cat VERSION)" ] || rc=1
		grep -qx "PACKAGE_VERSION=\"$v\"" dkms.conf || rc=1
		for t in vhost-blk vhost-user-blk-bridge; do
			out=$("$TD/usr/bin/$t" --version)
			echo "$t --version: $out"
			[ "$out" = "$t $v" ] || rc=1
		done
	} >"$LOGS/version.log" 2>&1
	tap_check "host: --version of both tools, modinfo's version and dkms.conf agree ($(cat VERSION))" \
		"$rc" "$LOGS/version.log"

	rc=0
	make -C tools --no-print-directory DESTDIR="$TD" PREFIX=/usr uninstall \
		>>"$LOGS/tools-install.log" 2>&1 || rc=$?
	[ -z "$(find "$TD" -type f)" ] || rc=1
	tap_check "host: make -C tools uninstall removes every file" "$rc" "$LOGS/tools-install.log"
else
	tap_not_ok "host: make -C tools install (tools do not build)"
fi

# dkms-install twice (the second replaces the first), dkms-uninstall twice.
if vb_ensure_packages dkms >"$LOGS/dkms.log" 2>&1; then
	DK=$INST/dkms
	mkdir -p "$DK/src" "$DK/tree" "$DK/lib/modules/$KREL"
	dkms_make()
	{
		make --no-print-directory DESTDIR="$DK/root" DKMS_SOURCETREE="$DK/src" \
			DKMS="dkms --dkmstree $DK/tree --sourcetree $DK/src --installtree $DK/lib/modules --no-depmod" \
			DKMS_FLAGS="-k $KREL --kernelsourcedir $KDIR" "$@" >>"$LOGS/dkms.log" 2>&1
	}
	rc=0
	dkms_make dkms-install && dkms_make dkms-install || rc=$?
	[ -f "$DK/lib/modules/$KREL/updates/dkms/vhost_blk.ko" ] &&
		[ -f "$DK/root/usr/lib/udev/rules.d/60-vhost-blk.rules" ] || rc=1
	tap_check "host: make dkms-install twice (DKMS $(dkms --version 2>/dev/null), private tree)" \
		"$rc" "$LOGS/dkms.log"
	rc=0
	dkms_make dkms-uninstall && dkms_make dkms-uninstall || rc=$?
	[ -z "$(find "$DK" -type f)" ] || rc=1
	tap_check "host: make dkms-uninstall twice leaves nothing" "$rc" "$LOGS/dkms.log"
else
	tap_not_ok "host: make dkms-install (dkms not installable)"
	tap_diag "$LOGS/dkms.log"
fi
say "install tests took $(vb_elapsed "$T_INST")s"

say "fuzzers"
rc=0
make -C tests/fuzz --no-print-directory >"$LOGS/fuzz-build.log" 2>&1 || rc=$?
tap_check "host: fuzzers build (make -C tests/fuzz)" "$rc" "$LOGS/fuzz-build.log"

# --- the decoder fuzzer (libFuzzer, in userspace) ----------------------------
# drivers/vhost-blk/decode.c built by tests/fuzz/decoder/Makefile with
# clang-16, ASan, UBSan and the integer sanitizers: the regression inputs,
# then DECODER_RUNS executions (default 5,000,000) from a copy of the seed
# corpus with a fixed seed, then line coverage of decode.c over the grown
# corpus (a separate build, llvm-cov), which must reach 95%.
DEC=tests/fuzz/decoder
DECODER_RUNS=${DECODER_RUNS:-5000000}
say "decoder fuzzer ($DEC)"
rc=0
make -C "$DEC" --no-print-directory >"$LOGS/decoder-build.log" 2>&1 || rc=$?
tap_check "host: decoder fuzzer builds (clang-16, libFuzzer, ASan, UBSan, integer sanitizers)" \
	"$rc" "$LOGS/decoder-build.log"
if [ "$rc" -eq 0 ]; then
	for f in "$DEC"/regressions/*; do
		[ -f "$f" ] || continue
		rc=0
		"$DEC/build/decoder_fuzz" "$f" >"$LOGS/decoder-regress.log" 2>&1 || rc=$?
		tap_check "host: decoder regression input ${f##*/}" "$rc" "$LOGS/decoder-regress.log"
	done

	T_DEC=$SECONDS
	dec_dir=$(mktemp -d "${TMPDIR:-/tmp}/vhost-blk-decoder.XXXXXX")
	rc=0
	make -C "$DEC" --no-print-directory fuzz FUZZ_DIR="$dec_dir" \
		RUNS="$DECODER_RUNS" SEED=1 >"$LOGS/decoder-fuzz.log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOGS/decoder-fuzz.log" | tail -n 1)
	if [ -z "$execs" ]; then
		# A crash ends the run before its statistics: its last status line.
		execs=$(grep -oE '^#[0-9]+' "$LOGS/decoder-fuzz.log" | tail -n 1 | tr -d '#')
	fi
	execs=${execs:-0}
	crashes=0
	for f in "$dec_dir"/crash-* "$dec_dir"/leak-* "$dec_dir"/timeout-* \
		 "$dec_dir"/oom-*; do
		[ -f "$f" ] || continue
		crashes=$((crashes + 1))
		cp "$f" "$LOGS/decoder-${f##*/}"
	done
	[ "$rc" -eq 0 ] || [ "$crashes" -gt 0 ] || crashes=1
	say "libfuzzer: $execs execs, $crashes crashes"
	[ "$execs" -ge "$DECODER_RUNS" ] && rc=0 || rc=1
	tap_check "host: decoder fuzzer ran $DECODER_RUNS executions (seed 1)" "$rc"
	if [ "$crashes" -eq 0 ]; then
		tap_ok "host: decoder fuzzer found no crash"
	else
		tap_not_ok "host: decoder fuzzer found no crash (inputs in $LOGS/decoder-crash-*)"
		grep -E -m 5 'ERROR|runtime error|broken:|SUMMARY' "$LOGS/decoder-fuzz.log" | sed 's/^/#   /'
	fi

	rc=0
	make -C "$DEC" --no-print-directory cov COV_CORPUS="$dec_dir/corpus" \
		>"$LOGS/decoder-cov.log" 2>&1 || rc=$?
	cov_line=$(grep -E '^decode\.c: ' "$LOGS/decoder-cov.log" | tail -n 1)
	cov=$(sed -n 's/^decode\.c: .*(\([0-9.]*\)%)$/\1/p' <<<"$cov_line")
	if [ "$rc" -eq 0 ] && [ -n "$cov" ]; then
		say "decoder coverage: ${cov%.*}% lines (${cov_line%% (*})"
		[ "${cov%.*}" -ge 95 ] && rc=0 || rc=1
		tap_check "host: decoder fuzzing covers at least 95% of decode.c's lines" "$rc"
	else
		tap_not_ok "host: decoder fuzzing covers at least 95% of decode.c's lines (no report)"
		tap_diag "$LOGS/decoder-cov.log"
	fi
	rm -rf "$dec_dir"
	say "decoder fuzzer took $(vb_elapsed "$T_DEC")s"
else
	tap_not_ok "host: decoder fuzzer not run (does not build)"
fi

# --- KUnit (UML, from Debian's linux-source) --------------------------------
say "KUnit in UML (tests/kunit/run.sh)"
T_KUNIT=$SECONDS
rc=0
tests/kunit/run.sh --log-dir "$LOGS/kunit" >"$LOGS/kunit-tap.log" \
	2>"$LOGS/kunit-stderr.log" || rc=$?
# Its results as they are, its failures' diagnostics ("#   ") too.
# shellcheck disable=SC2317 # called by tap_fold
kunit_diag()
{
	[[ $1 != '#   '* ]] || echo "$1"
}
TAP_FOLD_QUIET=1 TAP_FOLD_DIAG=kunit_diag tap_fold "" "$LOGS/kunit-tap.log"
kunit_results=$TAP_FOLD_RESULTS
if [ "$kunit_results" -eq 0 ]; then
	tap_not_ok "kunit: tests/kunit/run.sh reported nothing (exit $rc)"
	tap_diag "$LOGS/kunit-stderr.log"
fi
say "KUnit took $(vb_elapsed "$T_KUNIT")s"
say "host checks took $(vb_elapsed "$T0")s"

# --- the debug kernel ---------------------------------------------------------
# Built once from linux-source-6.12 (about half an hour on 2 cores), then
# cached; VHOST_BLK_DEBUG_KERNEL=0 leaves it out.
DEBUG_MOD=
if [ "${VHOST_BLK_DEBUG_KERNEL:-1}" != 0 ]; then
	say "debug kernel (tests/vm/debug-kernel.sh, log in $LOGS/debug-kernel.log)"
	T_DBG=$SECONDS
	rc=0
	tests/vm/debug-kernel.sh >"$LOGS/debug-kernel.log" 2>&1 || rc=$?
	say "debug kernel took $(vb_elapsed "$T_DBG")s"
	if [ "$rc" -eq 0 ]; then
		tap_ok "setup: debug kernel (KASAN, lockdep, kmemleak, fault injection) built"
		rc=0
		KDIR=$(. "$VB_CACHE/debug/env" && echo "$KDIR") \
			vb_build_module "$VB_BUILD/module-debug" W=1 \
			>"$LOGS/module-debug.log" || rc=$?
		if [ "$rc" -eq 0 ] && ! grep -qiE 'warning:' "$LOGS/module-debug.log"; then
			tap_ok "host: module builds against the debug kernel at W=1 without warnings"
			DEBUG_MOD=$VB_BUILD/module-debug/vhost_blk.ko
		else
			tap_not_ok "host: module builds against the debug kernel at W=1 without warnings"
			grep -iE -A3 'error|warning:' "$LOGS/module-debug.log" | head -n 40 | sed 's/^/#   /'
		fi
	else
		tap_not_ok "setup: debug kernel (KASAN, lockdep, kmemleak, fault injection) built"
		tap_diag "$LOGS/debug-kernel.log"
	fi
fi

# --- the Linux guest's initramfs ----------------------------------------------
# For the Linux guest that tests/guest/run_guest.sh boots on the bridge in
# the stock VM: busybox, e2fsprogs and a static fio (built once, about
# three minutes), cached under $VB_CACHE.
say "Linux guest initramfs (tests/guest/initramfs.sh)"
rc=0
GUEST_INITRD=$(tests/guest/initramfs.sh 2>"$LOGS/guest-initramfs.log") || rc=$?
tap_check "setup: Linux guest initramfs (busybox, e2fsprogs, static fio) cached" \
	"$rc" "$LOGS/guest-initramfs.log"
[ "$rc" -eq 0 ] || GUEST_INITRD=

# --- the VMs ------------------------------------------------------------------
GUEST=tests/selftests/run_guest.sh
LINUX_GUEST=tests/guest/run_guest.sh
guest_name=$GUEST
guest_cmd_stock=
if [ -n "${VHOST_BLK_GUEST_CMD:-}" ]; then
	guest_cmd=$VHOST_BLK_GUEST_CMD
	guest_name=$guest_cmd
elif [ -x "$GUEST" ]; then
	# The selftests, then the seeded fuzzers; both always run. On the
	# stock kernel only (a nested TCG guest is slow enough there), a
	# Linux guest on the bridge after them.
	guest_cmd="$GUEST; r=\$?; tests/fuzz/run_guest.sh || r=1; exit \$r"
	guest_cmd_stock="$GUEST; r=\$?; tests/fuzz/run_guest.sh || r=1; tests/selftests/net.sh || r=1; $LINUX_GUEST || r=1; exit \$r"
	guest_name="$GUEST + tests/fuzz/run_guest.sh"
else
	guest_cmd="echo '$GUEST is missing or not executable' >&2; exit 1"
fi

# fuzz_totals LINE: a guest diagnostic with a fuzzer's total is part of
# the result: shown, with vm_suite's $kernel in front. The line stays a
# diagnostic of the guest's (returns 1).
# shellcheck disable=SC2317 # called by tap_fold
fuzz_totals()
{
	[[ $1 != '# '*'fuzz'*'total:'* ]] || echo "# $kernel: ${1#\# }"
	return 1
}

# vm_suite KERNEL MODULE: boot KERNEL (stock or debug) with MODULE, run
# the guest command, fold its TAP and the VM checks into ours. Results are
# named "guest: ..." and "vm: ..." on the stock kernel, "debug guest: ..."
# and "debug vm: ..." on the debug one, "6.1 guest: ..." and "6.1 vm: ..."
# on Debian's 6.1.
vm_suite()
{
	local kernel=$1 module=$2 out=$LOGS/vm-$1 gp vp attempt rc line
	local results=0 guest_failed=0 t_vm
	local VM_REACHED_END=0 VM_SETUP=none VM_CMD_RC='' VM_RMMOD=missing
	local VM_CONSOLE=unknown VM_BOOT_SECONDS='' VM_ACCEL= VM_KMEMLEAK=
	local cmd=$guest_cmd name=$guest_name

	local env=()

	gp="guest"
	vp="vm"
	if [ "$kernel" = stock ] && [ -n "$guest_cmd_stock" ]; then
		cmd=$guest_cmd_stock
		name="$guest_name + $LINUX_GUEST"
		[ -z "$GUEST_INITRD" ] || env=(-e "VHOST_BLK_GUEST_INITRD=$GUEST_INITRD")
	elif [ "$kernel" = debug ]; then
		gp="debug guest"
		vp="debug vm"
		# A third of the stock rate: the ring fuzzer's million hostile
		# requests run on the stock kernel, 300,000 of them here.
		env=(-e "RING_HOSTILE=${DEBUG_RING_HOSTILE:-300000}"
		     -e "VHOST_BLK_PINNED=${DEBUG_PINNED-data vring teardown faults_dm owner}")
	elif [ "$kernel" = 6.1 ]; then
		gp="6.1 guest"
		vp="6.1 vm"
		# The kthread workers of kernels without vhost_task: every
		# selftest, and the fuzzers for a shorter while.
		env=(-e "RING_HOSTILE=${K61_RING_HOSTILE:-200000}"
		     -e "IOCTL_CALLS=${K61_IOCTL_CALLS:-20000}")
	fi
	say "booting the $kernel kernel for $name (output in $out/guest-output.log)"
	t_vm=$SECONDS
	# A guest that dies, or finds its kernel tainted, before its set-up
	# (before vhost_blk.ko is loaded) is booted once more: emulated SMP
	# under TCG occasionally trips on kernel text patching or an early
	# interrupt at boot. Anything later counts.
	for attempt in 1 2; do
		rc=0
		rm -rf "$out"
		mkdir -p "$out"
		VHOST_BLK_KERNEL=$kernel VM_TIMEOUT=${VM_TIMEOUT:-2700} \
			"$VB_REPO/tests/vm/run.sh" --module "$module" ${env[@]+"${env[@]}"} \
			--log-dir "$out/vm" -- "$cmd" \
			>"$out/guest-output.log" 2>"$out/vm.log" || rc=$?
		[ "$attempt" -eq 1 ] || break
		if [ -f "$out/vm/result" ] && grep -q '^VM_SETUP=none' "$out/vm/result" &&
		   ! grep -q 'vhost_blk' "$out/vm/console.txt" 2>/dev/null; then
			say "the guest died or was tainted before its set-up; booting it again (console:)"
			grep -a -m 3 -E 'Oops|Kernel panic|BUG:|WARNING:' "$out/vm/console.txt" | sed 's/^/#   /'
			mv "$out" "$out-failed-boot"
			continue
		fi
		break
	done
	say "$kernel VM took $(vb_elapsed "$t_vm")s"

	if [ -f "$out/vm/result" ]; then
		# shellcheck source=/dev/null
		. "$out/vm/result"
	else
		tap_diag "$out/vm.log"
	fi
	say "$kernel guest ($VM_ACCEL): command started ${VM_BOOT_SECONDS:-?}s after boot"

	if [ "$VM_SETUP" = ok ]; then
		tap_ok "$vp: guest setup (brd, null_blk, insmod vhost_blk, /dev/vhost-blk)"
	else
		tap_not_ok "$vp: guest setup (brd, null_blk, insmod vhost_blk, /dev/vhost-blk): $VM_SETUP"
		grep -a 'vm-init:\|insmod\|modprobe' "$out/vm/console.txt" 2>/dev/null |
			head -n 20 | sed 's/^/#   /'
	fi

	# The guest's top-level TAP results, renumbered; a failure carries
	# the diagnostics printed since the previous result.
	TAP_FOLD_QUIET=1 TAP_FOLD_DIAG=fuzz_totals tap_fold "$gp: " \
		"$out/guest-output.log"
	results=$TAP_FOLD_RESULTS
	guest_failed=$TAP_FOLD_FAILED

	if [ "$VM_SETUP" = ok ]; then
		if [ "$VM_CMD_RC" = 0 ]; then
			tap_ok "$vp: $name exited 0"
		else
			tap_not_ok "$vp: $name exited ${VM_CMD_RC:-never (no end marker)}"
			[ "$guest_failed" -gt 0 ] || tap_diag "$out/guest-output.log" 15
		fi
		if [ "$results" -gt 0 ]; then
			tap_ok "$vp: guest reported $results results"
		else
			tap_not_ok "$vp: guest reported no ok/not ok results"
		fi
		case $VM_RMMOD in
		ok | absent) tap_ok "$vp: rmmod vhost_blk after the tests ($VM_RMMOD)" ;;
		*) tap_not_ok "$vp: rmmod vhost_blk after the tests ($VM_RMMOD: a reference leaked)" ;;
		esac
		if [ "$kernel" = debug ]; then
			case $VM_KMEMLEAK in
			after-command:0,after-rmmod:0)
				tap_ok "$vp: kmemleak finds no leak after the tests nor after rmmod" ;;
			*)
				tap_not_ok "$vp: kmemleak finds no leak after the tests nor after rmmod (${VM_KMEMLEAK:-no scan})"
				grep -a 'kmemleak|' "$out/vm/console.txt" | head -n 30 | sed 's/^/#   /'
				;;
			esac
		fi
	fi
	if [ "$VM_CONSOLE" = clean ]; then
		tap_ok "$vp: no kernel warnings on the console"
	else
		tap_not_ok "$vp: no kernel warnings on the console"
		tap_diag "$out/vm/console-bad.txt" 40
	fi
	if [ "$VM_REACHED_END" = 1 ]; then
		tap_ok "$vp: guest reached its end marker"
	else
		tap_not_ok "$vp: guest reached its end marker (timed out or crashed, VM_TIMEOUT=${VM_TIMEOUT:-2700})"
		tap_diag "$out/vm/console.txt" 30
	fi
}

if [ "$MODULE_OK" -ne 1 ]; then
	tap_not_ok "vm: not booted, the module does not build"
else
	vm_suite stock "$MOD_OUT/vhost_blk.ko"
fi
[ -z "$DEBUG_MOD" ] || vm_suite debug "$DEBUG_MOD"
if [ -n "$MOD61" ]; then
	vm_suite 6.1 "$MOD61"
else
	tap_not_ok "6.1 vm: not booted, the module does not build against 6.1"
fi

finish
