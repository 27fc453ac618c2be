"""Latency through the software ENA pair on the virtual clock (no interface needed).

End 0 sends a probe; end 1's driver receives it only when its NAPI runs after the Rx
interrupt, which interrupt moderation (``rx_usecs``, the 2016 table or DIM) delays; end 1
turns the frame around and sends it back through the same machinery. The clock advances in
``STEP`` slices, so RTTs are multiples of 1 µs and the run is deterministic: the effect of
a moderation setting is visible before touching an instance. Ping-pong only. The soft
backend sets the pair up (``latency_endpoint("soft")``); this module drives it through the
``Backend`` calls only.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from enatool.errors import UsageError
from enatool.latency import probe
from enatool.latency.result import Recorder, live_row, summary
from numba_kernels import latency as kl

STEP = 1e-6
ADAPTIVE = {"off": None, "table": "adaptive2016", "dim": "dim"}
MAC_A = bytes.fromhex("02000000000a")
MAC_B = bytes.fromhex("02000000000b")


def _wait(be: Any, end: int, deadline: float) -> list[bytes]:
    while be.now() < deadline:
        be.advance(STEP)
        got = be.rx_burst(0, end=end)
        if got:
            return got
    return []


def run_soft(cfg: Any, live: bool = False) -> tuple[dict[str, Any], Recorder]:
    from enatool.backends.base import latency_endpoint

    if cfg.rate is not None:
        raise UsageError("--rate (open-loop) is not available on the software device",
                         hint="leave --rate out for ping-pong")
    if cfg.adaptive not in ADAPTIVE:
        raise UsageError(f"unknown --adaptive {cfg.adaptive!r}", hint="off, table or dim")
    for name in ("rx_usecs", "tx_usecs"):
        v = getattr(cfg, name)
        if v is not None and not 0 <= v <= 10_000:
            raise UsageError(f"--{name.replace('_', '-')} {v} out of range", hint="0..10000")
    size = probe.check_size(cfg.size, False, False)
    frame, po = probe.build_frame(size, MAC_A, MAC_B, "198.18.0.1", "198.18.0.2", 40007,
                                  probe.DEFAULT_PORT)
    be = latency_endpoint("soft", step=STEP, tx_usecs=cfg.tx_usecs, rx_usecs=cfg.rx_usecs,
                          adaptive=ADAPTIVE[cfg.adaptive])
    rec = Recorder()
    st = rec.st
    interrupted = False
    rtts: list[int] = []
    try:
        coalesce = be.get_coalesce(end=0)
        total = None if cfg.count is None else cfg.warmup + cfg.count
        t_start = be.now()
        wall_next = time.monotonic() + 1.0
        seq = 0
        while total is None or seq < total:
            if cfg.duration is not None and seq >= cfg.warmup and \
                    be.now() - t_start >= cfg.duration:
                break
            buf = frame.copy()
            kl.put_be(buf, po + kl.OFF_SEQ, 8, seq)
            t0 = be.now()
            be.tx_burst(0, [buf.tobytes()], end=0)
            st[kl.S_WARM_SENT if seq < cfg.warmup else kl.S_SENT] += 1
            deadline = t0 + cfg.timeout
            try:
                got = _wait(be, 1, deadline)
                back = []
                for f in got:
                    b = np.frombuffer(f, np.uint8).copy()
                    if kl.reflect_frame(b, 0, len(b)) > 0:
                        back.append(b.tobytes())
                if back:
                    be.tx_burst(0, back, end=1)
                answer = _wait(be, 0, deadline) if back else []
            except KeyboardInterrupt:
                interrupted = True
                break
            if answer:
                if seq >= cfg.warmup:
                    rtts.append(round((be.now() - t0) * 1e9))
                else:
                    st[kl.S_WARM_RECV] += 1
            else:
                st[kl.S_TIMEOUTS] += 1
            seq += 1
            if live and time.monotonic() >= wall_next:
                rec.record_ns(np.array(rtts, np.int64))
                rtts = []
                print(live_row(rec, be.now() - t_start), file=sys.stderr, flush=True)
                wall_next += 1.0
        rec.record_ns(np.array(rtts, np.int64))
        virtual = be.now() - t_start
    finally:
        be.close()
    how = {"poll": "interrupt+NAPI (software device)", "pinned_cpu": None,
           "copy": "software device", "clock": "virtual", "step_us": STEP * 1e6,
           "coalesce": coalesce, "adaptive": cfg.adaptive, "pattern": "ping-pong",
           "warmup": cfg.warmup, "timeout_s": cfg.timeout}
    out = {"mode": "soft", "how": how, "dst": "software ENA end 1", "size": size,
           "payload": len(frame) - po, "interrupted": interrupted,
           "elapsed_s": round(virtual, 6), **summary(rec)}
    return out, rec
