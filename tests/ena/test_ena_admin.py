"""admin: entry/feature layouts and enums against INTERFACE.md §2–4 and §6."""

import zlib

import numpy as np
import pytest

from enatool.ena import admin as a
from enatool.ena import bits

from .helpers import check_roundtrip

pytestmark = pytest.mark.nojit

SIZES = {
    # 64-byte queue entries (§2.1)
    "ENA_ADMIN_AQ_ENTRY": 64, "ENA_ADMIN_ACQ_ENTRY": 64, "ENA_ADMIN_AQ_CREATE_SQ_CMD": 64,
    "ENA_ADMIN_ACQ_CREATE_SQ_RESP_DESC": 64, "ENA_ADMIN_AQ_DESTROY_SQ_CMD": 64,
    "ENA_ADMIN_AQ_CREATE_CQ_CMD": 64, "ENA_ADMIN_ACQ_CREATE_CQ_RESP_DESC": 64,
    "ENA_ADMIN_AQ_DESTROY_CQ_CMD": 64, "ENA_ADMIN_ACQ_DESTROY_SQ_RESP_DESC": 64,
    "ENA_ADMIN_AQ_GET_FEAT_CMD": 64, "ENA_ADMIN_AQ_SET_FEAT_CMD": 64,
    "ENA_ADMIN_ACQ_GET_FEAT_RESP": 64, "ENA_ADMIN_AQ_GET_STATS_CMD": 64,
    "ENA_ADMIN_ACQ_GET_STATS_RESP": 64, "ENA_ADMIN_AENQ_ENTRY": 64,
    "ENA_ADMIN_AENQ_LINK_CHANGE_DESC": 64, "ENA_ADMIN_AENQ_KEEP_ALIVE_DESC": 64,
    "ENA_ADMIN_AENQ_UPDATE_HINTS_DESC": 64, "ENA_ADMIN_AENQ_CONF_NOTIFICATIONS_DESC": 64,
    # GET_STATS payload views (56 bytes max)
    "ENA_ADMIN_BASIC_STATS": 56, "ENA_ADMIN_ENI_STATS": 40, "ENA_ADMIN_ENA_SRD_INFO": 40,
    "ENA_ADMIN_CUSTOMER_METRICS": 8,
    # feature payloads (§3.3)
    "ENA_ADMIN_DEVICE_ATTR_FEATURE_DESC": 36, "ENA_ADMIN_QUEUE_FEATURE_DESC": 32,
    "ENA_ADMIN_QUEUE_EXT_FEATURE_DESC": 44, "ENA_ADMIN_HW_HINTS": 32,
    "ENA_ADMIN_FEATURE_LLQ_DESC": 36, "ENA_ADMIN_FEATURE_OFFLOAD_DESC": 12,
    "ENA_ADMIN_FEATURE_RSS_FLOW_HASH_FUNCTION": 12, "ENA_ADMIN_RSS_HASH_KEY_BUFFER": 48,
    "ENA_ADMIN_FEATURE_RSS_HASH_INPUT": 4, "ENA_ADMIN_RSS_HASH_INPUT_BUFFER": 256,
    "ENA_ADMIN_PROTO_INPUT": 4, "ENA_ADMIN_FEATURE_RSS_IND_TABLE": 16,
    "ENA_ADMIN_RSS_IND_TABLE_ENTRY": 4, "ENA_ADMIN_SET_FEATURE_MTU_DESC": 4,
    "ENA_ADMIN_FEATURE_INTR_MODER_DESC": 4, "ENA_ADMIN_FEATURE_AENQ_DESC": 8,
    "ENA_ADMIN_GET_FEATURE_LINK_DESC": 12, "ENA_ADMIN_SET_FEATURE_HOST_ATTR_DESC": 20,
    "ENA_ADMIN_FEATURE_PHC_DESC": 28, "ENA_ADMIN_FEATURE_HW_TIMESTAMP_DESC": 4,
    "ENA_ADMIN_FEATURE_FRAG_BYPASS_DESC": 4, "ENA_ADMIN_FEATURE_FLOW_STEERING_DESC": 12,
    "ENA_ADMIN_FLOW_STEERING_BUFFER": 128, "ENA_ADMIN_HOST_INFO": 4096,
}
ALL_DTYPES = sorted(SIZES)


