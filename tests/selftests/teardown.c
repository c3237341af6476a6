// SPDX-License-Identifier: GPL-2.0
/*
 * teardown: stopping, resetting, closing and dying with requests in
 * flight. Requests are kept in flight with a slow null_blk device (every
 * request completes 20 ms after submission) made through configfs, or
 * with many 1 MiB requests. Each test checks that the operation returns
 * promptly and that the backend serves a new device afterwards.
 */
#include "kselftest_harness.h"
#include "vhost_blk_test.h"

/* Anything slower than this is a hang for our purposes. */
#define PROMPT_MS	5000

FIXTURE(td) {
	char slow[64];
	int sfd;		/* the slow device, -1 if there is none */
	struct vblk_dev *d;
	uint64_t seed;
};

FIXTURE_SETUP(td)
{
	self->sfd = -1;
	self->seed = fresh_seed();
	if (!nullb_slow(self->slow, sizeof(self->slow)))
		self->sfd = open(self->slow, O_RDWR | O_CLOEXEC);
}

FIXTURE_TEARDOWN(td)
{
	vblk_dev_destroy(self->d);
	if (self->sfd >= 0)
		close(self->sfd);
}

#define NEED_SLOW() do {						\
	if (self->sfd < 0)						\
		SKIP(return, "no slow null_blk device (configfs)");	\
} while (0)

/*
 * Put @per_q 4 KiB writes in flight on each of @nq queues of self->d
 * (sectors 8 * k). Returns the requests, or NULL.
 */
static struct vblk_req **flood(FIXTURE_DATA(td) *self, unsigned int nq,
			       unsigned int per_q, uint32_t len)
{
	struct vblk_req **r = calloc(nq * per_q, sizeof(*r));
	uint64_t gpa;
	uint8_t *p;

	if (!r)
		return NULL;
	if (vblk_alloc(self->d, (size_t)nq * per_q * len, 4096, &gpa))
		return NULL;
	p = vblk_gpa_to_hva(self->d, gpa, (size_t)nq * per_q * len);
	for (unsigned int q = 0; q < nq; q++) {
		for (unsigned int i = 0; i < per_q; i++) {
			unsigned int k = q * per_q + i;
			uint64_t sector = (uint64_t)k * (len / 512) %
					  (vblk_dev_capacity(self->d) -
					   len / 512);

			r[k] = vblk_req_alloc(self->d);
			if (!r[k])
				return NULL;
			vblk_pattern_fill(p + (size_t)k * len, len, sector,
					  self->seed);
			vblk_req_reset(r[k], VIRTIO_BLK_T_OUT, sector);
			vblk_req_add_data(self->d, r[k], gpa + (uint64_t)k * len,
					  len);
			if (vblk_req_submit(&self->d->vqs[q], r[k],
					    VBLK_ADD_INDIRECT) < 0)
				return NULL;
		}
		if (vblk_vq_kick(&self->d->vqs[q]))
			return NULL;
	}
	return r;
}

static struct vblk_opts flood_opts(unsigned int nq)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;

	o.num_queues = nq;
	o.queue_size = 256;
	return o;
}

TEST_F(td, close_with_requests_in_flight)
{
	struct vblk_opts o = flood_opts(4);
	uint64_t t0;

	NEED_SLOW();
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->sfd, 0, NULL));
	/* 4 x 128 requests, each held 20 ms by null_blk. */
	ASSERT_NE(NULL, flood(self, 4, 128, 4096));
	usleep(2000);
	t0 = vblk_now_ns();
	vblk_dev_close_fd(self->d);
	EXPECT_GT(PROMPT_MS, (vblk_now_ns() - t0) / 1000000);
	/* Guest memory goes away only now; nothing may touch it later. */
	vblk_dev_destroy(self->d);
	self->d = NULL;
	device_works(_metadata, self->sfd, self->seed, 1);
}

TEST_F(td, close_with_1m_requests_in_flight)
{
	struct vblk_opts o = flood_opts(2);
	uint64_t t0;
	int fd = open(test_dev(), O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd);
	o.mem_size = 48 << 20;
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, fd, 0, NULL));
	ASSERT_NE(NULL, flood(self, 2, 16, 1 << 20));
	t0 = vblk_now_ns();
	vblk_dev_close_fd(self->d);
	EXPECT_GT(PROMPT_MS, (vblk_now_ns() - t0) / 1000000);
	vblk_dev_destroy(self->d);
	self->d = NULL;
	device_works(_metadata, fd, self->seed, 1);
	close(fd);
}

