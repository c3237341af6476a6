// SPDX-License-Identifier: GPL-2.0
/*
 * virtio_blk_drv - a userspace virtio-blk driver for /dev/vhost-blk.
 *
 * Ring accesses follow drivers/virtio/virtio_ring.c: the driver writes a
 * descriptor chain, then the avail ring entry, then (after a write barrier)
 * avail->idx; it reads used->idx and then (after a read barrier) the used
 * entries. A full barrier separates publishing from the notification check.
 */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vhost_blk_ctl.h"
#include "vhost_user.h"
#include "virtio_blk_drv.h"
#include "util.h"

/* Buffers of a chain handled without a heap allocation. */
#define VBLK_STACK_BUFS	32
#define BITS_PER_U64	64

/*
 * The device runs on other CPUs: the usual SMP barriers. wmb() orders
 * ring writes before the index that publishes them, rmb() the index
 * before the entries it covers, mb() a publish before the following
 * read of the other side's event index or flags.
 */
#define wmb()	__atomic_thread_fence(__ATOMIC_RELEASE)	/* see above */
#define rmb()	__atomic_thread_fence(__ATOMIC_ACQUIRE)	/* see above */
#define mb()	__atomic_thread_fence(__ATOMIC_SEQ_CST)	/* see above */

#define READ_ONCE16(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
#define WRITE_ONCE16(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)

