"""numba_kernels.driver_dp bursts against their naive twins (tests/naive/naive_driver_dp.py):
ring words, indices, req_id free rings, counters and packed outputs on random and edge inputs
(u16 and depth wrap, full and empty rings, LLQ vs host, out-of-order and bad completions,
multi-buffer Rx, copybreak boundaries, checksum verdicts, malformed completions)."""

from __future__ import annotations

import numpy as np
import pytest
from naive import naive_datapath as nd
from naive import naive_driver_dp as naive

from numba_kernels import driver_dp as DK
from numba_kernels import rings as R

pytestmark = pytest.mark.nojit

SLOT = 512
BUF_ADDR = 0x10_0000
PAGE = 1024
HEADROOM = 64
RX_BUF_ADDR = 0x40_0000


class KTx:
    """The kernel-side Tx ring: the arrays eth_tx.TxRing passes."""

    def __init__(self, depth: int, start: int, line: int = 128):
        self.depth = depth
        self.state = np.zeros(DK.TS_LEN, np.int64)
        for k in (DK.TS_NTU, DK.TS_NTC, DK.TS_TAIL, DK.TS_NTCOMP, DK.TS_CQ_HEAD):
            self.state[k] = start
        self.free_ids = np.zeros(depth, np.int64)
        self.in_use = np.zeros(depth, np.uint8)
        R.reqid_init(self.free_ids, self.in_use)
        self.entries = np.zeros(depth, np.int64)
        self.nbytes = np.zeros(depth, np.int64)
        self.sent_at = np.zeros(depth, np.float64)
        self.timed_out = np.zeros(depth, np.uint8)
        self.counters = np.zeros(DK.TXK_LEN, np.int64)
        self.sq = np.zeros((depth, 4), np.uint32)
        self.bounce = np.zeros(depth * line, np.uint8)
        self.slots = np.zeros(depth * SLOT, np.uint8)
        self.done = np.zeros(depth, np.int64)

    def snapshot(self) -> dict:
        s = self.state
        return dict(ntu=int(s[DK.TS_NTU]), ntc=int(s[DK.TS_NTC]), tail=int(s[DK.TS_TAIL]),
                    ntcomp=int(s[DK.TS_NTCOMP]), cq_head=int(s[DK.TS_CQ_HEAD]),
                    esd=int(s[DK.TS_ESD]), pending=int(s[DK.TS_PENDING]),
                    free_ids=self.free_ids.tolist(), in_use=self.in_use.tolist(),
                    counters={k: int(self.counters[getattr(DK, "TXK_" + k.upper())])
                              for k in naive.TX_COUNTERS},
                    entries=self.entries.tolist(), nbytes=self.nbytes.tolist(),
                    sent_at=self.sent_at.tolist(), timed_out=self.timed_out.tolist())


class NTx:
    """The naive side of the same ring."""

    def __init__(self, depth: int, start: int, line: int = 128):
        self.r = naive.Ring(depth, start)
        self.sq = [[0, 0, 0, 0] for _ in range(depth)]
        self.bounce = bytearray(depth * line)
        self.slots = bytearray(depth * SLOT)


def _pack(frames):
    lens = np.array([len(f) for f in frames], np.int64)
    offs = np.zeros(len(frames), np.int64)
    if len(frames) > 1:
        offs[1:] = np.cumsum(lens)[:-1]
    buf = np.frombuffer(b"".join(frames) or b"\0", np.uint8).copy()
    return buf, offs, lens


