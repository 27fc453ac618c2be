"""Rx ring of one IO queue: ena_eth_com's ``ena_com_rx_pkt`` + ena_netdev's Rx clean/refill.

Reproduces today's Linux driver (amzn-drivers v2.17.0; INTERFACE.md §5.6–5.8, §7.1, §7.2)
with the ready kernels (:func:`numba_kernels.descriptors.rx_post_batch`,
:func:`numba_kernels.rings.cq_poll_rx`, the req_id free ring):

* buffers are posted first|last|comp_req with the phase of their slot; req_ids come from a
  free ring (the device may return buffers out of order);
* buffer size (our decision, documented): one 4 KiB page per req_id, the buffer starts after
  ``RX_HEADROOM`` = 64 bytes (NET_SKB_PAD) and ends before ``RX_TAILROOM`` = 320 bytes (the
  aligned ``skb_shared_info``), so ``rx_buf_len`` = 3712; era "2016" posts the whole page
  (4096). A 1500-byte MTU frame fits one buffer, a 9000-byte frame spans three;
* initial fill depth − 1 buffers; refill when more than min(depth/8, 256) (2016: depth/8)
  entries are free;
* completions: packets are runs first…last; req_id ≥ depth or not posted → ``bad_req_id``++
  and reset INV_RX_REQ_ID (4); more than ``max_sgl`` descriptors → ``bad_desc_num``++ and
  TOO_MANY_RX_DESCS (6); ``first`` mid-packet or MBZ set → RX_DESCRIPTOR_MALFORMED (16);
* checksum verdict (``ena_rx_checksum``): IPv4 fragment → none; IPv4 with l3 error → bad;
  TCP/UDP with l4 error → bad; checked → good (CHECKSUM_UNNECESSARY); unchecked → none
  (``csum_unchecked``); other protocols → none. Hash type L4 only for non-fragmented TCP/UDP,
  L3 for other IP, none otherwise;
* rx copybreak through :class:`~enatool.driver.policy.copybreak.CopybreakPolicy`: a copied
  packet leaves its buffer in place and the very same buffer is re-posted
  (``rx_copybreak_pkt``); a larger packet's page goes "up the stack" and the refill posts a
  fresh one — here the same DMA page, since the data was copied out of it already.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np

from enatool.ena.regs import ResetReason
from numba_kernels import descriptors as D
from numba_kernels import rings as R

PAGE_SIZE = 4096
RX_HEADROOM = 64  # NET_SKB_PAD
RX_TAILROOM = 320  # SKB_DATA_ALIGN(sizeof(struct skb_shared_info))
RX_BUDGET = 64  # NAPI weight
REFILL_MAX = 256
L3_IPV4, L3_IPV6, L4_TCP, L4_UDP = 8, 11, 12, 13


class RxPacket(NamedTuple):
    """One received frame and what the driver decided about it."""

    data: bytes
    queue: int
    rss_hash: int
    hash_type: str  # "l4", "l3" or "none"
    csum: str  # "good" (CHECKSUM_UNNECESSARY), "bad" or "none"
    l3_proto: int
    l4_proto: int
    ndescs: int
    copied: bool  # rx copybreak


@dataclass
class RxStats:
    """Per-queue Rx counters (``ethtool -S`` names ``queue_N_rx_*``)."""

    cnt: int = 0
    bytes: int = 0
    rx_copybreak_pkt: int = 0
    csum_good: int = 0
    csum_bad: int = 0
    csum_unchecked: int = 0
    refil_partial: int = 0
    bad_desc_num: int = 0
    bad_req_id: int = 0
    desc_malformed: int = 0
    empty_rx_ring: int = 0
    refills: int = 0
    doorbells: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def checksum_verdict(status: int) -> str:
    """``ena_rx_checksum`` on the last cdesc's status word (§5.7)."""
    l3 = status & D.RXC_L3_PROTO_MASK
    l4 = (status & D.RXC_L4_PROTO_MASK) >> D.RXC_L4_PROTO_SHIFT
    if status & D.RXC_IPV4_FRAG:
        return "none"
    if l3 == L3_IPV4 and status & D.RXC_L3_CSUM_ERR:
        return "bad"
    if l4 in (L4_TCP, L4_UDP):
        if status & D.RXC_L4_CSUM_ERR:
            return "bad"
        return "good" if status & D.RXC_L4_CSUM_CHECKED else "unchecked"
    return "none"


def hash_type(status: int) -> str:
    """``ena_set_rx_hash``: L4 for non-fragmented TCP/UDP, L3 for IPv4/IPv6, else none."""
    l3 = status & D.RXC_L3_PROTO_MASK
    l4 = (status & D.RXC_L4_PROTO_MASK) >> D.RXC_L4_PROTO_SHIFT
    if l4 in (L4_TCP, L4_UDP) and not status & D.RXC_IPV4_FRAG:
        return "l4"
    if l3 in (L3_IPV4, L3_IPV6):
        return "l3"
    return "none"


