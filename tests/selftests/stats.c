// SPDX-License-Identifier: GPL-2.0
/*
 * Observability: the counters of /proc/PID/fdinfo/FD match the I/O a
 * test did, request by request; the tracepoints fire with the device id
 * fdinfo names; `vhost-blk stat` finds the device of a process and shows
 * the same counters.
 */
#include <sys/mount.h>

#include "kselftest_harness.h"
#include "vhost_blk_test.h"

#define QSIZE		64
#define TRACEFS		"/sys/kernel/tracing"

FIXTURE(stats) {
	int bfd;
	struct vblk_dev *d;
	struct vblk_vq *vq;
	struct vblk_req *r;
	uint64_t buf, cap, seed;
	unsigned int id;
};

FIXTURE_SETUP(stats)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;

	self->bfd = open(test_dev(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->bfd) TH_LOG("%s: %s", test_dev(), strerror(errno));
	o.queue_size = QSIZE;
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->bfd, 0, "stats"));
	self->vq = &self->d->vqs[0];
	self->r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, self->r);
	ASSERT_EQ(0, vblk_alloc(self->d, 65536, 4096, &self->buf));
	self->cap = vblk_dev_capacity(self->d);
	self->seed = fresh_seed();
}

FIXTURE_TEARDOWN(stats)
{
	vblk_dev_destroy(self->d);
	close(self->bfd);
}

/* A chain whose only descriptor lies outside the memory table. */
static void refused_chain(struct __test_metadata *_metadata,
			  FIXTURE_DATA(stats) *self)
{
	struct vblk_req bad = { .head = -1 };
	uint16_t id;

	ASSERT_EQ(0, vblk_vq_alloc_desc(self->vq, 1, &id));
	vblk_vq_set_desc(self->vq, id, 0x7ff000000000ULL, 16, 0, 0);
	ASSERT_EQ(id, vblk_vq_post_raw(self->vq, &id, 1, &bad));
	ASSERT_EQ(0, vblk_vq_kick_force(self->vq));
	ASSERT_EQ(0, vblk_req_wait(self->vq, &bad, IO_TIMEOUT_MS));
	EXPECT_EQ(0, bad.used_len);
	EXPECT_EQ(1, efd_fired(self->vq->err_fd, IO_TIMEOUT_MS));
}

/*
 * Three writes, three reads (one past the end), a flush, GET_ID, an
 * unknown type and a refused chain: each counter says exactly that.
 */
