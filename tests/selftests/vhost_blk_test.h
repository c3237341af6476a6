/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the vhost-blk selftests. Include after
 * kselftest_harness.h.
 *
 * Backends, overridable from the environment:
 *   VHOST_BLK_TEST_DEV   main backend, default /dev/ram0 (brd)
 *   VHOST_BLK_TEST_DEV2  second backend, default /dev/ram1
 * Tests overwrite them. Slow and 4 KiB-sector backends are null_blk
 * devices created through configfs (nullb_get()); run_guest.sh removes
 * them at the end.
 */
#ifndef VHOST_BLK_TEST_H
#define VHOST_BLK_TEST_H

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/fs.h>

#include "vhost_blk_ctl.h"
#include "virtio_blk_drv.h"
#include "util.h"

/* Generous: the tests run under TCG. */
#define IO_TIMEOUT_MS		10000
/* How long to wait for something that must not happen. */
#define QUIET_MS		300

#define NULLB_CONFIGFS		"/sys/kernel/config/nullb"
/* 64 MiB, memory backed, every request completes after 20 ms. */
#define NULLB_SLOW		"vhost-blk-slow"
#define NULLB_SLOW_NSEC		20000000
/*
 * As NULLB_SLOW with one request at a time: a submitter waits 20 ms for
 * each request it issues after the first.
 */
#define NULLB_SLOW_QD1		"vhost-blk-slow-qd1"
/* 64 MiB, memory backed, 4096-byte logical blocks. */
#define NULLB_4K		"vhost-blk-4k"

static inline const char *test_dev(void)
{
	const char *p = getenv("VHOST_BLK_TEST_DEV");

	return p && *p ? p : "/dev/ram0";
}

static inline const char *test_dev2(void)
{
	const char *p = getenv("VHOST_BLK_TEST_DEV2");

	return p && *p ? p : "/dev/ram1";
}

/*
 * Run the calling thread on @cpu only (threads and vhost_task workers it
 * creates from now on inherit that): 0 or -errno.
 */
static inline int run_on_cpu(int cpu)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	return sched_setaffinity(0, sizeof(one), &one) ? -errno : 0;
}

/* A seed no earlier test (or run) wrote: stale data cannot match it. */
static inline uint64_t fresh_seed(void)
{
	return vblk_now_ns() ^ ((uint64_t)getpid() << 40);
}

static inline uint64_t blk_bytes(int fd)
{
	uint64_t size = 0;

	if (ioctl(fd, BLKGETSIZE64, &size))
		return 0;
	return size;
}

static inline int blk_lbs(int fd)
{
	int lbs = 0;

	if (ioctl(fd, BLKSSZGET, &lbs))
		return -errno;
	return lbs;
}

/*
 * pread/pwrite @len bytes at @off of @path with O_DIRECT (bypassing the
 * page cache, as vhost-blk does). 0 or -errno.
 */
static inline int blk_direct_io(const char *path, bool write, uint64_t off,
				void *buf, size_t len)
{
	void *bounce;
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, (write ? O_WRONLY : O_RDONLY) | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (posix_memalign(&bounce, 4096, len)) {
		close(fd);
		return -ENOMEM;
	}
	if (write) {
		memcpy(bounce, buf, len);
		n = pwrite(fd, bounce, len, off);
	} else {
		n = pread(fd, bounce, len, off);
		if (n == (ssize_t)len)
			memcpy(buf, bounce, len);
	}
	if (n < 0)
		ret = -errno;
	else if (n != (ssize_t)len)
		ret = -EIO;
	free(bounce);
	close(fd);
	return ret;
}

