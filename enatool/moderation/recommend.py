"""Pick a setting from a sweep, tune the 2016 5-level table, and say how to apply both.

Scores are relative, per profile, so profiles of very different scale weigh the same:
``latency`` = p99 / best p99 (+ a little CPU to break ties), ``throughput`` = best
throughput / throughput (weighted 4) + CPU / least CPU, ``balanced`` = the mean of the p99
and CPU ratios. Constraints (``max_irq_rate`` per host, ``p99_target``) make a setting
infeasible; if none is feasible the best infeasible one is named and flagged.

The table tuner is a seeded coordinate search over the table's intervals and thresholds
(one field of one row at a time, multiplicative steps, rows kept monotone), each candidate
run on the model against the chosen profiles, kept only when it lowers the objective
(normalised against the default table, so 1.0 = default for latency/balanced).
"""

from __future__ import annotations

import numpy as np

from enatool.moderation.model import DEFAULT_TABLE, LEVELS, ModelParams, Setting, run_cell
from enatool.moderation.profiles import build_traffic

OBJECTIVES = ("latency", "throughput", "balanced")


def _host_irq(cell: dict) -> float:
    ends = cell.get("ends")
    return max(e["irq_rate"] for e in ends) if ends else (cell["irq_rate"] or 0.0)


def _violations(cell: dict, max_irq_rate, p99_target) -> list[str]:
    out = []
    if max_irq_rate is not None and _host_irq(cell) > max_irq_rate:
        out.append(f"{cell['profile']}: {_host_irq(cell):.0f} irq/s > {max_irq_rate:g}")
    if p99_target is not None and cell["rtt"]["p99_us"] > p99_target:
        out.append(f"{cell['profile']}: p99 {cell['rtt']['p99_us']:.1f} us > {p99_target:g}")
    return out


def _ratio(v, best):
    return (v / best) if best and best > 0 else 1.0


def objective_value(objective: str, cells: list[dict], refs: dict[str, dict]) -> float:
    """Objective of one setting's cells; ``refs[profile]`` = best/baseline p99, cpu, tput."""
    vals = []
    for c in cells:
        ref = refs[c["profile"]]
        p99 = _ratio(c["rtt"]["p99_us"], ref["p99"])
        cpu = _ratio(c["cpu_pct"] or 0.0, ref["cpu"])
        tput = _ratio(ref["tput"], c["throughput_gbps"]) if c["throughput_gbps"] else 10.0
        if objective == "latency":
            vals.append(p99 + 0.05 * cpu)
        elif objective == "throughput":
            vals.append(4 * tput + cpu)
        else:
            vals.append(0.5 * p99 + 0.5 * cpu)
    return float(np.mean(vals)) if vals else float("inf")


def rank_settings(cells: list[dict], objective: str = "balanced", max_irq_rate=None,
                  p99_target=None) -> list[dict]:
    """Settings of a sweep, best first: {setting, score, feasible, violations, cells}."""
    by_setting: dict[str, list[dict]] = {}
    for c in cells:
        by_setting.setdefault(c["setting"]["label"], []).append(c)
    refs: dict[str, dict] = {}
    for c in cells:
        r = refs.setdefault(c["profile"], {"p99": float("inf"), "cpu": float("inf"),
                                           "tput": 0.0})
        r["p99"] = min(r["p99"], c["rtt"]["p99_us"] or float("inf"))
        r["cpu"] = min(r["cpu"], c["cpu_pct"] if c["cpu_pct"] is not None else float("inf"))
        r["tput"] = max(r["tput"], c["throughput_gbps"])
    ranked = []
    for label, group in by_setting.items():
        viol = [v for c in group for v in _violations(c, max_irq_rate, p99_target)]
        ranked.append({"label": label, "setting": group[0]["setting"],
                       "score": objective_value(objective, group, refs),
                       "feasible": not viol, "violations": viol, "cells": group})
    ranked.sort(key=lambda r: (not r["feasible"], r["score"]))
    return ranked


def gains(chosen: list[dict], baseline: list[dict]) -> dict[str, dict]:
    """Per profile: chosen vs baseline (negative = lower)."""
    base = {c["profile"]: c for c in baseline}
    out = {}
    for c in chosen:
        b = base.get(c["profile"])
        if b is None:
            continue

        def pct(new, old):
            return round(100.0 * (new - old) / old, 1) if old else 0.0

        out[c["profile"]] = {
            "p99_us": [b["rtt"]["p99_us"], c["rtt"]["p99_us"],
                       pct(c["rtt"]["p99_us"], b["rtt"]["p99_us"])],
            "irq_rate": [round(b["irq_rate"]), round(c["irq_rate"]),
                         pct(c["irq_rate"], b["irq_rate"])],
            "cpu_pct": [round(b["cpu_pct"], 2), round(c["cpu_pct"], 2),
                        pct(c["cpu_pct"], b["cpu_pct"])],
            "throughput_gbps": [round(b["throughput_gbps"], 3),
                                round(c["throughput_gbps"], 3),
                                pct(c["throughput_gbps"], b["throughput_gbps"])]}
    return out