@pytest.mark.parametrize("name", ALL_DTYPES)
def test_itemsize(name):
    dt = getattr(a, name)
    assert dt.itemsize == SIZES[name]
    # every multi-byte scalar is little-endian
    for fname in dt.names:
        fd = dt.fields[fname][0]
        base = fd.subdtype[0] if fd.subdtype else fd
        if base.names is None and base.itemsize > 1:
            assert base.byteorder in "<=", (name, fname)


@pytest.mark.parametrize("name", ALL_DTYPES)
def test_roundtrip(name):
    check_roundtrip(getattr(a, name), seed=zlib.crc32(name.encode()))


@pytest.mark.parametrize("name", [n for n in ALL_DTYPES if SIZES[n] == 64])
def test_payloads_fit(name):
    assert getattr(a, name).itemsize == a.ENA_ADMIN_AQ_ENTRY_SIZE


@pytest.mark.parametrize("fid,dt", list(a.FEATURE_PAYLOAD_DTYPES.items()))
def test_feature_payload_fits_aq_and_acq(fid, dt):
    assert dt.itemsize <= a.ENA_ADMIN_AQ_FEAT_PAYLOAD_SIZE  # 44 bytes from AQ byte 20
    assert dt.itemsize <= a.ENA_ADMIN_ACQ_RESP_PAYLOAD_SIZE


def off(dt, name):
    return dt.fields[name][1]


def test_common_entry_offsets():
    aq, acq = a.ENA_ADMIN_AQ_ENTRY, a.ENA_ADMIN_ACQ_ENTRY
    assert [off(aq, n) for n in ("command_id", "opcode", "flags", "ctrl_length",
                                 "ctrl_address_lo", "ctrl_address_hi", "body")] == \
        [0, 2, 3, 4, 8, 12, 16]
    assert [off(acq, n) for n in ("command_id", "status", "flags", "extended_status",
                                  "sq_head_indx", "response")] == [0, 2, 3, 4, 6, 8]


def test_feature_cmd_offsets():
    dt = a.ENA_ADMIN_AQ_GET_FEAT_CMD
    assert off(dt, "feat_flags") == 16
    assert off(dt, "feature_id") == 17
    assert off(dt, "feature_version") == 18
    assert off(dt, "payload") == 20
    assert dt.fields["payload"][0].itemsize == 44
    assert off(a.ENA_ADMIN_ACQ_GET_FEAT_RESP, "payload") == 8
    assert a.ENA_ADMIN_ACQ_GET_FEAT_RESP.fields["payload"][0].itemsize == 56


def test_queue_cmd_offsets():
    sq = a.ENA_ADMIN_AQ_CREATE_SQ_CMD
    assert [off(sq, n) for n in ("sq_identity", "sq_caps_2", "sq_caps_3", "cq_idx",
                                 "sq_depth", "sq_ba_lo", "sq_ba_hi",
                                 "sq_head_writeback_lo")] == [4, 6, 7, 8, 10, 12, 16, 20]
    sqr = a.ENA_ADMIN_ACQ_CREATE_SQ_RESP_DESC
    assert [off(sqr, n) for n in ("sq_idx", "sq_doorbell_offset", "llq_descriptors_offset",
                                  "llq_headers_offset")] == [8, 12, 16, 20]
    cq = a.ENA_ADMIN_AQ_CREATE_CQ_CMD
    assert [off(cq, n) for n in ("cq_caps_1", "cq_caps_2", "cq_depth", "msix_vector",
                                 "cq_ba_lo", "cq_ba_hi")] == [4, 5, 6, 8, 12, 16]
    cqr = a.ENA_ADMIN_ACQ_CREATE_CQ_RESP_DESC
    assert [off(cqr, n) for n in ("cq_idx", "cq_actual_depth", "numa_node_register_offset",
                                  "cq_head_db_register_offset",
                                  "cq_interrupt_unmask_register_offset")] == [8, 10, 12, 16, 20]
    assert off(a.ENA_ADMIN_AQ_DESTROY_SQ_CMD, "sq_idx") == 4
    assert off(a.ENA_ADMIN_AQ_DESTROY_SQ_CMD, "sq_identity") == 6
    assert off(a.ENA_ADMIN_AQ_DESTROY_CQ_CMD, "cq_idx") == 4


