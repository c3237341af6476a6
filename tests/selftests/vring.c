// SPDX-License-Identifier: GPL-2.0
/*
 * vring: hostile and malformed descriptor chains. A chain that fails
 * validation must come back on the used ring with len 0 while the err
 * eventfd fires, and the queue must go on serving valid requests with
 * correct data. Nothing may hang.
 */
#include "kselftest_harness.h"
#include "vhost_blk_test.h"

#define QSIZE		16
#define OUTSIDE_GPA	0x1000ULL	/* below every region */

FIXTURE(vr) {
	int bfd;
	struct vblk_dev *d;
	struct vblk_vq *vq;
	struct vblk_req *good;
	uint64_t hdr;		/* a valid 16-byte IN header for sector 0 */
	uint64_t data;		/* 64 KiB */
	uint64_t status;	/* 1 byte */
	uint64_t table;		/* room for an indirect table */
	uint64_t seed;
	uint64_t end;		/* first GPA past region 0 */
	int rounds;
};

FIXTURE_SETUP(vr)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_IN) };

	self->bfd = open(test_dev(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->bfd) TH_LOG("%s: %s", test_dev(), strerror(errno));
	o.queue_size = QSIZE;
	o.mem_size = 16 << 20;
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->bfd, 0, NULL));
	self->vq = &self->d->vqs[0];
	self->good = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, self->good);
	ASSERT_EQ(0, vblk_alloc(self->d, 64, 64, &self->hdr));
	ASSERT_EQ(0, vblk_alloc(self->d, 65536, 4096, &self->data));
	ASSERT_EQ(0, vblk_alloc(self->d, 64, 64, &self->status));
	ASSERT_EQ(0, vblk_alloc(self->d, 4096, 4096, &self->table));
	ASSERT_EQ(0, vblk_mem_write(self->d, self->hdr, &h, sizeof(h)));
	self->seed = fresh_seed();
	self->end = self->d->regions[0].gpa + self->d->regions[0].size;
}

FIXTURE_TEARDOWN(vr)
{
	vblk_dev_destroy(self->d);
	close(self->bfd);
}

/* A valid write + read of 8 KiB on the same queue, with a fresh pattern. */
static void good_roundtrip(struct __test_metadata *_metadata,
			   FIXTURE_DATA(vr) *self)
{
	uint64_t sector = 8 * (self->rounds % 1000) + 4000;

	self->rounds++;
	ASSERT_EQ(VIRTIO_BLK_S_OK,
		  write_pattern(self->vq, self->good, self->data + 32768,
				sector, 8192, self->seed + self->rounds));
	ASSERT_EQ(0, check_pattern(self->vq, self->good, self->data + 32768,
				   sector, 8192, self->seed + self->rounds));
}

/*
 * Post the chain of ring descriptors @ids[0..n) (already written), kick,
 * and expect: the head back with len 0, the err eventfd, @want in the
 * status byte (0xff: untouched, when the chain has no usable last
 * descriptor; VIRTIO_BLK_S_IOERR when it has one), and a working queue
 * afterwards.
 */
static void expect_rejected_st(struct __test_metadata *_metadata,
			       FIXTURE_DATA(vr) *self, const uint16_t *ids,
			       unsigned int n, uint8_t want)
{
	struct vblk_req bad = { .head = -1 };
	uint8_t *st = vblk_gpa_to_hva(self->d, self->status, 1);

	*st = 0xff;
	ASSERT_EQ(ids[0], vblk_vq_post_raw(self->vq, ids, n, &bad));
	ASSERT_EQ(0, vblk_vq_kick_force(self->vq));
	ASSERT_EQ(0, vblk_req_wait(self->vq, &bad, IO_TIMEOUT_MS))
		TH_LOG("the bad chain never came back on the used ring");
	EXPECT_EQ(ids[0], bad.head);
	EXPECT_EQ(0, bad.used_len);
	EXPECT_EQ(1, efd_fired(self->vq->err_fd, IO_TIMEOUT_MS))
		TH_LOG("no signal on the err eventfd");
	/* Nothing executed; at most IOERR where the status byte is. */
	EXPECT_EQ(want, *st);
	good_roundtrip(_metadata, self);
	/* Exactly one used entry per chain, nothing extra. */
	EXPECT_EQ(0, vblk_vq_pending(self->vq));
	EXPECT_EQ(0, self->vq->inflight);
}