class RxRing:
    """Driver side of one Rx SQ/CQ pair (always host placement)."""

    def __init__(self, port, qid: int, sq, cq, *, copybreak, era: str = "today",
                 max_sgl: int = 19):
        self.port = port
        self.qid = qid
        self.sq, self.cq = sq, cq
        self.depth = d = int(sq.depth)
        self.era = era
        self.copybreak = copybreak
        self.max_sgl = max(1, int(max_sgl))
        self.headroom = 0 if era == "2016" else RX_HEADROOM
        self.buf_len = PAGE_SIZE if era == "2016" else PAGE_SIZE - RX_HEADROOM - RX_TAILROOM
        self.refill_threshold = d // 8 if era == "2016" else min(d // 8, REFILL_MAX)
        self.stats = RxStats()
        self.buf_addr = port.dma_alloc(d * PAGE_SIZE)
        self.buf = port.dma_view(self.buf_addr, d * PAGE_SIZE)
        self.sq_ring = port.dma_view(sq.base, d * 16).view("<u4").reshape(d, 4)
        self.cq_ring = port.dma_view(cq.base, d * 16).view("<u4").reshape(d, 4)
        self.free_ids = np.zeros(d, np.int64)
        self.in_use = np.zeros(d, np.uint8)  # posted to the device
        R.reqid_init(self.free_ids, self.in_use)
        self.next_to_use = 0
        self.next_to_clean = 0
        self.tail = 0
        self.next_to_comp = 0
        self.cq_head = 0
        cap = RX_BUDGET * self.max_sgl
        self._ids = np.zeros(cap, np.int64)
        self._lens = np.zeros(cap, np.int64)
        self._nd = np.zeros(RX_BUDGET, np.int64)
        self._status = np.zeros(RX_BUDGET, np.int64)
        self._hash = np.zeros(RX_BUDGET, np.int64)
        self._offset = np.zeros(RX_BUDGET, np.int64)
        self._take = np.zeros(d, np.int64)
        self.closed = False

    def free(self) -> None:
        if not self.closed:
            self.port.dma_free(self.buf_addr)
            self.closed = True

    @property
    def free_entries(self) -> int:
        return int(R.sq_free_entries(self.tail, self.next_to_comp, self.depth))

    @property
    def posted(self) -> int:
        return int(self.in_use.sum())

    def refill(self, n: int | None = None) -> int:
        """``ena_refill_rx_bufs``: post ``n`` buffers (default: every free entry), doorbell."""
        n = self.free_entries if n is None else min(n, self.free_entries)
        if n <= 0:
            return 0
        r = R.reqid_take(self.free_ids, self.in_use, self.next_to_use, self.depth, n,
                         self._take)
        if r < 0:
            self.stats.refil_partial += 1
            return 0
        self.next_to_use = int(r)
        ids = self._take[:n]
        addrs = self.buf_addr + ids * PAGE_SIZE + self.headroom
        lens = np.full(n, self.buf_len, np.int64)
        self.tail = int(D.rx_post_batch(self.sq_ring, self.tail, self.depth, addrs, lens, ids))
        self.port.write32(self.sq.doorbell_offset, self.tail)
        self.stats.refills += 1
        self.stats.doorbells += 1
        return n

    def clean(self, budget: int, out: list) -> tuple[int, int, int | None]:
        """``ena_clean_rx_irq``: up to ``budget`` packets appended to ``out`` as
        :class:`RxPacket` → (packets, bytes, reset reason or None)."""
        st = self.stats
        budget = min(budget, RX_BUDGET)
        npk, ncd = R.cq_poll_rx(self.cq_ring, self.cq_head, self.depth, budget, self.max_sgl,
                                self._ids, self._lens, self._nd, self._status, self._hash,
                                self._offset)
        npk, ncd = int(npk), int(ncd)
        if npk < 0:
            if npk == D.ERR_BAD_REQ_ID:
                st.bad_req_id += 1
                return 0, 0, int(ResetReason.INV_RX_REQ_ID)
            if npk == D.ERR_TOO_MANY_DESCS:
                st.bad_desc_num += 1
                return 0, 0, int(ResetReason.TOO_MANY_RX_DESCS)
            st.desc_malformed += 1
            return 0, 0, int(ResetReason.RX_DESCRIPTOR_MALFORMED)
        if npk == 0:
            return 0, 0, None
        ids = self._ids[:ncd]
        r = R.reqid_put(self.free_ids, self.in_use, self.next_to_clean, self.depth, ids, ncd)
        if r < 0:  # a buffer that was never posted (or twice in flight)
            st.bad_req_id += 1
            return 0, 0, int(ResetReason.INV_RX_REQ_ID)
        self.next_to_clean = int(r)
        total = 0
        k = 0
        buf = self.buf
        for p in range(npk):
            nd = int(self._nd[p])
            status = int(self._status[p])
            parts = []
            for j in range(nd):
                rid = int(self._ids[k + j])
                start = rid * PAGE_SIZE + self.headroom + (int(self._offset[p]) if j == 0 else 0)
                parts.append(buf[start:start + int(self._lens[k + j])].tobytes())
            data = parts[0] if nd == 1 else b"".join(parts)
            first_len = int(self._lens[k])
            k += nd
            copied = self.copybreak.on_rx(len(data) if self.era != "2016" else first_len, nd)
            if copied:
                st.rx_copybreak_pkt += 1
            verdict = checksum_verdict(status)
            if verdict == "good":
                st.csum_good += 1
            elif verdict == "bad":
                st.csum_bad += 1
            elif verdict == "unchecked":
                st.csum_unchecked += 1
                verdict = "none"
            out.append(RxPacket(data, self.qid, int(self._hash[p]) & 0xFFFFFFFF,
                                hash_type(status), verdict, status & D.RXC_L3_PROTO_MASK,
                                (status & D.RXC_L4_PROTO_MASK) >> D.RXC_L4_PROTO_SHIFT,
                                nd, copied))
            # bytes for moderation: first buffer for copied packets, else the skb length
            total += first_len if copied else len(data)
        st.cnt += npk
        st.bytes += sum(len(pk.data) for pk in out[-npk:])
        self.cq_head = (self.cq_head + ncd) & 0xFFFF
        self.next_to_comp = (self.next_to_comp + ncd) & 0xFFFF
        if self.free_entries > self.refill_threshold:
            self.refill()
        return npk, total, None
