// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk-engine - a fio external ioengine that plays a virtio-blk guest
 * through the userspace driver in tools/lib: against /dev/vhost-blk with
 * the job's file as backend, or against any vhost-user-blk backend
 * (vhost_user=SOCKET, e.g. qemu-storage-daemon).
 *
 *	ioengine=external:tools/fio/build/vhost-blk-engine.so
 *	filename=/dev/nullb0		backend (ignored with vhost_user=)
 *	vhost_user=/tmp/q.sock		optional: vhost-user-blk socket
 *	vhost_user_wait=SEC		optional: wait up to SEC seconds for
 *					the socket to accept (default 0:
 *					fail at once)
 *	queues=N			optional, needs thread=1: the jobs
 *					(numjobs=N) of a job section share one
 *					device with N queues, one queue each;
 *					each job starts its own queue, so on
 *					/dev/vhost-blk the queue's worker
 *					inherits the job's CPU affinity
 *	queue_size=N			optional: descriptors per queue
 *	pin_mem=1			optional, /dev/vhost-blk only: pin
 *					guest memory once
 *					(VHOST_BLK_OPT_F_PIN_MEM)
 *	busyloop_us=N			optional, /dev/vhost-blk only: the
 *					queue's worker polls an empty ring
 *					for N us before it waits for a kick
 *					(VHOST_SET_VRING_BUSYLOOP_TIMEOUT)
 *	poll_us=N			optional: poll the used ring for N us
 *					before sleeping on the call eventfd
 *	worker_cpu=N			optional, /dev/vhost-blk only: start
 *					queue Q from the (N + Q)-th CPU the
 *					process may use (round robin; those
 *					of fio's main thread), so its
 *					worker runs there, not with the job
 *					(a vhost_task keeps the affinity of
 *					its creator; a kthread, before Linux
 *					6.4, does not)
 *
 * Without queues=N each job has its own device with one queue. fio's I/O
 * buffers are allocated in guest memory (iomem_alloc), so requests point
 * at them directly: no copies, as with a real guest.
 *
 * The struct layouts of fio are not an ABI: build against the source of
 * the installed fio version (see tools/fio/Makefile).
 */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include "fio.h"
#include "optgroup.h"

#include "vhost_blk_ctl.h"
#include "virtio_blk_drv.h"

#define VBE_TIMEOUT_MS		30000
#define VBE_MAX_SHARED		64

struct vbe_options {
	void *pad;			/* fio wants no option at offset 0 */
	char *vhost_user;
	unsigned int vhost_user_wait;	/* seconds */
	unsigned int queues;
	unsigned int queue_size;
	unsigned int pin_mem;
	unsigned int busyloop_us;
	unsigned int poll_us;
	char *worker_cpu;
};

/* One device, possibly shared by the jobs of a job section. */
struct vbe_dev {
	char *key;			/* target and job section */
	struct vblk_dev *d;
	unsigned int users;
	unsigned int next_queue;	/* queue the next job of it drives */
};

struct vbe_data {
	struct vbe_dev *dev;
	struct vblk_vq *vq;
	struct vblk_req **reqs;		/* one per io_u */
	struct vblk_req **free_reqs;
	unsigned int nfree;
	unsigned int nreqs;
	struct io_u **events;
	unsigned int nevents;
	unsigned int queued;		/* posted since the last kick */
	struct vblk_used *used;
	struct vbe_options *eo;
	uint64_t mem_gpa;		/* fio's buffers (iomem_alloc) */
	size_t mem_len;
};

static pthread_mutex_t vbe_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vbe_dev *vbe_shared[VBE_MAX_SHARED];

static struct fio_option options[] = {
	{
		.name	= "vhost_user",
		.lname	= "vhost-user socket",
		.type	= FIO_OPT_STR_STORE,
		.off1	= offsetof(struct vbe_options, vhost_user),
		.help	= "vhost-user-blk socket to use instead of /dev/vhost-blk",
		.category = FIO_OPT_C_ENGINE,
		.group	= FIO_OPT_G_INVALID,
	},
	{
		.name	= "vhost_user_wait",
		.lname	= "vhost-user socket wait",
		.type	= FIO_OPT_INT,
		.off1	= offsetof(struct vbe_options, vhost_user_wait),
		.help	= "Seconds to wait for the vhost-user socket (0: fail at once)",
		.def	= "0",
		.maxval	= 3600,
		.category = FIO_OPT_C_ENGINE,
		.group	= FIO_OPT_G_INVALID,
	},
	{
		.name	= "queues",
		.lname	= "Queues of a shared device",
		.type	= FIO_OPT_INT,
		.off1	= offsetof(struct vbe_options, queues),
		.help	= "Jobs share a device with this many queues (thread=1)",
		.def	= "0",
		.category = FIO_OPT_C_ENGINE,
		.group	= FIO_OPT_G_INVALID,
	},
	{
		.name	= "queue_size",
		.lname	= "Virtqueue size",
		.type	= FIO_OPT_INT,
		.off1	= offsetof(struct vbe_options, queue_size),
		.help	= "Descriptors per virtqueue (0: from iodepth)",
		.def	= "0",
		.category = FIO_OPT_C_ENGINE,
		.group	= FIO_OPT_G_INVALID,
	},
	{
		.name	= "pin_mem",
		.lname	= "Pin guest memory once",
		.type	= FIO_OPT_BOOL,
		.off1	= offsetof(struct vbe_options, pin_mem),
		.help	= "Pin the memory table once (/dev/vhost-blk only)",
		.def	= "0",
		.category = FIO_OPT_C_ENGINE,
		.group	= FIO_OPT_G_INVALID,
	},
	{
		.name	= "busyloop_us",
		.lname	= "Worker busy-poll window",
		.type	= FIO_OPT_INT,
		.off1	= offsetof(struct vbe_options, busyloop_us),
		.help	= "Worker polls an empty ring this long, in us (/dev/vhost-blk only)",
		.def	= "0",
		.category = FIO_OPT_C_ENGINE,
		.group	= FIO_OPT_G_INVALID,
	},
	{
		.name	= "poll_us",
		.lname	= "Used ring poll window",
		.type	= FIO_OPT_INT,
		.off1	= offsetof(struct vbe_options, poll_us),
		.help	= "Poll the used ring this long, in us, before sleeping",
		.def	= "0",
		.category = FIO_OPT_C_ENGINE,
		.group	= FIO_OPT_G_INVALID,
	},
	{
		.name	= "worker_cpu",
		.lname	= "Worker CPU",
		.type	= FIO_OPT_STR_STORE,
		.off1	= offsetof(struct vbe_options, worker_cpu),
		.help	= "Queue Q's worker on the (N + Q)-th allowed CPU (/dev/vhost-blk only)",
		.category = FIO_OPT_C_ENGINE,
		.group	= FIO_OPT_G_INVALID,
	},
	{
		.name	= NULL,
	},
};

static unsigned int round_pow2(unsigned int v)
{
	unsigned int p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

/* Guest memory one job needs: its buffers, request headers and rings. */
static size_t job_mem(struct thread_data *td, unsigned int queue_size)
{
	size_t bufs = (size_t)td_max_bs(td) * td->o.iodepth;

	bufs += td->o.mem_align + page_size;
	if (td->o.verify)
		bufs *= 2;
	return bufs + (size_t)td->o.iodepth * 2 * VBLK_GRANULE +
	       (size_t)queue_size * 64 + (1U << 20);
}

static unsigned int job_queue_size(struct thread_data *td)
{
	struct vbe_options *eo = td->eo;
	unsigned int qs = eo->queue_size;

	if (!qs) {
		/* Guest memory for the largest ring create_dev() picks. */
		qs = 32768;
	}
	return qs;
}

static const char *job_target(struct thread_data *td)
{
	struct vbe_options *eo = td->eo;

	if (eo->vhost_user && eo->vhost_user[0])
		return eo->vhost_user;
	if (td->o.nr_files != 1 || !td->files || !td->files[0]) {
		log_err("vhost-blk-engine: needs exactly one filename (the backend)\n");
		return NULL;
	}
	return td->files[0]->file_name;
}

static int open_backend(const char *path, bool ro)
{
	int fd = -1;

	if (!ro)
		fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return fd;
}

static int create_dev(struct thread_data *td, const char *target,
		      unsigned int nqueues, size_t mem, struct vblk_dev **dp)
{
	struct vbe_options *eo = td->eo;
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	struct vblk_dev *d;
	int bfd = -1, ret;

	o.num_queues = nqueues;
	o.queue_size = job_queue_size(td);
	o.mem_size = (mem + (2U << 20) - 1) & ~((size_t)(2U << 20) - 1);
	o.populate = true;
	if (eo->vhost_user && eo->vhost_user[0]) {
		o.vhost_user = eo->vhost_user;
		o.vhost_user_wait_ms = (int)eo->vhost_user_wait * 1000;
	} else {
		bfd = open_backend(target, td_read(td) && !td_write(td) &&
				   !td->o.verify);
		if (bfd < 0) {
			log_err("vhost-blk-engine: %s: %s\n", target,
				strerror(-bfd));
			return bfd;
		}
	}
	ret = vblk_dev_open(&d, &o);
	if (!ret) {
		ret = vblk_dev_setup(d, 0);
		if (!ret && eo->pin_mem && !o.vhost_user)
			ret = vhost_blk_set_options(d->fd,
						    VHOST_BLK_OPT_F_PIN_MEM);
		if (!ret)
			ret = vblk_dev_attach(d, bfd, 0, "fio");
		if (!ret && !eo->queue_size) {
			/* Room for iodepth chains cut by the device's size_max. */
			uint32_t smax = vblk_dev_size_max(d) & ~511U;
			unsigned int segs = 1, max = o.vhost_user ? 1024 : 32768;

			if (smax && smax < td_max_bs(td))
				segs = (td_max_bs(td) + smax - 1) / smax;
			d->queue_size = round_pow2(td->o.iodepth * (segs + 2));
			if (d->queue_size < 16)
				d->queue_size = 16;
			if (d->queue_size > max)
				d->queue_size = max;
		}
		/*
		 * Over vhost-user the daemon's threads serve every queue
		 * whoever starts it. On /dev/vhost-blk each job starts its
		 * own queue (get_dev()), so that the queue's kernel worker
		 * is created by the thread that drives it and shares its
		 * CPU affinity (cpus_allowed=).
		 */
		for (unsigned int i = 0; !ret && o.vhost_user && i < nqueues; i++)
			ret = vblk_vq_start(d, i, 0);
		if (ret)
			vblk_dev_destroy(d);
		else
			*dp = d;
	}
	if (bfd >= 0)
		close(bfd);
	if (ret)
		log_err("vhost-blk-engine: %s: setting up the device: %s\n",
			target, strerror(-ret));
	return ret;
}

static void put_dev(struct vbe_dev *vd)
{
	pthread_mutex_lock(&vbe_lock);
	if (--vd->users == 0) {
		for (unsigned int i = 0; i < VBE_MAX_SHARED; i++)
			if (vbe_shared[i] == vd)
				vbe_shared[i] = NULL;
		vblk_dev_destroy(vd->d);
		free(vd->key);
		free(vd);
	}
	pthread_mutex_unlock(&vbe_lock);
}

/*
 * Start queue @q from the calling job. On /dev/vhost-blk this creates the
 * queue's worker, which keeps the CPU affinity of the thread that starts
 * it: the job's, or with worker_cpu=N that one CPU for the moment.
 */
static int start_queue(struct thread_data *td, struct vblk_dev *d,
		       unsigned int q)
{
	struct vbe_options *eo = td->eo;
	cpu_set_t saved, one;
	bool moved = false;
	long ncpu;
	int ret;

	if (d->vu)
		return vblk_vq_start(d, q, 0);
	if (eo->busyloop_us) {
		ret = vhost_blk_set_vring_busyloop_timeout(d->fd, q,
							   eo->busyloop_us);
		if (ret)
			return ret;
	}
	if (eo->worker_cpu && eo->worker_cpu[0]) {
		unsigned long k;
		char *end;
		int cpu;

		errno = 0;
		k = strtoul(eo->worker_cpu, &end, 0);
		if (errno || *end || end == eo->worker_cpu) {
			log_err("vhost-blk-engine: worker_cpu=%s: not a number\n",
				eo->worker_cpu);
			return -EINVAL;
		}
		/*
		 * The (N + Q)-th of the CPUs the process may use, round
		 * robin: those of its main thread, which cpus_allowed= of a
		 * job does not narrow.
		 */
		if (sched_getaffinity(0, sizeof(saved), &saved) ||
		    sched_getaffinity(getpid(), sizeof(one), &one))
			return -errno;
		ncpu = CPU_COUNT(&one);
		k = (k + q) % ncpu;
		for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
			if (CPU_ISSET(cpu, &one) && !k--)
				break;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one))
			return -errno;
		moved = true;
	}
	ret = vblk_vq_start(d, q, 0);
	if (moved && sched_setaffinity(0, sizeof(saved), &saved) && !ret)
		ret = -errno;
	return ret;
}

