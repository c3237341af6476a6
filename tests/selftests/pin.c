// SPDX-License-Identifier: GPL-2.0
/*
 * pin: VHOST_BLK_SET_OPTIONS and VHOST_BLK_OPT_F_PIN_MEM. The struct is
 * checked like every extensible struct of the ABI; a pinned table serves
 * verified I/O, is charged to VmPin while it is in place (and not after
 * it is replaced, unpinned, reset or closed), and a table over
 * RLIMIT_MEMLOCK is refused with -ENOMEM for a caller without
 * CAP_IPC_LOCK.
 */
#include <sys/resource.h>
#include <sys/syscall.h>
#include <linux/capability.h>

#include "kselftest_harness.h"
#include "vhost_blk_test.h"

#define MEM_SIZE	(8U << 20)

static int set_options_raw(int fd, const void *arg)
{
	return ioctl(fd, VHOST_BLK_SET_OPTIONS, arg) ? -errno : 0;
}

/* A device with an 8 MiB table and the backend, no queue started yet. */
static int make_dev(struct vblk_dev **dp, int bfd)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	int ret;

	o.mem_size = MEM_SIZE;
	o.num_queues = 0;
	ret = vblk_dev_open(dp, &o);
	if (ret)
		return ret;
	ret = vblk_dev_setup(*dp, 0);
	if (!ret)
		ret = vblk_dev_attach(*dp, bfd, 0, "pin");
	if (ret)
		vblk_dev_destroy(*dp);
	return ret;
}

TEST(options_struct_checked)
{
	struct {
		struct vhost_blk_options o;
		uint8_t tail[64];
	} a;
	int fd = vhost_blk_open(VHOST_BLK_DEV_PATH);

	ASSERT_LE(0, fd);
	memset(&a, 0, sizeof(a));
	a.o.size = sizeof(a.o);
	EXPECT_EQ(-EPERM, set_options_raw(fd, &a));
	ASSERT_EQ(0, vhost_blk_set_owner(fd));

	a.o.size = 0;
	EXPECT_EQ(-EINVAL, set_options_raw(fd, &a));
	a.o.size = VHOST_BLK_OPTIONS_SIZE_VER0 - 1;
	EXPECT_EQ(-EINVAL, set_options_raw(fd, &a));
	a.o.size = 8192;
	EXPECT_EQ(-E2BIG, set_options_raw(fd, &a));
	/* Longer than the kernel knows: fine while the tail is zero. */
	a.o.size = sizeof(a);
	EXPECT_EQ(0, set_options_raw(fd, &a));
	a.tail[10] = 1;
	EXPECT_EQ(-E2BIG, set_options_raw(fd, &a));
	a.tail[10] = 0;
	a.o.size = sizeof(a.o);
	a.o.reserved0 = 1;
	EXPECT_EQ(-EINVAL, set_options_raw(fd, &a));
	a.o.reserved0 = 0;
	a.o.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, set_options_raw(fd, &a));
	a.o.reserved[1] = 0;
	a.o.flags = 1ULL << 63;
	EXPECT_EQ(-EOPNOTSUPP, set_options_raw(fd, &a));
	a.o.flags = VHOST_BLK_OPT_F_PIN_MEM;
	/* No table yet: nothing to pin. */
	EXPECT_EQ(0, set_options_raw(fd, &a));
	a.o.flags = 0;
	EXPECT_EQ(0, set_options_raw(fd, &a));
	close(fd);
}

