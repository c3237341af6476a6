// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk: vhost_blk_ioctl(), the ioctl switch of /dev/vhost-blk, and
 * the handlers of our own ioctls (<linux/vhost_blk.h>): backend, config
 * space, options, inflight region, config-change eventfd. The switch only
 * copies arguments and calls a named helper; the vhost ABI's helpers are
 * in vhost_ioctl.c, the owner's in main.c.
 */
#include <linux/fs.h>
#include <linux/file.h>
#include <linux/blkdev.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/nospec.h>

#include "vhost_blk.h"

/*
 * The first published version of each extensible struct ends with its
 * last field: the minimum size the ioctls accept.
 */
static_assert(VHOST_BLK_BACKEND_SIZE_VER0 ==
	      offsetofend(struct vhost_blk_backend, reserved));
static_assert(VHOST_BLK_CONFIG_SIZE_VER0 ==
	      offsetofend(struct vhost_blk_config, reserved));
static_assert(VHOST_BLK_OPTIONS_SIZE_VER0 ==
	      offsetofend(struct vhost_blk_options, reserved));
static_assert(VHOST_BLK_VRING_INFLIGHT_SIZE_VER0 ==
	      offsetofend(struct vhost_blk_vring_inflight, reserved));

/*
 * Read an extensible struct of our ABI. Its ioctl number carries no size
 * (_IO()): the size is the struct's first u32, as in iommufd. Below
 * @ver0 -EINVAL, above the page size -E2BIG, unknown trailing bytes
 * must be zero (-E2BIG). The copy's size field holds the size that was
 * checked, whatever the caller wrote there meanwhile.
 */
static int vhost_blk_copy_sized(void *dst, size_t ksize,
				const void __user *argp, u32 ver0)
{
	u32 size;
	int ret;

	if (get_user(size, (const u32 __user *)argp))
		return -EFAULT;
	if (size < ver0)
		return -EINVAL;
	if (size > PAGE_SIZE)
		return -E2BIG;
	ret = copy_struct_from_user(dst, ksize, argp, size);
	if (!ret)
		*(u32 *)dst = size;
	return ret;
}

static long vhost_blk_set_backend(struct vhost_blk_dev *dev,
				  struct vhost_blk_backend __user *argp)
{
	struct vhost_blk_backend b;
	struct file *file = NULL, *old;
	unsigned int i;
	long ret;

	ret = vhost_blk_copy_sized(&b, sizeof(b), argp,
				   VHOST_BLK_BACKEND_SIZE_VER0);
	if (ret)
		return ret;
	if (b.flags & ~VHOST_BLK_BACKEND_F_ALL)
		return -EOPNOTSUPP;
	if (memchr_inv(b.reserved, 0, sizeof(b.reserved)))
		return -EINVAL;

	if (b.fd != -1) {
		file = fget(b.fd);
		if (!file)
			return -EBADF;
		ret = vhost_blk_backend_allowed(file);
		if (ret)
			goto out_fput;
	}

	mutex_lock(&dev->mutex);
	ret = vhost_blk_check_owner(dev);
	if (ret)
		goto out_unlock;
	ret = vhost_blk_pause(dev);
	if (ret)
		goto out_unlock;

	old = dev->bfile;
	dev->bfile = file;
	dev->bdev = NULL;
	if (file && S_ISBLK(file_inode(file)->i_mode))
		dev->bdev = I_BDEV(file->f_mapping->host);
	dev->ro = file && ((b.flags & VHOST_BLK_BACKEND_F_RO) ||
			   !(file->f_mode & FMODE_WRITE) ||
			   (dev->bdev && bdev_read_only(dev->bdev)));
	memcpy(dev->serial, b.serial, sizeof(dev->serial));
	/* The owner chose the new size: no change to signal. */
	vhost_blk_capacity_reset(dev);
	file = old;

	/*
	 * A regular file's flush and fallocate run on the auxiliary worker
	 * of each queue worker, made after it. Without one (RLIMIT_NPROC,
	 * max_kthread_workers, memory) the queue worker runs them as
	 * before, counted in fdinfo: the backend works, only a slow flush
	 * holds its queue. One that was killed is made again.
	 */
	for (i = 0; i < VHOST_BLK_MAX_WORKERS; i++) {
		if (!dev->workers[i])
			continue;
		if (dev->bfile && !dev->bdev)
			vhost_blk_aux_start(dev->workers[i]);
		else
			vhost_blk_aux_stop(dev->workers[i]);
	}

