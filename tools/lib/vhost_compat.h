/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost_compat.h - <linux/vhost.h> plus what older copies of it lack.
 *
 * /dev/vhost-blk serves ioctls that <linux/vhost.h> gained after the
 * kernel headers some distributions ship (Debian 12's are Linux 6.1).
 * Include this instead of <linux/vhost.h>: it defines them, exactly as
 * the kernel does, only where the installed header does not.
 */
#ifndef VHOST_BLK_VHOST_COMPAT_H
#define VHOST_BLK_VHOST_COMPAT_H

#include <linux/vhost.h>

/* Per-virtqueue workers, Linux 6.4. */
#ifndef VHOST_NEW_WORKER
struct vhost_worker_state {
	unsigned int worker_id;
};

struct vhost_vring_worker {
	unsigned int index;
	unsigned int worker_id;
};

#define VHOST_NEW_WORKER _IOR(VHOST_VIRTIO, 0x8, struct vhost_worker_state)
#define VHOST_FREE_WORKER _IOW(VHOST_VIRTIO, 0x9, struct vhost_worker_state)
#define VHOST_ATTACH_VRING_WORKER _IOW(VHOST_VIRTIO, 0x15,		\
				       struct vhost_vring_worker)
#define VHOST_GET_VRING_WORKER _IOWR(VHOST_VIRTIO, 0x16,		\
				     struct vhost_vring_worker)
#endif

#endif /* VHOST_BLK_VHOST_COMPAT_H */
