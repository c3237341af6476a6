// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-user-blk-bridge - serve a vhost-user-blk frontend from the kernel.
 *
 *   vhost-user-blk-bridge --socket PATH [--socket-mode MODE]
 *		[--socket-group GROUP] --backend DEV_OR_FILE
 *		[--read-only] [--serial STR] [--queues N] [--busyloop-us N]
 *		[--max-memory SIZE] [--user USER] [--allow-uid USER]
 *		[--allow-group GROUP] [--no-seccomp] [--verbose]
 *   vhost-user-blk-bridge --fd N --backend DEV_OR_FILE [...]
 *   vhost-user-blk-bridge --backend DEV_OR_FILE [...]  (socket activation)
 *
 * A VMM that speaks vhost-user-blk (QEMU's vhost-user-blk-pci, Cloud
 * Hypervisor, crosvm, qemu-storage-daemon's test clients, ...) connects to
 * the unix socket PATH. The bridge owns a /dev/vhost-blk device with the
 * backend attached and translates the control messages to its ioctls;
 * the requests themselves never pass through the bridge: the kernel
 * serves the rings in the frontend's shared guest memory, woken by the
 * frontend's kick eventfds and signalling its call eventfds directly.
 *
 * Guest memory: every region of SET_MEM_TABLE (or ADD_MEM_REG) is mapped
 * here from the fd the frontend sent, and the kernel's memory table
 * points at these mappings. Ring addresses arrive as frontend addresses
 * and are translated through the regions to the bridge's own.
 *
 * Dirty log (LOG_SHMFD): the frontend's log memfd is mapped here and its
 * address given to VHOST_SET_LOG_BASE; the kernel sets the bits in it.
 * That ioctl has no size: the kernel sets a bit wherever log base +
 * gpa / 32768 points, in this process. So the bridge checks that the log
 * covers every region and every used ring logged (VHOST_VRING_F_LOG)
 * whenever either side changes, and passes on VHOST_F_LOG_ALL and
 * VHOST_VRING_F_LOG only with such a log mapped.
 *
 * Inflight tracking (INFLIGHT_SHMFD): GET_INFLIGHT_FD allocates a sealed
 * memfd with one inflight region per queue (the vhost-user spec's split
 * layout, each region 64-byte aligned, as libvhost-user lays them out);
 * the frontend keeps it and hands it to every bridge it connects to with
 * SET_INFLIGHT_FD. The bridge maps it and gives the kernel each queue's
 * region (VHOST_BLK_SET_VRING_INFLIGHT) before the queue starts; the
 * kernel marks in it what it takes from the avail ring. If the bridge is
 * killed, the requests it had in flight stay marked, and the kernel
 * serving the next bridge resubmits them when their queue starts.
 *
 * Resize: the kernel signals an eventfd (VHOST_BLK_SET_CONFIG_CALL) when
 * the backend changes size (a file grown with ftruncate, a block device
 * whose capacity changed). A frontend that negotiated
 * VHOST_USER_PROTOCOL_F_CONFIG and _BACKEND_REQ and sent
 * SET_BACKEND_REQ_FD then gets CONFIG_CHANGE_MSG on that channel, reads
 * GET_CONFIG and tells its guest. The channel never blocks the bridge: the
 * socket is non-blocking, and with REPLY_ACK one message at a time waits
 * for its ack while the bridge goes on serving (the frontend reads
 * GET_CONFIG before it acks). A frontend that does not ack within
 * ACK_TIMEOUT_MS, or whose socket is full, loses its channel, not its
 * device.
 *
 * One frontend at a time; a second connection is closed at once. When
 * the frontend goes away the device is reset (every queue stopped and
 * drained) and the bridge waits for the next. The frontend is not
 * trusted: a malformed message gets an error (a REPLY_ACK failure or an
 * empty reply) or, when the stream cannot be trusted any more, a
 * disconnect; the bridge carries on. Guest memory is bounded
 * (--max-memory) and must be on tmpfs or hugetlbfs, a message has one
 * deadline, the log is rate-limited, and while serving the bridge runs
 * with no_new_privs under a seccomp filter, as --user if asked, for the
 * peers --allow-uid and --allow-group name.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/seccomp.h>

#include "vhost_blk_ctl.h"
#include "vhost_user.h"
#include "util.h"

/* Memory slots offered with CONFIGURE_MEM_SLOTS (and kept at most). */
#define BRIDGE_MAX_SLOTS	32
/*
 * Guest memory mapped at most, by default (--max-memory): the kernel's
 * workers fault it in through this process, so it is charged here.
 */
#define DEFAULT_MAX_MEMORY	(64ULL << 30)
/* How long a frontend may take to send a message, from its first byte. */
#define MSG_TIMEOUT_MS		5000
/* How long a frontend may take to ack a message on the backend channel. */
#define ACK_TIMEOUT_MS		5000

/* --allow-uid and --allow-group values, each. */
#define MAX_ALLOWED		16

#define PROTOCOL_FEATURES				\
	((1ULL << VHOST_USER_PROTOCOL_F_MQ) |		\
	 (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) |	\
	 (1ULL << VHOST_USER_PROTOCOL_F_CONFIG) |	\
	 (1ULL << VHOST_USER_PROTOCOL_F_RESET_DEVICE) |	\
	 (1ULL << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |	\
	 (1ULL << VHOST_USER_PROTOCOL_F_LOG_SHMFD) |	\
	 (1ULL << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) |	\
	 (1ULL << VHOST_USER_PROTOCOL_F_BACKEND_REQ))

/* What CONFIG_CHANGE_MSG needs. */
#define CONFIG_CHANGE_FEATURES				\
	((1ULL << VHOST_USER_PROTOCOL_F_CONFIG) |	\
	 (1ULL << VHOST_USER_PROTOCOL_F_BACKEND_REQ))

/* Each queue's inflight region starts on this boundary (libvhost-user's). */
#define INFLIGHT_ALIGN	64

#define F_PROTOCOL	(1ULL << VHOST_USER_F_PROTOCOL_FEATURES)

/* One region of guest memory as the frontend sent it and as mapped here. */
struct bridge_region {
	struct vhost_user_region ur;
	uint8_t *hva;			/* ur.guest_phys_addr in this process */
	void *map;			/* the mapping, from a page boundary */
	size_t map_len;
	dev_t dev;			/* the file mapped, to reuse mappings */
	ino_t ino;
	uint64_t cost;			/* region_cost(), for --max-memory */
};

struct bridge_vring {
	unsigned int num;		/* 0: not set */
	struct vhost_vring_addr addr;	/* frontend addresses */
	bool addr_given;		/* SET_VRING_ADDR received */
	bool addr_set;			/* translated and accepted by the kernel */
	uint64_t hva[3];		/* what the kernel has: desc, avail, used */
	int kick_fd;			/* -1: stopped (no kick, or GET_VRING_BASE) */
	bool enabled;			/* SET_VRING_ENABLE */
	bool running;			/* the kernel serves it */
};

struct bridge {
	/* options */
	const char *sock_path;
	const char *backend_path;
	const char *serial;
	unsigned int queues;
	unsigned int busyloop_us;	/* VHOST_SET_VRING_BUSYLOOP_TIMEOUT */
	uint64_t max_memory;		/* bytes of all regions together */
	bool ro;
	bool verbose;
	/* least privilege */
	bool drop;			/* --user given: drop to uid, gid */
	uid_t uid;
	gid_t gid;
	const char *user;
	bool seccomp;			/* not --no-seccomp */
	uid_t allow_uid[MAX_ALLOWED];	/* --allow-uid */
	unsigned int n_allow_uid;
	gid_t allow_gid[MAX_ALLOWED];	/* --allow-group */
	unsigned int n_allow_gid;
	/* The listening socket: --socket, --fd or socket activation. */
	int passed_fd;			/* --fd, -1 if not given */
	mode_t sock_mode;		/* --socket-mode */
	bool sock_mode_set;
	gid_t sock_gid;			/* --socket-group */
	bool sock_group_set;

	int listen_fd;
	int conn_fd;			/* the frontend, -1 if none */
	int vfd;			/* /dev/vhost-blk */
	int bfd;			/* the backend */
	int cfg_efd;			/* signalled by the kernel on a resize */
	unsigned int max_slots;
	/*
	 * SIGINT and SIGTERM are blocked but while the bridge waits for the
	 * frontend (ppoll() with this mask), so none comes between a check
	 * of stop_requested and a wait.
	 */
	sigset_t waitmask;

	/* Per connection. */
	uint64_t dev_features;		/* offered, without F_PROTOCOL */
	uint64_t acked_features;	/* SET_FEATURES, with F_PROTOCOL */
	uint64_t protocol_features;	/* SET_PROTOCOL_FEATURES */
	struct bridge_region regions[BRIDGE_MAX_SLOTS];
	unsigned int nregions;
	struct bridge_vring vrings[VHOST_BLK_MAX_QUEUES];
	/*
	 * The frontend's dirty log (SET_LOG_BASE), the kernel writes it:
	 * log_size bytes from the log base, in a mapping of log_map_len.
	 */
	void *log_map;
	size_t log_map_len;
	uint64_t log_size;
	dev_t log_dev;			/* the log's file, if log_map */
	ino_t log_ino;
	/*
	 * The inflight regions (SET_INFLIGHT_FD), the kernel writes them:
	 * inflight_nq regions of inflight_qsize bytes from inflight_base.
	 */
	void *inflight_map;
	size_t inflight_map_len;
	uint8_t *inflight_base;
	unsigned int inflight_nq;
	uint64_t inflight_qsize;
	dev_t inflight_dev;		/* their file, if inflight_map */
	ino_t inflight_ino;
	/*
	 * The backend channel (SET_BACKEND_REQ_FD), non-blocking, or -1.
	 * ack_deadline: CONFIG_CHANGE_MSG sent, its ack due then (ms of
	 * now_ms()), 0 if none awaited; change_pending: another change came
	 * meanwhile, to send once the ack is in.
	 */
	int backend_fd;
	uint64_t ack_deadline;
	bool change_pending;
};

static const char *prog = "vhost-user-blk-bridge";
static volatile sig_atomic_t stop_requested;
static uint64_t page_size;

/*
 * The log is rate-limited: a frontend can make the bridge log a line per
 * message. At most LOG_BURST lines per LOG_INTERVAL_MS are written; the
 * number left out is logged with the next line after the interval, or
 * at exit. --verbose, which asks for a line per message, lifts the limit.
 */
#define LOG_BURST		20
#define LOG_INTERVAL_MS		5000

static struct {
	uint64_t start;			/* of the interval, CLOCK_MONOTONIC ms */
	unsigned int lines;		/* written in it */
	unsigned long suppressed;	/* left out since the last report */
	bool off;			/* --verbose */
} log_rl;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Every line has a syslog priority. On the journal's stream (systemd sets
 * JOURNAL_STREAM to the device and inode of the stderr it connects) a line
 * starts with "<N>", which journald reads as the priority and strips; the
 * journal names the program itself. Anywhere else it starts with the
 * program's name, as it always did.
 */
static bool log_to_journal;

static void log_init(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	log_to_journal = e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 &&
			 !fstat(STDERR_FILENO, &st) && st.st_dev == dev &&
			 st.st_ino == ino;
}

static void log_line(int prio, const char *line)
{
	if (log_to_journal)
		fprintf(stderr, "<%d>%s\n", prio, line);
	else
		fprintf(stderr, "%s: %s\n", prog, line);
}

static void log_report_suppressed(void)
{
	char line[64];

	if (log_rl.suppressed) {
		snprintf(line, sizeof(line), "%lu log lines suppressed",
			 log_rl.suppressed);
		log_line(LOG_WARNING, line);
	}
	log_rl.suppressed = 0;
}

/* May another line be written now? */
static bool log_ratelimit(void)
{
	uint64_t now = now_ms();

	if (!log_rl.start || now - log_rl.start >= LOG_INTERVAL_MS) {
		log_report_suppressed();
		log_rl.start = now;
		log_rl.lines = 0;
	}
	if (log_rl.lines >= LOG_BURST) {
		log_rl.suppressed++;
		return false;
	}
	log_rl.lines++;
	return true;
}

static void __printf(2, 3) log_msg(int prio, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (!log_rl.off && !log_ratelimit())
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_line(prio, line);
}

#define pr_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define pr_warn(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define pr_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define pr_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

/* ---- the kernel device ---- */

/* Own the (new or reset) device, attach the backend, learn the features. */
static int dev_attach(struct bridge *b)
{
	struct virtio_blk_config cfg;
	uint64_t kf, cf;
	int ret;

	ret = vhost_blk_set_owner(b->vfd);
	if (!ret)
		ret = vhost_blk_set_backend(b->vfd, b->bfd,
					    b->ro ? VHOST_BLK_BACKEND_F_RO : 0,
					    b->serial);
	if (!ret)
		ret = vhost_blk_get_features(b->vfd, &kf);
	if (!ret)
		ret = vhost_blk_get_config(b->vfd, &cfg, &cf, NULL);
	if (ret)
		return ret;
	/* A module without it still serves; resizes just go unnoticed. */
	ret = vhost_blk_set_config_call(b->vfd, b->cfg_efd);
	if (ret)
		pr_warn("no resize notification from the kernel: %s",
			strerror(-ret));
	/*
	 * What holds for this backend, as the ABI asks a VMM to offer:
	 * GET_CONFIG's bits, which add VIRTIO_BLK_F_RO where it applies.
	 */
	b->dev_features = cf & (kf | (1ULL << VIRTIO_BLK_F_RO));
	/* Not a guest feature, so not in GET_CONFIG's: dirty logging. */
	b->dev_features |= kf & (1ULL << VHOST_F_LOG_ALL);
	return 0;
}

static int dev_open(struct bridge *b)
{
	b->vfd = vhost_blk_open(NULL);
	if (b->vfd < 0)
		return b->vfd;
	return dev_attach(b);
}

/*
 * Back to a freshly attached device: VHOST_RESET_OWNER stops every queue
 * and waits for its requests, then it is owned again. Nothing of the
 * kernel's may point into guest memory after this.
 */
static int dev_reset(struct bridge *b)
{
	int ret = vhost_blk_reset_owner(b->vfd);

	if (!ret)
		ret = dev_attach(b);
	if (ret) {
		pr_warn("resetting the device: %s; opening it again",
			strerror(-ret));
		close(b->vfd);
		ret = dev_open(b);
	}
	return ret;
}

/* Unmap the frontend's dirty log, once the kernel no longer has it. */
static void log_drop(struct bridge *b)
{
	if (b->log_map)
		munmap(b->log_map, b->log_map_len);
	b->log_map = NULL;
	b->log_map_len = 0;
	b->log_size = 0;
}

/* Unmap the inflight regions, once the kernel no longer has them. */
static void inflight_drop(struct bridge *b)
{
	if (b->inflight_map)
		munmap(b->inflight_map, b->inflight_map_len);
	b->inflight_map = NULL;
	b->inflight_map_len = 0;
	b->inflight_base = NULL;
	b->inflight_nq = 0;
	b->inflight_qsize = 0;
}

/* The config space the frontend sees: the kernel's, with our queues. */
static int read_config(struct bridge *b, uint8_t *buf)
{
	struct virtio_blk_config cfg;
	int ret;

	ret = vhost_blk_get_config(b->vfd, &cfg, NULL, NULL);
	if (ret)
		return ret;
	cfg.num_queues = htole16(b->queues);
	memset(buf, 0, VHOST_USER_MAX_CONFIG_SIZE);
	memcpy(buf, &cfg, sizeof(cfg));
	return 0;
}

/* ---- guest memory ---- */

/* @addr (a frontend address) and @len bytes after it, here; 0 if not. */
static uint64_t uva_to_hva(const struct bridge_region *regs, unsigned int n,
			   uint64_t uva, uint64_t len)
{
	for (unsigned int i = 0; i < n; i++) {
		const struct bridge_region *r = &regs[i];

		if (uva >= r->ur.userspace_addr &&
		    uva - r->ur.userspace_addr < r->ur.memory_size &&
		    len <= r->ur.memory_size - (uva - r->ur.userspace_addr))
			return (uintptr_t)r->hva + (uva - r->ur.userspace_addr);
	}
	return 0;
}

static bool is_current_map(const struct bridge *b, const void *map)
{
	for (unsigned int i = 0; i < b->nregions; i++)
		if (b->regions[i].map == map)
			return true;
	return false;
}

/*
 * May @fd be mapped as guest memory or dirty log? Only a file on tmpfs
 * (memfd, /dev/shm) or hugetlbfs, open for reading and writing: pages of
 * a file on FUSE, NFS, 9p or a disk can take forever to fault in, and
 * the kernel's workers would wait for them, uninterruptibly, with a
 * queue that cannot be stopped. An O_PATH fd maps nothing, so it may
 * not name a region mapped already either. -EBADF if not.
 */
static int region_fd_check(int fd)
{
	struct statfs sfs;
	struct stat st;
	int fl;

	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	if ((fl & O_PATH) || (fl & O_ACCMODE) != O_RDWR)
		return -EBADF;
	if (fstat(fd, &st) || fstatfs(fd, &sfs))
		return -errno;
	if (!S_ISREG(st.st_mode) ||
	    (sfs.f_type != TMPFS_MAGIC && sfs.f_type != HUGETLBFS_MAGIC))
		return -EBADF;
	return 0;
}

/*
 * What region @ur of the file @fd costs: the pages that hold it, in the
 * file's page size (a huge page on hugetlbfs); UINT64_MAX if that does
 * not fit. Where the region lies is region_map()'s to check.
 */
static uint64_t region_cost(const struct vhost_user_region *ur, int fd)
{
	uint64_t ps = page_size, end;
	struct statfs sfs;

	if (fd >= 0 && !fstatfs(fd, &sfs) && sfs.f_type == HUGETLBFS_MAGIC &&
	    sfs.f_bsize > 0 && !(sfs.f_bsize & (sfs.f_bsize - 1)))
		ps = sfs.f_bsize;
	if (__builtin_add_overflow(ur->mmap_offset & (ps - 1),
				   ur->memory_size, &end) ||
	    __builtin_add_overflow(end, ps - 1, &end))
		return UINT64_MAX;
	return end & ~(ps - 1);
}

/*
 * @total and the cost of regions @ur[0..n) of the files @fds, above
 * --max-memory: -E2BIG.
 */
static int regions_size_check(const struct bridge *b,
			      const struct vhost_user_region *ur,
			      const int *fds, unsigned int n, uint64_t total)
{
	for (unsigned int i = 0; i < n; i++) {
		uint64_t cost = region_cost(&ur[i], fds[i]);

		if (__builtin_add_overflow(total, cost, &total))
			return -E2BIG;
	}
	if (total <= b->max_memory)
		return 0;
	pr_warn("guest memory of %" PRIu64 " bytes refused (--max-memory %"
		PRIu64 ")", total, b->max_memory);
	return -E2BIG;
}

/*
 * Is @st the file of the inflight regions? The kernel writes them: in
 * guest memory or the log, the guest would read and write what the
 * device trusts at start, and the device would write guest RAM.
 */
static bool is_inflight_file(const struct bridge *b, const struct stat *st)
{
	return b->inflight_map && b->inflight_dev == st->st_dev &&
	       b->inflight_ino == st->st_ino;
}

/*
 * Map region @ur from @fd into @out, or reuse the current mapping of the
 * same region of the same file (a frontend sends the whole table again
 * on every start). The fd stays the caller's.
 */
static int region_map(struct bridge *b, const struct vhost_user_region *ur,
		      int fd, struct bridge_region *out)
{
	uint64_t size = ur->memory_size, off, delta;
	struct stat st;
	void *map;
	int ret;

	if (!size || ur->guest_phys_addr + size < ur->guest_phys_addr ||
	    ur->userspace_addr + size < ur->userspace_addr ||
	    ur->mmap_offset + size < ur->mmap_offset)
		return -EINVAL;
	ret = region_fd_check(fd);
	if (ret)
		return ret;
	if (fstat(fd, &st))
		return -errno;
	if ((uint64_t)st.st_size < ur->mmap_offset + size)
		return -EINVAL;
	if (is_inflight_file(b, &st))
		return -EINVAL;

	for (unsigned int i = 0; i < b->nregions; i++) {
		const struct bridge_region *r = &b->regions[i];

		if (r->dev == st.st_dev && r->ino == st.st_ino &&
		    !memcmp(&r->ur, ur, sizeof(*ur))) {
			*out = *r;
			return 0;
		}
	}

	off = ur->mmap_offset & ~(page_size - 1);
	delta = ur->mmap_offset - off;
	if (size + delta < size || (size_t)(size + delta) != size + delta ||
	    off > (uint64_t)LLONG_MAX)
		return -EINVAL;
	map = mmap(NULL, size + delta, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_NORESERVE, fd, off);
	if (map == MAP_FAILED)
		return -errno;
	*out = (struct bridge_region){
		.ur = *ur,
		.hva = (uint8_t *)map + delta,
		.map = map,
		.map_len = size + delta,
		.dev = st.st_dev,
		.ino = st.st_ino,
		.cost = region_cost(ur, fd),
	};
	return 0;
}

/* Undo region_map() for regions of a table that was not installed. */
static void regions_unmap_new(struct bridge *b, struct bridge_region *regs,
			      unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (!is_current_map(b, regs[i].map))
			munmap(regs[i].map, regs[i].map_len);
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b,
			   uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* Regions may not overlap, in guest-physical nor in frontend space. */
static int regions_check(const struct bridge_region *regs, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		for (unsigned int j = i + 1; j < n; j++) {
			const struct vhost_user_region *a = &regs[i].ur;
			const struct vhost_user_region *c = &regs[j].ur;

			if (ranges_overlap(a->guest_phys_addr, a->memory_size,
					   c->guest_phys_addr, c->memory_size) ||
			    ranges_overlap(a->userspace_addr, a->memory_size,
					   c->userspace_addr, c->memory_size))
				return -EINVAL;
		}
	}
	return 0;
}

static int kernel_mem_table(struct bridge *b, const struct bridge_region *regs,
			    unsigned int n)
{
	struct vhost_memory_region kr[BRIDGE_MAX_SLOTS];

	for (unsigned int i = 0; i < n; i++)
		kr[i] = (struct vhost_memory_region){
			.guest_phys_addr = regs[i].ur.guest_phys_addr,
			.memory_size = regs[i].ur.memory_size,
			.userspace_addr = (uintptr_t)regs[i].hva,
		};
	return vhost_blk_set_mem_table(b->vfd, kr, n);
}

/* ---- vrings ---- */

static size_t ring_bytes(unsigned int part, unsigned int num)
{
	switch (part) {
	case 0:
		return 16ULL * num;
	case 1:
		return 4 + 2ULL * num + 2;	/* with used_event */
	default:
		return 4 + 8ULL * num + 2;	/* with avail_event */
	}
}

/* The ring of @vr in this process under @regs; false if not all there. */
static bool ring_translate(const struct bridge_vring *vr,
			   const struct bridge_region *regs, unsigned int n,
			   uint64_t *hva)
{
	const uint64_t uva[3] = { vr->addr.desc_user_addr,
				  vr->addr.avail_user_addr,
				  vr->addr.used_user_addr };

	for (unsigned int p = 0; p < 3; p++) {
		hva[p] = uva_to_hva(regs, n, uva[p], ring_bytes(p, vr->num));
		if (!hva[p])
			return false;
	}
	return true;
}

/* ---- dirty log ---- */

/* Guest-physical bytes one byte of dirty log covers: 8 pages of 4 KiB. */
#define LOG_BYTE_SPAN	(8 * 4096ULL)

/* Bytes of log holding the bits of guest-physical [gpa, gpa + len). */
static uint64_t log_bytes(uint64_t gpa, uint64_t len)
{
	uint64_t last;

	if (!len)
		return 0;
	if (__builtin_add_overflow(gpa, len - 1, &last))
		return UINT64_MAX;
	return last / LOG_BYTE_SPAN + 1;
}

static bool vring_logs(const struct bridge_vring *vr)
{
	return vr->addr_given && (vr->addr.flags & (1U << VHOST_VRING_F_LOG));
}

/*
 * Bytes of log the kernel may set bits in with memory @regs and rings
 * @vrs: up to the highest guest address of a region, and the used ring
 * (with avail_event) of every ring logged, at its log_guest_addr.
 */
static uint64_t log_needed(const struct bridge *b,
			   const struct bridge_region *regs, unsigned int n,
			   const struct bridge_vring *vrs)
{
	uint64_t need = 0, v;

	for (unsigned int i = 0; i < n; i++) {
		v = log_bytes(regs[i].ur.guest_phys_addr,
			      regs[i].ur.memory_size);
		need = v > need ? v : need;
	}
	for (unsigned int i = 0; i < b->queues; i++) {
		if (!vring_logs(&vrs[i]))
			continue;
		v = log_bytes(vrs[i].addr.log_guest_addr,
			      ring_bytes(2, vrs[i].num));
		need = v > need ? v : need;
	}
	return need;
}

/*
 * May the kernel log with features @features, memory @regs and rings
 * @vrs? With VHOST_F_LOG_ALL or a ring logged, only into a log mapped
 * here that covers all of them: -EFAULT otherwise, and nothing is passed
 * on (the kernel cannot check the log's size).
 */
static int log_check(const struct bridge *b, uint64_t features,
		     const struct bridge_region *regs, unsigned int n,
		     const struct bridge_vring *vrs)
{
	bool on = features & (1ULL << VHOST_F_LOG_ALL);

	for (unsigned int i = 0; i < b->queues; i++)
		on |= vring_logs(&vrs[i]);
	if (!on)
		return 0;
	if (!b->log_map || log_needed(b, regs, n, vrs) > b->log_size)
		return -EFAULT;
	return 0;
}

/* log_check() with ring @i as @vr would make it. */
static int log_check_vring(const struct bridge *b, unsigned int i,
			   const struct bridge_vring *vr)
{
	struct bridge_vring vrs[VHOST_BLK_MAX_QUEUES];

	memcpy(vrs, b->vrings, sizeof(vrs));
	vrs[i] = *vr;
	return log_check(b, b->acked_features, b->regions, b->nregions, vrs);
}

/* Give the kernel the ring addresses of a stopped ring. */
static int vring_set_addr(struct bridge *b, unsigned int i)
{
	struct bridge_vring *vr = &b->vrings[i];
	uint64_t hva[3];
	int ret;

	vr->addr_set = false;
	if (!vr->addr_given)
		return 0;
	if (!vr->num)
		return -EINVAL;
	if (!ring_translate(vr, b->regions, b->nregions, hva))
		return -EFAULT;
	ret = vhost_blk_set_vring_addr_log(b->vfd, i, hva[0], hva[1], hva[2],
					   vr->addr.flags,
					   vr->addr.log_guest_addr);
	if (ret)
		return ret;
	memcpy(vr->hva, hva, sizeof(hva));
	vr->addr_set = true;
	return 0;
}

static int vring_start(struct bridge *b, unsigned int i)
{
	struct bridge_vring *vr = &b->vrings[i];
	int ret = 0;

	/* Only when asked: a module without busy polling refuses the call. */
	if (b->busyloop_us)
		ret = vhost_blk_set_vring_busyloop_timeout(b->vfd, i,
							   b->busyloop_us);
	/* Only with regions: a module without them refuses the call. */
	if (!ret && b->inflight_base && i < b->inflight_nq)
		ret = vhost_blk_set_vring_inflight(b->vfd, i,
				(uintptr_t)b->inflight_base +
				i * b->inflight_qsize, b->inflight_qsize);
	if (!ret)
		ret = vhost_blk_set_vring_kick(b->vfd, i, vr->kick_fd);
	if (ret)
		pr_err("starting queue %u: %s", i, strerror(-ret));
	vr->running = !ret;
	return ret;
}

/* Stop a ring: the kernel drains it; the next avail index goes to @base. */
static int vring_stop(struct bridge *b, unsigned int i, unsigned int *base)
{
	unsigned int dummy;
	int ret;

	ret = vhost_blk_get_vring_base(b->vfd, i, base ? base : &dummy);
	b->vrings[i].running = false;
	return ret;
}

/* Start or stop ring @i as its state now asks. */
static int vring_update(struct bridge *b, unsigned int i)
{
	struct bridge_vring *vr = &b->vrings[i];
	bool want = vr->kick_fd >= 0 && vr->addr_set && vr->enabled;

	if (want && !vr->running)
		return vring_start(b, i);
	if (!want && vr->running)
		return vring_stop(b, i, NULL);
	return 0;
}

static void vrings_forget(struct bridge *b)
{
	for (unsigned int i = 0; i < VHOST_BLK_MAX_QUEUES; i++) {
		struct bridge_vring *vr = &b->vrings[i];

		if (vr->kick_fd >= 0)
			close(vr->kick_fd);
		*vr = (struct bridge_vring){ .kick_fd = -1 };
	}
}

/*
 * Install a new memory table. The kernel keeps serving rings whose
 * mappings stay; if a mapping goes away or a served ring moves, every
 * served ring is stopped (drained) first and restarted on the new table,
 * so no request holds an address of a mapping about to be unmapped. On
 * success @regs is the bridge's; on failure the caller unmaps it.
 */
static int mem_commit(struct bridge *b, struct bridge_region *regs,
		      unsigned int n)
{
	bool stopped[VHOST_BLK_MAX_QUEUES] = { false };
	bool quiesce = false;
	unsigned int i;
	int ret;

	ret = regions_check(regs, n);
	if (ret)
		return ret;
	/* A log in use must cover the new memory before the kernel has it. */
	ret = log_check(b, b->acked_features, regs, n, b->vrings);
	if (ret)
		return ret;
	for (i = 0; i < b->nregions; i++) {
		bool kept = false;

		for (unsigned int j = 0; j < n; j++)
			kept |= regs[j].map == b->regions[i].map;
		quiesce |= !kept;
	}
	for (i = 0; i < b->queues; i++) {
		struct bridge_vring *vr = &b->vrings[i];
		uint64_t hva[3];

		if (!vr->running)
			continue;
		if (!ring_translate(vr, regs, n, hva))
			return -EFAULT;	/* the ring's memory would go away */
		quiesce |= !!memcmp(hva, vr->hva, sizeof(hva));
	}
	for (i = 0; quiesce && i < b->queues; i++) {
		if (b->vrings[i].running) {
			vring_stop(b, i, NULL);
			stopped[i] = true;
		}
	}

	ret = kernel_mem_table(b, regs, n);
	if (ret) {
		for (i = 0; i < b->queues; i++)
			if (stopped[i])
				vring_start(b, i);
		return ret;
	}

	/* The kernel uses the new table: mappings it dropped can go. */
	for (i = 0; i < b->nregions; i++) {
		bool kept = false;

		for (unsigned int j = 0; j < n; j++)
			kept |= regs[j].map == b->regions[i].map;
		if (!kept)
			munmap(b->regions[i].map, b->regions[i].map_len);
	}
	memcpy(b->regions, regs, n * sizeof(*regs));
	b->nregions = n;

	/* Rings not served follow the new mappings. */
	for (i = 0; i < b->queues; i++) {
		if (!b->vrings[i].running && b->vrings[i].addr_given &&
		    vring_set_addr(b, i))
			pr_warn("queue %u: ring no longer in guest memory", i);
		vring_update(b, i);
	}
	return 0;
}

static void regions_drop(struct bridge *b)
{
	for (unsigned int i = 0; i < b->nregions; i++)
		munmap(b->regions[i].map, b->regions[i].map_len);
	b->nregions = 0;
}

/* ---- messages ---- */

struct req {
	struct vhost_user_msg *m;
	int *fds;			/* taken ones are set to -1 */
	unsigned int nfds;
	struct vhost_user_msg *reply;	/* payload and size of a reply */
	int reply_fd;			/* sent with the reply, then closed */
};

static int need_size(const struct req *q, uint32_t size)
{
	return q->m->hdr.size == size ? 0 : -EINVAL;
}

static int vring_index(const struct bridge *b, uint32_t index)
{
	return index < b->queues ? 0 : -EINVAL;
}

static void reply_u64(struct req *q, uint64_t v)
{
	q->reply->hdr.size = sizeof(q->reply->payload.u64);
	q->reply->payload.u64 = v;
}

static int h_set_features(struct bridge *b, struct req *q)
{
	uint64_t f = q->m->payload.u64, kf = f & ~F_PROTOCOL;
	int ret = need_size(q, sizeof(f));

	if (ret)
		return ret;
	if (kf & ~b->dev_features)
		return -EINVAL;
	ret = log_check(b, kf, b->regions, b->nregions, b->vrings);
	if (ret)
		return ret;
	ret = vhost_blk_set_features(b->vfd, kf);
	if (ret)
		return ret;
	b->acked_features = f;
	/* Without the protocol features, rings start enabled. */
	if (!(f & F_PROTOCOL)) {
		for (unsigned int i = 0; i < b->queues; i++) {
			b->vrings[i].enabled = true;
			vring_update(b, i);
		}
	}
	return 0;
}

static int h_set_protocol_features(struct bridge *b, struct req *q)
{
	int ret = need_size(q, sizeof(uint64_t));

	if (ret)
		return ret;
	if (q->m->payload.u64 & ~PROTOCOL_FEATURES)
		return -EINVAL;
	b->protocol_features = q->m->payload.u64;
	return 0;
}

/* RESET_OWNER (deprecated): disable every ring, keep the rest. */
static int h_reset_owner(struct bridge *b)
{
	for (unsigned int i = 0; i < b->queues; i++) {
		b->vrings[i].enabled = false;
		vring_update(b, i);
	}
	return 0;
}

/* RESET_DEVICE: back to the initial state; memory stays mapped. */
static int h_reset_device(struct bridge *b)
{
	int ret = dev_reset(b);

	/* The kernel forgot the log: nothing writes it now. */
	log_drop(b);
	inflight_drop(b);
	vrings_forget(b);
	b->acked_features = 0;
	if (!ret && b->nregions)
		ret = kernel_mem_table(b, b->regions, b->nregions);
	return ret;
}

static int h_set_mem_table(struct bridge *b, struct req *q)
{
	const struct vhost_user_memory *mem = &q->m->payload.memory;
	struct bridge_region regs[VHOST_USER_MEM_REGIONS_MAX];
	const uint32_t hdr = offsetof(struct vhost_user_memory, regions);
	unsigned int n, i;
	int ret = 0;

	if (q->m->hdr.size < hdr)
		return -EINVAL;
	n = mem->nregions;
	if (n > VHOST_USER_MEM_REGIONS_MAX)
		return -E2BIG;
	if (q->m->hdr.size != hdr + n * sizeof(mem->regions[0]) ||
	    q->nfds != n)
		return -EINVAL;
	ret = regions_size_check(b, mem->regions, q->fds, n, 0);
	if (ret)
		return ret;
	for (i = 0; i < n && !ret; i++)
		ret = region_map(b, &mem->regions[i], q->fds[i], &regs[i]);
	if (ret)
		i--;
	if (!ret)
		ret = mem_commit(b, regs, n);
	if (ret)
		regions_unmap_new(b, regs, i);
	return ret;
}

static int h_add_mem_reg(struct bridge *b, struct req *q)
{
	struct bridge_region regs[BRIDGE_MAX_SLOTS];
	int ret = need_size(q, sizeof(struct vhost_user_mem_reg));
	unsigned int n = b->nregions;
	uint64_t total = 0;

	if (ret)
		return ret;
	if (q->nfds != 1)
		return -EINVAL;
	if (n >= b->max_slots)
		return -E2BIG;
	for (unsigned int i = 0; i < n; i++)
		total += b->regions[i].cost;
	ret = regions_size_check(b, &q->m->payload.mem_reg.region, q->fds, 1,
				 total);
	if (ret)
		return ret;
	memcpy(regs, b->regions, n * sizeof(*regs));
	ret = region_map(b, &q->m->payload.mem_reg.region, q->fds[0],
			 &regs[n]);
	if (ret)
		return ret;
	if (is_current_map(b, regs[n].map))
		return -EEXIST;
	ret = mem_commit(b, regs, n + 1);
	if (ret)
		munmap(regs[n].map, regs[n].map_len);
	return ret;
}

static int h_rem_mem_reg(struct bridge *b, struct req *q)
{
	const struct vhost_user_region *ur = &q->m->payload.mem_reg.region;
	struct bridge_region regs[BRIDGE_MAX_SLOTS];
	unsigned int n = 0;
	bool found = false;
	int ret = need_size(q, sizeof(struct vhost_user_mem_reg));

	if (ret)
		return ret;
	for (unsigned int i = 0; i < b->nregions; i++) {
		const struct vhost_user_region *r = &b->regions[i].ur;

		if (!found && r->guest_phys_addr == ur->guest_phys_addr &&
		    r->memory_size == ur->memory_size &&
		    r->userspace_addr == ur->userspace_addr)
			found = true;
		else
			regs[n++] = b->regions[i];
	}
	if (!found)
		return -ENOENT;
	return mem_commit(b, regs, n);
}

static int h_vring_state(struct bridge *b, struct req *q)
{
	const struct vhost_vring_state *s = &q->m->payload.state;
	struct bridge_vring *vr;
	int ret = need_size(q, sizeof(*s));

	if (!ret)
		ret = vring_index(b, s->index);
	if (ret)
		return ret;
	vr = &b->vrings[s->index];

	switch (q->m->hdr.request) {
	case VHOST_USER_SET_VRING_NUM: {
		struct bridge_vring n = *vr;

		if (vr->running)
			return -EBUSY;
		/* A logged used ring grows with it. */
		n.num = s->num;
		ret = log_check_vring(b, s->index, &n);
		if (ret)
			return ret;
		ret = vhost_blk_set_vring_num(b->vfd, s->index, s->num);
		if (ret)
			return ret;
		vr->num = s->num;
		/* The ring parts grew or shrank: check them again. */
		vring_set_addr(b, s->index);
		return 0;
	}
	case VHOST_USER_SET_VRING_BASE:
		if (vr->running)
			return -EBUSY;
		return vhost_blk_set_vring_base(b->vfd, s->index, s->num);
	case VHOST_USER_SET_VRING_ENABLE:
		if (s->num > 1)
			return -EINVAL;
		vr->enabled = s->num;
		return vring_update(b, s->index);
	default:	/* GET_VRING_BASE: stop and drain until the next kick */
		q->reply->hdr.size = sizeof(*s);
		q->reply->payload.state.index = s->index;
		ret = vring_stop(b, s->index, &q->reply->payload.state.num);
		if (vr->kick_fd >= 0)
			close(vr->kick_fd);
		vr->kick_fd = -1;
		return ret;
	}
}

static int h_set_vring_addr(struct bridge *b, struct req *q)
{
	const struct vhost_vring_addr *a = &q->m->payload.addr;
	struct bridge_vring *vr, n;
	int ret = need_size(q, sizeof(*a));

	if (!ret)
		ret = vring_index(b, a->index);
	if (ret)
		return ret;
	if (a->flags & ~(1U << VHOST_VRING_F_LOG))
		return -EINVAL;
	vr = &b->vrings[a->index];
	/* Logged only into a log that covers its used ring. */
	n = *vr;
	n.addr = *a;
	n.addr_given = true;
	ret = log_check_vring(b, a->index, &n);
	if (ret)
		return ret;
	if (vr->running) {
		/* Same rings, logging switched: live migration. */
		if (a->desc_user_addr != vr->addr.desc_user_addr ||
		    a->avail_user_addr != vr->addr.avail_user_addr ||
		    a->used_user_addr != vr->addr.used_user_addr)
			return -EBUSY;
		ret = vhost_blk_set_vring_addr_log(b->vfd, a->index,
						   vr->hva[0], vr->hva[1],
						   vr->hva[2], a->flags,
						   a->log_guest_addr);
		if (!ret)
			vr->addr = *a;
		return ret;
	}
	vr->addr = *a;
	vr->addr_given = true;
	ret = vring_set_addr(b, a->index);
	if (ret)
		return ret;
	return vring_update(b, a->index);
}

/* An eventfd? Anything else would only fail later, in the kernel. */
static bool is_eventfd(int fd)
{
	char path[64], link[64];
	struct stat st;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = 0;
		return !strcmp(link, "anon_inode:[eventfd]");
	}
	/* No /proc: anonymous inodes at least have no file type. */
	return !fstat(fd, &st) && !(st.st_mode & S_IFMT);
}