/*
 * Find or make the device of this job. Shared devices are keyed by the
 * target and the job section (fio's groupid is per section with
 * new_group; the name tells sections apart otherwise).
 */
static int get_dev(struct thread_data *td, struct vbe_dev **vdp,
		   unsigned int *qidx)
{
	struct vbe_options *eo = td->eo;
	const char *target = job_target(td);
	unsigned int nq = eo->queues ? eo->queues : 1;
	struct vbe_dev *vd = NULL;
	char *key;
	int ret = 0;

	if (!target)
		return -EINVAL;
	if (eo->queues > 1 && !td->o.use_thread) {
		log_err("vhost-blk-engine: queues=N needs thread=1\n");
		return -EINVAL;
	}
	if (nq > VHOST_BLK_MAX_QUEUES) {
		log_err("vhost-blk-engine: at most %d queues\n",
			VHOST_BLK_MAX_QUEUES);
		return -EINVAL;
	}
	if (asprintf(&key, "%s\n%s", target, td->o.name ? td->o.name : "") < 0)
		return -ENOMEM;

	pthread_mutex_lock(&vbe_lock);
	if (eo->queues) {
		for (unsigned int i = 0; i < VBE_MAX_SHARED; i++)
			if (vbe_shared[i] && !strcmp(vbe_shared[i]->key, key)) {
				vd = vbe_shared[i];
				break;
			}
	}
	if (!vd) {
		size_t mem = job_mem(td, job_queue_size(td)) * nq;

		vd = calloc(1, sizeof(*vd));
		if (!vd) {
			ret = -ENOMEM;
			goto out;
		}
		ret = create_dev(td, target, nq, mem, &vd->d);
		if (ret) {
			free(vd);
			vd = NULL;
			goto out;
		}
		vd->key = key;
		key = NULL;
		if (eo->queues) {
			unsigned int i;

			for (i = 0; i < VBE_MAX_SHARED; i++)
				if (!vbe_shared[i]) {
					vbe_shared[i] = vd;
					break;
				}
			if (i == VBE_MAX_SHARED) {
				vblk_dev_destroy(vd->d);
				free(vd->key);
				free(vd);
				vd = NULL;
				ret = -ENOSPC;
				goto out;
			}
		}
	}
	if (vd->next_queue >= nq) {
		log_err("vhost-blk-engine: more jobs than the %u queues of %s\n",
			nq, target);
		ret = -ENOSPC;
		goto out;
	}
	vd->users++;
	*vdp = vd;
	*qidx = vd->next_queue++;
	/* The caller's cleanup drops the device if this fails. */
	if (!vd->d->vqs[*qidx].started)
		ret = start_queue(td, vd->d, *qidx);
	if (ret)
		log_err("vhost-blk-engine: %s: starting queue %u: %s\n",
			target, *qidx, strerror(-ret));
out:
	pthread_mutex_unlock(&vbe_lock);
	free(key);
	return ret;
}

