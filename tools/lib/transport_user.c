// SPDX-License-Identifier: GPL-2.0
/*
 * transport_user.c - the vhost-user transport of the userspace virtio-blk
 * driver: a vhost-user-blk backend (the vhost-blk bridge,
 * qemu-storage-daemon, ...) on a unix socket (vhost_user.c).
 *
 * d->vu is the connection, d->fd stays -1. Guest memory is a memfd the
 * backend maps (SET_MEM_TABLE carries it), eventfds travel as SCM_RIGHTS,
 * the config comes from GET_CONFIG and the backend's own disk is used.
 * The order of messages is QEMU's.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vbd_priv.h"
#include "vhost_user.h"
#include "util.h"

/* What the driver asks of a vhost-user backend. */
#define VBLK_VU_PROTOCOL_FEATURES				\
	((1ULL << VHOST_USER_PROTOCOL_F_MQ) |			\
	 (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) |		\
	 (1ULL << VHOST_USER_PROTOCOL_F_CONFIG) |		\
	 (1ULL << VHOST_USER_PROTOCOL_F_RESET_DEVICE) |		\
	 (1ULL << VHOST_USER_PROTOCOL_F_LOG_SHMFD) |		\
	 (1ULL << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))

/*
 * SET_BACKEND_REQ_FD: one end of a socket pair to the backend, the other
 * kept in d->backend_req_fd.
 */
