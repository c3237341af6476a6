// SPDX-License-Identifier: GPL-2.0
/*
 * ring_fuzz - a hostile virtio-blk guest for /dev/vhost-blk.
 *
 * Two devices are driven at once:
 *
 * The verified device (default /dev/ram0) has --queues queues, one thread
 * each. Every batch a thread posts valid requests (patterned writes, reads
 * checked against what was written, WRITE_ZEROES, DISCARD, FLUSH, GET_ID,
 * each with a random framing: split headers, data merged with header or
 * status, indirect tables, misaligned and region-crossing buffers)
 * interleaved with hostile chains of many kinds. For every chain a model
 * of the documented device behaviour (Documentation/vhost-blk.rst,
 * "Requests", "Security") predicts the outcome: refused (used len 0, err
 * eventfd) or accepted with a given status and used length; the number of
 * err eventfd signals of a batch is checked too. Between batches a queue
 * may see its avail index jump past the ring (it must stop, signal the
 * err eventfd, and work again after a restart) or be stopped with
 * requests in flight (every consumed chain must then be on the used
 * ring).
 *
 * Hostile chains on the verified device only point at memory the fuzzer
 * keeps apart from the valid requests: a read-only "garbage" zone whose
 * bytes all have their top bit set (so a header read from it can only
 * have an unknown type), per-chain header and sink slots, an unmapped
 * page, the gaps of the memory table and wrapping addresses. Requests a
 * hostile chain can make succeed only touch a scratch range of the disk,
 * so the data the valid requests wrote stays verifiable.
 *
 * Giant chains (K_GIANT) alias descriptors of up to 4 GiB - 1 bytes in
 * a 4 GiB range of memory that is reserved but never touched, so their
 * readable or writable part sums past 2^32, to 2^36 + 16 or to the
 * 1024 x (4 GiB - 1) maximum, or stays just below 2^32: past it the
 * model wants IOERR and no err signal whatever the type. Between rounds
 * every verified queue is stopped and a new subset of DISCARD,
 * WRITE_ZEROES and SECURE_ERASE is acked; the model and the valid
 * requests follow it (a type not acked gets UNSUPP). --no-giant and
 * --no-renegotiate leave either out.
 *
 * The chaos device (default /dev/ram1) gets what cannot be predicted:
 * random descriptor tables with random next indexes, random heads
 * (including heads in flight), random avail index jumps, and a second
 * thread that rewrites descriptors while the device walks them. Its
 * contract: nothing hangs, the device returns exactly one used entry per
 * consumed head below the ring size and never an id outside the ring.
 *
 * After every round every queue of both devices is (re)started if needed
 * and a fresh batch of valid requests must complete with correct data;
 * the read-only zones must be unchanged. A queue restarts with a
 * busy-poll timeout (up to 200 us) three times in ten.
 *
 * Output: kselftest TAP, one result per property, figures as "# " lines.
 * Exit status 0 when every property held.
 */
#include <endian.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/fs.h>

#include "vhost_blk_ctl.h"
#include "virtio_blk_drv.h"
#include "fuzz_common.h"


/* ---- arenas: memory the hostile chains of one queue point at ---- */

#define HSLOTS		32			/* hostile chains per batch */
#define GARBAGE_SIZE	(256UL << 10)		/* read-only, top bits set */
#define HDR_SLOT	(48UL << 10)		/* headers, tables */
#define SINK_SLOT	(64UL << 10)		/* device-writable */
#define OFF_HDR		GARBAGE_SIZE
#define OFF_SINK	(OFF_HDR + HSLOTS * HDR_SLOT)
#define OFF_HOLE	(OFF_SINK + HSLOTS * SINK_SLOT)
#define ARENA_SIZE	(OFF_HOLE + PAGE_SZ)	/* ends in a PROT_NONE page */
#define ARENA_GPA(q)	(0x4000000000ULL + (uint64_t)(q) * 0x1000000000ULL)
/* Two 64 KiB regions adjacent in GPA, apart in the process. */
#define XHALF		(64UL << 10)
#define XPAIR_GPA(q)	(0x2000000000ULL + (uint64_t)(q) * 0x100000000ULL)
/*
 * The giant range: 4 GiB + 64 KiB of owner memory reserved and never
 * touched but for headers and status bytes, behind two guest-physical
 * aliases that are adjacent (a buffer may cross from one into the other).
 * Aliased descriptors of up to 4 GiB - 1 bytes make chains of any total
 * up to 1024 x (4 GiB - 1) bytes.
 */
#define GIANT_SIZE	((1ULL << 32) + (64ULL << 10))
#define GIANT_GPA	0x20000000000ULL
/* Where chain @hs of queue @q keeps its header and status in the range. */
#define GIANT_OFF(q, hs)	(((uint64_t)(q) * HSLOTS + (hs)) * 32)
/* Offsets inside a header slot. */
#define HS_HDR		0
#define HS_SEGS		64
#define HS_TABLE	8192
#define HS_TABLE_MAX	((HDR_SLOT - HS_TABLE) / 16)

/* ---- requests ---- */

#define ST_OK		VIRTIO_BLK_S_OK
#define ST_IOERR	VIRTIO_BLK_S_IOERR
#define ST_UNSUPP	VIRTIO_BLK_S_UNSUPP
#define SM(s)		(1U << (s))
#define MAX_REQ_BYTES	(254ULL * 128 * 1024)
#define BOUNCE_MAX	(1ULL << 20)
#define IOV_MAX_DEV	1024
#define DISCARD_SEG_MAX	256
#define SLOT_SECTORS	128			/* verification slot: 64 KiB */
#define VSLOTS		12			/* valid requests per batch */
#define VREQ_AREA	(16 + SLOT_SECTORS * 512 + 1 + 8192)
#define VREQ_TAB	64			/* indirect entries of a valid request */
#define JUNK_N		4			/* never-posted garbage descriptors */
#define ITEMS_MAX	(HSLOTS + VSLOTS + 2)
#define SEED_UNKNOWN	0
#define SEED_ZERO	1

#define IO_TIMEOUT_MS	20000
#define PHASE_TIMEOUT_S	120

enum kind {
	K_RANDOM, K_LOOP, K_LONG, K_NEXT_OOR, K_ADDR_OUT, K_RUN_OFF, K_WRAP,
	K_IND_NESTED, K_IND_ZERO, K_IND_MISALIGN, K_IND_LOOP, K_IND_NEXT,
	K_IND_OUT, K_IND_E2BIG, K_IND_LONG, K_RAW, K_NO_STATUS, K_HEAD_OOR,
	K_BAD_TYPE, K_SHORT_HDR, K_BAD_LEN, K_PAST_END, K_TOO_BIG,
	K_BOUNCE_BIG, K_DISCARD, K_DISCARD_ATOMIC, K_BAD_DATA, K_STATUS_RO,
	K_HDR_FAULT, K_GETID, K_FLUSH_DATA, K_ODD_IO, K_GIANT,
	/* queue-level events */
	K_AVAIL_JUMP, K_STOP_LOAD,
	/* chaos device */
	C_RANDOM, C_HEAD, C_HEAD_OOR, C_JUMP, C_GOOD, C_STOP, C_SCRIBBLE,
	NKINDS
};

/* The chain kinds the verified queues pick from. */
#define K_CHAIN_LAST	K_GIANT

/* ---- configuration ---- */

static struct {
	uint64_t seed;
	uint64_t rounds;
	uint64_t batches;	/* per queue per round */
	uint64_t hostile_target;	/* stop once this many were sent */
	uint64_t time_limit;	/* seconds, 0: none */
	unsigned int queues;
	unsigned int chaos_queues;
	uint64_t chaos_pause;	/* us of sleep every 8 chaos steps */
	const char *dev;
	const char *chaos_dev;
	bool verbose;
	bool giant;		/* K_GIANT chains (not --no-giant) */
	bool renegotiate;	/* a new acked set every round */
} cfg = {
	.giant = true,
	.renegotiate = true,
	.seed = 1,
	.rounds = 8,
	.batches = 40,
	.queues = 3,
	.chaos_queues = 2,
	.chaos_pause = 1000,
	.dev = "/dev/ram0",
	.chaos_dev = "/dev/ram1",
};

static struct tap tap = TAP_INIT;
static volatile int g_abort;

/* Properties, one TAP result each. */
enum prop {
	P_VALID, P_HOSTILE, P_ERRFD, P_SPURIOUS, P_JUMP, P_STOP, P_CHAOS,
	P_VERIFY, P_RO, P_NOHANG, NPROPS
};

static const char *const prop_name[NPROPS] = {
	[P_VALID] = "valid requests mixed with hostile ones complete with correct data",
	[P_HOSTILE] = "hostile chains: refused (len 0) or failed with the documented status",
	[P_ERRFD] = "err eventfd fires once per refused chain, bad head or broken ring",
	[P_SPURIOUS] = "used ring holds only chains in flight, each once",
	[P_JUMP] = "avail index past the ring stops the queue until restarted",
	[P_STOP] = "GET_VRING_BASE under load: every consumed chain is on the used ring",
	[P_CHAOS] = "chaos device: one used entry per consumed head, ids in range, no stall",
	[P_VERIFY] = "after every round every queue serves verified I/O",
	[P_RO] = "device never writes guest memory mapped read-only",
	[P_NOHANG] = "nothing hangs",
};

static uint64_t prop_fail[NPROPS];

#define FAIL(p, fmt, ...) do {						\
	stat_add(&prop_fail[p], 1);					\
	tap_fail_msg(&tap, "[%s] seed=%" PRIu64 " " fmt, #p, cfg.seed,	\
		     ##__VA_ARGS__);					\
} while (0)

/* ---- memory of one device ---- */

enum { XR_LIB, XR_ARENA, XR_XPAIR, XR_GIANT };
enum { ACC_R = 1, ACC_W = 2 };

struct xreg {
	uint64_t gpa, size;
	uint8_t *hva;
	int type;
};

struct fq;

struct fdev {
	const char *name;
	const char *path;
	bool chaos;
	int bfd;
	struct vblk_dev *d;
	uint64_t cap;		/* sectors */
	uint64_t features;	/* GET_CONFIG features */
	uint32_t max_discard, max_wz, max_se;
	char serial[VHOST_BLK_SERIAL_LEN];
	pthread_mutex_t start_lock;	/* d->queue_size + vblk_vq_start() */
	struct xreg regs[48];
	unsigned int nregs;
	uint64_t scratch_end;	/* sectors [0, scratch_end) are scratch */
	unsigned int nq;
	struct fq *qs;
	/* chaos arena (shared by the chaos queues) */
	uint8_t *carena;
	uint64_t carena_gpa;
	uint8_t *giant;		/* GIANT_SIZE, behind two aliases */
};

static struct fdev vdev, cdev;

static const struct xreg *xfind(const struct fdev *fd, uint64_t gpa)
{
	for (unsigned int i = 0; i < fd->nregs; i++) {
		const struct xreg *r = &fd->regs[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r;
	}
	return NULL;
}

/* Access the process has to the byte at @gpa (0: none or not mapped). */
static int xacc(const struct fdev *fd, uint64_t gpa)
{
	const struct xreg *r = xfind(fd, gpa);
	uint64_t off;

	if (!r)
		return 0;
	if (r->type != XR_ARENA)
		return ACC_R | ACC_W;
	off = gpa - r->gpa;
	if (off >= OFF_HOLE)
		return 0;
	if (!fd->chaos && off < OFF_HDR)
		return ACC_R;
	return ACC_R | ACC_W;
}

/* Does every byte of [gpa, gpa + len) have access @need? In one region. */
static bool xrange_acc(const struct fdev *fd, uint64_t gpa, uint64_t len,
		       int need)
{
	const struct xreg *r = xfind(fd, gpa);
	uint64_t off, end;

	if (!len)
		return true;
	if (!r || len > r->size - (gpa - r->gpa))
		return false;
	if (r->type != XR_ARENA)
		return true;
	off = gpa - r->gpa;
	end = off + len;
	if (end > OFF_HOLE)
		return false;
	if ((need & ACC_W) && !fd->chaos && off < OFF_HDR)
		return false;
	return true;
}

static uint8_t *xhva(const struct fdev *fd, uint64_t gpa)
{
	const struct xreg *r = xfind(fd, gpa);

	return r ? r->hva + (gpa - r->gpa) : NULL;
}

/* ---- per-queue state ---- */

struct vreq {
	uint64_t area_gpa;	/* VREQ_AREA bytes, page aligned */
	uint8_t *area;
	uint64_t hdr_gpa;	/* 256 bytes: header and a segment */
	uint8_t *hdr;
	uint64_t tab_gpa;	/* VREQ_TAB descriptors */
	struct vring_desc *tab;
};

struct expect {
	bool refused_ok;
	bool accept_ok;
	unsigned int status_mask;	/* allowed statuses when accepted */
	uint32_t len_ok;		/* used len of a successful request */
	uint32_t len_err;		/* used len of a failed one */
	uint64_t in_len;		/* writable bytes of the chain */
	uint8_t *status;		/* status byte, NULL: not writable */
	int err_min, err_max;		/* err signals when accepted */
	uint32_t id_len;		/* GET_ID: serial bytes to compare */
};

/* Valid request bookkeeping. */
struct vop {
	uint32_t type;
	uint64_t sector;	/* absolute */
	uint32_t nsec;
	uint64_t seed;		/* OUT: pattern seed */
	uint8_t *data;		/* process view of the data, or NULL */
	uint64_t data_gpa;	/* data in the crossing pair if !data */
	uint32_t data_len;
	bool zeroes_unmap;
};

struct item {
	struct vblk_req r;	/* completion record for the library */
	int kind;		/* -1: valid request */
	int slot;
	uint16_t pos;		/* avail position */
	struct expect e;
	uint8_t *mark;		/* must stay 0xff when refused */
	struct vop op;
	int vslot;		/* verification slot of a valid request */
	bool discard_atomic;	/* K_DISCARD_ATOMIC: slot to re-read */
};

struct mpiece {
	uint64_t gpa, len;
	bool w;
};

/* A chain as the builders describe it, before it is written. */
#define NX_LINK		(-1)			/* the following entry */
#define NX_OWN(k)	(-1000 - (k))		/* entry k of this chain */
#define NX_JUNK(k)	(-3000 - (k))		/* a junk descriptor */

struct cdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	int next;		/* NX_* or a raw next value */
};

struct chain {
	bool indirect;
	unsigned int n;
	/* ring descriptor of an indirect chain */
	bool ind_custom;
	uint64_t ind_addr;
	uint32_t ind_len;
	uint16_t ind_flags;
	uint16_t ind_next;
	uint8_t *mark;		/* byte that must stay 0xff if refused */
	struct cdesc d[HS_TABLE_MAX];
};

struct mw {
	int err;
	bool ambig;
	unsigned int n, nr_in;
	uint64_t out_len, in_len;
	struct mpiece p[IOV_MAX_DEV + 1];
};

struct fq {
	struct fdev *fd;
	struct vblk_vq *vq;
	unsigned int index;
	unsigned int num;
	struct rng rng;
	pthread_t thread;
	uint64_t round;

	/* verified queues */
	uint8_t *arena;
	uint64_t arena_gpa;
	uint8_t *xa, *xb;	/* crossing pair halves */
	uint64_t x_gpa;
	uint64_t vsec0;		/* first sector of the verification range */
	unsigned int nslots;	/* of SLOT_SECTORS sectors */
	uint64_t *shadow;	/* per-sector seed */
	uint64_t seed_ctr;
	struct vreq vr[VSLOTS];
	struct item items[ITEMS_MAX];
	unsigned int nitems;
	uint16_t junk[JUNK_N];
	struct mw mw;
	struct chain ch;
	uint64_t *slots_busy;	/* verification slots used this batch */
	struct vblk_used used[4096];
	uint8_t *tmp;		/* SLOT_SECTORS * 512 */
	uint64_t ro_sum;

	/* chaos queues */
	uint16_t ep_start;	/* avail index at the start of the episode */
	uint16_t *pushed;	/* head pushed at each avail position */
	uint16_t *ring_shadow;	/* what the avail ring holds, by slot */
	uint64_t ep_used;	/* used entries reaped this episode */
	uint16_t acc_start;	/* positions before it are accounted for */
	uint16_t pub_end;	/* end of the positions really published */
	uint64_t acc_used;	/* ep_used at that point */
	bool ep_jumped;
	struct vblk_req **creq;	/* well-formed requests */
	unsigned int ncreq;
	uint64_t *cdata;	/* data GPAs of creq */

	/* figures */
	uint64_t sent;		/* chains and heads posted */
	uint64_t valid_ok;	/* valid requests verified */
	uint64_t verified_sectors;
	uint64_t kinds[NKINDS];
	uint64_t refused, accepted;
	uint64_t giant_direct;	/* K_GIANT chains posted without a table */
	uint64_t giant_unacked;	/* ... of a DISCARD-like type not acked */
	uint64_t err_signals;
	uint64_t used_entries;
	const char *doing;	/* for hang reports */
};

/* ---- phases ---- */

enum { PH_IDLE, PH_ACTIVE, PH_VERIFY, PH_EXIT };

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int phase;
	uint64_t gen;		/* bumped at each phase change */
	unsigned int done;	/* threads done with the current phase */
	unsigned int chaos_active;
	unsigned int verified_active;
} ph = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static int phase_wait(uint64_t *gen)
{
	int p;

	pthread_mutex_lock(&ph.lock);
	while (ph.gen == *gen)
		pthread_cond_wait(&ph.cond, &ph.lock);
	*gen = ph.gen;
	p = ph.phase;
	pthread_mutex_unlock(&ph.lock);
	return p;
}

static void phase_done(void)
{
	pthread_mutex_lock(&ph.lock);
	ph.done++;
	pthread_cond_broadcast(&ph.cond);
	pthread_mutex_unlock(&ph.lock);
}

/* ---- helpers ---- */

static inline uint16_t le16(uint16_t v)
{
	return le16toh(v);
}

static void put_hdr(uint8_t *p, uint32_t type, uint32_t ioprio,
		    uint64_t sector)
{
	struct virtio_blk_outhdr h = {
		.type = htole32(type),
		.ioprio = htole32(ioprio),
		.sector = htole64(sector),
	};

	memcpy(p, &h, sizeof(h));
}

static void put_seg(uint8_t *p, uint64_t sector, uint32_t num,
		    uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes s = {
		.sector = htole64(sector),
		.num_sectors = htole32(num),
		.flags = htole32(flags),
	};

	memcpy(p, &s, sizeof(s));
}

