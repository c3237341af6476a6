// SPDX-License-Identifier: GPL-2.0
/*
 * backend: VHOST_BLK_SET_BACKEND and VHOST_BLK_GET_CONFIG - struct size
 * and reserved-field handling, what may be attached, the config a guest
 * sees, read-only attach, and swapping backends.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "kselftest_harness.h"
#include "vhost_blk_test.h"

#define F(bit)		(1ULL << (bit))

/* An owned device with guest memory, no backend and no queue yet. */
FIXTURE(bk) {
	struct vblk_dev *d;
	int fd;
	int bfd;
};

FIXTURE_SETUP(bk)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;

	o.mem_size = 16 << 20;
	ASSERT_EQ(0, vblk_dev_open(&self->d, &o));
	ASSERT_EQ(0, vblk_dev_setup(self->d, 0));
	self->fd = self->d->fd;
	self->bfd = open(test_dev(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->bfd) TH_LOG("%s: %s", test_dev(), strerror(errno));
}

FIXTURE_TEARDOWN(bk)
{
	vblk_dev_destroy(self->d);
	close(self->bfd);
}

/* SET_BACKEND with a caller-built buffer of @size bytes. */
static int set_backend_raw(int fd, void *buf)
{
	return ioctl(fd, VHOST_BLK_SET_BACKEND, buf) ? -errno : 0;
}

static int get_config_raw(int fd, void *buf)
{
	return ioctl(fd, VHOST_BLK_GET_CONFIG, buf) ? -errno : 0;
}

TEST_F(bk, set_backend_struct_size)
{
	/* Room for a larger future struct. */
	uint8_t buf[sizeof(struct vhost_blk_backend) + 64];
	struct vhost_blk_backend *b = (void *)buf;

	ASSERT_EQ(VHOST_BLK_BACKEND_SIZE_VER0, sizeof(*b));

	memset(buf, 0, sizeof(buf));
	b->fd = self->bfd;
	b->size = 0;
	EXPECT_EQ(-EINVAL, set_backend_raw(self->fd, b));
	b->size = VHOST_BLK_BACKEND_SIZE_VER0 - 1;
	EXPECT_EQ(-EINVAL, set_backend_raw(self->fd, b));
	b->size = 8;
	EXPECT_EQ(-EINVAL, set_backend_raw(self->fd, b));
	/* Nothing got attached by the refused calls. */
	EXPECT_EQ(-ENODEV, vhost_blk_get_config(self->fd, &self->d->cfg,
						NULL, NULL));

	/* Longer with non-zero bytes the kernel does not know: -E2BIG. */
	b->size = sizeof(buf);
	buf[sizeof(buf) - 1] = 1;
	EXPECT_EQ(-E2BIG, set_backend_raw(self->fd, b));
	buf[sizeof(buf) - 1] = 0;
	buf[sizeof(*b)] = 0x80;
	EXPECT_EQ(-E2BIG, set_backend_raw(self->fd, b));
	EXPECT_EQ(-ENODEV, vhost_blk_get_config(self->fd, &self->d->cfg,
						NULL, NULL));

	/* Longer but zero-filled: accepted. */
	buf[sizeof(*b)] = 0;
	EXPECT_EQ(0, set_backend_raw(self->fd, b));
	EXPECT_EQ(0, vhost_blk_get_config(self->fd, &self->d->cfg, NULL, NULL));
	/* Exactly VER0: accepted. */
	b->size = VHOST_BLK_BACKEND_SIZE_VER0;
	EXPECT_EQ(0, set_backend_raw(self->fd, b));
}

TEST_F(bk, set_backend_reserved_einval)
{
	struct vhost_blk_backend b;

	for (int i = 0; i < 3; i++) {
		memset(&b, 0, sizeof(b));
		b.size = sizeof(b);
		b.fd = self->bfd;
		b.reserved[i] = 1U << (i * 8);
		EXPECT_EQ(-EINVAL, set_backend_raw(self->fd, &b))
			TH_LOG("reserved[%d]", i);
	}
	EXPECT_EQ(-ENODEV, vhost_blk_get_config(self->fd, &self->d->cfg,
						NULL, NULL));
}

