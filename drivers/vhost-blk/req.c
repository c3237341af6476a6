// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk request handling: the lifetime of a request and its handling
 * by type.
 *
 * The worker takes chains off the avail ring, has decode.c check the
 * request and hands reads, writes, flushes and DISCARD-like requests to
 * the backend: bio.c for a block device, file.c for a regular file.
 * Buffers the backend cannot take in place go through a bounce buffer.
 * The backend ends a request in any context with vhost_blk_req_put(): the
 * last reference puts it on the queue's lock-free done list and wakes the
 * worker, which releases its pages, writes the status byte, fills the
 * used ring and calls the guest once per batch.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/slab.h>
#include <linux/overflow.h>
#include <linux/uaccess.h>
#include <linux/sched.h>

#include "vhost_blk.h"
static struct vhost_blk_req *vhost_blk_req_get(struct vhost_blk_vq *vq)
{
	struct vhost_blk_req *req;

	if (!vq->nr_free)
		return NULL;
	req = &vq->reqs[vq->free_slots[--vq->nr_free]];
	req->status = VIRTIO_BLK_S_OK;
	req->dirty = false;
	req->used_len = 0;
	req->status_addr = NULL;
	req->type = VHOST_BLK_T_NONE;
	req->data_len = 0;
	req->log_iov = NULL;
	req->nr_log_iov = 0;
	req->done_bios = NULL;
	req->bounce = NULL;
	req->nr_bounce = 0;
	req->bounce_iov = NULL;
	req->nr_bounce_iov = 0;
	req->pinned = false;
	req->nr_pages = 0;
	req->bvec = NULL;
	req->status_page = NULL;
	req->posted = false;
	req->called = false;
	atomic_set(&req->pending, 1);
	atomic_inc(&vq->inflight);
	return req;
}

/* Give back a slot that started nothing: its chain is taken again later. */
static void vhost_blk_req_unget(struct vhost_blk_vq *vq,
				struct vhost_blk_req *req)
{
	vq->free_slots[vq->nr_free++] = req - vq->reqs;
	vhost_blk_inflight_put_back(vq, req->head);
	if (atomic_dec_and_test(&vq->inflight))
		wake_up(&vq->drain_wq);
}

/* Drop a reference; the last one hands the request to the worker. */
void vhost_blk_req_put(struct vhost_blk_req *req)
{
	struct vhost_blk_vq *vq = req->vq;

	/*
	 * The release path frees the device after a grace period once it
	 * saw the request: keep it alive until the worker is woken.
	 */
	rcu_read_lock();
	if (atomic_dec_and_test(&req->pending)) {
		bool posted = false;

		if (req->status_page) {
			vhost_blk_req_post(req);
			posted = true;
		}
		/*
		 * The slot may be reused once on the list. A full barrier
		 * before lazy_reap is read: pairs with reap_soon().
		 */
		llist_add(&req->node, &vq->done);
		if (!posted || !READ_ONCE(vq->lazy_reap))
			vhost_blk_vq_queue_work(vq, &vq->done_work);
	}
	rcu_read_unlock();
}

static void vhost_blk_free_bounce(struct vhost_blk_req *req)
{
	unsigned int i;

	for (i = 0; i < req->nr_bounce; i++)
		__free_page(req->bounce[i]);
	kvfree(req->bounce);
	kfree(req->bounce_iov);
	req->bounce = NULL;
	req->bounce_iov = NULL;
}

/* Copy between the bounce pages and the guest's buffers. */
static int vhost_blk_bounce_copy(struct vhost_blk_req *req,
				 const struct iovec *iov, unsigned int nr,
				 bool to_guest)
{
	size_t pos = 0;
	unsigned int i;

	for (i = 0; i < nr; i++) {
		u8 __user *u = iov[i].iov_base;
		size_t left = iov[i].iov_len;

		while (left) {
			struct page *page = req->bounce[pos >> PAGE_SHIFT];
			size_t off = offset_in_page(pos);
			size_t n = min_t(size_t, left, PAGE_SIZE - off);
			void *k = kmap_local_page(page);
			unsigned long rem;

			if (to_guest)
				rem = copy_to_user(u, k + off, n);
			else
				rem = copy_from_user(k + off, u, n);
			kunmap_local(k);
			if (rem)
				return -EFAULT;
			u += n;
			left -= n;
			pos += n;
		}
	}
	return 0;
}