#define expect_rejected(m, self, ids, n) \
	expect_rejected_st(m, self, ids, n, 0xff)
#define expect_ioerr(m, self, ids, n) \
	expect_rejected_st(m, self, ids, n, VIRTIO_BLK_S_IOERR)

/* [hdr][data 4096 W][status W] with one descriptor replaced. */
static void chain3(FIXTURE_DATA(vr) *self, uint16_t *ids, int which,
		   uint64_t addr, uint32_t len)
{
	uint64_t a[3] = { self->hdr, self->data, self->status };
	uint32_t l[3] = { 16, 4096, 1 };
	uint16_t f[3] = { VRING_DESC_F_NEXT,
			  VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
			  VRING_DESC_F_WRITE };

	a[which] = addr;
	l[which] = len;
	for (int i = 0; i < 3; i++)
		vblk_vq_set_desc(self->vq, ids[i], a[i], l[i], f[i],
				 i < 2 ? ids[i + 1] : 0);
}

TEST_F(vr, desc_outside_memory)
{
	uint16_t ids[3];

	/* Each descriptor in turn points below guest memory. */
	for (int which = 0; which < 3; which++) {
		ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 3, ids));
		chain3(self, ids, which, OUTSIDE_GPA, which == 1 ? 4096 : 16);
		/* The status byte is still found unless it is the bad one. */
		expect_rejected_st(_metadata, self, ids, 3,
				   which == 2 ? 0xff : VIRTIO_BLK_S_IOERR);
	}
	/* Past the end of guest memory. */
	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 3, ids));
	chain3(self, ids, 1, self->end + (1ULL << 30), 4096);
	expect_ioerr(_metadata, self, ids, 3);
}

TEST_F(vr, desc_partly_outside_memory)
{
	uint16_t ids[3];

	/* Starts in the last page of guest memory, runs 3 KiB past it. */
	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 3, ids));
	chain3(self, ids, 1, self->end - 1024, 4096);
	expect_ioerr(_metadata, self, ids, 3);
	/* A length that reaches past 4 GiB. */
	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 3, ids));
	chain3(self, ids, 1, self->data, 0xfffffe00);
	expect_ioerr(_metadata, self, ids, 3);
}

/*
 * The status descriptor starts below guest memory and ends on the status
 * byte: no buffer, so the refused chain's status byte is not found, and
 * the byte its end lands on stays as it was. (The device used to write
 * IOERR there, wherever that was: a ring, say.)
 */
TEST_F(vr, status_desc_starting_outside_memory)
{
	uint64_t start = self->d->regions[0].gpa - 16;
	uint16_t ids[3];

	ASSERT_EQ(0, self->d->regions[0].gpa % 4096);
	ASSERT_LT(self->status, self->end);
	for (unsigned int i = 0; i < self->d->nregions; i++)
		ASSERT_LE(self->d->regions[0].gpa, self->d->regions[i].gpa);
	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 3, ids));
	chain3(self, ids, 2, start, self->status - start + 1);
	expect_rejected(_metadata, self, ids, 3);
	/* Ends past guest memory instead: refused, nothing written. */
	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 3, ids));
	chain3(self, ids, 2, self->status, self->end - self->status + 64);
	expect_rejected(_metadata, self, ids, 3);
}

TEST_F(vr, desc_address_wraps)
{
	uint16_t ids[3];

	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 3, ids));
	chain3(self, ids, 1, ~0ULL - 511, 4096);
	expect_ioerr(_metadata, self, ids, 3);
	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 3, ids));
	chain3(self, ids, 0, ~0ULL - 7, 16);
	expect_ioerr(_metadata, self, ids, 3);
}

