// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk split virtqueue access.
 *
 * The rings live in the owner's address space and are read and written
 * with the user access helpers from the worker, which runs with the
 * owner's mm. Everything read from a ring is guest controlled: indexes
 * are range checked, chains are bounded by the ring size (or the indirect
 * table size) so a loop ends, and every buffer address is translated
 * through the memory table.
 *
 * Rings are little-endian (VIRTIO_F_VERSION_1; legacy guests on
 * little-endian hosts see the same layout).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/uaccess.h>
#include <linux/ratelimit.h>
#include <linux/virtio_byteorder.h>

#include "vhost_blk.h"

/* Where the driver asks to be notified (EVENT_IDX): after the avail ring. */
static inline __virtio16 __user *vhost_blk_used_event(struct vhost_blk_vq *vq)
{
	return &vq->avail->ring[vq->num];
}

/* Where the device asks to be kicked (EVENT_IDX): after the used ring. */
static inline __virtio16 __user *vhost_blk_avail_event(struct vhost_blk_vq *vq)
{
	return (__virtio16 __user *)&vq->used->ring[vq->num];
}

/**
 * vhost_blk_vring_ok() - do the three rings of a queue lie in guest memory?
 * @mem: memory table, may be NULL
 * @num: ring size
 * @desc: owner address of the descriptor table
 * @avail: owner address of the avail ring
 * @used: owner address of the used ring
 *
 * Return: true if each ring lies within one region of @mem; false also
 * without a table.
 */
bool vhost_blk_vring_ok(const struct vhost_blk_mem *mem, unsigned int num,
			u64 desc, u64 avail, u64 used)
{
	if (!mem)
		return false;
	return vhost_blk_mem_uaddr_ok(mem, desc,
				      (u64)num * sizeof(struct vring_desc)) &&
	       vhost_blk_mem_uaddr_ok(mem, avail,
				      sizeof(struct vring_avail) +
				      (u64)(num + 1) * sizeof(__virtio16)) &&
	       vhost_blk_mem_uaddr_ok(mem, used,
				      sizeof(struct vring_used) +
				      (u64)num * sizeof(struct vring_used_elem) +
				      sizeof(__virtio16));
}

/**
 * vhost_blk_vq_error() - report a guest error on a queue
 * @vq: the queue
 * @why: a short description for the debug log
 *
 * The guest can trigger this at will, so it only logs at debug level and
 * signals the error eventfd the owner gave with VHOST_SET_VRING_ERR.
 */
void vhost_blk_vq_error(struct vhost_blk_vq *vq, const char *why)
{
	pr_debug_ratelimited("vq %u: %s\n", vq->index, why);
	if (vq->err_ctx)
		vhost_blk_eventfd_signal(vq->err_ctx);
}

/**
 * vhost_blk_vq_init_access() - pick up the ring state when a queue starts
 * @vq: the queue, with its mutex held
 *
 * Return: 0, or -EFAULT when the used ring cannot be read.
 */
int vhost_blk_vq_init_access(struct vhost_blk_vq *vq)
{
	__virtio16 idx;

	if (get_user(idx, &vq->used->idx))
		return -EFAULT;
	vq->last_used_idx = __virtio16_to_cpu(true, idx);
	vq->published_used = vq->last_used_idx;
	vq->avail_idx = vq->last_avail_idx;
	vq->signalled_used_valid = false;
	vq->broken = false;
	return 0;
}

/**
 * vhost_blk_vq_next_avail() - take the next chain head off the avail ring
 * @vq: the queue, with its mutex held
 * @head: the head index, valid on success
 *
 * Heads an inflight region listed as in flight (vhost_blk_inflight_start())
 * come first.
 *
 * Return: 0; -EAGAIN when the ring is empty; -EFAULT when the ring cannot
 * be read; -EINVAL when the guest moved its index more than a ring ahead;
 * -ERANGE when it posted a head outside the ring (the entry is consumed).
 */
