"""numba_kernels.rings against the naive twins: phases, CQ poll/produce, SQ fetch, req_ids."""

from __future__ import annotations

import numpy as np
import pytest

from numba_kernels import descriptors as d
from numba_kernels import rings as r
from tests.naive import naive_datapath as naive

pytestmark = pytest.mark.nojit

RNG = np.random.default_rng(99)


def test_phase_and_index_arithmetic():
    for depth in (1, 2, 8, 1024, 32768):
        for idx in (0, 1, depth - 1, depth, depth + 1, 2 * depth - 1, 2 * depth, 0xFFFF):
            assert r.ring_phase(idx, depth) == naive.phase_of(idx, depth)
            assert r.ring_slot(idx, depth) == idx % depth
    # a separately kept phase bit (as the driver does) agrees across the u16 wrap
    depth, phase, slot = 64, 1, 0
    for idx in range(0x10000 + 3 * depth):
        assert r.ring_phase(idx & 0xFFFF, depth) == phase
        slot += 1
        if slot == depth:
            slot, phase = 0, phase ^ 1
    assert r.ring_add(0xFFFF, 1) == 0
    assert r.ring_used(2, 0xFFFE) == 4
    assert r.sq_free_entries(5, 5, 1024) == 1023
    assert r.sq_free_entries(3, 0xFFFC, 8) == 0


def test_cq_tx_produce_poll_wraps():
    depth = 8
    cq = np.zeros((depth, 2), dtype=np.uint32)
    ref = np.zeros((depth, 2), dtype=np.uint32)
    out = np.zeros(depth, dtype=np.int64)
    head = tail = 0xFFF3
    for n in (3, 8, 5, 1, 7):
        ids = RNG.integers(0, 1 << 16, n)
        ids[0] = 0xFFFF
        heads = RNG.integers(0, 1 << 16, n)
        t = r.cq_write_tx(cq, tail, depth, ids, heads, 5)
        assert t == naive.cq_write_tx(ref, tail, depth, ids.tolist(), heads.tolist(), 5)
        assert np.array_equal(cq, ref)
        tail = t
        got = r.cq_poll_tx(cq, head, depth, depth, out, True)
        assert got == n
        assert out[:n].tolist() == naive.cq_poll_tx(cq, head, depth, depth, True) == ids.tolist()
        assert r.cq_poll_tx(cq, (head + n) & 0xFFFF, depth, depth, out, True) == 0
        head = (head + n) & 0xFFFF
    # max_n caps the poll
    r.cq_write_tx(cq, tail, depth, np.arange(4), np.zeros(4, np.int64), 0)
    assert r.cq_poll_tx(cq, head, depth, 2, out, False) == 2
    # MBZ bits in flags -> malformed only when checked
    cq[head % depth, 0] |= 0x40 << 24
    assert r.cq_poll_tx(cq, head, depth, 8, out, True) == d.ERR_MALFORMED
    assert naive.cq_poll_tx(cq, head, depth, 8, True) == "malformed"
    assert r.cq_poll_tx(cq, head, depth, 8, out, False) == 4


def _rx_outs(n=64):
    z = np.zeros
    return (z(n, np.int64), z(n, np.int64), z(n, np.int64), z(n, np.int64), z(n, np.int64),
            z(n, np.int64))


def _poll_rx(cq, head, depth, max_pkts, max_descs, cap=64):
    rid, ln, nd, st, hs, of = _rx_outs(cap)
    npk, used = r.cq_poll_rx(cq, head, depth, max_pkts, max_descs, rid, ln, nd, st, hs, of)
    if npk < 0:
        return npk, used, None
    pkts, k = [], 0
    for p in range(npk):
        c = nd[p]
        pkts.append(dict(req_ids=rid[k:k + c].tolist(), lengths=ln[k:k + c].tolist(),
                         status=int(st[p]), hash=int(hs[p]), offset=int(of[p])))
        k += c
    return npk, used, pkts


def _write_rx_packets(cq, ref, tail, depth, sizes):
    status = d.rx_status_word(8, 1, 12, 0, 1, 0, 1, 0)
    parse = dict(l3_proto_idx=8, src_vlan_cnt=1, l4_proto_idx=12, l4_csum_err=1,
                 l4_csum_checked=1)
    for nb in sizes:
        ids = RNG.integers(0, depth, nb)
        lens = RNG.integers(0, 1 << 16, nb)
        h = int(RNG.integers(0, 1 << 32))
        t = r.cq_write_rx(cq, tail, depth, ids, lens, 0, nb, status, h, 2, 64)
        t2 = naive.cq_write_rx(ref, tail, depth, list(zip(ids.tolist(), lens.tolist(),
                                                          strict=True)), parse, h, 2, 64)
        assert t == t2
        assert np.array_equal(cq, ref)
        tail = t
    return tail


