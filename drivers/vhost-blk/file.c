// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk file backends: a regular file (a raw image) serves as the disk.
 *
 * Reads and writes are asynchronous direct I/O through a kiocb on the
 * guest's buffers, so there is no page cache and no extra copy; the
 * filesystem pins the pages itself. Buffers not aligned to the file's
 * direct I/O alignment go through the request's bounce pages. Files on
 * filesystems without direct I/O fall back to buffered I/O. Flush is an
 * fsync of the file, discard punches a hole and write-zeroes zeroes the
 * range with fallocate(). Those have no asynchronous form: they run on the
 * auxiliary worker of the queue's worker (worker.c), so that a slow one (a
 * file on a networked filesystem) holds none of the queue's other requests.
 */
#include <linux/fs.h>
#include <linux/falloc.h>
#include <linux/fsnotify.h>
#include <linux/slab.h>
#include <linux/bvec.h>
#include <linux/uio.h>

#include "vhost_blk.h"

static void vhost_blk_file_done(struct vhost_blk_req *req, long ret)
{
	if (ret < 0 || ret != req->io_len)
		WRITE_ONCE(req->status, VIRTIO_BLK_S_IOERR);
	vhost_blk_req_put(req);
}

/*
 * ki_complete of an I/O that was queued: any context, even hard irq. The
 * VFS reported nothing for it (vfs_iocb_iter_read() and _write() do so only
 * for I/O that ended at once), and fsnotify cannot be called from here:
 * vhost_blk_file_notify() does it in the worker. Like the VFS, only a read
 * that did not fail and a write that wrote something count.
 */
static void vhost_blk_file_complete(struct kiocb *iocb, long ret)
{
	struct vhost_blk_req *req = container_of(iocb, struct vhost_blk_req,
						 iocb);
	bool write = iocb->ki_flags & IOCB_WRITE;

	if (write)
		kiocb_end_write(iocb);
	req->notify = write ? ret > 0 : ret >= 0;
	vhost_blk_file_done(req, ret);
}

/* The request's bounce pages as a bvec iterator. */
static int vhost_blk_file_bvec(struct vhost_blk_req *req, u64 len,
			       unsigned int dir, struct iov_iter *iter)
{
	u64 left = len;
	unsigned int i;

	req->bvec = kvcalloc(req->nr_bounce, sizeof(*req->bvec),
			     GFP_KERNEL_ACCOUNT);
	if (!req->bvec)
		return -ENOMEM;
	for (i = 0; i < req->nr_bounce; i++) {
		unsigned int n = min_t(u64, left, PAGE_SIZE);

		bvec_set_page(&req->bvec[i], req->bounce[i], n, 0);
		left -= n;
	}
	iov_iter_bvec(iter, dir, req->bvec, req->nr_bounce, len);
	return 0;
}

/**
 * vhost_blk_file_rw() - start a read or write on a file backend
 * @req: the request; it completes through vhost_blk_req_put()
 * @iov: guest buffers (owner addresses)
 * @nr: number of buffers
 * @len: total bytes, checked against the capacity
 * @sector: start, in 512-byte sectors
 * @write: true to write the buffers to the file
 * @aligned: the buffers meet the file's direct I/O alignment; else they
 *	     go through bounce pages
 *
 * Return: 0 once the I/O is submitted (its result, even a failure, comes
 * through the completion); -E2BIG, -ENOMEM or -EFAULT when the bounce
 * pages cannot be set up, and then nothing was submitted.
 */
int vhost_blk_file_rw(struct vhost_blk_req *req, const struct iovec *iov,
		      unsigned int nr, u64 len, u64 sector, bool write,
		      bool aligned)
{
	struct file *file = req->vq->dev->bfile;
	unsigned int dir = write ? ITER_SOURCE : ITER_DEST;
	struct kiocb *iocb = &req->iocb;
	struct iov_iter iter;
	ssize_t ret;

	if (aligned) {
		iov_iter_init(&iter, dir, iov, nr, len);
	} else {
		ret = vhost_blk_bounce_alloc(req, iov, nr, len);
		if (ret)
			return ret;
		ret = vhost_blk_file_bvec(req, len, dir, &iter);
		if (ret)
			return ret;
	}

	/*
	 * Through the VFS helpers, so the file's mode and its LSM hooks apply
	 * as for any other I/O on the owner's fd; fsnotify too, by them for
	 * I/O that ends at once, by vhost_blk_file_notify() for queued I/O.
	 */
	init_sync_kiocb(iocb, file);
	iocb->ki_pos = sector << SECTOR_SHIFT;
	iocb->ki_complete = vhost_blk_file_complete;
	if (file->f_mode & FMODE_CAN_ODIRECT)
		iocb->ki_flags |= IOCB_DIRECT;
	req->io_len = len;

	atomic_inc(&req->pending);
	if (write) {
		iocb->ki_flags |= IOCB_WRITE;
		ret = vhost_blk_iocb_iter_write(file, iocb, &iter);
	} else {
		ret = vfs_iocb_iter_read(file, iocb, &iter);
	}
	if (ret != -EIOCBQUEUED)
		vhost_blk_file_done(req, ret);
	return 0;
}

