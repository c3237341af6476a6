// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the vhost-blk memory table (drivers/vhost-blk/mem.c):
 * validation in vhost_blk_mem_create(), lookups by guest-physical address
 * in vhost_blk_mem_find(), the one-region check of
 * vhost_blk_mem_uaddr_ok() that keeps vrings inside guest memory, and
 * the walks over the regions the dirty log uses.
 *
 * Built and run by tests/kunit/run.sh.
 */
#include <kunit/resource.h>
#include <kunit/test.h>
#include <linux/limits.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "vhost_blk.h"

#define UADDR_BASE	0x10000000ULL	/* well below TASK_SIZE everywhere */
#define MAX_TEST_REGIONS 4

KUNIT_DEFINE_ACTION_WRAPPER(mem_kvfree, kvfree, const void *);

/* Create a table that the test frees when it ends; asserts success. */
static struct vhost_blk_mem *
mem_create_ok(struct kunit *test, const struct vhost_memory_region *in,
	      u32 nregions)
{
	struct vhost_blk_mem *mem = NULL;
	int ret;

	ret = vhost_blk_mem_create(in, nregions, &mem);
	KUNIT_ASSERT_EQ(test, ret, 0);
	KUNIT_ASSERT_NOT_NULL(test, mem);
	KUNIT_ASSERT_EQ(test, 0,
			kunit_add_action_or_reset(test, mem_kvfree, mem));
	return mem;
}

/* Expect vhost_blk_mem_create() to fail with @err. */
static void mem_create_expect_err(struct kunit *test,
				  const struct vhost_memory_region *in,
				  u32 nregions, int err)
{
	struct vhost_blk_mem *mem = NULL;
	int ret;

	ret = vhost_blk_mem_create(in, nregions, &mem);
	KUNIT_EXPECT_EQ(test, ret, err);
	if (!ret)
		kvfree(mem);
}

/* ---- vhost_blk_mem_create() ---- */

static void vhost_blk_mem_create_sorts_regions(struct kunit *test)
{
	const struct vhost_memory_region in[] = {
		{ .guest_phys_addr = 0x300000, .memory_size = 0x1000,
		  .userspace_addr = UADDR_BASE + 0x3000 },
		{ .guest_phys_addr = 0x100000, .memory_size = 0x2000,
		  .userspace_addr = UADDR_BASE + 0x1000 },
		{ .guest_phys_addr = 0x200000, .memory_size = 0x1000,
		  .userspace_addr = UADDR_BASE + 0x9000 },
		{ .guest_phys_addr = 0x0, .memory_size = 0x1000,
		  .userspace_addr = UADDR_BASE },
	};
	static const u64 gpa[] = { 0x0, 0x100000, 0x200000, 0x300000 };
	static const u64 size[] = { 0x1000, 0x2000, 0x1000, 0x1000 };
	static const u64 uaddr[] = {
		UADDR_BASE, UADDR_BASE + 0x1000, UADDR_BASE + 0x9000,
		UADDR_BASE + 0x3000,
	};
	struct vhost_blk_mem *mem;
	u32 i;

	mem = mem_create_ok(test, in, ARRAY_SIZE(in));
	KUNIT_ASSERT_EQ(test, mem->nregions, ARRAY_SIZE(in));
	for (i = 0; i < ARRAY_SIZE(in); i++) {
		KUNIT_EXPECT_EQ_MSG(test, mem->regions[i].gpa, gpa[i],
				    "region %u", i);
		KUNIT_EXPECT_EQ_MSG(test, mem->regions[i].size, size[i],
				    "region %u", i);
		KUNIT_EXPECT_EQ_MSG(test, mem->regions[i].uaddr, uaddr[i],
				    "region %u", i);
	}
}

struct mem_create_case {
	const char *desc;
	u32 nregions;
	struct vhost_memory_region r[MAX_TEST_REGIONS];
	int err;
};

#define REGION(g, s, u)	{ .guest_phys_addr = (g), .memory_size = (s), \
			  .userspace_addr = (u) }

