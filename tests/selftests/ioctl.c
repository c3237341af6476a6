// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl: the vhost control plane of /dev/vhost-blk - ownership, features,
 * the memory table and vring setup - with exact error codes.
 */
#include <sys/eventfd.h>

#include "kselftest_harness.h"
#include "vhost_blk_test.h"

#define F(bit)		(1ULL << (bit))
#define REGION_GPA	0x100000000ULL
#define MEM_LEN		(1UL << 20)

/* ---- before and without ownership ---- */

FIXTURE(unowned) {
	int fd;
	int efd;
	uint8_t *mem;
};

FIXTURE_SETUP(unowned)
{
	self->fd = vhost_blk_open(NULL);
	ASSERT_LE(0, self->fd);
	self->efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, self->efd);
	self->mem = mmap(NULL, MEM_LEN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
}

FIXTURE_TEARDOWN(unowned)
{
	close(self->efd);
	close(self->fd);
	munmap(self->mem, MEM_LEN);
}

/*
 * Every ioctl except GET_FEATURES and SET_OWNER with a valid argument;
 * each must fail with @want. Returns the number that did not.
 */
static int try_owner_ioctls(struct __test_metadata *_metadata, int fd,
			    int efd, uint8_t *mem, int want)
{
	struct vhost_memory_region r = {
		.guest_phys_addr = REGION_GPA,
		.memory_size = MEM_LEN,
		.userspace_addr = (uintptr_t)mem,
	};
	struct virtio_blk_config cfg;
	uint64_t features = F(VIRTIO_F_VERSION_1);
	unsigned int base;
	int bfd, bad = 0;

	bfd = open(test_dev(), O_RDWR | O_CLOEXEC);
	EXPECT_LE(0, bfd);

#define TRY(call) do {							\
		int __r = (call);					\
		if (__r != want) {					\
			TH_LOG("%s: got %d (%s), want %d", #call, __r,	\
			       strerror(-__r), want);			\
			bad++;						\
		}							\
	} while (0)

	TRY(vhost_blk_set_features(fd, features));
	TRY(vhost_blk_set_mem_table(fd, &r, 1));
	TRY(vhost_blk_set_vring_num(fd, 0, 16));
	TRY(vhost_blk_set_vring_addr(fd, 0, (uintptr_t)mem,
				     (uintptr_t)mem + 4096,
				     (uintptr_t)mem + 8192, 0));
	TRY(vhost_blk_set_vring_base(fd, 0, 0));
	TRY(vhost_blk_get_vring_base(fd, 0, &base));
	TRY(vhost_blk_set_vring_call(fd, 0, efd));
	TRY(vhost_blk_set_vring_err(fd, 0, efd));
	TRY(vhost_blk_set_vring_kick(fd, 0, efd));
	{
		unsigned int us;

		TRY(vhost_blk_set_vring_busyloop_timeout(fd, 0, 10));
		TRY(vhost_blk_get_vring_busyloop_timeout(fd, 0, &us));
	}
	TRY(vhost_blk_set_backend(fd, bfd, 0, "x"));
	TRY(vhost_blk_get_config(fd, &cfg, NULL, NULL));
	{
		unsigned int id;

		TRY(vhost_blk_new_worker(fd, &id));
		TRY(vhost_blk_get_vring_worker(fd, 0, &id));
		TRY(vhost_blk_attach_vring_worker(fd, 0, 0));
		TRY(vhost_blk_free_worker(fd, 0));
	}
	TRY(vhost_blk_reset_owner(fd));
#undef TRY
	close(bfd);
	return bad;
}

TEST_F(unowned, get_features_without_owner)
{
	uint64_t f = 0;

	ASSERT_EQ(0, vhost_blk_get_features(self->fd, &f));
	EXPECT_TRUE(f & F(VIRTIO_F_VERSION_1));
	EXPECT_TRUE(f & F(VIRTIO_RING_F_INDIRECT_DESC));
	EXPECT_TRUE(f & F(VIRTIO_RING_F_EVENT_IDX));
	/* Stable: a second call gives the same answer. */
	{
		uint64_t g = 0;

		ASSERT_EQ(0, vhost_blk_get_features(self->fd, &g));
		EXPECT_EQ(f, g);
	}
}

TEST_F(unowned, eperm_before_set_owner)
{
	EXPECT_EQ(0, try_owner_ioctls(_metadata, self->fd, self->efd,
				      self->mem, -EPERM));
	/* None of that got in the way of becoming the owner. */
	EXPECT_EQ(0, vhost_blk_set_owner(self->fd));
}

TEST_F(unowned, set_owner_twice_ebusy)
{
	ASSERT_EQ(0, vhost_blk_set_owner(self->fd));
	EXPECT_EQ(-EBUSY, vhost_blk_set_owner(self->fd));
	/* Still the owner. */
	EXPECT_EQ(0, vhost_blk_set_vring_num(self->fd, 0, 16));
}

TEST_F(unowned, set_owner_other_fd_independent)
{
	int fd2 = vhost_blk_open(NULL);

	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, vhost_blk_set_owner(self->fd));
	/* Another open of the node is another device. */
	EXPECT_EQ(0, vhost_blk_set_owner(fd2));
	close(fd2);
}