static int vu_backend_channel(struct vblk_dev *d)
{
	int sv[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	ret = vhost_user_set_backend_req_fd(d->vu, sv[1]);
	close(sv[1]);
	if (ret) {
		close(sv[0]);
		return ret;
	}
	if (d->backend_req_fd >= 0)
		close(d->backend_req_fd);
	d->backend_req_fd = sv[0];
	return 0;
}

/*
 * INFLIGHT_SHMFD, as QEMU's vhost-user-blk does before it starts the
 * rings: the backend's regions for our queues, asked for once (again
 * after a reset), handed back to every backend with SET_INFLIGHT_FD.
 */
static int vu_inflight(struct vblk_dev *d, bool keep)
{
	struct vhost_user_conn *c = d->vu;
	unsigned int nq = d->num_queues ? d->num_queues : 1;
	int ret;

	if (!(c->protocol_features &
	      (1ULL << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)))
		return 0;
	if (!keep || d->inflight_fd < 0) {
		if (d->inflight_fd >= 0)
			close(d->inflight_fd);
		if (nq > d->max_queues)
			nq = d->max_queues;
		d->inflight_nq = nq;
		ret = vhost_user_get_inflight_fd(c, nq, d->queue_size,
						 &d->inflight_fd,
						 &d->inflight_size,
						 &d->inflight_offset);
		if (ret)
			return ret;
	}
	return vhost_user_set_inflight_fd(c, d->inflight_fd, d->inflight_size,
					  d->inflight_offset, d->inflight_nq,
					  d->queue_size);
}

static int user_connect(struct vblk_dev *d, const struct vblk_opts *o)
{
	return vhost_user_connect_wait(&d->vu, o->vhost_user,
				       o->vhost_user_wait_ms,
				       VBLK_VU_TIMEOUT_MS);
}

/* The socket goes, the connection's state stays until release. */
static void user_close(struct vblk_dev *d)
{
	if (d->vu)
		vbd_close_fd(&d->vu->sock);
}

static void user_release(struct vblk_dev *d)
{
	vhost_user_disconnect(d->vu);
	d->vu = NULL;
}

static int user_set_features(struct vblk_dev *d, uint64_t features)
{
	if (d->vu_protocol)
		features |= 1ULL << VHOST_USER_F_PROTOCOL_FEATURES;
	return vhost_user_set_features(d->vu, features);
}

/* Every region is a window of the one memfd. */
static int user_set_mem_table(struct vblk_dev *d)
{
	struct vhost_memory_region regions[VBLK_MAX_REGIONS];
	struct vhost_user_region ur[VBLK_MAX_REGIONS];
	int fds[VBLK_MAX_REGIONS];
	unsigned int n = vblk_dev_mem_regions(d, regions);

	for (unsigned int i = 0; i < n; i++) {
		ur[i] = (struct vhost_user_region){
			.guest_phys_addr = regions[i].guest_phys_addr,
			.memory_size = regions[i].memory_size,
			.userspace_addr = regions[i].userspace_addr,
			.mmap_offset = d->regions[i].fd_offset,
		};
		fds[i] = d->mem_fd;
	}
	return vhost_user_set_mem_table(d->vu, ur, fds, n);
}

/*
 * GET_FEATURES, the protocol features, GET_QUEUE_NUM, SET_OWNER,
 * SET_FEATURES, SET_MEM_TABLE and the inflight regions. @reconnect: a new
 * backend for the device as it is; keep the features.
 */
static int vu_setup(struct vblk_dev *d, uint64_t features_clear,
		    bool reconnect)
{
	const uint64_t proto = 1ULL << VHOST_USER_F_PROTOCOL_FEATURES;
	const uint64_t breq = 1ULL << VHOST_USER_PROTOCOL_F_BACKEND_REQ;
	struct vhost_user_conn *c = d->vu;
	uint64_t f, pf = 0, n = 1;
	int ret;

	ret = vhost_user_get_features(c, &f);
	if (ret)
		return ret;
	d->vu_protocol = f & proto;
	d->features_offered = f & ~proto;
	if (d->vu_protocol) {
		ret = vhost_user_get_protocol_features(c, &pf);
		if (!d->want_backend_req)
			pf &= ~breq;
		if (!ret)
			ret = vhost_user_set_protocol_features(c, pf &
					(VBLK_VU_PROTOCOL_FEATURES | breq));
		if (!ret && (pf & breq))
			ret = vu_backend_channel(d);
		if (!ret && (pf & (1ULL << VHOST_USER_PROTOCOL_F_MQ)))
			ret = vhost_user_get_queue_num(c, &n);
		if (ret)
			return ret;
	}
	if (reconnect && (d->features & ~d->features_offered ||
			  n < d->max_queues))
		return -EPROTO;
	d->max_queues = n < VHOST_BLK_MAX_QUEUES ? n : VHOST_BLK_MAX_QUEUES;
	ret = vhost_user_set_owner(c);
	if (ret)
		return ret;
	if (!reconnect)
		d->features = d->features_offered & VBLK_DRV_FEATURES &
			      ~features_clear;
	ret = user_set_features(d, d->features);
	if (!ret)
		ret = user_set_mem_table(d);
	if (!ret)
		ret = vu_inflight(d, reconnect);
	return ret;
}

static int user_setup(struct vblk_dev *d, uint64_t features_clear)
{
	return vu_setup(d, features_clear, false);
}

static int user_read_config(struct vblk_dev *d)
{
	/* Backends built against older headers know a shorter config. */
	static const uint32_t sizes[] = {
		sizeof(struct virtio_blk_config), 60,
		offsetof(struct virtio_blk_config, num_queues) + 2,
	};
	int ret = -EINVAL;

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		memset(&d->cfg, 0, sizeof(d->cfg));
		ret = vhost_user_get_config(d->vu, 0, &d->cfg, sizes[i]);
		if (ret != -EIO)
			break;
	}
	d->cfg_features = d->features_offered;
	return ret;
}

/* The backend brings its own disk: only the config is read. */
static int user_attach(struct vblk_dev *d, int backend_fd, uint64_t flags,
		       const char *serial)
{
	(void)backend_fd;
	(void)flags;
	(void)serial;
	return user_read_config(d);
}

/* RESET_DEVICE if negotiated, else RESET_OWNER. */
static int user_reset_owner(struct vblk_dev *d)
{
	if (d->vu->protocol_features &
	    (1ULL << VHOST_USER_PROTOCOL_F_RESET_DEVICE))
		return vhost_user_reset_device(d->vu);
	return vhost_user_reset_owner(d->vu);
}