int vhost_blk_vq_next_avail(struct vhost_blk_vq *vq, u16 *head)
{
	__virtio16 v;

	/* Chains in flight when the last owner died go first. */
	vq->took_resubmit = vq->resubmit_pos < vq->nr_resubmit;
	if (vq->took_resubmit) {
		*head = vq->resubmit[vq->resubmit_pos++];
		return 0;
	}

	if (vq->avail_idx == vq->last_avail_idx) {
		if (get_user(v, &vq->avail->idx))
			return -EFAULT;
		vq->avail_idx = __virtio16_to_cpu(true, v);
		if ((u16)(vq->avail_idx - vq->last_avail_idx) > vq->num) {
			vq->avail_idx = vq->last_avail_idx;
			return -EINVAL;
		}
		if (vq->avail_idx == vq->last_avail_idx)
			return -EAGAIN;
		/* Read the ring entries only after the index. */
		smp_rmb();
	}

	if (get_user(v, &vq->avail->ring[vq->last_avail_idx & (vq->num - 1)]))
		return -EFAULT;
	vq->last_avail_idx++;
	*head = __virtio16_to_cpu(true, v);
	if (*head >= vq->num)
		return -ERANGE;
	return 0;
}

/**
 * vhost_blk_vq_avail_empty() - whether the guest has posted nothing new
 * @vq: the queue, with its mutex held
 *
 * A cheap look at avail->idx for busy polling; nothing is consumed. A
 * ring that cannot be read counts as not empty, so that the caller goes
 * on to vhost_blk_vq_next_avail(), which reports the fault.
 *
 * Return: true if avail->idx has not moved since the last look.
 */
bool vhost_blk_vq_avail_empty(struct vhost_blk_vq *vq)
{
	__virtio16 v;

	if (vq->avail_idx != vq->last_avail_idx)
		return false;
	if (get_user(v, &vq->avail->idx))
		return false;
	return __virtio16_to_cpu(true, v) == vq->avail_idx;
}

/**
 * vhost_blk_vq_disable_notify() - ask the guest not to kick for a while
 * @vq: the queue, with its mutex held
 *
 * With EVENT_IDX the device simply does not move avail_event.
 */
void vhost_blk_vq_disable_notify(struct vhost_blk_vq *vq)
{
	if (vq->event_idx)
		return;
	if (put_user(__cpu_to_virtio16(true, VRING_USED_F_NO_NOTIFY), &vq->used->flags))
		vhost_blk_vq_error(vq, "cannot write used flags");
	else
		vhost_blk_log_used(vq, offsetof(struct vring_used, flags),
				   sizeof(vq->used->flags));
}

/**
 * vhost_blk_vq_enable_notify() - ask for kicks again, close the race
 * @vq: the queue, with its mutex held
 *
 * Return: true when the guest posted more chains meanwhile, so the caller
 * must disable notification and go on serving the ring.
 */
bool vhost_blk_vq_enable_notify(struct vhost_blk_vq *vq)
{
	__virtio16 v;
	int ret;

	if (vq->event_idx)
		ret = put_user(__cpu_to_virtio16(true, vq->last_avail_idx),
			       vhost_blk_avail_event(vq));
	else
		ret = put_user(__cpu_to_virtio16(true, 0), &vq->used->flags);
	if (ret) {
		vhost_blk_vq_error(vq, "cannot write notification state");
		return false;
	}
	if (vq->event_idx)
		vhost_blk_log_used(vq, (void __user *)vhost_blk_avail_event(vq) -
				   (void __user *)vq->used, sizeof(__virtio16));
	else
		vhost_blk_log_used(vq, offsetof(struct vring_used, flags),
				   sizeof(vq->used->flags));
	/* The guest must see the flag before we look at its index again. */
	smp_mb();
	if (get_user(v, &vq->avail->idx))
		return false;
	return __virtio16_to_cpu(true, v) != vq->last_avail_idx;
}

/* The descriptor table of @vq, for the walks of decode.c. */
static void vhost_blk_vq_desc_ring(struct vhost_blk_vq *vq,
				   struct vhost_blk_desc_ring *ring)
{
	ring->desc = vq->desc;
	ring->num = vq->num;
	ring->indirect = vhost_blk_has_feature(vq->dev,
					       VIRTIO_RING_F_INDIRECT_DESC);
	/* Replaced only with every queue quiesced under its mutex. */
	ring->mem = rcu_dereference_protected(vq->dev->mem,
					      lockdep_is_held(&vq->mutex));
}

/**
 * vhost_blk_vq_get_chain() - walk a descriptor chain of a queue
 * @vq: the queue, with its mutex held
 * @head: chain head, below vq->num
 * @chain: filled with the owner addresses of the chain's buffers
 *
 * Return: as vhost_blk_chain_walk().
 */
int vhost_blk_vq_get_chain(struct vhost_blk_vq *vq, u16 head,
			   struct vhost_blk_chain *chain)
{
	struct vhost_blk_desc_ring ring;