# -- table tuner ---------------------------------------------------------------------------

def _monotone(table: list[list[int]]) -> list[list[int]]:
    for i in range(1, len(table)):
        for f in range(3):
            table[i][f] = max(table[i][f], table[i - 1][f])
    return table


def _penalty(cells, max_irq_rate, p99_target) -> float:
    pen = 0.0
    for c in cells:
        if max_irq_rate is not None and _host_irq(c) > max_irq_rate:
            pen += 10.0 * (_host_irq(c) / max_irq_rate - 1.0) + 1.0
        if p99_target is not None and c["rtt"]["p99_us"] > p99_target:
            pen += 10.0 * (c["rtt"]["p99_us"] / p99_target - 1.0) + 1.0
    return pen


def tune_table(profiles: dict[str, dict], objective: str = "balanced", *,
               tx_usecs: int = 64, duration: float = 0.2, params: ModelParams | None = None,
               max_irq_rate=None, p99_target=None, budget: int = 48, seed: int = 1,
               progress=None) -> dict:
    """Search 5-level tables; returns {table, objective, baseline_objective, cells,
    baseline_cells, evaluations, accepted}."""
    params = params or ModelParams()
    rng = np.random.default_rng(seed)
    traffic = {n: build_traffic(p, duration, params, seed) for n, p in profiles.items()}

    def evaluate(table) -> list[dict]:
        s = Setting(mode="table", tx_usecs=tx_usecs, table=tuple(tuple(r) for r in table))
        cells = []
        for n, tr in traffic.items():
            r = run_cell(s, tr, params)
            cells.append({"profile": n, "setting": s.as_dict(), **r})
        return cells

    base_cells = evaluate(DEFAULT_TABLE)
    refs = {c["profile"]: {"p99": c["rtt"]["p99_us"], "cpu": c["cpu_pct"],
                           "tput": c["throughput_gbps"]} for c in base_cells}

    def score(cells) -> float:
        return objective_value(objective, cells, refs) + _penalty(cells, max_irq_rate,
                                                                  p99_target)

    best = [list(r) for r in DEFAULT_TABLE]
    best_cells = base_cells
    best_score = base_score = score(base_cells)
    accepted = 0
    factors = (0.25, 0.5, 0.75, 1.5, 2.0, 3.0)
    seen = {tuple(map(tuple, best))}
    for i in range(budget):
        cand = [list(r) for r in best]
        row = int(rng.integers(0, 5))
        fld = int(rng.integers(0, 3))
        if fld == 0 and cand[row][0] == 0:
            cand[row][0] = int(rng.choice((2, 4, 8, 16)))
        else:
            f = float(rng.choice(factors))
            cand[row][fld] = max(0 if fld == 0 else 1, int(round(cand[row][fld] * f)))
        cand = _monotone(cand)
        key = tuple(map(tuple, cand))
        if key in seen:
            continue
        seen.add(key)
        cells = evaluate(cand)
        sc = score(cells)
        if sc < best_score - 1e-9:
            best, best_cells, best_score = cand, cells, sc
            accepted += 1
        if progress:
            progress(i + 1, budget, best_score, base_score)
    return {"table": best, "objective": best_score, "baseline_objective": base_score,
            "cells": best_cells, "baseline_cells": base_cells, "evaluations": len(seen),
            "accepted": accepted, "objective_name": objective, "duration_s": duration,
            "seed": seed}


# -- commands --------------------------------------------------------------------------------

def ethtool_command(setting: dict, iface: str = "$IFACE") -> str:
    tx = setting["tx_usecs"]
    if setting["mode"] == "static":
        return f"ethtool -C {iface} adaptive-rx off rx-usecs {setting['rx_usecs']} tx-usecs {tx}"
    return f"ethtool -C {iface} tx-usecs {tx} adaptive-rx on"


def table_commands(table, iface: str = "$IFACE") -> list[str]:
    """The old driver's sysfs writes (amzn-drivers 1.0.0 - 2.1.2) and the enatool equivalent
    for the software device."""
    dev = f"/sys/class/net/{iface}/device"
    lines = [f"echo 1 > {dev}/enable_adaptive_intr_moderation"]
    for lvl, row in zip(LEVELS, table, strict=True):
        lines.append(f'echo "{row[0]} {row[1]} {row[2]}" > {dev}/intr_moderation_{lvl}')
    levels = " ".join(f"--level {lvl}={r[0]},{r[1]},{r[2]}"
                      for lvl, r in zip(LEVELS, table, strict=True))
    lines.append(f"enatool moderation set --mode table {levels}")
    return lines
