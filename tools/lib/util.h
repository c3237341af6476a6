/* SPDX-License-Identifier: GPL-2.0 */
/*
 * util.h - small helpers shared by the library, the tools, the fuzzers and
 * the selftests. Header only and private: not installed with the library.
 */
#ifndef VHOST_BLK_UTIL_H
#define VHOST_BLK_UTIL_H

#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_ring.h>

/* The same definition as the kernel's and kselftest.h's. */
#ifndef __printf
#define __printf(a, b)	__attribute__((format(printf, a, b)))
#endif

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* The page size the rings and guest-memory layouts are built around. */
#define PAGE_SZ		4096UL

/* Fill one descriptor, in the ring's little-endian byte order. */
static inline void write_desc(struct vring_desc *desc, uint64_t addr,
			      uint32_t len, uint16_t flags, uint16_t next)
{
	desc->addr = htole64(addr);
	desc->len = htole32(len);
	desc->flags = htole16(flags);
	desc->next = htole16(next);
}

/*
 * @s as an unsigned 64-bit number (decimal, 0x hex or 0 octal), with an
 * optional K, M, G or T suffix in either case (powers of 1024). Leading
 * white space is skipped; anything after the number or its suffix, a
 * minus sign (strtoull() would take "-1" as 2^64 - 1) or no digits at all
 * is -EINVAL, a value over 64 bits -ERANGE. @v is written only on success.
 */
static inline int parse_u64(const char *s, uint64_t *v)
{
	static const char units[] = "kmgt";
	unsigned int shift = 0;
	unsigned long long x;
	const char *u;
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '-')
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno == ERANGE)
		return -ERANGE;
	if (errno || end == s)
		return -EINVAL;
	if (*end) {
		u = memchr(units, tolower((unsigned char)*end),
			   sizeof(units) - 1);
		if (!u)
			return -EINVAL;
		shift = 10 * (u - units + 1);
		end++;
	}
	if (*end)
		return -EINVAL;
	if (x > ULLONG_MAX >> shift)
		return -ERANGE;
	*v = x << shift;
	return 0;
}

#endif /* VHOST_BLK_UTIL_H */
