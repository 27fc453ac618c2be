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

from enatool.driver import kcounters
from enatool.driver.port import write32_run
from enatool.ena.regs import ResetReason
from numba_kernels import descriptors as D
from numba_kernels import driver_dp as DK
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


CSUM_NAMES = ("none", "good", "bad")  # DK.CSUM_* codes


class RxBatch(NamedTuple):
    """Received frames, packed: frame i is ``buf[offs[i]:offs[i]+lens[i]]``.

    ``rss_hash``, ``status`` (raw last-cdesc status word), ``csum`` (``DK.CSUM_*`` code:
    0 none, 1 good, 2 bad), ``ndescs`` and ``flags`` (``DK.RXF_COPIED``) per frame.
    """

    buf: np.ndarray
    offs: np.ndarray
    lens: np.ndarray
    rss_hash: np.ndarray
    status: np.ndarray
    csum: np.ndarray
    ndescs: np.ndarray
    flags: np.ndarray
    queue: int

    def __len__(self) -> int:
        return int(self.lens.shape[0])

    def frames(self) -> list[bytes]:
        b = self.buf
        return [b[o:o + n].tobytes() for o, n in zip(self.offs.tolist(), self.lens.tolist(),
                                                      strict=True)]


class RxStore:
    """Where the Rx kernels put packets ("up the stack"): flat arrays that grow on demand.

    Two sets of arrays alternate, so :meth:`take` can hand out the filled set without a copy;
    a taken :class:`RxBatch` stays valid until the second-next :meth:`take`.
    """

    def __init__(self, packets: int = 1024, nbytes: int = 1 << 20):
        self._sets = [self._alloc(packets, nbytes), self._alloc(packets, nbytes)]
        self.side = 0  # which set is filling (0 or 1)
        self.fill = np.zeros(2, np.int64)

    @staticmethod
    def _alloc(packets: int, nbytes: int) -> list[np.ndarray]:
        return [np.zeros(nbytes, np.uint8), np.zeros(packets, np.int64),
                np.zeros(packets, np.int64), np.zeros(packets, np.int64),
                np.zeros(packets, np.int64), np.zeros(packets, np.int8),
                np.zeros(packets, np.int64), np.zeros(packets, np.uint8)]

    @property
    def arrays(self) -> list[np.ndarray]:
        return self._sets[self.side]

    def __len__(self) -> int:
        return int(self.fill[DK.ST_N])

    def grow(self) -> None:
        """Double both capacities, keeping what is stored."""
        old = self._sets[self.side]
        n, pos = int(self.fill[DK.ST_N]), int(self.fill[DK.ST_POS])
        new = self._alloc(old[1].shape[0] * 2, old[0].shape[0] * 2)
        new[0][:pos] = old[0][:pos]
        for a, b in zip(new[1:], old[1:], strict=True):
            a[:n] = b[:n]
        self._sets[self.side] = new

    def reserve(self, packets: int, nbytes: int) -> None:
        """Room for ``packets`` more packets and ``nbytes`` more bytes in both sets (each
        grown, keeping what it holds, until it fits)."""
        n, pos = int(self.fill[DK.ST_N]), int(self.fill[DK.ST_POS])
        keep = self.side
        for side in (0, 1):
            self.side = side
            while (self._sets[side][1].shape[0] < n + packets
                   or self._sets[side][0].shape[0] < pos + nbytes):
                self.grow()
        self.side = keep

    def take(self, queue: int, max_n: int | None = None) -> RxBatch:
        """The oldest ``max_n`` (default all) stored packets, removed from the store."""
        fill = self.fill.tolist()
        n, pos = fill[DK.ST_N], fill[DK.ST_POS]
        k = n if max_n is None else max(0, min(int(max_n), n))
        cur = self._sets[self.side]
        if k == n:
            buf, offs, lens, hashes, status, csum, nd, flags = cur  # spelled out: per burst
            out = RxBatch(buf[:pos], offs[:n], lens[:n], hashes[:n], status[:n], csum[:n],
                          nd[:n], flags[:n], queue)
            self.side ^= 1
            self.fill.fill(0)
            return out
        # partial take: copy the head out, move the rest to the front
        end = int(cur[1][k]) if k < n else pos
        out = RxBatch(cur[0][:end].copy(), *(a[:k].copy() for a in cur[1:]), queue=queue)
        cur[0][:pos - end] = cur[0][end:pos].copy()
        for a in cur[1:]:
            a[:n - k] = a[k:n].copy()
        cur[1][:n - k] -= end
        self.fill[DK.ST_N] = n - k
        self.fill[DK.ST_POS] = pos - end
        return out


