/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost_blk_ctl - thin wrappers around the /dev/vhost-blk ioctls.
 *
 * A VMM opens /dev/vhost-blk once per virtio-blk device and then issues,
 * in this order:
 *
 *   vhost_blk_set_owner()          the calling process becomes the owner
 *   vhost_blk_get_features()       what the device offers
 *   vhost_blk_set_features()       what the guest accepted (a subset)
 *   vhost_blk_set_mem_table()      guest-physical to user address map
 *   vhost_blk_set_backend()        the host block device
 *   vhost_blk_get_config()         struct virtio_blk_config for the guest
 *   vhost_blk_set_config_call()    an eventfd for resizes (optional)
 *
 * and for every virtqueue:
 *
 *   vhost_blk_set_vring_num(), _addr(), _base(), _call(), _err(), _kick()
 *
 * vhost_blk_set_vring_kick() starts the queue. vhost_blk_get_vring_base()
 * stops it and returns the index of the next available entry; a new
 * vhost_blk_set_vring_kick() restarts it.
 *
 * Every function returns 0 or a negative errno; none of them print or
 * keep state, so they are safe to call from any thread of the owner.
 */
#ifndef VHOST_BLK_CTL_H
#define VHOST_BLK_CTL_H

#include <stdint.h>
#include "vhost_compat.h"
#include <linux/virtio_blk.h>
#include <linux/vhost_blk.h>

#define VHOST_BLK_DEV_PATH	"/dev/vhost-blk"

/*
 * vhost_blk_open - open a vhost-blk device.
 * @path: device node, or NULL for VHOST_BLK_DEV_PATH.
 *
 * Returns a file descriptor (O_RDWR | O_CLOEXEC) or -errno.
 */
int vhost_blk_open(const char *path);

/* VHOST_SET_OWNER: make the calling process the owner of @fd. */
int vhost_blk_set_owner(int fd);

/*
 * VHOST_RESET_OWNER: stop every queue, wait for requests in flight, drop
 * the backend, memory table and vring state. The device can be owned
 * again afterwards.
 */
int vhost_blk_reset_owner(int fd);

/* VHOST_GET_FEATURES: the feature bits the device offers. */
int vhost_blk_get_features(int fd, uint64_t *features);

/* VHOST_SET_FEATURES: acknowledge a subset of the offered bits. */
int vhost_blk_set_features(int fd, uint64_t features);

/*
 * vhost_blk_set_mem_table - VHOST_SET_MEM_TABLE
 * @regions:	@nregions entries; guest_phys_addr, memory_size and
 *		userspace_addr of each are passed through unchanged (no
 *		validation here, so callers can test the kernel's).
 *
 * Returns 0, -ENOMEM if the argument cannot be built, or the ioctl error.
 */
int vhost_blk_set_mem_table(int fd, const struct vhost_memory_region *regions,
			    unsigned int nregions);

/* VHOST_SET_VRING_NUM: number of descriptors of queue @index. */
int vhost_blk_set_vring_num(int fd, unsigned int index, unsigned int num);

/*
 * vhost_blk_set_vring_addr - VHOST_SET_VRING_ADDR
 * @desc, @avail, @used: user (not guest-physical) addresses of the three
 *			 parts of the split ring of queue @index.
 * @flags:		 VHOST_VRING_F_LOG bit, normally 0.
 */
int vhost_blk_set_vring_addr(int fd, unsigned int index, uint64_t desc,
			     uint64_t avail, uint64_t used, unsigned int flags);
/*
 * The same with the guest-physical address of the used ring, where its
 * writes are logged when @flags has VHOST_VRING_F_LOG. A running queue
 * accepts it with its ring addresses unchanged (logging on or off).
 */
int vhost_blk_set_vring_addr_log(int fd, unsigned int index, uint64_t desc,
				 uint64_t avail, uint64_t used,
				 unsigned int flags, uint64_t log_guest_addr);

/*
 * Dirty log, for live migration. VHOST_SET_LOG_BASE: the bitmap (bit
 * gpa / 4096 of it, little-endian bit order in each byte) the device sets
 * for every guest page it writes once VHOST_F_LOG_ALL is acked; it must
 * cover the memory table (-EFAULT). VHOST_SET_LOG_FD: an eventfd
 * signalled after bits were set, or -1.
 */
