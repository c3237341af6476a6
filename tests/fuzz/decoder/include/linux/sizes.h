/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace <linux/sizes.h>: the sizes decode.h uses. */
#ifndef _FUZZ_LINUX_SIZES_H
#define _FUZZ_LINUX_SIZES_H

#define SZ_512		0x00000200
#define SZ_4K		0x00001000
#define SZ_64K		0x00010000
#define SZ_128K		0x00020000
#define SZ_1M		0x00100000

#endif /* _FUZZ_LINUX_SIZES_H */
