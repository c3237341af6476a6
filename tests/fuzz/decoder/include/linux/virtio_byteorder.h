/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace <linux/virtio_byteorder.h>, and the le*_to_cpu() the kernel's
 * headers bring along with it.
 */
#ifndef _FUZZ_LINUX_VIRTIO_BYTEORDER_H
#define _FUZZ_LINUX_VIRTIO_BYTEORDER_H

#include <endian.h>
#include <linux/types.h>
#include <linux/virtio_types.h>

#define le16_to_cpu(x)	((__u16)le16toh((__force __u16)(__le16)(x)))
#define le32_to_cpu(x)	((__u32)le32toh((__force __u32)(__le32)(x)))
#define le64_to_cpu(x)	((__u64)le64toh((__force __u64)(__le64)(x)))
#define be16_to_cpu(x)	((__u16)be16toh((__force __u16)(__be16)(x)))
#define be32_to_cpu(x)	((__u32)be32toh((__force __u32)(__be32)(x)))
#define be64_to_cpu(x)	((__u64)be64toh((__force __u64)(__be64)(x)))

static inline u16 __virtio16_to_cpu(bool little_endian, __virtio16 val)
{
	if (little_endian)
		return le16_to_cpu((__force __le16)val);
	return be16_to_cpu((__force __be16)val);
}

static inline u32 __virtio32_to_cpu(bool little_endian, __virtio32 val)
{
	if (little_endian)
		return le32_to_cpu((__force __le32)val);
	return be32_to_cpu((__force __be32)val);
}

static inline u64 __virtio64_to_cpu(bool little_endian, __virtio64 val)
{
	if (little_endian)
		return le64_to_cpu((__force __le64)val);
	return be64_to_cpu((__force __be64)val);
}

#endif /* _FUZZ_LINUX_VIRTIO_BYTEORDER_H */
