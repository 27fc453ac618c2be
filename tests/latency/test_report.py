"""The .hgrm file against the hdrhistogram package, and the PNG plot."""

from __future__ import annotations

import io

import numpy as np
import pytest

from enatool.report.hgrm import read_hgrm, write_hgrm
from enatool.report.plot import PNG_MAGIC, plot_latency
from numba_kernels import hdr

hdrh = pytest.importorskip("hdrh.histogram")


def _both(values, highest=hdr.DEFAULT_HIGHEST):
    counts, stats, mom = hdr.new(highest)
    v = np.asarray(values, np.int64)
    hdr.record_many(counts, stats, mom, v, len(v))
    ref = hdrh.HdrHistogram(1, highest, 3)
    for x in v.tolist():
        ref.record_value(x)
    return counts, stats, ref


@pytest.mark.parametrize("seed", [1, 2])
def test_hgrm_matches_hdrhistogram(seed):
    rng = np.random.default_rng(seed)
    vals = np.concatenate([rng.lognormal(8.5, 0.6, 3000), rng.integers(10**5, 10**7, 30)])
    counts, stats, ref = _both(vals.astype(np.int64))
    buf = io.StringIO()
    n = write_hgrm(buf, counts, scale=1000.0)
    text = buf.getvalue()
    rows = read_hgrm(text)
    assert len(rows) == n > 10
    assert text.splitlines()[0].split() == ["Value", "Percentile", "TotalCount",
                                            "1/(1-Percentile)"]
    # every row: a value hdrh considers a bucket top, and hdrh's running count up to it
    cum = {}
    run = 0
    for item in ref.get_recorded_iterator():
        run += item.count_at_value_iterated_to
        cum[item.value_iterated_to] = run
    for value, _pct, count in rows:
        v = round(value * 1000)
        assert ref.get_highest_equivalent_value(v) == v
        assert max(c for k, c in cum.items() if k <= v) == count
    assert rows[-1][1] == 1.0 and rows[-1][2] == ref.get_total_count()
    # percentiles from the kernel equal hdrh's
    ps = np.array([50.0, 90.0, 99.0, 99.9, 99.99, 100.0])
    out = np.zeros(len(ps), np.int64)
    hdr.percentiles(counts, int(stats[hdr.ST_COUNT]), ps, out)
    for p, got in zip(ps, out, strict=True):
        assert got == ref.get_value_at_percentile(p)
    # footer: mean / max / count / buckets as HdrHistogram computes them
    foot = [ln for ln in text.splitlines() if ln.startswith("#[")]
    assert f"{ref.get_mean_value() / 1000:12.3f}" in foot[0]
    assert f"{ref.get_max_value() / 1000:12.3f}" in foot[1]
    assert f"{ref.get_total_count():12d}" in foot[1]
    assert f"{ref.bucket_count:12d}" in foot[2] and f"{ref.sub_bucket_count:12d}" in foot[2]


def test_hgrm_empty():
    counts, _, _ = hdr.new(10**6)
    buf = io.StringIO()
    assert write_hgrm(buf, counts) == 0
    assert read_hgrm(buf.getvalue()) == []


def test_plot_png_with_both_modes(tmp_path):
    rng = np.random.default_rng(3)
    a, _, _ = _both(rng.lognormal(7, 0.3, 2000).astype(np.int64))
    b, _, _ = _both(rng.lognormal(8.5, 0.5, 2000).astype(np.int64))
    path = tmp_path / "rtt.png"
    drawn = plot_latency(str(path), {"afxdp": a, "socket": b})
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 5000
    assert drawn["labels"] == ["afxdp", "socket"]
    assert all(s["cdf_points"] > 10 and s["hist_bins"] > 10 for s in drawn["series"].values())
