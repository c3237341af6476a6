// SPDX-License-Identifier: GPL-2.0
/*
 * inflight: VHOST_BLK_SET_VRING_INFLIGHT on /dev/vhost-blk directly.
 *
 * The region is shared memory another process may write, so every field
 * the device reads back at queue start is crafted here: resubmission in
 * counter order (bogus counters included), the last-batch fix-up, links
 * that leave the ring or loop, a wrong version, desc_num or inflight
 * byte, a region unmapped before start or while the queue runs, and the
 * ioctl's own argument checks. Each must give the exact errno or be
 * ignored, and the queue must go on serving with correct data.
 * bridge.c has the end-to-end test: a bridge killed with requests in
 * flight, a new one resubmitting them.
 */
#include "kselftest_harness.h"
#include "vhost_blk_test.h"

#define QSIZE		128
#define REGION_LEN	VHOST_BLK_INFLIGHT_SIZE(QSIZE)

FIXTURE(inf) {
	int bfd;
	struct vblk_dev *d;
	struct vblk_vq *vq;
	struct vhost_blk_inflight_split *r;	/* the region, QSIZE entries */
	size_t map_len;
	uint64_t seed;
};

FIXTURE_SETUP(inf)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;

	self->bfd = open(test_dev(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->bfd) TH_LOG("%s: %s", test_dev(), strerror(errno));
	o.queue_size = QSIZE;
	o.mem_size = 16 << 20;
	o.num_queues = 0;		/* each test starts queue 0 itself */
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->bfd, 0, NULL));
	self->vq = &self->d->vqs[0];
	self->map_len = 2 * 4096 + REGION_LEN;
	self->r = mmap(NULL, self->map_len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->r);
	self->seed = fresh_seed();
}

FIXTURE_TEARDOWN(inf)
{
	vblk_dev_destroy(self->d);
	if (self->r && self->r != MAP_FAILED)
		munmap(self->r, self->map_len);
	close(self->bfd);
}

static int set_region(FIXTURE_DATA(inf) *self, void *addr, uint64_t len)
{
	return vhost_blk_set_vring_inflight(self->d->fd, 0, (uintptr_t)addr,
					    len);
}

static unsigned int marked(const struct vhost_blk_inflight_split *r)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < QSIZE; i++)
		n += r->desc[i].inflight;
	return n;
}

/* Submit (not kick) a 4 KiB write of a pattern at @sector; its head. */
static int post_write(struct __test_metadata *_metadata,
		      FIXTURE_DATA(inf) *self, struct vblk_req **rp,
		      uint64_t sector)
{
	struct vblk_req *w = vblk_req_alloc(self->d);
	uint64_t gpa;
	int head;

	if (!w || vblk_alloc(self->d, 4096, 4096, &gpa))
		return -ENOMEM;
	vblk_pattern_fill(vblk_gpa_to_hva(self->d, gpa, 4096), 4096, sector,
			  self->seed);
	vblk_req_reset(w, VIRTIO_BLK_T_OUT, sector);
	vblk_req_add_data(self->d, w, gpa, 4096);
	head = vblk_req_submit(self->vq, w, 0);
	EXPECT_LE(0, head);
	*rp = w;
	return head;
}

/* Reap what comes within @ms into @ids; how many. */
static unsigned int reap_ids(struct vblk_vq *vq, uint32_t *ids,
			     unsigned int max, int ms)
{
	struct vblk_used u[QSIZE];
	unsigned int n = 0;
	int got;

	while (n < max) {
		got = vblk_vq_reap(vq, u, max - n);
		for (int i = 0; i < got; i++)
			ids[n++] = u[i].valid ? u[i].id : 0xffffffff;
		if (!got && vblk_vq_wait(vq, ms) <= 0)
			break;
	}
	return n;
}

