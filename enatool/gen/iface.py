"""``gen`` and ``sink`` on a real interface: run a transmit engine / the AF_XDP receive loop
and shape what they counted into the versioned summaries of :mod:`enatool.report.schema`.

Engines are duck-typed (this is the program layer: it never imports a concrete backend; the
CLI picks one): an object with ``run_tx(tset, count=, duration=, rate=, bitrate=,
fill_mode=, seq_next=, on_tick=)`` for ``gen`` (``AfxdpBackend``, ``XdpLiveTx``,
``SocketTx``), ``run_rx(n_flows=, count=, duration=, verify=, window=, on_tick=)`` for
``sink`` (``AfxdpBackend``). Both may expose ``dev`` (a ``netdev.NetDev``): on an interface
whose driver is ``ena`` the allowance counters of ``ethtool -S`` are read before and after
the run and their increase is reported, since they are what throttles traffic on EC2.

The achieved rate of a paced run is measured over the engine's sending window (first to
last batch; thread start-up and the completion drain are not part of it): that is what the
pacer controls, and what ``rate_ratio`` reports.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import numpy as np

from enatool.gen.templates import GenSpec, build_templates
from enatool.report.schema import SCHEMA_VERSION
from numba_kernels import seqcheck as sc

Tick = Callable[[dict[str, Any]], None]
PER_FLOW_MAX = 256  # flows listed in a sink summary (all are counted)
ENA_ALLOWANCE = ("bw_in_allowance_exceeded", "bw_out_allowance_exceeded",
                 "pps_allowance_exceeded", "conntrack_allowance_exceeded",
                 "linklocal_allowance_exceeded", "conntrack_allowance_available")


# -- CPU and ENA counters --------------------------------------------------------------------

def _proc_stat() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine from /proc/stat."""
    hz = float(os.sysconf("SC_CLK_TCK"))
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    total = sum(vals[:8])
    return (total - idle) / hz, total / hz


class CpuMeter:
    """This process's user/system CPU (getrusage, all threads) and the machine's busy time
    (/proc/stat) between ``start()`` and ``stop()``."""

    def start(self) -> CpuMeter:
        self._ru = resource.getrusage(resource.RUSAGE_SELF)
        self._st = _proc_stat()
        return self

    def stop(self) -> dict[str, float | None]:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        busy, total = _proc_stat()
        user = ru.ru_utime - self._ru.ru_utime
        sys_ = ru.ru_stime - self._ru.ru_stime
        mbusy = busy - self._st[0]
        return {"user_s": user, "sys_s": sys_, "machine_busy_s": mbusy,
                "machine_total_s": total - self._st[1],
                "user_share": user / mbusy if mbusy > 0 else None}


def ena_allowance(ifname: str, netns: str | None = None) -> dict[str, int] | None:
    """The ENA allowance counters of ``ethtool -S`` (None when unavailable)."""
    exe = shutil.which("ethtool")
    if exe is None:
        return None
    cmd = [exe, "-S", ifname]
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    if proc.returncode != 0:
        return None
    out = {}
    for line in proc.stdout.splitlines():
        key, _, val = line.partition(":")
        key = key.strip()
        if key in ENA_ALLOWANCE and val.strip().lstrip("-").isdigit():
            out[key] = int(val)
    return out or None


def allowance_delta(before: dict[str, int] | None, after: dict[str, int] | None
                    ) -> dict[str, Any] | None:
    """{'before', 'after', 'delta'} of the allowance counters, or None without them."""
    if not before or not after:
        return None
    return {"before": before, "after": after,
            "delta": {k: after[k] - before.get(k, 0) for k in after}}


def _is_ena(engine: Any) -> bool:
    dev = getattr(engine, "dev", None)
    return getattr(dev, "driver", None) == "ena"


# -- gen ----------------------------------------------------------------------------------------
def _with_wire_bits(on_tick: Tick | None) -> Tick | None:
    if on_tick is None:
        return None

    def tick(snap: dict[str, Any]) -> None:
        if "wire_bits" not in snap:
            snap = {**snap, "wire_bits": (snap["bytes"] + 24 * snap["packets"]) * 8}
        on_tick(snap)

    return tick


