// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk workers and eventfd polling.
 *
 * A worker is a thread in the owner's context that runs queued work items
 * in order: a vhost_task (a thread of the owner: same mm, cgroups, limits
 * and accounting) on kernels that have it, else a kthread that adopts the
 * owner's mm. Each virtqueue has its own worker, so queues run on
 * different CPUs at once and share no lock on the data path. With a
 * regular file backend each queue worker has a companion, its auxiliary
 * worker, for the file calls that have no asynchronous form (file.c).
 *
 * Work is queued from any context, including hard interrupts (bio
 * completion) and eventfd wakeups: a lock-free list plus a wakeup.
 * A queue reaches its worker through an RCU pointer, so a worker that
 * dies (SIGKILL of the owner) can be detached while completions race.
 */
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/file.h>
#include <linux/completion.h>
#include <linux/module.h>

#include "vhost_blk.h"

/*
 * Before Linux 6.4 workers are kthreads (compat.h): kthreadd forks them,
 * so besides the owner's RLIMIT_NPROC this bounds them all.
 */
unsigned int vhost_blk_max_kthread_workers = 1024;
module_param_named(max_kthread_workers, vhost_blk_max_kthread_workers, uint,
		   0644);
MODULE_PARM_DESC(max_kthread_workers,
		 "Maximum number of worker threads of all devices together where workers are kthreads (Linux before 6.4; ignored with vhost_task), in threads (default: 1024)");
atomic_t vhost_blk_nr_kthread_workers = ATOMIC_INIT(0);

void vhost_blk_work_init(struct vhost_blk_work *work, vhost_blk_work_fn_t fn)
{
	clear_bit(VHOST_BLK_WORK_QUEUED, &work->flags);
	work->fn = fn;
}

static void vhost_blk_worker_queue(struct vhost_blk_worker *worker,
				   struct vhost_blk_work *work)
{
	if (!test_and_set_bit(VHOST_BLK_WORK_QUEUED, &work->flags)) {
		/*
		 * llist_add() has a full barrier: the worker sees what the
		 * caller wrote before it sees the work.
		 */
		llist_add(&work->node, &worker->work_list);
		vhost_blk_task_wake(worker->task);
	}
}

/**
 * vhost_blk_vq_queue_work() - run @work on the worker serving @vq
 * @vq: the queue
 * @work: one of the queue's work items
 *
 * Callable from any context. Without a worker (none yet, or killed) the
 * work is not run; waiters on the queue's drain_wq are woken instead so a
 * drain can make progress in its own context.
 */
void vhost_blk_vq_queue_work(struct vhost_blk_vq *vq,
			     struct vhost_blk_work *work)
{
	struct vhost_blk_worker *worker;

	rcu_read_lock();
	worker = rcu_dereference(vq->worker);
	if (worker)
		vhost_blk_worker_queue(worker, work);
	else
		wake_up(&vq->drain_wq);
	rcu_read_unlock();
}

/**
 * vhost_blk_vq_worker_has_other_work() - whether work waits for @vq's worker
 * @vq: the queue, with its mutex held, served by the calling worker
 *
 * True when work other than @vq's own kick and completion items is queued
 * on the worker (another queue's, a flush): a queue that busy-polls must
 * then let it run. Only the worker takes entries off its list, so it may
 * walk it while others add to it.
 *
 * Return: true if other work is queued.
 */
bool vhost_blk_vq_worker_has_other_work(struct vhost_blk_vq *vq)
{
	struct vhost_blk_worker *worker;
	struct llist_node *node;

	worker = rcu_dereference_protected(vq->worker,
					   lockdep_is_held(&vq->mutex));
	if (!worker)
		return false;
	for (node = READ_ONCE(worker->work_list.first); node;
	     node = READ_ONCE(node->next))
		if (node != &vq->kick_work.node && node != &vq->done_work.node)
			return true;
	return false;
}

