// SPDX-License-Identifier: GPL-2.0
/*
 * owner: workers act as the owner. An unprivileged owner (uid 65534 with
 * the node made 0666 for the test) gets what its own write(2) gets: a
 * guest write to a root-owned mode 4777 file clears the setuid bit, and
 * its workers run with its uid. Its RLIMIT_NPROC bounds how many workers
 * its opens and VHOST_NEW_WORKER calls create (-EAGAIN past it; a queue
 * worker made past it with a file backend gets no auxiliary worker, and
 * runs its flushes itself), the workers are in its cgroup, and closing
 * everything brings its task count back. Where workers are kthreads
 * (before Linux 6.4), the module parameter max_kthread_workers bounds
 * them all, even for root.
 */
#include <grp.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "vhost_blk_test.h"

#define NOBODY		65534
#define FILE_SIZE	(1U << 20)
#define NPROC_LIMIT	8
#define MAX_TIDS	256
#define PARAM_DIR	"/sys/module/vhost_blk/parameters"

/* What the unprivileged child saw, for the test process to check. */
struct owner_result {
	int err;		/* first failure, -errno; 0 if none */
	int line;		/* where it happened */
	int status;		/* of the guest write */
	int workers;		/* worker threads of the child */
	long worker_ids[2][8];	/* Uid: and Gid: fields of its workers */
	int tasks_before;	/* tasks of uid 65534 before opening */
	int created;		/* workers created before the limit */
	int limit_err;		/* what the next creation returned */
	int tasks_at_limit;	/* tasks of uid 65534 then */
	int in_cgroup;		/* workers whose cgroup is the owner's */
	long pids_current;	/* of the owner's cgroup then, or -1 */
	char cgroup[256];	/* the owner's /proc/PID/cgroup */
	int tasks_after;	/* tasks of uid 65534 after closing */
	int workers_after;	/* workers of the child after closing */
	int attach_err;		/* SET_BACKEND at the limit */
	int flush_status;	/* of a flush then */
	char aux[128];		/* fdinfo's aux: line after it */
	int start_err;		/* SET_VRING_KICK after SET_BACKEND */
};

#define CHILD_CHECK(res, expr) do {					\
	int __e = (expr);						\
	if (__e < 0 && !(res)->err) {					\
		(res)->err = __e;					\
		(res)->line = __LINE__;					\
	}								\
	if (__e < 0)							\
		_exit(1);						\
} while (0)

static int become_nobody(void)
{
	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY))
		return -errno;
	return 0;
}

static int read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = 0;
	return 0;
}

/* The real uid of task @dir (/proc/P/task/T), or -1. */
static long task_uid(const char *dir)
{
	char path[PATH_MAX + 16], buf[2048], *p;

	snprintf(path, sizeof(path), "%s/status", dir);
	if (read_file(path, buf, sizeof(buf)))
		return -1;
	p = strstr(buf, "\nUid:");
	return p ? strtol(p + 5, NULL, 10) : -1;
}

struct scan {
	long uid;		/* count tasks of this real uid, if >= 0 */
	pid_t pid;		/* workers of this owner; any if < 0; none if 0 */
	int *tids;
	int nr;			/* workers found */
	int n;			/* tasks of @uid */
};

static int scan_one(const char *dir, int tid, const char *comm, void *arg)
{
	struct scan *sc = arg;

	if (sc->uid >= 0 && task_uid(dir) == sc->uid)
		sc->n++;
	if (sc->pid && sc->nr < MAX_TIDS &&
	    (sc->pid > 0 ? worker_of(comm, sc->pid) :
	     !strncmp(comm, "vhost-blk-", 10)))
		sc->tids[sc->nr++] = tid;
	return 0;
}

/*
 * Walk every task of the system: count those whose real uid is @uid
 * (if @uid >= 0) and collect the tids of the workers of owner @pid (if
 * @pid > 0; of any owner if @pid < 0) into @tids. Returns the uid count;
 * *@nr gets the workers.
 */
static int scan_tasks(long uid, pid_t pid, int *tids, int *nr)
{
	struct scan sc = { .uid = uid, .pid = pid, .tids = tids };
	int ret = for_each_task(scan_one, &sc);

	*nr = sc.nr;
	return ret < 0 ? ret : sc.n;
}

