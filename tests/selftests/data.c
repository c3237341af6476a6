// SPDX-License-Identifier: GPL-2.0
/*
 * data: the virtio-blk data path. Every test writes patterned data and
 * reads it back (through the device and directly from the backend with
 * O_DIRECT), or checks an exact status and used length.
 *
 * Variants: "direct" (descriptor chains in the ring, EVENT_IDX),
 * "indirect" (one indirect table per request) and "split" (guest memory
 * in two regions far apart in guest-physical space, segments alternating
 * between them, EVENT_IDX not negotiated).
 */
#include "kselftest_harness.h"
#include "vhost_blk_test.h"

#define F(bit)		(1ULL << (bit))
#define QSIZE		256

FIXTURE(data) {
	int bfd;
	struct vblk_dev *d;
	struct vblk_vq *vq;
	struct vblk_req *r;
	uint64_t cap;			/* sectors */
	uint64_t seed;
	unsigned int next_region;
	unsigned int flags;		/* VBLK_ADD_* for this variant */
};

FIXTURE_VARIANT(data) {
	enum vblk_mem_layout layout;
	uint64_t features_clear;
	unsigned int add_flags;
};

FIXTURE_VARIANT_ADD(data, direct) {
	.layout = VBLK_MEM_ONE,
};

FIXTURE_VARIANT_ADD(data, indirect) {
	.layout = VBLK_MEM_ONE,
	.add_flags = VBLK_ADD_INDIRECT,
};

FIXTURE_VARIANT_ADD(data, split) {
	.layout = VBLK_MEM_SPLIT,
	.features_clear = F(VIRTIO_RING_F_EVENT_IDX),
};

FIXTURE_SETUP(data)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;

	self->bfd = open(test_dev(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->bfd) TH_LOG("%s: %s", test_dev(), strerror(errno));
	o.layout = variant->layout;
	o.features_clear = variant->features_clear;
	o.queue_size = QSIZE;
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->bfd, 0, "data"));
	self->vq = &self->d->vqs[0];
	self->r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, self->r);
	self->cap = vblk_dev_capacity(self->d);
	ASSERT_EQ(blk_bytes(self->bfd) / 512, self->cap);
	self->seed = fresh_seed();
	self->flags = variant->add_flags;
	if (variant->add_flags & VBLK_ADD_INDIRECT) {
		ASSERT_TRUE(vblk_dev_has_feature(self->d,
						 VIRTIO_RING_F_INDIRECT_DESC));
	}
	if (!variant->features_clear) {
		ASSERT_TRUE(vblk_dev_has_feature(self->d,
						 VIRTIO_RING_F_EVENT_IDX));
	}
}

FIXTURE_TEARDOWN(data)
{
	vblk_dev_destroy(self->d);
	close(self->bfd);
}

/* Guest memory for one segment; consecutive calls alternate regions. */
static uint64_t seg_alloc(FIXTURE_DATA(data) *self, size_t len)
{
	unsigned int reg = self->next_region++ % self->d->nregions;
	uint64_t gpa;

	if (vblk_alloc_in(self->d, reg, len, 4096, &gpa) &&
	    vblk_alloc(self->d, len, 4096, &gpa))
		return 0;
	return gpa;
}

/* A segment: @len bytes starting @off bytes into a page-aligned buffer. */
struct seg {
	uint32_t len;
	uint32_t off;
};

/* Allocate buffers for @shape and add them to @r; their GPAs in @base. */
static int build(FIXTURE_DATA(data) *self, struct vblk_req *r, uint32_t type,
		 uint64_t sector, const struct seg *shape, unsigned int n,
		 uint64_t *base)
{
	vblk_req_reset(r, type, sector);
	for (unsigned int i = 0; i < n; i++) {
		base[i] = seg_alloc(self, shape[i].off + shape[i].len);
		if (!base[i])
			return -ENOMEM;
		vblk_req_add_seg(r, base[i] + shape[i].off, shape[i].len);
	}
	return 0;
}

static void unbuild(FIXTURE_DATA(data) *self, const struct seg *shape,
		    unsigned int n, const uint64_t *base)
{
	for (unsigned int i = 0; i < n; i++)
		vblk_free(self->d, base[i], shape[i].off + shape[i].len);
}

/*
 * Write the pattern at @sector through segments of @shape, read it back
 * through fresh segments of the same shape, compare, and compare what the
 * backend holds (O_DIRECT).
 */
