// SPDX-License-Identifier: GPL-2.0
/*
 * vbd_vring.c - split virtqueues of the userspace virtio-blk driver.
 *
 * Ring accesses follow drivers/virtio/virtio_ring.c: the driver writes a
 * descriptor chain, then the avail ring entry, then (after a write barrier)
 * avail->idx; it reads used->idx and then (after a read barrier) the used
 * entries. A full barrier separates publishing from the notification check.
 *
 * The driver's own bookkeeping (free list, slots) lives outside guest
 * memory, so whatever the device writes there cannot corrupt it. The
 * transport only hears of a queue when it starts or stops.
 */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vbd_priv.h"
#include "util.h"

/* Buffers of a chain handled without a heap allocation. */
#define VBLK_STACK_BUFS	32

static inline uint16_t *used_event_p(struct vblk_vq *vq)
{
	return (uint16_t *)&vq->avail->ring[vq->num];
}

static inline uint16_t *avail_event_p(struct vblk_vq *vq)
{
	return (uint16_t *)&vq->used->ring[vq->num];
}

/* ---- eventfds ---- */

int vbd_new_eventfd(int *fd)
{
	uint64_t v;

	if (*fd < 0) {
		*fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (*fd < 0)
			return -errno;
	}
	/* Drop a count left from an earlier life of the queue. */
	if (read(*fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

void vbd_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int write_eventfd(int fd)
{
	uint64_t one = 1;

	return write(fd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

int vblk_eventfd_wait(int efd, int timeout_ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t v;
	int ret;

	do {
		ret = poll(&p, 1, timeout_ms);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return -errno;
	if (!ret)
		return 0;
	if (read(efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	return 1;
}

/* ---- ring memory and queue life ---- */

static size_t desc_bytes(unsigned int num)
{
	return sizeof(struct vring_desc) * num;
}

static size_t avail_bytes(unsigned int num)
{
	return sizeof(struct vring_avail) + sizeof(__u16) * (num + 1);
}

static size_t used_bytes(unsigned int num)
{
	return sizeof(struct vring_used) +
	       sizeof(struct vring_used_elem) * num + sizeof(__u16);
}

static void free_rings(struct vblk_vq *vq)
{
	struct vblk_dev *d = vq->dev;

	if (!vq->ring_num)
		return;
	vblk_free(d, vq->desc_gpa, desc_bytes(vq->ring_num));
	vblk_free(d, vq->avail_gpa, avail_bytes(vq->ring_num));
	vblk_free(d, vq->used_gpa, used_bytes(vq->ring_num));
	vq->ring_num = 0;
}

static int alloc_rings(struct vblk_vq *vq, unsigned int num)
{
	struct vblk_dev *d = vq->dev;
	int ret;

	if (vq->ring_num == num)
		return 0;
	free_rings(vq);
	/* Rings stay in region 0 so each part is contiguous in the owner. */
	ret = vblk_alloc_in(d, 0, desc_bytes(num), PAGE_SZ, &vq->desc_gpa);
	if (ret)
		return ret;
	ret = vblk_alloc_in(d, 0, avail_bytes(num), PAGE_SZ, &vq->avail_gpa);
	if (ret) {
		vblk_free(d, vq->desc_gpa, desc_bytes(num));
		return ret;
	}
	ret = vblk_alloc_in(d, 0, used_bytes(num), PAGE_SZ, &vq->used_gpa);
	if (ret) {
		vblk_free(d, vq->desc_gpa, desc_bytes(num));
		vblk_free(d, vq->avail_gpa, avail_bytes(num));
		return ret;
	}
	vq->ring_num = num;
	vq->desc = vblk_gpa_to_hva(d, vq->desc_gpa, desc_bytes(num));
	vq->avail = vblk_gpa_to_hva(d, vq->avail_gpa, avail_bytes(num));
	vq->used = vblk_gpa_to_hva(d, vq->used_gpa, used_bytes(num));
	return 0;
}

static void release_chains(struct vblk_vq *vq)
{
	if (!vq->slots)
		return;
	for (unsigned int i = 0; i < vq->num; i++)
		if (vq->slots[i].busy && vq->slots[i].indirect_gpa)
			vblk_free(vq->dev, vq->slots[i].indirect_gpa,
				  vq->slots[i].indirect_len);
}

int vblk_vq_start(struct vblk_dev *d, unsigned int index, uint16_t base)
{
	struct vblk_vq *vq;
	unsigned int num = d->queue_size;
	int ret;

	if (index >= VHOST_BLK_MAX_QUEUES)
		return -EINVAL;
	vq = &d->vqs[index];

	release_chains(vq);
	ret = alloc_rings(vq, num);
	if (ret)
		return ret;
	free(vq->next);
	free(vq->slots);
	vq->next = calloc(num, sizeof(*vq->next));
	vq->slots = calloc(num, sizeof(*vq->slots));
	if (!vq->next || !vq->slots)
		return -ENOMEM;

	vq->num = num;
	memset(vq->desc, 0, desc_bytes(num));
	memset(vq->avail, 0, avail_bytes(num));
	memset(vq->used, 0, used_bytes(num));
	vq->avail->idx = htole16(base);
	vq->used->idx = htole16(base);
	vq->avail_idx = base;
	vq->kicked_idx = base;
	vq->last_used = base;
	for (unsigned int i = 0; i < num; i++)
		vq->next[i] = (i + 1) % num;
	vq->free_head = 0;
	vq->num_free = num;
	vq->inflight = 0;
	vq->kicks = 0;
	vq->kicks_suppressed = 0;
	vq->event_idx = vblk_dev_has_feature(d, VIRTIO_RING_F_EVENT_IDX);
	if (vq->event_idx) {
		*used_event_p(vq) = htole16(base);
		/* Until the device says otherwise, kick on the first entry. */
		*avail_event_p(vq) = htole16(base);
	}

	ret = vbd_new_eventfd(&vq->kick_fd);
	if (!ret)
		ret = vbd_new_eventfd(&vq->call_fd);
	if (!ret)
		ret = vbd_new_eventfd(&vq->err_fd);
	if (ret)
		return ret;

	/* The rings are ready before the device may look at them. */
	mb();
	ret = vq->dev->ops->vq_start(vq, base);
	vq->started = !ret;
	return ret;
}

int vblk_vq_restart(struct vblk_vq *vq, unsigned int base)
{
	int ret = vq->dev->ops->vq_start(vq, base);

	vq->started = !ret;
	return ret;
}

int vblk_vq_stop(struct vblk_vq *vq, unsigned int *base)
{
	int ret = vq->dev->ops->vq_stop(vq, base);

	if (!ret)
		vq->started = false;
	return ret;
}

int vblk_vq_set_enable(struct vblk_vq *vq, bool enable)
{
	if (!vq->dev->ops->vq_set_enable)
		return -EOPNOTSUPP;
	return vq->dev->ops->vq_set_enable(vq, enable);
}

/* Close the queue's eventfds and free its bookkeeping: vblk_dev_destroy(). */
void vbd_vq_release(struct vblk_vq *vq)
{
	vbd_close_fd(&vq->kick_fd);
	vbd_close_fd(&vq->call_fd);
	vbd_close_fd(&vq->err_fd);
	free(vq->next);
	free(vq->slots);
	vq->next = NULL;
	vq->slots = NULL;
}

/* ---- descriptor chains ---- */

static int pop_desc(struct vblk_vq *vq, unsigned int n, uint16_t *ids)
{
	uint16_t id;

	if (n > vq->num_free)
		return -ENOSPC;
	id = vq->free_head;
	for (unsigned int i = 0; i < n; i++) {
		ids[i] = id;
		id = vq->next[id];
	}
	vq->free_head = id;
	vq->num_free -= n;
	return 0;
}

static void push_desc(struct vblk_vq *vq, uint16_t head, unsigned int n)
{
	uint16_t last = head;

	for (unsigned int i = 1; i < n; i++)
		last = vq->next[last];
	vq->next[last] = vq->free_head;
	vq->free_head = head;
	vq->num_free += n;
}

void vblk_vq_set_desc(struct vblk_vq *vq, uint16_t id, uint64_t addr,
		      uint32_t len, uint16_t flags, uint16_t next)
{
	write_desc(&vq->desc[id % vq->num], addr, len, flags, next);
}

void vblk_vq_push_avail(struct vblk_vq *vq, uint16_t head)
{
	vq->avail->ring[vq->avail_idx & (vq->num - 1)] = htole16(head);
	/* The entry must be visible before the index that covers it. */
	wmb();
	vq->avail_idx++;
	WRITE_ONCE16(&vq->avail->idx, htole16(vq->avail_idx));
}

void vblk_vq_set_avail_idx(struct vblk_vq *vq, uint16_t idx)
{
	/* Ring entries written before are visible before the index. */
	wmb();
	vq->avail_idx = idx;
	WRITE_ONCE16(&vq->avail->idx, htole16(idx));
}

uint16_t vblk_vq_used_idx(const struct vblk_vq *vq)
{
	return le16toh(READ_ONCE16(&vq->used->idx));
}

uint16_t vblk_vq_avail_event(const struct vblk_vq *vq)
{
	return le16toh(READ_ONCE16((const uint16_t *)&vq->used->ring[vq->num]));
}

static void start_slot(struct vblk_vq *vq, uint16_t head, unsigned int ndesc,
		       struct vblk_req *req, uint64_t ind_gpa, uint32_t ind_len)
{
	vq->slots[head] = (struct vblk_slot){
		.req = req,
		.ndesc = ndesc,
		.busy = true,
		.indirect_gpa = ind_gpa,
		.indirect_len = ind_len,
	};
	if (req) {
		req->done = false;
		req->head = head;
		req->used_len = 0;
	}
	vq->inflight++;
}

int vblk_vq_add(struct vblk_vq *vq, const struct vblk_buf *bufs,
		unsigned int n, unsigned int flags, struct vblk_req *req)
{
	uint16_t stack_ids[VBLK_STACK_BUFS], *ids = stack_ids;
	int ret;

	if (!n || !vq->slots)
		return -EINVAL;
	if (n > VBLK_STACK_BUFS) {
		ids = malloc(n * sizeof(*ids));
		if (!ids)
			return -ENOMEM;
	}

	if (flags & VBLK_ADD_INDIRECT) {
		uint32_t tlen = n * sizeof(struct vring_desc);
		struct vring_desc *table;
		uint64_t tgpa;

		ret = pop_desc(vq, 1, ids);
		if (ret)
			goto out;
		ret = vblk_alloc(vq->dev, tlen, sizeof(struct vring_desc), &tgpa);
		if (ret) {
			push_desc(vq, ids[0], 1);
			goto out;
		}
		table = vblk_gpa_to_hva(vq->dev, tgpa, tlen);
		for (unsigned int i = 0; i < n; i++)
			write_desc(&table[i], bufs[i].gpa, bufs[i].len,
				   (bufs[i].write ? VRING_DESC_F_WRITE : 0) |
				   (i + 1 < n ? VRING_DESC_F_NEXT : 0),
				   i + 1 < n ? i + 1 : 0);
		write_desc(&vq->desc[ids[0]], tgpa, tlen,
			   VRING_DESC_F_INDIRECT, 0);
		start_slot(vq, ids[0], 1, req, tgpa, tlen);
	} else {
		ret = pop_desc(vq, n, ids);
		if (ret)
			goto out;
		for (unsigned int i = 0; i < n; i++)
			write_desc(&vq->desc[ids[i]], bufs[i].gpa, bufs[i].len,
				   (bufs[i].write ? VRING_DESC_F_WRITE : 0) |
				   (i + 1 < n ? VRING_DESC_F_NEXT : 0),
				   i + 1 < n ? ids[i + 1] : 0);
		start_slot(vq, ids[0], n, req, 0, 0);
	}
	vblk_vq_push_avail(vq, ids[0]);
	ret = ids[0];
out:
	if (ids != stack_ids)
		free(ids);
	return ret;
}

int vblk_vq_alloc_desc(struct vblk_vq *vq, unsigned int n, uint16_t *ids)
{
	if (!vq->slots)
		return -EINVAL;
	return pop_desc(vq, n, ids);
}

int vblk_vq_post_raw(struct vblk_vq *vq, const uint16_t *ids,
		     unsigned int ndesc, struct vblk_req *req)
{
	if (!ndesc || ids[0] >= vq->num || vq->slots[ids[0]].busy)
		return -EINVAL;
	/* Link the driver's private chain so the ids are freed on reap. */
	for (unsigned int i = 0; i + 1 < ndesc; i++)
		vq->next[ids[i]] = ids[i + 1];
	start_slot(vq, ids[0], ndesc, req, 0, 0);
	vblk_vq_push_avail(vq, ids[0]);
	return ids[0];
}

int vblk_vq_kick_force(struct vblk_vq *vq)
{
	vq->kicked_idx = vq->avail_idx;
	/* avail->idx is visible before the device is woken. */
	mb();
	vq->kicks++;
	return write_eventfd(vq->kick_fd);
}

int vblk_vq_kick(struct vblk_vq *vq)
{
	uint16_t old = vq->kicked_idx, new = vq->avail_idx;
	bool need;

	vq->kicked_idx = new;
	/* Publishing avail->idx must be ordered before reading the flags. */
	mb();
	if (vq->event_idx)
		need = vring_need_event(le16toh(READ_ONCE16(avail_event_p(vq))),
					new, old);
	else
		need = !(le16toh(READ_ONCE16(&vq->used->flags)) &
			 VRING_USED_F_NO_NOTIFY);
	if (!need) {
		vq->kicks_suppressed++;
		return 0;
	}
	vq->kicks++;
	return write_eventfd(vq->kick_fd);
}

unsigned int vblk_vq_pending(const struct vblk_vq *vq)
{
	return (uint16_t)(vblk_vq_used_idx(vq) - vq->last_used);
}

static void complete_one(struct vblk_vq *vq, struct vblk_used *u)
{
	struct vblk_slot *s;
	struct vblk_req *r;

	u->valid = false;
	u->req = NULL;
	if (u->id >= vq->num || !vq->slots[u->id].busy)
		return;
	s = &vq->slots[u->id];
	r = s->req;
	if (s->indirect_gpa)
		vblk_free(vq->dev, s->indirect_gpa, s->indirect_len);
	push_desc(vq, u->id, s->ndesc);
	*s = (struct vblk_slot){ 0 };
	vq->inflight--;
	u->valid = true;
	u->req = r;
	if (r) {
		r->used_len = u->len;
		if (r->status_gpa)
			vblk_mem_read(vq->dev, r->status_gpa, &r->status, 1);
		r->done = true;
	}
}

int vblk_vq_reap(struct vblk_vq *vq, struct vblk_used *out, unsigned int max)
{
	unsigned int count = 0;

	if (!vq->slots)
		return 0;
	do {
		uint16_t used_idx = vblk_vq_used_idx(vq);

		/* Entries are read only after the index that covers them. */
		rmb();
		while (count < max && vq->last_used != used_idx) {
			struct vring_used_elem *e;
			struct vblk_used u;

			e = &vq->used->ring[vq->last_used & (vq->num - 1)];
			u.id = le32toh(e->id);
			u.len = le32toh(e->len);
			vq->last_used++;
			complete_one(vq, &u);
			if (out)
				out[count] = u;
			count++;
		}
		if (vq->event_idx) {
			/* Ask for a call on the next used entry. */
			WRITE_ONCE16(used_event_p(vq), htole16(vq->last_used));
			/* Publish used_event, then look at used->idx again. */
			mb();
		}
	} while (count < max && vq->last_used != vblk_vq_used_idx(vq));
	return count;
}

int vblk_vq_wait(struct vblk_vq *vq, int timeout_ms)
{
	return vblk_eventfd_wait(vq->call_fd, timeout_ms);
}

int vblk_vq_drain(struct vblk_vq *vq, int timeout_ms)
{
	uint64_t deadline = vblk_now_ns() + (uint64_t)timeout_ms * 1000000;

	for (;;) {
		int left, ret;

		vblk_vq_reap(vq, NULL, UINT_MAX);
		if (!vq->inflight)
			return 0;
		left = remaining_ms(deadline);
		if (!left)
			return -ETIMEDOUT;
		ret = vblk_vq_wait(vq, left);
		if (ret < 0)
			return ret;
	}
}
