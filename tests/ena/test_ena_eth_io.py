"""eth_io: IO descriptor layouts, MASK/SHIFT constants and reference pack/unpack (§5, §6)."""

import numpy as np
import pytest

from enatool.ena import bits
from enatool.ena import eth_io as e

from .helpers import check_roundtrip

pytestmark = pytest.mark.nojit

SIZES = {
    "ENA_ETH_IO_TX_DESC": 16, "ENA_ETH_IO_TX_META_DESC": 16, "ENA_ETH_IO_TX_CDESC": 8,
    "ENA_ETH_IO_TX_CDESC_EXT": 16, "ENA_ETH_IO_RX_DESC": 16, "ENA_ETH_IO_RX_CDESC_BASE": 16,
    "ENA_ETH_IO_RX_CDESC_EXT": 32,
}


@pytest.mark.parametrize("name", sorted(SIZES))
def test_itemsize_and_dtype_roundtrip(name):
    dt = getattr(e, name)
    assert dt.itemsize == SIZES[name]
    check_roundtrip(dt, seed=len(name))


def test_cdesc_offsets():
    tx = e.ENA_ETH_IO_TX_CDESC_EXT
    assert [tx.fields[n][1] for n in ("req_id", "status", "flags", "sub_qid", "sq_head_idx",
                                      "timestamp_low", "timestamp_high")] == \
        [0, 2, 3, 4, 6, 8, 12]
    rx = e.ENA_ETH_IO_RX_CDESC_EXT
    assert [rx.fields[n][1] for n in ("status", "length", "req_id", "hash", "sub_qid",
                                      "offset", "buff_addr_lo", "buff_addr_hi",
                                      "timestamp_low")] == [0, 4, 6, 8, 12, 14, 16, 20, 24]
    rxd = e.ENA_ETH_IO_RX_DESC
    assert [rxd.fields[n][1] for n in ("length", "ctrl", "req_id", "buff_addr_lo",
                                       "buff_addr_hi")] == [0, 3, 4, 8, 12]


# (table, field, word, hi, lo) from INTERFACE.md §5
BIT_RANGES = [
    ("TX_DESC", "length", 0, 15, 0), ("TX_DESC", "req_id_hi", 0, 21, 16),
    ("TX_DESC", "meta_desc", 0, 23, 23), ("TX_DESC", "phase", 0, 24, 24),
    ("TX_DESC", "first", 0, 26, 26), ("TX_DESC", "last", 0, 27, 27),
    ("TX_DESC", "comp_req", 0, 28, 28), ("TX_DESC", "l3_proto_idx", 1, 3, 0),
    ("TX_DESC", "df", 1, 4, 4), ("TX_DESC", "tso_en", 1, 7, 7),
    ("TX_DESC", "l4_proto_idx", 1, 12, 8), ("TX_DESC", "l3_csum_en", 1, 13, 13),
    ("TX_DESC", "l4_csum_en", 1, 14, 14), ("TX_DESC", "ethernet_fcs_dis", 1, 15, 15),
    ("TX_DESC", "l4_csum_partial", 1, 17, 17), ("TX_DESC", "req_id_lo", 1, 31, 22),
    ("TX_DESC", "buff_addr_lo", 2, 31, 0), ("TX_DESC", "addr_hi", 3, 15, 0),
    ("TX_DESC", "header_length", 3, 31, 24),
    ("TX_META_DESC", "req_id_lo", 0, 9, 0), ("TX_META_DESC", "ext_valid", 0, 14, 14),
    ("TX_META_DESC", "mss_hi", 0, 19, 16), ("TX_META_DESC", "eth_meta_type", 0, 20, 20),
    ("TX_META_DESC", "meta_store", 0, 21, 21), ("TX_META_DESC", "meta_desc", 0, 23, 23),
    ("TX_META_DESC", "phase", 0, 24, 24), ("TX_META_DESC", "first", 0, 26, 26),
    ("TX_META_DESC", "last", 0, 27, 27), ("TX_META_DESC", "comp_req", 0, 28, 28),
    ("TX_META_DESC", "req_id_hi", 1, 5, 0), ("TX_META_DESC", "l3_hdr_len", 2, 7, 0),
    ("TX_META_DESC", "l3_hdr_off", 2, 15, 8), ("TX_META_DESC", "l4_hdr_len_in_words", 2, 21, 16),
    ("TX_META_DESC", "mss_lo", 2, 31, 22),
    ("RX_DESC", "length", 0, 15, 0), ("RX_DESC", "phase", 0, 24, 24),
    ("RX_DESC", "first", 0, 26, 26), ("RX_DESC", "last", 0, 27, 27),
    ("RX_DESC", "comp_req", 0, 28, 28), ("RX_DESC", "mbo", 0, 29, 29),
    ("RX_DESC", "req_id", 1, 15, 0), ("RX_DESC", "buff_addr_lo", 2, 31, 0),
    ("RX_DESC", "buff_addr_hi", 3, 15, 0),
    ("RX_CDESC", "l3_proto_idx", 0, 4, 0), ("RX_CDESC", "src_vlan_cnt", 0, 6, 5),
    ("RX_CDESC", "mbz7", 0, 7, 7), ("RX_CDESC", "l4_proto_idx", 0, 12, 8),
    ("RX_CDESC", "l3_csum_err", 0, 13, 13), ("RX_CDESC", "l4_csum_err", 0, 14, 14),
    ("RX_CDESC", "ipv4_frag", 0, 15, 15), ("RX_CDESC", "l4_csum_checked", 0, 16, 16),
    ("RX_CDESC", "mbz17", 0, 17, 17), ("RX_CDESC", "phase", 0, 24, 24),
    ("RX_CDESC", "l3_csum2", 0, 25, 25), ("RX_CDESC", "first", 0, 26, 26),
    ("RX_CDESC", "last", 0, 27, 27), ("RX_CDESC", "buffer", 0, 30, 30),
    ("RX_CDESC", "length", 1, 15, 0), ("RX_CDESC", "req_id", 1, 31, 16),
    ("RX_CDESC", "hash", 2, 31, 0), ("RX_CDESC", "sub_qid", 3, 15, 0),
    ("RX_CDESC", "offset", 3, 23, 16),
]


