/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the faults_* selftests (one fixture each): backend I/O
 * errors, injected faults, and teardown with thousands of requests in
 * flight. Every request must end VIRTIO_BLK_S_OK with correct data or
 * VIRTIO_BLK_S_IOERR; nothing may hang.
 */
#ifndef VHOST_BLK_FAULTS_H
#define VHOST_BLK_FAULTS_H

#include <stdarg.h>

#include "kselftest_harness.h"
#include "vhost_blk_test.h"

/* Anything slower than this is a hang for our purposes. */
#define PROMPT_MS		5000

/* ---- files, counters, tasks ---- */

/*
 * Run a shell command; its output goes to @out, on one line. The exit
 * status, or -1.
 */
static inline __printf(3, 4) int run_cmd(char *out, size_t len,
					 const char *fmt, ...)
{
	char cmd[300], line[256];
	size_t used = 0;
	va_list ap;
	FILE *f;
	int st;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "{ %s; } 2>&1", line);
	if (out && len)
		out[0] = 0;
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (out && used + 1 < len) {
			snprintf(out + used, len - used, "%s", line);
			used = strlen(out);
		}
	}
	st = pclose(f);
	for (char *p = out; p && *p; p++)
		if (*p == '\n')
			*p = p[1] ? ' ' : 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * Pages pinned right now (FOLL_PIN) in the whole system. The
 * per-CPU deltas are folded into the totals first, so the count is exact.
 */
static inline long pinned_pages(void)
{
	long acquired = -1, released = -1;
	char line[128];
	FILE *f;

	write_attr("/proc/sys/vm", "stat_refresh", "1");
	f = fopen("/proc/vmstat", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "nr_foll_pin_acquired ", 21))
			acquired = atol(line + 21);
		else if (!strncmp(line, "nr_foll_pin_released ", 21))
			released = atol(line + 21);
	}
	fclose(f);
	return acquired < 0 || released < 0 ? -1 : acquired - released;
}

static inline long module_refs(void)
{
	char buf[32];

	if (read_attr("/sys/module/vhost_blk", "refcnt", buf, sizeof(buf)))
		return -1;
	return atol(buf);
}

struct owner_scan {
	pid_t pid;
	const char *mif;
	int n;
};

static inline int owner_worker_one(const char *dir,
				   int tid __attribute__((unused)),
				   const char *comm, void *arg)
{
	struct owner_scan *os = arg;

	if (!worker_of(comm, os->pid))
		return 0;
	os->n++;
	if (os->mif)
		write_attr(dir, "make-it-fail", os->mif);
	return 0;
}

/*
 * Threads and kernel threads of the whole system that are workers of
 * owner @pid. With @mif, each one's make-it-fail is set to it.
 */
static inline int owner_workers(pid_t pid, const char *mif)
{
	struct owner_scan os = { .pid = pid, .mif = mif };
	int ret = for_each_task(owner_worker_one, &os);

	return ret < 0 ? ret : os.n;
}

/* Poll @expr every 20 ms for up to @ms; true once it holds. */
#define EVENTUALLY(expr, ms) ({						\
	bool __ok = false;						\
	for (int __i = 0; __i <= (ms) / 20; __i++) {			\
		if ((expr)) {						\
			__ok = true;					\
			break;						\
		}							\
		usleep(20000);						\
	}								\
	__ok;								\
})

/* ---- requests ---- */

/* One request of a batch, with its own buffer in guest memory. */
struct op {
	uint32_t type;
	uint64_t sector;
	uint32_t len;
	uint32_t skew;		/* buffer start past a page boundary, bytes */
	uint64_t seed;		/* pattern a write carries */
	unsigned int q;
	uint64_t gpa;
	struct vblk_req *r;
	int status;		/* VIRTIO_BLK_S_*, -1 until completed */
};

static inline void *op_buf(struct vblk_dev *d, const struct op *op)
{
	return vblk_gpa_to_hva(d, op->gpa, op->len);
}

