"""numba_kernels.llq: line building and device-side parsing against the naive twin (§6)."""

from __future__ import annotations

import numpy as np
import pytest

from enatool.ena import eth_io
from numba_kernels import descriptors as d
from numba_kernels import llq
from tests.naive import naive_datapath as naive

pytestmark = pytest.mark.nojit

RNG = np.random.default_rng(7)
LINES = (128, 192, 256)


def _packet_descs(nbufs, with_meta, hdr_len, req_id=5):
    """Descriptors as the driver would build them (scratch ring from index 0)."""
    scratch = np.zeros((32, 4), dtype=np.uint32)
    addrs = RNG.integers(0, 1 << 48, nbufs)
    lens = RNG.integers(1, 1 << 16, nbufs)
    w0, w2 = d.tx_meta_words(1448, 20, 14, 5, True)
    off = d.tx_offload_word(8, 1, 1, 12, 1, 1, 0, 0)
    n = d.tx_write_packet(scratch, 0, 32, req_id, True, off, hdr_len, addrs, lens, 0, nbufs,
                          with_meta, w0, w2)
    return scratch[:n].copy()


def test_lines_for_matches_formula():
    for line in LINES:
        for n_before in (0, 1, 2, 4, 8):
            assert llq.llq_max_header(n_before, line) == min(255, eth_io.llq_max_pushed_header(
                line, n_before))
            for nd in range(1, 41):
                want = eth_io.llq_lines_for_packet(nd, line, n_before)
                assert llq.llq_lines_for(nd, n_before, line) == want
    assert llq.llq_max_header(2, 128) == 96 and llq.llq_max_header(2, 256) == 224


def _used_bytes(tail, depth, line, n_before, nd, hdr_len):
    """Boolean mask of the area bytes the LLQ format gives a meaning to for one packet:
    its descriptor slots and pushed header (the rest of a line is never read)."""
    used = np.zeros(depth * line, bool)
    per_line = line // 16
    ln = tail
    base = (ln % depth) * line
    k = min(nd, n_before)
    used[base:base + 16 * k] = True
    used[base + 16 * n_before:base + 16 * n_before + hdr_len] = True
    d = k
    while d < nd:
        ln = (ln + 1) & 0xFFFF
        base = (ln % depth) * line
        k = min(per_line, nd - d)
        used[base:base + 16 * k] = True
        d += k
    return used


@pytest.mark.parametrize("line", LINES)
@pytest.mark.parametrize("n_before", [0, 1, 2, 4, 8])
def test_write_and_read_match_naive(line, n_before):
    depth = 8
    area = np.zeros(depth * line, dtype=np.uint8)
    ref = bytearray(depth * line)
    tail = 0xFFFA
    max_hdr = llq.llq_max_header(n_before, line)
    for nbufs, with_meta, hdr_len in [(1, False, 0), (1, True, max_hdr), (3, True, 54),
                                      (19, False, min(max_hdr, 66)), (2, False, 1)]:
        hdr_len = min(hdr_len, max_hdr)
        descs = _packet_descs(nbufs, with_meta, hdr_len)
        hdr = RNG.integers(0, 256, max(hdr_len, 1)).astype(np.uint8)
        nd = descs.shape[0]
        if llq.llq_lines_for(nd, n_before, line) > depth:
            continue
        t = llq.llq_write_packet(area, tail, depth, line, n_before, descs, 0, nd, hdr, 0,
                                 hdr_len)
        t2 = naive.llq_write(ref, tail, depth, line, n_before, descs.tolist(),
                             hdr[:hdr_len].tobytes())
        assert t == t2 == (tail + llq.llq_lines_for(nd, n_before, line)) & 0xFFFF
        used = _used_bytes(tail, depth, line, n_before, nd, hdr_len)
        assert area[used].tobytes() == np.frombuffer(bytes(ref), np.uint8)[used].tobytes()
        out = np.zeros((32, 4), dtype=np.uint32)
        oh = np.zeros(line, dtype=np.uint8)
        got = llq.llq_read_packet(area, tail, t, depth, line, n_before, 32, out, 0, oh)
        ndescs, hdr_bytes, nlines = naive.llq_read(ref, tail, depth, line, n_before)
        assert got == (nd, hdr_len, t) and nlines == (t - tail) & 0xFFFF
        assert out[:nd].tolist() == ndescs
        assert oh[:hdr_len].tobytes() == hdr_bytes == hdr[:hdr_len].tobytes()
        # descriptors come back with the phase of their own line, otherwise unchanged
        keep = ~np.uint32(d.CTRL_PHASE)
        assert np.array_equal(out[:nd, 0] & keep, descs[:, 0] & keep)
        assert np.array_equal(out[:nd, 1:], descs[:, 1:])
        tail = t


