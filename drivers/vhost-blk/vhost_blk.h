/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-blk private definitions.
 *
 * Lock order (outermost first):
 *   vhost_blk_dev.mutex -> vhost_blk_worker.mutex -> vhost_blk_vq.mutex
 *   vhost_blk_dev.mutex -> vhost_blk_pin_mutex (pin.c, module-wide)
 *   vhost_blk_dev.mutex -> vhost_blk_claims_lock (inflight.c, a spinlock,
 *   module-wide, innermost)
 *   vhost_blk_vq.mutex -> vhost_blk_budget_lock (budget.c, a spinlock,
 *   module-wide, innermost)
 *   vhost_blk_dev.mutex or vhost_blk_vq.mutex -> vhost_blk_dev.config_lock
 *   (resize.c, a spinlock, innermost)
 *   vhost_blk_dev.mutex or vhost_blk_vq.mutex -> vhost_blk_dev.aux_lock
 *   (worker.c, a spinlock, innermost)
 * A worker takes only vq mutexes, one at a time. Completion (bio end_io)
 * takes no lock: it pushes onto lock-free lists and wakes the worker.
 */
#ifndef _VHOST_BLK_H
#define _VHOST_BLK_H

#include <linux/types.h>
#include <linux/sizes.h>
#include <linux/mutex.h>
#include <linux/llist.h>
#include <linux/poll.h>
#include <linux/wait.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <linux/uio.h>
#include <linux/bio.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>
#include <linux/vhost.h>
#include <linux/u64_stats_sync.h>
#include <uapi/linux/vhost_blk.h>

#include "compat.h"
#include "decode.h"

struct seq_file;

#define VHOST_BLK_MAX_VQS	VHOST_BLK_MAX_QUEUES
/* Largest request that may go through a bounce buffer. */
#define VHOST_BLK_BOUNCE_MAX	SZ_1M
/*
 * Guest pages a queue may hold pinned or bounced at once (64 MiB): bounds
 * the host memory and page references one queue can tie up.
 */
#define VHOST_BLK_VQ_PAGES_MAX	16384
/* Requests a queue handles per wakeup before yielding to others. */
#define VHOST_BLK_WEIGHT	256
/* WRITE_ZEROES sectors per segment where the backend writes zero pages. */
#define VHOST_BLK_ZEROOUT_MAX	(64U << (20 - SECTOR_SHIFT))

/*
 * What VHOST_GET_FEATURES offers. VIRTIO_BLK_F_RO depends on the backend:
 * only VHOST_BLK_GET_CONFIG reports it, and VHOST_SET_FEATURES accepts it.
 */
#define VHOST_BLK_FEATURES \
	(BIT_ULL(VIRTIO_F_VERSION_1) | BIT_ULL(VIRTIO_F_ANY_LAYOUT) | \
	 BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) | \
	 BIT_ULL(VIRTIO_RING_F_EVENT_IDX) | \
	 BIT_ULL(VIRTIO_BLK_F_SIZE_MAX) | BIT_ULL(VIRTIO_BLK_F_SEG_MAX) | \
	 BIT_ULL(VIRTIO_BLK_F_BLK_SIZE) | \
	 BIT_ULL(VIRTIO_BLK_F_TOPOLOGY) | BIT_ULL(VIRTIO_BLK_F_FLUSH) | \
	 BIT_ULL(VIRTIO_BLK_F_MQ) | \
	 BIT_ULL(VIRTIO_BLK_F_DISCARD) | BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES) | \
	 BIT_ULL(VIRTIO_BLK_F_SECURE_ERASE))
/*
 * vhost bits VHOST_GET_FEATURES offers besides: never the guest's, so not
 * in VHOST_BLK_GET_CONFIG. VHOST_F_LOG_ALL may be toggled while queues run.
 */
#define VHOST_BLK_VHOST_FEATURES	BIT_ULL(VHOST_F_LOG_ALL)

/* ---- memory table (mem.c; lookup by guest address in decode.c) ---- */

extern unsigned int vhost_blk_max_mem_regions;

