// SPDX-License-Identifier: GPL-2.0
/*
 * file: a regular file (raw image) as the backend. Data written through
 * the device is in the file and the other way round; flush, discard
 * (punch hole), write-zeroes, resizing and read-only files.
 *
 * Variants: "tmpfs" (a file in /tmp) and "ext4" (a file in the directory
 * $VHOST_BLK_TEST_FSDIR, which run_guest.sh mounts; skipped without it).
 * On tmpfs reads and writes end at once; on ext4 direct I/O is queued and
 * completes later.
 */
#include <sys/inotify.h>

#include "kselftest_harness.h"
#include "vhost_blk_test.h"

#define F(bit)		(1ULL << (bit))
#define FILE_SIZE	(32ULL << 20)

FIXTURE(file) {
	char path[PATH_MAX];
	int ffd;
	struct vblk_dev *d;
	struct vblk_vq *vq;
	struct vblk_req *r;
	uint64_t buf;		/* 1 MiB */
	uint64_t seed;
};

FIXTURE_VARIANT(file) {
	const char *env;	/* directory from this variable, or */
	const char *dir;	/* this one */
};

FIXTURE_VARIANT_ADD(file, tmpfs) {
	.dir = "/tmp",
};

FIXTURE_VARIANT_ADD(file, ext4) {
	.env = "VHOST_BLK_TEST_FSDIR",
};

FIXTURE_SETUP(file)
{
	const char *dir = variant->env ? getenv(variant->env) : variant->dir;
	struct vblk_opts o = VBLK_OPTS_DEFAULT;

	self->ffd = -1;
	if (!dir || !*dir)
		SKIP(return, "%s not set", variant->env);
	snprintf(self->path, sizeof(self->path), "%s/vhost-blk-img.XXXXXX",
		 dir);
	self->ffd = mkstemp(self->path);
	ASSERT_LE(0, self->ffd) TH_LOG("%s: %s", self->path, strerror(errno));
	ASSERT_EQ(0, ftruncate(self->ffd, FILE_SIZE));
	o.mem_size = 16 << 20;
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->ffd, 0, "file"));
	self->vq = &self->d->vqs[0];
	self->r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, self->r);
	ASSERT_EQ(0, vblk_alloc(self->d, 1 << 20, 4096, &self->buf));
	self->seed = fresh_seed();
}

FIXTURE_TEARDOWN(file)
{
	vblk_dev_destroy(self->d);
	if (self->ffd >= 0) {
		close(self->ffd);
		unlink(self->path);
	}
}

/* Write the pattern for [sector, +len) into the file itself. */
static int file_fill(FIXTURE_DATA(file) *self, uint64_t sector, size_t len,
		     uint64_t seed)
{
	uint8_t *b = malloc(len);
	ssize_t n;

	if (!b)
		return -ENOMEM;
	vblk_pattern_fill(b, len, sector, seed);
	n = pwrite(self->ffd, b, len, sector * 512);
	free(b);
	return n == (ssize_t)len ? 0 : -EIO;
}

/* -1 if the file holds the pattern there, else the bad offset (or -2). */
static ssize_t file_check(FIXTURE_DATA(file) *self, uint64_t sector,
			  size_t len, uint64_t seed)
{
	uint8_t *b = malloc(len);
	ssize_t ret = -2;

	if (b && pread(self->ffd, b, len, sector * 512) == (ssize_t)len)
		ret = vblk_pattern_check(b, len, sector, seed);
	free(b);
	return ret;
}

/* 1 if [sector, +n) of the file reads as zeroes. */
static int file_zero(FIXTURE_DATA(file) *self, uint64_t sector, uint32_t n)
{
	uint8_t b[512];

	for (uint32_t i = 0; i < n; i++) {
		if (pread(self->ffd, b, 512, (sector + i) * 512) != 512)
			return 0;
		for (int k = 0; k < 512; k++) {
			if (b[k])
				return 0;
		}
	}
	return 1;
}

static int discard_req(FIXTURE_DATA(file) *self, uint32_t type, uint64_t sector,
		   uint32_t num, uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes seg = {
		.sector = htole64(sector),
		.num_sectors = htole32(num),
		.flags = htole32(flags),
	};

	vblk_mem_write(self->d, self->buf, &seg, sizeof(seg));
	return do_io(self->vq, self->r, type, 0, self->buf, sizeof(seg), 0);
}

/*
 * The queue worker's auxiliary worker runs, and ran @n requests: flushes
 * and fallocates of a file keep off the queue's worker.
 */
