// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk dirty log, for live migration: as vhost-net does it.
 *
 * The owner gives a bitmap in its own memory (VHOST_SET_LOG_BASE), one bit
 * per 4 KiB guest-physical page: bit (gpa / 4096) % 8 of the byte at
 * log_base + gpa / 4096 / 8. Once VHOST_F_LOG_ALL is acked, the device
 * sets the bit of every guest page it writes: the data of reads, the
 * GET_ID serial, status bytes and, on a ring set up with VHOST_VRING_F_LOG,
 * what it writes to the used ring (found through the ring's log_guest_addr),
 * then signals the log eventfd (VHOST_SET_LOG_FD). A page's bit is set
 * after the page was written and before the used entry that completes the
 * request is published, so whoever sees the entry sees the page logged.
 *
 * Bits are set atomically on the owner's page (pinned for the update), as
 * the owner clears them concurrently. A log that cannot be written (a bad
 * base, read-only or unmapped memory) fails the request that needed it,
 * or is reported through the queue's error eventfd.
 */
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/overflow.h>
#include <linux/uaccess.h>

#include "vhost_blk.h"

/* The guest page size the log counts in, whatever the host's. */
#define VHOST_BLK_LOG_PAGE	0x1000ULL

/* Last byte of the log covering [gpa, gpa + len), or false on overflow. */
static bool vhost_blk_log_span(u64 gpa, u64 len, u64 *first, u64 *last)
{
	u64 end;

	if (!len || check_add_overflow(gpa, len - 1, &end))
		return false;
	*first = gpa / VHOST_BLK_LOG_PAGE / 8;
	*last = end / VHOST_BLK_LOG_PAGE / 8;
	return true;
}

/*
 * Could the log at @base take the bits of [gpa, gpa + len)? Only that the
 * range is user memory: whether it is mapped and writable shows when the
 * bits are set.
 */
static bool vhost_blk_log_range_ok(void __user *base, u64 gpa, u64 len)
{
	u64 first, last, end;

	if (!len)
		return true;
	if (!vhost_blk_log_span(gpa, len, &first, &last))
		return false;
	if (check_add_overflow((u64)(unsigned long)base, last, &end) ||
	    end != (unsigned long)end)
		return false;
	return access_ok(base + first, last - first + 1);
}

/* Bytes of a used ring of @num entries, the device's avail_event included. */
static u64 vhost_blk_used_size(unsigned int num)
{
	return sizeof(struct vring_used) +
	       (u64)num * sizeof(struct vring_used_elem) + sizeof(__virtio16);
}

/**
 * vhost_blk_log_used_ok() - can the log take the bits of a used ring?
 * @base: log base
 * @log_addr: guest-physical address of the used ring
 * @num: ring size
 *
 * Return: true if @base is a log and the owner can write the bits of the
 * whole ring there.
 */
bool vhost_blk_log_used_ok(void __user *base, u64 log_addr, unsigned int num)
{
	/* No log: access_ok() would pass bits at absolute addresses. */
	if (!base)
		return false;
	return vhost_blk_log_range_ok(base, log_addr, vhost_blk_used_size(num));
}

/* vhost_blk_gpa_fn_t over a table's regions; @arg points to the log base. */
static int vhost_blk_log_region_ok(void *arg, u64 gpa, u64 len)
{
	void __user *base = *(void __user **)arg;

	return vhost_blk_log_range_ok(base, gpa, len) ? 0 : -EFAULT;
}

/**
 * vhost_blk_log_ok() - can a log take every bit the device may set?
 * @dev: the device, with its mutex held
 * @base: the log base to check
 * @mem: the memory table to check it against, may be NULL
 *
 * The log must cover every page of @mem and the used ring of every queue
 * set up with VHOST_VRING_F_LOG. A NULL @base is no log: it covers nothing
 * (access_ok() would pass it, and the bits would land at gpa / 32768).
 *
 * Return: true if @base covers all of that.
 */
bool vhost_blk_log_ok(struct vhost_blk_dev *dev, void __user *base,
		      const struct vhost_blk_mem *mem)
{
	unsigned int i;

	lockdep_assert_held(&dev->mutex);
	if (!base || !access_ok(base, 1))
		return false;
	if (mem && vhost_blk_mem_walk_regions(mem, vhost_blk_log_region_ok,
					      &base))
		return false;
	for (i = 0; i < VHOST_BLK_MAX_VQS; i++) {
		const struct vhost_blk_vq *vq = &dev->vqs[i];

		if (vq->log_used && vq->num &&
		    !vhost_blk_log_used_ok(base, vq->log_addr, vq->num))
			return false;
	}
	return true;
}

/*
 * Set the bits of guest pages @first to @last (page numbers). Each log page
 * is pinned once for the bits it holds.
 */
static int vhost_blk_log_pages(void __user *base, u64 first, u64 last)
{
	u64 ubase = (u64)(unsigned long)base, end;

	if (check_add_overflow(ubase, last / 8, &end) ||
	    end != (unsigned long)end)
		return -EFAULT;

	while (first <= last) {
		unsigned long addr = ubase + first / 8;
		unsigned long page_start = addr & PAGE_MASK;
		struct page *page;
		unsigned long *bits;
		int ret;

		ret = pin_user_pages_fast(page_start, 1, FOLL_WRITE, &page);
		if (ret != 1)
			return ret < 0 ? ret : -EFAULT;
		bits = kmap_local_page(page);
		do {
			unsigned long off = ubase + first / 8 - page_start;

			if (off >= PAGE_SIZE)
				break;
			set_bit(off * BITS_PER_BYTE + first % 8, bits);
		} while (first++ < last);
		kunmap_local(bits);
		unpin_user_pages_dirty_lock(&page, 1, true);
	}
	return 0;
}

/* Log [gpa, gpa + len), guest-physical. */
static int vhost_blk_log_gpa(void __user *base, u64 gpa, u64 len)
{
	u64 end;

	if (!len)
		return 0;
	if (check_add_overflow(gpa, len - 1, &end))
		return -EFAULT;
	return vhost_blk_log_pages(base, gpa / VHOST_BLK_LOG_PAGE,
				   end / VHOST_BLK_LOG_PAGE);
}

/**
 * vhost_blk_log_in_use() - may the device write the log?
 * @dev: the device, with its mutex held
 *
 * While VHOST_F_LOG_ALL is acked or a queue is set up with
 * VHOST_VRING_F_LOG, the device needs a log: it cannot be removed.
 *
 * Return: true if the log must stay.
 */
bool vhost_blk_log_in_use(struct vhost_blk_dev *dev)
{
	unsigned int i;

	lockdep_assert_held(&dev->mutex);
	if (vhost_blk_has_feature(dev, VHOST_F_LOG_ALL))
		return true;
	for (i = 0; i < VHOST_BLK_MAX_VQS; i++)
		if (dev->vqs[i].log_used)
			return true;
	return false;
}

/**
 * vhost_blk_log_on() - does the device log the guest pages it writes?
 * @vq: a queue, with its mutex held
 *
 * Return: true while VHOST_F_LOG_ALL is acked.
 */
bool vhost_blk_log_on(struct vhost_blk_vq *vq)
{
	lockdep_assert_held(&vq->mutex);
	return vhost_blk_has_feature(vq->dev, VHOST_F_LOG_ALL);
}

/* vhost_blk_gpa_fn_t for a written range; @arg is the queue. */
static int vhost_blk_log_gpa_of(void *arg, u64 gpa, u64 len)
{
	struct vhost_blk_vq *vq = arg;

	return vhost_blk_log_gpa(vq->log_base, gpa, len);
}

/**
 * vhost_blk_log_write() - log a range the device wrote, by owner address
 * @vq: the queue, with its mutex held
 * @uaddr: owner address, inside the memory table
 * @len: bytes
 *
 * Every guest-physical range the owner range backs is logged: regions of
 * the memory table may alias the same owner memory. The table cannot
 * change under the caller: it is replaced only once no request is in
 * flight, and requests finish under the queue's mutex.
 *
 * Return: 0, or -EFAULT when the range is outside guest memory or a bit
 * cannot be set.
 */
int vhost_blk_log_write(struct vhost_blk_vq *vq, u64 uaddr, u64 len)
{
	struct vhost_blk_dev *dev = vq->dev;
	const struct vhost_blk_mem *mem;
	int ret;

	if (!len || !vhost_blk_log_on(vq))
		return 0;
	mem = rcu_dereference_protected(dev->mem, lockdep_is_held(&vq->mutex));
	if (!mem)
		return -EFAULT;

	/* The data before its bits: whoever reads the bit reads the data. */
	smp_wmb();
	ret = vhost_blk_mem_uaddr_to_gpa(mem, uaddr, len, vhost_blk_log_gpa_of,
					 vq);
	if (ret)
		return ret;
	vq->log_pending = true;
	return 0;
}

/**
 * vhost_blk_log_iov() - log the first @len bytes of buffers the device wrote
 * @vq: the queue, with its mutex held
 * @iov: owner addresses, inside the memory table
 * @nr: number of buffers
 * @len: bytes written, from the first buffer on
 *
 * Return: 0, or -EFAULT as vhost_blk_log_write() (the first buffer that
 * fails stops the walk).
 */
int vhost_blk_log_iov(struct vhost_blk_vq *vq, const struct iovec *iov,
		      unsigned int nr, u64 len)
{
	unsigned int i;
	int ret;

	for (i = 0; i < nr && len; i++) {
		u64 n = min_t(u64, len, iov[i].iov_len);

		ret = vhost_blk_log_write(vq, (unsigned long)iov[i].iov_base, n);
		if (ret)
			return ret;
		len -= n;
	}
	return 0;
}

/**
 * vhost_blk_log_used() - log a write to the used ring
 * @vq: the queue, with its mutex held
 * @offset: byte offset in the used ring
 * @len: bytes written
 *
 * Only on a ring set up with VHOST_VRING_F_LOG, at its log_guest_addr. A
 * failure is reported through the error eventfd.
 */
void vhost_blk_log_used(struct vhost_blk_vq *vq, u64 offset, u64 len)
{
	u64 gpa;

	if (!vq->log_used || !vhost_blk_log_on(vq))
		return;
	/* The used ring write before its bit. */
	smp_wmb();
	if (check_add_overflow(vq->log_addr, offset, &gpa) ||
	    vhost_blk_log_gpa(vq->log_base, gpa, len)) {
		vhost_blk_vq_error(vq, "cannot write the dirty log");
		return;
	}
	vq->log_pending = true;
}

/**
 * vhost_blk_log_signal() - tell the owner that bits were set
 * @vq: the queue, with its mutex held
 *
 * One signal of the log eventfd for everything logged since the last one.
 */
void vhost_blk_log_signal(struct vhost_blk_vq *vq)
{
	if (!vq->log_pending)
		return;
	vq->log_pending = false;
	if (vq->log_ctx)
		vhost_blk_eventfd_signal(vq->log_ctx);
}