static int h_vring_fd(struct bridge *b, struct req *q)
{
	uint64_t v = q->m->payload.u64;
	unsigned int i = v & VHOST_USER_VRING_IDX_MASK;
	bool nofd = v & VHOST_USER_VRING_NOFD_MASK;
	struct bridge_vring *vr;
	int fd, ret = need_size(q, sizeof(v));

	if (!ret)
		ret = vring_index(b, i);
	if (ret)
		return ret;
	vr = &b->vrings[i];
	if (v & ~(VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD_MASK))
		return -EINVAL;
	if (q->nfds != (nofd ? 0 : 1))
		return -EBADF;
	fd = nofd ? -1 : q->fds[0];

	switch (q->m->hdr.request) {
	case VHOST_USER_SET_VRING_CALL:
		return vhost_blk_set_vring_call(b->vfd, i, fd);
	case VHOST_USER_SET_VRING_ERR:
		return vhost_blk_set_vring_err(b->vfd, i, fd);
	}

	/* SET_VRING_KICK */
	if (fd >= 0 && !is_eventfd(fd))
		return -EBADF;
	if (vr->kick_fd >= 0)
		close(vr->kick_fd);
	vr->kick_fd = fd;
	q->fds[0] = -1;
	if (fd < 0) {
		/* Polling the ring instead of a kick: not in the kernel. */
		if (vr->running)
			vring_stop(b, i, NULL);
		return -EOPNOTSUPP;
	}
	if (vr->running)
		return vring_start(b, i);	/* the kernel switches kicks */
	return vring_update(b, i);
}