TEST_F(unowned, forked_child_eperm)
{
	uint64_t f;
	pid_t pid;
	int status;

	ASSERT_EQ(0, vhost_blk_set_owner(self->fd));
	ASSERT_EQ(0, vhost_blk_get_features(self->fd, &f));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		uint64_t g = 0;
		int bad = 0;

		if (vhost_blk_get_features(self->fd, &g) || g != f)
			bad++;
		if (vhost_blk_set_owner(self->fd) != -EBUSY)
			bad++;
		bad += try_owner_ioctls(_metadata, self->fd, self->efd,
					self->mem, -EPERM);
		_exit(bad ? 1 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* The parent is still the owner, with nothing reset. */
	EXPECT_EQ(0, vhost_blk_set_features(self->fd, F(VIRTIO_F_VERSION_1)));
	EXPECT_EQ(0, vhost_blk_set_vring_num(self->fd, 0, 16));
}

/* ---- owned: features, memory table, vring setup ---- */

FIXTURE(owned) {
	int fd;
	uint64_t offered;
	uint8_t *mem;
	struct vhost_memory_region region;
};

FIXTURE_SETUP(owned)
{
	self->fd = vhost_blk_open(NULL);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, vhost_blk_set_owner(self->fd));
	ASSERT_EQ(0, vhost_blk_get_features(self->fd, &self->offered));
	self->mem = mmap(NULL, MEM_LEN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	self->region = (struct vhost_memory_region){
		.guest_phys_addr = REGION_GPA,
		.memory_size = MEM_LEN,
		.userspace_addr = (uintptr_t)self->mem,
	};
}

FIXTURE_TEARDOWN(owned)
{
	close(self->fd);
	munmap(self->mem, MEM_LEN);
}

TEST_F(owned, set_features_unknown_bit_eopnotsupp)
{
	uint64_t unknown = 0;

	/* RO is not offered (it depends on the backend) but accepted. */
	EXPECT_EQ(0, self->offered & F(VIRTIO_BLK_F_RO));
	EXPECT_EQ(0, vhost_blk_set_features(self->fd, F(VIRTIO_BLK_F_RO)));
	for (int bit = 0; bit < 64; bit++) {
		if ((self->offered | F(VIRTIO_BLK_F_RO)) & F(bit))
			continue;
		/* Every other bit not offered is refused, alone or not. */
		EXPECT_EQ(-EOPNOTSUPP, vhost_blk_set_features(self->fd, F(bit)))
			TH_LOG("bit %d", bit);
		if (!unknown)
			unknown = F(bit);
	}
	ASSERT_NE(0, unknown);
	EXPECT_EQ(-EOPNOTSUPP,
		  vhost_blk_set_features(self->fd, self->offered | unknown));
	EXPECT_EQ(-EOPNOTSUPP, vhost_blk_set_features(self->fd, F(63)));
	/* The offered set itself is fine; dirty logging needs a log first. */
	EXPECT_EQ(-EFAULT, vhost_blk_set_features(self->fd, self->offered));
	EXPECT_EQ(0, vhost_blk_set_features(self->fd, self->offered &
					    ~F(VHOST_F_LOG_ALL)));
}

TEST_F(owned, set_features_subsets)
{
	EXPECT_EQ(0, vhost_blk_set_features(self->fd, 0));
	EXPECT_EQ(0, vhost_blk_set_features(self->fd, F(VIRTIO_F_VERSION_1)));
	EXPECT_EQ(0, vhost_blk_set_features(self->fd,
					    self->offered &
					    ~(F(VIRTIO_RING_F_EVENT_IDX) |
					      F(VHOST_F_LOG_ALL))));
	EXPECT_EQ(0, vhost_blk_set_features(self->fd, self->offered &
					    ~F(VHOST_F_LOG_ALL)));
}

TEST_F(owned, mem_table_valid)
{
	struct vhost_memory_region r[2] = { self->region, self->region };

	EXPECT_EQ(0, vhost_blk_set_mem_table(self->fd, &self->region, 1));
	/* Replacing the table is allowed; two disjoint halves. */
	r[0].memory_size = MEM_LEN / 2;
	r[1].memory_size = MEM_LEN / 2;
	r[1].guest_phys_addr = REGION_GPA + (64ULL << 30);
	r[1].userspace_addr += MEM_LEN / 2;
	EXPECT_EQ(0, vhost_blk_set_mem_table(self->fd, r, 2));
}

TEST_F(owned, mem_table_overlap_einval)
{
	struct vhost_memory_region r[2] = { self->region, self->region };

	/* Identical. */
	EXPECT_EQ(-EINVAL, vhost_blk_set_mem_table(self->fd, r, 2));
	/* Second starts inside the first. */
	r[0].memory_size = MEM_LEN / 2;
	r[1].memory_size = MEM_LEN / 2;
	r[1].guest_phys_addr = REGION_GPA + MEM_LEN / 4;
	r[1].userspace_addr += MEM_LEN / 2;
	EXPECT_EQ(-EINVAL, vhost_blk_set_mem_table(self->fd, r, 2));
	/* First starts inside the second (order does not matter). */
	r[1].guest_phys_addr = REGION_GPA - MEM_LEN / 4;
	EXPECT_EQ(-EINVAL, vhost_blk_set_mem_table(self->fd, r, 2));
	/* Contained. */
	r[0].memory_size = MEM_LEN;
	r[1].guest_phys_addr = REGION_GPA + 4096;
	r[1].memory_size = 4096;
	EXPECT_EQ(-EINVAL, vhost_blk_set_mem_table(self->fd, r, 2));
	/* Touching is not overlapping. */
	r[0].memory_size = MEM_LEN / 2;
	r[1].guest_phys_addr = REGION_GPA + MEM_LEN / 2;
	r[1].memory_size = MEM_LEN / 2;
	EXPECT_EQ(0, vhost_blk_set_mem_table(self->fd, r, 2));
}

TEST_F(owned, mem_table_zero_size_einval)
{
	struct vhost_memory_region r[2] = { self->region, self->region };

	r[0].memory_size = 0;
	EXPECT_EQ(-EINVAL, vhost_blk_set_mem_table(self->fd, r, 1));
	/* Also when it is not the first one. */
	r[0] = self->region;
	r[1].guest_phys_addr = REGION_GPA + (1ULL << 32);
	r[1].memory_size = 0;
	EXPECT_EQ(-EINVAL, vhost_blk_set_mem_table(self->fd, r, 2));
}

TEST_F(owned, mem_table_wrap_einval)
{
	struct vhost_memory_region r = self->region;

	r.guest_phys_addr = 0xfffffffffff00000ULL;
	r.memory_size = 0x200000;
	EXPECT_EQ(-EINVAL, vhost_blk_set_mem_table(self->fd, &r, 1));
	r.guest_phys_addr = ~0ULL - 0xfff;
	r.memory_size = 0x1000 + 1;
	EXPECT_EQ(-EINVAL, vhost_blk_set_mem_table(self->fd, &r, 1));

	r = self->region;
	r.userspace_addr = 0xfffffffffff00000ULL;
	r.memory_size = 0x200000;
	EXPECT_EQ(-EINVAL, vhost_blk_set_mem_table(self->fd, &r, 1));
	/* A size so large that both ends wrap. */
	r = self->region;
	r.memory_size = ~0ULL - 0xfff;
	EXPECT_EQ(-EINVAL, vhost_blk_set_mem_table(self->fd, &r, 1));
}

TEST_F(owned, mem_table_too_many_e2big)
{
	struct vhost_memory_region r[65];

	/* 64 one-page regions, 64 KiB apart in guest-physical space. */
	for (int i = 0; i < 65; i++)
		r[i] = (struct vhost_memory_region){
			.guest_phys_addr = REGION_GPA + i * 0x10000ULL,
			.memory_size = 4096,
			.userspace_addr = (uintptr_t)self->mem + i * 4096,
		};
	EXPECT_EQ(0, vhost_blk_set_mem_table(self->fd, r, 64));
	EXPECT_EQ(-E2BIG, vhost_blk_set_mem_table(self->fd, r, 65));
	/*
	 * The refused table did not replace the accepted one: a ring in
	 * region 63 is still inside the table.
	 */
	ASSERT_EQ(0, vhost_blk_set_vring_num(self->fd, 0, 8));
	EXPECT_EQ(0, vhost_blk_set_vring_addr(self->fd, 0,
					      r[63].userspace_addr,
					      r[63].userspace_addr + 1024,
					      r[63].userspace_addr + 2048, 0));
}

TEST_F(owned, vring_num_einval)
{
	static const unsigned int bad[] = { 0, 3, 100, 32769, 65536, 1U << 31 };
	static const unsigned int good[] = { 1, 2, 256, 32768 };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, vhost_blk_set_vring_num(self->fd, 0, bad[i]))
			TH_LOG("num %u", bad[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		EXPECT_EQ(0, vhost_blk_set_vring_num(self->fd, 0, good[i]))
			TH_LOG("num %u", good[i]);
	}
}

TEST_F(owned, vring_index_enobufs)
{
	static const unsigned int idx[] = { VHOST_BLK_MAX_QUEUES, 1000,
					    0xffffffffU };
	uintptr_t m = (uintptr_t)self->mem;
	unsigned int base;
	int efd = eventfd(0, EFD_CLOEXEC);

	ASSERT_LE(0, efd);
	ASSERT_EQ(0, vhost_blk_set_mem_table(self->fd, &self->region, 1));
	for (size_t i = 0; i < ARRAY_SIZE(idx); i++) {
		unsigned int q = idx[i];

		EXPECT_EQ(-ENOBUFS, vhost_blk_set_vring_num(self->fd, q, 16));
		EXPECT_EQ(-ENOBUFS, vhost_blk_set_vring_addr(self->fd, q, m,
							     m + 4096,
							     m + 8192, 0));
		EXPECT_EQ(-ENOBUFS, vhost_blk_set_vring_base(self->fd, q, 0));
		EXPECT_EQ(-ENOBUFS, vhost_blk_get_vring_base(self->fd, q, &base));
		EXPECT_EQ(-ENOBUFS, vhost_blk_set_vring_kick(self->fd, q, efd));
		EXPECT_EQ(-ENOBUFS, vhost_blk_set_vring_call(self->fd, q, efd));
		EXPECT_EQ(-ENOBUFS, vhost_blk_set_vring_err(self->fd, q, efd));
	}
	/* The last valid index works. */
	EXPECT_EQ(0, vhost_blk_set_vring_num(self->fd, VHOST_BLK_MAX_QUEUES - 1,
					     16));
	close(efd);
}

TEST_F(owned, busyloop_timeout)
{
	unsigned int us = ~0U;

	/* Off by default, per queue, bounded. */
	ASSERT_EQ(0, vhost_blk_get_vring_busyloop_timeout(self->fd, 0, &us));
	EXPECT_EQ(0, us);
	EXPECT_EQ(0, vhost_blk_set_vring_busyloop_timeout(self->fd, 0, 50));
	EXPECT_EQ(10000, VHOST_BLK_BUSYLOOP_MAX_US);
	EXPECT_EQ(0, vhost_blk_set_vring_busyloop_timeout(self->fd, 1, 10000));
	EXPECT_EQ(-EINVAL,
		  vhost_blk_set_vring_busyloop_timeout(self->fd, 0, 10001));
	EXPECT_EQ(-EINVAL,
		  vhost_blk_set_vring_busyloop_timeout(self->fd, 0, ~0U));
	ASSERT_EQ(0, vhost_blk_get_vring_busyloop_timeout(self->fd, 0, &us));
	EXPECT_EQ(50, us);
	ASSERT_EQ(0, vhost_blk_get_vring_busyloop_timeout(self->fd, 1, &us));
	EXPECT_EQ(10000, us);
	EXPECT_EQ(-ENOBUFS,
		  vhost_blk_set_vring_busyloop_timeout(self->fd,
						       VHOST_BLK_MAX_QUEUES, 1));
	EXPECT_EQ(-ENOBUFS,
		  vhost_blk_get_vring_busyloop_timeout(self->fd,
						       VHOST_BLK_MAX_QUEUES,
						       &us));
	/* RESET_OWNER turns it off again. */
	ASSERT_EQ(0, vhost_blk_reset_owner(self->fd));
	ASSERT_EQ(0, vhost_blk_set_owner(self->fd));
	ASSERT_EQ(0, vhost_blk_get_vring_busyloop_timeout(self->fd, 1, &us));
	EXPECT_EQ(0, us);
}

TEST_F(owned, vring_addr_outside_mem_efault)
{
	uintptr_t m = (uintptr_t)self->mem;
	uint8_t *other;
	uintptr_t o;

	other = mmap(NULL, 65536, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, other);
	o = (uintptr_t)other;
	ASSERT_EQ(0, vhost_blk_set_mem_table(self->fd, &self->region, 1));
	ASSERT_EQ(0, vhost_blk_set_vring_num(self->fd, 0, 16));
	/* Sanity: inside is accepted. */
	EXPECT_EQ(0, vhost_blk_set_vring_addr(self->fd, 0, m, m + 4096,
					      m + 8192, 0));
	/* Mapped in the process, but not in the table. */
	EXPECT_EQ(-EFAULT, vhost_blk_set_vring_addr(self->fd, 0, o, m + 4096,
						    m + 8192, 0));
	EXPECT_EQ(-EFAULT, vhost_blk_set_vring_addr(self->fd, 0, m, o,
						    m + 8192, 0));
	EXPECT_EQ(-EFAULT, vhost_blk_set_vring_addr(self->fd, 0, m, m + 4096,
						    o, 0));
	/* A guest-physical address where a user address belongs. */
	EXPECT_EQ(-EFAULT, vhost_blk_set_vring_addr(self->fd, 0, REGION_GPA,
						    m + 4096, m + 8192, 0));
	/* Starting inside, running off the end: 16 * 16 bytes of desc. */
	EXPECT_EQ(-EFAULT, vhost_blk_set_vring_addr(self->fd, 0,
						    m + MEM_LEN - 128,
						    m + 4096, m + 8192, 0));
	EXPECT_EQ(-EFAULT, vhost_blk_set_vring_addr(self->fd, 0, m, m + 4096,
						    m + MEM_LEN - 64, 0));
	munmap(other, 65536);
}

TEST_F(owned, vring_addr_misaligned_einval)
{
	uintptr_t m = (uintptr_t)self->mem;

	ASSERT_EQ(0, vhost_blk_set_mem_table(self->fd, &self->region, 1));
	ASSERT_EQ(0, vhost_blk_set_vring_num(self->fd, 0, 16));
	/* desc needs 16, avail 2, used 4 byte alignment. */
	EXPECT_EQ(-EINVAL, vhost_blk_set_vring_addr(self->fd, 0, m + 8,
						    m + 4096, m + 8192, 0));
	EXPECT_EQ(-EINVAL, vhost_blk_set_vring_addr(self->fd, 0, m,
						    m + 4097, m + 8192, 0));
	EXPECT_EQ(-EINVAL, vhost_blk_set_vring_addr(self->fd, 0, m,
						    m + 4096, m + 8194, 0));
	/* The smallest legal alignments are fine. */
	EXPECT_EQ(0, vhost_blk_set_vring_addr(self->fd, 0, m + 16,
					      m + 4098, m + 8196, 0));
}

TEST_F(owned, mem_table_padding_einval)
{
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r;
	} t = { .m = { .nregions = 1 }, .r = self->region };
	struct vhost_memory_region r = self->region;

	r.flags_padding = 1;
	EXPECT_EQ(-EINVAL, vhost_blk_set_mem_table(self->fd, &r, 1));
	t.m.padding = 1;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_MEM_TABLE, &t));
	EXPECT_EQ(EINVAL, errno);
	t.m.padding = 0;
	EXPECT_EQ(0, ioctl(self->fd, VHOST_SET_MEM_TABLE, &t));
}

