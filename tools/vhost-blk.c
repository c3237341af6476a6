// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk - drive /dev/vhost-blk from the command line.
 *
 *   vhost-blk info <blockdev>
 *	attach <blockdev> and print the offered features and the
 *	virtio-blk config the guest would see.
 *
 *   vhost-blk io <blockdev> [--count N] [--bs BYTES] [--qd N]
 *		[--queues N] [--seed N] [--serial STR] [--indirect]
 *	attach <blockdev> read-write, write N patterned requests of BYTES
 *	through the device, FLUSH, read them back and compare; check
 *	GET_ID. Exits 0 only if everything matched. OVERWRITES the device.
 *
 *   vhost-blk stat [--pid PID] [--interval SEC [--count N]]
 *	show the counters of every open /dev/vhost-blk of process PID
 *	(default: of all processes), read from /proc/PID/fdinfo/FD; with
 *	--interval, again every SEC seconds with the rates in between,
 *	N times (default: until interrupted).
 *
 *   vhost-blk --version
 *	print the package version (that of the module too) and exit.
 *
 *   vhost-blk io --vhost-user SOCKET [options as above]
 *	the same workload against a vhost-user-blk backend listening on
 *	SOCKET (vhost-user-blk-bridge, qemu-storage-daemon, ...): guest
 *	memory is shared with it as a memfd. GET_ID is compared only when
 *	--serial is given. OVERWRITES the backend's disk.
 *
 * The process plays the guest with the userspace driver of
 * tools/lib/virtio_blk_drv.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <endian.h>
#include <linux/fs.h>

#include "vhost_blk_ctl.h"
#include "virtio_blk_drv.h"
#include "util.h"

#define IO_TIMEOUT_MS	30000

static const char *prog = "vhost-blk";

static void __printf(1, 2) err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const struct {
	unsigned int bit;
	const char *name;
} feature_names[] = {
	{ VIRTIO_BLK_F_SIZE_MAX, "SIZE_MAX" },
	{ VIRTIO_BLK_F_SEG_MAX, "SEG_MAX" },
	{ VIRTIO_BLK_F_GEOMETRY, "GEOMETRY" },
	{ VIRTIO_BLK_F_RO, "RO" },
	{ VIRTIO_BLK_F_BLK_SIZE, "BLK_SIZE" },
	{ VIRTIO_BLK_F_FLUSH, "FLUSH" },
	{ VIRTIO_BLK_F_TOPOLOGY, "TOPOLOGY" },
	{ VIRTIO_BLK_F_CONFIG_WCE, "CONFIG_WCE" },
	{ VIRTIO_BLK_F_MQ, "MQ" },
	{ VIRTIO_BLK_F_DISCARD, "DISCARD" },
	{ VIRTIO_BLK_F_WRITE_ZEROES, "WRITE_ZEROES" },
	{ VIRTIO_BLK_F_SECURE_ERASE, "SECURE_ERASE" },
	{ VIRTIO_F_ANY_LAYOUT, "ANY_LAYOUT" },
	{ VIRTIO_RING_F_INDIRECT_DESC, "RING_INDIRECT_DESC" },
	{ VIRTIO_RING_F_EVENT_IDX, "RING_EVENT_IDX" },
	{ VIRTIO_F_VERSION_1, "VERSION_1" },
};

static void print_features(const char *what, uint64_t f)
{
	printf("%-18s 0x%016" PRIx64, what, f);
	for (unsigned int i = 0; i < 64; i++) {
		const char *name = NULL;

		if (!(f & (1ULL << i)))
			continue;
		for (size_t k = 0; k < sizeof(feature_names) /
				       sizeof(feature_names[0]); k++)
			if (feature_names[k].bit == i)
				name = feature_names[k].name;
		if (name)
			printf(" %s", name);
		else
			printf(" bit%u", i);
	}
	printf("\n");
}