int vhost_blk_mem_create(const struct vhost_memory_region *in, u32 nregions,
			 struct vhost_blk_mem **out);
struct vhost_blk_mem *vhost_blk_mem_dup(const struct vhost_blk_mem *mem);
void vhost_blk_mem_free(struct vhost_blk_mem *mem, struct mm_struct *mm);
void vhost_blk_mem_retire(struct vhost_blk_mem *mem, struct mm_struct *mm);
typedef int (*vhost_blk_gpa_fn_t)(void *arg, u64 gpa, u64 len);
int vhost_blk_mem_walk_regions(const struct vhost_blk_mem *mem,
			       vhost_blk_gpa_fn_t fn, void *arg);
int vhost_blk_mem_uaddr_to_gpa(const struct vhost_blk_mem *mem, u64 uaddr,
			       u64 len, vhost_blk_gpa_fn_t fn, void *arg);
bool vhost_blk_mem_uaddr_ok(const struct vhost_blk_mem *mem, u64 uaddr,
			    u64 len);
struct page **vhost_blk_mem_pages(const struct vhost_blk_mem *mem,
				  unsigned long uaddr, size_t len);

/* pin.c */
int vhost_blk_mem_pin(struct vhost_blk_mem *mem, struct mm_struct *mm,
		      const struct vhost_blk_mem *replaced);
void vhost_blk_mem_unpin(struct vhost_blk_mem *mem, struct mm_struct *mm);

/* ---- workers (worker.c) ---- */

struct vhost_blk_work;
typedef void (*vhost_blk_work_fn_t)(struct vhost_blk_work *work);

#define VHOST_BLK_WORK_QUEUED	0

struct vhost_blk_work {
	struct llist_node node;
	unsigned long flags;
	vhost_blk_work_fn_t fn;
};

struct vhost_blk_dev;

struct vhost_blk_worker {
	struct vhost_blk_dev *dev;
	struct vhost_blk_task *task;
	struct llist_head work_list;
	unsigned int id;		/* index in dev->workers */
	atomic_t attach_cnt;		/* queues pointing to it */
	/* Serializes the SIGKILL handler against flushes. */
	struct mutex mutex;
	bool killed;			/* SIGKILL handled; under mutex */
	/*
	 * Auxiliary worker of a queue worker (worker.c): runs the flushes
	 * and fallocates of a regular file backend for the queues this one
	 * serves. Made after it, best effort, while the backend is a file;
	 * NULL otherwise or when it could not be made. Written under
	 * dev->mutex while no queue it serves runs (paused and idle, or
	 * not attached yet); the data path reads it under vq->mutex of a
	 * queue this worker serves. Not in dev->workers[]: the owner can
	 * neither name nor attach it.
	 */
	struct vhost_blk_worker *aux;
	/*
	 * Of an auxiliary worker, under dev->aux_lock: the owner was killed
	 * and it takes no more work.
	 */
	bool aux_dead;
};

struct vhost_blk_poll {
	poll_table table;
	wait_queue_head_t *wqh;		/* NULL when not polling */
	wait_queue_entry_t wait;
	struct vhost_blk_vq *vq;
};

/* ---- virtqueues (vring.c) ---- */

/* Request types as the counters (stats.c) sort them. */
enum vhost_blk_stat_type {
	VHOST_BLK_STAT_IN,
	VHOST_BLK_STAT_OUT,
	VHOST_BLK_STAT_FLUSH,
	VHOST_BLK_STAT_GET_ID,
	VHOST_BLK_STAT_DISCARD,
	VHOST_BLK_STAT_WRITE_ZEROES,
	VHOST_BLK_STAT_SECURE_ERASE,
	VHOST_BLK_STAT_OTHER,		/* unknown type, or no header */
	VHOST_BLK_STAT_NR
};

/*
 * Counters of a queue, from open on. Written by whoever holds vq->mutex
 * (one writer at a time), read without it through syncp (stats.c).
 */
