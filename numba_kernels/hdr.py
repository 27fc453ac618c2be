"""HDR-style log-linear histogram, recorded and read inside compiled code.

The bucket layout is HdrHistogram's for ``lowest_discernible_value=1`` and 3 significant
digits (Gil Tene's design, as in the Java and ``hdrh`` implementations): 2048 sub-buckets of
which the upper 1024 repeat per power of two. A value ``v < 2048`` has its own counter
(index ``v``); above that, with ``e = bit_length(v) - 11``, the index is
``e * 1024 + (v >> e)`` and the counter covers ``[(v >> e) << e, ((v >> e) + 1) << e)``,
a relative width below 1/1024. Same indices means the same percentiles as HdrHistogram.

State: ``counts`` int64[counts_len(highest)], ``stats`` int64[ST_N] (count, exact min/max,
values above the highest trackable, exact sum) and ``moments`` float64[M_N] (sum of
squares) for the exact mean and standard deviation. Values are clamped to
``[0, highest]``; ``ST_OVER`` says how many were clamped.
"""

from __future__ import annotations

import math

import numpy as np

from numba_kernels.jit import njit

SUB_BITS = 11
SUB_COUNT = 1 << SUB_BITS  # 2048
SUB_HALF = SUB_COUNT >> 1  # 1024
SIG_FIGS = 3
DEFAULT_HIGHEST = 3_600_000_000_000  # one hour in ns

ST_COUNT = 0
ST_MIN = 1
ST_MAX = 2
ST_OVER = 3
ST_SUM = 4
ST_N = 5
M_SUMSQ = 0
M_N = 1

I64_MAX = np.iinfo(np.int64).max


def bucket_count(highest: int) -> int:
    """HdrHistogram's bucket count for values up to ``highest`` (unit 1, 3 digits)."""
    if highest < 2:
        raise ValueError("highest trackable value must be >= 2")
    smallest_untrackable = SUB_COUNT
    n = 1
    while smallest_untrackable <= highest:
        if smallest_untrackable > I64_MAX // 2:
            return n + 1
        smallest_untrackable <<= 1
        n += 1
    return n


def counts_len(highest: int) -> int:
    """Length of the ``counts`` array for values up to ``highest``."""
    return (bucket_count(highest) + 1) * SUB_HALF


