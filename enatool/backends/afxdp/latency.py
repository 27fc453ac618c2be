"""Latency endpoints on a real interface, for ``enatool latency`` and ``enatool reflect``.

The latency programs build their probe frames and run their loops in
:mod:`numba_kernels.latency`; what those loops run *on* is set up here, where the XDP and
AF_XDP machinery lives (programs reach these classes only through
:func:`enatool.backends.base.latency_endpoint`):

- :class:`LatencyProgram`: ``lat_reflect`` / ``lat_steer`` of ``bpf/latency.c`` loaded through
  :class:`~enatool.backends.afxdp.xdp.XdpProgram`, plus the latency file's ``cfg`` map;
- :class:`LatencyXdp`: one of them loaded *and* attached (the in-driver reflector, or the
  steering/stamping program in front of a client);
- :class:`LatencyXsk`: an AF_XDP socket on one queue with ``lat_steer`` handing it the probes;
- :class:`LatencySocket`: a kernel UDP socket created in the interface's network namespace.

The kernel-socket endpoint sits here too because, like ``backends/udpsock.py``, it shares the
namespace helper (:func:`~enatool.backends.afxdp.xdp.run_in_netns`) and the libc pointers the
nogil loops call (``engine._Libc``) with the AF_XDP engine. Every endpoint is a context
manager; ``close()`` releases what it holds (detach, unload, close) and is idempotent.
"""

from __future__ import annotations

import socket
from typing import Any, Self

from enatool.backends.afxdp.engine import _Libc
from enatool.backends.afxdp.xdp import (
    MAX_QUEUES,
    QSTATS_FIELDS,
    XdpAttach,
    XdpProgram,
    run_in_netns,
)
from enatool.backends.afxdp.xsk import XskSocket

FUNCS = ("lat_reflect", "lat_steer")
RING_SIZE = 256  # XSK rings of a latency endpoint: a few probes in flight at most
BATCH = 32


class _Endpoint:
    """Context manager over ``close()``."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class LatencyProgram(XdpProgram):
    """``func`` of bpf/latency.c compiled with ``LAT_PORT=port`` (and extra defines)."""

    def __init__(self, func: str, port: int, defines: dict[str, int] | None = None):
        assert func in FUNCS
        super().__init__(func, {"LAT_PORT": int(port), **(defines or {})}, src="latency")

    def set_drop_every(self, n: int) -> None:
        table = self.bpf[b"cfg"]
        leaf = table.Leaf()
        leaf.drop_every = int(n)
        table[table.Key(0)] = leaf


class LatencyXdp(_Endpoint):
    """``func`` of bpf/latency.c for UDP ``port``, loaded and attached to ``iface`` (in
    ``netns``) until ``close()``.

    ``drop_every`` writes lat_reflect's loss hook first; ``xsk=(queue, fd)`` points
    lat_steer's XSKMAP slot ``queue`` at an AF_XDP socket before the attach. After
    construction ``mode`` is the attach mode ('native' or 'skb'); ``qstats()`` reads the
    per-Rx-queue counters named by ``QSTATS_FIELDS``.
    """

    QSTATS_FIELDS = QSTATS_FIELDS

    def __init__(self, func: str, port: int, iface: str, netns: str | None = None, *,
                 defines: dict[str, int] | None = None, drop_every: int | None = None,
                 xsk: tuple[int, int] | None = None, xdp_mode: str = "auto",
                 replace: bool = False, force: bool = False):
        self.prog: LatencyProgram | None = LatencyProgram(func, port, defines)
        self.attach: XdpAttach | None = None
        try:
            if drop_every is not None:
                self.prog.set_drop_every(drop_every)
            if xsk is not None:
                self.prog.set_xsk(*xsk)
            self.attach = XdpAttach(self.prog.fd, iface, netns, mode=xdp_mode,
                                    replace=replace, force=force).__enter__()
        except BaseException:
            self.close()
            raise
        self.mode = self.attach.mode

    def qstats(self, queues: int = MAX_QUEUES):
        assert self.prog is not None
        return self.prog.qstats(queues)

    def close(self) -> None:
        attach, self.attach = self.attach, None
        prog, self.prog = self.prog, None
        if attach is not None:
            attach.close()
        if prog is not None:
            prog.close()


class LatencyXsk(_Endpoint):
    """An AF_XDP socket on ``queue`` of ``iface`` (index ``ifindex``, in ``netns``; rings of
    ``RING_SIZE``, batch ``BATCH``) with lat_steer (``defines``) attached in front of it, so
    UDP ``port`` traffic reaches the socket and the rest passes to the kernel.

    ``xsk`` is the :class:`~enatool.backends.afxdp.xsk.XskSocket` (``fd``, ``rings``, ``umem``,
    ``bind_mode`` ...), ``mode`` the XDP attach mode, ``libc`` the pointers the nogil loops
    call. ``close()`` detaches and unloads the program, then closes the socket.
    """

    def __init__(self, ifindex: int, iface: str, queue: int, port: int,
                 netns: str | None = None, *, defines: dict[str, int], copy: str = "auto",
                 busy: bool = True, xdp_mode: str = "auto", replace: bool = False,
                 force: bool = False):
        self.xsk = XskSocket(ifindex, queue, netns, ring_size=RING_SIZE, copy=copy,
                             busy_poll=busy, batch=BATCH)
        self.xdp: LatencyXdp | None = None
        try:
            self.xdp = LatencyXdp("lat_steer", port, iface, netns, defines=defines,
                                  xsk=(queue, self.xsk.fd), xdp_mode=xdp_mode,
                                  replace=replace, force=force)
        except BaseException:
            self.xsk.close()
            raise
        self.mode = self.xdp.mode
        self.libc = _Libc.get()

    def close(self) -> None:
        xdp, self.xdp = self.xdp, None
        if xdp is not None:
            xdp.close()
        self.xsk.close()


class LatencySocket(_Endpoint):
    """A kernel UDP socket of ``family`` created in ``netns`` (None: this namespace); the
    caller binds, connects and sets options on ``sock``. ``libc`` holds the pointers the
    nogil loops call on its fd."""

    def __init__(self, family: int, netns: str | None = None):
        self.sock = run_in_netns(netns, socket.socket, family, socket.SOCK_DGRAM, 0)
        self.libc = _Libc.get()

    def close(self) -> None:
        self.sock.close()


__all__ = ["LatencyProgram", "LatencySocket", "LatencyXdp", "LatencyXsk"]
