"""Sweep plots (matplotlib, Agg): p99 RTT vs interrupt rate per setting with each profile's
Pareto front, and a heat map of p99 over settings × profiles. Returns what was drawn so
callers and tests can check it without looking at pixels."""

from __future__ import annotations

import os
from typing import Any

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _mpl():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_pareto(path: str, cells: list[dict], title: str = "p99 RTT vs interrupt rate"
                ) -> dict[str, Any]:
    plt = _mpl()
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=100)
    profiles = sorted({c["profile"] for c in cells})
    settings = list(dict.fromkeys(c["setting"]["label"] for c in cells))
    markers = "osD^v<>ph*"
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    drawn = 0
    for si, label in enumerate(settings):
        pts = [c for c in cells if c["setting"]["label"] == label and c["irq_rate"]]
        if not pts:
            continue
        ax.scatter([c["irq_rate"] for c in pts], [c["rtt"]["p99_us"] for c in pts],
                   marker=markers[si % len(markers)], color=colours[si % len(colours)],
                   s=46, label=label, zorder=3)
        for c in pts:
            ax.annotate(c["profile"], (c["irq_rate"], c["rtt"]["p99_us"]), fontsize=7,
                        xytext=(4, 3), textcoords="offset points", alpha=0.7)
        drawn += len(pts)
    fronts = 0
    for prof in profiles:
        front = sorted((c for c in cells if c["profile"] == prof and c.get("pareto")
                        and c["irq_rate"]), key=lambda c: c["irq_rate"])
        if len(front) >= 1:
            ax.plot([c["irq_rate"] for c in front], [c["rtt"]["p99_us"] for c in front],
                    "--", color="grey", linewidth=1, zorder=2)
            ax.scatter([c["irq_rate"] for c in front], [c["rtt"]["p99_us"] for c in front],
                       s=160, facecolors="none", edgecolors="black", linewidths=1, zorder=4)
            fronts += 1
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("interrupts per second (both ends)")
    ax.set_ylabel("p99 RTT (µs)")
    ax.set_title(title + "  (circled, dashed: Pareto front per profile)")
    ax.grid(True, which="both", alpha=0.3)
    if drawn:
        ax.legend(fontsize=8, title="setting")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return {"path": path, "points": drawn, "fronts": fronts, "settings": settings}


def plot_heatmap(path: str, cells: list[dict], metric: str = "p99_us") -> dict[str, Any]:
    import numpy as np

    plt = _mpl()
    settings = list(dict.fromkeys(c["setting"]["label"] for c in cells))
    profiles = list(dict.fromkeys(c["profile"] for c in cells))
    grid = np.full((len(settings), len(profiles)), np.nan)
    for c in cells:
        grid[settings.index(c["setting"]["label"]), profiles.index(c["profile"])] = (
            c["rtt"][metric] if metric in c["rtt"] else c.get(metric, np.nan))
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(profiles), 1.2 + 0.55 * len(settings)),
                           dpi=100)
    im = ax.imshow(grid, cmap="viridis_r", aspect="auto")
    ax.set_xticks(range(len(profiles)), profiles)
    ax.set_yticks(range(len(settings)), settings)
    for i in range(len(settings)):
        for j in range(len(profiles)):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.0f}", ha="center", va="center", fontsize=8,
                        color="white" if grid[i, j] > np.nanmean(grid) else "black")
    fig.colorbar(im, ax=ax, label=f"{metric.replace('_us', '')} RTT (µs)")
    ax.set_title(f"{metric.replace('_us', '')} RTT by setting and profile")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return {"path": path, "shape": list(grid.shape)}


def plot_sweep(directory: str, cells: list[dict]) -> list[str]:
    """Both PNGs into ``directory``; returns their paths."""
    os.makedirs(directory, exist_ok=True)
    a = plot_pareto(os.path.join(directory, "p99_vs_irq_rate.png"), cells)
    b = plot_heatmap(os.path.join(directory, "p99_heatmap.png"), cells)
    return [a["path"], b["path"]]
