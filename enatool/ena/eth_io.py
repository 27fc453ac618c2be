"""IO-queue descriptor layouts of the ENA device: mirrors ``ena_eth_io_defs.h``.

Today's layout (amzn-drivers v2.17.0). 2016 (v1.0.0) differences: the Tx meta descriptor
carried req_id (word0 9:0, word1 5:0), the Rx cdesc had no l4_csum_checked / offset, the
interrupt register had no no_moderation_update bit, and there were no extended cdescs.
See INTERFACE.md §1.2, §5, §6.

Each descriptor is given three ways:
- a numpy dtype named like the driver struct (``ENA_ETH_IO_TX_DESC`` ...);
- MASK/SHIFT constants per field, named like the driver (word implied by the field);
- a ``*_FIELDS`` table {field: (word index, mask, shift)} and slow reference
  ``*_pack`` / ``*_unpack`` functions over little-endian uint32 words. The Numba kernels in
  numba_kernels are tested against these.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from enatool.ena.bits import addr48_join, addr48_split, make_dtype


class L3ProtoIdx(IntEnum):
    UNKNOWN = 0
    IPV4 = 8
    IPV6 = 11
    FCOE = 21
    ROCE = 22


class L4ProtoIdx(IntEnum):
    UNKNOWN = 0
    TCP = 12
    UDP = 13
    ROUTEABLE_ROCE = 23


ENA_DESC_SIZE = 16  # Tx/Rx submission descriptor, Tx meta descriptor

# =========================================================================================
# Tx descriptor (§5.3)
# =========================================================================================
ENA_ETH_IO_TX_DESC = make_dtype(
    16,
    ("len_ctrl", "<u4", 0),
    ("meta_ctrl", "<u4", 4),
    ("buff_addr_lo", "<u4", 8),
    ("buff_addr_hi_hdr_sz", "<u4", 12),
)
# word 0: len_ctrl
ENA_ETH_IO_TX_DESC_LENGTH_MASK = 0xFFFF
ENA_ETH_IO_TX_DESC_LENGTH_SHIFT = 0
ENA_ETH_IO_TX_DESC_REQ_ID_HI_SHIFT = 16
ENA_ETH_IO_TX_DESC_REQ_ID_HI_MASK = 0x3F0000
ENA_ETH_IO_TX_DESC_META_DESC_SHIFT = 23
ENA_ETH_IO_TX_DESC_META_DESC_MASK = 1 << 23
ENA_ETH_IO_TX_DESC_PHASE_SHIFT = 24
ENA_ETH_IO_TX_DESC_PHASE_MASK = 1 << 24
ENA_ETH_IO_TX_DESC_FIRST_SHIFT = 26
ENA_ETH_IO_TX_DESC_FIRST_MASK = 1 << 26
ENA_ETH_IO_TX_DESC_LAST_SHIFT = 27
ENA_ETH_IO_TX_DESC_LAST_MASK = 1 << 27
ENA_ETH_IO_TX_DESC_COMP_REQ_SHIFT = 28
ENA_ETH_IO_TX_DESC_COMP_REQ_MASK = 1 << 28
# word 1: meta_ctrl
ENA_ETH_IO_TX_DESC_L3_PROTO_IDX_MASK = 0xF
ENA_ETH_IO_TX_DESC_L3_PROTO_IDX_SHIFT = 0
ENA_ETH_IO_TX_DESC_DF_SHIFT = 4
ENA_ETH_IO_TX_DESC_DF_MASK = 1 << 4
ENA_ETH_IO_TX_DESC_TSO_EN_SHIFT = 7
ENA_ETH_IO_TX_DESC_TSO_EN_MASK = 1 << 7
ENA_ETH_IO_TX_DESC_L4_PROTO_IDX_SHIFT = 8
ENA_ETH_IO_TX_DESC_L4_PROTO_IDX_MASK = 0x1F00
ENA_ETH_IO_TX_DESC_L3_CSUM_EN_SHIFT = 13
ENA_ETH_IO_TX_DESC_L3_CSUM_EN_MASK = 1 << 13
ENA_ETH_IO_TX_DESC_L4_CSUM_EN_SHIFT = 14
ENA_ETH_IO_TX_DESC_L4_CSUM_EN_MASK = 1 << 14
ENA_ETH_IO_TX_DESC_ETHERNET_FCS_DIS_SHIFT = 15
ENA_ETH_IO_TX_DESC_ETHERNET_FCS_DIS_MASK = 1 << 15
ENA_ETH_IO_TX_DESC_L4_CSUM_PARTIAL_SHIFT = 17
ENA_ETH_IO_TX_DESC_L4_CSUM_PARTIAL_MASK = 1 << 17
ENA_ETH_IO_TX_DESC_REQ_ID_LO_SHIFT = 22
ENA_ETH_IO_TX_DESC_REQ_ID_LO_MASK = 0xFFC00000
# word 2: buff_addr_lo (whole word); word 3: buff_addr_hi_hdr_sz
ENA_ETH_IO_TX_DESC_ADDR_HI_MASK = 0xFFFF
ENA_ETH_IO_TX_DESC_ADDR_HI_SHIFT = 0
ENA_ETH_IO_TX_DESC_HEADER_LENGTH_SHIFT = 24
ENA_ETH_IO_TX_DESC_HEADER_LENGTH_MASK = 0xFF000000

#: req_id is split 6 + 10 bits across words 0 and 1
ENA_TX_REQ_ID_LO_BITS = 10
ENA_TX_REQ_ID_LO_MASK = (1 << ENA_TX_REQ_ID_LO_BITS) - 1

TX_DESC_FIELDS = {
    "length": (0, ENA_ETH_IO_TX_DESC_LENGTH_MASK, ENA_ETH_IO_TX_DESC_LENGTH_SHIFT),
    "req_id_hi": (0, ENA_ETH_IO_TX_DESC_REQ_ID_HI_MASK, ENA_ETH_IO_TX_DESC_REQ_ID_HI_SHIFT),
    "meta_desc": (0, ENA_ETH_IO_TX_DESC_META_DESC_MASK, ENA_ETH_IO_TX_DESC_META_DESC_SHIFT),
    "phase": (0, ENA_ETH_IO_TX_DESC_PHASE_MASK, ENA_ETH_IO_TX_DESC_PHASE_SHIFT),
    "first": (0, ENA_ETH_IO_TX_DESC_FIRST_MASK, ENA_ETH_IO_TX_DESC_FIRST_SHIFT),
    "last": (0, ENA_ETH_IO_TX_DESC_LAST_MASK, ENA_ETH_IO_TX_DESC_LAST_SHIFT),
    "comp_req": (0, ENA_ETH_IO_TX_DESC_COMP_REQ_MASK, ENA_ETH_IO_TX_DESC_COMP_REQ_SHIFT),
    "l3_proto_idx": (
        1, ENA_ETH_IO_TX_DESC_L3_PROTO_IDX_MASK, ENA_ETH_IO_TX_DESC_L3_PROTO_IDX_SHIFT),
    "df": (1, ENA_ETH_IO_TX_DESC_DF_MASK, ENA_ETH_IO_TX_DESC_DF_SHIFT),
    "tso_en": (1, ENA_ETH_IO_TX_DESC_TSO_EN_MASK, ENA_ETH_IO_TX_DESC_TSO_EN_SHIFT),
    "l4_proto_idx": (
        1, ENA_ETH_IO_TX_DESC_L4_PROTO_IDX_MASK, ENA_ETH_IO_TX_DESC_L4_PROTO_IDX_SHIFT),
    "l3_csum_en": (1, ENA_ETH_IO_TX_DESC_L3_CSUM_EN_MASK, ENA_ETH_IO_TX_DESC_L3_CSUM_EN_SHIFT),
    "l4_csum_en": (1, ENA_ETH_IO_TX_DESC_L4_CSUM_EN_MASK, ENA_ETH_IO_TX_DESC_L4_CSUM_EN_SHIFT),
    "ethernet_fcs_dis": (
        1, ENA_ETH_IO_TX_DESC_ETHERNET_FCS_DIS_MASK, ENA_ETH_IO_TX_DESC_ETHERNET_FCS_DIS_SHIFT),
    "l4_csum_partial": (
        1, ENA_ETH_IO_TX_DESC_L4_CSUM_PARTIAL_MASK, ENA_ETH_IO_TX_DESC_L4_CSUM_PARTIAL_SHIFT),
    "req_id_lo": (1, ENA_ETH_IO_TX_DESC_REQ_ID_LO_MASK, ENA_ETH_IO_TX_DESC_REQ_ID_LO_SHIFT),
    "buff_addr_lo": (2, 0xFFFFFFFF, 0),
    "addr_hi": (3, ENA_ETH_IO_TX_DESC_ADDR_HI_MASK, ENA_ETH_IO_TX_DESC_ADDR_HI_SHIFT),
    "header_length": (
        3, ENA_ETH_IO_TX_DESC_HEADER_LENGTH_MASK, ENA_ETH_IO_TX_DESC_HEADER_LENGTH_SHIFT),
}

# =========================================================================================
# Tx meta descriptor (§5.4)
# =========================================================================================
ENA_ETH_IO_TX_META_DESC = make_dtype(
    16,
    ("len_ctrl", "<u4", 0),
    ("word1", "<u4", 4),
    ("word2", "<u4", 8),
    ("reserved", "<u4", 12),
)
# word 0
ENA_ETH_IO_TX_META_DESC_REQ_ID_LO_MASK = 0x3FF  # 2016 only; reserved today
ENA_ETH_IO_TX_META_DESC_REQ_ID_LO_SHIFT = 0
ENA_ETH_IO_TX_META_DESC_EXT_VALID_SHIFT = 14
ENA_ETH_IO_TX_META_DESC_EXT_VALID_MASK = 1 << 14
ENA_ETH_IO_TX_META_DESC_MSS_HI_SHIFT = 16
ENA_ETH_IO_TX_META_DESC_MSS_HI_MASK = 0xF0000
ENA_ETH_IO_TX_META_DESC_ETH_META_TYPE_SHIFT = 20
ENA_ETH_IO_TX_META_DESC_ETH_META_TYPE_MASK = 1 << 20
ENA_ETH_IO_TX_META_DESC_META_STORE_SHIFT = 21
ENA_ETH_IO_TX_META_DESC_META_STORE_MASK = 1 << 21
ENA_ETH_IO_TX_META_DESC_META_DESC_SHIFT = 23
ENA_ETH_IO_TX_META_DESC_META_DESC_MASK = 1 << 23
ENA_ETH_IO_TX_META_DESC_PHASE_SHIFT = 24
ENA_ETH_IO_TX_META_DESC_PHASE_MASK = 1 << 24
ENA_ETH_IO_TX_META_DESC_FIRST_SHIFT = 26
ENA_ETH_IO_TX_META_DESC_FIRST_MASK = 1 << 26
ENA_ETH_IO_TX_META_DESC_LAST_SHIFT = 27
ENA_ETH_IO_TX_META_DESC_LAST_MASK = 1 << 27
ENA_ETH_IO_TX_META_DESC_COMP_REQ_SHIFT = 28
ENA_ETH_IO_TX_META_DESC_COMP_REQ_MASK = 1 << 28
# word 1
ENA_ETH_IO_TX_META_DESC_REQ_ID_HI_MASK = 0x3F  # 2016 only; reserved today
ENA_ETH_IO_TX_META_DESC_REQ_ID_HI_SHIFT = 0
# word 2
ENA_ETH_IO_TX_META_DESC_L3_HDR_LEN_MASK = 0xFF
ENA_ETH_IO_TX_META_DESC_L3_HDR_LEN_SHIFT = 0
ENA_ETH_IO_TX_META_DESC_L3_HDR_OFF_SHIFT = 8
ENA_ETH_IO_TX_META_DESC_L3_HDR_OFF_MASK = 0xFF00
ENA_ETH_IO_TX_META_DESC_L4_HDR_LEN_IN_WORDS_SHIFT = 16
ENA_ETH_IO_TX_META_DESC_L4_HDR_LEN_IN_WORDS_MASK = 0x3F0000
ENA_ETH_IO_TX_META_DESC_MSS_LO_SHIFT = 22
ENA_ETH_IO_TX_META_DESC_MSS_LO_MASK = 0xFFC00000

#: MSS is split 10 (word2) + 4 (word0) bits
ENA_TX_MSS_LO_BITS = 10
ENA_TX_MSS_MAX = (1 << 14) - 1

_M = "ENA_ETH_IO_TX_META_DESC_"
TX_META_DESC_FIELDS = {
    name.lower(): (word, globals()[_M + name + "_MASK"], globals()[_M + name + "_SHIFT"])
    for word, name in (
        (0, "REQ_ID_LO"), (0, "EXT_VALID"), (0, "MSS_HI"), (0, "ETH_META_TYPE"),
        (0, "META_STORE"), (0, "META_DESC"), (0, "PHASE"), (0, "FIRST"), (0, "LAST"),
        (0, "COMP_REQ"), (1, "REQ_ID_HI"), (2, "L3_HDR_LEN"), (2, "L3_HDR_OFF"),
        (2, "L4_HDR_LEN_IN_WORDS"), (2, "MSS_LO"),
    )
}

# =========================================================================================
# Tx completion (§5.5)
# =========================================================================================
ENA_ETH_IO_TX_CDESC = make_dtype(
    8,
    ("req_id", "<u2", 0),
    ("status", "u1", 2),
    ("flags", "u1", 3),
    ("sub_qid", "<u2", 4),
    ("sq_head_idx", "<u2", 6),
)
ENA_ETH_IO_TX_CDESC_EXT = make_dtype(
    16,
    *((n, ENA_ETH_IO_TX_CDESC.fields[n][0].str, ENA_ETH_IO_TX_CDESC.fields[n][1])
      for n in ENA_ETH_IO_TX_CDESC.names),
    ("timestamp_low", "<u4", 8),
    ("timestamp_high", "<u4", 12),
)
# flags byte
ENA_ETH_IO_TX_CDESC_PHASE_MASK = 0x1
ENA_ETH_IO_TX_CDESC_PHASE_SHIFT = 0
ENA_ETH_IO_TX_CDESC_MBZ6_SHIFT = 6
ENA_ETH_IO_TX_CDESC_MBZ6_MASK = 0xC0
ENA_TX_CDESC_SIZE = 8
ENA_TX_CDESC_EXT_SIZE = 16

# =========================================================================================
# Rx descriptor (§5.6)
# =========================================================================================
ENA_ETH_IO_RX_DESC = make_dtype(
    16,
    ("length", "<u2", 0),  # 0 = 64 KB
    ("reserved2", "u1", 2),
    ("ctrl", "u1", 3),
    ("req_id", "<u2", 4),
    ("reserved6", "<u2", 6),
    ("buff_addr_lo", "<u4", 8),
    ("buff_addr_hi", "<u2", 12),
    ("reserved16_w3", "<u2", 14),
)
# ctrl byte
ENA_ETH_IO_RX_DESC_PHASE_MASK = 0x1
ENA_ETH_IO_RX_DESC_PHASE_SHIFT = 0
ENA_ETH_IO_RX_DESC_FIRST_SHIFT = 2
ENA_ETH_IO_RX_DESC_FIRST_MASK = 0x4
ENA_ETH_IO_RX_DESC_LAST_SHIFT = 3
ENA_ETH_IO_RX_DESC_LAST_MASK = 0x8
ENA_ETH_IO_RX_DESC_COMP_REQ_SHIFT = 4
ENA_ETH_IO_RX_DESC_COMP_REQ_MASK = 0x10
ENA_ETH_IO_RX_DESC_MBO_SHIFT = 5  # "must be one" per spec; Linux leaves it 0
ENA_ETH_IO_RX_DESC_MBO_MASK = 0x20

# word view: ctrl is byte 3 of word 0
RX_DESC_FIELDS = {
    "length": (0, 0xFFFF, 0),
    "phase": (0, ENA_ETH_IO_RX_DESC_PHASE_MASK << 24, ENA_ETH_IO_RX_DESC_PHASE_SHIFT + 24),
    "first": (0, ENA_ETH_IO_RX_DESC_FIRST_MASK << 24, ENA_ETH_IO_RX_DESC_FIRST_SHIFT + 24),
    "last": (0, ENA_ETH_IO_RX_DESC_LAST_MASK << 24, ENA_ETH_IO_RX_DESC_LAST_SHIFT + 24),
    "comp_req": (
        0, ENA_ETH_IO_RX_DESC_COMP_REQ_MASK << 24, ENA_ETH_IO_RX_DESC_COMP_REQ_SHIFT + 24),
    "mbo": (0, ENA_ETH_IO_RX_DESC_MBO_MASK << 24, ENA_ETH_IO_RX_DESC_MBO_SHIFT + 24),
    "req_id": (1, 0xFFFF, 0),
    "buff_addr_lo": (2, 0xFFFFFFFF, 0),
    "buff_addr_hi": (3, 0xFFFF, 0),
}

# =========================================================================================
# Rx completion (§5.7)
# =========================================================================================
ENA_ETH_IO_RX_CDESC_BASE = make_dtype(
    16,
    ("status", "<u4", 0),
    ("length", "<u2", 4),
    ("req_id", "<u2", 6),
    ("hash", "<u4", 8),
    ("sub_qid", "<u2", 12),
    ("offset", "u1", 14),
    ("reserved", "u1", 15),
)
ENA_ETH_IO_RX_CDESC_EXT = make_dtype(
    32,
    *((n, ENA_ETH_IO_RX_CDESC_BASE.fields[n][0].str, ENA_ETH_IO_RX_CDESC_BASE.fields[n][1])
      for n in ENA_ETH_IO_RX_CDESC_BASE.names),
    ("buff_addr_lo", "<u4", 16),
    ("buff_addr_hi", "<u2", 20),
    ("timestamp_low", "<u4", 24),
    ("timestamp_high", "<u4", 28),
)
ENA_RX_CDESC_SIZE = 16
ENA_RX_CDESC_EXT_SIZE = 32
# status word
ENA_ETH_IO_RX_CDESC_BASE_L3_PROTO_IDX_MASK = 0x1F
ENA_ETH_IO_RX_CDESC_BASE_L3_PROTO_IDX_SHIFT = 0
ENA_ETH_IO_RX_CDESC_BASE_SRC_VLAN_CNT_SHIFT = 5
ENA_ETH_IO_RX_CDESC_BASE_SRC_VLAN_CNT_MASK = 0x60
ENA_ETH_IO_RX_CDESC_BASE_MBZ7_SHIFT = 7
ENA_ETH_IO_RX_CDESC_BASE_MBZ7_MASK = 1 << 7
ENA_ETH_IO_RX_CDESC_BASE_L4_PROTO_IDX_SHIFT = 8
ENA_ETH_IO_RX_CDESC_BASE_L4_PROTO_IDX_MASK = 0x1F00
ENA_ETH_IO_RX_CDESC_BASE_L3_CSUM_ERR_SHIFT = 13
ENA_ETH_IO_RX_CDESC_BASE_L3_CSUM_ERR_MASK = 1 << 13
ENA_ETH_IO_RX_CDESC_BASE_L4_CSUM_ERR_SHIFT = 14
ENA_ETH_IO_RX_CDESC_BASE_L4_CSUM_ERR_MASK = 1 << 14
ENA_ETH_IO_RX_CDESC_BASE_IPV4_FRAG_SHIFT = 15
ENA_ETH_IO_RX_CDESC_BASE_IPV4_FRAG_MASK = 1 << 15
ENA_ETH_IO_RX_CDESC_BASE_L4_CSUM_CHECKED_SHIFT = 16
ENA_ETH_IO_RX_CDESC_BASE_L4_CSUM_CHECKED_MASK = 1 << 16
ENA_ETH_IO_RX_CDESC_BASE_MBZ17_SHIFT = 17
ENA_ETH_IO_RX_CDESC_BASE_MBZ17_MASK = 1 << 17
ENA_ETH_IO_RX_CDESC_BASE_PHASE_SHIFT = 24
ENA_ETH_IO_RX_CDESC_BASE_PHASE_MASK = 1 << 24
ENA_ETH_IO_RX_CDESC_BASE_L3_CSUM2_SHIFT = 25
ENA_ETH_IO_RX_CDESC_BASE_L3_CSUM2_MASK = 1 << 25
ENA_ETH_IO_RX_CDESC_BASE_FIRST_SHIFT = 26
ENA_ETH_IO_RX_CDESC_BASE_FIRST_MASK = 1 << 26
ENA_ETH_IO_RX_CDESC_BASE_LAST_SHIFT = 27
ENA_ETH_IO_RX_CDESC_BASE_LAST_MASK = 1 << 27
ENA_ETH_IO_RX_CDESC_BASE_BUFFER_SHIFT = 30
ENA_ETH_IO_RX_CDESC_BASE_BUFFER_MASK = 1 << 30
#: status bits a well-formed completion keeps clear (checked with CDESC_MBZ)
ENA_ETH_IO_RX_CDESC_BASE_MBZ_MASK = (
    ENA_ETH_IO_RX_CDESC_BASE_MBZ7_MASK | ENA_ETH_IO_RX_CDESC_BASE_MBZ17_MASK
)

_R = "ENA_ETH_IO_RX_CDESC_BASE_"
RX_CDESC_FIELDS = {
    name.lower(): (0, globals()[_R + name + "_MASK"], globals()[_R + name + "_SHIFT"])
    for name in (
        "L3_PROTO_IDX", "SRC_VLAN_CNT", "MBZ7", "L4_PROTO_IDX", "L3_CSUM_ERR", "L4_CSUM_ERR",
        "IPV4_FRAG", "L4_CSUM_CHECKED", "MBZ17", "PHASE", "L3_CSUM2", "FIRST", "LAST",
        "BUFFER",
    )
}
RX_CDESC_FIELDS.update(
    {
        "length": (1, 0xFFFF, 0),
        "req_id": (1, 0xFFFF0000, 16),
        "hash": (2, 0xFFFFFFFF, 0),
        "sub_qid": (3, 0xFFFF, 0),
        "offset": (3, 0xFF0000, 16),
    }
)

# =========================================================================================
# Per-CQ registers (§1.2)
# =========================================================================================
ENA_ETH_IO_INTR_REG_RX_INTR_DELAY_MASK = 0x7FFF
ENA_ETH_IO_INTR_REG_RX_INTR_DELAY_SHIFT = 0
ENA_ETH_IO_INTR_REG_TX_INTR_DELAY_SHIFT = 15
ENA_ETH_IO_INTR_REG_TX_INTR_DELAY_MASK = 0x3FFF8000
ENA_ETH_IO_INTR_REG_INTR_UNMASK_SHIFT = 30
ENA_ETH_IO_INTR_REG_INTR_UNMASK_MASK = 1 << 30
ENA_ETH_IO_INTR_REG_NO_MODERATION_UPDATE_SHIFT = 31  # today; reserved in 2016
ENA_ETH_IO_INTR_REG_NO_MODERATION_UPDATE_MASK = 1 << 31

ENA_ETH_IO_NUMA_NODE_CFG_REG_NUMA_MASK = 0xFF
ENA_ETH_IO_NUMA_NODE_CFG_REG_NUMA_SHIFT = 0
ENA_ETH_IO_NUMA_NODE_CFG_REG_ENABLED_SHIFT = 31
ENA_ETH_IO_NUMA_NODE_CFG_REG_ENABLED_MASK = 1 << 31


def intr_reg_value(rx_delay: int, tx_delay: int, unmask: bool, no_moderation_update=False) -> int:
    """Value the driver writes to a CQ's interrupt-unmask register."""
    if not 0 <= rx_delay <= 0x7FFF or not 0 <= tx_delay <= 0x7FFF:
        raise ValueError("interrupt delays are 15-bit fields")
    return (
        rx_delay
        | tx_delay << ENA_ETH_IO_INTR_REG_TX_INTR_DELAY_SHIFT
        | int(bool(unmask)) << ENA_ETH_IO_INTR_REG_INTR_UNMASK_SHIFT
        | int(bool(no_moderation_update)) << ENA_ETH_IO_INTR_REG_NO_MODERATION_UPDATE_SHIFT
    )


