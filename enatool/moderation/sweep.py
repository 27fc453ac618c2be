"""Sweeps: settings × profiles, one result per cell, resumable, with a Pareto front.

Results are appended to a JSON-lines file as each cell finishes (one complete line, flushed
and fsync'ed), keyed by setting, profile, duration, model and seed: a sweep that was killed
and started again skips the cells it already has. A torn last line is ignored.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Callable
from pathlib import Path

from enatool.moderation.model import ModelParams, Setting, run_cell
from enatool.moderation.profiles import build_traffic

CSV_FIELDS = ("setting", "profile", "irq_rate", "p50_us", "p90_us", "p99_us", "p999_us",
              "rtt_count", "throughput_gbps", "rx_mpps", "cpu_pct", "drops", "pareto")


def profile_key(name: str, prof: dict) -> str:
    h = hashlib.sha1(json.dumps(prof, sort_keys=True).encode()).hexdigest()[:8]
    return f"{name}#{h}"


def cell_key(setting: Setting, pname: str, prof: dict, duration: float, model_key: str,
             seed: int) -> str:
    return f"{setting.key()}|{profile_key(pname, prof)}|{duration:g}s|{model_key}|seed={seed}"


def default_results_path(grid_key: str) -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "enatool" / "sweeps" / f"{grid_key}.jsonl"


def grid_key(settings, profiles: dict, duration: float, model_key: str, seed: int) -> str:
    text = json.dumps([[s.key() for s in settings],
                       [profile_key(n, p) for n, p in profiles.items()],
                       duration, model_key, seed])
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def load_results(path: Path | None) -> dict[str, dict]:
    done: dict[str, dict] = {}
    if path is None or not path.exists():
        return done
    with open(path) as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a line torn by a kill
            if isinstance(rec, dict) and "key" in rec:
                done[rec["key"]] = rec
    return done


def _append(path: Path, rec: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")
        f.flush()
        os.fsync(f.fileno())


class ResumableCells:
    """The bookkeeping both sweeps share: a cell already in the results file is reused,
    a new one is computed, appended to the file at once (a killed sweep resumes from there)
    and reported to ``progress(done, total, record, reused)``."""

    def __init__(self, results: Path | None, total: int,
                 progress: Callable[[int, int, dict, bool], None] | None):
        self.results = results
        self.done = load_results(results)
        self.total = total
        self.progress = progress
        self.out: list[dict] = []

    def cell(self, key: str, compute: Callable[[], dict]) -> dict:
        """The record of ``key``: from the file, or ``{"key": key, **compute()}``."""
        rec = self.done.get(key)
        reused = rec is not None
        if rec is None:
            rec = {"key": key, **compute()}
            if self.results is not None:
                _append(self.results, rec)
        self.out.append(rec)
        if self.progress:
            self.progress(len(self.out), self.total, rec, reused)
        return rec


def run_model_sweep(settings: list[Setting], profiles: dict[str, dict], duration: float,
                    params: ModelParams | None = None, results: Path | None = None,
                    seed: int = 7, progress: Callable[[int, int, dict, bool], None] | None = None
                    ) -> list[dict]:
    """Every (setting, profile) cell on the model; cells already in ``results`` are reused.

    ``progress(done, total, record, reused)`` after each cell."""
    params = params or ModelParams()
    cells = ResumableCells(results, len(settings) * len(profiles), progress)
    traffic_cache: dict[str, object] = {}

    def compute(s: Setting, pname: str, prof: dict) -> dict:
        tr = traffic_cache.get(pname)
        if tr is None:
            tr = traffic_cache[pname] = build_traffic(prof, duration, params, seed)
        return {"setting": s.as_dict(), "profile": pname, "duration_s": duration,
                **run_cell(s, tr, params)}

    for pname, prof in profiles.items():
        for s in settings:
            cells.cell(cell_key(s, pname, prof, duration, params.key(), seed),
                       lambda s=s, pname=pname, prof=prof: compute(s, pname, prof))
    mark_pareto(cells.out)
    return cells.out


def mark_pareto(cells: list[dict]) -> None:
    """Per profile: a cell is on the front when no other has both fewer interrupts/s and a
    lower p99 (one of them strictly)."""
    by_profile: dict[str, list[dict]] = {}
    for c in cells:
        by_profile.setdefault(c["profile"], []).append(c)
    for group in by_profile.values():
        for c in group:
            x, y = c["irq_rate"], c["rtt"]["p99_us"]
            c["pareto"] = not any(
                (o["irq_rate"] <= x and o["rtt"]["p99_us"] <= y)
                and (o["irq_rate"] < x or o["rtt"]["p99_us"] < y) for o in group if o is not c)


def csv_rows(cells: list[dict]) -> list[dict]:
    rows = []
    for c in cells:
        r = c["rtt"]
        rows.append({"setting": c["setting"]["label"], "profile": c["profile"],
                     "irq_rate": round(c["irq_rate"], 1) if c["irq_rate"] is not None else "",
                     "p50_us": r["p50_us"], "p90_us": r["p90_us"], "p99_us": r["p99_us"],
                     "p999_us": r["p999_us"], "rtt_count": r["count"],
                     "throughput_gbps": round(c["throughput_gbps"], 4),
                     "rx_mpps": round(c.get("rx_mpps") or 0.0, 4),
                     "cpu_pct": round(c["cpu_pct"], 2) if c["cpu_pct"] is not None else "",
                     "drops": c.get("drops", 0), "pareto": int(bool(c.get("pareto")))})
    return rows


def to_csv(cells: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for row in csv_rows(cells):
        w.writerow(row)
    return buf.getvalue()
