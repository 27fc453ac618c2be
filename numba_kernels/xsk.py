"""AF_XDP ring loops: the whole per-packet Tx and Rx path of one XSK socket, compiled.

The four rings (``linux/if_xdp.h``, Linux 5.4+ layout) are single-producer/single-consumer
queues of ``size`` (a power of two) entries with free-running u32 ``producer`` and
``consumer`` indices; entry ``i`` lives at ``i & (size - 1)``. User space produces into the
fill_ring and tx_ring and consumes the rx_ring and comp_ring. Indices are read here as
int64 and masked with ``0xFFFFFFFF`` so the u32 wrap-around is explicit.

Ordering (no memory barriers exist in numba): we write descriptors before storing the
producer index and read descriptors after loading the producer index. x86-64 (TSO) never
reorders stores with stores or loads with loads, and the compiler cannot move the
descriptor stores past the index store because both go through array arguments that may
alias. Every loop iteration also makes an opaque call (clock_gettime or a syscall through a
ctypes pointer), so the shared indices and the ``stop`` flag are re-read each time.

libc functions come in as ctypes function pointers (arguments, never globals: the on-disk
cache freezes globals). Copy mode on veth always needs a ``sendto`` kick for Tx (the kernel
sets need_wakeup); EAGAIN from the kick means "more pending" and is only counted.
"""

from __future__ import annotations

import numpy as np

from numba_kernels.fieldengine import ST_PKT, fill_frames
from numba_kernels.jit import njit
from numba_kernels.pacing import grant, grant_uniform, monotonic_ns
from numba_kernels.seqcheck import QS_FRAMES, sink_batch

U32 = 0xFFFFFFFF
XDP_RING_NEED_WAKEUP = 1
MSG_DONTWAIT = 0x40
POLLIN = 0x1

# per-socket counters (int64[Q, C_N]; one row per queue, written only by its worker)
C_TX_PACKETS = 0  # descriptors produced into the tx_ring
C_TX_BYTES = 1
C_TX_COMPLETED = 2  # addresses reaped from the comp_ring
C_RX_PACKETS = 3
C_RX_BYTES = 4
C_KICKS = 5  # sendto / recvfrom / poll calls made to wake the kernel
C_KICK_AGAIN = 6  # kicks that returned < 0 (EAGAIN/EBUSY: the kernel had more to do)
C_TX_RING_FULL = 7  # iterations with nothing to send for lack of a tx slot or frame
C_PACER_WAITS = 8  # iterations the pacer said "not yet"
C_IDLE = 9  # Rx iterations with an empty rx_ring
C_STALLED = 10  # 1 when Tx gave up: descriptors outstanding and no completion for stall_ns
C_LOOPS = 11
C_T_FIRST = 12  # clock (ns) of the first / last batch produced: the sending window
C_T_LAST = 13  # gen measures its achieved rate over (thread start, drain excluded)
C_RX_T_FIRST = 14  # clock (ns) of the first / last non-empty Rx batch: the receive window
C_RX_T_LAST = 15  # sink measures its rate over (waiting for the sender excluded)
C_N = 16

# stop flag values (uint8[1] shared with Python)
RUN = 0
STOP_DRAIN = 1  # stop producing, wait for outstanding completions (up to stall_ns)
STOP_NOW = 2

#: tx_loop fill mode besides fieldengine.MODE_FULL / MODE_FIELDS: descriptors point at
#: prebuilt frames (``static_addrs``/``static_lens``, one per schedule position) that are
#: never rewritten. Copy mode copies at the kick, so one frame may be queued many times.
MODE_STATIC = 2


# ---------------------------------------------------------------------------------------------
# ring arithmetic (also used one call per batch from Python by the slot API)


@njit
def ring_used(prod, cons):
    """Entries between consumer and producer (u32 indices as int64)."""
    return (prod - cons) & U32


@njit
def ring_free(prod, cons, size):
    """Entries a producer may still write."""
    return size - ((prod - cons) & U32)


