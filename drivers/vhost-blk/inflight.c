// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk inflight tracking (VHOST_BLK_SET_VRING_INFLIGHT).
 *
 * A queue may have an inflight region: the split-ring queue region of the
 * vhost-user protocol (VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD), in the
 * owner's memory, usually a memfd that the VMM keeps when the owner dies.
 * The worker marks every head it takes from the avail ring and clears the
 * mark once the head's used entry is published, a batch at a time. A
 * request that ends after its owner is gone cannot reach the used ring,
 * so its mark stays: a new owner starting the queue on the same region
 * finds it and takes it again before anything new.
 *
 * The region is shared: any process mapping it may write it at any time.
 * The device writes it from the data path but reads it only when a queue
 * starts, and checks everything it reads there.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/uaccess.h>
#include <linux/sort.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/jiffies.h>
#include <linux/wait.h>

#include "vhost_blk.h"

/*
 * How long a queue starting on a region waits for another device's queue
 * to let go of it, in milliseconds: the device of a killed owner drains
 * its requests in the final release of its file, which the new owner may
 * overtake by as long as the disk takes to end them.
 */
#define VHOST_BLK_INFLIGHT_CLAIM_MS	10000

/*
 * Regions claimed by a started queue, by their first page and offset in
 * it: one device at a time writes a region. The list is short (one entry
 * per started queue with a region).
 */
static DEFINE_SPINLOCK(vhost_blk_claims_lock);
static LIST_HEAD(vhost_blk_claims);	/* vq->inflight_claim; claims_lock */
static DECLARE_WAIT_QUEUE_HEAD(vhost_blk_claims_wq);	/* claim dropped */

/* A head found in flight at start, and when it was taken. */
struct vhost_blk_inflight_ent {
	u64 counter;
	u16 head;
};

/**
 * vhost_blk_inflight_check() - may a region at @addr of @len serve @num?
 * @addr: owner address of the region
 * @len: its length in bytes
 * @num: ring size
 *
 * Return: 0, or -EINVAL for an address that is misaligned or not a user
 * address, or a length that does not cover a ring of @num.
 */
int vhost_blk_inflight_check(u64 addr, u64 len, unsigned int num)
{
	if (addr & (sizeof(u64) - 1) || addr != (unsigned long)addr ||
	    len != (unsigned long)len)
		return -EINVAL;
	if (len < VHOST_BLK_INFLIGHT_SIZE(num))
		return -EINVAL;
	if (!access_ok(u64_to_user_ptr(addr), len))
		return -EINVAL;
	return 0;
}

static int vhost_blk_inflight_cmp(const void *a, const void *b)
{
	const struct vhost_blk_inflight_ent *x = a, *y = b;

	if (x->counter != y->counter)
		return x->counter < y->counter ? -1 : 1;
	return (int)x->head - (int)y->head;
}

/* A fresh (zeroed) region: take it over, nothing in flight. */
static int vhost_blk_inflight_init(struct vhost_blk_vq *vq)
{
	struct vhost_blk_inflight_split __user *r = vq->inflight_region;
	struct vhost_blk_inflight_split hdr = {
		.version = VHOST_BLK_INFLIGHT_VERSION,
		.desc_num = vq->num,
		.used_idx = vq->last_used_idx,
	};

	if (clear_user(r->desc, array_size(vq->num, sizeof(r->desc[0]))))
		return -EFAULT;
	if (copy_to_user(r, &hdr, sizeof(hdr)))
		return -EFAULT;
	vq->inflight_batch_head = 0;
	return 0;
}

/* The queue holding a claim on (@page, @off), or NULL. claims_lock held. */
static struct vhost_blk_vq *vhost_blk_inflight_holder(struct page *page,
						      unsigned int off)
{
	struct vhost_blk_vq *vq;

	list_for_each_entry(vq, &vhost_blk_claims, inflight_claim)
		if (vq->inflight_page == page && vq->inflight_off == off)
			return vq;
	return NULL;
}

