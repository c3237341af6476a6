// SPDX-License-Identifier: GPL-2.0
/*
 * bridge: tools/build/vhost-user-blk-bridge, the vhost-user-blk backend
 * that hands the data path to /dev/vhost-blk, driven by the userspace
 * driver over its vhost-user transport (guest memory in a memfd, eventfds
 * passed over the socket), as a VMM would drive it.
 *
 * Every test starts its own bridge on VHOST_BLK_TEST_DEV with two queues,
 * checks what it is about, and at teardown that the bridge is still
 * running and exits cleanly on SIGTERM. Data is checked through the
 * device and directly on the backend with O_DIRECT. Malformed messages
 * must get an error or a disconnect, after which the bridge serves a new
 * frontend. The qsd fixture runs the data test against
 * qemu-storage-daemon's vhost-user-blk export (skipped without it).
 *
 * qemu_boots_through_bridge runs an unmodified QEMU with
 * vhost-user-blk-pci on the bridge: SeaBIOS's virtio-blk driver loads
 * the boot sector of bridge_boot.S from the disk, which reads, writes
 * and resets the machine once (skipped without qemu-system-x86_64).
 *
 * qemu_rereads_config_on_resize grows the bridge's file under QEMU
 * and sees QEMU take CONFIG_CHANGE_MSG: it reads GET_CONFIG and acks.
 *
 * VHOST_BLK_BRIDGE names the bridge binary (default: the one next to
 * this tree's tests, tools/build/vhost-user-blk-bridge).
 */
#include <grp.h>
#include <pwd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/eventfd.h>

#include "kselftest_harness.h"
#include "vhost_blk_test.h"
#include "vhost_user.h"

#define F(bit)		(1ULL << (bit))
#define SERIAL		"bridge-selftest"
#define QUEUES		2
#define QSD		"/usr/bin/qemu-storage-daemon"
#define QEMU		"/usr/bin/qemu-system-x86_64"
/* isa-debug-exit: the boot sector's 0x10 and 0x11, as QEMU exits. */
#define BOOT_OK		33
#define BOOT_FAILED	35
/* The bridge gives a stalled message this long (MSG_TIMEOUT_MS). */
#define STALL_MS	5000

struct server {
	pid_t pid;
	char sock[108];
	char log[128];			/* its stdout and stderr */
};

/* @name relative to the directory of this test binary. */
static const char *beside_me(const char *name)
{
	static char path[PATH_MAX + 64];
	char exe[PATH_MAX];
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return name;
	exe[n] = 0;
	*strrchr(exe, '/') = 0;
	snprintf(path, sizeof(path), "%s/%s", exe, name);
	return path;
}

static const char *bridge_bin(void)
{
	const char *p = getenv("VHOST_BLK_BRIDGE");

	if (p && *p)
		return p;
	/* tests/selftests/build/bridge -> tools/build/ */
	return beside_me("../../../tools/build/vhost-user-blk-bridge");
}

/*
 * Run @argv (a server that listens on s->sock) in a child that dies with
 * us, its output in s->log; wait until the socket exists. 0 or -errno.
 */
static int server_start(struct server *s, char *const *argv)
{
	struct stat st;
	int status;

	snprintf(s->log, sizeof(s->log), "%s.log", s->sock);
	s->pid = fork();
	if (s->pid < 0)
		return -errno;
	if (!s->pid) {
		int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execv(argv[0], argv);
		fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	for (int i = 0; i < 3000; i++) {
		if (!stat(s->sock, &st) && S_ISSOCK(st.st_mode))
			return 0;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			return -ECHILD;
		}
		usleep(10000);
	}
	return -ETIMEDOUT;
}

static void sock_name(struct server *s, const char *what)
{
	static unsigned int n;

	snprintf(s->sock, sizeof(s->sock), "/tmp/vhost-blk-%s-%d-%u.sock",
		 what, getpid(), n++);
	unlink(s->sock);
}

/*
 * A bridge on @backend offering @queues queues (NULL: its default) with
 * @extra options (NULL terminated, or NULL).
 */
static int bridge_start_queues(struct server *s, const char *backend,
			       const char *queues, const char *const *extra)
{
	char *argv[16] = {
		(char *)bridge_bin(), "--socket", s->sock, "--backend",
		(char *)backend, "--serial", SERIAL,
	};
	int n = 7;

	sock_name(s, "bridge");
	if (queues) {
		argv[n++] = "--queues";
		argv[n++] = (char *)queues;
	}
	for (int i = 0; extra && extra[i] && n < 15; i++)
		argv[n++] = (char *)extra[i];
	return server_start(s, argv);
}

/* A bridge on @backend, 2 queues, with @extra options. */
static int bridge_start(struct server *s, const char *backend,
			const char *const *extra)
{
	return bridge_start_queues(s, backend, "2", extra);
}

static bool server_alive(struct server *s)
{
	return s->pid > 0 && waitpid(s->pid, NULL, WNOHANG) == 0;
}

/* SIGTERM; the exit status, 128 + signal, or -1 if it had to be killed. */
static int server_stop(struct server *s)
{
	int status;

	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	for (int i = 0; i < 1000; i++) {
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			unlink(s->sock);
			return WIFEXITED(status) ? WEXITSTATUS(status) :
			       128 + WTERMSIG(status);
		}
		usleep(10000);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &status, 0);
	s->pid = 0;
	unlink(s->sock);
	return -1;
}

/*
 * The end of a test for server @s: it must still run and exit 0 on
 * SIGTERM (if @clean_exit). Its log is shown if the test failed.
 */
static void server_done(struct __test_metadata *_metadata, struct server *s,
			bool clean_exit)
{
	char line[512];
	FILE *f;

	if (s->pid > 0) {
		int status;

		EXPECT_TRUE(server_alive(s));
		status = server_stop(s);
		if (clean_exit) {
			EXPECT_EQ(0, status);
		}
	}
	if (!s->log[0])
		return;
	f = fopen(s->log, "re");
	if (f && _metadata->exit_code == KSFT_FAIL) {
		fprintf(stderr, "# ---- %s ----\n", s->log);
		while (fgets(line, sizeof(line), f))
			fprintf(stderr, "# %s", line);
	}
	if (f)
		fclose(f);
	unlink(s->log);
	s->log[0] = 0;
}

/* A driver on the vhost-user socket @sock with @nq queues started. */
static int vu_create(struct vblk_dev **d, const char *sock, unsigned int nq,
		     enum vblk_mem_layout layout)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;

	o.vhost_user = sock;
	/* bridge_start() sees the socket once bound, maybe not listening. */
	o.vhost_user_wait_ms = IO_TIMEOUT_MS;
	o.num_queues = nq;
	o.layout = layout;
	o.mem_size = 16 << 20;
	return vblk_dev_create(d, &o, -1, 0, NULL);
}

/*
 * Verified data both ways on every queue of @d: requests of several
 * sizes written through one queue, read back through the other and
 * checked on @backend; data written to @backend read through the device;
 * 32 requests in flight per queue, half of them indirect.
 */
static void round_trip(struct __test_metadata *_metadata, struct vblk_dev *d,
		       const char *backend, uint64_t seed)
{
	static const uint32_t sizes[] = {
		512, 4096, 7 * 512, 65536, 256 << 10, 1 << 20,
	};
	const unsigned int per_q = 32, nq = d->num_queues;
	struct vblk_req *rs[QUEUES * 32];
	uint64_t sector = 2048, gpa, big;
	struct vblk_req *r;
	uint8_t *p;

	r = vblk_req_alloc(d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(d, 1 << 20, 4096, &gpa));
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (unsigned int q = 0; q < nq; q++) {
			uint32_t len = sizes[i];

			ASSERT_EQ(VIRTIO_BLK_S_OK,
				  write_pattern(&d->vqs[q], r, gpa, sector, len,
						seed));
			EXPECT_EQ(0, check_pattern(&d->vqs[(q + 1) % nq], r,
						   gpa, sector, len, seed))
				TH_LOG("%u bytes at sector %" PRIu64, len,
				       sector);
			EXPECT_EQ(0, disk_check_pattern(backend, sector, len, seed))
				TH_LOG("%u bytes at sector %" PRIu64
				       " not on %s", len, sector, backend);
			sector += len / 512 + 8;
		}
	}

	ASSERT_EQ(0, disk_write_pattern(backend, sector, 65536, seed ^ 1));
	for (unsigned int q = 0; q < nq; q++)
		EXPECT_EQ(0, check_pattern(&d->vqs[q], r, gpa, sector, 65536,
					   seed ^ 1));
	sector += 256;

	ASSERT_LE(nq, QUEUES);
	ASSERT_EQ(0, vblk_alloc(d, (size_t)nq * per_q * 4096, 4096, &big));
	p = vblk_gpa_to_hva(d, big, (size_t)nq * per_q * 4096);
	ASSERT_NE(NULL, p);
	for (unsigned int q = 0; q < nq; q++) {
		for (unsigned int k = 0; k < per_q; k++) {
			unsigned int i = q * per_q + k;
			uint64_t s = sector + i * 8;

			rs[i] = vblk_req_alloc(d);
			ASSERT_NE(NULL, rs[i]);
			vblk_pattern_fill(p + i * 4096, 4096, s, seed ^ 2);
			vblk_req_reset(rs[i], VIRTIO_BLK_T_OUT, s);
			vblk_req_add_seg(rs[i], big + i * 4096, 4096);
			ASSERT_LE(0, vblk_req_submit(&d->vqs[q], rs[i],
						     k % 2 ? VBLK_ADD_INDIRECT : 0));
		}
		ASSERT_EQ(0, vblk_vq_kick(&d->vqs[q]));
	}
	for (unsigned int q = 0; q < nq; q++)
		ASSERT_EQ(0, vblk_vq_drain(&d->vqs[q], IO_TIMEOUT_MS));
	for (unsigned int i = 0; i < nq * per_q; i++) {
		EXPECT_EQ(VIRTIO_BLK_S_OK, rs[i]->status);
		EXPECT_EQ(1, rs[i]->used_len);
		vblk_req_free(d, rs[i]);
	}
	EXPECT_EQ(0, disk_check_pattern(backend, sector, nq * per_q * 4096, seed ^ 2));
	vblk_req_free(d, r);
}

/* A new frontend on @sock gets verified I/O through queue 1. */
static void serves(struct __test_metadata *_metadata, const char *sock,
		   uint64_t seed)
{
	struct vblk_dev *d;
	struct vblk_req *r;
	uint64_t gpa;

	ASSERT_EQ(0, vu_create(&d, sock, QUEUES, VBLK_MEM_ONE));
	r = vblk_req_alloc(d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(d, 65536, 4096, &gpa));
	EXPECT_EQ(VIRTIO_BLK_S_OK, write_pattern(&d->vqs[1], r, gpa, 300,
						 65536, seed));
	EXPECT_EQ(0, check_pattern(&d->vqs[1], r, gpa, 300, 65536, seed));
	vblk_dev_destroy(d);
}

/*
 * True if the kicked request @r stays untouched for QUIET_MS: not on the
 * used ring (a stale call eventfd count proves nothing either way).
 */
static bool not_served(struct vblk_vq *vq, struct vblk_req *r)
{
	uint16_t used = vblk_vq_used_idx(vq);

	usleep(QUIET_MS * 1000);
	vblk_vq_reap(vq, NULL, UINT_MAX);
	return !r->done && vblk_vq_used_idx(vq) == used;
}

/* 1 once the peer closed @sock within @ms (replies are skipped), else 0. */
static int peer_closed(int sock, int ms)
{
	uint64_t end = vblk_now_ns() + (uint64_t)ms * 1000000;
	char buf[512];

	while (vblk_now_ns() < end) {
		struct pollfd p = { .fd = sock, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 50) <= 0)
			continue;
		n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT);
		if (!n || (n < 0 && errno == ECONNRESET))
			return 1;
	}
	return 0;
}

/* sendmsg() of @len raw bytes with @nfds descriptors. */
static int raw_send(int sock, const void *buf, size_t len, const int *fds,
		    unsigned int nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 64)];
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > 64)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *cm;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -errno;
}

/* A frontend connection with MQ, REPLY_ACK and CONFIG negotiated. */
static struct vhost_user_conn *raw_conn(const char *sock)
{
	struct vhost_user_conn *c;
	uint64_t f;

	if (vhost_user_connect(&c, sock, IO_TIMEOUT_MS))
		return NULL;
	if (vhost_user_get_features(c, &f) ||
	    vhost_user_set_protocol_features(c,
			F(VHOST_USER_PROTOCOL_F_MQ) |
			F(VHOST_USER_PROTOCOL_F_REPLY_ACK) |
			F(VHOST_USER_PROTOCOL_F_CONFIG)) ||
	    vhost_user_set_owner(c)) {
		vhost_user_disconnect(c);
		return NULL;
	}
	return c;
}

/* Send @request with @size bytes of @payload; the REPLY_ACK result. */
static int raw_call(struct vhost_user_conn *c, uint32_t request,
		    const void *payload, uint32_t size, const int *fds,
		    unsigned int nfds)
{
	struct vhost_user_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr.request = request;
	m.hdr.size = size;
	if (size)
		memcpy(&m.payload, payload, size);
	return vhost_user_call(c, &m, fds, nfds, NULL, 0);
}

static int new_memfd(size_t size)
{
	int fd = memfd_create("bridge-selftest", MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, size)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- the bridge on VHOST_BLK_TEST_DEV ---- */

FIXTURE(br) {
	struct server s;
	struct vblk_dev *d;
	uint64_t seed;
};

FIXTURE_SETUP(br)
{
	int ret;

	self->seed = fresh_seed();
	if (access(bridge_bin(), X_OK))
		SKIP(return, "%s: %s (make -C tools)", bridge_bin(),
		     strerror(errno));
	ret = bridge_start(&self->s, test_dev(), NULL);
	ASSERT_EQ(0, ret) TH_LOG("starting %s: %s", bridge_bin(),
				 strerror(-ret));
}

FIXTURE_TEARDOWN(br)
{
	vblk_dev_destroy(self->d);
	server_done(_metadata, &self->s, true);
}

TEST_F(br, data_two_queues)
{
	ASSERT_EQ(0, vu_create(&self->d, self->s.sock, QUEUES, VBLK_MEM_ONE));
	EXPECT_EQ(QUEUES, self->d->max_queues);
	round_trip(_metadata, self->d, test_dev(), self->seed);
}

TEST_F(br, data_split_memory_no_event_idx)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;

	/* Two regions (two mappings in the bridge), no EVENT_IDX. */
	o.vhost_user = self->s.sock;
	o.num_queues = QUEUES;
	o.layout = VBLK_MEM_SPLIT;
	o.mem_size = 16 << 20;
	o.features_clear = F(VIRTIO_RING_F_EVENT_IDX);
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, -1, 0, NULL));
	EXPECT_FALSE(vblk_dev_has_feature(self->d, VIRTIO_RING_F_EVENT_IDX));
	round_trip(_metadata, self->d, test_dev(), self->seed);
}

TEST_F(br, dirty_log)
{
	struct vhost_user_msg m, rep;
	struct vblk_req *r;
	uint64_t buf;
	void *p;

	ASSERT_EQ(0, vu_create(&self->d, self->s.sock, 1, VBLK_MEM_ONE));
	r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(self->d, 3 * 4096, 4096, &buf));
	p = vblk_gpa_to_hva(self->d, buf, 3 * 4096);
	vblk_pattern_fill(p, 3 * 4096, 0, self->seed);
	vblk_req_reset(r, VIRTIO_BLK_T_OUT, 0);
	ASSERT_EQ(0, vblk_req_add_seg(r, buf, 3 * 4096));
	ASSERT_EQ(0, vblk_do(&self->d->vqs[0], r, 0, IO_TIMEOUT_MS));
	ASSERT_EQ(VIRTIO_BLK_S_OK, r->status);

	/* SET_LOG_BASE with the log in a memfd, SET_LOG_FD, LOG_ALL, F_LOG. */
	ASSERT_EQ(0, vblk_dev_log_start(self->d));
	vblk_log_clear(self->d);
	memset(p, 0, 3 * 4096);
	vblk_req_reset(r, VIRTIO_BLK_T_IN, 0);
	ASSERT_EQ(0, vblk_req_add_seg(r, buf + 4096, 2 * 4096));
	ASSERT_EQ(0, vblk_do(&self->d->vqs[0], r, 0, IO_TIMEOUT_MS));
	ASSERT_EQ(VIRTIO_BLK_S_OK, r->status);
	EXPECT_FALSE(vblk_log_test(self->d, buf));
	EXPECT_TRUE(vblk_log_test(self->d, buf + 4096));
	EXPECT_TRUE(vblk_log_test(self->d, buf + 2 * 4096));
	EXPECT_TRUE(vblk_log_test(self->d, r->status_gpa));
	EXPECT_TRUE(vblk_log_test(self->d, self->d->vqs[0].used_gpa + 2));
	EXPECT_EQ(1, vblk_eventfd_wait(self->d->log_efd, IO_TIMEOUT_MS));

	/* Off again: the bitmap stays as it is. */
	ASSERT_EQ(0, vblk_dev_log_stop(self->d));
	vblk_log_clear(self->d);
	ASSERT_EQ(0, vblk_do(&self->d->vqs[0], r, 0, IO_TIMEOUT_MS));
	for (size_t i = 0; i < self->d->log_size; i++)
		ASSERT_EQ(0, self->d->log[i]);

	/* SET_LOG_BASE without its fd, or with a short payload. */
	memset(&m, 0, sizeof(m));
	m.hdr.request = VHOST_USER_SET_LOG_BASE;
	m.hdr.size = sizeof(m.payload.log);
	m.payload.log.mmap_size = self->d->log_size;
	EXPECT_EQ(-EIO, vhost_user_call(self->d->vu, &m, NULL, 0, &rep, 8));
	m.hdr.size = 8;
	EXPECT_EQ(-EIO, vhost_user_call(self->d->vu, &m, &self->d->log_fd, 1,
					&rep, 8));
}