@njit(nogil=True)
def produce_addrs(prod_idx, cons_idx, ring_addr, mask, addrs, n):
    """Producer side of the fill_ring: write up to ``n`` addresses; returns how many.

    ``prod_idx``/``cons_idx`` are the ring's u32[1] index views.
    """
    p = np.int64(prod_idx[0])
    k = ring_free(p, np.int64(cons_idx[0]), mask + 1)
    if k > n:
        k = n
    for i in range(k):
        ring_addr[(p + i) & mask] = addrs[i]
    prod_idx[0] = np.uint32((p + k) & U32)  # after the entries (TSO)
    return k


@njit(nogil=True)
def consume_addrs(prod_idx, cons_idx, ring_addr, mask, out, n):
    """Consumer side of the comp_ring: read up to ``n`` addresses into ``out``; returns how
    many (the slots are released at once: addresses are plain values)."""
    c = np.int64(cons_idx[0])
    k = ring_used(np.int64(prod_idx[0]), c)
    if k > n:
        k = n
    for i in range(k):
        out[i] = ring_addr[(c + i) & mask]
    cons_idx[0] = np.uint32((c + k) & U32)
    return k


@njit(nogil=True)
def produce_descs(prod_idx, cons_idx, ring_addr, ring_len, mask, addrs, lens, n):
    """Producer side of the tx_ring: up to ``n`` (addr, len) descriptors; returns how many."""
    p = np.int64(prod_idx[0])
    k = ring_free(p, np.int64(cons_idx[0]), mask + 1)
    if k > n:
        k = n
    for i in range(k):
        s = (p + i) & mask
        ring_addr[s] = addrs[i]
        ring_len[s] = lens[i]
    prod_idx[0] = np.uint32((p + k) & U32)
    return k


@njit(nogil=True)
def peek_descs(prod_idx, cons_idx, ring_addr, ring_len, mask, addrs, lens, n):
    """Consumer side of the rx_ring without releasing: copy up to ``n`` descriptors."""
    c = np.int64(cons_idx[0])
    k = ring_used(np.int64(prod_idx[0]), c)
    if k > n:
        k = n
    for i in range(k):
        s = (c + i) & mask
        addrs[i] = ring_addr[s]
        lens[i] = ring_len[s]
    return k


@njit(nogil=True)
def release(cons_idx, n):
    """Advance a consumer index by ``n`` (after the entries were read)."""
    cons_idx[0] = np.uint32((np.int64(cons_idx[0]) + n) & U32)


@njit(nogil=True)
def stack_pop(stack, st, out, n):
    """Take up to ``n`` free frame addresses from the stack (``st[0]`` = depth)."""
    k = st[0] if st[0] < n else n
    top = st[0]
    for i in range(k):
        out[i] = stack[top - 1 - i]
    st[0] = top - k
    return k


@njit(nogil=True)
def stack_push(stack, st, addrs, n):
    top = st[0]
    for i in range(n):
        stack[top + i] = addrs[i]
    st[0] = top + n


# ---------------------------------------------------------------------------------------------
# Tx


@njit(nogil=True)
def _reap(cq_prod, cq_cons, cq_addr, cq_mask, stack, st):
    """comp_ring -> free-frame stack; returns how many completed."""
    c = np.int64(cq_cons[0])
    k = ring_used(np.int64(cq_prod[0]), c)
    top = st[0]
    for i in range(k):
        stack[top + i] = cq_addr[(c + i) & cq_mask]
    st[0] = top + k
    cq_cons[0] = np.uint32((c + k) & U32)
    return k


