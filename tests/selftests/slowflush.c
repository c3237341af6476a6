// SPDX-License-Identifier: GPL-2.0
/*
 * slowflush: a regular file backend whose fsync is slow (ext4 on a
 * dm-delay device that delays writes and flushes, not reads). The flush
 * runs on the auxiliary worker of the queue's worker, so reads on the same queue end
 * while it is pending, and it holds no request of another queue; an
 * owner killed during such a flush, with a write-zeroes queued behind
 * it, goes away once the flush ends, the write-zeroes is done all the
 * same, and no thread and no module reference is left behind.
 */
#include "faults.h"

#define DMSETUP		"/usr/sbin/dmsetup"
#define DM_NAME		"vhost-blk-slowflush"
#define DELAY_MS	500
#define IMG_SIZE	(16ULL << 20)
#define CLEAN_BYTES	(256 * 1024)	/* written and synced before the delay */
#define DIRTY_SECTOR	4096		/* a hole until the test writes it */
#define NR_READS	4
#define ZERO_SECTOR	(DIRTY_SECTOR + 64)	/* zeroed in the kill test */
#define ZERO_SECTORS	16

FIXTURE(slow) {
	char node[64];
	char dir[64];
	char path[PATH_MAX];
	bool made, mounted;
	int ffd;
	struct vblk_dev *d;	/* destroyed before the unmount */
	pid_t child;		/* killed before the unmount */
	uint64_t sectors;
	uint64_t seed;
};

/* The delay table: reads at once, writes and flushes after @ms. */
static int slow_table(FIXTURE_DATA(slow) *self, int ms, char *why,
		      size_t len)
{
	const char *b = test_dev2();

	if (run_cmd(why, len, "echo '0 %llu delay %s 0 0 %s 0 %d %s 0 %d' | "
		    DMSETUP " reload %s", (unsigned long long)self->sectors,
		    b, b, ms, b, ms, DM_NAME))
		return -1;
	return run_cmd(why, len, DMSETUP " resume %s", DM_NAME) ? -1 : 0;
}

static int slow_node(const char *name, char *node, size_t len)
{
	char dir[PATH_MAX], buf[128];
	struct dirent *e;
	int ret = -ENOENT;
	DIR *sys;

	sys = opendir("/sys/block");
	if (!sys)
		return -errno;
	while (ret && (e = readdir(sys))) {
		if (strncmp(e->d_name, "dm-", 3))
			continue;
		snprintf(dir, sizeof(dir), "/sys/block/%s/dm", e->d_name);
		if (read_attr(dir, "name", buf, sizeof(buf)) ||
		    strcmp(buf, name))
			continue;
		snprintf(node, len, "/dev/%.32s", e->d_name);
		ret = EVENTUALLY(!access(node, F_OK), 2000) ? 0 : -ENOENT;
	}
	closedir(sys);
	return ret;
}

