"""Naive twins of the generator kernels: whole frames built with struct and fully
recomputed checksums, a token bucket over Python ints, a set-based sequence checker."""

from __future__ import annotations

import struct

from tests.naive.checksum import inet_checksum

PROBE_MAGIC = 0x454E4154


def build_frame(*, frame_len: int, ipv6: bool, udp: bool, src: bytes, dst: bytes, sport: int,
                dport: int, src_mac: bytes = bytes.fromhex("020000000001"),
                dst_mac: bytes = bytes.fromhex("020000000002"), vlan: int | None = None,
                vlan_pcp: int = 0, tos: int = 0, ttl: int = 64, tcp_flags: int = 0x10,
                window: int = 65535, probe_len: int = 0, flow_id: int = 0, seq: int = 0,
                ts: int = 0) -> bytes:
    """One generator frame from scratch (no FCS), the way the spec describes it."""
    eth = dst_mac + src_mac
    if vlan is not None:
        eth += struct.pack("!HH", 0x8100, (vlan_pcp << 13) | vlan)
    eth += struct.pack("!H", 0x86DD if ipv6 else 0x0800)
    l3_len = 40 if ipv6 else 20
    l4_hlen = 8 if udp else 20
    pay_len = frame_len - len(eth) - l3_len - l4_hlen
    assert pay_len >= 0
    payload = bytearray(k & 0xFF for k in range(pay_len))
    if probe_len:
        probe = struct.pack("!IIQQ", PROBE_MAGIC, flow_id, seq, ts)[:probe_len]
        payload[:probe_len] = probe
    l4_len = l4_hlen + pay_len
    proto = 17 if udp else 6
    if udp:
        l4 = struct.pack("!HHHH", sport, dport, l4_len, 0)
    else:
        l4 = struct.pack("!HHIIBBHHH", sport, dport, 1, 1, 5 << 4, tcp_flags, window, 0, 0)
    seg = bytearray(l4 + payload)
    if ipv6:
        pseudo = src + dst + struct.pack("!IxxxB", l4_len, proto)
        ip = struct.pack("!IHBB", (6 << 28) | (tos << 20), l4_len, proto, ttl) + src + dst
    else:
        pseudo = src + dst + struct.pack("!xBH", proto, l4_len)
        hdr = bytearray(struct.pack("!BBHHHBBH", 0x45, tos, 20 + l4_len, 0, 0x4000, ttl,
                                    proto, 0) + src + dst)
        hdr[10:12] = struct.pack("!H", inet_checksum(bytes(hdr)))
        ip = bytes(hdr)
    c = inet_checksum(pseudo + bytes(seg))
    if udp and c == 0:
        c = 0xFFFF
    seg[6 if udp else 16:8 if udp else 18] = struct.pack("!H", c)
    return eth + ip + bytes(seg)


