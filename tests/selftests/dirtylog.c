// SPDX-License-Identifier: GPL-2.0
/*
 * dirtylog: the dirty log of live migration (VHOST_F_LOG_ALL,
 * VHOST_SET_LOG_BASE, VHOST_SET_LOG_FD, VHOST_VRING_F_LOG).
 *
 * With logging on, every guest page the device writes is logged - the
 * data of reads (in place and bounced), the GET_ID serial, status bytes,
 * also of refused chains - and nothing else is, but for the used ring,
 * which is logged at its guest-physical address as vhost does. Bits of
 * the data are set before the used entry is visible; the log eventfd
 * fires. Logging off leaves the bitmap alone. A log the device cannot
 * write fails the read cleanly; bad log arguments give exact errors, and
 * logging needs a log (no NULL base). A GET_ID copy that faults part-way
 * still logs what it wrote.
 * Run with and without VIRTIO_RING_F_EVENT_IDX.
 */
#include "kselftest_harness.h"
#include "vhost_blk_test.h"

#define PAGE		4096ULL
#define QSIZE		64
#define SERIAL		"dirtylog-serial-0123"

struct range {
	uint64_t gpa;
	uint64_t len;
};

FIXTURE(dl) {
	int bfd;
	struct vblk_dev *d;
	struct vblk_vq *vq;
	struct vblk_req *r;
	uint64_t buf;		/* 64 KiB, page aligned */
	uint64_t seed;
};

FIXTURE_VARIANT(dl) {
	bool event_idx;
};

FIXTURE_VARIANT_ADD(dl, event_idx) {
	.event_idx = true,
};

FIXTURE_VARIANT_ADD(dl, no_event_idx) {
	.event_idx = false,
};

FIXTURE_SETUP(dl)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;

	self->bfd = open(test_dev(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->bfd) TH_LOG("%s: %s", test_dev(), strerror(errno));
	o.queue_size = QSIZE;
	o.mem_size = 16 << 20;
	o.populate = true;
	if (!variant->event_idx)
		o.features_clear = 1ULL << VIRTIO_RING_F_EVENT_IDX;
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->bfd, 0, SERIAL));
	self->vq = &self->d->vqs[0];
	ASSERT_EQ(variant->event_idx, self->vq->event_idx);
	self->r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, self->r);
	ASSERT_EQ(0, vblk_alloc(self->d, 65536, 4096, &self->buf));
	self->seed = fresh_seed();
}

FIXTURE_TEARDOWN(dl)
{
	vblk_dev_destroy(self->d);
	close(self->bfd);
}

/* The used ring, as the device writes it (avail_event included). */
static bool in_used_ring(const struct vblk_vq *vq, uint64_t page)
{
	uint64_t first = vq->used_gpa / PAGE;
	uint64_t last = (vq->used_gpa + 4 + 8ULL * vq->num + 2 - 1) / PAGE;

	return page >= first && page <= last;
}

static bool in_ranges(const struct range *w, unsigned int n, uint64_t page)
{
	for (unsigned int i = 0; i < n; i++)
		if (w[i].len && page >= w[i].gpa / PAGE &&
		    page <= (w[i].gpa + w[i].len - 1) / PAGE)
			return true;
	return false;
}

/*
 * Every page of @w is logged, no page outside @w and the used ring is,
 * and with @used the used ring is (its index was written).
 */
static void check_log(struct __test_metadata *_metadata,
		      FIXTURE_DATA(dl) *self, const struct range *w,
		      unsigned int n, bool used)
{
	const struct vblk_region *reg = &self->d->regions[0];
	unsigned int missing = 0, extra = 0;
	uint64_t first_missing = 0, first_extra = 0;

	/* Below guest memory: nothing at all. */
	for (size_t i = 0; i < reg->gpa / PAGE / 8; i++) {
		if (self->d->log[i]) {
			extra++;
			first_extra = i * 8 * PAGE;
			break;
		}
	}
	for (uint64_t gpa = reg->gpa; gpa < reg->gpa + reg->size;
	     gpa += PAGE) {
		uint64_t page = gpa / PAGE;
		bool logged = vblk_log_test(self->d, gpa);

		if (in_ranges(w, n, page)) {
			if (!logged && !missing++)
				first_missing = gpa;
		} else if (logged && !in_used_ring(self->vq, page)) {
			if (!extra++)
				first_extra = gpa;
		}
	}
	EXPECT_EQ(0, missing)
		TH_LOG("%u written pages not logged, first at GPA %#" PRIx64,
		       missing, first_missing);
	EXPECT_EQ(0, extra)
		TH_LOG("%u pages logged the device did not write, first %#"
		       PRIx64, extra, first_extra);
	if (used)
		EXPECT_TRUE(vblk_log_test(self->d, self->vq->used_gpa + 2))
			TH_LOG("used index written but not logged");
}

