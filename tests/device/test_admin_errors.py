"""Every admin error status, and garbage that must become statuses, not exceptions."""

from __future__ import annotations

import numpy as np

from enatool.device import SoftEnaDevice
from enatool.device.admin import ExtendedStatus
from enatool.ena.admin import (
    ENA_ADMIN_AQ_CREATE_CQ_CMD,
    ENA_ADMIN_AQ_CREATE_SQ_CMD,
    ENA_ADMIN_AQ_DESTROY_CQ_CMD,
    ENA_ADMIN_AQ_DESTROY_SQ_CMD,
    ENA_ADMIN_AQ_GET_FEAT_CMD,
    ENA_ADMIN_SET_FEATURE_MTU_DESC,
    AdminOpcode,
    AdminStatus,
    FeatureId,
    GetStatsType,
)
from enatool.ena.bits import pack

from .conftest import MiniDriver


def create_cq(drv, depth=256, words=2, vector=1, base=None, caps1=0x20, caps2=None):
    if base is None:
        base = drv.dev.dma.alloc(max(depth, 1) * words * 4)
    return drv.cmd(pack(ENA_ADMIN_AQ_CREATE_CQ_CMD, opcode=AdminOpcode.CREATE_CQ,
                        cq_caps_1=caps1, cq_caps_2=words if caps2 is None else caps2,
                        cq_depth=depth, msix_vector=vector, cq_ba=base))


def create_sq(drv, cq_idx, depth=256, direction=1, placement=1, base=None, caps3=1,
              completion=0):
    if base is None and placement == 1:
        base = drv.dev.dma.alloc(depth * 16)
    return drv.cmd(pack(ENA_ADMIN_AQ_CREATE_SQ_CMD, opcode=AdminOpcode.CREATE_SQ,
                        sq_identity=direction << 5, sq_caps_2=placement | completion << 4,
                        sq_caps_3=caps3, cq_idx=cq_idx, sq_depth=depth, sq_ba=base or 0))


def bad(comp, status):
    assert comp["status"] == status, comp
    if status == AdminStatus.ILLEGAL_PARAMETER:
        assert comp["extended_status"] != 0
    return comp


def test_unknown_opcode_is_bad_opcode(drv):
    for op in (0, 5, 6, 7, 10, 12, 255):
        bad(drv.cmd(bytes([0, 0, op, 0])), AdminStatus.BAD_OPCODE)


def test_unsupported_features(drv):
    bad(drv.get_feature(FeatureId.MTU), AdminStatus.UNSUPPORTED_OPCODE)
    bad(drv.get_feature(FeatureId.HOST_ATTR_CONFIG), AdminStatus.UNSUPPORTED_OPCODE)
    for fid in (0, 5, 6, 8, 29, 30, 31, 200):
        bad(drv.get_feature(fid), AdminStatus.UNSUPPORTED_OPCODE)
    bad(drv.set_feature(FeatureId.DEVICE_ATTRIBUTES), AdminStatus.UNSUPPORTED_OPCODE)
    bad(drv.set_feature(FeatureId.LINK_CONFIG), AdminStatus.UNSUPPORTED_OPCODE)


def test_supported_features_override_gates_features():
    dev = SoftEnaDevice(supported_features=(1 << 1) | (1 << 7) | (1 << 26) | (1 << 11))
    drv = MiniDriver(dev).bring_up()
    assert drv.get_feature(FeatureId.MAX_QUEUES_EXT)["status"] == 0
    bad(drv.get_feature(FeatureId.LLQ), AdminStatus.UNSUPPORTED_OPCODE)
    bad(drv.get_feature(FeatureId.RSS_HASH_FUNCTION), AdminStatus.UNSUPPORTED_OPCODE)
    # DEVICE_ATTRIBUTES is always answered
    assert MiniDriver(SoftEnaDevice(supported_features=0)).bring_up().get_feature(1)["status"] == 0


def test_malformed(drv):
    dev = drv.dev
    buf = dev.dma.alloc(64)
    # RSS key control buffer must be 48 bytes
    bad(drv.get_feature(FeatureId.RSS_HASH_FUNCTION, ctrl=(buf, 40)), AdminStatus.MALFORMED_REQUEST)
    bad(drv.get_feature(FeatureId.RSS_HASH_INPUT, ctrl=(buf, 64)), AdminStatus.MALFORMED_REQUEST)
    # reserved flag bits in the common descriptor / feature flags / command id
    e = bytearray(pack(ENA_ADMIN_AQ_GET_FEAT_CMD, opcode=8, feature_id=1))
    e[3] = 0x80
    bad(drv.cmd(bytes(e)), AdminStatus.MALFORMED_REQUEST)
    bad(drv.get_feature(1, select=0x10 | 1), AdminStatus.MALFORMED_REQUEST)
    c = drv.cmd(pack(ENA_ADMIN_AQ_GET_FEAT_CMD, opcode=8, feature_id=1), command_id=0x1005)
    bad(c, AdminStatus.MALFORMED_REQUEST)
    assert c["command_id"] == 5
    bad(create_cq(drv, caps1=0x21), AdminStatus.MALFORMED_REQUEST)


