"""Live one-line statistics (bcc-tools style) and the final text summary of gen / sink.

Programs call ``on_tick(snapshot)`` with *cumulative* counters once per interval of the
backend clock; :class:`LiveStats` turns two snapshots into an interval row (rates), prints
one line under 80 columns when the stream is a TTY (or ``force``), and hands the same row
to an optional CSV writer. A start line says how to stop. Nothing here imports numba.

Snapshot keys: ``t`` (s since start), ``packets``, ``bytes``, ``wire_bits``, ``drops``,
``errors``, ``queues`` ({queue: packets}); a sink adds ``lost``, ``reordered``,
``duplicates``.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

WIDTH = 79
_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
_EXTRA = (("lost", "lost"), ("reordered", "reord"), ("duplicates", "dup"))


def si(value: float, unit: str = "") -> str:
    """Compact SI formatting: 14880952 -> '14.88M' (3-4 significant digits)."""
    v = float(value)
    for scale, p in _PREFIXES:
        if abs(v) >= scale:
            x = v / scale
            return f"{x:.2f}{p}{unit}" if x < 100 else f"{x:.1f}{p}{unit}"
    return f"{v:.0f}{unit}"


def interval_row(prev: dict[str, Any] | None, cur: dict[str, Any]) -> dict[str, Any]:
    """Interval deltas and rates between two cumulative snapshots (``prev`` None: from 0)."""
    prev = prev or {}
    dt = cur["t"] - prev.get("t", 0.0)
    rate = (lambda d: d / dt) if dt > 0 else (lambda d: 0.0)
    row: dict[str, Any] = {"t_s": round(cur["t"], 6), "interval_s": round(dt, 6)}
    for key in ("packets", "bytes", "wire_bits", "drops", "errors", "lost", "reordered",
                "duplicates"):
        if key in cur:
            row[key] = cur[key] - prev.get(key, 0)
    row["pps"] = rate(row["packets"])
    row["wire_bps"] = rate(row.get("wire_bits", 0))
    pq = prev.get("queues", {})
    row["queues"] = {q: rate(n - pq.get(q, 0)) for q, n in cur.get("queues", {}).items()}
    return row


def format_line(row: dict[str, Any], width: int = WIDTH) -> str:
    """``   3.0s  14.88Mpps  10.00Gb/s  drop 0  err 0  q0 7.44M q1 7.44M`` (<= width)."""
    parts = [f"{row['t_s']:7.1f}s", f"{si(row['pps'], 'pps'):>9}",
             f"{si(row['wire_bps'], 'b/s'):>9}"]
    for key, label in _EXTRA:
        if key in row:
            parts.append(f"{label} {row[key]}")
    parts.append(f"drop {row.get('drops', 0)}")
    parts.append(f"err {row.get('errors', 0)}")
    line = "  ".join(parts)
    queues = list(row.get("queues", {}).items())
    if len(queues) > 1:
        line += " "
        for k, (q, pps) in enumerate(queues):
            item = f" q{q} {si(pps)}"
            rest = len(queues) - k - 1
            reserve = len(f" +{rest}q") if rest else 0
            if len(line) + len(item) + reserve > width:
                line += f" +{len(queues) - k}q"
                break
            line += item
    return line[:width]


class LiveStats:
    """The ``on_tick`` callback of gen/sink: a line per interval on a TTY, CSV rows always.

    ``force`` prints even when ``stream`` is not a terminal (``--live``); ``csv`` is an
    object with ``write_row(row)`` (see :mod:`enatool.report.csvout`).
    """

    def __init__(self, stream: TextIO | None = None, *, force: bool = False, csv: Any = None):
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(force or (isatty is not None and isatty()))
        self.csv = csv
        self.prev: dict[str, Any] | None = None
        self.rows = 0

    def start(self, what: str) -> None:
        if self.enabled:
            self._print(f"{what}. Ctrl-C to stop.")

    def __call__(self, snapshot: dict[str, Any]) -> None:
        row = interval_row(self.prev, snapshot)
        self.prev = snapshot
        self.rows += 1
        if self.enabled:
            self._print(format_line(row))
        if self.csv is not None:
            self.csv.write_row(row)

    def _print(self, line: str) -> None:
        print(line[:WIDTH], file=self.stream, flush=True)


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The final human summary of a gen or sink run (each line under 80 columns)."""
    prog = summary.get("program", "gen")
    lines = [f"{prog}: {summary['packets']} packets, {summary['bytes']} bytes in "
             f"{summary['duration_s']:.3f} s (stopped by {summary['stopped_by']})",
             f"  rate: {si(summary['pps'], 'pps')}, {si(summary['wire_bps'], 'b/s')} on the wire"]
    if prog == "gen":
        if summary.get("rate_ratio") is not None:
            req = (si(summary["requested_pps"], "pps") if summary.get("requested_pps")
                   else si(summary["requested_bps"], "b/s"))
            lines.append(f"  requested {req}: achieved {100 * summary['rate_ratio']:.1f} %")
        lines.append(f"  probed {summary['probed']}  ring-full {summary['tx_ring_full']}  "
                     f"drops {summary['drops']}  errors {summary['errors']}")
    else:
        ratio = summary.get("loss_ratio")
        loss = "n/a" if ratio is None else f"{100 * ratio:.4f} %"
        lines.append(f"  probes {summary['probes']} in {summary['flows_seen']} flows  "
                     f"lost {summary['lost']} ({loss})")
        lines.append(f"  reordered {summary['reordered']}  dup {summary['duplicates']}  "
                     f"late {summary['late']}  foreign {summary['foreign']}  "
                     f"csum-err {summary['csum_errors']}")
        d = summary.get("one_way_delay") or {}
        if d.get("count"):
            lines.append(f"  one-way delay: min {d['min_ns'] / 1e3:.1f} us  "
                         f"mean {d['mean_ns'] / 1e3:.1f} us  max {d['max_ns'] / 1e3:.1f} us")
    for q in summary.get("per_queue", []):
        lines.append(f"  q{q['queue']}: {q['packets']} packets, {q['bytes']} bytes")
    return [ln[:WIDTH] for ln in lines]
