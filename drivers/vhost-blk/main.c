// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk: an in-kernel virtio-blk device for guests of a VMM.
 *
 * /dev/vhost-blk speaks the vhost ioctl ABI: the VMM (the owner) hands
 * over its guest memory table, the vrings and their eventfds, and a block
 * device; a worker per virtqueue, running in the owner's context, serves
 * the guest's requests with bios straight to that device.
 *
 * This file: the misc device, its lifetime and the ioctls. The ioctl
 * switch only copies arguments and calls a named helper.
 */
#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/file.h>
#include <linux/blkdev.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/nospec.h>
#include <linux/sched/mm.h>
#include <linux/compat.h>

#include "vhost_blk.h"

static void vhost_blk_vq_init(struct vhost_blk_dev *dev, unsigned int index)
{
	struct vhost_blk_vq *vq = &dev->vqs[index];

	vq->dev = dev;
	vq->index = index;
	mutex_init(&vq->mutex);
	atomic_set(&vq->ctl_waiting, 0);
	vhost_blk_poll_init(&vq->poll, vq);
	vhost_blk_work_init(&vq->kick_work, vhost_blk_handle_kick);
	vhost_blk_work_init(&vq->done_work, vhost_blk_handle_done);
	init_llist_head(&vq->done);
	atomic_set(&vq->inflight, 0);
	init_waitqueue_head(&vq->drain_wq);
	INIT_LIST_HEAD(&vq->budget_node);
	INIT_LIST_HEAD(&vq->inflight_claim);
	atomic64_set(&vq->kicks, 0);
	u64_stats_init(&vq->stats.syncp);
}

static int vhost_blk_open(struct inode *inode, struct file *f)
{
	static atomic_t ids = ATOMIC_INIT(0);
	struct vhost_blk_dev *dev;
	unsigned int i;

	dev = kvzalloc(sizeof(*dev), GFP_KERNEL_ACCOUNT);
	if (!dev)
		return -ENOMEM;
	mutex_init(&dev->mutex);
	vhost_blk_resize_init(dev);
	dev->id = atomic_inc_return(&ids);
	for (i = 0; i < VHOST_BLK_MAX_VQS; i++)
		vhost_blk_vq_init(dev, i);
	f->private_data = dev;
	return 0;
}

static int vhost_blk_check_owner(struct vhost_blk_dev *dev)
{
	return dev->mm && dev->mm == current->mm ? 0 : -EPERM;
}

/*
 * Take @vq's mutex from the control path. A worker busy-polling the queue
 * holds it for up to its window; the count tells it to let go at once.
 */
static void vhost_blk_vq_lock(struct vhost_blk_vq *vq)
{
	atomic_inc(&vq->ctl_waiting);
	mutex_lock(&vq->mutex);
	atomic_dec(&vq->ctl_waiting);
}

/*
 * Wait until no request of @vq is in flight. The worker posts completions
 * while it lives; without one (killed owner) this context reaps them.
 */
static void vhost_blk_vq_drain(struct vhost_blk_vq *vq)
{
	for (;;) {
		wait_event(vq->drain_wq,
			   !atomic_read(&vq->inflight) ||
			   (!rcu_access_pointer(vq->worker) &&
			    !llist_empty(&vq->done)));
		if (!atomic_read(&vq->inflight))
			return;
		vhost_blk_vq_lock(vq);
		vhost_blk_vq_complete(vq);
		mutex_unlock(&vq->mutex);
	}
}

/* Stop serving @vq and wait for its requests. Caller holds dev->mutex. */
static void vhost_blk_vq_stop(struct vhost_blk_vq *vq)
{
	vhost_blk_vq_lock(vq);
	vq->started = false;
	mutex_unlock(&vq->mutex);
	/* No new kick after this; a queued one sees !started. */
	vhost_blk_poll_stop(&vq->poll);
	vhost_blk_vq_budget_cancel(vq);
	vhost_blk_vq_drain(vq);
	/* Nothing of ours reaches the region now: another device may. */
	vhost_blk_inflight_unclaim(vq);
}

static void vhost_blk_vq_free_slots(struct vhost_blk_vq *vq)
{
	kvfree(vq->reqs);
	kvfree(vq->free_slots);
	kvfree(vq->chain);
	kvfree(vq->data_iov);
	kvfree(vq->segs);
	kvfree(vq->batch);
	kvfree(vq->resubmit);
	vq->batch = NULL;
	vq->resubmit = NULL;
	vq->nr_batch = 0;
	vq->nr_resubmit = 0;
	vq->resubmit_pos = 0;
	vq->segs = NULL;
	vq->reqs = NULL;
	vq->free_slots = NULL;
	vq->chain = NULL;
	vq->data_iov = NULL;
	vq->nr_free = 0;
}