def run_gen_iface(engine: Any, spec: GenSpec, count: int | None = None,
                  duration: float | None = None, rate: float | None = None,
                  bitrate: float | None = None, *, fill_mode: str = "fields",
                  on_tick: Tick | None = None, tset: Any = None) -> dict[str, Any]:
    """Send ``spec`` with ``engine`` until ``count``, ``duration`` (wall s) or Ctrl-C;
    return the gen summary (GEN_FIELDS and IFACE_FIELDS, engine, cpu, ena_allowance...)."""
    tset = build_templates(spec) if tset is None else tset
    seq_next = np.zeros(len(tset.flows), np.int64)
    ena = _is_ena(engine)
    netns = getattr(engine, "netns", None)
    before = ena_allowance(engine.ifname, netns) if ena else None
    cpu = CpuMeter().start()
    raw = engine.run_tx(tset, count=count, duration=duration, rate=rate, bitrate=bitrate,
                        fill_mode=fill_mode, seq_next=seq_next,
                        on_tick=_with_wire_bits(on_tick))
    cpu_use = cpu.stop()
    after = ena_allowance(engine.ifname, netns) if ena else None
    return gen_summary(raw, tset, count=count, rate=rate, bitrate=bitrate,
                       fill_mode=fill_mode, cpu=cpu_use, allowance=allowance_delta(before, after),
                       netns=netns, seq_next=seq_next)



def _stopped_by(raw: dict[str, Any], count: int | None, packets: int) -> str:
    """What ended a gen or sink run: 'interrupt', 'count' or 'duration'."""
    if raw.get("interrupted"):
        return "interrupt"
    if count is not None and packets >= count:
        return "count"
    return "duration"

def gen_summary(raw: dict[str, Any], tset: Any, *, count: int | None, rate: float | None,
                bitrate: float | None, fill_mode: str, cpu: dict | None = None,
                allowance: dict | None = None, netns: str | None = None,
                seq_next: np.ndarray | None = None) -> dict[str, Any]:
    """An engine's raw counters -> the documented gen summary."""
    pk, by = int(raw["packets"]), int(raw["bytes"])
    wb = int(raw.get("wire_bits", (by + 24 * pk) * 8))
    dur = float(raw["duration_s"])
    window = float(raw.get("send_window_s") or 0.0)
    if window <= 0:
        window = dur
    achieved_pps = pk / window if window > 0 else 0.0
    achieved_bps = wb / window if window > 0 else 0.0
    ratio = None
    if rate:
        ratio = achieved_pps / rate
    elif bitrate:
        ratio = achieved_bps / bitrate
    stopped = _stopped_by(raw, count, pk)
    per_queue = []
    for row in raw.get("per_queue", []):
        q = {"queue": row["queue"], "packets": int(row.get("tx_packets", 0)),
             "bytes": int(row.get("tx_bytes", 0))}
        q.update({k: v for k, v in row.items() if k not in ("queue", "tx_packets", "tx_bytes")
                  and not k.startswith("rx_")})
        per_queue.append(q)
    spec = tset.spec
    completed = int(raw.get("completed", pk))
    return {
        "schema_version": SCHEMA_VERSION,
        "program": "gen",
        "backend": raw["backend"],
        "engine": raw["backend"],
        "ifname": raw.get("ifname"),
        "netns": netns,
        "end": 0,
        "queues": [r["queue"] for r in raw.get("per_queue", [])],
        "fill_mode": fill_mode if fill_mode in ("full", "static") else "fields",
        "xdp_mode": raw.get("xdp_mode"),
        "bind_mode": raw.get("bind_mode"),
        "umem_huge_pages": raw.get("umem_huge_pages"),
        "batch": raw.get("batch"),
        "traffic": {"ipv6": spec.ipv6, "proto": spec.proto, "vlan": spec.vlan,
                    "sizes": [list(s) for s in tset.sizes], "flows": len(tset.flows),
                    "mean_frame_len": tset.mean_frame_len(),
                    "src_mac": spec.src_mac, "dst_mac": spec.dst_mac,
                    "flow_table": _flow_table(tset)},
        "stopped_by": stopped,
        "duration_s": dur,
        "send_window_s": window,
        "packets": pk,
        "bytes": by,
        "wire_bits": wb,
        "completed": completed,
        "probed": int(raw.get("probed", 0) or 0),
        "pps": pk / dur if dur > 0 else 0.0,
        "wire_bps": wb / dur if dur > 0 else 0.0,
        "achieved_pps": achieved_pps,
        "achieved_wire_bps": achieved_bps,
        "requested_pps": float(rate) if rate is not None else None,
        "requested_bps": float(bitrate) if bitrate is not None else None,
        "rate_ratio": ratio,
        "tx_ring_full": int(sum(r.get("tx_ring_full", 0) for r in raw.get("per_queue", []))),
        "drops": max(pk - completed, 0),
        "errors": int(raw.get("errors", 0)),
        "stalled": bool(raw.get("stalled", False)),
        "per_flow_sent": None if seq_next is None or len(seq_next) > PER_FLOW_MAX
        else [int(x) for x in seq_next],
        "cpu": cpu,
        "worker_cpu": raw.get("worker_cpu"),
        "ena_allowance": allowance,
        "per_queue": per_queue,
    }