struct vhost_blk_vq_stats {
	struct u64_stats_sync syncp;
	u64_stats_t reqs[VHOST_BLK_STAT_NR];	/* requests ended, by type */
	u64_stats_t status[VIRTIO_BLK_S_UNSUPP + 1];	/* ... by status */
	u64_stats_t bytes_read;		/* data of IN requests ended OK */
	u64_stats_t bytes_written;	/* data of OUT requests ended OK */
	u64_stats_t refused;		/* avail entries that made no request */
	u64_stats_t calls;		/* call eventfd signals */
	u64_stats_t poll_ns;		/* busy-polling an empty ring */
	u64_stats_t poll_hits;		/* polls that found a new chain */
	u64_stats_t direct;		/* requests posted by their completion */
};

struct vhost_blk_req {
	struct llist_node node;		/* on vq->done once every bio ended */
	struct vhost_blk_vq *vq;
	u16 head;			/* descriptor chain id */
	u8 status;			/* VIRTIO_BLK_S_*; end_io may set IOERR */
	bool dirty;			/* device wrote guest memory */
	u32 used_len;			/* bytes written to the guest */
	u32 in_len;			/* writable bytes in the chain */
	u32 type;			/* VIRTIO_BLK_T_*, or VHOST_BLK_T_NONE */
	u32 data_len;			/* IN, OUT: bytes of data */
	u8 __user *status_addr;		/* NULL: chain had no status byte */
	/* Dirty log on: the buffers the device writes, logged at the end. */
	struct iovec *log_iov;
	unsigned int nr_log_iov;
	atomic_t pending;		/* bios in flight, +1 while submitting */
	struct bio *done_bios;		/* lock-free stack of ended bios */

	bool pinned;			/* bios hold pinned guest pages */
	unsigned int nr_pages;		/* counted in vq->inflight_pages */

	/* Bounce buffer for data the backend cannot take in place. */
	struct page **bounce;		/* NULL: no bounce buffer */
	unsigned int nr_bounce;
	struct iovec *bounce_iov;	/* guest buffers to copy back (IN) */
	unsigned int nr_bounce_iov;

	/*
	 * Direct completion (direct.c): the status byte's pinned page, NULL
	 * when the worker posts the request. posted and called are set by
	 * the last reference, read by the worker once it took the request.
	 */
	struct page *status_page;
	unsigned int status_off;
	bool posted;			/* on the used ring already */
	bool called;			/* and the guest was called */

	/* File backends: one asynchronous direct I/O per request. */
	struct kiocb iocb;
	struct bio_vec *bvec;		/* bounce pages as an iterator */
	u64 io_len;			/* bytes the kiocb must transfer */
	/* Set by ki_complete, cleared by the worker once it reported it. */
	bool notify;			/* queued I/O to report to fsnotify */

	/*
	 * File backends: a flush or fallocate on the auxiliary worker of
	 * the queue's worker (file.c). aux_file is the backend when the
	 * request started, without a reference of its own: the backend
	 * changes, and the device drops it, only with no request in flight.
	 * aux_segs is a copy of the segments, owned by the work until it
	 * ends.
	 */
	struct vhost_blk_work aux_work;
	struct file *aux_file;
	struct virtio_blk_discard_write_zeroes *aux_segs;
	unsigned int aux_nr_segs;
};

/* A guest ring mapped into the kernel over pinned pages (direct.c). */
struct vhost_blk_ring_map {
	void *vaddr;			/* vmap() of pages, NULL: not mapped */
	struct page **pages;		/* each with a reference of its own */
	unsigned int n;
};

struct vhost_blk_vq {
	struct vhost_blk_dev *dev;
	unsigned int index;

	/*
	 * Protects everything below that is not marked otherwise. Taken by
	 * ioctls (inside dev->mutex, through vhost_blk_vq_lock()) and by the
	 * worker while it serves the queue, busy-polling included.
	 */
	struct mutex mutex;
	/* Lock-free: ioctls waiting for mutex; a polling worker lets go. */
	atomic_t ctl_waiting;

	unsigned int num;		/* ring size, 0 until set */
	struct vring_desc __user *desc;
	struct vring_avail __user *avail;
	struct vring_used __user *used;
	u64 desc_addr, avail_addr, used_addr;	/* as set, for re-checks */
	bool addr_set;

