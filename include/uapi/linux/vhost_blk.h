/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vhost-blk: an in-kernel virtio-blk device backend.
 *
 * /dev/vhost-blk speaks the vhost ioctl ABI of <linux/vhost.h>:
 *
 *   VHOST_GET_FEATURES, VHOST_SET_FEATURES, VHOST_SET_OWNER,
 *   VHOST_RESET_OWNER, VHOST_SET_MEM_TABLE, VHOST_SET_VRING_NUM,
 *   VHOST_SET_VRING_ADDR, VHOST_SET_VRING_BASE, VHOST_GET_VRING_BASE,
 *   VHOST_SET_VRING_KICK, VHOST_SET_VRING_CALL, VHOST_SET_VRING_ERR,
 *   VHOST_SET_VRING_BUSYLOOP_TIMEOUT, VHOST_GET_VRING_BUSYLOOP_TIMEOUT
 *
 * The busy-poll timeout of a virtqueue is in microseconds, 0 (the default,
 * and again after VHOST_RESET_OWNER) to VHOST_BLK_BUSYLOOP_MAX_US (-EINVAL
 * above): the longest time its worker keeps polling the avail ring after
 * it runs dry, with guest notifications off, before it waits for a kick.
 * The window adapts between 0 and that bound, as QEMU's iothreads do
 * theirs: it grows while the guest's next chain comes just too late for
 * it and drops to 0 when the guest leaves the ring idle for longer, so
 * an idle queue does not poll; kicks with nothing posted are not polled
 * for. Polling stops early for other tasks, other
 * work and ioctls waiting for the queue. It trades CPU time for latency
 * and may be changed while the queue is served.
 *
 * plus the device-specific ioctls below. Every ioctl except
 * VHOST_GET_FEATURES and VHOST_SET_OWNER must be issued by the owner, the
 * process (address space) that called VHOST_SET_OWNER; anybody else gets
 * -EPERM. Vring addresses (VHOST_SET_VRING_ADDR) are virtual addresses of
 * the owner and must lie inside a region of the memory table; descriptor
 * addresses written by the guest are guest-physical addresses translated
 * through the memory table.
 *
 * Every struct of this header is extensible: it begins with its size,
 * which the caller sets to sizeof() of the struct it was built against.
 * The ioctls that take one are numbered with _IO() (no size or direction
 * in the number, as iommufd does): the kernel reads the size from the
 * struct's first __u32, refuses one below the first published version
 * (..._SIZE_VER0) with -EINVAL, and accepts a larger one up to the page
 * size as long as the bytes it does not know are zero (-E2BIG otherwise,
 * and for any size above the page size, as clone3() and openat2() do).
 * Reserved fields must be zero (-EINVAL). Output is written back up to
 * the smaller of the caller's size and the kernel's.
 */
#ifndef _UAPI_LINUX_VHOST_BLK_H
#define _UAPI_LINUX_VHOST_BLK_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/vhost.h>

/*
 * Per-virtqueue workers: VHOST_NEW_WORKER, VHOST_FREE_WORKER,
 * VHOST_ATTACH_VRING_WORKER and VHOST_GET_VRING_WORKER of <linux/vhost.h>
 * (Linux 6.4 and later; libvhost-blk's vhost_compat.h defines them for
 * programs built against older headers). By default
 * every virtqueue gets its own worker when it starts; a VMM can create
 * workers with VHOST_NEW_WORKER and map several virtqueues to one with
 * VHOST_ATTACH_VRING_WORKER (the virtqueue must be stopped, -EBUSY
 * otherwise). VHOST_FREE_WORKER refuses a worker still attached (-EBUSY).
 * A worker runs with the credentials of the owner's thread that created
 * it and counts as a task of the owner's user: creating one fails with
 * -EAGAIN past the owner's RLIMIT_NPROC (and, before Linux 6.4 where
 * workers are kthreads, past the module parameter max_kthread_workers);
 * more than VHOST_BLK_MAX_WORKERS per device gives -ENOSPC.
 */

/* Maximum number of virtqueues one device serves. */
#define VHOST_BLK_MAX_QUEUES		16

