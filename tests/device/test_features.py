"""GET/SET_FEATURE round trips through control buffers and payloads."""

from __future__ import annotations

import numpy as np

from enatool.ena.admin import (
    ENA_ADMIN_FEATURE_AENQ_DESC,
    ENA_ADMIN_FEATURE_INTR_MODER_DESC,
    ENA_ADMIN_FEATURE_LLQ_DESC,
    ENA_ADMIN_FEATURE_OFFLOAD_DESC,
    ENA_ADMIN_FEATURE_RSS_FLOW_HASH_FUNCTION,
    ENA_ADMIN_FEATURE_RSS_HASH_INPUT,
    ENA_ADMIN_FEATURE_RSS_IND_TABLE,
    ENA_ADMIN_GET_FEATURE_LINK_DESC,
    ENA_ADMIN_HOST_INFO,
    ENA_ADMIN_HW_HINTS,
    ENA_ADMIN_QUEUE_EXT_FEATURE_DESC,
    ENA_ADMIN_QUEUE_FEATURE_DESC,
    ENA_ADMIN_SET_FEATURE_HOST_ATTR_DESC,
    ENA_ADMIN_SET_FEATURE_MTU_DESC,
    AdminStatus,
    FeatureId,
    FlowHashFields,
    FlowHashProto,
    rss_hash_input_buffer_pack,
    rss_hash_input_buffer_unpack,
    rss_ind_table_pack,
    rss_ind_table_unpack,
    rss_key_buffer_pack,
    rss_key_buffer_unpack,
)
from enatool.ena.bits import pack

from .conftest import payload

L3 = FlowHashFields.L3_SA | FlowHashFields.L3_DA
L4 = FlowHashFields.L4_SP | FlowHashFields.L4_DP
L2 = FlowHashFields.L2_SA | FlowHashFields.L2_DA


def test_max_queues_ext_version_1(drv):
    c = drv.get_feature(FeatureId.MAX_QUEUES_EXT, version=1)
    p = payload(c, ENA_ADMIN_QUEUE_EXT_FEATURE_DESC)
    assert p["version"] == 1
    assert p["max_tx_sq_num"] == p["max_rx_sq_num"] == p["max_rx_cq_num"] == 8
    assert p["max_rx_sq_depth"] == 16384 and p["max_tx_sq_depth"] == 1024
    assert p["max_per_packet_tx_descs"] >= 19
    q = payload(drv.get_feature(FeatureId.MAX_QUEUES_NUM), ENA_ADMIN_QUEUE_FEATURE_DESC)
    assert q["max_sq_num"] == 8 and q["max_legacy_llq_num"] == 8


def test_small_get_features(drv):
    off = payload(drv.get_feature(FeatureId.STATELESS_OFFLOAD_CONFIG),
                  ENA_ADMIN_FEATURE_OFFLOAD_DESC)
    assert off["tx"] & 0b1010 == 0b1010  # L4 partial csum IPv4 + IPv6
    assert off["rx_supported"] & 0b0110
    im = payload(drv.get_feature(FeatureId.INTERRUPT_MODERATION),
                 ENA_ADMIN_FEATURE_INTR_MODER_DESC)
    assert im["intr_delay_resolution"] == 1
    link = payload(drv.get_feature(FeatureId.LINK_CONFIG), ENA_ADMIN_GET_FEATURE_LINK_DESC)
    assert link["speed"] == 100000 and link["supported"] == 0x80
    hints = payload(drv.get_feature(FeatureId.HW_HINTS), ENA_ADMIN_HW_HINTS)
    assert hints["driver_watchdog_timeout"] == 6000
    drv.dev.hw_hints["driver_watchdog_timeout"] = 0xFFFF
    hints = payload(drv.get_feature(FeatureId.HW_HINTS), ENA_ADMIN_HW_HINTS)
    assert hints["driver_watchdog_timeout"] == 0xFFFF


def test_mtu_bounds(drv):
    for mtu in (128, 1500, 9216):
        c = drv.set_feature(FeatureId.MTU, pack(ENA_ADMIN_SET_FEATURE_MTU_DESC, mtu=mtu))
        assert c["status"] == 0
        assert drv.dev.mtu == mtu
    c = drv.set_feature(FeatureId.MTU, pack(ENA_ADMIN_SET_FEATURE_MTU_DESC, mtu=9217))
    assert c["status"] == AdminStatus.ILLEGAL_PARAMETER
    assert drv.dev.mtu == 9216