static bool vhost_blk_inflight_claimed(struct page *page, unsigned int off)
{
	bool ret;

	spin_lock(&vhost_blk_claims_lock);
	ret = vhost_blk_inflight_holder(page, off);
	spin_unlock(&vhost_blk_claims_lock);
	return ret;
}

/**
 * vhost_blk_inflight_claim() - make @vq the only writer of its region
 * @vq: the queue, starting, in the owner's context, dev->mutex held
 *
 * The region is known by its first page, pinned while claimed, so two
 * mappings of one memfd, in one process or two, are one region. While a
 * queue of another device holds it (the device of a killed owner still
 * draining in its final release), wait up to VHOST_BLK_INFLIGHT_CLAIM_MS
 * for it to let go: starting now would take again requests that device
 * still has in flight, and on kernels whose worker keeps the owner's mm
 * it would still publish them to the used ring.
 *
 * Return: 0 (also without a region); -EBUSY if another queue of this
 * device holds the region, or another device still does at the end of
 * the wait; -EINTR on a signal; -EFAULT if the region is not mapped.
 */
int vhost_blk_inflight_claim(struct vhost_blk_vq *vq)
{
	unsigned long addr = (unsigned long)vq->inflight_region;
	unsigned long deadline, left;
	unsigned int off = offset_in_page(addr);
	struct vhost_blk_vq *holder;
	struct page *page;
	bool same;
	long ret;

	if (!vq->inflight_region)
		return 0;
	/* FOLL_WRITE: the page the device writes, after any copy-on-write. */
	ret = pin_user_pages_fast(addr & PAGE_MASK, 1, FOLL_WRITE, &page);
	if (ret != 1)
		return ret < 0 ? ret : -EFAULT;

	deadline = jiffies + msecs_to_jiffies(VHOST_BLK_INFLIGHT_CLAIM_MS);
	for (;;) {
		spin_lock(&vhost_blk_claims_lock);
		holder = vhost_blk_inflight_holder(page, off);
		if (!holder) {
			vq->inflight_page = page;
			vq->inflight_off = off;
			list_add(&vq->inflight_claim, &vhost_blk_claims);
			spin_unlock(&vhost_blk_claims_lock);
			return 0;
		}
		same = holder->dev == vq->dev;
		spin_unlock(&vhost_blk_claims_lock);
		if (same) {
			ret = -EBUSY;
			break;
		}
		left = time_after(deadline, jiffies) ? deadline - jiffies : 0;
		if (!left) {
			pr_warn_ratelimited("%s: vq %u: inflight region still in use by another device\n",
					    __func__, vq->index);
			ret = -EBUSY;
			break;
		}
		ret = wait_event_interruptible_timeout(vhost_blk_claims_wq,
						       !vhost_blk_inflight_claimed(page, off),
						       left);
		if (ret < 0) {
			ret = -EINTR;
			break;
		}
	}
	unpin_user_page(page);
	return ret;
}

/**
 * vhost_blk_inflight_unclaim() - let another queue take @vq's region
 * @vq: the queue, stopped and drained, dev->mutex held
 */
void vhost_blk_inflight_unclaim(struct vhost_blk_vq *vq)
{
	struct page *page = vq->inflight_page;

	if (!page)
		return;
	spin_lock(&vhost_blk_claims_lock);
	list_del_init(&vq->inflight_claim);
	vq->inflight_page = NULL;
	spin_unlock(&vhost_blk_claims_lock);
	unpin_user_page(page);
	wake_up_all(&vhost_blk_claims_wq);
}

/*
 * The owner died between publishing a batch and clearing its marks:
 * clear them now, walking the batch back from last_batch_head in @descs,
 * the region's entries as read at start. A batch longer than the ring,
 * or a link out of it, is not followed: those heads stay in flight and
 * are taken again.
 */
static int vhost_blk_inflight_finish_batch(struct vhost_blk_vq *vq,
					   const struct vhost_blk_inflight_split *hdr,
					   struct vhost_blk_inflight_desc *descs)
{
	struct vhost_blk_inflight_split __user *r = vq->inflight_region;
	u16 n = vq->last_used_idx - hdr->used_idx;
	u16 head = hdr->last_batch_head;
	unsigned int i;

