// SPDX-License-Identifier: GPL-2.0
/*
 * giant: descriptor chains whose device-readable or device-writable part
 * sums to 2^32 bytes or more. Up to 1024 descriptors of up to 4 GiB - 1
 * each may all name the same guest memory, so such a chain costs the
 * guest nothing: here the payload descriptors point at two guest-physical
 * aliases of one 4 GiB range of owner memory that is reserved
 * (MAP_NORESERVE) and never touched but for the header and status bytes
 * some chains keep there.
 *
 * The device must fail such a chain with VIRTIO_BLK_S_IOERR in its status
 * byte, whatever its type and whether its feature was negotiated, without
 * signalling the err eventfd (it is a failed request, not a broken ring),
 * execute nothing, and go on serving the queue. Just below 2^32 bytes the
 * usual rules apply: DISCARD, WRITE_ZEROES and SECURE_ERASE get UNSUPP
 * unless the driver acked their feature (and the backend has it), IOERR
 * for a table of more than 256 segments otherwise, and GET_ID still
 * returns the serial.
 *
 * Every request type that carries a payload is tried with its feature
 * acked and not (DISCARD, WRITE_ZEROES, SECURE_ERASE; the not-acked
 * indirect case negotiates only VERSION_1 and INDIRECT_DESC), and as an
 * indirect table and as a direct chain on a 1024-entry ring (IN, OUT and
 * GET_ID have no feature bit: that is what varies for them). Payloads:
 * the readable or writable part exactly 2^32 - 1 bytes, 2^32, 2^32 + 16,
 * 2^36 + 16 (a 16-byte header, one 8 KiB buffer, 255 of 256 MiB, one of
 * 268,427,280 bytes and the status byte) and the largest the limits allow:
 * 1024 descriptors of 2^32 - 1 bytes, header and status inside them.
 *
 * The backend is a null_blk device with discard (made through configfs),
 * or VHOST_BLK_TEST_DEV without configfs. No backend of the test VM
 * supports SECURE_ERASE: its acked case gets UNSUPP below 2^32.
 */
#include "kselftest_harness.h"
#include "vhost_blk_test.h"

#define QSIZE		1024			/* ring entries: direct chains */
#define DESC_MAX	1024			/* buffers per chain */
#define BIG_SIZE	(1ULL << 32)		/* owner range of the aliases */
#define BIG_GPA_A	0x10000000000ULL	/* 1 TiB */
#define BIG_GPA_B	0x20000000000ULL	/* 2 TiB */
#define CHUNK		(256ULL << 20)		/* payload descriptors */
#define LEAD		8192			/* first payload buffer */
#define SECTOR		2048			/* the header's sector */
#define DATA_LEN	8192			/* pattern at SECTOR */
#define SERIAL		"giant-chain-serial-0"	/* 20 bytes */
#define NULLB_GIANT	"vhost-blk-giant"

/* Payload sizes: the data between the 16-byte header and the status. */
enum giant_size {
	/* the readable (or writable) part exactly 2^32 - 1 bytes */
	SZ_BELOW,
	SZ_2P32,		/* 2^32 */
	SZ_2P32_16,		/* 2^32 + 16 */
	SZ_2P36_16,		/* 2^36 + 16 */
	SZ_MAX,			/* 1024 x (2^32 - 1) - 17 */
};

/* Features the not-acked indirect case keeps: as in the report. */
#define BARE_FEATURES	((1ULL << VIRTIO_F_VERSION_1) |		\
			 (1ULL << VIRTIO_RING_F_INDIRECT_DESC))
#define ALL_BUT(f)	(~(uint64_t)(f))
#define NO_INDIRECT	(1ULL << VIRTIO_RING_F_INDIRECT_DESC)

struct gdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
};

FIXTURE(giant) {
	int bfd;
	char path[PATH_MAX];
	uint8_t *big;		/* BIG_SIZE, behind BIG_GPA_A and BIG_GPA_B */
	struct vblk_dev *d;
	struct vblk_vq *vq;
	struct vblk_req *good;
	uint64_t hdr;		/* 16-byte header */
	uint64_t lead;		/* LEAD bytes */
	uint64_t status;	/* 1 byte */
	uint64_t table;		/* DESC_MAX indirect entries */
	uint64_t buf;		/* 64 KiB for the verified I/O */
	uint64_t seed;
	struct gdesc gd[DESC_MAX];
	uint16_t ids[DESC_MAX];
};

