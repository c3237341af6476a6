/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost_user - the vhost-user protocol (QEMU docs/interop/vhost-user.rst)
 * as a frontend speaks it, plus the message I/O a backend needs.
 *
 * Messages travel on a unix stream socket: a 12-byte header (request,
 * flags, payload size), the payload, and file descriptors as SCM_RIGHTS
 * ancillary data. Only what a virtio-blk device uses is defined here.
 *
 * Frontend use:
 *
 *	struct vhost_user_conn *c;
 *
 *	vhost_user_connect(&c, "/tmp/vhost.sock", 30000);
 *	vhost_user_get_features(c, &f);
 *	vhost_user_get_protocol_features(c, &pf);
 *	vhost_user_set_protocol_features(c, pf & wanted);
 *	vhost_user_set_owner(c);
 *	vhost_user_set_features(c, f & wanted);
 *	vhost_user_set_mem_table(c, regions, fds, n);
 *	vhost_user_set_vring_num(c, 0, 256); ... _base(), _addr(), _call(),
 *	vhost_user_set_vring_kick(c, 0, kick_fd);
 *	vhost_user_set_vring_enable(c, 0, true);
 *
 * Every call returns 0 (or a count) or a negative errno: -ETIMEDOUT when
 * the backend does not answer within the connection's timeout, -EPROTO
 * for a reply that does not fit the request, -EPIPE / -ECONNRESET when
 * the backend went away, and for a REPLY_ACK failure the errno the
 * backend put in the ack (-EIO if that is not one). Once REPLY_ACK is
 * negotiated every message without a reply of its own asks for an ack,
 * so errors are reported where they happen. Nothing here prints.
 */
#ifndef VHOST_USER_H
#define VHOST_USER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/vhost.h>

enum vhost_user_request {
	VHOST_USER_NONE = 0,
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_LOG_BASE = 6,
	VHOST_USER_SET_LOG_FD = 7,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_SEND_RARP = 19,
	VHOST_USER_NET_SET_MTU = 20,
	VHOST_USER_SET_BACKEND_REQ_FD = 21,
	VHOST_USER_IOTLB_MSG = 22,
	VHOST_USER_SET_VRING_ENDIAN = 23,
	VHOST_USER_GET_CONFIG = 24,
	VHOST_USER_SET_CONFIG = 25,
	VHOST_USER_POSTCOPY_ADVISE = 28,
	VHOST_USER_GET_INFLIGHT_FD = 31,
	VHOST_USER_SET_INFLIGHT_FD = 32,
	VHOST_USER_RESET_DEVICE = 34,
	VHOST_USER_GET_MAX_MEM_SLOTS = 36,
	VHOST_USER_ADD_MEM_REG = 37,
	VHOST_USER_REM_MEM_REG = 38,
	VHOST_USER_SET_STATUS = 39,
	VHOST_USER_GET_STATUS = 40,
};

/*
 * Requests a backend sends on the backend channel (SET_BACKEND_REQ_FD,
 * VHOST_USER_PROTOCOL_F_BACKEND_REQ). CONFIG_CHANGE_MSG has no payload:
 * the frontend reads GET_CONFIG again (VHOST_USER_PROTOCOL_F_CONFIG) and
 * raises a config interrupt in the guest. With REPLY_ACK negotiated the
 * backend sets NEED_REPLY and the frontend answers with a u64, 0 for
 * success.
 */
enum vhost_user_backend_request {
	VHOST_USER_BACKEND_IOTLB_MSG = 1,
	VHOST_USER_BACKEND_CONFIG_CHANGE_MSG = 2,
};

/* Virtio feature bit 30: the backend speaks the protocol feature set. */
#define VHOST_USER_F_PROTOCOL_FEATURES		30