def _xmit_both(k: KTx, n: NTx, frames, *, llq, line=128, nbh=2, push_max=96, burst_limit=0,
               meta_every=False, now=1.5, max_header=96):
    k.bounce[:] = 0  # unused line bytes are not written by the kernel: compare fresh lines
    n.bounce[:] = bytes(len(n.bounce))
    buf, offs, lens = _pack(frames)
    db = np.zeros(len(frames) + 2, np.int64)
    got = DK.tx_xmit_burst(buf, offs, lens, len(frames), k.slots, SLOT, BUF_ADDR, k.free_ids,
                           k.in_use, k.depth, k.state, llq, k.sq, max_header, k.bounce, line,
                           nbh, push_max, burst_limit, meta_every, k.entries, k.nbytes,
                           k.sent_at, k.timed_out, now, db, k.counters)
    consumed, dbs = naive.tx_xmit_burst(n.r, frames, n.slots, SLOT, BUF_ADDR, llq=llq, sq=n.sq,
                                        max_header_size=max_header, bounce=n.bounce, line=line,
                                        nbh=nbh, push_max=push_max, burst_limit=burst_limit,
                                        meta_every=meta_every, now=now)
    assert int(got[0]) == consumed
    assert db[:int(got[1])].tolist() == dbs
    assert k.snapshot() == naive.snapshot(n.r)
    if llq:
        assert k.bounce.tobytes() == bytes(n.bounce)
    else:
        assert k.sq.tolist() == n.sq
    used = [rid for rid in range(k.depth) if k.in_use[rid]]
    for rid in used:
        ln = int(k.nbytes[rid])
        assert k.slots[rid * SLOT:rid * SLOT + ln].tobytes() == bytes(
            n.slots[rid * SLOT:rid * SLOT + ln])
    return consumed, dbs


def _clean_both(k: KTx, n: NTx, cq, budget, check_mbz=False):
    got = int(DK.tx_clean_burst(cq, k.depth, budget, k.done, check_mbz, k.free_ids, k.in_use,
                                k.entries, k.sent_at, k.state, k.counters))
    want = naive.tx_clean_burst(n.r, cq, budget, check_mbz)
    assert got == want
    assert k.snapshot() == naive.snapshot(n.r)
    return got


def _stale_cq(depth, start, words):
    """A CQ as the previous pass left it: every entry has the phase the driver does not
    expect next (a zeroed CQ would look complete when ``start`` falls on a phase-0 pass)."""
    cq = np.zeros((depth, words), np.uint32)
    for i in range(depth):
        idx = (start + i) & 0xFFFF
        cq[idx % depth, 0] = (1 - nd.phase_of(idx, depth)) << 24
    return cq


class Device:
    """Writes Tx completions the way the device would (naive CQ producer)."""

    def __init__(self, depth: int, start: int):
        self.cq = _stale_cq(depth, start, 2)
        self.tail = start
        self.depth = depth

    def complete(self, req_ids):
        req_ids = list(req_ids)
        self.tail = nd.cq_write_tx(self.cq, self.tail, self.depth, list(req_ids),
                                   [0] * len(req_ids), 0)


def _frames(rng, count, lo=1, hi=SLOT):
    return [rng.integers(0, 256, int(rng.integers(lo, hi + 1)), dtype=np.uint8).tobytes()
            for _ in range(count)]


# ---- Tx -----------------------------------------------------------------------------------
@pytest.mark.parametrize("llq", [False, True])
@pytest.mark.parametrize("start", [0, 0xFFF0, 0xFFFF - 5])
def test_tx_random_bursts_with_out_of_order_completions(llq, start):
    rng = np.random.default_rng(start + llq)
    depth = 16
    k, n, dev = KTx(depth, start), NTx(depth, start), Device(depth, start)
    for step in range(40):
        frames = _frames(rng, int(rng.integers(0, 12)))
        if step % 7 == 3:
            frames.insert(1 if frames else 0, b"")  # zero length: prepare_ctx_err
        if step % 9 == 4:
            frames.append(b"x" * (SLOT + 1))  # too long for a slot
        _xmit_both(k, n, frames, llq=llq, meta_every=bool(step % 3 == 0),
                   burst_limit=int(rng.choice([0, 2, 3, 5])) if llq else 0,
                   push_max=int(rng.choice([0, 32, 96])))
        # the device completes some outstanding packets in a random order
        out = [r for r in range(depth) if k.in_use[r]]
        done = list(rng.permutation(out)[:int(rng.integers(0, len(out) + 1))])
        dev.complete(done)
        while True:
            got = _clean_both(k, n, dev.cq, int(rng.integers(1, 6)))
            assert got >= 0
            if got == 0:
                break
    assert k.counters[DK.TXK_CNT] > 50
    assert k.counters[DK.TXK_QUEUE_STOP] > 0  # the ring ran full on the way


