// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target over drivers/vhost-blk/decode.c, the module's parser
 * of guest requests, built in userspace from the same file with the
 * shims of include/.
 *
 * Each input (fuzz_input.h) is a request context and an arena of owner
 * memory. The target walks the chain at the head, decodes it when the
 * walk accepts it, and finds the status byte the way the module does for
 * a refused chain; then it checks what the decoder promises (decode.h)
 * and aborts when a promise is broken. ASan, UBSan and the integer
 * sanitizers catch the rest: the chain and the scratch arrays are heap
 * objects of exactly the sizes decode.h prescribes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bits.h>
#include <linux/minmax.h>
#include <linux/overflow.h>
#include <linux/uaccess.h>
#include <linux/virtio_byteorder.h>

#include "decode.h"
#include "fuzz_input.h"

#define SECTOR_SIZE	512

const unsigned char *fuzz_arena;
size_t fuzz_arena_size;

/* Scratch of the sizes the module allocates, once per process. */
static struct vhost_blk_chain *chain;
static struct iovec *data;
static struct virtio_blk_discard_write_zeroes *segs;

#define fuzz_check(cond)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: broken: %s\n",		\
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

/* libFuzzer's entry points, which no header declares */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const u8 *buf, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	chain = malloc(sizeof(*chain));
	data = calloc(VHOST_BLK_IOV_MAX, sizeof(*data));
	segs = calloc(VHOST_BLK_DISCARD_SEG_MAX, sizeof(*segs));
	if (!chain || !data || !segs)
		abort();
	return 0;
}

/*
 * The memory table of @in as vhost_blk_mem_create() would accept it:
 * regions it would refuse are left out, the others sorted by gpa.
 */
static struct vhost_blk_mem *fuzz_mem(const struct fuzz_input *in)
{
	struct vhost_blk_mem_region r[FUZZ_MAX_REGIONS];
	unsigned int i, j, nr = 0, n = in->nregions % (FUZZ_MAX_REGIONS + 1);
	struct vhost_blk_mem *mem;

	for (i = 0; i < n; i++) {
		u64 gpa = le64_to_cpu(in->region[i].gpa);
		u64 size = le64_to_cpu(in->region[i].size);
		u64 uoff = le64_to_cpu(in->region[i].uoff);
		u64 last;

		if (!size || size > FUZZ_OWNER_LIMIT ||
		    uoff > FUZZ_OWNER_LIMIT ||
		    check_add_overflow(gpa, size - 1, &last))
			continue;
		for (j = nr; j > 0 && r[j - 1].gpa > gpa; j--)
			;
		if (j > 0 && gpa - r[j - 1].gpa < r[j - 1].size)
			continue;	/* overlaps the one below */
		if (j < nr && r[j].gpa - gpa < size)
			continue;	/* overlaps the one above */
		memmove(&r[j + 1], &r[j], (nr - j) * sizeof(r[0]));
		r[j].gpa = gpa;
		r[j].size = size;
		r[j].uaddr = (uintptr_t)fuzz_arena + uoff;
		r[j].pages = NULL;
		nr++;
	}
	/* Exactly sized, so that a lookup past the end is caught. */
	mem = malloc(sizeof(*mem) + nr * sizeof(mem->regions[0]));
	if (!mem)
		abort();
	memset(mem, 0, sizeof(*mem));
	mem->nregions = nr;
	memcpy(mem->regions, r, nr * sizeof(r[0]));
	return mem;
}

/* Is the owner range [p, p + len) inside one region? */
static bool fuzz_in_region(const struct vhost_blk_mem *mem, const void *p,
			   u64 len)
{
	uintptr_t a = (uintptr_t)p;
	u32 i;

	for (i = 0; mem && i < mem->nregions; i++) {
		const struct vhost_blk_mem_region *r = &mem->regions[i];

		if (a >= r->uaddr && a - r->uaddr < r->size &&
		    len <= r->size - (a - r->uaddr))
			return true;
	}
	return false;
}

