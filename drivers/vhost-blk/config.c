// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk device configuration: what the backend allows and how the
 * device presents it to the guest.
 *
 * Which files may back a device, its capacity, the feature bits and
 * limits that hold for a backend (read again for every request, so that
 * a resized or read-only backend is seen at once), and the virtio-blk
 * config space VHOST_BLK_GET_CONFIG returns. Every limit comes from the
 * backend: its queue limits for a block device, its filesystem for a
 * file.
 */
#include <linux/blkdev.h>
#include <linux/fs.h>
#include <linux/log2.h>
#include <linux/virtio_byteorder.h>

#include "vhost_blk.h"

/**
 * vhost_blk_backend_allowed() - may the owner's file back a device?
 * @file: any file the owner passed
 *
 * A block device, or a regular file whose filesystem reads and writes
 * through iterators (the file backend's asynchronous I/O needs them).
 * The owner's open() is the access control: the device only does what
 * the fd allows. It must be readable; writes need FMODE_WRITE (else the
 * device is read-only). Append-only files and active swap are refused:
 * the guest writes anywhere.
 *
 * Return: 0, -ENOTBLK for any other kind of file, -EBADF when not open
 * for reading, -EPERM for an append-only file open for writing, -ETXTBSY
 * for active swap.
 */
int vhost_blk_backend_allowed(struct file *file)
{
	struct inode *inode = file->f_mapping->host;
	umode_t mode = file_inode(file)->i_mode;

	if (!S_ISBLK(mode) &&
	    (!S_ISREG(mode) || !file->f_op->read_iter ||
	     !file->f_op->write_iter))
		return -ENOTBLK;
	if (!(file->f_mode & FMODE_READ))
		return -EBADF;
	if ((file->f_mode & FMODE_WRITE) &&
	    ((file->f_flags & O_APPEND) || IS_APPEND(file_inode(file))))
		return -EPERM;
	if (IS_SWAPFILE(inode) || IS_SWAPFILE(file_inode(file)))
		return -ETXTBSY;
	return 0;
}

/**
 * vhost_blk_lbs() - logical block size the device presents
 * @dev: the device, with a backend
 *
 * For a file, the block size of the device under its filesystem: the
 * alignment direct I/O needs.
 *
 * Return: the logical block size in bytes (512 for a file on a filesystem
 * without a block device).
 */
unsigned int vhost_blk_lbs(struct vhost_blk_dev *dev)
{
	struct super_block *sb;

	if (dev->bdev)
		return bdev_logical_block_size(dev->bdev);
	sb = file_inode(dev->bfile)->i_sb;
	return sb->s_bdev ? bdev_logical_block_size(sb->s_bdev) : SECTOR_SIZE;
}

/**
 * vhost_blk_capacity() - size of the backend in 512-byte sectors
 * @dev: the device, with a backend that cannot change under the caller
 *
 * The live size: cheap, takes no lock.
 *
 * Return: the number of whole 512-byte sectors the backend holds now.
 */
u64 vhost_blk_capacity(struct vhost_blk_dev *dev)
{
	if (dev->bdev)
		return bdev_nr_sectors(dev->bdev);
	return i_size_read(file_inode(dev->bfile)) >> SECTOR_SHIFT;
}

/*
 * Read-only now? Bios skip the checks of the block device's write path,
 * so a device made read-only or used for swap after the attach is caught
 * here, for every write.
 */
static bool vhost_blk_ro(struct vhost_blk_dev *dev)
{
	return dev->ro || (dev->bdev && (bdev_read_only(dev->bdev) ||
					 IS_SWAPFILE(dev->bfile->f_mapping->host)));
}

/* The backend's limit for one segment of a DISCARD-like request. */
u64 vhost_blk_discard_max(struct vhost_blk_dev *dev, u32 type)
{
	struct block_device *bdev = dev->bdev;

	if (!bdev)
		return type == VIRTIO_BLK_T_SECURE_ERASE ? 0 : U32_MAX;
	switch (type) {
	case VIRTIO_BLK_T_DISCARD:
		return bdev_max_discard_sectors(bdev);
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return bdev_write_zeroes_sectors(bdev) ?: VHOST_BLK_ZEROOUT_MAX;
	default:
		return bdev_max_secure_erase_sectors(bdev);
	}
}

/* The feature bits that hold for @dev, given its DISCARD-like limits. */
static u64 vhost_blk_features_of(struct vhost_blk_dev *dev, u64 max_discard,
				 u64 max_secure_erase)
{
	u64 f = VHOST_BLK_FEATURES;

	if (dev->ro) {
		f &= ~(BIT_ULL(VIRTIO_BLK_F_DISCARD) |
		       BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES) |
		       BIT_ULL(VIRTIO_BLK_F_SECURE_ERASE));
		f |= BIT_ULL(VIRTIO_BLK_F_RO);
	}
	if (!max_discard)
		f &= ~BIT_ULL(VIRTIO_BLK_F_DISCARD);
	if (!max_secure_erase)
		f &= ~BIT_ULL(VIRTIO_BLK_F_SECURE_ERASE);
	return f;
}