@pytest.mark.parametrize("llq", [False, True])
def test_tx_full_ring_then_drain_across_the_u16_wrap(llq):
    depth = 8
    start = 0xFFFC
    k, n, dev = KTx(depth, start), NTx(depth, start), Device(depth, start)
    frames = [bytes([i]) * (60 + i) for i in range(20)]
    consumed, dbs = _xmit_both(k, n, frames, llq=llq)
    assert 0 < consumed < 20 and k.counters[DK.TXK_QUEUE_STOP] == 1
    assert _clean_both(k, n, dev.cq, 8) == 0  # empty CQ
    dev.complete(reversed([r for r in range(depth) if k.in_use[r]]))
    assert _clean_both(k, n, dev.cq, 64) == consumed
    assert not k.in_use.any()
    _xmit_both(k, n, frames[:3], llq=llq)
    assert k.state[DK.TS_NTU] < 0x10  # wrapped


def test_tx_llq_forced_doorbells_at_the_burst_limit():
    depth = 64
    k, n = KTx(depth, 0), NTx(depth, 0)
    frames = [b"a" * 300] * 10  # each: meta + desc in line 1 (nbh 2): 1 line, 2 with meta
    _c, dbs = _xmit_both(k, n, frames, llq=True, burst_limit=3, meta_every=True, nbh=1)
    assert len(dbs) > 1 and all(b - a <= 3 for a, b in zip([0] + dbs, dbs, strict=False))


@pytest.mark.parametrize("line", [64, 128, 256])
@pytest.mark.parametrize("nbh", [0, 1, 2])
@pytest.mark.parametrize("meta_every", [False, True])
def test_tx_llq_line_layouts(line, nbh, meta_every):
    """Descriptors before the header, in continuation lines, or both; from near the u16
    wrap so the phase flips mid-burst (the kernel builds every layout inline)."""
    depth = 16
    start = 0xFFF8
    k, n, dev = KTx(depth, start, line), NTx(depth, start, line), Device(depth, start)
    rng = np.random.default_rng(line + nbh + meta_every)
    push_max = min(96, line - 16 * nbh)
    for _ in range(4):
        _xmit_both(k, n, _frames(rng, 6, 1, 300), llq=True, line=line, nbh=nbh,
                   push_max=push_max, meta_every=meta_every, burst_limit=3)
        dev.complete([r for r in range(depth) if k.in_use[r]])
        _clean_both(k, n, dev.cq, 64)
    assert k.counters[DK.TXK_CNT] > 12


@pytest.mark.parametrize("llq", [False, True])
def test_tx_header_only_and_header_lengths(llq):
    depth = 16
    k, n = KTx(depth, 0), NTx(depth, 0)
    frames = [b"h" * ln for ln in (1, 50, 95, 96, 97, 255, 256, 300, SLOT)]
    _xmit_both(k, n, frames, llq=llq, push_max=96, max_header=96)
    _xmit_both(k, n, [b"z" * 400], llq=llq, push_max=0, max_header=400)


def test_tx_corrupt_free_ring_and_bad_completions():
    depth = 8
    k, n, dev = KTx(depth, 0), NTx(depth, 0), Device(depth, 0)
    _xmit_both(k, n, [b"p" * 70] * 3, llq=False)
    # a completion for an id that is not outstanding / out of range / duplicated: nothing
    # consumed, bad_req_id counted
    for bad in ([5], [depth + 1], [1, 1]):
        d2 = Device(depth, 0)
        d2.complete(bad)
        assert _clean_both(k, n, d2.cq, 8) == DK.ERR_BAD_REQ_ID
    # MBZ flags with the CDESC_MBZ capability
    d3 = Device(depth, 0)
    d3.complete([0])
    d3.cq[0, 0] |= 0x40 << 24
    assert _clean_both(k, n, d3.cq, 8, check_mbz=True) == DK.ERR_MALFORMED
    assert _clean_both(k, n, d3.cq, 8, check_mbz=False) == 1
    # the free ring hands out an id already in use
    k.free_ids[3] = 1
    n.r.free_ids[3] = 1
    _xmit_both(k, n, [b"q" * 70] * 3, llq=False)
    assert k.counters[DK.TXK_BAD_REQ_ID] == 4
    _ = dev