/* Is the guest range [gpa, gpa + len) all guest memory, across regions? */
static bool fuzz_covered(const struct vhost_blk_mem *mem, u64 gpa, u64 len)
{
	while (len) {
		const struct vhost_blk_mem_region *r = NULL;
		u64 n;
		u32 i;

		for (i = 0; mem && i < mem->nregions; i++)
			if (gpa >= mem->regions[i].gpa &&
			    gpa - mem->regions[i].gpa < mem->regions[i].size)
				r = &mem->regions[i];
		if (!r)
			return false;
		n = r->size - (gpa - r->gpa);
		if (n >= len)
			return true;
		len -= n;
		gpa += n;
	}
	return true;
}

/*
 * The last descriptor of the chain at @head, found apart from the module's
 * walker: false where the walk must fail before it gets there.
 */
static bool fuzz_last_desc(const struct vhost_blk_desc_ring *ring, u16 head,
			   struct vring_desc *last)
{
	const struct vring_desc *t = ring->desc;
	unsigned int i = head, n = ring->num, count = 0;
	bool indirect = false;

	if (head >= n)
		return false;
	for (;;) {
		struct vring_desc dd, *d = &dd;
		u16 flags;
		u32 len;
		void *u;

		/* Tables may be unaligned: the module copies them too. */
		memcpy(&dd, &t[i], sizeof(dd));
		flags = le16_to_cpu((__force __le16)d->flags);
		len = le32_to_cpu((__force __le32)d->len);

		if (count++ >= n)
			return false;
		if (flags & VRING_DESC_F_INDIRECT) {
			if (indirect || !ring->indirect ||
			    (flags & VRING_DESC_F_NEXT) || !len ||
			    len % sizeof(*d) ||
			    len / sizeof(*d) > VHOST_BLK_VRING_MAX || !ring->mem ||
			    vhost_blk_mem_translate(ring->mem,
						    le64_to_cpu((__force __le64)d->addr),
						    len, (void __user **)&u) != len)
				return false;
			t = u;
			i = 0;
			n = len / sizeof(*d);
			count = 0;
			indirect = true;
			continue;
		}
		if (!(flags & VRING_DESC_F_NEXT)) {
			*last = *d;
			return true;
		}
		i = le16_to_cpu((__force __le16)d->next);
		if (i >= n)
			return false;
	}
}

static u64 fuzz_iov_sum(const struct iovec *iov, unsigned int nr)
{
	u64 sum = 0;
	unsigned int i;

	for (i = 0; i < nr; i++)
		fuzz_check(!check_add_overflow(sum, (u64)iov[i].iov_len, &sum));
	return sum;
}

/*
 * Bytes [skip, skip + len) of @iov read straight from the arena, or
 * false when they are not all in it.
 */
static bool fuzz_gather(const struct iovec *iov, unsigned int nr, u64 skip,
			u64 len, u8 *dst)
{
	uintptr_t base = (uintptr_t)fuzz_arena;
	unsigned int i;

	for (i = 0; i < nr && len; i++) {
		uintptr_t a = (uintptr_t)iov[i].iov_base;
		u64 l = iov[i].iov_len, n;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		n = min(l - skip, len);
		a += skip;
		if (a < base || a - base > fuzz_arena_size ||
		    n > fuzz_arena_size - (a - base))
			return false;
		memcpy(dst, fuzz_arena + (a - base), n);
		dst += n;
		len -= n;
		skip = 0;
	}
	return !len;
}

/* @out is exactly the [skip, skip + len) byte range of @iov. */
static void fuzz_check_slice(const struct iovec *iov, unsigned int nr,
			     u64 skip, u64 len, const struct iovec *out,
			     unsigned int nr_out)
{
	unsigned int i, k = 0;

	for (i = 0; i < nr && len; i++) {
		u64 l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		fuzz_check(k < nr_out);
		fuzz_check(out[k].iov_base == iov[i].iov_base + skip);
		fuzz_check(out[k].iov_len == min(l - skip, len));
		len -= out[k].iov_len;
		skip = 0;
		k++;
	}
	fuzz_check(!len);
	fuzz_check(k == nr_out);
}

