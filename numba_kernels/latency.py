"""Latency probe loops: client (socket or AF_XDP rings) and reflector, compiled, nogil.

Probe payload (after the UDP header; the first 24 bytes are ``gen.templates.PROBE_HDR``):
magic "ENAT" u32, flow id u32, seq u64, tx_ns u64, then two optional u64 stamps written by
XDP programs with ``bpf_ktime_get_ns()`` (CLOCK_MONOTONIC, the clock read here through
libc ``clock_gettime``): ``refl_ns`` at 24 (reflector's XDP) and ``crx_ns`` at 32 (the
client's XDP on the way back). All big-endian.

``stop[0]``: 0 run, 1 stop sending and wait for outstanding answers, 2 stop now.
One loop serves ping-pong (``period_ns == 0``: one probe outstanding, the next goes when
its reply arrived or after ``timeout_ns``) and open-loop (a probe every ``period_ns`` on a
fixed schedule, many outstanding). Each reply is matched by seq in a window ``seen``
(``seen[seq & mask] == seq`` marks a duplicate), RTT = receive clock - ``tx_ns`` is
recorded in an HDR histogram (:mod:`numba_kernels.hdr`) right here: no per-sample Python.
The first ``warmup`` seqs are answered but not recorded. AF_XDP ring ordering relies on
x86-64 TSO as explained in :mod:`numba_kernels.xsk`.
"""

from __future__ import annotations

import numpy as np

from numba_kernels import xsk as kx
from numba_kernels.hdr import record
from numba_kernels.jit import njit
from numba_kernels.pacing import monotonic_ns

PROBE_MAGIC = 0x454E4154
OFF_SEQ = 8
OFF_TX = 16
OFF_REFL = 24
OFF_CRX = 32
SPLIT_LEN = 40  # payload bytes needed for both XDP stamps
MSG_DONTWAIT = 0x40
POLLIN = 0x1

# client state (int64[S_N])
S_SENT = 0  # measured probes sent (after warmup)
S_RECV = 1  # measured probes answered (unique)
S_DUP = 2
S_REORDER = 3  # answers with a seq below the highest seen
S_LATE = 4  # answers older than the seq window (not matched)
S_BAD = 5  # frames that were not our probes
S_TIMEOUTS = 6  # ping-pong: gave up waiting for an answer
S_WARM_SENT = 7
S_WARM_RECV = 8
S_MAXSEQ = 9
S_SPLIT = 10  # answers that carried both XDP stamps
S_LOOPS = 11
S_NO_FRAME = 12  # AF_XDP: no free Tx frame when a probe was due
S_SEND_ERR = 13
S_LAST_RTT = 14
S_N = 15

# reflector counters (int64[R_N])
R_RX = 0
R_TX = 1
R_DROPPED = 2  # --drop-every
R_BAD = 3
R_PROBES = 4
R_N = 5

# split parts
P_CLIENT = 0  # tx_ns -> reflector XDP: client stack and outbound wire
P_WIRE = 1  # reflector XDP -> client XDP: turnaround and wire back
P_USER = 2  # client XDP -> user space
P_N = 3


@njit
def get_be(buf, off, n):
    """Big-endian unsigned integer of ``n`` bytes at ``buf[off]``."""
    v = np.int64(0)
    for i in range(n):
        v = (v << 8) | np.int64(buf[off + i])
    return v


@njit
def put_be(buf, off, n, v):
    for i in range(n):
        buf[off + n - 1 - i] = (v >> (8 * i)) & 0xFF


@njit(nogil=True)
def on_answer(buf, po, plen, now, warmup, st, seen, hc, hs, hm, pc, ps, pm):
    """Account one received frame whose probe starts at ``buf[po]`` (``plen`` bytes).
    Returns the seq, or -1 when it was not a probe."""
    if plen < 24 or get_be(buf, po, 4) != PROBE_MAGIC:
        st[S_BAD] += 1
        return -1
    seq = get_be(buf, po + OFF_SEQ, 8)
    tx = get_be(buf, po + OFF_TX, 8)
    mask = seen.shape[0] - 1
    if seq + mask < st[S_MAXSEQ]:
        st[S_LATE] += 1
        return seq
    slot = seq & mask
    if seen[slot] == seq:
        st[S_DUP] += 1
        return seq
    seen[slot] = seq
    if seq < st[S_MAXSEQ]:
        st[S_REORDER] += 1
    else:
        st[S_MAXSEQ] = seq
    if seq < warmup:
        st[S_WARM_RECV] += 1
        return seq
    rtt = now - tx
    st[S_RECV] += 1
    st[S_LAST_RTT] = rtt
    record(hc, hs, hm, rtt)
    if plen >= SPLIT_LEN:
        t1 = get_be(buf, po + OFF_REFL, 8)
        t2 = get_be(buf, po + OFF_CRX, 8)
        if t1 > 0 and t2 > 0:
            st[S_SPLIT] += 1
            record(pc[P_CLIENT], ps[P_CLIENT], pm[P_CLIENT], t1 - tx)
            record(pc[P_WIRE], ps[P_WIRE], pm[P_WIRE], t2 - t1)
            record(pc[P_USER], ps[P_USER], pm[P_USER], now - t2)
    return seq


