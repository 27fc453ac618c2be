"""`enatool moderation show|set|sweep|recommend [IFACE]`: interrupt moderation tuning.

Without IFACE the software ENA device is meant: its settings persist in
``$XDG_STATE_HOME/enatool/moderation.json`` (see ``enatool.moderation.state``) and sweeps
run on the virtual-clock model. With IFACE the kernel is asked through ethtool netlink.
"""

from __future__ import annotations

import json
import sys
import time

import click

from enatool.cli.common import (
    EnatoolCommand,
    EnatoolGroup,
    echo_json,
    json_option,
    writable_dir,
    writable_file,
)
from enatool.errors import UsageError

MAX_DELAY_USECS = 0x7FFF  # the 15-bit rx/tx delay fields of the unmask register

_CTX = {"help_option_names": ["-h", "--help"]}


@click.group("moderation", cls=EnatoolGroup, context_settings=_CTX)
def moderation():
    """Interrupt moderation: show, set, sweep settings x traffic, recommend.

    \b
    Examples:
      enatool moderation show                      the software device's settings
      enatool moderation set --rx-usecs 8 --adaptive-rx off
      enatool moderation sweep --plot out/         5 settings x 3 profiles, PNGs
      enatool moderation recommend --objective latency --max-irq-rate 60000
      enatool moderation show eth0                 a real interface (ethtool netlink)
    """


def _sub(name):
    return moderation.command(name, cls=EnatoolCommand, context_settings=_CTX)


# -- show ------------------------------------------------------------------------------------

def _show_real(iface: str, sample: float) -> dict:
    from enatool import ethtool
    from enatool.moderation import realnet

    co = realnet.get_coalesce(iface)
    info = None
    try:
        info = ethtool.driver_info(iface)
    except Exception:
        info = None
    out = {"interface": iface, "driver": (info or {}).get("driver"),
           "driver_version": (info or {}).get("version"), **co}
    out["queue_irqs"] = realnet.irq_rates(iface, sample) if sample > 0 else {}
    return out


def _show_soft() -> dict:
    from enatool.backends.soft import SoftBackend
    from enatool.moderation import state as st

    s = st.load()
    with SoftBackend(queues=1, era=s.get("era", "today")) as be:
        st.apply_to_backend(be, s)
        back = st.read_backend(be, 0)
    mode_names = {"static": "off", "table": "table (2016 5-level)", "dim": "dim (net DIM)"}
    return {"interface": None, "device": "software ENA device", "era": s["era"],
            "state_source": s["source"], "supported": True,
            "values": {"rx_usecs": s["rx_usecs"], "tx_usecs": s["tx_usecs"],
                       "adaptive_rx": s["mode"] != "static"},
            "adaptive_mode": s["mode"], "adaptive_mode_text": mode_names[s["mode"]],
            "table": {k: [int(x) for x in v.split()] for k, v in back["table"].items()},
            "driver_readback": back}


@_sub("show")
@click.argument("iface", required=False)
@click.option("--sample", type=float, default=0.5, show_default=True,
              help="Real interface: seconds over which IRQ rates are sampled (0 = skip).")
@json_option
def show(iface, sample, as_json):
    """Coalescing settings, adaptive mode and queue IRQ rates.

    Without IFACE: the software ENA device as `set` left it (static values, adaptive
    mode off/table/dim, and the 2016 table read back from its driver)."""
    doc = _show_real(iface, sample) if iface else _show_soft()
    if as_json:
        echo_json(doc)
        return
    if iface:
        click.echo(f"{iface}: driver {doc['driver'] or '?'} {doc['driver_version'] or ''}"
                   .rstrip())
        if not doc["supported"]:
            click.echo(f"  {iface} does not support interrupt coalescing: {doc['reason']}")
        else:
            v = doc["values"]
            click.echo(f"  rx-usecs {v.get('rx_usecs')}  tx-usecs {v.get('tx_usecs')}  "
                       f"adaptive-rx {'on' if v.get('adaptive_rx') else 'off'}  "
                       f"(via {doc['source']})")
        if doc.get("note"):
            click.echo(f"  note: {doc['note']}")
        if doc["queue_irqs"]:
            click.echo("  queue IRQs (per second):")
            for name, rate in doc["queue_irqs"].items():
                click.echo(f"    {name:<24} {rate:10.0f}")
        else:
            click.echo("  no queue IRQs named after this interface in /proc/interrupts")
        return
    v = doc["values"]
    click.echo(f"software ENA device ({doc['era']} driver), settings from "
               f"{doc['state_source']}")
    click.echo(f"  tx-usecs {v['tx_usecs']}  rx-usecs {v['rx_usecs']}  adaptive-rx "
               f"{'on' if v['adaptive_rx'] else 'off'}  mode {doc['adaptive_mode_text']}")
    click.echo("  2016 adaptive table (intr_moderation_<level>: interval_usec pkts bytes):")
    for lvl, row in doc["table"].items():
        click.echo(f"    {lvl:<8} {row[0]:>6} {row[1]:>6} {row[2]:>8}")