static void vbe_cleanup(struct thread_data *td)
{
	struct vbe_data *vb = td->io_ops_data;

	if (!vb)
		return;
	if (vb->dev) {
		pthread_mutex_lock(&vbe_lock);
		for (unsigned int i = 0; i < vb->nreqs; i++)
			if (vb->reqs[i])
				vblk_req_free(vb->dev->d, vb->reqs[i]);
		pthread_mutex_unlock(&vbe_lock);
		put_dev(vb->dev);
	}
	free(vb->reqs);
	free(vb->free_reqs);
	free(vb->events);
	free(vb->used);
	free(vb);
	td->io_ops_data = NULL;
}

static int vbe_init(struct thread_data *td)
{
	struct vbe_data *vb;
	unsigned int q = 0;
	int ret;

	vb = calloc(1, sizeof(*vb));
	if (!vb)
		return 1;
	td->io_ops_data = vb;
	vb->eo = td->eo;
	vb->nreqs = td->o.iodepth;
	vb->reqs = calloc(vb->nreqs, sizeof(*vb->reqs));
	vb->free_reqs = calloc(vb->nreqs, sizeof(*vb->free_reqs));
	vb->events = calloc(vb->nreqs, sizeof(*vb->events));
	vb->used = calloc(vb->nreqs, sizeof(*vb->used));
	if (!vb->reqs || !vb->free_reqs || !vb->events || !vb->used)
		goto fail;

	ret = get_dev(td, &vb->dev, &q);
	if (ret)
		goto fail;
	vb->vq = &vb->dev->d->vqs[q];

	pthread_mutex_lock(&vbe_lock);
	for (unsigned int i = 0; i < vb->nreqs; i++) {
		vb->reqs[i] = vblk_req_alloc(vb->dev->d);
		if (!vb->reqs[i])
			break;
		vb->free_reqs[vb->nfree++] = vb->reqs[i];
	}
	pthread_mutex_unlock(&vbe_lock);
	if (vb->nfree != vb->nreqs) {
		log_err("vhost-blk-engine: out of guest memory for requests\n");
		goto fail;
	}
	return 0;
fail:
	vbe_cleanup(td);
	return 1;
}

