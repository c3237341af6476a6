/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace <linux/types.h> for drivers/vhost-blk/decode.c: the uapi
 * header, the kernel's short integer names and the annotations the
 * kernel's compiler headers would give (sparse-only, empty here).
 */
#ifndef _FUZZ_LINUX_TYPES_H
#define _FUZZ_LINUX_TYPES_H

#include_next <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s8 s8;
typedef __s16 s16;
typedef __s32 s32;
typedef __s64 s64;

#define __user
#define __force
#define __must_check	__attribute__((__warn_unused_result__))
/* clang 16 has no counted_by attribute; ASan checks the array anyway. */
#define __counted_by(member)

struct callback_head {
	struct callback_head *next;
	void (*func)(struct callback_head *head);
};

#define rcu_head callback_head

#endif /* _FUZZ_LINUX_TYPES_H */