/* Request slots, one per ring entry: nothing is allocated per request. */
static int vhost_blk_vq_alloc_slots(struct vhost_blk_vq *vq)
{
	unsigned int i;

	if (vq->reqs && vq->nr_free == vq->num)
		return 0;
	vhost_blk_vq_free_slots(vq);

	vq->reqs = kvcalloc(vq->num, sizeof(*vq->reqs), GFP_KERNEL_ACCOUNT);
	vq->free_slots = kvcalloc(vq->num, sizeof(*vq->free_slots),
				  GFP_KERNEL_ACCOUNT);
	vq->chain = kvmalloc(sizeof(*vq->chain), GFP_KERNEL_ACCOUNT);
	vq->data_iov = kvcalloc(VHOST_BLK_IOV_MAX, sizeof(*vq->data_iov),
				GFP_KERNEL_ACCOUNT);
	vq->segs = kvcalloc(VHOST_BLK_DISCARD_SEG_MAX, sizeof(*vq->segs),
			    GFP_KERNEL_ACCOUNT);
	/* Inflight tracking: heads used but not published, to resubmit. */
	vq->batch = kvcalloc(vq->num, sizeof(*vq->batch), GFP_KERNEL_ACCOUNT);
	vq->resubmit = kvcalloc(vq->num, sizeof(*vq->resubmit),
				GFP_KERNEL_ACCOUNT);
	if (!vq->reqs || !vq->free_slots || !vq->chain || !vq->data_iov ||
	    !vq->segs || !vq->batch || !vq->resubmit) {
		vhost_blk_vq_free_slots(vq);
		return -ENOMEM;
	}
	for (i = 0; i < vq->num; i++) {
		vq->reqs[i].vq = vq;
		vq->free_slots[i] = vq->num - 1 - i;
	}
	vq->nr_free = vq->num;
	return 0;
}

static void vhost_blk_vq_reset(struct vhost_blk_vq *vq)
{
	vhost_blk_vq_free_slots(vq);
	vhost_blk_work_init(&vq->kick_work, vhost_blk_handle_kick);
	vhost_blk_work_init(&vq->done_work, vhost_blk_handle_done);
	if (vq->kick)
		fput(vq->kick);
	if (vq->call_ctx)
		eventfd_ctx_put(vq->call_ctx);
	if (vq->err_ctx)
		eventfd_ctx_put(vq->err_ctx);
	vq->kick = NULL;
	vq->call_ctx = NULL;
	vq->err_ctx = NULL;
	vq->num = 0;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->addr_set = false;
	vq->last_avail_idx = 0;
	vq->avail_idx = 0;
	vq->last_used_idx = 0;
	vq->published_used = 0;
	vq->signalled_used_valid = false;
	vq->started = false;
	vq->paused = false;
	vq->broken = false;
	vq->starved = false;
	vq->busyloop_timeout = 0;
	vq->poll_window = 0;
	vq->dry_since = 0;
	vq->log_used = false;
	vq->log_addr = 0;
	vq->log_pending = false;
	vq->log_base = NULL;
	vq->log_ctx = NULL;	/* dev->log_ctx holds the reference */
	vq->inflight_region = NULL;
	vq->inflight_len = 0;
	vq->inflight_counter = 0;
	vq->inflight_batch_head = 0;
	vq->took_resubmit = false;
}

/*
 * Undo everything since SET_OWNER: stop and drain the queues, stop the
 * workers, drop files, memory table, backend and the owner's mm. Called
 * with dev->mutex held, from any context (the owner may be exiting).
 */
static void vhost_blk_dev_cleanup(struct vhost_blk_dev *dev)
{
	struct eventfd_ctx *config_ctx;
	struct vhost_blk_mem *mem;
	unsigned int i;

	for (i = 0; i < VHOST_BLK_MAX_VQS; i++)
		vhost_blk_vq_stop(&dev->vqs[i]);

	for (i = 0; i < VHOST_BLK_MAX_VQS; i++) {
		struct vhost_blk_vq *vq = &dev->vqs[i];

		vhost_blk_vq_lock(vq);
		RCU_INIT_POINTER(vq->worker, NULL);
		mutex_unlock(&vq->mutex);
	}
	/* Completion paths that still saw a worker or a queue are done. */
	synchronize_rcu();

	for (i = 0; i < VHOST_BLK_MAX_WORKERS; i++) {
		if (dev->workers[i]) {
			vhost_blk_worker_destroy(dev->workers[i]);
			dev->workers[i] = NULL;
		}
	}
	for (i = 0; i < VHOST_BLK_MAX_VQS; i++)
		vhost_blk_vq_reset(&dev->vqs[i]);

	mem = rcu_replace_pointer(dev->mem, NULL,
				  lockdep_is_held(&dev->mutex));
	/* No reader left: queues stopped, grace period over. */
	vhost_blk_mem_free(mem, dev->mm);
	dev->options = 0;

	if (dev->bfile)
		fput(dev->bfile);
	dev->bfile = NULL;
	dev->bdev = NULL;
	dev->ro = false;
	memset(dev->serial, 0, sizeof(dev->serial));
	vhost_blk_capacity_reset(dev);
	/* The periodic size check stops by itself without it. */
	config_ctx = vhost_blk_set_config_ctx(dev, NULL);
	if (config_ctx)
		eventfd_ctx_put(config_ctx);
	dev->acked_features = 0;
	dev->log_base = NULL;
	if (dev->log_ctx)
		eventfd_ctx_put(dev->log_ctx);
	dev->log_ctx = NULL;

	if (dev->mm)
		mmput(dev->mm);
	dev->mm = NULL;
}