TEST_F(td, unmap_guest_memory_with_requests_in_flight)
{
	struct vblk_opts o = flood_opts(2);
	uint64_t t0;

	NEED_SLOW();
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->sfd, 0, NULL));
	ASSERT_NE(NULL, flood(self, 2, 128, 4096));
	/* The guest's memory, rings included, vanishes under the device. */
	ASSERT_EQ(0, munmap(self->d->map, self->d->map_len));
	self->d->map = NULL;
	usleep(50000);
	t0 = vblk_now_ns();
	vblk_dev_close_fd(self->d);
	EXPECT_GT(PROMPT_MS, (vblk_now_ns() - t0) / 1000000);
	device_works(_metadata, self->sfd, self->seed, 1);
}

TEST_F(td, reset_owner_with_requests_in_flight)
{
	struct vblk_opts o = flood_opts(2);
	struct vblk_vq *vq;
	struct vblk_req *r;
	uint64_t t0, gpa;

	NEED_SLOW();
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->sfd, 0, "before"));
	ASSERT_NE(NULL, flood(self, 2, 128, 4096));
	usleep(2000);
	t0 = vblk_now_ns();
	ASSERT_EQ(0, vblk_dev_reset_owner(self->d));
	EXPECT_GT(PROMPT_MS, (vblk_now_ns() - t0) / 1000000);

	/* Nobody owns it now. */
	EXPECT_EQ(-EPERM, vhost_blk_set_vring_num(self->d->fd, 0, 16));
	EXPECT_EQ(-EPERM, vhost_blk_get_config(self->d->fd, &self->d->cfg,
					       NULL, NULL));

	/* Own it again and set everything up from scratch. */
	ASSERT_EQ(0, vblk_dev_setup(self->d, 0));
	ASSERT_EQ(0, vblk_dev_attach(self->d, self->sfd, 0, "after"));
	ASSERT_EQ(0, vblk_vq_start(self->d, 0, 0));
	vq = &self->d->vqs[0];
	r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(self->d, 65536, 4096, &gpa));
	EXPECT_EQ(VIRTIO_BLK_S_OK, write_pattern(vq, r, gpa, 5000, 65536,
						 self->seed + 1));
	EXPECT_EQ(0, check_pattern(vq, r, gpa, 5000, 65536, self->seed + 1));
	/* The new serial is in effect. */
	EXPECT_EQ(VIRTIO_BLK_S_OK, do_io(vq, r, VIRTIO_BLK_T_GET_ID, 0, gpa,
					 VIRTIO_BLK_ID_BYTES, 0));
	EXPECT_EQ(0, memcmp(vblk_gpa_to_hva(self->d, gpa, 6), "after", 6));
}

TEST_F(td, reset_owner_then_new_owner_process)
{
	struct vblk_opts o = flood_opts(1);
	pid_t pid;
	int status;

	NEED_SLOW();
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->sfd, 0, NULL));
	ASSERT_NE(NULL, flood(self, 1, 64, 4096));
	ASSERT_EQ(0, vblk_dev_reset_owner(self->d));
	/* Another process may take the same fd over. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int bad = vhost_blk_set_owner(self->d->fd) != 0;

		bad |= vhost_blk_set_owner(self->d->fd) != -EBUSY;
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The child owned it (and exited): we are not the owner. */
	EXPECT_EQ(-EPERM, vhost_blk_set_vring_num(self->d->fd, 0, 16));
}

struct child_arg {
	int bfd;
	int ready;		/* pipe write end */
	uint64_t seed;
	bool hang;		/* sleep after submitting instead of exiting */
};

static int child_flood(void *p)
{
	struct child_arg *a = p;
	struct vblk_opts o = flood_opts(2);
	struct vblk_dev *d;
	uint64_t gpa;
	char c = 1;

	if (vblk_dev_create(&d, &o, a->bfd, 0, NULL))
		return 10;
	if (vblk_alloc(d, 256 * 4096, 4096, &gpa))
		return 11;
	for (unsigned int q = 0; q < 2; q++) {
		for (unsigned int i = 0; i < 128; i++) {
			struct vblk_req *r = vblk_req_alloc(d);

			if (!r)
				return 12;
			vblk_req_reset(r, VIRTIO_BLK_T_IN, 8 * i);
			vblk_req_add_seg(r, gpa + (q * 128 + i) * 4096, 4096);
			if (vblk_req_submit(&d->vqs[q], r, VBLK_ADD_INDIRECT) < 0)
				return 13;
		}
		vblk_vq_kick(&d->vqs[q]);
	}
	if (write(a->ready, &c, 1) != 1)
		return 14;
	if (a->hang)
		pause();
	/* Exit without closing anything: the kernel cleans up. */
	return 0;
}

