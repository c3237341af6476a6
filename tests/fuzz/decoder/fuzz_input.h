/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Input format of the decoder fuzzer: a fixed little-endian header, then
 * the arena, the bytes the device reads as owner ("user") memory.
 *
 * The header gives what the device knows of the request's context: the
 * limits of the backend, the ring (its size and where its descriptor
 * table lies in the arena), the chain head and a memory table whose
 * regions map guest-physical ranges onto owner addresses relative to the
 * arena's start. Owner ranges may lie in the arena, run past its end or
 * lie wholly past it, and may alias each other; regions the module would
 * refuse (empty, wrapping, overlapping in guest-physical space, beyond
 * the owner address space) are left out, the rest sorted, as
 * vhost_blk_mem_create() would have them.
 */
#ifndef _DECODER_FUZZ_INPUT_H
#define _DECODER_FUZZ_INPUT_H

#include <linux/types.h>

#define FUZZ_MAX_REGIONS	8
/* Owner offsets and sizes stay below this, as below TASK_SIZE. */
#define FUZZ_OWNER_LIMIT	(1ULL << 46)

/* struct fuzz_input.flags */
#define FUZZ_F_RO		0x01	/* limits: read-only disk */
#define FUZZ_F_INDIRECT		0x02	/* VIRTIO_RING_F_INDIRECT_DESC acked */
#define FUZZ_F_NO_MEM		0x04	/* no memory table yet (NULL) */

struct fuzz_region {
	__le64 gpa;		/* guest-physical start */
	__le64 size;		/* bytes */
	__le64 uoff;		/* owner address, as offset from the arena */
};

struct fuzz_input {
	__le64 features;	/* limits: acked and served features */
	__le64 capacity;	/* limits: 512-byte sectors */
	__le64 max_discard;	/* limits: sectors per segment */
	__le64 max_write_zeroes;
	__le64 max_secure_erase;
	__le32 desc_off;	/* the ring's table: arena offset */
	__le16 head;		/* chain head */
	__u8 ring_order;	/* ring size 1 << (ring_order % 16) */
	__u8 lbs_order;		/* block size 512 << (lbs_order % 8) */
	__u8 flags;		/* FUZZ_F_* */
	__u8 nregions;		/* regions used, % (FUZZ_MAX_REGIONS + 1) */
	__u8 pad[6];
	struct fuzz_region region[FUZZ_MAX_REGIONS];
};

_Static_assert(sizeof(struct fuzz_input) == 56 + 24 * FUZZ_MAX_REGIONS,
	       "struct fuzz_input has no holes");

#endif /* _DECODER_FUZZ_INPUT_H */
