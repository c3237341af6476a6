// SPDX-License-Identifier: GPL-2.0
/*
 * faults_dm: backend I/O errors. A device-mapper disk: its first half
 * linear onto VHOST_BLK_TEST_DEV2, its second half the error target.
 * Requests on both halves at once, on several queues.
 *
 * Every request must end VIRTIO_BLK_S_OK with correct data or
 * VIRTIO_BLK_S_IOERR; nothing may hang.
 */
#include <pthread.h>
#include <sys/syscall.h>

#include "faults.h"

#define DMSETUP			"/usr/sbin/dmsetup"
#define DM_NAME			"vhost-blk-faults"

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
	bool split;		/* the DM_SPLIT devices were made */
};

/*
 * A disk of two device-mapper halves, each linear onto its own
 * device-mapper device over VHOST_BLK_TEST_DEV2, so that each half can be
 * suspended alone.
 */
#define DM_SPLIT		"vhost-blk-split"
#define DM_SPLIT_LO		"vhost-blk-split-lo"
#define DM_SPLIT_HI		"vhost-blk-split-hi"
#define SPLIT_SECTORS		8192ULL

static void dm_split_remove(void)
{
	run_cmd(NULL, 0, DMSETUP " resume " DM_SPLIT_LO);
	run_cmd(NULL, 0, DMSETUP " resume " DM_SPLIT_HI);
	dm_remove(DM_SPLIT);
	dm_remove(DM_SPLIT_LO);
	dm_remove(DM_SPLIT_HI);
}

/* A device-mapper device @name with the one-line table @line. */
static int dm_create_line(const char *name, const char *line, char *why,
			  size_t len)
{
	return run_cmd(why, len, "echo '%s' | " DMSETUP
		       " --noudevsync create %s", line, name);
}

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
	if (self->split)
		dm_split_remove();
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

/* Requests in flight on the device at @fd of process @pid, or -1. */
static long dev_inflight(pid_t pid, int fd)
{
	char path[64], line[1024], *p;
	long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		p = strstr(line, " inflight=");
		if (!strncmp(line, "total:", 6) && p)
			n = atol(p + 10);
	}
	fclose(f);
	return n;
}

struct resumer {
	const char *name;
	volatile bool done;
};

/* Resume the device after 20 s at the latest: no test hangs for good. */
static void *resume_later(void *arg)
{
	struct resumer *rs = arg;

	for (int i = 0; i < 200 && !rs->done; i++)
		usleep(100000);
	run_cmd(NULL, 0, DMSETUP " resume %s", rs->name);
	return NULL;
}

/*
 * A killed owner goes away at once, although its requests wait on a
 * backend that does not answer (a suspended device-mapper device holds
 * them): the release finishes in the background, holding the module,
 * until the backend completes them, and then lets go of the backend.
 */
TEST_F_TIMEOUT(dm, killed_owner_leaves_a_stalled_backend_at_once, 120)
{
	enum { N = 16 };
	struct resumer rs = { .name = DM_NAME };
	long refs0 = module_refs(), held;
	char why[256];
	int st, pfd[2], fd = -1;
	uint64_t t0, ms;
	pthread_t t;
	pid_t pid;

	ASSERT_LE(0, refs0);
	ASSERT_EQ(0, run_cmd(why, sizeof(why), DMSETUP " suspend --noflush %s",
			     DM_NAME)) TH_LOG("%s", why);
	ASSERT_EQ(0, pthread_create(&t, NULL, resume_later, &rs));
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct vblk_opts o = VBLK_OPTS_DEFAULT;
		struct op ops[N] = { 0 };
		struct vblk_dev *d;

		if (vblk_dev_create(&d, &o, self->fd, 0, "stalled") ||
		    write(pfd[1], &d->fd, sizeof(d->fd)) != sizeof(d->fd))
			_exit(1);
		for (int i = 0; i < N; i++) {
			ops[i].type = VIRTIO_BLK_T_OUT;
			ops[i].sector = SLOT(i);
			ops[i].len = 4096;
			ops[i].seed = self->seed;
		}
		run_ops(d, ops, N, 60000);
		_exit(2);
	}
	close(pfd[1]);
	EXPECT_EQ(sizeof(fd), read(pfd[0], &fd, sizeof(fd)));
	close(pfd[0]);
	EXPECT_TRUE(EVENTUALLY(dev_inflight(pid, fd) == N, 10000))
		TH_LOG("%ld requests in flight", dev_inflight(pid, fd));

	t0 = vblk_now_ns();
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ms = (vblk_now_ns() - t0) / 1000000;
	held = module_refs();
	TH_LOG("owner gone %llu ms after SIGKILL, module refcnt %ld (%ld before)",
	       (unsigned long long)ms, held, refs0);
	EXPECT_GT(2000, ms);
	/* The release in the background holds the module. */
	EXPECT_EQ(refs0 + 1, held);

	rs.done = true;
	pthread_join(t, NULL);
	EXPECT_TRUE(EVENTUALLY(module_refs() == refs0, PROMPT_MS))
		TH_LOG("module refcnt %ld, want %ld", module_refs(), refs0);
	/* The writes reached the backend, and it is ours alone again. */
	for (int i = 0; i < N; i++) {
		EXPECT_EQ(0, disk_check_pattern(test_dev2(), SLOT(i), 4096,
						self->seed)) TH_LOG("write %d", i);
	}
	EXPECT_EQ(0, run_cmd(why, sizeof(why), DMSETUP
			     " info -c --noheadings -o open %s", DM_NAME));
	EXPECT_EQ(1, atoi(why)) TH_LOG("%s open %s times", DM_NAME, why);
}