TEST_F(td, owner_exits_with_requests_in_flight)
{
	struct child_arg a = { .bfd = self->sfd, .seed = self->seed };
	int p[2];
	char c;

	NEED_SLOW();
	ASSERT_EQ(0, pipe(p));
	a.ready = p[1];
	EXPECT_EQ(0, run_in_child(child_flood, &a, PROMPT_MS));
	ASSERT_EQ(1, read(p[0], &c, 1));
	close(p[0]);
	close(p[1]);
	device_works(_metadata, self->sfd, self->seed, 1);
}

TEST_F(td, owner_killed_with_requests_in_flight)
{
	struct child_arg a = { .bfd = self->sfd, .seed = self->seed,
			       .hang = true };
	uint64_t t0;
	int p[2], status;
	pid_t pid;
	char c;

	NEED_SLOW();
	ASSERT_EQ(0, pipe(p));
	a.ready = p[1];
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(child_flood(&a));
	ASSERT_EQ(1, read(p[0], &c, 1));
	t0 = vblk_now_ns();
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_GT(PROMPT_MS, (vblk_now_ns() - t0) / 1000000);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(p[0]);
	close(p[1]);
	device_works(_metadata, self->sfd, self->seed, 1);
}

TEST_F(td, get_vring_base_with_requests_in_flight)
{
	struct vblk_opts o = flood_opts(1);
	struct vblk_req **r;
	struct vblk_vq *vq;
	unsigned int base = ~0U;
	uint16_t used;

	NEED_SLOW();
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->sfd, 0, NULL));
	vq = &self->d->vqs[0];
	r = flood(self, 1, 48, 4096);
	ASSERT_NE(NULL, r);
	usleep(3000);
	ASSERT_EQ(0, vblk_vq_stop(vq, &base));
	/* Everything the device took is on the used ring already. */
	used = vblk_vq_used_idx(vq);
	EXPECT_EQ(base, used);
	EXPECT_GE(48, base);
	/* Stopped: nothing more completes. */
	usleep(QUIET_MS * 1000);
	EXPECT_EQ(used, vblk_vq_used_idx(vq));
	vblk_vq_reap(vq, NULL, UINT_MAX);
	for (unsigned int i = 0; i < base; i++) {
		EXPECT_TRUE(r[i]->done && r[i]->status == VIRTIO_BLK_S_OK)
			TH_LOG("request %u", i);
	}

	/* Restart: the rest is served; all data is on the device. */
	ASSERT_EQ(0, vblk_vq_restart(vq, base));
	ASSERT_EQ(0, vblk_vq_kick_force(vq));
	ASSERT_EQ(0, vblk_vq_drain(vq, IO_TIMEOUT_MS));
	for (unsigned int i = 0; i < 48; i++) {
		uint8_t buf[4096];

		EXPECT_EQ(VIRTIO_BLK_S_OK, r[i]->status);
		ASSERT_EQ(0, blk_direct_io(self->slow, false, 8 * i * 512ULL,
					   buf, sizeof(buf)));
		EXPECT_EQ(-1, vblk_pattern_check(buf, sizeof(buf), 8 * i,
						 self->seed)) TH_LOG("req %u", i);
	}
}

TEST_F(td, ring_memory_protected)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	int fd = open(test_dev(), O_RDWR | O_CLOEXEC);
	struct vblk_vq *vq;
	struct vblk_req *r;
	uintptr_t page;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, fd, 0, NULL));
	vq = &self->d->vqs[0];
	r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, r);
	vblk_req_reset(r, VIRTIO_BLK_T_FLUSH, 0);
	ASSERT_LE(0, vblk_req_submit(vq, r, 0));
	/* The avail ring cannot be read by the device any more. */
	page = (uintptr_t)vq->avail & ~4095UL;
	ASSERT_EQ(0, mprotect((void *)page, 4096, PROT_NONE));
	ASSERT_EQ(0, vblk_vq_kick_force(vq));
	EXPECT_EQ(1, efd_fired(vq->err_fd, IO_TIMEOUT_MS));
	ASSERT_EQ(0, mprotect((void *)page, 4096, PROT_READ | PROT_WRITE));
	vblk_dev_destroy(self->d);
	self->d = NULL;
	device_works(_metadata, fd, self->seed, 1);
	close(fd);
}

