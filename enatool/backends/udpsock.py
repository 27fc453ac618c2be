"""``--engine socket``: the kernel's UDP stack as the comparison baseline (``sendmmsg``).

One UDP socket per distinct source port of the flow table (bound to the flow's source
address and port, ``SO_BINDTODEVICE`` the interface, created in the interface's netns); the
``mmsghdr``/``iovec`` arrays are built once and :func:`numba_kernels.sendmmsg.send_loop` runs
the whole loop in nogil code, one thread per ``-q`` queue (each owning every Q-th socket).
The payload is the template's (probe header included, so ``sink`` checks sequences); the
kernel writes the headers, so MACs come from its neighbour table and TTL/TOS/VLAN from its
own settings. UDP only: TCP needs a connection, which is not a traffic generator's job here.
With Tx checksum offload (veth, ENA) the UDP checksum is left to the device; a veth never
fills it in, so a ``sink`` on the veth peer sees the partial sum: run it with --no-verify.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from enatool import netdev, sysffi
from enatool.backends.afxdp import engine as eng
from enatool.backends.afxdp.xdp import run_in_netns
from enatool.errors import CapabilityError, UsageError
from numba_kernels import fieldengine as fe
from numba_kernels import pacing as kp
from numba_kernels import sendmmsg as km

MAX_SOCKETS = 1024
SA_STRIDE = 32  # sockaddr_in6 is 28 bytes
SO_BINDTODEVICE = 25


def _sockaddr(addr: bytes, port: int) -> bytes:
    if len(addr) == 4:
        return (socket.AF_INET.to_bytes(2, "little") + port.to_bytes(2, "big") + addr).ljust(
            16, b"\0")
    return (socket.AF_INET6.to_bytes(2, "little") + port.to_bytes(2, "big") + bytes(4) + addr
            + bytes(4))


class SocketTx:
    """Kernel UDP transmit on ``ifname`` (in ``netns``) with ``len(queues)`` threads."""

    name = "socket"
    xdp_mode = None
    bind_mode = None

    def __init__(self, ifname: str, netns: str | None = None, *,
                 queues: Sequence[int] | None = None, batch: int = 64, force: bool = False,
                 cpus: Sequence[int] | None = None):
        self.ifname, self.netns, self.batch = ifname, netns, max(int(batch), 1)
        self.dev = netdev.check_safe(ifname, force, netns)
        self.queues = list(queues) if queues else [0]
        self.cpus = list(cpus) if cpus else None
        self.socks: list[socket.socket] = []

    def __enter__(self) -> SocketTx:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        socks, self.socks = self.socks, []
        for s in socks:
            with contextlib.suppress(OSError):
                s.close()

    def _open(self, family: int, src: bytes, sport: int) -> socket.socket:
        s = socket.socket(family, socket.SOCK_DGRAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, self.ifname.encode())
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
            s.bind((socket.inet_ntop(family, src), sport))
        except OSError as e:
            s.close()
            raise CapabilityError(f"UDP socket on {self.ifname} ({e.strerror})",
                                  hint=sysffi.errno_advice(e)) from None
        return s

    def run_tx(self, tset: Any, count: int | None = None, duration: float | None = None,
               rate: float | None = None, bitrate: float | None = None,
               fill_mode: str = "fields", seq_next: np.ndarray | None = None,
               on_tick: Callable[[dict[str, Any]], None] | None = None,
               tick_interval: float = 1.0) -> dict[str, Any]:
        """Send ``tset``'s payloads until ``count`` frames, ``duration`` s or Ctrl-C."""
        ly = tset.layout
        if not int(ly[fe.LY_UDP]):
            raise UsageError("--engine socket sends UDP only (a TCP flood needs raw frames)",
                             hint="use --proto udp, or --engine afxdp for TCP frames")
        f = tset.flows
        ipv6 = int(ly[fe.LY_ADDR_LEN]) == 16
        family = socket.AF_INET6 if ipv6 else socket.AF_INET
        keys = sorted({(bytes(f.src[i]), int(f.sport[i])) for i in range(len(f))})
        if len(keys) > MAX_SOCKETS:
            raise UsageError(f"{len(keys)} source address/port pairs need as many sockets",
                             hint=f"at most {MAX_SOCKETS}; vary --dst/--dport instead")
        nq = min(len(self.queues), len(keys))
        self.close()
        self.socks = run_in_netns(self.netns, lambda: [self._open(family, a, p)
                                                      for a, p in keys])
        sock_of = {k: i for i, k in enumerate(keys)}
        members: list[list[int]] = [[] for _ in keys]
        for i in range(len(f)):
            members[sock_of[(bytes(f.src[i]), int(f.sport[i]))]].append(i)
        # sockaddrs of every flow's destination
        sa = np.zeros(len(f) * SA_STRIDE, np.uint8)
        for i in range(len(f)):
            raw = _sockaddr(bytes(f.dst[i]), int(f.dport[i]))
            sa[i * SA_STRIDE:i * SA_STRIDE + len(raw)] = np.frombuffer(raw, np.uint8)
        sa_len = 28 if ipv6 else 16
        # a socket whose flows all go to one destination is connected: sendmmsg then needs
        # no msg_name and the kernel uses the socket's cached route instead of a lookup per
        # message (what sockperf and iperf do too)
        sa_lens = np.full(len(keys), sa_len, np.int64)
        for s_i, fl in enumerate(members):
            dests = {(bytes(f.dst[i]), int(f.dport[i])) for i in fl}
            if len(dests) == 1:
                (daddr, dport), = dests
                try:
                    self.socks[s_i].connect((socket.inet_ntop(family, daddr), dport))
                    sa_lens[s_i] = 0
                except OSError:
                    pass  # stays unconnected: msg_name per message still works
        po = int(ly[fe.LY_PAYLOAD_OFF])
        plen = (tset.frame_len.astype(np.int64) - po)
        ptemplates = np.ascontiguousarray(tset.templates[:, po:])
        if seq_next is None:
            seq_next = np.zeros(len(f), np.int64)
        libc = eng._Libc.get()
        sendmmsg = sysffi.libc_sendmmsg()
        counters = np.zeros((nq, km.S_N), np.int64)
        stop = np.zeros(1, np.uint8)
        paced = 0 if rate is None and bitrate is None else (1 if rate is not None else 2)
        stride = (int(plen.max()) + 63) // 64 * 64
        keep: list[Any] = [sa]
        args_of = []
        counts = eng.split(count, nq)
        for qi in range(nq):
            mine = list(range(qi, len(keys), nq))
            flist, first, cnt = [], [], []
            for s in mine:
                first.append(len(flist))
                cnt.append(len(members[s]))
                flist.extend(members[s])
            b = self.batch
            hdr = np.zeros((b, 8), np.int64)
            iov = np.zeros((b, 2), np.int64)
            payload = np.zeros(b * stride, np.uint8)
            base = payload.ctypes.data
            for i in range(b):
                iov[i, 0] = base + i * stride
                hdr[i, 2] = iov.ctypes.data + i * 16
                hdr[i, 3] = 1
            pstate = np.zeros(kp.PS_N, np.int64)
            if paced:
                total = rate if rate is not None else bitrate
                per_q = max(int(total) // nq + (1 if qi < int(total) % nq else 0), 1)
                kp.pacer_init(pstate, per_q, eng.pacer_burst(
                    per_q, rate is not None, int(tset.class_wire_bits.max())))
            keep += [hdr, iov, payload]
            args_of.append((
                np.array([self.socks[s].fileno() for s in mine], np.int64),
                np.array(first, np.int64), np.array(cnt, np.int64),
                np.array(flist, np.int64), np.zeros(len(mine), np.int64), hdr, iov, payload,
                stride, np.full(b, -1, np.int64), ptemplates, plen,
                tset.probe_len.astype(np.int64), tset.size_sched.astype(np.int64),
                tset.class_wire_bits.astype(np.int64), seq_next, sa.ctypes.data, SA_STRIDE,
                sa_lens[mine], b, counts[qi], 0, stop, pstate, paced, np.zeros(b, np.int64),
                sendmmsg, libc.clock, np.zeros(2, np.int64), counters, qi))
        # compile (or load from the cache) before the clock starts
        stop[0] = 2
        km.send_loop(*args_of[0])
        stop[0] = km.RUN
        t0 = time.monotonic_ns()
        deadline = t0 + int(duration * 1e9) if duration else 0
        workers = []
        for qi, a in enumerate(args_of):
            a = a[:21] + (deadline,) + a[22:]
            cpu = self.cpus[qi % len(self.cpus)] if self.cpus else None
            workers.append(eng.Worker(self.queues[qi], km.send_loop, a, cpu))
        nxt = [t0 + int(tick_interval * 1e9)]

        def snap(now: int) -> dict[str, Any]:
            c = counters.copy()
            pk, by = int(c[:, km.S_PACKETS].sum()), int(c[:, km.S_BYTES].sum())
            return {"t": (now - t0) / 1e9, "packets": pk, "bytes": by + po * pk,
                    "wire_bits": (by + (po + 24) * pk) * 8,
                    "queues": {self.queues[i]: int(c[i, 0]) for i in range(nq)}}

        def poll() -> None:
            now = time.monotonic_ns()
            if on_tick is not None and now >= nxt[0]:
                nxt[0] += int(tick_interval * 1e9)
                on_tick(snap(now))

        try:
            interrupted = eng.run_workers(workers, stop, poll)
        finally:
            del keep
        t1 = time.monotonic_ns()
        if on_tick is not None:
            on_tick(snap(t1))
        final = snap(t1)
        dur = (t1 - t0) / 1e9
        pk = final["packets"]
        return {
            "backend": self.name, "ifname": self.ifname, "xdp_mode": None, "bind_mode": None,
            "batch": self.batch, "interrupted": interrupted, "duration_s": dur,
            "packets": pk, "bytes": final["bytes"], "completed": pk,
            "wire_bits": final["wire_bits"],
            "probed": pk if int(tset.probe_len.min()) > 0 else 0,
            "pps": pk / dur if dur > 0 else 0.0, "stalled": False,
            "send_window_s": eng.send_window(counters[:, km.S_T_FIRST],
                                             counters[:, km.S_T_LAST]),
            "errors": int(counters[:, km.S_ERRORS].sum()),
            "worker_cpu": eng.worker_cpu(workers),
            "per_queue": [{"queue": self.queues[i], "tx_packets": int(counters[i, 0]),
                           "tx_bytes": int(counters[i, 1]) + po * int(counters[i, 0]),
                           "calls": int(counters[i, km.S_CALLS]),
                           "partial": int(counters[i, km.S_PARTIAL]),
                           "sockets": len(range(i, len(keys), nq)),
                           "connected": int((sa_lens[i::nq] == 0).sum())} for i in range(nq)],
        }


__all__ = ["SocketTx"]