/* SET_FEATURES as @d acked them, with VHOST_F_LOG_ALL if @log. */
static int vu_log_all(struct vblk_dev *d, bool log)
{
	uint64_t f = d->features | (log ? F(VHOST_F_LOG_ALL) : 0);

	if (d->vu_protocol)
		f |= F(VHOST_USER_F_PROTOCOL_FEATURES);
	return vhost_user_set_features(d->vu, f);
}

/* SET_VRING_ADDR of the running queue 0, logged at @log_gpa if @log. */
static int vu_ring_log(struct vblk_dev *d, bool log, uint64_t log_gpa)
{
	struct vblk_vq *vq = &d->vqs[0];

	return vhost_user_set_vring_addr_log(d->vu, 0, (uintptr_t)vq->desc,
		(uintptr_t)vq->avail, (uintptr_t)vq->used,
		log ? 1U << VHOST_VRING_F_LOG : 0, log_gpa);
}

/* The last byte of process @pid's heap (never allocated here), or 0. */
static uint64_t heap_last_byte(pid_t pid)
{
	char path[64], line[512];
	uint64_t lo, hi, last = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "[heap]") &&
		    sscanf(line, "%" SCNx64 "-%" SCNx64, &lo, &hi) == 2)
			last = hi - 1;
	if (f)
		fclose(f);
	return last;
}

/* Byte @addr of process @pid, or -1. */
static int peek_byte(pid_t pid, uint64_t addr)
{
	char path[64];
	uint8_t v;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = pread(fd, &v, 1, addr);
	close(fd);
	return n == 1 ? v : -1;
}

/* A read of one page at @gpa through queue 0: its status. */
static uint8_t read_page(struct __test_metadata *_metadata,
			 struct vblk_dev *d, struct vblk_req *r, uint64_t gpa)
{
	vblk_req_reset(r, VIRTIO_BLK_T_IN, 0);
	EXPECT_EQ(0, vblk_req_add_seg(r, gpa, 4096));
	EXPECT_EQ(0, vblk_do(&d->vqs[0], r, 0, IO_TIMEOUT_MS));
	return r->status;
}

/*
 * VHOST_SET_LOG_BASE has no size: the kernel sets a bit at log base +
 * gpa / 32768 wherever that is in the bridge. So the bridge refuses
 * logging (LOG_ALL, F_LOG) without a log, a log shorter than guest
 * memory or than a logged used ring needs, a log fd shorter than the log
 * or not a file, and memory growing past the log in use; and the bytes
 * of the bridge such a log would reach stay as they were.
 */
TEST_F(br, dirty_log_must_cover_what_the_kernel_writes)
{
	struct vhost_user_mem_reg reg = { 0 };
	uint64_t buf, need, target, end;
	struct vblk_req *r;
	struct vblk_vq *vq;
	int before, fd, pipefd[2];

	ASSERT_EQ(0, vu_create(&self->d, self->s.sock, 1, VBLK_MEM_ONE));
	vq = &self->d->vqs[0];
	r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(self->d, 4096, 4096, &buf));
	end = self->d->regions[0].gpa + self->d->regions[0].size;
	need = (end - 1) / 32768 + 1;

	/*
	 * No log at all: the kernel's base would be NULL, and a used ring
	 * logged at target * 32768 would set a bit of the bridge's heap.
	 */
	target = heap_last_byte(self->s.pid);
	ASSERT_NE(0, target);
	before = peek_byte(self->s.pid, target);
	ASSERT_LE(0, before);
	EXPECT_EQ(-EFAULT, vu_log_all(self->d, true));
	EXPECT_EQ(-EFAULT, vu_ring_log(self->d, true, target * 32768));
	EXPECT_EQ(VIRTIO_BLK_S_OK, read_page(_metadata, self->d, r, buf));
	EXPECT_EQ(before, peek_byte(self->s.pid, target));
	EXPECT_EQ(0, vu_log_all(self->d, false));
	EXPECT_EQ(0, vu_ring_log(self->d, false, 0));

	/* A log shorter than guest memory needs: refused (empty reply). */
	fd = new_memfd(need);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EIO, vhost_user_set_log_base(self->d->vu, fd, 4096, 0));
	EXPECT_EQ(-EIO, vhost_user_set_log_base(self->d->vu, fd, need - 1, 0));
	/* A log longer than its file, at an offset or not; not a file. */
	EXPECT_EQ(-EIO, vhost_user_set_log_base(self->d->vu, fd, need, 8));
	ASSERT_EQ(0, ftruncate(fd, 4096));
	EXPECT_EQ(-EIO, vhost_user_set_log_base(self->d->vu, fd, need, 0));
	ASSERT_EQ(0, pipe(pipefd));
	EXPECT_EQ(-EIO, vhost_user_set_log_base(self->d->vu, pipefd[0], need,
						0));
	close(pipefd[0]);
	close(pipefd[1]);
	/* None of them is a log: logging is still refused. */
	EXPECT_EQ(-EFAULT, vu_log_all(self->d, true));
	EXPECT_EQ(-EFAULT, vu_ring_log(self->d, true, vq->used_gpa));
	/* Exactly what guest memory needs, at an offset: accepted. */
	ASSERT_EQ(0, ftruncate(fd, 4096 + need));
	EXPECT_EQ(0, vhost_user_set_log_base(self->d->vu, fd, need, 4096));
	close(fd);

	/* The library's log: logging on. */
	ASSERT_EQ(0, vblk_dev_log_start(self->d));
	ASSERT_LE(need, self->d->log_size);
	/* A used ring logged past the log, or across its end. */
	EXPECT_EQ(-EFAULT, vu_ring_log(self->d, true,
				       self->d->log_size * 32768));
	EXPECT_EQ(-EFAULT, vu_ring_log(self->d, true,
				       self->d->log_size * 32768 - 8));
	EXPECT_EQ(-EFAULT, vu_ring_log(self->d, true, target * 32768));
	EXPECT_EQ(-EFAULT, vu_ring_log(self->d, true, ~0ULL - 7));
	/* Memory past the log, while logging. */
	fd = new_memfd(1 << 20);
	ASSERT_LE(0, fd);
	reg.region = (struct vhost_user_region){
		.guest_phys_addr = self->d->log_size * 32768,
		.memory_size = 1 << 20,
		.userspace_addr = 0x7e0000000000ULL,
	};
	EXPECT_EQ(-EFAULT, raw_call(self->d->vu, VHOST_USER_ADD_MEM_REG, &reg,
				    sizeof(reg), &fd, 1));
	/* A new log too short for memory and ring: refused, the old stays. */
	EXPECT_EQ(-EIO, vhost_user_set_log_base(self->d->vu, self->d->log_fd,
						need - 1, 0));
	vblk_log_clear(self->d);
	EXPECT_EQ(VIRTIO_BLK_S_OK, read_page(_metadata, self->d, r, buf));
	EXPECT_TRUE(vblk_log_test(self->d, buf));
	EXPECT_TRUE(vblk_log_test(self->d, vq->used_gpa + 2));
	EXPECT_EQ(before, peek_byte(self->s.pid, target));

	/*
	 * Logging off: memory may grow past the log; logging again then
	 * needs a log that covers it.
	 */
	ASSERT_EQ(0, vblk_dev_log_stop(self->d));
	EXPECT_EQ(0, raw_call(self->d->vu, VHOST_USER_ADD_MEM_REG, &reg,
			      sizeof(reg), &fd, 1));
	EXPECT_EQ(-EFAULT, vu_log_all(self->d, true));
	EXPECT_EQ(-EFAULT, vu_ring_log(self->d, true, vq->used_gpa));
	EXPECT_EQ(0, raw_call(self->d->vu, VHOST_USER_REM_MEM_REG, &reg,
			      sizeof(reg), NULL, 0));
	close(fd);
	ASSERT_EQ(0, vblk_dev_log_start(self->d));

	/*
	 * The log file truncated under the mapping: its pages are gone, the
	 * kernel cannot log and fails the read; grown again, it logs.
	 */
	ASSERT_EQ(0, ftruncate(self->d->log_fd, 0));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, read_page(_metadata, self->d, r, buf));
	ASSERT_EQ(0, ftruncate(self->d->log_fd, self->d->log_size));
	EXPECT_EQ(VIRTIO_BLK_S_OK, read_page(_metadata, self->d, r, buf));
	EXPECT_TRUE(vblk_log_test(self->d, buf));

	/* The bridge is unharmed and serves the next frontend. */
	EXPECT_EQ(before, peek_byte(self->s.pid, target));
	EXPECT_TRUE(server_alive(&self->s));
	vblk_req_free(self->d, r);
	vblk_dev_destroy(self->d);
	self->d = NULL;
	serves(_metadata, self->s.sock, self->seed);
}

TEST_F(br, flush_and_get_id)
{
	char id[VIRTIO_BLK_ID_BYTES], want[VIRTIO_BLK_ID_BYTES] = SERIAL;
	struct vblk_req *r;
	uint64_t gpa;

	ASSERT_EQ(0, vu_create(&self->d, self->s.sock, QUEUES, VBLK_MEM_ONE));
	ASSERT_TRUE(vblk_dev_has_feature(self->d, VIRTIO_BLK_F_FLUSH));
	r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(self->d, 4096, 4096, &gpa));
	for (unsigned int q = 0; q < QUEUES; q++) {
		EXPECT_EQ(VIRTIO_BLK_S_OK,
			  do_io(&self->d->vqs[q], r, VIRTIO_BLK_T_FLUSH, 0, 0,
				0, 0));
		EXPECT_EQ(1, r->used_len);
		memset(vblk_gpa_to_hva(self->d, gpa, 4096), 0xa5, 4096);
		EXPECT_EQ(VIRTIO_BLK_S_OK,
			  do_io(&self->d->vqs[q], r, VIRTIO_BLK_T_GET_ID, 0,
				gpa, sizeof(id), 0));
		EXPECT_EQ(sizeof(id) + 1, r->used_len);
		ASSERT_EQ(0, vblk_mem_read(self->d, gpa, id, sizeof(id)));
		EXPECT_EQ(0, memcmp(id, want, sizeof(id)))
			TH_LOG("GET_ID '%.20s'", id);
	}
}

TEST_F(br, config_and_features)
{
	struct virtio_blk_config kcfg, cfg;
	struct vhost_user_conn *c;
	uint64_t f, pf, n, kf, offered;
	uint32_t sm;
	uint16_t nq;
	int bfd, vfd;

	/* What the kernel says about the backend, on a device of our own. */
	bfd = open(test_dev(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, bfd);
	vfd = vhost_blk_open(NULL);
	ASSERT_LE(0, vfd);
	ASSERT_EQ(0, vhost_blk_set_owner(vfd));
	ASSERT_EQ(0, vhost_blk_get_features(vfd, &offered));
	ASSERT_EQ(0, vhost_blk_set_backend(vfd, bfd, 0, NULL));
	ASSERT_EQ(0, vhost_blk_get_config(vfd, &kcfg, &kf, NULL));
	close(vfd);

	c = raw_conn(self->s.sock);
	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, vhost_user_get_features(c, &f));
	EXPECT_TRUE(f & F(VHOST_USER_F_PROTOCOL_FEATURES));
	EXPECT_EQ(offered & kf, f & ~(F(VHOST_USER_F_PROTOCOL_FEATURES) |
				      F(VHOST_F_LOG_ALL)));
	EXPECT_FALSE(f & F(VIRTIO_BLK_F_RO));
	/* Live migration: the kernel's dirty log in the frontend's memfd. */
	EXPECT_TRUE(f & F(VHOST_F_LOG_ALL));
	ASSERT_EQ(0, vhost_user_get_protocol_features(c, &pf));
	EXPECT_TRUE(pf & F(VHOST_USER_PROTOCOL_F_MQ));
	EXPECT_TRUE(pf & F(VHOST_USER_PROTOCOL_F_REPLY_ACK));
	EXPECT_TRUE(pf & F(VHOST_USER_PROTOCOL_F_CONFIG));
	EXPECT_TRUE(pf & F(VHOST_USER_PROTOCOL_F_LOG_SHMFD));
	ASSERT_EQ(0, vhost_user_get_queue_num(c, &n));
	EXPECT_EQ(QUEUES, n);

	ASSERT_EQ(0, vhost_user_get_config(c, 0, &cfg, sizeof(cfg)));
	EXPECT_EQ(blk_bytes(bfd) / 512, le64toh(cfg.capacity));
	EXPECT_EQ(le64toh(kcfg.capacity), le64toh(cfg.capacity));
	EXPECT_EQ((uint32_t)blk_lbs(bfd), le32toh(cfg.blk_size));
	EXPECT_EQ(QUEUES, le16toh(cfg.num_queues));
	/* Apart from num_queues, the kernel's config byte for byte. */
	kcfg.num_queues = cfg.num_queues;
	EXPECT_EQ(0, memcmp(&kcfg, &cfg, sizeof(cfg)));
	/* Parts of it, at an offset. */
	ASSERT_EQ(0, vhost_user_get_config(c,
			offsetof(struct virtio_blk_config, blk_size),
			&sm, sizeof(sm)));
	EXPECT_EQ(cfg.blk_size, sm);
	ASSERT_EQ(0, vhost_user_get_config(c,
			offsetof(struct virtio_blk_config, num_queues),
			&nq, sizeof(nq)));
	EXPECT_EQ(QUEUES, le16toh(nq));
	/* Beyond the 256 bytes of config space: an empty reply. */
	EXPECT_EQ(-EIO, vhost_user_get_config(c, 250, &cfg, 10));
	/* Nothing is writable; writing what is there is harmless. */
	EXPECT_EQ(0, vhost_user_set_config(c, 0, &cfg, sizeof(cfg), 0));
	cfg.wce ^= 1;
	EXPECT_EQ(-EPERM, vhost_user_set_config(c, 0, &cfg, sizeof(cfg), 0));
	vhost_user_disconnect(c);
	close(bfd);

	/* The driver sees the same. */
	ASSERT_EQ(0, vu_create(&self->d, self->s.sock, QUEUES, VBLK_MEM_ONE));
	EXPECT_EQ(le64toh(kcfg.capacity), vblk_dev_capacity(self->d));
}

TEST_F(br, read_only_bridge_refuses_writes)
{
	static const char *const ro[] = { "--read-only", NULL };
	struct server s2;
	struct vblk_req *r;
	uint64_t gpa;

	/* Known data on the disk first. */
	ASSERT_EQ(0, disk_write_pattern(test_dev(), 4096, 65536, self->seed));
	ASSERT_EQ(0, bridge_start(&s2, test_dev(), ro));
	ASSERT_EQ(0, vu_create(&self->d, s2.sock, QUEUES, VBLK_MEM_ONE));
	EXPECT_TRUE(vblk_dev_has_feature(self->d, VIRTIO_BLK_F_RO));
	EXPECT_FALSE(vblk_dev_has_feature(self->d, VIRTIO_BLK_F_DISCARD));
	EXPECT_FALSE(vblk_dev_has_feature(self->d,
					  VIRTIO_BLK_F_WRITE_ZEROES));
	r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(self->d, 65536, 4096, &gpa));
	for (unsigned int q = 0; q < QUEUES; q++) {
		EXPECT_EQ(VIRTIO_BLK_S_IOERR,
			  write_pattern(&self->d->vqs[q], r, gpa, 4096, 65536,
					self->seed + 1));
		EXPECT_EQ(0, check_pattern(&self->d->vqs[q], r, gpa, 4096,
					   65536, self->seed));
	}
	EXPECT_EQ(0, disk_check_pattern(test_dev(), 4096, 65536, self->seed));
	vblk_dev_destroy(self->d);
	self->d = NULL;
	server_done(_metadata, &s2, true);
}

TEST_F(br, busyloop_bridge_saves_kicks)
{
	static const char *const bl[] = { "--busyloop-us", "10000", NULL };
	static const char *const bad[] = { "--busyloop-us", "10001", NULL };
	struct server s2, s3;
	unsigned int saved = 0;
	cpu_set_t old;
	struct vblk_req *r;
	uint64_t gpa;

	/* Out of range: refused at start-up, before it listens. */
	EXPECT_EQ(-ECHILD, bridge_start(&s3, test_dev(), bad));
	server_done(_metadata, &s3, false);

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs 2 CPUs: polling workers and the driver");
	/*
	 * The bridge, and the workers it creates, on CPU 1; this thread on
	 * CPU 0, so that no worker gives its CPU to the thread it serves.
	 */
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(old), &old));
	ASSERT_EQ(0, run_on_cpu(1));
	ASSERT_EQ(0, bridge_start(&s2, test_dev(), bl));
	ASSERT_EQ(0, run_on_cpu(0));
	ASSERT_EQ(0, vu_create(&self->d, s2.sock, QUEUES, VBLK_MEM_ONE));
	r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(self->d, 4096, 4096, &gpa));
	for (unsigned int q = 0; q < QUEUES; q++) {
		struct vblk_vq *vq = &self->d->vqs[q];
		unsigned int before = vq->kicks_suppressed;

		for (int i = 0; i < 32; i++) {
			uint64_t sector = 16384 + 1024 * q + 8 * i;

			EXPECT_EQ(VIRTIO_BLK_S_OK,
				  write_pattern(vq, r, gpa, sector, 4096,
						self->seed));
			EXPECT_EQ(0, check_pattern(vq, r, gpa, sector, 4096,
						   self->seed));
		}
		saved += vq->kicks_suppressed - before;
	}
	/* The kernel's workers polled: most requests needed no kick. */
	EXPECT_LT(32, saved) TH_LOG("%u of 64 kicks saved", saved);
	sched_setaffinity(0, sizeof(old), &old);
	vblk_dev_destroy(self->d);
	self->d = NULL;
	server_done(_metadata, &s2, true);
}

