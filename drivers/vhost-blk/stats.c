// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk: what a device is doing. Counters per queue, kept by the
 * worker under the queue's mutex and summed per device when read, and
 * the tracepoints of vhost_blk_trace.h.
 *
 * The counters are read through /proc/PID/fdinfo/FD of an open
 * /dev/vhost-blk: whoever may read that file (ptrace read access to the
 * owner) sees them, debugfs need not be mounted or allowed by lockdown,
 * and no new ioctl has to be reached through the owner's fd.
 */
#include <linux/seq_file.h>
#include <linux/fs.h>

#include "vhost_blk.h"

#define CREATE_TRACE_POINTS
#include "vhost_blk_trace.h"

/* The counter of request type @type (VIRTIO_BLK_T_*, VHOST_BLK_T_NONE). */
static unsigned int vhost_blk_stat_type(u32 type)
{
	switch (type) {
	case VIRTIO_BLK_T_IN:
		return VHOST_BLK_STAT_IN;
	case VIRTIO_BLK_T_OUT:
		return VHOST_BLK_STAT_OUT;
	case VIRTIO_BLK_T_FLUSH:
		return VHOST_BLK_STAT_FLUSH;
	case VIRTIO_BLK_T_GET_ID:
		return VHOST_BLK_STAT_GET_ID;
	case VIRTIO_BLK_T_DISCARD:
		return VHOST_BLK_STAT_DISCARD;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return VHOST_BLK_STAT_WRITE_ZEROES;
	case VIRTIO_BLK_T_SECURE_ERASE:
		return VHOST_BLK_STAT_SECURE_ERASE;
	default:
		return VHOST_BLK_STAT_OTHER;
	}
}

/**
 * vhost_blk_stat_ended() - count a request put on the used ring
 * @vq: its queue, with the mutex held
 * @req: the request, with its final status
 */
void vhost_blk_stat_ended(struct vhost_blk_vq *vq,
			  const struct vhost_blk_req *req)
{
	struct vhost_blk_vq_stats *s = &vq->stats;

	u64_stats_update_begin(&s->syncp);
	u64_stats_inc(&s->reqs[vhost_blk_stat_type(req->type)]);
	if (req->status < ARRAY_SIZE(s->status))
		u64_stats_inc(&s->status[req->status]);
	if (req->status == VIRTIO_BLK_S_OK) {
		if (req->type == VIRTIO_BLK_T_IN)
			u64_stats_add(&s->bytes_read, req->data_len);
		else if (req->type == VIRTIO_BLK_T_OUT)
			u64_stats_add(&s->bytes_written, req->data_len);
	}
	u64_stats_update_end(&s->syncp);
	trace_vhost_blk_req_done(vq->dev->id, vq->index, req->head, req->type,
				 req->status, req->used_len);
}

/**
 * vhost_blk_stat_inc() - count one event of a queue
 * @vq: the queue, with its mutex held
 * @counter: one of @vq->stats
 */
void vhost_blk_stat_inc(struct vhost_blk_vq *vq, u64_stats_t *counter)
{
	u64_stats_update_begin(&vq->stats.syncp);
	u64_stats_inc(counter);
	u64_stats_update_end(&vq->stats.syncp);
}

/**
 * vhost_blk_stat_poll() - count one busy-poll window
 * @vq: the queue, with its mutex held
 * @ns: how long it polled
 * @hit: whether the guest posted a chain meanwhile
 */
void vhost_blk_stat_poll(struct vhost_blk_vq *vq, u64 ns, bool hit)
{
	struct vhost_blk_vq_stats *s = &vq->stats;

	u64_stats_update_begin(&s->syncp);
	u64_stats_add(&s->poll_ns, ns);
	if (hit)
		u64_stats_inc(&s->poll_hits);
	u64_stats_update_end(&s->syncp);
}

