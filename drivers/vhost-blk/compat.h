/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernel versions vhost-blk builds against
 * lives here, so the rest of the driver reads like upstream code.
 *
 * Supported: Linux 6.1 and later.
 */
#ifndef _VHOST_BLK_COMPAT_H
#define _VHOST_BLK_COMPAT_H

#include <linux/version.h>
#include <linux/eventfd.h>

#if KERNEL_VERSION(6, 1, 0) > LINUX_VERSION_CODE
#error "vhost-blk needs Linux 6.1 or later"
#endif

#include <linux/atomic.h>

/*
 * Kthread workers of all devices and their bound (worker.c, module
 * parameter max_kthread_workers); unused with vhost_task.
 */
extern unsigned int vhost_blk_max_kthread_workers;
extern atomic_t vhost_blk_nr_kthread_workers;

/*
 * Workers run in the owner's context. struct vhost_blk_task and its
 * create/start/wake/stop helpers are a vhost_task (a thread of the owner,
 * sharing its credentials, mm, cgroups and limits) where the kernel has
 * one, else a kthread standing in for it: forked by kthreadd, it takes its
 * creator's credentials, mm and cgroups on itself.
 *
 * @fn runs whenever the task is woken, until it returns false; @killed
 * runs instead when the owner gets SIGKILL (vhost_task only: a kthread is
 * not killed with the owner).
 */
#if IS_ENABLED(CONFIG_VHOST_TASK) && KERNEL_VERSION(6, 4, 0) <= LINUX_VERSION_CODE
#include <linux/sched/vhost_task.h>

#define vhost_blk_task vhost_task

/* 6.11 added the SIGKILL callback; later kernels return ERR_PTR. */
static inline struct vhost_blk_task *
vhost_blk_task_create(bool (*fn)(void *), void (*killed)(void *), void *arg,
		      const char *name)
{
	struct vhost_task *vtsk;

#if KERNEL_VERSION(6, 11, 0) <= LINUX_VERSION_CODE
	vtsk = vhost_task_create(fn, killed, arg, name);
#else
	vtsk = vhost_task_create(fn, arg, name);
#endif
	if (IS_ERR_OR_NULL(vtsk))
		return vtsk ? vtsk : ERR_PTR(-ENOMEM);
	return vtsk;
}

static inline void vhost_blk_task_start(struct vhost_blk_task *task)
{
	vhost_task_start(task);
}

static inline void vhost_blk_task_wake(struct vhost_blk_task *task)
{
	vhost_task_wake(task);
}

static inline void vhost_blk_task_stop(struct vhost_blk_task *task)
{
	vhost_task_stop(task);
}
#else
#include <linux/kthread.h>
#include <linux/cgroup.h>
#include <linux/completion.h>
#include <linux/cred.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/user_namespace.h>
#include <linux/slab.h>

struct vhost_blk_task {
	bool (*fn)(void *data);
	void *data;
	struct task_struct *task;
	struct mm_struct *mm;		/* the creator's; a reference */
	struct cred *cred;		/* a copy of the creator's */
	struct completion ready;	/* the thread took cred and mm */
};

/*
 * fork()'s RLIMIT_NPROC check for one more task of the caller's user, at
 * every user namespace level, with its exemptions: the caller's count
 * (the kernel keeps it in its ucounts) must stay below its limit.
 */
static inline bool vhost_blk_nproc_exceeded(void)
{
	unsigned long limit = rlimit(RLIMIT_NPROC);
	long max = limit > LONG_MAX ? LONG_MAX : limit;
	struct ucounts *iter;
	bool over = false;

	for (iter = current_ucounts(); iter; iter = iter->ns->ucounts) {
		long val = get_rlimit_value(iter, UCOUNT_RLIMIT_NPROC);

		if (val < 0 || val >= max) {
			over = true;
			break;
		}
		max = get_userns_rlimit_max(iter->ns, UCOUNT_RLIMIT_NPROC);
	}
	return over && !uid_eq(current_uid(), GLOBAL_ROOT_UID) &&
	       !capable(CAP_SYS_RESOURCE) && !capable(CAP_SYS_ADMIN);
}

