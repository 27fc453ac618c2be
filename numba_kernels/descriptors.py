"""ENA IO descriptor kernels: pack and parse Tx/Rx descriptors and completions in word rings.

Reproduces the descriptor encodings of `ena_eth_io_defs.h` as used by the Linux driver (same
bit positions in 2016 v1.0.0 and today's v2.17.0; INTERFACE.md §5.3-§5.7). A ring is a uint32
word array over DMA memory: Tx SQ ``(D, 4)``, Tx CQ ``(D, 2)`` (8-byte base cdesc), Rx SQ
``(D, 4)``, Rx CQ ``(D, 4)`` (16-byte base cdesc). Everything is little-endian, so a field's
byte position maps directly onto bits of the uint32 word holding it.

Parsers fill an int64 record whose indices are the ``TXD_*``/``TXM_*``/``TXC_*``/``RXD_*``/
``RXC_*`` constants below; writers take plain ints. All arithmetic is done in int64 (never
uint64: numba would promote mixed uint64/int64 to float).

Kernel return codes (shared by every module of this package): ``>= 0`` is a count or an
index, negative values are the ``ERR_*`` constants below.
"""

from __future__ import annotations

import numpy as np

from numba_kernels.jit import njit

# ---- return codes shared by the descriptor/ring/LLQ/packet/TSO kernels -------------------
ERR_BAD_REQ_ID = -1  # req_id >= depth or not outstanding (driver: reset reason 4 Rx / 5 Tx)
ERR_TOO_MANY_DESCS = -2  # packet spans more descriptors than allowed (reason 6 on Rx)
ERR_MALFORMED = -3  # 'first' in mid-packet, MBZ bits set (reason 16 Rx / 17 Tx)
ERR_PHASE = -4  # descriptor inside the published SQ range carries the wrong phase
ERR_NO_FIRST = -5  # packet does not start with a 'first' descriptor
ERR_HEADER_TOO_LONG = -6  # LLQ pushed header larger than line - 16 * descs_before_header
ERR_NO_SPACE = -7  # output buffer too small
ERR_BAD_FRAME = -8  # frame cannot be parsed for the requested operation
ERR_BAD_MSS = -9  # TSO with mss <= 0

# ---- common control bits (word 0 bits 31:24 = byte 3 of Tx/Rx descs) ---------------------
CTRL_META_DESC = 1 << 23
CTRL_PHASE = 1 << 24
CTRL_FIRST = 1 << 26
CTRL_LAST = 1 << 27
CTRL_COMP_REQ = 1 << 28
RX_CTRL_MBO = 1 << 29

# ---- Tx descriptor (§5.3) -------------------------------------------------------------------
TX_LEN_MASK = 0xFFFF
TX_REQ_ID_HI_SHIFT = 16  # word 0 bits 21:16 = req_id 15:10
TX_REQ_ID_HI_MASK = 0x3F << 16
TX_REQ_ID_LO_SHIFT = 22  # word 1 bits 31:22 = req_id 9:0
TX_REQ_ID_LO_MASK = 0x3FF << 22
TX_L3_PROTO_MASK = 0xF
TX_DF = 1 << 4
TX_TSO_EN = 1 << 7
TX_L4_PROTO_SHIFT = 8
TX_L4_PROTO_MASK = 0x1F << 8
TX_L3_CSUM_EN = 1 << 13
TX_L4_CSUM_EN = 1 << 14
TX_ETH_FCS_DIS = 1 << 15
TX_L4_CSUM_PARTIAL = 1 << 17
TX_OFFLOAD_MASK = 0x3FFFFF  # word 1 bits 21:0: everything except the req_id low bits
TX_HDR_LEN_SHIFT = 24  # word 3 bits 31:24
TX_ADDR_HI_MASK = 0xFFFF

# ---- Tx meta descriptor (§5.4) --------------------------------------------------------------
TXM_EXT_VALID = 1 << 14
TXM_MSS_HI_SHIFT = 16  # word 0 bits 19:16 = mss 13:10
TXM_MSS_HI_MASK = 0xF << 16
TXM_ETH_META_TYPE = 1 << 20
TXM_META_STORE = 1 << 21
TXM_L3_HDR_OFF_SHIFT = 8
TXM_L4_HDR_LEN_SHIFT = 16  # word 2 bits 21:16, in 32-bit words
TXM_MSS_LO_SHIFT = 22  # word 2 bits 31:22 = mss 9:0

