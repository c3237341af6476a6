// SPDX-License-Identifier: GPL-2.0
/*
 * faults: backend I/O errors, injected faults, and teardown with
 * thousands of requests in flight.
 *
 *   dm     a device-mapper disk: its first half linear onto
 *          VHOST_BLK_TEST_DEV2, its second half the error target. Requests
 *          on both halves at once, on several queues.
 *   fmr    fail_make_request on the backend (CONFIG_FAIL_MAKE_REQUEST):
 *          every request failing, then a third of them.
 *   fslab  failslab (CONFIG_FAILSLAB) on the allocations of a process
 *          that sets devices up, and on the I/O path of a running one.
 *   flood  4096 requests in flight on a null_blk that holds every request
 *          for three seconds, then the owner is killed, closes the device
 *          or resets the owner: done within 5 s of the requests' end, with
 *          no worker, no pinned page and no module reference left behind.
 *
 * Every request must end VIRTIO_BLK_S_OK with correct data or
 * VIRTIO_BLK_S_IOERR; nothing may hang. Fault injection is set through
 * debugfs and restored afterwards; the fmr and fslab tests skip on a
 * kernel without it (such as Debian's).
 */
#include <stdarg.h>
#include <sys/sysmacros.h>

#include "kselftest_harness.h"
#include "vhost_blk_test.h"

/* Anything slower than this is a hang for our purposes. */
#define PROMPT_MS		5000
/*
 * A request under injected allocation failures may wait for a mempool
 * element, in steps of five seconds.
 */
#define FAULT_IO_TIMEOUT_MS	60000

#define DMSETUP			"/usr/sbin/dmsetup"
#define DM_NAME			"vhost-blk-faults"
#define FMR_DIR			"/sys/kernel/debug/fail_make_request"
#define FSLAB_DIR		"/sys/kernel/debug/failslab"

/* ---- files, counters, tasks ---- */

static int read_attr(const char *dir, const char *attr, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/*
 * Run a shell command; its output goes to @out, on one line. The exit
 * status, or -1.
 */
static __printf(3, 4) int run_cmd(char *out, size_t len, const char *fmt, ...)
{
	char cmd[300], line[256];
	size_t used = 0;
	va_list ap;
	FILE *f;
	int st;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "{ %s; } 2>&1", line);
	if (out && len)
		out[0] = 0;
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (out && used + 1 < len) {
			snprintf(out + used, len - used, "%s", line);
			used = strlen(out);
		}
	}
	st = pclose(f);
	for (char *p = out; p && *p; p++)
		if (*p == '\n')
			*p = p[1] ? ' ' : 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * Pages pinned right now (FOLL_PIN) in the whole system. The
 * per-CPU deltas are folded into the totals first, so the count is exact.
 */
static long pinned_pages(void)
{
	long acquired = -1, released = -1;
	char line[128];
	FILE *f;

	write_attr("/proc/sys/vm", "stat_refresh", "1");
	f = fopen("/proc/vmstat", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "nr_foll_pin_acquired ", 21))
			acquired = atol(line + 21);
		else if (!strncmp(line, "nr_foll_pin_released ", 21))
			released = atol(line + 21);
	}
	fclose(f);
	return acquired < 0 || released < 0 ? -1 : acquired - released;
}

static long module_refs(void)
{
	char buf[32];

	if (read_attr("/sys/module/vhost_blk", "refcnt", buf, sizeof(buf)))
		return -1;
	return atol(buf);
}

struct owner_scan {
	pid_t pid;
	const char *mif;
	int n;
};

static int owner_worker_one(const char *dir, int tid __attribute__((unused)),
			    const char *comm, void *arg)
{
	struct owner_scan *os = arg;

	if (!worker_of(comm, os->pid))
		return 0;
	os->n++;
	if (os->mif)
		write_attr(dir, "make-it-fail", os->mif);
	return 0;
}

/*
 * Threads and kernel threads of the whole system that are workers of
 * owner @pid. With @mif, each one's make-it-fail is set to it.
 */
static int owner_workers(pid_t pid, const char *mif)
{
	struct owner_scan os = { .pid = pid, .mif = mif };
	int ret = for_each_task(owner_worker_one, &os);

	return ret < 0 ? ret : os.n;
}

/* Poll @expr every 20 ms for up to @ms; true once it holds. */
#define EVENTUALLY(expr, ms) ({						\
	bool __ok = false;						\
	for (int __i = 0; __i <= (ms) / 20; __i++) {			\
		if ((expr)) {						\
			__ok = true;					\
			break;						\
		}							\
		usleep(20000);						\
	}								\
	__ok;								\
})

/* ---- requests ---- */

/* One request of a batch, with its own buffer in guest memory. */
struct op {
	uint32_t type;
	uint64_t sector;
	uint32_t len;
	uint32_t skew;		/* buffer start past a page boundary, bytes */
	uint64_t seed;		/* pattern a write carries */
	unsigned int q;
	uint64_t gpa;
	struct vblk_req *r;
	int status;		/* VIRTIO_BLK_S_*, -1 until completed */
};

static void *op_buf(struct vblk_dev *d, const struct op *op)
{
	return vblk_gpa_to_hva(d, op->gpa, op->len);
}

static void free_ops(struct vblk_dev *d, struct op *ops, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		if (ops[i].gpa)
			vblk_free(d, ops[i].gpa - ops[i].skew,
				  ops[i].len + ops[i].skew);
		vblk_req_free(d, ops[i].r);
		ops[i].gpa = 0;
		ops[i].r = NULL;
	}
}

/*
 * Post every op on its queue (indirect), kick every queue once, wait for
 * all of them. Writes carry their pattern; read buffers are poisoned. 0,
 * or -errno when a request could not be posted or not all completed
 * within @ms per queue.
 */
