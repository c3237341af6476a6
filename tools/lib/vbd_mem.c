// SPDX-License-Identifier: GPL-2.0
/*
 * vbd_mem.c - guest memory of the userspace virtio-blk driver.
 *
 * The process maps "guest memory" once and lays one or two regions over
 * it at guest-physical addresses (GPAs) that differ from its own virtual
 * addresses. A bitmap per region allocates it in VBLK_GRANULE units; the
 * rest of the driver and its callers reach it only by GPA through the
 * translation and copy helpers here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vbd_priv.h"
#include "util.h"

#define BITS_PER_U64	64

static bool bit_test(const uint64_t *bm, size_t i)
{
	return bm[i / BITS_PER_U64] & (1ULL << (i % BITS_PER_U64));
}

static void bits_assign(uint64_t *bm, size_t start, size_t n, bool set)
{
	for (size_t i = start; i < start + n; i++) {
		if (set)
			bm[i / BITS_PER_U64] |= 1ULL << (i % BITS_PER_U64);
		else
			bm[i / BITS_PER_U64] &= ~(1ULL << (i % BITS_PER_U64));
	}
}

/* First run of @n free granules aligned to @a in [from, to), or SIZE_MAX. */
static size_t find_run(const struct vblk_region *r, size_t from, size_t to,
		       size_t n, size_t a)
{
	size_t i = round_up_u64(from, a);

	while (i + n <= to) {
		size_t k;

		for (k = 0; k < n; k++)
			if (bit_test(r->bitmap, i + k))
				break;
		if (k == n)
			return i;
		i = round_up_u64(i + k + 1, a);
	}
	return SIZE_MAX;
}

int vblk_alloc_in(struct vblk_dev *d, unsigned int region, size_t len,
		  size_t align, uint64_t *gpa)
{
	struct vblk_region *r;
	size_t n, a, i;

	if (region >= d->nregions || !len || (align & (align - 1)))
		return -EINVAL;
	r = &d->regions[region];
	n = (len + VBLK_GRANULE - 1) / VBLK_GRANULE;
	a = align > VBLK_GRANULE ? align / VBLK_GRANULE : 1;
	if (n > r->ngranules)
		return -ENOMEM;

	i = find_run(r, r->cursor, r->ngranules, n, a);
	if (i == SIZE_MAX)
		i = find_run(r, 0, r->ngranules, n, a);
	if (i == SIZE_MAX)
		return -ENOMEM;

	bits_assign(r->bitmap, i, n, true);
	r->cursor = i + n;
	memset(r->hva + i * VBLK_GRANULE, 0, n * VBLK_GRANULE);
	*gpa = r->gpa + i * VBLK_GRANULE;
	return 0;
}

int vblk_alloc(struct vblk_dev *d, size_t len, size_t align, uint64_t *gpa)
{
	for (unsigned int i = 0; i < d->nregions; i++)
		if (!vblk_alloc_in(d, i, len, align, gpa))
			return 0;
	return -ENOMEM;
}

typedef int (*piece_fn)(struct vblk_region *r, size_t g, size_t n);

/* Call @fn for each (region, first granule, count) piece of a GPA range. */
static int for_each_piece(struct vblk_dev *d, uint64_t gpa, size_t len,
			  piece_fn fn)
{
	uint64_t start = gpa / VBLK_GRANULE * VBLK_GRANULE;
	uint64_t end = round_up_u64(gpa + len, VBLK_GRANULE);

	while (start < end) {
		struct vblk_region *r = NULL;
		uint64_t stop;
		int ret;

		for (unsigned int i = 0; i < d->nregions; i++) {
			if (start >= d->regions[i].gpa &&
			    start < d->regions[i].gpa + d->regions[i].size) {
				r = &d->regions[i];
				break;
			}
		}
		if (!r)
			return -EFAULT;
		stop = end < r->gpa + r->size ? end : r->gpa + r->size;
		ret = fn(r, (start - r->gpa) / VBLK_GRANULE,
			 (stop - start) / VBLK_GRANULE);
		if (ret)
			return ret;
		start = stop;
	}
	return 0;
}

static int piece_check_free(struct vblk_region *r, size_t g, size_t n)
{
	for (size_t i = g; i < g + n; i++)
		if (bit_test(r->bitmap, i))
			return -EBUSY;
	return 0;
}

static int piece_set(struct vblk_region *r, size_t g, size_t n)
{
	bits_assign(r->bitmap, g, n, true);
	memset(r->hva + g * VBLK_GRANULE, 0, n * VBLK_GRANULE);
	return 0;
}

static int piece_clear(struct vblk_region *r, size_t g, size_t n)
{
	bits_assign(r->bitmap, g, n, false);
	return 0;
}

int vblk_mem_reserve(struct vblk_dev *d, uint64_t gpa, size_t len)
{
	int ret;

	if (!len)
		return -EINVAL;
	ret = for_each_piece(d, gpa, len, piece_check_free);
	if (ret)
		return ret;
	return for_each_piece(d, gpa, len, piece_set);
}

void vblk_free(struct vblk_dev *d, uint64_t gpa, size_t len)
{
	if (len)
		for_each_piece(d, gpa, len, piece_clear);
}

