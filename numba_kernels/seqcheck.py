"""Receiver-side probe accounting for ``enatool sink``: loss, reordering, duplicates, delay.

Per flow (the probe's flow id) the kernel keeps the highest sequence seen and a bitmap of the
``64 * W`` sequences just below it (bit ``d`` = "max - d arrived"), in the style of RFC 4737
/ iperf: a jump ahead counts the skipped sequences as lost; an older sequence inside the
window that was not seen yet is *reordered* and un-counts one loss; one already seen is a
*duplicate*; one older than the window is *late* (it stays counted lost: the bitmap cannot
tell a late frame from a duplicate). Loss before the first sequence a flow shows is not
counted (the sink may start after the generator); a reordered arrival below it moves that
start down and counts the gap it opens. One-way delay is ``rx_ns - tx_ns`` of
full probes (sender and receiver must share a clock; on one host they do).

Per Rx queue: frames, bytes, probes, foreign frames (no probe), probes with an unknown flow
id, checksum errors (when verification is asked for).
"""

from __future__ import annotations

import numpy as np

from numba_kernels.fieldengine import (
    PROBE_LEN,
    PROBE_MAGIC,
    PROBE_OFF_FLOW,
    PROBE_OFF_SEQ,
    PROBE_OFF_TS,
    PROBE_SHORT_LEN,
)
from numba_kernels.jit import njit
from numba_kernels.packet import (
    L4_UNKNOWN,
    PK_ERR,
    PK_L3_CSUM,
    PK_L4_CSUM,
    PK_L4_PROTO,
    PK_PAYLOAD_LEN,
    PK_PAYLOAD_OFF,
    parse_frame,
    verify_checksums,
)

# per-flow state (int64[F, FS_N])
FS_RX = 0  # probes received (duplicates and late ones included)
FS_MAX_SEQ = 1  # highest sequence seen, -1 before the first
FS_LOST = 2
FS_REORDERED = 3
FS_DUP = 4
FS_LATE = 5
FS_DELAY_N = 6
FS_DELAY_SUM = 7
FS_DELAY_MIN = 8
FS_DELAY_MAX = 9
FS_FIRST_SEQ = 10  # lowest sequence seen inside the window (loss is counted from here)
FS_N = 11

# per-queue counters (int64[Q, QS_N])
QS_FRAMES = 0
QS_BYTES = 1
QS_PROBES = 2
QS_FOREIGN = 3
QS_BAD_FLOW = 4
QS_CSUM_ERR = 5
QS_N = 6

# probe kinds
PROBE_NONE = 0
PROBE_SHORT = 1  # magic, flow, seq
PROBE_FULL = 2  # + send timestamp

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


@njit
def flow_state_init(fstate, bitmap):
    """Empty per-flow state (no sequence seen, delay min/max at their sentinels)."""
    for f in range(fstate.shape[0]):
        for k in range(FS_N):
            fstate[f, k] = 0
        fstate[f, FS_MAX_SEQ] = -1
        fstate[f, FS_DELAY_MIN] = INT64_MAX
        fstate[f, FS_DELAY_MAX] = INT64_MIN
        for j in range(bitmap.shape[1]):
            bitmap[f, j] = 0


@njit
def _shift_window(bitmap, f, k):
    """Age the window of flow ``f`` by ``k`` sequences (bit d moves to d + k)."""
    w = bitmap.shape[1]
    if k >= 64 * w:
        for j in range(w):
            bitmap[f, j] = 0
        return
    wq = k >> 6
    b = np.uint64(k & 63)
    for j in range(w - 1, -1, -1):
        src = j - wq
        v = np.uint64(0)
        if src >= 0:
            v = bitmap[f, src] << b
            if b > 0 and src >= 1:
                v |= bitmap[f, src - 1] >> (np.uint64(64) - b)
        bitmap[f, j] = v


@njit(nogil=True)
def seq_one(fstate, bitmap, f, seq, has_ts, tx_ns, rx_ns):
    """Account one probe of flow ``f`` with sequence ``seq``."""
    fstate[f, FS_RX] += 1
    m = fstate[f, FS_MAX_SEQ]
    if m < 0 or seq > m:
        if m < 0:
            _shift_window(bitmap, f, 64 * bitmap.shape[1])
            fstate[f, FS_FIRST_SEQ] = seq
        else:
            fstate[f, FS_LOST] += seq - m - 1
            _shift_window(bitmap, f, seq - m)
        bitmap[f, 0] |= np.uint64(1)
        fstate[f, FS_MAX_SEQ] = seq
    else:
        d = m - seq
        if d < 64 * bitmap.shape[1]:
            bit = np.uint64(1) << np.uint64(d & 63)
            if bitmap[f, d >> 6] & bit:
                fstate[f, FS_DUP] += 1
            else:
                bitmap[f, d >> 6] |= bit
                fstate[f, FS_REORDERED] += 1
                first = fstate[f, FS_FIRST_SEQ]
                if seq < first:  # before the flow's first: it was never counted lost,
                    fstate[f, FS_LOST] += first - seq - 1  # but the gap it opens is
                    fstate[f, FS_FIRST_SEQ] = seq
                else:
                    fstate[f, FS_LOST] -= 1
        else:
            fstate[f, FS_LATE] += 1
    if has_ts:
        dl = rx_ns - tx_ns
        fstate[f, FS_DELAY_N] += 1
        fstate[f, FS_DELAY_SUM] += dl
        if dl < fstate[f, FS_DELAY_MIN]:
            fstate[f, FS_DELAY_MIN] = dl
        if dl > fstate[f, FS_DELAY_MAX]:
            fstate[f, FS_DELAY_MAX] = dl


