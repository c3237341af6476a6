/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio_blk_drv - a userspace virtio-blk driver for /dev/vhost-blk.
 *
 * The calling process plays the guest: it maps "guest memory", registers
 * it with the vhost memory table at guest-physical addresses (GPAs) that
 * differ from its own virtual addresses, lays out split virtqueues inside
 * it and posts virtio-blk requests. Descriptor addresses are GPAs; vring
 * addresses given to the kernel are the process's own addresses, as a VMM
 * would pass them.
 *
 * Typical use:
 *
 *	struct vblk_opts o = VBLK_OPTS_DEFAULT;
 *	struct vblk_dev *d;
 *	struct vblk_req *r;
 *	uint64_t buf;
 *
 *	vblk_dev_create(&d, &o, blkfd, 0, "serial");
 *	vblk_alloc(d, 4096, 4096, &buf);
 *	r = vblk_req_alloc(d);
 *	vblk_req_reset(r, VIRTIO_BLK_T_IN, 0);
 *	vblk_req_add_seg(r, buf, 4096);
 *	vblk_do(&d->vqs[0], r, 0, 5000);	(r->status, r->used_len)
 *	vblk_dev_destroy(d);
 *
 * The same driver talks vhost-user instead when opts.vhost_user names the
 * unix socket of a vhost-user-blk backend (the vhost-blk bridge,
 * qemu-storage-daemon, ...): guest memory is then a memfd shared with the
 * backend through SET_MEM_TABLE, the eventfds travel as SCM_RIGHTS, the
 * config comes from GET_CONFIG and the backend's own disk is used (the
 * backend_fd, flags and serial arguments are ignored). d->fd is -1 then;
 * the connection is d->vu.
 *
 * Besides well-formed requests, the raw interface (vblk_vq_alloc_desc(),
 * vblk_vq_set_desc(), vblk_vq_post_raw(), vblk_vq_push_avail(),
 * vblk_vq_set_avail_idx()) lets a caller build arbitrary, also hostile,
 * descriptor chains. The driver keeps its own bookkeeping outside guest
 * memory, so whatever the device or the caller writes there cannot
 * corrupt it.
 *
 * Functions returning int return 0 (or a count) on success and -errno on
 * failure. Nothing here prints. Not thread safe: one thread per device.
 */
#ifndef VIRTIO_BLK_DRV_H
#define VIRTIO_BLK_DRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>
#include <linux/vhost_blk.h>

/* Default guest-physical address of the first memory region: 4 GiB. */
#define VBLK_GPA_BASE		0x100000000ULL
/* Distance between the two regions of VBLK_MEM_SPLIT. */
#define VBLK_GPA_SPLIT_GAP	0x100000000ULL
#define VBLK_MAX_REGIONS	2
/* Allocation granule of guest memory, in bytes. */
#define VBLK_GRANULE		64
/* How long a vhost-user backend may take to connect or answer, in ms. */
#define VBLK_VU_TIMEOUT_MS	30000

/* Transport features the driver understands. */
#define VBLK_DRV_FEATURES	((1ULL << VIRTIO_F_VERSION_1) |		\
				 (1ULL << VIRTIO_F_ANY_LAYOUT) |		\
				 (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |	\
				 (1ULL << VIRTIO_RING_F_EVENT_IDX) |		\
				 (1ULL << VIRTIO_BLK_F_SIZE_MAX) |		\
				 (1ULL << VIRTIO_BLK_F_SEG_MAX) |		\
				 (1ULL << VIRTIO_BLK_F_GEOMETRY) |		\
				 (1ULL << VIRTIO_BLK_F_RO) |			\
				 (1ULL << VIRTIO_BLK_F_BLK_SIZE) |		\
				 (1ULL << VIRTIO_BLK_F_FLUSH) |		\
				 (1ULL << VIRTIO_BLK_F_TOPOLOGY) |		\
				 (1ULL << VIRTIO_BLK_F_MQ) |			\
				 (1ULL << VIRTIO_BLK_F_DISCARD) |		\
				 (1ULL << VIRTIO_BLK_F_WRITE_ZEROES) |		\
				 (1ULL << VIRTIO_BLK_F_SECURE_ERASE))

