"""Internet checksum kernels (RFC 1071 sum, RFC 1624 incremental update, pseudo-headers).

Used by the software ENA device's Tx checksum offload (the device fills the L3/L4 checksum
when the Tx descriptor asks for it, seeded with the pseudo-header sum the driver left in
the L4 header, as Linux does with CHECKSUM_PARTIAL) and by the traffic generator.
Sums are returned folded to 16 bits and *not* complemented, so partial sums compose as
long as every part starts at an even offset of the summed data.
"""

from __future__ import annotations

from numba_kernels.jit import njit


@njit
def csum_fold(s):
    """Fold a wide ones'-complement accumulator into 16 bits."""
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


@njit(nogil=True)
def ones_sum16(buf, start, length, acc):
    """Ones'-complement sum of big-endian 16-bit words of buf[start:start+length] plus acc.

    An odd trailing byte is padded with a zero low byte (RFC 1071).
    """
    s = int(acc)
    end = start + length
    i = start
    while i + 1 < end:
        s += (int(buf[i]) << 8) | int(buf[i + 1])
        i += 2
    if i < end:
        s += int(buf[i]) << 8
    return csum_fold(s)


@njit(nogil=True)
def inet_checksum(buf, start, length):
    """The 16-bit Internet checksum field value for buf[start:start+length]."""
    return (~ones_sum16(buf, start, length, 0)) & 0xFFFF


@njit(nogil=True)
def inet_checksum_rows(frames, starts, lengths, acc, out):
    """Checksum per frame row (uint8[n, L]) from starts[i] over lengths[i], seeded acc[i]."""
    for i in range(frames.shape[0]):
        out[i] = (~ones_sum16(frames[i], starts[i], lengths[i], acc[i])) & 0xFFFF
    return out


@njit
def pseudo_sum_ipv4(src_ip, dst_ip, proto, l4_len):
    """Folded sum of the IPv4 pseudo-header (addresses as u32 host values)."""
    s = (src_ip >> 16) + (src_ip & 0xFFFF) + (dst_ip >> 16) + (dst_ip & 0xFFFF)
    s += proto + l4_len
    return csum_fold(s)


@njit
def pseudo_sum_ipv6(src_ip, dst_ip, next_header, l4_len):
    """Folded sum of the IPv6 pseudo-header (addresses as uint8[16])."""
    s = ones_sum16(src_ip, 0, 16, 0) + ones_sum16(dst_ip, 0, 16, 0)
    s += (l4_len >> 16) + (l4_len & 0xFFFF) + next_header
    return csum_fold(s)


@njit
def csum_update16(check, old_word, new_word):
    """RFC 1624 eqn. 3: new checksum field after one 16-bit word changed old -> new."""
    s = ((~check) & 0xFFFF) + ((~old_word) & 0xFFFF) + (new_word & 0xFFFF)
    return (~csum_fold(s)) & 0xFFFF
