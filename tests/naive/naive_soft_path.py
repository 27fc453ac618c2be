"""Naive pure-Python twin of the complete soft datapath (bench/soft_datapath.py's reference).

The same per-packet work as driver Tx → device A → wire → device B RSS → Rx → driver, written
for obviousness with bytes, lists and dicts: req_id from a free list, copy into the Tx slot,
descriptors packed by ``enatool.ena.eth_io``, LLQ lines built and parsed
(:mod:`naive.naive_datapath`), the device gathers header + DMA data, pads to 60 bytes, the
peer parses, verifies the checksums, hashes with bit-by-bit Toeplitz (:mod:`naive.rss`,
ENA conventions: key byte-reversed, init 0xFFFFFFFF, L3/L4 sort), picks the queue, writes the
frame into a posted Rx buffer with a completion, and the driver copies it out (copybreak) and
re-posts the buffer. No interrupts, no moderation: a straight loop per packet.
"""

from __future__ import annotations

import struct

from enatool.ena import eth_io
from naive import naive_datapath as nd
from naive import rss as nrss

PAGE = 4096
HEADROOM = 64


class NaiveSoftPath:
    """One queue pair end to end; ``send(frames)`` returns the frames the peer driver got."""

    def __init__(self, key: bytes, table: list[int], *, depth: int = 1024, line: int = 128,
                 n_before: int = 2, copybreak: int = 256, slot: int = 2048):
        self.key = key[::-1]  # the device applies the driver's key byte-reversed
        self.table = table
        self.depth = depth
        self.line = line
        self.n_before = n_before
        self.push_max = min(line - 16 * n_before, 255)
        self.copybreak = copybreak
        self.slot = slot
        self.free_ids = list(range(depth))
        self.tx_mem = bytearray(depth * slot)
        self.llq = bytearray(depth * line)
        self.tail = 0
        self.rx_pages = [bytearray(PAGE) for _ in range(depth)]
        self.rx_posted = list(range(depth - 1))
        self.copied = 0

    # -- driver Tx + device Tx ----------------------------------------------------------------
    def _xmit(self, frame: bytes) -> bytes:
        rid = self.free_ids.pop(0)
        base = rid * self.slot
        self.tx_mem[base:base + len(frame)] = frame
        push = min(len(frame), self.push_max)
        meta = eth_io.tx_meta_desc_pack(phase=1, first=1, ext_valid=1, eth_meta_type=1,
                                        meta_store=1)
        data = eth_io.tx_desc_pack(length=len(frame) - push, req_id=rid, first=0, last=1,
                                   comp_req=1, phase=1, addr=0x1000_0000 + base + push,
                                   header_length=push)
        head = self.tail
        self.tail = nd.llq_write(self.llq, self.tail, self.depth, self.line, self.n_before,
                                 [meta, data], self.tx_mem[base:base + push])
        # device: parse the lines, gather pushed header + DMA buffer, complete the req_id
        descs, header, _lines = nd.llq_read(bytes(self.llq), head, self.depth, self.line,
                                            self.n_before)
        d = eth_io.tx_desc_unpack(descs[-1])
        off = d["addr"] - 0x1000_0000
        wire = header + bytes(self.tx_mem[off:off + d["length"]])
        self.free_ids.append(d["req_id"])  # Tx completion
        return wire.ljust(60, b"\0")

    # -- device Rx + driver Rx ----------------------------------------------------------------
    def _rss(self, frame: bytes) -> int:
        r = nd.parse(frame)
        if r is None or r["addr_len"] != 4:
            return 0
        s = frame[r["src"]:r["src"] + 4]
        d = frame[r["src"] + 4:r["src"] + 8]
        ports = frame[r["l4"]:r["l4"] + 4] if r["l4_proto"] else b"\0" * 4
        sp, dp = ports[:2], ports[2:]
        if d < s:
            s, d = d, s
        if dp < sp:
            sp, dp = dp, sp
        data = s + d + (sp + dp if r["l4_proto"] and not r["frag"] else b"")
        return nrss.toeplitz(self.key, data, 0xFFFFFFFF)

    def _receive(self, frame: bytes):
        l3, l4 = nd.checksums(frame)
        h = self._rss(frame)
        queue = self.table[h % len(self.table)]
        rid = self.rx_posted.pop(0)
        page = self.rx_pages[rid]
        page[HEADROOM:HEADROOM + len(frame)] = frame
        cdesc = {"req_id": rid, "length": len(frame), "hash": h, "l3": l3, "l4": l4}
        # driver: copybreak copy (or hand the page up; here copied either way), re-post
        data = bytes(page[HEADROOM:HEADROOM + cdesc["length"]])
        if cdesc["length"] <= self.copybreak:
            self.copied += 1
        self.rx_posted.append(rid)
        good = l3 != 0 and l4 == 1
        return data, queue, h, good

    def send(self, frames: list[bytes]) -> list[tuple[bytes, int, int, bool]]:
        return [self._receive(self._xmit(f)) for f in frames]


def udp4_frame(size: int, sport: int, dport: int = 2000, src: bytes = b"\x0a\0\0\x01",
               dst: bytes = b"\x0a\0\0\x02") -> bytes:
    """An IPv4/UDP frame of ``size`` bytes with valid IPv4 and UDP checksums."""
    payload = bytes((sport + i) & 0xFF for i in range(size - 42))
    ulen = 8 + len(payload)
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 1, 0x4000, 64, 17, 0, src,
                               dst))
    ip[10:12] = struct.pack("!H", (~nd.rfc1071(bytes(ip))) & 0xFFFF)
    udp = bytearray(struct.pack("!HHHH", sport, dport, ulen, 0) + payload)
    c = (~nd.rfc1071(src + dst + struct.pack("!BBH", 0, 17, ulen) + bytes(udp))) & 0xFFFF
    udp[6:8] = struct.pack("!H", c or 0xFFFF)
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + bytes(ip) + bytes(udp)