FIXTURE_SETUP(giant)
{
	static const char *const attrs[] = {
		"size=64", "blocksize=512", "memory_backed=1", "discard=1",
		NULL,
	};

	self->d = NULL;
	if (nullb_get(NULLB_GIANT, attrs, self->path, sizeof(self->path))) {
		TH_LOG("no configfs null_blk: using %s", test_dev());
		snprintf(self->path, sizeof(self->path), "%s", test_dev());
	}
	self->bfd = open(self->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->bfd) TH_LOG("%s: %s", self->path, strerror(errno));
	self->big = mmap(NULL, BIG_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->big) TH_LOG("mmap 4 GiB: %s",
						 strerror(errno));
}

FIXTURE_TEARDOWN(giant)
{
	vblk_dev_destroy(self->d);
	if (self->big != MAP_FAILED)
		munmap(self->big, BIG_SIZE);
	close(self->bfd);
}

/*
 * The device with @clear not acked, its memory table extended by the two
 * aliases of the big range, and a pattern at SECTOR that any request
 * served by mistake would change.
 */
static void start(struct __test_metadata *_metadata, FIXTURE_DATA(giant) *self,
		  uint64_t clear)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	struct vhost_memory_region r[VBLK_MAX_REGIONS + 2];
	unsigned int n;

	o.queue_size = QSIZE;
	o.mem_size = 16 << 20;
	o.features_clear = clear;
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->bfd, 0, SERIAL));
	n = vblk_dev_mem_regions(self->d, r);
	r[n++] = (struct vhost_memory_region){
		.guest_phys_addr = BIG_GPA_A,
		.memory_size = BIG_SIZE,
		.userspace_addr = (uintptr_t)self->big,
	};
	r[n++] = (struct vhost_memory_region){
		.guest_phys_addr = BIG_GPA_B,
		.memory_size = BIG_SIZE,
		.userspace_addr = (uintptr_t)self->big,
	};
	ASSERT_EQ(0, vhost_blk_set_mem_table(self->d->fd, r, n));
	self->vq = &self->d->vqs[0];
	self->good = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, self->good);
	ASSERT_EQ(0, vblk_alloc(self->d, 16, 64, &self->hdr));
	ASSERT_EQ(0, vblk_alloc(self->d, LEAD, 4096, &self->lead));
	ASSERT_EQ(0, vblk_alloc(self->d, 1, 64, &self->status));
	ASSERT_EQ(0, vblk_alloc(self->d, DESC_MAX * 16, 4096, &self->table));
	ASSERT_EQ(0, vblk_alloc(self->d, 65536, 4096, &self->buf));
	self->seed = fresh_seed();
	ASSERT_EQ(VIRTIO_BLK_S_OK, write_pattern(self->vq, self->good,
						 self->buf, SECTOR, DATA_LEN,
						 self->seed));
}

static bool payload_writable(uint32_t type)
{
	return type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
}

static uint64_t payload_len(enum giant_size size, bool w)
{
	switch (size) {
	case SZ_BELOW:
		/* The part holding the payload: exactly 2^32 - 1 bytes. */
		return w ? UINT32_MAX - 1ULL : UINT32_MAX - 16ULL;
	case SZ_2P32:
		return 1ULL << 32;
	case SZ_2P32_16:
		return (1ULL << 32) + 16;
	case SZ_2P36_16:
		return (1ULL << 36) + 16;
	case SZ_MAX:
	default:
		return DESC_MAX * (uint64_t)UINT32_MAX - 17;
	}
}

static uint64_t alias(unsigned int i)
{
	return i % 2 ? BIG_GPA_B : BIG_GPA_A;
}

/*
 * Lay out the chain of @type with a payload of @size in self->gd and
 * write its header; the number of descriptors, and where the status
 * byte is in @st.
 */
static unsigned int build(FIXTURE_DATA(giant) *self, uint32_t type,
			  enum giant_size size, uint8_t **st)
{
	struct virtio_blk_outhdr h = {
		.type = htole32(type),
		.sector = htole64(SECTOR),
	};
	bool w = payload_writable(type);
	uint16_t pf = w ? VRING_DESC_F_WRITE : 0;
	struct gdesc *d = self->gd;
	uint64_t rest;
	unsigned int n = 0;