/* Say what to do about @e, a failure to open /dev/vhost-blk. */
static void device_error(int e)
{
	if (e == ENOENT || e == ENODEV || e == ENXIO)
		err("%s: %s: is the vhost_blk module loaded? (modprobe vhost_blk)",
		    VHOST_BLK_DEV_PATH, strerror(e));
	else if (e == EACCES || e == EPERM)
		err("%s: %s: the node is for root and group kvm",
		    VHOST_BLK_DEV_PATH, strerror(e));
	else
		err("%s: %s", VHOST_BLK_DEV_PATH, strerror(e));
}

static int open_backend(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	if (fd < 0)
		err("%s: %s", path, strerror(errno));
	return fd;
}

static int cmd_info(int argc, char **argv)
{
	struct virtio_blk_config cfg;
	uint64_t offered, dev_features;
	uint32_t len;
	int vfd, bfd, ret;

	if (argc == 2 && (!strcmp(argv[1], "-h") ||
			  !strcmp(argv[1], "--help"))) {
		printf("usage: %s info <blockdev>\n"
		       "  attach <blockdev> and print the features offered and the\n"
		       "  virtio-blk config a guest would see\n", prog);
		return 0;
	}
	if (argc != 2) {
		err("usage: info <blockdev>");
		return 2;
	}
	/* Read-write if we may, so "backend" shows what a VMM would get. */
	bfd = open(argv[1], O_RDWR | O_CLOEXEC);
	if (bfd < 0 && (errno == EACCES || errno == EROFS))
		bfd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (bfd < 0) {
		err("%s: %s", argv[1], strerror(errno));
		return 1;
	}
	vfd = vhost_blk_open(NULL);
	if (vfd < 0) {
		device_error(-vfd);
		close(bfd);
		return 1;
	}
	ret = vhost_blk_set_owner(vfd);
	if (!ret)
		ret = vhost_blk_get_features(vfd, &offered);
	if (!ret)
		ret = vhost_blk_set_backend(vfd, bfd, 0, NULL);
	if (!ret)
		ret = vhost_blk_get_config(vfd, &cfg, &dev_features, &len);
	close(bfd);
	close(vfd);
	if (ret) {
		err("%s: %s", argv[1], strerror(-ret));
		return 1;
	}

	printf("device             %s\n", argv[1]);
	print_features("offered", offered);
	print_features("backend", dev_features);
	printf("config bytes       %u\n", len);
	printf("capacity           %" PRIu64 " sectors (%" PRIu64 " bytes)\n",
	       (uint64_t)le64toh(cfg.capacity),
	       (uint64_t)le64toh(cfg.capacity) * 512);
	printf("size_max           %u\n", le32toh(cfg.size_max));
	printf("seg_max            %u\n", le32toh(cfg.seg_max));
	printf("blk_size           %u\n", le32toh(cfg.blk_size));
	printf("physical_block_exp %u\n", cfg.physical_block_exp);
	printf("alignment_offset   %u\n", cfg.alignment_offset);
	printf("min_io_size        %u\n", le16toh(cfg.min_io_size));
	printf("opt_io_size        %u\n", le32toh(cfg.opt_io_size));
	printf("wce                %u\n", cfg.wce);
	printf("num_queues         %u\n", le16toh(cfg.num_queues));
	return 0;
}

struct io_job {
	struct vblk_dev *dev;
	unsigned int queues;
	unsigned int qd;		/* per queue */
	uint32_t bs;			/* bytes per request */
	uint32_t seg_len;		/* bytes per data segment */
	uint64_t count;			/* requests per phase */
	uint64_t seed;
	uint64_t span;			/* sectors used, a multiple of bs */
	unsigned int add_flags;
	uint8_t *buf;			/* bs bytes of scratch */
	/* per queue, per slot */
	struct vblk_req **reqs;
	uint64_t *data_gpa;
	uint64_t *req_nr;
	bool *busy;
	uint64_t mismatches;
	uint64_t errors;
};