/* /proc/PID/wchan: where the task sleeps; false if unreadable. */
static bool proc_wchan(pid_t pid, char *out, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/wchan", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, out, len - 1);
	close(fd);
	if (n <= 0)
		return false;
	out[n] = 0;
	return true;
}

/* What a stalled owner is doing when it is killed. */
enum stall_in {
	STALL_GET_VRING_BASE,
	STALL_RESET_OWNER,
	STALL_SET_MEM_TABLE,
};

static int stall_ioctl(struct vblk_dev *d, enum stall_in in)
{
	struct vhost_vring_state s = { .index = 0 };

	switch (in) {
	case STALL_GET_VRING_BASE:
		return ioctl(d->fd, VHOST_GET_VRING_BASE, &s);
	case STALL_RESET_OWNER:
		return vhost_blk_reset_owner(d->fd);
	default:
		return vblk_dev_set_mem_table(d);
	}
}

/*
 * An owner killed while an ioctl waits for requests that a backend does
 * not answer (a suspended device-mapper device holds them) goes away at
 * once, as one killed elsewhere does: the wait is killable, and the
 * release finishes in the background until the backend comes back.
 */
static void killed_in_ioctl(struct __test_metadata *_metadata,
			    FIXTURE_DATA(dm) *self, enum stall_in in)
{
	enum { N = 8 };
	struct resumer rs = { .name = DM_NAME };
	long refs0 = module_refs();
	int st, pfd[2], go[2], fd = -1;
	char why[256], wchan[64] = "";
	uint64_t t0, ms;
	pthread_t t;
	pid_t pid;

	ASSERT_LE(0, refs0);
	ASSERT_EQ(0, run_cmd(why, sizeof(why), DMSETUP " suspend --noflush %s",
			     DM_NAME)) TH_LOG("%s", why);
	ASSERT_EQ(0, pthread_create(&t, NULL, resume_later, &rs));
	ASSERT_EQ(0, pipe(pfd));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct vblk_opts o = VBLK_OPTS_DEFAULT;
		struct vblk_dev *d;
		char c;

		if (vblk_dev_create(&d, &o, self->fd, 0, "stalled"))
			_exit(1);
		for (int i = 0; i < N; i++) {
			struct op op = { .type = VIRTIO_BLK_T_OUT,
					 .sector = SLOT(i), .len = 4096 };

			op.r = vblk_req_alloc(d);
			if (!op.r || vblk_alloc(d, 4096, 4096, &op.gpa))
				_exit(1);
			vblk_req_reset(op.r, op.type, op.sector);
			vblk_pattern_fill(op_buf(d, &op), 4096, op.sector,
					  self->seed);
			vblk_req_add_data(d, op.r, op.gpa, 4096);
			if (vblk_req_submit(&d->vqs[0], op.r, 0) < 0)
				_exit(1);
		}
		if (vblk_vq_kick_force(&d->vqs[0]) ||
		    write(pfd[1], &d->fd, sizeof(d->fd)) != sizeof(d->fd) ||
		    read(go[0], &c, 1) != 1)
			_exit(1);
		/* Once all are in flight: waits for them, until killed. */
		stall_ioctl(d, in);
		_exit(2);
	}
	close(pfd[1]);
	close(go[0]);
	EXPECT_EQ(sizeof(fd), read(pfd[0], &fd, sizeof(fd)));
	close(pfd[0]);
	EXPECT_TRUE(EVENTUALLY(dev_inflight(pid, fd) == N, 10000))
		TH_LOG("%ld requests in flight", dev_inflight(pid, fd));
	EXPECT_EQ(1, write(go[1], "g", 1));
	close(go[1]);
	/* In the ioctl's wait, not before it. */
	EXPECT_TRUE(EVENTUALLY(proc_wchan(pid, wchan, sizeof(wchan)) &&
			       strstr(wchan, "vhost_blk"), 10000))
		TH_LOG("owner waits in \"%s\"", wchan);

	t0 = vblk_now_ns();
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ms = (vblk_now_ns() - t0) / 1000000;
	TH_LOG("owner waiting in %s gone %llu ms after SIGKILL", wchan,
	       (unsigned long long)ms);
	EXPECT_GT(2000, ms);
	EXPECT_TRUE(WIFSIGNALED(st));

	rs.done = true;
	pthread_join(t, NULL);
	EXPECT_TRUE(EVENTUALLY(module_refs() == refs0, PROMPT_MS))
		TH_LOG("module refcnt %ld, want %ld", module_refs(), refs0);
	for (int i = 0; i < N; i++) {
		EXPECT_EQ(0, disk_check_pattern(test_dev2(), SLOT(i), 4096,
						self->seed)) TH_LOG("write %d", i);
	}
}