/* Verified I/O of several shapes, the table pinned before or after. */
static void pinned_roundtrip(struct __test_metadata *_metadata, bool early)
{
	static const uint32_t sizes[] = { 512, 4096, 65536, 1 << 20 };
	int bfd = open(test_dev(), O_RDWR | O_CLOEXEC);
	uint64_t seed = fresh_seed(), gpa, sector = 0;
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	long base = vm_pin_kb();
	struct vblk_dev *d;
	struct vblk_req *r;

	ASSERT_LE(0, bfd);
	ASSERT_LE(0, base);
	o.mem_size = MEM_SIZE;
	ASSERT_EQ(0, vblk_dev_open(&d, &o));
	if (early) {
		/* vblk_dev_setup() by hand, the option before the table. */
		ASSERT_EQ(0, vhost_blk_set_owner(d->fd));
		ASSERT_EQ(0, vhost_blk_set_options(d->fd,
						   VHOST_BLK_OPT_F_PIN_MEM));
		EXPECT_EQ(base, vm_pin_kb());
		ASSERT_EQ(0, vhost_blk_get_features(d->fd,
						    &d->features_offered));
		d->features = d->features_offered & VBLK_DRV_FEATURES;
		ASSERT_EQ(0, vhost_blk_set_features(d->fd, d->features));
		ASSERT_EQ(0, vblk_dev_set_mem_table(d));
	} else {
		ASSERT_EQ(0, vblk_dev_setup(d, 0));
		ASSERT_EQ(0, vblk_dev_attach(d, bfd, 0, "pin"));
		ASSERT_EQ(0, vblk_vq_start(d, 0, 0));
		/* Pinned while the queue is served. */
		ASSERT_EQ(0, vhost_blk_set_options(d->fd,
						   VHOST_BLK_OPT_F_PIN_MEM));
	}
	EXPECT_EQ(base + MEM_SIZE / 1024, vm_pin_kb());
	if (early) {
		ASSERT_EQ(0, vblk_dev_attach(d, bfd, 0, "pin"));
		ASSERT_EQ(0, vblk_vq_start(d, 0, 0));
	}
	r = vblk_req_alloc(d);
	ASSERT_NE(NULL, r);
	for (unsigned int i = 0; i < ARRAY_SIZE(sizes); i++) {
		ASSERT_EQ(0, vblk_alloc(d, sizes[i], 4096, &gpa));
		EXPECT_EQ(VIRTIO_BLK_S_OK,
			  write_pattern(&d->vqs[0], r, gpa, sector, sizes[i],
					seed));
		EXPECT_EQ(0, check_pattern(&d->vqs[0], r, gpa, sector,
					   sizes[i], seed));
		/* What the device wrote is on the backend. */
		{
			void *buf = malloc(sizes[i]);

			ASSERT_NE(NULL, buf);
			ASSERT_EQ(0, blk_direct_io(test_dev(), false,
						   sector * 512, buf, sizes[i]));
			EXPECT_EQ(-1, vblk_pattern_check(buf, sizes[i], sector,
							 seed));
			free(buf);
		}
		vblk_free(d, gpa, sizes[i]);
		sector += sizes[i] / 512 + 8;
	}
	vblk_req_free(d, r);
	vblk_dev_destroy(d);
	EXPECT_EQ(base, vm_pin_kb());
	close(bfd);
}

TEST(pinned_table_data_verifies)
{
	pinned_roundtrip(_metadata, false);
}

TEST(pinned_before_table_data_verifies)
{
	pinned_roundtrip(_metadata, true);
}

TEST(vmpin_follows_the_table)
{
	int bfd = open(test_dev(), O_RDWR | O_CLOEXEC);
	long base = vm_pin_kb();
	struct vblk_dev *d;

	ASSERT_LE(0, bfd);
	ASSERT_LE(0, base);
	ASSERT_EQ(0, make_dev(&d, bfd));
	EXPECT_EQ(base, vm_pin_kb());
	ASSERT_EQ(0, vhost_blk_set_options(d->fd, VHOST_BLK_OPT_F_PIN_MEM));
	EXPECT_EQ(base + MEM_SIZE / 1024, vm_pin_kb());
	/* Setting it again changes nothing. */
	ASSERT_EQ(0, vhost_blk_set_options(d->fd, VHOST_BLK_OPT_F_PIN_MEM));
	EXPECT_EQ(base + MEM_SIZE / 1024, vm_pin_kb());
	/* A new table is pinned, the old one released. */
	ASSERT_EQ(0, vblk_dev_set_mem_table(d));
	EXPECT_EQ(base + MEM_SIZE / 1024, vm_pin_kb());
	ASSERT_EQ(0, vhost_blk_set_options(d->fd, 0));
	EXPECT_EQ(base, vm_pin_kb());
	ASSERT_EQ(0, vhost_blk_set_options(d->fd, VHOST_BLK_OPT_F_PIN_MEM));
	EXPECT_EQ(base + MEM_SIZE / 1024, vm_pin_kb());
	/* RESET_OWNER drops the table and the option. */
	ASSERT_EQ(0, vhost_blk_reset_owner(d->fd));
	EXPECT_EQ(base, vm_pin_kb());
	ASSERT_EQ(0, vhost_blk_set_owner(d->fd));
	ASSERT_EQ(0, vblk_dev_set_mem_table(d));
	EXPECT_EQ(base, vm_pin_kb());
	ASSERT_EQ(0, vhost_blk_set_options(d->fd, VHOST_BLK_OPT_F_PIN_MEM));
	EXPECT_EQ(base + MEM_SIZE / 1024, vm_pin_kb());
	/* The last close. */
	vblk_dev_destroy(d);
	EXPECT_EQ(base, vm_pin_kb());
	close(bfd);
}

