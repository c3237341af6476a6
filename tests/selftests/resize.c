// SPDX-License-Identifier: GPL-2.0
/*
 * resize: the backend changes size under a running device. The config
 * eventfd (VHOST_BLK_SET_CONFIG_CALL) fires once per change, whether a
 * request, VHOST_BLK_GET_CONFIG or the periodic check sees it first;
 * GET_CONFIG has the new capacity; the grown part is written through the
 * device and read back equal, on the device and on the backend itself;
 * requests past the new end fail with VIRTIO_BLK_S_IOERR.
 *
 * Variants: "file" (a raw image in /tmp, resized with ftruncate()) and
 * "dm" (a device-mapper linear device on VHOST_BLK_TEST_DEV2, reloaded
 * with another table; skipped without dmsetup).
 *
 * Each test sets the module parameter resize_poll_ms before it sets the
 * eventfd: 0 where it shows that requests or GET_CONFIG notice a change
 * by themselves, 100 where the periodic check must. Teardown restores it.
 */
#include <stdarg.h>
#include <sys/eventfd.h>

#include "kselftest_harness.h"
#include "vhost_blk_test.h"

#define OLD		(8ULL << 11)	/* sectors: 8 MiB */
#define NEW		(16ULL << 11)
#define POLL_PARAM	"/sys/module/vhost_blk/parameters/resize_poll_ms"
#define DMSETUP		"/usr/sbin/dmsetup"
#define DM_NAME		"vhost-blk-resize"
/* Long enough for several periodic checks at 100 ms. */
#define SETTLE_MS	600

/* Run a shell command quietly: its exit status, or -1. */
static __printf(1, 2) int sh(const char *fmt, ...)
{
	char line[400], cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "{ %s; } >/dev/null 2>&1", line);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The /dev/dm-N node of device-mapper device @name. */
static int dm_node(const char *name, char *node, size_t len)
{
	char path[PATH_MAX], buf[128];
	struct dirent *e;
	int ret = -ENOENT;
	DIR *sys;

	sys = opendir("/sys/block");
	if (!sys)
		return -errno;
	while (ret && (e = readdir(sys))) {
		FILE *f;

		if (strncmp(e->d_name, "dm-", 3))
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/dm/name",
			 e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) &&
		    !strcmp(strtok(buf, "\n") ?: "", name)) {
			snprintf(node, len, "/dev/%.32s", e->d_name);
			ret = 0;
		}
		fclose(f);
	}
	closedir(sys);
	for (int i = 0; !ret && access(node, F_OK) && i < 200; i++)
		usleep(10000);
	return ret ? ret : access(node, F_OK) ? -ENOENT : 0;
}

static int dm_table(const char *verb, uint64_t sectors)
{
	return sh(DMSETUP " --noudevsync %s " DM_NAME
		  " --table '0 %llu linear %s 0'", verb,
		  (unsigned long long)sectors, test_dev2());
}

