"""Test-side ring writers for the datapath: real descriptor bytes, doorbells and CQ polling.

Built on :class:`tests.device.conftest.MiniDriver` (admin queue) and the descriptor kernels
(``numba_kernels.descriptors`` / ``llq``) so that what reaches the device are exactly the
bytes a driver writes: Tx descriptors in the SQ ring or LLQ lines in BAR2, Rx descriptors,
doorbell and unmask register writes.
"""

from __future__ import annotations

import struct

import numpy as np

from enatool.ena.admin import (
    ENA_ADMIN_ACQ_CREATE_CQ_RESP_DESC,
    ENA_ADMIN_ACQ_CREATE_SQ_RESP_DESC,
    ENA_ADMIN_FEATURE_LLQ_DESC,
    FeatureId,
)
from enatool.ena.bits import pack, unpack
from numba_kernels import descriptors as d
from numba_kernels import llq as kllq
from tests.naive import naive_datapath as naive

from .test_admin_errors import create_cq, create_sq

LLQ_ENTRY = {128: 1, 256: 4}
LLQ_BEFORE = {1: 1, 2: 2, 4: 4, 8: 8}


def resp(c, dt):
    assert c["status"] == 0, c
    return unpack(dt, c["raw"])


class TxQueue:
    """Driver side of one Tx SQ + CQ (host placement or LLQ)."""

    def __init__(self, drv, depth=64, vector=1, llq: tuple[int, int] | None = None):
        self.drv = drv
        self.dev = drv.dev
        self.depth = depth
        self.llq = llq
        cq = resp(create_cq(drv, depth, 2, vector=vector), ENA_ADMIN_ACQ_CREATE_CQ_RESP_DESC)
        self.cq_idx = cq["cq_idx"]
        self.unmask_off = cq["cq_interrupt_unmask_register_offset"]
        self.cq_base = self.dev.io.cqs[self.cq_idx].base
        if llq:
            sq = resp(create_sq(drv, self.cq_idx, depth, 1, 3), ENA_ADMIN_ACQ_CREATE_SQ_RESP_DESC)
            self.line, self.n_before = llq
            self.llq_off = sq["llq_descriptors_offset"]
            self.shadow = np.zeros(depth * self.line, np.uint8)
        else:
            self.sq_base = self.dev.dma.alloc(depth * 16)
            sq = resp(create_sq(drv, self.cq_idx, depth, 1, 1, base=self.sq_base),
                      ENA_ADMIN_ACQ_CREATE_SQ_RESP_DESC)
            self.ring = self.dev.dma.view(self.sq_base, depth * 16).view(np.uint32).reshape(
                depth, 4)
        self.sq_idx = sq["sq_idx"]
        self.db_off = sq["sq_doorbell_offset"]
        self.tail = 0
        self.cq_head = 0
        self.cq = self.dev.dma.view(self.cq_base, depth * 8).view(np.uint32).reshape(depth, 2)
        self.bufs: list[int] = []

    def buffer(self, data: bytes) -> tuple[int, int]:
        addr = self.dev.dma.alloc(max(len(data), 1))
        self.dev.dma.write(addr, data)
        self.bufs.append(addr)
        return addr, len(data)

    def post(self, bufs: list[bytes], req_id: int, *, offload: int = 0, meta=None,
             header_len: int | None = None, push: bytes = b"", comp_req=True) -> None:
        """Write one packet's descriptors (no doorbell). ``meta`` = (w0, w2) or None.

        LLQ: ``push`` is the header pushed into the line; ``bufs`` the rest of the packet.
        """
        addrs = np.zeros(max(len(bufs), 1), np.int64)
        lens = np.zeros(max(len(bufs), 1), np.int64)
        for i, b in enumerate(bufs):
            addrs[i], lens[i] = self.buffer(b)
        nbufs = max(len(bufs), 1)  # LLQ: one zero-length descriptor when all is pushed
        if header_len is None:
            header_len = len(push) if self.llq else min(len(bufs[0]), 255)
        mw0, mw2 = meta if meta is not None else (0, 0)
        if not self.llq:
            self.tail = d.tx_write_packet(self.ring, self.tail, self.depth, req_id, comp_req,
                                          offload, header_len, addrs, lens, 0, len(bufs),
                                          meta is not None, mw0, mw2)
            return
        tmp = np.zeros((nbufs + 1, 4), np.uint32)
        n = d.tx_write_packet(tmp, 0, 1 << 15, req_id, comp_req, offload, header_len, addrs,
                              lens, 0, nbufs, meta is not None, mw0, mw2)
        hdr = np.frombuffer(push, np.uint8) if push else np.zeros(1, np.uint8)
        old = self.tail
        t = kllq.llq_write_packet(self.shadow, self.tail, self.depth, self.line,
                                  self.n_before, tmp, 0, n, hdr, 0, header_len)
        assert t >= 0, t
        self.tail = t
        i = old
        while i != t:
            s = i & (self.depth - 1)
            self.dev.bar2.write(self.llq_off + s * self.line,
                                self.shadow[s * self.line:(s + 1) * self.line])
            i = (i + 1) & 0xFFFF

    def doorbell(self) -> None:
        self.drv.w(self.db_off, self.tail)

    def completions(self) -> list[tuple[int, int]]:
        """New (req_id, sq_head) completions by phase."""
        out = []
        rec = np.zeros(d.TXC_NFIELDS, np.int64)
        while True:
            idx = self.cq_head
            d.tx_cdesc_read(self.cq, idx & (self.depth - 1), rec)
            if rec[d.TXC_PHASE_F] != naive.phase_of(idx, self.depth):
                return out
            out.append((int(rec[d.TXC_REQ_ID]), int(rec[d.TXC_SQ_HEAD])))
            self.cq_head = (idx + 1) & 0xFFFF

    def unmask(self, rx_delay=0, tx_delay=0, unmask=True):
        from enatool.ena.eth_io import intr_reg_value

        self.drv.w(self.unmask_off, intr_reg_value(rx_delay, tx_delay, unmask))