static int run_ops(struct vblk_dev *d, struct op *ops, unsigned int n, int ms)
{
	unsigned int i, q;
	int ret;

	for (i = 0; i < n; i++) {
		struct op *op = &ops[i];

		op->status = -1;
		op->r = vblk_req_alloc(d);
		if (!op->r)
			return -ENOMEM;
		vblk_req_reset(op->r, op->type, op->sector);
		if (op->len) {
			if (vblk_alloc(d, op->len + op->skew, 4096, &op->gpa))
				return -ENOMEM;
			op->gpa += op->skew;
			if (op->type == VIRTIO_BLK_T_OUT)
				vblk_pattern_fill(op_buf(d, op), op->len,
						  op->sector, op->seed);
			else
				memset(op_buf(d, op), 0xa5, op->len);
			vblk_req_add_data(d, op->r, op->gpa, op->len);
		}
		ret = vblk_req_submit(&d->vqs[op->q], op->r, VBLK_ADD_INDIRECT);
		if (ret < 0)
			return ret;
	}
	for (q = 0; q < d->num_queues; q++) {
		ret = vblk_vq_kick(&d->vqs[q]);
		if (ret)
			return ret;
	}
	for (q = 0; q < d->num_queues; q++) {
		ret = vblk_vq_drain(&d->vqs[q], ms);
		if (ret)
			return ret;
	}
	for (i = 0; i < n; i++)
		ops[i].status = ops[i].r->done ? ops[i].r->status : -1;
	return 0;
}

/* Write @n slots of @len bytes, @stride sectors apart, straight to @path. */
static int fill_direct(const char *path, uint64_t first, unsigned int n,
		       unsigned int stride, uint32_t len, uint64_t seed)
{
	uint8_t *buf = malloc(len);
	int ret = buf ? 0 : -ENOMEM;

	for (unsigned int i = 0; !ret && i < n; i++) {
		uint64_t sector = first + (uint64_t)i * stride;

		vblk_pattern_fill(buf, len, sector, seed);
		ret = blk_direct_io(path, true, sector * 512, buf, len);
	}
	free(buf);
	return ret;
}

/* ---- device-mapper: a disk that fails on its second half ---- */

/* The dm-N node of device-mapper device @name. */
static int dm_node(const char *name, char *node, size_t len)
{
	char dir[PATH_MAX], buf[128];
	struct dirent *e;
	DIR *sys;
	int ret = -ENOENT;

	sys = opendir("/sys/block");
	if (!sys)
		return -errno;
	while (ret && (e = readdir(sys))) {
		if (strncmp(e->d_name, "dm-", 3))
			continue;
		snprintf(dir, sizeof(dir), "/sys/block/%s/dm", e->d_name);
		if (read_attr(dir, "name", buf, sizeof(buf)) ||
		    strcmp(buf, name))
			continue;
		snprintf(node, len, "/dev/%.32s", e->d_name);
		ret = EVENTUALLY(!access(node, F_OK), 2000) ? 0 : -ENOENT;
	}
	closedir(sys);
	return ret;
}

static void dm_remove(const char *name)
{
	run_cmd(NULL, 0, DMSETUP " --noudevsync remove --retry %s", name);
}

/*
 * Device-mapper device @name: @half sectors linear onto @backing, then
 * @half sectors of the error target. Loads dm-mod if needed. 0; 1 when
 * device-mapper is not available here, -1 when dmsetup create failed;
 * the reason in @why.
 */
static int dm_create(const char *name, const char *backing, uint64_t half,
		     char *why, size_t len)
{
	char table[] = "/tmp/vhost-blk-dm.XXXXXX";
	FILE *f;
	int fd, st;

	if (access(DMSETUP, X_OK)) {
		snprintf(why, len, "%s: %s", DMSETUP, strerror(errno));
		return 1;
	}
	if (access("/dev/mapper/control", F_OK))
		run_cmd(why, len, "modprobe dm-mod || modprobe -d \"$MODROOT\" dm-mod");
	if (!EVENTUALLY(!access("/dev/mapper/control", F_OK), 2000)) {
		snprintf(why + strlen(why), len - strlen(why),
			 " (no /dev/mapper/control)");
		return 1;
	}
	dm_remove(name);

	fd = mkstemp(table);
	if (fd < 0) {
		snprintf(why, len, "mkstemp: %s", strerror(errno));
		return 1;
	}
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(table);
		return 1;
	}
	fprintf(f, "0 %llu linear %s 0\n", (unsigned long long)half, backing);
	fprintf(f, "%llu %llu error\n", (unsigned long long)half,
		(unsigned long long)half);
	fclose(f);
	st = run_cmd(why, len, DMSETUP " --noudevsync create %s %s", name,
		     table);
	unlink(table);
	return st ? -1 : 0;
}

FIXTURE(dm) {
	char node[64];
	int fd;
	struct vblk_dev *d;
	uint64_t half;		/* sectors on each side of the boundary */
	uint64_t seed;
};