/*
 * Finish a request: release its pages, write the status byte and put it
 * on the used ring. Without the owner's mm (a dying owner) only the
 * release happens.
 */
static void vhost_blk_req_finish(struct vhost_blk_vq *vq,
				 struct vhost_blk_req *req, bool user_ok)
{
	vhost_blk_bio_put_all(req);
	vhost_blk_file_notify(req);
	vhost_blk_file_release(req);

	if (req->bounce) {
		if (user_ok && req->bounce_iov &&
		    req->status == VIRTIO_BLK_S_OK &&
		    vhost_blk_bounce_copy(req, req->bounce_iov,
					  req->nr_bounce_iov, true))
			req->status = VIRTIO_BLK_S_IOERR;
		vhost_blk_free_bounce(req);
	}

	/*
	 * Whatever the outcome, the device may have written these: their
	 * bits are set before the used entry is published.
	 */
	if (req->log_iov) {
		if (user_ok &&
		    vhost_blk_log_iov(vq, req->log_iov, req->nr_log_iov,
				      U64_MAX)) {
			vhost_blk_vq_error(vq, "cannot log written data");
			req->status = VIRTIO_BLK_S_IOERR;
		}
		kfree(req->log_iov);
		req->log_iov = NULL;
	}

	if (req->posted) {
		/* vhost_blk_req_post() put it on the used ring. */
		vhost_blk_stat_ended(vq, req);
		vhost_blk_stat_inc(vq, &vq->stats.direct);
		if (req->called)
			vhost_blk_stat_inc(vq, &vq->stats.calls);
	} else if (user_ok) {
		if (req->status_addr) {
			/*
			 * used.len: bytes written from the first writable
			 * byte on. The status byte (the last one) counts when
			 * the data written reaches up to it.
			 */
			if (req->status != VIRTIO_BLK_S_OK)
				req->used_len = 0;
			if (req->used_len == req->in_len - 1)
				req->used_len = req->in_len;
			if (put_user(req->status, req->status_addr))
				vhost_blk_vq_error(vq, "cannot write status");
			else if (vhost_blk_log_write(vq,
						     (unsigned long)req->status_addr,
						     1))
				vhost_blk_vq_error(vq, "cannot log status");
			vhost_blk_stat_ended(vq, req);
		}
		vhost_blk_vq_add_used(vq, req->head, req->used_len);
	}

	vq->inflight_pages -= req->nr_pages;
	if (req->nr_pages)
		vhost_blk_pages_uncharge(req->nr_pages);
	vq->free_slots[vq->nr_free++] = req - vq->reqs;
}

/**
 * vhost_blk_vq_complete() - post every ended request of a queue
 * @vq: the queue, with its mutex held
 *
 * Runs in the worker, or in a draining context when the worker is gone.
 */
void vhost_blk_vq_complete(struct vhost_blk_vq *vq)
{
	bool user_ok = current->mm && current->mm == vq->dev->mm;
	struct vhost_blk_req *req, *next;
	struct llist_node *node;
	int n = 0;

	node = llist_del_all(&vq->done);
	if (!node)
		return;
	llist_for_each_entry_safe(req, next, node, node) {
		vhost_blk_req_finish(vq, req, user_ok);
		n++;
	}
	if (user_ok) {
		vhost_blk_vq_signal(vq);
		vhost_blk_log_signal(vq);
	}
	/*
	 * Only now, with the batch on the used ring and published, may a
	 * drain (GET_VRING_BASE, RESET_OWNER, close) see the queue idle.
	 */
	if (atomic_sub_and_test(n, &vq->inflight))
		wake_up(&vq->drain_wq);
	if (vq->starved) {
		vq->starved = false;
		vhost_blk_vq_reap_lazily(vq);
		vhost_blk_vq_queue_work(vq, &vq->kick_work);
	}
}

