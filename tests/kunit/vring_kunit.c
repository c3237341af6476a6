// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the vhost-blk split virtqueue access
 * (drivers/vhost-blk/vring.c): descriptor chain walking, the avail and
 * used rings and the check that rings lie in guest memory.
 *
 * vring.c reads the rings from the current task's user memory, so every
 * test maps anonymous user pages (kunit_vm_mmap()) and lays the rings out
 * there, as a VMM would in guest memory:
 *
 *   user offset        contents                  guest-physical address
 *   0x00000-0x07fff    descriptor table (num <= 2048)
 *   0x08000-0x09fff    avail ring                0x100000 + offset,
 *   0x0a000-0x0efff    used ring                 region "ring"
 *   0x10000-0x1ffff    indirect tables
 *   0x20000-0x2ffff    data
 *   0x30000-0x30fff    region "zero"             0x0-0xfff
 *   0x31000-0x31fff    region "top"              0xfffffffffffff000-max
 *   0x38000-0x3ffff    region "split"            0x130000-0x137fff
 *
 * The "split" region follows "ring" in guest-physical space but not in
 * user space, so a buffer across 0x130000 maps to two iovecs. "zero" and
 * "top" make a buffer that wraps around the guest-physical space
 * translatable but for the wrap check.
 *
 * Built and run by tests/kunit/run.sh.
 */
#include <kunit/resource.h>
#include <kunit/test.h>
#include <linux/limits.h>
#include <linux/mman.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "vhost_blk.h"

/*
 * The rings under test have no worker: worker.c (vhost_task, kthreads) is
 * not built here, and nothing these tests call queues work.
 */
void vhost_blk_vq_queue_work(struct vhost_blk_vq *vq,
			     struct vhost_blk_work *work)
{
}

#define UMEM_SIZE	0x40000UL
#define DESC_OFF	0x00000UL
#define AVAIL_OFF	0x08000UL
#define USED_OFF	0x0a000UL
#define IND_OFF		0x10000UL
#define DATA_OFF	0x20000UL
#define RING_GPA	0x100000ULL	/* GPA of user offset 0 */
#define RING_SIZE	0x30000ULL
#define SPLIT_GPA	(RING_GPA + RING_SIZE)
#define SPLIT_OFF	0x38000UL
#define SPLIT_SIZE	0x8000ULL
#define ZERO_OFF	0x30000UL
#define TOP_GPA		0xfffffffffffff000ULL
#define TOP_OFF		0x31000UL

#define GPA(off)	(RING_GPA + (off))
#define DATA_GPA(off)	GPA(DATA_OFF + (off))
#define IND_GPA		GPA(IND_OFF)
#define DESC_SIZE	sizeof(struct vring_desc)

/* Default ring size of the fixture; tests may lower or raise it. */
#define TEST_NUM	8
/* Largest ring the layout has room for. */
#define TEST_NUM_MAX	2048

struct vring_fixture {
	struct vhost_blk_dev *dev;
	struct vhost_blk_vq *vq;
	struct vhost_blk_chain *chain;
	unsigned long base;		/* user address of the mapping */
};

/* A descriptor as a test writes it, in CPU byte order. */
struct desc_spec {
	u64 addr;
	u32 len;
	u16 flags;
	u16 next;
};

#define F_NEXT		VRING_DESC_F_NEXT
#define F_WRITE		VRING_DESC_F_WRITE
#define F_INDIRECT	VRING_DESC_F_INDIRECT

KUNIT_DEFINE_ACTION_WRAPPER(vring_kvfree, kvfree, const void *);

static __virtio16 v16(u16 v)
{
	return (__force __virtio16)cpu_to_le16(v);
}

static u16 h16(__virtio16 v)
{
	return le16_to_cpu((__force __le16)v);
}

static u32 h32(__virtio32 v)
{
	return le32_to_cpu((__force __le32)v);
}

static void __user *uptr(struct vring_fixture *f, unsigned long off)
{
	return (void __user *)(f->base + off);
}

static int vring_test_init(struct kunit *test)
{
	struct vhost_memory_region regions[] = {
		{ .guest_phys_addr = RING_GPA, .memory_size = RING_SIZE },
		{ .guest_phys_addr = SPLIT_GPA, .memory_size = SPLIT_SIZE },
		{ .guest_phys_addr = 0, .memory_size = 0x1000 },
		{ .guest_phys_addr = TOP_GPA, .memory_size = 0x1000 },
	};
	struct vhost_blk_mem *mem = NULL;
	struct vring_fixture *f;
	struct vhost_blk_vq *vq;

	if (!IS_ENABLED(CONFIG_MMU))
		kunit_skip(test, "needs user memory (CONFIG_MMU)");

	f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, f);
	f->base = kunit_vm_mmap(test, NULL, 0, UMEM_SIZE,
				PROT_READ | PROT_WRITE,
				MAP_ANONYMOUS | MAP_PRIVATE, 0);
	KUNIT_ASSERT_NE_MSG(test, f->base, 0, "cannot create a user mm");
	KUNIT_ASSERT_LT_MSG(test, f->base, (unsigned long)TASK_SIZE,
			    "cannot map user memory");

	regions[0].userspace_addr = f->base;
	regions[1].userspace_addr = f->base + SPLIT_OFF;
	regions[2].userspace_addr = f->base + ZERO_OFF;
	regions[3].userspace_addr = f->base + TOP_OFF;
	KUNIT_ASSERT_EQ(test, vhost_blk_mem_create(regions,
						   ARRAY_SIZE(regions), &mem),
			0);
	KUNIT_ASSERT_EQ(test, 0,
			kunit_add_action_or_reset(test, vring_kvfree, mem));

	f->dev = kunit_kzalloc(test, sizeof(*f->dev), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, f->dev);
	f->dev->acked_features = BIT_ULL(VIRTIO_F_VERSION_1) |
				 BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC);
	RCU_INIT_POINTER(f->dev->mem, mem);

	f->chain = kvmalloc(sizeof(*f->chain), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, f->chain);
	KUNIT_ASSERT_EQ(test, 0,
			kunit_add_action_or_reset(test, vring_kvfree,
						  f->chain));

	vq = &f->dev->vqs[0];
	vq->dev = f->dev;
	mutex_init(&vq->mutex);
	vq->num = TEST_NUM;
	vq->desc = uptr(f, DESC_OFF);
	vq->avail = uptr(f, AVAIL_OFF);
	vq->used = uptr(f, USED_OFF);
	vq->chain = f->chain;
	f->vq = vq;

	test->priv = f;
	return 0;
}

