"""Frame parsing, checksum verification and Tx checksum offloads for the software ENA device.

What the ENA hardware does with a frame (INTERFACE.md §5.3, §5.7, §8): the Rx side parses
Ethernet (one optional 802.1Q/802.1ad tag), IPv4 (with options) or IPv6 (no extension
headers: flagged, L4 left unknown), TCP/UDP, reports the L3/L4 protocol indices, IPv4
fragment bit and checksum results in the Rx cdesc, and feeds addresses/ports to RSS. The Tx
side fills the IPv4 header checksum and the full or partial (pseudo-header sum already in
the packet, Linux CHECKSUM_PARTIAL) L4 checksum. Checksums use
:mod:`numba_kernels.checksum`.

A parse result is an int64 record indexed by the ``PK_*`` constants; offsets are relative
to the frame start. ``PK_IP_END`` is where the IP datagram ends per its own length field
(Ethernet padding beyond it is ignored by checksums and TSO).
"""

from __future__ import annotations

import numpy as np

from numba_kernels.checksum import csum_fold, inet_checksum, ones_sum16
from numba_kernels.descriptors import ERR_BAD_FRAME, rx_status_word
from numba_kernels.jit import njit

L3_UNKNOWN = 0
L3_IPV4 = 8
L3_IPV6 = 11
L4_UNKNOWN = 0
L4_TCP = 12
L4_UDP = 13

ETH_P_IPV4 = 0x0800
ETH_P_IPV6 = 0x86DD
ETH_P_8021Q = 0x8100
ETH_P_8021AD = 0x88A8
IPPROTO_TCP = 6
IPPROTO_UDP = 17

# PK_ERR flag bits
PERR_TRUNC_L2 = 1  # shorter than the Ethernet (+VLAN) header
PERR_TRUNC_L3 = 2  # IP header or IP length beyond the frame
PERR_BAD_L3 = 4  # wrong IP version, IHL < 5, total length < header length
PERR_TRUNC_L4 = 8  # L4 header beyond the IP datagram
PERR_BAD_L4 = 16  # TCP data offset < 5

# record fields
PK_ERR = 0
PK_VLAN_CNT = 1
PK_ETHERTYPE = 2
PK_L3_OFF = 3
PK_L3_PROTO = 4  # 0 / 8 (IPv4) / 11 (IPv6)
PK_L3_HLEN = 5
PK_IP_PROTO = 6  # IPv4 protocol or IPv6 next header, -1 if no IP
PK_IPV6_EXT = 7  # 1 if the IPv6 next header is an extension header
PK_IPV4_FRAG = 8  # MF set or fragment offset != 0
PK_IPV4_DF = 9
PK_IP_END = 10
PK_L4_OFF = 11  # 0 if no L4 header was parsed
PK_L4_PROTO = 12  # 0 / 12 (TCP) / 13 (UDP)
PK_L4_HLEN = 13  # TCP doff * 4, UDP 8
PK_SRC_ADDR_OFF = 14
PK_DST_ADDR_OFF = 15
PK_ADDR_LEN = 16  # 4 or 16, 0 if no IP
PK_SRC_PORT = 17
PK_DST_PORT = 18
PK_PAYLOAD_OFF = 19
PK_PAYLOAD_LEN = 20
PK_L3_CSUM = 21  # verify_checksums: 1 ok, 0 bad, -1 not applicable (not IPv4)
PK_L4_CSUM = 22  # verify_checksums: 1 ok, 0 bad, -1 not checked
PK_NFIELDS = 23


@njit(leaf=True)
def _be16(buf, i):
    return (np.int64(buf[i]) << 8) | np.int64(buf[i + 1])


@njit(leaf=True)
def _put_be16(buf, i, v):
    buf[i] = (v >> 8) & 0xFF
    buf[i + 1] = v & 0xFF


@njit(leaf=True)
def is_ipv6_ext_header(nh):
    """IPv6 extension header numbers (hop-by-hop, routing, fragment, ESP, AH, dest, ...)."""
    return (nh == 0 or nh == 43 or nh == 44 or nh == 50 or nh == 51 or nh == 60 or nh == 135
            or nh == 139 or nh == 140 or nh == 253 or nh == 254)