enum vblk_mem_layout {
	/* One region of mem_size bytes at gpa_base. */
	VBLK_MEM_ONE,
	/*
	 * Two regions of mem_size / 2 bytes, at gpa_base and at
	 * gpa_base + VBLK_GPA_SPLIT_GAP, so a buffer cannot cross them.
	 */
	VBLK_MEM_SPLIT,
	/*
	 * Two regions of mem_size / 2 bytes adjacent in guest-physical
	 * space but not in the process: the second half of the GPA range
	 * lies below the first half in virtual memory, with an unmapped
	 * page in between. A descriptor crossing gpa_base + mem_size / 2
	 * must be split by the device.
	 */
	VBLK_MEM_ADJACENT,
};

struct vblk_opts {
	const char *path;		/* device node, NULL: /dev/vhost-blk */
	size_t mem_size;		/* bytes of guest memory */
	enum vblk_mem_layout layout;
	uint64_t gpa_base;		/* GPA of the lowest region */
	bool populate;			/* MAP_POPULATE guest memory */
	/* Offered bits not to accept (e.g. 1ULL << VIRTIO_RING_F_EVENT_IDX). */
	uint64_t features_clear;
	unsigned int num_queues;	/* queues vblk_dev_create() starts */
	unsigned int queue_size;	/* descriptors per queue */
	/* Unix socket of a vhost-user backend to use instead of @path. */
	const char *vhost_user;
	/* ms to wait for @vhost_user to appear and accept; 0: fail at once */
	int vhost_user_wait_ms;
	/*
	 * vhost-user: negotiate VHOST_USER_PROTOCOL_F_BACKEND_REQ if offered
	 * and open the backend channel (vblk_dev.backend_req_fd).
	 */
	bool vhost_user_backend_req;
	/*
	 * /dev/vhost-blk: pin the memory table (VHOST_BLK_OPT_F_PIN_MEM)
	 * before the backend is attached. The environment variable
	 * VBLK_PIN_MEM=1 sets it for every device vblk_dev_create() makes,
	 * so that a test program runs unchanged on a pinned table.
	 */
	bool pin_mem;
};

/* Whether VBLK_PIN_MEM=1 asks vblk_dev_create() to pin every table. */
bool vblk_env_pin_mem(void);

#define VBLK_OPTS_DEFAULT {					\
	.mem_size = 64ULL << 20,				\
	.layout = VBLK_MEM_ONE,					\
	.gpa_base = VBLK_GPA_BASE,				\
	.num_queues = 1,					\
	.queue_size = 128,					\
}

struct vblk_region {
	uint64_t gpa;			/* guest-physical start */
	uint64_t size;			/* bytes */
	uint8_t *hva;			/* address in this process */
	uint64_t *bitmap;		/* allocated granules */
	size_t ngranules;
	size_t cursor;			/* next-fit start, in granules */
	uint64_t fd_offset;		/* in vblk_dev.mem_fd (vhost-user) */
};

/* One segment of a descriptor chain. */
struct vblk_buf {
	uint64_t gpa;
	uint32_t len;
	bool write;			/* device-writable (VRING_DESC_F_WRITE) */
};

struct vblk_req;

/* Driver-private state of one descriptor chain in flight. */
struct vblk_slot {
	struct vblk_req *req;		/* completion record, may be NULL */
	uint16_t ndesc;			/* ring descriptors owned by the chain */
	bool busy;
	uint64_t indirect_gpa;		/* indirect table, 0 if none */
	uint32_t indirect_len;
};

/* A completed used-ring entry, as returned by vblk_vq_reap(). */
struct vblk_used {
	uint32_t id;
	uint32_t len;
	bool valid;			/* @id was a chain the driver posted */
	struct vblk_req *req;
};

struct vblk_dev;
struct vblk_transport_ops;
struct vhost_user_conn;

struct vblk_vq {
	struct vblk_dev *dev;
	unsigned int index;
	unsigned int num;		/* descriptors, a power of two */

	/* The split ring, in guest memory. */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	unsigned int ring_num;		/* num the ring memory was sized for */

	int kick_fd, call_fd, err_fd;	/* eventfds */

	uint16_t avail_idx;		/* next avail index to publish */
	uint16_t kicked_idx;		/* avail index at the last kick check */
	uint16_t last_used;		/* next used index to reap */
	unsigned int num_free;
	uint16_t free_head;
	uint16_t *next;			/* free list and chain links */
	struct vblk_slot *slots;	/* indexed by head */
	unsigned int inflight;		/* posted chains not yet reaped */
	bool event_idx;
	bool started;

