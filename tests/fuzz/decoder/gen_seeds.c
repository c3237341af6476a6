// SPDX-License-Identifier: GPL-2.0
/*
 * Writes the seed corpus of the decoder fuzzer (fuzz_input.h format) into
 * the directory given: a valid request of every type, direct and
 * indirect, the malformed chains the walker refuses, and near misses of
 * the aliased WRITE_ZEROES chain that overflowed the segment buffer
 * (5661fb9). The seeds are committed; rerun with `make seeds`.
 *
 * Unless a seed says otherwise, region 0 maps guest-physical RAM_GPA on
 * at the start of the arena, for 1 MiB (most of it past the arena: data
 * buffers are never read), the ring has 8 entries at arena offset 0 and
 * the disk has 2048 sectors of 512 bytes.
 */
#include <errno.h>
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bits.h>
#include <linux/virtio_byteorder.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>

#include "fuzz_input.h"

#define RAM_GPA		0x100000ULL
#define ARENA_MAX	16384

/* Arena offsets of the usual layout. */
#define TABLE		0x000	/* ring table, 8 entries */
#define IND		0x100	/* an indirect table */
#define HDR		0x400	/* request header */
#define PAYLOAD		0x410	/* segment table, GET_ID answer */
#define STATUS		0x5ff	/* status byte */
#define DATA		0x1000	/* data buffers, past the arena */

static struct {
	struct fuzz_input in;
	u8 arena[ARENA_MAX];
	size_t len;		/* arena bytes used */
} s;

static const char *dir;

static void put(size_t off, const void *p, size_t n)
{
	if (off + n > ARENA_MAX)
		abort();
	memcpy(s.arena + off, p, n);
	if (off + n > s.len)
		s.len = off + n;
}

static void region(unsigned int i, u64 gpa, u64 size, u64 uoff)
{
	s.in.region[i].gpa = htole64(gpa);
	s.in.region[i].size = htole64(size);
	s.in.region[i].uoff = htole64(uoff);
	if (s.in.nregions <= i)
		s.in.nregions = i + 1;
}

/* Reset to the usual context: one region, 8 entries, 1 MiB disk. */
static void start(void)
{
	memset(&s, 0, sizeof(s));
	s.in.capacity = htole64(2048);
	s.in.max_discard = htole64(1 << 16);
	s.in.max_write_zeroes = htole64(1 << 16);
	s.in.max_secure_erase = htole64(1 << 16);
	s.in.ring_order = 3;
	s.in.flags = FUZZ_F_INDIRECT;
	s.in.desc_off = htole32(TABLE);
	region(0, RAM_GPA, 1 << 20, 0);
	s.len = STATUS + 1;
}

/* Entry @i of the table at arena offset @table. */
static void desc(size_t table, unsigned int i, u64 gpa, u32 len, u16 flags,
		 u16 next)
{
	struct vring_desc d = {
		.addr = htole64(gpa),
		.len = htole32(len),
		.flags = htole16(flags),
		.next = htole16(next),
	};

	put(table + i * sizeof(d), &d, sizeof(d));
}

static void outhdr(u32 type, u64 sector)
{
	struct virtio_blk_outhdr h = {
		.type = htole32(type),
		.sector = htole64(sector),
	};

	put(HDR, &h, sizeof(h));
}

static void segment(unsigned int i, u64 sector, u32 num, u32 flags)
{
	struct virtio_blk_discard_write_zeroes seg = {
		.sector = htole64(sector),
		.num_sectors = htole32(num),
		.flags = htole32(flags),
	};

	put(PAYLOAD + i * sizeof(seg), &seg, sizeof(seg));
}