TEST_F(br, get_vring_base_stops_and_restarts)
{
	struct vblk_req *r, *r0;
	struct vblk_vq *vq;
	unsigned int base;
	uint64_t gpa, gpa0;

	ASSERT_EQ(0, vu_create(&self->d, self->s.sock, QUEUES, VBLK_MEM_ONE));
	vq = &self->d->vqs[1];
	r = vblk_req_alloc(self->d);
	r0 = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, r);
	ASSERT_NE(NULL, r0);
	ASSERT_EQ(0, vblk_alloc(self->d, 65536, 4096, &gpa));
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(VIRTIO_BLK_S_OK,
			  write_pattern(vq, r, gpa, 8000 + i * 128, 65536,
					self->seed));

	/* Every request taken is done: the base is the avail index. */
	ASSERT_EQ(0, vblk_vq_stop(vq, &base));
	EXPECT_EQ(vq->avail_idx, base);
	EXPECT_EQ(vq->avail_idx, vblk_vq_used_idx(vq));

	/* A stopped ring is not served... */
	vblk_pattern_fill(vblk_gpa_to_hva(self->d, gpa, 65536), 65536, 9000,
			  self->seed);
	vblk_req_reset(r, VIRTIO_BLK_T_OUT, 9000);
	vblk_req_add_data(self->d, r, gpa, 65536);
	ASSERT_LE(0, vblk_req_submit(vq, r, 0));
	ASSERT_EQ(0, vblk_vq_kick_force(vq));
	EXPECT_TRUE(not_served(vq, r));
	/* ...the other one is. */
	ASSERT_EQ(0, vblk_alloc(self->d, 65536, 4096, &gpa0));
	EXPECT_EQ(0, check_pattern(&self->d->vqs[0], r0, gpa0, 8000, 65536,
				   self->seed));

	/* Restarted at its base, it takes the pending request. */
	ASSERT_EQ(0, vblk_vq_restart(vq, base));
	ASSERT_EQ(0, vblk_req_wait(vq, r, IO_TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_OK, r->status);
	EXPECT_EQ(0, disk_check_pattern(test_dev(), 9000, 65536, self->seed));
	EXPECT_EQ(0, check_pattern(vq, r, gpa, 8000 + 4 * 128, 65536,
				   self->seed));
	ASSERT_EQ(0, vblk_vq_stop(vq, &base));
	EXPECT_EQ(vq->avail_idx, base);
}

TEST_F(br, disabled_ring_waits_for_enable)
{
	struct vblk_vq *vq;
	struct vblk_req *r;
	uint64_t gpa;

	ASSERT_EQ(0, vu_create(&self->d, self->s.sock, QUEUES, VBLK_MEM_ONE));
	vq = &self->d->vqs[0];
	r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(self->d, 4096, 4096, &gpa));
	ASSERT_EQ(0, vblk_vq_set_enable(vq, false));
	vblk_pattern_fill(vblk_gpa_to_hva(self->d, gpa, 4096), 4096, 77,
			  self->seed);
	vblk_req_reset(r, VIRTIO_BLK_T_OUT, 77);
	vblk_req_add_seg(r, gpa, 4096);
	ASSERT_LE(0, vblk_req_submit(vq, r, 0));
	ASSERT_EQ(0, vblk_vq_kick_force(vq));
	EXPECT_TRUE(not_served(vq, r));
	ASSERT_EQ(0, vblk_vq_set_enable(vq, true));
	ASSERT_EQ(0, vblk_req_wait(vq, r, IO_TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_OK, r->status);
	EXPECT_EQ(0, disk_check_pattern(test_dev(), 77, 4096, self->seed));
	/* A bad enable value is refused and changes nothing. */
	EXPECT_EQ(-EINVAL, raw_call(self->d->vu, VHOST_USER_SET_VRING_ENABLE,
				    &(struct vhost_vring_state){ 0, 2 },
				    sizeof(struct vhost_vring_state), NULL, 0));
	EXPECT_EQ(0, check_pattern(vq, r, gpa, 77, 4096, self->seed));
}

TEST_F(br, disconnect_and_reconnect)
{
	for (int round = 0; round < 3; round++) {
		struct vblk_dev *d;
		struct vblk_req *r;
		uint64_t gpa;
		uint8_t *p;

		ASSERT_EQ(0, vu_create(&d, self->s.sock, QUEUES,
				       VBLK_MEM_ONE));
		r = vblk_req_alloc(d);
		ASSERT_NE(NULL, r);
		ASSERT_EQ(0, vblk_alloc(d, 65536, 4096, &gpa));
		EXPECT_EQ(VIRTIO_BLK_S_OK,
			  write_pattern(&d->vqs[round % QUEUES], r, gpa,
					round * 1000, 65536, self->seed + round));
		EXPECT_EQ(0, check_pattern(&d->vqs[0], r, gpa, round * 1000,
					   65536, self->seed + round));

		/* Go away with requests in flight on both queues. */
		ASSERT_EQ(0, vblk_alloc(d, 1 << 20, 4096, &gpa));
		p = vblk_gpa_to_hva(d, gpa, 1 << 20);
		for (unsigned int q = 0; q < QUEUES; q++) {
			for (int k = 0; k < 16; k++) {
				struct vblk_req *w = vblk_req_alloc(d);

				ASSERT_NE(NULL, w);
				memset(p + k * 32768, k, 32768);
				vblk_req_reset(w, VIRTIO_BLK_T_OUT,
					       20000 + k * 64);
				vblk_req_add_data(d, w, gpa + k * 32768,
						  32768);
				ASSERT_LE(0, vblk_req_submit(&d->vqs[q], w,
							     VBLK_ADD_INDIRECT));
			}
			ASSERT_EQ(0, vblk_vq_kick(&d->vqs[q]));
		}
		vblk_dev_close_fd(d);
		/* Memory goes too: the bridge's mapping must keep it alive. */
		vblk_dev_destroy(d);
	}
	serves(_metadata, self->s.sock, self->seed);
	/* The data of the first rounds is intact. */
	for (int round = 0; round < 3; round++)
		EXPECT_EQ(0, disk_check_pattern(test_dev(), round * 1000, 65536,
				     self->seed + round));
}

/* ---- a bridge killed with requests in flight ---- */

/* A null_blk that holds every request for a second. */
#define NULLB_INFLIGHT		"vhost-blk-inflight"
#define INFLIGHT_WRITES		32	/* per queue, 4 KiB each */
#define INFLIGHT_IDS		8	/* GET_ID per queue, done at once */

static int nullb_slowest(char *path, size_t len)
{
	static const char *const attrs[] = {
		"size=64", "blocksize=512", "memory_backed=1", "irqmode=2",
		"completion_nsec=1000000000", "hw_queue_depth=1024",
		"submit_queues=1", NULL,
	};

	return nullb_get(NULLB_INFLIGHT, attrs, path, len);
}

/*
 * Heads marked in flight in queue @q's region of @d's inflight fd, laid
 * out as the bridge does (64-byte aligned regions); -1 if unreadable.
 */
static int inflight_marked(const struct vblk_dev *d, unsigned int q)
{
	uint64_t qsize = (VHOST_BLK_INFLIGHT_SIZE(d->queue_size) + 63) & ~63ULL;
	const struct vhost_blk_inflight_split *r;
	uint8_t *map;
	int n = 0;

	if (d->inflight_fd < 0 || d->inflight_offset ||
	    d->inflight_size < (q + 1) * qsize)
		return -1;
	map = mmap(NULL, d->inflight_size, PROT_READ, MAP_SHARED,
		   d->inflight_fd, 0);
	if (map == MAP_FAILED)
		return -1;
	r = (const void *)(map + q * qsize);
	for (unsigned int i = 0; i < d->queue_size; i++)
		n += r->desc[i].inflight == 1;
	munmap(map, d->inflight_size);
	return n;
}

static uint64_t inflight_sector(unsigned int q, unsigned int k)
{
	return 8192 + (q * INFLIGHT_WRITES + k) * 8;
}

/*
 * SIGKILL the bridge while the kernel holds writes on both queues, after
 * GET_ID requests posted behind them completed (so the used ring is out
 * of order and its index alone would lose or repeat requests). A new
 * bridge on the same inflight regions, reconnected as QEMU does after a
 * backend crash, resubmits them: every write completes once, OK, with
 * its data on the backend, and nothing else appears on the used rings.
 */
FIXTURE(inflight) {
	int unused;
};

FIXTURE_SETUP(inflight)
{
}

FIXTURE_TEARDOWN(inflight)
{
}

TEST_F_TIMEOUT(inflight, bridge_killed_with_requests_in_flight, 120)
{
	struct vblk_req *w[QUEUES][INFLIGHT_WRITES], *ids[QUEUES][INFLIGHT_IDS];
	struct server s1 = { 0 }, s2 = { 0 };
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	uint64_t seed = fresh_seed(), gpa, idgpa, gpa0;
	struct vblk_used u[256];
	unsigned int invalid = 0;
	uint64_t deadline, t0;
	struct vblk_dev *d;
	uint8_t *buf;
	size_t all;
	struct vblk_req *r;
	char dev[PATH_MAX];
	int ret, status;

	if (access(bridge_bin(), X_OK))
		SKIP(return, "%s: %s (make -C tools)", bridge_bin(),
		     strerror(errno));
	ret = nullb_slowest(dev, sizeof(dev));
	if (ret)
		SKIP(return, "no configfs null_blk: %s", strerror(-ret));
	ASSERT_EQ(0, bridge_start(&s1, dev, NULL));
	/* The socket may exist a moment before the bridge listens. */
	o.vhost_user = s1.sock;
	o.vhost_user_wait_ms = IO_TIMEOUT_MS;
	o.num_queues = QUEUES;
	o.mem_size = 16 << 20;
	ASSERT_EQ(0, vblk_dev_create(&d, &o, -1, 0, NULL));
	ASSERT_LE(0, d->inflight_fd) TH_LOG("INFLIGHT_SHMFD not negotiated");

	/* Acknowledged before the kill. */
	r = vblk_req_alloc(d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(d, 65536, 4096, &gpa0));
	ASSERT_EQ(VIRTIO_BLK_S_OK, write_pattern(&d->vqs[0], r, gpa0, 100,
						 65536, seed));

	ASSERT_EQ(0, vblk_alloc(d, QUEUES * INFLIGHT_WRITES * 4096, 4096,
				&gpa));
	ASSERT_EQ(0, vblk_alloc(d, 4096, 4096, &idgpa));
	for (unsigned int q = 0; q < QUEUES; q++) {
		for (unsigned int k = 0; k < INFLIGHT_WRITES; k++) {
			uint64_t a = gpa + (q * INFLIGHT_WRITES + k) * 4096;

			w[q][k] = vblk_req_alloc(d);
			ASSERT_NE(NULL, w[q][k]);
			vblk_pattern_fill(vblk_gpa_to_hva(d, a, 4096), 4096,
					  inflight_sector(q, k), seed);
			vblk_req_reset(w[q][k], VIRTIO_BLK_T_OUT,
				       inflight_sector(q, k));
			vblk_req_add_data(d, w[q][k], a, 4096);
			ASSERT_LE(0, vblk_req_submit(&d->vqs[q], w[q][k],
					k % 2 ? VBLK_ADD_INDIRECT : 0));
		}
		for (unsigned int k = 0; k < INFLIGHT_IDS; k++) {
			ids[q][k] = vblk_req_alloc(d);
			ASSERT_NE(NULL, ids[q][k]);
			vblk_req_reset(ids[q][k], VIRTIO_BLK_T_GET_ID, 0);
			vblk_req_add_data(d, ids[q][k],
					  idgpa + (q * INFLIGHT_IDS + k) * 64,
					  VIRTIO_BLK_ID_BYTES);
			ASSERT_LE(0, vblk_req_submit(&d->vqs[q], ids[q][k], 0));
		}
		ASSERT_EQ(0, vblk_vq_kick(&d->vqs[q]));
	}
	for (unsigned int q = 0; q < QUEUES; q++)
		for (unsigned int k = 0; k < INFLIGHT_IDS; k++) {
			ASSERT_EQ(0, vblk_req_wait(&d->vqs[q], ids[q][k],
						   IO_TIMEOUT_MS));
			EXPECT_EQ(VIRTIO_BLK_S_OK, ids[q][k]->status);
		}
	for (unsigned int q = 0; q < QUEUES; q++) {
		int n = inflight_marked(d, q), done = 0;

		for (unsigned int k = 0; k < INFLIGHT_WRITES; k++)
			done += w[q][k]->done;
		TH_LOG("queue %u: %d writes marked in flight, %d done before the kill",
		       q, n, done);
		/* The point of the test: writes the used ring never saw. */
		ASSERT_LT(0, n);
		EXPECT_EQ(INFLIGHT_WRITES - done, n);
	}

	t0 = vblk_now_ns();
	ASSERT_EQ(0, kill(s1.pid, SIGKILL));
	ASSERT_EQ(s1.pid, waitpid(s1.pid, &status, 0));
	TH_LOG("bridge gone %" PRIu64 " ms after SIGKILL",
	       (vblk_now_ns() - t0) / 1000000);
	s1.pid = 0;
	unlink(s1.sock);
	/*
	 * The kernel drained them. Each write is now either on the used
	 * ring or still marked: a vhost_task worker dies with the bridge
	 * and leaves them all marked; a kthread worker (before Linux 6.4)
	 * holds the bridge's mm and may still publish some.
	 */
	for (unsigned int q = 0; q < QUEUES; q++) {
		struct vblk_vq *vq = &d->vqs[q];
		uint16_t published = le16toh(vq->used->idx) - vq->last_used;

		TH_LOG("queue %u: %u writes published after the kill", q,
		       published);
		EXPECT_EQ(INFLIGHT_WRITES - published, inflight_marked(d, q));
	}

	t0 = vblk_now_ns();
	ASSERT_EQ(0, bridge_start(&s2, dev, NULL));
	ASSERT_EQ(0, vblk_dev_reconnect(d, s2.sock, IO_TIMEOUT_MS));
	TH_LOG("new bridge serving %" PRIu64 " ms later",
	       (vblk_now_ns() - t0) / 1000000);
	/* One deadline for all: a lost write must not cost one each. */
	deadline = vblk_now_ns() / 1000000 + IO_TIMEOUT_MS;
	for (unsigned int q = 0; q < QUEUES; q++) {
		for (unsigned int k = 0; k < INFLIGHT_WRITES; k++) {
			uint64_t now = vblk_now_ns() / 1000000;

			EXPECT_EQ(0, vblk_req_wait(&d->vqs[q], w[q][k],
					now < deadline ? deadline - now : 0))
				TH_LOG("queue %u write %u", q, k);
			EXPECT_EQ(VIRTIO_BLK_S_OK, w[q][k]->status);
		}
	}
	TH_LOG("every write done %" PRIu64 " ms after the new bridge started",
	       (vblk_now_ns() - t0) / 1000000);
	/* Nothing twice, nothing we did not post. */
	usleep(200000);
	for (unsigned int q = 0; q < QUEUES; q++) {
		int n = vblk_vq_reap(&d->vqs[q], u, 256);

		for (int i = 0; i < n; i++)
			invalid++;
		EXPECT_EQ(0, d->vqs[q].inflight);
		EXPECT_EQ(0, inflight_marked(d, q));
	}
	EXPECT_EQ(0, invalid);
	/* On the disk: one read, as each takes a second on this device. */
	all = QUEUES * INFLIGHT_WRITES * 4096;
	buf = aligned_alloc(4096, all);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, blk_direct_io(dev, false, inflight_sector(0, 0) * 512,
				   buf, all));
	for (unsigned int i = 0; i < QUEUES * INFLIGHT_WRITES; i++) {
		EXPECT_EQ(-1, vblk_pattern_check(buf + i * 4096, 4096,
				inflight_sector(0, 0) + i * 8, seed))
			TH_LOG("write %u not on the disk", i);
	}
	free(buf);
	EXPECT_EQ(0, disk_check_pattern(dev, 100, 65536, seed));
	/* The new bridge serves both queues. */
	for (unsigned int q = 0; q < QUEUES; q++) {
		EXPECT_EQ(VIRTIO_BLK_S_OK,
			  write_pattern(&d->vqs[q], r, gpa0, 200 + 128 * q,
					4096, seed + 1));
		EXPECT_EQ(0, check_pattern(&d->vqs[(q + 1) % QUEUES], r, gpa0,
					   200 + 128 * q, 4096, seed + 1));
	}
	vblk_dev_destroy(d);
	server_done(_metadata, &s2, true);
	server_done(_metadata, &s1, false);
}

/*
 * GET_INFLIGHT_FD and SET_INFLIGHT_FD: refused before INFLIGHT_SHMFD is
 * negotiated, for ring sizes and queue counts the bridge cannot have,
 * for payloads of the wrong size, fds that are no file or shorter than
 * claimed, and while rings run; GET_INFLIGHT_FD returns a sealed, zeroed
 * memfd holding a 64-byte aligned region per queue.
 */