def test_rss_hash_function_and_key_round_trip(drv):
    dev = drv.dev
    buf = dev.dma.alloc(48)
    c = drv.get_feature(FeatureId.RSS_HASH_FUNCTION, ctrl=(buf, 48))
    p = payload(c, ENA_ADMIN_FEATURE_RSS_FLOW_HASH_FUNCTION)
    assert p["supported_func"] == 0x6 and p["selected_func"] == 0x2
    assert p["init_val"] == 0xFFFFFFFF
    raw = dev.dma.read(buf, 48)
    assert int.from_bytes(raw[:4], "little") == 10  # key_parts written by the device
    old_key = rss_key_buffer_unpack(raw)
    key = bytes(range(100, 140))
    dev.dma.write(buf, rss_key_buffer_pack(key))
    c = drv.set_feature(
        FeatureId.RSS_HASH_FUNCTION,
        pack(ENA_ADMIN_FEATURE_RSS_FLOW_HASH_FUNCTION, selected_func=0x4, init_val=0),
        ctrl=(buf, 48),
    )
    assert c["status"] == 0
    dev.dma.write(buf, bytes(48))
    p = payload(drv.get_feature(FeatureId.RSS_HASH_FUNCTION, ctrl=(buf, 48)),
                ENA_ADMIN_FEATURE_RSS_FLOW_HASH_FUNCTION)
    assert p["selected_func"] == 0x4 and p["init_val"] == 0
    assert rss_key_buffer_unpack(dev.dma.read(buf, 48)) == key
    # select 3 = default values
    dev.dma.write(buf, bytes(48))
    p = payload(drv.get_feature(FeatureId.RSS_HASH_FUNCTION, ctrl=(buf, 48), select=3),
                ENA_ADMIN_FEATURE_RSS_FLOW_HASH_FUNCTION)
    assert p["selected_func"] == 0x2 and rss_key_buffer_unpack(dev.dma.read(buf, 48)) == old_key
    # two functions at once / unknown function
    for sel in (0x6, 0x8, 0):
        c = drv.set_feature(FeatureId.RSS_HASH_FUNCTION,
                            pack(ENA_ADMIN_FEATURE_RSS_FLOW_HASH_FUNCTION, selected_func=sel))
        assert c["status"] == AdminStatus.ILLEGAL_PARAMETER


def test_rss_hash_input_round_trip(drv):
    dev = drv.dev
    buf = dev.dma.alloc(256)
    c = drv.get_feature(FeatureId.RSS_HASH_INPUT, ctrl=(buf, 256))
    p = payload(c, ENA_ADMIN_FEATURE_RSS_HASH_INPUT)
    assert p["supported_input_sort"] == 0x6 and p["enabled_input_sort"] == 0x6
    supported, selected = rss_hash_input_buffer_unpack(dev.dma.read(buf, 256))
    # DPDK's check: supported covers today's defaults for protocols 0-7
    defaults = [L3 | L4] * 4 + [L3, L3, L3, L2]
    for proto in range(8):
        assert supported[proto] & defaults[proto] == defaults[proto]
    assert selected[:8] == defaults
    new = list(selected)
    new[FlowHashProto.UDP4] = L3
    dev.dma.write(buf, rss_hash_input_buffer_pack(new, supported))
    c = drv.set_feature(FeatureId.RSS_HASH_INPUT,
                        pack(ENA_ADMIN_FEATURE_RSS_HASH_INPUT, enabled_input_sort=0x2),
                        ctrl=(buf, 256))
    assert c["status"] == 0
    dev.dma.write(buf, bytes(256))
    p = payload(drv.get_feature(FeatureId.RSS_HASH_INPUT, ctrl=(buf, 256)),
                ENA_ADMIN_FEATURE_RSS_HASH_INPUT)
    assert p["enabled_input_sort"] == 0x2
    assert rss_hash_input_buffer_unpack(dev.dma.read(buf, 256))[1] == new
    # L4 fields for plain IPv4 are not supported
    bogus = list(new)
    bogus[FlowHashProto.IP4] = L3 | L4
    dev.dma.write(buf, rss_hash_input_buffer_pack(bogus))
    c = drv.set_feature(FeatureId.RSS_HASH_INPUT, pack(ENA_ADMIN_FEATURE_RSS_HASH_INPUT),
                        ctrl=(buf, 256))
    assert c["status"] == AdminStatus.ILLEGAL_PARAMETER