/* Upper bound of VHOST_SET_VRING_BUSYLOOP_TIMEOUT, in microseconds. */
#define VHOST_BLK_BUSYLOOP_MAX_US	10000

/* Maximum number of workers of one device (VHOST_NEW_WORKER). */
#define VHOST_BLK_MAX_WORKERS		32

/* Length of the serial number returned for VIRTIO_BLK_T_GET_ID. */
#define VHOST_BLK_SERIAL_LEN		20

/**
 * struct vhost_blk_backend - argument of VHOST_BLK_SET_BACKEND
 * @size:	sizeof(struct vhost_blk_backend); at least
 *		VHOST_BLK_BACKEND_SIZE_VER0.
 * @fd:		an open file descriptor of a block device or of a regular
 *		file (a raw image), or -1 to detach the current backend.
 *		The kernel takes its own reference: the caller may close
 *		@fd afterwards. Access control is the caller's open(): a
 *		backend opened O_RDONLY can only be attached read-only.
 *		Files are read and written with direct I/O where their
 *		filesystem supports it (O_DIRECT is not needed on @fd);
 *		flush is fsync(), discard punches holes, write-zeroes uses
 *		FALLOC_FL_ZERO_RANGE. Those three run on an auxiliary
 *		worker of each queue worker, a thread of the owner made
 *		after it (by this call for a regular file, for the queue
 *		workers that exist; stopped for anything else), so they
 *		hold up no queue; where one cannot be made (RLIMIT_NPROC,
 *		max_kthread_workers) the call still succeeds and the queue
 *		worker runs them.
 * @flags:	VHOST_BLK_BACKEND_F_* bits; unknown bits give -EOPNOTSUPP.
 * @serial:	the identifier returned to VIRTIO_BLK_T_GET_ID, up to 20
 *		bytes, zero padded (not necessarily zero terminated).
 * @reserved:	must be zero.
 *
 * Preconditions: the caller owns the device, and no virtqueue has a
 * request in flight (-EBUSY otherwise). Queues being served pick the
 * new backend up at once. An fd that is neither a block device nor a
 * regular file gives -ENOTBLK; a bad fd gives -EBADF.
 */
struct vhost_blk_backend {
	__u32 size;
	__s32 fd;
	__u64 flags;
	__u8 serial[VHOST_BLK_SERIAL_LEN];
	__u32 reserved[3];
};

#define VHOST_BLK_BACKEND_SIZE_VER0	48

/*
 * Present the device read-only: VIRTIO_BLK_F_RO is offered and every
 * write, discard or write-zeroes request fails with VIRTIO_BLK_S_IOERR
 * (DISCARD, WRITE_ZEROES and SECURE_ERASE are not offered).
 * Implied when the backend fd was not opened for writing or the block
 * device itself is read-only.
 */
#define VHOST_BLK_BACKEND_F_RO		(1ULL << 0)
#define VHOST_BLK_BACKEND_F_ALL		(VHOST_BLK_BACKEND_F_RO)

/**
 * struct vhost_blk_config - argument of VHOST_BLK_GET_CONFIG
 * @size:	sizeof(struct vhost_blk_config); at least
 *		VHOST_BLK_CONFIG_SIZE_VER0.
 * @config_len:	in: length of the buffer at @config_ptr; out: number of
 *		bytes of struct virtio_blk_config the kernel wrote (never
 *		more than the input).
 * @features:	out: the device feature bits (VIRTIO_BLK_F_*, the
 *		transport bits of VHOST_GET_FEATURES) that hold for the
 *		current backend: those of VHOST_GET_FEATURES the backend
 *		supports, plus VIRTIO_BLK_F_RO for a read-only one (which
 *		VHOST_GET_FEATURES never offers and VHOST_SET_FEATURES
 *		accepts). A VMM offers the guest these.
 * @config_ptr:	in: user address of a buffer for a struct
 *		virtio_blk_config (little-endian fields, as the guest sees
 *		them): capacity in 512-byte sectors, size_max, seg_max,
 *		blk_size, ...
 * @reserved:	must be zero.
 *
 * Requires an attached backend (-ENODEV otherwise). The config follows
 * the backend: call again after a resize (VHOST_BLK_SET_CONFIG_CALL
 * signals one) or a new VHOST_BLK_SET_BACKEND.
 */