static uint64_t req_sector(const struct io_job *j, uint64_t nr)
{
	return nr * (j->bs / 512) % j->span;
}

static void __printf(4, 5) report_error(struct io_job *j, const char *what,
					uint64_t nr, const char *fmt, ...)
{
	va_list ap;

	if (j->errors + j->mismatches < 10) {
		fprintf(stderr, "%s: %s request %" PRIu64 " (sector %" PRIu64
			"): ", prog, what, nr, req_sector(j, nr));
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
}

/* Check one completed request of @type, then free its slot. */
static void complete_slot(struct io_job *j, unsigned int slot, uint32_t type)
{
	struct vblk_req *r = j->reqs[slot];
	uint64_t nr = j->req_nr[slot];
	uint32_t want_len = type == VIRTIO_BLK_T_IN ? j->bs + 1 : 1;
	const char *what = type == VIRTIO_BLK_T_IN ? "read" : "write";

	j->busy[slot] = false;
	if (r->status != VIRTIO_BLK_S_OK) {
		report_error(j, what, nr, "status %u", r->status);
		j->errors++;
		return;
	}
	if (r->used_len != want_len) {
		report_error(j, what, nr, "used.len %u, expected %u",
			     r->used_len, want_len);
		j->errors++;
		return;
	}
	if (type == VIRTIO_BLK_T_IN) {
		ssize_t off;

		vblk_mem_read(j->dev, j->data_gpa[slot], j->buf, j->bs);
		off = vblk_pattern_check(j->buf, j->bs, req_sector(j, nr),
					 j->seed);
		if (off >= 0) {
			report_error(j, what, nr,
				     "data differs at byte %zd", off);
			j->mismatches++;
		}
	}
}

/* Cut [gpa, gpa + len) into data segments no larger than size_max. */
static void add_segs(const struct io_job *j, struct vblk_req *r, uint64_t gpa,
		     uint32_t len)
{
	for (uint32_t off = 0; off < len; off += j->seg_len)
		vblk_req_add_seg(r, gpa + off,
				 len - off < j->seg_len ? len - off : j->seg_len);
}

/* Issue j->count requests of @type with j->qd in flight per queue. */
static int run_phase(struct io_job *j, uint32_t type)
{
	struct pollfd pfd[VHOST_BLK_MAX_QUEUES];
	uint64_t next = 0, done = 0;
	struct vblk_used used[64];

	for (unsigned int q = 0; q < j->queues; q++)
		pfd[q] = (struct pollfd){ .fd = j->dev->vqs[q].call_fd,
					  .events = POLLIN };

	while (done < j->count) {
		int ret;

		for (unsigned int q = 0; q < j->queues; q++) {
			struct vblk_vq *vq = &j->dev->vqs[q];
			bool posted = false;

			for (unsigned int s = 0; s < j->qd && next < j->count;
			     s++) {
				unsigned int slot = q * j->qd + s;
				struct vblk_req *r = j->reqs[slot];
				uint64_t sector = req_sector(j, next);

				if (j->busy[slot])
					continue;
				vblk_req_reset(r, type, sector);
				add_segs(j, r, j->data_gpa[slot], j->bs);
				if (type == VIRTIO_BLK_T_OUT) {
					vblk_pattern_fill(j->buf, j->bs, sector,
							  j->seed);
					vblk_mem_write(j->dev, j->data_gpa[slot],
						       j->buf, j->bs);
				}
				r->priv = (void *)(uintptr_t)slot;
				ret = vblk_req_submit(vq, r, j->add_flags);
				if (ret < 0) {
					err("submit: %s", strerror(-ret));
					return ret;
				}
				j->busy[slot] = true;
				j->req_nr[slot] = next++;
				posted = true;
			}
			if (posted) {
				ret = vblk_vq_kick(vq);
				if (ret) {
					err("kick: %s", strerror(-ret));
					return ret;
				}
			}
		}

		for (unsigned int q = 0; q < j->queues; q++) {
			struct vblk_vq *vq = &j->dev->vqs[q];
			int n;

			while ((n = vblk_vq_reap(vq, used, 64)) > 0) {
				for (int i = 0; i < n; i++) {
					if (!used[i].valid || !used[i].req) {
						err("device returned unknown id %u",
						    used[i].id);
						return -EPROTO;
					}
					complete_slot(j,
						      (uintptr_t)used[i].req->priv,
						      type);
					done++;
				}
			}
		}
		if (done == j->count)
			break;
		/* Sleep only if nothing is free to post. */
		if (next < j->count && done + (uint64_t)j->queues * j->qd > next)
			continue;
		ret = poll(pfd, j->queues, IO_TIMEOUT_MS);
		if (ret < 0 && errno != EINTR) {
			err("poll: %s", strerror(errno));
			return -errno;
		}
		if (!ret) {
			err("no completion in %d ms (%" PRIu64 " of %" PRIu64
			    " done)", IO_TIMEOUT_MS, done, j->count);
			return -ETIMEDOUT;
		}
		for (unsigned int q = 0; q < j->queues; q++)
			if (pfd[q].revents & POLLIN)
				vblk_eventfd_wait(pfd[q].fd, 0);
	}
	return 0;
}

static int simple_req(struct io_job *j, uint32_t type, uint64_t gpa,
		      uint32_t len, struct vblk_req *r)
{
	vblk_req_reset(r, type, 0);
	if (len)
		add_segs(j, r, gpa, len);
	return vblk_do(&j->dev->vqs[0], r, j->add_flags, IO_TIMEOUT_MS);
}

static int check_flush_and_id(struct io_job *j, const char *serial,
			      bool check_id)
{
	char id[VIRTIO_BLK_ID_BYTES], want[VIRTIO_BLK_ID_BYTES];
	struct vblk_req *r = j->reqs[0];
	int ret;

	ret = simple_req(j, VIRTIO_BLK_T_FLUSH, 0, 0, r);
	if (ret || r->status != VIRTIO_BLK_S_OK) {
		err("FLUSH failed: %s, status %u", strerror(-ret), r->status);
		return -EIO;
	}
	ret = simple_req(j, VIRTIO_BLK_T_GET_ID, j->data_gpa[0], sizeof(id), r);
	if (ret || r->status != VIRTIO_BLK_S_OK) {
		err("GET_ID failed: %s, status %u", strerror(-ret), r->status);
		return -EIO;
	}
	vblk_mem_read(j->dev, j->data_gpa[0], id, sizeof(id));
	if (!check_id) {
		printf("  get_id '%.20s'\n", id);
		return 0;
	}
	memset(want, 0, sizeof(want));
	memcpy(want, serial, strnlen(serial, sizeof(want)));
	if (memcmp(id, want, sizeof(id))) {
		err("GET_ID returned '%.20s', expected '%.20s'", id, want);
		return -EIO;
	}
	return 0;
}

static void io_usage(FILE *f)
{
	fprintf(f,
		"usage: %s io {<blockdev> | --vhost-user SOCKET [--wait SEC]} [--count N]\n"
		"          [--bs BYTES] [--qd N] [--queues N] [--seed N] [--serial STR]\n"
		"          [--indirect]\n"
		"  OVERWRITES the first count*bs bytes of the disk. --wait: wait up to\n"
		"  SEC seconds for SOCKET to accept (default: fail at once).\n", prog);
}

static unsigned int round_pow2(unsigned int x)
{
	unsigned int p = 1;

	while (p < x)
		p <<= 1;
	return p;
}

static int cmd_io(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "bs", required_argument, NULL, 'b' },
		{ "qd", required_argument, NULL, 'q' },
		{ "queues", required_argument, NULL, 'Q' },
		{ "seed", required_argument, NULL, 's' },
		{ "serial", required_argument, NULL, 'S' },
		{ "indirect", no_argument, NULL, 'i' },
		{ "vhost-user", required_argument, NULL, 'U' },
		{ "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	uint64_t count = 1024, bs = 4096, qd = 16, queues = 1, seed = 1;
	uint64_t wait = 0;
	const char *serial = "vhost-blk-io", *vu = NULL, *name;
	struct io_job j = { 0 };
	bool indirect = false, serial_given = false;
	uint64_t t0, t1, cap;
	unsigned long kicks = 0, suppressed = 0;
	unsigned int nslots = 0;
	uint32_t nsegs;
	int bfd = -1, ret, c, rc = 1;
	double secs;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:b:q:Q:s:S:iU:w:h", opts,
				NULL)) != -1) {
		uint64_t *v = NULL;

		switch (c) {
		case 'c':
			v = &count;
			break;
		case 'b':
			v = &bs;
			break;
		case 'q':
			v = &qd;
			break;
		case 'Q':
			v = &queues;
			break;
		case 's':
			v = &seed;
			break;
		case 'S':
			serial = optarg;
			serial_given = true;
			break;
		case 'U':
			vu = optarg;
			break;
		case 'w':
			v = &wait;
			break;
		case 'i':
			indirect = true;
			break;
		case 'h':
			io_usage(stdout);
			return 0;
		default:
			io_usage(stderr);
			return 2;
		}
		if (v && parse_u64(optarg, v)) {
			err("bad number '%s'", optarg);
			return 2;
		}
	}
	if (optind + (vu ? 0 : 1) != argc || (wait && !vu)) {
		io_usage(stderr);
		return 2;
	}
	if (wait > 3600) {
		err("--wait takes 0..3600 seconds");
		return 2;
	}
	name = vu ? vu : argv[optind];
	if (!count || !bs || bs % 512 || bs > (64ULL << 20) || !qd ||
	    qd > 1024 || !queues || queues > VHOST_BLK_MAX_QUEUES) {
		err("need count >= 1, bs a multiple of 512 up to 64M, qd 1..1024, queues 1..%d",
		    VHOST_BLK_MAX_QUEUES);
		return 2;
	}

	if (!vu) {
		bfd = open_backend(argv[optind], O_RDWR);
		if (bfd < 0)
			return 1;
	}

	nslots = queues * qd;
	o.num_queues = queues;
	/* Room for qd direct chains of up to 8 data segments each. */
	o.queue_size = round_pow2(qd * 10 < 16 ? 16 : qd * 10);
	if (o.queue_size > 32768)
		o.queue_size = 32768;
	/* The largest ring QEMU and libvhost-user take. */
	if (vu && o.queue_size > 1024)
		o.queue_size = 1024;
	o.vhost_user = vu;
	o.vhost_user_wait_ms = (int)wait * 1000;
	o.mem_size = ((uint64_t)nslots * (bs + 4096) + (8ULL << 20) +
		      (2ULL << 20) - 1) & ~((2ULL << 20) - 1);
	ret = vblk_dev_create(&j.dev, &o, bfd, 0, serial);
	if (bfd >= 0)
		close(bfd);
	if (ret == -ENOENT && !vu) {
		device_error(ENOENT);
		return 1;
	}
	if (ret && vu && (ret == -ENOENT || ret == -ECONNREFUSED)) {
		err("%s: %s: no vhost-user backend listens there%s", vu,
		    strerror(-ret), wait ? "" : " (--wait SEC to wait for one)");
		return 1;
	}
	if (ret) {
		err("%s: setting up the device: %s", name, strerror(-ret));
		return 1;
	}

	cap = vblk_dev_capacity(j.dev);
	if (cap < bs / 512) {
		err("%s: %" PRIu64 " sectors, smaller than one request",
		    name, cap);
		goto out;
	}
	j.seg_len = vblk_dev_size_max(j.dev) < bs ? vblk_dev_size_max(j.dev) : bs;
	j.seg_len &= ~511U;
	nsegs = j.seg_len ? (bs + j.seg_len - 1) / j.seg_len : UINT32_MAX;
	if (nsegs > vblk_dev_seg_max(j.dev) ||
	    (!indirect && nsegs + 2 > o.queue_size / qd)) {
		err("--bs %" PRIu64 " needs %u segments of at most %u bytes: more than the device or ring takes",
		    bs, nsegs, vblk_dev_size_max(j.dev));
		goto out;
	}
	if (indirect && !vblk_dev_has_feature(j.dev,
					      VIRTIO_RING_F_INDIRECT_DESC)) {
		err("the device does not offer indirect descriptors");
		goto out;
	}
	j.add_flags = indirect ? VBLK_ADD_INDIRECT : 0;
	j.queues = queues;
	j.qd = qd;
	j.bs = bs;
	j.count = count;
	j.seed = seed;
	j.span = cap / (bs / 512) * (bs / 512);
	j.buf = malloc(bs);
	j.reqs = calloc(nslots, sizeof(*j.reqs));
	j.data_gpa = calloc(nslots, sizeof(*j.data_gpa));
	j.req_nr = calloc(nslots, sizeof(*j.req_nr));
	j.busy = calloc(nslots, sizeof(*j.busy));
	if (!j.buf || !j.reqs || !j.data_gpa || !j.req_nr || !j.busy) {
		err("out of memory");
		goto out;
	}
	for (unsigned int s = 0; s < nslots; s++) {
		j.reqs[s] = vblk_req_alloc(j.dev);
		if (!j.reqs[s] ||
		    vblk_alloc(j.dev, bs, 4096, &j.data_gpa[s])) {
			err("out of guest memory");
			goto out;
		}
	}

	t0 = vblk_now_ns();
	ret = run_phase(&j, VIRTIO_BLK_T_OUT);
	if (!ret)
		ret = check_flush_and_id(&j, serial, !vu || serial_given);
	if (!ret)
		ret = run_phase(&j, VIRTIO_BLK_T_IN);
	t1 = vblk_now_ns();
	if (ret)
		goto out;

	secs = (double)(t1 - t0) / 1e9;
	printf("%s: %" PRIu64 " writes + %" PRIu64 " reads of %" PRIu64
	       " bytes, qd %" PRIu64 " x %" PRIu64 " queue(s)%s\n",
	       name, count, count, bs, qd, queues,
	       indirect ? ", indirect" : "");
	printf("  %" PRIu64 " requests, %" PRIu64 " bytes in %.3f s: %.0f IOPS, %.1f MiB/s\n",
	       2 * count + 2, 2 * count * bs, secs,
	       secs > 0 ? (2 * count + 2) / secs : 0.0,
	       secs > 0 ? 2.0 * count * bs / secs / (1 << 20) : 0.0);
	for (unsigned int q = 0; q < queues; q++) {
		kicks += j.dev->vqs[q].kicks;
		suppressed += j.dev->vqs[q].kicks_suppressed;
	}
	if (!vu || serial_given)
		printf("  flush ok, get_id '%.20s' ok, kicks %lu, kicks suppressed %lu\n",
		       serial, kicks, suppressed);
	else
		printf("  flush ok, kicks %lu, kicks suppressed %lu\n", kicks,
		       suppressed);
	if (j.errors || j.mismatches) {
		printf("  FAILED: %" PRIu64 " errors, %" PRIu64 " mismatches\n",
		       j.errors, j.mismatches);
		goto out;
	}
	printf("  verified\n");
	rc = 0;