/* Write @n descriptors at user offset @off. */
static void put_descs(struct kunit *test, unsigned long off,
		      const struct desc_spec *spec, unsigned int n)
{
	struct vring_fixture *f = test->priv;
	struct vring_desc *d;
	unsigned int i;

	if (!n)
		return;
	d = kunit_kcalloc(test, n, sizeof(*d), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, d);
	for (i = 0; i < n; i++) {
		d[i].addr = (__force __virtio64)cpu_to_le64(spec[i].addr);
		d[i].len = (__force __virtio32)cpu_to_le32(spec[i].len);
		d[i].flags = v16(spec[i].flags);
		d[i].next = v16(spec[i].next);
	}
	KUNIT_ASSERT_EQ(test, copy_to_user(uptr(f, off), d, n * sizeof(*d)),
			0);
	kunit_kfree(test, d);
}

static void put_desc(struct kunit *test, unsigned long off, unsigned int i,
		     u64 addr, u32 len, u16 flags, u16 next)
{
	const struct desc_spec d = { addr, len, flags, next };

	put_descs(test, off + i * DESC_SIZE, &d, 1);
}

/*
 * @n one-byte readable descriptors at @off, chained 0 -> 1 -> ... -> n-1,
 * each buffer at its own data byte.
 */
static void put_linear_chain(struct kunit *test, unsigned long off,
			     unsigned int n)
{
	struct desc_spec *d;
	unsigned int i;

	d = kunit_kcalloc(test, n, sizeof(*d), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, d);
	for (i = 0; i < n; i++) {
		d[i].addr = DATA_GPA(i);
		d[i].len = 1;
		if (i + 1 < n) {
			d[i].flags = F_NEXT;
			d[i].next = i + 1;
		}
	}
	put_descs(test, off, d, n);
	kunit_kfree(test, d);
}

/* Under the queue mutex, as the worker walks chains. */
static int get_chain(struct kunit *test, u16 head)
{
	struct vring_fixture *f = test->priv;
	int ret;

	mutex_lock(&f->vq->mutex);
	ret = vhost_blk_vq_get_chain(f->vq, head, f->chain);
	mutex_unlock(&f->vq->mutex);
	return ret;
}

static void expect_iov(struct kunit *test, unsigned int i, unsigned long off,
		       u64 len)
{
	struct vring_fixture *f = test->priv;
	const struct iovec *iov = &f->chain->iov[i];

	KUNIT_EXPECT_EQ_MSG(test, (unsigned long)iov->iov_base, f->base + off,
			    "iov[%u] base (offset 0x%lx)", i, off);
	KUNIT_EXPECT_EQ_MSG(test, (u64)iov->iov_len, len, "iov[%u] len", i);
}

static void expect_chain(struct kunit *test, unsigned int nr_out,
			 u64 out_len, unsigned int nr_in, u64 in_len)
{
	struct vring_fixture *f = test->priv;

	KUNIT_EXPECT_EQ(test, f->chain->nr_out, nr_out);
	KUNIT_EXPECT_EQ(test, f->chain->out_len, out_len);
	KUNIT_EXPECT_EQ(test, f->chain->nr_in, nr_in);
	KUNIT_EXPECT_EQ(test, f->chain->in_len, in_len);
}

/* ---- vhost_blk_vq_get_chain(): chains the device takes ---- */

/* Header, data, status; linked out of index order. */
static void vhost_blk_vq_get_chain_direct(struct kunit *test)
{
	put_desc(test, DESC_OFF, 3, DATA_GPA(0x0), 16, F_NEXT, 5);
	put_desc(test, DESC_OFF, 5, DATA_GPA(0x1000), 512, F_NEXT, 1);
	put_desc(test, DESC_OFF, 1, DATA_GPA(0x3000), 4096,
		 F_WRITE | F_NEXT, 0);
	put_desc(test, DESC_OFF, 0, DATA_GPA(0x5000), 1, F_WRITE, 0);

	KUNIT_ASSERT_EQ(test, get_chain(test, 3), 0);
	expect_chain(test, 2, 16 + 512, 2, 4096 + 1);
	expect_iov(test, 0, DATA_OFF + 0x0, 16);
	expect_iov(test, 1, DATA_OFF + 0x1000, 512);
	expect_iov(test, 2, DATA_OFF + 0x3000, 4096);
	expect_iov(test, 3, DATA_OFF + 0x5000, 1);
}

/* A chain is walked afresh: nothing is left from an earlier one. */
static void vhost_blk_vq_get_chain_resets_chain(struct kunit *test)
{
	put_desc(test, DESC_OFF, 0, DATA_GPA(0), 16, F_NEXT, 1);
	put_desc(test, DESC_OFF, 1, DATA_GPA(0x100), 1, F_WRITE, 0);
	put_desc(test, DESC_OFF, 2, DATA_GPA(0x200), 8, 0, 0);

	KUNIT_ASSERT_EQ(test, get_chain(test, 0), 0);
	expect_chain(test, 1, 16, 1, 1);
	KUNIT_ASSERT_EQ(test, get_chain(test, 2), 0);
	expect_chain(test, 1, 8, 0, 0);
	expect_iov(test, 0, DATA_OFF + 0x200, 8);
}

