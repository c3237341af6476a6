/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace <linux/minmax.h>: min() and max() evaluate each argument
 * once and, like the kernel's, refuse to compare a signed with an
 * unsigned operand.
 */
#ifndef _FUZZ_LINUX_MINMAX_H
#define _FUZZ_LINUX_MINMAX_H

#define __fuzz_is_signed(x)	((typeof(x))-1 < (typeof(x))1)

#define __fuzz_cmp(op, x, y) ({						\
	typeof(x) __x = (x);						\
	typeof(y) __y = (y);						\
	_Static_assert(__fuzz_is_signed(x) == __fuzz_is_signed(y),	\
		       "min()/max() of mixed signedness");		\
	__x op __y ? __x : __y; })

#define min(x, y)	__fuzz_cmp(<, x, y)
#define max(x, y)	__fuzz_cmp(>, x, y)
#define min_t(type, x, y)	min((type)(x), (type)(y))
#define max_t(type, x, y)	max((type)(x), (type)(y))

#endif /* _FUZZ_LINUX_MINMAX_H */
