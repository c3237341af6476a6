// SPDX-License-Identifier: GPL-2.0
/*
 * net_load - a checked write workload through /dev/vhost-blk for the
 * networked-backend tests (net.sh), which break the backend under it.
 *
 *   net_load --dev PATH --mode recover|fail [options]
 *
 * One queue keeps --qd writes of --bs bytes in flight, round robin over
 * the first --blocks blocks of PATH, one write per block at a time. Every
 * write carries its own generation in its pattern (vblk_pattern_fill()
 * with seed ^ generation), so a block read back tells which write it
 * holds. For every completion the status, used.len and id are checked:
 * an id the driver did not post (a request reported twice) is counted.
 *
 * The test script signals the workload:
 *   SIGUSR1  the target was just taken away (times are measured from it);
 *   SIGUSR2  the target is back (recover mode).
 *
 * --mode recover: every request must complete VIRTIO_BLK_S_OK. Runs until
 *   --after seconds past SIGUSR2, then drains, FLUSHes and reads every
 *   block back: each must hold the last write acknowledged for it.
 * --mode fail: once the first VIRTIO_BLK_S_IOERR arrives, no more writes
 *   are posted until everything in flight completed: all of it must be
 *   IOERR; then --qd new writes are posted, which must all be IOERR.
 *   Everything must have completed within --limit seconds of SIGUSR1.
 *   With --replace PATH2, PATH2 is then attached with
 *   VHOST_BLK_SET_BACKEND and 64 blocks are written, flushed, read back
 *   and compared on it. With --replace-file FILE instead, the workload
 *   waits for SIGUSR2 and takes PATH2 from FILE (the target restored
 *   under a new device node, say); with --check-acked every block is
 *   first read back on PATH2 and must hold the last write acknowledged
 *   for it, or a later write that failed (a failed write may have
 *   reached the disk).
 * --end close|reset|exit: how the device goes away at the end (close of
 *   the fd, VHOST_RESET_OWNER then close, or _exit() without any clean
 *   up); the time close and reset take is printed.
 * --teardown-at-mark close|reset: close or reset the device --delay ms
 *   after SIGUSR1, with requests in flight, and print how long it took;
 *   every request must have completed (with any status) when it returns.
 *
 * Output: "# " diagnostics and one summary line starting with "RESULT ",
 * which net.sh puts in its TAP line. Exit 0 if every check held.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "vhost_blk_ctl.h"
#include "virtio_blk_drv.h"
#include "util.h"

#define NSEC		1000000000ULL
#define REPLACE_BLOCKS	64

static volatile sig_atomic_t got_usr1, got_usr2;
static uint64_t t_usr1, t_usr2;

static void on_signal(int sig)
{
	if (sig == SIGUSR1 && !got_usr1) {
		t_usr1 = vblk_now_ns();
		got_usr1 = 1;
	} else if (sig == SIGUSR2 && !got_usr2) {
		t_usr2 = vblk_now_ns();
		got_usr2 = 1;
	}
}

struct slot {
	struct vblk_req *r;
	uint64_t gpa;
	uint64_t block;
	uint64_t gen;
	uint64_t t_submit;
	bool busy;
};

struct load {
	struct vblk_dev *d;
	struct vblk_vq *vq;
	struct slot *slots;
	unsigned int qd;
	uint64_t bs, blocks, seed, next_block, next_gen;
	uint64_t *acked;	/* generation acknowledged per block, 0: none */
	/*
	 * Latest generation per block that failed after acked[]: a write
	 * that failed may still have reached the disk (the target wrote it
	 * and the answer was lost), so the block may hold either.
	 */
	uint64_t *failed;
	uint64_t held_failed;	/* blocks verify() found holding failed[] */
	bool *block_busy;
	uint8_t *buf;
	unsigned int inflight;
	/* counts */
	uint64_t ok, ioerr, other, badlen, unknown;
	uint64_t max_lat_ns;
	uint64_t ok_after_err;
	uint64_t t_first_err;
};

static double secs(uint64_t ns)
{
	return (double)ns / NSEC;
}

static uint64_t block_sector(const struct load *l, uint64_t b)
{
	return b * (l->bs / 512);
}

