// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk: an in-kernel virtio-blk device for guests of a VMM.
 *
 * /dev/vhost-blk speaks the vhost ioctl ABI: the VMM (the owner) hands
 * over its guest memory table, the vrings and their eventfds, and a block
 * device; a worker per virtqueue, running in the owner's context, serves
 * the guest's requests with bios straight to that device.
 *
 * This file: the misc device and the device's lifetime: open, owner,
 * queue start, stop and pause, workers, reset and release. The ioctls
 * are dispatched in ioctl.c.
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
	spin_lock_init(&vq->used_lock);
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
	spin_lock_init(&dev->aux_lock);
	vhost_blk_resize_init(dev);
	dev->id = atomic_inc_return(&ids);
	for (i = 0; i < VHOST_BLK_MAX_VQS; i++)
		vhost_blk_vq_init(dev, i);
	f->private_data = dev;
	return 0;
}

int vhost_blk_check_owner(struct vhost_blk_dev *dev)
{
	return dev->mm && dev->mm == current->mm ? 0 : -EPERM;
}

/*
 * Take @vq's mutex from the control path. A worker busy-polling the queue
 * holds it for up to its window; the count tells it to let go at once.
 */
void vhost_blk_vq_lock(struct vhost_blk_vq *vq)
{
	atomic_inc(&vq->ctl_waiting);
	mutex_lock(&vq->mutex);
	atomic_dec(&vq->ctl_waiting);
}

static bool vhost_blk_vq_drained(struct vhost_blk_vq *vq)
{
	return !atomic_read(&vq->inflight) ||
	       (!rcu_access_pointer(vq->worker) && !llist_empty(&vq->done));
}

/*
 * Wait until no request of @vq is in flight, as dev->drain_mode says. The
 * worker posts completions while it lives; without one (killed owner)
 * this context reaps them. 0; -EINTR when a release has to leave the
 * rest to vhost_blk_release_work(); -EAGAIN there while requests remain.
 */
static int vhost_blk_vq_drain(struct vhost_blk_vq *vq)
{
	enum vhost_blk_drain_mode mode = vq->dev->drain_mode;
	int ret = 0;

	for (;;) {
		switch (mode) {
		case VHOST_BLK_DRAIN_NOWAIT:
			if (!vhost_blk_vq_drained(vq))
				ret = -EAGAIN;
			break;
		default:
			/*
			 * An exiting task may not see its SIGKILL, and a
			 * kernel thread (a delayed fput) never gets one.
			 */
			if (current->flags & (PF_EXITING | PF_KTHREAD)) {
				if (!vhost_blk_vq_drained(vq))
					ret = -EINTR;
				break;
			}
			ret = wait_event_killable(vq->drain_wq,
						  vhost_blk_vq_drained(vq));
			break;
		}
		if (ret)
			return ret == -EAGAIN ? ret : -EINTR;
		if (!atomic_read(&vq->inflight))
			return 0;
		vhost_blk_vq_lock(vq);
		vhost_blk_vq_complete(vq);
		mutex_unlock(&vq->mutex);
	}
}

/* Stop serving @vq: no kick or budget wake-up starts a request now. */
static void vhost_blk_vq_halt(struct vhost_blk_vq *vq)
{
	vhost_blk_vq_lock(vq);
	vq->started = false;
	vhost_blk_vq_reap_soon(vq);
	mutex_unlock(&vq->mutex);
	/* No new kick after this; a queued one sees !started. */
	vhost_blk_poll_stop(&vq->poll);
	vhost_blk_vq_budget_cancel(vq);
}

/* Wait for the requests of a halted @vq, then let go of its region. */
static int vhost_blk_vq_finish(struct vhost_blk_vq *vq)
{
	int ret = vhost_blk_vq_drain(vq);

	if (ret)
		return ret;
	/* Nothing of ours reaches the region now: another device may. */
	vhost_blk_inflight_unclaim(vq);
	/* Nor does a completion reach the rings. */
	vhost_blk_vq_lock(vq);
	vhost_blk_vq_unmap_rings(vq);
	mutex_unlock(&vq->mutex);
	return 0;
}

/*
 * Stop serving @vq and wait for its requests. Caller holds dev->mutex.
 * 0, or -EINTR from vhost_blk_vq_drain(): the queue is stopped, requests
 * are still in flight, and stopping it again finishes the job.
 */