TEST_F(br, inflight_fd_messages)
{
	const uint64_t qsize = (VHOST_BLK_INFLIGHT_SIZE(128) + 63) & ~63ULL;
	struct vhost_user_conn *c = raw_conn(self->s.sock);
	struct vhost_user_inflight in = { 0 };
	struct vhost_user_msg m, rep;
	uint64_t size = 0, off = 1;
	int fd = -1, pfd[2], nonzero = 0;
	struct stat st;
	uint8_t *p;

	ASSERT_NE(NULL, c);
	EXPECT_EQ(-EIO, vhost_user_get_inflight_fd(c, 2, 128, &fd, &size,
						   &off));
	EXPECT_EQ(-1, fd);
	in.num_queues = 2;
	in.queue_size = 128;
	in.mmap_size = 2 * qsize;
	ASSERT_EQ(0, pipe(pfd));
	EXPECT_EQ(-EOPNOTSUPP, raw_call(c, VHOST_USER_SET_INFLIGHT_FD, &in,
					sizeof(in), pfd, 1));
	ASSERT_EQ(0, vhost_user_set_protocol_features(c,
		c->protocol_features | F(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)));

	/* Ring sizes no ring has; no queue, more than offered. */
	EXPECT_EQ(-EIO, vhost_user_get_inflight_fd(c, 2, 100, &fd, &size,
						   &off));
	EXPECT_EQ(-EIO, vhost_user_get_inflight_fd(c, 2, 0, &fd, &size, &off));
	EXPECT_EQ(-EIO, vhost_user_get_inflight_fd(c, 0, 128, &fd, &size,
						   &off));
	EXPECT_EQ(-EIO, vhost_user_get_inflight_fd(c, QUEUES + 1, 128, &fd,
						   &size, &off));
	memset(&m, 0, sizeof(m));
	m.hdr.request = VHOST_USER_GET_INFLIGHT_FD;
	m.hdr.size = 20;
	m.payload.inflight = in;
	EXPECT_EQ(-EIO, vhost_user_call(c, &m, NULL, 0, &rep,
					sizeof(rep.payload.inflight)));

	ASSERT_EQ(0, vhost_user_get_inflight_fd(c, 2, 128, &fd, &size, &off));
	EXPECT_EQ(0, off);
	EXPECT_EQ(2 * qsize, size);
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ((off_t)size, st.st_size);
	EXPECT_EQ(F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL,
		  fcntl(fd, F_GET_SEALS));
	EXPECT_EQ(-1, ftruncate(fd, 0));
	p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	for (uint64_t i = 0; i < size; i++)
		nonzero += !!p[i];
	EXPECT_EQ(0, nonzero);
	munmap(p, size);

	/* No fd, a pipe, too short, past the file, wrapping, bad size. */
	EXPECT_EQ(-EBADF, raw_call(c, VHOST_USER_SET_INFLIGHT_FD, &in,
				   sizeof(in), NULL, 0));
	EXPECT_EQ(-EBADF, raw_call(c, VHOST_USER_SET_INFLIGHT_FD, &in,
				   sizeof(in), pfd, 1));
	in.mmap_size = 2 * qsize - 1;
	EXPECT_EQ(-EINVAL, raw_call(c, VHOST_USER_SET_INFLIGHT_FD, &in,
				    sizeof(in), &fd, 1));
	in.mmap_size = 2 * qsize;
	in.mmap_offset = 64;
	EXPECT_EQ(-EINVAL, raw_call(c, VHOST_USER_SET_INFLIGHT_FD, &in,
				    sizeof(in), &fd, 1));
	in.mmap_offset = UINT64_MAX - 64;
	EXPECT_EQ(-EINVAL, raw_call(c, VHOST_USER_SET_INFLIGHT_FD, &in,
				    sizeof(in), &fd, 1));
	in.mmap_offset = 0;
	in.queue_size = 96;
	EXPECT_EQ(-EINVAL, raw_call(c, VHOST_USER_SET_INFLIGHT_FD, &in,
				    sizeof(in), &fd, 1));
	in.queue_size = 128;
	EXPECT_EQ(-EINVAL, raw_call(c, VHOST_USER_SET_INFLIGHT_FD, &in, 16,
				    &fd, 1));
	EXPECT_EQ(0, raw_call(c, VHOST_USER_SET_INFLIGHT_FD, &in, sizeof(in),
			      &fd, 1));
	close(pfd[0]);
	close(pfd[1]);
	close(fd);
	vhost_user_disconnect(c);

	/* A driver negotiates it; its regions stay while rings run. */
	ASSERT_EQ(0, vu_create(&self->d, self->s.sock, QUEUES, VBLK_MEM_ONE));
	ASSERT_LE(0, self->d->inflight_fd);
	EXPECT_EQ(-EBUSY, vhost_user_set_inflight_fd(self->d->vu,
						     self->d->inflight_fd,
						     self->d->inflight_size, 0,
						     QUEUES, 128));
	round_trip(_metadata, self->d, test_dev(), self->seed);
}

TEST_F(br, second_frontend_is_refused)
{
	struct vhost_user_conn *c;
	uint64_t f;

	ASSERT_EQ(0, vu_create(&self->d, self->s.sock, QUEUES, VBLK_MEM_ONE));
	ASSERT_EQ(0, vhost_user_connect(&c, self->s.sock, IO_TIMEOUT_MS));
	EXPECT_NE(0, vhost_user_get_features(c, &f));
	EXPECT_EQ(1, peer_closed(c->sock, IO_TIMEOUT_MS));
	vhost_user_disconnect(c);
	/* The first one is unaffected. */
	round_trip(_metadata, self->d, test_dev(), self->seed);
}

TEST_F(br, reset_device_and_set_up_again)
{
	struct vblk_req *r;
	uint64_t gpa;

	ASSERT_EQ(0, vu_create(&self->d, self->s.sock, QUEUES, VBLK_MEM_ONE));
	ASSERT_TRUE(self->d->vu->protocol_features &
		    F(VHOST_USER_PROTOCOL_F_RESET_DEVICE));
	r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(self->d, 4096, 4096, &gpa));
	ASSERT_EQ(0, vblk_dev_reset_owner(self->d));
	/* The rings are gone: a kick is not served. */
	vblk_req_reset(r, VIRTIO_BLK_T_FLUSH, 0);
	ASSERT_LE(0, vblk_req_submit(&self->d->vqs[0], r, 0));
	ASSERT_EQ(0, vblk_vq_kick_force(&self->d->vqs[0]));
	EXPECT_TRUE(not_served(&self->d->vqs[0], r));
	/* Set up from scratch, it works again. */
	ASSERT_EQ(0, vblk_dev_setup(self->d, 0));
	ASSERT_EQ(0, vblk_dev_read_config(self->d));
	for (unsigned int q = 0; q < QUEUES; q++)
		ASSERT_EQ(0, vblk_vq_start(self->d, q, 0));
	round_trip(_metadata, self->d, test_dev(), self->seed);
}

/* QEMU's vhost_dev_stop(): every ring disabled, the started ones stopped. */
static int qemu_stop(struct vblk_dev *d, unsigned int nq)
{
	unsigned int base;
	int ret = 0;

	for (unsigned int q = 0; !ret && q < nq; q++)
		ret = vblk_vq_set_enable(&d->vqs[q], false);
	for (unsigned int q = 0; !ret && q < nq; q++) {
		struct vblk_vq *vq = &d->vqs[q];

		if (!vq->started)
			continue;
		ret = vblk_vq_stop(vq, &base);
		/* Every request taken is on the used ring. */
		if (!ret && base != vblk_vq_used_idx(vq))
			ret = -ERANGE;
	}
	return ret;
}

/*
 * QEMU's vhost_user_blk_start() for a driver that set up @used of the @nq
 * queues, rings of @size entries: a fresh inflight region (QEMU frees its
 * own at every reset, and asks for one for rings of its queue-size
 * property, 128, whatever size the driver chose), features, the call
 * eventfds, features again, the rings (from 0) and every ring enabled.
 */
static int qemu_start(struct vblk_dev *d, unsigned int nq, unsigned int used,
		      unsigned int size)
{
	uint64_t f = d->features | F(VHOST_USER_F_PROTOCOL_FEATURES);
	int ret = 0;

	if (d->vu->protocol_features &
	    F(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)) {
		if (d->inflight_fd >= 0)
			close(d->inflight_fd);
		d->inflight_fd = -1;
		d->inflight_nq = nq;
		ret = vhost_user_get_inflight_fd(d->vu, nq, 128,
						 &d->inflight_fd,
						 &d->inflight_size,
						 &d->inflight_offset);
		if (!ret)
			ret = vhost_user_set_inflight_fd(d->vu, d->inflight_fd,
							 d->inflight_size,
							 d->inflight_offset,
							 nq, 128);
	}
	if (!ret)
		ret = vhost_user_set_features(d->vu, f);
	for (unsigned int q = 0; !ret && q < nq; q++)
		ret = vhost_user_set_vring_call(d->vu, q, d->vqs[q].call_fd);
	if (!ret)
		ret = vhost_user_set_features(d->vu, f);
	d->queue_size = size;
	for (unsigned int q = 0; !ret && q < used; q++)
		ret = vblk_vq_start(d, q, 0);
	for (unsigned int q = used; !ret && q < nq; q++)
		ret = vblk_vq_set_enable(&d->vqs[q], true);
	return ret;
}

TEST_F(br, machine_reset_as_qemu_does_it)
{
	const unsigned int per_q = 16;
	struct vblk_req *r, *w[QUEUES][16];
	uint64_t gpa, big;
	uint8_t *p;

	ASSERT_EQ(0, vu_create(&self->d, self->s.sock, QUEUES, VBLK_MEM_ONE));
	r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(self->d, 65536, 4096, &gpa));
	ASSERT_EQ(0, vblk_alloc(self->d, QUEUES * per_q * 4096, 4096, &big));
	p = vblk_gpa_to_hva(self->d, big, QUEUES * per_q * 4096);
	ASSERT_NE(NULL, p);
	for (unsigned int q = 0; q < QUEUES; q++)
		for (unsigned int k = 0; k < per_q; k++) {
			w[q][k] = vblk_req_alloc(self->d);
			ASSERT_NE(NULL, w[q][k]);
		}

	for (int round = 0; round < 8; round++) {
		uint64_t seed = self->seed + round;

		/* The guest kernel's I/O, some of it in flight at the reset. */
		for (unsigned int q = 0; q < QUEUES; q++) {
			ASSERT_EQ(VIRTIO_BLK_S_OK,
				  write_pattern(&self->d->vqs[q], r, gpa,
						4096 + q * 128, 65536, seed));
			for (unsigned int k = 0; k < per_q; k++) {
				unsigned int i = q * per_q + k;

				vblk_pattern_fill(p + i * 4096, 4096, 8192 + i * 8,
						  seed);
				vblk_req_reset(w[q][k], VIRTIO_BLK_T_OUT,
					       8192 + i * 8);
				vblk_req_add_seg(w[q][k], big + i * 4096, 4096);
				ASSERT_LE(0, vblk_req_submit(&self->d->vqs[q],
							     w[q][k], 0));
			}
			ASSERT_EQ(0, vblk_vq_kick(&self->d->vqs[q]));
		}
		ASSERT_EQ(0, qemu_stop(self->d, QUEUES)) TH_LOG("round %d", round);

		/* The firmware: queue 0 only, a small ring, polled. */
		ASSERT_EQ(0, qemu_start(self->d, QUEUES, 1, 16));
		EXPECT_EQ(0, check_pattern(&self->d->vqs[0], r, gpa, 4096,
					   65536, seed));
		ASSERT_EQ(0, qemu_stop(self->d, QUEUES));

		/* The guest kernel: both queues. */
		ASSERT_EQ(0, qemu_start(self->d, QUEUES, QUEUES, 128));
		for (unsigned int q = 0; q < QUEUES; q++) {
			EXPECT_EQ(0, check_pattern(&self->d->vqs[q], r, gpa,
						   4096 + q * 128, 65536, seed))
				TH_LOG("round %d, queue %u", round, q);
		}
	}
}

TEST_F(br, memory_table_changes_while_serving)
{
	const uint64_t slots = F(VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS);
	struct vhost_user_region reg[VBLK_MAX_REGIONS];
	struct vblk_vq *vq;
	struct vblk_req *r, *w;
	uint64_t gpa0, gpa1, n;
	uint8_t *p;

	/* Rings in region 0; region 1 only holds data. */
	ASSERT_EQ(0, vu_create(&self->d, self->s.sock, QUEUES,
			       VBLK_MEM_SPLIT));
	ASSERT_EQ(2, self->d->nregions);
	for (int i = 0; i < 2; i++)
		reg[i] = (struct vhost_user_region){
			.guest_phys_addr = self->d->regions[i].gpa,
			.memory_size = self->d->regions[i].size,
			.userspace_addr = (uintptr_t)self->d->regions[i].hva,
			.mmap_offset = self->d->regions[i].fd_offset,
		};
	vq = &self->d->vqs[0];
	r = vblk_req_alloc(self->d);
	w = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, r);
	ASSERT_NE(NULL, w);
	ASSERT_EQ(0, vblk_alloc_in(self->d, 0, 65536, 4096, &gpa0));
	ASSERT_EQ(0, vblk_alloc_in(self->d, 1, 65536, 4096, &gpa1));

	/* The same table again, with a request in flight. */
	p = vblk_gpa_to_hva(self->d, gpa1, 65536);
	vblk_pattern_fill(p, 65536, 600, self->seed);
	vblk_req_reset(w, VIRTIO_BLK_T_OUT, 600);
	vblk_req_add_data(self->d, w, gpa1, 65536);
	ASSERT_LE(0, vblk_req_submit(vq, w, 0));
	ASSERT_EQ(0, vblk_vq_kick(vq));
	ASSERT_EQ(0, vblk_dev_set_mem_table(self->d));
	ASSERT_EQ(0, vblk_req_wait(vq, w, IO_TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_OK, w->status);
	EXPECT_EQ(0, check_pattern(&self->d->vqs[1], r, gpa0, 600, 65536,
				   self->seed));

	/* Slots: take the data region away and give it back. */
	ASSERT_EQ(0, vhost_user_set_protocol_features(self->d->vu,
		self->d->vu->protocol_features | slots));
	ASSERT_EQ(0, vhost_user_get_max_mem_slots(self->d->vu, &n));
	EXPECT_LE(8, n);
	/* Not the one the rings are in. */
	EXPECT_EQ(-EFAULT, vhost_user_rem_mem_reg(self->d->vu, &reg[0]));
	ASSERT_EQ(0, vhost_user_rem_mem_reg(self->d->vu, &reg[1]));
	EXPECT_EQ(-ENOENT, vhost_user_rem_mem_reg(self->d->vu, &reg[1]));
	/*
	 * Data there is now outside guest memory: the chain is refused,
	 * and failed through its status byte, which is still mapped.
	 */
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  write_pattern(vq, w, gpa1, 700, 65536, self->seed));
	EXPECT_EQ(0, w->used_len);
	EXPECT_EQ(VIRTIO_BLK_S_OK, write_pattern(vq, w, gpa0, 700, 65536,
						 self->seed));
	ASSERT_EQ(0, vhost_user_add_mem_reg(self->d->vu, &reg[1],
					    self->d->mem_fd));
	/* Twice is once too many. */
	EXPECT_NE(0, vhost_user_add_mem_reg(self->d->vu, &reg[1],
					    self->d->mem_fd));
	for (unsigned int q = 0; q < QUEUES; q++) {
		EXPECT_EQ(VIRTIO_BLK_S_OK,
			  write_pattern(&self->d->vqs[q], w, gpa1, 800 + q * 128,
					65536, self->seed));
		EXPECT_EQ(0, check_pattern(&self->d->vqs[q], r, gpa1,
					   800 + q * 128, 65536, self->seed));
	}
	EXPECT_EQ(0, disk_check_pattern(test_dev(), 700, 65536, self->seed));
	EXPECT_EQ(0, disk_check_pattern(test_dev(), 800, 65536, self->seed));
}

/* ---- malformed messages ---- */

TEST_F(br, short_header)
{
	struct vhost_user_conn *c = raw_conn(self->s.sock);
	uint32_t half[2] = { VHOST_USER_GET_FEATURES, VHOST_USER_VERSION };

	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, raw_send(c->sock, half, 6, NULL, 0));
	shutdown(c->sock, SHUT_WR);
	EXPECT_EQ(1, peer_closed(c->sock, IO_TIMEOUT_MS));
	vhost_user_disconnect(c);
	serves(_metadata, self->s.sock, self->seed);
}

TEST_F_TIMEOUT(br, stalled_message, 60)
{
	struct vhost_user_conn *c = raw_conn(self->s.sock);
	struct vhost_user_hdr h = {
		.request = VHOST_USER_SET_FEATURES,
		.flags = VHOST_USER_VERSION, .size = 8,
	};

	/* A header promising a payload that never comes. */
	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, raw_send(c->sock, &h, sizeof(h), NULL, 0));
	EXPECT_EQ(1, peer_closed(c->sock, STALL_MS * 3));
	vhost_user_disconnect(c);
	serves(_metadata, self->s.sock, self->seed);
}

TEST_F(br, oversized_size_field)
{
	static const uint32_t sizes[] = { VHOST_USER_PAYLOAD_MAX + 1,
					  0x7fffffff, 0xffffffff };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct vhost_user_conn *c = raw_conn(self->s.sock);
		struct vhost_user_hdr h = {
			.request = VHOST_USER_SET_MEM_TABLE,
			.flags = VHOST_USER_VERSION, .size = sizes[i],
		};
		char junk[64] = { 0 };

		ASSERT_NE(NULL, c);
		ASSERT_EQ(0, raw_send(c->sock, &h, sizeof(h), NULL, 0));
		/* The bridge may have hung up already. */
		raw_send(c->sock, junk, sizeof(junk), NULL, 0);
		EXPECT_EQ(1, peer_closed(c->sock, IO_TIMEOUT_MS))
			TH_LOG("size %u", sizes[i]);
		vhost_user_disconnect(c);
	}
	serves(_metadata, self->s.sock, self->seed);
}

TEST_F(br, bad_version_or_reply_flag)
{
	static const uint32_t flags[] = { 0, 2, 3,
					  VHOST_USER_VERSION |
					  VHOST_USER_FLAG_REPLY };

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		struct vhost_user_conn *c = raw_conn(self->s.sock);
		struct vhost_user_hdr h = {
			.request = VHOST_USER_GET_FEATURES, .flags = flags[i],
		};

		ASSERT_NE(NULL, c);
		ASSERT_EQ(0, raw_send(c->sock, &h, sizeof(h), NULL, 0));
		EXPECT_EQ(1, peer_closed(c->sock, IO_TIMEOUT_MS))
			TH_LOG("flags 0x%x", flags[i]);
		vhost_user_disconnect(c);
	}
	serves(_metadata, self->s.sock, self->seed);
}