def test_get_stats_offsets():
    dt = a.ENA_ADMIN_AQ_GET_STATS_CMD
    assert [off(dt, n) for n in ("type", "scope", "queue_idx", "device_id",
                                 "requested_metrics")] == [16, 17, 20, 22, 24]
    basic = a.ENA_ADMIN_BASIC_STATS
    assert [off(basic, n) for n in basic.names] == [0, 8, 16, 24, 32, 40, 48]


def test_feature_payload_offsets():
    attr = a.ENA_ADMIN_DEVICE_ATTR_FEATURE_DESC
    assert off(attr, "supported_features") == 8
    assert off(attr, "capabilities") == 12
    assert off(attr, "mac_addr") == 24
    assert off(attr, "flow_steering_max_entries") == 30
    assert off(attr, "max_mtu") == 32
    q = a.ENA_ADMIN_QUEUE_FEATURE_DESC
    assert off(q, "max_header_size") == 24 and off(q, "max_packet_rx_descs") == 30
    ext = a.ENA_ADMIN_QUEUE_EXT_FEATURE_DESC
    assert off(ext, "max_tx_sq_num") == 4 and off(ext, "max_tx_header_size") == 36
    assert off(ext, "max_per_packet_tx_descs") == 40
    assert off(ext, "max_per_packet_rx_descs") == 42
    hints = a.ENA_ADMIN_HW_HINTS
    assert off(hints, "admin_completion_tx_timeout") == 8 and off(hints, "max_rx_sgl_size") == 14
    llq = a.ENA_ADMIN_FEATURE_LLQ_DESC
    assert [off(llq, n) for n in (
        "header_location_ctrl_supported", "header_location_ctrl_enabled",
        "entry_size_ctrl_supported", "entry_size_ctrl_enabled",
        "desc_num_before_header_supported", "desc_num_before_header_enabled",
        "descriptors_stride_ctrl_supported", "descriptors_stride_ctrl_enabled",
        "feature_version", "entry_size_recommended", "max_wide_llq_depth",
        "accel_mode_supported_flags", "accel_mode_max_tx_burst_size",
        "accel_mode_enabled_flags")] == [8, 10, 12, 14, 16, 18, 20, 22, 24, 25, 26, 28, 30, 28]
    ind = a.ENA_ADMIN_FEATURE_RSS_IND_TABLE
    assert [off(ind, n) for n in ("min_size", "max_size", "size", "flags", "inline_index",
                                  "inline_entry_cq_idx")] == [0, 2, 4, 6, 8, 12]
    host = a.ENA_ADMIN_SET_FEATURE_HOST_ATTR_DESC
    assert [off(host, n) for n in ("os_info_ba_lo", "debug_ba_lo", "debug_area_size")] == \
        [0, 8, 16]
    assert off(a.ENA_ADMIN_RSS_HASH_KEY_BUFFER, "key") == 8
    assert off(a.ENA_ADMIN_FEATURE_PHC_DESC, "output_address_lo") == 16
    assert off(a.ENA_ADMIN_FEATURE_PHC_DESC, "output_length") == 24


def test_host_info_offsets():
    h = a.ENA_ADMIN_HOST_INFO
    assert [off(h, n) for n in (
        "os_type", "os_dist_str", "os_dist", "kernel_ver_str", "kernel_ver", "driver_version",
        "supported_network_features", "ena_spec_version", "bdf", "num_cpus",
        "driver_supported_features")] == [0, 4, 132, 136, 168, 172, 176, 184, 186, 188, 192]


def test_aenq_offsets():
    ka = a.ENA_ADMIN_AENQ_KEEP_ALIVE_DESC
    assert [off(ka, n) for n in ("rx_drops_low", "rx_drops_high", "tx_drops_low",
                                 "tx_drops_high", "rx_overruns_low", "rx_overruns_high")] == \
        [16, 20, 24, 28, 32, 36]
    e = a.ENA_ADMIN_AENQ_ENTRY
    assert [off(e, n) for n in ("group", "syndrome", "flags", "timestamp_low",
                                "timestamp_high", "data")] == [0, 2, 4, 8, 12, 16]
    assert off(a.ENA_ADMIN_AENQ_LINK_CHANGE_DESC, "link_flags") == 16
    hints = a.ENA_ADMIN_AENQ_UPDATE_HINTS_DESC
    assert off(hints, "mmio_read_timeout") == 16 and off(hints, "max_rx_sgl_size") == 30