# -- set -------------------------------------------------------------------------------------

@_sub("set")
@click.argument("iface", required=False)
@click.option("--rx-usecs", type=int, default=None, help="Static Rx delay (µs).")
@click.option("--tx-usecs", type=int, default=None, help="Static Tx delay (µs).")
@click.option("--adaptive-rx", type=click.Choice(["on", "off"]), default=None)
@click.option("--mode", type=click.Choice(["table", "dim"]), default=None,
              help="Software device: adaptive algorithm (2016 5-level table or net DIM).")
@click.option("--level", "levels", multiple=True, metavar="NAME=INTERVAL,PKTS,BYTES",
              help="Software device: one row of the 5-level table (repeatable).")
@click.option("--restore-defaults", is_flag=True,
              help="Software device: forget the stored settings (driver defaults).")
@click.option("--era", type=click.Choice(["today", "2016"]), default=None,
              help="Software device: which driver's rules (2016 refuses rx-usecs while "
                   "adaptive stays on).")
@json_option
def set_(iface, rx_usecs, tx_usecs, adaptive_rx, mode, levels, restore_defaults, era,
         as_json):
    """Change coalescing (ethtool -C) and, on the software device, the adaptive table.

    The software device keeps the result in $XDG_STATE_HOME/enatool/moderation.json,
    which show, sweep, recommend (and the Python API's apply_to_backend) read."""
    adaptive = None if adaptive_rx is None else adaptive_rx == "on"
    for name, v in (("--rx-usecs", rx_usecs), ("--tx-usecs", tx_usecs)):
        if v is not None and v < 0:
            raise UsageError(f"{name} {v} is negative")
        # the unmask register carries each delay in 15 bits (INTERFACE.md §2): the driver
        # would accept more and the register keep only the low bits, a silent surprise
        if v is not None and v > MAX_DELAY_USECS:
            raise UsageError(f"{name} {v} does not fit the 15-bit interrupt delay field",
                             hint=f"at most {MAX_DELAY_USECS} us (15 bits at the usual 1 us "
                                  "resolution)")
    if iface:
        if mode or levels or restore_defaults or era:
            raise UsageError("--mode/--level/--restore-defaults/--era apply to the software "
                             "device", hint="a real interface takes rx/tx-usecs and "
                                            "adaptive-rx")
        from enatool.moderation import realnet

        cur = realnet.get_coalesce(iface)
        if not cur["supported"]:
            raise UsageError(f"{iface} does not support interrupt coalescing "
                             f"({cur['reason']})")
        how = realnet.set_coalesce(iface, rx_usecs=rx_usecs, tx_usecs=tx_usecs,
                                   adaptive_rx=adaptive)
        after = realnet.get_coalesce(iface)
        if as_json:
            echo_json({"interface": iface, "applied_via": how, **after})
        else:
            v = after.get("values", {})
            click.echo(f"{iface}: rx-usecs {v.get('rx_usecs')} tx-usecs {v.get('tx_usecs')} "
                       f"adaptive-rx {'on' if v.get('adaptive_rx') else 'off'} ({how})")
        return
    from enatool.moderation import state as st

    if restore_defaults:
        if any(x is not None for x in (rx_usecs, tx_usecs, adaptive_rx, mode)) or levels:
            raise UsageError("--restore-defaults takes no other change")
        removed = st.clear()
        doc = {**st.load(), "cleared": removed}
        if as_json:
            echo_json(doc)
        else:
            click.echo("software ENA device: driver defaults restored"
                       + (f" ({st.state_path()} removed)" if removed else ""))
        return
    parsed = [st.parse_level(x) for x in levels]
    if not parsed and all(x is None for x in (rx_usecs, tx_usecs, adaptive_rx, mode, era)):
        raise UsageError("nothing to set", hint="give --rx-usecs, --tx-usecs, --adaptive-rx, "
                                                "--mode, --level or --restore-defaults")
    new = st.apply_changes(st.load(), rx_usecs=rx_usecs, tx_usecs=tx_usecs,
                           adaptive_rx=adaptive, mode=mode, levels=parsed, era=era)
    path = st.save(new)
    if as_json:
        echo_json({**new, "state_file": str(path)})
    else:
        click.echo(f"software ENA device: tx-usecs {new['tx_usecs']} rx-usecs "
                   f"{new['rx_usecs']} mode {new['mode']} (saved to {path})")


