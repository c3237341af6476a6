// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl_fuzz - every ioctl of /dev/vhost-blk with hostile arguments.
 *
 * A seeded loop issues a fixed number of calls, each picked at random:
 * the vhost ioctls (busy-poll timeouts among them), the dirty log
 * (VHOST_SET_LOG_BASE, VHOST_SET_LOG_FD), VHOST_BLK_SET_BACKEND,
 * VHOST_BLK_GET_CONFIG, VHOST_BLK_SET_OPTIONS, VHOST_BLK_SET_VRING_INFLIGHT,
 * VHOST_BLK_SET_CONFIG_CALL, the worker ioctls and unknown commands, with
 * arguments that are sometimes valid and often not: structs cut short by
 * an unmapped page, size
 * fields below VER0 or above the struct with zero or non-zero tails,
 * non-zero reserved fields, random numbers, NULL, unmapped and kernel
 * pointers, fds of every wrong kind (pipe, socket, /dev/null, a
 * directory, an eventfd, an O_PATH fd, a closed fd), in any order:
 * features after the vrings, memory tables while queues run, backend
 * swaps and vring changes under I/O (two queues carry real requests on
 * a slow null_blk device while the calls go on).
 *
 * Each kind of call is an entry of kinds[]: the ioctl, its weight in the
 * mix, the errnos the documentation gives it, and a small builder that
 * makes its arguments and expectation.
 *
 * A model of the device (owner, features, memory table, options, dirty
 * log, per-queue ring size, addresses, base, started, inflight region,
 * workers, backend) gives for every call
 * the results the documentation allows in that state; every errno must
 * also be one Documentation/vhost-blk.rst lists for that ioctl. Results
 * the documentation does not cover but that are reasonable (an errno for
 * a case it does not name) are tolerated and listed at the end.
 *
 * Interleaved: forked children that call in with the inherited fd (they
 * must get -EPERM), threads of the owner issuing calls concurrently
 * (only documented errnos, no hang), and at the end a check that the
 * device still serves verified I/O.
 *
 * Output: kselftest TAP, one result per property, an errno histogram
 * per ioctl and the call rate as "# " lines.
 */
#include <endian.h>
#include <getopt.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/fs.h>

#include "vhost_blk_ctl.h"
#include "virtio_blk_drv.h"
#include "fuzz_common.h"

#define NVQ		VHOST_BLK_MAX_QUEUES
#define NWORKERS	VHOST_BLK_MAX_WORKERS
#define LOADQ		2		/* queues 0 and 1 carry I/O */
#define LOAD_QSIZE	32
#define LOAD_REQS	8
#define SCRATCH_SIZE	(8UL << 20)
#define SCRATCH_GPA	0x1000000000ULL
#define RING_AREA	(64UL << 10)	/* per queue, in scratch */
#define MAX_REGIONS	64
#define IO_TIMEOUT_MS	20000
/* A dirty log covering guest-physical addresses up to 256 GiB. */
#define LOG_SIZE	(8UL << 20)
/* One queue's inflight region, room for a ring of 32768. */
#define INFL_SLOT	((VHOST_BLK_INFLIGHT_SIZE(32768) + 4095) & ~4095ULL)

typedef unsigned __int128 eset;		/* bit 0: success, bit e: -e */
#define E(x)		((eset)1 << (x))
#define OK		E(0)

/* ---- the calls ---- */

enum op {
	O_GET_FEATURES, O_SET_FEATURES, O_SET_OWNER, O_RESET_OWNER,
	O_SET_MEM_TABLE, O_SET_VRING_NUM, O_SET_VRING_ADDR, O_SET_VRING_BASE,
	O_GET_VRING_BASE, O_SET_VRING_KICK, O_SET_VRING_CALL,
	O_SET_VRING_ERR, O_NEW_WORKER, O_FREE_WORKER, O_ATTACH_WORKER,
	O_GET_WORKER, O_SET_BACKEND, O_GET_CONFIG, O_SET_BUSYLOOP,
	O_GET_BUSYLOOP, O_SET_OPTIONS, O_SET_INFLIGHT, O_SET_CONFIG_CALL,
	O_SET_LOG_BASE, O_SET_LOG_FD, O_UNKNOWN, NOPS
};

/* Top of user space: 47 or 56 bits (5-level paging). */
static uint64_t user_top;

/* Properties, one TAP result each. */
enum prop {
	P_DOC, P_STATE, P_SIZE, P_SIZE_PAGE, P_FAULT, P_FDS, P_CHILD, P_RACE,
	P_BUSY, P_OUTPUT, P_WORKS, P_NOHANG, NPROPS
};

static const char *const prop_name[NPROPS] = {
	[P_DOC] = "every errno is one the documentation lists for its ioctl",
	[P_STATE] = "every result is the one the device state calls for",
	[P_SIZE] = "sized structs: < VER0 -EINVAL, longer with non-zero tail -E2BIG, zero tail OK",
	[P_SIZE_PAGE] = "sized structs longer than a page: -E2BIG, zero tail or not (uapi)",
	[P_FAULT] = "NULL, unmapped, kernel and cut-short pointers give -EFAULT",
	[P_FDS] = "fds of the wrong kind: -EBADF, -EINVAL or -ENOTBLK, never accepted",
	[P_CHILD] = "a forked child gets -EPERM from the owner's device",
	[P_RACE] = "concurrent calls from threads of the owner: documented errnos only",
	[P_BUSY] = "under I/O: vring num/addr/base/worker, features -EBUSY; backend -EBUSY or OK",
	[P_OUTPUT] = "outputs are consistent (GET_CONFIG, GET_VRING_BASE, worker ids)",
	[P_WORKS] = "the device still serves verified I/O after the fuzzing",
	[P_NOHANG] = "nothing hangs (also: owners killed, fds closed with I/O in flight)",
};

static struct {
	uint64_t seed;
	uint64_t calls;
	const char *dev;
	bool verbose;
} cfg = {
	.seed = 1,
	.calls = 20000,
	.dev = "/dev/ram1",
};

static struct tap tap = TAP_INIT;
static uint64_t prop_fail[NPROPS];
static uint64_t ncalls, nchild_calls, nrace_calls, nresync;
static uint64_t hist[NOPS][256];
static uint64_t soft_hits[NOPS][256];
static volatile int in_child;

static const char *const prop_tag[NPROPS] = {
	"doc", "state", "size", "size>page", "fault", "fds", "child", "race",
	"busy", "output", "works", "hang",
};

#define FAIL(p, fmt, ...) do {						\
	stat_add(&prop_fail[p], 1);					\
	tap_fail_msg(&tap, "[%s] seed=%" PRIu64 " call=%" PRIu64 " " fmt,\
		     prop_tag[p], cfg.seed, stat_get(&ncalls),		\
		     ##__VA_ARGS__);					\
} while (0)