static void roundtrip(struct __test_metadata *_metadata,
		      FIXTURE_DATA(data) *self, uint64_t sector,
		      const struct seg *shape, unsigned int n)
{
	uint64_t *base = calloc(n, sizeof(*base));
	size_t total = 0;
	uint8_t *lin;

	for (unsigned int i = 0; i < n; i++)
		total += shape[i].len;
	ASSERT_EQ(0, total % 512);
	lin = malloc(total);
	ASSERT_NE(NULL, lin);
	ASSERT_NE(NULL, base);

	/* Write. */
	ASSERT_EQ(0, build(self, self->r, VIRTIO_BLK_T_OUT, sector, shape, n,
			   base));
	vblk_pattern_fill(lin, total, sector, self->seed);
	ASSERT_EQ(0, vblk_req_write_data(self->d, self->r, lin));
	ASSERT_EQ(0, vblk_do(self->vq, self->r, self->flags, IO_TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_OK, self->r->status);
	EXPECT_EQ(1, self->r->used_len);
	unbuild(self, shape, n, base);

	/* The backend has it, at the right place. */
	memset(lin, 0, total);
	ASSERT_EQ(0, blk_direct_io(test_dev(), false, sector * 512, lin, total));
	EXPECT_EQ(-1, vblk_pattern_check(lin, total, sector, self->seed));

	/* Read back through fresh buffers. */
	ASSERT_EQ(0, build(self, self->r, VIRTIO_BLK_T_IN, sector, shape, n,
			   base));
	memset(lin, 0x5a, total);
	ASSERT_EQ(0, vblk_req_write_data(self->d, self->r, lin));
	ASSERT_EQ(0, vblk_do(self->vq, self->r, self->flags, IO_TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_OK, self->r->status);
	EXPECT_EQ(total + 1, self->r->used_len);
	ASSERT_EQ(0, vblk_req_read_data(self->d, self->r, lin));
	EXPECT_EQ(-1, vblk_pattern_check(lin, total, sector, self->seed));
	unbuild(self, shape, n, base);
	free(lin);
	free(base);
}

/* @n segments of @len bytes, page aligned. */
static void roundtrip_even(struct __test_metadata *_metadata,
			   FIXTURE_DATA(data) *self, uint64_t sector,
			   unsigned int n, uint32_t len)
{
	struct seg *shape = calloc(n, sizeof(*shape));

	ASSERT_NE(NULL, shape);
	for (unsigned int i = 0; i < n; i++)
		shape[i].len = len;
	roundtrip(_metadata, self, sector, shape, n);
	free(shape);
}

/* One request of @len bytes in as few segments as the limits allow. */
static void roundtrip_size(struct __test_metadata *_metadata,
			   FIXTURE_DATA(data) *self, uint64_t sector,
			   uint32_t len)
{
	uint32_t seg = vblk_dev_size_max(self->d);
	unsigned int n;

	if (seg > len)
		seg = len;
	seg &= ~511U;
	ASSERT_NE(0, seg);
	n = (len + seg - 1) / seg;
	ASSERT_GE(vblk_dev_seg_max(self->d), n)
		TH_LOG("%u bytes need %u segments of %u", len, n, seg);
	ASSERT_EQ(0, len % seg);
	roundtrip_even(_metadata, self, sector, n, seg);
}

TEST_F(data, rw_512)
{
	roundtrip_size(_metadata, self, 1, 512);
}

TEST_F(data, rw_4k)
{
	roundtrip_size(_metadata, self, 8, 4096);
	/* Not 4 KiB aligned on the device. */
	roundtrip_size(_metadata, self, 8 + 3, 4096);
}

TEST_F(data, rw_64k)
{
	roundtrip_size(_metadata, self, 128, 65536);
}

TEST_F(data, rw_1m)
{
	roundtrip_size(_metadata, self, 2048, 1 << 20);
	/* Straddling a 1 MiB boundary of the device. */
	roundtrip_size(_metadata, self, 4096 + 2048 - 7, 1 << 20);
}

TEST_F(data, rw_last_sectors)
{
	/* The very end of the device is reachable. */
	roundtrip_size(_metadata, self, self->cap - 8, 4096);
	roundtrip_size(_metadata, self, self->cap - 1, 512);
}

TEST_F(data, rw_64_segments_512)
{
	roundtrip_even(_metadata, self, 40000, 64, 512);
}

TEST_F(data, rw_seg_max_segments)
{
	unsigned int n = vblk_dev_seg_max(self->d);

	/* Header and status take two more descriptors. */
	if (!(self->flags & VBLK_ADD_INDIRECT) && n > QSIZE - 2)
		n = QSIZE - 2;
	roundtrip_even(_metadata, self, 50000, n, 512);
}

TEST_F(data, rw_unaligned_segments)
{
	/* Odd addresses and lengths; only the total is whole sectors. */
	static const struct seg shape[] = {
		{ 100, 1 }, { 412, 3 }, { 1000, 7 }, { 24, 4095 },
		{ 1, 2047 }, { 511, 9 },
	};

	roundtrip(_metadata, self, 60000, shape, ARRAY_SIZE(shape));
}

TEST_F(data, rw_page_crossing_segments)
{
	/* Every segment crosses at least one page boundary. */
	static const struct seg shape[] = {
		{ 4096, 2048 }, { 8192, 100 }, { 512, 4000 }, { 1536, 3584 },
		{ 12288, 4095 },
	};

	roundtrip(_metadata, self, 70000, shape, ARRAY_SIZE(shape));
}

TEST_F(data, many_in_flight)
{
	enum { N = 64 };
	struct vblk_req *r[N];
	uint64_t gpa;
	uint8_t *buf;

	ASSERT_EQ(0, vblk_alloc(self->d, N * 4096, 4096, &gpa));
	buf = vblk_gpa_to_hva(self->d, gpa, N * 4096);
	/* Direct chains take 3 descriptors; with QSIZE 256, 64 fit. */
	for (int i = 0; i < N; i++) {
		r[i] = vblk_req_alloc(self->d);
		ASSERT_NE(NULL, r[i]);
		/* Out of order on the device: sector 8 * ((i * 37) % N). */
		vblk_pattern_fill(buf + i * 4096, 4096, 8 * ((i * 37) % N),
				  self->seed);
		vblk_req_reset(r[i], VIRTIO_BLK_T_OUT, 8 * ((i * 37) % N));
		vblk_req_add_seg(r[i], gpa + i * 4096, 4096);
		ASSERT_LE(0, vblk_req_submit(self->vq, r[i], self->flags));
	}
	ASSERT_EQ(0, vblk_vq_kick(self->vq));
	ASSERT_EQ(0, vblk_vq_drain(self->vq, IO_TIMEOUT_MS));
	for (int i = 0; i < N; i++) {
		EXPECT_EQ(VIRTIO_BLK_S_OK, r[i]->status);
	}

	/* All back in one batch, into different buffers. */
	memset(buf, 0, N * 4096);
	for (int i = 0; i < N; i++) {
		vblk_req_reset(r[i], VIRTIO_BLK_T_IN, 8 * i);
		vblk_req_add_seg(r[i], gpa + i * 4096, 4096);
		ASSERT_LE(0, vblk_req_submit(self->vq, r[i], self->flags));
	}
	ASSERT_EQ(0, vblk_vq_kick(self->vq));
	ASSERT_EQ(0, vblk_vq_drain(self->vq, IO_TIMEOUT_MS));
	for (int i = 0; i < N; i++) {
		EXPECT_EQ(VIRTIO_BLK_S_OK, r[i]->status);
		EXPECT_EQ(4097, r[i]->used_len);
		EXPECT_EQ(-1, vblk_pattern_check(buf + i * 4096, 4096, 8 * i,
						 self->seed)) TH_LOG("req %d", i);
	}
}

TEST_F(data, sequential_notifications)
{
	/*
	 * One request at a time, each kicked only if the ring asks for it
	 * (avail_event / NO_NOTIFY) and waited for on the call eventfd
	 * (used_event): a device that mismanages either stalls here.
	 */
	uint64_t gpa;

	ASSERT_EQ(0, vblk_alloc(self->d, 4096, 4096, &gpa));
	for (int i = 0; i < 300; i++) {
		ASSERT_EQ(VIRTIO_BLK_S_OK,
			  write_pattern(self->vq, self->r, gpa, 80000 + 8 * i,
					512 * (1 + i % 8), self->seed))
			TH_LOG("request %d", i);
	}
	for (int i = 0; i < 300; i += 7) {
		ASSERT_EQ(0, check_pattern(self->vq, self->r, gpa,
					   80000 + 8 * i, 512 * (1 + i % 8),
					   self->seed)) TH_LOG("request %d", i);
	}
}

TEST_F(data, ring_index_wraps)
{
	unsigned int base;
	uint64_t gpa;

	/* Restart the ring 40 entries short of the 16-bit wrap. */
	ASSERT_EQ(0, vblk_vq_stop(self->vq, &base));
	ASSERT_EQ(0, vblk_vq_start(self->d, 0, 65536 - 40));
	ASSERT_EQ(0, vblk_alloc(self->d, 8192, 4096, &gpa));
	for (int i = 0; i < 50; i++) {
		ASSERT_EQ(VIRTIO_BLK_S_OK,
			  write_pattern(self->vq, self->r, gpa, 90000 + 16 * i,
					8192, self->seed)) TH_LOG("request %d", i);
		ASSERT_EQ(0, check_pattern(self->vq, self->r, gpa,
					   90000 + 16 * i, 8192, self->seed))
			TH_LOG("request %d", i);
	}
	EXPECT_EQ((uint16_t)(65536 - 40 + 100), vblk_vq_used_idx(self->vq));
	ASSERT_EQ(0, vblk_vq_stop(self->vq, &base));
	EXPECT_EQ(60, base);
}

TEST_F(data, backend_sees_writes)
{
	uint8_t *lin = malloc(65536);
	uint64_t gpa, sector = 100000;

	ASSERT_NE(NULL, lin);
	ASSERT_EQ(0, vblk_alloc(self->d, 65536, 4096, &gpa));
	/* Old content, then overwrite part of it through vhost-blk. */
	vblk_pattern_fill(lin, 65536, sector, self->seed);
	ASSERT_EQ(0, blk_direct_io(test_dev(), true, sector * 512, lin, 65536));
	ASSERT_EQ(VIRTIO_BLK_S_OK,
		  write_pattern(self->vq, self->r, gpa, sector + 8, 4096,
				self->seed + 1));
	ASSERT_EQ(0, blk_direct_io(test_dev(), false, sector * 512, lin, 65536));
	/* Exactly sectors 8..15 changed. */
	EXPECT_EQ(-1, vblk_pattern_check(lin, 4096, sector, self->seed));
	EXPECT_EQ(-1, vblk_pattern_check(lin + 4096, 4096, sector + 8,
					 self->seed + 1));
	EXPECT_EQ(-1, vblk_pattern_check(lin + 8192, 65536 - 8192, sector + 16,
					 self->seed));
	free(lin);
}

TEST_F(data, sees_backend_writes)
{
	uint8_t *lin = malloc(65536);
	uint64_t gpa, sector = 110000;

	ASSERT_NE(NULL, lin);
	ASSERT_EQ(0, vblk_alloc(self->d, 65536, 4096, &gpa));
	vblk_pattern_fill(lin, 65536, sector, self->seed);
	ASSERT_EQ(0, blk_direct_io(test_dev(), true, sector * 512, lin, 65536));
	EXPECT_EQ(0, check_pattern(self->vq, self->r, gpa, sector, 65536,
				   self->seed));
	/* And again after the backend changes under the device. */
	vblk_pattern_fill(lin, 65536, sector, self->seed + 1);
	ASSERT_EQ(0, blk_direct_io(test_dev(), true, sector * 512, lin, 65536));
	EXPECT_EQ(0, check_pattern(self->vq, self->r, gpa, sector, 65536,
				   self->seed + 1));
	free(lin);
}

TEST_F(data, flush_ok)
{
	uint64_t gpa;

	ASSERT_TRUE(vblk_dev_has_feature(self->d, VIRTIO_BLK_F_FLUSH));
	ASSERT_EQ(0, vblk_alloc(self->d, 4096, 4096, &gpa));
	ASSERT_EQ(VIRTIO_BLK_S_OK, write_pattern(self->vq, self->r, gpa, 120000,
						 4096, self->seed));
	EXPECT_EQ(VIRTIO_BLK_S_OK, do_io(self->vq, self->r, VIRTIO_BLK_T_FLUSH,
					 0, 0, 0, self->flags));
	EXPECT_EQ(1, self->r->used_len);
	EXPECT_EQ(0, check_pattern(self->vq, self->r, gpa, 120000, 4096,
				   self->seed));
}

TEST_F(data, get_id)
{
	char id[VIRTIO_BLK_ID_BYTES] = { 0 };
	uint64_t gpa;

	ASSERT_EQ(0, vblk_alloc(self->d, 64, 64, &gpa));
	ASSERT_EQ(VIRTIO_BLK_S_OK, do_io(self->vq, self->r, VIRTIO_BLK_T_GET_ID,
					 0, gpa, VIRTIO_BLK_ID_BYTES,
					 self->flags));
	EXPECT_EQ(VIRTIO_BLK_ID_BYTES + 1, self->r->used_len);
	vblk_mem_read(self->d, gpa, id, sizeof(id));
	EXPECT_EQ(0, memcmp(id, "data\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
			    VIRTIO_BLK_ID_BYTES));
}

TEST_F(data, unknown_type_unsupp)
{
	static const uint32_t types[] = { 2, 3, 5, 0x77, 0x80000000, 0xffffffff };
	uint64_t gpa;

	ASSERT_EQ(0, vblk_alloc(self->d, 512, 512, &gpa));
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		EXPECT_EQ(VIRTIO_BLK_S_UNSUPP,
			  do_io(self->vq, self->r, types[i], 0, gpa, 512,
				self->flags)) TH_LOG("type %#x", types[i]);
		EXPECT_EQ(1, self->r->used_len) TH_LOG("type %#x", types[i]);
	}
	/* Discard and write-zeroes when not offered. */
	if (!(self->d->features_offered & F(VIRTIO_BLK_F_DISCARD))) {
		EXPECT_EQ(VIRTIO_BLK_S_UNSUPP,
			  do_io(self->vq, self->r, VIRTIO_BLK_T_DISCARD, 0,
				gpa, 16, self->flags));
	}
	if (!(self->d->features_offered & F(VIRTIO_BLK_F_WRITE_ZEROES))) {
		EXPECT_EQ(VIRTIO_BLK_S_UNSUPP,
			  do_io(self->vq, self->r, VIRTIO_BLK_T_WRITE_ZEROES, 0,
				gpa, 16, self->flags));
	}
	/* The queue goes on. */
	EXPECT_EQ(VIRTIO_BLK_S_OK, write_pattern(self->vq, self->r, gpa, 5,
						 512, self->seed));
}

TEST_F(data, past_end_ioerr)
{
	static const uint64_t far[] = { 0, 1, 1000, 1ULL << 40 };
	uint8_t *p;
	uint64_t gpa;

	ASSERT_EQ(0, vblk_alloc(self->d, 4096, 4096, &gpa));
	p = vblk_gpa_to_hva(self->d, gpa, 4096);
	for (size_t i = 0; i < ARRAY_SIZE(far); i++) {
		uint64_t s = self->cap + far[i];

		memset(p, 0x5a, 4096);
		EXPECT_EQ(VIRTIO_BLK_S_IOERR,
			  do_io(self->vq, self->r, VIRTIO_BLK_T_IN, s, gpa, 512,
				self->flags)) TH_LOG("sector %" PRIu64, s);
		/* Only the status, at the end, was written: len 0. */
		EXPECT_EQ(0, self->r->used_len);
		EXPECT_EQ(0x5a, p[0]);
		EXPECT_EQ(VIRTIO_BLK_S_IOERR,
			  do_io(self->vq, self->r, VIRTIO_BLK_T_OUT, s, gpa, 512,
				self->flags)) TH_LOG("sector %" PRIu64, s);
	}
	/* Sector numbers whose byte offset overflows 64 bits. */
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  do_io(self->vq, self->r, VIRTIO_BLK_T_IN, 1ULL << 55, gpa, 512,
			self->flags));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  do_io(self->vq, self->r, VIRTIO_BLK_T_IN, ~0ULL, gpa, 512,
			self->flags));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  do_io(self->vq, self->r, VIRTIO_BLK_T_OUT, ~0ULL - 7, gpa,
			4096, self->flags));
}