/* Uid: and Gid: of task @tid (real, effective, saved, fs) into @ids. */
static int task_ids(int tid, long ids[8])
{
	char path[64], buf[2048], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	if (read_file(path, buf, sizeof(buf)))
		return -ENOENT;
	p = strstr(buf, "\nUid:");
	if (!p || sscanf(p, "\nUid: %ld %ld %ld %ld", &ids[0], &ids[1],
			 &ids[2], &ids[3]) != 4)
		return -EINVAL;
	p = strstr(buf, "\nGid:");
	if (!p || sscanf(p, "\nGid: %ld %ld %ld %ld", &ids[4], &ids[5],
			 &ids[6], &ids[7]) != 4)
		return -EINVAL;
	return 0;
}

FIXTURE(owner) {
	struct owner_result *res;
	mode_t node_mode;
	char path[PATH_MAX];		/* the setuid file */
	char cgmnt[PATH_MAX];		/* cgroup2 mount we made, or "" */
	char cgroup[PATH_MAX];		/* the owner's cgroup, or "" */
	char max_kthreads[32];		/* parameter to restore, or "" */
};

/* A cgroup2 directory to put the owner in, mounted here if need be. */
static void cgroup_setup(FIXTURE_DATA(owner) *self)
{
	char line[1024], dev[256], dir[256], type[64];
	const char *root = NULL;
	FILE *f = fopen("/proc/self/mounts", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %255s %63s", dev, dir, type) == 3 &&
		    !strcmp(type, "cgroup2")) {
			root = dir;
			break;
		}
	}
	if (f)
		fclose(f);
	if (!root) {
		strcpy(self->cgmnt, "/tmp/vhost-blk-cg.XXXXXX");
		if (!mkdtemp(self->cgmnt) ||
		    mount("cgroup2", self->cgmnt, "cgroup2", 0, NULL)) {
			if (self->cgmnt[0])
				rmdir(self->cgmnt);
			self->cgmnt[0] = 0;
			return;
		}
		root = self->cgmnt;
	}
	/* Count pids in it where the controller is there; fine if not. */
	write_attr(root, "cgroup.subtree_control", "+pids");
	snprintf(self->cgroup, sizeof(self->cgroup), "%s/vhost-blk-owner-%d",
		 root, getpid());
	if (mkdir(self->cgroup, 0755))
		self->cgroup[0] = 0;
}

FIXTURE_SETUP(owner)
{
	struct stat st;

	self->path[0] = self->cgmnt[0] = self->cgroup[0] = 0;
	self->max_kthreads[0] = 0;
	self->res = mmap(NULL, sizeof(*self->res), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->res);
	memset(self->res, 0, sizeof(*self->res));
	if (stat(VHOST_BLK_DEV_PATH, &st))
		SKIP(return, VHOST_BLK_DEV_PATH " not present");
	if (geteuid())
		SKIP(return, "needs root to become uid %d", NOBODY);
	self->node_mode = st.st_mode & 07777;
	ASSERT_EQ(0, chmod(VHOST_BLK_DEV_PATH, 0666));
}

FIXTURE_TEARDOWN(owner)
{
	chmod(VHOST_BLK_DEV_PATH, self->node_mode);
	if (self->path[0])
		unlink(self->path);
	if (self->max_kthreads[0])
		write_attr(PARAM_DIR, "max_kthread_workers",
			   self->max_kthreads);
	if (self->cgroup[0]) {
			/* The child exited; its cgroup empties as it is reaped. */
		for (int i = 0; i < 100 && rmdir(self->cgroup); i++)
			usleep(20000);
	}
	if (self->cgmnt[0]) {
		umount(self->cgmnt);
		rmdir(self->cgmnt);
	}
}

/* Wait for the child and fail the test unless it exited 0. */
static int wait_child(pid_t pid)
{
	int wstatus;

	if (waitpid(pid, &wstatus, 0) != pid)
		return -errno;
	return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128;
}

/*
 * As uid 65534: open the setuid file read-write, attach it, write one
 * patterned block through the device; record the status and the ids of
 * the workers (the queue's, and the file's auxiliary worker).
 */