def test_get_feature_command_bytes():
    """A hand-built GET_FEATURE(MAX_QUEUES_EXT, version 1) entry, byte by byte."""
    data = bits.pack(
        a.ENA_ADMIN_AQ_GET_FEAT_CMD,
        command_id=0x0ABC,
        opcode=a.AdminOpcode.GET_FEATURE,
        flags=a.ENA_ADMIN_AQ_COMMON_DESC_PHASE_MASK,
        feat_flags=a.FeatureSelect.CURRENT,
        feature_id=a.FeatureId.MAX_QUEUES_EXT,
        feature_version=1,
    )
    assert data[:4] == b"\xbc\x0a\x08\x01"
    assert data[16:20] == b"\x01\x07\x01\x00"
    assert data[4:16] == bytes(12) and data[20:] == bytes(44)


def test_set_feature_with_payload_and_ctrl_buffer():
    payload = bits.pack(a.ENA_ADMIN_SET_FEATURE_MTU_DESC, mtu=9001)
    data = bits.pack(
        a.ENA_ADMIN_AQ_SET_FEAT_CMD, opcode=a.AdminOpcode.SET_FEATURE,
        feature_id=a.FeatureId.MTU, payload=payload,
        ctrl_length=48, ctrl_address=0x1234_8765_4320,
        flags=a.ENA_ADMIN_AQ_COMMON_DESC_CTRL_DATA_INDIRECT_MASK | 1,
    )
    assert data[20:24] == (9001).to_bytes(4, "little")
    assert data[3] == 0x05
    assert data[4:8] == (48).to_bytes(4, "little")
    assert data[8:14] == bytes.fromhex("20436587 3412")
    d = bits.unpack(a.ENA_ADMIN_AQ_SET_FEAT_CMD, data)
    assert d["ctrl_address"] == 0x1234_8765_4320
    assert bits.unpack(a.ENA_ADMIN_SET_FEATURE_MTU_DESC, d["payload"])["mtu"] == 9001


def test_device_attr_response_in_acq():
    mac = bytes.fromhex("0affee123456")
    payload = bits.pack(a.ENA_ADMIN_DEVICE_ATTR_FEATURE_DESC, mac_addr=mac, max_mtu=9216,
                        supported_features=0xFFFFFFFF)
    resp = bits.pack(a.ENA_ADMIN_ACQ_GET_FEAT_RESP, command_id=3, flags=1, payload=payload)
    assert resp[8 + 24:8 + 30] == mac
    assert resp[8 + 32:8 + 36] == (9216).to_bytes(4, "little")
    d = bits.unpack(a.ENA_ADMIN_DEVICE_ATTR_FEATURE_DESC,
                    bits.unpack(a.ENA_ADMIN_ACQ_GET_FEAT_RESP, resp)["payload"])
    assert d["mac_addr"] == mac and d["max_mtu"] == 9216


def test_create_cq_resp_unmask_offset_bytes():
    resp = bits.pack(a.ENA_ADMIN_ACQ_CREATE_CQ_RESP_DESC,
                     cq_interrupt_unmask_register_offset=0x1234_5678)
    assert resp[20:24] == bytes.fromhex("78563412")


def test_create_sq_caps_bits():
    sq_identity = bits.field_set(0, a.ENA_ADMIN_AQ_CREATE_SQ_CMD_SQ_DIRECTION_MASK,
                                 a.ENA_ADMIN_AQ_CREATE_SQ_CMD_SQ_DIRECTION_SHIFT,
                                 a.SqDirection.RX)
    assert sq_identity == 0x40
    caps2 = bits.field_set(0, a.ENA_ADMIN_AQ_CREATE_SQ_CMD_PLACEMENT_POLICY_MASK,
                           a.ENA_ADMIN_AQ_CREATE_SQ_CMD_PLACEMENT_POLICY_SHIFT,
                           a.PlacementPolicy.DEV)
    caps2 = bits.field_set(caps2, a.ENA_ADMIN_AQ_CREATE_SQ_CMD_COMPLETION_POLICY_MASK,
                           a.ENA_ADMIN_AQ_CREATE_SQ_CMD_COMPLETION_POLICY_SHIFT,
                           a.CompletionPolicy.HEAD)
    assert caps2 == 0x33
    assert a.ENA_ADMIN_AQ_CREATE_SQ_CMD_IS_PHYSICALLY_CONTIGUOUS_MASK == 1
    assert a.ENA_ADMIN_SQ_SQ_DIRECTION_MASK == 0xE0
    assert a.ENA_ADMIN_AQ_CREATE_CQ_CMD_INTERRUPT_MODE_ENABLED_MASK == 0x20
    assert a.ENA_ADMIN_AQ_CREATE_CQ_CMD_CQ_ENTRY_SIZE_WORDS_MASK == 0x1F
    with pytest.raises(ValueError):
        bits.field_set(0, a.ENA_ADMIN_AQ_CREATE_SQ_CMD_SQ_DIRECTION_MASK,
                       a.ENA_ADMIN_AQ_CREATE_SQ_CMD_SQ_DIRECTION_SHIFT, 8)