def intr_reg_decode(value: int) -> dict:
    value = int(value)
    return {
        "rx_intr_delay": value & ENA_ETH_IO_INTR_REG_RX_INTR_DELAY_MASK,
        "tx_intr_delay": (value & ENA_ETH_IO_INTR_REG_TX_INTR_DELAY_MASK)
        >> ENA_ETH_IO_INTR_REG_TX_INTR_DELAY_SHIFT,
        "intr_unmask": (value >> ENA_ETH_IO_INTR_REG_INTR_UNMASK_SHIFT) & 1,
        "no_moderation_update": (value >> ENA_ETH_IO_INTR_REG_NO_MODERATION_UPDATE_SHIFT) & 1,
    }


# =========================================================================================
# CQ entry sizes as CREATE_CQ expresses them (32-bit words)
# =========================================================================================
ENA_TX_CDESC_SIZE_WORDS = ENA_TX_CDESC_SIZE // 4
ENA_TX_CDESC_EXT_SIZE_WORDS = ENA_TX_CDESC_EXT_SIZE // 4
ENA_RX_CDESC_SIZE_WORDS = ENA_RX_CDESC_SIZE // 4
ENA_RX_CDESC_EXT_SIZE_WORDS = ENA_RX_CDESC_EXT_SIZE // 4