#define DIRECT_PARAM	"/sys/module/vhost_blk/parameters/direct_complete"

static int set_direct_param(bool on)
{
	int fd = open(DIRECT_PARAM, O_WRONLY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, on ? "Y" : "N", 1) != 1)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Verified I/O on queue 0, some of it bounced (buffers one byte off an
 * alignment the device takes in place), with the table pinned or not and
 * direct completion on or off. Returns fdinfo's direct= count once every
 * request is counted, or UINT64_MAX.
 */
static uint64_t direct_count(struct __test_metadata *_metadata, bool pin,
			     bool param)
{
	enum { N = 6, SZ = 8192 };
	int bfd = open(test_dev(), O_RDWR | O_CLOEXEC);
	uint64_t n = UINT64_MAX, seed = 0xd1ec7;
	char vq0[1024];
	struct vblk_dev *d;
	struct vblk_req *r;
	uint64_t gpa;

	ASSERT_LE(0, bfd);
	ASSERT_EQ(0, set_direct_param(param));
	ASSERT_EQ(0, make_dev(&d, bfd));
	if (pin)
		ASSERT_EQ(0, vhost_blk_set_options(d->fd,
						   VHOST_BLK_OPT_F_PIN_MEM));
	/* The parameter is read when the queue starts. */
	ASSERT_EQ(0, vblk_vq_start(d, 0, 0));
	ASSERT_EQ(0, set_direct_param(true));
	r = vblk_req_alloc(d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(d, SZ + 4096, 4096, &gpa));
	for (int i = 0; i < N; i++) {
		/* Every third one bounced: the worker posts it. */
		uint64_t g = gpa + (i % 3 == 2);
		uint64_t sector = 64 + 32 * i;

		EXPECT_EQ(VIRTIO_BLK_S_OK,
			  write_pattern(&d->vqs[0], r, g, sector, SZ, seed));
		EXPECT_EQ(0, check_pattern(&d->vqs[0], r, g, sector, SZ,
					   seed));
		EXPECT_EQ(0, disk_check_pattern(test_dev(), sector, SZ, seed));
	}
	/* Requests are counted when the worker takes them back. */
	for (int i = 0; i < 200; i++) {
		ASSERT_TRUE(fdinfo_line(d->fd, "vq0:", vq0, sizeof(vq0)));
		if (fdinfo_counter(vq0, "in") == N &&
		    fdinfo_counter(vq0, "out") == N)
			break;
		usleep(10000);
	}
	if (fdinfo_counter(vq0, "in") == N && fdinfo_counter(vq0, "out") == N)
		n = fdinfo_counter(vq0, "direct");
	EXPECT_EQ(2 * N, fdinfo_counter(vq0, "ok"));
	vblk_free(d, gpa, SZ + 4096);
	vblk_req_free(d, r);
	vblk_dev_destroy(d);
	close(bfd);
	return n;
}

/*
 * On a pinned table a request that is not bounced is put on the used ring
 * by its own completion; the worker still posts bounced ones, on the same
 * ring. Not on an unpinned table, nor with the parameter off.
 */