out:
	if (j.reqs)
		for (unsigned int s = 0; s < nslots; s++)
			vblk_req_free(j.dev, j.reqs[s]);
	free(j.reqs);
	free(j.data_gpa);
	free(j.req_nr);
	free(j.busy);
	free(j.buf);
	vblk_dev_destroy(j.dev);
	return rc;
}

/* ---- stat: the counters of open devices, from fdinfo ---- */

/* "MAJOR:MINOR" of the misc device, or 0 when the module is not loaded. */
static dev_t vhost_blk_rdev(void)
{
	unsigned int ma, mi;
	FILE *f = fopen("/sys/class/misc/vhost-blk/dev", "r");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%u:%u", &ma, &mi);
	fclose(f);
	return n == 2 ? makedev(ma, mi) : 0;
}

/* The sum of the "total:" line's request counts and bytes. */
struct stat_sample {
	uint64_t reqs, bytes_read, bytes_written;
};

static uint64_t field(const char *line, const char *key)
{
	size_t klen = strlen(key);
	const char *p = line;

	while ((p = strstr(p, key))) {
		if ((p == line || p[-1] == ' ' || p[-1] == '\t') &&
		    p[klen] == '=')
			return strtoull(p + klen + 1, NULL, 10);
		p += klen;
	}
	return 0;
}