# -- sweep -----------------------------------------------------------------------------------

def _progress(enabled: bool):
    tty = sys.stderr.isatty()
    t0 = time.perf_counter()

    def show(i, total, rec, reused):
        if not enabled:
            return
        width = 20
        fill = int(width * i / total)
        bar = "#" * fill + "." * (width - fill)
        msg = (f"[{bar}] {i}/{total} {rec['profile']:<8} {rec['setting']['label']:<14} "
               f"{'(done before)' if reused else f'{time.perf_counter() - t0:5.1f}s'}")
        if tty:
            click.echo("\r" + msg, err=True, nl=i == total)
        else:
            click.echo(msg, err=True)

    return show


def _settings(values, include=()) -> list:
    from enatool.moderation.model import DEFAULT_GRID, parse_setting

    texts = [t for v in values for t in v.split(";") if t.strip()] or list(DEFAULT_GRID)
    out = [parse_setting(t) for t in texts]
    keys = {s.key() for s in out}
    for s in include:
        if s.key() not in keys:
            out.append(s)
            keys.add(s.key())
    return out


def _params(link_rate, delay, cost_irq, cost_pkt):
    from enatool.cli.gen import _rate
    from enatool.moderation.model import ModelParams

    return ModelParams(link_rate_bps=_rate(link_rate) or 0.0, delay_us=delay,
                       cost_irq_us=cost_irq, cost_rx_pkt_us=cost_pkt)


def _table(cells) -> list[str]:
    lines = [f"{'profile':<8} {'setting':<14} {'irq/s':>9} {'p50us':>7} {'p99us':>7} "
             f"{'p999us':>7} {'Gbit/s':>7} {'cpu%':>6} P"]
    for c in cells:
        r = c["rtt"]
        irq = f"{c['irq_rate']:9.0f}" if c["irq_rate"] is not None else f"{'n/a':>9}"
        cpu = f"{c['cpu_pct']:6.1f}" if c["cpu_pct"] is not None else f"{'n/a':>6}"
        lines.append(f"{c['profile']:<8} {c['setting']['label'][:14]:<14} {irq} "
                     f"{r['p50_us']:7.1f} {r['p99_us']:7.1f} {r['p999_us']:7.1f} "
                     f"{c['throughput_gbps']:7.3f} {cpu} {'*' if c.get('pareto') else ''}")
    return lines


