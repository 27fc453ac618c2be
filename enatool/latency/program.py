"""``enatool latency``: probe RTT through a kernel UDP socket, an AF_XDP socket, or the
software ENA pair, and report HDR percentiles, loss, reorder and duplicates.

The per-probe work runs in :mod:`numba_kernels.latency` (nogil, one worker thread, pinned
with ``cpu``); Python sets up, prints the live line and builds the summary. Each summary
says how it was measured (``how``: busy-poll or blocking, pinned CPU, copy or zero-copy,
ping-pong or open-loop), because those change the result by an order of magnitude. The
sockets, XDP programs and the software pair come from the backends
(``backends.base.latency_endpoint``); this module builds probes and runs the loops.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from enatool.errors import UsageError
from enatool.latency import probe
from enatool.latency.result import Recorder, live_row, summary
from enatool.latency.runner import run_loop
from numba_kernels import latency as kl

MODES = ("socket", "afxdp", "soft", "both")
POLLS = ("busy", "block")
RCVTIMEO_S = 0.1
SO_NO_CHECK = 11


@dataclass
class LatencyConfig:
    """What to measure (CLI options one to one)."""

    iface: str | None = None
    dst: str | None = None  # ADDR[:PORT]
    mode: str = "socket"
    poll: str = "busy"
    count: int | None = 1000
    duration: float | None = None
    warmup: int = 100
    size: int | None = None
    rate: float | None = None  # probes/s open-loop; None: ping-pong
    timeout: float = 0.2  # s to wait for an answer (and for the last ones)
    cpu: int | None = None
    netns: str | None = None
    queue: int = 0
    copy: str = "auto"
    xdp_mode: str = "auto"
    split: bool = False
    force: bool = False
    replace: bool = False
    src_port: int = 0
    # software device only
    rx_usecs: int | None = None
    tx_usecs: int | None = None
    adaptive: str = "off"

    def validate(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"unknown --mode {self.mode!r}", hint=f"one of {', '.join(MODES)}")
        if self.poll not in POLLS:
            raise UsageError(f"unknown --poll {self.poll!r}", hint="busy or block")
        if self.count is not None and self.count < 1:
            raise UsageError(f"--count {self.count} must be >= 1")
        if self.duration is not None and self.duration <= 0:
            raise UsageError(f"--duration {self.duration} must be positive")
        if self.count is None and self.duration is None:
            raise UsageError("give --count or --duration")
        if self.warmup < 0:
            raise UsageError("--warmup must be >= 0")
        if self.rate is not None and not 0 < self.rate <= 10_000_000:
            raise UsageError(f"--rate {self.rate} out of range", hint="1..10000000 probes/s")
        if self.timeout <= 0:
            raise UsageError("--timeout must be positive")
        if self.adaptive not in ("off", "table", "dim"):
            raise UsageError(f"unknown --adaptive {self.adaptive!r}", hint="off, table or dim")
        for name in ("rx_usecs", "tx_usecs"):
            v = getattr(self, name)
            if v is not None and not 0 <= v <= 10_000:
                raise UsageError(f"--{name.replace('_', '-')} {v} out of range",
                                 hint="0..10000")
        if self.split and self.iface is None:
            raise UsageError("--split needs an interface (XDP programs stamp the probes)")
        if self.iface is None and self.dst is None:
            if self.mode not in ("socket", "soft"):
                raise UsageError(f"--mode {self.mode} needs an interface and --dst",
                                 hint="leave both out for the software ENA device")
            if self.rate is not None:
                raise UsageError("--rate (open-loop) is not available on the software device",
                                 hint="leave --rate out for ping-pong")
            from enatool.latency.probe import check_size

            check_size(self.size, False, False)
            return
        if self.mode == "soft":
            raise UsageError("--mode soft takes no interface or --dst")
        if self.dst is None:
            raise UsageError("--dst ADDR[:PORT] is required with an interface")
        probe.parse_dst(self.dst)
        if self.mode in ("afxdp", "both") and self.iface is None:
            raise UsageError(f"--mode {self.mode} needs an interface")
        if self.rx_usecs is not None or self.tx_usecs is not None or self.adaptive != "off":
            raise UsageError("--rx-usecs/--tx-usecs/--adaptive apply to the software device",
                             hint="on a real interface use `ethtool -C`")


def _live(rec: Recorder, enabled: bool) -> Callable[[float], None] | None:
    if not enabled:
        return None

    def show(t: float) -> None:
        print(live_row(rec, t), file=sys.stderr, flush=True)

    return show


def _deadline(cfg: LatencyConfig) -> int:
    import time

    if cfg.duration is None:
        return 0
    return time.monotonic_ns() + int(cfg.duration * 1e9)


def _period(cfg: LatencyConfig) -> int:
    return 0 if cfg.rate is None else max(int(1e9 / cfg.rate), 1)


def _pattern(cfg: LatencyConfig) -> dict[str, Any]:
    return {"pattern": "ping-pong" if cfg.rate is None else "open-loop",
            "rate_pps": cfg.rate, "warmup": cfg.warmup, "timeout_s": cfg.timeout}


# -- socket mode ------------------------------------------------------------------------------
def run_socket(cfg: LatencyConfig, live: bool = False,
               stop: np.ndarray | None = None) -> tuple[dict[str, Any], Recorder]:
    """Kernel UDP client (connected socket; busy = non-blocking spin like sockperf
    ``--nonblocked``, block = blocking receive)."""
    from enatool.backends.base import latency_endpoint

    assert cfg.dst is not None
    addr, port = probe.parse_dst(cfg.dst)
    ipv6 = ipaddress.ip_address(addr).version == 6
    size = probe.check_size(cfg.size, ipv6, cfg.split)
    fam = socket.AF_INET6 if ipv6 else socket.AF_INET
    if cfg.iface:
        from enatool.netdev import lookup

        lookup(cfg.iface, cfg.netns)  # a missing interface is a one-line error, not ENODEV
    ep = latency_endpoint("socket", fam, cfg.netns)
    sock = ep.sock
    steer = None
    try:
        if cfg.iface:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, cfg.iface.encode())
        sock.bind(("::" if ipv6 else "0.0.0.0", cfg.src_port))
        sock.connect((addr, port))
        if cfg.poll == "block":
            tv = struct.pack("ll", 0, int(RCVTIMEO_S * 1e6))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
        if cfg.split and cfg.iface:
            if not ipv6:
                # the XDP stamps rewrite the payload after the kernel's checksum offload
                # (CHECKSUM_PARTIAL, lost at XDP_TX): send without a UDP checksum
                sock.setsockopt(socket.SOL_SOCKET, SO_NO_CHECK, 1)
            steer = _attach_steer(cfg, port)
        txbuf = probe.payload(size, ipv6)
        rxbuf = np.zeros(2048, np.uint8)
        rec = Recorder()
        stop = np.zeros(1, np.int64) if stop is None else stop
        pollfd = np.array([sock.fileno(), 0], np.int32)
        libc = ep.libc
        args = (sock.fileno(), txbuf, len(txbuf), rxbuf, cfg.warmup,
                -1 if cfg.count is None else cfg.count, _deadline(cfg), _period(cfg),
                int(cfg.timeout * 1e9), cfg.poll == "busy", stop, *rec.hist_args(),
                libc.sendto, libc.recvfrom, libc.poll, pollfd, libc.clock,
                np.zeros(2, np.int64))
        _, interrupted, secs = run_loop(kl.socket_client, args, stop, cfg.cpu,
                                        _live(rec, live))
    finally:
        if steer is not None:
            steer.close()
        ep.close()
    out = {"mode": "socket", "how": {
        "poll": cfg.poll, "pinned_cpu": cfg.cpu, "copy": "kernel socket",
        "family": "ipv6" if ipv6 else "ipv4", **_pattern(cfg)},
        "dst": f"{addr}:{port}", "size": size, "payload": len(txbuf),
        "interrupted": interrupted, "elapsed_s": round(secs, 3), **summary(rec)}
    return out, rec


def _steer_defines(cfg: LatencyConfig) -> dict[str, int]:
    """lat_steer on the client interface: takes answers (source port = the reflector's) and
    stamps them for ``--split``."""
    return {"MATCH_SPORT": 1, "STAMP": int(cfg.split)}


def _attach_steer(cfg: LatencyConfig, port: int):
    """lat_steer alone in front of the kernel socket client (``--split`` stamps)."""
    from enatool.backends.base import latency_endpoint

    assert cfg.iface is not None
    return latency_endpoint("xdp", "lat_steer", port, cfg.iface, cfg.netns,
                            defines=_steer_defines(cfg), xdp_mode=cfg.xdp_mode,
                            replace=cfg.replace, force=cfg.force)


# -- AF_XDP mode ------------------------------------------------------------------------------
def _iface_addrs(iface: str, netns: str | None, dst: str) -> tuple[bytes, str, bytes]:
    """(own MAC, own IPv4 address, peer MAC from the neighbour table)."""
    from enatool.netdev import ipr

    with ipr(netns) as rt:
        idx = rt.link_lookup(ifname=iface)
        if not idx:
            raise UsageError(f"no interface named {iface}")
        link = rt.link("get", index=idx[0])[0]
        mac = bytes.fromhex(link.get("IFLA_ADDRESS").replace(":", ""))
        src = None
        for a in rt.get_addr(index=idx[0], family=socket.AF_INET):
            src = a.get("IFA_ADDRESS")
            break
        peer = None
        for n in rt.get_neighbours(ifindex=idx[0], family=socket.AF_INET):
            if n.get("NDA_DST") == dst and n.get("NDA_LLADDR"):
                peer = bytes.fromhex(n.get("NDA_LLADDR").replace(":", ""))
    if src is None:
        raise UsageError(f"{iface} has no IPv4 address", hint="add one, or use --mode socket")
    if peer is None:
        raise UsageError(f"no neighbour entry for {dst} on {iface}",
                         hint=f"ping {dst} once, or add a static entry with `ip neigh`")
    return mac, src, peer


def run_afxdp(cfg: LatencyConfig, live: bool = False,
              stop: np.ndarray | None = None) -> tuple[dict[str, Any], Recorder]:
    """AF_XDP client on ``cfg.queue`` of ``cfg.iface``: probes leave from the XSK Tx ring;
    lat_steer hands answers (source port = the reflector's port) to the same socket."""
    from enatool.backends.base import latency_endpoint
    from enatool.netdev import check_safe

    assert cfg.iface is not None and cfg.dst is not None
    addr, port = probe.parse_dst(cfg.dst)
    size = probe.check_size(cfg.size, ipaddress.ip_address(addr).version == 6, cfg.split)
    dev = check_safe(cfg.iface, cfg.force, cfg.netns)
    mac, src, peer = _iface_addrs(cfg.iface, cfg.netns, addr)
    sport = cfg.src_port or 40000 + (port % 1000)
    frame, po = probe.build_frame(size, mac, peer, src, addr, sport, port)
    busy = cfg.poll == "busy"
    with latency_endpoint("afxdp", dev.index, cfg.iface, cfg.queue, port, cfg.netns,
                          defines=_steer_defines(cfg), copy=cfg.copy, busy=busy,
                          xdp_mode=cfg.xdp_mode, replace=cfg.replace, force=cfg.force) as ep:
        xsk = ep.xsk
        rec = Recorder()
        stop = np.zeros(1, np.int64) if stop is None else stop
        libc = ep.libc
        r = xsk.rings
        tx, comp, rx, fill = r["tx"], r["comp"], r["rx"], r["fill"]
        umem = xsk.umem
        assert umem is not None
        args = (umem.buf, frame, len(frame), po, len(frame) - po, tx.producer, tx.consumer,
                tx.flags, tx.addr, tx.len, tx.mask, comp.producer, comp.consumer, comp.addr,
                comp.mask, xsk.tx_stack, xsk.tx_depth, rx.producer, rx.consumer, rx.addr,
                rx.len, rx.mask, fill.producer, fill.consumer, fill.addr, fill.mask,
                ~np.int64(umem.frame_size - 1), np.zeros(32, np.int64), np.zeros(32, np.int64),
                np.zeros(1, np.int64), cfg.warmup, -1 if cfg.count is None else cfg.count,
                _deadline(cfg), _period(cfg), int(cfg.timeout * 1e9), busy, stop,
                *rec.hist_args(), xsk.fd, libc.sendto, libc.recvfrom, libc.poll,
                np.array([xsk.fd, 0], np.int32), libc.clock, np.zeros(2, np.int64))
        _, interrupted, secs = run_loop(kl.xsk_client, args, stop, cfg.cpu, _live(rec, live))
        how = {"poll": "busy" if busy else "block", "pinned_cpu": cfg.cpu,
               "copy": xsk.bind_mode, "xdp_attach": ep.mode, "queue": cfg.queue,
               "family": "ipv4", **_pattern(cfg)}
    out = {"mode": "afxdp", "how": how, "dst": f"{addr}:{port}", "size": size,
           "payload": len(frame) - po, "interrupted": interrupted, "elapsed_s": round(secs, 3),
           **summary(rec)}
    return out, rec


# -- dispatch ---------------------------------------------------------------------------------
def run_latency(cfg: LatencyConfig, live: bool = False) -> dict[str, Any]:
    """Run ``cfg``; returns ``{"runs": [summary, ...], "histograms": {mode: Recorder}}``
    (``--mode both`` runs AF_XDP then socket in the same invocation)."""
    cfg.validate()
    if cfg.iface is None and cfg.dst is None:
        from enatool.latency.soft import run_soft

        s, rec = run_soft(cfg, live)
        return {"runs": [s], "histograms": {"soft": rec}}
    modes = ["afxdp", "socket"] if cfg.mode == "both" else [cfg.mode]
    runs, hists = [], {}
    stop = np.zeros(1, np.int64)
    for m in modes:
        if stop[0]:
            break
        fn = run_afxdp if m == "afxdp" else run_socket
        sub = LatencyConfig(**{**cfg.__dict__, "mode": m})
        s, rec = fn(sub, live, stop)
        runs.append(s)
        hists[m] = rec
    return {"runs": runs, "histograms": hists}


__all__ = ["LatencyConfig", "run_latency", "run_socket", "run_afxdp"]