@pytest.mark.parametrize("table,field,word,hi,lo", BIT_RANGES)
def test_field_tables_match_interface(table, field, word, hi, lo):
    w, mask, shift = getattr(e, f"{table}_FIELDS")[field]
    assert (w, shift, mask) == (word, lo, ((1 << (hi - lo + 1)) - 1) << lo)


@pytest.mark.parametrize("table", ["TX_DESC", "TX_META_DESC", "RX_DESC", "RX_CDESC"])
def test_tables_complete_and_disjoint(table):
    t = getattr(e, f"{table}_FIELDS")
    assert set(t) == {f for tb, f, *_ in BIT_RANGES if tb == table}
    used = {}
    for name, (w, mask, _shift) in t.items():
        assert used.get(w, 0) & mask == 0, name
        used[w] = used.get(w, 0) | mask


def test_driver_named_constants():
    assert e.ENA_ETH_IO_TX_DESC_REQ_ID_HI_MASK == 0x3F0000
    assert e.ENA_ETH_IO_TX_DESC_REQ_ID_LO_MASK == 0xFFC00000
    assert e.ENA_ETH_IO_TX_DESC_REQ_ID_LO_SHIFT == 22
    assert e.ENA_ETH_IO_TX_DESC_HEADER_LENGTH_MASK == 0xFF000000
    assert e.ENA_ETH_IO_TX_META_DESC_MSS_LO_MASK == 0xFFC00000
    assert e.ENA_ETH_IO_TX_CDESC_PHASE_MASK == 1 and e.ENA_ETH_IO_TX_CDESC_MBZ6_MASK == 0xC0
    assert e.ENA_ETH_IO_RX_DESC_FIRST_MASK == 4 and e.ENA_ETH_IO_RX_DESC_COMP_REQ_MASK == 0x10
    assert e.ENA_ETH_IO_RX_CDESC_BASE_BUFFER_MASK == 1 << 30
    assert e.ENA_ETH_IO_RX_CDESC_BASE_MBZ_MASK == (1 << 7) | (1 << 17)