static void aux_ran(struct __test_metadata *_metadata, struct vblk_dev *d,
		    uint64_t n)
{
	char line[256];

	ASSERT_TRUE(fdinfo_line(d->fd, "aux:", line, sizeof(line)));
	EXPECT_EQ(1, fdinfo_counter(line, "running")) TH_LOG("%s", line);
	EXPECT_EQ(0, fdinfo_counter(line, "killed")) TH_LOG("%s", line);
	EXPECT_EQ(n, fdinfo_counter(line, "queued")) TH_LOG("%s", line);
	EXPECT_EQ(0, fdinfo_counter(line, "inline")) TH_LOG("%s", line);
}

TEST_F(file, config)
{
	const struct virtio_blk_config *c = &self->d->cfg;
	uint32_t bs = le32toh(c->blk_size);

	EXPECT_EQ(FILE_SIZE / 512, vblk_dev_capacity(self->d));
	/* Files have a volatile cache: the guest must flush. */
	EXPECT_EQ(1, c->wce);
	EXPECT_TRUE(self->d->cfg_features & F(VIRTIO_BLK_F_FLUSH));
	EXPECT_TRUE(self->d->cfg_features & F(VIRTIO_BLK_F_DISCARD));
	EXPECT_TRUE(self->d->cfg_features & F(VIRTIO_BLK_F_WRITE_ZEROES));
	EXPECT_FALSE(self->d->cfg_features & F(VIRTIO_BLK_F_RO));
	EXPECT_LE(512, bs);
	EXPECT_EQ(0, bs & (bs - 1));
}

TEST_F(file, roundtrip)
{
	uint8_t *p = vblk_gpa_to_hva(self->d, self->buf, 1 << 20);

	/* 256 KiB through the device, in 4 segments; it is in the file. */
	vblk_pattern_fill(p, 256 * 1024, 1000, self->seed);
	vblk_req_reset(self->r, VIRTIO_BLK_T_OUT, 1000);
	for (int i = 0; i < 4; i++)
		vblk_req_add_seg(self->r, self->buf + i * 65536, 65536);
	ASSERT_EQ(0, vblk_do(self->vq, self->r, 0, IO_TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_OK, self->r->status);
	EXPECT_EQ(-1, file_check(self, 1000, 256 * 1024, self->seed));

	/* Written to the file, read through the device. */
	ASSERT_EQ(0, file_fill(self, 3000, 512 * 1024, self->seed + 1));
	EXPECT_EQ(0, check_pattern(self->vq, self->r, self->buf, 3000,
				   512 * 1024, self->seed + 1));
	/* Misaligned guest buffers work too. */
	vblk_req_reset(self->r, VIRTIO_BLK_T_IN, 3000);
	vblk_req_add_seg(self->r, self->buf + 1, 1000);
	vblk_req_add_seg(self->r, self->buf + 4096 + 7, 3096);
	memset(p, 0, 8192);
	ASSERT_EQ(0, vblk_do(self->vq, self->r, 0, IO_TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_OK, self->r->status);
	EXPECT_EQ(4097, self->r->used_len);
	{
		uint8_t lin[4096];

		ASSERT_EQ(0, vblk_req_read_data(self->d, self->r, lin));
		EXPECT_EQ(-1, vblk_pattern_check(lin, 4096, 3000,
						 self->seed + 1));
	}
}

TEST_F(file, flush)
{
	ASSERT_EQ(VIRTIO_BLK_S_OK, write_pattern(self->vq, self->r, self->buf,
						 100, 65536, self->seed));
	EXPECT_EQ(VIRTIO_BLK_S_OK, do_io(self->vq, self->r, VIRTIO_BLK_T_FLUSH,
					 0, 0, 0, 0));
	EXPECT_EQ(1, self->r->used_len);
	EXPECT_EQ(-1, file_check(self, 100, 65536, self->seed));
	aux_ran(_metadata, self->d, 1);
}

TEST_F(file, discard_punches_hole)
{
	uint32_t a = le32toh(self->d->cfg.discard_sector_alignment);

	if (!a)
		a = 1;
	ASSERT_EQ(0, file_fill(self, 4096, 128 * 512, self->seed));
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  discard_req(self, VIRTIO_BLK_T_DISCARD, 4096 + 2 * a, 4 * a, 0));
	EXPECT_EQ(1, file_zero(self, 4096 + 2 * a, 4 * a));
	EXPECT_EQ(-1, file_check(self, 4096, 2 * a * 512, self->seed));
	EXPECT_EQ(-1, file_check(self, 4096 + 6 * a, (128 - 6 * a) * 512,
				 self->seed));
	aux_ran(_metadata, self->d, 1);
}

TEST_F(file, write_zeroes)
{
	static const uint32_t flags[] = { 0, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP };

	for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
		uint64_t s = 8192 + 256 * i;

		ASSERT_EQ(0, file_fill(self, s, 64 * 512, self->seed));
		EXPECT_EQ(VIRTIO_BLK_S_OK,
			  discard_req(self, VIRTIO_BLK_T_WRITE_ZEROES, s + 8, 16,
				  flags[i])) TH_LOG("flags %#x", flags[i]);
		EXPECT_EQ(1, file_zero(self, s + 8, 16));
		EXPECT_EQ(-1, file_check(self, s, 8 * 512, self->seed));
		EXPECT_EQ(-1, file_check(self, s + 24, 40 * 512, self->seed));
	}
	aux_ran(_metadata, self->d, ARRAY_SIZE(flags));
}