static void emit(const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(&s.in, sizeof(s.in), 1, f) != 1 ||
	    fwrite(s.arena, 1, s.len, f) != s.len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

#define R	0
#define W	VRING_DESC_F_WRITE
#define N	VRING_DESC_F_NEXT
#define IND_F	VRING_DESC_F_INDIRECT
#define GPA(off)	(RAM_GPA + (off))

/* header, then @n payload bytes of @flags, then the status byte */
static void three(u32 len, u16 flags)
{
	desc(TABLE, 0, GPA(HDR), 16, R | N, 1);
	desc(TABLE, 1, GPA(len > 512 ? DATA : PAYLOAD), len, flags | N, 2);
	desc(TABLE, 2, GPA(STATUS), 1, W, 0);
}

static void valid(void)
{
	start();
	outhdr(VIRTIO_BLK_T_IN, 8);
	three(4096, W);
	emit("in-4k");

	start();
	outhdr(VIRTIO_BLK_T_OUT, 0);
	three(4096, R);
	emit("out-4k");

	/* An OUT split across two regions that meet in guest memory. */
	start();
	region(0, RAM_GPA, 0x1800, 0);
	region(1, RAM_GPA + 0x1800, 1 << 20, 0x8000);
	outhdr(VIRTIO_BLK_T_OUT, 16);
	three(8192, R);
	emit("out-split-regions");

	start();
	s.in.lbs_order = 3;	/* 4 KiB blocks */
	s.in.capacity = htole64(1 << 20);
	outhdr(VIRTIO_BLK_T_IN, 4096);
	three(254 * 128 * 1024, W);
	emit("in-max-4k-blocks");

	start();
	outhdr(VIRTIO_BLK_T_FLUSH, 0);
	desc(TABLE, 0, GPA(HDR), 16, R | N, 1);
	desc(TABLE, 1, GPA(STATUS), 1, W, 0);
	emit("flush");

	start();
	outhdr(VIRTIO_BLK_T_GET_ID, 0);
	three(VIRTIO_BLK_ID_BYTES, W);
	emit("get-id");

	start();
	s.in.features = htole64(BIT_ULL(VIRTIO_BLK_F_DISCARD));
	outhdr(VIRTIO_BLK_T_DISCARD, 0);
	segment(0, 0, 8, 0);
	segment(1, 64, 64, 0);
	three(32, R);
	emit("discard-2seg");

	start();
	s.in.features = htole64(BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES));
	outhdr(VIRTIO_BLK_T_WRITE_ZEROES, 0);
	segment(0, 128, 256, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	three(16, R);
	emit("write-zeroes-unmap");

	start();
	s.in.features = htole64(BIT_ULL(VIRTIO_BLK_F_SECURE_ERASE));
	outhdr(VIRTIO_BLK_T_SECURE_ERASE, 0);
	segment(0, 2000, 48, 0);
	three(16, R);
	emit("secure-erase");

	/* A ring entry pointing at an indirect table of three. */
	start();
	outhdr(VIRTIO_BLK_T_IN, 0);
	desc(TABLE, 0, GPA(IND), 3 * 16, IND_F, 0);
	desc(IND, 0, GPA(HDR), 16, R | N, 1);
	desc(IND, 1, GPA(DATA), 512, W | N, 2);
	desc(IND, 2, GPA(STATUS), 1, W, 0);
	emit("indirect-in");

	/* Header and data in one buffer, data and status in another. */
	start();
	outhdr(VIRTIO_BLK_T_OUT, 1);
	desc(TABLE, 0, GPA(HDR), 16 + 512, R | N, 1);
	desc(TABLE, 1, GPA(STATUS), 1, W, 0);
	emit("out-merged-buffers");

	start();
	s.in.features = htole64(BIT_ULL(VIRTIO_BLK_F_DISCARD) |
				BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES));
	outhdr(VIRTIO_BLK_T_DISCARD, 0);
	for (unsigned int i = 0; i < 256; i++)
		segment(i, i * 8, 8, 0);
	desc(TABLE, 0, GPA(HDR), 16, R | N, 1);
	desc(TABLE, 1, GPA(PAYLOAD), 256 * 16, R | N, 2);
	desc(TABLE, 2, GPA(STATUS), 1, W, 0);
	emit("discard-256seg");
}

/* Requests the decoder completes at once. */
static void refused_requests(void)
{
	start();
	s.in.flags |= FUZZ_F_RO;
	outhdr(VIRTIO_BLK_T_OUT, 0);
	three(4096, R);
	emit("out-read-only");

	start();
	s.in.lbs_order = 3;
	outhdr(VIRTIO_BLK_T_IN, 1);
	three(4096, W);
	emit("in-unaligned-4k-blocks");

	start();
	outhdr(VIRTIO_BLK_T_IN, 2047);
	three(1024, W);
	emit("in-past-the-end");

	start();
	outhdr(0xbad, 0);
	three(512, W);
	emit("unknown-type");

	/* No device-writable byte: nothing to write a status to. */
	start();
	outhdr(VIRTIO_BLK_T_FLUSH, 0);
	desc(TABLE, 0, GPA(HDR), 16, R, 0);
	emit("no-status");

	/* DISCARD the driver did not ack. */
	start();
	outhdr(VIRTIO_BLK_T_DISCARD, 0);
	segment(0, 0, 8, 0);
	three(16, R);
	emit("discard-not-acked");

	start();
	s.in.features = htole64(BIT_ULL(VIRTIO_BLK_F_DISCARD));
	outhdr(VIRTIO_BLK_T_DISCARD, 0);
	segment(0, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	three(16, R);
	emit("discard-unmap-flag");

	/*
	 * Near misses of the reproducer of 5661fb9: an indirect
	 * WRITE_ZEROES whose payload is one segment followed by sixteen
	 * descriptors aliasing the same 4 GiB of a 1 TiB region, summing
	 * to 2^36 - 240 payload bytes, and the same with 17 of them.
	 */
	for (unsigned int n = 16; n <= 17; n++) {
		char name[64];

		start();
		s.in.features =
			htole64(BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES));
		region(1, 1ULL << 40, 1ULL << 40, 0);
		outhdr(VIRTIO_BLK_T_WRITE_ZEROES, 0);
		segment(0, 0, 8, 0);
		desc(TABLE, 0, GPA(IND), (n + 3) * 16, IND_F, 0);
		desc(IND, 0, GPA(HDR), 16, R | N, 1);
		desc(IND, 1, GPA(PAYLOAD), 16, R | N, 2);
		for (unsigned int i = 0; i < n; i++)
			desc(IND, 2 + i, 1ULL << 40, 0xfffffff0, R | N, 3 + i);
		desc(IND, 2 + n, GPA(STATUS), 1, W, 0);
		snprintf(name, sizeof(name), "wz-indirect-aliased-%u", n);
		emit(name);
	}
}

