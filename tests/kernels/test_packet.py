"""numba_kernels.packet: parse, checksum verification, Tx offloads, Rx status vs naive twin."""

from __future__ import annotations

import itertools
import struct

import numpy as np
import pytest

from numba_kernels import descriptors as d
from numba_kernels import packet as pk
from tests.naive import naive_datapath as naive

pytestmark = pytest.mark.nojit

RNG = np.random.default_rng(3)


def _frames():
    """Edge matrix: IPv4/IPv6, VLAN, TCP/UDP/ICMP, options, odd/zero payloads, padding."""
    out = []
    for ipv6, vlan, proto, plen in itertools.product((False, True), (False, True), (6, 17, 1),
                                                     (0, 1, 33, 1000)):
        payload = RNG.integers(0, 256, plen).astype(np.uint8).tobytes()
        out.append(naive.build_frame(ipv6=ipv6, vlan=vlan, proto=proto, payload=payload))
    out.append(naive.build_frame(ip_opts=b"\x01" * 8, tcp_opts=b"\x01\x01\x08\x0a" + b"\0" * 8,
                                 payload=b"xyz"))
    out.append(naive.build_frame(proto=17, payload=b"a" * 5, pad=20))  # Ethernet padding
    out.append(naive.build_frame(payload=b"b" * 10, frag=0x2000))  # first fragment (MF)
    out.append(naive.build_frame(payload=b"c" * 10, frag=0x0010, df=False))  # later fragment
    out.append(naive.build_frame(ipv6=True, nh=0, payload=b"\0" * 16, proto=0))  # hop-by-hop
    return out


def _check_parse(frame: bytes, rec):
    ref = naive.parse(frame)
    if ref is None:
        assert rec[pk.PK_ERR] != 0
        return None
    assert rec[pk.PK_ERR] == 0
    assert rec[pk.PK_VLAN_CNT] == ref["vlan"] and rec[pk.PK_ETHERTYPE] == ref["ethertype"]
    assert rec[pk.PK_L3_PROTO] == ref["l3_proto"] and rec[pk.PK_L4_PROTO] == ref["l4_proto"]
    assert rec[pk.PK_IP_PROTO] == ref["ip_proto"] and rec[pk.PK_IPV6_EXT] == ref["v6ext"]
    assert rec[pk.PK_IPV4_FRAG] == ref["frag"] and rec[pk.PK_IPV4_DF] == ref["df"]
    assert rec[pk.PK_ADDR_LEN] == ref["addr_len"]
    if ref["l3_proto"]:
        assert rec[pk.PK_L3_OFF] == ref["l3"] and rec[pk.PK_L3_HLEN] == ref["l3_hlen"]
        assert rec[pk.PK_IP_END] == ref["ip_end"] and rec[pk.PK_SRC_ADDR_OFF] == ref["src"]
        assert rec[pk.PK_DST_ADDR_OFF] == ref["src"] + ref["addr_len"]
    if ref["l4_proto"]:
        assert rec[pk.PK_L4_OFF] == ref["l4"] and rec[pk.PK_L4_HLEN] == ref["l4_hlen"]
        assert (rec[pk.PK_SRC_PORT], rec[pk.PK_DST_PORT]) == (ref["sport"], ref["dport"])
        assert rec[pk.PK_PAYLOAD_OFF] == ref["l4"] + ref["l4_hlen"]
        assert rec[pk.PK_PAYLOAD_LEN] == ref["ip_end"] - ref["l4"] - ref["l4_hlen"]
    return ref


def test_parse_matrix_and_truncations_match_naive():
    rec = np.zeros(pk.PK_NFIELDS, dtype=np.int64)
    for frame in _frames():
        buf = naive.as_u8(frame, extra=8)
        pk.parse_frame(buf, 0, len(frame), rec)
        assert _check_parse(frame, rec) is not None
        for cut in (0, 13, 14, 17, 20, 33, len(frame) - 1):
            if 0 <= cut < len(frame):
                pk.parse_frame(buf, 0, cut, rec)
                _check_parse(frame[:cut], rec)