@njit
def _due(st, seq, warmup, count, now, deadline_ns, flag):
    """True while more probes may be sent (``flag`` 1 = stop sending, drain answers)."""
    if flag != 0 or (count >= 0 and seq >= warmup + count):
        return False
    return not (deadline_ns > 0 and now >= deadline_ns)


@njit
def _count_sent(st, seq, warmup):
    if seq < warmup:
        st[S_WARM_SENT] += 1
    else:
        st[S_SENT] += 1


@njit
def _answered(st):
    return st[S_RECV] + st[S_WARM_RECV]


@njit(nogil=True)
def socket_client(fd, txbuf, plen, rxbuf, warmup, count, deadline_ns, period_ns, timeout_ns,
                  busy, stop, st, seen, hc, hs, hm, pc, ps, pm, sendto_fn, recvfrom_fn,
                  poll_fn, pollfd, clock_fn, ts):
    """Probe through a connected UDP socket until ``count`` measured probes (-1: no limit)
    or ``deadline_ns``, then wait up to ``timeout_ns`` for the last answers. ``busy``:
    non-blocking receive in a spin; else a blocking receive (SO_RCVTIMEO bounds it) or, in
    open-loop, ``poll`` until the next probe is due. Returns the number of seqs sent."""
    seq = np.int64(0)
    waiting = False
    last_send = monotonic_ns(clock_fn, ts)
    next_send = last_send
    while stop[0] < 2:
        now = monotonic_ns(clock_fn, ts)
        st[S_LOOPS] += 1
        if not _due(st, seq, warmup, count, now, deadline_ns, stop[0]):
            if _answered(st) >= seq or now - last_send >= timeout_ns:
                break
        elif period_ns == 0:
            if waiting and now - last_send >= timeout_ns:
                st[S_TIMEOUTS] += 1
                waiting = False
            if not waiting:
                put_be(txbuf, OFF_SEQ, 8, seq)
                now = monotonic_ns(clock_fn, ts)
                put_be(txbuf, OFF_TX, 8, now)
                if sendto_fn(fd, txbuf.ctypes.data, plen, 0, 0, 0) < 0:
                    st[S_SEND_ERR] += 1
                _count_sent(st, seq, warmup)
                seq += 1
                waiting = True
                last_send = now
        elif now >= next_send:
            put_be(txbuf, OFF_SEQ, 8, seq)
            put_be(txbuf, OFF_TX, 8, now)
            if sendto_fn(fd, txbuf.ctypes.data, plen, MSG_DONTWAIT, 0, 0) < 0:
                st[S_SEND_ERR] += 1
            _count_sent(st, seq, warmup)
            seq += 1
            last_send = now
            next_send += period_ns
        flags = MSG_DONTWAIT
        if not busy:
            if period_ns == 0:
                flags = 0
            else:
                wait_ms = (next_send - monotonic_ns(clock_fn, ts)) // 1_000_000
                if wait_ms > 0:
                    pollfd[1] = POLLIN
                    poll_fn(pollfd.ctypes.data, 1, wait_ms)
        r = recvfrom_fn(fd, rxbuf.ctypes.data, rxbuf.shape[0], flags, 0, 0)
        if r > 0:
            now = monotonic_ns(clock_fn, ts)
            got = on_answer(rxbuf, 0, r, now, warmup, st, seen, hc, hs, hm, pc, ps, pm)
            if got == seq - 1:
                waiting = False
    return seq


