"""GET_FEATURE / SET_FEATURE handlers of the software ENA device (INTERFACE.md §3, §6, §15).

A feature command carries {select flags, feature id, version} at AQ byte 16 and its payload
at byte 20; the response payload starts at ACQ byte 8. Control buffers (RSS key, hash
input, indirection table) are read/written by DMA whenever their length is non-zero.

Status rules (§15): a feature id outside ``supported_features`` (feature 1 is always
supported), a GET of a SET-only feature (MTU, HOST_ATTR_CONFIG) or a SET of a GET-only one
→ UNSUPPORTED_OPCODE; a control buffer of the wrong length or reserved flag bits →
MALFORMED_REQUEST; a value out of range → ILLEGAL_PARAMETER. Select 0/1 (and 2) answer the
current value, 3 the power-on default.

Decisions where the sources are silent:
- RSS indirection entries are Rx SQ indices; SET accepts any index below num_queues (the
  table outlives queue destroy/create cycles); a frame steered to an absent queue is
  dropped by the datapath. GET writes min(buffer entries, table entries).
- RSS key control buffer: length 0 or 48; on SET ``key_parts`` 0 keeps the current key
  (the 2016 driver left it unfilled), 10 replaces it, anything else is ILLEGAL_PARAMETER.
- Power-on RSS: Toeplitz, init 0xFFFFFFFF, key = the §8 fixed key bytes, table entry i →
  Rx SQ i mod num_queues, hash inputs = today's Linux defaults, L3+L4 sort on.
- LLQ: header inline only; 128- and 256-byte lines; 1/2/4/8 descriptors before the header
  (the header must keep at least 16 bytes of the first line); single or multiple stride;
  power-on configuration = Linux defaults (128 B, 2, multiple, no accel flags) so a driver
  may use placement DEV without SET LLQ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from enatool.ena.admin import (
    DEFAULT_HASH_FIELDS,
    ENA_ADMIN_AQ_GET_FEAT_CMD,
    ENA_ADMIN_DEVICE_ATTR_FEATURE_DESC,
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
    ENA_ADMIN_LLQ_FEATURE_VERSION_1,
    ENA_ADMIN_QUEUE_EXT_FEATURE_DESC,
    ENA_ADMIN_QUEUE_FEATURE_DESC,
    ENA_ADMIN_RSS_HASH_INPUT_BUFFER,
    ENA_ADMIN_RSS_HASH_KEY_BUFFER,
    ENA_ADMIN_RSS_IND_TABLE_ENTRY,
    ENA_ADMIN_RSS_IND_TABLE_NO_INLINE_INDEX,
    ENA_ADMIN_RSS_KEY_PARTS,
    ENA_ADMIN_SET_FEATURE_HOST_ATTR_DESC,
    ENA_ADMIN_SET_FEATURE_MTU_DESC,
    ENA_FEATURE_MAX_QUEUE_EXT_VER,
    ENA_HASH_KEY_SIZE,
    ENA_MIN_MTU,
    LLQ_ENTRY_SIZE_BYTES,
    AdminStatus,
    FeatureId,
    FeatureSelect,
    FlowHashFields,
    FlowHashProto,
    HashFunction,
    LinkSpeed,
    LlqAccelFlags,
    LlqHeaderLocation,
    LlqNumDescsBeforeHeader,
    LlqRingEntrySize,
    LlqStrideCtrl,
    OsType,
    RssHashInputSort,
)
from enatool.ena.bits import pack, unpack

from .admin import CommandError, ExtendedStatus, illegal, is_pow2, malformed
from .aenq import SUPPORTED_GROUPS

if TYPE_CHECKING:
    from .device import SoftEnaDevice

# --- constants of this device model ----------------------------------------------------------
FEAT_FLAGS_RESERVED_MASK = 0xFC
#: §8 fixed key, used as the power-on key buffer
DEFAULT_RSS_KEY = bytes.fromhex(
    "beac01fa6a42b73b8030f20c77cb2da3ae7b30b4d0ca2bcb43a38fb04167253d255b0ec26d5a56da"
)
DEFAULT_RSS_INIT = 0xFFFFFFFF
RSS_FUNCS_SUPPORTED = (1 << HashFunction.TOEPLITZ) | (1 << HashFunction.CRC32)
RSS_TABLE_MIN_LOG = 1
RSS_TABLE_MAX_LOG = 7  # 128 entries, as real devices report
RSS_TABLE_DEFAULT_LOG = 7
RSS_SORT_SUPPORTED = int(RssHashInputSort.L3_SORT | RssHashInputSort.L4_SORT)

_L3 = int(FlowHashFields.L3_SA | FlowHashFields.L3_DA)
_L4 = int(FlowHashFields.L4_SP | FlowHashFields.L4_DP)
#: hashable fields per flow protocol; power-on selection = the same: today's Linux defaults
#: (``ena_com_set_default_hash_ctrl``), plus L3+L4 / L3 for TCP6_EX / IP6_EX, which Linux
#: leaves unset
RSS_FIELDS_SUPPORTED = {
    **{p: int(f) for p, f in DEFAULT_HASH_FIELDS.items()},
    FlowHashProto.TCP6_EX: _L3 | _L4,
    FlowHashProto.IP6_EX: _L3,
}

# stateless offloads advertised (§3.3): IPv4 header csum, L4 partial csum for IPv4 and IPv6
OFFLOAD_TX = (1 << 0) | (1 << 1) | (1 << 3)
OFFLOAD_RX = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3)

# LLQ capabilities (§6)
LLQ_HEADER_LOCATION_SUPPORTED = int(LlqHeaderLocation.INLINE)
LLQ_ENTRY_SIZE_SUPPORTED = int(LlqRingEntrySize.E128 | LlqRingEntrySize.E256)
LLQ_DESCS_BEFORE_HEADER_SUPPORTED = int(
    LlqNumDescsBeforeHeader.ONE
    | LlqNumDescsBeforeHeader.TWO
    | LlqNumDescsBeforeHeader.FOUR
    | LlqNumDescsBeforeHeader.EIGHT
)
LLQ_STRIDE_SUPPORTED = int(LlqStrideCtrl.SINGLE | LlqStrideCtrl.MULTIPLE)
LLQ_ACCEL_SUPPORTED = int(LlqAccelFlags.DISABLE_META_CACHING | LlqAccelFlags.LIMIT_TX_BURST)
LLQ_MAX_TX_BURST_BYTES = 2048
LLQ_ENTRY_SIZE_RECOMMENDED = LlqRingEntrySize.E128

#: LINK_CONFIG speed (Mbps) -> supported-speeds bit
LINK_SPEED_BITS = {
    1000: LinkSpeed.SPEED_1G,
    2500: LinkSpeed.SPEED_2_HALF_G,
    5000: LinkSpeed.SPEED_5G,
    10000: LinkSpeed.SPEED_10G,
    25000: LinkSpeed.SPEED_25G,
    40000: LinkSpeed.SPEED_40G,
    50000: LinkSpeed.SPEED_50G,
    100000: LinkSpeed.SPEED_100G,
    200000: LinkSpeed.SPEED_200G,
    400000: LinkSpeed.SPEED_400G,
}
LINK_FLAG_FULL_DUPLEX = 0x2

#: features this model answers: GET-able and SET-able ids
GETTABLE = {
    FeatureId.DEVICE_ATTRIBUTES, FeatureId.MAX_QUEUES_NUM, FeatureId.HW_HINTS, FeatureId.LLQ,
    FeatureId.MAX_QUEUES_EXT, FeatureId.RSS_HASH_FUNCTION, FeatureId.STATELESS_OFFLOAD_CONFIG,
    FeatureId.RSS_INDIRECTION_TABLE_CONFIG, FeatureId.RSS_HASH_INPUT,
    FeatureId.INTERRUPT_MODERATION, FeatureId.AENQ_CONFIG, FeatureId.LINK_CONFIG,
}
SETTABLE = {
    FeatureId.LLQ, FeatureId.RSS_HASH_FUNCTION, FeatureId.RSS_INDIRECTION_TABLE_CONFIG,
    FeatureId.MTU, FeatureId.RSS_HASH_INPUT, FeatureId.AENQ_CONFIG, FeatureId.HOST_ATTR_CONFIG,
}


def default_supported_features(llq: bool) -> int:
    bits = 0
    for fid in GETTABLE | SETTABLE:
        if fid == FeatureId.LLQ and not llq:
            continue
        bits |= 1 << fid
    return bits


@dataclass
class DeviceLimits:
    """Queue limits reported by MAX_QUEUES_EXT / MAX_QUEUES_NUM / LLQ and enforced."""

    num_queues: int
    max_tx_sq_depth: int = 1024
    max_tx_cq_depth: int = 1024
    max_rx_sq_depth: int = 16384
    max_rx_cq_depth: int = 16384
    max_llq_depth: int = 1024
    max_wide_llq_depth: int = 512
    max_tx_header_size: int = 256
    max_per_packet_tx_descs: int = 32  # includes the meta descriptor
    max_per_packet_rx_descs: int = 19

    @property
    def max_cq_depth(self) -> int:
        return max(self.max_tx_cq_depth, self.max_rx_cq_depth)


@dataclass
class RssState:
    func: int = HashFunction.TOEPLITZ
    init_val: int = DEFAULT_RSS_INIT
    key: bytes = DEFAULT_RSS_KEY
    input_sort: int = int(RSS_SORT_SUPPORTED)
    selected_fields: np.ndarray = field(default_factory=lambda: _default_fields())
    table_log: int = RSS_TABLE_DEFAULT_LOG
    table: np.ndarray = field(default_factory=lambda: np.zeros(1 << RSS_TABLE_MAX_LOG, np.uint16))

    @classmethod
    def default(cls, num_queues: int) -> RssState:
        st = cls()
        st.table[:] = np.arange(st.table.size) % num_queues
        return st


def _default_fields() -> np.ndarray:
    arr = np.zeros(16, np.uint16)
    for proto, fields in RSS_FIELDS_SUPPORTED.items():
        arr[proto] = fields
    return arr


@dataclass
class LlqConfig:
    header_location: int = LlqHeaderLocation.INLINE
    entry_size: int = LlqRingEntrySize.E128
    descs_before_header: int = LlqNumDescsBeforeHeader.TWO
    stride: int = LlqStrideCtrl.MULTIPLE
    accel_flags: int = 0


@dataclass
class FeatureCommand:
    """The common part of a GET/SET_FEATURE command, decoded."""

    feature_id: int
    select: int
    version: int
    payload: bytes  # 44 bytes from AQ byte 20
    ctrl_length: int
    ctrl_address: int

    @property
    def default(self) -> bool:
        return self.select == FeatureSelect.DEFAULT


class FeatureSet:
    """Feature state of the device plus the GET/SET handlers."""

    def __init__(self, dev: SoftEnaDevice):
        self.dev = dev
        self.mtu = 1500
        self.rss = RssState.default(dev.num_queues)
        self.llq = LlqConfig()
        #: what the driver reported through HOST_ATTR_CONFIG (kept across resets)
        self.host_info: dict | None = None
        self.host_attr: dict = {}
        self.host_attr_sets = 0

    def reset(self) -> None:
        """Device reset: settable features return to their power-on values."""
        self.mtu = 1500
        self.rss = RssState.default(self.dev.num_queues)
        self.llq = LlqConfig()
        self.host_attr = {}

    # --- dispatch -----------------------------------------------------------------------
    def supported(self, fid: int) -> bool:
        return fid == FeatureId.DEVICE_ATTRIBUTES or bool(self.dev.supported_features >> fid & 1)

    def _decode(self, raw: bytes) -> FeatureCommand:
        cmd = unpack(ENA_ADMIN_AQ_GET_FEAT_CMD, raw)
        if cmd["feat_flags"] & FEAT_FLAGS_RESERVED_MASK:
            raise malformed(why="feature flags reserved bits")
        return FeatureCommand(
            feature_id=cmd["feature_id"],
            select=cmd["feat_flags"] & 0x3,
            version=cmd["feature_version"],
            payload=cmd["payload"],
            ctrl_length=cmd["ctrl_length"],
            ctrl_address=cmd["ctrl_address"],
        )

    def get(self, raw: bytes) -> bytes:
        fc = self._decode(raw)
        fid = fc.feature_id
        if not self.supported(fid) or fid not in GETTABLE:
            raise CommandError(AdminStatus.UNSUPPORTED_OPCODE, 0, f"GET feature {fid}")
        return self._getters[FeatureId(fid)](self, fc)

    def set(self, raw: bytes) -> bytes:
        fc = self._decode(raw)
        fid = fc.feature_id
        if not self.supported(fid) or fid not in SETTABLE:
            raise CommandError(AdminStatus.UNSUPPORTED_OPCODE, 0, f"SET feature {fid}")
        return self._setters[FeatureId(fid)](self, fc)

    @staticmethod
    def _ctrl_len(fc: FeatureCommand, *allowed: int) -> int:
        if fc.ctrl_length not in (0, *allowed):
            raise malformed(ExtendedStatus.CTRL_BUFFER, f"control buffer of {fc.ctrl_length}")
        return fc.ctrl_length

    # --- GET-only features --------------------------------------------------------------
    def _get_device_attributes(self, fc: FeatureCommand) -> bytes:
        dev = self.dev
        return pack(
            ENA_ADMIN_DEVICE_ATTR_FEATURE_DESC,
            impl_id=1,
            device_version=dev.bar0.version(),
            supported_features=dev.supported_features,
            capabilities=dev.capabilities,
            phys_addr_width=48,
            virt_addr_width=48,
            mac_addr=dev.mac_bytes,
            flow_steering_max_entries=0,
            max_mtu=dev.max_mtu,
        )

    def _get_max_queues_num(self, fc: FeatureCommand) -> bytes:
        lim = self.dev.limits
        return pack(
            ENA_ADMIN_QUEUE_FEATURE_DESC,
            max_sq_num=lim.num_queues,
            max_sq_depth=lim.max_tx_sq_depth,
            max_cq_num=lim.num_queues,
            max_cq_depth=lim.max_tx_cq_depth,
            max_legacy_llq_num=lim.num_queues if self.dev.llq else 0,
            max_legacy_llq_depth=lim.max_llq_depth if self.dev.llq else 0,
            max_header_size=lim.max_tx_header_size,
            max_packet_tx_descs=lim.max_per_packet_tx_descs,
            max_packet_rx_descs=lim.max_per_packet_rx_descs,
        )

    def _get_max_queues_ext(self, fc: FeatureCommand) -> bytes:
        lim = self.dev.limits
        return pack(
            ENA_ADMIN_QUEUE_EXT_FEATURE_DESC,
            version=ENA_FEATURE_MAX_QUEUE_EXT_VER,
            max_tx_sq_num=lim.num_queues,
            max_tx_cq_num=lim.num_queues,
            max_rx_sq_num=lim.num_queues,
            max_rx_cq_num=lim.num_queues,
            max_tx_sq_depth=lim.max_llq_depth if self.dev.llq else lim.max_tx_sq_depth,
            max_tx_cq_depth=lim.max_tx_cq_depth,
            max_rx_sq_depth=lim.max_rx_sq_depth,
            max_rx_cq_depth=lim.max_rx_cq_depth,
            max_tx_header_size=lim.max_tx_header_size,
            max_per_packet_tx_descs=lim.max_per_packet_tx_descs,
            max_per_packet_rx_descs=lim.max_per_packet_rx_descs,
        )

    def _get_hw_hints(self, fc: FeatureCommand) -> bytes:
        return pack(ENA_ADMIN_HW_HINTS, **self.dev.hw_hints)

    def _get_offload(self, fc: FeatureCommand) -> bytes:
        return pack(
            ENA_ADMIN_FEATURE_OFFLOAD_DESC, tx=OFFLOAD_TX, rx_supported=OFFLOAD_RX,
            rx_enabled=OFFLOAD_RX,
        )

    def _get_intr_moderation(self, fc: FeatureCommand) -> bytes:
        return pack(
            ENA_ADMIN_FEATURE_INTR_MODER_DESC,
            intr_delay_resolution=self.dev.intr_delay_resolution,
        )

    def _get_link_config(self, fc: FeatureCommand) -> bytes:
        speed = self.dev.link_speed_mbps
        return pack(
            ENA_ADMIN_GET_FEATURE_LINK_DESC,
            speed=speed,
            supported=int(LINK_SPEED_BITS.get(speed, 0)),
            flags=LINK_FLAG_FULL_DUPLEX,
        )

    # --- AENQ_CONFIG ----------------------------------------------------------------------
    def _get_aenq_config(self, fc: FeatureCommand) -> bytes:
        enabled = 0 if fc.default else self.dev.aenq.enabled_groups
        return pack(
            ENA_ADMIN_FEATURE_AENQ_DESC, supported_groups=SUPPORTED_GROUPS, enabled_groups=enabled
        )

    def _set_aenq_config(self, fc: FeatureCommand) -> bytes:
        p = unpack(ENA_ADMIN_FEATURE_AENQ_DESC, fc.payload)
        self.dev.aenq.set_enabled_groups(p["enabled_groups"])
        return b""

    # --- LLQ ----------------------------------------------------------------------------
    def llq_enabled(self) -> dict:
        """The LLQ configuration new placement-DEV SQs use."""
        c = self.llq
        return {
            "header_location": int(c.header_location),
            "entry_size": int(c.entry_size),
            "line_size": LLQ_ENTRY_SIZE_BYTES[LlqRingEntrySize(c.entry_size)],
            "descs_before_header": int(c.descs_before_header),
            "stride": int(c.stride),
            "accel_flags": int(c.accel_flags),
            "max_tx_burst_size": LLQ_MAX_TX_BURST_BYTES,
        }

    def _get_llq(self, fc: FeatureCommand) -> bytes:
        lim = self.dev.limits
        c = LlqConfig() if fc.default else self.llq
        return pack(
            ENA_ADMIN_FEATURE_LLQ_DESC,
            max_llq_num=lim.num_queues,
            max_llq_depth=lim.max_llq_depth,
            header_location_ctrl_supported=int(LLQ_HEADER_LOCATION_SUPPORTED),
            header_location_ctrl_enabled=int(c.header_location),
            entry_size_ctrl_supported=int(LLQ_ENTRY_SIZE_SUPPORTED),
            entry_size_ctrl_enabled=int(c.entry_size),
            desc_num_before_header_supported=int(LLQ_DESCS_BEFORE_HEADER_SUPPORTED),
            desc_num_before_header_enabled=int(c.descs_before_header),
            descriptors_stride_ctrl_supported=int(LLQ_STRIDE_SUPPORTED),
            descriptors_stride_ctrl_enabled=int(c.stride),
            feature_version=ENA_ADMIN_LLQ_FEATURE_VERSION_1,
            entry_size_recommended=int(LLQ_ENTRY_SIZE_RECOMMENDED),
            max_wide_llq_depth=lim.max_wide_llq_depth,
            accel_mode_supported_flags=int(LLQ_ACCEL_SUPPORTED),
            accel_mode_max_tx_burst_size=LLQ_MAX_TX_BURST_BYTES,
        )

    def _set_llq(self, fc: FeatureCommand) -> bytes:
        p = unpack(ENA_ADMIN_FEATURE_LLQ_DESC, fc.payload)

        def one_of(value: int, supported: int, what: str) -> int:
            if not is_pow2(value) or value & ~supported:
                raise illegal(ExtendedStatus.VALUE, f"LLQ {what} {value:#x}")
            return value

        loc = one_of(p["header_location_ctrl_enabled"], LLQ_HEADER_LOCATION_SUPPORTED, "header")
        size = one_of(p["entry_size_ctrl_enabled"], LLQ_ENTRY_SIZE_SUPPORTED, "entry size")
        descs = one_of(p["desc_num_before_header_enabled"], LLQ_DESCS_BEFORE_HEADER_SUPPORTED,
                       "descs before header")
        stride = one_of(p["descriptors_stride_ctrl_enabled"], LLQ_STRIDE_SUPPORTED, "stride")
        accel = p["accel_mode_enabled_flags"]
        if accel & ~LLQ_ACCEL_SUPPORTED:
            raise illegal(ExtendedStatus.VALUE, f"LLQ accel flags {accel:#x}")
        if descs * 16 >= LLQ_ENTRY_SIZE_BYTES[LlqRingEntrySize(size)]:
            raise illegal(ExtendedStatus.VALUE, "no room for the header in the first line")
        self.llq = LlqConfig(loc, size, descs, stride, accel)
        return b""

    # --- MTU ------------------------------------------------------------------------------
    def _set_mtu(self, fc: FeatureCommand) -> bytes:
        mtu = unpack(ENA_ADMIN_SET_FEATURE_MTU_DESC, fc.payload)["mtu"]
        if not ENA_MIN_MTU <= mtu <= self.dev.max_mtu:
            raise illegal(ExtendedStatus.VALUE, f"mtu {mtu}")
        self.mtu = mtu
        return b""

    # --- RSS hash function + key ----------------------------------------------------------
    def _rss(self, fc: FeatureCommand) -> RssState:
        return RssState.default(self.dev.num_queues) if fc.default else self.rss

    def _get_rss_hash_function(self, fc: FeatureCommand) -> bytes:
        rss = self._rss(fc)
        if self._ctrl_len(fc, ENA_ADMIN_RSS_HASH_KEY_BUFFER.itemsize):
            key = np.frombuffer(rss.key, "<u4")
            buf = pack(ENA_ADMIN_RSS_HASH_KEY_BUFFER, key_parts=ENA_ADMIN_RSS_KEY_PARTS, key=key)
            self.dev.dma.write(fc.ctrl_address, buf)
        return pack(
            ENA_ADMIN_FEATURE_RSS_FLOW_HASH_FUNCTION,
            supported_func=RSS_FUNCS_SUPPORTED,
            selected_func=1 << rss.func,
            init_val=rss.init_val,
        )

    def _set_rss_hash_function(self, fc: FeatureCommand) -> bytes:
        p = unpack(ENA_ADMIN_FEATURE_RSS_FLOW_HASH_FUNCTION, fc.payload)
        selected = p["selected_func"]
        if not is_pow2(selected) or selected & ~RSS_FUNCS_SUPPORTED:
            raise illegal(ExtendedStatus.VALUE, f"hash function bitmap {selected:#x}")
        key = None
        if self._ctrl_len(fc, ENA_ADMIN_RSS_HASH_KEY_BUFFER.itemsize):
            buf = unpack(
                ENA_ADMIN_RSS_HASH_KEY_BUFFER,
                self.dev.dma.read(fc.ctrl_address, ENA_ADMIN_RSS_HASH_KEY_BUFFER.itemsize),
            )
            if buf["key_parts"] == ENA_ADMIN_RSS_KEY_PARTS:
                key = buf["key"].astype("<u4").tobytes()
            elif buf["key_parts"] != 0:
                raise illegal(ExtendedStatus.VALUE, f"key_parts {buf['key_parts']}")
        self.rss.func = selected.bit_length() - 1
        self.rss.init_val = p["init_val"]
        if key is not None:
            assert len(key) == ENA_HASH_KEY_SIZE
            self.rss.key = key
        return b""

    # --- RSS hash input -------------------------------------------------------------------
    @staticmethod
    def _supported_fields() -> np.ndarray:
        return _default_fields()

    def _get_rss_hash_input(self, fc: FeatureCommand) -> bytes:
        rss = self._rss(fc)
        if self._ctrl_len(fc, ENA_ADMIN_RSS_HASH_INPUT_BUFFER.itemsize):
            arr = np.zeros(1, ENA_ADMIN_RSS_HASH_INPUT_BUFFER)
            arr["supported_fields"]["fields"][0] = self._supported_fields()
            arr["selected_fields"]["fields"][0] = rss.selected_fields
            self.dev.dma.write(fc.ctrl_address, arr.tobytes())
        return pack(
            ENA_ADMIN_FEATURE_RSS_HASH_INPUT,
            supported_input_sort=int(RSS_SORT_SUPPORTED),
            enabled_input_sort=rss.input_sort,
        )

    def _set_rss_hash_input(self, fc: FeatureCommand) -> bytes:
        p = unpack(ENA_ADMIN_FEATURE_RSS_HASH_INPUT, fc.payload)
        sort = p["enabled_input_sort"]
        if sort & ~RSS_SORT_SUPPORTED:
            raise illegal(ExtendedStatus.VALUE, f"input sort {sort:#x}")
        fields = None
        if self._ctrl_len(fc, ENA_ADMIN_RSS_HASH_INPUT_BUFFER.itemsize):
            raw = self.dev.dma.read(fc.ctrl_address, ENA_ADMIN_RSS_HASH_INPUT_BUFFER.itemsize)
            arr = np.frombuffer(raw, ENA_ADMIN_RSS_HASH_INPUT_BUFFER)
            fields = arr["selected_fields"]["fields"][0].copy()
            if np.any(fields & ~self._supported_fields()):
                raise illegal(ExtendedStatus.VALUE, "hash input field not supported")
        self.rss.input_sort = sort
        if fields is not None:
            self.rss.selected_fields = fields
        return b""

    # --- RSS indirection table ------------------------------------------------------------
    def _get_rss_table(self, fc: FeatureCommand) -> bytes:
        rss = self._rss(fc)
        n = fc.ctrl_length
        if n:
            esize = ENA_ADMIN_RSS_IND_TABLE_ENTRY.itemsize
            if n % esize or n > (esize << RSS_TABLE_MAX_LOG):
                raise malformed(ExtendedStatus.CTRL_BUFFER, f"table buffer of {n}")
            count = min(n // esize, 1 << rss.table_log)
            out = np.zeros(count, ENA_ADMIN_RSS_IND_TABLE_ENTRY)
            out["cq_idx"] = rss.table[:count]
            self.dev.dma.write(fc.ctrl_address, out.tobytes())
        return pack(
            ENA_ADMIN_FEATURE_RSS_IND_TABLE,
            min_size=RSS_TABLE_MIN_LOG,
            max_size=RSS_TABLE_MAX_LOG,
            size=rss.table_log,
            flags=1,  # one_entry_update supported
            inline_index=ENA_ADMIN_RSS_IND_TABLE_NO_INLINE_INDEX,
        )

    def _set_rss_table(self, fc: FeatureCommand) -> bytes:
        p = unpack(ENA_ADMIN_FEATURE_RSS_IND_TABLE, fc.payload)
        log = p["size"]
        if not RSS_TABLE_MIN_LOG <= log <= RSS_TABLE_MAX_LOG:
            raise illegal(ExtendedStatus.VALUE, f"table log size {log}")
        nq = self.dev.num_queues
        if p["inline_index"] != ENA_ADMIN_RSS_IND_TABLE_NO_INLINE_INDEX:
            index, entry = p["inline_index"], p["inline_entry_cq_idx"]
            if log != self.rss.table_log or index >= 1 << log:
                raise illegal(ExtendedStatus.VALUE, f"inline index {index}")
            if entry >= nq:
                raise illegal(ExtendedStatus.QUEUE_INDEX, f"table entry {entry}")
            self.rss.table[index] = entry
            return b""
        esize = ENA_ADMIN_RSS_IND_TABLE_ENTRY.itemsize
        if fc.ctrl_length != esize << log:
            raise malformed(ExtendedStatus.CTRL_BUFFER, f"table buffer of {fc.ctrl_length}")
        raw = self.dev.dma.read(fc.ctrl_address, fc.ctrl_length)
        entries = np.frombuffer(raw, ENA_ADMIN_RSS_IND_TABLE_ENTRY)["cq_idx"]
        if np.any(entries >= nq):
            raise illegal(ExtendedStatus.QUEUE_INDEX, "table entry beyond the Rx queues")
        self.rss.table_log = log
        self.rss.table[: 1 << log] = entries
        return b""

    def rss_update_entry(self, index: int, entry: int) -> bool:
        """RSS_IND_ENTRY_UPDATE register; False if out of range."""
        if index >= 1 << self.rss.table_log or entry >= self.dev.num_queues:
            return False
        self.rss.table[index] = entry
        return True

    # --- HOST_ATTR_CONFIG ---------------------------------------------------------------
    def _set_host_attr(self, fc: FeatureCommand) -> bytes:
        p = unpack(ENA_ADMIN_SET_FEATURE_HOST_ATTR_DESC, fc.payload)
        os_addr, dbg, dbg_size = p["os_info_ba"], p["debug_ba"], p["debug_area_size"]
        info = None
        if os_addr:
            # only the defined prefix of the 4 KB page is read (2016 pages are shorter)
            prefix = ENA_ADMIN_HOST_INFO.fields["driver_supported_features"][1] + 4
            raw = self.dev.dma.read(os_addr, prefix)
            info = decode_host_info(raw)
        if dbg and dbg_size and not self.dev.dma.contains(dbg, dbg_size):
            raise illegal(ExtendedStatus.DMA_ADDRESS, f"debug area {dbg:#x}+{dbg_size}")
        self.host_attr = {"os_info_address": os_addr, "debug_address": dbg,
                          "debug_area_size": dbg_size}
        self.host_attr_sets += 1
        if info is not None:
            self.host_info = info
        return b""

    _getters = {
        FeatureId.DEVICE_ATTRIBUTES: _get_device_attributes,
        FeatureId.MAX_QUEUES_NUM: _get_max_queues_num,
        FeatureId.HW_HINTS: _get_hw_hints,
        FeatureId.LLQ: _get_llq,
        FeatureId.MAX_QUEUES_EXT: _get_max_queues_ext,
        FeatureId.RSS_HASH_FUNCTION: _get_rss_hash_function,
        FeatureId.STATELESS_OFFLOAD_CONFIG: _get_offload,
        FeatureId.RSS_INDIRECTION_TABLE_CONFIG: _get_rss_table,
        FeatureId.RSS_HASH_INPUT: _get_rss_hash_input,
        FeatureId.INTERRUPT_MODERATION: _get_intr_moderation,
        FeatureId.AENQ_CONFIG: _get_aenq_config,
        FeatureId.LINK_CONFIG: _get_link_config,
    }
    _setters = {
        FeatureId.LLQ: _set_llq,
        FeatureId.RSS_HASH_FUNCTION: _set_rss_hash_function,
        FeatureId.RSS_INDIRECTION_TABLE_CONFIG: _set_rss_table,
        FeatureId.MTU: _set_mtu,
        FeatureId.RSS_HASH_INPUT: _set_rss_hash_input,
        FeatureId.AENQ_CONFIG: _set_aenq_config,
        FeatureId.HOST_ATTR_CONFIG: _set_host_attr,
    }


def _cstr(b: bytes) -> str:
    return b.split(b"\0", 1)[0].decode("ascii", "replace")


def decode_host_info(raw: bytes) -> dict:
    """The host-info page as a plain dict (what `enatool info` shows of the driver)."""
    page = bytes(raw) + bytes(ENA_ADMIN_HOST_INFO.itemsize - len(raw))
    h = unpack(ENA_ADMIN_HOST_INFO, page)
    ver = h["driver_version"]
    module = (ver >> 24) & 0xFF
    try:
        os_name = OsType(h["os_type"]).name
    except ValueError:
        os_name = f"unknown({h['os_type']})"
    return {
        "os_type": h["os_type"],
        "os_name": os_name,
        "os_dist_str": _cstr(h["os_dist_str"]),
        "os_dist": h["os_dist"],
        "kernel_ver_str": _cstr(h["kernel_ver_str"]),
        "kernel_ver": h["kernel_ver"],
        "driver_version": ver,
        "driver_version_str": f"{ver & 0xFF}.{ver >> 8 & 0xFF}.{ver >> 16 & 0xFF}"
        + (chr(module) if 0x20 < module < 0x7F else ""),
        "supported_network_features": [int(x) for x in h["supported_network_features"]],
        "ena_spec_version": f"{h['ena_spec_version'] >> 8}.{h['ena_spec_version'] & 0xFF}",
        "bdf": h["bdf"],
        "num_cpus": h["num_cpus"],
        "driver_supported_features": h["driver_supported_features"],
    }