int vhost_blk_vq_stop(struct vhost_blk_vq *vq)
{
	vhost_blk_vq_halt(vq);
	return vhost_blk_vq_finish(vq);
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
	vhost_blk_vq_unmap_rings(vq);
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
 * with dev->mutex held, from any context (the owner may be exiting). 0,
 * or the error of vhost_blk_vq_drain() while a release leaves a queue's
 * requests in flight to vhost_blk_release_work(), which calls it again.
 */
static int vhost_blk_dev_cleanup(struct vhost_blk_dev *dev)
{
	struct eventfd_ctx *config_ctx;
	struct vhost_blk_mem *mem;
	unsigned int i;
	int ret = 0;

	/*
	 * Every queue stops before any is waited for: a release cut short
	 * leaves no queue served. Each is finished even when an earlier one
	 * is not, so a stalled queue keeps no other's completions unreaped.
	 */
	for (i = 0; i < VHOST_BLK_MAX_VQS; i++)
		vhost_blk_vq_halt(&dev->vqs[i]);
	for (i = 0; i < VHOST_BLK_MAX_VQS; i++) {
		int err = vhost_blk_vq_finish(&dev->vqs[i]);

		if (err && !ret)
			ret = err;
	}
	if (ret)
		return ret;

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
	return 0;
}

/* Releases that wait for a backend after their file is gone. */
static struct workqueue_struct *vhost_blk_release_wq;

static void vhost_blk_dev_free(struct vhost_blk_dev *dev)
{
	/* Not under dev->mutex: the size check takes it. */
	vhost_blk_resize_stop(dev);
	kvfree(dev);
}

/*
 * Drop the reference of a cut-short release or of its work; the last
 * frees the device and lets the module go.
 */
static void vhost_blk_release_put(struct vhost_blk_dev *dev)
{
	if (!refcount_dec_and_test(&dev->release_refs))
		return;
	vhost_blk_dev_free(dev);
	module_put(THIS_MODULE);
}

/*
 * The rest of a release whose owner was killed, or exited, with requests
 * in flight on a backend that does not answer. It runs again whenever a
 * queue's requests drain (vhost_blk_release_wake()), takes no thread
 * while it waits, and once every queue is idle stops the workers, drops
 * the memory table, the owner's address space, the guest pages and the
 * backend, and frees the device. The module stays loaded meanwhile.
 */
static void vhost_blk_release_work(struct work_struct *work)
{
	struct vhost_blk_dev *dev = container_of(work, struct vhost_blk_dev,
						 release_work);
	unsigned int i;
	int ret;

	mutex_lock(&dev->mutex);
	dev->drain_mode = VHOST_BLK_DRAIN_NOWAIT;
	ret = vhost_blk_dev_cleanup(dev);
	mutex_unlock(&dev->mutex);
	if (ret)
		return;
	for (i = 0; i < VHOST_BLK_MAX_VQS; i++)
		remove_wait_queue(&dev->vqs[i].drain_wq,
				  &dev->vqs[i].release_wait);
	/* Nothing queues it now: drop a last wake-up's queueing. */
	cancel_work(&dev->release_work);
	/* vhost_blk_exit() waits for this function to return. */
	vhost_blk_release_put(dev);
}

static int vhost_blk_release_wake(struct wait_queue_entry *wait,
				  unsigned int mode, int sync, void *key)
{
	struct vhost_blk_vq *vq = container_of(wait, struct vhost_blk_vq,
					       release_wait);

	queue_work(vhost_blk_release_wq, &vq->dev->release_work);
	return 0;
}

static int vhost_blk_release(struct inode *inode, struct file *f)
{
	struct vhost_blk_dev *dev = f->private_data;
	unsigned int i;
	int ret;

	mutex_lock(&dev->mutex);
	ret = vhost_blk_dev_cleanup(dev);
	if (!ret) {
		mutex_unlock(&dev->mutex);
		vhost_blk_dev_free(dev);
		return 0;
	}
	/*
	 * Finish when the requests are done, as vhost_blk_release_work().
	 * Armed under the mutex, which the work takes first; the work may
	 * still end before this function does, hence the references.
	 */
	__module_get(THIS_MODULE);
	refcount_set(&dev->release_refs, 2);
	INIT_WORK(&dev->release_work, vhost_blk_release_work);
	for (i = 0; i < VHOST_BLK_MAX_VQS; i++) {
		struct vhost_blk_vq *vq = &dev->vqs[i];

		init_waitqueue_func_entry(&vq->release_wait,
					  vhost_blk_release_wake);
		add_wait_queue(&vq->drain_wq, &vq->release_wait);
	}
	queue_work(vhost_blk_release_wq, &dev->release_work);
	mutex_unlock(&dev->mutex);
	vhost_blk_release_put(dev);
	return 0;
}

long vhost_blk_set_owner(struct vhost_blk_dev *dev)
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

long vhost_blk_reset_owner(struct vhost_blk_dev *dev)
{
	long ret;

	mutex_lock(&dev->mutex);
	ret = vhost_blk_check_owner(dev);
	/* -EINTR: a fatal signal, the release finishes the job. */
	if (!ret)
		ret = vhost_blk_dev_cleanup(dev);
	mutex_unlock(&dev->mutex);
	return ret;
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
	if (vq->started) {
		/* Table, options or features may have changed meanwhile. */
		vhost_blk_vq_map_rings(vq);
		vhost_blk_vq_queue_work(vq, &vq->kick_work);
	}
	mutex_unlock(&vq->mutex);
}

/*
 * Pause every queue for a backend swap; fails if one has I/O in flight.
 * Paused queues take no new request until vhost_blk_unpause().
 */
int vhost_blk_pause(struct vhost_blk_dev *dev)
{
	unsigned int i, j;

	for (i = 0; i < VHOST_BLK_MAX_VQS; i++) {
		struct vhost_blk_vq *vq = &dev->vqs[i];
		bool busy;

		vhost_blk_vq_lock(vq);
		/* What posted itself is not in flight for the guest. */
		vhost_blk_vq_complete(vq);
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

/*
 * Pause every queue and wait until none has a request in flight. 0, or
 * -EINTR on a fatal signal: the queues stay paused for the release that
 * follows, and the caller changes nothing.
 */
int vhost_blk_quiesce(struct vhost_blk_dev *dev)
{
	unsigned int i;
	int ret;

	for (i = 0; i < VHOST_BLK_MAX_VQS; i++) {
		vhost_blk_vq_lock(&dev->vqs[i]);
		dev->vqs[i].paused = true;
		vhost_blk_vq_reap_soon(&dev->vqs[i]);
		mutex_unlock(&dev->vqs[i].mutex);
	}
	for (i = 0; i < VHOST_BLK_MAX_VQS; i++) {
		ret = vhost_blk_vq_drain(&dev->vqs[i]);
		if (ret)
			return ret;
	}
	return 0;
}

void vhost_blk_unpause(struct vhost_blk_dev *dev)
{
	unsigned int i;

	for (i = 0; i < VHOST_BLK_MAX_VQS; i++)
		vhost_blk_vq_unpause(&dev->vqs[i]);
}

/*
 * A new worker in a free id slot, with its auxiliary worker (best effort,
 * made after it) if the backend is a regular file. Caller holds
 * dev->mutex.
 */
struct vhost_blk_worker *vhost_blk_new_worker(struct vhost_blk_dev *dev)
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
	if (dev->bfile && !dev->bdev)
		vhost_blk_aux_start(w);
	return w;
}

/*
 * Point @vq at @w. @vq is stopped and drained; caller holds dev->mutex.
 * Work the old worker still holds for @vq runs before this returns, so
 * the queue's work items are free to be queued on @w.
 */
void vhost_blk_vq_attach(struct vhost_blk_vq *vq,
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
struct vhost_blk_worker *vhost_blk_vq_worker(struct vhost_blk_dev *dev,
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

/* Start serving @vq on @kick. Caller holds dev->mutex; @vq is stopped. */
int vhost_blk_vq_start(struct vhost_blk_dev *dev,
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
	vhost_blk_vq_map_rings(vq);
	if (vq->kick != kick) {
		if (vq->kick)
			fput(vq->kick);
		vq->kick = get_file(kick);
	}
	vq->started = true;
	vhost_blk_vq_reap_lazily(vq);
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
	int ret;

	vhost_blk_release_wq = alloc_workqueue("vhost_blk_release",
					       WQ_UNBOUND, 0);
	if (!vhost_blk_release_wq)
		return -ENOMEM;
	ret = misc_register(&vhost_blk_misc);
	if (ret)
		goto err_wq;
	return 0;

err_wq:
	destroy_workqueue(vhost_blk_release_wq);
	return ret;
}
module_init(vhost_blk_init);

static void __exit vhost_blk_exit(void)
{
	misc_deregister(&vhost_blk_misc);
	/* Each pending release holds the module: only their last steps. */
	destroy_workqueue(vhost_blk_release_wq);
}
module_exit(vhost_blk_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("In-kernel virtio-blk device backend for vhost");
MODULE_VERSION(VHOST_BLK_VERSION);