def _sweep_options(func):
    opts = [
        click.option("-s", "--setting", "settings", multiple=True, metavar="SPEC",
                     help="A setting (repeatable): rx20/tx64, rx=8,tx=64, dim, table, "
                          "mode=dim,tx=32, NAME:SPEC. Default: rx0,rx20,rx64 (tx64), "
                          "table, dim."),
        click.option("-p", "--profiles", default=None, metavar="A,B,..",
                     help="Profiles to run (default rr,bulk,bursty)."),
        click.option("--profiles-file", type=click.Path(exists=True, dir_okay=False),
                     default=None, help="JSON/TOML file adding or overriding profiles."),
        click.option("-d", "--duration", type=click.FloatRange(min=0, min_open=True),
                     default=None, help="Seconds per cell (virtual on the software device; "
                                        "default 1, real interface 3)."),
        click.option("--seed", type=int, default=7, show_default=True),
        click.option("--link-rate", default="10G", show_default=True,
                     help="Model: link rate."),
        click.option("--delay", type=float, default=10.0, show_default=True,
                     help="Model: one-way wire delay (µs)."),
        click.option("--cost-irq", type=float, default=2.0, show_default=True,
                     help="Model: CPU µs per interrupt."),
        click.option("--cost-pkt", type=float, default=0.25, show_default=True,
                     help="Model: CPU µs per received frame."),
        click.option("--peer", default=None, metavar="ADDR[:PORT]",
                     help="Real interface: the UDP reflector (`enatool reflect --mode "
                          "socket` on the peer)."),
        click.option("--peer-netns", default=None,
                     help="Real interface: start the reflector in this namespace."),
    ]
    for o in reversed(opts):
        func = o(func)
    return func


def _load_profiles(profiles, profiles_file):
    from enatool.moderation.profiles import DEFAULT_SWEEP_PROFILES, load_profiles, pick

    allp = load_profiles(profiles_file)
    names = [n.strip() for n in profiles.split(",")] if profiles else list(
        DEFAULT_SWEEP_PROFILES)
    return pick(allp, names)


@_sub("sweep")
@click.argument("iface", required=False)
@_sweep_options
@click.option("--results", type=click.Path(dir_okay=False), default=None,
              callback=writable_file,
              help="Results file (JSON lines, one per cell; rerun to resume). Default: "
                   "$XDG_STATE_HOME/enatool/sweeps/<grid>.jsonl.")
@click.option("--fresh", is_flag=True, help="Ignore cells already in the results file.")
@click.option("--csv", "csv_path", default=None, metavar="PATH|-", callback=writable_file,
              help="Write CSV.")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False), default=None,
              callback=writable_dir,
              help="Write p99_vs_irq_rate.png and p99_heatmap.png here.")
@click.option("--progress/--no-progress", default=True, show_default=True)
@json_option
def sweep(iface, settings, profiles, profiles_file, duration, seed, link_rate, delay, cost_irq,
          cost_pkt, peer, peer_netns, results, fresh, csv_path, plot_dir, progress, as_json):
    """Run a grid of settings x traffic profiles and report each cell.

    Each cell: interrupt rate, RTT percentiles, throughput, CPU. The software device runs
    on the virtual-clock model (stated CPU costs, see --cost-*); a real interface on wall
    time with /proc/interrupts and /proc/stat. `*` marks each profile's Pareto front
    (fewest interrupts for the lowest p99)."""
    from pathlib import Path

    from enatool.moderation import sweep as sw

    profs = _load_profiles(profiles, profiles_file)
    wall0 = time.perf_counter()
    notes = []
    if iface:
        doc = _sweep_real(iface, settings, profs, duration or 3.0, peer, peer_netns, results,
                          fresh, progress, notes)
        cells = doc
    else:
        from enatool.moderation import state as st

        params = _params(link_rate, delay, cost_irq, cost_pkt)
        grid = _settings(settings)
        dur = duration or 1.0
        path = Path(results) if results else sw.default_results_path(
            sw.grid_key(grid, profs, dur, params.key(), seed))
        if fresh and path.exists():
            path.unlink()
        cells = sw.run_model_sweep(grid, profs, dur, params, path, seed, _progress(progress))
        notes.append(f"results: {path}")
        notes.append(f"model: {json.dumps(params.as_dict())}")
        notes.append(f"stored software-device setting: {st.to_setting(st.load()).label}")
    wall = time.perf_counter() - wall0
    plots = []
    if plot_dir:
        from enatool.report.moderation_plot import plot_sweep

        plots = plot_sweep(plot_dir, [c for c in cells if c["irq_rate"] is not None] or cells)
    if csv_path:
        text = sw.to_csv(cells)
        if csv_path == "-":
            click.echo(text, nl=False)
        else:
            Path(csv_path).write_text(text)
    if as_json:
        echo_json({"program": "moderation-sweep", "interface": iface, "cells": cells,
                   "wall_s": round(wall, 2), "plots": plots, "notes": notes})
        return
    if csv_path == "-":
        return
    for line in _table(cells):
        click.echo(line)
    for n in notes:
        click.echo(n)
    for p in plots:
        click.echo(f"plot: {p}")
    click.echo(f"{len(cells)} cells in {wall:.1f} s wall")


