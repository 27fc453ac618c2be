"""numba_kernels.seqcheck: exact counts for known loss/reorder/duplicate patterns, random
streams vs the naive set-based checker, probe extraction from engine frames, queues."""

from __future__ import annotations

import numpy as np
import pytest

from enatool.gen.engine import FieldEngine
from enatool.gen.sink import SinkCounters
from enatool.gen.templates import GenSpec, build_templates
from numba_kernels import seqcheck as sc
from tests.naive.naive_gen import NaiveSeqCheck, build_frame

pytestmark = pytest.mark.nojit


def _check(seq_per_flow: dict[int, list[int]], window: int = 128, tx=None, rx_ns=0):
    """Feed streams (interleaved by flow) to the kernel; return the per-flow state."""
    n_flows = max(seq_per_flow) + 1
    fstate = np.zeros((n_flows, sc.FS_N), np.int64)
    bitmap = np.zeros((n_flows, window // 64), np.uint64)
    sc.flow_state_init(fstate, bitmap)
    flows, seqs = [], []
    longest = max(len(v) for v in seq_per_flow.values())
    for i in range(longest):
        for f, v in seq_per_flow.items():
            if i < len(v):
                flows.append(f)
                seqs.append(v[i])
    n = len(seqs)
    tx_ns = np.zeros(n, np.int64) if tx is None else np.asarray(tx, np.int64)
    kinds = np.full(n, sc.PROBE_FULL if tx is not None else sc.PROBE_SHORT, np.int64)
    bad = sc.seq_update(np.array(flows, np.int64), np.array(seqs, np.int64), tx_ns, kinds, n,
                        rx_ns, fstate, bitmap)
    assert bad == 0
    return fstate


def _counts(row):
    return dict(rx=int(row[sc.FS_RX]), lost=int(row[sc.FS_LOST]),
                reordered=int(row[sc.FS_REORDERED]), dup=int(row[sc.FS_DUP]),
                late=int(row[sc.FS_LATE]))


def test_drop_every_nth():
    for nth in (2, 3, 7, 10):
        seqs = [s for s in range(1000) if s % nth != nth - 1]
        got = _counts(_check({0: seqs})[0])
        dropped_inside = sum(1 for s in range(max(seqs)) if s % nth == nth - 1)
        assert got == dict(rx=len(seqs), lost=dropped_inside, reordered=0, dup=0, late=0)


def test_swapped_pairs_are_reordered_not_lost():
    seqs = []
    for s in range(0, 1000, 2):
        seqs += [s + 1, s]
    got = _counts(_check({0: seqs})[0])
    # 1 arrives first; 0 then moves the flow's start down (no gap opened, nothing lost)
    assert got == dict(rx=1000, lost=0, reordered=500, dup=0, late=0)


def test_arrival_below_the_first_opens_a_gap():
    got = _counts(_check({0: [10, 11, 7, 12, 9]})[0])
    assert got == dict(rx=5, lost=1, reordered=2, dup=0, late=0)  # 8 never came


def test_swapped_pairs_after_a_clean_start():
    seqs = [0]
    for s in range(1, 1001, 2):
        seqs += [s + 1, s]
    got = _counts(_check({0: seqs})[0])
    assert got == dict(rx=1001, lost=0, reordered=500, dup=0, late=0)


def test_duplicates_and_late_frames():
    seqs = list(range(100)) + [99, 50, 50, 10] + list(range(100, 300)) + [150]
    got = _counts(_check({0: seqs}, window=64)[0])
    # 99 dup of max; 50 in window (d=49): dup twice; 10 -> d=89 >= 64: late; 150 -> d=149 late
    assert got == dict(rx=305, lost=0, reordered=0, dup=3, late=2)


def test_multiple_flows_are_independent():
    fs = _check({0: [0, 1, 2, 5], 1: [0, 0, 1], 3: [7, 6, 8]})
    assert _counts(fs[0]) == dict(rx=4, lost=2, reordered=0, dup=0, late=0)
    assert _counts(fs[1]) == dict(rx=3, lost=0, reordered=0, dup=1, late=0)
    assert _counts(fs[3]) == dict(rx=3, lost=0, reordered=1, dup=0, late=0)
    assert fs[2, sc.FS_MAX_SEQ] == -1


def test_delay_min_mean_max():
    fs = _check({0: [0, 1, 2]}, tx=[100, 200, 250], rx_ns=1000)
    assert fs[0, sc.FS_DELAY_N] == 3 and fs[0, sc.FS_DELAY_SUM] == 900 + 800 + 750
    assert fs[0, sc.FS_DELAY_MIN] == 750 and fs[0, sc.FS_DELAY_MAX] == 900


@pytest.mark.parametrize("window", [64, 128, 1024])
def test_random_streams_match_naive(window):
    rng = np.random.default_rng(window)
    for trial in range(10):
        n_flows = 3
        streams = {}
        for f in range(n_flows):
            base = list(range(int(rng.integers(0, 50)), 600))
            out = []
            for s in base:
                r = rng.random()
                if r < 0.05:
                    continue  # drop
                out.append(s)
                if r > 0.97:
                    out.append(s)  # duplicate
            # local reordering by random displacement, some far beyond the window
            for _ in range(40):
                i = int(rng.integers(0, len(out)))
                j = min(len(out) - 1, i + int(rng.integers(1, 3 * window)))
                out[i], out[j] = out[j], out[i]
            streams[f] = out
        fs = _check(streams, window=window)
        naive = NaiveSeqCheck(window)
        longest = max(len(v) for v in streams.values())
        for i in range(longest):
            for f, v in streams.items():
                if i < len(v):
                    naive.add(f, v[i])
        for f in range(n_flows):
            st = naive.flows[f]
            assert _counts(fs[f]) == dict(rx=st["rx"], lost=st["lost"],
                                          reordered=st["reordered"], dup=st["dup"],
                                          late=st["late"]), (window, trial, f)


def test_window_shift_across_words():
    """Jumps of 1, 63, 64, 65, 130 sequences keep exactly the right bits."""
    fs = np.zeros((1, sc.FS_N), np.int64)
    bm = np.zeros((1, 3), np.uint64)
    sc.flow_state_init(fs, bm)
    seen = []
    for s in (0, 1, 64, 128, 193, 323, 324):
        sc.seq_one(fs, bm, 0, s, False, 0, 0)
        seen.append(s)
    m = 324
    for d in range(192):
        bit = (int(bm[0, d // 64]) >> (d % 64)) & 1
        assert bit == (1 if (m - d) in seen else 0), d


def test_extract_probes_and_sink_batch_from_engine_frames():
    spec = GenSpec(size="64:1,200:2", sport="1-5")
    tset = build_templates(spec)
    eng = FieldEngine(tset, "full")
    n, stride = 30, 256
    umem = np.zeros(n * stride, np.uint8)
    addrs = np.arange(n, dtype=np.int64) * stride
    lens = np.zeros(n, np.uint32)
    eng.fill(umem, addrs, lens, ts_ns=5000)
    flows = np.zeros(n, np.int64)
    seqs = np.zeros(n, np.int64)
    tx = np.zeros(n, np.int64)
    kinds = np.zeros(n, np.int64)
    rec = np.zeros(32, np.int64)
    assert sc.extract_probes(umem, addrs, lens, n, rec, flows, seqs, tx, kinds) == n
    short = lens == 60
    assert (kinds[short] == sc.PROBE_SHORT).all() and (kinds[~short] == sc.PROBE_FULL).all()
    assert (tx[~short] == 5000).all() and (tx[short] == 0).all()
    pairs = sorted(zip(flows.tolist(), seqs.tolist(), strict=True))
    assert pairs == [(f, s) for f in range(5) for s in range(6)]
    # sink: drop two frames, duplicate one, add a foreign frame and a corrupted one
    sink = SinkCounters(n_flows=5, n_queues=2, window=64)
    keep = [i for i in range(n) if i not in (7, 12)] + [3]
    frames = [umem[addrs[i]:addrs[i] + lens[i]].tobytes() for i in keep]
    frames.append(build_frame(frame_len=100, ipv6=False, udp=True, src=bytes(4), dst=bytes(4),
                              sport=1, dport=2))
    bad = bytearray(frames[0])
    bad[-1] ^= 0xFF
    frames.append(bytes(bad))
    sink.add_frames(frames[:10], queue=1, rx_ns=6000)
    sink.add_frames(frames[10:], queue=0, rx_ns=7000)
    tot = sink.totals()
    # 28 kept + a duplicate of frame 3 + a foreign frame + a corrupted copy of frame 0
    # (its probe is intact: a duplicate too, and a checksum error)
    assert tot["packets"] == n + 1 and tot["probes"] == n and tot["foreign"] == 1
    assert tot["lost"] == 2 and tot["duplicates"] == 2
    assert tot["csum_errors"] == 1 and tot["flows_seen"] == 5
    d = tot["one_way_delay"]
    assert d["min_ns"] == 1000 and d["max_ns"] == 2000 and d["count"] > 0
    assert sum(q["packets"] for q in sink.per_queue([0, 1])) == n + 1
    sink2 = SinkCounters(n_flows=2, n_queues=1)
    sink2.add_frames(frames[:10], queue=0, rx_ns=0)
    assert sink2.totals()["unknown_flow"] == sum(
        1 for i in keep[:10] if flows[i] >= 2)


def _probe_frame(rng, flow: int, seq: int, ts: int) -> bytes:
    ipv6 = bool(rng.integers(0, 3) == 0)
    udp = bool(rng.integers(0, 2))
    plen = int(rng.choice([16, 20, 24, 24]))
    base = 14 + (40 if ipv6 else 20) + (8 if udp else 20)
    vlan = int(rng.integers(1, 4095)) if rng.integers(0, 4) == 0 else None
    # short probes (16 B, or 20 B: half a timestamp) in payloads under 24 B stay short;
    # a full probe (24 B) may have more payload after it
    extra = int(rng.integers(0, 40)) if plen == 24 else int(rng.integers(0, 24 - plen))
    frame_len = base + (4 if vlan is not None else 0) + plen + extra
    return build_frame(frame_len=frame_len, ipv6=ipv6, udp=udp, src=bytes(16 if ipv6 else 4),
                       dst=bytes(range(16 if ipv6 else 4)), sport=(1000 + flow) & 0xFFFF, dport=9,
                       vlan=vlan, probe_len=plen, flow_id=flow, seq=seq, ts=ts)


def _edge_frames(rng) -> list[bytes]:
    """Frames sink_batch must not mistake for probes, or must count specially."""
    good = _probe_frame(rng, 1, 5, 100)
    out = [
        build_frame(frame_len=80, ipv6=False, udp=True, src=bytes(4), dst=bytes(4), sport=1,
                    dport=2),  # no probe
        b"\x02" * 12 + b"\x88\xcc" + b"\x00" * 50,  # not IP
        b"\x01" * 9,  # runt
        good[:len(good) - 5],  # truncated: IP length past the end
        good + b"\x00\x01\x02",  # Ethernet padding after the IP packet (odd length)
        build_frame(frame_len=14 + 20 + 8 + 15, ipv6=False, udp=True, src=bytes(4),
                    dst=bytes(4), sport=1, dport=2, probe_len=15, flow_id=1, seq=1),  # < 16 B
        _probe_frame(rng, 0xFFFFFFFF, 3, 0),  # flow id far out of range
    ]
    frag = bytearray(_probe_frame(rng, 1, 6, 0))
    if frag[12:14] == b"\x08\x00":
        frag[20:22] = b"\x00\x10"  # a non-first IPv4 fragment: no L4 header to read
    out.append(bytes(frag))
    bad = bytearray(_probe_frame(rng, 2, 7, 50))
    bad[-1] ^= 0x80  # payload corrupted after the probe: L4 checksum error, probe intact
    out.append(bytes(bad))
    bad = bytearray(_probe_frame(rng, 2, 8, 50))
    if bad[12:14] == b"\x08\x00":
        bad[22] ^= 1  # TTL: IPv4 header checksum error
    out.append(bytes(bad))
    magic = bytearray(_probe_frame(rng, 3, 9, 0))
    l4 = 14 + (20 if magic[12:14] == b"\x08\x00" else 40)
    l4 += 8 if magic[l4 - 11 if magic[12:14] == b"\x08\x00" else 20] == 17 else 20
    magic[l4] ^= 0xFF  # magic broken: a foreign frame (and a checksum error)
    out.append(bytes(magic))
    return out


@pytest.mark.parametrize("window,verify", [(64, True), (128, False), (256, True)])
def test_sink_batch_matches_naive(window, verify):
    """sink_batch over random batches (several queues, verify on/off) against the naive
    parse + set-based checker: every per-queue counter and every per-flow field."""
    from tests.naive import naive_gen

    rng = np.random.default_rng(window + verify)
    n_flows, n_queues = 4, 3
    frames = []
    for f in range(n_flows + 2):  # flows 4 and 5 are unknown to the sink
        first = int(rng.integers(0, 30))
        seqs = [s for s in range(first, first + 300) if rng.random() > 0.04]
        seqs += [int(x) for x in rng.choice(seqs, 6)]  # duplicates (and late ones)
        for _ in range(30):
            i = int(rng.integers(0, len(seqs)))
            j = min(len(seqs) - 1, i + int(rng.integers(1, 2 * window)))
            seqs[i], seqs[j] = seqs[j], seqs[i]
        frames += [(int(rng.integers(0, 10_000)), f, s) for s in seqs]
    rng.shuffle(frames)  # interleave flows (order within a flow is shuffled too: reordering)
    wire = [_probe_frame(rng, f, s, ts) for ts, f, s in frames]
    edges = _edge_frames(rng)
    for e in edges:
        wire.insert(int(rng.integers(0, len(wire))), e)
    sink = SinkCounters(n_flows=n_flows, n_queues=n_queues, window=window, verify=verify)
    seq = NaiveSeqCheck(window)
    qstats: dict = {}
    i = 0
    batch = 0
    while i < len(wire):
        n = int(rng.integers(0, 40))  # 0: an empty batch
        q = int(rng.integers(0, n_queues))
        rx_ns = 20_000 + 1000 * batch
        part = wire[i:i + n]
        if part:
            sink.add_frames(part, queue=q, rx_ns=rx_ns)
        else:
            sc.sink_batch(np.zeros(1, np.uint8), np.zeros(0, np.int64), np.zeros(0, np.int64),
                          0, q, rx_ns, verify, sink._rec, sink.fstate, sink.bitmap,
                          sink.qstats)
        naive_gen.sink_batch(part, q, rx_ns, verify, n_flows, seq, qstats)
        i += n
        batch += 1
    for q in range(n_queues):
        want = qstats.get(q, dict.fromkeys(naive_gen.QUEUE_COUNTERS, 0))
        got = dict(zip(naive_gen.QUEUE_COUNTERS, sink.qstats[q].tolist(), strict=True))
        assert got == want, q
    assert sum(qs["csum_err"] for qs in qstats.values()) >= (2 if verify else 0)
    assert sum(qs["foreign"] for qs in qstats.values()) >= 6
    for f in range(n_flows):
        st = seq.flows[f]
        row = sink.fstate[f]
        d = st["delays"]
        assert _counts(row) == dict(rx=st["rx"], lost=st["lost"], reordered=st["reordered"],
                                    dup=st["dup"], late=st["late"]), f
        assert (int(row[sc.FS_MAX_SEQ]), int(row[sc.FS_FIRST_SEQ])) == (st["max"], st["first"])
        assert (int(row[sc.FS_DELAY_N]), int(row[sc.FS_DELAY_SUM])) == (len(d), sum(d))
        assert (int(row[sc.FS_DELAY_MIN]), int(row[sc.FS_DELAY_MAX])) == (min(d), max(d))