FIXTURE_SETUP(dm)
{
	char why[512] = "";
	int fd, ret;

	self->fd = -1;
	self->seed = fresh_seed();
	fd = open(test_dev2(), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", test_dev2(), strerror(errno));
	self->half = blk_bytes(fd) / 512 / 2 & ~7ULL;
	close(fd);
	ASSERT_LE(8192, self->half);
	ret = dm_create(DM_NAME, test_dev2(), self->half, why, sizeof(why));
	if (ret > 0)
		SKIP(return, "no device-mapper: %s", why);
	ASSERT_EQ(0, ret) TH_LOG("dmsetup create: %s", why);
	ret = dm_node(DM_NAME, self->node, sizeof(self->node));
	if (!ret)
		self->fd = open(self->node, O_RDWR | O_CLOEXEC);
	if (self->fd < 0) {
		/* No teardown after a failed setup: clean up here. */
		dm_remove(DM_NAME);
		ASSERT_LE(0, self->fd) TH_LOG("no node for %s", DM_NAME);
	}
}

FIXTURE_TEARDOWN(dm)
{
	vblk_dev_destroy(self->d);
	if (self->fd >= 0)
		close(self->fd);
	dm_remove(DM_NAME);
}

/* Slot @i of a side: 64 sectors each, so requests up to 32 KiB fit. */
#define SLOT(i)		(64ULL * (i))

TEST_F_TIMEOUT(dm, errors_on_the_failing_half_only, 120)
{
	enum { NQ = 4, PER_Q = 48, N = NQ * PER_Q };
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	uint64_t half = self->half, gpa;
	struct op *ops = calloc(N, sizeof(*ops));
	struct vblk_req *r;
	unsigned int i;

	ASSERT_NE(NULL, ops);
	o.num_queues = NQ;
	o.queue_size = 256;
	o.mem_size = 32 << 20;
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, self->fd, 0, "dm"));
	ASSERT_EQ(2 * half, vblk_dev_capacity(self->d));

	/* What the reads of the working half must find, written directly. */
	for (i = 3; i < N; i += 4)
		ASSERT_EQ(0, fill_direct(test_dev2(), SLOT(i), 1, 0,
					 4096 << (i % 3), self->seed + 1));

	/*
	 * Everything at once, interleaved over the queues: writes and reads
	 * on the working half, writes and reads on the failing half.
	 */
	for (i = 0; i < N; i++) {
		struct op *op = &ops[i];

		op->q = i % NQ;
		op->len = 4096 << (i % 3);
		/* Some buffers off their page, some through bounce pages. */
		op->skew = i % 5 == 4 ? 64 : i % 5 == 3 ? 512 : 0;
		op->seed = self->seed;
		op->type = i % 4 == 0 || i % 4 == 1 ? VIRTIO_BLK_T_OUT :
						      VIRTIO_BLK_T_IN;
		op->sector = i % 4 == 1 || i % 4 == 2 ? half + SLOT(i) :
							SLOT(i);
	}
	ASSERT_EQ(0, run_ops(self->d, ops, N, IO_TIMEOUT_MS));
	for (i = 0; i < N; i++) {
		struct op *op = &ops[i];

		if (op->sector >= half) {
			EXPECT_EQ(VIRTIO_BLK_S_IOERR, op->status)
				TH_LOG("request %u (%s at %llu)", i,
				       op->type == VIRTIO_BLK_T_OUT ? "write" :
				       "read", (unsigned long long)op->sector);
			continue;
		}
		EXPECT_EQ(VIRTIO_BLK_S_OK, op->status) TH_LOG("request %u", i);
		if (op->type == VIRTIO_BLK_T_IN) {
			EXPECT_EQ(-1, vblk_pattern_check(op_buf(self->d, op),
							 op->len, op->sector,
							 self->seed + 1))
				TH_LOG("read %u", i);
		} else {
			EXPECT_EQ(0, disk_check_pattern(test_dev2(), op->sector, op->len,
					   self->seed)) TH_LOG("write %u", i);
		}
	}
	/* Backend errors are not the guest's: no error eventfd. */
	for (i = 0; i < NQ; i++)
		EXPECT_EQ(0, efd_fired(self->d->vqs[i].err_fd, 0));
	free_ops(self->d, ops, N);

	/* A request across the boundary fails (its first part may be written). */
	r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(self->d, 65536, 4096, &gpa));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  write_pattern(&self->d->vqs[1], r, gpa, half - 8, 8192,
				self->seed));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  do_io(&self->d->vqs[2], r, VIRTIO_BLK_T_IN, half - 8, gpa,
			8192, 0));
	/* The last sector before the boundary works alone. */
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  write_pattern(&self->d->vqs[3], r, gpa, half - 1, 512,
				self->seed));
	EXPECT_EQ(0, check_pattern(&self->d->vqs[0], r, gpa, half - 1, 512,
				   self->seed));

	/*
	 * After all those errors the working half reads back through the
	 * device, while the failing half still fails, all at once again.
	 */
	for (i = 0; i < N; i++) {
		struct op *op = &ops[i];
		bool good = i % 4 == 0;

		op->q = (i + 1) % NQ;
		op->len = 4096 << (i % 3);
		op->skew = 0;
		op->type = VIRTIO_BLK_T_IN;
		op->sector = good ? SLOT(i) : half + SLOT(i);
	}
	ASSERT_EQ(0, run_ops(self->d, ops, N, IO_TIMEOUT_MS));
	for (i = 0; i < N; i++) {
		struct op *op = &ops[i];

		if (i % 4) {
			EXPECT_EQ(VIRTIO_BLK_S_IOERR, op->status)
				TH_LOG("read %u", i);
			continue;
		}
		EXPECT_EQ(VIRTIO_BLK_S_OK, op->status) TH_LOG("read %u", i);
		EXPECT_EQ(-1, vblk_pattern_check(op_buf(self->d, op), op->len,
						 op->sector, self->seed))
			TH_LOG("read %u", i);
	}
	free_ops(self->d, ops, N);
	free(ops);
}

/* ---- fault injection knobs ---- */

struct knob {
	const char *name;
	char old[64];
	bool saved;
};

/* Remember the knobs of @dir that exist; -errno if a needed one is missing. */
static int knobs_save(const char *dir, struct knob *k, unsigned int n,
		      unsigned int needed)
{
	for (unsigned int i = 0; i < n; i++) {
		int ret = read_attr(dir, k[i].name, k[i].old,
				    sizeof(k[i].old));

		k[i].saved = !ret;
		if (ret && i < needed)
			return ret;
	}
	return 0;
}

/* Put them back, probability (the first) last: it turns injection on. */
static void knobs_restore(const char *dir, struct knob *k, unsigned int n)
{
	write_attr(dir, "probability", "0");
	for (unsigned int i = n; i-- > 0;)
		if (k[i].saved)
			write_attr(dir, k[i].name, k[i].old);
}

/* Silent, unlimited injection at probability 0 for now. */
static int knobs_quiet(const char *dir)
{
	static const char *const set[][2] = {
		{ "probability", "0" }, { "verbose", "0" },
		{ "interval", "1" }, { "times", "-1" }, { "space", "0" },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(set); i++) {
		int ret = write_attr(dir, set[i][0], set[i][1]);

		if (ret)
			return ret;
	}
	return 0;
}

/* ---- fail_make_request ---- */

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

/* ---- failslab ---- */

enum fs_step {
	ST_OPEN, ST_OWNER, ST_FEATURES, ST_MEM_TABLE, ST_BACKEND,
	ST_NEW_WORKER, ST_ATTACH, ST_VRING, ST_MAX,
};

/* The one errno each step may fail with when allocations fail, or 0. */
static const struct {
	const char *name;
	int err;
} fs_steps[ST_MAX] = {
	[ST_OPEN] = { "open", ENOMEM },
	[ST_OWNER] = { "SET_OWNER", 0 },
	[ST_FEATURES] = { "GET_FEATURES, SET_FEATURES", 0 },
	[ST_MEM_TABLE] = { "SET_MEM_TABLE", ENOMEM },
	[ST_BACKEND] = { "SET_BACKEND, GET_CONFIG", 0 },
	[ST_NEW_WORKER] = { "NEW_WORKER (not injected)", 0 },
	[ST_ATTACH] = { "ATTACH_VRING_WORKER", 0 },
	/* Eventfds, SET_VRING_*; SET_VRING_KICK allocates and may start a worker. */
	[ST_VRING] = { "queue start", ENOMEM },
};

