// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk: pinning a whole memory table (VHOST_BLK_OPT_F_PIN_MEM).
 *
 * Instead of pinning the buffers of every request, every page of the
 * table is pinned long-term once, when the table is installed, and
 * charged to the owner's RLIMIT_MEMLOCK through mm->pinned_vm (VmPin),
 * as RDMA does for registered memory. Bios then take their pages from
 * the table. The pins are dropped when the table is freed, which happens
 * only once no request can use it any more.
 */
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/capability.h>
#include <linux/slab.h>
#include <linux/mutex.h>

#include "vhost_blk.h"

/* Pages pinned per call of pin_user_pages_fast(). */
#define VHOST_BLK_PIN_CHUNK	512UL
/*
 * A long-term pin adds GUP_PIN_COUNTING_BIAS (1024) references to a small
 * page, and nothing deduplicates pins: regions may name the same owner
 * range, and one region may span thousands of mappings of one page. A
 * table is refused once a page it pinned holds more references than this
 * (2^29), checked after every chunk under vhost_blk_pin_mutex, so tables
 * take a page at most 2^29 + 2^19 references; the per-request pins of all
 * devices stay near 2^30 (budget.c), which leaves INT_MAX out of reach.
 * The ring mappings of direct completion (direct.c) add one reference per
 * page of a table region they map: two mappings per queue, each naming a
 * region page at most once, so at most 2 * VHOST_BLK_MAX_VQS (32) for the
 * 1024 the page's pin holds; under 2^25 in all.
 */
#define VHOST_BLK_PIN_REFS_MAX	BIT(29)

/* Serializes table pinning with its reference check, all devices. */
static DEFINE_MUTEX(vhost_blk_pin_mutex);

static unsigned long vhost_blk_region_npages(const struct vhost_blk_mem_region *r)
{
	return PFN_UP(r->uaddr + r->size) - PFN_DOWN(r->uaddr);
}

static void vhost_blk_region_unpin(struct vhost_blk_mem_region *r,
				   unsigned long npages)
{
	unsigned long done, n;

	/* The device may have written any of them. */
	for (done = 0; done < npages; done += n) {
		n = min(npages - done, VHOST_BLK_PIN_CHUNK);
		unpin_user_pages_dirty_lock(r->pages + done, n, true);
		cond_resched();
	}
	kvfree(r->pages);
	r->pages = NULL;
}

/* Does any of @pages hold more references than a table may add? */
static bool vhost_blk_pins_too_many(struct page **pages, long n)
{
	long i;

	for (i = 0; i < n; i++)
		if (folio_ref_count(page_folio(pages[i])) >
		    VHOST_BLK_PIN_REFS_MAX)
			return true;
	return false;
}

static int vhost_blk_region_pin(struct vhost_blk_mem_region *r)
{
	unsigned long npages = vhost_blk_region_npages(r);
	unsigned long start = r->uaddr & PAGE_MASK;
	unsigned long done = 0;
	int ret;

	/* The owner picks the size: too large is -ENOMEM, not a warning. */
	r->pages = kvmalloc_array(npages, sizeof(*r->pages),
				  GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!r->pages)
		return -ENOMEM;
	while (done < npages) {
		int n = min(npages - done, VHOST_BLK_PIN_CHUNK);

		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto err;
		}
		ret = vhost_blk_pin_longterm(start + done * PAGE_SIZE, n,
					     r->pages + done);
		if (ret <= 0) {
			ret = ret ?: -EFAULT;
			goto err;
		}
		done += ret;
		if (vhost_blk_pins_too_many(r->pages + done - ret, ret)) {
			ret = -EINVAL;
			goto err;
		}
		cond_resched();
	}
	return 0;

err:
	vhost_blk_region_unpin(r, done);
	return ret;
}

/**
 * vhost_blk_mem_pin() - pin every page of a table and charge them
 * @mem: a validated table no request uses yet
 * @mm: the owner's address space, the caller's own
 * @replaced: the table @mem is to replace, or NULL: its pinned pages
 *	      are still charged, and let go of once @mem is in place, so
 *	      they do not count against the limit
 *
 * Return: 0; -ENOMEM over RLIMIT_MEMLOCK (without CAP_IPC_LOCK) or out of
 * memory; -EFAULT when a page cannot be pinned long-term (-EOPNOTSUPP for
 * memory that is not anonymous, shmem or hugetlb before Linux 6.5);
 * -EINVAL when the table names one page so often that its pins would
 * take it past VHOST_BLK_PIN_REFS_MAX references; -EINTR on a fatal
 * signal. On failure nothing is pinned or charged.
 */
int vhost_blk_mem_pin(struct vhost_blk_mem *mem, struct mm_struct *mm,
		      const struct vhost_blk_mem *replaced)
{
	unsigned long total = 0, limit, charged;
	u32 i;
	int ret;

	for (i = 0; i < mem->nregions; i++)
		total += vhost_blk_region_npages(&mem->regions[i]);
	limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	charged = replaced ? replaced->npinned : 0;
	if ((u64)atomic64_add_return(total, &mm->pinned_vm) - charged > limit &&
	    !capable(CAP_IPC_LOCK)) {
		atomic64_sub(total, &mm->pinned_vm);
		return -ENOMEM;
	}

	mutex_lock(&vhost_blk_pin_mutex);
	for (i = 0; i < mem->nregions; i++) {
		ret = vhost_blk_region_pin(&mem->regions[i]);
		if (ret)
			goto err;
	}
	mutex_unlock(&vhost_blk_pin_mutex);
	mem->npinned = total;
	return 0;

err:
	while (i--)
		vhost_blk_region_unpin(&mem->regions[i],
				       vhost_blk_region_npages(&mem->regions[i]));
	mutex_unlock(&vhost_blk_pin_mutex);
	atomic64_sub(total, &mm->pinned_vm);
	return ret;
}

/**
 * vhost_blk_mem_unpin() - unpin and uncharge the pages of a pinned table
 * @mem: a table no request and no RCU reader uses any more
 * @mm: the owner's address space the pages were charged to
 *
 * May sleep. Runs in any context that holds a reference on @mm (the
 * owner may be gone).
 */
void vhost_blk_mem_unpin(struct vhost_blk_mem *mem, struct mm_struct *mm)
{
	u32 i;

	for (i = 0; i < mem->nregions; i++) {
		struct vhost_blk_mem_region *r = &mem->regions[i];

		if (r->pages)
			vhost_blk_region_unpin(r, vhost_blk_region_npages(r));
	}
	if (mem->npinned)
		atomic64_sub(mem->npinned, &mm->pinned_vm);
	mem->npinned = 0;
}