static const struct mem_create_case mem_create_cases[] = {
	{ "no regions", 0, { }, 0 },
	{ "adjacent regions", 2,
	  { REGION(0x1000, 0x1000, UADDR_BASE),
	    REGION(0x2000, 0x1000, UADDR_BASE + 0x1000) }, 0 },
	{ "adjacent regions, reverse order", 2,
	  { REGION(0x2000, 0x1000, UADDR_BASE),
	    REGION(0x1000, 0x1000, UADDR_BASE + 0x1000) }, 0 },
	{ "shared user range", 2,
	  { REGION(0x1000, 0x1000, UADDR_BASE),
	    REGION(0x9000, 0x1000, UADDR_BASE) }, 0 },
	{ "region ends at the top of the GPA space", 1,
	  { REGION(0xfffffffffffff000ULL, 0x1000, UADDR_BASE) }, 0 },
	{ "overlap by one byte", 2,
	  { REGION(0x1000, 0x1001, UADDR_BASE),
	    REGION(0x2000, 0x1000, UADDR_BASE + 0x2000) }, -EINVAL },
	{ "overlap, reverse order", 2,
	  { REGION(0x2000, 0x1000, UADDR_BASE + 0x2000),
	    REGION(0x1000, 0x1001, UADDR_BASE) }, -EINVAL },
	{ "same start", 2,
	  { REGION(0x1000, 0x1000, UADDR_BASE),
	    REGION(0x1000, 0x4000, UADDR_BASE + 0x2000) }, -EINVAL },
	{ "region inside another", 3,
	  { REGION(0x0, 0x1000, UADDR_BASE + 0x8000),
	    REGION(0x1000, 0x10000, UADDR_BASE),
	    REGION(0x4000, 0x1000, UADDR_BASE + 0x20000) }, -EINVAL },
	{ "zero size", 1, { REGION(0x1000, 0, UADDR_BASE) }, -EINVAL },
	{ "zero size at address 0", 1, { REGION(0, 0, 0) }, -EINVAL },
	{ "zero size after a good region", 2,
	  { REGION(0x1000, 0x1000, UADDR_BASE),
	    REGION(0x8000, 0, UADDR_BASE) }, -EINVAL },
	{ "GPA wraps", 1,
	  { REGION(0xfffffffffffff000ULL, 0x1001, UADDR_BASE) }, -EINVAL },
	{ "GPA wraps, huge size", 1,
	  { REGION(0x1000, U64_MAX, UADDR_BASE) }, -EINVAL },
	{ "user address wraps", 1,
	  { REGION(0x1000, 0x2000, 0xfffffffffffff000ULL) }, -EINVAL },
	{ "flags_padding set", 1,
	  { { .guest_phys_addr = 0x1000, .memory_size = 0x1000,
	      .userspace_addr = UADDR_BASE, .flags_padding = 1 } }, -EINVAL },
	{ "flags_padding high bit set", 1,
	  { { .guest_phys_addr = 0x1000, .memory_size = 0x1000,
	      .userspace_addr = UADDR_BASE,
	      .flags_padding = 1ULL << 63 } }, -EINVAL },
	{ "user range at the top of the address space", 1,
	  { REGION(0x1000, 0x1000, 0xfffffffffffff000ULL) }, -EFAULT },
};