TEST(pinned_table_completes_directly)
{
	EXPECT_EQ(8, direct_count(_metadata, true, true));
	EXPECT_EQ(0, direct_count(_metadata, true, false));
	EXPECT_EQ(0, direct_count(_metadata, false, true));
}

#define NULLB_TIMED	"vhost-blk-pin-timed"

struct wake_scan {
	pid_t pid;
	long n;
};

/* Adds the voluntary context switches (sleeps) of @pid's workers. */
static int worker_sleeps_one(const char *dir, int tid __attribute__((unused)),
			     const char *comm, void *arg)
{
	struct wake_scan *ws = arg;
	char path[PATH_MAX], line[128];
	long v;
	FILE *f;

	if (!worker_of(comm, ws->pid))
		return 0;
	snprintf(path, sizeof(path), "%s/status", dir);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1)
			ws->n += v;
	fclose(f);
	return 0;
}

static long worker_sleeps(void)
{
	struct wake_scan ws = { .pid = getpid() };

	return for_each_task(worker_sleeps_one, &ws) < 0 ? -1 : ws.n;
}

/*
 * Times the worker slept per request at queue depth 1 on a backend that
 * completes from a timer 1 ms after each request (null_blk irqmode=2:
 * long enough for the worker to sleep first, also on a debug kernel),
 * with direct completion on or off; -1 if no worker was found.
 */
static double sleeps_per_request(struct __test_metadata *_metadata,
				 const char *path, bool param)
{
	enum { N = 64, SZ = 4096 };
	int bfd = open(path, O_RDWR | O_CLOEXEC);
	uint64_t gpa, seed = 0x51ee9;
	struct vblk_dev *d;
	struct vblk_req *r;
	long before, after;

	ASSERT_LE(0, bfd);
	ASSERT_EQ(0, set_direct_param(param));
	ASSERT_EQ(0, make_dev(&d, bfd));
	ASSERT_EQ(0, vhost_blk_set_options(d->fd, VHOST_BLK_OPT_F_PIN_MEM));
	ASSERT_EQ(0, vblk_vq_start(d, 0, 0));
	ASSERT_EQ(0, set_direct_param(true));
	r = vblk_req_alloc(d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(d, SZ, 4096, &gpa));
	/* The worker exists once it served a request. */
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  write_pattern(&d->vqs[0], r, gpa, 8, SZ, seed));
	before = worker_sleeps();
	for (int i = 0; i < N; i++) {
		EXPECT_EQ(VIRTIO_BLK_S_OK,
			  write_pattern(&d->vqs[0], r, gpa, 16 + 8 * i, SZ,
					seed));
	}
	after = worker_sleeps();
	for (int i = 0; i < N; i++)
		EXPECT_EQ(0, disk_check_pattern(path, 16 + 8 * i, SZ, seed));
	vblk_free(d, gpa, SZ);
	vblk_req_free(d, r);
	vblk_dev_destroy(d);
	close(bfd);
	TH_LOG("direct_complete=%c: worker slept %ld times for %d requests",
	       param ? 'Y' : 'N', after - before, N);
	return before <= 0 || after < before ? -1 : (double)(after - before) / N;
}

/*
 * A request that posted itself does not wake the worker: at queue depth
 * 1 the worker sleeps once per request (waiting for the next kick), not
 * twice (and for the completion). Its reclaim waits for the next run.
 */
TEST(direct_completion_wakes_the_worker_once)
{
	static const char *const attrs[] = {
		"size=64", "blocksize=512", "memory_backed=1", "irqmode=2",
		"completion_nsec=1000000", NULL,
	};
	char path[64];
	double on, off;

	if (nullb_get(NULLB_TIMED, attrs, path, sizeof(path)))
		SKIP(return, "no configfs null_blk");
	off = sleeps_per_request(_metadata, path, false);
	on = sleeps_per_request(_metadata, path, true);
	ASSERT_LE(0, off);
	ASSERT_LE(0, on);
	EXPECT_LE(1.7, off);
	EXPECT_GE(1.3, on);
}