FIXTURE_SETUP(slow)
{
	char why[512] = "";
	uint8_t *b;
	int fd;

	self->ffd = -1;
	self->seed = fresh_seed();
	if (access(DMSETUP, X_OK) || access("/sbin/mkfs.ext4", X_OK))
		SKIP(return, "no dmsetup or mkfs.ext4");
	if (run_cmd(why, sizeof(why), "modprobe dm-delay 2>/dev/null || modprobe -d \"$MODROOT\" dm-delay") ||
	    !EVENTUALLY(!access("/dev/mapper/control", F_OK), 2000))
		SKIP(return, "no dm-delay: %s", why);
	if (run_cmd(why, sizeof(why), "grep -qw ext4 /proc/filesystems || modprobe ext4 2>/dev/null || modprobe -d \"$MODROOT\" ext4"))
		SKIP(return, "no ext4: %s", why);

	fd = open(test_dev2(), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", test_dev2(), strerror(errno));
	self->sectors = blk_bytes(fd) / 512;
	close(fd);
	run_cmd(NULL, 0, DMSETUP " --noudevsync remove --retry " DM_NAME);
	ASSERT_EQ(0, run_cmd(why, sizeof(why), "echo '0 %llu delay %s 0 0' | "
			     DMSETUP " --noudevsync create " DM_NAME,
			     (unsigned long long)self->sectors, test_dev2()))
		TH_LOG("dmsetup create: %s", why);
	self->made = true;
	ASSERT_EQ(0, slow_node(DM_NAME, self->node, sizeof(self->node)));
	ASSERT_EQ(0, run_cmd(why, sizeof(why), "mkfs.ext4 -q -F %s",
			     self->node)) TH_LOG("mkfs: %s", why);
	snprintf(self->dir, sizeof(self->dir), "/tmp/vhost-blk-slow.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	ASSERT_EQ(0, run_cmd(why, sizeof(why), "mount -t ext4 %s %s",
			     self->node, self->dir)) TH_LOG("mount: %s", why);
	self->mounted = true;

	/* A sparse image whose start holds data already on the disk. */
	snprintf(self->path, sizeof(self->path), "%s/img", self->dir);
	self->ffd = open(self->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_LE(0, self->ffd);
	ASSERT_EQ(0, ftruncate(self->ffd, IMG_SIZE));
	b = malloc(CLEAN_BYTES);
	ASSERT_NE(NULL, b);
	vblk_pattern_fill(b, CLEAN_BYTES, 0, self->seed);
	ASSERT_EQ(CLEAN_BYTES, pwrite(self->ffd, b, CLEAN_BYTES, 0));
	free(b);
	ASSERT_EQ(0, fsync(self->ffd));

	ASSERT_EQ(0, slow_table(self, DELAY_MS, why, sizeof(why)))
		TH_LOG("dmsetup reload: %s", why);
}

FIXTURE_TEARDOWN(slow)
{
	/* Let the unmount's writes through at once. */
	if (self->made)
		slow_table(self, 0, NULL, 0);
	vblk_dev_destroy(self->d);
	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, NULL, 0);
	}
	if (self->ffd >= 0)
		close(self->ffd);
	if (self->mounted)
		run_cmd(NULL, 0, "umount %s", self->dir);
	if (self->dir[0])
		rmdir(self->dir);
	if (self->made)
		run_cmd(NULL, 0, DMSETUP " --noudevsync remove --retry "
			DM_NAME);
}

/* 1 if @n sectors of file @path from @sector read as zeroes, else 0. */
static int file_zero(const char *path, uint64_t sector, uint32_t n)
{
	size_t len = (size_t)n * 512;
	uint8_t *b = calloc(1, len);
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (b && fd >= 0 && pread(fd, b, len, sector * 512) == (ssize_t)len)
		ret = b[0] == 0 && !memcmp(b, b + 1, len - 1);
	if (fd >= 0)
		close(fd);
	free(b);
	return ret;
}

static uint64_t ms_since(uint64_t t0)
{
	return (vblk_now_ns() - t0) / 1000000;
}

/* Submit (and kick) a write of 64 KiB into a hole: ext4 must commit. */
static int dirty_write(struct vblk_dev *d, struct vblk_req *r, uint64_t buf,
		       uint64_t seed)
{
	return write_pattern(&d->vqs[0], r, buf, DIRTY_SECTOR, 65536, seed);
}

/* The inflight counter of the total line of @pid's fd @fd, or -1. */
static long owner_inflight(pid_t pid, int fd)
{
	char path[64], line[512];
	long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "total:", 6))
			n = (long)fdinfo_counter(line, "inflight");
	fclose(f);
	return n;
}

