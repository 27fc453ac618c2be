"""Compiled virtual-clock model of one queue pair on each end of a software ENA cable.

Why a second model next to ``SoftBackend``: a sweep needs seconds of virtual time per cell
at microsecond resolution, which the full device + driver pair (stepped from Python) cannot
give in the 30 s budget. This kernel keeps exactly the parts moderation depends on and
re-uses the policy kernels (``numba_kernels.moderation``, tested equal to the policy
classes) and the HDR histogram kernel:

* interrupt vector per end = ``enatool/device/irq.py``: masked until the unmask write; the
  first Rx (Tx) completion after an unmask arms ``rx_delay`` (``tx_delay``) × resolution µs,
  the earlier due time wins; completions while masked are remembered and armed by the
  unmask; firing masks the vector again (auto-mask);
* NAPI per end = ``enatool/driver/napi.py``: rounds of Rx budget 64 and Tx budget depth/4;
  both under budget = complete → moderation decision (static / 2016 table with per-round
  accumulation / net DIM fed at non-empty completions, its usec written raw) → unmask write;
  Rx buffers refilled when ``refill_thr`` are free;
* wire: FIFO per direction at ``ns_per_byte`` (frame + overhead bytes) plus a fixed delay;
  Tx completion written when the frame left; Rx dropped when no buffer is posted;
* CPU: each NAPI round costs ``cost_irq`` (first round after an interrupt) plus per-packet
  costs, and takes that much virtual time (one CPU per end), so a cheap interrupt setting
  pays in busy CPU and in queueing when the CPU saturates. With zero costs the model
  reduces to the device semantics (cross-checked against ``SoftBackend`` in the tests, with
  ``quantum`` = the backend's polling step).
"""

from __future__ import annotations

import numpy as np

from numba_kernels import hdr
from numba_kernels import moderation as km
from numba_kernels.jit import njit

# prm (int64) layout
P_DURATION, P_DELAY, P_TX_DEPTH, P_RX_DEPTH, P_QUANTUM = 0, 1, 2, 3, 4
P_COST_IRQ, P_COST_RX, P_COST_TX, P_RESOLUTION, P_RX_BUDGET = 5, 6, 7, 8, 9
P_REFILL_THR, P_OVERHEAD, P_NPRM = 10, 11, 12

# cnt (int64, per end) layout
C_IRQS, C_ROUNDS, C_COMPLETE, C_RX_PKTS, C_RX_BYTES, C_RX_DROPS = 0, 1, 2, 3, 4, 5
C_TX_BLOCKED, C_CPU_NS, C_TX_PKTS, C_RTT_LOST, C_NCNT = 6, 7, 8, 9, 10

# kinds of frames
K_DATA, K_REQUEST, K_RESPONSE = 0, 1, 2
# moderation modes
M_STATIC, M_TABLE, M_DIM = 0, 1, 2

NONE = -1


@njit
def _delay_ns(units, resolution):
    return units * resolution * 1000


@njit
def _arm(e, rx, t, masked, armed, due, rxd, txd, resolution):
    """``IrqEngine._arm``: first completion of a kind since the unmask starts its delay."""
    k = 0 if rx else 1
    if armed[e, k]:
        return
    armed[e, k] = True
    d = t + _delay_ns(rxd[e] if rx else txd[e], resolution)
    if due[e] == NONE or d < due[e]:
        due[e] = d


@njit
def _completion(e, rx, t, masked, pending, armed, due, rxd, txd, resolution):
    pending[e, 0 if rx else 1] = True
    if not masked[e]:
        _arm(e, rx, t, masked, armed, due, rxd, txd, resolution)