TEST_F(vr, desc_loop)
{
	uint16_t ids[3];

	/* status -> hdr: a cycle of three. */
	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 3, ids));
	chain3(self, ids, 2, self->status, 1);
	vblk_vq_set_desc(self->vq, ids[2], self->status, 1,
			 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, ids[0]);
	expect_rejected(_metadata, self, ids, 3);

	/* A descriptor that points at itself. */
	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 1, ids));
	vblk_vq_set_desc(self->vq, ids[0], self->hdr, 16, VRING_DESC_F_NEXT,
			 ids[0]);
	expect_rejected(_metadata, self, ids, 1);

	/* A loop on the writable part, after a valid start. */
	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 3, ids));
	chain3(self, ids, 2, self->status, 1);
	vblk_vq_set_desc(self->vq, ids[2], self->status, 1,
			 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, ids[1]);
	expect_rejected(_metadata, self, ids, 3);
}

TEST_F(vr, desc_next_out_of_range)
{
	uint16_t ids[3];

	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 3, ids));
	chain3(self, ids, 2, self->status, 1);
	vblk_vq_set_desc(self->vq, ids[1], self->data, 4096,
			 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, QSIZE);
	expect_rejected(_metadata, self, ids, 3);
	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 3, ids));
	chain3(self, ids, 2, self->status, 1);
	vblk_vq_set_desc(self->vq, ids[1], self->data, 4096,
			 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0xffff);
	expect_rejected(_metadata, self, ids, 3);
}

/* An indirect table of @n entries at self->table, pointed to by @id. */
static struct vring_desc *indirect(FIXTURE_DATA(vr) *self, uint16_t id,
				   unsigned int n)
{
	struct vring_desc *t = vblk_gpa_to_hva(self->d, self->table, 4096);

	vblk_vq_set_desc(self->vq, id, self->table, n * sizeof(*t),
			 VRING_DESC_F_INDIRECT, 0);
	return t;
}

/* A valid IN table: [hdr][data 4096][status]. */
static struct vring_desc *good_table(FIXTURE_DATA(vr) *self, uint16_t id)
{
	struct vring_desc *t = indirect(self, id, 3);

	write_desc(&t[0], self->hdr, 16, VRING_DESC_F_NEXT, 1);
	write_desc(&t[1], self->data, 4096,
		   VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	write_desc(&t[2], self->status, 1, VRING_DESC_F_WRITE, 0);
	return t;
}

TEST_F(vr, indirect_valid_raw)
{
	/* Sanity for the tests below: a hand-built table works. */
	struct vblk_req r = { .status_gpa = self->status };
	uint16_t id;

	ASSERT_TRUE(vblk_dev_has_feature(self->d, VIRTIO_RING_F_INDIRECT_DESC));
	good_roundtrip(_metadata, self);
	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 1, &id));
	good_table(self, id);
	ASSERT_EQ(id, vblk_vq_post_raw(self->vq, &id, 1, &r));
	ASSERT_EQ(0, vblk_vq_kick_force(self->vq));
	ASSERT_EQ(0, vblk_req_wait(self->vq, &r, IO_TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_OK, r.status);
	EXPECT_EQ(4097, r.used_len);
	EXPECT_EQ(0, efd_fired(self->vq->err_fd, 0));
}

TEST_F(vr, indirect_table_outside_memory)
{
	uint16_t id;

	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 1, &id));
	vblk_vq_set_desc(self->vq, id, OUTSIDE_GPA, 48, VRING_DESC_F_INDIRECT,
			 0);
	expect_rejected(_metadata, self, &id, 1);
	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 1, &id));
	vblk_vq_set_desc(self->vq, id, self->end - 32, 48,
			 VRING_DESC_F_INDIRECT, 0);
	expect_rejected(_metadata, self, &id, 1);
}