TEST_F(stats, fdinfo_counts_every_request)
{
	uint64_t lbs = 512, sector = 2048;
	char line[1024], vq0[1024];

	for (int i = 0; i < 3; i++)
		ASSERT_EQ(VIRTIO_BLK_S_OK,
			  write_pattern(self->vq, self->r, self->buf,
					sector + 8 * i, 4096, self->seed));
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(0, check_pattern(self->vq, self->r, self->buf,
					   sector, 8192, self->seed));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  do_io(self->vq, self->r, VIRTIO_BLK_T_IN, self->cap,
			self->buf, lbs, 0));
	EXPECT_EQ(VIRTIO_BLK_S_OK, do_io(self->vq, self->r,
					 VIRTIO_BLK_T_FLUSH, 0, 0, 0, 0));
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  do_io(self->vq, self->r, VIRTIO_BLK_T_GET_ID, 0, self->buf,
			VIRTIO_BLK_ID_BYTES, 0));
	EXPECT_EQ(VIRTIO_BLK_S_UNSUPP,
		  do_io(self->vq, self->r, 0x1234, 0, 0, 0, 0));
	refused_chain(_metadata, self);

	ASSERT_TRUE(fdinfo_line(self->d->fd, "vhost-blk-id:", line,
				sizeof(line)));
	EXPECT_LT(0, atoi(line + 13));
	ASSERT_TRUE(fdinfo_line(self->d->fd, "backend:", line,
				sizeof(line)));
	EXPECT_NE(NULL, strstr(line, test_dev())) TH_LOG("%s", line);
	ASSERT_TRUE(fdinfo_line(self->d->fd, "vq0:", vq0, sizeof(vq0)));
	TH_LOG("%s", vq0);
	EXPECT_EQ(3, fdinfo_counter(vq0, "in"));
	EXPECT_EQ(3, fdinfo_counter(vq0, "out"));
	EXPECT_EQ(1, fdinfo_counter(vq0, "flush"));
	EXPECT_EQ(1, fdinfo_counter(vq0, "get_id"));
	EXPECT_EQ(0, fdinfo_counter(vq0, "discard"));
	EXPECT_EQ(1, fdinfo_counter(vq0, "other"));
	EXPECT_EQ(7, fdinfo_counter(vq0, "ok"));
	EXPECT_EQ(1, fdinfo_counter(vq0, "ioerr"));
	EXPECT_EQ(1, fdinfo_counter(vq0, "unsupp"));
	EXPECT_EQ(1, fdinfo_counter(vq0, "refused"));
	EXPECT_EQ(3 * 4096, fdinfo_counter(vq0, "bytes_written"));
	EXPECT_EQ(2 * 8192, fdinfo_counter(vq0, "bytes_read"));
	EXPECT_EQ(0, fdinfo_counter(vq0, "inflight"));
	/*
	 * Every request was kicked and called for, one at a time. The call
	 * comes after the used index the driver waited for: let the last
	 * one land in the counter.
	 */
	for (int i = 0; i < 200 && fdinfo_counter(vq0, "calls") < 10; i++) {
		usleep(5000);
		ASSERT_TRUE(fdinfo_line(self->d->fd, "vq0:", vq0,
					sizeof(vq0)));
	}
	EXPECT_LE(10, fdinfo_counter(vq0, "kicks"));
	EXPECT_LE(10, fdinfo_counter(vq0, "calls"));
	EXPECT_EQ(0, fdinfo_counter(vq0, "poll_hits"));
	/* One queue in use: the total is that queue. */
	ASSERT_TRUE(fdinfo_line(self->d->fd, "total:", line, sizeof(line)));
	EXPECT_STREQ(vq0 + 4, line + 6);
	EXPECT_FALSE(fdinfo_line(self->d->fd, "vq1:", line, sizeof(line)));
}

/* Busy polling counts its time, and its hits when the guest is quick. */
TEST_F(stats, fdinfo_counts_busy_polling)
{
	char vq0[1024];

	ASSERT_EQ(0, vhost_blk_set_vring_busyloop_timeout(self->d->fd, 0,
							  5000));
	for (int i = 0; i < 20; i++)
		ASSERT_EQ(VIRTIO_BLK_S_OK,
			  write_pattern(self->vq, self->r, self->buf,
					4096 + 8 * i, 4096, self->seed));
	ASSERT_TRUE(fdinfo_line(self->d->fd, "vq0:", vq0, sizeof(vq0)));
	TH_LOG("%s", vq0);
	EXPECT_EQ(20, fdinfo_counter(vq0, "out"));
	EXPECT_LT(0, fdinfo_counter(vq0, "poll_ns"));
	/* At most one hit per request the guest posted while polled. */
	EXPECT_GE(20, fdinfo_counter(vq0, "poll_hits"));
}

/* fdinfo's poll_ns of queue 0 of @fd, or UINT64_MAX. */
static uint64_t poll_ns(int fd)
{
	char vq0[1024];

	if (!fdinfo_line(fd, "vq0:", vq0, sizeof(vq0)))
		return UINT64_MAX;
	return fdinfo_counter(vq0, "poll_ns");
}

/*
 * The busy-poll window adapts (10 ms timeout): writes 30 ms apart are not
 * polled for; back-to-back writes grow the window; writes 30 ms apart
 * after that cost one window, not one each (a fixed window would poll
 * 100 ms for ten); kicks with nothing posted are never polled for.
 */