	if (n <= vq->num) {
		for (i = 0; i < n && head < vq->num; i++) {
			descs[head].inflight = 0;
			if (put_user((u8)0, &r->desc[head].inflight))
				return -EFAULT;
			head = descs[head].next;
		}
	}
	if (put_user(vq->last_used_idx, &r->used_idx))
		return -EFAULT;
	return 0;
}

/**
 * vhost_blk_inflight_start() - pick up a queue's inflight region
 * @vq: the queue, starting, with its mutex held, in the owner's context
 *
 * Called after vhost_blk_vq_init_access() read used->idx. The region is
 * read once and checked whole before anything is written to it. Then,
 * when it shows a dead owner's state (heads in flight, or a used_idx
 * other than used->idx), fills the list of heads to take again, in the
 * order they were first taken, and sets the avail index past them
 * (used->idx + their number); otherwise the queue starts at the
 * VHOST_SET_VRING_BASE index, or at used->idx if that index is behind
 * it.
 *
 * Return: 0; -EINVAL for a region that does not fit the ring or holds
 * values the spec does not allow; -EFAULT if it cannot be accessed;
 * -ENOMEM.
 */
int vhost_blk_inflight_start(struct vhost_blk_vq *vq)
{
	struct vhost_blk_inflight_split __user *r = vq->inflight_region;
	struct vhost_blk_inflight_desc *descs;
	struct vhost_blk_inflight_ent *ents;
	struct vhost_blk_inflight_split hdr;
	unsigned int i, n = 0;
	bool recover;
	u64 max = 0;
	int ret;

	vq->nr_resubmit = 0;
	vq->resubmit_pos = 0;
	vq->took_resubmit = false;
	vq->nr_batch = 0;
	vq->inflight_counter = 0;
	if (!r)
		return 0;
	/* The ring size may have changed since the region was set. */
	ret = vhost_blk_inflight_check((unsigned long)r, vq->inflight_len,
				       vq->num);
	if (ret)
		return ret;
	if (copy_from_user(&hdr, r, sizeof(hdr)))
		return -EFAULT;
	if (!hdr.version)
		return vhost_blk_inflight_init(vq);
	if (hdr.version != VHOST_BLK_INFLIGHT_VERSION ||
	    hdr.desc_num != vq->num)
		return -EINVAL;

	descs = kvmalloc_array(vq->num, sizeof(*descs), GFP_KERNEL_ACCOUNT);
	ents = kvmalloc_array(vq->num, sizeof(*ents), GFP_KERNEL_ACCOUNT);
	if (!descs || !ents) {
		ret = -ENOMEM;
		goto out;
	}
	if (copy_from_user(descs, r->desc, array_size(vq->num, sizeof(*descs)))) {
		ret = -EFAULT;
		goto out;
	}
	for (i = 0; i < vq->num; i++) {
		if (descs[i].inflight > 1) {
			ret = -EINVAL;
			goto out;
		}
	}

	/* All checked: only now may the region be written. */
	recover = hdr.used_idx != vq->last_used_idx;
	if (recover) {
		ret = vhost_blk_inflight_finish_batch(vq, &hdr, descs);
		if (ret)
			goto out;
	}
	vq->inflight_batch_head = hdr.last_batch_head < vq->num ?
				  hdr.last_batch_head : 0;

	for (i = 0; i < vq->num; i++) {
		if (!descs[i].inflight)
			continue;
		ents[n].counter = descs[i].counter;
		ents[n].head = i;
		max = max(max, descs[i].counter);
		n++;
	}
	sort(ents, n, sizeof(*ents), vhost_blk_inflight_cmp, NULL);
	for (i = 0; i < n; i++)
		vq->resubmit[i] = ents[i].head;
	vq->nr_resubmit = n;
	vq->inflight_counter = n ? max + 1 : 0;
	/*
	 * An ordinary stop and start (nothing in flight, the batch
	 * published) keeps the VHOST_SET_VRING_BASE index, unless that is
	 * behind used->idx: a frontend's used index from before a device
	 * it lost finished its requests, taking them again would serve
	 * them twice.
	 */
	if (recover || n ||
	    (u16)(vq->last_avail_idx - vq->last_used_idx) > vq->num) {
		vq->last_avail_idx = vq->last_used_idx + n;
		vq->avail_idx = vq->last_avail_idx;
	}
	if (n)
		pr_debug("vq %u: resubmitting %u requests\n", vq->index, n);
out:
	kvfree(ents);
	kvfree(descs);
	return ret;
}