def new(highest: int = DEFAULT_HIGHEST) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Empty ``(counts, stats, moments)``."""
    stats = np.zeros(ST_N, np.int64)
    stats[ST_MIN] = I64_MAX
    return np.zeros(counts_len(highest), np.int64), stats, np.zeros(M_N, np.float64)


@njit
def _bit_length(v):
    n = 0
    while v > 0:
        v >>= 1
        n += 1
    return n


@njit
def value_index(v):
    """Counter index of value ``v >= 0``."""
    if v < SUB_COUNT:
        return v
    e = _bit_length(v) - SUB_BITS
    return e * SUB_HALF + (v >> e)


@njit
def index_lowest(idx):
    """Smallest value counted at ``idx``."""
    if idx < SUB_COUNT:
        return idx
    e = idx // SUB_HALF - 1
    sub = idx - e * SUB_HALF
    return sub << e


@njit
def index_width(idx):
    """How many values share counter ``idx``."""
    if idx < SUB_COUNT:
        return 1
    return 1 << (idx // SUB_HALF - 1)


@njit
def index_highest(idx):
    """Largest value counted at ``idx`` (HdrHistogram's highest equivalent value)."""
    return index_lowest(idx) + index_width(idx) - 1


@njit
def index_median(idx):
    """Middle of the range counted at ``idx`` (HdrHistogram's median equivalent value)."""
    return index_lowest(idx) + (index_width(idx) >> 1)


@njit(nogil=True)
def record(counts, stats, moments, v):
    """Record one value (negative values count as 0, large ones clamp to the top)."""
    if v < 0:
        v = 0
    top = index_highest(counts.shape[0] - 1)
    if v > top:
        stats[ST_OVER] += 1
        v = top
    counts[value_index(v)] += 1
    stats[ST_COUNT] += 1
    if v < stats[ST_MIN]:
        stats[ST_MIN] = v
    if v > stats[ST_MAX]:
        stats[ST_MAX] = v
    stats[ST_SUM] += v
    moments[M_SUMSQ] += float(v) * float(v)


@njit(nogil=True)
def record_many(counts, stats, moments, values, n):
    """Record ``values[:n]``."""
    for i in range(n):
        record(counts, stats, moments, values[i])


@njit(nogil=True)
def merge(counts, stats, moments, src_counts, src_stats, src_moments):
    """Add histogram ``src`` into ``dst`` (same ``counts`` length)."""
    for i in range(counts.shape[0]):
        counts[i] += src_counts[i]
    stats[ST_COUNT] += src_stats[ST_COUNT]
    if src_stats[ST_MIN] < stats[ST_MIN]:
        stats[ST_MIN] = src_stats[ST_MIN]
    if src_stats[ST_MAX] > stats[ST_MAX]:
        stats[ST_MAX] = src_stats[ST_MAX]
    stats[ST_OVER] += src_stats[ST_OVER]
    stats[ST_SUM] += src_stats[ST_SUM]
    moments[M_SUMSQ] += src_moments[M_SUMSQ]


@njit
def value_at_percentile(counts, total, p):
    """HdrHistogram's value at percentile ``p`` (0..100): the highest equivalent value of
    the first counter where the running count reaches ``max(1, int(p/100*total + 0.5))``
    (``p == 0``: the lowest equivalent value of the first non-empty counter)."""
    if total <= 0:
        return 0
    if p > 100.0:
        p = 100.0
    target = np.int64(p * total / 100.0 + 0.5)
    if target < 1:
        target = 1
    run = np.int64(0)
    for i in range(counts.shape[0]):
        run += counts[i]
        if run >= target:
            if p == 0.0:
                return index_lowest(i)
            return index_highest(i)
    return 0


@njit
def percentiles(counts, total, ps, out):
    """``out[k] = value_at_percentile(ps[k])`` in one pass (``ps`` ascending)."""
    k = 0
    m = ps.shape[0]
    if total <= 0:
        for j in range(m):
            out[j] = 0
        return
    run = np.int64(0)
    for i in range(counts.shape[0]):
        c = counts[i]
        if c == 0:
            continue
        run += c
        while k < m:
            p = ps[k] if ps[k] < 100.0 else 100.0
            target = np.int64(p * total / 100.0 + 0.5)
            if target < 1:
                target = 1
            if run < target:
                break
            out[k] = index_lowest(i) if p == 0.0 else index_highest(i)
            k += 1
        if k >= m:
            return


@njit
def bucket_moments(counts):
    """(count, mean, stddev) over median equivalent values, as HdrHistogram reports them."""
    total = np.int64(0)
    s = 0.0
    for i in range(counts.shape[0]):
        c = counts[i]
        if c:
            total += c
            s += float(index_median(i)) * c
    if total == 0:
        return 0, 0.0, 0.0
    mean = s / total
    d = 0.0
    for i in range(counts.shape[0]):
        c = counts[i]
        if c:
            x = float(index_median(i)) - mean
            d += x * x * c
    return total, mean, math.sqrt(d / total)


@njit
def percentile_rows(counts, ticks, out_value, out_pct, out_count):
    """HdrHistogram's percentile iteration (Java ``PercentileIterator``): rows of
    (highest equivalent value, percentile level, running count) at levels that halve the
    distance to 100 % every ``ticks`` rows, then one last row at 100 %. Returns the number
    of rows written (the arrays must be long enough: ``rows_bound``)."""
    total = np.int64(0)
    for i in range(counts.shape[0]):
        total += counts[i]
    if total == 0:
        return 0
    n = 0
    run = np.int64(0)
    level = 0.0
    last = 0
    for i in range(counts.shape[0]):
        c = counts[i]
        if c == 0:
            continue
        last = i
        run += c
        while n < out_value.shape[0] - 1:
            if 100.0 * run / total < level:
                break
            out_value[n] = index_highest(i)
            out_pct[n] = level
            out_count[n] = run
            n += 1
            gap = 100.0 - level
            if gap > 0.0:
                half = 2.0 ** (np.int64(math.log(100.0 / gap) / math.log(2.0)) + 1)
                level += 100.0 / (ticks * half)
            if run >= total:
                break
        if run >= total:
            break
    out_value[n] = index_highest(last)
    out_pct[n] = 100.0
    out_count[n] = total
    return n + 1


def rows_bound(counts: np.ndarray, ticks: int) -> int:
    """An upper bound on the rows :func:`percentile_rows` writes."""
    nonzero = int(np.count_nonzero(counts))
    return nonzero + ticks * 70 + 2