/* Run what is queued; true when there was something. */
static bool vhost_blk_worker_run(void *data)
{
	struct vhost_blk_worker *worker = data;
	struct vhost_blk_work *work, *next;
	struct llist_node *node;

	node = llist_del_all(&worker->work_list);
	if (!node)
		return false;

	__set_current_state(TASK_RUNNING);
	node = llist_reverse_order(node);
	/* The flag must be cleared after the work left the list. */
	smp_wmb();
	llist_for_each_entry_safe(work, next, node, node) {
		clear_bit(VHOST_BLK_WORK_QUEUED, &work->flags);
		work->fn(work);
		cond_resched();
	}
	return true;
}

/*
 * The owner was killed and its threads, the worker among them, exit.
 * Detach the worker from its queues, then run what was queued before the
 * grace period; later completions are reaped by the release path.
 */
static void vhost_blk_worker_killed(void *data)
{
	struct vhost_blk_worker *worker = data;
	struct vhost_blk_dev *dev = worker->dev;
	unsigned int i, detached = 0;

	mutex_lock(&worker->mutex);
	worker->killed = true;
	for (i = 0; i < VHOST_BLK_MAX_VQS; i++) {
		struct vhost_blk_vq *vq = &dev->vqs[i];

		mutex_lock(&vq->mutex);
		if (rcu_access_pointer(vq->worker) == worker) {
			RCU_INIT_POINTER(vq->worker, NULL);
			detached++;
		}
		mutex_unlock(&vq->mutex);
	}
	if (detached)
		synchronize_rcu();
	atomic_sub(detached, &worker->attach_cnt);
	vhost_blk_worker_run(worker);
	mutex_unlock(&worker->mutex);

	for (i = 0; i < VHOST_BLK_MAX_VQS; i++)
		wake_up(&dev->vqs[i].drain_wq);
}

/* A worker running @killed when the owner gets SIGKILL. */
static struct vhost_blk_worker *
__vhost_blk_worker_create(struct vhost_blk_dev *dev, const char *name,
			  void (*killed)(void *))
{
	struct vhost_blk_worker *worker;

	worker = kzalloc(sizeof(*worker), GFP_KERNEL_ACCOUNT);
	if (!worker)
		return ERR_PTR(-ENOMEM);
	worker->dev = dev;
	init_llist_head(&worker->work_list);
	mutex_init(&worker->mutex);

	worker->task = vhost_blk_task_create(vhost_blk_worker_run, killed,
					     worker, name);
	if (IS_ERR(worker->task)) {
		long err = PTR_ERR(worker->task);

		kfree(worker);
		return ERR_PTR(err);
	}
	vhost_blk_task_start(worker->task);
	return worker;
}

/**
 * vhost_blk_worker_create() - start a queue worker in the caller's context
 * @dev: the device; the caller is its owner
 * @index: used in the thread name
 *
 * Return: the worker, or an ERR_PTR.
 */
struct vhost_blk_worker *vhost_blk_worker_create(struct vhost_blk_dev *dev,
						 unsigned int index)
{
	char name[TASK_COMM_LEN];

	snprintf(name, sizeof(name), "vhost-blk-%d.%u", current->pid, index);
	return __vhost_blk_worker_create(dev, name, vhost_blk_worker_killed);
}

/*
 * End the work queued on an auxiliary worker without running it: each
 * item is a request's, which ends with IOERR (file.c). Only the worker
 * itself, or its destroyer once the thread is gone, takes work off.
 */
static void vhost_blk_aux_cancel(struct vhost_blk_worker *aux)
{
	struct vhost_blk_work *work, *next;
	struct llist_node *node;

	node = llist_del_all(&aux->work_list);
	if (!node)
		return;
	node = llist_reverse_order(node);
	/* The flag must be cleared after the work left the list. */
	smp_wmb();
	llist_for_each_entry_safe(work, next, node, node) {
		clear_bit(VHOST_BLK_WORK_QUEUED, &work->flags);
		vhost_blk_file_cancel(work);
	}
}