# =========================================================================================
# LLQ (§6)
# =========================================================================================
ENA_LLQ_NORMAL_LINE_SIZE = 128
ENA_LLQ_MEDIUM_LINE_SIZE = 192
ENA_LLQ_LARGE_LINE_SIZE = 256
ENA_LLQ_DEFAULT_DESCS_BEFORE_HEADER = 2


def llq_max_pushed_header(line_size: int, descs_before_header: int) -> int:
    """Largest header that fits the first line (96 for 128 B / 2 descs, 224 for 256 B)."""
    return line_size - ENA_DESC_SIZE * descs_before_header


def llq_descs_per_line(line_size: int) -> int:
    return line_size // ENA_DESC_SIZE


def llq_lines_for_packet(num_descs: int, line_size: int, descs_before_header: int) -> int:
    """Lines one packet uses: the first line, then full continuation lines (inline header)."""
    rest = max(0, num_descs - descs_before_header)
    per_line = llq_descs_per_line(line_size)
    return 1 + (rest + per_line - 1) // per_line


# =========================================================================================
# Reference pack / unpack over uint32 words
# =========================================================================================
def _pack_words(table: dict, nwords: int, values: dict) -> np.ndarray:
    words = [0] * nwords
    for name, value in values.items():
        word, mask, shift = table[name]
        value = int(value)
        if value < 0 or (value << shift) & ~mask:
            raise ValueError(f"{name}={value:#x} does not fit mask {mask:#x}")
        words[word] |= value << shift
    return np.array(words, dtype=np.uint32)