/* The largest request of fs_ops(). */
#define FS_MAX_LEN	16384

/* What an owner child found, in memory shared with the test. */
struct fs_result {
	unsigned int devices;		/* opened */
	unsigned int running;		/* ... that got as far as I/O */
	unsigned int failed[ST_MAX];	/* steps that failed as allowed */
	unsigned int io_ok, io_err;
	int workers;			/* worker threads made to fail */
	char why[256];			/* the first thing that went wrong */
};

/*
 * failslab for the tasks with make-it-fail set: an owner child, around
 * each of its steps, and its workers. Where the kernel has the stack
 * trace filter, failures are limited to allocations with vhost_blk on
 * the call chain and kept out of vmalloc: a failed vmalloc prints an
 * allocation warning with a stack trace, which the test VM rightly counts
 * as a kernel warning. Without the filter, the two steps that may
 * vmalloc (opening the device, whose state may fall back to vmalloc, and
 * starting a worker thread, whose stack is vmalloc'ed) run without
 * injection; workers are made with NEW_WORKER before the queue starts.
 */
FIXTURE(fslab) {
	struct knob knobs[13];
	bool filtered;
	int bfd;
	uint64_t seed;
	long pins0, refs0;
	struct fs_result *res;
};

/*
 * Point the stack trace filter at vhost_blk's text and away from vmalloc.
 * 0, or -errno without the filter or without addresses in kallsyms.
 */
static int fslab_filter(void)
{
	unsigned long lo = ULONG_MAX, hi = 0, vm = 0, vm_end = ULONG_MAX, a;
	char line[512], name[256], mod[64], type, val[32];
	FILE *f;
	int ret;

	if (access(FSLAB_DIR "/require-start", F_OK))
		return -ENOENT;
	f = fopen("/proc/kallsyms", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		mod[0] = 0;
		if (sscanf(line, "%lx %c %255s [%63[^]]]", &a, &type, name,
			   mod) < 3)
			continue;
		if (!strcmp(mod, "vhost_blk") && (type == 't' || type == 'T')) {
			lo = a < lo ? a : lo;
			hi = a > hi ? a : hi;
		}
		if (!mod[0] && (!strcmp(name, "__vmalloc_node_range_noprof") ||
				!strcmp(name, "__vmalloc_node_range")))
			vm = a;
	}
	/* It ends where the next symbol starts. */
	rewind(f);
	while (vm && fgets(line, sizeof(line), f)) {
		a = strtoul(line, NULL, 16);
		if (a > vm && a < vm_end)
			vm_end = a;
	}
	fclose(f);
	if (!lo || !hi || !vm || vm_end == ULONG_MAX)
		return -ENOENT;

	/* The last function of the module is surely shorter than a page. */
	snprintf(val, sizeof(val), "%#lx", lo);
	ret = write_attr(FSLAB_DIR, "require-start", val);
	snprintf(val, sizeof(val), "%#lx", hi + 4096);
	ret = ret ?: write_attr(FSLAB_DIR, "require-end", val);
	snprintf(val, sizeof(val), "%#lx", vm);
	ret = ret ?: write_attr(FSLAB_DIR, "reject-start", val);
	snprintf(val, sizeof(val), "%#lx", vm_end);
	ret = ret ?: write_attr(FSLAB_DIR, "reject-end", val);
	return ret ?: write_attr(FSLAB_DIR, "stacktrace-depth", "32");
}