static void mem_create_case_desc(const struct mem_create_case *c, char *desc)
{
	strscpy(desc, c->desc, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(mem_create, mem_create_cases, mem_create_case_desc);

static void vhost_blk_mem_create_input(struct kunit *test)
{
	const struct mem_create_case *c = test->param_value;

	if (c->err) {
		mem_create_expect_err(test, c->r, c->nregions, c->err);
		return;
	}
	KUNIT_EXPECT_EQ(test, mem_create_ok(test, c->r, c->nregions)->nregions,
			c->nregions);
}

/* TASK_SIZE is not a constant everywhere (UML): build these at run time. */
static void vhost_blk_mem_create_kernel_uaddr(struct kunit *test)
{
	struct vhost_memory_region r = REGION(0x1000, 0x1000, 0);

	r.userspace_addr = TASK_SIZE;
	mem_create_expect_err(test, &r, 1, -EFAULT);

	/* Starts in user space, ends above it. */
	r.userspace_addr = TASK_SIZE - 0x800;
	mem_create_expect_err(test, &r, 1, -EFAULT);
}

static struct vhost_memory_region *regions_alloc(struct kunit *test, u32 n)
{
	struct vhost_memory_region *in;
	u32 i;

	in = kunit_kcalloc(test, n, sizeof(*in), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, in);
	/* 4 KiB regions with 4 KiB gaps, listed from the highest down. */
	for (i = 0; i < n; i++) {
		in[i].guest_phys_addr = (u64)(n - 1 - i) * 0x2000;
		in[i].memory_size = 0x1000;
		in[i].userspace_addr = UADDR_BASE + (u64)i * 0x1000;
	}
	return in;
}

static void vhost_blk_mem_create_max_regions(struct kunit *test)
{
	u32 max = vhost_blk_max_mem_regions;
	struct vhost_memory_region *in;

	KUNIT_ASSERT_GT(test, max, 0);
	KUNIT_ASSERT_LE(test, max, 4096);
	in = regions_alloc(test, max + 1);

	KUNIT_EXPECT_EQ(test, mem_create_ok(test, in, max)->nregions, max);
	mem_create_expect_err(test, in, max + 1, -E2BIG);
	mem_create_expect_err(test, in, U32_MAX, -E2BIG);
}

/* ---- vhost_blk_mem_find() ---- */

/*
 * The table of the find and uaddr_ok cases: three regions with gaps in
 * guest-physical space; the last two are contiguous in user space.
 */
static const struct vhost_memory_region find_table[] = {
	REGION(0x100000, 0x10000, UADDR_BASE + 0x100000),
	REGION(0x0, 0x1000, UADDR_BASE),
	REGION(0x200000, 0x4000, UADDR_BASE + 0x110000),
};

struct mem_find_case {
	const char *desc;
	u64 gpa;
	int region;		/* index in the sorted table, -1: none */
};

static const struct mem_find_case mem_find_cases[] = {
	{ "first region start", 0x0, 0 },
	{ "first region last byte", 0xfff, 0 },
	{ "one past the first region", 0x1000, -1 },
	{ "gap", 0x80000, -1 },
	{ "byte below a region", 0xfffff, -1 },
	{ "middle region start", 0x100000, 1 },
	{ "middle region middle", 0x108765, 1 },
	{ "middle region last byte", 0x10ffff, 1 },
	{ "one past the middle region", 0x110000, -1 },
	{ "last region start", 0x200000, 2 },
	{ "last region last byte", 0x203fff, 2 },
	{ "one past the last region", 0x204000, -1 },
	{ "far above the last region", 0x8000000000ULL, -1 },
	{ "top of the 64-bit space", U64_MAX, -1 },
};

static void mem_find_case_desc(const struct mem_find_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s (gpa 0x%llx)", c->desc,
		 c->gpa);
}

KUNIT_ARRAY_PARAM(mem_find, mem_find_cases, mem_find_case_desc);

static void vhost_blk_mem_find_gpa(struct kunit *test)
{
	const struct mem_find_case *c = test->param_value;
	const struct vhost_blk_mem_region *r;
	struct vhost_blk_mem *mem;

	mem = mem_create_ok(test, find_table, ARRAY_SIZE(find_table));
	r = vhost_blk_mem_find(mem, c->gpa);
	if (c->region < 0)
		KUNIT_EXPECT_NULL(test, r);
	else
		KUNIT_EXPECT_PTR_EQ(test, r, &mem->regions[c->region]);
}

static void vhost_blk_mem_find_empty_table(struct kunit *test)
{
	struct vhost_blk_mem *mem = mem_create_ok(test, NULL, 0);

	KUNIT_EXPECT_NULL(test, vhost_blk_mem_find(mem, 0));
	KUNIT_EXPECT_NULL(test, vhost_blk_mem_find(mem, U64_MAX));
}

static void vhost_blk_mem_find_one_region(struct kunit *test)
{
	const struct vhost_memory_region in = REGION(0x4000, 0x2000,
						     UADDR_BASE);
	struct vhost_blk_mem *mem = mem_create_ok(test, &in, 1);

	KUNIT_EXPECT_NULL(test, vhost_blk_mem_find(mem, 0));
	KUNIT_EXPECT_NULL(test, vhost_blk_mem_find(mem, 0x3fff));
	KUNIT_EXPECT_PTR_EQ(test, vhost_blk_mem_find(mem, 0x4000),
			    &mem->regions[0]);
	KUNIT_EXPECT_PTR_EQ(test, vhost_blk_mem_find(mem, 0x5fff),
			    &mem->regions[0]);
	KUNIT_EXPECT_NULL(test, vhost_blk_mem_find(mem, 0x6000));
	KUNIT_EXPECT_NULL(test, vhost_blk_mem_find(mem, U64_MAX));
}

/* Every region of a full table, its edges and the gaps between them. */
static void vhost_blk_mem_find_64_regions(struct kunit *test)
{
	struct vhost_memory_region *in = regions_alloc(test, 64);
	struct vhost_blk_mem *mem = mem_create_ok(test, in, 64);
	u32 i;

	for (i = 0; i < 64; i++) {
		const struct vhost_blk_mem_region *want = &mem->regions[i];
		u64 start = (u64)i * 0x2000;

		KUNIT_EXPECT_PTR_EQ_MSG(test, vhost_blk_mem_find(mem, start),
					want, "region %u start", i);
		KUNIT_EXPECT_PTR_EQ_MSG(test,
					vhost_blk_mem_find(mem, start + 0xfff),
					want, "region %u last byte", i);
		KUNIT_EXPECT_NULL_MSG(test,
				      vhost_blk_mem_find(mem, start + 0x1000),
				      "gap after region %u", i);
		KUNIT_EXPECT_NULL_MSG(test,
				      vhost_blk_mem_find(mem, start + 0x1fff),
				      "gap end after region %u", i);
	}
	KUNIT_EXPECT_NULL(test, vhost_blk_mem_find(mem, U64_MAX));
}

static void vhost_blk_mem_find_top_of_address_space(struct kunit *test)
{
	const struct vhost_memory_region in[] = {
		REGION(0x0, 0x1000, UADDR_BASE),
		REGION(0xfffffffffffff000ULL, 0x1000, UADDR_BASE + 0x1000),
	};
	struct vhost_blk_mem *mem = mem_create_ok(test, in, ARRAY_SIZE(in));

	KUNIT_EXPECT_PTR_EQ(test, vhost_blk_mem_find(mem, U64_MAX),
			    &mem->regions[1]);
	KUNIT_EXPECT_PTR_EQ(test,
			    vhost_blk_mem_find(mem, 0xfffffffffffff000ULL),
			    &mem->regions[1]);
	KUNIT_EXPECT_NULL(test, vhost_blk_mem_find(mem, 0xffffffffffffefffULL));
	KUNIT_EXPECT_PTR_EQ(test, vhost_blk_mem_find(mem, 0),
			    &mem->regions[0]);
	KUNIT_EXPECT_NULL(test, vhost_blk_mem_find(mem, 0x1000));
}

/* ---- vhost_blk_mem_uaddr_ok() ---- */

struct mem_uaddr_case {
	const char *desc;
	u64 uaddr;
	u64 len;
	bool ok;
};

static const struct mem_uaddr_case mem_uaddr_cases[] = {
	{ "whole region", UADDR_BASE, 0x1000, true },
	{ "inside", UADDR_BASE + 0x100010, 0x100, true },
	{ "last byte", UADDR_BASE + 0x10ffff, 1, true },
	{ "ends at the region end", UADDR_BASE + 0x10f000, 0x1000, true },
	{ "one byte past the region end", UADDR_BASE + 0x10f000, 0x1001,
	  false },
	{ "straddles two contiguous regions", UADDR_BASE + 0x10ff00, 0x200,
	  false },
	{ "second of two contiguous regions", UADDR_BASE + 0x110000, 0x4000,
	  true },
	{ "byte below a region", UADDR_BASE + 0xfffff, 1, false },
	{ "gap", UADDR_BASE + 0x2000, 0x10, false },
	{ "above every region", UADDR_BASE + 0x114000, 1, false },
	{ "zero length inside", UADDR_BASE + 0x100000, 0, false },
	{ "zero length at a region end", UADDR_BASE + 0x110000 + 0x4000, 0,
	  false },
	{ "length wraps", UADDR_BASE + 0x100000, U64_MAX, false },
	{ "length wraps to the start", UADDR_BASE + 0x100001, U64_MAX, false },
	{ "address at the top", U64_MAX, 1, false },
	{ "address at the top, length wraps", U64_MAX, 2, false },
};

static void mem_uaddr_case_desc(const struct mem_uaddr_case *c, char *desc)
{
	strscpy(desc, c->desc, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(mem_uaddr, mem_uaddr_cases, mem_uaddr_case_desc);

static void vhost_blk_mem_uaddr_ok_range(struct kunit *test)
{
	const struct mem_uaddr_case *c = test->param_value;
	struct vhost_blk_mem *mem;

	mem = mem_create_ok(test, find_table, ARRAY_SIZE(find_table));
	KUNIT_EXPECT_EQ(test, vhost_blk_mem_uaddr_ok(mem, c->uaddr, c->len),
			c->ok);
}

/* ---- vhost_blk_mem_walk_regions(), vhost_blk_mem_uaddr_to_gpa() ---- */

#define MAX_GPA_RANGES 8

/* What the walkers handed to the callback, in order. */
struct gpa_ranges {
	unsigned int n;
	int fail_at;		/* return -EIO on this call (1-based), or 0 */
	u64 gpa[MAX_GPA_RANGES];
	u64 len[MAX_GPA_RANGES];
};

static int gpa_ranges_add(void *arg, u64 gpa, u64 len)
{
	struct gpa_ranges *g = arg;

	if (g->n == MAX_GPA_RANGES)
		return -E2BIG;
	g->gpa[g->n] = gpa;
	g->len[g->n] = len;
	g->n++;
	return g->n == g->fail_at ? -EIO : 0;
}

/*
 * Owner memory UADDR_BASE + [0, 0x2000) and + [0x3000, 0x4000); the
 * second region aliases the second page of the first.
 */
static const struct vhost_memory_region alias_table[] = {
	{ .guest_phys_addr = 0x100000, .memory_size = 0x2000,
	  .userspace_addr = UADDR_BASE },
	{ .guest_phys_addr = 0x500000, .memory_size = 0x1000,
	  .userspace_addr = UADDR_BASE + 0x1000 },
	{ .guest_phys_addr = 0x800000, .memory_size = 0x1000,
	  .userspace_addr = UADDR_BASE + 0x3000 },
};

static void vhost_blk_mem_walk_regions_all(struct kunit *test)
{
	struct gpa_ranges g = {};
	struct vhost_blk_mem *mem;

	mem = mem_create_ok(test, alias_table, ARRAY_SIZE(alias_table));
	KUNIT_EXPECT_EQ(test, vhost_blk_mem_walk_regions(mem, gpa_ranges_add,
							 &g), 0);
	KUNIT_ASSERT_EQ(test, g.n, 3);
	KUNIT_EXPECT_EQ(test, g.gpa[0], 0x100000);
	KUNIT_EXPECT_EQ(test, g.len[0], 0x2000);
	KUNIT_EXPECT_EQ(test, g.gpa[1], 0x500000);
	KUNIT_EXPECT_EQ(test, g.len[1], 0x1000);
	KUNIT_EXPECT_EQ(test, g.gpa[2], 0x800000);
	KUNIT_EXPECT_EQ(test, g.len[2], 0x1000);

	g = (struct gpa_ranges){ .fail_at = 2 };
	KUNIT_EXPECT_EQ(test, vhost_blk_mem_walk_regions(mem, gpa_ranges_add,
							 &g), -EIO);
	KUNIT_EXPECT_EQ(test, g.n, 2);
}

static void vhost_blk_mem_uaddr_to_gpa_aliases(struct kunit *test)
{
	struct gpa_ranges g = {};
	struct vhost_blk_mem *mem;

	mem = mem_create_ok(test, alias_table, ARRAY_SIZE(alias_table));
	/* UADDR_BASE + [0x800, 0x3800): every region, the gap skipped. */
	KUNIT_EXPECT_EQ(test,
			vhost_blk_mem_uaddr_to_gpa(mem, UADDR_BASE + 0x800,
						   0x3000, gpa_ranges_add, &g),
			0);
	KUNIT_ASSERT_EQ(test, g.n, 3);
	KUNIT_EXPECT_EQ(test, g.gpa[0], 0x100800);
	KUNIT_EXPECT_EQ(test, g.len[0], 0x1800);
	KUNIT_EXPECT_EQ(test, g.gpa[1], 0x500000);
	KUNIT_EXPECT_EQ(test, g.len[1], 0x1000);
	KUNIT_EXPECT_EQ(test, g.gpa[2], 0x800000);
	KUNIT_EXPECT_EQ(test, g.len[2], 0x800);

	/* One byte of the aliased page: both regions that map it. */
	g = (struct gpa_ranges){};
	KUNIT_EXPECT_EQ(test,
			vhost_blk_mem_uaddr_to_gpa(mem, UADDR_BASE + 0x1fff, 1,
						   gpa_ranges_add, &g),
			0);
	KUNIT_ASSERT_EQ(test, g.n, 2);
	KUNIT_EXPECT_EQ(test, g.gpa[0], 0x101fff);
	KUNIT_EXPECT_EQ(test, g.len[0], 1);
	KUNIT_EXPECT_EQ(test, g.gpa[1], 0x500fff);
	KUNIT_EXPECT_EQ(test, g.len[1], 1);
}

static void vhost_blk_mem_uaddr_to_gpa_refused(struct kunit *test)
{
	struct gpa_ranges g = {};
	struct vhost_blk_mem *mem;

	mem = mem_create_ok(test, alias_table, ARRAY_SIZE(alias_table));
	/* In the gap, below and above every region: nothing to visit. */
	KUNIT_EXPECT_EQ(test,
			vhost_blk_mem_uaddr_to_gpa(mem, UADDR_BASE + 0x2000,
						   0x1000, gpa_ranges_add, &g),
			-EFAULT);
	KUNIT_EXPECT_EQ(test,
			vhost_blk_mem_uaddr_to_gpa(mem, UADDR_BASE - 1, 1,
						   gpa_ranges_add, &g),
			-EFAULT);
	KUNIT_EXPECT_EQ(test,
			vhost_blk_mem_uaddr_to_gpa(mem, UADDR_BASE + 0x4000, 1,
						   gpa_ranges_add, &g),
			-EFAULT);
	/* Empty and wrapping ranges. */
	KUNIT_EXPECT_EQ(test,
			vhost_blk_mem_uaddr_to_gpa(mem, UADDR_BASE, 0,
						   gpa_ranges_add, &g),
			-EFAULT);
	KUNIT_EXPECT_EQ(test,
			vhost_blk_mem_uaddr_to_gpa(mem, UADDR_BASE, U64_MAX,
						   gpa_ranges_add, &g),
			-EFAULT);
	KUNIT_EXPECT_EQ(test,
			vhost_blk_mem_uaddr_to_gpa(mem, U64_MAX, 2,
						   gpa_ranges_add, &g),
			-EFAULT);
	KUNIT_EXPECT_EQ(test, g.n, 0);

	/* The callback's error stops the walk. */
	g = (struct gpa_ranges){ .fail_at = 1 };
	KUNIT_EXPECT_EQ(test,
			vhost_blk_mem_uaddr_to_gpa(mem, UADDR_BASE, 0x4000,
						   gpa_ranges_add, &g),
			-EIO);
	KUNIT_EXPECT_EQ(test, g.n, 1);
}

static struct kunit_case vhost_blk_mem_cases[] = {
	KUNIT_CASE(vhost_blk_mem_create_sorts_regions),
	KUNIT_CASE_PARAM(vhost_blk_mem_create_input,
			 mem_create_gen_params),
	KUNIT_CASE(vhost_blk_mem_create_kernel_uaddr),
	KUNIT_CASE(vhost_blk_mem_create_max_regions),
	KUNIT_CASE_PARAM(vhost_blk_mem_find_gpa, mem_find_gen_params),
	KUNIT_CASE(vhost_blk_mem_find_empty_table),
	KUNIT_CASE(vhost_blk_mem_find_one_region),
	KUNIT_CASE(vhost_blk_mem_find_64_regions),
	KUNIT_CASE(vhost_blk_mem_find_top_of_address_space),
	KUNIT_CASE_PARAM(vhost_blk_mem_uaddr_ok_range, mem_uaddr_gen_params),
	KUNIT_CASE(vhost_blk_mem_walk_regions_all),
	KUNIT_CASE(vhost_blk_mem_uaddr_to_gpa_aliases),
	KUNIT_CASE(vhost_blk_mem_uaddr_to_gpa_refused),
	{}
};

static struct kunit_suite vhost_blk_mem_suite = {
	.name = "vhost_blk_mem",
	.test_cases = vhost_blk_mem_cases,
};

kunit_test_suite(vhost_blk_mem_suite);

MODULE_DESCRIPTION("KUnit tests for the vhost-blk memory table and vrings");
MODULE_LICENSE("GPL");