static inline int vhost_blk_task_kthread(void *data)
{
	struct vhost_blk_task *t = data;

	/*
	 * All the work runs as the creator: file I/O, fsync and fallocate
	 * see its uid, capabilities, LSM label, quota and RLIMIT_NPROC
	 * (the thread now counts as one of its user's), not kthreadd's.
	 * Before the mm: a credential change marks a task's mm undumpable.
	 */
	commit_creds(get_new_cred(t->cred));
	kthread_use_mm(t->mm);
	complete(&t->ready);
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (kthread_should_stop()) {
			__set_current_state(TASK_RUNNING);
			break;
		}
		if (!t->fn(t->data))
			schedule();
	}
	kthread_unuse_mm(t->mm);
	return 0;
}

static inline struct vhost_blk_task *
vhost_blk_task_create(bool (*fn)(void *), void (*killed)(void *), void *arg,
		      const char *name)
{
	struct vhost_blk_task *t;
	int ret;

	if (!current->mm)
		return ERR_PTR(-EINVAL);
	/*
	 * kthreadd forks the thread, so neither RLIMIT_NPROC nor the pids
	 * controller stop it and its stack is not charged to the creator:
	 * check the first here (the thread then counts as the creator's),
	 * and bound all of them with max_kthread_workers.
	 */
	if (vhost_blk_nproc_exceeded())
		return ERR_PTR(-EAGAIN);
	if (atomic_inc_return(&vhost_blk_nr_kthread_workers) >
	    READ_ONCE(vhost_blk_max_kthread_workers)) {
		ret = -EAGAIN;
		goto err_count;
	}
	t = kzalloc(sizeof(*t), GFP_KERNEL_ACCOUNT);
	if (!t) {
		ret = -ENOMEM;
		goto err_count;
	}
	t->fn = fn;
	t->data = arg;
	init_completion(&t->ready);
	t->cred = prepare_creds();
	if (!t->cred) {
		ret = -ENOMEM;
		goto err_free;
	}
	mmget(current->mm);
	t->mm = current->mm;
	t->task = kthread_create(vhost_blk_task_kthread, t, "%s", name);
	if (IS_ERR(t->task)) {
		ret = PTR_ERR(t->task);
		goto err_mm;
	}
	/* Its CPU time, I/O and pid count in the creator's cgroups. */
	ret = cgroup_attach_task_all(current, t->task);
	if (ret)
		goto err_stop;
	/*
	 * And it may run where the creator may, as a vhost_task inherits by
	 * fork(); best effort: kthreadd's mask within the cpuset otherwise.
	 */
	set_cpus_allowed_ptr(t->task, current->cpus_ptr);
	return t;

err_stop:
	kthread_stop(t->task);
err_mm:
	mmput(t->mm);
	put_cred(t->cred);
err_free:
	kfree(t);
err_count:
	atomic_dec(&vhost_blk_nr_kthread_workers);
	return ERR_PTR(ret);
}

/* Once this returns the thread counts in its creator's RLIMIT_NPROC. */
static inline void vhost_blk_task_start(struct vhost_blk_task *t)
{
	wake_up_process(t->task);
	wait_for_completion(&t->ready);
}

static inline void vhost_blk_task_wake(struct vhost_blk_task *t)
{
	wake_up_process(t->task);
}

static inline void vhost_blk_task_stop(struct vhost_blk_task *t)
{
	kthread_stop(t->task);
	mmput(t->mm);
	put_cred(t->cred);
	kfree(t);
	atomic_dec(&vhost_blk_nr_kthread_workers);
}
#endif