TEST_F(br, too_many_regions)
{
	struct vhost_user_conn *c = raw_conn(self->s.sock);
	struct vhost_user_memory mem = { .nregions = 9 };
	int fds[VHOST_USER_MAX_FDS], mfd = new_memfd(1 << 20);
	uint32_t sz = offsetof(struct vhost_user_memory, regions);
	struct {
		uint32_t nregions, padding;
		struct vhost_user_region r[9];
	} nine = { .nregions = 9 };
	uint64_t f;

	ASSERT_NE(NULL, c);
	ASSERT_LE(0, mfd);
	for (int i = 0; i < VHOST_USER_MAX_FDS; i++)
		fds[i] = mfd;
	for (int i = 0; i < 9; i++)
		nine.r[i] = (struct vhost_user_region){
			.guest_phys_addr = (uint64_t)i << 20,
			.memory_size = 4096,
			.userspace_addr = 0x10000000ULL + ((uint64_t)i << 20),
		};
	/* Nine regions with eight fds, then counts with no regions at all. */
	EXPECT_EQ(-E2BIG, raw_call(c, VHOST_USER_SET_MEM_TABLE, &nine,
				   sizeof(nine), fds, 8));
	mem.nregions = 0xffffffff;
	EXPECT_EQ(-E2BIG, raw_call(c, VHOST_USER_SET_MEM_TABLE, &mem, sz,
				   NULL, 0));
	mem.nregions = 2;
	EXPECT_EQ(-EINVAL, raw_call(c, VHOST_USER_SET_MEM_TABLE, &mem, sz,
				    NULL, 0));
	/* The connection is still good. */
	EXPECT_EQ(0, vhost_user_get_features(c, &f));
	vhost_user_disconnect(c);
	close(mfd);
	serves(_metadata, self->s.sock, self->seed);
}

TEST_F(br, bad_fds)
{
	struct vhost_user_conn *c = raw_conn(self->s.sock);
	struct vhost_user_memory mem = { .nregions = 1 };
	uint32_t sz = offsetof(struct vhost_user_memory, regions) +
		      sizeof(mem.regions[0]);
	int pipefd[2], mfd = new_memfd(1 << 20), efd = eventfd(0, 0);
	int many[16];
	uint64_t f, v;

	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, pipe(pipefd));
	ASSERT_LE(0, mfd);
	ASSERT_LE(0, efd);
	mem.regions[0] = (struct vhost_user_region){
		.guest_phys_addr = 1ULL << 32, .memory_size = 1 << 20,
		.userspace_addr = 0x7f0000000000ULL,
	};
	/* No fd for the region, a pipe, or two fds. */
	EXPECT_EQ(-EINVAL, raw_call(c, VHOST_USER_SET_MEM_TABLE, &mem, sz,
				    NULL, 0));
	EXPECT_EQ(-EBADF, raw_call(c, VHOST_USER_SET_MEM_TABLE, &mem, sz,
				   pipefd, 1));
	EXPECT_EQ(-EBADF, raw_call(c, VHOST_USER_SET_MEM_TABLE, &mem, sz,
				   &efd, 1));
	EXPECT_EQ(-EINVAL, raw_call(c, VHOST_USER_SET_MEM_TABLE, &mem, sz,
				    (int[]){ mfd, mfd }, 2));
	/* A region past the end of its file, or wrapping around. */
	mem.regions[0].mmap_offset = 4096;
	EXPECT_EQ(-EINVAL, raw_call(c, VHOST_USER_SET_MEM_TABLE, &mem, sz,
				    &mfd, 1));
	mem.regions[0].mmap_offset = ~0ULL - 4095;
	EXPECT_EQ(-EINVAL, raw_call(c, VHOST_USER_SET_MEM_TABLE, &mem, sz,
				    &mfd, 1));
	mem.regions[0].mmap_offset = 0;
	mem.regions[0].guest_phys_addr = ~0ULL - 4095;
	EXPECT_EQ(-EINVAL, raw_call(c, VHOST_USER_SET_MEM_TABLE, &mem, sz,
				    &mfd, 1));
	mem.regions[0].guest_phys_addr = 1ULL << 32;
	mem.regions[0].memory_size = 0;
	EXPECT_EQ(-EINVAL, raw_call(c, VHOST_USER_SET_MEM_TABLE, &mem, sz,
				    &mfd, 1));

	/* Kick, call and error: eventfds only, one each or the no-fd bit. */
	v = 0;
	EXPECT_EQ(-EBADF, raw_call(c, VHOST_USER_SET_VRING_KICK, &v, 8,
				   pipefd, 1));
	EXPECT_EQ(-EBADF, raw_call(c, VHOST_USER_SET_VRING_KICK, &v, 8,
				   &mfd, 1));
	EXPECT_EQ(-EBADF, raw_call(c, VHOST_USER_SET_VRING_KICK, &v, 8,
				   NULL, 0));
	EXPECT_EQ(-EBADF, raw_call(c, VHOST_USER_SET_VRING_CALL, &v, 8,
				   (int[]){ efd, efd }, 2));
	EXPECT_NE(0, raw_call(c, VHOST_USER_SET_VRING_CALL, &v, 8,
			      pipefd, 1));
	EXPECT_NE(0, raw_call(c, VHOST_USER_SET_VRING_ERR, &v, 8, &mfd, 1));
	v = VHOST_USER_VRING_NOFD_MASK;
	EXPECT_EQ(-EBADF, raw_call(c, VHOST_USER_SET_VRING_CALL, &v, 8,
				   &efd, 1));
	EXPECT_EQ(0, raw_call(c, VHOST_USER_SET_VRING_CALL, &v, 8, NULL, 0));
	/* Polling instead of a kick is not something the kernel does. */
	EXPECT_EQ(-EOPNOTSUPP, raw_call(c, VHOST_USER_SET_VRING_KICK, &v, 8,
					NULL, 0));
	EXPECT_EQ(0, vhost_user_get_features(c, &f));

	/* More descriptors than any message carries: disconnected. */
	for (int i = 0; i < 16; i++)
		many[i] = efd;
	v = 0;
	{
		struct { struct vhost_user_hdr h; uint64_t v; } m = {
			{ VHOST_USER_SET_VRING_CALL, VHOST_USER_VERSION, 8 }, 0,
		};

		ASSERT_EQ(0, raw_send(c->sock, &m, sizeof(m), many, 16));
	}
	EXPECT_EQ(1, peer_closed(c->sock, IO_TIMEOUT_MS));
	vhost_user_disconnect(c);
	close(pipefd[0]);
	close(pipefd[1]);
	close(mfd);
	close(efd);
	serves(_metadata, self->s.sock, self->seed);
}

TEST_F(br, bad_payloads_and_indexes)
{
	struct vhost_user_conn *c = raw_conn(self->s.sock);
	struct vhost_vring_state st = { .index = 0, .num = 64 };
	struct vhost_vring_addr a = { 0 };
	struct vhost_user_msg m, rep;
	uint8_t cfgbuf[VHOST_USER_CONFIG_HDR_SIZE + 8] = { 0 };
	unsigned int base;
	uint64_t f, v;

	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, vhost_user_get_features(c, &f));
	/* Payloads of the wrong size. */
	EXPECT_EQ(-EINVAL, raw_call(c, VHOST_USER_SET_VRING_NUM, &st, 4,
				    NULL, 0));
	EXPECT_EQ(-EINVAL, raw_call(c, VHOST_USER_SET_FEATURES, &f, 4,
				    NULL, 0));
	EXPECT_EQ(-EINVAL, raw_call(c, VHOST_USER_SET_VRING_ADDR, &a, 8,
				    NULL, 0));
	/* Queues the bridge does not have. */
	for (unsigned int idx = QUEUES; idx < 300; idx += 37) {
		EXPECT_EQ(-EINVAL, vhost_user_set_vring_num(c, idx, 64));
		EXPECT_EQ(-EINVAL, vhost_user_set_vring_base(c, idx, 0));
		EXPECT_EQ(-EINVAL, vhost_user_set_vring_enable(c, idx, true));
		EXPECT_EQ(-EIO, vhost_user_get_vring_base(c, idx, &base));
	}
	v = 0x1ff00;	/* bits above the no-fd flag */
	EXPECT_EQ(-EINVAL, raw_call(c, VHOST_USER_SET_VRING_CALL, &v, 8,
				    NULL, 0));
	/* Bad ring sizes and addresses. */
	EXPECT_NE(0, vhost_user_set_vring_num(c, 0, 3));
	EXPECT_NE(0, vhost_user_set_vring_num(c, 0, 65536));
	ASSERT_EQ(0, vhost_user_set_vring_num(c, 0, 64));
	EXPECT_EQ(-EFAULT, vhost_user_set_vring_addr(c, 0, 0x1000, 0x2000,
						     0x3000, 0));
	EXPECT_EQ(-EFAULT, vhost_user_set_vring_addr(c, 0, 0x1000, 0x2000,
						     0x3000, 1));
	EXPECT_EQ(-EINVAL, vhost_user_set_vring_addr(c, 0, 0x1000, 0x2000,
						     0x3000, 2));
	EXPECT_NE(0, vhost_user_set_vring_base(c, 0, 0x10000));
	/* Features never offered. */
	EXPECT_EQ(-EINVAL, vhost_user_set_features(c, f | F(63)));
	EXPECT_EQ(-EINVAL, vhost_user_set_protocol_features(c,
		c->protocol_features | F(VHOST_USER_PROTOCOL_F_STATUS)));
	/* Config: sizes that do not add up, offsets past the space. */
	memset(&m, 0, sizeof(m));
	m.hdr.request = VHOST_USER_GET_CONFIG;
	m.hdr.size = sizeof(cfgbuf);
	m.payload.config.size = 200;
	EXPECT_EQ(-EIO, vhost_user_call(c, &m, NULL, 0, &rep, sizeof(cfgbuf)));
	m.payload.config.size = 8;
	m.payload.config.offset = 0xfffffff0;
	EXPECT_EQ(-EIO, vhost_user_call(c, &m, NULL, 0, &rep, sizeof(cfgbuf)));
	m.hdr.size = 4;
	ASSERT_EQ(0, vhost_user_call(c, &m, NULL, 0, &rep, 0));
	EXPECT_EQ(0, rep.hdr.size);
	/* What the bridge does not do. */
	EXPECT_EQ(-EOPNOTSUPP, raw_call(c, 99, NULL, 0, NULL, 0));
	EXPECT_EQ(-EOPNOTSUPP, raw_call(c, VHOST_USER_SET_VRING_ENDIAN, &st,
					sizeof(st), NULL, 0));
	/* An unknown request that wants a reply gets an empty one. */
	memset(&m, 0, sizeof(m));
	m.hdr.request = VHOST_USER_GET_INFLIGHT_FD;
	m.hdr.size = 0;
	EXPECT_EQ(-EIO, vhost_user_call(c, &m, NULL, 0, &rep, 8));
	/* And after all that the connection still works. */
	EXPECT_EQ(0, vhost_user_get_features(c, &v));
	EXPECT_EQ(f, v);
	vhost_user_disconnect(c);
	serves(_metadata, self->s.sock, self->seed);
}

/* Random messages with random descriptors; the bridge must live on. */
TEST_F_TIMEOUT(br, garbage, 300)
{
	int mfd = new_memfd(1 << 20), efd = eventfd(0, 0), pipefd[2];
	unsigned int seed = (unsigned int)self->seed;
	struct vhost_user_conn *c = NULL;
	unsigned int disconnects = 0;

	ASSERT_LE(0, mfd);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, pipe(pipefd));
	for (int i = 0; i < 400; i++) {
		struct vhost_user_msg m;
		int fds[3] = { mfd, efd, pipefd[0] };
		char junk[sizeof(m.hdr) + 300];
		uint32_t len;

		if (!c) {
			c = raw_conn(self->s.sock);
			ASSERT_NE(NULL, c);
		}
		memset(&m, 0, sizeof(m));
		m.hdr.request = rand_r(&seed) % 42;
		m.hdr.flags = VHOST_USER_VERSION |
			      (rand_r(&seed) % 2 ? VHOST_USER_FLAG_NEED_REPLY : 0);
		if (rand_r(&seed) % 16 == 0)
			m.hdr.flags = rand_r(&seed);
		m.hdr.size = rand_r(&seed) % 300;
		for (uint32_t k = 0; k < m.hdr.size; k++)
			m.payload.raw[k] = rand_r(&seed) %
					   (rand_r(&seed) % 2 ? 256 : 3);
		/* Small indexes, sizes and addresses now and then. */
		if (m.hdr.size >= 8 && rand_r(&seed) % 2)
			m.payload.state.index = rand_r(&seed) % 3;
		len = sizeof(m.hdr);
		memcpy(junk, &m.hdr, len);
		memcpy(junk + len, m.payload.raw,
		       m.hdr.size < sizeof(junk) - len ? m.hdr.size :
		       sizeof(junk) - len);
		len += m.hdr.size < sizeof(junk) - len ? m.hdr.size :
		       sizeof(junk) - len;
		if (raw_send(c->sock, junk, len, fds, rand_r(&seed) % 4) ||
		    peer_closed(c->sock, 20)) {
			vhost_user_disconnect(c);
			c = NULL;
			disconnects++;
		}
		ASSERT_TRUE(server_alive(&self->s)) TH_LOG("message %d", i);
	}
	vhost_user_disconnect(c);
	TH_LOG("%u disconnects", disconnects);
	close(mfd);
	close(efd);
	close(pipefd[0]);
	close(pipefd[1]);
	serves(_metadata, self->s.sock, self->seed);
}

/* ---- an unmodified VMM ---- */

/* ---- a hostile frontend ---- */

/*
 * Each test starts its own bridge with the options it is about, as a
 * frontend that does not play by the rules would meet it.
 */
FIXTURE(hostile) {
	struct server s;
	uint64_t seed;
};

FIXTURE_SETUP(hostile)
{
	self->seed = fresh_seed();
	if (access(bridge_bin(), X_OK))
		SKIP(return, "%s: %s (make -C tools)", bridge_bin(),
		     strerror(errno));
}

FIXTURE_TEARDOWN(hostile)
{
	server_done(_metadata, &self->s, true);
}

/*
 * SET_MEM_TABLE of regions of @size[0..n) bytes, back to back in guest
 * and frontend space and in the file @fd; the REPLY_ACK result.
 */
static int mem_table(struct vhost_user_conn *c, const uint64_t *size,
		     unsigned int n, int fd)
{
	struct vhost_user_memory mem = { .nregions = n };
	int fds[VHOST_USER_MEM_REGIONS_MAX];
	uint64_t at = 0;

	for (unsigned int i = 0; i < n; i++) {
		mem.regions[i] = (struct vhost_user_region){
			.guest_phys_addr = at, .memory_size = size[i],
			.userspace_addr = 0x100000000000ULL + at,
			.mmap_offset = at,
		};
		fds[i] = fd;
		at += size[i];
	}
	return raw_call(c, VHOST_USER_SET_MEM_TABLE, &mem,
			offsetof(struct vhost_user_memory, regions) +
			n * sizeof(mem.regions[0]), fds, n);
}

/* ADD_MEM_REG (or REM_MEM_REG) of @size bytes at @at, as mem_table(). */
static int mem_reg(struct vhost_user_conn *c, uint32_t request, uint64_t at,
		   uint64_t size, int fd)
{
	struct vhost_user_mem_reg r = {
		.region = {
			.guest_phys_addr = at, .memory_size = size,
			.userspace_addr = 0x100000000000ULL + at,
			.mmap_offset = at,
		},
	};

	return raw_call(c, request, &r, sizeof(r), &fd,
			request == VHOST_USER_ADD_MEM_REG);
}

TEST_F(hostile, guest_memory_over_max_memory)
{
	static const char *const opts[] = { "--max-memory", "32M", NULL };
	struct vhost_user_conn *c;
	int mfd = new_memfd(64 << 20);
	uint64_t f;

	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, bridge_start(&self->s, test_dev(), opts));
	c = raw_conn(self->s.sock);
	ASSERT_NE(NULL, c);
	/* One region, or two, over 32 MiB; then exactly 32 MiB. */
	EXPECT_EQ(-E2BIG, mem_table(c, (uint64_t[]){ 48 << 20 }, 1, mfd));
	EXPECT_EQ(-E2BIG, mem_table(c, (uint64_t[]){ 16 << 20, 24 << 20 },
				    2, mfd));
	EXPECT_EQ(-E2BIG, mem_table(c, (uint64_t[]){ 16 << 20, ~0ULL - 4095 },
				    2, mfd));
	EXPECT_EQ(0, mem_table(c, (uint64_t[]){ 16 << 20, 16 << 20 }, 2, mfd));
	/* Growing past it region by region is refused too. */
	EXPECT_EQ(-E2BIG, mem_reg(c, VHOST_USER_ADD_MEM_REG, 32 << 20, 4096,
				  mfd));
	EXPECT_EQ(0, mem_reg(c, VHOST_USER_REM_MEM_REG, 16 << 20, 16 << 20,
			     -1));
	EXPECT_EQ(-E2BIG, mem_reg(c, VHOST_USER_ADD_MEM_REG, 16 << 20,
				  (16 << 20) + 4096, mfd));
	EXPECT_EQ(0, mem_reg(c, VHOST_USER_ADD_MEM_REG, 16 << 20, 16 << 20,
			     mfd));
	EXPECT_EQ(0, vhost_user_get_features(c, &f));
	vhost_user_disconnect(c);
	close(mfd);
	/* A frontend with 16 MiB of memory is served. */
	serves(_metadata, self->s.sock, self->seed);
}

TEST_F(hostile, default_max_memory_is_64g)
{
	struct vhost_user_conn *c;
	int mfd = new_memfd(0);
	uint64_t f;

	/* A sparse 64 TiB file: no page of it is ever touched. */
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, 64ULL << 40));
	ASSERT_EQ(0, bridge_start(&self->s, test_dev(), NULL));
	c = raw_conn(self->s.sock);
	ASSERT_NE(NULL, c);
	EXPECT_EQ(-E2BIG, mem_table(c, (uint64_t[]){ 64ULL << 40 }, 1, mfd));
	EXPECT_EQ(-E2BIG, mem_table(c, (uint64_t[]){ (64ULL << 30) + 4096 },
				    1, mfd));
	EXPECT_EQ(0, mem_table(c, (uint64_t[]){ 64ULL << 30 }, 1, mfd));
	EXPECT_EQ(0, vhost_user_get_features(c, &f));
	vhost_user_disconnect(c);
	close(mfd);
	serves(_metadata, self->s.sock, self->seed);
}