static int post_write(struct load *l, unsigned int s)
{
	struct slot *sl = &l->slots[s];
	uint64_t b;
	int ret;

	for (uint64_t tries = 0; tries < l->blocks; tries++) {
		b = l->next_block++ % l->blocks;
		if (!l->block_busy[b])
			goto found;
	}
	return -EBUSY;
found:
	sl->block = b;
	sl->gen = ++l->next_gen;
	vblk_pattern_fill(l->buf, l->bs, block_sector(l, b), l->seed ^ sl->gen);
	vblk_mem_write(l->d, sl->gpa, l->buf, l->bs);
	vblk_req_reset(sl->r, VIRTIO_BLK_T_OUT, block_sector(l, b));
	vblk_req_add_data(l->d, sl->r, sl->gpa, l->bs);
	sl->r->priv = (void *)(uintptr_t)s;
	ret = vblk_req_submit(l->vq, sl->r, 0);
	if (ret < 0)
		return ret;
	sl->busy = true;
	sl->t_submit = vblk_now_ns();
	l->block_busy[b] = true;
	l->inflight++;
	return 0;
}

/* Reap what completed; returns how many. */
static int reap(struct load *l)
{
	struct vblk_used used[64];
	int n, total = 0;

	while ((n = vblk_vq_reap(l->vq, used, ARRAY_SIZE(used))) > 0) {
		for (int i = 0; i < n; i++) {
			struct slot *sl;
			uint64_t lat;

			if (!used[i].valid || !used[i].req) {
				printf("# used id %u was not in flight\n",
				       used[i].id);
				l->unknown++;
				continue;
			}
			sl = &l->slots[(uintptr_t)used[i].req->priv];
			sl->busy = false;
			l->block_busy[sl->block] = false;
			l->inflight--;
			total++;
			lat = vblk_now_ns() - sl->t_submit;
			if (lat > l->max_lat_ns)
				l->max_lat_ns = lat;
			if (sl->r->used_len != 1)
				l->badlen++;
			switch (sl->r->status) {
			case VIRTIO_BLK_S_OK:
				l->ok++;
				if (sl->gen > l->acked[sl->block])
					l->acked[sl->block] = sl->gen;
				if (l->t_first_err)
					l->ok_after_err++;
				break;
			case VIRTIO_BLK_S_IOERR:
				l->ioerr++;
				if (sl->gen > l->failed[sl->block])
					l->failed[sl->block] = sl->gen;
				if (!l->t_first_err)
					l->t_first_err = vblk_now_ns();
				break;
			default:
				printf("# write of block %" PRIu64 ": status %u\n",
				       sl->block, sl->r->status);
				l->other++;
			}
		}
	}
	return total;
}

static void wait_call(struct load *l, int ms)
{
	vblk_vq_wait(l->vq, ms);
}

static int fill(struct load *l)
{
	bool posted = false;
	int ret;

	for (unsigned int s = 0; s < l->qd; s++) {
		if (l->slots[s].busy)
			continue;
		ret = post_write(l, s);
		if (ret == -EBUSY)
			break;
		if (ret < 0)
			return ret;
		posted = true;
	}
	return posted ? vblk_vq_kick(l->vq) : 0;
}

/* Reap until nothing is in flight or @deadline (monotonic ns) passes. */
static int drain(struct load *l, uint64_t deadline)
{
	while (l->inflight) {
		reap(l);
		if (!l->inflight)
			break;
		if (vblk_now_ns() > deadline)
			return -ETIMEDOUT;
		wait_call(l, 100);
	}
	return 0;
}

/* One synchronous request on the first slot's buffer. */
static int sync_req(struct load *l, uint32_t type, uint64_t block,
		    uint8_t *status)
{
	struct vblk_req *r = l->slots[0].r;
	int ret;

	vblk_req_reset(r, type, type == VIRTIO_BLK_T_FLUSH ? 0 :
			block_sector(l, block));
	if (type != VIRTIO_BLK_T_FLUSH)
		vblk_req_add_data(l->d, r, l->slots[0].gpa, l->bs);
	r->priv = NULL;
	ret = vblk_do(l->vq, r, 0, 60000);
	*status = r->status;
	return ret;
}

/*
 * Read every block that had a write acknowledged back; returns the number
 * that hold neither that write nor a later one that failed.
 */