@njit(leaf=True)
def parse_frame(buf, start, length, rec):
    """Parse the frame ``buf[start:start+length]`` into ``rec[PK_*]``; returns ``rec[PK_ERR]``.

    Unparsed layers leave their fields 0 (IP proto -1); checksum fields are set to -1 (see
    :func:`verify_checksums`).
    """
    for i in range(PK_NFIELDS):
        rec[i] = 0
    rec[PK_IP_PROTO] = -1
    rec[PK_L3_CSUM] = -1
    rec[PK_L4_CSUM] = -1
    if length < 14:
        rec[PK_ERR] = PERR_TRUNC_L2
        return rec[PK_ERR]
    off = 12
    et = _be16(buf, start + off)
    if et in (ETH_P_8021Q, ETH_P_8021AD):
        if length < 18:
            rec[PK_ERR] = PERR_TRUNC_L2
            return rec[PK_ERR]
        rec[PK_VLAN_CNT] = 1
        off = 16
        et = _be16(buf, start + off)
    rec[PK_ETHERTYPE] = et
    l3 = off + 2
    rec[PK_L3_OFF] = l3
    ip_proto = -1
    l4 = 0
    ip_end = 0
    if et == ETH_P_IPV4:
        if length < l3 + 20:
            rec[PK_ERR] = PERR_TRUNC_L3
            return rec[PK_ERR]
        vihl = np.int64(buf[start + l3])
        ihl = (vihl & 0xF) * 4
        tot = _be16(buf, start + l3 + 2)
        if (vihl >> 4) != 4 or ihl < 20 or tot < ihl:
            rec[PK_ERR] = PERR_BAD_L3
            return rec[PK_ERR]
        if l3 + ihl > length or l3 + tot > length:
            rec[PK_ERR] = PERR_TRUNC_L3
            return rec[PK_ERR]
        rec[PK_L3_PROTO] = L3_IPV4
        rec[PK_L3_HLEN] = ihl
        frag = _be16(buf, start + l3 + 6)
        rec[PK_IPV4_DF] = (frag >> 14) & 1
        rec[PK_IPV4_FRAG] = 1 if (frag & 0x3FFF) else 0
        ip_proto = np.int64(buf[start + l3 + 9])
        rec[PK_SRC_ADDR_OFF] = l3 + 12
        rec[PK_DST_ADDR_OFF] = l3 + 16
        rec[PK_ADDR_LEN] = 4
        ip_end = l3 + tot
        if (frag & 0x1FFF) == 0:
            l4 = l3 + ihl
    elif et == ETH_P_IPV6:
        if length < l3 + 40:
            rec[PK_ERR] = PERR_TRUNC_L3
            return rec[PK_ERR]
        if (np.int64(buf[start + l3]) >> 4) != 6:
            rec[PK_ERR] = PERR_BAD_L3
            return rec[PK_ERR]
        plen = _be16(buf, start + l3 + 4)
        if l3 + 40 + plen > length:
            rec[PK_ERR] = PERR_TRUNC_L3
            return rec[PK_ERR]
        rec[PK_L3_PROTO] = L3_IPV6
        rec[PK_L3_HLEN] = 40
        ip_proto = np.int64(buf[start + l3 + 6])
        rec[PK_SRC_ADDR_OFF] = l3 + 8
        rec[PK_DST_ADDR_OFF] = l3 + 24
        rec[PK_ADDR_LEN] = 16
        ip_end = l3 + 40 + plen
        if is_ipv6_ext_header(ip_proto):
            rec[PK_IPV6_EXT] = 1
        else:
            l4 = l3 + 40
    else:
        return 0
    rec[PK_IP_PROTO] = ip_proto
    rec[PK_IP_END] = ip_end
    rec[PK_PAYLOAD_OFF] = l4 if l4 else ip_end
    rec[PK_PAYLOAD_LEN] = ip_end - l4 if l4 else 0
    if l4 == 0 or (ip_proto != IPPROTO_TCP and ip_proto != IPPROTO_UDP):
        return 0
    if ip_proto == IPPROTO_TCP:
        if l4 + 20 > ip_end:
            rec[PK_ERR] = PERR_TRUNC_L4
            return rec[PK_ERR]
        hl = (np.int64(buf[start + l4 + 12]) >> 4) * 4
        if hl < 20:
            rec[PK_ERR] = PERR_BAD_L4
            return rec[PK_ERR]
        if l4 + hl > ip_end:
            rec[PK_ERR] = PERR_TRUNC_L4
            return rec[PK_ERR]
        rec[PK_L4_PROTO] = L4_TCP
    else:
        hl = 8
        if l4 + 8 > ip_end:
            rec[PK_ERR] = PERR_TRUNC_L4
            return rec[PK_ERR]
        rec[PK_L4_PROTO] = L4_UDP
    rec[PK_L4_OFF] = l4
    rec[PK_L4_HLEN] = hl
    rec[PK_SRC_PORT] = _be16(buf, start + l4)
    rec[PK_DST_PORT] = _be16(buf, start + l4 + 2)
    rec[PK_PAYLOAD_OFF] = l4 + hl
    rec[PK_PAYLOAD_LEN] = ip_end - l4 - hl
    return 0