struct vhost_blk_config {
	__u32 size;
	__u32 config_len;
	__u64 features;
	__u64 config_ptr;
	__u64 reserved[2];
};

#define VHOST_BLK_CONFIG_SIZE_VER0	40

/**
 * struct vhost_blk_options - argument of VHOST_BLK_SET_OPTIONS
 * @size:	sizeof(struct vhost_blk_options); at least
 *		VHOST_BLK_OPTIONS_SIZE_VER0.
 * @reserved0:	must be zero.
 * @flags:	VHOST_BLK_OPT_F_* bits, replacing the previous set; unknown
 *		bits give -EOPNOTSUPP. 0 restores the defaults.
 * @reserved:	must be zero.
 *
 * Preconditions: the caller owns the device. Queues may be served: the
 * change waits until none of their requests is in flight.
 */
struct vhost_blk_options {
	__u32 size;
	__u32 reserved0;
	__u64 flags;
	__u64 reserved[2];
};

#define VHOST_BLK_OPTIONS_SIZE_VER0	32

/*
 * Pin the whole memory table once instead of the buffers of every
 * request. Every page of every region is pinned long-term (FOLL_LONGTERM,
 * so the owner's memory must allow it: anonymous, shmem/memfd or hugetlb
 * memory) when the table is set, and when this flag is set for a table
 * already in place; requests to a block device then take their pages
 * from it (file backends are unchanged). The pages are charged to the
 * owner's RLIMIT_MEMLOCK, and shown as VmPin in /proc/PID/status, until
 * the table is replaced, the flag is cleared, VHOST_RESET_OWNER or the
 * last close. A table (or setting the flag) over the limit is refused
 * with -ENOMEM, one whose pages cannot be pinned long-term with the
 * error of pin_user_pages_fast() (-EFAULT; -EOPNOTSUPP for DAX), one that
 * names a page so often (aliased regions or mappings) that its pins would
 * take the page past 2^29 references with -EINVAL, and the previous
 * table and flags stay in place; CAP_IPC_LOCK lifts the limit.
 * Pinning is done by the ioctl, so a large table takes a while (a fatal
 * signal interrupts it with -EINTR).
 *
 * A pinned table replacing a pinned table needs room under the limit for
 * the new one only. Before Linux 6.5 memory that is not anonymous, shmem
 * or hugetlb is refused with -EOPNOTSUPP. VHOST_RESET_OWNER clears the
 * options.
 *
 * Caveat: data goes to and from the pages that were mapped when the
 * table was pinned. A VMM that remaps guest memory must set the table
 * again, as it must for any vhost device; one that discards guest RAM
 * (MADV_DONTNEED, hole punching, a balloon, virtio-mem, free page
 * reporting) must not, as with VFIO.
 */
#define VHOST_BLK_OPT_F_PIN_MEM		(1ULL << 0)
#define VHOST_BLK_OPT_F_ALL		(VHOST_BLK_OPT_F_PIN_MEM)