# ---- Tx completion (§5.5) -----------------------------------------------------------------
TXC_STATUS_SHIFT = 16
TXC_PHASE = 1 << 24
TXC_MBZ = 0xC0 << 24  # flags bits 7:6

# ---- Rx completion status word (§5.7) -------------------------------------------------------
RXC_L3_PROTO_MASK = 0x1F
RXC_VLAN_CNT_SHIFT = 5
RXC_VLAN_CNT_MASK = 0x3 << 5
RXC_MBZ7 = 1 << 7
RXC_L4_PROTO_SHIFT = 8
RXC_L4_PROTO_MASK = 0x1F << 8
RXC_L3_CSUM_ERR = 1 << 13
RXC_L4_CSUM_ERR = 1 << 14
RXC_IPV4_FRAG = 1 << 15
RXC_L4_CSUM_CHECKED = 1 << 16
RXC_MBZ17 = 1 << 17
RXC_PHASE = 1 << 24
RXC_L3_CSUM2 = 1 << 25
RXC_FIRST = 1 << 26
RXC_LAST = 1 << 27
RXC_BUFFER = 1 << 30
RXC_MBZ = RXC_MBZ7 | RXC_MBZ17
# Bits a device may set in the last cdesc from its frame parse (not phase/first/last/buffer).
RXC_PARSE_MASK = 0x1FFFF | RXC_L3_CSUM2

# ---- parse record indices -------------------------------------------------------------------
TXD_LEN = 0
TXD_REQ_ID = 1
TXD_META_DESC = 2
TXD_PHASE = 3
TXD_FIRST = 4
TXD_LAST = 5
TXD_COMP_REQ = 6
TXD_L3_PROTO = 7
TXD_DF = 8
TXD_TSO_EN = 9
TXD_L4_PROTO = 10
TXD_L3_CSUM_EN = 11
TXD_L4_CSUM_EN = 12
TXD_FCS_DIS = 13
TXD_L4_CSUM_PARTIAL = 14
TXD_ADDR = 15
TXD_HDR_LEN = 16
TXD_NFIELDS = 17

TXM_EXT_VALID_F = 0
TXM_MSS = 1
TXM_ETH_META_TYPE_F = 2
TXM_META_STORE_F = 3
TXM_META_DESC = 4
TXM_PHASE = 5
TXM_FIRST = 6
TXM_LAST = 7
TXM_COMP_REQ = 8
TXM_L3_HDR_LEN = 9
TXM_L3_HDR_OFF = 10
TXM_L4_HDR_LEN = 11  # in 32-bit words, as on the wire
TXM_NFIELDS = 12

TXC_REQ_ID = 0
TXC_STATUS = 1
TXC_PHASE_F = 2
TXC_FLAGS = 3
TXC_SUB_QID = 4
TXC_SQ_HEAD = 5
TXC_NFIELDS = 6

RXD_LEN = 0
RXD_PHASE = 1
RXD_FIRST = 2
RXD_LAST = 3
RXD_COMP_REQ = 4
RXD_MBO = 5
RXD_REQ_ID = 6
RXD_ADDR = 7
RXD_NFIELDS = 8

RXC_L3_PROTO = 0
RXC_VLAN_CNT = 1
RXC_L4_PROTO = 2
RXC_L3_CSUM_ERR_F = 3
RXC_L4_CSUM_ERR_F = 4
RXC_IPV4_FRAG_F = 5
RXC_L4_CSUM_CHECKED_F = 6
RXC_PHASE_F = 7
RXC_L3_CSUM2_F = 8
RXC_FIRST_F = 9
RXC_LAST_F = 10
RXC_BUFFER_F = 11
RXC_MBZ_F = 12  # 1 if any MBZ bit is set
RXC_LENGTH = 13
RXC_REQ_ID = 14
RXC_HASH = 15
RXC_SUB_QID = 16
RXC_OFFSET = 17
RXC_STATUS = 18  # raw status word
RXC_NFIELDS = 19