	u16 last_avail_idx;		/* next avail entry to consume */
	u16 avail_idx;			/* last avail->idx read */
	u16 last_used_idx;		/* next used entry to fill */
	u16 published_used;		/* used->idx as last written */
	u16 signalled_used;		/* used idx at the last call */
	bool signalled_used_valid;
	bool event_idx;			/* VIRTIO_RING_F_EVENT_IDX acked */

	/*
	 * VHOST_VRING_F_LOG: used ring writes are logged at log_addr, its
	 * guest-physical address. The log and its eventfd are the device's
	 * (dev->log_base, dev->log_ctx), copied here under dev->mutex and
	 * mutex, so the data path reads them under mutex alone.
	 */
	bool log_used;
	u64 log_addr;
	void __user *log_base;
	struct eventfd_ctx *log_ctx;	/* dev->log_ctx holds the reference */
	bool log_pending;		/* logged, log eventfd not signalled */

	/*
	 * Direct completion (direct.c): the used and avail rings mapped
	 * into the kernel, set and cleared under mutex with no request in
	 * flight. While used_map is set, last_used_idx, published_used,
	 * signalled_used(_valid), the used ring's entries and index, and
	 * call_ctx are written (and, outside the mutex, read) under
	 * used_lock as well: requests post themselves from any context.
	 */
	spinlock_t used_lock;
	/*
	 * A request that posted itself leaves its reclaim to the worker's
	 * next run instead of waking it: while the queue is mapped, started,
	 * not paused and not starved. Written under mutex (cleared with
	 * vhost_blk_vq_reap_soon()), read by completions.
	 */
	bool lazy_reap;
	struct vring_used *used_map;
	struct vring_avail *avail_map;
	unsigned int map_num;		/* vq->num at mapping; under used_lock */
	struct vhost_blk_ring_map used_pages;
	struct vhost_blk_ring_map avail_pages;

	/*
	 * Inflight region (inflight.c, VHOST_BLK_SET_VRING_INFLIGHT): in
	 * the owner's memory, shared with other processes, so written by
	 * the device and read back only when the queue starts. NULL: none.
	 */
	struct vhost_blk_inflight_split __user *inflight_region;
	u64 inflight_len;		/* bytes at inflight */
	u64 inflight_counter;		/* next desc[].counter */
	u16 inflight_batch_head;	/* last_batch_head as last written */
	/*
	 * The claim on the region while the queue may write it: its first
	 * page, pinned, and the offset in it (vhost_blk_inflight_claim()).
	 * Set and cleared under dev->mutex; the node is on the module-wide
	 * list under vhost_blk_claims_lock. NULL: no claim.
	 */
	struct page *inflight_page;
	unsigned int inflight_off;
	struct list_head inflight_claim;
	u16 *batch;			/* heads used, not yet published */
	unsigned int nr_batch;
	u16 *resubmit;			/* heads to take before the avail ring */
	unsigned int nr_resubmit;
	unsigned int resubmit_pos;	/* next one to take */
	bool took_resubmit;		/* the last head came from resubmit */

	bool started;			/* kick fd set: serving the ring */
	bool paused;			/* backend being swapped */
	bool broken;			/* guest error: wait for a restart */
	bool starved;			/* out of request slots */
	/* longest window, us, to poll an empty ring; 0: do not poll */
	unsigned int busyloop_timeout;
	/*
	 * The window the worker polls now, ns: adapts between 0 and
	 * busyloop_timeout (kick.c). dry_since: when the ring last ran dry
	 * with no chain found in the window, 0 if it has not since.
	 */
	u64 poll_window;
	u64 dry_since;

	struct file *kick;
	struct eventfd_ctx *call_ctx;
	struct eventfd_ctx *err_ctx;
	struct vhost_blk_poll poll;

	struct vhost_blk_req *reqs;	/* num slots */
	u16 *free_slots;		/* stack of free slot indexes */
	unsigned int nr_free;

