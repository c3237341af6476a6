// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk: noticing that the backend changed size, and telling the owner.
 *
 * The size is the backend's own: bdev_nr_sectors() of a block device (a
 * device-mapper table reloaded, a loop device after LOOP_SET_CAPACITY, a
 * brd or null_blk resized), i_size of a regular file (ftruncate(),
 * fallocate() past the end). Neither source tells a module when it
 * changes, so the device looks:
 *
 *  - for every request, whose bounds are checked against the size read
 *    then (requests past a new end fail, the grown part serves at once);
 *  - for every VHOST_BLK_GET_CONFIG;
 *  - every resize_poll_ms while a config eventfd is set, so that an idle
 *    guest learns of the change too.
 *
 * Whoever sees a size other than the last one seen records it and signals
 * the config eventfd (VHOST_BLK_SET_CONFIG_CALL): once per change, however
 * many look. The owner then reads VHOST_BLK_GET_CONFIG and raises a config
 * interrupt in the guest (vhost-user: CONFIG_CHANGE_MSG).
 */
#include <linux/blkdev.h>
#include <linux/eventfd.h>
#include <linux/fs.h>
#include <linux/moduleparam.h>
#include <linux/workqueue.h>

#include "vhost_blk.h"

static unsigned int vhost_blk_resize_poll_ms = 1000;
module_param_named(resize_poll_ms, vhost_blk_resize_poll_ms, uint, 0644);
MODULE_PARM_DESC(resize_poll_ms,
		 "Milliseconds between checks of the backend's size while a config eventfd is set (default 1000; 0: check only on requests and VHOST_BLK_GET_CONFIG; read when the eventfd is set and at each check)");

/**
 * vhost_blk_capacity_check() - the backend's size, noticing a change
 * @dev: the device, with a backend that cannot change under the caller
 *	 (dev->mutex held, or vq->mutex of an unpaused queue)
 *
 * If the live size is not the one last seen, it becomes the one last
 * seen and the config eventfd is signalled.
 *
 * Return: the live size, in 512-byte sectors.
 */
u64 vhost_blk_capacity_check(struct vhost_blk_dev *dev)
{
	u64 cap = vhost_blk_capacity(dev);

	if (likely(cap == READ_ONCE(dev->capacity)))
		return cap;

	spin_lock(&dev->config_lock);
	/* Again under the lock: the last one to store stores the newest. */
	cap = vhost_blk_capacity(dev);
	if (cap != dev->capacity) {
		WRITE_ONCE(dev->capacity, cap);
		if (dev->config_ctx)
			vhost_blk_eventfd_signal(dev->config_ctx);
	}
	spin_unlock(&dev->config_lock);
	return cap;
}

/**
 * vhost_blk_capacity_reset() - take the backend's size as seen
 * @dev: the device, dev->mutex held, every queue paused
 *
 * For a new backend (or none): its size is not a change to signal.
 */
void vhost_blk_capacity_reset(struct vhost_blk_dev *dev)
{
	u64 cap = dev->bfile ? vhost_blk_capacity(dev) : 0;

	spin_lock(&dev->config_lock);
	WRITE_ONCE(dev->capacity, cap);
	spin_unlock(&dev->config_lock);
}

/* Arm the periodic check, if there is one. */
static void vhost_blk_resize_arm(struct vhost_blk_dev *dev)
{
	unsigned int ms = READ_ONCE(vhost_blk_resize_poll_ms);

	if (ms)
		queue_delayed_work(system_power_efficient_wq,
				   &dev->resize_work, msecs_to_jiffies(ms));
}

/*
 * The periodic check. dev->mutex keeps the backend in place; an ioctl may
 * hold it for long (draining requests, pinning memory), so rather than
 * wait the check comes back later. It stops once the config eventfd is
 * cleared; release cancels it.
 */
static void vhost_blk_resize_work(struct work_struct *work)
{
	struct vhost_blk_dev *dev = container_of(to_delayed_work(work),
						 struct vhost_blk_dev,
						 resize_work);
	bool again = true;

	if (mutex_trylock(&dev->mutex)) {
		if (dev->bfile)
			vhost_blk_capacity_check(dev);
		again = !!dev->config_ctx;
		mutex_unlock(&dev->mutex);
	}
	if (again)
		vhost_blk_resize_arm(dev);
}

void vhost_blk_resize_init(struct vhost_blk_dev *dev)
{
	spin_lock_init(&dev->config_lock);
	INIT_DELAYED_WORK(&dev->resize_work, vhost_blk_resize_work);
}

/**
 * vhost_blk_set_config_ctx() - replace the config eventfd
 * @dev: the device, dev->mutex held
 * @ctx: the new eventfd, or NULL
 *
 * Return: the old one (or NULL), for the caller to put.
 */
struct eventfd_ctx *vhost_blk_set_config_ctx(struct vhost_blk_dev *dev,
					     struct eventfd_ctx *ctx)
{
	struct eventfd_ctx *old;

	lockdep_assert_held(&dev->mutex);
	spin_lock(&dev->config_lock);
	old = dev->config_ctx;
	dev->config_ctx = ctx;
	spin_unlock(&dev->config_lock);
	/* A running check sees @ctx once it has dev->mutex. */
	if (ctx)
		vhost_blk_resize_arm(dev);
	return old;
}

/* The device is going away: no check may run after this. */
void vhost_blk_resize_stop(struct vhost_blk_dev *dev)
{
	cancel_delayed_work_sync(&dev->resize_work);
}