TEST_F(bk, set_backend_unknown_flags_eopnotsupp)
{
	for (int bit = 0; bit < 64; bit++) {
		if (F(bit) & VHOST_BLK_BACKEND_F_ALL)
			continue;
		EXPECT_EQ(-EOPNOTSUPP,
			  vhost_blk_set_backend(self->fd, self->bfd, F(bit), NULL))
			TH_LOG("flag bit %d", bit);
	}
	EXPECT_EQ(-EOPNOTSUPP,
		  vhost_blk_set_backend(self->fd, self->bfd,
					VHOST_BLK_BACKEND_F_RO | F(63), NULL));
	EXPECT_EQ(-ENODEV, vhost_blk_get_config(self->fd, &self->d->cfg,
						NULL, NULL));
}

TEST_F(bk, set_backend_not_blockdev_or_file)
{
	int fd, p[2], sv[2], dfd;

	ASSERT_EQ(0, pipe(p));
	EXPECT_EQ(-ENOTBLK, vhost_blk_set_backend(self->fd, p[0], 0, NULL));
	EXPECT_EQ(-ENOTBLK, vhost_blk_set_backend(self->fd, p[1], 0, NULL));
	close(p[0]);
	close(p[1]);

	/* A character device and a directory are not block devices either. */
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOTBLK, vhost_blk_set_backend(self->fd, fd, 0, NULL));
	close(fd);
	dfd = open("/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, dfd);
	EXPECT_EQ(-ENOTBLK, vhost_blk_set_backend(self->fd, dfd, 0, NULL));
	close(dfd);
	/* Not even ourselves, nor a socket or an eventfd. */
	EXPECT_EQ(-ENOTBLK, vhost_blk_set_backend(self->fd, self->fd, 0, NULL));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	EXPECT_EQ(-ENOTBLK, vhost_blk_set_backend(self->fd, sv[0], 0, NULL));
	close(sv[0]);
	close(sv[1]);
	fd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOTBLK, vhost_blk_set_backend(self->fd, fd, 0, NULL));
	close(fd);

	EXPECT_EQ(-ENODEV, vhost_blk_get_config(self->fd, &self->d->cfg,
						NULL, NULL));
}

TEST_F(bk, set_backend_bad_fd_ebadf)
{
	EXPECT_EQ(-EBADF, vhost_blk_set_backend(self->fd, 999999, 0, NULL));
	EXPECT_EQ(-EBADF, vhost_blk_set_backend(self->fd, -2, 0, NULL));
	EXPECT_EQ(-EBADF, vhost_blk_set_backend(self->fd, INT32_MIN, 0, NULL));
	EXPECT_EQ(-ENODEV, vhost_blk_get_config(self->fd, &self->d->cfg,
						NULL, NULL));
}

TEST_F(bk, get_config_without_backend_enodev)
{
	EXPECT_EQ(-ENODEV, vhost_blk_get_config(self->fd, &self->d->cfg,
						NULL, NULL));
	/* Attach, then detach with fd -1: no config again. */
	ASSERT_EQ(0, vhost_blk_set_backend(self->fd, self->bfd, 0, NULL));
	EXPECT_EQ(0, vhost_blk_get_config(self->fd, &self->d->cfg, NULL, NULL));
	ASSERT_EQ(0, vhost_blk_set_backend(self->fd, -1, 0, NULL));
	EXPECT_EQ(-ENODEV, vhost_blk_get_config(self->fd, &self->d->cfg,
						NULL, NULL));
}