	struct vhost_blk_chain *chain;	/* scratch for the worker */
	struct iovec *data_iov;		/* scratch: data part of chain */
	/* scratch: DISCARD/WRITE_ZEROES/SECURE_ERASE segments */
	struct virtio_blk_discard_write_zeroes *segs;

	/* Written under mutex, read under RCU by completion paths. */
	struct vhost_blk_worker __rcu *worker;

	/* On the list of queues waiting for pages; under vhost_blk_budget_lock. */
	struct list_head budget_node;

	struct vhost_blk_work kick_work;	/* serve the avail ring */
	struct vhost_blk_work done_work;	/* post completions */
	struct llist_head done;		/* lock-free: ended requests */
	atomic_t inflight;		/* requests taken, not yet used */
	atomic64_t kicks;		/* lock-free: kick eventfd wakeups */
	struct vhost_blk_vq_stats stats;
	unsigned int inflight_pages;	/* pinned or bounced by them */
	wait_queue_head_t drain_wq;	/* woken when inflight drops */
	/* On drain_wq while a release waits for the queue's requests. */
	struct wait_queue_entry release_wait;
};

/*
 * How vhost_blk_vq_drain() waits for the requests of a stopped queue:
 * killably in an ioctl and while the file is released (a backend that
 * never answers must not keep a killed owner from dying), and not at
 * all when the releasing task exits; not at all in the work that then
 * finishes the release, which each drain wake-up queues again.
 */
enum vhost_blk_drain_mode {
	VHOST_BLK_DRAIN_KILLABLE,
	VHOST_BLK_DRAIN_NOWAIT,
};

struct vhost_blk_dev {
	/* Serializes ioctls and release; protects the fields below. */
	struct mutex mutex;
	u32 id;				/* constant: names it in traces, fdinfo */
	struct mm_struct *mm;		/* owner; NULL until SET_OWNER */
	/*
	 * Changes only with no queue started, except VHOST_F_LOG_ALL: that
	 * one is written with every vq quiesced. The data path reads it
	 * under vq->mutex.
	 */
	u64 acked_features;

	/*
	 * Dirty log (log.c): the owner's bitmap and eventfd, under mutex.
	 * Each vq has a copy, changed under its mutex as well. A NULL
	 * log_base is no log: never while VHOST_F_LOG_ALL is acked or a vq
	 * has log_used.
	 */
	void __user *log_base;
	struct eventfd_ctx *log_ctx;

	/*
	 * Written under mutex with every vq quiesced; the data path reads
	 * it under RCU, or under vq->mutex of an unpaused vq where it
	 * holds on to the table (its pinned pages) past a grace period.
	 */
	struct vhost_blk_mem __rcu *mem;
	/*
	 * VHOST_BLK_OPT_F_*. Written under mutex with every vq quiesced;
	 * the data path reads it under vq->mutex of an unpaused vq.
	 */
	u64 options;

	/*
	 * The backend. Written under mutex with every vq paused and idle;
	 * the data path reads it under vq->mutex of an unpaused vq.
	 */
	struct file *bfile;		/* block device or regular file */
	struct block_device *bdev;	/* NULL for a regular file */
	bool ro;
	u8 serial[VHOST_BLK_SERIAL_LEN];

	/*
	 * Resize (resize.c). capacity is the backend's size as last seen,
	 * in 512-byte sectors: written under config_lock, read under it or
	 * with READ_ONCE() to compare. config_ctx, the eventfd signalled
	 * when it changes, is written under mutex and config_lock, read
	 * under either. resize_work checks the size while config_ctx is
	 * set; it takes mutex with a trylock, release cancels it.
	 */
	spinlock_t config_lock;
	u64 capacity;
	struct eventfd_ctx *config_ctx;
	struct delayed_work resize_work;

	struct vhost_blk_worker *workers[VHOST_BLK_MAX_WORKERS];
	struct vhost_blk_vq vqs[VHOST_BLK_MAX_VQS];