/*
 * Send the header of a 40-byte SET_VRING_ADDR, then a payload byte every
 * @drip_ms, never all of it, until the bridge hangs up or @pid exits
 * (if > 0) or @max_ms pass. The ms from the header to that; -1 if none.
 */
static int64_t drip(int sock, int drip_ms, int max_ms, pid_t pid,
		    int *status)
{
	struct vhost_user_hdr h = {
		.request = VHOST_USER_SET_VRING_ADDR,
		.flags = VHOST_USER_VERSION,
		.size = sizeof(struct vhost_vring_addr),
	};
	uint64_t t0 = vblk_now_ns();
	char byte = 0;

	if (raw_send(sock, &h, sizeof(h), NULL, 0))
		return -1;
	for (unsigned int sent = 0;
	     vblk_now_ns() - t0 < (uint64_t)max_ms * 1000000; sent++) {
		if (pid > 0) {
			usleep(drip_ms * 1000);
			if (waitpid(pid, status, WNOHANG) == pid)
				return (vblk_now_ns() - t0) / 1000000;
		} else if (peer_closed(sock, drip_ms)) {
			return (vblk_now_ns() - t0) / 1000000;
		}
		if (sent + 1 < h.size)
			raw_send(sock, &byte, 1, NULL, 0);
	}
	return -1;
}

TEST_F_TIMEOUT(hostile, slow_message_cut_off_at_the_deadline, 90)
{
	struct vhost_user_conn *c;
	int64_t ms;

	ASSERT_EQ(0, bridge_start(&self->s, test_dev(), NULL));
	c = raw_conn(self->s.sock);
	ASSERT_NE(NULL, c);
	/* A byte every 500 ms: each read is quick, the message is not. */
	ms = drip(c->sock, 500, 40000, 0, NULL);
	EXPECT_LE(STALL_MS - 500, ms);
	EXPECT_GE(STALL_MS + 2000, ms);
	TH_LOG("disconnected after %" PRId64 " ms", ms);
	vhost_user_disconnect(c);
	serves(_metadata, self->s.sock, self->seed);
}

TEST_F_TIMEOUT(hostile, sigterm_in_the_middle_of_a_message, 60)
{
	struct vhost_user_conn *c;
	int64_t ms;
	int status;

	ASSERT_EQ(0, bridge_start(&self->s, test_dev(), NULL));
	c = raw_conn(self->s.sock);
	ASSERT_NE(NULL, c);
	/* A byte every 100 ms for a second, then SIGTERM, dripping on. */
	ASSERT_EQ(-1, drip(c->sock, 100, 1000, 0, NULL));
	ASSERT_EQ(0, kill(self->s.pid, SIGTERM));
	ms = drip(c->sock, 100, 10000, self->s.pid, &status);
	ASSERT_LE(0, ms) TH_LOG("the bridge did not stop within 10 s");
	self->s.pid = 0;
	TH_LOG("stopped %" PRId64 " ms after SIGTERM", ms);
	EXPECT_GE(1500, ms);
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	vhost_user_disconnect(c);
}

/*
 * A frontend that keeps the socket busy (SET_OWNER again and again, no
 * reply asked) cannot hold off SIGTERM: ppoll() that finds the socket
 * ready does not deliver it.
 */
TEST_F_TIMEOUT(hostile, sigterm_during_a_message_flood, 60)
{
	const struct vhost_user_hdr h = {
		.request = VHOST_USER_SET_OWNER,
		.flags = VHOST_USER_VERSION,
	};
	struct vhost_user_conn *c;
	uint64_t t0, ms;
	int status = 0;
	pid_t flood;

	ASSERT_EQ(0, bridge_start(&self->s, test_dev(), NULL));
	c = raw_conn(self->s.sock);
	ASSERT_NE(NULL, c);
	flood = fork();
	ASSERT_LE(0, flood);
	if (!flood) {
		static struct vhost_user_hdr burst[512];

		/* Whole bursts: the socket is never found empty. */
		for (unsigned int i = 0; i < ARRAY_SIZE(burst); i++)
			burst[i] = h;
		t0 = vblk_now_ns();
		while (vblk_now_ns() - t0 < 15000000000ULL &&
		       write(c->sock, burst, sizeof(burst)) > 0)
			;
		_exit(0);
	}
	usleep(500000);
	t0 = vblk_now_ns();
	ASSERT_EQ(0, kill(self->s.pid, SIGTERM));
	while (waitpid(self->s.pid, &status, WNOHANG) != self->s.pid &&
	       vblk_now_ns() - t0 < 10000000000ULL)
		usleep(20000);
	ms = (vblk_now_ns() - t0) / 1000000;
	kill(flood, SIGKILL);
	waitpid(flood, NULL, 0);
	TH_LOG("stopped %" PRIu64 " ms after SIGTERM", ms);
	EXPECT_GE(1500, ms);
	if (ms < 10000) {
		self->s.pid = 0;
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	}
	vhost_user_disconnect(c);
}

/*
 * A region of a hugetlbfs file maps, and the kernel faults, whole huge
 * pages: --max-memory counts those, not the region's bytes.
 */
TEST_F(hostile, hugetlb_regions_count_whole_huge_pages)
{
	static const char *const opts[] = { "--max-memory", "4M", NULL };
	struct vhost_user_memory mem = { .nregions = 3 };
	const uint64_t huge = 2 << 20;
	struct vhost_user_conn *c;
	int fds[3], hfd;
	uint64_t f;
	FILE *nr;

	nr = fopen("/proc/sys/vm/nr_hugepages", "w");
	if (nr) {
		fputs("8", nr);
		fclose(nr);
	}
	hfd = memfd_create("hostile-huge", MFD_CLOEXEC | MFD_HUGETLB);
	if (hfd < 0)
		SKIP(return, "no hugetlb memfd: %s", strerror(errno));
	ASSERT_EQ(0, ftruncate(hfd, 4 * huge));
	ASSERT_EQ(0, bridge_start(&self->s, test_dev(), opts));
	c = raw_conn(self->s.sock);
	ASSERT_NE(NULL, c);
	/* 4 KiB in each of three huge pages: 6 MiB mapped, not 12 KiB. */
	for (unsigned int i = 0; i < 3; i++) {
		mem.regions[i] = (struct vhost_user_region){
			.guest_phys_addr = i * huge, .memory_size = 4096,
			.userspace_addr = 0x100000000000ULL + i * huge,
			.mmap_offset = i * huge,
		};
		fds[i] = hfd;
	}
	EXPECT_EQ(-E2BIG, raw_call(c, VHOST_USER_SET_MEM_TABLE, &mem,
				   offsetof(struct vhost_user_memory, regions) +
				   3 * sizeof(mem.regions[0]), fds, 3));
	/* Two of them are 4 MiB: accepted. */
	mem.nregions = 2;
	EXPECT_EQ(0, raw_call(c, VHOST_USER_SET_MEM_TABLE, &mem,
			      offsetof(struct vhost_user_memory, regions) +
			      2 * sizeof(mem.regions[0]), fds, 2));
	/* A third by ADD_MEM_REG is not. */
	EXPECT_EQ(-E2BIG, raw_call(c, VHOST_USER_ADD_MEM_REG,
				   &(struct vhost_user_mem_reg){
					.region = mem.regions[2] },
				   sizeof(struct vhost_user_mem_reg), fds, 1));
	EXPECT_EQ(0, vhost_user_get_features(c, &f));
	vhost_user_disconnect(c);
	close(hfd);
}

/*
 * Lines of @path with @what in them, or with @sum the sum of the numbers
 * after their first colon; all lines in *@lines.
 */
static unsigned long log_count(const char *path, const char *what, bool sum,
			       unsigned long *lines)
{
	unsigned long n = 0;
	char line[512];
	FILE *f = fopen(path, "re");

	*lines = 0;
	while (f && fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, what);
		const char *colon = strchr(line, ':');

		(*lines)++;
		if (!p)
			continue;
		n += sum && colon ? strtoul(colon + 1, NULL, 10) : 1;
	}
	if (f)
		fclose(f);
	return n;
}

TEST_F_TIMEOUT(hostile, log_flood_is_capped, 120)
{
	const unsigned int count = 3000;
	struct {
		struct vhost_user_hdr h;
		struct vhost_vring_state s;
	} __attribute__((packed)) bad[100];
	unsigned long logged, suppressed, lines;
	struct vhost_user_conn *c;
	uint64_t f;

	ASSERT_EQ(0, bridge_start(&self->s, test_dev(), NULL));
	c = raw_conn(self->s.sock);
	ASSERT_NE(NULL, c);
	/* SET_VRING_NUM of a ring that is not there: a log line each. */
	for (unsigned int i = 0; i < 100; i++) {
		bad[i].h = (struct vhost_user_hdr){
			.request = VHOST_USER_SET_VRING_NUM,
			.flags = VHOST_USER_VERSION,
			.size = sizeof(bad[i].s),
		};
		bad[i].s = (struct vhost_vring_state){ .index = 99, .num = 64 };
	}
	for (unsigned int i = 0; i < count / 100; i++)
		ASSERT_EQ(0, raw_send(c->sock, bad, sizeof(bad), NULL, 0));
	/* All of them were read once this is answered. */
	EXPECT_EQ(0, vhost_user_get_features(c, &f));
	vhost_user_disconnect(c);
	EXPECT_EQ(0, server_stop(&self->s));

	logged = log_count(self->s.log, "SET_VRING_NUM", false, &lines);
	suppressed = log_count(self->s.log, "log lines suppressed", true,
			       &lines);
	TH_LOG("%lu lines, %lu of them refusals, %lu suppressed", lines,
	       logged, suppressed);
	EXPECT_GE(100, lines);
	EXPECT_LE(1, logged);
	/* Every refusal is either there or counted. */
	EXPECT_LE(count, logged + suppressed);
}

/* A ramfs mount in a new directory under /tmp, in @dir; 0 or -errno. */
static int ramfs_mount(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/vhost-blk-ramfs-XXXXXX");
	if (!mkdtemp(dir))
		return -errno;
	if (mount("none", dir, "ramfs", 0, NULL)) {
		int err = errno;

		rmdir(dir);
		return -err;
	}
	return 0;
}

/* A file of @size bytes in @dir, open read-write. */
static int file_in(const char *dir, size_t size)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/region", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	unlink(path);
	if (fd >= 0 && ftruncate(fd, size)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* @fd opened again through /proc with @flags. */
static int reopen(int fd, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, flags | O_CLOEXEC);
}

TEST_F(hostile, regions_only_on_tmpfs)
{
	const uint64_t mb = 1 << 20;
	int mfd = new_memfd(mb), pfd, rofd, ramfd, extfd = -1;
	const char *fsdir = getenv("VHOST_BLK_TEST_FSDIR");
	struct vhost_user_msg m, rep;
	struct vhost_user_conn *c;
	struct vblk_dev *d;
	char ram[64];
	uint64_t f;

	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ramfs_mount(ram, sizeof(ram)));
	ramfd = file_in(ram, mb);
	ASSERT_LE(0, ramfd);
	if (fsdir && *fsdir) {
		extfd = file_in(fsdir, mb);
		ASSERT_LE(0, extfd);
	} else {
		TH_LOG("no VHOST_BLK_TEST_FSDIR: ext4 not tried");
	}
	pfd = reopen(mfd, O_PATH);
	rofd = reopen(mfd, O_RDONLY);
	ASSERT_LE(0, pfd);
	ASSERT_LE(0, rofd);
	ASSERT_EQ(0, bridge_start(&self->s, test_dev(), NULL));
	c = raw_conn(self->s.sock);
	ASSERT_NE(NULL, c);

	/* A file on ramfs or ext4, the bridge's own 9p root. */
	EXPECT_EQ(-EBADF, mem_table(c, &mb, 1, ramfd));
	if (extfd >= 0)
		EXPECT_EQ(-EBADF, mem_table(c, &mb, 1, extfd));
	/*
	 * The memfd, mapped; then the same region again through an
	 * O_PATH or read-only fd, which used to reuse the mapping.
	 */
	EXPECT_EQ(0, mem_table(c, &mb, 1, mfd));
	EXPECT_EQ(-EBADF, mem_table(c, &mb, 1, pfd));
	EXPECT_EQ(-EBADF, mem_table(c, &mb, 1, rofd));
	EXPECT_EQ(-EBADF, mem_reg(c, VHOST_USER_ADD_MEM_REG, mb, mb, ramfd));
	EXPECT_EQ(0, vhost_user_get_features(c, &f));
	vhost_user_disconnect(c);

	/* The dirty log, too: on ramfs refused (empty reply), memfd taken. */
	ASSERT_EQ(0, vu_create(&d, self->s.sock, 1, VBLK_MEM_ONE));
	memset(&m, 0, sizeof(m));
	m.hdr.request = VHOST_USER_SET_LOG_BASE;
	m.hdr.size = sizeof(m.payload.log);
	m.payload.log.mmap_size = mb;
	EXPECT_EQ(-EIO, vhost_user_call(d->vu, &m, &ramfd, 1, &rep, 8));
	EXPECT_EQ(-EIO, vhost_user_call(d->vu, &m, &pfd, 1, &rep, 8));
	EXPECT_EQ(0, vhost_user_call(d->vu, &m, &mfd, 1, &rep, 8));
	vblk_dev_destroy(d);

	close(pfd);
	close(rofd);
	close(ramfd);
	if (extfd >= 0)
		close(extfd);
	close(mfd);
	umount(ram);
	rmdir(ram);
	serves(_metadata, self->s.sock, self->seed);
}

/* The value of field @key ("Uid:") in /proc/@pid/status, in @out. */
static int proc_status(pid_t pid, const char *key, char *out, size_t len)
{
	char path[64], line[256];
	FILE *f;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, strlen(key)))
			continue;
		snprintf(out, len, "%s", line + strlen(key));
		out[strcspn(out, "\n")] = 0;
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

TEST_F_TIMEOUT(hostile, user_no_new_privs_and_seccomp, 120)
{
	static const char *const opts[] = { "--user", "nobody", NULL };
	const struct passwd *pw = getpwnam("nobody");
	char want[64], v[128];
	struct vblk_dev *d;

	if (!pw)
		SKIP(return, "no user nobody");
	ASSERT_EQ(0, bridge_start(&self->s, test_dev(), opts));
	/* Verified I/O on both queues, a reset and I/O again. */
	ASSERT_EQ(0, vu_create(&d, self->s.sock, QUEUES, VBLK_MEM_ONE));
	round_trip(_metadata, d, test_dev(), self->seed);
	vblk_dev_destroy(d);
	serves(_metadata, self->s.sock, self->seed ^ 3);

	snprintf(want, sizeof(want), "\t%u\t%u\t%u\t%u", pw->pw_uid,
		 pw->pw_uid, pw->pw_uid, pw->pw_uid);
	ASSERT_EQ(0, proc_status(self->s.pid, "Uid:", v, sizeof(v)));
	EXPECT_STREQ(want, v);
	snprintf(want, sizeof(want), "\t%u\t%u\t%u\t%u", pw->pw_gid,
		 pw->pw_gid, pw->pw_gid, pw->pw_gid);
	ASSERT_EQ(0, proc_status(self->s.pid, "Gid:", v, sizeof(v)));
	EXPECT_STREQ(want, v);
	ASSERT_EQ(0, proc_status(self->s.pid, "CapEff:", v, sizeof(v)));
	EXPECT_STREQ("\t0000000000000000", v);
	ASSERT_EQ(0, proc_status(self->s.pid, "NoNewPrivs:", v, sizeof(v)));
	EXPECT_STREQ("\t1", v);
	/* 2: SECCOMP_MODE_FILTER. */
	ASSERT_EQ(0, proc_status(self->s.pid, "Seccomp:", v, sizeof(v)));
	EXPECT_STREQ("\t2", v);
}

TEST_F(hostile, seccomp_by_default_and_no_seccomp)
{
	static const char *const opts[] = { "--no-seccomp", NULL };
	char v[128];

	ASSERT_EQ(0, bridge_start(&self->s, test_dev(), NULL));
	serves(_metadata, self->s.sock, self->seed);
	ASSERT_EQ(0, proc_status(self->s.pid, "Seccomp:", v, sizeof(v)));
	EXPECT_STREQ("\t2", v);
	ASSERT_EQ(0, proc_status(self->s.pid, "NoNewPrivs:", v, sizeof(v)));
	EXPECT_STREQ("\t1", v);
	ASSERT_EQ(0, proc_status(self->s.pid, "Uid:", v, sizeof(v)));
	EXPECT_STREQ("\t0\t0\t0\t0", v);
	server_done(_metadata, &self->s, true);

	ASSERT_EQ(0, bridge_start(&self->s, test_dev(), opts));
	serves(_metadata, self->s.sock, self->seed ^ 1);
	ASSERT_EQ(0, proc_status(self->s.pid, "Seccomp:", v, sizeof(v)));
	EXPECT_STREQ("\t0", v);
	ASSERT_EQ(0, proc_status(self->s.pid, "NoNewPrivs:", v, sizeof(v)));
	EXPECT_STREQ("\t1", v);
}

struct peer {
	const char *sock;
	uid_t uid;
	gid_t gid;
	gid_t group;			/* supplementary, if not 0 */
	uint64_t seed;
};

/*
 * In a child: become @arg's uid, gid and group, connect and do verified
 * I/O. 0 if it worked, 1 if the bridge refused, 2 if the setup failed.
 */