def batch_packets(b: RxBatch) -> list[RxPacket]:
    """:class:`RxPacket` objects for a packed batch (the convenient, slow form)."""
    out = []
    for data, h, st, nd, fl in zip(b.frames(), b.rss_hash.tolist(), b.status.tolist(),
                                   b.ndescs.tolist(), b.flags.tolist(), strict=True):
        verdict = checksum_verdict(st)
        out.append(RxPacket(data, b.queue, h, hash_type(st),
                            "none" if verdict == "unchecked" else verdict,
                            st & D.RXC_L3_PROTO_MASK,
                            (st & D.RXC_L4_PROTO_MASK) >> D.RXC_L4_PROTO_SHIFT, nd,
                            bool(fl & DK.RXF_COPIED)))
    return out


class RxRing:
    """Driver side of one Rx SQ/CQ pair (always host placement)."""

    def __init__(self, port, qid: int, sq, cq, *, copybreak, era: str = "today",
                 max_sgl: int = 19):
        self.port = port
        self.qid = qid
        self.sq, self.cq = sq, cq
        self.depth = d = int(sq.depth)
        self.era = era
        self.era2016 = era == "2016"
        self.copybreak = copybreak
        self.max_sgl = max(1, int(max_sgl))
        self.headroom = 0 if era == "2016" else RX_HEADROOM
        self.buf_len = PAGE_SIZE if era == "2016" else PAGE_SIZE - RX_HEADROOM - RX_TAILROOM
        self.refill_threshold = d // 8 if era == "2016" else min(d // 8, REFILL_MAX)
        # what Python counts directly; :attr:`stats` adds the kernels' counts when read
        self.counts = RxStats()
        copybreak.attach(self.fold_counters)
        self.buf_addr = port.dma_alloc(d * PAGE_SIZE)
        self.buf = port.dma_view(self.buf_addr, d * PAGE_SIZE)
        self.sq_ring = port.dma_view(sq.base, d * 16).view("<u4").reshape(d, 4)
        self.cq_ring = port.dma_view(cq.base, d * 16).view("<u4").reshape(d, 4)
        self.free_ids = np.zeros(d, np.int64)
        self.in_use = np.zeros(d, np.uint8)  # posted to the device
        R.reqid_init(self.free_ids, self.in_use)
        self.state = np.zeros(DK.RS_LEN, np.int64)
        self.kcount = np.zeros(DK.RXK_LEN, np.int64)
        self.store = RxStore()
        self._db = np.zeros(64 + 2, np.int64)
        cap = RX_BUDGET * self.max_sgl
        self._ids = np.zeros(cap, np.int64)
        self._lens = np.zeros(cap, np.int64)
        self._nd = np.zeros(RX_BUDGET, np.int64)
        self._status = np.zeros(RX_BUDGET, np.int64)
        self._hash = np.zeros(RX_BUDGET, np.int64)
        self._offset = np.zeros(RX_BUDGET, np.int64)
        self._take = np.zeros(d, np.int64)
        self.closed = False

    def _state_prop(i):  # noqa: N805 - class-body helper
        return property(lambda self: int(self.state[i]),
                        lambda self, v: self.state.__setitem__(i, int(v)))

    next_to_use = _state_prop(DK.RS_NTU)
    next_to_clean = _state_prop(DK.RS_NTC)
    tail = _state_prop(DK.RS_TAIL)
    next_to_comp = _state_prop(DK.RS_NTCOMP)
    cq_head = _state_prop(DK.RS_CQ_HEAD)
    del _state_prop

    _KNAMES = ((DK.RXK_CNT, "cnt"), (DK.RXK_BYTES, "bytes"),
               (DK.RXK_COPYBREAK, "rx_copybreak_pkt"), (DK.RXK_CSUM_GOOD, "csum_good"),
               (DK.RXK_CSUM_BAD, "csum_bad"), (DK.RXK_CSUM_UNCHECKED, "csum_unchecked"),
               (DK.RXK_REFIL_PARTIAL, "refil_partial"), (DK.RXK_BAD_DESC_NUM, "bad_desc_num"),
               (DK.RXK_BAD_REQ_ID, "bad_req_id"), (DK.RXK_DESC_MALFORMED, "desc_malformed"),
               (DK.RXK_REFILLS, "refills"), (DK.RXK_DOORBELLS, "doorbells"))

    @property
    def stats(self) -> RxStats:
        """The queue's counters, with what the kernels counted since the last read."""
        self.fold_counters()
        return self.counts

    def cnt_bytes(self) -> tuple[int, int]:
        """``stats.cnt`` and ``stats.bytes`` without folding the rest (read per NAPI run)."""
        k = self.kcount
        return self.counts.cnt + int(k[DK.RXK_CNT]), self.counts.bytes + int(k[DK.RXK_BYTES])

    def fold_counters(self) -> None:
        """Move what the kernels counted into :attr:`counts` and the copybreak policy (when
        either is read: the kernels only ever add to ``kcount``, so folding later gives the
        same sums)."""
        vals = kcounters.fold(self.kcount, self.counts, self._KNAMES)
        if vals and vals[DK.RXK_COPYBREAK]:
            self.copybreak.count_copied(vals[DK.RXK_COPYBREAK])

    def write_doorbells(self, tails: np.ndarray) -> None:
        """Rx SQ doorbells for refills done inside a kernel, in order."""
        write32_run(self.port, self.sq.doorbell_offset, tails)

    def free(self) -> None:
        if not self.closed:
            self.fold_counters()
            self.copybreak.detach(self.fold_counters)
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
        got = int(DK.rx_refill(self.sq_ring, self.depth, self.state, self.free_ids, self.in_use,
                               self._take, self.buf_addr, PAGE_SIZE, self.headroom,
                               self.buf_len, n, self.kcount))
        if got:
            self.port.write32(self.sq.doorbell_offset, self.tail)
        return got

    def clean(self, budget: int, out: list | None = None) -> tuple[int, int, int | None]:
        """``ena_clean_rx_irq``: up to ``budget`` packets into :attr:`store` (and, if ``out``
        is given, appended to it as :class:`RxPacket`) → (packets, bytes, reset reason)."""
        budget = min(budget, RX_BUDGET)
        while True:
            a = self.store.arrays
            npk, nbytes, err = DK.rx_clean_burst(
                self.cq_ring, self.depth, budget, self.max_sgl, self._ids, self._lens,
                self._nd, self._status, self._hash, self._offset, self.free_ids, self.in_use,
                self.state, self.buf, PAGE_SIZE, self.headroom, self.copybreak.value,
                self.era2016, *a, self.store.fill, self.kcount)
            if err != DK.ERR_STORE_FULL:
                break
            self.store.grow()
        if err:
            return 0, 0, reset_reason(int(err))
        if npk and out is not None:
            out.extend(batch_packets(self.store.take(self.qid)))
        if npk and self.free_entries > self.refill_threshold:
            self.refill()
        return int(npk), int(nbytes), None


def reset_reason(err: int) -> int:
    """Driver reset reason for an Rx completion error code (§5.7)."""
    if err == D.ERR_BAD_REQ_ID:
        return int(ResetReason.INV_RX_REQ_ID)
    if err == D.ERR_TOO_MANY_DESCS:
        return int(ResetReason.TOO_MANY_RX_DESCS)
    return int(ResetReason.RX_DESCRIPTOR_MALFORMED)