TEST_F(vr, indirect_bad_length)
{
	static const uint32_t lens[] = { 0, 8, 40 };
	uint16_t id;

	for (size_t i = 0; i < ARRAY_SIZE(lens); i++) {
		ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 1, &id));
		good_table(self, id);
		vblk_vq_set_desc(self->vq, id, self->table, lens[i],
				 VRING_DESC_F_INDIRECT, 0);
		expect_rejected(_metadata, self, &id, 1);
	}
}

TEST_F(vr, indirect_inside_indirect)
{
	struct vring_desc *t;
	uint16_t id;

	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 1, &id));
	t = good_table(self, id);
	/* The data entry is itself an indirect table. */
	write_desc(&t[1], self->table + 2048, 48,
		   VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 2);
	expect_rejected(_metadata, self, &id, 1);
}

TEST_F(vr, indirect_loop_and_bad_next)
{
	struct vring_desc *t;
	uint16_t id;

	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 1, &id));
	t = good_table(self, id);
	write_desc(&t[2], self->status, 1,
		   VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
	expect_rejected(_metadata, self, &id, 1);

	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 1, &id));
	t = good_table(self, id);
	/* next beyond the 3 entries of the table. */
	write_desc(&t[1], self->data, 4096,
		   VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 3);
	expect_rejected(_metadata, self, &id, 1);

	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 1, &id));
	t = good_table(self, id);
	/* An entry outside guest memory. */
	write_desc(&t[1], OUTSIDE_GPA, 4096,
		   VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	expect_ioerr(_metadata, self, &id, 1);
}

TEST_F(vr, chain_uses_whole_ring)
{
	/* All 16 descriptors: [hdr][14 x 512 W][status]: valid. */
	struct vblk_req r = { .status_gpa = self->status };
	uint8_t *p = vblk_gpa_to_hva(self->d, self->data, 65536);
	uint16_t ids[QSIZE];

	good_roundtrip(_metadata, self);
	ASSERT_EQ(VIRTIO_BLK_S_OK, write_pattern(self->vq, self->good,
						 self->data, 0, 7168,
						 self->seed));
	memset(p, 0, 65536);
	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, QSIZE, ids));
	vblk_vq_set_desc(self->vq, ids[0], self->hdr, 16, VRING_DESC_F_NEXT,
			 ids[1]);
	/* Scattered: every other 1 KiB. */
	for (int i = 1; i < QSIZE - 1; i++)
		vblk_vq_set_desc(self->vq, ids[i], self->data + (i - 1) * 1024,
				 512, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
				 ids[i + 1]);
	vblk_vq_set_desc(self->vq, ids[QSIZE - 1], self->status, 1,
			 VRING_DESC_F_WRITE, 0);
	ASSERT_EQ(ids[0], vblk_vq_post_raw(self->vq, ids, QSIZE, &r));
	ASSERT_EQ(0, vblk_vq_kick_force(self->vq));
	ASSERT_EQ(0, vblk_req_wait(self->vq, &r, IO_TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_OK, r.status);
	EXPECT_EQ(7169, r.used_len);
	for (int i = 0; i < QSIZE - 2; i++) {
		EXPECT_EQ(-1, vblk_pattern_check(p + i * 1024, 512, i,
						 self->seed)) TH_LOG("seg %d", i);
	}
	EXPECT_EQ(0, efd_fired(self->vq->err_fd, 0));
}

