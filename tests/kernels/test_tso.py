"""numba_kernels.tso: segmentation vs naive twin and a hand-written reference; receiver checks."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from numba_kernels import descriptors as d
from numba_kernels import packet as pk
from numba_kernels import tso
from tests.naive import naive_datapath as naive

pytestmark = pytest.mark.nojit

RNG = np.random.default_rng(11)


def _segment(frame: bytes, mss: int, cap: int | None = None, max_segs: int = 256):
    buf = naive.as_u8(frame)
    out = np.zeros(cap if cap is not None else 2 * len(frame) + 64 * 80, dtype=np.uint8)
    offs = np.zeros(max_segs, dtype=np.int64)
    lens = np.zeros(max_segs, dtype=np.int64)
    rec = np.zeros(pk.PK_NFIELDS, dtype=np.int64)
    n = tso.tso_segment(buf, 0, len(frame), mss, out, offs, lens, rec)
    if n < 0:
        return n
    return [out[offs[i]:offs[i] + lens[i]].tobytes() for i in range(n)]


@pytest.mark.parametrize("ipv6", [False, True])
@pytest.mark.parametrize("vlan", [False, True])
def test_matches_naive_and_receiver_checksums(ipv6, vlan):
    mss = 100
    for plen in (0, 1, 99, 100, 101, 300, 1001):
        payload = RNG.integers(0, 256, plen).astype(np.uint8).tobytes()
        frame = naive.build_frame(ipv6=ipv6, vlan=vlan, payload=payload, tcp_flags=0x99,
                                  tcp_opts=b"\x01\x01\x08\x0a" + bytes(8), ip_id=0xFFFE,
                                  seq=0xFFFFFF00)
        segs = _segment(frame, mss)
        assert segs == naive.tso(frame, mss)
        assert len(segs) == max(1, -(-plen // mss)) == tso.tso_segment_count(plen, mss)
        assert b"".join(s[-min(mss, plen - i * mss):] if plen else b""
                        for i, s in enumerate(segs)) == payload
        for s in segs:
            assert naive.checksums(s) == ((-1, 1) if ipv6 else (1, 1))
            rec = np.zeros(pk.PK_NFIELDS, dtype=np.int64)
            b = naive.as_u8(s)
            pk.parse_frame(b, 0, len(s), rec)
            assert tso.tcp_checksum_ok(b, 0, rec)
            assert len(s) - rec[pk.PK_PAYLOAD_OFF] <= mss


def test_hand_written_reference_ipv4():
    """10 payload bytes, MSS 4: three segments written out field by field."""
    frame = naive.build_frame(payload=b"0123456789", tcp_flags=0x99, seq=1000, ip_id=0x1234,
                              sport=5000, dport=80)
    segs = _segment(frame, 4)
    assert len(segs) == 3
    l3, l4 = 14, 34
    expect = [(b"0123", 1000, 0x1234, 0x90), (b"4567", 1004, 0x1235, 0x10),
              (b"89", 1008, 0x1236, 0x19)]
    for s, (data, seq, ip_id, flags) in zip(segs, expect, strict=True):
        assert len(s) == 54 + len(data) and s[54:] == data
        assert s[:l3] == frame[:l3]
        assert struct.unpack_from("!H", s, l3 + 2)[0] == 40 + len(data)
        assert struct.unpack_from("!H", s, l3 + 4)[0] == ip_id
        assert s[l3 + 6:l3 + 10] == frame[l3 + 6:l3 + 10]  # DF, TTL, proto unchanged
        assert s[l3 + 12:l4] == bytes([10, 0, 0, 1, 10, 0, 0, 2])
        assert struct.unpack_from("!HHI", s, l4) == (5000, 80, seq)
        assert s[l4 + 8:l4 + 13] == frame[l4 + 8:l4 + 13]  # ack, data offset
        assert s[l4 + 13] == flags
        ip_sum = naive.rfc1071(s[l3:l4])
        assert ip_sum == 0xFFFF
        pseudo = s[l3 + 12:l4] + struct.pack("!BBH", 0, 6, 20 + len(data))
        assert naive.rfc1071(pseudo + s[l4:]) == 0xFFFF


def test_single_segment_is_the_frame_itself_and_padding_dropped():
    frame = naive.build_frame(payload=b"a" * 50, tcp_flags=0x19, ip_id=7)
    assert _segment(frame, 1448) == [frame]
    assert _segment(frame, 50) == [frame]
    padded = naive.build_frame(payload=b"abc", pad=7)
    assert _segment(padded, 1448) == [padded[:-7]]
    v6 = naive.build_frame(ipv6=True, payload=b"q" * 64)
    assert _segment(v6, 64) == [v6]


def test_ip_id_wraps_and_large_mss():
    frame = naive.build_frame(payload=bytes(range(256)) * 40, ip_id=0xFFFF)
    segs = _segment(frame, 9001)
    assert [len(s) - 54 for s in segs] == [9001, 1239]
    assert [struct.unpack_from("!H", s, 18)[0] for s in segs] == [0xFFFF, 0]
    assert segs == naive.tso(frame, 9001)


def test_errors():
    good = naive.build_frame(payload=b"x" * 30)
    assert _segment(good, 0) == d.ERR_BAD_MSS
    assert _segment(good, -5) == d.ERR_BAD_MSS
    assert _segment(naive.build_frame(proto=17, payload=b"x" * 30), 8) == d.ERR_BAD_FRAME
    assert _segment(naive.build_frame(payload=b"x" * 8, frag=0x2000), 4) == d.ERR_BAD_FRAME
    assert _segment(good, 10, cap=54 * 3 + 29) == d.ERR_NO_SPACE
    assert _segment(good, 10, cap=54 * 3 + 30) == naive.tso(good, 10)
    assert _segment(good, 10, max_segs=2) == d.ERR_NO_SPACE
