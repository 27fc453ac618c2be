"""The steady state of the software device pair as one compiled loop (``SoftBackend.run_cycles``).

One *cycle* is what a traffic loop on the pair does in Python: end 0's driver queues a burst
on Tx queue 0 (``tx_burst_packed``), both ends advance the virtual clock (``advance``), and
end 1's received packets are taken (``rx_burst_packed``). The Python path runs that cycle
through ~40 functions (register writes, the device event loop, interrupt delays and
auto-mask, NAPI with DIM, unmask writes); :func:`pair_cycles` runs many cycles in one call,
step for step in the same order, calling the same datapath kernels on the same rings and
state arrays. ``enatool/backends/soft_cycles.py`` decides when this is allowed (one queue
pair, LLQ, no link rate or delay, no faults, static or DIM moderation,
no management event before the cycle ends), copies the Python objects' scalar state into the
per-end vectors below before the call and back after it; ``tests/backends/test_soft_cycles.py``
runs both paths side by side and compares every counter, ring and byte of DMA memory.

Per-end state vector (int64, ``E_*``): the device clock, the IO vector's interrupt state
(``IrqEngine.VectorState``), the driver's NAPI/moderation scalars, and the device queue
registers and counters the cycle moves. ``*_D`` fields are deltas the caller adds to its
counters afterwards; the others are absolute values.
"""

from __future__ import annotations

import numpy as np

from numba_kernels import device_dp as kdp
from numba_kernels import device_llq as kllq
from numba_kernels import driver_dp as DK
from numba_kernels import moderation as KM
from numba_kernels import rings as krings
from numba_kernels.jit import njit

# -- per-end state vector ---------------------------------------------------------------
E_NOW = 0  # device clock, ns
E_RES_NS = 1  # interrupt delay resolution in ns (units × this = delay)
# IO vector (irq.py VectorState); DUE = -1 for None
E_MASKED = 2
E_RXD = 3
E_TXD = 4
E_PEND_RX = 5
E_PEND_TX = 6
E_ARM_RX = 7
E_ARM_TX = 8
E_DUE = 9
E_GEN = 10
E_FIRE_NOW = 11
E_IRQ_COUNT = 12  # dev.irq_counts[v]
E_IRQ_SEEN = 13  # the port's irq_take bookkeeping for v
# unmask register target (the Rx CQ): decoded delays, writes (delta)
E_CQ_RXD = 14
E_CQ_TXD = 15
E_CQ_UNMASK_D = 16
# driver NAPI context and moderation (napi.py QueueNapi / QueueModeration)
E_SCHEDULED = 17
E_UNMASK_WRITES_D = 18
E_NAPI_RX_PKTS = 19
E_INTERRUPTS_D = 20
E_NAPI_COMP_D = 21
E_UNMASK_INTR_D = 22
E_MODE = 23  # MODE_STATIC / MODE_DIM
E_STATIC_RX = 24  # coalesce.rx_interval (units)
E_TX_INTERVAL = 25
E_LAST_RX = 26  # QueueModeration.last (-1 = None)
E_LAST_TX = 27
E_SAME_VALUE = 28
E_ERA2016 = 29
E_RX_INTERVAL = 30  # QueueModeration.rx_interval
E_DIM_EVENTS = 31  # NetDim.non_empty_napi_events
E_DIM_DECISIONS_D = 32
E_DIM_AUTO = 33
E_DIM_RX_USEC = 34  # NetDim.rx_interval_usec
E_RXCNT_BASE = 35  # rx.counts.cnt / .bytes (kernel counts are added to these)
E_RXBYTES_BASE = 36
# device Tx SQ/CQ of queue 0 (tx.py TxQueueState, IoSq, IoCq, dev.stats)
E_TXSQ_TAIL = 37
E_TXSQ_HEAD = 38
E_TXSQ_DOORBELLS_D = 39
E_TXC_DOORBELLS_D = 40
E_TXC_PKTS_D = 41
E_TXC_BURSTS_D = 42
E_TXC_FRAMES_D = 43
E_TXC_BYTES_D = 44
E_TXC_COMPLETIONS_D = 45
E_TXC_BURST_VIOL_D = 46
E_LAST_DB_TAIL = 47
E_BURST_LIMIT = 48
E_TXCQ_TAIL = 49
E_TXSQ_IDX = 50
E_STATS_TX_PKTS_D = 51
E_STATS_TX_BYTES_D = 52
E_DRV_TX_DOORBELLS_D = 53
# device Rx SQ/CQ of queue 0 (rx.py RxQueueState, IoSq, IoCq): rx_deliver's counts summed
# at E_RXN + RXN_* (RxEngine.account adds them to the queue and the device's GET_STATS)
E_RXSQ_HEAD = 54
E_RXSQ_TAIL = 55
E_RXSQ_DOORBELLS_D = 56
E_RXCQ_TAIL = 57
E_RXSQ_IDX = 58
E_RXN = 59  # .. E_RXN + RXN_LEN
E_STORE_SIDE = E_RXN + kdp.RXN_LEN  # RxStore.side
E_LEN = E_STORE_SIDE + 1

