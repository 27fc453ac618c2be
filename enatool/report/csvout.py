"""``--csv FILE``: one row per live-stats interval, columns fixed at the start.

Columns are stable (scripts index them by name): the interval row of
:func:`enatool.report.stats.interval_row` flattened, per-queue rates as ``q<N>_pps``.
Rows are flushed as written so a killed run still leaves a usable file.
"""

from __future__ import annotations

import csv
from typing import IO, Any

GEN_COLUMNS = ("t_s", "interval_s", "packets", "bytes", "wire_bits", "pps", "wire_bps",
               "drops", "errors")
SINK_COLUMNS = GEN_COLUMNS + ("lost", "reordered", "duplicates")


class CsvSeries:
    """Write interval rows to ``path`` (or an open text file) with a header line."""

    def __init__(self, target: str | IO[str], queues: list[int], program: str = "gen"):
        self._own = isinstance(target, str)
        self._file: IO[str] = open(target, "w", newline="") if self._own else target  # noqa: SIM115
        base = SINK_COLUMNS if program == "sink" else GEN_COLUMNS
        self.columns = list(base) + [f"q{q}_pps" for q in queues]
        self._writer = csv.writer(self._file)
        self._writer.writerow(self.columns)
        self._file.flush()

    def write_row(self, row: dict[str, Any]) -> None:
        flat = dict(row)
        for q, pps in row.get("queues", {}).items():
            flat[f"q{q}_pps"] = pps
        out = []
        for c in self.columns:
            v = flat.get(c, "")
            out.append(f"{v:.6g}" if isinstance(v, float) else v)
        self._writer.writerow(out)
        self._file.flush()

    def close(self) -> None:
        if self._own:
            self._file.close()

    def __enter__(self) -> CsvSeries:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