static uint64_t ro_checksum(const uint8_t *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const uint64_t *w = (const uint64_t *)p;

	for (size_t i = 0; i < len / 8; i++)
		h = (h ^ w[i]) * 0x100000001b3ULL;
	return h;
}

static int read_counter(int efd, uint64_t *v)
{
	ssize_t n = read(efd, v, sizeof(*v));

	if (n == sizeof(*v))
		return 0;
	*v = 0;
	return n < 0 && errno == EAGAIN ? 0 : -errno;
}

/* ---- the model: what the documentation says a chain must give ---- */

static int mw_map(const struct fdev *fd, struct mw *m, uint64_t gpa,
		  uint64_t len, bool write)
{
	if (!len) {
		/*
		 * The documentation refuses bad addresses and readable
		 * buffers after writable ones without exempting empty
		 * buffers; the device may skip them. Either is accepted.
		 */
		if ((!write && m->nr_in) || !xfind(fd, gpa))
			m->ambig = true;
		return 0;
	}
	if (gpa + (len - 1) < gpa)
		return -EFAULT;
	if (!write && m->nr_in)
		return -EINVAL;
	while (len) {
		const struct xreg *r;
		uint64_t chunk;

		if (m->n >= IOV_MAX_DEV)
			return -E2BIG;
		r = xfind(fd, gpa);
		if (!r)
			return -EFAULT;
		chunk = MIN(len, r->size - (gpa - r->gpa));
		m->p[m->n++] = (struct mpiece){ gpa, chunk, write };
		if (write) {
			m->nr_in++;
			m->in_len += chunk;
		} else {
			m->out_len += chunk;
		}
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

static void desc_read(const struct vring_desc *d, uint64_t *addr,
		      uint32_t *len, uint16_t *flags, uint16_t *next)
{
	*addr = le64toh(d->addr);
	*len = le32toh(d->len);
	*flags = le16toh(d->flags);
	*next = le16toh(d->next);
}

static int mw_indirect(const struct fdev *fd, struct mw *m, uint64_t gpa,
		       uint32_t len)
{
	const struct xreg *r;
	const struct vring_desc *t;
	unsigned int n, i, count;

	if (!len || len % 16)
		return -EINVAL;
	n = len / 16;
	if (n > 32768)
		return -E2BIG;
	r = xfind(fd, gpa);
	if (!r || len > r->size - (gpa - r->gpa))
		return -EFAULT;
	t = (const struct vring_desc *)(r->hva + (gpa - r->gpa));
	for (i = 0, count = 0;; count++) {
		uint64_t a;
		uint32_t l;
		uint16_t f, nx;
		int ret;

		if (count >= n)
			return -ELOOP;
		if (!xrange_acc(fd, gpa + 16ULL * i, 16, ACC_R))
			return -EFAULT;
		desc_read(&t[i], &a, &l, &f, &nx);
		if (f & VRING_DESC_F_INDIRECT)
			return -EINVAL;
		ret = mw_map(fd, m, a, l, f & VRING_DESC_F_WRITE);
		if (ret)
			return ret;
		if (!(f & VRING_DESC_F_NEXT))
			return 0;
		i = nx;
		if (i >= n)
			return -EINVAL;
	}
}

static void mw_walk(const struct fdev *fd, struct vblk_vq *vq, uint16_t head,
		    struct mw *m)
{
	unsigned int i = head, count;

	m->err = 0;
	m->ambig = false;
	m->n = 0;
	m->nr_in = 0;
	m->out_len = 0;
	m->in_len = 0;
	for (count = 0;; count++) {
		uint64_t a;
		uint32_t l;
		uint16_t f, nx;

		if (count >= vq->num) {
			m->err = -ELOOP;
			return;
		}
		desc_read(&vq->desc[i], &a, &l, &f, &nx);
		if (f & VRING_DESC_F_INDIRECT) {
			m->err = (f & VRING_DESC_F_NEXT) ? -EINVAL :
				 mw_indirect(fd, m, a, l);
			break;
		}
		m->err = mw_map(fd, m, a, l, f & VRING_DESC_F_WRITE);
		if (m->err || !(f & VRING_DESC_F_NEXT))
			break;
		i = nx;
		if (i >= vq->num) {
			m->err = -EINVAL;
			return;
		}
	}
	if (!m->err && !m->in_len)
		m->err = -ENOSPC;	/* no status byte */
}

/*
 * Copy bytes [skip, skip + len) of the readable (or writable) part of the
 * chain to @out. False if a byte is not accessible.
 */
static bool mw_bytes(const struct fdev *fd, const struct mw *m, bool w,
		     uint64_t skip, uint64_t len, uint8_t *out)
{
	for (unsigned int i = 0; i < m->n && len; i++) {
		const struct mpiece *p = &m->p[i];
		uint64_t n;

		if (p->w != w)
			continue;
		if (skip >= p->len) {
			skip -= p->len;
			continue;
		}
		n = MIN(len, p->len - skip);
		if (!xrange_acc(fd, p->gpa + skip, n, w ? ACC_W : ACC_R))
			return false;
		if (out) {
			memcpy(out, xhva(fd, p->gpa + skip), n);
			out += n;
		}
		len -= n;
		skip = 0;
	}
	return !len;
}

/* Is [skip, skip + len) of one part made of 512-byte aligned pieces? */
static bool mw_aligned(const struct mw *m, bool w, uint64_t skip,
		       uint64_t len)
{
	for (unsigned int i = 0; i < m->n && len; i++) {
		const struct mpiece *p = &m->p[i];
		uint64_t n;

		if (p->w != w)
			continue;
		if (skip >= p->len) {
			skip -= p->len;
			continue;
		}
		n = MIN(len, p->len - skip);
		if (((p->gpa + skip) | n) & 511)
			return false;
		len -= n;
		skip = 0;
	}
	return true;
}

/*
 * DISCARD, WRITE_ZEROES and SECURE_ERASE are served only when the backend
 * has them and the driver acked them (the acked set changes between
 * rounds).
 */
static bool discard_served(const struct fdev *fd, unsigned int bit)
{
	return fd->features & fd->d->features & (1ULL << bit);
}

static bool range_ok(const struct fdev *fd, uint64_t sector, uint64_t n)
{
	return sector <= fd->cap && n <= fd->cap - sector;
}

/* Statuses the documentation allows for a read or write of @len bytes. */
static unsigned int rw_status(const struct fdev *fd, const struct mw *m,
			      bool write, uint64_t skip, uint64_t len,
			      uint64_t sector)
{
	if (!len)
		return SM(ST_IOERR) | SM(ST_OK);	/* not specified */
	if (len % 512 || len > MAX_REQ_BYTES ||
	    !range_ok(fd, sector, len / 512))
		return SM(ST_IOERR);
	if (!mw_bytes(fd, m, !write, skip, len, NULL))
		return SM(ST_IOERR);		/* cannot be pinned */
	if (len > BOUNCE_MAX && !mw_aligned(m, !write, skip, len))
		return SM(ST_IOERR);
	return SM(ST_OK);
}

/* The feature bit of DISCARD, WRITE_ZEROES or SECURE_ERASE. */
static unsigned int discard_feature(uint32_t type)
{
	return type == VIRTIO_BLK_T_DISCARD ? VIRTIO_BLK_F_DISCARD :
	       type == VIRTIO_BLK_T_WRITE_ZEROES ? VIRTIO_BLK_F_WRITE_ZEROES :
	       VIRTIO_BLK_F_SECURE_ERASE;
}

static unsigned int discard_status(const struct fdev *fd, const struct mw *m,
			       uint32_t type, uint64_t len, bool *writes,
			       uint64_t *lo, uint64_t *hi)
{
	unsigned int bit = discard_feature(type);
	uint32_t max = type == VIRTIO_BLK_T_DISCARD ? fd->max_discard :
		       type == VIRTIO_BLK_T_WRITE_ZEROES ? fd->max_wz :
		       fd->max_se;
	static __thread uint8_t tab[(DISCARD_SEG_MAX + 1) * 16];
	unsigned int n, st = 0;

	*writes = false;
	if (!discard_served(fd, bit))
		return SM(ST_UNSUPP);
	/* @len is a 64-bit sum: bound it before it is narrowed. */
	if (!len || len % 16 || len > DISCARD_SEG_MAX * 16)
		return SM(ST_IOERR);
	n = len / 16;
	if (!mw_bytes(fd, m, false, 16, len, tab))
		return SM(ST_IOERR);
	*lo = UINT64_MAX;
	*hi = 0;
	for (unsigned int i = 0; i < n; i++) {
		struct virtio_blk_discard_write_zeroes s;
		uint32_t flags, num;
		uint64_t sector;

		memcpy(&s, tab + 16 * i, 16);
		flags = le32toh(s.flags);
		num = le32toh(s.num_sectors);
		sector = le64toh(s.sector);
		if ((flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) ||
		    (flags && type != VIRTIO_BLK_T_WRITE_ZEROES))
			st |= SM(ST_UNSUPP);
		if (num > max || !range_ok(fd, sector, num))
			st |= SM(ST_IOERR);
		if (num && range_ok(fd, sector, num)) {
			*lo = MIN(*lo, sector);
			*hi = MAX(*hi, sector + num);
		}
	}
	if (st)
		return st;
	*writes = *hi > 0;
	return SM(ST_OK);
}

/*
 * used.len: the bytes written from the first writable byte on, the
 * status byte (the last one) included when the data reaches up to it.
 */
static uint32_t used_len_of(uint64_t in_len, uint64_t data)
{
	return data == in_len - 1 ? MIN(in_len, (uint64_t)UINT32_MAX) : data;
}

/*
 * Expected outcome of the chain at @head. Returns false (and says why)
 * when the chain could make the device write outside the scratch range:
 * the caller must not post it.
 */
static bool model(const struct fdev *fd, struct fq *q, uint16_t head,
		  struct expect *e, bool scratch_only, const char **why)
{
	struct mw *m = &q->mw;
	struct virtio_blk_outhdr h;
	uint64_t sgpa, len, sector, lo = 0, hi = 0;
	const struct mpiece *last = NULL;
	bool writes = false;
	uint32_t type;

	memset(e, 0, sizeof(*e));
	mw_walk(fd, q->vq, head, m);
	if (m->err) {
		e->refused_ok = true;
		return true;
	}
	e->refused_ok = m->ambig;
	e->accept_ok = true;
	e->in_len = m->in_len;
	e->len_err = used_len_of(m->in_len, 0);
	e->len_ok = e->len_err;

	for (unsigned int i = 0; i < m->n; i++)
		if (m->p[i].w)
			last = &m->p[i];
	sgpa = last->gpa + last->len - 1;
	if (xacc(fd, sgpa) & ACC_W) {
		e->status = xhva(fd, sgpa);
	} else {
		/* Not specified: the device may or may not report it. */
		e->err_max = 1;
	}

	if (m->out_len < sizeof(h) || !mw_bytes(fd, m, false, 0, 16,
						(uint8_t *)&h)) {
		e->status_mask = SM(ST_IOERR);
		return true;
	}
	type = le32toh(h.type);
	sector = le64toh(h.sector);
	/* Either part past 2^32 - 1 bytes: IOERR, whatever the type. */
	if (m->out_len > UINT32_MAX || m->in_len > UINT32_MAX) {
		e->status_mask = SM(ST_IOERR);
		return true;
	}
	switch (type) {
	case VIRTIO_BLK_T_IN:
		len = m->in_len - 1;
		e->status_mask = rw_status(fd, m, false, 0, len, sector);
		e->len_ok = used_len_of(m->in_len, len);
		break;
	case VIRTIO_BLK_T_OUT:
		len = m->out_len - 16;
		e->status_mask = rw_status(fd, m, true, 16, len, sector);
		writes = len && (e->status_mask & SM(ST_OK));
		lo = sector;
		hi = sector + len / 512;
		break;
	case VIRTIO_BLK_T_FLUSH:
		/* A payload is not specified: accept an error too. */
		e->status_mask = SM(ST_OK) | SM(ST_IOERR);
		break;
	case VIRTIO_BLK_T_GET_ID:
		len = MIN(m->in_len - 1, VHOST_BLK_SERIAL_LEN);
		if (!mw_bytes(fd, m, true, 0, len, NULL)) {
			e->status_mask = SM(ST_IOERR);
			break;
		}
		e->status_mask = SM(ST_OK);
		e->len_ok = used_len_of(m->in_len, len);
		e->id_len = len;
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
	case VIRTIO_BLK_T_SECURE_ERASE:
		e->status_mask = discard_status(fd, m, type, m->out_len - 16,
					    &writes, &lo, &hi);
		break;
	default:
		e->status_mask = SM(ST_UNSUPP);
		break;
	}
	if (writes && scratch_only && hi > fd->scratch_end) {
		*why = "chain could write outside the scratch range";
		return false;
	}
	(void)lo;
	return true;
}

/* ---- building and posting chains ---- */

static uint64_t hslot_gpa(const struct fq *q, int k)
{
	return q->arena_gpa + OFF_HDR + (uint64_t)k * HDR_SLOT;
}

static uint8_t *hslot(const struct fq *q, int k)
{
	return q->arena + OFF_HDR + (size_t)k * HDR_SLOT;
}

static uint64_t sink_gpa(const struct fq *q, int k)
{
	return q->arena_gpa + OFF_SINK + (uint64_t)k * SINK_SLOT;
}

static uint8_t *sink(const struct fq *q, int k)
{
	return q->arena + OFF_SINK + (size_t)k * SINK_SLOT;
}

static uint64_t garbage_gpa(const struct fq *q)
{
	return q->arena_gpa;
}

static uint64_t hole_gpa(const struct fq *q)
{
	return q->arena_gpa + OFF_HOLE;
}

/* A guest-physical address in none of the regions. */
static uint64_t gap_gpa(struct fq *q)
{
	switch (rng_below(&q->rng, 5)) {
	case 0:
		return rng_below(&q->rng, 1 << 20);
	case 1:
		return q->arena_gpa + ARENA_SIZE + rng_below(&q->rng, 1 << 30);
	case 2:
		return q->arena_gpa - 1 - rng_below(&q->rng, 1 << 30);
	case 3:
		return 0x8000000000000000ULL + rng_next(&q->rng) % (1ULL << 62);
	default:
		return VBLK_GPA_BASE - 1 - rng_below(&q->rng, 1 << 20);
	}
}

static uint64_t scratch_sector(struct fq *q, uint32_t nsec)
{
	return rng_below(&q->rng, q->fd->scratch_end - nsec);
}

static void chain_reset(struct chain *c, bool indirect)
{
	c->indirect = indirect;
	c->n = 0;
	c->ind_custom = false;
	c->mark = NULL;
}

static void chain_add(struct chain *c, uint64_t addr, uint32_t len,
		      uint16_t flags)
{
	if (c->n >= HS_TABLE_MAX)
		return;
	if (c->n) {
		c->d[c->n - 1].flags |= VRING_DESC_F_NEXT;
		c->d[c->n - 1].next = NX_LINK;
	}
	c->d[c->n++] = (struct cdesc){ addr, len, flags, NX_LINK };
}

static uint16_t next_value(const struct fq *q, const uint16_t *ids, int i,
			   int next, unsigned int n, bool table)
{
	/* The last entry links back to the head: never to another chain. */
	if (next == NX_LINK)
		return i + 1 < (int)n ? (table ? i + 1 : ids[i + 1]) :
		       (table ? 0 : ids[0]);
	if (next <= -3000)
		return q->junk[(-3000 - next) % JUNK_N];
	if (next <= -1000)
		return table ? -1000 - next : ids[(-1000 - next) % n];
	return next;
}

/*
 * Write chain @c (an indirect one into the table at @tab / @tab_gpa),
 * predict its outcome and publish it. Returns the head, or -ENOSPC when
 * the ring has not enough free descriptors.
 */
static int post_chain(struct fq *q, struct item *it, struct chain *c,
		      struct vring_desc *tab, uint64_t tab_gpa,
		      bool scratch_only)
{
	struct vblk_vq *vq = q->vq;
	unsigned int nids = c->indirect ? 1 : c->n;
	uint16_t ids[512];
	const char *why = NULL;

	if (nids > ARRAY_SIZE(ids) || vq->num_free < nids + 1)
		return -ENOSPC;
	if (vblk_vq_alloc_desc(vq, nids, ids))
		return -ENOSPC;
	if (c->indirect) {
		for (unsigned int i = 0; i < c->n; i++)
			write_desc(&tab[i], c->d[i].addr, c->d[i].len,
				   c->d[i].flags,
				   next_value(q, NULL, i, c->d[i].next, c->n,
					      true));
		if (c->ind_custom)
			write_desc(&vq->desc[ids[0]], c->ind_addr, c->ind_len,
				   c->ind_flags, c->ind_next);
		else
			write_desc(&vq->desc[ids[0]], tab_gpa, c->n * 16,
				   VRING_DESC_F_INDIRECT, 0);
	} else {
		for (unsigned int i = 0; i < c->n; i++)
			write_desc(&vq->desc[ids[i]], c->d[i].addr,
				   c->d[i].len, c->d[i].flags,
				   next_value(q, ids, i, c->d[i].next, c->n,
					      false));
	}
	if (!model(q->fd, q, ids[0], &it->e, scratch_only, &why)) {
		/* A fuzzer bug, not the device's: refuse the chain. */
		FAIL(P_HOSTILE, "internal: %s (kind %d), chain neutralized",
		     why, it->kind);
		write_desc(&vq->desc[ids[0]], gap_gpa(q), 16, 0, 0);
		model(q->fd, q, ids[0], &it->e, scratch_only, &why);
	}
	it->mark = c->mark;
	if (it->mark)
		*it->mark = 0xff;
	if (it->e.status)
		*it->e.status = 0xff;
	it->pos = vq->avail_idx;
	return vblk_vq_post_raw(vq, ids, nids, &it->r);
}

/* ---- valid requests ---- */

static bool slot_busy(struct fq *q, unsigned int s)
{
	return q->slots_busy[s / 64] & (1ULL << (s % 64));
}

static void slot_take(struct fq *q, unsigned int s)
{
	q->slots_busy[s / 64] |= 1ULL << (s % 64);
}

static int pick_slot(struct fq *q)
{
	for (int tries = 0; tries < 64; tries++) {
		unsigned int s = rng_below(&q->rng, q->nslots);

		if (!slot_busy(q, s)) {
			slot_take(q, s);
			return s;
		}
	}
	return -1;
}

static void xwrite(const struct fdev *fd, uint64_t gpa, const void *src,
		   size_t len)
{
	const uint8_t *p = src;

	while (len) {
		const struct xreg *r = xfind(fd, gpa);
		size_t n = MIN(len, r->size - (gpa - r->gpa));

		memcpy(r->hva + (gpa - r->gpa), p, n);
		gpa += n;
		p += n;
		len -= n;
	}
}

static void xread(const struct fdev *fd, uint64_t gpa, void *dst, size_t len)
{
	uint8_t *p = dst;

	while (len) {
		const struct xreg *r = xfind(fd, gpa);
		size_t n = MIN(len, r->size - (gpa - r->gpa));

		memcpy(p, r->hva + (gpa - r->gpa), n);
		gpa += n;
		p += n;
		len -= n;
	}
}

/*
 * Cut the byte stream made of ranges @r[0..nr) into about @cuts pieces
 * and append them to @c with @flags.
 */
struct range {
	uint64_t gpa;
	uint64_t len;
};

static void add_stream(struct fq *q, struct chain *c, const struct range *r,
		       unsigned int nr, unsigned int cuts, uint16_t flags)
{
	for (unsigned int i = 0; i < nr; i++) {
		uint64_t gpa = r[i].gpa, left = r[i].len;

		while (left) {
			uint64_t n = left;

			if (cuts && left > 1 && rng_pct(&q->rng, 50)) {
				n = 1 + rng_below(&q->rng, left - 1);
				cuts--;
			}
			chain_add(c, gpa, n, flags);
			gpa += n;
			left -= n;
		}
	}
}

/*
 * A valid request in verification slot @vs with vreq @vi: random type,
 * range and framing. Its expectation is set here; the model must agree.
 */
static int build_valid(struct fq *q, struct item *it, int vi, int vs,
		       bool use_cross, int force_type)
{
	struct vreq *v = &q->vr[vi];
	struct chain *c = &q->ch;
	struct vop *op = &it->op;
	uint64_t base = q->vsec0 + (uint64_t)vs * SLOT_SECTORS;
	uint32_t off, nsec, r = rng_below(&q->rng, 100);
	struct range rd[3], wr[2];
	unsigned int nrd = 0, nwr = 0, cuts;
	uint64_t data_gpa, st_gpa;
	bool contig, merged, indirect;
	uint8_t *datap = NULL;
	int head, type;

	if (force_type >= 0)
		type = force_type;
	else if (r < 40)
		type = VIRTIO_BLK_T_OUT;
	else if (r < 75)
		type = VIRTIO_BLK_T_IN;
	else if (r < 82 && discard_served(q->fd, VIRTIO_BLK_F_WRITE_ZEROES))
		type = VIRTIO_BLK_T_WRITE_ZEROES;
	else if (r < 86 && discard_served(q->fd, VIRTIO_BLK_F_DISCARD))
		type = VIRTIO_BLK_T_DISCARD;
	else if (r < 93)
		type = VIRTIO_BLK_T_FLUSH;
	else
		type = VIRTIO_BLK_T_GET_ID;

	off = rng_below(&q->rng, SLOT_SECTORS);
	if (rng_pct(&q->rng, 85))
		nsec = 1 + rng_below(&q->rng, MIN(8, SLOT_SECTORS - off));
	else
		nsec = 1 + rng_below(&q->rng, SLOT_SECTORS - off);
	if (force_type >= 0) {
		off = 0;
		nsec = SLOT_SECTORS;
	}
	memset(op, 0, sizeof(*op));
	op->type = type;
	op->sector = base + off;
	op->nsec = nsec;
	it->kind = -1;
	it->vslot = vs;
	it->discard_atomic = false;

	indirect = rng_pct(&q->rng, 40);
	cuts = indirect ? rng_below(&q->rng, 12) : rng_below(&q->rng, 3);
	chain_reset(c, indirect);
	put_hdr(v->hdr, type, rng_below(&q->rng, 8), op->sector);
	v->hdr[32] = 0xff;

	if (type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_OUT) {
		op->data_len = nsec * 512;
		contig = !use_cross && rng_pct(&q->rng, 30);
		if (use_cross) {
			/* straddles the two regions of the crossing pair */
			data_gpa = q->x_gpa + XHALF - 1 -
				   rng_below(&q->rng, MIN(op->data_len, XHALF));
			op->data_gpa = data_gpa;
		} else if (contig) {
			data_gpa = v->area_gpa + rng_below(&q->rng, 4096) + 16;
		} else {
			uint32_t a = rng_below(&q->rng, 3);

			data_gpa = v->area_gpa + 4096 +
				   (a == 0 ? 0 : a == 1 ?
				    512 * rng_below(&q->rng, 8) :
				    rng_below(&q->rng, 4096));
		}
		if (!use_cross)
			datap = v->area + (data_gpa - v->area_gpa);
		op->data = datap;
		merged = rng_pct(&q->rng, 50);
		st_gpa = merged ? data_gpa + op->data_len :
			 v->hdr_gpa + 32;
		if (type == VIRTIO_BLK_T_OUT) {
			op->seed = ((q->seed_ctr++ << 8) | q->index) + 2;
			if (datap) {
				vblk_pattern_fill(datap, op->data_len,
						  op->sector, op->seed);
			} else {
				vblk_pattern_fill(q->tmp, op->data_len,
						  op->sector, op->seed);
				xwrite(q->fd, data_gpa, q->tmp, op->data_len);
			}
			if (contig) {
				put_hdr(xhva(q->fd, data_gpa - 16), type, 0,
					op->sector);
				rd[nrd++] = (struct range){ data_gpa - 16,
							    op->data_len + 16 };
			} else {
				rd[nrd++] = (struct range){ v->hdr_gpa, 16 };
				rd[nrd++] = (struct range){ data_gpa,
							    op->data_len };
			}
			wr[nwr++] = (struct range){ st_gpa, 1 };
		} else {
			if (datap)
				memset(datap, 0x5a, op->data_len);
			else
				memset(q->xa, 0x5a, XHALF), memset(q->xb, 0x5a, XHALF);
			if (contig) {
				put_hdr(xhva(q->fd, data_gpa - 16), type, 0,
					op->sector);
				rd[nrd++] = (struct range){ data_gpa - 16, 16 };
			} else {
				rd[nrd++] = (struct range){ v->hdr_gpa, 16 };
			}
			if (merged) {
				wr[nwr++] = (struct range){ data_gpa,
							    op->data_len + 1 };
			} else {
				wr[nwr++] = (struct range){ data_gpa,
							    op->data_len };
				wr[nwr++] = (struct range){ st_gpa, 1 };
			}
		}
		it->e.len_ok = type == VIRTIO_BLK_T_IN ? op->data_len + 1 : 1;
	} else if (type == VIRTIO_BLK_T_WRITE_ZEROES ||
		   type == VIRTIO_BLK_T_DISCARD) {
		op->zeroes_unmap = type == VIRTIO_BLK_T_WRITE_ZEROES &&
				rng_pct(&q->rng, 50);
		put_seg(v->hdr + 16, op->sector, nsec,
			op->zeroes_unmap ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0);
		rd[nrd++] = (struct range){ v->hdr_gpa, 32 };
		st_gpa = v->hdr_gpa + 32;
		wr[nwr++] = (struct range){ st_gpa, 1 };
		it->e.len_ok = 1;
	} else if (type == VIRTIO_BLK_T_FLUSH) {
		rd[nrd++] = (struct range){ v->hdr_gpa, 16 };
		st_gpa = v->hdr_gpa + 32;
		wr[nwr++] = (struct range){ st_gpa, 1 };
		it->e.len_ok = 1;
	} else {
		uint32_t idl = rng_pct(&q->rng, 50) ? VHOST_BLK_SERIAL_LEN :
			       rng_below(&q->rng, 48);

		data_gpa = v->area_gpa + rng_below(&q->rng, 4096);
		memset(v->area + (data_gpa - v->area_gpa), 0x5a, idl + 1);
		rd[nrd++] = (struct range){ v->hdr_gpa, 16 };
		if (rng_pct(&q->rng, 50)) {
			st_gpa = data_gpa + idl;
			wr[nwr++] = (struct range){ data_gpa, idl + 1 };
		} else {
			st_gpa = v->hdr_gpa + 32;
			if (idl)
				wr[nwr++] = (struct range){ data_gpa, idl };
			wr[nwr++] = (struct range){ st_gpa, 1 };
		}
		op->data = v->area + (data_gpa - v->area_gpa);
		op->data_len = idl;
		it->e.len_ok = idl <= VHOST_BLK_SERIAL_LEN ? idl + 1 :
			       VHOST_BLK_SERIAL_LEN;
	}

	add_stream(q, c, rd, nrd, cuts / 2, 0);
	add_stream(q, c, wr, nwr, cuts - cuts / 2, VRING_DESC_F_WRITE);
	if (!indirect && c->n + 1 > q->vq->num_free)
		return -ENOSPC;
	{
		uint32_t len_ok = it->e.len_ok;

		head = post_chain(q, it, c, v->tab, v->tab_gpa, false);
		if (head < 0)
			return head;
		/* The model must agree that this request succeeds. */
		if (!it->e.accept_ok || it->e.refused_ok ||
		    !(it->e.status_mask & SM(ST_OK)) || it->e.len_ok != len_ok)
			FAIL(P_VALID, "internal: model disagrees on valid %u "
			     "(mask %x len %u/%u refused_ok %d)", type,
			     it->e.status_mask, it->e.len_ok, len_ok,
			     it->e.refused_ok);
		it->e.status_mask = SM(ST_OK);
		it->e.len_ok = len_ok;
		it->e.refused_ok = false;
		it->e.accept_ok = true;
	}
	return head;
}

/* Check a completed valid request; update the shadow. */
static void check_valid(struct fq *q, struct item *it)
{
	struct vop *op = &it->op;
	uint8_t st = it->e.status ? *it->e.status : 0xfe;
	uint64_t rel = op->sector - q->vsec0;
	const uint8_t *data;

	if (it->r.used_len == 0 || st != ST_OK ||
	    it->r.used_len != it->e.len_ok) {
		FAIL(P_VALID, "q%u round %" PRIu64 " valid type %u sector %"
		     PRIu64 " +%u: used len %u (want %u), status %u",
		     q->index, q->round, op->type, op->sector, op->nsec,
		     it->r.used_len, it->e.len_ok, st);
		/* content unknown from now on */
		if (op->type != VIRTIO_BLK_T_IN)
			for (uint32_t i = 0; i < op->nsec; i++)
				q->shadow[rel + i] = SEED_UNKNOWN;
		return;
	}
	switch (op->type) {
	case VIRTIO_BLK_T_OUT:
		for (uint32_t i = 0; i < op->nsec; i++)
			q->shadow[rel + i] = op->seed;
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		for (uint32_t i = 0; i < op->nsec; i++)
			q->shadow[rel + i] = SEED_ZERO;
		break;
	case VIRTIO_BLK_T_DISCARD:
		for (uint32_t i = 0; i < op->nsec; i++)
			q->shadow[rel + i] = SEED_UNKNOWN;
		break;
	case VIRTIO_BLK_T_IN:
		data = op->data;
		if (!data) {
			xread(q->fd, op->data_gpa, q->tmp, op->data_len);
			data = q->tmp;
		}
		for (uint32_t i = 0; i < op->nsec; i++) {
			uint64_t seed = q->shadow[rel + i];
			const uint8_t *p = data + 512 * i;
			ssize_t bad = -1;

			if (seed == SEED_UNKNOWN)
				continue;
			if (seed == SEED_ZERO) {
				for (int b = 0; b < 512; b++)
					if (p[b]) {
						bad = b;
						break;
					}
			} else {
				bad = vblk_pattern_check(p, 512, op->sector + i,
							 seed);
			}
			if (bad >= 0) {
				FAIL(P_VALID, "q%u round %" PRIu64 " DATA "
				     "MISMATCH sector %" PRIu64 " byte %zd: "
				     "got %02x, seed %" PRIx64, q->index,
				     q->round, op->sector + i, bad, p[bad],
				     seed);
				q->shadow[rel + i] = SEED_UNKNOWN;
				return;
			}
			q->verified_sectors++;
		}
		break;
	case VIRTIO_BLK_T_GET_ID:
		if (memcmp(op->data, q->fd->serial,
			   MIN(op->data_len, VHOST_BLK_SERIAL_LEN))) {
			FAIL(P_VALID, "q%u GET_ID returned a wrong serial",
			     q->index);
			return;
		}
		break;
	}
	q->valid_ok++;
}

/* ---- hostile chains ---- */

/* A readable buffer: starts in the garbage zone, any length. */
static void rnd_readable(struct fq *q, uint64_t *addr, uint32_t *len)
{
	uint32_t r = rng_below(&q->rng, 100);

	*addr = garbage_gpa(q) + rng_below(&q->rng, GARBAGE_SIZE);
	if (r < 8)
		*len = 0;
	else if (r < 60)
		*len = 1 + rng_below(&q->rng, 64);
	else if (r < 85)
		*len = 65 + rng_below(&q->rng, 4096);
	else if (r < 95)
		*len = rng_below(&q->rng, GARBAGE_SIZE);
	else
		*len = ARENA_SIZE + rng_below(&q->rng, 1 << 30);
}

/* A writable buffer in sink slot @hs (or running off the region). */
static void rnd_writable(struct fq *q, int hs, uint64_t *addr, uint32_t *len)
{
	uint32_t off = rng_below(&q->rng, SINK_SLOT);
	uint32_t r = rng_below(&q->rng, 100);

	*addr = sink_gpa(q, hs) + off;
	if (r < 8)
		*len = 0;
	else if (r < 93)
		*len = 1 + rng_below(&q->rng, MIN(SINK_SLOT - off, r < 70 ?
						  64 : SINK_SLOT));
	else
		*len = ARENA_SIZE + rng_below(&q->rng, 1 << 30);
}

/* One random descriptor of a random chain. */
static void rnd_desc(struct fq *q, int hs, struct cdesc *d, unsigned int n,
		     bool table)
{
	uint32_t r = rng_below(&q->rng, 100);
	bool w = rng_pct(&q->rng, 50);

	if (r < 72) {
		if (w)
			rnd_writable(q, hs, &d->addr, &d->len);
		else
			rnd_readable(q, &d->addr, &d->len);
	} else if (r < 80) {
		/* writable into read-only memory, or readable garbage */
		d->addr = garbage_gpa(q) + rng_below(&q->rng, GARBAGE_SIZE);
		d->len = rng_below(&q->rng, 64);
	} else if (r < 86) {
		d->addr = hole_gpa(q) + rng_below(&q->rng, PAGE_SZ);
		d->len = 1 + rng_below(&q->rng, 64);
		d->len = MIN(d->len, q->arena_gpa + ARENA_SIZE - d->addr);
	} else if (r < 92) {
		d->addr = gap_gpa(q);
		d->len = rng_below(&q->rng, 8192);
	} else if (r < 97) {
		d->addr = UINT64_MAX - rng_below(&q->rng, 4096);
		d->len = rng_below(&q->rng, 8192);
	} else {
		d->addr = rng_nasty64(&q->rng);
		d->len = rng_nasty64(&q->rng);
		if (xfind(q->fd, d->addr))
			d->addr = gap_gpa(q);
	}
	d->flags = (w ? VRING_DESC_F_WRITE : 0) |
		   (rng_pct(&q->rng, 70) ? VRING_DESC_F_NEXT : 0);
	r = rng_below(&q->rng, 100);
	if (r < 62)
		d->next = NX_LINK;
	else if (r < 76)
		d->next = NX_OWN(rng_below(&q->rng, n));
	else if (r < 86 && !table)
		d->next = NX_JUNK(rng_below(&q->rng, JUNK_N));
	else
		d->next = (table ? n : q->num) +
			  rng_below(&q->rng, 65536 - (table ? n : q->num));
}

static void k_random(struct fq *q, struct chain *c, int hs)
{
	unsigned int n = 1 + rng_below(&q->rng, 6);

	chain_reset(c, rng_pct(&q->rng, 25));
	c->n = n;
	for (unsigned int i = 0; i < n; i++) {
		rnd_desc(q, hs, &c->d[i], n, c->indirect);
		if (!c->indirect && rng_pct(&q->rng, 4)) {
			/* an indirect table of random entries */
			uint8_t *t = hslot(q, hs) + 1024 + 512 * i;
			unsigned int m = 1 + rng_below(&q->rng, 8);

			for (unsigned int j = 0; j < m; j++) {
				struct cdesc e;

				rnd_desc(q, hs, &e, m, true);
				if (rng_pct(&q->rng, 5))
					e.flags |= VRING_DESC_F_INDIRECT;
				write_desc((struct vring_desc *)t + j, e.addr,
					   e.len, e.flags,
					   next_value(q, NULL, j, e.next, m,
						      true));
			}
			c->d[i].addr = hslot_gpa(q, hs) + 1024 + 512 * i;
			c->d[i].len = rng_pct(&q->rng, 80) ? m * 16 :
				      rng_below(&q->rng, 200);
			c->d[i].flags = VRING_DESC_F_INDIRECT |
					(rng_pct(&q->rng, 20) ?
					 VRING_DESC_F_NEXT : 0);
		} else if (c->indirect && rng_pct(&q->rng, 3)) {
			c->d[i].flags |= VRING_DESC_F_INDIRECT;
		}
	}
}

/* [hdr][data nsec W in sink][status W]: a valid read of scratch. */
static void good_read(struct fq *q, struct chain *c, int hs, uint32_t nsec)
{
	uint64_t hdr = hslot_gpa(q, hs) + HS_HDR;
	uint64_t data = sink_gpa(q, hs);

	put_hdr(hslot(q, hs) + HS_HDR, VIRTIO_BLK_T_IN, 0,
		scratch_sector(q, nsec));
	chain_add(c, hdr, 16, 0);
	chain_add(c, data, nsec * 512, VRING_DESC_F_WRITE);
	chain_add(c, data + nsec * 512, 1, VRING_DESC_F_WRITE);
	c->mark = sink(q, hs) + nsec * 512;
}

/* Readable garbage buffers of @len bytes in pieces of at most @piece. */
static void add_garbage(struct fq *q, struct chain *c, uint64_t len,
			uint32_t piece, uint32_t misalign)
{
	while (len) {
		uint32_t n = MIN(len, piece);

		chain_add(c, garbage_gpa(q) + misalign, n, 0);
		len -= n;
	}
}

/* The data buffers of a request of @len bytes (@w: device writes). */
static void add_data(struct fq *q, struct chain *c, int hs, uint64_t len,
		     bool w, uint32_t misalign)
{
	if (!w) {
		add_garbage(q, c, len, GARBAGE_SIZE - misalign, misalign);
		return;
	}
	while (len) {
		uint32_t n = MIN(len, SINK_SLOT - 512);

		chain_add(c, sink_gpa(q, hs) + misalign, n,
			  VRING_DESC_F_WRITE);
		len -= n;
	}
}

static uint32_t bad_type(struct rng *r)
{
	static const uint32_t t[] = {
		2, 3, 5, 6, 7, 9, 10, 12, 15, 16, 17, 18, 19, 20, 24, 25,
		0x80000000, 0x80000001, 0x7fffffff, 0xffffffff, 0x100, 0x101,
	};

	return rng_pct(r, 50) ? t[rng_below(r, ARRAY_SIZE(t))] :
	       (uint32_t)rng_next(r) | 0x1000;
}

/*
 * K_GIANT: header, payload and status, with the part holding the payload
 * summing to just below 2^32 bytes, 2^32, 2^32 + 16, 2^36 + 16, anything
 * up to 1024 x (2^32 - 1) or exactly that (header and status inside the
 * descriptors then), of aliased descriptors in the giant range; any type,
 * direct where the ring has room, and now and then one descriptor more
 * than the device takes after region splits. All past 2^32 - 1 bytes
 * must fail with IOERR and no err signal; below, the usual rules apply.
 */
static uint32_t k_giant(struct fq *q, struct chain *c, int hs)
{
	static const uint32_t types[] = {
		VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH,
		VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_DISCARD,
		VIRTIO_BLK_T_WRITE_ZEROES, VIRTIO_BLK_T_SECURE_ERASE, 0x1000,
	};
	struct fdev *fd = q->fd;
	uint32_t type = types[rng_below(&q->rng, ARRAY_SIZE(types))];
	uint64_t off = GIANT_OFF(q->index, hs);
	uint64_t sector = scratch_sector(q, 8), lead, rest, piece, split = 0;
	uint16_t pf;
	uint32_t r = rng_below(&q->rng, 100);
	bool w;

	/* The payload goes where the type wants it, mostly. */
	w = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	if (rng_pct(&q->rng, 10))
		w = !w;
	pf = w ? VRING_DESC_F_WRITE : 0;
	/* Walking 1024 descriptors is dear under TCG: not too often. */
	if (r < 8 || rng_pct(&q->rng, 3)) {
		/*
		 * 1024 descriptors of 2^32 - 1 bytes: the header the first
		 * 16 bytes of the first, the status the last byte of the
		 * last; or one descriptor more, crossing the aliases.
		 */
		unsigned int nr = 1 + rng_below(&q->rng, IOV_MAX_DEV - 1);
		bool over = r >= 8;

		put_hdr(fd->giant + off, type, 0, sector);
		for (unsigned int i = 0; i < IOV_MAX_DEV; i++) {
			uint64_t a = GIANT_GPA + off +
				     (rng_pct(&q->rng, 50) ? GIANT_SIZE : 0);

			if (over && i == IOV_MAX_DEV / 2)
				a = GIANT_GPA + GIANT_SIZE - 1 -
				    rng_below(&q->rng, 1 << 20);
			chain_add(c, a, UINT32_MAX,
				  i < nr ? 0 : VRING_DESC_F_WRITE);
		}
		c->d[IOV_MAX_DEV - 1].addr = GIANT_GPA + off;
		c->mark = fd->giant + off + UINT32_MAX - 1;
		c->indirect = true;
		return type;
	}

	if (r < 35)		/* that part exactly 2^32 - 1, or a bit less */
		rest = UINT32_MAX - (w ? 1 : 16) - rng_below(&q->rng, 2) *
		       rng_below(&q->rng, 4096);
	else if (r < 60)
		rest = (1ULL << 32) + 16 * rng_below(&q->rng, 2);
	else if (r < 85)
		rest = (1ULL << 36) + 16;
	else
		rest = (1ULL << 32) + rng_next(&q->rng) %
		       ((rng_pct(&q->rng, 30) ? 1000 : 30) *
			(uint64_t)UINT32_MAX - (1ULL << 32));
	/* 256 MiB pieces as in the report of the overflow, or larger. */
	r = rng_below(&q->rng, 100);
	piece = r < 10 ? 256ULL << 20 : r < 80 ? UINT32_MAX :
		(256ULL << 20) + rng_below(&q->rng, UINT32_MAX - (256U << 20));
	if (rest / piece > 1000)
		piece = UINT32_MAX;

	put_hdr(hslot(q, hs) + HS_HDR, type, 0, sector);
	chain_add(c, hslot_gpa(q, hs) + HS_HDR, 16, 0);
	/*
	 * A first payload buffer in ordinary memory, as a guest would; a
	 * writable one holds the whole serial of a GET_ID below 2^32, which
	 * must not reach the giant range (other chains keep headers there).
	 */
	lead = 1 + rng_below(&q->rng, 8192);
	if (w) {
		lead = MAX(lead, (uint64_t)VHOST_BLK_SERIAL_LEN);
		memset(sink(q, hs), 0x5a, lead);
		chain_add(c, sink_gpa(q, hs), lead, pf);
	} else {
		chain_add(c, garbage_gpa(q), lead, pf);
	}
	rest -= lead;
	if (rng_pct(&q->rng, 10))
		split = 1 + rng_below(&q->rng, 1 << 20);
	while (rest) {
		uint64_t n = MIN(rest, piece);
		uint64_t a = GIANT_GPA + (rng_pct(&q->rng, 50) ? GIANT_SIZE : 0);

		/* One buffer crosses from one alias into the other. */
		if (split && split < n) {
			a = GIANT_GPA + GIANT_SIZE - split;
			split = 0;
		}
		chain_add(c, a, n, pf);
		rest -= n;
	}
	chain_add(c, sink_gpa(q, hs) + SINK_SLOT - 1, 1, VRING_DESC_F_WRITE);
	c->mark = sink(q, hs) + SINK_SLOT - 1;
	c->indirect = c->n > q->num / 4 || rng_pct(&q->rng, 60);
	return type;
}

/*
 * struct hostile_slot - where a hostile chain is built: hostile slot @hs of
 * the queue, its header area (@hdr, at @hdrp in this process), its table
 * area (@tab) and its sink (@sk, at @skp).
 */
struct hostile_slot {
	int kind;
	int hs;
	struct item *it;
	uint64_t hdr, tab, sk;		/* GPAs */
	uint8_t *hdrp, *skp;
	uint32_t giant_type;		/* set by build_giant() */
};

/* A builder's return: it published on the avail ring itself, no chain. */
#define HB_POSTED	1

static int build_random(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	k_random(q, c, s->hs);
	return 0;
}

static int build_loop(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	uint32_t i;

	good_read(q, c, s->hs, 1);
	i = rng_below(&q->rng, 3);
	c->d[2].flags |= VRING_DESC_F_NEXT;
	c->d[2].next = NX_OWN(i);
	if (rng_pct(&q->rng, 30)) {
		c->n = 1;
		c->d[0].flags |= VRING_DESC_F_NEXT;
		c->d[0].next = NX_OWN(0);
	}
	return 0;
}

static int build_long(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	uint32_t n, i;

	(void)s;
	n = 2 + rng_below(&q->rng, MIN(q->num, 200));
	n = MIN(n, q->vq->num_free > 12 ? q->vq->num_free - 10 : 1);
	for (i = 0; i < n; i++)
		chain_add(c, garbage_gpa(q) + 64 * i, 16, 0);
	c->d[n - 1].flags |= VRING_DESC_F_NEXT;
	c->d[n - 1].next = NX_OWN(rng_below(&q->rng, n));
	return 0;
}

static int build_next_oor(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	uint32_t i;

	good_read(q, c, s->hs, 1);
	i = rng_below(&q->rng, 3);
	c->d[i].flags |= VRING_DESC_F_NEXT;
	c->d[i].next = q->num + rng_below(&q->rng, 65536 - q->num);
	return 0;
}

static int build_addr_out(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	good_read(q, c, s->hs, 1);
	c->d[rng_below(&q->rng, 3)].addr = gap_gpa(q);
	return 0;
}

static int build_run_off(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	uint32_t i;

	good_read(q, c, s->hs, 1);
	i = rng_below(&q->rng, 3);
	c->d[i].len = q->arena_gpa + ARENA_SIZE - c->d[i].addr + 1 +
		      rng_below(&q->rng, 1 << 20);
	return 0;
}

static int build_wrap(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	uint32_t i;

	good_read(q, c, s->hs, 1);
	i = rng_below(&q->rng, 3);
	c->d[i].addr = UINT64_MAX - rng_below(&q->rng, 1024);
	c->d[i].len = (uint32_t)(UINT64_MAX - c->d[i].addr) + 2 +
		      rng_below(&q->rng, 4096);
	return 0;
}

/*
 * The indirect-table kinds: a valid read of 1-4 sectors through a table at
 * the slot's table area, which each kind then breaks in its own way.
 */
static void ind_table(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	good_read(q, c, s->hs, 1 + rng_below(&q->rng, 4));
	c->indirect = true;
	c->ind_custom = true;
	c->ind_addr = s->tab;
	c->ind_len = c->n * 16;
	c->ind_flags = VRING_DESC_F_INDIRECT;
	c->ind_next = 0;
}

static int build_ind_nested(struct fq *q, struct chain *c,
			    struct hostile_slot *s)
{
	uint32_t i;

	ind_table(q, c, s);
	i = rng_below(&q->rng, c->n);
	c->d[i].flags |= VRING_DESC_F_INDIRECT;
	c->d[i].addr = s->tab;
	c->d[i].len = c->n * 16;
	return 0;
}

static int build_ind_zero(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	ind_table(q, c, s);
	c->ind_len = 0;
	return 0;
}

static int build_ind_misalign(struct fq *q, struct chain *c,
			      struct hostile_slot *s)
{
	ind_table(q, c, s);
	c->ind_len += rng_pct(&q->rng, 50) ? 1 + rng_below(&q->rng, 15) :
		      -(1 + rng_below(&q->rng, 15));
	return 0;
}

static int build_ind_loop(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	ind_table(q, c, s);
	c->d[c->n - 1].flags |= VRING_DESC_F_NEXT;
	c->d[c->n - 1].next = NX_OWN(rng_below(&q->rng, c->n));
	return 0;
}

static int build_ind_next(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	ind_table(q, c, s);
	c->ind_flags |= VRING_DESC_F_NEXT;
	c->ind_next = rng_below(&q->rng, q->num);
	return 0;
}

static int build_ind_out(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	ind_table(q, c, s);
	switch (rng_below(&q->rng, 3)) {
	case 0:
		c->ind_addr = gap_gpa(q);
		break;
	case 1:	/* runs off the end of the arena */
		c->ind_addr = q->arena_gpa + ARENA_SIZE -
			      16 * rng_below(&q->rng, c->n);
		break;
	default:
		c->ind_addr = UINT64_MAX - 15 - 16 * rng_below(&q->rng, 4);
		break;
	}
	return 0;
}

static int build_ind_e2big(struct fq *q, struct chain *c,
			   struct hostile_slot *s)
{
	uint32_t n, i;

	c->indirect = true;
	put_hdr(s->hdrp, VIRTIO_BLK_T_OUT, 0, scratch_sector(q, 8));
	chain_add(c, s->hdr, 16, 0);
	n = IOV_MAX_DEV + 1 + rng_below(&q->rng, 600);
	for (i = 0; i < n - 2; i++)
		chain_add(c, garbage_gpa(q) + i, 1, 0);
	chain_add(c, s->sk, 1, VRING_DESC_F_WRITE);
	c->mark = s->skp;
	return 0;
}

static int build_ind_long(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	uint32_t n, i;

	c->indirect = true;
	put_hdr(s->hdrp, VIRTIO_BLK_T_OUT, 0, scratch_sector(q, 8));
	n = 1 + rng_below(&q->rng, 3);
	/* the header in single bytes, the data in pairs */
	for (i = 0; i < 16; i++)
		chain_add(c, s->hdr + i, 1, 0);
	for (i = 0; i < n * 256; i++)
		chain_add(c, garbage_gpa(q) + 2 * i, 2, 0);
	chain_add(c, s->sk, 1, VRING_DESC_F_WRITE);
	return 0;
}

static int build_raw(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	good_read(q, c, s->hs, 1);
	/* a readable buffer after the first writable one */
	c->n = 2;
	chain_add(c, garbage_gpa(q), 1 + rng_below(&q->rng, 600), 0);
	chain_add(c, s->sk + 4096, 1, VRING_DESC_F_WRITE);
	if (rng_pct(&q->rng, 50))
		c->indirect = true;
	return 0;
}

static int build_no_status(struct fq *q, struct chain *c,
			   struct hostile_slot *s)
{
	put_hdr(s->hdrp, VIRTIO_BLK_T_OUT, 0, scratch_sector(q, 1));
	chain_add(c, s->hdr, 16, 0);
	if (rng_pct(&q->rng, 70))
		chain_add(c, garbage_gpa(q), 512, 0);
	c->indirect = rng_pct(&q->rng, 40);
	return 0;
}

/* No chain: a head >= num on the avail ring. */
static int build_head_oor(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	(void)c;
	(void)s;
	vblk_vq_push_avail(q->vq, q->num + rng_below(&q->rng, 65536 - q->num));
	return HB_POSTED;
}

static int build_bad_type(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	good_read(q, c, s->hs, 1);
	put_hdr(s->hdrp, bad_type(&q->rng), rng_below(&q->rng, 8),
		rng_nasty64(&q->rng));
	c->indirect = rng_pct(&q->rng, 40);
	return 0;
}

static int build_short_hdr(struct fq *q, struct chain *c,
			   struct hostile_slot *s)
{
	uint32_t n;

	put_hdr(s->hdrp, VIRTIO_BLK_T_IN, 0, scratch_sector(q, 1));
	n = rng_below(&q->rng, 16);
	if (n > 1 && rng_pct(&q->rng, 50)) {
		chain_add(c, s->hdr, n / 2, 0);
		chain_add(c, s->hdr + n / 2, n - n / 2, 0);
	} else if (n) {
		chain_add(c, s->hdr, n, 0);
	}
	chain_add(c, s->sk, 512 + 1, VRING_DESC_F_WRITE);
	c->mark = s->skp + 512;
	c->indirect = rng_pct(&q->rng, 40);
	return 0;
}

static int build_bad_len(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	uint32_t i;
	uint64_t len;

	do {
		len = rng_pct(&q->rng, 70) ?
		      rng_below(&q->rng, 5000) :
		      rng_below(&q->rng, 60000);
	} while (len % 512 == 0 && len);
	i = rng_pct(&q->rng, 50);	/* write? */
	put_hdr(s->hdrp, i ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, 0,
		scratch_sector(q, 128));
	chain_add(c, s->hdr, 16, 0);
	c->indirect = true;
	add_data(q, c, s->hs, len, !i, 0);
	chain_add(c, s->sk + SINK_SLOT - 1, 1, VRING_DESC_F_WRITE);
	c->mark = s->skp + SINK_SLOT - 1;
	return 0;
}

static int build_past_end(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	static const uint64_t far[] = {
		0x8000000000000000ULL, UINT64_MAX, UINT64_MAX - 1,
		0x7fffffffffffffffULL, 1ULL << 55, 1ULL << 32,
	};
	uint32_t nsec, i;
	uint64_t sec;

	nsec = 1 + rng_below(&q->rng, 16);
	switch (rng_below(&q->rng, 4)) {
	case 0:
		sec = q->fd->cap;
		break;
	case 1:
		sec = q->fd->cap - rng_below(&q->rng, nsec);
		break;
	case 2:
		sec = q->fd->cap + rng_below(&q->rng, 1 << 20);
		break;
	default:
		sec = far[rng_below(&q->rng, ARRAY_SIZE(far))];
		break;
	}
	i = rng_pct(&q->rng, 50);
	put_hdr(s->hdrp, i ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, 0, sec);
	chain_add(c, s->hdr, 16, 0);
	add_data(q, c, s->hs, nsec * 512, !i, 0);
	chain_add(c, s->sk + SINK_SLOT - 1, 1, VRING_DESC_F_WRITE);
	c->mark = s->skp + SINK_SLOT - 1;
	c->indirect = rng_pct(&q->rng, 50);
	return 0;
}

static int build_too_big(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	uint32_t n, i;
	uint64_t len;

	i = rng_pct(&q->rng, 50);
	put_hdr(s->hdrp, i ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, 0,
		scratch_sector(q, 8));
	c->indirect = true;
	chain_add(c, s->hdr, 16, 0);
	len = MAX_REQ_BYTES + 512 * (1 + rng_below(&q->rng, 2048));
	if (i)
		add_data(q, c, s->hs, len, false, 0);
	else
		while (len) {
			n = MIN(len, 60 << 10);
			chain_add(c, s->sk, n, VRING_DESC_F_WRITE);
			len -= n;
		}
	chain_add(c, s->sk + SINK_SLOT - 1, 1, VRING_DESC_F_WRITE);
	c->mark = s->skp + SINK_SLOT - 1;
	return 0;
}

static int build_bounce_big(struct fq *q, struct chain *c,
			    struct hostile_slot *s)
{
	uint32_t n, i;
	uint64_t len;

	/* above 1 MiB: misaligned must fail, aligned may work */
	i = rng_pct(&q->rng, 50);
	n = rng_pct(&q->rng, 75) ? 1 + rng_below(&q->rng, 511) : 0;
	len = BOUNCE_MAX + 512 * (1 + rng_below(&q->rng, 2048));
	put_hdr(s->hdrp, i ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, 0,
		scratch_sector(q, len / 512));
	c->indirect = true;
	chain_add(c, s->hdr, 16, 0);
	add_data(q, c, s->hs, len, !i, n);
	chain_add(c, s->sk + SINK_SLOT - 1, 1, VRING_DESC_F_WRITE);
	c->mark = s->skp + SINK_SLOT - 1;
	return 0;
}

/* K_DISCARD and K_DISCARD_ATOMIC. */
static int build_discard(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	static const uint32_t types[] = {
		VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES,
		VIRTIO_BLK_T_SECURE_ERASE,
	};
	uint32_t type = types[rng_below(&q->rng, 3)];
	uint8_t *t = hslot(q, s->hs) + HS_SEGS;
	uint32_t tlen, n, i;
	int vs = -1;

	n = rng_pct(&q->rng, 80) ? 1 + rng_below(&q->rng, 4) :
	    rng_below(&q->rng, DISCARD_SEG_MAX + 40);
	if (s->kind == K_DISCARD_ATOMIC) {
		vs = pick_slot(q);
		if (vs < 0)
			return -ENOSPC;
		type = rng_pct(&q->rng, 50) ? VIRTIO_BLK_T_DISCARD :
		       VIRTIO_BLK_T_WRITE_ZEROES;
		n = 2 + rng_below(&q->rng, 3);
	}
	for (i = 0; i < n; i++) {
		uint64_t sec = scratch_sector(q, 64);
		uint32_t num = rng_below(&q->rng, 64), fl = 0;
		uint32_t r = rng_below(&q->rng, 100);

		if (r < 10) {
			fl = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
		} else if (r < 16) {
			fl = (uint32_t)rng_next(&q->rng);
		} else if (r < 24) {
			/* runs past the end */
			sec = q->fd->cap - rng_below(&q->rng, 8);
			num = q->fd->cap - sec + 1 + rng_below(&q->rng, 8);
		} else if (r < 30) {
			sec = rng_nasty64(&q->rng);
			if (sec < q->fd->cap)
				sec = q->fd->cap + sec % 4096;
		} else if (r < 36) {
			num = rng_pct(&q->rng, 50) ? UINT32_MAX :
			      (uint32_t)rng_next(&q->rng);
		}
		put_seg(t + 16 * i, sec, num, fl);
	}
	if (s->kind == K_DISCARD_ATOMIC) {
		/* one valid segment in a verified slot ... */
		put_seg(t, q->vsec0 + (uint64_t)vs * SLOT_SECTORS,
			SLOT_SECTORS, 0);
		/* ... and one that must make the whole table fail */
		i = 1 + rng_below(&q->rng, n - 1);
		if (rng_pct(&q->rng, 50))
			put_seg(t + 16 * i, q->fd->cap - 1, 2, 0);
		else
			put_seg(t + 16 * i, scratch_sector(q, 8), 8,
				type == VIRTIO_BLK_T_DISCARD ?
				VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP :
				2 << rng_below(&q->rng, 30));
		s->it->vslot = vs;
		s->it->discard_atomic = true;
	}
	tlen = 16 * n;
	if (s->kind == K_DISCARD && rng_pct(&q->rng, 15))
		tlen = rng_below(&q->rng, 16 * n + 16);
	put_hdr(s->hdrp, type, 0, rng_nasty64(&q->rng));
	chain_add(c, s->hdr, 16, 0);
	if (tlen > 1 && rng_pct(&q->rng, 30)) {
		uint32_t cut = 1 + rng_below(&q->rng, tlen - 1);

		chain_add(c, s->hdr + HS_SEGS, cut, 0);
		chain_add(c, s->hdr + HS_SEGS + cut, tlen - cut, 0);
	} else if (tlen) {
		chain_add(c, s->hdr + HS_SEGS, tlen, 0);
	}
	chain_add(c, s->sk, 1, VRING_DESC_F_WRITE);
	c->mark = s->skp;
	c->indirect = rng_pct(&q->rng, 30);
	return 0;
}

static int build_bad_data(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	uint32_t nsec, i;

	i = rng_pct(&q->rng, 50);
	put_hdr(s->hdrp, i ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, 0,
		scratch_sector(q, 8));
	chain_add(c, s->hdr, 16, 0);
	nsec = 1 + rng_below(&q->rng, 8);
	if (i || rng_pct(&q->rng, 40)) {
		/* the hole page; a write straddles it from below */
		uint64_t a = !i || rng_pct(&q->rng, 50) ? hole_gpa(q) :
			     hole_gpa(q) - 512 * rng_below(&q->rng, 2) -
			     512;

		chain_add(c, a, MIN(nsec * 512, q->arena_gpa +
				    ARENA_SIZE - a), i ? 0 :
			  VRING_DESC_F_WRITE);
	} else {
		/* read-only memory the device must not write */
		chain_add(c, garbage_gpa(q) + 512 *
			  rng_below(&q->rng, 64), nsec * 512,
			  VRING_DESC_F_WRITE);
	}
	chain_add(c, s->sk, 1, VRING_DESC_F_WRITE);
	c->mark = s->skp;
	c->indirect = rng_pct(&q->rng, 30);
	return 0;
}

static int build_status_ro(struct fq *q, struct chain *c,
			   struct hostile_slot *s)
{
	if (rng_pct(&q->rng, 50)) {
		good_read(q, c, s->hs, 1);
		c->n = 2;
	} else {
		put_hdr(s->hdrp, VIRTIO_BLK_T_FLUSH, 0, 0);
		chain_add(c, s->hdr, 16, 0);
	}
	chain_add(c, rng_pct(&q->rng, 50) ? hole_gpa(q) +
		  rng_below(&q->rng, PAGE_SZ) :
		  garbage_gpa(q) + rng_below(&q->rng, GARBAGE_SIZE),
		  1, VRING_DESC_F_WRITE);
	c->mark = NULL;
	return 0;
}

static int build_hdr_fault(struct fq *q, struct chain *c,
			   struct hostile_slot *s)
{
	put_hdr(s->hdrp, VIRTIO_BLK_T_IN, 0, scratch_sector(q, 1));
	chain_add(c, hole_gpa(q) + 16 * rng_below(&q->rng, 200), 16, 0);
	chain_add(c, s->sk, 513, VRING_DESC_F_WRITE);
	c->mark = s->skp + 512;
	return 0;
}

static int build_getid(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	uint64_t len;

	put_hdr(s->hdrp, VIRTIO_BLK_T_GET_ID, (uint32_t)rng_next(&q->rng),
		rng_nasty64(&q->rng));
	chain_add(c, s->hdr, 16, 0);
	len = rng_below(&q->rng, 70);
	memset(s->skp, 0x5a, len + 1);
	if (len > 2 && rng_pct(&q->rng, 50)) {
		uint32_t cut = 1 + rng_below(&q->rng, len - 1);

		chain_add(c, s->sk, cut, VRING_DESC_F_WRITE);
		chain_add(c, s->sk + cut, len - cut + 1,
			  VRING_DESC_F_WRITE);
	} else {
		chain_add(c, s->sk, len + 1, VRING_DESC_F_WRITE);
	}
	c->indirect = rng_pct(&q->rng, 30);
	return 0;
}

static int build_flush_data(struct fq *q, struct chain *c,
			    struct hostile_slot *s)
{
	put_hdr(s->hdrp, VIRTIO_BLK_T_FLUSH, (uint32_t)rng_next(&q->rng),
		rng_nasty64(&q->rng));
	chain_add(c, s->hdr, 16, 0);
	if (rng_pct(&q->rng, 50))
		chain_add(c, garbage_gpa(q), rng_below(&q->rng, 4096),
			  0);
	if (rng_pct(&q->rng, 50))
		chain_add(c, s->sk + 1, rng_below(&q->rng, 4096),
			  VRING_DESC_F_WRITE);
	chain_add(c, s->sk, 1, VRING_DESC_F_WRITE);
	return 0;
}

static int build_giant(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	s->giant_type = k_giant(q, c, s->hs);
	return 0;
}

/* Count what the giant chain just posted was. */
static void giant_posted(struct fq *q, struct hostile_slot *s)
{
	uint32_t t = s->giant_type;

	q->giant_direct += !q->ch.indirect;
	q->giant_unacked += (t == VIRTIO_BLK_T_DISCARD ||
			     t == VIRTIO_BLK_T_WRITE_ZEROES ||
			     t == VIRTIO_BLK_T_SECURE_ERASE) &&
			    !vblk_dev_has_feature(q->fd->d, discard_feature(t));
}

static int build_odd_io(struct fq *q, struct chain *c, struct hostile_slot *s)
{
	uint32_t nsec, n, i;
	uint64_t len;

	i = rng_pct(&q->rng, 50);
	nsec = 1 + rng_below(&q->rng, 64);
	put_hdr(s->hdrp, i ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, 0,
		scratch_sector(q, nsec));
	n = rng_below(&q->rng, 8);
	chain_add(c, s->hdr, n ? n : 16, 0);
	if (n)
		chain_add(c, s->hdr + n, 16 - n, 0);
	if (i) {
		len = nsec * 512;
		while (len) {
			uint32_t p = MIN(len, 512 + rng_below(&q->rng,
							      8192));

			chain_add(c, garbage_gpa(q) +
				  rng_below(&q->rng, 8192), p, 0);
			len -= p;
		}
		chain_add(c, s->sk, 1, VRING_DESC_F_WRITE);
	} else {
		n = rng_pct(&q->rng, 50) ? 0 :
		    rng_below(&q->rng, 512);
		chain_add(c, s->sk + n, nsec * 512 + 1,
			  VRING_DESC_F_WRITE);
	}
	c->indirect = rng_pct(&q->rng, 40) || c->n > 8;
	return 0;
}

/*
 * Every kind: its name in the report and, for the chain kinds, how to build
 * it. A builder fills q->ch (descriptors, whether indirect, the byte that
 * must stay untouched) for build_hostile() to post, and returns 0,
 * HB_POSTED or -ENOSPC (no verified slot free). Adding a kind is one entry
 * here and its name in enum kind; pick_kind() draws K_RANDOM a fifth of the
 * time and the other chain kinds up to K_CHAIN_LAST uniformly (K_GIANT a
 * quarter as often).
 */
static const struct kind_desc {
	const char *name;
	int (*build)(struct fq *q, struct chain *c, struct hostile_slot *s);
	/* after the chain was posted */
	void (*posted)(struct fq *q, struct hostile_slot *s);
	bool long_direct;	/* may stay direct above 16 descriptors */
	bool benign;		/* not hostile input: counted apart */
} kind_table[NKINDS] = {
	[K_RANDOM] = {
		.name = "random descriptor table",
		.build = build_random,
	},
	[K_LOOP] = {
		.name = "looping chain",
		.build = build_loop,
	},
	[K_LONG] = {
		.name = "chain longer than the ring",
		.build = build_long,
		.long_direct = true,
	},
	[K_NEXT_OOR] = {
		.name = "next out of range",
		.build = build_next_oor,
	},
	[K_ADDR_OUT] = {
		.name = "address outside the memory table",
		.build = build_addr_out,
	},
	[K_RUN_OFF] = {
		.name = "buffer running off its region",
		.build = build_run_off,
	},
	[K_WRAP] = {
		.name = "wrapping address",
		.build = build_wrap,
	},
	[K_IND_NESTED] = {
		.name = "nested indirect table",
		.build = build_ind_nested,
	},
	[K_IND_ZERO] = {
		.name = "zero-length indirect table",
		.build = build_ind_zero,
	},
	[K_IND_MISALIGN] = {
		.name = "indirect length not a multiple of 16",
		.build = build_ind_misalign,
	},
	[K_IND_LOOP] = {
		.name = "looping indirect table",
		.build = build_ind_loop,
	},
	[K_IND_NEXT] = {
		.name = "indirect descriptor with NEXT",
		.build = build_ind_next,
	},
	[K_IND_OUT] = {
		.name = "indirect table outside memory",
		.build = build_ind_out,
	},
	[K_IND_E2BIG] = {
		.name = "more than 1024 buffers",
		.build = build_ind_e2big,
	},
	[K_IND_LONG] = {
		.name = "indirect table longer than the ring (valid)",
		.build = build_ind_long,
		.benign = true,
	},
	[K_RAW] = {
		.name = "readable after writable",
		.build = build_raw,
	},
	[K_NO_STATUS] = {
		.name = "no writable buffer",
		.build = build_no_status,
	},
	[K_HEAD_OOR] = {
		.name = "avail head >= num",
		.build = build_head_oor,
	},
	[K_BAD_TYPE] = {
		.name = "garbage request type",
		.build = build_bad_type,
	},
	[K_SHORT_HDR] = {
		.name = "short header",
		.build = build_short_hdr,
	},
	[K_BAD_LEN] = {
		.name = "length not a multiple of 512",
		.build = build_bad_len,
	},
	[K_PAST_END] = {
		.name = "sector past the end",
		.build = build_past_end,
	},
	[K_TOO_BIG] = {
		.name = "request above seg_max * size_max",
		.build = build_too_big,
	},
	[K_BOUNCE_BIG] = {
		.name = "misaligned request above 1 MiB",
		.build = build_bounce_big,
	},
	[K_DISCARD] = {
		.name = "DISCARD/WRITE_ZEROES/SECURE_ERASE garbage table",
		.build = build_discard,
	},
	[K_DISCARD_ATOMIC] = {
		.name = "segment table partly invalid (all or nothing)",
		.build = build_discard,
	},
	[K_BAD_DATA] = {
		.name = "data in read-only or unmapped memory",
		.build = build_bad_data,
	},
	[K_STATUS_RO] = {
		.name = "status byte unwritable",
		.build = build_status_ro,
	},
	[K_HDR_FAULT] = {
		.name = "header in unmapped memory",
		.build = build_hdr_fault,
	},
	[K_GETID] = {
		.name = "GET_ID with odd buffer sizes",
		.build = build_getid,
	},
	[K_FLUSH_DATA] = {
		.name = "FLUSH with garbage payload",
		.build = build_flush_data,
	},
	[K_ODD_IO] = {
		.name = "odd framing I/O to scratch (not hostile)",
		.build = build_odd_io,
		.benign = true,
	},
	[K_GIANT] = {
		.name = "aliased chain of 2^32 bytes or more (or just below)",
		.build = build_giant,
		.posted = giant_posted,
		.long_direct = true,
	},
	[K_AVAIL_JUMP] = { .name = "avail index jump (queue restarted)" },
	[K_STOP_LOAD] = {
		.name = "queue stopped with requests in flight",
		.benign = true,
	},
	[C_RANDOM] = { .name = "chaos: random chain" },
	[C_HEAD] = { .name = "chaos: random head (in flight or free)" },
	[C_HEAD_OOR] = { .name = "chaos: head >= num" },
	[C_JUMP] = { .name = "chaos: avail index jump" },
	[C_GOOD] = { .name = "chaos: well-formed request", .benign = true },
	[C_STOP] = { .name = "chaos: stop/restart under load", .benign = true },
	[C_SCRIBBLE] = { .name = "chaos: descriptor rewritten while posted" },
};

/*
 * Build a hostile chain of kind @k in hostile slot @hs and post it.
 * Returns the head, 0 for a bare head pushed, or -ENOSPC.
 */
static int build_hostile(struct fq *q, struct item *it, int k, int hs)
{
	const struct kind_desc *kd = &kind_table[k];
	struct chain *c = &q->ch;
	struct hostile_slot s = {
		.kind = k,
		.hs = hs,
		.it = it,
		.hdr = hslot_gpa(q, hs) + HS_HDR,
		.hdrp = hslot(q, hs) + HS_HDR,
		.tab = hslot_gpa(q, hs) + HS_TABLE,
		.sk = sink_gpa(q, hs),
		.skp = sink(q, hs),
	};
	int ret;

	it->kind = k;
	it->slot = hs;
	chain_reset(c, false);
	ret = kd->build(q, c, &s);
	if (ret)
		return ret == HB_POSTED ? 0 : ret;
	if (c->n > HS_TABLE_MAX)
		c->n = HS_TABLE_MAX;
	if (!c->indirect && c->n > 16 && !kd->long_direct)
		c->indirect = true;
	ret = post_chain(q, it, c, (struct vring_desc *)(hslot(q, hs) +
							 HS_TABLE),
			 s.tab, true);
	if (ret >= 0 && kd->posted)
		kd->posted(q, &s);
	return ret;
}

/* ---- verified queues: batches ---- */

/*
 * Descriptors of the ring that no chain ever owns: chains may link to
 * them. They stay allocated in the driver and are never posted.
 */
static void junk_setup(struct fq *q)
{
	struct vblk_vq *vq = q->vq;
	uint16_t *j = q->junk;

	if (vblk_vq_alloc_desc(vq, JUNK_N, j)) {
		FAIL(P_HOSTILE, "internal: no descriptors for the junk pool");
		return;
	}
	write_desc(&vq->desc[j[0]], garbage_gpa(q) + 100, 16,
		   VRING_DESC_F_NEXT, j[1]);
	write_desc(&vq->desc[j[1]], garbage_gpa(q) + 200, 1,
		   VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, j[2]);
	write_desc(&vq->desc[j[2]], garbage_gpa(q) + 300, 100, 0, 0);
	write_desc(&vq->desc[j[3]], hole_gpa(q) + 7, 1, VRING_DESC_F_WRITE, 0);
}

static int queue_fresh(struct fq *q, uint16_t base)
{
	struct fdev *fd = q->fd;
	unsigned int b;
	int ret;

	if (q->vq->started && vblk_vq_stop(q->vq, &b))
		return -EIO;
	/* Now and then a worker that busy-polls the ring it serves. */
	if (vhost_blk_set_vring_busyloop_timeout(fd->d->fd, q->index,
						 rng_pct(&q->rng, 30) ?
						 rng_below(&q->rng, 200) : 0))
		return -EIO;
	pthread_mutex_lock(&fd->start_lock);
	fd->d->queue_size = q->num;
	ret = vblk_vq_start(fd->d, q->index, base);
	pthread_mutex_unlock(&fd->start_lock);
	if (!ret && !fd->chaos)
		junk_setup(q);
	return ret;
}

static void reap(struct fq *q)
{
	int n = vblk_vq_reap(q->vq, q->used, ARRAY_SIZE(q->used));

	for (int i = 0; i < n; i++) {
		q->used_entries++;
		if (!q->used[i].valid)
			FAIL(P_SPURIOUS, "q%u round %" PRIu64 ": used entry id %u"
			     " len %u is not a chain in flight", q->index,
			     q->round, q->used[i].id, q->used[i].len);
	}
}

/* Wait until every posted chain is back. */
static bool wait_all(struct fq *q)
{
	uint64_t deadline = now_ns() + IO_TIMEOUT_MS * 1000000ULL;

	for (;;) {
		reap(q);
		if (!q->vq->inflight)
			return true;
		if (now_ns() > deadline) {
			FAIL(P_NOHANG, "q%u round %" PRIu64 ": %u chains not "
			     "back after %d ms (avail %u used %u)", q->index,
			     q->round, q->vq->inflight, IO_TIMEOUT_MS,
			     q->vq->avail_idx, vblk_vq_used_idx(q->vq));
			return false;
		}
		if (vblk_vq_wait(q->vq, 2000) == 0 && vblk_vq_pending(q->vq) &&
		    vblk_vq_wait(q->vq, 1000) == 0 && vblk_vq_pending(q->vq))
			FAIL(P_NOHANG, "q%u: used entries published but the "
			     "call eventfd did not fire", q->index);
	}
}

static int pick_kind(struct fq *q)
{
	int k;

	if (rng_pct(&q->rng, 20))
		return K_RANDOM;
	/* K_GIANT is the last kind: not with --no-giant. */
	if (!cfg.giant)
		return 1 + rng_below(&q->rng, K_CHAIN_LAST - 1);
	k = 1 + rng_below(&q->rng, K_CHAIN_LAST);
	/* A quarter of the share of the others: each walk is long. */
	if (k == K_GIANT && rng_pct(&q->rng, 75))
		k = 1 + rng_below(&q->rng, K_CHAIN_LAST - 1);
	return k;
}

static void check_getid(struct fq *q, struct item *it)
{
	uint8_t buf[VHOST_BLK_SERIAL_LEN];

	mw_walk(q->fd, q->vq, it->r.head, &q->mw);
	if (q->mw.err || !mw_bytes(q->fd, &q->mw, true, 0, it->e.id_len, buf))
		return;
	if (memcmp(buf, q->fd->serial, it->e.id_len))
		FAIL(P_HOSTILE, "q%u: GET_ID of %u bytes returned a wrong serial",
		     q->index, it->e.id_len);
}

static void check_hostile(struct fq *q, struct item *it, int *emin, int *emax)
{
	struct expect *e = &it->e;
	uint32_t len = it->r.used_len;
	const char *kn = kind_table[it->kind].name;
	bool accepted;
	uint8_t st;

	/*
	 * A refused chain comes back with len 0, its status byte untouched
	 * or, where the device could find it, VIRTIO_BLK_S_IOERR, and one
	 * error signal; a failed request comes back with len 0 and IOERR
	 * too, but no error signal.
	 */
	if (!e->accept_ok) {
		accepted = false;
	} else if (!e->refused_ok) {
		accepted = true;
	} else if (e->status && !len && *e->status == ST_IOERR) {
		if (!(e->status_mask & SM(ST_IOERR))) {
			accepted = false;
		} else {
			/* refused or failed: cannot tell */
			*emin += MIN(e->err_min, 1);
			*emax += MAX(e->err_max, 1);
			return;
		}
	} else if (e->status) {
		accepted = *e->status != 0xff;
	} else if (len || !e->len_err) {
		accepted = len != 0;
	} else {
		/* unwritable status, len 0 either way: cannot tell */
		*emax += 1;
		return;
	}

	if (!accepted) {
		q->refused++;
		*emin += 1;
		*emax += 1;
		if (len)
			FAIL(P_HOSTILE, "q%u round %" PRIu64 " %s: must be "
			     "refused (used len 0), came back with len %u "
			     "status %u", q->index, q->round, kn, len,
			     it->mark ? *it->mark : 0xff);
		else if (it->mark && *it->mark != 0xff &&
			 *it->mark != ST_IOERR)
			FAIL(P_HOSTILE, "q%u %s: refused chain got status %u "
			     "(want untouched or IOERR)", q->index, kn,
			     *it->mark);
		return;
	}
	q->accepted++;
	*emin += e->err_min;
	*emax += e->err_max;
	if (!e->status) {
		/* the status byte cannot be written: either count is fair */
		if (len != e->len_err && len != e->len_ok &&
		    !(len + 1 == e->in_len &&
		      (e->len_ok == e->in_len || e->len_err == e->in_len)))
			FAIL(P_HOSTILE, "q%u %s: unwritable status, used len "
			     "%u (want %u or %u)", q->index, kn, len,
			     e->len_err, e->len_ok);
		return;
	}
	st = *e->status;
	if (st == 0xff && e->refused_ok)
		return;		/* cannot happen: decided above */
	if (st > ST_UNSUPP || !(e->status_mask & SM(st)))
		FAIL(P_HOSTILE, "q%u round %" PRIu64 " %s: status %u, allowed "
		     "mask %#x (used len %u, head %d, avail position %u)",
		     q->index, q->round, kn, st, e->status_mask, len,
		     it->r.head, it->pos);
	else if (len != (st == ST_OK ? e->len_ok : e->len_err))
		FAIL(P_HOSTILE, "q%u round %" PRIu64 " %s: status %u with used "
		     "len %u, want %u (%" PRIu64 " writable bytes)", q->index,
		     q->round, kn, st, len,
		     st == ST_OK ? e->len_ok : e->len_err, e->in_len);
	else if (st == ST_OK && e->id_len)
		check_getid(q, it);
}

/*
 * GET_VRING_BASE with the batch in flight: every chain before the base
 * must be on the used ring, none after it; then serve on from there.
 */
static void stop_under_load(struct fq *q, uint16_t first)
{
	struct vblk_vq *vq = q->vq;
	unsigned int base;
	uint16_t boff;
	bool late = false;

	q->doing = "GET_VRING_BASE under load";
	if (vblk_vq_stop(vq, &base)) {
		FAIL(P_STOP, "q%u: GET_VRING_BASE failed", q->index);
		return;
	}
	q->kinds[K_STOP_LOAD]++;
	reap(q);
	boff = base - first;
	if (boff > (uint16_t)(vq->avail_idx - first))
		FAIL(P_STOP, "q%u: base %u beyond the avail index %u",
		     q->index, base, vq->avail_idx);
	for (unsigned int i = 0; i < q->nitems; i++) {
		struct item *it = &q->items[i];
		bool consumed = (uint16_t)(it->pos - first) < boff;

		if (consumed && !it->r.done && !late) {
			/* published late? look once more */
			usleep(50000);
			reap(q);
			late = true;
			if (it->r.done) {
				FAIL(P_STOP, "q%u: chain at avail %u (base %u) "
				     "reached the used ring only after "
				     "GET_VRING_BASE returned", q->index,
				     it->pos, base);
				continue;
			}
		}
		if (consumed != it->r.done)
			FAIL(P_STOP, "q%u: chain at avail %u, base %u: %s",
			     q->index, it->pos, base, consumed ?
			     "consumed but not on the used ring" :
			     "on the used ring but not consumed");
	}
	if (vblk_vq_restart(vq, base))
		FAIL(P_STOP, "q%u: restart at base %u failed", q->index, base);
	vblk_vq_kick_force(vq);
}

/* Read slot @vs back with a plain request and check it (K_DISCARD_ATOMIC). */
static void verify_slot_now(struct fq *q, int vs)
{
	struct item *it = &q->items[q->nitems];

	if (build_valid(q, it, 0, vs, false, VIRTIO_BLK_T_IN) < 0) {
		FAIL(P_HOSTILE, "internal: cannot post a verification read");
		return;
	}
	vblk_vq_kick_force(q->vq);
	if (wait_all(q))
		check_valid(q, it);
}

static void run_batch(struct fq *q)
{
	struct vblk_vq *vq = q->vq;
	unsigned int nv = 1 + rng_below(&q->rng, VSLOTS / 2);
	unsigned int nh = rng_below(&q->rng, HSLOTS + 1);
	unsigned int vi = 0, hs = 0, oor = 0;
	uint16_t first = vq->avail_idx;
	bool cross_used = false;
	int emin = 0, emax = 0;
	uint64_t errs;

	memset(q->slots_busy, 0, (q->nslots + 63) / 64 * 8);
	q->nitems = 0;
	q->doing = "posting a batch";
	while ((vi < nv || hs < nh) && !g_abort) {
		bool valid = hs >= nh || (vi < nv - 1 &&
					  rng_below(&q->rng, nv + nh) < nv);
		struct item *it = &q->items[q->nitems];
		uint16_t used_pos = vq->avail_idx - first;
		int ret;

		/* keep room on the avail ring and for the final request */
		if (used_pos + 3U >= q->num || vq->num_free < 12)
			break;
		if (valid) {
			int vs;

			q->doing = "building a valid request";
			if (vi >= nv - 1)
				break;	/* the last one is posted below */
			vs = pick_slot(q);
			if (vs < 0)
				break;
			ret = build_valid(q, it, vi, vs,
					  !cross_used && rng_pct(&q->rng, 10),
					  -1);
			if (it->op.data_gpa)
				cross_used = true;
			vi++;
		} else {
			int k = pick_kind(q);

			q->doing = kind_table[k].name;
			ret = build_hostile(q, it, k, hs);
			if (k == K_HEAD_OOR) {
				oor++;
				q->sent++;
				q->kinds[k]++;
				continue;
			}
			hs++;
			if (ret >= 0)
				q->kinds[k]++;
		}
		if (ret >= 0) {
			q->nitems++;
			q->sent++;
		}
		if (rng_pct(&q->rng, 15))
			vblk_vq_kick(vq);
	}

	/*
	 * The last chain is valid: once it is back, every head before it
	 * was consumed.
	 */
	{
		struct item *it = &q->items[q->nitems];
		int vs = pick_slot(q);

		int ret = vs < 0 ? -EBUSY :
			  build_valid(q, it, VSLOTS - 1, vs, false, -1);

		if (ret == -ENOSPC) {
			/* out of descriptors: let the ring drain first */
			vblk_vq_kick_force(vq);
			if (!wait_all(q))
				return;
			ret = build_valid(q, it, VSLOTS - 1, vs, false, -1);
		}
		if (ret < 0) {
			FAIL(P_VALID, "internal: cannot post the final request "
			     "(%d, slot %d, %u descriptors free)", ret, vs,
			     vq->num_free);
		} else {
			q->nitems++;
			q->sent++;
		}
	}
	if (rng_pct(&q->rng, 50))
		vblk_vq_kick(vq);
	else
		vblk_vq_kick_force(vq);

	if (rng_pct(&q->rng, 4))
		stop_under_load(q, first);

	q->doing = "waiting for a batch";
	if (!wait_all(q))
		return;

	for (unsigned int i = 0; i < q->nitems; i++) {
		struct item *it = &q->items[i];

		if (it->kind < 0)
			check_valid(q, it);
		else
			check_hostile(q, it, &emin, &emax);
	}
	if (read_counter(vq->err_fd, &errs))
		FAIL(P_ERRFD, "q%u: cannot read the err eventfd", q->index);
	q->err_signals += errs;
	if (errs < (uint64_t)emin + oor || errs > (uint64_t)emax + oor)
		FAIL(P_ERRFD, "q%u round %" PRIu64 ": err eventfd counted %"
		     PRIu64 ", want %u..%u (%u bad heads)", q->index, q->round,
		     errs, emin + oor, emax + oor, oor);

	for (unsigned int i = 0; i < q->nitems; i++)
		if (q->items[i].discard_atomic)
			verify_slot_now(q, q->items[i].vslot);
}

/*
 * Move avail->idx more than a ring ahead of the device (the queue is
 * drained): the queue must stop with an err signal, ignore what is
 * posted next, and serve again after a restart.
 */
static void avail_jump(struct fq *q)
{
	struct vblk_vq *vq = q->vq;
	uint16_t old = vq->avail_idx, used = vblk_vq_used_idx(vq);
	uint16_t jump = q->num + 1 + rng_below(&q->rng, 65535 - q->num);
	unsigned int base;
	uint64_t errs = 0;
	int fired;

	q->doing = "avail index jump";
	q->kinds[K_AVAIL_JUMP]++;
	q->sent++;
	vblk_vq_set_avail_idx(vq, old + jump);
	vblk_vq_kick_force(vq);
	fired = vblk_eventfd_wait(vq->err_fd, IO_TIMEOUT_MS);
	if (fired != 1)
		FAIL(P_JUMP, "q%u: avail index %u -> %u: no err signal",
		     q->index, old, (uint16_t)(old + jump));
	q->err_signals += fired == 1;

	/* broken: a chain posted now must not be served */
	vblk_vq_set_avail_idx(vq, old);
	{
		struct item *it = &q->items[0];
		int vs;

		memset(q->slots_busy, 0, (q->nslots + 63) / 64 * 8);
		vs = pick_slot(q);
		if (vs >= 0 && build_valid(q, it, 0, vs, false,
					   VIRTIO_BLK_T_FLUSH) >= 0) {
			vblk_vq_kick_force(vq);
			usleep(100000);
			if (vblk_vq_used_idx(vq) != used)
				FAIL(P_JUMP, "q%u: broken queue served a chain",
				     q->index);
		}
	}
	if (vblk_vq_stop(vq, &base)) {
		FAIL(P_JUMP, "q%u: GET_VRING_BASE of a broken queue failed",
		     q->index);
		return;
	}
	if (base != old)
		FAIL(P_JUMP, "q%u: broken queue base %u, want %u", q->index,
		     base, old);
	if (read_counter(vq->err_fd, &errs) || errs)
		FAIL(P_ERRFD, "q%u: %" PRIu64 " more err signals after a jump",
		     q->index, errs);
	if (queue_fresh(q, rng_pct(&q->rng, 50) ? base :
			(uint16_t)rng_next(&q->rng)))
		FAIL(P_JUMP, "q%u: restart after a jump failed", q->index);
}

/*
 * After a round: fresh writes over whole slots, read back, plus reads of
 * slots written earlier.
 */
static void verify_queue(struct fq *q)
{
	unsigned int nw = 2 + rng_below(&q->rng, 3), nr = 3, n = 0;
	int ws[8];
	uint64_t errs;

	q->doing = "post-round verification";
	for (int pass = 0; pass < 2; pass++) {
		memset(q->slots_busy, 0, (q->nslots + 63) / 64 * 8);
		q->nitems = 0;
		n = 0;
		for (unsigned int i = 0; i < (pass ? nw : nw + nr); i++) {
			struct item *it = &q->items[q->nitems];
			int vs, type = VIRTIO_BLK_T_IN;

			if (pass) {
				vs = ws[i];
				slot_take(q, vs);
			} else {
				vs = pick_slot(q);
				if (vs < 0)
					continue;
				if (i < nw) {
					ws[n++] = vs;
					type = VIRTIO_BLK_T_OUT;
				}
			}
			if (build_valid(q, it, q->nitems, vs, false, type) < 0) {
				FAIL(P_VERIFY, "q%u: cannot post", q->index);
				return;
			}
			q->nitems++;
			q->sent++;
		}
		nw = n;
		vblk_vq_kick_force(q->vq);
		if (!wait_all(q)) {
			FAIL(P_VERIFY, "q%u: verification batch hung",
			     q->index);
			return;
		}
		for (unsigned int i = 0; i < q->nitems; i++) {
			uint64_t before = prop_fail[P_VALID];

			check_valid(q, &q->items[i]);
			if (prop_fail[P_VALID] != before)
				FAIL(P_VERIFY, "q%u round %" PRIu64
				     ": verification request failed",
				     q->index, q->round);
		}
	}
	if (read_counter(q->vq->err_fd, &errs) || errs)
		FAIL(P_ERRFD, "q%u: %" PRIu64 " err signals for valid requests",
		     q->index, errs);
}

static void *verified_thread(void *arg)
{
	struct fq *q = arg;
	uint64_t gen = 0;

	for (;;) {
		int p = phase_wait(&gen);

		if (p == PH_EXIT)
			break;
		if (p == PH_ACTIVE) {
			rng_seed(&q->rng, cfg.seed, q->round, q->index + 1);
			for (uint64_t b = 0; b < cfg.batches && !g_abort; b++) {
				run_batch(q);
				if (rng_pct(&q->rng, 3))
					avail_jump(q);
			}
			pthread_mutex_lock(&ph.lock);
			ph.verified_active--;
			pthread_mutex_unlock(&ph.lock);
		} else if (p == PH_VERIFY) {
			verify_queue(q);
			q->round++;
		}
		q->doing = "idle";
		phase_done();
	}
	return NULL;
}

/* ---- the chaos device ---- */

#define CARENA_SIZE	(1UL << 20)	/* + a PROT_NONE page */
#define CREQS		16
#define CREQ_DATA	8192

static uint64_t chaos_addr(struct rng *r, const struct fq *q)
{
	uint32_t x = rng_below(r, 100);
	uint64_t a;

	if (x < 60)
		return cdev.carena_gpa + rng_below(r, CARENA_SIZE);
	if (x < 68)
		return cdev.carena_gpa + CARENA_SIZE + rng_below(r, PAGE_SZ);
	if (x < 80 && q && q->cdata)
		return q->cdata[rng_below(r, CREQS)] + rng_below(r, CREQ_DATA);
	if (x < 88)
		return cdev.carena_gpa + CARENA_SIZE + PAGE_SZ +
		       rng_below(r, 1 << 30);
	if (x < 94)
		return UINT64_MAX - rng_below(r, 8192);
	a = rng_nasty64(r) & ~0xffffffffULL;
	/* never the rings: the device would overwrite its own avail ring */
	if (xfind(&cdev, a) && xfind(&cdev, a)->type == XR_LIB)
		a += 0x100000000000ULL;
	return a;
}

static uint32_t chaos_len(struct rng *r)
{
	uint32_t x = rng_below(r, 100);

	if (x < 10)
		return 0;
	if (x < 60)
		return 1 + rng_below(r, 64);
	if (x < 85)
		return rng_below(r, 8192);
	if (x < 95)
		return 512 * rng_below(r, 256);
	return (uint32_t)rng_nasty64(r);
}

static uint16_t chaos_flags(struct rng *r)
{
	uint16_t f = 0;

	if (rng_pct(r, 2))
		return (uint16_t)rng_next(r);
	if (rng_pct(r, 60))
		f |= VRING_DESC_F_NEXT;
	if (rng_pct(r, 50))
		f |= VRING_DESC_F_WRITE;
	if (rng_pct(r, 5))
		f |= VRING_DESC_F_INDIRECT;
	return f;
}

static uint16_t chaos_next(struct rng *r, unsigned int num)
{
	uint32_t x = rng_below(r, 100);

	if (x < 75)
		return rng_below(r, num);
	if (x < 90)
		return (uint16_t)rng_next(r);
	return 0;
}

static void chaos_reap(struct fq *q)
{
	int n = vblk_vq_reap(q->vq, q->used, ARRAY_SIZE(q->used));

	for (int i = 0; i < n; i++) {
		q->used_entries++;
		q->ep_used++;
		if (q->used[i].id >= q->num)
			FAIL(P_CHAOS, "chaos q%u: used id %u >= num %u",
			     q->index, q->used[i].id, q->num);
	}
}

static void chaos_push(struct fq *q, uint16_t pos, uint16_t head)
{
	q->pushed[pos] = head;
	q->ring_shadow[pos & (q->num - 1)] = head;
	q->pub_end = pos + 1;
	q->sent++;
}

/*
 * Positions [acc_start, base) were consumed: their heads below num must
 * have given exactly one used entry each.
 */
static void chaos_account(struct fq *q, unsigned int base, uint16_t uidx)
{
	uint16_t from = q->acc_start, n = base - from, pub;
	uint64_t want = 0, got;

	pub = q->pub_end - from;
	if (n > pub) {
		FAIL(P_CHAOS, "chaos q%u: base %u beyond the avail index %u",
		     q->index, base, q->vq->avail_idx);
		n = pub;
	}
	for (uint16_t i = 0; i < n; i++)
		want += q->pushed[(uint16_t)(from + i)] < q->num;
	chaos_reap(q);
	got = q->ep_used - q->acc_used;
	if (got < want) {
		usleep(50000);
		chaos_reap(q);
		if (q->ep_used - q->acc_used == want)
			FAIL(P_STOP, "chaos q%u round %" PRIu64 ": GET_VRING_BASE"
			     " returned base %u with used->idx %u; %" PRIu64
			     " of the %" PRIu64 " used entries it owed were "
			     "published only after it returned (used->idx %u "
			     "50 ms later)", q->index, q->round, base, uidx,
			     want - got, want, vblk_vq_used_idx(q->vq));
		got = q->ep_used - q->acc_used;
	}
	if (got != want)
		FAIL(P_CHAOS, "chaos q%u: %u heads consumed (%" PRIu64 " below "
		     "num), %" PRIu64 " used entries", q->index, n, want, got);
	q->acc_start = base;
	q->acc_used = q->ep_used;
}

static void chaos_fresh(struct fq *q)
{
	uint16_t base = rng_pct(&q->rng, 30) ? 65536 - rng_below(&q->rng, 8) :
			(uint16_t)rng_next(&q->rng);

	if (queue_fresh(q, base)) {
		FAIL(P_CHAOS, "chaos q%u: restart failed", q->index);
		g_abort = 1;
		return;
	}
	memset(q->ring_shadow, 0, q->num * sizeof(uint16_t));
	q->ep_start = base;
	q->pub_end = base;
	q->ep_used = 0;
	q->ep_jumped = false;
	q->acc_start = base;
	q->acc_used = 0;
}

/* Stop, check the accounting, and start afresh. */
static void chaos_end_episode(struct fq *q)
{
	unsigned int base;
	uint64_t errs;

	q->doing = "chaos: GET_VRING_BASE";
	if (vblk_vq_stop(q->vq, &base)) {
		FAIL(P_CHAOS, "chaos q%u: GET_VRING_BASE failed", q->index);
		return;
	}
	chaos_account(q, base, vblk_vq_used_idx(q->vq));
	read_counter(q->vq->err_fd, &errs);
	q->err_signals += errs;
	chaos_fresh(q);
}

static void chaos_random_chain(struct fq *q)
{
	struct vblk_vq *vq = q->vq;
	unsigned int n = 1 + rng_below(&q->rng, MIN(8, q->num));
	uint16_t ids[8];
	int head;

	if (vq->num_free < n || vblk_vq_alloc_desc(vq, n, ids))
		return;
	for (unsigned int i = 0; i < n; i++) {
		uint16_t f = chaos_flags(&q->rng);

		if (i + 1 < n && rng_pct(&q->rng, 70)) {
			f |= VRING_DESC_F_NEXT;
			vblk_vq_set_desc(vq, ids[i], chaos_addr(&q->rng, q),
					 chaos_len(&q->rng), f, ids[i + 1]);
		} else {
			vblk_vq_set_desc(vq, ids[i], chaos_addr(&q->rng, q),
					 chaos_len(&q->rng), f,
					 chaos_next(&q->rng, q->num));
		}
	}
	head = vq->avail_idx;
	if (vblk_vq_post_raw(vq, ids, n, NULL) >= 0) {
		chaos_push(q, head, ids[0]);
		q->kinds[C_RANDOM]++;
	}
}

static void chaos_good(struct fq *q)
{
	struct vblk_req *r = q->creq[rng_below(&q->rng, CREQS)];
	uint16_t pos = q->vq->avail_idx;
	uint32_t type = rng_pct(&q->rng, 50) ? VIRTIO_BLK_T_IN :
			VIRTIO_BLK_T_OUT;
	uint32_t len = 512 * (1 + rng_below(&q->rng, CREQ_DATA / 512));
	int head;

	if (q->vq->num_free < 3)
		return;
	vblk_req_reset(r, rng_pct(&q->rng, 90) ? type : VIRTIO_BLK_T_FLUSH,
		       rng_below(&q->rng, q->fd->cap - CREQ_DATA / 512));
	vblk_req_add_seg(r, q->cdata[rng_below(&q->rng, CREQS)], len);
	head = vblk_req_submit(q->vq, r, 0);
	if (head >= 0) {
		chaos_push(q, pos, head);
		q->kinds[C_GOOD]++;
	}
}

static void chaos_step(struct fq *q, uint64_t *last_progress)
{
	struct vblk_vq *vq = q->vq;
	uint16_t outstanding;
	uint64_t before = q->ep_used;
	uint32_t x;

	chaos_reap(q);
	if (q->ep_used != before)
		*last_progress = now_ns();
	outstanding = (uint16_t)(q->pub_end - q->acc_start) -
		      (q->ep_used - q->acc_used);
	if (outstanding + 2U >= q->num || vq->num_free < 3) {
		unsigned int base;

		/* give the device a second to make room */
		for (int i = 0; i < 50 && q->ep_used == before; i++) {
			vblk_vq_kick_force(vq);
			vblk_vq_wait(vq, 20);
			chaos_reap(q);
		}
		if (q->ep_used != before)
			return;
		/* full: settle the accounting with a stop and go on */
		q->doing = "chaos: stop under load";
		if (vblk_vq_stop(vq, &base)) {
			FAIL(P_CHAOS, "chaos q%u: GET_VRING_BASE failed",
			     q->index);
			return;
		}
		if (base != q->acc_start)
			*last_progress = now_ns();
		chaos_account(q, base, vblk_vq_used_idx(vq));
		q->kinds[C_STOP]++;
		if (q->ep_jumped || vq->num_free < 3 ||
		    now_ns() - *last_progress > 10000000000ULL) {
			if (!q->ep_jumped && q->pub_end != base) {
				FAIL(P_CHAOS, "chaos q%u: device consumed "
				     "nothing for 10 s (base %u avail %u)",
				     q->index, base, vq->avail_idx);
				dump_tasks();
			}
			chaos_fresh(q);
			*last_progress = now_ns();
		} else if (vblk_vq_restart(vq, base)) {
			FAIL(P_CHAOS, "chaos q%u: restart failed", q->index);
			chaos_fresh(q);
		}
		return;
	}

	x = rng_below(&q->rng, 100);
	if (x < 40) {
		chaos_random_chain(q);
	} else if (x < 58) {
		chaos_good(q);
	} else if (x < 72) {
		uint16_t pos = vq->avail_idx, head = rng_below(&q->rng, q->num);

		vblk_vq_push_avail(vq, head);
		chaos_push(q, pos, head);
		q->kinds[C_HEAD]++;
	} else if (x < 77) {
		uint16_t pos = vq->avail_idx;
		uint16_t head = q->num + rng_below(&q->rng, 65536 - q->num);

		vblk_vq_push_avail(vq, head);
		chaos_push(q, pos, head);
		q->kinds[C_HEAD_OOR]++;
	} else if (x < 79) {
		uint16_t cur = vq->avail_idx;

		q->kinds[C_JUMP]++;
		q->sent++;
		if (rng_pct(&q->rng, 40) && outstanding + 2U < q->num) {
			/* within the ring: stale entries get consumed */
			uint16_t j = 1 + rng_below(&q->rng, q->num - 1 -
						   outstanding);

			for (uint16_t i = 0; i < j; i++)
				q->pushed[(uint16_t)(cur + i)] =
					q->ring_shadow[(cur + i) & (q->num - 1)];
			vblk_vq_set_avail_idx(vq, cur + j);
			q->pub_end = cur + j;
		} else {
			/* more than a ring ahead of wherever the device is */
			vblk_vq_set_avail_idx(vq, cur + q->num + 1 +
					      rng_below(&q->rng,
							65535 - 3 * q->num));
			q->ep_jumped = true;
			vblk_vq_kick_force(vq);
			vblk_eventfd_wait(vq->err_fd, 200);
			chaos_end_episode(q);
			*last_progress = now_ns();
			return;
		}
	} else if (x < 81) {
		unsigned int base;

		q->doing = "chaos: stop under load";
		if (!vblk_vq_stop(vq, &base)) {
			chaos_account(q, base, vblk_vq_used_idx(vq));
			q->kinds[C_STOP]++;
			if (vblk_vq_restart(vq, base))
				FAIL(P_CHAOS, "chaos q%u: restart failed",
				     q->index);
		}
	}
	q->doing = "chaos";
	if (rng_pct(&q->rng, 40))
		vblk_vq_kick_force(vq);
	else if (rng_pct(&q->rng, 30))
		vblk_vq_kick(vq);
}

/* Write and read back whole 4 KiB blocks on a fresh chaos queue. */
static void chaos_verify(struct fq *q)
{
	uint64_t range = q->fd->cap / cfg.chaos_queues;
	uint64_t seed = rng_next(&q->rng) | 2;

	q->doing = "chaos: verification";
	for (int i = 0; i < 4; i++) {
		struct vblk_req *r = q->creq[i];
		uint64_t sec = range * q->index + 8 * rng_below(&q->rng,
								 range / 8 - 2);
		uint8_t *p = vblk_gpa_to_hva(q->fd->d, q->cdata[i], 4096);
		int ret;

		vblk_pattern_fill(p, 4096, sec, seed);
		vblk_req_reset(r, VIRTIO_BLK_T_OUT, sec);
		vblk_req_add_seg(r, q->cdata[i], 4096);
		ret = vblk_do(q->vq, r, 0, IO_TIMEOUT_MS);
		if (ret || r->status != ST_OK) {
			FAIL(P_VERIFY, "chaos q%u: verification write: %d "
			     "status %u", q->index, ret, r->status);
			return;
		}
		memset(p, 0xa5, 4096);
		vblk_req_reset(r, VIRTIO_BLK_T_IN, sec);
		vblk_req_add_seg(r, q->cdata[i], 4096);
		ret = vblk_do(q->vq, r, 0, IO_TIMEOUT_MS);
		if (ret || r->status != ST_OK || r->used_len != 4097) {
			FAIL(P_VERIFY, "chaos q%u: verification read: %d "
			     "status %u len %u", q->index, ret, r->status,
			     r->used_len);
			return;
		}
		if (vblk_pattern_check(p, 4096, sec, seed) != -1) {
			FAIL(P_VERIFY, "chaos q%u: DATA MISMATCH at sector %"
			     PRIu64, q->index, sec);
			return;
		}
		q->sent += 2;
		q->valid_ok += 2;
		q->verified_sectors += 8;
	}
}

static void *chaos_thread(void *arg)
{
	struct fq *q = arg;
	uint64_t gen = 0, last;

	for (;;) {
		int p = phase_wait(&gen);

		if (p == PH_EXIT)
			break;
		if (p == PH_ACTIVE) {
			rng_seed(&q->rng, cfg.seed, q->round, 100 + q->index);
			chaos_fresh(q);
			last = now_ns();
			/* as long as the verified queues run, at least */
			for (uint64_t s = 0; !g_abort; s++) {
				unsigned int busy;

				pthread_mutex_lock(&ph.lock);
				busy = ph.verified_active;
				pthread_mutex_unlock(&ph.lock);
				if (!busy && s >= cfg.batches * 8)
					break;
				chaos_step(q, &last);
				/* leave CPU time to the verified queues */
				if (cfg.chaos_pause && s % 8 == 7)
					usleep(cfg.chaos_pause);
			}
			chaos_end_episode(q);
			pthread_mutex_lock(&ph.lock);
			ph.chaos_active--;
			pthread_mutex_unlock(&ph.lock);
		} else if (p == PH_VERIFY) {
			chaos_verify(q);
			q->round++;
		}
		q->doing = "idle";
		phase_done();
	}
	return NULL;
}

/* Rewrites descriptors of the chaos queues while the device walks them. */
static uint64_t scribbles;

/* One field of @d, with a single store. */
static void scribble(struct rng *r, struct vring_desc *d, unsigned int num)
{
	switch (rng_below(r, 4)) {
	case 0:
		__atomic_store_n(&d->next, htole16(chaos_next(r, num)),
				 __ATOMIC_RELAXED);
		break;
	case 1:
		__atomic_store_n(&d->len, htole32(chaos_len(r)),
				 __ATOMIC_RELAXED);
		break;
	case 2:
		__atomic_store_n(&d->flags, htole16(chaos_flags(r)),
				 __ATOMIC_RELAXED);
		break;
	default:
		__atomic_store_n(&d->addr, htole64(chaos_addr(r, NULL)),
				 __ATOMIC_RELAXED);
		break;
	}
}

static void *scribbler_thread(void *arg)
{
	struct rng r;
	uint64_t gen = 0, round = 0;

	(void)arg;
	for (;;) {
		int p = phase_wait(&gen);

		if (p == PH_EXIT)
			break;
		rng_seed(&r, cfg.seed, round++, 999);
		while (p == PH_ACTIVE) {
			struct fq *q = &cdev.qs[rng_below(&r, cdev.nq)];
			struct vring_desc *d;
			unsigned int active;

			pthread_mutex_lock(&ph.lock);
			active = ph.chaos_active;
			pthread_mutex_unlock(&ph.lock);
			if (!active || g_abort)
				break;
			for (int i = 0; i < 32; i++) {
				if (rng_pct(&r, 85)) {
					d = &q->vq->desc[rng_below(&r, q->num)];
				} else {
					/* indirect tables live in the arena */
					d = (struct vring_desc *)
					    (cdev.carena + 16 *
					     rng_below(&r, CARENA_SIZE / 16));
				}
				scribble(&r, d, q->num);
				stat_add(&scribbles, 1);
			}
			if (rng_pct(&r, 30)) {
				uint64_t one = 1;

				if (write(q->vq->kick_fd, &one, 8) != 8)
					FAIL(P_CHAOS, "spurious kick failed");
			}
			usleep(200);
		}
		phase_done();
	}
	return NULL;
}

/* ---- set-up ---- */

static int add_region(struct fdev *fd, uint64_t gpa, uint64_t size,
		      void *hva, int type)
{
	if (fd->nregs >= ARRAY_SIZE(fd->regs))
		return -E2BIG;
	fd->regs[fd->nregs++] = (struct xreg){ gpa, size, hva, type };
	return 0;
}

static void *map_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int set_table(struct fdev *fd)
{
	struct vhost_memory_region r[ARRAY_SIZE(fd->regs)];

	for (unsigned int i = 0; i < fd->nregs; i++)
		r[i] = (struct vhost_memory_region){
			.guest_phys_addr = fd->regs[i].gpa,
			.memory_size = fd->regs[i].size,
			.userspace_addr = (uintptr_t)fd->regs[i].hva,
		};
	return vhost_blk_set_mem_table(fd->d->fd, r, fd->nregs);
}

static int open_dev(struct fdev *fd, const char *path, size_t mem,
		    enum vblk_mem_layout layout, uint64_t clear,
		    const char *serial)
{
	struct vblk_opts o = VBLK_OPTS_DEFAULT;
	struct vhost_memory_region lr[VBLK_MAX_REGIONS];
	unsigned int n;
	int ret;

	fd->path = path;
	pthread_mutex_init(&fd->start_lock, NULL);
	fd->bfd = open(path, O_RDWR | O_CLOEXEC);
	if (fd->bfd < 0)
		return -errno;
	o.mem_size = mem;
	o.layout = layout;
	o.num_queues = 0;
	o.populate = true;
	ret = vblk_dev_open(&fd->d, &o);
	if (!ret)
		ret = vblk_dev_setup(fd->d, clear);
	if (!ret)
		ret = vblk_dev_attach(fd->d, fd->bfd, 0, serial);
	if (ret)
		return ret;
	memset(fd->serial, 0, sizeof(fd->serial));
	memcpy(fd->serial, serial, MIN(strlen(serial), sizeof(fd->serial)));
	fd->cap = vblk_dev_capacity(fd->d);
	fd->features = fd->d->cfg_features;
	fd->max_discard = le32toh(fd->d->cfg.max_discard_sectors);
	fd->max_wz = le32toh(fd->d->cfg.max_write_zeroes_sectors);
	fd->max_se = le32toh(fd->d->cfg.max_secure_erase_sectors);
	n = vblk_dev_mem_regions(fd->d, lr);
	for (unsigned int i = 0; i < n; i++)
		add_region(fd, lr[i].guest_phys_addr, lr[i].memory_size,
			   (void *)(uintptr_t)lr[i].userspace_addr, XR_LIB);
	return 0;
}

static int setup_queue_common(struct fdev *fd, struct fq *q, unsigned int i,
			      unsigned int num)
{
	q->fd = fd;
	q->index = i;
	q->num = num;
	q->vq = &fd->d->vqs[i];
	q->doing = "setup";
	rng_seed(&q->rng, cfg.seed, 0, 1000 + i + (fd->chaos ? 100 : 0));
	return queue_fresh(q, (uint16_t)rng_next(&q->rng));
}

static int setup_vdev(void)
{
	static const unsigned int qsizes[] = { 128, 256, 64, 256, 16, 64, 128,
					       32, 64, 128, 32, 256, 16, 64 };
	struct fdev *fd = &vdev;
	struct rng r;
	int ret;

	fd->name = "verified";
	ret = open_dev(fd, cfg.dev, 32 << 20, VBLK_MEM_ADJACENT, 0,
		       "ring-fuzz-serial-012");
	if (ret)
		return ret;
	if (fd->cap < 32768)
		return -ENOSPC;
	fd->scratch_end = MIN(fd->cap / 8, 16384);
	fd->nq = cfg.queues;
	fd->qs = calloc(fd->nq, sizeof(*fd->qs));
	if (!fd->qs)
		return -ENOMEM;
	rng_seed(&r, cfg.seed, 7, 7);
	for (unsigned int i = 0; i < fd->nq; i++) {
		struct fq *q = &fd->qs[i];

		q->arena = map_anon(ARENA_SIZE);
		q->xa = map_anon(XHALF);
		q->xb = map_anon(XHALF);
		if (!q->arena || !q->xa || !q->xb)
			return -ENOMEM;
		q->arena_gpa = ARENA_GPA(i);
		for (size_t b = 0; b < GARBAGE_SIZE; b += 8) {
			uint64_t w = rng_next(&r) | 0x8080808080808080ULL;

			memcpy(q->arena + b, &w, 8);
		}
		q->ro_sum = ro_checksum(q->arena, GARBAGE_SIZE);
		if (mprotect(q->arena, GARBAGE_SIZE, PROT_READ) ||
		    mprotect(q->arena + OFF_HOLE, PAGE_SZ, PROT_NONE))
			return -errno;
		q->x_gpa = XPAIR_GPA(i);
		add_region(fd, q->arena_gpa, ARENA_SIZE, q->arena, XR_ARENA);
		add_region(fd, q->x_gpa, XHALF, q->xa, XR_XPAIR);
		add_region(fd, q->x_gpa + XHALF, XHALF, q->xb, XR_XPAIR);
	}
	/* Reserved, never populated: the chains only alias it. */
	fd->giant = mmap(NULL, GIANT_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (fd->giant == MAP_FAILED)
		return -errno;
	add_region(fd, GIANT_GPA, GIANT_SIZE, fd->giant, XR_GIANT);
	add_region(fd, GIANT_GPA + GIANT_SIZE, GIANT_SIZE, fd->giant,
		   XR_GIANT);
	ret = set_table(fd);
	if (ret)
		return ret;

	for (unsigned int i = 0; i < fd->nq; i++) {
		struct fq *q = &fd->qs[i];
		uint64_t range = (fd->cap - fd->scratch_end) / fd->nq;

		q->nslots = range / SLOT_SECTORS;
		q->vsec0 = fd->scratch_end + i * range;
		q->shadow = calloc(q->nslots * SLOT_SECTORS, sizeof(uint64_t));
		q->slots_busy = calloc((q->nslots + 63) / 64, 8);
		q->tmp = malloc(SLOT_SECTORS * 512 + 4096);
		if (!q->shadow || !q->slots_busy || !q->tmp || q->nslots < 32)
			return -ENOMEM;
		ret = setup_queue_common(fd, q, i,
					 qsizes[i % ARRAY_SIZE(qsizes)]);
		if (ret)
			return ret;
		for (int v = 0; v < VSLOTS; v++) {
			struct vreq *vr = &q->vr[v];

			if (vblk_alloc(fd->d, VREQ_AREA, 4096, &vr->area_gpa) ||
			    vblk_alloc(fd->d, 256, 64, &vr->hdr_gpa) ||
			    vblk_alloc(fd->d, VREQ_TAB * 16, 64, &vr->tab_gpa))
				return -ENOMEM;
			vr->area = vblk_gpa_to_hva(fd->d, vr->area_gpa,
						   VREQ_AREA);
			vr->hdr = vblk_gpa_to_hva(fd->d, vr->hdr_gpa, 256);
			vr->tab = vblk_gpa_to_hva(fd->d, vr->tab_gpa,
						  VREQ_TAB * 16);
		}
	}
	return 0;
}

static int setup_cdev(void)
{
	static const unsigned int qsizes[] = { 16, 64, 32, 128 };
	struct fdev *fd = &cdev;
	struct rng r;
	int ret;

	fd->name = "chaos";
	fd->chaos = true;
	ret = open_dev(fd, cfg.chaos_dev, 16 << 20, VBLK_MEM_ONE,
		       1ULL << VIRTIO_RING_F_EVENT_IDX, "chaos");
	if (ret)
		return ret;
	fd->carena = map_anon(CARENA_SIZE + PAGE_SZ);
	if (!fd->carena)
		return -ENOMEM;
	rng_seed(&r, cfg.seed, 8, 8);
	for (size_t b = 0; b < CARENA_SIZE; b += 8) {
		uint64_t w = rng_next(&r);

		memcpy(fd->carena + b, &w, 8);
	}
	if (mprotect(fd->carena + CARENA_SIZE, PAGE_SZ, PROT_NONE))
		return -errno;
	fd->carena_gpa = ARENA_GPA(0);
	add_region(fd, fd->carena_gpa, CARENA_SIZE + PAGE_SZ, fd->carena,
		   XR_ARENA);
	ret = set_table(fd);
	if (ret)
		return ret;
	fd->nq = cfg.chaos_queues;
	fd->qs = calloc(fd->nq, sizeof(*fd->qs));
	if (!fd->qs)
		return -ENOMEM;
	/* rings first: the requests must lie above them */
	for (unsigned int i = 0; i < fd->nq; i++) {
		struct fq *q = &fd->qs[i];

		q->pushed = calloc(65536, sizeof(uint16_t));
		q->ring_shadow = calloc(256, sizeof(uint16_t));
		if (!q->pushed || !q->ring_shadow)
			return -ENOMEM;
		ret = setup_queue_common(fd, q, i, qsizes[i % ARRAY_SIZE(qsizes)]);
		if (ret)
			return ret;
	}
	for (unsigned int i = 0; i < fd->nq; i++) {
		struct fq *q = &fd->qs[i];

		q->creq = calloc(CREQS, sizeof(*q->creq));
		q->cdata = calloc(CREQS, sizeof(*q->cdata));
		if (!q->creq || !q->cdata)
			return -ENOMEM;
		for (int c = 0; c < CREQS; c++) {
			q->creq[c] = vblk_req_alloc(fd->d);
			if (!q->creq[c] ||
			    vblk_alloc(fd->d, CREQ_DATA, 4096, &q->cdata[c]))
				return -ENOMEM;
		}
	}
	return 0;
}

/* ---- main ---- */

static void set_phase(int p)
{
	pthread_mutex_lock(&ph.lock);
	ph.phase = p;
	ph.done = 0;
	if (p == PH_ACTIVE) {
		ph.chaos_active = cdev.nq;
		ph.verified_active = vdev.nq;
	}
	ph.gen++;
	pthread_cond_broadcast(&ph.cond);
	pthread_mutex_unlock(&ph.lock);
}

static bool wait_phase(unsigned int nthreads, const char *what)
{
	struct timespec ts;
	bool ok = true;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += PHASE_TIMEOUT_S;
	pthread_mutex_lock(&ph.lock);
	while (ph.done < nthreads && ok)
		if (pthread_cond_timedwait(&ph.cond, &ph.lock, &ts) == ETIMEDOUT)
			ok = false;
	pthread_mutex_unlock(&ph.lock);
	if (!ok) {
		FAIL(P_NOHANG, "%s: not done after %d s", what,
		     PHASE_TIMEOUT_S);
		for (unsigned int i = 0; i < vdev.nq; i++)
			diag("verified q%u: %s (avail %u used %u inflight %u)",
			     i, vdev.qs[i].doing, vdev.qs[i].vq->avail_idx,
			     vblk_vq_used_idx(vdev.qs[i].vq),
			     vdev.qs[i].vq->inflight);
		for (unsigned int i = 0; i < cdev.nq; i++)
			diag("chaos q%u: %s", i, cdev.qs[i].doing);
		dump_tasks();
	}
	return ok;
}

/*
 * Between rounds, with every verified queue idle: stop them, ack a new
 * subset of DISCARD, WRITE_ZEROES and SECURE_ERASE (each half of the
 * time) and restart them where they were. The model and the valid
 * requests follow what is acked.
 */
static void renegotiate(struct fdev *fd, struct rng *r)
{
	static const unsigned int bits[] = {
		VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_WRITE_ZEROES,
		VIRTIO_BLK_F_SECURE_ERASE,
	};
	unsigned int base[VHOST_BLK_MAX_QUEUES];
	uint64_t f = fd->d->features;

	for (unsigned int i = 0; i < ARRAY_SIZE(bits); i++) {
		uint64_t b = 1ULL << bits[i];

		if (rng_pct(r, 50) && (fd->d->features_offered & b))
			f |= b;
		else
			f &= ~b;
	}
	for (unsigned int i = 0; i < fd->nq; i++)
		if (vblk_vq_stop(fd->qs[i].vq, &base[i]))
			FAIL(P_VERIFY, "q%u: GET_VRING_BASE between rounds "
			     "failed", i);
	if (vhost_blk_set_features(fd->d->fd, f))
		FAIL(P_VERIFY, "SET_FEATURES %#" PRIx64 " with every queue "
		     "stopped failed", f);
	else
		fd->d->features = f;
	for (unsigned int i = 0; i < fd->nq; i++)
		if (vblk_vq_restart(fd->qs[i].vq, base[i]))
			FAIL(P_VERIFY, "q%u: restart at %u after SET_FEATURES "
			     "failed", i, base[i]);
}

static uint64_t sum_kind(int k)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < vdev.nq; i++)
		n += vdev.qs[i].kinds[k];
	for (unsigned int i = 0; i < cdev.nq; i++)
		n += cdev.qs[i].kinds[k];
	return n;
}

static uint64_t sum_hostile(void)
{
	uint64_t n = 0;

	for (int k = 0; k < NKINDS; k++)
		if (!kind_table[k].benign && k != C_SCRIBBLE)
			n += sum_kind(k);
	return n;
}

#define SUM_FIELD(f) ({							\
	uint64_t _n = 0;						\
	for (unsigned int _i = 0; _i < vdev.nq; _i++)			\
		_n += vdev.qs[_i].f;					\
	for (unsigned int _i = 0; _i < cdev.nq; _i++)			\
		_n += cdev.qs[_i].f;					\
	_n;								\
})

