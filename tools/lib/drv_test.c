// SPDX-License-Identifier: GPL-2.0
/*
 * drv_test - host-side check of the userspace virtio-blk driver.
 *
 * Runs the driver against a small in-process device model (a thread that
 * serves the split ring from a RAM disk), so ring layout, chain building,
 * indirect tables, EVENT_IDX handling, index wrap-around and the memory
 * layouts are exercised without /dev/vhost-blk. The model only follows
 * the virtio spec; it shares no code with the kernel module.
 *
 * Usage: drv_test      (exit 0 on success)
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "virtio_blk_drv.h"

#define DISK_SECTORS	4096
#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, \
			#cond);						\
		exit(1);						\
	}								\
} while (0)

struct model {
	struct vblk_vq *vq;
	uint8_t *disk;
	uint16_t last_avail;
	uint16_t used_idx;
	int stop;			/* read with __atomic_load_n() */
	unsigned long calls;
};

/* Copy between a linear buffer and the chain's iov-like buffers. */
struct seg {
	uint8_t *p;
	uint32_t len;
	bool write;
};

static int translate(struct vblk_dev *d, uint64_t gpa, uint32_t len,
		     bool write, struct seg *out, int n)
{
	/* Split at region boundaries, like a device must. */
	while (len) {
		uint32_t chunk = len;
		uint8_t *p;

		while (chunk && !(p = vblk_gpa_to_hva(d, gpa, chunk)))
			chunk--;
		if (!chunk)
			return -1;
		out[n++] = (struct seg){ p, chunk, write };
		gpa += chunk;
		len -= chunk;
	}
	return n;
}

static int walk(struct model *m, uint16_t head, struct seg *segs)
{
	struct vblk_vq *vq = m->vq;
	struct vring_desc *table = vq->desc;
	unsigned int max = vq->num, i = head, guard = 0;
	int n = 0;

	if (le16toh(table[i].flags) & VRING_DESC_F_INDIRECT) {
		uint32_t len = le32toh(table[i].len);

		table = vblk_gpa_to_hva(vq->dev, le64toh(table[i].addr), len);
		if (!table)
			return -1;
		max = len / sizeof(*table);
		i = 0;
	}
	for (;;) {
		struct vring_desc *dsc = &table[i];
		uint16_t f = le16toh(dsc->flags);

		if (++guard > max)
			return -1;
		n = translate(vq->dev, le64toh(dsc->addr), le32toh(dsc->len),
			      f & VRING_DESC_F_WRITE, segs, n);
		if (n < 0)
			return -1;
		if (!(f & VRING_DESC_F_NEXT))
			return n;
		i = le16toh(dsc->next);
		if (i >= max)
			return -1;
	}
}

static uint32_t serve(struct model *m, struct seg *s, int n)
{
	struct virtio_blk_outhdr hdr;
	uint8_t *status = &s[n - 1].p[s[n - 1].len - 1];
	uint64_t off;
	uint32_t written = 1;

	CHECK(s[0].len >= sizeof(hdr));
	memcpy(&hdr, s[0].p, sizeof(hdr));
	off = le64toh(hdr.sector) * 512;
	*status = VIRTIO_BLK_S_OK;
	for (int i = 1; i < n; i++) {
		uint32_t len = s[i].len - (i == n - 1 ? 1 : 0);

		if (off + len > DISK_SECTORS * 512ULL) {
			*status = VIRTIO_BLK_S_IOERR;
			return 1;
		}
		switch (le32toh(hdr.type)) {
		case VIRTIO_BLK_T_IN:
			memcpy(s[i].p, m->disk + off, len);
			written += len;
			break;
		case VIRTIO_BLK_T_OUT:
			memcpy(m->disk + off, s[i].p, len);
			break;
		case VIRTIO_BLK_T_GET_ID:
			memset(s[i].p, 0, len);
			memcpy(s[i].p, "model", 5);
			written += len;
			break;
		default:
			break;
		}
		off += len;
	}
	return written;
}