static int user_vq_set_addr(struct vblk_vq *vq)
{
	return vhost_user_set_vring_addr_log(vq->dev->vu, vq->index,
					     (uintptr_t)vq->desc,
					     (uintptr_t)vq->avail,
					     (uintptr_t)vq->used,
					     log_flags(vq), vq->used_gpa);
}

/* The vhost-user order of QEMU: ring, eventfds, kick, then enable. */
static int user_vq_start(struct vblk_vq *vq, unsigned int base)
{
	struct vhost_user_conn *c = vq->dev->vu;
	unsigned int i = vq->index;
	int ret;

	if (i >= vq->dev->max_queues)
		return -EINVAL;
	ret = vhost_user_set_vring_num(c, i, vq->num);
	if (!ret)
		ret = vhost_user_set_vring_base(c, i, base);
	if (!ret)
		ret = user_vq_set_addr(vq);
	if (!ret)
		ret = vhost_user_set_vring_call(c, i, vq->call_fd);
	if (!ret)
		ret = vhost_user_set_vring_err(c, i, vq->err_fd);
	if (!ret)
		ret = vhost_user_set_vring_kick(c, i, vq->kick_fd);
	if (!ret && vq->dev->vu_protocol)
		ret = vhost_user_set_vring_enable(c, i, true);
	return ret;
}

static int user_vq_stop(struct vblk_vq *vq, unsigned int *base)
{
	return vhost_user_get_vring_base(vq->dev->vu, vq->index, base);
}

static int user_vq_set_enable(struct vblk_vq *vq, bool enable)
{
	return vhost_user_set_vring_enable(vq->dev->vu, vq->index, enable);
}

/*
 * The old socket is closed first, as a backend that is still alive may
 * serve one front-end at a time. Should the new one not come, the old
 * connection stays, closed: later messages fail with -EBADF.
 */
static int user_reconnect(struct vblk_dev *d, const char *path, int wait_ms)
{
	struct vhost_user_conn *c;
	int ret;

	user_close(d);
	ret = vhost_user_connect_wait(&c, path, wait_ms, VBLK_VU_TIMEOUT_MS);
	if (ret)
		return ret;
	vhost_user_disconnect(d->vu);
	d->vu = c;
	ret = vu_setup(d, 0, true);
	for (unsigned int i = 0; !ret && i < VHOST_BLK_MAX_QUEUES; i++) {
		struct vblk_vq *vq = &d->vqs[i];

		if (!vq->started)
			continue;
		/* What QEMU restores when GET_VRING_BASE cannot be asked. */
		ret = user_vq_start(vq, le16toh(vq->used->idx));
	}
	return ret;
}

/* The log must be a memfd the backend maps: LOG_SHMFD. */
static int user_log_check(const struct vblk_dev *d)
{
	if (!(d->vu->protocol_features &
	      (1ULL << VHOST_USER_PROTOCOL_F_LOG_SHMFD)))
		return -EOPNOTSUPP;
	return 0;
}

static int user_log_set_base(struct vblk_dev *d)
{
	int ret = vhost_user_set_log_base(d->vu, d->log_fd, d->log_size, 0);

	if (ret)
		return ret;
	return vhost_user_set_log_fd(d->vu, d->log_efd);
}

const struct vblk_transport_ops vblk_user_ops = {
	.name		= "vhost-user",
	.shared_memory	= true,
	.connect	= user_connect,
	.close		= user_close,
	.release	= user_release,
	.setup		= user_setup,
	.set_features	= user_set_features,
	.set_mem_table	= user_set_mem_table,
	.attach		= user_attach,
	.read_config	= user_read_config,
	.reset_owner	= user_reset_owner,
	.reconnect	= user_reconnect,
	.vq_start	= user_vq_start,
	.vq_stop	= user_vq_stop,
	.vq_set_enable	= user_vq_set_enable,
	.vq_set_addr	= user_vq_set_addr,
	.log_check	= user_log_check,
	.log_set_base	= user_log_set_base,
};
