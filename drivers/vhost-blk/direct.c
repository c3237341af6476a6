// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk direct completion: a request's last bio posts it.
 *
 * Normally the end of a request wakes the worker, which writes the status
 * byte and the used ring through the owner's address space. On a pinned
 * memory table (VHOST_BLK_OPT_F_PIN_MEM) every guest page is already held
 * by the device, so the completion context (an interrupt, a softirq, a
 * timer, or the submitter itself) can do it: it writes the status byte
 * through the pinned page, puts the request on the used ring through a
 * kernel mapping of the ring's pages, publishes the index and signals the
 * call eventfd. The guest sees its completion one wake-up earlier. The
 * worker still reclaims the request later (bios, slot, in-flight count,
 * statistics), off the guest's path: at its next run, without a wake-up
 * of its own, unless someone waits for the queue to drain or for a slot
 * (vhost_blk_vq_reap_soon()).
 *
 * Not with the dirty log (VHOST_F_LOG_ALL: every write must be logged from
 * the owner's context) nor with an inflight region (written with user
 * access): such queues, file backends and bounced requests complete in the
 * worker as before. While a queue's rings are mapped, every used ring
 * update, from either side, is made under vq->used_lock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/virtio_byteorder.h>

#include "vhost_blk.h"

static bool vhost_blk_direct = true;
module_param_named(direct_complete, vhost_blk_direct, bool, 0644);
MODULE_PARM_DESC(direct_complete,
		 "Post requests from their completion on a pinned memory table (default: Y; read when a queue starts)");

static void vhost_blk_ring_unmap(struct vhost_blk_ring_map *m)
{
	unsigned int i;

	if (!m->vaddr)
		return;
	vunmap(m->vaddr);
	for (i = 0; i < m->n; i++)
		put_page(m->pages[i]);
	kfree(m->pages);
	m->vaddr = NULL;
	m->pages = NULL;
	m->n = 0;
}

/*
 * Map [@uaddr, @uaddr + @len), inside one region of the pinned table
 * @mem, into the kernel. The mapping holds its own page references: it
 * outlives a table replaced under it. NULL if it cannot be made.
 */
static void *vhost_blk_ring_map(struct vhost_blk_ring_map *m,
				const struct vhost_blk_mem *mem,
				unsigned long uaddr, size_t len)
{
	struct page **src = vhost_blk_mem_pages(mem, uaddr, len);
	unsigned int i, n = PFN_UP(uaddr + len) - PFN_DOWN(uaddr);

	if (!src)
		return NULL;
	m->pages = kmalloc_array(n, sizeof(*m->pages), GFP_KERNEL_ACCOUNT);
	if (!m->pages)
		return NULL;
	for (i = 0; i < n; i++) {
		m->pages[i] = src[i];
		get_page(src[i]);
	}
	m->n = n;
	m->vaddr = vmap(m->pages, n, VM_MAP, PAGE_KERNEL);
	if (!m->vaddr) {
		for (i = 0; i < n; i++)
			put_page(m->pages[i]);
		kfree(m->pages);
		m->pages = NULL;
		m->n = 0;
		return NULL;
	}
	return m->vaddr + offset_in_page(uaddr);
}

/**
 * vhost_blk_vq_unmap_rings() - complete @vq's requests in the worker again
 * @vq: the queue, with its mutex held and no request in flight
 */
void vhost_blk_vq_unmap_rings(struct vhost_blk_vq *vq)
{
	unsigned long flags;

	vhost_blk_vq_reap_soon(vq);
	spin_lock_irqsave(&vq->used_lock, flags);
	vq->used_map = NULL;
	vq->avail_map = NULL;
	vq->map_num = 0;
	spin_unlock_irqrestore(&vq->used_lock, flags);
	vhost_blk_ring_unmap(&vq->used_pages);
	vhost_blk_ring_unmap(&vq->avail_pages);
}

