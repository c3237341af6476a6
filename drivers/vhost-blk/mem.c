// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk memory table: guest-physical ranges and where they live in the
 * owner's address space.
 *
 * The table is validated once, when the owner sets it: regions are sorted
 * by guest address, non-empty, do not wrap around either address space and
 * do not overlap in guest-physical space. This file creates, copies and
 * frees tables, looks them up by owner address and maps owner ranges back
 * to guest-physical ones (for the dirty log); pin.c pins a whole
 * table (VHOST_BLK_OPT_F_PIN_MEM). The lookup by guest-physical address,
 * vhost_blk_mem_translate(), is part of the guest-facing parser in
 * decode.c, which also builds in userspace for fuzzing. Lookups never
 * sleep, so the data path runs them under rcu_read_lock().
 */
#include <linux/mm.h>
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
 * @out: the new table, to be freed with vhost_blk_mem_free(), or with
 *	 vhost_blk_mem_retire() once RCU readers may hold it
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
 * vhost_blk_mem_dup() - a copy of a table's regions, without its pins
 * @mem: a validated table
 *
 * Return: the copy, or NULL without memory.
 */
struct vhost_blk_mem *vhost_blk_mem_dup(const struct vhost_blk_mem *mem)
{
	struct vhost_blk_mem *copy;
	u32 i;

	copy = kvzalloc(struct_size(copy, regions, mem->nregions),
			GFP_KERNEL_ACCOUNT);
	if (!copy)
		return NULL;
	copy->nregions = mem->nregions;
	for (i = 0; i < mem->nregions; i++) {
		copy->regions[i].gpa = mem->regions[i].gpa;
		copy->regions[i].size = mem->regions[i].size;
		copy->regions[i].uaddr = mem->regions[i].uaddr;
	}
	return copy;
}

/**
 * vhost_blk_mem_free() - free a table, unpinning and uncharging its pages
 * @mem: a table no request and no RCU reader uses any more, or NULL
 * @mm: the owner's address space the pages were charged to
 *
 * May sleep. Runs in any context that holds a reference on @mm (the
 * owner may be gone).
 */
void vhost_blk_mem_free(struct vhost_blk_mem *mem, struct mm_struct *mm)
{
	if (!mem)
		return;
	vhost_blk_mem_unpin(mem, mm);
	kvfree(mem);
}

/**
 * vhost_blk_mem_retire() - free a table RCU readers may still hold
 * @mem: a table just replaced, no request uses it any more, or NULL
 * @mm: the owner's address space its pages were charged to
 *
 * An unpinned table is freed after a grace period without waiting. A
 * pinned one waits for the readers here, since unpinning sleeps. Caller
 * may sleep.
 */
void vhost_blk_mem_retire(struct vhost_blk_mem *mem, struct mm_struct *mm)
{
	if (!mem)
		return;
	if (!mem->npinned) {
		kvfree_rcu(mem, rcu);
		return;
	}
	synchronize_rcu();
	vhost_blk_mem_free(mem, mm);
}

/**
 * vhost_blk_mem_walk_regions() - visit the guest-physical range of each region
 * @mem: a validated table
 * @fn: called with @arg, a guest-physical address and a byte count
 * @arg: passed to @fn
 *
 * Return: 0, or the first non-zero return of @fn (the walk stops there).
 */
int vhost_blk_mem_walk_regions(const struct vhost_blk_mem *mem,
			       vhost_blk_gpa_fn_t fn, void *arg)
{
	u32 i;
	int ret;

	for (i = 0; i < mem->nregions; i++) {
		ret = fn(arg, mem->regions[i].gpa, mem->regions[i].size);
		if (ret)
			return ret;
	}
	return 0;
}

/**
 * vhost_blk_mem_uaddr_to_gpa() - visit the guest ranges behind an owner range
 * @mem: a validated table
 * @uaddr: owner virtual address
 * @len: bytes, non-zero
 * @fn: called with @arg, a guest-physical address and a byte count, once
 *	for each region holding part of [@uaddr, @uaddr + @len)
 * @arg: passed to @fn
 *
 * Regions may alias the same owner memory: each of them is visited.
 *
 * Return: 0; -EFAULT for an empty or wrapping range or one no region
 * holds a byte of; or the first non-zero return of @fn.
 */
int vhost_blk_mem_uaddr_to_gpa(const struct vhost_blk_mem *mem,
			       u64 uaddr, u64 len,
			       vhost_blk_gpa_fn_t fn, void *arg)
{
	bool hit = false;
	u64 end;
	u32 i;
	int ret;

	if (!len || check_add_overflow(uaddr, len - 1, &end))
		return -EFAULT;
	for (i = 0; i < mem->nregions; i++) {
		const struct vhost_blk_mem_region *r = &mem->regions[i];
		u64 rend = r->uaddr + (r->size - 1), start, stop;

		if (r->uaddr > end || rend < uaddr)
			continue;
		start = max(r->uaddr, uaddr);
		stop = min(rend, end);
		ret = fn(arg, r->gpa + (start - r->uaddr), stop - start + 1);
		if (ret)
			return ret;
		hit = true;
	}
	return hit ? 0 : -EFAULT;
}

/*
 * The one range check by owner address: the first region that holds all
 * of [uaddr, uaddr + len), or NULL. Regions may alias the same owner
 * memory; any of them will do.
 */
static const struct vhost_blk_mem_region *
vhost_blk_mem_uaddr_region(const struct vhost_blk_mem *mem, u64 uaddr,
			   u64 len)
{
	u32 i;

	if (!len)
		return NULL;
	for (i = 0; i < mem->nregions; i++) {
		const struct vhost_blk_mem_region *r = &mem->regions[i];

		if (uaddr >= r->uaddr && uaddr - r->uaddr < r->size &&
		    len <= r->size - (uaddr - r->uaddr))
			return r;
	}
	return NULL;
}

/**
 * vhost_blk_mem_uaddr_ok() - is a user range inside one region?
 * @mem: a validated table
 * @uaddr: owner virtual address
 * @len: bytes, non-zero
 *
 * Vrings must live in guest memory: this keeps the device from touching
 * owner memory the guest was never given.
 *
 * Return: true if one region holds every byte of the range.
 */
bool vhost_blk_mem_uaddr_ok(const struct vhost_blk_mem *mem, u64 uaddr,
			    u64 len)
{
	return vhost_blk_mem_uaddr_region(mem, uaddr, len);
}

/**
 * vhost_blk_mem_pages() - the pinned pages behind a user range
 * @mem: a pinned table (vhost_blk_mem_pin())
 * @uaddr: owner virtual address
 * @len: bytes, non-zero
 *
 * Return: the entry of the page holding @uaddr in the pinned pages of a
 * region holding the whole range (the pages after it follow), or NULL.
 */
struct page **vhost_blk_mem_pages(const struct vhost_blk_mem *mem,
				  unsigned long uaddr, size_t len)
{
	const struct vhost_blk_mem_region *r;

	r = vhost_blk_mem_uaddr_region(mem, uaddr, len);
	if (!r || !r->pages)
		return NULL;
	return r->pages + (PFN_DOWN(uaddr) - PFN_DOWN(r->uaddr));
}
