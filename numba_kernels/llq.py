"""LLQ (low-latency queue, Tx push mode) line kernels: driver-side builder, device-side parser.

Reproduces the line format of today's Linux ENA driver (`ena_com_write_bounce_buffer_to_dev`
path, v2.17.0; INTERFACE.md §6): inline header, multiple descriptors per line, N
"descriptors before header". The first line of a packet holds up to N descriptors at bytes
0..16N and the pushed header from byte 16N (at most line_size - 16N bytes); continuation
lines hold line_size / 16 descriptors each. A packet uses 1 + ceil((ndescs - N) /
(line_size / 16)) lines, always starting on a fresh line; the SQ tail counts lines and every
descriptor carries the phase of the line it sits in.

The LLQ area is a flat uint8 array of ``depth * line_size`` bytes (the queue's part of BAR2);
descriptors are uint32 ``(k, 4)`` rows as built by :mod:`numba_kernels.descriptors`.
"""

from __future__ import annotations

import numpy as np

from numba_kernels.descriptors import (
    CTRL_FIRST,
    CTRL_LAST,
    CTRL_META_DESC,
    CTRL_PHASE,
    ERR_HEADER_TOO_LONG,
    ERR_MALFORMED,
    ERR_NO_FIRST,
    ERR_NO_SPACE,
    ERR_PHASE,
    ERR_TOO_MANY_DESCS,
)
from numba_kernels.jit import njit
from numba_kernels.memops import copy_bytes
from numba_kernels.rings import ring_phase, tx_meta_cache_apply


@njit(leaf=True)
def llq_lines_for(ndescs, descs_before_header, line_size):
    """Lines one packet of ``ndescs`` descriptors (meta included) occupies (§6)."""
    per_line = line_size // 16
    rest = ndescs - descs_before_header
    if rest <= 0:
        return 1
    return 1 + (rest + per_line - 1) // per_line


@njit(leaf=True)
def llq_max_header(descs_before_header, line_size):
    """Largest header that can be pushed: line_size - 16 N, capped by the 8-bit
    header_length field of the Tx descriptor (only reachable with N = 0 on 256-B lines)."""
    return min(line_size - 16 * descs_before_header, 255)


@njit(leaf=True)
def _put_desc(area32, word, descs, row, phase):
    """Store descriptor row at 32-bit word ``word`` of the area with the given phase (the
    words are little-endian in memory, like the descriptor layout)."""
    w0 = np.int64(descs[row, 0])
    w0 = (w0 & ~CTRL_PHASE) | (CTRL_PHASE if phase else 0)
    area32[word] = w0 & 0xFFFFFFFF
    area32[word + 1] = descs[row, 1]
    area32[word + 2] = descs[row, 2]
    area32[word + 3] = descs[row, 3]


@njit(leaf=True)
def _get_desc(area32, word, out, row):
    """Load the descriptor at 32-bit word ``word`` of the area into ``out[row]``."""
    out[row, 0] = area32[word]
    out[row, 1] = area32[word + 1]
    out[row, 2] = area32[word + 2]
    out[row, 3] = area32[word + 3]


@njit(leaf=True)
def llq_write_packet(area, tail, depth, line_size, descs_before_header, descs, desc_start,
                     ndescs, header, hdr_start, header_len):
    """Push one packet as LLQ lines from free-running line index ``tail`` (driver side).

    ``descs[desc_start:desc_start+ndescs]`` (meta first if any; their phase bits are
    replaced by the phase of their line) and ``header[hdr_start:hdr_start+header_len]``.
    Descriptors are stored as 32-bit words; bytes the format leaves unused (descriptor
    slots after ``last``, the line after the header) are not touched: the device never
    reads them. ``area`` is contiguous uint8 (a line is a multiple of 16 bytes).
    Returns the new u16 tail, or ERR_HEADER_TOO_LONG (over :func:`llq_max_header`; nothing
    written).
    """
    n_first = descs_before_header
    if header_len > llq_max_header(n_first, line_size) or header_len < 0:
        return ERR_HEADER_TOO_LONG
    area32 = area.view(np.uint32)
    wpl = line_size // 4
    per_line = line_size // 16
    mask = depth - 1
    line = tail
    phase = ring_phase(line, depth)
    base = (line & mask) * wpl
    d = 0
    while d < ndescs and d < n_first:
        _put_desc(area32, base + 4 * d, descs, desc_start + d, phase)
        d += 1
    copy_bytes(area, (line & mask) * line_size + 16 * n_first, header, hdr_start, header_len)
    line = (line + 1) & 0xFFFF
    while d < ndescs:
        base = (line & mask) * wpl
        phase = ring_phase(line, depth)
        k = 0
        while k < per_line and d < ndescs:
            _put_desc(area32, base + 4 * k, descs, desc_start + d, phase)
            k += 1
            d += 1
        line = (line + 1) & 0xFFFF
    return line


@njit(leaf=True)
def llq_write_burst(area, tail, depth, line_size, descs_before_header, descs, pkt_desc_start,
                    pkt_ndescs, headers, pkt_hdr_start, pkt_hdr_len):
    """:func:`llq_write_packet` for consecutive packets.

    Returns ``(n_written, new_tail)``; on a too-long header ``(ERR_HEADER_TOO_LONG, tail
    after the packets written so far)``.
    """
    t = tail
    for p in range(pkt_ndescs.shape[0]):
        r = llq_write_packet(area, t, depth, line_size, descs_before_header, descs,
                             pkt_desc_start[p], pkt_ndescs[p], headers, pkt_hdr_start[p],
                             pkt_hdr_len[p])
        if r < 0:
            return r, t
        t = r
    return pkt_ndescs.shape[0], t