static int peer_io(void *arg)
{
	const struct peer *p = arg;
	struct vblk_dev *d;
	struct vblk_req *r;
	uint64_t gpa;
	int ret;

	if (setgroups(p->group ? 1 : 0, &p->group) || setgid(p->gid) ||
	    setuid(p->uid))
		return 2;
	if (vu_create(&d, p->sock, 1, VBLK_MEM_ONE))
		return 1;
	r = vblk_req_alloc(d);
	ret = !r || vblk_alloc(d, 65536, 4096, &gpa) ||
	      write_pattern(&d->vqs[0], r, gpa, 500, 65536, p->seed) ||
	      check_pattern(&d->vqs[0], r, gpa, 500, 65536, p->seed) ? 3 : 0;
	vblk_dev_destroy(d);
	return ret;
}

TEST_F_TIMEOUT(hostile, peer_credentials, 120)
{
	static const char *const opts[] = {
		"--allow-uid", "12345", "--allow-group", "54321", NULL,
	};
	struct peer p = { .seed = self->seed };
	struct vhost_user_conn *c;
	unsigned long lines;

	ASSERT_EQ(0, bridge_start(&self->s, test_dev(), opts));
	/* Whoever may connect: the bridge itself is to refuse. */
	ASSERT_EQ(0, chmod(self->s.sock, 0777));
	p.sock = self->s.sock;
	/* Root is no exception: closed at once. */
	ASSERT_EQ(0, vhost_user_connect(&c, self->s.sock, IO_TIMEOUT_MS));
	EXPECT_EQ(1, peer_closed(c->sock, IO_TIMEOUT_MS));
	vhost_user_disconnect(c);
	EXPECT_EQ(1, log_count(self->s.log, "refusing a frontend of uid 0,",
			       false, &lines));
	/* The allowed uid; the allowed group as gid or supplementary. */
	p.uid = 12345, p.gid = 100;
	EXPECT_EQ(0, run_in_child(peer_io, &p, IO_TIMEOUT_MS * 3));
	p.uid = 999, p.gid = 54321;
	EXPECT_EQ(0, run_in_child(peer_io, &p, IO_TIMEOUT_MS * 3));
	p.uid = 999, p.gid = 100, p.group = 54321;
	EXPECT_EQ(0, run_in_child(peer_io, &p, IO_TIMEOUT_MS * 3));
	/* Neither. */
	p.uid = 999, p.gid = 100, p.group = 101;
	EXPECT_EQ(1, run_in_child(peer_io, &p, IO_TIMEOUT_MS * 3));
	EXPECT_EQ(1, log_count(self->s.log, "refusing a frontend of uid 999,",
			       false, &lines));
}

/* Run @argv with output to @log; its exit status, or -1 after @ms. */
static int run_for(char *const *argv, const char *log, int ms)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (!pid) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	for (int i = 0; i < ms / 10; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) :
			       128 + WTERMSIG(status);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static void show_file(const char *what, const char *path)
{
	char line[512];
	FILE *f = fopen(path, "re");

	if (!f)
		return;
	fprintf(stderr, "# ---- %s ----\n", what);
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "# %s", line);
	fclose(f);
}

/*
 * QEMU with @smp vCPUs boots the boot sector through the bridge on @sock
 * as vhost-user-blk-pci @device, reboots once, and what the guest wrote
 * is on the disk.
 */
static void qemu_boots(struct __test_metadata *_metadata, const char *sock,
		       const char *device, const char *smp)
{
	char chardev[160], serial[128], log[128], out[4096] = "";
	char *argv[] = {
		QEMU, "-accel", "kvm", "-accel", "tcg", "-M", "pc", "-m", "64",
		"-smp", (char *)smp,
		"-nodefaults", "-no-user-config", "-display", "none",
		"-object", "memory-backend-memfd,id=mem,size=64M,share=on",
		"-numa", "node,memdev=mem",
		"-chardev", chardev,
		"-device", (char *)device,
		"-serial", serial,
		"-device", "isa-debug-exit,iobase=0xf4,iosize=4",
		"-boot", "c", NULL,
	};
	uint8_t img[22 * 512] = { 0 }, sec[512];
	int fd, status, bad;
	ssize_t n;

	fd = open(beside_me("bridge_boot.bin"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("bridge_boot.bin: %s (make -C tests/selftests)",
				strerror(errno));
	ASSERT_EQ(512, read(fd, img, 512));
	close(fd);
	for (int k = 1; k <= 8; k++)
		memset(img + k * 512, k ^ 0x5a, 512);
	ASSERT_EQ(0, blk_direct_io(test_dev(), true, 0, img, sizeof(img)));

	snprintf(chardev, sizeof(chardev), "socket,id=c,path=%s", sock);
	snprintf(serial, sizeof(serial), "file:/tmp/vhost-blk-qemu-%d.serial",
		 getpid());
	snprintf(log, sizeof(log), "/tmp/vhost-blk-qemu-%d.log", getpid());
	status = run_for(argv, log, 500000);
	fd = open(serial + 5, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, out, sizeof(out) - 1);
		out[n > 0 ? n : 0] = 0;
		close(fd);
	}
	EXPECT_EQ(BOOT_OK, status);
	/* Two boots: the device was stopped and started again between. */
	EXPECT_NE(NULL, strstr(out, "e2e: rebooting\r\n"
			       "e2e: boot sector running\r\n"
			       "e2e: OK\r\n"));
	if (status != BOOT_OK) {
		show_file("serial", serial + 5);
		show_file("qemu", log);
	}
	unlink(serial + 5);
	unlink(log);

	/* What the guest wrote is on the disk. */
	ASSERT_EQ(0, blk_direct_io(test_dev(), false, 21 * 512, sec, 512));
	EXPECT_EQ(1, sec[0]);
	ASSERT_EQ(0, blk_direct_io(test_dev(), false, 20 * 512, sec, 512));
	bad = -1;
	for (int i = 0; i < 512 && bad < 0; i++)
		if (sec[i] != ((i & 0xff) ^ 0xa5))
			bad = i;
	EXPECT_EQ(-1, bad);
}

TEST_F_TIMEOUT(br, qemu_boots_through_bridge, 600)
{
	if (access(QEMU, X_OK))
		SKIP(return, "%s not installed", QEMU);
	qemu_boots(_metadata, self->s.sock,
		   "vhost-user-blk-pci,chardev=c,num-queues=2", "1");
	/* QEMU has gone; the next frontend is served. */
	serves(_metadata, self->s.sock, self->seed);
}

/*
 * vhost-user-blk-pci asks for a queue per vCPU unless told, and refuses
 * a backend that offers fewer: a bridge with its defaults must take the
 * plain command line of a guest with several vCPUs.
 */
TEST_F_TIMEOUT(br, qemu_default_queues_with_four_vcpus, 600)
{
	struct server s2;

	if (access(QEMU, X_OK))
		SKIP(return, "%s not installed", QEMU);
	ASSERT_EQ(0, bridge_start_queues(&s2, test_dev(), NULL, NULL));
	qemu_boots(_metadata, s2.sock, "vhost-user-blk-pci,chardev=c", "4");
	server_done(_metadata, &s2, true);
}

/* ---- a file as the backend ---- */

TEST_F(br, file_backend)
{
	const char *dir = getenv("VHOST_BLK_TEST_FSDIR");
	char path[PATH_MAX];
	struct server s2;
	int fd;

	snprintf(path, sizeof(path), "%s/bridge-%d.img",
		 dir && *dir ? dir : "/tmp", getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, 32 << 20));
	ASSERT_EQ(0, bridge_start(&s2, path, NULL));
	ASSERT_EQ(0, vu_create(&self->d, s2.sock, QUEUES, VBLK_MEM_ONE));
	EXPECT_EQ((32 << 20) / 512, vblk_dev_capacity(self->d));
	round_trip(_metadata, self->d, path, self->seed);
	vblk_dev_destroy(self->d);
	self->d = NULL;
	server_done(_metadata, &s2, true);
	close(fd);
	unlink(path);
}

/* ---- resize: CONFIG_CHANGE_MSG on the backend channel ---- */

/* The bridge waits this long for the ack of CONFIG_CHANGE_MSG. */
#define ACK_MS		5000

/* The next message on the backend channel @fd within @ms: 0 or -errno. */
static int backend_msg(int fd, struct vhost_user_msg *m, int ms)
{
	int fds[VHOST_USER_MAX_FDS];
	unsigned int nfds;
	int ret = vhost_user_recv(fd, m, fds, &nfds, ms);

	for (unsigned int i = 0; !ret && i < nfds; i++)
		close(fds[i]);
	return ret ? ret : nfds ? -EBADMSG : 0;
}

static int backend_ack(int fd, const struct vhost_user_msg *m)
{
	struct vhost_user_msg r = {
		.hdr = {
			.request = m->hdr.request,
			.flags = VHOST_USER_VERSION | VHOST_USER_FLAG_REPLY,
			.size = sizeof(r.payload.u64),
		},
	};

	r.payload.u64 = 0;
	return vhost_user_send(fd, &r, NULL, 0);
}

/* 0 if @len bytes at @sector of file @fd hold the pattern. */
static int file_check(int fd, uint64_t sector, size_t len, uint64_t seed)
{
	uint8_t *b = malloc(len);
	int ret = -1;

	if (b && pread(fd, b, len, sector * 512) == (ssize_t)len)
		ret = vblk_pattern_check(b, len, sector, seed) == -1 ? 0 : 1;
	free(b);
	return ret;
}

/*
 * A file backend grows under a frontend that negotiated CONFIG,
 * BACKEND_REQ and REPLY_ACK: one CONFIG_CHANGE_MSG per change, asking
 * for an ack; while the ack is awaited the bridge serves GET_CONFIG (with
 * the new capacity, as QEMU reads it before acking) and I/O to the grown
 * part. A frontend that never acks loses the channel after ACK_MS and
 * keeps its device.
 */
TEST_F_TIMEOUT(br, resize_sends_config_change, 120)
{
	const uint64_t proto = F(VHOST_USER_PROTOCOL_F_CONFIG) |
			       F(VHOST_USER_PROTOCOL_F_BACKEND_REQ) |
			       F(VHOST_USER_PROTOCOL_F_REPLY_ACK);
	const uint64_t mib = 2048;	/* sectors */
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	struct vhost_user_msg m;
	char path[PATH_MAX];
	struct server s2;
	struct vblk_req *r;
	struct vblk_vq *q0, *q1;
	uint64_t gpa;
	int fd, bfd;

	snprintf(path, sizeof(path), "/tmp/bridge-resize-%d.img", getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, 16 * mib * 512));
	ASSERT_EQ(0, bridge_start(&s2, path, NULL));
	o.vhost_user = s2.sock;
	o.vhost_user_wait_ms = IO_TIMEOUT_MS;
	o.num_queues = QUEUES;
	o.mem_size = 16 << 20;
	o.vhost_user_backend_req = true;
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, -1, 0, NULL));
	EXPECT_EQ(proto, self->d->vu->protocol_features & proto);
	bfd = self->d->backend_req_fd;
	ASSERT_LE(0, bfd);
	q0 = &self->d->vqs[0];
	q1 = &self->d->vqs[1];
	EXPECT_EQ(16 * mib, vblk_dev_capacity(self->d));
	r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(self->d, 65536, 4096, &gpa));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  write_pattern(q0, r, gpa, 16 * mib, 65536, self->seed));
	EXPECT_EQ(-ETIMEDOUT, backend_msg(bfd, &m, QUIET_MS));

	ASSERT_EQ(0, ftruncate(fd, 24 * mib * 512));
	ASSERT_EQ(0, backend_msg(bfd, &m, 5000));
	EXPECT_EQ(VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, m.hdr.request);
	EXPECT_EQ(VHOST_USER_VERSION | VHOST_USER_FLAG_NEED_REPLY,
		  m.hdr.flags);
	EXPECT_EQ(0, m.hdr.size);
	ASSERT_EQ(0, vblk_dev_read_config(self->d));
	EXPECT_EQ(24 * mib, vblk_dev_capacity(self->d));
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  write_pattern(q1, r, gpa, 16 * mib, 65536, self->seed));
	EXPECT_EQ(0, check_pattern(q0, r, gpa, 16 * mib, 65536, self->seed));
	EXPECT_EQ(0, file_check(fd, 16 * mib, 65536, self->seed));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  do_io(q0, r, VIRTIO_BLK_T_IN, 24 * mib, gpa, 512, 0));
	ASSERT_EQ(0, backend_ack(bfd, &m));
	/* Once per change. */
	EXPECT_EQ(-ETIMEDOUT, backend_msg(bfd, &m, 1500));

	/* No ack: served all the same; a change meanwhile waits for it. */
	ASSERT_EQ(0, ftruncate(fd, 32 * mib * 512));
	ASSERT_EQ(0, backend_msg(bfd, &m, 5000));
	EXPECT_EQ(VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, m.hdr.request);
	ASSERT_EQ(0, ftruncate(fd, 40 * mib * 512));
	EXPECT_EQ(0, check_pattern(q1, r, gpa, 16 * mib, 65536, self->seed));
	ASSERT_EQ(0, vblk_dev_read_config(self->d));
	EXPECT_EQ(40 * mib, vblk_dev_capacity(self->d));
	/* The channel is closed with nothing more on it. */
	EXPECT_EQ(-ECONNRESET, backend_msg(bfd, &m, ACK_MS + 5000));
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  write_pattern(q0, r, gpa, 40 * mib - 128, 65536,
				self->seed));
	EXPECT_EQ(0, file_check(fd, 40 * mib - 128, 65536, self->seed));
	vblk_req_free(self->d, r);
	vblk_dev_destroy(self->d);
	self->d = NULL;
	/* The next frontend gets its channel and the next change. */
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, -1, 0, NULL));
	EXPECT_EQ(40 * mib, vblk_dev_capacity(self->d));
	ASSERT_EQ(0, ftruncate(fd, 48 * mib * 512));
	ASSERT_EQ(0, backend_msg(self->d->backend_req_fd, &m, 5000));
	EXPECT_EQ(VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, m.hdr.request);
	ASSERT_EQ(0, vblk_dev_read_config(self->d));
	EXPECT_EQ(48 * mib, vblk_dev_capacity(self->d));
	EXPECT_EQ(0, backend_ack(self->d->backend_req_fd, &m));
	vblk_dev_destroy(self->d);
	self->d = NULL;
	server_done(_metadata, &s2, true);
	close(fd);
	unlink(path);
}

/*
 * A byte on the backend channel while no ack is due: the bridge closes
 * the channel at once instead of waiting for the rest of a message, so
 * the frontend's own requests and a SIGTERM are not held up.
 */
TEST_F_TIMEOUT(br, backend_channel_input_holds_nothing_up, 60)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	struct vhost_user_msg m;
	struct server s2;
	uint64_t t0, ms;
	char byte = 0;
	int bfd, status;

	ASSERT_EQ(0, bridge_start(&s2, test_dev(), NULL));
	o.vhost_user = s2.sock;
	o.vhost_user_wait_ms = IO_TIMEOUT_MS;
	o.num_queues = QUEUES;
	o.mem_size = 16 << 20;
	o.vhost_user_backend_req = true;
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, -1, 0, NULL));
	bfd = self->d->backend_req_fd;
	ASSERT_LE(0, bfd);
	ASSERT_EQ(1, write(bfd, &byte, 1));
	usleep(100000);
	t0 = vblk_now_ns();
	EXPECT_EQ(0, vblk_dev_read_config(self->d));
	ms = (vblk_now_ns() - t0) / 1000000;
	TH_LOG("GET_CONFIG answered after %" PRIu64 " ms", ms);
	EXPECT_GE(1000, ms);
	EXPECT_EQ(-ECONNRESET, backend_msg(bfd, &m, 2000));
	vblk_dev_destroy(self->d);
	self->d = NULL;
	serves(_metadata, s2.sock, self->seed);

	/* Once more, then SIGTERM: it stops at once. */
	ASSERT_EQ(0, vblk_dev_create(&self->d, &o, -1, 0, NULL));
	bfd = self->d->backend_req_fd;
	ASSERT_LE(0, bfd);
	ASSERT_EQ(1, write(bfd, &byte, 1));
	t0 = vblk_now_ns();
	ASSERT_EQ(0, kill(s2.pid, SIGTERM));
	while (waitpid(s2.pid, &status, WNOHANG) != s2.pid &&
	       vblk_now_ns() - t0 < 10000000000ULL)
		usleep(20000);
	ms = (vblk_now_ns() - t0) / 1000000;
	TH_LOG("stopped %" PRIu64 " ms after SIGTERM", ms);
	EXPECT_GE(1500, ms);
	if (ms < 10000) {
		s2.pid = 0;
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	}
	vblk_dev_destroy(self->d);
	self->d = NULL;
	server_done(_metadata, &s2, false);
	unlink(s2.sock);
}

/*
 * True once the log of @s has @needle after the first @after (NULL: the
 * start), within @ms.
 */