def _unpack_words(table: dict, words) -> dict:
    w = [int(x) for x in np.asarray(words, dtype=np.uint32)]
    return {name: (w[word] & mask) >> shift for name, (word, mask, shift) in table.items()}


def tx_desc_pack(
    *,
    length: int,
    req_id: int,
    first: int,
    last: int,
    comp_req: int,
    phase: int,
    l3_proto_idx: int = 0,
    df: int = 0,
    tso_en: int = 0,
    l4_proto_idx: int = 0,
    l3_csum_en: int = 0,
    l4_csum_en: int = 0,
    ethernet_fcs_dis: int = 0,
    l4_csum_partial: int = 0,
    addr: int,
    header_length: int = 0,
) -> np.ndarray:
    """Tx data descriptor as 4 little-endian uint32 words (meta_desc = 0)."""
    if not 0 <= req_id <= 0xFFFF:
        raise ValueError(f"req_id {req_id:#x} is not 16-bit")
    lo, hi = addr48_split(addr)
    return _pack_words(
        TX_DESC_FIELDS,
        4,
        dict(
            length=length, req_id_hi=req_id >> ENA_TX_REQ_ID_LO_BITS, phase=phase, first=first,
            last=last, comp_req=comp_req, l3_proto_idx=l3_proto_idx, df=df, tso_en=tso_en,
            l4_proto_idx=l4_proto_idx, l3_csum_en=l3_csum_en, l4_csum_en=l4_csum_en,
            ethernet_fcs_dis=ethernet_fcs_dis, l4_csum_partial=l4_csum_partial,
            req_id_lo=req_id & ENA_TX_REQ_ID_LO_MASK, buff_addr_lo=lo, addr_hi=hi,
            header_length=header_length,
        ),
    )