def test_tx_desc_req_id_split_bytes():
    """req_id 0xABCD: 0x2A (bits 15:10) in word0 21:16, 0x3CD (bits 9:0) in word1 31:22."""
    w = e.tx_desc_pack(length=100, req_id=0xABCD, first=1, last=1, comp_req=1, phase=1,
                       addr=0x1234_5678_9ABC, header_length=42)
    assert w.dtype == np.uint32 and w.shape == (4,)
    assert [int(x) for x in w] == [0x1D2A0064, 0xF3400000, 0x56789ABC, 0x2A001234]
    assert w.tobytes() == bytes.fromhex("64002a1d 000040f3 bc9a7856 3412002a")
    d = bits.unpack(e.ENA_ETH_IO_TX_DESC, w.tobytes())
    assert d["len_ctrl"] == 0x1D2A0064 and d["buff_addr_hi_hdr_sz"] == 0x2A001234


def test_tx_desc_offload_example():
    w = e.tx_desc_pack(length=1514, req_id=5, first=1, last=0, comp_req=1, phase=0,
                       l3_proto_idx=e.L3ProtoIdx.IPV4, df=1, tso_en=1,
                       l4_proto_idx=e.L4ProtoIdx.TCP, l3_csum_en=1, l4_csum_en=1,
                       l4_csum_partial=0, addr=0x1000)
    assert int(w[1]) == 8 | 1 << 4 | 1 << 7 | 12 << 8 | 1 << 13 | 1 << 14 | 5 << 22


def _rand_fields(rng, spec):
    return {k: int(rng.integers(0, v + 1)) for k, v in spec.items()}


TX_SPEC = dict(length=0xFFFF, req_id=0xFFFF, first=1, last=1, comp_req=1, phase=1,
               l3_proto_idx=15, df=1, tso_en=1, l4_proto_idx=31, l3_csum_en=1, l4_csum_en=1,
               ethernet_fcs_dis=1, l4_csum_partial=1, addr=(1 << 48) - 1, header_length=255)


@pytest.mark.parametrize("mode", ["random", "ones", "zero"])
def test_tx_desc_roundtrip(mode):
    rng = np.random.default_rng(1)
    for _ in range(50 if mode == "random" else 1):
        f = _rand_fields(rng, TX_SPEC) if mode == "random" else \
            {k: (v if mode == "ones" else 0) for k, v in TX_SPEC.items()}
        d = e.tx_desc_unpack(e.tx_desc_pack(**f))
        assert {k: d[k] for k in f} == f
        assert d["meta_desc"] == 0
    if mode == "ones":
        w = e.tx_desc_pack(**f)
        # every defined bit set except meta_desc (bit 23) and the gaps
        assert int(w[0]) == 0x1D3FFFFF
        assert int(w[1]) == 0xFFC2FF9F


@pytest.mark.parametrize("bad", [dict(length=0x10000), dict(l3_proto_idx=16),
                                 dict(req_id=0x10000), dict(addr=1 << 48),
                                 dict(header_length=256), dict(phase=2)])
def test_tx_desc_overflow_raises(bad):
    f = dict(length=1, req_id=1, first=1, last=1, comp_req=1, phase=1, addr=0)
    f.update(bad)
    with pytest.raises(ValueError):
        e.tx_desc_pack(**f)


META_SPEC = dict(phase=1, first=1, last=1, comp_req=1, ext_valid=1, eth_meta_type=1,
                 meta_store=1, mss=e.ENA_TX_MSS_MAX, l3_hdr_len=255, l3_hdr_off=255,
                 l4_hdr_len_in_words=63, req_id=0xFFFF)


def test_tx_meta_desc_roundtrip_and_split():
    rng = np.random.default_rng(2)
    for _ in range(50):
        f = _rand_fields(rng, META_SPEC)
        d = e.tx_meta_desc_unpack(e.tx_meta_desc_pack(**f))
        assert {k: d[k] for k in f} == f and d["meta_desc"] == 1
    # MSS 1448 = 0x5A8: hi 4 bits (0x1) in word0 19:16, lo 10 bits (0x1A8) in word2 31:22
    w = e.tx_meta_desc_pack(phase=1, mss=1448, l3_hdr_len=20, l3_hdr_off=14,
                            l4_hdr_len_in_words=5)
    assert int(w[0]) == 1 << 14 | 1 << 16 | 1 << 20 | 1 << 21 | 1 << 23 | 1 << 24 | 1 << 26
    assert int(w[1]) == 0 and int(w[3]) == 0
    assert int(w[2]) == 20 | 14 << 8 | 5 << 16 | 0x1A8 << 22
    with pytest.raises(ValueError):
        e.tx_meta_desc_pack(phase=1, mss=1 << 14)