static bool log_wait(struct server *s, const char *after, const char *needle,
		     int ms)
{
	static char buf[1 << 16];

	for (int i = 0; i <= ms / 50; i++) {
		int fd = open(s->log, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		const char *p;

		if (fd >= 0)
			close(fd);
		if (n > 0) {
			buf[n] = 0;
			p = after ? strstr(buf, after) : buf;
			if (p && strstr(p, needle))
				return true;
		}
		usleep(50000);
	}
	return false;
}

/*
 * QEMU's vhost-user-blk-pci on a file that grows while SeaBIOS has the
 * device started (the disk is blank: SeaBIOS finds nothing to boot and
 * waits): QEMU takes the backend channel and answers CONFIG_CHANGE_MSG
 * by reading GET_CONFIG, then acks; it handles the message only with
 * CONFIG and BACKEND_REQ negotiated (QEMU 7.2 as well).
 */
TEST_F_TIMEOUT(br, qemu_rereads_config_on_resize, 300)
{
	const char *const verbose[] = { "--verbose", NULL };
	char chardev[160], path[PATH_MAX];
	char *argv[] = {
		QEMU, "-accel", "kvm", "-accel", "tcg", "-M", "pc", "-m", "64",
		"-nodefaults", "-no-user-config", "-display", "none",
		"-object", "memory-backend-memfd,id=mem,size=64M,share=on",
		"-numa", "node,memdev=mem",
		"-chardev", chardev,
		"-device", "vhost-user-blk-pci,chardev=c,num-queues=2",
		"-boot", "c", NULL,
	};
	struct server s2;
	pid_t qemu;
	int fd, status;

	if (access(QEMU, X_OK))
		SKIP(return, "%s not installed", QEMU);
	snprintf(path, sizeof(path), "/tmp/bridge-qemu-resize-%d.img",
		 getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, 16 << 20));
	ASSERT_EQ(0, bridge_start(&s2, path, verbose));
	snprintf(chardev, sizeof(chardev), "socket,id=c,path=%s", s2.sock);
	qemu = fork();
	ASSERT_LE(0, qemu);
	if (!qemu) {
		int null = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	/* SeaBIOS's driver set DRIVER_OK: QEMU started the rings. */
	EXPECT_TRUE(log_wait(&s2, NULL, "SET_BACKEND_REQ_FD", 120000));
	EXPECT_TRUE(log_wait(&s2, NULL, "SET_VRING_KICK", 120000));
	ASSERT_EQ(0, ftruncate(fd, 32 << 20));
	EXPECT_TRUE(log_wait(&s2, "CONFIG_CHANGE_MSG sent", "GET_CONFIG",
			     30000));
	EXPECT_TRUE(log_wait(&s2, "CONFIG_CHANGE_MSG sent",
			     "CONFIG_CHANGE_MSG acked", 30000));
	EXPECT_FALSE(log_wait(&s2, NULL, "closing the backend channel", 0));
	kill(qemu, SIGTERM);
	waitpid(qemu, &status, 0);
	server_done(_metadata, &s2, true);
	close(fd);
	unlink(path);
}

/* ---- the same driver against qemu-storage-daemon ---- */

FIXTURE(qsd) {
	struct server s;
	struct vblk_dev *d;
};

FIXTURE_SETUP(qsd)
{
	char blockdev[256], export[512];
	char *argv[] = {
		QSD, "--blockdev", blockdev, "--export", export, NULL,
	};
	int ret;

	if (access(QSD, X_OK))
		SKIP(return, "%s not installed", QSD);
	sock_name(&self->s, "qsd");
	snprintf(blockdev, sizeof(blockdev),
		 "driver=host_device,node-name=d,filename=%s,cache.direct=on",
		 test_dev2());
	snprintf(export, sizeof(export),
		 "type=vhost-user-blk,id=e,node-name=d,addr.type=unix,addr.path=%s,writable=on,num-queues=%d",
		 self->s.sock, QUEUES);
	ret = server_start(&self->s, argv);
	ASSERT_EQ(0, ret) TH_LOG("starting %s: %s", QSD, strerror(-ret));
}

FIXTURE_TEARDOWN(qsd)
{
	vblk_dev_destroy(self->d);
	server_done(_metadata, &self->s, false);
}

TEST_F_TIMEOUT(qsd, data_two_queues, 120)
{
	struct vblk_req *r;
	uint64_t gpa;
	int fd;

	ASSERT_EQ(0, vu_create(&self->d, self->s.sock, QUEUES, VBLK_MEM_ONE));
	EXPECT_EQ(QUEUES, self->d->max_queues);
	fd = open(test_dev2(), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(blk_bytes(fd) / 512, vblk_dev_capacity(self->d));
	close(fd);
	round_trip(_metadata, self->d, test_dev2(), fresh_seed());
	r = vblk_req_alloc(self->d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(self->d, 4096, 4096, &gpa));
	if (vblk_dev_has_feature(self->d, VIRTIO_BLK_F_FLUSH))
		EXPECT_EQ(VIRTIO_BLK_S_OK,
			  do_io(&self->d->vqs[0], r, VIRTIO_BLK_T_FLUSH, 0, 0,
				0, 0));
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  do_io(&self->d->vqs[1], r, VIRTIO_BLK_T_GET_ID, 0, gpa,
			VIRTIO_BLK_ID_BYTES, 0));
}

/*
 * A disk slow enough (4 s a request) that a new bridge is up before the
 * killed one's device has drained in its final release.
 */
#define NULLB_SLOWDRAIN	"vhost-blk-slowdrain"

static int nullb_slowdrain(char *path, size_t len)
{
	static const char *const attrs[] = {
		"size=64", "blocksize=512", "memory_backed=1", "irqmode=2",
		"completion_nsec=4000000000", "hw_queue_depth=1024",
		"submit_queues=1", NULL,
	};

	return nullb_get(NULLB_SLOWDRAIN, attrs, path, len);
}

/*
 * Is @pid (killed) reaped within @ms? Its device drains in the final
 * release of its fd, in its exit: a new device waits for that before it
 * starts on the same region, so the old bridge is gone (or all but)
 * when the reconnect returns.
 */
static bool reaped_within(pid_t pid, int ms)
{
	int status;

	for (int i = 0; i <= ms / 10; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return true;
		usleep(10000);
	}
	return false;
}

/*
 * A bridge killed with writes in flight on a slow disk and a new one
 * started at once (no waitpid(), as a supervisor restarts it): the new
 * device must not take the region until the old one has drained, so each
 * write completes exactly once and no used entry names a chain not in
 * flight.
 */
TEST_F_TIMEOUT(inflight, reconnect_waits_for_old_device_to_drain, 120)
{
	struct vblk_req *w[QUEUES][INFLIGHT_WRITES];
	struct server s1 = { 0 }, s2 = { 0 };
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	uint64_t seed = fresh_seed(), gpa, deadline, t0;
	uint16_t start_used[QUEUES];
	struct vblk_used u[256];
	unsigned int invalid = 0, notdone = 0;
	struct vblk_dev *d;
	char dev[PATH_MAX];
	int ret, status;
	bool old_alive;

	ret = nullb_slowdrain(dev, sizeof(dev));
	if (ret)
		SKIP(return, "no configfs null_blk: %s", strerror(-ret));
	ASSERT_EQ(0, bridge_start(&s1, dev, NULL));
	o.vhost_user = s1.sock;
	o.vhost_user_wait_ms = IO_TIMEOUT_MS;
	o.num_queues = QUEUES;
	o.mem_size = 16 << 20;
	ASSERT_EQ(0, vblk_dev_create(&d, &o, -1, 0, NULL));
	ASSERT_LE(0, d->inflight_fd);
	ASSERT_EQ(0, vblk_alloc(d, QUEUES * INFLIGHT_WRITES * 4096, 4096, &gpa));
	for (unsigned int q = 0; q < QUEUES; q++) {
		for (unsigned int k = 0; k < INFLIGHT_WRITES; k++) {
			uint64_t a = gpa + (q * INFLIGHT_WRITES + k) * 4096;

			w[q][k] = vblk_req_alloc(d);
			ASSERT_NE(NULL, w[q][k]);
			vblk_pattern_fill(vblk_gpa_to_hva(d, a, 4096), 4096,
					  inflight_sector(q, k), seed);
			vblk_req_reset(w[q][k], VIRTIO_BLK_T_OUT,
				       inflight_sector(q, k));
			vblk_req_add_data(d, w[q][k], a, 4096);
			ASSERT_LE(0, vblk_req_submit(&d->vqs[q], w[q][k], 0));
		}
		ASSERT_EQ(0, vblk_vq_kick(&d->vqs[q]));
	}
	/* Let the kernel take them all. */
	for (int i = 0; i < 200 && (inflight_marked(d, 0) < INFLIGHT_WRITES ||
				    inflight_marked(d, 1) < INFLIGHT_WRITES); i++)
		usleep(10000);
	for (unsigned int q = 0; q < QUEUES; q++) {
		start_used[q] = d->vqs[q].last_used;
		TH_LOG("queue %u: %d marked before the kill, used %u", q,
		       inflight_marked(d, q), start_used[q]);
	}
	t0 = vblk_now_ns();
	ASSERT_EQ(0, kill(s1.pid, SIGKILL));
	/* No waitpid(): a supervisor/VMM reconnects as soon as it can. */
	ASSERT_EQ(0, bridge_start(&s2, dev, NULL));
	ASSERT_EQ(0, vblk_dev_reconnect(d, s2.sock, IO_TIMEOUT_MS));
	old_alive = !reaped_within(s1.pid, 500);
	TH_LOG("new bridge serving %" PRIu64 " ms after SIGKILL; old bridge %s",
	       (vblk_now_ns() - t0) / 1000000,
	       old_alive ? "NOT yet reaped (its device still draining)" : "gone");
	for (unsigned int q = 0; q < QUEUES; q++)
		TH_LOG("queue %u: %d marked right after reconnect", q,
		       inflight_marked(d, q));
	deadline = vblk_now_ns() / 1000000 + 30000;
	for (unsigned int q = 0; q < QUEUES; q++)
		for (unsigned int k = 0; k < INFLIGHT_WRITES; k++) {
			uint64_t now = vblk_now_ns() / 1000000;

			if (vblk_req_wait(&d->vqs[q], w[q][k],
					  now < deadline ? deadline - now : 0))
				notdone++;
		}
	if (old_alive)
		ASSERT_EQ(s1.pid, waitpid(s1.pid, &status, 0));
	TH_LOG("old bridge reaped %" PRIu64 " ms after SIGKILL",
	       (vblk_now_ns() - t0) / 1000000);
	s1.pid = 0;
	usleep(6000000);
	for (unsigned int q = 0; q < QUEUES; q++) {
		int n = vblk_vq_reap(&d->vqs[q], u, 256);

		for (int i = 0; i < n; i++)
			if (!u[i].valid) {
				invalid++;
				TH_LOG("queue %u: used entry id %u for no chain in flight",
				       q, u[i].id);
			}
		TH_LOG("queue %u: %u used entries since the kill for %u writes, device used->idx %u, driver inflight %u, marked %d",
		       q, (uint16_t)(d->vqs[q].last_used - start_used[q]),
		       INFLIGHT_WRITES, le16toh(d->vqs[q].used->idx),
		       d->vqs[q].inflight, inflight_marked(d, q));
		EXPECT_EQ(INFLIGHT_WRITES,
			  (uint16_t)(d->vqs[q].last_used - start_used[q]));
	}
	TH_LOG("writes not completed: %u, invalid used entries: %u", notdone,
	       invalid);
	EXPECT_EQ(0, notdone);
	EXPECT_EQ(0, invalid);
	/* The new device started only once the old one had drained. */
	EXPECT_FALSE(old_alive);
	vblk_dev_destroy(d);
	server_stop(&s2);
}

/*
 * As above, and a GET_ID posted as soon as the first write completes:
 * it must complete too, after the writes, and the used ring must hold
 * nothing else (before the fix the old device's completions on 6.1 and
 * the new device's resubmitted copies moved used->idx 32 -> 1 -> 33).
 */
TEST_F_TIMEOUT(inflight, reconnect_then_new_request_completes_once, 120)
{
	struct vblk_req *w[QUEUES][INFLIGHT_WRITES], *id;
	struct server s1 = { 0 }, s2 = { 0 };
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	uint64_t seed = fresh_seed(), gpa, idgpa, t0;
	struct vblk_used u[256];
	unsigned int invalid = 0, total = 0;
	struct vblk_dev *d;
	char dev[PATH_MAX];
	int ret, status, got;
	bool old_alive;

	ret = nullb_slowdrain(dev, sizeof(dev));
	if (ret)
		SKIP(return, "no configfs null_blk: %s", strerror(-ret));
	ASSERT_EQ(0, bridge_start(&s1, dev, NULL));
	o.vhost_user = s1.sock;
	o.vhost_user_wait_ms = IO_TIMEOUT_MS;
	o.num_queues = QUEUES;
	o.mem_size = 16 << 20;
	ASSERT_EQ(0, vblk_dev_create(&d, &o, -1, 0, NULL));
	ASSERT_LE(0, d->inflight_fd);
	ASSERT_EQ(0, vblk_alloc(d, INFLIGHT_WRITES * 4096, 4096, &gpa));
	ASSERT_EQ(0, vblk_alloc(d, 4096, 4096, &idgpa));
	for (unsigned int k = 0; k < INFLIGHT_WRITES; k++) {
		uint64_t a = gpa + k * 4096;

		w[0][k] = vblk_req_alloc(d);
		ASSERT_NE(NULL, w[0][k]);
		vblk_pattern_fill(vblk_gpa_to_hva(d, a, 4096), 4096,
				  inflight_sector(0, k), seed);
		vblk_req_reset(w[0][k], VIRTIO_BLK_T_OUT, inflight_sector(0, k));
		vblk_req_add_data(d, w[0][k], a, 4096);
		ASSERT_LE(0, vblk_req_submit(&d->vqs[0], w[0][k], 0));
	}
	ASSERT_EQ(0, vblk_vq_kick(&d->vqs[0]));
	for (int i = 0; i < 200 && inflight_marked(d, 0) < INFLIGHT_WRITES; i++)
		usleep(10000);
	t0 = vblk_now_ns();
	ASSERT_EQ(0, kill(s1.pid, SIGKILL));
	ASSERT_EQ(0, bridge_start(&s2, dev, NULL));
	ASSERT_EQ(0, vblk_dev_reconnect(d, s2.sock, IO_TIMEOUT_MS));
	old_alive = !reaped_within(s1.pid, 500);
	TH_LOG("new bridge serving %" PRIu64 " ms after SIGKILL, old %s",
	       (vblk_now_ns() - t0) / 1000000,
	       old_alive ? "still draining" : "gone");
	/* The first completions, from whichever device. */
	ASSERT_EQ(0, vblk_req_wait(&d->vqs[0], w[0][0], 20000));
	TH_LOG("first write done %" PRIu64 " ms after SIGKILL; driver last_used %u, used->idx %u",
	       (vblk_now_ns() - t0) / 1000000, d->vqs[0].last_used,
	       le16toh(d->vqs[0].used->idx));
	id = vblk_req_alloc(d);
	ASSERT_NE(NULL, id);
	vblk_req_reset(id, VIRTIO_BLK_T_GET_ID, 0);
	vblk_req_add_data(d, id, idgpa, VIRTIO_BLK_ID_BYTES);
	ASSERT_LE(0, vblk_req_submit(&d->vqs[0], id, 0));
	ASSERT_EQ(0, vblk_vq_kick(&d->vqs[0]));
	usleep(100000);
	TH_LOG("after GET_ID: used->idx %u, driver last_used %u",
	       le16toh(d->vqs[0].used->idx), d->vqs[0].last_used);
	if (old_alive)
		waitpid(s1.pid, &status, 0);
	s1.pid = 0;
	usleep(6000000);
	TH_LOG("later: used->idx %u, driver last_used %u",
	       le16toh(d->vqs[0].used->idx), d->vqs[0].last_used);
	while ((got = vblk_vq_reap(&d->vqs[0], u, 256)) > 0 && total < 4096) {
		for (int i = 0; i < got; i++)
			invalid += !u[i].valid;
		total += got;
	}
	TH_LOG("GET_ID done %d; entries reaped at the end %u, of them for no chain in flight %u; not done writes:",
	       id->done, total, invalid);
	for (unsigned int k = 0; k < INFLIGHT_WRITES; k++)
		if (!w[0][k]->done)
			TH_LOG("  write %u (head %d) never completed", k, w[0][k]->head);
	EXPECT_TRUE(id->done);
	EXPECT_EQ(0, invalid);
	EXPECT_FALSE(old_alive);
	EXPECT_EQ(0, d->vqs[0].inflight);
	for (unsigned int k = 0; k < INFLIGHT_WRITES; k++)
		EXPECT_TRUE(w[0][k]->done);
	vblk_dev_destroy(d);
	server_stop(&s2);
}

/*
 * SET_INFLIGHT_FD naming the guest memory memfd is refused: the kernel
 * would write the region's header and marks into guest RAM, and the
 * guest could write marks the next start resubmits. The queue then
 * starts without a region, leaving the guest page untouched.
 */
TEST_F_TIMEOUT(inflight, set_inflight_fd_of_guest_memory_is_einval, 60)
{
	struct server s1 = { 0 };
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	const struct vblk_region *reg;
	uint64_t qsize, gpa, off;
	struct vhost_blk_inflight_split *r;
	struct vblk_dev *d;
	unsigned int base;
	char dev[PATH_MAX];
	int ret;

	ret = nullb_slowdrain(dev, sizeof(dev));
	if (ret)
		SKIP(return, "no configfs null_blk: %s", strerror(-ret));
	ASSERT_EQ(0, bridge_start(&s1, dev, NULL));
	o.vhost_user = s1.sock;
	o.vhost_user_wait_ms = IO_TIMEOUT_MS;
	o.num_queues = QUEUES;
	o.mem_size = 16 << 20;
	ASSERT_EQ(0, vblk_dev_create(&d, &o, -1, 0, NULL));
	qsize = (VHOST_BLK_INFLIGHT_SIZE(d->queue_size) + 63) & ~63ULL;
	ASSERT_EQ(0, vblk_alloc(d, QUEUES * qsize, 4096, &gpa));
	reg = &d->regions[0];
	off = reg->fd_offset + (gpa - reg->gpa);
	r = vblk_gpa_to_hva(d, gpa, QUEUES * qsize);
	memset(r, 0xab, QUEUES * qsize);
	for (unsigned int q = 0; q < QUEUES; q++)
		ASSERT_EQ(0, vblk_vq_stop(&d->vqs[q], &base));
	ret = vhost_user_set_inflight_fd(d->vu, d->mem_fd, QUEUES * qsize, off,
					 QUEUES, d->queue_size);
	memset(r, 0, QUEUES * qsize);
	ASSERT_EQ(0, vblk_vq_restart(&d->vqs[0], base));
	EXPECT_EQ(-EINVAL, ret);
	EXPECT_EQ(0, r->version);
	EXPECT_EQ(0, r->desc_num);
	vblk_dev_destroy(d);
	server_stop(&s1);
}

VHOST_BLK_TEST_MAIN