/*
 * The owner was killed: nothing is queued on the auxiliary worker from
 * now on (vhost_blk_aux_queue() has its callers run the work themselves),
 * and what was queued but not started ends with IOERR: a backlog of
 * fsyncs on a slow filesystem would hold the exit of a killed process.
 */
static void vhost_blk_aux_killed(void *data)
{
	struct vhost_blk_worker *aux = data;
	struct vhost_blk_dev *dev = aux->dev;

	spin_lock(&dev->aux_lock);
	aux->aux_dead = true;
	spin_unlock(&dev->aux_lock);
	vhost_blk_aux_cancel(aux);
}

static void vhost_blk_aux_destroy(struct vhost_blk_worker *aux)
{
	vhost_blk_task_stop(aux->task);
	/* Normally none: its queues are idle, or its queue worker died. */
	vhost_blk_aux_cancel(aux);
	kfree(aux);
}

/**
 * vhost_blk_aux_start() - give a queue worker its auxiliary worker
 * @worker: the queue worker, serving no queue that runs; the caller holds
 *	    dev->mutex and is the owner
 *
 * The auxiliary worker runs the requests of a regular file backend that
 * the kernel can only do synchronously (flush, fallocate), so that they
 * hold none of the queue's other requests. A thread of the owner, as the
 * queue workers are: it counts against the owner's RLIMIT_NPROC (and, on
 * kthread workers, max_kthread_workers) and runs in its cgroups. It is
 * made after its queue worker and only at best: when it cannot be made
 * the queue worker runs those requests itself. One that was killed is
 * replaced; a killed queue worker gets none.
 */
void vhost_blk_aux_start(struct vhost_blk_worker *worker)
{
	struct vhost_blk_dev *dev = worker->dev;
	struct vhost_blk_worker *aux;
	char name[TASK_COMM_LEN];
	bool dead;

	if (READ_ONCE(worker->killed))
		return;
	if (worker->aux) {
		spin_lock(&dev->aux_lock);
		dead = worker->aux->aux_dead;
		spin_unlock(&dev->aux_lock);
		if (!dead)
			return;
		vhost_blk_aux_stop(worker);
	}
	snprintf(name, sizeof(name), "vhost-blk-%d.a%u", current->pid,
		 worker->id);
	aux = __vhost_blk_worker_create(dev, name, vhost_blk_aux_killed);
	if (!IS_ERR(aux))
		worker->aux = aux;
}

/**
 * vhost_blk_aux_stop() - stop a queue worker's auxiliary worker, if any
 * @worker: the queue worker, serving no queue that runs; the caller holds
 *	    dev->mutex
 */
void vhost_blk_aux_stop(struct vhost_blk_worker *worker)
{
	if (!worker->aux)
		return;
	vhost_blk_aux_destroy(worker->aux);
	worker->aux = NULL;
}

/**
 * vhost_blk_aux_queue() - run @work on the auxiliary worker of @vq's worker
 * @vq: the queue, with its mutex held, served by the calling worker
 * @work: a work item of a request in flight
 *
 * Return: true once queued; false when there is no live auxiliary worker
 * (none could be made, or the owner was killed): the caller runs @work's
 * job itself.
 */
bool vhost_blk_aux_queue(struct vhost_blk_vq *vq, struct vhost_blk_work *work)
{
	struct vhost_blk_dev *dev = vq->dev;
	struct vhost_blk_worker *worker, *aux = NULL;
	bool queued = false;

	worker = rcu_dereference_protected(vq->worker,
					   lockdep_is_held(&vq->mutex));
	if (worker)
		aux = worker->aux;
	if (!aux)
		goto out;
	spin_lock(&dev->aux_lock);
	if (!aux->aux_dead) {
		vhost_blk_worker_queue(aux, work);
		queued = true;
	}
	spin_unlock(&dev->aux_lock);
out:
	atomic64_inc(queued ? &dev->aux_queued : &dev->aux_inline);
	return queued;
}