static int vbe_iomem_alloc(struct thread_data *td, size_t size)
{
	struct vbe_data *vb = td->io_ops_data;
	int ret;

	pthread_mutex_lock(&vbe_lock);
	ret = vblk_alloc(vb->dev->d, size, page_size, &vb->mem_gpa);
	pthread_mutex_unlock(&vbe_lock);
	if (ret) {
		log_err("vhost-blk-engine: cannot place %zu bytes of buffers in guest memory\n",
			size);
		return 1;
	}
	vb->mem_len = size;
	td->orig_buffer = vblk_gpa_to_hva(vb->dev->d, vb->mem_gpa, size);
	return !td->orig_buffer;
}

static void vbe_iomem_free(struct thread_data *td)
{
	struct vbe_data *vb = td->io_ops_data;

	if (!vb || !vb->mem_len)
		return;
	pthread_mutex_lock(&vbe_lock);
	vblk_free(vb->dev->d, vb->mem_gpa, vb->mem_len);
	pthread_mutex_unlock(&vbe_lock);
	vb->mem_len = 0;
	td->orig_buffer = NULL;
}

static enum fio_q_status vbe_queue(struct thread_data *td, struct io_u *io_u)
{
	struct vbe_data *vb = td->io_ops_data;
	struct vblk_dev *d = vb->dev->d;
	struct vblk_req *r;
	uint32_t type;
	int ret;

