// SPDX-License-Identifier: GPL-2.0
/*
 * abi: the numbers and struct sizes of the device-specific ioctls, in the
 * manner of iommufd's cmd_length test.
 *
 * The ioctls that take an extensible struct are _IO(): the kernel reads
 * the size from the struct's first __u32. For each of them (a variant of
 * the cmd_length fixture): size 0 and one below the minimum give -EINVAL,
 * every published size works, a larger size works with a zero tail up
 * to the page size and gives -E2BIG with a non-zero byte in it, any size
 * above the page size gives -E2BIG, and the number of the earlier ABI
 * (_IOW/_IOWR with the struct's size) and its other near misses give
 * -ENOTTY. Each call is then checked to have had its effect, or none.
 * VHOST_BLK_SET_CONFIG_CALL keeps its _IOW(int) number: only that one
 * works.
 */
#include <endian.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "vhost_blk_test.h"

#define QSIZE		64
#define REGION_LEN	VHOST_BLK_INFLIGHT_SIZE(QSIZE)

/* An owned device with guest memory, a backend and no queue started. */
FIXTURE(cmd_length) {
	int bfd;
	struct vblk_dev *d;
	uint8_t *arg;		/* two pages: a page-sized argument fits */
	long page;
	struct vhost_blk_inflight_split *region;
	struct virtio_blk_config cfg;
};

/*
 * Per ioctl: fill() writes a valid struct (all but the size) at @arg;
 * effect() tells whether such a call took effect (1) or not (0).
 */
static void fill_backend(FIXTURE_DATA(cmd_length) *self, void *arg)
{
	struct vhost_blk_backend *b = arg;

	(void)self;
	b->fd = -1;			/* detach */
}

static int effect_backend(struct __test_metadata *_metadata,
			  FIXTURE_DATA(cmd_length) *self)
{
	int ret = vhost_blk_get_config(self->d->fd, &self->cfg, NULL, NULL);

	EXPECT_TRUE(ret == 0 || ret == -ENODEV) TH_LOG("GET_CONFIG %d", ret);
	return ret == -ENODEV;
}

static void fill_config(FIXTURE_DATA(cmd_length) *self, void *arg)
{
	struct vhost_blk_config *c = arg;

	memset(&self->cfg, 0xa5, sizeof(self->cfg));
	c->config_len = sizeof(self->cfg);
	c->config_ptr = (uintptr_t)&self->cfg;
}

static int effect_config(struct __test_metadata *_metadata,
			 FIXTURE_DATA(cmd_length) *self)
{
	uint64_t sectors = blk_bytes(self->bfd) / 512;

	if (le64toh(self->cfg.capacity) == sectors)
		return 1;
	EXPECT_EQ(0xa5a5a5a5a5a5a5a5ULL, self->cfg.capacity);
	return 0;
}

static void fill_options(FIXTURE_DATA(cmd_length) *self, void *arg)
{
	struct vhost_blk_options *o = arg;

	(void)self;
	o->flags = VHOST_BLK_OPT_F_PIN_MEM;
}

static int effect_options(struct __test_metadata *_metadata,
			  FIXTURE_DATA(cmd_length) *self)
{
	long kb = vm_pin_kb();

	(void)self;
	EXPECT_LE(0, kb);
	return kb > 0;
}

static void fill_inflight(FIXTURE_DATA(cmd_length) *self, void *arg)
{
	struct vhost_blk_vring_inflight *v = arg;

	memset(self->region, 0, REGION_LEN);
	v->index = 0;
	v->addr = (uintptr_t)self->region;
	v->len = REGION_LEN;
}

/* A queue that starts with a fresh region takes it over: version 1. */
static int effect_inflight(struct __test_metadata *_metadata,
			   FIXTURE_DATA(cmd_length) *self)
{
	EXPECT_EQ(0, vblk_vq_start(self->d, 0, 0));
	return self->region->version == VHOST_BLK_INFLIGHT_VERSION;
}

/* Published sizes of each struct, 0-terminated. */
static const uint32_t backend_sizes[] = { VHOST_BLK_BACKEND_SIZE_VER0, 0 };
static const uint32_t config_sizes[] = { VHOST_BLK_CONFIG_SIZE_VER0, 0 };
static const uint32_t options_sizes[] = { VHOST_BLK_OPTIONS_SIZE_VER0, 0 };
static const uint32_t inflight_sizes[] = {
	VHOST_BLK_VRING_INFLIGHT_SIZE_VER0, 0
};

FIXTURE_VARIANT(cmd_length) {
	unsigned long cmd;
	unsigned long old_cmd;		/* its number before _IO() */
	uint32_t ksize;			/* sizeof() the struct built here */
	uint32_t min_size;		/* ..._SIZE_VER0 */
	const uint32_t *sizes;
	void (*fill)(FIXTURE_DATA(cmd_length) *self, void *arg);
	int (*effect)(struct __test_metadata *_metadata,
		      FIXTURE_DATA(cmd_length) *self);
};

