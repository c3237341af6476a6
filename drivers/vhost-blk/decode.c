// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk guest request decoding.
 *
 * A chain head taken off the avail ring becomes a list of owner-address
 * buffers (vhost_blk_chain_walk()), and the buffers become a validated
 * request (vhost_blk_decode()): its type, its sector range checked against
 * the disk, its data buffers and their length checked against the limits
 * the device advertises, its status byte, and for DISCARD, WRITE_ZEROES
 * and SECURE_ERASE a copy of its segment table, every segment checked.
 *
 * All of it is guest controlled. Walks are bounded by the size of the
 * table they walk, so a loop ends; a chain maps to at most
 * VHOST_BLK_IOV_MAX buffers; every address is translated through the
 * memory table. Lengths are summed in u64 (see decode.h for the rule).
 *
 * Rings are little-endian (VIRTIO_F_VERSION_1; legacy guests on
 * little-endian hosts see the same layout).
 */
#include <linux/bits.h>
#include <linux/minmax.h>
#include <linux/overflow.h>
#include <linux/uaccess.h>
#include <linux/virtio_byteorder.h>

#include "decode.h"

/* virtio-blk counts in 512-byte sectors, whatever the block size. */
#define VHOST_BLK_SECTOR_SHIFT	9
#define VHOST_BLK_SECTOR_SIZE	512

/**
 * vhost_blk_mem_find() - the region holding a guest-physical address
 * @mem: a validated table
 * @gpa: guest-physical address
 *
 * Return: the region, or NULL when @gpa is in none.
 */