TEST_F(bk, get_config_struct_size)
{
	uint8_t buf[sizeof(struct vhost_blk_config) + 64];
	struct vhost_blk_config *c = (void *)buf;
	struct virtio_blk_config cfg;

	ASSERT_EQ(VHOST_BLK_CONFIG_SIZE_VER0, sizeof(*c));
	ASSERT_EQ(0, vhost_blk_set_backend(self->fd, self->bfd, 0, NULL));

	memset(buf, 0, sizeof(buf));
	c->config_len = sizeof(cfg);
	c->config_ptr = (uintptr_t)&cfg;
	c->size = 0;
	EXPECT_EQ(-EINVAL, get_config_raw(self->fd, c));
	c->size = VHOST_BLK_CONFIG_SIZE_VER0 - 1;
	EXPECT_EQ(-EINVAL, get_config_raw(self->fd, c));

	c->size = sizeof(buf);
	buf[sizeof(buf) - 1] = 1;
	EXPECT_EQ(-E2BIG, get_config_raw(self->fd, c));
	buf[sizeof(buf) - 1] = 0;

	for (int i = 0; i < 2; i++) {
		c->reserved[i] = 1;
		EXPECT_EQ(-EINVAL, get_config_raw(self->fd, c))
			TH_LOG("reserved[%d]", i);
		c->reserved[i] = 0;
	}

	/* Larger but zero-filled, and exactly VER0: both work. */
	memset(&cfg, 0, sizeof(cfg));
	EXPECT_EQ(0, get_config_raw(self->fd, c));
	EXPECT_NE(0, le64toh(cfg.capacity));
	c->size = VHOST_BLK_CONFIG_SIZE_VER0;
	c->config_len = sizeof(cfg);
	memset(&cfg, 0, sizeof(cfg));
	EXPECT_EQ(0, get_config_raw(self->fd, c));
	EXPECT_NE(0, le64toh(cfg.capacity));
	EXPECT_EQ(sizeof(cfg), c->config_len);
}

TEST_F(bk, get_config_short_buffer)
{
	struct vhost_blk_config c;
	uint8_t buf[64];

	ASSERT_EQ(0, vhost_blk_set_backend(self->fd, self->bfd, 0, NULL));
	memset(&c, 0, sizeof(c));
	memset(buf, 0xa5, sizeof(buf));
	c.size = sizeof(c);
	c.config_len = 8;
	c.config_ptr = (uintptr_t)buf;
	ASSERT_EQ(0, get_config_raw(self->fd, &c));
	/* At most what we offered was written, and nothing past it. */
	EXPECT_GE(8, c.config_len);
	for (size_t i = 8; i < sizeof(buf); i++) {
		ASSERT_EQ(0xa5, buf[i]) TH_LOG("byte %zu overwritten", i);
	}
	if (c.config_len == 8) {
		uint64_t cap;

		memcpy(&cap, buf, 8);
		EXPECT_EQ(blk_bytes(self->bfd) / 512, le64toh(cap));
	}
	/* A bad buffer pointer is -EFAULT. */
	c.config_len = sizeof(struct virtio_blk_config);
	c.config_ptr = 8;
	EXPECT_EQ(-EFAULT, get_config_raw(self->fd, &c));
}

/* Capacity and block size follow the backend. */
static void check_config(struct __test_metadata *_metadata, int fd, int bfd)
{
	struct virtio_blk_config cfg;
	uint64_t features = 0;
	uint32_t len = 0;

	ASSERT_EQ(0, vhost_blk_get_config(fd, &cfg, &features, &len));
	EXPECT_LE(offsetof(struct virtio_blk_config, blk_size) + 4, len);
	EXPECT_EQ(blk_bytes(bfd) / 512, le64toh(cfg.capacity));
	EXPECT_TRUE(features & F(VIRTIO_BLK_F_BLK_SIZE));
	EXPECT_EQ(blk_lbs(bfd), (int)le32toh(cfg.blk_size));
	EXPECT_FALSE(features & F(VIRTIO_BLK_F_RO));
	if (features & F(VIRTIO_BLK_F_SEG_MAX)) {
		EXPECT_LE(1, le32toh(cfg.seg_max));
	}
	if (features & F(VIRTIO_BLK_F_MQ)) {
		EXPECT_LE(1, le16toh(cfg.num_queues));
	}
}