/* eventfd_signal() lost its count argument in 6.8. */
static inline void vhost_blk_eventfd_signal(struct eventfd_ctx *ctx)
{
#if KERNEL_VERSION(6, 8, 0) <= LINUX_VERSION_CODE
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

/*
 * vfs_iocb_iter_write() takes the superblock write reference itself since
 * 6.6 (and drops it unless the write was queued); before, the caller did.
 * Either way ki_complete of a queued write must call kiocb_end_write().
 */
#include <linux/fs.h>
static inline ssize_t vhost_blk_iocb_iter_write(struct file *file,
						struct kiocb *iocb,
						struct iov_iter *iter)
{
#if KERNEL_VERSION(6, 6, 0) <= LINUX_VERSION_CODE
	return vfs_iocb_iter_write(file, iocb, iter);
#else
	ssize_t ret;

	kiocb_start_write(iocb);
	ret = vfs_iocb_iter_write(file, iocb, iter);
	if (ret != -EIOCBQUEUED)
		kiocb_end_write(iocb);
	return ret;
#endif
}

/*
 * Long-term pins of a whole memory table (VHOST_BLK_OPT_F_PIN_MEM), for
 * writing, in the caller's own address space. Since 6.5 GUP refuses such
 * a pin of a shared file mapping itself: nothing would track the page
 * cache the device writes behind the filesystem's back. Before, only
 * anonymous, shmem and hugetlb memory is let through here, checked under
 * the same mmap lock as the pin.
 */
#include <linux/mm.h>
#if KERNEL_VERSION(6, 5, 0) <= LINUX_VERSION_CODE
static inline long vhost_blk_pin_longterm(unsigned long start,
					  unsigned long nr_pages,
					  struct page **pages)
{
	return pin_user_pages_fast(start, nr_pages, FOLL_WRITE | FOLL_LONGTERM,
				   pages);
}
#else
#include <linux/hugetlb_inline.h>
#include <linux/shmem_fs.h>
static inline long vhost_blk_pin_longterm(unsigned long start,
					  unsigned long nr_pages,
					  struct page **pages)
{
	unsigned long addr = start, end = start + nr_pages * PAGE_SIZE;
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	long ret = 0;

	mmap_read_lock(mm);
	while (addr < end) {
		vma = find_vma(mm, addr);
		if (!vma || vma->vm_start > addr) {
			ret = -EFAULT;
			break;
		}
		if (!vma_is_anonymous(vma) && !is_vm_hugetlb_page(vma) &&
		    !(vma->vm_file && shmem_mapping(vma->vm_file->f_mapping))) {
			ret = -EOPNOTSUPP;
			break;
		}
		addr = vma->vm_end;
	}
	if (!ret)
		ret = pin_user_pages(start, nr_pages, FOLL_WRITE | FOLL_LONGTERM,
				     pages, NULL);
	mmap_read_unlock(mm);
	return ret;
}
#endif

/*
 * The per-virtqueue worker ioctls of <linux/vhost.h>, new in 6.4: the
 * module serves them on every kernel, so older headers get them here.
 */
#include <linux/vhost.h>
#ifndef VHOST_NEW_WORKER
struct vhost_worker_state {
	unsigned int worker_id;
};

struct vhost_vring_worker {
	unsigned int index;
	unsigned int worker_id;
};

#define VHOST_NEW_WORKER _IOR(VHOST_VIRTIO, 0x8, struct vhost_worker_state)
#define VHOST_FREE_WORKER _IOW(VHOST_VIRTIO, 0x9, struct vhost_worker_state)
#define VHOST_ATTACH_VRING_WORKER _IOW(VHOST_VIRTIO, 0x15,		\
				       struct vhost_vring_worker)
#define VHOST_GET_VRING_WORKER _IOWR(VHOST_VIRTIO, 0x16,		\
				     struct vhost_vring_worker)
#endif

#endif /* _VHOST_BLK_COMPAT_H */