/* Open the attribute file @dir/@attr; the fd, or -errno. */
static inline int open_attr(const char *dir, const char *attr, int flags)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, attr) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* @dir/@attr's first line, without its newline, in @buf; 0 or -errno. */
static inline int read_attr(const char *dir, const char *attr, char *buf,
			    size_t len)
{
	ssize_t n;
	int fd;

	fd = open_attr(dir, attr, O_RDONLY);
	if (fd < 0)
		return fd;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static inline int write_attr(const char *dir, const char *attr,
			     const char *val)
{
	ssize_t n;
	int fd;

	fd = open_attr(dir, attr, O_WRONLY);
	if (fd < 0)
		return fd;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -errno;
}

/*
 * nullb_get - a null_blk device made through configfs, created on first
 * use with @attrs ("name=value" strings, NULL terminated) and powered on.
 * Writes its node to @path. 0, or -errno (-ENOENT: no configfs/null_blk).
 */
static inline int nullb_get(const char *name, const char *const *attrs,
			    char *path, size_t len)
{
	char dir[PATH_MAX], buf[32];
	int fd, ret, i;
	ssize_t n;

	snprintf(dir, sizeof(dir), "%s/%s", NULLB_CONFIGFS, name);
	if (access(NULLB_CONFIGFS, F_OK))
		return -ENOENT;
	if (mkdir(dir, 0755) == 0) {
		for (i = 0; attrs[i]; i++) {
			char a[64];
			const char *eq = strchr(attrs[i], '=');

			if (snprintf(a, sizeof(a), "%.*s", (int)(eq - attrs[i]),
				     attrs[i]) >= (int)sizeof(a))
				return -ENAMETOOLONG;
			ret = write_attr(dir, a, eq + 1);
			if (ret)
				return ret;
		}
		ret = write_attr(dir, "power", "1");
		if (ret)
			return ret;
	} else if (errno != EEXIST) {
		return -errno;
	}

	strncat(dir, "/index", sizeof(dir) - strlen(dir) - 1);
	fd = open(dir, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	/* Named after the configfs directory since Linux 6.9, else nullbN. */
	for (i = 0; i < 100; i++) {
		snprintf(path, len, "/dev/%s", name);
		if (!access(path, F_OK))
			return 0;
		snprintf(path, len, "/dev/nullb%d", atoi(buf));
		if (!access(path, F_OK))
			return 0;
		usleep(50000);
	}
	return -ENOENT;
}

static inline int nullb_slow(char *path, size_t len)
{
	static const char *const attrs[] = {
		"size=64", "blocksize=512", "memory_backed=1", "irqmode=2",
		"completion_nsec=20000000", "hw_queue_depth=1024",
		"submit_queues=1", NULL,
	};

	return nullb_get(NULLB_SLOW, attrs, path, len);
}

static inline int nullb_slow_qd1(char *path, size_t len)
{
	static const char *const attrs[] = {
		"size=64", "blocksize=512", "memory_backed=1", "irqmode=2",
		"completion_nsec=50000000", "hw_queue_depth=1",
		"submit_queues=1", NULL,
	};

	return nullb_get(NULLB_SLOW_QD1, attrs, path, len);
}

static inline int nullb_4k(char *path, size_t len)
{
	static const char *const attrs[] = {
		"size=64", "blocksize=4096", "memory_backed=1", NULL,
	};

	return nullb_get(NULLB_4K, attrs, path, len);
}

/*
 * Run one request of @type for [gpa, gpa + len) (in segments of at most
 * size_max) at @sector; the status, or -errno if it did not complete.
 */
static inline int do_io(struct vblk_vq *vq, struct vblk_req *r, uint32_t type,
			uint64_t sector, uint64_t gpa, uint32_t len,
			unsigned int flags)
{
	int ret;

	vblk_req_reset(r, type, sector);
	if (len)
		vblk_req_add_data(vq->dev, r, gpa, len);
	ret = vblk_do(vq, r, flags, IO_TIMEOUT_MS);
	return ret ? ret : r->status;
}

/* Write @len patterned bytes at @sector through @vq; the status or -errno. */
static inline int write_pattern(struct vblk_vq *vq, struct vblk_req *r,
				uint64_t gpa, uint64_t sector, uint32_t len,
				uint64_t seed)
{
	void *p = vblk_gpa_to_hva(vq->dev, gpa, len);

	if (!p)
		return -EFAULT;
	vblk_pattern_fill(p, len, sector, seed);
	return do_io(vq, r, VIRTIO_BLK_T_OUT, sector, gpa, len, 0);
}

/*
 * Read @len bytes at @sector and check the pattern: 0 if it matches, 1 if
 * not, or the failing status / -errno as a negative number.
 */
static inline int check_pattern(struct vblk_vq *vq, struct vblk_req *r,
				uint64_t gpa, uint64_t sector, uint32_t len,
				uint64_t seed)
{
	void *p = vblk_gpa_to_hva(vq->dev, gpa, len);
	int st;

	if (!p)
		return -EFAULT;
	memset(p, 0xa5, len);
	st = do_io(vq, r, VIRTIO_BLK_T_IN, sector, gpa, len, 0);
	if (st != VIRTIO_BLK_S_OK)
		return st < 0 ? st : -1000 - st;
	return vblk_pattern_check(p, len, sector, seed) == -1 ? 0 : 1;
}

/* Write @len patterned bytes at @sector of @path directly: 0 or -errno. */
static inline int disk_write_pattern(const char *path, uint64_t sector,
				     uint32_t len, uint64_t seed)
{
	void *buf = malloc(len);
	int ret;

	if (!buf)
		return -ENOMEM;
	vblk_pattern_fill(buf, len, sector, seed);
	ret = blk_direct_io(path, true, sector * 512, buf, len);
	free(buf);
	return ret;
}

/*
 * Read @len bytes at @sector of @path directly and check the pattern: 0
 * if it matches, 1 if not, -errno.
 */
static inline int disk_check_pattern(const char *path, uint64_t sector,
				     uint32_t len, uint64_t seed)
{
	void *buf = malloc(len);
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = blk_direct_io(path, false, sector * 512, buf, len);
	if (!ret)
		ret = vblk_pattern_check(buf, len, sector, seed) == -1 ? 0 : 1;
	free(buf);
	return ret;
}

/*
 * A new device with @nq queues on backend @fd does a verified 64 KiB
 * write and read through each queue.
 */
static inline void device_works(struct __test_metadata *_metadata, int fd,
				uint64_t seed, unsigned int nq)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	struct vblk_dev *d;
	struct vblk_req *r;
	uint64_t gpa;

	o.mem_size = 8 << 20;
	o.num_queues = nq;
	ASSERT_EQ(0, vblk_dev_create(&d, &o, fd, 0, NULL));
	r = vblk_req_alloc(d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(d, 65536, 4096, &gpa));
	for (unsigned int q = 0; q < nq; q++) {
		EXPECT_EQ(VIRTIO_BLK_S_OK,
			  write_pattern(&d->vqs[q], r, gpa, 1000 + 128 * q,
					65536, seed ^ 0xabc));
		EXPECT_EQ(0, check_pattern(&d->vqs[q], r, gpa, 1000 + 128 * q,
					   65536, seed ^ 0xabc));
	}
	vblk_dev_destroy(d);
}

/*
 * Is @comm (a task name, a newline may follow) a worker of owner @pid?
 * Workers are named "vhost-blk-<pid>.<n>" after the thread that started
 * them, cut to the 15 characters a task name holds.
 */
static inline bool worker_of(const char *comm, pid_t pid)
{
	char want[32];
	size_t lc = strcspn(comm, "\n"), lw;

	snprintf(want, sizeof(want), "vhost-blk-%d.", pid);
	lw = strlen(want);
	if (lc < (lw - 1 < 15 ? lw - 1 : 15))
		return false;
	return !strncmp(comm, want, lc < lw ? lc : lw);
}

/*
 * Call @fn with the /proc/P/task/T directory, the tid and the name of
 * every task of the system, threads and kernel threads alike. A non-zero
 * return of @fn ends the walk and is returned; -errno if /proc cannot be
 * read.
 */
static inline int for_each_task(int (*fn)(const char *dir, int tid,
					  const char *comm, void *arg),
				void *arg)
{
	char path[PATH_MAX], comm[64];
	struct dirent *p, *t;
	DIR *proc, *tasks;
	int ret = 0;
	FILE *f;

	proc = opendir("/proc");
	if (!proc)
		return -errno;
	while (!ret && (p = readdir(proc))) {
		if (p->d_name[0] < '0' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task", p->d_name);
		tasks = opendir(path);
		if (!tasks)
			continue;
		while (!ret && (t = readdir(tasks))) {
			if (t->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%s/task/%s/comm",
				 p->d_name, t->d_name);
			f = fopen(path, "r");
			if (!f)
				continue;
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = 0;
			fclose(f);
			path[strlen(path) - strlen("/comm")] = 0;
			ret = fn(path, atoi(t->d_name), comm, arg);
		}
		closedir(tasks);
	}
	closedir(proc);
	return ret;
}

/* VmPin of this process in KiB, or -1. */
static inline long vm_pin_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* The line of fdinfo that starts with @key, or false. */
static inline bool fdinfo_line(int fd, const char *key, char *out, size_t len)
{
	char path[64];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!found && fgets(out, len, f))
		found = !strncmp(out, key, strlen(key));
	fclose(f);
	return found;
}

/* The value of counter @key in @line, or UINT64_MAX if absent. */
static inline uint64_t fdinfo_counter(const char *line, const char *key)
{
	size_t klen = strlen(key);
	const char *p = line;

	while ((p = strstr(p, key))) {
		if ((p[-1] == ' ' || p[-1] == '\t') && p[klen] == '=')
			return strtoull(p + klen + 1, NULL, 10);
		p += klen;
	}
	return UINT64_MAX;
}

/* True when the kernel has no vhost_task: workers are kthreads. */
static inline bool kthread_workers(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return false;
	return major < 6 || (major == 6 && minor < 4);
}

/* 1 if @efd fires within @ms, 0 if not. */
static inline int efd_fired(int efd, int ms)
{
	return vblk_eventfd_wait(efd, ms);
}

/*
 * Fork; the child runs @fn and exits with its return value. Returns the
 * child's exit status, or -1 if it did not exit within @ms.
 */
static inline int run_in_child(int (*fn)(void *), void *arg, int ms)
{
	pid_t pid = fork();
	int status, i;

	if (pid < 0)
		return -1;
	if (!pid)
		_exit(fn(arg));
	for (i = 0; i < ms / 10; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/*
 * main(): skip cleanly when the module is not loaded, as on a build host.
 * -l and -h still work.
 */
#define VHOST_BLK_TEST_MAIN						\
int main(int argc, char **argv)						\
{									\
	bool listing = false;						\
									\
	for (int i = 1; i < argc; i++)					\
		if (!strcmp(argv[i], "-l") || !strcmp(argv[i], "-h"))	\
			listing = true;					\
	if (!listing && access(VHOST_BLK_DEV_PATH, F_OK)) {		\
		ksft_print_header();					\
		ksft_exit_skip("%s: %s (is vhost_blk.ko loaded?)\n",	\
			       VHOST_BLK_DEV_PATH, strerror(errno));	\
	}								\
	return test_harness_run(argc, argv);				\
}

#endif /* VHOST_BLK_TEST_H */
