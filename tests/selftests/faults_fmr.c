// SPDX-License-Identifier: GPL-2.0
/*
 * faults_fmr: fail_make_request on the backend (CONFIG_FAIL_MAKE_REQUEST):
 * every request failing, then a third of them.
 *
 * Every request must end VIRTIO_BLK_S_OK with correct data or
 * VIRTIO_BLK_S_IOERR; nothing may hang. Fault injection is set through
 * debugfs and restored afterwards; the tests skip on a kernel without it
 * (such as Debian's).
 */
#include <sys/sysmacros.h>

#include "faults.h"

#define FMR_DIR			"/sys/kernel/debug/fail_make_request"

FIXTURE(fmr) {
	char mif[PATH_MAX];	/* sysfs dir of the backend's disk */
	struct knob knobs[6];
	int bfd;
	struct vblk_dev *d;
	uint64_t seed;
};

/*
 * The sysfs directory with the make-it-fail of the disk holding @path:
 * bios are checked against the whole disk, so a partition's disk.
 */
static int disk_mif_dir(const char *path, char *out, size_t len)
{
	char dir[64], probe[80];
	struct stat st;

	if (stat(path, &st) || !S_ISBLK(st.st_mode))
		return -ENOTBLK;
	snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u", major(st.st_rdev),
		 minor(st.st_rdev));
	snprintf(probe, sizeof(probe), "%s/partition", dir);
	if (!access(probe, F_OK))
		strcat(dir, "/..");
	snprintf(probe, sizeof(probe), "%s/make-it-fail", dir);
	if (access(probe, W_OK))
		return -errno;
	snprintf(out, len, "%s", dir);
	return 0;
}

static int fmr_arm(FIXTURE_DATA(fmr) *self, const char *probability)
{
	int ret = write_attr(FMR_DIR, "probability", probability);

	return ret ? ret : write_attr(self->mif, "make-it-fail", "1");
}

static void fmr_disarm(FIXTURE_DATA(fmr) *self)
{
	write_attr(self->mif, "make-it-fail", "0");
	write_attr(FMR_DIR, "probability", "0");
}

FIXTURE_SETUP(fmr)
{
	const struct knob knobs[] = {
		{ .name = "probability" }, { .name = "interval" },
		{ .name = "times" }, { .name = "space" },
		{ .name = "verbose" }, { .name = "task-filter" },
	};

	self->bfd = -1;
	self->seed = fresh_seed();
	if (access(FMR_DIR "/probability", F_OK))
		SKIP(return, "no %s (CONFIG_FAIL_MAKE_REQUEST)", FMR_DIR);
	if (disk_mif_dir(test_dev2(), self->mif, sizeof(self->mif)))
		SKIP(return, "%s: no make-it-fail", test_dev2());
	memcpy(self->knobs, knobs, sizeof(knobs));
	ASSERT_EQ(0, knobs_save(FMR_DIR, self->knobs, ARRAY_SIZE(knobs),
				ARRAY_SIZE(knobs)));
	ASSERT_EQ(0, knobs_quiet(FMR_DIR));
	ASSERT_EQ(0, write_attr(FMR_DIR, "task-filter", "N"));
	self->bfd = open(test_dev2(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->bfd);
}

/* In the parent: runs even when the test died. */
FIXTURE_TEARDOWN_PARENT(fmr)
{
	write_attr(self->mif, "make-it-fail", "0");
	knobs_restore(FMR_DIR, self->knobs, ARRAY_SIZE(self->knobs));
}

static struct vblk_opts fmr_opts(unsigned int nq)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;

	o.num_queues = nq;
	o.queue_size = 256;
	return o;
}