static inline uint64_t round_up_u64(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

static inline uint16_t *used_event_p(struct vblk_vq *vq)
{
	return (uint16_t *)&vq->avail->ring[vq->num];
}

static inline uint16_t *avail_event_p(struct vblk_vq *vq)
{
	return (uint16_t *)&vq->used->ring[vq->num];
}

/* ---- guest memory ---- */

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

/* ---- device ---- */

/*
 * Guest memory a vhost-user backend can map: a memfd, its first half (all
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

static int map_guest_memory(struct vblk_dev *d, const struct vblk_opts *o)
{
	size_t size = o->mem_size, half;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	uint8_t *map;
	int ret;

	if (o->populate && !o->vhost_user)
		flags |= MAP_POPULATE;
	if (!size || size % (2 * PAGE_SZ))
		return -EINVAL;
	half = size / 2;

	d->map_len = o->layout == VBLK_MEM_ONE ? size : size + PAGE_SZ;
	/* vhost-user: reserve the range here, map the memfd over it below. */
	map = mmap(NULL, d->map_len,
		   o->vhost_user ? PROT_NONE : PROT_READ | PROT_WRITE, flags,
		   -1, 0);
	if (map == MAP_FAILED)
		return -errno;
	d->map = map;
	if (o->vhost_user) {
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

int vblk_dev_open(struct vblk_dev **dp, const struct vblk_opts *opts)
{
	struct vblk_opts def = VBLK_OPTS_DEFAULT;
	struct vblk_dev *d;
	int ret;

	if (!opts)
		opts = &def;
	if (opts->num_queues > VHOST_BLK_MAX_QUEUES || !opts->queue_size ||
	    opts->queue_size > 32768 ||
	    (opts->queue_size & (opts->queue_size - 1)))
		return -EINVAL;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->fd = -1;
	d->mem_fd = -1;
	d->log_fd = -1;
	d->inflight_fd = -1;
	d->log_efd = -1;
	d->backend_req_fd = -1;
	d->want_backend_req = opts->vhost_user_backend_req;
	d->max_queues = VHOST_BLK_MAX_QUEUES;
	d->num_queues = opts->num_queues;
	d->queue_size = opts->queue_size;
	for (unsigned int i = 0; i < VHOST_BLK_MAX_QUEUES; i++) {
		struct vblk_vq *vq = &d->vqs[i];

		vq->dev = d;
		vq->index = i;
		vq->kick_fd = -1;
		vq->call_fd = -1;
		vq->err_fd = -1;
	}

	ret = map_guest_memory(d, opts);
	if (!ret && opts->vhost_user) {
		ret = vhost_user_connect_wait(&d->vu, opts->vhost_user,
					      opts->vhost_user_wait_ms,
					      VBLK_VU_TIMEOUT_MS);
	} else if (!ret) {
		d->fd = vhost_blk_open(opts->path);
		if (d->fd < 0)
			ret = d->fd;
	}
	if (ret) {
		vblk_dev_destroy(d);
		return ret;
	}
	*dp = d;
	return 0;
}

unsigned int vblk_dev_mem_regions(const struct vblk_dev *d,
				  struct vhost_memory_region *out)
{
	for (unsigned int i = 0; i < d->nregions; i++) {
		out[i] = (struct vhost_memory_region){
			.guest_phys_addr = d->regions[i].gpa,
			.memory_size = d->regions[i].size,
			.userspace_addr = (uintptr_t)d->regions[i].hva,
		};
	}
	return d->nregions;
}

bool vblk_dev_is_vhost_user(const struct vblk_dev *d)
{
	return d->vu;
}

int vblk_dev_set_mem_table(struct vblk_dev *d)
{
	struct vhost_memory_region regions[VBLK_MAX_REGIONS];
	struct vhost_user_region ur[VBLK_MAX_REGIONS];
	int fds[VBLK_MAX_REGIONS];
	unsigned int n = vblk_dev_mem_regions(d, regions);

	if (!d->vu)
		return vhost_blk_set_mem_table(d->fd, regions, n);
	for (unsigned int i = 0; i < n; i++) {
		ur[i] = (struct vhost_user_region){
			.guest_phys_addr = regions[i].guest_phys_addr,
			.memory_size = regions[i].memory_size,
			.userspace_addr = regions[i].userspace_addr,
			.mmap_offset = d->regions[i].fd_offset,
		};
		fds[i] = d->mem_fd;
	}
	return vhost_user_set_mem_table(d->vu, ur, fds, n);
}

/* What the driver asks of a vhost-user backend. */
#define VBLK_VU_PROTOCOL_FEATURES				\
	((1ULL << VHOST_USER_PROTOCOL_F_MQ) |			\
	 (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) |		\
	 (1ULL << VHOST_USER_PROTOCOL_F_CONFIG) |		\
	 (1ULL << VHOST_USER_PROTOCOL_F_RESET_DEVICE) |		\
	 (1ULL << VHOST_USER_PROTOCOL_F_LOG_SHMFD) |		\
	 (1ULL << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))

/*
 * SET_BACKEND_REQ_FD: one end of a socket pair to the backend, the other
 * kept in d->backend_req_fd.
 */
static int vu_backend_channel(struct vblk_dev *d)
{
	int sv[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	ret = vhost_user_set_backend_req_fd(d->vu, sv[1]);
	close(sv[1]);
	if (ret) {
		close(sv[0]);
		return ret;
	}
	if (d->backend_req_fd >= 0)
		close(d->backend_req_fd);
	d->backend_req_fd = sv[0];
	return 0;
}

/*
 * INFLIGHT_SHMFD, as QEMU's vhost-user-blk does before it starts the
 * rings: the backend's regions for our queues, asked for once (again
 * after a reset), handed back to every backend with SET_INFLIGHT_FD.
 */
static int vu_inflight(struct vblk_dev *d, bool keep)
{
	struct vhost_user_conn *c = d->vu;
	unsigned int nq = d->num_queues ? d->num_queues : 1;
	int ret;

	if (!(c->protocol_features &
	      (1ULL << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)))
		return 0;
	if (!keep || d->inflight_fd < 0) {
		if (d->inflight_fd >= 0)
			close(d->inflight_fd);
		if (nq > d->max_queues)
			nq = d->max_queues;
		d->inflight_nq = nq;
		ret = vhost_user_get_inflight_fd(c, nq, d->queue_size,
						 &d->inflight_fd,
						 &d->inflight_size,
						 &d->inflight_offset);
		if (ret)
			return ret;
	}
	return vhost_user_set_inflight_fd(c, d->inflight_fd, d->inflight_size,
					  d->inflight_offset, d->inflight_nq,
					  d->queue_size);
}

/* @reconnect: a new backend for the device as it is; keep the features. */
static int vu_setup(struct vblk_dev *d, uint64_t features_clear,
		    bool reconnect)
{
	const uint64_t proto = 1ULL << VHOST_USER_F_PROTOCOL_FEATURES;
	const uint64_t breq = 1ULL << VHOST_USER_PROTOCOL_F_BACKEND_REQ;
	struct vhost_user_conn *c = d->vu;
	uint64_t f, pf = 0, n = 1;
	int ret;

	ret = vhost_user_get_features(c, &f);
	if (ret)
		return ret;
	d->vu_protocol = f & proto;
	d->features_offered = f & ~proto;
	if (d->vu_protocol) {
		ret = vhost_user_get_protocol_features(c, &pf);
		if (!d->want_backend_req)
			pf &= ~breq;
		if (!ret)
			ret = vhost_user_set_protocol_features(c, pf &
					(VBLK_VU_PROTOCOL_FEATURES | breq));
		if (!ret && (pf & breq))
			ret = vu_backend_channel(d);
		if (!ret && (pf & (1ULL << VHOST_USER_PROTOCOL_F_MQ)))
			ret = vhost_user_get_queue_num(c, &n);
		if (ret)
			return ret;
	}
	if (reconnect && (d->features & ~d->features_offered ||
			  n < d->max_queues))
		return -EPROTO;
	d->max_queues = n < VHOST_BLK_MAX_QUEUES ? n : VHOST_BLK_MAX_QUEUES;
	ret = vhost_user_set_owner(c);
	if (ret)
		return ret;
	if (!reconnect)
		d->features = d->features_offered & VBLK_DRV_FEATURES &
			      ~features_clear;
	ret = vhost_user_set_features(c, d->features | (f & proto));
	if (!ret)
		ret = vblk_dev_set_mem_table(d);
	if (!ret)
		ret = vu_inflight(d, reconnect);
	return ret;
}

int vblk_dev_setup(struct vblk_dev *d, uint64_t features_clear)
{
	int ret;

	if (d->vu)
		return vu_setup(d, features_clear, false);
	ret = vhost_blk_set_owner(d->fd);
	if (ret)
		return ret;
	ret = vhost_blk_get_features(d->fd, &d->features_offered);
	if (ret)
		return ret;
	d->features = d->features_offered & VBLK_DRV_FEATURES &
		      ~features_clear;
	ret = vhost_blk_set_features(d->fd, d->features);
	if (ret)
		return ret;
	return vblk_dev_set_mem_table(d);
}

static int vu_read_config(struct vblk_dev *d)
{
	/* Backends built against older headers know a shorter config. */
	static const uint32_t sizes[] = {
		sizeof(struct virtio_blk_config), 60,
		offsetof(struct virtio_blk_config, num_queues) + 2,
	};
	int ret = -EINVAL;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(&d->cfg, 0, sizeof(d->cfg));
		ret = vhost_user_get_config(d->vu, 0, &d->cfg, sizes[i]);
		if (ret != -EIO)
			break;
	}
	d->cfg_features = d->features_offered;
	return ret;
}

int vblk_dev_read_config(struct vblk_dev *d)
{
	if (d->vu)
		return vu_read_config(d);
	return vhost_blk_get_config(d->fd, &d->cfg, &d->cfg_features, NULL);
}

int vblk_dev_attach(struct vblk_dev *d, int backend_fd, uint64_t flags,
		    const char *serial)
{
	int ret;

	if (d->vu)
		return vu_read_config(d);
	ret = vhost_blk_set_backend(d->fd, backend_fd, flags, serial);

	if (ret || backend_fd < 0)
		return ret;
	return vblk_dev_read_config(d);
}

int vblk_dev_create(struct vblk_dev **dp, const struct vblk_opts *opts,
		    int backend_fd, uint64_t flags, const char *serial)
{
	struct vblk_opts def = VBLK_OPTS_DEFAULT;
	struct vblk_dev *d;
	int ret;

	if (!opts)
		opts = &def;
	ret = vblk_dev_open(&d, opts);
	if (ret)
		return ret;
	ret = vblk_dev_setup(d, opts->features_clear);
	if (!ret)
		ret = vblk_dev_attach(d, backend_fd, flags, serial);
	for (unsigned int i = 0; !ret && i < opts->num_queues; i++)
		ret = vblk_vq_start(d, i, 0);
	if (ret) {
		vblk_dev_destroy(d);
		return ret;
	}
	*dp = d;
	return 0;
}

int vblk_dev_reset_owner(struct vblk_dev *d)
{
	int ret;

	if (!d->vu)
		ret = vhost_blk_reset_owner(d->fd);
	else if (d->vu->protocol_features &
		 (1ULL << VHOST_USER_PROTOCOL_F_RESET_DEVICE))
		ret = vhost_user_reset_device(d->vu);
	else
		ret = vhost_user_reset_owner(d->vu);

	if (ret)
		return ret;
	for (unsigned int i = 0; i < VHOST_BLK_MAX_QUEUES; i++)
		d->vqs[i].started = false;
	return 0;
}

void vblk_dev_close_fd(struct vblk_dev *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	if (d->vu && d->vu->sock >= 0) {
		close(d->vu->sock);
		d->vu->sock = -1;
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void vblk_dev_destroy(struct vblk_dev *d)
{
	if (!d)
		return;
	/* The device goes first: it must not touch memory freed below. */
	vblk_dev_close_fd(d);
	vhost_user_disconnect(d->vu);
	d->vu = NULL;
	if (d->mem_fd >= 0)
		close(d->mem_fd);
	if (d->log)
		munmap(d->log, d->log_size);
	close_fd(&d->log_fd);
	close_fd(&d->inflight_fd);
	close_fd(&d->log_efd);
	close_fd(&d->backend_req_fd);
	for (unsigned int i = 0; i < VHOST_BLK_MAX_QUEUES; i++) {
		struct vblk_vq *vq = &d->vqs[i];

		close_fd(&vq->kick_fd);
		close_fd(&vq->call_fd);
		close_fd(&vq->err_fd);
		free(vq->next);
		free(vq->slots);
	}
	for (unsigned int i = 0; i < d->nregions; i++)
		free(d->regions[i].bitmap);
	if (d->map)
		munmap(d->map, d->map_len);
	free(d);
}

uint64_t vblk_dev_capacity(const struct vblk_dev *d)
{
	return le64toh(d->cfg.capacity);
}

bool vblk_dev_has_feature(const struct vblk_dev *d, unsigned int bit)
{
	return d->features & (1ULL << bit);
}

uint32_t vblk_dev_size_max(const struct vblk_dev *d)
{
	uint32_t v = le32toh(d->cfg.size_max);

	if (!vblk_dev_has_feature(d, VIRTIO_BLK_F_SIZE_MAX) || !v)
		return UINT32_MAX;
	return v;
}

uint32_t vblk_dev_seg_max(const struct vblk_dev *d)
{
	uint32_t v = le32toh(d->cfg.seg_max);

	if (!vblk_dev_has_feature(d, VIRTIO_BLK_F_SEG_MAX) || !v)
		return d->queue_size;
	return v;
}

/* ---- virtqueues ---- */

static size_t desc_bytes(unsigned int num)
{
	return sizeof(struct vring_desc) * num;
}

static size_t avail_bytes(unsigned int num)
{
	return sizeof(struct vring_avail) + sizeof(__u16) * (num + 1);
}

static size_t used_bytes(unsigned int num)
{
	return sizeof(struct vring_used) +
	       sizeof(struct vring_used_elem) * num + sizeof(__u16);
}

static void free_rings(struct vblk_vq *vq)
{
	struct vblk_dev *d = vq->dev;

	if (!vq->ring_num)
		return;
	vblk_free(d, vq->desc_gpa, desc_bytes(vq->ring_num));
	vblk_free(d, vq->avail_gpa, avail_bytes(vq->ring_num));
	vblk_free(d, vq->used_gpa, used_bytes(vq->ring_num));
	vq->ring_num = 0;
}

static int alloc_rings(struct vblk_vq *vq, unsigned int num)
{
	struct vblk_dev *d = vq->dev;
	int ret;

	if (vq->ring_num == num)
		return 0;
	free_rings(vq);
	/* Rings stay in region 0 so each part is contiguous in the owner. */
	ret = vblk_alloc_in(d, 0, desc_bytes(num), PAGE_SZ, &vq->desc_gpa);
	if (ret)
		return ret;
	ret = vblk_alloc_in(d, 0, avail_bytes(num), PAGE_SZ, &vq->avail_gpa);
	if (ret) {
		vblk_free(d, vq->desc_gpa, desc_bytes(num));
		return ret;
	}
	ret = vblk_alloc_in(d, 0, used_bytes(num), PAGE_SZ, &vq->used_gpa);
	if (ret) {
		vblk_free(d, vq->desc_gpa, desc_bytes(num));
		vblk_free(d, vq->avail_gpa, avail_bytes(num));
		return ret;
	}
	vq->ring_num = num;
	vq->desc = vblk_gpa_to_hva(d, vq->desc_gpa, desc_bytes(num));
	vq->avail = vblk_gpa_to_hva(d, vq->avail_gpa, avail_bytes(num));
	vq->used = vblk_gpa_to_hva(d, vq->used_gpa, used_bytes(num));
	return 0;
}

static int new_eventfd(int *fd)
{
	uint64_t v;

	if (*fd < 0) {
		*fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (*fd < 0)
			return -errno;
	}
	/* Drop a count left from an earlier life of the queue. */
	if (read(*fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

static void release_chains(struct vblk_vq *vq)
{
	if (!vq->slots)
		return;
	for (unsigned int i = 0; i < vq->num; i++)
		if (vq->slots[i].busy && vq->slots[i].indirect_gpa)
			vblk_free(vq->dev, vq->slots[i].indirect_gpa,
				  vq->slots[i].indirect_len);
}

/* VHOST_VRING_F_LOG while the device logs. */
static unsigned int log_flags(const struct vblk_vq *vq)
{
	return vq->dev->log_on ? 1U << VHOST_VRING_F_LOG : 0;
}

/* The vhost-user order of QEMU: ring, eventfds, kick, then enable. */
static int vu_start(struct vblk_vq *vq, unsigned int base)
{
	struct vhost_user_conn *c = vq->dev->vu;
	unsigned int i = vq->index;
	int ret;

	if (i >= vq->dev->max_queues)
		return -EINVAL;
	ret = vhost_user_set_vring_num(c, i, vq->num);
	if (!ret)
		ret = vhost_user_set_vring_base(c, i, base);
	if (!ret)
		ret = vhost_user_set_vring_addr_log(c, i, (uintptr_t)vq->desc,
						    (uintptr_t)vq->avail,
						    (uintptr_t)vq->used,
						    log_flags(vq), vq->used_gpa);
	if (!ret)
		ret = vhost_user_set_vring_call(c, i, vq->call_fd);
	if (!ret)
		ret = vhost_user_set_vring_err(c, i, vq->err_fd);
	if (!ret)
		ret = vhost_user_set_vring_kick(c, i, vq->kick_fd);
	if (!ret && vq->dev->vu_protocol)
		ret = vhost_user_set_vring_enable(c, i, true);
	return ret;
}

static int start_ioctls(struct vblk_vq *vq, unsigned int base)
{
	int fd = vq->dev->fd;
	int ret;

	if (vq->dev->vu)
		return vu_start(vq, base);

	ret = vhost_blk_set_vring_num(fd, vq->index, vq->num);
	if (!ret)
		ret = vhost_blk_set_vring_addr_log(fd, vq->index,
						   (uintptr_t)vq->desc,
						   (uintptr_t)vq->avail,
						   (uintptr_t)vq->used,
						   log_flags(vq), vq->used_gpa);
	if (!ret)
		ret = vhost_blk_set_vring_base(fd, vq->index, base);
	if (!ret)
		ret = vhost_blk_set_vring_call(fd, vq->index, vq->call_fd);
	if (!ret)
		ret = vhost_blk_set_vring_err(fd, vq->index, vq->err_fd);
	if (!ret)
		ret = vhost_blk_set_vring_kick(fd, vq->index, vq->kick_fd);
	return ret;
}

int vblk_vq_start(struct vblk_dev *d, unsigned int index, uint16_t base)
{
	struct vblk_vq *vq;
	unsigned int num = d->queue_size;
	int ret;

	if (index >= VHOST_BLK_MAX_QUEUES)
		return -EINVAL;
	vq = &d->vqs[index];

	release_chains(vq);
	ret = alloc_rings(vq, num);
	if (ret)
		return ret;
	free(vq->next);
	free(vq->slots);
	vq->next = calloc(num, sizeof(*vq->next));
	vq->slots = calloc(num, sizeof(*vq->slots));
	if (!vq->next || !vq->slots)
		return -ENOMEM;

	vq->num = num;
	memset(vq->desc, 0, desc_bytes(num));
	memset(vq->avail, 0, avail_bytes(num));
	memset(vq->used, 0, used_bytes(num));
	vq->avail->idx = htole16(base);
	vq->used->idx = htole16(base);
	vq->avail_idx = base;
	vq->kicked_idx = base;
	vq->last_used = base;
	for (unsigned int i = 0; i < num; i++)
		vq->next[i] = (i + 1) % num;
	vq->free_head = 0;
	vq->num_free = num;
	vq->inflight = 0;
	vq->kicks = 0;
	vq->kicks_suppressed = 0;
	vq->event_idx = vblk_dev_has_feature(d, VIRTIO_RING_F_EVENT_IDX);
	if (vq->event_idx) {
		*used_event_p(vq) = htole16(base);
		/* Until the device says otherwise, kick on the first entry. */
		*avail_event_p(vq) = htole16(base);
	}

	ret = new_eventfd(&vq->kick_fd);
	if (!ret)
		ret = new_eventfd(&vq->call_fd);
	if (!ret)
		ret = new_eventfd(&vq->err_fd);
	if (ret)
		return ret;

	/* The rings are ready before the device may look at them. */
	mb();
	ret = start_ioctls(vq, base);
	vq->started = !ret;
	return ret;
}

int vblk_vq_restart(struct vblk_vq *vq, unsigned int base)
{
	int ret = start_ioctls(vq, base);

	vq->started = !ret;
	return ret;
}

int vblk_dev_reconnect(struct vblk_dev *d, const char *path, int wait_ms)
{
	int ret;

	if (!d->vu)
		return -EOPNOTSUPP;
	vhost_user_disconnect(d->vu);
	d->vu = NULL;
	ret = vhost_user_connect_wait(&d->vu, path, wait_ms,
				      VBLK_VU_TIMEOUT_MS);
	if (!ret)
		ret = vu_setup(d, 0, true);
	for (unsigned int i = 0; !ret && i < VHOST_BLK_MAX_QUEUES; i++) {
		struct vblk_vq *vq = &d->vqs[i];

		if (!vq->started)
			continue;
		/* What QEMU restores when GET_VRING_BASE cannot be asked. */
		ret = vu_start(vq, le16toh(vq->used->idx));
	}
	return ret;
}

int vblk_vq_stop(struct vblk_vq *vq, unsigned int *base)
{
	int ret;

	if (vq->dev->vu)
		ret = vhost_user_get_vring_base(vq->dev->vu, vq->index, base);
	else
		ret = vhost_blk_get_vring_base(vq->dev->fd, vq->index, base);
	if (!ret)
		vq->started = false;
	return ret;
}

int vblk_vq_set_enable(struct vblk_vq *vq, bool enable)
{
	if (!vq->dev->vu)
		return -EOPNOTSUPP;
	return vhost_user_set_vring_enable(vq->dev->vu, vq->index, enable);
}

static int pop_desc(struct vblk_vq *vq, unsigned int n, uint16_t *ids)
{
	uint16_t id;

	if (n > vq->num_free)
		return -ENOSPC;
	id = vq->free_head;
	for (unsigned int i = 0; i < n; i++) {
		ids[i] = id;
		id = vq->next[id];
	}
	vq->free_head = id;
	vq->num_free -= n;
	return 0;
}

static void push_desc(struct vblk_vq *vq, uint16_t head, unsigned int n)
{
	uint16_t last = head;

	for (unsigned int i = 1; i < n; i++)
		last = vq->next[last];
	vq->next[last] = vq->free_head;
	vq->free_head = head;
	vq->num_free += n;
}

void vblk_vq_set_desc(struct vblk_vq *vq, uint16_t id, uint64_t addr,
		      uint32_t len, uint16_t flags, uint16_t next)
{
	write_desc(&vq->desc[id % vq->num], addr, len, flags, next);
}

void vblk_vq_push_avail(struct vblk_vq *vq, uint16_t head)
{
	vq->avail->ring[vq->avail_idx & (vq->num - 1)] = htole16(head);
	/* The entry must be visible before the index that covers it. */
	wmb();
	vq->avail_idx++;
	WRITE_ONCE16(&vq->avail->idx, htole16(vq->avail_idx));
}

void vblk_vq_set_avail_idx(struct vblk_vq *vq, uint16_t idx)
{
	/* Ring entries written before are visible before the index. */
	wmb();
	vq->avail_idx = idx;
	WRITE_ONCE16(&vq->avail->idx, htole16(idx));
}

uint16_t vblk_vq_used_idx(const struct vblk_vq *vq)
{
	return le16toh(READ_ONCE16(&vq->used->idx));
}

uint16_t vblk_vq_avail_event(const struct vblk_vq *vq)
{
	return le16toh(READ_ONCE16((const uint16_t *)&vq->used->ring[vq->num]));
}

static void start_slot(struct vblk_vq *vq, uint16_t head, unsigned int ndesc,
		       struct vblk_req *req, uint64_t ind_gpa, uint32_t ind_len)
{
	vq->slots[head] = (struct vblk_slot){
		.req = req,
		.ndesc = ndesc,
		.busy = true,
		.indirect_gpa = ind_gpa,
		.indirect_len = ind_len,
	};
	if (req) {
		req->done = false;
		req->head = head;
		req->used_len = 0;
	}
	vq->inflight++;
}

int vblk_vq_add(struct vblk_vq *vq, const struct vblk_buf *bufs,
		unsigned int n, unsigned int flags, struct vblk_req *req)
{
	uint16_t stack_ids[VBLK_STACK_BUFS], *ids = stack_ids;
	int ret;

	if (!n || !vq->slots)
		return -EINVAL;
	if (n > VBLK_STACK_BUFS) {
		ids = malloc(n * sizeof(*ids));
		if (!ids)
			return -ENOMEM;
	}

	if (flags & VBLK_ADD_INDIRECT) {
		uint32_t tlen = n * sizeof(struct vring_desc);
		struct vring_desc *table;
		uint64_t tgpa;

		ret = pop_desc(vq, 1, ids);
		if (ret)
			goto out;
		ret = vblk_alloc(vq->dev, tlen, sizeof(struct vring_desc), &tgpa);
		if (ret) {
			push_desc(vq, ids[0], 1);
			goto out;
		}
		table = vblk_gpa_to_hva(vq->dev, tgpa, tlen);
		for (unsigned int i = 0; i < n; i++)
			write_desc(&table[i], bufs[i].gpa, bufs[i].len,
				   (bufs[i].write ? VRING_DESC_F_WRITE : 0) |
				   (i + 1 < n ? VRING_DESC_F_NEXT : 0),
				   i + 1 < n ? i + 1 : 0);
		write_desc(&vq->desc[ids[0]], tgpa, tlen,
			   VRING_DESC_F_INDIRECT, 0);
		start_slot(vq, ids[0], 1, req, tgpa, tlen);
	} else {
		ret = pop_desc(vq, n, ids);
		if (ret)
			goto out;
		for (unsigned int i = 0; i < n; i++)
			write_desc(&vq->desc[ids[i]], bufs[i].gpa, bufs[i].len,
				   (bufs[i].write ? VRING_DESC_F_WRITE : 0) |
				   (i + 1 < n ? VRING_DESC_F_NEXT : 0),
				   i + 1 < n ? ids[i + 1] : 0);
		start_slot(vq, ids[0], n, req, 0, 0);
	}
	vblk_vq_push_avail(vq, ids[0]);
	ret = ids[0];
out:
	if (ids != stack_ids)
		free(ids);
	return ret;
}

int vblk_vq_alloc_desc(struct vblk_vq *vq, unsigned int n, uint16_t *ids)
{
	if (!vq->slots)
		return -EINVAL;
	return pop_desc(vq, n, ids);
}

int vblk_vq_post_raw(struct vblk_vq *vq, const uint16_t *ids,
		     unsigned int ndesc, struct vblk_req *req)
{
	if (!ndesc || ids[0] >= vq->num || vq->slots[ids[0]].busy)
		return -EINVAL;
	/* Link the driver's private chain so the ids are freed on reap. */
	for (unsigned int i = 0; i + 1 < ndesc; i++)
		vq->next[ids[i]] = ids[i + 1];
	start_slot(vq, ids[0], ndesc, req, 0, 0);
	vblk_vq_push_avail(vq, ids[0]);
	return ids[0];
}

static int write_eventfd(int fd)
{
	uint64_t one = 1;

	return write(fd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

int vblk_vq_kick_force(struct vblk_vq *vq)
{
	vq->kicked_idx = vq->avail_idx;
	/* avail->idx is visible before the device is woken. */
	mb();
	vq->kicks++;
	return write_eventfd(vq->kick_fd);
}

int vblk_vq_kick(struct vblk_vq *vq)
{
	uint16_t old = vq->kicked_idx, new = vq->avail_idx;
	bool need;

	vq->kicked_idx = new;
	/* Publishing avail->idx must be ordered before reading the flags. */
	mb();
	if (vq->event_idx)
		need = vring_need_event(le16toh(READ_ONCE16(avail_event_p(vq))),
					new, old);
	else
		need = !(le16toh(READ_ONCE16(&vq->used->flags)) &
			 VRING_USED_F_NO_NOTIFY);
	if (!need) {
		vq->kicks_suppressed++;
		return 0;
	}
	vq->kicks++;
	return write_eventfd(vq->kick_fd);
}

unsigned int vblk_vq_pending(const struct vblk_vq *vq)
{
	return (uint16_t)(vblk_vq_used_idx(vq) - vq->last_used);
}

static void complete_one(struct vblk_vq *vq, struct vblk_used *u)
{
	struct vblk_slot *s;
	struct vblk_req *r;

	u->valid = false;
	u->req = NULL;
	if (u->id >= vq->num || !vq->slots[u->id].busy)
		return;
	s = &vq->slots[u->id];
	r = s->req;
	if (s->indirect_gpa)
		vblk_free(vq->dev, s->indirect_gpa, s->indirect_len);
	push_desc(vq, u->id, s->ndesc);
	*s = (struct vblk_slot){ 0 };
	vq->inflight--;
	u->valid = true;
	u->req = r;
	if (r) {
		r->used_len = u->len;
		if (r->status_gpa)
			vblk_mem_read(vq->dev, r->status_gpa, &r->status, 1);
		r->done = true;
	}
}

int vblk_vq_reap(struct vblk_vq *vq, struct vblk_used *out, unsigned int max)
{
	unsigned int count = 0;

	if (!vq->slots)
		return 0;
	do {
		uint16_t used_idx = vblk_vq_used_idx(vq);

		/* Entries are read only after the index that covers them. */
		rmb();
		while (count < max && vq->last_used != used_idx) {
			struct vring_used_elem *e;
			struct vblk_used u;

			e = &vq->used->ring[vq->last_used & (vq->num - 1)];
			u.id = le32toh(e->id);
			u.len = le32toh(e->len);
			vq->last_used++;
			complete_one(vq, &u);
			if (out)
				out[count] = u;
			count++;
		}
		if (vq->event_idx) {
			/* Ask for a call on the next used entry. */
			WRITE_ONCE16(used_event_p(vq), htole16(vq->last_used));
			/* Publish used_event, then look at used->idx again. */
			mb();
		}
	} while (count < max && vq->last_used != vblk_vq_used_idx(vq));
	return count;
}

int vblk_eventfd_wait(int efd, int timeout_ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t v;
	int ret;

	do {
		ret = poll(&p, 1, timeout_ms);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return -errno;
	if (!ret)
		return 0;
	if (read(efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	return 1;
}

int vblk_vq_wait(struct vblk_vq *vq, int timeout_ms)
{
	return vblk_eventfd_wait(vq->call_fd, timeout_ms);
}

static int remaining_ms(uint64_t deadline)
{
	uint64_t now = vblk_now_ns();

	if (now >= deadline)
		return 0;
	return (int)((deadline - now + 999999) / 1000000);
}

int vblk_vq_drain(struct vblk_vq *vq, int timeout_ms)
{
	uint64_t deadline = vblk_now_ns() + (uint64_t)timeout_ms * 1000000;

	for (;;) {
		int left, ret;

		vblk_vq_reap(vq, NULL, UINT_MAX);
		if (!vq->inflight)
			return 0;
		left = remaining_ms(deadline);
		if (!left)
			return -ETIMEDOUT;
		ret = vblk_vq_wait(vq, left);
		if (ret < 0)
			return ret;
	}
}

/* ---- requests ---- */

struct vblk_req *vblk_req_alloc(struct vblk_dev *d)
{
	struct vblk_req *r = calloc(1, sizeof(*r));
	uint64_t gpa;

	if (!r)
		return NULL;
	/* Header at +0, status at +32: one granule. */
	if (vblk_alloc(d, VBLK_GRANULE, VBLK_GRANULE, &gpa)) {
		free(r);
		return NULL;
	}
	r->hdr_gpa = gpa;
	r->status_gpa = gpa + 32;
	r->head = -1;
	return r;
}

void vblk_req_free(struct vblk_dev *d, struct vblk_req *r)
{
	if (!r)
		return;
	vblk_free(d, r->hdr_gpa, VBLK_GRANULE);
	free(r->segs);
	free(r);
}

void vblk_req_reset(struct vblk_req *r, uint32_t type, uint64_t sector)
{
	r->type = type;
	r->ioprio = 0;
	r->sector = sector;
	r->nsegs = 0;
	r->done = false;
	r->head = -1;
	r->used_len = 0;
	r->status = 0xff;
}

int vblk_req_add_seg(struct vblk_req *r, uint64_t gpa, uint32_t len)
{
	if (r->nsegs == r->segs_cap) {
		unsigned int cap = r->segs_cap ? r->segs_cap * 2 : 16;
		struct vblk_buf *s = realloc(r->segs, cap * sizeof(*s));

		if (!s)
			return -ENOMEM;
		r->segs = s;
		r->segs_cap = cap;
	}
	r->segs[r->nsegs++] = (struct vblk_buf){ .gpa = gpa, .len = len };
	return 0;
}

int vblk_req_add_data(const struct vblk_dev *d, struct vblk_req *r,
		      uint64_t gpa, size_t len)
{
	uint32_t max = vblk_dev_size_max(d);

	/* Whole sectors per segment where the limit allows. */
	if (max >= 1024)
		max &= ~511U;
	do {
		uint32_t n = len < max ? len : max;
		int ret = vblk_req_add_seg(r, gpa, n);

		if (ret)
			return ret;
		gpa += n;
		len -= n;
	} while (len);
	return 0;
}

size_t vblk_req_data_len(const struct vblk_req *r)
{
	size_t len = 0;

	for (unsigned int i = 0; i < r->nsegs; i++)
		len += r->segs[i].len;
	return len;
}

int vblk_req_write_data(struct vblk_dev *d, struct vblk_req *r,
			const void *buf)
{
	const uint8_t *p = buf;

	for (unsigned int i = 0; i < r->nsegs; i++) {
		int ret = vblk_mem_write(d, r->segs[i].gpa, p, r->segs[i].len);

		if (ret)
			return ret;
		p += r->segs[i].len;
	}
	return 0;
}

int vblk_req_read_data(struct vblk_dev *d, const struct vblk_req *r,
		       void *buf)
{
	uint8_t *p = buf;

	for (unsigned int i = 0; i < r->nsegs; i++) {
		int ret = vblk_mem_read(d, r->segs[i].gpa, p, r->segs[i].len);

		if (ret)
			return ret;
		p += r->segs[i].len;
	}
	return 0;
}

int vblk_req_submit(struct vblk_vq *vq, struct vblk_req *r,
		    unsigned int flags)
{
	struct vblk_dev *d = vq->dev;
	struct virtio_blk_outhdr hdr = {
		.type = htole32(r->type),
		.ioprio = htole32(r->ioprio),
		.sector = htole64(r->sector),
	};
	bool dev_writes = r->type == VIRTIO_BLK_T_IN ||
			  r->type == VIRTIO_BLK_T_GET_ID;
	struct vblk_buf stack_bufs[VBLK_STACK_BUFS], *bufs = stack_bufs;
	uint8_t status = 0xff;
	unsigned int n = 0;
	int ret;

	/* Most requests fit on the stack: no allocation per request. */
	if (r->nsegs + 2 > VBLK_STACK_BUFS) {
		bufs = calloc(r->nsegs + 2, sizeof(*bufs));
		if (!bufs)
			return -ENOMEM;
	}
	ret = vblk_mem_write(d, r->hdr_gpa, &hdr, sizeof(hdr));
	if (!ret)
		ret = vblk_mem_write(d, r->status_gpa, &status, 1);
	if (ret)
		goto out;

	bufs[n++] = (struct vblk_buf){ .gpa = r->hdr_gpa, .len = sizeof(hdr) };
	for (unsigned int i = 0; i < r->nsegs; i++) {
		bufs[n] = r->segs[i];
		bufs[n++].write = dev_writes;
	}
	bufs[n++] = (struct vblk_buf){ .gpa = r->status_gpa, .len = 1,
				       .write = true };
	r->status = 0xff;
	ret = vblk_vq_add(vq, bufs, n, flags, r);
out:
	if (bufs != stack_bufs)
		free(bufs);
	return ret;
}

int vblk_req_wait(struct vblk_vq *vq, struct vblk_req *r, int timeout_ms)
{
	uint64_t deadline = vblk_now_ns() + (uint64_t)timeout_ms * 1000000;

	for (;;) {
		int left, ret;

		vblk_vq_reap(vq, NULL, UINT_MAX);
		if (r->done)
			return 0;
		left = remaining_ms(deadline);
		if (!left)
			return -ETIMEDOUT;
		ret = vblk_vq_wait(vq, left);
		if (ret < 0)
			return ret;
	}
}

int vblk_do(struct vblk_vq *vq, struct vblk_req *r, unsigned int flags,
	    int timeout_ms)
{
	int ret = vblk_req_submit(vq, r, flags);

	if (ret < 0)
		return ret;
	ret = vblk_vq_kick(vq);
	if (ret)
		return ret;
	return vblk_req_wait(vq, r, timeout_ms);
}

/* ---- helpers ---- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t pattern_word(uint64_t sector, uint64_t seed, uint64_t word)
{
	return mix64(seed * 0x9e3779b97f4a7c15ULL + sector * 64 + word + 1);
}

void vblk_pattern_fill(void *buf, size_t len, uint64_t sector, uint64_t seed)
{
	uint8_t *p = buf;

	for (size_t off = 0; off < len; off += 8) {
		uint64_t w = htole64(pattern_word(sector + off / 512, seed,
						  (off % 512) / 8));
		size_t n = len - off < 8 ? len - off : 8;

		memcpy(p + off, &w, n);
	}
}

ssize_t vblk_pattern_check(const void *buf, size_t len, uint64_t sector,
			   uint64_t seed)
{
	const uint8_t *p = buf;

	for (size_t off = 0; off < len; off += 8) {
		uint64_t w = htole64(pattern_word(sector + off / 512, seed,
						  (off % 512) / 8));
		size_t n = len - off < 8 ? len - off : 8;

		if (memcmp(p + off, &w, n)) {
			const uint8_t *e = (const uint8_t *)&w;

			for (size_t i = 0; i < n; i++)
				if (p[off + i] != e[i])
					return off + i;
		}
	}
	return -1;
}

uint64_t vblk_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ---- dirty log ---- */

/* Bytes of a log covering every region, in whole 64-bit words. */
static size_t log_bytes(const struct vblk_dev *d)
{
	uint64_t end = 0;

	for (unsigned int i = 0; i < d->nregions; i++)
		if (d->regions[i].gpa + d->regions[i].size > end)
			end = d->regions[i].gpa + d->regions[i].size;
	return ((end / 4096 + 63) / 64) * 8;
}

static int log_alloc(struct vblk_dev *d)
{
	size_t size = log_bytes(d);
	int flags = MAP_SHARED;
	void *p;

	if (d->log)
		return 0;
	if (d->vu) {
		d->log_fd = memfd_create("vblk-dirty-log", MFD_CLOEXEC);
		if (d->log_fd < 0)
			return -errno;
		if (ftruncate(d->log_fd, size))
			return -errno;
	} else {
		flags |= MAP_ANONYMOUS;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, d->log_fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	d->log = p;
	d->log_size = size;
	return new_eventfd(&d->log_efd);
}

/* Acknowledge the driver's features, with VHOST_F_LOG_ALL or without. */
static int log_features(struct vblk_dev *d, bool on)
{
	uint64_t f = d->features | (on ? 1ULL << VHOST_F_LOG_ALL : 0);

	if (!d->vu)
		return vhost_blk_set_features(d->fd, f);
	if (d->vu_protocol)
		f |= 1ULL << VHOST_USER_F_PROTOCOL_FEATURES;
	return vhost_user_set_features(d->vu, f);
}

/* SET_VRING_ADDR again on every started queue, logging as d->log_on. */
static int log_rings(struct vblk_dev *d)
{
	for (unsigned int i = 0; i < VHOST_BLK_MAX_QUEUES; i++) {
		struct vblk_vq *vq = &d->vqs[i];
		int ret;

		if (!vq->started)
			continue;
		if (d->vu)
			ret = vhost_user_set_vring_addr_log(d->vu, i,
				(uintptr_t)vq->desc, (uintptr_t)vq->avail,
				(uintptr_t)vq->used, log_flags(vq),
				vq->used_gpa);
		else
			ret = vhost_blk_set_vring_addr_log(d->fd, i,
				(uintptr_t)vq->desc, (uintptr_t)vq->avail,
				(uintptr_t)vq->used, log_flags(vq),
				vq->used_gpa);
		if (ret)
			return ret;
	}
	return 0;
}

int vblk_dev_log_start(struct vblk_dev *d)
{
	int ret;

	if (d->vu && !(d->vu->protocol_features &
		       (1ULL << VHOST_USER_PROTOCOL_F_LOG_SHMFD)))
		return -EOPNOTSUPP;
	ret = log_alloc(d);
	if (ret)
		return ret;
	/* The log covers guest memory before the device may write it. */
	if (d->vu) {
		ret = vhost_user_set_log_base(d->vu, d->log_fd, d->log_size, 0);
		if (!ret)
			ret = vhost_user_set_log_fd(d->vu, d->log_efd);
	} else {
		ret = vhost_blk_set_log_base(d->fd, (uintptr_t)d->log);
		if (!ret)
			ret = vhost_blk_set_log_fd(d->fd, d->log_efd);
	}
	if (!ret)
		ret = log_features(d, true);
	if (ret)
		return ret;
	d->log_on = true;
	return log_rings(d);
}

int vblk_dev_log_stop(struct vblk_dev *d)
{
	int ret = log_features(d, false);

	if (ret)
		return ret;
	d->log_on = false;
	return log_rings(d);
}

bool vblk_log_test(const struct vblk_dev *d, uint64_t gpa)
{
	uint64_t page = gpa / 4096;

	if (!d->log || page / 8 >= d->log_size)
		return false;
	return __atomic_load_n(&d->log[page / 8], __ATOMIC_ACQUIRE) &
	       (1U << (page % 8));
}

void vblk_log_clear(struct vblk_dev *d)
{
	if (d->log)
		memset(d->log, 0, d->log_size);
}