static void usage(const char *prog, int rc)
{
	fprintf(rc ? stderr : stdout,
		"usage: %s [options]\n"
		"  --seed N          PRNG seed (default 1)\n"
		"  --rounds N        rounds (default 8)\n"
		"  --batches N       batches per queue per round (default 40)\n"
		"  --hostile N       stop after the round that reaches N hostile requests\n"
		"  --time SEC        stop after the round that passes SEC seconds\n"
		"  --long            run until --time (default 3600 s) by hand\n"
		"  --queues N        verified queues (1..14, default 3)\n"
		"  --chaos-queues N  chaos queues (0..4, default 2)\n"
		"  --chaos-pause US  sleep every 8 chaos steps (default 1000)\n"
		"  --dev PATH        verified backend (default /dev/ram0)\n"
		"  --chaos-dev PATH  chaos backend (default /dev/ram1)\n"
		"  --verbose         a line per round\n"
		"  --no-giant        no giant aliased chains\n"
		"  --no-renegotiate  keep the acked DISCARD-like set\n",
		prog);
	exit(rc);
}

static void parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "batches", required_argument, NULL, 'b' },
		{ "hostile", required_argument, NULL, 'H' },
		{ "time", required_argument, NULL, 't' },
		{ "long", no_argument, NULL, 'L' },
		{ "queues", required_argument, NULL, 'q' },
		{ "chaos-queues", required_argument, NULL, 'c' },
		{ "chaos-pause", required_argument, NULL, 'p' },
		{ "dev", required_argument, NULL, 'd' },
		{ "chaos-dev", required_argument, NULL, 'D' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "no-giant", no_argument, NULL, 'G' },
		{ "no-renegotiate", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool is_long = false;
	uint64_t v = 0;
	int c;

	while ((c = getopt_long(argc, argv, "s:r:b:H:t:Lq:c:p:d:D:vGRh", opts,
				NULL)) != -1) {
		if (strchr("srbHtqcp", c) && parse_u64(optarg, &v))
			usage(argv[0], 2);
		switch (c) {
		case 's':
			cfg.seed = v;
			break;
		case 'r':
			cfg.rounds = v;
			break;
		case 'b':
			cfg.batches = v;
			break;
		case 'H':
			cfg.hostile_target = v;
			break;
		case 't':
			cfg.time_limit = v;
			break;
		case 'L':
			is_long = true;
			break;
		case 'q':
			cfg.queues = v;
			break;
		case 'c':
			cfg.chaos_queues = v;
			break;
		case 'p':
			cfg.chaos_pause = v;
			break;
		case 'd':
			cfg.dev = optarg;
			break;
		case 'D':
			cfg.chaos_dev = optarg;
			break;
		case 'v':
			cfg.verbose = true;
			break;
		case 'G':
			cfg.giant = false;
			break;
		case 'R':
			cfg.renegotiate = false;
			break;
		case 'h':
			usage(argv[0], 0);
			break;
		default:
			usage(argv[0], 2);
		}
	}
	if (is_long) {
		cfg.rounds = UINT64_MAX;
		if (!cfg.time_limit)
			cfg.time_limit = 3600;
	}
	if (!cfg.queues || cfg.queues > 14 || cfg.chaos_queues > 4 ||
	    !cfg.batches)
		usage(argv[0], 2);
}