/* Print the fdinfo of one device; its totals in @smp. */
/*
 * Print @s, which ends in a newline, after @prefix, with every byte that
 * is not printable ASCII (or a tab) as \ooo: fdinfo shows the backend's
 * path as the owner named it, and an owner is not trusted to choose what
 * reaches the terminal of whoever runs stat.
 */
static void put_escaped(const char *prefix, const char *s)
{
	fputs(prefix, stdout);
	for (; *s && *s != '\n'; s++) {
		unsigned char c = *s;

		if (c == '\\')
			fputs("\\\\", stdout);
		else if (c == '\t' || (c >= 0x20 && c < 0x7f))
			putchar(c);
		else
			printf("\\%03o", c);
	}
	putchar('\n');
}

static int show_one(int pid, int fd, struct stat_sample *smp)
{
	static const char *const types[] = {
		"in", "out", "flush", "get_id", "discard", "write_zeroes",
		"secure_erase", "other",
	};
	char path[64], head[64], *line = NULL;
	size_t cap = 0;
	bool ours = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	memset(smp, 0, sizeof(*smp));
	/* getline(): a long backend path stays one line, never two. */
	while (getline(&line, &cap, f) > 0) {
		if (!strncmp(line, "vhost-blk-id:", 13)) {
			ours = true;
			snprintf(head, sizeof(head), "pid %d fd %d device ",
				 pid, fd);
			put_escaped(head, line + 13 + strspn(line + 13, " \t"));
			continue;
		}
		if (!ours || !strncmp(line, "pos:", 4) ||
		    !strncmp(line, "flags:", 6) ||
		    !strncmp(line, "mnt_id:", 7) || !strncmp(line, "ino:", 4))
			continue;
		put_escaped("  ", line);
		if (!strncmp(line, "total:", 6)) {
			for (size_t i = 0; i < sizeof(types) / sizeof(*types); i++)
				smp->reqs += field(line, types[i]);
			smp->bytes_read = field(line, "bytes_read");
			smp->bytes_written = field(line, "bytes_written");
		}
	}
	free(line);
	fclose(f);
	return ours ? 0 : -ENODEV;
}

