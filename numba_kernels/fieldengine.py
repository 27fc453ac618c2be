"""Field engine: fill Tx frame slots from per-size-class templates (the TRex/scapy model).

A template set (built once by :mod:`enatool.gen.templates`) holds one complete frame per
size class with flow 0's addresses and ports, a zeroed probe and valid checksums. Per frame
the engine picks a size class from a precomputed (shuffled IMIX) schedule and a flow
(round-robin schedule or an explicit index), then either copies the template into the slot
(``MODE_FULL``) or, when the slot already holds that class's template, leaves the constant
bytes alone (``MODE_FIELDS``). Either way it rewrites only the mutable 16-bit words
(addresses, ports, probe flow id / sequence / timestamp) and fixes the IPv4 header checksum
and the TCP/UDP checksum incrementally (RFC 1624 eqn. 3: ``HC' = ~(~HC + sum(~m) + sum(m'))``,
summed over every changed word, folded once). Lengths never change in place: each size class
has its own template with its own IP/UDP lengths.

Incremental results are normalised so they are byte-identical to a full recomputation: a
folded sum of 0 (only possible through the incremental path) is taken as 0xFFFF, the other
representation of ones'-complement zero, and a UDP result of 0 is sent as 0xFFFF (RFC 768).

The probe header (big-endian, right after the L4 header) is the one layout shared by ``gen``,
``sink`` and ``latency``: magic u32, flow id u32, sequence u64, send timestamp ns u64
(24 bytes). A size class too small for it carries the 16-byte short probe (no timestamp) or
none at all (``probe_len`` per class); per-flow sequence numbers count only probed frames.
"""

from __future__ import annotations

import numpy as np

from numba_kernels.checksum import csum_fold
from numba_kernels.jit import njit

PROBE_MAGIC = 0x454E4154  # "ENAT"
PROBE_OFF_MAGIC = 0
PROBE_OFF_FLOW = 4
PROBE_OFF_SEQ = 8
PROBE_OFF_TS = 16
PROBE_LEN = 24
PROBE_SHORT_LEN = 16  # magic, flow id, sequence: no timestamp

# layout record (int64[LY_N]): offsets from the frame start, same for every size class
LY_L3_OFF = 0
LY_L4_OFF = 1
LY_SRC_OFF = 2
LY_DST_OFF = 3
LY_ADDR_LEN = 4  # 4 or 16
LY_IPV4 = 5  # 1 for IPv4 (header checksum present)
LY_UDP = 6  # 1 for UDP, 0 for TCP
LY_L3_CSUM_OFF = 7  # -1 for IPv6
LY_L4_CSUM_OFF = 8
LY_PAYLOAD_OFF = 9  # where the probe header starts
LY_N = 10

# engine state (int64[ST_N])
ST_PKT = 0  # frames produced so far: position in the size and flow schedules
ST_BYTES = 1  # frame bytes produced so far (no FCS)
ST_PROBED = 2  # frames that carried a probe header
ST_N = 3

MODE_FULL = 0
MODE_FIELDS = 1


@njit(nogil=True)
def _put16(buf, off, new, acc):
    """Store big-endian ``new`` at ``off``; return ``acc + ~old + new`` (RFC 1624 terms)."""
    old = (np.int64(buf[off]) << 8) | np.int64(buf[off + 1])
    buf[off] = (new >> 8) & 0xFF
    buf[off + 1] = new & 0xFF
    return acc + (0xFFFF ^ old) + new


@njit(nogil=True)
def _fix_csum(buf, off, acc, udp):
    """Apply the accumulated word changes ``acc`` to the checksum field at ``off``."""
    old = (np.int64(buf[off]) << 8) | np.int64(buf[off + 1])
    s = csum_fold((0xFFFF ^ old) + acc)
    if s == 0:
        s = 0xFFFF
    c = 0xFFFF ^ s
    if udp and c == 0:
        c = 0xFFFF
    buf[off] = c >> 8
    buf[off + 1] = c & 0xFF


@njit(nogil=True)
def _put64(buf, off, v, acc):
    acc = _put16(buf, off, (v >> 48) & 0xFFFF, acc)
    acc = _put16(buf, off + 2, (v >> 32) & 0xFFFF, acc)
    acc = _put16(buf, off + 4, (v >> 16) & 0xFFFF, acc)
    return _put16(buf, off + 6, v & 0xFFFF, acc)


