// SPDX-License-Identifier: GPL-2.0
/*
 * faults_flood: 4096 requests in flight on a null_blk that holds every
 * request for three seconds, then the owner is killed, closes the device
 * or resets the owner: done within 5 s of the requests' end, with no
 * worker, no pinned page and no module reference left behind.
 */
#include "faults.h"

#define NULLB_FLOOD	"vhost-blk-flood"
/*
 * Every request completes this long after submission: long enough for a
 * debug kernel under TCG to submit all 4096 before the first completes.
 */
#define FLOOD_MS	3000
#define FLOOD_NSEC	"3000000000"
#define FLOOD_QUEUES	16
#define FLOOD_PER_Q	256
#define FLOOD_N		(FLOOD_QUEUES * FLOOD_PER_Q)

/*
 * A null_blk that takes all 4096 requests at once (no scheduler, one tag
 * per request) and completes each FLOOD_NSEC after it came.
 */
static int nullb_flood(char *path, size_t len)
{
	static const char *const attrs[] = {
		"size=64", "blocksize=512", "memory_backed=1", "irqmode=2",
		"completion_nsec=" FLOOD_NSEC, "hw_queue_depth=4096",
		"submit_queues=1", NULL,
	};

	return nullb_get(NULLB_FLOOD, attrs, path, len);
}

FIXTURE(flood) {
	char node[64];
	char sys[PATH_MAX];	/* /sys/block/<disk> */
	int bfd;
	struct vblk_dev *d;
	long pins0, refs0;
	uint64_t seed;
};

FIXTURE_SETUP(flood)
{
	char queue[PATH_MAX + 8];

	self->bfd = -1;
	self->seed = fresh_seed();
	if (nullb_flood(self->node, sizeof(self->node)))
		SKIP(return, "no configfs null_blk");
	self->bfd = open(self->node, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->bfd) TH_LOG("%s: %s", self->node, strerror(errno));
	snprintf(self->sys, sizeof(self->sys), "/sys/block/%s",
		 strrchr(self->node, '/') + 1);
	snprintf(queue, sizeof(queue), "%s/queue", self->sys);
	/* A scheduler would hold most requests back in the block layer. */
	ASSERT_EQ(0, write_attr(queue, "scheduler", "none"));
	ASSERT_EQ(0, write_attr(queue, "nomerges", "2"));
	self->pins0 = pinned_pages();
	ASSERT_LE(0, self->pins0);
	self->refs0 = module_refs();
	ASSERT_LE(0, self->refs0);
}

FIXTURE_TEARDOWN(flood)
{
	vblk_dev_destroy(self->d);
	if (self->bfd >= 0)
		close(self->bfd);
}

/* Requests the disk has in flight, reads and writes; -1 if unknown. */
static long disk_inflight(const char *sys)
{
	char buf[64];
	long rd, wr;

	if (read_attr(sys, "inflight", buf, sizeof(buf)) ||
	    sscanf(buf, "%ld %ld", &rd, &wr) != 2)
		return -1;
	return rd + wr;
}

/*
 * Post 4096 reads of 4 KiB, 256 on each of 16 queues, 16 sectors apart so
 * none merge, and kick. 0 or -errno. Reads, because writeback throttling
 * holds the device's writes back (they are REQ_SYNC without REQ_IDLE):
 * with wbt_lat_usec at its default, only about 3000 of 4096 writes were
 * in the disk when the first completed.
 */
static int flood_post(struct vblk_dev **dp, int bfd)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	struct vblk_dev *d;
	uint64_t gpa;
	int ret;

	o.num_queues = FLOOD_QUEUES;
	o.queue_size = 2 * FLOOD_PER_Q;
	o.mem_size = 32 << 20;
	o.populate = true;
	ret = vblk_dev_create(&d, &o, bfd, 0, "flood");
	if (ret)
		return ret;
	*dp = d;
	if (!vblk_dev_has_feature(d, VIRTIO_RING_F_EVENT_IDX))
		return -EOPNOTSUPP;
	ret = vblk_alloc(d, FLOOD_N * 4096, 4096, &gpa);
	for (unsigned int k = 0; !ret && k < FLOOD_N; k++) {
		struct vblk_req *r = vblk_req_alloc(d);

		if (!r)
			return -ENOMEM;
		vblk_req_reset(r, VIRTIO_BLK_T_IN, 16 * k);
		vblk_req_add_seg(r, gpa + 4096ULL * k, 4096);
		ret = vblk_req_submit(&d->vqs[k % FLOOD_QUEUES], r,
				      VBLK_ADD_INDIRECT);
		ret = ret < 0 ? ret : 0;
	}
	for (unsigned int q = 0; !ret && q < FLOOD_QUEUES; q++)
		ret = vblk_vq_kick(&d->vqs[q]);
	return ret;
}