TEST_F(td, two_devices_one_backend)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	int fd = open(test_dev(), O_RDWR | O_CLOEXEC);
	struct vblk_dev *d2;
	struct vblk_req *r1, *r2;
	uint64_t g1, g2;

	ASSERT_LE(0, fd);
	o.mem_size = 8 << 20;
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, fd, 0, "one"));
	ASSERT_EQ(0, vblk_dev_create(&d2, &o, fd, 0, "two"));
	r1 = vblk_req_alloc(self->d);
	r2 = vblk_req_alloc(d2);
	ASSERT_NE(NULL, r1);
	ASSERT_NE(NULL, r2);
	ASSERT_EQ(0, vblk_alloc(self->d, 8192, 4096, &g1));
	ASSERT_EQ(0, vblk_alloc(d2, 8192, 4096, &g2));
	/* What one writes, the other reads. */
	EXPECT_EQ(VIRTIO_BLK_S_OK, write_pattern(&self->d->vqs[0], r1, g1,
						 6000, 8192, self->seed));
	EXPECT_EQ(0, check_pattern(&d2->vqs[0], r2, g2, 6000, 8192,
				   self->seed));
	EXPECT_EQ(VIRTIO_BLK_S_OK, write_pattern(&d2->vqs[0], r2, g2, 6000,
						 8192, self->seed + 1));
	EXPECT_EQ(0, check_pattern(&self->d->vqs[0], r1, g1, 6000, 8192,
				   self->seed + 1));
	/* Closing one leaves the other working. */
	vblk_dev_destroy(d2);
	EXPECT_EQ(0, check_pattern(&self->d->vqs[0], r1, g1, 6000, 8192,
				   self->seed + 1));
	close(fd);
}

TEST_F(td, open_close_cycles)
{
	int fd = open(test_dev(), O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd);
	for (int i = 0; i < 50; i++) {
		struct vblk_opts o = VBLK_OPTS_DEFAULT;
		struct vblk_dev *d;

		o.mem_size = 1 << 20;
		o.num_queues = 1 + i % 4;
		o.queue_size = 16;
		ASSERT_EQ(0, vblk_dev_create(&d, &o, fd, 0, NULL))
			TH_LOG("cycle %d", i);
		vblk_dev_destroy(d);
	}
	device_works(_metadata, fd, self->seed, 1);
	close(fd);
}

TEST_F(td, more_than_pin_limit_in_flight)
{
	/*
	 * 96 MiB of writes in flight on one queue: more than the 64 MiB a
	 * queue may hold pinned. The queue must pause and resume, not stall.
	 */
	struct vblk_opts o = flood_opts(1);
	int fd = open("/dev/nullb0", O_RDWR | O_CLOEXEC);
	struct vblk_req **r, *rd;
	uint64_t gpa;
	uint8_t *buf;

	if (fd < 0)
		SKIP(return, "/dev/nullb0: %s", strerror(errno));
	o.mem_size = 112 << 20;
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, fd, 0, NULL));
	ASSERT_LE(96 << 11, vblk_dev_capacity(self->d));
	r = flood(self, 1, 96, 1 << 20);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_vq_drain(&self->d->vqs[0], 4 * IO_TIMEOUT_MS));
	for (int i = 0; i < 96; i++) {
		EXPECT_EQ(VIRTIO_BLK_S_OK, r[i]->status);
	}
	/* Spot-check the data. */
	rd = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, rd);
	ASSERT_EQ(0, vblk_alloc(self->d, 1 << 20, 4096, &gpa));
	buf = vblk_gpa_to_hva(self->d, gpa, 1 << 20);
	for (int i = 0; i < 96; i += 19) {
		EXPECT_EQ(VIRTIO_BLK_S_OK,
			  do_io(&self->d->vqs[0], rd, VIRTIO_BLK_T_IN,
				(uint64_t)i * 2048, gpa, 1 << 20, 0));
		EXPECT_EQ(-1, vblk_pattern_check(buf, 1 << 20,
						 (uint64_t)i * 2048,
						 self->seed)) TH_LOG("req %d", i);
	}
	close(fd);
}

VHOST_BLK_TEST_MAIN