def test_illegal_parameters(drv):
    dev = drv.dev
    # CQ depth not a power of 2 / over the maximum / zero
    for depth in (1000, 0, 32768):
        c = bad(create_cq(drv, depth=depth), AdminStatus.ILLEGAL_PARAMETER)
        assert c["extended_status"] == ExtendedStatus.DEPTH
    # MSI-X vector out of range (9 vectors: 0..8)
    c = bad(create_cq(drv, vector=9), AdminStatus.ILLEGAL_PARAMETER)
    assert c["extended_status"] == ExtendedStatus.MSIX_VECTOR
    # bad entry size, bad CQ address
    bad(create_cq(drv, words=3), AdminStatus.ILLEGAL_PARAMETER)
    c = bad(create_cq(drv, base=0x1000), AdminStatus.ILLEGAL_PARAMETER)
    assert c["extended_status"] == ExtendedStatus.DMA_ADDRESS
    # DESTROY of unknown queues
    c = bad(drv.cmd(pack(ENA_ADMIN_AQ_DESTROY_SQ_CMD, opcode=AdminOpcode.DESTROY_SQ, sq_idx=3,
                         sq_identity=1 << 5)), AdminStatus.ILLEGAL_PARAMETER)
    assert c["extended_status"] == ExtendedStatus.QUEUE_INDEX
    bad(drv.cmd(pack(ENA_ADMIN_AQ_DESTROY_CQ_CMD, opcode=AdminOpcode.DESTROY_CQ, cq_idx=7)),
        AdminStatus.ILLEGAL_PARAMETER)
    # SQ against a missing CQ, bad direction, placement, completion policy, depth
    bad(create_sq(drv, cq_idx=5), AdminStatus.ILLEGAL_PARAMETER)
    cq = create_cq(drv)
    assert cq["status"] == 0
    cq_idx = cq["raw"][8]
    bad(create_sq(drv, cq_idx, direction=3), AdminStatus.ILLEGAL_PARAMETER)
    bad(create_sq(drv, cq_idx, placement=2), AdminStatus.ILLEGAL_PARAMETER)
    bad(create_sq(drv, cq_idx, placement=3, direction=2), AdminStatus.ILLEGAL_PARAMETER)
    bad(create_sq(drv, cq_idx, completion=1), AdminStatus.ILLEGAL_PARAMETER)
    bad(create_sq(drv, cq_idx, depth=2048), AdminStatus.ILLEGAL_PARAMETER)  # Tx max 1024
    bad(create_sq(drv, cq_idx, direction=2), AdminStatus.ILLEGAL_PARAMETER)  # 8-B cdesc for Rx
    # MTU out of range
    for mtu in (9217, 127, 0):
        bad(drv.set_feature(FeatureId.MTU, pack(ENA_ADMIN_SET_FEATURE_MTU_DESC, mtu=mtu)),
            AdminStatus.ILLEGAL_PARAMETER)
    # GET_STATS: unknown type / foreign device id
    bad(drv.get_stats(9), AdminStatus.ILLEGAL_PARAMETER)
    bad(drv.get_stats(GetStatsType.BASIC, device_id=3), AdminStatus.ILLEGAL_PARAMETER)
    assert dev.stats.admin_errors >= 15


def test_stats_types_gated_by_capabilities():
    drv = MiniDriver(SoftEnaDevice(capabilities=0)).bring_up()
    bad(drv.get_stats(GetStatsType.ENI), AdminStatus.UNSUPPORTED_OPCODE)
    bad(drv.get_stats(GetStatsType.CUSTOMER_METRICS), AdminStatus.UNSUPPORTED_OPCODE)
    bad(drv.get_stats(GetStatsType.ENA_SRD), AdminStatus.UNSUPPORTED_OPCODE)
    assert drv.get_stats(GetStatsType.BASIC)["status"] == 0


def test_bad_control_buffer_address_is_illegal_parameter(drv):
    c = bad(drv.get_feature(FeatureId.RSS_HASH_FUNCTION, ctrl=(0x7000, 48)),
            AdminStatus.ILLEGAL_PARAMETER)
    assert c["extended_status"] == ExtendedStatus.DMA_ADDRESS
    assert drv.dev.stats.dma_faults == 1


def test_garbage_aq_entries_give_statuses_not_exceptions(dev):
    drv = MiniDriver(dev).bring_up()
    rng = np.random.default_rng(11)
    seen = set()
    for i in range(400):
        raw = bytearray(rng.integers(0, 256, 64, dtype=np.uint8).tobytes())
        if i % 2:
            raw[2] = int(rng.choice([1, 2, 3, 4, 8, 9, 11]))  # real opcodes, random fields
            raw[3] &= 0x07
        c = drv.cmd(bytes(raw))
        seen.add(c["status"])
    assert dev.stats.internal_errors == 0, dev.internal_errors
    assert {2, 4} <= seen and seen <= set(range(8))
    # the queue still works after all that
    assert drv.get_feature(FeatureId.DEVICE_ATTRIBUTES)["status"] == 0
