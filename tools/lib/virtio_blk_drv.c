// SPDX-License-Identifier: GPL-2.0
/*
 * virtio_blk_drv - a userspace virtio-blk driver for /dev/vhost-blk.
 *
 * This file is the device: it opens the transport, sets the device up,
 * reads its config, resets and tears it down, and drives the dirty log.
 * Guest memory is in vbd_mem.c, virtqueues in vbd_vring.c, requests in
 * vbd_req.c; the transport (transport_kernel.c, transport_user.c) is
 * reached through d->ops only (vbd_priv.h).
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vbd_priv.h"
#include "vhost_blk_ctl.h"

/* ---- device ---- */

int vblk_dev_open(struct vblk_dev **dp, const struct vblk_opts *opts)
{
	struct vblk_opts def = VBLK_OPTS_DEFAULT;
	struct vblk_dev *d;
	int ret;

	if (!opts)
		opts = &def;
	if (opts->num_queues > VHOST_BLK_MAX_QUEUES || !opts->queue_size ||
	    opts->queue_size > 32768 ||
	    (opts->queue_size & (opts->queue_size - 1)))
		return -EINVAL;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->fd = -1;
	d->mem_fd = -1;
	d->log_fd = -1;
	d->inflight_fd = -1;
	d->log_efd = -1;
	d->backend_req_fd = -1;
	d->want_backend_req = opts->vhost_user_backend_req;
	d->max_queues = VHOST_BLK_MAX_QUEUES;
	d->num_queues = opts->num_queues;
	d->queue_size = opts->queue_size;
	d->ops = opts->vhost_user ? &vblk_user_ops : &vblk_kernel_ops;
	for (unsigned int i = 0; i < VHOST_BLK_MAX_QUEUES; i++) {
		struct vblk_vq *vq = &d->vqs[i];

		vq->dev = d;
		vq->index = i;
		vq->kick_fd = -1;
		vq->call_fd = -1;
		vq->err_fd = -1;
	}

	ret = vbd_mem_map(d, opts, d->ops->shared_memory);
	if (!ret)
		ret = d->ops->connect(d, opts);
	if (ret) {
		vblk_dev_destroy(d);
		return ret;
	}
	*dp = d;
	return 0;
}

unsigned int vblk_dev_mem_regions(const struct vblk_dev *d,
				  struct vhost_memory_region *out)
{
	for (unsigned int i = 0; i < d->nregions; i++) {
		out[i] = (struct vhost_memory_region){
			.guest_phys_addr = d->regions[i].gpa,
			.memory_size = d->regions[i].size,
			.userspace_addr = (uintptr_t)d->regions[i].hva,
		};
	}
	return d->nregions;
}

bool vblk_dev_is_vhost_user(const struct vblk_dev *d)
{
	return d->ops == &vblk_user_ops;
}

int vblk_dev_set_mem_table(struct vblk_dev *d)
{
	return d->ops->set_mem_table(d);
}

int vblk_dev_setup(struct vblk_dev *d, uint64_t features_clear)
{
	return d->ops->setup(d, features_clear);
}

int vblk_dev_read_config(struct vblk_dev *d)
{
	return d->ops->read_config(d);
}

int vblk_dev_attach(struct vblk_dev *d, int backend_fd, uint64_t flags,
		    const char *serial)
{
	return d->ops->attach(d, backend_fd, flags, serial);
}

bool vblk_env_pin_mem(void)
{
	const char *p = getenv("VBLK_PIN_MEM");

	return p && !strcmp(p, "1");
}

int vblk_dev_create(struct vblk_dev **dp, const struct vblk_opts *opts,
		    int backend_fd, uint64_t flags, const char *serial)
{
	struct vblk_opts def = VBLK_OPTS_DEFAULT;
	struct vblk_dev *d;
	int ret;

	if (!opts)
		opts = &def;
	ret = vblk_dev_open(&d, opts);
	if (ret)
		return ret;
	ret = vblk_dev_setup(d, opts->features_clear);
	if (!ret && !opts->vhost_user &&
	    (opts->pin_mem || vblk_env_pin_mem()))
		ret = vhost_blk_set_options(d->fd, VHOST_BLK_OPT_F_PIN_MEM);
	if (!ret)
		ret = vblk_dev_attach(d, backend_fd, flags, serial);
	for (unsigned int i = 0; !ret && i < opts->num_queues; i++)
		ret = vblk_vq_start(d, i, 0);
	if (ret) {
		vblk_dev_destroy(d);
		return ret;
	}
	*dp = d;
	return 0;
}

int vblk_dev_reset_owner(struct vblk_dev *d)
{
	int ret = d->ops->reset_owner(d);

	if (ret)
		return ret;
	for (unsigned int i = 0; i < VHOST_BLK_MAX_QUEUES; i++)
		d->vqs[i].started = false;
	return 0;
}