	unsigned long kicks;		/* eventfd writes */
	unsigned long kicks_suppressed;	/* kicks the device asked us to skip */
};

struct vblk_dev {
	/* vhost-kernel or vhost-user (the library's own, not the caller's) */
	const struct vblk_transport_ops *ops;
	int fd;				/* /dev/vhost-blk, -1 with vhost-user */
	struct vhost_user_conn *vu;	/* the vhost-user connection or NULL */
	uint64_t features_offered;	/* VHOST_GET_FEATURES */
	uint64_t features;		/* acknowledged with SET_FEATURES */
	/* vhost-user: bit 30 was offered, so rings need SET_VRING_ENABLE. */
	bool vu_protocol;
	unsigned int max_queues;	/* vhost-user GET_QUEUE_NUM, else 16 */
	unsigned int nregions;
	struct vblk_region regions[VBLK_MAX_REGIONS];
	void *map;			/* the mapping holding all regions */
	size_t map_len;
	int mem_fd;			/* memfd of guest memory (vhost-user) */
	struct virtio_blk_config cfg;	/* last VHOST_BLK_GET_CONFIG */
	uint64_t cfg_features;		/* its features */
	unsigned int num_queues;
	unsigned int queue_size;
	struct vblk_vq vqs[VHOST_BLK_MAX_QUEUES];

	/* Dirty log (vblk_dev_log_start()): bit gpa / 4096 of @log. */
	uint8_t *log;			/* NULL until logging first starts */
	size_t log_size;		/* bytes */
	int log_fd;			/* memfd holding it (vhost-user), -1 */
	int log_efd;			/* eventfd the device signals, -1 */
	bool log_on;			/* VHOST_F_LOG_ALL acked */

	/*
	 * vhost-user INFLIGHT_SHMFD: the regions the backend allocated
	 * (GET_INFLIGHT_FD), kept for the backend that replaces it.
	 */
	int inflight_fd;		/* -1: none */
	uint64_t inflight_size;
	uint64_t inflight_offset;
	unsigned int inflight_nq;	/* queues it has regions for */

	/*
	 * vhost-user backend channel (opts->vhost_user_backend_req): our
	 * end, where the backend's requests (CONFIG_CHANGE_MSG) arrive; the
	 * caller reads and answers them. -1 if not negotiated.
	 */
	int backend_req_fd;
	bool want_backend_req;
};

/*
 * A virtio-blk request: a 16-byte header (device-readable), data segments
 * and a 1-byte status (device-writable). The header and status live in
 * guest memory allocated by vblk_req_alloc().
 */
struct vblk_req {
	uint32_t type;			/* VIRTIO_BLK_T_* */
	uint32_t ioprio;
	uint64_t sector;
	struct vblk_buf *segs;		/* data segments */
	unsigned int nsegs;
	unsigned int segs_cap;

	uint64_t hdr_gpa;		/* struct virtio_blk_outhdr */
	uint64_t status_gpa;		/* 1 byte */

	/* Completion, set by vblk_vq_reap(). */
	bool done;
	int head;
	uint32_t used_len;
	uint8_t status;			/* 0xff until the device writes it */
	void *priv;			/* for the caller */
};

/* Flags of vblk_vq_add() and vblk_req_submit(). */
#define VBLK_ADD_INDIRECT	(1U << 0)	/* use an indirect table */

/* ---- device ---- */

/*
 * vblk_dev_open - allocate a device, its guest memory, and open the node
 * (or connect to opts->vhost_user). No ioctl or message is issued: this
 * is the state before VHOST_SET_OWNER.
 */
int vblk_dev_open(struct vblk_dev **dp, const struct vblk_opts *opts);

/*
 * VHOST_SET_OWNER, GET/SET_FEATURES (offered & VBLK_DRV_FEATURES &
 * ~features_clear) and SET_MEM_TABLE for the device's guest memory.
 * vhost-user: GET_FEATURES, GET/SET_PROTOCOL_FEATURES (MQ, REPLY_ACK,
 * CONFIG, RESET_DEVICE, LOG_SHMFD as far as offered; BACKEND_REQ if asked,
 * then SET_BACKEND_REQ_FD), GET_QUEUE_NUM, SET_OWNER, SET_FEATURES,
 * SET_MEM_TABLE.
 */