@njit
def _xmit(e, t, size, kind, tag, resp, prm, ns_per_byte, tx_inuse, wire_free, w_arr, w_size,
          w_kind, w_tag, w_resp, w_head, w_n, c_dep, c_head, c_n, cnt):
    """Post one frame on end ``e``'s Tx ring: serialise it after the previous one."""
    if tx_inuse[e] >= prm[P_TX_DEPTH] - 1:
        cnt[e, C_TX_BLOCKED] += 1
        if kind == K_REQUEST:
            cnt[e, C_RTT_LOST] += 1
        return
    tx_inuse[e] += 1
    cnt[e, C_TX_PKTS] += 1
    start = t if t > wire_free[e] else wire_free[e]
    dep = start + np.int64(ns_per_byte * (size + prm[P_OVERHEAD]) + 0.5)
    wire_free[e] = dep
    cap = w_arr.shape[1]
    i = (w_head[e] + w_n[e]) % cap
    w_arr[e, i] = dep + prm[P_DELAY]
    w_size[e, i] = size
    w_kind[e, i] = kind
    w_tag[e, i] = tag
    w_resp[e, i] = resp
    w_n[e] += 1
    j = (c_head[e] + c_n[e]) % cap
    c_dep[e, j] = dep
    c_n[e] += 1