	vhost_blk_vq_desc_ring(vq, &ring);
	return vhost_blk_chain_walk(&ring, head, chain);
}

/**
 * vhost_blk_vq_chain_status() - find the status byte of a refused chain
 * @vq: the queue, with its mutex held
 * @head: chain head, below vq->num
 * @status: owner address of the chain's last byte
 *
 * Return: as vhost_blk_chain_status().
 */
int vhost_blk_vq_chain_status(struct vhost_blk_vq *vq, u16 head,
			      u8 __user **status)
{
	struct vhost_blk_desc_ring ring;

	vhost_blk_vq_desc_ring(vq, &ring);
	return vhost_blk_chain_status(&ring, head, status);
}

/**
 * vhost_blk_vq_add_used() - put a finished chain on the used ring
 * @vq: the queue, with its mutex held
 * @head: chain head
 * @len: bytes the device wrote into the chain's writable buffers
 *
 * The entry becomes visible to the guest at the next vhost_blk_vq_signal().
 *
 * Return: 0, or -EFAULT when the used ring cannot be written (reported
 * through the queue's error eventfd as well).
 */
int vhost_blk_vq_add_used(struct vhost_blk_vq *vq, u16 head, u32 len)
{
	struct vring_used_elem __user *e;

	if (vq->used_map) {
		vhost_blk_vq_add_used_mapped(vq, head, len);
		return 0;
	}
	e = &vq->used->ring[vq->last_used_idx & (vq->num - 1)];
	if (put_user(__cpu_to_virtio32(true, head), &e->id) ||
	    put_user(__cpu_to_virtio32(true, len), &e->len)) {
		vhost_blk_vq_error(vq, "cannot write used ring");
		return -EFAULT;
	}
	vhost_blk_log_used(vq, (void __user *)e - (void __user *)vq->used,
			   sizeof(*e));
	vhost_blk_inflight_used(vq, head);
	vq->last_used_idx++;
	return 0;
}

/**
 * vhost_blk_vq_event_due() - EVENT_IDX: is a call due for the used index?
 * @vq: the queue, under the lock its used ring is updated with
 * @event_ok: whether @event could be read
 * @event: the guest's used_event
 *
 * Records vq->last_used_idx as signalled. The first call after the queue
 * starts, and one whose used_event cannot be read, is always due.
 *
 * Return: true when the guest asked to be called.
 */
bool vhost_blk_vq_event_due(struct vhost_blk_vq *vq, bool event_ok,
			    u16 event)
{
	u16 old = vq->signalled_used, new = vq->last_used_idx;
	bool valid = vq->signalled_used_valid;

	vq->signalled_used = new;
	vq->signalled_used_valid = true;
	return !valid || !event_ok || vring_need_event(event, new, old);
}

static bool vhost_blk_vq_need_call(struct vhost_blk_vq *vq)
{
	__virtio16 v;
	bool ok;

	if (!vq->event_idx) {
		if (get_user(v, &vq->avail->flags))
			return true;
		return !(__virtio16_to_cpu(true, v) & VRING_AVAIL_F_NO_INTERRUPT);
	}
	ok = !get_user(v, vhost_blk_used_event(vq));
	return vhost_blk_vq_event_due(vq, ok, __virtio16_to_cpu(true, v));
}

/**
 * vhost_blk_vq_signal() - publish used entries and call the guest if asked
 * @vq: the queue, with its mutex held
 *
 * One call publishes every entry added since the last one: a batch of
 * completions costs one index update and at most one interrupt.
 */
void vhost_blk_vq_signal(struct vhost_blk_vq *vq)
{
	if (vq->used_map) {
		vhost_blk_vq_signal_mapped(vq);
		return;
	}
	if (vq->published_used == vq->last_used_idx)
		return;

	/* Entries before the index that makes them visible. */
	smp_wmb();
	if (put_user(__cpu_to_virtio16(true, vq->last_used_idx), &vq->used->idx)) {
		vhost_blk_vq_error(vq, "cannot write used index");
		return;
	}
	vq->published_used = vq->last_used_idx;
	vhost_blk_log_used(vq, offsetof(struct vring_used, idx),
			   sizeof(vq->used->idx));
	vhost_blk_inflight_published(vq);
	/* The index before we read the guest's suppression state. */
	smp_mb();
	if (vq->call_ctx && vhost_blk_vq_need_call(vq)) {
		vhost_blk_eventfd_signal(vq->call_ctx);
		vhost_blk_stat_inc(vq, &vq->stats.calls);
	}
}