static void vhost_blk_vq_get_chain_two_regions(struct kunit *test)
{
	/* Readable across ring -> split, writable inside split. */
	put_desc(test, DESC_OFF, 0, SPLIT_GPA - 0x100, 0x300, F_NEXT, 1);
	put_desc(test, DESC_OFF, 1, SPLIT_GPA + 0x1000, 0x10, F_WRITE, 0);

	KUNIT_ASSERT_EQ(test, get_chain(test, 0), 0);
	expect_chain(test, 2, 0x300, 1, 0x10);
	expect_iov(test, 0, RING_SIZE - 0x100, 0x100);
	expect_iov(test, 1, SPLIT_OFF, 0x200);
	expect_iov(test, 2, SPLIT_OFF + 0x1000, 0x10);
}

static void vhost_blk_vq_get_chain_whole_regions(struct kunit *test)
{
	/* All of "ring" and "split" in one descriptor. */
	put_desc(test, DESC_OFF, 0, RING_GPA, RING_SIZE + SPLIT_SIZE,
		 F_WRITE, 0);

	KUNIT_ASSERT_EQ(test, get_chain(test, 0), 0);
	expect_chain(test, 0, 0, 2, RING_SIZE + SPLIT_SIZE);
	expect_iov(test, 0, 0, RING_SIZE);
	expect_iov(test, 1, SPLIT_OFF, SPLIT_SIZE);
}

static void vhost_blk_vq_get_chain_top_of_gpa_space(struct kunit *test)
{
	put_desc(test, DESC_OFF, 0, TOP_GPA, 0x1000, F_NEXT, 1);
	put_desc(test, DESC_OFF, 1, U64_MAX, 1, F_WRITE, 0);

	KUNIT_ASSERT_EQ(test, get_chain(test, 0), 0);
	expect_chain(test, 1, 0x1000, 1, 1);
	expect_iov(test, 0, TOP_OFF, 0x1000);
	expect_iov(test, 1, TOP_OFF + 0xfff, 1);
}

static void vhost_blk_vq_get_chain_zero_length_skipped(struct kunit *test)
{
	put_desc(test, DESC_OFF, 0, DATA_GPA(0), 0, F_NEXT, 1);
	put_desc(test, DESC_OFF, 1, DATA_GPA(0x10), 16, F_NEXT, 2);
	put_desc(test, DESC_OFF, 2, DATA_GPA(0x20), 0, F_NEXT, 3);
	put_desc(test, DESC_OFF, 3, DATA_GPA(0x30), 0, F_WRITE | F_NEXT, 4);
	put_desc(test, DESC_OFF, 4, DATA_GPA(0x40), 1, F_WRITE | F_NEXT, 5);
	put_desc(test, DESC_OFF, 5, DATA_GPA(0x50), 0, F_WRITE, 0);

	KUNIT_ASSERT_EQ(test, get_chain(test, 0), 0);
	expect_chain(test, 1, 16, 1, 1);
	expect_iov(test, 0, DATA_OFF + 0x10, 16);
	expect_iov(test, 1, DATA_OFF + 0x40, 1);
}

/* Exactly num descriptors is the longest chain without a loop. */
static void vhost_blk_vq_get_chain_num_long(struct kunit *test)
{
	struct vring_fixture *f = test->priv;

	put_linear_chain(test, DESC_OFF, TEST_NUM);
	KUNIT_ASSERT_EQ(test, get_chain(test, 0), 0);
	expect_chain(test, TEST_NUM, TEST_NUM, 0, 0);
	expect_iov(test, TEST_NUM - 1, DATA_OFF + TEST_NUM - 1, 1);

	/* The num+1st descriptor can only be a repeat. */
	put_desc(test, DESC_OFF, TEST_NUM - 1, DATA_GPA(TEST_NUM - 1), 1,
		 F_NEXT, 0);
	KUNIT_EXPECT_EQ(test, get_chain(test, 0), -ELOOP);

	/* Same with a ring of one. */
	f->vq->num = 1;
	put_desc(test, DESC_OFF, 0, DATA_GPA(0), 1, 0, 0);
	KUNIT_EXPECT_EQ(test, get_chain(test, 0), 0);
	put_desc(test, DESC_OFF, 0, DATA_GPA(0), 1, F_NEXT, 0);
	KUNIT_EXPECT_EQ(test, get_chain(test, 0), -ELOOP);
}

static void vhost_blk_vq_get_chain_indirect(struct kunit *test)
{
	/* Table entries linked out of order: 0 -> 2 -> 1. */
	put_desc(test, IND_OFF, 0, DATA_GPA(0x0), 16, F_NEXT, 2);
	put_desc(test, IND_OFF, 2, DATA_GPA(0x1000), 4096, F_WRITE | F_NEXT, 1);
	put_desc(test, IND_OFF, 1, DATA_GPA(0x3000), 1, F_WRITE, 0);
	put_desc(test, DESC_OFF, 4, IND_GPA, 3 * DESC_SIZE, F_INDIRECT, 0);

	KUNIT_ASSERT_EQ(test, get_chain(test, 4), 0);
	expect_chain(test, 1, 16, 2, 4096 + 1);
	expect_iov(test, 0, DATA_OFF + 0x0, 16);
	expect_iov(test, 1, DATA_OFF + 0x1000, 4096);
	expect_iov(test, 2, DATA_OFF + 0x3000, 1);
}

