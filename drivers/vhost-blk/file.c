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
 * range with fallocate().
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

int vhost_blk_file_flush(struct vhost_blk_dev *dev)
{
	return vfs_fsync(dev->bfile, 0);
}

/**
 * vhost_blk_file_discard() - discard, write zeroes or erase a file range
 * @dev: the device, with a file backend
 * @type: VIRTIO_BLK_T_DISCARD, _WRITE_ZEROES or _SECURE_ERASE
 * @sector: start, in 512-byte sectors
 * @nr_sectors: length
 * @unmap: WRITE_ZEROES may deallocate
 *
 * A punched hole reads back as zeroes, so write-zeroes with unmap punches
 * too; without it the range stays allocated (FALLOC_FL_ZERO_RANGE).
 *
 * Return: 0, -EOPNOTSUPP for SECURE_ERASE or a filesystem that can neither
 * punch nor zero, or the error of vfs_fallocate().
 */
int vhost_blk_file_discard(struct vhost_blk_dev *dev, u32 type, u64 sector,
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
		return vfs_fallocate(dev->bfile, mode | FALLOC_FL_PUNCH_HOLE,
				     pos, len);

	ret = vfs_fallocate(dev->bfile, mode | FALLOC_FL_ZERO_RANGE, pos, len);
	if (ret == -EOPNOTSUPP)
		ret = vfs_fallocate(dev->bfile, mode | FALLOC_FL_PUNCH_HOLE,
				    pos, len);
	return ret;
}
