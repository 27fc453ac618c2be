"""Kernel UDP transmit loop for ``enatool gen --engine socket``: ``sendmmsg(2)`` in nogil code.

The ``struct mmsghdr`` array (x86-64 / aarch64 LP64 layout, 64 bytes each) is a numpy
``int64[B, 8]`` built once: word 0 ``msg_name``, 1 ``msg_namelen``, 2 ``msg_iov``,
3 ``msg_iovlen``, 4/5 control (unused), 6 ``msg_flags``, 7 ``msg_len`` (written by the kernel).
The ``struct iovec`` array is ``int64[B, 2]`` (base, len); each message owns one payload slot
of ``stride`` bytes. Per call the loop only points ``msg_name`` at the flow's sockaddr, sets
the payload length of the size class (or leaves ``msg_name`` NULL on a socket connected to
its one destination, which spares the kernel a route lookup per message), copies the
class's payload template into slots that held another class, and writes the probe's flow id
/ sequence / timestamp (big-endian).
The kernel builds the Ethernet/IP/UDP headers and checksums.

libc ``sendmmsg`` and ``clock_gettime`` come in as ctypes function pointers (arguments:
the on-disk cache freezes globals).
"""

from __future__ import annotations

import numpy as np

from numba_kernels.fieldengine import PROBE_LEN, PROBE_OFF_FLOW, PROBE_OFF_SEQ, PROBE_OFF_TS
from numba_kernels.jit import njit
from numba_kernels.pacing import PS_BURST, grant, grant_uniform, monotonic_ns, tokens

# counters (int64[Q, S_N])
S_PACKETS = 0
S_BYTES = 1
S_CALLS = 2
S_PARTIAL = 3  # calls that sent fewer messages than offered (the rest are resent)
S_ERRORS = 4  # failed calls (retried; more than 1000 stop the run)
S_T_FIRST = 5  # clock (ns) of the first / last call: the sending window
S_T_LAST = 6
S_N = 7

RUN = 0


@njit(nogil=True)
def _put_be(buf, off, v, n):
    for i in range(n):
        buf[off + i] = (v >> (8 * (n - 1 - i))) & 0xFF


@njit(nogil=True)
def fill_msgs(hdr, iov, payload, stride, slot_class, n, ptemplates, plen, probe_len,
              size_sched, g0, flow_list, fpos, fcount, sa_base, sa_stride, sa_len,
              seq_next, ts_ns):
    """Prepare ``n`` messages; flows ``flow_list[(fpos + i) % fcount]``, classes from the
    size schedule at ``g0``. Returns the payload bytes."""
    p = size_sched.shape[0]
    nbytes = 0
    for i in range(n):
        c = size_sched[(g0 + i) % p]
        f = flow_list[(fpos + i) % fcount]
        base = i * stride
        ln = plen[c]
        if slot_class[i] != c:
            payload[base:base + ln] = ptemplates[c, :ln]
            slot_class[i] = c
        if probe_len[c] > 0:
            seq = seq_next[f]
            seq_next[f] = seq + 1
            _put_be(payload, base + PROBE_OFF_FLOW, f, 4)
            _put_be(payload, base + PROBE_OFF_SEQ, seq, 8)
            if probe_len[c] >= PROBE_LEN:
                _put_be(payload, base + PROBE_OFF_TS, ts_ns, 8)
        # a connected socket (sa_len 0) sends without msg_name: the kernel reuses its route
        hdr[i, 0] = sa_base + f * sa_stride if sa_len else 0
        hdr[i, 1] = sa_len
        iov[i, 1] = ln
        nbytes += ln
    return nbytes


@njit(nogil=True)
def send_loop(fds, sock_first, sock_count, flow_list, fpos, hdr, iov, payload, stride,
              slot_class, ptemplates, plen, probe_len, size_sched, class_bits, seq_next,
              sa_base, sa_stride, sa_lens, batch, count, deadline_ns, stop, pstate, paced,
              cost_buf, sendmmsg_fn, clock_fn, ts, counters, row):
    """Round-robin over this thread's sockets; per turn one ``sendmmsg`` of up to ``batch``
    messages for that socket's flows (``sa_lens[s]`` is the sockaddr length of socket s, 0
    when it is connected to its only destination). Stops at ``count`` (-1 none),
    ``deadline_ns`` (0 none) or ``stop``. A partial send resends the rest (sequence order is
    kept). Returns sent."""
    ctr = counters[row]
    ns = fds.shape[0]
    g = np.int64(0)
    sent = np.int64(0)
    s = 0
    p = size_sched.shape[0]
    while True:
        now = monotonic_ns(clock_fn, ts)
        if stop[0] != RUN or (deadline_ns > 0 and now >= deadline_ns):
            break
        if count >= 0 and sent >= count:
            break
        k = batch
        if count >= 0 and count - sent < k:
            k = count - sent
        if paced == 1:
            # wait for a burst's worth: one syscall per frame would cap the rate
            want = 32 if k > 32 else k
            if pstate[PS_BURST] < want:
                want = pstate[PS_BURST]
            if tokens(pstate, now) < want:
                continue
            k = grant_uniform(pstate, now, 1, k)
        elif paced == 2:
            for i in range(k):
                cost_buf[i] = class_bits[size_sched[(g + i) % p]]
            k = grant(pstate, now, cost_buf, k)
        if k == 0:
            continue
        first = sock_first[s]
        cnt = sock_count[s]
        fill_msgs(hdr, iov, payload, stride, slot_class, k, ptemplates, plen, probe_len,
                  size_sched, g, flow_list[first:first + cnt], fpos[s], cnt, sa_base,
                  sa_stride, sa_lens[s], seq_next, now)
        done = 0
        while done < k:
            r = sendmmsg_fn(fds[s], hdr[done:].ctypes.data, k - done, 0)
            ctr[S_CALLS] += 1
            if r < 0:
                if stop[0] != RUN:
                    break
                ctr[S_ERRORS] += 1
                if ctr[S_ERRORS] > 1000:
                    stop[0] = 2
                    break
                continue
            for i in range(done, done + r):
                ctr[S_BYTES] += iov[i, 1]
            if done + r < k:
                ctr[S_PARTIAL] += 1
            done += r
        if done > 0:
            if ctr[S_T_FIRST] == 0:
                ctr[S_T_FIRST] = now
            ctr[S_T_LAST] = now
        ctr[S_PACKETS] += done
        sent += done
        g += done
        fpos[s] = (fpos[s] + done) % cnt
        if done < k:
            break
        s += 1
        if s == ns:
            s = 0
    return sent
