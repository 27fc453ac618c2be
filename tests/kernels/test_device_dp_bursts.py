"""numba_kernels.device_dp Tx/Rx bursts against their naive twins (tests/naive/naive_device_dp.py):
host-mode packet info, the LLQ burst fetch (meta cache, header drops, incomplete packets,
u16 line wrap) and the Rx scatter (multi-buffer frames, rx_offset, 64 KB buffers, overruns,
too many buffers, empty and full rings, phase and DMA errors, u16 wrap)."""

from __future__ import annotations

import numpy as np
import pytest
from naive import naive_datapath as nd
from naive import naive_device_dp as naive

from enatool.ena import eth_io
from numba_kernels import descriptors as d
from numba_kernels import device_dp as kdp

pytestmark = pytest.mark.nojit

I64 = np.int64


# ---- tx_packet_info ---------------------------------------------------------------------------
@pytest.mark.parametrize("depth,start", [(8, 0), (16, 0xFFF9), (64, 0xFFC0)])
def test_tx_packet_info_matches_naive(depth, start):
    rng = np.random.default_rng(depth)
    sq = np.zeros((depth, 4), np.uint32)
    firsts, ndatas = [], []
    t = start
    while len(firsts) < 3 * depth:
        nb = int(rng.integers(1, 4))
        meta = dict(mss=int(rng.integers(0, 9000))) if rng.integers(0, 2) else None
        bufs = [(int(rng.integers(0, 1 << 48)), int(rng.integers(0, 1 << 16)))
                for _ in range(nb)]
        words, nt = nd.tx_packet_descs(lambda i: nd.phase_of(i, depth), t,
                                       int(rng.integers(0, 1 << 16)), int(rng.integers(0, 2)),
                                       {}, 0, bufs, meta)
        if len(words) > depth:
            continue
        for idx, w in words:
            sq[idx % depth] = w
        # info of this packet, read before the ring moves on
        fi = (t + (1 if meta else 0)) & 0xFFFF
        firsts.append(fi)
        ndatas.append(nb)
        n = 1
        rid, creq, heads = np.zeros(n, I64), np.zeros(n, I64), np.zeros(n, I64)
        kdp.tx_packet_info(sq, depth - 1, np.array([fi], I64), np.array([nb], I64), n, rid,
                           creq, heads)
        want = naive.tx_packet_info(sq, depth, [fi], [nb])
        assert list(zip(rid.tolist(), creq.tolist(), heads.tolist(), strict=True)) == want
        t = nt
    # npkts = 0 writes nothing
    rid = np.full(2, -7, I64)
    kdp.tx_packet_info(sq, depth - 1, np.zeros(2, I64), np.ones(2, I64), 0, rid, rid, rid)
    assert rid.tolist() == [-7, -7]


# ---- llq_fetch_burst --------------------------------------------------------------------------
def _llq_packet(rng, depth, tail, line, n_before, max_data, too_long=False):
    nb = int(rng.integers(1, max_data + 1))
    room = line - 16 * n_before
    hl = room + int(rng.integers(1, 16)) if too_long else int(rng.integers(0, room + 1))
    meta = None
    if rng.integers(0, 3) == 0:
        meta = dict(mss=int(rng.integers(0, 9000)), meta_store=int(rng.integers(0, 2)),
                    l3_hdr_len=20, l3_hdr_off=14, l4_hdr_len_in_words=5)
    bufs = [(int(rng.integers(0, 1 << 48)), int(rng.integers(1, 1 << 16))) for _ in range(nb)]
    words, _ = nd.tx_packet_descs(lambda i: 0, 0, int(rng.integers(0, 1 << 16)),
                                  int(rng.integers(0, 2)), {}, hl, bufs, meta)
    header = rng.integers(0, 256, min(hl, room), dtype=np.uint8).tobytes()
    return [w for _, w in words], header


