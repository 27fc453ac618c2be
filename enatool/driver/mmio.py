"""Register access: plain or read-less MMIO reads (ena_com's ``ena_com_reg_bar_read32``).

Reproduces today's ena_com (amzn-drivers v2.17.0, INTERFACE.md §1.3), unchanged since 2016:
a register read is a posted write to MMIO_REG_READ plus a DMA answer into an 8-byte response
buffer, unless the PCI revision has bit 0 set (then a plain BAR0 read). A read that gets no
answer returns 0xFFFFFFFF, which every caller treats as "device not responding".

Departure from the C code, on purpose: Linux spins ``udelay(1)`` up to 200000 times. Here the
same budget (200 ms, or the HW hint ``mmio_read_timeout``) is a *duration* polled with
doubling sleeps (1 µs .. 1 ms), so a dead device costs a few hundred port calls, not 200000.
"""

from __future__ import annotations

import numpy as np

from enatool.driver.port import DevicePort
from enatool.ena import regs

#: longest single sleep while waiting for a read-less answer
_MAX_POLL_S = 1e-3


class MmioRegs:
    """BAR0 access for the driver; owns the read-less response buffer.

    The buffer is allocated once per device init (``ena_com_mmio_reg_read_request_init``)
    and must be re-armed after every reset (the device forgets its address).
    """

    def __init__(self, port: DevicePort, readless: bool):
        self.port = port
        self.readless = readless
        self.seq = 0
        self.read_timeout_s = regs.ENA_REG_READ_TIMEOUT_US * 1e-6
        self.timeouts = 0
        self.resp_addr = port.dma_alloc(regs.ENA_MMIO_READ_RESP.itemsize)
        self._resp = port.dma_view(self.resp_addr, regs.ENA_MMIO_READ_RESP.itemsize)
        self._resp_u16 = self._resp[:4].view(np.uint16)
        self._resp_val = self._resp[4:8].view(np.uint32)
        self.write_resp_addr()

    # -- response buffer --------------------------------------------------------------------
    def write_resp_addr(self) -> None:
        """Tell the device where to DMA read-less answers (also after every reset)."""
        self.port.write32(regs.ENA_REGS_MMIO_RESP_LO_OFF, self.resp_addr & 0xFFFFFFFF)
        self.port.write32(regs.ENA_REGS_MMIO_RESP_HI_OFF, self.resp_addr >> 32)

    def destroy(self) -> None:
        """Disarm the device's response address (0 = disabled) and free the buffer."""
        if self.resp_addr is None:
            return
        self.port.write32(regs.ENA_REGS_MMIO_RESP_LO_OFF, 0)
        self.port.write32(regs.ENA_REGS_MMIO_RESP_HI_OFF, 0)
        self._resp = self._resp_u16 = self._resp_val = None
        self.port.dma_free(self.resp_addr)
        self.resp_addr = None

    def set_read_timeout_ms(self, ms: int) -> None:
        """HW hint ``mmio_read_timeout`` (0 = keep the default)."""
        if ms:
            self.read_timeout_s = ms * 1e-3

    # -- access -----------------------------------------------------------------------------
    def write32(self, offset: int, value: int) -> None:
        self.port.write32(offset, int(value) & 0xFFFFFFFF)

    def read32(self, offset: int) -> int:
        """Register value, or ``ENA_MMIO_READ_TIMEOUT`` (0xFFFFFFFF) when unanswered."""
        if not self.readless:
            return int(self.port.read32(offset)) & 0xFFFFFFFF
        if self.resp_addr is None:
            return regs.ENA_MMIO_READ_TIMEOUT
        self.seq = (self.seq + 1) & 0xFFFF
        seq = self.seq
        # a stale answer can never carry the id we are about to ask for
        self._resp_u16[0] = (seq + regs.ENA_MMIO_READ_STALE_MAGIC) & 0xFFFF
        self.port.write32(
            regs.ENA_REGS_MMIO_REG_READ_OFF,
            (offset << regs.ENA_REGS_MMIO_REG_READ_REG_OFF_SHIFT)
            | (seq & regs.ENA_REGS_MMIO_REG_READ_REQ_ID_MASK),
        )
        deadline = self.port.now() + self.read_timeout_s
        delay = 1e-6
        while int(self._resp_u16[0]) != seq:
            if self.port.now() >= deadline:
                self.timeouts += 1
                return regs.ENA_MMIO_READ_TIMEOUT
            self.port.sleep(delay)
            delay = min(delay * 2, _MAX_POLL_S)
        if int(self._resp_u16[1]) != offset:
            self.timeouts += 1
            return regs.ENA_MMIO_READ_TIMEOUT
        return int(self._resp_val[0])