/* Protocol feature bits (GET/SET_PROTOCOL_FEATURES). */
#define VHOST_USER_PROTOCOL_F_MQ		0
#define VHOST_USER_PROTOCOL_F_LOG_SHMFD		1
#define VHOST_USER_PROTOCOL_F_REPLY_ACK		3
#define VHOST_USER_PROTOCOL_F_BACKEND_REQ	5
#define VHOST_USER_PROTOCOL_F_CONFIG		9
#define VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD	12
#define VHOST_USER_PROTOCOL_F_RESET_DEVICE	13
#define VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS 15
#define VHOST_USER_PROTOCOL_F_STATUS		16

/* Header flags. */
#define VHOST_USER_VERSION_MASK		0x3U
#define VHOST_USER_VERSION		0x1U
#define VHOST_USER_FLAG_REPLY		(1U << 2)
#define VHOST_USER_FLAG_NEED_REPLY	(1U << 3)

/* The u64 payload of SET_VRING_KICK/CALL/ERR. */
#define VHOST_USER_VRING_IDX_MASK	0xffULL
#define VHOST_USER_VRING_NOFD_MASK	(1ULL << 8)

/* Regions of SET_MEM_TABLE; also the most fds one message carries. */
#define VHOST_USER_MEM_REGIONS_MAX	8
#define VHOST_USER_MAX_FDS		VHOST_USER_MEM_REGIONS_MAX
/* Largest config space GET/SET_CONFIG moves. */
#define VHOST_USER_MAX_CONFIG_SIZE	256
/* SET_CONFIG flags. */
#define VHOST_USER_CONFIG_TYPE_FRONTEND	0
#define VHOST_USER_CONFIG_TYPE_MIGRATION 1

#define VHOST_USER_HDR_SIZE		12
/* Largest payload vhost_user_recv() accepts; a larger one is an error. */
#define VHOST_USER_PAYLOAD_MAX		4096

struct vhost_user_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;			/* payload bytes that follow */
};

/* One guest memory region; userspace_addr is the frontend's address. */
struct vhost_user_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;		/* of the region in its fd */
};

struct vhost_user_memory {
	uint32_t nregions;
	uint32_t padding;
	struct vhost_user_region regions[VHOST_USER_MEM_REGIONS_MAX];
};

/* ADD_MEM_REG / REM_MEM_REG. */
struct vhost_user_mem_reg {
	uint64_t padding;
	struct vhost_user_region region;
};

#define VHOST_USER_CONFIG_HDR_SIZE	12

/* SET_LOG_BASE payload (VHOST_USER_PROTOCOL_F_LOG_SHMFD). */
struct vhost_user_log {
	uint64_t mmap_size;
	uint64_t mmap_offset;
};

/*
 * GET_INFLIGHT_FD / SET_INFLIGHT_FD payload (INFLIGHT_SHMFD): the shared
 * region where the backend tracks requests in flight, @num_queues
 * regions for rings of @queue_size. Not packed: QEMU sends 24 bytes.
 */
struct vhost_user_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
};

struct vhost_user_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[VHOST_USER_MAX_CONFIG_SIZE];
};

/*
 * A message as held in memory: on the wire the payload follows the
 * 12-byte header directly, here it is aligned.
 */
struct vhost_user_msg {
	struct vhost_user_hdr hdr;
	union {
		uint64_t u64;
		struct vhost_vring_state state;
		struct vhost_vring_addr addr;
		struct vhost_user_memory memory;
		struct vhost_user_mem_reg mem_reg;
		struct vhost_user_config config;
		struct vhost_user_log log;
		struct vhost_user_inflight inflight;
		uint8_t raw[VHOST_USER_PAYLOAD_MAX];
	} payload;
};

/* Name of a request ("SET_MEM_TABLE"), "?" if unknown. */
const char *vhost_user_request_name(uint32_t request);

/* True for requests the backend always answers with a reply of their own. */
bool vhost_user_has_reply(uint32_t request);

/* ---- message I/O, for both sides ---- */

/*
 * vhost_user_send - send @msg (header and msg->hdr.size payload bytes)
 * with @nfds descriptors from @fds in one sendmsg() where possible.
 * The descriptors stay the caller's. 0 or -errno.
 */
int vhost_user_send(int sock, const struct vhost_user_msg *msg,
		    const int *fds, unsigned int nfds);