class RxQueue:
    """Driver side of one Rx SQ + CQ with ``buf_size`` buffers."""

    def __init__(self, drv, depth=64, vector=1, buf_size=2048):
        self.drv = drv
        self.dev = drv.dev
        self.depth = depth
        self.buf_size = buf_size
        cq = resp(create_cq(drv, depth, 4, vector=vector), ENA_ADMIN_ACQ_CREATE_CQ_RESP_DESC)
        self.cq_idx = cq["cq_idx"]
        self.unmask_off = cq["cq_interrupt_unmask_register_offset"]
        self.sq_base = self.dev.dma.alloc(depth * 16)
        sq = resp(create_sq(drv, self.cq_idx, depth, 2, 1, base=self.sq_base),
                  ENA_ADMIN_ACQ_CREATE_SQ_RESP_DESC)
        self.sq_idx = sq["sq_idx"]
        self.db_off = sq["sq_doorbell_offset"]
        self.ring = self.dev.dma.view(self.sq_base, depth * 16).view(np.uint32).reshape(depth, 4)
        cqb = self.dev.io.cqs[self.cq_idx].base
        self.cq = self.dev.dma.view(cqb, depth * 16).view(np.uint32).reshape(depth, 4)
        self.pool = self.dev.dma.alloc(depth * buf_size)
        self.tail = 0
        self.cq_head = 0

    def addr(self, req_id: int) -> int:
        return self.pool + req_id * self.buf_size

    def post(self, n: int, first_id: int = 0) -> None:
        ids = (np.arange(n, dtype=np.int64) + first_id) % self.depth
        addrs = self.pool + ids * self.buf_size
        lens = np.full(n, self.buf_size, np.int64)
        self.tail = d.rx_post_batch(self.ring, self.tail, self.depth, addrs, lens, ids)
        self.drv.w(self.db_off, self.tail)

    def cdescs(self) -> list[dict]:
        out = []
        rec = np.zeros(d.RXC_NFIELDS, np.int64)
        while True:
            idx = self.cq_head
            d.rx_cdesc_read(self.cq, idx & (self.depth - 1), rec)
            if rec[d.RXC_PHASE_F] != naive.phase_of(idx, self.depth):
                return out
            out.append({
                "first": int(rec[d.RXC_FIRST_F]), "last": int(rec[d.RXC_LAST_F]),
                "len": int(rec[d.RXC_LENGTH]), "req_id": int(rec[d.RXC_REQ_ID]),
                "l3": int(rec[d.RXC_L3_PROTO]), "l4": int(rec[d.RXC_L4_PROTO]),
                "l3_err": int(rec[d.RXC_L3_CSUM_ERR_F]), "l4_err": int(rec[d.RXC_L4_CSUM_ERR_F]),
                "checked": int(rec[d.RXC_L4_CSUM_CHECKED_F]), "frag": int(rec[d.RXC_IPV4_FRAG_F]),
                "hash": int(rec[d.RXC_HASH]) & 0xFFFFFFFF, "offset": int(rec[d.RXC_OFFSET]),
                "mbz": int(rec[d.RXC_MBZ_F]), "sub_qid": int(rec[d.RXC_SUB_QID]),
            })
            self.cq_head = (idx + 1) & 0xFFFF

    def packets(self) -> list[tuple[bytes, dict]]:
        """Reassembled (frame bytes, last cdesc) per received packet."""
        out = []
        cur = b""
        for c in self.cdescs():
            off = c["offset"] if c["first"] else 0
            cur += self.dev.dma.read(self.addr(c["req_id"]) + off, c["len"])
            if c["last"]:
                out.append((cur, c))
                cur = b""
        return out

    def unmask(self, rx_delay=0, tx_delay=0, unmask=True):
        from enatool.ena.eth_io import intr_reg_value

        self.drv.w(self.unmask_off, intr_reg_value(rx_delay, tx_delay, unmask))


def set_llq(drv, line: int, n_before: int, accel: int = 0) -> None:
    c = drv.set_feature(FeatureId.LLQ, pack(
        ENA_ADMIN_FEATURE_LLQ_DESC, header_location_ctrl_enabled=1,
        entry_size_ctrl_enabled=LLQ_ENTRY[line], desc_num_before_header_enabled=n_before,
        descriptors_stride_ctrl_enabled=2, accel_mode_enabled_flags=accel))
    assert c["status"] == 0, c


def udp_frame(src="10.0.0.1", dst="10.0.0.2", sport=1234, dport=80, payload=b"x" * 18,
              proto=17, **kw) -> bytes:
    """IPv4 frame with the given addresses and correct checksums."""
    f = bytearray(naive.build_frame(proto=proto, payload=payload, sport=sport, dport=dport,
                                    fill_csums=False, **kw))
    f[26:30] = bytes(int(x) for x in src.split("."))
    f[30:34] = bytes(int(x) for x in dst.split("."))
    return bytes(naive.tx_offload(bytes(f), True, True, False))


def ipv4_tcp(**kw) -> bytes:
    return udp_frame(proto=6, **kw)


def ip_checksums_ok(frame: bytes) -> bool:
    l3, l4 = naive.checksums(frame)
    return l3 in (1, -1) and l4 in (1, -1)


__all__ = ["TxQueue", "RxQueue", "set_llq", "udp_frame", "ipv4_tcp", "struct"]