@njit
def parse_frames(buf, starts, lengths, out):
    """:func:`parse_frame` per frame ``buf[starts[i]:starts[i]+lengths[i]]`` into ``out[i]``."""
    for i in range(starts.shape[0]):
        parse_frame(buf, starts[i], lengths[i], out[i])
    return out


@njit(leaf=True)
def l4_pseudo_sum(buf, start, rec):
    """Folded pseudo-header sum (addresses, protocol, L4 length) of a parsed IP frame."""
    l4_len = rec[PK_IP_END] - rec[PK_L4_OFF]
    s = ones_sum16(buf, start + rec[PK_SRC_ADDR_OFF], 2 * rec[PK_ADDR_LEN], 0)
    return csum_fold(s + rec[PK_IP_PROTO] + l4_len)


@njit(leaf=True)
def l4_csum_field_off(rec):
    """Offset of the TCP (16) / UDP (6) checksum field from the frame start, -1 if none."""
    if rec[PK_L4_PROTO] == L4_TCP:
        return rec[PK_L4_OFF] + 16
    if rec[PK_L4_PROTO] == L4_UDP:
        return rec[PK_L4_OFF] + 6
    return -1


@njit(leaf=True)
def verify_checksums(buf, start, rec):
    """Fill ``rec[PK_L3_CSUM]``/``rec[PK_L4_CSUM]`` (1 ok, 0 bad, -1 not applicable).

    L4 is checked for TCP/UDP outside fragments; an IPv4 UDP checksum of 0 means "none"
    (-1), an IPv6 one is invalid (0).
    """
    rec[PK_L3_CSUM] = -1
    rec[PK_L4_CSUM] = -1
    if rec[PK_ERR] != 0:
        return
    if rec[PK_L3_PROTO] == L3_IPV4:
        s = ones_sum16(buf, start + rec[PK_L3_OFF], rec[PK_L3_HLEN], 0)
        rec[PK_L3_CSUM] = 1 if s == 0xFFFF else 0
    if rec[PK_L4_PROTO] == L4_UNKNOWN or rec[PK_IPV4_FRAG]:
        return
    fo = l4_csum_field_off(rec)
    if rec[PK_L4_PROTO] == L4_UDP and _be16(buf, start + fo) == 0:
        rec[PK_L4_CSUM] = -1 if rec[PK_L3_PROTO] == L3_IPV4 else 0
        return
    l4_len = rec[PK_IP_END] - rec[PK_L4_OFF]
    s = ones_sum16(buf, start + rec[PK_L4_OFF], l4_len, l4_pseudo_sum(buf, start, rec))
    rec[PK_L4_CSUM] = 1 if s == 0xFFFF else 0