def test_rss_indirection_table_round_trip(drv):
    dev = drv.dev
    p = payload(drv.get_feature(FeatureId.RSS_INDIRECTION_TABLE_CONFIG),
                ENA_ADMIN_FEATURE_RSS_IND_TABLE)
    assert p["min_size"] <= 7 <= p["max_size"] and p["size"] == 7
    buf = dev.dma.alloc(512)
    drv.get_feature(FeatureId.RSS_INDIRECTION_TABLE_CONFIG, ctrl=(buf, 512))
    table = rss_ind_table_unpack(dev.dma.read(buf, 512), 128)
    assert list(table[:10]) == [0, 1, 2, 3, 4, 5, 6, 7, 0, 1]
    new = (np.arange(128) * 3) % 8
    dev.dma.write(buf, rss_ind_table_pack(new))
    c = drv.set_feature(FeatureId.RSS_INDIRECTION_TABLE_CONFIG,
                        pack(ENA_ADMIN_FEATURE_RSS_IND_TABLE, size=7, inline_index=0xFFFFFFFF),
                        ctrl=(buf, 512))
    assert c["status"] == 0
    dev.dma.write(buf, bytes(512))
    drv.get_feature(FeatureId.RSS_INDIRECTION_TABLE_CONFIG, ctrl=(buf, 512))
    assert np.array_equal(rss_ind_table_unpack(dev.dma.read(buf, 512), 128), new)
    # an entry beyond the Rx queues, a wrong buffer length, a size beyond max
    dev.dma.write(buf, rss_ind_table_pack([8] * 128))
    c = drv.set_feature(FeatureId.RSS_INDIRECTION_TABLE_CONFIG,
                        pack(ENA_ADMIN_FEATURE_RSS_IND_TABLE, size=7, inline_index=0xFFFFFFFF),
                        ctrl=(buf, 512))
    assert c["status"] == AdminStatus.ILLEGAL_PARAMETER
    c = drv.set_feature(FeatureId.RSS_INDIRECTION_TABLE_CONFIG,
                        pack(ENA_ADMIN_FEATURE_RSS_IND_TABLE, size=7, inline_index=0xFFFFFFFF),
                        ctrl=(buf, 256))
    assert c["status"] == AdminStatus.MALFORMED_REQUEST
    c = drv.set_feature(FeatureId.RSS_INDIRECTION_TABLE_CONFIG,
                        pack(ENA_ADMIN_FEATURE_RSS_IND_TABLE, size=9, inline_index=0xFFFFFFFF),
                        ctrl=(buf, 2048))
    assert c["status"] == AdminStatus.ILLEGAL_PARAMETER
    # inline single-entry update
    c = drv.set_feature(FeatureId.RSS_INDIRECTION_TABLE_CONFIG,
                        pack(ENA_ADMIN_FEATURE_RSS_IND_TABLE, size=7, inline_index=5,
                             inline_entry_cq_idx=7))
    assert c["status"] == 0 and dev.features.rss.table[5] == 7


def test_llq_get_and_set(drv):
    p = payload(drv.get_feature(FeatureId.LLQ, version=1), ENA_ADMIN_FEATURE_LLQ_DESC)
    assert p["feature_version"] == 1
    assert p["max_llq_num"] == 8 and p["max_llq_depth"] == 1024
    assert p["header_location_ctrl_supported"] & 1
    assert p["entry_size_ctrl_supported"] & 0x5 == 0x5  # 128 and 256
    assert p["desc_num_before_header_supported"] == 0xF  # 1, 2, 4, 8
    assert p["descriptors_stride_ctrl_supported"] == 0x3
    assert p["accel_mode_supported_flags"] == 0x3 and p["accel_mode_max_tx_burst_size"] > 0
    assert p["entry_size_recommended"] in (1, 4) and p["max_wide_llq_depth"] == 512
    good = dict(header_location_ctrl_enabled=1, entry_size_ctrl_enabled=4,
                desc_num_before_header_enabled=4, descriptors_stride_ctrl_enabled=1,
                accel_mode_enabled_flags=3)
    assert drv.set_feature(FeatureId.LLQ, pack(ENA_ADMIN_FEATURE_LLQ_DESC, **good))["status"] == 0
    p = payload(drv.get_feature(FeatureId.LLQ), ENA_ADMIN_FEATURE_LLQ_DESC)
    assert (p["entry_size_ctrl_enabled"], p["desc_num_before_header_enabled"],
            p["descriptors_stride_ctrl_enabled"]) == (4, 4, 1)
    assert drv.dev.features.llq_enabled()["line_size"] == 256
    for field, value in (("header_location_ctrl_enabled", 2), ("entry_size_ctrl_enabled", 5),
                         ("entry_size_ctrl_enabled", 2), ("desc_num_before_header_enabled", 3),
                         ("descriptors_stride_ctrl_enabled", 0), ("accel_mode_enabled_flags", 4)):
        c = drv.set_feature(FeatureId.LLQ,
                            pack(ENA_ADMIN_FEATURE_LLQ_DESC, **{**good, field: value}))
        assert c["status"] == AdminStatus.ILLEGAL_PARAMETER, field
    # 8 descriptors fill a whole 128-B line: no room for the header
    c = drv.set_feature(FeatureId.LLQ, pack(ENA_ADMIN_FEATURE_LLQ_DESC, **{
        **good, "entry_size_ctrl_enabled": 1, "desc_num_before_header_enabled": 8}))
    assert c["status"] == AdminStatus.ILLEGAL_PARAMETER


