"""numba_kernels.device_llq (the device's LLQ fast path) against its naive twin
(tests/naive/naive_device_dp.py), and fast path + general path equal to the general path
alone on mixed LLQ streams (what enatool/device/tx.py relies on)."""

from __future__ import annotations

import numpy as np
import pytest
from naive import naive_datapath as nd
from naive import naive_device_dp as naive

from numba_kernels import device_dp as kdp
from numba_kernels import device_llq as kllq

pytestmark = pytest.mark.nojit

I64 = np.int64


def _packet(rng, line, n_before, dma=True):
    """Descriptor words + pushed header of one packet: mostly the fast path's kind, else a
    random other kind (meta, several buffers, DMA data unless ``dma`` is off, offload bits,
    empty header)."""
    room = min(line - 16 * n_before, 255)  # header_length is 8 bits
    kind = int(rng.integers(0, 16))  # 1..4: another kind, else the fast kind
    hl = int(rng.integers(1, room + 1))
    meta, offload, bufs = None, {}, [(int(rng.integers(0, 1 << 40)), 0)]
    if kind in (1, 5, 6, 7) and n_before >= 2:  # a meta descriptor first (kind 1: and TSO)
        meta = dict(mss=int(rng.integers(0, 9000)), meta_store=int(rng.integers(0, 2)),
                    l3_hdr_len=20, l3_hdr_off=14, l4_hdr_len_in_words=5)
        if kind == 1:
            offload = {"tso_en": 1}
    elif kind == 2:
        bufs = [(int(rng.integers(0, 1 << 40)), int(rng.integers(1, 600)) if dma else 0)
                for _ in range(int(rng.integers(2 - dma, 4)))]
    elif kind == 3:
        offload = {["l3_csum_en", "l4_csum_en", "tso_en"][int(rng.integers(0, 3))]: 1}
    elif kind == 4:
        hl = 0
    words, _ = nd.tx_packet_descs(lambda i: 0, 0, int(rng.integers(0, 1 << 16)),
                                  int(rng.integers(0, 2)), offload, hl, bufs, meta)
    return [w for _, w in words], rng.integers(0, 256, hl, dtype=np.uint8).tobytes()