static void suid_child(struct owner_result *res, const char *path,
		       uint64_t seed)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	int tids[MAX_TIDS], ffd, st;
	struct vblk_dev *d;
	struct vblk_req *r;
	uint64_t buf;

	CHILD_CHECK(res, become_nobody());
	ffd = open(path, O_RDWR | O_CLOEXEC);
	CHILD_CHECK(res, ffd < 0 ? -errno : 0);
	o.mem_size = 4 << 20;
	CHILD_CHECK(res, vblk_dev_create(&d, &o, ffd, 0, "suid"));
	r = vblk_req_alloc(d);
	CHILD_CHECK(res, r ? 0 : -ENOMEM);
	CHILD_CHECK(res, vblk_alloc(d, 4096, 4096, &buf));
	st = write_pattern(&d->vqs[0], r, buf, 0, 4096, seed);
	CHILD_CHECK(res, st < 0 ? st : 0);
	res->status = st;
	scan_tasks(-1, getpid(), tids, &res->workers);
	for (int i = 0; i < res->workers && i < 2; i++)
		CHILD_CHECK(res, task_ids(tids[i], res->worker_ids[i]));
	vblk_dev_destroy(d);
	close(ffd);
	_exit(0);
}

/* The root-owned mode 4777 file, FILE_SIZE bytes, in /tmp. */
static int make_suid_file(FIXTURE_DATA(owner) *self)
{
	int fd;

	snprintf(self->path, sizeof(self->path), "/tmp/vhost-blk-suid.XXXXXX");
	fd = mkstemp(self->path);
	if (fd < 0) {
		self->path[0] = 0;
		return -errno;
	}
	if (ftruncate(fd, FILE_SIZE) || fchown(fd, 0, 0) ||
	    fchmod(fd, 04777)) {
		close(fd);
		return -errno;
	}
	close(fd);
	return 0;
}