/*
 * vhost_user_recv - receive one message into @msg and up to
 * VHOST_USER_MAX_FDS descriptors into @fds (*@nfds of them; they become
 * the caller's). @timeout_ms bounds the whole message, from the call to
 * its last byte (-1: forever): a peer cannot stretch one message by
 * sending it a byte at a time.
 *
 * Returns 0; -ECONNRESET if the peer closed the socket between
 * messages, -EPROTO if inside one; -ETIMEDOUT if the message was not
 * complete within @timeout_ms; -EMSGSIZE if the size field exceeds
 * VHOST_USER_PAYLOAD_MAX; -EBADMSG if more descriptors came than fit.
 * The message is not read further in those cases and no descriptor is
 * left open: the stream is out of step, close it.
 */
int vhost_user_recv(int sock, struct vhost_user_msg *msg, int *fds,
		    unsigned int *nfds, int timeout_ms);

/* How vhost_user_recv_wait() waits. */
struct vhost_user_wait {
	int timeout_ms;			/* the whole message; -1: forever */
	/*
	 * The signal mask while waiting (ppoll()), NULL: the current one.
	 * A caller that blocks its stop signals outside the waits, and
	 * unblocks them here, cannot miss one between a check and a wait.
	 */
	const sigset_t *sigmask;
	/* If set when a wait is interrupted by a signal: -EINTR. */
	const volatile sig_atomic_t *stop;
};

/* vhost_user_recv() that gives up with -EINTR once *@w->stop is set. */
int vhost_user_recv_wait(int sock, struct vhost_user_msg *msg, int *fds,
			 unsigned int *nfds, const struct vhost_user_wait *w);

/* ---- frontend ---- */

struct vhost_user_conn {
	int sock;
	int timeout_ms;			/* per reply; -1: wait forever */
	uint64_t protocol_features;	/* acknowledged with SET_PROTOCOL_FEATURES */
};

/*
 * vhost_user_connect_wait - connect to the backend listening on @path,
 * retrying for up to @wait_ms (0: not at all) while the socket does not
 * exist yet or refuses (a backend still starting). Replies are awaited
 * for up to @timeout_ms.
 */
int vhost_user_connect_wait(struct vhost_user_conn **cp, const char *path,
			    int wait_ms, int timeout_ms);

/* vhost_user_connect_wait() with @wait_ms = @timeout_ms. */
int vhost_user_connect(struct vhost_user_conn **cp, const char *path,
		       int timeout_ms);

/* Close the socket (the backend sees a disconnect) and free. */
void vhost_user_disconnect(struct vhost_user_conn *c);

/*
 * vhost_user_call - send a request and wait for what answers it: its
 * reply (vhost_user_has_reply()), copied to @reply if not NULL, or the
 * REPLY_ACK ack when negotiated. The reply's size is checked against
 * @reply_size (-EPROTO if different; 0 accepts any).
 */
int vhost_user_call(struct vhost_user_conn *c, struct vhost_user_msg *msg,
		    const int *fds, unsigned int nfds,
		    struct vhost_user_msg *reply, uint32_t reply_size);

int vhost_user_get_features(struct vhost_user_conn *c, uint64_t *features);
int vhost_user_set_features(struct vhost_user_conn *c, uint64_t features);
int vhost_user_get_protocol_features(struct vhost_user_conn *c,
				     uint64_t *features);
/* Also records @features in c->protocol_features (REPLY_ACK use). */
int vhost_user_set_protocol_features(struct vhost_user_conn *c,
				     uint64_t features);
int vhost_user_get_queue_num(struct vhost_user_conn *c, uint64_t *num);
int vhost_user_get_max_mem_slots(struct vhost_user_conn *c, uint64_t *num);
int vhost_user_set_owner(struct vhost_user_conn *c);
int vhost_user_reset_owner(struct vhost_user_conn *c);
int vhost_user_reset_device(struct vhost_user_conn *c);