static int vhost_blk_release(struct inode *inode, struct file *f)
{
	struct vhost_blk_dev *dev = f->private_data;

	mutex_lock(&dev->mutex);
	vhost_blk_dev_cleanup(dev);
	mutex_unlock(&dev->mutex);
	/* Not under dev->mutex: the size check takes it. */
	vhost_blk_resize_stop(dev);
	kvfree(dev);
	return 0;
}

static long vhost_blk_set_owner(struct vhost_blk_dev *dev)
{
	long ret = 0;

	mutex_lock(&dev->mutex);
	if (dev->mm) {
		ret = -EBUSY;
		goto out;
	}
	dev->mm = get_task_mm(current);
	if (!dev->mm)
		ret = -EINVAL;
out:
	mutex_unlock(&dev->mutex);
	return ret;
}

static long vhost_blk_reset_owner(struct vhost_blk_dev *dev)
{
	long ret;

	mutex_lock(&dev->mutex);
	ret = vhost_blk_check_owner(dev);
	if (!ret)
		vhost_blk_dev_cleanup(dev);
	mutex_unlock(&dev->mutex);
	return ret;
}

static bool vhost_blk_any_started(struct vhost_blk_dev *dev)
{
	unsigned int i;

	for (i = 0; i < VHOST_BLK_MAX_VQS; i++)
		if (dev->vqs[i].started)
			return true;
	return false;
}

/*
 * Let @vq take requests again. Its worker dropped the kicks that came while
 * it was paused (or had no backend), and with EVENT_IDX the guest does not
 * kick again for what it posted since: serve the ring now.
 */
static void vhost_blk_vq_unpause(struct vhost_blk_vq *vq)
{
	vhost_blk_vq_lock(vq);
	vq->paused = false;
	if (vq->started)
		vhost_blk_vq_queue_work(vq, &vq->kick_work);
	mutex_unlock(&vq->mutex);
}

/*
 * Pause every queue for a backend swap; fails if one has I/O in flight.
 * Paused queues take no new request until vhost_blk_unpause().
 */
static int vhost_blk_pause(struct vhost_blk_dev *dev)
{
	unsigned int i, j;

	for (i = 0; i < VHOST_BLK_MAX_VQS; i++) {
		struct vhost_blk_vq *vq = &dev->vqs[i];
		bool busy;

		vhost_blk_vq_lock(vq);
		busy = atomic_read(&vq->inflight);
		if (!busy)
			vq->paused = true;
		mutex_unlock(&vq->mutex);
		if (busy)
			goto busy;
	}
	return 0;

busy:
	for (j = 0; j < i; j++)
		vhost_blk_vq_unpause(&dev->vqs[j]);
	return -EBUSY;
}

/* Pause every queue and wait until none has a request in flight. */
static void vhost_blk_quiesce(struct vhost_blk_dev *dev)
{
	unsigned int i;

	for (i = 0; i < VHOST_BLK_MAX_VQS; i++) {
		vhost_blk_vq_lock(&dev->vqs[i]);
		dev->vqs[i].paused = true;
		mutex_unlock(&dev->vqs[i].mutex);
	}
	for (i = 0; i < VHOST_BLK_MAX_VQS; i++)
		vhost_blk_vq_drain(&dev->vqs[i]);
}

static void vhost_blk_unpause(struct vhost_blk_dev *dev)
{
	unsigned int i;

	for (i = 0; i < VHOST_BLK_MAX_VQS; i++)
		vhost_blk_vq_unpause(&dev->vqs[i]);
}