static const char *ename(int e)
{
	static __thread char buf[16];
	static const struct { int e; const char *n; } t[] = {
		{ 0, "OK" }, { EPERM, "EPERM" }, { ENOENT, "ENOENT" },
		{ EINTR, "EINTR" }, { EIO, "EIO" }, { E2BIG, "E2BIG" },
		{ EBADF, "EBADF" }, { EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" },
		{ EFAULT, "EFAULT" }, { ENOTBLK, "ENOTBLK" }, { EBUSY, "EBUSY" },
		{ ENODEV, "ENODEV" }, { EINVAL, "EINVAL" }, { ENOTTY, "ENOTTY" },
		{ ENOSPC, "ENOSPC" }, { ERANGE, "ERANGE" },
		{ EOPNOTSUPP, "EOPNOTSUPP" }, { ENOBUFS, "ENOBUFS" },
		{ ELOOP, "ELOOP" }, { ENOSYS, "ENOSYS" }, { ETXTBSY, "ETXTBSY" },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(t); i++)
		if (t[i].e == e)
			return t[i].n;
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

static void eset_str(eset s, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (int e = 0; e < 128 && n < len; e++)
		if (s & E(e))
			n += snprintf(buf + n, len - n, "%s%s", n ? "|" : "",
				      ename(e));
}

/* ---- the model ---- */

struct mvq {
	unsigned int num;
	bool addr_set;
	uint64_t desc, avail, used;
	bool started;
	bool ran;		/* started since the base was set */
	unsigned int base;
	int worker;		/* -1: none yet */
	unsigned int busyloop;	/* us, as set */
	bool load;		/* rings and config as the library set them */
	bool log_used;		/* set up with VHOST_VRING_F_LOG */
	bool log_maybe;		/* perhaps (a failed library restart) */
	uint64_t log_addr;	/* its used ring's guest-physical address */
	uint64_t infl_addr;	/* inflight region, 0: none */
	uint64_t infl_len;
};

static struct {
	bool owned;
	uint64_t features;	/* as last acked */
	bool mem_set;
	unsigned int nmem;
	struct vhost_memory_region mem[MAX_REGIONS];
	int backend;		/* index in backends[], -1: none */
	uint64_t options;	/* VHOST_BLK_OPT_F_* as last set */
	uint64_t log_base;	/* 0 or logbuf: no other base is accepted */
	struct mvq vq[NVQ];
	bool worker[NWORKERS];
	unsigned int attach[NWORKERS];
} M;

static uint64_t offered;

static bool any_started(void)
{
	for (int i = 0; i < NVQ; i++)
		if (M.vq[i].started)
			return true;
	return false;
}

static unsigned int nworkers(void)
{
	unsigned int n = 0;

	for (int i = 0; i < NWORKERS; i++)
		n += M.worker[i];
	return n;
}

static bool uaddr_in(const struct vhost_memory_region *m, unsigned int n,
		     uint64_t ua, uint64_t len)
{
	for (unsigned int i = 0; i < n; i++)
		if (ua >= m[i].userspace_addr &&
		    ua - m[i].userspace_addr < m[i].memory_size &&
		    len <= m[i].memory_size - (ua - m[i].userspace_addr))
			return true;
	return false;
}

static bool rings_in(const struct vhost_memory_region *m, unsigned int n,
		     unsigned int num, uint64_t d, uint64_t a, uint64_t u)
{
	return uaddr_in(m, n, d, 16ULL * num) &&
	       uaddr_in(m, n, a, 4 + 2ULL * (num + 1)) &&
	       uaddr_in(m, n, u, 4 + 8ULL * num + 2);
}

/* ---- resources ---- */

struct backend {
	const char *name;
	int fd;
	eset expect;		/* result of SET_BACKEND with this fd */
	bool ro;
	uint64_t size;		/* bytes */
	bool io;		/* fit for the load */
};

static struct backend backends[24];
static unsigned int nbackends;
static int efds[8];
static int pipefd[2], sockfd[2], nullfd, dirfd_, opathfd, closedfd, memfdfd;
static int procfd;
static char nullb_dir[256];
static const char tmpfile_path[] = "/tmp/vhost-blk-ioctl-fuzz.img";

static uint8_t *scratch;		/* SCRATCH_SIZE, in every sane table */
static uint8_t *logbuf;			/* LOG_SIZE: the dirty log */
static uint8_t *inflbuf;		/* NVQ inflight regions of INFL_SLOT */
static uint8_t *argbuf;			/* 3 pages + a PROT_NONE page */
static uint8_t *guard;			/* the PROT_NONE page */
static void *unmapped;			/* a page that is not mapped */

static struct vblk_dev *L;		/* library view of the device */
static int vfd;				/* the fuzzed /dev/vhost-blk fd */
static struct vblk_req *lreq[LOADQ][LOAD_REQS];
static uint64_t ldata[LOADQ][LOAD_REQS];
static uint64_t load_reqs, load_done;

static int nullb_make(char *path, size_t len)
{
	static const char *const attrs[][2] = {
		{ "size", "64" }, { "blocksize", "512" },
		{ "memory_backed", "1" }, { "irqmode", "2" },
		{ "completion_nsec", "3000000" }, { "hw_queue_depth", "256" },
		{ "power", "1" },
	};
	char p[320], buf[32];
	ssize_t n;
	int fd;

	snprintf(nullb_dir, sizeof(nullb_dir),
		 "/sys/kernel/config/nullb/vhost-blk-ioctl-fuzz");
	if (mkdir(nullb_dir, 0755) && errno != EEXIST) {
		nullb_dir[0] = 0;
		return -errno;
	}
	for (unsigned int i = 0; i < ARRAY_SIZE(attrs); i++) {
		snprintf(p, sizeof(p), "%s/%s", nullb_dir, attrs[i][0]);
		write_file(p, attrs[i][1]);
	}
	snprintf(p, sizeof(p), "%s/index", nullb_dir);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	for (int i = 0; i < 100; i++) {
		snprintf(path, len, "/dev/vhost-blk-ioctl-fuzz");
		if (!access(path, F_OK))
			return 0;
		snprintf(path, len, "/dev/nullb%d", atoi(buf));
		if (!access(path, F_OK))
			return 0;
		usleep(20000);
	}
	return -ENOENT;
}

static void nullb_remove(void)
{
	char p[320];

	if (!nullb_dir[0])
		return;
	snprintf(p, sizeof(p), "%s/power", nullb_dir);
	write_file(p, "0");
	rmdir(nullb_dir);
}

static void add_backend(const char *name, int fd, eset expect, bool ro,
			bool io)
{
	struct backend *b = &backends[nbackends++];
	struct stat st;

	b->name = name;
	b->fd = fd;
	b->expect = expect;
	b->ro = ro;
	b->io = io;
	b->size = 0;
	if (fd >= 0 && !fstat(fd, &st)) {
		if (S_ISBLK(st.st_mode))
			ioctl(fd, BLKGETSIZE64, &b->size);
		else
			b->size = st.st_size;
	}
}

static int setup_resources(void)
{
	char path[64];
	void *p;
	int fd;

	scratch = mmap(NULL, SCRATCH_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	argbuf = mmap(NULL, 4 * PAGE_SZ, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* below mmap_min_addr: never mapped */
	unmapped = (void *)0x1000;
	/* 5-level paging lets user space reach 56 bits */
	p = mmap((void *)(1ULL << 52), PAGE_SZ, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	user_top = p == MAP_FAILED ? (1ULL << 47) - PAGE_SZ :
		   (1ULL << 56) - PAGE_SZ;
	if (p != MAP_FAILED)
		munmap(p, PAGE_SZ);
	logbuf = mmap(NULL, LOG_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	inflbuf = mmap(NULL, NVQ * INFL_SLOT, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (scratch == MAP_FAILED || argbuf == MAP_FAILED ||
	    logbuf == MAP_FAILED || inflbuf == MAP_FAILED)
		return -ENOMEM;
	guard = argbuf + 3 * PAGE_SZ;
	if (mprotect(guard, PAGE_SZ, PROT_NONE))
		return -errno;

	for (unsigned int i = 0; i < ARRAY_SIZE(efds); i++) {
		efds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (efds[i] < 0)
			return -errno;
	}
	if (pipe2(pipefd, O_CLOEXEC) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockfd))
		return -errno;
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	dirfd_ = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	opathfd = open(cfg.dev, O_PATH | O_CLOEXEC);
	procfd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	memfdfd = memfd_create("vhost-blk-fuzz", MFD_CLOEXEC);
	if (nullfd < 0 || dirfd_ < 0 || opathfd < 0 || procfd < 0 ||
	    memfdfd < 0 || ftruncate(memfdfd, 8 << 20))
		return -errno;
	/* a number far above any fd this process opens */
	closedfd = dup2(nullfd, 900);
	if (closedfd < 0)
		return -errno;
	close(closedfd);

	/* backends the device must accept */
	fd = open(cfg.dev, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	add_backend(cfg.dev, fd, OK, false, true);
	fd = open(cfg.dev, O_RDONLY | O_CLOEXEC);
	add_backend("read-only block device", fd, OK, true, true);
	if (!nullb_make(path, sizeof(path))) {
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			add_backend("slow null_blk (3 ms)", fd, OK, false,
				    true);
	}
	fd = open(tmpfile_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0 && !ftruncate(fd, 16 << 20))
		add_backend("tmpfs file", fd, OK, false, true);
	fd = open(tmpfile_path, O_RDWR | O_APPEND | O_CLOEXEC);
	if (fd >= 0)
		add_backend("file opened O_APPEND", fd, E(EPERM), false,
			    false);
	fd = open(cfg.dev, O_WRONLY | O_CLOEXEC);
	if (fd >= 0)
		add_backend("write-only block device", fd, E(EBADF), false,
			    false);
	add_backend("memfd", memfdfd, OK, false, true);
	fd = open("/sys/kernel/mm/transparent_hugepage/enabled",
		  O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		add_backend("sysfs file (read-only)", fd, OK, true, false);
	/* and ones it must refuse */
	add_backend("procfs file without read_iter", procfd, E(ENOTBLK),
		    true, false);
	add_backend("pipe", pipefd[0], E(ENOTBLK), false, false);
	add_backend("socket", sockfd[0], E(ENOTBLK), false, false);
	add_backend("/dev/null", nullfd, E(ENOTBLK), false, false);
	add_backend("directory", dirfd_, E(ENOTBLK), false, false);
	add_backend("eventfd", efds[0], E(ENOTBLK), false, false);
	add_backend("O_PATH fd", opathfd, E(EBADF), false, false);
	add_backend("closed fd", closedfd, E(EBADF), false, false);
	add_backend("fd -2", -2, E(EBADF), false, false);
	add_backend("fd 1000000", 1000000, E(EBADF), false, false);
	add_backend("detach (-1)", -1, OK, false, false);
	return 0;
}

/* ---- call plumbing ---- */

struct call {
	enum op op;
	unsigned long cmd;
	void *arg;
	eset expect;		/* what the state calls for */
	eset soft;		/* undocumented but tolerated */
	enum prop cls;		/* property a wrong result fails */
	char what[200];
	/* the parsed arguments, for the model */
	uint32_t idx;
	uint64_t val;
	int fd;
	int backend;
	uint64_t a[3];
	uint64_t log_addr;	/* VHOST_SET_VRING_ADDR */
	bool worker_made;	/* a failing kick got past the worker */
	unsigned int nmem;
	struct vhost_memory_region mem[MAX_REGIONS + 8];
	bool fd_ok;		/* fd is an eventfd or -1 */
};

enum { MODE_MAIN, MODE_CHILD, MODE_RACE };

static int raw_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? errno : 0;
}

/*
 * Where a struct of @len bytes goes: normally in argbuf, sometimes a bad
 * pointer. Sets *bad to the kind (0: good).
 */
enum {
	BP_GOOD, BP_NULL, BP_UNMAPPED, BP_KERNEL, BP_NONCANON, BP_GUARD,
	BP_SHORT
};

static void *arg_ptr(struct rng *r, size_t len, int *bad, bool allow_bad)
{
	*bad = BP_GOOD;
	if (allow_bad && rng_pct(r, 6)) {
		*bad = 1 + rng_below(r, 6);
		switch (*bad) {
		case BP_NULL:
			return NULL;
		case BP_UNMAPPED:
			return (uint8_t *)unmapped + rng_below(r, 64);
		case BP_KERNEL:
			return (void *)0xffffffff81000000ULL;
		case BP_NONCANON:
			return (void *)0x8000000000000000ULL;
		case BP_GUARD:
			return guard;
		default:
			/* the struct ends in the PROT_NONE page */
			if (len < 2) {
				*bad = BP_GUARD;
				return guard;
			}
			return guard - 1 - rng_below(r, len - 1);
		}
	}
	return argbuf + 8 * rng_below(r, 64);
}

/* Bytes of a struct at @p that are readable (for a BP_SHORT pointer). */
static size_t readable(const void *p, int bad, size_t len)
{
	if (bad == BP_GOOD)
		return len;
	if (bad == BP_SHORT)
		return (const uint8_t *)guard - (const uint8_t *)p;
	return 0;
}

static void set_what(struct call *c, const char *fmt, ...)
	__printf(2, 3);
static void set_what(struct call *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->what, sizeof(c->what), fmt, ap);
	va_end(ap);
}

/* A vq index: mostly valid, the load queues often. */
static uint32_t pick_index(struct rng *r)
{
	uint32_t x = rng_below(r, 100);

	if (x < 25)
		return rng_below(r, LOADQ);
	if (x < 88)
		return rng_below(r, NVQ);
	return NVQ + (uint32_t)rng_nasty64(r) % 0x7fffffff;
}

static int pick_efd(struct rng *r, eset *expect, const char **name)
{
	uint32_t x = rng_below(r, 100);

	*expect = OK;
	*name = "eventfd";
	if (x < 75)
		return efds[1 + rng_below(r, ARRAY_SIZE(efds) - 1)];
	if (x < 82) {
		*name = "-1";
		return -1;
	}
	*expect = E(EBADF);
	if (x < 86) {
		*name = "closed fd";
		return closedfd;
	}
	if (x < 88) {
		*name = "O_PATH fd";
		return opathfd;
	}
	if (x < 90) {
		*name = "fd -7";
		return -7;
	}
	/* not an eventfd: documented only as "an eventfd" */
	*expect = E(EINVAL);
	switch (rng_below(r, 5)) {
	case 0:
		*name = "pipe";
		return pipefd[1];
	case 1:
		*name = "socket";
		return sockfd[1];
	case 2:
		*name = "/dev/null";
		return nullfd;
	case 3:
		*name = "directory";
		return dirfd_;
	default:
		*name = "the vhost-blk fd";
		return vfd;
	}
}

static uint64_t nonowner_other[NOPS][256];

/*
 * Set the expectation of @c: @pre are the errors the arguments call for
 * whoever calls, @post those of the state (or of arguments the device
 * may check after the owner); @post may include OK where either outcome
 * is right.
 */
static void expect(struct call *c, int mode, int bad, eset pre, eset post,
		   bool owner_only)
{
	if (bad) {
		c->expect = E(EFAULT);
		c->cls = P_FAULT;
		return;
	}
	if (owner_only && (mode == MODE_CHILD || !M.owned)) {
		/*
		 * "From any other address space they fail with -EPERM";
		 * the order against argument checks is not documented.
		 */
		c->expect = E(EPERM) | pre;
		if (mode == MODE_CHILD && c->cls == P_STATE)
			c->cls = P_CHILD;
		return;
	}
	if (pre)
		c->expect = pre | (post & ~OK);
	else
		c->expect = post ? post : OK;
}

static uint64_t pick_ring_addr(struct rng *r, unsigned int align)
{
	uint32_t x = rng_below(r, 100);
	uint64_t a;

	if (x < 70)
		a = (uintptr_t)scratch + rng_below(r, SCRATCH_SIZE / 2);
	else if (x < 75)
		a = (uintptr_t)L->regions[0].hva +
		    rng_below(r, L->regions[0].size);
	else if (x < 85)
		return (uintptr_t)scratch + rng_below(r, SCRATCH_SIZE);
	else
		return rng_nasty64(r);
	return a & ~(uint64_t)(align - 1);
}

/* A random memory table in @c->mem. */
static void gen_table(struct rng *r, struct call *c, eset *post)
{
	struct vblk_dev *d = L;
	uint32_t x = rng_below(r, 100);
	unsigned int n = 0;

	if (x < 60) {
		/* the library's memory, the scratch area, extra regions */
		if (x < 50 || rng_pct(r, 50))
			for (unsigned int i = 0; i < d->nregions; i++)
				c->mem[n++] = (struct vhost_memory_region){
					.guest_phys_addr = d->regions[i].gpa,
					.memory_size = d->regions[i].size,
					.userspace_addr =
						(uintptr_t)d->regions[i].hva,
				};
		if (x < 50 || n == 0)
			c->mem[n++] = (struct vhost_memory_region){
				.guest_phys_addr = SCRATCH_GPA,
				.memory_size = SCRATCH_SIZE / 2,
				.userspace_addr = (uintptr_t)scratch,
			};
		for (unsigned int k = rng_below(r, 4); k; k--) {
			uint64_t off = rng_below(r, SCRATCH_SIZE / 2) & ~4095UL;

			c->mem[n++] = (struct vhost_memory_region){
				.guest_phys_addr = 0x2000000000ULL +
					((uint64_t)rng_below(r, 64) << 24),
				.memory_size = 4096 +
					(rng_below(r, SCRATCH_SIZE / 2 - off) &
					 ~4095UL),
				.userspace_addr = (uintptr_t)scratch +
					SCRATCH_SIZE / 2 + off,
			};
			if (c->mem[n - 1].userspace_addr +
			    c->mem[n - 1].memory_size >
			    (uintptr_t)scratch + SCRATCH_SIZE)
				c->mem[n - 1].memory_size = 4096;
		}
	} else {
		/* garbage */
		n = rng_pct(r, 90) ? rng_below(r, 8) :
		    MAX_REGIONS - 1 + rng_below(r, 8);
		for (unsigned int i = 0; i < n; i++) {
			struct vhost_memory_region *m = &c->mem[i];
			uint32_t y = rng_below(r, 100);

			m->guest_phys_addr = (uint64_t)rng_below(r, 256) << 24;
			m->memory_size = 4096 * (1 + rng_below(r, 256));
			m->userspace_addr = (uintptr_t)scratch +
					    (rng_below(r, SCRATCH_SIZE -
						       m->memory_size) & ~4095UL);
			m->flags_padding = 0;
			if (y < 10)
				m->memory_size = 0;
			else if (y < 18)
				m->guest_phys_addr = UINT64_MAX -
						     rng_below(r, 4096);
			else if (y < 26)
				m->userspace_addr = UINT64_MAX -
						    rng_below(r, 4096);
			else if (y < 34)
				m->userspace_addr = 0xffff888000000000ULL;
			else if (y < 40)
				m->userspace_addr = (rng_pct(r, 50) ?
						     user_top : 0x7ffffffff000) -
						    rng_below(r, 2) * 4096;
			else if (y < 46)
				m->flags_padding = rng_next(r) | 1;
			else if (y < 52)
				m->memory_size = rng_nasty64(r);
			else if (y < 60)
				m->userspace_addr = 4096 * rng_below(r, 16);
		}
	}
	c->nmem = n;
	*post = 0;
}

/* Errors of a memory table per the documentation. */
static eset table_errors(const struct vhost_memory_region *m, unsigned int n,
			 eset *soft)
{
	struct vhost_memory_region s[MAX_REGIONS];
	eset e = 0;

	if (n > MAX_REGIONS)
		return E(E2BIG);
	for (unsigned int i = 0; i < n; i++) {
		uint64_t end;

		if (!m[i].memory_size || m[i].flags_padding)
			e |= E(EINVAL);
		else if (__builtin_add_overflow(m[i].guest_phys_addr,
						m[i].memory_size - 1, &end) ||
			 __builtin_add_overflow(m[i].userspace_addr,
						m[i].memory_size - 1, &end))
			e |= E(EINVAL);
		else if (end >= user_top + 0x10000)
			e |= E(EFAULT);
		else if (end >= user_top - 0x10000)
			*soft |= E(EFAULT) | OK;	/* the exact top */
	}
	if (e)
		return e;
	memcpy(s, m, n * sizeof(*m));
	/* sort by gpa (insertion: n is small) */
	for (unsigned int i = 1; i < n; i++)
		for (unsigned int j = i; j && s[j].guest_phys_addr <
					      s[j - 1].guest_phys_addr; j--) {
			struct vhost_memory_region t = s[j];

			s[j] = s[j - 1];
			s[j - 1] = t;
		}
	for (unsigned int i = 1; i < n; i++)
		if (s[i].guest_phys_addr - s[i - 1].guest_phys_addr <
		    s[i - 1].memory_size)
			e |= E(EINVAL);
	return e;
}

/* Starts of a queue with an inflight region, by result; acks of logging. */
static uint64_t infl_kick[256], infl_fresh, log_all_acked, log_rings;
static uint64_t infl_why[3];	/* EINVAL expected: length, header, byte */

/* Is [ua, ua + len) in memory this process mapped for pinning? */
static bool pinnable(uint64_t ua, uint64_t len)
{
	if (ua >= (uintptr_t)scratch && len <= SCRATCH_SIZE &&
	    ua - (uintptr_t)scratch <= SCRATCH_SIZE - len)
		return true;
	for (unsigned int i = 0; i < L->nregions; i++)
		if (ua >= (uintptr_t)L->regions[i].hva &&
		    len <= L->regions[i].size &&
		    ua - (uintptr_t)L->regions[i].hva <=
		    L->regions[i].size - len)
			return true;
	return false;
}

/*
 * The result of pinning every page of a table (VHOST_BLK_OPT_F_PIN_MEM):
 * OK where it lies in memory the fuzzer mapped for it, -EFAULT where a
 * region starts below mmap_min_addr (never mapped); elsewhere it depends
 * on what else happens to be mapped there, either is right.
 */
static eset table_pin_errors(const struct vhost_memory_region *m,
			     unsigned int n)
{
	eset e = 0;

	for (unsigned int i = 0; i < n; i++) {
		if (m[i].userspace_addr < 0x10000)
			return E(EFAULT);
		if (!pinnable(m[i].userspace_addr, m[i].memory_size))
			e = OK | E(EFAULT);
	}
	return e;
}

/*
 * The result of VHOST_SET_LOG_BASE(@base), base != 0, for the model's
 * table and logged used rings: the bytes the device may set must be
 * user memory. Near the top of user space either result is right.
 */
static eset log_errors(uint64_t base)
{
	uint64_t last = 0, end;

	if (base >= user_top + 0x10000)
		return E(EFAULT);
	for (unsigned int i = 0; M.mem_set && i < M.nmem; i++)
		last = MAX(last, (M.mem[i].guest_phys_addr +
				  M.mem[i].memory_size - 1) / 4096 / 8);
	for (int i = 0; i < NVQ; i++)
		if ((M.vq[i].log_used || M.vq[i].log_maybe) && M.vq[i].num)
			last = MAX(last, (M.vq[i].log_addr + 4 +
					  8ULL * M.vq[i].num + 2 - 1) /
					 4096 / 8);
	if (__builtin_add_overflow(base, last, &end) ||
	    end >= user_top + 0x10000)
		return E(EFAULT);
	if (end >= user_top - 0x10000)
		return OK | E(EFAULT);
	return 0;
}

/*
 * The result of starting queue @idx with its inflight region, from the
 * region's content now (vhost_blk_vq_start(): the claim, then the
 * checks of vhost_blk_inflight_start()).
 */
static eset inflight_start_errors(uint32_t idx, eset *soft)
{
	const struct mvq *v = &M.vq[idx];
	const struct vhost_blk_inflight_split *h;
	uint64_t need = VHOST_BLK_INFLIGHT_SIZE(v->num);

	if (!v->infl_addr)
		return 0;
	for (int i = 0; i < NVQ; i++)
		if (i != (int)idx && M.vq[i].started &&
		    M.vq[i].infl_addr == v->infl_addr)
			return E(EBUSY);
	if (v->infl_addr < (uintptr_t)inflbuf ||
	    v->infl_addr + need > (uintptr_t)inflbuf + NVQ * INFL_SLOT)
		return E(EFAULT);	/* not mapped */
	if (v->infl_len < need) {
		infl_why[0]++;
		return E(EINVAL);
	}
	h = (const void *)(uintptr_t)v->infl_addr;
	if (!h->version)
		return 0;
	if (h->version != VHOST_BLK_INFLIGHT_VERSION ||
	    h->desc_num != v->num) {
		infl_why[1]++;
		return E(EINVAL);
	}
	for (unsigned int i = 0; i < v->num; i++)
		if (h->desc[i].inflight > 1) {
			infl_why[2]++;
			return E(EINVAL);
		}
	/* finishing the last batch writes the (random) used ring */
	*soft |= E(EFAULT);
	return 0;
}

/*
 * Place an extensible struct of @ksize bytes (VER0 == sizeof) and pick
 * its size field: mostly exact, else below VER0 (-EINVAL), larger with a
 * zero tail (accepted), larger with a non-zero tail (-E2BIG), larger
 * than a page with a zero tail (-E2BIG per the uapi header) or with
 * the tail running into an unmapped page (-EFAULT). Returns the struct,
 * zeroed up to its size.
 */
static uint8_t *gen_sized(struct rng *r, struct call *c, size_t ksize,
			  uint32_t *size, eset *pre, int *bad)
{
	uint32_t x = rng_below(r, 100);
	uint8_t *p = argbuf;

	*size = ksize;
	if (x < 58) {
		p = argbuf + 8 * rng_below(r, 64);
	} else if (x < 68) {
		*size = rng_below(r, ksize);
		*pre |= E(EINVAL);
		c->cls = P_SIZE;
	} else if (x < 92) {
		*size = ksize + 1 + rng_below(r, PAGE_SZ - ksize);
		c->cls = P_SIZE;
	} else if (x < 94) {
		*size = PAGE_SZ + 1 + rng_below(r, PAGE_SZ);
		*pre |= E(E2BIG);
		c->cls = P_SIZE_PAGE;
	} else {
		/* the tail runs into the PROT_NONE page */
		p = guard - ksize - rng_below(r, 32);
		*size = (guard - p) + 1 + rng_below(r, 64);
		*bad = BP_SHORT;
		c->cls = P_SIZE;
	}
	memset(p, 0, MIN((size_t)MAX(*size, ksize), (size_t)(guard - p)));
	if (x >= 80 && x < 92) {
		/* a non-zero byte the kernel does not know */
		p[ksize + rng_below(r, *size - ksize)] = 1 + rng_below(r, 255);
		*pre |= E(E2BIG);
	}
	return p;
}

static const unsigned long known_cmds[] = {
	VHOST_GET_FEATURES, VHOST_SET_FEATURES, VHOST_SET_OWNER,
	VHOST_RESET_OWNER, VHOST_SET_MEM_TABLE, VHOST_SET_VRING_NUM,
	VHOST_SET_VRING_ADDR, VHOST_SET_VRING_BASE, VHOST_GET_VRING_BASE,
	VHOST_SET_VRING_KICK, VHOST_SET_VRING_CALL, VHOST_SET_VRING_ERR,
	VHOST_NEW_WORKER, VHOST_FREE_WORKER, VHOST_ATTACH_VRING_WORKER,
	VHOST_GET_VRING_WORKER, VHOST_BLK_SET_BACKEND, VHOST_BLK_GET_CONFIG,
	VHOST_SET_VRING_BUSYLOOP_TIMEOUT, VHOST_GET_VRING_BUSYLOOP_TIMEOUT,
	VHOST_BLK_SET_CONFIG_CALL, VHOST_SET_LOG_BASE, VHOST_SET_LOG_FD,
	VHOST_BLK_SET_OPTIONS, VHOST_BLK_SET_VRING_INFLIGHT,
};

/* vhost ioctls of other devices, and near misses of ours. */
static unsigned long unknown_cmd(struct rng *r)
{
	static const unsigned long others[] = {
		_IOW(VHOST_VIRTIO, 0x13, struct vhost_vring_state),
		_IOW(VHOST_VIRTIO, 0x14, struct vhost_vring_state),
		_IOW(VHOST_VIRTIO, 0x25, __u64),	/* SET_BACKEND_FEATURES */
		_IOR(VHOST_VIRTIO, 0x26, __u64),	/* GET_BACKEND_FEATURES */
		_IOW(VHOST_VIRTIO, 0x30, struct vhost_vring_file),
		_IOW(VHOST_VIRTIO, 0x40, int[66]),
		_IOW(VHOST_VIRTIO, 0x60, __u64),	/* VSOCK_SET_GUEST_CID */
		_IOR(VHOST_VIRTIO, 0x70, __u32),	/* VDPA_GET_DEVICE_ID */
		_IO(VHOST_VIRTIO, 0x7D),		/* VDPA_SUSPEND */
		_IOR(VHOST_VIRTIO, 0x53, struct vhost_blk_backend),
		/* the numbers of ours before they became _IO() */
		_IOW(VHOST_VIRTIO, 0x50, struct vhost_blk_backend),
		_IOWR(VHOST_VIRTIO, 0x51, struct vhost_blk_config),
		_IOW(VHOST_VIRTIO, 0x52, struct vhost_blk_options),
		_IOW(VHOST_VIRTIO, 0x53, struct vhost_blk_vring_inflight),
		_IOW(VHOST_VIRTIO, 0x5e, struct vhost_blk_backend),
		_IOWR(VHOST_VIRTIO, 0x5f, struct vhost_blk_config),
	};
	unsigned long cmd;
	bool known;

	do {
		uint32_t x = rng_below(r, 100);

		if (x < 40) {
			cmd = others[rng_below(r, ARRAY_SIZE(others))];
		} else if (x < 75) {
			/* one of ours with another size or direction */
			cmd = known_cmds[rng_below(r, ARRAY_SIZE(known_cmds))];
			cmd = _IOC(rng_below(r, 4), _IOC_TYPE(cmd),
				   _IOC_NR(cmd), rng_below(r, 128));
		} else {
			cmd = _IOC(rng_below(r, 4), VHOST_VIRTIO,
				   rng_below(r, 256), rng_below(r, 512));
		}
		known = false;
		for (unsigned int i = 0; i < ARRAY_SIZE(known_cmds); i++)
			known |= cmd == known_cmds[i];
	} while (known);
	return cmd;
}

/* VHOST_GET_FEATURES: anybody may call it. */
static void build_get_features(struct rng *r, struct call *c, int mode)
{
	int bad = 0;

	c->arg = arg_ptr(r, 8, &bad, true);
	set_what(c, "(ptr kind %d)", bad);
	expect(c, mode, bad, 0, 0, false);
}

/* VHOST_SET_FEATURES: offered bits, unknown ones, dirty logging. */
static void build_set_features(struct rng *r, struct call *c, int mode)
{
	eset pre = 0, post = 0;
	int bad = 0;
	uint32_t x = rng_below(r, 100);
	uint64_t f = offered & rng_next(r);

	if (x < 20)
		f |= 1ULL << rng_below(r, 64);
	else if (x < 30)
		f = rng_next(r);
	c->arg = arg_ptr(r, 8, &bad, true);
	if (!bad)
		memcpy(c->arg, &f, 8);
	c->val = f;
	/* RO is never offered but always accepted (the uapi header) */
	if (f & ~(offered | (1ULL << VIRTIO_BLK_F_RO)))
		pre |= E(EOPNOTSUPP);
	/* dirty logging alone may be switched under running queues */
	if (any_started() &&
	    ((f ^ M.features) & ~(1ULL << VHOST_F_LOG_ALL))) {
		post |= E(EBUSY);
		c->cls = mode == MODE_MAIN ? P_BUSY : c->cls;
	}
	/* dirty logging needs a log that covers the table */
	if (f & (1ULL << VHOST_F_LOG_ALL))
		post |= M.log_base ? log_errors(M.log_base) : E(EFAULT);
	set_what(c, "(%#" PRIx64 ", %s)", f,
		 any_started() ? "queues served" : "no queue served");
	expect(c, mode, bad, pre, post, true);
}

/* VHOST_SET_OWNER: once per device. */
static void build_set_owner(struct rng *r, struct call *c, int mode)
{
	(void)r;

	c->arg = NULL;
	set_what(c, "(%s)", M.owned || mode == MODE_CHILD ? "owned" :
		 "no owner");
	c->expect = M.owned || mode == MODE_CHILD ? E(EBUSY) : OK;
}

/* VHOST_RESET_OWNER. */
static void build_reset_owner(struct rng *r, struct call *c, int mode)
{
	(void)r;

	c->arg = NULL;
	set_what(c, "()");
	expect(c, mode, 0, 0, 0, true);
}

/* VHOST_SET_MEM_TABLE: a random table (gen_table()), at times cut short. */
static void build_set_mem_table(struct rng *r, struct call *c, int mode)
{
	eset pre = 0, post = 0;
	int bad = 0;
	struct vhost_memory *h;
	size_t len;
	eset soft = 0;

	gen_table(r, c, &post);
	len = sizeof(*h) + MIN(c->nmem, (unsigned int)MAX_REGIONS + 8) *
	      sizeof(struct vhost_memory_region);
	if (rng_pct(r, 5)) {
		/* the regions run into the PROT_NONE page */
		h = (struct vhost_memory *)(guard - sizeof(*h) -
			sizeof(struct vhost_memory_region) *
			rng_below(r, MAX(c->nmem, 1U)));
		bad = c->nmem && c->nmem <= MAX_REGIONS ? BP_SHORT : 0;
	} else {
		h = arg_ptr(r, len, &bad, true);
		if (bad == BP_SHORT) {
			h = (struct vhost_memory *)guard;
			bad = BP_GUARD;
		}
		if (!bad && (uint8_t *)h + len > guard)
			h = (struct vhost_memory *)argbuf;
	}
	if (!bad || bad == BP_SHORT) {
		h->nregions = c->nmem;
		h->padding = rng_pct(r, 4) ? 1 + rng_below(r, 1000) : 0;
		memcpy(h->regions, c->mem,
		       MIN((size_t)c->nmem * sizeof(c->mem[0]),
			   (size_t)(guard - (uint8_t *)h->regions)));
		if (h->padding)
			pre |= E(EINVAL);
	}
	if (c->nmem > MAX_REGIONS) {
		pre |= E(E2BIG);
		if (bad == BP_SHORT)
			bad = 0;
	}
	if (bad == BP_SHORT && pre) {
		/* the header is checked before the regions are read */
		bad = 0;
	}
	c->arg = h;
	if (!pre && !bad) {
		post |= table_errors(c->mem, c->nmem, &soft);
		if (!(post & ~OK)) {
			for (int i = 0; i < NVQ; i++) {
				struct mvq *v = &M.vq[i];

				if (v->started &&
				    !rings_in(c->mem, c->nmem, v->num,
					      v->desc, v->avail,
					      v->used))
					post |= E(EINVAL);
			}
		}
	}
	/* a dirty log in use must cover the table */
	if (M.features & (1ULL << VHOST_F_LOG_ALL))
		soft |= E(EFAULT);
	/* a pinned table: every page must be mapped */
	if (!pre && !bad && !(post & ~OK) &&
	    (M.options & VHOST_BLK_OPT_F_PIN_MEM))
		post |= table_pin_errors(c->mem, c->nmem);
	c->soft |= soft;
	set_what(c, "(%u regions, padding %u, ptr kind %d)", c->nmem,
		 bad ? 0 : h->padding, bad);
	expect(c, mode, bad, pre, post, true);
}

/*
 * The struct vhost_vring_state ioctls: ring size, base, busy-poll
 * timeout.
 */
static void build_vring_state(struct rng *r, struct call *c, int mode)
{
	enum op op = c->op;
	eset pre = 0, post = 0;
	int bad = 0;
	struct vhost_vring_state *st;
	bool busyloop = op == O_SET_BUSYLOOP || op == O_GET_BUSYLOOP;
	uint32_t v = 0;

	c->idx = pick_index(r);
	/* Short windows mostly: a polling worker holds its queue. */
	if (op == O_SET_BUSYLOOP)
		v = rng_pct(r, 70) ? rng_below(r, 500) :
		    rng_pct(r, 50) ? VHOST_BLK_BUSYLOOP_MAX_US - 10 +
				     rng_below(r, 20) :
		    (uint32_t)rng_nasty64(r);
	else if (op == O_SET_VRING_NUM)
		v = rng_pct(r, 65) ? 1U << rng_below(r, 16) :
		    (uint32_t)rng_nasty64(r);
	else if (op == O_SET_VRING_BASE)
		v = rng_pct(r, 80) ? rng_below(r, 65536) :
		    (uint32_t)rng_nasty64(r);
	st = arg_ptr(r, sizeof(*st), &bad, true);
	if (bad == BP_SHORT && readable(st, bad, 8) >= 4) {
		st->index = c->idx;
		if (c->idx >= NVQ)
			bad = 0, pre |= E(ENOBUFS);
	} else if (!bad) {
		st->index = c->idx;
		st->num = v;
	}
	c->arg = st;
	c->val = v;
	if (c->idx >= NVQ) {
		pre |= E(ENOBUFS);
	} else if (busyloop) {
		/* Any time, served or not; bounded. */
		if (op == O_SET_BUSYLOOP &&
		    v > VHOST_BLK_BUSYLOOP_MAX_US)
			post |= E(EINVAL);
	} else if (op != O_GET_VRING_BASE && M.vq[c->idx].started) {
		post |= E(EBUSY);
		if (op == O_SET_VRING_BASE)
			c->soft |= E(EBUSY);	/* "Not while served" */
		if (mode == MODE_MAIN && M.vq[c->idx].load)
			c->cls = P_BUSY;
	} else if (op == O_SET_VRING_NUM &&
		   (!v || v > 32768 || (v & (v - 1)))) {
		post |= E(EINVAL);
	} else if (op == O_SET_VRING_BASE && v > 0xffff) {
		post |= E(EINVAL);
		c->soft |= E(EINVAL);	/* not in the documentation */
	}
	set_what(c, "(index %u, %u, ptr kind %d, %s)", c->idx, v, bad,
		 c->idx < NVQ && M.vq[c->idx].started ? "served" :
		 "stopped");
	expect(c, mode, bad, pre, post, true);
}

/* VHOST_SET_VRING_ADDR: ring addresses in and out of the table. */
static void build_vring_addr(struct rng *r, struct call *c, int mode)
{
	eset pre = 0, post = 0;
	int bad = 0;
	struct vhost_vring_addr *a;
	uint32_t flags = 0, x = rng_below(r, 100);
	uint64_t log_addr = 0;
	struct mvq *v;

	c->idx = pick_index(r);
	if (x < 4)
		flags = 1U << VHOST_VRING_F_LOG;
	else if (x < 8)
		flags = (uint32_t)rng_next(r);
	c->a[0] = pick_ring_addr(r, 16);
	c->a[1] = pick_ring_addr(r, 2);
	c->a[2] = pick_ring_addr(r, 4);
	if (c->idx < LOADQ && rng_pct(r, 20)) {
		/* the library's rings: stays a load queue */
		c->a[0] = (uintptr_t)L->vqs[c->idx].desc;
		c->a[1] = (uintptr_t)L->vqs[c->idx].avail;
		c->a[2] = (uintptr_t)L->vqs[c->idx].used;
	}
	a = arg_ptr(r, sizeof(*a), &bad, true);
	if (bad == BP_SHORT && readable(a, bad, sizeof(*a)) >= 4) {
		a->index = c->idx;
		if (c->idx >= NVQ)
			bad = 0, pre |= E(ENOBUFS);
	} else if (!bad) {
		log_addr = rng_pct(r, 10) ? rng_next(r) : 0;
		*a = (struct vhost_vring_addr){
			.index = c->idx, .flags = flags,
			.desc_user_addr = c->a[0],
			.avail_user_addr = c->a[1],
			.used_user_addr = c->a[2],
			.log_guest_addr = log_addr,
		};
	}
	c->arg = a;
	c->val = flags;
	c->log_addr = log_addr;
	if (c->idx >= NVQ) {
		pre |= E(ENOBUFS);
	} else {
		v = &M.vq[c->idx];
		if (v->started) {
			post |= E(EBUSY);
			if (mode == MODE_MAIN && v->load)
				c->cls = P_BUSY;
			/* not in the ioctl reference */
			c->soft |= E(EBUSY);
			/* the same rings: only the logging changes */
			c->soft |= OK | E(EINVAL) | E(EOPNOTSUPP) |
				   E(EFAULT);
		} else {
			if (flags == 1U << VHOST_VRING_F_LOG) {
				/* unaligned, or no log; a log may cover it */
				c->soft |= E(EINVAL) | E(EFAULT);
				if (M.log_base)
					c->soft |= OK;
			} else if (flags)
				post |= E(EOPNOTSUPP) | E(EINVAL);
			/* log_guest_addr too, flag or not, as vhost */
			if ((c->a[0] & 15) || (c->a[1] & 1) ||
			    (c->a[2] & 3) || (log_addr & 3) || !v->num)
				post |= E(EINVAL);
			if (!(post & ~OK) &&
			    (!M.mem_set ||
			     !rings_in(M.mem, M.nmem, v->num, c->a[0],
				       c->a[1], c->a[2])))
				post |= E(EFAULT);
		}
	}
	set_what(c, "(index %u, flags %#x, %#" PRIx64 " %#" PRIx64
		 " %#" PRIx64 ", num %u, ptr kind %d)", c->idx, flags,
		 c->a[0], c->a[1], c->a[2],
		 c->idx < NVQ ? M.vq[c->idx].num : 0, bad);
	expect(c, mode, bad, pre, post, true);
}

/* VHOST_SET_VRING_KICK, _CALL, _ERR: fds of every kind. */
static void vring_file_expect(struct call *c, int mode, int bad, eset fe,
			      eset pre, const char *fdname);

static void build_vring_file(struct rng *r, struct call *c, int mode)
{
	eset pre = 0;
	int bad = 0;
	struct vhost_vring_file *f;
	const char *fdname;
	eset fe;

	c->idx = pick_index(r);
	c->fd = pick_efd(r, &fe, &fdname);
	c->fd_ok = fe == OK;
	f = arg_ptr(r, sizeof(*f), &bad, true);
	if (bad == BP_SHORT && readable(f, bad, 8) >= 4) {
		f->index = c->idx;
		if (c->idx >= NVQ)
			bad = 0, pre |= E(ENOBUFS);
	} else if (!bad) {
		f->index = c->idx;
		f->fd = c->fd;
	}
	c->arg = f;
	vring_file_expect(c, mode, bad, fe, pre, fdname);
}

/* The expectation of a vring file call whose arguments are in @c. */
static void vring_file_expect(struct call *c, int mode, int bad, eset fe,
			      eset pre, const char *fdname)
{
	enum op op = c->op;
	eset post = 0;

	if (fe != OK) {
		/* the documentation only says "an eventfd" */
		c->soft |= fe;
		if (mode != MODE_CHILD)
			c->cls = P_FDS;
	}
	if (c->idx >= NVQ) {
		pre |= E(ENOBUFS);
	} else if (fe != OK) {
		post |= fe;
	} else if (op == O_SET_VRING_KICK && c->fd != -1) {
		struct mvq *v = &M.vq[c->idx];

		if (!v->num || !v->addr_set) {
			post |= E(EINVAL);
			c->soft |= E(EINVAL);
		} else if (!M.mem_set ||
			   !rings_in(M.mem, M.nmem, v->num, v->desc,
				     v->avail, v->used)) {
			post |= E(EFAULT);
		} else if (v->worker < 0 && nworkers() >= NWORKERS) {
			post |= E(ENOSPC);
			c->soft |= E(ENOSPC);
		} else {
			post |= inflight_start_errors(c->idx, &c->soft);
			c->worker_made = v->infl_addr;
			/* a fresh region the device takes over */
			c->val = v->infl_addr && !post &&
				 !((struct vhost_blk_inflight_split *)
				   (uintptr_t)v->infl_addr)->version;
		}
		/* a logged used ring the log must still cover */
		if (v->log_used || v->log_maybe)
			c->soft |= E(EFAULT);
	}
	set_what(c, "(index %u, %s, ptr kind %d)", c->idx, fdname, bad);
	expect(c, mode, bad, pre, post, true);
}

/* VHOST_NEW_WORKER, VHOST_FREE_WORKER. */
static void build_worker_state(struct rng *r, struct call *c, int mode)
{
	enum op op = c->op;
	eset pre = 0, post = 0;
	int bad = 0;
	struct vhost_worker_state *w;
	uint32_t id = 0;

	if (op == O_FREE_WORKER) {
		id = rng_pct(r, 70) ? rng_below(r, NWORKERS) :
		     (uint32_t)rng_nasty64(r);
	}
	w = arg_ptr(r, sizeof(*w), &bad, true);
	if (bad == BP_SHORT) {
		w = (void *)guard;
		bad = BP_GUARD;
	}
	if (!bad)
		w->worker_id = op == O_NEW_WORKER ?
			       (uint32_t)rng_next(r) : id;
	c->arg = w;
	c->val = id;
	if (op == O_NEW_WORKER) {
		if (nworkers() >= NWORKERS) {
			post |= E(ENOSPC);
			c->soft |= E(ENOSPC);	/* "up to 32" */
		}
	} else if (id >= NWORKERS || !M.worker[id]) {
		post |= E(ENODEV);
	} else if (M.attach[id]) {
		post |= E(EBUSY);
	}
	set_what(c, "(id %u, ptr kind %d)", id, bad);
	expect(c, mode, bad, pre, post, true);
}

/* VHOST_ATTACH_VRING_WORKER, VHOST_GET_VRING_WORKER. */
static void build_vring_worker(struct rng *r, struct call *c, int mode)
{
	enum op op = c->op;
	eset pre = 0, post = 0;
	int bad = 0;
	struct vhost_vring_worker *w;
	uint32_t id = rng_pct(r, 80) ? rng_below(r, NWORKERS) :
		      (uint32_t)rng_nasty64(r);

	c->idx = pick_index(r);
	w = arg_ptr(r, sizeof(*w), &bad, true);
	if (bad == BP_SHORT) {
		w = (void *)guard;
		bad = BP_GUARD;
	}
	if (!bad) {
		w->index = c->idx;
		w->worker_id = id;
	}
	c->arg = w;
	c->val = id;
	if (c->idx >= NVQ) {
		post |= E(ENOBUFS);	/* checked after the owner */
	} else if (op == O_ATTACH_WORKER) {
		if (id >= NWORKERS || !M.worker[id])
			post |= E(ENODEV);
		if (M.vq[c->idx].started) {
			post |= E(EBUSY);
			if (mode == MODE_MAIN && M.vq[c->idx].load)
				c->cls = P_BUSY;
		}
	} else if (M.vq[c->idx].worker < 0 &&
		   nworkers() >= NWORKERS) {
		post |= E(ENOSPC);
		c->soft |= E(ENOSPC);
	}
	set_what(c, "(index %u, id %u, ptr kind %d)", c->idx, id, bad);
	expect(c, mode, bad, pre, post, true);
}

/* VHOST_BLK_SET_BACKEND: sized struct, backends of every kind. */
static void build_set_backend(struct rng *r, struct call *c, int mode)
{
	eset pre = 0, post = 0;
	int bad = 0;
	uint8_t *p;
	struct vhost_blk_backend *b;
	uint32_t size;
	uint64_t flags = 0;
	bool inflight = false;

	p = gen_sized(r, c, sizeof(*b), &size, &pre, &bad);
	b = (struct vhost_blk_backend *)p;
	c->backend = rng_below(r, nbackends);
	if (rng_pct(r, 10))
		flags |= VHOST_BLK_BACKEND_F_RO;
	if (rng_pct(r, 4)) {
		flags |= 1ULL << (1 + rng_below(r, 63));
		pre |= E(EOPNOTSUPP);
	}
	if ((uint8_t *)b + sizeof(*b) <= guard) {
		b->size = size;
		b->fd = backends[c->backend].fd;
		b->flags = flags;
		for (int i = 0; i < VHOST_BLK_SERIAL_LEN; i++)
			b->serial[i] = rng_next(r);
		if (rng_pct(r, 4)) {
			b->reserved[rng_below(r, 3)] = 1 +
				rng_below(r, 1000);
			pre |= E(EINVAL);
		}
	}
	if (size < VHOST_BLK_BACKEND_SIZE_VER0)
		pre = E(EINVAL);	/* nothing else is read */
	c->arg = b;
	c->val = flags;
	c->fd = backends[c->backend].fd;
	if (backends[c->backend].expect != OK) {
		pre |= backends[c->backend].expect;
		if (c->cls == P_STATE && mode != MODE_CHILD)
			c->cls = P_FDS;
	}
	for (int i = 0; i < LOADQ; i++)
		inflight |= L->vqs[i].inflight > 0;
	for (int i = 0; i < NVQ; i++)
		inflight |= M.vq[i].started && !M.vq[i].load;
	if (inflight) {
		post |= OK | E(EBUSY);
		if (c->cls == P_STATE && mode == MODE_MAIN)
			c->cls = P_BUSY;
	}
	set_what(c, "(size %u, fd %s, flags %#" PRIx64
		 ", ptr kind %d%s)", size, backends[c->backend].name,
		 flags, bad, inflight ? ", I/O in flight" : "");
	expect(c, mode, bad, pre, post, true);
}

/* VHOST_BLK_GET_CONFIG: sized struct, config buffers good and bad. */
static void build_get_config(struct rng *r, struct call *c, int mode)
{
	eset pre = 0, post = 0;
	int bad = 0;
	uint8_t *p;
	struct vhost_blk_config *g;
	uint32_t size, clen, x = rng_below(r, 100);
	uint8_t *cbuf = argbuf + 2 * PAGE_SZ;
	uint64_t cptr = (uintptr_t)cbuf;

	p = gen_sized(r, c, sizeof(*g), &size, &pre, &bad);
	g = (struct vhost_blk_config *)p;
	clen = x < 70 ? sizeof(struct virtio_blk_config) :
	       x < 80 ? 0 : x < 90 ? rng_below(r, 64) : UINT32_MAX;
	x = rng_below(r, 100);
	if (x < 4)
		cptr = 0;
	else if (x < 8)
		cptr = (uintptr_t)unmapped;
	else if (x < 10)
		cptr = (uintptr_t)guard - rng_below(r, 32);
	else if (x < 12)
		cptr = 0xffffffff81000000ULL;
	if ((uint8_t *)g + sizeof(*g) <= guard && p < cbuf) {
		g->size = size;
		g->config_len = clen;
		g->features = rng_pct(r, 10) ? rng_next(r) : 0;
		g->config_ptr = cptr;
		if (rng_pct(r, 4)) {
			g->reserved[rng_below(r, 2)] = 1 + rng_next(r) % 1000;
			pre |= E(EINVAL);
		}
	} else if (p >= cbuf) {
		/* overlapping the config buffer: keep it simple */
		g->size = size;
		g->config_len = 0;
		g->config_ptr = 0;
		clen = 0;
	}
	if (size < VHOST_BLK_CONFIG_SIZE_VER0)
		pre = E(EINVAL);
	c->arg = g;
	c->val = clen;
	c->a[0] = cptr;
	c->a[1] = size;
	if (M.backend < 0) {
		post |= E(ENODEV);
	} else {
		uint64_t n = MIN((uint64_t)clen,
				 sizeof(struct virtio_blk_config));

		if (n && !(cptr >= (uintptr_t)argbuf &&
			   cptr + n <= (uintptr_t)guard))
			post |= E(EFAULT);
	}
	if (p < cbuf && cptr == (uintptr_t)cbuf)
		memset(cbuf, 0xa5, PAGE_SZ);
	set_what(c, "(size %u, config_len %u, config_ptr %#" PRIx64
		 ", ptr kind %d)", size, clen, cptr, bad);
	expect(c, mode, bad, pre, post, true);
}

/*
 * Now and then the pointer to a sized struct is no pointer to memory at
 * all: -EFAULT before its size is read.
 */
static void *sized_bad_ptr(struct rng *r, void *p, int *bad)
{
	if (*bad || !rng_pct(r, 5))
		return p;
	*bad = 1 + rng_below(r, 5);
	switch (*bad) {
	case BP_NULL:
		return NULL;
	case BP_UNMAPPED:
		return (uint8_t *)unmapped + 8 * rng_below(r, 8);
	case BP_KERNEL:
		return (void *)0xffffffff81000000ULL;
	case BP_NONCANON:
		return (void *)0x8000000000000000ULL;
	default:
		return guard + 8 * rng_below(r, 8);
	}
}

/* VHOST_BLK_SET_OPTIONS: sized struct, flags, reserved fields. */
static void build_set_options(struct rng *r, struct call *c, int mode)
{
	eset pre = 0, post = 0;
	int bad = 0;
	struct vhost_blk_options *o;
	uint32_t size, x = rng_below(r, 100);
	uint64_t flags = 0;

	o = (struct vhost_blk_options *)gen_sized(r, c, sizeof(*o), &size,
						  &pre, &bad);
	/* a pinned table is pinned again by every SET_MEM_TABLE: slow */
	if (x < 15) {
		flags = VHOST_BLK_OPT_F_PIN_MEM;
	} else if (x < 25) {
		flags = rng_next(r) | 1ULL << (1 + rng_below(r, 63));
		pre |= E(EOPNOTSUPP);
	}
	if ((uint8_t *)o + sizeof(*o) <= guard) {
		o->size = size;
		o->flags = flags;
		x = rng_below(r, 100);
		if (x < 4) {
			o->reserved0 = 1 + rng_below(r, 1000);
			pre |= E(EINVAL);
		} else if (x < 8) {
			o->reserved[rng_below(r, 2)] = 1 + rng_next(r) % 1000;
			pre |= E(EINVAL);
		}
	}
	if (size < VHOST_BLK_OPTIONS_SIZE_VER0)
		pre = E(EINVAL);	/* nothing else is read */
	c->arg = sized_bad_ptr(r, o, &bad);
	c->val = flags;
	/* pinning the table in place: all of it must be mapped */
	if (flags != M.options && (flags & VHOST_BLK_OPT_F_PIN_MEM) &&
	    M.mem_set)
		post |= table_pin_errors(M.mem, M.nmem);
	set_what(c, "(size %u, flags %#" PRIx64 ", ptr kind %d, %s)", size,
		 flags, bad, M.mem_set ? "table set" : "no table");
	expect(c, mode, bad, pre, post, true);
}

/* Make a stopped queue's region fresh, or hostile in one way. */
static void inflight_scribble(struct rng *r, uint64_t addr, unsigned int num)
{
	struct vhost_blk_inflight_split *h = (void *)(uintptr_t)addr;
	unsigned int k = rng_below(r, num), x;

	for (int i = 0; i < NVQ; i++)
		if (M.vq[i].started && M.vq[i].infl_addr == addr)
			return;		/* the device writes it */
	x = rng_below(r, 100);
	if (x < 40) {
		memset(h, 0, sizeof(*h));
		return;
	}
	if (x < 70) {
		/* a region left by a previous owner of this ring size */
		h->version = VHOST_BLK_INFLIGHT_VERSION;
		h->desc_num = num;
		h->used_idx = rng_next(r);
		h->last_batch_head = rng_next(r);
		if (x < 55) {
			/* a chain left in flight: resubmitted at start */
			h->desc[k].inflight = 1;
			h->desc[k].counter = rng_next(r);
		}
	} else if (x < 80) {
		h->version = 2 + rng_below(r, 0xfffe);
	} else if (x < 90) {
		h->desc_num = rng_next(r);
	} else {
		h->desc[k].inflight = 2 + rng_below(r, 254);
	}
}

/*
 * VHOST_BLK_SET_VRING_INFLIGHT: a region of its own for a queue beyond
 * the load queues (whose restarts know of none), another queue's, none,
 * misaligned, kernel or unmapped addresses, lengths around the size the
 * ring needs.
 */
static void build_set_inflight(struct rng *r, struct call *c, int mode)
{
	eset pre = 0, post = 0;
	int bad = 0;
	struct vhost_blk_vring_inflight *f;
	uint32_t size, x = rng_below(r, 100);
	uint64_t addr = 0, len = 0, need;
	unsigned int num;

	f = (struct vhost_blk_vring_inflight *)gen_sized(r, c, sizeof(*f),
							 &size, &pre, &bad);
	c->idx = pick_index(r);
	/* often a queue set up to start: the region is then used */
	for (int i = LOADQ; i < NVQ && rng_pct(r, 50); i++) {
		uint32_t q = LOADQ + rng_below(r, NVQ - LOADQ);

		if (M.vq[q].num && M.vq[q].addr_set && !M.vq[q].started) {
			c->idx = q;
			break;
		}
	}
	num = c->idx < NVQ && M.vq[c->idx].num ? M.vq[c->idx].num : 256;
	need = VHOST_BLK_INFLIGHT_SIZE(num);
	if (x < 55 && c->idx >= LOADQ && c->idx < NVQ) {
		addr = (uintptr_t)inflbuf + c->idx * INFL_SLOT;
	} else if (x < 65 && c->idx >= LOADQ) {
		/* another queue's region (one in use): the claim at start */
		addr = (uintptr_t)inflbuf +
		       (LOADQ + rng_below(r, NVQ - LOADQ)) * INFL_SLOT;
		for (int i = LOADQ; i < NVQ; i++)
			if (M.vq[i].started && M.vq[i].infl_addr &&
			    rng_pct(r, 50))
				addr = M.vq[i].infl_addr;
	} else if (x < 75) {
		addr = 0;
	} else if (x < 80) {
		addr = 0;
		len = 1 + rng_below(r, 1 << 20);
	} else if (x < 86) {
		addr = (uintptr_t)inflbuf + rng_below(r, NVQ) * INFL_SLOT +
		       1 + rng_below(r, 7);
	} else if (x < 93) {
		addr = rng_pct(r, 50) ? 0xffff888000000000ULL :
		       0x8000000000000000ULL + 8 * rng_below(r, 512);
	} else {
		addr = (uintptr_t)unmapped + 8 * rng_below(r, 64);
	}
	if (addr) {
		x = rng_below(r, 100);
		if (x < 35)
			len = INFL_SLOT;	/* any ring size */
		else if (x < 70)
			len = need + 16 * rng_below(r, 64);
		else if (x < 85)
			len = need - 1 - rng_below(r, 16);
		else if (x < 95)
			len = rng_nasty64(r);
		else
			len = need;
		if (c->idx < LOADQ && !(addr & 7) && addr < user_top) {
			/* load queues restart without a region */
			addr = 0;
			len = 0;
		}
	}
	if ((uint8_t *)f + sizeof(*f) <= guard) {
		f->size = size;
		f->index = c->idx;
		f->addr = addr;
		f->len = len;
		if (rng_pct(r, 4)) {
			f->reserved[rng_below(r, 2)] = 1 + rng_next(r) % 1000;
			pre |= E(EINVAL);
		}
	}
	if (size < VHOST_BLK_VRING_INFLIGHT_SIZE_VER0) {
		pre = E(EINVAL);	/* nothing else is read */
	} else if (!(pre & (E(EINVAL) | E(E2BIG)))) {
		uint64_t end;

		/* checked before the owner */
		if (c->idx >= NVQ)
			pre |= E(ENOBUFS);
		else if (!addr && len)
			pre |= E(EINVAL);
		else if (addr && ((addr & 7) || len < 16 ||
				  __builtin_add_overflow(addr, len, &end) ||
				  end > user_top + 0x10000))
			pre |= E(EINVAL);
		else if (addr && end > user_top - 0x10000)
			post |= OK | E(EINVAL);	/* the exact top */
	}
	if (!pre && c->idx < NVQ) {
		struct mvq *v = &M.vq[c->idx];

		if (v->started) {
			post |= E(EBUSY);
		} else if (addr && v->num &&
			   len < VHOST_BLK_INFLIGHT_SIZE(v->num)) {
			post |= E(EINVAL);
		}
	}
	/* the region itself: fresh or hostile, for the next start */
	if (mode == MODE_MAIN && addr >= (uintptr_t)inflbuf &&
	    !(addr & 7) &&
	    addr < (uintptr_t)inflbuf + NVQ * INFL_SLOT && rng_pct(r, 30))
		inflight_scribble(r, addr, num);
	c->arg = sized_bad_ptr(r, f, &bad);
	c->a[0] = addr;
	c->a[1] = len;
	/* then start the queue (apply()) */
	c->a[2] = mode == MODE_MAIN && addr && rng_pct(r, 50);
	set_what(c, "(size %u, index %u, addr %#" PRIx64 ", len %#" PRIx64
		 ", ptr kind %d, %s)", size, c->idx, addr, len, bad,
		 c->idx < NVQ && M.vq[c->idx].started ? "served" : "stopped");
	expect(c, mode, bad, pre, post, true);
}

/*
 * VHOST_BLK_SET_CONFIG_CALL and VHOST_SET_LOG_FD: an int, an eventfd or
 * -1. The fd is looked at before the owner.
 */
static void build_efd_int(struct rng *r, struct call *c, int mode)
{
	eset fe;
	int bad = 0;
	const char *fdname;

	c->fd = pick_efd(r, &fe, &fdname);
	c->fd_ok = fe == OK;
	c->arg = arg_ptr(r, sizeof(int), &bad, true);
	if (!bad)
		memcpy(c->arg, &c->fd, sizeof(int));
	else if (bad == BP_SHORT)
		c->arg = guard - 1 - rng_below(r, 3);
	if (fe != OK && mode != MODE_CHILD)
		c->cls = P_FDS;
	set_what(c, "(%s, ptr kind %d)", fdname, bad);
	expect(c, mode, bad, fe == OK ? 0 : fe, 0, true);
}

/*
 * VHOST_SET_LOG_BASE: the log the fuzzer keeps (logbuf), none, kernel,
 * non-canonical addresses and ones that run off the top of user space.
 */
static void build_set_log_base(struct rng *r, struct call *c, int mode)
{
	eset post = 0;
	int bad = 0;
	uint32_t x = rng_below(r, 100);
	uint64_t base;
	bool in_use = M.features & (1ULL << VHOST_F_LOG_ALL);

	if (x < 50) {
		base = (uintptr_t)logbuf;
	} else if (x < 70) {
		base = 0;
	} else if (x < 80) {
		base = 0xffff888000000000ULL + 8 * rng_below(r, 4096);
	} else if (x < 90) {
		base = 0x8000000000000000ULL + rng_below(r, 4096);
	} else {
		/* only where the table makes it certain: never installed */
		base = user_top - 4096 * rng_below(r, 4);
		if (log_errors(base) != E(EFAULT))
			base = 0xffffffff81000000ULL;
	}
	c->arg = arg_ptr(r, 8, &bad, true);
	if (!bad)
		memcpy(c->arg, &base, 8);
	else if (bad == BP_SHORT)
		c->arg = guard - 1 - rng_below(r, 7);
	c->val = base;
	if (base) {
		post = log_errors(base);
	} else {
		bool maybe = false;

		for (int i = 0; i < NVQ; i++) {
			in_use |= M.vq[i].log_used;
			maybe |= M.vq[i].log_maybe;
		}
		if (in_use)
			post = E(EFAULT);
		else if (maybe)
			post = OK | E(EFAULT);
	}
	set_what(c, "(%#" PRIx64 ", ptr kind %d, log %s)", base, bad,
		 in_use ? "in use" : "not in use");
	expect(c, mode, bad, 0, post, true);
}

/* Commands that are no ioctl of ours: -ENOTTY, whoever calls. */
static void build_unknown(struct rng *r, struct call *c, int mode)
{
	(void)mode;

	c->cmd = unknown_cmd(r);
	c->arg = argbuf;
	c->expect = E(ENOTTY);
	set_what(c, "(cmd %#lx)", c->cmd);
}

/*
 * The kinds of calls. Each has the ioctl it issues, how often it is
 * picked, the errnos the documentation gives it and a builder that
 * makes its arguments and sets its expectation (expect()) from the
 * model. Adding a kind is a value of enum op and an entry here.
 */
struct kind {
	const char *name;
	unsigned long cmd;		/* 0: the builder picks one */
	unsigned int weight;		/* relative frequency */
	/* What Documentation/vhost-blk.rst lists for the ioctl. */
	eset doc;
	/*
	 * Errnos for constraints the documentation states without naming
	 * the errno ("Not while served", "an eventfd", "up to 32"):
	 * tolerated, and listed at the end as documentation gaps.
	 */
	eset implied;
	void (*build)(struct rng *r, struct call *c, int mode);
};

#define OWNER_ONLY	E(EPERM)
static const struct kind kinds[NOPS] = {
	[O_GET_FEATURES] = {
		"VHOST_GET_FEATURES", VHOST_GET_FEATURES, 40,
		OK | E(EFAULT), 0, build_get_features,
	},
	[O_SET_FEATURES] = {
		"VHOST_SET_FEATURES", VHOST_SET_FEATURES, 60,
		OK | E(EFAULT) | E(EOPNOTSUPP) | E(EBUSY) | OWNER_ONLY, 0,
		build_set_features,
	},
	[O_SET_OWNER] = {
		"VHOST_SET_OWNER", VHOST_SET_OWNER, 20,
		OK | E(EBUSY), 0, build_set_owner,
	},
	[O_RESET_OWNER] = {
		"VHOST_RESET_OWNER", VHOST_RESET_OWNER, 3,
		OK | OWNER_ONLY, 0, build_reset_owner,
	},
	[O_SET_MEM_TABLE] = {
		"VHOST_SET_MEM_TABLE", VHOST_SET_MEM_TABLE, 70,
		OK | E(EFAULT) | E(EINVAL) | E(E2BIG) | OWNER_ONLY, 0,
		build_set_mem_table,
	},
	[O_SET_VRING_NUM] = {
		"VHOST_SET_VRING_NUM", VHOST_SET_VRING_NUM, 90,
		OK | E(EFAULT) | E(EINVAL) | E(EBUSY) | E(ENOBUFS) |
		OWNER_ONLY, 0, build_vring_state,
	},
	[O_SET_VRING_ADDR] = {
		"VHOST_SET_VRING_ADDR", VHOST_SET_VRING_ADDR, 100,
		OK | E(EFAULT) | E(EINVAL) | E(EOPNOTSUPP) | E(ENOBUFS) |
		OWNER_ONLY, E(EBUSY), build_vring_addr,
	},
	[O_SET_VRING_BASE] = {
		"VHOST_SET_VRING_BASE", VHOST_SET_VRING_BASE, 70,
		OK | E(EFAULT) | E(ENOBUFS) | OWNER_ONLY,
		E(EBUSY) | E(EINVAL), build_vring_state,
	},
	[O_GET_VRING_BASE] = {
		"VHOST_GET_VRING_BASE", VHOST_GET_VRING_BASE, 50,
		OK | E(EFAULT) | E(ENOBUFS) | OWNER_ONLY, 0,
		build_vring_state,
	},
	[O_SET_VRING_KICK] = {
		"VHOST_SET_VRING_KICK", VHOST_SET_VRING_KICK, 60,
		/* EBUSY: an inflight region another queue holds */
		OK | E(EFAULT) | E(ENOBUFS) | E(EBUSY) | OWNER_ONLY,
		E(EBADF) | E(EINVAL) | E(ENOSPC), build_vring_file,
	},
	[O_SET_VRING_CALL] = {
		"VHOST_SET_VRING_CALL", VHOST_SET_VRING_CALL, 40,
		OK | E(EFAULT) | E(ENOBUFS) | OWNER_ONLY,
		E(EBADF) | E(EINVAL), build_vring_file,
	},
	[O_SET_VRING_ERR] = {
		"VHOST_SET_VRING_ERR", VHOST_SET_VRING_ERR, 40,
		OK | E(EFAULT) | E(ENOBUFS) | OWNER_ONLY,
		E(EBADF) | E(EINVAL), build_vring_file,
	},
	[O_NEW_WORKER] = {
		"VHOST_NEW_WORKER", VHOST_NEW_WORKER, 12,
		OK | E(EFAULT) | OWNER_ONLY, E(ENOSPC), build_worker_state,
	},
	[O_FREE_WORKER] = {
		"VHOST_FREE_WORKER", VHOST_FREE_WORKER, 25,
		OK | E(EFAULT) | E(EBUSY) | E(ENODEV) | OWNER_ONLY, 0,
		build_worker_state,
	},
	[O_ATTACH_WORKER] = {
		"VHOST_ATTACH_VRING_WORKER", VHOST_ATTACH_VRING_WORKER, 12,
		OK | E(EFAULT) | E(EBUSY) | E(ENODEV) | E(ENOBUFS) |
		OWNER_ONLY, 0, build_vring_worker,
	},
	[O_GET_WORKER] = {
		"VHOST_GET_VRING_WORKER", VHOST_GET_VRING_WORKER, 30,
		OK | E(EFAULT) | E(ENOBUFS) | OWNER_ONLY, E(ENOSPC),
		build_vring_worker,
	},
	[O_SET_BACKEND] = {
		"VHOST_BLK_SET_BACKEND", VHOST_BLK_SET_BACKEND, 80,
		/* EPERM also for an append-only file */
		OK | E(EFAULT) | E(EINVAL) | E(E2BIG) | E(EOPNOTSUPP) |
		E(EBADF) | E(ENOTBLK) | E(EBUSY) | E(ETXTBSY) | OWNER_ONLY, 0,
		build_set_backend,
	},
	[O_GET_CONFIG] = {
		"VHOST_BLK_GET_CONFIG", VHOST_BLK_GET_CONFIG, 80,
		OK | E(EFAULT) | E(EINVAL) | E(E2BIG) | E(ENODEV) |
		OWNER_ONLY, 0, build_get_config,
	},
	[O_SET_BUSYLOOP] = {
		"VHOST_SET_VRING_BUSYLOOP_TIMEOUT",
		VHOST_SET_VRING_BUSYLOOP_TIMEOUT, 20,
		OK | E(EFAULT) | E(EINVAL) | E(ENOBUFS) | OWNER_ONLY, 0,
		build_vring_state,
	},
	[O_GET_BUSYLOOP] = {
		"VHOST_GET_VRING_BUSYLOOP_TIMEOUT",
		VHOST_GET_VRING_BUSYLOOP_TIMEOUT, 20,
		OK | E(EFAULT) | E(ENOBUFS) | OWNER_ONLY, 0,
		build_vring_state,
	},
	[O_SET_OPTIONS] = {
		"VHOST_BLK_SET_OPTIONS", VHOST_BLK_SET_OPTIONS, 15,
		OK | E(EFAULT) | E(EINVAL) | E(E2BIG) | E(EOPNOTSUPP) |
		E(ENOMEM) | OWNER_ONLY, 0, build_set_options,
	},
	[O_SET_INFLIGHT] = {
		"VHOST_BLK_SET_VRING_INFLIGHT", VHOST_BLK_SET_VRING_INFLIGHT, 20,
		OK | E(EFAULT) | E(EINVAL) | E(E2BIG) | E(ENOBUFS) | E(EBUSY) |
		OWNER_ONLY, 0, build_set_inflight,
	},
	[O_SET_CONFIG_CALL] = {
		"VHOST_BLK_SET_CONFIG_CALL", VHOST_BLK_SET_CONFIG_CALL, 12,
		OK | E(EFAULT) | E(EBADF) | E(EINVAL) | OWNER_ONLY, 0,
		build_efd_int,
	},
	[O_SET_LOG_BASE] = {
		"VHOST_SET_LOG_BASE", VHOST_SET_LOG_BASE, 12,
		OK | E(EFAULT) | OWNER_ONLY, 0, build_set_log_base,
	},
	[O_SET_LOG_FD] = {
		"VHOST_SET_LOG_FD", VHOST_SET_LOG_FD, 8,
		OK | E(EFAULT) | OWNER_ONLY, E(EBADF) | E(EINVAL),
		build_efd_int,
	},
	[O_UNKNOWN] = {
		"unknown ioctl", 0, 50, E(ENOTTY), 0, build_unknown,
	},
};

/* Build a call of kind @op with random arguments and its expectation. */
static void gen(struct rng *r, enum op op, struct call *c, int mode)
{
	memset(c, 0, offsetof(struct call, mem));
	c->op = op;
	c->cls = mode == MODE_RACE ? P_RACE : P_STATE;
	c->backend = -1;
	c->cmd = kinds[op].cmd;
	kinds[op].build(r, c, mode);
}

/* Issue @c on @fd, check the result. Returns 0 or the errno. */
static int do_call(int fd, struct call *c, bool model_ok)
{
	char want[160];
	int r = raw_ioctl(fd, c->cmd, c->arg);
	int rb = r < 256 ? r : 255;

	stat_add(&ncalls, 1);
	stat_add(&hist[c->op][rb], 1);
	if (r == EINTR || r == ENOMEM) {
		stat_add(&soft_hits[c->op][rb], 1);
		return r;
	}
	if (!(kinds[c->op].doc & E(r))) {
		if ((c->soft | kinds[c->op].implied) & E(r)) {
			stat_add(&soft_hits[c->op][rb], 1);
		} else {
			FAIL(P_DOC, "%s %s -> %s: not listed for this ioctl",
			     kinds[c->op].name, c->what, ename(r));
			return r;
		}
	}
	if (model_ok && !((c->expect | c->soft) & E(r))) {
		eset_str(c->expect | c->soft, want, sizeof(want));
		FAIL(c->cls, "%s %s -> %s, want %s", kinds[c->op].name, c->what,
		     ename(r), want);
		if (c->op == O_SET_MEM_TABLE)
			for (unsigned int i = 0; i < c->nmem && i < 8; i++)
				diag("  region %u: gpa %#llx size %#llx uaddr "
				     "%#llx flags %#llx", i,
				     c->mem[i].guest_phys_addr,
				     c->mem[i].memory_size,
				     c->mem[i].userspace_addr,
				     c->mem[i].flags_padding);
	}
	return r;
}

/* ---- the model, after a call ---- */

static bool backend_ro;

static void model_reset(void)
{
	memset(&M, 0, sizeof(M));
	M.backend = -1;
	for (int i = 0; i < NVQ; i++)
		M.vq[i].worker = -1;
	for (int i = 0; i < LOADQ; i++) {
		L->vqs[i].started = false;
		for (int k = 0; k < LOAD_REQS; k++)
			lreq[i][k]->done = true;
	}
}

static void apply(struct call *c, int r);

/* The id of the default worker a queue got: ask for it. */
static void learn_worker(uint32_t idx)
{
	struct call c;
	struct vhost_vring_worker *w = (void *)argbuf;
	int r;

	memset(&c, 0, offsetof(struct call, mem));
	c.op = O_GET_WORKER;
	c.cmd = VHOST_GET_VRING_WORKER;
	c.arg = w;
	c.idx = idx;
	c.expect = OK;
	c.cls = P_OUTPUT;
	w->index = idx;
	w->worker_id = UINT32_MAX;
	set_what(&c, "(index %u, after the queue started)", idx);
	r = do_call(vfd, &c, true);
	apply(&c, r);
}

/*
 * Start queue @idx right after its inflight region was set, as a VMM
 * does: a kick picked at random mostly finds the ring size changed.
 */
static void start_with_region(uint32_t idx)
{
	struct vhost_vring_file *f = (void *)argbuf;
	struct call k;
	int r;

	memset(&k, 0, offsetof(struct call, mem));
	k.op = O_SET_VRING_KICK;
	k.cmd = VHOST_SET_VRING_KICK;
	k.cls = P_STATE;
	k.backend = -1;
	k.idx = idx;
	k.fd = efds[1];
	k.fd_ok = true;
	f->index = idx;
	f->fd = k.fd;
	k.arg = f;
	vring_file_expect(&k, MODE_MAIN, 0, OK, 0,
			  "eventfd, after SET_VRING_INFLIGHT");
	r = do_call(vfd, &k, true);
	apply(&k, r);
}

/* What the driver and the device say about a load queue that failed. */
static void load_dump(uint32_t i)
{
	struct vblk_vq *vq = &L->vqs[i];
	char path[64], line[512];
	FILE *f;

	printf("# queue %u: num %u, used idx %u, driver's last used %u\n", i,
	       vq->num, le16toh(vq->used->idx), vq->last_used);
	for (unsigned int h = 0; h < vq->num; h++) {
		if (!vq->slots[h].busy)
			continue;
		printf("#   head %u busy: %u descs, request %s\n", h,
		       vq->slots[h].ndesc, vq->slots[h].req ?
		       (vq->slots[h].req->done ? "done" : "pending") : "none");
		for (unsigned int k = 0; k < vq->num; k++)
			if (le32toh(vq->used->ring[k].id) == h)
				printf("#   head %u in used slot %u, len %u\n",
				       h, k, le32toh(vq->used->ring[k].len));
	}
	f = fopen("/sys/kernel/tracing/trace", "r");
	if (f) {
		static char last[16][512];
		unsigned int n = 0;
		char want[32];

		/* The queue's last 16 refusals. */
		snprintf(want, sizeof(want), " vq=%u ", i);
		while (fgets(line, sizeof(line), f))
			if (strstr(line, want))
				snprintf(last[n++ % 16], sizeof(last[0]), "%s",
					 line);
		fclose(f);
		for (unsigned int k = n > 16 ? n - 16 : 0; k < n; k++)
			printf("#   trace: %s", last[k % 16]);
	}
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", vfd);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "vq", 2) || !strncmp(line, "total", 5))
			printf("#   %s", line);
	fclose(f);
}

/*
 * A load queue was stopped at @base: everything it consumed must be on
 * the used ring.
 */
static void load_stopped(uint32_t i, unsigned int base)
{
	struct vblk_vq *vq = &L->vqs[i];
	uint16_t unconsumed;

	vblk_vq_reap(vq, NULL, UINT_MAX);
	unconsumed = vq->avail_idx - base;
	if (vq->inflight != unconsumed) {
		usleep(50000);
		vblk_vq_reap(vq, NULL, UINT_MAX);
		if (vq->inflight == unconsumed)
			FAIL(P_OUTPUT, "queue %u: used entries published only "
			     "after GET_VRING_BASE returned", i);
		else
			FAIL(P_OUTPUT, "queue %u stopped at base %u (avail "
			     "%u): %u chains not back, want %u", i, base,
			     vq->avail_idx, vq->inflight, unconsumed);
		load_dump(i);
	}
	vq->started = false;
}

/*
 * A SET_VRING_KICK failed on a served queue. Whether the queue is still
 * served is not documented: find out (SET_VRING_NUM with the same size
 * is refused with EBUSY only while served), count it, then stop the
 * queue for sure so the model knows where it stands.
 */
static uint64_t kick_fail_stopped, kick_fail_served;

static void kick_failed(uint32_t idx)
{
	struct vhost_vring_state st = { .index = idx, .num = M.vq[idx].num };
	int r = raw_ioctl(vfd, VHOST_SET_VRING_NUM, &st);

	if (r == EBUSY)
		kick_fail_served++;
	else if (!r)
		kick_fail_stopped++;
	st.num = 0;
	r = raw_ioctl(vfd, VHOST_GET_VRING_BASE, &st);
	if (r) {
		FAIL(P_STATE, "GET_VRING_BASE(%u) after a failed kick: %s",
		     idx, ename(r));
		return;
	}
	if (idx < LOADQ && M.vq[idx].load && M.vq[idx].started)
		load_stopped(idx, st.num);
	M.vq[idx].started = false;
	M.vq[idx].ran = false;
	M.vq[idx].base = st.num;
}

static void apply(struct call *c, int r)
{
	struct mvq *v = c->idx < NVQ ? &M.vq[c->idx] : NULL;

	switch (c->op) {
	case O_GET_FEATURES:
		if (!r && *(uint64_t *)c->arg != offered)
			FAIL(P_OUTPUT, "GET_FEATURES changed: %#" PRIx64,
			     *(uint64_t *)c->arg);
		break;
	case O_SET_OWNER:
		if (!r)
			M.owned = true;
		break;
	case O_SET_FEATURES:
		if (!r)
			M.features = c->val;
		log_all_acked += !r && (c->val & (1ULL << VHOST_F_LOG_ALL));
		break;
	case O_RESET_OWNER:
		if (!r)
			model_reset();
		break;
	case O_SET_MEM_TABLE:
		if (!r) {
			M.mem_set = true;
			M.nmem = c->nmem;
			memcpy(M.mem, c->mem, c->nmem * sizeof(c->mem[0]));
		}
		break;
	case O_SET_VRING_NUM:
		if (!r) {
			v->num = c->val;
			if (c->idx < LOADQ && c->val != L->vqs[c->idx].num)
				v->load = false;
		}
		break;
	case O_SET_VRING_ADDR:
		if (!r) {
			v->log_used = c->val & (1U << VHOST_VRING_F_LOG);
			log_rings += v->log_used;
			v->log_maybe = false;
			v->log_addr = c->log_addr;
			v->addr_set = true;
			v->desc = c->a[0];
			v->avail = c->a[1];
			v->used = c->a[2];
			if (c->idx < LOADQ &&
			    c->a[0] != (uintptr_t)L->vqs[c->idx].desc)
				v->load = false;
		}
		break;
	case O_SET_VRING_BASE:
		if (!r) {
			v->base = c->val;
			v->ran = false;
			if (c->idx < LOADQ)
				v->load = false;
		}
		break;
	case O_GET_VRING_BASE:
		if (!r) {
			unsigned int base = ((struct vhost_vring_state *)
					     c->arg)->num;

			if (!v->ran && base != v->base)
				FAIL(P_OUTPUT, "GET_VRING_BASE(%u) = %u, the "
				     "base set was %u", c->idx, base, v->base);
			if (c->idx < LOADQ && v->load && v->started)
				load_stopped(c->idx, base);
			v->started = false;
			v->ran = false;
			v->base = base;
		}
		break;
	case O_SET_BUSYLOOP:
		if (!r)
			v->busyloop = c->val;
		break;
	case O_GET_BUSYLOOP:
		if (!r && ((struct vhost_vring_state *)c->arg)->num !=
			  v->busyloop)
			FAIL(P_OUTPUT, "GET_VRING_BUSYLOOP_TIMEOUT(%u) = %u, "
			     "%u was set", c->idx,
			     ((struct vhost_vring_state *)c->arg)->num,
			     v->busyloop);
		break;
	case O_SET_VRING_KICK:
		if (!v || r == EPERM || r == ENOBUFS ||
		    (r == EFAULT && c->cls == P_FAULT))
			break;
		if (c->worker_made) {
			infl_kick[r < 256 ? r : 255]++;
			infl_fresh += !r && c->val;
		}
		if (r && v->started)
			kick_failed(c->idx);
		if (c->idx < LOADQ && v->started && v->load) {
			/* no base: settled at the next restart */
			L->vqs[c->idx].started = false;
		}
		v->started = false;
		/* the queue got its worker before the region failed it */
		if (r && c->worker_made && v->worker < 0)
			learn_worker(c->idx);
		if (!r && c->fd != -1) {
			v->started = true;
			v->ran = true;
			if (c->idx < LOADQ)
				v->load = false;
			if (v->worker < 0)
				learn_worker(c->idx);
		}
		break;
	case O_NEW_WORKER:
		if (!r) {
			uint32_t id = ((struct vhost_worker_state *)
				       c->arg)->worker_id;

			if (id >= NWORKERS || M.worker[id])
				FAIL(P_OUTPUT, "NEW_WORKER returned id %u, "
				     "in use or out of range", id);
			else
				M.worker[id] = true;
		}
		break;
	case O_FREE_WORKER:
		if (!r)
			M.worker[c->val] = false;
		break;
	case O_ATTACH_WORKER:
		if (!r) {
			if (v->worker >= 0)
				M.attach[v->worker]--;
			M.attach[c->val]++;
			v->worker = c->val;
		}
		break;
	case O_GET_WORKER:
		if (!r) {
			uint32_t id = ((struct vhost_vring_worker *)
				       c->arg)->worker_id;

			if (v->worker >= 0) {
				if (id != (uint32_t)v->worker)
					FAIL(P_OUTPUT, "GET_VRING_WORKER(%u) = "
					     "%u, attached to %d", c->idx, id,
					     v->worker);
			} else if (id >= NWORKERS || M.worker[id]) {
				FAIL(P_OUTPUT, "GET_VRING_WORKER(%u) made "
				     "worker %u, in use or out of range",
				     c->idx, id);
			} else {
				M.worker[id] = true;
				M.attach[id]++;
				v->worker = id;
			}
		}
		break;
	case O_SET_BACKEND:
		if (!r) {
			const struct backend *b = &backends[c->backend];

			M.backend = b->fd == -1 ? -1 : c->backend;
			backend_ro = b->ro || (c->val & VHOST_BLK_BACKEND_F_RO);
		}
		break;
	case O_SET_OPTIONS:
		if (!r)
			M.options = c->val;
		break;
	case O_SET_INFLIGHT:
		if (!r && v) {
			v->infl_addr = c->a[0];
			v->infl_len = c->a[0] ? c->a[1] : 0;
			if (c->a[2])
				start_with_region(c->idx);
		}
		break;
	case O_SET_LOG_BASE:
		if (!r) {
			M.log_base = c->val;
			if (!c->val)
				for (int i = 0; i < NVQ; i++)
					M.vq[i].log_maybe = false;
		}
		break;
	case O_GET_CONFIG:
		if (!r) {
			const struct vhost_blk_config *g = c->arg;
			const uint8_t *cbuf = argbuf + 2 * PAGE_SZ;
			struct virtio_blk_config vc;
			const struct backend *b = &backends[M.backend];
			uint32_t n = g->config_len;

			if (n > c->val)
				FAIL(P_OUTPUT, "GET_CONFIG wrote %u config bytes "
				     "of %" PRIu64 " asked", n, c->val);
			if (g->features & ~(offered |
					    (1ULL << VIRTIO_BLK_F_RO)))
				FAIL(P_OUTPUT, "GET_CONFIG features %#" PRIx64
				     " beyond GET_FEATURES",
				     (uint64_t)g->features);
			if (!!(g->features & (1ULL << VIRTIO_BLK_F_RO)) !=
			    backend_ro)
				FAIL(P_OUTPUT, "GET_CONFIG RO bit %d for %s "
				     "(read-only %d)", !!(g->features &
				     (1ULL << VIRTIO_BLK_F_RO)), b->name,
				     backend_ro);
			for (size_t i = sizeof(*g); i < c->a[1] &&
			     i < 2 * PAGE_SZ; i++)
				if (((const uint8_t *)g)[i]) {
					FAIL(P_OUTPUT, "GET_CONFIG wrote past "
					     "its struct (byte %zu)", i);
					break;
				}
			if (c->a[0] != (uintptr_t)cbuf ||
			    (uint8_t *)g >= cbuf)
				break;
			for (uint32_t i = n; i < n + 64 && i < PAGE_SZ; i++)
				if (cbuf[i] != 0xa5) {
					FAIL(P_OUTPUT, "GET_CONFIG wrote config "
					     "byte %u past config_len %u", i,
					     n);
					break;
				}
			memset(&vc, 0, sizeof(vc));
			memcpy(&vc, cbuf, MIN(n, (uint32_t)sizeof(vc)));
			if (n >= 8 && le64toh(vc.capacity) != b->size / 512)
				FAIL(P_OUTPUT, "GET_CONFIG capacity %" PRIu64
				     " for %s of %" PRIu64 " bytes",
				     (uint64_t)le64toh(vc.capacity), b->name,
				     b->size);
			if (n >= offsetof(struct virtio_blk_config,
					  num_queues) + 2 &&
			    le16toh(vc.num_queues) != NVQ)
				FAIL(P_OUTPUT, "GET_CONFIG num_queues %u",
				     le16toh(vc.num_queues));
			if (n >= offsetof(struct virtio_blk_config,
					  blk_size) + 4 &&
			    (le32toh(vc.size_max) != 128 * 1024 ||
			     le32toh(vc.seg_max) != 254 ||
			     le32toh(vc.blk_size) != 512))
				FAIL(P_OUTPUT, "GET_CONFIG size_max %u seg_max "
				     "%u blk_size %u", le32toh(vc.size_max),
				     le32toh(vc.seg_max),
				     le32toh(vc.blk_size));
		}
		break;
	default:
		break;
	}
}

/* ---- load: requests in flight on queues 0 and 1 ---- */

static void load_step(struct rng *r)
{
	static struct vblk_used used[LOAD_QSIZE * 4];
	int n;

	for (int i = 0; i < LOADQ; i++) {
		struct vblk_vq *vq = &L->vqs[i];
		const struct backend *b;
		uint64_t cap;
		int posted = 0;

		n = vblk_vq_reap(vq, used, ARRAY_SIZE(used));
		for (int k = 0; k < n; k++)
			load_done += used[k].valid && used[k].req;
		if (!M.owned || !M.vq[i].load || !M.vq[i].started ||
		    M.backend < 0)
			continue;
		b = &backends[M.backend];
		cap = b->size / 512;
		if (!b->io || cap < 64)
			continue;
		for (int k = 0; k < LOAD_REQS && posted < 2; k++) {
			struct vblk_req *q = lreq[i][k];
			uint32_t type = backend_ro || rng_pct(r, 50) ?
					VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;

			if ((q->head >= 0 && !q->done) || vq->num_free < 3)
				continue;
			vblk_req_reset(q, type, rng_below(r, cap - 8));
			vblk_req_add_seg(q, ldata[i][k], 4096);
			if (vblk_req_submit(vq, q, 0) >= 0) {
				posted++;
				load_reqs++;
			}
		}
		if (posted)
			vblk_vq_kick_force(vq);
	}
}

/* Serve a load queue again after the fuzzing stopped it. */
static void load_restart(uint32_t i)
{
	struct vblk_vq *vq = &L->vqs[i];
	struct mvq *v = &M.vq[i];
	unsigned int base;
	bool want;
	int ret;

	if (!M.owned || !v->load || v->started)
		return;
	if (vblk_vq_stop(vq, &base)) {
		FAIL(P_STATE, "queue %u: GET_VRING_BASE of a stopped queue "
		     "failed", i);
		return;
	}
	load_stopped(i, base);
	want = M.mem_set && rings_in(M.mem, M.nmem, vq->num,
				     (uintptr_t)vq->desc, (uintptr_t)vq->avail,
				     (uintptr_t)vq->used) &&
	       (v->worker >= 0 || nworkers() < NWORKERS);
	ret = vblk_vq_restart(vq, base);
	/* the library sets its rings up without VHOST_VRING_F_LOG */
	v->log_maybe = ret && (v->log_used || v->log_maybe);
	v->log_used = false;
	if (!ret != want)
		FAIL(P_STATE, "queue %u: restart %s (%d), the model says %s",
		     i, ret ? "failed" : "worked", ret, want ? "it works" :
		     "it fails");
	v->base = base;
	v->num = vq->num;
	v->started = !ret;
	v->ran = !ret;
	if (!ret) {
		vblk_vq_kick_force(vq);
		if (v->worker < 0)
			learn_worker(i);
	}
}

/*
 * Start over: RESET_OWNER, then the library's set-up and two load
 * queues, with a backend fit for I/O.
 */
static bool resync(struct rng *r)
{
	struct vhost_memory_region t[VBLK_MAX_REGIONS + 1];
	unsigned int n, b;
	int ret;

	stat_add(&nresync, 1);
	if (M.owned) {
		ret = raw_ioctl(vfd, VHOST_RESET_OWNER, NULL);
		if (ret)
			FAIL(P_STATE, "RESET_OWNER by the owner: %s",
			     ename(ret));
	}
	model_reset();
	ret = vblk_dev_setup(L, rng_pct(r, 30) ?
			     1ULL << VIRTIO_RING_F_EVENT_IDX : 0);
	if (ret) {
		FAIL(P_STATE, "set-up after RESET_OWNER failed: %s",
		     strerror(-ret));
		return false;
	}
	M.owned = true;
	/* what the library acked: the same set is no change under I/O */
	M.features = L->features;
	n = vblk_dev_mem_regions(L, t);
	t[n++] = (struct vhost_memory_region){
		.guest_phys_addr = SCRATCH_GPA,
		.memory_size = SCRATCH_SIZE / 2,
		.userspace_addr = (uintptr_t)scratch,
	};
	ret = vhost_blk_set_mem_table(vfd, t, n);
	if (ret) {
		FAIL(P_STATE, "memory table after RESET_OWNER: %s",
		     strerror(-ret));
		return false;
	}
	M.mem_set = true;
	M.nmem = n;
	memcpy(M.mem, t, n * sizeof(t[0]));
	do {
		b = rng_below(r, nbackends);
		if (rng_pct(r, 50) && !strncmp(backends[2].name, "slow", 4))
			b = 2;
	} while (!backends[b].io);
	ret = vblk_dev_attach(L, backends[b].fd, 0, "ioctl-fuzz");
	if (ret) {
		FAIL(P_STATE, "SET_BACKEND %s after RESET_OWNER: %s",
		     backends[b].name, strerror(-ret));
		return false;
	}
	M.backend = b;
	backend_ro = backends[b].ro;
	L->queue_size = LOAD_QSIZE;
	for (int i = 0; i < LOADQ; i++) {
		struct mvq *v = &M.vq[i];
		uint16_t base = rng_next(r);

		ret = vblk_vq_start(L, i, base);
		if (ret) {
			FAIL(P_STATE, "queue %d start after RESET_OWNER: %s",
			     i, strerror(-ret));
			return false;
		}
		*v = (struct mvq){
			.num = LOAD_QSIZE, .addr_set = true,
			.desc = (uintptr_t)L->vqs[i].desc,
			.avail = (uintptr_t)L->vqs[i].avail,
			.used = (uintptr_t)L->vqs[i].used,
			.started = true, .ran = true, .base = base,
			.worker = -1, .load = true,
		};
		learn_worker(i);
	}
	return true;
}

/* ---- the mix of calls ---- */

static enum op pick_op(struct rng *r, bool allow_reset)
{
	unsigned int total = 0, x;

	for (int i = 0; i < NOPS; i++)
		total += kinds[i].weight;
	for (;;) {
		x = rng_below(r, total);
		for (int i = 0; i < NOPS; i++) {
			if (x < kinds[i].weight) {
				if (i == O_RESET_OWNER && !allow_reset)
					break;
				return i;
			}
			x -= kinds[i].weight;
		}
	}
}

/* ---- a forked child calls in ---- */

struct child_report {
	uint64_t calls;
	uint64_t fail[NPROPS];
	uint64_t hist[NOPS][256];
};

static void child_phase(struct rng *r, unsigned int n)
{
	struct child_report *rep;
	int status, waited = 0;
	pid_t pid;

	rep = mmap(NULL, sizeof(*rep), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rep == MAP_FAILED)
		return;
	memset(rep, 0, sizeof(*rep));
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		munmap(rep, sizeof(*rep));
		return;
	}
	if (!pid) {
		uint64_t c0 = ncalls, h0[NOPS][256], f0[NPROPS];
		int own;

		in_child = 1;
		memcpy(h0, hist, sizeof(h0));
		memcpy(f0, prop_fail, sizeof(f0));
		for (unsigned int i = 0; i < n; i++) {
			struct call c;
			enum op op = pick_op(r, true);

			gen(r, op, &c, MODE_CHILD);
			if (!(c.expect & E(EPERM)) && op != O_GET_FEATURES &&
			    op != O_SET_OWNER && op != O_UNKNOWN &&
			    c.cls != P_FAULT)
				FAIL(P_CHILD, "internal: no EPERM expected");
			do_call(vfd, &c, true);
		}
		/* a device of its own, left open at exit */
		own = vhost_blk_open(NULL);
		if (own >= 0 && vhost_blk_set_owner(own))
			FAIL(P_CHILD, "a child cannot own a device of its own");
		rep->calls = ncalls - c0;
		for (int p = 0; p < NPROPS; p++)
			rep->fail[p] = prop_fail[p] - f0[p];
		for (int o = 0; o < NOPS; o++)
			for (int e = 0; e < 256; e++)
				rep->hist[o][e] = hist[o][e] - h0[o][e];
		fflush(stdout);
		_exit(0);
	}
	while (waitpid(pid, &status, WNOHANG) != pid) {
		if (++waited > 3000) {
			FAIL(P_NOHANG, "forked child stuck for 30 s");
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		usleep(10000);
	}
	nchild_calls += rep->calls;
	for (int p = 0; p < NPROPS; p++)
		prop_fail[p] += rep->fail[p];
	for (int o = 0; o < NOPS; o++)
		for (int e = 0; e < 256; e++) {
			hist[o][e] += rep->hist[o][e];
			if (e != EPERM && rep->hist[o][e] && o != O_GET_FEATURES &&
			    o != O_SET_OWNER && o != O_UNKNOWN)
				nonowner_other[o][e] += rep->hist[o][e];
		}
	munmap(rep, sizeof(*rep));
}

/* ---- threads of the owner call concurrently ---- */

struct racer {
	pthread_t t;
	struct rng rng;
	unsigned int n;
};

static void *race_thread(void *arg)
{
	struct racer *rc = arg;

	for (unsigned int i = 0; i < rc->n; i++) {
		struct call c;

		gen(&rc->rng, pick_op(&rc->rng, i % 64 == 63), &c, MODE_RACE);
		do_call(vfd, &c, false);
		stat_add(&nrace_calls, 1);
	}
	return NULL;
}

static void race_phase(struct rng *r, unsigned int nthreads, unsigned int n)
{
	struct racer rc[8];

	for (unsigned int i = 0; i < nthreads; i++) {
		rc[i].n = n;
		rng_seed(&rc[i].rng, cfg.seed, rng_next(r), i);
		pthread_create(&rc[i].t, NULL, race_thread, &rc[i]);
	}
	for (unsigned int i = 0; i < nthreads; i++)
		pthread_join(rc[i].t, NULL);
	/*
	 * The model knows nothing any more; a thread may have reset the
	 * owner: take the device again (EBUSY: it is still ours).
	 */
	raw_ioctl(vfd, VHOST_SET_OWNER, NULL);
	M.owned = true;
	resync(r);
}

/* ---- teardown with I/O in flight ---- */

static uint64_t churn_close, churn_reset, churn_kill;

/* A device of its own with requests posted on @bfd; NULL on failure. */
static struct vblk_dev *busy_device(int bfd, unsigned int nreq)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	struct vblk_dev *d;

	o.mem_size = 4 << 20;
	o.num_queues = 2;
	o.queue_size = 16;
	if (vblk_dev_create(&d, &o, bfd, 0, "churn"))
		return NULL;
	for (unsigned int i = 0; i < nreq; i++) {
		struct vblk_vq *vq = &d->vqs[i % 2];
		struct vblk_req *rq = vblk_req_alloc(d);
		uint64_t gpa;

		if (!rq || vblk_alloc(d, 4096, 4096, &gpa))
			break;
		vblk_req_reset(rq, i % 3 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT,
			       8 * i);
		vblk_req_add_seg(rq, gpa, 4096);
		if (vblk_req_submit(vq, rq, i % 4 ? 0 : VBLK_ADD_INDIRECT) < 0)
			break;
		vblk_vq_kick_force(vq);
	}
	return d;
}

/*
 * Tear devices down while their requests are in flight: close the fd,
 * RESET_OWNER, or SIGKILL the owner (a forked child). None may hang;
 * tests/vm/run.sh then checks the console and that rmmod works.
 */
static void churn(struct rng *r)
{
	int bfd = backends[0].fd, pfd[2], status;
	struct vblk_dev *d;
	pid_t pid;
	char c;

	for (unsigned int i = 0; i < nbackends; i++)
		if (!strncmp(backends[i].name, "slow", 4))
			bfd = backends[i].fd;
	d = busy_device(bfd, 8 + rng_below(r, 24));
	if (!d) {
		FAIL(P_STATE, "cannot set up a device for the teardown test");
		return;
	}
	if (rng_pct(r, 50)) {
		if (vblk_dev_reset_owner(d))
			FAIL(P_STATE, "RESET_OWNER with I/O in flight failed");
		churn_reset++;
	}
	vblk_dev_destroy(d);
	churn_close++;

	if (pipe2(pfd, O_CLOEXEC))
		return;
	fflush(stdout);
	pid = fork();
	if (!pid) {
		in_child = 1;
		d = busy_device(bfd, 32);
		if (write(pfd[1], d ? "y" : "n", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(pfd[1]);
	if (pid > 0 && read(pfd[0], &c, 1) == 1 && c == 'y') {
		usleep(rng_below(r, 3000));
		kill(pid, SIGKILL);
		for (int i = 0; waitpid(pid, &status, WNOHANG) != pid; i++) {
			if (i == 3000) {
				FAIL(P_NOHANG, "a killed owner with I/O in flight "
				     "did not exit in 30 s");
				dump_tasks();
				break;
			}
			usleep(10000);
		}
		churn_kill++;
	} else if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	close(pfd[0]);
}

/* ---- watchdog ---- */

static void print_results(double secs);

static void *watchdog(void *arg)
{
	uint64_t last = 0, stuck = 0;

	(void)arg;

	for (;;) {
		uint64_t n;

		sleep(2);
		n = stat_get(&ncalls) + stat_get(&nrace_calls);
		if (n != last || in_child) {
			last = n;
			stuck = 0;
			continue;
		}
		stuck += 2;
		if (stuck >= 90) {
			FAIL(P_NOHANG, "no call returned for %" PRIu64 " s",
			     stuck);
			dump_tasks();
			print_results(0);
			fflush(stdout);
			_exit(1);
		}
	}
	return NULL;
}

/* ---- after the fuzzing: the device must still work ---- */

static bool verified_io(struct vblk_dev *d, unsigned int nq, uint64_t seed)
{
	uint64_t gpa, cap = vblk_dev_capacity(d);
	struct vblk_req *rq = vblk_req_alloc(d);
	bool ok = rq && !vblk_alloc(d, 65536, 4096, &gpa);
	uint8_t *p = ok ? vblk_gpa_to_hva(d, gpa, 65536) : NULL;

	for (unsigned int q = 0; ok && q < nq; q++) {
		for (int i = 0; ok && i < 8; i++) {
			uint64_t sec = (cap / nq) * q + 128 * i;
			uint32_t len = 4096 << (i % 4);

			vblk_pattern_fill(p, len, sec, seed + q);
			vblk_req_reset(rq, VIRTIO_BLK_T_OUT, sec);
			vblk_req_add_seg(rq, gpa, len);
			if (vblk_do(&d->vqs[q], rq, i & 1 ? VBLK_ADD_INDIRECT :
				    0, IO_TIMEOUT_MS) || rq->status) {
				FAIL(P_WORKS, "queue %u: write at %" PRIu64
				     " failed (status %u)", q, sec, rq->status);
				ok = false;
				break;
			}
			memset(p, 0, len);
			vblk_req_reset(rq, VIRTIO_BLK_T_IN, sec);
			vblk_req_add_seg(rq, gpa, len);
			if (vblk_do(&d->vqs[q], rq, 0, IO_TIMEOUT_MS) ||
			    rq->status || rq->used_len != len + 1 ||
			    vblk_pattern_check(p, len, sec, seed + q) != -1) {
				FAIL(P_WORKS, "queue %u: read back at %" PRIu64
				     " wrong (status %u len %u)", q, sec,
				     rq->status, rq->used_len);
				ok = false;
			}
		}
	}
	return ok;
}

static bool final_check(void)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	struct vblk_dev *d2 = NULL;
	bool ok = true;
	int ret;

	/* the fuzzed device, set up again through the library */
	if (M.owned)
		raw_ioctl(vfd, VHOST_RESET_OWNER, NULL);
	model_reset();
	ret = vblk_dev_setup(L, 0);
	if (!ret)
		ret = vblk_dev_attach(L, backends[0].fd, 0, "final");
	L->queue_size = 64;
	for (unsigned int q = 0; !ret && q < 4; q++)
		ret = vblk_vq_start(L, q, q * 1000);
	if (ret) {
		FAIL(P_WORKS, "set-up of the fuzzed device failed: %s",
		     strerror(-ret));
		ok = false;
	} else {
		ok = verified_io(L, 4, cfg.seed * 7 + 1);
	}
	/* and a fresh one */
	o.num_queues = 2;
	o.mem_size = 8 << 20;
	ret = vblk_dev_create(&d2, &o, backends[0].fd, 0, "fresh");
	if (ret) {
		FAIL(P_WORKS, "a new device cannot be set up: %s",
		     strerror(-ret));
		return false;
	}
	ok &= verified_io(d2, 2, cfg.seed * 11 + 3);
	vblk_dev_destroy(d2);
	return ok;
}

/* ---- main ---- */

static double g_secs;

static void print_results(double secs)
{
	uint64_t total = stat_get(&ncalls) + nchild_calls;
	char line[600];

	if (!secs)
		secs = g_secs;
	diag("seed %" PRIu64 ": %" PRIu64 " calls (%" PRIu64 " by forked "
	     "children, %" PRIu64 " by concurrent threads) in %.1f s: %.0f "
	     "calls/s; %" PRIu64 " resets, %" PRIu64 " load requests (%"
	     PRIu64 " completed)", cfg.seed, total, nchild_calls,
	     stat_get(&nrace_calls), secs, secs ? total / secs : 0,
	     stat_get(&nresync), load_reqs, load_done);
	diag("teardown with I/O in flight: %" PRIu64 " closes (%" PRIu64
	     " after RESET_OWNER), %" PRIu64 " owners killed", churn_close,
	     churn_reset, churn_kill);
	diag("a failing SET_VRING_KICK left a served queue stopped %" PRIu64
	     " times, served %" PRIu64 " times", kick_fail_stopped,
	     kick_fail_served);
	line[0] = 0;
	for (int e = 0, n = 0; e < 256; e++)
		if (infl_kick[e])
			n += snprintf(line + n, sizeof(line) - n, " %s %" PRIu64,
				      ename(e), infl_kick[e]);
	diag("starts with an inflight region:%s (%" PRIu64 " of a fresh "
	     "region; EINVAL expected for the length %" PRIu64 ", the header "
	     "%" PRIu64 ", an inflight byte %" PRIu64 ")", line[0] ? line :
	     " none", infl_fresh, infl_why[0], infl_why[1], infl_why[2]);
	diag("dirty logging acked %" PRIu64 " times, %" PRIu64
	     " rings logged", log_all_acked, log_rings);
	diag("errno histogram:");
	for (int o = 0; o < NOPS; o++) {
		uint64_t sum = 0;
		size_t n;

		for (int e = 0; e < 256; e++)
			sum += hist[o][e];
		n = snprintf(line, sizeof(line), "  %-26s %7" PRIu64 ":",
			     kinds[o].name, sum);
		for (int e = 0; e < 256 && n < sizeof(line); e++)
			if (hist[o][e])
				n += snprintf(line + n, sizeof(line) - n,
					      " %s %" PRIu64, ename(e),
					      hist[o][e]);
		diag("%s", line);
	}
	diag("results the documentation does not name (tolerated):");
	for (int o = 0; o < NOPS; o++)
		for (int e = 0; e < 256; e++)
			if (soft_hits[o][e])
				diag("  %s -> %s: %" PRIu64, kinds[o].name,
				     ename(e), soft_hits[o][e]);
	diag("non-owner got an argument error instead of EPERM:");
	for (int o = 0; o < NOPS; o++)
		for (int e = 0; e < 256; e++)
			if (nonowner_other[o][e])
				diag("  %s -> %s: %" PRIu64, kinds[o].name,
				     ename(e), nonowner_other[o][e]);
	if (tap.fail_dropped)
		diag("%lu more failure messages not shown", tap.fail_dropped);
	for (int p = 0; p < NPROPS; p++)
		tap_result(&tap, !prop_fail[p], "%s%s", prop_name[p],
			   prop_fail[p] ? " (see FAIL lines)" : "");
}

static void usage(const char *prog, int rc)
{
	fprintf(rc ? stderr : stdout,
		"usage: %s [--seed N] [--calls N] [--dev PATH] [--verbose]\n"
		"  --calls N   ioctl calls to make (default 20000)\n"
		"  --dev PATH  block device for the backends (default /dev/ram1)\n",
		prog);
	exit(rc);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "calls", required_argument, NULL, 'n' },
		{ "dev", required_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	uint64_t t0, next_child, next_race, next_diag, next_churn;
	uint64_t since_resync = 0;
	struct rng r;
	pthread_t wd;
	int c, ret;

	while ((c = getopt_long(argc, argv, "s:n:d:vh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_u64(optarg, &cfg.seed))
				usage(argv[0], 2);
			break;
		case 'n':
			if (parse_u64(optarg, &cfg.calls))
				usage(argv[0], 2);
			break;
		case 'd':
			cfg.dev = optarg;
			break;
		case 'v':
			cfg.verbose = true;
			break;
		case 'h':
			usage(argv[0], 0);
			break;
		default:
			usage(argv[0], 2);
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (access(VHOST_BLK_DEV_PATH, F_OK)) {
		printf("TAP version 13\n1..0 # SKIP %s: %s\n",
		       VHOST_BLK_DEV_PATH, strerror(errno));
		return 4;
	}
	tap_header(NPROPS + 1);
	rng_seed(&r, cfg.seed, 0, 0);

	o.mem_size = 16 << 20;
	o.num_queues = 0;
	o.queue_size = LOAD_QSIZE;
	ret = vblk_dev_open(&L, &o);
	if (!ret)
		ret = setup_resources();
	if (!ret) {
		vfd = L->fd;
		for (int i = 0; i < LOADQ && !ret; i++)
			for (int k = 0; k < LOAD_REQS && !ret; k++) {
				lreq[i][k] = vblk_req_alloc(L);
				if (!lreq[i][k] ||
				    vblk_alloc(L, 4096, 4096, &ldata[i][k]))
					ret = -ENOMEM;
			}
	}
	if (!ret && raw_ioctl(vfd, VHOST_GET_FEATURES, &offered))
		ret = -EIO;
	if (!ret) {
		model_reset();
		ret = resync(&r) ? 0 : -EIO;
	}
	tap_result(&tap, !ret, "setup: /dev/vhost-blk, %u backends on %s",
		   nbackends, cfg.dev);
	if (ret) {
		diag("setup failed: %s", strerror(-ret));
		nullb_remove();
		return 1;
	}
	for (unsigned int i = 0; i < nbackends; i++)
		diag("backend %u: %s (%" PRIu64 " bytes)", i, backends[i].name,
		     backends[i].size);
	pthread_create(&wd, NULL, watchdog, NULL);

	t0 = now_ns();
	next_child = 2000;
	next_race = 3500;
	next_churn = 1500;
	next_diag = 10000;
	while (stat_get(&ncalls) + nchild_calls < cfg.calls) {
		uint64_t n = stat_get(&ncalls);
		struct call call;
		int res;

		if (n >= next_child) {
			/* an unowned device would become the child's */
			if (!M.owned)
				resync(&r);
			child_phase(&r, 100 + rng_below(&r, 100));
			next_child = n + 2500 + rng_below(&r, 1000);
		}
		if (n >= next_churn) {
			churn(&r);
			next_churn = n + 3000 + rng_below(&r, 2000);
		}
		if (n >= next_race) {
			race_phase(&r, 3, 150 + rng_below(&r, 150));
			next_race = n + 4000 + rng_below(&r, 2000);
			since_resync = 0;
		}
		if (n >= next_diag) {
			diag("%" PRIu64 " calls, %.1f s", n + nchild_calls,
			     secs_since(t0));
			next_diag += 10000;
		}
		if ((!M.owned && rng_pct(&r, 10)) ||
		    (++since_resync > 3000 && rng_pct(&r, 1))) {
			resync(&r);
			since_resync = 0;
		}
		if (n % 3 == 0)
			load_step(&r);
		if (n % 37 == 0)
			for (int i = 0; i < LOADQ; i++)
				load_restart(i);
		gen(&r, pick_op(&r, true), &call, MODE_MAIN);
		res = do_call(vfd, &call, true);
		if (cfg.verbose)
			diag("%s %s -> %s", kinds[call.op].name, call.what,
			     ename(res));
		apply(&call, res);
	}
	g_secs = secs_since(t0);

	ret = final_check();
	print_results(g_secs);
	vblk_dev_destroy(L);
	nullb_remove();
	unlink(tmpfile_path);
	(void)ret;

	return tap.failed ? 1 : 0;
}