TEST_F_TIMEOUT(dm, killed_in_get_vring_base, 120)
{
	killed_in_ioctl(_metadata, self, STALL_GET_VRING_BASE);
}

TEST_F_TIMEOUT(dm, killed_in_reset_owner, 120)
{
	killed_in_ioctl(_metadata, self, STALL_RESET_OWNER);
}

TEST_F_TIMEOUT(dm, killed_in_set_mem_table, 120)
{
	killed_in_ioctl(_metadata, self, STALL_SET_MEM_TABLE);
}

/*
 * A release cut short stops every queue before it waits for any: a kick
 * that arrives after the owner is gone, on a queue with nothing in
 * flight, starts nothing. Queue 0 stalls on the suspended device, queue
 * 1 holds a posted write it was never kicked for; the test takes queue
 * 1's kick eventfd from the owner, kills the owner, kicks, and finds the
 * write not on the disk after the device resumes.
 */
TEST_F_TIMEOUT(dm, release_cut_short_serves_no_other_queue, 120)
{
	enum { N = 16 };
	struct resumer rs = { .name = DM_NAME };
	int st, pfd[2], go[2], fds[2] = { -1, -1 }, kfd, pidfd;
	uint64_t one = 1;
	char why[256];
	pthread_t t;
	pid_t pid;

	ASSERT_EQ(0, disk_write_pattern(test_dev2(), SLOT(40), 4096,
					self->seed + 7));
	ASSERT_EQ(0, pipe(pfd));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct vblk_opts o = VBLK_OPTS_DEFAULT;
		struct op ops[N + 1] = { 0 };
		struct vblk_dev *d;
		int msg[2];

		o.num_queues = 2;
		if (vblk_dev_create(&d, &o, self->fd, 0, "stalled"))
			_exit(1);
		/*
		 * A round trip on queue 1 first: its worker has then made
		 * its first pass, and takes nothing more without a kick.
		 */
		ops[N].r = vblk_req_alloc(d);
		if (!ops[N].r || vblk_alloc(d, 4096, 4096, &ops[N].gpa) ||
		    write_pattern(&d->vqs[1], ops[N].r, ops[N].gpa, SLOT(50),
				  4096, self->seed) != VIRTIO_BLK_S_OK)
			_exit(1);
		vblk_req_free(d, ops[N].r);
		vblk_free(d, ops[N].gpa, 4096);
		/* The parent suspends the device now. */
		msg[0] = 0;
		if (write(pfd[1], msg, sizeof(msg[0])) != sizeof(msg[0]) ||
		    read(go[0], msg, 1) != 1)
			_exit(1);
		for (int i = 0; i <= N; i++) {
			struct op *op = &ops[i];

			op->type = VIRTIO_BLK_T_OUT;
			op->sector = i < N ? SLOT(i) : SLOT(40);
			op->len = 4096;
			op->q = i < N ? 0 : 1;
			op->r = vblk_req_alloc(d);
			if (!op->r || vblk_alloc(d, 4096, 4096, &op->gpa))
				_exit(1);
			vblk_req_reset(op->r, op->type, op->sector);
			vblk_pattern_fill(op_buf(d, op), 4096, op->sector,
					  self->seed);
			vblk_req_add_data(d, op->r, op->gpa, 4096);
			if (vblk_req_submit(&d->vqs[op->q], op->r,
					    VBLK_ADD_INDIRECT) < 0)
				_exit(1);
		}
		/* Queue 1 is not kicked. */
		if (vblk_vq_kick_force(&d->vqs[0]))
			_exit(1);
		msg[0] = d->fd;
		msg[1] = d->vqs[1].kick_fd;
		if (write(pfd[1], msg, sizeof(msg)) != sizeof(msg))
			_exit(1);
		for (;;)
			pause();
	}
	close(pfd[1]);
	close(go[0]);
	ASSERT_EQ(sizeof(int), read(pfd[0], fds, sizeof(int)));
	ASSERT_EQ(0, run_cmd(why, sizeof(why), DMSETUP " suspend --noflush %s",
			     DM_NAME)) TH_LOG("%s", why);
	ASSERT_EQ(0, pthread_create(&t, NULL, resume_later, &rs));
	ASSERT_EQ(1, write(go[1], "g", 1));
	close(go[1]);
	EXPECT_EQ(sizeof(fds), read(pfd[0], fds, sizeof(fds)));
	close(pfd[0]);
	EXPECT_TRUE(EVENTUALLY(dev_inflight(pid, fds[0]) == N, 10000))
		TH_LOG("%ld requests in flight", dev_inflight(pid, fds[0]));
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	ASSERT_LE(0, pidfd);
	kfd = syscall(SYS_pidfd_getfd, pidfd, fds[1], 0);
	ASSERT_LE(0, kfd) TH_LOG("pidfd_getfd: %s", strerror(errno));
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_EQ(8, write(kfd, &one, 8));
	usleep(500000);
	rs.done = true;
	pthread_join(t, NULL);
	EXPECT_TRUE(EVENTUALLY(!disk_check_pattern(test_dev2(), SLOT(0), 4096,
						   self->seed), PROMPT_MS));
	/* Queue 0's writes are down; queue 1's must not follow. */
	usleep(500000);
	EXPECT_EQ(0, disk_check_pattern(test_dev2(), SLOT(40), 4096,
					self->seed + 7))
		TH_LOG("queue 1 served a kick after its device was closed");
	close(kfd);
	close(pidfd);
}