	if (size == SZ_MAX) {
		/*
		 * Every descriptor 2^32 - 1 bytes from offset 0 of an alias:
		 * the header is the first 16 bytes of the first, the status
		 * the last byte of the last.
		 */
		for (n = 0; n < DESC_MAX; n++) {
			bool wr = w ? n > 0 : n == DESC_MAX - 1;

			d[n] = (struct gdesc){ alias(n), UINT32_MAX,
					       wr ? VRING_DESC_F_WRITE : 0 };
		}
		memcpy(self->big, &h, sizeof(h));
		*st = self->big + UINT32_MAX - 1;
		return n;
	}

	vblk_mem_write(self->d, self->hdr, &h, sizeof(h));
	d[n++] = (struct gdesc){ self->hdr, 16, 0 };
	/* One 8 KiB buffer, then 256 MiB pieces, all aliased. */
	d[n++] = (struct gdesc){ self->lead, LEAD, pf };
	rest = payload_len(size, w) - LEAD;
	for (unsigned int i = 0; rest; i++) {
		uint32_t len = rest < CHUNK ? rest : CHUNK;

		d[n++] = (struct gdesc){ alias(i), len, pf };
		rest -= len;
	}
	d[n++] = (struct gdesc){ self->status, 1, VRING_DESC_F_WRITE };
	*st = vblk_gpa_to_hva(self->d, self->status, 1);
	return n;
}

/* Fill the 8 KiB lead buffer with what a served request would consume. */
static void fill_lead(FIXTURE_DATA(giant) *self, uint32_t type)
{
	uint8_t *p = vblk_gpa_to_hva(self->d, self->lead, LEAD);
	struct virtio_blk_discard_write_zeroes s = {
		.sector = htole64(SECTOR),
		.num_sectors = htole32(DATA_LEN / 512),
	};

	if (payload_writable(type)) {
		memset(p, 0x5a, LEAD);
	} else if (type == VIRTIO_BLK_T_OUT) {
		vblk_pattern_fill(p, LEAD, SECTOR, ~self->seed);
	} else {
		/* Valid segments over the pattern: all of them. */
		for (unsigned int i = 0; i < LEAD / sizeof(s); i++)
			memcpy(p + i * sizeof(s), &s, sizeof(s));
	}
}

/* Post self->gd[0..n) directly or as an indirect table; the head. */
static int post(FIXTURE_DATA(giant) *self, unsigned int n, bool indirect,
		struct vblk_req *r)
{
	struct vblk_vq *vq = self->vq;
	const struct gdesc *d = self->gd;

	if (indirect) {
		struct vring_desc *t = vblk_gpa_to_hva(self->d, self->table,
						       DESC_MAX * 16);

		for (unsigned int i = 0; i < n; i++) {
			t[i].addr = htole64(d[i].addr);
			t[i].len = htole32(d[i].len);
			t[i].flags = htole16(d[i].flags |
					     (i + 1 < n ? VRING_DESC_F_NEXT : 0));
			t[i].next = htole16(i + 1 < n ? i + 1 : 0);
		}
		if (vblk_vq_alloc_desc(vq, 1, self->ids))
			return -ENOSPC;
		vblk_vq_set_desc(vq, self->ids[0], self->table, n * 16,
				 VRING_DESC_F_INDIRECT, 0);
		return vblk_vq_post_raw(vq, self->ids, 1, r);
	}
	if (vblk_vq_alloc_desc(vq, n, self->ids))
		return -ENOSPC;
	for (unsigned int i = 0; i < n; i++)
		vblk_vq_set_desc(vq, self->ids[i], d[i].addr, d[i].len,
				 d[i].flags | (i + 1 < n ? VRING_DESC_F_NEXT : 0),
				 i + 1 < n ? self->ids[i + 1] : 0);
	return vblk_vq_post_raw(vq, self->ids, n, r);
}

static unsigned int feature_bit(uint32_t type)
{
	switch (type) {
	case VIRTIO_BLK_T_DISCARD:
		return VIRTIO_BLK_F_DISCARD;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return VIRTIO_BLK_F_WRITE_ZEROES;
	default:
		return VIRTIO_BLK_F_SECURE_ERASE;
	}
}

/* The status the device owes a chain of @type and @size. */
static uint8_t want_status(FIXTURE_DATA(giant) *self, uint32_t type,
			   enum giant_size size)
{
	unsigned int bit;

