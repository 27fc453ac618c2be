"""Persisted moderation settings of the software ENA device.

Why a file: the software device lives only as long as one enatool process, so
``enatool moderation set`` (no IFACE) writes ``$XDG_STATE_HOME/enatool/moderation.json``
(default ``~/.local/state/enatool/``) and every later process that builds a software device
(``show``, ``sweep``, ``recommend``, and ``gen`` through :func:`apply_to_backend`) programs
it from there through the driver's ethtool path. ``set --restore-defaults`` deletes the
file: the next device starts with the driver's defaults (today: tx 64 µs, rx 20 µs,
adaptive-rx on = DIM).

Validation is the driver's own (:class:`CoalesceSettings` for ethtool -C, including the 2016
rule on rx-usecs while adaptive stays on; :class:`ModerationTable2016` for the sysfs rows).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from enatool.driver.policy.moderation import (
    CoalesceSettings,
    ModerationTable2016,
    parse_level_sysfs_text,
)
from enatool.errors import UsageError
from enatool.moderation.model import DEFAULT_TABLE, LEVELS, Setting

STATE_VERSION = 1
MODE_TO_DRIVER = {"static": "static", "table": "adaptive2016", "dim": "dim"}


def state_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "enatool" / "moderation.json"


def defaults(era: str = "today") -> dict:
    c = CoalesceSettings(era).get_coalesce()
    mode = ("table" if era == "2016" else "dim") if c["adaptive_rx"] else "static"
    return {"era": era, "mode": mode, "rx_usecs": c["rx_usecs"], "tx_usecs": c["tx_usecs"],
            "table": [list(r) for r in DEFAULT_TABLE]}


def load() -> dict:
    """The stored state, or the driver defaults (``source`` says which)."""
    path = state_path()
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return {**defaults(), "source": "driver defaults"}
    except (OSError, ValueError) as e:
        raise UsageError(f"unreadable moderation state {path}: {e}",
                         hint="enatool moderation set --restore-defaults") from None
    out = {**defaults(doc.get("era", "today")), **doc, "source": str(path)}
    out.pop("schema_version", None)
    return out


def save(state: dict) -> Path:
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"schema_version": STATE_VERSION,
           **{k: state[k] for k in ("era", "mode", "rx_usecs", "tx_usecs", "table")}}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def clear() -> bool:
    try:
        state_path().unlink()
        return True
    except FileNotFoundError:
        return False


def parse_level(text: str) -> tuple[str, tuple[int, int, int]]:
    """``NAME=INTERVAL,PKTS,BYTES`` (the sysfs row with commas)."""
    name, sep, row = text.partition("=")
    if not sep:
        raise UsageError(f"bad --level {text!r}", hint="e.g. --level low=32,12,16384")
    name = name.strip().lower().removeprefix("intr_moderation_")
    if name not in LEVELS:
        raise UsageError(f"unknown moderation level {name!r}",
                         hint="one of " + ", ".join(LEVELS))
    return name, parse_level_sysfs_text(row.replace(",", " "))


def apply_changes(state: dict, *, rx_usecs=None, tx_usecs=None, adaptive_rx=None, mode=None,
                  levels=(), era=None) -> dict:
    """New state after an ``ethtool -C`` + sysfs edit, checked by the driver's rules."""
    era = era or state.get("era", "today")
    new = {k: state[k] for k in ("mode", "rx_usecs", "tx_usecs", "table")}
    new["era"] = era
    if mode is not None and adaptive_rx is False:
        raise UsageError(f"--mode {mode} is adaptive; it contradicts --adaptive-rx off")
    # replay the stored state into the driver's coalesce model, then the change
    cs = CoalesceSettings(era)
    cur_adaptive = new["mode"] != "static"
    if era == "2016":
        cs.set_coalesce(adaptive_rx=False)
        cs.set_coalesce(rx_usecs=new["rx_usecs"], tx_usecs=new["tx_usecs"],
                        adaptive_rx=cur_adaptive)
    else:
        cs.set_coalesce(rx_usecs=new["rx_usecs"], tx_usecs=new["tx_usecs"],
                        adaptive_rx=cur_adaptive)
    want_adaptive = adaptive_rx if adaptive_rx is not None else (
        True if mode is not None else None)
    cs.set_coalesce(tx_usecs=tx_usecs, rx_usecs=rx_usecs, adaptive_rx=want_adaptive)
    got = cs.get_coalesce()
    new["rx_usecs"], new["tx_usecs"] = int(got["rx_usecs"]), int(got["tx_usecs"])
    if not got["adaptive_rx"]:
        new["mode"] = "static"
    elif mode is not None:
        new["mode"] = mode
    elif new["mode"] == "static":
        new["mode"] = "table" if era == "2016" else "dim"
    table = ModerationTable2016()
    for lvl, row in zip(LEVELS, new["table"], strict=True):
        table.set_level(lvl, *row)
    for name, row in levels:
        table.set_level(name, *row)
    new["table"] = [[int(table.level_sysfs_text(lvl).split()[i]) for i in range(3)]
                    for lvl in LEVELS]
    return new


def to_setting(state: dict) -> Setting:
    return Setting(mode=state["mode"], rx_usecs=int(state["rx_usecs"]),
                   tx_usecs=int(state["tx_usecs"]),
                   table=tuple(tuple(int(x) for x in r) for r in state["table"]),
                   name="")


def apply_to_backend(backend, state: dict | None = None, ends=(0, 1)) -> dict:
    """Program a software backend's drivers from the state (ethtool -C, per-queue mode, the
    table rows as the sysfs store would); returns the state used."""
    state = state or load()
    for end in ends:
        static = state["mode"] == "static"
        rx = int(state["rx_usecs"]) if static or state.get("era") != "2016" else None
        backend.set_coalesce(end=end, tx_usecs=int(state["tx_usecs"]), rx_usecs=rx,
                             adaptive_rx=not static)
        drv = backend.drivers[end]
        for q, ctx in enumerate(drv.napi):
            drv.set_moderation_mode(q, MODE_TO_DRIVER[state["mode"]])
            for lvl, row in zip(LEVELS, state["table"], strict=True):
                ctx.mod.adaptive.table.set_level(lvl, *row)
    return state


def read_backend(backend, end: int = 0) -> dict:
    """What the software device's driver reports back (ethtool -c, modes, sysfs rows)."""
    drv = backend.drivers[end]
    out = {"coalesce": backend.get_coalesce(end=end),
           "queue_modes": [ctx.mod.mode for ctx in drv.napi]}
    if drv.napi:
        t = drv.napi[0].mod.adaptive.table
        out["table"] = {lvl: t.level_sysfs_text(lvl).strip() for lvl in LEVELS}
    return out