TEST_F(bk, get_config_matches_backend)
{
	ASSERT_EQ(0, vhost_blk_set_backend(self->fd, self->bfd, 0, NULL));
	check_config(_metadata, self->fd, self->bfd);
}

TEST_F(bk, get_config_4k_sectors)
{
	char path[64];
	int fd, ret;

	ret = nullb_4k(path, sizeof(path));
	if (ret)
		SKIP(return, "no configfs null_blk: %s", strerror(-ret));
	fd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(4096, blk_lbs(fd));
	ASSERT_EQ(0, vhost_blk_set_backend(self->fd, fd, 0, NULL));
	check_config(_metadata, self->fd, fd);
	close(fd);
}

/* Start queue 0 on the attached backend. */
static void start_queue(struct __test_metadata *_metadata,
			FIXTURE_DATA(bk) *self)
{
	ASSERT_EQ(0, vblk_dev_read_config(self->d));
	ASSERT_EQ(0, vblk_vq_start(self->d, 0, 0));
}

/* Attached read-only: writes fail and change nothing, reads work. */
static void check_read_only(struct __test_metadata *_metadata,
			    FIXTURE_DATA(bk) *self)
{
	struct vblk_vq *vq = &self->d->vqs[0];
	uint64_t seed = fresh_seed(), seed2 = seed + 1, gpa, features = 0;
	uint8_t *ref = malloc(8192);
	struct vblk_req *r;

	ASSERT_NE(NULL, ref);
	/* Known content, written directly to the backend. */
	vblk_pattern_fill(ref, 8192, 16, seed);
	ASSERT_EQ(0, blk_direct_io(test_dev(), true, 16 * 512, ref, 8192));

	ASSERT_EQ(0, vhost_blk_get_config(self->fd, &self->d->cfg, &features,
					  NULL));
	EXPECT_TRUE(features & F(VIRTIO_BLK_F_RO));
	start_queue(_metadata, self);
	r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(self->d, 8192, 4096, &gpa));

	/* Reads work. */
	EXPECT_EQ(0, check_pattern(vq, r, gpa, 16, 8192, seed));
	/* Writes fail... */
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, write_pattern(vq, r, gpa, 16, 8192, seed2));
	EXPECT_EQ(1, r->used_len);
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, write_pattern(vq, r, gpa, 17, 512, seed2));
	/* ...and changed nothing. */
	memset(ref, 0, 8192);
	ASSERT_EQ(0, blk_direct_io(test_dev(), false, 16 * 512, ref, 8192));
	EXPECT_EQ(-1, vblk_pattern_check(ref, 8192, 16, seed));
	EXPECT_EQ(0, check_pattern(vq, r, gpa, 16, 8192, seed));
	free(ref);
}

TEST_F(bk, read_only_flag)
{
	ASSERT_EQ(0, vhost_blk_set_backend(self->fd, self->bfd,
					   VHOST_BLK_BACKEND_F_RO, "ro"));
	check_read_only(_metadata, self);
}

TEST_F(bk, read_only_open)
{
	int fd = open(test_dev(), O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, fd);
	/* Attaching an O_RDONLY fd without F_RO is read-only, not refused. */
	ASSERT_EQ(0, vhost_blk_set_backend(self->fd, fd, 0, "ro"));
	close(fd);
	check_read_only(_metadata, self);
}