struct vhost_blk_flush {
	struct vhost_blk_work work;
	struct completion done;
};

static void vhost_blk_flush_fn(struct vhost_blk_work *work)
{
	complete(&container_of(work, struct vhost_blk_flush, work)->done);
}

/**
 * vhost_blk_worker_flush() - wait until work queued so far has run
 * @worker: a live worker
 *
 * Once a killed worker ran its kill handler nothing runs on it any more,
 * so there is nothing to wait for.
 */
void vhost_blk_worker_flush(struct vhost_blk_worker *worker)
{
	struct vhost_blk_flush flush;

	init_completion(&flush.done);
	vhost_blk_work_init(&flush.work, vhost_blk_flush_fn);
	/* A kill after this still runs the list, the flush with it. */
	mutex_lock(&worker->mutex);
	if (worker->killed) {
		mutex_unlock(&worker->mutex);
		return;
	}
	vhost_blk_worker_queue(worker, &flush.work);
	mutex_unlock(&worker->mutex);
	wait_for_completion(&flush.done);
}

/**
 * vhost_blk_worker_destroy() - stop a worker and free it
 * @worker: a worker no queue points to any more
 *
 * Work still queued is not run, only taken off the list so it can be
 * queued elsewhere: the queues it served are stopped and drained, and
 * their work items have nothing left to do. Its auxiliary worker goes
 * first.
 */
void vhost_blk_worker_destroy(struct vhost_blk_worker *worker)
{
	struct vhost_blk_work *work, *next;
	struct llist_node *node;

	vhost_blk_aux_stop(worker);
	vhost_blk_task_stop(worker->task);
	node = llist_del_all(&worker->work_list);
	llist_for_each_entry_safe(work, next, node, node)
		clear_bit(VHOST_BLK_WORK_QUEUED, &work->flags);
	kfree(worker);
}

static void vhost_blk_poll_func(struct file *file, wait_queue_head_t *wqh,
				poll_table *pt)
{
	struct vhost_blk_poll *poll = container_of(pt, struct vhost_blk_poll,
						   table);

	poll->wqh = wqh;
	add_wait_queue(wqh, &poll->wait);
}

static int vhost_blk_poll_wakeup(wait_queue_entry_t *wait, unsigned int mode,
				 int sync, void *key)
{
	struct vhost_blk_poll *poll = container_of(wait, struct vhost_blk_poll,
						   wait);

	if (!(key_to_poll(key) & EPOLLIN))
		return 0;
	atomic64_inc(&poll->vq->kicks);
	vhost_blk_vq_queue_work(poll->vq, &poll->vq->kick_work);
	return 0;
}

void vhost_blk_poll_init(struct vhost_blk_poll *poll, struct vhost_blk_vq *vq)
{
	init_waitqueue_func_entry(&poll->wait, vhost_blk_poll_wakeup);
	init_poll_funcptr(&poll->table, vhost_blk_poll_func);
	poll->wqh = NULL;
	poll->vq = vq;
}

/**
 * vhost_blk_poll_start() - serve the queue whenever @file becomes readable
 * @poll: the queue's poll state, not polling yet
 * @file: the kick eventfd
 *
 * Return: 0, or -EINVAL when @file cannot be polled.
 */
int vhost_blk_poll_start(struct vhost_blk_poll *poll, struct file *file)
{
	__poll_t mask;

	mask = vfs_poll(file, &poll->table);
	if (!poll->wqh)
		return -EINVAL;
	if (mask & EPOLLERR) {
		vhost_blk_poll_stop(poll);
		return -EINVAL;
	}
	if (mask & EPOLLIN)
		vhost_blk_vq_queue_work(poll->vq, &poll->vq->kick_work);
	return 0;
}

/* After this returns no wakeup of the old file runs or will run. */
void vhost_blk_poll_stop(struct vhost_blk_poll *poll)
{
	if (poll->wqh) {
		remove_wait_queue(poll->wqh, &poll->wait);
		poll->wqh = NULL;
	}
}
