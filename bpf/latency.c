/* SPDX-License-Identifier: GPL-2.0 */
/*
 * enatool latency: two XDP programs over enat_parse.h.
 *
 * lat_reflect (the `reflect --mode xdp` side): a UDP probe to LAT_PORT (payload starts
 * with the probe magic) goes back out of its interface (XDP_TX) with MACs, IP addresses and
 * ports swapped; swapped words keep the checksums valid. With room for it, the reflector
 * writes bpf_ktime_get_ns() into the probe's refl_ns slot (payload offset 24) and patches
 * the UDP checksum incrementally (RFC 1624). Every DROP_EVERY-th probe is dropped when the
 * config map says so (a test hook for loss accounting). Everything else passes.
 *
 * lat_steer (the client side, and `reflect --mode afxdp`): probes with the UDP source port
 * (MATCH_SPORT) or destination port (!MATCH_SPORT) LAT_PORT get their crx_ns slot
 * (offset 32) stamped when STAMP is set, then go to the queue's AF_XDP socket (XSKMAP) or,
 * without one, on to the kernel stack.
 *
 * Same clock as the client's time.monotonic_ns() (CLOCK_MONOTONIC).
 */
#include "enat_parse.h"

#ifndef LAT_PORT
#define LAT_PORT 7
#endif
#ifndef MATCH_SPORT
#define MATCH_SPORT 1
#endif
#ifndef STAMP
#define STAMP 1
#endif

#define OFF_REFL 24
#define OFF_CRX 32

struct lat_cfg {
	__u64 drop_every;
};

BPF_ARRAY(cfg, struct lat_cfg, 1);
BPF_PERCPU_ARRAY(qstats, struct enat_qstats, ENAT_MAX_QUEUES);
BPF_ARRAY(probes, __u64, 1);
BPF_XSKMAP(xsks, ENAT_MAX_QUEUES);

/* Write t (big endian) at p[0..8) and fix the UDP checksum for the 4 changed words. */
static __always_inline void stamp(struct udphdr *uh, __u8 *p, void *data_end, __u64 t)
{
	__u16 old[4], new[4];
	__u32 sum;

	if ((void *)(p + 8) > data_end)
		return;
	__builtin_memcpy(old, p, 8);
	t = __builtin_bswap64(t);
	__builtin_memcpy(p, &t, 8);
	__builtin_memcpy(new, p, 8);
	if (!uh->check)
		return; /* IPv4 without a UDP checksum */
	sum = (__u16)~bpf_ntohs(uh->check);
#pragma unroll
	for (int i = 0; i < 4; i++)
		sum += (__u16)~bpf_ntohs(old[i]) + bpf_ntohs(new[i]);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (__u16)~sum;
	uh->check = bpf_htons(sum ? sum : 0xffff);
}

static __always_inline void swap_n(__u8 *a, __u8 *b, int n)
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

static __always_inline int is_probe(struct xdp_md *ctx, struct enat_pkt *p, __u16 port,
				    int want_sport)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (enat_parse(data, data_end, p) < 0 || p->l4_proto != IPPROTO_UDP)
		return 0;
	if ((want_sport ? p->sport : p->dport) != bpf_htons(port))
		return 0;
	return enat_has_probe(p, data_end);
}

int lat_reflect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 q = ctx->rx_queue_index, zero = 0;
	struct enat_qstats *s = qstats.lookup(&q);
	struct lat_cfg *c = cfg.lookup(&zero);
	struct enat_pkt p = {};
	struct ethhdr *eth = data;
	struct udphdr *uh;
	__u64 *n;

	if (s) {
		s->rx_packets++;
		s->rx_bytes += data_end - data;
	}
	if (!is_probe(ctx, &p, LAT_PORT, 0)) {
		if (s)
			s->passed++;
		return XDP_PASS;
	}
	n = probes.lookup(&zero);
	if (n && c && c->drop_every) {
		__u64 k = __sync_fetch_and_add(n, 1) + 1;

		if (k % c->drop_every == 0) {
			if (s)
				s->dropped++;
			return XDP_DROP;
		}
	}
	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	swap_n(eth->h_dest, eth->h_source, ETH_ALEN);
	if (p.ipv6) {
		struct ipv6hdr *ip6 = p.l3;

		if ((void *)(ip6 + 1) > data_end)
			return XDP_PASS;
		swap_n((__u8 *)&ip6->saddr, (__u8 *)&ip6->daddr, 16);
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
	uh->source = bpf_htons(LAT_PORT);
	stamp(uh, (__u8 *)p.payload + OFF_REFL, data_end, bpf_ktime_get_ns());
	if (s)
		s->redirected++;
	return XDP_TX;
}

int lat_steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 q = ctx->rx_queue_index;
	struct enat_qstats *s = qstats.lookup(&q);
	struct enat_pkt p = {};
	int act;

	if (s) {
		s->rx_packets++;
		s->rx_bytes += data_end - data;
	}
	if (!is_probe(ctx, &p, LAT_PORT, MATCH_SPORT)) {
		if (s)
			s->passed++;
		return XDP_PASS;
	}
	if (STAMP)
		stamp(p.l4, (__u8 *)p.payload + OFF_CRX, data_end, bpf_ktime_get_ns());
	act = xsks.redirect_map(q, XDP_PASS);
	if (s) {
		if (act == XDP_REDIRECT)
			s->redirected++;
		else
			s->passed++;
	}
	return act;
}
