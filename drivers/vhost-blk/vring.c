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
#include <linux/uaccess.h>
#include <linux/overflow.h>
#include <linux/ratelimit.h>

#include "vhost_blk.h"

static inline u16 vhost16(__virtio16 v)
{
	return le16_to_cpu((__force __le16)v);
}

static inline __virtio16 cpu_to_vhost16(u16 v)
{
	return (__force __virtio16)cpu_to_le16(v);
}

static inline u32 vhost32(__virtio32 v)
{
	return le32_to_cpu((__force __le32)v);
}

static inline __virtio32 cpu_to_vhost32(u32 v)
{
	return (__force __virtio32)cpu_to_le32(v);
}

static inline u64 vhost64(__virtio64 v)
{
	return le64_to_cpu((__force __le64)v);
}

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
	pr_debug_ratelimited("vhost-blk: vq %u: %s\n", vq->index, why);
	if (vq->err_ctx)
		vhost_blk_eventfd_signal(vq->err_ctx);
}

/**
 * vhost_blk_vq_init_access() - pick up the ring state when a queue starts
 * @vq: the queue, with its mutex held
 */
int vhost_blk_vq_init_access(struct vhost_blk_vq *vq)
{
	__virtio16 idx;

	if (get_user(idx, &vq->used->idx))
		return -EFAULT;
	vq->last_used_idx = vhost16(idx);
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
 * Return: 0; -EAGAIN when the ring is empty; -EFAULT when the ring cannot
 * be read; -EINVAL when the guest moved its index more than a ring ahead;
 * -ERANGE when it posted a head outside the ring (the entry is consumed).
 */
int vhost_blk_vq_next_avail(struct vhost_blk_vq *vq, u16 *head)
{
	__virtio16 v;

	if (vq->avail_idx == vq->last_avail_idx) {
		if (get_user(v, &vq->avail->idx))
			return -EFAULT;
		vq->avail_idx = vhost16(v);
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
	*head = vhost16(v);
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
 */
bool vhost_blk_vq_avail_empty(struct vhost_blk_vq *vq)
{
	__virtio16 v;

	if (vq->avail_idx != vq->last_avail_idx)
		return false;
	if (get_user(v, &vq->avail->idx))
		return false;
	return vhost16(v) == vq->avail_idx;
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
	if (put_user(cpu_to_vhost16(VRING_USED_F_NO_NOTIFY), &vq->used->flags))
		vhost_blk_vq_error(vq, "cannot write used flags");
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
		ret = put_user(cpu_to_vhost16(vq->last_avail_idx),
			       vhost_blk_avail_event(vq));
	else
		ret = put_user(cpu_to_vhost16(0), &vq->used->flags);
	if (ret) {
		vhost_blk_vq_error(vq, "cannot write notification state");
		return false;
	}
	/* The guest must see the flag before we look at its index again. */
	smp_mb();
	if (get_user(v, &vq->avail->idx))
		return false;
	return vhost16(v) != vq->last_avail_idx;
}

static int vhost_blk_chain_map(struct vhost_blk_vq *vq,
			       struct vhost_blk_chain *chain,
			       u64 gpa, u32 len, bool write)
{
	u64 last;

	if (!len)
		return 0;
	if (check_add_overflow(gpa, (u64)len - 1, &last))
		return -EFAULT;
	if (!write && chain->nr_in)
		return -EINVAL;		/* readable after writable */

	while (len) {
		const struct vhost_blk_mem_region *r;
		unsigned int n = chain->nr_out + chain->nr_in;
		struct vhost_blk_mem *mem;
		u64 off, chunk;

		if (n >= VHOST_BLK_IOV_MAX)
			return -E2BIG;

		rcu_read_lock();
		mem = rcu_dereference(vq->dev->mem);
		r = mem ? vhost_blk_mem_find(mem, gpa) : NULL;
		if (!r) {
			rcu_read_unlock();
			return -EFAULT;
		}
		off = gpa - r->gpa;
		chunk = min_t(u64, len, r->size - off);
		chain->iov[n].iov_base = u64_to_user_ptr(r->uaddr + off);
		rcu_read_unlock();

		chain->iov[n].iov_len = chunk;
		if (write) {
			chain->nr_in++;
			chain->in_len += chunk;
		} else {
			chain->nr_out++;
			chain->out_len += chunk;
		}
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

static int vhost_blk_chain_indirect(struct vhost_blk_vq *vq,
				    struct vhost_blk_chain *chain,
				    const struct vring_desc *ind)
{
	u64 gpa = vhost64(ind->addr), table;
	u32 len = vhost32(ind->len);
	const struct vhost_blk_mem_region *r;
	struct vring_desc __user *udesc;
	struct vhost_blk_mem *mem;
	unsigned int count, i, n;

	if (!len || len % sizeof(struct vring_desc))
		return -EINVAL;
	n = len / sizeof(struct vring_desc);
	if (n > VHOST_BLK_VRING_MAX)
		return -E2BIG;

	rcu_read_lock();
	mem = rcu_dereference(vq->dev->mem);
	r = mem ? vhost_blk_mem_find(mem, gpa) : NULL;
	if (!r || len > r->size - (gpa - r->gpa)) {
		rcu_read_unlock();
		return -EFAULT;
	}
	table = r->uaddr + (gpa - r->gpa);
	rcu_read_unlock();
	udesc = u64_to_user_ptr(table);

	for (i = 0, count = 0;; count++) {
		struct vring_desc d;
		u16 flags;
		int ret;

		if (count >= n)
			return -ELOOP;
		if (copy_from_user(&d, udesc + i, sizeof(d)))
			return -EFAULT;
		flags = vhost16(d.flags);
		if (flags & VRING_DESC_F_INDIRECT)
			return -EINVAL;		/* nested table */
		ret = vhost_blk_chain_map(vq, chain, vhost64(d.addr),
					  vhost32(d.len),
					  flags & VRING_DESC_F_WRITE);
		if (ret)
			return ret;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		i = vhost16(d.next);
		if (i >= n)
			return -EINVAL;
	}
}

/**
 * vhost_blk_vq_get_chain() - walk a descriptor chain into buffers
 * @vq: the queue, with its mutex held
 * @head: chain head, below vq->num
 * @chain: filled with the owner addresses of the chain's buffers
 *
 * Return: 0, or a negative errno for a chain the device must refuse:
 * -ELOOP (longer than the ring: a loop), -EINVAL (index out of range,
 * bad flags or order), -EFAULT (address outside the memory table),
 * -E2BIG (too many buffers).
 */
int vhost_blk_vq_get_chain(struct vhost_blk_vq *vq, u16 head,
			   struct vhost_blk_chain *chain)
{
	unsigned int i = head, count;

	chain->nr_out = 0;
	chain->nr_in = 0;
	chain->out_len = 0;
	chain->in_len = 0;

	for (count = 0;; count++) {
		struct vring_desc d;
		u16 flags;
		int ret;

		if (count >= vq->num)
			return -ELOOP;
		if (copy_from_user(&d, vq->desc + i, sizeof(d)))
			return -EFAULT;
		flags = vhost16(d.flags);

		if (flags & VRING_DESC_F_INDIRECT) {
			if (!vhost_blk_has_feature(vq->dev,
						   VIRTIO_RING_F_INDIRECT_DESC) ||
			    (flags & VRING_DESC_F_NEXT))
				return -EINVAL;
			return vhost_blk_chain_indirect(vq, chain, &d);
		}

		ret = vhost_blk_chain_map(vq, chain, vhost64(d.addr),
					  vhost32(d.len),
					  flags & VRING_DESC_F_WRITE);
		if (ret)
			return ret;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		i = vhost16(d.next);
		if (i >= vq->num)
			return -EINVAL;
	}
}

/**
 * vhost_blk_vq_chain_status() - find the status byte of a refused chain
 * @vq: the queue, with its mutex held
 * @head: chain head, below vq->num
 * @status: owner address of the chain's last byte
 *
 * Follows the chain with the same bounds as vhost_blk_vq_get_chain() but
 * maps only its last descriptor, which must be device-writable.
 *
 * Return: 0, or a negative errno when there is no usable status byte.
 */
int vhost_blk_vq_chain_status(struct vhost_blk_vq *vq, u16 head,
			      u8 __user **status)
{
	struct vring_desc __user *table = vq->desc;
	unsigned int i = head, n = vq->num, count = 0;
	const struct vhost_blk_mem_region *r;
	struct vhost_blk_mem *mem;
	bool indirect = false;
	struct vring_desc d;
	u16 flags;
	u64 gpa;
	u32 len;

	for (;;) {
		if (count++ >= n)
			return -ELOOP;
		if (copy_from_user(&d, table + i, sizeof(d)))
			return -EFAULT;
		flags = vhost16(d.flags);
		len = vhost32(d.len);
		if (flags & VRING_DESC_F_INDIRECT) {
			if (indirect || (flags & VRING_DESC_F_NEXT) ||
			    !vhost_blk_has_feature(vq->dev,
						   VIRTIO_RING_F_INDIRECT_DESC) ||
			    !len || len % sizeof(d))
				return -EINVAL;
			/* The walk is bounded as in vhost_blk_chain_indirect(). */
			if (len / sizeof(d) > VHOST_BLK_VRING_MAX)
				return -E2BIG;
			gpa = vhost64(d.addr);
			rcu_read_lock();
			mem = rcu_dereference(vq->dev->mem);
			r = mem ? vhost_blk_mem_find(mem, gpa) : NULL;
			if (!r || len > r->size - (gpa - r->gpa)) {
				rcu_read_unlock();
				return -EFAULT;
			}
			table = u64_to_user_ptr(r->uaddr + (gpa - r->gpa));
			rcu_read_unlock();
			n = len / sizeof(d);
			i = 0;
			count = 0;
			indirect = true;
			continue;
		}
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		i = vhost16(d.next);
		if (i >= n)
			return -EINVAL;
	}

	if (!(flags & VRING_DESC_F_WRITE) || !len ||
	    check_add_overflow(vhost64(d.addr), (u64)len - 1, &gpa))
		return -EINVAL;
	rcu_read_lock();
	mem = rcu_dereference(vq->dev->mem);
	r = mem ? vhost_blk_mem_find(mem, gpa) : NULL;
	if (r)
		*status = u64_to_user_ptr(r->uaddr + (gpa - r->gpa));
	rcu_read_unlock();
	return r ? 0 : -EFAULT;
}

/**
 * vhost_blk_vq_add_used() - put a finished chain on the used ring
 * @vq: the queue, with its mutex held
 * @head: chain head
 * @len: bytes the device wrote into the chain's writable buffers
 *
 * The entry becomes visible to the guest at the next vhost_blk_vq_signal().
 */
int vhost_blk_vq_add_used(struct vhost_blk_vq *vq, u16 head, u32 len)
{
	struct vring_used_elem __user *e;

	e = &vq->used->ring[vq->last_used_idx & (vq->num - 1)];
	if (put_user(cpu_to_vhost32(head), &e->id) ||
	    put_user(cpu_to_vhost32(len), &e->len)) {
		vhost_blk_vq_error(vq, "cannot write used ring");
		return -EFAULT;
	}
	vq->last_used_idx++;
	return 0;
}

static bool vhost_blk_vq_need_call(struct vhost_blk_vq *vq)
{
	u16 old, new = vq->last_used_idx;
	bool valid = vq->signalled_used_valid;
	__virtio16 v;

	if (!vq->event_idx) {
		if (get_user(v, &vq->avail->flags))
			return true;
		return !(vhost16(v) & VRING_AVAIL_F_NO_INTERRUPT);
	}

	old = vq->signalled_used;
	vq->signalled_used = new;
	vq->signalled_used_valid = true;
	if (!valid)
		return true;
	if (get_user(v, vhost_blk_used_event(vq)))
		return true;
	return vring_need_event(vhost16(v), new, old);
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
	if (vq->published_used == vq->last_used_idx)
		return;

	/* Entries before the index that makes them visible. */
	smp_wmb();
	if (put_user(cpu_to_vhost16(vq->last_used_idx), &vq->used->idx)) {
		vhost_blk_vq_error(vq, "cannot write used index");
		return;
	}
	vq->published_used = vq->last_used_idx;
	/* The index before we read the guest's suppression state. */
	smp_mb();
	if (vq->call_ctx && vhost_blk_vq_need_call(vq))
		vhost_blk_eventfd_signal(vq->call_ctx);
}