def _stream(rng, depth, line, n_before, head, dma=True):
    area = bytearray(depth * line)
    tail = head
    while True:
        words, header = _packet(rng, line, n_before, dma)
        per = line // 16
        nlines = 1 + max(0, -(-(len(words) - n_before) // per))
        if ((tail - head) & 0xFFFF) + nlines > depth - 1:
            return np.frombuffer(bytes(area), np.uint8).copy(), tail
        tail = nd.llq_write(area, tail, depth, line, n_before, words, header)


def _fast(area, head, tail, depth, line, n_before, max_pkts, out_cap=1 << 16, slots=256,
          meta_state=None):
    ob, oo, ol = np.zeros(out_cap, np.uint8), np.zeros(slots, I64), np.zeros(slots, I64)
    rid, cr, sh, ps = (np.full(depth, -1, I64) for _ in range(4))
    counts = np.zeros(kdp.TXS_N, I64)
    ms = np.zeros(3, I64) if meta_state is None else meta_state
    n, h, pos, k = kllq.llq_fetch_build_simple(area, head, tail, depth, line, n_before,
                                                max_pkts, ms, ob, 0, oo, ol, 0, rid, cr, sh,
                                                ps, counts)
    frames = [ob[oo[i]:oo[i] + ol[i]].tobytes() for i in range(k)]
    assert pos == sum(ol[:k]) and k == n and counts[kdp.TXS_OK] == n and (ps[:n] == 0).all()
    return [(int(rid[p]), int(cr[p]), int(sh[p]), frames[p]) for p in range(n)], int(h)


@pytest.mark.parametrize("line,n_before", [(128, 1), (128, 2), (256, 4), (256, 0)])
@pytest.mark.parametrize("head", [0, 0xFFF5])
def test_fast_path_matches_naive(line, n_before, head):
    rng = np.random.default_rng(line * 7 + n_before + head)
    depth, seen = 32, 0
    for _ in range(40):
        area, tail = _stream(rng, depth, line, n_before, head)
        max_pkts = int(rng.integers(1, depth))
        ms = np.zeros(3, I64)
        cache: dict = {}
        got = _fast(area, head, tail, depth, line, n_before, max_pkts, meta_state=ms)
        want = naive.llq_fetch_build_simple(area.tobytes(), head, tail, depth, line,
                                            n_before, max_pkts, cache)
        assert got == want
        assert ms.tolist() == ([1, *cache["meta"]] if cache else [0, 0, 0])
        seen += len(want[0])
    assert seen > 50 if n_before else seen == 0  # N = 0: header first, never this path


def test_fast_path_stops_at_a_wrong_phase_and_a_full_output():
    rng = np.random.default_rng(5)
    depth, line = 16, 128
    area, tail = _stream(rng, depth, line, 2, 0)
    bad = area.copy()
    bad[0:4] = np.frombuffer((int.from_bytes(bad[0:4].tobytes(), "little") ^ (1 << 24))
                             .to_bytes(4, "little"), np.uint8)  # line 0's phase flipped
    assert _fast(bad, 0, tail, depth, line, 2, depth) == ([], 0)
    # room for one frame only: the rest is left to the caller
    got, h = _fast(area, 0, tail, depth, line, 2, depth, out_cap=line, slots=1)
    assert len(got) <= 1 and h == len(got)


def _general(area, head, tail, depth, line, n_before, max_pkts, k0, arrays, out, ms):
    """llq_fetch_burst + tx_build_frames from packet index k0 on (as the device does)."""
    fi, ndata, meta, hdr, hl, st, rid, cr, sh, ps = arrays
    descs = np.zeros((depth * line // 16 + 64, 4), np.uint32)
    n2, h = kdp.llq_fetch_burst(area, head, tail, depth, line, n_before, max_pkts - k0, 19,
                                ms, descs, fi[k0:], ndata[k0:], meta[k0:],
                                hdr[k0:], hl[k0:], st[k0:], rid[k0:], cr[k0:], sh[k0:])
    ob, oo, ol, pos, nout, counts = out
    n = k0 + n2
    z = np.zeros
    _, pos, nout, err = kdp.tx_build_frames(
        descs, 0x7FFFFFFF, fi, ndata, meta, hdr, hl, True, st, k0, n, z(1 << 16, np.uint8),
        0, z(1, I64), z(1, I64), z(1 << 16, np.uint8), z(1 << 16, np.uint8), z(64, I64),
        z(64, I64), z(32, I64), ob, pos, oo, ol, nout, ps, counts)
    assert err == 0
    return n, int(h), pos, nout


@pytest.mark.parametrize("seed", range(6))
def test_fast_then_general_equals_general_alone(seed):
    rng = np.random.default_rng(100 + seed)
    depth, line, n_before = 64, 128, 2
    area, tail = _stream(rng, depth, line, n_before, 0xFFF0, dma=False)  # no host memory here
    results = []
    for use_fast in (False, True):
        arrays = (np.zeros(depth, I64), np.zeros(depth, I64), np.zeros((depth, 2), I64),
                  np.zeros((depth, line), np.uint8), *(np.zeros(depth, I64) for _ in range(6)))
        out = [np.zeros(1 << 17, np.uint8), np.zeros(256, I64), np.zeros(256, I64), 0, 0,
               np.zeros(kdp.TXS_N, I64)]
        k0, head = 0, 0xFFF0
        ms = np.zeros(3, I64)  # the queue's meta cache, carried across both calls
        if use_fast:
            k0, head, out[3], out[4] = kllq.llq_fetch_build_simple(
                area, head, tail, depth, line, n_before, depth, ms, out[0], 0, out[1],
                out[2], 0, arrays[6], arrays[7], arrays[8], arrays[9], out[5])
        n, h, pos, nout = _general(area, head, tail, depth, line, n_before, depth, k0,
                                   arrays, out, ms)
        results.append((n, h, out[0][:pos].tobytes(), out[1][:nout].tolist(),
                        out[2][:nout].tolist(), [a[:n].tolist() for a in arrays[6:]],
                        out[5].tolist(), ms.tolist()))
    assert results[0] == results[1]
