#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The demo (`make demo`): build vhost_blk.ko and the tools against the
# cached Debian 6.12 kernel, boot it in QEMU, load brd and the module, and
# run `tools/build/vhost-blk io /dev/ram0` in the guest: it attaches a
# vhost-blk device to /dev/ram0 and drives a short verified workload
# through a userspace virtio-blk driver. Its output is printed here and
# its exit status is this script's.
#
# Usage: tests/vm/demo.sh [DEVICE]     (default /dev/ram0)

set -euo pipefail

# shellcheck source=../lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

DEV=${1:-/dev/ram0}
cd "$VB_REPO"

vb_ensure_packages
vb_ensure_kernel --no-source || vb_die "cannot fetch the Debian kernel"

MOD_OUT=$VB_BUILD/demo-module
mkdir -p "$VB_BUILD"
vb_log "building vhost_blk.ko against $KREL"
if ! vb_build_module "$MOD_OUT" >"$VB_BUILD/demo-module.log"; then
	tail -n 30 "$VB_BUILD/demo-module.log" >&2
	vb_die "the module does not build (log: $VB_BUILD/demo-module.log)"
fi
vb_log "building tools"
if ! make -C tools --no-print-directory >"$VB_BUILD/demo-tools.log" 2>&1; then
	tail -n 30 "$VB_BUILD/demo-tools.log" >&2
	vb_die "the tools do not build (log: $VB_BUILD/demo-tools.log)"
fi
[ -x tools/build/vhost-blk ] || vb_die "tools/build/vhost-blk missing after make -C tools"

echo "vhost-blk demo: Debian $KREL in QEMU, vhost_blk.ko on $DEV"
echo "\$ tools/build/vhost-blk io $DEV"
rc=0
tests/vm/run.sh --module "$MOD_OUT/vhost_blk.ko" -o "$VB_BUILD/vm/demo" \
	-- tools/build/vhost-blk io "$DEV" || rc=$?
echo "exit status $rc"
exit "$rc"