int vblk_dev_reconnect(struct vblk_dev *d, const char *path, int wait_ms)
{
	if (!d->ops->reconnect)
		return -EOPNOTSUPP;
	return d->ops->reconnect(d, path, wait_ms);
}

void vblk_dev_close_fd(struct vblk_dev *d)
{
	d->ops->close(d);
}

void vblk_dev_destroy(struct vblk_dev *d)
{
	if (!d)
		return;
	/* The device goes first: it must not touch memory freed below. */
	d->ops->close(d);
	if (d->ops->release)
		d->ops->release(d);
	if (d->log)
		munmap(d->log, d->log_size);
	vbd_close_fd(&d->log_fd);
	vbd_close_fd(&d->inflight_fd);
	vbd_close_fd(&d->log_efd);
	vbd_close_fd(&d->backend_req_fd);
	for (unsigned int i = 0; i < VHOST_BLK_MAX_QUEUES; i++)
		vbd_vq_release(&d->vqs[i]);
	vbd_mem_unmap(d);
	free(d);
}

uint64_t vblk_dev_capacity(const struct vblk_dev *d)
{
	return le64toh(d->cfg.capacity);
}

bool vblk_dev_has_feature(const struct vblk_dev *d, unsigned int bit)
{
	return d->features & (1ULL << bit);
}

uint32_t vblk_dev_size_max(const struct vblk_dev *d)
{
	uint32_t v = le32toh(d->cfg.size_max);

	if (!vblk_dev_has_feature(d, VIRTIO_BLK_F_SIZE_MAX) || !v)
		return UINT32_MAX;
	return v;
}

uint32_t vblk_dev_seg_max(const struct vblk_dev *d)
{
	uint32_t v = le32toh(d->cfg.seg_max);

	if (!vblk_dev_has_feature(d, VIRTIO_BLK_F_SEG_MAX) || !v)
		return d->queue_size;
	return v;
}

/* ---- dirty log ---- */

/* Bytes of a log covering every region, in whole 64-bit words. */
static size_t log_bytes(const struct vblk_dev *d)
{
	uint64_t end = 0;

	for (unsigned int i = 0; i < d->nregions; i++)
		if (d->regions[i].gpa + d->regions[i].size > end)
			end = d->regions[i].gpa + d->regions[i].size;
	return ((end / 4096 + 63) / 64) * 8;
}

static int log_alloc(struct vblk_dev *d)
{
	size_t size = log_bytes(d);
	int flags = MAP_SHARED;
	void *p;

	if (d->log)
		return 0;
	if (d->ops->shared_memory) {
		d->log_fd = memfd_create("vblk-dirty-log", MFD_CLOEXEC);
		if (d->log_fd < 0)
			return -errno;
		if (ftruncate(d->log_fd, size))
			return -errno;
	} else {
		flags |= MAP_ANONYMOUS;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, d->log_fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	d->log = p;
	d->log_size = size;
	return vbd_new_eventfd(&d->log_efd);
}

/* Acknowledge the driver's features, with VHOST_F_LOG_ALL or without. */
/* Acknowledge the driver's features, with VHOST_F_LOG_ALL or without. */
static int log_features(struct vblk_dev *d, bool on)
{
	return d->ops->set_features(d, d->features |
				    (on ? 1ULL << VHOST_F_LOG_ALL : 0));
}

/* SET_VRING_ADDR again on every started queue, logging as d->log_on. */
static int log_rings(struct vblk_dev *d)
{
	for (unsigned int i = 0; i < VHOST_BLK_MAX_QUEUES; i++) {
		struct vblk_vq *vq = &d->vqs[i];
		int ret;

		if (!vq->started)
			continue;
		ret = d->ops->vq_set_addr(vq);
		if (ret)
			return ret;
	}
	return 0;
}

int vblk_dev_log_start(struct vblk_dev *d)
{
	int ret;

	if (d->ops->log_check) {
		ret = d->ops->log_check(d);
		if (ret)
			return ret;
	}
	ret = log_alloc(d);
	if (ret)
		return ret;
	/* The log covers guest memory before the device may write it. */
	ret = d->ops->log_set_base(d);
	if (!ret)
		ret = log_features(d, true);
	if (ret)
		return ret;
	d->log_on = true;
	return log_rings(d);
}

int vblk_dev_log_stop(struct vblk_dev *d)
{
	int ret = log_features(d, false);

	if (ret)
		return ret;
	d->log_on = false;
	return log_rings(d);
}

bool vblk_log_test(const struct vblk_dev *d, uint64_t gpa)
{
	uint64_t page = gpa / 4096;

	if (!d->log || page / 8 >= d->log_size)
		return false;
	return __atomic_load_n(&d->log[page / 8], __ATOMIC_ACQUIRE) &
	       (1U << (page % 8));
}

void vblk_log_clear(struct vblk_dev *d)
{
	if (d->log)
		memset(d->log, 0, d->log_size);
}
