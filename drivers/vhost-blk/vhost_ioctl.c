// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk: the handlers of the vhost ABI ioctls (<linux/vhost.h>):
 * features, the memory table, vrings, workers and the dirty log. Each
 * copies its argument in, validates it and changes the device under
 * dev->mutex; vhost_blk_ioctl() (ioctl.c) dispatches to them.
 */
#include <linux/file.h>
#include <linux/eventfd.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/nospec.h>

#include "vhost_blk.h"

static bool vhost_blk_any_busy(struct vhost_blk_dev *dev)
{
	unsigned int i;

	for (i = 0; i < VHOST_BLK_MAX_VQS; i++)
		if (vhost_blk_vq_busy(&dev->vqs[i]))
			return true;
	return false;
}

long vhost_blk_set_features(struct vhost_blk_dev *dev, u64 features)
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
	if (!vhost_blk_any_busy(dev)) {
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
		ret = vhost_blk_quiesce(dev);
		if (ret)
			goto out;
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
 * 0, or -EINTR when a fatal signal cut the wait short: nothing changed.
 */
int vhost_blk_install_mem(struct vhost_blk_dev *dev,
			  struct vhost_blk_mem *mem, u64 options)
{
	struct vhost_blk_mem *old;
	int ret;

	ret = vhost_blk_quiesce(dev);
	if (ret)
		return ret;
	old = rcu_replace_pointer(dev->mem, mem, lockdep_is_held(&dev->mutex));
	/* The data path reads the options of an unpaused queue. */
	dev->options = options;
	vhost_blk_unpause(dev);
	if (old != mem)
		vhost_blk_mem_retire(old, dev->mm);
	return 0;
}

long vhost_blk_set_mem_table(struct vhost_blk_dev *dev,
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
		ret = vhost_blk_mem_pin(mem, dev->mm, cur);
		if (ret)
			goto out_free_mem;
	}

	ret = vhost_blk_install_mem(dev, mem, dev->options);
	if (ret)
		goto out_free_mem;
	goto out_unlock;

out_free_mem:
	vhost_blk_mem_free(mem, dev->mm);
out_unlock:
	mutex_unlock(&dev->mutex);
out_free:
	kvfree(regions);
	return ret;
}

/* The worker the owner names by @id, or NULL; @id is the caller's. */
static struct vhost_blk_worker *vhost_blk_worker_by_id(struct vhost_blk_dev *dev,
						       u32 id)
{
	if (id >= VHOST_BLK_MAX_WORKERS)
		return NULL;
	return dev->workers[array_index_nospec(id, VHOST_BLK_MAX_WORKERS)];
}

long vhost_blk_worker_ioctl(struct vhost_blk_dev *dev, unsigned int cmd,
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
		if (vhost_blk_vq_busy(vq)) {
			ret = -EBUSY;
			break;
		}
		vhost_blk_vq_attach(vq, w);
		break;
	default:
		ret = -ENOIOCTLCMD;
		break;
	}
out:
	mutex_unlock(&dev->mutex);
	return ret;
}

static long vhost_blk_set_vring_kick(struct vhost_blk_dev *dev,
				     struct vhost_blk_vq *vq, int fd)
{
	struct file *kick;
	long ret;

	ret = vhost_blk_vq_stop(vq);
	if (ret)
		return ret;
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
struct eventfd_ctx *vhost_blk_eventfd_get(int fd)
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
	/* A request posting itself reads call_ctx under used_lock. */
	spin_lock_irq(&vq->used_lock);
	old = *slot;
	*slot = ctx;
	spin_unlock_irq(&vq->used_lock);
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
	if (vhost_blk_vq_busy(vq) &&
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

long vhost_blk_vring_ioctl(struct vhost_blk_dev *dev, unsigned int cmd,
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
		if (vhost_blk_vq_busy(vq))
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
		if (vhost_blk_vq_busy(vq))
			ret = -EBUSY;
		else if (s.num > U16_MAX)
			ret = -EINVAL;
		else
			vq->last_avail_idx = s.num;
		break;
	case VHOST_GET_VRING_BASE:
		/* Stops the ring: every consumed request is on used. */
		ret = vhost_blk_vq_stop(vq);
		if (ret)
			break;
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
long vhost_blk_set_log_base(struct vhost_blk_dev *dev,
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
long vhost_blk_set_log_fd(struct vhost_blk_dev *dev, int __user *argp)
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
