"""Probe frames and addresses: one template frame per run (Ethernet / IPv4 or IPv6 / UDP /
probe payload), built once; the compiled loops rewrite only seq and tx_ns.

Sizes follow enatool's convention (``gen.templates``): ``--size`` is the Ethernet frame
including the 4-byte FCS, so the buffer is ``size - 4`` bytes and the UDP payload is
``size - 4 - 42`` (IPv4) or ``size - 4 - 62`` (IPv6). The payload holds the 24-byte probe
header and, for ``--split``, two 8-byte XDP stamps (40 bytes).
"""

from __future__ import annotations

import ipaddress
import struct

import numpy as np

from enatool.errors import UsageError
from enatool.gen.templates import PROBE_HDR, PROBE_MAGIC
from numba_kernels.checksum import inet_checksum
from numba_kernels.latency import SPLIT_LEN

FCS = 4
DEFAULT_PORT = 7
HDR_V4 = 14 + 20 + 8
HDR_V6 = 14 + 40 + 8


def parse_dst(text: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """``ADDR``, ``ADDR:PORT``, ``[V6]:PORT`` or ``V6`` -> (address, port)."""
    host, port = text, default_port
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            port = _port(rest.lstrip(":"))
    elif text.count(":") == 1:
        host, p = text.split(":")
        port = _port(p)
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise UsageError(f"--dst {text!r}: not an IP address",
                         hint="use ADDR[:PORT], e.g. 198.18.0.2:7 or [2001:2::2]:7") from None
    return str(addr), port


def _port(text: str) -> int:
    try:
        p = int(text)
    except ValueError:
        p = -1
    if not 0 < p < 65536:
        raise UsageError(f"bad port {text!r}", hint="a port is 1..65535")
    return p


def payload_len(size: int, ipv6: bool) -> int:
    return size - FCS - (HDR_V6 if ipv6 else HDR_V4)


def min_size(ipv6: bool, split: bool) -> int:
    return (HDR_V6 if ipv6 else HDR_V4) + FCS + (SPLIT_LEN if split else PROBE_HDR.itemsize)


def check_size(size: int | None, ipv6: bool, split: bool) -> int:
    """The frame size to use (smallest that fits when None); UsageError when too small."""
    lo = min_size(ipv6, split)
    if size is None:
        return lo
    if size < lo or size > 1518 + (20 if ipv6 else 0):
        need = "the probe and both --split stamps" if split else "the 24-byte probe"
        raise UsageError(f"--size {size} cannot carry {need}",
                         hint=f"use --size {lo}..1518")
    return size


def payload(size: int, ipv6: bool, flow_id: int = 0) -> np.ndarray:
    """UDP payload of a probe of frame ``size``: magic, flow id, zero seq/stamps."""
    n = payload_len(size, ipv6)
    buf = np.zeros(n, np.uint8)
    buf[:8] = np.frombuffer(struct.pack(">II", PROBE_MAGIC, flow_id), np.uint8)
    return buf


def build_frame(size: int, src_mac: bytes, dst_mac: bytes, src: str, dst: str, sport: int,
                dport: int) -> tuple[np.ndarray, int]:
    """(frame without FCS, offset of the probe). IPv4 frames carry UDP checksum 0 (none),
    since the compiled loop rewrites seq/tx_ns; IPv6 requires a checksum and is refused."""
    sa, da = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if sa.version != 4 or da.version != 4:
        raise UsageError("--mode afxdp sends IPv4 probes only",
                         hint="use an IPv4 --dst, or --mode socket for IPv6")
    pl = payload(size, False).tobytes()
    udp = struct.pack(">HHHH", sport, dport, 8 + len(pl), 0)
    ip = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp) + len(pl), 0, 0x4000,
                               64, 17, 0, sa.packed, da.packed))
    ip[10:12] = struct.pack(">H", int(inet_checksum(np.frombuffer(bytes(ip), np.uint8), 0, 20)))
    eth = dst_mac + src_mac + b"\x08\x00"
    frame = np.frombuffer(eth + bytes(ip) + udp + pl, np.uint8).copy()
    return frame, HDR_V4