/* GET_CONFIG / SET_CONFIG: offset and size within 256 bytes. */
static int h_config(struct bridge *b, struct req *q)
{
	const struct vhost_user_config *c = &q->m->payload.config;
	uint8_t cfg[VHOST_USER_MAX_CONFIG_SIZE];
	int ret;

	if (q->m->hdr.size < VHOST_USER_CONFIG_HDR_SIZE ||
	    c->size > VHOST_USER_MAX_CONFIG_SIZE ||
	    q->m->hdr.size != VHOST_USER_CONFIG_HDR_SIZE + c->size ||
	    c->offset > VHOST_USER_MAX_CONFIG_SIZE - c->size)
		return -EINVAL;
	ret = read_config(b, cfg);
	if (ret)
		return ret;
	if (q->m->hdr.request == VHOST_USER_SET_CONFIG) {
		if (c->flags > VHOST_USER_CONFIG_TYPE_MIGRATION)
			return -EINVAL;
		/* Nothing is writable: accept only what is there already. */
		return memcmp(cfg + c->offset, c->region, c->size) ? -EPERM : 0;
	}
	q->reply->hdr.size = q->m->hdr.size;
	q->reply->payload.config.offset = c->offset;
	q->reply->payload.config.size = c->size;
	q->reply->payload.config.flags = c->flags;
	memcpy(q->reply->payload.config.region, cfg + c->offset, c->size);
	return 0;
}