/**
 * vhost_blk_chain_refused() - count and trace an avail entry refused
 * @vq: its queue, with the mutex held
 * @head: the head the guest posted
 * @err: why, as a negative errno
 */
void vhost_blk_chain_refused(struct vhost_blk_vq *vq, u16 head, int err)
{
	vhost_blk_stat_inc(vq, &vq->stats.refused);
	trace_vhost_blk_chain_refused(vq->dev->id, vq->index, head, err);
}

/**
 * vhost_blk_trace_start() - trace a request handed to the backend
 * @vq: its queue, with the mutex held
 * @req: the request
 * @sector: its first sector (IN, OUT, or as the guest gave it)
 */
void vhost_blk_trace_start(struct vhost_blk_vq *vq,
			   const struct vhost_blk_req *req, u64 sector)
{
	trace_vhost_blk_req_start(vq->dev->id, vq->index, req->head,
				  req->type, sector, req->data_len);
}

/* A snapshot of one queue's counters, or the sum of several. */
struct vhost_blk_stat_snap {
	u64 reqs[VHOST_BLK_STAT_NR];
	u64 status[VIRTIO_BLK_S_UNSUPP + 1];
	u64 bytes_read, bytes_written, refused, calls, poll_ns, poll_hits;
	u64 direct, kicks, inflight;
};

static void vhost_blk_stat_read(struct vhost_blk_vq *vq,
				struct vhost_blk_stat_snap *sum)
{
	const struct vhost_blk_vq_stats *s = &vq->stats;
	struct vhost_blk_stat_snap v;
	unsigned int start, i;

	do {
		start = u64_stats_fetch_begin(&s->syncp);
		for (i = 0; i < VHOST_BLK_STAT_NR; i++)
			v.reqs[i] = u64_stats_read(&s->reqs[i]);
		for (i = 0; i < ARRAY_SIZE(v.status); i++)
			v.status[i] = u64_stats_read(&s->status[i]);
		v.bytes_read = u64_stats_read(&s->bytes_read);
		v.bytes_written = u64_stats_read(&s->bytes_written);
		v.refused = u64_stats_read(&s->refused);
		v.calls = u64_stats_read(&s->calls);
		v.poll_ns = u64_stats_read(&s->poll_ns);
		v.poll_hits = u64_stats_read(&s->poll_hits);
		v.direct = u64_stats_read(&s->direct);
	} while (u64_stats_fetch_retry(&s->syncp, start));
	v.kicks = atomic64_read(&vq->kicks);
	v.inflight = atomic_read(&vq->inflight);

	for (i = 0; i < VHOST_BLK_STAT_NR; i++)
		sum->reqs[i] += v.reqs[i];
	for (i = 0; i < ARRAY_SIZE(v.status); i++)
		sum->status[i] += v.status[i];
	sum->bytes_read += v.bytes_read;
	sum->bytes_written += v.bytes_written;
	sum->refused += v.refused;
	sum->calls += v.calls;
	sum->poll_ns += v.poll_ns;
	sum->poll_hits += v.poll_hits;
	sum->direct += v.direct;
	sum->kicks += v.kicks;
	sum->inflight += v.inflight;
}

static void vhost_blk_stat_show(struct seq_file *m, const char *name,
				const struct vhost_blk_stat_snap *v)
{
	seq_printf(m, "%s:\tin=%llu out=%llu flush=%llu get_id=%llu discard=%llu write_zeroes=%llu secure_erase=%llu other=%llu",
		   name, v->reqs[VHOST_BLK_STAT_IN],
		   v->reqs[VHOST_BLK_STAT_OUT], v->reqs[VHOST_BLK_STAT_FLUSH],
		   v->reqs[VHOST_BLK_STAT_GET_ID],
		   v->reqs[VHOST_BLK_STAT_DISCARD],
		   v->reqs[VHOST_BLK_STAT_WRITE_ZEROES],
		   v->reqs[VHOST_BLK_STAT_SECURE_ERASE],
		   v->reqs[VHOST_BLK_STAT_OTHER]);
	seq_printf(m, " ok=%llu ioerr=%llu unsupp=%llu refused=%llu",
		   v->status[VIRTIO_BLK_S_OK], v->status[VIRTIO_BLK_S_IOERR],
		   v->status[VIRTIO_BLK_S_UNSUPP], v->refused);
	seq_printf(m, " bytes_read=%llu bytes_written=%llu inflight=%llu kicks=%llu calls=%llu poll_ns=%llu poll_hits=%llu direct=%llu\n",
		   v->bytes_read, v->bytes_written, v->inflight, v->kicks,
		   v->calls, v->poll_ns, v->poll_hits, v->direct);
}