#define STAT_MAX	256

struct stat_dev {
	int pid, fd;
	struct stat_sample last;
};

/* Every open device of @pid (all processes if 0), at most @max. */
static unsigned int find_devs(int pid, dev_t rdev, struct stat_dev *out,
			      unsigned int max)
{
	unsigned int n = 0;
	DIR *procs = NULL, *fds;
	struct dirent *pe, *fe;
	char path[64];
	int p;

	if (!pid)
		procs = opendir("/proc");
	for (;;) {
		if (procs) {
			pe = readdir(procs);
			if (!pe)
				break;
			p = atoi(pe->d_name);
			if (p <= 0)
				continue;
		} else {
			p = pid;
		}
		snprintf(path, sizeof(path), "/proc/%d/fd", p);
		fds = opendir(path);
		while (fds && (fe = readdir(fds)) && n < max) {
			char link[320];
			struct stat st;

			snprintf(link, sizeof(link), "/proc/%d/fd/%s", p,
				 fe->d_name);
			if (fe->d_name[0] == '.' || stat(link, &st) ||
			    !S_ISCHR(st.st_mode) || st.st_rdev != rdev)
				continue;
			out[n].pid = p;
			out[n].fd = atoi(fe->d_name);
			n++;
		}
		if (fds)
			closedir(fds);
		if (!procs)
			break;
	}
	if (procs)
		closedir(procs);
	return n;
}