# ---- Rx -----------------------------------------------------------------------------------
class KRx:
    def __init__(self, depth: int, start: int, store_pkts=64, store_bytes=1 << 16,
                 max_sgl=4):
        self.depth = depth
        self.state = np.zeros(DK.RS_LEN, np.int64)
        for i in range(DK.RS_LEN):
            self.state[i] = start
        self.free_ids = np.zeros(depth, np.int64)
        self.in_use = np.zeros(depth, np.uint8)
        R.reqid_init(self.free_ids, self.in_use)
        self.counters = np.zeros(DK.RXK_LEN, np.int64)
        self.sq = np.zeros((depth, 4), np.uint32)
        self.take = np.zeros(depth, np.int64)
        cap = depth * max_sgl
        self.flat = [np.zeros(cap, np.int64), np.zeros(cap, np.int64)] + [
            np.zeros(depth, np.int64) for _ in range(4)]
        self.store = [np.zeros(store_bytes, np.uint8)] + [
            np.zeros(store_pkts, t) for t in (np.int64, np.int64, np.int64, np.int64, np.int8,
                                              np.int64, np.uint8)]
        self.fill = np.zeros(2, np.int64)

    def snapshot(self) -> dict:
        s = self.state
        return dict(ntu=int(s[DK.RS_NTU]), ntc=int(s[DK.RS_NTC]), tail=int(s[DK.RS_TAIL]),
                    ntcomp=int(s[DK.RS_NTCOMP]), cq_head=int(s[DK.RS_CQ_HEAD]),
                    free_ids=self.free_ids.tolist(), in_use=self.in_use.tolist(),
                    counters={k: int(self.counters[getattr(DK, "RXK_" + k.upper())])
                              for k in naive.RX_COUNTERS})

    def store_records(self):
        sb, so, sl, sh, ss, sc, snd, sf = self.store
        n = int(self.fill[DK.ST_N])
        return [dict(off=int(so[i]), len=int(sl[i]), hash=int(sh[i]), status=int(ss[i]),
                     csum=int(sc[i]), nd=int(snd[i]), flags=int(sf[i])) for i in range(n)]


def _check_rx(k: KRx, nr: naive.Ring, store: naive.Store, nsq):
    assert k.snapshot() == naive.snapshot(nr, tx=False)
    assert k.sq.tolist() == [[int(x) for x in w] for w in nsq]
    assert k.store_records() == store.pkts
    pos = int(k.fill[DK.ST_POS])
    assert pos == len(store.buf) and k.store[0][:pos].tobytes() == bytes(store.buf)


def _refill_both(k: KRx, nr, nsq, count):
    got = int(DK.rx_refill(k.sq, k.depth, k.state, k.free_ids, k.in_use, k.take, RX_BUF_ADDR,
                           PAGE, HEADROOM, PAGE - HEADROOM, count, k.counters))
    want = naive.rx_refill(nr, nsq, RX_BUF_ADDR, PAGE, HEADROOM, PAGE - HEADROOM, count)
    assert got == want
    return got


def _clean_rx_both(k: KRx, nr, store, cq, pages, budget, max_sgl, copybreak, era2016):
    got = DK.rx_clean_burst(cq, k.depth, budget, max_sgl, *k.flat, k.free_ids, k.in_use,
                            k.state, pages, PAGE, HEADROOM, copybreak, era2016, *k.store,
                            k.fill, k.counters)
    want = naive.rx_clean_burst(nr, cq, budget, max_sgl, k.flat[0].shape[0], pages.tobytes(),
                                PAGE, HEADROOM, copybreak, era2016, store)
    assert tuple(int(x) for x in got) == want
    return want


def _status(rng):
    """Random Rx cdesc parse bits, biased to the cases the verdict distinguishes."""
    l3 = int(rng.choice([0, 8, 8, 11]))
    l4 = int(rng.choice([0, 12, 13, 13, 1]))
    bits = dict(l3_proto_idx=l3, l4_proto_idx=l4, l3_csum_err=int(rng.random() < 0.15),
                l4_csum_err=int(rng.random() < 0.15), ipv4_frag=int(rng.random() < 0.1),
                l4_csum_checked=int(rng.random() < 0.7))
    return bits