static bool log_empty(const struct vblk_dev *d)
{
	for (size_t i = 0; i < d->log_size; i++)
		if (d->log[i])
			return false;
	return true;
}

/* One request with one data segment, done; its status. */
static uint8_t do_one(struct __test_metadata *_metadata,
		      FIXTURE_DATA(dl) *self, uint32_t type, uint64_t sector,
		      uint64_t gpa, uint32_t len)
{
	vblk_req_reset(self->r, type, sector);
	if (len)
		EXPECT_EQ(0, vblk_req_add_seg(self->r, gpa, len));
	EXPECT_EQ(0, vblk_do(self->vq, self->r, 0, IO_TIMEOUT_MS));
	return self->r->status;
}

/* Write @len bytes of pattern at @sector from @gpa, logging or not. */
static void fill_disk(struct __test_metadata *_metadata,
		      FIXTURE_DATA(dl) *self, uint64_t sector, uint64_t gpa,
		      uint32_t len)
{
	void *p = vblk_gpa_to_hva(self->d, gpa, len);

	ASSERT_NE(NULL, p);
	vblk_pattern_fill(p, len, sector, self->seed);
	ASSERT_EQ(VIRTIO_BLK_S_OK,
		  do_one(_metadata, self, VIRTIO_BLK_T_OUT, sector, gpa, len));
}

TEST_F(dl, read_logs_data_status_and_used)
{
	struct range w[3];
	uint64_t a = self->buf + 4 * PAGE, b = self->buf + 12 * PAGE;

	fill_disk(_metadata, self, 64, self->buf, 3 * PAGE);
	ASSERT_EQ(0, vblk_dev_log_start(self->d));
	vblk_eventfd_wait(self->d->log_efd, 0);
	vblk_log_clear(self->d);

	/* Two segments: 8 KiB in place and 4 KiB further on. */
	vblk_req_reset(self->r, VIRTIO_BLK_T_IN, 64);
	ASSERT_EQ(0, vblk_req_add_seg(self->r, a, 2 * PAGE));
	ASSERT_EQ(0, vblk_req_add_seg(self->r, b, PAGE));
	ASSERT_EQ(0, vblk_do(self->vq, self->r, 0, IO_TIMEOUT_MS));
	ASSERT_EQ(VIRTIO_BLK_S_OK, self->r->status);
	EXPECT_EQ(-1, vblk_pattern_check(vblk_gpa_to_hva(self->d, a, 2 * PAGE),
					 2 * PAGE, 64, self->seed));

	w[0] = (struct range){ a, 2 * PAGE };
	w[1] = (struct range){ b, PAGE };
	w[2] = (struct range){ self->r->status_gpa, 1 };
	check_log(_metadata, self, w, 3, true);
	EXPECT_EQ(1, vblk_eventfd_wait(self->d->log_efd, IO_TIMEOUT_MS))
		TH_LOG("the log eventfd did not fire");
}

TEST_F(dl, read_bounced_logs_data)
{
	/* Not aligned for the block layer: through a bounce buffer. */
	uint64_t a = self->buf + 3 * PAGE - 8;
	struct range w[2] = { { a, 2 * PAGE }, { 0, 1 } };

	fill_disk(_metadata, self, 128, self->buf, 2 * PAGE);
	ASSERT_EQ(0, vblk_dev_log_start(self->d));
	vblk_log_clear(self->d);
	ASSERT_EQ(VIRTIO_BLK_S_OK,
		  do_one(_metadata, self, VIRTIO_BLK_T_IN, 128, a, 2 * PAGE));
	EXPECT_EQ(-1, vblk_pattern_check(vblk_gpa_to_hva(self->d, a, 2 * PAGE),
					 2 * PAGE, 128, self->seed));
	w[1].gpa = self->r->status_gpa;
	check_log(_metadata, self, w, 2, true);
}

TEST_F(dl, write_logs_only_status_and_used)
{
	struct range w[1];

	ASSERT_EQ(0, vblk_dev_log_start(self->d));
	vblk_log_clear(self->d);
	fill_disk(_metadata, self, 256, self->buf, 4 * PAGE);
	/* The device read the data: not logged. */
	w[0] = (struct range){ self->r->status_gpa, 1 };
	check_log(_metadata, self, w, 1, true);
}