def test_parse_flags_and_batch():
    frames = _frames()
    blob = b"".join(frames)
    starts = np.cumsum([0] + [len(f) for f in frames[:-1]]).astype(np.int64)
    lens = np.array([len(f) for f in frames], dtype=np.int64)
    out = np.zeros((len(frames), pk.PK_NFIELDS), dtype=np.int64)
    pk.parse_frames(naive.as_u8(blob), starts, lens, out)
    one = np.zeros(pk.PK_NFIELDS, dtype=np.int64)
    for i, f in enumerate(frames):
        pk.parse_frame(naive.as_u8(f), 0, len(f), one)
        assert out[i].tolist() == one.tolist()
    first_frag, later_frag, hbh = out[-3], out[-2], out[-1]
    assert first_frag[pk.PK_IPV4_FRAG] == 1 and first_frag[pk.PK_L4_PROTO] == pk.L4_TCP
    assert later_frag[pk.PK_IPV4_FRAG] == 1 and later_frag[pk.PK_L4_PROTO] == 0
    assert later_frag[pk.PK_IPV4_DF] == 0
    assert hbh[pk.PK_IPV6_EXT] == 1 and hbh[pk.PK_L4_PROTO] == 0 and hbh[pk.PK_ERR] == 0
    padded = out[-4]
    assert padded[pk.PK_IP_END] + 20 == lens[-4]


def test_verify_checksums_good_and_corrupted():
    rec = np.zeros(pk.PK_NFIELDS, dtype=np.int64)
    for frame in _frames():
        buf = naive.as_u8(frame)
        pk.parse_frame(buf, 0, len(frame), rec)
        pk.verify_checksums(buf, 0, rec)
        ref = naive.checksums(frame)
        assert (rec[pk.PK_L3_CSUM], rec[pk.PK_L4_CSUM]) == ref
        assert ref[0] in (-1, 1) and ref[1] in (-1, 1)
        # flip one byte after the L3 header: L4 (if checked) must fail, L3 still fine
        if rec[pk.PK_L4_CSUM] == 1 and rec[pk.PK_PAYLOAD_LEN] > 0:
            bad = bytearray(frame)
            bad[rec[pk.PK_PAYLOAD_OFF]] ^= 0x40
            b2 = naive.as_u8(bytes(bad))
            pk.parse_frame(b2, 0, len(bad), rec)
            pk.verify_checksums(b2, 0, rec)
            assert rec[pk.PK_L4_CSUM] == 0 == naive.checksums(bytes(bad))[1]
        if rec[pk.PK_L3_PROTO] == pk.L3_IPV4:
            bad = bytearray(frame)
            bad[rec[pk.PK_L3_OFF] + 8] ^= 1  # TTL
            b2 = naive.as_u8(bytes(bad))
            pk.parse_frame(b2, 0, len(bad), rec)
            pk.verify_checksums(b2, 0, rec)
            assert rec[pk.PK_L3_CSUM] == 0 == naive.checksums(bytes(bad))[0]


def test_udp_zero_checksum_rules():
    rec = np.zeros(pk.PK_NFIELDS, dtype=np.int64)
    for ipv6, want in ((False, -1), (True, 0)):
        f = bytearray(naive.build_frame(ipv6=ipv6, proto=17, payload=b"hello"))
        r = naive.parse(bytes(f))
        f[r["l4"] + 6:r["l4"] + 8] = b"\0\0"
        buf = naive.as_u8(bytes(f))
        pk.parse_frame(buf, 0, len(f), rec)
        pk.verify_checksums(buf, 0, rec)
        assert rec[pk.PK_L4_CSUM] == want == naive.checksums(bytes(f))[1]


def _zero_csums(frame: bytes) -> bytearray:
    f = bytearray(frame)
    r = naive.parse(frame)
    if r["l3_proto"] == 8:
        f[r["l3"] + 10:r["l3"] + 12] = b"\0\0"
    if r["l4_proto"]:
        fo = r["l4"] + (16 if r["l4_proto"] == 12 else 6)
        f[fo:fo + 2] = b"\0\0"
    return f