def tx_desc_unpack(words) -> dict:
    """Decode a Tx data descriptor; adds joined ``req_id`` and ``addr``."""
    d = _unpack_words(TX_DESC_FIELDS, words)
    d["req_id"] = d["req_id_hi"] << ENA_TX_REQ_ID_LO_BITS | d["req_id_lo"]
    d["addr"] = addr48_join(d["buff_addr_lo"], d["addr_hi"])
    return d


def tx_meta_desc_pack(
    *,
    phase: int,
    first: int = 1,
    last: int = 0,
    comp_req: int = 0,
    ext_valid: int = 1,
    eth_meta_type: int = 1,
    meta_store: int = 1,
    mss: int = 0,
    l3_hdr_len: int = 0,
    l3_hdr_off: int = 0,
    l4_hdr_len_in_words: int = 0,
    req_id: int = 0,
) -> np.ndarray:
    """Tx meta descriptor as 4 uint32 words (meta_desc = 1).

    Defaults are what Linux sets (ext_valid, eth_meta_type, meta_store, first). ``req_id``
    is the 2016 layout only; today's devices ignore those bits.
    """
    if not 0 <= mss <= ENA_TX_MSS_MAX:
        raise ValueError(f"mss {mss} is not a 14-bit value")
    if not 0 <= req_id <= 0xFFFF:
        raise ValueError(f"req_id {req_id:#x} is not 16-bit")
    return _pack_words(
        TX_META_DESC_FIELDS,
        4,
        dict(
            req_id_lo=req_id & ENA_TX_REQ_ID_LO_MASK, ext_valid=ext_valid,
            mss_hi=mss >> ENA_TX_MSS_LO_BITS, eth_meta_type=eth_meta_type,
            meta_store=meta_store, meta_desc=1, phase=phase, first=first, last=last,
            comp_req=comp_req, req_id_hi=req_id >> ENA_TX_REQ_ID_LO_BITS,
            l3_hdr_len=l3_hdr_len, l3_hdr_off=l3_hdr_off,
            l4_hdr_len_in_words=l4_hdr_len_in_words,
            mss_lo=mss & ((1 << ENA_TX_MSS_LO_BITS) - 1),
        ),
    )