ERR_OTHER_QUEUE = -1000

MODE_STATIC = 0
MODE_DIM = 2

# -- results (int64 vector) -----------------------------------------------------------------
R_CYCLES = 0  # cycles completed
R_SENT = 1  # frames the driver took
R_RX_PKTS = 2  # packets taken from end 1's store (cycles before the last)
R_RX_CSUM_GOOD = 3
R_RX_BYTES = 4
R_STATUS = 5  # ST_*
R_END = 6  # end with the error
R_REASON = 7  # NAPI error kind / device error
R_ERR = 8
R_T0 = 9  # start (ns) of the cycle the loop stopped in
R_LEN = 10

ST_OK = 0  # ran the cycles asked for
ST_HORIZON = 1  # stopped before a cycle that would reach a management event
ST_NAPI_ERR = 2  # a NAPI poll reported a ring error (the caller resets)
ST_DEVICE_ERR = 3  # the device met an error the Python path must handle
ST_TX_PYTHON = 4  # device 0's Tx burst is for the Python path (the caller runs it)


@njit
def _round_half_even(x):
    r = np.floor(x + 0.5)
    if r - x == 0.5 and r % 2.0 == 1.0:
        r -= 1.0
    return np.int64(r)


@njit
def _arm(e, rx, now):
    """IrqEngine._arm: start the Rx or Tx delay once per unmask; the earliest due wins."""
    if rx:
        if e[E_ARM_RX]:
            return
        e[E_ARM_RX] = 1
        units = e[E_RXD]
    else:
        if e[E_ARM_TX]:
            return
        e[E_ARM_TX] = 1
        units = e[E_TXD]
    due = now + units * e[E_RES_NS]
    if e[E_DUE] >= 0 and e[E_DUE] <= due:
        return
    e[E_DUE] = due
    if due <= now:
        e[E_FIRE_NOW] = 1


@njit
def _completions(e, rx):
    if rx:
        e[E_PEND_RX] = 1
    else:
        e[E_PEND_TX] = 1
    if not e[E_MASKED]:
        _arm(e, rx, e[E_NOW])


@njit
def _fire(e):
    """IrqEngine._fire at the current time (callers checked due <= now)."""
    if e[E_MASKED] or e[E_DUE] < 0 or e[E_DUE] > e[E_NOW]:
        return
    e[E_GEN] += 1
    e[E_MASKED] = 1  # auto-mask until the next unmask write
    e[E_PEND_RX] = 0
    e[E_PEND_TX] = 0
    e[E_ARM_RX] = 0
    e[E_ARM_TX] = 0
    e[E_DUE] = -1
    e[E_IRQ_COUNT] += 1


@njit
def _flush(e):
    if e[E_FIRE_NOW]:
        e[E_FIRE_NOW] = 0
        _fire(e)