static int param_write(const char *val)
{
	int fd = open(POLL_PARAM, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -EIO;
}

/*
 * What the eventfd counted within @ms (0: look only), reading it to 0:
 * the number of signals, 0 for none, -errno.
 */
static int64_t efd_count(int efd, int ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t v;
	int ret;

	ret = poll(&p, 1, ms);
	if (ret < 0)
		return -errno;
	if (!ret)
		return 0;
	if (read(efd, &v, sizeof(v)) != sizeof(v))
		return -errno;
	return v;
}

FIXTURE(resize) {
	char path[PATH_MAX];	/* the image, or the dm node */
	bool dm_made;
	int bfd;
	int efd;
	struct vblk_dev *d;
	struct vblk_vq *vq;
	struct vblk_req *r;
	uint64_t buf;		/* 64 KiB */
	uint64_t seed;
	char poll_ms[32];	/* resize_poll_ms before the test */
};

FIXTURE_VARIANT(resize) {
	bool dm;
};

FIXTURE_VARIANT_ADD(resize, file) {
	.dm = false,
};

FIXTURE_VARIANT_ADD(resize, dm) {
	.dm = true,
};

FIXTURE_SETUP(resize)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	ssize_t n;
	int fd;

	self->bfd = -1;
	self->efd = -1;
	fd = open(POLL_PARAM, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", POLL_PARAM, strerror(errno));
	n = read(fd, self->poll_ms, sizeof(self->poll_ms) - 1);
	close(fd);
	ASSERT_LT(0, n);
	self->poll_ms[n] = 0;

	if (variant->dm) {
		if (access(DMSETUP, X_OK))
			SKIP(return, "%s: %s", DMSETUP, strerror(errno));
		if (access("/dev/mapper/control", F_OK))
			sh("modprobe dm-mod || modprobe -d \"$MODROOT\" dm-mod");
		for (int i = 0; access("/dev/mapper/control", F_OK) && i < 200;
		     i++)
			usleep(10000);
		if (access("/dev/mapper/control", F_OK))
			SKIP(return, "no device-mapper");
		sh(DMSETUP " --noudevsync remove --retry " DM_NAME);
		ASSERT_EQ(0, dm_table("create", OLD));
		self->dm_made = true;
		ASSERT_EQ(0, dm_node(DM_NAME, self->path, sizeof(self->path)));
		self->bfd = open(self->path, O_RDWR | O_CLOEXEC);
	} else {
		snprintf(self->path, sizeof(self->path),
			 "/tmp/vhost-blk-resize.XXXXXX");
		self->bfd = mkstemp(self->path);
		ASSERT_LE(0, self->bfd);
		ASSERT_EQ(0, ftruncate(self->bfd, OLD * 512));
	}
	ASSERT_LE(0, self->bfd) TH_LOG("%s: %s", self->path, strerror(errno));

	o.mem_size = 8 << 20;
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->bfd, 0, "resize"));
	ASSERT_EQ(OLD, vblk_dev_capacity(self->d));
	self->vq = &self->d->vqs[0];
	self->r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, self->r);
	ASSERT_EQ(0, vblk_alloc(self->d, 64 << 10, 4096, &self->buf));
	self->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, self->efd);
	self->seed = fresh_seed();
}

FIXTURE_TEARDOWN(resize)
{
	vblk_dev_destroy(self->d);
	if (self->bfd >= 0)
		close(self->bfd);
	if (self->efd >= 0)
		close(self->efd);
	if (self->dm_made)
		sh(DMSETUP " --noudevsync remove --retry " DM_NAME);
	else if (self->path[0])
		unlink(self->path);
	if (self->poll_ms[0])
		param_write(self->poll_ms);
}

/* The backend is now @sectors long. 0 or -1. */
static int backend_resize(FIXTURE_DATA(resize) *self, bool dm,
			  uint64_t sectors)
{
	if (!dm)
		return ftruncate(self->bfd, sectors * 512) ? -1 : 0;
	if (dm_table("reload", sectors) ||
	    sh(DMSETUP " --noudevsync resume " DM_NAME))
		return -1;
	return blk_bytes(self->bfd) == sectors * 512 ? 0 : -1;
}

/* @len bytes at @sector of the backend itself hold the pattern: 0. */
static int backend_check(FIXTURE_DATA(resize) *self, bool dm,
			 uint64_t sector, uint32_t len)
{
	uint8_t *b;
	int ret = -1;

	if (dm)
		return disk_check_pattern(self->path, sector, len, self->seed);
	b = malloc(len);
	if (b && pread(self->bfd, b, len, sector * 512) == (ssize_t)len)
		ret = vblk_pattern_check(b, len, sector, self->seed) == -1 ?
		      0 : 1;
	free(b);
	return ret;
}

/* Set resize_poll_ms to @ms, then the config eventfd. */
static int arm(FIXTURE_DATA(resize) *self, const char *ms)
{
	int ret = param_write(ms);

	return ret ? ret : vhost_blk_set_config_call(self->d->fd, self->efd);
}

/* I/O at the edges of a disk of @cap sectors: only inside it works. */
static void edges(struct __test_metadata *_metadata,
		  FIXTURE_DATA(resize) *self, uint64_t cap)
{
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  do_io(self->vq, self->r, VIRTIO_BLK_T_IN, cap - 8, self->buf,
			4096, 0));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  do_io(self->vq, self->r, VIRTIO_BLK_T_IN, cap, self->buf,
			512, 0));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  do_io(self->vq, self->r, VIRTIO_BLK_T_IN, cap - 4, self->buf,
			4096, 0));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  write_pattern(self->vq, self->r, self->buf, cap, 4096,
				self->seed));
}

/*
 * Grown with nothing looking: the periodic check signals, once; the
 * guest then reads the new capacity and uses the grown part.
 */
