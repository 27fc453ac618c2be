"""numba_kernels.device_dp.tx_build_frames against its naive twin (tests/naive/naive_device_dp.py):
random bursts in host placement (data descriptors in a ring, free-running u16 indices and a
mask) and LLQ (pushed headers), multi-buffer and zero-length buffers, LLQ header drops, TSO on
and off with several MSS values and the ECN rule, IPv4 header / full / partial L4 checksums,
packets TSO cannot cut, padding to 60 bytes, packets too big for the work buffer, buffers
outside the DMA allocations and a small output buffer resumed after ERR_OUT_FULL. Every call
compares the return value, the output bytes, frame offsets/lengths, pkt_status and counts."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import pytest
from naive import naive_datapath as nd
from naive import naive_device_dp as naive

from enatool.ena import eth_io
from numba_kernels import descriptors as d
from numba_kernels import device_dp as kdp
from numba_kernels.packet import PK_NFIELDS

pytestmark = pytest.mark.nojit

I64 = np.int64
U8 = np.uint8
BUS = 0x3_0000_0000
#: live DMA allocations (arena offsets): a small one, a gap, two large ones, nothing at the end
ALLOCS = ((0x0000, 0x0400), (0x1000, 0x1F000), (0x20000, 0x3E000))
ARENA = 0x40000
LINE, N_BEFORE = 128, 2  # LLQ line size and descriptors before the pushed header
ROOM = LINE - 16 * N_BEFORE  # longest pushed header
LLQ_MASK = 0x7FFFFFFF  # LLQ descriptors are a flat array of rows: no ring wrap
ERRS = {0: None, kdp.ERR_OUT_FULL: "out_full", kdp.ERR_DMA: "dma"}
CWR, ECE, PSH, FIN = 0x80, 0x40, 0x08, 0x01


class Burst:
    """One fetched Tx burst: descriptors, host memory and packet list, given to the kernel as
    its arrays and to the naive twin as dicts."""

    def __init__(self, rng, llq: bool, depth: int = 256, start: int = 0):
        self.rng, self.llq, self.depth = rng, llq, depth
        # stale descriptors everywhere: a packet read from the wrong slot shows
        self.descs = rng.integers(0, 1 << 32, (1024 if llq else depth, 4)).astype(np.uint32)
        self.mask = LLQ_MASK if llq else depth - 1
        self.tail = 0 if llq else start
        self.arena = rng.integers(0, 256, ARENA, dtype=U8)
        self.alloc, self.cursor = 1, ALLOCS[1][0]
        self.pkts: list[dict] = []

    def place(self, chunk: bytes) -> int:
        """Bus address of a copy of ``chunk`` inside a live allocation (bump allocator)."""
        n = len(chunk)
        for _ in range(2 * len(ALLOCS)):
            s, e = ALLOCS[self.alloc]
            if self.cursor + n <= e:
                off = self.cursor
                self.cursor += n + int(self.rng.integers(0, 64))
                self.arena[off:off + n] = np.frombuffer(chunk, U8)
                return BUS + off
            self.alloc = (self.alloc + 1) % len(ALLOCS)
            self.cursor = ALLOCS[self.alloc][0]
        raise AssertionError("test arena too small")

    def header_drop(self) -> None:
        """LLQ packet whose pushed header was too long: no data, status < 0."""
        self.pkts.append(dict(first=self.tail, ndata=0, meta=(0, 0), header=b"",
                              status=d.ERR_HEADER_TOO_LONG))

    def add(self, frame: bytes, *, tso=0, l3=0, l4=0, partial=0, mss=0, nbufs=1, zeros=0,
            hl=None, bufs=None) -> None:
        """One packet carrying ``frame``: the first ``hl`` bytes pushed as LLQ header, the
        rest cut into ``nbufs`` buffers with ``zeros`` zero-length buffers among them (or
        the given ``bufs`` [(bus address, length)])."""
        rng = self.rng
        if not self.llq:
            hl = 0
        elif hl is None:
            hl = int(rng.integers(0, min(ROOM, len(frame)) + 1))
        header, rest = frame[:hl], frame[hl:]
        if bufs is None:
            cuts = sorted(rng.integers(0, len(rest) + 1, max(nbufs - 1, 0)).tolist())
            parts = [rest[a:b] for a, b in zip([0, *cuts], [*cuts, len(rest)], strict=True)]
            bufs = [(self.place(p), len(p)) for p in parts if p]
            for _ in range(zeros):
                bufs.insert(int(rng.integers(0, len(bufs) + 1)), (self.place(b"\0"), 0))
            if not bufs:
                bufs = [(self.place(b"\0"), 0)]
        w = eth_io.tx_meta_desc_pack(phase=int(rng.integers(0, 2)), mss=mss,
                                     meta_store=int(rng.integers(0, 2)), l3_hdr_len=20,
                                     l3_hdr_off=14, l4_hdr_len_in_words=5)
        offload = dict(tso_en=int(tso), l3_csum_en=int(l3), l4_csum_en=int(l4),
                       l4_csum_partial=int(partial), df=int(rng.integers(0, 2)),
                       l3_proto_idx=int(rng.integers(0, 16)))
        words, nt = nd.tx_packet_descs(lambda i: nd.phase_of(i, self.depth), self.tail,
                                       int(rng.integers(0, 1 << 16)), int(rng.integers(0, 2)),
                                       offload, hl, bufs, None)
        for idx, ws in words:
            self.descs[idx & self.mask] = ws
        self.pkts.append(dict(first=self.tail, ndata=len(bufs), meta=(int(w[0]), int(w[2])),
                              header=header, status=0))
        self.tail = nt
        if not self.llq:
            used = sum(p["ndata"] for p in self.pkts)
            assert used <= self.depth, "burst larger than the ring"

    def kernel_arrays(self):
        n = len(self.pkts)
        headers = np.zeros((max(n, 1), LINE), U8)
        for p, pk in enumerate(self.pkts):
            headers[p, :len(pk["header"])] = np.frombuffer(pk["header"], U8)
        col = [np.array([pk[k] for pk in self.pkts], I64).reshape(n)
               for k in ("first", "ndata", "status")]
        meta = np.array([pk["meta"] for pk in self.pkts], I64).reshape(n, 2)
        hdr_len = np.array([len(pk["header"]) for pk in self.pkts], I64).reshape(n)
        return col[0], col[1], meta, headers, hdr_len, col[2]


@dataclass
class Built:
    steps: list  # (next packet, error) of each call
    frames: list  # wire frames (bytes)
    layout: list  # (offset, length) of each frame in the output
    pkt_status: list
    counts: list


def build_both(b: Burst, *, work_cap=9000, max_segs=64, seg_cap=16384, out_cap=1 << 18,
               max_frames=1024, grow=True) -> Built:
    """Run kernel and twin call by call; after ERR_OUT_FULL both outputs are doubled (as
    the device does) and the build resumes from the returned packet."""
    n = len(b.pkts)
    fi, ndata, meta, headers, hdr_len, status = b.kernel_arrays()
    starts = np.array([s for s, _ in ALLOCS], I64)
    ends = np.array([e for _, e in ALLOCS], I64)
    mem = naive.HostMemory(bytearray(b.arena.tobytes()), BUS, ALLOCS)
    work = np.zeros(work_cap, U8)
    seg_buf, seg_off, seg_len = np.zeros(seg_cap, U8), np.zeros(max_segs, I64), np.zeros(
        max_segs, I64)
    rec = np.zeros(PK_NFIELDS, I64)
    kout, koff, klen = np.zeros(out_cap, U8), np.zeros(max_frames, I64), np.zeros(
        max_frames, I64)
    kps, kcounts = np.full(n, -1, I64), np.zeros(kdp.TXS_N, I64)
    nout, nframes, nps, ncounts = bytearray(), [], [-1] * n, [0] * kdp.TXS_N
    start = pos = nk = 0
    steps = []
    while True:
        nxt, pos, nk, err = kdp.tx_build_frames(
            b.descs, b.mask, fi, ndata, meta, headers, hdr_len, b.llq, status, start, n,
            b.arena, BUS, starts, ends, work, seg_buf, seg_off, seg_len, rec, kout, pos, koff,
            klen, nk, kps, kcounts)
        want = naive.tx_build_frames(b.descs, b.mask, b.pkts, b.llq, start, mem, work_cap,
                                     max_segs, seg_cap, nout, kout.shape[0], nframes,
                                     koff.shape[0], nps, ncounts)
        got = (int(nxt), ERRS[int(err)])
        assert got == want, (start, got, want)
        assert (int(pos), int(nk)) == (len(nout), len(nframes))
        assert kout[:pos].tobytes() == bytes(nout)
        assert list(zip(koff[:nk].tolist(), klen[:nk].tolist(), strict=True)) == nframes
        assert kps[:want[0]].tolist() == nps[:want[0]]  # a packet not finished is unspecified
        assert kcounts.tolist() == ncounts
        steps.append(want)
        if want[1] != "out_full" or not grow:
            break
        kout = np.concatenate([kout, np.zeros(max(kout.shape[0], 1), U8)])
        koff = np.concatenate([koff, np.zeros(max(koff.shape[0], 1), I64)])
        klen = np.concatenate([klen, np.zeros(max(klen.shape[0], 1), I64)])
        start = want[0]
    return Built(steps, [bytes(nout[o:o + ln]) for o, ln in nframes], nframes, nps, ncounts)


def test_twin_constants():
    assert (naive.TXS_OK, naive.TXS_DROP_HEADER, naive.TXS_DROP_TOO_BIG,
            naive.TXS_OFFLOAD_ERR) == (kdp.TXS_OK, kdp.TXS_DROP_HEADER, kdp.TXS_DROP_TOO_BIG,
                                       kdp.TXS_OFFLOAD_ERR)
    assert naive.MIN_FRAME == kdp.MIN_FRAME == 60


# ---- random bursts ----------------------------------------------------------------------------
TCP_OPTS = b"\x01\x01\x08\x0a" + bytes(8)


def _random_frame(rng) -> bytes:
    kind = int(rng.integers(0, 12))
    plen = int(rng.choice([0, 1, 6, 50, 333, 1000, 1460, 2900]))
    payload = rng.integers(0, 256, plen, dtype=U8).tobytes()
    kw = dict(vlan=bool(rng.integers(0, 2)), seq=int(rng.integers(0, 1 << 32)),
              ip_id=int(rng.integers(0, 1 << 16)), fill_csums=bool(rng.integers(0, 2)),
              pad=int(rng.choice([0, 0, 0, 5])))
    ipv6 = bool(rng.integers(0, 2))
    if kind <= 4:  # TCP, sometimes with options and ECN/FIN/PSH flags
        return nd.build_frame(ipv6=ipv6, payload=payload,
                              tcp_flags=int(rng.choice([0x10, 0x18, CWR | ECE | PSH | FIN,
                                                        CWR | 0x10, FIN])),
                              ip_opts=b"\x01" * 4 if rng.integers(0, 3) == 0 else b"",
                              tcp_opts=TCP_OPTS if rng.integers(0, 2) else b"", **kw)
    if kind <= 6:
        return nd.build_frame(ipv6=ipv6, proto=17, payload=payload, **kw)
    if kind == 7:  # IPv4 ICMP-ish or IPv6 with an extension header: no L4 offload
        if ipv6:
            return nd.build_frame(ipv6=True, payload=payload, nh=0, **kw)
        return nd.build_frame(proto=1, payload=payload, **kw)
    if kind == 8:  # IPv4 fragment (MF or offset)
        return nd.build_frame(payload=payload, frag=int(rng.choice([0x2000, 0x0010])), **kw)
    if kind == 9:  # short or non-IP bytes
        return rng.integers(0, 256, int(rng.integers(0, 80)), dtype=U8).tobytes()
    if kind == 10:  # truncated IP datagram
        f = nd.build_frame(ipv6=ipv6, payload=payload, **kw)
        return f[:int(rng.integers(14, len(f)))]
    # big TCP for TSO (too big for the work buffer at times)
    big = rng.integers(0, 256, int(rng.choice([4000, 7000, 9500])), dtype=U8).tobytes()
    return nd.build_frame(ipv6=ipv6, payload=big, tcp_flags=CWR | ECE | PSH, **kw)


def _random_burst(rng, llq: bool, start: int) -> Burst:
    b = Burst(rng, llq, depth=256, start=start)
    for _ in range(int(rng.integers(10, 20))):
        if llq and rng.integers(0, 8) == 0:
            b.header_drop()
            continue
        b.add(_random_frame(rng), tso=rng.random() < 0.5, l3=rng.random() < 0.5,
              l4=rng.random() < 0.5, partial=rng.random() < 0.3,
              mss=int(rng.choice([0, 1, 64, 100, 536, 1448, 9000, 16383])),
              nbufs=int(rng.integers(1, 5)), zeros=int(rng.integers(0, 3) == 0))
    return b


@pytest.mark.parametrize("llq,start", [(False, 0), (False, 0xFFE0), (True, 0)])
def test_tx_build_frames_random_bursts_match_naive(llq, start):
    rng = np.random.default_rng(1234 + start + llq)
    totals = [0] * kdp.TXS_N
    out_fulls = frames = 0
    for _ in range(6):
        b = _random_burst(rng, llq, start)
        r = build_both(b, out_cap=int(rng.choice([256, 8192, 1 << 18])),
                       max_frames=int(rng.choice([4, 64, 1024])))
        assert r.steps[-1] == (len(b.pkts), None)
        out_fulls += len(r.steps) - 1
        frames += len(r.frames)
        totals = [a + c for a, c in zip(totals, r.counts, strict=True)]
        assert all(len(f) >= 60 for f in r.frames)
    # the bursts did reach every path
    assert totals[kdp.TXS_OK] and totals[kdp.TXS_OFFLOAD_ERR] and totals[kdp.TXS_DROP_TOO_BIG]
    assert bool(totals[kdp.TXS_DROP_HEADER]) == llq
    assert out_fulls > 0 and frames > totals[kdp.TXS_OK] + totals[kdp.TXS_OFFLOAD_ERR]  # TSO


# ---- hand-made edge cases ---------------------------------------------------------------------
def _tcp(n, **kw):
    return nd.build_frame(payload=bytes((7 * i) & 0xFF for i in range(n)), **kw)


def _partial_frame() -> bytes:
    """TCP frame whose checksum field holds the folded pseudo-header sum (CHECKSUM_PARTIAL)."""
    f = bytearray(_tcp(300, fill_csums=False))
    r = nd.parse(bytes(f))
    pseudo = nd.rfc1071(nd.pseudo_header(bytes(f), r, r["ip_end"] - r["l4"]))
    struct.pack_into("!H", f, r["l4"] + 16, pseudo)
    return bytes(nd.tx_offload(bytes(f), True, False, False))  # IPv4 header checksum only


EDGE_CASES = [
    # name, frame, add() keywords, expected status, frames on the wire
    ("pad", nd.build_frame(proto=17, payload=b"hi", fill_csums=False), dict(l3=1, l4=1),
     kdp.TXS_OK, 1),
    ("tso_ecn", _tcp(350, tcp_flags=CWR | ECE | PSH | FIN), dict(tso=1, mss=100, nbufs=3,
                                                                 zeros=1), kdp.TXS_OK, 4),
    ("tso_v6_vlan", nd.build_frame(ipv6=True, vlan=True, payload=bytes(2500), tcp_opts=TCP_OPTS,
                                   tcp_flags=CWR | PSH), dict(tso=1, mss=1000, nbufs=4, zeros=2),
     kdp.TXS_OK, 3),
    ("tso_mss_max", _tcp(900), dict(tso=1, mss=16383, l3=1), kdp.TXS_OK, 1),
    ("tso_no_payload", _tcp(0, tcp_flags=FIN), dict(tso=1, mss=536), kdp.TXS_OK, 1),
    ("tso_mss0", _tcp(200, fill_csums=False), dict(tso=1, mss=0, l4=1), kdp.TXS_OK, 1),
    ("mss_without_tso", _tcp(400, fill_csums=False), dict(mss=100, l3=1, l4=1), kdp.TXS_OK, 1),
    ("tso_udp", nd.build_frame(proto=17, payload=bytes(300), fill_csums=False),
     dict(tso=1, mss=100, l3=1), kdp.TXS_OFFLOAD_ERR, 1),
    ("tso_fragment", _tcp(300, frag=0x2000), dict(tso=1, mss=100), kdp.TXS_OFFLOAD_ERR, 1),
    ("tso_v6_ext", nd.build_frame(ipv6=True, payload=bytes(300), nh=0), dict(tso=1, mss=100),
     kdp.TXS_OFFLOAD_ERR, 1),
    ("tso_too_many_segments", _tcp(200), dict(tso=1, mss=1), kdp.TXS_OFFLOAD_ERR, 1),
    ("l4_not_tcp_udp", nd.build_frame(proto=1, payload=bytes(30), fill_csums=False),
     dict(l3=1, l4=1), kdp.TXS_OFFLOAD_ERR, 1),
    ("l3_truncated", _tcp(100)[:30], dict(l3=1), kdp.TXS_OFFLOAD_ERR, 1),
    ("non_ip_no_offload", bytes(range(20)), dict(), kdp.TXS_OK, 1),
    ("partial_l4", _partial_frame(), dict(l4=1, partial=1, nbufs=2), kdp.TXS_OK, 1),
    ("udp_full_csum_v6", nd.build_frame(ipv6=True, proto=17, payload=bytes(99),
                                        fill_csums=False), dict(l4=1), kdp.TXS_OK, 1),
    ("empty", b"", dict(zeros=2), kdp.TXS_OK, 1),
    ("too_big", _tcp(5000), dict(tso=1, mss=1448, nbufs=3), kdp.TXS_DROP_TOO_BIG, 0),
    ("exactly_work", _tcp(4096 - 54), dict(nbufs=2, l4=1), kdp.TXS_OK, 1),
]


def _edge_burst(rng, llq: bool) -> tuple[Burst, list]:
    b = Burst(rng, llq, depth=128, start=0xFFF8)
    expect = []
    for name, frame, kw, st, nfr in EDGE_CASES:
        b.add(frame, **kw)
        expect.append((name, frame, st, nfr))
        if llq and name == "pad":
            b.header_drop()
            expect.append(("header_drop", b"", kdp.TXS_DROP_HEADER, 0))
            f = _tcp(30, fill_csums=False)  # the whole frame pushed as header
            b.add(f, hl=len(f), l3=1, l4=1)
            expect.append(("header_only", f, kdp.TXS_OK, 1))
    return b, expect


@pytest.mark.parametrize("llq", [False, True])
def test_tx_build_frames_edges_match_naive(llq):
    rng = np.random.default_rng(7)
    b, expect = _edge_burst(rng, llq)
    r = build_both(b, work_cap=4096)
    assert r.steps == [(len(b.pkts), None)]
    assert r.pkt_status == [st for _, _, st, _ in expect]
    assert sum(n for *_, n in expect) == len(r.frames)
    # what the wire frames must look like, packet by packet
    k = 0
    for name, frame, _, nfr in expect:
        wire = r.frames[k:k + nfr]
        k += nfr
        if name == "pad":
            assert len(wire[0]) == 60 and wire[0][len(frame):] == bytes(60 - len(frame))
            assert nd.checksums(wire[0][:len(frame)]) == (1, 1)
        elif name == "tso_ecn":
            assert [w[47] for w in wire] == [CWR | ECE, ECE, ECE, ECE | PSH | FIN]
            assert all(nd.checksums(w) == (1, 1) for w in wire)
        elif name == "tso_v6_vlan":
            assert [w[18 + 40 + 13] for w in wire] == [CWR, 0, PSH]
            assert all(nd.checksums(w) == (-1, 1) for w in wire)
        elif name == "tso_udp":  # not segmented, but the IPv4 header checksum is filled
            assert len(wire[0]) == len(frame) and nd.checksums(wire[0]) == (1, -1)
        elif name in ("tso_fragment", "tso_v6_ext", "tso_too_many_segments",
                      "l4_not_tcp_udp", "l3_truncated", "non_ip_no_offload"):
            assert wire == [frame.ljust(60, b"\0")]  # sent unchanged
        elif name in ("partial_l4", "mss_without_tso", "tso_mss0", "udp_full_csum_v6"):
            assert nd.checksums(wire[0])[1] == 1
        elif name == "empty":
            assert wire == [bytes(60)]
        elif name == "exactly_work":
            assert len(wire[0]) == 4096
    assert k == len(r.frames)


@pytest.mark.parametrize("llq", [False, True])
@pytest.mark.parametrize("where", ["gap", "straddles_end", "below_bus_base", "past_last",
                                   "past_arena"])
@pytest.mark.parametrize("out_cap", [1 << 16, 100])
def test_tx_build_frames_dma_error_at_the_right_packet(llq, where, out_cap):
    rng = np.random.default_rng(3)
    bad = {"gap": BUS + 0x0800, "straddles_end": BUS + ALLOCS[1][1] - 50,
           "below_bus_base": BUS - 0x100, "past_last": BUS + ALLOCS[2][1] + 8,
           "past_arena": BUS + ARENA + 0x1000}[where]
    b = Burst(rng, llq, depth=64, start=0xFFFE)
    b.add(_tcp(100), l4=1)
    # a zero-length buffer is never read: its address does not matter
    good = b.place(bytes(200))
    b.add(b"", bufs=[(bad, 0), (good, 200), (BUS - 64, 0)], l3=1)
    if llq:
        b.header_drop()
    b.add(_tcp(40), tso=1, mss=16)
    bad_pkt = len(b.pkts)
    b.add(b"", bufs=[(b.place(bytes(80)), 80), (bad, 100), (b.place(bytes(10)), 10)])
    b.add(_tcp(100), l4=1)
    r = build_both(b, out_cap=out_cap)
    assert r.steps[-1] == (bad_pkt, "dma")
    assert (len(r.steps) > 1) == (out_cap == 100)
    assert len(r.frames) == 1 + 1 + 3  # nothing of the bad packet or after it


def test_tx_build_frames_dma_bounds_are_exact():
    """A buffer ending exactly at its allocation's end and one at its start are fine."""
    rng = np.random.default_rng(4)
    b = Burst(rng, False, depth=16)
    for s, e in ALLOCS:
        b.add(b"", bufs=[(BUS + s, 60), (BUS + e - 60, 60)])
    r = build_both(b)
    assert r.steps == [(3, None)] and r.pkt_status == [kdp.TXS_OK] * 3