/* A fresh region is taken over: version 1, desc_num, used_idx. */
TEST_F(inf, fresh_region_is_initialized_and_cleared_after_use)
{
	struct vblk_req *w;
	unsigned int base;

	memset(self->r, 0, REGION_LEN);
	self->r->desc[7].inflight = 1;		/* stale: version 0 ignores it */
	ASSERT_EQ(0, set_region(self, self->r, REGION_LEN));
	ASSERT_EQ(0, vblk_vq_start(self->d, 0, 0));
	EXPECT_EQ(1, self->r->version);
	EXPECT_EQ(QSIZE, self->r->desc_num);
	EXPECT_EQ(0, self->r->used_idx);
	EXPECT_EQ(0, marked(self->r));

	ASSERT_LE(0, post_write(_metadata, self, &w, 300));
	ASSERT_EQ(0, vblk_vq_kick(self->vq));
	ASSERT_EQ(0, vblk_req_wait(self->vq, w, IO_TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_OK, w->status);
	EXPECT_EQ(0, disk_check_pattern(test_dev(), 300, 4096, self->seed));
	ASSERT_EQ(0, vblk_vq_stop(self->vq, &base));
	EXPECT_EQ(1, base);
	/* Published, so cleared; the counter was taken. */
	EXPECT_EQ(0, marked(self->r));
	EXPECT_EQ(1, self->r->used_idx);
	EXPECT_EQ(w->head, self->r->last_batch_head);
	vblk_req_free(self->d, w);
}

/*
 * Chains marked in flight are taken first, in counter order (a bogus
 * huge counter just sorts last), and the avail ring resumes past them,
 * whatever VHOST_SET_VRING_BASE said.
 */
TEST_F(inf, marked_chains_resubmitted_in_counter_order)
{
	struct vblk_req *w[3];
	uint32_t ids[8];
	unsigned int base;
	int h[3];

	memset(self->r, 0, REGION_LEN);
	ASSERT_EQ(0, set_region(self, self->r, REGION_LEN));
	ASSERT_EQ(0, vblk_vq_start(self->d, 0, 0));
	ASSERT_EQ(0, vblk_vq_stop(self->vq, &base));
	ASSERT_EQ(0, base);

	/* Three chains on avail while the queue is stopped. */
	for (int i = 0; i < 3; i++)
		h[i] = post_write(_metadata, self, &w[i], 400 + 8 * i);
	ASSERT_LE(0, h[2]);
	/* As if a dead owner had taken the first two. */
	self->r->desc[h[0]].inflight = 1;
	self->r->desc[h[0]].counter = UINT64_MAX;
	self->r->desc[h[1]].inflight = 1;
	self->r->desc[h[1]].counter = 5;

	ASSERT_EQ(0, vblk_vq_restart(self->vq, 77));
	ASSERT_EQ(3, reap_ids(self->vq, ids, 3, IO_TIMEOUT_MS));
	/* Nothing twice. */
	EXPECT_EQ(0, reap_ids(self->vq, ids, 1, 200));
	/*
	 * Taken again in counter order, then the avail ring from index 2:
	 * the device numbers them on from the largest counter (wrapping).
	 */
	EXPECT_EQ(0, self->r->desc[h[1]].counter);
	EXPECT_EQ(1, self->r->desc[h[0]].counter);
	EXPECT_EQ(2, self->r->desc[h[2]].counter);
	for (int i = 0; i < 3; i++) {
		EXPECT_TRUE(w[i]->done);
		EXPECT_EQ(VIRTIO_BLK_S_OK, w[i]->status);
		EXPECT_EQ(0, disk_check_pattern(test_dev(), 400 + 8 * i, 4096,
						self->seed));
		vblk_req_free(self->d, w[i]);
	}
	ASSERT_EQ(0, vblk_vq_stop(self->vq, &base));
	EXPECT_EQ(3, base);
	EXPECT_EQ(0, marked(self->r));
	EXPECT_EQ(3, self->r->used_idx);
}

/*
 * used_idx behind used->idx: the owner died between publishing a batch
 * and clearing it. The batch, linked from last_batch_head, is cleared,
 * not resubmitted; a link that loops is followed only batch-size times.
 */
TEST_F(inf, last_batch_cleared_not_resubmitted)
{
	struct vblk_req *w[2];
	unsigned int base;
	uint32_t ids[2];
	int h[2];

	memset(self->r, 0, REGION_LEN);
	ASSERT_EQ(0, set_region(self, self->r, REGION_LEN));
	ASSERT_EQ(0, vblk_vq_start(self->d, 0, 0));
	for (int i = 0; i < 2; i++)
		h[i] = post_write(_metadata, self, &w[i], 500 + 8 * i);
	ASSERT_EQ(0, vblk_vq_kick(self->vq));
	ASSERT_EQ(2, reap_ids(self->vq, ids, 2, IO_TIMEOUT_MS));
	ASSERT_EQ(0, vblk_vq_stop(self->vq, &base));
	ASSERT_EQ(2, base);

	/* Both published (used->idx 2), the marks not cleared yet. */
	self->r->used_idx = 0;
	self->r->last_batch_head = h[1];
	self->r->desc[h[1]].next = h[0];
	self->r->desc[h[0]].next = h[0];	/* loops */
	self->r->desc[h[0]].inflight = 1;
	self->r->desc[h[1]].inflight = 1;
	ASSERT_EQ(0, vblk_vq_restart(self->vq, 0));
	EXPECT_EQ(0, reap_ids(self->vq, ids, 1, 300));
	ASSERT_EQ(0, vblk_vq_stop(self->vq, &base));
	EXPECT_EQ(2, base);
	EXPECT_EQ(0, marked(self->r));
	EXPECT_EQ(2, self->r->used_idx);

	/* A batch head beyond the ring, a batch longer than it: ignored. */
	for (int k = 0; k < 2; k++) {
		self->r->used_idx = k ? 2 - QSIZE - 1 : 1;
		self->r->last_batch_head = k ? h[0] : 0xffff;
		ASSERT_EQ(0, vblk_vq_restart(self->vq, 0));
		EXPECT_EQ(0, reap_ids(self->vq, ids, 1, 100));
		ASSERT_EQ(0, vblk_vq_stop(self->vq, &base));
		EXPECT_EQ(2, base);
		EXPECT_EQ(2, self->r->used_idx);
	}
	for (int i = 0; i < 2; i++)
		vblk_req_free(self->d, w[i]);
}

/* Fields the device cannot use: -EINVAL at start, nothing taken. */
TEST_F(inf, bad_region_fields_refused_at_start)
{
	struct vblk_req *w;
	unsigned int base;

	memset(self->r, 0, REGION_LEN);
	ASSERT_EQ(0, set_region(self, self->r, REGION_LEN));
	ASSERT_EQ(0, vblk_vq_start(self->d, 0, 0));
	ASSERT_EQ(0, vblk_vq_stop(self->vq, &base));

	self->r->version = 2;
	EXPECT_EQ(-EINVAL, vblk_vq_restart(self->vq, 0));
	self->r->version = 1;
	self->r->desc_num = QSIZE / 2;
	EXPECT_EQ(-EINVAL, vblk_vq_restart(self->vq, 0));
	self->r->desc_num = QSIZE;
	self->r->desc[QSIZE - 1].inflight = 2;
	EXPECT_EQ(-EINVAL, vblk_vq_restart(self->vq, 0));
	self->r->desc[QSIZE - 1].inflight = 0;

	/* Sound again: the queue serves. */
	ASSERT_EQ(0, vblk_vq_restart(self->vq, 0));
	ASSERT_LE(0, post_write(_metadata, self, &w, 600));
	ASSERT_EQ(0, vblk_vq_kick(self->vq));
	ASSERT_EQ(0, vblk_req_wait(self->vq, w, IO_TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_OK, w->status);
	EXPECT_EQ(0, disk_check_pattern(test_dev(), 600, 4096, self->seed));
	vblk_req_free(self->d, w);
}

/* The ioctl's arguments, each refused with its errno. */
TEST_F(inf, ioctl_arguments)
{
	struct vhost_blk_vring_inflight v;
	uint8_t big[8192];
	unsigned int base;

	memset(&v, 0, sizeof(v));
	v.size = sizeof(v);
	v.addr = (uintptr_t)self->r;
	v.len = REGION_LEN;
	ASSERT_EQ(0, ioctl(self->d->fd, VHOST_BLK_SET_VRING_INFLIGHT, &v));

	v.size = VHOST_BLK_VRING_INFLIGHT_SIZE_VER0 - 1;
	EXPECT_EQ(-1, ioctl(self->d->fd, VHOST_BLK_SET_VRING_INFLIGHT, &v));
	EXPECT_EQ(EINVAL, errno);
	v.size = sizeof(v);
	v.reserved[1] = 1;
	EXPECT_EQ(-1, ioctl(self->d->fd, VHOST_BLK_SET_VRING_INFLIGHT, &v));
	EXPECT_EQ(EINVAL, errno);
	v.reserved[1] = 0;
	/* Longer than we know, with a non-zero byte past it: -E2BIG. */
	memset(big, 0, sizeof(big));
	memcpy(big, &v, sizeof(v));
	((struct vhost_blk_vring_inflight *)big)->size = sizeof(v) + 8;
	big[sizeof(v) + 3] = 1;
	EXPECT_EQ(-1, ioctl(self->d->fd, VHOST_BLK_SET_VRING_INFLIGHT, big));
	EXPECT_EQ(E2BIG, errno);

	EXPECT_EQ(-ENOBUFS, vhost_blk_set_vring_inflight(self->d->fd,
				VHOST_BLK_MAX_QUEUES, (uintptr_t)self->r,
				REGION_LEN));
	EXPECT_EQ(-EINVAL, set_region(self, (uint8_t *)self->r + 4,
				      REGION_LEN));
	EXPECT_EQ(-EINVAL, set_region(self, (void *)0xffff888000000000ULL,
				      REGION_LEN));
	EXPECT_EQ(-EINVAL, set_region(self, self->r, 8));

	/* Too short for the ring size at start, or set already. */
	memset(self->r, 0, REGION_LEN);
	ASSERT_EQ(0, set_region(self, self->r, VHOST_BLK_INFLIGHT_SIZE(64)));
	EXPECT_EQ(-EINVAL, vblk_vq_start(self->d, 0, 0));
	EXPECT_EQ(0, self->r->version);
	EXPECT_EQ(-EINVAL, set_region(self, self->r, REGION_LEN - 1));
	ASSERT_EQ(0, set_region(self, self->r, REGION_LEN));

	/* Not while the queue runs; removing it is fine once stopped. */
	ASSERT_EQ(0, vblk_vq_restart(self->vq, 0));
	EXPECT_EQ(1, self->r->version);
	EXPECT_EQ(-EBUSY, set_region(self, self->r, REGION_LEN));
	EXPECT_EQ(-EBUSY, set_region(self, NULL, 0));
	ASSERT_EQ(0, vblk_vq_stop(self->vq, &base));
	EXPECT_EQ(0, set_region(self, NULL, 0));
}

/* Unmapped before start: -EFAULT; unmapped while serving: err eventfd. */
TEST_F(inf, unmapped_region)
{
	uint8_t *hole = (uint8_t *)self->r + 4096;
	struct vblk_req *w;
	unsigned int base;

	/* Its header at the end of a page, its entries in a hole. */
	memset(self->r, 0, 4096);
	ASSERT_EQ(0, munmap(hole, 4096));
	ASSERT_EQ(0, set_region(self, hole - 16, REGION_LEN));
	EXPECT_EQ(-EFAULT, vblk_vq_start(self->d, 0, 0));

	/* Header and a clean ring in a region that then goes away. */
	ASSERT_EQ(0, set_region(self, hole + 4096, REGION_LEN));
	memset(hole + 4096, 0, REGION_LEN);
	ASSERT_EQ(0, vblk_vq_restart(self->vq, 0));
	ASSERT_EQ(0, munmap(hole + 4096, REGION_LEN));
	vblk_eventfd_wait(self->vq->err_fd, 0);
	ASSERT_LE(0, post_write(_metadata, self, &w, 700));
	ASSERT_EQ(0, vblk_vq_kick(self->vq));
	EXPECT_EQ(1, vblk_eventfd_wait(self->vq->err_fd, IO_TIMEOUT_MS));
	/* The chain was not taken: nothing in flight, nothing used. */
	EXPECT_EQ(-ETIMEDOUT, vblk_req_wait(self->vq, w, 200));
	ASSERT_EQ(0, vblk_vq_stop(self->vq, &base));
	EXPECT_EQ(0, base);
	/* Only what is still mapped is unmapped at teardown. */
	self->map_len = 4096;
}

/*
 * With a region, a head out of the ring breaks the queue (error eventfd,
 * nothing served after it): consuming the entry with no mark and no used
 * entry would leave a restart unable to tell where the avail ring stands.
 * The VMM that restarts the queue at the index VHOST_GET_VRING_BASE gave
 * (past the bad entry; nothing in flight, so no recovery) gets the write
 * behind it served, once.
 */
TEST_F(inf, head_out_of_range_breaks_queue_restart_keeps_vring_base)
{
	uint32_t ids[4];
	struct vblk_req *w;
	unsigned int base;
	int h;

	memset(self->r, 0, REGION_LEN);
	ASSERT_EQ(0, set_region(self, self->r, REGION_LEN));
	ASSERT_EQ(0, vblk_vq_start(self->d, 0, 0));
	vblk_eventfd_wait(self->vq->err_fd, 0);
	vblk_vq_push_avail(self->vq, 0xffff);	/* out of the ring */
	h = post_write(_metadata, self, &w, 800);
	ASSERT_LE(0, h);
	ASSERT_EQ(0, vblk_vq_kick(self->vq));
	EXPECT_EQ(1, vblk_eventfd_wait(self->vq->err_fd, IO_TIMEOUT_MS));
	EXPECT_EQ(0, reap_ids(self->vq, ids, 4, 300));
	EXPECT_EQ(0, vblk_vq_used_idx(self->vq));
	EXPECT_EQ(0, marked(self->r));
	ASSERT_EQ(0, vblk_vq_stop(self->vq, &base));
	/* The bad entry was consumed, the write behind it not. */
	ASSERT_EQ(1, base);

	ASSERT_EQ(0, vblk_vq_restart(self->vq, base));
	ASSERT_EQ(0, vblk_vq_kick(self->vq));
	ASSERT_EQ(0, vblk_req_wait(self->vq, w, IO_TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_OK, w->status);
	EXPECT_EQ(0, disk_check_pattern(test_dev(), 800, 4096, self->seed));
	EXPECT_EQ(0, reap_ids(self->vq, ids, 4, 300));
	ASSERT_EQ(0, vblk_vq_stop(self->vq, &base));
	EXPECT_EQ(2, base);
	EXPECT_EQ(1, vblk_vq_used_idx(self->vq));
	EXPECT_EQ(0, marked(self->r));
	vblk_req_free(self->d, w);
}

/* Strict argument: no region (addr 0) has no length. */
TEST_F(inf, no_region_with_length_is_einval)
{
	EXPECT_EQ(-EINVAL, vhost_blk_set_vring_inflight(self->d->fd, 0, 0,
							REGION_LEN));
	EXPECT_EQ(0, vhost_blk_set_vring_inflight(self->d->fd, 0, 0, 0));
}

VHOST_BLK_TEST_MAIN
