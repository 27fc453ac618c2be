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