void vhost_blk_handle_done(struct vhost_blk_work *work)
{
	struct vhost_blk_vq *vq = container_of(work, struct vhost_blk_vq,
					       done_work);

	mutex_lock(&vq->mutex);
	vhost_blk_vq_complete(vq);
	mutex_unlock(&vq->mutex);
}

static int vhost_blk_copy_to_iov(const struct iovec *iov, unsigned int nr,
				 const void *src, size_t len)
{
	unsigned int i;

	for (i = 0; i < nr && len; i++) {
		size_t n = min(len, iov[i].iov_len);

		if (copy_to_user(iov[i].iov_base, src, n))
			return -EFAULT;
		src += n;
		len -= n;
	}
	return len ? -EFAULT : 0;
}

/*
 * Pages spanned by the data buffers of a decoded request: at most
 * VHOST_BLK_MAX_REQ_BYTES in at most VHOST_BLK_IOV_MAX buffers, each inside
 * one region of the memory table, which does not wrap: no sum overflows.
 */
unsigned int vhost_blk_iov_pages(const struct iovec *iov, unsigned int nr)
{
	unsigned long pages = 0;
	unsigned int i;

	for (i = 0; i < nr; i++) {
		unsigned long a = (unsigned long)iov[i].iov_base;

		pages += PFN_UP(a + iov[i].iov_len) - PFN_DOWN(a);
	}
	return min_t(unsigned long, pages, UINT_MAX);
}

/**
 * vhost_blk_bounce_alloc() - kernel pages standing in for guest buffers
 * @req: the request; req->dirty says whether the device writes the guest
 * @iov: guest buffers
 * @nr: number of buffers
 * @len: total bytes
 *
 * For a write the data is copied in now; for a read the buffers are
 * remembered and filled when the request finishes.
 *
 * Return: 0; -E2BIG above VHOST_BLK_BOUNCE_MAX, -ENOMEM, or -EFAULT when
 * the guest's data cannot be read. On failure nothing stays allocated.
 */
int vhost_blk_bounce_alloc(struct vhost_blk_req *req,
			   const struct iovec *iov, unsigned int nr, u64 len)
{
	unsigned int i, n;
	int ret;

	if (len > VHOST_BLK_BOUNCE_MAX)
		return -E2BIG;
	n = DIV_ROUND_UP_ULL(len, PAGE_SIZE);
	req->bounce = kvcalloc(n, sizeof(*req->bounce), GFP_KERNEL_ACCOUNT);
	if (!req->bounce)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		req->bounce[i] = alloc_page(GFP_KERNEL_ACCOUNT);
		if (!req->bounce[i]) {
			ret = -ENOMEM;
			goto err;
		}
		req->nr_bounce++;
	}

	if (req->dirty) {
		req->bounce_iov = kmemdup(iov, array_size(nr, sizeof(*iov)),
					  GFP_KERNEL_ACCOUNT);
		if (!req->bounce_iov) {
			ret = -ENOMEM;
			goto err;
		}
		req->nr_bounce_iov = nr;
	} else {
		ret = vhost_blk_bounce_copy(req, iov, nr, false);
		if (ret)
			goto err;
	}
	return 0;

err:
	vhost_blk_free_bounce(req);
	return ret;
}

bool vhost_blk_iov_aligned(const struct iovec *iov, unsigned int nr,
			   unsigned int mask)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		if (((unsigned long)iov[i].iov_base | iov[i].iov_len) & mask)
			return false;
	return true;
}