TEST_F_TIMEOUT(fmr, every_request_fails, 120)
{
	enum { NQ = 2, N = 64, M = N + 2 * NQ };
	struct vblk_opts o = fmr_opts(NQ);
	struct op ops[M];
	unsigned int i;

	memset(ops, 0, sizeof(ops));
	/* What the backend holds before, written directly. */
	ASSERT_EQ(0, fill_direct(test_dev2(), 0, N, 16, 4096, self->seed));
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->bfd, 0, "fmr"));

	/* Reads, writes and a flush on every queue; GET_ID as a control. */
	for (i = 0; i < M; i++) {
		struct op *op = &ops[i];

		op->q = i % NQ;
		op->seed = self->seed + 1;
		if (i >= N) {
			op->type = i < N + NQ ? VIRTIO_BLK_T_FLUSH :
						VIRTIO_BLK_T_GET_ID;
			op->len = op->type == VIRTIO_BLK_T_GET_ID ?
				  VIRTIO_BLK_ID_BYTES : 0;
			continue;
		}
		op->type = i % 4 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
		op->sector = 16 * i;
		op->len = 4096;
	}
	ASSERT_EQ(0, fmr_arm(self, "100"));
	ASSERT_EQ(0, run_ops(self->d, ops, M, IO_TIMEOUT_MS));
	fmr_disarm(self);
	for (i = 0; i < M; i++) {
		if (ops[i].type == VIRTIO_BLK_T_GET_ID) {
			/* The device itself is fine: this needs no backend. */
			EXPECT_EQ(VIRTIO_BLK_S_OK, ops[i].status);
			EXPECT_EQ(0, memcmp(op_buf(self->d, &ops[i]), "fmr", 4));
			continue;
		}
		EXPECT_EQ(VIRTIO_BLK_S_IOERR, ops[i].status)
			TH_LOG("request %u, type %u", i, ops[i].type);
	}
	for (i = 0; i < NQ; i++)
		EXPECT_EQ(0, efd_fired(self->d->vqs[i].err_fd, 0));
	/* No failed write reached the disk. */
	for (i = 0; i < N; i++)
		EXPECT_EQ(0, disk_check_pattern(test_dev2(), 16 * i, 4096,
						self->seed))
			TH_LOG("sector %u", 16 * i);
	free_ops(self->d, ops, M);

	/* Disarmed, the same device writes and reads again. */
	for (i = 0; i < N; i++)
		ops[i].type = VIRTIO_BLK_T_OUT;
	ASSERT_EQ(0, run_ops(self->d, ops, N, IO_TIMEOUT_MS));
	for (i = 0; i < N; i++) {
		EXPECT_EQ(VIRTIO_BLK_S_OK, ops[i].status);
		EXPECT_EQ(0, disk_check_pattern(test_dev2(), 16 * i, 4096,
						self->seed + 1))
			TH_LOG("sector %u", 16 * i);
	}
	free_ops(self->d, ops, N);
	for (i = 0; i < N; i++)
		ops[i].type = VIRTIO_BLK_T_IN;
	ASSERT_EQ(0, run_ops(self->d, ops, N, IO_TIMEOUT_MS));
	for (i = 0; i < N; i++) {
		EXPECT_EQ(VIRTIO_BLK_S_OK, ops[i].status);
		EXPECT_EQ(-1, vblk_pattern_check(op_buf(self->d, &ops[i]), 4096,
						 16 * i, self->seed + 1))
			TH_LOG("sector %u", 16 * i);
	}
	free_ops(self->d, ops, N);
}

/*
 * A third of the bios fail. Each request ends OK or IOERR; an OK write is
 * on the disk, a failed one (a single bio, failed before it reached the
 * disk) left the old data, and an OK read returns what the disk holds.
 */
TEST_F_TIMEOUT(fmr, some_requests_fail_none_lies, 180)
{
	enum { NQ = 4, N = 512 };
	struct vblk_opts o = fmr_opts(NQ);
	unsigned int wok = 0, werr = 0, rok = 0, rerr = 0, i;
	struct op *w = calloc(N, sizeof(*w)), *r = calloc(N, sizeof(*r));
	uint8_t buf[4096];

	ASSERT_NE(NULL, w);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, fill_direct(test_dev2(), 0, N, 16, 4096, self->seed));
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->bfd, 0, NULL));
	for (i = 0; i < N; i++) {
		w[i] = (struct op){ .type = VIRTIO_BLK_T_OUT, .q = i % NQ,
				    .sector = 16 * i, .len = 4096,
				    .seed = self->seed + 1 };
		r[i] = w[i];
		r[i].type = VIRTIO_BLK_T_IN;
		r[i].q = (i + 1) % NQ;
	}
	ASSERT_EQ(0, fmr_arm(self, "30"));
	ASSERT_EQ(0, run_ops(self->d, w, N, IO_TIMEOUT_MS));
	ASSERT_EQ(0, run_ops(self->d, r, N, IO_TIMEOUT_MS));
	fmr_disarm(self);

	for (i = 0; i < N; i++) {
		bool written = w[i].status == VIRTIO_BLK_S_OK;

		wok += written;
		werr += w[i].status == VIRTIO_BLK_S_IOERR;
		rok += r[i].status == VIRTIO_BLK_S_OK;
		rerr += r[i].status == VIRTIO_BLK_S_IOERR;
		EXPECT_TRUE(written || w[i].status == VIRTIO_BLK_S_IOERR)
			TH_LOG("write %u: status %d", i, w[i].status);
		EXPECT_TRUE(r[i].status == VIRTIO_BLK_S_OK ||
			    r[i].status == VIRTIO_BLK_S_IOERR)
			TH_LOG("read %u: status %d", i, r[i].status);
		ASSERT_EQ(0, blk_direct_io(test_dev2(), false, 16 * i * 512ULL,
					   buf, sizeof(buf)));
		EXPECT_EQ(-1, vblk_pattern_check(buf, sizeof(buf), 16 * i,
						 written ? self->seed + 1 :
							   self->seed))
			TH_LOG("write %u ended %d", i, w[i].status);
		if (r[i].status == VIRTIO_BLK_S_OK)
			EXPECT_EQ(0, memcmp(op_buf(self->d, &r[i]), buf,
					    sizeof(buf)))
				TH_LOG("read %u returned wrong data", i);
	}
	TH_LOG("writes: %u ok, %u failed; reads: %u ok, %u failed",
	       wok, werr, rok, rerr);
	/* At 30% over 512 requests each way, both outcomes occur. */
	EXPECT_LT(0, wok);
	EXPECT_LT(0, werr);
	EXPECT_LT(0, rok);
	EXPECT_LT(0, rerr);
	for (i = 0; i < NQ; i++)
		EXPECT_EQ(0, efd_fired(self->d->vqs[i].err_fd, 0));
	free_ops(self->d, w, N);
	free_ops(self->d, r, N);
	free(w);
	free(r);
}

VHOST_BLK_TEST_MAIN