TEST_F(owner, guest_write_by_unprivileged_owner_clears_setuid_bit)
{
	uint64_t seed = fresh_seed();
	uint8_t data[4096];
	struct stat st;
	pid_t pid;
	int fd;

	ASSERT_EQ(0, make_suid_file(self));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		suid_child(self->res, self->path, seed);
	ASSERT_EQ(0, wait_child(pid));
	ASSERT_EQ(0, self->res->err) TH_LOG("child failed at line %d",
					    self->res->line);
	EXPECT_EQ(VIRTIO_BLK_S_OK, self->res->status);

	/* What the guest wrote is in the file... */
	fd = open(self->path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(sizeof(data), pread(fd, data, sizeof(data), 0));
	close(fd);
	EXPECT_EQ(-1, vblk_pattern_check(data, sizeof(data), 0, seed));
	/* ...and cleared the setuid bit, as the owner's pwrite(2) does. */
	ASSERT_EQ(0, stat(self->path, &st));
	EXPECT_EQ(0777, st.st_mode & 07777)
		TH_LOG("mode %o after a write by uid %d", st.st_mode & 07777,
		       NOBODY);
	EXPECT_EQ(0, st.st_uid);
}

TEST_F(owner, worker_runs_with_unprivileged_owner_uid_and_gid)
{
	pid_t pid;

	ASSERT_EQ(0, make_suid_file(self));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		suid_child(self->res, self->path, fresh_seed());
	ASSERT_EQ(0, wait_child(pid));
	ASSERT_EQ(0, self->res->err) TH_LOG("child failed at line %d",
					    self->res->line);
	/* The queue's worker and the file's auxiliary worker. */
	ASSERT_EQ(2, self->res->workers);
	for (int w = 0; w < 2; w++) {
		for (int i = 0; i < 8; i++) {
			EXPECT_EQ(NOBODY, self->res->worker_ids[w][i])
				TH_LOG("%s field %d of worker %d is %ld",
				       i < 4 ? "Uid" : "Gid", i % 4, w,
				       self->res->worker_ids[w][i]);
		}
	}
}

/* The cgroup line of task @tid ("0::/path" on cgroup2), or "". */
static void task_cgroup(int tid, char *buf, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/cgroup", tid);
	if (read_file(path, buf, len))
		buf[0] = 0;
}

/*
 * As uid 65534 with RLIMIT_NPROC at NPROC_LIMIT: open devices and create
 * two workers on each until creation fails; then close them all.
 */
static void nproc_child(struct owner_result *res, const char *cgroup)
{
	struct rlimit rl = { NPROC_LIMIT, NPROC_LIMIT };
	char mine[256], theirs[256], buf[32], path[PATH_MAX];
	int fds[NPROC_LIMIT + 1], nfds = 0;
	int tids[MAX_TIDS], nr, ret = 0;
	unsigned int id;

	if (cgroup[0])
		CHILD_CHECK(res, write_attr(cgroup, "cgroup.procs", "0"));
	CHILD_CHECK(res, become_nobody());
	CHILD_CHECK(res, setrlimit(RLIMIT_NPROC, &rl) ? -errno : 0);
	res->tasks_before = scan_tasks(NOBODY, 0, tids, &nr);
	while (!ret && nfds < NPROC_LIMIT + 1) {
		int fd = vhost_blk_open(NULL);

		CHILD_CHECK(res, fd);
		fds[nfds++] = fd;
		CHILD_CHECK(res, vhost_blk_set_owner(fd));
		for (int i = 0; i < 2 && !ret; i++) {
			ret = vhost_blk_new_worker(fd, &id);
			if (!ret)
				res->created++;
		}
	}
	res->limit_err = ret;
	res->tasks_at_limit = scan_tasks(NOBODY, getpid(), tids, &nr);
	res->workers = nr;
	task_cgroup(getpid(), mine, sizeof(mine));
	snprintf(res->cgroup, sizeof(res->cgroup), "%s", mine);
	for (int i = 0; i < nr; i++) {
		task_cgroup(tids[i], theirs, sizeof(theirs));
		res->in_cgroup += mine[0] && !strcmp(mine, theirs);
	}
	res->pids_current = -1;
	snprintf(path, sizeof(path), "%s/pids.current", cgroup);
	if (cgroup[0] && !read_file(path, buf, sizeof(buf)))
		res->pids_current = atol(buf);

	while (nfds)
		close(fds[--nfds]);
	/* Exited workers are reaped shortly after close() returns. */
	for (int i = 0; i < 250; i++) {
		res->tasks_after = scan_tasks(NOBODY, getpid(), tids,
					      &res->workers_after);
		if (res->tasks_after == res->tasks_before &&
		    !res->workers_after)
			break;
		usleep(20000);
	}
	_exit(0);
}

TEST_F(owner, nproc_limit_bounds_workers_of_unprivileged_owner_with_eagain)
{
	pid_t pid;

	cgroup_setup(self);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		nproc_child(self->res, self->cgroup);
	ASSERT_EQ(0, wait_child(pid));
	ASSERT_EQ(0, self->res->err) TH_LOG("child failed at line %d",
					    self->res->line);
	/* The owner itself is one of its user's NPROC_LIMIT tasks. */
	ASSERT_LE(1, self->res->tasks_before);
	EXPECT_EQ(NPROC_LIMIT - self->res->tasks_before, self->res->created);
	EXPECT_EQ(-EAGAIN, self->res->limit_err);
	EXPECT_EQ(NPROC_LIMIT, self->res->tasks_at_limit);
	EXPECT_EQ(self->res->created, self->res->workers);
	/* Closing every fd ends the workers and uncharges them. */
	EXPECT_EQ(self->res->tasks_before, self->res->tasks_after);
	EXPECT_EQ(0, self->res->workers_after);
}

/*
 * As uid 65534: a device with its queue's worker, then RLIMIT_NPROC at
 * the tasks of that user, then a file backend: no auxiliary worker can be
 * made. Record what SET_BACKEND returned, the status of a write and a
 * flush, and fdinfo's aux: line.
 */
static void aux_nproc_child(struct owner_result *res, const char *path,
			    uint64_t seed)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	int tids[MAX_TIDS], ffd, st, nr, tasks;
	struct rlimit rl;
	struct vblk_dev *d;
	struct vblk_req *r;
	uint64_t buf;

	CHILD_CHECK(res, become_nobody());
	ffd = open(path, O_RDWR | O_CLOEXEC);
	CHILD_CHECK(res, ffd < 0 ? -errno : 0);
	o.mem_size = 4 << 20;
	CHILD_CHECK(res, vblk_dev_open(&d, &o));
	CHILD_CHECK(res, vblk_dev_setup(d, 0));
	CHILD_CHECK(res, vblk_vq_start(d, 0, 0));
	tasks = scan_tasks(NOBODY, getpid(), tids, &nr);
	CHILD_CHECK(res, tasks);
	CHILD_CHECK(res, nr == 1 ? 0 : -ESRCH);
	rl.rlim_cur = rl.rlim_max = tasks;
	CHILD_CHECK(res, setrlimit(RLIMIT_NPROC, &rl) ? -errno : 0);
	res->attach_err = vblk_dev_attach(d, ffd, 0, "nproc");
	CHILD_CHECK(res, res->attach_err);
	r = vblk_req_alloc(d);
	CHILD_CHECK(res, r ? 0 : -ENOMEM);
	CHILD_CHECK(res, vblk_alloc(d, 4096, 4096, &buf));
	st = write_pattern(&d->vqs[0], r, buf, 0, 4096, seed);
	CHILD_CHECK(res, st < 0 ? st : 0);
	res->status = st;
	st = do_io(&d->vqs[0], r, VIRTIO_BLK_T_FLUSH, 0, 0, 0, 0);
	CHILD_CHECK(res, st < 0 ? st : 0);
	res->flush_status = st;
	if (!fdinfo_line(d->fd, "aux:", res->aux, sizeof(res->aux)))
		res->aux[0] = 0;
	res->aux[strcspn(res->aux, "\n")] = 0;
	scan_tasks(-1, getpid(), tids, &res->workers);
	vblk_dev_destroy(d);
	close(ffd);
	_exit(0);
}