/* What vhost_blk_chain_walk() promises of an accepted chain. */
static void fuzz_check_chain(const struct vhost_blk_mem *mem)
{
	unsigned int i, nr = chain->nr_out + chain->nr_in;

	fuzz_check(nr <= VHOST_BLK_IOV_MAX);
	fuzz_check(fuzz_iov_sum(chain->iov, chain->nr_out) == chain->out_len);
	fuzz_check(fuzz_iov_sum(chain->iov + chain->nr_out, chain->nr_in) ==
		   chain->in_len);
	for (i = 0; i < nr; i++) {
		fuzz_check(chain->iov[i].iov_len);
		/* A descriptor is at most U32_MAX bytes, a piece of one too. */
		fuzz_check(chain->iov[i].iov_len <= U32_MAX);
		fuzz_check(fuzz_in_region(mem, chain->iov[i].iov_base,
					  chain->iov[i].iov_len));
	}
}

/* [sector, sector + nr) is whole blocks inside the disk. */
static void fuzz_check_range(const struct vhost_blk_limits *lim,
			     u64 sector, u64 nr)
{
	u64 end, spb = lim->lbs / SECTOR_SIZE;

	fuzz_check(sector % spb == 0 && nr % spb == 0);
	fuzz_check(!check_add_overflow(sector, nr, &end));
	fuzz_check(end <= lim->capacity);
}

static void fuzz_check_rw(const struct vhost_blk_limits *lim,
			  const struct vhost_blk_cmd *cmd,
			  const struct vhost_blk_mem *mem)
{
	unsigned int i;

	fuzz_check(cmd->data_len && cmd->data_len % SECTOR_SIZE == 0);
	fuzz_check(cmd->data_len <= VHOST_BLK_MAX_REQ_BYTES);
	fuzz_check_range(lim, cmd->sector, cmd->data_len / SECTOR_SIZE);
	fuzz_check(cmd->nr_data && cmd->nr_data <= VHOST_BLK_IOV_MAX);
	fuzz_check(fuzz_iov_sum(cmd->data, cmd->nr_data) == cmd->data_len);
	for (i = 0; i < cmd->nr_data; i++)
		fuzz_check(fuzz_in_region(mem, cmd->data[i].iov_base,
					  cmd->data[i].iov_len));
}

static void fuzz_check_discard(const struct vhost_blk_limits *lim,
			   const struct vhost_blk_cmd *cmd)
{
	const u64 hdr = sizeof(struct virtio_blk_outhdr);
	static u8 table[VHOST_BLK_DISCARD_SEG_MAX * sizeof(*segs)];
	u64 max, bit;
	unsigned int i;

	switch (cmd->type) {
	case VIRTIO_BLK_T_DISCARD:
		bit = BIT_ULL(VIRTIO_BLK_F_DISCARD);
		max = lim->max_discard;
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		bit = BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES);
		max = lim->max_write_zeroes;
		break;
	default:
		bit = BIT_ULL(VIRTIO_BLK_F_SECURE_ERASE);
		max = lim->max_secure_erase;
		break;
	}
	fuzz_check(!lim->ro && (lim->features & bit));
	fuzz_check(cmd->nr_segs && cmd->nr_segs <= VHOST_BLK_DISCARD_SEG_MAX);
	fuzz_check(chain->out_len == hdr + cmd->nr_segs * sizeof(*segs));
	/* The copy is the guest's table, byte for byte. */
	fuzz_check(fuzz_gather(chain->iov, chain->nr_out, hdr,
			       cmd->nr_segs * sizeof(*segs), table));
	fuzz_check(!memcmp(table, cmd->segs, cmd->nr_segs * sizeof(*segs)));
	for (i = 0; i < cmd->nr_segs; i++) {
		u32 flags = le32_to_cpu(cmd->segs[i].flags);
		u32 num = le32_to_cpu(cmd->segs[i].num_sectors);

		fuzz_check(flags == 0 ||
			   (flags == VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP &&
			    cmd->type == VIRTIO_BLK_T_WRITE_ZEROES));
		fuzz_check(num <= max);
		fuzz_check_range(lim, le64_to_cpu(cmd->segs[i].sector), num);
	}
}