def _fetch_both(area, head, tail, depth, line, n_before, max_pkts, max_descs, kstate, ncache):
    cap = max_pkts
    z = np.zeros
    od = z((max_pkts * (max_descs + 2) + 8, 4), np.uint32)
    fi, ndata = z(cap, I64), z(cap, I64)
    om, oh, ohl, ost = z((cap, 2), I64), z((cap, line), np.uint8), z(cap, I64), z(cap, I64)
    rid, creq, heads = z(cap, I64), z(cap, I64), z(cap, I64)
    n, h = kdp.llq_fetch_burst(area, head, tail, depth, line, n_before, max_pkts, max_descs,
                               kstate, od, fi, ndata, om, oh, ohl, ost, rid, creq, heads)
    want, wh = naive.llq_fetch_burst(area.tobytes(), head, tail, depth, line, n_before,
                                     max_pkts, max_descs, ncache)
    if isinstance(want, str):
        assert n == d.ERR_TOO_MANY_DESCS and want == "too_many" and h == wh
        return want, h
    assert (int(n), int(h)) == (len(want), wh)
    for p, w in enumerate(want):
        assert (int(rid[p]), int(creq[p]), int(heads[p])) == (w["req_id"], w["comp_req"],
                                                               w["sq_head"]), p
        if w["status"] == "header_too_long":
            assert int(ost[p]) == d.ERR_HEADER_TOO_LONG and int(ndata[p]) == 0
            continue
        assert int(ost[p]) == 0 and int(ndata[p]) == len(w["descs"])
        rows = od[fi[p]:fi[p] + ndata[p]]
        assert rows.tolist() == [[int(x) for x in ws] for ws in w["descs"]]
        assert tuple(om[p].tolist()) == tuple(int(x) for x in w["meta"])
        assert oh[p, :ohl[p]].tobytes() == w["header"]
    return want, h


