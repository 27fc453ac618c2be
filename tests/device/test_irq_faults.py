"""Management interrupt (vector 0) and fault injection."""

from __future__ import annotations

from enatool.ena import regs as R
from enatool.ena.admin import ENA_ADMIN_FEATURE_AENQ_DESC, AenqGroup, FeatureId
from enatool.ena.bits import pack


def test_mgmt_irq_only_when_unmasked(drv):
    dev = drv.dev
    drv.get_feature(FeatureId.DEVICE_ATTRIBUTES)
    assert dev.irq_counts[0] == 0  # INTR_MASK = 1 after reset: polling mode
    drv.w(R.ENA_REGS_INTR_MASK_OFF, 0)
    drv.get_feature(FeatureId.DEVICE_ATTRIBUTES)
    assert dev.irq_counts[0] == 1
    drv.get_feature(FeatureId.DEVICE_ATTRIBUTES)
    assert dev.irq_counts[0] == 2  # vector 0 is not auto-masked
    # one interrupt per batch
    for _ in range(4):
        drv.submit(bytes([0, 0, 8, 0]) + bytes(13) + bytes([1]))
    dev.process()
    assert len(drv.completions()) == 4 and dev.irq_counts[0] == 3
    dev.process()
    assert dev.irq_counts[0] == 3  # nothing new, no interrupt
    assert dev.irq_counts[1:] == [0] * 8


def test_aenq_events_raise_vector_0(drv):
    dev = drv.dev
    drv.w(R.ENA_REGS_INTR_MASK_OFF, 0)
    drv.set_feature(FeatureId.AENQ_CONFIG, pack(ENA_ADMIN_FEATURE_AENQ_DESC,
                                                enabled_groups=1 << AenqGroup.KEEP_ALIVE))
    base = dev.irq_counts[0]
    dev.advance(3)
    assert dev.irq_counts[0] == base + 3


def test_admin_drop(drv):
    dev = drv.dev
    dev.faults.admin_drop = 2
    for _ in range(3):
        drv.submit(bytes([0, 0, 8, 0]) + bytes(13) + bytes([1]))
    dev.process()
    comps = drv.completions()
    assert [c["command_id"] for c in comps] == [2]
    assert dev.faults.admin_drop == 0 and dev.stats.admin_completions_dropped == 2


def test_admin_delay(drv):
    dev = drv.dev
    dev.faults.admin_delay = 0.5
    drv.submit(bytes([0, 0, 8, 0]) + bytes(13) + bytes([1]))
    dev.process()
    assert drv.completions() == []
    dev.advance(0.4)
    assert drv.completions() == []
    dev.advance(0.1)
    assert len(drv.completions()) == 1
    dev.faults.admin_delay = 0
    assert drv.get_feature(1)["status"] == 0


def test_keep_alive_fault(drv):
    dev = drv.dev
    drv.set_feature(FeatureId.AENQ_CONFIG, pack(ENA_ADMIN_FEATURE_AENQ_DESC,
                                                enabled_groups=1 << AenqGroup.KEEP_ALIVE))
    dev.advance(2)
    assert len(drv.events()) == 2
    dev.faults.keep_alive = False
    dev.advance(7)
    assert drv.events() == []
    dev.faults.keep_alive = True
    dev.advance(1)
    ev = drv.events()
    assert len(ev) == 1 and ev[0]["timestamp"] == 10


def test_lost_mgmt_interrupt(drv):
    dev = drv.dev
    drv.w(R.ENA_REGS_INTR_MASK_OFF, 0)
    dev.faults.mgmt_irq = False
    c = drv.get_feature(FeatureId.DEVICE_ATTRIBUTES)  # the completion is still written
    assert c["status"] == 0
    assert dev.irq_counts[0] == 0 and dev.stats.mgmt_irqs_suppressed == 1
    dev.faults.mgmt_irq = True
    drv.get_feature(FeatureId.DEVICE_ATTRIBUTES)
    assert dev.irq_counts[0] == 1


def test_aq_phase_mismatch_waits(drv):
    dev = drv.dev
    drv.submit(bytes([0, 0, 8, 0]) + bytes(13) + bytes([1]), phase=0)  # stale phase
    dev.process()
    assert drv.completions() == [] and dev.stats.aq_phase_mismatches == 1
    # the driver rewrites the slot correctly and rings again
    drv.aq_tail -= 1
    drv.submit(bytes([0, 0, 8, 0]) + bytes(13) + bytes([1]), command_id=9)
    dev.process()
    assert [c["command_id"] for c in drv.completions()] == [9]


def test_aq_in_unmapped_memory_is_fatal_not_exception(dev):
    dev.bar0.write32(R.ENA_REGS_AQ_BASE_LO_OFF, 0x1000)
    dev.bar0.write32(R.ENA_REGS_AQ_CAPS_OFF, 32 | 64 << 16)
    ok = dev.dma.alloc(64 * 32)
    dev.bar0.write32(R.ENA_REGS_ACQ_BASE_LO_OFF, ok & 0xFFFFFFFF)
    dev.bar0.write32(R.ENA_REGS_ACQ_BASE_HI_OFF, ok >> 32)
    dev.bar0.write32(R.ENA_REGS_ACQ_CAPS_OFF, 32 | 64 << 16)
    dev.bar0.write32(R.ENA_REGS_AQ_DB_OFF, 1)
    dev.process()
    assert dev.bar0.read32(R.ENA_REGS_DEV_STS_OFF) & R.ENA_REGS_DEV_STS_FATAL_ERROR_MASK
    assert dev.stats.dma_faults == 1