def test_cq_rx_produce_poll_matches_naive():
    depth = 16
    cq = np.zeros((depth, 4), dtype=np.uint32)
    ref = np.zeros((depth, 4), dtype=np.uint32)
    head = tail = 0xFFFB
    for sizes in ([1, 2, 3], [5, 1], [4, 4, 4], [1] * 9, [16]):
        tail = _write_rx_packets(cq, ref, tail, depth, sizes)
        npk, used, pkts = _poll_rx(cq, head, depth, 64, 19)
        npkts, nused = naive.cq_poll_rx(cq, head, depth, 64, 19, 64)
        assert (npk, used) == (len(sizes), sum(sizes)) == (len(npkts), nused)
        assert pkts == npkts
        assert all(p["offset"] == 64 for p in pkts)
        head = (head + used) & 0xFFFF


def test_cq_rx_partial_packet_and_caps():
    depth = 16
    cq = np.zeros((depth, 4), dtype=np.uint32)
    ref = np.zeros((depth, 4), dtype=np.uint32)
    tail = _write_rx_packets(cq, ref, 0, depth, [2, 3, 2])
    # max_pkts and flat capacity stop before a packet, never inside one
    assert _poll_rx(cq, 0, depth, 2, 19)[:2] == (2, 5)
    assert _poll_rx(cq, 0, depth, 9, 19, cap=6)[:2] == (2, 5)
    assert naive.cq_poll_rx(cq, 0, depth, 9, 19, 6)[1] == 5
    # a packet whose last cdesc has not arrived is left alone
    r.cq_write_rx(cq, tail, depth, np.array([1, 2, 3]), np.array([9, 9, 9]), 0, 2, 0, 0, 0, 0)
    cq[(tail + 1) % depth, 0] &= ~np.uint32(d.RXC_LAST)  # last not yet written
    assert _poll_rx(cq, 0, depth, 9, 19)[:2] == (3, 7)


@pytest.mark.parametrize("fault", ["first_mid", "req_id", "too_many", "mbz"])
def test_cq_rx_errors(fault):
    depth = 16
    cq = np.zeros((depth, 4), dtype=np.uint32)
    ref = np.zeros((depth, 4), dtype=np.uint32)
    _write_rx_packets(cq, ref, 0, depth, [1, 4])
    max_descs = 19
    expect = {"first_mid": d.ERR_MALFORMED, "req_id": d.ERR_BAD_REQ_ID,
              "too_many": d.ERR_TOO_MANY_DESCS, "mbz": d.ERR_MALFORMED}[fault]
    if fault == "first_mid":
        cq[3, 0] |= d.RXC_FIRST
    elif fault == "req_id":
        cq[2, 1] = (cq[2, 1] & 0xFFFF) | (depth << 16)
    elif fault == "too_many":
        max_descs = 3
    else:
        cq[4, 0] |= d.RXC_MBZ17
    npk, used, _ = _poll_rx(cq, 0, depth, 9, max_descs)
    assert (npk, used) == (expect, 1)
    assert naive.cq_poll_rx(cq, 0, depth, 9, max_descs, 64) == (
        {"first_mid": "malformed", "req_id": "bad_req_id", "too_many": "too_many",
         "mbz": "malformed"}[fault], 1)


def _fetch(sq, head, tail, depth, state, max_pkts=32, max_descs=19):
    z = np.zeros
    fi, nd, nm, om = z(32, np.int64), z(32, np.int64), z(32, np.int64), z((32, 2), np.int64)
    n, h = r.tx_sq_fetch(sq, head, tail, depth, max_pkts, max_descs, state, fi, nd, nm, om)
    if n < 0:
        return n, h
    return [dict(first=int(fi[p]), ndata=int(nd[p]), nmeta=int(nm[p]),
                 meta=(int(om[p, 0]), int(om[p, 1]))) for p in range(n)], h


def test_tx_sq_fetch_groups_packets_and_caches_meta():
    depth = 32
    sq = np.zeros((depth, 4), dtype=np.uint32)
    state = np.zeros(r.META_STATE_LEN, dtype=np.int64)
    cache: dict = {}
    head = tail = 0xFFEE
    w0, w2 = d.tx_meta_words(1448, 20, 14, 5, True)
    v0, v2 = d.tx_meta_words(536, 40, 14, 8, False)  # not stored
    for rnd in range(4):
        start = tail
        for p, (nb, meta) in enumerate([(1, None), (3, (w0, w2)), (2, None), (1, (v0, v2)),
                                        (19, None)]):
            addrs = RNG.integers(0, 1 << 48, nb)
            lens = RNG.integers(1, 4096, nb)
            tail = d.tx_write_packet(sq, tail, depth, p + rnd, True, 0, 0, addrs, lens, 0, nb,
                                     meta is not None, *(meta or (0, 0)))
        got, h = _fetch(sq, start, tail, depth, state)
        want, nh = naive.tx_sq_fetch(sq, start, tail, depth, 32, 19, cache)
        assert got == want and h == nh == tail
        mss = [int(d.tx_meta_fields(m0, m2, np.zeros(d.TXM_NFIELDS, np.int64))[d.TXM_MSS])
               for m0, m2 in (p["meta"] for p in got)]
        assert mss == [0 if rnd == 0 else 1448, 1448, 1448, 536, 1448]
        assert got[1]["nmeta"] == 1 and got[4]["ndata"] == 19
        head = tail
    assert head == tail


