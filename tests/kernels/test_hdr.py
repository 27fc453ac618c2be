"""numba_kernels.hdr vs the naive twin (tests/naive/naive_hdr): indices, percentiles,
moments, merge and the percentile iteration on random and edge data."""

from __future__ import annotations

import numpy as np
import pytest

from numba_kernels import hdr
from tests.naive import naive_hdr

PS = np.array([0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0])


def _hist(values, highest=hdr.DEFAULT_HIGHEST):
    counts, stats, mom = hdr.new(highest)
    v = np.asarray(values, np.int64)
    hdr.record_many(counts, stats, mom, v, len(v))
    return counts, stats, mom


@pytest.mark.nojit
@pytest.mark.parametrize("v", [0, 1, 2047, 2048, 2049, 4095, 4096, 12345, 10**6, 2**40 + 7,
                               3_600_000_000_000])
def test_index_ranges_match_naive(v):
    i = hdr.value_index(v)
    assert (hdr.index_lowest(i), hdr.index_highest(i)) == naive_hdr.bucket_range(v)


def test_indices_monotonic_and_contiguous():
    v = np.arange(0, 1 << 16)
    idx = np.array([hdr.value_index(int(x)) for x in v])
    assert np.all(np.diff(idx) >= 0) and np.all(np.diff(idx) <= 1)
    # relative width below 1/1024 everywhere
    for i in range(2048, hdr.counts_len(hdr.DEFAULT_HIGHEST), 997):
        assert hdr.index_width(i) / max(hdr.index_lowest(i), 1) <= 1 / 1024


@pytest.mark.parametrize("seed,dist", [(1, "lognormal"), (2, "uniform"), (3, "tail")])
def test_percentiles_vs_naive_random(seed, dist):
    rng = np.random.default_rng(seed)
    n = 5000
    if dist == "lognormal":
        vals = rng.lognormal(9, 1.2, n).astype(np.int64)
    elif dist == "uniform":
        vals = rng.integers(0, 5000, n)
    else:
        vals = np.concatenate([rng.integers(1000, 3000, n - 7), rng.integers(10**7, 10**9, 7)])
    counts, stats, mom = _hist(vals)
    out = np.zeros(len(PS), np.int64)
    hdr.percentiles(counts, stats[hdr.ST_COUNT], PS, out)
    lv = vals.tolist()
    for p, got in zip(PS, out, strict=True):
        assert got == naive_hdr.value_at_percentile(lv, p)
        assert got == hdr.value_at_percentile(counts, stats[hdr.ST_COUNT], p)
    assert stats[hdr.ST_COUNT] == n
    assert stats[hdr.ST_MIN] == vals.min() and stats[hdr.ST_MAX] == vals.max()
    assert stats[hdr.ST_SUM] == vals.sum()
    m, s = naive_hdr.mean_std(lv)
    mean = stats[hdr.ST_SUM] / n
    assert mean == pytest.approx(m)
    assert np.sqrt(mom[hdr.M_SUMSQ] / n - mean * mean) == pytest.approx(s, rel=1e-6)


@pytest.mark.nojit
def test_edge_data():
    counts, stats, mom = _hist([], 10**6)
    out = np.zeros(len(PS), np.int64)
    hdr.percentiles(counts, 0, PS, out)
    assert (out == 0).all()
    assert hdr.percentile_rows(counts, 5, np.zeros(4, np.int64), np.zeros(4),
                               np.zeros(4, np.int64)) == 0
    # one value, repeated
    counts, stats, mom = _hist([777] * 10, 10**6)
    hdr.percentiles(counts, 10, PS, out)
    assert (out == 777).all()
    # negatives clamp to 0, too large clamp to the top and are counted
    counts, stats, mom = _hist([-5, 0, 10**7], 10**6)
    top = hdr.index_highest(len(counts) - 1)
    assert top >= 10**6
    assert stats[hdr.ST_OVER] == 1 and stats[hdr.ST_MAX] == top and stats[hdr.ST_MIN] == 0
    assert counts[0] == 2


def test_merge_equals_one_histogram():
    rng = np.random.default_rng(7)
    a = rng.integers(0, 10**6, 3000)
    b = rng.integers(10**5, 10**8, 2000)
    ca, sa, ma = _hist(a)
    cb, sb, mb = _hist(b)
    call, sall, mall = _hist(np.concatenate([a, b]))
    hdr.merge(ca, sa, ma, cb, sb, mb)
    assert np.array_equal(ca, call) and np.array_equal(sa, sall)
    assert ma[0] == pytest.approx(mall[0])
    # merging an empty histogram changes nothing
    ce, se, me = hdr.new()
    hdr.merge(ca, sa, ma, ce, se, me)
    assert np.array_equal(sa, sall)


@pytest.mark.parametrize("seed,ticks", [(11, 5), (12, 1), (13, 10)])
def test_percentile_rows_vs_naive(seed, ticks):
    rng = np.random.default_rng(seed)
    vals = rng.lognormal(10, 1.0, 4000).astype(np.int64)
    counts, _, _ = _hist(vals)
    m = hdr.rows_bound(counts, ticks)
    v, p, c = np.zeros(m, np.int64), np.zeros(m), np.zeros(m, np.int64)
    n = hdr.percentile_rows(counts, ticks, v, p, c)
    want = naive_hdr.percentile_rows(vals.tolist(), ticks)
    assert n == len(want)
    for i, (wv, wp, wc) in enumerate(want):
        assert (v[i], c[i]) == (wv, wc)
        assert p[i] == pytest.approx(wp)
    assert p[n - 1] == 100.0 and c[n - 1] == len(vals)


def test_bucket_count_matches_hdrhistogram():
    hdrh = pytest.importorskip("hdrh.histogram")
    for highest in (10**6, 3_600_000_000_000, 2**40):
        h = hdrh.HdrHistogram(1, highest, 3)
        assert hdr.bucket_count(highest) == h.bucket_count
        assert hdr.counts_len(highest) == h.counts_len