@njit
def _unmask_write(e, value):
    """IoCq.write_unmask + IrqEngine.unmask_write, then the device's process()."""
    nomod = (value >> 31) & 1
    unmask = (value >> 30) & 1
    if not nomod:
        e[E_CQ_RXD] = value & 0x7FFF
        e[E_CQ_TXD] = (value >> 15) & 0x7FFF
    e[E_CQ_UNMASK_D] += 1
    if not nomod:
        e[E_RXD] = e[E_CQ_RXD]
        e[E_TXD] = e[E_CQ_TXD]
    if unmask and e[E_MASKED]:
        e[E_MASKED] = 0
        e[E_ARM_RX] = 0
        e[E_ARM_TX] = 0
        e[E_DUE] = -1
        if e[E_PEND_RX]:
            _arm(e, True, e[E_NOW])
        if e[E_PEND_TX]:
            _arm(e, False, e[E_NOW])
    _flush(e)


@njit
def _unmask(e, dim_row, dim_profiles, rx_kcount):
    """QueueNapi.unmask: the moderation policy at NAPI completion, then the unmask write."""
    if e[E_MODE] == MODE_DIM:
        pkts = e[E_NAPI_RX_PKTS]
        if pkts:
            now_ns = np.int64((e[E_NOW] / 1e9) * 1e9)  # int(port.now() * 1e9)
            ev = (e[E_DIM_EVENTS] + 1) & 0xFFFF
            e[E_DIM_EVENTS] = ev
            cnt = e[E_RXCNT_BASE] + rx_kcount[DK.RXK_CNT]
            nbytes = e[E_RXBYTES_BASE] + rx_kcount[DK.RXK_BYTES]
            # NetDim.decisions: a measurement window closed with time elapsed
            if (dim_row[KM.DIM_STATE] == 1
                    and ((ev - dim_row[KM.DIM_START_EVENTS]) & 0xFFFF) >= 64
                    and ((now_ns - dim_row[KM.DIM_START_TIME]) // 1000) & 0xFFFFFFFF):
                e[E_DIM_DECISIONS_D] += 1
            ix = KM.net_dim_sample(dim_row, now_ns, ev, cnt, nbytes, e[E_DIM_AUTO] != 0)
            if ix >= 0 and e[E_DIM_AUTO]:
                e[E_DIM_RX_USEC] = dim_profiles[dim_row[KM.DIM_PROFILE_IX]]
        e[E_RX_INTERVAL] = e[E_DIM_RX_USEC]
    else:
        e[E_RX_INTERVAL] = e[E_STATIC_RX]
    e[E_NAPI_RX_PKTS] = 0
    rx = min(e[E_RX_INTERVAL], 0x7FFF)
    tx = min(e[E_TX_INTERVAL], 0x7FFF)
    if e[E_LAST_RX] == rx and e[E_LAST_TX] == tx:
        value = e[E_SAME_VALUE]
    else:
        value = rx | (tx << 15) | (1 << 30)
        e[E_SAME_VALUE] = value if e[E_ERA2016] else value | (1 << 31)
        e[E_LAST_RX] = rx
        e[E_LAST_TX] = tx
    _unmask_write(e, value)
    e[E_UNMASK_WRITES_D] += 1
    e[E_UNMASK_INTR_D] += 1


@njit
def _napi_service(e, res, napi_args, rx_db, round_pkts, dim_row, dim_profiles, rx_kcount):
    """EnaDriver._napi_service for the one queue pair: take the vector's interrupts, poll
    (``DK.napi_poll``, up to 64 rounds), Rx doorbells, moderation + unmask at completion.
    Returns False after a ring error (kind/err in ``res``)."""
    fired = e[E_IRQ_COUNT] - e[E_IRQ_SEEN]
    e[E_IRQ_SEEN] = e[E_IRQ_COUNT]
    if fired > 0:
        e[E_INTERRUPTS_D] += fired
        e[E_SCHEDULED] = 1
    if not e[E_SCHEDULED]:
        return True
    rounds, done, kind, err, ndb = DK.napi_poll(*napi_args)
    if ndb:  # Rx SQ doorbells: the device records the tail (nothing else runs)
        e[E_RXSQ_TAIL] = rx_db[ndb - 1] & 0xFFFF
        e[E_RXSQ_DOORBELLS_D] += ndb
    for r in range(rounds):
        e[E_NAPI_RX_PKTS] += round_pkts[r]
    if kind != 0:
        res[R_REASON] = kind
        res[R_ERR] = err
        e[E_SCHEDULED] = 0
        return False
    if done:
        e[E_NAPI_COMP_D] += 1
        _unmask(e, dim_row, dim_profiles, rx_kcount)
        e[E_SCHEDULED] = 0
    return True


@njit
def _tx_general(area, head, tail, k, pos, nout, dev_tx, dev_gen):
    """The general LLQ fetch + gather/offload/layout of packets ``k..`` (TxEngine._fetch_build
    after the fast path) → (packets, new head, out_pos, frames), packets -1 on any error."""
    (meta_state, out_buf, out_off, out_len, req_id, comp_req, sq_head, pkt_status, counts,
     _cq_ring, _cq_depth, depth, line, dbh) = dev_tx
    (max_descs, descs, first_idx, ndata, meta, headers, hdr_len, status, arena, bus_base,
     dma_starts, dma_ends, work, seg_buf, seg_off, seg_len, rec) = dev_gen
    n2, new_head = kdp.llq_fetch_burst(
        area, head, tail, depth, line, dbh, depth - k, max_descs, meta_state, descs,
        first_idx[k:], ndata[k:], meta[k:], headers[k:], hdr_len[k:], status[k:],
        req_id[k:], comp_req[k:], sq_head[k:])
    if n2 < 0 or new_head != tail:
        return np.int64(-1), new_head, pos, nout
    n = k + n2
    _start, pos, nout, err = kdp.tx_build_frames(
        descs, 0x7FFFFFFF, first_idx, ndata, meta, headers, hdr_len, True, status, k, n,
        arena, bus_base, dma_starts, dma_ends, work, seg_buf, seg_off, seg_len, rec,
        out_buf, pos, out_off, out_len, nout, pkt_status, counts)
    if err != 0:
        return np.int64(-1), new_head, pos, nout
    return n, new_head, pos, nout


@njit
def _tx_device(a, area, dev_tx, dev_gen):
    """Device A after its Tx doorbells: TxEngine.process_sq unpaced — the LLQ fast path,
    then the general fetch + build from the first other packet, the wire hand-off (frames
    stay in ``out_buf``), one completion per packet, the Tx interrupt. Returns the packets,
    or -1 before anything is committed when the Python path must take the burst (a drop,
    an error, a packet without comp_req, more frames than packets, a full output buffer)."""
    (meta_state, out_buf, out_off, out_len, req_id, comp_req, sq_head, pkt_status, counts,
     cq_ring, cq_depth, depth, line, dbh) = dev_tx
    head = a[E_TXSQ_HEAD]
    tail = a[E_TXSQ_TAIL]
    if head == tail:
        return 0
    counts[:] = 0
    n, new_head, pos, nout = kllq.llq_fetch_build_simple(
        area, head, tail, depth, line, dbh, depth, meta_state, out_buf, 0, out_off, out_len,
        0, req_id, comp_req, sq_head, pkt_status, counts)
    if new_head != tail:  # the general path from the first packet the fast one left
        n, new_head, pos, nout = _tx_general(area, new_head, tail, n, pos, nout, dev_tx,
                                             dev_gen)
        if n < 0:
            return -1
    if nout != n or counts[kdp.TXS_OK] != n:
        return -1
    for i in range(n):
        if comp_req[i] == 0:  # the Python path then completes only some: not this path
            return -1
    a[E_TXSQ_HEAD] = new_head
    a[E_TXC_PKTS_D] += n
    a[E_TXC_BURSTS_D] += 1
    a[E_TXC_FRAMES_D] += nout
    a[E_TXC_BYTES_D] += pos
    a[E_STATS_TX_PKTS_D] += nout
    a[E_STATS_TX_BYTES_D] += pos
    a[E_TXCQ_TAIL] = krings.cq_write_tx(cq_ring, a[E_TXCQ_TAIL], cq_depth, req_id[:n],
                                        sq_head[:n], a[E_TXSQ_IDX])
    a[E_TXC_COMPLETIONS_D] += n
    _completions(a, False)
    _flush(a)
    return n


@njit
def _rx_device(b, out_buf, out_off, out_len, n, rss_args, rest_args, status, hashes, queues,
               sel, rx_queue, deliver_args, ids, blens, counts):
    """Device B receiving the burst (RxEngine.receive): classify (parse, checksums, RSS),
    deliver to the queue's posted buffers, Rx completions, the Rx interrupt. Returns an
    error code: 0, rx_deliver's error, or ERR_OTHER_QUEUE (RSS chose another queue: the
    caller's checks failed; nothing was delivered)."""
    left, one_q = kdp.rx_classify_fast(out_buf, out_off, out_len, n, *rss_args, status, hashes,
                                       queues)
    if left:
        one_q = kdp.rx_classify_rest(out_buf, out_off, out_len, n, *rest_args, status, hashes,
                                     queues, True)  # the callers' RSS function is Toeplitz
    if one_q != rx_queue:
        for i in range(n):
            if queues[i] != rx_queue:
                return ERR_OTHER_QUEUE
    counts[:] = 0
    ring, depth, cq_ring, cq_depth, arena, bus_base, starts, ends, offset, max_bufs = \
        deliver_args
    head, tail, err = kdp.rx_deliver(out_buf, out_off, out_len, sel[:n], status, hashes, ring,
                                     depth, b[E_RXSQ_HEAD], b[E_RXSQ_TAIL], cq_ring, cq_depth,
                                     b[E_RXCQ_TAIL], arena, bus_base, starts, ends, offset,
                                     max_bufs, b[E_RXSQ_IDX], ids, blens, counts)
    b[E_RXSQ_HEAD] = head
    b[E_RXCQ_TAIL] = tail
    for i in range(kdp.RXN_LEN):
        b[E_RXN + i] += counts[i]
    if counts[kdp.RXN_CDESCS]:
        _completions(b, True)
    _flush(b)
    return err


@njit
def _dev_advance(e, seconds):
    """SoftEnaDevice.advance after its first _run: the IO interrupt timer, then the clock."""
    target = e[E_NOW] + _round_half_even(seconds * 1e9)
    if e[E_DUE] >= 0 and e[E_DUE] <= target and not e[E_MASKED]:
        if e[E_DUE] > e[E_NOW]:
            e[E_NOW] = e[E_DUE]
        _fire(e)
    e[E_NOW] = target


@njit
def pair_cycles(ncycles, seconds, step, horizon_ns, next_tick_a, next_tick_b,
                frames, offs, lens, nframes,
                a, a_burst, a_db, a_txk, a_bar2, a_dev_tx, a_dev_gen, a_napi0, a_rdb, a_rpk,
                a_dim, a_prof, a_rxk,
                b, b_rss, b_rest, b_classify, b_sel, b_rx_queue, b_deliver, b_rx_scratch,
                b_napi0, b_napi1, b_rdb, b_rpk, b_dim, b_prof, b_rxk, b_fill, b_store0,
                b_store1, res):
    """Run up to ``ncycles`` cycles (tx burst on end 0, advance ``seconds`` in ``step``
    slices, take end 1's store) while the next management event (``horizon_ns``, the
    drivers' 1 Hz ticks in seconds) lies beyond the cycle; the last cycle's take is left
    to the caller. ``res`` gets the R_* results."""
    res[:] = 0
    out_buf, out_off, out_len = a_dev_tx[1], a_dev_tx[2], a_dev_tx[3]
    status, hashes, queues = b_classify
    ids, blens, rx_counts = b_rx_scratch
    for c in range(ncycles):
        t0 = a[E_NOW]
        res[R_T0] = t0
        # the cycle's end on the float clock the Python path uses; stop before a cycle that
        # would reach a timer or tick only Python handles
        end_s = max(a[E_NOW] / 1e9, b[E_NOW] / 1e9) + seconds
        if np.int64(end_s * 1e9) + 2 >= horizon_ns or end_s + 1e-9 >= next_tick_a - 1e-12 \
                or end_s + 1e-9 >= next_tick_b - 1e-12:
            res[R_STATUS] = ST_HORIZON
            return
        if c > 0:  # the previous cycle's take (rx_burst_packed on end 1): count, flip sides
            n = b_fill[DK.ST_N]
            st = b_store0 if b[E_STORE_SIDE] == 0 else b_store1
            s_lens, s_csum = st[2], st[5]
            good = 0
            nb = 0
            for i in range(n):
                nb += s_lens[i]
                if s_csum[i] == DK.CSUM_GOOD:
                    good += 1
            res[R_RX_PKTS] += n
            res[R_RX_CSUM_GOOD] += good
            res[R_RX_BYTES] += nb
            b[E_STORE_SIDE] ^= 1
            b_fill[:] = 0
        # 1. end 0's driver: the burst (tx_burst_packed) and its doorbells. Its LLQ lines go
        # straight to BAR2 (``a_burst`` carries the BAR2 area where the Python path has the
        # bounce buffer it copies from; the caller copies BAR2 back to the bounce afterwards)
        consumed, ndb = DK.tx_xmit_burst(frames, offs, lens, nframes, *a_burst, t0 / 1e9,
                                         a_db, a_txk)
        res[R_SENT] += consumed
        npk = 0
        if ndb:
            a[E_DRV_TX_DOORBELLS_D] += ndb
            a[E_TXC_DOORBELLS_D] += ndb
            a[E_TXSQ_DOORBELLS_D] += ndb
            limit = a[E_BURST_LIMIT]
            prev = a[E_LAST_DB_TAIL]
            for i in range(ndb):
                if limit and ((a_db[i] - prev) & 0xFFFF) > limit:
                    a[E_TXC_BURST_VIOL_D] += 1
                prev = a_db[i] & 0xFFFF
            a[E_LAST_DB_TAIL] = prev
            a[E_TXSQ_TAIL] = a_db[ndb - 1] & 0xFFFF
            # device A's process(): fetch, wire, completions, interrupt
            npk = _tx_device(a, a_bar2, a_dev_tx, a_dev_gen)
            if npk < 0:
                res[R_STATUS] = ST_TX_PYTHON
                res[R_END] = 0
                return
        wire_n = npk  # frames waiting for end 1 (due now)
        # 2. advance: both ends in step slices, each device then its driver
        while True:
            now_min = min(a[E_NOW], b[E_NOW]) / 1e9
            target = min(end_s, now_min + step)
            for side in range(2):
                e = a if side == 0 else b
                left = target - e[E_NOW] / 1e9
                if left <= 1e-12:
                    continue
                # EnaDriver.run(left, step=left)
                now = e[E_NOW] / 1e9
                run_end = now + left
                while now < run_end - 1e-12:
                    s_len = max(0.0, min(left, run_end - now))
                    if side == 1 and wire_n:  # device B's first _run: the burst arrives
                        err = _rx_device(b, out_buf, out_off, out_len, wire_n, b_rss, b_rest,
                                         status, hashes, queues, b_sel, b_rx_queue, b_deliver,
                                         ids, blens, rx_counts)
                        wire_n = 0
                        if err:
                            res[R_STATUS] = ST_DEVICE_ERR
                            res[R_END] = 1
                            res[R_ERR] = err
                            return
                    _dev_advance(e, s_len)
                    # the driver is running (checked before the call; an error returns)
                    if side == 0:
                        ok = _napi_service(a, res, a_napi0, a_rdb, a_rpk, a_dim, a_prof, a_rxk)
                    elif b[E_STORE_SIDE] == 0:
                        ok = _napi_service(b, res, b_napi0, b_rdb, b_rpk, b_dim, b_prof, b_rxk)
                    else:
                        ok = _napi_service(b, res, b_napi1, b_rdb, b_rpk, b_dim, b_prof, b_rxk)
                    if not ok:
                        res[R_STATUS] = ST_NAPI_ERR
                        res[R_END] = side
                        return
                    now = e[E_NOW] / 1e9
            if end_s - min(a[E_NOW], b[E_NOW]) / 1e9 <= 1e-12:
                break
        res[R_CYCLES] += 1
    res[R_STATUS] = ST_OK
