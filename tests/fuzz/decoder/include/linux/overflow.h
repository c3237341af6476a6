/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace <linux/overflow.h>: the checked arithmetic of the kernel's. */
#ifndef _FUZZ_LINUX_OVERFLOW_H
#define _FUZZ_LINUX_OVERFLOW_H

#include <linux/limits.h>

#define check_add_overflow(a, b, d)	__builtin_add_overflow(a, b, d)
#define check_sub_overflow(a, b, d)	__builtin_sub_overflow(a, b, d)
#define check_mul_overflow(a, b, d)	__builtin_mul_overflow(a, b, d)

#endif /* _FUZZ_LINUX_OVERFLOW_H */
