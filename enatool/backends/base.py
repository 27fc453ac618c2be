"""The one ``Backend`` interface programs use: where packets go (ARCHITECTURE.md layer 4).

A backend owns one or two *ends* (network interfaces) with IO queues. Programs send bursts on
a queue of one end, let time pass, and read what arrived on a queue of an end; they read
``ethtool -S``-style counters and change coalescing and RSS through the same calls whatever
the backend (software ENA device + driver layer, or a real netdev over AF_XDP).

Conventions: ``end`` 0 is the local interface, 1 its peer (backends with a single end accept
only 0); queues are numbered 0..num_queues-1; a frame is ``bytes`` (or a list of byte segments
where the backend supports scatter-gather); time is the backend's clock in seconds (virtual on
the software backend).
"""

from __future__ import annotations

from abc import ABC, abstractmethod


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