def test_common_desc_masks():
    assert a.ENA_ADMIN_AQ_COMMON_DESC_COMMAND_ID_MASK == 0xFFF
    assert a.ENA_ADMIN_AQ_COMMON_DESC_PHASE_MASK == 1
    assert a.ENA_ADMIN_AQ_COMMON_DESC_CTRL_DATA_MASK == 2
    assert a.ENA_ADMIN_AQ_COMMON_DESC_CTRL_DATA_INDIRECT_MASK == 4
    assert a.ENA_ADMIN_ACQ_COMMON_DESC_PHASE_MASK == 1
    assert a.ENA_ADMIN_AENQ_COMMON_DESC_PHASE_MASK == 1
    assert a.ENA_MSIX_VECTOR_NONE == 0xFFFFFFFF


def test_llq_accel_union():
    # SET writes enabled_flags where GET has supported_flags (same two bytes)
    data = bits.pack(a.ENA_ADMIN_FEATURE_LLQ_DESC, accel_mode_enabled_flags=3)
    d = bits.unpack(a.ENA_ADMIN_FEATURE_LLQ_DESC, data)
    assert d["accel_mode_supported_flags"] == 3 and d["accel_mode_max_tx_burst_size"] == 0


def test_keep_alive_bytes():
    data = bits.pack(a.ENA_ADMIN_AENQ_KEEP_ALIVE_DESC, group=a.AenqGroup.KEEP_ALIVE, flags=1,
                     rx_drops_low=0x11223344, rx_drops_high=1, tx_drops_low=5)
    assert data[:5] == b"\x04\x00\x00\x00\x01"
    assert data[16:24] == bytes.fromhex("44332211 01000000")
    assert data[24:28] == b"\x05\x00\x00\x00"


def test_basic_stats_u64_equals_lo_hi_pairs():
    stats = bits.pack(a.ENA_ADMIN_BASIC_STATS, rx_drops=(7 << 32) | 9)
    assert stats[32:40] == (9).to_bytes(4, "little") + (7).to_bytes(4, "little")


def test_rss_hash_input_buffer_arrays():
    buf = np.zeros(1, a.ENA_ADMIN_RSS_HASH_INPUT_BUFFER)
    l3 = a.FlowHashFields.L3_SA | a.FlowHashFields.L3_DA
    l4 = a.FlowHashFields.L4_SP | a.FlowHashFields.L4_DP
    buf["selected_fields"]["fields"][0, a.FlowHashProto.TCP4] = l3 | l4
    buf["selected_fields"]["fields"][0, a.FlowHashProto.NOT_IP] = 3
    buf["supported_fields"]["fields"][0, a.FlowHashProto.IP6_EX] = 0x3F
    raw = buf.tobytes()
    assert raw[64:68] == bytes([0x3C, 0, 0, 0])
    assert raw[64 + 4 * 7:64 + 4 * 8] == bytes([3, 0, 0, 0])
    assert raw[4 * 9:4 * 10] == bytes([0x3F, 0, 0, 0])
    d = bits.unpack(a.ENA_ADMIN_RSS_HASH_INPUT_BUFFER, raw)
    assert list(d["selected_fields"]["fields"][:8]) == [0x3C, 0, 0, 0, 0, 0, 0, 3]