TEST_F(owned, mem_table_kernel_address_efault)
{
	struct vhost_memory_region r = self->region;

	/* A user range that is not in user space. */
	r.userspace_addr = 0xffff888000000000ULL;
	EXPECT_EQ(-EFAULT, vhost_blk_set_mem_table(self->fd, &r, 1));
}

TEST_F(owned, vring_addr_unknown_flag_eopnotsupp)
{
	uintptr_t m = (uintptr_t)self->mem;

	ASSERT_EQ(0, vhost_blk_set_mem_table(self->fd, &self->region, 1));
	ASSERT_EQ(0, vhost_blk_set_vring_num(self->fd, 0, 16));
	EXPECT_EQ(-EOPNOTSUPP,
		  vhost_blk_set_vring_addr(self->fd, 0, m, m + 4096, m + 8192,
					   1U << 1));
	EXPECT_EQ(-EOPNOTSUPP,
		  vhost_blk_set_vring_addr(self->fd, 0, m, m + 4096, m + 8192,
					   (1U << VHOST_VRING_F_LOG) | (1U << 1)));
}

TEST_F(owned, workers_new_and_free)
{
	unsigned int a = ~0U, b = ~0U, ids[VHOST_BLK_MAX_WORKERS + 1];
	int n = 0, ret;

	ASSERT_EQ(0, vhost_blk_new_worker(self->fd, &a));
	ASSERT_EQ(0, vhost_blk_new_worker(self->fd, &b));
	EXPECT_NE(a, b);
	EXPECT_EQ(0, vhost_blk_free_worker(self->fd, a));
	EXPECT_EQ(-ENODEV, vhost_blk_free_worker(self->fd, a));
	EXPECT_EQ(-ENODEV, vhost_blk_free_worker(self->fd, 12345));
	EXPECT_EQ(0, vhost_blk_free_worker(self->fd, b));

	/* At most VHOST_BLK_MAX_WORKERS, and all of them can be freed. */
	while (n <= VHOST_BLK_MAX_WORKERS) {
		ret = vhost_blk_new_worker(self->fd, &ids[n]);
		if (ret)
			break;
		n++;
	}
	EXPECT_EQ(VHOST_BLK_MAX_WORKERS, n);
	EXPECT_GT(0, ret);
	for (int i = 0; i < n; i++) {
		EXPECT_EQ(0, vhost_blk_free_worker(self->fd, ids[i]));
	}
	EXPECT_EQ(0, vhost_blk_new_worker(self->fd, &a));
}