TEST_F(bk, get_id_serial)
{
	static const char *const serials[] = {
		"", "s", "vhost-blk-serial", "01234567890123456789",
	};
	struct vblk_vq *vq = &self->d->vqs[0];
	char id[VIRTIO_BLK_ID_BYTES], want[VIRTIO_BLK_ID_BYTES];
	struct vblk_req *r;
	uint64_t gpa;

	ASSERT_EQ(0, vhost_blk_set_backend(self->fd, self->bfd, 0, "x"));
	start_queue(_metadata, self);
	r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(self->d, 4096, 4096, &gpa));

	for (size_t i = 0; i < ARRAY_SIZE(serials); i++) {
		unsigned int base;

		/* The queue must be idle to change the backend. */
		ASSERT_EQ(0, vblk_vq_stop(vq, &base));
		ASSERT_EQ(0, vhost_blk_set_backend(self->fd, self->bfd, 0,
						   serials[i]));
		ASSERT_EQ(0, vblk_vq_restart(vq, base));
		memset(vblk_gpa_to_hva(self->d, gpa, 64), 0xa5, 64);
		EXPECT_EQ(VIRTIO_BLK_S_OK,
			  do_io(vq, r, VIRTIO_BLK_T_GET_ID, 0, gpa,
				VIRTIO_BLK_ID_BYTES, 0));
		EXPECT_EQ(VIRTIO_BLK_ID_BYTES + 1, r->used_len);
		memset(want, 0, sizeof(want));
		memcpy(want, serials[i], strlen(serials[i]));
		vblk_mem_read(self->d, gpa, id, sizeof(id));
		EXPECT_EQ(0, memcmp(id, want, sizeof(id)))
			TH_LOG("serial '%s': got '%.20s'", serials[i], id);
		/* Not a byte past the 20. */
		EXPECT_EQ(0xa5, *(uint8_t *)vblk_gpa_to_hva(self->d,
							    gpa + 20, 1));
	}
}

TEST_F(bk, backend_fd_closed_after_attach)
{
	struct vblk_vq *vq = &self->d->vqs[0];
	uint64_t seed = fresh_seed(), gpa;
	struct vblk_req *r;
	int fd = open(test_dev(), O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vhost_blk_set_backend(self->fd, fd, 0, NULL));
	/* The kernel holds its own reference. */
	close(fd);
	start_queue(_metadata, self);
	r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(self->d, 65536, 4096, &gpa));
	ASSERT_EQ(VIRTIO_BLK_S_OK, write_pattern(vq, r, gpa, 64, 65536, seed));
	EXPECT_EQ(0, check_pattern(vq, r, gpa, 64, 65536, seed));
}

TEST_F(bk, switch_backend)
{
	struct vblk_vq *vq = &self->d->vqs[0];
	uint64_t seed = fresh_seed(), gpa;
	uint8_t *buf = malloc(4096);
	struct vblk_req *r;
	unsigned int base;
	int fd2;

	ASSERT_NE(NULL, buf);
	fd2 = open(test_dev2(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2) TH_LOG("%s: %s", test_dev2(), strerror(errno));
	ASSERT_EQ(0, vhost_blk_set_backend(self->fd, self->bfd, 0, "one"));
	start_queue(_metadata, self);
	r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(self->d, 4096, 4096, &gpa));
	ASSERT_EQ(VIRTIO_BLK_S_OK, write_pattern(vq, r, gpa, 8, 4096, seed));

	/* Idle queue: swap to the second device. */
	ASSERT_EQ(0, vblk_vq_stop(vq, &base));
	ASSERT_EQ(0, vhost_blk_set_backend(self->fd, fd2, 0, "two"));
	ASSERT_EQ(0, vblk_dev_read_config(self->d));
	EXPECT_EQ(blk_bytes(fd2) / 512, vblk_dev_capacity(self->d));
	ASSERT_EQ(0, vblk_vq_restart(vq, base));

	ASSERT_EQ(VIRTIO_BLK_S_OK, write_pattern(vq, r, gpa, 8, 4096, seed + 1));
	/* The write went to the second device, not the first. */
	ASSERT_EQ(0, blk_direct_io(test_dev2(), false, 8 * 512, buf, 4096));
	EXPECT_EQ(-1, vblk_pattern_check(buf, 4096, 8, seed + 1));
	ASSERT_EQ(0, blk_direct_io(test_dev(), false, 8 * 512, buf, 4096));
	EXPECT_EQ(-1, vblk_pattern_check(buf, 4096, 8, seed));
	close(fd2);
	free(buf);
}