	fio_ro_check(td, io_u);

	switch (io_u->ddir) {
	case DDIR_READ:
		type = VIRTIO_BLK_T_IN;
		break;
	case DDIR_WRITE:
		type = VIRTIO_BLK_T_OUT;
		break;
	case DDIR_SYNC:
	case DDIR_DATASYNC:
		if (!vblk_dev_has_feature(d, VIRTIO_BLK_F_FLUSH))
			return FIO_Q_COMPLETED;
		type = VIRTIO_BLK_T_FLUSH;
		break;
	default:
		io_u->error = EOPNOTSUPP;
		return FIO_Q_COMPLETED;
	}
	if (!vb->nfree)
		return FIO_Q_BUSY;

	r = vb->free_reqs[--vb->nfree];
	vblk_req_reset(r, type, io_u->offset >> 9);
	if (type != VIRTIO_BLK_T_FLUSH && io_u->xfer_buflen) {
		uint64_t gpa = vblk_hva_to_gpa(d, io_u->xfer_buf);

		if (!gpa) {
			vb->free_reqs[vb->nfree++] = r;
			io_u->error = EFAULT;
			return FIO_Q_COMPLETED;
		}
		ret = vblk_req_add_data(d, r, gpa, io_u->xfer_buflen);
		if (ret) {
			vb->free_reqs[vb->nfree++] = r;
			io_u->error = -ret;
			return FIO_Q_COMPLETED;
		}
	}
	r->priv = io_u;
	ret = vblk_req_submit(vb->vq, r, 0);
	if (ret < 0) {
		vb->free_reqs[vb->nfree++] = r;
		if (ret == -ENOSPC && vb->vq->inflight)
			return FIO_Q_BUSY;
		io_u->error = -ret;
		return FIO_Q_COMPLETED;
	}
	vb->queued++;
	return FIO_Q_QUEUED;
}