TEST_F(stats, busy_poll_skips_an_idle_queue)
{
	uint64_t before, idle, after_busy, spurious;
	int i;

	ASSERT_EQ(0, vhost_blk_set_vring_busyloop_timeout(self->d->fd, 0,
							  10000));
	before = poll_ns(self->d->fd);
	ASSERT_NE(UINT64_MAX, before);
	for (i = 0; i < 10; i++) {
		ASSERT_EQ(VIRTIO_BLK_S_OK,
			  write_pattern(self->vq, self->r, self->buf,
					4096 + 8 * i, 4096, self->seed));
		usleep(30000);
	}
	idle = poll_ns(self->d->fd) - before;

	for (i = 0; i < 64; i++)
		ASSERT_EQ(VIRTIO_BLK_S_OK,
			  write_pattern(self->vq, self->r, self->buf,
					8192 + 8 * i, 4096, self->seed));
	before = poll_ns(self->d->fd);
	for (i = 0; i < 10; i++) {
		ASSERT_EQ(VIRTIO_BLK_S_OK,
			  write_pattern(self->vq, self->r, self->buf,
					4096 + 8 * i, 4096, self->seed));
		usleep(30000);
	}
	after_busy = poll_ns(self->d->fd) - before;

	before = poll_ns(self->d->fd);
	for (i = 0; i < 100; i++) {
		ASSERT_EQ(0, vblk_vq_kick_force(self->vq));
		usleep(3000);
	}
	spurious = poll_ns(self->d->fd) - before;
	TH_LOG("polled: idle %" PRIu64 " us, idle after busy %" PRIu64
	       " us, 100 empty kicks %" PRIu64 " us", idle / 1000,
	       after_busy / 1000, spurious / 1000);
	EXPECT_GT(1000000, idle);
	EXPECT_GT(50000000, after_busy);
	EXPECT_EQ(0, spurious);
	for (i = 0; i < 10; i++)
		EXPECT_EQ(0, check_pattern(self->vq, self->r, self->buf,
					   4096 + 8 * i, 4096, self->seed));
	for (i = 0; i < 64; i++)
		EXPECT_EQ(0, check_pattern(self->vq, self->r, self->buf,
					   8192 + 8 * i, 4096, self->seed));
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

/* Lines of the trace buffer of device @id with @event, counted. */
static int trace_count(const char *event, unsigned int id, const char *with)
{
	char line[512], dev[32];
	int n = 0;
	FILE *f = fopen(TRACEFS "/trace", "r");

	if (!f)
		return -errno;
	snprintf(dev, sizeof(dev), "dev=%u ", id);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, event) && strstr(line, dev) &&
		    (!with || strstr(line, with)))
			n++;
	fclose(f);
	return n;
}

/* Start, done and refusal events, each once, naming the device. */
TEST_F(stats, tracepoints_fire)
{
	char line[256], want[64];
	unsigned int id;

	if (access(TRACEFS "/events/vhost_blk", F_OK) &&
	    mount("nodev", TRACEFS, "tracefs", 0, NULL))
		SKIP(return, "no tracefs at " TRACEFS);
	ASSERT_EQ(0, access(TRACEFS "/events/vhost_blk/enable", W_OK))
		TH_LOG("the module's events are not in tracefs");
	ASSERT_TRUE(fdinfo_line(self->d->fd, "vhost-blk-id:", line,
				sizeof(line)));
	id = atoi(line + 13);
	ASSERT_EQ(0, write_file(TRACEFS "/trace", ""));
	ASSERT_EQ(0, write_file(TRACEFS "/events/vhost_blk/enable", "1"));
	ASSERT_EQ(VIRTIO_BLK_S_OK,
		  write_pattern(self->vq, self->r, self->buf, 512, 4096,
				self->seed));
	ASSERT_EQ(0, check_pattern(self->vq, self->r, self->buf, 512, 4096,
				   self->seed));
	refused_chain(_metadata, self);
	ASSERT_EQ(0, write_file(TRACEFS "/events/vhost_blk/enable", "0"));

	snprintf(want, sizeof(want), "type=%u sector=512 len=4096",
		 VIRTIO_BLK_T_OUT);
	EXPECT_EQ(1, trace_count("vhost_blk_req_start:", id, want));
	snprintf(want, sizeof(want), "type=%u sector=512 len=4096",
		 VIRTIO_BLK_T_IN);
	EXPECT_EQ(1, trace_count("vhost_blk_req_start:", id, want));
	EXPECT_EQ(2, trace_count("vhost_blk_req_done:", id, "status=0"));
	EXPECT_EQ(1, trace_count("vhost_blk_req_done:", id,
				 "used_len=4097"));
	EXPECT_EQ(1, trace_count("vhost_blk_chain_refused:", id,
				 "err=-14"));
}