def test_tx_offloads_full_and_partial():
    rec = np.zeros(pk.PK_NFIELDS, dtype=np.int64)
    for frame in _frames()[:-3]:  # fragments / ext headers: no L4 offload
        r = naive.parse(frame)
        l4_on = bool(r["l4_proto"])
        blank = _zero_csums(frame)
        buf = naive.as_u8(bytes(blank))
        assert pk.tx_apply_offloads(buf, 0, len(blank), True, l4_on, False, rec) == 0
        assert buf.tobytes() == bytes(naive.tx_offload(bytes(blank), True, l4_on, False))
        assert buf.tobytes() == frame
        if not l4_on:
            continue
        # CHECKSUM_PARTIAL: the driver left the folded pseudo-header sum in the field
        part = bytearray(blank)
        seg_len = r["ip_end"] - r["l4"]
        ps = naive.rfc1071(naive.pseudo_header(frame, r, seg_len))
        fo = r["l4"] + (16 if r["l4_proto"] == 12 else 6)
        struct.pack_into("!H", part, fo, ps)
        buf = naive.as_u8(bytes(part))
        assert pk.tx_apply_offloads(buf, 0, len(part), False, True, True, rec) == 0
        assert buf.tobytes() == bytes(naive.tx_offload(bytes(part), False, True, True))
        assert buf.tobytes()[r["l3"] + 12:] == frame[r["l3"] + 12:]


def test_tx_offload_udp_zero_result_sent_as_ffff_and_errors():
    rec = np.zeros(pk.PK_NFIELDS, dtype=np.int64)
    f = bytearray(naive.build_frame(proto=17, payload=b"\0\0"))
    r = naive.parse(bytes(f))
    (c,) = struct.unpack_from("!H", f, r["l4"] + 6)
    struct.pack_into("!H", f, r["l4"] + 8, c)  # payload word that makes the sum all-ones
    blank = _zero_csums(bytes(f))
    buf = naive.as_u8(bytes(blank))
    assert pk.tx_apply_offloads(buf, 0, len(blank), False, True, False, rec) == 0
    assert buf[r["l4"] + 6] == 0xFF and buf[r["l4"] + 7] == 0xFF
    assert buf.tobytes() == bytes(naive.tx_offload(bytes(blank), False, True, False))
    icmp = naive.build_frame(proto=1, payload=b"ping")
    frag = naive.build_frame(payload=b"x" * 8, frag=0x2000)
    for bad in (icmp, frag, icmp[:20]):
        b = naive.as_u8(bad)
        assert pk.tx_apply_offloads(b, 0, len(bad), False, True, False, rec) == d.ERR_BAD_FRAME
        assert b.tobytes() == bad


def test_rx_status_and_rss_tuple():
    rec = np.zeros(pk.PK_NFIELDS, dtype=np.int64)
    out = np.zeros(36, dtype=np.uint8)
    f = naive.build_frame(vlan=True, proto=6, payload=b"abc", sport=0x1234, dport=0x5678)
    buf = naive.as_u8(f)
    pk.parse_frame(buf, 0, len(f), rec)
    pk.verify_checksums(buf, 0, rec)
    assert pk.rx_status_from_parse(rec) == d.rx_status_word(8, 1, 12, 0, 0, 0, 1, 0)
    assert pk.rss_tuple(buf, 0, rec, True, out) == 12
    assert out[:12].tobytes() == bytes([10, 0, 0, 1, 10, 0, 0, 2, 0x12, 0x34, 0x56, 0x78])
    assert pk.rss_tuple(buf, 0, rec, False, out) == 8
    g = bytearray(naive.build_frame(ipv6=True, proto=17, payload=b"z"))
    g[-1] ^= 0xFF
    buf = naive.as_u8(bytes(g))
    pk.parse_frame(buf, 0, len(g), rec)
    pk.verify_checksums(buf, 0, rec)
    assert pk.rx_status_from_parse(rec) == d.rx_status_word(11, 0, 13, 0, 1, 0, 1, 0)
    assert pk.rss_tuple(buf, 0, rec, True, out) == 36
    assert out[:32].tobytes() == bytes(range(1, 33))
    frag = naive.build_frame(payload=b"x" * 8, frag=0x2000)
    buf = naive.as_u8(frag)
    pk.parse_frame(buf, 0, len(frag), rec)
    pk.verify_checksums(buf, 0, rec)
    assert pk.rx_status_from_parse(rec) == d.rx_status_word(8, 0, 12, 0, 0, 1, 0, 0)