/* A table too large to pin even without a limit: -ENOMEM, no splat. */
TEST(huge_table_enomem)
{
	const size_t size = 2ULL << 40;
	struct vhost_memory_region reg = { .memory_size = size };
	long base = vm_pin_kb();
	void *p;
	int fd;

	p = mmap(NULL, size, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		SKIP(return, "no room for 2 TiB of address space");
	reg.userspace_addr = (uintptr_t)p;
	fd = vhost_blk_open(VHOST_BLK_DEV_PATH);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vhost_blk_set_owner(fd));
	ASSERT_EQ(0, vhost_blk_set_mem_table(fd, &reg, 1));
	/* Root here: CAP_IPC_LOCK lifts the limit, the size does not. */
	EXPECT_EQ(-ENOMEM, vhost_blk_set_options(fd, VHOST_BLK_OPT_F_PIN_MEM));
	EXPECT_EQ(base, vm_pin_kb());
	close(fd);
	munmap(p, size);
}

static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct c[2];

	if (syscall(SYS_capget, &h, c))
		return -errno;
	c[CAP_IPC_LOCK / 32].effective &= ~(1U << (CAP_IPC_LOCK % 32));
	c[CAP_IPC_LOCK / 32].permitted &= ~(1U << (CAP_IPC_LOCK % 32));
	return syscall(SYS_capset, &h, c) ? -errno : 0;
}