TEST_F(vr, device_never_writes_readable_buffers)
{
	/* An IN request whose data buffer is device-readable. */
	struct vblk_req r = { .status_gpa = self->status };
	uint8_t *p = vblk_gpa_to_hva(self->d, self->data, 4096);
	uint16_t ids[3];

	good_roundtrip(_metadata, self);
	memset(p, 0x5a, 4096);
	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 3, ids));
	chain3(self, ids, 2, self->status, 1);
	vblk_vq_set_desc(self->vq, ids[1], self->data, 4096, VRING_DESC_F_NEXT,
			 ids[2]);
	ASSERT_EQ(ids[0], vblk_vq_post_raw(self->vq, ids, 3, &r));
	ASSERT_EQ(0, vblk_vq_kick_force(self->vq));
	ASSERT_EQ(0, vblk_req_wait(self->vq, &r, IO_TIMEOUT_MS));
	/* Either refused or failed; never data in a readable buffer. */
	EXPECT_TRUE(r.used_len == 0 || r.status == VIRTIO_BLK_S_IOERR)
		TH_LOG("used.len %u status %u", r.used_len, r.status);
	EXPECT_GE(1, r.used_len);
	for (int i = 0; i < 4096; i++) {
		ASSERT_EQ(0x5a, p[i]) TH_LOG("byte %d written", i);
	}
	good_roundtrip(_metadata, self);
}

TEST_F(vr, readable_after_writable)
{
	/* [hdr R][data W][extra R][status W]: readable after writable. */
	struct vblk_req r = { .status_gpa = self->status };
	uint8_t *p = vblk_gpa_to_hva(self->d, self->data, 8192);
	uint16_t ids[4];

	good_roundtrip(_metadata, self);
	memset(p, 0x5a, 8192);
	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 4, ids));
	vblk_vq_set_desc(self->vq, ids[0], self->hdr, 16, VRING_DESC_F_NEXT,
			 ids[1]);
	vblk_vq_set_desc(self->vq, ids[1], self->data, 4096,
			 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, ids[2]);
	vblk_vq_set_desc(self->vq, ids[2], self->data + 4096, 512,
			 VRING_DESC_F_NEXT, ids[3]);
	vblk_vq_set_desc(self->vq, ids[3], self->status, 1, VRING_DESC_F_WRITE,
			 0);
	ASSERT_EQ(ids[0], vblk_vq_post_raw(self->vq, ids, 4, &r));
	ASSERT_EQ(0, vblk_vq_kick_force(self->vq));
	ASSERT_EQ(0, vblk_req_wait(self->vq, &r, IO_TIMEOUT_MS));
	EXPECT_TRUE(r.used_len == 0 || r.status == VIRTIO_BLK_S_IOERR)
		TH_LOG("used.len %u status %u", r.used_len, r.status);
	/* The readable buffer is untouched. */
	for (int i = 4096; i < 4096 + 512; i++) {
		ASSERT_EQ(0x5a, p[i]) TH_LOG("byte %d written", i);
	}
	good_roundtrip(_metadata, self);
}

TEST_F(vr, bad_and_good_interleaved)
{
	struct vblk_req bad[4], *r[4];
	uint8_t *p = vblk_gpa_to_hva(self->d, self->data, 65536);

	for (int i = 0; i < 4; i++) {
		r[i] = vblk_req_alloc(self->d);
		ASSERT_NE(NULL, r[i]);
	}
	for (int round = 0; round < 20; round++) {
		uint16_t ids[3];

		/* good write, bad, good write, bad - one kick. */
		for (int i = 0; i < 4; i++) {
			if (i % 2 == 0) {
				uint64_t s = 400 + 8 * (round * 2 + i / 2);

				vblk_pattern_fill(p + i * 8192, 4096, s,
						  self->seed + round);
				vblk_req_reset(r[i], VIRTIO_BLK_T_OUT, s);
				vblk_req_add_seg(r[i], self->data + i * 8192,
						 4096);
				ASSERT_LE(0, vblk_req_submit(self->vq, r[i], 0));
				continue;
			}
			bad[i] = (struct vblk_req){ .head = -1 };
			ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 3, ids));
			chain3(self, ids, round % 3, OUTSIDE_GPA + round * 4096,
			       16);
			ASSERT_EQ(ids[0], vblk_vq_post_raw(self->vq, ids, 3,
							   &bad[i]));
		}
		ASSERT_EQ(0, vblk_vq_kick(self->vq));
		ASSERT_EQ(0, vblk_vq_drain(self->vq, IO_TIMEOUT_MS))
			TH_LOG("round %d", round);
		for (int i = 0; i < 4; i++) {
			if (i % 2 == 0) {
				EXPECT_EQ(VIRTIO_BLK_S_OK, r[i]->status);
				EXPECT_EQ(1, r[i]->used_len);
			} else {
				EXPECT_EQ(0, bad[i].used_len);
			}
		}
	}
	EXPECT_EQ(1, efd_fired(self->vq->err_fd, 0));
	/* Everything the good requests wrote is there. */
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 2; i++) {
			uint64_t s = 400 + 8 * (round * 2 + i);

			EXPECT_EQ(0, check_pattern(self->vq, self->good,
						   self->data + 32768, s, 4096,
						   self->seed + round))
				TH_LOG("round %d sector %" PRIu64, round, s);
		}
	}
}