static void report(double secs, uint64_t rounds)
{
	uint64_t hostile = sum_hostile(), sent = SUM_FIELD(sent);

	diag("seed %" PRIu64 ", %" PRIu64 " rounds of %" PRIu64
	     " batches, %u verified + %u chaos queues, %.1f s", cfg.seed,
	     rounds, cfg.batches, vdev.nq, cdev.nq, secs);
	diag("requests sent (chains and heads): %" PRIu64 " (%.0f/s)", sent,
	     sent / secs);
	diag("valid requests verified: %" PRIu64 " (%" PRIu64
	     " sectors compared)", SUM_FIELD(valid_ok),
	     SUM_FIELD(verified_sectors));
	diag("hostile requests: %" PRIu64 " (%.0f/s)", hostile, hostile / secs);
	diag("refused (used len 0): %" PRIu64 ", accepted hostile: %" PRIu64
	     ", err signals: %" PRIu64 ", used entries: %" PRIu64,
	     SUM_FIELD(refused), SUM_FIELD(accepted), SUM_FIELD(err_signals),
	     SUM_FIELD(used_entries));
	diag("descriptors rewritten in flight: %" PRIu64, stat_get(&scribbles));
	diag("giant chains: %" PRIu64 " direct, %" PRIu64 " DISCARD-like ones "
	     "not acked", SUM_FIELD(giant_direct), SUM_FIELD(giant_unacked));
	for (int k = 0; k < NKINDS; k++)
		if (k != C_SCRIBBLE)
			diag("  %9" PRIu64 "  %s", sum_kind(k), kind_table[k].name);
}