/* What the backend serves and allows now, for vhost_blk_decode(). */
void vhost_blk_limits(struct vhost_blk_dev *dev, struct vhost_blk_limits *lim)
{
	lim->max_discard = vhost_blk_discard_max(dev, VIRTIO_BLK_T_DISCARD);
	lim->max_write_zeroes = vhost_blk_discard_max(dev,
						      VIRTIO_BLK_T_WRITE_ZEROES);
	lim->max_secure_erase = vhost_blk_discard_max(dev,
						      VIRTIO_BLK_T_SECURE_ERASE);
	/* Each limit is looked up once per request. */
	lim->features = vhost_blk_features_of(dev, lim->max_discard,
					      lim->max_secure_erase) &
			dev->acked_features;
	/*
	 * The live size, read for every request: a resized backend is seen
	 * at once (and signalled), a shrunk one refuses what is past its
	 * new end instead of letting a write extend a file again.
	 */
	lim->capacity = vhost_blk_capacity_check(dev);
	lim->lbs = vhost_blk_lbs(dev);
	lim->ro = vhost_blk_ro(dev);
}

/**
 * vhost_blk_features() - the device feature bits the backend supports
 * @dev: the device, with a backend
 * @features: the subset of VHOST_BLK_FEATURES that holds for it
 */
void vhost_blk_features(struct vhost_blk_dev *dev, u64 *features)
{
	u64 discard = vhost_blk_discard_max(dev, VIRTIO_BLK_T_DISCARD);
	u64 erase = vhost_blk_discard_max(dev, VIRTIO_BLK_T_SECURE_ERASE);

	*features = vhost_blk_features_of(dev, discard, erase);
}

/* A config space field: little-endian (VIRTIO_F_VERSION_1), saturated. */
static __virtio32 vhost_blk_cfg32(u64 v)
{
	return __cpu_to_virtio32(true, min_t(u64, v, U32_MAX));
}

/**
 * vhost_blk_fill_config() - the virtio-blk config space for the backend
 * @dev: the device, with its mutex held and a backend attached
 * @cfg: filled with little-endian fields as the guest reads them
 * @features: the device feature bits that hold for this backend
 *
 * Every limit comes from the backend: its queue limits for a block
 * device, its filesystem for a file.
 */
void vhost_blk_fill_config(struct vhost_blk_dev *dev,
			   struct virtio_blk_config *cfg, u64 *features)
{
	struct block_device *bdev = dev->bdev;
	unsigned int lbs = vhost_blk_lbs(dev);
	unsigned int pbs = lbs, io_min = lbs, io_opt = 0, align = 0;
	unsigned int granularity;
	bool wce = true;
	u64 max;

	if (bdev) {
		pbs = bdev_physical_block_size(bdev);
		io_min = bdev_io_min(bdev);
		io_opt = bdev_io_opt(bdev);
		align = max(bdev_alignment_offset(bdev), 0);
		granularity = bdev_discard_granularity(bdev);
		wce = bdev_write_cache(bdev);
	} else {
		granularity = file_inode(dev->bfile)->i_sb->s_blocksize;
	}
	granularity = max(granularity, lbs) >> SECTOR_SHIFT;

	vhost_blk_features(dev, features);
	memset(cfg, 0, sizeof(*cfg));
	cfg->capacity = __cpu_to_virtio64(true, vhost_blk_capacity_check(dev));
	cfg->size_max = vhost_blk_cfg32(VHOST_BLK_SIZE_MAX);
	cfg->seg_max = vhost_blk_cfg32(VHOST_BLK_SEG_MAX);
	cfg->blk_size = vhost_blk_cfg32(lbs);
	cfg->physical_block_exp = pbs > lbs ? ilog2(pbs / lbs) : 0;
	cfg->alignment_offset = align / lbs;
	cfg->min_io_size = __cpu_to_virtio16(true, min_t(u32, io_min / lbs,
							 U16_MAX));
	cfg->opt_io_size = vhost_blk_cfg32(io_opt / lbs);
	cfg->wce = wce;
	cfg->num_queues = __cpu_to_virtio16(true, VHOST_BLK_MAX_VQS);

	if (*features & BIT_ULL(VIRTIO_BLK_F_DISCARD)) {
		max = vhost_blk_discard_max(dev, VIRTIO_BLK_T_DISCARD);
		cfg->max_discard_sectors = vhost_blk_cfg32(max);
		cfg->max_discard_seg = vhost_blk_cfg32(VHOST_BLK_DISCARD_SEG_MAX);
		cfg->discard_sector_alignment = vhost_blk_cfg32(granularity);
	}
	if (*features & BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES)) {
		max = vhost_blk_discard_max(dev, VIRTIO_BLK_T_WRITE_ZEROES);
		cfg->max_write_zeroes_sectors = vhost_blk_cfg32(max);
		cfg->max_write_zeroes_seg = vhost_blk_cfg32(VHOST_BLK_DISCARD_SEG_MAX);
		cfg->write_zeroes_may_unmap = 1;
	}
	if (*features & BIT_ULL(VIRTIO_BLK_F_SECURE_ERASE)) {
		max = vhost_blk_discard_max(dev, VIRTIO_BLK_T_SECURE_ERASE);
		cfg->max_secure_erase_sectors = vhost_blk_cfg32(max);
		cfg->max_secure_erase_seg = vhost_blk_cfg32(VHOST_BLK_DISCARD_SEG_MAX);
		cfg->secure_erase_sector_alignment = vhost_blk_cfg32(granularity);
	}
}
