# SPDX-License-Identifier: GPL-2.0
#
# Out-of-tree build of vhost_blk.ko. KDIR selects the kernel build tree.
#
#   make                 build the module against KDIR
#   make check           sparse (C=2) over the driver
#   make style           checkpatch --strict over the driver and the ABI
#   make tools           build the userspace helpers in tools/
#   make demo            boot a VM, attach a device, drive verified I/O
#   make test            build everything and run every test in VMs
#   make bench           fio: io_uring vs vhost-blk vs qemu-storage-daemon in a VM
#   make install         install into /lib/modules and run depmod
#   make dkms-install    register the source tree with DKMS

KDIR ?= /lib/modules/$(shell uname -r)/build
# One version for the module, the tools and dkms.conf.
PACKAGE_VERSION := $(shell cat $(CURDIR)/VERSION)
CHECKPATCH ?= $(KDIR)/scripts/checkpatch.pl
SRC_FILES := $(wildcard drivers/vhost-blk/*.[ch]) include/uapi/linux/vhost_blk.h

.PHONY: all modules check style tools demo test bench install dkms-install clean

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

tools:
	$(MAKE) -C tools

demo:
	tests/vm/demo.sh

test:
	tests/run.sh

bench:
	tests/bench/run.sh

install: modules
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install
	depmod -a

dkms-install:
	mkdir -p /usr/src/vhost-blk-$(PACKAGE_VERSION)
	cp -r Kbuild Makefile VERSION dkms.conf drivers include /usr/src/vhost-blk-$(PACKAGE_VERSION)/
	dkms add -m vhost-blk -v $(PACKAGE_VERSION)
	dkms build -m vhost-blk -v $(PACKAGE_VERSION)
	dkms install -m vhost-blk -v $(PACKAGE_VERSION)

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	-$(MAKE) -C tools clean