TEST_F(dl, get_id_logs_the_serial_bytes)
{
	/* 20 bytes written across a page boundary of an 8 KiB buffer. */
	uint64_t a = self->buf + 2 * PAGE - 8;
	struct range w[2] = { { a, VHOST_BLK_SERIAL_LEN }, { 0, 1 } };
	char id[VHOST_BLK_SERIAL_LEN];

	ASSERT_EQ(0, vblk_dev_log_start(self->d));
	vblk_log_clear(self->d);
	ASSERT_EQ(VIRTIO_BLK_S_OK,
		  do_one(_metadata, self, VIRTIO_BLK_T_GET_ID, 0, a, 2 * PAGE));
	ASSERT_EQ(0, vblk_mem_read(self->d, a, id, sizeof(id)));
	EXPECT_EQ(0, memcmp(id, SERIAL, sizeof(id)));
	w[1].gpa = self->r->status_gpa;
	check_log(_metadata, self, w, 2, true);
	/* The rest of the buffer was not written. */
	EXPECT_FALSE(vblk_log_test(self->d, a + 2 * PAGE - 1));
}

TEST_F(dl, get_id_fault_logs_what_was_written)
{
	/* 8 bytes at the end of one page, the rest on a read-only page. */
	uint64_t a = self->buf + PAGE - 8, b = self->buf + 5 * PAGE;
	struct range w[3] = { { a, 8 }, { b, VHOST_BLK_SERIAL_LEN - 8 },
			      { 0, 1 } };
	void *ro = vblk_gpa_to_hva(self->d, b, PAGE);
	char id[8];

	ASSERT_NE(NULL, ro);
	ASSERT_EQ(0, vblk_dev_log_start(self->d));
	vblk_log_clear(self->d);
	ASSERT_EQ(0, mprotect(ro, PAGE, PROT_READ));
	vblk_req_reset(self->r, VIRTIO_BLK_T_GET_ID, 0);
	EXPECT_EQ(0, vblk_req_add_seg(self->r, a, 8));
	EXPECT_EQ(0, vblk_req_add_seg(self->r, b, PAGE));
	EXPECT_EQ(0, vblk_do(self->vq, self->r, 0, IO_TIMEOUT_MS));
	ASSERT_EQ(0, mprotect(ro, PAGE, PROT_READ | PROT_WRITE));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, self->r->status);
	/* The copy faulted after its first 8 bytes: they are logged. */
	ASSERT_EQ(0, vblk_mem_read(self->d, a, id, sizeof(id)));
	EXPECT_EQ(0, memcmp(id, SERIAL, sizeof(id)));
	w[2].gpa = self->r->status_gpa;
	check_log(_metadata, self, w, 3, true);
}

TEST_F(dl, refused_chain_logs_its_status)
{
	struct vblk_req bad = { .head = -1 };
	struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_IN) };
	uint64_t hdr = self->buf, st = self->buf + 5 * PAGE + 100;
	struct range w[1] = { { st, 1 } };
	uint16_t ids[3];

	ASSERT_EQ(0, vblk_mem_write(self->d, hdr, &h, sizeof(h)));
	ASSERT_EQ(0, vblk_dev_log_start(self->d));
	vblk_log_clear(self->d);
	/* [hdr][data outside guest memory][status]: refused, IOERR. */
	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 3, ids));
	vblk_vq_set_desc(self->vq, ids[0], hdr, 16, VRING_DESC_F_NEXT, ids[1]);
	vblk_vq_set_desc(self->vq, ids[1], 0x1000, 4096,
			 VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, ids[2]);
	vblk_vq_set_desc(self->vq, ids[2], st, 1, VRING_DESC_F_WRITE, 0);
	*(uint8_t *)vblk_gpa_to_hva(self->d, st, 1) = 0xff;
	ASSERT_EQ(ids[0], vblk_vq_post_raw(self->vq, ids, 3, &bad));
	ASSERT_EQ(0, vblk_vq_kick_force(self->vq));
	ASSERT_EQ(0, vblk_req_wait(self->vq, &bad, IO_TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  *(uint8_t *)vblk_gpa_to_hva(self->d, st, 1));
	check_log(_metadata, self, w, 1, true);
}

