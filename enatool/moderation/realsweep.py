"""Sweep cells on a real interface: wall-clock traffic, kernel counters.

RTT comes from the latency program's socket client (``enatool.latency``, numba loop,
HDR histogram) against a UDP reflector on the peer (``enatool reflect --mode socket``);
bulk and on/off streams are UDP datagrams sent from a thread at the profile's rate (or as
fast as the socket goes for ``line``); throughput is the interface's tx_bytes delta;
interrupts are the queue vectors in /proc/interrupts; CPU is softirq time from /proc/stat.
When the interface cannot coalesce (veth), the grid collapses to its current setting and
the latency/throughput parts still run.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from enatool.errors import UsageError
from enatool.moderation import realnet
from enatool.moderation.sweep import ResumableCells, cell_key, mark_pareto


def _tx_bytes(iface: str) -> int:
    try:
        return int(Path(f"/sys/class/net/{iface}/statistics/tx_bytes").read_text())
    except OSError:
        return 0


@contextlib.contextmanager
def peer_reflector(netns: str | None, bind: str, port: int, seconds: float):
    """Start ``enatool reflect --mode socket`` in the peer namespace for the sweep."""
    if netns is None:
        yield None
        return
    cmd = [sys.executable, "-c", "from enatool.cli.main import main; main()", "reflect",
           "--mode", "socket", "--netns", netns, "--port", str(port), "--bind", bind,
           "--no-busy-poll", "--quiet", "-d", f"{seconds:g}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(3.0)  # numba import + bind before the first probe
        if proc.poll() is not None:
            err = proc.stderr.read().decode().strip() if proc.stderr else ""
            raise UsageError(f"the reflector in {netns} did not start: {err}")
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class _Blaster(threading.Thread):
    """UDP data frames to the peer at a rate (0 = as fast as the socket takes them)."""

    def __init__(self, addr, port, size, rate, burst=1, period=None):
        super().__init__(daemon=True)
        self.addr, self.port = addr, port
        self.payload = bytes(max(1, size - 42))
        self.rate, self.burst, self.period = rate, burst, period
        self.stop = threading.Event()
        self.sent = 0

    def run(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.connect((self.addr, self.port))
            nxt = time.perf_counter()
            gap = self.period if self.period else (1.0 / self.rate if self.rate else 0.0)
            while not self.stop.is_set():
                for _ in range(self.burst):
                    try:
                        s.send(self.payload)
                        self.sent += 1
                    except OSError:
                        pass
                if gap:
                    nxt += gap
                    delay = nxt - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
        finally:
            s.close()


def run_real_cell(iface: str, peer: str, port: int, prof: dict, duration: float) -> dict:
    from enatool.latency.program import LatencyConfig, run_socket

    rr = next((s for s in prof["streams"] if s["kind"] == "rr"), None)
    rate = float(rr["rate"]) if rr else 1000.0
    size = int(rr.get("size", 64)) if rr else 64
    blasters = []
    for s in prof["streams"]:
        if s["kind"] == "bulk":
            r = 0.0 if s.get("rate") == "line" else float(s["rate"])
            blasters.append(_Blaster(peer, port, int(s.get("size", 1500)), r))
        elif s["kind"] == "onoff":
            blasters.append(_Blaster(peer, port, int(s.get("size", 1500)), 0.0,
                                     burst=int(s.get("burst", 32)),
                                     period=float(s.get("period_us", 200)) / 1e6))
    irq0, soft0, tx0 = realnet.queue_irqs(iface), realnet.softirq_seconds(), _tx_bytes(iface)
    t0 = time.perf_counter()
    for b in blasters:
        b.start()
    try:
        cfg = LatencyConfig(iface=iface, dst=f"{peer}:{port}", mode="socket", poll="block",
                            count=None, duration=duration, warmup=10, rate=rate,
                            size=max(size, 70))
        summary, _ = run_socket(cfg)
    finally:
        for b in blasters:
            b.stop.set()
        for b in blasters:
            b.join(timeout=2)
    secs = time.perf_counter() - t0
    irq1, soft1, tx1 = realnet.queue_irqs(iface), realnet.softirq_seconds(), _tx_bytes(iface)
    irqs = sum(irq1.values()) - sum(irq0.values()) if irq0 else None
    d = summary.get("rtt_us") or {}
    rtt = {"p50_us": _us(d.get("p50")), "p90_us": _us(d.get("p90")),
           "p99_us": _us(d.get("p99")), "p999_us": _us(d.get("p99.9")),
           "mean_us": _us(d.get("mean")), "count": int(d.get("count", 0)),
           "lost": int(summary.get("lost", 0))}
    return {"irq_rate": irqs / secs if irqs is not None else None, "rtt": rtt,
            "throughput_gbps": (tx1 - tx0) * 8 / secs / 1e9,
            "rx_mpps": None, "cpu_pct": 100.0 * (soft1 - soft0) / secs, "drops": 0,
            "latency_summary": summary}


def _us(v):
    return float(v) if v is not None else 0.0


def run_real_sweep(iface: str, peer: str, port: int, settings, profiles: dict,
                   duration: float, supported: bool, results: Path | None = None,
                   progress=None) -> list[dict]:
    """Every cell on the interface; the original coalescing is restored afterwards."""
    original = realnet.get_coalesce(iface).get("values") if supported else None
    grid = list(settings) if supported else [None]
    cells = ResumableCells(results, len(grid) * len(profiles), progress)
    try:
        for s in grid:
            if s is not None:
                realnet.set_coalesce(iface, rx_usecs=s.rx_usecs if s.mode == "static" else None,
                                     tx_usecs=s.tx_usecs, adaptive_rx=s.mode != "static")
            label = s.as_dict() if s is not None else {
                "label": "current (coalescing unsupported)", "mode": "unsupported"}
            for pname, prof in profiles.items():
                key = (cell_key(s, pname, prof, duration, f"real:{iface}", 0) if s is not None
                       else f"unsupported|{pname}|{duration:g}s|real:{iface}")
                cells.cell(key, lambda label=label, pname=pname, prof=prof: {
                    "setting": label, "profile": pname, "duration_s": duration,
                    **run_real_cell(iface, peer, port, prof, duration)})
    finally:
        if original:
            with contextlib.suppress(Exception):
                realnet.set_coalesce(iface, rx_usecs=original.get("rx_usecs"),
                                     tx_usecs=original.get("tx_usecs"),
                                     adaptive_rx=original.get("adaptive_rx"))
    mark_pareto([c for c in cells.out if c["irq_rate"] is not None])
    return cells.out