int vblk_dev_setup(struct vblk_dev *d, uint64_t features_clear);

/* Send the memory table again (SET_MEM_TABLE), e.g. to a running device. */
int vblk_dev_set_mem_table(struct vblk_dev *d);

/* True if the device is driven over vhost-user. */
bool vblk_dev_is_vhost_user(const struct vblk_dev *d);

/* The memory table for the device's guest memory, as SET_MEM_TABLE gets. */
unsigned int vblk_dev_mem_regions(const struct vblk_dev *d,
				  struct vhost_memory_region *out);

/*
 * VHOST_BLK_SET_BACKEND, then VHOST_BLK_GET_CONFIG into d->cfg. Over
 * vhost-user only the config is read (GET_CONFIG).
 */
int vblk_dev_attach(struct vblk_dev *d, int backend_fd, uint64_t flags,
		    const char *serial);

/*
 * VHOST_BLK_GET_CONFIG into d->cfg and d->cfg_features. vhost-user:
 * GET_CONFIG, and the offered features as d->cfg_features.
 */
int vblk_dev_read_config(struct vblk_dev *d);

/*
 * vblk_dev_create - open, set up, attach and start opts->num_queues
 * queues. On failure nothing is left allocated.
 */
int vblk_dev_create(struct vblk_dev **dp, const struct vblk_opts *opts,
		    int backend_fd, uint64_t flags, const char *serial);

/*
 * VHOST_RESET_OWNER and forget all queue state (queues must be started
 * again after a new vblk_dev_setup()). vhost-user: RESET_DEVICE if
 * negotiated, else RESET_OWNER.
 */
int vblk_dev_reset_owner(struct vblk_dev *d);

/*
 * Close the device node, or the vhost-user socket, now (as a crashing VMM
 * would); memory stays.
 */
void vblk_dev_close_fd(struct vblk_dev *d);

/* Close everything and free guest memory. NULL is ignored. */
void vblk_dev_destroy(struct vblk_dev *d);

/* Capacity in 512-byte sectors, from the last GET_CONFIG. */
uint64_t vblk_dev_capacity(const struct vblk_dev *d);
/*
 * Largest data segment and number of data segments the device accepts
 * (UINT32_MAX and the queue size when not advertised).
 */
uint32_t vblk_dev_size_max(const struct vblk_dev *d);
uint32_t vblk_dev_seg_max(const struct vblk_dev *d);
bool vblk_dev_has_feature(const struct vblk_dev *d, unsigned int bit);

/* ---- guest memory ---- */

/*
 * vblk_alloc - allocate @len bytes aligned to @align (a power of two,
 * rounded up to VBLK_GRANULE) from any region; vblk_alloc_in() from
 * region @region only. Returns 0 and the GPA in @gpa, or -ENOMEM.
 */
int vblk_alloc(struct vblk_dev *d, size_t len, size_t align, uint64_t *gpa);
int vblk_alloc_in(struct vblk_dev *d, unsigned int region, size_t len,
		  size_t align, uint64_t *gpa);
/* Mark [gpa, gpa + len) allocated, across regions; -EBUSY if taken. */
int vblk_mem_reserve(struct vblk_dev *d, uint64_t gpa, size_t len);
/* Release an allocation or reservation. */
void vblk_free(struct vblk_dev *d, uint64_t gpa, size_t len);

/* Process address of [gpa, gpa + len) if it lies in one region, else NULL. */
void *vblk_gpa_to_hva(const struct vblk_dev *d, uint64_t gpa, size_t len);
/* GPA of a process address inside guest memory, or 0. */
uint64_t vblk_hva_to_gpa(const struct vblk_dev *d, const void *hva);
/*
 * Copy between the process and guest memory, across regions. -EFAULT if
 * a byte is outside guest memory.
 */
int vblk_mem_write(struct vblk_dev *d, uint64_t gpa, const void *src,
		   size_t len);
int vblk_mem_read(const struct vblk_dev *d, uint64_t gpa, void *dst,
		  size_t len);