TEST_F(file, resize_seen_at_once)
{
	uint64_t old = FILE_SIZE / 512;

	/* Past the end: refused. */
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  write_pattern(self->vq, self->r, self->buf, old, 4096,
				self->seed));
	/* Grown: the same request works, and the config says so. */
	ASSERT_EQ(0, ftruncate(self->ffd, FILE_SIZE * 2));
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  write_pattern(self->vq, self->r, self->buf, old, 4096,
				self->seed));
	EXPECT_EQ(-1, file_check(self, old, 4096, self->seed));
	ASSERT_EQ(0, vblk_dev_read_config(self->d));
	EXPECT_EQ(2 * old, vblk_dev_capacity(self->d));
	/* Shrunk: gone again. */
	ASSERT_EQ(0, ftruncate(self->ffd, FILE_SIZE / 2));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  do_io(self->vq, self->r, VIRTIO_BLK_T_IN, old / 2, self->buf,
			512, 0));
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  do_io(self->vq, self->r, VIRTIO_BLK_T_IN, old / 2 - 1,
			self->buf, 512, 0));
	ASSERT_EQ(0, vblk_dev_read_config(self->d));
	EXPECT_EQ(old / 2, vblk_dev_capacity(self->d));
}

TEST_F(file, size_not_sector_multiple)
{
	unsigned int base;

	/* 1 MiB + 100 bytes: the partial sector is not addressable. */
	ASSERT_EQ(0, ftruncate(self->ffd, (1 << 20) + 100));
	ASSERT_EQ(0, vblk_dev_read_config(self->d));
	EXPECT_EQ(2048, vblk_dev_capacity(self->d));
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  do_io(self->vq, self->r, VIRTIO_BLK_T_IN, 2047, self->buf,
			512, 0));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  do_io(self->vq, self->r, VIRTIO_BLK_T_IN, 2048, self->buf,
			512, 0));
	/* Re-attaching sees the same. */
	ASSERT_EQ(0, vblk_vq_stop(self->vq, &base));
	ASSERT_EQ(0, vblk_dev_attach(self->d, self->ffd, 0, NULL));
	EXPECT_EQ(2048, vblk_dev_capacity(self->d));
}

TEST_F(file, read_only_open)
{
	unsigned int base;
	uint64_t f = 0;
	int ro = open(self->path, O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, ro);
	ASSERT_EQ(0, file_fill(self, 500, 8192, self->seed));
	ASSERT_EQ(0, vblk_vq_stop(self->vq, &base));
	ASSERT_EQ(0, vhost_blk_set_backend(self->d->fd, ro, 0, NULL));
	close(ro);
	ASSERT_EQ(0, vhost_blk_get_config(self->d->fd, &self->d->cfg, &f,
					  NULL));
	EXPECT_TRUE(f & F(VIRTIO_BLK_F_RO));
	EXPECT_FALSE(f & F(VIRTIO_BLK_F_DISCARD));
	EXPECT_FALSE(f & F(VIRTIO_BLK_F_WRITE_ZEROES));
	ASSERT_EQ(0, vblk_vq_restart(self->vq, base));

	EXPECT_EQ(0, check_pattern(self->vq, self->r, self->buf, 500, 8192,
				   self->seed));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  write_pattern(self->vq, self->r, self->buf, 500, 8192,
				self->seed + 1));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  discard_req(self, VIRTIO_BLK_T_WRITE_ZEROES, 500, 8, 0));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  discard_req(self, VIRTIO_BLK_T_DISCARD, 496, 8, 0));
	EXPECT_EQ(-1, file_check(self, 500, 8192, self->seed));
}