@njit(leaf=True)
def llq_read_packet(area, head, tail, depth, line_size, descs_before_header, max_descs,
                    out_descs, out_start, out_header):
    """Recover one packet from the lines at ``head`` (device side).

    Descriptors go to ``out_descs[out_start…]`` (rows of 4 words, meta included), the pushed
    header (length from the first data descriptor's header_length) to ``out_header``.
    Stops after the descriptor with ``last``; the first line holds at most N of them.

    Returns ``(ndescs, header_len, new_head)``: ``(0, 0, head)`` if no complete packet sits
    before ``tail``; ``(ERR_PHASE | ERR_NO_FIRST | ERR_MALFORMED | ERR_TOO_MANY_DESCS |
    ERR_NO_SPACE, 0, head)`` on malformed lines; ``(ERR_HEADER_TOO_LONG, 0, next_head)``
    when header_length exceeds line_size - 16 N (the packet is skipped, to be dropped).
    """
    if head == tail:
        return 0, 0, head
    per_line = line_size // 16
    mask = depth - 1
    n_first = descs_before_header
    area32 = area.view(np.uint32)
    wpl = line_size // 4
    line = head
    slot_in_line = 0
    line_cap = n_first
    nd = 0
    hdr_len = -1
    while True:
        if slot_in_line == line_cap:
            line = (line + 1) & 0xFFFF
            if line == tail:
                return 0, 0, head
            slot_in_line = 0
            line_cap = per_line
        if nd >= max_descs:
            return ERR_TOO_MANY_DESCS, 0, head
        if out_start + nd >= out_descs.shape[0]:
            return ERR_NO_SPACE, 0, head
        row = out_start + nd
        _get_desc(area32, (line & mask) * wpl + 4 * slot_in_line, out_descs, row)
        w0 = np.int64(out_descs[row, 0])
        if (1 if (w0 & CTRL_PHASE) else 0) != ring_phase(line, depth):
            return ERR_PHASE, 0, head
        if nd == 0 and not (w0 & CTRL_FIRST):
            return ERR_NO_FIRST, 0, head
        if nd > 0 and (w0 & CTRL_META_DESC):
            return ERR_MALFORMED, 0, head
        if hdr_len < 0 and not (w0 & CTRL_META_DESC):
            hdr_len = (np.int64(out_descs[row, 3]) >> 24) & 0xFF
        nd += 1
        slot_in_line += 1
        if (w0 & CTRL_LAST) and not (w0 & CTRL_META_DESC):
            break
    new_head = (line + 1) & 0xFFFF
    if hdr_len > line_size - 16 * n_first:
        return ERR_HEADER_TOO_LONG, 0, new_head
    if hdr_len > out_header.shape[0]:
        return ERR_NO_SPACE, 0, head
    copy_bytes(out_header, 0, area, (head & mask) * line_size + 16 * n_first, hdr_len)
    return nd, hdr_len, new_head


@njit(leaf=True)
def llq_fetch(area, head, tail, depth, line_size, descs_before_header, max_pkts, max_descs,
              meta_state, out_descs, out_first_idx, out_ndata, out_nmeta, out_meta, out_headers,
              out_hdr_len, out_status):
    """Parse up to ``max_pkts`` packets of LLQ lines between ``head`` and ``tail``.

    Like :func:`numba_kernels.rings.tx_sq_fetch` but descriptors are copied out into
    ``out_descs`` (packet p's data descriptors start at row ``out_first_idx[p]``, its meta
    one row before when ``out_nmeta[p]``), headers into ``out_headers[p]`` (a row at least
    ``line_size`` long) with ``out_hdr_len[p]``. ``out_status[p]`` is 0, or
    ERR_HEADER_TOO_LONG for a packet the device must drop (no descriptors are reported for
    it). Returns ``(n_pkts, new_head)`` or ``(err, head_of_bad_packet)``.
    """
    h = head
    npkts = 0
    row = 0
    while npkts < max_pkts and h != tail:
        nd, hl, nh = llq_read_packet(area, h, tail, depth, line_size, descs_before_header,
                                     max_descs + 1, out_descs, row, out_headers[npkts])
        if nd == 0:
            break
        if nd == ERR_HEADER_TOO_LONG:
            out_first_idx[npkts] = row
            out_ndata[npkts] = 0
            out_nmeta[npkts] = 0
            out_meta[npkts, 0] = 0
            out_meta[npkts, 1] = 0
            out_hdr_len[npkts] = 0
            out_status[npkts] = ERR_HEADER_TOO_LONG
            npkts += 1
            h = nh
            continue
        if nd < 0:
            return nd, h
        w0 = np.int64(out_descs[row, 0])
        has_meta = (w0 & CTRL_META_DESC) != 0
        nmeta = 1 if has_meta else 0
        ndata = nd - nmeta
        if ndata > max_descs or ndata == 0:
            return (ERR_TOO_MANY_DESCS if ndata > 0 else ERR_MALFORMED), h
        for k in range(nmeta, nd):
            if k > 0 and (np.int64(out_descs[row + k, 0]) & CTRL_FIRST):
                return ERR_MALFORMED, h
        mw2 = np.int64(out_descs[row, 2]) if has_meta else 0
        out_first_idx[npkts] = row + nmeta
        out_ndata[npkts] = ndata
        out_nmeta[npkts] = nmeta
        tx_meta_cache_apply(meta_state, has_meta, w0 if has_meta else 0, mw2, out_meta, npkts)
        out_hdr_len[npkts] = hl
        out_status[npkts] = 0
        npkts += 1
        row += nd
        h = nh
    return npkts, h