/**
 * vhost_blk_vq_map_rings() - let @vq's requests complete directly if they may
 * @vq: a started queue, with its mutex held and no request in flight;
 *	dev->mutex held too
 *
 * Called when the queue starts and whenever the table, the options or the
 * features may have changed (vhost_blk_unpause()). Without the mappings,
 * for any reason, the queue simply completes in the worker.
 */
void vhost_blk_vq_map_rings(struct vhost_blk_vq *vq)
{
	struct vhost_blk_dev *dev = vq->dev;
	const struct vhost_blk_mem *mem;
	struct vring_used *used;
	struct vring_avail *avail;
	unsigned long flags;

	vhost_blk_vq_unmap_rings(vq);
	mem = rcu_dereference_protected(dev->mem,
					lockdep_is_held(&dev->mutex));
	if (!READ_ONCE(vhost_blk_direct) || !mem || !mem->npinned ||
	    !(dev->options & VHOST_BLK_OPT_F_PIN_MEM) ||
	    vhost_blk_has_feature(dev, VHOST_F_LOG_ALL) ||
	    vq->inflight_region || !vq->num)
		return;
	/* Sizes as vhost_blk_vring_ok() checked them against the table. */
	used = vhost_blk_ring_map(&vq->used_pages, mem,
				  (unsigned long)vq->used,
				  sizeof(struct vring_used) +
				  vq->num * sizeof(struct vring_used_elem) +
				  sizeof(__virtio16));
	if (!used)
		return;
	avail = vhost_blk_ring_map(&vq->avail_pages, mem,
				   (unsigned long)vq->avail,
				   sizeof(struct vring_avail) +
				   (vq->num + 1) * sizeof(__virtio16));
	if (!avail) {
		vhost_blk_ring_unmap(&vq->used_pages);
		return;
	}
	spin_lock_irqsave(&vq->used_lock, flags);
	vq->used_map = used;
	vq->avail_map = avail;
	vq->map_num = vq->num;
	spin_unlock_irqrestore(&vq->used_lock, flags);
	vhost_blk_vq_reap_lazily(vq);
}

/**
 * vhost_blk_vq_reap_soon() - have @vq's posted requests reclaimed now
 * @vq: the queue, with its mutex held
 *
 * For whoever is about to wait for the queue's in-flight count or its
 * slots: requests posted from now on wake the worker, and so do those
 * posted already.
 */
void vhost_blk_vq_reap_soon(struct vhost_blk_vq *vq)
{
	WRITE_ONCE(vq->lazy_reap, false);
	/* The flag before the list: pairs with llist_add() in req_put. */
	smp_mb();
	if (!llist_empty(&vq->done))
		vhost_blk_vq_queue_work(vq, &vq->done_work);
}

/**
 * vhost_blk_vq_reap_lazily() - let @vq's worker reclaim at its next run
 * @vq: the queue, with its mutex held
 *
 * Only on a mapped queue that is served and has request slots.
 */
void vhost_blk_vq_reap_lazily(struct vhost_blk_vq *vq)
{
	if (vq->used_map && vq->started && !vq->paused && !vq->starved)
		WRITE_ONCE(vq->lazy_reap, true);
}

/**
 * vhost_blk_req_direct_prepare() - may @req complete from its last bio?
 * @vq: the queue, with its mutex held
 * @req: a request with its status byte found
 *
 * Looks up the status byte's pinned page. The table cannot change while
 * the request is in flight (it is replaced only with every queue drained).
 */
void vhost_blk_req_direct_prepare(struct vhost_blk_vq *vq,
				  struct vhost_blk_req *req)
{
	const struct vhost_blk_mem *mem;
	unsigned long addr = (unsigned long)req->status_addr;
	struct page **page;

	if (!vq->used_map || !vq->dev->bdev)
		return;
	mem = rcu_dereference_protected(vq->dev->mem,
					lockdep_is_held(&vq->mutex));
	page = vhost_blk_mem_pages(mem, addr, 1);
	if (!page)
		return;
	req->status_page = *page;
	req->status_off = offset_in_page(addr);
}