/*
 * Wait until the device took every request, and check that none
 * completed. With EVENT_IDX the device moves avail_event to the end of
 * what the guest posted only when it found the ring empty, having
 * submitted all it took. 0, -EBUSY if some completed already (FLOOD_MS
 * too short for this machine), -ETIMEDOUT. @at: when, CLOCK_MONOTONIC.
 */
static int flood_taken(struct vblk_dev *d, uint64_t *at)
{
	uint64_t end = vblk_now_ns() + 30000000000ULL;

	for (;;) {
		unsigned int taken = 0, used = 0;

		for (unsigned int q = 0; q < FLOOD_QUEUES; q++) {
			taken += vblk_vq_avail_event(&d->vqs[q]) == FLOOD_PER_Q;
			used += vblk_vq_used_idx(&d->vqs[q]);
		}
		*at = vblk_now_ns();
		if (used)
			return -EBUSY;
		if (taken == FLOOD_QUEUES)
			return 0;
		if (vblk_now_ns() > end)
			return -ETIMEDOUT;
		usleep(5000);
	}
}

static long ms_between(uint64_t from, uint64_t to)
{
	return ((int64_t)to - (int64_t)from) / 1000000;
}

static const char *flood_why(int ret)
{
	if (ret == -EBUSY)
		return "requests completed before all were taken (FLOOD_MS too short here)";
	return ret == -ETIMEDOUT ? "the device did not take all requests" :
				   strerror(-ret);
}

/* All 4096 requests are in the disk and hold their pages; @pid's workers run. */
static void flood_in_flight(struct __test_metadata *_metadata,
			    FIXTURE_DATA(flood) *self, pid_t pid)
{
	EXPECT_EQ(FLOOD_N, disk_inflight(self->sys));
	/*
	 * The count is system-wide: pages pinned for a moment by other
	 * I/O when pins0 was taken (9p's zero-copy reads of the shared
	 * root, say) may be gone by now.
	 */
	EXPECT_LE(FLOOD_N - FLOOD_N / 16, pinned_pages() - self->pins0);
	EXPECT_EQ(FLOOD_QUEUES, owner_workers(pid, NULL));
}

/*
 * A teardown that began at @start waits for the requests, which all ended
 * FLOOD_MS after @taken at the latest, and for nothing else: it must be
 * over PROMPT_MS after the later of the two.
 */
static void flood_prompt(struct __test_metadata *_metadata, const char *what,
			 uint64_t taken, uint64_t start)
{
	uint64_t now = vblk_now_ns(), io_end = taken + FLOOD_MS * 1000000ULL;

	TH_LOG("%s took %ld ms, until %ld ms after the requests ended", what,
	       ms_between(start, now), ms_between(io_end, now));
	EXPECT_GT(PROMPT_MS, ms_between(io_end > start ? io_end : start, now));
}

/*
 * After the owner of the flood went away (or reset): its workers are
 * gone, the requests ended, their pages were released, and the module
 * holds @refs references again.
 */
static void flood_gone(struct __test_metadata *_metadata,
		       FIXTURE_DATA(flood) *self, pid_t pid, long refs)
{
	EXPECT_TRUE(EVENTUALLY(!owner_workers(pid, NULL), PROMPT_MS))
		TH_LOG("%d workers of %d left", owner_workers(pid, NULL), pid);
	EXPECT_TRUE(EVENTUALLY(!disk_inflight(self->sys), PROMPT_MS))
		TH_LOG("%ld requests left in the disk",
		       disk_inflight(self->sys));
	EXPECT_TRUE(EVENTUALLY(pinned_pages() == self->pins0, PROMPT_MS))
		TH_LOG("%ld pages still pinned", pinned_pages() - self->pins0);
	EXPECT_TRUE(EVENTUALLY(module_refs() == refs, PROMPT_MS))
		TH_LOG("module refcnt %ld, expected %ld", module_refs(), refs);
}

