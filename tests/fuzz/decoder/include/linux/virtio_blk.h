/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace <linux/virtio_blk.h>: the uapi header, with one constant made
 * unsigned. decode.c masks a u32 segment flag word with
 * ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP: the uapi constant is an int, so
 * the complement is the int -2 that becomes the intended u32 0xfffffffe.
 * -fsanitize=implicit-integer-sign-change reports that conversion of a
 * constant on every DISCARD-like request; with an unsigned constant the
 * mask is the same and the sanitizer stays on for the guest's values,
 * which an ignorelist entry for the function would turn off.
 */
#ifndef _FUZZ_LINUX_VIRTIO_BLK_H
#define _FUZZ_LINUX_VIRTIO_BLK_H

#include_next <linux/virtio_blk.h>

#undef VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP
#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP	0x00000001U

#endif /* _FUZZ_LINUX_VIRTIO_BLK_H */