void *vblk_gpa_to_hva(const struct vblk_dev *d, uint64_t gpa, size_t len)
{
	if (!len)
		len = 1;
	for (unsigned int i = 0; i < d->nregions; i++) {
		const struct vblk_region *r = &d->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size &&
		    len <= r->size - (gpa - r->gpa))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

uint64_t vblk_hva_to_gpa(const struct vblk_dev *d, const void *hva)
{
	const uint8_t *p = hva;

	for (unsigned int i = 0; i < d->nregions; i++) {
		const struct vblk_region *r = &d->regions[i];

		if (p >= r->hva && p < r->hva + r->size)
			return r->gpa + (uint64_t)(p - r->hva);
	}
	return 0;
}

static int mem_copy(const struct vblk_dev *d, uint64_t gpa, void *buf,
		    size_t len, bool to_guest)
{
	uint8_t *b = buf;

	while (len) {
		const struct vblk_region *r = NULL;
		size_t chunk;
		uint8_t *p;

		for (unsigned int i = 0; i < d->nregions; i++) {
			if (gpa >= d->regions[i].gpa &&
			    gpa - d->regions[i].gpa < d->regions[i].size) {
				r = &d->regions[i];
				break;
			}
		}
		if (!r)
			return -EFAULT;
		chunk = r->size - (gpa - r->gpa);
		if (chunk > len)
			chunk = len;
		p = r->hva + (gpa - r->gpa);
		if (to_guest)
			memcpy(p, b, chunk);
		else
			memcpy(b, p, chunk);
		gpa += chunk;
		b += chunk;
		len -= chunk;
	}
	return 0;
}

int vblk_mem_write(struct vblk_dev *d, uint64_t gpa, const void *src,
		   size_t len)
{
	return mem_copy(d, gpa, (void *)src, len, true);
}

int vblk_mem_read(const struct vblk_dev *d, uint64_t gpa, void *dst,
		  size_t len)
{
	return mem_copy(d, gpa, dst, len, false);
}

/*
 * Guest memory a backend process can map: a memfd, its first half (all
 * of it for VBLK_MEM_ONE) at @map and its second half one page above.
 */
static int map_shared(struct vblk_dev *d, const struct vblk_opts *o,
		      uint8_t *map, size_t size)
{
	int flags = MAP_SHARED | MAP_FIXED | (o->populate ? MAP_POPULATE : 0);
	size_t first = o->layout == VBLK_MEM_ONE ? size : size / 2;

	d->mem_fd = memfd_create("vblk-guest-memory", MFD_CLOEXEC);
	if (d->mem_fd < 0)
		return -errno;
	if (ftruncate(d->mem_fd, size))
		return -errno;
	if (mmap(map, first, PROT_READ | PROT_WRITE, flags, d->mem_fd, 0) ==
	    MAP_FAILED)
		return -errno;
	if (first < size &&
	    mmap(map + first + PAGE_SZ, size - first, PROT_READ | PROT_WRITE,
		 flags, d->mem_fd, first) == MAP_FAILED)
		return -errno;
	return 0;
}

/*
 * Map guest memory as @o lays it out: private anonymous memory, or with
 * @shared a memfd a backend can map too.
 */
int vbd_mem_map(struct vblk_dev *d, const struct vblk_opts *o, bool shared)
{
	size_t size = o->mem_size, half;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	uint8_t *map;
	int ret;

	if (o->populate && !shared)
		flags |= MAP_POPULATE;
	if (!size || size % (2 * PAGE_SZ))
		return -EINVAL;
	half = size / 2;

	d->map_len = o->layout == VBLK_MEM_ONE ? size : size + PAGE_SZ;
	/* Shared: reserve the range here, map the memfd over it below. */
	map = mmap(NULL, d->map_len,
		   shared ? PROT_NONE : PROT_READ | PROT_WRITE, flags,
		   -1, 0);
	if (map == MAP_FAILED)
		return -errno;
	d->map = map;
	if (shared) {
		ret = map_shared(d, o, map, size);
		if (ret)
			return ret;
	}

	switch (o->layout) {
	case VBLK_MEM_ONE:
		d->nregions = 1;
		d->regions[0] = (struct vblk_region){
			.gpa = o->gpa_base, .size = size, .hva = map };
		break;
	case VBLK_MEM_SPLIT:
		d->nregions = 2;
		d->regions[0] = (struct vblk_region){
			.gpa = o->gpa_base, .size = half, .hva = map };
		d->regions[1] = (struct vblk_region){
			.gpa = o->gpa_base + VBLK_GPA_SPLIT_GAP, .size = half,
			.hva = map + half + PAGE_SZ };
		break;
	case VBLK_MEM_ADJACENT:
		d->nregions = 2;
		d->regions[0] = (struct vblk_region){
			.gpa = o->gpa_base, .size = half,
			.hva = map + half + PAGE_SZ };
		d->regions[1] = (struct vblk_region){
			.gpa = o->gpa_base + half, .size = half, .hva = map };
		break;
	default:
		return -EINVAL;
	}
	/* A hole between the regions catches accesses that run off one. */
	if (o->layout != VBLK_MEM_ONE && munmap(map + half, PAGE_SZ))
		return -errno;

	for (unsigned int i = 0; i < d->nregions; i++) {
		struct vblk_region *r = &d->regions[i];
		size_t off = r->hva - map;

		/* Above the hole the memfd offset is one page less. */
		r->fd_offset = off > half ? off - PAGE_SZ : off;
		r->ngranules = r->size / VBLK_GRANULE;
		r->bitmap = calloc((r->ngranules + BITS_PER_U64 - 1) /
				   BITS_PER_U64, sizeof(uint64_t));
		if (!r->bitmap)
			return -ENOMEM;
	}
	return 0;
}

/* Undo vbd_mem_map(), also a partial one. */
void vbd_mem_unmap(struct vblk_dev *d)
{
	if (d->mem_fd >= 0)
		close(d->mem_fd);
	d->mem_fd = -1;
	for (unsigned int i = 0; i < d->nregions; i++)
		free(d->regions[i].bitmap);
	d->nregions = 0;
	if (d->map)
		munmap(d->map, d->map_len);
	d->map = NULL;
}
