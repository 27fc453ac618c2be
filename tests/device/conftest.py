"""A minimal test-side driver: talks to SoftEnaDevice only through registers and DMA bytes.

It does what ena_com does at probe, no more: arm the read-less MMIO buffer, reset, program
the AQ/ACQ/AENQ rings, submit 64-byte AQ entries with phase bits + AQ_DB, run the device,
and read ACQ/AENQ entries by phase.
"""

from __future__ import annotations

import numpy as np
import pytest

from enatool.device import SoftEnaDevice
from enatool.ena import regs
from enatool.ena.admin import (
    ENA_ADMIN_ACQ_ENTRY,
    ENA_ADMIN_AENQ_ENTRY,
    ENA_ADMIN_AQ_GET_FEAT_CMD,
    ENA_ADMIN_AQ_GET_STATS_CMD,
    AdminOpcode,
)
from enatool.ena.bits import pack, unpack

R = regs


class MiniDriver:
    def __init__(self, dev: SoftEnaDevice, aq_depth: int = 32, aenq_depth: int = 16):
        self.dev = dev
        self.aq_depth = aq_depth
        self.aenq_depth = aenq_depth
        self.mmio_buf = dev.dma.alloc(8)
        self.seq = 0
        self.aq = dev.dma.alloc(64 * aq_depth)
        self.acq = dev.dma.alloc(64 * aq_depth)
        self.aenq = dev.dma.alloc(64 * aenq_depth)
        self.aq_tail = 0
        self.aq_phase = 1
        self.acq_head = 0
        self.acq_phase = 1
        self.aenq_head = aenq_depth
        self.aenq_phase = 1
        self.next_id = 0

    # --- registers ----------------------------------------------------------------------
    def w(self, off: int, value: int) -> None:
        self.dev.bar0.write32(off, value)

    def r(self, off: int) -> int:
        return self.dev.bar0.read32(off)

    def arm_mmio(self) -> None:
        self.w(R.ENA_REGS_MMIO_RESP_LO_OFF, self.mmio_buf & 0xFFFFFFFF)
        self.w(R.ENA_REGS_MMIO_RESP_HI_OFF, self.mmio_buf >> 32)

    def readless(self, off: int) -> int:
        """Read-less register read; returns 0xFFFFFFFF if the device did not answer."""
        self.seq = (self.seq + 1) & 0xFFFF
        self.dev.dma.write(self.mmio_buf, pack(R.ENA_MMIO_READ_RESP,
                                               req_id=(self.seq + 0xDEAD) & 0xFFFF))
        self.w(R.ENA_REGS_MMIO_REG_READ_OFF, (off << 16) | self.seq)
        self.dev.process()
        resp = unpack(R.ENA_MMIO_READ_RESP, self.dev.dma.read(self.mmio_buf, 8))
        if resp["req_id"] != self.seq or resp["reg_off"] != off:
            return R.ENA_MMIO_READ_TIMEOUT
        return resp["reg_val"]

    def reset(self, reason: int = 0) -> None:
        self.w(R.ENA_REGS_DEV_CTL_OFF,
               R.ENA_REGS_DEV_CTL_DEV_RESET_MASK | R.dev_ctl_reset_reason_bits(reason))
        self.arm_mmio()
        assert self.readless(R.ENA_REGS_DEV_STS_OFF) & R.ENA_REGS_DEV_STS_RESET_IN_PROGRESS_MASK
        self.w(R.ENA_REGS_DEV_CTL_OFF, 0)
        assert not self.readless(R.ENA_REGS_DEV_STS_OFF) & (
            R.ENA_REGS_DEV_STS_RESET_IN_PROGRESS_MASK
        )
        self.aq_tail = self.acq_head = 0
        self.aq_phase = self.acq_phase = 1
        self.aenq_head = self.aenq_depth
        self.aenq_phase = 1
        for addr, n in ((self.aq, self.aq_depth), (self.acq, self.aq_depth),
                        (self.aenq, self.aenq_depth)):
            self.dev.dma.write(addr, bytes(64 * n))

    def program_queues(self) -> None:
        self.w(R.ENA_REGS_AQ_BASE_LO_OFF, self.aq & 0xFFFFFFFF)
        self.w(R.ENA_REGS_AQ_BASE_HI_OFF, self.aq >> 32)
        self.w(R.ENA_REGS_ACQ_BASE_LO_OFF, self.acq & 0xFFFFFFFF)
        self.w(R.ENA_REGS_ACQ_BASE_HI_OFF, self.acq >> 32)
        self.w(R.ENA_REGS_AQ_CAPS_OFF, self.aq_depth | (64 << 16))
        self.w(R.ENA_REGS_ACQ_CAPS_OFF, self.aq_depth | (64 << 16))
        self.w(R.ENA_REGS_AENQ_BASE_LO_OFF, self.aenq & 0xFFFFFFFF)
        self.w(R.ENA_REGS_AENQ_BASE_HI_OFF, self.aenq >> 32)
        self.w(R.ENA_REGS_AENQ_CAPS_OFF, self.aenq_depth | (64 << 16))

    def bring_up(self, reason: int = 0) -> MiniDriver:
        self.arm_mmio()
        self.reset(reason)
        self.program_queues()
        return self

    # --- admin queue --------------------------------------------------------------------
    def submit(self, entry: bytes, command_id: int | None = None, phase: int | None = None,
               ring: bool = True) -> int:
        """Copy one 64-byte command into the AQ (id and phase filled in); returns the id."""
        raw = bytearray(entry.ljust(64, b"\0"))
        if command_id is None:
            command_id = self.next_id
            self.next_id = (self.next_id + 1) % self.aq_depth
        raw[0:2] = command_id.to_bytes(2, "little")
        raw[3] = (raw[3] & 0xFE) | (self.aq_phase if phase is None else phase)
        slot = self.aq_tail & (self.aq_depth - 1)
        self.dev.dma.write(self.aq + 64 * slot, bytes(raw))
        self.aq_tail = (self.aq_tail + 1) & 0xFFFF
        if self.aq_tail & (self.aq_depth - 1) == 0:
            self.aq_phase ^= 1
        if ring:
            self.w(R.ENA_REGS_AQ_DB_OFF, self.aq_tail)
        return command_id

    def completions(self) -> list[dict]:
        """Every new ACQ entry (by phase), decoded, with the raw bytes under 'raw'."""
        out = []
        while True:
            slot = self.acq_head & (self.aq_depth - 1)
            raw = self.dev.dma.read(self.acq + 64 * slot, 64)
            if raw[3] & 1 != self.acq_phase:
                return out
            e = unpack(ENA_ADMIN_ACQ_ENTRY, raw)
            e["raw"] = raw
            out.append(e)
            self.acq_head = (self.acq_head + 1) & 0xFFFF
            if self.acq_head & (self.aq_depth - 1) == 0:
                self.acq_phase ^= 1

    def cmd(self, entry: bytes, **kw) -> dict:
        """Submit, process, return the single completion."""
        cid = self.submit(entry, **kw)
        self.dev.process()
        comps = self.completions()
        assert len(comps) == 1, comps
        assert comps[0]["command_id"] == cid & 0xFFF
        return comps[0]

    def get_feature(self, fid: int, ctrl: tuple[int, int] | None = None, select: int = 0,
                    version: int = 0) -> dict:
        kw = {}
        if ctrl:
            kw = {"ctrl_length": ctrl[1], "ctrl_address": ctrl[0], "flags": 0x4}
        e = pack(ENA_ADMIN_AQ_GET_FEAT_CMD, opcode=AdminOpcode.GET_FEATURE, feature_id=fid,
                 feat_flags=select, feature_version=version, **kw)
        return self.cmd(e)

    def set_feature(self, fid: int, payload: bytes = b"", ctrl: tuple[int, int] | None = None
                    ) -> dict:
        kw = {}
        if ctrl:
            kw = {"ctrl_length": ctrl[1], "ctrl_address": ctrl[0], "flags": 0x4}
        e = pack(ENA_ADMIN_AQ_GET_FEAT_CMD, opcode=AdminOpcode.SET_FEATURE, feature_id=fid,
                 payload=payload, **kw)
        return self.cmd(e)

    def get_stats(self, kind: int, **kw) -> dict:
        e = pack(ENA_ADMIN_AQ_GET_STATS_CMD, opcode=AdminOpcode.GET_STATS, type=kind, **kw)
        return self.cmd(e)

    # --- AENQ ---------------------------------------------------------------------------
    def events(self, ack: bool = True) -> list[dict]:
        out = []
        while True:
            slot = self.aenq_head & (self.aenq_depth - 1)
            raw = self.dev.dma.read(self.aenq + 64 * slot, 64)
            if raw[4] & 1 != self.aenq_phase:
                break
            e = unpack(ENA_ADMIN_AENQ_ENTRY, raw)
            e["raw"] = raw
            e["timestamp"] = e["timestamp_low"] | e["timestamp_high"] << 32
            out.append(e)
            self.aenq_head = (self.aenq_head + 1) & 0xFFFF
            if self.aenq_head & (self.aenq_depth - 1) == 0:
                self.aenq_phase ^= 1
        if ack and out:
            self.w(R.ENA_REGS_AENQ_HEAD_DB_OFF, self.aenq_head)
        return out


def payload(comp: dict, dtype: np.dtype) -> dict:
    """Decode an ACQ response payload (bytes 8..) with a feature/response dtype."""
    return unpack(dtype, comp["raw"][8 : 8 + dtype.itemsize])


@pytest.fixture
def dev():
    d = SoftEnaDevice(seed=1)
    yield d
    assert d.stats.internal_errors == 0, d.internal_errors


@pytest.fixture
def drv(dev):
    return MiniDriver(dev).bring_up()