/*
 * SET_LOG_BASE (LOG_SHMFD): map the frontend's log and hand the kernel
 * its address; the kernel sets the bits in the frontend's pages. The old
 * log is unmapped once the kernel moved to the new one.
 *
 * VHOST_SET_LOG_BASE has no size: the kernel would set a bit at log base
 * + gpa / 32768 for any guest address, here in the bridge. So the log
 * must be a file as long as it claims to be, and cover all of guest
 * memory and the used rings logged (-EFAULT). A file truncated later
 * only makes the kernel fail to log (its pages are gone, not another's):
 * the reads that needed it fail, and the queue's error eventfd fires.
 */
static int h_set_log_base(struct bridge *b, struct req *q)
{
	const struct vhost_user_log *l = &q->m->payload.log;
	uint64_t off, len, end;
	struct stat st;
	void *map;
	int ret = need_size(q, sizeof(*l));

	if (ret)
		return ret;
	if (!(b->protocol_features &
	      (1ULL << VHOST_USER_PROTOCOL_F_LOG_SHMFD)))
		return -EOPNOTSUPP;
	if (q->nfds != 1)
		return -EINVAL;
	off = l->mmap_offset & ~(page_size - 1);
	if (!l->mmap_size ||
	    __builtin_add_overflow(l->mmap_size, l->mmap_offset - off, &len) ||
	    len > SIZE_MAX || l->mmap_offset > (uint64_t)INT64_MAX ||
	    __builtin_add_overflow(l->mmap_offset, l->mmap_size, &end))
		return -EINVAL;
	/* As for guest memory: a memfd or tmpfs file, all of it there. */
	ret = region_fd_check(q->fds[0]);
	if (ret)
		return ret;
	if (fstat(q->fds[0], &st))
		return -errno;
	if ((uint64_t)st.st_size < end || is_inflight_file(b, &st))
		return -EINVAL;
	if (l->mmap_size < log_needed(b, b->regions, b->nregions, b->vrings))
		return -EFAULT;
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, q->fds[0],
		   off);
	if (map == MAP_FAILED)
		return -errno;
	ret = vhost_blk_set_log_base(b->vfd, (uintptr_t)map +
				     (l->mmap_offset - off));
	if (ret) {
		munmap(map, len);
		return ret;
	}
	log_drop(b);
	b->log_map = map;
	b->log_map_len = len;
	b->log_size = l->mmap_size;
	b->log_dev = st.st_dev;
	b->log_ino = st.st_ino;
	reply_u64(q, 0);
	return 0;
}

/* SET_LOG_FD: the eventfd the kernel signals after logging; none clears. */
static int h_set_log_fd(struct bridge *b, struct req *q)
{
	int fd = q->nfds ? q->fds[0] : -1;

	if (q->nfds > 1 || (fd >= 0 && !is_eventfd(fd)))
		return -EINVAL;
	return vhost_blk_set_log_fd(b->vfd, fd);
}

/*
 * The bytes of one queue's inflight region for rings of @queue_size, or
 * 0 for a size no ring can have.
 */
static uint64_t inflight_queue_size(uint32_t queue_size)
{
	if (!queue_size || queue_size > 32768 ||
	    (queue_size & (queue_size - 1)))
		return 0;
	return (VHOST_BLK_INFLIGHT_SIZE(queue_size) + INFLIGHT_ALIGN - 1) &
	       ~(uint64_t)(INFLIGHT_ALIGN - 1);
}

