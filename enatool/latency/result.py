"""Where probe answers are accounted: the arrays the compiled loops write (state, seq
window, RTT histogram, three ``--split`` histograms) and the summary built from them.

Times are ns inside; the summary reports µs. RTT/2 is RTT halved (a symmetric-path
estimate, what sockperf prints as latency).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from numba_kernels import hdr
from numba_kernels import latency as kl

PERCENTILES = (50.0, 90.0, 99.0, 99.9, 99.99)
PNAMES = ("p50", "p90", "p99", "p99.9", "p99.99")
SPLIT_NAMES = ("client_stack", "wire_reflector", "rx_to_user")
SEEN_WINDOW = 1 << 16


@dataclass
class Recorder:
    """Shared with one compiled loop; read live (racy but monotonic) by the live line."""

    highest: int = hdr.DEFAULT_HIGHEST
    st: np.ndarray = field(init=False)
    seen: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.st = np.zeros(kl.S_N, np.int64)
        self.seen = np.full(SEEN_WINDOW, -1, np.int64)
        self.hc, self.hs, self.hm = hdr.new(self.highest)
        L = len(self.hc)
        self.pc = np.zeros((kl.P_N, L), np.int64)
        self.ps = np.zeros((kl.P_N, hdr.ST_N), np.int64)
        self.ps[:, hdr.ST_MIN] = hdr.I64_MAX
        self.pm = np.zeros((kl.P_N, hdr.M_N), np.float64)

    def hist_args(self) -> tuple:
        return (self.st, self.seen, self.hc, self.hs, self.hm, self.pc, self.ps, self.pm)

    def record_ns(self, values: np.ndarray) -> None:
        """Record RTTs measured outside a compiled loop (the software device path)."""
        v = np.ascontiguousarray(values, np.int64)
        hdr.record_many(self.hc, self.hs, self.hm, v, len(v))
        self.st[kl.S_RECV] += len(v)
        if len(v):
            self.st[kl.S_LAST_RTT] = int(v[-1])


def dist(counts: np.ndarray, stats: np.ndarray, moments: np.ndarray,
         factor: float = 1.0) -> dict[str, float | int]:
    """Percentiles, min/max, exact mean and stddev in µs (``factor`` 0.5 for RTT/2)."""
    n = int(stats[hdr.ST_COUNT])
    out = np.zeros(len(PERCENTILES), np.int64)
    hdr.percentiles(counts, n, np.array(PERCENTILES), out)
    scale = factor / 1000.0
    d: dict[str, float | int] = {"count": n}
    for name, v in zip(PNAMES, out, strict=True):
        d[name] = round(float(v) * scale, 3)
    if n:
        mean = stats[hdr.ST_SUM] / n
        var = max(moments[hdr.M_SUMSQ] / n - mean * mean, 0.0)
        d.update(min=round(float(stats[hdr.ST_MIN]) * scale, 3),
                 max=round(float(stats[hdr.ST_MAX]) * scale, 3),
                 mean=round(float(mean) * scale, 3), stddev=round(float(var) ** 0.5 * scale, 3))
    else:
        d.update(min=0.0, max=0.0, mean=0.0, stddev=0.0)
    d["clamped"] = int(stats[hdr.ST_OVER])
    return d


def summary(rec: Recorder) -> dict[str, Any]:
    """Counts and distributions of one run (the mode fields are added by the caller)."""
    st = rec.st
    sent, got = int(st[kl.S_SENT]), int(st[kl.S_RECV])
    out: dict[str, Any] = {
        "sent": sent, "received": got, "lost": sent - got,
        "loss_pct": round(100.0 * (sent - got) / sent, 4) if sent else 0.0,
        "reordered": int(st[kl.S_REORDER]), "duplicates": int(st[kl.S_DUP]),
        "late": int(st[kl.S_LATE]), "timeouts": int(st[kl.S_TIMEOUTS]),
        "not_probes": int(st[kl.S_BAD]), "send_errors": int(st[kl.S_SEND_ERR]),
        "no_tx_frame": int(st[kl.S_NO_FRAME]),
        "warmup": {"sent": int(st[kl.S_WARM_SENT]), "received": int(st[kl.S_WARM_RECV])},
        "rtt_us": dist(rec.hc, rec.hs, rec.hm),
        "rtt_half_us": dist(rec.hc, rec.hs, rec.hm, 0.5),
    }
    n_split = int(st[kl.S_SPLIT])
    out["split_us"] = None if n_split == 0 else {
        name: dist(rec.pc[i], rec.ps[i], rec.pm[i]) for i, name in enumerate(SPLIT_NAMES)}
    return out


def live_row(rec: Recorder, t: float) -> str:
    """One line under 80 columns for the live display."""
    st = rec.st
    out = np.zeros(2, np.int64)
    hdr.percentiles(rec.hc, int(rec.hs[hdr.ST_COUNT]), np.array([50.0, 99.0]), out)
    sent, got = int(st[kl.S_SENT]), int(st[kl.S_RECV])
    return (f"{t:6.1f}s sent {sent:>9} recv {got:>9} lost {max(sent - got, 0):>6} "
            f"rtt p50 {out[0] / 1e3:8.2f} p99 {out[1] / 1e3:8.2f} us")
