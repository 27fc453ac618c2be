"""numba_kernels.checksum equals its naive twin on random and edge inputs."""

from __future__ import annotations

import numpy as np
import pytest
from naive import checksum as naive

from numba_kernels import checksum as kcs

pytestmark = pytest.mark.nojit

RNG = np.random.default_rng(1071)


def _buf(data: bytes) -> np.ndarray:
    return np.frombuffer(data, np.uint8).copy() if data else np.zeros(0, np.uint8)


@pytest.mark.parametrize("length", [0, 1, 2, 3, 20, 21, 1499, 1500])
def test_inet_checksum_matches_naive(length):
    for data in (bytes(RNG.integers(0, 256, length, dtype=np.uint8)), b"\xff" * length,
                 bytes(length)):
        assert kcs.inet_checksum(_buf(data), 0, length) == naive.inet_checksum(data)


def _fold(s: int) -> int:
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def test_ones_sum_with_start_and_acc():
    data = bytes(RNG.integers(0, 256, 101, dtype=np.uint8))
    buf = _buf(data)
    for start, length in ((0, 101), (14, 87), (3, 0), (100, 1), (34, 33)):
        seg = data[start:start + length]
        assert kcs.ones_sum16(buf, start, length, 0) == naive.ones_sum(seg)
        assert kcs.ones_sum16(buf, start, length, 0xBEEF) == _fold(naive.ones_sum(seg) + 0xBEEF)


def test_partial_sums_compose_on_even_boundaries():
    data = bytes(RNG.integers(0, 256, 64, dtype=np.uint8))
    buf = _buf(data)
    part = kcs.ones_sum16(buf, 0, 20, 0)
    assert kcs.ones_sum16(buf, 20, 44, part) == kcs.ones_sum16(buf, 0, 64, 0)


def test_inet_checksum_rows():
    frames = RNG.integers(0, 256, (6, 64), dtype=np.uint8)
    starts = np.array([0, 14, 34, 1, 0, 63], np.int64)
    lengths = np.array([64, 20, 30, 0, 63, 1], np.int64)
    acc = np.array([0, 0, 0x1234, 0, 0xFFFF, 7], np.int64)
    out = kcs.inet_checksum_rows(frames, starts, lengths, acc, np.empty(6, np.uint16))
    for i in range(6):
        seg = bytes(frames[i, starts[i]:starts[i] + lengths[i]])
        assert out[i] == 0xFFFF - _fold(naive.ones_sum(seg) + int(acc[i]))


@pytest.mark.parametrize("proto,l4_len", [(6, 20), (17, 8), (17, 65535), (0, 0)])
def test_pseudo_ipv4(proto, l4_len):
    for src, dst in ((0x0A640028, 0x0A640024), (0xFFFFFFFF, 0xFFFFFFFF), (0, 0)):
        want = naive.ones_sum(naive.pseudo_ipv4(src, dst, proto, l4_len))
        assert kcs.pseudo_sum_ipv4(src, dst, proto, l4_len) == want


@pytest.mark.parametrize("nh,l4_len", [(6, 20), (17, 70000), (58, 0)])
def test_pseudo_ipv6(nh, l4_len):
    for src, dst in ((bytes(RNG.integers(0, 256, 16, dtype=np.uint8)), b"\xff" * 16),
                     (bytes(16), bytes(16))):
        want = naive.ones_sum(naive.pseudo_ipv6(src, dst, nh, l4_len))
        assert kcs.pseudo_sum_ipv6(_buf(src), _buf(dst), nh, l4_len) == want


def test_udp_checksum_end_to_end():
    """Pseudo-header sum + payload sum gives a datagram whose full sum verifies to 0xFFFF."""
    payload = bytearray(RNG.integers(0, 256, 37, dtype=np.uint8))
    udp = bytearray(8) + payload
    udp[0:2], udp[2:4] = (5000).to_bytes(2, "big"), (7000).to_bytes(2, "big")
    udp[4:6] = len(udp).to_bytes(2, "big")
    src, dst = 0x01020304, 0x01020305
    ph = kcs.pseudo_sum_ipv4(src, dst, 17, len(udp))
    check = (~kcs.ones_sum16(_buf(bytes(udp)), 0, len(udp), ph)) & 0xFFFF
    udp[6:8] = check.to_bytes(2, "big")
    total = naive.ones_sum(naive.pseudo_ipv4(src, dst, 17, len(udp)) + bytes(udp))
    assert total == 0xFFFF


def test_rfc1624_update_equals_recompute():
    for _ in range(200):
        n = int(RNG.integers(2, 40)) * 2
        data = bytearray(RNG.integers(0, 256, n, dtype=np.uint8))
        old = naive.inet_checksum(bytes(data))
        pos = int(RNG.integers(0, n // 2)) * 2
        old_word = int.from_bytes(data[pos:pos + 2], "big")
        new_word = int(RNG.choice([0, 0xFFFF, int(RNG.integers(0, 0x10000))]))
        data[pos:pos + 2] = new_word.to_bytes(2, "big")
        assert kcs.csum_update16(old, old_word, new_word) == naive.inet_checksum(bytes(data))