TEST_F(dl, data_logged_before_used_entry_visible)
{
	uint64_t a = self->buf + 8 * PAGE;
	uint16_t before = vblk_vq_used_idx(self->vq);
	uint64_t t0;

	fill_disk(_metadata, self, 512, a, 8 * PAGE);
	before = vblk_vq_used_idx(self->vq);
	ASSERT_EQ(0, vblk_dev_log_start(self->d));
	for (int round = 0; round < 20; round++) {
		vblk_log_clear(self->d);
		vblk_req_reset(self->r, VIRTIO_BLK_T_IN, 512);
		ASSERT_EQ(0, vblk_req_add_seg(self->r, a, 8 * PAGE));
		ASSERT_LE(0, vblk_req_submit(self->vq, self->r, 0));
		ASSERT_EQ(0, vblk_vq_kick_force(self->vq));
		/* The moment the entry shows, its pages are logged. */
		t0 = vblk_now_ns();
		while (__atomic_load_n(&self->vq->used->idx, __ATOMIC_ACQUIRE) ==
		       htole16(before))
			ASSERT_GT(t0 + IO_TIMEOUT_MS * 1000000ULL,
				  vblk_now_ns());
		for (uint64_t p = a; p < a + 8 * PAGE; p += PAGE) {
			ASSERT_TRUE(vblk_log_test(self->d, p))
				TH_LOG("round %d: used entry visible, page %#"
				       PRIx64 " not logged", round, p);
		}
		ASSERT_TRUE(vblk_log_test(self->d, self->r->status_gpa));
		ASSERT_EQ(0, vblk_req_wait(self->vq, self->r, IO_TIMEOUT_MS));
		ASSERT_EQ(VIRTIO_BLK_S_OK, self->r->status);
		before++;
	}
}

TEST_F(dl, logging_off_leaves_bitmap_alone)
{
	uint64_t a = self->buf;

	ASSERT_EQ(0, vblk_dev_log_start(self->d));
	ASSERT_EQ(0, vblk_dev_log_stop(self->d));
	vblk_log_clear(self->d);
	/*
	 * While logging was on, a worker run (the queues are restarted when
	 * VHOST_F_LOG_ALL changes) may have logged the used ring's flags and
	 * signalled; the stop waited for it.
	 */
	vblk_eventfd_wait(self->d->log_efd, 0);
	fill_disk(_metadata, self, 1024, a, 2 * PAGE);
	ASSERT_EQ(VIRTIO_BLK_S_OK,
		  do_one(_metadata, self, VIRTIO_BLK_T_IN, 1024, a, 2 * PAGE));
	ASSERT_EQ(VIRTIO_BLK_S_OK,
		  do_one(_metadata, self, VIRTIO_BLK_T_GET_ID, 0, a, 64));
	EXPECT_TRUE(log_empty(self->d));
	EXPECT_EQ(0, vblk_eventfd_wait(self->d->log_efd, QUIET_MS));

	/* Rings with VHOST_VRING_F_LOG but VHOST_F_LOG_ALL not acked. */
	ASSERT_EQ(0, vblk_dev_log_start(self->d));
	ASSERT_EQ(0, vhost_blk_set_features(self->d->fd, self->d->features));
	vblk_log_clear(self->d);
	vblk_eventfd_wait(self->d->log_efd, 0);
	ASSERT_EQ(VIRTIO_BLK_S_OK,
		  do_one(_metadata, self, VIRTIO_BLK_T_IN, 1024, a, 2 * PAGE));
	EXPECT_TRUE(log_empty(self->d));
	EXPECT_EQ(0, vblk_eventfd_wait(self->d->log_efd, QUIET_MS));
}

TEST_F(dl, log_base_moves_while_running)
{
	uint64_t a = self->buf + 2 * PAGE;
	uint8_t *old;
	size_t size;

	fill_disk(_metadata, self, 2048, a, PAGE);
	ASSERT_EQ(0, vblk_dev_log_start(self->d));
	old = self->d->log;
	size = self->d->log_size;
	self->d->log = mmap(NULL, size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->d->log);
	ASSERT_EQ(0, vhost_blk_set_log_base(self->d->fd,
					    (uintptr_t)self->d->log));
	memset(old, 0, size);
	ASSERT_EQ(VIRTIO_BLK_S_OK,
		  do_one(_metadata, self, VIRTIO_BLK_T_IN, 2048, a, PAGE));
	EXPECT_TRUE(vblk_log_test(self->d, a));
	for (size_t i = 0; i < size; i++)
		ASSERT_EQ(0, old[i]) TH_LOG("the old log was written");
	munmap(old, size);
}

