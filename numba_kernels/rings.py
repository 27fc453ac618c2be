"""ENA IO ring kernels: free-running indices, phases, CQ polling/producing, SQ fetch, req_ids.

Reproduces the ring protocol of the Linux ENA driver's `ena_eth_com.c` / `ena_netdev.c`
(today's v2.17.0; the 2016 v1.0.0 driver differs only in Rx req_ids being ring slots) and the
device side a software ENA device needs (INTERFACE.md §5.1, §5.5, §5.7, §5.8, §13).

Indices are free-running u16 counters; ``slot = idx & (depth - 1)`` and the phase of an index
is 1 on the first pass and flips on every wrap: ``((idx // depth) & 1) == 0``. That formula
agrees with a separately kept phase bit because the depth is a power of two <= 32768 (so
65536 / depth is even and the u16 wrap lands on a phase-1 pass).

Return conventions: counts/indices ``>= 0``; errors are the negative ``ERR_*`` codes from
:mod:`numba_kernels.descriptors`. Kernels that both count and move an index return a tuple.
"""

from __future__ import annotations

import numpy as np

from numba_kernels.descriptors import (
    CTRL_FIRST,
    CTRL_LAST,
    CTRL_META_DESC,
    CTRL_PHASE,
    ERR_BAD_REQ_ID,
    ERR_MALFORMED,
    ERR_NO_FIRST,
    ERR_PHASE,
    ERR_TOO_MANY_DESCS,
    RXC_FIRST,
    RXC_LAST,
    RXC_MBZ,
    RXC_PHASE,
    TXC_MBZ,
    TXC_PHASE,
    TXM_META_STORE,
    rx_cdesc_write,
    tx_cdesc_write,
)
from numba_kernels.jit import njit

# tx_sq_fetch meta cache state (int64[META_STATE_LEN], one per Tx queue)
META_VALID = 0
META_W0 = 1
META_W2 = 2
META_STATE_LEN = 3


# ---- index arithmetic ---------------------------------------------------------------------
@njit(leaf=True)
def ring_slot(idx, depth):
    """Ring slot of a free-running index (depth is a power of two)."""
    return idx & (depth - 1)