def test_tx_sq_fetch_incomplete_and_errors():
    depth = 16
    sq = np.zeros((depth, 4), dtype=np.uint32)
    state = np.zeros(r.META_STATE_LEN, dtype=np.int64)
    a = np.arange(4, dtype=np.int64)
    t1 = d.tx_write_packet(sq, 14, depth, 1, True, 0, 0, a, a + 1, 0, 3, False, 0, 0)
    # tail published in the middle of the packet: nothing consumed
    assert _fetch(sq, 14, 16, depth, state) == ([], 14)
    assert _fetch(sq, 14, t1, depth, state)[1] == t1
    # phase error (slot 0 is index 16 -> phase 0 expected)
    sq[0, 0] |= d.CTRL_PHASE
    assert _fetch(sq, 14, t1, depth, state) == (d.ERR_PHASE, 14)
    sq[0, 0] &= ~np.uint32(d.CTRL_PHASE)
    assert _fetch(sq, 14, t1, depth, state, max_descs=2) == (d.ERR_TOO_MANY_DESCS, 14)
    sq[15, 0] |= d.CTRL_FIRST
    assert _fetch(sq, 14, t1, depth, state) == (d.ERR_MALFORMED, 14)
    assert naive.tx_sq_fetch(sq, 14, t1, depth, 32, 19, {}) == ("malformed", 14)
    sq[14, 0] &= ~np.uint32(d.CTRL_FIRST)
    assert _fetch(sq, 14, t1, depth, state) == (d.ERR_NO_FIRST, 14)


def test_rx_sq_fetch_matches_naive():
    depth = 8
    sq = np.zeros((depth, 4), dtype=np.uint32)
    tail = d.rx_post_batch(sq, 0xFFFD, depth, RNG.integers(0, 1 << 48, 6),
                           np.array([0x10000, 1, 2, 3, 4, 0xFFFF]), np.arange(6))
    z = np.zeros
    oa, ol, orid = z(8, np.int64), z(8, np.int64), z(8, np.int64)
    n, h = r.rx_sq_fetch(sq, 0xFFFD, tail, depth, 8, oa, ol, orid)
    want, nh = naive.rx_sq_fetch(sq, 0xFFFD, tail, depth, 8)
    assert (n, h) == (6, nh) and list(zip(oa[:n], ol[:n], orid[:n], strict=True)) == want
    assert ol[0] == 65536
    assert r.rx_sq_fetch(sq, 0xFFFD, tail, depth, 2, oa, ol, orid) == (2, 0xFFFF)


def test_reqid_out_of_order_matches_naive():
    depth = 16
    free = np.zeros(depth, dtype=np.int64)
    use = np.zeros(depth, dtype=np.uint8)
    r.reqid_init(free, use)
    ref = naive.ReqIdRing(depth)
    ntu = ntc = 0
    ref.ntu = ref.ntc = 0
    outstanding: list[int] = []
    out = np.zeros(depth, dtype=np.int64)
    for _ in range(60):
        free_n = depth - len(outstanding)
        n = int(RNG.integers(0, free_n + 1))
        ntu = r.reqid_take(free, use, ntu, depth, n, out)
        assert out[:n].tolist() == ref.take(n) and ntu == ref.ntu
        outstanding += out[:n].tolist()
        RNG.shuffle(outstanding)
        k = int(RNG.integers(0, len(outstanding) + 1))
        done, outstanding = outstanding[:k], outstanding[k:]
        ntc = r.reqid_put(free, use, ntc, depth, np.array(done, dtype=np.int64), k)
        assert ntc == ref.put(done)
        assert free.tolist() == ref.free_ids
    assert sorted(np.flatnonzero(use).tolist()) == sorted(outstanding)


def test_reqid_bad_ids_change_nothing():
    depth = 8
    free = np.zeros(depth, dtype=np.int64)
    use = np.zeros(depth, dtype=np.uint8)
    r.reqid_init(free, use)
    out = np.zeros(depth, dtype=np.int64)
    assert r.reqid_take(free, use, 0xFFFE, depth, 3, out) == 1  # u16 wrap of next_to_use
    taken = out[:3].tolist()
    before = (free.copy(), use.copy())
    for bad in ([depth], [0xFFFF], [taken[0], taken[0]], [taken[1], 5], [3, taken[2]]):
        assert r.reqid_put(free, use, 0, depth, np.array(bad, dtype=np.int64),
                           len(bad)) == d.ERR_BAD_REQ_ID
        assert np.array_equal(free, before[0]) and np.array_equal(use, before[1])
    # corrupted free ring hands out an id that is outstanding
    free[1] = taken[0]
    assert r.reqid_take(free, use, 1, depth, 2, out) == d.ERR_BAD_REQ_ID
    assert np.array_equal(use, before[1])