FIXTURE_VARIANT_ADD(cmd_length, set_backend) {
	.cmd = VHOST_BLK_SET_BACKEND,
	.old_cmd = _IOW(VHOST_VIRTIO, 0x50, struct vhost_blk_backend),
	.ksize = sizeof(struct vhost_blk_backend),
	.min_size = VHOST_BLK_BACKEND_SIZE_VER0,
	.sizes = backend_sizes,
	.fill = fill_backend,
	.effect = effect_backend,
};

FIXTURE_VARIANT_ADD(cmd_length, get_config) {
	.cmd = VHOST_BLK_GET_CONFIG,
	.old_cmd = _IOWR(VHOST_VIRTIO, 0x51, struct vhost_blk_config),
	.ksize = sizeof(struct vhost_blk_config),
	.min_size = VHOST_BLK_CONFIG_SIZE_VER0,
	.sizes = config_sizes,
	.fill = fill_config,
	.effect = effect_config,
};

FIXTURE_VARIANT_ADD(cmd_length, set_options) {
	.cmd = VHOST_BLK_SET_OPTIONS,
	.old_cmd = _IOW(VHOST_VIRTIO, 0x52, struct vhost_blk_options),
	.ksize = sizeof(struct vhost_blk_options),
	.min_size = VHOST_BLK_OPTIONS_SIZE_VER0,
	.sizes = options_sizes,
	.fill = fill_options,
	.effect = effect_options,
};

FIXTURE_VARIANT_ADD(cmd_length, set_vring_inflight) {
	.cmd = VHOST_BLK_SET_VRING_INFLIGHT,
	.old_cmd = _IOW(VHOST_VIRTIO, 0x53, struct vhost_blk_vring_inflight),
	.ksize = sizeof(struct vhost_blk_vring_inflight),
	.min_size = VHOST_BLK_VRING_INFLIGHT_SIZE_VER0,
	.sizes = inflight_sizes,
	.fill = fill_inflight,
	.effect = effect_inflight,
};

FIXTURE_SETUP(cmd_length)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	unsigned int n;

	self->page = sysconf(_SC_PAGESIZE);
	self->bfd = open(test_dev(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->bfd) TH_LOG("%s: %s", test_dev(), strerror(errno));
	o.queue_size = QSIZE;
	o.mem_size = 4 << 20;
	o.num_queues = 0;
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->bfd, 0, NULL));
	self->arg = mmap(NULL, 2 * self->page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->arg);
	self->region = mmap(NULL, REGION_LEN, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->region);
	/* The struct built here is the last published size. */
	ASSERT_LE(variant->min_size, variant->ksize);
	for (n = 0; variant->sizes[n]; n++)
		;
	ASSERT_EQ(variant->ksize, variant->sizes[n - 1]);
	ASSERT_EQ(0, _IOC_SIZE(variant->cmd));
	ASSERT_EQ(_IOC_NONE, _IOC_DIR(variant->cmd));
}

FIXTURE_TEARDOWN(cmd_length)
{
	vblk_dev_destroy(self->d);
	munmap(self->arg, 2 * self->page);
	munmap(self->region, REGION_LEN);
	close(self->bfd);
}

/* The call with a valid struct claiming @size bytes, and its errno. */
static int call_sized(FIXTURE_DATA(cmd_length) *self,
		      const FIXTURE_VARIANT(cmd_length) *variant,
		      unsigned long cmd, uint32_t size)
{
	memset(self->arg, 0, 2 * self->page);
	variant->fill(self, self->arg);
	memcpy(self->arg, &size, sizeof(size));
	return ioctl(self->d->fd, cmd, self->arg) ? -errno : 0;
}

TEST_F(cmd_length, size_zero)
{
	EXPECT_EQ(-EINVAL, call_sized(self, variant, variant->cmd, 0));
	EXPECT_EQ(0, variant->effect(_metadata, self));
}

TEST_F(cmd_length, size_below_minimum)
{
	EXPECT_EQ(-EINVAL, call_sized(self, variant, variant->cmd,
				      variant->min_size - 1));
	EXPECT_EQ(-EINVAL, call_sized(self, variant, variant->cmd, 4));
	EXPECT_EQ(0, variant->effect(_metadata, self));
}

TEST_F(cmd_length, published_sizes)
{
	for (const uint32_t *s = variant->sizes; *s; s++) {
		EXPECT_EQ(0, call_sized(self, variant, variant->cmd, *s))
			TH_LOG("size %u", *s);
	}
	EXPECT_EQ(1, variant->effect(_metadata, self));
}

