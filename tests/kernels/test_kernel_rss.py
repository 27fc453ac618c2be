"""numba_kernels.rss equals its naive twin on random and edge inputs."""

from __future__ import annotations

import numpy as np
import pytest
from naive import rss as naive

from numba_kernels import rss as krss

pytestmark = pytest.mark.nojit

RNG = np.random.default_rng(20160628)
KEY = bytes(RNG.integers(0, 256, 40, dtype=np.uint8))
FF_KEY = b"\xff" * 40


def _key_arr(key: bytes) -> np.ndarray:
    return np.frombuffer(key, dtype=np.uint8).copy()


@pytest.mark.parametrize("key", [KEY, FF_KEY, bytes(40)])
@pytest.mark.parametrize("width", [0, 1, 7, 12, 36])
def test_toeplitz_rows_match_naive(key, width):
    rows = RNG.integers(0, 256, (40, width), dtype=np.uint8)
    rows[0, :] = 0xFF
    rows[1, :] = 0
    tables = krss.toeplitz_tables(_key_arr(key), max(width, 1))
    for init in (0, 0xFFFFFFFF, 0x12345678):
        out = np.empty(rows.shape[0], np.uint32)
        krss.toeplitz_rows(rows, tables, init, out)
        want = [naive.toeplitz(key, bytes(r), init) for r in rows]
        assert out.tolist() == want


def test_toeplitz_window_wraps_the_key_ring():
    key = _key_arr(KEY)
    # a window starting 16 bits before the end takes its low 16 bits from the key start
    w = krss.toeplitz_window(key, 320 - 16)
    assert w == (int.from_bytes(KEY[-2:], "big") << 16) | int.from_bytes(KEY[:2], "big")


def test_toeplitz_empty_batch():
    tables = krss.toeplitz_tables(_key_arr(KEY), 12)
    out = np.empty(0, np.uint32)
    assert krss.toeplitz_rows(np.empty((0, 12), np.uint8), tables, 0, out).size == 0


@pytest.mark.parametrize("sort", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("with_ports", [True, False])
def test_toeplitz_ipv4_batch_matches_naive(sort, with_ports):
    n = 64
    src = RNG.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    dst = RNG.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    sp = RNG.integers(0, 2**16, n).astype(np.uint16)
    dp = RNG.integers(0, 2**16, n).astype(np.uint16)
    src[:2] = 0xFFFFFFFF
    sp[:2] = 0xFFFF
    dp[0] = 0
    dst[1] = 0xFFFFFFFF  # equal addresses: sort keeps them
    tables = krss.toeplitz_tables(_key_arr(KEY), 12)
    out = np.empty(n, np.uint32)
    krss.toeplitz_ipv4_batch(src, dst, sp, dp, tables, 0xFFFFFFFF, sort[0], sort[1],
                             with_ports, out)
    for i in range(n):
        row = naive.sort_row(naive.ipv4_tuple_bytes(int(src[i]), int(dst[i]), int(sp[i]),
                                                    int(dp[i])), 4, *sort)
        if not with_ports:
            row = row[:8]
        assert out[i] == naive.toeplitz(KEY, row, 0xFFFFFFFF)


@pytest.mark.parametrize("addr_len,width", [(4, 12), (4, 8), (16, 36), (16, 32)])
def test_sort_rows_matches_naive(addr_len, width):
    rows = RNG.integers(0, 4, (50, width), dtype=np.uint8)  # small alphabet: many ties
    rows[0, :] = 0xFF
    for s3 in (False, True):
        for s4 in (False, True):
            got = krss.sort_rows(rows.copy(), addr_len, s3, s4)
            for r_in, r_out in zip(rows, got, strict=True):
                assert bytes(r_out) == naive.sort_row(bytes(r_in), addr_len, s3, s4)


@pytest.mark.parametrize("width", [0, 1, 9, 12, 36])
def test_crc32_rows_match_naive(width):
    rows = RNG.integers(0, 256, (30, width), dtype=np.uint8)
    rows[0, :] = 0xFF
    table = krss.crc32c_table()
    for init in (0xFFFFFFFF, 0):
        out = np.empty(rows.shape[0], np.uint32)
        krss.crc32_rows(rows, table, init, out)
        assert out.tolist() == [naive.crc32c(bytes(r), init) for r in rows]


def test_crc32c_check_value():
    rows = np.frombuffer(b"123456789", np.uint8).reshape(1, 9).copy()
    out = np.empty(1, np.uint32)
    krss.crc32_rows(rows, krss.crc32c_table(), 0xFFFFFFFF, out)
    assert out[0] == 0xE3069283 == naive.crc32c(b"123456789")


def test_replicate_and_queue_from_hash():
    h = np.array([0, 0xFFFFFFFF, 0x12345678, 0xABCD0000], np.uint32)
    h = np.concatenate([h, RNG.integers(0, 2**32, 50, dtype=np.uint64).astype(np.uint32)])
    rep = krss.replicate_low16(h, np.empty_like(h))
    assert rep.tolist() == [naive.replicate_low16(int(x)) for x in h]
    for size in (1, 8, 128):
        table = RNG.integers(0, 32, size).astype(np.uint16)
        q = krss.queue_from_hash(h, table, np.empty(h.size, np.uint16))
        assert q.tolist() == [naive.queue_from_hash(int(x), table.tolist()) for x in h]