@njit(nogil=True)
def rewrite_fields(buf, base, layout, c, probe_len, flow_src, flow_dst, flow_sport,
                   flow_dport, f, seq, ts_ns):
    """Rewrite flow ``f``'s fields and the probe in the frame at ``buf[base:]``.

    The slot must hold size class ``c``'s constant bytes with valid checksums (any flow,
    any probe values). ``seq`` < 0 leaves the probe untouched. Checksums are updated
    incrementally from the words actually replaced.
    """
    alen = layout[LY_ADDR_LEN]
    so = base + layout[LY_SRC_OFF]
    do = base + layout[LY_DST_OFF]
    a3 = 0
    for w in range(0, alen, 2):
        a3 = _put16(buf, so + w, (np.int64(flow_src[f, w]) << 8) | flow_src[f, w + 1], a3)
        a3 = _put16(buf, do + w, (np.int64(flow_dst[f, w]) << 8) | flow_dst[f, w + 1], a3)
    l4 = base + layout[LY_L4_OFF]
    a4 = _put16(buf, l4, np.int64(flow_sport[f]), a3)
    a4 = _put16(buf, l4 + 2, np.int64(flow_dport[f]), a4)
    pl = probe_len[c]
    if pl > 0 and seq >= 0:
        po = base + layout[LY_PAYLOAD_OFF]
        a4 = _put16(buf, po + PROBE_OFF_FLOW, (f >> 16) & 0xFFFF, a4)
        a4 = _put16(buf, po + PROBE_OFF_FLOW + 2, f & 0xFFFF, a4)
        a4 = _put64(buf, po + PROBE_OFF_SEQ, seq, a4)
        if pl >= PROBE_LEN:
            a4 = _put64(buf, po + PROBE_OFF_TS, ts_ns, a4)
    if layout[LY_IPV4]:
        _fix_csum(buf, base + layout[LY_L3_CSUM_OFF], a3, False)
    _fix_csum(buf, base + layout[LY_L4_CSUM_OFF], a4, layout[LY_UDP] != 0)


@njit(nogil=True)
def fill_frames(umem, addrs, lens_out, n, templates, frame_len, probe_len, layout,
                flow_src, flow_dst, flow_sport, flow_dport, size_sched, flow_sched,
                sched_lcm, flow_idx, seq_next, state, slot_class, stride, ts_ns, mode):
    """Fill ``n`` frames at byte offsets ``addrs[:n]`` of ``umem``; lengths to ``lens_out``.

    Frame ``g`` (``state[ST_PKT]`` counts them) gets size class ``size_sched[g % P]`` and,
    unless ``flow_idx`` is non-empty (then flow ``flow_idx[i]``), flow
    ``flow_sched[(g + g // sched_lcm) % Q]``: the shift by one flow every ``lcm(P, Q)``
    frames lets every flow meet every size class even when P and Q share factors.
    ``MODE_FIELDS`` skips the template copy when ``slot_class[addr // stride]`` says the
    slot already holds that class (the slot must not have been modified by anyone else);
    ``MODE_FULL`` always copies and never touches ``slot_class``. Per-flow sequence numbers
    come from ``seq_next`` (advanced for probed frames only); ``ts_ns`` is the send
    timestamp for the batch. Returns the frame bytes written.
    """
    g = state[ST_PKT]
    p = size_sched.shape[0]
    q = flow_sched.shape[0]
    by_index = flow_idx.shape[0] > 0
    nbytes = 0
    probed = 0
    for i in range(n):
        c = size_sched[g % p]
        if by_index:
            f = np.int64(flow_idx[i])
        else:
            f = np.int64(flow_sched[(g + g // sched_lcm) % q])
        base = addrs[i]
        length = frame_len[c]
        if mode == MODE_FULL:
            umem[base:base + length] = templates[c, :length]
        else:
            slot = base // stride
            if slot_class[slot] != c:
                umem[base:base + length] = templates[c, :length]
                slot_class[slot] = c
        seq = -1
        if probe_len[c] > 0:
            seq = seq_next[f]
            seq_next[f] = seq + 1
            probed += 1
        rewrite_fields(umem, base, layout, c, probe_len, flow_src, flow_dst, flow_sport,
                       flow_dport, f, seq, ts_ns)
        lens_out[i] = length
        nbytes += length
        g += 1
    state[ST_PKT] = g
    state[ST_BYTES] += nbytes
    state[ST_PROBED] += probed
    return nbytes


@njit(nogil=True)
def peek_classes(size_sched, start, n, out):
    """Size classes of the next ``n`` frames from schedule position ``start`` (for pacing)."""
    p = size_sched.shape[0]
    for i in range(n):
        out[i] = size_sched[(start + i) % p]
    return out