/*
 * The flood on self->d, from this process: posted, every request taken
 * and checked in flight. When the last one was taken.
 */
static uint64_t flood_fill(struct __test_metadata *_metadata,
			   FIXTURE_DATA(flood) *self)
{
	uint64_t t0, taken = 0;
	int ret;

	ASSERT_EQ(0, flood_post(&self->d, self->bfd));
	t0 = vblk_now_ns();
	ret = flood_taken(self->d, &taken);
	ASSERT_EQ(0, ret) TH_LOG("%s", flood_why(ret));
	TH_LOG("all in flight %ld ms after the kicks", ms_between(t0, taken));
	flood_in_flight(_metadata, self, getpid());
	return taken;
}

TEST_F_TIMEOUT(flood, owner_killed, 120)
{
	uint64_t t[2] = { 0, 0 }, t0;	/* kicked, all taken */
	int p[2], status, ret;
	pid_t pid;

	ASSERT_EQ(0, pipe(p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct vblk_dev *d = NULL;

		ret = flood_post(&d, self->bfd);
		t[0] = vblk_now_ns();
		if (!ret)
			ret = flood_taken(d, &t[1]);
		if (write(p[1], &ret, sizeof(ret)) != sizeof(ret) ||
		    write(p[1], t, sizeof(t)) != sizeof(t))
			_exit(1);
		pause();
		_exit(0);
	}
	/* Check, and kill the child whatever was found. */
	close(p[1]);
	if (read(p[0], &ret, sizeof(ret)) != sizeof(ret) ||
	    read(p[0], t, sizeof(t)) != sizeof(t))
		ret = -EPIPE;
	EXPECT_EQ(0, ret) TH_LOG("%s", flood_why(ret));
	TH_LOG("all in flight %ld ms after the kicks", ms_between(t[0], t[1]));
	if (!ret)
		flood_in_flight(_metadata, self, pid);

	t0 = vblk_now_ns();
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	flood_prompt(_metadata, "reaping the killed owner", t[1], t0);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(p[0]);
	flood_gone(_metadata, self, pid, self->refs0);
	device_works(_metadata, self->bfd, self->seed, 2);
}

TEST_F_TIMEOUT(flood, close_in_flight, 120)
{
	uint64_t t0, taken;

	taken = flood_fill(_metadata, self);
	t0 = vblk_now_ns();
	vblk_dev_close_fd(self->d);
	flood_prompt(_metadata, "close()", taken, t0);
	/* Closed: the memory the requests used is still mapped, unpinned. */
	flood_gone(_metadata, self, getpid(), self->refs0);
	vblk_dev_destroy(self->d);
	self->d = NULL;
	device_works(_metadata, self->bfd, self->seed, 2);
}

TEST_F_TIMEOUT(flood, reset_owner_in_flight, 120)
{
	struct vblk_req *r;
	uint64_t t0, taken, gpa;

	taken = flood_fill(_metadata, self);
	t0 = vblk_now_ns();
	ASSERT_EQ(0, vblk_dev_reset_owner(self->d));
	flood_prompt(_metadata, "RESET_OWNER", taken, t0);
	/* Every request was completed to the guest before the reset. */
	for (unsigned int q = 0; q < FLOOD_QUEUES; q++)
		EXPECT_EQ(FLOOD_PER_Q, vblk_vq_used_idx(&self->d->vqs[q]));
	/* The open file keeps its one reference. */
	flood_gone(_metadata, self, getpid(), self->refs0 + 1);

	/* Owned again, the same file serves I/O. */
	ASSERT_EQ(0, vblk_dev_setup(self->d, 0));
	ASSERT_EQ(0, vblk_dev_attach(self->d, self->bfd, 0, NULL));
	ASSERT_EQ(0, vblk_vq_start(self->d, 0, 0));
	r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(self->d, 65536, 4096, &gpa));
	EXPECT_EQ(VIRTIO_BLK_S_OK, write_pattern(&self->d->vqs[0], r, gpa, 8,
						 65536, self->seed));
	EXPECT_EQ(0, check_pattern(&self->d->vqs[0], r, gpa, 8, 65536,
				   self->seed));
	vblk_dev_destroy(self->d);
	self->d = NULL;
	EXPECT_TRUE(EVENTUALLY(module_refs() == self->refs0, PROMPT_MS));
}

VHOST_BLK_TEST_MAIN