TEST_F(dl, unwritable_log_fails_the_read)
{
	uint64_t a = self->buf + 2 * PAGE;
	size_t size;
	void *ro;

	fill_disk(_metadata, self, 4096, a, PAGE);
	ASSERT_EQ(0, vblk_dev_log_start(self->d));
	size = self->d->log_size;
	ro = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	/* User memory, so accepted; the device finds out when it logs. */
	ASSERT_EQ(0, vhost_blk_set_log_base(self->d->fd, (uintptr_t)ro));
	vblk_eventfd_wait(self->vq->err_fd, 0);
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  do_one(_metadata, self, VIRTIO_BLK_T_IN, 4096, a, PAGE));
	EXPECT_EQ(1, vblk_eventfd_wait(self->vq->err_fd, IO_TIMEOUT_MS));
	/* Writes do not need the log for their data. */
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  do_one(_metadata, self, VIRTIO_BLK_T_OUT, 4096, a, PAGE));
	/* Unmapped: the same. */
	munmap(ro, size);
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  do_one(_metadata, self, VIRTIO_BLK_T_IN, 4096, a, PAGE));
	/* A good log again: all is well. */
	ASSERT_EQ(0, vhost_blk_set_log_base(self->d->fd,
					    (uintptr_t)self->d->log));
	vblk_log_clear(self->d);
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  do_one(_metadata, self, VIRTIO_BLK_T_IN, 4096, a, PAGE));
	EXPECT_TRUE(vblk_log_test(self->d, a));
}

TEST_F(dl, bad_log_arguments)
{
	int fd = self->d->fd;
	struct vblk_vq *vq = self->vq;
	uint64_t top;

	ASSERT_EQ(0, vblk_dev_log_start(self->d));
	/* Not user memory. */
	EXPECT_EQ(-EFAULT, vhost_blk_set_log_base(fd, 0xffff888000000000ULL));
	/*
	 * The log would run past the end of user memory (of 5-level paging;
	 * with 4 levels the address is not user memory at all).
	 */
	top = 0x100000000000000ULL - self->d->log_size / 2;
	EXPECT_EQ(-EFAULT, vhost_blk_set_log_base(fd, top & ~4095ULL));
	EXPECT_EQ(-EFAULT, vhost_blk_set_log_base(fd, ~0ULL - 4095));
	/* The log in place still works. */
	vblk_log_clear(self->d);
	ASSERT_EQ(VIRTIO_BLK_S_OK,
		  do_one(_metadata, self, VIRTIO_BLK_T_IN, 0, self->buf, PAGE));
	EXPECT_TRUE(vblk_log_test(self->d, self->buf));

	/* Used ring log: unaligned, wrapping, unknown flags. */
	EXPECT_EQ(-EINVAL, vhost_blk_set_vring_addr_log(fd, 0,
		(uintptr_t)vq->desc, (uintptr_t)vq->avail, (uintptr_t)vq->used,
		1U << VHOST_VRING_F_LOG, vq->used_gpa + 2));
	EXPECT_EQ(-EFAULT, vhost_blk_set_vring_addr_log(fd, 0,
		(uintptr_t)vq->desc, (uintptr_t)vq->avail, (uintptr_t)vq->used,
		1U << VHOST_VRING_F_LOG, ~0ULL - 7));
	EXPECT_EQ(-EOPNOTSUPP, vhost_blk_set_vring_addr_log(fd, 0,
		(uintptr_t)vq->desc, (uintptr_t)vq->avail, (uintptr_t)vq->used,
		3, vq->used_gpa));
	/* A running ring cannot move. */
	EXPECT_EQ(-EBUSY, vhost_blk_set_vring_addr_log(fd, 0,
		(uintptr_t)vq->desc + 4096, (uintptr_t)vq->avail,
		(uintptr_t)vq->used, 1U << VHOST_VRING_F_LOG, vq->used_gpa));
	/* Only logging may change under running queues. */
	EXPECT_EQ(-EBUSY, vhost_blk_set_features(fd, (self->d->features ^
				(1ULL << VIRTIO_F_ANY_LAYOUT)) |
				(1ULL << VHOST_F_LOG_ALL)));

	/* Log eventfd: not an eventfd, not an fd; -1 clears it. */
	EXPECT_EQ(-EINVAL, vhost_blk_set_log_fd(fd, self->bfd));
	EXPECT_EQ(-EBADF, vhost_blk_set_log_fd(fd, 1000000));
	EXPECT_EQ(0, vhost_blk_set_log_fd(fd, -1));
	vblk_eventfd_wait(self->d->log_efd, 0);
	ASSERT_EQ(VIRTIO_BLK_S_OK,
		  do_one(_metadata, self, VIRTIO_BLK_T_IN, 0, self->buf, PAGE));
	EXPECT_EQ(0, vblk_eventfd_wait(self->d->log_efd, QUIET_MS));
}