TEST_F(data, straddle_end_ioerr)
{
	uint8_t last[512];
	uint64_t gpa;

	ASSERT_EQ(0, vblk_alloc(self->d, 8192, 4096, &gpa));
	/* Known content in the last sector. */
	ASSERT_EQ(VIRTIO_BLK_S_OK, write_pattern(self->vq, self->r, gpa,
						 self->cap - 1, 512,
						 self->seed));
	/* 8 sectors from the last one: 7 past the end. */
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  write_pattern(self->vq, self->r, gpa, self->cap - 1, 4096,
				self->seed + 1));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  do_io(self->vq, self->r, VIRTIO_BLK_T_IN, self->cap - 1, gpa,
			4096, self->flags));
	EXPECT_EQ(0, self->r->used_len);
	/* Two segments: the second one runs past the end. */
	vblk_req_reset(self->r, VIRTIO_BLK_T_OUT, self->cap - 1);
	vblk_req_add_seg(self->r, gpa, 512);
	vblk_req_add_seg(self->r, gpa + 4096, 512);
	ASSERT_EQ(0, vblk_do(self->vq, self->r, self->flags, IO_TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, self->r->status);
	/* The last sector still holds what was written before. */
	ASSERT_EQ(0, blk_direct_io(test_dev(), false, (self->cap - 1) * 512,
				   last, 512));
	EXPECT_EQ(-1, vblk_pattern_check(last, 512, self->cap - 1, self->seed));
}