static long vhost_blk_set_features(struct vhost_blk_dev *dev, u64 features)
{
	const u64 log_all = BIT_ULL(VHOST_F_LOG_ALL);
	struct vhost_blk_mem *mem;
	long ret;

	if (features & ~(VHOST_BLK_FEATURES | VHOST_BLK_VHOST_FEATURES |
			 BIT_ULL(VIRTIO_BLK_F_RO)))
		return -EOPNOTSUPP;
	/* Rings are read little-endian: legacy ones only match on LE hosts. */
	if (IS_ENABLED(CONFIG_CPU_BIG_ENDIAN) &&
	    !(features & BIT_ULL(VIRTIO_F_VERSION_1)))
		return -EINVAL;

	mutex_lock(&dev->mutex);
	ret = vhost_blk_check_owner(dev);
	if (ret)
		goto out;
	mem = rcu_dereference_protected(dev->mem,
					lockdep_is_held(&dev->mutex));
	if ((features & log_all) && !vhost_blk_log_ok(dev, dev->log_base, mem)) {
		ret = -EFAULT;
		goto out;
	}
	if (!vhost_blk_any_started(dev)) {
		dev->acked_features = features;
		goto out;
	}
	/*
	 * Ring layout depends on the features: not while serving rings. Only
	 * dirty logging is switched on and off under a running guest (live
	 * migration); with no request in flight, so that every request is
	 * logged from its start or not at all.
	 */
	if ((features ^ dev->acked_features) & ~log_all) {
		ret = -EBUSY;
		goto out;
	}
	if (features != dev->acked_features) {
		vhost_blk_quiesce(dev);
		dev->acked_features = features;
		vhost_blk_unpause(dev);
	}
out:
	mutex_unlock(&dev->mutex);
	return ret;
}

/*
 * Replace the memory table and the options that go with it (@mem may be
 * the table in place). Caller holds dev->mutex. Requests in flight
 * write their status (and bounced data) through owner addresses found in
 * the old table, and may use its pinned pages: they finish first.
 */
static void vhost_blk_install_mem(struct vhost_blk_dev *dev,
				  struct vhost_blk_mem *mem, u64 options)
{
	struct vhost_blk_mem *old;

	vhost_blk_quiesce(dev);
	old = rcu_replace_pointer(dev->mem, mem, lockdep_is_held(&dev->mutex));
	/* The data path reads the options of an unpaused queue. */
	dev->options = options;
	vhost_blk_unpause(dev);
	if (!old || old == mem)
		return;
	if (!old->npinned) {
		kvfree_rcu(old, rcu);
		return;
	}
	/* Unpinning sleeps: wait for the readers here. */
	synchronize_rcu();
	vhost_blk_mem_free(old, dev->mm);
}

static long vhost_blk_set_mem_table(struct vhost_blk_dev *dev,
				    struct vhost_memory __user *argp)
{
	struct vhost_memory_region *regions = NULL;
	struct vhost_blk_mem *mem;
	struct vhost_memory hdr;
	unsigned int i;
	long ret;

	if (copy_from_user(&hdr, argp, sizeof(hdr)))
		return -EFAULT;
	if (hdr.padding)
		return -EINVAL;
	if (hdr.nregions > vhost_blk_max_mem_regions)
		return -E2BIG;
	if (hdr.nregions) {
		regions = kvmalloc_array(hdr.nregions, sizeof(*regions),
					 GFP_KERNEL_ACCOUNT);
		if (!regions)
			return -ENOMEM;
		if (copy_from_user(regions, argp->regions,
				   array_size(hdr.nregions, sizeof(*regions)))) {
			ret = -EFAULT;
			goto out_free;
		}
	}

	mutex_lock(&dev->mutex);
	ret = vhost_blk_check_owner(dev);
	if (ret)
		goto out_unlock;
	ret = vhost_blk_mem_create(regions, hdr.nregions, &mem);
	if (ret)
		goto out_unlock;

	/* A dirty log in use must cover the new table. */
	if (vhost_blk_has_feature(dev, VHOST_F_LOG_ALL) &&
	    !vhost_blk_log_ok(dev, dev->log_base, mem)) {
		ret = -EFAULT;
		goto out_free_mem;
	}
	/* Rings being served must stay inside guest memory. */
	for (i = 0; i < VHOST_BLK_MAX_VQS; i++) {
		struct vhost_blk_vq *vq = &dev->vqs[i];

		if (vq->started &&
		    !vhost_blk_vring_ok(mem, vq->num, vq->desc_addr,
					vq->avail_addr, vq->used_addr)) {
			ret = -EINVAL;
			goto out_free_mem;
		}
	}
	if (dev->options & VHOST_BLK_OPT_F_PIN_MEM) {
		struct vhost_blk_mem *cur;

		cur = rcu_dereference_protected(dev->mem,
						lockdep_is_held(&dev->mutex));
		ret = vhost_blk_mem_pin(mem, dev->mm, cur ? cur->npinned : 0);
		if (ret)
			goto out_free_mem;
	}