/* Indirect table entries map through the memory table too. */
static void vhost_blk_vq_get_chain_indirect_two_regions(struct kunit *test)
{
	put_desc(test, IND_OFF, 0, SPLIT_GPA - 0x10, 0x20, F_WRITE, 0);
	put_desc(test, DESC_OFF, 0, IND_GPA, DESC_SIZE, F_INDIRECT, 0);

	KUNIT_ASSERT_EQ(test, get_chain(test, 0), 0);
	expect_chain(test, 0, 0, 2, 0x20);
	expect_iov(test, 0, RING_SIZE - 0x10, 0x10);
	expect_iov(test, 1, SPLIT_OFF, 0x10);
}

/* An indirect table of n entries holds a chain of n, not n + 1. */
static void vhost_blk_vq_get_chain_indirect_num_long(struct kunit *test)
{
	const unsigned int n = 16;

	put_linear_chain(test, IND_OFF, n);
	put_desc(test, DESC_OFF, 0, IND_GPA, n * DESC_SIZE, F_INDIRECT, 0);
	KUNIT_ASSERT_EQ(test, get_chain(test, 0), 0);
	expect_chain(test, n, n, 0, 0);

	put_desc(test, IND_OFF, n - 1, DATA_GPA(n - 1), 1, F_NEXT, 3);
	KUNIT_EXPECT_EQ(test, get_chain(test, 0), -ELOOP);
}

/*
 * VHOST_BLK_IOV_MAX buffers fit, one more does not: as descriptors and
 * as region splits of one descriptor.
 */
static void vhost_blk_vq_get_chain_iov_max(struct kunit *test)
{
	struct vring_fixture *f = test->priv;
	const unsigned int max = VHOST_BLK_IOV_MAX;

	KUNIT_ASSERT_LE(test, max + 1, TEST_NUM_MAX);
	f->vq->num = TEST_NUM_MAX;

	put_linear_chain(test, DESC_OFF, max);
	KUNIT_ASSERT_EQ(test, get_chain(test, 0), 0);
	expect_chain(test, max, max, 0, 0);

	put_linear_chain(test, DESC_OFF, max + 1);
	KUNIT_EXPECT_EQ(test, get_chain(test, 0), -E2BIG);

	/* max - 1 descriptors, then one across two regions. */
	put_linear_chain(test, DESC_OFF, max - 1);
	put_desc(test, DESC_OFF, max - 2, DATA_GPA(max - 2), 1, F_NEXT,
		 max - 1);
	put_desc(test, DESC_OFF, max - 1, SPLIT_GPA - 1, 2, 0, 0);
	KUNIT_EXPECT_EQ(test, get_chain(test, 0), -E2BIG);

	/* max - 2 descriptors, then the same one: exactly max buffers. */
	put_desc(test, DESC_OFF, max - 3, DATA_GPA(max - 3), 1, F_NEXT,
		 max - 1);
	KUNIT_ASSERT_EQ(test, get_chain(test, 0), 0);
	expect_chain(test, max, max, 0, 0);
	expect_iov(test, max - 2, RING_SIZE - 1, 1);
	expect_iov(test, max - 1, SPLIT_OFF, 1);
}

static void vhost_blk_vq_get_chain_indirect_iov_max(struct kunit *test)
{
	const unsigned int max = VHOST_BLK_IOV_MAX;

	KUNIT_ASSERT_LE(test, (max + 1) * DESC_SIZE, DATA_OFF - IND_OFF);
	put_desc(test, DESC_OFF, 0, IND_GPA, max * DESC_SIZE, F_INDIRECT, 0);
	put_linear_chain(test, IND_OFF, max);
	KUNIT_ASSERT_EQ(test, get_chain(test, 0), 0);
	expect_chain(test, max, max, 0, 0);

	put_desc(test, DESC_OFF, 0, IND_GPA, (max + 1) * DESC_SIZE,
		 F_INDIRECT, 0);
	put_linear_chain(test, IND_OFF, max + 1);
	KUNIT_EXPECT_EQ(test, get_chain(test, 0), -E2BIG);

	/* A direct buffer before the table counts as well. */
	put_desc(test, DESC_OFF, 0, DATA_GPA(0), 1, F_NEXT, 1);
	put_desc(test, DESC_OFF, 1, IND_GPA, max * DESC_SIZE, F_INDIRECT, 0);
	put_linear_chain(test, IND_OFF, max);
	KUNIT_EXPECT_EQ(test, get_chain(test, 0), -E2BIG);
}

/* ---- vhost_blk_vq_get_chain(): chains the device refuses ---- */

#define MAX_SPEC 8

struct chain_err_case {
	const char *desc;
	bool no_indirect;		/* INDIRECT_DESC not acked */
	struct desc_spec d[MAX_SPEC];	/* descriptor table; head is 0 */
	unsigned int ndesc;
	struct desc_spec ind[MAX_SPEC];	/* indirect table at IND_GPA */
	unsigned int nind;
	int err;
};

#define DESC(a, l, f, n) \
	{ .addr = (a), .len = (l), .flags = (f), .next = (n) }
#define IND_DESC(n)	DESC(IND_GPA, (n) * DESC_SIZE, F_INDIRECT, 0)
#define CHAIN_BUF	DATA_GPA(0)
/* One-byte buffers: readable or writable, chained on or last. */
#define R_NEXT(n)	DESC(CHAIN_BUF, 1, F_NEXT, (n))
#define R_LAST		DESC(CHAIN_BUF, 1, 0, 0)
#define W_NEXT(n)	DESC(CHAIN_BUF, 1, F_WRITE | F_NEXT, (n))