def _sweep_real(iface, settings, profs, duration, peer, peer_netns, results, fresh, progress,
                notes):
    from pathlib import Path

    from enatool.latency.probe import parse_dst
    from enatool.moderation import realnet, realsweep

    if peer is None:
        raise UsageError("a real-interface sweep needs --peer ADDR[:PORT]",
                         hint="run `enatool reflect --mode socket` on the peer, or give "
                              "--peer-netns for a namespace test bed")
    addr, port = parse_dst(peer)
    co = realnet.get_coalesce(iface)
    if not co["supported"]:
        notes.append(f"{iface} does not support interrupt coalescing ({co['reason']}): "
                     "running the latency/throughput parts at its current setting")
    grid = _settings(settings)
    path = Path(results) if results else None
    if fresh and path is not None and path.exists():
        path.unlink()
    total_s = duration * len(profs) * (len(grid) if co["supported"] else 1) + 30
    with realsweep.peer_reflector(peer_netns, addr, port, total_s):
        return realsweep.run_real_sweep(iface, addr, port, grid, profs, duration,
                                        co["supported"], path, _progress(progress))


# -- recommend ---------------------------------------------------------------------------------

@_sub("recommend")
@click.argument("iface", required=False)
@_sweep_options
@click.option("--objective", type=click.Choice(["latency", "throughput", "balanced"]),
              default="balanced", show_default=True)
@click.option("--max-irq-rate", type=float, default=None, help="Interrupts/s per host.")
@click.option("--p99-target", type=float, default=None, help="p99 RTT target (µs).")
@click.option("--tune/--no-tune", default=True, show_default=True,
              help="Software device: also tune the 5-level table.")
@click.option("--budget", type=click.IntRange(1, 1000), default=48, show_default=True,
              help="Table tuner: candidate tables to try.")
@click.option("--tune-duration", type=float, default=0.2, show_default=True,
              help="Table tuner: virtual seconds per profile and candidate.")
