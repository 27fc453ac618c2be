"""Rx side of the software ENA device: wire → parse → RSS → buffers → completions.

INTERFACE.md §5.6, §5.7, §8, §13 items 7 and 10, §15. For every burst of frames that reached
the port the device:

- parses L2/L3/L4 and verifies the IPv4 header and TCP/UDP checksums (cdesc l3/l4 proto,
  l3_csum_err, l4_csum_err, l4_csum_checked, ipv4_frag, vlan count);
- hashes the flow with the configured RSS function: Toeplitz over the 40-byte key buffer
  applied byte-reversed (§15) or CRC32 (CRC32C with the register preloaded with the init
  value), over the selected hash-input fields of the flow type, L3/L4 sorted when enabled;
  ``dev.rss_fixed_key = True`` models the older instances (the §8 fixed key as listed, 16-bit
  replicated hash);
- picks the Rx SQ ``table[hash mod table size]`` (entries are device Rx SQ indices);
- scatters the frame over as many posted Rx buffers as needed and writes one completion per
  buffer (:func:`numba_kernels.device_dp.rx_deliver`), ``offset`` = ``dev.rx_offset`` only if
  the host advertised RX_OFFSET in its host info, else 0;
- drops frames with no room: ``stats.rx_drops`` (and ``rx_overruns`` when buffers were posted
  but too few for the frame) — they feed GET_STATS and the keep-alive event.

An Rx SQ doorbell just publishes new buffers (``IoSq.tail``); nothing is held back for later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from enatool.ena.admin import DriverSupportedFeatures
from numba_kernels import device_dp as kdp
from numba_kernels import rss as krss
from numba_kernels.packet import PK_NFIELDS

from .dma import DmaMemory
from .features import DEFAULT_RSS_KEY
from .tx import _ring_view
from .wire import FrameBatch

if TYPE_CHECKING:
    from .device import SoftEnaDevice
    from .io_queues import IoSq

RSS_INPUT_MAX = 36  # IPv6 addresses + ports
_RX_OFFSET = int(DriverSupportedFeatures.RX_OFFSET)  # a plain int: an IntFlag & costs 0.5 us


@dataclass
class RxQueueCounters:
    pkts: int = 0
    bytes: int = 0
    drops: int = 0
    overruns: int = 0
    too_many_bufs: int = 0
    completions: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class RxQueueState:
    def __init__(self, sq: IoSq, ring: np.ndarray, cq_ring: np.ndarray):
        self.sq = sq
        self.ring = ring
        self.cq_ring = cq_ring
        self.broken = False
        self.counters = RxQueueCounters()


class RxEngine:
    def __init__(self, dev: SoftEnaDevice):
        self.dev = dev
        self.queues: dict[int, RxQueueState] = {}
        self.rec = np.zeros(PK_NFIELDS, np.int64)
        self.crc_table = krss.crc32c_table()
        self._tables_key: bytes | None = None
        self._tables = np.zeros((RSS_INPUT_MAX, 256), np.uint32)
        self.ids = np.zeros(1 << 16, np.int64)
        self.blens = np.zeros(1 << 16, np.int64)
        self.counts = np.zeros(kdp.RXN_LEN, np.int64)
        self.unsteered_drops = 0  # table entry names no existing Rx SQ
        self._arange = np.arange(1024, dtype=np.int64)
        self._out = np.zeros((3, 1024), np.int64)  # status, hash, queue per frame of a burst
        self._out_n: tuple[int, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None

    def reset(self) -> None:
        self.queues.clear()

    def _all(self, n: int) -> np.ndarray:
        if self._arange.size < n:
            self._arange = np.arange(max(n, 2 * self._arange.size), dtype=np.int64)
        return self._arange[:n]

    def _outputs(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Status, hash and queue arrays for ``n`` frames (reused: rx_classify writes all n)."""
        last = self._out_n
        if last is not None and last[0] == n:  # bursts repeat their size: reuse the views
            return last[1]
        if self._out.shape[1] < n:
            self._out = np.zeros((3, max(n, 2 * self._out.shape[1])), np.int64)
        views = self._out[0, :n], self._out[1, :n], self._out[2, :n]
        self._out_n = (n, views)
        return views

    def state(self, sq: IoSq) -> RxQueueState:
        st = self.queues.get(sq.idx)
        if st is None or st.sq is not sq:
            dma = self.dev.dma
            cq = sq.cq
            st = RxQueueState(sq, _ring_view(dma, sq.base, sq.depth, 16),
                              _ring_view(dma, cq.base, cq.depth, cq.entry_size))
            self.queues[sq.idx] = st
        return st

    # --- RSS configuration as the device applies it ----------------------------------------
    def _toeplitz_tables(self, eff_key: bytes) -> np.ndarray:
        if eff_key != self._tables_key:
            key = np.frombuffer(eff_key, np.uint8).copy()
            self._tables = krss.toeplitz_tables(key, RSS_INPUT_MAX)
            self._tables_key = eff_key
        return self._tables

    def classify_args(self) -> tuple[tuple, tuple, bool]:
        """The RSS arguments of ``rx_classify_fast`` and ``rx_classify_rest`` (between the
        frames and the outputs) as the device is configured now, and whether the function
        is Toeplitz (only then does the fast half run)."""
        rss = self.dev.features.rss
        fixed = bool(getattr(self.dev, "rss_fixed_key", False))
        tables = self._toeplitz_tables(DEFAULT_RSS_KEY if fixed else bytes(rss.key)[::-1])
        size = 1 << rss.table_log
        sort_l3, sort_l4 = bool(rss.input_sort & 2), bool(rss.input_sort & 4)
        init = int(rss.init_val)
        fast = (tables, init, rss.selected_fields, sort_l3, sort_l4, fixed, rss.table, size)
        rest = (self.rec, int(rss.func), tables, self.crc_table, *fast[1:])
        return fast, rest, rss.func == kdp.RSS_TOEPLITZ

    def rx_offset(self) -> int:
        info = self.dev.features.host_info
        if not info or not info["driver_supported_features"] & _RX_OFFSET:
            return 0
        return max(0, min(int(getattr(self.dev, "rx_offset", 0)), 255))

    # --- a burst of received frames ---------------------------------------------------------
    def receive(self, batch: FrameBatch) -> bool:
        dev = self.dev
        n = len(batch.lens)
        if n == 0:
            return False
        if not dev.link_up or dev.fatal:
            dev.stats.rx_drops += n
            return True
        status, hashes, queues = self._outputs(n)
        # kdp.rx_classify, its two halves called from here (numba runs a slower copy of the
        # fast path when it is called from another kernel)
        fast_args, rest_args, toeplitz = self.classify_args()
        left, one_q = n, -1
        if toeplitz:
            left, one_q = kdp.rx_classify_fast(batch.buf, batch.offs, batch.lens, n,
                                               *fast_args, status, hashes, queues)
        if left:
            one_q = kdp.rx_classify_rest(batch.buf, batch.offs, batch.lens, n, *rest_args,
                                         status, hashes, queues, toeplitz)
        offset = self.rx_offset()
        dma_starts, dma_ends = dev.dma.live_ranges()
        max_bufs = dev.limits.max_per_packet_rx_descs
        if one_q >= 0:  # one queue (common in bursts of one flow)
            groups = [(int(one_q), self._all(n))]
        else:
            groups = [(q, np.flatnonzero(queues == q)) for q in np.unique(queues).tolist()]
        for q, sel in groups:
            sq = dev.io.rx_sqs.get(int(q))
            if sq is None:
                dev.stats.rx_drops += int(sel.size)
                self.unsteered_drops += int(sel.size)
                continue
            st = self.state(sq)
            if st.broken:
                dev.stats.rx_drops += int(sel.size)
                continue
            self.counts.fill(0)
            cq = sq.cq
            head, tail, err = kdp.rx_deliver(
                batch.buf, batch.offs, batch.lens, sel, status, hashes, st.ring, sq.depth,
                sq.head, sq.tail, st.cq_ring, cq.depth, cq.tail, dev.dma.arena,
                DmaMemory.BUS_BASE, dma_starts, dma_ends, offset, max_bufs, sq.idx, self.ids,
                self.blens, self.counts)
            sq.head = int(head)
            cq.tail = int(tail)
            c = self.counts.tolist()  # one conversion, not one int() per counter
            self.account(st, c)
            if c[kdp.RXN_CDESCS]:
                dev.datapath.irq.completions(cq, rx=True)
            if err:
                self.deliver_failed(sq, err)
        return True

    def account(self, st: RxQueueState, c: list[int]) -> None:
        """Add what ``rx_deliver`` counted (``c``, indexed by ``RXN_*``) to the queue's
        counters and the device's GET_STATS."""
        cnt = st.counters
        cnt.pkts += c[kdp.RXN_PKTS]
        cnt.bytes += c[kdp.RXN_BYTES]
        cnt.drops += c[kdp.RXN_DROPS]
        cnt.overruns += c[kdp.RXN_OVERRUNS]
        cnt.too_many_bufs += c[kdp.RXN_TOO_MANY_BUFS]
        cnt.completions += c[kdp.RXN_CDESCS]
        stats = self.dev.stats
        stats.rx_pkts += c[kdp.RXN_PKTS]
        stats.rx_bytes += c[kdp.RXN_BYTES]
        stats.rx_drops += c[kdp.RXN_DROPS]
        stats.rx_overruns += c[kdp.RXN_OVERRUNS]

    def deliver_failed(self, sq: IoSq, err: int) -> None:
        """``rx_deliver`` met a buffer outside host memory or a bad phase: the queue stops
        and the device declares a fatal error."""
        self.state(sq).broken = True
        why = "buffer outside host memory" if err == kdp.ERR_DMA else "bad phase"
        self.dev.datapath.errors.append(f"Rx SQ {sq.idx}: {why}")
        self.dev.fatal_error()
