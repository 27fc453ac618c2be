"""numba_kernels.descriptors against the eth_io reference pack/unpack (the naive twin)."""

from __future__ import annotations

import numpy as np
import pytest

from enatool.ena import eth_io
from numba_kernels import descriptors as d
from tests.naive import naive_datapath as naive

pytestmark = pytest.mark.nojit

RNG = np.random.default_rng(1234)
EDGE_REQ_IDS = [0, 1, 0x3FF, 0x400, 0xFC00, 0xFFFF]
EDGE_ADDRS = [0, 1, 0xFFFFFFFF, 1 << 32, (1 << 48) - 1]


def _rand_tx_fields(rng):
    return dict(
        length=int(rng.integers(0, 1 << 16)), req_id=int(rng.integers(0, 1 << 16)),
        first=int(rng.integers(2)), last=int(rng.integers(2)), comp_req=int(rng.integers(2)),
        phase=int(rng.integers(2)), l3_proto_idx=int(rng.choice([0, 8, 11, 15])),
        df=int(rng.integers(2)), tso_en=int(rng.integers(2)),
        l4_proto_idx=int(rng.choice([0, 12, 13, 31])), l3_csum_en=int(rng.integers(2)),
        l4_csum_en=int(rng.integers(2)), ethernet_fcs_dis=int(rng.integers(2)),
        l4_csum_partial=int(rng.integers(2)), addr=int(rng.integers(0, 1 << 48)),
        header_length=int(rng.integers(0, 256)))


def _write_tx(ring, slot, f):
    off = d.tx_offload_word(f["l3_proto_idx"], f["df"], f["tso_en"], f["l4_proto_idx"],
                            f["l3_csum_en"], f["l4_csum_en"], f["ethernet_fcs_dis"],
                            f["l4_csum_partial"])
    d.tx_desc_write(ring, slot, f["phase"], f["length"], f["req_id"], f["first"], f["last"],
                    f["comp_req"], off, f["addr"], f["header_length"])


def test_tx_desc_matches_reference_random_and_edges():
    ring = np.zeros((4, 4), dtype=np.uint32)
    out = np.zeros(d.TXD_NFIELDS, dtype=np.int64)
    cases = [_rand_tx_fields(RNG) for _ in range(40)]
    for rid in EDGE_REQ_IDS:
        for addr in EDGE_ADDRS:
            f = _rand_tx_fields(RNG)
            f.update(req_id=rid, addr=addr, length=rid, header_length=255 if rid else 0)
            cases.append(f)
    for f in cases:
        _write_tx(ring, 3, f)
        assert ring[3].tolist() == eth_io.tx_desc_pack(**f).tolist()
        d.tx_desc_read(ring, 3, out)
        ref = eth_io.tx_desc_unpack(ring[3])
        assert out[d.TXD_REQ_ID] == f["req_id"] == ref["req_id"]
        assert out[d.TXD_ADDR] == f["addr"] == ref["addr"]
        for name, idx in [("length", d.TXD_LEN), ("phase", d.TXD_PHASE), ("first", d.TXD_FIRST),
                          ("last", d.TXD_LAST), ("comp_req", d.TXD_COMP_REQ),
                          ("l3_proto_idx", d.TXD_L3_PROTO), ("df", d.TXD_DF),
                          ("tso_en", d.TXD_TSO_EN), ("l4_proto_idx", d.TXD_L4_PROTO),
                          ("l3_csum_en", d.TXD_L3_CSUM_EN), ("l4_csum_en", d.TXD_L4_CSUM_EN),
                          ("ethernet_fcs_dis", d.TXD_FCS_DIS),
                          ("l4_csum_partial", d.TXD_L4_CSUM_PARTIAL),
                          ("header_length", d.TXD_HDR_LEN), ("meta_desc", d.TXD_META_DESC)]:
            assert out[idx] == ref[name], name


