/* SPDX-License-Identifier: GPL-2.0 */
/*
 * enatool's one packet parser for XDP programs: Ethernet (one optional 802.1Q/802.1ad tag),
 * IPv4 (with options) or IPv6 (no extension headers), UDP or TCP.
 *
 * Every program in bpf/ parses through enat_parse() so that the filter, the counters and
 * the reflector agree on what a "UDP/TCP packet of flow X" is. Uses UAPI structs only, so
 * it compiles against any 5.15+/6.x header tree bcc finds.
 */
#ifndef ENAT_PARSE_H
#define ENAT_PARSE_H

#include <uapi/linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/tcp.h>

#ifndef ENAT_MAX_QUEUES
#define ENAT_MAX_QUEUES 64
#endif

/* Probe header after the L4 header (numba_kernels/fieldengine.py): magic u32 big-endian. */
#define ENAT_PROBE_MAGIC 0x454E4154

#define ENAT_ETH_P_8021Q 0x8100
#define ENAT_ETH_P_8021AD 0x88A8

/* What a parse found. Addresses and ports stay in network byte order. */
struct enat_pkt {
	__u16 ethertype;   /* host order, after the VLAN tag */
	__u8 ipv6;         /* 1 for IPv6 */
	__u8 l4_proto;     /* IPPROTO_UDP / IPPROTO_TCP, 0 when no L4 header was parsed */
	__u16 sport;
	__u16 dport;
	__u32 saddr[4];    /* IPv4 in saddr[0], the rest zero */
	__u32 daddr[4];
	void *l3;
	void *l4;
	void *payload;     /* first byte after the UDP/TCP header */
};

struct enat_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/* Per Rx queue counters (one per-CPU array slot per queue; user space sums the CPUs). */
struct enat_qstats {
	__u64 rx_packets;
	__u64 rx_bytes;
	__u64 redirected;  /* handed to the AF_XDP socket of this queue (or XDP_TX'd) */
	__u64 passed;      /* left to the kernel stack */
	__u64 dropped;     /* dropped by the program */
};

/* Returns 0 when at least L3 was parsed, -1 otherwise (non-IP or truncated). */
static __always_inline int enat_parse(void *data, void *data_end, struct enat_pkt *p)
{
	struct ethhdr *eth = data;
	void *cur = data + sizeof(*eth);
	__u16 proto;

	if (cur > data_end)
		return -1;
	proto = bpf_ntohs(eth->h_proto);
	if (proto == ENAT_ETH_P_8021Q || proto == ENAT_ETH_P_8021AD) {
		struct enat_vlan_hdr *vh = cur;

		if ((void *)(vh + 1) > data_end)
			return -1;
		proto = bpf_ntohs(vh->encap_proto);
		cur = vh + 1;
	}
	p->ethertype = proto;
	p->l3 = cur;
	if (proto == ETH_P_IP) {
		struct iphdr *iph = cur;
		__u32 ihl;

		if ((void *)(iph + 1) > data_end)
			return -1;
		ihl = iph->ihl * 4;
		if (ihl < sizeof(*iph) || cur + ihl > data_end)
			return -1;
		p->saddr[0] = iph->saddr;
		p->daddr[0] = iph->daddr;
		/* fragments after the first carry no ports */
		if (iph->frag_off & bpf_htons(0x1FFF))
			return 0;
		p->l4_proto = iph->protocol;
		cur += ihl;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6 = cur;

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		p->ipv6 = 1;
		__builtin_memcpy(p->saddr, &ip6->saddr, 16);
		__builtin_memcpy(p->daddr, &ip6->daddr, 16);
		p->l4_proto = ip6->nexthdr;
		cur = ip6 + 1;
	} else {
		return -1;
	}
	if (p->l4_proto == IPPROTO_UDP) {
		struct udphdr *uh = cur;

		if ((void *)(uh + 1) > data_end) {
			p->l4_proto = 0;
			return 0;
		}
		p->sport = uh->source;
		p->dport = uh->dest;
		p->l4 = uh;
		p->payload = uh + 1;
	} else if (p->l4_proto == IPPROTO_TCP) {
		struct tcphdr *th = cur;
		__u32 doff;

		if ((void *)(th + 1) > data_end) {
			p->l4_proto = 0;
			return 0;
		}
		doff = th->doff * 4;
		if (doff < sizeof(*th) || cur + doff > data_end) {
			p->l4_proto = 0;
			return 0;
		}
		p->sport = th->source;
		p->dport = th->dest;
		p->l4 = th;
		p->payload = cur + doff;
	} else {
		p->l4_proto = 0;
	}
	return 0;
}

/* True when the L4 payload starts with enatool's probe magic. */
static __always_inline int enat_has_probe(struct enat_pkt *p, void *data_end)
{
	__be32 *magic = p->payload;

	if (!p->l4_proto || (void *)(magic + 1) > data_end)
		return 0;
	return *magic == bpf_htonl(ENAT_PROBE_MAGIC);
}

#endif /* ENAT_PARSE_H */
