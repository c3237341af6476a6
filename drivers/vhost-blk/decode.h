/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-blk guest request decoding: from a descriptor chain head to a
 * validated request.
 *
 * Everything decode.c reads is guest controlled: descriptor tables, the
 * request header and the segment tables of DISCARD, WRITE_ZEROES and
 * SECURE_ERASE. It calls no block layer, takes no lock and allocates
 * nothing, so the same file builds in the module, in KUnit and in the
 * userspace fuzzer of tests/fuzz/decoder/, which supplies its own
 * <linux/...> headers. Bios and kiocbs only ever see a request that
 * vhost_blk_decode() accepted.
 *
 * Guest-controlled integers: a length, a sum of lengths, a sector or a
 * count the guest gives stays u64 until it has been checked against a
 * bound, and is narrowed, added or multiplied only after that check or
 * through check_add_overflow(). Descriptor lengths are u32 and their sum
 * over a chain (up to VHOST_BLK_IOV_MAX buffers, all of which may alias
 * the same guest memory) reaches 2^42: the chain keeps it in u64.
 */
#ifndef _VHOST_BLK_DECODE_H
#define _VHOST_BLK_DECODE_H

#include <linux/types.h>
#include <linux/sizes.h>
#include <linux/uio.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_blk.h>

/* Largest ring the device accepts (virtio split ring limit). */
#define VHOST_BLK_VRING_MAX	32768
/* Data segments per request advertised in seg_max. */
#define VHOST_BLK_SEG_MAX	254
/* Bytes per data segment advertised in size_max. */
#define VHOST_BLK_SIZE_MAX	SZ_128K
/* Largest request: what seg_max and size_max allow. Larger get IOERR. */
#define VHOST_BLK_MAX_REQ_BYTES	((u64)VHOST_BLK_SEG_MAX * VHOST_BLK_SIZE_MAX)
/* Buffers one descriptor chain may map to, after region splits. */
#define VHOST_BLK_IOV_MAX	1024
/*
 * Segments per DISCARD-like request: DISCARD, WRITE_ZEROES or
 * SECURE_ERASE, the requests that carry a table of sector ranges instead
 * of data. The driver's functions for all three say "discard".
 */
#define VHOST_BLK_DISCARD_SEG_MAX	256
/* Bytes of the GET_ID answer. */
#define VHOST_BLK_ID_BYTES	VIRTIO_BLK_ID_BYTES

/* ---- memory table ---- */

struct page;

struct vhost_blk_mem_region {
	u64 gpa;		/* guest-physical start */
	u64 size;		/* bytes, non-zero */
	u64 uaddr;		/* owner virtual address of gpa */
	/*
	 * VHOST_BLK_OPT_F_PIN_MEM: the pages of [uaddr, uaddr + size),
	 * from the one holding uaddr on, pinned long-term. NULL otherwise.
	 */
	struct page **pages;
};

/*
 * Regions sorted by gpa, none empty, none wrapping either address space,
 * none overlapping in guest-physical space (vhost_blk_mem_create()).
 */
struct vhost_blk_mem {
	struct rcu_head rcu;
	unsigned long npinned;	/* pages pinned and charged to pinned_vm */
	u32 nregions;
	struct vhost_blk_mem_region regions[] __counted_by(nregions);
};

const struct vhost_blk_mem_region *
vhost_blk_mem_find(const struct vhost_blk_mem *mem, u64 gpa);
u64 vhost_blk_mem_translate(const struct vhost_blk_mem *mem, u64 gpa,
			    u64 len, void __user **uaddr);

/* ---- descriptor chains ---- */

/* Where chains come from; the table must not change during a walk. */
struct vhost_blk_desc_ring {
	const struct vring_desc __user *desc;	/* the ring's table */
	unsigned int num;			/* its size, a power of 2 */
	bool indirect;		/* VIRTIO_RING_F_INDIRECT_DESC acked */
	const struct vhost_blk_mem *mem;	/* may be NULL */
};

/* One descriptor chain as the device sees it: readable buffers first. */
struct vhost_blk_chain {
	unsigned int nr_out;		/* device-readable iovecs */
	unsigned int nr_in;		/* device-writable iovecs, after them */
	u64 out_len;			/* bytes, sum of guest u32 lengths */
	u64 in_len;			/* bytes, sum of guest u32 lengths */
	struct iovec iov[VHOST_BLK_IOV_MAX];
};

int vhost_blk_chain_walk(const struct vhost_blk_desc_ring *ring, u16 head,
			 struct vhost_blk_chain *chain);
int vhost_blk_chain_status(const struct vhost_blk_desc_ring *ring, u16 head,
			   u8 __user **status);

/* ---- requests ---- */

/* What a request is checked against, read from the backend for each. */
struct vhost_blk_limits {
	u64 features;		/* acked by the driver and served by the backend */
	u64 capacity;		/* 512-byte sectors */
	u32 lbs;		/* logical block size: power of 2, >= 512 bytes */
	bool ro;		/* writes, discards and the like fail */
	u64 max_discard;	/* sectors per DISCARD segment */
	u64 max_write_zeroes;	/* sectors per WRITE_ZEROES segment */
	u64 max_secure_erase;	/* sectors per SECURE_ERASE segment */
};

/*
 * A decoded request. The caller points @data at VHOST_BLK_IOV_MAX iovecs
 * and @segs at VHOST_BLK_DISCARD_SEG_MAX segments before vhost_blk_decode()
 * fills them.
 */
/* cmd->type of a chain whose header could not be read */
#define VHOST_BLK_T_NONE	U32_MAX

struct vhost_blk_cmd {
	u32 type;			/* VIRTIO_BLK_T_*, or VHOST_BLK_T_NONE */
	u64 sector;			/* IN, OUT: first 512-byte sector */
	u8 __user *status;		/* status byte; NULL: the chain has none */
	u32 in_len;			/* device-writable bytes, status included */
	/*
	 * IN, OUT: the data, a whole number of logical blocks inside the
	 * disk, at most VHOST_BLK_MAX_REQ_BYTES. GET_ID: the writable
	 * bytes before the status byte.
	 */
	struct iovec *data;
	unsigned int nr_data;
	u32 data_len;			/* bytes */
	/* DISCARD, WRITE_ZEROES, SECURE_ERASE: copied and checked. */
	struct virtio_blk_discard_write_zeroes *segs;
	unsigned int nr_segs;
};

u8 vhost_blk_decode(const struct vhost_blk_chain *chain,
		    const struct vhost_blk_limits *lim,
		    struct vhost_blk_cmd *cmd);

#endif /* _VHOST_BLK_DECODE_H */
