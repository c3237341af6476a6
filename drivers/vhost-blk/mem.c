// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk memory table: guest-physical ranges and where they live in the
 * owner's address space.
 *
 * The table is validated once, when the owner sets it: regions are sorted
 * by guest address, non-empty, do not wrap around either address space and
 * do not overlap in guest-physical space. Lookups are a binary search and
 * never sleep, so the data path runs them under rcu_read_lock().
 */
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#include <linux/overflow.h>
#include <linux/moduleparam.h>

#include "vhost_blk.h"

unsigned int vhost_blk_max_mem_regions = 64;
module_param_named(max_mem_regions, vhost_blk_max_mem_regions, uint, 0444);
MODULE_PARM_DESC(max_mem_regions,
		 "Maximum number of memory regions in a memory table (default: 64)");

static int vhost_blk_region_cmp(const void *a, const void *b)
{
	const struct vhost_blk_mem_region *ra = a, *rb = b;

	if (ra->gpa < rb->gpa)
		return -1;
	return ra->gpa > rb->gpa;
}

/**
 * vhost_blk_mem_create() - validate a memory table and build its lookup form
 * @in: regions as the owner passed them, in any order
 * @nregions: number of entries in @in
 * @out: the new table, to be freed with kvfree_rcu() or kvfree()
 *
 * Return: 0, -E2BIG for too many regions, -EINVAL for an empty, wrapping
 * or overlapping region or non-zero padding, -EFAULT for a user range the
 * owner cannot access, -ENOMEM.
 */
int vhost_blk_mem_create(const struct vhost_memory_region *in, u32 nregions,
			 struct vhost_blk_mem **out)
{
	struct vhost_blk_mem *mem;
	u64 end;
	u32 i;

	if (nregions > vhost_blk_max_mem_regions)
		return -E2BIG;

	for (i = 0; i < nregions; i++) {
		const struct vhost_memory_region *r = &in[i];

		if (!r->memory_size || r->flags_padding)
			return -EINVAL;
		if (check_add_overflow(r->guest_phys_addr, r->memory_size - 1,
				       &end) ||
		    check_add_overflow(r->userspace_addr, r->memory_size - 1,
				       &end))
			return -EINVAL;
		if (r->userspace_addr != (unsigned long)r->userspace_addr ||
		    r->memory_size != (unsigned long)r->memory_size ||
		    !access_ok(u64_to_user_ptr(r->userspace_addr),
			       r->memory_size))
			return -EFAULT;
	}

	mem = kvzalloc(struct_size(mem, regions, nregions), GFP_KERNEL_ACCOUNT);
	if (!mem)
		return -ENOMEM;
	mem->nregions = nregions;
	for (i = 0; i < nregions; i++) {
		mem->regions[i].gpa = in[i].guest_phys_addr;
		mem->regions[i].size = in[i].memory_size;
		mem->regions[i].uaddr = in[i].userspace_addr;
	}
	sort(mem->regions, nregions, sizeof(mem->regions[0]),
	     vhost_blk_region_cmp, NULL);

	for (i = 1; i < nregions; i++) {
		const struct vhost_blk_mem_region *prev = &mem->regions[i - 1];

		if (mem->regions[i].gpa - prev->gpa < prev->size) {
			kvfree(mem);
			return -EINVAL;
		}
	}

	*out = mem;
	return 0;
}

/**
 * vhost_blk_mem_uaddr_ok() - is a user range inside one region?
 * @mem: a validated table
 * @uaddr: owner virtual address
 * @len: bytes, non-zero
 *
 * Vrings must live in guest memory: this keeps the device from touching
 * owner memory the guest was never given.
 */
bool vhost_blk_mem_uaddr_ok(const struct vhost_blk_mem *mem, u64 uaddr,
			    u64 len)
{
	u32 i;

	if (!len)
		return false;
	for (i = 0; i < mem->nregions; i++) {
		const struct vhost_blk_mem_region *r = &mem->regions[i];

		if (uaddr >= r->uaddr && uaddr - r->uaddr < r->size &&
		    len <= r->size - (uaddr - r->uaddr))
			return true;
	}
	return false;
}
