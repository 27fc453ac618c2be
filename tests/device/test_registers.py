"""BAR0 registers, reset handshake and read-less MMIO, driven through registers and DMA."""

from __future__ import annotations

import numpy as np
import pytest

from enatool.device import SoftEnaDevice
from enatool.ena import regs as R
from enatool.ena.bits import pack, unpack
from enatool.ena.regs import ResetReason

from .conftest import MiniDriver


def test_identity_registers(dev):
    assert dev.pci_id == "1d0f:ec21"
    assert dev.pci_revision == 0
    assert dev.msix_count == 9
    v = dev.bar0.read32(R.ENA_REGS_VERSION_OFF)
    assert (v >> 8) & 0xFF == 0 and v & 0xFF == 10
    cv = dev.bar0.read32(R.ENA_REGS_CONTROLLER_VERSION_OFF)
    assert cv == (1 << 24) | 1  # impl 1, version 0.0.1
    caps = dev.bar0.read32(R.ENA_REGS_CAPS_OFF)
    assert caps & R.ENA_REGS_CAPS_CONTIGUOUS_QUEUE_REQUIRED_MASK == 0
    assert (caps & R.ENA_REGS_CAPS_RESET_TIMEOUT_MASK) >> R.ENA_REGS_CAPS_RESET_TIMEOUT_SHIFT == 3
    assert (caps & R.ENA_REGS_CAPS_DMA_ADDR_WIDTH_MASK) >> 8 == 48
    assert dev.bar0.read32(R.ENA_REGS_CAPS_EXT_OFF) == 0
    assert dev.bar0.read32(R.ENA_REGS_DEV_STS_OFF) == R.ENA_REGS_DEV_STS_READY_MASK


def test_constructor_options():
    d = SoftEnaDevice(num_queues=3, readless=False, llq=False, pci_device=0xEC20, seed=2)
    assert d.pci_id == "1d0f:ec20"
    assert d.pci_revision & 1 == 1
    assert d.msix_count == 4 and len(d.irq_counts) == 4
    assert d.bar2.size == 0
    assert d.supported_features >> 4 & 1 == 0
    assert SoftEnaDevice(llq=True).bar2.size == 4 * 1024 * 1024


def test_mac_random_locally_administered_and_seedable():
    a, b, c = SoftEnaDevice(seed=1), SoftEnaDevice(seed=1), SoftEnaDevice(seed=2)
    assert a.mac == b.mac != c.mac
    assert a.mac_bytes[0] & 0x3 == 0x2  # locally administered unicast
    assert SoftEnaDevice(mac="02:11:22:33:44:55").mac_bytes == bytes.fromhex("021122334455")


def test_unknown_offsets_read_zero_and_writes_counted(dev):
    assert dev.bar0.read32(0x1FC) == 0
    n = dev.stats.ignored_register_writes
    dev.bar0.write32(0x1FC, 0x1234)
    dev.bar0.write32(0x2, 5)  # unaligned
    dev.bar0.write32(R.ENA_REGS_VERSION_OFF, 0)  # read-only
    dev.bar0.write32(0x10000, 1)  # beyond BAR0
    assert dev.stats.ignored_register_writes == n + 4
    assert dev.bar0.read32(R.ENA_REGS_VERSION_OFF) == 0xA


@pytest.mark.parametrize("reason", [ResetReason.NORMAL, ResetReason.KEEP_ALIVE_TO,
                                    ResetReason.MISSING_ADMIN_INTERRUPT,
                                    ResetReason.MISS_FIRST_INTERRUPT])
def test_reset_handshake_and_reason(dev, reason):
    rd = lambda: dev.bar0.read32(R.ENA_REGS_DEV_STS_OFF)  # noqa: E731
    assert dev.last_reset_reason is None and dev.reset_count == 0
    dev.bar0.write32(R.ENA_REGS_DEV_CTL_OFF,
                     R.ENA_REGS_DEV_CTL_DEV_RESET_MASK | R.dev_ctl_reset_reason_bits(reason))
    dev.process()
    sts = rd()
    assert sts & R.ENA_REGS_DEV_STS_READY_MASK
    assert sts & R.ENA_REGS_DEV_STS_RESET_IN_PROGRESS_MASK
    dev.bar0.write32(R.ENA_REGS_DEV_CTL_OFF, 0)
    dev.process()
    sts = rd()
    assert sts & R.ENA_REGS_DEV_STS_READY_MASK
    assert not sts & R.ENA_REGS_DEV_STS_RESET_IN_PROGRESS_MASK
    assert sts & R.ENA_REGS_DEV_STS_RESET_FINISHED_MASK
    assert dev.last_reset_reason == reason and isinstance(dev.last_reset_reason, ResetReason)
    assert dev.reset_count == 1


def test_reset_forgets_configuration(drv):
    dev = drv.dev
    drv.w(R.ENA_REGS_INTR_MASK_OFF, 0)
    assert dev.bar0.read32(R.ENA_REGS_INTR_MASK_OFF) == 0
    assert dev.admin.aq_depth == 32 and dev.aenq.configured
    drv.w(R.ENA_REGS_DEV_CTL_OFF, R.ENA_REGS_DEV_CTL_DEV_RESET_MASK)
    assert dev.bar0.read32(R.ENA_REGS_INTR_MASK_OFF) == 1
    assert dev.admin.aq_depth == 0 and not dev.aenq.configured
    assert dev.mmio.address == 0
    assert dev.bar0.read32(R.ENA_REGS_AQ_BASE_LO_OFF) == 0