def frames_for(tset, count: int, *, start: int = 0, ts: int = 0, seq_next=None,
               flow_idx=None) -> list[bytes]:
    """What the field engine must produce for frames start..start+count of a template set.

    Mirrors only the schedule rules (class ``sched[g % P]``, flow
    ``flow_sched[(g + g // lcm) % Q]``) and per-flow sequence counting; everything else is
    built from the spec by :func:`build_frame`.
    """
    spec = tset.spec
    flows = tset.flows
    seq_next = seq_next if seq_next is not None else {}
    out = []
    p, q = len(tset.size_sched), len(tset.flow_sched)
    for i in range(count):
        g = start + i
        c = int(tset.size_sched[g % p])
        if flow_idx is not None:
            f = int(flow_idx[i])
        else:
            f = int(tset.flow_sched[(g + g // tset.sched_lcm) % q])
        plen = int(tset.probe_len[c])
        seq = seq_next.get(f, 0)
        if plen:
            seq_next[f] = seq + 1
        from enatool.gen.templates import parse_mac, parse_tcp_flags

        out.append(build_frame(
            frame_len=int(tset.frame_len[c]), ipv6=spec.ipv6, udp=spec.proto == "udp",
            src=bytes(flows.src[f]), dst=bytes(flows.dst[f]), sport=int(flows.sport[f]),
            dport=int(flows.dport[f]), src_mac=parse_mac(spec.src_mac),
            dst_mac=parse_mac(spec.dst_mac), vlan=spec.vlan, vlan_pcp=spec.vlan_pcp,
            tos=spec.tos, ttl=spec.ttl, tcp_flags=parse_tcp_flags(spec.tcp_flags),
            window=spec.tcp_window, probe_len=plen, flow_id=f, seq=seq, ts=ts))
    return out


class NaivePacer:
    """Token bucket in exact rationals: credit = floor(elapsed * rate / 1e9)."""

    def __init__(self, rate: int, burst: int):
        self.rate, self.burst = rate, burst
        self.t0: int | None = None
        self.spent = 0

    def grant(self, now: int, costs: list[int]) -> int:
        if self.t0 is None:
            self.t0 = now
        c = (now - self.t0) * self.rate // 1_000_000_000
        if c - self.spent > self.burst:
            self.spent = c - self.burst
        avail = c - self.spent
        k = 0
        for cost in costs:
            if cost > avail:
                break
            avail -= cost
            self.spent += cost
            k += 1
        return k


class NaiveSeqCheck:
    """Per flow: a set of every sequence seen; the same counting rules as the kernel."""

    def __init__(self, window: int):
        self.window = window
        self.flows: dict[int, dict] = {}

    def add(self, flow: int, seq: int, tx_ns: int | None = None, rx_ns: int = 0) -> None:
        st = self.flows.setdefault(flow, dict(rx=0, max=None, first=None, seen=set(), lost=0,
                                              reordered=0, dup=0, late=0, delays=[]))
        st["rx"] += 1
        if st["max"] is None or seq > st["max"]:
            if st["max"] is not None:
                st["lost"] += seq - st["max"] - 1
            else:
                st["first"] = seq
            st["max"] = seq
            st["seen"].add(seq)
        elif st["max"] - seq >= self.window:
            st["late"] += 1
        elif seq in st["seen"]:
            st["dup"] += 1
        else:
            st["seen"].add(seq)
            st["reordered"] += 1
            if seq < st["first"]:
                st["lost"] += st["first"] - seq - 1
                st["first"] = seq
            else:
                st["lost"] -= 1
        if tx_ns is not None:
            st["delays"].append(rx_ns - tx_ns)


QUEUE_COUNTERS = ("frames", "bytes", "probes", "foreign", "bad_flow", "csum_err")


def _signed64(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


def probe_fields(frame: bytes) -> tuple[int, int, int | None] | None:
    """(flow id, sequence, send timestamp or None) of a probe frame, else None: a TCP or UDP
    frame that parses, whose payload starts with the magic and holds at least 16 bytes
    (24 with the timestamp). Sequence and timestamp are read as signed 64-bit."""
    from tests.naive import naive_datapath as nd

    r = nd.parse(frame)
    if r is None or not r["l4_proto"]:
        return None
    pay = frame[r["l4"] + r["l4_hlen"]:r["ip_end"]]
    if len(pay) < 16 or struct.unpack_from("!I", pay)[0] != PROBE_MAGIC:
        return None
    flow, seq = struct.unpack_from("!IQ", pay, 4)
    ts = _signed64(struct.unpack_from("!Q", pay, 16)[0]) if len(pay) >= 24 else None
    return flow, _signed64(seq), ts


def sink_batch(frames: list[bytes], queue: int, rx_ns: int, verify: bool, n_flows: int,
               seq: NaiveSeqCheck, qstats: dict[int, dict]) -> None:
    """Account frames received on ``queue``: per-queue counters in ``qstats[queue]`` (keys
    :data:`QUEUE_COUNTERS`), probes of known flows into ``seq``."""
    from tests.naive import naive_datapath as nd

    q = qstats.setdefault(queue, dict.fromkeys(QUEUE_COUNTERS, 0))
    for fr in frames:
        q["frames"] += 1
        q["bytes"] += len(fr)
        if verify and 0 in nd.checksums(fr):
            q["csum_err"] += 1
        p = probe_fields(fr)
        if p is None:
            q["foreign"] += 1
            continue
        q["probes"] += 1
        flow, s, ts = p
        if flow >= n_flows:
            q["bad_flow"] += 1
            continue
        seq.add(flow, s, ts, rx_ns)