TEST_F(vr, head_out_of_range)
{
	/* An avail entry naming descriptor 16 of a 16-entry ring. */
	good_roundtrip(_metadata, self);
	vblk_vq_push_avail(self->vq, QSIZE);
	ASSERT_EQ(0, vblk_vq_kick_force(self->vq));
	EXPECT_EQ(1, efd_fired(self->vq->err_fd, IO_TIMEOUT_MS));
	/* Never a used entry for a head that does not exist. */
	usleep(QUIET_MS * 1000);
	{
		struct vblk_used u[4];
		int n = vblk_vq_reap(self->vq, u, 4);

		for (int i = 0; i < n; i++) {
			EXPECT_GT(QSIZE, u[i].id);
		}
	}
}

TEST_F(vr, avail_idx_too_far_ahead)
{
	struct vblk_req *r = self->good;
	unsigned int base;

	good_roundtrip(_metadata, self);
	ASSERT_EQ(2, vblk_vq_used_idx(self->vq));
	/* num + 1 entries "available" at once: impossible. */
	vblk_vq_set_avail_idx(self->vq, 2 + QSIZE + 1);
	ASSERT_EQ(0, vblk_vq_kick_force(self->vq));
	EXPECT_EQ(1, efd_fired(self->vq->err_fd, IO_TIMEOUT_MS));
	usleep(QUIET_MS * 1000);
	EXPECT_EQ(2, vblk_vq_used_idx(self->vq));

	/* Broken until set up again: a valid request is not served. */
	vblk_vq_set_avail_idx(self->vq, 2);
	vblk_req_reset(r, VIRTIO_BLK_T_IN, 0);
	vblk_req_add_seg(r, self->data, 4096);
	ASSERT_LE(0, vblk_req_submit(self->vq, r, 0));
	ASSERT_EQ(0, vblk_vq_kick_force(self->vq));
	EXPECT_EQ(-ETIMEDOUT, vblk_req_wait(self->vq, r, QUIET_MS));
	EXPECT_EQ(2, vblk_vq_used_idx(self->vq));

	/* Set up again: stop, fresh rings, start. */
	ASSERT_EQ(0, vblk_vq_stop(self->vq, &base));
	ASSERT_EQ(0, vblk_vq_start(self->d, 0, 0));
	good_roundtrip(_metadata, self);
}

TEST_F(vr, chain_over_1024_buffers)
{
	/* An indirect table of 1100 entries: more buffers than allowed. */
	enum { N = 1100 };
	struct vring_desc *t;
	uint64_t tgpa;
	uint16_t id;

	ASSERT_EQ(0, vblk_alloc(self->d, N * sizeof(*t), 16, &tgpa));
	t = vblk_gpa_to_hva(self->d, tgpa, N * sizeof(*t));
	write_desc(&t[0], self->hdr, 16, VRING_DESC_F_NEXT, 1);
	for (int i = 1; i < N - 1; i++)
		write_desc(&t[i], self->data + (i % 64) * 512, 512,
			   VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, i + 1);
	write_desc(&t[N - 1], self->status, 1, VRING_DESC_F_WRITE, 0);
	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 1, &id));
	vblk_vq_set_desc(self->vq, id, tgpa, N * sizeof(*t),
			 VRING_DESC_F_INDIRECT, 0);
	expect_ioerr(_metadata, self, &id, 1);
}