@njit(nogil=True)
def xsk_client(umem, template, tlen, po, plen, tx_prod, tx_cons, tx_flags, tx_addr, tx_len,
               tx_mask, cq_prod, cq_cons, cq_addr, cq_mask, stack, sdepth, rx_prod, rx_cons,
               rx_addr, rx_len, rx_mask, fq_prod, fq_cons, fq_addr, fq_mask, chunk_mask,
               addrs_buf, lens_buf, one, warmup, count, deadline_ns, period_ns, timeout_ns,
               busy, stop, st, seen, hc, hs, hm, pc, ps, pm, fd, sendto_fn, recvfrom_fn,
               poll_fn, pollfd, clock_fn, ts):
    """The same probe schedule as :func:`socket_client` over an AF_XDP socket: each probe
    is ``template`` copied into a free Tx frame with seq and tx_ns written at ``po``
    (IPv4 UDP checksum 0: none), queued and kicked; answers are read from the rx_ring
    at the probe offset and their frames go straight back to the fill_ring."""
    seq = np.int64(0)
    waiting = False
    last_send = monotonic_ns(clock_fn, ts)
    next_send = last_send
    batch = addrs_buf.shape[0]
    while stop[0] < 2:
        now = monotonic_ns(clock_fn, ts)
        st[S_LOOPS] += 1
        kx._reap(cq_prod, cq_cons, cq_addr, cq_mask, stack, sdepth)
        send = False
        if not _due(st, seq, warmup, count, now, deadline_ns, stop[0]):
            if _answered(st) >= seq or now - last_send >= timeout_ns:
                break
        elif period_ns == 0:
            if waiting and now - last_send >= timeout_ns:
                st[S_TIMEOUTS] += 1
                waiting = False
            send = not waiting
        else:
            send = now >= next_send
        if send:
            if sdepth[0] == 0 or kx.ring_free(np.int64(tx_prod[0]), np.int64(tx_cons[0]),
                                              tx_mask + 1) == 0:
                st[S_NO_FRAME] += 1
            else:
                kx.stack_pop(stack, sdepth, one, 1)
                a = one[0]
                for i in range(tlen):
                    umem[a + i] = template[i]
                put_be(umem, a + po + OFF_SEQ, 8, seq)
                now = monotonic_ns(clock_fn, ts)
                put_be(umem, a + po + OFF_TX, 8, now)
                lens_buf[0] = tlen
                kx.produce_descs(tx_prod, tx_cons, tx_addr, tx_len, tx_mask, one, lens_buf, 1)
                sendto_fn(fd, 0, 0, MSG_DONTWAIT, 0, 0)
                _count_sent(st, seq, warmup)
                seq += 1
                waiting = period_ns == 0
                last_send = now
                next_send += period_ns
        n = kx.peek_descs(rx_prod, rx_cons, rx_addr, rx_len, rx_mask, addrs_buf, lens_buf,
                          batch)
        if n == 0:
            if busy:
                recvfrom_fn(fd, 0, 0, MSG_DONTWAIT, 0, 0)
            else:
                wait_ms = 10 if period_ns == 0 else (next_send - now) // 1_000_000
                if wait_ms > 0:
                    pollfd[1] = POLLIN
                    poll_fn(pollfd.ctypes.data, 1, wait_ms)
            continue
        now = monotonic_ns(clock_fn, ts)
        for i in range(n):
            a = addrs_buf[i]
            got = on_answer(umem, a + po, lens_buf[i] - po, now, warmup, st, seen, hc, hs, hm,
                            pc, ps, pm)
            if got == seq - 1:
                waiting = False
            addrs_buf[i] = a & chunk_mask
        kx.release(rx_cons, n)
        kx.produce_addrs(fq_prod, fq_cons, fq_addr, fq_mask, addrs_buf, n)
    return seq


@njit
def _is_probe(buf, po, plen):
    return plen >= 4 and get_be(buf, po, 4) == PROBE_MAGIC


@njit
def _drop(rc, drop_every):
    rc[R_PROBES] += 1
    if drop_every > 0 and rc[R_PROBES] % drop_every == 0:
        rc[R_DROPPED] += 1
        return True
    return False