TEST_F(data, length_not_sector_multiple_ioerr)
{
	static const uint32_t lens[] = { 1, 511, 513, 1000, 4095, 4097 };
	uint8_t *before = malloc(8192), *after = malloc(8192);
	uint64_t gpa;

	ASSERT_NE(NULL, before);
	ASSERT_NE(NULL, after);
	ASSERT_EQ(0, vblk_alloc(self->d, 8192, 4096, &gpa));
	ASSERT_EQ(VIRTIO_BLK_S_OK, write_pattern(self->vq, self->r, gpa, 130000,
						 8192, self->seed));
	ASSERT_EQ(0, blk_direct_io(test_dev(), false, 130000 * 512, before,
				   8192));
	for (size_t i = 0; i < ARRAY_SIZE(lens); i++) {
		EXPECT_EQ(VIRTIO_BLK_S_IOERR,
			  write_pattern(self->vq, self->r, gpa, 130000, lens[i],
					self->seed + 1)) TH_LOG("len %u", lens[i]);
		EXPECT_EQ(VIRTIO_BLK_S_IOERR,
			  do_io(self->vq, self->r, VIRTIO_BLK_T_IN, 130000, gpa,
				lens[i], self->flags)) TH_LOG("len %u", lens[i]);
	}
	/* Two segments of 700 + 300 bytes: 1000 in all. */
	vblk_req_reset(self->r, VIRTIO_BLK_T_OUT, 130000);
	vblk_req_add_seg(self->r, gpa, 700);
	vblk_req_add_seg(self->r, gpa + 4096, 300);
	ASSERT_EQ(0, vblk_do(self->vq, self->r, self->flags, IO_TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, self->r->status);
	/* No partial write happened. */
	ASSERT_EQ(0, blk_direct_io(test_dev(), false, 130000 * 512, after, 8192));
	EXPECT_EQ(0, memcmp(before, after, 8192));
	free(before);
	free(after);
}

/* Post [hdr: @hdr_len readable][data...][status] built by hand. */
static int raw_req(FIXTURE_DATA(data) *self, const struct vblk_buf *bufs,
		   unsigned int n, struct vblk_req *r)
{
	int ret;

	r->done = false;
	ret = vblk_vq_add(self->vq, bufs, n, self->flags, r);
	if (ret < 0)
		return ret;
	ret = vblk_vq_kick(self->vq);
	if (ret)
		return ret;
	return vblk_req_wait(self->vq, r, IO_TIMEOUT_MS);
}

static void put_hdr(FIXTURE_DATA(data) *self, uint64_t gpa, uint32_t type,
		    uint64_t sector)
{
	struct virtio_blk_outhdr h = {
		.type = htole32(type),
		.sector = htole64(sector),
	};

	vblk_mem_write(self->d, gpa, &h, sizeof(h));
}

TEST_F(data, short_header_ioerr)
{
	static const uint32_t hlens[] = { 0, 1, 8, 15 };
	struct vblk_req *r = self->r;
	uint64_t hdr, data, status;
	uint8_t *st, *p;

	ASSERT_EQ(0, vblk_alloc(self->d, 64, 64, &hdr));
	ASSERT_EQ(0, vblk_alloc(self->d, 512, 512, &data));
	ASSERT_EQ(0, vblk_alloc(self->d, 64, 64, &status));
	st = vblk_gpa_to_hva(self->d, status, 1);
	p = vblk_gpa_to_hva(self->d, data, 512);
	/* A full header would say: read sector 0. */
	put_hdr(self, hdr, VIRTIO_BLK_T_IN, 0);
	r->status_gpa = status;
	for (size_t i = 0; i < ARRAY_SIZE(hlens); i++) {
		struct vblk_buf b[3] = {
			{ hdr, hlens[i], false },
			{ data, 512, true },
			{ status, 1, true },
		};
		unsigned int skip = hlens[i] ? 0 : 1;

		*st = 0xff;
		memset(p, 0x5a, 512);
		ASSERT_EQ(0, raw_req(self, b + skip, 3 - skip, r))
			TH_LOG("header of %u bytes", hlens[i]);
		EXPECT_EQ(VIRTIO_BLK_S_IOERR, *st)
			TH_LOG("header of %u bytes", hlens[i]);
		EXPECT_EQ(0x5a, p[0]);
	}
	/* The queue goes on. */
	EXPECT_EQ(VIRTIO_BLK_S_OK, write_pattern(self->vq, r, data, 7, 512,
						 self->seed));
}

TEST_F(data, header_split_across_descriptors)
{
	/* VERSION_1 implies ANY_LAYOUT: the header may span descriptors. */
	struct vblk_req *r = self->r;
	uint64_t hdr, data, status;
	uint8_t *p;

	ASSERT_EQ(0, vblk_alloc(self->d, 4096, 4096, &hdr));
	ASSERT_EQ(0, vblk_alloc(self->d, 4096, 4096, &data));
	ASSERT_EQ(0, vblk_alloc(self->d, 64, 64, &status));
	p = vblk_gpa_to_hva(self->d, data, 4096);
	r->status_gpa = status;

	put_hdr(self, hdr, VIRTIO_BLK_T_OUT, 125000);
	vblk_pattern_fill(p, 4096, 125000, self->seed);
	{
		/* 8 + 8 bytes, the second half far from the first. */
		struct vblk_buf b[4] = {
			{ hdr, 8, false },
			{ hdr + 2048, 8, false },
			{ data, 4096, false },
			{ status, 1, true },
		};

		memmove(vblk_gpa_to_hva(self->d, hdr + 2048, 8),
			vblk_gpa_to_hva(self->d, hdr + 8, 8), 8);
		ASSERT_EQ(0, raw_req(self, b, 4, r));
		EXPECT_EQ(VIRTIO_BLK_S_OK, r->status);
	}
	put_hdr(self, hdr, VIRTIO_BLK_T_IN, 125000);
	memset(p, 0, 4096);
	{
		/* 4 + 12 bytes. */
		struct vblk_buf b[4] = {
			{ hdr, 4, false },
			{ hdr + 1024, 12, false },
			{ data, 4096, true },
			{ status, 1, true },
		};

		memmove(vblk_gpa_to_hva(self->d, hdr + 1024, 12),
			vblk_gpa_to_hva(self->d, hdr + 4, 12), 12);
		ASSERT_EQ(0, raw_req(self, b, 4, r));
		EXPECT_EQ(VIRTIO_BLK_S_OK, r->status);
		EXPECT_EQ(4097, r->used_len);
	}
	EXPECT_EQ(-1, vblk_pattern_check(p, 4096, 125000, self->seed));
}

TEST_F(data, status_in_data_descriptor)
{
	/* ANY_LAYOUT: the status byte may share the last data descriptor. */
	struct vblk_req *r = self->r;
	uint64_t hdr, data;
	uint8_t *p;

	ASSERT_EQ(0, vblk_alloc(self->d, 64, 64, &hdr));
	ASSERT_EQ(0, vblk_alloc(self->d, 8192, 4096, &data));
	p = vblk_gpa_to_hva(self->d, data, 8192);
	ASSERT_EQ(VIRTIO_BLK_S_OK, write_pattern(self->vq, r, data, 126000, 4096,
						 self->seed));
	put_hdr(self, hdr, VIRTIO_BLK_T_IN, 126000);
	memset(p, 0x5a, 8192);
	r->status_gpa = data + 4096;
	{
		struct vblk_buf b[2] = {
			{ hdr, 16, false },
			{ data, 4097, true },
		};

		ASSERT_EQ(0, raw_req(self, b, 2, r));
	}
	EXPECT_EQ(VIRTIO_BLK_S_OK, p[4096]);
	EXPECT_EQ(4097, r->used_len);
	EXPECT_EQ(-1, vblk_pattern_check(p, 4096, 126000, self->seed));
	EXPECT_EQ(0x5a, p[4097]);
}

TEST_F(data, used_len_per_type)
{
	uint64_t gpa;

	ASSERT_EQ(0, vblk_alloc(self->d, 65536, 4096, &gpa));
	/* IN: data + status. */
	EXPECT_EQ(VIRTIO_BLK_S_OK, do_io(self->vq, self->r, VIRTIO_BLK_T_IN,
					 0, gpa, 65536, self->flags));
	EXPECT_EQ(65537, self->r->used_len);
	EXPECT_EQ(VIRTIO_BLK_S_OK, do_io(self->vq, self->r, VIRTIO_BLK_T_IN,
					 0, gpa, 512, self->flags));
	EXPECT_EQ(513, self->r->used_len);
	/* OUT: only the status byte. */
	EXPECT_EQ(VIRTIO_BLK_S_OK, write_pattern(self->vq, self->r, gpa,
						 127000, 65536, self->seed));
	EXPECT_EQ(1, self->r->used_len);
	/* FLUSH: the status byte. */
	EXPECT_EQ(VIRTIO_BLK_S_OK, do_io(self->vq, self->r, VIRTIO_BLK_T_FLUSH,
					 0, 0, 0, self->flags));
	EXPECT_EQ(1, self->r->used_len);
	/* GET_ID: 20 bytes + status. */
	EXPECT_EQ(VIRTIO_BLK_S_OK, do_io(self->vq, self->r, VIRTIO_BLK_T_GET_ID,
					 0, gpa, VIRTIO_BLK_ID_BYTES,
					 self->flags));
	EXPECT_EQ(VIRTIO_BLK_ID_BYTES + 1, self->r->used_len);
}

/* ---- memory layouts and queues, without variants ---- */

FIXTURE(layout) {
	int bfd;
	struct vblk_dev *d;
	uint64_t seed;
};

FIXTURE_SETUP(layout)
{
	self->bfd = open(test_dev(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->bfd);
	self->seed = fresh_seed();
}

FIXTURE_TEARDOWN(layout)
{
	vblk_dev_destroy(self->d);
	close(self->bfd);
}

TEST_F(layout, descriptor_across_adjacent_regions)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	uint8_t *lin = malloc(65536);
	struct vblk_req *r;
	uint64_t g, g2;

	ASSERT_NE(NULL, lin);
	o.layout = VBLK_MEM_ADJACENT;
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->bfd, 0, NULL));
	r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, r);
	/* One 64 KiB descriptor, half in each region. */
	g = self->d->regions[1].gpa - 32768;
	ASSERT_EQ(0, vblk_mem_reserve(self->d, g, 65536));
	ASSERT_EQ(NULL, vblk_gpa_to_hva(self->d, g, 65536));
	vblk_pattern_fill(lin, 65536, 20000, self->seed);
	ASSERT_EQ(0, vblk_mem_write(self->d, g, lin, 65536));
	ASSERT_EQ(VIRTIO_BLK_S_OK, do_io(&self->d->vqs[0], r, VIRTIO_BLK_T_OUT,
					 20000, g, 65536, 0));
	memset(lin, 0, 65536);
	ASSERT_EQ(0, blk_direct_io(test_dev(), false, 20000 * 512, lin, 65536));
	EXPECT_EQ(-1, vblk_pattern_check(lin, 65536, 20000, self->seed));

	/* Read into a buffer crossing at an odd offset. */
	g2 = self->d->regions[1].gpa - 4096 - 100;
	vblk_free(self->d, g, 65536);
	ASSERT_EQ(0, vblk_mem_reserve(self->d, g2, 8192));
	ASSERT_EQ(VIRTIO_BLK_S_OK, do_io(&self->d->vqs[0], r, VIRTIO_BLK_T_IN,
					 20000 + 16, g2, 8192, 0));
	EXPECT_EQ(8193, r->used_len);
	ASSERT_EQ(0, vblk_mem_read(self->d, g2, lin, 8192));
	EXPECT_EQ(-1, vblk_pattern_check(lin, 8192, 20000 + 16, self->seed));
	free(lin);
}