/* `vhost-blk stat --pid` finds this process's device and its counters. */
TEST_F(stats, cli_stat_shows_the_device)
{
	char cmd[PATH_MAX + 64], out[4096], line[256];
	const char *tool = getenv("VHOST_BLK_CLI");
	size_t n;
	FILE *p;

	if (!tool || access(tool, X_OK))
		SKIP(return, "VHOST_BLK_CLI not set");
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(VIRTIO_BLK_S_OK,
			  write_pattern(self->vq, self->r, self->buf,
					8 * i, 4096, self->seed));
	ASSERT_TRUE(fdinfo_line(self->d->fd, "vhost-blk-id:", line,
				sizeof(line)));
	snprintf(cmd, sizeof(cmd), "%s stat --pid %d", tool, getpid());
	p = popen(cmd, "r");
	ASSERT_NE(NULL, p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	EXPECT_EQ(0, pclose(p)) TH_LOG("%s", out);
	TH_LOG("%s", out);
	snprintf(cmd, sizeof(cmd), "pid %d fd %d device %u\n", getpid(),
		 self->d->fd, atoi(line + 13));
	EXPECT_NE(NULL, strstr(out, cmd));
	EXPECT_NE(NULL, strstr(out, " out=2 "));
	EXPECT_NE(NULL, strstr(out, "bytes_written=8192 "));

	/* A process without the device: a clear error. */
	snprintf(cmd, sizeof(cmd), "%s stat --pid 1 2>&1", tool);
	p = popen(cmd, "r");
	ASSERT_NE(NULL, p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	EXPECT_EQ(1, WEXITSTATUS(pclose(p)));
	EXPECT_NE(NULL, strstr(out, "has no /dev/vhost-blk open"));
}

/*
 * fdinfo names the backend as its owner did: `vhost-blk stat` prints its
 * path with control bytes escaped, and a path longer than any fixed line
 * buffer as one line.
 */
TEST(cli_stat_escapes_the_backend_path)
{
	char dir[PATH_MAX], file[PATH_MAX], cmd[PATH_MAX + 64];
	const char *tool = getenv("VHOST_BLK_CLI");
	static char out[65536];
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	struct vblk_dev *d;
	size_t n, len;
	char *b;
	FILE *p;
	int fd;

	if (!tool || access(tool, X_OK))
		SKIP(return, "VHOST_BLK_CLI not set");
	/* Six directories of 200 bytes: a path of more than 1200 bytes. */
	snprintf(dir, sizeof(dir), "/tmp/stat-esc.%d", getpid());
	ASSERT_EQ(0, mkdir(dir, 0700));
	for (int i = 0; i < 6; i++) {
		len = strlen(dir);
		dir[len++] = '/';
		memset(dir + len, 'a' + i, 200);
		dir[len + 200] = 0;
		ASSERT_EQ(0, mkdir(dir, 0700)) TH_LOG("%s", strerror(errno));
	}
	snprintf(file, sizeof(file), "%s/\033[2J\033[HFORGED\001end", dir);
	fd = open(file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, 1 << 20));
	ASSERT_EQ(0, vblk_dev_create(&d, &o, fd, 0, "stat-esc"));

	snprintf(cmd, sizeof(cmd), "%s stat --pid %d", tool, getpid());
	p = popen(cmd, "r");
	ASSERT_NE(NULL, p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	EXPECT_EQ(0, pclose(p));
	vblk_dev_destroy(d);
	close(fd);
	unlink(file);
	for (int i = 0; i < 7; i++) {
		rmdir(dir);
		*strrchr(dir, '/') = 0;
	}

	EXPECT_EQ(NULL, memchr(out, 033, n)) TH_LOG("an ESC byte reached the terminal");
	EXPECT_EQ(NULL, memchr(out, 001, n));
	/* One line: the escaped name follows the last directory. */
	memset(cmd, 'f', 200);
	strcpy(cmd + 200, "/\\033[2J\\033[HFORGED\\001end\n");
	EXPECT_NE(NULL, strstr(out, cmd)) TH_LOG("%s", out);
	/* No piece of the path was taken for a line of its own. */
	b = strstr(out, "backend:\t/tmp/stat-esc.");
	ASSERT_NE(NULL, b) TH_LOG("%s", out);
	EXPECT_LT(strstr(b, "FORGED"), strchr(b, '\n')) TH_LOG("%s", out);
}

TEST_HARNESS_MAIN
