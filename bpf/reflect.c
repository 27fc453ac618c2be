/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Latency reflector: a UDP frame to REFLECT_PORT whose payload starts with enatool's probe
 * magic goes straight back out of the interface it came in on (XDP_TX) with Ethernet, IP
 * addresses and UDP ports swapped. Swapping words inside the checksummed ranges leaves the
 * IPv4 header and UDP checksums valid, so nothing is recomputed. Anything else passes.
 */
#include "enat_parse.h"

#ifndef REFLECT_PORT
#define REFLECT_PORT 7
#endif

BPF_PERCPU_ARRAY(qstats, struct enat_qstats, ENAT_MAX_QUEUES);

static __always_inline void swap_bytes(__u8 *a, __u8 *b, int n)
{
#pragma unroll
	for (int i = 0; i < 16; i++) {
		if (i < n) {
			__u8 t = a[i];

			a[i] = b[i];
			b[i] = t;
		}
	}
}

int reflect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 q = ctx->rx_queue_index;
	struct enat_qstats *s = qstats.lookup(&q);
	struct enat_pkt p = {};
	struct ethhdr *eth = data;
	struct udphdr *uh;

	if (s) {
		s->rx_packets++;
		s->rx_bytes += data_end - data;
	}
	if (enat_parse(data, data_end, &p) < 0 || p.l4_proto != IPPROTO_UDP ||
	    p.dport != bpf_htons(REFLECT_PORT) || !enat_has_probe(&p, data_end)) {
		if (s)
			s->passed++;
		return XDP_PASS;
	}
	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	swap_bytes(eth->h_dest, eth->h_source, ETH_ALEN);
	if (p.ipv6) {
		struct ipv6hdr *ip6 = p.l3;

		if ((void *)(ip6 + 1) > data_end)
			return XDP_PASS;
		swap_bytes((__u8 *)&ip6->saddr, (__u8 *)&ip6->daddr, 16);
	} else {
		struct iphdr *iph = p.l3;
		__be32 t;

		if ((void *)(iph + 1) > data_end)
			return XDP_PASS;
		t = iph->saddr;
		iph->saddr = iph->daddr;
		iph->daddr = t;
	}
	uh = p.l4;
	if ((void *)(uh + 1) > data_end)
		return XDP_PASS;
	uh->dest = uh->source;
	uh->source = bpf_htons(REFLECT_PORT);
	if (s)
		s->redirected++;
	return XDP_TX;
}