	/*
	 * File backends: each queue worker's auxiliary worker (worker.c).
	 * aux_lock protects their aux_dead. aux_queued and aux_inline
	 * (lock-free) count the requests they ran, and those the queue
	 * workers ran themselves for want of one.
	 */
	spinlock_t aux_lock;		/* protects the aux_dead of each */
	atomic64_t aux_queued;
	atomic64_t aux_inline;

	/* How a queue stop waits for requests in flight; under mutex. */
	enum vhost_blk_drain_mode drain_mode;
	/*
	 * Finishes a release that a fatal signal or exit cut short. The
	 * release and the work each hold a reference; the last one frees.
	 */
	struct work_struct release_work;
	refcount_t release_refs;
};

/* main.c */
int vhost_blk_check_owner(struct vhost_blk_dev *dev);
void vhost_blk_vq_lock(struct vhost_blk_vq *vq);
int vhost_blk_vq_stop(struct vhost_blk_vq *vq);

/*
 * Whether @vq's ring layout must stay as it is: the queue is served, or a
 * stop that a fatal signal cut short left requests in flight, which still
 * complete onto its rings. Caller holds dev->mutex.
 */
static inline bool vhost_blk_vq_busy(struct vhost_blk_vq *vq)
{
	return vq->started || atomic_read(&vq->inflight);
}

int vhost_blk_vq_start(struct vhost_blk_dev *dev, struct vhost_blk_vq *vq,
		       struct file *kick);
long vhost_blk_set_owner(struct vhost_blk_dev *dev);
long vhost_blk_reset_owner(struct vhost_blk_dev *dev);
int vhost_blk_pause(struct vhost_blk_dev *dev);
int vhost_blk_quiesce(struct vhost_blk_dev *dev);
void vhost_blk_unpause(struct vhost_blk_dev *dev);
struct vhost_blk_worker *vhost_blk_new_worker(struct vhost_blk_dev *dev);
void vhost_blk_vq_attach(struct vhost_blk_vq *vq, struct vhost_blk_worker *w);
struct vhost_blk_worker *vhost_blk_vq_worker(struct vhost_blk_dev *dev,
					     struct vhost_blk_vq *vq);

/* ioctl.c */
long vhost_blk_ioctl(struct file *f, unsigned int cmd, unsigned long arg);

/* vhost_ioctl.c */
long vhost_blk_set_features(struct vhost_blk_dev *dev, u64 features);
int vhost_blk_install_mem(struct vhost_blk_dev *dev,
			  struct vhost_blk_mem *mem, u64 options);
long vhost_blk_set_mem_table(struct vhost_blk_dev *dev,
			     struct vhost_memory __user *argp);
long vhost_blk_worker_ioctl(struct vhost_blk_dev *dev, unsigned int cmd,
			    void __user *argp);
long vhost_blk_vring_ioctl(struct vhost_blk_dev *dev, unsigned int cmd,
			   void __user *argp);
long vhost_blk_set_log_base(struct vhost_blk_dev *dev, u64 __user *argp);
long vhost_blk_set_log_fd(struct vhost_blk_dev *dev, int __user *argp);
struct eventfd_ctx *vhost_blk_eventfd_get(int fd);

/* stats.c */
void vhost_blk_stat_ended(struct vhost_blk_vq *vq,
			  const struct vhost_blk_req *req);
void vhost_blk_stat_inc(struct vhost_blk_vq *vq, u64_stats_t *counter);
void vhost_blk_stat_poll(struct vhost_blk_vq *vq, u64 ns, bool hit);
void vhost_blk_chain_refused(struct vhost_blk_vq *vq, u16 head, int err);
void vhost_blk_trace_start(struct vhost_blk_vq *vq,
			   const struct vhost_blk_req *req, u64 sector);
void vhost_blk_show_fdinfo(struct seq_file *m, struct file *f);

/* worker.c */
void vhost_blk_work_init(struct vhost_blk_work *work, vhost_blk_work_fn_t fn);
struct vhost_blk_worker *vhost_blk_worker_create(struct vhost_blk_dev *dev,
						 unsigned int index);