/* Exit codes of the child: 0 passed, else the step that failed. */
static int over_limit_child(void *arg)
{
	struct rlimit rl = { .rlim_cur = 1U << 20, .rlim_max = 1U << 20 };
	int bfd = *(int *)arg, fd;
	uint64_t seed = fresh_seed(), gpa;
	struct vblk_dev *d;
	struct vblk_req *r;
	long base;

	if (drop_ipc_lock() || setrlimit(RLIMIT_MEMLOCK, &rl))
		return 10;
	base = vm_pin_kb();
	if (base < 0 || make_dev(&d, bfd))
		return 11;
	/* 8 MiB over a 1 MiB limit. */
	if (vhost_blk_set_options(d->fd, VHOST_BLK_OPT_F_PIN_MEM) != -ENOMEM)
		return 12;
	if (vm_pin_kb() != base)
		return 13;
	/* Nothing changed: the table serves unpinned. */
	r = vblk_req_alloc(d);
	if (!r || vblk_vq_start(d, 0, 0) || vblk_alloc(d, 65536, 4096, &gpa))
		return 14;
	if (write_pattern(&d->vqs[0], r, gpa, 0, 65536, seed) ||
	    check_pattern(&d->vqs[0], r, gpa, 0, 65536, seed))
		return 15;
	vblk_dev_destroy(d);

	/* The option first, then a table over the limit. */
	fd = vhost_blk_open(VHOST_BLK_DEV_PATH);
	if (fd < 0 || vhost_blk_set_owner(fd) ||
	    vhost_blk_set_options(fd, VHOST_BLK_OPT_F_PIN_MEM))
		return 16;
	{
		struct vhost_memory_region reg = {
			.guest_phys_addr = 0,
			.memory_size = 4U << 20,
		};
		void *p = mmap(NULL, reg.memory_size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			return 17;
		reg.userspace_addr = (uintptr_t)p;
		if (vhost_blk_set_mem_table(fd, &reg, 1) != -ENOMEM)
			return 18;
		if (vm_pin_kb() != base)
			return 19;
		/* Within the limit it is pinned and charged. */
		reg.memory_size = 512U << 10;
		if (vhost_blk_set_mem_table(fd, &reg, 1))
			return 20;
		if (vm_pin_kb() != base + 512)
			return 21;
		/*
		 * A new table replaces the pinned one within the limit,
		 * though both together exceed it: the old one is not
		 * charged twice.
		 */
		reg.memory_size = 768U << 10;
		if (vhost_blk_set_mem_table(fd, &reg, 1))
			return 23;
		if (vm_pin_kb() != base + 768)
			return 24;
		if (vhost_blk_set_mem_table(fd, &reg, 1))
			return 25;
		if (vm_pin_kb() != base + 768)
			return 26;
		close(fd);
		if (vm_pin_kb() != base)
			return 22;
	}
	return 0;
}

TEST(over_rlimit_memlock_enomem)
{
	int bfd = open(test_dev(), O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, bfd);
	EXPECT_EQ(0, run_in_child(over_limit_child, &bfd, 60000));
	close(bfd);
}

/*
 * @nmaps mappings of one shmem page, side by side: a region over them
 * pins that page @nmaps times. NULL on failure.
 */
static char *map_one_page(unsigned long nmaps)
{
	char *base;
	int mfd = memfd_create("vhost-blk-one-page", MFD_CLOEXEC);

	if (mfd < 0 || ftruncate(mfd, 4096))
		return NULL;
	base = mmap(NULL, nmaps * 4096, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	for (unsigned long i = 0; base != MAP_FAILED && i < nmaps; i++)
		if (mmap(base + i * 4096, 4096, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, mfd, 0) == MAP_FAILED)
			base = MAP_FAILED;
	close(mfd);
	if (base == MAP_FAILED)
		return NULL;
	base[0] = 1;
	return base;
}

/* SET_MEM_TABLE of @nregions regions, all over [base, base + len). */
static int set_aliased_table(int fd, char *base, uint64_t len,
			     unsigned int nregions)
{
	struct vhost_memory_region r[64];

	for (unsigned int i = 0; i < nregions; i++) {
		r[i].guest_phys_addr = (uint64_t)i << 32;
		r[i].memory_size = len;
		r[i].userspace_addr = (uintptr_t)base;
		r[i].flags_padding = 0;
	}
	return vhost_blk_set_mem_table(fd, r, nregions);
}

/*
 * A long-term pin adds 1024 references to a small page, and regions (and
 * the mappings within one) may all name the same page: 64 regions over
 * 9000 mappings of one page would take it to 590 million references, and
 * a little more of the same past INT_MAX, where GUP warns. A pinned table
 * is refused with -EINVAL once a page it pinned passes 2^29 references,
 * everything it pinned is released, and a table that names the page a
 * thousand times is fine.
 */
TEST(pin_mem_aliased_page_refused)
{
	const unsigned long nmaps = 9000;
	char *base = map_one_page(nmaps);
	long vmpin = vm_pin_kb();
	int fd;

	ASSERT_NE(NULL, base);
	fd = vhost_blk_open(VHOST_BLK_DEV_PATH);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vhost_blk_set_owner(fd));
	ASSERT_EQ(0, vhost_blk_set_options(fd, VHOST_BLK_OPT_F_PIN_MEM));

	EXPECT_EQ(-EINVAL, set_aliased_table(fd, base, nmaps * 4096, 64));
	EXPECT_EQ(vmpin, vm_pin_kb());
	/* 16 regions of 64 mappings: 1024 pins of the page, accepted. */
	EXPECT_EQ(0, set_aliased_table(fd, base, 64 * 4096, 16));
	EXPECT_EQ(vmpin + 16 * 64 * 4, vm_pin_kb());
	close(fd);
	EXPECT_EQ(vmpin, vm_pin_kb());
	munmap(base, nmaps * 4096);
}

/* ---- the module-wide budget of pages in flight ---- */

#define PARAMS		"/sys/module/vhost_blk/parameters"
#define BUDGET_DEVS	2
#define BUDGET_REQS	16
#define BUDGET_LEN	65536U		/* 16 pages per request */

static long param_read(const char *name)
{
	char path[128], buf[32];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), PARAMS "/%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f) || sscanf(buf, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/*
 * Two devices on the slow null_blk (each request in flight for 20 ms)
 * post 16 requests of 16 pages each at once, with the module-wide budget
 * at one page: one request at a time may be in flight, whichever device
 * it belongs to. A queue that finds the budget spent with nothing of its
 * own in flight must be restarted by the other device's completions, so
 * every request completes with OK and its data reads back; the count
 * never approaches the 512 pages posted and is back to 0 at the end.
 */
TEST(inflight_budget_shared_by_devices)
{
	struct vblk_req *r[BUDGET_DEVS][BUDGET_REQS];
	struct vblk_dev *d[BUDGET_DEVS];
	uint64_t gpa[BUDGET_DEVS], seed = fresh_seed();
	long max_seen = 0, old_max;
	char path[64], oldbuf[32];
	unsigned int i, j, done, waited;
	int bfd;

	ASSERT_EQ(0, nullb_slow(path, sizeof(path)));
	bfd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, bfd);
	old_max = param_read("max_inflight_pages");
	ASSERT_EQ(1048576, old_max);
	ASSERT_EQ(0, param_read("inflight_pages"));
	snprintf(oldbuf, sizeof(oldbuf), "%ld", old_max);

	for (i = 0; i < BUDGET_DEVS; i++) {
		struct vblk_opts o = VBLK_OPTS_DEFAULT;

		o.mem_size = 32 << 20;
		o.num_queues = 1;
		ASSERT_EQ(0, vblk_dev_create(&d[i], &o, bfd, 0, NULL));
		ASSERT_EQ(0, vblk_alloc(d[i], BUDGET_REQS * BUDGET_LEN, 4096,
					&gpa[i]));
		for (j = 0; j < BUDGET_REQS; j++) {
			uint64_t g = gpa[i] + j * BUDGET_LEN;
			uint64_t sector = (i * BUDGET_REQS + j) * 128;

			r[i][j] = vblk_req_alloc(d[i]);
			ASSERT_NE(NULL, r[i][j]);
			vblk_pattern_fill(vblk_gpa_to_hva(d[i], g, BUDGET_LEN),
					  BUDGET_LEN, sector, seed);
			vblk_req_reset(r[i][j], VIRTIO_BLK_T_OUT, sector);
			ASSERT_EQ(0, vblk_req_add_data(d[i], r[i][j], g,
						       BUDGET_LEN));
		}
	}

	ASSERT_EQ(0, write_attr(PARAMS, "max_inflight_pages", "1"));
	for (i = 0; i < BUDGET_DEVS; i++) {
		for (j = 0; j < BUDGET_REQS; j++)
			ASSERT_LE(0, vblk_req_submit(&d[i]->vqs[0], r[i][j], 0));
	}
	for (i = 0; i < BUDGET_DEVS; i++)
		ASSERT_EQ(0, vblk_vq_kick(&d[i]->vqs[0]));
	/* Both devices' requests complete, one budget between them. */
	for (done = 0, waited = 0; waited < IO_TIMEOUT_MS; waited += 5) {
		long now = param_read("inflight_pages");

		if (now > max_seen)
			max_seen = now;
		done = 0;
		for (i = 0; i < BUDGET_DEVS; i++) {
			vblk_vq_reap(&d[i]->vqs[0], NULL, ~0U);
			for (j = 0; j < BUDGET_REQS; j++)
				done += r[i][j]->done;
		}
		if (done == BUDGET_DEVS * BUDGET_REQS)
			break;
		usleep(5000);
	}
	write_attr(PARAMS, "max_inflight_pages", oldbuf);
	EXPECT_EQ(BUDGET_DEVS * BUDGET_REQS, done);
	/*
	 * One request of 16 pages in flight, plus at most the transient
	 * charge of a refused request per device: far below 512.
	 */
	EXPECT_LE(max_seen, 16 * (1 + BUDGET_DEVS));
	for (i = 0; i < BUDGET_DEVS; i++) {
		for (j = 0; j < BUDGET_REQS; j++) {
			uint64_t sector = (i * BUDGET_REQS + j) * 128;

			EXPECT_EQ(VIRTIO_BLK_S_OK, r[i][j]->status);
			EXPECT_EQ(0, check_pattern(&d[i]->vqs[0], r[i][j],
						   gpa[i] + j * BUDGET_LEN,
						   sector, BUDGET_LEN, seed));
		}
	}
	EXPECT_EQ(0, param_read("inflight_pages"));
	for (i = 0; i < BUDGET_DEVS; i++)
		vblk_dev_destroy(d[i]);
	EXPECT_EQ(0, param_read("inflight_pages"));
	close(bfd);
}

