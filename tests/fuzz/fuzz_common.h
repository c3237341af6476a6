/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the vhost-blk fuzzers: a seeded PRNG, TAP output
 * through kselftest.h, failure records, time and small file utilities.
 * Header only.
 */
#ifndef VHOST_BLK_FUZZ_COMMON_H
#define VHOST_BLK_FUZZ_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "kselftest.h"

/* Each argument evaluated once, in their common type. */
#define MIN(a, b)	({ __typeof__((a) + (b)) _a = (a), _b = (b);	\
			   _a < _b ? _a : _b; })
#define MAX(a, b)	({ __typeof__((a) + (b)) _a = (a), _b = (b);	\
			   _a > _b ? _a : _b; })

/* ---- PRNG: xoshiro256**, seeded through splitmix64 ---- */

struct rng {
	uint64_t s[4];
};

static inline uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Independent streams of one seed: (seed, a, b) picks the stream. */
static inline void rng_seed(struct rng *r, uint64_t seed, uint64_t a,
			    uint64_t b)
{
	uint64_t x = seed ^ (a * 0xd1b54a32d192ed03ULL) ^
		     (b * 0x8cb92ba72f3d8dd7ULL);

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl64(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return res;
}

/* Uniform in [0, n); n > 0. */
static inline uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [lo, hi]. */
static inline uint64_t rng_range(struct rng *r, uint64_t lo, uint64_t hi)
{
	if (hi <= lo)
		return lo;
	if (hi - lo == UINT64_MAX)
		return rng_next(r);
	return lo + rng_next(r) % (hi - lo + 1);
}

/* True with probability pct / 100. */
static inline bool rng_pct(struct rng *r, unsigned int pct)
{
	return rng_below(r, 100) < pct;
}

/* A "nasty" 64-bit value: boundaries, small numbers, powers of two. */
static inline uint64_t rng_nasty64(struct rng *r)
{
	static const uint64_t v[] = {
		0, 1, 2, 3, 7, 8, 15, 16, 17, 255, 256, 511, 512, 513, 4095,
		4096, 4097, 65535, 65536, 0x7fffffff, 0x80000000, 0xffffffff,
		0x100000000ULL, 0x7fffffffffffffffULL, 0x8000000000000000ULL,
		0xfffffffffffff000ULL, 0xfffffffffffffff0ULL, UINT64_MAX - 1,
		UINT64_MAX, 0xffff800000000000ULL, 0x0000800000000000ULL,
		0x00007ffffffff000ULL,
	};

	switch (rng_below(r, 4)) {
	case 0:
		return v[rng_below(r, ARRAY_SIZE(v))];
	case 1:
		return 1ULL << rng_below(r, 64);
	case 2:
		return (1ULL << rng_below(r, 64)) - 1 + rng_below(r, 3);
	default:
		return rng_next(r);
	}
}

/* ---- time ---- */

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static inline double secs_since(uint64_t t0)
{
	return (double)(now_ns() - t0) / 1e9;
}

/* ---- TAP (kselftest.h) and failure records ---- */

#define FAIL_LOG_MAX	40

/*
 * kselftest.h numbers, counts and prints the results; the lock keeps
 * results and failure messages, which any thread may print, whole.
 */
struct tap {
	pthread_mutex_t lock;
	unsigned int failed;		/* results that failed */
	unsigned long fail_logged;	/* failure messages printed */
	unsigned long fail_dropped;	/* failure messages not printed */
};

#define TAP_INIT { .lock = PTHREAD_MUTEX_INITIALIZER }

static inline void tap_header(unsigned int plan)
{
	ksft_print_header();
	ksft_set_plan(plan);
	fflush(stdout);
}

static inline void tap_result(struct tap *t, bool ok, const char *fmt, ...)
	__printf(3, 4);
static inline void tap_result(struct tap *t, bool ok, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&t->lock);
	if (!ok)
		t->failed++;
	ksft_test_result(ok, "%s\n", msg);
	fflush(stdout);
	pthread_mutex_unlock(&t->lock);
}

/* A "# " diagnostic line, whole even when threads print at once. */
static inline void diag(const char *fmt, ...)
	__printf(1, 2);
static inline void diag(const char *fmt, ...)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&lock);
	ksft_print_msg("%s\n", msg);
	fflush(stdout);
	pthread_mutex_unlock(&lock);
}

/*
 * A failure message, printed as a diagnostic (only the first
 * FAIL_LOG_MAX; the rest are counted). Returns false so callers can
 * write "return fail(...)".
 */
static inline bool tap_fail_msg(struct tap *t, const char *fmt, ...)
	__printf(2, 3);
static inline bool tap_fail_msg(struct tap *t, const char *fmt, ...)
{
	va_list ap;

	static long max = -1;

	pthread_mutex_lock(&t->lock);
	if (max < 0) {
		const char *e = getenv("FUZZ_FAIL_LOG");

		max = e ? atol(e) : FAIL_LOG_MAX;
	}
	if (t->fail_logged < (unsigned long)max) {
		char msg[1024];

		t->fail_logged++;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		ksft_print_msg("FAIL: %s\n", msg);
		fflush(stdout);
	} else {
		t->fail_dropped++;
	}
	pthread_mutex_unlock(&t->lock);
	return false;
}

/* ---- small utilities ---- */

static inline int write_file(const char *path, const char *val)
{
	ssize_t n;
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -EIO;
}

/* A counter updated from several threads. */
static inline void stat_add(uint64_t *p, uint64_t v)
{
	__atomic_add_fetch(p, v, __ATOMIC_RELAXED);
}

static inline uint64_t stat_get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/*
 * Print every thread of this process (the device's workers are threads
 * of the owner too) with its state and kernel stack, as diagnostics.
 */
static inline void dump_tasks(void)
{
	char path[320], buf[4096], *save;
	DIR *dir = opendir("/proc/self/task");
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		static const char *const files[] = { "comm", "wchan", "stack" };
		ssize_t n;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		for (unsigned int i = 0; i < ARRAY_SIZE(files); i++) {
			snprintf(path, sizeof(path), "/proc/self/task/%s/%s",
				 de->d_name, files[i]);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			if (n <= 0)
				continue;
			buf[n] = 0;
			for (char *l = strtok_r(buf, "\n", &save); l;
			     l = strtok_r(NULL, "\n", &save))
				diag("task %s %s: %s", de->d_name, files[i], l);
		}
	}
	closedir(dir);
}

#endif /* VHOST_BLK_FUZZ_COMMON_H */