# ---- Tx descriptor ----------------------------------------------------------------------------
@njit(leaf=True)
def tx_offload_word(l3_proto, df, tso_en, l4_proto, l3_csum_en, l4_csum_en, fcs_dis,
                    l4_csum_partial):
    """Word-1 offload bits of a Tx descriptor (§5.3), without the req_id low bits."""
    w = l3_proto & TX_L3_PROTO_MASK
    if df:
        w |= TX_DF
    if tso_en:
        w |= TX_TSO_EN
    w |= (l4_proto << TX_L4_PROTO_SHIFT) & TX_L4_PROTO_MASK
    if l3_csum_en:
        w |= TX_L3_CSUM_EN
    if l4_csum_en:
        w |= TX_L4_CSUM_EN
    if fcs_dis:
        w |= TX_ETH_FCS_DIS
    if l4_csum_partial:
        w |= TX_L4_CSUM_PARTIAL
    return w


@njit(leaf=True)
def tx_desc_write(ring, slot, phase, length, req_id, first, last, comp_req, offload, addr,
                  header_length):
    """Write one Tx data descriptor at ``ring[slot]`` (§5.3: req_id split 6 high + 10 low).

    ``offload`` is a word from :func:`tx_offload_word`; ``addr`` a 48-bit DMA address.
    """
    rid = np.int64(req_id)
    a = np.int64(addr)
    w0 = (np.int64(length) & TX_LEN_MASK) | (((rid >> 10) & 0x3F) << TX_REQ_ID_HI_SHIFT)
    if phase:
        w0 |= CTRL_PHASE
    if first:
        w0 |= CTRL_FIRST
    if last:
        w0 |= CTRL_LAST
    if comp_req:
        w0 |= CTRL_COMP_REQ
    w1 = (np.int64(offload) & TX_OFFLOAD_MASK) | ((rid & 0x3FF) << TX_REQ_ID_LO_SHIFT)
    ring[slot, 0] = w0
    ring[slot, 1] = w1
    ring[slot, 2] = a & 0xFFFFFFFF
    ring[slot, 3] = ((a >> 32) & TX_ADDR_HI_MASK) | (
        (np.int64(header_length) & 0xFF) << TX_HDR_LEN_SHIFT)


@njit
def tx_desc_read(ring, slot, out):
    """Parse the Tx data descriptor at ``ring[slot]`` into ``out[TXD_*]``; returns ``out``."""
    w0 = np.int64(ring[slot, 0])
    w1 = np.int64(ring[slot, 1])
    w2 = np.int64(ring[slot, 2])
    w3 = np.int64(ring[slot, 3])
    out[TXD_LEN] = w0 & TX_LEN_MASK
    out[TXD_REQ_ID] = (((w0 & TX_REQ_ID_HI_MASK) >> TX_REQ_ID_HI_SHIFT) << 10) | (
        (w1 & TX_REQ_ID_LO_MASK) >> TX_REQ_ID_LO_SHIFT)
    out[TXD_META_DESC] = (w0 >> 23) & 1
    out[TXD_PHASE] = (w0 >> 24) & 1
    out[TXD_FIRST] = (w0 >> 26) & 1
    out[TXD_LAST] = (w0 >> 27) & 1
    out[TXD_COMP_REQ] = (w0 >> 28) & 1
    out[TXD_L3_PROTO] = w1 & TX_L3_PROTO_MASK
    out[TXD_DF] = (w1 >> 4) & 1
    out[TXD_TSO_EN] = (w1 >> 7) & 1
    out[TXD_L4_PROTO] = (w1 & TX_L4_PROTO_MASK) >> TX_L4_PROTO_SHIFT
    out[TXD_L3_CSUM_EN] = (w1 >> 13) & 1
    out[TXD_L4_CSUM_EN] = (w1 >> 14) & 1
    out[TXD_FCS_DIS] = (w1 >> 15) & 1
    out[TXD_L4_CSUM_PARTIAL] = (w1 >> 17) & 1
    out[TXD_ADDR] = ((w3 & TX_ADDR_HI_MASK) << 32) | w2
    out[TXD_HDR_LEN] = (w3 >> TX_HDR_LEN_SHIFT) & 0xFF
    return out


