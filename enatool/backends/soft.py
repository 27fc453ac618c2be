"""``SoftBackend``: two software ENA devices on a virtual cable, each under its own driver.

The default backend (ARCHITECTURE.md layer 4): end 0 and end 1 are ``SoftEnaDevice``s joined
back to back with :func:`enatool.device.wire.connect` (optional link rate and one-way delay),
each probed and brought up by an :class:`~enatool.driver.EnaDriver` through
:class:`~enatool.backends.soft_port.SoftDevicePort` — the real register, descriptor and
interrupt protocol, no shortcut. Time is virtual: :meth:`advance` moves both devices' clocks
in small steps, servicing interrupts, NAPI and the 1 Hz health timer of both drivers.

If the device in this tree has no ``wire`` port yet, a clearly marked temporary pump moves
``a.wire.take()`` frames into ``b.wire.inject_many()`` between steps (see ``_TemporaryPump``).

:func:`open_latency_pair` sets up the one-queue pair ``enatool latency`` probes on.
"""

from __future__ import annotations

import numpy as np

from enatool.backends.base import Backend
from enatool.backends.soft_port import SoftDevicePort
from enatool.errors import UsageError


class _BurstPort(SoftDevicePort):
    """The soft port plus ``write32_seq``: a run of posted writes to one BAR0 register (the
    Tx doorbells an LLQ burst limit forces inside one burst), delivered in order to
    ``Bar0.write32_seq`` like PCIe posted writes, after which the device runs once."""

    def write32_seq(self, offset: int, values: np.ndarray) -> None:
        bar0 = self.dev.bar0
        seq = getattr(bar0, "write32_seq", None)
        if seq is not None:
            seq(offset, values)
        else:
            for v in values.tolist():
                bar0.write32(offset, v & 0xFFFFFFFF)
        self.dev.process()


class _TemporaryPump:
    """TEMPORARY stand-in for ``enatool.device.wire.connect``: moves transmitted frames to the
    peer between steps (no rate, no delay). Used only when ``connect`` is unavailable."""

    def __init__(self, a, b):
        self.a, self.b = a, b

    def move(self) -> None:
        for src, dst in ((self.a, self.b), (self.b, self.a)):
            w_src, w_dst = getattr(src, "wire", None), getattr(dst, "wire", None)
            if w_src is None or w_dst is None:
                continue
            frames = w_src.take()
            if frames:
                w_dst.inject_many(frames)


def _cable(a, b, rate_bps, delay):
    """Join two devices: the device's own ``connect`` when present, else the pump."""
    if hasattr(a, "wire"):
        try:
            from enatool.device.wire import connect
        except ImportError:
            connect = None
        if connect is not None:
            connect(a, b, rate_bps=rate_bps, delay=delay)
            return None
    return _TemporaryPump(a, b)