TEST_F(layout, high_guest_physical_addresses)
{
	/* GPAs far above 4 GiB: nothing may truncate them. */
	static const uint64_t bases[] = { 1ULL << 40, 0xfff00000000000ULL };

	for (size_t i = 0; i < ARRAY_SIZE(bases); i++) {
		struct vblk_opts o = VBLK_OPTS_DEFAULT;
		struct vblk_req *r;
		uint64_t gpa;

		o.gpa_base = bases[i];
		o.mem_size = 16 << 20;
		o.layout = VBLK_MEM_SPLIT;
		ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->bfd, 0, NULL));
		r = vblk_req_alloc(self->d);
		ASSERT_NE(NULL, r);
		ASSERT_EQ(0, vblk_alloc_in(self->d, 1, 8192, 4096, &gpa));
		EXPECT_EQ(VIRTIO_BLK_S_OK,
			  write_pattern(&self->d->vqs[0], r, gpa, 21000, 8192,
					self->seed + i));
		EXPECT_EQ(0, check_pattern(&self->d->vqs[0], r, gpa, 21000,
					   8192, self->seed + i));
		vblk_dev_destroy(self->d);
		self->d = NULL;
	}
}

TEST_F(layout, multiqueue)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	enum { PER_Q = 16 };
	unsigned int nq;
	struct vblk_req *r[VHOST_BLK_MAX_QUEUES][PER_Q];
	uint64_t gpa;
	uint8_t *buf;

	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->bfd, 0, NULL));
	if (!vblk_dev_has_feature(self->d, VIRTIO_BLK_F_MQ))
		SKIP(return, "VIRTIO_BLK_F_MQ not offered");
	nq = le16toh(self->d->cfg.num_queues);
	ASSERT_LE(2, nq);
	ASSERT_GE(VHOST_BLK_MAX_QUEUES, nq);
	for (unsigned int q = 1; q < nq; q++) {
		ASSERT_EQ(0, vblk_vq_start(self->d, q, 0));
	}
	ASSERT_EQ(0, vblk_alloc(self->d, nq * PER_Q * 4096, 4096, &gpa));
	buf = vblk_gpa_to_hva(self->d, gpa, nq * PER_Q * 4096);

	/* Every queue writes its own sectors, all at once. */
	for (unsigned int q = 0; q < nq; q++) {
		for (int i = 0; i < PER_Q; i++) {
			unsigned int k = q * PER_Q + i;

			r[q][i] = vblk_req_alloc(self->d);
			ASSERT_NE(NULL, r[q][i]);
			vblk_pattern_fill(buf + k * 4096, 4096, 22000 + 8 * k,
					  self->seed);
			vblk_req_reset(r[q][i], VIRTIO_BLK_T_OUT, 22000 + 8 * k);
			vblk_req_add_seg(r[q][i], gpa + k * 4096, 4096);
			ASSERT_LE(0, vblk_req_submit(&self->d->vqs[q], r[q][i], 0));
		}
	}
	for (unsigned int q = 0; q < nq; q++) {
		ASSERT_EQ(0, vblk_vq_kick(&self->d->vqs[q]));
	}
	for (unsigned int q = 0; q < nq; q++) {
		ASSERT_EQ(0, vblk_vq_drain(&self->d->vqs[q], IO_TIMEOUT_MS));
		for (int i = 0; i < PER_Q; i++) {
			EXPECT_EQ(VIRTIO_BLK_S_OK, r[q][i]->status);
		}
	}
	/* Read back crosswise: queue q reads what queue nq-1-q wrote. */
	memset(buf, 0, nq * PER_Q * 4096);
	for (unsigned int q = 0; q < nq; q++) {
		for (int i = 0; i < PER_Q; i++) {
			unsigned int k = (nq - 1 - q) * PER_Q + i;

			vblk_req_reset(r[q][i], VIRTIO_BLK_T_IN, 22000 + 8 * k);
			vblk_req_add_seg(r[q][i], gpa + k * 4096, 4096);
			ASSERT_LE(0, vblk_req_submit(&self->d->vqs[q], r[q][i], 0));
		}
		ASSERT_EQ(0, vblk_vq_kick(&self->d->vqs[q]));
	}
	for (unsigned int q = 0; q < nq; q++) {
		ASSERT_EQ(0, vblk_vq_drain(&self->d->vqs[q], IO_TIMEOUT_MS));
	}
	for (unsigned int k = 0; k < nq * PER_Q; k++) {
		EXPECT_EQ(-1, vblk_pattern_check(buf + k * 4096, 4096,
						 22000 + 8 * k, self->seed))
			TH_LOG("request %u", k);
	}
}