# ---- Tx meta descriptor -----------------------------------------------------------------------
@njit(leaf=True)
def tx_meta_words(mss, l3_hdr_len, l3_hdr_off, l4_hdr_len_words, meta_store):
    """(word0, word2) of an extended Tx meta descriptor as Linux builds it (§5.4).

    Word 0 carries meta_desc, ext_valid, eth_meta_type and the high MSS bits; first/phase are
    added by the writer. Returned separately so the driver can compare them with its cached
    offload context before deciding whether a meta descriptor is needed at all.
    """
    w0 = CTRL_META_DESC | TXM_EXT_VALID | TXM_ETH_META_TYPE
    w0 |= ((mss >> 10) << TXM_MSS_HI_SHIFT) & TXM_MSS_HI_MASK
    if meta_store:
        w0 |= TXM_META_STORE
    w2 = (l3_hdr_len & 0xFF) | ((l3_hdr_off & 0xFF) << TXM_L3_HDR_OFF_SHIFT)
    w2 |= (l4_hdr_len_words & 0x3F) << TXM_L4_HDR_LEN_SHIFT
    w2 |= (mss & 0x3FF) << TXM_MSS_LO_SHIFT
    return w0, w2


@njit(leaf=True)
def tx_meta_desc_write(ring, slot, phase, first, w0, w2):
    """Write a meta descriptor from :func:`tx_meta_words` output with ``first`` and phase."""
    w = (w0 | CTRL_META_DESC) & ~(CTRL_PHASE | CTRL_FIRST)
    if phase:
        w |= CTRL_PHASE
    if first:
        w |= CTRL_FIRST
    ring[slot, 0] = w
    ring[slot, 1] = 0
    ring[slot, 2] = w2 & 0xFFFFFFFF
    ring[slot, 3] = 0


@njit
def tx_meta_fields(w0, w2, out):
    """Decode meta words 0 and 2 into ``out[TXM_*]`` (MSS = 4 high bits + 10 low bits)."""
    out[TXM_EXT_VALID_F] = (w0 >> 14) & 1
    out[TXM_MSS] = (((w0 & TXM_MSS_HI_MASK) >> TXM_MSS_HI_SHIFT) << 10) | (
        (w2 >> TXM_MSS_LO_SHIFT) & 0x3FF)
    out[TXM_ETH_META_TYPE_F] = (w0 >> 20) & 1
    out[TXM_META_STORE_F] = (w0 >> 21) & 1
    out[TXM_META_DESC] = (w0 >> 23) & 1
    out[TXM_PHASE] = (w0 >> 24) & 1
    out[TXM_FIRST] = (w0 >> 26) & 1
    out[TXM_LAST] = (w0 >> 27) & 1
    out[TXM_COMP_REQ] = (w0 >> 28) & 1
    out[TXM_L3_HDR_LEN] = w2 & 0xFF
    out[TXM_L3_HDR_OFF] = (w2 >> 8) & 0xFF
    out[TXM_L4_HDR_LEN] = (w2 >> TXM_L4_HDR_LEN_SHIFT) & 0x3F
    return out


@njit
def tx_meta_desc_read(ring, slot, out):
    """Parse the meta descriptor at ``ring[slot]`` into ``out[TXM_*]``."""
    return tx_meta_fields(np.int64(ring[slot, 0]), np.int64(ring[slot, 2]), out)


# ---- Tx completion -----------------------------------------------------------------------------
@njit(leaf=True)
def tx_cdesc_write(cq, slot, phase, req_id, status, sub_qid, sq_head_idx):
    """Write an 8-byte Tx cdesc (§5.5); word 0 (holding the phase) is stored last."""
    cq[slot, 1] = (np.int64(sub_qid) & 0xFFFF) | ((np.int64(sq_head_idx) & 0xFFFF) << 16)
    w0 = (np.int64(req_id) & 0xFFFF) | ((status & 0xFF) << TXC_STATUS_SHIFT)
    if phase:
        w0 |= TXC_PHASE
    cq[slot, 0] = w0


@njit
def tx_cdesc_read(cq, slot, out):
    """Parse the Tx cdesc at ``cq[slot]`` into ``out[TXC_*]`` (flags = raw byte 3)."""
    w0 = np.int64(cq[slot, 0])
    w1 = np.int64(cq[slot, 1])
    out[TXC_REQ_ID] = w0 & 0xFFFF
    out[TXC_STATUS] = (w0 >> 16) & 0xFF
    out[TXC_PHASE_F] = (w0 >> 24) & 1
    out[TXC_FLAGS] = (w0 >> 24) & 0xFF
    out[TXC_SUB_QID] = w1 & 0xFFFF
    out[TXC_SQ_HEAD] = (w1 >> 16) & 0xFFFF
    return out


