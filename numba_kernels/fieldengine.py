"""Field engine: fill Tx frame slots from per-size-class templates (the TRex/scapy model).

A template set (built once by :mod:`enatool.gen.templates`) holds one complete frame per
size class with flow 0's addresses and ports, a zeroed probe and valid checksums. Per frame
the engine picks a size class from a precomputed (shuffled IMIX) schedule and a flow
(round-robin schedule or an explicit index), then either copies the template into the slot
(``MODE_FULL``) or, when the slot already holds that class's template, leaves the constant
bytes alone (``MODE_FIELDS``). Either way it rewrites only the mutable 16-bit words
(addresses, ports, probe flow id / sequence / timestamp) and fixes the IPv4 header checksum
incrementally (RFC 1624 eqn. 3: ``HC' = ~(~HC + sum(~m) + sum(m'))``, summed over every
changed word, folded once). The TCP/UDP checksum is rebuilt from the frame's *L4 base sum*:
the same incremental sum with the probe sequence and timestamp words taken out, so the field
is ``~(base + words(seq) + words(ts))`` with the word sums computed arithmetically from the
values written. ``MODE_FIELDS`` also remembers per slot (the slot map) the flow and base sum
it wrote: a slot reused for the same class and flow, the common case of one or a few flows,
gets only its sequence number, timestamp and L4 checksum written. Lengths never change in
place: each size class has its own template with its own IP/UDP lengths.

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

# slot map entry (int64, one per ``stride`` bytes of the buffer, MODE_FIELDS only): what the
# slot holds, -1 when unknown: ``(c << SL_CLASS_SHIFT) | (f << SL_FLOW_SHIFT) | base``, i.e.
# size class ``c``'s constant bytes with flow ``f``'s fields (``f`` < 2**31: flow indices are
# int32) and ``base``, the frame's L4 base sum (see :func:`rewrite_fields`).
SL_CLASS_SHIFT = 48
SL_FLOW_SHIFT = 16
SL_SUM_MASK = 0xFFFF
SL_MAX_CLASSES = 1 << 15  # size classes that fit the packing (entries stay non-negative)


# The byte helpers take *unsigned* (np.uint64) offsets: a signed index costs a negative-index
# wraparound select per byte, which also keeps LLVM from merging the byte loads and stores
# into single big-endian 16/64-bit moves. (In numba np.uint64 + int64 is float64, hence the
# np.uint64(k) constants.)


@njit(nogil=True, leaf=True)
def _get16(buf, off):
    """The big-endian 16-bit word at ``off``."""
    return (np.int64(buf[off]) << 8) | np.int64(buf[off + np.uint64(1)])


@njit(nogil=True, leaf=True)
def _store16(buf, off, v):
    """Store the 16-bit ``v`` big-endian at ``off``."""
    buf[off] = (v >> 8) & 0xFF
    buf[off + np.uint64(1)] = v & 0xFF


@njit(nogil=True, leaf=True)
def _put16(buf, off, new, acc):
    """Store big-endian ``new`` at ``off``; return ``acc + ~old + new`` (RFC 1624 terms)."""
    old = _get16(buf, off)
    _store16(buf, off, new)
    return acc + (0xFFFF ^ old) + new


@njit(nogil=True, leaf=True)
def _drop64(buf, off, acc):
    """``acc`` plus the complement of the four 16-bit words at ``off`` (removes them)."""
    return (acc + (0xFFFF ^ _get16(buf, off)) + (0xFFFF ^ _get16(buf, off + np.uint64(2)))
            + (0xFFFF ^ _get16(buf, off + np.uint64(4)))
            + (0xFFFF ^ _get16(buf, off + np.uint64(6))))


@njit(nogil=True, leaf=True)
def _store64(buf, off, v):
    """Store ``v`` big-endian at ``off``."""
    buf[off] = (v >> 56) & 0xFF
    buf[off + np.uint64(1)] = (v >> 48) & 0xFF
    buf[off + np.uint64(2)] = (v >> 40) & 0xFF
    buf[off + np.uint64(3)] = (v >> 32) & 0xFF
    buf[off + np.uint64(4)] = (v >> 24) & 0xFF
    buf[off + np.uint64(5)] = (v >> 16) & 0xFF
    buf[off + np.uint64(6)] = (v >> 8) & 0xFF
    buf[off + np.uint64(7)] = v & 0xFF


@njit(nogil=True, leaf=True)
def _words64(v):
    """Sum of the four big-endian 16-bit words ``v`` is stored as (not folded)."""
    return (((v >> 48) & 0xFFFF) + ((v >> 32) & 0xFFFF) + ((v >> 16) & 0xFFFF)
            + (v & 0xFFFF))


@njit(nogil=True, leaf=True)
def _csum_field(s, udp):
    """Checksum field for the ones'-complement sum ``s`` (any width), normalised like a full
    recomputation: the folded sum is taken in 1..0xFFFF, a UDP result of 0 sent as 0xFFFF."""
    s = csum_fold(s)
    if s == 0:
        s = 0xFFFF
    c = 0xFFFF ^ s
    if udp and c == 0:
        c = 0xFFFF
    return c


@njit(nogil=True, leaf=True)
def _copy_row(dst, doff, rows, r, n):
    """``dst[doff:doff+n] = rows[r, :n]`` (``doff`` unsigned: a plain vector copy)."""
    rr = np.uint64(r)
    for i in range(np.uint64(n)):
        dst[doff + i] = rows[rr, i]


@njit(nogil=True, leaf=True)
def rewrite_fields(buf, base, layout, pl, flow_src, flow_dst, flow_sport, flow_dport, f):
    """Write flow ``f``'s addresses and ports (and, when the class has a probe, ``pl`` > 0,
    its flow id) into the frame at ``buf[base:]``; return the frame's L4 base sum.

    The slot must hold a size class's constant bytes with valid checksums (any flow, any
    probe values); ``pl`` is that class's probe length. The IPv4 header checksum is updated
    incrementally from the words actually replaced. The L4 checksum field is left as it
    is: the returned base sum (folded, 0..0xFFFF) is the ones'-complement sum the L4
    checksum covers (pseudo-header included) without the probe sequence and timestamp
    words, so the field for sequence ``seq`` and timestamp ``ts`` is the complement of
    ``base + words(seq) + words(ts)`` (:func:`fill_frames` writes it).
    """
    b = np.uint64(base)
    so = b + np.uint64(layout[LY_SRC_OFF])
    do = b + np.uint64(layout[LY_DST_OFF])
    fu = np.uint64(f)
    a3 = 0
    w = np.uint64(0)
    alen = np.uint64(layout[LY_ADDR_LEN])
    while w < alen:
        w1 = w + np.uint64(1)
        a3 = _put16(buf, so + w, (np.int64(flow_src[fu, w]) << 8) | flow_src[fu, w1], a3)
        a3 = _put16(buf, do + w, (np.int64(flow_dst[fu, w]) << 8) | flow_dst[fu, w1], a3)
        w += np.uint64(2)
    l4 = b + np.uint64(layout[LY_L4_OFF])
    a4 = _put16(buf, l4, np.int64(flow_sport[fu]), a3)
    a4 = _put16(buf, l4 + np.uint64(2), np.int64(flow_dport[fu]), a4)
    if pl > 0:
        po = b + np.uint64(layout[LY_PAYLOAD_OFF])
        a4 = _put16(buf, po + np.uint64(PROBE_OFF_FLOW), (f >> 16) & 0xFFFF, a4)
        a4 = _put16(buf, po + np.uint64(PROBE_OFF_FLOW + 2), f & 0xFFFF, a4)
        a4 = _drop64(buf, po + np.uint64(PROBE_OFF_SEQ), a4)
        if pl >= PROBE_LEN:
            a4 = _drop64(buf, po + np.uint64(PROBE_OFF_TS), a4)
    if layout[LY_IPV4]:
        off = b + np.uint64(layout[LY_L3_CSUM_OFF])
        _store16(buf, off, _csum_field((0xFFFF ^ _get16(buf, off)) + a3, False))
    return csum_fold((0xFFFF ^ _get16(buf, b + np.uint64(layout[LY_L4_CSUM_OFF]))) + a4)


@njit(nogil=True)
def fill_frames(umem, addrs, lens_out, n, templates, frame_len, probe_len, layout,
                flow_src, flow_dst, flow_sport, flow_dport, size_sched, flow_sched,
                sched_lcm, flow_idx, seq_next, state, slot_map, stride, ts_ns, mode):
    """Fill ``n`` frames at byte offsets ``addrs[:n]`` of ``umem``; lengths to ``lens_out``.

    Frame ``g`` (``state[ST_PKT]`` counts them) gets size class ``size_sched[g % P]`` and,
    unless ``flow_idx`` is non-empty (then flow ``flow_idx[i]``), flow
    ``flow_sched[(g + g // sched_lcm) % Q]``: the shift by one flow every ``lcm(P, Q)``
    frames lets every flow meet every size class even when P and Q share factors.
    ``MODE_FIELDS`` keeps in ``slot_map[addr // stride]`` (int64, -1 for a slot whose
    content is unknown; packed as ``SL_*`` says) what each slot holds: it skips the template
    copy when the slot already holds that class, and the address/port/flow-id writes too
    when it also holds that flow (the slot must not have been modified by anyone else, and
    one map must serve one template set). ``MODE_FULL`` always copies and never touches
    ``slot_map``. Per-flow sequence numbers come from ``seq_next`` (non-negative; advanced
    for probed frames only); ``ts_ns`` is the send timestamp for the batch. Returns the
    frame bytes written.
    """
    if n <= 0:
        return 0
    g = state[ST_PKT]
    p = size_sched.shape[0]
    q = flow_sched.shape[0]
    by_index = flow_idx.shape[0] > 0
    # schedule positions step by one per frame: no division in the loop
    ps = g % p
    fq = 0
    lcm_pos = 0
    if not by_index:
        lcm_pos = g % sched_lcm
        fq = (g + g // sched_lcm) % q
    shift = -1  # slot = addr >> shift when the stride is a power of two (no division)
    if mode != MODE_FULL and stride & (stride - 1) == 0:
        shift = 0
        while (np.int64(1) << shift) < stride:
            shift += 1
    seq_off = np.uint64(layout[LY_PAYLOAD_OFF] + PROBE_OFF_SEQ)
    ts_off = np.uint64(layout[LY_PAYLOAD_OFF] + PROBE_OFF_TS)
    l4c_off = np.uint64(layout[LY_L4_CSUM_OFF])
    udp = layout[LY_UDP] != 0
    ts_sum = _words64(ts_ns)
    nbytes = 0
    probed = 0
    for i in range(n):
        c = np.int64(size_sched[ps])
        ps += 1
        if ps == p:
            ps = 0
        if by_index:
            f = np.int64(flow_idx[i])
        else:
            f = np.int64(flow_sched[fq])
            fq += 1
            lcm_pos += 1
            if lcm_pos == sched_lcm:  # every lcm(P, Q) frames: one flow further
                lcm_pos = 0
                fq += 1
            while fq >= q:
                fq -= q
        base = addrs[i]
        b = np.uint64(base)
        length = np.int64(frame_len[c])
        pl = probe_len[c]
        if mode == MODE_FULL:
            _copy_row(umem, b, templates, c, length)
            bsum = rewrite_fields(umem, base, layout, pl, flow_src, flow_dst, flow_sport,
                                  flow_dport, f)
            fresh = True
        else:
            slot = (base >> shift) if shift >= 0 else base // stride
            held = slot_map[slot]
            key = (c << (SL_CLASS_SHIFT - SL_FLOW_SHIFT)) | f
            if (held >> SL_FLOW_SHIFT) == key:  # class and flow already there
                bsum = held & SL_SUM_MASK
                fresh = False
            else:
                if (held >> SL_CLASS_SHIFT) != c:
                    _copy_row(umem, b, templates, c, length)
                bsum = rewrite_fields(umem, base, layout, pl, flow_src, flow_dst, flow_sport,
                                      flow_dport, f)
                slot_map[slot] = (key << SL_FLOW_SHIFT) | bsum
                fresh = True
        if pl > 0:
            seq = seq_next[f]
            _store64(umem, b + seq_off, seq)
            seq_next[f] = seq + 1  # after the byte stores: LLVM merges them only then
            probed += 1
            s = bsum + _words64(seq)
            if pl >= PROBE_LEN:
                # seq >= 0, so this is ts_ns; a loop-invariant value would be split into
                # eight hoisted bytes, this one is stored as one big-endian 8-byte move
                _store64(umem, b + ts_off, ts_ns | (seq >> 63))
                s += ts_sum
            fresh = True
        else:
            s = bsum
        if fresh:
            _store16(umem, b + l4c_off, _csum_field(s, udp))
        lens_out[i] = length
        nbytes += length
    state[ST_PKT] = g + n
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
