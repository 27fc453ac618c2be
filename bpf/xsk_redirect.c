/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Steer matching traffic of each Rx queue to that queue's AF_XDP socket (XSKMAP slot =
 * rx_queue_index); everything else goes on to the kernel stack, so ARP, SSH and the like
 * keep working on an interface enatool receives on.
 *
 * The match is a 5-tuple filter in an array map (one entry, written by user space before
 * attaching): FILTER_* bits in .flags say which fields must be equal; flags 0 matches all.
 * A queue without a bound socket passes matching traffic to the kernel too, unless
 * FILTER_DROP_UNBOUND is set (keeps a benchmark flood out of the stack).
 */
#include "enat_parse.h"

#define FILTER_PROTO (1 << 0)
#define FILTER_SPORT (1 << 1)
#define FILTER_DPORT (1 << 2)
#define FILTER_SADDR (1 << 3)
#define FILTER_DADDR (1 << 4)
#define FILTER_IPV6 (1 << 5)          /* addresses are IPv6 (else IPv4 in [0]) */
#define FILTER_DROP_UNBOUND (1 << 6)

struct enat_filter {
	__u32 flags;
	__u32 proto;
	__u16 sport;                       /* network order */
	__u16 dport;
	__u32 saddr[4];
	__u32 daddr[4];
};

BPF_XSKMAP(xsks, ENAT_MAX_QUEUES);
BPF_ARRAY(filter, struct enat_filter, 1);
BPF_PERCPU_ARRAY(qstats, struct enat_qstats, ENAT_MAX_QUEUES);

static __always_inline int addr_eq(const __u32 *a, const __u32 *b, int ipv6)
{
	if (!ipv6)
		return a[0] == b[0];
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

static __always_inline int matches(struct enat_filter *f, struct enat_pkt *p, int parsed)
{
	__u32 fl = f->flags;

	if (!(fl & (FILTER_PROTO | FILTER_SPORT | FILTER_DPORT | FILTER_SADDR | FILTER_DADDR)))
		return 1;
	if (parsed < 0)
		return 0;
	if ((fl & (FILTER_SADDR | FILTER_DADDR)) && ((fl & FILTER_IPV6) != 0) != p->ipv6)
		return 0;
	if ((fl & FILTER_PROTO) && p->l4_proto != f->proto)
		return 0;
	if ((fl & (FILTER_SPORT | FILTER_DPORT)) && !p->l4_proto)
		return 0;
	if ((fl & FILTER_SPORT) && p->sport != f->sport)
		return 0;
	if ((fl & FILTER_DPORT) && p->dport != f->dport)
		return 0;
	if ((fl & FILTER_SADDR) && !addr_eq(p->saddr, f->saddr, p->ipv6))
		return 0;
	if ((fl & FILTER_DADDR) && !addr_eq(p->daddr, f->daddr, p->ipv6))
		return 0;
	return 1;
}

int xsk_redirect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 q = ctx->rx_queue_index;
	__u32 zero = 0;
	struct enat_pkt p = {};
	struct enat_qstats *s;
	struct enat_filter *f;
	int parsed, act;

	s = qstats.lookup(&q);
	if (s) {
		s->rx_packets++;
		s->rx_bytes += data_end - data;
	}
	f = filter.lookup(&zero);
	if (!f)
		return XDP_PASS;
	parsed = enat_parse(data, data_end, &p);
	if (!matches(f, &p, parsed)) {
		if (s)
			s->passed++;
		return XDP_PASS;
	}
	if (f->flags & FILTER_DROP_UNBOUND)
		act = xsks.redirect_map(q, XDP_DROP);
	else
		act = xsks.redirect_map(q, XDP_PASS);
	if (s) {
		if (act == XDP_REDIRECT)
			s->redirected++;
		else if (act == XDP_DROP)
			s->dropped++;
		else
			s->passed++;
	}
	return act;
}