class RxDevice:
    """Delivers packets into posted buffers (reading the driver's Rx SQ) with completions."""

    def __init__(self, depth: int, start: int):
        self.cq = _stale_cq(depth, start, 4)
        self.tail = start
        self.head = start
        self.depth = depth

    def deliver(self, sq, sq_tail, pages, sizes, rng, offsets=None):
        got, _ = nd.rx_sq_fetch(sq, self.head, sq_tail, self.depth, 10**6)
        delivered = 0
        for i, size in enumerate(sizes):
            off = 0 if offsets is None else offsets[i]
            room = PAGE - HEADROOM
            nbuf = max(1, -(-(size + off) // room))
            if nbuf > len(got):
                break
            bufs = []
            rest = size
            for j in range(nbuf):
                _a, _ln, rid = got.pop(0)
                ln = min(rest, room - (off if j == 0 else 0))
                s = rid * PAGE + HEADROOM + (off if j == 0 else 0)
                pages[s:s + ln] = rng.integers(0, 256, ln, dtype=np.uint8)
                bufs.append((rid, ln))
                rest -= ln
            self.head = (self.head + nbuf) & 0xFFFF
            self.tail = nd.cq_write_rx(self.cq, self.tail, self.depth, bufs, _status(rng),
                                       int(rng.integers(0, 1 << 32)), 0, off)
            delivered += 1
        return delivered


@pytest.mark.parametrize("era2016", [False, True])
@pytest.mark.parametrize("start", [0, 0xFFF3])
def test_rx_random_refill_clean(era2016, start):
    rng = np.random.default_rng(7 + era2016 + start)
    depth, max_sgl = 32, 4
    k = KRx(depth, start, max_sgl=max_sgl)
    nr = naive.Ring(depth, start, naive.RX_COUNTERS)
    nsq = [[0, 0, 0, 0] for _ in range(depth)]
    store = naive.Store(64, 1 << 16)
    pages = np.zeros(depth * PAGE, np.uint8)
    dev = RxDevice(depth, start)
    _refill_both(k, nr, nsq, depth - 1)
    _check_rx(k, nr, store, nsq)
    room = PAGE - HEADROOM
    for _step in range(30):
        sizes = [int(rng.choice([60, 255, 256, 257, 128, 129, room, room + 1, 2 * room + 5,
                                 int(rng.integers(1, 3 * room))])) for _ in range(4)]
        offs = [int(rng.integers(0, 3)) * 2 for _ in sizes]
        dev.deliver(k.sq, int(k.state[DK.RS_TAIL]), pages, sizes, rng, offs)
        _clean_rx_both(k, nr, store, dev.cq, pages, int(rng.integers(1, 6)), max_sgl,
                       int(rng.choice([128, 256])), era2016)
        _check_rx(k, nr, store, nsq)
        free = depth - 1 - ((int(k.state[DK.RS_TAIL]) - int(k.state[DK.RS_NTCOMP])) & 0xFFFF)
        _refill_both(k, nr, nsq, free)
        _check_rx(k, nr, store, nsq)
        if int(k.fill[DK.ST_N]) > 40:  # the caller hands the skbs up and empties the store
            k.fill[:] = 0
            store.buf.clear()
            store.pkts.clear()
    assert k.counters[DK.RXK_CNT] > 30
    assert k.counters[DK.RXK_CSUM_GOOD] and k.counters[DK.RXK_CSUM_BAD]
    assert k.counters[DK.RXK_COPYBREAK]


@pytest.mark.parametrize("size", [255, 256, 257])
@pytest.mark.parametrize("era2016", [False, True])
def test_rx_copybreak_boundaries(size, era2016):
    rng = np.random.default_rng(size)
    depth = 8
    k = KRx(depth, 0)
    nr = naive.Ring(depth, 0, naive.RX_COUNTERS)
    nsq = [[0, 0, 0, 0] for _ in range(depth)]
    store = naive.Store(64, 1 << 16)
    pages = np.zeros(depth * PAGE, np.uint8)
    dev = RxDevice(depth, 0)
    _refill_both(k, nr, nsq, depth - 1)
    dev.deliver(k.sq, int(k.state[DK.RS_TAIL]), pages, [size], rng)
    npk, mbytes, err = _clean_rx_both(k, nr, store, dev.cq, pages, 64, 4, 256, era2016)
    _check_rx(k, nr, store, nsq)
    assert (npk, err) == (1, 0) and mbytes == size
    assert store.pkts[0]["flags"] == int(size <= 256)


def test_rx_checksum_verdicts_every_combination():
    """Every combination of the bits the verdict reads, one packet each."""
    combos = [dict(l3_proto_idx=l3, l4_proto_idx=l4, l3_csum_err=e3, l4_csum_err=e4,
                   ipv4_frag=fr, l4_csum_checked=ck)
              for l3 in (0, 8, 11) for l4 in (0, 1, 12, 13) for e3 in (0, 1) for e4 in (0, 1)
              for fr in (0, 1) for ck in (0, 1)]
    depth = 256
    k = KRx(depth, 0, store_pkts=len(combos))
    nr = naive.Ring(depth, 0, naive.RX_COUNTERS)
    nsq = [[0, 0, 0, 0] for _ in range(depth)]
    store = naive.Store(len(combos), 1 << 16)
    pages = np.zeros(depth * PAGE, np.uint8)
    _refill_both(k, nr, nsq, len(combos))
    cq = np.zeros((depth, 4), np.uint32)
    t = 0
    for i, bits in enumerate(combos):
        t = nd.cq_write_rx(cq, t, depth, [(i, 60)], bits, i, 0, 0)
        code, unchecked = DK.csum_verdict_code(int(cq[i, 0]))
        verdict, nun = naive.csum_verdict(int(cq[i, 0]))
        assert (int(code), bool(unchecked)) == (naive.CSUM_CODE[verdict], nun)
    _clean_rx_both(k, nr, store, cq, pages, len(combos), 4, 256, False)
    _check_rx(k, nr, store, nsq)


def _bad_cq(kind, depth):
    cq = np.zeros((depth, 4), np.uint32)
    if kind == "bad_req_id":
        nd.cq_write_rx(cq, 0, depth, [(0, 60)], {}, 0, 0, 0)
        nd.cq_write_rx(cq, 1, depth, [(depth + 3, 60)], {}, 0, 0, 0)
    elif kind == "not_outstanding":
        nd.cq_write_rx(cq, 0, depth, [(depth - 1, 60)], {}, 0, 0, 0)
    elif kind == "too_many":
        nd.cq_write_rx(cq, 0, depth, [(i, 100) for i in range(6)], {}, 0, 0, 0)
    elif kind == "first_mid_packet":
        nd.cq_write_rx(cq, 0, depth, [(0, 100), (1, 100)], {}, 0, 0, 0)
        cq[1, 0] |= 1 << 26
    elif kind == "mbz":
        nd.cq_write_rx(cq, 0, depth, [(0, 60)], {}, 0, 0, 0)
        cq[0, 0] |= 1 << 17
    elif kind == "store_full":
        for i in range(5):
            nd.cq_write_rx(cq, i, depth, [(i, 60)], {}, 0, 0, 0)
    elif kind == "partial":  # last cdesc of the packet has not arrived: nothing consumed
        nd.cq_write_rx(cq, 0, depth, [(0, 100), (1, 100)], {}, 0, 0, 0)
        cq[1, 0] = 0
    return cq


@pytest.mark.parametrize("kind", ["bad_req_id", "not_outstanding", "too_many",
                                  "first_mid_packet", "mbz", "store_full", "partial"])
def test_rx_bad_completions(kind):
    depth = 16
    k = KRx(depth, 0, store_pkts=4)
    nr = naive.Ring(depth, 0, naive.RX_COUNTERS)
    nsq = [[0, 0, 0, 0] for _ in range(depth)]
    store = naive.Store(4, 1 << 16)
    pages = np.arange(depth * PAGE, dtype=np.int64).astype(np.uint8)
    _refill_both(k, nr, nsq, 8)
    got = _clean_rx_both(k, nr, store, _bad_cq(kind, depth), pages, 64, 4, 256, False)
    _check_rx(k, nr, store, nsq)
    want_err = dict(bad_req_id=DK.ERR_BAD_REQ_ID, not_outstanding=DK.ERR_BAD_REQ_ID,
                    too_many=DK.ERR_TOO_MANY_DESCS, first_mid_packet=DK.ERR_MALFORMED,
                    mbz=DK.ERR_MALFORMED, store_full=DK.ERR_STORE_FULL, partial=0)[kind]
    assert got[2] == want_err


def test_rx_refill_corrupt_free_ring_and_full_ring():
    depth = 8
    k = KRx(depth, 0xFFFE)
    nr = naive.Ring(depth, 0xFFFE, naive.RX_COUNTERS)
    nsq = [[0, 0, 0, 0] for _ in range(depth)]
    assert _refill_both(k, nr, nsq, 0) == 0
    assert _refill_both(k, nr, nsq, depth - 1) == depth - 1
    k.free_ids[(0xFFFE + depth - 1) % depth] = 2
    nr.free_ids[(0xFFFE + depth - 1) % depth] = 2
    assert _refill_both(k, nr, nsq, 1) == 0  # id 2 is outstanding: refil_partial
    store = naive.Store(64, 1 << 16)
    _check_rx(k, nr, store, nsq)


# ---- NAPI ---------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_napi_poll_rounds_against_the_twin(seed):
    rng = np.random.default_rng(seed)
    depth, max_sgl = 32, 4
    start = 0xFFF8 if seed == 2 else 0
    kt, nt, tdev = KTx(depth, start), NTx(depth, start), Device(depth, start)
    kr = KRx(depth, start, store_pkts=48, store_bytes=48 * PAGE)
    nr = naive.Ring(depth, start, naive.RX_COUNTERS)
    nsq = [[0, 0, 0, 0] for _ in range(depth)]
    store = naive.Store(48, 48 * PAGE)
    pages = np.zeros(depth * PAGE, np.uint8)
    rdev = RxDevice(depth, start)
    _refill_both(kr, nr, nsq, depth - 1)
    resume = -1
    for _step in range(25):
        _xmit_both(kt, nt, _frames(rng, int(rng.integers(0, 6)), 60, 400), llq=False)
        out = [r for r in range(depth) if kt.in_use[r]]
        tdev.complete(rng.permutation(out)[:int(rng.integers(0, len(out) + 1))].tolist())
        rdev.deliver(kr.sq, int(kr.state[DK.RS_TAIL]), pages,
                     [int(rng.integers(40, 2500)) for _ in range(int(rng.integers(0, 8)))], rng)
        max_rounds, tb, rb = int(rng.integers(1, 4)), int(rng.integers(1, 8)), int(
            rng.integers(1, 8))
        thr = int(rng.integers(0, 8))
        rp = np.full(max_rounds, -7, np.int64)
        rby = np.full(max_rounds, -7, np.int64)
        rx_db = np.zeros(max_rounds + 1, np.int64)
        got = DK.napi_poll(max_rounds, tb, rb, tdev.cq, depth, kt.done, False, kt.free_ids,
                           kt.in_use, kt.entries, kt.sent_at, kt.state, kt.counters, rdev.cq,
                           kr.sq, depth, max_sgl, *kr.flat, kr.free_ids, kr.in_use, kr.take,
                           kr.state, pages, RX_BUF_ADDR, PAGE, HEADROOM, PAGE - HEADROOM,
                           thr, 256, False, *kr.store,
                           kr.fill, kr.counters, rp, rby, rx_db, resume)
        want = naive.napi_poll(nt.r, tdev.cq, False, nr, rdev.cq, nsq, max_sgl,
                               kr.flat[0].shape[0], pages.tobytes(), RX_BUF_ADDR, PAGE,
                               HEADROOM, PAGE - HEADROOM, thr, 256, False, store,
                               max_rounds=max_rounds, tx_budget=tb, rx_budget=rb,
                               resume_tx_work=resume)
        rounds, completed, kind, err, ndb = (int(x) for x in got)
        assert (rounds, bool(completed), kind, err) == want[:4]
        assert rx_db[:ndb].tolist() == want[4]
        assert {r: int(rp[r]) for r in want[5]} == want[5]
        assert {r: int(rby[r]) for r in want[6]} == want[6]
        assert kt.snapshot() == naive.snapshot(nt.r)
        _check_rx(kr, nr, store, nsq)
        resume = -1
        if err == DK.ERR_STORE_FULL:  # grow = hand the skbs up; resume that round's Tx work
            resume = int(rp[rounds])
            kr.fill[:] = 0
            store.buf.clear()
            store.pkts.clear()
        elif int(kr.fill[DK.ST_N]) > 24:
            kr.fill[:] = 0
            store.buf.clear()
            store.pkts.clear()