@njit(nogil=True)
def seq_update(flows, seqs, tx_ns, kinds, n, rx_ns, fstate, bitmap):
    """Account ``n`` already-extracted probes; returns how many had an unknown flow id."""
    bad = 0
    nf = fstate.shape[0]
    for i in range(n):
        if kinds[i] == PROBE_NONE:
            continue
        f = np.int64(flows[i])
        if f < 0 or f >= nf:
            bad += 1
            continue
        seq_one(fstate, bitmap, f, np.int64(seqs[i]), kinds[i] == PROBE_FULL,
                np.int64(tx_ns[i]), rx_ns)
    return bad


@njit
def _be(buf, off, nbytes):
    v = np.int64(0)
    for k in range(nbytes):
        v = (v << 8) | np.int64(buf[off + k])
    return v


@njit(nogil=True)
def probe_of(buf, start, length, rec, verify):
    """Parse one frame; return its probe kind (``PROBE_*``), leaving the parse in ``rec``.

    With ``verify`` the checksums are checked too (``rec[PK_L3_CSUM]``/``[PK_L4_CSUM]``).
    """
    parse_frame(buf, start, length, rec)
    if rec[PK_ERR] != 0:
        return PROBE_NONE
    if verify:
        verify_checksums(buf, start, rec)
    if rec[PK_L4_PROTO] == L4_UNKNOWN or rec[PK_PAYLOAD_LEN] < PROBE_SHORT_LEN:
        return PROBE_NONE
    po = start + rec[PK_PAYLOAD_OFF]
    if _be(buf, po, 4) != PROBE_MAGIC:
        return PROBE_NONE
    return PROBE_FULL if rec[PK_PAYLOAD_LEN] >= PROBE_LEN else PROBE_SHORT


@njit(nogil=True)
def extract_probes(buf, addrs, lengths, n, rec, flows, seqs, tx_ns, kinds):
    """Probe fields of ``n`` frames at ``buf[addrs[i]:addrs[i]+lengths[i]]``; returns count."""
    found = 0
    for i in range(n):
        k = probe_of(buf, addrs[i], lengths[i], rec, False)
        kinds[i] = k
        if k != PROBE_NONE:
            po = addrs[i] + rec[PK_PAYLOAD_OFF]
            flows[i] = _be(buf, po + PROBE_OFF_FLOW, 4)
            seqs[i] = _be(buf, po + PROBE_OFF_SEQ, 8)
            tx_ns[i] = _be(buf, po + PROBE_OFF_TS, 8) if k == PROBE_FULL else 0
            found += 1
    return found


@njit(nogil=True)
def sink_batch(buf, addrs, lengths, n, queue, rx_ns, verify, rec, fstate, bitmap, qstats):
    """Parse, count and sequence-check ``n`` frames received on ``queue`` at ``rx_ns``."""
    nf = fstate.shape[0]
    for i in range(n):
        start = addrs[i]
        qstats[queue, QS_FRAMES] += 1
        qstats[queue, QS_BYTES] += lengths[i]
        k = probe_of(buf, start, lengths[i], rec, verify)
        if verify and (rec[PK_L3_CSUM] == 0 or rec[PK_L4_CSUM] == 0):
            qstats[queue, QS_CSUM_ERR] += 1
        if k == PROBE_NONE:
            qstats[queue, QS_FOREIGN] += 1
            continue
        qstats[queue, QS_PROBES] += 1
        po = start + rec[PK_PAYLOAD_OFF]
        f = _be(buf, po + PROBE_OFF_FLOW, 4)
        if f >= nf:
            qstats[queue, QS_BAD_FLOW] += 1
            continue
        ts = _be(buf, po + PROBE_OFF_TS, 8) if k == PROBE_FULL else 0
        seq_one(fstate, bitmap, f, _be(buf, po + PROBE_OFF_SEQ, 8), k == PROBE_FULL, ts, rx_ns)
