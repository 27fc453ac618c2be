"""Naive twins of numba_kernels.checksum: byte loops and full recomputation."""

from __future__ import annotations


def ones_sum(data: bytes) -> int:
    if len(data) % 2:
        data = data + b"\x00"
    s = 0
    for i in range(0, len(data), 2):
        s += data[i] * 256 + data[i + 1]
        s = (s & 0xFFFF) + (s >> 16)
    return s


def inet_checksum(data: bytes) -> int:
    return 0xFFFF - ones_sum(data)


def pseudo_ipv4(src: int, dst: int, proto: int, l4_len: int) -> bytes:
    return src.to_bytes(4, "big") + dst.to_bytes(4, "big") + bytes([0, proto]) + \
        l4_len.to_bytes(2, "big")


def pseudo_ipv6(src: bytes, dst: bytes, next_header: int, l4_len: int) -> bytes:
    return src + dst + l4_len.to_bytes(4, "big") + bytes([0, 0, 0, next_header])
