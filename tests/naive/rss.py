"""Naive twins of numba_kernels.rss: bit-by-bit Toeplitz, bitwise CRC32C, list sort."""

from __future__ import annotations


def key_bit(key: bytes, idx: int) -> int:
    idx %= len(key) * 8
    return (key[idx // 8] >> (7 - idx % 8)) & 1


def toeplitz(key: bytes, data: bytes, init_value: int = 0) -> int:
    """Shift a 32-bit window along the key, one input bit at a time."""
    window = 0
    for j in range(32):
        window = (window << 1) | key_bit(key, j)
    h = init_value
    for n, byte in enumerate(data):
        for i in range(8):
            if (byte >> (7 - i)) & 1:
                h ^= window
            window = ((window << 1) & 0xFFFFFFFF) | key_bit(key, n * 8 + i + 32)
    return h


def crc32c(data: bytes, init_value: int = 0xFFFFFFFF) -> int:
    c = init_value
    for byte in data:
        c ^= byte
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
    return c ^ 0xFFFFFFFF


def sort_row(row: bytes, addr_len: int, sort_l3: bool, sort_l4: bool) -> bytes:
    s, d = row[:addr_len], row[addr_len:2 * addr_len]
    rest = row[2 * addr_len:]
    if sort_l3 and d < s:
        s, d = d, s
    if sort_l4 and len(rest) >= 4:
        sp, dp = rest[:2], rest[2:4]
        if dp < sp:
            sp, dp = dp, sp
        rest = sp + dp + rest[4:]
    return s + d + rest


def replicate_low16(h: int) -> int:
    return ((h & 0xFFFF) << 16) | (h & 0xFFFF)


def queue_from_hash(h: int, table: list[int]) -> int:
    return table[h % len(table)]


def ipv4_tuple_bytes(src: int, dst: int, sport: int, dport: int) -> bytes:
    return (src.to_bytes(4, "big") + dst.to_bytes(4, "big")
            + sport.to_bytes(2, "big") + dport.to_bytes(2, "big"))
