"""The narrow port between the driver layer and a device (ena_com's platform header).

ena_com reaches hardware only through a handful of platform primitives: 32-bit MMIO
read/write, coherent DMA memory, a delay, a clock and interrupts. The driver layer here
does the same: it imports no device code and sees only an object with this shape.
The software device is adapted to it by ``enatool.backends.soft``; a test may adapt
anything else that speaks real registers and DMA bytes.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class DevicePort(Protocol):
    """What the driver may do to a device. Every method is cheap and non-blocking."""

    #: "vendor:device" in lowercase hex, e.g. "1d0f:ec21"
    pci_id: str
    #: PCI revision id; bit 0 set = read-less MMIO not supported (use plain reads)
    pci_revision: int
    #: number of MSI-X vectors the device exposes (1 + IO queue pairs)
    msix_count: int
    #: bytes of LLQ memory behind BAR2 (0 = no LLQ BAR)
    bar2_size: int

    def read32(self, offset: int) -> int:
        """Plain BAR0 read (a PCIe read on hardware)."""

    def write32(self, offset: int, value: int) -> None:
        """BAR0 write (posted)."""

    def bar2_write(self, offset: int, data: bytes | np.ndarray) -> None:
        """Write-combined copy into the LLQ memory BAR."""

    def dma_alloc(self, nbytes: int) -> int:
        """Zeroed coherent memory; returns its bus address (4 KiB aligned, never 0)."""

    def dma_free(self, addr: int) -> None:
        """Give back memory from ``dma_alloc``."""

    def dma_read(self, addr: int, nbytes: int) -> bytes: ...

    def dma_write(self, addr: int, data: bytes | np.ndarray) -> None: ...

    def dma_view(self, addr: int, nbytes: int) -> np.ndarray:
        """A writable uint8 view of allocated memory (the hot path's direct access)."""

    def now(self) -> float:
        """Seconds on the device's clock (virtual on the software device)."""

    def sleep(self, seconds: float) -> None:
        """Wait. On the software device this advances the virtual clock and lets the
        device run, so polling loops cost no wall time."""

    def irq_take(self, vector: int) -> int:
        """Number of interrupts raised on ``vector`` since the previous call."""


def write32_run(port: DevicePort, offset: int, values: np.ndarray) -> None:
    """Posted writes of ``values`` (in order) to one register, e.g. a run of SQ doorbells:
    one call when the port batches them (an optional ``write32_seq``), else one by one."""
    seq = getattr(port, "write32_seq", None)
    if seq is not None:
        seq(offset, values)
    else:
        for v in values.tolist():
            port.write32(offset, v)
