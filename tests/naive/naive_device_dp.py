"""Naive pure-Python twins of numba_kernels.device_dp: Rx classify (status, RSS hash, queue),
byte copy and the 16-bit ones'-complement sum. Re-derived from INTERFACE.md §5.7 / §8 with
the naive parser and checksums of :mod:`naive.naive_datapath` and bit-by-bit Toeplitz."""

from __future__ import annotations

from naive import naive_datapath as nd
from naive import rss as nrss

# §8 flow types and field bits (same numbers as the device's hash-input table)
FLOW_TCP4, FLOW_UDP4, FLOW_TCP6, FLOW_UDP6, FLOW_IP4, FLOW_IP6, FLOW_IP4_FRAG = 0, 1, 2, 3, 4, 5, 6
FLOW_NOT_IP, FLOW_IP6_EX = 7, 9
L2_DA, L2_SA, L3_DA, L3_SA, L4_DP, L4_SP = 1, 2, 4, 8, 16, 32


def copy_bytes(dst: bytearray, doff: int, src: bytes, soff: int, n: int) -> None:
    dst[doff:doff + n] = src[soff:soff + n]


def sum_be16(data: bytes, acc: int = 0) -> int:
    """Unfolded sum of big-endian words (odd byte padded)."""
    if len(data) % 2:
        data = data + b"\0"
    return acc + sum((data[i] << 8) | data[i + 1] for i in range(0, len(data), 2))


def status_word(frame: bytes) -> int:
    """Rx cdesc parse bits (§5.7) the device reports for ``frame``."""
    r = nd.parse(frame)
    if r is None:
        # a frame the device cannot parse: only what the Ethernet header tells
        return 0
    l3, l4 = nd.checksums(frame)
    s = r["l3_proto"] | (r["vlan"] << 5) | (r["l4_proto"] << 8)
    if r["l3_proto"] == 8 and l3 == 0:
        s |= 1 << 13
    if l4 == 0:
        s |= 1 << 14
    if r["frag"]:
        s |= 1 << 15
    if l4 >= 0:
        s |= 1 << 16
    return s


def flow_type(r: dict | None) -> int:
    if r is None or r["l3_proto"] == 0:
        return FLOW_NOT_IP
    if r["l3_proto"] == 8:
        if r["frag"]:
            return FLOW_IP4_FRAG
        return {12: FLOW_TCP4, 13: FLOW_UDP4}.get(r["l4_proto"], FLOW_IP4)
    if r["v6ext"]:
        return FLOW_IP6_EX
    return {12: FLOW_TCP6, 13: FLOW_UDP6}.get(r["l4_proto"], FLOW_IP6)


def hash_input(frame: bytes, fields, sort_l3: bool, sort_l4: bool) -> bytes:
    r = nd.parse(frame)
    flow = flow_type(r)
    f = int(fields[flow])
    if flow == FLOW_NOT_IP:
        if len(frame) < 12:
            return b""
        return (frame[6:12] if f & L2_SA else b"") + (frame[0:6] if f & L2_DA else b"")
    a = r["addr_len"]
    s, d = frame[r["src"]:r["src"] + a], frame[r["src"] + a:r["src"] + 2 * a]
    ports = frame[r["l4"]:r["l4"] + 4] if r["l4"] and r["l4_proto"] else b"\0" * 4
    sp, dp = ports[:2], ports[2:]
    if sort_l3 and d < s:
        s, d = d, s
    if sort_l4 and dp < sp:
        sp, dp = dp, sp
    return ((s if f & L3_SA else b"") + (d if f & L3_DA else b"") + (sp if f & L4_SP else b"")
            + (dp if f & L4_DP else b""))


def rx_classify(frames, eff_key: bytes, init_value: int, fields, sort_l3: bool, sort_l4: bool,
                replicate16: bool, table):
    """[(status bits, hash, queue)] per frame with Toeplitz RSS."""
    out = []
    for fr in frames:
        h = nrss.toeplitz(eff_key, hash_input(fr, fields, sort_l3, sort_l4), init_value)
        h &= 0xFFFFFFFF
        if replicate16:
            h = ((h & 0xFFFF) << 16) | (h & 0xFFFF)
        out.append((status_word(fr), h, int(table[h % len(table)])))
    return out
