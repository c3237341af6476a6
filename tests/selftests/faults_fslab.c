// SPDX-License-Identifier: GPL-2.0
/*
 * faults_fslab: failslab (CONFIG_FAILSLAB) on the allocations of a process
 * that sets devices up, and on the I/O path of a running one.
 *
 * Every request must end VIRTIO_BLK_S_OK with correct data or
 * VIRTIO_BLK_S_IOERR; nothing may hang. Fault injection is set through
 * debugfs and restored afterwards; the tests skip on a kernel without it
 * (such as Debian's).
 */
#include "faults.h"

/*
 * A request under injected allocation failures may wait for a mempool
 * element, in steps of five seconds.
 */
#define FAULT_IO_TIMEOUT_MS	60000

#define FSLAB_DIR		"/sys/kernel/debug/failslab"

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

VHOST_BLK_TEST_MAIN