/*
 * A release cut short by a queue whose backend stalls still reaps the
 * requests of its other queues as they complete: their guest pages do not
 * stay pinned until the stalled queue drains. Queue 0 writes to a half
 * of the disk that stays suspended, queue 1 to a half that resumes after
 * the owner was killed.
 */
TEST_F_TIMEOUT(dm, release_cut_short_reaps_other_queues, 120)
{
	enum { N = 8 };
	struct resumer lo = { .name = DM_SPLIT_LO };
	struct resumer hi = { .name = DM_SPLIT_HI };
	long refs0 = module_refs(), pages0, pages, share, pins;
	char why[256], line[256], node[64], lo_node[64], hi_node[64];
	const char *pages_dir = "/sys/module/vhost_blk/parameters";
	pthread_t tlo, thi;
	int st, pfd[2], bfd, fd = -1;
	pid_t pid;

	if (vblk_env_pin_mem())
		SKIP(return, "counts pages pinned per request: none on a pinned table");
	ASSERT_LE(0, refs0);
	self->split = true;
	dm_split_remove();
	snprintf(line, sizeof(line), "0 %llu linear %s 0", SPLIT_SECTORS,
		 test_dev2());
	ASSERT_EQ(0, dm_create_line(DM_SPLIT_LO, line, why, sizeof(why)))
		TH_LOG("%s", why);
	snprintf(line, sizeof(line), "0 %llu linear %s %llu", SPLIT_SECTORS,
		 test_dev2(), SPLIT_SECTORS);
	ASSERT_EQ(0, dm_create_line(DM_SPLIT_HI, line, why, sizeof(why)))
		TH_LOG("%s", why);
	ASSERT_EQ(0, dm_node(DM_SPLIT_LO, lo_node, sizeof(lo_node)));
	ASSERT_EQ(0, dm_node(DM_SPLIT_HI, hi_node, sizeof(hi_node)));
	snprintf(line, sizeof(line), "0 %llu linear %s 0\n%llu %llu linear %s 0",
		 SPLIT_SECTORS, lo_node, SPLIT_SECTORS, SPLIT_SECTORS, hi_node);
	ASSERT_EQ(0, dm_create_line(DM_SPLIT, line, why, sizeof(why)))
		TH_LOG("%s", why);
	ASSERT_EQ(0, dm_node(DM_SPLIT, node, sizeof(node)));
	bfd = open(node, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, bfd) TH_LOG("%s: %s", node, strerror(errno));

	ASSERT_EQ(0, read_attr(pages_dir, "inflight_pages", why, sizeof(why)));
	pages0 = atol(why);
	ASSERT_EQ(0, run_cmd(why, sizeof(why), DMSETUP " suspend --noflush "
			     DM_SPLIT_LO " && " DMSETUP " suspend --noflush "
			     DM_SPLIT_HI)) TH_LOG("%s", why);
	ASSERT_EQ(0, pthread_create(&tlo, NULL, resume_later, &lo));
	ASSERT_EQ(0, pthread_create(&thi, NULL, resume_later, &hi));
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct vblk_opts o = VBLK_OPTS_DEFAULT;
		struct op ops[2 * N] = { 0 };
		struct vblk_dev *d;

		o.num_queues = 2;
		if (vblk_dev_create(&d, &o, bfd, 0, "split") ||
		    write(pfd[1], &d->fd, sizeof(d->fd)) != sizeof(d->fd))
			_exit(1);
		for (int i = 0; i < 2 * N; i++) {
			ops[i].type = VIRTIO_BLK_T_OUT;
			ops[i].q = i / N;
			ops[i].sector = SLOT(i % N) + ops[i].q * SPLIT_SECTORS;
			ops[i].len = 4096;
			ops[i].seed = self->seed;
		}
		run_ops(d, ops, 2 * N, 60000);
		_exit(2);
	}
	close(pfd[1]);
	close(bfd);
	EXPECT_EQ(sizeof(fd), read(pfd[0], &fd, sizeof(fd)));
	close(pfd[0]);
	EXPECT_TRUE(EVENTUALLY(dev_inflight(pid, fd) == 2 * N, 10000))
		TH_LOG("%ld requests in flight", dev_inflight(pid, fd));
	ASSERT_EQ(0, read_attr(pages_dir, "inflight_pages", why, sizeof(why)));
	pages = atol(why);
	/* Each queue holds the same pages: its writes are alike. */
	share = (pages - pages0) / 2;
	ASSERT_LE(N, share) TH_LOG("%ld pages in flight, %ld before",
				   pages, pages0);
	ASSERT_EQ(pages0 + 2 * share, pages);

	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	pins = pinned_pages();
	hi.done = true;
	pthread_join(thi, NULL);
	/* Queue 1's writes end now, and the release reaps them. */
	for (int i = 0; i < N; i++) {
		EXPECT_TRUE(EVENTUALLY(!disk_check_pattern(test_dev2(),
				SLOT(i) + SPLIT_SECTORS, 4096, self->seed),
				PROMPT_MS)) TH_LOG("queue 1 write %d", i);
	}
	EXPECT_TRUE(EVENTUALLY(read_attr(pages_dir, "inflight_pages", why,
					 sizeof(why)) == 0 &&
			       atol(why) == pages0 + share, PROMPT_MS))
		TH_LOG("%s pages in flight, want %ld", why, pages0 + share);
	EXPECT_GE(pins - share, pinned_pages())
		TH_LOG("%ld pages pinned, %ld before queue 1 ended",
		       pinned_pages(), pins);
	/* Queue 0 still waits: the release holds the module. */
	EXPECT_EQ(refs0 + 1, module_refs());

	lo.done = true;
	pthread_join(tlo, NULL);
	EXPECT_TRUE(EVENTUALLY(module_refs() == refs0, PROMPT_MS))
		TH_LOG("module refcnt %ld, want %ld", module_refs(), refs0);
	EXPECT_EQ(0, read_attr(pages_dir, "inflight_pages", why, sizeof(why)));
	EXPECT_EQ(pages0, atol(why));
	for (int i = 0; i < N; i++) {
		EXPECT_EQ(0, disk_check_pattern(test_dev2(), SLOT(i), 4096,
						self->seed)) TH_LOG("write %d", i);
	}
}

VHOST_BLK_TEST_MAIN
