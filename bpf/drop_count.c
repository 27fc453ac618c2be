/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The benchmark peer's sink: count every frame per Rx queue and drop it, so the cost
 * measured is the sender's and the driver's, not the receiving stack's.
 */
#include "enat_parse.h"

BPF_PERCPU_ARRAY(qstats, struct enat_qstats, ENAT_MAX_QUEUES);

int drop_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 q = ctx->rx_queue_index;
	struct enat_qstats *s = qstats.lookup(&q);

	if (s) {
		s->rx_packets++;
		s->rx_bytes += data_end - data;
		s->dropped++;
	}
	return XDP_DROP;
}