TEST_F(file, many_in_flight)
{
	enum { N = 64 };
	struct vblk_req *r[N];
	uint8_t *p = vblk_gpa_to_hva(self->d, self->buf, 1 << 20);

	for (int i = 0; i < N; i++) {
		r[i] = vblk_req_alloc(self->d);
		ASSERT_NE(NULL, r[i]);
		vblk_pattern_fill(p + i * 16384, 16384, 20000 + 32 * i,
				  self->seed);
		vblk_req_reset(r[i], VIRTIO_BLK_T_OUT, 20000 + 32 * i);
		vblk_req_add_seg(r[i], self->buf + i * 16384, 16384);
		ASSERT_LE(0, vblk_req_submit(self->vq, r[i], VBLK_ADD_INDIRECT));
	}
	ASSERT_EQ(0, vblk_vq_kick(self->vq));
	ASSERT_EQ(0, vblk_vq_drain(self->vq, IO_TIMEOUT_MS));
	for (int i = 0; i < N; i++) {
		EXPECT_EQ(VIRTIO_BLK_S_OK, r[i]->status);
	}
	EXPECT_EQ(-1, file_check(self, 20000, N * 16384, self->seed));
}

/*
 * Count the IN_ACCESS and IN_MODIFY events of @ifd until none came for
 * QUIET_MS. inotify merges an event into an identical one still queued,
 * so each request is counted on its own.
 */
static void inotify_count(int ifd, int *access, int *modify)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct pollfd p = { .fd = ifd, .events = POLLIN };

	*access = 0;
	*modify = 0;
	while (poll(&p, 1, QUIET_MS) == 1) {
		ssize_t n = read(ifd, buf, sizeof(buf));

		if (n <= 0)
			break;
		for (char *e = buf; e < buf + n;) {
			struct inotify_event *ev = (void *)e;

			*access += !!(ev->mask & IN_ACCESS);
			*modify += !!(ev->mask & IN_MODIFY);
			e += sizeof(*ev) + ev->len;
		}
	}
}

/*
 * Reads and writes of the guest reach fsnotify like any I/O on the fd:
 * one IN_MODIFY per write, one IN_ACCESS per read, whether the I/O ended
 * at once or was queued, in place or bounced.
 */
TEST_F(file, inotify_one_event_per_request)
{
	uint8_t *p = vblk_gpa_to_hva(self->d, self->buf, 1 << 20);
	int ifd, access, modify;

	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	ASSERT_LE(0, ifd);
	ASSERT_LE(0, inotify_add_watch(ifd, self->path, IN_ACCESS | IN_MODIFY));

	for (int i = 0; i < 3; i++) {
		uint64_t sector = 2048 + 256 * i;

		inotify_count(ifd, &access, &modify);
		ASSERT_EQ(VIRTIO_BLK_S_OK,
			  write_pattern(self->vq, self->r, self->buf, sector,
					65536, self->seed + i));
		inotify_count(ifd, &access, &modify);
		EXPECT_EQ(1, modify) TH_LOG("write %d", i);
		EXPECT_EQ(0, access) TH_LOG("write %d", i);

		EXPECT_EQ(0, check_pattern(self->vq, self->r, self->buf,
					   sector, 65536, self->seed + i));
		inotify_count(ifd, &access, &modify);
		EXPECT_EQ(1, access) TH_LOG("read %d", i);
		EXPECT_EQ(0, modify) TH_LOG("read %d", i);
	}

	/* Misaligned buffers go through bounce pages: the same. */
	vblk_pattern_fill(p + 1, 4096, 2048, self->seed + 3);
	vblk_req_reset(self->r, VIRTIO_BLK_T_OUT, 2048);
	vblk_req_add_seg(self->r, self->buf + 1, 4096);
	ASSERT_EQ(0, vblk_do(self->vq, self->r, 0, IO_TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_OK, self->r->status);
	inotify_count(ifd, &access, &modify);
	EXPECT_EQ(1, modify);
	EXPECT_EQ(0, access);
	EXPECT_EQ(-1, file_check(self, 2048, 4096, self->seed + 3));
	inotify_count(ifd, &access, &modify);

	memset(p, 0, 8192);
	vblk_req_reset(self->r, VIRTIO_BLK_T_IN, 2048);
	vblk_req_add_seg(self->r, self->buf + 7, 4096);
	ASSERT_EQ(0, vblk_do(self->vq, self->r, 0, IO_TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_OK, self->r->status);
	inotify_count(ifd, &access, &modify);
	EXPECT_EQ(1, access);
	EXPECT_EQ(0, modify);
	EXPECT_EQ(-1, vblk_pattern_check(p + 7, 4096, 2048, self->seed + 3));
	close(ifd);
}

VHOST_BLK_TEST_MAIN