/* Chains the walker refuses; the module then looks for a status. */
static void refused_chains(void)
{
	start();
	desc(TABLE, 0, GPA(HDR), 16, R | N, 1);
	desc(TABLE, 1, GPA(STATUS), 1, W | N, 0);
	emit("loop");

	start();
	desc(TABLE, 0, GPA(HDR), 16, R | N, 9);
	emit("next-out-of-range");

	start();
	s.in.head = htole16(8);
	emit("head-out-of-range");

	start();
	desc(TABLE, 0, GPA(STATUS), 1, W | N, 1);
	desc(TABLE, 1, GPA(HDR), 16, R, 0);
	emit("readable-after-writable");

	start();
	desc(TABLE, 0, 0x10, 16, R | N, 1);
	desc(TABLE, 1, GPA(STATUS), 1, W, 0);
	emit("outside-memory-table");

	start();
	desc(TABLE, 0, ~0ULL - 7, 16, R | N, 1);
	desc(TABLE, 1, GPA(STATUS), 1, W, 0);
	emit("buffer-wraps");

	start();
	s.in.flags |= FUZZ_F_NO_MEM;
	three(16, R);
	emit("no-memory-table");

	start();
	s.in.flags &= ~FUZZ_F_INDIRECT;
	desc(TABLE, 0, GPA(IND), 32, IND_F, 0);
	desc(IND, 0, GPA(HDR), 16, R | N, 1);
	desc(IND, 1, GPA(STATUS), 1, W, 0);
	emit("indirect-not-acked");

	start();
	desc(TABLE, 0, GPA(IND), 32, IND_F, 0);
	desc(IND, 0, GPA(HDR), 16, R | N, 1);
	desc(IND, 1, GPA(IND), 32, IND_F, 0);
	emit("indirect-nested");

	start();
	desc(TABLE, 0, GPA(IND), 24, IND_F, 0);
	emit("indirect-bad-length");

	start();
	desc(TABLE, 0, GPA(IND), 0x80000 + 16, IND_F, 0);
	emit("indirect-too-long");

	/* An indirect table that runs past its region. */
	start();
	region(0, RAM_GPA, IND + 16, 0);
	desc(TABLE, 0, GPA(IND), 32, IND_F, 0);
	emit("indirect-past-region");

	/* The ring's table lies past the arena. */
	start();
	s.in.desc_off = htole32(0x10000);
	emit("table-past-arena");

	/*
	 * 7 one-byte regions side by side in guest memory, aliasing one
	 * owner byte: 7 bytes map to 7 buffers. An indirect table of 146
	 * such descriptors and a status is the longest chain accepted
	 * (1023 buffers), one more exceeds VHOST_BLK_IOV_MAX.
	 */
	for (unsigned int n = 146; n <= 147; n++) {
		const size_t table = 0x1000;
		char name[64];
		unsigned int i;

		start();
		for (i = 0; i < 7; i++)
			region(i, i, 1, HDR);
		region(7, RAM_GPA, 1 << 20, 0);
		desc(TABLE, 0, GPA(table), (n + 1) * 16, IND_F, 0);
		for (i = 0; i < n; i++)
			desc(table, i, 0, 7, R | N, i + 1);
		desc(table, n, GPA(STATUS), 1, W, 0);
		snprintf(name, sizeof(name), "iov-max-%s",
			 n == 146 ? "accepted" : "exceeded");
		emit(name);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	valid();
	refused_requests();
	refused_chains();
	return 0;
}
