/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace <linux/uaccess.h> for the decoder fuzzer: "user" memory is
 * the fuzzer's arena, [fuzz_arena, fuzz_arena + fuzz_arena_size), which
 * the harness fills from each input. An owner address outside it is
 * unmapped: copy_from_user() reads nothing outside the arena.
 */
#ifndef _FUZZ_LINUX_UACCESS_H
#define _FUZZ_LINUX_UACCESS_H

#include <string.h>
#include <linux/errno.h>
#include <linux/types.h>

extern const unsigned char *fuzz_arena;
extern size_t fuzz_arena_size;

#define u64_to_user_ptr(x)	((void __user *)(uintptr_t)(u64)(x))

/*
 * As the kernel's: copy what lies in user memory from @from on, zero the
 * rest of @to, and return the number of bytes not copied. @to must hold
 * @n bytes whatever @from is, so a caller that passes a length larger
 * than its buffer is caught by ASan here even when @from is unmapped.
 */
static inline __must_check unsigned long
copy_from_user(void *to, const void __user *from, unsigned long n)
{
	uintptr_t src = (uintptr_t)from, base = (uintptr_t)fuzz_arena;
	unsigned long ok = 0;

	if (src >= base && src - base < fuzz_arena_size)
		ok = fuzz_arena_size - (src - base);
	if (ok > n)
		ok = n;
	if (ok)
		memcpy(to, from, ok);
	memset((unsigned char *)to + ok, 0, n - ok);
	return n - ok;
}

#endif /* _FUZZ_LINUX_UACCESS_H */