static const struct chain_err_case chain_err_cases[] = {
	{ .desc = "loop", .ndesc = 3,
	  .d = { R_NEXT(1), R_NEXT(2), R_NEXT(1) }, .err = -ELOOP },
	{ .desc = "next points to itself", .ndesc = 1,
	  .d = { R_NEXT(0) }, .err = -ELOOP },
	{ .desc = "loop of zero-length descriptors", .ndesc = 2,
	  .d = { DESC(CHAIN_BUF, 0, F_NEXT, 1), DESC(CHAIN_BUF, 0, F_NEXT, 0) },
	  .err = -ELOOP },
	{ .desc = "next is num", .ndesc = 1,
	  .d = { R_NEXT(TEST_NUM) }, .err = -EINVAL },
	{ .desc = "next is 0xffff", .ndesc = 2,
	  .d = { R_NEXT(1), R_NEXT(0xffff) }, .err = -EINVAL },
	{ .desc = "address below every region", .ndesc = 1,
	  .d = { DESC(0x1000, 1, 0, 0) }, .err = -EFAULT },
	{ .desc = "address in no region", .ndesc = 2,
	  .d = { R_NEXT(1), DESC(0x200000, 16, F_WRITE, 0) },
	  .err = -EFAULT },
	{ .desc = "buffer runs past its region into a gap", .ndesc = 1,
	  .d = { DESC(SPLIT_GPA + SPLIT_SIZE - 0x10, 0x11, F_WRITE, 0) },
	  .err = -EFAULT },
	{ .desc = "address plus length wraps", .ndesc = 1,
	  .d = { DESC(U64_MAX - 0xff, 0x200, F_WRITE, 0) }, .err = -EFAULT },
	{ .desc = "address plus length wraps by one", .ndesc = 1,
	  .d = { DESC(U64_MAX, 2, 0, 0) }, .err = -EFAULT },
	{ .desc = "readable after writable", .ndesc = 2,
	  .d = { W_NEXT(1), R_LAST }, .err = -EINVAL },
	{ .desc = "zero-length readable after writable", .ndesc = 2,
	  .d = { W_NEXT(1), DESC(CHAIN_BUF, 0, 0, 0) }, .err = -EINVAL },
	{ .desc = "indirect without the feature", .no_indirect = true,
	  .ndesc = 1, .d = { IND_DESC(1) }, .nind = 1, .ind = { R_LAST },
	  .err = -EINVAL },
	{ .desc = "indirect with next", .ndesc = 2,
	  .d = { DESC(IND_GPA, DESC_SIZE, F_INDIRECT | F_NEXT, 1),
		 DESC(CHAIN_BUF, 1, F_WRITE, 0) },
	  .nind = 1, .ind = { R_LAST }, .err = -EINVAL },
	{ .desc = "nested indirect", .ndesc = 1, .d = { IND_DESC(2) },
	  .nind = 2,
	  .ind = { R_NEXT(1), IND_DESC(1) }, .err = -EINVAL },
	{ .desc = "indirect table length 0", .ndesc = 1,
	  .d = { DESC(IND_GPA, 0, F_INDIRECT, 0) }, .err = -EINVAL },
	{ .desc = "indirect table length 15", .ndesc = 1,
	  .d = { DESC(IND_GPA, 15, F_INDIRECT, 0) }, .nind = 1,
	  .ind = { R_LAST }, .err = -EINVAL },
	{ .desc = "indirect table length 24", .ndesc = 1,
	  .d = { DESC(IND_GPA, 24, F_INDIRECT, 0) }, .nind = 2,
	  .ind = { R_LAST }, .err = -EINVAL },
	{ .desc = "indirect table longer than a ring", .ndesc = 1,
	  .d = { DESC(IND_GPA, (VHOST_BLK_VRING_MAX + 1) * DESC_SIZE,
		   F_INDIRECT, 0) },
	  .err = -E2BIG },
	{ .desc = "indirect table in no region", .ndesc = 1,
	  .d = { DESC(0x200000, DESC_SIZE, F_INDIRECT, 0) }, .err = -EFAULT },
	{ .desc = "indirect table across two regions", .ndesc = 1,
	  .d = { DESC(SPLIT_GPA - DESC_SIZE, 2 * DESC_SIZE, F_INDIRECT, 0) },
	  .err = -EFAULT },
	{ .desc = "indirect loop", .ndesc = 1, .d = { IND_DESC(3) }, .nind = 3,
	  .ind = { R_NEXT(1), R_NEXT(2), R_NEXT(0) }, .err = -ELOOP },
	{ .desc = "indirect next past the table", .ndesc = 1,
	  .d = { IND_DESC(2) },
	  .nind = 3, .ind = { R_NEXT(2), R_LAST, R_LAST }, .err = -EINVAL },
	{ .desc = "indirect buffer in no region", .ndesc = 1,
	  .d = { IND_DESC(1) },
	  .nind = 1, .ind = { DESC(0x2000, 1, 0, 0) }, .err = -EFAULT },
	{ .desc = "readable after writable in an indirect table", .ndesc = 1,
	  .d = { IND_DESC(2) }, .nind = 2,
	  .ind = { W_NEXT(1), R_LAST }, .err = -EINVAL },
	{ .desc = "indirect readable after direct writable", .ndesc = 2,
	  .d = { W_NEXT(1), IND_DESC(1) }, .nind = 1,
	  .ind = { R_LAST }, .err = -EINVAL },
};