/**
 * vhost_blk_file_notify() - report a queued read or write to fsnotify
 * @req: a request being finished, in process context
 *
 * IN_ACCESS or IN_MODIFY, once, for an I/O vhost_blk_file_complete() saw
 * end. The backend cannot change while the request is in flight, so its
 * file is still the kiocb's.
 */
void vhost_blk_file_notify(struct vhost_blk_req *req)
{
	if (!req->notify)
		return;
	req->notify = false;
	if (req->iocb.ki_flags & IOCB_WRITE)
		fsnotify_modify(req->iocb.ki_filp);
	else
		fsnotify_access(req->iocb.ki_filp);
}

/* Free what vhost_blk_file_rw() allocated beyond the bounce pages. */
void vhost_blk_file_release(struct vhost_blk_req *req)
{
	kvfree(req->bvec);
	req->bvec = NULL;
}

/*
 * One segment of a DISCARD, WRITE_ZEROES or SECURE_ERASE. A punched hole
 * reads back as zeroes, so write-zeroes with unmap punches too; without
 * it the range stays allocated (FALLOC_FL_ZERO_RANGE). 0, -EOPNOTSUPP
 * for SECURE_ERASE or a filesystem that can neither punch nor zero, or
 * the error of vfs_fallocate().
 */
static int vhost_blk_file_fallocate(struct file *file, u32 type, u64 sector,
				    u64 nr_sectors, bool unmap)
{
	loff_t pos = sector << SECTOR_SHIFT, len = nr_sectors << SECTOR_SHIFT;
	int mode = FALLOC_FL_KEEP_SIZE;
	int ret;

	if (!nr_sectors)
		return 0;
	if (type == VIRTIO_BLK_T_SECURE_ERASE)
		return -EOPNOTSUPP;
	/* vfs_fallocate() checks the file's mode, append-only and LSMs. */
	if (type == VIRTIO_BLK_T_DISCARD || unmap)
		return vfs_fallocate(file, mode | FALLOC_FL_PUNCH_HOLE, pos,
				     len);

	ret = vfs_fallocate(file, mode | FALLOC_FL_ZERO_RANGE, pos, len);
	if (ret == -EOPNOTSUPP)
		ret = vfs_fallocate(file, mode | FALLOC_FL_PUNCH_HOLE, pos,
				    len);
	return ret;
}

/*
 * The segments decoded and checked by vhost_blk_decode(), in order until
 * one fails: UNSUPP for -EOPNOTSUPP (the guest stops using the command),
 * else IOERR.
 */
