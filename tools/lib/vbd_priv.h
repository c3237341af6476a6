/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vbd_priv.h - what the files of the userspace virtio-blk driver share and
 * its callers do not see.
 *
 * The driver is one file per concern:
 *   virtio_blk_drv.c    the device: open, set-up, config, reset, dirty log
 *   vbd_mem.c           guest memory: mapping, allocator, GPA translation
 *   vbd_vring.c         split virtqueues: rings, chains, kick, reap
 *   vbd_req.c           virtio-blk requests on a virtqueue, data patterns
 *   transport_kernel.c  the vhost-kernel transport (/dev/vhost-blk ioctls)
 *   transport_user.c    the vhost-user transport (a unix socket)
 * The device code reaches its transport only through the ops table below.
 */
#ifndef VBD_PRIV_H
#define VBD_PRIV_H

#include "virtio_blk_drv.h"

/*
 * The device runs on other CPUs: the usual SMP barriers. wmb() orders
 * ring writes before the index that publishes them, rmb() the index
 * before the entries it covers, mb() a publish before the following
 * read of the other side's event index or flags.
 */
#define wmb()	__atomic_thread_fence(__ATOMIC_RELEASE)	/* see above */
#define rmb()	__atomic_thread_fence(__ATOMIC_ACQUIRE)	/* see above */
#define mb()	__atomic_thread_fence(__ATOMIC_SEQ_CST)	/* see above */

#define READ_ONCE16(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
#define WRITE_ONCE16(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)

/*
 * struct vblk_transport_ops - how the device talks to its backend.
 *
 * One implementation per transport: vblk_kernel_ops drives /dev/vhost-blk
 * with ioctls, vblk_user_ops a vhost-user-blk backend over a unix socket.
 * An optional operation left NULL makes the public call fail with
 * -EOPNOTSUPP. Every operation returns 0 or -errno.
 */
struct vblk_transport_ops {
	const char *name;
	/*
	 * Guest memory (and the dirty log) must be a memfd the backend can
	 * map, not private anonymous memory.
	 */
	bool shared_memory;

	/* Open the device node or connect the socket: vblk_dev_open(). */
	int (*connect)(struct vblk_dev *d, const struct vblk_opts *o);
	/* Close the node or the socket now; state stays for release. */
	void (*close)(struct vblk_dev *d);
	/* Free what connect allocated (optional). */
	void (*release)(struct vblk_dev *d);

	/* Owner, features and memory table: vblk_dev_setup(). */
	int (*setup)(struct vblk_dev *d, uint64_t features_clear);
	/* Acknowledge @features (and what the transport itself needs). */
	int (*set_features)(struct vblk_dev *d, uint64_t features);
	int (*set_mem_table)(struct vblk_dev *d);
	int (*attach)(struct vblk_dev *d, int backend_fd, uint64_t flags,
		      const char *serial);
	/* Into d->cfg and d->cfg_features. */
	int (*read_config)(struct vblk_dev *d);
	int (*reset_owner)(struct vblk_dev *d);
	/* A new backend for the device as it is (optional). */
	int (*reconnect)(struct vblk_dev *d, const char *path, int wait_ms);

	/* Hand a laid-out queue to the device, @base its first index. */
	int (*vq_start)(struct vblk_vq *vq, unsigned int base);
	/* Stop the queue; its next avail index in @base. */
	int (*vq_stop)(struct vblk_vq *vq, unsigned int *base);
	int (*vq_set_enable)(struct vblk_vq *vq, bool enable);	/* optional */
	/* The ring addresses again, with log_flags(vq). */
	int (*vq_set_addr)(struct vblk_vq *vq);

	/* -EOPNOTSUPP if the backend cannot log (optional: it can). */
	int (*log_check)(const struct vblk_dev *d);
	/* Give the device d->log and d->log_efd. */
	int (*log_set_base)(struct vblk_dev *d);
};

extern const struct vblk_transport_ops vblk_kernel_ops;
extern const struct vblk_transport_ops vblk_user_ops;

/* vbd_mem.c */
int vbd_mem_map(struct vblk_dev *d, const struct vblk_opts *o, bool shared);
void vbd_mem_unmap(struct vblk_dev *d);

/* vbd_vring.c */
int vbd_new_eventfd(int *fd);
void vbd_close_fd(int *fd);
void vbd_vq_release(struct vblk_vq *vq);

/* VHOST_VRING_F_LOG while the device logs. */
static inline unsigned int log_flags(const struct vblk_vq *vq)
{
	return vq->dev->log_on ? 1U << VHOST_VRING_F_LOG : 0;
}

static inline uint64_t round_up_u64(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

/* Milliseconds until @deadline (vblk_now_ns()), rounded up; 0 if past. */
static inline int remaining_ms(uint64_t deadline)
{
	uint64_t now = vblk_now_ns();

	if (now >= deadline)
		return 0;
	return (int)((deadline - now + 999999) / 1000000);
}

#endif /* VBD_PRIV_H */