TEST_F(bk, set_backend_busy_with_inflight)
{
	struct vblk_vq *vq = &self->d->vqs[0];
	struct vblk_req *r[32];
	char path[64];
	uint64_t gpa;
	int sfd, ret;

	ret = nullb_slow(path, sizeof(path));
	if (ret)
		SKIP(return, "no configfs null_blk: %s", strerror(-ret));
	sfd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, sfd);
	ASSERT_EQ(0, vhost_blk_set_backend(self->fd, sfd, 0, NULL));
	start_queue(_metadata, self);
	ASSERT_EQ(0, vblk_alloc(self->d, 32 * 4096, 4096, &gpa));
	for (int i = 0; i < 32; i++) {
		r[i] = vblk_req_alloc(self->d);
		ASSERT_NE(NULL, r[i]);
		vblk_req_reset(r[i], VIRTIO_BLK_T_IN, i * 16);
		vblk_req_add_seg(r[i], gpa + i * 4096, 4096);
		ASSERT_LE(0, vblk_req_submit(vq, r[i], 0));
	}
	ASSERT_EQ(0, vblk_vq_kick(vq));
	/*
	 * Each request takes 20 ms in null_blk. Once the device has looked
	 * at all 32 (avail_event caught up) and finished none, they are in
	 * flight.
	 */
	ASSERT_TRUE(vblk_dev_has_feature(self->d, VIRTIO_RING_F_EVENT_IDX));
	for (int i = 0; i < 1000 && vblk_vq_avail_event(vq) != 32; i++)
		usleep(1000);
	ASSERT_EQ(32, vblk_vq_avail_event(vq));
	ret = vhost_blk_set_backend(self->fd, self->bfd, 0, NULL);
	if (ret == 0 && vblk_vq_used_idx(vq) == 32)
		SKIP(return, "the requests completed before SET_BACKEND");
	EXPECT_EQ(-EBUSY, ret);
	ASSERT_EQ(0, vblk_vq_drain(vq, IO_TIMEOUT_MS));
	for (int i = 0; i < 32; i++) {
		EXPECT_EQ(VIRTIO_BLK_S_OK, r[i]->status);
	}
	/* Idle (and stopped) now: the swap is allowed. */
	{
		unsigned int base;

		ASSERT_EQ(0, vblk_vq_stop(vq, &base));
		EXPECT_EQ(32, base);
		EXPECT_EQ(0, vhost_blk_set_backend(self->fd, self->bfd, 0,
						   NULL));
	}
	close(sfd);
}

/* SET_BACKEND from another thread; the device is not touched otherwise. */
struct set_backend_call {
	int fd;
	int bfd;
	int ret;
	atomic_bool done;
};

/* Requests the block device at @path has in flight, or -errno. */
static int blk_inflight(const char *path)
{
	char attr[PATH_MAX];
	unsigned int r, w;
	FILE *f;
	int n;

	snprintf(attr, sizeof(attr), "/sys/block/%s/inflight",
		 strrchr(path, '/') + 1);
	f = fopen(attr, "re");
	if (!f)
		return -errno;
	n = fscanf(f, "%u %u", &r, &w);
	fclose(f);
	return n == 2 ? (int)(r + w) : -EIO;
}

static void *set_backend_thread(void *arg)
{
	struct set_backend_call *c = arg;

	c->ret = vhost_blk_set_backend(c->fd, c->bfd, 0, NULL);
	atomic_store(&c->done, true);
	return NULL;
}

/*
 * SET_BACKEND pauses the queues in order and gives up with -EBUSY at the
 * first one with requests in flight, unpausing those before it. A kick
 * that reached one of those while it was paused must not be lost: with
 * EVENT_IDX the guest does not kick again for a request it already
 * kicked for.
 *
 * Queue 1 submits 64 reads, not adjacent so none merge, to a null_blk
 * that takes one request at a time, 50 ms each: its worker holds the
 * queue for over three seconds, and SET_BACKEND waits for it with queue 0
 * paused. Queue 0 gets its write and kick meanwhile.
 */