def _flow_table(tset: Any) -> list[list[Any]] | None:
    """[[src, dst, sport, dport, crafted Rx queue or -1]] per flow id (up to PER_FLOW_MAX)."""
    f = tset.flows
    if len(f) > PER_FLOW_MAX:
        return None
    return [[*f.tuple(i), int(f.queue[i])] for i in range(len(f))]


# -- sink ---------------------------------------------------------------------------------------
def run_sink_iface(rx: Any, n_flows: int = 65536, count: int | None = None,
                   duration: float | None = None, *, verify: bool = True, window: int = 1024,
                   on_tick: Tick | None = None, per_flow_max: int = PER_FLOW_MAX
                   ) -> dict[str, Any]:
    """Receive on every queue of ``rx`` until ``count``, ``duration`` or Ctrl-C; return the
    sink summary (SINK_FIELDS and IFACE_FIELDS, per-flow rows, ena_allowance)."""
    ena = _is_ena(rx)
    netns = getattr(rx, "netns", None)
    before = ena_allowance(rx.ifname, netns) if ena else None
    raw = rx.run_rx(n_flows=n_flows, count=count, duration=duration, verify=verify,
                    window=window, on_tick=_with_wire_bits(on_tick))
    after = ena_allowance(rx.ifname, netns) if ena else None
    xdp = rx.xdp_qstats() if hasattr(rx, "xdp_qstats") else {}
    xsk: dict[int, dict[str, int]] = {}
    for key, v in (rx.stats() if hasattr(rx, "stats") else {}).items():
        head, _, name = key.partition("_xsk_")
        if name and head.startswith("queue_"):
            xsk.setdefault(int(head[6:]), {})[name] = int(v)
    return sink_summary(raw, count=count, allowance=allowance_delta(before, after),
                        netns=netns, xdp=xdp, xsk=xsk, per_flow_max=per_flow_max)