def tx_meta_desc_unpack(words) -> dict:
    """Decode a Tx meta descriptor; adds joined ``mss`` and 2016 ``req_id``."""
    d = _unpack_words(TX_META_DESC_FIELDS, words)
    d["mss"] = d["mss_hi"] << ENA_TX_MSS_LO_BITS | d["mss_lo"]
    d["req_id"] = d["req_id_hi"] << ENA_TX_REQ_ID_LO_BITS | d["req_id_lo"]
    return d


def tx_cdesc_pack(
    *,
    req_id: int,
    phase: int,
    status: int = 0,
    sub_qid: int = 0,
    sq_head_idx: int = 0,
    mbz: int = 0,
    timestamp: int | None = None,
) -> np.ndarray:
    """Tx completion: 2 uint32 words, or 4 (extended format) when ``timestamp`` is given."""
    for name, value, bits in (("req_id", req_id, 16), ("status", status, 8),
                              ("sub_qid", sub_qid, 16), ("sq_head_idx", sq_head_idx, 16),
                              ("phase", phase, 1), ("mbz", mbz, 2)):
        if not 0 <= value < 1 << bits:
            raise ValueError(f"{name}={value} does not fit {bits} bits")
    flags = phase | mbz << ENA_ETH_IO_TX_CDESC_MBZ6_SHIFT
    words = [req_id | status << 16 | flags << 24, sub_qid | sq_head_idx << 16]
    if timestamp is not None:
        if not 0 <= timestamp < 1 << 64:
            raise ValueError("timestamp is a u64")
        words += [timestamp & 0xFFFFFFFF, timestamp >> 32]
    return np.array(words, dtype=np.uint32)