	vhost_blk_unpause(dev);
out_unlock:
	mutex_unlock(&dev->mutex);
out_fput:
	if (file)
		fput(file);
	return ret;
}

static long vhost_blk_get_config(struct vhost_blk_dev *dev,
				 struct vhost_blk_config __user *argp)
{
	struct virtio_blk_config cfg;
	struct vhost_blk_config c;
	long ret;

	ret = vhost_blk_copy_sized(&c, sizeof(c), argp,
				   VHOST_BLK_CONFIG_SIZE_VER0);
	if (ret)
		return ret;
	if (memchr_inv(c.reserved, 0, sizeof(c.reserved)))
		return -EINVAL;

	mutex_lock(&dev->mutex);
	ret = vhost_blk_check_owner(dev);
	if (ret)
		goto out;
	if (!dev->bfile) {
		ret = -ENODEV;
		goto out;
	}
	vhost_blk_fill_config(dev, &cfg, &c.features);
	mutex_unlock(&dev->mutex);

	c.config_len = min_t(u32, c.config_len, sizeof(cfg));
	if (copy_to_user(u64_to_user_ptr(c.config_ptr), &cfg, c.config_len) ||
	    copy_to_user(argp, &c, min_t(u32, c.size, sizeof(c))))
		return -EFAULT;
	return 0;
out:
	mutex_unlock(&dev->mutex);
	return ret;
}

static long vhost_blk_set_options(struct vhost_blk_dev *dev,
				  struct vhost_blk_options __user *argp)
{
	struct vhost_blk_mem *cur, *mem = NULL;
	struct vhost_blk_options o;
	long ret;

	ret = vhost_blk_copy_sized(&o, sizeof(o), argp,
				   VHOST_BLK_OPTIONS_SIZE_VER0);
	if (ret)
		return ret;
	if (o.flags & ~VHOST_BLK_OPT_F_ALL)
		return -EOPNOTSUPP;
	if (o.reserved0 || memchr_inv(o.reserved, 0, sizeof(o.reserved)))
		return -EINVAL;

	mutex_lock(&dev->mutex);
	ret = vhost_blk_check_owner(dev);
	if (ret || o.flags == dev->options)
		goto out;

	/* The table in place is pinned or unpinned as a new copy. */
	cur = rcu_dereference_protected(dev->mem,
					lockdep_is_held(&dev->mutex));
	if (cur) {
		mem = vhost_blk_mem_dup(cur);
		if (!mem) {
			ret = -ENOMEM;
			goto out;
		}
		if (o.flags & VHOST_BLK_OPT_F_PIN_MEM) {
			ret = vhost_blk_mem_pin(mem, dev->mm, cur);
			if (ret) {
				vhost_blk_mem_free(mem, dev->mm);
				goto out;
			}
		}
	}

	ret = vhost_blk_install_mem(dev, mem ?: cur, o.flags);
	/* The copy, if one was made, did not go in. */
	if (ret && mem)
		vhost_blk_mem_free(mem, dev->mm);
out:
	mutex_unlock(&dev->mutex);
	return ret;
}

/*
 * VHOST_BLK_SET_VRING_INFLIGHT: where a stopped queue records the chains
 * in flight (inflight.c). Checked here against the ring size set now,
 * and again when the queue starts.
 */
static long vhost_blk_set_vring_inflight(struct vhost_blk_dev *dev,
					 struct vhost_blk_vring_inflight __user *argp)
{
	struct vhost_blk_vring_inflight v;
	struct vhost_blk_vq *vq;
	long ret;

	ret = vhost_blk_copy_sized(&v, sizeof(v), argp,
				   VHOST_BLK_VRING_INFLIGHT_SIZE_VER0);
	if (ret)
		return ret;
	if (memchr_inv(v.reserved, 0, sizeof(v.reserved)))
		return -EINVAL;
	if (v.index >= VHOST_BLK_MAX_VQS)
		return -ENOBUFS;
	if (v.addr) {
		ret = vhost_blk_inflight_check(v.addr, v.len, 0);
		if (ret)
			return ret;
	} else if (v.len) {
		return -EINVAL;
	}