FIXTURE_SETUP(fslab)
{
	const struct knob knobs[] = {
		{ .name = "probability" }, { .name = "interval" },
		{ .name = "times" }, { .name = "space" },
		{ .name = "verbose" }, { .name = "task-filter" },
		{ .name = "ignore-gfp-wait" }, { .name = "cache-filter" },
		/* CONFIG_FAULT_INJECTION_STACKTRACE_FILTER */
		{ .name = "require-start" }, { .name = "require-end" },
		{ .name = "reject-start" }, { .name = "reject-end" },
		{ .name = "stacktrace-depth" },
	};

	self->bfd = -1;
	self->seed = fresh_seed();
	if (access(FSLAB_DIR "/probability", F_OK))
		SKIP(return, "no %s (CONFIG_FAILSLAB)", FSLAB_DIR);
	if (access("/proc/self/make-it-fail", F_OK))
		SKIP(return, "no /proc/self/make-it-fail (CONFIG_FAULT_INJECTION)");
	ASSERT_EQ(sizeof(knobs), sizeof(self->knobs));
	memcpy(self->knobs, knobs, sizeof(knobs));
	ASSERT_EQ(0, knobs_save(FSLAB_DIR, self->knobs, ARRAY_SIZE(knobs), 8));
	ASSERT_EQ(0, knobs_quiet(FSLAB_DIR));
	ASSERT_EQ(0, write_attr(FSLAB_DIR, "task-filter", "Y"));
	ASSERT_EQ(0, write_attr(FSLAB_DIR, "ignore-gfp-wait", "N"));
	ASSERT_EQ(0, write_attr(FSLAB_DIR, "cache-filter", "N"));
	self->filtered = !fslab_filter();
	TH_LOG("%s", self->filtered ?
	       "failures in vhost_blk's call chains, none in vmalloc" :
	       "no stack trace filter: no failures in open() or in starting workers");
	self->res = mmap(NULL, sizeof(*self->res), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->res);
	memset(self->res, 0, sizeof(*self->res));
	self->bfd = open(test_dev(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->bfd);
	self->pins0 = pinned_pages();
	ASSERT_LE(0, self->pins0);
	self->refs0 = module_refs();
	ASSERT_LE(0, self->refs0);
}

/* In the parent: runs even when the test died. */
FIXTURE_TEARDOWN_PARENT(fslab)
{
	knobs_restore(FSLAB_DIR, self->knobs, ARRAY_SIZE(self->knobs));
}

/* Allocations of the calling thread fail from now on, or no longer. */
static int fs_window(int mif, bool on)
{
	return pwrite(mif, on ? "1" : "0", 1, 0) == 1 ? 0 : -errno;
}

/* 0 to go on, 1 when the step failed as it may, -1 when it must not. */
static int fs_check(struct fs_result *res, enum fs_step s, int ret)
{
	if (!ret)
		return 0;
	if (fs_steps[s].err && ret == -fs_steps[s].err) {
		res->failed[s]++;
		return 1;
	}
	snprintf(res->why, sizeof(res->why), "%s: %s", fs_steps[s].name,
		 strerror(-ret));
	return -1;
}

static int fs_step(struct vblk_dev *d, enum fs_step s, int bfd)
{
	int ret;

	switch (s) {
	case ST_OWNER:
		return vhost_blk_set_owner(d->fd);
	case ST_FEATURES:
		ret = vhost_blk_get_features(d->fd, &d->features_offered);
		if (ret)
			return ret;
		d->features = d->features_offered & VBLK_DRV_FEATURES;
		return vhost_blk_set_features(d->fd, d->features);
	case ST_MEM_TABLE:
		return vblk_dev_set_mem_table(d);
	case ST_BACKEND:
		return vblk_dev_attach(d, bfd, 0, "fslab");
	default:
		return -EINVAL;
	}
}

static int fs_fail(struct fs_result *res, const char *fmt, ...)
{
	va_list ap;

	if (!res->why[0]) {
		va_start(ap, fmt);
		vsnprintf(res->why, sizeof(res->why), fmt, ap);
		va_end(ap);
	}
	return -1;
}

/*
 * Write the slots of @w, read them back with @r (same slots, other
 * buffers), then compare with what @dev holds: an OK write must be on the
 * disk, an OK read must return what the disk holds. 0, or -1 with the
 * reason in res->why.
 */
static int fs_io(struct vblk_dev *d, const char *dev, struct op *w,
		 struct op *r, unsigned int n, struct fs_result *res)
{
	uint8_t *truth = malloc(FS_MAX_LEN);
	int ret = truth ? run_ops(d, w, n, FAULT_IO_TIMEOUT_MS) : -ENOMEM;

	if (ret) {
		fs_fail(res, "writes did not complete: %s", strerror(-ret));
		goto out;
	}
	ret = run_ops(d, r, n, FAULT_IO_TIMEOUT_MS);
	if (ret) {
		fs_fail(res, "reads did not complete: %s", strerror(-ret));
		goto out;
	}
	for (unsigned int i = 0; i < n && !ret; i++) {
		ret = blk_direct_io(dev, false, w[i].sector * 512, truth,
				    w[i].len);
		if (ret) {
			fs_fail(res, "reading %s: %s", dev, strerror(-ret));
		} else if (w[i].status == VIRTIO_BLK_S_OK &&
			   vblk_pattern_check(truth, w[i].len, w[i].sector,
					      w[i].seed) != -1) {
			ret = fs_fail(res, "write %u: OK but not on the disk",
				      i);
		} else if (r[i].status == VIRTIO_BLK_S_OK &&
			   memcmp(op_buf(d, &r[i]), truth, r[i].len)) {
			ret = fs_fail(res, "read %u: OK with wrong data", i);
		} else if ((w[i].status != VIRTIO_BLK_S_OK &&
			    w[i].status != VIRTIO_BLK_S_IOERR) ||
			   (r[i].status != VIRTIO_BLK_S_OK &&
			    r[i].status != VIRTIO_BLK_S_IOERR)) {
			ret = fs_fail(res, "request %u: status %d, %d", i,
				      w[i].status, r[i].status);
		}
		res->io_ok += (w[i].status == VIRTIO_BLK_S_OK) +
			      (r[i].status == VIRTIO_BLK_S_OK);
		res->io_err += (w[i].status == VIRTIO_BLK_S_IOERR) +
			       (r[i].status == VIRTIO_BLK_S_IOERR);
	}
out:
	free(truth);
	free_ops(d, w, n);
	free_ops(d, r, n);
	return ret ? -1 : 0;
}

/*
 * @n writes from sector @first on, 32 sectors apart, of 4, 8 or 16 KiB,
 * over @nq queues, and reads of the same slots into other buffers.
 */
static void fs_ops(struct op *w, struct op *r, unsigned int n, unsigned int nq,
		   uint64_t first, uint64_t seed)
{
	for (unsigned int i = 0; i < n; i++) {
		/* Every other buffer off its page: through a bounce buffer. */
		w[i] = (struct op){ .type = VIRTIO_BLK_T_OUT, .q = i % nq,
				    .sector = first + 32 * i,
				    .len = 4096 << (i % 3),
				    .skew = i % 2 ? 64 * (1 + i % 7) : 0,
				    .seed = seed };
		r[i] = w[i];
		r[i].type = VIRTIO_BLK_T_IN;
		r[i].q = (i + 1) % nq;
		r[i].skew = i % 2 ? 0 : 192;
	}
}

/*
 * One device of the bring-up loop: every step, then verified I/O, then
 * close, each step under injection. 0, or -1 on a wrong result.
 */
static int fs_bring_up(FIXTURE_DATA(fslab) *self, int mif, unsigned int it)
{
	struct fs_result *res = self->res;
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	struct vblk_dev *d = NULL;
	struct op w[4], r[4];
	unsigned int q, id;
	enum fs_step s;
	int ret, st, n;

	o.mem_size = 8 << 20;
	o.num_queues = 2;
	o.queue_size = 128;
	o.populate = true;

	fs_window(mif, self->filtered);
	ret = vblk_dev_open(&d, &o);
	fs_window(mif, false);
	st = fs_check(res, ST_OPEN, ret);
	if (st)
		return st < 0 ? -1 : 0;
	res->devices++;

	for (s = ST_OWNER; s <= ST_BACKEND; s++) {
		fs_window(mif, true);
		ret = fs_step(d, s, self->bfd);
		fs_window(mif, false);
		st = fs_check(res, s, ret);
		if (st)
			goto out;
	}
	for (q = 0; q < o.num_queues; q++) {
		if (!self->filtered) {
			ret = vhost_blk_new_worker(d->fd, &id);
			st = fs_check(res, ST_NEW_WORKER, ret);
			if (st)
				goto out;
			fs_window(mif, true);
			ret = vhost_blk_attach_vring_worker(d->fd, q, id);
			fs_window(mif, false);
			st = fs_check(res, ST_ATTACH, ret);
			if (st)
				goto out;
		}
		fs_window(mif, true);
		ret = vblk_vq_start(d, q, 0);
		fs_window(mif, false);
		st = fs_check(res, ST_VRING, ret);
		if (st)
			goto out;
	}

	/* The workers fail too (those that inherited it already do). */
	n = owner_workers(getpid(), "1");
	if (n < (int)o.num_queues) {
		st = fs_fail(res, "%d worker threads for %u queues", n,
			     o.num_queues);
		goto out;
	}
	res->running++;
	fs_ops(w, r, 4, o.num_queues, 128 * (it % 256), self->seed + it);
	st = fs_io(d, test_dev(), w, r, 4, res);
out:
	/* Release must cope with whatever state the device is in. */
	fs_window(mif, true);
	vblk_dev_close_fd(d);
	fs_window(mif, false);
	vblk_dev_destroy(d);
	return st < 0 ? -1 : 0;
}

/* Devices the bring-up test goes through, and for how long at most. */
#define FSLAB_DEVICES	150
#define FSLAB_LOOP_MS	120000
/* How long an owner child may take in all. */
#define FSLAB_CHILD_MS	180000

static int fslab_bring_up_child(void *arg)
{
	FIXTURE_DATA(fslab) *self = arg;
	int mif = open("/proc/thread-self/make-it-fail", O_WRONLY | O_CLOEXEC);
	uint64_t t0 = vblk_now_ns();

	if (mif < 0) {
		fs_fail(self->res, "/proc/thread-self/make-it-fail: %s",
			strerror(errno));
		return 1;
	}
	for (unsigned int it = 0; it < FSLAB_DEVICES; it++) {
		if (fs_bring_up(self, mif, it))
			return 1;
		if (vblk_now_ns() - t0 > FSLAB_LOOP_MS * 1000000ULL)
			break;
	}
	return 0;
}

/* The test ran, injected something and left nothing behind. */
static void fslab_after(struct __test_metadata *_metadata,
			FIXTURE_DATA(fslab) *self, int ret)
{
	struct fs_result *res = self->res;

	EXPECT_EQ(0, ret) TH_LOG("child %s: %s", ret == -1 ? "timed out" :
				 "failed", res->why);
	for (unsigned int s = 0; s < ST_MAX; s++) {
		if (res->failed[s])
			TH_LOG("%s failed %u times", fs_steps[s].name,
			       res->failed[s]);
	}
	TH_LOG("%u devices opened, %u running; requests: %u ok, %u failed",
	       res->devices, res->running, res->io_ok, res->io_err);
	/* Nothing pinned, no module reference left by any failure path. */
	EXPECT_TRUE(EVENTUALLY(pinned_pages() == self->pins0, PROMPT_MS))
		TH_LOG("%ld pages still pinned", pinned_pages() - self->pins0);
	EXPECT_TRUE(EVENTUALLY(module_refs() == self->refs0, PROMPT_MS))
		TH_LOG("module refcnt %ld, was %ld", module_refs(),
		       self->refs0);
	device_works(_metadata, self->bfd, self->seed, 2);
}

TEST_F_TIMEOUT(fslab, bring_up_io_and_close, 240)
{
	struct fs_result *res = self->res;
	unsigned int failed = 0;
	int ret;

	/*
	 * A device makes some 25 allocations the injection can reach (some
	 * 50 with the filter, starting its workers): at 5% most devices
	 * fail somewhere, some come up.
	 */
	ASSERT_EQ(0, write_attr(FSLAB_DIR, "probability", "5"));
	ret = run_in_child(fslab_bring_up_child, self, FSLAB_CHILD_MS);
	ASSERT_EQ(0, write_attr(FSLAB_DIR, "probability", "0"));
	fslab_after(_metadata, self, ret);
	for (unsigned int s = 0; s < ST_MAX; s++)
		failed += res->failed[s];
	/* Steps did fail as they may. */
	EXPECT_LT(0, failed);
}

#define FSLAB_BATCHES	16

static int fslab_io_child(void *arg)
{
	FIXTURE_DATA(fslab) *self = arg;
	struct fs_result *res = self->res;
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	struct op w[32], r[32];
	struct vblk_dev *d;
	struct vblk_req *rq;
	unsigned int b, q;
	uint64_t gpa;
	int ret;

	o.num_queues = 4;
	o.queue_size = 256;
	o.mem_size = 32 << 20;
	o.populate = true;
	ret = vblk_dev_create(&d, &o, self->bfd, 0, NULL);
	if (ret) {
		fs_fail(res, "device: %s", strerror(-ret));
		return 1;
	}
	/* The device runs; from now on its workers' allocations fail. */
	res->workers = owner_workers(getpid(), "1");
	if (res->workers < (int)o.num_queues) {
		fs_fail(res, "%d worker threads for %u queues", res->workers,
			o.num_queues);
		return 1;
	}
	res->devices = 1;
	res->running = 1;
	for (b = 0; b < FSLAB_BATCHES; b++) {
		fs_ops(w, r, 32, o.num_queues, 1024 * b, self->seed + b);
		if (fs_io(d, test_dev(), w, r, 32, res))
			return 1;
	}
	owner_workers(getpid(), "0");

	/* No guest error was reported, and every queue works as before. */
	rq = vblk_req_alloc(d);
	if (!rq || vblk_alloc(d, 65536, 4096, &gpa)) {
		fs_fail(res, "out of guest memory");
		return 1;
	}
	for (q = 0; q < o.num_queues; q++) {
		struct vblk_vq *vq = &d->vqs[q];

		if (efd_fired(vq->err_fd, 0)) {
			fs_fail(res, "error eventfd of queue %u fired", q);
			return 1;
		}
		ret = write_pattern(vq, rq, gpa, 40000 + 128 * q, 65536,
				    self->seed);
		if (ret != VIRTIO_BLK_S_OK ||
		    check_pattern(vq, rq, gpa, 40000 + 128 * q, 65536,
				  self->seed)) {
			fs_fail(res, "queue %u after the faults: status %d",
				q, ret);
			return 1;
		}
	}
	vblk_dev_destroy(d);
	return 0;
}

TEST_F_TIMEOUT(fslab, io_path, 240)
{
	struct fs_result *res = self->res;
	int ret;

	ASSERT_EQ(0, write_attr(FSLAB_DIR, "probability", "20"));
	ret = run_in_child(fslab_io_child, self, FSLAB_CHILD_MS);
	ASSERT_EQ(0, write_attr(FSLAB_DIR, "probability", "0"));
	EXPECT_EQ(4, res->workers);
	fslab_after(_metadata, self, ret);
	/* Bounce buffers could not be had: some requests failed, not all. */
	EXPECT_LT(0, res->io_err);
	EXPECT_LT(0, res->io_ok);
}

/* ---- teardown with thousands of requests in flight ---- */

#define NULLB_FLOOD	"vhost-blk-flood"
/*
 * Every request completes this long after submission: long enough for a
 * debug kernel under TCG to submit all 4096 before the first completes.
 */
#define FLOOD_MS	3000
#define FLOOD_NSEC	"3000000000"
#define FLOOD_QUEUES	16
#define FLOOD_PER_Q	256
#define FLOOD_N		(FLOOD_QUEUES * FLOOD_PER_Q)

/*
 * A null_blk that takes all 4096 requests at once (no scheduler, one tag
 * per request) and completes each FLOOD_NSEC after it came.
 */
static int nullb_flood(char *path, size_t len)
{
	static const char *const attrs[] = {
		"size=64", "blocksize=512", "memory_backed=1", "irqmode=2",
		"completion_nsec=" FLOOD_NSEC, "hw_queue_depth=4096",
		"submit_queues=1", NULL,
	};

	return nullb_get(NULLB_FLOOD, attrs, path, len);
}

FIXTURE(flood) {
	char node[64];
	char sys[PATH_MAX];	/* /sys/block/<disk> */
	int bfd;
	struct vblk_dev *d;
	long pins0, refs0;
	uint64_t seed;
};

FIXTURE_SETUP(flood)
{
	char queue[PATH_MAX + 8];

	self->bfd = -1;
	self->seed = fresh_seed();
	if (nullb_flood(self->node, sizeof(self->node)))
		SKIP(return, "no configfs null_blk");
	self->bfd = open(self->node, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->bfd) TH_LOG("%s: %s", self->node, strerror(errno));
	snprintf(self->sys, sizeof(self->sys), "/sys/block/%s",
		 strrchr(self->node, '/') + 1);
	snprintf(queue, sizeof(queue), "%s/queue", self->sys);
	/* A scheduler would hold most requests back in the block layer. */
	ASSERT_EQ(0, write_attr(queue, "scheduler", "none"));
	ASSERT_EQ(0, write_attr(queue, "nomerges", "2"));
	self->pins0 = pinned_pages();
	ASSERT_LE(0, self->pins0);
	self->refs0 = module_refs();
	ASSERT_LE(0, self->refs0);
}

FIXTURE_TEARDOWN(flood)
{
	vblk_dev_destroy(self->d);
	if (self->bfd >= 0)
		close(self->bfd);
}

/* Requests the disk has in flight, reads and writes; -1 if unknown. */
static long disk_inflight(const char *sys)
{
	char buf[64];
	long rd, wr;

	if (read_attr(sys, "inflight", buf, sizeof(buf)) ||
	    sscanf(buf, "%ld %ld", &rd, &wr) != 2)
		return -1;
	return rd + wr;
}

/*
 * Post 4096 reads of 4 KiB, 256 on each of 16 queues, 16 sectors apart so
 * none merge, and kick. 0 or -errno. Reads, because writeback throttling
 * holds the device's writes back (they are REQ_SYNC without REQ_IDLE):
 * with wbt_lat_usec at its default, only about 3000 of 4096 writes were
 * in the disk when the first completed.
 */
static int flood_post(struct vblk_dev **dp, int bfd)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	struct vblk_dev *d;
	uint64_t gpa;
	int ret;

	o.num_queues = FLOOD_QUEUES;
	o.queue_size = 2 * FLOOD_PER_Q;
	o.mem_size = 32 << 20;
	o.populate = true;
	ret = vblk_dev_create(&d, &o, bfd, 0, "flood");
	if (ret)
		return ret;
	*dp = d;
	if (!vblk_dev_has_feature(d, VIRTIO_RING_F_EVENT_IDX))
		return -EOPNOTSUPP;
	ret = vblk_alloc(d, FLOOD_N * 4096, 4096, &gpa);
	for (unsigned int k = 0; !ret && k < FLOOD_N; k++) {
		struct vblk_req *r = vblk_req_alloc(d);

		if (!r)
			return -ENOMEM;
		vblk_req_reset(r, VIRTIO_BLK_T_IN, 16 * k);
		vblk_req_add_seg(r, gpa + 4096ULL * k, 4096);
		ret = vblk_req_submit(&d->vqs[k % FLOOD_QUEUES], r,
				      VBLK_ADD_INDIRECT);
		ret = ret < 0 ? ret : 0;
	}
	for (unsigned int q = 0; !ret && q < FLOOD_QUEUES; q++)
		ret = vblk_vq_kick(&d->vqs[q]);
	return ret;
}

