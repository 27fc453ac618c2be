"""Admin queue protocol: phases, ids, wrap-around, DEVICE_ATTRIBUTES."""

from __future__ import annotations

from enatool.ena.admin import (
    ENA_ADMIN_DEVICE_ATTR_FEATURE_DESC,
    AdminStatus,
    FeatureId,
)

from .conftest import payload


def test_device_attributes(drv):
    dev = drv.dev
    c = drv.get_feature(FeatureId.DEVICE_ATTRIBUTES)
    assert c["status"] == AdminStatus.SUCCESS
    p = payload(c, ENA_ADMIN_DEVICE_ATTR_FEATURE_DESC)
    assert p["mac_addr"] == dev.mac_bytes
    assert p["max_mtu"] == 9216
    assert p["supported_features"] == dev.supported_features
    assert p["supported_features"] >> FeatureId.LLQ & 1
    assert p["capabilities"] == 0b1101  # ENI_STATS | CUSTOMER_METRICS | EXTENDED_RESET_REASONS
    assert p["phys_addr_width"] == 48


def test_aq_wraparound_three_times_depth(drv):
    dev = drv.dev
    depth = drv.aq_depth
    seen_acq_phases = set()
    for i in range(3 * depth + 5):
        cid = (i * 37) & 0xFFF  # arbitrary 12-bit ids are echoed, not just 0..depth-1
        drv.submit(b"\0\0" + bytes([8, 0]) + bytes(12) + bytes([0, FeatureId.DEVICE_ATTRIBUTES]),
                   command_id=cid)
        seen_acq_phases.add(drv.acq_phase)
        dev.process()
        comps = drv.completions()
        assert len(comps) == 1
        assert comps[0]["command_id"] == cid
        assert comps[0]["status"] == 0
        assert comps[0]["sq_head_indx"] == (i + 1) & 0xFFFF
    assert seen_acq_phases == {0, 1}
    assert dev.admin.aq_head == 3 * depth + 5
    assert dev.stats.admin_commands == 3 * depth + 5


def test_batch_of_commands_one_doorbell(drv):
    for _ in range(5):
        drv.submit(bytes([0, 0, 8, 0]) + bytes(13) + bytes([FeatureId.DEVICE_ATTRIBUTES]),
                   ring=False)
    drv.dev.process()
    assert drv.completions() == []  # no doorbell, nothing fetched
    drv.w(0x2C, drv.aq_tail)
    drv.dev.process()
    assert [c["command_id"] for c in drv.completions()] == [0, 1, 2, 3, 4]
