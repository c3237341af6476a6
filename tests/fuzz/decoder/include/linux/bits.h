/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace <linux/bits.h>. */
#ifndef _FUZZ_LINUX_BITS_H
#define _FUZZ_LINUX_BITS_H

#define BIT(nr)		(1UL << (nr))
#define BIT_ULL(nr)	(1ULL << (nr))

#endif /* _FUZZ_LINUX_BITS_H */