/* What vhost_blk_decode() promises; @st is its verdict. */
static void fuzz_check_cmd(const struct vhost_blk_limits *lim,
			   const struct vhost_blk_cmd *cmd, u8 st,
			   const struct vhost_blk_mem *mem)
{
	const struct iovec *in = chain->iov + chain->nr_out, *last;
	const u64 hdr = sizeof(struct virtio_blk_outhdr);
	struct virtio_blk_outhdr h;

	fuzz_check(st == VIRTIO_BLK_S_OK || st == VIRTIO_BLK_S_IOERR ||
		   st == VIRTIO_BLK_S_UNSUPP);
	fuzz_check(cmd->data == data && cmd->segs == segs);
	fuzz_check(cmd->nr_data <= VHOST_BLK_IOV_MAX);
	fuzz_check(cmd->nr_segs <= VHOST_BLK_DISCARD_SEG_MAX);
	if (!chain->in_len) {
		fuzz_check(!cmd->status && st == VIRTIO_BLK_S_IOERR);
		return;
	}
	/* The status byte is the last byte of the last writable buffer. */
	last = &in[chain->nr_in - 1];
	fuzz_check(cmd->status == (u8 *)last->iov_base + last->iov_len - 1);
	fuzz_check(fuzz_in_region(mem, cmd->status, 1));
	if (chain->out_len > U32_MAX || chain->in_len > U32_MAX) {
		fuzz_check(st == VIRTIO_BLK_S_IOERR);
		fuzz_check(!cmd->nr_data && !cmd->nr_segs);
		return;
	}
	fuzz_check(cmd->in_len == chain->in_len);
	/* No header read, no type: the counters file it as "other". */
	if (chain->out_len < hdr)
		fuzz_check(cmd->type == VHOST_BLK_T_NONE);
	if (st != VIRTIO_BLK_S_OK)
		return;

	/* Accepted: the header was readable and is the guest's. */
	fuzz_check(chain->out_len >= hdr);
	fuzz_check(fuzz_gather(chain->iov, chain->nr_out, 0, hdr, (u8 *)&h));
	fuzz_check(cmd->type == le32_to_cpu(h.type));
	fuzz_check(cmd->sector == le64_to_cpu(h.sector));
	if (cmd->type != VIRTIO_BLK_T_DISCARD &&
	    cmd->type != VIRTIO_BLK_T_WRITE_ZEROES &&
	    cmd->type != VIRTIO_BLK_T_SECURE_ERASE)
		fuzz_check(!cmd->nr_segs);

	switch (cmd->type) {
	case VIRTIO_BLK_T_IN:
		fuzz_check(cmd->data_len == chain->in_len - 1);
		fuzz_check_rw(lim, cmd, mem);
		fuzz_check_slice(in, chain->nr_in, 0, cmd->data_len,
				 cmd->data, cmd->nr_data);
		break;
	case VIRTIO_BLK_T_OUT:
		fuzz_check(!lim->ro);
		fuzz_check(cmd->data_len == chain->out_len - hdr);
		fuzz_check_rw(lim, cmd, mem);
		fuzz_check_slice(chain->iov, chain->nr_out, hdr, cmd->data_len,
				 cmd->data, cmd->nr_data);
		break;
	case VIRTIO_BLK_T_GET_ID:
		fuzz_check(cmd->data_len == chain->in_len - 1);
		fuzz_check(fuzz_iov_sum(cmd->data, cmd->nr_data) ==
			   cmd->data_len);
		fuzz_check_slice(in, chain->nr_in, 0, cmd->data_len,
				 cmd->data, cmd->nr_data);
		break;
	case VIRTIO_BLK_T_FLUSH:
		fuzz_check(!cmd->nr_data && !cmd->data_len);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
	case VIRTIO_BLK_T_SECURE_ERASE:
		fuzz_check_discard(lim, cmd);
		break;
	default:
		fuzz_check(!"an unknown type accepted");
	}
}

