// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk: the module-wide budget of guest buffer pages in flight.
 *
 * A page pinned for an I/O gains GUP_PIN_COUNTING_BIAS (1024) references
 * per pin, and the descriptors of one or many queues may all alias the
 * same guest page: against a backend that holds bios for long, queues of
 * several devices could push that page's reference count past INT_MAX.
 * All requests of all devices together stay below VHOST_BLK_PAGES_MAX
 * pages (2^30 references) plus one request. A queue that finds the budget
 * spent gives its request back to the ring and waits on
 * vhost_blk_budget_waiters until pages are released.
 */
#include <linux/atomic.h>
#include <linux/list.h>
#include <linux/moduleparam.h>
#include <linux/spinlock.h>
#include <linux/sysfs.h>

#include "vhost_blk.h"

#define VHOST_BLK_PAGES_MAX	BIT(20)

static unsigned int vhost_blk_max_pages = VHOST_BLK_PAGES_MAX;
module_param_named(max_inflight_pages, vhost_blk_max_pages, uint, 0644);
MODULE_PARM_DESC(max_inflight_pages,
		 "Pages of guest buffers all queues may have in flight together (default and maximum: 1048576, 4 GiB)");

/* Lock-free: pages charged by requests in flight, all devices. */
static atomic_long_t vhost_blk_pages = ATOMIC_LONG_INIT(0);
static DEFINE_SPINLOCK(vhost_blk_budget_lock);
/* Queues waiting for pages; under vhost_blk_budget_lock. */
static LIST_HEAD(vhost_blk_budget_waiters);

static int vhost_blk_pages_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&vhost_blk_pages));
}

static const struct kernel_param_ops vhost_blk_pages_ops = {
	.get = vhost_blk_pages_get,
};

module_param_cb(inflight_pages, &vhost_blk_pages_ops, NULL, 0444);
MODULE_PARM_DESC(inflight_pages,
		 "Pages of guest buffers in flight now, all queues (read-only)");

static long vhost_blk_pages_limit(void)
{
	return clamp_t(unsigned long, READ_ONCE(vhost_blk_max_pages), 1,
		       VHOST_BLK_PAGES_MAX);
}

/**
 * vhost_blk_pages_uncharge() - release pages, restart the queues waiting
 * @n: pages charged by vhost_blk_pages_charge()
 */
void vhost_blk_pages_uncharge(unsigned long n)
{
	struct vhost_blk_vq *vq, *tmp;

	/*
	 * Only a release that brings the count below the limit restarts
	 * the waiters; the others would only be refused again. A fully
	 * ordered atomic: the count before the list, pairing with
	 * vhost_blk_pages_wait().
	 */
	if (atomic_long_sub_return(n, &vhost_blk_pages) >=
	    vhost_blk_pages_limit())
		return;
	if (list_empty_careful(&vhost_blk_budget_waiters))
		return;
	spin_lock(&vhost_blk_budget_lock);
	list_for_each_entry_safe(vq, tmp, &vhost_blk_budget_waiters,
				 budget_node) {
		list_del_init(&vq->budget_node);
		vhost_blk_vq_queue_work(vq, &vq->kick_work);
	}
	spin_unlock(&vhost_blk_budget_lock);
}

/**
 * vhost_blk_pages_charge() - take pages from the budget if it is not spent
 * @n: pages of the request's buffers
 *
 * A request may overshoot the limit by its own size; once the count is at
 * the limit every charge fails until pages are released.
 *
 * Return: true if charged.
 */
bool vhost_blk_pages_charge(unsigned long n)
{
	if (atomic_long_fetch_add(n, &vhost_blk_pages) <
	    vhost_blk_pages_limit())
		return true;
	vhost_blk_pages_uncharge(n);
	return false;
}

/**
 * vhost_blk_pages_wait() - wait for released pages on a queue's behalf
 * @vq: a queue whose charge failed, with its mutex held
 *
 * The queue's kick work runs again once a release brings the count below
 * the limit, or at once if one did meanwhile.
 */
void vhost_blk_pages_wait(struct vhost_blk_vq *vq)
{
	spin_lock(&vhost_blk_budget_lock);
	if (list_empty(&vq->budget_node))
		list_add_tail(&vq->budget_node, &vhost_blk_budget_waiters);
	spin_unlock(&vhost_blk_budget_lock);
	/* The list before the count: pairs with vhost_blk_pages_uncharge(). */
	smp_mb();
	if (atomic_long_read(&vhost_blk_pages) < vhost_blk_pages_limit())
		vhost_blk_vq_queue_work(vq, &vq->kick_work);
}

/**
 * vhost_blk_vq_budget_cancel() - take a stopped queue off the wait list
 * @vq: the queue, stopped: no kick run can put it back
 */
void vhost_blk_vq_budget_cancel(struct vhost_blk_vq *vq)
{
	spin_lock(&vhost_blk_budget_lock);
	list_del_init(&vq->budget_node);
	spin_unlock(&vhost_blk_budget_lock);
}
