"""Latency plots (matplotlib, Agg): a CDF on HdrHistogram's log ``1/(1-p)`` axis and a
histogram, one line/series per mode, both in one PNG. Input is histogram counters
(:mod:`numba_kernels.hdr`), never raw samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numba_kernels import hdr

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _cdf(counts: np.ndarray, ticks: int = 5) -> tuple[np.ndarray, np.ndarray]:
    m = hdr.rows_bound(counts, ticks)
    vals, pcts, runs = np.zeros(m, np.int64), np.zeros(m), np.zeros(m, np.int64)
    n = int(hdr.percentile_rows(counts, ticks, vals, pcts, runs))
    return vals[:n], pcts[:n]


def plot_latency(path: str, series: dict[str, np.ndarray], title: str = "RTT",
                 scale: float = 1000.0, unit: str = "µs") -> dict[str, Any]:
    """Write ``path`` (PNG) for ``{label: counts}``; returns what was drawn (labels,
    points per series, the path) so callers and tests can check it without pixels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_cdf, ax_hist) = plt.subplots(1, 2, figsize=(12, 4.5))
    drawn: dict[str, Any] = {"path": path, "series": {}}
    max_x = 1.0
    for label, counts in series.items():
        vals, pcts = _cdf(counts)
        if len(vals) == 0:
            drawn["series"][label] = {"cdf_points": 0, "hist_bins": 0}
            continue
        # 1/(1-p) is infinite at 100 %: plot the last finite level
        finite = pcts < 100.0
        x = 1.0 / (1.0 - pcts[finite] / 100.0)
        y = vals[finite] / scale
        ax_cdf.plot(x, y, drawstyle="steps-post", label=label)
        max_x = max(max_x, float(x.max()) if len(x) else 1.0)
        nz = np.flatnonzero(counts)
        lo = np.array([hdr.index_lowest(int(i)) for i in nz]) / scale
        ax_hist.hist(lo, bins=min(80, max(len(nz), 1)), weights=counts[nz], alpha=0.6,
                     label=label, log=True)
        drawn["series"][label] = {"cdf_points": int(len(x)), "hist_bins": int(len(nz))}
    ax_cdf.set_xscale("log")
    ticks = [t for t in (1, 2, 10, 100, 1000, 10000, 100000, 1e6) if t <= max_x * 1.01]
    ax_cdf.set_xticks(ticks)
    names = {1: "0%", 2: "50%", 10: "90%", 100: "99%", 1000: "99.9%", 10000: "99.99%",
             100000: "99.999%", 1e6: "99.9999%"}
    ax_cdf.set_xticklabels([names[t] for t in ticks])
    ax_cdf.set_xlabel("percentile (log 1/(1-p))")
    ax_cdf.set_ylabel(f"{title} ({unit})")
    ax_cdf.grid(True, which="both", alpha=0.3)
    ax_cdf.legend()
    ax_cdf.set_title(f"{title} by percentile")
    ax_hist.set_xlabel(f"{title} ({unit})")
    ax_hist.set_ylabel("probes")
    ax_hist.legend()
    ax_hist.set_title(f"{title} histogram")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=90)
    plt.close(fig)
    drawn["labels"] = list(series)
    return drawn