@njit(nogil=True)
def tx_loop(umem, tx_prod, tx_cons, tx_flags, tx_addr, tx_len, tx_mask,
            cq_prod, cq_cons, cq_addr, cq_mask, stack, st, addrs_buf, lens_buf,
            templates, frame_len, probe_len, layout, flow_src, flow_dst, flow_sport,
            flow_dport, size_sched, flow_sched, sched_lcm, flow_idx, seq_next, fe_state,
            slot_map, stride, fill_mode, pstate, paced, class_bits, cost_buf,
            count, deadline_ns, stall_ns, stop, batch, need_wakeup, fd, sendto_fn,
            clock_fn, ts, counters, row, static_addrs, static_lens):
    """Send until ``count`` frames (-1: no limit), ``deadline_ns`` (0: none) or ``stop``.

    ``fill_mode`` MODE_STATIC (copy mode only): no per-frame writes; frame ``g`` is the
    prebuilt ``static_addrs[g % n]`` and completions are only counted.

    Per iteration: reap the comp_ring into the free-frame stack, ask the pacer (when
    ``paced``: 1 frames, 2 wire bits with ``class_bits`` per size class), let the field
    engine write the frames straight into their UMEM slots, produce the descriptors, kick.
    After the limit it keeps kicking until every descriptor completed, or gives up after
    ``stall_ns`` without a completion (``C_STALLED``). Returns frames produced.
    """
    ctr = counters[row]
    now = monotonic_ns(clock_fn, ts)
    last_progress = now
    sent = np.int64(0)
    p_sched = size_sched.shape[0]
    static = fill_mode == MODE_STATIC
    n_static = static_addrs.shape[0]
    while True:
        now = monotonic_ns(clock_fn, ts)
        ctr[C_LOOPS] += 1
        if static:
            c = np.int64(cq_cons[0])
            done = ring_used(np.int64(cq_prod[0]), c)
            cq_cons[0] = np.uint32((c + done) & U32)
        else:
            done = _reap(cq_prod, cq_cons, cq_addr, cq_mask, stack, st)
        if done > 0:
            ctr[C_TX_COMPLETED] += done
            last_progress = now
        outstanding = ctr[C_TX_PACKETS] - ctr[C_TX_COMPLETED]
        flag = stop[0]
        limit = (flag != RUN or (deadline_ns > 0 and now >= deadline_ns)
                 or (count >= 0 and sent >= count))
        if limit:
            if outstanding <= 0 or flag == STOP_NOW:
                break
        elif outstanding <= 0:
            last_progress = now
        if outstanding > 0 and now - last_progress > stall_ns:
            ctr[C_STALLED] = 1
            break
        k = np.int64(0)
        if not limit:
            k = batch
            if not static and st[0] < k:
                k = st[0]
            free = ring_free(np.int64(tx_prod[0]), np.int64(tx_cons[0]), tx_mask + 1)
            if free < k:
                k = free
            if count >= 0 and count - sent < k:
                k = count - sent
            if k == 0:
                ctr[C_TX_RING_FULL] += 1
            elif paced == 1:
                k = grant_uniform(pstate, now, 1, k)
            elif paced == 2:
                g = fe_state[ST_PKT]
                for i in range(k):
                    cost_buf[i] = class_bits[size_sched[(g + i) % p_sched]]
                k = grant(pstate, now, cost_buf, k)
            if k == 0 and paced != 0:
                ctr[C_PACER_WAITS] += 1
        if k > 0:
            if static:
                g = fe_state[ST_PKT]
                nbytes = np.int64(0)
                for i in range(k):
                    j = (g + i) % n_static
                    addrs_buf[i] = static_addrs[j]
                    lens_buf[i] = static_lens[j]
                    nbytes += static_lens[j]
                fe_state[ST_PKT] = g + k
            else:
                stack_pop(stack, st, addrs_buf, k)
                nbytes = fill_frames(umem, addrs_buf, lens_buf, k, templates, frame_len,
                                     probe_len, layout, flow_src, flow_dst, flow_sport,
                                     flow_dport, size_sched, flow_sched, sched_lcm, flow_idx,
                                     seq_next, fe_state, slot_map, stride, now, fill_mode)
            produce_descs(tx_prod, tx_cons, tx_addr, tx_len, tx_mask, addrs_buf, lens_buf, k)
            sent += k
            ctr[C_TX_PACKETS] += k
            ctr[C_TX_BYTES] += nbytes
            if ctr[C_T_FIRST] == 0:
                ctr[C_T_FIRST] = now
            ctr[C_T_LAST] = now
        pending = ring_used(np.int64(tx_prod[0]), np.int64(tx_cons[0]))
        if pending > 0 and (need_wakeup == 0 or (tx_flags[0] & XDP_RING_NEED_WAKEUP)):
            ctr[C_KICKS] += 1
            if sendto_fn(fd, 0, 0, MSG_DONTWAIT, 0, 0) < 0:
                ctr[C_KICK_AGAIN] += 1
    return sent