/* ---- where a refused chain's status byte may be, across layouts ---- */

struct st_ctx {
	int bfd;
	struct vblk_dev *d;
	struct vblk_vq *vq;
	uint64_t hdr, data;
};

static int st_setup(struct st_ctx *c, enum vblk_mem_layout layout,
		    uint64_t base)
{
	struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_IN) };
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	int ret;

	c->bfd = open(test_dev(), O_RDWR | O_CLOEXEC);
	if (c->bfd < 0)
		return -errno;
	o.queue_size = QSIZE;
	o.mem_size = 16 << 20;
	o.layout = layout;
	o.gpa_base = base;
	ret = vblk_dev_create(&c->d, &o, c->bfd, 0, NULL);
	if (ret)
		return ret;
	c->vq = &c->d->vqs[0];
	if (vblk_alloc_in(c->d, 0, 64, 64, &c->hdr) ||
	    vblk_alloc_in(c->d, 0, 8192, 4096, &c->data))
		return -ENOMEM;
	return vblk_mem_write(c->d, c->hdr, &h, sizeof(h));
}

static void st_teardown(struct st_ctx *c)
{
	vblk_dev_destroy(c->d);
	close(c->bfd);
}

/*
 * Post [IN header][data W @daddr/4096][last W @addr/@len] and wait: its
 * used length, and whether the err eventfd fired.
 */
static int st_post(struct st_ctx *c, uint64_t daddr, uint64_t addr,
		   uint32_t len, uint32_t *used, int *err)
{
	struct vblk_req r = { .head = -1 };
	uint16_t ids[3];
	int ret;

	ret = vblk_vq_alloc_desc(c->vq, 3, ids);
	if (ret)
		return ret;
	vblk_vq_set_desc(c->vq, ids[0], c->hdr, 16, VRING_DESC_F_NEXT, ids[1]);
	vblk_vq_set_desc(c->vq, ids[1], daddr, 4096,
			 VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, ids[2]);
	vblk_vq_set_desc(c->vq, ids[2], addr, len, VRING_DESC_F_WRITE, 0);
	if (vblk_vq_post_raw(c->vq, ids, 3, &r) != ids[0] ||
	    vblk_vq_kick_force(c->vq))
		return -EIO;
	ret = vblk_req_wait(c->vq, &r, IO_TIMEOUT_MS);
	if (ret)
		return ret;
	*used = r.used_len;
	*err = efd_fired(c->vq->err_fd, QUIET_MS);
	return 0;
}

/*
 * Regions adjacent in GPA, apart in the process: a last buffer across the
 * boundary is guest memory; a refused chain (its data outside memory)
 * gets IOERR at the buffer's last byte, in the second region, and the
 * rest of the buffer stays as it was; a valid chain gets OK there.
 */