def test_aenq_config_masks_by_supported(drv):
    p = payload(drv.get_feature(FeatureId.AENQ_CONFIG), ENA_ADMIN_FEATURE_AENQ_DESC)
    assert p["supported_groups"] == 0b11011111 and p["enabled_groups"] == 0
    drv.set_feature(FeatureId.AENQ_CONFIG, pack(ENA_ADMIN_FEATURE_AENQ_DESC,
                                                 enabled_groups=0xFFFFFFFF))
    p = payload(drv.get_feature(FeatureId.AENQ_CONFIG), ENA_ADMIN_FEATURE_AENQ_DESC)
    assert p["enabled_groups"] == 0b11011111


def test_host_attr_records_host_info_twice_like_dpdk(drv):
    dev = drv.dev
    page = dev.dma.alloc(4096)
    info = np.zeros(1, ENA_ADMIN_HOST_INFO)
    info["os_type"] = 3
    info["kernel_ver_str"][0][:6] = np.frombuffer(b"22.11\0", np.uint8)
    info["driver_version"] = 2 | 7 << 8 | 1 << 16 | ord("g") << 24
    info["num_cpus"] = 4
    info["ena_spec_version"] = 0x0200
    dev.dma.write(page, info.tobytes())
    # before DEVICE_ATTRIBUTES, first with no debug area, then with one
    c = drv.set_feature(FeatureId.HOST_ATTR_CONFIG,
                        pack(ENA_ADMIN_SET_FEATURE_HOST_ATTR_DESC, os_info_ba=page))
    assert c["status"] == 0
    dbg = dev.dma.alloc(1024)
    c = drv.set_feature(FeatureId.HOST_ATTR_CONFIG,
                        pack(ENA_ADMIN_SET_FEATURE_HOST_ATTR_DESC, os_info_ba=page, debug_ba=dbg,
                             debug_area_size=1024))
    assert c["status"] == 0
    assert dev.features.host_attr_sets == 2
    h = dev.host_info
    assert h["os_name"] == "DPDK" and h["kernel_ver_str"] == "22.11"
    assert h["driver_version_str"] == "2.7.1g" and h["num_cpus"] == 4
    assert h["ena_spec_version"] == "2.0"
    # a debug area the driver never allocated
    c = drv.set_feature(FeatureId.HOST_ATTR_CONFIG,
                        pack(ENA_ADMIN_SET_FEATURE_HOST_ATTR_DESC, os_info_ba=page,
                             debug_ba=dbg, debug_area_size=8192))
    assert c["status"] == AdminStatus.ILLEGAL_PARAMETER


def test_reset_restores_feature_defaults(drv):
    drv.set_feature(FeatureId.MTU, pack(ENA_ADMIN_SET_FEATURE_MTU_DESC, mtu=9000))
    drv.set_feature(FeatureId.AENQ_CONFIG, pack(ENA_ADMIN_FEATURE_AENQ_DESC, enabled_groups=0x1F))
    drv.reset()
    drv.program_queues()
    assert drv.dev.mtu == 1500
    p = payload(drv.get_feature(FeatureId.AENQ_CONFIG), ENA_ADMIN_FEATURE_AENQ_DESC)
    assert p["enabled_groups"] == 0