/**
 * struct vhost_blk_vring_inflight - argument of VHOST_BLK_SET_VRING_INFLIGHT
 * @size:	sizeof(struct vhost_blk_vring_inflight); at least
 *		VHOST_BLK_VRING_INFLIGHT_SIZE_VER0.
 * @index:	the virtqueue, below VHOST_BLK_MAX_QUEUES (-ENOBUFS).
 * @addr:	user address, in the owner's memory, of the queue's inflight
 *		region (struct vhost_blk_inflight_split), 8-byte aligned;
 *		0 removes the region (@len must then be 0: -EINVAL).
 * @len:	bytes at @addr, at least VHOST_BLK_INFLIGHT_SIZE(num) for
 *		the ring size the queue starts with.
 * @reserved:	must be zero.
 *
 * The inflight region is the split-ring queue region of the vhost-user
 * protocol (VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD, "Inflight I/O
 * tracking" in QEMU's docs/interop/vhost-user.rst), usually in a memfd
 * the VMM keeps across a restart of the process that owns the device.
 * While a region is set the device records in it every chain it takes
 * from the avail ring (desc[head].counter, then desc[head].inflight = 1)
 * and clears the mark once the chain's used entry is visible to the
 * guest, a batch at a time as the spec describes (desc[head].next and
 * last_batch_head link the batch, then used->idx, the inflight bytes,
 * and used_idx are written). Requests still in flight when the owner
 * dies (SIGKILL) end with their mark set: the owner is gone, so their
 * used entries never reach the guest.
 *
 * When the queue starts (VHOST_SET_VRING_KICK) with a region whose
 * version is 0 (a fresh, zeroed region), the device initializes it
 * (version 1, desc_num, used_idx, no descriptor in flight) and the queue
 * starts at the VHOST_SET_VRING_BASE index, as it does with version 1,
 * used_idx equal to used->idx and nothing marked (a clean stop; an index
 * behind used->idx is taken as used->idx). With
 * version 1 and anything else it recovers: it finishes the last batch if
 * used_idx differs from used->idx, resubmits every chain still marked in
 * flight, in the order of their counters, before anything new from the
 * avail ring, and starts the avail ring at used->idx plus the number
 * resubmitted, whatever VHOST_SET_VRING_BASE said (as libvhost-user
 * does). Block requests are idempotent, so a chain that had reached the
 * disk is simply done again. A guest that moves used->idx while the
 * queue is stopped can so replay or skip only its own requests. With a
 * region, an avail head beyond the ring breaks the queue (error eventfd).
 *
 * One device at a time writes a region: a queue starting on it claims it
 * (by its first page and offset) until the queue has stopped and
 * drained. VHOST_SET_VRING_KICK waits, interruptibly (-EINTR), up to 10
 * seconds for a queue of another device (that of a killed owner, whose
 * release is still draining) to let go, then fails with -EBUSY; it fails
 * at once with -EBUSY if another queue of the same device holds it.
 *
 * The region is shared with other processes and may change at any
 * time: the device reads it only at start, and refuses a region of
 * another version, a desc_num other than the ring size, or an inflight
 * byte other than 0 or 1 with -EINVAL from VHOST_SET_VRING_KICK; a last
 * batch longer than the ring or one that names a head beyond it is not
 * finished (its chains are resubmitted). If the region cannot be read or
 * written (unmapped), the start fails with -EFAULT, or a running queue
 * stops serving and signals its error eventfd.
 *
 * Preconditions: the caller owns the device and the queue is stopped
 * (-EBUSY otherwise). A misaligned or non-canonical @addr, or @len too
 * short for the ring size, gives -EINVAL (checked again at start, as
 * the ring size may change). VHOST_RESET_OWNER removes the region.
 */
struct vhost_blk_vring_inflight {
	__u32 size;
	__u32 index;
	__u64 addr;
	__u64 len;
	__u64 reserved[2];
};

#define VHOST_BLK_VRING_INFLIGHT_SIZE_VER0	40

/**
 * struct vhost_blk_inflight_desc - one descriptor's entry of an inflight
 *	region
 * @inflight:	1: the chain with this head was taken from the avail ring
 *		and its used entry is not yet visible to the guest; else 0.
 * @padding:	not used; cleared with the entry when the device takes a
 *		fresh region over.
 * @next:	the previous head of the last used batch (a link of the
 *		batch that starts at last_batch_head).
 * @counter:	the order in which heads were taken from the avail ring.
 *
 * Only the entries of head descriptors are used.
 */
struct vhost_blk_inflight_desc {
	__u8 inflight;
	__u8 padding[5];
	__u16 next;
	__u64 counter;
};

/**
 * struct vhost_blk_inflight_split - the inflight region of one split
 *	virtqueue (VHOST_BLK_SET_VRING_INFLIGHT)
 * @features:	unused by the device (the vhost-user layout's field).
 * @version:	0: not initialized (the device takes the region over at
 *		queue start); VHOST_BLK_INFLIGHT_VERSION.
 * @desc_num:	the ring size.
 * @last_batch_head: the last head of the last used batch.
 * @used_idx:	used->idx once the last batch's marks are cleared.
 * @desc:	one entry per descriptor of the ring.
 *
 * The layout of the vhost-user spec's split-ring inflight region, in
 * host byte order: this header, then @desc_num entries.
 */
