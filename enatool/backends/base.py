"""The one ``Backend`` interface programs use: where packets go (ARCHITECTURE.md layer 4).

A backend owns one or two *ends* (network interfaces) with IO queues. Programs send bursts on
a queue of one end, let time pass, and read what arrived on a queue of an end; they read
``ethtool -S``-style counters and change coalescing and RSS through the same calls whatever
the backend (software ENA device + driver layer, or a real netdev over AF_XDP).

Conventions: ``end`` 0 is the local interface, 1 its peer (backends with a single end accept
only 0); queues are numbered 0..num_queues-1; a frame is ``bytes`` (or a list of byte segments
where the backend supports scatter-gather); time is the backend's clock in seconds (virtual on
the software backend).

Programs never import a concrete backend (``tests/test_layers.py`` enforces it). They ask for
one here by name — :func:`open_driver`, :func:`latency_endpoint` — and the module behind the
name is imported only then, so a program runs wherever its chosen backend's dependencies
(bcc, pyroute2, the software device) exist, and ``enatool --help`` loads none of them.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from typing import Any

from enatool.errors import UsageError


class Backend(ABC):
    """Abstract packet backend. Use as a context manager; ``close()`` frees everything."""

    name: str = "backend"
    num_ends: int = 1

    @property
    @abstractmethod
    def num_queues(self) -> int:
        """IO queue pairs per end."""

    @abstractmethod
    def tx_burst(self, queue: int, frames, offloads=None, *, end: int = 0) -> int:
        """Queue ``frames`` for transmission on ``queue`` of ``end``; returns how many were
        taken (fewer when the ring is full)."""

    @abstractmethod
    def rx_burst(self, queue: int, max_n: int | None = None, *, end: int = 0) -> list[bytes]:
        """Frames received on ``queue`` of ``end`` so far (at most ``max_n``), oldest first."""

    @abstractmethod
    def stats(self, *, end: int = 0) -> dict[str, int]:
        """Global and per-queue counters with ``ethtool -S`` names."""

    @abstractmethod
    def get_coalesce(self, *, end: int = 0) -> dict:
        """``ethtool -c``: tx_usecs, rx_usecs, adaptive_rx."""

    @abstractmethod
    def set_coalesce(self, *, end: int = 0, tx_usecs: int | None = None,
                     rx_usecs: int | None = None, adaptive_rx: bool | None = None) -> None:
        """``ethtool -C``."""

    @abstractmethod
    def get_rss(self, *, end: int = 0) -> dict:
        """``ethtool -x``: key (bytes), function name, indirection table (queue numbers)."""

    @abstractmethod
    def set_rss(self, *, end: int = 0, key: bytes | None = None, function: str | None = None,
                table: list[int] | None = None) -> None:
        """``ethtool -X``."""

    @abstractmethod
    def now(self) -> float:
        """The backend's clock in seconds."""

    @abstractmethod
    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass: devices work, interrupts fire, NAPI runs."""

    @abstractmethod
    def close(self) -> None:
        """Tear everything down (idempotent)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- concrete backends by name ----------------------------------------------------------------
#: (backend, what) -> "module:attribute" of the concrete backend that provides it
_ENTRY_POINTS = {
    ("soft", "driver"): "enatool.backends.soft_port:open_soft_driver",
    ("soft", "latency"): "enatool.backends.soft:open_latency_pair",
    ("socket", "latency"): "enatool.backends.afxdp.latency:LatencySocket",
    ("xdp", "latency"): "enatool.backends.afxdp.latency:LatencyXdp",
    ("afxdp", "latency"): "enatool.backends.afxdp.latency:LatencyXsk",
}


def _entry_point(kind: str, what: str) -> Any:
    target = _ENTRY_POINTS.get((kind, what))
    if target is None:
        have = sorted(k for k, w in _ENTRY_POINTS if w == what)
        raise UsageError(f"no {what} backend named {kind!r}", hint=f"one of {', '.join(have)}")
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def open_driver(kind: str = "soft", **options: Any) -> tuple[Any, Any]:
    """``(driver, device)``: a fresh device of backend ``kind`` (``options`` are the device's,
    plus ``era`` and ``driver_options``) under an ``EnaDriver``, not yet probed; the caller
    probes and closes the driver (``enatool info``, ``rss show``). Only "soft" has one."""
    return _entry_point(kind, "driver")(**options)


def latency_endpoint(kind: str, *args: Any, **options: Any) -> Any:
    """What ``enatool latency`` / ``reflect`` run their probe loops on (a context manager):

    - ``"soft"``: the software pair as a :class:`Backend` (``open_latency_pair``: ``step``,
      ``tx_usecs``, ``rx_usecs``, ``adaptive``);
    - ``"socket"``: a kernel UDP socket made in a netns (``LatencySocket``: ``family``, ``netns``);
    - ``"xdp"``: lat_reflect or lat_steer of bpf/latency.c attached (``LatencyXdp``);
    - ``"afxdp"``: an AF_XDP socket with lat_steer in front (``LatencyXsk``).

    See :mod:`enatool.backends.afxdp.latency` for the real-interface endpoints' arguments.
    """
    return _entry_point(kind, "latency")(*args, **options)