def tx_cdesc_unpack(words) -> dict:
    w = [int(x) for x in np.asarray(words, dtype=np.uint32)]
    flags = w[0] >> 24
    d = {
        "req_id": w[0] & 0xFFFF,
        "status": (w[0] >> 16) & 0xFF,
        "flags": flags,
        "phase": flags & ENA_ETH_IO_TX_CDESC_PHASE_MASK,
        "mbz": (flags & ENA_ETH_IO_TX_CDESC_MBZ6_MASK) >> ENA_ETH_IO_TX_CDESC_MBZ6_SHIFT,
        "sub_qid": w[1] & 0xFFFF,
        "sq_head_idx": w[1] >> 16,
    }
    if len(w) >= 4:
        d["timestamp"] = w[3] << 32 | w[2]
    return d


def rx_desc_pack(
    *,
    length: int,
    req_id: int,
    addr: int,
    phase: int,
    first: int = 1,
    last: int = 1,
    comp_req: int = 1,
    mbo: int = 0,
) -> np.ndarray:
    """Rx descriptor as 4 uint32 words; defaults are what Linux posts (first|last|comp_req)."""
    lo, hi = addr48_split(addr)
    return _pack_words(
        RX_DESC_FIELDS,
        4,
        dict(length=length, phase=phase, first=first, last=last, comp_req=comp_req, mbo=mbo,
             req_id=req_id, buff_addr_lo=lo, buff_addr_hi=hi),
    )