@pytest.mark.parametrize("mss", [0, 1, 0x3FF, 0x400, 1448, 9001, 0x3FFF])
def test_tx_meta_matches_reference(mss):
    ring = np.zeros((2, 4), dtype=np.uint32)
    w0, w2 = d.tx_meta_words(mss, 40, 18, 8, True)
    d.tx_meta_desc_write(ring, 1, 0, 1, w0, w2)
    ref = eth_io.tx_meta_desc_pack(phase=0, mss=mss, l3_hdr_len=40, l3_hdr_off=18,
                                   l4_hdr_len_in_words=8)
    assert ring[1].tolist() == ref.tolist()
    out = d.tx_meta_desc_read(ring, 1, np.zeros(d.TXM_NFIELDS, dtype=np.int64))
    assert out[d.TXM_MSS] == mss
    assert out[d.TXM_L3_HDR_OFF] == 18 and out[d.TXM_L4_HDR_LEN] == 8
    assert out[d.TXM_META_STORE_F] == 1 and out[d.TXM_FIRST] == 1 and out[d.TXM_PHASE] == 0


@pytest.mark.parametrize("req_id", EDGE_REQ_IDS)
def test_tx_cdesc_roundtrip(req_id):
    cq = np.zeros((4, 2), dtype=np.uint32)
    for phase in (0, 1):
        d.tx_cdesc_write(cq, 2, phase, req_id, 0x5A, 7, 0xFFFF)
        ref = eth_io.tx_cdesc_pack(req_id=req_id, phase=phase, status=0x5A, sub_qid=7,
                                   sq_head_idx=0xFFFF)
        assert cq[2].tolist() == ref.tolist()
        out = d.tx_cdesc_read(cq, 2, np.zeros(d.TXC_NFIELDS, dtype=np.int64))
        assert out[d.TXC_REQ_ID] == req_id and out[d.TXC_PHASE_F] == phase
        assert out[d.TXC_SQ_HEAD] == 0xFFFF and out[d.TXC_STATUS] == 0x5A


def test_rx_desc_roundtrip_edges():
    ring = np.zeros((2, 4), dtype=np.uint32)
    out = np.zeros(d.RXD_NFIELDS, dtype=np.int64)
    for length in (1, 4096, 0xFFFF, 65536):
        for rid in EDGE_REQ_IDS:
            for addr in EDGE_ADDRS:
                d.rx_desc_write(ring, 0, 1, length, rid, addr, True, True, True)
                ref = eth_io.rx_desc_pack(length=length & 0xFFFF, req_id=rid, addr=addr, phase=1)
                assert ring[0].tolist() == ref.tolist()
                d.rx_desc_read(ring, 0, out)
                assert out[d.RXD_LEN] == length and out[d.RXD_REQ_ID] == rid
                assert out[d.RXD_ADDR] == addr and out[d.RXD_MBO] == 0


def test_rx_post_batch_wraps_like_naive():
    depth = 8
    ring = np.zeros((depth, 4), dtype=np.uint32)
    ref = np.zeros((depth, 4), dtype=np.uint32)
    tail = 0xFFFA  # crosses the u16 wrap as well as several ring wraps
    for n in (5, 8, 3, 7):
        addrs = RNG.integers(0, 1 << 48, n)
        lens = RNG.integers(1, 1 << 16, n)
        ids = RNG.integers(0, 1 << 16, n)
        new = d.rx_post_batch(ring, tail, depth, addrs, lens, ids)
        assert new == naive.rx_post(ref, tail, depth, addrs.tolist(), lens.tolist(), ids.tolist())
        assert np.array_equal(ring, ref)
        tail = new


def test_rx_cdesc_roundtrip():
    cq = np.zeros((4, 4), dtype=np.uint32)
    out = np.zeros(d.RXC_NFIELDS, dtype=np.int64)
    for _ in range(30):
        f = dict(l3_proto_idx=int(RNG.choice([0, 8, 11])), src_vlan_cnt=int(RNG.integers(4)),
                 l4_proto_idx=int(RNG.choice([0, 12, 13])), l3_csum_err=int(RNG.integers(2)),
                 l4_csum_err=int(RNG.integers(2)), ipv4_frag=int(RNG.integers(2)),
                 l4_csum_checked=int(RNG.integers(2)), l3_csum2=int(RNG.integers(2)))
        phase, first, last = (int(x) for x in RNG.integers(0, 2, 3))
        length, rid = int(RNG.integers(0, 1 << 16)), int(RNG.choice(EDGE_REQ_IDS))
        h, off = int(RNG.integers(0, 1 << 32)), int(RNG.integers(0, 256))
        s = d.rx_status_word(f["l3_proto_idx"], f["src_vlan_cnt"], f["l4_proto_idx"],
                             f["l3_csum_err"], f["l4_csum_err"], f["ipv4_frag"],
                             f["l4_csum_checked"], f["l3_csum2"])
        d.rx_cdesc_write(cq, 1, phase, s, first, last, length, rid, h, 3, off)
        ref = eth_io.rx_cdesc_pack(length=length, req_id=rid, phase=phase, first=first,
                                   last=last, buffer=1, hash=h, sub_qid=3, offset=off, **f)
        assert cq[1].tolist() == ref.tolist()
        d.rx_cdesc_read(cq, 1, out)
        assert out[d.RXC_HASH] == h and out[d.RXC_REQ_ID] == rid and out[d.RXC_OFFSET] == off
        assert out[d.RXC_VLAN_CNT] == f["src_vlan_cnt"] and out[d.RXC_MBZ_F] == 0


