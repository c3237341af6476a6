// SPDX-License-Identifier: GPL-2.0
/*
 * vbd_req.c - virtio-blk requests of the userspace virtio-blk driver.
 *
 * A request is built here ([header][data...][status] in guest memory),
 * submitted as a descriptor chain on a virtqueue (vbd_vring.c) and
 * completed when vblk_vq_reap() finds it on the used ring. The data
 * pattern helpers that check what came back live here too.
 */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vbd_priv.h"

/* Buffers of a chain handled without a heap allocation. */
#define VBLK_STACK_BUFS	32

struct vblk_req *vblk_req_alloc(struct vblk_dev *d)
{
	struct vblk_req *r = calloc(1, sizeof(*r));
	uint64_t gpa;

	if (!r)
		return NULL;
	/* Header at +0, status at +32: one granule. */
	if (vblk_alloc(d, VBLK_GRANULE, VBLK_GRANULE, &gpa)) {
		free(r);
		return NULL;
	}
	r->hdr_gpa = gpa;
	r->status_gpa = gpa + 32;
	r->head = -1;
	return r;
}

void vblk_req_free(struct vblk_dev *d, struct vblk_req *r)
{
	if (!r)
		return;
	vblk_free(d, r->hdr_gpa, VBLK_GRANULE);
	free(r->segs);
	free(r);
}

void vblk_req_reset(struct vblk_req *r, uint32_t type, uint64_t sector)
{
	r->type = type;
	r->ioprio = 0;
	r->sector = sector;
	r->nsegs = 0;
	r->done = false;
	r->head = -1;
	r->used_len = 0;
	r->status = 0xff;
}

int vblk_req_add_seg(struct vblk_req *r, uint64_t gpa, uint32_t len)
{
	if (r->nsegs == r->segs_cap) {
		unsigned int cap = r->segs_cap ? r->segs_cap * 2 : 16;
		struct vblk_buf *s = realloc(r->segs, cap * sizeof(*s));

		if (!s)
			return -ENOMEM;
		r->segs = s;
		r->segs_cap = cap;
	}
	r->segs[r->nsegs++] = (struct vblk_buf){ .gpa = gpa, .len = len };
	return 0;
}

int vblk_req_add_data(const struct vblk_dev *d, struct vblk_req *r,
		      uint64_t gpa, size_t len)
{
	uint32_t max = vblk_dev_size_max(d);

	/* Whole sectors per segment where the limit allows. */
	if (max >= 1024)
		max &= ~511U;
	do {
		uint32_t n = len < max ? len : max;
		int ret = vblk_req_add_seg(r, gpa, n);

		if (ret)
			return ret;
		gpa += n;
		len -= n;
	} while (len);
	return 0;
}

size_t vblk_req_data_len(const struct vblk_req *r)
{
	size_t len = 0;

	for (unsigned int i = 0; i < r->nsegs; i++)
		len += r->segs[i].len;
	return len;
}

int vblk_req_write_data(struct vblk_dev *d, struct vblk_req *r,
			const void *buf)
{
	const uint8_t *p = buf;

	for (unsigned int i = 0; i < r->nsegs; i++) {
		int ret = vblk_mem_write(d, r->segs[i].gpa, p, r->segs[i].len);

		if (ret)
			return ret;
		p += r->segs[i].len;
	}
	return 0;
}

int vblk_req_read_data(struct vblk_dev *d, const struct vblk_req *r,
		       void *buf)
{
	uint8_t *p = buf;

	for (unsigned int i = 0; i < r->nsegs; i++) {
		int ret = vblk_mem_read(d, r->segs[i].gpa, p, r->segs[i].len);

		if (ret)
			return ret;
		p += r->segs[i].len;
	}
	return 0;
}

int vblk_req_submit(struct vblk_vq *vq, struct vblk_req *r,
		    unsigned int flags)
{
	struct vblk_dev *d = vq->dev;
	struct virtio_blk_outhdr hdr = {
		.type = htole32(r->type),
		.ioprio = htole32(r->ioprio),
		.sector = htole64(r->sector),
	};
	bool dev_writes = r->type == VIRTIO_BLK_T_IN ||
			  r->type == VIRTIO_BLK_T_GET_ID;
	struct vblk_buf stack_bufs[VBLK_STACK_BUFS], *bufs = stack_bufs;
	uint8_t status = 0xff;
	unsigned int n = 0;
	int ret;

	/* Most requests fit on the stack: no allocation per request. */
	if (r->nsegs + 2 > VBLK_STACK_BUFS) {
		bufs = calloc(r->nsegs + 2, sizeof(*bufs));
		if (!bufs)
			return -ENOMEM;
	}
	ret = vblk_mem_write(d, r->hdr_gpa, &hdr, sizeof(hdr));
	if (!ret)
		ret = vblk_mem_write(d, r->status_gpa, &status, 1);
	if (ret)
		goto out;

	bufs[n++] = (struct vblk_buf){ .gpa = r->hdr_gpa, .len = sizeof(hdr) };
	for (unsigned int i = 0; i < r->nsegs; i++) {
		bufs[n] = r->segs[i];
		bufs[n++].write = dev_writes;
	}
	bufs[n++] = (struct vblk_buf){ .gpa = r->status_gpa, .len = 1,
				       .write = true };
	r->status = 0xff;
	ret = vblk_vq_add(vq, bufs, n, flags, r);
out:
	if (bufs != stack_bufs)
		free(bufs);
	return ret;
}

int vblk_req_wait(struct vblk_vq *vq, struct vblk_req *r, int timeout_ms)
{
	uint64_t deadline = vblk_now_ns() + (uint64_t)timeout_ms * 1000000;

	for (;;) {
		int left, ret;

		vblk_vq_reap(vq, NULL, UINT_MAX);
		if (r->done)
			return 0;
		left = remaining_ms(deadline);
		if (!left)
			return -ETIMEDOUT;
		ret = vblk_vq_wait(vq, left);
		if (ret < 0)
			return ret;
	}
}

int vblk_do(struct vblk_vq *vq, struct vblk_req *r, unsigned int flags,
	    int timeout_ms)
{
	int ret = vblk_req_submit(vq, r, flags);

	if (ret < 0)
		return ret;
	ret = vblk_vq_kick(vq);
	if (ret)
		return ret;
	return vblk_req_wait(vq, r, timeout_ms);
}

/* ---- data patterns and time ---- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t pattern_word(uint64_t sector, uint64_t seed, uint64_t word)
{
	return mix64(seed * 0x9e3779b97f4a7c15ULL + sector * 64 + word + 1);
}

void vblk_pattern_fill(void *buf, size_t len, uint64_t sector, uint64_t seed)
{
	uint8_t *p = buf;

	for (size_t off = 0; off < len; off += 8) {
		uint64_t w = htole64(pattern_word(sector + off / 512, seed,
						  (off % 512) / 8));
		size_t n = len - off < 8 ? len - off : 8;

		memcpy(p + off, &w, n);
	}
}

ssize_t vblk_pattern_check(const void *buf, size_t len, uint64_t sector,
			   uint64_t seed)
{
	const uint8_t *p = buf;

	for (size_t off = 0; off < len; off += 8) {
		uint64_t w = htole64(pattern_word(sector + off / 512, seed,
						  (off % 512) / 8));
		size_t n = len - off < 8 ? len - off : 8;

		if (memcmp(p + off, &w, n)) {
			const uint8_t *e = (const uint8_t *)&w;

			for (size_t i = 0; i < n; i++)
				if (p[off + i] != e[i])
					return off + i;
		}
	}
	return -1;
}

uint64_t vblk_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}
