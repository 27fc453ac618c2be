"""TSO: cut one large TCP frame into MSS-sized wire segments, as the ENA device does on Tx.

Reproduces the device side of ENA TSO (Tx descriptor tso_en with an MSS from the meta
descriptor, INTERFACE.md §5.3/§5.4) the way Linux GSO defines the result (tcp_gso_segment /
inet_gso_segment): every segment gets a copy of the Ethernet/IP/TCP headers; IPv4 total
length, an IP id incremented per segment and a fresh header checksum; IPv6 payload length;
TCP sequence advanced by the bytes already sent; FIN and PSH only on the last segment, CWR
only on the first (RFC 3168 ECN rule); and a full TCP checksum per segment.
"""

from __future__ import annotations

import numpy as np

from numba_kernels.checksum import inet_checksum, ones_sum16
from numba_kernels.descriptors import ERR_BAD_FRAME, ERR_BAD_MSS, ERR_NO_SPACE
from numba_kernels.jit import njit
from numba_kernels.packet import (
    L3_IPV4,
    L4_TCP,
    PK_ERR,
    PK_IP_END,
    PK_IPV4_FRAG,
    PK_L3_HLEN,
    PK_L3_OFF,
    PK_L3_PROTO,
    PK_L4_HLEN,
    PK_L4_OFF,
    PK_L4_PROTO,
    l4_pseudo_sum,
    parse_frame,
)

TCP_FIN = 0x01
TCP_PSH = 0x08
TCP_CWR = 0x80


@njit(leaf=True)
def _be(buf, i, n):
    """Big-endian unsigned integer of ``n`` bytes at ``buf[i]``."""
    v = np.int64(0)
    for k in range(n):
        v = (v << 8) | np.int64(buf[i + k])
    return v


@njit(leaf=True)
def tso_segment_count(payload_len, mss):
    """Segments for ``payload_len`` bytes of TCP payload (at least one)."""
    if payload_len <= 0:
        return 1
    return (payload_len + mss - 1) // mss


@njit(leaf=True)
def tso_segment(buf, start, length, mss, out_buf, out_offsets, out_lengths, rec):
    """Segment the TCP frame ``buf[start:start+length]`` into ``out_buf``.

    Segment i is written at ``out_offsets[i]`` (consecutive, from 0) with length
    ``out_lengths[i]``; ``rec`` receives the parse of the input frame. Trailing bytes past
    the IP datagram (Ethernet padding) are dropped. Returns the segment count, or
    ERR_BAD_MSS (mss <= 0), ERR_BAD_FRAME (not unfragmented TCP over IPv4/IPv6),
    ERR_NO_SPACE (``out_buf``/``out_offsets`` too small; nothing written).
    """
    if mss <= 0:
        return ERR_BAD_MSS
    parse_frame(buf, start, length, rec)
    if rec[PK_ERR] != 0 or rec[PK_L4_PROTO] != L4_TCP or rec[PK_IPV4_FRAG]:
        return ERR_BAD_FRAME
    l3 = rec[PK_L3_OFF]
    l4 = rec[PK_L4_OFF]
    hdr = l4 + rec[PK_L4_HLEN]
    payload = rec[PK_IP_END] - hdr
    nseg = tso_segment_count(payload, mss)
    if nseg > out_offsets.shape[0] or nseg > out_lengths.shape[0]:
        return ERR_NO_SPACE
    if nseg * hdr + payload > out_buf.shape[0]:
        return ERR_NO_SPACE
    ipv4 = rec[PK_L3_PROTO] == L3_IPV4
    ip_id = _be(buf, start + l3 + 4, 2) if ipv4 else 0
    seq0 = _be(buf, start + l4 + 4, 4)
    flags0 = np.int64(buf[start + l4 + 13])
    pos = 0
    for i in range(nseg):
        sp = min(mss, payload - i * mss) if payload > 0 else 0
        seg_len = hdr + sp
        o = pos
        for b in range(hdr):
            out_buf[o + b] = buf[start + b]
        src = start + hdr + i * mss
        for b in range(sp):
            out_buf[o + hdr + b] = buf[src + b]
        if ipv4:
            tot = seg_len - l3
            out_buf[o + l3 + 2] = (tot >> 8) & 0xFF
            out_buf[o + l3 + 3] = tot & 0xFF
            nid = (ip_id + i) & 0xFFFF
            out_buf[o + l3 + 4] = (nid >> 8) & 0xFF
            out_buf[o + l3 + 5] = nid & 0xFF
            out_buf[o + l3 + 10] = 0
            out_buf[o + l3 + 11] = 0
            c = inet_checksum(out_buf, o + l3, rec[PK_L3_HLEN])
            out_buf[o + l3 + 10] = (c >> 8) & 0xFF
            out_buf[o + l3 + 11] = c & 0xFF
        else:
            pl = seg_len - l3 - 40
            out_buf[o + l3 + 4] = (pl >> 8) & 0xFF
            out_buf[o + l3 + 5] = pl & 0xFF
        seq = (seq0 + i * mss) & 0xFFFFFFFF
        out_buf[o + l4 + 4] = (seq >> 24) & 0xFF
        out_buf[o + l4 + 5] = (seq >> 16) & 0xFF
        out_buf[o + l4 + 6] = (seq >> 8) & 0xFF
        out_buf[o + l4 + 7] = seq & 0xFF
        fl = flags0
        if i != nseg - 1:
            fl = fl & ~(TCP_FIN | TCP_PSH)
        if i != 0:
            fl = fl & ~TCP_CWR
        out_buf[o + l4 + 13] = fl & 0xFF
        # TCP checksum over this segment (pseudo-header uses the segment's L4 length)
        out_buf[o + l4 + 16] = 0
        out_buf[o + l4 + 17] = 0
        seg_l4 = seg_len - l4
        ps = ones_sum16(out_buf, o + rec[PK_L3_OFF] + (12 if ipv4 else 8),
                        8 if ipv4 else 32, 0)
        ps = ps + 6 + seg_l4
        s = ones_sum16(out_buf, o + l4, seg_l4, ps)
        c = (~s) & 0xFFFF
        out_buf[o + l4 + 16] = (c >> 8) & 0xFF
        out_buf[o + l4 + 17] = c & 0xFF
        out_offsets[i] = o
        out_lengths[i] = seg_len
        pos += seg_len
    return nseg


@njit(leaf=True)
def tcp_checksum_ok(buf, start, rec):
    """True if the TCP checksum of a parsed frame verifies (receiver-side check)."""
    s = ones_sum16(buf, start + rec[PK_L4_OFF], rec[PK_IP_END] - rec[PK_L4_OFF],
                   l4_pseudo_sum(buf, start, rec))
    return s == 0xFFFF
