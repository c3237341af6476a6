// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_user - vhost-user message I/O and a frontend.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vhost_user.h"

static const char *const request_names[] = {
	[VHOST_USER_GET_FEATURES] = "GET_FEATURES",
	[VHOST_USER_SET_FEATURES] = "SET_FEATURES",
	[VHOST_USER_SET_OWNER] = "SET_OWNER",
	[VHOST_USER_RESET_OWNER] = "RESET_OWNER",
	[VHOST_USER_SET_MEM_TABLE] = "SET_MEM_TABLE",
	[VHOST_USER_SET_LOG_BASE] = "SET_LOG_BASE",
	[VHOST_USER_SET_LOG_FD] = "SET_LOG_FD",
	[VHOST_USER_SET_VRING_NUM] = "SET_VRING_NUM",
	[VHOST_USER_SET_VRING_ADDR] = "SET_VRING_ADDR",
	[VHOST_USER_SET_VRING_BASE] = "SET_VRING_BASE",
	[VHOST_USER_GET_VRING_BASE] = "GET_VRING_BASE",
	[VHOST_USER_SET_VRING_KICK] = "SET_VRING_KICK",
	[VHOST_USER_SET_VRING_CALL] = "SET_VRING_CALL",
	[VHOST_USER_SET_VRING_ERR] = "SET_VRING_ERR",
	[VHOST_USER_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
	[VHOST_USER_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
	[VHOST_USER_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
	[VHOST_USER_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
	[VHOST_USER_SEND_RARP] = "SEND_RARP",
	[VHOST_USER_NET_SET_MTU] = "NET_SET_MTU",
	[VHOST_USER_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD",
	[VHOST_USER_IOTLB_MSG] = "IOTLB_MSG",
	[VHOST_USER_SET_VRING_ENDIAN] = "SET_VRING_ENDIAN",
	[VHOST_USER_GET_CONFIG] = "GET_CONFIG",
	[VHOST_USER_SET_CONFIG] = "SET_CONFIG",
	[VHOST_USER_POSTCOPY_ADVISE] = "POSTCOPY_ADVISE",
	[VHOST_USER_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
	[VHOST_USER_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
	[VHOST_USER_RESET_DEVICE] = "RESET_DEVICE",
	[VHOST_USER_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
	[VHOST_USER_ADD_MEM_REG] = "ADD_MEM_REG",
	[VHOST_USER_REM_MEM_REG] = "REM_MEM_REG",
	[VHOST_USER_SET_STATUS] = "SET_STATUS",
	[VHOST_USER_GET_STATUS] = "GET_STATUS",
};

const char *vhost_user_request_name(uint32_t request)
{
	if (request < sizeof(request_names) / sizeof(request_names[0]) &&
	    request_names[request])
		return request_names[request];
	return "?";
}

bool vhost_user_has_reply(uint32_t request)
{
	switch (request) {
	case VHOST_USER_GET_FEATURES:
	case VHOST_USER_GET_PROTOCOL_FEATURES:
	case VHOST_USER_GET_VRING_BASE:
	case VHOST_USER_GET_QUEUE_NUM:
	case VHOST_USER_GET_CONFIG:
	case VHOST_USER_GET_INFLIGHT_FD:
	case VHOST_USER_GET_MAX_MEM_SLOTS:
	case VHOST_USER_GET_STATUS:
	case VHOST_USER_POSTCOPY_ADVISE:
	/* With the log's fd (LOG_SHMFD) once the backend mapped it. */
	case VHOST_USER_SET_LOG_BASE:
		return true;
	default:
		return false;
	}
}

/* ---- message I/O ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait until @sock has @events or the deadline @end (CLOCK_MONOTONIC ms,
 * UINT64_MAX: none) passes, with @w's signal mask; 0, -ETIMEDOUT, -EINTR (a
 * signal came and @w's stop flag is set) or -errno.
 */
static int wait_sock(int sock, short events, uint64_t end,
		     const struct vhost_user_wait *w)
{
	struct pollfd p = { .fd = sock, .events = events };

	for (;;) {
		struct timespec ts, *tp = NULL;
		int ret;

		if (w && w->stop && *w->stop)
			return -EINTR;
		if (end != UINT64_MAX) {
			uint64_t now = now_ms(), left;

			left = now >= end ? 0 : end - now;
			ts.tv_sec = left / 1000;
			ts.tv_nsec = (left % 1000) * 1000000;
			tp = &ts;
		}
		ret = ppoll(&p, 1, tp, w ? w->sigmask : NULL);
		if (ret > 0)
			return 0;
		if (!ret)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static void close_fds(int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

int vhost_user_send(int sock, const struct vhost_user_msg *msg,
		    const int *fds, unsigned int nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
	struct iovec iov[2] = {
		{ .iov_base = (void *)&msg->hdr, .iov_len = sizeof(msg->hdr) },
		{ .iov_base = (void *)&msg->payload, .iov_len = msg->hdr.size },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

	if (nfds > VHOST_USER_MAX_FDS || msg->hdr.size > VHOST_USER_PAYLOAD_MAX)
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

	while (mh.msg_iovlen) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* The descriptors went with the first byte. */
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		while (mh.msg_iovlen && (size_t)n >= mh.msg_iov->iov_len) {
			n -= mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		if (mh.msg_iovlen) {
			mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + n;
			mh.msg_iov->iov_len -= n;
		}
	}
	return 0;
}

/*
 * Read exactly @len bytes, adding received descriptors to @fds. *@got
 * counts the bytes of the message read so far (to tell a clean EOF).
 */
static int recv_full(int sock, void *buf, size_t len, int *fds,
		     unsigned int *nfds, uint64_t end,
		     const struct vhost_user_wait *w, size_t *got)
{
	size_t done = 0;

	while (done < len) {
		char cbuf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
		struct iovec iov = { .iov_base = (char *)buf + done,
				     .iov_len = len - done };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		};
		bool overflow = false;
		struct cmsghdr *cm;
		ssize_t n;
		int ret;

		ret = wait_sock(sock, POLLIN, end, w);
		if (ret)
			return ret;
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			unsigned int k;
			int *p;

			if (cm->cmsg_level != SOL_SOCKET ||
			    cm->cmsg_type != SCM_RIGHTS)
				continue;
			p = (int *)CMSG_DATA(cm);
			k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (unsigned int i = 0; i < k; i++) {
				int fd;

				memcpy(&fd, &p[i], sizeof(fd));
				if (*nfds < VHOST_USER_MAX_FDS) {
					fds[(*nfds)++] = fd;
				} else {
					close(fd);
					overflow = true;
				}
			}
		}
		if (overflow || (mh.msg_flags & MSG_CTRUNC))
			return -EBADMSG;
		if (!n)
			return *got ? -EPROTO : -ECONNRESET;
		done += n;
		*got += n;
	}
	return 0;
}

int vhost_user_recv_wait(int sock, struct vhost_user_msg *msg, int *fds,
			 unsigned int *nfds, const struct vhost_user_wait *w)
{
	uint64_t end = UINT64_MAX;
	size_t got = 0;
	int ret;

	/* One deadline for the whole message, however it trickles in. */
	if (w->timeout_ms >= 0)
		end = now_ms() + w->timeout_ms;
	*nfds = 0;
	ret = recv_full(sock, &msg->hdr, sizeof(msg->hdr), fds, nfds, end, w,
			&got);
	if (!ret && msg->hdr.size > VHOST_USER_PAYLOAD_MAX)
		ret = -EMSGSIZE;
	if (!ret)
		ret = recv_full(sock, &msg->payload, msg->hdr.size, fds, nfds,
				end, w, &got);
	if (ret) {
		close_fds(fds, *nfds);
		*nfds = 0;
	}
	return ret;
}

int vhost_user_recv(int sock, struct vhost_user_msg *msg, int *fds,
		    unsigned int *nfds, int timeout_ms)
{
	const struct vhost_user_wait w = { .timeout_ms = timeout_ms };

	return vhost_user_recv_wait(sock, msg, fds, nfds, &w);
}

/* ---- frontend ---- */

int vhost_user_connect_wait(struct vhost_user_conn **cp, const char *path,
			    int wait_ms, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = now_ms() + (wait_ms < 0 ? 0 : wait_ms);
	struct vhost_user_conn *c;
	int sock;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);

	for (;;) {
		int err;

		sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (sock < 0)
			return -errno;
		if (!connect(sock, (struct sockaddr *)&sa, sizeof(sa)))
			break;
		err = errno;
		close(sock);
		if ((err != ENOENT && err != ECONNREFUSED) || wait_ms <= 0 ||
		    now_ms() >= deadline)
			return -err;
		usleep(10000);
	}

	c = calloc(1, sizeof(*c));
	if (!c) {
		close(sock);
		return -ENOMEM;
	}
	c->sock = sock;
	c->timeout_ms = timeout_ms;
	*cp = c;
	return 0;
}

int vhost_user_connect(struct vhost_user_conn **cp, const char *path,
		       int timeout_ms)
{
	return vhost_user_connect_wait(cp, path, timeout_ms, timeout_ms);
}

void vhost_user_disconnect(struct vhost_user_conn *c)
{
	if (!c)
		return;
	if (c->sock >= 0)
		close(c->sock);
	free(c);
}

/* vhost_user_call(), keeping the reply's one fd in *@rfd if not NULL. */
static int call_fd(struct vhost_user_conn *c, struct vhost_user_msg *msg,
		   const int *fds, unsigned int nfds,
		   struct vhost_user_msg *reply, uint32_t reply_size, int *rfd)
{
	bool has_reply = vhost_user_has_reply(msg->hdr.request);
	bool ack = !has_reply && (c->protocol_features &
				  (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK));
	struct vhost_user_msg *r;
	int rfds[VHOST_USER_MAX_FDS];
	unsigned int nr;
	int ret;

	if (c->sock < 0)
		return -ENOTCONN;
	msg->hdr.flags = VHOST_USER_VERSION |
			 (ack ? VHOST_USER_FLAG_NEED_REPLY : 0);
	ret = vhost_user_send(c->sock, msg, fds, nfds);
	if (ret || (!has_reply && !ack))
		return ret;

	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	ret = vhost_user_recv(c->sock, r, rfds, &nr, c->timeout_ms);
	if (ret)
		goto out;
	if (rfd && nr == 1 && r->hdr.size == reply_size) {
		*rfd = rfds[0];
		nr = 0;
	}
	close_fds(rfds, nr);
	if (r->hdr.request != msg->hdr.request ||
	    (r->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
	    !(r->hdr.flags & VHOST_USER_FLAG_REPLY)) {
		ret = -EPROTO;
		goto out;
	}
	if (ack) {
		if (r->hdr.size != sizeof(r->payload.u64))
			ret = -EPROTO;
		else if (r->payload.u64 && r->payload.u64 < 4096)
			ret = -(int)r->payload.u64;
		else if (r->payload.u64)
			ret = -EIO;
		goto out;
	}
	if (reply_size && r->hdr.size != reply_size) {
		/* An empty payload is how a backend refuses. */
		ret = r->hdr.size ? -EPROTO : -EIO;
		goto out;
	}
	if (reply) {
		reply->hdr = r->hdr;
		memcpy(&reply->payload, &r->payload, r->hdr.size);
	}
out:
	free(r);
	return ret;
}

int vhost_user_call(struct vhost_user_conn *c, struct vhost_user_msg *msg,
		    const int *fds, unsigned int nfds,
		    struct vhost_user_msg *reply, uint32_t reply_size)
{
	return call_fd(c, msg, fds, nfds, reply, reply_size, NULL);
}

static void msg_init(struct vhost_user_msg *m, uint32_t request, uint32_t size)
{
	memset(&m->hdr, 0, sizeof(m->hdr));
	memset(&m->payload, 0, size);
	m->hdr.request = request;
	m->hdr.size = size;
}

static int get_u64(struct vhost_user_conn *c, uint32_t request, uint64_t *v)
{
	struct vhost_user_msg m, r;
	int ret;

	msg_init(&m, request, 0);
	ret = vhost_user_call(c, &m, NULL, 0, &r, sizeof(r.payload.u64));
	if (!ret)
		*v = r.payload.u64;
	return ret;
}

static int set_u64(struct vhost_user_conn *c, uint32_t request, uint64_t v,
		   const int *fds, unsigned int nfds)
{
	struct vhost_user_msg m;

	msg_init(&m, request, sizeof(m.payload.u64));
	m.payload.u64 = v;
	return vhost_user_call(c, &m, fds, nfds, NULL, 0);
}

static int set_state(struct vhost_user_conn *c, uint32_t request,
		     unsigned int index, unsigned int num)
{
	struct vhost_user_msg m;

	msg_init(&m, request, sizeof(m.payload.state));
	m.payload.state.index = index;
	m.payload.state.num = num;
	return vhost_user_call(c, &m, NULL, 0, NULL, 0);
}

static int set_vring_fd(struct vhost_user_conn *c, uint32_t request,
			unsigned int index, int fd)
{
	uint64_t v = index & VHOST_USER_VRING_IDX_MASK;

	if (fd < 0)
		return set_u64(c, request, v | VHOST_USER_VRING_NOFD_MASK,
			       NULL, 0);
	return set_u64(c, request, v, &fd, 1);
}

int vhost_user_get_features(struct vhost_user_conn *c, uint64_t *features)
{
	return get_u64(c, VHOST_USER_GET_FEATURES, features);
}

int vhost_user_set_features(struct vhost_user_conn *c, uint64_t features)
{
	return set_u64(c, VHOST_USER_SET_FEATURES, features, NULL, 0);
}

int vhost_user_get_protocol_features(struct vhost_user_conn *c,
				     uint64_t *features)
{
	return get_u64(c, VHOST_USER_GET_PROTOCOL_FEATURES, features);
}

int vhost_user_set_protocol_features(struct vhost_user_conn *c,
				     uint64_t features)
{
	int ret = set_u64(c, VHOST_USER_SET_PROTOCOL_FEATURES, features,
			  NULL, 0);

	if (!ret)
		c->protocol_features = features;
	return ret;
}

int vhost_user_get_queue_num(struct vhost_user_conn *c, uint64_t *num)
{
	return get_u64(c, VHOST_USER_GET_QUEUE_NUM, num);
}

int vhost_user_get_max_mem_slots(struct vhost_user_conn *c, uint64_t *num)
{
	return get_u64(c, VHOST_USER_GET_MAX_MEM_SLOTS, num);
}

static int no_payload(struct vhost_user_conn *c, uint32_t request)
{
	struct vhost_user_msg m;

	msg_init(&m, request, 0);
	return vhost_user_call(c, &m, NULL, 0, NULL, 0);
}

int vhost_user_set_owner(struct vhost_user_conn *c)
{
	return no_payload(c, VHOST_USER_SET_OWNER);
}

int vhost_user_reset_owner(struct vhost_user_conn *c)
{
	return no_payload(c, VHOST_USER_RESET_OWNER);
}

int vhost_user_reset_device(struct vhost_user_conn *c)
{
	return no_payload(c, VHOST_USER_RESET_DEVICE);
}

int vhost_user_set_mem_table(struct vhost_user_conn *c,
			     const struct vhost_user_region *regions,
			     const int *fds, unsigned int n)
{
	struct vhost_user_msg m;

	if (n > VHOST_USER_MEM_REGIONS_MAX)
		return -E2BIG;
	msg_init(&m, VHOST_USER_SET_MEM_TABLE,
		 offsetof(struct vhost_user_memory, regions) +
		 n * sizeof(*regions));
	m.payload.memory.nregions = n;
	if (n)
		memcpy(m.payload.memory.regions, regions, n * sizeof(*regions));
	return vhost_user_call(c, &m, fds, n, NULL, 0);
}

static int mem_reg(struct vhost_user_conn *c, uint32_t request,
		   const struct vhost_user_region *region, const int *fds,
		   unsigned int nfds)
{
	struct vhost_user_msg m;

	msg_init(&m, request, sizeof(m.payload.mem_reg));
	m.payload.mem_reg.region = *region;
	return vhost_user_call(c, &m, fds, nfds, NULL, 0);
}

int vhost_user_add_mem_reg(struct vhost_user_conn *c,
			   const struct vhost_user_region *region, int fd)
{
	return mem_reg(c, VHOST_USER_ADD_MEM_REG, region, &fd, 1);
}

int vhost_user_rem_mem_reg(struct vhost_user_conn *c,
			   const struct vhost_user_region *region)
{
	return mem_reg(c, VHOST_USER_REM_MEM_REG, region, NULL, 0);
}

int vhost_user_set_vring_num(struct vhost_user_conn *c, unsigned int index,
			     unsigned int num)
{
	return set_state(c, VHOST_USER_SET_VRING_NUM, index, num);
}

int vhost_user_set_vring_base(struct vhost_user_conn *c, unsigned int index,
			      unsigned int base)
{
	return set_state(c, VHOST_USER_SET_VRING_BASE, index, base);
}

int vhost_user_get_vring_base(struct vhost_user_conn *c, unsigned int index,
			      unsigned int *base)
{
	struct vhost_user_msg m, r;
	int ret;

	msg_init(&m, VHOST_USER_GET_VRING_BASE, sizeof(m.payload.state));
	m.payload.state.index = index;
	ret = vhost_user_call(c, &m, NULL, 0, &r, sizeof(r.payload.state));
	if (ret)
		return ret;
	if (r.payload.state.index != index)
		return -EPROTO;
	*base = r.payload.state.num;
	return 0;
}

int vhost_user_set_vring_addr_log(struct vhost_user_conn *c,
				  unsigned int index, uint64_t desc,
				  uint64_t avail, uint64_t used,
				  unsigned int flags, uint64_t log_guest_addr)
{
	struct vhost_user_msg m;

	msg_init(&m, VHOST_USER_SET_VRING_ADDR, sizeof(m.payload.addr));
	m.payload.addr.index = index;
	m.payload.addr.flags = flags;
	m.payload.addr.desc_user_addr = desc;
	m.payload.addr.avail_user_addr = avail;
	m.payload.addr.used_user_addr = used;
	m.payload.addr.log_guest_addr = log_guest_addr;
	return vhost_user_call(c, &m, NULL, 0, NULL, 0);
}

int vhost_user_set_vring_addr(struct vhost_user_conn *c, unsigned int index,
			      uint64_t desc, uint64_t avail, uint64_t used,
			      unsigned int flags)
{
	return vhost_user_set_vring_addr_log(c, index, desc, avail, used,
					     flags, 0);
}

int vhost_user_set_log_base(struct vhost_user_conn *c, int fd, uint64_t size,
			    uint64_t offset)
{
	struct vhost_user_msg m, r;

	msg_init(&m, VHOST_USER_SET_LOG_BASE, sizeof(m.payload.log));
	m.payload.log.mmap_size = size;
	m.payload.log.mmap_offset = offset;
	return vhost_user_call(c, &m, &fd, 1, &r, sizeof(r.payload.u64));
}

int vhost_user_get_inflight_fd(struct vhost_user_conn *c,
			       unsigned int num_queues, unsigned int queue_size,
			       int *fd, uint64_t *size, uint64_t *offset)
{
	struct vhost_user_msg m, r;
	int ret;

	*fd = -1;
	msg_init(&m, VHOST_USER_GET_INFLIGHT_FD, sizeof(m.payload.inflight));
	m.payload.inflight.num_queues = num_queues;
	m.payload.inflight.queue_size = queue_size;
	ret = call_fd(c, &m, NULL, 0, &r, sizeof(r.payload.inflight), fd);
	if (!ret && *fd < 0)
		ret = -EPROTO;
	if (ret) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return ret;
	}
	*size = r.payload.inflight.mmap_size;
	*offset = r.payload.inflight.mmap_offset;
	return 0;
}

int vhost_user_set_inflight_fd(struct vhost_user_conn *c, int fd,
			       uint64_t size, uint64_t offset,
			       unsigned int num_queues, unsigned int queue_size)
{
	struct vhost_user_msg m;

	msg_init(&m, VHOST_USER_SET_INFLIGHT_FD, sizeof(m.payload.inflight));
	m.payload.inflight.mmap_size = size;
	m.payload.inflight.mmap_offset = offset;
	m.payload.inflight.num_queues = num_queues;
	m.payload.inflight.queue_size = queue_size;
	return vhost_user_call(c, &m, &fd, 1, NULL, 0);
}

int vhost_user_set_log_fd(struct vhost_user_conn *c, int fd)
{
	struct vhost_user_msg m;

	msg_init(&m, VHOST_USER_SET_LOG_FD, 0);
	return vhost_user_call(c, &m, fd < 0 ? NULL : &fd, fd < 0 ? 0 : 1,
			       NULL, 0);
}

int vhost_user_set_vring_kick(struct vhost_user_conn *c, unsigned int index,
			      int fd)
{
	return set_vring_fd(c, VHOST_USER_SET_VRING_KICK, index, fd);
}

int vhost_user_set_vring_call(struct vhost_user_conn *c, unsigned int index,
			      int fd)
{
	return set_vring_fd(c, VHOST_USER_SET_VRING_CALL, index, fd);
}

int vhost_user_set_vring_err(struct vhost_user_conn *c, unsigned int index,
			     int fd)
{
	return set_vring_fd(c, VHOST_USER_SET_VRING_ERR, index, fd);
}

int vhost_user_set_vring_enable(struct vhost_user_conn *c, unsigned int index,
				bool enable)
{
	return set_state(c, VHOST_USER_SET_VRING_ENABLE, index, enable);
}

int vhost_user_get_config(struct vhost_user_conn *c, uint32_t offset,
			  void *buf, uint32_t len)
{
	struct vhost_user_msg m, r;
	int ret;

	if (len > VHOST_USER_MAX_CONFIG_SIZE)
		return -EINVAL;
	msg_init(&m, VHOST_USER_GET_CONFIG, VHOST_USER_CONFIG_HDR_SIZE + len);
	m.payload.config.offset = offset;
	m.payload.config.size = len;
	ret = vhost_user_call(c, &m, NULL, 0, &r,
			      VHOST_USER_CONFIG_HDR_SIZE + len);
	if (ret)
		return ret;
	if (r.payload.config.offset != offset || r.payload.config.size != len)
		return -EPROTO;
	memcpy(buf, r.payload.config.region, len);
	return 0;
}

int vhost_user_set_config(struct vhost_user_conn *c, uint32_t offset,
			  const void *buf, uint32_t len, uint32_t flags)
{
	struct vhost_user_msg m;

	if (len > VHOST_USER_MAX_CONFIG_SIZE)
		return -EINVAL;
	msg_init(&m, VHOST_USER_SET_CONFIG, VHOST_USER_CONFIG_HDR_SIZE + len);
	m.payload.config.offset = offset;
	m.payload.config.size = len;
	m.payload.config.flags = flags;
	memcpy(m.payload.config.region, buf, len);
	return vhost_user_call(c, &m, NULL, 0, NULL, 0);
}

int vhost_user_set_backend_req_fd(struct vhost_user_conn *c, int fd)
{
	struct vhost_user_msg m;

	msg_init(&m, VHOST_USER_SET_BACKEND_REQ_FD, 0);
	return vhost_user_call(c, &m, &fd, 1, NULL, 0);
}