# ---------------------------------------------------------------------------------------------
# Rx


@njit(nogil=True)
def rx_loop(umem, rx_prod, rx_cons, rx_addr, rx_len, rx_mask, fq_prod, fq_cons, fq_flags,
            fq_addr, fq_mask, chunk_mask, addrs_buf, lens_buf, queue, verify, rec, fstate,
            bitmap, qstats, count, deadline_ns, stop, batch, need_wakeup, busy_poll,
            pollfd, idle_ms, poll_fn, recvfrom_fn, clock_fn, ts, counters, row):
    """Receive until the rows of ``counters`` together saw ``count`` frames (-1: no limit),
    ``deadline_ns`` (0: none) or ``stop``: consume the rx_ring, count and sequence-check
    each frame (:func:`numba_kernels.seqcheck.sink_batch`), give the frames back through
    the fill_ring. An empty rx_ring costs a ``poll`` (sleeps up to ``idle_ms``) or, with
    ``busy_poll``, a non-blocking ``recvfrom`` that runs the driver's NAPI in this thread.
    Returns frames received by this queue.
    """
    ctr = counters[row]
    got = np.int64(0)
    fd = pollfd[0]
    while True:
        now = monotonic_ns(clock_fn, ts)
        ctr[C_LOOPS] += 1
        if stop[0] != RUN or (deadline_ns > 0 and now >= deadline_ns):
            break
        if count >= 0:
            total = np.int64(0)
            for r in range(counters.shape[0]):
                total += counters[r, C_RX_PACKETS]
            if total >= count:
                break
        n = peek_descs(rx_prod, rx_cons, rx_addr, rx_len, rx_mask, addrs_buf, lens_buf, batch)
        if n == 0:
            ctr[C_IDLE] += 1
            ctr[C_KICKS] += 1
            if busy_poll:
                recvfrom_fn(fd, 0, 0, MSG_DONTWAIT, 0, 0)
            else:
                pollfd[1] = POLLIN
                poll_fn(pollfd.ctypes.data, 1, idle_ms)
            continue
        release(rx_cons, n)  # descriptors copied out; the frames stay ours until refilled
        before = qstats[queue, QS_FRAMES]
        sink_batch(umem, addrs_buf, lens_buf, n, queue, now, verify, rec, fstate, bitmap,
                   qstats)
        nb = np.int64(0)
        for i in range(n):
            nb += lens_buf[i]
            addrs_buf[i] = addrs_buf[i] & chunk_mask
        produce_addrs(fq_prod, fq_cons, fq_addr, fq_mask, addrs_buf, n)
        got += qstats[queue, QS_FRAMES] - before
        ctr[C_RX_PACKETS] += n
        ctr[C_RX_BYTES] += nb
        if ctr[C_RX_T_FIRST] == 0:
            ctr[C_RX_T_FIRST] = now
        ctr[C_RX_T_LAST] = now
        if need_wakeup and (fq_flags[0] & XDP_RING_NEED_WAKEUP):
            ctr[C_KICKS] += 1
            recvfrom_fn(fd, 0, 0, MSG_DONTWAIT, 0, 0)
    return got