/*
 * SET_MEM_TABLE: @n regions (at most VHOST_USER_MEM_REGIONS_MAX), region
 * i mapped from @fds[i] at its mmap_offset.
 */
int vhost_user_set_mem_table(struct vhost_user_conn *c,
			     const struct vhost_user_region *regions,
			     const int *fds, unsigned int n);
int vhost_user_add_mem_reg(struct vhost_user_conn *c,
			   const struct vhost_user_region *region, int fd);
int vhost_user_rem_mem_reg(struct vhost_user_conn *c,
			   const struct vhost_user_region *region);

int vhost_user_set_vring_num(struct vhost_user_conn *c, unsigned int index,
			     unsigned int num);
int vhost_user_set_vring_base(struct vhost_user_conn *c, unsigned int index,
			      unsigned int base);
/* Stop the ring; its next avail index goes to @base. */
int vhost_user_get_vring_base(struct vhost_user_conn *c, unsigned int index,
			      unsigned int *base);
/* Frontend addresses of the ring parts (and the log, unused here). */
int vhost_user_set_vring_addr(struct vhost_user_conn *c, unsigned int index,
			      uint64_t desc, uint64_t avail, uint64_t used,
			      unsigned int flags);
/* The same with the used ring's guest-physical address for the log. */
int vhost_user_set_vring_addr_log(struct vhost_user_conn *c,
				  unsigned int index, uint64_t desc,
				  uint64_t avail, uint64_t used,
				  unsigned int flags, uint64_t log_guest_addr);
/*
 * SET_LOG_BASE with VHOST_USER_PROTOCOL_F_LOG_SHMFD: the log is @size
 * bytes of @fd from @offset; the backend maps it and replies.
 */
int vhost_user_set_log_base(struct vhost_user_conn *c, int fd, uint64_t size,
			    uint64_t offset);
/*
 * GET_INFLIGHT_FD (INFLIGHT_SHMFD): the backend allocates the inflight
 * regions of @num_queues rings of @queue_size and returns its fd (the
 * caller's to close) and where they are in it. A VMM keeps the fd for
 * as long as the device lives, across backend restarts.
 */
int vhost_user_get_inflight_fd(struct vhost_user_conn *c,
			       unsigned int num_queues, unsigned int queue_size,
			       int *fd, uint64_t *size, uint64_t *offset);
/* SET_INFLIGHT_FD: hand the (new) backend the inflight regions of @fd. */
int vhost_user_set_inflight_fd(struct vhost_user_conn *c, int fd,
			       uint64_t size, uint64_t offset,
			       unsigned int num_queues, unsigned int queue_size);
/* SET_LOG_FD: the eventfd the backend signals after logging (-1: none). */
int vhost_user_set_log_fd(struct vhost_user_conn *c, int fd);
/* @fd < 0 sends the no-fd flag. */
int vhost_user_set_vring_kick(struct vhost_user_conn *c, unsigned int index,
			      int fd);
int vhost_user_set_vring_call(struct vhost_user_conn *c, unsigned int index,
			      int fd);
int vhost_user_set_vring_err(struct vhost_user_conn *c, unsigned int index,
			     int fd);
int vhost_user_set_vring_enable(struct vhost_user_conn *c, unsigned int index,
				bool enable);

/*
 * GET_CONFIG: @len bytes of the device config space from @offset into
 * @buf. A backend refusing answers with an empty payload: -EIO.
 */
int vhost_user_get_config(struct vhost_user_conn *c, uint32_t offset,
			  void *buf, uint32_t len);
int vhost_user_set_config(struct vhost_user_conn *c, uint32_t offset,
			  const void *buf, uint32_t len, uint32_t flags);

/*
 * SET_BACKEND_REQ_FD (VHOST_USER_PROTOCOL_F_BACKEND_REQ): @fd, one end of
 * a unix socket pair, becomes the backend's channel for its own requests;
 * the caller reads them from the other end (vhost_user_recv()) and
 * closes @fd afterwards.
 */
int vhost_user_set_backend_req_fd(struct vhost_user_conn *c, int fd);

#endif /* VHOST_USER_H */