static int vbe_commit(struct thread_data *td)
{
	struct vbe_data *vb = td->io_ops_data;
	int ret;

	if (!vb->queued)
		return 0;
	vb->queued = 0;
	ret = vblk_vq_kick(vb->vq);
	if (ret) {
		td_verror(td, -ret, "kick");
		return ret;
	}
	return 0;
}

static unsigned int reap(struct vbe_data *vb, unsigned int max)
{
	unsigned int got = 0;
	int n;

	n = vblk_vq_reap(vb->vq, vb->used, max);
	for (int i = 0; i < n; i++) {
		struct vblk_req *r = vb->used[i].req;
		struct io_u *io_u;

		if (!vb->used[i].valid || !r)
			continue;
		io_u = r->priv;
		if (r->status == VIRTIO_BLK_S_OK)
			io_u->error = 0;
		else if (r->status == VIRTIO_BLK_S_UNSUPP)
			io_u->error = EOPNOTSUPP;
		else
			io_u->error = EIO;
		io_u->resid = 0;
		vb->events[vb->nevents++] = io_u;
		vb->free_reqs[vb->nfree++] = r;
		got++;
	}
	return got;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* poll_us=N: watch the used ring for a while before sleeping. */
static bool poll_used(struct vbe_data *vb, uint64_t deadline)
{
	struct vbe_options *eo = vb->eo;
	uint64_t end;

	if (!eo->poll_us)
		return false;
	end = vblk_now_ns() + (uint64_t)eo->poll_us * 1000;
	if (end > deadline)
		end = deadline;
	do {
		if (vblk_vq_pending(vb->vq))
			return true;
		cpu_relax();
	} while (vblk_now_ns() < end);
	return false;
}

static int vbe_getevents(struct thread_data *td, unsigned int min,
			 unsigned int max, const struct timespec *t)
{
	struct vbe_data *vb = td->io_ops_data;
	int timeout_ms = t ? (int)(t->tv_sec * 1000 + t->tv_nsec / 1000000) :
			     VBE_TIMEOUT_MS;
	uint64_t deadline = vblk_now_ns() + (uint64_t)timeout_ms * 1000000;

	vb->nevents = 0;
	for (;;) {
		uint64_t now;

		if (vb->nevents < max)
			reap(vb, max - vb->nevents);
		if (vb->nevents >= min || vb->nevents >= max)
			break;
		now = vblk_now_ns();
		if (now >= deadline) {
			if (!t && !vb->nevents) {
				td_verror(td, ETIMEDOUT, "getevents");
				return -ETIMEDOUT;
			}
			break;
		}
		/*
		 * reap() re-armed used_event. A completion the device
		 * published before it saw the new used_event sends no
		 * call: look at used->idx again after a full barrier,
		 * sleep only if nothing is there.
		 */
		__sync_synchronize();
		if (vblk_vq_pending(vb->vq) || poll_used(vb, deadline))
			continue;
		vblk_vq_wait(vb->vq, (int)((deadline - now + 999999) / 1000000));
	}
	return vb->nevents;
}

static struct io_u *vbe_event(struct thread_data *td, int event)
{
	struct vbe_data *vb = td->io_ops_data;

	return vb->events[event];
}

static int vbe_open_file(struct thread_data *td, struct fio_file *f)
{
	(void)td;
	(void)f;
	return 0;
}

static int vbe_close_file(struct thread_data *td, struct fio_file *f)
{
	(void)td;
	(void)f;
	return 0;
}

/* Capacity without a device of ours yet (fio asks before init). */
static int probe_size(struct thread_data *td, const char *target,
		      uint64_t *bytes)
{
	struct vbe_options *eo = td->eo;
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	struct vblk_dev *d;
	struct stat st;
	int fd, ret;

	if (!eo->vhost_user || !eo->vhost_user[0]) {
		fd = open_backend(target, true);
		if (fd < 0)
			return fd;
		ret = 0;
		if (fstat(fd, &st))
			ret = -errno;
		else if (S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, bytes))
			ret = -errno;
		else if (!S_ISBLK(st.st_mode))
			*bytes = st.st_size;
		close(fd);
		return ret;
	}
	o.vhost_user = eo->vhost_user;
	o.vhost_user_wait_ms = (int)eo->vhost_user_wait * 1000;
	o.mem_size = 2U << 20;
	ret = vblk_dev_open(&d, &o);
	if (ret)
		return ret;
	ret = vblk_dev_setup(d, 0);
	if (!ret)
		ret = vblk_dev_read_config(d);
	if (!ret)
		*bytes = vblk_dev_capacity(d) << 9;
	vblk_dev_destroy(d);
	return ret;
}

