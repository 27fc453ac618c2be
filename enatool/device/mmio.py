"""Read-less MMIO: register reads answered by DMA (INTERFACE.md §1.3, §14, §15).

The ENA driver avoids slow PCIe reads: it writes MMIO_REG_READ = (offset << 16) | req_id
and polls an 8-byte host buffer (address in MMIO_RESP_LO/HI) until the device has written
{u16 req_id, u16 reg_off, u32 reg_val} there. This responder answers every request while an
address is set, including while a reset is in progress (DPDK polls DEV_STS that way);
address 0 disables it, and a reset forgets the address (the driver re-arms it right after
setting the reset bit). A device built with ``readless=False`` (PCI revision bit 0 set)
ignores such requests: drivers must use plain reads then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from enatool.ena import regs
from enatool.ena.bits import field_get

from .dma import DmaFault

if TYPE_CHECKING:
    from .device import SoftEnaDevice


class ReadlessResponder:
    def __init__(self, dev: SoftEnaDevice):
        self.dev = dev
        self.resp_lo = 0
        self.resp_hi = 0

    @property
    def address(self) -> int:
        """Bus address of the response buffer; 0 = disabled."""
        return (self.resp_hi << 32) | self.resp_lo

    def forget(self) -> None:
        self.resp_lo = 0
        self.resp_hi = 0

    def request(self, value: int) -> None:
        """Handle a write to MMIO_REG_READ."""
        dev = self.dev
        addr = self.address
        if not dev.readless or addr == 0:
            dev.stats.mmio_reads_ignored += 1
            return
        req_id = field_get(value, regs.ENA_REGS_MMIO_REG_READ_REQ_ID_MASK,
                           regs.ENA_REGS_MMIO_REG_READ_REQ_ID_SHIFT)
        reg_off = field_get(value, regs.ENA_REGS_MMIO_REG_READ_REG_OFF_MASK,
                            regs.ENA_REGS_MMIO_REG_READ_REG_OFF_SHIFT)
        reg_val = dev.bar0.peek32(reg_off)
        try:
            buf = dev.dma.view(addr, regs.ENA_MMIO_READ_RESP.itemsize)
        except DmaFault:
            dev.stats.dma_faults += 1
            dev.stats.mmio_reads_ignored += 1
            return
        # value and offset first, req_id (what the driver polls) last
        buf[2:4] = np.frombuffer(int(reg_off).to_bytes(2, "little"), np.uint8)
        buf[4:8] = np.frombuffer(int(reg_val).to_bytes(4, "little"), np.uint8)
        buf[0:2] = np.frombuffer(int(req_id).to_bytes(2, "little"), np.uint8)
        dev.stats.mmio_reads += 1
