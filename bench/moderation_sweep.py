"""Wall time of the issue #7 quality bar: 5 settings x 3 profiles x 1 s of virtual time on
the software device's moderation model, end to end through the CLI (cold process, numba
cache warm after the first run). Prints JSON.

    .venv/bin/python bench/moderation_sweep.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_run(state: str) -> tuple[float, dict]:
    cmd = [sys.executable, "-c", "from enatool.cli.main import main; main()", "moderation",
           "sweep", "--fresh", "--no-progress", "--json"]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=True,
                       env={**os.environ, "XDG_STATE_HOME": state})
    return time.perf_counter() - t0, json.loads(p.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as state:
        walls, inner = [], []
        for _ in range(args.runs):
            wall, doc = one_run(state)
            walls.append(wall)
            inner.append(doc["wall_s"])
            cells = doc["cells"]
    virtual = sum(c["duration_s"] for c in cells)
    frames = sum(sum(e["rx_packets"] for e in c["ends"]) for c in cells)
    print(json.dumps({
        "bench": "moderation_sweep", "cells": len(cells), "virtual_s": virtual,
        "frames_simulated": frames, "cpus": os.cpu_count(),
        "process_wall_s": [round(w, 2) for w in walls],
        "sweep_wall_s": [round(w, 2) for w in inner],
        "budget_s": 30.0, "within_budget": max(walls) < 30.0}, indent=2))


if __name__ == "__main__":
    main()