static void *model_thread(void *arg)
{
	struct model *m = arg;
	struct vblk_vq *vq = m->vq;
	struct pollfd p = { .fd = vq->kick_fd, .events = POLLIN };
	uint16_t *avail_event = (uint16_t *)&vq->used->ring[vq->num];
	uint16_t *used_event = (uint16_t *)&vq->avail->ring[vq->num];
	struct seg segs[512];

	while (!__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE)) {
		uint16_t old_used = m->used_idx;
		uint64_t v;

		if (poll(&p, 1, 20) > 0)
			CHECK(read(vq->kick_fd, &v, sizeof(v)) == sizeof(v));
		for (;;) {
			uint16_t idx = le16toh(__atomic_load_n(&vq->avail->idx,
							       __ATOMIC_ACQUIRE));
			uint16_t head;
			uint32_t len;
			int n;

			if (idx == m->last_avail)
				break;
			head = le16toh(vq->avail->ring[m->last_avail &
						       (vq->num - 1)]);
			m->last_avail++;
			n = walk(m, head, segs);
			len = n > 0 ? serve(m, segs, n) : 0;
			vq->used->ring[m->used_idx & (vq->num - 1)].id =
				htole32(head);
			vq->used->ring[m->used_idx & (vq->num - 1)].len =
				htole32(len);
			m->used_idx++;
			__atomic_store_n(&vq->used->idx, htole16(m->used_idx),
					 __ATOMIC_RELEASE);
			*avail_event = htole16(m->last_avail);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
		}
		if (old_used != m->used_idx &&
		    (!vq->event_idx ||
		     vring_need_event(le16toh(*used_event), m->used_idx,
				      old_used))) {
			v = 1;
			CHECK(write(vq->call_fd, &v, sizeof(v)) == sizeof(v));
			m->calls++;
		}
	}
	return NULL;
}

