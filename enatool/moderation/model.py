"""Settings, model parameters and one sweep cell on the virtual-clock model.

A *setting* is what a user can program: static rx/tx usecs, the 2016 5-level table (with its
rows) or net DIM. A *cell* runs one setting against one traffic profile for a stretch of
virtual time on :func:`numba_kernels.modsim.simulate` and reports interrupt rate,
RTT percentiles (HDR histogram), throughput and CPU cost.

CPU cost is a stated model, not a measurement: ``cost_irq_us`` per interrupt (entry, NAPI
schedule, softirq, unmask write) and ``cost_rx_pkt_us`` / ``cost_tx_pkt_us`` per received
frame / cleaned Tx completion; defaults are round numbers in the range published for Linux
on EC2-class cores (a few µs per interrupt, a fraction of a µs per frame).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from enatool.driver.policy.dim import RX_EQE_PROFILES_USEC
from enatool.driver.policy.moderation import (
    DEFAULT_TABLE_2016,
    IntrModerLevel,
    ModerationTable2016,
    usecs_to_units,
)
from enatool.errors import UsageError

MODES = ("static", "table", "dim")
LEVELS = tuple(lvl.name.lower() for lvl in IntrModerLevel)
DEFAULT_TABLE = tuple(tuple(DEFAULT_TABLE_2016[lvl]) for lvl in IntrModerLevel)
PERCENTILES = (50.0, 90.0, 99.0, 99.9)


@dataclass(frozen=True)
class Setting:
    """One moderation setting, applied to both ends of the cable (a symmetric pair)."""

    mode: str = "static"
    rx_usecs: int = 20
    tx_usecs: int = 64
    table: tuple[tuple[int, int, int], ...] = DEFAULT_TABLE
    name: str = ""

    def __post_init__(self):
        if self.mode not in MODES:
            raise UsageError(f"moderation mode {self.mode!r} unknown", hint="static, table or dim")
        check = ModerationTable2016()
        for lvl, row in zip(LEVELS, self.table, strict=True):
            check.set_level(lvl, *row)  # the driver's own range checks
        for what, v in (("rx-usecs", self.rx_usecs), ("tx-usecs", self.tx_usecs)):
            if v < 0:
                raise UsageError(f"{what} {v} is negative")

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.mode == "static":
            return f"rx{self.rx_usecs}/tx{self.tx_usecs}"
        if self.mode == "table" and self.table != DEFAULT_TABLE:
            return f"table*/tx{self.tx_usecs}"
        return f"{self.mode}/tx{self.tx_usecs}"

    def key(self) -> str:
        """Stable identity for results files (name excluded)."""
        if self.mode == "static":
            return f"static:rx={self.rx_usecs},tx={self.tx_usecs}"
        if self.mode == "dim":
            return f"dim:tx={self.tx_usecs}"
        rows = ";".join(",".join(str(x) for x in r) for r in self.table)
        return f"table:tx={self.tx_usecs}:{rows}"

    def as_dict(self) -> dict:
        d = {"label": self.label, "mode": self.mode, "tx_usecs": self.tx_usecs}
        if self.mode == "static":
            d["rx_usecs"] = self.rx_usecs
        if self.mode == "table":
            d["table"] = {lvl: list(r) for lvl, r in zip(LEVELS, self.table, strict=True)}
        return d

    def with_table(self, table) -> Setting:
        return dataclasses.replace(self, mode="table", table=tuple(tuple(r) for r in table),
                                   name="")


def parse_setting(text: str) -> Setting:
    """``rx=20,tx=64`` (static), ``mode=dim,tx=64``, ``mode=table[,tx=64]``, or the short
    forms ``dim``, ``table``, ``rx20`` / ``rx20/tx64``; an optional ``NAME:`` prefix."""
    name = ""
    body = text.strip()
    if ":" in body:
        name, _, body = body.partition(":")
    kw: dict = {}
    if body in ("dim", "table"):
        kw["mode"] = body
    elif body.startswith("rx") and "=" not in body:
        parts = body.split("/")
        try:
            kw["rx_usecs"] = int(parts[0][2:])
            if len(parts) > 1:
                kw["tx_usecs"] = int(parts[1].removeprefix("tx"))
        except ValueError:
            raise UsageError(f"bad setting {text!r}", hint="e.g. rx20/tx64") from None
    else:
        for item in filter(None, body.split(",")):
            k, _, v = item.partition("=")
            k = k.strip().replace("-", "_")
            try:
                if k in ("rx", "rx_usecs"):
                    kw["rx_usecs"] = int(v)
                elif k in ("tx", "tx_usecs"):
                    kw["tx_usecs"] = int(v)
                elif k == "mode":
                    kw["mode"] = v.strip()
                else:
                    raise ValueError(k)
            except ValueError:
                raise UsageError(f"bad setting {text!r}",
                                 hint="e.g. rx=20,tx=64 or mode=dim,tx=64") from None
    return Setting(name=name, **kw)


#: the default sweep grid: three static points, the 2016 table, today's DIM
DEFAULT_GRID = ("rx0/tx64", "rx20/tx64", "rx64/tx64", "table", "dim")


@dataclass(frozen=True)
class ModelParams:
    """The stated model: link, wire delay, rings, resolution and CPU costs."""

    link_rate_bps: float = 10e9
    delay_us: float = 10.0
    tx_depth: int = 1024
    rx_depth: int = 1024
    resolution_us: int = 1
    cost_irq_us: float = 2.0
    cost_rx_pkt_us: float = 0.25
    cost_tx_pkt_us: float = 0.05
    quantum_us: float = 0.0
    overhead_bytes: int = 24  # preamble, inter-frame gap, FCS

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def key(self) -> str:
        return hashlib.sha1(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:10]


@dataclass
class Traffic:
    """App-initiated frames sorted by time (see ``profiles.build_traffic``)."""

    time_ns: np.ndarray
    end: np.ndarray
    size: np.ndarray
    kind: np.ndarray
    resp: np.ndarray
    duration_ns: int
    streams: list = field(default_factory=list)


def _setting_arrays(setting: Setting, resolution: int):
    table = ModerationTable2016(resolution)
    for lvl, row in zip(LEVELS, setting.table, strict=True):
        table.set_level(lvl, *row)
    return (np.array(table.intervals, np.int64), np.array(table.pkts, np.int64),
            np.array(table.bytes, np.int64))


@dataclass
class KernelInputs:
    """Everything ``numba_kernels.modsim.simulate`` takes, built once from the settings,
    the traffic and the model parameters (the outputs start zeroed)."""

    traffic: Traffic
    prm: np.ndarray
    ns_per_byte: float
    mode: np.ndarray
    rx_units: np.ndarray
    tx_units: np.ndarray
    intervals: np.ndarray
    pkts_thr: np.ndarray
    bytes_thr: np.ndarray
    dim_profiles: np.ndarray
    dim_state: np.ndarray
    cnt: np.ndarray
    hits: np.ndarray
    h_counts: np.ndarray
    h_stats: np.ndarray
    h_moments: np.ndarray
    tr_time: np.ndarray
    tr_val: np.ndarray

    def simulate(self) -> int:
        """Run the kernel; returns the number of unmask-trace entries written."""
        from numba_kernels import modsim as sk

        t = self.traffic
        return sk.simulate(t.time_ns, t.end, t.size, t.kind, t.resp, self.prm,
                           self.ns_per_byte, self.mode, self.rx_units, self.tx_units,
                           self.intervals, self.pkts_thr, self.bytes_thr, self.dim_profiles,
                           self.dim_state, self.cnt, self.hits, self.h_counts, self.h_stats,
                           self.h_moments, self.tr_time, self.tr_val)


def kernel_inputs(settings: tuple[Setting, Setting], traffic: Traffic, p: ModelParams,
                  trace: int = 0) -> KernelInputs:
    """The kernel's inputs for ``settings`` (end 0, end 1)."""
    from numba_kernels import hdr
    from numba_kernels import moderation as km
    from numba_kernels import modsim as sk

    res = max(1, int(p.resolution_us))
    tabs = [_setting_arrays(s, res) for s in settings]
    prm = np.zeros(sk.P_NPRM, np.int64)
    prm[sk.P_DURATION] = traffic.duration_ns
    prm[sk.P_DELAY] = int(round(p.delay_us * 1000))
    prm[sk.P_TX_DEPTH] = p.tx_depth
    prm[sk.P_RX_DEPTH] = p.rx_depth
    prm[sk.P_QUANTUM] = int(round(p.quantum_us * 1000))
    prm[sk.P_COST_IRQ] = int(round(p.cost_irq_us * 1000))
    prm[sk.P_COST_RX] = int(round(p.cost_rx_pkt_us * 1000))
    prm[sk.P_COST_TX] = int(round(p.cost_tx_pkt_us * 1000))
    prm[sk.P_RESOLUTION] = res
    prm[sk.P_RX_BUDGET] = 64
    prm[sk.P_REFILL_THR] = min(p.rx_depth // 8, 256)
    prm[sk.P_OVERHEAD] = p.overhead_bytes
    h_counts, h_stats, h_moments = hdr.new(10_000_000_000)
    return KernelInputs(
        traffic=traffic, prm=prm,
        ns_per_byte=8e9 / p.link_rate_bps if p.link_rate_bps else 0.0,
        mode=np.array([MODES.index(s.mode) for s in settings], np.int64),
        rx_units=np.array([usecs_to_units(s.rx_usecs, res) for s in settings], np.int64),
        tx_units=np.array([usecs_to_units(s.tx_usecs, res) for s in settings], np.int64),
        intervals=np.stack([t[0] for t in tabs]),
        pkts_thr=np.stack([t[1] for t in tabs]),
        bytes_thr=np.stack([t[2] for t in tabs]),
        dim_profiles=np.array(RX_EQE_PROFILES_USEC, np.int64),
        dim_state=km.dim_new_state(2),
        cnt=np.zeros((2, sk.C_NCNT), np.int64), hits=np.zeros((2, 5), np.int64),
        h_counts=h_counts, h_stats=h_stats, h_moments=h_moments,
        tr_time=np.zeros(trace, np.int64), tr_val=np.zeros(trace, np.int64))


def run_cell(setting: Setting, traffic: Traffic, params: ModelParams | None = None,
             setting_b: Setting | None = None, trace: int = 0) -> dict:
    """Run the model; ``setting`` on both ends unless ``setting_b`` gives end 1 its own."""
    from numba_kernels import hdr
    from numba_kernels import modsim as sk

    p = params or ModelParams()
    k = kernel_inputs((setting, setting_b or setting), traffic, p, trace)
    ntr = k.simulate()
    cnt, hits, h_counts, h_stats = k.cnt, k.hits, k.h_counts, k.h_stats
    tr_time, tr_val = k.tr_time, k.tr_val
    dur = traffic.duration_ns / 1e9
    ps = np.array(PERCENTILES)
    out = np.zeros(len(PERCENTILES), np.int64)
    total = int(h_stats[hdr.ST_COUNT])
    hdr.percentiles(h_counts, total, ps, out)
    rtt = {f"p{str(q).rstrip('0').rstrip('.').replace('.', '')}_us": float(v) / 1000
           for q, v in zip(PERCENTILES, out.tolist(), strict=True)}
    rtt["mean_us"] = float(h_stats[hdr.ST_SUM]) / total / 1000 if total else 0.0
    rtt["count"] = total
    rtt["lost"] = int(cnt[0, sk.C_RTT_LOST] + cnt[1, sk.C_RTT_LOST])
    ends = []
    for e in range(2):
        c = cnt[e]
        ends.append({
            "interrupts": int(c[sk.C_IRQS]), "irq_rate": c[sk.C_IRQS] / dur,
            "napi_rounds": int(c[sk.C_ROUNDS]), "rx_packets": int(c[sk.C_RX_PKTS]),
            "rx_bytes": int(c[sk.C_RX_BYTES]), "rx_drops": int(c[sk.C_RX_DROPS]),
            "tx_packets": int(c[sk.C_TX_PKTS]), "tx_blocked": int(c[sk.C_TX_BLOCKED]),
            "cpu_pct": 100.0 * c[sk.C_CPU_NS] / traffic.duration_ns,
            "levels": hits[e].tolist()})
    irq_total = sum(x["irq_rate"] for x in ends)
    cpu_total = sum(x["cpu_pct"] for x in ends)
    rx_bytes = sum(x["rx_bytes"] for x in ends)
    rx_pkts = sum(x["rx_packets"] for x in ends)
    result = {
        "irq_rate": irq_total, "rtt": rtt,
        "throughput_gbps": ends[1]["rx_bytes"] * 8 / dur / 1e9,
        "rx_mpps": rx_pkts / dur / 1e6, "cpu_pct": cpu_total,
        "cpu_us_per_kpkt": (cpu_total / 100 * dur * 1e6) / (rx_pkts / 1000) if rx_pkts else 0.0,
        "rx_bytes": rx_bytes, "drops": sum(x["rx_drops"] for x in ends),
        "ends": ends}
    if trace:
        result["trace"] = [(int(t), int(v >> 40), int(v & ((1 << 40) - 1)))
                           for t, v in zip(tr_time[:ntr].tolist(), tr_val[:ntr].tolist(),
                                           strict=True)]
    return result
