"""Named, editable traffic profiles for sweeps, and their frame schedules.

A profile is a list of streams (JSON or TOML file, ``{name: {description, streams}}``):

* ``rr``: request/response; end 0 posts requests of ``size`` at ``rate`` per second
  (``arrival`` ``poisson`` or ``fixed``), end 1 answers each with ``resp_size``; RTT =
  request posted → response processed by end 0's NAPI;
* ``bulk``: end 0 → end 1 frames of ``size`` at ``rate`` frames/s or ``"line"`` (the link
  rate × ``load``);
* ``onoff``: bursts of ``burst`` frames back to back every ``period_us``.

A profile without an ``rr`` stream gets a light probe (1000 requests/s of 64 B) so every
cell has RTT percentiles (latency under load).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np

from enatool.errors import UsageError
from enatool.moderation.model import ModelParams, Traffic

BUILTIN_PROFILES: dict[str, dict] = {
    "rr": {"description": "request/response 64 B, 20k/s Poisson",
           "streams": [{"kind": "rr", "rate": 20000, "size": 64, "resp_size": 64}]},
    "rr-light": {"description": "request/response 64 B, 2k/s Poisson",
                 "streams": [{"kind": "rr", "rate": 2000, "size": 64, "resp_size": 64}]},
    "bulk": {"description": "1500 B at line rate, end 0 -> end 1",
             "streams": [{"kind": "bulk", "rate": "line", "size": 1500}]},
    "bursty": {"description": "bursts of 48 x 1500 B every 200 us",
               "streams": [{"kind": "onoff", "burst": 48, "period_us": 200, "size": 1500}]},
    "mixed": {"description": "rr 64 B at 10k/s over 1500 B bulk at 50 % of the link",
              "streams": [{"kind": "rr", "rate": 10000, "size": 64, "resp_size": 64},
                          {"kind": "bulk", "rate": "line", "load": 0.5, "size": 1500}]},
}
DEFAULT_SWEEP_PROFILES = ("rr", "bulk", "bursty")
PROBE = {"kind": "rr", "rate": 1000, "size": 64, "resp_size": 64, "probe": True}
_KINDS = {"rr": 1, "bulk": 0, "onoff": 0}


def load_profiles(path: str | None = None) -> dict[str, dict]:
    """Built-ins, overridden/extended by ``path`` (.json or .toml)."""
    profiles = {k: dict(v) for k, v in BUILTIN_PROFILES.items()}
    if path is None:
        return profiles
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read profiles file {path}: {e.strerror}") from None
    try:
        doc = tomllib.loads(raw.decode()) if p.suffix == ".toml" else json.loads(raw)
    except (ValueError, tomllib.TOMLDecodeError) as e:
        raise UsageError(f"profiles file {path} is not valid {p.suffix[1:] or 'JSON'}: {e}",
                         hint="see examples/moderation/profiles.toml") from None
    doc = doc.get("profiles", doc)
    for name, prof in doc.items():
        validate_profile(name, prof)
        profiles[name] = prof
    return profiles


def validate_profile(name: str, prof: dict) -> None:
    streams = prof.get("streams") if isinstance(prof, dict) else None
    if not streams or not isinstance(streams, list):
        raise UsageError(f"profile {name!r} has no streams list")
    for s in streams:
        kind = s.get("kind")
        if kind not in _KINDS:
            raise UsageError(f"profile {name!r}: stream kind {kind!r} unknown",
                             hint="rr, bulk or onoff")
        size = s.get("size", 64)
        if not isinstance(size, int) or not 60 <= size <= 9216:
            raise UsageError(f"profile {name!r}: size {size!r} outside 60..9216")
        rate = s.get("rate", 1)
        if kind != "onoff" and rate != "line" and not (isinstance(rate, int | float)
                                                       and rate > 0):
            raise UsageError(f"profile {name!r}: rate {rate!r} must be positive or 'line'")


def pick(profiles: dict[str, dict], names) -> dict[str, dict]:
    out = {}
    for n in names:
        if n not in profiles:
            raise UsageError(f"unknown profile {n!r}", hint="one of " + ", ".join(profiles))
        out[n] = profiles[n]
    return out


def _times(stream: dict, duration_ns: int, params: ModelParams, rng) -> np.ndarray:
    kind = stream["kind"]
    size = int(stream.get("size", 64))
    if kind == "onoff":
        period = int(float(stream.get("period_us", 200)) * 1000)
        burst = int(stream.get("burst", 32))
        gap = 0.0
        if params.link_rate_bps:
            gap = (size + params.overhead_bytes) * 8e9 / params.link_rate_bps
        starts = np.arange(period // 2, duration_ns, period, dtype=np.int64)
        offs = (np.arange(burst) * gap).astype(np.int64)
        return (starts[:, None] + offs[None, :]).ravel()
    rate = stream.get("rate", 1000)
    if rate == "line":
        if not params.link_rate_bps:
            raise UsageError("a 'line' rate needs a link rate")
        rate = params.link_rate_bps / ((size + params.overhead_bytes) * 8)
        rate *= float(stream.get("load", 1.0))
    rate = float(rate)
    n = int(rate * duration_ns / 1e9)
    if n <= 0:
        return np.zeros(0, np.int64)
    if kind == "rr" and stream.get("arrival", "poisson") == "poisson":
        gaps = rng.exponential(1e9 / rate, n + n // 10 + 16)
        t = np.cumsum(gaps)
        return t[t < duration_ns].astype(np.int64)
    return (np.arange(n) * (1e9 / rate)).astype(np.int64) + 1


def build_traffic(profile: dict, duration_s: float, params: ModelParams,
                  seed: int = 7) -> Traffic:
    """Merge the profile's streams into one schedule for the model."""
    rng = np.random.default_rng(seed)
    duration_ns = int(duration_s * 1e9)
    streams = list(profile["streams"])
    if not any(s["kind"] == "rr" for s in streams):
        streams.append(PROBE)
    parts = []
    for s in streams:
        t = _times(s, duration_ns, params, rng)
        t = t[t < duration_ns]
        k = _KINDS[s["kind"]]
        parts.append((t, np.full(t.size, int(s.get("size", 64)), np.int64),
                      np.full(t.size, k, np.int64),
                      np.full(t.size, int(s.get("resp_size", 64)) if k else 0, np.int64)))
    time_ns = np.concatenate([p[0] for p in parts])
    order = np.argsort(time_ns, kind="stable")
    return Traffic(time_ns=time_ns[order].astype(np.int64),
                   end=np.zeros(time_ns.size, np.int64),
                   size=np.concatenate([p[1] for p in parts])[order],
                   kind=np.concatenate([p[2] for p in parts])[order],
                   resp=np.concatenate([p[3] for p in parts])[order],
                   duration_ns=duration_ns, streams=streams)