VHOST_BLK_TEST_MAIN

/* ---- direct completion against a queue stopped half-way ---- */

/* A null_blk that holds every request for three seconds. */
#define NULLB_STALL		"vhost-blk-direct-stall"
#define STALL_MS		3000
#define STALL_NUM		8	/* ring size the queue starts with */
#define STALL_BASE		512	/* used index: 0 modulo STALL_NUM */
#define STALL_BIG_NUM		1024	/* then 512 is an entry 4 KiB on */

static int nullb_stall(char *path, size_t len)
{
	static const char *const attrs[] = {
		"size=64", "blocksize=512", "memory_backed=1", "irqmode=2",
		"completion_nsec=3000000000", "hw_queue_depth=64",
		"submit_queues=1", NULL,
	};

	return nullb_get(NULLB_STALL, attrs, path, len);
}

/* Shares the owner's mm but not its signals: GET_VRING_BASE, killed. */
static int stop_in_sibling(void *arg)
{
	struct vhost_vring_state s = { .index = 0 };

	ioctl(*(int *)arg, VHOST_GET_VRING_BASE, &s);
	_exit(0);
}

/*
 * A GET_VRING_BASE killed while a request waits on a stalled backend
 * leaves the queue stopped with the request in flight. Another task of
 * the owner's mm may then change the ring size. The request still ends
 * on the ring it was taken from (or the change is refused): never
 * through a mapping of the old ring at an index of the new size.
 */