/*
 * vblk_dev_reconnect - vhost-user: the backend went away (killed, say);
 * connect to @path (waiting up to @wait_ms for it to listen), set the
 * device up again with the same features, memory and inflight regions
 * (SET_INFLIGHT_FD with the fd GET_INFLIGHT_FD returned before), and
 * start every queue that was started, as QEMU does after a backend
 * crash: the avail index each queue resumes at is its used index, and
 * a backend with the inflight regions resubmits what was in flight.
 * Requests in flight stay the caller's to reap. The dirty log is not
 * restored. 0 or -errno (-EPROTO: features or queues lost).
 */
int vblk_dev_reconnect(struct vblk_dev *d, const char *path, int wait_ms);

/* ---- virtqueues ---- */

/*
 * vblk_vq_start - lay out (or clear) the rings of queue @index with
 * d->queue_size entries, create its eventfds and issue SET_VRING_NUM,
 * _ADDR, _BASE (@base; avail and used idx start there too), _CALL, _ERR
 * and _KICK.
 */
int vblk_vq_start(struct vblk_dev *d, unsigned int index, uint16_t base);

/*
 * Issue SET_VRING_NUM ... _KICK again for a queue whose rings and driver
 * state are kept (after vblk_vq_stop()); @base is passed to SET_VRING_BASE
 * unchanged.
 */
int vblk_vq_restart(struct vblk_vq *vq, unsigned int base);

/* VHOST_GET_VRING_BASE: stop the queue and return the next avail index. */
int vblk_vq_stop(struct vblk_vq *vq, unsigned int *base);

/*
 * vhost-user SET_VRING_ENABLE (-EOPNOTSUPP on /dev/vhost-blk). The queue
 * functions above enable a ring after starting it when the backend
 * offered VHOST_USER_F_PROTOCOL_FEATURES.
 */
int vblk_vq_set_enable(struct vblk_vq *vq, bool enable);

/*
 * vblk_vq_add - post a descriptor chain of @n buffers and publish it on
 * the avail ring (no kick). With VBLK_ADD_INDIRECT the buffers go to an
 * indirect table in guest memory and one ring descriptor points at it.
 * Returns the head or -ENOSPC / -ENOMEM / -EINVAL.
 */
int vblk_vq_add(struct vblk_vq *vq, const struct vblk_buf *bufs,
		unsigned int n, unsigned int flags, struct vblk_req *req);

/*
 * Notify the device if the ring asks for it (EVENT_IDX or NO_NOTIFY);
 * vblk_vq_kick_force() always writes the kick eventfd.
 */
int vblk_vq_kick(struct vblk_vq *vq);
int vblk_vq_kick_force(struct vblk_vq *vq);

/*
 * Collect up to @max used entries; completes their requests. Returns the
 * number collected. Re-arms used_event when EVENT_IDX is in use.
 */
int vblk_vq_reap(struct vblk_vq *vq, struct vblk_used *out, unsigned int max);

/* Number of used entries the device published that are not reaped yet. */
unsigned int vblk_vq_pending(const struct vblk_vq *vq);

/*
 * Wait up to @timeout_ms for the call eventfd. 1 if it fired, 0 on
 * timeout.
 */
int vblk_vq_wait(struct vblk_vq *vq, int timeout_ms);

/* Reap until nothing is in flight. -ETIMEDOUT after @timeout_ms. */
int vblk_vq_drain(struct vblk_vq *vq, int timeout_ms);

/* ---- raw descriptor access, for hostile chains ---- */

/* Take @n ring descriptors off the free list; their ids go to @ids. */
int vblk_vq_alloc_desc(struct vblk_vq *vq, unsigned int n, uint16_t *ids);
/* Write ring descriptor @id verbatim. */
void vblk_vq_set_desc(struct vblk_vq *vq, uint16_t id, uint64_t addr,
		      uint32_t len, uint16_t flags, uint16_t next);
/*
 * Put @head (taken with vblk_vq_alloc_desc(), @ndesc descriptors, ids in
 * @ids) in flight with completion record @req, and publish it.
 */
int vblk_vq_post_raw(struct vblk_vq *vq, const uint16_t *ids,
		     unsigned int ndesc, struct vblk_req *req);
/* Publish an arbitrary head value on the avail ring. */
void vblk_vq_push_avail(struct vblk_vq *vq, uint16_t head);
/* Store an arbitrary avail->idx (the shadow index follows it). */
void vblk_vq_set_avail_idx(struct vblk_vq *vq, uint16_t idx);
/* The device's used->idx. */
uint16_t vblk_vq_used_idx(const struct vblk_vq *vq);
/*
 * The device's avail_event (EVENT_IDX): the avail index up to which it
 * has looked at the ring when it last re-enabled notifications.
 */