class SoftBackend(Backend):
    """Two software ENA devices + drivers. ``end`` 0 = device A, 1 = device B."""

    name = "soft"
    num_ends = 2

    def __init__(self, queues: int = 1, *, llq: bool = True, link_rate: float | None = None,
                 delay: float = 0.0, era: str = "today", tx_ring_size: int | None = None,
                 rx_ring_size: int | None = None, mtu: int | None = None,
                 large_llq: bool | None = None, step: float = 1e-4, seed: int | None = None,
                 **device_options):
        from enatool.device import SoftEnaDevice
        from enatool.driver import EnaDriver

        if queues < 1:
            raise UsageError(f"queues must be ≥ 1, not {queues}")
        if step <= 0:
            raise UsageError("step must be positive")
        self.step = float(step)
        self.devices = []
        self.drivers = []
        self._closed = False
        try:
            for i in range(2):
                dev = SoftEnaDevice(num_queues=max(queues, 1), llq=llq,
                                    seed=None if seed is None else seed + i, **device_options)
                drv = EnaDriver(_BurstPort(dev), era=era, num_io_queues=queues,
                                large_llq=large_llq, mtu=mtu, tx_ring_size=tx_ring_size,
                                rx_ring_size=rx_ring_size)
                self.devices.append(dev)
                self.drivers.append(drv)
            self._pump = _cable(self.devices[0], self.devices[1], link_rate, delay)
            for drv in self.drivers:
                drv.probe()
                drv.up()
        except BaseException:
            self.close()
            raise

    # -- Backend ------------------------------------------------------------------------------
    def _drv(self, end: int):
        if end not in (0, 1):
            raise UsageError(f"end must be 0 or 1, not {end}")
        return self.drivers[end]

    @property
    def num_queues(self) -> int:
        return len(self.drivers[0].napi)

    def tx_burst(self, queue: int, frames, offloads=None, *, end: int = 0) -> int:
        n = self._drv(end).tx_burst(queue, frames, offloads)
        if self._pump is not None:
            self._pump.move()
        return n

    def rx_burst(self, queue: int, max_n: int | None = None, *, end: int = 0) -> list[bytes]:
        return self._drv(end).rx_burst(queue, max_n)

    def tx_burst_packed(self, queue: int, buf: np.ndarray, offs: np.ndarray, lens: np.ndarray,
                        *, end: int = 0) -> int:
        """Array burst: frames ``buf[offs[i]:offs[i]+lens[i]]`` (uint8 / int64 / int64), one
        kernel call in the driver; returns frames taken."""
        n = self._drv(end).tx_burst_packed(queue, buf, offs, lens)
        if self._pump is not None:
            self._pump.move()
        return n

    def rx_burst_packed(self, queue: int, max_n: int | None = None, *, end: int = 0):
        """Array form of :meth:`rx_burst`: an ``RxBatch`` (buf, offs, lens, rss_hash, status,
        csum, ndescs, flags), valid until the second-next call for this queue."""
        return self._drv(end).rx_burst_packed(queue, max_n)

    def busy_poll(self, queue: int, *, end: int = 0) -> int:
        """Run NAPI on ``queue`` of ``end`` now, without waiting for its interrupt."""
        return self._drv(end).busy_poll(queue)

    def rx_packets(self, queue: int, max_n: int | None = None, *, end: int = 0):
        """Like :meth:`rx_burst` with the driver's per-packet verdicts (hash, checksum)."""
        return self._drv(end).rx_packets(queue, max_n)

    def stats(self, *, end: int = 0) -> dict[str, int]:
        drv = self._drv(end)
        out = {k: v for k, v in drv.counters.as_dict().items() if isinstance(v, int)}
        out.update(drv.queue_stats())
        # fresh device counters, asked for the way ``ethtool -S`` makes the driver ask:
        # GET_STATS BASIC over the admin queue (the keep-alive copy may be a second old)
        basic = drv.get_basic_stats()
        if basic is not None:
            for k in ("rx_drops", "tx_drops", "rx_overruns"):
                out[k] = basic[k]
            for k in ("tx_pkts", "tx_bytes", "rx_pkts", "rx_bytes"):
                out[f"dev_{k}"] = basic[k]
        return out

    def get_coalesce(self, *, end: int = 0) -> dict:
        return self._drv(end).get_coalesce()

    def set_coalesce(self, *, end: int = 0, tx_usecs=None, rx_usecs=None,
                     adaptive_rx=None) -> None:
        self._drv(end).set_coalesce(tx_usecs, rx_usecs, adaptive_rx)

    def get_rss(self, *, end: int = 0) -> dict:
        return self._drv(end).get_rss()

    def set_rss(self, *, end: int = 0, key=None, function=None, table=None) -> None:
        self._drv(end).set_rss(key=key, function=function, table=table)

    def now(self) -> float:
        return self.devices[0].now

    def advance(self, seconds: float) -> None:
        """Both ends advance in ``step`` slices to the same virtual time (each driver services
        its interrupts, NAPI and 1 Hz timer on the way)."""
        self.advance_until(max([d.now for d in self.devices]) + seconds)

    def advance_until(self, end: float) -> None:
        """:meth:`advance` to the virtual time ``end`` (seconds)."""
        devices, pump = self.devices, self._pump
        # list comprehensions, not generators: this runs once per burst in the benches
        while True:
            target = min(end, min([d.now for d in devices]) + self.step)
            for drv, dev in zip(self.drivers, devices, strict=True):
                left = target - dev.now
                if left > 1e-12:
                    drv.run(left, step=left)
                if pump is not None:
                    pump.move()
            if end - min([d.now for d in devices]) <= 1e-12:
                break

    def run_cycles(self, buf: np.ndarray, offs: np.ndarray, lens: np.ndarray, cycles: int,
                   seconds: float | None = None, *, compiled: bool = True):
        """``cycles`` × (burst on end 0 queue 0, advance ``seconds``, take end 1 queue 0),
        compiled in one loop while the pair is in its steady state (see
        :mod:`enatool.backends.soft_cycles`); returns a ``CycleResult``."""
        from enatool.backends.soft_cycles import run_cycles

        return run_cycles(self, buf, offs, lens, cycles, seconds, compiled=compiled)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for drv in self.drivers:
            drv.close()


def open_latency_pair(*, step: float, tx_usecs: int | None = None,
                      rx_usecs: int | None = None, adaptive: str | None = None) -> SoftBackend:
    """The pair ``enatool latency`` probes on: one queue per end, clock slices of ``step``,
    both ends coalescing alike (``ethtool -C`` values; ``adaptive`` names the driver's
    moderation mode for queue 0, "adaptive2016" or "dim", None for static)."""
    be = SoftBackend(queues=1, step=step)
    try:
        for end in (0, 1):
            be.set_coalesce(end=end, tx_usecs=tx_usecs, rx_usecs=rx_usecs,
                            adaptive_rx=adaptive is not None)
            if adaptive is not None:
                be.drivers[end].set_moderation_mode(0, adaptive)
    except BaseException:
        be.close()
        raise
    return be


__all__ = ["SoftBackend", "open_latency_pair"]