static int vbe_get_file_size(struct thread_data *td, struct fio_file *f)
{
	struct vbe_data *vb = td->io_ops_data;
	uint64_t bytes = 0;
	int ret;

	if (fio_file_size_known(f))
		return 0;
	if (vb && vb->dev) {
		bytes = vblk_dev_capacity(vb->dev->d) << 9;
	} else {
		ret = probe_size(td, f->file_name, &bytes);
		if (ret) {
			td_verror(td, -ret, "get_file_size");
			return 1;
		}
	}
	f->real_file_size = bytes;
	fio_file_set_size_known(f);
	return 0;
}

/* dlsym()ed by fio as "ioengine". */
struct ioengine_ops ioengine;
struct ioengine_ops ioengine = {
	.name		= "vhost-blk",
	.version	= FIO_IOOPS_VERSION,
	.init		= vbe_init,
	.queue		= vbe_queue,
	.commit		= vbe_commit,
	.getevents	= vbe_getevents,
	.event		= vbe_event,
	.cleanup	= vbe_cleanup,
	.open_file	= vbe_open_file,
	.close_file	= vbe_close_file,
	.get_file_size	= vbe_get_file_size,
	.iomem_alloc	= vbe_iomem_alloc,
	.iomem_free	= vbe_iomem_free,
	.flags		= FIO_DISKLESSIO | FIO_NODISKUTIL | FIO_NOEXTEND |
			  FIO_RAWIO | FIO_MEMALIGN,
	.options	= options,
	.option_struct_size = sizeof(struct vbe_options),
};