TEST_F(slow, flush_does_not_hold_reads)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	struct vblk_req *rf, *rr[NR_READS];
	uint64_t t0, flush_ms, reads_ms, buf;
	struct vblk_dev *d;
	struct vblk_vq *vq;
	bool flush_pending;
	char line[512];

	o.mem_size = 4 << 20;
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->ffd, 0, "slowflush"));
	d = self->d;
	vq = &d->vqs[0];
	rf = vblk_req_alloc(d);
	ASSERT_NE(NULL, rf);
	ASSERT_EQ(0, vblk_alloc(d, 65536 + NR_READS * 4096, 4096, &buf));
	ASSERT_EQ(VIRTIO_BLK_S_OK, dirty_write(d, rf, buf, self->seed + 1));

	vblk_req_reset(rf, VIRTIO_BLK_T_FLUSH, 0);
	ASSERT_LE(0, vblk_req_submit(vq, rf, 0));
	ASSERT_EQ(0, vblk_vq_kick(vq));
	t0 = vblk_now_ns();
	for (int i = 0; i < NR_READS; i++) {
		rr[i] = vblk_req_alloc(d);
		ASSERT_NE(NULL, rr[i]);
		vblk_req_reset(rr[i], VIRTIO_BLK_T_IN, i * 8);
		vblk_req_add_seg(rr[i], buf + 65536 + i * 4096, 4096);
		ASSERT_LE(0, vblk_req_submit(vq, rr[i], 0));
	}
	ASSERT_EQ(0, vblk_vq_kick(vq));
	for (int i = 0; i < NR_READS; i++)
		ASSERT_EQ(0, vblk_req_wait(vq, rr[i], 4 * DELAY_MS + IO_TIMEOUT_MS));
	reads_ms = ms_since(t0);
	flush_pending = !rf->done;
	ASSERT_EQ(0, vblk_req_wait(vq, rf, 4 * DELAY_MS + IO_TIMEOUT_MS));
	flush_ms = ms_since(t0);
	TH_LOG("reads %llu ms, flush %llu ms (writes and flushes delayed %d ms)",
	       (unsigned long long)reads_ms, (unsigned long long)flush_ms,
	       DELAY_MS);

	EXPECT_EQ(VIRTIO_BLK_S_OK, rf->status);
	/* Else the fsync was not slow and this proves nothing. */
	EXPECT_LE(DELAY_MS / 2, flush_ms);
	EXPECT_TRUE(flush_pending) TH_LOG("the reads waited for the flush");
	EXPECT_GT(flush_ms / 2, reads_ms);
	for (int i = 0; i < NR_READS; i++) {
		uint8_t data[4096];

		EXPECT_EQ(VIRTIO_BLK_S_OK, rr[i]->status);
		ASSERT_EQ(0, vblk_mem_read(d, buf + 65536 + i * 4096, data,
					   sizeof(data)));
		EXPECT_EQ(-1, vblk_pattern_check(data, sizeof(data), i * 8,
						 self->seed)) TH_LOG("read %d", i);
	}
	/* The write the flush made durable is in the file. */
	EXPECT_EQ(0, check_pattern(vq, rf, buf, DIRTY_SECTOR, 65536,
				   self->seed + 1));
	EXPECT_TRUE(fdinfo_line(d->fd, "aux:", line, sizeof(line)));
	EXPECT_EQ(1, fdinfo_counter(line, "running")) TH_LOG("%s", line);
	EXPECT_EQ(1, fdinfo_counter(line, "queued")) TH_LOG("%s", line);
	EXPECT_EQ(0, fdinfo_counter(line, "inline")) TH_LOG("%s", line);
}

/*
 * A flush on the auxiliary worker is in flight like any request: a
 * backend swap is refused while it is, and stopping the queue
 * (GET_VRING_BASE) waits for it and finds it on the used ring.
 */
TEST_F(slow, stop_and_swap_wait_for_the_flush)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	uint64_t t0, stop_ms, buf;
	unsigned int base = 0;
	struct vblk_req *rf;
	struct vblk_vq *vq;

	o.mem_size = 4 << 20;
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->ffd, 0, "stop"));
	vq = &self->d->vqs[0];
	rf = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, rf);
	ASSERT_EQ(0, vblk_alloc(self->d, 65536, 4096, &buf));
	ASSERT_EQ(VIRTIO_BLK_S_OK, dirty_write(self->d, rf, buf,
					       self->seed + 3));

	vblk_req_reset(rf, VIRTIO_BLK_T_FLUSH, 0);
	ASSERT_LE(0, vblk_req_submit(vq, rf, 0));
	ASSERT_EQ(0, vblk_vq_kick(vq));
	t0 = vblk_now_ns();
	ASSERT_TRUE(EVENTUALLY(owner_inflight(getpid(), self->d->fd) == 1,
			       2000));
	EXPECT_EQ(-EBUSY, vblk_dev_attach(self->d, self->ffd, 0, "swap"));
	ASSERT_EQ(0, vblk_vq_stop(vq, &base));
	stop_ms = ms_since(t0);
	TH_LOG("GET_VRING_BASE returned %llu ms after the flush was kicked",
	       (unsigned long long)stop_ms);
	EXPECT_LE(DELAY_MS / 2, stop_ms);
	/* The write and the flush, both on the used ring. */
	EXPECT_EQ(2, base);
	EXPECT_EQ(0, owner_inflight(getpid(), self->d->fd));
	ASSERT_EQ(0, vblk_req_wait(vq, rf, 1000));
	EXPECT_EQ(VIRTIO_BLK_S_OK, rf->status);
	/* Idle now: the swap goes through. */
	EXPECT_EQ(0, vblk_dev_attach(self->d, self->ffd, 0, "swap"));
}