/* A newer struct: the kernel takes it if it ends in zeroes. */
TEST_F(cmd_length, larger_zero_tail)
{
	EXPECT_EQ(0, call_sized(self, variant, variant->cmd,
				variant->ksize + 1));
	EXPECT_EQ(0, call_sized(self, variant, variant->cmd,
				variant->ksize + 8));
	EXPECT_EQ(0, call_sized(self, variant, variant->cmd, self->page));
	EXPECT_EQ(1, variant->effect(_metadata, self));
}

/* A field the kernel does not know, set: -E2BIG, wherever it is. */
TEST_F(cmd_length, larger_nonzero_tail)
{
	static const uint8_t bytes[] = { 0x01, 0x80, 0xff };
	const uint32_t ends[] = { variant->ksize + 1, variant->ksize + 8,
				  self->page };

	for (unsigned int i = 0; i < ARRAY_SIZE(ends); i++) {
		uint32_t size = ends[i];
		int ret;

		memset(self->arg, 0, 2 * self->page);
		variant->fill(self, self->arg);
		memcpy(self->arg, &size, sizeof(size));
		self->arg[size - 1] = bytes[i];
		ret = ioctl(self->d->fd, variant->cmd, self->arg) ? -errno : 0;
		EXPECT_EQ(-E2BIG, ret) TH_LOG("size %u", size);
	}
	EXPECT_EQ(0, variant->effect(_metadata, self));
}

/* Beyond a page, zero tail or not, as clone3() and openat2() do. */
TEST_F(cmd_length, above_page_size)
{
	EXPECT_EQ(-E2BIG, call_sized(self, variant, variant->cmd,
				     self->page + 1));
	EXPECT_EQ(-E2BIG, call_sized(self, variant, variant->cmd,
				     2 * self->page));
	EXPECT_EQ(-E2BIG, call_sized(self, variant, variant->cmd,
				     UINT32_MAX));
	EXPECT_EQ(0, variant->effect(_metadata, self));
}

/* The earlier numbers, and the others near ours, are no ioctls. */
TEST_F(cmd_length, old_number_enotty)
{
	unsigned int nr = _IOC_NR(variant->cmd);
	const unsigned long cmds[] = {
		variant->old_cmd,
		_IOC(_IOC_WRITE, VHOST_VIRTIO, nr, variant->ksize),
		_IOC(_IOC_READ | _IOC_WRITE, VHOST_VIRTIO, nr, variant->ksize),
		_IOC(_IOC_READ, VHOST_VIRTIO, nr, variant->ksize),
		_IOC(_IOC_WRITE, VHOST_VIRTIO, nr, 0),
		_IOC(_IOC_NONE, VHOST_VIRTIO, nr, variant->ksize),
		_IOC(_IOC_NONE, VHOST_VIRTIO, nr, 1),
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(cmds); i++) {
		EXPECT_EQ(-ENOTTY, call_sized(self, variant, cmds[i],
					      variant->ksize))
			TH_LOG("cmd %#lx", cmds[i]);
	}
	EXPECT_EQ(0, variant->effect(_metadata, self));
}

/*
 * VHOST_BLK_SET_CONFIG_CALL takes an int, which never grows: its
 * _IOW(int) number is matched whole, like VHOST_SET_LOG_FD's.
 */
TEST(set_config_call_number)
{
	unsigned int nr = _IOC_NR(VHOST_BLK_SET_CONFIG_CALL);
	const unsigned long cmds[] = {
		_IO(VHOST_VIRTIO, nr),
		_IOR(VHOST_VIRTIO, nr, int),
		_IOWR(VHOST_VIRTIO, nr, int),
		_IOW(VHOST_VIRTIO, nr, __u64),
		_IOW(VHOST_VIRTIO, nr, __u16),
	};
	int fd = vhost_blk_open(NULL), efd = eventfd(0, EFD_CLOEXEC);
	int64_t arg = -1;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, efd);
	ASSERT_EQ(sizeof(int), _IOC_SIZE(VHOST_BLK_SET_CONFIG_CALL));
	ASSERT_EQ(_IOC_WRITE, _IOC_DIR(VHOST_BLK_SET_CONFIG_CALL));
	ASSERT_EQ(0, vhost_blk_set_owner(fd));
	for (unsigned int i = 0; i < ARRAY_SIZE(cmds); i++) {
		EXPECT_EQ(-ENOTTY, ioctl(fd, cmds[i], &arg) ? -errno : 0)
			TH_LOG("cmd %#lx", cmds[i]);
	}
	EXPECT_EQ(0, ioctl(fd, VHOST_BLK_SET_CONFIG_CALL, &efd) ? -errno : 0);
	EXPECT_EQ(0, ioctl(fd, VHOST_BLK_SET_CONFIG_CALL, &arg) ? -errno : 0);
	close(efd);
	close(fd);
}

VHOST_BLK_TEST_MAIN