TEST_F(resize, grow_signalled_while_idle)
{
	ASSERT_EQ(0, arm(self, "100"));
	edges(_metadata, self, OLD);
	/* Nothing changed: no signal, whatever looked. */
	EXPECT_EQ(0, efd_count(self->efd, SETTLE_MS));

	ASSERT_EQ(0, backend_resize(self, variant->dm, NEW));
	EXPECT_EQ(1, efd_count(self->efd, 5000));
	/* Once: later checks, GET_CONFIG and requests see no change. */
	EXPECT_EQ(0, efd_count(self->efd, SETTLE_MS));
	ASSERT_EQ(0, vblk_dev_read_config(self->d));
	EXPECT_EQ(NEW, vblk_dev_capacity(self->d));

	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  write_pattern(self->vq, self->r, self->buf, OLD, 64 << 10,
				self->seed));
	EXPECT_EQ(0, check_pattern(self->vq, self->r, self->buf, OLD,
				   64 << 10, self->seed));
	EXPECT_EQ(0, backend_check(self, variant->dm, OLD, 64 << 10));
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  write_pattern(self->vq, self->r, self->buf, NEW - 8, 4096,
				self->seed));
	EXPECT_EQ(0, backend_check(self, variant->dm, NEW - 8, 4096));
	edges(_metadata, self, NEW);
	EXPECT_EQ(0, efd_count(self->efd, 0));
}

/* No periodic check: the first request after the change signals it. */
TEST_F(resize, grow_seen_by_a_request)
{
	ASSERT_EQ(0, arm(self, "0"));
	ASSERT_EQ(0, backend_resize(self, variant->dm, NEW));
	/* Nothing looks, nothing is signalled. */
	EXPECT_EQ(0, efd_count(self->efd, SETTLE_MS));

	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  write_pattern(self->vq, self->r, self->buf, NEW - 128,
				64 << 10, self->seed));
	/* Signalled before the request completed. */
	EXPECT_EQ(1, efd_count(self->efd, 0));
	EXPECT_EQ(0, check_pattern(self->vq, self->r, self->buf, NEW - 128,
				   64 << 10, self->seed));
	EXPECT_EQ(0, backend_check(self, variant->dm, NEW - 128, 64 << 10));
	edges(_metadata, self, NEW);
	ASSERT_EQ(0, vblk_dev_read_config(self->d));
	EXPECT_EQ(NEW, vblk_dev_capacity(self->d));
	EXPECT_EQ(0, efd_count(self->efd, 0));
}

/*
 * Shrunk, GET_CONFIG first: it has the new capacity and signals; what
 * is past the new end fails, and a refused write does not extend a file.
 */
TEST_F(resize, shrink_seen_by_get_config)
{
	struct stat st;

	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  write_pattern(self->vq, self->r, self->buf, OLD - 8, 4096,
				self->seed));
	ASSERT_EQ(0, arm(self, "0"));
	ASSERT_EQ(0, backend_resize(self, variant->dm, OLD / 2));
	ASSERT_EQ(0, vblk_dev_read_config(self->d));
	EXPECT_EQ(OLD / 2, vblk_dev_capacity(self->d));
	EXPECT_EQ(1, efd_count(self->efd, 0));

	edges(_metadata, self, OLD / 2);
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  do_io(self->vq, self->r, VIRTIO_BLK_T_IN, OLD - 8, self->buf,
			4096, 0));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  write_pattern(self->vq, self->r, self->buf, OLD - 8, 4096,
				self->seed));
	ASSERT_EQ(0, fstat(self->bfd, &st));
	if (!variant->dm)
		EXPECT_EQ(OLD / 2 * 512, (uint64_t)st.st_size);
	EXPECT_EQ(0, efd_count(self->efd, 0));

	/* Grown back: signalled again, and the old data is there (dm). */
	ASSERT_EQ(0, backend_resize(self, variant->dm, OLD));
	ASSERT_EQ(0, vblk_dev_read_config(self->d));
	EXPECT_EQ(OLD, vblk_dev_capacity(self->d));
	EXPECT_EQ(1, efd_count(self->efd, 0));
	if (variant->dm)
		EXPECT_EQ(0, check_pattern(self->vq, self->r, self->buf,
					   OLD - 8, 4096, self->seed));
}