def test_rss_key_buffer_layout():
    key = np.arange(10, dtype=np.uint32) * 0x01010101
    data = bits.pack(a.ENA_ADMIN_RSS_HASH_KEY_BUFFER, key_parts=10, key=key)
    assert data[:8] == b"\x0a\x00\x00\x00\x00\x00\x00\x00"
    assert data[8:48] == key.astype("<u4").tobytes()


def test_host_info_strings_and_versions():
    dv = 17 << 8 | 2 | 0 << 16 | a.ENA_DRIVER_MODULE_TYPE_GITHUB << 24
    data = bits.pack(a.ENA_ADMIN_HOST_INFO, os_type=a.OsType.LINUX, kernel_ver_str=b"6.8.0",
                     driver_version=dv,
                     ena_spec_version=a.ENA_COMMON_SPEC_VERSION_MAJOR << 8,
                     driver_supported_features=int(a.DriverSupportedFeatures.RX_OFFSET
                                                   | a.DriverSupportedFeatures.PHC))
    assert len(data) == 4096
    assert data[136:141] == b"6.8.0"
    assert data[184:186] == b"\x00\x02"
    assert data[172:176] == bytes([2, 17, 0, ord("g")])
    assert int.from_bytes(data[192:196], "little") == 0x102
    assert bits.field_get(dv, a.ENA_ADMIN_HOST_INFO_MINOR_MASK,
                          a.ENA_ADMIN_HOST_INFO_MINOR_SHIFT) == 17
    bdf = 0x3 << 8 | 5 << 3 | 1
    assert bits.field_get(bdf, a.ENA_ADMIN_HOST_INFO_DEVICE_MASK,
                          a.ENA_ADMIN_HOST_INFO_DEVICE_SHIFT) == 5
    assert bits.field_get(bdf, a.ENA_ADMIN_HOST_INFO_BUS_MASK,
                          a.ENA_ADMIN_HOST_INFO_BUS_SHIFT) == 3


def test_enums():
    assert {o.name: int(o) for o in a.AdminOpcode} == {
        "CREATE_SQ": 1, "DESTROY_SQ": 2, "CREATE_CQ": 3, "DESTROY_CQ": 4,
        "GET_FEATURE": 8, "SET_FEATURE": 9, "GET_STATS": 11}
    assert [int(s) for s in a.AdminStatus] == list(range(8))
    assert a.AdminStatus.ILLEGAL_PARAMETER == 5 and a.AdminStatus.RESOURCE_BUSY == 7
    assert {f.name: int(f) for f in a.FeatureId} == {
        "DEVICE_ATTRIBUTES": 1, "MAX_QUEUES_NUM": 2, "HW_HINTS": 3, "LLQ": 4,
        "EXTRA_PROPERTIES_STRINGS": 5, "EXTRA_PROPERTIES_FLAGS": 6, "MAX_QUEUES_EXT": 7,
        "FRAG_BYPASS": 8, "RSS_HASH_FUNCTION": 10, "STATELESS_OFFLOAD_CONFIG": 11,
        "RSS_INDIRECTION_TABLE_CONFIG": 12, "MTU": 14, "RSS_HASH_INPUT": 18,
        "INTERRUPT_MODERATION": 20, "AENQ_CONFIG": 26, "LINK_CONFIG": 27,
        "HOST_ATTR_CONFIG": 28, "PHC_CONFIG": 29, "FLOW_STEERING_CONFIG": 30,
        "HW_TIMESTAMP": 31}
    assert max(a.FeatureId) < a.ENA_ADMIN_FEATURE_MAX
    assert [int(g) for g in a.AenqGroup] == list(range(8))
    assert a.AenqGroup.DEVICE_REQUEST_RESET == 7 and a.AenqGroup.KEEP_ALIVE == 4
    assert a.AenqNotificationSyndrome.UPDATE_HINTS == 2
    assert (a.SqDirection.TX, a.SqDirection.RX) == (1, 2)
    assert (a.PlacementPolicy.HOST, a.PlacementPolicy.DEV) == (1, 3)
    assert [int(c) for c in a.CompletionPolicy] == [0, 1, 2, 3]
    assert [int(t) for t in a.GetStatsType] == [0, 1, 2, 3, 4]
    assert (a.FeatureSelect.CURRENT, a.FeatureSelect.DEFAULT) == (1, 3)
    assert a.DeviceCapability.EXTENDED_RESET_REASONS == 3 and a.DeviceCapability.CDESC_MBZ == 4
    assert (a.HashFunction.TOEPLITZ, a.HashFunction.CRC32) == (1, 2)
    assert a.FlowHashProto.NOT_IP == 7 and a.FlowHashProto.IP6_EX == 9
    assert [int(f) for f in a.FlowHashFields] == [1, 2, 4, 8, 16, 32]
    assert (a.RssHashInputSort.L3_SORT, a.RssHashInputSort.L4_SORT) == (2, 4)
    assert a.LinkSpeed.SPEED_100G == 0x80 and a.LinkSpeed.SPEED_400G == 0x200
    assert [int(o) for o in a.OsType] == [1, 2, 3, 4, 5]