TEST_F(slow, owner_killed_during_flush)
{
	long refs0 = module_refs();
	int st, pfd[2], fd = -1;
	uint64_t t0, gone_ms;
	pid_t pid;

	ASSERT_LE(0, refs0);
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	self->child = pid;
	if (!pid) {
		struct virtio_blk_discard_write_zeroes seg = {
			.sector = htole64(ZERO_SECTOR),
			.num_sectors = htole32(ZERO_SECTORS),
		};
		struct vblk_opts o = VBLK_OPTS_DEFAULT;
		struct vblk_req *r, *rz;
		struct vblk_dev *d;
		struct vblk_vq *vq;
		uint64_t buf;

		o.mem_size = 4 << 20;
		if (vblk_dev_create(&d, &o, self->ffd, 0, "killed") ||
		    !(r = vblk_req_alloc(d)) || !(rz = vblk_req_alloc(d)) ||
		    vblk_alloc(d, 65536, 4096, &buf) ||
		    dirty_write(d, r, buf, self->seed + 2) != VIRTIO_BLK_S_OK)
			_exit(1);
		vq = &d->vqs[0];
		vblk_req_reset(r, VIRTIO_BLK_T_FLUSH, 0);
		if (vblk_req_submit(vq, r, 0) < 0 || vblk_vq_kick(vq))
			_exit(1);
		/* Once the flush is in its fsync, queue more behind it. */
		usleep(DELAY_MS * 1000 / 4);
		vblk_req_reset(rz, VIRTIO_BLK_T_WRITE_ZEROES, 0);
		if (vblk_mem_write(d, buf, &seg, sizeof(seg)) ||
		    vblk_req_add_data(d, rz, buf, sizeof(seg)) ||
		    vblk_req_submit(vq, rz, 0) < 0 || vblk_vq_kick(vq) ||
		    write(pfd[1], &d->fd, sizeof(d->fd)) != sizeof(d->fd))
			_exit(1);
		pause();
		_exit(2);
	}
	close(pfd[1]);
	ASSERT_EQ(sizeof(fd), read(pfd[0], &fd, sizeof(fd)));
	close(pfd[0]);
	/* The flush in its fsync, the write-zeroes waiting behind it. */
	ASSERT_TRUE(EVENTUALLY(owner_inflight(pid, fd) == 2, 2000))
		TH_LOG("%ld in flight", owner_inflight(pid, fd));

	t0 = vblk_now_ns();
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	self->child = 0;
	gone_ms = ms_since(t0);
	TH_LOG("owner gone %llu ms after SIGKILL, flush delayed %d ms",
	       (unsigned long long)gone_ms, DELAY_MS);
	/* At most the fsync's commit: a few delayed writes and flushes. */
	EXPECT_GT(4 * DELAY_MS + PROMPT_MS, gone_ms);
	EXPECT_TRUE(EVENTUALLY(module_refs() == refs0,
			       4 * DELAY_MS + PROMPT_MS))
		TH_LOG("module refcnt %ld, want %ld", module_refs(), refs0);
	/* No worker is left, the auxiliary one included (kthreads too). */
	EXPECT_TRUE(EVENTUALLY(owner_workers(pid, NULL) == 0, PROMPT_MS))
		TH_LOG("%d workers of %d left", owner_workers(pid, NULL), pid);
	/*
	 * The write-zeroes queued behind the flush did not run: the killed
	 * auxiliary worker ends what it had not started with an I/O error,
	 * not a backlog of slow calls. A kthread worker is not killed, and
	 * runs it before the device goes. Nothing else changed.
	 */
	slow_table(self, 0, NULL, 0);
	EXPECT_EQ(0, disk_check_pattern(self->path, DIRTY_SECTOR,
					(ZERO_SECTOR - DIRTY_SECTOR) * 512,
					self->seed + 2));
	if (kthread_workers()) {
		EXPECT_EQ(1, file_zero(self->path, ZERO_SECTOR, ZERO_SECTORS));
	} else {
		EXPECT_EQ(0, disk_check_pattern(self->path, ZERO_SECTOR,
						ZERO_SECTORS * 512,
						self->seed + 2));
	}
	EXPECT_EQ(0, disk_check_pattern(self->path, ZERO_SECTOR + ZERO_SECTORS,
					(DIRTY_SECTOR + 128 - ZERO_SECTOR -
					 ZERO_SECTORS) * 512, self->seed + 2));
}