/*
 * Wait until the device took every request, and check that none
 * completed. With EVENT_IDX the device moves avail_event to the end of
 * what the guest posted only when it found the ring empty, having
 * submitted all it took. 0, -EBUSY if some completed already (FLOOD_MS
 * too short for this machine), -ETIMEDOUT. @at: when, CLOCK_MONOTONIC.
 */
static int flood_taken(struct vblk_dev *d, uint64_t *at)
{
	uint64_t end = vblk_now_ns() + 30000000000ULL;

	for (;;) {
		unsigned int taken = 0, used = 0;

		for (unsigned int q = 0; q < FLOOD_QUEUES; q++) {
			taken += vblk_vq_avail_event(&d->vqs[q]) == FLOOD_PER_Q;
			used += vblk_vq_used_idx(&d->vqs[q]);
		}
		*at = vblk_now_ns();
		if (used)
			return -EBUSY;
		if (taken == FLOOD_QUEUES)
			return 0;
		if (vblk_now_ns() > end)
			return -ETIMEDOUT;
		usleep(5000);
	}
}

static long ms_between(uint64_t from, uint64_t to)
{
	return ((int64_t)to - (int64_t)from) / 1000000;
}

static const char *flood_why(int ret)
{
	if (ret == -EBUSY)
		return "requests completed before all were taken (FLOOD_MS too short here)";
	return ret == -ETIMEDOUT ? "the device did not take all requests" :
				   strerror(-ret);
}

