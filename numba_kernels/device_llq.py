"""Device Tx fast path for the common LLQ packet: one line, header only, no offloads.

With LLQ (INTERFACE.md §6) a small frame travels entirely in the line the driver pushed: one
data descriptor (last, buffer length 0) before the header, optionally preceded by a meta
descriptor (on every packet when the device asks for DISABLE_META_CACHING in LLQ accelerated
mode), nothing to gather by DMA. The general path
(:func:`numba_kernels.device_dp.llq_fetch_burst` then
:func:`numba_kernels.device_dp.tx_build_frames`) copies such a header twice (line → header
row → work buffer) before laying out the wire frame; here the line's header goes straight to
the wire buffer. The first packet that is anything else (several data descriptors, a DMA
buffer, an offload bit, a bad phase, a header longer than the line) stops the kernel, and
the caller continues from there with the general path, so results are identical (tests
compare both paths on mixed streams).
"""

from __future__ import annotations

import numpy as np

from numba_kernels.descriptors import (
    CTRL_COMP_REQ,
    CTRL_FIRST,
    CTRL_LAST,
    CTRL_META_DESC,
    CTRL_PHASE,
    TX_L3_CSUM_EN,
    TX_L4_CSUM_EN,
    TX_TSO_EN,
    TXM_META_STORE,
)
from numba_kernels.jit import njit
from numba_kernels.rings import META_VALID, META_W0, META_W2

MIN_FRAME = 60  # = device_dp.MIN_FRAME (§15 padding)
TXS_OK = 0  # = device_dp.TXS_OK
_OFFLOADS = TX_L3_CSUM_EN | TX_L4_CSUM_EN | TX_TSO_EN


@njit(leaf=True)
def llq_fetch_build_simple(area, head, tail, depth, line_size, descs_before_header, max_pkts,
                           meta_state, out_buf, out_pos, out_off, out_len, n_out, out_req_id,
                           out_comp_req, out_sq_head, pkt_status, counts):
    """Take header-only single-line packets from line ``head`` while they come (at most
    ``max_pkts``): each one's header, zero-padded to 60 bytes, is appended to ``out_buf`` at
    ``out_pos`` (offset/length into ``out_off/out_len`` from ``n_out``); its req_id,
    comp_req, the line head after it and TXS_OK go to ``out_*[p]`` / ``pkt_status[p]``. A
    meta descriptor with meta_store updates the queue's meta cache (``meta_state``) as
    :func:`numba_kernels.rings.tx_meta_cache_apply` does.

    Returns ``(packets, new_head, out_pos, n_out)``; the caller hands anything left to the
    general path from ``new_head``.
    """
    mask = depth - 1
    words = line_size // 4
    area32 = area.view(np.uint32)
    room = line_size - 16 * descs_before_header
    h = np.int64(head)
    pos = np.int64(out_pos)
    k = np.int64(n_out)
    p = 0
    if descs_before_header < 1:
        return 0, h, pos, k  # header first in the line: not this layout
    while p < max_pkts and h != tail:
        slot = h & mask
        w = slot * words
        phase = CTRL_PHASE if ((h // depth) & 1) == 0 else 0
        m0 = np.int64(area32[w])
        if (m0 & CTRL_PHASE) != phase or not (m0 & CTRL_FIRST):
            break
        has_meta = (m0 & CTRL_META_DESC) != 0
        if has_meta:  # meta first, the data descriptor next in the same line
            if descs_before_header < 2:
                break
            w += 4
        d0 = np.int64(area32[w])
        d1 = np.int64(area32[w + 1])
        d3 = np.int64(area32[w + 3])
        if (d0 & CTRL_PHASE) != phase or (d0 & (CTRL_LAST | CTRL_META_DESC)) != CTRL_LAST:
            break
        if (d0 & 0xFFFF) != 0 or (d1 & _OFFLOADS) != 0:
            break
        hl = (d3 >> 24) & 0xFF
        if hl == 0 or hl > room:
            break
        wl = hl if hl >= MIN_FRAME else MIN_FRAME
        if pos + wl > out_buf.shape[0] or k >= out_off.shape[0]:
            break
        if has_meta and (m0 & TXM_META_STORE):
            meta_state[META_VALID] = 1
            meta_state[META_W0] = m0
            meta_state[META_W2] = np.int64(area32[w - 2])
        src = np.uint64(slot * line_size + 16 * descs_before_header)
        dst = np.uint64(pos)
        for b in range(np.uint64(hl)):
            out_buf[dst + b] = area[src + b]
        for b in range(np.uint64(hl), np.uint64(wl)):
            out_buf[dst + b] = 0
        out_off[k] = pos
        out_len[k] = wl
        k += 1
        pos += wl
        out_req_id[p] = (((d0 >> 16) & 0x3F) << 10) | ((d1 >> 22) & 0x3FF)
        out_comp_req[p] = 1 if (d0 & CTRL_COMP_REQ) else 0
        h = (h + 1) & 0xFFFF
        out_sq_head[p] = h
        pkt_status[p] = TXS_OK
        counts[TXS_OK] += 1
        p += 1
    return p, h, pos, k