/*
 * A slow flush on one queue holds nothing of another queue: each queue
 * has its own worker. A write-zeroes kicked on queue 1 while queue 0's
 * flush is in its fsync (ext4 zeroes a range without waiting for the
 * journal commit) must end, and zero its range, in a fraction of the
 * time the flush takes; the flush then ends OK.
 */
#define WZ_SECTOR	8	/* in the clean start of the image */
#define WZ_SECTORS	8

TEST_F(slow, flush_does_not_hold_other_queues)
{
	struct virtio_blk_discard_write_zeroes seg = {
		.sector = htole64(WZ_SECTOR),
		.num_sectors = htole32(WZ_SECTORS),
	};
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	uint64_t t0, flush_ms, wz_ms, buf;
	struct vblk_req *rf, *rz;
	struct vblk_dev *d;

	o.mem_size = 4 << 20;
	o.num_queues = 2;
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->ffd, 0, "queues"));
	d = self->d;
	rf = vblk_req_alloc(d);
	ASSERT_NE(NULL, rf);
	rz = vblk_req_alloc(d);
	ASSERT_NE(NULL, rz);
	ASSERT_EQ(0, vblk_alloc(d, 65536, 4096, &buf));
	ASSERT_EQ(VIRTIO_BLK_S_OK, dirty_write(d, rf, buf, self->seed + 4));

	vblk_req_reset(rf, VIRTIO_BLK_T_FLUSH, 0);
	ASSERT_LE(0, vblk_req_submit(&d->vqs[0], rf, 0));
	ASSERT_EQ(0, vblk_vq_kick(&d->vqs[0]));
	t0 = vblk_now_ns();
	/* Once the flush is in its fsync. */
	usleep(DELAY_MS * 1000 / 4);
	vblk_req_reset(rz, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	ASSERT_EQ(0, vblk_mem_write(d, buf, &seg, sizeof(seg)));
	ASSERT_EQ(0, vblk_req_add_data(d, rz, buf, sizeof(seg)));
	ASSERT_LE(0, vblk_req_submit(&d->vqs[1], rz, 0));
	ASSERT_EQ(0, vblk_vq_kick(&d->vqs[1]));
	ASSERT_EQ(0, vblk_req_wait(&d->vqs[1], rz,
				   4 * DELAY_MS + IO_TIMEOUT_MS));
	wz_ms = ms_since(t0);
	ASSERT_EQ(0, vblk_req_wait(&d->vqs[0], rf,
				   4 * DELAY_MS + IO_TIMEOUT_MS));
	flush_ms = ms_since(t0);
	TH_LOG("write-zeroes on queue 1 %llu ms, flush on queue 0 %llu ms",
	       (unsigned long long)wz_ms, (unsigned long long)flush_ms);

	EXPECT_EQ(VIRTIO_BLK_S_OK, rf->status);
	EXPECT_EQ(VIRTIO_BLK_S_OK, rz->status);
	/* Else the fsync was not slow and this proves nothing. */
	EXPECT_LE(DELAY_MS / 2, flush_ms);
	/* Queue 0's used ring is not looked at before: compare times. */
	EXPECT_GT(flush_ms / 2, wz_ms)
		TH_LOG("queue 1's write-zeroes waited for queue 0's flush");
	EXPECT_EQ(1, file_zero(self->path, WZ_SECTOR, WZ_SECTORS));
}

VHOST_BLK_TEST_MAIN
