/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of vhost-blk: a request started, ended, or a chain refused.
 * A device is named by its id (fdinfo "id:"), a queue by its index, a
 * request by its chain head.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM vhost_blk

#if !defined(_VHOST_BLK_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _VHOST_BLK_TRACE_H

#include <linux/tracepoint.h>

TRACE_EVENT(vhost_blk_req_start,
	    TP_PROTO(u32 dev, unsigned int vq, u16 id, u32 type, u64 sector,
		     u32 len),
	    TP_ARGS(dev, vq, id, type, sector, len),
	    TP_STRUCT__entry(__field(u32, dev)
			     __field(unsigned int, vq)
			     __field(u16, id)
			     __field(u32, type)
			     __field(u64, sector)
			     __field(u32, len)),
	    TP_fast_assign(__entry->dev = dev;
			   __entry->vq = vq;
			   __entry->id = id;
			   __entry->type = type;
			   __entry->sector = sector;
			   __entry->len = len;),
	    TP_printk("dev=%u vq=%u id=%u type=%u sector=%llu len=%u",
		      __entry->dev, __entry->vq, __entry->id, __entry->type,
		      __entry->sector, __entry->len)
);

TRACE_EVENT(vhost_blk_req_done,
	    TP_PROTO(u32 dev, unsigned int vq, u16 id, u32 type, u8 status,
		     u32 used_len),
	    TP_ARGS(dev, vq, id, type, status, used_len),
	    TP_STRUCT__entry(__field(u32, dev)
			     __field(unsigned int, vq)
			     __field(u16, id)
			     __field(u32, type)
			     __field(u8, status)
			     __field(u32, used_len)),
	    TP_fast_assign(__entry->dev = dev;
			   __entry->vq = vq;
			   __entry->id = id;
			   __entry->type = type;
			   __entry->status = status;
			   __entry->used_len = used_len;),
	    TP_printk("dev=%u vq=%u id=%u type=%u status=%u used_len=%u",
		      __entry->dev, __entry->vq, __entry->id, __entry->type,
		      __entry->status, __entry->used_len)
);

TRACE_EVENT(vhost_blk_chain_refused,
	    TP_PROTO(u32 dev, unsigned int vq, u16 id, int err),
	    TP_ARGS(dev, vq, id, err),
	    TP_STRUCT__entry(__field(u32, dev)
			     __field(unsigned int, vq)
			     __field(u16, id)
			     __field(int, err)),
	    TP_fast_assign(__entry->dev = dev;
			   __entry->vq = vq;
			   __entry->id = id;
			   __entry->err = err;),
	    TP_printk("dev=%u vq=%u id=%u err=%d", __entry->dev, __entry->vq,
		      __entry->id, __entry->err)
);

#endif /* _VHOST_BLK_TRACE_H */

/* Out of tree: found through the module's include path. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE vhost_blk_trace
#include <trace/define_trace.h>