static void run(enum vblk_mem_layout layout, bool event_idx, bool indirect,
		uint16_t base)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	struct model m = { 0 };
	struct vblk_req *r[8];
	uint64_t gpa[8];
	unsigned long kicks, suppressed;
	struct vblk_dev *d;
	pthread_t t;
	uint8_t *buf = malloc(64 * 1024);

	o.path = "/dev/null";
	o.layout = layout;
	o.mem_size = 8 << 20;
	o.queue_size = 64;
	CHECK(!vblk_dev_open(&d, &o));
	if (event_idx)
		d->features |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	/* The ioctls fail on /dev/null; the rings are laid out before. */
	CHECK(vblk_vq_start(d, 0, base) == -ENOTTY);
	m.vq = &d->vqs[0];
	m.disk = calloc(DISK_SECTORS, 512);
	m.last_avail = base;
	m.used_idx = base;
	CHECK(pthread_create(&t, NULL, model_thread, &m) == 0);

	if (layout == VBLK_MEM_ADJACENT) {
		/* Keep a buffer across the boundary for later. */
		CHECK(!vblk_mem_reserve(d, d->regions[1].gpa - 2048, 4096));
		CHECK(vblk_mem_reserve(d, d->regions[1].gpa, 64) == -EBUSY);
	}
	for (int i = 0; i < 8; i++) {
		r[i] = vblk_req_alloc(d);
		CHECK(r[i]);
		/* Spread buffers over the regions. */
		CHECK(!vblk_alloc_in(d, i % d->nregions, 8192, 4096, &gpa[i]));
	}
	/* 200 rounds of 8 requests: the 16-bit indexes wrap from @base. */
	for (int round = 0; round < 200; round++) {
		uint32_t type = round % 2 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;

		for (int i = 0; i < 8; i++) {
			uint64_t sector = (round / 2 * 8 + i) * 9 % (DISK_SECTORS - 9);

			vblk_req_reset(r[i], type, sector);
			/* 4 KiB in three segments, one crossing a page. */
			vblk_req_add_seg(r[i], gpa[i], 1024);
			vblk_req_add_seg(r[i], gpa[i] + 4096 - 512, 2048);
			vblk_req_add_seg(r[i], gpa[i] + 7000, 1024);
			if (type == VIRTIO_BLK_T_OUT) {
				vblk_pattern_fill(buf, 4096, sector, round);
				CHECK(!vblk_req_write_data(d, r[i], buf));
			}
			CHECK(vblk_req_submit(m.vq, r[i],
					      indirect ? VBLK_ADD_INDIRECT : 0) >= 0);
		}
		CHECK(!vblk_vq_kick(m.vq));
		for (int i = 0; i < 8; i++) {
			uint64_t sector = (round / 2 * 8 + i) * 9 % (DISK_SECTORS - 9);

			CHECK(!vblk_req_wait(m.vq, r[i], 5000));
			CHECK(r[i]->status == VIRTIO_BLK_S_OK);
			if (type == VIRTIO_BLK_T_IN) {
				CHECK(r[i]->used_len == 4097);
				CHECK(!vblk_req_read_data(d, r[i], buf));
				CHECK(vblk_pattern_check(buf, 4096, sector,
							 round - 1) == -1);
			} else {
				CHECK(r[i]->used_len == 1);
			}
		}
		CHECK(m.vq->inflight == 0 && m.vq->num_free == 64);
	}

	/* A buffer across the GPA-adjacent boundary, written in one go. */
	if (layout == VBLK_MEM_ADJACENT) {
		uint64_t g = d->regions[1].gpa - 2048;

		vblk_req_reset(r[0], VIRTIO_BLK_T_OUT, 100);
		vblk_req_add_seg(r[0], g, 4096);
		vblk_pattern_fill(buf, 4096, 100, 77);
		CHECK(!vblk_req_write_data(d, r[0], buf));
		CHECK(!vblk_do(m.vq, r[0], 0, 5000));
		CHECK(r[0]->status == VIRTIO_BLK_S_OK);
		CHECK(vblk_pattern_check(m.disk + 100 * 512, 4096, 100, 77) == -1);
		vblk_free(d, g, 4096);
	}

	/* GET_ID and an out-of-range read. */
	vblk_req_reset(r[1], VIRTIO_BLK_T_GET_ID, 0);
	vblk_req_add_seg(r[1], gpa[1], VIRTIO_BLK_ID_BYTES);
	CHECK(!vblk_do(m.vq, r[1], 0, 5000));
	CHECK(r[1]->used_len == VIRTIO_BLK_ID_BYTES + 1);
	CHECK(!memcmp(vblk_gpa_to_hva(d, gpa[1], 5), "model", 5));
	vblk_req_reset(r[2], VIRTIO_BLK_T_IN, DISK_SECTORS);
	vblk_req_add_seg(r[2], gpa[2], 512);
	CHECK(!vblk_do(m.vq, r[2], 0, 5000));
	CHECK(r[2]->status == VIRTIO_BLK_S_IOERR);

	/* A raw chain pointing outside guest memory comes back with len 0. */
	{
		uint16_t ids[2];
		struct vblk_req raw = { 0 };

		CHECK(!vblk_vq_alloc_desc(m.vq, 2, ids));
		vblk_vq_set_desc(m.vq, ids[0], 0x1000, 16, VRING_DESC_F_NEXT,
				 ids[1]);
		vblk_vq_set_desc(m.vq, ids[1], gpa[0], 1, VRING_DESC_F_WRITE, 0);
		CHECK(vblk_vq_post_raw(m.vq, ids, 2, &raw) == ids[0]);
		CHECK(!vblk_vq_kick_force(m.vq));
		CHECK(!vblk_req_wait(m.vq, &raw, 5000));
		CHECK(raw.used_len == 0);
		CHECK(m.vq->num_free == 64);
	}

	kicks = m.vq->kicks;
	suppressed = m.vq->kicks_suppressed;
	__atomic_store_n(&m.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	for (int i = 0; i < 8; i++)
		vblk_req_free(d, r[i]);
	vblk_dev_destroy(d);
	free(m.disk);
	free(buf);
	printf("ok layout %d event_idx %d indirect %d base %u: ", layout,
	       event_idx, indirect, base);
	printf("%lu kicks, %lu suppressed, %lu calls\n", kicks, suppressed,
	       m.calls);
}

int main(void)
{
	uint8_t a[1024], b[1024];

	/* The pattern depends on sector and seed. */
	vblk_pattern_fill(a, sizeof(a), 7, 1);
	vblk_pattern_fill(b, sizeof(b), 7, 1);
	CHECK(!memcmp(a, b, sizeof(a)));
	CHECK(vblk_pattern_check(a, sizeof(a), 7, 1) == -1);
	CHECK(vblk_pattern_check(a, sizeof(a), 7, 2) >= 0);
	CHECK(vblk_pattern_check(a + 512, 512, 8, 1) == -1);
	CHECK(vblk_pattern_check(a, 512, 8, 1) == 0);

	run(VBLK_MEM_ONE, false, false, 0);
	run(VBLK_MEM_ONE, true, false, 65530);
	run(VBLK_MEM_SPLIT, true, true, 100);
	run(VBLK_MEM_ADJACENT, false, true, 65535);
	run(VBLK_MEM_ADJACENT, true, false, 0);
	printf("drv_test: all ok\n");
	return 0;
}