TEST_F(bk, set_backend_busy_keeps_kick_of_paused_queue)
{
	enum { N = 64, SECTOR0 = 4096 };
	struct vblk_vq *vq0 = &self->d->vqs[0], *vq1 = &self->d->vqs[1];
	struct set_backend_call call = { .fd = self->fd, .bfd = self->bfd };
	uint64_t seed = fresh_seed(), gpa1, gpa0;
	struct vblk_req *r[N], *w;
	uint8_t *data;
	pthread_t thread;
	char path[64];
	int sfd, ret;

	ret = nullb_slow_qd1(path, sizeof(path));
	if (ret)
		SKIP(return, "no configfs null_blk: %s", strerror(-ret));
	ASSERT_EQ(0, disk_write_pattern(path, 0, N * 8192, seed));
	sfd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, sfd);
	ASSERT_EQ(0, vhost_blk_set_backend(self->fd, sfd, 0, NULL));
	ASSERT_TRUE(vblk_dev_has_feature(self->d, VIRTIO_RING_F_EVENT_IDX));
	ASSERT_EQ(0, vblk_dev_read_config(self->d));
	ASSERT_EQ(0, vblk_vq_start(self->d, 0, 0));
	ASSERT_EQ(0, vblk_vq_start(self->d, 1, 0));
	ASSERT_EQ(0, vblk_alloc(self->d, N * 4096, 4096, &gpa1));
	ASSERT_EQ(0, vblk_alloc(self->d, 4096, 4096, &gpa0));
	data = vblk_gpa_to_hva(self->d, gpa1, N * 4096);
	w = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, w);
	for (int i = 0; i < N; i++) {
		r[i] = vblk_req_alloc(self->d);
		ASSERT_NE(NULL, r[i]);
		vblk_req_reset(r[i], VIRTIO_BLK_T_IN, i * 16);
		vblk_req_add_seg(r[i], gpa1 + i * 4096, 4096);
		ASSERT_LE(0, vblk_req_submit(vq1, r[i], VBLK_ADD_INDIRECT));
	}
	ASSERT_EQ(0, vblk_vq_kick(vq1));
	/*
	 * Its worker is submitting them. A loaded debug guest can keep this
	 * thread off a CPU for a while, so wait up to 5 s, and tell a lost
	 * kick from reads that all completed before we looked.
	 */
	for (int i = 0; i < 5000 && blk_inflight(path) <= 0; i++)
		usleep(1000);
	ret = blk_inflight(path);
	if (ret <= 0)
		TH_LOG("inflight %d, vq1 used %u of %d", ret,
		       vblk_vq_used_idx(vq1), N);
	ASSERT_LT(0, ret);

	ASSERT_EQ(0, pthread_create(&thread, NULL, set_backend_thread, &call));
	/* SET_BACKEND has paused queue 0 and waits for queue 1. */
	usleep(300000);
	vblk_pattern_fill(vblk_gpa_to_hva(self->d, gpa0, 4096), 4096, SECTOR0,
			  seed + 1);
	vblk_req_reset(w, VIRTIO_BLK_T_OUT, SECTOR0);
	vblk_req_add_seg(w, gpa0, 4096);
	ASSERT_LE(0, vblk_req_submit(vq0, w, 0));
	ASSERT_EQ(0, vblk_vq_kick(vq0));
	EXPECT_EQ(1, vq0->kicks);
	usleep(200000);
	if (atomic_load(&call.done)) {
		pthread_join(thread, NULL);
		SKIP(return, "SET_BACKEND returned (%d) before the kick",
		     call.ret);
	}
	/* Paused: the worker took nothing off the ring. */
	EXPECT_EQ(0, vblk_vq_avail_event(vq0));
	EXPECT_EQ(0, vblk_vq_used_idx(vq0));
	pthread_join(thread, NULL);
	EXPECT_EQ(-EBUSY, call.ret);

	/* The write completes without another kick. */
	EXPECT_EQ(0, vblk_req_wait(vq0, w, IO_TIMEOUT_MS));
	EXPECT_EQ(1, vq0->kicks);
	EXPECT_EQ(VIRTIO_BLK_S_OK, w->status);
	ASSERT_EQ(0, vblk_vq_drain(vq1, IO_TIMEOUT_MS));
	for (int i = 0; i < N; i++) {
		EXPECT_EQ(VIRTIO_BLK_S_OK, r[i]->status);
		EXPECT_EQ(-1, vblk_pattern_check(data + i * 4096, 4096, i * 16,
						 seed))
			TH_LOG("read %d", i);
	}
	if (w->done) {
		EXPECT_EQ(0, disk_check_pattern(path, SECTOR0, 4096, seed + 1));
	}
	close(sfd);
}