int main(int argc, char **argv)
{
	unsigned int nthreads;
	uint64_t t0, round = 0;
	pthread_t scrib;
	struct rng feat;
	int ret;

	parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (access(VHOST_BLK_DEV_PATH, F_OK)) {
		printf("TAP version 13\n1..0 # SKIP %s: %s\n",
		       VHOST_BLK_DEV_PATH, strerror(errno));
		return 4;
	}
	tap_header(NPROPS + 1);
	ret = setup_vdev();
	if (!ret && cfg.chaos_queues)
		ret = setup_cdev();
	tap_result(&tap, !ret, "setup: %s (%u queues) and %s (%u chaos "
		   "queues)", cfg.dev, cfg.queues, cfg.chaos_dev,
		   cfg.chaos_queues);
	if (ret) {
		diag("setup failed: %s", strerror(-ret));
		for (int p = 0; p < NPROPS; p++)
			tap_result(&tap, false, "%s", prop_name[p]);
		return 1;
	}
	diag("verified: %s, %" PRIu64 " sectors, scratch [0, %" PRIu64
	     "), features %#" PRIx64, cfg.dev, vdev.cap, vdev.scratch_end,
	     vdev.features);

	for (unsigned int i = 0; i < vdev.nq; i++)
		pthread_create(&vdev.qs[i].thread, NULL, verified_thread,
			       &vdev.qs[i]);
	for (unsigned int i = 0; i < cdev.nq; i++)
		pthread_create(&cdev.qs[i].thread, NULL, chaos_thread,
			       &cdev.qs[i]);
	if (cdev.nq)
		pthread_create(&scrib, NULL, scribbler_thread, NULL);
	nthreads = vdev.nq + cdev.nq + (cdev.nq ? 1 : 0);

	t0 = now_ns();
	rng_seed(&feat, cfg.seed, 9, 9);
	for (round = 0; round < cfg.rounds && !g_abort;) {
		set_phase(PH_ACTIVE);
		if (!wait_phase(nthreads, "fuzz phase"))
			goto hung;
		set_phase(PH_VERIFY);
		if (!wait_phase(nthreads, "verification phase"))
			goto hung;
		round++;
		for (unsigned int i = 0; i < vdev.nq; i++)
			if (ro_checksum(vdev.qs[i].arena, GARBAGE_SIZE) !=
			    vdev.qs[i].ro_sum)
				FAIL(P_RO, "q%u: read-only zone changed in "
				     "round %" PRIu64, i, round);
		if (cfg.verbose || round % 4 == 0)
			diag("round %" PRIu64 ": %.1f s, %" PRIu64
			     " hostile, %" PRIu64 " valid verified",
			     round, secs_since(t0), sum_hostile(),
			     SUM_FIELD(valid_ok));
		if (cfg.hostile_target && sum_hostile() >= cfg.hostile_target)
			break;
		if (cfg.time_limit && secs_since(t0) >= cfg.time_limit)
			break;
		if (cfg.renegotiate)
			renegotiate(&vdev, &feat);
	}
	set_phase(PH_EXIT);
	for (unsigned int i = 0; i < vdev.nq; i++)
		pthread_join(vdev.qs[i].thread, NULL);
	for (unsigned int i = 0; i < cdev.nq; i++)
		pthread_join(cdev.qs[i].thread, NULL);
	if (cdev.nq)
		pthread_join(scrib, NULL);

	report(secs_since(t0), round);
	if (tap.fail_dropped)
		diag("%lu more failure messages not shown", tap.fail_dropped);
	for (int p = 0; p < NPROPS; p++)
		tap_result(&tap, !prop_fail[p], "%s%s", prop_name[p],
			   prop_fail[p] ? " (see FAIL lines)" : "");
	vblk_dev_destroy(vdev.d);
	if (cdev.d)
		vblk_dev_destroy(cdev.d);
	return tap.failed ? 1 : 0;

hung:
	g_abort = 1;
	report(secs_since(t0), round);
	for (int p = 0; p < NPROPS; p++)
		tap_result(&tap, !prop_fail[p], "%s", prop_name[p]);
	fflush(stdout);
	_exit(1);
}