int LLVMFuzzerTestOneInput(const u8 *buf, size_t size)
{
	struct vhost_blk_desc_ring ring;
	struct vhost_blk_limits lim;
	struct vhost_blk_cmd cmd;
	struct vhost_blk_mem *mem;
	struct fuzz_input in;
	u8 *status = NULL;
	int ret, sret;
	u16 head;
	u8 st;

	if (size < sizeof(in))
		return -1;	/* not worth keeping */
	memcpy(&in, buf, sizeof(in));
	/* libFuzzer's copy of the input is exactly sized: reads past it fault. */
	fuzz_arena = buf + sizeof(in);
	fuzz_arena_size = size - sizeof(in);

	lim.features = le64_to_cpu(in.features);
	lim.capacity = le64_to_cpu(in.capacity);
	lim.lbs = SECTOR_SIZE << (in.lbs_order % 8);
	lim.ro = in.flags & FUZZ_F_RO;
	lim.max_discard = le64_to_cpu(in.max_discard);
	lim.max_write_zeroes = le64_to_cpu(in.max_write_zeroes);
	lim.max_secure_erase = le64_to_cpu(in.max_secure_erase);

	mem = fuzz_mem(&in);
	ring.desc = (const struct vring_desc *)((uintptr_t)fuzz_arena +
						le32_to_cpu(in.desc_off));
	ring.num = 1U << (in.ring_order % 16);
	ring.indirect = in.flags & FUZZ_F_INDIRECT;
	ring.mem = in.flags & FUZZ_F_NO_MEM ? NULL : mem;
	head = le16_to_cpu(in.head);

	ret = vhost_blk_chain_walk(&ring, head, chain);
	fuzz_check(ret == 0 || ret == -ELOOP || ret == -EINVAL ||
		   ret == -EFAULT || ret == -E2BIG);
	/* The module looks for a status byte only in refused chains. */
	sret = vhost_blk_chain_status(&ring, head, &status);
	fuzz_check(sret == 0 || sret == -ELOOP || sret == -EINVAL ||
		   sret == -EFAULT || sret == -E2BIG);
	if (!sret) {
		struct vring_desc d;
		u64 gpa, len;
		void *u;

		/*
		 * The device writes IOERR there: the last byte of a last
		 * descriptor that is writable and all of it guest memory.
		 */
		fuzz_check(fuzz_in_region(ring.mem, status, 1));
		fuzz_check(fuzz_last_desc(&ring, head, &d));
		gpa = le64_to_cpu((__force __le64)d.addr);
		len = le32_to_cpu((__force __le32)d.len);
		fuzz_check(le16_to_cpu((__force __le16)d.flags) &
			   VRING_DESC_F_WRITE);
		fuzz_check(len && fuzz_covered(ring.mem, gpa, len));
		fuzz_check(vhost_blk_mem_translate(ring.mem, gpa + len - 1, 1,
						   (void __user **)&u) == 1);
		fuzz_check((void *)status == u);
	}
	if (ret) {
		free(mem);
		return 0;
	}

	fuzz_check_chain(ring.mem);
	/* The same bounds: an accepted chain has no loop, bad index or table. */
	fuzz_check(sret == 0 || sret == -EINVAL);
	memset(&cmd, 0xa5, sizeof(cmd));
	cmd.data = data;
	cmd.segs = segs;
	st = vhost_blk_decode(chain, &lim, &cmd);
	fuzz_check_cmd(&lim, &cmd, st, ring.mem);
	/* Both find the last byte of the chain's last (non-empty) buffer. */
	if (!sret)
		fuzz_check(chain->nr_in && status == cmd.status);
	free(mem);
	return 0;
}