/* Map @size bytes of @fd from @offset as the inflight regions. */
static int inflight_install(struct bridge *b, int fd, uint64_t size,
			uint64_t offset, unsigned int nq, uint64_t qsize)
{
	uint64_t off = offset & ~(page_size - 1), len, end;
	struct stat st;
	void *map;

	int ret;

	if (__builtin_add_overflow(size, offset - off, &len) ||
	    len > SIZE_MAX || offset > (uint64_t)INT64_MAX ||
	    __builtin_add_overflow(offset, size, &end))
		return -EINVAL;
	/* The kernel's workers write it: as for guest memory, tmpfs only. */
	ret = region_fd_check(fd);
	if (ret)
		return ret;
	if (fstat(fd, &st))
		return -errno;
	if ((uint64_t)st.st_size < end)
		return -EINVAL;
	/* Not guest memory nor the log: see is_inflight_file(). */
	if (b->log_map && b->log_dev == st.st_dev && b->log_ino == st.st_ino)
		return -EINVAL;
	for (unsigned int i = 0; i < b->nregions; i++)
		if (b->regions[i].dev == st.st_dev &&
		    b->regions[i].ino == st.st_ino)
			return -EINVAL;
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
	if (map == MAP_FAILED)
		return -errno;
	/* No queue may keep the old regions: each gets the new at start. */
	for (unsigned int i = 0; i < b->queues; i++)
		vhost_blk_set_vring_inflight(b->vfd, i, 0, 0);
	inflight_drop(b);
	b->inflight_map = map;
	b->inflight_map_len = len;
	b->inflight_base = (uint8_t *)map + (offset - off);
	b->inflight_nq = nq;
	b->inflight_qsize = qsize;
	b->inflight_dev = st.st_dev;
	b->inflight_ino = st.st_ino;
	return 0;
}

/* Any queue served? Its inflight region cannot change then. */
static bool any_running(const struct bridge *b)
{
	for (unsigned int i = 0; i < b->queues; i++)
		if (b->vrings[i].running)
			return true;
	return false;
}

/* Check GET/SET_INFLIGHT_FD's payload; the size of one queue's region. */
static int inflight_check(struct bridge *b, struct req *q, uint64_t *qsize)
{
	const struct vhost_user_inflight *in = &q->m->payload.inflight;
	int ret = need_size(q, sizeof(*in));

	if (ret)
		return ret;
	if (!(b->protocol_features &
	      (1ULL << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)))
		return -EOPNOTSUPP;
	*qsize = inflight_queue_size(in->queue_size);
	if (!*qsize || !in->num_queues || in->num_queues > b->queues)
		return -EINVAL;
	if (any_running(b))
		return -EBUSY;
	return 0;
}

/*
 * GET_INFLIGHT_FD: a new zeroed memfd for the regions, sealed so that
 * nobody can shrink it under the kernel's writes (they would fail, not
 * corrupt, but the frontend would lose what it was to keep); mapped here
 * as if SET_INFLIGHT_FD had come with it.
 */
static int h_get_inflight_fd(struct bridge *b, struct req *q)
{
	const struct vhost_user_inflight *in = &q->m->payload.inflight;
	uint64_t qsize, size;
	int fd, ret;

	ret = inflight_check(b, q, &qsize);
	if (ret)
		return ret;
	size = qsize * in->num_queues;
	fd = memfd_create("vhost-user-blk-inflight",
			  MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, size) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)) {
		ret = -errno;
		goto err;
	}
	ret = inflight_install(b, fd, size, 0, in->num_queues, qsize);
	if (ret)
		goto err;
	q->reply->hdr.size = sizeof(q->reply->payload.inflight);
	q->reply->payload.inflight = *in;
	q->reply->payload.inflight.mmap_size = size;
	q->reply->payload.inflight.mmap_offset = 0;
	q->reply_fd = fd;
	return 0;
err:
	close(fd);
	return ret;
}

/*
 * SET_INFLIGHT_FD: the frontend's regions, from GET_INFLIGHT_FD to this
 * bridge or an earlier one. Their content is checked by the kernel when
 * each queue starts; here only that the file holds what it claims.
 */
static int h_set_inflight_fd(struct bridge *b, struct req *q)
{
	const struct vhost_user_inflight *in = &q->m->payload.inflight;
	uint64_t qsize;
	int ret;

	ret = inflight_check(b, q, &qsize);
	if (ret)
		return ret;
	if (q->nfds != 1)
		return -EBADF;
	if (in->mmap_size < qsize * in->num_queues)
		return -EINVAL;
	return inflight_install(b, q->fds[0], in->mmap_size, in->mmap_offset,
			    in->num_queues, qsize);
}

/* ---- the backend channel ---- */

static void backend_close(struct bridge *b)
{
	if (b->backend_fd >= 0)
		close(b->backend_fd);
	b->backend_fd = -1;
	b->ack_deadline = 0;
	b->change_pending = false;
}

/*
 * SET_BACKEND_REQ_FD: the socket the bridge sends its own requests on
 * (CONFIG_CHANGE_MSG). Replaces an earlier one.
 */
static int h_set_backend_req_fd(struct bridge *b, struct req *q)
{
	struct stat st;
	int fl, ret = need_size(q, 0);

	if (ret)
		return ret;
	if (!(b->protocol_features &
	      (1ULL << VHOST_USER_PROTOCOL_F_BACKEND_REQ)))
		return -EOPNOTSUPP;
	if (q->nfds != 1)
		return -EINVAL;
	if (fstat(q->fds[0], &st))
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	/* Sending must never wait for a frontend that does not read. */
	fl = fcntl(q->fds[0], F_GETFL);
	if (fl < 0 || fcntl(q->fds[0], F_SETFL, fl | O_NONBLOCK))
		return -errno;
	backend_close(b);
	b->backend_fd = q->fds[0];
	q->fds[0] = -1;
	return 0;
}

/*
 * Tell the frontend its config changed. With REPLY_ACK the ack is read
 * by backend_reply() as it comes; until then a new change only waits.
 */
static void backend_config_change(struct bridge *b)
{
	struct vhost_user_msg m = {
		.hdr = {
			.request = VHOST_USER_BACKEND_CONFIG_CHANGE_MSG,
			.flags = VHOST_USER_VERSION,
		},
	};
	bool ack = b->protocol_features &
		   (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK);
	int ret;

	if (b->backend_fd < 0 ||
	    (b->protocol_features & CONFIG_CHANGE_FEATURES) !=
	    CONFIG_CHANGE_FEATURES) {
		pr_info("the frontend takes no CONFIG_CHANGE_MSG: its guest is not told");
		return;
	}
	if (b->ack_deadline) {
		b->change_pending = true;
		return;
	}
	if (ack)
		m.hdr.flags |= VHOST_USER_FLAG_NEED_REPLY;
	ret = vhost_user_send(b->backend_fd, &m, NULL, 0);
	if (ret) {
		pr_warn("CONFIG_CHANGE_MSG: %s: closing the backend channel",
			strerror(-ret));
		backend_close(b);
		return;
	}
	if (b->verbose)
		pr_debug("CONFIG_CHANGE_MSG sent");
	if (ack)
		b->ack_deadline = now_ms() + ACK_TIMEOUT_MS;
}

/*
 * Something on the backend channel: the ack of CONFIG_CHANGE_MSG, and
 * nothing else. Anything else, or a hang-up, closes the channel.
 */
static void backend_reply(struct bridge *b, struct vhost_user_msg *m)
{
	int64_t left = (int64_t)b->ack_deadline - (int64_t)now_ms();
	struct vhost_user_wait w = {
		.sigmask = &b->waitmask,
		.stop = &stop_requested,
	};
	int fds[VHOST_USER_MAX_FDS];
	unsigned int nfds;
	int ret;

	/*
	 * Nothing is due: do not wait for the rest of whatever came. An ack
	 * is read within what is left of its deadline, and a stop request
	 * ends the wait, so the main channel waits at most that long.
	 */
	if (!b->ack_deadline || left <= 0) {
		pr_warn("backend channel: %s: closing it",
			b->ack_deadline ? "no ack in time" :
			"input while no ack is due");
		backend_close(b);
		return;
	}
	w.timeout_ms = left;
	ret = vhost_user_recv_wait(b->backend_fd, m, fds, &nfds, &w);
	if (ret) {
		pr_warn("backend channel: %s: closing it",
			ret == -ECONNRESET ? "closed by the frontend" :
			strerror(-ret));
		backend_close(b);
		return;
	}
	for (unsigned int i = 0; i < nfds; i++)
		close(fds[i]);
	if (!b->ack_deadline || nfds ||
	    m->hdr.request != VHOST_USER_BACKEND_CONFIG_CHANGE_MSG ||
	    (m->hdr.flags & ~VHOST_USER_VERSION_MASK) !=
	    VHOST_USER_FLAG_REPLY ||
	    m->hdr.size != sizeof(m->payload.u64)) {
		pr_warn("backend channel: unexpected message %u: closing it",
			m->hdr.request);
		backend_close(b);
		return;
	}
	if (m->payload.u64)
		pr_warn("the frontend failed CONFIG_CHANGE_MSG (%" PRIu64 ")",
			m->payload.u64);
	else if (b->verbose)
		pr_debug("CONFIG_CHANGE_MSG acked");
	b->ack_deadline = 0;
	if (b->change_pending) {
		b->change_pending = false;
		backend_config_change(b);
	}
}

/* No ack in time: the frontend does not read the channel. */
static void backend_timeout(struct bridge *b)
{
	if (!b->ack_deadline || now_ms() < b->ack_deadline)
		return;
	pr_warn("no ack of CONFIG_CHANGE_MSG in %d ms: closing the backend channel",
		ACK_TIMEOUT_MS);
	backend_close(b);
}

/* The kernel saw the backend change size. */
static void config_changed(struct bridge *b)
{
	struct virtio_blk_config cfg;
	uint64_t v;

	if (read(b->cfg_efd, &v, sizeof(v)) != sizeof(v))
		return;
	if (!vhost_blk_get_config(b->vfd, &cfg, NULL, NULL))
		pr_info("backend resized: %" PRIu64 " bytes",
			(uint64_t)le64toh(cfg.capacity) * 512);
	if (b->conn_fd >= 0)
		backend_config_change(b);
}

static int handle(struct bridge *b, struct req *q)
{
	switch (q->m->hdr.request) {
	case VHOST_USER_GET_FEATURES:
		reply_u64(q, b->dev_features | F_PROTOCOL);
		return 0;
	case VHOST_USER_SET_FEATURES:
		return h_set_features(b, q);
	case VHOST_USER_GET_PROTOCOL_FEATURES:
		reply_u64(q, PROTOCOL_FEATURES);
		return 0;
	case VHOST_USER_SET_PROTOCOL_FEATURES:
		return h_set_protocol_features(b, q);
	case VHOST_USER_GET_QUEUE_NUM:
		reply_u64(q, b->queues);
		return 0;
	case VHOST_USER_GET_MAX_MEM_SLOTS:
		reply_u64(q, b->max_slots);
		return 0;
	case VHOST_USER_SET_OWNER:
		return 0;	/* the bridge owns the device already */
	case VHOST_USER_RESET_OWNER:
		return h_reset_owner(b);
	case VHOST_USER_RESET_DEVICE:
		return h_reset_device(b);
	case VHOST_USER_SET_MEM_TABLE:
		return h_set_mem_table(b, q);
	case VHOST_USER_ADD_MEM_REG:
		return h_add_mem_reg(b, q);
	case VHOST_USER_REM_MEM_REG:
		return h_rem_mem_reg(b, q);
	case VHOST_USER_SET_VRING_NUM:
	case VHOST_USER_SET_VRING_BASE:
	case VHOST_USER_GET_VRING_BASE:
	case VHOST_USER_SET_VRING_ENABLE:
		return h_vring_state(b, q);
	case VHOST_USER_SET_VRING_ADDR:
		return h_set_vring_addr(b, q);
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
		return h_vring_fd(b, q);
	case VHOST_USER_GET_CONFIG:
	case VHOST_USER_SET_CONFIG:
		return h_config(b, q);
	case VHOST_USER_SET_LOG_BASE:
		return h_set_log_base(b, q);
	case VHOST_USER_SET_LOG_FD:
		return h_set_log_fd(b, q);
	case VHOST_USER_GET_INFLIGHT_FD:
		return h_get_inflight_fd(b, q);
	case VHOST_USER_SET_INFLIGHT_FD:
		return h_set_inflight_fd(b, q);
	case VHOST_USER_SET_BACKEND_REQ_FD:
		return h_set_backend_req_fd(b, q);
	default:
		/* Postcopy, status, ...: not offered. */
		return -EOPNOTSUPP;
	}
}