TEST_F(data, misaligned_over_1m_ioerr)
{
	/*
	 * Buffers at odd addresses need a bounce buffer, which is limited
	 * to 1 MiB per request: 2 MiB in 17 odd segments is refused.
	 */
	struct seg shape[17];
	uint64_t base[17];
	uint8_t *before = malloc(2 << 20), *after = malloc(2 << 20);
	uint32_t left = 2 << 20, seg = vblk_dev_size_max(self->d);

	ASSERT_NE(NULL, before);
	ASSERT_NE(NULL, after);
	if (seg > 128 * 1024)
		seg = 128 * 1024;
	for (int i = 0; i < 17; i++) {
		shape[i].off = 1 + i;
		shape[i].len = i < 16 ? seg - 512 : 0;
		left -= shape[i].len;
	}
	shape[16].len = left;
	ASSERT_GE(seg, left);
	ASSERT_EQ(0, blk_direct_io(test_dev(), false, 8192 * 512ULL, before,
				   2 << 20));
	ASSERT_EQ(0, build(self, self->r, VIRTIO_BLK_T_OUT, 8192, shape, 17,
			   base));
	ASSERT_EQ(0, vblk_do(self->vq, self->r, self->flags, IO_TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, self->r->status);
	unbuild(self, shape, 17, base);
	ASSERT_EQ(0, blk_direct_io(test_dev(), false, 8192 * 512ULL, after,
				   2 << 20));
	EXPECT_EQ(0, memcmp(before, after, 2 << 20));
	/* 1 MiB misaligned is still fine. */
	for (int i = 0; i < 8; i++)
		shape[i] = (struct seg){ .len = 128 * 1024, .off = 3 };
	roundtrip(_metadata, self, 8192, shape, 8);
	free(before);
	free(after);
}

/* ---- DISCARD, WRITE_ZEROES, SECURE_ERASE on the block device ---- */

FIXTURE(discard) {
	int bfd;
	struct vblk_dev *d;
	struct vblk_vq *vq;
	struct vblk_req *r;
	uint64_t table;		/* segment table, 8 KiB */
	uint64_t buf;		/* 256 KiB */
	uint64_t seed;
	uint32_t align;		/* discard_sector_alignment, sectors */
};

FIXTURE_SETUP(discard)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;

	self->bfd = open(test_dev(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->bfd);
	o.mem_size = 16 << 20;
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->bfd, 0, NULL));
	self->vq = &self->d->vqs[0];
	self->r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, self->r);
	ASSERT_EQ(0, vblk_alloc(self->d, 8192, 4096, &self->table));
	ASSERT_EQ(0, vblk_alloc(self->d, 256 * 1024, 4096, &self->buf));
	self->seed = fresh_seed();
	self->align = le32toh(self->d->cfg.discard_sector_alignment);
	if (!self->align)
		self->align = 1;
}

FIXTURE_TEARDOWN(discard)
{
	vblk_dev_destroy(self->d);
	close(self->bfd);
}

struct discard_seg {
	uint64_t sector;
	uint32_t num;
	uint32_t flags;
};

/*
 * Run a DISCARD/WRITE_ZEROES/SECURE_ERASE of @n segments (@bytes of
 * table, default n * 16); the status.
 */
static int discard_req(FIXTURE_DATA(discard) *self, uint32_t type,
		   const struct discard_seg *segs, unsigned int n, uint32_t bytes)
{
	struct virtio_blk_discard_write_zeroes *t;

	t = vblk_gpa_to_hva(self->d, self->table, 8192);
	memset(t, 0, 8192);
	for (unsigned int i = 0; i < n && i < 8192 / sizeof(*t); i++) {
		t[i].sector = htole64(segs[i].sector);
		t[i].num_sectors = htole32(segs[i].num);
		t[i].flags = htole32(segs[i].flags);
	}
	if (!bytes)
		bytes = n * sizeof(*t);
	return do_io(self->vq, self->r, type, 0, self->table, bytes, 0);
}

/* Pattern over [sector, sector + 64) written directly to the backend. */
static void fill64(struct __test_metadata *_metadata,
		   FIXTURE_DATA(discard) *self, uint64_t sector)
{
	uint8_t buf[64 * 512];

	vblk_pattern_fill(buf, sizeof(buf), sector, self->seed);
	ASSERT_EQ(0, blk_direct_io(test_dev(), true, sector * 512, buf,
				   sizeof(buf)));
}

/*
 * 1 if every sector of [sector, sector + 64) holds the pattern except
 * those in [zs, zs + zn) and [zs2, zs2 + zn2), which are zero.
 */
static int check64(FIXTURE_DATA(discard) *self, uint64_t sector, uint64_t zs,
		   uint32_t zn, uint64_t zs2, uint32_t zn2)
{
	static const uint8_t zero[512];
	uint8_t buf[64 * 512];

	if (blk_direct_io(test_dev(), false, sector * 512, buf, sizeof(buf)))
		return 0;
	for (uint64_t s = sector; s < sector + 64; s++) {
		const uint8_t *p = buf + (s - sector) * 512;
		bool z = (s >= zs && s < zs + zn) || (s >= zs2 && s < zs2 + zn2);

		if (z ? memcmp(p, zero, 512) :
			vblk_pattern_check(p, 512, s, self->seed) != -1)
			return 0;
	}
	return 1;
}