# ---- Rx descriptor ------------------------------------------------------------------------------
@njit(leaf=True)
def rx_desc_write(ring, slot, phase, length, req_id, addr, first, last, comp_req):
    """Write one Rx descriptor (§5.6); ``length`` 65536 is encoded as 0 (= 64 KB)."""
    a = np.int64(addr)
    w0 = np.int64(length) & 0xFFFF
    if phase:
        w0 |= CTRL_PHASE
    if first:
        w0 |= CTRL_FIRST
    if last:
        w0 |= CTRL_LAST
    if comp_req:
        w0 |= CTRL_COMP_REQ
    ring[slot, 0] = w0
    ring[slot, 1] = np.int64(req_id) & 0xFFFF
    ring[slot, 2] = a & 0xFFFFFFFF
    ring[slot, 3] = (a >> 32) & 0xFFFF


@njit
def rx_desc_read(ring, slot, out):
    """Parse the Rx descriptor at ``ring[slot]`` into ``out[RXD_*]`` (length 0 -> 65536)."""
    w0 = np.int64(ring[slot, 0])
    length = w0 & 0xFFFF
    out[RXD_LEN] = 65536 if length == 0 else length
    out[RXD_PHASE] = (w0 >> 24) & 1
    out[RXD_FIRST] = (w0 >> 26) & 1
    out[RXD_LAST] = (w0 >> 27) & 1
    out[RXD_COMP_REQ] = (w0 >> 28) & 1
    out[RXD_MBO] = (w0 >> 29) & 1
    out[RXD_REQ_ID] = np.int64(ring[slot, 1]) & 0xFFFF
    out[RXD_ADDR] = ((np.int64(ring[slot, 3]) & 0xFFFF) << 32) | np.int64(ring[slot, 2])
    return out


