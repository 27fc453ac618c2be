"""HdrHistogram's percentile-distribution text (``.hgrm``), as Java's
``outputPercentileDistribution`` writes it, so existing HdrHistogram plotters read it.

Columns: value (scaled, e.g. ns -> µs with ``scale=1000``), percentile as a fraction, the
running count and ``1/(1-percentile)``; the last row (100 %) has no fourth column. The
footer reports mean and standard deviation over bucket midpoints, as HdrHistogram does.
Rows come from :func:`numba_kernels.hdr.percentile_rows` (no per-sample Python).
"""

from __future__ import annotations

from typing import TextIO

import numpy as np

from numba_kernels import hdr


def write_hgrm(out: TextIO, counts: np.ndarray, scale: float = 1000.0, ticks: int = 5) -> int:
    """Write the distribution of ``counts`` to ``out``; returns the number of rows."""
    sig = hdr.SIG_FIGS
    m = hdr.rows_bound(counts, ticks)
    vals, pcts, runs = np.zeros(m, np.int64), np.zeros(m), np.zeros(m, np.int64)
    n = int(hdr.percentile_rows(counts, ticks, vals, pcts, runs))
    out.write(f"{'Value':>12} {'Percentile':>14} {'TotalCount':>10} {'1/(1-Percentile)':>14}\n\n")
    for i in range(n):
        v = vals[i] / scale
        p = pcts[i] / 100.0
        if pcts[i] < 100.0:
            out.write(f"{v:12.{sig}f} {p:2.12f} {runs[i]:10d} {1.0 / (1.0 - p):14.2f}\n")
        else:
            out.write(f"{v:12.{sig}f} {p:2.12f} {runs[i]:10d}\n")
    total, mean, std = hdr.bucket_moments(counts)
    nz = np.flatnonzero(counts)
    mx = hdr.index_highest(int(nz[-1])) if len(nz) else 0
    buckets = len(counts) // hdr.SUB_HALF - 1
    out.write(f"#[Mean    = {mean / scale:12.{sig}f}, StdDeviation   = {std / scale:12.{sig}f}]\n")
    out.write(f"#[Max     = {mx / scale:12.{sig}f}, Total count    = {int(total):12d}]\n")
    out.write(f"#[Buckets = {buckets:12d}, SubBuckets     = {hdr.SUB_COUNT:12d}]\n")
    return n


def read_hgrm(text: str) -> list[tuple[float, float, int]]:
    """(value, percentile fraction, running count) rows of an ``.hgrm`` text."""
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3 or line.startswith("#") or parts[0] == "Value":
            continue
        rows.append((float(parts[0]), float(parts[1]), int(parts[2])))
    return rows
