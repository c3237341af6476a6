// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_blk_ctl - thin wrappers around the /dev/vhost-blk ioctls.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vhost_blk_ctl.h"

static int xioctl(int fd, unsigned long cmd, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, cmd, arg);
	} while (ret < 0 && errno == EINTR);

	return ret < 0 ? -errno : 0;
}

int vhost_blk_open(const char *path)
{
	int fd = open(path ? path : VHOST_BLK_DEV_PATH, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int vhost_blk_set_owner(int fd)
{
	return xioctl(fd, VHOST_SET_OWNER, NULL);
}

int vhost_blk_reset_owner(int fd)
{
	return xioctl(fd, VHOST_RESET_OWNER, NULL);
}

int vhost_blk_get_features(int fd, uint64_t *features)
{
	__u64 f = 0;
	int ret = xioctl(fd, VHOST_GET_FEATURES, &f);

	if (!ret)
		*features = f;
	return ret;
}

int vhost_blk_set_features(int fd, uint64_t features)
{
	__u64 f = features;

	return xioctl(fd, VHOST_SET_FEATURES, &f);
}

int vhost_blk_set_mem_table(int fd, const struct vhost_memory_region *regions,
			    unsigned int nregions)
{
	struct vhost_memory *mem;
	int ret;

	mem = calloc(1, sizeof(*mem) + (size_t)nregions * sizeof(*regions));
	if (!mem)
		return -ENOMEM;
	mem->nregions = nregions;
	if (nregions)
		memcpy(mem->regions, regions, nregions * sizeof(*regions));
	ret = xioctl(fd, VHOST_SET_MEM_TABLE, mem);
	free(mem);
	return ret;
}

static int set_state(int fd, unsigned long cmd, unsigned int index,
		     unsigned int num)
{
	struct vhost_vring_state s = { .index = index, .num = num };

	return xioctl(fd, cmd, &s);
}

static int set_file(int fd, unsigned long cmd, unsigned int index, int efd)
{
	struct vhost_vring_file f = { .index = index, .fd = efd };

	return xioctl(fd, cmd, &f);
}

int vhost_blk_set_vring_num(int fd, unsigned int index, unsigned int num)
{
	return set_state(fd, VHOST_SET_VRING_NUM, index, num);
}

int vhost_blk_set_vring_addr_log(int fd, unsigned int index, uint64_t desc,
				 uint64_t avail, uint64_t used,
				 unsigned int flags, uint64_t log_guest_addr)
{
	struct vhost_vring_addr a = {
		.index = index,
		.flags = flags,
		.desc_user_addr = desc,
		.used_user_addr = used,
		.avail_user_addr = avail,
		.log_guest_addr = log_guest_addr,
	};

	return xioctl(fd, VHOST_SET_VRING_ADDR, &a);
}

int vhost_blk_set_vring_addr(int fd, unsigned int index, uint64_t desc,
			     uint64_t avail, uint64_t used, unsigned int flags)
{
	return vhost_blk_set_vring_addr_log(fd, index, desc, avail, used,
					    flags, 0);
}

int vhost_blk_set_log_base(int fd, uint64_t base)
{
	return xioctl(fd, VHOST_SET_LOG_BASE, &base);
}

int vhost_blk_set_log_fd(int fd, int efd)
{
	return xioctl(fd, VHOST_SET_LOG_FD, &efd);
}

int vhost_blk_set_config_call(int fd, int efd)
{
	return xioctl(fd, VHOST_BLK_SET_CONFIG_CALL, &efd);
}

int vhost_blk_set_vring_base(int fd, unsigned int index, unsigned int base)
{
	return set_state(fd, VHOST_SET_VRING_BASE, index, base);
}

int vhost_blk_get_vring_base(int fd, unsigned int index, unsigned int *base)
{
	struct vhost_vring_state s = { .index = index };
	int ret = xioctl(fd, VHOST_GET_VRING_BASE, &s);

	if (!ret)
		*base = s.num;
	return ret;
}

int vhost_blk_set_vring_busyloop_timeout(int fd, unsigned int index,
					 unsigned int usecs)
{
	return set_state(fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, index, usecs);
}

int vhost_blk_get_vring_busyloop_timeout(int fd, unsigned int index,
					 unsigned int *usecs)
{
	struct vhost_vring_state s = { .index = index };
	int ret = xioctl(fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &s);

	if (!ret)
		*usecs = s.num;
	return ret;
}

int vhost_blk_set_vring_kick(int fd, unsigned int index, int efd)
{
	return set_file(fd, VHOST_SET_VRING_KICK, index, efd);
}

int vhost_blk_set_vring_call(int fd, unsigned int index, int efd)
{
	return set_file(fd, VHOST_SET_VRING_CALL, index, efd);
}

int vhost_blk_set_vring_err(int fd, unsigned int index, int efd)
{
	return set_file(fd, VHOST_SET_VRING_ERR, index, efd);
}

int vhost_blk_new_worker(int fd, unsigned int *id)
{
	struct vhost_worker_state w = { 0 };
	int ret = xioctl(fd, VHOST_NEW_WORKER, &w);

	if (!ret)
		*id = w.worker_id;
	return ret;
}

int vhost_blk_free_worker(int fd, unsigned int id)
{
	struct vhost_worker_state w = { .worker_id = id };

	return xioctl(fd, VHOST_FREE_WORKER, &w);
}

int vhost_blk_attach_vring_worker(int fd, unsigned int index,
				  unsigned int id)
{
	struct vhost_vring_worker w = { .index = index, .worker_id = id };

	return xioctl(fd, VHOST_ATTACH_VRING_WORKER, &w);
}

int vhost_blk_get_vring_worker(int fd, unsigned int index, unsigned int *id)
{
	struct vhost_vring_worker w = { .index = index };
	int ret = xioctl(fd, VHOST_GET_VRING_WORKER, &w);

	if (!ret)
		*id = w.worker_id;
	return ret;
}

int vhost_blk_set_backend(int fd, int backend_fd, uint64_t flags,
			  const char *serial)
{
	struct vhost_blk_backend b;

	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.fd = backend_fd;
	b.flags = flags;
	if (serial)
		memcpy(b.serial, serial, strnlen(serial, sizeof(b.serial)));
	return xioctl(fd, VHOST_BLK_SET_BACKEND, &b);
}

int vhost_blk_get_config(int fd, struct virtio_blk_config *cfg,
			 uint64_t *features, uint32_t *len)
{
	struct vhost_blk_config c;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	c.config_len = sizeof(*cfg);
	c.config_ptr = (uintptr_t)cfg;
	ret = xioctl(fd, VHOST_BLK_GET_CONFIG, &c);
	if (ret)
		return ret;
	if (features)
		*features = c.features;
	if (len)
		*len = c.config_len;
	return 0;
}

int vhost_blk_set_options(int fd, uint64_t flags)
{
	struct vhost_blk_options o;

	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.flags = flags;
	return xioctl(fd, VHOST_BLK_SET_OPTIONS, &o);
}

int vhost_blk_set_vring_inflight(int fd, unsigned int index, uint64_t addr,
				 uint64_t len)
{
	struct vhost_blk_vring_inflight v;

	memset(&v, 0, sizeof(v));
	v.size = sizeof(v);
	v.index = index;
	v.addr = addr;
	v.len = len;
	return xioctl(fd, VHOST_BLK_SET_VRING_INFLIGHT, &v);
}