TEST_F(dl, logging_needs_a_log)
{
	const uint64_t log_all = 1ULL << VHOST_F_LOG_ALL;
	int fd = self->d->fd;
	struct vblk_vq *vq = self->vq;
	uint64_t f = self->d->features, a = self->buf + 3 * PAGE;

	fill_disk(_metadata, self, 8192, a, PAGE);
	/*
	 * No log yet. A NULL base is user memory to access_ok(): the bits
	 * would land at gpa / 32768 in the owner.
	 */
	EXPECT_EQ(-EFAULT, vhost_blk_set_features(fd, f | log_all));
	EXPECT_EQ(-EFAULT, vhost_blk_set_vring_addr_log(fd, 0,
		(uintptr_t)vq->desc, (uintptr_t)vq->avail, (uintptr_t)vq->used,
		1U << VHOST_VRING_F_LOG, vq->used_gpa));
	/* Nothing logs: there is no log to remove, and I/O is served. */
	EXPECT_EQ(0, vhost_blk_set_log_base(fd, 0));
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  do_one(_metadata, self, VIRTIO_BLK_T_IN, 8192, a, PAGE));

	/* While LOG_ALL is acked or a ring logs, the log cannot go. */
	ASSERT_EQ(0, vblk_dev_log_start(self->d));
	EXPECT_EQ(-EFAULT, vhost_blk_set_log_base(fd, 0));
	ASSERT_EQ(0, vhost_blk_set_features(fd, f));
	EXPECT_EQ(-EFAULT, vhost_blk_set_log_base(fd, 0));
	ASSERT_EQ(0, vhost_blk_set_features(fd, f | log_all));
	vblk_log_clear(self->d);
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  do_one(_metadata, self, VIRTIO_BLK_T_IN, 8192, a, PAGE));
	EXPECT_TRUE(vblk_log_test(self->d, a));

	/* Logging off: the log may go, and then logging needs one again. */
	ASSERT_EQ(0, vblk_dev_log_stop(self->d));
	EXPECT_EQ(0, vhost_blk_set_log_base(fd, 0));
	EXPECT_EQ(-EFAULT, vhost_blk_set_features(fd, f | log_all));
	EXPECT_EQ(-EFAULT, vhost_blk_set_vring_addr_log(fd, 0,
		(uintptr_t)vq->desc, (uintptr_t)vq->avail, (uintptr_t)vq->used,
		1U << VHOST_VRING_F_LOG, vq->used_gpa));
	vblk_log_clear(self->d);
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  do_one(_metadata, self, VIRTIO_BLK_T_IN, 8192, a, PAGE));
	EXPECT_TRUE(log_empty(self->d));
	/* A log again: logging works again. */
	ASSERT_EQ(0, vblk_dev_log_start(self->d));
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  do_one(_metadata, self, VIRTIO_BLK_T_IN, 8192, a, PAGE));
	EXPECT_TRUE(vblk_log_test(self->d, a));
}

TEST(log_all_offered_and_needs_owner)
{
	uint64_t f = 0, base = 0;
	int fd = vhost_blk_open(NULL);

	if (fd == -ENOENT)
		SKIP(return, "no /dev/vhost-blk");
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vhost_blk_get_features(fd, &f));
	EXPECT_TRUE(f & (1ULL << VHOST_F_LOG_ALL));
	EXPECT_EQ(-EPERM, vhost_blk_set_log_base(fd, (uintptr_t)&base));
	EXPECT_EQ(-EPERM, vhost_blk_set_log_fd(fd, -1));
	ASSERT_EQ(0, vhost_blk_set_owner(fd));
	EXPECT_EQ(0, vhost_blk_set_log_base(fd, (uintptr_t)&base));
	EXPECT_EQ(0, vhost_blk_set_features(fd, (1ULL << VHOST_F_LOG_ALL) |
					    (1ULL << VIRTIO_F_VERSION_1)));
	close(fd);
}

TEST_HARNESS_MAIN