def test_tx_cdesc_pack_matches_dtype():
    w = e.tx_cdesc_pack(req_id=0xBEEF, phase=1, status=3, sub_qid=7, sq_head_idx=0x1234, mbz=2)
    assert w.shape == (2,)
    d = bits.unpack(e.ENA_ETH_IO_TX_CDESC, w.tobytes())
    assert (d["req_id"], d["status"], d["flags"], d["sub_qid"], d["sq_head_idx"]) == \
        (0xBEEF, 3, 0x81, 7, 0x1234)
    u = e.tx_cdesc_unpack(w)
    assert (u["phase"], u["mbz"], u["req_id"]) == (1, 2, 0xBEEF) and "timestamp" not in u
    w = e.tx_cdesc_pack(req_id=1, phase=0, timestamp=(1 << 64) - 5)
    assert w.shape == (4,)
    assert bits.unpack(e.ENA_ETH_IO_TX_CDESC_EXT, w.tobytes())["timestamp_high"] == 0xFFFFFFFF
    assert e.tx_cdesc_unpack(w)["timestamp"] == (1 << 64) - 5
    with pytest.raises(ValueError):
        e.tx_cdesc_pack(req_id=1 << 16, phase=1)
    with pytest.raises(ValueError):
        e.tx_cdesc_pack(req_id=1, phase=1, mbz=4)


def test_rx_desc_pack_matches_dtype():
    w = e.rx_desc_pack(length=3968, req_id=0x3FF, addr=0xFFFF_0000_1000, phase=1)
    d = bits.unpack(e.ENA_ETH_IO_RX_DESC, w.tobytes())
    assert d["length"] == 3968 and d["req_id"] == 0x3FF
    assert d["ctrl"] == 0x1D  # phase | first | last | comp_req, as Linux posts
    assert d["buff_addr"] == 0xFFFF_0000_1000
    assert d["reserved2"] == 0 and d["reserved6"] == 0 and d["reserved16_w3"] == 0
    u = e.rx_desc_unpack(w)
    assert (u["first"], u["last"], u["comp_req"], u["mbo"], u["addr"]) == \
        (1, 1, 1, 0, 0xFFFF_0000_1000)
    rng = np.random.default_rng(3)
    spec = dict(length=0xFFFF, req_id=0xFFFF, addr=(1 << 48) - 1, phase=1, first=1, last=1,
                comp_req=1, mbo=1)
    for _ in range(30):
        f = _rand_fields(rng, spec)
        u = e.rx_desc_unpack(e.rx_desc_pack(**f))
        assert {k: u[k] for k in f} == f


RX_CDESC_SPEC = dict(length=0xFFFF, req_id=0xFFFF, phase=1, first=1, last=1, l3_proto_idx=31,
                     l4_proto_idx=31, src_vlan_cnt=3, l3_csum_err=1, l4_csum_err=1,
                     ipv4_frag=1, l4_csum_checked=1, l3_csum2=1, buffer=1, mbz7=1, mbz17=1,
                     hash=0xFFFFFFFF, sub_qid=0xFFFF, offset=255)


def test_rx_cdesc_roundtrip():
    rng = np.random.default_rng(4)
    for _ in range(50):
        f = _rand_fields(rng, RX_CDESC_SPEC)
        u = e.rx_cdesc_unpack(e.rx_cdesc_pack(**f))
        assert {k: u[k] for k in f} == f
    ones = e.rx_cdesc_pack(**RX_CDESC_SPEC)
    assert int(ones[0]) == 0x4F03FFFF