struct vhost_blk_inflight_split {
	__u64 features;
	__u16 version;
	__u16 desc_num;
	__u16 last_batch_head;
	__u16 used_idx;
	struct vhost_blk_inflight_desc desc[];
};

#define VHOST_BLK_INFLIGHT_VERSION	1

/**
 * VHOST_BLK_INFLIGHT_SIZE() - bytes of an inflight region
 * @num:	descriptors of the ring.
 *
 * Return: sizeof(struct vhost_blk_inflight_split) plus @num entries, as a
 * __u64.
 */
#define VHOST_BLK_INFLIGHT_SIZE(num)					\
	(sizeof(struct vhost_blk_inflight_split) +			\
	 (__u64)(num) * sizeof(struct vhost_blk_inflight_desc))

/*
 * VHOST_BLK_SET_CONFIG_CALL - argument: an int, an eventfd or -1
 *
 * The eventfd the device signals when the backend changes size, as
 * VHOST_VDPA_SET_CONFIG_CALL does for a vDPA device's config space: the
 * owner then reads VHOST_BLK_GET_CONFIG, whose capacity is the new size,
 * and tells the guest (a virtio config change interrupt). -1 removes it;
 * so does VHOST_RESET_OWNER. Errors: -EPERM if the caller is not the
 * owner, -EBADF for an fd that is not open, -EINVAL for one that is not
 * an eventfd, -EFAULT for a bad argument pointer.
 *
 * The size is the backend's own: the capacity of a block device (a
 * device-mapper table reloaded with more sectors, a loop device after
 * LOOP_SET_CAPACITY) or the size of a regular file (ftruncate()),
 * rounded down to 512-byte sectors. No kernel interface tells the module
 * of a change, so the device reads the size for every request it takes,
 * for every VHOST_BLK_GET_CONFIG and, while the eventfd is set, every
 * resize_poll_ms milliseconds (module parameter, default 1000; 0 leaves
 * only the first two). Whichever sees a size other than the last one seen
 * signals the eventfd, once per change; changes closer together than
 * that may be signalled once. A new backend (VHOST_BLK_SET_BACKEND) is
 * not a change: the owner knows its size.
 *
 * Each request is checked against the size when the device takes it:
 * the grown part serves at once, requests past a new end fail with
 * VIRTIO_BLK_S_IOERR. A request in flight while the backend shrinks
 * fails at the backend (a block device ends I/O past its end with an
 * error, a read past the end of a file comes back short), except a
 * write to a regular file, which extends the file again, to a size
 * that is then signalled as a change: shrink a file only with the
 * queues stopped (VHOST_GET_VRING_BASE).
 */

/*
 * Device-specific ioctls. VHOST_VIRTIO (0xAF) numbers 0x50-0x5f are not
 * used by <linux/vhost.h>. Those taking an extensible struct are _IO():
 * the size is the struct's first __u32, not part of the number, so one
 * number serves every version of the struct. The numbers of earlier
 * releases, which encoded a size with _IOW()/_IOWR(), fail with -ENOTTY.
 */
#define VHOST_BLK_SET_BACKEND		_IO(VHOST_VIRTIO, 0x50)
#define VHOST_BLK_GET_CONFIG		_IO(VHOST_VIRTIO, 0x51)
#define VHOST_BLK_SET_OPTIONS		_IO(VHOST_VIRTIO, 0x52)
#define VHOST_BLK_SET_VRING_INFLIGHT	_IO(VHOST_VIRTIO, 0x53)
/*
 * An eventfd is an int and stays one, as for VHOST_SET_LOG_FD and
 * VHOST_VDPA_SET_CONFIG_CALL: this number encodes its real size, and
 * the kernel matches it whole.
 */
#define VHOST_BLK_SET_CONFIG_CALL	_IOW(VHOST_VIRTIO, 0x54, int)

#endif /* _UAPI_LINUX_VHOST_BLK_H */