void vhost_blk_worker_destroy(struct vhost_blk_worker *worker);
void vhost_blk_worker_flush(struct vhost_blk_worker *worker);
void vhost_blk_aux_start(struct vhost_blk_worker *worker);
void vhost_blk_aux_stop(struct vhost_blk_worker *worker);
bool vhost_blk_aux_queue(struct vhost_blk_vq *vq,
			 struct vhost_blk_work *work);
bool vhost_blk_vq_worker_has_other_work(struct vhost_blk_vq *vq);
void vhost_blk_vq_queue_work(struct vhost_blk_vq *vq,
			     struct vhost_blk_work *work);
void vhost_blk_poll_init(struct vhost_blk_poll *poll, struct vhost_blk_vq *vq);
int vhost_blk_poll_start(struct vhost_blk_poll *poll, struct file *file);
void vhost_blk_poll_stop(struct vhost_blk_poll *poll);

/* vring.c */
int vhost_blk_vq_init_access(struct vhost_blk_vq *vq);
int vhost_blk_vq_next_avail(struct vhost_blk_vq *vq, u16 *head);
bool vhost_blk_vq_enable_notify(struct vhost_blk_vq *vq);
bool vhost_blk_vq_avail_empty(struct vhost_blk_vq *vq);
void vhost_blk_vq_disable_notify(struct vhost_blk_vq *vq);
int vhost_blk_vq_get_chain(struct vhost_blk_vq *vq, u16 head,
			   struct vhost_blk_chain *chain);
int vhost_blk_vq_chain_status(struct vhost_blk_vq *vq, u16 head,
			      u8 __user **status);
bool vhost_blk_vq_event_due(struct vhost_blk_vq *vq, bool event_ok,
			    u16 event);
int vhost_blk_vq_add_used(struct vhost_blk_vq *vq, u16 head, u32 len);
void vhost_blk_vq_signal(struct vhost_blk_vq *vq);
void vhost_blk_vq_error(struct vhost_blk_vq *vq, const char *why);
bool vhost_blk_vring_ok(const struct vhost_blk_mem *mem, unsigned int num,
			u64 desc, u64 avail, u64 used);

/* inflight.c */
int vhost_blk_inflight_check(u64 addr, u64 len, unsigned int num);
int vhost_blk_inflight_claim(struct vhost_blk_vq *vq);
void vhost_blk_inflight_unclaim(struct vhost_blk_vq *vq);
int vhost_blk_inflight_start(struct vhost_blk_vq *vq);
int vhost_blk_inflight_get(struct vhost_blk_vq *vq, u16 head);
void vhost_blk_inflight_put_back(struct vhost_blk_vq *vq, u16 head);
void vhost_blk_inflight_used(struct vhost_blk_vq *vq, u16 head);
void vhost_blk_inflight_published(struct vhost_blk_vq *vq);

/* log.c */
bool vhost_blk_log_used_ok(void __user *base, u64 log_addr, unsigned int num);
bool vhost_blk_log_ok(struct vhost_blk_dev *dev, void __user *base,
		      const struct vhost_blk_mem *mem);
bool vhost_blk_log_in_use(struct vhost_blk_dev *dev);
bool vhost_blk_log_on(struct vhost_blk_vq *vq);
int vhost_blk_log_write(struct vhost_blk_vq *vq, u64 uaddr, u64 len);
int vhost_blk_log_iov(struct vhost_blk_vq *vq, const struct iovec *iov,
		      unsigned int nr, u64 len);
void vhost_blk_log_used(struct vhost_blk_vq *vq, u64 offset, u64 len);
void vhost_blk_log_signal(struct vhost_blk_vq *vq);

/* direct.c */
void vhost_blk_vq_map_rings(struct vhost_blk_vq *vq);
void vhost_blk_vq_unmap_rings(struct vhost_blk_vq *vq);
void vhost_blk_req_direct_prepare(struct vhost_blk_vq *vq,
				  struct vhost_blk_req *req);
void vhost_blk_vq_add_used_mapped(struct vhost_blk_vq *vq, u16 head, u32 len);
void vhost_blk_vq_signal_mapped(struct vhost_blk_vq *vq);
void vhost_blk_req_post(struct vhost_blk_req *req);
void vhost_blk_vq_reap_soon(struct vhost_blk_vq *vq);
void vhost_blk_vq_reap_lazily(struct vhost_blk_vq *vq);