/*
 * The auxiliary workers of a file backend, one per queue worker: how many
 * run and how many were killed with the owner, how many requests they
 * ran, and how many the queue workers ran themselves for want of one.
 */
static void vhost_blk_aux_show(struct seq_file *m, struct vhost_blk_dev *dev)
{
	unsigned int i, running = 0, killed = 0;

	lockdep_assert_held(&dev->mutex);
	spin_lock(&dev->aux_lock);
	for (i = 0; i < VHOST_BLK_MAX_WORKERS; i++) {
		struct vhost_blk_worker *w = dev->workers[i];

		if (!w || !w->aux)
			continue;
		if (w->aux->aux_dead)
			killed++;
		else
			running++;
	}
	spin_unlock(&dev->aux_lock);
	seq_printf(m, "aux:\trunning=%u killed=%u queued=%lld inline=%lld\n",
		   running, killed, atomic64_read(&dev->aux_queued),
		   atomic64_read(&dev->aux_inline));
}

/**
 * vhost_blk_show_fdinfo() - /proc/PID/fdinfo/FD of an open device
 * @m: the fdinfo file
 * @f: the device file
 *
 * The device id, owner, acked features, backend and auxiliary workers,
 * then one "total:" line and one "vqN:" line for every queue given a
 * size, each as key=value counters (Documentation/vhost-blk.rst,
 * "Observability").
 */
void vhost_blk_show_fdinfo(struct seq_file *m, struct file *f)
{
	struct vhost_blk_dev *dev = f->private_data;
	struct vhost_blk_stat_snap total = {};
	char name[16];
	unsigned int i;

	/* The owner may be tearing down or swapping the backend: not now. */
	if (mutex_lock_interruptible(&dev->mutex))
		return;
	seq_printf(m, "vhost-blk-id:\t%u\n", dev->id);
	seq_printf(m, "owner:\t%s\n", dev->mm ? "set" : "none");
	seq_printf(m, "features:\t%#llx\n", dev->acked_features);
	seq_puts(m, "backend:\t");
	if (dev->bfile)
		seq_file_path(m, dev->bfile, "\n");
	else
		seq_puts(m, "none");
	seq_puts(m, "\n");
	vhost_blk_aux_show(m, dev);
	for (i = 0; i < VHOST_BLK_MAX_VQS; i++) {
		struct vhost_blk_vq *vq = &dev->vqs[i];

		/*
		 * Requests that posted themselves are counted when the
		 * worker takes them back: have it do so for the next read.
		 */
		if (!llist_empty(&vq->done))
			vhost_blk_vq_queue_work(vq, &vq->done_work);
		if (vq->num)
			vhost_blk_stat_read(vq, &total);
	}
	vhost_blk_stat_show(m, "total", &total);
	for (i = 0; i < VHOST_BLK_MAX_VQS; i++) {
		struct vhost_blk_stat_snap one = {};

		if (!dev->vqs[i].num)
			continue;
		vhost_blk_stat_read(&dev->vqs[i], &one);
		snprintf(name, sizeof(name), "vq%u", i);
		vhost_blk_stat_show(m, name, &one);
	}
	mutex_unlock(&dev->mutex);
}