/* ---- a running queue: GET_VRING_BASE ---- */

FIXTURE(ring) {
	int bfd;
	struct vblk_dev *d;
	struct vblk_vq *vq;
	uint64_t buf;
	uint64_t seed;
};

FIXTURE_SETUP(ring)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;

	self->bfd = open(test_dev(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->bfd) TH_LOG("%s: %s", test_dev(), strerror(errno));
	o.queue_size = 64;
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->bfd, 0, "ring"));
	self->vq = &self->d->vqs[0];
	ASSERT_EQ(0, vblk_alloc(self->d, 64 * 4096, 4096, &self->buf));
	self->seed = fresh_seed();
}

FIXTURE_TEARDOWN(ring)
{
	vblk_dev_destroy(self->d);
	close(self->bfd);
}

/* Post @n 4 KiB writes of the pattern at sectors 8 * i; no kick. */
static void post_writes(struct __test_metadata *_metadata,
			FIXTURE_DATA(ring) *self, struct vblk_req **r, int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t gpa = self->buf + i * 4096ULL;

		r[i] = vblk_req_alloc(self->d);
		ASSERT_NE(NULL, r[i]);
		vblk_pattern_fill(vblk_gpa_to_hva(self->d, gpa, 4096), 4096,
				  8 * i, self->seed);
		vblk_req_reset(r[i], VIRTIO_BLK_T_OUT, 8 * i);
		vblk_req_add_seg(r[i], gpa, 4096);
		ASSERT_LE(0, vblk_req_submit(self->vq, r[i], 0));
	}
}