/*
 * Read and answer one message. A negative return means the stream is
 * no longer usable: the caller disconnects.
 */
static int serve_one(struct bridge *b, struct vhost_user_msg *m,
		     struct vhost_user_msg *reply)
{
	const struct vhost_user_wait w = {
		.timeout_ms = MSG_TIMEOUT_MS,
		.sigmask = &b->waitmask,
		.stop = &stop_requested,
	};
	int fds[VHOST_USER_MAX_FDS];
	struct req q = { .m = m, .fds = fds, .reply = reply, .reply_fd = -1 };
	bool ack;
	int ret;

	ret = vhost_user_recv_wait(b->conn_fd, m, fds, &q.nfds, &w);
	if (ret) {
		if (ret == -ECONNRESET)
			pr_info("frontend disconnected");
		else if (ret == -EINTR)
			pr_warn("stopping in the middle of a message");
		else
			pr_warn("bad message from the frontend (%s): disconnecting",
				strerror(-ret));
		return ret;
	}
	if ((m->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
	    (m->hdr.flags & VHOST_USER_FLAG_REPLY)) {
		pr_warn("%s: bad flags 0x%x: disconnecting",
			vhost_user_request_name(m->hdr.request), m->hdr.flags);
		ret = -EPROTO;
		goto out;
	}

	memset(&reply->hdr, 0, sizeof(reply->hdr));
	ret = handle(b, &q);
	if (ret)
		pr_warn("%s (%u): %s", vhost_user_request_name(m->hdr.request),
			m->hdr.request, strerror(-ret));
	else if (b->verbose)
		pr_debug("%s (%u)", vhost_user_request_name(m->hdr.request),
			 m->hdr.request);

	ack = (m->hdr.flags & VHOST_USER_FLAG_NEED_REPLY) &&
	      (b->protocol_features &
	       (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK));
	if (vhost_user_has_reply(m->hdr.request)) {
		/* An empty payload tells the frontend it was refused. */
		if (ret)
			reply->hdr.size = 0;
	} else if (ack) {
		reply->hdr.size = sizeof(reply->payload.u64);
		reply->payload.u64 = -ret;
	} else {
		ret = 0;
		goto out;
	}
	reply->hdr.request = m->hdr.request;
	reply->hdr.flags = VHOST_USER_VERSION | VHOST_USER_FLAG_REPLY;
	ret = vhost_user_send(b->conn_fd, reply, &q.reply_fd,
			      q.reply_fd >= 0 ? 1 : 0);
	if (ret)
		pr_warn("replying to %s: %s: disconnecting",
			vhost_user_request_name(m->hdr.request), strerror(-ret));
out:
	for (unsigned int i = 0; i < q.nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (q.reply_fd >= 0)
		close(q.reply_fd);
	return ret;
}

/* The frontend is gone: stop everything, forget the session. */
static int disconnect(struct bridge *b)
{
	int ret;

	close(b->conn_fd);
	b->conn_fd = -1;
	backend_close(b);
	/* The kernel lets go of guest memory before it is unmapped. */
	ret = dev_reset(b);
	regions_drop(b);
	log_drop(b);
	inflight_drop(b);
	vrings_forget(b);
	b->acked_features = 0;
	b->protocol_features = 0;
	return ret;
}

/*
 * With --allow-uid or --allow-group, a frontend is served only if its
 * uid is allowed, or its gid or one of its supplementary groups
 * (SO_PEERCRED, SO_PEERGROUPS: as they were when it connected).
 */
static bool peer_allowed(const struct bridge *b, int fd)
{
	gid_t groups[256];
	struct ucred cr;
	socklen_t len = sizeof(cr);
	unsigned int i, j;

	if (!b->n_allow_uid && !b->n_allow_gid)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len)) {
		pr_warn("refusing a frontend: SO_PEERCRED: %s", strerror(errno));
		return false;
	}
	for (i = 0; i < b->n_allow_uid; i++)
		if (cr.uid == b->allow_uid[i])
			return true;
	for (i = 0; i < b->n_allow_gid; i++)
		if (cr.gid == b->allow_gid[i])
			return true;
	/* More groups than fit: ERANGE, and those are not looked at. */
	len = sizeof(groups);
	if (b->n_allow_gid &&
	    !getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len)) {
		for (i = 0; i < len / sizeof(groups[0]); i++)
			for (j = 0; j < b->n_allow_gid; j++)
				if (groups[i] == b->allow_gid[j])
					return true;
	}
	pr_warn("refusing a frontend of uid %u, gid %u: not allowed",
		(unsigned int)cr.uid, (unsigned int)cr.gid);
	return false;
}

/* "pid P uid U gid G" of the process at the other end of @fd. */
static const char *peer_cred(int fd, char *buf, size_t len)
{
	struct ucred uc;
	socklen_t n = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &n) || n != sizeof(uc))
		snprintf(buf, len, "unknown peer (%s)", strerror(errno));
	else
		snprintf(buf, len, "pid %d uid %u gid %u", (int)uc.pid,
			 (unsigned int)uc.uid, (unsigned int)uc.gid);
	return buf;
}

static void accept_one(struct bridge *b)
{
	/*
	 * Non-blocking: a frontend that does not read its replies until
	 * the socket is full is disconnected rather than blocking the
	 * bridge (it never has more than one reply to read).
	 */
	int fd = accept4(b->listen_fd, NULL, NULL,
			 SOCK_CLOEXEC | SOCK_NONBLOCK);
	char peer[64];

	if (fd < 0) {
		if (errno != EINTR && errno != EAGAIN)
			pr_err("accept: %s", strerror(errno));
		return;
	}
	if (!peer_allowed(b, fd)) {
		close(fd);
		return;
	}
	if (b->conn_fd >= 0) {
		pr_warn("a frontend is connected already: refusing another (%s)",
			peer_cred(fd, peer, sizeof(peer)));
		close(fd);
		return;
	}
	b->conn_fd = fd;
	pr_info("frontend connected (%s)", peer_cred(fd, peer, sizeof(peer)));
}

/* ---- the listening socket ---- */

/*
 * A socket nobody listens on at @sa is left from an earlier run: remove
 * it. One somebody listens on is another bridge's: -EADDRINUSE.
 */
static int remove_stale_socket(const struct sockaddr_un *sa)
{
	struct stat st;
	int probe, ret = 0;

	if (lstat(sa->sun_path, &st) || !S_ISSOCK(st.st_mode))
		return 0;
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (probe < 0)
		return -errno;
	/* EAGAIN: it listens, with a full backlog. */
	if (!connect(probe, (const struct sockaddr *)sa, sizeof(*sa)) ||
	    errno == EAGAIN)
		ret = -EADDRINUSE;
	else if (errno == ECONNREFUSED)
		unlink(sa->sun_path);
	close(probe);
	return ret;
}

/*
 * Listen on --socket PATH with --socket-mode and --socket-group applied
 * before anybody can connect: the socket is bound in a private directory
 * (0700) beside PATH, given its group and mode there, and only then moved
 * to PATH, which must not exist by then. So PATH never has the umask's
 * mode, nor names a socket of the wrong group. 0 or -1 (logged).
 */
static int listen_on(struct bridge *b)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sockaddr_un tmp = { .sun_family = AF_UNIX };
	char dir[sizeof(tmp.sun_path) - 2];	/* room for "/s" */
	const char *what, *slash;
	size_t len = strlen(b->sock_path);
	int fd = -1, ret;

	slash = strrchr(b->sock_path, '/');
	/* The private directory: "DIR/.vub-XXXXXX" for "DIR/NAME". */
	if (len >= sizeof(sa.sun_path) ||
	    snprintf(dir, sizeof(dir), "%.*s.vub-XXXXXX",
		     slash ? (int)(slash - b->sock_path + 1) : 0,
		     b->sock_path) >= (int)sizeof(dir)) {
		pr_err("%s: path too long", b->sock_path);
		return -1;
	}
	memcpy(sa.sun_path, b->sock_path, len + 1);
	ret = remove_stale_socket(&sa);
	if (ret) {
		pr_err("%s: %s", b->sock_path, ret == -EADDRINUSE ?
		       "another process listens on it" : strerror(-ret));
		return -1;
	}
	if (!mkdtemp(dir)) {
		pr_err("%s: creating a directory beside it: %s", b->sock_path,
		       strerror(errno));
		return -1;
	}
	snprintf(tmp.sun_path, sizeof(tmp.sun_path), "%s/s", dir);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	what = "socket";
	if (fd < 0)
		goto err_dir;
	what = "bind";
	if (bind(fd, (struct sockaddr *)&tmp, sizeof(tmp)))
		goto err_close;
	what = "--socket-group";
	if (b->sock_group_set && chown(tmp.sun_path, -1, b->sock_gid))
		goto err_unlink;
	what = "--socket-mode";
	if (b->sock_mode_set && chmod(tmp.sun_path, b->sock_mode))
		goto err_unlink;
	what = "listen";
	if (listen(fd, 4))
		goto err_unlink;
	/* Never over an existing PATH: somebody else made it meanwhile. */
	what = "moving it into place";
	if (renameat2(AT_FDCWD, tmp.sun_path, AT_FDCWD, b->sock_path,
		      RENAME_NOREPLACE)) {
		/* A filesystem without RENAME_NOREPLACE: a link fails alike. */
		if (errno != EINVAL || link(tmp.sun_path, b->sock_path))
			goto err_unlink;
		unlink(tmp.sun_path);
	}
	rmdir(dir);
	b->listen_fd = fd;
	return 0;

err_unlink:
	ret = errno;
	unlink(tmp.sun_path);
	errno = ret;
err_close:
	ret = errno;
	close(fd);
	errno = ret;
err_dir:
	ret = errno;
	rmdir(dir);
	pr_err("%s: %s: %s", b->sock_path, what, strerror(ret));
	return -1;
}

/*
 * The listening socket passed as fd @fd (--fd, or socket activation): it
 * must be a unix stream socket that listens. Made non-blocking and
 * close-on-exec. 0 or -1 (logged).
 */
static int listen_fd_take(struct bridge *b, int fd, const char *from)
{
	int domain = -1, type = -1, acc = 0;
	socklen_t n = sizeof(int);
	struct stat st;
	int fl;

	if (fstat(fd, &st) || !S_ISSOCK(st.st_mode) ||
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &n) ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &n) ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &n) ||
	    domain != AF_UNIX || type != SOCK_STREAM || !acc) {
		pr_err("%s: fd %d is not a listening unix stream socket", from,
		       fd);
		return -1;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC)) {
		pr_err("%s: fd %d: %s", from, fd, strerror(errno));
		return -1;
	}
	b->listen_fd = fd;
	return 0;
}

/*
 * Socket activation (sd_listen_fds(3)): LISTEN_PID is this process and
 * LISTEN_FDS is 1, the socket is fd 3 (SD_LISTEN_FDS_START). The variables
 * are removed either way. 1 if a socket was passed, 0 if none, -1 if
 * what was passed is not one listening socket (logged).
 */
#define LISTEN_FDS_START	3