@pytest.mark.parametrize("line,n_before", [(128, 2), (192, 1), (256, 4)])
@pytest.mark.parametrize("start", [0, 0xFFF3])
def test_llq_fetch_burst_matches_naive(line, n_before, start):
    rng = np.random.default_rng(line + n_before + start)
    depth = 16
    area = bytearray(depth * line)
    kstate = np.zeros(3, I64)
    ncache: dict = {}
    head = tail = start
    fetched = 0
    for rnd in range(25):
        # write a few packets (some with headers too long for the first line)
        ends = []
        for _ in range(int(rng.integers(0, 4))):
            words, header = _llq_packet(rng, depth, tail, line, n_before, 10,
                                        too_long=rng.integers(0, 6) == 0)
            per = line // 16
            nlines = 1 + max(0, -(-(len(words) - n_before) // per))
            if ((tail - head) & 0xFFFF) + nlines > depth - 1:
                break
            tail = nd.llq_write(area, tail, depth, line, n_before, words, header)
            ends.append(tail)
        # sometimes the doorbell covers only part of the last packet: it must wait
        bell = tail
        if ends and (tail - (ends[-2] if len(ends) > 1 else head)) & 0xFFFF > 1 and rnd % 3 == 0:
            bell = (tail - 1) & 0xFFFF
        max_pkts = int(rng.integers(1, 5))
        a = np.frombuffer(bytes(area), np.uint8).copy()
        want, head = _fetch_both(a, head, bell, depth, line, n_before, max_pkts, 19, kstate,
                                 ncache)
        fetched += len(want)
    # drain
    a = np.frombuffer(bytes(area), np.uint8).copy()
    while head != tail:
        want, head = _fetch_both(a, head, tail, depth, line, n_before, 4, 19, kstate, ncache)
        fetched += len(want)
    assert fetched > 10
    # an empty ring: nothing
    assert _fetch_both(a, head, head, depth, line, n_before, 4, 19, kstate, ncache)[0] == []


def test_llq_fetch_burst_too_many_descriptors():
    rng = np.random.default_rng(5)
    line, n_before, depth = 128, 2, 16
    area = bytearray(depth * line)
    words, header = _llq_packet(rng, depth, 0, line, n_before, 1)
    bufs = [(0x1000 * k, 100) for k in range(6)]
    words, _ = nd.tx_packet_descs(lambda i: 0, 0, 3, 1, {}, 20, bufs, None)
    t = nd.llq_write(area, 0, depth, line, n_before, [w for _, w in words], bytes(20))
    a = np.frombuffer(bytes(area), np.uint8).copy()
    for max_descs in (5, 6):
        got, h = _fetch_both(a, 0, t, depth, line, n_before, 4, max_descs, np.zeros(3, I64), {})
        assert (got == "too_many") == (max_descs == 5) and h == (0 if max_descs == 5 else t)


# ---- rx_deliver -------------------------------------------------------------------------------
STRIDE = 0x2_0000  # one allocation per SQ slot (room for a 64 KB buffer)
BUS = 0x7_0000_0000


class RxBed:
    def __init__(self, depth, start, rng, alloc_short=()):
        self.depth = depth
        self.rng = rng
        self.sq = np.zeros((depth, 4), np.uint32)
        self.kcq = np.zeros((depth, 4), np.uint32)
        self.ncq = np.zeros((depth, 4), np.uint32)
        self.arena = np.zeros(depth * STRIDE, np.uint8)
        # allocation k: [k * STRIDE, k * STRIDE + len), shorter for the slots in alloc_short
        self.starts = np.arange(depth, dtype=I64) * STRIDE
        self.ends = self.starts + np.array([100 if k in alloc_short else 0x1_0000
                                            for k in range(depth)], I64)
        self.mem = naive.HostMemory(bytearray(self.arena.tobytes()), BUS,
                                    zip(self.starts.tolist(), self.ends.tolist(), strict=True))
        self.head = self.tail = self.cq_tail = start
        self.counts = np.zeros(kdp.RXN_LEN, I64)
        self.ncounts = dict.fromkeys(naive.RX_COUNTERS, 0)
        self.next_id = 0

    def post(self, n, lengths=None):
        n = min(n, self.depth - 1 - ((self.tail - self.head) & 0xFFFF))
        idx = [(self.tail + i) & 0xFFFF for i in range(n)]
        addrs = [BUS + (i % self.depth) * STRIDE for i in idx]
        if lengths is None:
            lengths = [int(self.rng.choice([0, 64, 200, 1000, 2048, 9000])) for _ in range(n)]
        ids = [(self.next_id + i) % self.depth for i in range(n)]
        self.next_id += n
        self.tail = nd.rx_post(self.sq, self.tail, self.depth, addrs, lengths[:n], ids)

    def deliver(self, frames, sel, rx_offset, max_bufs, sub_qid=3):
        buf = np.frombuffer(b"".join(frames) or b"\0", np.uint8).copy()
        lens = np.array([len(f) for f in frames], I64)
        offs = np.zeros(len(frames), I64)
        offs[1:] = np.cumsum(lens)[:-1]
        status = np.array([d.rx_status_word(int(self.rng.choice([0, 8, 11])),
                                            int(self.rng.integers(0, 2)),
                                            int(self.rng.choice([0, 12, 13])),
                                            int(self.rng.integers(0, 2)),
                                            int(self.rng.integers(0, 2)),
                                            int(self.rng.integers(0, 2)),
                                            int(self.rng.integers(0, 2)), 0)
                           for _ in frames], I64)
        hashes = self.rng.integers(0, 1 << 32, len(frames)).astype(I64)
        ids = np.zeros(max_bufs + 2, I64)
        blens = np.zeros(max_bufs + 2, I64)
        sel_a = np.array(sel, I64)
        h, t, err = kdp.rx_deliver(buf, offs, lens, sel_a, status, hashes, self.sq, self.depth,
                                   self.head, self.tail, self.kcq, self.depth, self.cq_tail,
                                   self.arena, BUS, self.starts, self.ends, rx_offset,
                                   max_bufs, sub_qid, ids, blens, self.counts)
        nh, ntl, nerr = naive.rx_deliver(frames, sel, status.tolist(), hashes.tolist(),
                                         self.sq, self.depth, self.head, self.tail, self.ncq,
                                         self.depth, self.cq_tail, self.mem, rx_offset,
                                         max_bufs, sub_qid, self.ncounts)
        assert (int(h), int(t)) == (nh, ntl)
        assert {0: None, d.ERR_MALFORMED: "malformed", kdp.ERR_DMA: "dma"}[int(err)] == nerr
        assert self.kcq.tolist() == self.ncq.tolist()
        assert self.arena.tobytes() == bytes(self.mem.arena)
        assert dict(zip(naive.RX_COUNTERS, self.counts[:6].tolist(), strict=True)) == \
            self.ncounts
        self.head, self.cq_tail = nh, ntl
        return nerr


def _rx_frames(rng, n):
    sizes = [1, 59, 60, 64, 199, 200, 1000, 1500, 2047, 2048, 2049, 3000, 9000, 9001]
    return [rng.integers(0, 256, int(rng.choice(sizes)), dtype=np.uint8).tobytes()
            for _ in range(n)]


@pytest.mark.parametrize("depth,start", [(16, 0), (16, 0xFFF5), (64, 0xFFE1)])
@pytest.mark.parametrize("rx_offset,max_bufs", [(0, 1), (64, 3), (128, 5)])
def test_rx_deliver_matches_naive(depth, start, rx_offset, max_bufs):
    rng = np.random.default_rng(depth + start + rx_offset)
    bed = RxBed(depth, start, rng)
    frames = _rx_frames(rng, 24)
    for _ in range(12):
        bed.post(int(rng.integers(0, depth)))
        sel = rng.integers(0, len(frames), int(rng.integers(0, 10))).tolist()
        assert bed.deliver(frames, sel, rx_offset, max_bufs) is None
    assert bed.ncounts["pkts"] > 0 and bed.ncounts["drops"] > 0


def test_rx_deliver_edges():
    rng = np.random.default_rng(2)
    frames = _rx_frames(rng, 8) + [b"\x5a" * 65536, b"\xa5" * 70]
    bed = RxBed(8, 0xFFFD, rng)
    # empty ring: everything dropped, nothing consumed
    assert bed.deliver(frames, [0, 1, 2], 0, 4) is None
    assert bed.ncounts["drops"] == 3 and bed.head == 0xFFFD
    # full ring (depth - 1 posted) of tiny buffers: overrun, then too many buffers
    bed.post(7, [16] * 7)
    assert bed.deliver(frames, [9], 0, 7) is None  # 70 B in 16 B buffers: 5 buffers
    assert bed.deliver(frames, [9], 0, 1) is None  # needs 5 > 1 buffers
    assert bed.ncounts["too_many_bufs"] >= 1
    # a 0-length descriptor is a 64 KB buffer; an rx_offset larger than the first buffer
    bed.post(8, [0] * 8)
    assert bed.deliver(frames, [8, 9], 64, 2) is None
    bed2 = RxBed(8, 0, rng)
    bed2.post(3, [32, 2048, 2048])
    assert bed2.deliver(frames, [9, 9], 64, 3) is None  # first buffer smaller than offset
    assert bed2.ncounts["pkts"] >= 1


def test_rx_deliver_errors():
    rng = np.random.default_rng(3)
    frames = [bytes(range(200))] * 4
    bed = RxBed(8, 6, rng)
    bed.post(6, [256] * 6)
    # the third posted descriptor (index 8: second pass, phase 0) carries phase 1
    bed.sq[8 % 8] = eth_io.rx_desc_pack(length=256, req_id=1, addr=BUS,
                                        phase=1 - nd.phase_of(8, 8))
    assert bed.deliver(frames, [0, 1, 2, 3], 0, 2) == "malformed"
    assert bed.head == (6 + 2) & 0xFFFF
    # a buffer whose allocation is shorter than the frame: DMA error, queue stops
    bed3 = RxBed(8, 0, rng, alloc_short={1})
    bed3.post(4, [256] * 4)
    assert bed3.deliver(frames, [0, 1, 2], 0, 1) == "dma"
    assert bed3.head == 1 and bed3.ncounts["pkts"] == 1


@pytest.mark.parametrize("allocs,start,want", [
    # slots 0..3 in one pool that ends 150 B into slot 3: the 4th frame runs past its end
    ([(0, 3 * STRIDE + 150), (5 * STRIDE, 8 * STRIDE)], 0, "dma"),
    # slots 0..3 fit; slot 4 lies in the gap after the pool (same search result as slot 3)
    ([(0, 3 * STRIDE + 0x1_0000), (5 * STRIDE, 8 * STRIDE)], 0, "dma"),
    # slots 5, 6, 7 then 0, 1: from one allocation to the other and back
    ([(0, 3 * STRIDE + 0x1_0000), (5 * STRIDE, 8 * STRIDE)], 5, None),
    # slot 0 lies before every allocation
    ([(STRIDE, 8 * STRIDE)], 0, "dma"),
])
def test_rx_deliver_dma_checks_buffers_of_one_pool(allocs, start, want):
    """Buffers carved from one allocation, like the driver's page pool: the allocation found
    for one buffer is reused for the next, and must still catch a buffer past its end, in
    the gap after it or before all allocations, exactly where the naive twin does."""
    rng = np.random.default_rng(5)
    bed = RxBed(8, start, rng)
    bed.starts = np.array([a for a, _ in allocs], I64)
    bed.ends = np.array([e for _, e in allocs], I64)
    bed.mem = naive.HostMemory(bytearray(bed.arena.tobytes()), BUS, allocs)
    bed.post(5, [256] * 5)
    assert bed.deliver([bytes(range(100))] * 5, list(range(5)), 64, 2) == want