/* All 4096 requests are in the disk and hold their pages; @pid's workers run. */
static void flood_in_flight(struct __test_metadata *_metadata,
			    FIXTURE_DATA(flood) *self, pid_t pid)
{
	EXPECT_EQ(FLOOD_N, disk_inflight(self->sys));
	EXPECT_LE(FLOOD_N, pinned_pages() - self->pins0);
	EXPECT_EQ(FLOOD_QUEUES, owner_workers(pid, NULL));
}

/*
 * A teardown that began at @start waits for the requests, which all ended
 * FLOOD_MS after @taken at the latest, and for nothing else: it must be
 * over PROMPT_MS after the later of the two.
 */
static void flood_prompt(struct __test_metadata *_metadata, const char *what,
			 uint64_t taken, uint64_t start)
{
	uint64_t now = vblk_now_ns(), io_end = taken + FLOOD_MS * 1000000ULL;

	TH_LOG("%s took %ld ms, until %ld ms after the requests ended", what,
	       ms_between(start, now), ms_between(io_end, now));
	EXPECT_GT(PROMPT_MS, ms_between(io_end > start ? io_end : start, now));
}

/*
 * After the owner of the flood went away (or reset): its workers are
 * gone, the requests ended, their pages were released, and the module
 * holds @refs references again.
 */