static uint64_t verify(struct load *l, uint64_t *checked)
{
	uint64_t bad = 0;

	*checked = 0;
	l->held_failed = 0;
	for (uint64_t b = 0; b < l->blocks; b++) {
		uint64_t sector = block_sector(l, b);
		uint8_t st;
		ssize_t off;

		if (!l->acked[b])
			continue;
		(*checked)++;
		if (sync_req(l, VIRTIO_BLK_T_IN, b, &st) || st) {
			if (bad++ < 5)
				printf("# read of block %" PRIu64
				       " failed, status %u\n", b, st);
			continue;
		}
		vblk_mem_read(l->d, l->slots[0].gpa, l->buf, l->bs);
		off = vblk_pattern_check(l->buf, l->bs, sector,
					 l->seed ^ l->acked[b]);
		if (off < 0)
			continue;
		if (l->failed[b] > l->acked[b] &&
		    vblk_pattern_check(l->buf, l->bs, sector,
				       l->seed ^ l->failed[b]) < 0) {
			l->held_failed++;
			continue;
		}
		if (bad++ < 5)
			printf("# block %" PRIu64 " does not hold write %" PRIu64
			       " (byte %zd differs)\n", b, l->acked[b], off);
	}
	if (bad)
		printf("# %" PRIu64 " blocks without their last acknowledged write\n",
		       bad);
	return bad;
}