static u8 vhost_blk_rw(struct vhost_blk_vq *vq, struct vhost_blk_req *req,
		       const struct vhost_blk_cmd *cmd)
{
	struct vhost_blk_dev *dev = vq->dev;
	bool write = cmd->type == VIRTIO_BLK_T_OUT;
	const struct iovec *iov = cmd->data;
	unsigned int mask, nr = cmd->nr_data, pages = 0;
	u64 len = cmd->data_len;
	int ret;

	/*
	 * The budget bounds pages pinned or bounced per request; those of
	 * a pinned table are held already.
	 */
	if (!vhost_blk_bdev_in_table(dev, iov, nr)) {
		pages = vhost_blk_iov_pages(iov, nr);
		if (!vhost_blk_pages_charge(pages))
			return VHOST_BLK_S_AGAIN;
	}
	req->dirty = !write;
	req->nr_pages = pages;
	vq->inflight_pages += pages;
	/* The buffers a read fills, to log when it ends. */
	if (req->dirty && vhost_blk_log_on(vq)) {
		req->log_iov = kmemdup(iov, array_size(nr, sizeof(*iov)),
				       GFP_KERNEL_ACCOUNT);
		if (!req->log_iov)
			return VIRTIO_BLK_S_IOERR;
		req->nr_log_iov = nr;
	}
	if (dev->bdev) {
		ret = vhost_blk_bdev_rw(req, iov, nr, len, cmd->sector, write);
	} else {
		mask = vhost_blk_lbs(dev) - 1;
		ret = vhost_blk_file_rw(req, iov, nr, len, cmd->sector, write,
					vhost_blk_iov_aligned(iov, nr, mask));
	}
	if (ret)
		return VIRTIO_BLK_S_IOERR;
	if (!write)
		req->used_len = len;
	return VIRTIO_BLK_S_OK;
}

static u8 vhost_blk_flush(struct vhost_blk_vq *vq, struct vhost_blk_req *req)
{
	if (!vq->dev->bdev)
		return vhost_blk_file_flush(req);
	vhost_blk_bdev_flush(req);
	return VIRTIO_BLK_S_OK;
}

static u8 vhost_blk_get_id(struct vhost_blk_vq *vq, struct vhost_blk_req *req,
			   const struct vhost_blk_cmd *cmd)
{
	size_t n = min_t(u32, cmd->data_len, VHOST_BLK_SERIAL_LEN);
	int ret;

	ret = vhost_blk_copy_to_iov(cmd->data, cmd->nr_data, vq->dev->serial,
				    n);
	/*
	 * Before the used entry: it is added when the request ends. Also
	 * when the copy faulted part-way: the bytes before the fault were
	 * written.
	 */
	if (vhost_blk_log_iov(vq, cmd->data, cmd->nr_data, n)) {
		vhost_blk_vq_error(vq, "cannot log the serial");
		return VIRTIO_BLK_S_IOERR;
	}
	if (ret)
		return VIRTIO_BLK_S_IOERR;
	req->used_len = n;
	return VIRTIO_BLK_S_OK;
}

/*
 * DISCARD, WRITE_ZEROES and SECURE_ERASE: the segments vhost_blk_decode()
 * copied and checked, issued in order until one fails; file.c does the
 * same for a file backend.
 */
static u8 vhost_blk_discard(struct vhost_blk_vq *vq, struct vhost_blk_req *req,
			    const struct vhost_blk_cmd *cmd)
{
	struct vhost_blk_dev *dev = vq->dev;
	u64 max = vhost_blk_discard_max(dev, cmd->type);
	u8 status = VIRTIO_BLK_S_OK;
	struct bio *bio = NULL;
	unsigned int i;

	if (!dev->bdev)
		return vhost_blk_file_discard(req, cmd);
	for (i = 0; i < cmd->nr_segs; i++) {
		const struct virtio_blk_discard_write_zeroes *seg = &cmd->segs[i];
		bool unmap = le32_to_cpu(seg->flags) &
			     VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
		u64 sector = le64_to_cpu(seg->sector);
		u32 num = le32_to_cpu(seg->num_sectors);
		int ret;

		if (!num)
			continue;
		ret = vhost_blk_bdev_discard(dev->bdev, cmd->type, sector, num,
					     unmap, max, &bio);
		if (ret) {
			/* UNSUPP tells the guest to stop using the command. */
			status = ret == -EOPNOTSUPP ? VIRTIO_BLK_S_UNSUPP :
						      VIRTIO_BLK_S_IOERR;
			break;
		}
	}

	vhost_blk_bdev_discard_end(req, bio);
	return status;
}