@click.option("--progress/--no-progress", default=True, show_default=True)
@json_option
def recommend(iface, settings, profiles, profiles_file, duration, seed, link_rate, delay,
              cost_irq, cost_pkt, peer, peer_netns, objective, max_irq_rate, p99_target, tune,
              budget, tune_duration, progress, as_json):
    """Pick settings from a sweep (and tune the 2016 table) for an objective.

    Prints the choice, the expected gains against the driver defaults and the exact
    ethtool / sysfs commands to apply it."""
    from enatool.moderation import recommend as rc
    from enatool.moderation import state as st
    from enatool.moderation import sweep as sw
    from enatool.moderation.model import Setting

    profs = _load_profiles(profiles, profiles_file)
    target = iface or "$IFACE"
    default = Setting(mode="dim", tx_usecs=64, name="default (dim/tx64)")
    notes = []
    if iface:
        cells = _sweep_real(iface, settings, profs, duration or 3.0, peer, peer_netns, None,
                            False, progress, notes)
        tune = False
    else:
        params = _params(link_rate, delay, cost_irq, cost_pkt)
        grid = _settings(settings, include=(default,))
        dur = duration or 1.0
        cells = sw.run_model_sweep(grid, profs, dur, params, None, seed, _progress(progress))
    ranked = rc.rank_settings(cells, objective, max_irq_rate, p99_target)
    best = ranked[0]
    base = next((r for r in ranked if r["setting"]["mode"] == "dim"
                 and r["setting"]["tx_usecs"] == 64), None)
    doc = {"program": "moderation-recommend", "objective": objective,
           "constraints": {"max_irq_rate": max_irq_rate, "p99_target_us": p99_target},
           "choice": {"setting": best["setting"], "score": round(best["score"], 4),
                      "feasible": best["feasible"], "violations": best["violations"],
                      "gains_vs_default": rc.gains(best["cells"], base["cells"])
                      if base else {}},
           "ranking": [{"setting": r["label"], "score": round(r["score"], 4),
                        "feasible": r["feasible"]} for r in ranked],
           "commands": [rc.ethtool_command(best["setting"], target)]}
    if best["setting"]["mode"] == "static":
        doc["commands"].append(
            f"enatool moderation set --adaptive-rx off --rx-usecs "
            f"{best['setting']['rx_usecs']} --tx-usecs {best['setting']['tx_usecs']}")
    if tune and not iface:
        tx = best["setting"]["tx_usecs"]
        t0 = time.perf_counter()

        def tprog(i, n, sc, b):
            if progress:
                click.echo(f"\rtuning table {i}/{n}: objective {sc:.4f} (default {b:.4f})",
                           err=True, nl=i == n)

        tuned = rc.tune_table(profs, objective, tx_usecs=tx, duration=tune_duration,
                              params=params, max_irq_rate=max_irq_rate, p99_target=p99_target,
                              budget=budget, seed=seed, progress=tprog)
        doc["table"] = {
            "rows": {lvl: row for lvl, row in zip(("lowest", "low", "mid", "high", "highest"),
                                                  tuned["table"], strict=True)},
            "objective": round(tuned["objective"], 4),
            "default_table_objective": round(tuned["baseline_objective"], 4),
            "improvement_pct": round(100 * (1 - tuned["objective"]
                                            / tuned["baseline_objective"]), 1),
            "evaluations": tuned["evaluations"], "tune_wall_s": round(
                time.perf_counter() - t0, 1),
            "gains_vs_default_table": rc.gains(tuned["cells"], tuned["baseline_cells"]),
            "commands": [f"ethtool -C {target} tx-usecs {tx} adaptive-rx on",
                         *rc.table_commands(tuned["table"], target)]}
    doc["notes"] = notes + [f"stored software-device setting: "
                            f"{st.to_setting(st.load()).label}"]
    if as_json:
        echo_json(doc)
        return
    ch = doc["choice"]
    click.echo(f"objective {objective}: {ch['setting']['label']}"
               + ("" if ch["feasible"] else "  (NO setting meets the constraints: "
                  + "; ".join(ch["violations"][:3]) + ")"))
    click.echo("ranking: " + ", ".join(
        f"{r['setting']} {r['score']:.3f}{'' if r['feasible'] else ' (over limits)'}"
        for r in doc["ranking"]))
    _gain_lines(ch["gains_vs_default"], "vs driver default (dim/tx64)")
    click.echo("apply:")
    for c in doc["commands"]:
        click.echo(f"  {c}")
    if "table" in doc:
        t = doc["table"]
        click.echo(f"tuned 5-level table ({t['evaluations']} candidates, objective "
                   f"{t['objective']} vs {t['default_table_objective']} for the default "
                   f"table, {t['improvement_pct']}% better):")
        for lvl, row in t["rows"].items():
            click.echo(f"  {lvl:<8} {row[0]:>6} us {row[1]:>6} pkts {row[2]:>8} bytes")
        _gain_lines(t["gains_vs_default_table"], "vs default table")
        click.echo("apply the table (driver 1.0.0-2.1.2 sysfs; software device):")
        for c in t["commands"]:
            click.echo(f"  {c}")
    for n in doc["notes"]:
        click.echo(n)


def _gain_lines(gains: dict, what: str) -> None:
    if not gains:
        return
    click.echo(f"expected {what}:")
    for prof, g in gains.items():
        click.echo(f"  {prof:<8} p99 {g['p99_us'][0]:.1f}->{g['p99_us'][1]:.1f} us "
                   f"({g['p99_us'][2]:+.0f}%)  irq/s {g['irq_rate'][2]:+.0f}%  "
                   f"cpu {g['cpu_pct'][2]:+.0f}%  tput {g['throughput_gbps'][2]:+.0f}%")