static inline void free_ops(struct vblk_dev *d, struct op *ops, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		if (ops[i].gpa)
			vblk_free(d, ops[i].gpa - ops[i].skew,
				  ops[i].len + ops[i].skew);
		vblk_req_free(d, ops[i].r);
		ops[i].gpa = 0;
		ops[i].r = NULL;
	}
}

/*
 * Post every op on its queue (indirect), kick every queue once, wait for
 * all of them. Writes carry their pattern; read buffers are poisoned. 0,
 * or -errno when a request could not be posted or not all completed
 * within @ms per queue.
 */
static inline int run_ops(struct vblk_dev *d, struct op *ops, unsigned int n,
			  int ms)
{
	unsigned int i, q;
	int ret;

	for (i = 0; i < n; i++) {
		struct op *op = &ops[i];

		op->status = -1;
		op->r = vblk_req_alloc(d);
		if (!op->r)
			return -ENOMEM;
		vblk_req_reset(op->r, op->type, op->sector);
		if (op->len) {
			if (vblk_alloc(d, op->len + op->skew, 4096, &op->gpa))
				return -ENOMEM;
			op->gpa += op->skew;
			if (op->type == VIRTIO_BLK_T_OUT)
				vblk_pattern_fill(op_buf(d, op), op->len,
						  op->sector, op->seed);
			else
				memset(op_buf(d, op), 0xa5, op->len);
			vblk_req_add_data(d, op->r, op->gpa, op->len);
		}
		ret = vblk_req_submit(&d->vqs[op->q], op->r, VBLK_ADD_INDIRECT);
		if (ret < 0)
			return ret;
	}
	for (q = 0; q < d->num_queues; q++) {
		ret = vblk_vq_kick(&d->vqs[q]);
		if (ret)
			return ret;
	}
	for (q = 0; q < d->num_queues; q++) {
		ret = vblk_vq_drain(&d->vqs[q], ms);
		if (ret)
			return ret;
	}
	for (i = 0; i < n; i++)
		ops[i].status = ops[i].r->done ? ops[i].r->status : -1;
	return 0;
}

/* Write @n slots of @len bytes, @stride sectors apart, straight to @path. */
static inline int fill_direct(const char *path, uint64_t first, unsigned int n,
			      unsigned int stride, uint32_t len, uint64_t seed)
{
	uint8_t *buf = malloc(len);
	int ret = buf ? 0 : -ENOMEM;

	for (unsigned int i = 0; !ret && i < n; i++) {
		uint64_t sector = first + (uint64_t)i * stride;

		vblk_pattern_fill(buf, len, sector, seed);
		ret = blk_direct_io(path, true, sector * 512, buf, len);
	}
	free(buf);
	return ret;
}

/* ---- fault injection knobs ---- */

struct knob {
	const char *name;
	char old[64];
	bool saved;
};

/* Remember the knobs of @dir that exist; -errno if a needed one is missing. */
static inline int knobs_save(const char *dir, struct knob *k, unsigned int n,
			     unsigned int needed)
{
	for (unsigned int i = 0; i < n; i++) {
		int ret = read_attr(dir, k[i].name, k[i].old,
				    sizeof(k[i].old));

		k[i].saved = !ret;
		if (ret && i < needed)
			return ret;
	}
	return 0;
}

/* Put them back, probability (the first) last: it turns injection on. */
static inline void knobs_restore(const char *dir, struct knob *k,
				 unsigned int n)
{
	write_attr(dir, "probability", "0");
	for (unsigned int i = n; i-- > 0;)
		if (k[i].saved)
			write_attr(dir, k[i].name, k[i].old);
}

/* Silent, unlimited injection at probability 0 for now. */
static inline int knobs_quiet(const char *dir)
{
	static const char *const set[][2] = {
		{ "probability", "0" }, { "verbose", "0" },
		{ "interval", "1" }, { "times", "-1" }, { "space", "0" },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(set); i++) {
		int ret = write_attr(dir, set[i][0], set[i][1]);

		if (ret)
			return ret;
	}
	return 0;
}

#endif /* VHOST_BLK_FAULTS_H */