def sink_summary(raw: dict[str, Any], *, count: int | None, allowance: dict | None = None,
                 netns: str | None = None, xdp: dict | None = None,
                 xsk: dict | None = None, per_flow_max: int = PER_FLOW_MAX) -> dict[str, Any]:
    """``run_rx`` counters -> the documented sink summary."""
    fs = raw["fstate"]  # [queues, flows, FS_N]
    rx = fs[:, :, sc.FS_RX].sum(axis=0)
    lost = fs[:, :, sc.FS_LOST].sum(axis=0)
    reord = fs[:, :, sc.FS_REORDERED].sum(axis=0)
    dup = fs[:, :, sc.FS_DUP].sum(axis=0)
    late = fs[:, :, sc.FS_LATE].sum(axis=0)
    dn = fs[:, :, sc.FS_DELAY_N].sum(axis=0)
    dsum = fs[:, :, sc.FS_DELAY_SUM].sum(axis=0)
    seen = (fs[:, :, sc.FS_MAX_SEQ] >= 0).any(axis=0)
    has = fs[:, :, sc.FS_DELAY_N] > 0
    n_delay = int(dn.sum())
    delay: dict[str, Any] = {"count": n_delay, "min_ns": None, "mean_ns": None, "max_ns": None}
    if n_delay:
        delay.update(min_ns=int(fs[:, :, sc.FS_DELAY_MIN][has].min()),
                     mean_ns=float(dsum.sum()) / n_delay,
                     max_ns=int(fs[:, :, sc.FS_DELAY_MAX][has].max()))
    tl, td, tla = int(lost.sum()), int(dup.sum()), int(late.sum())
    unique = int(rx.sum()) - td - tla
    dur = float(raw["duration_s"])
    pk = int(raw["packets"])
    wb = int(raw.get("wire_bits", (int(raw["bytes"]) + 24 * pk) * 8))
    # first to last received batch: the run also waits for the sender, which says nothing
    # about the rate the traffic arrived at
    rwin = float(raw.get("recv_window_s") or 0.0)
    flows = np.flatnonzero(seen)
    per_flow = []
    for f in flows[:per_flow_max]:
        per_flow.append({"flow": int(f), "probes": int(rx[f]), "lost": int(lost[f]),
                         "reordered": int(reord[f]), "duplicates": int(dup[f]),
                         "late": int(late[f]),
                         "delay_mean_ns": float(dsum[f]) / int(dn[f]) if dn[f] else None})
    stopped = _stopped_by(raw, count, pk)
    xdp, xsk = xdp or {}, xsk or {}
    per_queue = []
    for row in raw.get("per_queue", []):
        q = row["queue"]
        per_queue.append({"queue": q, "packets": int(row["rx_packets"]),
                          "bytes": int(row["rx_bytes"]), "probes": int(row["probes"]),
                          "csum_errors": int(row["csum_errors"]),
                          "xdp": xdp.get(q), "xsk": xsk.get(q)})
    # the XDP program's drops, and frames the AF_XDP socket could not take (ring full,
    # no fill buffer): what `sink` missed although the interface delivered it
    drops = sum(int(v.get("dropped", 0)) for v in xdp.values())
    drops += sum(int(v.get(k, 0)) for v in xsk.values()
                 for k in ("rx_dropped", "rx_ring_full"))
    return {
        "schema_version": SCHEMA_VERSION,
        "program": "sink",
        "backend": raw["backend"],
        "ifname": raw.get("ifname"),
        "netns": netns,
        "end": 0,
        "queues": [r["queue"] for r in raw.get("per_queue", [])],
        "xdp_mode": raw.get("xdp_mode"),
        "bind_mode": raw.get("bind_mode"),
        "umem_huge_pages": raw.get("umem_huge_pages"),
        "batch": raw.get("batch"),
        "stopped_by": stopped,
        "duration_s": dur,
        "packets": pk,
        "bytes": int(raw["bytes"]),
        "wire_bits": wb,
        "pps": pk / dur if dur > 0 else 0.0,
        "wire_bps": wb / dur if dur > 0 else 0.0,
        "recv_window_s": rwin,
        "achieved_pps": pk / rwin if rwin > 0 else None,
        "achieved_wire_bps": wb / rwin if rwin > 0 else None,
        "probes": int(raw["probes"]),
        "flows_seen": int(seen.sum()),
        "lost": tl,
        "reordered": int(reord.sum()),
        "duplicates": td,
        "late": tla,
        "loss_ratio": (tl / (unique + tl)) if unique + tl > 0 else None,
        "foreign": int(raw["foreign"]),
        "unknown_flow": int(raw["unknown_flow"]),
        "csum_errors": int(raw["csum_errors"]),
        "drops": drops,
        "errors": int(raw["csum_errors"]),
        "one_way_delay": delay,
        "per_flow": per_flow,
        "per_flow_truncated": max(int(len(flows)) - per_flow_max, 0),
        "ena_allowance": allowance,
        "per_queue": per_queue,
    }