/**
 * vhost_blk_inflight_get() - mark a head taken by vhost_blk_vq_next_avail()
 * @vq: the queue, with its mutex held
 * @head: the head, below vq->num
 *
 * Return: 0, or -EFAULT when the region cannot be written (the caller
 * puts the head back and stops serving the queue).
 */
int vhost_blk_inflight_get(struct vhost_blk_vq *vq, u16 head)
{
	struct vhost_blk_inflight_desc __user *d;

	if (!vq->inflight_region)
		return 0;
	d = &vq->inflight_region->desc[head];
	if (put_user(vq->inflight_counter, &d->counter) ||
	    put_user((u8)1, &d->inflight))
		return -EFAULT;
	vq->inflight_counter++;
	return 0;
}

/**
 * vhost_blk_inflight_put_back() - give back the head just taken
 * @vq: the queue, with its mutex held
 * @head: the head vhost_blk_vq_next_avail() returned last
 *
 * It is taken again next time. A head taken again from the resubmit list
 * keeps its mark: the avail index counts it already.
 */
void vhost_blk_inflight_put_back(struct vhost_blk_vq *vq, u16 head)
{
	if (vq->took_resubmit) {
		vq->resubmit_pos--;
		return;
	}
	vq->last_avail_idx--;
	if (vq->inflight_region &&
	    put_user((u8)0, &vq->inflight_region->desc[head].inflight))
		vhost_blk_vq_error(vq, "cannot write inflight region");
}

/**
 * vhost_blk_inflight_used() - link a head just put on the used ring
 * @vq: the queue, with its mutex held
 * @head: the head
 *
 * The head joins the batch that the next vhost_blk_vq_signal() publishes.
 */
void vhost_blk_inflight_used(struct vhost_blk_vq *vq, u16 head)
{
	struct vhost_blk_inflight_split __user *r = vq->inflight_region;

	if (!r)
		return;
	if (put_user(vq->inflight_batch_head, &r->desc[head].next) ||
	    put_user(head, &r->last_batch_head)) {
		vhost_blk_vq_error(vq, "cannot write inflight region");
		return;
	}
	vq->inflight_batch_head = head;
	/*
	 * Only when used->idx cannot be written does the batch outgrow the
	 * ring; heads left out then stay marked, to be taken again.
	 */
	if (vq->nr_batch < vq->num)
		vq->batch[vq->nr_batch++] = head;
}

/**
 * vhost_blk_inflight_published() - clear the marks of a published batch
 * @vq: the queue, with its mutex held, its used->idx just written
 */
void vhost_blk_inflight_published(struct vhost_blk_vq *vq)
{
	struct vhost_blk_inflight_split __user *r = vq->inflight_region;
	unsigned int i;

	if (!r)
		return;
	/* The used index before the marks: no mark gone, entry unseen. */
	smp_wmb();
	for (i = 0; i < vq->nr_batch; i++) {
		if (put_user((u8)0, &r->desc[vq->batch[i]].inflight))
			goto fault;
	}
	vq->nr_batch = 0;
	/* The marks before used_idx, which says the batch is cleared. */
	smp_wmb();
	if (put_user(vq->last_used_idx, &r->used_idx))
		goto fault;
	return;
fault:
	vhost_blk_vq_error(vq, "cannot write inflight region");
}
