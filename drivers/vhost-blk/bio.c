// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk block device backends: requests to bios and back.
 *
 * Reads and writes become bios on the guest's own pages, pinned for the
 * duration of the I/O (zero copy), or taken from a pinned memory table.
 * Buffers the block layer cannot take in place (not aligned to the
 * device's DMA alignment) go through the request's bounce pages. Bios end
 * in any context: each one is pushed on its request's lock-free list, and
 * the last one hands the request to the worker (vhost_blk_req_put()).
 */
#include <linux/blkdev.h>
#include <linux/mm.h>

#include "vhost_blk.h"

#define VHOST_BLK_PIN_BATCH	32

static void vhost_blk_bio_end_io(struct bio *bio)
{
	struct vhost_blk_req *req = bio->bi_private;
	struct bio *head;

	if (bio->bi_status)
		WRITE_ONCE(req->status, VIRTIO_BLK_S_IOERR);
	do {
		head = READ_ONCE(req->done_bios);
		bio->bi_next = head;
	} while (cmpxchg(&req->done_bios, head, bio) != head);
	vhost_blk_req_put(req);
}

static void vhost_blk_unpin_bio(struct bio *bio, bool dirty)
{
	struct page *pages[VHOST_BLK_PIN_BATCH];
	unsigned int i, n = 0;

	for (i = 0; i < bio->bi_vcnt; i++) {
		pages[n++] = bio->bi_io_vec[i].bv_page;
		if (n == ARRAY_SIZE(pages)) {
			unpin_user_pages_dirty_lock(pages, n, dirty);
			n = 0;
		}
	}
	if (n)
		unpin_user_pages_dirty_lock(pages, n, dirty);
}

/**
 * vhost_blk_bio_put_all() - let go of the ended bios of a request
 * @req: a request whose bios all ended
 *
 * Guest pages pinned for them are unpinned, marked dirty when the device
 * wrote them.
 */
void vhost_blk_bio_put_all(struct vhost_blk_req *req)
{
	struct bio *bio = req->done_bios;

	while (bio) {
		struct bio *next = bio->bi_next;

		if (req->pinned)
			vhost_blk_unpin_bio(bio, req->dirty);
		bio_put(bio);
		bio = next;
	}
	req->done_bios = NULL;
}

static struct bio *vhost_blk_bio_alloc(struct vhost_blk_req *req,
				       unsigned int nr_vecs, blk_opf_t opf,
				       sector_t sector)
{
	struct bio *bio;

	bio = bio_alloc(req->vq->dev->bdev, min_t(unsigned int, nr_vecs,
						  BIO_MAX_VECS),
			opf, GFP_KERNEL);
	bio->bi_iter.bi_sector = sector;
	bio->bi_private = req;
	bio->bi_end_io = vhost_blk_bio_end_io;
	return bio;
}

static void vhost_blk_bio_submit(struct vhost_blk_req *req, struct bio *bio)
{
	atomic_inc(&req->pending);
	submit_bio(bio);
}

/* A bio that never reached the block layer: undo it by hand. */
static void vhost_blk_bio_abort(struct vhost_blk_req *req, struct bio *bio)
{
	if (req->pinned)
		vhost_blk_unpin_bio(bio, false);
	bio_put(bio);
}

/*
 * The end of filling bios for a request: the last bio goes to the block
 * layer, or, on @err, is undone without reaching it. Bios already
 * submitted end normally and report the error. Returns @err.
 */
static int vhost_blk_bio_last(struct vhost_blk_req *req, struct bio *bio,
			      int err)
{
	if (bio && !err)
		vhost_blk_bio_submit(req, bio);
	else if (bio)
		vhost_blk_bio_abort(req, bio);
	return err;
}

/*
 * Add @seg bytes at @off of @page to *@bio, first submitting *@bio when it
 * is full and starting the next one where it ends (the first one at
 * @sector). @left counts the pages still to add, sizing the next bio.
 */
/*
 * Alignment of buffers the block layer takes in place: every bio boundary
 * then falls on a logical block.
 */
static unsigned int vhost_blk_bdev_mask(struct block_device *bdev)
{
	return max(bdev_dma_alignment(bdev), bdev_logical_block_size(bdev) - 1);
}

static void vhost_blk_bio_add(struct vhost_blk_req *req, struct bio **bio,
			      struct page *page, size_t seg, size_t off,
			      unsigned int *left, blk_opf_t opf,
			      sector_t sector)
{
	if (!*bio || (*bio)->bi_vcnt == (*bio)->bi_max_vecs) {
		if (*bio) {
			sector = bio_end_sector(*bio);
			vhost_blk_bio_submit(req, *bio);
		}
		*bio = vhost_blk_bio_alloc(req, *left, opf, sector);
	}
	__bio_add_page(*bio, page, seg, off);
	(*left)--;
}

/* Zero copy: bios on the guest's pinned pages. */
static int vhost_blk_submit_pinned(struct vhost_blk_req *req,
				   const struct iovec *iov, unsigned int nr,
				   blk_opf_t opf, sector_t sector)
{
	unsigned int gup = req->dirty ? FOLL_WRITE : 0;
	unsigned int left = vhost_blk_iov_pages(iov, nr);
	struct page *pages[VHOST_BLK_PIN_BATCH];
	struct bio *bio = NULL;
	unsigned int i;

	req->pinned = true;
	for (i = 0; i < nr; i++) {
		unsigned long uaddr = (unsigned long)iov[i].iov_base;
		size_t len = iov[i].iov_len;

		while (len) {
			size_t off = offset_in_page(uaddr);
			int n = min_t(unsigned long, PFN_UP(off + len),
				      ARRAY_SIZE(pages));
			int pinned, j;

			pinned = pin_user_pages_fast(uaddr & PAGE_MASK, n, gup,
						     pages);
			if (pinned <= 0)
				goto fault;
			for (j = 0; j < pinned; j++) {
				size_t seg = min_t(size_t, len,
						   PAGE_SIZE - off);

				vhost_blk_bio_add(req, &bio, pages[j], seg, off,
						  &left, opf, sector);
				uaddr += seg;
				len -= seg;
				off = 0;
			}
			if (pinned < n)
				goto fault;
		}
	}
	return vhost_blk_bio_last(req, bio, 0);

fault:
	return vhost_blk_bio_last(req, bio, -EFAULT);
}

/*
 * Zero copy on a pinned memory table (VHOST_BLK_OPT_F_PIN_MEM): the pages
 * come from the table, nothing is pinned per request. The table cannot
 * change under a request: it is replaced only with every queue paused and
 * drained, and this runs under vq->mutex of an unpaused queue.
 */
static int vhost_blk_submit_table(struct vhost_blk_req *req,
				  const struct iovec *iov, unsigned int nr,
				  blk_opf_t opf, sector_t sector)
{
	struct vhost_blk_vq *vq = req->vq;
	unsigned int left = vhost_blk_iov_pages(iov, nr);
	const struct vhost_blk_mem *mem;
	struct bio *bio = NULL;
	unsigned int i;

	mem = rcu_dereference_protected(vq->dev->mem,
					lockdep_is_held(&vq->mutex));
	for (i = 0; i < nr; i++) {
		unsigned long uaddr = (unsigned long)iov[i].iov_base;
		size_t len = iov[i].iov_len;
		struct page **pages;

		pages = mem ? vhost_blk_mem_pages(mem, uaddr, len) : NULL;
		if (!pages)
			goto fault;
		while (len) {
			size_t off = offset_in_page(uaddr);
			size_t seg = min_t(size_t, len, PAGE_SIZE - off);

			vhost_blk_bio_add(req, &bio, *pages++, seg, off, &left,
					  opf, sector);
			uaddr += seg;
			len -= seg;
		}
	}
	return vhost_blk_bio_last(req, bio, 0);

fault:
	return vhost_blk_bio_last(req, bio, -EFAULT);
}

/* Bounce: bios on kernel pages, copied from or (at completion) to guest. */
static int vhost_blk_submit_bounce(struct vhost_blk_req *req,
				   const struct iovec *iov, unsigned int nr,
				   u64 len, blk_opf_t opf, sector_t sector)
{
	struct bio *bio = NULL;
	unsigned int i, left;
	int ret;

	ret = vhost_blk_bounce_alloc(req, iov, nr, len);
	if (ret)
		return ret;
	/* A read's data is copied to the guest by the worker. */
	req->status_page = NULL;

	left = req->nr_bounce;
	for (i = 0; i < req->nr_bounce; i++) {
		size_t seg = min_t(u64, len, PAGE_SIZE);

		vhost_blk_bio_add(req, &bio, req->bounce[i], seg, 0, &left,
				  opf, sector);
		len -= seg;
	}
	vhost_blk_bio_submit(req, bio);
	return 0;
}

/**
 * vhost_blk_bdev_in_table() - does a read or write use the pinned table?
 * @dev: the device
 * @iov: guest buffers
 * @nr: number of buffers
 *
 * Return: true when vhost_blk_bdev_rw() takes the pages of @iov from the
 * pinned memory table: a block device backend, VHOST_BLK_OPT_F_PIN_MEM,
 * and buffers the device takes in place (not bounced).
 */
bool vhost_blk_bdev_in_table(const struct vhost_blk_dev *dev,
			     const struct iovec *iov, unsigned int nr)
{
	return dev->bdev && (dev->options & VHOST_BLK_OPT_F_PIN_MEM) &&
	       vhost_blk_iov_aligned(iov, nr, vhost_blk_bdev_mask(dev->bdev));
}

/**
 * vhost_blk_bdev_rw() - read or write the block device
 * @req: the request; req->dirty says whether the device writes the guest
 * @iov: guest buffers
 * @nr: number of buffers
 * @len: total bytes
 * @sector: first sector
 * @write: write to the device (OUT), else read from it (IN)
 *
 * Return: 0 once the bios are submitted (they report their own errors),
 * or an error before any reached the block layer.
 */
int vhost_blk_bdev_rw(struct vhost_blk_req *req, const struct iovec *iov,
		      unsigned int nr, u64 len, u64 sector, bool write)
{
	struct vhost_blk_dev *dev = req->vq->dev;
	struct block_device *bdev = dev->bdev;
	/* Writes as direct I/O issues them: not throttled as writeback. */
	blk_opf_t opf = write ? REQ_OP_WRITE | REQ_SYNC | REQ_IDLE :
				REQ_OP_READ;
	if (!vhost_blk_iov_aligned(iov, nr, vhost_blk_bdev_mask(bdev)))
		return vhost_blk_submit_bounce(req, iov, nr, len, opf, sector);
	if (dev->options & VHOST_BLK_OPT_F_PIN_MEM)
		return vhost_blk_submit_table(req, iov, nr, opf, sector);
	return vhost_blk_submit_pinned(req, iov, nr, opf, sector);
}

/* FLUSH: an empty bio with a preflush. */
void vhost_blk_bdev_flush(struct vhost_blk_req *req)
{
	struct bio *bio;

	bio = vhost_blk_bio_alloc(req, 0, REQ_OP_WRITE | REQ_PREFLUSH, 0);
	vhost_blk_bio_submit(req, bio);
}

/* SECURE_ERASE: no chaining helper exists, so chain by hand. */
static int vhost_blk_bdev_secure_erase(struct block_device *bdev, u64 sector,
				       u64 nr_sectors, u64 max,
				       struct bio **biop)
{
	u64 bmask = (bdev_logical_block_size(bdev) >> SECTOR_SHIFT) - 1;

	max = min_t(u64, max, UINT_MAX >> SECTOR_SHIFT) & ~bmask;
	if (!max)
		return -EOPNOTSUPP;
	while (nr_sectors) {
		u64 n = min(nr_sectors, max);
		struct bio *bio = bio_alloc(bdev, 0, REQ_OP_SECURE_ERASE,
					    GFP_KERNEL);

		bio->bi_iter.bi_sector = sector;
		bio->bi_iter.bi_size = n << SECTOR_SHIFT;
		if (*biop) {
			bio_chain(*biop, bio);
			submit_bio(*biop);
		}
		*biop = bio;
		sector += n;
		nr_sectors -= n;
	}
	return 0;
}

/**
 * vhost_blk_bdev_discard() - one segment of a DISCARD-like request
 * @bdev: the backend
 * @type: VIRTIO_BLK_T_DISCARD, _WRITE_ZEROES or _SECURE_ERASE
 * @sector: first sector
 * @nr_sectors: sectors, non-zero
 * @unmap: WRITE_ZEROES may discard the range instead
 * @max: the backend's limit for one bio of @type
 * @biop: the chain of bios so far (NULL at first), extended
 *
 * Return: 0, or -EOPNOTSUPP when the backend does not serve @type.
 */
int vhost_blk_bdev_discard(struct block_device *bdev, u32 type, u64 sector,
			   u64 nr_sectors, bool unmap, u64 max, struct bio **biop)
{
	switch (type) {
	case VIRTIO_BLK_T_DISCARD:
		return __blkdev_issue_discard(bdev, sector, nr_sectors,
					      GFP_KERNEL, biop);
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return __blkdev_issue_zeroout(bdev, sector, nr_sectors,
					      GFP_KERNEL, biop,
					      unmap ? 0 : BLKDEV_ZERO_NOUNMAP);
	case VIRTIO_BLK_T_SECURE_ERASE:
		return vhost_blk_bdev_secure_erase(bdev, sector, nr_sectors,
						   max, biop);
	default:
		return -EOPNOTSUPP;
	}
}

/*
 * The end of a DISCARD-like request: the last bio of the chain
 * vhost_blk_bdev_discard() built ends after all others, and ends the request.
 */
void vhost_blk_bdev_discard_end(struct vhost_blk_req *req, struct bio *bio)
{
	if (!bio)
		return;
	bio->bi_private = req;
	bio->bi_end_io = vhost_blk_bio_end_io;
	vhost_blk_bio_submit(req, bio);
}