def test_header_too_long_is_refused_and_dropped():
    line, n_before, depth = 128, 2, 4
    area = np.zeros(depth * line, dtype=np.uint8)
    descs = _packet_descs(1, False, 97)
    hdr = np.zeros(128, dtype=np.uint8)
    assert llq.llq_write_packet(area, 0, depth, line, n_before, descs, 0, 1, hdr, 0,
                                97) == d.ERR_HEADER_TOO_LONG
    assert not area.any()
    # a driver that writes a legal line but claims header_length 97: the device skips it
    t = llq.llq_write_packet(area, 0, depth, line, n_before, descs, 0, 1, hdr, 0, 96)
    out = np.zeros((4, 4), dtype=np.uint32)
    oh = np.zeros(256, dtype=np.uint8)
    assert llq.llq_read_packet(area, 0, t, depth, line, n_before, 19, out, 0, oh) == (
        d.ERR_HEADER_TOO_LONG, 0, 1)


def test_read_incomplete_and_phase_error():
    line, n_before, depth = 128, 2, 4
    area = np.zeros(depth * line, dtype=np.uint8)
    descs = _packet_descs(8, True, 40)  # 9 descs -> 1 + ceil(7/8) = 2 lines
    t = llq.llq_write_packet(area, 3, depth, line, n_before, descs, 0, 9, np.zeros(40, np.uint8),
                             0, 40)
    assert t == 5
    out = np.zeros((32, 4), dtype=np.uint32)
    oh = np.zeros(line, dtype=np.uint8)
    assert llq.llq_read_packet(area, 3, 4, depth, line, n_before, 19, out, 0, oh) == (0, 0, 3)
    assert llq.llq_read_packet(area, 3, 5, depth, line, n_before, 19, out, 0, oh)[0] == 9
    assert llq.llq_read_packet(area, 3, 5, depth, line, n_before, 5, out, 0, oh)[0] == (
        d.ERR_TOO_MANY_DESCS)
    area[0 * line + 3] ^= 1  # flip the phase bit of a descriptor in the continuation line
    assert llq.llq_read_packet(area, 3, 5, depth, line, n_before, 19, out, 0, oh) == (
        d.ERR_PHASE, 0, 3)


def test_burst_write_fetch_with_meta_cache():
    line, n_before, depth = 256, 2, 16
    area = np.zeros(depth * line, dtype=np.uint8)
    pkts = [(1, True, 54), (3, False, 74), (17, False, 224), (2, True, 0)]
    all_descs, starts, nds, hdrs, hstarts, hlens = [], [], [], [], [], []
    row = hpos = 0
    for nb, meta, hl in pkts:
        ds = _packet_descs(nb, meta, hl, req_id=row)
        all_descs.append(ds)
        starts.append(row)
        nds.append(ds.shape[0])
        row += ds.shape[0]
        hdrs.append(RNG.integers(0, 256, hl).astype(np.uint8))
        hstarts.append(hpos)
        hlens.append(hl)
        hpos += hl
    descs = np.concatenate(all_descs)
    headers = np.concatenate(hdrs)
    i64 = np.int64
    n, t = llq.llq_write_burst(area, 0xFFFE, depth, line, n_before, descs,
                               np.array(starts, i64), np.array(nds, i64), headers,
                               np.array(hstarts, i64), np.array(hlens, i64))
    assert n == 4 and t == (0xFFFE + sum(llq.llq_lines_for(x, 2, line) for x in nds)) & 0xFFFF
    state = np.zeros(3, dtype=np.int64)
    z = np.zeros
    od = z((64, 4), np.uint32)
    fi, ndata, nmeta = z(8, i64), z(8, i64), z(8, i64)
    om, oh, ohl, ost = z((8, 2), i64), z((8, line), np.uint8), z(8, i64), z(8, i64)
    got, h = llq.llq_fetch(area, 0xFFFE, t, depth, line, n_before, 8, 19, state, od, fi, ndata,
                           nmeta, om, oh, ohl, ost)
    assert (got, h) == (4, t)
    assert ndata[:4].tolist() == [1, 3, 17, 2] and nmeta[:4].tolist() == [1, 0, 0, 1]
    assert ost[:4].tolist() == [0, 0, 0, 0] and ohl[:4].tolist() == hlens
    for p in range(4):
        assert oh[p, :hlens[p]].tobytes() == hdrs[p].tobytes()
        rid = d.tx_desc_read(od, fi[p], z(d.TXD_NFIELDS, i64))[d.TXD_REQ_ID]
        assert rid == starts[p]
    # packets without a meta descriptor reuse the stored one
    assert om[1, 1] == om[0, 1] == om[2, 1] != 0
    # header larger than the first line's room: refused by the writer, nothing pushed
    big = np.zeros(300, np.uint8)
    assert llq.llq_write_burst(area, t, depth, line, n_before, descs, np.array([0], i64),
                               np.array([2], i64), big, np.array([0], i64),
                               np.array([225], i64)) == (d.ERR_HEADER_TOO_LONG, t)