@njit(nogil=True)
def simulate(s_time, s_end, s_size, s_kind, s_resp, prm, ns_per_byte, mode, rx_units, tx_units,
             intervals, pkts_thr, bytes_thr, dim_profiles, dim_state, cnt, level_hits,
             h_counts, h_stats, h_moments, tr_time, tr_val):
    """Run the model from t=0 to prm[P_DURATION]; returns the number of trace entries.

    Sends are app-initiated frames sorted by time (end, size, kind, response size); a
    request's reply is posted by the other end's NAPI when it processes the request. RTTs
    (request post → response processed by the requester's NAPI) go to the HDR histogram.
    ``level_hits[e, i]``: decisions that left end ``e`` at table level / DIM profile ``i``.
    The trace records (time, end*2^40 + rx delay units) of every unmask write, up to its size.
    """
    duration = prm[P_DURATION]
    resolution = prm[P_RESOLUTION]
    tx_budget = max(1, prm[P_TX_DEPTH] // 4)
    rx_budget = prm[P_RX_BUDGET]
    quantum = prm[P_QUANTUM]
    cap = max(prm[P_TX_DEPTH], prm[P_RX_DEPTH]) * 2 + 8
    # wire FIFO per sending end (also its Tx completions, written at departure)
    w_arr = np.zeros((2, cap), np.int64)
    w_size = np.zeros((2, cap), np.int64)
    w_kind = np.zeros((2, cap), np.int64)
    w_tag = np.zeros((2, cap), np.int64)
    w_resp = np.zeros((2, cap), np.int64)
    w_head = np.zeros(2, np.int64)
    w_n = np.zeros(2, np.int64)
    c_dep = np.zeros((2, cap), np.int64)
    c_head = np.zeros(2, np.int64)
    c_n = np.zeros(2, np.int64)
    # Rx completions waiting for NAPI, per receiving end
    r_size = np.zeros((2, cap), np.int64)
    r_kind = np.zeros((2, cap), np.int64)
    r_tag = np.zeros((2, cap), np.int64)
    r_resp = np.zeros((2, cap), np.int64)
    r_head = np.zeros(2, np.int64)
    r_n = np.zeros(2, np.int64)
    rx_posted = np.full(2, prm[P_RX_DEPTH] - 1, np.int64)
    rx_unrefilled = np.zeros(2, np.int64)
    tx_inuse = np.zeros(2, np.int64)
    txc_ready = np.zeros(2, np.int64)
    wire_free = np.zeros(2, np.int64)
    # interrupt vector per end
    masked = np.zeros(2, np.bool_)
    pending = np.zeros((2, 2), np.bool_)
    armed = np.zeros((2, 2), np.bool_)
    due = np.full(2, NONE, np.int64)
    rxd = np.zeros(2, np.int64)
    txd = np.zeros(2, np.int64)
    # NAPI per end
    napi_at = np.full(2, NONE, np.int64)
    napi_phase = np.zeros(2, np.int64)  # 0 = start a round at napi_at, 1 = round ends
    napi_first = np.zeros(2, np.bool_)
    napi_more = np.zeros(2, np.bool_)
    napi_rx = np.zeros(2, np.int64)
    acc_pkts = np.zeros(2, np.int64)
    acc_bytes = np.zeros(2, np.int64)
    level = np.zeros(2, np.int64)
    smoothed = np.zeros(2, np.int64)
    events = np.zeros(2, np.int64)
    rx_tot = np.zeros(2, np.int64)
    rx_btot = np.zeros(2, np.int64)
    ntr = 0
    # the driver's first unmask at ena_up (no packets yet: adaptive keeps LOWEST, DIM 1 us)
    for e in range(2):
        if mode[e] == M_STATIC:
            rxd[e] = rx_units[e]
        elif mode[e] == M_TABLE:
            smoothed[e] = intervals[e, 0]
            rxd[e] = smoothed[e]
        else:
            rxd[e] = dim_profiles[dim_state[e, km.DIM_PROFILE_IX]]
        txd[e] = tx_units[e]
        if rxd[e] > 0x7FFF:
            rxd[e] = 0x7FFF
    si = 0
    nsend = s_time.shape[0]
    while True:
        # the next event: 0 send, 1 arrival, 2 Tx completion written, 3 irq, 4 NAPI
        t = np.int64(NONE)
        kind = -1
        who = 0
        if si < nsend:
            t = s_time[si]
            kind = 0
        for e in range(2):
            if w_n[e] and (kind < 0 or w_arr[e, w_head[e]] < t):
                t = w_arr[e, w_head[e]]
                kind = 1
                who = e
            if c_n[e] and (kind < 0 or c_dep[e, c_head[e]] < t):
                t = c_dep[e, c_head[e]]
                kind = 2
                who = e
        for e in range(2):
            if not masked[e] and due[e] != NONE and (kind < 0 or due[e] < t):
                t = due[e]
                kind = 3
                who = e
        for e in range(2):
            if napi_at[e] != NONE and (kind < 0 or napi_at[e] < t):
                t = napi_at[e]
                kind = 4
                who = e
        if kind < 0 or t > duration:
            break
        if kind == 0:
            e = s_end[si]
            _xmit(e, t, s_size[si], s_kind[si], t, s_resp[si], prm, ns_per_byte, tx_inuse,
                  wire_free, w_arr, w_size, w_kind, w_tag, w_resp, w_head, w_n, c_dep, c_head,
                  c_n, cnt)
            si += 1
        elif kind == 1:
            src = who
            dst = 1 - src
            i = w_head[src]
            w_head[src] = (i + 1) % cap
            w_n[src] -= 1
            if rx_posted[dst] == 0:
                cnt[dst, C_RX_DROPS] += 1
                if w_kind[src, i] != K_DATA:
                    cnt[dst, C_RTT_LOST] += 1
            else:
                rx_posted[dst] -= 1
                j = (r_head[dst] + r_n[dst]) % cap
                r_size[dst, j] = w_size[src, i]
                r_kind[dst, j] = w_kind[src, i]
                r_tag[dst, j] = w_tag[src, i]
                r_resp[dst, j] = w_resp[src, i]
                r_n[dst] += 1
                _completion(dst, True, t, masked, pending, armed, due, rxd, txd, resolution)
        elif kind == 2:
            e = who
            c_head[e] = (c_head[e] + 1) % cap
            c_n[e] -= 1
            txc_ready[e] += 1
            _completion(e, False, t, masked, pending, armed, due, rxd, txd, resolution)
        elif kind == 3:
            e = who
            masked[e] = True  # auto-mask
            pending[e, 0] = False
            pending[e, 1] = False
            armed[e, 0] = False
            armed[e, 1] = False
            due[e] = NONE
            cnt[e, C_IRQS] += 1
            if napi_at[e] == NONE:
                start = t
                if quantum > 0:
                    start = ((t + quantum - 1) // quantum) * quantum
                napi_at[e] = start
                napi_phase[e] = 0
                napi_first[e] = True
        else:
            e = who
            if napi_phase[e] == 0:
                # one ena_io_poll round over what is there now
                cost = prm[P_COST_IRQ] if napi_first[e] else 0
                napi_first[e] = False
                m = txc_ready[e] if txc_ready[e] < tx_budget else tx_budget
                txc_ready[e] -= m
                tx_inuse[e] -= m
                cost += m * prm[P_COST_TX]
                n = r_n[e] if r_n[e] < rx_budget else rx_budget
                nbytes = 0
                for _k in range(n):
                    i = r_head[e]
                    r_head[e] = (i + 1) % cap
                    cost += prm[P_COST_RX]
                    when = t + cost
                    nbytes += r_size[e, i]
                    if r_kind[e, i] == K_REQUEST:
                        _xmit(e, when, r_resp[e, i], K_RESPONSE, r_tag[e, i], 0, prm,
                              ns_per_byte, tx_inuse, wire_free, w_arr, w_size, w_kind, w_tag,
                              w_resp, w_head, w_n, c_dep, c_head, c_n, cnt)
                    elif r_kind[e, i] == K_RESPONSE:
                        hdr.record(h_counts, h_stats, h_moments, when - r_tag[e, i])
                r_n[e] -= n
                cnt[e, C_RX_PKTS] += n
                cnt[e, C_RX_BYTES] += nbytes
                rx_tot[e] += n
                rx_btot[e] += nbytes
                napi_rx[e] += n
                if n > 0:
                    acc_pkts[e] += n
                    acc_bytes[e] += nbytes
                rx_unrefilled[e] += n
                if rx_unrefilled[e] >= prm[P_REFILL_THR]:
                    rx_posted[e] += rx_unrefilled[e]
                    rx_unrefilled[e] = 0
                cnt[e, C_ROUNDS] += 1
                cnt[e, C_CPU_NS] += cost
                napi_more[e] = n >= rx_budget or m >= tx_budget
                napi_at[e] = t + cost
                napi_phase[e] = 1
            elif napi_more[e]:
                napi_phase[e] = 0  # budget used up: NAPI polls again at once
            else:
                # napi_complete_done: moderation decision, then the unmask write
                cnt[e, C_COMPLETE] += 1
                napi_at[e] = NONE
                if mode[e] == M_TABLE:
                    lv, sm = km.adaptive2016_decide(level[e], smoothed[e], acc_pkts[e],
                                                    acc_bytes[e], intervals[e], pkts_thr[e],
                                                    bytes_thr[e], 1)
                    level[e] = lv
                    smoothed[e] = sm
                    acc_pkts[e] = 0
                    acc_bytes[e] = 0
                    newrx = sm
                    level_hits[e, lv] += 1
                elif mode[e] == M_DIM:
                    if napi_rx[e] > 0:
                        events[e] = (events[e] + 1) & 0xFFFF
                        km.net_dim_sample(dim_state[e], t, events[e], rx_tot[e], rx_btot[e],
                                          True)
                    ix = dim_state[e, km.DIM_PROFILE_IX]
                    newrx = dim_profiles[ix]
                    level_hits[e, ix] += 1
                else:
                    newrx = rx_units[e]
                napi_rx[e] = 0
                if newrx > 0x7FFF:
                    newrx = 0x7FFF
                rxd[e] = newrx
                txd[e] = tx_units[e] if tx_units[e] < 0x7FFF else 0x7FFF
                if ntr < tr_time.shape[0]:
                    tr_time[ntr] = t
                    tr_val[ntr] = (e << 40) + newrx
                    ntr += 1
                if masked[e]:
                    masked[e] = False
                    armed[e, 0] = False
                    armed[e, 1] = False
                    due[e] = NONE
                    if pending[e, 0]:
                        _arm(e, True, t, masked, armed, due, rxd, txd, resolution)
                    if pending[e, 1]:
                        _arm(e, False, t, masked, armed, due, rxd, txd, resolution)
    return ntr