@njit(leaf=True)
def rx_status_from_parse(rec):
    """Rx cdesc parse bits (§5.7) for a parsed and verified frame.

    l3_csum_err for an IPv4 header that is bad; l4_csum_checked when L4 was verified and
    l4_csum_err when it failed; protocol indices only when the layer parsed.
    """
    l3 = rec[PK_L3_PROTO]
    l4 = rec[PK_L4_PROTO]
    l3_err = l3 == L3_IPV4 and rec[PK_L3_CSUM] == 0
    checked = rec[PK_L4_CSUM] >= 0
    l4_err = rec[PK_L4_CSUM] == 0
    return rx_status_word(l3, rec[PK_VLAN_CNT], l4, l3_err, l4_err, rec[PK_IPV4_FRAG] != 0,
                          checked, False)


@njit(leaf=True)
def rss_tuple(buf, start, rec, with_l4, out):
    """Copy src addr, dst addr and (``with_l4`` and TCP/UDP) src/dst port into ``out``.

    Network byte order, the order Toeplitz consumes them (§8). Returns the byte count
    (12/8 IPv4, 36/32 IPv6, 0 without IP).
    """
    al = rec[PK_ADDR_LEN]
    if al == 0:
        return 0
    for i in range(al):
        out[i] = buf[start + rec[PK_SRC_ADDR_OFF] + i]
        out[al + i] = buf[start + rec[PK_DST_ADDR_OFF] + i]
    n = 2 * al
    if with_l4 and rec[PK_L4_PROTO] != L4_UNKNOWN:
        for i in range(4):
            out[n + i] = buf[start + rec[PK_L4_OFF] + i]
        n += 4
    return n


@njit(leaf=True)
def ipv4_header_csum_fill(buf, start, rec):
    """Recompute and store the IPv4 header checksum of a parsed frame."""
    l3 = start + rec[PK_L3_OFF]
    buf[l3 + 10] = 0
    buf[l3 + 11] = 0
    _put_be16(buf, l3 + 10, inet_checksum(buf, l3, rec[PK_L3_HLEN]))


@njit(leaf=True)
def l4_csum_fill(buf, start, rec, partial):
    """Store the TCP/UDP checksum of a parsed frame (Tx l4_csum_en).

    ``partial``: the field already holds the folded pseudo-header sum (CHECKSUM_PARTIAL),
    so the device only sums the L4 bytes and complements. Otherwise the pseudo-header is
    computed here. A UDP result of 0 is sent as 0xFFFF.
    """
    fo = start + l4_csum_field_off(rec)
    l4 = start + rec[PK_L4_OFF]
    l4_len = rec[PK_IP_END] - rec[PK_L4_OFF]
    if partial:
        s = ones_sum16(buf, l4, l4_len, 0)
    else:
        buf[fo] = 0
        buf[fo + 1] = 0
        s = ones_sum16(buf, l4, l4_len, l4_pseudo_sum(buf, start, rec))
    c = (~s) & 0xFFFF
    if c == 0 and rec[PK_L4_PROTO] == L4_UDP:
        c = 0xFFFF
    _put_be16(buf, fo, c)


@njit(leaf=True)
def tx_apply_offloads(buf, start, length, l3_csum_en, l4_csum_en, l4_partial, rec):
    """Apply the Tx descriptor checksum offloads to a frame in place (§5.3).

    Parses into ``rec`` first. l3_csum_en fills the IPv4 header checksum (ignored for
    IPv6); l4_csum_en fills the TCP/UDP checksum, full or partial. Returns 0, or
    ERR_BAD_FRAME when an enabled offload cannot be applied (no parse, not TCP/UDP, IPv4
    fragment); the frame is left unchanged then.
    """
    parse_frame(buf, start, length, rec)
    if rec[PK_ERR] != 0:
        return ERR_BAD_FRAME if (l3_csum_en or l4_csum_en) else 0
    if l4_csum_en and (rec[PK_L4_PROTO] == L4_UNKNOWN or rec[PK_IPV4_FRAG]):
        return ERR_BAD_FRAME
    if l3_csum_en and rec[PK_L3_PROTO] == L3_IPV4:
        ipv4_header_csum_fill(buf, start, rec)
    if l4_csum_en:
        l4_csum_fill(buf, start, rec, l4_partial)
    return 0