static u8 vhost_blk_file_segs(struct file *file, u32 type,
			      const struct virtio_blk_discard_write_zeroes *segs,
			      unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		bool unmap = le32_to_cpu(segs[i].flags) &
			     VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
		int ret;

		ret = vhost_blk_file_fallocate(file, type,
					       le64_to_cpu(segs[i].sector),
					       le32_to_cpu(segs[i].num_sectors),
					       unmap);
		if (ret)
			return ret == -EOPNOTSUPP ? VIRTIO_BLK_S_UNSUPP :
						    VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

/* What a request on the auxiliary worker does, or its queue's worker. */
static u8 vhost_blk_file_sync(struct vhost_blk_req *req)
{
	if (req->type == VIRTIO_BLK_T_FLUSH)
		return vfs_fsync(req->aux_file, 0) ? VIRTIO_BLK_S_IOERR :
						     VIRTIO_BLK_S_OK;
	return vhost_blk_file_segs(req->aux_file, req->type, req->aux_segs,
				   req->aux_nr_segs);
}

/*
 * The auxiliary worker's part. Nothing of the request or the device is
 * touched after vhost_blk_req_put(): the slot may be reused, the backend
 * dropped and the device freed.
 */
static void vhost_blk_file_aux_fn(struct vhost_blk_work *work)
{
	struct vhost_blk_req *req = container_of(work, struct vhost_blk_req,
						 aux_work);
	u8 st = vhost_blk_file_sync(req);

	kfree(req->aux_segs);
	req->aux_segs = NULL;
	if (st != VIRTIO_BLK_S_OK)
		WRITE_ONCE(req->status, st);
	vhost_blk_req_put(req);
}

/**
 * vhost_blk_file_cancel() - end a request queued on an auxiliary worker
 * @work: the request's aux_work, taken off a worker that will not run it
 *
 * The worker was killed with the owner, or stopped: the request ends with
 * IOERR, through vhost_blk_req_put() as if the work had failed.
 */
void vhost_blk_file_cancel(struct vhost_blk_work *work)
{
	struct vhost_blk_req *req = container_of(work, struct vhost_blk_req,
						 aux_work);

	kfree(req->aux_segs);
	req->aux_segs = NULL;
	WRITE_ONCE(req->status, VIRTIO_BLK_S_IOERR);
	vhost_blk_req_put(req);
}

/*
 * Hand @req to the auxiliary worker of its queue's worker, holding a
 * reference for it: the request ends when the work does. False when
 * there is no live auxiliary worker: then the caller does the work
 * itself.
 */
static bool vhost_blk_file_queue(struct vhost_blk_req *req)
{
	struct vhost_blk_dev *dev = req->vq->dev;

	req->aux_file = dev->bfile;
	vhost_blk_work_init(&req->aux_work, vhost_blk_file_aux_fn);
	/* The caller's reference keeps the request from ending meanwhile. */
	atomic_inc(&req->pending);
	if (vhost_blk_aux_queue(req->vq, &req->aux_work))
		return true;
	atomic_dec(&req->pending);
	return false;
}

/**
 * vhost_blk_file_flush() - flush a file backend
 * @req: the request, in its queue's worker
 *
 * An fsync of the file, on the auxiliary worker if the queue has one:
 * the queue's other requests go on meanwhile, and the request ends when
 * the fsync does.
 *
 * Return: the request's status so far: OK once queued, else the
 * fsync's, IOERR when it failed.
 */
u8 vhost_blk_file_flush(struct vhost_blk_req *req)
{
	req->aux_segs = NULL;
	req->aux_nr_segs = 0;
	if (vhost_blk_file_queue(req))
		return VIRTIO_BLK_S_OK;
	return vhost_blk_file_sync(req);
}

/**
 * vhost_blk_file_discard() - discard, write zeroes or erase file ranges
 * @req: the request, in its queue's worker
 * @cmd: the decoded request: type and segments
 *
 * fallocate() of each segment, on the auxiliary worker if the queue has
 * one (with a copy of the segments: @cmd's are the queue's scratch).
 * SECURE_ERASE, which a file cannot do, and requests with nothing to do
 * end at once.
 *
 * Return: the request's status so far: OK once queued, else UNSUPP or
 * IOERR from the first segment that failed.
 */
u8 vhost_blk_file_discard(struct vhost_blk_req *req,
			  const struct vhost_blk_cmd *cmd)
{
	struct file *file = req->vq->dev->bfile;
	unsigned int i;

	if (cmd->type == VIRTIO_BLK_T_SECURE_ERASE)
		return vhost_blk_file_segs(file, cmd->type, cmd->segs,
					   cmd->nr_segs);
	for (i = 0; i < cmd->nr_segs; i++)
		if (cmd->segs[i].num_sectors)
			break;
	if (i == cmd->nr_segs)
		return VIRTIO_BLK_S_OK;

	req->aux_segs = kmemdup(cmd->segs,
				array_size(cmd->nr_segs, sizeof(*cmd->segs)),
				GFP_KERNEL_ACCOUNT);
	req->aux_nr_segs = cmd->nr_segs;
	if (!req->aux_segs) {
		/* Do it here, as if there were no auxiliary worker. */
		atomic64_inc(&req->vq->dev->aux_inline);
	} else if (vhost_blk_file_queue(req)) {
		return VIRTIO_BLK_S_OK;
	}
	kfree(req->aux_segs);
	req->aux_segs = NULL;
	return vhost_blk_file_segs(file, cmd->type, cmd->segs, cmd->nr_segs);
}