	mutex_lock(&dev->mutex);
	ret = vhost_blk_check_owner(dev);
	if (ret)
		goto out;
	vq = &dev->vqs[array_index_nospec(v.index, VHOST_BLK_MAX_VQS)];
	if (vhost_blk_vq_busy(vq)) {
		ret = -EBUSY;
		goto out;
	}
	if (v.addr && vq->num) {
		ret = vhost_blk_inflight_check(v.addr, v.len, vq->num);
		if (ret)
			goto out;
	}
	vhost_blk_vq_lock(vq);
	vq->inflight_region = v.addr ? u64_to_user_ptr(v.addr) : NULL;
	vq->inflight_len = v.addr ? v.len : 0;
	mutex_unlock(&vq->mutex);
out:
	mutex_unlock(&dev->mutex);
	return ret;
}

/*
 * VHOST_BLK_SET_CONFIG_CALL: the eventfd signalled when the backend
 * changes size, or -1.
 */
static long vhost_blk_set_config_call(struct vhost_blk_dev *dev,
				      int __user *argp)
{
	struct eventfd_ctx *ctx;
	long ret;
	int fd;

	if (get_user(fd, argp))
		return -EFAULT;
	ctx = vhost_blk_eventfd_get(fd);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);

	mutex_lock(&dev->mutex);
	ret = vhost_blk_check_owner(dev);
	if (!ret)
		ctx = vhost_blk_set_config_ctx(dev, ctx);
	mutex_unlock(&dev->mutex);
	/* The old one, or the new one refused. */
	if (ctx)
		eventfd_ctx_put(ctx);
	return ret;
}

long vhost_blk_ioctl(struct file *f, unsigned int cmd,
		     unsigned long arg)
{
	struct vhost_blk_dev *dev = f->private_data;
	void __user *argp = (void __user *)arg;
	u64 __user *featurep = argp;
	u64 features;

	switch (cmd) {
	case VHOST_GET_FEATURES:
		features = VHOST_BLK_FEATURES | VHOST_BLK_VHOST_FEATURES;
		if (copy_to_user(featurep, &features, sizeof(features)))
			return -EFAULT;
		return 0;
	case VHOST_SET_FEATURES:
		if (copy_from_user(&features, featurep, sizeof(features)))
			return -EFAULT;
		return vhost_blk_set_features(dev, features);
	case VHOST_SET_OWNER:
		return vhost_blk_set_owner(dev);
	case VHOST_RESET_OWNER:
		return vhost_blk_reset_owner(dev);
	case VHOST_SET_MEM_TABLE:
		return vhost_blk_set_mem_table(dev, argp);
	case VHOST_SET_LOG_BASE:
		return vhost_blk_set_log_base(dev, argp);
	case VHOST_SET_LOG_FD:
		return vhost_blk_set_log_fd(dev, argp);
	case VHOST_BLK_SET_BACKEND:
		return vhost_blk_set_backend(dev, argp);
	case VHOST_BLK_GET_CONFIG:
		return vhost_blk_get_config(dev, argp);
	case VHOST_BLK_SET_OPTIONS:
		return vhost_blk_set_options(dev, argp);
	case VHOST_BLK_SET_VRING_INFLIGHT:
		return vhost_blk_set_vring_inflight(dev, argp);
	case VHOST_BLK_SET_CONFIG_CALL:
		return vhost_blk_set_config_call(dev, argp);
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_ADDR:
	case VHOST_SET_VRING_BASE:
	case VHOST_GET_VRING_BASE:
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR:
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT:
	case VHOST_GET_VRING_BUSYLOOP_TIMEOUT:
		return vhost_blk_vring_ioctl(dev, cmd, argp);
	case VHOST_NEW_WORKER:
	case VHOST_FREE_WORKER:
	case VHOST_ATTACH_VRING_WORKER:
	case VHOST_GET_VRING_WORKER:
		return vhost_blk_worker_ioctl(dev, cmd, argp);
	default:
		return -ENOIOCTLCMD;
	}
}