@njit(leaf=True)
def ring_phase(idx, depth):
    """Phase (1 on the first pass, flipping on each wrap) of a free-running index (§5.1)."""
    return 1 if ((idx // depth) & 1) == 0 else 0


@njit(leaf=True)
def ring_add(idx, n):
    """Advance a free-running u16 index by ``n``."""
    return (idx + n) & 0xFFFF


@njit(leaf=True)
def ring_used(tail, head):
    """Entries between ``head`` and ``tail`` of free-running u16 indices."""
    return (tail - head) & 0xFFFF


@njit(leaf=True)
def sq_free_entries(tail, next_to_comp, depth):
    """Free SQ entries as the driver counts them: depth - 1 - (tail - next_to_comp) (§5.1)."""
    return depth - 1 - ((tail - next_to_comp) & 0xFFFF)


# ---- driver side: CQ consumers --------------------------------------------------------------
@njit(leaf=True)
def cq_poll_tx(cq, head, depth, max_n, out_req_ids, check_mbz):
    """Read up to ``max_n`` Tx cdescs from free-running ``head`` while the phase matches.

    Writes each req_id to ``out_req_ids`` and returns the count (the caller advances head by
    it). With ``check_mbz`` (capability CDESC_MBZ) a cdesc whose flags bits 7:6 are set
    returns ERR_MALFORMED (driver: reset reason 17).
    """
    mask = depth - 1
    n = 0
    while n < max_n:
        idx = (head + n) & 0xFFFF
        w0 = np.int64(cq[idx & mask, 0])
        # ring_phase inline (no call, no division: depth is a power of two)
        if ((w0 & TXC_PHASE) != 0) != ((idx & depth) == 0):
            break
        if check_mbz and (w0 & TXC_MBZ):
            return ERR_MALFORMED
        out_req_ids[n] = w0 & 0xFFFF
        n += 1
    return n


@njit(leaf=True)
def cq_poll_rx(cq, head, depth, max_pkts, max_descs, out_req_ids, out_lengths, out_pkt_ndescs,
               out_pkt_status, out_pkt_hash, out_pkt_offset):
    """Collect complete Rx packets (cdesc runs first…last) from free-running ``head`` (§5.7).

    Per cdesc: req_id and length into the flat ``out_req_ids``/``out_lengths`` (packet p
    starts at ``sum(out_pkt_ndescs[:p])``); per packet: descriptor count, status word and
    RSS hash of the last cdesc, offset of the first. A packet whose last cdesc has not
    arrived yet, or that would overflow the flat arrays, is left for the next call.

    Returns ``(n_pkts, n_cdescs)``; advance head by ``n_cdescs``. On a bad completion returns
    ``(err, n_cdescs_before_the_bad_packet)`` with err = ERR_BAD_REQ_ID (req_id >= depth,
    reason 4), ERR_TOO_MANY_DESCS (> max_descs, reason 6) or ERR_MALFORMED (first in
    mid-packet or MBZ set, reason 16).
    """
    mask = depth - 1
    cap = out_req_ids.shape[0]
    npkts = 0
    used = 0  # cdescs consumed by complete packets
    while npkts < max_pkts:
        # scan one run without consuming it
        count = 0
        complete = False
        while True:
            idx = (head + used + count) & 0xFFFF
            s = np.int64(cq[idx & mask, 0])
            if ((s & RXC_PHASE) != 0) != ((idx & depth) == 0):  # ring_phase inline
                break
            if s & RXC_MBZ:
                return ERR_MALFORMED, used
            if count > 0 and (s & RXC_FIRST):
                return ERR_MALFORMED, used
            req_id = (np.int64(cq[idx & mask, 1]) >> 16) & 0xFFFF
            if req_id >= depth:
                return ERR_BAD_REQ_ID, used
            count += 1
            if count > max_descs:
                return ERR_TOO_MANY_DESCS, used
            if s & RXC_LAST:
                complete = True
                break
            if count >= depth:
                break
        if not complete or used + count > cap:
            break
        base = used
        for k in range(count):
            slot = (head + base + k) & mask
            w1 = np.int64(cq[slot, 1])
            out_req_ids[base + k] = (w1 >> 16) & 0xFFFF
            out_lengths[base + k] = w1 & 0xFFFF
        first_slot = (head + base) & mask
        last_slot = (head + base + count - 1) & mask
        out_pkt_ndescs[npkts] = count
        out_pkt_status[npkts] = np.int64(cq[last_slot, 0])
        out_pkt_hash[npkts] = np.int64(cq[last_slot, 2])
        out_pkt_offset[npkts] = (np.int64(cq[first_slot, 3]) >> 16) & 0xFF
        used += count
        npkts += 1
    return npkts, used


# ---- device side: CQ producers ----------------------------------------------------------------
@njit(leaf=True)
def cq_write_tx(cq, tail, depth, req_ids, sq_heads, sub_qid):
    """Write one Tx cdesc per ``req_ids[i]`` (sq_head_idx ``sq_heads[i]``) from ``tail``.

    Phase per slot from its free-running index; returns the new u16 CQ tail.
    """
    mask = depth - 1
    n = req_ids.shape[0]
    for i in range(n):
        idx = (tail + i) & 0xFFFF
        tx_cdesc_write(cq, idx & mask, ring_phase(idx, depth), req_ids[i], 0, sub_qid,
                       sq_heads[i])
    return (tail + n) & 0xFFFF


@njit(leaf=True)
def cq_write_rx(cq, tail, depth, req_ids, lengths, buf_start, nbufs, status_bits, rss_hash,
                sub_qid, offset):
    """Write the cdesc run of one received packet (§5.7) from free-running ``tail``.

    Buffers ``req_ids/lengths[buf_start:buf_start+nbufs]``; ``first`` and ``offset`` on the
    first cdesc, ``last``, parse status bits and hash on the last. Returns the new u16 tail.
    """
    mask = depth - 1
    for k in range(nbufs):
        idx = (tail + k) & 0xFFFF
        is_last = k == nbufs - 1
        rx_cdesc_write(cq, idx & mask, ring_phase(idx, depth), status_bits if is_last else 0,
                       k == 0, is_last, lengths[buf_start + k], req_ids[buf_start + k],
                       rss_hash if is_last else 0, sub_qid, offset if k == 0 else 0)
    return (tail + nbufs) & 0xFFFF


@njit(leaf=True)
def cq_write_rx_burst(cq, tail, depth, req_ids, lengths, pkt_nbufs, status_bits, hashes,
                      offsets, sub_qid):
    """:func:`cq_write_rx` for consecutive packets; packet p uses ``pkt_nbufs[p]`` buffers."""
    t = tail
    start = 0
    for p in range(pkt_nbufs.shape[0]):
        t = cq_write_rx(cq, t, depth, req_ids, lengths, start, pkt_nbufs[p], status_bits[p],
                        hashes[p], sub_qid, offsets[p])
        start += pkt_nbufs[p]
    return t


# ---- device side: SQ consumers ------------------------------------------------------------------
@njit(leaf=True)
def rx_sq_fetch(sq, head, tail, depth, max_n, out_addrs, out_lengths, out_req_ids):
    """Take up to ``max_n`` posted Rx buffers between ``head`` and ``tail`` (device side).

    Returns ``(n, new_head)`` or ``(ERR_PHASE, head_at_bad)`` if a posted descriptor
    carries the wrong phase. Length 0 means 64 KB (§5.6).
    """
    mask = depth - 1
    avail = (tail - head) & 0xFFFF
    n = min(max_n, avail)
    for i in range(n):
        idx = (head + i) & 0xFFFF
        slot = idx & mask
        w0 = np.int64(sq[slot, 0])
        phase = 1 if (w0 & CTRL_PHASE) else 0
        if phase != ring_phase(idx, depth):
            return ERR_PHASE, idx
        ln = w0 & 0xFFFF
        out_lengths[i] = 65536 if ln == 0 else ln
        out_req_ids[i] = np.int64(sq[slot, 1]) & 0xFFFF
        out_addrs[i] = ((np.int64(sq[slot, 3]) & 0xFFFF) << 32) | np.int64(sq[slot, 2])
    return n, (head + n) & 0xFFFF


@njit(leaf=True)
def tx_meta_cache_apply(meta_state, has_meta, w0, w2, out_meta, p):
    """Effective meta words of packet ``p`` into ``out_meta[p]`` using the queue cache (§5.4).

    A packet's own meta wins; meta_store=1 also stores it for later packets without one. No
    own meta and nothing cached gives (0, 0).
    """
    if has_meta:
        out_meta[p, 0] = w0
        out_meta[p, 1] = w2
        if w0 & TXM_META_STORE:
            meta_state[META_VALID] = 1
            meta_state[META_W0] = w0
            meta_state[META_W2] = w2
    elif meta_state[META_VALID]:
        out_meta[p, 0] = meta_state[META_W0]
        out_meta[p, 1] = meta_state[META_W2]
    else:
        out_meta[p, 0] = 0
        out_meta[p, 1] = 0


@njit(leaf=True)
def tx_sq_fetch(sq, head, tail, depth, max_pkts, max_descs, meta_state, out_first_idx,
                out_ndata, out_nmeta, out_meta):
    """Walk a host-mode Tx SQ from ``head`` to ``tail`` and group descriptors into packets.

    A packet is an optional meta descriptor (carrying ``first``) followed by data
    descriptors up to ``last`` (§5.3/§5.4). Per packet: free-running index of the first data
    descriptor, data descriptor count, 0/1 meta descriptors, and the effective meta words
    (own or cached per queue in ``meta_state``, see :func:`tx_meta_cache_apply`). A packet
    not complete before ``tail`` is left in place.

    Returns ``(n_pkts, new_head)``; errors ``(err, head_of_bad_packet)``: ERR_PHASE,
    ERR_NO_FIRST (packet does not start with first), ERR_MALFORMED (first or meta inside a
    packet), ERR_TOO_MANY_DESCS (more than ``max_descs`` data descriptors).
    """
    mask = depth - 1
    h = head
    npkts = 0
    while npkts < max_pkts and h != tail:
        i = h
        w0 = np.int64(sq[i & mask, 0])
        if (1 if (w0 & CTRL_PHASE) else 0) != ring_phase(i, depth):
            return ERR_PHASE, h
        if not (w0 & CTRL_FIRST):
            return ERR_NO_FIRST, h
        has_meta = False
        mw0 = 0
        mw2 = 0
        if w0 & CTRL_META_DESC:
            has_meta = True
            mw0 = w0
            mw2 = np.int64(sq[i & mask, 2])
            i = (i + 1) & 0xFFFF
        first_data = i
        count = 0
        complete = False
        while i != tail:
            w = np.int64(sq[i & mask, 0])
            if (1 if (w & CTRL_PHASE) else 0) != ring_phase(i, depth):
                return ERR_PHASE, h
            if w & CTRL_META_DESC:
                return ERR_MALFORMED, h
            if (w & CTRL_FIRST) and (has_meta or count > 0):
                return ERR_MALFORMED, h
            count += 1
            if count > max_descs:
                return ERR_TOO_MANY_DESCS, h
            i = (i + 1) & 0xFFFF
            if w & CTRL_LAST:
                complete = True
                break
        if not complete:
            break
        out_first_idx[npkts] = first_data
        out_ndata[npkts] = count
        out_nmeta[npkts] = 1 if has_meta else 0
        tx_meta_cache_apply(meta_state, has_meta, mw0, mw2, out_meta, npkts)
        npkts += 1
        h = i
    return npkts, h


# ---- driver side: req_id free rings (§5.8) --------------------------------------------------
@njit(leaf=True)
def reqid_init(free_ids, in_use):
    """free_ids = 0..depth-1, nothing outstanding (ena_init_io_rings)."""
    for i in range(free_ids.shape[0]):
        free_ids[i] = i
        in_use[i] = 0


@njit(leaf=True)
def reqid_take(free_ids, in_use, next_to_use, depth, n, out):
    """Take ``n`` req_ids from ``free_ids[next_to_use…]`` into ``out`` and mark them in use.

    Returns the new u16 next_to_use, or ERR_BAD_REQ_ID if the ring hands out an id that is
    out of range or already outstanding (a corrupted free ring; nothing is taken then).
    The caller checks there are ``n`` free ids.
    """
    mask = depth - 1
    for i in range(n):
        rid = np.int64(free_ids[(next_to_use + i) & mask])
        if rid < 0 or rid >= depth or in_use[rid]:
            for k in range(i):
                in_use[out[k]] = 0
            return ERR_BAD_REQ_ID
        in_use[rid] = 1
        out[i] = rid
    return (next_to_use + n) & 0xFFFF


@njit(leaf=True)
def reqid_put(free_ids, in_use, next_to_clean, depth, req_ids, n):
    """Return ``n`` completed req_ids (any order) to ``free_ids[next_to_clean…]``.

    Each id must be < depth and outstanding, else ERR_BAD_REQ_ID and nothing changes (driver:
    bad_req_id++ and reset, reason 5 Tx / 4 Rx). Returns the new u16 next_to_clean.
    """
    for i in range(n):
        rid = np.int64(req_ids[i])
        if rid < 0 or rid >= depth or not in_use[rid]:
            for k in range(i):
                in_use[req_ids[k]] = 1
            return ERR_BAD_REQ_ID
        in_use[rid] = 0
    mask = depth - 1
    for i in range(n):
        free_ids[(next_to_clean + i) & mask] = req_ids[i]
    return (next_to_clean + n) & 0xFFFF