static void flood_gone(struct __test_metadata *_metadata,
		       FIXTURE_DATA(flood) *self, pid_t pid, long refs)
{
	EXPECT_TRUE(EVENTUALLY(!owner_workers(pid, NULL), PROMPT_MS))
		TH_LOG("%d workers of %d left", owner_workers(pid, NULL), pid);
	EXPECT_TRUE(EVENTUALLY(!disk_inflight(self->sys), PROMPT_MS))
		TH_LOG("%ld requests left in the disk",
		       disk_inflight(self->sys));
	EXPECT_TRUE(EVENTUALLY(pinned_pages() == self->pins0, PROMPT_MS))
		TH_LOG("%ld pages still pinned", pinned_pages() - self->pins0);
	EXPECT_TRUE(EVENTUALLY(module_refs() == refs, PROMPT_MS))
		TH_LOG("module refcnt %ld, expected %ld", module_refs(), refs);
}

TEST_F_TIMEOUT(flood, owner_killed, 120)
{
	uint64_t t[2] = { 0, 0 }, t0;	/* kicked, all taken */
	int p[2], status, ret;
	pid_t pid;

	ASSERT_EQ(0, pipe(p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct vblk_dev *d = NULL;

		ret = flood_post(&d, self->bfd);
		t[0] = vblk_now_ns();
		if (!ret)
			ret = flood_taken(d, &t[1]);
		if (write(p[1], &ret, sizeof(ret)) != sizeof(ret) ||
		    write(p[1], t, sizeof(t)) != sizeof(t))
			_exit(1);
		pause();
		_exit(0);
	}
	/* Check, and kill the child whatever was found. */
	close(p[1]);
	if (read(p[0], &ret, sizeof(ret)) != sizeof(ret) ||
	    read(p[0], t, sizeof(t)) != sizeof(t))
		ret = -EPIPE;
	EXPECT_EQ(0, ret) TH_LOG("%s", flood_why(ret));
	TH_LOG("all in flight %ld ms after the kicks", ms_between(t[0], t[1]));
	if (!ret)
		flood_in_flight(_metadata, self, pid);

	t0 = vblk_now_ns();
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	flood_prompt(_metadata, "reaping the killed owner", t[1], t0);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(p[0]);
	flood_gone(_metadata, self, pid, self->refs0);
	device_works(_metadata, self->bfd, self->seed, 2);
}

TEST_F_TIMEOUT(flood, close_in_flight, 120)
{
	uint64_t t0, taken;
	int ret;

	ASSERT_EQ(0, flood_post(&self->d, self->bfd));
	t0 = vblk_now_ns();
	ret = flood_taken(self->d, &taken);
	ASSERT_EQ(0, ret) TH_LOG("%s", flood_why(ret));
	TH_LOG("all in flight %ld ms after the kicks", ms_between(t0, taken));
	flood_in_flight(_metadata, self, getpid());
	t0 = vblk_now_ns();
	vblk_dev_close_fd(self->d);
	flood_prompt(_metadata, "close()", taken, t0);
	/* Closed: the memory the requests used is still mapped, unpinned. */
	flood_gone(_metadata, self, getpid(), self->refs0);
	vblk_dev_destroy(self->d);
	self->d = NULL;
	device_works(_metadata, self->bfd, self->seed, 2);
}

TEST_F_TIMEOUT(flood, reset_owner_in_flight, 120)
{
	struct vblk_req *r;
	uint64_t t0, taken, gpa;
	int ret;

	ASSERT_EQ(0, flood_post(&self->d, self->bfd));
	t0 = vblk_now_ns();
	ret = flood_taken(self->d, &taken);
	ASSERT_EQ(0, ret) TH_LOG("%s", flood_why(ret));
	TH_LOG("all in flight %ld ms after the kicks", ms_between(t0, taken));
	flood_in_flight(_metadata, self, getpid());
	t0 = vblk_now_ns();
	ASSERT_EQ(0, vblk_dev_reset_owner(self->d));
	flood_prompt(_metadata, "RESET_OWNER", taken, t0);
	/* Every request was completed to the guest before the reset. */
	for (unsigned int q = 0; q < FLOOD_QUEUES; q++)
		EXPECT_EQ(FLOOD_PER_Q, vblk_vq_used_idx(&self->d->vqs[q]));
	/* The open file keeps its one reference. */
	flood_gone(_metadata, self, getpid(), self->refs0 + 1);

	/* Owned again, the same file serves I/O. */
	ASSERT_EQ(0, vblk_dev_setup(self->d, 0));
	ASSERT_EQ(0, vblk_dev_attach(self->d, self->bfd, 0, NULL));
	ASSERT_EQ(0, vblk_vq_start(self->d, 0, 0));
	r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(self->d, 65536, 4096, &gpa));
	EXPECT_EQ(VIRTIO_BLK_S_OK, write_pattern(&self->d->vqs[0], r, gpa, 8,
						 65536, self->seed));
	EXPECT_EQ(0, check_pattern(&self->d->vqs[0], r, gpa, 8, 65536,
				   self->seed));
	vblk_dev_destroy(self->d);
	self->d = NULL;
	EXPECT_TRUE(EVENTUALLY(module_refs() == self->refs0, PROMPT_MS));
}

VHOST_BLK_TEST_MAIN