TEST_F(owner, aux_worker_past_nproc_limit_leaves_flush_to_the_queue)
{
	uint64_t seed = fresh_seed();
	uint8_t data[4096];
	pid_t pid;
	int fd;

	ASSERT_EQ(0, make_suid_file(self));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		aux_nproc_child(self->res, self->path, seed);
	ASSERT_EQ(0, wait_child(pid));
	ASSERT_EQ(0, self->res->err) TH_LOG("child failed at line %d",
					    self->res->line);
	/* The backend is set all the same, without a second worker... */
	EXPECT_EQ(0, self->res->attach_err);
	EXPECT_EQ(1, self->res->workers);
	/* ...and the queue's worker does the flush itself. */
	EXPECT_EQ(VIRTIO_BLK_S_OK, self->res->status);
	EXPECT_EQ(VIRTIO_BLK_S_OK, self->res->flush_status);
	EXPECT_STREQ("aux:\trunning=0 killed=0 queued=0 inline=1",
		     self->res->aux);
	fd = open(self->path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(sizeof(data), pread(fd, data, sizeof(data), 0));
	close(fd);
	EXPECT_EQ(-1, vblk_pattern_check(data, sizeof(data), 0, seed));
}

/*
 * As uid 65534 with RLIMIT_NPROC leaving room for one more task: set a
 * file backend first and start the queue after it, the order of the
 * vhost-user bridge (SET_OWNER, SET_BACKEND, then the rings). The one
 * task the owner may still have must be the queue's worker, which the
 * disk cannot do without; the auxiliary worker is only an optimization.
 * Record what SET_BACKEND and SET_VRING_KICK returned and the status of
 * a write and a flush.
 */
static void aux_nproc_order_child(struct owner_result *res, const char *path,
				  uint64_t seed)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	int tids[MAX_TIDS], ffd, st, nr, tasks;
	struct rlimit rl;
	struct vblk_dev *d;
	struct vblk_req *r;
	uint64_t buf;

	CHILD_CHECK(res, become_nobody());
	ffd = open(path, O_RDWR | O_CLOEXEC);
	CHILD_CHECK(res, ffd < 0 ? -errno : 0);
	o.mem_size = 4 << 20;
	CHILD_CHECK(res, vblk_dev_open(&d, &o));
	CHILD_CHECK(res, vblk_dev_setup(d, 0));
	tasks = scan_tasks(NOBODY, getpid(), tids, &nr);
	CHILD_CHECK(res, tasks);
	CHILD_CHECK(res, nr == 0 ? 0 : -EEXIST);
	rl.rlim_cur = rl.rlim_max = tasks + 1;
	CHILD_CHECK(res, setrlimit(RLIMIT_NPROC, &rl) ? -errno : 0);
	res->attach_err = vblk_dev_attach(d, ffd, 0, "nproc");
	CHILD_CHECK(res, res->attach_err);
	res->start_err = vblk_vq_start(d, 0, 0);
	CHILD_CHECK(res, res->start_err);
	r = vblk_req_alloc(d);
	CHILD_CHECK(res, r ? 0 : -ENOMEM);
	CHILD_CHECK(res, vblk_alloc(d, 4096, 4096, &buf));
	st = write_pattern(&d->vqs[0], r, buf, 0, 4096, seed);
	CHILD_CHECK(res, st < 0 ? st : 0);
	res->status = st;
	st = do_io(&d->vqs[0], r, VIRTIO_BLK_T_FLUSH, 0, 0, 0, 0);
	CHILD_CHECK(res, st < 0 ? st : 0);
	res->flush_status = st;
	scan_tasks(-1, getpid(), tids, &res->workers);
	vblk_dev_destroy(d);
	close(ffd);
	_exit(0);
}

