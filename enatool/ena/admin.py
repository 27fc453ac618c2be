"""Admin queue, AENQ and feature layouts of the ENA device: mirrors ``ena_admin_defs.h``.

Today's layout (amzn-drivers v2.17.0); fields that did not exist in the 2016 driver (v1.0.0)
are reserved zero there, so the same dtypes decode both. See INTERFACE.md §2–4, §6.

Conventions:
- every struct is a little-endian numpy structured dtype with explicit offsets and the exact
  itemsize; names are the driver struct names in upper case;
- a 48-bit DMA address ``X`` is stored as ``X_lo`` (u32) + ``X_hi`` (u16) + 2 reserved bytes,
  so ``bits.pack(dt, X=addr)`` and ``bits.unpack(dt, data)["X"]`` work;
- the control-buffer descriptor of every AQ command is ``ctrl_length`` + ``ctrl_address``;
- 64-bit counters (GET_STATS, feature-free) are single ``<u8`` fields rather than the driver's
  low/high u32 pairs: same bytes, easier to read;
- bit fields inside a byte/word get ``<STRUCT>_<FIELD>_MASK`` / ``_SHIFT`` constants.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

import numpy as np

from enatool.ena.bits import make_dtype

# =========================================================================================
# Enumerations
# =========================================================================================


class AdminOpcode(IntEnum):
    CREATE_SQ = 1
    DESTROY_SQ = 2
    CREATE_CQ = 3
    DESTROY_CQ = 4
    GET_FEATURE = 8
    SET_FEATURE = 9
    GET_STATS = 11


class AdminStatus(IntEnum):
    SUCCESS = 0
    RESOURCE_ALLOCATION_FAILURE = 1
    BAD_OPCODE = 2
    UNSUPPORTED_OPCODE = 3
    MALFORMED_REQUEST = 4
    ILLEGAL_PARAMETER = 5  # detail in extended_status
    UNKNOWN_ERROR = 6
    RESOURCE_BUSY = 7  # today only


class FeatureId(IntEnum):
    DEVICE_ATTRIBUTES = 1
    MAX_QUEUES_NUM = 2
    HW_HINTS = 3
    LLQ = 4
    EXTRA_PROPERTIES_STRINGS = 5
    EXTRA_PROPERTIES_FLAGS = 6
    MAX_QUEUES_EXT = 7
    FRAG_BYPASS = 8
    RSS_HASH_FUNCTION = 10
    STATELESS_OFFLOAD_CONFIG = 11
    RSS_INDIRECTION_TABLE_CONFIG = 12  # 2016 name: RSS_REDIRECTION_TABLE_CONFIG
    MTU = 14
    RSS_HASH_INPUT = 18
    INTERRUPT_MODERATION = 20
    AENQ_CONFIG = 26
    LINK_CONFIG = 27
    HOST_ATTR_CONFIG = 28
    PHC_CONFIG = 29
    FLOW_STEERING_CONFIG = 30
    HW_TIMESTAMP = 31


#: ``supported_features`` is a u32 bitmap indexed by feature id
ENA_ADMIN_FEATURE_MAX = 32


class SqDirection(IntEnum):
    TX = 1
    RX = 2


class PlacementPolicy(IntEnum):
    HOST = 1
    DEV = 3  # LLQ: descriptors (and headers) pushed to BAR2


class CompletionPolicy(IntEnum):
    DESC = 0  # one completion per descriptor (Linux always)
    DESC_ON_DEMAND = 1
    HEAD_ON_DEMAND = 2
    HEAD = 3


class GetStatsType(IntEnum):
    BASIC = 0
    EXTENDED = 1
    ENI = 2
    ENA_SRD = 3
    CUSTOMER_METRICS = 4


class GetStatsScope(IntEnum):
    SPECIFIC_QUEUE = 0
    ETH_TRAFFIC = 1


class FeatureSelect(IntEnum):
    """GET_FEATURE flags bits 1:0 (§15: 0 is treated as CURRENT by our device)."""

    CURRENT = 1
    DEFAULT = 3


class DeviceCapability(IntEnum):
    """Bit numbers in DEVICE_ATTRIBUTES.capabilities (today)."""

    ENI_STATS = 0
    ENA_SRD_INFO = 1
    CUSTOMER_METRICS = 2
    EXTENDED_RESET_REASONS = 3
    CDESC_MBZ = 4


class CustomerMetric(IntEnum):
    """Bit numbers of the GET_STATS CUSTOMER_METRICS requested/reported bitmap."""

    BW_IN_ALLOWANCE_EXCEEDED = 0
    BW_OUT_ALLOWANCE_EXCEEDED = 1
    PPS_ALLOWANCE_EXCEEDED = 2
    CONNTRACK_ALLOWANCE_EXCEEDED = 3
    LINKLOCAL_ALLOWANCE_EXCEEDED = 4
    CONNTRACK_ALLOWANCE_AVAILABLE = 5


#: mask the driver requests; assumed (without the capability) is the first five
ENA_ADMIN_CUSTOMER_METRICS_ALL = 0x3F
ENA_ADMIN_CUSTOMER_METRICS_LEGACY = 0x1F
#: size of the control buffer carrying customer-metric values
ENA_ADMIN_CUSTOMER_METRICS_BUF_SIZE = 512


class AenqGroup(IntEnum):
    LINK_CHANGE = 0
    FATAL_ERROR = 1
    WARNING = 2
    NOTIFICATION = 3
    KEEP_ALIVE = 4
    REFRESH_CAPABILITIES = 5
    CONF_NOTIFICATIONS = 6
    DEVICE_REQUEST_RESET = 7


class AenqNotificationSyndrome(IntEnum):
    SUSPEND = 0  # 2016
    RESUME = 1  # 2016
    UPDATE_HINTS = 2


class HashFunction(IntEnum):
    """RSS function ids; the supported/selected fields carry ``1 << id`` (§15)."""

    TOEPLITZ = 1
    CRC32 = 2


class FlowHashProto(IntEnum):
    """Index into the 16-entry RSS hash-input arrays."""

    TCP4 = 0
    UDP4 = 1
    TCP6 = 2
    UDP6 = 3
    IP4 = 4
    IP6 = 5
    IP4_FRAG = 6
    NOT_IP = 7
    TCP6_EX = 8
    IP6_EX = 9


ENA_ADMIN_RSS_PROTO_NUM = 16


class FlowHashFields(IntFlag):
    L2_DA = 1 << 0
    L2_SA = 1 << 1
    L3_DA = 1 << 2
    L3_SA = 1 << 3
    L4_DP = 1 << 4
    L4_SP = 1 << 5


_L3 = FlowHashFields.L3_SA | FlowHashFields.L3_DA
_L4 = FlowHashFields.L4_SP | FlowHashFields.L4_DP

#: ``ena_com_set_default_hash_ctrl`` (today's Linux): the fields selected per flow protocol;
#: TCP6_EX and IP6_EX are left unset.
DEFAULT_HASH_FIELDS: dict[FlowHashProto, FlowHashFields] = {
    FlowHashProto.TCP4: _L3 | _L4,
    FlowHashProto.UDP4: _L3 | _L4,
    FlowHashProto.TCP6: _L3 | _L4,
    FlowHashProto.UDP6: _L3 | _L4,
    FlowHashProto.IP4: _L3,
    FlowHashProto.IP6: _L3,
    FlowHashProto.IP4_FRAG: _L3,
    FlowHashProto.NOT_IP: FlowHashFields.L2_SA | FlowHashFields.L2_DA,
}


class RssHashInputSort(IntFlag):
    L3_SORT = 1 << 1
    L4_SORT = 1 << 2


class OsType(IntEnum):
    LINUX = 1
    WIN = 2
    DPDK = 3
    FREEBSD = 4
    IPXE = 5


class LinkSpeed(IntFlag):
    """LINK_CONFIG supported-speeds bitmap."""

    SPEED_1G = 0x1
    SPEED_2_HALF_G = 0x2
    SPEED_5G = 0x4
    SPEED_10G = 0x8
    SPEED_25G = 0x10
    SPEED_40G = 0x20
    SPEED_50G = 0x40
    SPEED_100G = 0x80
    SPEED_200G = 0x100
    SPEED_400G = 0x200


# --- LLQ negotiation bitmaps (§6). Each enum value is the bit in the *_supported bitmap
# and the value written to *_enabled.
class LlqHeaderLocation(IntEnum):
    INLINE = 1
    SEPARATE = 2


class LlqRingEntrySize(IntEnum):
    E128 = 1
    E192 = 2
    E256 = 4


#: line size in bytes for each entry-size control value
LLQ_ENTRY_SIZE_BYTES = {LlqRingEntrySize.E128: 128, LlqRingEntrySize.E192: 192,
                        LlqRingEntrySize.E256: 256}


class LlqNumDescsBeforeHeader(IntEnum):
    """The value is the descriptor count itself; ZERO (0) cannot appear in a bitmap."""

    ZERO = 0
    ONE = 1
    TWO = 2
    FOUR = 4
    EIGHT = 8


class LlqStrideCtrl(IntEnum):
    SINGLE = 1  # one descriptor per line
    MULTIPLE = 2  # several descriptors per line


class LlqAccelFlags(IntFlag):
    DISABLE_META_CACHING = 1 << 0
    LIMIT_TX_BURST = 1 << 1


class DriverSupportedFeatures(IntFlag):
    """Host-info ``driver_supported_features`` bits (today all set by Linux)."""

    RX_OFFSET = 1 << 1
    INTERRUPT_MODERATION = 1 << 2
    RX_BUF_MIRRORING = 1 << 3
    RSS_CONFIGURABLE_FUNCTION_KEY = 1 << 4
    RX_PAGE_REUSE = 1 << 6
    TX_IPV6_CSUM_OFFLOAD = 1 << 7
    PHC = 1 << 8
    DEBUG_AREA_EXT = 1 << 9


class FlowSteeringAction(IntEnum):
    ADD = 1
    REMOVE = 2
    REMOVE_ALL = 3


class FlowSteeringFlowType(IntEnum):
    IPV4 = 1
    IPV6 = 2
    TCP4 = 3
    TCP6 = 4
    UDP4 = 5
    UDP6 = 6


# =========================================================================================
# Queue geometry and common descriptors (§2.1–2.3)
# =========================================================================================
ENA_ADMIN_AQ_ENTRY_SIZE = 64
ENA_ADMIN_ACQ_ENTRY_SIZE = 64
ENA_ADMIN_AENQ_ENTRY_SIZE = 64
ENA_ADMIN_QUEUE_DEPTH = 32  # AQ depth = ACQ depth, 2016 and today
ENA_ASYNC_QUEUE_DEPTH = 16  # AENQ depth today (2016: 4)
ENA_ASYNC_QUEUE_DEPTH_2016 = 4
#: bytes available for an AQ feature payload (byte 20..63) and an ACQ response (8..63)
ENA_ADMIN_AQ_FEAT_PAYLOAD_SIZE = 44
ENA_ADMIN_ACQ_RESP_PAYLOAD_SIZE = 56

ENA_ADMIN_AQ_COMMON_DESC_COMMAND_ID_MASK = 0xFFF
ENA_ADMIN_AQ_COMMON_DESC_PHASE_MASK = 0x1
ENA_ADMIN_AQ_COMMON_DESC_PHASE_SHIFT = 0
ENA_ADMIN_AQ_COMMON_DESC_CTRL_DATA_SHIFT = 1
ENA_ADMIN_AQ_COMMON_DESC_CTRL_DATA_MASK = 0x2
ENA_ADMIN_AQ_COMMON_DESC_CTRL_DATA_INDIRECT_SHIFT = 2
ENA_ADMIN_AQ_COMMON_DESC_CTRL_DATA_INDIRECT_MASK = 0x4

ENA_ADMIN_ACQ_COMMON_DESC_COMMAND_ID_MASK = 0xFFF
ENA_ADMIN_ACQ_COMMON_DESC_PHASE_MASK = 0x1
ENA_ADMIN_ACQ_COMMON_DESC_PHASE_SHIFT = 0

ENA_ADMIN_AENQ_COMMON_DESC_PHASE_MASK = 0x1
ENA_ADMIN_AENQ_COMMON_DESC_PHASE_SHIFT = 0

#: CREATE_CQ msix_vector meaning "never interrupt for this CQ" (DPDK)
ENA_MSIX_VECTOR_NONE = 0xFFFFFFFF
#: GET_STATS device_id meaning "this device"
ENA_ADMIN_STATS_DEVICE_ID_SELF = 0xFFFF

# field tuples reused by every AQ / ACQ layout
_AQ_HDR = (
    ("command_id", "<u2", 0),
    ("opcode", "u1", 2),
    ("flags", "u1", 3),
)
_AQ_CTRL = (
    ("ctrl_length", "<u4", 4),
    ("ctrl_address_lo", "<u4", 8),
    ("ctrl_address_hi", "<u2", 12),
)
_ACQ_HDR = (
    ("command_id", "<u2", 0),
    ("status", "u1", 2),
    ("flags", "u1", 3),
    ("extended_status", "<u2", 4),
    ("sq_head_indx", "<u2", 6),
)

#: generic view of any AQ entry
ENA_ADMIN_AQ_ENTRY = make_dtype(64, *_AQ_HDR, *_AQ_CTRL, ("body", ("u1", 48), 16))
#: generic view of any ACQ entry
ENA_ADMIN_ACQ_ENTRY = make_dtype(64, *_ACQ_HDR, ("response", ("u1", 56), 8))

# =========================================================================================
# Queue create / destroy (§2.6)
# =========================================================================================
ENA_ADMIN_AQ_CREATE_SQ_CMD = make_dtype(
    64,
    *_AQ_HDR,
    ("sq_identity", "u1", 4),
    ("sq_caps_2", "u1", 6),
    ("sq_caps_3", "u1", 7),
    ("cq_idx", "<u2", 8),
    ("sq_depth", "<u2", 10),
    ("sq_ba_lo", "<u4", 12),
    ("sq_ba_hi", "<u2", 16),
    ("sq_head_writeback_lo", "<u4", 20),
    ("sq_head_writeback_hi", "<u2", 24),
)
ENA_ADMIN_AQ_CREATE_SQ_CMD_SQ_DIRECTION_SHIFT = 5
ENA_ADMIN_AQ_CREATE_SQ_CMD_SQ_DIRECTION_MASK = 0xE0
ENA_ADMIN_AQ_CREATE_SQ_CMD_PLACEMENT_POLICY_SHIFT = 0
ENA_ADMIN_AQ_CREATE_SQ_CMD_PLACEMENT_POLICY_MASK = 0x0F
ENA_ADMIN_AQ_CREATE_SQ_CMD_COMPLETION_POLICY_SHIFT = 4
ENA_ADMIN_AQ_CREATE_SQ_CMD_COMPLETION_POLICY_MASK = 0x70
ENA_ADMIN_AQ_CREATE_SQ_CMD_IS_PHYSICALLY_CONTIGUOUS_SHIFT = 0
ENA_ADMIN_AQ_CREATE_SQ_CMD_IS_PHYSICALLY_CONTIGUOUS_MASK = 0x01

ENA_ADMIN_ACQ_CREATE_SQ_RESP_DESC = make_dtype(
    64,
    *_ACQ_HDR,
    ("sq_idx", "<u2", 8),
    ("sq_doorbell_offset", "<u4", 12),
    ("llq_descriptors_offset", "<u4", 16),
    ("llq_headers_offset", "<u4", 20),  # used by the 2016 driver only
)

ENA_ADMIN_AQ_DESTROY_SQ_CMD = make_dtype(
    64,
    *_AQ_HDR,
    ("sq_idx", "<u2", 4),
    ("sq_identity", "u1", 6),  # direction in 7:5, as in CREATE_SQ
)
# ``struct ena_admin_sq`` (inside DESTROY_SQ) names the direction field like this
ENA_ADMIN_SQ_SQ_DIRECTION_SHIFT = 5
ENA_ADMIN_SQ_SQ_DIRECTION_MASK = 0xE0

ENA_ADMIN_AQ_CREATE_CQ_CMD = make_dtype(
    64,
    *_AQ_HDR,
    ("cq_caps_1", "u1", 4),
    ("cq_caps_2", "u1", 5),
    ("cq_depth", "<u2", 6),
    ("msix_vector", "<u4", 8),
    ("cq_ba_lo", "<u4", 12),
    ("cq_ba_hi", "<u2", 16),
)
ENA_ADMIN_AQ_CREATE_CQ_CMD_INTERRUPT_MODE_ENABLED_SHIFT = 5
ENA_ADMIN_AQ_CREATE_CQ_CMD_INTERRUPT_MODE_ENABLED_MASK = 0x20
ENA_ADMIN_AQ_CREATE_CQ_CMD_CQ_ENTRY_SIZE_WORDS_SHIFT = 0
ENA_ADMIN_AQ_CREATE_CQ_CMD_CQ_ENTRY_SIZE_WORDS_MASK = 0x1F

ENA_ADMIN_ACQ_CREATE_CQ_RESP_DESC = make_dtype(
    64,
    *_ACQ_HDR,
    ("cq_idx", "<u2", 8),
    ("cq_actual_depth", "<u2", 10),
    ("numa_node_register_offset", "<u4", 12),
    ("cq_head_db_register_offset", "<u4", 16),  # 2016 driver only
    ("cq_interrupt_unmask_register_offset", "<u4", 20),
)

ENA_ADMIN_AQ_DESTROY_CQ_CMD = make_dtype(64, *_AQ_HDR, ("cq_idx", "<u2", 4))

#: destroy responses carry nothing beyond the common header
ENA_ADMIN_ACQ_DESTROY_SQ_RESP_DESC = make_dtype(64, *_ACQ_HDR)
ENA_ADMIN_ACQ_DESTROY_CQ_RESP_DESC = ENA_ADMIN_ACQ_DESTROY_SQ_RESP_DESC

# =========================================================================================
# GET / SET_FEATURE (§3.1)
# =========================================================================================
ENA_ADMIN_AQ_GET_FEAT_CMD = make_dtype(
    64,
    *_AQ_HDR,
    *_AQ_CTRL,
    ("feat_flags", "u1", 16),
    ("feature_id", "u1", 17),
    ("feature_version", "u1", 18),
    ("payload", ("u1", 44), 20),
)
ENA_ADMIN_AQ_SET_FEAT_CMD = ENA_ADMIN_AQ_GET_FEAT_CMD
ENA_ADMIN_GET_SET_FEATURE_COMMON_DESC_SELECT_MASK = 0x3
ENA_ADMIN_GET_SET_FEATURE_COMMON_DESC_SELECT_SHIFT = 0

ENA_ADMIN_ACQ_GET_FEAT_RESP = make_dtype(64, *_ACQ_HDR, ("payload", ("u1", 56), 8))
ENA_ADMIN_ACQ_SET_FEAT_RESP = ENA_ADMIN_ACQ_GET_FEAT_RESP

# =========================================================================================
# GET_STATS (§2.6)
# =========================================================================================
ENA_ADMIN_AQ_GET_STATS_CMD = make_dtype(
    64,
    *_AQ_HDR,
    *_AQ_CTRL,
    ("type", "u1", 16),
    ("scope", "u1", 17),
    ("queue_idx", "<u2", 20),
    ("device_id", "<u2", 22),
    ("requested_metrics", "<u8", 24),
)
ENA_ADMIN_ACQ_GET_STATS_RESP = make_dtype(64, *_ACQ_HDR, ("payload", ("u1", 56), 8))

# views over the 56-byte response payload (offsets relative to ACQ byte 8)
ENA_ADMIN_BASIC_STATS = make_dtype(
    56,
    ("tx_bytes", "<u8", 0),
    ("tx_pkts", "<u8", 8),
    ("rx_bytes", "<u8", 16),
    ("rx_pkts", "<u8", 24),
    ("rx_drops", "<u8", 32),
    ("tx_drops", "<u8", 40),  # today
    ("rx_overruns", "<u8", 48),  # today
)
ENA_ADMIN_ENI_STATS = make_dtype(
    40,
    ("bw_in_allowance_exceeded", "<u8", 0),
    ("bw_out_allowance_exceeded", "<u8", 8),
    ("pps_allowance_exceeded", "<u8", 16),
    ("conntrack_allowance_exceeded", "<u8", 24),
    ("linklocal_allowance_exceeded", "<u8", 32),
)
ENA_ADMIN_ENA_SRD_INFO = make_dtype(
    40,
    ("flags", "<u8", 0),
    ("ena_srd_tx_pkts", "<u8", 8),
    ("ena_srd_eligible_tx_pkts", "<u8", 16),
    ("ena_srd_rx_pkts", "<u8", 24),
    ("ena_srd_resource_utilization", "<u8", 32),
)
ENA_ADMIN_ENA_SRD_MODE_ENABLED_MASK = 0x1
ENA_ADMIN_ENA_SRD_MODE_UDP_ENABLED_MASK = 0x2
ENA_ADMIN_ENA_SRD_MODE_UDP_ORDERING_BYPASS_ENABLED_MASK = 0x4
ENA_ADMIN_CUSTOMER_METRICS = make_dtype(8, ("reported_metrics", "<u8", 0))

# =========================================================================================
# Feature payloads (§3.3). Offsets are relative to the payload start (AQ byte 20 / ACQ 8).
# =========================================================================================
ENA_ADMIN_DEVICE_ATTR_FEATURE_DESC = make_dtype(
    36,
    ("impl_id", "<u4", 0),
    ("device_version", "<u4", 4),
    ("supported_features", "<u4", 8),
    ("capabilities", "<u4", 12),
    ("phys_addr_width", "<u4", 16),
    ("virt_addr_width", "<u4", 20),
    ("mac_addr", ("u1", 6), 24),  # network order
    ("flow_steering_max_entries", "<u2", 30),
    ("max_mtu", "<u4", 32),  # excludes the L2 header
)

ENA_ADMIN_QUEUE_FEATURE_DESC = make_dtype(
    32,
    ("max_sq_num", "<u4", 0),
    ("max_sq_depth", "<u4", 4),
    ("max_cq_num", "<u4", 8),
    ("max_cq_depth", "<u4", 12),
    ("max_legacy_llq_num", "<u4", 16),
    ("max_legacy_llq_depth", "<u4", 20),
    ("max_header_size", "<u4", 24),
    ("max_packet_tx_descs", "<u2", 28),  # includes the meta descriptor
    ("max_packet_rx_descs", "<u2", 30),
)

ENA_ADMIN_QUEUE_EXT_FEATURE_DESC = make_dtype(
    44,
    ("version", "u1", 0),
    ("max_tx_sq_num", "<u4", 4),
    ("max_tx_cq_num", "<u4", 8),
    ("max_rx_sq_num", "<u4", 12),
    ("max_rx_cq_num", "<u4", 16),
    ("max_tx_sq_depth", "<u4", 20),
    ("max_tx_cq_depth", "<u4", 24),
    ("max_rx_sq_depth", "<u4", 28),
    ("max_rx_cq_depth", "<u4", 32),
    ("max_tx_header_size", "<u4", 36),
    ("max_per_packet_tx_descs", "<u2", 40),
    ("max_per_packet_rx_descs", "<u2", 42),
)
#: the only MAX_QUEUES_EXT version drivers accept
ENA_FEATURE_MAX_QUEUE_EXT_VER = 1

# u16 each; 0 = driver default, 0xFFFF = disable that check
ENA_ADMIN_HW_HINTS = make_dtype(
    32,
    ("mmio_read_timeout", "<u2", 0),
    ("driver_watchdog_timeout", "<u2", 2),
    ("missing_tx_completion_timeout", "<u2", 4),
    ("missed_tx_completion_count_threshold_to_reset", "<u2", 6),
    ("admin_completion_tx_timeout", "<u2", 8),
    ("netdev_wd_timeout", "<u2", 10),
    ("max_tx_sgl_size", "<u2", 12),
    ("max_rx_sgl_size", "<u2", 14),
)
ENA_HW_HINTS_NO_TIMEOUT = 0xFFFF

# GET fills *_supported + accel supported/burst; SET fills *_enabled + accel enabled_flags.
# accel_mode_enabled_flags deliberately overlaps accel_mode_supported_flags (C union).
ENA_ADMIN_FEATURE_LLQ_DESC = make_dtype(
    36,
    ("max_llq_num", "<u4", 0),
    ("max_llq_depth", "<u4", 4),
    ("header_location_ctrl_supported", "<u2", 8),
    ("header_location_ctrl_enabled", "<u2", 10),
    ("entry_size_ctrl_supported", "<u2", 12),
    ("entry_size_ctrl_enabled", "<u2", 14),
    ("desc_num_before_header_supported", "<u2", 16),
    ("desc_num_before_header_enabled", "<u2", 18),
    ("descriptors_stride_ctrl_supported", "<u2", 20),
    ("descriptors_stride_ctrl_enabled", "<u2", 22),
    ("feature_version", "u1", 24),
    ("entry_size_recommended", "u1", 25),  # GET only; an LlqRingEntrySize value
    ("max_wide_llq_depth", "<u2", 26),  # 0 = not reported
    ("accel_mode_supported_flags", "<u2", 28),
    ("accel_mode_max_tx_burst_size", "<u2", 30),  # bytes
    ("accel_mode_enabled_flags", "<u2", 28),
)
ENA_ADMIN_LLQ_FEATURE_VERSION_1 = 1

ENA_ADMIN_FEATURE_OFFLOAD_DESC = make_dtype(
    12,
    ("tx", "<u4", 0),
    ("rx_supported", "<u4", 4),
    ("rx_enabled", "<u4", 8),
)
ENA_ADMIN_FEATURE_OFFLOAD_DESC_TX_L3_CSUM_IPV4_SHIFT = 0
ENA_ADMIN_FEATURE_OFFLOAD_DESC_TX_L3_CSUM_IPV4_MASK = 1 << 0
ENA_ADMIN_FEATURE_OFFLOAD_DESC_TX_L4_IPV4_CSUM_PART_SHIFT = 1
ENA_ADMIN_FEATURE_OFFLOAD_DESC_TX_L4_IPV4_CSUM_PART_MASK = 1 << 1
ENA_ADMIN_FEATURE_OFFLOAD_DESC_TX_L4_IPV4_CSUM_FULL_SHIFT = 2
ENA_ADMIN_FEATURE_OFFLOAD_DESC_TX_L4_IPV4_CSUM_FULL_MASK = 1 << 2
ENA_ADMIN_FEATURE_OFFLOAD_DESC_TX_L4_IPV6_CSUM_PART_SHIFT = 3
ENA_ADMIN_FEATURE_OFFLOAD_DESC_TX_L4_IPV6_CSUM_PART_MASK = 1 << 3
ENA_ADMIN_FEATURE_OFFLOAD_DESC_TX_L4_IPV6_CSUM_FULL_SHIFT = 4
ENA_ADMIN_FEATURE_OFFLOAD_DESC_TX_L4_IPV6_CSUM_FULL_MASK = 1 << 4
ENA_ADMIN_FEATURE_OFFLOAD_DESC_TSO_IPV4_SHIFT = 5
ENA_ADMIN_FEATURE_OFFLOAD_DESC_TSO_IPV4_MASK = 1 << 5
ENA_ADMIN_FEATURE_OFFLOAD_DESC_TSO_IPV6_SHIFT = 6
ENA_ADMIN_FEATURE_OFFLOAD_DESC_TSO_IPV6_MASK = 1 << 6
ENA_ADMIN_FEATURE_OFFLOAD_DESC_TSO_ECN_SHIFT = 7
ENA_ADMIN_FEATURE_OFFLOAD_DESC_TSO_ECN_MASK = 1 << 7
ENA_ADMIN_FEATURE_OFFLOAD_DESC_RX_L3_CSUM_IPV4_SHIFT = 0
ENA_ADMIN_FEATURE_OFFLOAD_DESC_RX_L3_CSUM_IPV4_MASK = 1 << 0
ENA_ADMIN_FEATURE_OFFLOAD_DESC_RX_L4_IPV4_CSUM_SHIFT = 1
ENA_ADMIN_FEATURE_OFFLOAD_DESC_RX_L4_IPV4_CSUM_MASK = 1 << 1
ENA_ADMIN_FEATURE_OFFLOAD_DESC_RX_L4_IPV6_CSUM_SHIFT = 2
ENA_ADMIN_FEATURE_OFFLOAD_DESC_RX_L4_IPV6_CSUM_MASK = 1 << 2
ENA_ADMIN_FEATURE_OFFLOAD_DESC_RX_HASH_SHIFT = 3
ENA_ADMIN_FEATURE_OFFLOAD_DESC_RX_HASH_MASK = 1 << 3

# --- RSS hash function (10) -----------------------------------------------------------------
ENA_ADMIN_FEATURE_RSS_FLOW_HASH_FUNCTION = make_dtype(
    12,
    ("supported_func", "<u4", 0),  # bitmap 1 << HashFunction, bits 7:0
    ("selected_func", "<u4", 4),  # bitmap 1 << HashFunction, bits 7:0
    ("init_val", "<u4", 8),
)
ENA_ADMIN_FEATURE_RSS_FLOW_HASH_FUNCTION_FUNCS_MASK = 0xFF
ENA_ADMIN_FEATURE_RSS_FLOW_HASH_FUNCTION_SELECTED_FUNC_MASK = 0xFF
ENA_ADMIN_RSS_KEY_PARTS = 10
ENA_HASH_KEY_SIZE = 40
#: control buffer carrying the hash key
ENA_ADMIN_RSS_HASH_KEY_BUFFER = make_dtype(
    48,
    ("key_parts", "<u4", 0),  # 2016 name keys_num; always 10
    ("key", ("<u4", 10), 8),
)

# --- RSS hash input (18) --------------------------------------------------------------------
ENA_ADMIN_FEATURE_RSS_HASH_INPUT = make_dtype(
    4,
    ("supported_input_sort", "<u2", 0),
    ("enabled_input_sort", "<u2", 2),
)
ENA_ADMIN_FEATURE_RSS_HASH_INPUT_L3_SORT_SHIFT = 1
ENA_ADMIN_FEATURE_RSS_HASH_INPUT_L3_SORT_MASK = 0x2
ENA_ADMIN_FEATURE_RSS_HASH_INPUT_L4_SORT_SHIFT = 2
ENA_ADMIN_FEATURE_RSS_HASH_INPUT_L4_SORT_MASK = 0x4
#: one array element {u16 fields (FlowHashFields), u16 0}
ENA_ADMIN_PROTO_INPUT = make_dtype(4, ("fields", "<u2", 0))
#: control buffer: 4 arrays of 16 ENA_ADMIN_PROTO_INPUT indexed by FlowHashProto.
#: ``arr["selected_fields"]["fields"]`` is then a plain (16,) u16 array.
ENA_ADMIN_RSS_HASH_INPUT_BUFFER = make_dtype(
    256,
    ("supported_fields", (ENA_ADMIN_PROTO_INPUT, (16,)), 0),
    ("selected_fields", (ENA_ADMIN_PROTO_INPUT, (16,)), 64),
)

# --- RSS indirection table (12) -------------------------------------------------------------
ENA_ADMIN_FEATURE_RSS_IND_TABLE = make_dtype(
    16,
    ("min_size", "<u2", 0),  # log2
    ("max_size", "<u2", 2),  # log2
    ("size", "<u2", 4),  # log2
    ("flags", "u1", 6),
    ("inline_index", "<u4", 8),
    ("inline_entry_cq_idx", "<u2", 12),
)
ENA_ADMIN_FEATURE_RSS_IND_TABLE_ONE_ENTRY_UPDATE_MASK = 0x1
ENA_ADMIN_RSS_IND_TABLE_NO_INLINE_INDEX = 0xFFFFFFFF
#: one control-buffer entry; cq_idx holds the device Rx SQ index
ENA_ADMIN_RSS_IND_TABLE_ENTRY = make_dtype(4, ("cq_idx", "<u2", 0))

# --- small features -------------------------------------------------------------------------
ENA_ADMIN_SET_FEATURE_MTU_DESC = make_dtype(4, ("mtu", "<u4", 0))
ENA_MIN_MTU = 128  # the Linux driver's lower bound

ENA_ADMIN_FEATURE_INTR_MODER_DESC = make_dtype(4, ("intr_delay_resolution", "<u2", 0))

ENA_ADMIN_FEATURE_AENQ_DESC = make_dtype(
    8,
    ("supported_groups", "<u4", 0),
    ("enabled_groups", "<u4", 4),
)

ENA_ADMIN_GET_FEATURE_LINK_DESC = make_dtype(
    12,
    ("speed", "<u4", 0),  # Mbps
    ("supported", "<u4", 4),  # LinkSpeed bitmap
    ("flags", "<u4", 8),
)
ENA_ADMIN_GET_FEATURE_LINK_DESC_AUTONEG_MASK = 0x1
ENA_ADMIN_GET_FEATURE_LINK_DESC_AUTONEG_SHIFT = 0
ENA_ADMIN_GET_FEATURE_LINK_DESC_DUPLEX_MASK = 0x2
ENA_ADMIN_GET_FEATURE_LINK_DESC_DUPLEX_SHIFT = 1

ENA_ADMIN_SET_FEATURE_HOST_ATTR_DESC = make_dtype(
    20,
    ("os_info_ba_lo", "<u4", 0),  # 4 KB host-info page
    ("os_info_ba_hi", "<u2", 4),
    ("debug_ba_lo", "<u4", 8),
    ("debug_ba_hi", "<u2", 12),
    ("debug_area_size", "<u4", 16),
)

ENA_ADMIN_FEATURE_PHC_DESC = make_dtype(
    28,
    ("version", "u1", 0),
    ("doorbell_offset", "<u4", 4),  # GET
    ("expire_timeout_usec", "<u4", 8),
    ("block_timeout_usec", "<u4", 12),
    ("output_address_lo", "<u4", 16),  # SET
    ("output_address_hi", "<u2", 20),
    ("output_length", "<u4", 24),  # SET
)

ENA_ADMIN_FEATURE_HW_TIMESTAMP_DESC = make_dtype(
    4, ("version", "u1", 0), ("tx", "u1", 1), ("rx", "u1", 2)
)

ENA_ADMIN_FEATURE_FRAG_BYPASS_DESC = make_dtype(4, ("enable", "u1", 0))

ENA_ADMIN_FEATURE_FLOW_STEERING_DESC = make_dtype(
    12,
    ("action", "u1", 0),  # FlowSteeringAction
    ("flow_type", "u1", 1),  # FlowSteeringFlowType
    ("rx_queue", "<u2", 2),
    ("rule_location", "<u2", 4),  # 0xFFFF = device chooses
    ("flags", "<u4", 8),
)
ENA_ADMIN_FLOW_STEERING_RULE_LOCATION_ANY = 0xFFFF
#: 128-byte control buffer of FLOW_STEERING_CONFIG
ENA_ADMIN_FLOW_STEERING_BUFFER = make_dtype(
    128,
    ("dst_ip", ("u1", 16), 0),
    ("dst_mask", ("u1", 16), 16),
    ("src_ip", ("u1", 16), 32),
    ("src_mask", ("u1", 16), 48),
    ("dst_port", "<u2", 64),
    ("dst_port_mask", "<u2", 66),
    ("src_port", "<u2", 68),
    ("src_port_mask", "<u2", 70),
    ("tos", "u1", 72),
    ("tos_mask", "u1", 73),
)
ENA_ADMIN_FLOW_STEERING_RESP = make_dtype(2, ("rule_location", "<u2", 0))

#: payload dtype of each feature id (GET response and SET command use the same layout)
FEATURE_PAYLOAD_DTYPES = {
    FeatureId.DEVICE_ATTRIBUTES: ENA_ADMIN_DEVICE_ATTR_FEATURE_DESC,
    FeatureId.MAX_QUEUES_NUM: ENA_ADMIN_QUEUE_FEATURE_DESC,
    FeatureId.HW_HINTS: ENA_ADMIN_HW_HINTS,
    FeatureId.LLQ: ENA_ADMIN_FEATURE_LLQ_DESC,
    FeatureId.MAX_QUEUES_EXT: ENA_ADMIN_QUEUE_EXT_FEATURE_DESC,
    FeatureId.FRAG_BYPASS: ENA_ADMIN_FEATURE_FRAG_BYPASS_DESC,
    FeatureId.RSS_HASH_FUNCTION: ENA_ADMIN_FEATURE_RSS_FLOW_HASH_FUNCTION,
    FeatureId.STATELESS_OFFLOAD_CONFIG: ENA_ADMIN_FEATURE_OFFLOAD_DESC,
    FeatureId.RSS_INDIRECTION_TABLE_CONFIG: ENA_ADMIN_FEATURE_RSS_IND_TABLE,
    FeatureId.MTU: ENA_ADMIN_SET_FEATURE_MTU_DESC,
    FeatureId.RSS_HASH_INPUT: ENA_ADMIN_FEATURE_RSS_HASH_INPUT,
    FeatureId.INTERRUPT_MODERATION: ENA_ADMIN_FEATURE_INTR_MODER_DESC,
    FeatureId.AENQ_CONFIG: ENA_ADMIN_FEATURE_AENQ_DESC,
    FeatureId.LINK_CONFIG: ENA_ADMIN_GET_FEATURE_LINK_DESC,
    FeatureId.HOST_ATTR_CONFIG: ENA_ADMIN_SET_FEATURE_HOST_ATTR_DESC,
    FeatureId.PHC_CONFIG: ENA_ADMIN_FEATURE_PHC_DESC,
    FeatureId.FLOW_STEERING_CONFIG: ENA_ADMIN_FEATURE_FLOW_STEERING_DESC,
    FeatureId.HW_TIMESTAMP: ENA_ADMIN_FEATURE_HW_TIMESTAMP_DESC,
}

# =========================================================================================
# Host-info page (HOST_ATTR_CONFIG, today's layout; 2016 ended at byte 184 with a u32[4]
# network-features array)
# =========================================================================================
ENA_ADMIN_HOST_INFO_PAGE_SIZE = 4096
ENA_ADMIN_HOST_INFO = make_dtype(
    ENA_ADMIN_HOST_INFO_PAGE_SIZE,
    ("os_type", "<u4", 0),  # OsType
    ("os_dist_str", ("u1", 128), 4),
    ("os_dist", "<u4", 132),
    ("kernel_ver_str", ("u1", 32), 136),
    ("kernel_ver", "<u4", 168),
    ("driver_version", "<u4", 172),
    ("supported_network_features", ("<u4", 2), 176),
    ("ena_spec_version", "<u2", 184),
    ("bdf", "<u2", 186),
    ("num_cpus", "<u2", 188),
    ("driver_supported_features", "<u4", 192),  # DriverSupportedFeatures
)
ENA_ADMIN_HOST_INFO_MAJOR_MASK = 0xFF
ENA_ADMIN_HOST_INFO_MAJOR_SHIFT = 0
ENA_ADMIN_HOST_INFO_MINOR_SHIFT = 8
ENA_ADMIN_HOST_INFO_MINOR_MASK = 0xFF00
ENA_ADMIN_HOST_INFO_SUB_MINOR_SHIFT = 16
ENA_ADMIN_HOST_INFO_SUB_MINOR_MASK = 0xFF0000
ENA_ADMIN_HOST_INFO_MODULE_TYPE_SHIFT = 24
ENA_ADMIN_HOST_INFO_MODULE_TYPE_MASK = 0xFF000000
ENA_ADMIN_HOST_INFO_FUNCTION_MASK = 0x7
ENA_ADMIN_HOST_INFO_FUNCTION_SHIFT = 0
ENA_ADMIN_HOST_INFO_DEVICE_SHIFT = 3
ENA_ADMIN_HOST_INFO_DEVICE_MASK = 0xF8
ENA_ADMIN_HOST_INFO_BUS_SHIFT = 8
ENA_ADMIN_HOST_INFO_BUS_MASK = 0xFF00
ENA_ADMIN_HOST_INFO_SPEC_MINOR_MASK = 0xFF
ENA_ADMIN_HOST_INFO_SPEC_MINOR_SHIFT = 0
ENA_ADMIN_HOST_INFO_SPEC_MAJOR_SHIFT = 8
ENA_ADMIN_HOST_INFO_SPEC_MAJOR_MASK = 0xFF00
ENA_COMMON_SPEC_VERSION_MAJOR = 2
ENA_COMMON_SPEC_VERSION_MINOR = 0
#: module-type byte of driver_version
ENA_DRIVER_MODULE_TYPE_GITHUB = ord("g")
ENA_DRIVER_MODULE_TYPE_KERNEL = ord("K")

# =========================================================================================
# AENQ (§4)
# =========================================================================================
_AENQ_HDR = (
    ("group", "<u2", 0),
    ("syndrome", "<u2", 2),
    ("flags", "u1", 4),
    ("timestamp_low", "<u4", 8),
    ("timestamp_high", "<u4", 12),
)
ENA_ADMIN_AENQ_ENTRY = make_dtype(64, *_AENQ_HDR, ("data", ("u1", 48), 16))

ENA_ADMIN_AENQ_LINK_CHANGE_DESC = make_dtype(64, *_AENQ_HDR, ("link_flags", "<u4", 16))
ENA_ADMIN_AENQ_LINK_CHANGE_DESC_LINK_STATUS_MASK = 0x1
ENA_ADMIN_AENQ_LINK_CHANGE_DESC_LINK_STATUS_SHIFT = 0

ENA_ADMIN_AENQ_KEEP_ALIVE_DESC = make_dtype(
    64,
    *_AENQ_HDR,
    ("rx_drops_low", "<u4", 16),
    ("rx_drops_high", "<u4", 20),
    ("tx_drops_low", "<u4", 24),
    ("tx_drops_high", "<u4", 28),
    ("rx_overruns_low", "<u4", 32),
    ("rx_overruns_high", "<u4", 36),
)

#: NOTIFICATION group, syndrome UPDATE_HINTS: ENA_ADMIN_HW_HINTS at byte 16
ENA_ADMIN_AENQ_UPDATE_HINTS_DESC = make_dtype(
    64,
    *_AENQ_HDR,
    *((name, ENA_ADMIN_HW_HINTS.fields[name][0].str, 16 + ENA_ADMIN_HW_HINTS.fields[name][1])
      for name in ENA_ADMIN_HW_HINTS.names),
)

ENA_ADMIN_AENQ_CONF_NOTIFICATIONS_DESC = make_dtype(
    64, *_AENQ_HDR, ("notifications_bitmap", "<u8", 16)
)


# =========================================================================================
# Control-buffer helpers (RSS). Plain lists in, bytes out, so device and driver agree.
# =========================================================================================
def rss_hash_input_buffer_pack(selected_fields, supported_fields=None) -> bytes:
    """256-byte RSS_HASH_INPUT control buffer; each argument has up to 16 u16 entries
    indexed by FlowHashProto (missing entries are zero)."""
    buf = np.zeros(1, ENA_ADMIN_RSS_HASH_INPUT_BUFFER)
    for name, values in (("selected_fields", selected_fields),
                         ("supported_fields", supported_fields)):
        if values is None:
            continue
        values = [int(v) for v in values]
        if len(values) > ENA_ADMIN_RSS_PROTO_NUM or any(not 0 <= v <= 0xFFFF for v in values):
            raise ValueError(f"{name}: at most 16 u16 values")
        buf[name]["fields"][0, : len(values)] = values
    return buf.tobytes()


def rss_hash_input_buffer_unpack(data) -> tuple[list[int], list[int]]:
    """(supported_fields, selected_fields) as two 16-entry lists."""
    item = np.frombuffer(bytes(data)[:256], ENA_ADMIN_RSS_HASH_INPUT_BUFFER)[0]
    return ([int(v) for v in item["supported_fields"]["fields"]],
            [int(v) for v in item["selected_fields"]["fields"]])


def rss_key_buffer_pack(key: bytes) -> bytes:
    """48-byte key control buffer holding the 40 key bytes as-is (key_parts = 10).

    The bytes are stored in the order given; which way round the device applies them is
    the RSS policy's concern (INTERFACE.md §8, §15), not the layout's.
    """
    key = bytes(key)
    if len(key) != ENA_HASH_KEY_SIZE:
        raise ValueError(f"RSS key must be {ENA_HASH_KEY_SIZE} bytes")
    return (ENA_ADMIN_RSS_KEY_PARTS.to_bytes(4, "little") + bytes(4) + key)


def rss_key_buffer_unpack(data) -> bytes:
    """The 40 key bytes of a key control buffer (key_parts is not checked here)."""
    data = bytes(data)
    if len(data) < ENA_ADMIN_RSS_HASH_KEY_BUFFER.itemsize:
        raise ValueError("key buffer is 48 bytes")
    return data[8:48]


def rss_ind_table_pack(cq_idx) -> bytes:
    """Indirection-table control buffer: one {u16 cq_idx, u16 0} entry per element."""
    values = np.asarray(cq_idx, dtype=np.int64)
    if values.size and (values.min() < 0 or values.max() > 0xFFFF):
        raise ValueError("table entries are u16")
    table = np.zeros(values.size, ENA_ADMIN_RSS_IND_TABLE_ENTRY)
    table["cq_idx"] = values
    return table.tobytes()


def rss_ind_table_unpack(data, size: int) -> np.ndarray:
    """First ``size`` entries of an indirection-table buffer as a uint16 array."""
    entries = np.frombuffer(bytes(data), ENA_ADMIN_RSS_IND_TABLE_ENTRY, count=size)
    return entries["cq_idx"].astype(np.uint16)
