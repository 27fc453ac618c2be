"""BAR0 register file and BAR2 LLQ memory of the software ENA device (INTERFACE.md §1, §10).

BAR0 holds the fixed registers of ``ena_regs_defs.h`` (0x00..0x68) and, from 0x1000, the
per-queue registers handed out by CREATE_SQ / CREATE_CQ. ``read32``/``write32`` are what a
driver's ``readl``/``writel`` reach. Writes to unknown offsets, unaligned offsets or
read-only registers are ignored and counted; reads of unknown offsets return 0. No exception
ever leaves ``write32``: a model bug is counted in ``stats.internal_errors`` instead.

BAR2 is the LLQ memory BAR (write-combining on real hardware): the driver copies whole LLQ
lines into it; the bytes are kept for the datapath to parse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from enatool.ena import regs

if TYPE_CHECKING:
    from .device import SoftEnaDevice

BAR0_SIZE = regs.ENA_BAR0_SIZE
_U8 = np.dtype(np.uint8)

# register values of a device of "today" (§1.1, §1.2)
VERSION_MAJOR = 0
VERSION_MINOR = 10
CONTROLLER_MAJOR = 0
CONTROLLER_MINOR = 0
CONTROLLER_SUBMINOR = 1
CONTROLLER_IMPL_ID = 1
RESET_TIMEOUT_100MS = 3  # 300 ms
DMA_ADDR_WIDTH = 48
ADMIN_CMD_TO_100MS = 0  # 0 = driver default (3 s)


class Bar0:
    """The register file: dispatch of 32-bit reads and writes by offset."""

    size = BAR0_SIZE

    def __init__(self, dev: SoftEnaDevice):
        self.dev = dev
        # latched values of write-only registers (read back for debugging)
        self.latched: dict[int, int] = {}
        self._writers = {
            regs.ENA_REGS_AQ_BASE_LO_OFF: self._latch,
            regs.ENA_REGS_AQ_BASE_HI_OFF: self._latch,
            regs.ENA_REGS_AQ_CAPS_OFF: self._aq_caps,
            regs.ENA_REGS_ACQ_BASE_LO_OFF: self._latch,
            regs.ENA_REGS_ACQ_BASE_HI_OFF: self._latch,
            regs.ENA_REGS_ACQ_CAPS_OFF: self._acq_caps,
            regs.ENA_REGS_AQ_DB_OFF: self._aq_db,
            regs.ENA_REGS_AENQ_CAPS_OFF: self._aenq_caps,
            regs.ENA_REGS_AENQ_BASE_LO_OFF: self._latch,
            regs.ENA_REGS_AENQ_BASE_HI_OFF: self._latch,
            regs.ENA_REGS_AENQ_HEAD_DB_OFF: self._aenq_head_db,
            regs.ENA_REGS_INTR_MASK_OFF: self._intr_mask,
            regs.ENA_REGS_DEV_CTL_OFF: self._dev_ctl,
            regs.ENA_REGS_MMIO_REG_READ_OFF: self._mmio_reg_read,
            regs.ENA_REGS_MMIO_RESP_LO_OFF: self._mmio_resp_lo,
            regs.ENA_REGS_MMIO_RESP_HI_OFF: self._mmio_resp_hi,
            regs.ENA_REGS_RSS_IND_ENTRY_UPDATE_OFF: self._rss_ind_entry_update,
        }

    # --- identity registers -------------------------------------------------------------
    @staticmethod
    def version() -> int:
        return (VERSION_MAJOR << regs.ENA_REGS_VERSION_MAJOR_VERSION_SHIFT) | VERSION_MINOR

    @staticmethod
    def controller_version() -> int:
        return (
            (CONTROLLER_IMPL_ID << regs.ENA_REGS_CONTROLLER_VERSION_IMPL_ID_SHIFT)
            | (CONTROLLER_MAJOR << regs.ENA_REGS_CONTROLLER_VERSION_MAJOR_VERSION_SHIFT)
            | (CONTROLLER_MINOR << regs.ENA_REGS_CONTROLLER_VERSION_MINOR_VERSION_SHIFT)
            | CONTROLLER_SUBMINOR
        )

    @staticmethod
    def caps() -> int:
        return (
            (RESET_TIMEOUT_100MS << regs.ENA_REGS_CAPS_RESET_TIMEOUT_SHIFT)
            | (DMA_ADDR_WIDTH << regs.ENA_REGS_CAPS_DMA_ADDR_WIDTH_SHIFT)
            | (ADMIN_CMD_TO_100MS << regs.ENA_REGS_CAPS_ADMIN_CMD_TO_SHIFT)
        )

    # --- the driver-facing interface ----------------------------------------------------
    def read32(self, offset: int) -> int:
        """Plain PCIe read of a BAR0 register."""
        try:
            return self.peek32(offset)
        except Exception:  # a model bug must not crash the driver
            self.dev._internal_error()
            return 0

    def write32(self, offset: int, value: int) -> None:
        """Posted PCIe write to a BAR0 register."""
        try:
            self._write(int(offset), int(value) & 0xFFFFFFFF)
        except Exception:
            self.dev._internal_error()

    def write32_seq(self, offset: int, values) -> None:
        """A run of posted writes of ``values`` to one register, in order (PCIe keeps posted
        writes to one function ordered). A per-queue SQ doorbell takes the whole run in one
        step (each value still counts as a doorbell and is checked against the LLQ burst
        limit, see ``TxEngine.doorbell_seq``); any other register gets the writes one by
        one, exactly like ``write32``."""
        try:
            vals = np.asarray(values, np.int64) & 0xFFFFFFFF
            if vals.size == 0:
                return
            offset = int(offset)
            if (offset % 4 == 0 and 0x1000 <= offset < BAR0_SIZE
                    and offset not in self._writers
                    and self.dev.io.write_register_seq(offset, vals)):
                return
            for v in vals.tolist():
                self._write(offset, v)
        except Exception:
            self.dev._internal_error()

    # --- implementation -----------------------------------------------------------------
    def peek32(self, offset: int) -> int:
        """Register value without side effects (plain reads and read-less reads)."""
        dev = self.dev
        offset = int(offset)
        if offset % 4 or not 0 <= offset < BAR0_SIZE:
            return 0
        if offset == regs.ENA_REGS_VERSION_OFF:
            return self.version()
        if offset == regs.ENA_REGS_CONTROLLER_VERSION_OFF:
            return self.controller_version()
        if offset == regs.ENA_REGS_CAPS_OFF:
            return self.caps()
        if offset == regs.ENA_REGS_CAPS_EXT_OFF:
            return 0
        if offset == regs.ENA_REGS_DEV_STS_OFF:
            return dev.dev_sts()
        if offset == regs.ENA_REGS_INTR_MASK_OFF:
            return dev.intr_mask
        if offset == regs.ENA_REGS_ACQ_TAIL_OFF:
            return dev.admin.acq_tail & 0xFFFF
        if offset == regs.ENA_REGS_AENQ_TAIL_OFF:
            return dev.aenq.tail & 0xFFFF
        if offset == regs.ENA_REGS_MMIO_RESP_LO_OFF:
            return dev.mmio.resp_lo
        if offset == regs.ENA_REGS_MMIO_RESP_HI_OFF:
            return dev.mmio.resp_hi
        if offset >= 0x1000:
            return dev.io.read_register(offset)
        return self.latched.get(offset, 0)

    def _write(self, offset: int, value: int) -> None:
        dev = self.dev
        if offset % 4 or not 0 <= offset < BAR0_SIZE:
            dev.stats.ignored_register_writes += 1
            return
        writer = self._writers.get(offset)
        if writer is not None:
            writer(offset, value)
            return
        if offset >= 0x1000 and dev.io.write_register(offset, value):
            return
        dev.stats.ignored_register_writes += 1

    def _latch(self, offset: int, value: int) -> None:
        self.latched[offset] = value

    def latched_addr(self, lo_off: int, hi_off: int) -> int:
        return (self.latched.get(hi_off, 0) << 32) | self.latched.get(lo_off, 0)

    def _aq_caps(self, offset: int, value: int) -> None:
        self._latch(offset, value)
        self.dev.admin.configure_aq(value)

    def _acq_caps(self, offset: int, value: int) -> None:
        self._latch(offset, value)
        self.dev.admin.configure_acq(value)

    def _aq_db(self, offset: int, value: int) -> None:
        self._latch(offset, value)
        self.dev.admin.doorbell(value)

    def _aenq_caps(self, offset: int, value: int) -> None:
        self._latch(offset, value)
        self.dev.aenq.configure(value)

    def _aenq_head_db(self, offset: int, value: int) -> None:
        self._latch(offset, value)
        self.dev.aenq.head_doorbell(value)

    def _intr_mask(self, offset: int, value: int) -> None:
        self.dev.intr_mask = value & regs.ENA_REGS_ADMIN_INTR_MASK

    def _dev_ctl(self, offset: int, value: int) -> None:
        self._latch(offset, value)
        self.dev._dev_ctl_write(value)

    def _mmio_reg_read(self, offset: int, value: int) -> None:
        self.dev.mmio.request(value)

    def _mmio_resp_lo(self, offset: int, value: int) -> None:
        self.dev.mmio.resp_lo = value

    def _mmio_resp_hi(self, offset: int, value: int) -> None:
        self.dev.mmio.resp_hi = value

    def _rss_ind_entry_update(self, offset: int, value: int) -> None:
        self._latch(offset, value)
        index = value & regs.ENA_REGS_RSS_IND_ENTRY_UPDATE_INDEX_MASK
        entry = value >> regs.ENA_REGS_RSS_IND_ENTRY_UPDATE_CQ_IDX_SHIFT
        if not self.dev.features.rss_update_entry(index, entry):
            self.dev.stats.ignored_register_writes += 1

    def forget_queue_config(self) -> None:
        """Reset: the AQ/ACQ/AENQ base and caps registers lose their values."""
        self.latched.clear()


class Bar2:
    """LLQ memory BAR: a byte store the driver fills with LLQ lines."""

    def __init__(self, dev: SoftEnaDevice, size: int):
        self.dev = dev
        self.size = size
        self.mem = np.zeros(size, dtype=np.uint8)
        self.writes = 0

    def write(self, offset: int, data) -> None:
        """Write-combined copy of ``data`` at ``offset``; out-of-range writes are dropped."""
        try:
            if isinstance(data, np.ndarray):
                # LLQ lines come as flat uint8 arrays: no reshape/view needed for those
                src = (data if data.dtype is _U8 and data.ndim == 1
                       else data.reshape(-1).view(np.uint8))
            else:
                src = np.frombuffer(data, dtype=np.uint8)
            offset = int(offset)
            if offset < 0 or offset + src.size > self.size:
                self.dev.stats.ignored_register_writes += 1
                return
            self.mem[offset : offset + src.size] = src
            self.writes += 1
        except Exception:
            self.dev._internal_error()

    def read(self, offset: int, n: int) -> bytes:
        offset = int(offset)
        n = int(n)
        if offset < 0 or n < 0 or offset + n > self.size:
            raise ValueError(f"BAR2 read {offset:#x}+{n} outside {self.size:#x}")
        return self.mem[offset : offset + n].tobytes()