/* req.c */
/* Not a virtio status: the request must be taken again later. */
#define VHOST_BLK_S_AGAIN	0xff
int vhost_blk_req_start(struct vhost_blk_vq *vq, u16 head);
void vhost_blk_handle_done(struct vhost_blk_work *work);
void vhost_blk_vq_complete(struct vhost_blk_vq *vq);
void vhost_blk_req_put(struct vhost_blk_req *req);
int vhost_blk_bounce_alloc(struct vhost_blk_req *req,
			   const struct iovec *iov, unsigned int nr, u64 len);
unsigned int vhost_blk_iov_pages(const struct iovec *iov, unsigned int nr);
bool vhost_blk_iov_aligned(const struct iovec *iov, unsigned int nr,
			   unsigned int mask);

/* kick.c */
void vhost_blk_handle_kick(struct vhost_blk_work *work);

/* config.c */
int vhost_blk_backend_allowed(struct file *file);
unsigned int vhost_blk_lbs(struct vhost_blk_dev *dev);
u64 vhost_blk_capacity(struct vhost_blk_dev *dev);
u64 vhost_blk_discard_max(struct vhost_blk_dev *dev, u32 type);
void vhost_blk_limits(struct vhost_blk_dev *dev, struct vhost_blk_limits *lim);
void vhost_blk_features(struct vhost_blk_dev *dev, u64 *features);
void vhost_blk_fill_config(struct vhost_blk_dev *dev,
			   struct virtio_blk_config *cfg, u64 *features);

/* bio.c */
bool vhost_blk_bdev_in_table(const struct vhost_blk_dev *dev,
			     const struct iovec *iov, unsigned int nr);
int vhost_blk_bdev_rw(struct vhost_blk_req *req, const struct iovec *iov,
		      unsigned int nr, u64 len, u64 sector, bool write);
void vhost_blk_bdev_flush(struct vhost_blk_req *req);
int vhost_blk_bdev_discard(struct block_device *bdev, u32 type,
			   u64 sector, u64 nr_sectors, bool unmap,
			   u64 max, struct bio **biop);
void vhost_blk_bdev_discard_end(struct vhost_blk_req *req, struct bio *bio);
void vhost_blk_bio_put_all(struct vhost_blk_req *req);

/* resize.c */
u64 vhost_blk_capacity_check(struct vhost_blk_dev *dev);
void vhost_blk_capacity_reset(struct vhost_blk_dev *dev);
void vhost_blk_resize_init(struct vhost_blk_dev *dev);
struct eventfd_ctx *vhost_blk_set_config_ctx(struct vhost_blk_dev *dev,
					     struct eventfd_ctx *ctx);
void vhost_blk_resize_stop(struct vhost_blk_dev *dev);

/* budget.c */
bool vhost_blk_pages_charge(unsigned long n);
void vhost_blk_pages_uncharge(unsigned long n);
void vhost_blk_pages_wait(struct vhost_blk_vq *vq);
void vhost_blk_vq_budget_cancel(struct vhost_blk_vq *vq);

/* file.c */
int vhost_blk_file_rw(struct vhost_blk_req *req, const struct iovec *iov,
		      unsigned int nr, u64 len, u64 sector, bool write,
		      bool aligned);
u8 vhost_blk_file_flush(struct vhost_blk_req *req);
u8 vhost_blk_file_discard(struct vhost_blk_req *req,
			  const struct vhost_blk_cmd *cmd);
void vhost_blk_file_notify(struct vhost_blk_req *req);
void vhost_blk_file_release(struct vhost_blk_req *req);
void vhost_blk_file_cancel(struct vhost_blk_work *work);

static inline bool vhost_blk_has_feature(const struct vhost_blk_dev *dev,
					 unsigned int bit)
{
	return dev->acked_features & BIT_ULL(bit);
}

#endif /* _VHOST_BLK_H */