TEST_F(ring, get_vring_base_counts_consumed)
{
	struct vblk_req *r[10], *rd;
	unsigned int base = ~0U;

	post_writes(_metadata, self, r, 10);
	ASSERT_EQ(0, vblk_vq_kick(self->vq));
	ASSERT_EQ(0, vblk_vq_drain(self->vq, IO_TIMEOUT_MS));
	for (int i = 0; i < 10; i++) {
		EXPECT_EQ(VIRTIO_BLK_S_OK, r[i]->status);
	}

	ASSERT_EQ(0, vblk_vq_stop(self->vq, &base));
	EXPECT_EQ(10, base);
	EXPECT_EQ(10, vblk_vq_used_idx(self->vq));

	/* Restart where it stopped; the data is there. */
	ASSERT_EQ(0, vblk_vq_restart(self->vq, base));
	rd = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, rd);
	for (int i = 0; i < 10; i++) {
		EXPECT_EQ(0, check_pattern(self->vq, rd, self->buf + 60 * 4096,
					   8 * i, 4096, self->seed));
	}
}

TEST_F(ring, get_vring_base_stops_queue)
{
	struct vblk_req *r[4], *rd;
	unsigned int base = ~0U;

	ASSERT_EQ(0, vblk_vq_stop(self->vq, &base));
	EXPECT_EQ(0, base);

	/* Stopped: a kick is not served. */
	post_writes(_metadata, self, r, 4);
	ASSERT_EQ(0, vblk_vq_kick_force(self->vq));
	EXPECT_EQ(0, vblk_vq_wait(self->vq, QUIET_MS));
	EXPECT_EQ(0, vblk_vq_used_idx(self->vq));
	EXPECT_FALSE(r[0]->done);

	/* GET_VRING_BASE again still reports nothing consumed. */
	ASSERT_EQ(0, vblk_vq_stop(self->vq, &base));
	EXPECT_EQ(0, base);

	/* SET_VRING_KICK restarts it and the pending requests are served. */
	ASSERT_EQ(0, vhost_blk_set_vring_kick(self->d->fd, 0,
					      self->vq->kick_fd));
	ASSERT_EQ(0, vblk_vq_kick_force(self->vq));
	ASSERT_EQ(0, vblk_vq_drain(self->vq, IO_TIMEOUT_MS));
	for (int i = 0; i < 4; i++) {
		EXPECT_EQ(VIRTIO_BLK_S_OK, r[i]->status);
		EXPECT_EQ(1, r[i]->used_len);
	}
	rd = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, rd);
	for (int i = 0; i < 4; i++) {
		EXPECT_EQ(0, check_pattern(self->vq, rd, self->buf + 60 * 4096,
					   8 * i, 4096, self->seed));
	}
}