def test_readless_read_answers_with_req_id_offset_value(drv):
    dev = drv.dev
    for off in (R.ENA_REGS_VERSION_OFF, R.ENA_REGS_CONTROLLER_VERSION_OFF, R.ENA_REGS_CAPS_OFF,
                R.ENA_REGS_DEV_STS_OFF):
        assert drv.readless(off) == dev.bar0.read32(off)
    # exact bytes of the response
    drv.w(R.ENA_REGS_MMIO_REG_READ_OFF, (R.ENA_REGS_CAPS_OFF << 16) | 0xBEEF)
    resp = unpack(R.ENA_MMIO_READ_RESP, dev.dma.read(drv.mmio_buf, 8))
    assert resp == {"req_id": 0xBEEF, "reg_off": 8, "reg_val": dev.bar0.read32(8)}
    assert dev.stats.mmio_reads >= 5


def test_readless_answers_during_reset_and_disabled_at_zero(dev):
    drv = MiniDriver(dev)
    drv.arm_mmio()
    drv.w(R.ENA_REGS_DEV_CTL_OFF, R.ENA_REGS_DEV_CTL_DEV_RESET_MASK)
    # the reset forgot the address: nothing answers until it is re-armed
    assert drv.readless(R.ENA_REGS_DEV_STS_OFF) == R.ENA_MMIO_READ_TIMEOUT
    drv.arm_mmio()
    sts = drv.readless(R.ENA_REGS_DEV_STS_OFF)
    assert sts & R.ENA_REGS_DEV_STS_RESET_IN_PROGRESS_MASK
    # address 0 = disabled: the buffer is left alone
    drv.w(R.ENA_REGS_MMIO_RESP_LO_OFF, 0)
    drv.w(R.ENA_REGS_MMIO_RESP_HI_OFF, 0)
    dev.dma.write(drv.mmio_buf, pack(R.ENA_MMIO_READ_RESP, req_id=7, reg_off=7, reg_val=7))
    drv.w(R.ENA_REGS_MMIO_REG_READ_OFF, (R.ENA_REGS_VERSION_OFF << 16) | 1)
    dev.process()
    assert unpack(R.ENA_MMIO_READ_RESP, dev.dma.read(drv.mmio_buf, 8))["req_id"] == 7


def test_readless_unsupported_device_ignores_requests():
    dev = SoftEnaDevice(readless=False)
    drv = MiniDriver(dev)
    drv.arm_mmio()
    assert drv.readless(R.ENA_REGS_VERSION_OFF) == R.ENA_MMIO_READ_TIMEOUT
    assert dev.bar0.read32(R.ENA_REGS_VERSION_OFF) == 0xA  # plain reads work


def test_readless_to_bad_address_is_counted_not_raised(dev):
    dev.bar0.write32(R.ENA_REGS_MMIO_RESP_LO_OFF, 0x1000)
    dev.bar0.write32(R.ENA_REGS_MMIO_RESP_HI_OFF, 0)
    dev.bar0.write32(R.ENA_REGS_MMIO_REG_READ_OFF, 1)
    assert dev.stats.dma_faults == 1


def test_rss_ind_entry_update_register(drv):
    dev = drv.dev
    drv.w(R.ENA_REGS_RSS_IND_ENTRY_UPDATE_OFF, (3 << 16) | 5)
    assert dev.features.rss.table[5] == 3
    n = dev.stats.ignored_register_writes
    drv.w(R.ENA_REGS_RSS_IND_ENTRY_UPDATE_OFF, (99 << 16) | 5)  # no such Rx queue
    assert dev.features.rss.table[5] == 3
    assert dev.stats.ignored_register_writes == n + 1


def test_random_register_writes_never_raise():
    rng = np.random.default_rng(7)
    dev = SoftEnaDevice(seed=3)
    for _ in range(5000):
        off = int(rng.integers(0, 0x2100)) & ~3 if rng.random() < 0.9 else int(
            rng.integers(0, 1 << 20))
        dev.bar0.write32(off, int(rng.integers(0, 1 << 32)))
        if rng.random() < 0.05:
            dev.advance(float(rng.random()))
        dev.bar0.read32(off)
    dev.process()
    assert dev.stats.internal_errors == 0, dev.internal_errors


def test_unknown_reset_reason_kept_as_int_and_aq_restart(dev):
    dev.bar0.write32(R.ENA_REGS_DEV_CTL_OFF, 1 | R.dev_ctl_reset_reason_bits(0xA7))
    assert dev.last_reset_reason == 0xA7 and not isinstance(dev.last_reset_reason, ResetReason)
    dev.bar0.write32(R.ENA_REGS_DEV_CTL_OFF, 0)
    dev.bar0.write32(R.ENA_REGS_DEV_CTL_OFF, R.ENA_REGS_DEV_CTL_AQ_RESTART_MASK)
    assert dev.bar0.read32(R.ENA_REGS_DEV_STS_OFF) & R.ENA_REGS_DEV_STS_AQ_RESTART_FINISHED_MASK
    with pytest.raises(ValueError):
        dev.advance(-1)


def test_cq_head_doorbell_recorded(drv):
    from .test_admin_errors import create_cq

    c = create_cq(drv)
    cq = drv.dev.io.cqs[c["raw"][8]]
    drv.w(cq.head_db_offset, 64)
    assert cq.head_db == 64 and drv.dev.bar0.read32(cq.head_db_offset) == 64