/* Removed, replaced or reset: only the eventfd in place is signalled. */
TEST_F(resize, only_the_current_eventfd)
{
	int efd2 = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), other;
	char path[] = "/tmp/vhost-blk-resize2.XXXXXX";

	ASSERT_LE(0, efd2);
	ASSERT_EQ(0, arm(self, "100"));
	ASSERT_EQ(0, vhost_blk_set_config_call(self->d->fd, -1));
	ASSERT_EQ(0, backend_resize(self, variant->dm, NEW));
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  do_io(self->vq, self->r, VIRTIO_BLK_T_IN, NEW - 8, self->buf,
			4096, 0));
	EXPECT_EQ(0, efd_count(self->efd, SETTLE_MS));

	/* Replaced: the new one fires, the old one stays quiet. */
	ASSERT_EQ(0, vhost_blk_set_config_call(self->d->fd, self->efd));
	ASSERT_EQ(0, vhost_blk_set_config_call(self->d->fd, efd2));
	ASSERT_EQ(0, backend_resize(self, variant->dm, OLD));
	EXPECT_EQ(1, efd_count(efd2, 5000));
	EXPECT_EQ(0, efd_count(self->efd, SETTLE_MS));

	/* A new backend is not a change: the owner chose its size. */
	other = mkstemp(path);
	ASSERT_LE(0, other);
	unlink(path);
	ASSERT_EQ(0, ftruncate(other, NEW * 512));
	ASSERT_EQ(0, vblk_dev_attach(self->d, other, 0, NULL));
	EXPECT_EQ(NEW, vblk_dev_capacity(self->d));
	EXPECT_EQ(0, efd_count(efd2, SETTLE_MS));
	close(other);

	/* VHOST_RESET_OWNER drops it. */
	ASSERT_EQ(0, vblk_dev_reset_owner(self->d));
	ASSERT_EQ(0, vblk_dev_setup(self->d, 0));
	ASSERT_EQ(0, vblk_dev_attach(self->d, self->bfd, 0, NULL));
	EXPECT_EQ(OLD, vblk_dev_capacity(self->d));
	ASSERT_EQ(0, backend_resize(self, variant->dm, NEW));
	ASSERT_EQ(0, vblk_dev_read_config(self->d));
	EXPECT_EQ(NEW, vblk_dev_capacity(self->d));
	EXPECT_EQ(0, efd_count(efd2, SETTLE_MS));
	close(efd2);
}

/* Bad arguments get their errno and change nothing. */
TEST(set_config_call_errors)
{
	int fd = vhost_blk_open(NULL), efd, p[2];

	ASSERT_LE(0, fd);
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));

	/* Not the owner. */
	EXPECT_EQ(-EPERM, vhost_blk_set_config_call(fd, efd));
	EXPECT_EQ(-EPERM, vhost_blk_set_config_call(fd, -1));
	ASSERT_EQ(0, vhost_blk_set_owner(fd));

	EXPECT_EQ(-EBADF, vhost_blk_set_config_call(fd, -2));
	EXPECT_EQ(-EBADF, vhost_blk_set_config_call(fd, INT_MIN));
	EXPECT_EQ(-EBADF, vhost_blk_set_config_call(fd, 1 << 20));
	EXPECT_EQ(-EINVAL, vhost_blk_set_config_call(fd, p[0]));
	EXPECT_EQ(-EINVAL, vhost_blk_set_config_call(fd, fd));
	EXPECT_EQ(-1, ioctl(fd, VHOST_BLK_SET_CONFIG_CALL, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	/* The same number with another size is no ioctl of ours. */
	EXPECT_EQ(-1, ioctl(fd, _IOW(VHOST_VIRTIO, 0x54, __u64), &efd));
	EXPECT_EQ(ENOTTY, errno);

	/* Without a backend, set and clear work; clearing twice too. */
	EXPECT_EQ(0, vhost_blk_set_config_call(fd, efd));
	EXPECT_EQ(0, vhost_blk_set_config_call(fd, efd));
	EXPECT_EQ(0, vhost_blk_set_config_call(fd, -1));
	EXPECT_EQ(0, vhost_blk_set_config_call(fd, -1));
	/* Closed with one set: nothing leaks, nothing runs on. */
	EXPECT_EQ(0, vhost_blk_set_config_call(fd, efd));
	close(fd);
	close(efd);
	close(p[0]);
	close(p[1]);
}

VHOST_BLK_TEST_MAIN