/*
 * A driver that did not ack DISCARD, WRITE_ZEROES or SECURE_ERASE gets
 * UNSUPP for them although the backend has them (as a VMM withholding
 * the feature, QEMU's discard=ignore, relies on), and nothing on the
 * disk changes. The same device acked serves them.
 */
TEST_F(discard, not_acked_unsupp)
{
	static const uint32_t types[] = {
		VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES,
		VIRTIO_BLK_T_SECURE_ERASE,
	};
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	struct virtio_blk_discard_write_zeroes *t;
	uint64_t s = 3500, table;
	struct vblk_dev *d;
	struct vblk_req *r;

	fill64(_metadata, self, s);
	o.mem_size = 1 << 20;
	o.features_clear = (1ULL << VIRTIO_BLK_F_DISCARD) |
			   (1ULL << VIRTIO_BLK_F_WRITE_ZEROES) |
			   (1ULL << VIRTIO_BLK_F_SECURE_ERASE);
	ASSERT_EQ(0, vblk_dev_create(&d, &o, self->bfd, 0, NULL));
	ASSERT_FALSE(d->features & o.features_clear);
	r = vblk_req_alloc(d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(d, 4096, 4096, &table));
	t = vblk_gpa_to_hva(d, table, 4096);
	t->sector = htole64(s);
	t->num_sectors = htole32(64);
	t->flags = 0;
	for (unsigned int i = 0; i < ARRAY_SIZE(types); i++) {
		EXPECT_EQ(VIRTIO_BLK_S_UNSUPP,
			  do_io(&d->vqs[0], r, types[i], 0, table, sizeof(*t),
				0)) TH_LOG("type %u", types[i]);
	}
	t->flags = htole32(VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	EXPECT_EQ(VIRTIO_BLK_S_UNSUPP,
		  do_io(&d->vqs[0], r, VIRTIO_BLK_T_WRITE_ZEROES, 0, table,
			sizeof(*t), 0));
	EXPECT_EQ(1, check64(self, s, 0, 0, 0, 0));
	vblk_dev_destroy(d);

	/* Acked, on the fixture's device: served. */
	ASSERT_TRUE(self->d->features & (1ULL << VIRTIO_BLK_F_WRITE_ZEROES));
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  discard_req(self, VIRTIO_BLK_T_WRITE_ZEROES,
			  &(struct discard_seg){ s + 8, 8, 0 }, 1, 0));
	EXPECT_EQ(1, check64(self, s, s + 8, 8, 0, 0));
}

TEST_F(discard, config_fields)
{
	const struct virtio_blk_config *c = &self->d->cfg;

	ASSERT_TRUE(self->d->cfg_features & (1ULL << VIRTIO_BLK_F_WRITE_ZEROES));
	EXPECT_EQ(256, le32toh(c->max_write_zeroes_seg));
	EXPECT_LT(0, le32toh(c->max_write_zeroes_sectors));
	if (self->d->cfg_features & (1ULL << VIRTIO_BLK_F_DISCARD)) {
		EXPECT_EQ(256, le32toh(c->max_discard_seg));
		EXPECT_LT(0, le32toh(c->max_discard_sectors));
		EXPECT_LT(0, le32toh(c->discard_sector_alignment));
	}
}

TEST_F(discard, write_zeroes_ranges)
{
	static const uint32_t flags[] = { 0, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP };

	for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
		uint64_t s = 3000 + 64 * i;
		struct discard_seg segs[2] = {
			{ s + 8, 8, flags[i] }, { s + 33, 5, flags[i] },
		};

		fill64(_metadata, self, s);
		ASSERT_EQ(1, check64(self, s, 0, 0, 0, 0));
		EXPECT_EQ(VIRTIO_BLK_S_OK,
			  discard_req(self, VIRTIO_BLK_T_WRITE_ZEROES, segs, 2, 0));
		EXPECT_EQ(1, self->r->used_len);
		EXPECT_EQ(1, check64(self, s, s + 8, 8, s + 33, 5))
			TH_LOG("flags %#x", flags[i]);
		/* Reads through the device agree. */
		EXPECT_EQ(VIRTIO_BLK_S_OK,
			  do_io(self->vq, self->r, VIRTIO_BLK_T_IN, s + 8,
				self->buf, 4096, 0));
		{
			static const uint8_t zero[4096];

			EXPECT_EQ(0, memcmp(vblk_gpa_to_hva(self->d, self->buf,
							    4096),
					    zero, 4096));
		}
	}
}

TEST_F(discard, discard_ok)
{
	uint64_t s = 3200;
	struct discard_seg seg = { s, 4 * self->align, 0 };

	if (!(self->d->cfg_features & (1ULL << VIRTIO_BLK_F_DISCARD)))
		SKIP(return, "backend without discard");
	fill64(_metadata, self, s);
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  discard_req(self, VIRTIO_BLK_T_DISCARD, &seg, 1, 0));
	EXPECT_EQ(1, self->r->used_len);
	/* What a discarded range reads back as is unspecified; it reads. */
	EXPECT_EQ(VIRTIO_BLK_S_OK, do_io(self->vq, self->r, VIRTIO_BLK_T_IN, s,
					 self->buf, 4096, 0));
	/* The rest is untouched. */
	if (4 * self->align < 64) {
		uint8_t buf[64 * 512];
		uint32_t n = 64 - 4 * self->align;

		ASSERT_EQ(0, blk_direct_io(test_dev(), false,
					   (s + 4 * self->align) * 512, buf,
					   n * 512));
		EXPECT_EQ(-1, vblk_pattern_check(buf, n * 512,
						 s + 4 * self->align,
						 self->seed));
	}
}

TEST_F(discard, bad_tables)
{
	const struct virtio_blk_config *c = &self->d->cfg;
	uint64_t s = 3300, cap = vblk_dev_capacity(self->d);
	struct discard_seg segs[300];
	struct discard_seg good = { s + 8, 8, 0 };

	fill64(_metadata, self, s);
	for (int i = 0; i < 300; i++)
		segs[i] = good;

	/* Flags other than UNMAP: UNSUPP. */
	segs[0].flags = 2;
	EXPECT_EQ(VIRTIO_BLK_S_UNSUPP,
		  discard_req(self, VIRTIO_BLK_T_WRITE_ZEROES, segs, 1, 0));
	segs[0].flags = 0;
	/* UNMAP on DISCARD: UNSUPP. */
	if (self->d->cfg_features & (1ULL << VIRTIO_BLK_F_DISCARD)) {
		struct discard_seg d = { s, self->align,
				     VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP };

		EXPECT_EQ(VIRTIO_BLK_S_UNSUPP,
			  discard_req(self, VIRTIO_BLK_T_DISCARD, &d, 1, 0));
	}
	/* Empty table, or not whole segments: IOERR. */
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  do_io(self->vq, self->r, VIRTIO_BLK_T_WRITE_ZEROES, 0, 0, 0,
			0));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  discard_req(self, VIRTIO_BLK_T_WRITE_ZEROES, segs, 1, 20));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  discard_req(self, VIRTIO_BLK_T_WRITE_ZEROES, segs, 1, 8));
	/* More than max_write_zeroes_seg (256) segments: IOERR. */
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  discard_req(self, VIRTIO_BLK_T_WRITE_ZEROES, segs, 257, 0));
	/* Past the end, straddling the end, and wrapping: IOERR. */
	segs[1] = (struct discard_seg){ cap, 1, 0 };
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  discard_req(self, VIRTIO_BLK_T_WRITE_ZEROES, segs, 2, 0));
	segs[1] = (struct discard_seg){ cap - 8, 16, 0 };
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  discard_req(self, VIRTIO_BLK_T_WRITE_ZEROES, segs, 2, 0));
	segs[1] = (struct discard_seg){ ~0ULL - 3, 8, 0 };
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  discard_req(self, VIRTIO_BLK_T_WRITE_ZEROES, segs, 2, 0));
	/* Above max_write_zeroes_sectors: IOERR. */
	if (le32toh(c->max_write_zeroes_sectors) < cap) {
		segs[1] = (struct discard_seg){
			0, le32toh(c->max_write_zeroes_sectors) + 1, 0 };
		EXPECT_EQ(VIRTIO_BLK_S_IOERR,
			  discard_req(self, VIRTIO_BLK_T_WRITE_ZEROES, segs, 2, 0));
	}
	/*
	 * The whole table is checked first: the good segment 0 of every
	 * refused request was never zeroed.
	 */
	EXPECT_EQ(1, check64(self, s, 0, 0, 0, 0));
	/* 256 segments is fine. */
	segs[1] = good;
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  discard_req(self, VIRTIO_BLK_T_WRITE_ZEROES, segs, 256, 0));
	EXPECT_EQ(1, check64(self, s, s + 8, 8, 0, 0));
}