int vhost_blk_set_log_base(int fd, uint64_t base);
int vhost_blk_set_log_fd(int fd, int efd);

/* VHOST_SET_VRING_BASE: the avail index the device starts from. */
int vhost_blk_set_vring_base(int fd, unsigned int index, unsigned int base);

/*
 * VHOST_GET_VRING_BASE: stop queue @index, wait until every request it
 * took is on the used ring, and store the next avail index in @base.
 */
int vhost_blk_get_vring_base(int fd, unsigned int index, unsigned int *base);

/*
 * VHOST_SET/GET_VRING_BUSYLOOP_TIMEOUT: how long (microseconds, at most
 * VHOST_BLK_BUSYLOOP_MAX_US; 0, the default, turns it off) the worker of
 * queue @index keeps polling an empty ring before it waits for a kick.
 */
int vhost_blk_set_vring_busyloop_timeout(int fd, unsigned int index,
					 unsigned int usecs);
int vhost_blk_get_vring_busyloop_timeout(int fd, unsigned int index,
					 unsigned int *usecs);

/*
 * VHOST_SET_VRING_KICK / _CALL / _ERR: attach an eventfd (or -1 to
 * detach) to queue @index. Setting the kick eventfd starts the queue.
 */
int vhost_blk_set_vring_kick(int fd, unsigned int index, int efd);
int vhost_blk_set_vring_call(int fd, unsigned int index, int efd);
int vhost_blk_set_vring_err(int fd, unsigned int index, int efd);

/*
 * Workers. By default every queue gets its own worker when it starts;
 * vhost_blk_new_worker() creates one (its id in @id) that stopped queues
 * can share with vhost_blk_attach_vring_worker().
 * vhost_blk_get_vring_worker() returns the id of a queue's worker;
 * vhost_blk_free_worker() frees one no queue uses.
 */
int vhost_blk_new_worker(int fd, unsigned int *id);
int vhost_blk_free_worker(int fd, unsigned int id);
int vhost_blk_attach_vring_worker(int fd, unsigned int index,
				  unsigned int id);
int vhost_blk_get_vring_worker(int fd, unsigned int index, unsigned int *id);

/*
 * vhost_blk_set_backend - VHOST_BLK_SET_BACKEND
 * @backend_fd:	open block device or regular file, or -1 to detach.
 * @flags:	VHOST_BLK_BACKEND_F_* bits.
 * @serial:	GET_ID string, NULL for none; at most VHOST_BLK_SERIAL_LEN
 *		bytes are used, the rest of the field is zero.
 */
int vhost_blk_set_backend(int fd, int backend_fd, uint64_t flags,
			  const char *serial);

/*
 * vhost_blk_get_config - VHOST_BLK_GET_CONFIG
 * @cfg:	receives the little-endian struct virtio_blk_config; bytes
 *		the kernel does not fill are zeroed.
 * @features:	if not NULL, receives the device feature bits that hold
 *		for the current backend (e.g. VIRTIO_BLK_F_RO).
 * @len:	if not NULL, receives the number of bytes of @cfg the
 *		kernel wrote.
 */
int vhost_blk_get_config(int fd, struct virtio_blk_config *cfg,
			 uint64_t *features, uint32_t *len);

/*
 * VHOST_BLK_SET_CONFIG_CALL: an eventfd the device signals when the
 * backend changes size (then vhost_blk_get_config() has the new
 * capacity), or -1 to remove it.
 */
int vhost_blk_set_config_call(int fd, int efd);

/*
 * vhost_blk_set_options - VHOST_BLK_SET_OPTIONS
 * @flags:	VHOST_BLK_OPT_F_* bits (e.g. VHOST_BLK_OPT_F_PIN_MEM: pin
 *		the memory table once, charged to RLIMIT_MEMLOCK).
 */
int vhost_blk_set_options(int fd, uint64_t flags);

/*
 * vhost_blk_set_vring_inflight - VHOST_BLK_SET_VRING_INFLIGHT
 * @addr:	the queue's inflight region (struct vhost_blk_inflight_split)
 *		in this process, 0 for none
 * @len:	its bytes, at least VHOST_BLK_INFLIGHT_SIZE(ring size)
 *
 * The queue must be stopped; it picks the region up when it starts.
 */
int vhost_blk_set_vring_inflight(int fd, unsigned int index, uint64_t addr,
				 uint64_t len);

#endif /* VHOST_BLK_CTL_H */