def test_rx_cdesc_pack_matches_dtype():
    w = e.rx_cdesc_pack(length=1500, req_id=77, phase=1, first=1, last=1,
                        l3_proto_idx=e.L3ProtoIdx.IPV4, l4_proto_idx=e.L4ProtoIdx.UDP,
                        l4_csum_checked=1, hash=0xA4A1471A, sub_qid=3, offset=2)
    assert w.shape == (4,)
    d = bits.unpack(e.ENA_ETH_IO_RX_CDESC_BASE, w.tobytes())
    assert d["status"] == 8 | 13 << 8 | 1 << 16 | 1 << 24 | 1 << 26 | 1 << 27
    assert (d["length"], d["req_id"], d["hash"], d["sub_qid"], d["offset"], d["reserved"]) == \
        (1500, 77, 0xA4A1471A, 3, 2, 0)
    w = e.rx_cdesc_pack(length=1, req_id=1, phase=0, first=1, last=0,
                        addr=0x8000_0000_0040, timestamp=123456789012)
    assert w.shape == (8,)
    d = bits.unpack(e.ENA_ETH_IO_RX_CDESC_EXT, w.tobytes())
    assert d["buff_addr"] == 0x8000_0000_0040
    assert d["timestamp_high"] << 32 | d["timestamp_low"] == 123456789012
    u = e.rx_cdesc_unpack(w)
    assert u["addr"] == 0x8000_0000_0040 and u["timestamp"] == 123456789012
    with pytest.raises(ValueError):
        e.rx_cdesc_pack(length=1, req_id=1, phase=1, first=1, last=1, src_vlan_cnt=4)


def test_intr_reg():
    assert e.ENA_ETH_IO_INTR_REG_RX_INTR_DELAY_MASK == 0x7FFF
    assert e.ENA_ETH_IO_INTR_REG_TX_INTR_DELAY_MASK == 0x3FFF8000
    assert e.ENA_ETH_IO_INTR_REG_TX_INTR_DELAY_SHIFT == 15
    assert e.ENA_ETH_IO_INTR_REG_INTR_UNMASK_MASK == 1 << 30
    assert e.ENA_ETH_IO_INTR_REG_NO_MODERATION_UPDATE_MASK == 1 << 31
    v = e.intr_reg_value(20, 64, True)
    assert v == 20 | 64 << 15 | 1 << 30
    assert e.intr_reg_decode(v) == dict(rx_intr_delay=20, tx_intr_delay=64, intr_unmask=1,
                                        no_moderation_update=0)
    assert e.intr_reg_value(0x7FFF, 0x7FFF, True, True) == 0xFFFFFFFF
    with pytest.raises(ValueError):
        e.intr_reg_value(0x8000, 0, True)
    assert e.ENA_ETH_IO_NUMA_NODE_CFG_REG_NUMA_MASK == 0xFF
    assert e.ENA_ETH_IO_NUMA_NODE_CFG_REG_ENABLED_MASK == 1 << 31


def test_llq_helpers():
    assert e.llq_max_pushed_header(e.ENA_LLQ_NORMAL_LINE_SIZE,
                                   e.ENA_LLQ_DEFAULT_DESCS_BEFORE_HEADER) == 96
    assert e.llq_max_pushed_header(e.ENA_LLQ_LARGE_LINE_SIZE, 2) == 224
    assert e.llq_descs_per_line(128) == 8 and e.llq_descs_per_line(256) == 16
    assert e.llq_lines_for_packet(2, 128, 2) == 1
    assert e.llq_lines_for_packet(3, 128, 2) == 2
    assert e.llq_lines_for_packet(10, 128, 2) == 2
    assert e.llq_lines_for_packet(11, 128, 2) == 3
    assert e.llq_lines_for_packet(20, 256, 2) == 3


def test_cq_entry_words():
    assert (e.ENA_TX_CDESC_SIZE_WORDS, e.ENA_RX_CDESC_SIZE_WORDS) == (2, 4)
    assert (e.ENA_TX_CDESC_EXT_SIZE_WORDS, e.ENA_RX_CDESC_EXT_SIZE_WORDS) == (4, 8)


def test_proto_enums():
    assert {p.name: int(p) for p in e.L3ProtoIdx} == {
        "UNKNOWN": 0, "IPV4": 8, "IPV6": 11, "FCOE": 21, "ROCE": 22}
    assert {p.name: int(p) for p in e.L4ProtoIdx} == {
        "UNKNOWN": 0, "TCP": 12, "UDP": 13, "ROUTEABLE_ROCE": 23}