static int listen_fds_from_env(struct bridge *b)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char *end;
	long n;
	int ret = 0;

	if (pid && fds) {
		errno = 0;
		n = strtol(pid, &end, 10);
		if (!errno && !*end && end != pid && n == getpid()) {
			n = strtol(fds, &end, 10);
			if (*end || end == fds || n != 1) {
				pr_err("LISTEN_FDS=%s: one socket expected", fds);
				ret = -1;
			} else {
				ret = listen_fd_take(b, LISTEN_FDS_START,
						     "LISTEN_FDS") ? -1 : 1;
			}
		}
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return ret;
}

/* The socket's name for the log in @buf: its path, or "fd N". */
static void listen_name(const struct bridge *b, char *buf, size_t len)
{
	struct sockaddr_un sa;
	socklen_t n = sizeof(sa);

	if (b->sock_path) {
		snprintf(buf, len, "%s", b->sock_path);
		return;
	}
	memset(&sa, 0, sizeof(sa));
	if (!getsockname(b->listen_fd, (struct sockaddr *)&sa, &n) &&
	    n > offsetof(struct sockaddr_un, sun_path) && sa.sun_path[0])
		snprintf(buf, len, "%.*s (fd %d)", (int)sizeof(sa.sun_path),
			 sa.sun_path, b->listen_fd);
	else
		snprintf(buf, len, "fd %d", b->listen_fd);
}

/* ---- the service manager ---- */

/*
 * sd_notify(3) without libsystemd: NOTIFY_SOCKET names a unix datagram
 * socket ("/path", or "@name" in the abstract namespace). It is connected
 * once, before the seccomp filter goes on, and each state is one write()
 * to it. Nothing without NOTIFY_SOCKET; a failure is only logged.
 */
static int notify_fd = -1;

static void notify_open(void)
{
	const char *e = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	int fd;

	if (!e || !*e)
		return;
	len = strlen(e);
	if ((e[0] != '/' && e[0] != '@') || len < 2 ||
	    len >= sizeof(sa.sun_path)) {
		pr_warn("NOTIFY_SOCKET=%s: not a unix socket address", e);
		return;
	}
	memcpy(sa.sun_path, e, len);
	if (e[0] == '@')
		sa.sun_path[0] = 0;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    connect(fd, (struct sockaddr *)&sa,
		    offsetof(struct sockaddr_un, sun_path) + len)) {
		pr_warn("NOTIFY_SOCKET=%s: %s", e, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	notify_fd = fd;
}

static void notify(const char *state)
{
	if (notify_fd >= 0 && write(notify_fd, state, strlen(state)) < 0)
		pr_warn("NOTIFY_SOCKET: %s", strerror(errno));
}

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* SIGINT or SIGTERM came while blocked: the stop flag was not set. */
static bool stop_signal_pending(void)
{
	sigset_t set;

	if (sigpending(&set))
		return false;
	if (!sigismember(&set, SIGINT) && !sigismember(&set, SIGTERM))
		return false;
	stop_requested = 1;
	return true;
}

static int serve(struct bridge *b)
{
	struct vhost_user_msg *m = malloc(sizeof(*m));
	struct vhost_user_msg *reply = malloc(sizeof(*reply));
	int rc = 0;

	if (!m || !reply) {
		pr_err("out of memory");
		rc = 1;
		goto out;
	}
	while (!stop_requested) {
		/* Closed fds (-1) are left out by poll(). */
		struct pollfd p[4] = {
			{ .fd = b->listen_fd, .events = POLLIN },
			{ .fd = b->cfg_efd, .events = POLLIN },
			{ .fd = b->conn_fd, .events = POLLIN },
			{ .fd = b->backend_fd, .events = POLLIN },
		};
		struct timespec ts;

		if (b->ack_deadline) {
			uint64_t now = now_ms(), left;

			left = now >= b->ack_deadline ? 0 : b->ack_deadline - now;
			ts.tv_sec = left / 1000;
			ts.tv_nsec = left % 1000 * 1000000;
		}
		if (ppoll(p, 4, b->ack_deadline ? &ts : NULL,
			  &b->waitmask) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("poll: %s", strerror(errno));
			rc = 1;
			break;
		}
		/*
		 * ppoll() that finds a descriptor ready returns without
		 * delivering a stop signal that is pending: a frontend that
		 * keeps its socket busy would hold it off for ever.
		 */
		if (stop_signal_pending())
			break;
		/* The current frontend first: its hang-up frees the slot. */
		if (b->conn_fd >= 0 && p[2].revents &&
		    serve_one(b, m, reply) < 0 && disconnect(b)) {
			pr_err("the device cannot be set up again: exiting");
			rc = 1;
			break;
		}
		/* Not a channel that replaced the one polled. */
		if (b->backend_fd >= 0 && b->backend_fd == p[3].fd &&
		    p[3].revents)
			backend_reply(b, m);
		backend_timeout(b);
		if (p[1].revents)
			config_changed(b);
		if (p[0].revents)
			accept_one(b);
	}
out:
	free(m);
	free(reply);
	return rc;
}

/* ---- least privilege ---- */

/*
 * Switch to --user (its uid, gid and groups) once the device, the
 * backend and the socket are open, and make sure root cannot come back.
 */
static int drop_privileges(const struct bridge *b)
{
	if (initgroups(b->user, b->gid) || setgid(b->gid) ||
	    setuid(b->uid)) {
		pr_err("dropping privileges to %s: %s", b->user, strerror(errno));
		return -1;
	}
	if (b->uid && !setuid(0)) {
		pr_err("dropping privileges to %s: root came back", b->user);
		return -1;
	}
	return 0;
}

#if defined(__x86_64__)
#define SECCOMP_AUDIT_ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SECCOMP_AUDIT_ARCH	AUDIT_ARCH_AARCH64
#endif

/*
 * The system calls the bridge makes while it serves: anything else kills
 * it (SECCOMP_RET_KILL_PROCESS, SIGSYS). ioctl() is allowed with
 * vhost's ioctl type (VHOST_VIRTIO) only, below. Sorted by name; a
 * call that new code needs is one more line. A call missing here shows
 * as a bridge killed by SIGSYS in the bridge selftests, which also run
 * every message under the filter; the audit log (type=SECCOMP) names
 * the call.
 */
static const unsigned int seccomp_allowed[] = {
	__NR_accept4,			/* a frontend */
	__NR_brk,			/* malloc() */
	__NR_clock_gettime,		/* deadlines (vDSO fallback) */
	__NR_close,
	__NR_exit_group,
	__NR_fcntl,			/* F_GETFL of a region's fd */
#ifdef __NR_fstat
	__NR_fstat,
#endif
	__NR_fstatfs,			/* where a region's file lives */
	__NR_ftruncate,			/* the inflight memfd */
	__NR_getsockopt,		/* SO_PEERCRED, SO_PEERGROUPS */
	__NR_madvise,			/* free() */
	__NR_memfd_create,		/* GET_INFLIGHT_FD */
	__NR_mmap,			/* guest memory, the log, malloc() */
	__NR_munmap,
	__NR_newfstatat,		/* fstat() */
	__NR_openat,			/* /dev/vhost-blk after a failed reset */
	__NR_ppoll,			/* waiting for the frontend */
	__NR_read,			/* the config eventfd */
#ifdef __NR_readlink
	__NR_readlink,			/* is_eventfd() */
#endif
	__NR_readlinkat,
	__NR_recvmsg,			/* messages and their fds */
	__NR_restart_syscall,
	__NR_rt_sigpending,		/* a stop signal held off by ppoll() */
	__NR_rt_sigreturn,		/* SIGINT, SIGTERM */
	__NR_sendmsg,			/* replies */
#ifdef __NR_unlink
	__NR_unlink,			/* the socket, at exit */
#endif
	__NR_unlinkat,
	__NR_write,			/* the log, sd_notify */
};

#define STMT(code, k)	((struct sock_filter)BPF_STMT(code, k))
#define JUMP(code, k, jt, jf)	((struct sock_filter)BPF_JUMP(code, k, jt, jf))

/* Install the filter of seccomp_allowed[] (no_new_privs is set already). */
static int seccomp_install(void)
{
#ifdef SECCOMP_AUDIT_ARCH
	struct sock_filter f[ARRAY_SIZE(seccomp_allowed) + 10];
	struct sock_fprog prog = { .filter = f };
	unsigned int n = 0, kill, allow;

	/* Jump targets: the two returns come last. */
	kill = ARRAY_SIZE(f) - 2;
	allow = ARRAY_SIZE(f) - 1;
	f[n++] = STMT(BPF_LD | BPF_W | BPF_ABS,
		      offsetof(struct seccomp_data, arch));
	f[n] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_AUDIT_ARCH, 0,
		    kill - n - 1);
	n++;
	f[n++] = STMT(BPF_LD | BPF_W | BPF_ABS,
		      offsetof(struct seccomp_data, nr));
#ifdef __X32_SYSCALL_BIT
	f[n] = JUMP(BPF_JMP | BPF_JGE | BPF_K, __X32_SYSCALL_BIT,
		    kill - n - 1, 0);
	n++;
#else
	f[n++] = STMT(BPF_JMP | BPF_JA, 0);
#endif
	/* ioctl(): the type byte of the command (low 32 bits, LE) only. */
	f[n] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 3);
	n++;
	f[n++] = STMT(BPF_LD | BPF_W | BPF_ABS,
		      offsetof(struct seccomp_data, args[1]));
	f[n++] = STMT(BPF_ALU | BPF_AND | BPF_K, _IOC_TYPEMASK << _IOC_TYPESHIFT);
	f[n] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, VHOST_VIRTIO << _IOC_TYPESHIFT,
		    allow - n - 1, kill - n - 1);
	n++;
	for (unsigned int i = 0; i < ARRAY_SIZE(seccomp_allowed); i++) {
		f[n] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, seccomp_allowed[i],
			    allow - n - 1, 0);
		n++;
	}
	f[kill] = STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[allow] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	prog.len = ARRAY_SIZE(f);
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
		pr_err("seccomp filter: %s", strerror(errno));
		return -1;
	}
	return 0;
#else
	pr_err("no seccomp filter for this architecture: use --no-seccomp");
	return -1;
#endif
}

/*
 * Give up what serving does not need: root (--user), gaining privileges
 * by exec (no_new_privs, always) and every system call but those of
 * seccomp_allowed[] (unless --no-seccomp).
 */
static int restrict_self(const struct bridge *b)
{
	if (b->drop && drop_privileges(b))
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		pr_err("no_new_privs: %s", strerror(errno));
		return -1;
	}
	return b->seccomp ? seccomp_install() : 0;
}

static unsigned int kernel_max_regions(void)
{
	FILE *f = fopen("/sys/module/vhost_blk/parameters/max_mem_regions",
			"re");
	unsigned int n = BRIDGE_MAX_SLOTS;

	if (f) {
		if (fscanf(f, "%u", &n) != 1)
			n = BRIDGE_MAX_SLOTS;
		fclose(f);
	}
	return n < BRIDGE_MAX_SLOTS ? n : BRIDGE_MAX_SLOTS;
}

/* @s as a user name or a number; NULL if neither. */
static const struct passwd *lookup_user(const char *s)
{
	static struct passwd num;
	const struct passwd *pw = getpwnam(s);
	unsigned long v;
	char *end;

	if (pw || !*s || strpbrk(s, "+- "))
		return pw;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v >= (uid_t)-1)
		return NULL;
	pw = getpwuid(v);
	if (pw)
		return pw;
	/* A uid without a name: no groups of its own. */
	num = (struct passwd){ .pw_name = (char *)s, .pw_uid = v,
			       .pw_gid = v };
	return &num;
}

