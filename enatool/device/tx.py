"""Tx side of the software ENA device: doorbell → fetch → gather → offload → wire → completion.

INTERFACE.md §5.1–5.5, §6, §13 items 5, 6, 8, §15. On a Tx SQ doorbell the device takes every
complete packet between its head and the new tail:

- host placement: 16-byte descriptors from the SQ ring in DMA memory
  (:func:`numba_kernels.rings.tx_sq_fetch`, which also applies the per-queue meta cache);
- LLQ (placement 3): lines of 128/256 B in the queue's BAR2 area, N descriptors then the
  pushed header in the first line, continuation lines full of descriptors, tail counted in
  lines (:func:`numba_kernels.device_dp.llq_fetch_burst`). A header longer than
  line − 16 N drops the packet (counted) but it is still completed so the driver gets its
  req_id back. With LIMIT_TX_BURST, a doorbell advancing more lines than
  max_tx_burst_size / line size is counted in ``llq_burst_violations`` (processed anyway).

Packets are gathered, offloaded (IPv4 header checksum, full/partial L4 checksum, TSO by MSS)
and padded to 60 bytes by :func:`numba_kernels.device_dp.tx_build_frames`, put on the wire as
one batch, and **one Tx completion per packet** with comp_req is written with its 16-bit
req_id, in the order chosen by ``dev.tx_completion_order`` ("in-order", "reverse" or "random"
within a burst: ENA completions may be out of order, §5.5). With a link rate (``connect(...,
rate_bps=...)``) the device is paced like hardware: packets are taken from the SQ only while
their frames fit in a ``TX_FIFO_BYTES`` FIFO in front of the wire (a busy queue is fetched
again when half of it has drained: bursts, not a wake-up per frame), and completed when handed
to it, so a driver that offers more than the link carries sees its ring fill up.
A malformed descriptor stream or a buffer outside host memory is a device fatal error
(DEV_STS.fatal_error + AENQ FATAL_ERROR); the queue stops until it is destroyed or the device reset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from enatool.ena.admin import LlqAccelFlags, PlacementPolicy
from numba_kernels import device_dp as kdp
from numba_kernels import device_llq as kllq
from numba_kernels import rings as krings
from numba_kernels.packet import PK_NFIELDS

from .dma import DmaMemory
from .wire import WIRE_OVERHEAD_BYTES, FrameBatch

if TYPE_CHECKING:
    from .device import SoftEnaDevice
    from .io_queues import IoSq

COMPLETION_ORDERS = ("in-order", "reverse", "random")
WORK_BYTES = 65536 + 512  # largest gathered packet: 64 KB TSO payload + headers
MAX_TSO_SEGMENTS = 4096
#: the device's Tx FIFO in front of the MAC: with a link rate, packets are taken from the SQ
#: (and completed) only while the frames waiting for the wire fit in it
TX_FIFO_BYTES = 32 * 1024


@dataclass
class TxQueueCounters:
    pkts: int = 0  # packets taken from the SQ
    frames: int = 0  # frames put on the wire (TSO segments counted each)
    bytes: int = 0
    drops: int = 0
    llq_header_drops: int = 0
    offload_errors: int = 0
    completions: int = 0
    doorbells: int = 0
    bursts: int = 0
    llq_burst_violations: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class TxQueueState:
    """Device-private state of one Tx SQ (dropped when the SQ object goes away)."""

    sq: IoSq
    ring: np.ndarray | None  # (depth, 4) uint32 view (host placement)
    cq_ring: np.ndarray
    meta_state: np.ndarray = field(default_factory=lambda: np.zeros(krings.META_STATE_LEN,
                                                                    np.int64))
    broken: bool = False
    last_doorbell_tail: int = 0
    burst_limit: int = -1  # LIMIT_TX_BURST lines per doorbell (0 = none; -1 = not computed)
    counters: TxQueueCounters = field(default_factory=TxQueueCounters)
    #: completions withheld by ``faults.tx_completion_hold``: (req_ids, sq_heads) batches
    held: list = field(default_factory=list)
    #: wire time (ns) per packet of the last paced burst: sizes the next fetch to the FIFO room
    wire_ns_per_pkt: float = 0.0


def _ring_view(dma: DmaMemory, base: int, depth: int, entry_bytes: int) -> np.ndarray:
    return dma.view(base, depth * entry_bytes).view(np.uint32).reshape(depth, entry_bytes // 4)


class TxEngine:
    def __init__(self, dev: SoftEnaDevice):
        self.dev = dev
        self.queues: dict[int, TxQueueState] = {}
        self.fatal_errors = 0
        self.rec = np.zeros(PK_NFIELDS, np.int64)
        self.work = np.zeros(WORK_BYTES, np.uint8)
        self.seg_buf = np.zeros(WORK_BYTES * 2 + MAX_TSO_SEGMENTS * 128, np.uint8)
        self.seg_off = np.zeros(MAX_TSO_SEGMENTS, np.int64)
        self.seg_len = np.zeros(MAX_TSO_SEGMENTS, np.int64)
        self.out_buf = np.zeros(1 << 20, np.uint8)
        self.out_off = np.zeros(4096, np.int64)
        self.out_len = np.zeros(4096, np.int64)
        self._scratch: dict[tuple, dict[str, np.ndarray]] = {}
        self.counts = np.zeros(kdp.TXS_N, np.int64)
        self._wake_ns: int | None = None

    def reset(self) -> None:
        self.queues.clear()

    # --- queue state ------------------------------------------------------------------------
    def state(self, sq: IoSq) -> TxQueueState:
        st = self.queues.get(sq.idx)
        if st is None or st.sq is not sq:
            dma = self.dev.dma
            ring = (_ring_view(dma, sq.base, sq.depth, 16)
                    if sq.placement == PlacementPolicy.HOST else None)
            cq = sq.cq
            st = TxQueueState(sq, ring, _ring_view(dma, cq.base, cq.depth, cq.entry_size))
            self.queues[sq.idx] = st
        return st

    def _arrays(self, depth: int, line_size: int) -> dict[str, np.ndarray]:
        key = (depth, line_size)
        a = self._scratch.get(key)
        if a is None:
            a = {
                "first_idx": np.zeros(depth, np.int64),
                "ndata": np.zeros(depth, np.int64),
                "nmeta": np.zeros(depth, np.int64),
                "meta": np.zeros((depth, 2), np.int64),
                "req_id": np.zeros(depth, np.int64),
                "comp_req": np.zeros(depth, np.int64),
                "sq_head": np.zeros(depth, np.int64),
                "status": np.zeros(depth, np.int64),
                "pkt_status": np.zeros(depth, np.int64),
                "hdr_len": np.zeros(depth, np.int64),
                "headers": np.zeros((depth, max(line_size, 1)), np.uint8),
                "descs": np.zeros((max(depth * line_size // 16, 1) + 64, 4), np.uint32),
            }
            self._scratch[key] = a
        return a

    # --- processing -----------------------------------------------------------------------
    def has_work(self) -> bool:
        """Would ``poll`` do anything: held completions to release or an SQ whose tail moved."""
        dev = self.dev
        # loops, not any(<generator>): this runs at every wake-up, for one or a few queues
        for sq in dev.io.tx_sqs.values():
            if sq.tail != sq.head:
                return True
        if dev.faults.tx_completion_hold:
            return False
        for st in self.queues.values():  # noqa: SIM110
            if st.held:
                return True
        return False

    def poll(self) -> bool:
        progressed = False
        if not self.dev.faults.tx_completion_hold:
            for st in self.queues.values():
                if st.held:
                    progressed |= self._release_held(st)
        for sq in list(self.dev.io.tx_sqs.values()):
            if sq.tail != sq.head:
                progressed |= self.process_sq(sq)
        return progressed

    def _fifo_room_ns(self) -> float | None:
        """Link pacing: how much more wire time (ns) the device's Tx FIFO can take now, or
        None when the link has no rate (frames then leave as fast as they are fetched)."""
        wire = self.dev.wire
        rate = wire.rate_bps
        if not rate or wire.peer is None:
            return None
        fifo_ns = TX_FIFO_BYTES * 8 * 1e9 / rate
        return fifo_ns - max(0.0, wire._busy_until_ns - self.dev.now_ns)

    def _refill_room_ns(self) -> float:
        """A busy queue is fetched again once half the FIFO has drained: the wire never runs
        dry (half a FIFO is still queued) and the device pulls packets in bursts, like
        hardware prefetching descriptors, instead of one wake-up per frame that leaves."""
        return TX_FIFO_BYTES * 4 * 1e9 / self.dev.wire.rate_bps

    def _wake_at(self, due_ns: float) -> None:
        """Come back when the FIFO has drained enough (one pending wake-up at a time)."""
        due = max(int(due_ns) + 1, self.dev.now_ns + 1)
        if self._wake_ns is not None and self.dev.now_ns < self._wake_ns <= due:
            return
        self._wake_ns = due
        self.dev.schedule(due, None)

    def _fetch_build(self, st: TxQueueState, sq: IoSq, max_pkts: int):
        """Fetch up to ``max_pkts`` packets and lay out their wire frames →
        ``(n, new_head, arrays, out_pos, n_out)``; None after a fatal error."""
        dev = self.dev
        line = sq.llq_line_size if sq.placement == PlacementPolicy.DEV else 0
        a = self._arrays(sq.depth, line)
        max_descs = dev.limits.max_per_packet_tx_descs
        counts = self.counts
        counts.fill(0)
        start, pos, nout = 0, 0, 0
        if line:
            cfg = sq.llq_config
            dbh = cfg["descs_before_header"]
            area = dev.bar2.mem[sq.llq_offset: sq.llq_offset + sq.depth * line]
            # header-only one-line packets straight to the wire buffer; the general path
            # takes over at the first packet that is anything else
            start, head, pos, nout = kllq.llq_fetch_build_simple(
                area, sq.head, sq.tail, sq.depth, line, dbh, max_pkts, st.meta_state,
                self.out_buf, 0,
                self.out_off, self.out_len, 0, a["req_id"], a["comp_req"], a["sq_head"],
                a["pkt_status"], counts)
            start = int(start)
            n, new_head = start, head
            if start < max_pkts and head != sq.tail:
                k = start
                n2, new_head = kdp.llq_fetch_burst(
                    area, head, sq.tail, sq.depth, line, dbh, max_pkts - k, max_descs,
                    st.meta_state, a["descs"], a["first_idx"][k:], a["ndata"][k:],
                    a["meta"][k:], a["headers"][k:], a["hdr_len"][k:], a["status"][k:],
                    a["req_id"][k:], a["comp_req"][k:], a["sq_head"][k:])
                n = n2 if n2 < 0 else k + n2
            descs, mask, use_hdr = a["descs"], 0x7FFFFFFF, True
        else:
            n, new_head = krings.tx_sq_fetch(
                st.ring, sq.head, sq.tail, sq.depth, max_pkts, max_descs, st.meta_state,
                a["first_idx"], a["ndata"], a["nmeta"], a["meta"])
            if n > 0:
                kdp.tx_packet_info(st.ring, sq.depth - 1, a["first_idx"], a["ndata"], n,
                                   a["req_id"], a["comp_req"], a["sq_head"])
                a["status"][:n] = 0
            descs, mask, use_hdr = st.ring, sq.depth - 1, False
        n = int(n)
        if n < 0:
            self._fatal(st, f"Tx SQ {sq.idx}: malformed descriptors (error {n}) at {new_head}")
            return None
        if n == 0:
            return 0, new_head, a, 0, 0
        if start == n:  # all taken by the fast path
            return n, new_head, a, int(pos), int(nout)
        # gather + offload + wire layout, growing the output when needed
        dma_starts, dma_ends = dev.dma.live_ranges()
        while True:
            start, pos, nout, err = kdp.tx_build_frames(
                descs, mask, a["first_idx"], a["ndata"], a["meta"], a["headers"],
                a["hdr_len"], use_hdr, a["status"], start, n, dev.dma.arena,
                DmaMemory.BUS_BASE, dma_starts, dma_ends, self.work, self.seg_buf, self.seg_off,
                self.seg_len, self.rec, self.out_buf, pos, self.out_off, self.out_len, nout,
                a["pkt_status"], counts)
            if err == 0:
                break
            if err == kdp.ERR_OUT_FULL:
                self._grow()
                continue
            self._fatal(st, f"Tx SQ {sq.idx}: buffer outside host memory (packet {start})")
            return None
        return n, new_head, a, int(pos), int(nout)

    def _fetch_size(self, st: TxQueueState, depth: int, room: float | None) -> int:
        """Packets to fetch: all when unpaced or nothing is known yet, else the FIFO room
        over the last burst's wire time per packet, plus one (the first to start past it)."""
        if room is None or st.wire_ns_per_pkt <= 0.0:
            return depth
        return max(1, min(depth, int(room / st.wire_ns_per_pkt) + 1))

    def _paced_count(self, a: dict[str, np.ndarray], n: int, nout: int, room: float) -> int:
        """Packets of this fetch whose frames start while the FIFO has room (at least one).
        A burst with TSO (more frames than packets) is taken whole: its segments are still
        serialized at link rate by the wire, only their completions come early."""
        ps = a["pkt_status"][:n]
        sent = np.flatnonzero((ps != kdp.TXS_DROP_HEADER) & (ps != kdp.TXS_DROP_TOO_BIG))
        if sent.size != nout or nout == 0:
            return n
        t = (self.out_len[:nout] + WIRE_OVERHEAD_BYTES) * (8e9 / self.dev.wire.rate_bps)
        starts = np.cumsum(t) - t
        k_frames = int(np.searchsorted(starts, room, side="left"))
        return n if k_frames >= nout else max(1, int(sent[k_frames]))

    def process_sq(self, sq: IoSq) -> bool:
        st = self.state(sq)
        if st.broken or self.dev.fatal:
            return False
        dev = self.dev
        room = self._fifo_room_ns()
        if room is not None and room < self._refill_room_ns():
            self._wake_at(dev.now_ns + self._refill_room_ns() - room)
            return False
        saved = st.meta_state.copy() if room is not None else None
        # fetch about what the FIFO can take (from the last burst's wire time per packet):
        # parsing and building packets only to put them back costs more than a second fetch
        r = self._fetch_build(st, sq, self._fetch_size(st, sq.depth, room))
        if r is None:
            return False
        n, new_head, a, pos, nout = r
        if n == 0:
            return False
        if room is not None:
            if nout:
                st.wire_ns_per_pkt = float(
                    (self.out_len[:nout].sum() + nout * WIRE_OVERHEAD_BYTES)
                    * (8e9 / dev.wire.rate_bps) / n)
            k = self._paced_count(a, n, nout, room)
            if k < n:  # the FIFO takes only k: fetch again exactly those (meta cache too)
                st.meta_state[:] = saved
                r = self._fetch_build(st, sq, k)
                if r is None:
                    return False
                n, new_head, a, pos, nout = r
        counts = self.counts
        sq.head = int(new_head)
        c = st.counters
        c.pkts += n
        c.bursts += 1
        if counts[kdp.TXS_OK] != n:
            hdr_drops = int(counts[kdp.TXS_DROP_HEADER])
            drops = hdr_drops + int(counts[kdp.TXS_DROP_TOO_BIG])
            c.drops += drops
            c.llq_header_drops += hdr_drops
            c.offload_errors += int(counts[kdp.TXS_OFFLOAD_ERR])
            dev.stats.tx_drops += drops
        if nout:
            nbytes = pos  # the kernels lay frames out back to back from 0
            c.frames += nout
            c.bytes += nbytes
            if dev.link_up:
                dev.stats.tx_pkts += nout
                dev.stats.tx_bytes += nbytes
                # copies: the wire holds the batch until the peer takes it, the buffers are
                # rewritten by the next burst
                batch = FrameBatch(self.out_buf[:pos].copy(), self.out_off[:nout].copy(),
                                   self.out_len[:nout].copy())
                dev.wire.transmit(batch)
            else:
                dev.stats.tx_drops += nout
        self._complete(st, a, n)
        if room is not None and sq.head != sq.tail:
            rest = self._fifo_room_ns()
            if rest is not None and rest < self._refill_room_ns():
                self._wake_at(dev.now_ns + self._refill_room_ns() - rest)
        return True

    def _complete(self, st: TxQueueState, a: dict[str, np.ndarray], n: int) -> None:
        order = self.dev.tx_completion_order
        comp = a["comp_req"][:n]
        # the common case: no index arrays (count_nonzero: cheaper than a .all() reduction)
        if order == "in-order" and np.count_nonzero(comp) == n:
            req_ids, heads = a["req_id"][:n], a["sq_head"][:n]
        else:
            sel = np.flatnonzero(comp)
            if sel.size == 0:
                return
            if order == "reverse":
                sel = sel[::-1]
            elif order == "random":
                sel = self.dev._rng.permutation(sel)
            req_ids = np.ascontiguousarray(a["req_id"][sel])
            heads = np.ascontiguousarray(a["sq_head"][sel])
        if self.dev.faults.tx_completion_hold:  # fault: sent, but not completed (yet)
            st.held.append((np.array(req_ids, np.int64), np.array(heads, np.int64)))
            return
        self._write_completions(st, req_ids, heads)

    def _write_completions(self, st: TxQueueState, req_ids: np.ndarray,
                           heads: np.ndarray) -> None:
        cq = st.sq.cq
        cq.tail = int(krings.cq_write_tx(st.cq_ring, cq.tail, cq.depth, req_ids, heads,
                                         st.sq.idx))
        st.counters.completions += int(req_ids.shape[0])
        self.dev.datapath.irq.completions(cq, rx=False)

    def _release_held(self, st: TxQueueState) -> bool:
        """``faults.tx_completion_hold`` went False: write what was held back, in order."""
        if st.broken or self.dev.fatal:
            return False
        held, st.held = st.held, []
        for req_ids, heads in held:
            self._write_completions(st, req_ids, heads)
        return True

    def doorbell(self, sq: IoSq) -> None:
        """A Tx SQ doorbell write; LIMIT_TX_BURST: lines written since the last one (§6)."""
        st = self.queues.get(sq.idx)
        if st is None or st.sq is not sq:
            st = self.state(sq)
        tail = sq.tail
        advanced = (tail - st.last_doorbell_tail) & 0xFFFF
        st.last_doorbell_tail = tail
        st.counters.doorbells += 1
        limit = st.burst_limit
        if limit < 0:
            limit = st.burst_limit = self._burst_limit(sq)
        if limit and advanced > limit:
            st.counters.llq_burst_violations += 1

    def doorbell_seq(self, sq: IoSq, tails: np.ndarray) -> None:
        """A run of Tx SQ doorbell writes (``tails`` in write order, int64): each one is
        counted and its advance since the previous doorbell checked against LIMIT_TX_BURST,
        as if written one by one. The lines up to the last tail are then processed in one
        pass; this equals processing after each doorbell because the driver never reuses
        lines the device has not completed."""
        st = self.queues.get(sq.idx)
        if st is None or st.sq is not sq:
            st = self.state(sq)
        n = int(tails.shape[0])
        st.counters.doorbells += n
        limit = st.burst_limit
        if limit < 0:
            limit = st.burst_limit = self._burst_limit(sq)
        if limit:
            # the first against the previous run's last, the rest pairwise (few numpy ops:
            # a burst has tens of doorbells)
            over = ((int(tails[0]) - st.last_doorbell_tail) & 0xFFFF) > limit
            if n > 1:
                adv = tails[1:] - tails[:-1]
                adv &= 0xFFFF
                over += int(np.count_nonzero(adv > limit))
            st.counters.llq_burst_violations += int(over)
        st.last_doorbell_tail = int(tails[n - 1]) & 0xFFFF

    @staticmethod
    def _burst_limit(sq: IoSq) -> int:
        """Lines allowed between doorbells (0 = no limit), fixed when the SQ is created."""
        cfg = sq.llq_config
        if sq.placement != PlacementPolicy.DEV or not cfg:
            return 0
        if int(cfg.get("accel_flags", 0)) & int(LlqAccelFlags.LIMIT_TX_BURST):
            return cfg.get("max_tx_burst_size", 0) // max(sq.llq_line_size, 1)
        return 0

    def _grow(self) -> None:
        """Double the output buffers, keeping what the interrupted call already wrote."""
        for name in ("out_buf", "out_off", "out_len"):
            old = getattr(self, name)
            new = np.zeros(old.size * 2, old.dtype)
            new[: old.size] = old
            setattr(self, name, new)

    def _fatal(self, st: TxQueueState, why: str) -> None:
        st.broken = True
        self.fatal_errors += 1
        self.dev.datapath.errors.append(why)
        self.dev.fatal_error()