TEST_F(ring, set_vring_base_nonzero)
{
	struct vblk_req *r[5];
	unsigned int base = 0;

	/* Start the ring at index 1000 (avail and used idx both there). */
	ASSERT_EQ(0, vblk_vq_stop(self->vq, &base));
	ASSERT_EQ(0, vblk_vq_start(self->d, 0, 1000));
	post_writes(_metadata, self, r, 5);
	ASSERT_EQ(0, vblk_vq_kick(self->vq));
	ASSERT_EQ(0, vblk_vq_drain(self->vq, IO_TIMEOUT_MS));
	EXPECT_EQ(1005, vblk_vq_used_idx(self->vq));
	ASSERT_EQ(0, vblk_vq_stop(self->vq, &base));
	EXPECT_EQ(1005, base);
}

TEST_F(ring, busy_while_served)
{
	unsigned int base;

	/*
	 * Features (but dirty logging), ring size and base are fixed while
	 * the queue runs.
	 */
	EXPECT_EQ(-EBUSY, vhost_blk_set_features(self->d->fd,
						 self->d->features ^
						 F(VIRTIO_F_ANY_LAYOUT)));
	EXPECT_EQ(0, vhost_blk_set_features(self->d->fd, self->d->features));
	EXPECT_EQ(-EBUSY, vhost_blk_set_vring_num(self->d->fd, 0, 64));
	EXPECT_EQ(-EBUSY, vhost_blk_set_vring_base(self->d->fd, 0, 0));
	/* ... and worker assignment. */
	{
		unsigned int id;

		ASSERT_EQ(0, vhost_blk_new_worker(self->d->fd, &id));
		EXPECT_EQ(-EBUSY, vhost_blk_attach_vring_worker(self->d->fd, 0,
								 id));
	}
	/* Stopped, they are allowed again. */
	ASSERT_EQ(0, vblk_vq_stop(self->vq, &base));
	EXPECT_EQ(0, vhost_blk_set_features(self->d->fd, self->d->features));
	EXPECT_EQ(0, vhost_blk_set_vring_num(self->d->fd, 0, 64));
	EXPECT_EQ(0, vhost_blk_set_vring_base(self->d->fd, 0, base));
	ASSERT_EQ(0, vblk_vq_restart(self->vq, base));
	{
		struct vblk_req *r = vblk_req_alloc(self->d);

		ASSERT_NE(NULL, r);
		EXPECT_EQ(VIRTIO_BLK_S_OK,
			  write_pattern(self->vq, r, self->buf, 8, 4096,
					self->seed));
		EXPECT_EQ(0, check_pattern(self->vq, r, self->buf, 8, 4096,
					   self->seed));
	}
}

/*
 * Write @n 4 KiB blocks at sectors 8 * i one at a time through @vq, each
 * kicked (if the driver finds a kick needed) and waited for; the number of
 * kicks found not needed.
 */
static unsigned int writes_one_by_one(struct __test_metadata *_metadata,
				      struct vblk_vq *vq, struct vblk_req *r,
				      uint64_t buf, uint64_t seed, int n)
{
	unsigned int before = vq->kicks_suppressed;

	for (int i = 0; i < n; i++) {
		EXPECT_EQ(VIRTIO_BLK_S_OK,
			  write_pattern(vq, r, buf, 8 * i, 4096, seed));
	}
	return vq->kicks_suppressed - before;
}

/*
 * Serve queue 0 of @d with a new worker created from CPU 1 (a worker keeps
 * the affinity of the thread that creates it) and keep this thread on CPU
 * 0, so the worker never has to give its CPU to the thread it serves.
 * The queue is stopped and restarted; the old affinity goes to @saved.
 */
static int split_cpus(struct vblk_dev *d, cpu_set_t *saved)
{
	unsigned int base, id;
	int ret, ret0;

	if (sched_getaffinity(0, sizeof(*saved), saved))
		return -errno;
	ret = vblk_vq_stop(&d->vqs[0], &base);
	if (!ret)
		ret = run_on_cpu(1);
	if (!ret)
		ret = vhost_blk_new_worker(d->fd, &id);
	if (!ret)
		ret = vhost_blk_attach_vring_worker(d->fd, 0, id);
	ret0 = run_on_cpu(0);
	if (!ret)
		ret = ret0;
	return ret ? ret : vblk_vq_restart(&d->vqs[0], base);
}

/*
 * A worker with a busy-poll window keeps watching the ring after it ran
 * dry, with notifications off, so the next request needs no kick. Without
 * one every request after an idle ring needs a kick (the worker turns
 * notifications back on before the request completes). Either way the
 * data is right, and stopping the queue while it polls is prompt.
 */