static void chain_err_case_desc(const struct chain_err_case *c, char *desc)
{
	strscpy(desc, c->desc, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(chain_err, chain_err_cases, chain_err_case_desc);

static void vhost_blk_vq_get_chain_bad_chain(struct kunit *test)
{
	const struct chain_err_case *c = test->param_value;
	struct vring_fixture *f = test->priv;

	if (c->no_indirect)
		f->dev->acked_features &= ~BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC);
	put_descs(test, DESC_OFF, c->d, c->ndesc);
	put_descs(test, IND_OFF, c->ind, c->nind);
	KUNIT_EXPECT_EQ(test, get_chain(test, 0), c->err);
}

static void vhost_blk_vq_get_chain_unreadable_table(struct kunit *test)
{
	struct vring_fixture *f = test->priv;

	f->vq->desc = NULL;
	KUNIT_EXPECT_EQ(test, get_chain(test, 0), -EFAULT);
}

/* ---- vhost_blk_vq_next_avail() ---- */

static void put_avail(struct kunit *test, u16 idx, const u16 *heads,
		      unsigned int n, u16 first)
{
	struct vring_fixture *f = test->priv;
	struct vhost_blk_vq *vq = f->vq;
	unsigned int i;

	for (i = 0; i < n; i++)
		KUNIT_ASSERT_EQ(test, 0,
				put_user(v16(heads[i]),
					 &vq->avail->ring[(u16)(first + i) &
							  (vq->num - 1)]));
	KUNIT_ASSERT_EQ(test, put_user(v16(idx), &vq->avail->idx), 0);
}

static void vhost_blk_vq_next_avail_empty(struct kunit *test)
{
	struct vring_fixture *f = test->priv;
	u16 head = 0xdead;

	KUNIT_EXPECT_EQ(test, vhost_blk_vq_next_avail(f->vq, &head), -EAGAIN);
	KUNIT_EXPECT_EQ(test, f->vq->last_avail_idx, 0);
	KUNIT_EXPECT_EQ(test, f->vq->avail_idx, 0);
}

static void vhost_blk_vq_next_avail_in_order(struct kunit *test)
{
	static const u16 heads[] = { 2, 0, 7 };
	struct vring_fixture *f = test->priv;
	unsigned int i;
	u16 head;

	put_avail(test, ARRAY_SIZE(heads), heads, ARRAY_SIZE(heads), 0);
	for (i = 0; i < ARRAY_SIZE(heads); i++) {
		KUNIT_ASSERT_EQ(test, vhost_blk_vq_next_avail(f->vq, &head), 0);
		KUNIT_EXPECT_EQ(test, head, heads[i]);
		KUNIT_EXPECT_EQ(test, f->vq->last_avail_idx, i + 1);
	}
	KUNIT_EXPECT_EQ(test, vhost_blk_vq_next_avail(f->vq, &head), -EAGAIN);
}

static void vhost_blk_vq_next_avail_full_ring(struct kunit *test)
{
	static const u16 heads[TEST_NUM] = { 7, 6, 5, 4, 3, 2, 1, 0 };
	struct vring_fixture *f = test->priv;
	unsigned int i;
	u16 head;

	put_avail(test, TEST_NUM, heads, TEST_NUM, 0);
	for (i = 0; i < TEST_NUM; i++) {
		KUNIT_ASSERT_EQ(test, vhost_blk_vq_next_avail(f->vq, &head), 0);
		KUNIT_EXPECT_EQ(test, head, heads[i]);
	}
	KUNIT_EXPECT_EQ(test, vhost_blk_vq_next_avail(f->vq, &head), -EAGAIN);
}

static void vhost_blk_vq_next_avail_too_far_ahead(struct kunit *test)
{
	static const u16 heads[TEST_NUM + 1] = { 1 };
	struct vring_fixture *f = test->priv;
	u16 head;

	put_avail(test, TEST_NUM + 1, heads, TEST_NUM, 0);
	KUNIT_EXPECT_EQ(test, vhost_blk_vq_next_avail(f->vq, &head), -EINVAL);
	KUNIT_EXPECT_EQ(test, f->vq->last_avail_idx, 0);
	KUNIT_EXPECT_EQ(test, f->vq->avail_idx, 0);
	/* Still refused: the bad index is not cached. */
	KUNIT_EXPECT_EQ(test, vhost_blk_vq_next_avail(f->vq, &head), -EINVAL);

	/* Behind the device is as far ahead. */
	f->vq->last_avail_idx = 5;
	f->vq->avail_idx = 5;
	put_avail(test, 3, heads, 0, 0);
	KUNIT_EXPECT_EQ(test, vhost_blk_vq_next_avail(f->vq, &head), -EINVAL);
	KUNIT_EXPECT_EQ(test, f->vq->last_avail_idx, 5);

	/* A sane index again is served. */
	put_avail(test, 6, heads, 1, 5);
	KUNIT_EXPECT_EQ(test, vhost_blk_vq_next_avail(f->vq, &head), 0);
	KUNIT_EXPECT_EQ(test, head, 1);
	KUNIT_EXPECT_EQ(test, f->vq->last_avail_idx, 6);
}

static void vhost_blk_vq_next_avail_index_wraps(struct kunit *test)
{
	static const u16 heads[] = { 3, 4, 5, 6 };
	struct vring_fixture *f = test->priv;
	unsigned int i;
	u16 head;

	f->vq->last_avail_idx = 0xfffe;
	f->vq->avail_idx = 0xfffe;
	put_avail(test, 2, heads, ARRAY_SIZE(heads), 0xfffe);
	for (i = 0; i < ARRAY_SIZE(heads); i++) {
		KUNIT_ASSERT_EQ(test, vhost_blk_vq_next_avail(f->vq, &head), 0);
		KUNIT_EXPECT_EQ(test, head, heads[i]);
	}
	KUNIT_EXPECT_EQ(test, f->vq->last_avail_idx, 2);
	KUNIT_EXPECT_EQ(test, vhost_blk_vq_next_avail(f->vq, &head), -EAGAIN);
}

static void vhost_blk_vq_next_avail_head_out_of_range(struct kunit *test)
{
	static const u16 heads[] = { TEST_NUM, 0xffff, 3 };
	struct vring_fixture *f = test->priv;
	u16 head;

	put_avail(test, ARRAY_SIZE(heads), heads, ARRAY_SIZE(heads), 0);
	KUNIT_EXPECT_EQ(test, vhost_blk_vq_next_avail(f->vq, &head), -ERANGE);
	KUNIT_EXPECT_EQ(test, f->vq->last_avail_idx, 1);
	KUNIT_EXPECT_EQ(test, vhost_blk_vq_next_avail(f->vq, &head), -ERANGE);
	KUNIT_EXPECT_EQ(test, f->vq->last_avail_idx, 2);
	KUNIT_EXPECT_EQ(test, vhost_blk_vq_next_avail(f->vq, &head), 0);
	KUNIT_EXPECT_EQ(test, head, 3);
	KUNIT_EXPECT_EQ(test, vhost_blk_vq_next_avail(f->vq, &head), -EAGAIN);
}

static void vhost_blk_vq_next_avail_unreadable(struct kunit *test)
{
	struct vring_fixture *f = test->priv;
	u16 head;

	f->vq->avail = NULL;
	KUNIT_EXPECT_EQ(test, vhost_blk_vq_next_avail(f->vq, &head), -EFAULT);
}

/* ---- vhost_blk_vq_init_access() and vhost_blk_vq_add_used() ---- */

static void vhost_blk_vq_init_access_reads_used_idx(struct kunit *test)
{
	struct vring_fixture *f = test->priv;
	struct vhost_blk_vq *vq = f->vq;

	KUNIT_ASSERT_EQ(test, put_user(v16(0x1234), &vq->used->idx), 0);
	vq->last_avail_idx = 7;
	vq->signalled_used_valid = true;
	vq->broken = true;

	KUNIT_ASSERT_EQ(test, vhost_blk_vq_init_access(vq), 0);
	KUNIT_EXPECT_EQ(test, vq->last_used_idx, 0x1234);
	KUNIT_EXPECT_EQ(test, vq->published_used, 0x1234);
	KUNIT_EXPECT_EQ(test, vq->avail_idx, 7);
	KUNIT_EXPECT_EQ(test, vq->last_avail_idx, 7);
	KUNIT_EXPECT_FALSE(test, vq->signalled_used_valid);
	KUNIT_EXPECT_FALSE(test, vq->broken);

	vq->used = NULL;
	KUNIT_EXPECT_EQ(test, vhost_blk_vq_init_access(vq), -EFAULT);
}

static void expect_used(struct kunit *test, unsigned int slot, u32 id,
			u32 len)
{
	struct vring_fixture *f = test->priv;
	struct vring_used_elem e;

	KUNIT_ASSERT_EQ(test, copy_from_user(&e, &f->vq->used->ring[slot],
					     sizeof(e)), 0);
	KUNIT_EXPECT_EQ_MSG(test, h32(e.id), id, "used slot %u id", slot);
	KUNIT_EXPECT_EQ_MSG(test, h32(e.len), len, "used slot %u len", slot);
}

static void vhost_blk_vq_add_used_fills_ring(struct kunit *test)
{
	struct vring_fixture *f = test->priv;
	struct vhost_blk_vq *vq = f->vq;
	__virtio16 idx;

	KUNIT_ASSERT_EQ(test, vhost_blk_vq_add_used(vq, 5, 0x1000), 0);
	KUNIT_ASSERT_EQ(test, vhost_blk_vq_add_used(vq, 2, 1), 0);
	KUNIT_EXPECT_EQ(test, vq->last_used_idx, 2);
	expect_used(test, 0, 5, 0x1000);
	expect_used(test, 1, 2, 1);

	/* Published only by vhost_blk_vq_signal(). */
	KUNIT_ASSERT_EQ(test, get_user(idx, &vq->used->idx), 0);
	KUNIT_EXPECT_EQ(test, h16(idx), 0);
	KUNIT_EXPECT_EQ(test, vq->published_used, 0);
}

static void vhost_blk_vq_add_used_index_wraps(struct kunit *test)
{
	struct vring_fixture *f = test->priv;
	struct vhost_blk_vq *vq = f->vq;

	vq->last_used_idx = 0xffff;
	KUNIT_ASSERT_EQ(test, vhost_blk_vq_add_used(vq, 1, 10), 0);
	KUNIT_ASSERT_EQ(test, vhost_blk_vq_add_used(vq, 3, 30), 0);
	KUNIT_EXPECT_EQ(test, vq->last_used_idx, 1);
	expect_used(test, TEST_NUM - 1, 1, 10);
	expect_used(test, 0, 3, 30);
}

static void vhost_blk_vq_add_used_unwritable(struct kunit *test)
{
	struct vring_fixture *f = test->priv;

	f->vq->used = NULL;
	KUNIT_EXPECT_EQ(test, vhost_blk_vq_add_used(f->vq, 0, 0), -EFAULT);
	KUNIT_EXPECT_EQ(test, f->vq->last_used_idx, 0);
}

/* ---- vhost_blk_vring_ok() ---- */

#define VR_BASE		0x10000000ULL
#define VR_NUM		256
#define VR_DESC_LEN	(VR_NUM * 16)			/* 4096 */
#define VR_AVAIL_LEN	(4 + (VR_NUM + 1) * 2)		/* 518 */
#define VR_USED_LEN	(4 + VR_NUM * 8 + 2)		/* 2054 */
#define VR_END		(VR_BASE + 0x10000)		/* end of region 0 */

struct vring_ok_case {
	const char *desc;
	bool null_mem;
	u64 desc_addr, avail_addr, used_addr;
	bool ok;
};

static const struct vring_ok_case vring_ok_cases[] = {
	{ "rings inside", false, VR_BASE, VR_BASE + 0x1000, VR_BASE + 0x2000,
	  true },
	{ "rings in different regions", false, VR_BASE, VR_END + 0x1000,
	  VR_END + 0x20000, true },
	{ "desc ends at the region end", false, VR_END - VR_DESC_LEN,
	  VR_BASE, VR_BASE + 0x1000, true },
	{ "desc straddles two regions", false, VR_END - VR_DESC_LEN + 1,
	  VR_BASE, VR_BASE + 0x1000, false },
	{ "avail ends at the region end", false, VR_BASE,
	  VR_END - VR_AVAIL_LEN, VR_BASE + 0x2000, true },
	{ "avail straddles two regions", false, VR_BASE,
	  VR_END - VR_AVAIL_LEN + 1, VR_BASE + 0x2000, false },
	{ "used ends at the region end", false, VR_BASE, VR_BASE + 0x1000,
	  VR_END - VR_USED_LEN, true },
	{ "used straddles two regions", false, VR_BASE, VR_BASE + 0x1000,
	  VR_END - VR_USED_LEN + 1, false },
	{ "desc outside", false, VR_BASE - 0x1000, VR_BASE + 0x1000,
	  VR_BASE + 0x2000, false },
	{ "avail outside", false, VR_BASE, VR_END + 0x30000,
	  VR_BASE + 0x2000, false },
	{ "used outside", false, VR_BASE, VR_BASE + 0x1000, 0, false },
	{ "used runs past the last region", false, VR_BASE, VR_BASE + 0x1000,
	  VR_END + 0x30000 - VR_USED_LEN + 1, false },
	{ "no memory table", true, VR_BASE, VR_BASE + 0x1000,
	  VR_BASE + 0x2000, false },
};

static void vring_ok_case_desc(const struct vring_ok_case *c, char *desc)
{
	strscpy(desc, c->desc, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(vring_ok, vring_ok_cases, vring_ok_case_desc);

static void vhost_blk_vring_ok_rings(struct kunit *test)
{
	static const struct vhost_memory_region in[] = {
		{ .guest_phys_addr = 0x0, .memory_size = 0x10000,
		  .userspace_addr = VR_BASE },
		{ .guest_phys_addr = 0x100000, .memory_size = 0x30000,
		  .userspace_addr = VR_END },
	};
	const struct vring_ok_case *c = test->param_value;
	struct vhost_blk_mem *mem = NULL;

	KUNIT_ASSERT_EQ(test, vhost_blk_mem_create(in, ARRAY_SIZE(in), &mem),
			0);
	KUNIT_ASSERT_EQ(test, 0,
			kunit_add_action_or_reset(test, vring_kvfree, mem));
	KUNIT_EXPECT_EQ(test,
			vhost_blk_vring_ok(c->null_mem ? NULL : mem, VR_NUM,
					   c->desc_addr, c->avail_addr,
					   c->used_addr),
			c->ok);
}

static struct kunit_case vhost_blk_vring_cases[] = {
	KUNIT_CASE(vhost_blk_vq_get_chain_direct),
	KUNIT_CASE(vhost_blk_vq_get_chain_resets_chain),
	KUNIT_CASE(vhost_blk_vq_get_chain_two_regions),
	KUNIT_CASE(vhost_blk_vq_get_chain_whole_regions),
	KUNIT_CASE(vhost_blk_vq_get_chain_top_of_gpa_space),
	KUNIT_CASE(vhost_blk_vq_get_chain_zero_length_skipped),
	KUNIT_CASE(vhost_blk_vq_get_chain_num_long),
	KUNIT_CASE(vhost_blk_vq_get_chain_indirect),
	KUNIT_CASE(vhost_blk_vq_get_chain_indirect_two_regions),
	KUNIT_CASE(vhost_blk_vq_get_chain_indirect_num_long),
	KUNIT_CASE(vhost_blk_vq_get_chain_iov_max),
	KUNIT_CASE(vhost_blk_vq_get_chain_indirect_iov_max),
	KUNIT_CASE_PARAM(vhost_blk_vq_get_chain_bad_chain,
			 chain_err_gen_params),
	KUNIT_CASE(vhost_blk_vq_get_chain_unreadable_table),
	KUNIT_CASE(vhost_blk_vq_next_avail_empty),
	KUNIT_CASE(vhost_blk_vq_next_avail_in_order),
	KUNIT_CASE(vhost_blk_vq_next_avail_full_ring),
	KUNIT_CASE(vhost_blk_vq_next_avail_too_far_ahead),
	KUNIT_CASE(vhost_blk_vq_next_avail_index_wraps),
	KUNIT_CASE(vhost_blk_vq_next_avail_head_out_of_range),
	KUNIT_CASE(vhost_blk_vq_next_avail_unreadable),
	KUNIT_CASE(vhost_blk_vq_init_access_reads_used_idx),
	KUNIT_CASE(vhost_blk_vq_add_used_fills_ring),
	KUNIT_CASE(vhost_blk_vq_add_used_index_wraps),
	KUNIT_CASE(vhost_blk_vq_add_used_unwritable),
	KUNIT_CASE_PARAM(vhost_blk_vring_ok_rings, vring_ok_gen_params),
	{}
};

static struct kunit_suite vhost_blk_vring_suite = {
	.name = "vhost_blk_vring",
	.init = vring_test_init,
	.test_cases = vhost_blk_vring_cases,
};

kunit_test_suite(vhost_blk_vring_suite);