TEST(direct_post_after_ring_resize)
{
	struct vhost_vring_state num = { .index = 0, .num = STALL_BIG_NUM };
	static char stack[64 * 1024] __attribute__((aligned(16)));
	char path[64];
	struct vblk_dev *d;
	struct vblk_req *r;
	struct vblk_vq *vq;
	uint64_t gpa;
	int bfd, head, pid, status, ret;

	if (nullb_stall(path, sizeof(path)))
		SKIP(return, "no configfs null_blk");
	bfd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, bfd);
	ASSERT_EQ(0, set_direct_param(true));
	ASSERT_EQ(0, make_dev(&d, bfd));
	ASSERT_EQ(0, vhost_blk_set_options(d->fd, VHOST_BLK_OPT_F_PIN_MEM));
	d->queue_size = STALL_NUM;
	ASSERT_EQ(0, vblk_vq_start(d, 0, STALL_BASE));
	vq = &d->vqs[0];
	r = vblk_req_alloc(d);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, vblk_alloc(d, 4096, 4096, &gpa));
	vblk_req_reset(r, VIRTIO_BLK_T_OUT, 8);
	ASSERT_EQ(0, vblk_req_add_data(d, r, gpa, 4096));
	head = vblk_req_submit(vq, r, 0);
	ASSERT_LE(0, head);
	ASSERT_EQ(0, vblk_vq_kick_force(vq));
	/* The worker took it: the backend holds it for STALL_MS. */
	usleep(300 * 1000);

	pid = clone(stop_in_sibling, stack + sizeof(stack),
		    CLONE_VM | CLONE_FILES | SIGCHLD, &d->fd);
	ASSERT_LT(0, pid);
	usleep(300 * 1000);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status));

	/*
	 * The queue is stopped, its request still in flight: its ring
	 * stays as it is.
	 */
	ret = ioctl(d->fd, VHOST_SET_VRING_NUM, &num) ? -errno : 0;
	EXPECT_EQ(-EBUSY, ret);

	/* It ends where the guest's ring of STALL_NUM entries has it. */
	for (int i = 0; i < 2 * STALL_MS / 10; i++) {
		if (le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE)) !=
		    STALL_BASE)
			break;
		usleep(10000);
	}
	EXPECT_EQ(STALL_BASE + 1, le16toh(vq->used->idx));
	EXPECT_EQ((uint32_t)head,
		  le32toh(vq->used->ring[STALL_BASE % STALL_NUM].id));
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  *(volatile uint8_t *)vblk_gpa_to_hva(d, r->status_gpa, 1));

	/* The stop now finishes; then the ring may change. */
	num.num = 0;
	EXPECT_EQ(0, ioctl(d->fd, VHOST_GET_VRING_BASE, &num));
	num.num = STALL_BIG_NUM;
	EXPECT_EQ(0, ioctl(d->fd, VHOST_SET_VRING_NUM, &num));
	vblk_dev_destroy(d);
	close(bfd);
}