@njit(leaf=True)
def rx_post_batch(ring, tail, depth, addrs, lengths, req_ids):
    """Post ``len(addrs)`` Rx buffers as first|last|comp_req from free-running ``tail``.

    Each slot gets the phase of its own free-running index (§5.1), so a batch may straddle a
    wrap. Returns the new free-running u16 tail (the value to write to the SQ doorbell).
    """
    mask = depth - 1
    n = addrs.shape[0]
    for i in range(n):
        idx = (tail + i) & 0xFFFF
        phase = ((idx // depth) & 1) == 0
        rx_desc_write(ring, idx & mask, phase, lengths[i], req_ids[i], addrs[i], True, True, True)
    return (tail + n) & 0xFFFF


# ---- Rx completion -------------------------------------------------------------------------------
@njit(leaf=True)
def rx_status_word(l3_proto, vlan_cnt, l4_proto, l3_csum_err, l4_csum_err, ipv4_frag,
                   l4_csum_checked, l3_csum2):
    """The parse-result bits of an Rx cdesc status word (§5.7), no phase/first/last/buffer."""
    s = (l3_proto & RXC_L3_PROTO_MASK) | ((vlan_cnt << RXC_VLAN_CNT_SHIFT) & RXC_VLAN_CNT_MASK)
    s |= (l4_proto << RXC_L4_PROTO_SHIFT) & RXC_L4_PROTO_MASK
    if l3_csum_err:
        s |= RXC_L3_CSUM_ERR
    if l4_csum_err:
        s |= RXC_L4_CSUM_ERR
    if ipv4_frag:
        s |= RXC_IPV4_FRAG
    if l4_csum_checked:
        s |= RXC_L4_CSUM_CHECKED
    if l3_csum2:
        s |= RXC_L3_CSUM2
    return s


@njit(leaf=True)
def rx_cdesc_write(cq, slot, phase, status_bits, first, last, length, req_id, rss_hash, sub_qid,
                   offset):
    """Write a 16-byte Rx cdesc (§5.7) with the buffer bit; the status word (phase) goes last.

    ``status_bits`` comes from :func:`rx_status_word`; phase/first/last/buffer are set here.
    """
    cq[slot, 1] = (np.int64(length) & 0xFFFF) | ((np.int64(req_id) & 0xFFFF) << 16)
    cq[slot, 2] = np.int64(rss_hash) & 0xFFFFFFFF
    cq[slot, 3] = (np.int64(sub_qid) & 0xFFFF) | ((np.int64(offset) & 0xFF) << 16)
    s = (np.int64(status_bits) & RXC_PARSE_MASK) | RXC_BUFFER
    if phase:
        s |= RXC_PHASE
    if first:
        s |= RXC_FIRST
    if last:
        s |= RXC_LAST
    cq[slot, 0] = s


@njit
def rx_cdesc_read(cq, slot, out):
    """Parse the Rx cdesc at ``cq[slot]`` into ``out[RXC_*]``."""
    s = np.int64(cq[slot, 0])
    w1 = np.int64(cq[slot, 1])
    w3 = np.int64(cq[slot, 3])
    out[RXC_L3_PROTO] = s & RXC_L3_PROTO_MASK
    out[RXC_VLAN_CNT] = (s & RXC_VLAN_CNT_MASK) >> RXC_VLAN_CNT_SHIFT
    out[RXC_L4_PROTO] = (s & RXC_L4_PROTO_MASK) >> RXC_L4_PROTO_SHIFT
    out[RXC_L3_CSUM_ERR_F] = (s >> 13) & 1
    out[RXC_L4_CSUM_ERR_F] = (s >> 14) & 1
    out[RXC_IPV4_FRAG_F] = (s >> 15) & 1
    out[RXC_L4_CSUM_CHECKED_F] = (s >> 16) & 1
    out[RXC_PHASE_F] = (s >> 24) & 1
    out[RXC_L3_CSUM2_F] = (s >> 25) & 1
    out[RXC_FIRST_F] = (s >> 26) & 1
    out[RXC_LAST_F] = (s >> 27) & 1
    out[RXC_BUFFER_F] = (s >> 30) & 1
    out[RXC_MBZ_F] = 1 if (s & RXC_MBZ) else 0
    out[RXC_LENGTH] = w1 & 0xFFFF
    out[RXC_REQ_ID] = (w1 >> 16) & 0xFFFF
    out[RXC_HASH] = np.int64(cq[slot, 2])
    out[RXC_SUB_QID] = w3 & 0xFFFF
    out[RXC_OFFSET] = (w3 >> 16) & 0xFF
    out[RXC_STATUS] = s
    return out


# ---- packet-level Tx writers ------------------------------------------------------------------
@njit(leaf=True)
def tx_write_packet(ring, tail, depth, req_id, comp_req, offload, header_length, addrs, lengths,
                    buf_start, nbufs, with_meta, meta_w0, meta_w2):
    """Write one packet's descriptors from free-running ``tail`` the way Linux fills them (§5.3).

    Optional meta descriptor first (it then carries ``first``), then one data descriptor per
    buffer ``addrs/lengths[buf_start:buf_start+nbufs]``; req_id, comp_req, header_length and
    offloads only on the first data descriptor, ``last`` on the last one. Each slot gets the
    phase of its own index. Returns the new u16 tail (free-space checks are the caller's).
    """
    mask = depth - 1
    t = tail
    if with_meta:
        tx_meta_desc_write(ring, t & mask, ((t // depth) & 1) == 0, True, meta_w0, meta_w2)
        t = (t + 1) & 0xFFFF
    for i in range(nbufs):
        first_data = i == 0
        tx_desc_write(ring, t & mask, ((t // depth) & 1) == 0, lengths[buf_start + i],
                      req_id if first_data else 0,
                      first_data and not with_meta, i == nbufs - 1,
                      comp_req if first_data else False,
                      offload if first_data else 0, addrs[buf_start + i],
                      header_length if first_data else 0)
        t = (t + 1) & 0xFFFF
    return t


@njit(leaf=True)
def tx_write_burst(ring, tail, depth, pkt_buf_start, pkt_nbufs, addrs, lengths, req_ids,
                   offloads, header_lengths, has_meta, meta_w0, meta_w2):
    """:func:`tx_write_packet` for ``len(req_ids)`` packets (comp_req on every packet).

    Per packet i: buffers ``pkt_buf_start[i] .. +pkt_nbufs[i]`` of ``addrs``/``lengths``,
    ``has_meta[i]`` selects a meta descriptor built from ``meta_w0[i]``/``meta_w2[i]``.
    Returns the new u16 tail.
    """
    t = tail
    for p in range(req_ids.shape[0]):
        t = tx_write_packet(ring, t, depth, req_ids[p], True, offloads[p], header_lengths[p],
                            addrs, lengths, pkt_buf_start[p], pkt_nbufs[p], has_meta[p] != 0,
                            meta_w0[p], meta_w2[p])
    return t