/*
 * Once a bio is in flight its end_io may set IOERR at any time: from then
 * on the status only ever moves away from OK.
 */
static void vhost_blk_req_status(struct vhost_blk_req *req, u8 status)
{
	if (status != VIRTIO_BLK_S_OK)
		WRITE_ONCE(req->status, status);
}

/*
 * Turn one chain into I/O. The request ends through vhost_blk_req_put(),
 * unless the module-wide page budget is spent: then nothing was started
 * and -EAGAIN says to take the chain again once pages are released.
 */
static int vhost_blk_handle_req(struct vhost_blk_vq *vq,
				struct vhost_blk_req *req)
{
	struct vhost_blk_cmd cmd = { .data = vq->data_iov, .segs = vq->segs };
	struct vhost_blk_limits lim;
	u8 st;
	int ret;

	ret = vhost_blk_vq_get_chain(vq, req->head, vq->chain);
	if (ret) {
		u8 __user *status;

		vhost_blk_vq_error(vq, "bad descriptor chain");
		vhost_blk_chain_refused(vq, req->head, ret);
		/*
		 * Still fail the request where its status byte can be
		 * found, so a guest that reuses status buffers cannot
		 * mistake it for a success. Best effort: the error is
		 * signalled already, once.
		 */
		if (vhost_blk_vq_chain_status(vq, req->head, &status))
			return 0;
		if (put_user((u8)VIRTIO_BLK_S_IOERR, status) ||
		    vhost_blk_log_write(vq, (unsigned long)status, 1))
			pr_debug_ratelimited("vq %u: cannot fail a refused chain\n",
					     vq->index);
		return 0;
	}

	vhost_blk_limits(vq->dev, &lim);
	st = vhost_blk_decode(vq->chain, &lim, &cmd);
	req->status_addr = cmd.status;
	req->in_len = cmd.in_len;
	req->type = cmd.type;
	req->data_len = cmd.data_len;
	if (!cmd.status) {
		vhost_blk_vq_error(vq, "no status byte");
		vhost_blk_chain_refused(vq, req->head, -ENOSPC);
		return 0;
	}
	vhost_blk_req_direct_prepare(vq, req);
	if (st != VIRTIO_BLK_S_OK) {
		req->status = st;
		return 0;
	}

	switch (cmd.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		st = vhost_blk_rw(vq, req, &cmd);
		break;
	case VIRTIO_BLK_T_GET_ID:
		st = vhost_blk_get_id(vq, req, &cmd);
		break;
	case VIRTIO_BLK_T_FLUSH:
		st = vhost_blk_flush(vq, req);
		break;
	default:
		st = vhost_blk_discard(vq, req, &cmd);
		break;
	}
	if (st == VHOST_BLK_S_AGAIN)
		return -EAGAIN;
	vhost_blk_trace_start(vq, req, cmd.sector);
	vhost_blk_req_status(req, st);
	return 0;
}

/**
 * vhost_blk_req_start() - make a request of a chain and start it
 * @vq: the queue, with its mutex held and a free request slot
 * @head: the chain's head, taken off the avail ring
 *
 * Return: 0 once the request is on its way: it ends through
 * vhost_blk_req_put(), failed or not. -EAGAIN when the module-wide page
 * budget is spent: nothing was started and the chain is given back, to
 * be taken again once pages are released.
 */
int vhost_blk_req_start(struct vhost_blk_vq *vq, u16 head)
{
	struct vhost_blk_req *req = vhost_blk_req_get(vq);

	req->head = head;
	if (vhost_blk_handle_req(vq, req)) {
		vhost_blk_req_unget(vq, req);
		return -EAGAIN;
	}
	vhost_blk_req_put(req);
	return 0;
}