static void stat_usage(FILE *f)
{
	fprintf(f,
		"usage: %s stat [--pid PID] [--interval SEC [--count N]]\n"
		"  show the counters of every open /dev/vhost-blk of PID (default:\n"
		"  of every process), again every SEC seconds with the rates, N times\n",
		prog);
}

static int cmd_stat(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	uint64_t pid = 0, interval = 0, count = 0, shown;
	struct stat_dev *devs;
	unsigned int n;
	dev_t rdev;
	int c;

	while ((c = getopt_long(argc, argv, "p:i:c:h", opts, NULL)) != -1) {
		const char *name;
		uint64_t *v;

		switch (c) {
		case 'p':
			v = &pid;
			name = "pid";
			break;
		case 'i':
			v = &interval;
			name = "interval";
			break;
		case 'c':
			v = &count;
			name = "count";
			break;
		case 'h':
			stat_usage(stdout);
			return 0;
		default:
			stat_usage(stderr);
			return 2;
		}
		if (parse_u64(optarg, v) || !*v || *v > INT_MAX) {
			err("--%s takes a number from 1 to %d", name, INT_MAX);
			return 2;
		}
	}
	if (optind != argc || (count && !interval)) {
		stat_usage(stderr);
		return 2;
	}
	rdev = vhost_blk_rdev();
	if (!rdev) {
		err("the vhost_blk module is not loaded (no /sys/class/misc/vhost-blk): try 'modprobe vhost_blk'");
		return 1;
	}
	devs = calloc(STAT_MAX, sizeof(*devs));
	if (!devs)
		return 1;
	n = find_devs((int)pid, rdev, devs, STAT_MAX);
	if (!n) {
		if (pid)
			err("process %" PRIu64 " has no /dev/vhost-blk open (or may not be inspected)",
			    pid);
		else
			printf("no /dev/vhost-blk open\n");
		free(devs);
		return pid ? 1 : 0;
	}
	for (shown = 0;; shown++) {
		for (unsigned int i = 0; i < n; i++) {
			struct stat_sample s;

			if (show_one(devs[i].pid, devs[i].fd, &s))
				continue;
			if (shown)
				printf("  rate:\treqs/s=%" PRIu64 " read_bytes/s=%" PRIu64 " written_bytes/s=%" PRIu64 "\n",
				       (s.reqs - devs[i].last.reqs) / interval,
				       (s.bytes_read - devs[i].last.bytes_read) /
				       interval,
				       (s.bytes_written -
					devs[i].last.bytes_written) / interval);
			devs[i].last = s;
		}
		fflush(stdout);
		if (!interval || (count && shown + 1 >= count))
			break;
		sleep(interval);
	}
	free(devs);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: %s info <blockdev>\n"
		"       %s io {<blockdev> | --vhost-user SOCKET [--wait SEC]} [--count N]\n"
		"                [--bs BYTES] [--qd N] [--queues N] [--seed N] [--serial STR]\n"
		"                [--indirect]\n"
		"       %s stat [--pid PID] [--interval SEC [--count N]]\n"
		"       %s --version\n",
		prog, prog, prog, prog);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage();
		return 2;
	}
	if (!strcmp(argv[1], "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(argv[1], "io"))
		return cmd_io(argc - 1, argv + 1);
	if (!strcmp(argv[1], "stat"))
		return cmd_stat(argc - 1, argv + 1);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage();
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("%s %s\n", prog, VHOST_BLK_VERSION);
		return 0;
	}
	usage();
	return 2;
}