	vhost_blk_install_mem(dev, mem, dev->options);
	goto out_unlock;

out_free_mem:
	vhost_blk_mem_free(mem, dev->mm);
out_unlock:
	mutex_unlock(&dev->mutex);
out_free:
	kvfree(regions);
	return ret;
}

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
		umode_t mode;

		file = fget(b.fd);
		if (!file)
			return -EBADF;
		mode = file_inode(file)->i_mode;
		if (!S_ISBLK(mode) &&
		    (!S_ISREG(mode) || !file->f_op->read_iter ||
		     !file->f_op->write_iter)) {
			ret = -ENOTBLK;
			goto out_fput;
		}
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
			ret = vhost_blk_mem_pin(mem, dev->mm, cur->npinned);
			if (ret) {
				vhost_blk_mem_free(mem, dev->mm);
				goto out;
			}
		}
	}

	vhost_blk_install_mem(dev, mem ?: cur, o.flags);
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
	if (vq->started) {
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

/* A new worker in a free id slot. Caller holds dev->mutex. */
static struct vhost_blk_worker *vhost_blk_new_worker(struct vhost_blk_dev *dev)
{
	struct vhost_blk_worker *w;
	unsigned int id;

	for (id = 0; id < VHOST_BLK_MAX_WORKERS; id++)
		if (!dev->workers[id])
			break;
	if (id == VHOST_BLK_MAX_WORKERS)
		return ERR_PTR(-ENOSPC);
	w = vhost_blk_worker_create(dev, id);
	if (IS_ERR(w))
		return w;
	w->id = id;
	dev->workers[id] = w;
	return w;
}

/*
 * Point @vq at @w. @vq is stopped and drained; caller holds dev->mutex.
 * Work the old worker still holds for @vq runs before this returns, so
 * the queue's work items are free to be queued on @w.
 */
static void vhost_blk_vq_attach(struct vhost_blk_vq *vq,
				struct vhost_blk_worker *w)
{
	struct vhost_blk_worker *old;

	vhost_blk_vq_lock(vq);
	old = rcu_dereference_protected(vq->worker,
					lockdep_is_held(&vq->mutex));
	rcu_assign_pointer(vq->worker, w);
	if (old)
		atomic_dec(&old->attach_cnt);
	atomic_inc(&w->attach_cnt);
	mutex_unlock(&vq->mutex);
	if (old) {
		/* Completion paths that saw the old worker are done... */
		synchronize_rcu();
		/* ...and so is what they queued on it. */
		vhost_blk_worker_flush(old);
	}
}

/* The worker of @vq, created on first use. Caller holds dev->mutex. */
static struct vhost_blk_worker *vhost_blk_vq_worker(struct vhost_blk_dev *dev,
						    struct vhost_blk_vq *vq)
{
	struct vhost_blk_worker *w;

	vhost_blk_vq_lock(vq);
	w = rcu_dereference_protected(vq->worker,
				      lockdep_is_held(&vq->mutex));
	mutex_unlock(&vq->mutex);
	if (w)
		return w;
	w = vhost_blk_new_worker(dev);
	if (!IS_ERR(w))
		vhost_blk_vq_attach(vq, w);
	return w;
}

/* The worker the owner names by @id, or NULL; @id is the caller's. */
static struct vhost_blk_worker *vhost_blk_worker_by_id(struct vhost_blk_dev *dev,
						       u32 id)
{
	if (id >= VHOST_BLK_MAX_WORKERS)
		return NULL;
	return dev->workers[array_index_nospec(id, VHOST_BLK_MAX_WORKERS)];
}

static long vhost_blk_worker_ioctl(struct vhost_blk_dev *dev, unsigned int cmd,
				   void __user *argp)
{
	struct vhost_worker_state ws;
	struct vhost_vring_worker vw;
	struct vhost_blk_worker *w;
	struct vhost_blk_vq *vq;
	long ret;

	if (cmd == VHOST_NEW_WORKER || cmd == VHOST_FREE_WORKER) {
		if (copy_from_user(&ws, argp, sizeof(ws)))
			return -EFAULT;
	} else if (copy_from_user(&vw, argp, sizeof(vw))) {
		return -EFAULT;
	}

	mutex_lock(&dev->mutex);
	ret = vhost_blk_check_owner(dev);
	if (ret)
		goto out;

	switch (cmd) {
	case VHOST_NEW_WORKER:
		w = vhost_blk_new_worker(dev);
		if (IS_ERR(w)) {
			ret = PTR_ERR(w);
			break;
		}
		ws.worker_id = w->id;
		if (copy_to_user(argp, &ws, sizeof(ws)))
			ret = -EFAULT;
		break;
	case VHOST_FREE_WORKER:
		w = vhost_blk_worker_by_id(dev, ws.worker_id);
		if (!w) {
			ret = -ENODEV;
			break;
		}
		if (atomic_read(&w->attach_cnt)) {
			ret = -EBUSY;
			break;
		}
		dev->workers[w->id] = NULL;
		vhost_blk_worker_destroy(w);
		break;
	case VHOST_ATTACH_VRING_WORKER:
	case VHOST_GET_VRING_WORKER:
		if (vw.index >= VHOST_BLK_MAX_VQS) {
			ret = -ENOBUFS;
			break;
		}
		vq = &dev->vqs[array_index_nospec(vw.index, VHOST_BLK_MAX_VQS)];
		if (cmd == VHOST_GET_VRING_WORKER) {
			w = vhost_blk_vq_worker(dev, vq);
			if (IS_ERR(w)) {
				ret = PTR_ERR(w);
				break;
			}
			vw.worker_id = w->id;
			if (copy_to_user(argp, &vw, sizeof(vw)))
				ret = -EFAULT;
			break;
		}
		w = vhost_blk_worker_by_id(dev, vw.worker_id);
		if (!w || READ_ONCE(w->killed)) {
			ret = -ENODEV;
			break;
		}
		if (vq->started) {
			ret = -EBUSY;
			break;
		}
		vhost_blk_vq_attach(vq, w);
		break;
	}
out:
	mutex_unlock(&dev->mutex);
	return ret;
}

/* Start serving @vq on @kick. Caller holds dev->mutex; @vq is stopped. */
static int vhost_blk_vq_start(struct vhost_blk_dev *dev,
			      struct vhost_blk_vq *vq, struct file *kick)
{
	struct vhost_blk_worker *w;
	struct vhost_blk_mem *mem;
	int ret;

	mem = rcu_dereference_protected(dev->mem,
					lockdep_is_held(&dev->mutex));
	if (!vq->num || !vq->addr_set)
		return -EINVAL;
	if (!vhost_blk_vring_ok(mem, vq->num, vq->desc_addr, vq->avail_addr,
				vq->used_addr))
		return -EFAULT;
	/* The ring size may have changed since VHOST_SET_VRING_ADDR. */
	if (vq->log_used &&
	    !vhost_blk_log_used_ok(dev->log_base, vq->log_addr, vq->num))
		return -EFAULT;

	w = vhost_blk_vq_worker(dev, vq);
	if (IS_ERR(w))
		return PTR_ERR(w);
	/* May wait for a device of a dead owner to drain the same region. */
	ret = vhost_blk_inflight_claim(vq);
	if (ret)
		return ret;

	vhost_blk_vq_lock(vq);
	ret = vhost_blk_vq_alloc_slots(vq);
	if (ret)
		goto unclaim;
	vq->event_idx = vhost_blk_has_feature(dev, VIRTIO_RING_F_EVENT_IDX);
	ret = vhost_blk_vq_init_access(vq);
	if (ret)
		goto unclaim;
	ret = vhost_blk_inflight_start(vq);
	if (ret)
		goto unclaim;
	if (vq->kick != kick) {
		if (vq->kick)
			fput(vq->kick);
		vq->kick = get_file(kick);
	}
	vq->started = true;
	mutex_unlock(&vq->mutex);

	ret = vhost_blk_poll_start(&vq->poll, kick);
	if (ret) {
		/* Its wakeups may have started requests already. */
		vhost_blk_vq_stop(vq);
		return ret;
	}
	/*
	 * Serve what is on the ring now: the guest may not kick for it,
	 * having seen notifications off when the queue stopped.
	 */
	vhost_blk_vq_queue_work(vq, &vq->kick_work);
	return 0;
unclaim:
	mutex_unlock(&vq->mutex);
	vhost_blk_inflight_unclaim(vq);
	return ret;
}

static long vhost_blk_set_vring_kick(struct vhost_blk_dev *dev,
				     struct vhost_blk_vq *vq, int fd)
{
	struct file *kick;
	long ret;

	vhost_blk_vq_stop(vq);
	if (fd == -1) {
		vhost_blk_vq_lock(vq);
		if (vq->kick)
			fput(vq->kick);
		vq->kick = NULL;
		mutex_unlock(&vq->mutex);
		return 0;
	}

	kick = eventfd_fget(fd);
	if (IS_ERR(kick))
		return PTR_ERR(kick);
	ret = vhost_blk_vq_start(dev, vq, kick);
	fput(kick);
	return ret;
}

/* The eventfd context of @fd, NULL for -1, or an ERR_PTR. */
static struct eventfd_ctx *vhost_blk_eventfd_get(int fd)
{
	return fd == -1 ? NULL : eventfd_ctx_fdget(fd);
}

/* Replace an eventfd context of @vq under its mutex. */
static long vhost_blk_set_vring_ctx(struct vhost_blk_vq *vq,
				    struct eventfd_ctx **slot, int fd)
{
	struct eventfd_ctx *ctx = vhost_blk_eventfd_get(fd), *old;

	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	vhost_blk_vq_lock(vq);
	old = *slot;
	*slot = ctx;
	mutex_unlock(&vq->mutex);
	if (old)
		eventfd_ctx_put(old);
	return 0;
}

static long vhost_blk_set_vring_addr(struct vhost_blk_dev *dev,
				     struct vhost_blk_vq *vq,
				     const struct vhost_vring_addr *a)
{
	bool log = a->flags & BIT(VHOST_VRING_F_LOG);
	struct vhost_blk_mem *mem;

	if (a->flags & ~BIT(VHOST_VRING_F_LOG))
		return -EOPNOTSUPP;
	if ((a->desc_user_addr & (16 - 1)) || (a->avail_user_addr & 1) ||
	    (a->used_user_addr & (4 - 1)) || (a->log_guest_addr & (4 - 1)))
		return -EINVAL;
	if (!vq->num)
		return -EINVAL;
	/*
	 * A running ring keeps its addresses; only its dirty logging may be
	 * switched, as a VMM does when live migration starts and ends.
	 */
	if (vq->started &&
	    (a->desc_user_addr != vq->desc_addr ||
	     a->avail_user_addr != vq->avail_addr ||
	     a->used_user_addr != vq->used_addr))
		return -EBUSY;
	mem = rcu_dereference_protected(dev->mem,
					lockdep_is_held(&dev->mutex));
	if (!vhost_blk_vring_ok(mem, vq->num, a->desc_user_addr,
				a->avail_user_addr, a->used_user_addr))
		return -EFAULT;
	if (log && !vhost_blk_log_used_ok(dev->log_base, a->log_guest_addr,
					  vq->num))
		return -EFAULT;

	vhost_blk_vq_lock(vq);
	vq->log_used = log;
	vq->log_addr = a->log_guest_addr;
	vq->desc_addr = a->desc_user_addr;
	vq->avail_addr = a->avail_user_addr;
	vq->used_addr = a->used_user_addr;
	vq->desc = u64_to_user_ptr(a->desc_user_addr);
	vq->avail = u64_to_user_ptr(a->avail_user_addr);
	vq->used = u64_to_user_ptr(a->used_user_addr);
	vq->addr_set = true;
	mutex_unlock(&vq->mutex);
	return 0;
}

static long vhost_blk_vring_ioctl(struct vhost_blk_dev *dev, unsigned int cmd,
				  void __user *argp)
{
	struct vhost_vring_state s;
	struct vhost_vring_addr a;
	struct vhost_vring_file f;
	struct vhost_blk_vq *vq;
	u32 idx;
	long ret;

	if (get_user(idx, (u32 __user *)argp))
		return -EFAULT;
	if (idx >= VHOST_BLK_MAX_VQS)
		return -ENOBUFS;
	idx = array_index_nospec(idx, VHOST_BLK_MAX_VQS);

	switch (cmd) {
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_BASE:
	case VHOST_GET_VRING_BASE:
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT:
	case VHOST_GET_VRING_BUSYLOOP_TIMEOUT:
		if (copy_from_user(&s, argp, sizeof(s)))
			return -EFAULT;
		break;
	case VHOST_SET_VRING_ADDR:
		if (copy_from_user(&a, argp, sizeof(a)))
			return -EFAULT;
		break;
	default:
		if (copy_from_user(&f, argp, sizeof(f)))
			return -EFAULT;
		break;
	}

	mutex_lock(&dev->mutex);
	ret = vhost_blk_check_owner(dev);
	if (ret)
		goto out;
	vq = &dev->vqs[idx];

	switch (cmd) {
	case VHOST_SET_VRING_NUM:
		if (vq->started)
			ret = -EBUSY;
		else if (!s.num || s.num > VHOST_BLK_VRING_MAX ||
			 (s.num & (s.num - 1)))
			ret = -EINVAL;
		else
			vq->num = s.num;
		break;
	case VHOST_SET_VRING_ADDR:
		ret = vhost_blk_set_vring_addr(dev, vq, &a);
		break;
	case VHOST_SET_VRING_BASE:
		if (vq->started)
			ret = -EBUSY;
		else if (s.num > U16_MAX)
			ret = -EINVAL;
		else
			vq->last_avail_idx = s.num;
		break;
	case VHOST_GET_VRING_BASE:
		/* Stops the ring: every consumed request is on used. */
		vhost_blk_vq_stop(vq);
		s.num = vq->last_avail_idx;
		if (copy_to_user(argp, &s, sizeof(s)))
			ret = -EFAULT;
		break;
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT:
		if (s.num > VHOST_BLK_BUSYLOOP_MAX_US) {
			ret = -EINVAL;
			break;
		}
		/* The worker reads it under the queue's mutex. */
		vhost_blk_vq_lock(vq);
		vq->busyloop_timeout = s.num;
		mutex_unlock(&vq->mutex);
		break;
	case VHOST_GET_VRING_BUSYLOOP_TIMEOUT:
		vhost_blk_vq_lock(vq);
		s.num = vq->busyloop_timeout;
		mutex_unlock(&vq->mutex);
		if (copy_to_user(argp, &s, sizeof(s)))
			ret = -EFAULT;
		break;
	case VHOST_SET_VRING_KICK:
		ret = vhost_blk_set_vring_kick(dev, vq, f.fd);
		break;
	case VHOST_SET_VRING_CALL:
		ret = vhost_blk_set_vring_ctx(vq, &vq->call_ctx, f.fd);
		break;
	case VHOST_SET_VRING_ERR:
		ret = vhost_blk_set_vring_ctx(vq, &vq->err_ctx, f.fd);
		break;
	default:
		ret = -ENOIOCTLCMD;
		break;
	}
out:
	mutex_unlock(&dev->mutex);
	return ret;
}

/*
 * VHOST_SET_LOG_BASE: the dirty log may move while queues run (the owner
 * grows it with guest memory); requests finishing afterwards log there.
 * 0 removes the log, only while nothing may log (VHOST_F_LOG_ALL and
 * VHOST_VRING_F_LOG need a log).
 */
static long vhost_blk_set_log_base(struct vhost_blk_dev *dev,
				   u64 __user *argp)
{
	struct vhost_blk_mem *mem;
	void __user *base;
	unsigned int i;
	long ret;
	u64 p;

	if (copy_from_user(&p, argp, sizeof(p)))
		return -EFAULT;
	if (p != (unsigned long)p)
		return -EFAULT;
	base = u64_to_user_ptr(p);

	mutex_lock(&dev->mutex);
	ret = vhost_blk_check_owner(dev);
	if (ret)
		goto out;
	mem = rcu_dereference_protected(dev->mem,
					lockdep_is_held(&dev->mutex));
	if (base ? !vhost_blk_log_ok(dev, base, mem) :
		   vhost_blk_log_in_use(dev)) {
		ret = -EFAULT;
		goto out;
	}
	dev->log_base = base;
	for (i = 0; i < VHOST_BLK_MAX_VQS; i++) {
		vhost_blk_vq_lock(&dev->vqs[i]);
		dev->vqs[i].log_base = base;
		mutex_unlock(&dev->vqs[i].mutex);
	}
out:
	mutex_unlock(&dev->mutex);
	return ret;
}

/* VHOST_SET_LOG_FD: the eventfd signalled after bits are set, or -1. */
static long vhost_blk_set_log_fd(struct vhost_blk_dev *dev, int __user *argp)
{
	struct eventfd_ctx *ctx;
	unsigned int i;
	long ret;
	int fd;

	if (get_user(fd, argp))
		return -EFAULT;
	ctx = vhost_blk_eventfd_get(fd);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);

	mutex_lock(&dev->mutex);
	ret = vhost_blk_check_owner(dev);
	if (ret)
		goto out;
	swap(ctx, dev->log_ctx);
	for (i = 0; i < VHOST_BLK_MAX_VQS; i++) {
		vhost_blk_vq_lock(&dev->vqs[i]);
		dev->vqs[i].log_ctx = dev->log_ctx;
		mutex_unlock(&dev->vqs[i].mutex);
	}
out:
	mutex_unlock(&dev->mutex);
	if (ctx)
		eventfd_ctx_put(ctx);
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

static long vhost_blk_ioctl(struct file *f, unsigned int cmd,
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

static const struct file_operations vhost_blk_fops = {
	.owner		= THIS_MODULE,
	.open		= vhost_blk_open,
	.release	= vhost_blk_release,
	.unlocked_ioctl	= vhost_blk_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
	.show_fdinfo	= vhost_blk_show_fdinfo,
};

static struct miscdevice vhost_blk_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "vhost-blk",
	.fops	= &vhost_blk_fops,
};

static int __init vhost_blk_init(void)
{
	return misc_register(&vhost_blk_misc);
}
module_init(vhost_blk_init);

static void __exit vhost_blk_exit(void)
{
	misc_deregister(&vhost_blk_misc);
}
module_exit(vhost_blk_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("In-kernel virtio-blk device backend for vhost");
MODULE_VERSION(VHOST_BLK_VERSION);