TEST_F(owner, queue_worker_has_priority_over_aux_worker_at_nproc_limit)
{
	uint64_t seed = fresh_seed();
	pid_t pid;
	int ret;

	ASSERT_EQ(0, make_suid_file(self));
	self->res->start_err = 1;
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		aux_nproc_order_child(self->res, self->path, seed);
	ret = wait_child(pid);
	/* An owner that could serve its disk before a file backend... */
	EXPECT_EQ(0, self->res->attach_err);
	/* ...still gets its queue's worker, and the disk works. */
	EXPECT_EQ(0, self->res->start_err);
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, self->res->err) TH_LOG("child failed at line %d",
					    self->res->line);
	EXPECT_EQ(1, self->res->workers);
	EXPECT_EQ(VIRTIO_BLK_S_OK, self->res->status);
	EXPECT_EQ(VIRTIO_BLK_S_OK, self->res->flush_status);
}

/*
 * A process sharing the owner's address space (clone(CLONE_VM) without
 * CLONE_THREAD) passes the owner check: it sets the file backend, so the
 * auxiliary worker is one of its threads, then exits, which kills the
 * worker. The owner then sets the backend again: it must get a running
 * auxiliary worker of its own, not keep the dead one for good.
 */
struct sibling_arg {
	int vfd, bfd, ret;
};

static char sibling_stack[256 << 10] __attribute__((aligned(16)));

static int sibling_fn(void *p)
{
	struct sibling_arg *a = p;

	a->ret = vhost_blk_set_backend(a->vfd, a->bfd, 0, "sibling");
	/* Its threads, the auxiliary worker among them, die with it. */
	syscall(SYS_exit_group, 0);
	return 0;
}