/* @s as a group name or a number; NULL if neither. */
static const struct group *lookup_group(const char *s)
{
	static struct group num;
	const struct group *gr = getgrnam(s);
	unsigned long v;
	char *end;

	if (gr || !*s || strpbrk(s, "+- "))
		return gr;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v >= (gid_t)-1)
		return NULL;
	num = (struct group){ .gr_name = (char *)s, .gr_gid = v };
	return &num;
}

/* Options without a short form. */
enum {
	OPT_SOCKET_MODE = 0x100,
	OPT_SOCKET_GROUP,
	OPT_FD,
};

/* @arg as a number in @base, 0..@max, digits only; -1 if it is not one. */
static long parse_num(const char *arg, int base, long max)
{
	char *end;
	long v;

	if (*arg < '0' || *arg > '9')
		return -1;
	errno = 0;
	v = strtol(arg, &end, base);
	return errno || *end || v > max ? -1 : v;
}

/* --socket-mode, --socket-group and --fd into @b. 0, or -1 (logged). */
static int parse_socket_opt(struct bridge *b, int c, const char *arg)
{
	struct group *gr;
	long v;

	switch (c) {
	case OPT_SOCKET_MODE:
		v = parse_num(arg, 8, 0777);
		if (v < 0) {
			pr_err("--socket-mode takes an octal mode, 0..0777");
			return -1;
		}
		b->sock_mode = v;
		b->sock_mode_set = true;
		return 0;
	case OPT_SOCKET_GROUP:
		v = parse_num(arg, 10, INT_MAX);
		if (v < 0) {
			gr = getgrnam(arg);
			if (!gr) {
				pr_err("--socket-group %s: no such group", arg);
				return -1;
			}
			v = gr->gr_gid;
		}
		b->sock_gid = v;
		b->sock_group_set = true;
		return 0;
	default:
		v = parse_num(arg, 10, INT_MAX);
		if (v < 0) {
			pr_err("--fd takes a file descriptor number");
			return -1;
		}
		b->passed_fd = v;
		return 0;
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s --socket PATH [--socket-mode MODE]\n"
		"          [--socket-group GROUP] --backend DEV_OR_FILE\n"
		"          [--read-only] [--serial STR] [--queues N]\n"
		"          [--busyloop-us N] [--max-memory SIZE] [--user USER]\n"
		"          [--allow-uid USER] [--allow-group GROUP]\n"
		"          [--no-seccomp] [--verbose]\n"
		"       %s --fd N --backend DEV_OR_FILE [...]\n"
		"       %s --backend DEV_OR_FILE [...]   (socket activation)\n"
		"       %s --version\n"
		"Serve a vhost-user-blk frontend on the unix socket PATH with\n"
		"/dev/vhost-blk, backed by a block device or a raw image file.\n"
		"  --socket-mode MODE\n"
		"                the socket's mode, octal (default: from the umask)\n"
		"  --socket-group GROUP\n"
		"                the socket's group, a name or a number\n"
		"  --fd N        listen on the listening unix socket fd N instead\n"
		"                (without --socket and --fd: the one fd of\n"
		"                LISTEN_FDS, as systemd passes it)\n"
		"  --read-only   open the backend read-only, offer VIRTIO_BLK_F_RO\n"
		"  --serial STR  the GET_ID string (up to %d bytes)\n"
		"  --queues N    virtqueues offered, 1..%d (default: all)\n"
		"  --busyloop-us N\n"
		"                a queue's worker polls its empty ring N us\n"
		"                (0..%d, default 0) before waiting for a kick\n"
		"  --max-memory SIZE\n"
		"                guest memory the frontend may share, all\n"
		"                regions together (K, M, G, T: default 64G)\n"
		"  --user USER   serve as USER (and its groups), not as root\n"
		"  --allow-uid USER, --allow-group GROUP\n"
		"                serve only frontends of these users or groups\n"
		"                (names or numbers, each up to %d times)\n"
		"  --no-seccomp  no system call filter while serving\n"
		"  --verbose     log every message\n",
		prog, prog, prog, prog, VHOST_BLK_SERIAL_LEN,
		VHOST_BLK_MAX_QUEUES,
		VHOST_BLK_BUSYLOOP_MAX_US, MAX_ALLOWED);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "backend", required_argument, NULL, 'b' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "serial", required_argument, NULL, 'S' },
		{ "queues", required_argument, NULL, 'q' },
		{ "busyloop-us", required_argument, NULL, 'B' },
		{ "max-memory", required_argument, NULL, 'M' },
		{ "user", required_argument, NULL, 'u' },
		{ "allow-uid", required_argument, NULL, 'U' },
		{ "allow-group", required_argument, NULL, 'G' },
		{ "no-seccomp", no_argument, NULL, 'N' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "socket-mode", required_argument, NULL, OPT_SOCKET_MODE },
		{ "socket-group", required_argument, NULL, OPT_SOCKET_GROUP },
		{ "fd", required_argument, NULL, OPT_FD },
		{ }
	};
	/*
	 * Every queue the kernel can serve by default: QEMU's
	 * vhost-user-blk-pci asks for as many queues as the guest has vCPUs
	 * unless told num-queues, and refuses a backend that offers fewer
	 * (GET_QUEUE_NUM). A frontend uses the queues it asked for; the
	 * others cost nothing until they are started.
	 */
	struct bridge b = {
		.queues = VHOST_BLK_MAX_QUEUES, .listen_fd = -1, .conn_fd = -1,
		.vfd = -1, .bfd = -1, .serial = "",
		.max_memory = DEFAULT_MAX_MEMORY, .seccomp = true,
		.passed_fd = -1, .cfg_efd = -1, .backend_fd = -1,
	};
	struct sigaction sa = { .sa_handler = on_signal };
	char where[sizeof(((struct sockaddr_un *)0)->sun_path) + 24];
	char status[PATH_MAX + sizeof(where) + 64];
	sigset_t stopsigs;
	uint64_t bytes = 0;
	int c, ret, rc;

	log_init();
	while ((c = getopt_long(argc, argv, "s:b:rS:q:B:M:u:U:G:Nvh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			b.sock_path = optarg;
			break;
		case 'b':
			b.backend_path = optarg;
			break;
		case 'r':
			b.ro = true;
			break;
		case 'S':
			b.serial = optarg;
			break;
		case 'q': {
			uint64_t n;

			if (parse_u64(optarg, &n) || !n ||
			    n > VHOST_BLK_MAX_QUEUES) {
				pr_err("--queues takes 1..%d", VHOST_BLK_MAX_QUEUES);
				return 2;
			}
			b.queues = n;
			break;
		}
		case 'B': {
			uint64_t us;

			if (parse_u64(optarg, &us) ||
			    us > VHOST_BLK_BUSYLOOP_MAX_US) {
				pr_err("--busyloop-us takes 0..%d",
				       VHOST_BLK_BUSYLOOP_MAX_US);
				return 2;
			}
			b.busyloop_us = us;
			break;
		}
		case 'M':
			if (parse_u64(optarg, &b.max_memory) ||
			    !b.max_memory) {
				pr_err("--max-memory takes a size in bytes, K, M, G or T");
				return 2;
			}
			break;
		case 'u': {
			const struct passwd *pw = lookup_user(optarg);

			if (!pw) {
				pr_err("--user %s: no such user", optarg);
				return 2;
			}
			b.drop = true;
			b.uid = pw->pw_uid;
			b.gid = pw->pw_gid;
			b.user = strdup(pw->pw_name);
			if (!b.user) {
				pr_err("out of memory");
				return 1;
			}
			break;
		}
		case 'U': {
			const struct passwd *pw = lookup_user(optarg);

			if (!pw || b.n_allow_uid == MAX_ALLOWED) {
				pr_err("--allow-uid %s: %s", optarg,
				       pw ? "too many" : "no such user");
				return 2;
			}
			b.allow_uid[b.n_allow_uid++] = pw->pw_uid;
			break;
		}
		case 'G': {
			const struct group *gr = lookup_group(optarg);

			if (!gr || b.n_allow_gid == MAX_ALLOWED) {
				pr_err("--allow-group %s: %s", optarg,
				       gr ? "too many" : "no such group");
				return 2;
			}
			b.allow_gid[b.n_allow_gid++] = gr->gr_gid;
			break;
		}
		case 'N':
			b.seccomp = false;
			break;
		case 'v':
			b.verbose = true;
			log_rl.off = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("%s %s\n", prog, VHOST_BLK_VERSION);
			return 0;
		case OPT_SOCKET_MODE:
		case OPT_SOCKET_GROUP:
		case OPT_FD:
			if (parse_socket_opt(&b, c, optarg))
				return 2;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !b.backend_path) {
		usage(stderr);
		return 2;
	}
	if (b.sock_path && b.passed_fd >= 0) {
		pr_err("--socket and --fd exclude each other");
		return 2;
	}
	if (!b.sock_path && (b.sock_mode_set || b.sock_group_set)) {
		pr_err("--socket-mode and --socket-group apply to --socket");
		return 2;
	}
	/* The socket passed must be one, before anything is opened. */
	if (b.passed_fd >= 0) {
		if (listen_fd_take(&b, b.passed_fd, "--fd"))
			return 2;
	} else if (!b.sock_path) {
		ret = listen_fds_from_env(&b);
		if (ret < 0)
			return 2;
		if (!ret) {
			pr_err("no --socket, no --fd and no LISTEN_FDS");
			usage(stderr);
			return 2;
		}
	}
	if (strlen(b.serial) > VHOST_BLK_SERIAL_LEN) {
		pr_err("--serial takes up to %d bytes", VHOST_BLK_SERIAL_LEN);
		return 2;
	}
	page_size = sysconf(_SC_PAGESIZE);
	for (unsigned int i = 0; i < VHOST_BLK_MAX_QUEUES; i++)
		b.vrings[i].kick_fd = -1;

	b.bfd = open(b.backend_path, (b.ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (b.bfd < 0) {
		pr_err("%s: %s", b.backend_path, strerror(errno));
		return 1;
	}
	b.cfg_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b.cfg_efd < 0) {
		pr_err("eventfd: %s", strerror(errno));
		return 1;
	}
	ret = dev_open(&b);
	if (ret) {
		pr_err("%s with %s: %s", VHOST_BLK_DEV_PATH, b.backend_path,
		       strerror(-ret));
		return 1;
	}
	b.max_slots = kernel_max_regions();

	/* Delivered only while waiting: see bridge.waitmask. */
	sigemptyset(&stopsigs);
	sigaddset(&stopsigs, SIGINT);
	sigaddset(&stopsigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &stopsigs, &b.waitmask);
	sigdelset(&b.waitmask, SIGINT);
	sigdelset(&b.waitmask, SIGTERM);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (b.sock_path && listen_on(&b))
		return 1;

	{
		struct virtio_blk_config cfg;

		if (!vhost_blk_get_config(b.vfd, &cfg, NULL, NULL))
			bytes = le64toh(cfg.capacity) * 512;
	}
	listen_name(&b, where, sizeof(where));
	notify_open();
	if (restrict_self(&b)) {
		rc = 1;
		goto out;
	}
	pr_info("serving %s (%" PRIu64 " bytes%s, %u queue%s) on %s",
		b.backend_path, bytes, b.ro ? ", read-only" : "", b.queues,
		b.queues > 1 ? "s" : "", where);
	snprintf(status, sizeof(status), "READY=1\nSTATUS=serving %s on %s",
		 b.backend_path, where);
	notify(status);

	rc = serve(&b);
	notify("STOPPING=1");
out:
	if (b.conn_fd >= 0)
		close(b.conn_fd);
	close(b.vfd);		/* stops and drains every queue */
	regions_drop(&b);
	vrings_forget(&b);
	close(b.bfd);
	close(b.cfg_efd);
	backend_close(&b);
	close(b.listen_fd);
	if (b.sock_path)
		unlink(b.sock_path);
	log_report_suppressed();
	pr_info("exiting");
	return rc;
}