def test_llq_enums():
    assert (a.LlqHeaderLocation.INLINE, a.LlqHeaderLocation.SEPARATE) == (1, 2)
    assert [int(e) for e in a.LlqRingEntrySize] == [1, 2, 4]
    assert [int(n) for n in a.LlqNumDescsBeforeHeader] == [0, 1, 2, 4, 8]
    assert (a.LlqStrideCtrl.SINGLE, a.LlqStrideCtrl.MULTIPLE) == (1, 2)
    assert (a.LlqAccelFlags.DISABLE_META_CACHING, a.LlqAccelFlags.LIMIT_TX_BURST) == (1, 2)
    assert a.LLQ_ENTRY_SIZE_BYTES[a.LlqRingEntrySize.E256] == 256


def test_offload_and_feature_bits():
    assert a.ENA_ADMIN_FEATURE_OFFLOAD_DESC_TX_L4_IPV4_CSUM_PART_MASK == 1 << 1
    assert a.ENA_ADMIN_FEATURE_OFFLOAD_DESC_TX_L4_IPV6_CSUM_PART_MASK == 1 << 3
    assert a.ENA_ADMIN_FEATURE_OFFLOAD_DESC_TSO_ECN_MASK == 1 << 7
    assert a.ENA_ADMIN_FEATURE_OFFLOAD_DESC_RX_HASH_MASK == 1 << 3
    names = [n for n in dir(a) if n.startswith("ENA_ADMIN_FEATURE_OFFLOAD_DESC_")
             and n.endswith("_MASK")]
    for n in names:
        assert getattr(a, n) == 1 << getattr(a, n[:-5] + "_SHIFT"), n
    assert [int(f) for f in a.DriverSupportedFeatures] == [2, 4, 8, 16, 64, 128, 256, 512]


def test_rss_hash_input_helpers():
    sel = [0x3C, 0x3C, 0x3C, 0x3C, 0x0C, 0x0C, 0x0C, 0x03]
    data = a.rss_hash_input_buffer_pack(sel, supported_fields=[0x3F] * 10)
    assert len(data) == 256
    assert data[64:72] == bytes([0x3C, 0, 0, 0]) * 2
    assert data[128:] == bytes(128)  # both reserved arrays stay zero
    sup, got = a.rss_hash_input_buffer_unpack(data)
    assert got == sel + [0] * 8 and sup == [0x3F] * 10 + [0] * 6
    with pytest.raises(ValueError):
        a.rss_hash_input_buffer_pack([0x10000])
    with pytest.raises(ValueError):
        a.rss_hash_input_buffer_pack([0] * 17)


def test_rss_key_helpers():
    key = bytes(range(40))
    data = a.rss_key_buffer_pack(key)
    assert len(data) == 48 and data[:4] == b"\x0a\x00\x00\x00"
    assert bits.unpack(a.ENA_ADMIN_RSS_HASH_KEY_BUFFER, data)["key"][0] == 0x03020100
    assert a.rss_key_buffer_unpack(data) == key
    with pytest.raises(ValueError):
        a.rss_key_buffer_pack(bytes(39))


def test_rss_ind_table_helpers():
    table = [(i % 4) * 2 + 1 for i in range(128)]
    data = a.rss_ind_table_pack(table)
    assert len(data) == 512
    assert data[:8] == bytes([1, 0, 0, 0, 3, 0, 0, 0])
    assert list(a.rss_ind_table_unpack(data, 128)) == table
    with pytest.raises(ValueError):
        a.rss_ind_table_pack([0x10000])