/* Caller holds used_lock, the rings are mapped. */
static void vhost_blk_used_put(struct vhost_blk_vq *vq, u16 head, u32 len)
{
	struct vring_used_elem *e;

	e = &vq->used_map->ring[vq->last_used_idx & (vq->map_num - 1)];
	WRITE_ONCE(e->id, __cpu_to_virtio32(true, head));
	WRITE_ONCE(e->len, __cpu_to_virtio32(true, len));
	vq->last_used_idx++;
}

/* As vhost_blk_vq_need_call(), through the mapping; under used_lock. */
static bool vhost_blk_used_need_call(struct vhost_blk_vq *vq)
{
	u16 event;

	if (!vq->event_idx)
		return !(__virtio16_to_cpu(true, READ_ONCE(vq->avail_map->flags)) &
			 VRING_AVAIL_F_NO_INTERRUPT);
	event = __virtio16_to_cpu(true, READ_ONCE(vq->avail_map->ring[vq->map_num]));
	return vhost_blk_vq_event_due(vq, true, event);
}

/*
 * Publish what is on the used ring and call the guest if it asks to be;
 * under used_lock. Returns whether it called.
 */
static bool vhost_blk_used_publish(struct vhost_blk_vq *vq)
{
	if (vq->published_used == vq->last_used_idx)
		return false;
	/* Entries (and the status bytes before them) before the index. */
	smp_wmb();
	WRITE_ONCE(vq->used_map->idx, __cpu_to_virtio16(true, vq->last_used_idx));
	vq->published_used = vq->last_used_idx;
	/* The index before we read the guest's suppression state. */
	smp_mb();
	if (!vq->call_ctx || !vhost_blk_used_need_call(vq))
		return false;
	vhost_blk_eventfd_signal(vq->call_ctx);
	return true;
}

/**
 * vhost_blk_vq_add_used_mapped() - vhost_blk_vq_add_used() on mapped rings
 * @vq: the queue, with its mutex held and its rings mapped
 * @head: chain head
 * @len: bytes written into the chain
 */
void vhost_blk_vq_add_used_mapped(struct vhost_blk_vq *vq, u16 head, u32 len)
{
	unsigned long flags;

	spin_lock_irqsave(&vq->used_lock, flags);
	vhost_blk_used_put(vq, head, len);
	spin_unlock_irqrestore(&vq->used_lock, flags);
}

/**
 * vhost_blk_vq_signal_mapped() - vhost_blk_vq_signal() on mapped rings
 * @vq: the queue, with its mutex held and its rings mapped
 */
void vhost_blk_vq_signal_mapped(struct vhost_blk_vq *vq)
{
	unsigned long flags;
	bool called;

	spin_lock_irqsave(&vq->used_lock, flags);
	called = vhost_blk_used_publish(vq);
	spin_unlock_irqrestore(&vq->used_lock, flags);
	if (called)
		vhost_blk_stat_inc(vq, &vq->stats.calls);
}

/**
 * vhost_blk_req_post() - put an ended request on the used ring at once
 * @req: a request vhost_blk_req_direct_prepare() found a status page for,
 *	 whose last reference is gone
 *
 * Any context. Writes the status byte, the used entry and the index, and
 * calls the guest if it asks to be; the worker reclaims the request later
 * (req->posted). The queue's rings stay mapped while a request is in
 * flight.
 */
void vhost_blk_req_post(struct vhost_blk_req *req)
{
	struct vhost_blk_vq *vq = req->vq;
	u8 status = READ_ONCE(req->status);
	unsigned long flags;
	u8 *p;

	/* used.len as vhost_blk_req_finish() counts it. */
	if (status != VIRTIO_BLK_S_OK)
		req->used_len = 0;
	if (req->used_len == req->in_len - 1)
		req->used_len = req->in_len;

	p = kmap_local_page(req->status_page);
	WRITE_ONCE(p[req->status_off], status);
	kunmap_local(p);

	spin_lock_irqsave(&vq->used_lock, flags);
	vhost_blk_used_put(vq, req->head, req->used_len);
	req->called = vhost_blk_used_publish(vq);
	spin_unlock_irqrestore(&vq->used_lock, flags);
	req->posted = true;
}