def _packet_case(rng, with_meta, nbufs):
    bufs = [(int(rng.integers(0, 1 << 48)), int(rng.integers(1, 1 << 16))) for _ in range(nbufs)]
    offload = dict(l3_proto_idx=8, df=1, tso_en=1, l4_proto_idx=12, l3_csum_en=1, l4_csum_en=1)
    meta = dict(mss=1448, l3_hdr_len=20, l3_hdr_off=14, l4_hdr_len_in_words=5) if with_meta \
        else None
    return bufs, offload, meta


@pytest.mark.parametrize("with_meta", [False, True])
def test_tx_write_packet_matches_linux_fill(with_meta):
    depth = 16
    tail = 0xFFF0 - 3  # several ring wraps and the u16 wrap
    ring = np.zeros((depth, 4), dtype=np.uint32)
    for nbufs in (1, 2, 5, 19):
        bufs, offload, meta = _packet_case(RNG, with_meta, nbufs)
        rid = int(RNG.choice(EDGE_REQ_IDS))
        off = d.tx_offload_word(8, 1, 1, 12, 1, 1, 0, 0)
        w0, w2 = d.tx_meta_words(1448, 20, 14, 5, True)
        addrs = np.array([b[0] for b in bufs], dtype=np.int64)
        lens = np.array([b[1] for b in bufs], dtype=np.int64)
        new = d.tx_write_packet(ring, tail, depth, rid, True, off, 54, addrs, lens, 0, nbufs,
                                with_meta, w0, w2)
        expect, t = naive.tx_packet_descs(lambda i: naive.phase_of(i, depth), tail, rid, True,
                                          offload, 54, bufs, meta)
        assert new == t
        if nbufs + with_meta <= depth:
            for idx, words in expect:
                assert ring[idx % depth].tolist() == words.tolist()
        tail = new


def test_tx_write_burst_equals_packets():
    depth = 32
    ring_a = np.zeros((depth, 4), dtype=np.uint32)
    ring_b = np.zeros((depth, 4), dtype=np.uint32)
    nb = np.array([1, 3, 2], dtype=np.int64)
    starts = np.array([0, 1, 4], dtype=np.int64)
    addrs = RNG.integers(0, 1 << 48, 6)
    lens = RNG.integers(1, 9000, 6)
    rids = np.array([0, 0xFFFF, 77], dtype=np.int64)
    offs = np.array([0, d.tx_offload_word(11, 0, 0, 13, 0, 1, 0, 1), 0], dtype=np.int64)
    hl = np.array([42, 62, 0], dtype=np.int64)
    has = np.array([0, 1, 0], dtype=np.int64)
    w0, w2 = d.tx_meta_words(0, 40, 14, 2, True)
    mw0 = np.array([0, w0, 0], dtype=np.int64)
    mw2 = np.array([0, w2, 0], dtype=np.int64)
    t = d.tx_write_burst(ring_a, 30, depth, starts, nb, addrs, lens, rids, offs, hl, has, mw0,
                         mw2)
    t2 = 30
    for p in range(3):
        t2 = d.tx_write_packet(ring_b, t2, depth, rids[p], True, offs[p], hl[p], addrs, lens,
                               starts[p], nb[p], bool(has[p]), mw0[p], mw2[p])
    assert t == t2 == 30 + 7
    assert np.array_equal(ring_a, ring_b)
