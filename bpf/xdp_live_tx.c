/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Transmit side of `enatool gen --engine xdp-live`: user space runs this program with
 * BPF_PROG_RUN and BPF_F_TEST_XDP_LIVE_FRAMES on one template frame per size class, and
 * every run returns XDP_TX, which the kernel turns into a redirect out of the interface
 * named in the run's context (ingress_ifindex). No AF_XDP socket, no copy from user space.
 *
 * Per run the program rewrites the per-frame fields of enatool's probe header (flow id,
 * sequence number, send timestamp) and the UDP/TCP ports of the flow, and fixes the L4
 * checksum incrementally (RFC 1624), reading the old words from the frame itself, so it does
 * not matter whether the kernel hands it a fresh copy of the template or a recycled page.
 *
 * Per-queue state (indexed by the run's rx_queue_index; one user thread per slot):
 * frame counter k, and the queue's flows first, first+stride, ... (n of them). Frame k of
 * queue q is flow first + (k % n) * stride with sequence k / n.
 *
 * Limits (documented in enatool gen --help): flows may differ in ports only; offsets are
 * compile-time constants (L4_OFF, PAYLOAD_OFF, L4_CSUM_OFF) of one header layout.
 */
#include "enat_parse.h"

#ifndef L4_OFF
#define L4_OFF 34
#endif
#ifndef PAYLOAD_OFF
#define PAYLOAD_OFF 42
#endif
#ifndef L4_CSUM_OFF
#define L4_CSUM_OFF 40
#endif
#ifndef IS_UDP
#define IS_UDP 1
#endif
#ifndef MAX_FLOWS
#define MAX_FLOWS 65536
#endif

struct live_flow {
	__u16 sport;    /* network order */
	__u16 dport;
};

struct live_queue {
	__u64 k;        /* frames produced on this queue */
	__u32 first;
	__u32 n;
	__u32 stride;
	__u32 pad;
};

BPF_ARRAY(flows, struct live_flow, MAX_FLOWS);
BPF_ARRAY(lqueues, struct live_queue, ENAT_MAX_QUEUES);

static __always_inline __u32 put16(__u16 *p, __u16 v, __u32 acc)
{
	__u16 old = *p;

	*p = v;
	return acc + (__u16)~old + v;
}

static __always_inline __u32 put32(__u16 *p, __u32 v_net, __u32 acc)
{
	acc = put16(p, (__u16)(v_net & 0xffff), acc);
	return put16(p + 1, (__u16)(v_net >> 16), acc);
}

int xdp_live_tx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 q = ctx->rx_queue_index;
	struct live_queue *lq = lqueues.lookup(&q);
	struct live_flow *fl;
	__u16 *l4, *probe, *csum;
	__u64 k, seq, ts;
	__u32 f, n, acc = 0;

	if (!lq)
		return XDP_TX;
	n = lq->n;
	if (n == 0)
		return XDP_TX;
	k = lq->k;
	lq->k = k + 1;
	f = lq->first + (__u32)(k % n) * lq->stride;
	seq = k / n;
	fl = flows.lookup(&f);
	if (!fl)
		return XDP_TX;
	if (data + PAYLOAD_OFF > data_end)
		return XDP_TX;
	l4 = data + L4_OFF;
	csum = data + L4_CSUM_OFF;
	acc = put16(l4, fl->sport, acc);
	acc = put16(l4 + 1, fl->dport, acc);
	probe = data + PAYLOAD_OFF;
	if ((void *)(probe + 8) <= data_end) {       /* short probe: magic, flow, seq */
		acc = put32(probe + 2, bpf_htonl(f), acc);
		acc = put32(probe + 4, bpf_htonl((__u32)(seq >> 32)), acc);
		acc = put32(probe + 6, bpf_htonl((__u32)seq), acc);
		if ((void *)(probe + 12) <= data_end) { /* full probe: + timestamp */
			ts = bpf_ktime_get_ns();
			acc = put32(probe + 8, bpf_htonl((__u32)(ts >> 32)), acc);
			acc = put32(probe + 10, bpf_htonl((__u32)ts), acc);
		}
	}
	{
		__u32 s = (__u16)~(*csum) + acc;
		__u16 c;

		s = (s & 0xffff) + (s >> 16);
		s = (s & 0xffff) + (s >> 16);
		if (s == 0)
			s = 0xffff;
		c = (__u16)~s;
		if (IS_UDP && c == 0)
			c = 0xffff;
		*csum = c;
	}
	return XDP_TX;
}
