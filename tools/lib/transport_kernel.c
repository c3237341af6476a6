// SPDX-License-Identifier: GPL-2.0
/*
 * transport_kernel.c - the vhost-kernel transport of the userspace
 * virtio-blk driver: /dev/vhost-blk and its ioctls (vhost_blk_ctl.c).
 *
 * d->fd is the open device node. Guest memory is private to the process:
 * the kernel reaches it through the memory table's userspace addresses.
 */
#include <errno.h>
#include <unistd.h>

#include "vbd_priv.h"
#include "vhost_blk_ctl.h"

static int kernel_connect(struct vblk_dev *d, const struct vblk_opts *o)
{
	d->fd = vhost_blk_open(o->path);
	return d->fd < 0 ? d->fd : 0;
}

static void kernel_close(struct vblk_dev *d)
{
	vbd_close_fd(&d->fd);
}

static int kernel_set_features(struct vblk_dev *d, uint64_t features)
{
	return vhost_blk_set_features(d->fd, features);
}

static int kernel_set_mem_table(struct vblk_dev *d)
{
	struct vhost_memory_region regions[VBLK_MAX_REGIONS];
	unsigned int n = vblk_dev_mem_regions(d, regions);

	return vhost_blk_set_mem_table(d->fd, regions, n);
}

/* SET_OWNER, GET_FEATURES, SET_FEATURES, SET_MEM_TABLE. */
static int kernel_setup(struct vblk_dev *d, uint64_t features_clear)
{
	int ret;

	ret = vhost_blk_set_owner(d->fd);
	if (ret)
		return ret;
	ret = vhost_blk_get_features(d->fd, &d->features_offered);
	if (ret)
		return ret;
	d->features = d->features_offered & VBLK_DRV_FEATURES &
		      ~features_clear;
	ret = kernel_set_features(d, d->features);
	if (ret)
		return ret;
	return kernel_set_mem_table(d);
}

static int kernel_read_config(struct vblk_dev *d)
{
	return vhost_blk_get_config(d->fd, &d->cfg, &d->cfg_features, NULL);
}

static int kernel_attach(struct vblk_dev *d, int backend_fd, uint64_t flags,
			 const char *serial)
{
	int ret = vhost_blk_set_backend(d->fd, backend_fd, flags, serial);

	if (ret || backend_fd < 0)
		return ret;
	return kernel_read_config(d);
}

static int kernel_reset_owner(struct vblk_dev *d)
{
	return vhost_blk_reset_owner(d->fd);
}

static int kernel_vq_set_addr(struct vblk_vq *vq)
{
	return vhost_blk_set_vring_addr_log(vq->dev->fd, vq->index,
					    (uintptr_t)vq->desc,
					    (uintptr_t)vq->avail,
					    (uintptr_t)vq->used,
					    log_flags(vq), vq->used_gpa);
}

/* SET_VRING_NUM, _ADDR, _BASE, _CALL, _ERR and _KICK. */
static int kernel_vq_start(struct vblk_vq *vq, unsigned int base)
{
	int fd = vq->dev->fd;
	int ret;

	ret = vhost_blk_set_vring_num(fd, vq->index, vq->num);
	if (!ret)
		ret = kernel_vq_set_addr(vq);
	if (!ret)
		ret = vhost_blk_set_vring_base(fd, vq->index, base);
	if (!ret)
		ret = vhost_blk_set_vring_call(fd, vq->index, vq->call_fd);
	if (!ret)
		ret = vhost_blk_set_vring_err(fd, vq->index, vq->err_fd);
	if (!ret)
		ret = vhost_blk_set_vring_kick(fd, vq->index, vq->kick_fd);
	return ret;
}

static int kernel_vq_stop(struct vblk_vq *vq, unsigned int *base)
{
	return vhost_blk_get_vring_base(vq->dev->fd, vq->index, base);
}

static int kernel_log_set_base(struct vblk_dev *d)
{
	int ret = vhost_blk_set_log_base(d->fd, (uintptr_t)d->log);

	if (ret)
		return ret;
	return vhost_blk_set_log_fd(d->fd, d->log_efd);
}

const struct vblk_transport_ops vblk_kernel_ops = {
	.name		= "vhost-kernel",
	.shared_memory	= false,
	.connect	= kernel_connect,
	.close		= kernel_close,
	.setup		= kernel_setup,
	.set_features	= kernel_set_features,
	.set_mem_table	= kernel_set_mem_table,
	.attach		= kernel_attach,
	.read_config	= kernel_read_config,
	.reset_owner	= kernel_reset_owner,
	.vq_start	= kernel_vq_start,
	.vq_stop	= kernel_vq_stop,
	.vq_set_addr	= kernel_vq_set_addr,
	.log_set_base	= kernel_log_set_base,
};
