/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace <linux/uio.h>: struct iovec comes from the uapi header, with
 * the kernel's layout (void *, __kernel_size_t).
 */
#ifndef _FUZZ_LINUX_UIO_H
#define _FUZZ_LINUX_UIO_H

#include <linux/types.h>
#include_next <linux/uio.h>

#endif /* _FUZZ_LINUX_UIO_H */
