"""``SoftDevicePort``: the driver's :class:`~enatool.driver.port.DevicePort` over a
``SoftEnaDevice``.

The adapter is deliberately thin: register reads and writes go to BAR0, LLQ copies to BAR2,
DMA calls to the device's host-memory arena. Two things make it a faithful stand-in for
hardware while staying fast:

* every BAR0 write is followed by ``dev.process()``, so the device reacts the way hardware
  would "soon after" a posted write (the driver still polls, it never assumes this);
* ``sleep(s)`` advances the device's *virtual* clock (``dev.advance``), so keep-alive
  watchdogs and admin timeouts of several seconds cost milliseconds of wall time.

Interrupts are edge counts: ``irq_take(v)`` returns how many times vector ``v`` fired since
the previous call (the device keeps a running count per vector).
"""

from __future__ import annotations

import numpy as np


class SoftDevicePort:
    """Adapts a ``SoftEnaDevice`` to the driver port (no driver or device logic here)."""

    def __init__(self, dev):
        self.dev = dev
        self._irq_seen = [0] * len(dev.irq_counts)

    # -- identity ---------------------------------------------------------------------------
    @property
    def pci_id(self) -> str:
        return self.dev.pci_id

    @property
    def pci_revision(self) -> int:
        return int(self.dev.pci_revision)

    @property
    def msix_count(self) -> int:
        return int(self.dev.msix_count)

    @property
    def bar2_size(self) -> int:
        bar2 = getattr(self.dev, "bar2", None)
        return int(bar2.size) if bar2 is not None else 0

    # -- registers --------------------------------------------------------------------------
    def read32(self, offset: int) -> int:
        return int(self.dev.bar0.read32(offset)) & 0xFFFFFFFF

    def write32(self, offset: int, value: int) -> None:
        dev = self.dev
        dev.bar0.write32(offset, int(value) & 0xFFFFFFFF)
        dev.process()

    def bar2_write(self, offset: int, data: bytes | np.ndarray) -> None:
        self.dev.bar2.write(offset, data)

    # -- DMA --------------------------------------------------------------------------------
    def dma_alloc(self, nbytes: int) -> int:
        return int(self.dev.dma.alloc(nbytes))

    def dma_free(self, addr: int) -> None:
        self.dev.dma.free(addr)

    def dma_read(self, addr: int, nbytes: int) -> bytes:
        data = self.dev.dma.read(addr, nbytes)
        return data.tobytes() if isinstance(data, np.ndarray) else bytes(data)

    def dma_write(self, addr: int, data: bytes | np.ndarray) -> None:
        self.dev.dma.write(addr, data)

    def dma_view(self, addr: int, nbytes: int) -> np.ndarray:
        return self.dev.dma.view(addr, nbytes)

    # -- time and interrupts ----------------------------------------------------------------
    def now(self) -> float:
        return self.dev.now_ns / 1e9  # = dev.now, without the property call

    def sleep(self, seconds: float) -> None:
        self.dev.advance(max(0.0, float(seconds)))

    def irq_take(self, vector: int) -> int:
        counts = self.dev.irq_counts
        seen = self._irq_seen
        if vector >= len(seen):
            seen.extend([0] * (vector + 1 - len(seen)))
        total = int(counts[vector]) if vector < len(counts) else 0
        n = total - seen[vector]
        seen[vector] = total
        return n if n > 0 else 0


def open_soft_driver(*, era: str = "today", driver_options: dict | None = None,
                     **device_options):
    """A fresh ``SoftEnaDevice`` (with ``device_options``) and an ``EnaDriver`` over its
    port, not yet probed. Returns ``(driver, device)``."""
    from enatool.device import SoftEnaDevice
    from enatool.driver import EnaDriver

    device = SoftEnaDevice(**device_options)
    driver = EnaDriver(SoftDevicePort(device), era=era, **(driver_options or {}))
    return driver, device