const struct vhost_blk_mem_region *
vhost_blk_mem_find(const struct vhost_blk_mem *mem, u64 gpa)
{
	u32 lo = 0, hi = mem->nregions;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;
		const struct vhost_blk_mem_region *r = &mem->regions[mid];

		if (gpa < r->gpa)
			hi = mid;
		else if (gpa - r->gpa >= r->size)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

/**
 * vhost_blk_mem_translate() - owner address of a guest-physical range
 * @mem: a validated table, or NULL
 * @gpa: guest-physical start
 * @len: bytes wanted
 * @uaddr: the owner address of @gpa, set when the result is non-zero
 *
 * Return: how many of the @len bytes lie in the region holding @gpa (the
 * rest, if any, starts the next lookup), or 0 when @gpa is in no region.
 */
u64 vhost_blk_mem_translate(const struct vhost_blk_mem *mem, u64 gpa,
			    u64 len, void __user **uaddr)
{
	const struct vhost_blk_mem_region *r;
	u64 off;

	r = mem ? vhost_blk_mem_find(mem, gpa) : NULL;
	if (!r)
		return 0;
	off = gpa - r->gpa;
	*uaddr = u64_to_user_ptr(r->uaddr + off);
	return min(len, r->size - off);
}

/* Append the guest buffer [gpa, gpa + len) to @chain, split by region. */
static int vhost_blk_chain_map(const struct vhost_blk_desc_ring *ring,
			       struct vhost_blk_chain *chain,
			       u64 gpa, u32 len, bool write)
{
	u64 last, left = len;

	/* Whatever its length, as vhost does: the order is the guest's. */
	if (!write && chain->nr_in)
		return -EINVAL;		/* readable after writable */
	if (!len)
		return 0;
	if (check_add_overflow(gpa, left - 1, &last))
		return -EFAULT;

	while (left) {
		unsigned int n = chain->nr_out + chain->nr_in;
		void __user *uaddr;
		u64 chunk;

		if (n >= VHOST_BLK_IOV_MAX)
			return -E2BIG;
		chunk = vhost_blk_mem_translate(ring->mem, gpa, left, &uaddr);
		if (!chunk)
			return -EFAULT;
		chain->iov[n].iov_base = uaddr;
		chain->iov[n].iov_len = chunk;
		/* At most VHOST_BLK_IOV_MAX * U32_MAX: no u64 overflow. */
		if (write) {
			chain->nr_in++;
			chain->in_len += chunk;
		} else {
			chain->nr_out++;
			chain->out_len += chunk;
		}
		left -= chunk;
		/* Not past the end: the buffer may end at 2^64 - 1. */
		if (left)
			gpa += chunk;
	}
	return 0;
}

/*
 * The descriptor table an indirect descriptor points at, as owner
 * address and entry count, or a negative errno.
 */
static int vhost_blk_indirect_table(const struct vhost_blk_desc_ring *ring,
				    const struct vring_desc *ind,
				    const struct vring_desc __user **table,
				    unsigned int *n)
{
	u32 len = __virtio32_to_cpu(true, ind->len);
	void __user *uaddr;

	if (!len || len % sizeof(struct vring_desc))
		return -EINVAL;
	if (len / sizeof(struct vring_desc) > VHOST_BLK_VRING_MAX)
		return -E2BIG;
	/* The whole table must lie in one region. */
	if (vhost_blk_mem_translate(ring->mem,
				    __virtio64_to_cpu(true, ind->addr), len,
				    &uaddr) != len)
		return -EFAULT;
	*table = uaddr;
	*n = len / sizeof(struct vring_desc);
	return 0;
}

/*
 * Follow the chain at @head: at most as many descriptors as the table
 * being walked has, so a loop ends; a descriptor of the ring's own table
 * may point at an indirect table, whose chain then ends the walk, and a
 * descriptor of an indirect table may not, wherever the guest put that
 * table. With @chain, every buffer is appended to it. The last
 * descriptor is left in @last.
 */
static int vhost_blk_walk(const struct vhost_blk_desc_ring *ring, u16 head,
			  struct vhost_blk_chain *chain,
			  struct vring_desc *last)
{
	const struct vring_desc __user *table = ring->desc;
	unsigned int i = head, n = ring->num, count = 0;
	bool indirect = false;
	struct vring_desc d;
	u16 flags;
	int ret;

	if (head >= ring->num)
		return -EINVAL;
	for (;;) {
		if (count++ >= n)
			return -ELOOP;
		if (copy_from_user(&d, table + i, sizeof(d)))
			return -EFAULT;
		flags = __virtio16_to_cpu(true, d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			if (indirect || !ring->indirect ||
			    (flags & VRING_DESC_F_NEXT))
				return -EINVAL;
			ret = vhost_blk_indirect_table(ring, &d, &table, &n);
			if (ret)
				return ret;
			i = 0;
			count = 0;
			indirect = true;
			continue;
		}
		if (chain) {
			ret = vhost_blk_chain_map(ring, chain,
						  __virtio64_to_cpu(true, d.addr),
						  __virtio32_to_cpu(true, d.len),
						  flags & VRING_DESC_F_WRITE);
			if (ret)
				return ret;
		}
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		i = __virtio16_to_cpu(true, d.next);
		if (i >= n)
			return -EINVAL;
	}
	*last = d;
	return 0;
}

/**
 * vhost_blk_chain_walk() - walk a descriptor chain into buffers
 * @ring: the descriptor table and what the walk may use
 * @head: chain head, below @ring->num
 * @chain: filled with the owner addresses of the chain's buffers
 *
 * Return: 0, or a negative errno for a chain the device must refuse:
 * -ELOOP (longer than its table: a loop), -EINVAL (index out of range,
 * bad flags or order), -EFAULT (address outside the memory table),
 * -E2BIG (too many buffers, or an indirect table above the ring limit).
 */
int vhost_blk_chain_walk(const struct vhost_blk_desc_ring *ring, u16 head,
			 struct vhost_blk_chain *chain)
{
	struct vring_desc last;

	chain->nr_out = 0;
	chain->nr_in = 0;
	chain->out_len = 0;
	chain->in_len = 0;
	return vhost_blk_walk(ring, head, chain, &last);
}

/**
 * vhost_blk_chain_status() - find the status byte of a refused chain
 * @ring: the descriptor table and what the walk may use
 * @head: chain head, below @ring->num
 * @status: owner address of the chain's last byte
 *
 * Follows the chain as vhost_blk_chain_walk() does but maps only its last
 * descriptor, which must be device-writable, not empty and all of it in
 * the memory table.
 *
 * Return: 0, or a negative errno when there is no usable status byte.
 */
int vhost_blk_chain_status(const struct vhost_blk_desc_ring *ring, u16 head,
			   u8 __user **status)
{
	void __user *uaddr;
	struct vring_desc d;
	u64 gpa, last, left, chunk;
	int ret;

	ret = vhost_blk_walk(ring, head, NULL, &d);
	if (ret)
		return ret;
	gpa = __virtio64_to_cpu(true, d.addr);
	left = __virtio32_to_cpu(true, d.len);
	if (!(__virtio16_to_cpu(true, d.flags) & VRING_DESC_F_WRITE) || !left ||
	    check_add_overflow(gpa, left - 1, &last))
		return -EINVAL;
	/*
	 * The whole buffer must be guest memory, as the walk wants it, not
	 * only its last byte: a buffer that starts outside the table is no
	 * buffer, and its last byte may be any guest page (a ring, say).
	 */
	for (;;) {
		chunk = vhost_blk_mem_translate(ring->mem, gpa, left, &uaddr);
		if (!chunk)
			return -EFAULT;
		left -= chunk;
		if (!left)
			break;
		gpa += chunk;
	}
	*status = uaddr + chunk - 1;
	return 0;
}

/* The [skip, skip + len) byte range of @iov as a new iovec array. */
static unsigned int vhost_blk_iov_slice(const struct iovec *iov,
					unsigned int nr, u64 skip, u64 len,
					struct iovec *out)
{
	unsigned int i, n = 0;

	for (i = 0; i < nr && len; i++) {
		u64 l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		out[n].iov_base = iov[i].iov_base + skip;
		out[n].iov_len = min(l - skip, len);
		len -= out[n].iov_len;
		skip = 0;
		n++;
	}
	return n;
}

/* Copy the first @len bytes of @iov; @len is small and bounded. */
static int vhost_blk_copy_from_iov(void *dst, const struct iovec *iov,
				   unsigned int nr, size_t len)
{
	unsigned int i;

	for (i = 0; i < nr && len; i++) {
		size_t n = min(len, iov[i].iov_len);

		if (copy_from_user(dst, iov[i].iov_base, n))
			return -EFAULT;
		dst += n;
		len -= n;
	}
	return len ? -EFAULT : 0;
}

/* Is [sector, sector + nr_sectors) a range of whole blocks on the disk? */
static bool vhost_blk_range_ok(const struct vhost_blk_limits *lim,
			       u64 sector, u64 nr_sectors)
{
	u64 bmask = (lim->lbs >> VHOST_BLK_SECTOR_SHIFT) - 1;

	if ((sector | nr_sectors) & bmask)
		return false;
	return sector <= lim->capacity && nr_sectors <= lim->capacity - sector;
}

/* IN and OUT: @len data bytes from @skip on in @iov. */
static u8 vhost_blk_decode_rw(const struct vhost_blk_limits *lim,
			      struct vhost_blk_cmd *cmd,
			      const struct iovec *iov, unsigned int nr,
			      u64 skip, u64 len)
{
	if (cmd->type == VIRTIO_BLK_T_OUT && lim->ro)
		return VIRTIO_BLK_S_IOERR;
	if (!len || len % VHOST_BLK_SECTOR_SIZE ||
	    len > VHOST_BLK_MAX_REQ_BYTES ||
	    !vhost_blk_range_ok(lim, cmd->sector,
				len >> VHOST_BLK_SECTOR_SHIFT))
		return VIRTIO_BLK_S_IOERR;
	cmd->nr_data = vhost_blk_iov_slice(iov, nr, skip, len, cmd->data);
	cmd->data_len = len;
	return VIRTIO_BLK_S_OK;
}

/*
 * DISCARD, WRITE_ZEROES and SECURE_ERASE: the payload after the header is
 * a table of segments, copied once and checked whole before anything is
 * issued.
 */
static u8 vhost_blk_decode_discard(const struct vhost_blk_chain *chain,
				   const struct vhost_blk_limits *lim,
				   struct vhost_blk_cmd *cmd)
{
	const u64 hdr = sizeof(struct virtio_blk_outhdr);
	const u64 seg = sizeof(*cmd->segs);
	u64 len = chain->out_len - hdr, bit, max;
	unsigned int i, nr;

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
	if (lim->ro)
		return VIRTIO_BLK_S_IOERR;
	/* Served only when the backend has it and the driver acked it. */
	if (!(lim->features & bit))
		return VIRTIO_BLK_S_UNSUPP;
	/* @len is the guest's 64-bit sum: bound it before narrowing it. */
	if (!len || len % seg || len > VHOST_BLK_DISCARD_SEG_MAX * seg)
		return VIRTIO_BLK_S_IOERR;
	nr = vhost_blk_iov_slice(chain->iov, chain->nr_out, hdr, len,
				 cmd->data);
	if (vhost_blk_copy_from_iov(cmd->segs, cmd->data, nr, len))
		return VIRTIO_BLK_S_IOERR;
	cmd->nr_segs = len / seg;

	for (i = 0; i < cmd->nr_segs; i++) {
		const struct virtio_blk_discard_write_zeroes *s = &cmd->segs[i];
		u32 flags = le32_to_cpu(s->flags);
		u32 num = le32_to_cpu(s->num_sectors);

		if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP ||
		    (flags && cmd->type != VIRTIO_BLK_T_WRITE_ZEROES))
			return VIRTIO_BLK_S_UNSUPP;
		if (num > max ||
		    !vhost_blk_range_ok(lim, le64_to_cpu(s->sector), num))
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

/**
 * vhost_blk_decode() - turn a walked chain into a validated request
 * @chain: the chain, as vhost_blk_chain_walk() returned it
 * @lim: what the backend serves and allows now
 * @cmd: the request; @cmd->data and @cmd->segs point at scratch arrays
 *
 * Return: VIRTIO_BLK_S_OK when @cmd is to be carried out; otherwise the
 * status to complete it with at once. @cmd->status is NULL for a chain
 * without a device-writable byte: a guest error, nothing to write back.
 */
u8 vhost_blk_decode(const struct vhost_blk_chain *chain,
		    const struct vhost_blk_limits *lim,
		    struct vhost_blk_cmd *cmd)
{
	const struct iovec *in = chain->iov + chain->nr_out;
	struct virtio_blk_outhdr hdr;

	cmd->type = VHOST_BLK_T_NONE;
	cmd->sector = 0;
	cmd->status = NULL;
	cmd->in_len = 0;
	cmd->nr_data = 0;
	cmd->data_len = 0;
	cmd->nr_segs = 0;

	if (!chain->in_len)
		return VIRTIO_BLK_S_IOERR;
	cmd->status = in[chain->nr_in - 1].iov_base +
		      in[chain->nr_in - 1].iov_len - 1;
	/*
	 * Aliased descriptors can sum past 2^32; used.len is 32-bit and no
	 * request is that large: such a chain fails whatever its type. Its
	 * writable length, when it fits, still decides used.len.
	 */
	if (chain->in_len > U32_MAX)
		return VIRTIO_BLK_S_IOERR;
	cmd->in_len = chain->in_len;
	if (chain->out_len > U32_MAX)
		return VIRTIO_BLK_S_IOERR;

	if (chain->out_len < sizeof(hdr) ||
	    vhost_blk_copy_from_iov(&hdr, chain->iov, chain->nr_out,
				    sizeof(hdr)))
		return VIRTIO_BLK_S_IOERR;
	cmd->type = __virtio32_to_cpu(true, hdr.type);
	cmd->sector = __virtio64_to_cpu(true, hdr.sector);

	switch (cmd->type) {
	case VIRTIO_BLK_T_IN:
		return vhost_blk_decode_rw(lim, cmd, in, chain->nr_in, 0,
					   chain->in_len - 1);
	case VIRTIO_BLK_T_OUT:
		return vhost_blk_decode_rw(lim, cmd, chain->iov, chain->nr_out,
					   sizeof(hdr),
					   chain->out_len - sizeof(hdr));
	case VIRTIO_BLK_T_GET_ID:
		cmd->nr_data = vhost_blk_iov_slice(in, chain->nr_in, 0,
						   chain->in_len - 1,
						   cmd->data);
		cmd->data_len = chain->in_len - 1;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_FLUSH:
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
	case VIRTIO_BLK_T_SECURE_ERASE:
		return vhost_blk_decode_discard(chain, lim, cmd);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}