TEST_F(owner, backend_set_again_replaces_a_killed_aux_worker)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	struct sibling_arg a;
	struct vblk_dev *d;
	struct vblk_req *r;
	char line[128];
	int ffd, st;
	pid_t pid;

	if (kthread_workers())
		SKIP(return, "kthread workers do not die with their creator");
	ASSERT_EQ(0, make_suid_file(self));
	ffd = open(self->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, ffd);
	o.mem_size = 4 << 20;
	ASSERT_EQ(0, vblk_dev_create(&d, &o, ffd, 0, "owner"));
	/* No backend: the sibling's SET_BACKEND makes the worker. */
	ASSERT_EQ(0, vblk_dev_attach(d, -1, 0, NULL));
	a.vfd = d->fd;
	a.bfd = ffd;
	a.ret = 1;
	pid = clone(sibling_fn, sibling_stack + sizeof(sibling_stack),
		    CLONE_VM | SIGCHLD, &a);
	ASSERT_LT(0, pid);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_EQ(0, a.ret);
	ASSERT_TRUE(fdinfo_line(d->fd, "aux:", line, sizeof(line)));
	TH_LOG("after the sibling exited: %s", line);
	ASSERT_EQ(0, fdinfo_counter(line, "running")) TH_LOG("%s", line);
	ASSERT_EQ(1, fdinfo_counter(line, "killed")) TH_LOG("%s", line);

	ASSERT_EQ(0, vblk_dev_attach(d, ffd, 0, "owner"));
	ASSERT_TRUE(fdinfo_line(d->fd, "aux:", line, sizeof(line)));
	EXPECT_EQ(1, fdinfo_counter(line, "running")) TH_LOG("%s", line);
	EXPECT_EQ(0, fdinfo_counter(line, "killed")) TH_LOG("%s", line);
	r = vblk_req_alloc(d);
	ASSERT_NE(NULL, r);
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  do_io(&d->vqs[0], r, VIRTIO_BLK_T_FLUSH, 0, 0, 0, 0));
	ASSERT_TRUE(fdinfo_line(d->fd, "aux:", line, sizeof(line)));
	EXPECT_EQ(1, fdinfo_counter(line, "queued")) TH_LOG("%s", line);
	EXPECT_EQ(0, fdinfo_counter(line, "inline")) TH_LOG("%s", line);
	vblk_dev_destroy(d);
	close(ffd);
}

TEST_F(owner, workers_are_in_the_owner_cgroup_and_counted_in_pids_current)
{
	pid_t pid;

	cgroup_setup(self);
	if (!self->cgroup[0])
		SKIP(return, "no cgroup2 to put the owner in");
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		nproc_child(self->res, self->cgroup);
	ASSERT_EQ(0, wait_child(pid));
	ASSERT_EQ(0, self->res->err) TH_LOG("child failed at line %d",
					    self->res->line);
	ASSERT_NE(NULL, strstr(self->res->cgroup, "/vhost-blk-owner-"))
		TH_LOG("owner's cgroup: %s", self->res->cgroup);
	ASSERT_EQ(NPROC_LIMIT - self->res->tasks_before, self->res->workers);
	EXPECT_EQ(self->res->workers, self->res->in_cgroup);
	if (self->res->pids_current < 0)
		TH_LOG("no pids controller: pids.current not checked");
	else
		EXPECT_EQ(1 + self->res->workers, self->res->pids_current);
}

TEST_F(owner, max_kthread_workers_bounds_kthread_workers_with_eagain)
{
	int tids[MAX_TIDS], nr, fd, created = 0, ret = 0, others;
	char buf[32];
	unsigned int id;

	if (!kthread_workers())
		SKIP(return, "workers are the owner's threads (vhost_task)");
	ASSERT_EQ(0, read_file(PARAM_DIR "/max_kthread_workers", buf,
			       sizeof(buf)));
	buf[strcspn(buf, "\n")] = 0;
	EXPECT_STREQ("1024", buf);
	snprintf(self->max_kthreads, sizeof(self->max_kthreads), "%s", buf);

	/* Workers of other owners, should any be left, count too. */
	scan_tasks(-1, -1, tids, &others);
	ASSERT_EQ(0, write_attr(PARAM_DIR, "max_kthread_workers", "3"));
	fd = vhost_blk_open(NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vhost_blk_set_owner(fd));
	/* Root: neither RLIMIT_NPROC nor capabilities lift this bound. */
	while (!ret && created < 32) {
		ret = vhost_blk_new_worker(fd, &id);
		if (!ret)
			created++;
	}
	EXPECT_EQ(3 - others, created);
	EXPECT_EQ(-EAGAIN, ret);
	scan_tasks(-1, getpid(), tids, &nr);
	EXPECT_EQ(created, nr);

	/* Freeing one makes room for one. */
	EXPECT_EQ(0, vhost_blk_free_worker(fd, 0));
	EXPECT_EQ(0, vhost_blk_new_worker(fd, &id));
	EXPECT_EQ(-EAGAIN, vhost_blk_new_worker(fd, &id));
	close(fd);
}

TEST_HARNESS_MAIN