def rx_desc_unpack(words) -> dict:
    d = _unpack_words(RX_DESC_FIELDS, words)
    d["addr"] = addr48_join(d["buff_addr_lo"], d["buff_addr_hi"])
    return d


def rx_cdesc_pack(
    *,
    length: int,
    req_id: int,
    phase: int,
    first: int,
    last: int,
    l3_proto_idx: int = 0,
    l4_proto_idx: int = 0,
    src_vlan_cnt: int = 0,
    l3_csum_err: int = 0,
    l4_csum_err: int = 0,
    ipv4_frag: int = 0,
    l4_csum_checked: int = 0,
    l3_csum2: int = 0,
    buffer: int = 0,
    mbz7: int = 0,
    mbz17: int = 0,
    hash: int = 0,  # noqa: A002 - driver field name
    sub_qid: int = 0,
    offset: int = 0,
    addr: int | None = None,
    timestamp: int | None = None,
) -> np.ndarray:
    """Rx completion: 4 uint32 words, or 8 (extended) when ``addr`` or ``timestamp`` given."""
    words = _pack_words(
        RX_CDESC_FIELDS,
        4,
        dict(
            l3_proto_idx=l3_proto_idx, src_vlan_cnt=src_vlan_cnt, mbz7=mbz7,
            l4_proto_idx=l4_proto_idx, l3_csum_err=l3_csum_err, l4_csum_err=l4_csum_err,
            ipv4_frag=ipv4_frag, l4_csum_checked=l4_csum_checked, mbz17=mbz17, phase=phase,
            l3_csum2=l3_csum2, first=first, last=last, buffer=buffer, length=length,
            req_id=req_id, hash=hash, sub_qid=sub_qid, offset=offset,
        ),
    )
    if addr is None and timestamp is None:
        return words
    lo, hi = addr48_split(addr or 0)
    ts = timestamp or 0
    if not 0 <= ts < 1 << 64:
        raise ValueError("timestamp is a u64")
    ext = np.array([lo, hi, ts & 0xFFFFFFFF, ts >> 32], dtype=np.uint32)
    return np.concatenate([words, ext])


def rx_cdesc_unpack(words) -> dict:
    w = np.asarray(words, dtype=np.uint32)
    d = _unpack_words(RX_CDESC_FIELDS, w[:4])
    d["status"] = int(w[0])
    if len(w) >= 8:
        d["addr"] = addr48_join(int(w[4]), int(w[5]) & 0xFFFF)
        d["timestamp"] = int(w[7]) << 32 | int(w[6])
    return d