	if (size != SZ_BELOW)
		return VIRTIO_BLK_S_IOERR;
	switch (type) {
	case VIRTIO_BLK_T_GET_ID:
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		/* Larger than seg_max * size_max. */
		return VIRTIO_BLK_S_IOERR;
	default:
		bit = feature_bit(type);
		/* Acked and backed: then more than 256 segments. */
		if (vblk_dev_has_feature(self->d, bit) &&
		    (self->d->cfg_features & (1ULL << bit)))
			return VIRTIO_BLK_S_IOERR;
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/*
 * Send the giant chain of @type and @size on a device that did not ack
 * @clear, as an indirect table or a direct chain, and check its status
 * byte, its used entry, the err eventfd, that nothing was executed, and
 * that the queue then serves a verified write and read.
 */
static void giant(struct __test_metadata *_metadata, FIXTURE_DATA(giant) *self,
		  uint32_t type, uint64_t clear, bool indirect,
		  enum giant_size size, uint8_t want)
{
	struct vblk_req r = { .head = -1 };
	bool w = payload_writable(type);
	uint8_t *lead, *st;
	uint64_t in_len;
	uint32_t want_len;
	unsigned int n;
	int head;

	start(_metadata, self, clear);
	ASSERT_EQ(indirect, vblk_dev_has_feature(self->d,
					VIRTIO_RING_F_INDIRECT_DESC));
	/* The name of the test says what it expects: keep it true. */
	ASSERT_EQ(want, want_status(self, type, size))
		TH_LOG("backend features %#" PRIx64 ", acked %#" PRIx64,
		       self->d->cfg_features, self->d->features);

	fill_lead(self, type);
	n = build(self, type, size, &st);
	*st = 0xff;
	head = post(self, n, indirect, &r);
	ASSERT_LE(0, head) TH_LOG("%u descriptors: %s", n, strerror(-head));
	ASSERT_EQ(0, vblk_vq_kick_force(self->vq));
	ASSERT_EQ(0, vblk_req_wait(self->vq, &r, IO_TIMEOUT_MS))
		TH_LOG("the chain of %u descriptors never came back", n);

	/* used.len: 0 for a failed request, 1 if the status was all. */
	if (size == SZ_MAX)
		in_len = (w ? DESC_MAX - 1 : 1) * (uint64_t)UINT32_MAX;
	else
		in_len = w ? payload_len(size, w) + 1 : 1;
	want_len = want == VIRTIO_BLK_S_OK ? VHOST_BLK_SERIAL_LEN :
		   in_len == 1 ? 1 : 0;
	EXPECT_EQ(head, r.head);
	EXPECT_EQ(want, *st);
	EXPECT_EQ(want_len, r.used_len);
	EXPECT_EQ(0, efd_fired(self->vq->err_fd, 0))
		TH_LOG("a failed request is not a guest error");

	/* Nothing executed: the lead buffer and the disk are as they were. */
	lead = vblk_gpa_to_hva(self->d, self->lead, LEAD);
	if (want == VIRTIO_BLK_S_OK)
		EXPECT_EQ(0, memcmp(lead, SERIAL, VHOST_BLK_SERIAL_LEN));
	for (unsigned int i = want == VIRTIO_BLK_S_OK ?
	     VHOST_BLK_SERIAL_LEN : 0; w && i < LEAD; i++) {
		ASSERT_EQ(0x5a, lead[i]) TH_LOG("lead byte %u written", i);
	}
	EXPECT_EQ(0, check_pattern(self->vq, self->good, self->buf, SECTOR,
				   DATA_LEN, self->seed))
		TH_LOG("the data at sector %d changed", SECTOR);

	/* The same queue serves on: a fresh verified write and read. */
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  write_pattern(self->vq, self->good, self->buf, SECTOR + 64,
				DATA_LEN, self->seed + 1));
	EXPECT_EQ(0, check_pattern(self->vq, self->good, self->buf,
				   SECTOR + 64, DATA_LEN, self->seed + 1));
	EXPECT_EQ(0, efd_fired(self->vq->err_fd, 0));
	EXPECT_EQ(0, vblk_vq_pending(self->vq));
	EXPECT_EQ(0, self->vq->inflight);
}

/*
 * Five tests per request type and negotiation: NAME_below_2p32_<status>,
 * NAME_2p32_ioerr, NAME_2p32_plus_16_ioerr, NAME_2p36_plus_16_ioerr and
 * NAME_max_ioerr.
 */
#define GIANT_TESTS(name, type, clear, indirect, below, below_st)	\
TEST_F_TIMEOUT(giant, name##_below_2p32_##below, 60)			\
{									\
	giant(_metadata, self, type, clear, indirect, SZ_BELOW,		\
	      below_st);						\
}									\
TEST_F_TIMEOUT(giant, name##_2p32_ioerr, 60)				\
{									\
	giant(_metadata, self, type, clear, indirect, SZ_2P32,		\
	      VIRTIO_BLK_S_IOERR);					\
}									\
TEST_F_TIMEOUT(giant, name##_2p32_plus_16_ioerr, 60)			\
{									\
	giant(_metadata, self, type, clear, indirect, SZ_2P32_16,	\
	      VIRTIO_BLK_S_IOERR);					\
}									\
TEST_F_TIMEOUT(giant, name##_2p36_plus_16_ioerr, 60)			\
{									\
	giant(_metadata, self, type, clear, indirect, SZ_2P36_16,	\
	      VIRTIO_BLK_S_IOERR);					\
}									\
TEST_F_TIMEOUT(giant, name##_max_ioerr, 60)				\
{									\
	giant(_metadata, self, type, clear, indirect, SZ_MAX,		\
	      VIRTIO_BLK_S_IOERR);					\
}

#define IOERR	VIRTIO_BLK_S_IOERR
#define UNSUPP	VIRTIO_BLK_S_UNSUPP
#define OK	VIRTIO_BLK_S_OK

GIANT_TESTS(in_indirect, VIRTIO_BLK_T_IN, 0, true, ioerr, IOERR)
GIANT_TESTS(in_direct, VIRTIO_BLK_T_IN, NO_INDIRECT, false, ioerr, IOERR)
GIANT_TESTS(out_indirect, VIRTIO_BLK_T_OUT, 0, true, ioerr, IOERR)
GIANT_TESTS(out_direct, VIRTIO_BLK_T_OUT, NO_INDIRECT, false, ioerr, IOERR)
GIANT_TESTS(get_id_indirect, VIRTIO_BLK_T_GET_ID, 0, true, serial, OK)
GIANT_TESTS(get_id_direct, VIRTIO_BLK_T_GET_ID, NO_INDIRECT, false, serial,
	    OK)

GIANT_TESTS(discard_acked_indirect, VIRTIO_BLK_T_DISCARD, 0, true, ioerr,
	    IOERR)
GIANT_TESTS(discard_acked_direct, VIRTIO_BLK_T_DISCARD, NO_INDIRECT, false,
	    ioerr, IOERR)
GIANT_TESTS(discard_unacked_indirect, VIRTIO_BLK_T_DISCARD,
	    ALL_BUT(BARE_FEATURES), true, unsupp, UNSUPP)
GIANT_TESTS(discard_unacked_direct, VIRTIO_BLK_T_DISCARD,
	    ALL_BUT(1ULL << VIRTIO_F_VERSION_1), false, unsupp, UNSUPP)

GIANT_TESTS(write_zeroes_acked_indirect, VIRTIO_BLK_T_WRITE_ZEROES, 0, true,
	    ioerr, IOERR)
GIANT_TESTS(write_zeroes_acked_direct, VIRTIO_BLK_T_WRITE_ZEROES,
	    NO_INDIRECT, false, ioerr, IOERR)
GIANT_TESTS(write_zeroes_unacked_indirect, VIRTIO_BLK_T_WRITE_ZEROES,
	    ALL_BUT(BARE_FEATURES), true, unsupp, UNSUPP)
GIANT_TESTS(write_zeroes_unacked_direct, VIRTIO_BLK_T_WRITE_ZEROES,
	    ALL_BUT(1ULL << VIRTIO_F_VERSION_1), false, unsupp, UNSUPP)

/* No backend of the test VM has SECURE_ERASE: UNSUPP even when acked. */
GIANT_TESTS(secure_erase_acked_indirect, VIRTIO_BLK_T_SECURE_ERASE, 0, true,
	    unsupp_no_backend, UNSUPP)
GIANT_TESTS(secure_erase_acked_direct, VIRTIO_BLK_T_SECURE_ERASE,
	    NO_INDIRECT, false, unsupp_no_backend, UNSUPP)
GIANT_TESTS(secure_erase_unacked_indirect, VIRTIO_BLK_T_SECURE_ERASE,
	    ALL_BUT(BARE_FEATURES), true, unsupp, UNSUPP)
GIANT_TESTS(secure_erase_unacked_direct, VIRTIO_BLK_T_SECURE_ERASE,
	    ALL_BUT(1ULL << VIRTIO_F_VERSION_1), false, unsupp, UNSUPP)

VHOST_BLK_TEST_MAIN