TEST_F(discard, secure_erase_unsupported)
{
	struct discard_seg seg = { 3400, 8, 0 };

	if (self->d->cfg_features & (1ULL << VIRTIO_BLK_F_SECURE_ERASE))
		SKIP(return, "backend supports secure erase");
	fill64(_metadata, self, 3400);
	EXPECT_EQ(VIRTIO_BLK_S_UNSUPP,
		  discard_req(self, VIRTIO_BLK_T_SECURE_ERASE, &seg, 1, 0));
	EXPECT_EQ(1, check64(self, 3400, 0, 0, 0, 0));
}

TEST_F(discard, read_only_refuses)
{
	struct discard_seg seg = { 3500, 8, 0 };
	uint64_t f = 0;
	unsigned int base;

	fill64(_metadata, self, 3500);
	ASSERT_EQ(0, vblk_vq_stop(self->vq, &base));
	ASSERT_EQ(0, vhost_blk_set_backend(self->d->fd, self->bfd,
					   VHOST_BLK_BACKEND_F_RO, NULL));
	ASSERT_EQ(0, vhost_blk_get_config(self->d->fd, &self->d->cfg, &f,
					  NULL));
	EXPECT_TRUE(f & (1ULL << VIRTIO_BLK_F_RO));
	EXPECT_FALSE(f & (1ULL << VIRTIO_BLK_F_DISCARD));
	EXPECT_FALSE(f & (1ULL << VIRTIO_BLK_F_WRITE_ZEROES));
	EXPECT_FALSE(f & (1ULL << VIRTIO_BLK_F_SECURE_ERASE));
	ASSERT_EQ(0, vblk_vq_restart(self->vq, base));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  discard_req(self, VIRTIO_BLK_T_WRITE_ZEROES, &seg, 1, 0));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  discard_req(self, VIRTIO_BLK_T_DISCARD, &seg, 1, 0));
	EXPECT_EQ(1, check64(self, 3500, 0, 0, 0, 0));
}

/* ---- call suppression ---- */

/* Wait up to IO_TIMEOUT_MS for used->idx to reach @idx, without reaping. */
static int wait_used(struct vblk_vq *vq, uint16_t idx)
{
	for (int i = 0; i < IO_TIMEOUT_MS / 5; i++) {
		if (vblk_vq_used_idx(vq) == idx)
			return 0;
		usleep(5000);
	}
	return -ETIMEDOUT;
}

TEST_F(layout, no_interrupt_flag)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	struct vblk_req *r;
	struct vblk_vq *vq;
	uint64_t gpa;

	/* Without EVENT_IDX, VRING_AVAIL_F_NO_INTERRUPT silences calls. */
	o.features_clear = F(VIRTIO_RING_F_EVENT_IDX);
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->bfd, 0, NULL));
	vq = &self->d->vqs[0];
	r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(self->d, 4096, 4096, &gpa));
	vq->avail->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	vblk_req_reset(r, VIRTIO_BLK_T_IN, 0);
	vblk_req_add_seg(r, gpa, 4096);
	ASSERT_LE(0, vblk_req_submit(vq, r, 0));
	ASSERT_EQ(0, vblk_vq_kick(vq));
	ASSERT_EQ(0, wait_used(vq, 1));
	EXPECT_EQ(0, vblk_vq_wait(vq, QUIET_MS));
	/* Flag cleared: the next completion calls. */
	vq->avail->flags = 0;
	vblk_vq_reap(vq, NULL, UINT_MAX);
	ASSERT_TRUE(r->done);
	vblk_req_reset(r, VIRTIO_BLK_T_IN, 0);
	vblk_req_add_seg(r, gpa, 4096);
	ASSERT_LE(0, vblk_req_submit(vq, r, 0));
	ASSERT_EQ(0, vblk_vq_kick(vq));
	EXPECT_EQ(1, vblk_vq_wait(vq, IO_TIMEOUT_MS));
}

TEST_F(layout, used_event_suppresses_calls)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	uint16_t *used_event;
	struct vblk_req *r[5];
	struct vblk_vq *vq;
	uint64_t gpa;

	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->bfd, 0, NULL));
	vq = &self->d->vqs[0];
	ASSERT_TRUE(vq->event_idx);
	used_event = (uint16_t *)&vq->avail->ring[vq->num];
	ASSERT_EQ(0, vblk_alloc(self->d, 5 * 4096, 4096, &gpa));
	for (int i = 0; i < 5; i++) {
		r[i] = vblk_req_alloc(self->d);
		ASSERT_NE(NULL, r[i]);
		vblk_req_reset(r[i], VIRTIO_BLK_T_IN, 8 * i);
		vblk_req_add_seg(r[i], gpa + i * 4096, 4096);
	}
	/*
	 * One request the usual way (the first call after a start may
	 * come regardless of used_event).
	 */
	ASSERT_EQ(0, vblk_do(vq, r[0], 0, IO_TIMEOUT_MS));
	/*
	 * The device publishes the used index before it signals: if
	 * vblk_do() saw the index first, that call is still on its way.
	 */
	vblk_vq_wait(vq, QUIET_MS);
	/* Ask for a call only when the used index passes 4. */
	*used_event = htole16(4);
	for (int i = 1; i < 4; i++) {
		ASSERT_LE(0, vblk_req_submit(vq, r[i], 0));
		ASSERT_EQ(0, vblk_vq_kick(vq));
		ASSERT_EQ(0, wait_used(vq, i + 1));
	}
	EXPECT_EQ(0, vblk_vq_wait(vq, QUIET_MS));
	/* The fifth makes used->idx pass used_event: a call. */
	ASSERT_LE(0, vblk_req_submit(vq, r[4], 0));
	ASSERT_EQ(0, vblk_vq_kick(vq));
	EXPECT_EQ(1, vblk_vq_wait(vq, IO_TIMEOUT_MS));
	EXPECT_EQ(5, vblk_vq_used_idx(vq));
}

VHOST_BLK_TEST_MAIN