/* End the device as @how says; the time it took, or 0 if reset failed. */
static uint64_t teardown(struct load *l, const char *how)
{
	uint64_t t0 = vblk_now_ns();
	int ret = 0;

	if (!strcmp(how, "exit")) {
		fflush(stdout);
		_exit(0);
	}
	if (!strcmp(how, "reset"))
		ret = vhost_blk_reset_owner(l->d->fd);
	vblk_dev_close_fd(l->d);
	if (ret) {
		printf("\n# VHOST_RESET_OWNER: %s\n", strerror(-ret));
		return 0;
	}
	return vblk_now_ns() - t0 + 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: net_load --dev PATH --mode recover|fail [--qd N] [--bs BYTES]\n"
		"       [--blocks N] [--seed N] [--after SEC] [--limit SEC]\n"
		"       [--replace PATH | --replace-file FILE] [--check-acked]\n"
		"       [--end close|reset|exit]\n"
		"       [--teardown-at-mark close|reset] [--delay MS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "mode", required_argument, NULL, 'm' },
		{ "qd", required_argument, NULL, 'q' },
		{ "bs", required_argument, NULL, 'b' },
		{ "blocks", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "after", required_argument, NULL, 'a' },
		{ "limit", required_argument, NULL, 'l' },
		{ "replace", required_argument, NULL, 'r' },
		{ "end", required_argument, NULL, 'e' },
		{ "teardown-at-mark", required_argument, NULL, 't' },
		{ "delay", required_argument, NULL, 'D' },
		{ "replace-file", required_argument, NULL, 'f' },
		{ "check-acked", no_argument, NULL, 'c' },
		{ }
	};
	const char *dev = NULL, *mode = NULL, *replace = NULL;
	const char *end = "close", *at_mark = NULL, *replace_file = NULL;
	char replace_buf[256];
	uint64_t qd = 32, bs = 4096, blocks = 1024, seed = 1, after = 2;
	uint64_t limit = 60, delay = 0;
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	struct load l = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t t_start, deadline, inflight_at_err = 0, new_posted = 0;
	uint64_t checked, bad;
	bool fail_mode, pass = true, check_acked = false;
	int c, fd, ret;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		uint64_t *v = NULL;

		switch (c) {
		case 'd':
			dev = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'r':
			replace = optarg;
			break;
		case 'e':
			end = optarg;
			break;
		case 't':
			at_mark = optarg;
			break;
		case 'q':
			v = &qd;
			break;
		case 'b':
			v = &bs;
			break;
		case 'n':
			v = &blocks;
			break;
		case 's':
			v = &seed;
			break;
		case 'a':
			v = &after;
			break;
		case 'l':
			v = &limit;
			break;
		case 'D':
			v = &delay;
			break;
		case 'f':
			replace_file = optarg;
			break;
		case 'c':
			check_acked = true;
			break;
		default:
			usage();
		}
		if (v && parse_u64(optarg, v))
			usage();
	}
	if (!dev || !mode || optind != argc ||
	    (strcmp(mode, "recover") && strcmp(mode, "fail")) ||
	    !qd || qd > 256 || !bs || bs % 512 || bs > (1 << 20) ||
	    blocks < 2 * qd || blocks > (1 << 20))
		usage();
	fail_mode = !strcmp(mode, "fail");
	if (replace_file && replace)
		usage();

	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);

	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("RESULT cannot open %s: %s\n", dev, strerror(errno));
		return 1;
	}
	o.queue_size = 1024;
	o.mem_size = ((qd * (bs + 4096) + (8ULL << 20)) + (2ULL << 20) - 1) &
		     ~((2ULL << 20) - 1);
	ret = vblk_dev_create(&l.d, &o, fd, 0, "net-load");
	close(fd);
	if (ret) {
		printf("RESULT setting up the device on %s: %s\n", dev,
		       strerror(-ret));
		return 1;
	}
	if (vblk_dev_capacity(l.d) < blocks * (bs / 512)) {
		printf("RESULT %s is smaller than %" PRIu64 " blocks\n", dev,
		       blocks);
		return 1;
	}
	l.vq = &l.d->vqs[0];
	l.qd = qd;
	l.bs = bs;
	l.blocks = blocks;
	l.seed = seed;
	l.slots = calloc(qd, sizeof(*l.slots));
	l.acked = calloc(blocks, sizeof(*l.acked));
	l.failed = calloc(blocks, sizeof(*l.failed));
	l.block_busy = calloc(blocks, sizeof(*l.block_busy));
	l.buf = malloc(bs);
	if (!l.slots || !l.acked || !l.failed || !l.block_busy || !l.buf)
		return 1;
	for (unsigned int s = 0; s < qd; s++) {
		l.slots[s].r = vblk_req_alloc(l.d);
		if (!l.slots[s].r ||
		    vblk_alloc(l.d, bs, 4096, &l.slots[s].gpa))
			return 1;
	}

	printf("# net_load: %s, %s, qd %" PRIu64 ", %" PRIu64 " x %" PRIu64
	       " bytes\n", dev, mode, qd, blocks, bs);
	/* Ready: the script waits for this line before it breaks anything. */
	printf("READY\n");
	fflush(stdout);
	t_start = vblk_now_ns();

	for (;;) {
		uint64_t now = vblk_now_ns();

		if (now - t_start > (limit + 60) * NSEC) {
			printf("# gave up: %.1f s without the expected events\n",
			       secs(now - t_start));
			pass = false;
			break;
		}
		if (got_usr1 && at_mark &&
		    now - t_usr1 >= delay * 1000000ULL) {
			unsigned int n;
			uint64_t t, before;

			reap(&l);
			n = l.inflight;
			before = l.ioerr;
			t = teardown(&l, at_mark);
			/* Guest memory stays: every request has a status. */
			reap(&l);
			if (!t || l.inflight || l.ioerr - before != n) {
				printf("RESULT FAILED: %s with %u in flight: ",
				       at_mark, n);
				printf("%u never completed, %" PRIu64
				       " IOERR\n", l.inflight, l.ioerr - before);
				return 1;
			}
			printf("RESULT %s with %u requests in flight took %.1f s, ",
			       at_mark, n, secs(t));
			printf("all %u completed with IOERR\n", n);
			return 0;
		}
		if (!fail_mode && got_usr2 &&
		    now - t_usr2 >= after * NSEC)
			break;
		if (fail_mode && l.t_first_err)
			break;
		if (fill(&l))
			break;
		if (!reap(&l))
			wait_call(&l, 100);
	}

	if (fail_mode && l.t_first_err) {
		deadline = (got_usr1 ? t_usr1 : l.t_first_err) + limit * NSEC;
		if (drain(&l, deadline)) {
			printf("# %u requests still in flight %" PRIu64
			       " s after the target went away\n",
			       l.inflight, limit);
			pass = false;
		}
		/* Everything in flight when the first error came failed too. */
		inflight_at_err = l.ioerr;
		/* New requests, to the dead backend. */
		if (pass) {
			uint64_t before = l.ioerr;

			if (fill(&l))
				pass = false;
			new_posted = l.inflight;
			if (drain(&l, deadline)) {
				printf("# %u new requests still in flight\n",
				       l.inflight);
				pass = false;
			}
			if (l.ioerr - before != new_posted) {
				printf("# %" PRIu64 " of %" PRIu64
				       " new requests got IOERR\n",
				       l.ioerr - before, new_posted);
				pass = false;
			}
		}
		if (l.ok_after_err) {
			printf("# %" PRIu64 " requests completed OK after the first IOERR\n",
			       l.ok_after_err);
			pass = false;
		}
		if (pass) {
			printf("RESULT all %" PRIu64
			       " requests in flight at the first IOERR and %"
			       PRIu64 " new ones -> IOERR in %.1f s (%" PRIu64
			       " writes OK before)",
			       inflight_at_err, new_posted,
			       secs(vblk_now_ns() - (got_usr1 ? t_usr1 :
						     l.t_first_err)),
			       l.ok);
		}
	} else if (fail_mode) {
		printf("# no IOERR arrived\n");
		pass = false;
	} else {
		uint8_t st = 0xff;

		if (drain(&l, vblk_now_ns() + limit * NSEC)) {
			printf("# %u requests never completed\n", l.inflight);
			pass = false;
		}
		if (pass && (sync_req(&l, VIRTIO_BLK_T_FLUSH, 0, &st) || st)) {
			printf("# FLUSH: status %u\n", st);
			pass = false;
		}
		bad = pass ? verify(&l, &checked) : 0;
		if (l.ioerr || l.other || bad)
			pass = false;
		if (pass)
			printf("RESULT %" PRIu64 " writes all OK (longest %.1f s), %" PRIu64
			       " blocks read back hold their last acknowledged write",
			       l.ok, secs(l.max_lat_ns), checked);
		else
			printf("# %" PRIu64 " OK, %" PRIu64 " IOERR, %" PRIu64
			       " other, %" PRIu64 " blocks wrong\n",
			       l.ok, l.ioerr, l.other, bad);
	}
	if (l.unknown || l.badlen) {
		printf("\n# %" PRIu64 " completions of ids not in flight, %" PRIu64
		       " with used.len != 1\n", l.unknown, l.badlen);
		pass = false;
	}

	if (pass && replace_file) {
		/* The script writes the path, then sends SIGUSR2. */
		FILE *f;

		deadline = vblk_now_ns() + limit * NSEC;
		while (!got_usr2 && vblk_now_ns() < deadline)
			usleep(100000);
		f = got_usr2 ? fopen(replace_file, "r") : NULL;
		if (f && fgets(replace_buf, sizeof(replace_buf), f)) {
			replace_buf[strcspn(replace_buf, "\n")] = 0;
			replace = replace_buf;
		} else {
			printf("\n# no replacement backend in %s\n",
			       replace_file);
			pass = false;
		}
		if (f)
			fclose(f);
	}
	if (pass && replace) {
		uint64_t nb = blocks < REPLACE_BLOCKS ? blocks : REPLACE_BLOCKS;
		uint8_t st;

		fd = open(replace, O_RDWR | O_CLOEXEC);
		ret = fd < 0 ? -errno :
		      vhost_blk_set_backend(l.d->fd, fd, 0, "net-load");
		if (fd >= 0)
			close(fd);
		if (!ret)
			ret = vblk_dev_read_config(l.d);
		if (ret) {
			printf("\n# VHOST_BLK_SET_BACKEND %s: %s\n", replace,
			       strerror(-ret));
			pass = false;
		}
		/* The target is back: every write acknowledged is there. */
		if (pass && check_acked) {
			bad = verify(&l, &checked);
			if (bad)
				pass = false;
			else
				printf("; %s attached: all %" PRIu64
				       " blocks hold their last acknowledged write (%"
				       PRIu64 " a later one that failed)",
				       replace, checked, l.held_failed);
		}
		memset(l.acked, 0, blocks * sizeof(*l.acked));
		memset(l.failed, 0, blocks * sizeof(*l.failed));
		for (uint64_t b = 0; pass && b < nb; b++) {
			vblk_pattern_fill(l.buf, bs, block_sector(&l, b),
					  seed ^ (b + 1));
			vblk_mem_write(l.d, l.slots[0].gpa, l.buf, bs);
			if (sync_req(&l, VIRTIO_BLK_T_OUT, b, &st) || st) {
				printf("\n# write to the new backend: status %u\n",
				       st);
				pass = false;
			}
			l.acked[b] = b + 1;
		}
		if (pass && (sync_req(&l, VIRTIO_BLK_T_FLUSH, 0, &st) || st))
			pass = false;
		if (pass && (verify(&l, &checked) || checked != nb))
			pass = false;
		if (pass)
			printf("; %s%s serves: %" PRIu64
			       " blocks written and read back",
			       check_acked ? "it" : "then ",
			       check_acked ? "" : replace, nb);
	}
	if (pass) {
		uint64_t t = teardown(&l, end);

		if (!t)
			pass = false;
		else
			printf("; %s took %.1f s\n", end, secs(t));
	} else {
		printf("RESULT FAILED: %" PRIu64 " OK, %" PRIu64 " IOERR, %"
		       PRIu64 " other, %u in flight\n", l.ok, l.ioerr,
		       l.other, l.inflight);
		teardown(&l, end);
	}
	fflush(stdout);
	return pass ? 0 : 1;
}