static void busyloop_check(struct __test_metadata *_metadata,
			   struct vblk_dev *d, uint64_t buf, uint64_t seed)
{
	struct vblk_vq *vq = &d->vqs[0];
	struct vblk_req *r = vblk_req_alloc(d);
	unsigned int base = 0, fast = 0, rounds = 0;
	uint64_t t0;

	ASSERT_NE(NULL, r);
	EXPECT_EQ(0, writes_one_by_one(_metadata, vq, r, buf, seed, 32));

	ASSERT_EQ(0, vhost_blk_set_vring_busyloop_timeout(d->fd, 0,
				VHOST_BLK_BUSYLOOP_MAX_US));
	/*
	 * Under emulation a request can still outlast the window, and on a
	 * loaded host the worker gives its CPU away mid-window: up to three
	 * rounds of 64, one of which must save most kicks (none are saved
	 * without a window, above).
	 */
	while (fast <= 32 && rounds < 3) {
		fast = writes_one_by_one(_metadata, vq, r, buf, seed, 64);
		TH_LOG("round %u: %u of 64 kicks saved", ++rounds, fast);
	}
	EXPECT_LT(32, fast);
	for (int i = 0; i < 64; i++) {
		EXPECT_EQ(0, check_pattern(vq, r, buf + 4096, 8 * i, 4096,
					   seed));
	}

	/* An ioctl waiting for the queue ends the window at once. */
	t0 = vblk_now_ns();
	ASSERT_EQ(0, vblk_vq_stop(vq, &base));
	EXPECT_GT(1000ULL, (vblk_now_ns() - t0) / 1000000);
	EXPECT_EQ(32 + 64 * rounds + 64, base);
}

TEST_F(ring, busyloop_serves_without_kicks)
{
	cpu_set_t saved;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs 2 CPUs: a polling worker and the driver");
	ASSERT_EQ(0, split_cpus(self->d, &saved));
	busyloop_check(_metadata, self->d, self->buf, self->seed);
	sched_setaffinity(0, sizeof(saved), &saved);
}

/* The same with VRING_USED_F_NO_NOTIFY instead of EVENT_IDX. */
TEST_F(ring, busyloop_serves_without_kicks_no_event_idx)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	struct vblk_dev *d;
	cpu_set_t saved;
	uint64_t buf;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs 2 CPUs: a polling worker and the driver");
	o.queue_size = 64;
	o.features_clear = 1ULL << VIRTIO_RING_F_EVENT_IDX;
	ASSERT_EQ(0, vblk_dev_create(&d, &o, self->bfd, 0, "nevidx"));
	EXPECT_FALSE(vblk_dev_has_feature(d, VIRTIO_RING_F_EVENT_IDX));
	ASSERT_EQ(0, vblk_alloc(d, 64 * 4096, 4096, &buf));
	ASSERT_EQ(0, split_cpus(d, &saved));
	busyloop_check(_metadata, d, buf, self->seed);
	sched_setaffinity(0, sizeof(saved), &saved);
	vblk_dev_destroy(d);
}

TEST_F(ring, mem_table_replaced_while_served)
{
	struct vhost_memory_region r[VBLK_MAX_REGIONS + 1];
	struct vblk_req *rq = vblk_req_alloc(self->d);
	unsigned int n = vblk_dev_mem_regions(self->d, r);
	uint8_t *extra;

	ASSERT_NE(NULL, rq);
	extra = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, extra);

	/* A table that no longer holds the rings is refused... */
	r[0].memory_size = 1 << 20;
	r[0].userspace_addr = (uintptr_t)extra;
	EXPECT_GT(0, vhost_blk_set_mem_table(self->d->fd, r, 1));
	/* ...and the old one stays in force. */
	EXPECT_EQ(VIRTIO_BLK_S_OK, write_pattern(self->vq, rq, self->buf, 16,
						 4096, self->seed));

	/* The same table plus a region is accepted while served. */
	n = vblk_dev_mem_regions(self->d, r);
	r[n] = (struct vhost_memory_region){
		.guest_phys_addr = 0x1000000000000ULL,
		.memory_size = 1 << 20,
		.userspace_addr = (uintptr_t)extra,
	};
	EXPECT_EQ(0, vhost_blk_set_mem_table(self->d->fd, r, n + 1));
	EXPECT_EQ(0, check_pattern(self->vq, rq, self->buf, 16, 4096,
				   self->seed));
	munmap(extra, 1 << 20);
}

