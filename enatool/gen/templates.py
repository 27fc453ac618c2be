"""Declarative traffic spec -> compact template set for the field engine (TRex/scapy model).

A :class:`GenSpec` says what to send (Ethernet, optional 802.1Q tag, IPv4/IPv6, UDP/TCP,
address and port ranges or RSS-crafted flows, fixed size or IMIX). :func:`build_templates`
turns it, once, into numpy arrays: one complete frame per size class (flow 0's fields, a
zeroed probe, valid checksums), the offsets of the mutable fields, per-flow field values and
the size/flow schedules. :mod:`numba_kernels.fieldengine` then rewrites only the mutable
fields per frame; nothing on the data path is a Python object.

Size convention (used everywhere in enatool): a *size* is what users and RFC 2544 call the
frame size, Ethernet header to FCS inclusive, so ``--size 64`` is the minimum frame. The
buffer handed to a NIC excludes the FCS: ``frame_len = size - 4`` (60..MTU+14, +4 with a
VLAN tag). Bits on the wire add preamble+SFD (8) and the inter-frame gap (12):
``wire_bits = (frame_len + 24) * 8`` (672 bits for a 64 B frame).
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from enatool.errors import UsageError
from numba_kernels import fieldengine as fe

FCS_LEN = 4
#: frame_len + WIRE_OVERHEAD = bytes a frame occupies on the wire (FCS, preamble+SFD, IFG)
WIRE_OVERHEAD = FCS_LEN + 8 + 12
MIN_SIZE = 64
IMIX_DEFAULT = ((64, 7), (594, 4), (1518, 1))
MAX_DEFAULT_FLOWS = 65536

#: The probe header after the L4 header; one layout for gen, sink and latency.
PROBE_HDR = np.dtype([("magic", ">u4"), ("flow_id", ">u4"), ("seq", ">u8"), ("tx_ns", ">u8")])
PROBE_MAGIC = fe.PROBE_MAGIC
PROBE_LEN = fe.PROBE_LEN
PROBE_SHORT_LEN = fe.PROBE_SHORT_LEN
assert PROBE_HDR.itemsize == PROBE_LEN
assert PROBE_HDR.fields["seq"][1] == fe.PROBE_OFF_SEQ
assert PROBE_HDR.fields["tx_ns"][1] == fe.PROBE_OFF_TS

ETH_P_IPV4 = 0x0800
ETH_P_IPV6 = 0x86DD
ETH_P_8021Q = 0x8100
IPPROTO_TCP = 6
IPPROTO_UDP = 17
TCP_SEQ = 1  # constant TCP sequence/ack numbers of every template
TCP_ACK = 1
_TCP_FLAG_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20,
                  "E": 0x40, "C": 0x80}


def wire_bits(frame_len: Any) -> Any:
    """Bits a frame of ``frame_len`` bytes (no FCS) occupies on the wire."""
    return (frame_len + WIRE_OVERHEAD) * 8


# -- parsing of user values ----------------------------------------------------------------
def parse_mac(text: str) -> bytes:
    parts = re.split("[:-]", text.strip())
    try:
        mac = bytes(int(p, 16) for p in parts)
    except ValueError:
        mac = b""
    if len(mac) != 6 or any(len(p) not in (1, 2) for p in parts):
        raise UsageError(f"bad MAC address {text!r}", hint="use e.g. 02:00:00:00:00:01")
    return mac


def parse_addr_range(text: str, ipv6: bool) -> tuple[int, int]:
    """'A' or 'A-B' -> (first address as int, count)."""
    lo_s, _, hi_s = str(text).partition("-")
    try:
        lo = ipaddress.ip_address(lo_s.strip())
        hi = ipaddress.ip_address(hi_s.strip()) if hi_s else lo
    except ValueError:
        raise UsageError(f"bad address range {text!r}", hint="use A or A-B") from None
    if lo.version != (6 if ipv6 else 4) or hi.version != lo.version:
        raise UsageError(f"address range {text!r} is not IPv{6 if ipv6 else 4}",
                         hint="use --ipv6 for IPv6 addresses" if lo.version == 6 else None)
    if int(hi) < int(lo):
        raise UsageError(f"address range {text!r} is empty (end before start)")
    return int(lo), int(hi) - int(lo) + 1


def parse_port_range(text: str | int) -> tuple[int, int]:
    """'P' or 'P-Q' -> (first port, count)."""
    lo_s, _, hi_s = str(text).partition("-")
    try:
        lo = int(lo_s)
        hi = int(hi_s) if hi_s else lo
    except ValueError:
        raise UsageError(f"bad port range {text!r}", hint="use P or P-Q") from None
    if not (0 <= lo <= hi <= 65535):
        raise UsageError(f"bad port range {text!r}", hint="ports are 0..65535, start <= end")
    return lo, hi - lo + 1


def parse_sizes(text: str | int) -> list[tuple[int, int]]:
    """'64', 'imix', '64:7,594:4,1518:1' or '64,128' -> [(size, weight)], weights reduced."""
    t = str(text).strip().lower()
    if t == "imix":
        pairs = list(IMIX_DEFAULT)
    else:
        pairs = []
        for item in t.split(","):
            size_s, _, w_s = item.partition(":")
            try:
                pairs.append((int(size_s), int(w_s) if w_s else 1))
            except ValueError:
                raise UsageError(f"bad size list {text!r}",
                                 hint="use 64, imix or 64:7,594:4,1518:1") from None
    if not pairs or any(w < 1 for _, w in pairs):
        raise UsageError(f"bad size list {text!r}", hint="weights are positive integers")
    merged: dict[int, int] = {}
    for s, w in pairs:
        merged[s] = merged.get(s, 0) + w
    g = math.gcd(*merged.values())
    return [(s, w // g) for s, w in merged.items()]


def parse_tcp_flags(text: str | int) -> int:
    """'A', 'PA', 'S' ... or an integer -> the TCP flags byte."""
    if isinstance(text, int):
        v = text
    elif str(text).isdigit() or str(text).lower().startswith("0x"):
        v = int(str(text), 0)
    else:
        v = 0
        for ch in str(text).upper():
            if ch not in _TCP_FLAG_BITS:
                raise UsageError(f"bad TCP flags {text!r}", hint="letters from FSRPAUEC")
            v |= _TCP_FLAG_BITS[ch]
    if not 0 <= v <= 0xFF:
        raise UsageError(f"bad TCP flags {text!r}")
    return v


# -- the declarative spec --------------------------------------------------------------------
@dataclass(frozen=True)
class GenSpec:
    """What to send. Ranges are 'A-B' strings; ``size`` is a size list (see module doc).

    ``flows``: how many flows to spread over the ranges (default: every combination).
    ``to_queues``: craft flows with the RSS policy so they land on these Rx queues (``rss``
    is then the receiving device's :class:`~enatool.driver.policy.rss.RssConfig`).
    ``size``: None means 64, or the smallest frame the headers allow (IPv6, TCP+VLAN...).
    ``probe``: 'auto' (full probe where it fits, else the short one, else none), 'off', or
    'full' (refuse sizes too small for the full probe).
    """

    ipv6: bool = False
    proto: str = "udp"
    src_mac: str = "02:00:00:00:00:01"
    dst_mac: str = "02:00:00:00:00:02"
    vlan: int | None = None
    vlan_pcp: int = 0
    src: str | None = None
    dst: str | None = None
    sport: str | int = "1024"
    dport: str | int = "9"
    flows: int | None = None
    size: str | int | None = None
    mtu: int = 1500
    tcp_flags: str | int = "A"
    tcp_window: int = 65535
    ttl: int = 64
    tos: int = 0
    probe: str = "auto"
    to_queues: tuple[int, ...] | None = None
    rss: Any = None
    flow_order: str = "roundrobin"
    seed: int = 1

    @property
    def src_range(self) -> str:
        return self.src or ("2001:2::1" if self.ipv6 else "198.18.0.1")

    @property
    def dst_range(self) -> str:
        return self.dst or ("2001:2::2" if self.ipv6 else "198.19.0.1")

    @property
    def l4_proto(self) -> int:
        p = self.proto.lower()
        if p not in ("udp", "tcp"):
            raise UsageError(f"unknown protocol {self.proto!r}", hint="use udp or tcp")
        return IPPROTO_UDP if p == "udp" else IPPROTO_TCP


@dataclass
class FlowTable:
    """Per-flow field values (flow id = row). Addresses are network-order bytes."""

    src: np.ndarray  # uint8[F, alen]
    dst: np.ndarray  # uint8[F, alen]
    sport: np.ndarray  # uint16[F]
    dport: np.ndarray  # uint16[F]
    queue: np.ndarray  # int32[F]: Rx queue the flow was crafted for, -1 if none

    def __len__(self) -> int:
        return int(self.sport.shape[0])

    def tuple(self, i: int) -> tuple[str, str, int, int]:
        """(src, dst, sport, dport) of flow ``i`` as strings/ints, for reports and tests."""
        return (str(ipaddress.ip_address(bytes(self.src[i]))),
                str(ipaddress.ip_address(bytes(self.dst[i]))),
                int(self.sport[i]), int(self.dport[i]))


@dataclass
class TemplateSet:
    """Everything the field engine needs, as numpy arrays (see :mod:`fieldengine`)."""

    templates: np.ndarray  # uint8[C, maxlen]: the frame of each size class
    frame_len: np.ndarray  # int32[C]: bytes without FCS
    probe_len: np.ndarray  # int32[C]: 24, 16 or 0
    layout: np.ndarray  # int64[LY_N]
    size_sched: np.ndarray  # int32[P]: shuffled IMIX period
    flow_sched: np.ndarray  # int32[Q]: flow order
    sched_lcm: int
    flows: FlowTable
    sizes: list[tuple[int, int]]  # (size incl. FCS, weight) per class
    spec: GenSpec = field(repr=False)

    @property
    def n_classes(self) -> int:
        return int(self.frame_len.shape[0])

    @property
    def max_frame_len(self) -> int:
        return int(self.frame_len.max())

    @property
    def class_wire_bits(self) -> np.ndarray:
        return wire_bits(self.frame_len.astype(np.int64))

    def mean_frame_len(self) -> float:
        """Mean frame length (no FCS) over the size schedule."""
        return float(self.frame_len[self.size_sched].mean())


# -- building ---------------------------------------------------------------------------------
def header_layout(ipv6: bool, udp: bool, vlan: bool) -> np.ndarray:
    """Offsets of the mutable fields (``fieldengine.LY_*``)."""
    ly = np.zeros(fe.LY_N, dtype=np.int64)
    l3 = 18 if vlan else 14
    ly[fe.LY_L3_OFF] = l3
    if ipv6:
        ly[fe.LY_SRC_OFF], ly[fe.LY_DST_OFF], ly[fe.LY_ADDR_LEN] = l3 + 8, l3 + 24, 16
        ly[fe.LY_L4_OFF] = l3 + 40
        ly[fe.LY_L3_CSUM_OFF] = -1
    else:
        ly[fe.LY_SRC_OFF], ly[fe.LY_DST_OFF], ly[fe.LY_ADDR_LEN] = l3 + 12, l3 + 16, 4
        ly[fe.LY_L4_OFF] = l3 + 20
        ly[fe.LY_L3_CSUM_OFF] = l3 + 10
        ly[fe.LY_IPV4] = 1
    l4 = ly[fe.LY_L4_OFF]
    ly[fe.LY_UDP] = 1 if udp else 0
    ly[fe.LY_L4_CSUM_OFF] = l4 + (6 if udp else 16)
    ly[fe.LY_PAYLOAD_OFF] = l4 + (8 if udp else 20)
    return ly


def _spread(total: int, n: int) -> list[int]:
    """n indices spread evenly over range(total)."""
    return [k * total // n for k in range(n)]


def build_flows(spec: GenSpec) -> FlowTable:
    """Flows from the address/port ranges, or crafted for ``to_queues``.

    Default: every combination (mixed radix: sport fastest, then dport, src, dst). With
    ``flows`` N: each field steps on its own counter (flow k takes the k-th value mod the
    range size, TRex style) when that gives N distinct tuples, else N tuples spread evenly
    over all combinations.
    """
    alen = 16 if spec.ipv6 else 4
    src_lo, n_src = parse_addr_range(spec.src_range, spec.ipv6)
    dst_lo, n_dst = parse_addr_range(spec.dst_range, spec.ipv6)
    sp_lo, n_sp = parse_port_range(spec.sport)
    dp_lo, n_dp = parse_port_range(spec.dport)
    if spec.flows is not None and spec.flows < 1:
        raise UsageError(f"--flows must be at least 1, got {spec.flows}")
    if spec.to_queues:
        return _crafted_flows(spec, src_lo, dst_lo, sp_lo, dp_lo)
    total = n_src * n_dst * n_sp * n_dp
    n = spec.flows if spec.flows is not None else total
    if n > total:
        raise UsageError(f"--flows {n} exceeds the {total} distinct address/port tuples",
                         hint="widen --src/--dst/--sport/--dport ranges")
    if n > MAX_DEFAULT_FLOWS and spec.flows is None:
        raise UsageError(f"the ranges give {total} flows", hint="pick some with --flows N")
    tuples = []
    cycle = math.lcm(n_src, n_dst, n_sp, n_dp)
    if n < total and n <= cycle:
        # every field steps on its own counter: all vary, tuples distinct while n <= lcm
        for k in range(n):
            tuples.append((src_lo + k % n_src, dst_lo + k % n_dst, sp_lo + k % n_sp,
                           dp_lo + k % n_dp))
    else:
        for idx in _spread(total, n):
            idx, sp = divmod(idx, n_sp)
            idx, dp = divmod(idx, n_dp)
            d, s = divmod(idx, n_src)
            tuples.append((src_lo + s, dst_lo + d, sp_lo + sp, dp_lo + dp))
    return _table(tuples, alen, [-1] * n)


def flow_count(spec: GenSpec) -> int:
    """How many flows ``spec`` makes, without crafting RSS flows (what a sink needs)."""
    if spec.to_queues:
        return spec.flows if spec.flows is not None else len(spec.to_queues)
    return len(build_flows(spec))


def _crafted_flows(spec: GenSpec, src_lo: int, dst_lo: int, sp_lo: int, dp_lo: int
                   ) -> FlowTable:
    from enatool.driver.policy.rss import FlowHashProto, flows_to_queue

    if spec.rss is None:
        raise UsageError("flows for chosen queues need the receiver's RSS configuration")
    queues = list(spec.to_queues or ())
    n = spec.flows if spec.flows is not None else len(queues)
    if n < len(queues):
        raise UsageError(f"--flows {n} is fewer than the {len(queues)} target queues")
    udp = spec.l4_proto == IPPROTO_UDP
    proto = {(False, True): FlowHashProto.UDP4, (False, False): FlowHashProto.TCP4,
             (True, True): FlowHashProto.UDP6, (True, False): FlowHashProto.TCP6}[
        (spec.ipv6, udp)]
    src_s = str(ipaddress.ip_address(src_lo))
    dst_s = str(ipaddress.ip_address(dst_lo))
    per_queue = []
    for k, q in enumerate(queues):
        count = n // len(queues) + (1 if k < n % len(queues) else 0)
        per_queue.append(flows_to_queue(spec.rss, q, count, src_s, dst_s, sp_lo, dp_lo,
                                        proto, vary="src_port"))
    tuples, qs = [], []
    for j in range(max(len(p) for p in per_queue)):  # interleave: round-robin hits queues
        for q, found in zip(queues, per_queue, strict=True):
            if j < len(found):
                s, d, sp, dp = found[j]
                tuples.append((int(ipaddress.ip_address(s)), int(ipaddress.ip_address(d)),
                               sp, dp))
                qs.append(q)
    return _table(tuples, 16 if spec.ipv6 else 4, qs)


def _table(tuples: list[tuple[int, int, int, int]], alen: int, queues: list[int]) -> FlowTable:
    n = len(tuples)
    src = np.zeros((n, alen), np.uint8)
    dst = np.zeros((n, alen), np.uint8)
    for i, (s, d, _, _) in enumerate(tuples):
        src[i] = np.frombuffer(s.to_bytes(alen, "big"), np.uint8)
        dst[i] = np.frombuffer(d.to_bytes(alen, "big"), np.uint8)
    return FlowTable(src=src, dst=dst,
                     sport=np.array([t[2] for t in tuples], np.uint16),
                     dport=np.array([t[3] for t in tuples], np.uint16),
                     queue=np.array(queues, np.int32))


def _template_frame(spec: GenSpec, ly: np.ndarray, flows: FlowTable, frame_len: int,
                    probe_len: int) -> np.ndarray:
    """One size class's frame with flow 0's fields, a zeroed probe and valid checksums."""
    from numba_kernels.packet import PK_NFIELDS, tx_apply_offloads

    buf = bytearray(frame_len)
    buf[0:6] = parse_mac(spec.dst_mac)
    buf[6:12] = parse_mac(spec.src_mac)
    l3, l4 = int(ly[fe.LY_L3_OFF]), int(ly[fe.LY_L4_OFF])
    if spec.vlan is not None:
        buf[12:16] = ETH_P_8021Q.to_bytes(2, "big") + (
            (spec.vlan_pcp << 13) | spec.vlan).to_bytes(2, "big")
    buf[l3 - 2:l3] = (ETH_P_IPV6 if spec.ipv6 else ETH_P_IPV4).to_bytes(2, "big")
    proto = spec.l4_proto
    l4_len = frame_len - l4
    if spec.ipv6:
        buf[l3:l3 + 4] = ((6 << 28) | (spec.tos << 20)).to_bytes(4, "big")
        buf[l3 + 4:l3 + 6] = l4_len.to_bytes(2, "big")
        buf[l3 + 6], buf[l3 + 7] = proto, spec.ttl
    else:
        buf[l3], buf[l3 + 1] = 0x45, spec.tos
        buf[l3 + 2:l3 + 4] = (frame_len - l3).to_bytes(2, "big")
        buf[l3 + 6:l3 + 8] = (0x4000).to_bytes(2, "big")  # DF, id 0
        buf[l3 + 8], buf[l3 + 9] = spec.ttl, proto
    alen = int(ly[fe.LY_ADDR_LEN])
    buf[ly[fe.LY_SRC_OFF]:ly[fe.LY_SRC_OFF] + alen] = flows.src[0].tobytes()
    buf[ly[fe.LY_DST_OFF]:ly[fe.LY_DST_OFF] + alen] = flows.dst[0].tobytes()
    buf[l4:l4 + 2] = int(flows.sport[0]).to_bytes(2, "big")
    buf[l4 + 2:l4 + 4] = int(flows.dport[0]).to_bytes(2, "big")
    if proto == IPPROTO_UDP:
        buf[l4 + 4:l4 + 6] = l4_len.to_bytes(2, "big")
    else:
        buf[l4 + 4:l4 + 8] = TCP_SEQ.to_bytes(4, "big")
        buf[l4 + 8:l4 + 12] = TCP_ACK.to_bytes(4, "big")
        buf[l4 + 12] = 5 << 4
        buf[l4 + 13] = parse_tcp_flags(spec.tcp_flags)
        buf[l4 + 14:l4 + 16] = spec.tcp_window.to_bytes(2, "big")
    po = int(ly[fe.LY_PAYLOAD_OFF])
    for k in range(frame_len - po):
        buf[po + k] = k & 0xFF
    if probe_len:
        buf[po:po + probe_len] = PROBE_MAGIC.to_bytes(4, "big") + bytes(probe_len - 4)
    arr = np.frombuffer(bytes(buf), np.uint8).copy()
    rec = np.zeros(PK_NFIELDS, np.int64)
    if tx_apply_offloads(arr, 0, frame_len, True, True, False, rec) != 0:
        raise AssertionError("template did not parse")  # a bug, not a user error
    return arr


def build_templates(spec: GenSpec) -> TemplateSet:
    """Build flows, one template per size class and the schedules (setup time only)."""
    udp = spec.l4_proto == IPPROTO_UDP
    if spec.vlan is not None and not (0 <= spec.vlan <= 4095 and 0 <= spec.vlan_pcp <= 7):
        raise UsageError(f"bad VLAN {spec.vlan}/{spec.vlan_pcp}", hint="id 0..4095, pcp 0..7")
    if spec.probe not in ("auto", "off", "full"):
        raise UsageError(f"bad probe mode {spec.probe!r}", hint="use auto, off or full")
    if spec.flow_order not in ("roundrobin", "random"):
        raise UsageError(f"bad flow order {spec.flow_order!r}", hint="roundrobin or random")
    if not (0 <= spec.tos <= 255 and 1 <= spec.ttl <= 255 and 0 <= spec.tcp_window <= 65535):
        raise UsageError("bad tos/ttl/window", hint="tos 0..255, ttl 1..255, window 0..65535")
    ly = header_layout(spec.ipv6, udp, spec.vlan is not None)
    max_size = spec.mtu + 14 + (4 if spec.vlan is not None else 0) + FCS_LEN
    hdr = int(ly[fe.LY_PAYLOAD_OFF])
    min_size = max(MIN_SIZE, hdr + FCS_LEN)
    if spec.probe == "full":
        min_size = max(min_size, hdr + PROBE_LEN + FCS_LEN)
    sizes = parse_sizes(min_size if spec.size is None else spec.size)
    for s, _ in sizes:
        if not min_size <= s <= max_size:
            what = f"IPv{6 if spec.ipv6 else 4}/{spec.proto.upper()}"
            raise UsageError(f"size {s} does not fit {what} with MTU {spec.mtu}",
                             hint=f"sizes (incl. 4 B FCS) are {min_size}..{max_size}")
    flows = build_flows(spec)
    frame_len = np.array([s - FCS_LEN for s, _ in sizes], np.int32)
    probe_len = np.zeros(len(sizes), np.int32)
    if spec.probe != "off":
        room = frame_len - hdr
        probe_len[room >= PROBE_SHORT_LEN] = PROBE_SHORT_LEN
        probe_len[room >= PROBE_LEN] = PROBE_LEN
    templates = np.zeros((len(sizes), int(frame_len.max())), np.uint8)
    for c in range(len(sizes)):
        templates[c, :frame_len[c]] = _template_frame(spec, ly, flows, int(frame_len[c]),
                                                      int(probe_len[c]))
    rng = np.random.default_rng(spec.seed)
    size_sched = np.repeat(np.arange(len(sizes), dtype=np.int32), [w for _, w in sizes])
    size_sched = rng.permutation(size_sched).astype(np.int32)
    n = len(flows)
    flow_sched = (np.arange(n, dtype=np.int32) if spec.flow_order == "roundrobin"
                  else rng.permutation(n).astype(np.int32))
    return TemplateSet(templates=templates, frame_len=frame_len, probe_len=probe_len,
                       layout=ly, size_sched=size_sched, flow_sched=flow_sched,
                       sched_lcm=math.lcm(len(size_sched), n), flows=flows, sizes=sizes,
                       spec=spec)
