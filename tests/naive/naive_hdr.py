"""Naive twin of numba_kernels.hdr: sorted raw samples and a linear search of the
log-linear bucket ranges (no bit tricks)."""

from __future__ import annotations

import math

SUB_COUNT = 2048


def bucket_range(v: int) -> tuple[int, int]:
    """(lowest, highest) value sharing v's counter: width 1 below 2048, then doubling
    per power of two, each power of two split in 1024 equal slices."""
    if v < SUB_COUNT:
        return v, v
    width = 1
    start = SUB_COUNT
    while v >= start * 2:
        start *= 2
        width *= 2
    width *= 2  # [2048, 4096) has width 2
    lo = start + (v - start) // width * width
    return lo, lo + width - 1


def value_at_percentile(values: list[int], p: float) -> int:
    if not values:
        return 0
    s = sorted(values)
    target = max(1, int(min(p, 100.0) * len(s) / 100.0 + 0.5))
    lo, hi = bucket_range(s[target - 1])
    return lo if p == 0 else hi


def mean_std(values: list[int]) -> tuple[float, float]:
    n = len(values)
    m = sum(values) / n
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / n)


def percentile_rows(values: list[int], ticks: int) -> list[tuple[int, float, int]]:
    """HdrHistogram's percentile iteration over the sorted samples."""
    s = sorted(values)
    total = len(s)
    # running count at the end of each distinct counter, in order
    ends: list[tuple[int, int]] = []
    for i, v in enumerate(s):
        hi = bucket_range(v)[1]
        if ends and ends[-1][0] == hi:
            ends[-1] = (hi, i + 1)
        else:
            ends.append((hi, i + 1))
    rows = []
    level = 0.0
    for hi, run in ends:
        while 100.0 * run / total >= level:
            rows.append((hi, level, run))
            gap = 100.0 - level
            if gap > 0:
                level += 100.0 / (ticks * 2.0 ** (int(math.log(100.0 / gap) / math.log(2)) + 1))
            if run >= total:
                break
        if run >= total:
            break
    rows.append((ends[-1][0], 100.0, total))
    return rows