@njit(nogil=True)
def socket_reflector(fd, buf, addr, addrlen, drop_every, busy, stop, rc, sendto_fn,
                     recvfrom_fn):
    """UDP echo (like ``sockperf sr``): answer every datagram to its sender; probes are
    counted and every ``drop_every``-th one is dropped (0: none)."""
    flags = MSG_DONTWAIT if busy else 0
    while stop[0] == 0:
        addrlen[0] = addr.shape[0]
        r = recvfrom_fn(fd, buf.ctypes.data, buf.shape[0], flags, addr.ctypes.data,
                        addrlen.ctypes.data)
        if r <= 0:
            continue
        rc[R_RX] += 1
        if _is_probe(buf, 0, r):
            if _drop(rc, drop_every):
                continue
        else:
            rc[R_BAD] += 1
        if sendto_fn(fd, buf.ctypes.data, r, 0, addr.ctypes.data, addrlen[0]) > 0:
            rc[R_TX] += 1
    return rc[R_RX]


@njit
def _swap(buf, a, b, n):
    for i in range(n):
        t = buf[a + i]
        buf[a + i] = buf[b + i]
        buf[b + i] = t


@njit
def reflect_frame(buf, a, ln):
    """Swap MAC, IPv4/IPv6 addresses and UDP ports of the frame at ``buf[a:a+ln]`` in
    place (checksums stay valid: swapped words inside the summed range). Returns the probe
    offset from ``a``, or -1 when the frame is not UDP over IPv4/IPv6."""
    if ln < 42:
        return -1
    _swap(buf, a, a + 6, 6)
    et = get_be(buf, a + 12, 2)
    if et == 0x0800:
        ihl = (buf[a + 14] & 0xF) * 4
        if buf[a + 23] != 17 or ln < 14 + ihl + 8:
            return -1
        _swap(buf, a + 26, a + 30, 4)
        l4 = 14 + ihl
    elif et == 0x86DD:
        if buf[a + 20] != 17 or ln < 62:
            return -1
        _swap(buf, a + 22, a + 38, 16)
        l4 = 54
    else:
        return -1
    _swap(buf, a + l4, a + l4 + 2, 2)
    return l4 + 8


@njit(nogil=True)
def xsk_reflector(umem, rx_prod, rx_cons, rx_addr, rx_len, rx_mask, tx_prod, tx_cons,
                  tx_addr, tx_len, tx_mask, cq_prod, cq_cons, cq_addr, cq_mask, fq_prod,
                  fq_cons, fq_addr, fq_mask, chunk_mask, addrs_buf, lens_buf, back, drop_every,
                  busy, stop, rc, fd, sendto_fn, recvfrom_fn, poll_fn, pollfd):
    """User-space reflector on one XSK: each received frame is turned around in place and
    transmitted from the same UMEM frame; completed frames return to the fill_ring."""
    batch = addrs_buf.shape[0]
    while stop[0] == 0:
        k = kx.consume_addrs(cq_prod, cq_cons, cq_addr, cq_mask, back, back.shape[0])
        if k > 0:
            for i in range(k):
                back[i] = back[i] & chunk_mask
            kx.produce_addrs(fq_prod, fq_cons, fq_addr, fq_mask, back, k)
        room = kx.ring_free(np.int64(tx_prod[0]), np.int64(tx_cons[0]), tx_mask + 1)
        n = kx.peek_descs(rx_prod, rx_cons, rx_addr, rx_len, rx_mask, addrs_buf, lens_buf,
                          min(batch, room))
        if n == 0:
            if busy:
                recvfrom_fn(fd, 0, 0, MSG_DONTWAIT, 0, 0)
            else:
                pollfd[1] = POLLIN
                poll_fn(pollfd.ctypes.data, 1, 10)
            continue
        kx.release(rx_cons, n)
        m = 0
        d = 0
        for i in range(n):
            a = addrs_buf[i]
            ln = lens_buf[i]
            rc[R_RX] += 1
            po = reflect_frame(umem, a, ln)
            drop = False
            if po < 0 or not _is_probe(umem, a + po, ln - po):
                rc[R_BAD] += 1
            else:
                drop = _drop(rc, drop_every)
            if drop:
                back[d] = a & chunk_mask
                d += 1
            else:
                addrs_buf[m] = a
                lens_buf[m] = ln
                m += 1
        if d > 0:
            kx.produce_addrs(fq_prod, fq_cons, fq_addr, fq_mask, back, d)
        if m > 0:
            kx.produce_descs(tx_prod, tx_cons, tx_addr, tx_len, tx_mask, addrs_buf, lens_buf, m)
            rc[R_TX] += m
            sendto_fn(fd, 0, 0, MSG_DONTWAIT, 0, 0)
    return rc[R_RX]
