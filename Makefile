# SPDX-License-Identifier: GPL-2.0
#
# Out-of-tree build of vhost_blk.ko. KDIR selects the kernel build tree.
#
#   make                 build the module against KDIR
#   make check           sparse (C=2) over the driver
#   make style           checkpatch --strict over the driver and the ABI,
#                        kernel-doc over the ABI header and the driver
#   make tools           build the userspace helpers in tools/
#   make demo            boot a VM, attach a device, drive verified I/O
#   make test            build everything and run every test in VMs
#   make bench           fio: io_uring vs vhost-blk vs qemu-storage-daemon in a VM
#   make install         install the module into /lib/modules/<KDIR's
#                        release>, run depmod, install the udev rule and
#                        the modules-load.d file (DESTDIR, INSTALL_MOD_PATH)
#   make uninstall       remove what make install installed
#   make dkms-install    register the source tree with DKMS, build and
#                        install for the running kernel (again: replaced)
#   make dkms-uninstall  remove it from DKMS

KDIR ?= /lib/modules/$(shell uname -r)/build
# One version for the module, the tools and dkms.conf.
PACKAGE_VERSION := $(shell cat $(CURDIR)/VERSION)
CHECKPATCH ?= $(KDIR)/scripts/checkpatch.pl
KERNELDOC ?= $(KDIR)/scripts/kernel-doc
# The release of the kernel KDIR builds for, not of the running one.
KRELEASE = $(shell cat $(KDIR)/include/config/kernel.release 2>/dev/null)
DESTDIR ?=
INSTALL_MOD_PATH ?= $(DESTDIR)
UDEVRULESDIR ?= /usr/lib/udev/rules.d
MODULESLOADDIR ?= /usr/lib/modules-load.d
# DKMS: extra options (e.g. --dkmstree, --sourcetree, --installtree) go in
# DKMS, those for build and install only (-k, --kernelsourcedir) in
# DKMS_FLAGS; DKMS_SOURCETREE must match --sourcetree.
DKMS ?= dkms
DKMS_FLAGS ?=
DKMS_SOURCETREE ?= /usr/src
DKMS_SRC = $(DKMS_SOURCETREE)/vhost-blk-$(PACKAGE_VERSION)
DKMS_MOD = -m vhost-blk -v $(PACKAGE_VERSION)
SRC_FILES := $(wildcard drivers/vhost-blk/*.[ch]) include/uapi/linux/vhost_blk.h

.PHONY: all modules check style tools demo test bench install uninstall \
	install-files uninstall-files dkms-check dkms-install dkms-uninstall \
	clean

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

check:
	$(MAKE) -C $(KDIR) M=$(CURDIR) C=2 CF="-D__CHECK_ENDIAN__" modules

# compat.h is where version checks belong: the only exemption.
style:
	$(CHECKPATCH) --strict --no-tree --show-types \
		-f $(filter-out %/compat.h,$(SRC_FILES))
	$(CHECKPATCH) --strict --no-tree --show-types \
		--ignore LINUX_VERSION_CODE -f drivers/vhost-blk/compat.h
	$(KERNELDOC) -none -Wall -Werror include/uapi/linux/vhost_blk.h \
		$(wildcard drivers/vhost-blk/*.[ch])

tools:
	$(MAKE) -C tools

demo:
	tests/vm/demo.sh

test:
	tests/run.sh

bench:
	tests/bench/run.sh

install: modules install-files
	@test -n "$(KRELEASE)" || \
		{ echo "$(KDIR)/include/config/kernel.release not found" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_PATH=$(INSTALL_MOD_PATH) \
		modules_install
	depmod -b $(or $(INSTALL_MOD_PATH),/) $(KRELEASE)

uninstall: uninstall-files
	@test -n "$(KRELEASE)" || \
		{ echo "$(KDIR)/include/config/kernel.release not found" >&2; exit 1; }
	rm -f $(INSTALL_MOD_PATH)/lib/modules/$(KRELEASE)/updates/vhost_blk.ko*
	depmod -b $(or $(INSTALL_MOD_PATH),/) $(KRELEASE)

# The udev rule (/dev/vhost-blk for group kvm) and the modules-load.d file,
# for make install and make dkms-install alike.
install-files:
	install -D -m 0644 dist/60-vhost-blk.rules \
		$(DESTDIR)$(UDEVRULESDIR)/60-vhost-blk.rules
	install -D -m 0644 dist/vhost-blk.conf \
		$(DESTDIR)$(MODULESLOADDIR)/vhost-blk.conf
	@if [ -z "$(DESTDIR)" ] && [ -d /run/udev ] && command -v udevadm >/dev/null; then \
		udevadm control --reload && \
		udevadm trigger --action=add --sysname-match=vhost-blk; \
	fi

uninstall-files:
	rm -f $(DESTDIR)$(UDEVRULESDIR)/60-vhost-blk.rules \
	      $(DESTDIR)$(MODULESLOADDIR)/vhost-blk.conf

dkms-check:
	@grep -qx 'PACKAGE_VERSION="$(PACKAGE_VERSION)"' dkms.conf || \
		{ echo "dkms.conf: PACKAGE_VERSION is not $(PACKAGE_VERSION) (VERSION)" >&2; exit 1; }

# Run again, it replaces what DKMS has of this version with this tree.
dkms-install: dkms-check install-files
	if [ -n "$$($(DKMS) status $(DKMS_MOD))" ]; then \
		$(DKMS) remove $(DKMS_MOD) --all; \
	fi
	rm -rf $(DKMS_SRC)
	mkdir -p $(DKMS_SRC)
	cp -r Kbuild Makefile VERSION dkms.conf dist drivers include $(DKMS_SRC)/
	$(DKMS) add $(DKMS_MOD)
	$(DKMS) build $(DKMS_MOD) $(DKMS_FLAGS)
	$(DKMS) install $(DKMS_MOD) $(DKMS_FLAGS)

dkms-uninstall: uninstall-files
	if [ -n "$$($(DKMS) status $(DKMS_MOD))" ]; then \
		$(DKMS) remove $(DKMS_MOD) --all; \
	fi
	rm -rf $(DKMS_SRC)

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	-$(MAKE) -C tools clean
