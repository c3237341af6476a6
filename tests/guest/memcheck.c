// SPDX-License-Identifier: GPL-2.0
/*
 * vbg-memcheck: does a live migration carry what the device wrote into
 * guest memory? Runs in the Linux guest of tests/guest/run_guest.sh
 * while the host migrates it.
 *
 * Fills FILE with BLOCKS 4 KiB blocks of known content, then reads
 * random blocks with O_DIRECT, round robin, into BUFS page-aligned
 * buffers that the CPU never writes again: only the device writes them
 * (its DMA is the kernel module's copy into guest memory). Each read is
 * checked at once. Every 16 reads it reads the mark block of MARKDEV;
 * once the mark starts with MARK (the host writes it after the guest
 * runs on the destination; "ABORT " if it gave up, and 900 s are the
 * most it waits), it stops reading and checks every buffer
 * again against the block it last read into it. A buffer that the
 * device wrote during the migration without the page being logged
 * dirty still holds, on the destination, what the source sent before:
 * a mismatch.
 *
 * Usage: vbg-memcheck FILE BLOCKS BUFS MARKDEV MARKBLK MARK
 * Prints "reads N bufs N mismatches N late N" (late: buffers last
 * filled in the 10 s before the mark was seen); exits 0 only if the
 * mark was seen and nothing mismatched.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLK 4096

/* The content of block @k: a splitmix64 stream seeded by @k. */
static void fill(uint64_t *p, uint64_t k)
{
	uint64_t x = k * 0x9e3779b97f4a7c15ULL + 0x1234567;

	for (size_t i = 0; i < BLK / sizeof(*p); i++) {
		uint64_t z = (x += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		p[i] = z ^ (z >> 31);
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned long blocks, bufs, markblk, reads = 0, bad = 0, late = 0;
	uint64_t *want, *mark, **buf, *which;
	double *when, t_mark = 0, t_end;
	int fd, mfd, seen = 0;

	if (argc != 7) {
		fprintf(stderr, "usage: %s FILE BLOCKS BUFS MARKDEV MARKBLK MARK\n",
			argv[0]);
		return 2;
	}
	blocks = strtoul(argv[2], NULL, 0);
	bufs = strtoul(argv[3], NULL, 0);
	markblk = strtoul(argv[5], NULL, 0);
	if (!blocks || !bufs)
		return 2;
	buf = calloc(bufs, sizeof(*buf));
	which = calloc(bufs, sizeof(*which));
	when = calloc(bufs, sizeof(*when));
	if (!buf || !which || !when || posix_memalign((void **)&want, BLK, BLK) ||
	    posix_memalign((void **)&mark, BLK, BLK))
		return 2;
	for (unsigned long b = 0; b < bufs; b++) {
		if (posix_memalign((void **)&buf[b], BLK, BLK))
			return 2;
		memset(buf[b], 0, BLK);
	}

	fd = open(argv[1], O_RDWR | O_CREAT | O_DIRECT, 0600);
	mfd = open(argv[4], O_RDONLY | O_DIRECT);
	if (fd < 0 || mfd < 0) {
		perror("open");
		return 2;
	}
	for (unsigned long k = 0; k < blocks; k++) {
		fill(want, k);
		if (pwrite(fd, want, BLK, k * BLK) != BLK) {
			perror("pwrite");
			return 2;
		}
	}
	if (fsync(fd)) {
		perror("fsync");
		return 2;
	}
	printf("ready\n");
	fflush(stdout);

	srandom(getpid());
	t_end = now() + 900;
	while (!seen) {
		unsigned long b = reads % bufs, k = random() % blocks;

		if (pread(fd, buf[b], BLK, k * BLK) != BLK) {
			fprintf(stderr, "read %lu: %s\n", reads, strerror(errno));
			return 1;
		}
		which[b] = k;
		when[b] = now();
		fill(want, k);
		if (memcmp(buf[b], want, BLK)) {
			fprintf(stderr, "read %lu (block %lu) differs at once\n",
				reads, k);
			bad++;
		}
		if (++reads % 16)
			continue;
		if (pread(mfd, mark, BLK, markblk * BLK) != BLK) {
			fprintf(stderr, "mark read: %s\n", strerror(errno));
			return 1;
		}
		if (!strncmp((char *)mark, argv[6], strlen(argv[6]))) {
			seen = 1;
			t_mark = now();
		} else if (!strncmp((char *)mark, "ABORT ", 6) ||
			   now() > t_end) {
			printf("no mark: %s\n",
			       now() > t_end ? "timed out" : "the host gave up");
			return 1;
		}
	}
	for (unsigned long b = 0; b < bufs && b < reads; b++) {
		fill(want, which[b]);
		if (when[b] > t_mark - 10)
			late++;
		if (memcmp(buf[b], want, BLK)) {
			fprintf(stderr, "buffer %lu (block %lu, filled %.2f s before the mark was seen) differs after the migration\n",
				b, which[b], t_mark - when[b]);
			bad++;
		}
	}
	printf("reads %lu bufs %lu mismatches %lu late %lu\n", reads, bufs,
	       bad, late);
	return seen && !bad ? 0 : 1;
}