TEST(status_across_adjacent_regions)
{
	uint64_t b, start;
	uint8_t *pre, *last;
	uint32_t used;
	struct st_ctx c;
	int err;

	ASSERT_EQ(0, st_setup(&c, VBLK_MEM_ADJACENT, VBLK_GPA_BASE));
	b = c.d->regions[1].gpa;
	ASSERT_EQ(b, c.d->regions[0].gpa + c.d->regions[0].size);
	ASSERT_EQ(0, vblk_mem_reserve(c.d, b - 4096, 8192));
	start = b - 512;
	pre = vblk_gpa_to_hva(c.d, start, 512);
	last = vblk_gpa_to_hva(c.d, b, 1);
	ASSERT_NE(NULL, pre);
	ASSERT_NE(NULL, last);
	memset(pre, 0xff, 512);
	*last = 0xff;
	ASSERT_EQ(0, st_post(&c, OUTSIDE_GPA, start, 513, &used, &err));
	EXPECT_EQ(0, used);
	EXPECT_EQ(1, err);
	for (int i = 0; i < 512; i++) {
		ASSERT_EQ(0xff, pre[i]) TH_LOG("byte %d before the boundary", i);
	}
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, *last);
	*last = 0xff;
	ASSERT_EQ(0, st_post(&c, c.data, start, 513, &used, &err));
	EXPECT_EQ(0, err);
	EXPECT_EQ(4096 + 513, used);
	EXPECT_EQ(VIRTIO_BLK_S_OK, *last);
	st_teardown(&c);
}

/*
 * Regions apart in GPA: a last buffer from the end of the first region to
 * the second one runs through a hole, so it is no buffer; the byte it
 * ends on stays as it was.
 */
TEST(status_across_a_hole)
{
	uint64_t start, end;
	struct st_ctx c;
	uint32_t used;
	uint8_t *endp;
	int err;

	ASSERT_EQ(0, st_setup(&c, VBLK_MEM_SPLIT, VBLK_GPA_BASE));
	start = c.d->regions[0].gpa + c.d->regions[0].size - 64;
	ASSERT_EQ(0, vblk_mem_reserve(c.d, start, 64));
	ASSERT_EQ(0, vblk_mem_reserve(c.d, c.d->regions[1].gpa, 8192));
	end = c.d->regions[1].gpa + 4096;
	ASSERT_GE(UINT32_MAX, end - start + 1);
	endp = vblk_gpa_to_hva(c.d, end, 1);
	ASSERT_NE(NULL, endp);
	*endp = 0xff;
	ASSERT_EQ(0, st_post(&c, OUTSIDE_GPA, start, end - start + 1, &used,
			     &err));
	EXPECT_EQ(0, used);
	EXPECT_EQ(1, err);
	EXPECT_EQ(0xff, *endp) TH_LOG("the device wrote past a hole");
	st_teardown(&c);
}

/*
 * Guest memory at the top of the GPA space: a last buffer ending at
 * 2^64 - 1 takes IOERR there; one that wraps, or that ends there but
 * starts below memory (4 GiB - 1 bytes), is no buffer; a valid chain with
 * its status at 2^64 - 1 gets OK.
 */
TEST(status_at_the_top_of_guest_physical_space)
{
	uint64_t top = UINT64_MAX;
	struct st_ctx c;
	uint32_t used;
	uint8_t *lp;
	int err;

	ASSERT_EQ(0, st_setup(&c, VBLK_MEM_ONE, 0 - (uint64_t)(16 << 20)));
	lp = vblk_gpa_to_hva(c.d, top, 1);
	ASSERT_NE(NULL, lp);
	*lp = 0xff;
	ASSERT_EQ(0, st_post(&c, OUTSIDE_GPA, top - 4095, 4096, &used, &err));
	EXPECT_EQ(1, err);
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, *lp);
	*lp = 0xff;
	ASSERT_EQ(0, st_post(&c, OUTSIDE_GPA, top - 15, 32, &used, &err));
	EXPECT_EQ(1, err);
	EXPECT_EQ(0xff, *lp);
	ASSERT_EQ(0, st_post(&c, OUTSIDE_GPA, top - 0xfffffffeULL, UINT32_MAX,
			     &used, &err));
	EXPECT_EQ(1, err);
	EXPECT_EQ(0xff, *lp) TH_LOG("the device wrote through a buffer that starts below memory");
	ASSERT_EQ(0, st_post(&c, c.data, top, 1, &used, &err));
	EXPECT_EQ(0, err);
	EXPECT_EQ(VIRTIO_BLK_S_OK, *lp);
	st_teardown(&c);
}

VHOST_BLK_TEST_MAIN