/* The owner's open() is the access control: an fd it cannot read with. */
TEST_F(bk, write_only_fd_refused)
{
	int wfd = open(test_dev(), O_WRONLY | O_CLOEXEC);

	ASSERT_LE(0, wfd);
	EXPECT_EQ(-EBADF, vhost_blk_set_backend(self->fd, wfd, 0, NULL));
	close(wfd);
}

/* The guest writes anywhere: an append-only file must not be its disk. */
TEST_F(bk, append_only_file_refused)
{
	char path[] = "/tmp/vhost-blk-append.XXXXXX";
	int ffd = mkstemp(path), afd;

	ASSERT_LE(0, ffd);
	ASSERT_EQ(0, ftruncate(ffd, 1 << 20));
	afd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
	ASSERT_LE(0, afd);
	EXPECT_EQ(-EPERM, vhost_blk_set_backend(self->fd, afd, 0, NULL));
	/* Read-only it is fine. */
	close(afd);
	afd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, afd);
	EXPECT_EQ(0, vhost_blk_set_backend(self->fd, afd, 0, NULL));
	EXPECT_EQ(0, vhost_blk_set_backend(self->fd, -1, 0, NULL));
	close(afd);
	close(ffd);
	unlink(path);
}

/* Backend I/O errors (null_blk bad blocks) come back as IOERR. */
TEST_F(bk, backend_errors_are_ioerr)
{
	static const char *const attrs[] = {
		"size=16", "blocksize=512", "memory_backed=1", NULL,
	};
	char path[PATH_MAX], bad[PATH_MAX];
	struct vblk_dev *d = NULL;
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	uint64_t seed = fresh_seed(), gpa;
	struct vblk_req *r;
	int nfd;

	if (nullb_get("vhost-blk-bad", attrs, path, sizeof(path)))
		SKIP(return, "no configfs null_blk");
	nfd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, nfd);
	o.mem_size = 8 << 20;
	ASSERT_EQ(0, vblk_dev_create(&d, &o, nfd, 0, NULL));
	r = vblk_req_alloc(d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(d, 8192, 4096, &gpa));
	ASSERT_EQ(VIRTIO_BLK_S_OK,
		  write_pattern(&d->vqs[0], r, gpa, 64, 4096, seed));

	snprintf(bad, sizeof(bad), "%s/vhost-blk-bad", NULLB_CONFIGFS);
	ASSERT_EQ(0, write_attr(bad, "badblocks", "+64-71"));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  do_io(&d->vqs[0], r, VIRTIO_BLK_T_IN, 64, gpa, 4096, 0));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  do_io(&d->vqs[0], r, VIRTIO_BLK_T_OUT, 68, gpa, 512, 0));
	/* Its neighbours and the queue are fine. */
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  write_pattern(&d->vqs[0], r, gpa, 72, 4096, seed));
	EXPECT_EQ(0, check_pattern(&d->vqs[0], r, gpa, 72, 4096, seed));
	ASSERT_EQ(0, write_attr(bad, "badblocks", "-64-71"));
	EXPECT_EQ(0, check_pattern(&d->vqs[0], r, gpa, 64, 4096, seed));

	vblk_req_free(d, r);
	vblk_dev_destroy(d);
	close(nfd);
}

VHOST_BLK_TEST_MAIN