uint16_t vblk_vq_avail_event(const struct vblk_vq *vq);

/* ---- requests ---- */

/* Allocate a request with its header and status in guest memory. */
struct vblk_req *vblk_req_alloc(struct vblk_dev *d);
void vblk_req_free(struct vblk_dev *d, struct vblk_req *r);
/* Drop the data segments and completion state; set type and sector. */
void vblk_req_reset(struct vblk_req *r, uint32_t type, uint64_t sector);
/* Append a data segment [gpa, gpa + len). */
int vblk_req_add_seg(struct vblk_req *r, uint64_t gpa, uint32_t len);
/*
 * Append [gpa, gpa + len) cut into segments of at most the device's
 * size_max.
 */
int vblk_req_add_data(const struct vblk_dev *d, struct vblk_req *r,
		      uint64_t gpa, size_t len);
/* Total bytes of the data segments. */
size_t vblk_req_data_len(const struct vblk_req *r);
/* Copy @buf to / from the data segments in order. */
int vblk_req_write_data(struct vblk_dev *d, struct vblk_req *r,
			const void *buf);
int vblk_req_read_data(struct vblk_dev *d, const struct vblk_req *r,
		       void *buf);

/*
 * vblk_req_submit - write the header, set the status byte to 0xff and
 * post [header][data...][status]. Data segments are device-writable for
 * VIRTIO_BLK_T_IN and VIRTIO_BLK_T_GET_ID, device-readable otherwise.
 * Returns the head or -errno. Does not kick.
 */
int vblk_req_submit(struct vblk_vq *vq, struct vblk_req *r,
		    unsigned int flags);

/* Reap and wait until @r is done. 0, or -ETIMEDOUT after @timeout_ms. */
int vblk_req_wait(struct vblk_vq *vq, struct vblk_req *r, int timeout_ms);

/* Submit, kick and wait for @r. */
int vblk_do(struct vblk_vq *vq, struct vblk_req *r, unsigned int flags,
	    int timeout_ms);

/* ---- dirty log (live migration) ---- */

/*
 * vblk_dev_log_start - switch dirty logging on, as a VMM does when live
 * migration starts: a bitmap covering guest memory (allocated on first
 * use, zeroed; over vhost-user a memfd given with SET_LOG_BASE, which needs
 * VHOST_USER_PROTOCOL_F_LOG_SHMFD, else -EOPNOTSUPP), SET_LOG_BASE,
 * SET_LOG_FD with d->log_efd, VHOST_F_LOG_ALL acked and, for every
 * started queue, SET_VRING_ADDR with VHOST_VRING_F_LOG at the used ring's
 * GPA. Queues started later log their used ring too.
 */
int vblk_dev_log_start(struct vblk_dev *d);
/*
 * vblk_dev_log_stop - VHOST_F_LOG_ALL no longer acked, rings without
 * VHOST_VRING_F_LOG. The bitmap stays, with what was logged.
 */
int vblk_dev_log_stop(struct vblk_dev *d);
/* Is the page of @gpa logged? */
bool vblk_log_test(const struct vblk_dev *d, uint64_t gpa);
/* Clear the bitmap, as a VMM does when it copied the pages logged. */
void vblk_log_clear(struct vblk_dev *d);

/* ---- helpers ---- */

/* Wait up to @timeout_ms for eventfd @efd and consume it: 1 fired, 0 not. */
int vblk_eventfd_wait(int efd, int timeout_ms);

/*
 * Data pattern: every 8-byte word is a function of the seed, the 512-byte
 * sector it belongs to (@sector is the sector of buf[0]) and its offset,
 * so misplaced, stale or torn data is detected.
 */
void vblk_pattern_fill(void *buf, size_t len, uint64_t sector, uint64_t seed);
/* -1 if @buf matches, else the offset of the first wrong byte. */
ssize_t vblk_pattern_check(const void *buf, size_t len, uint64_t sector,
			   uint64_t seed);

/* Monotonic time in nanoseconds. */
uint64_t vblk_now_ns(void);

#endif /* VIRTIO_BLK_DRV_H */