TEST_F(ring, kick_fd_unbind_stops_queue)
{
	struct vblk_req *r[2];

	ASSERT_EQ(0, vhost_blk_set_vring_kick(self->d->fd, 0, -1));
	post_writes(_metadata, self, r, 2);
	ASSERT_EQ(0, vblk_vq_kick_force(self->vq));
	EXPECT_EQ(0, vblk_vq_wait(self->vq, QUIET_MS));
	EXPECT_EQ(0, vblk_vq_used_idx(self->vq));
	/* A new kick fd starts it again and the requests are served. */
	ASSERT_EQ(0, vhost_blk_set_vring_kick(self->d->fd, 0,
					      self->vq->kick_fd));
	ASSERT_EQ(0, vblk_vq_drain(self->vq, IO_TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_OK, r[0]->status);
	EXPECT_EQ(VIRTIO_BLK_S_OK, r[1]->status);
}

TEST_F(ring, call_fd_unbind_and_rebind)
{
	struct vblk_req *r[2];

	/* Without a call eventfd requests still complete, silently. */
	ASSERT_EQ(0, vhost_blk_set_vring_call(self->d->fd, 0, -1));
	post_writes(_metadata, self, r, 1);
	ASSERT_EQ(0, vblk_vq_kick(self->vq));
	for (int i = 0; i < 1000 && vblk_vq_used_idx(self->vq) != 1; i++)
		usleep(10000);
	EXPECT_EQ(1, vblk_vq_used_idx(self->vq));
	EXPECT_EQ(0, vblk_vq_wait(self->vq, 0));
	vblk_vq_reap(self->vq, NULL, UINT_MAX);
	EXPECT_EQ(VIRTIO_BLK_S_OK, r[0]->status);
	/* Changed while served: the new one is signalled. */
	ASSERT_EQ(0, vhost_blk_set_vring_call(self->d->fd, 0,
					      self->vq->call_fd));
	vblk_req_reset(r[0], VIRTIO_BLK_T_IN, 0);
	vblk_req_add_seg(r[0], self->buf, 4096);
	ASSERT_LE(0, vblk_req_submit(self->vq, r[0], 0));
	ASSERT_EQ(0, vblk_vq_kick(self->vq));
	EXPECT_EQ(1, vblk_vq_wait(self->vq, IO_TIMEOUT_MS));
	EXPECT_EQ(0, vblk_req_wait(self->vq, r[0], IO_TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_OK, r[0]->status);
}

/* ---- workers: several queues on one ---- */

FIXTURE(wk) {
	int bfd;
	struct vblk_dev *d;
	uint64_t seed;
};

FIXTURE_SETUP(wk)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;

	self->bfd = open(test_dev(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->bfd);
	o.queue_size = 64;
	ASSERT_EQ(0, vblk_dev_open(&self->d, &o));
	ASSERT_EQ(0, vblk_dev_setup(self->d, 0));
	ASSERT_EQ(0, vblk_dev_attach(self->d, self->bfd, 0, NULL));
	self->seed = fresh_seed();
}

FIXTURE_TEARDOWN(wk)
{
	vblk_dev_destroy(self->d);
	close(self->bfd);
}

TEST_F(wk, default_worker_per_queue)
{
	unsigned int a = ~0U, a2 = ~0U, b = ~0U;

	ASSERT_EQ(0, vhost_blk_get_vring_worker(self->d->fd, 0, &a));
	ASSERT_EQ(0, vhost_blk_get_vring_worker(self->d->fd, 0, &a2));
	ASSERT_EQ(0, vhost_blk_get_vring_worker(self->d->fd, 1, &b));
	EXPECT_EQ(a, a2);
	EXPECT_NE(a, b);
	EXPECT_EQ(-ENOBUFS, vhost_blk_get_vring_worker(self->d->fd,
						       VHOST_BLK_MAX_QUEUES,
						       &a));
}

TEST_F(wk, queues_share_a_worker)
{
	unsigned int w = ~0U, got = ~0U;
	struct vblk_req *r[4];
	uint64_t gpa;

	ASSERT_EQ(0, vhost_blk_new_worker(self->d->fd, &w));
	for (unsigned int q = 0; q < 4; q++) {
		ASSERT_EQ(0, vhost_blk_attach_vring_worker(self->d->fd, q, w));
		ASSERT_EQ(0, vhost_blk_get_vring_worker(self->d->fd, q, &got));
		EXPECT_EQ(w, got);
		ASSERT_EQ(0, vblk_vq_start(self->d, q, 0));
	}
	/* In use: cannot be freed; unknown ids cannot be attached. */
	EXPECT_EQ(-EBUSY, vhost_blk_free_worker(self->d->fd, w));
	EXPECT_EQ(-EBUSY, vhost_blk_attach_vring_worker(self->d->fd, 0, w));
	EXPECT_EQ(-ENODEV, vhost_blk_attach_vring_worker(self->d->fd, 5,
							 12345));

	ASSERT_EQ(0, vblk_alloc(self->d, 4 * 65536, 4096, &gpa));
	for (unsigned int q = 0; q < 4; q++) {
		r[q] = vblk_req_alloc(self->d);
		ASSERT_NE(NULL, r[q]);
		EXPECT_EQ(VIRTIO_BLK_S_OK,
			  write_pattern(&self->d->vqs[q], r[q], gpa + q * 65536,
					2000 + 128 * q, 65536, self->seed));
	}
	/* Each queue reads what another wrote. */
	for (unsigned int q = 0; q < 4; q++) {
		EXPECT_EQ(0, check_pattern(&self->d->vqs[q], r[q],
					   gpa + q * 65536,
					   2000 + 128 * ((q + 1) % 4), 65536,
					   self->seed));
	}

	/* Stop queue 3, move it to its own worker; the shared one stays busy. */
	{
		unsigned int base, w2;

		ASSERT_EQ(0, vblk_vq_stop(&self->d->vqs[3], &base));
		ASSERT_EQ(0, vhost_blk_new_worker(self->d->fd, &w2));
		ASSERT_EQ(0, vhost_blk_attach_vring_worker(self->d->fd, 3, w2));
		ASSERT_EQ(0, vblk_vq_restart(&self->d->vqs[3], base));
		EXPECT_EQ(0, check_pattern(&self->d->vqs[3], r[3], gpa,
					   2000, 65536, self->seed));
		EXPECT_EQ(-EBUSY, vhost_blk_free_worker(self->d->fd, w));
	}
}

VHOST_BLK_TEST_MAIN
