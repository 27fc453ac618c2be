"""``enatool reflect``: answer latency probes.

- ``xdp`` (default): ``lat_reflect`` of bpf/latency.c turns probes around in the driver
  (XDP_TX) and stamps them for ``latency --split``; everything else passes to the kernel.
  Counters per Rx queue from the program's own map.
- ``afxdp``: a user-space reflector on one XSK per queue (``lat_steer`` hands it the
  probes), busy-polling and pinned: in-kernel vs user-space turnaround.
- ``socket``: a UDP echo server (the baseline, like ``sockperf sr``).

``drop_every`` drops every N-th probe (per reflector; a test hook for loss accounting).
Resources are context-managed: XDP links, sockets and UMEM are released on any exit. They
come from the backends (``backends.base.latency_endpoint``); this module runs the loops.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from enatool.errors import UsageError
from enatool.latency.runner import run_loop
from enatool.signals import sigterm_as_interrupt
from numba_kernels import latency as kl

MODES = ("xdp", "afxdp", "socket")


@dataclass
class ReflectConfig:
    iface: str | None = None
    mode: str = "xdp"
    port: int = 7
    netns: str | None = None
    queues: list[int] | None = None
    copy: str = "auto"
    busy: bool = True
    xdp_mode: str = "auto"
    cpu: int | None = None
    force: bool = False
    replace: bool = False
    drop_every: int = 0
    duration: float | None = None
    bind: str | None = None  # socket mode: local address

    def validate(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"unknown --mode {self.mode!r}", hint="xdp, afxdp or socket")
        if not 0 < self.port < 65536:
            raise UsageError(f"--port {self.port} out of range", hint="1..65535")
        if self.drop_every < 0:
            raise UsageError("--drop-every must be >= 0")
        if self.mode != "socket" and not self.iface:
            raise UsageError(f"--mode {self.mode} needs an interface")


def _print(line: str, live: bool) -> None:
    if live:
        print(line, file=sys.stderr, flush=True)


def _wait(cfg: ReflectConfig, show: Any) -> bool:
    """Sleep until Ctrl-C/SIGTERM or ``duration``, calling ``show`` each second."""
    t0 = time.monotonic()
    with sigterm_as_interrupt():
        try:
            while cfg.duration is None or time.monotonic() - t0 < cfg.duration:
                time.sleep(min(1.0, cfg.duration or 1.0))
                show(time.monotonic() - t0)
        except KeyboardInterrupt:
            return True
    return False


def run_xdp(cfg: ReflectConfig, live: bool = False, ready: Any = None) -> dict[str, Any]:
    from enatool.backends.base import latency_endpoint

    assert cfg.iface is not None
    with latency_endpoint("xdp", "lat_reflect", cfg.port, cfg.iface, cfg.netns,
                          drop_every=cfg.drop_every, xdp_mode=cfg.xdp_mode,
                          replace=cfg.replace, force=cfg.force) as prog:
        _print(f"reflecting probes to UDP port {cfg.port} on {cfg.iface} in XDP "
               f"({prog.mode}); Ctrl-C to stop", live)
        if ready is not None:
            ready()

        def show(t: float) -> None:
            q = prog.qstats(8).sum(axis=0)
            _print(f"{t:6.1f}s rx {q[0]:>10} reflected {q[2]:>10} passed {q[3]:>8} "
                   f"dropped {q[4]:>6}", live)

        interrupted = _wait(cfg, show)
        qs = prog.qstats()
        attach_mode, fields = prog.mode, prog.QSTATS_FIELDS
    rows = [{"queue": q, **{f: int(qs[q, i]) for i, f in enumerate(fields)}}
            for q in range(len(qs)) if qs[q].any()]
    tot = qs.sum(axis=0)
    return {"mode": "xdp", "iface": cfg.iface, "port": cfg.port, "xdp_attach": attach_mode,
            "interrupted": interrupted, "rx": int(tot[0]), "reflected": int(tot[2]),
            "passed": int(tot[3]), "dropped": int(tot[4]), "queues": rows}


def run_socket(cfg: ReflectConfig, live: bool = False, ready: Any = None) -> dict[str, Any]:
    from enatool.backends.base import latency_endpoint

    bind = cfg.bind or "::"
    ipv6 = ipaddress.ip_address(bind).version == 6
    ep = latency_endpoint("socket", socket.AF_INET6 if ipv6 else socket.AF_INET, cfg.netns)
    sock = ep.sock
    try:
        if ipv6 and bind == "::":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        if cfg.iface:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, cfg.iface.encode())
        try:
            sock.bind((bind, cfg.port))
        except OSError as e:
            raise UsageError(f"cannot bind UDP port {cfg.port}: {e.strerror}",
                             hint="pick another --port") from None
        if not cfg.busy:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 100000))
        rc = np.zeros(kl.R_N, np.int64)
        stop = np.zeros(1, np.int64)
        libc = ep.libc
        _print(f"UDP echo on port {cfg.port} ({'busy-poll' if cfg.busy else 'blocking'}"
               f"{f', cpu {cfg.cpu}' if cfg.cpu is not None else ''}); Ctrl-C to stop", live)
        if ready is not None:
            ready()
        args = (sock.fileno(), np.zeros(65536, np.uint8), np.zeros(128, np.uint8),
                np.zeros(1, np.uint32), cfg.drop_every, cfg.busy, stop, rc, libc.sendto,
                libc.recvfrom)
        if cfg.duration is not None:
            cfg_deadline = time.monotonic() + cfg.duration

        def show(t: float) -> None:
            _print(f"{t:6.1f}s rx {rc[0]:>10} echoed {rc[1]:>10} dropped {rc[2]:>6}", live)
            if cfg.duration is not None and time.monotonic() >= cfg_deadline:
                stop[0] = 2

        _, interrupted, _ = run_loop(kl.socket_reflector, args, stop, cfg.cpu, show,
                                     interval=1.0 if cfg.duration is None else 0.05)
    finally:
        ep.close()
    return {"mode": "socket", "port": cfg.port, "poll": "busy" if cfg.busy else "block",
            "pinned_cpu": cfg.cpu, "interrupted": interrupted, "rx": int(rc[kl.R_RX]),
            "reflected": int(rc[kl.R_TX]), "dropped": int(rc[kl.R_DROPPED]),
            "not_probes": int(rc[kl.R_BAD])}


def run_afxdp(cfg: ReflectConfig, live: bool = False, ready: Any = None) -> dict[str, Any]:
    from enatool.backends.base import latency_endpoint
    from enatool.netdev import check_safe

    assert cfg.iface is not None
    dev = check_safe(cfg.iface, cfg.force, cfg.netns)
    queues = cfg.queues or [0]
    if len(queues) > 1:
        raise UsageError("--mode afxdp reflects on one queue", hint="pass one -q")
    q = queues[0]
    with latency_endpoint("afxdp", dev.index, cfg.iface, q, cfg.port, cfg.netns,
                          defines={"MATCH_SPORT": 0, "STAMP": 0}, copy=cfg.copy,
                          busy=cfg.busy, xdp_mode=cfg.xdp_mode, replace=cfg.replace,
                          force=cfg.force) as ep:
        xsk = ep.xsk
        rc = np.zeros(kl.R_N, np.int64)
        stop = np.zeros(1, np.int64)
        libc = ep.libc
        r = xsk.rings
        rx, tx, comp, fill = r["rx"], r["tx"], r["comp"], r["fill"]
        umem = xsk.umem
        assert umem is not None
        args = (umem.buf, rx.producer, rx.consumer, rx.addr, rx.len, rx.mask,
                tx.producer, tx.consumer, tx.addr, tx.len, tx.mask, comp.producer,
                comp.consumer, comp.addr, comp.mask, fill.producer, fill.consumer,
                fill.addr, fill.mask, ~np.int64(umem.frame_size - 1),
                np.zeros(32, np.int64), np.zeros(32, np.int64),
                np.zeros(xsk.ring_size, np.int64), cfg.drop_every, cfg.busy, stop, rc,
                xsk.fd, libc.sendto, libc.recvfrom, libc.poll,
                np.array([xsk.fd, 0], np.int32))
        _print(f"AF_XDP reflector on {cfg.iface} queue {q} ({xsk.bind_mode}, "
               f"{'busy-poll' if cfg.busy else 'poll'}, XDP {ep.mode}); Ctrl-C to stop", live)
        if ready is not None:
            ready()
        t_end = None if cfg.duration is None else time.monotonic() + cfg.duration

        def show(t: float) -> None:
            _print(f"{t:6.1f}s rx {rc[0]:>10} reflected {rc[1]:>10} "
                   f"dropped {rc[2]:>6}", live)
            if t_end is not None and time.monotonic() >= t_end:
                stop[0] = 2

        _, interrupted, _ = run_loop(kl.xsk_reflector, args, stop, cfg.cpu, show,
                                     interval=1.0 if t_end is None else 0.05)
        bind_mode, attach_mode = xsk.bind_mode, ep.mode
    return {"mode": "afxdp", "iface": cfg.iface, "port": cfg.port, "queue": q,
            "copy": bind_mode, "xdp_attach": attach_mode,
            "poll": "busy" if cfg.busy else "block", "pinned_cpu": cfg.cpu,
            "interrupted": interrupted, "rx": int(rc[kl.R_RX]), "reflected": int(rc[kl.R_TX]),
            "dropped": int(rc[kl.R_DROPPED]), "not_probes": int(rc[kl.R_BAD])}


def run_reflect(cfg: ReflectConfig, live: bool = False, ready: Any = None) -> dict[str, Any]:
    cfg.validate()
    fn = {"xdp": run_xdp, "afxdp": run_afxdp, "socket": run_socket}[cfg.mode]
    return fn(cfg, live, ready)
