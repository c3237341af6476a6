// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk kick handling: serving a queue's avail ring.
 *
 * A kick (or a completion that frees request slots) queues the queue's
 * kick work on its worker. The loop disables notification, takes chains
 * until the ring is empty, re-enables notification and checks again for
 * chains posted meanwhile. It is bounded by a weight so that one queue
 * cannot starve the others on its worker, and may busy-poll an empty ring
 * for a while before it waits for the next kick. Each chain becomes a
 * request in req.c.
 */
#include <linux/blkdev.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/timekeeping.h>

#include "vhost_blk.h"

/* The first window a queue polls once it learns that polling pays. */
#define VHOST_BLK_POLL_WINDOW_MIN_NS	4000

/*
 * Adapt the busy-poll window of @vq to how long the guest took to post
 * its next chain after the ring last ran dry, as QEMU's iothreads adapt
 * theirs with their defaults (poll-grow 2, poll-shrink 0): the window
 * doubles, from VHOST_BLK_POLL_WINDOW_MIN_NS, while the chain came later
 * than the window but within the longest one (polling longer would have
 * caught it), and drops to 0 when it came later than that (polling would
 * have been wasted). A window that caught the chain stays. A queue whose
 * guest is idle or posts seldom thus stops polling after one window, and
 * one that posts at a steady pace polls as long as it takes, at most
 * busyloop_timeout. Called once a run finds a chain: kicks with nothing
 * posted neither grow the window nor get polled for.
 */
static void vhost_blk_vq_poll_adapt(struct vhost_blk_vq *vq, u64 max)
{
	u64 waited = ktime_get_ns() - vq->dry_since;
	u64 win = min(vq->poll_window, max);

	vq->dry_since = 0;
	if (waited <= win)
		return;
	if (waited > max)
		win = 0;
	else if (!win)
		win = VHOST_BLK_POLL_WINDOW_MIN_NS;
	else
		win *= 2;
	vq->poll_window = min(win, max);
}

/*
 * Busy polling (VHOST_SET_VRING_BUSYLOOP_TIMEOUT): the ring ran dry with
 * notifications still off. Submit what is plugged, then watch avail->idx
 * for up to the queue's current window, posting completions as they end,
 * instead of sleeping until the next kick. Gives way to anything else
 * that wants the CPU, to an ioctl waiting for the queue, to other work on
 * the worker and to signals; the weight of the run bounds how often a
 * guest that refills the ring in time gets a new window. True when the
 * guest posted more meanwhile.
 */
static bool vhost_blk_vq_busy_poll(struct vhost_blk_vq *vq,
				   struct blk_plug *plug, u64 win)
{
	/* ktime: a fault in the loop may move the worker to another CPU. */
	u64 start = ktime_get_ns();
	u64 end = start + win;
	bool more = false;

	blk_finish_plug(plug);
	for (;;) {
		if (!llist_empty(&vq->done))
			vhost_blk_vq_complete(vq);
		if (!vhost_blk_vq_avail_empty(vq)) {
			more = true;
			break;
		}
		if (need_resched() || signal_pending(current) ||
		    atomic_read(&vq->ctl_waiting) ||
		    vhost_blk_vq_worker_has_other_work(vq) ||
		    ktime_get_ns() >= end)
			break;
		cpu_relax();
	}
	vhost_blk_stat_poll(vq, ktime_get_ns() - start, more);
	blk_start_plug(plug);
	return more;
}

/**
 * vhost_blk_handle_kick() - serve the avail ring of a queue
 * @work: the queue's kick work
 *
 * Takes chains until the ring is empty, the queue runs out of request
 * slots (completions restart it) or it used its weight (it requeues
 * itself so other work on the worker runs in between). Bios of one batch
 * are plugged together. With a busy-poll timeout an empty ring is watched
 * for a while before the queue waits for a kick again.
 */
void vhost_blk_handle_kick(struct vhost_blk_work *work)
{
	struct vhost_blk_vq *vq = container_of(work, struct vhost_blk_vq,
					       kick_work);
	struct blk_plug plug;
	unsigned int n = 0;
	bool took = false;
	u64 max, dry;
	u16 head;
	int ret;

	mutex_lock(&vq->mutex);
	/* Requests that posted themselves since the last run. */
	vhost_blk_vq_complete(vq);
	if (!vq->started || vq->paused || vq->broken || !vq->dev->bfile)
		goto out;
	/* Not once the owner is gone and the queue is detached. */
	max = 0;
	if (rcu_access_pointer(vq->worker))
		max = (u64)vq->busyloop_timeout * NSEC_PER_USEC;

	blk_start_plug(&plug);
	vhost_blk_vq_disable_notify(vq);
	for (;;) {
		/* Every pass counts, bad entries too: the guest sets the pace. */
		if (++n > VHOST_BLK_WEIGHT) {
			vhost_blk_vq_queue_work(vq, &vq->kick_work);
			break;
		}
		if (!vq->nr_free ||
		    vq->inflight_pages >= VHOST_BLK_VQ_PAGES_MAX) {
			vhost_blk_vq_complete(vq);
			if (vq->nr_free &&
			    vq->inflight_pages < VHOST_BLK_VQ_PAGES_MAX)
				continue;
			vq->starved = true;
			/* Completions wake the worker from now on. */
			vhost_blk_vq_reap_soon(vq);
			break;
		}
		ret = vhost_blk_vq_next_avail(vq, &head);
		if (ret == -EAGAIN) {
			/*
			 * ktime, not local_clock(): the next kick may find
			 * the worker on another CPU.
			 */
			dry = max ? ktime_get_ns() : 0;
			if (max && took && vq->poll_window &&
			    vhost_blk_vq_busy_poll(vq, &plug,
						   min(vq->poll_window, max)))
				continue;
			if (unlikely(vhost_blk_vq_enable_notify(vq))) {
				vhost_blk_vq_disable_notify(vq);
				continue;
			}
			/* The next chain tells how long polling had to last. */
			if (max && took)
				vq->dry_since = dry;
			break;
		}
		if (!took) {
			took = true;
			if (max && vq->dry_since)
				vhost_blk_vq_poll_adapt(vq, max);
		}
		if (ret == -ERANGE && vq->inflight_region) {
			/*
			 * The entry is consumed with no mark and no used
			 * entry: a restart could not tell where the avail
			 * ring stands. Stop serving, as libvhost-user does.
			 */
			vq->broken = true;
			vhost_blk_vq_error(vq, "avail head out of range");
			break;
		}
		if (ret == -ERANGE) {
			vhost_blk_vq_error(vq, "avail head out of range");
			vhost_blk_chain_refused(vq, head, ret);
			continue;
		}
		if (ret) {
			vq->broken = true;
			vhost_blk_vq_error(vq, "bad avail index");
			break;
		}
		if (vhost_blk_inflight_get(vq, head)) {
			vhost_blk_inflight_put_back(vq, head);
			vq->broken = true;
			vhost_blk_vq_error(vq, "cannot write inflight region");
			break;
		}

		if (vhost_blk_req_start(vq, head)) {
			vhost_blk_pages_wait(vq);
			break;
		}
	}
	blk_finish_plug(&plug);
	vhost_blk_log_signal(vq);
out:
	mutex_unlock(&vq->mutex);
}