@pytest.mark.parametrize("llq", [False, True])
def test_tx_build_frames_out_full_resume(llq):
    """Small outputs: ERR_OUT_FULL at a packet whose frames do not fit (by bytes or by
    frame slots, also mid-TSO), nothing of it written; resuming from the returned packet
    gives the same wire as one call with room for everything."""
    rng = np.random.default_rng(11)
    b = Burst(rng, llq, depth=128, start=0xFFF0)
    b.add(_tcp(10))
    b.add(_tcp(2000, tcp_flags=CWR | PSH), tso=1, mss=200, nbufs=3)  # 10 segments
    if llq:
        b.header_drop()
    b.add(nd.build_frame(proto=17, payload=bytes(1000), fill_csums=False), l3=1, l4=1)
    b.add(_tcp(30, fill_csums=False), tso=1, mss=8, l4=1)  # 4 short, padded segments
    b.add(_tcp(5000), nbufs=2)  # too big for the work buffer
    b.add(_tcp(3000), nbufs=2, l4=1)
    whole = build_both(b, work_cap=4096)
    assert whole.steps == [(len(b.pkts), None)]
    for out_cap, max_frames in ((64, 1024), (1 << 16, 1), (200, 2)):
        r = build_both(b, work_cap=4096, out_cap=out_cap, max_frames=max_frames)
        assert len(r.steps) > 2 and all(e == "out_full" for _, e in r.steps[:-1])
        assert r.steps[-1] == (len(b.pkts), None)
        assert (r.frames, r.layout, r.pkt_status, r.counts) == (
            whole.frames, whole.layout, whole.pkt_status, whole.counts)
    # without growing: the first call stops at the TSO packet, which needs 10 frame slots
    r = build_both(b, work_cap=4096, max_frames=9, grow=False)
    assert r.steps == [(1, "out_full")] and len(r.frames) == 1
