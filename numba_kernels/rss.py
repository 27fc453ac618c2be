"""RSS hot loops: Toeplitz (ENA window formulation), CRC32C, sort, 16-bit replicate, queue pick.

Reproduces the hash the ENA device computes for the Linux driver (today, v2.17.0; the 2016
v1.0.0 driver selects CRC32 at probe). Rules live in ``enatool.driver.policy.rss``; these
kernels only make them fast. Keys given here are *effective* keys (what the device applies,
already byte-reversed where the driver convention requires it).

Toeplitz is table driven: for every input byte position and byte value the XOR of the key
windows selected by that byte's set bits is precomputed, so a 12-byte IPv4 tuple costs 12
lookups instead of 96 bit tests.
"""

from __future__ import annotations

import numpy as np

from numba_kernels.jit import njit

CRC32C_POLY_REFLECTED = 0x82F63B78


@njit
def toeplitz_window(key, bit):
    """The 32 key bits starting at ``bit`` (MSB first), the key seen as a ring."""
    nbits = key.shape[0] * 8
    w = 0
    for j in range(32):
        idx = (bit + j) % nbits
        w = (w << 1) | ((int(key[idx >> 3]) >> (7 - (idx & 7))) & 1)
    return w


@njit
def toeplitz_tables(key, nbytes):
    """uint32[nbytes, 256]: XOR contribution of byte value v at input position p."""
    tables = np.zeros((nbytes, 256), dtype=np.uint32)
    for p in range(nbytes):
        for i in range(8):
            w = toeplitz_window(key, p * 8 + i)
            mask = 0x80 >> i
            for v in range(256):
                if v & mask:
                    tables[p, v] ^= w
    return tables


@njit(nogil=True)
def toeplitz_rows(rows, tables, init_value, out):
    """Hash each row of ``rows`` (uint8[n, L], L <= tables rows) into ``out`` (uint32[n])."""
    n, width = rows.shape
    for r in range(n):
        h = init_value
        for p in range(width):
            h ^= int(tables[p, rows[r, p]])
        out[r] = h
    return out


@njit(nogil=True)
def toeplitz_ipv4_batch(src_ip, dst_ip, src_port, dst_port, tables, init_value,
                        sort_l3, sort_l4, with_ports, out):
    """Toeplitz over IPv4 tuples given as integer arrays (addresses as u32 host values).

    Input bytes: src IP, dst IP, [src port, dst port], network order; with L3/L4 sort the
    smaller address/port is taken as the source (addresses and ports sorted independently).
    """
    for r in range(src_ip.shape[0]):
        s = int(src_ip[r])
        d = int(dst_ip[r])
        if sort_l3 and d < s:
            s, d = d, s
        h = init_value
        h ^= int(tables[0, (s >> 24) & 0xFF]) ^ int(tables[1, (s >> 16) & 0xFF])
        h ^= int(tables[2, (s >> 8) & 0xFF]) ^ int(tables[3, s & 0xFF])
        h ^= int(tables[4, (d >> 24) & 0xFF]) ^ int(tables[5, (d >> 16) & 0xFF])
        h ^= int(tables[6, (d >> 8) & 0xFF]) ^ int(tables[7, d & 0xFF])
        if with_ports:
            sp = int(src_port[r])
            dp = int(dst_port[r])
            if sort_l4 and dp < sp:
                sp, dp = dp, sp
            h ^= int(tables[8, (sp >> 8) & 0xFF]) ^ int(tables[9, sp & 0xFF])
            h ^= int(tables[10, (dp >> 8) & 0xFF]) ^ int(tables[11, dp & 0xFF])
        out[r] = h
    return out


@njit
def sort_rows(rows, addr_len, sort_l3, sort_l4):
    """In place: put the smaller (unsigned, network order) address first, then the smaller port.

    Row layout: src addr, dst addr (``addr_len`` bytes each), then optionally src and dst
    port (2 bytes each). Rows without ports (width == 2 * addr_len) skip the L4 step.
    """
    n, width = rows.shape
    for r in range(n):
        if sort_l3:
            _swap_if_greater(rows, r, 0, addr_len, addr_len)
        if sort_l4 and width >= 2 * addr_len + 4:
            _swap_if_greater(rows, r, 2 * addr_len, 2 * addr_len + 2, 2)
    return rows


@njit
def _swap_if_greater(rows, r, a, b, length):
    for k in range(length):
        x = rows[r, a + k]
        y = rows[r, b + k]
        if x < y:
            return
        if x > y:
            for m in range(length):
                t = rows[r, a + m]
                rows[r, a + m] = rows[r, b + m]
                rows[r, b + m] = t
            return


@njit
def crc32c_table():
    """256-entry table of the reflected Castagnoli polynomial (0x82F63B78)."""
    table = np.zeros(256, dtype=np.uint32)
    for v in range(256):
        c = v
        for _ in range(8):
            if c & 1:
                c = (c >> 1) ^ 0x82F63B78
            else:
                c >>= 1
        table[v] = c
    return table


@njit(nogil=True)
def crc32_rows(rows, table, init_value, out):
    """CRC32C of each row: register preloaded with ``init_value``, final complement.

    With init 0xFFFFFFFF this is the standard CRC-32C (check value 0xE3069283 on "123456789").
    """
    n, width = rows.shape
    for r in range(n):
        c = init_value
        for p in range(width):
            c = int(table[(c ^ int(rows[r, p])) & 0xFF]) ^ (c >> 8)
        out[r] = c ^ 0xFFFFFFFF
    return out


@njit
def replicate_low16(hashes, out):
    """Fixed-key ENA instances keep the low 16 bits and copy them into the upper 16."""
    for i in range(hashes.shape[0]):
        lo = int(hashes[i]) & 0xFFFF
        out[i] = (lo << 16) | lo
    return out


@njit
def queue_from_hash(hashes, table, out):
    """Rx queue per hash: ``table[hash mod len(table)]`` (the low bits for 2^n tables)."""
    size = table.shape[0]
    for i in range(hashes.shape[0]):
        out[i] = table[int(hashes[i]) % size]
    return out
