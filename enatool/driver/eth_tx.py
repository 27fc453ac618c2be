"""Tx ring of one IO queue: ena_eth_com's ``ena_com_prepare_tx`` + ena_netdev's xmit/clean.

Reproduces today's Linux driver (amzn-drivers v2.17.0; INTERFACE.md §5.1, §5.3–5.5, §5.8, §6,
§7.1, §7.6) on top of the ready kernels (:mod:`numba_kernels.descriptors`, ``rings``, ``llq``):

* req_ids from a free ring (``free_ids``), completions may come back in any order; a
  completion whose req_id is ≥ depth or not outstanding → ``bad_req_id``++ and reset reason
  INV_TX_REQ_ID (5); flags MBZ bits set (capability CDESC_MBZ) → TX_DESCRIPTOR_MALFORMED (17);
* descriptors as Linux fills them: optional meta descriptor, then one data descriptor per
  buffer (≤ ``max_sgl``, else the packet is linearised into one buffer, ``linearize``++);
* meta caching: a meta descriptor only when the offload context differs from the queue's
  cached copy, or on every packet (all-zero when no offload) with DISABLE_META_CACHING;
* LLQ: the first ``min(len, max_push_header)`` bytes are pushed inline, the descriptors cover
  the rest (a header-only packet gets one zero-length descriptor); lines are built in a
  bounce copy of the queue's BAR2 area and copied with ``port.bar2_write``; a doorbell is
  forced before the device's burst limit (``max_entries_in_tx_burst`` lines) would be passed;
  header spanning several caller segments → ``llq_buffer_copy``++ (Linux: non-linear head);
* host placement: descriptors written straight into the SQ ring in DMA memory;
  header_length = min(first segment, device max_tx_header_size, 255);
* one doorbell per burst (``xmit_more``), free entries = depth − 1 − (tail − next_to_comp),
  counted in lines for LLQ;
* missing completions (1 Hz service, Linux ``check_missing_comp_in_tx_queue``): a packet
  outstanding longer than the timeout (5 s) counts in ``missed_tx``; more than the threshold
  (128) timed-out packets in one check → MISS_TX_CMPL (3).

Buffers: one DMA slot per req_id (``slot_size`` = max frame rounded up to 2 KiB); a packet is
copied there once and its buffers are the caller's segments (like skb head + frags).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from enatool.driver import kcounters
from enatool.driver.port import write32_run
from enatool.ena.regs import ResetReason
from numba_kernels import descriptors as D
from numba_kernels import driver_dp as DK
from numba_kernels import llq as LK
from numba_kernels import packet as P
from numba_kernels import rings as R

TX_SLOT_ALIGN = 2048
MAX_HEADER_FIELD = 255
#: ENA_MONITORED_TX_QUEUES: queues looked at per 1 Hz tick
MONITORED_TX_QUEUES = 4
MISSING_TX_COMP_TIMEOUT_S = 5.0
MISSING_TX_COMP_THRESHOLD = 128


@dataclass
class TxOffload:
    """What the stack asks of one packet (skb ``ip_summed == CHECKSUM_PARTIAL`` / GSO)."""

    csum: bool = False  # L4 checksum offload (partial: pseudo-header sum put in by us)
    tso_mss: int = 0  # > 0: TSO with this MSS


@dataclass
class TxStats:
    """Per-queue Tx counters (``ethtool -S`` names ``queue_N_tx_*``)."""

    cnt: int = 0
    bytes: int = 0
    doorbells: int = 0
    queue_stop: int = 0
    queue_wakeup: int = 0
    linearize: int = 0
    prepare_ctx_err: int = 0
    tx_poll: int = 0
    napi_comp: int = 0
    unmask_interrupt: int = 0
    bad_req_id: int = 0
    llq_buffer_copy: int = 0
    missed_tx: int = 0
    pending_timedout_pkts: int = 0
    meta_descs: int = 0
    completed: int = 0
    interrupts: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


class TxRing:
    """Driver side of one Tx SQ/CQ pair (host or LLQ placement)."""

    def __init__(self, port, qid: int, sq, cq, llq_cfg, *, max_frame: int, max_sgl: int = 19,
                 max_header_size: int = 0, check_mbz: bool = False):
        self.port = port
        self.qid = qid
        self.sq, self.cq = sq, cq
        self.depth = int(sq.depth)
        self.llq = llq_cfg if llq_cfg.placement == "device" else None
        self.max_sgl = max(1, int(max_sgl))
        self.max_header_size = int(max_header_size) or MAX_HEADER_FIELD
        self.check_mbz = bool(check_mbz)
        self.disable_meta_caching = bool(self.llq and self.llq.disable_meta_caching)
        # the all-zero context xmit_packed leaves cached (computed once, not per burst)
        self._zero_meta = tuple(int(w) for w in D.tx_meta_words(0, 0, 0, 0, True))
        # what Python counts directly; :attr:`stats` adds the kernels' counts when read
        self.counts = TxStats()
        d = self.depth
        self.slot_size = -(-int(max_frame) // TX_SLOT_ALIGN) * TX_SLOT_ALIGN
        self.buf_addr = port.dma_alloc(d * self.slot_size)
        self.buf = port.dma_view(self.buf_addr, d * self.slot_size)
        self.cq_ring = port.dma_view(cq.base, d * 8).view("<u4").reshape(d, 2)
        if self.llq is None:
            self.sq_ring = port.dma_view(sq.base, d * 16).view("<u4").reshape(d, 4)
            self.bounce = None
        else:
            self.sq_ring = None
            self.line = int(self.llq.entry_size)
            self.nbh = int(self.llq.descs_before_header)
            self.push_max = int(LK.llq_max_header(self.nbh, self.line))
            self.bounce = np.zeros(d * self.line, np.uint8)
            self.burst_limit = int(self.llq.max_entries_in_tx_burst)
        self.scratch = np.zeros((32, 4), np.uint32)  # descriptors of one LLQ packet
        self.free_ids = np.zeros(d, np.int64)
        self.in_use = np.zeros(d, np.uint8)
        R.reqid_init(self.free_ids, self.in_use)
        # ring indices live in an array the burst kernels update in place (properties below)
        self.state = np.zeros(DK.TS_LEN, np.int64)
        self.kcount = np.zeros(DK.TXK_LEN, np.int64)
        self._db = np.zeros(d + 2, np.int64)
        self._dummy_ring = np.zeros((1, 4), np.uint32)
        self._dummy_bounce = np.zeros(1, np.uint8)
        self.entries = np.zeros(d, np.int64)  # SQ entries used by the packet of req_id
        self.nbytes = np.zeros(d, np.int64)
        self.sent_at = np.zeros(d, np.float64)
        self.timed_out = np.zeros(d, np.uint8)
        self.meta_cache: tuple[int, int] | None = None
        self._rid = np.zeros(1, np.int64)
        self._done = np.zeros(d, np.int64)
        self._rec = np.zeros(P.PK_NFIELDS, np.int64)
        self.closed = False
        llq = self.llq is not None
        # tx_xmit_burst arguments fixed for the ring's lifetime (looked up once, not per burst)
        self._burst_args = (
            self.buf, self.slot_size, self.buf_addr, self.free_ids, self.in_use, self.depth,
            self.state, llq, self._dummy_ring if llq else self.sq_ring, self.max_header_size,
            self.bounce if llq else self._dummy_bounce, self.line if llq else 0,
            self.nbh if llq else 0, self.push_max if llq else 0,
            self.burst_limit if llq else 0, self.disable_meta_caching, self.entries,
            self.nbytes, self.sent_at, self.timed_out)

    # ---------------------------------------------------------------------------- ring state
    def _state_prop(i):  # noqa: N805 - class-body helper
        return property(lambda self: int(self.state[i]),
                        lambda self, v: self.state.__setitem__(i, int(v)))

    next_to_use = _state_prop(DK.TS_NTU)  # free_ids consumer (req_id take)
    next_to_clean = _state_prop(DK.TS_NTC)  # free_ids producer (req_id put)
    tail = _state_prop(DK.TS_TAIL)  # SQ tail: descriptors (host) or lines (LLQ)
    next_to_comp = _state_prop(DK.TS_NTCOMP)
    cq_head = _state_prop(DK.TS_CQ_HEAD)
    entries_since_db = _state_prop(DK.TS_ESD)
    pending_db = property(lambda self: bool(self.state[DK.TS_PENDING]),
                          lambda self, v: self.state.__setitem__(DK.TS_PENDING, int(bool(v))))
    del _state_prop

    _KNAMES = ((DK.TXK_CNT, "cnt"), (DK.TXK_BYTES, "bytes"), (DK.TXK_QUEUE_STOP, "queue_stop"),
               (DK.TXK_PREPARE_CTX_ERR, "prepare_ctx_err"), (DK.TXK_BAD_REQ_ID, "bad_req_id"),
               (DK.TXK_META_DESCS, "meta_descs"), (DK.TXK_COMPLETED, "completed"),
               (DK.TXK_TX_POLL, "tx_poll"))

    @property
    def stats(self) -> TxStats:
        """The queue's counters, with what the kernels counted since the last read."""
        self.fold_counters()
        return self.counts

    def fold_counters(self) -> None:
        """Move what the kernels counted into :attr:`counts` (when the counters are read:
        the kernels only ever add to ``kcount``, so folding later gives the same sums)."""
        kcounters.fold(self.kcount, self.counts, self._KNAMES)

    # ---------------------------------------------------------------------------- accounting
    @property
    def free_entries(self) -> int:
        return int(R.sq_free_entries(self.tail, self.next_to_comp, self.depth))

    @property
    def outstanding(self) -> int:
        return int(self.in_use.sum())

    def free(self) -> None:
        if not self.closed:
            self.port.dma_free(self.buf_addr)
            self.closed = True

    # ---------------------------------------------------------------------------- xmit
    def _meta_for(self, frame_off: int, length: int, off: TxOffload | None):
        """(offload word, header_length hint, meta words or None, error) like
        ``ena_tx_csum`` + ``ena_com_create_and_store_tx_meta_desc``."""
        word = 0
        meta = None
        if off is not None and (off.csum or off.tso_mss):
            rec = self._rec
            P.parse_frame(self.buf, frame_off, length, rec)
            if rec[P.PK_ERR] or rec[P.PK_L4_PROTO] == P.L4_UNKNOWN:
                return 0, None, True
            tso = off.tso_mss > 0
            l3 = int(rec[P.PK_L3_PROTO])
            l4 = int(rec[P.PK_L4_PROTO])
            df = l3 == P.L3_IPV4 and bool(rec[P.PK_IPV4_DF])
            word = int(D.tx_offload_word(l3, df, tso, l4, tso and l3 == P.L3_IPV4, True, False,
                                         not tso))
            if not tso:
                # CHECKSUM_PARTIAL: the stack leaves the folded pseudo-header sum in the field
                fo = frame_off + int(P.l4_csum_field_off(rec))
                s = int(P.l4_pseudo_sum(self.buf, frame_off, rec))
                self.buf[fo] = s >> 8
                self.buf[fo + 1] = s & 0xFF
            l4_words = int(rec[P.PK_L4_HLEN]) // 4 if tso else 0
            w0, w2 = D.tx_meta_words(int(off.tso_mss), int(rec[P.PK_L3_HLEN]),
                                     int(rec[P.PK_L3_OFF]), l4_words, True)
            meta = (int(w0), int(w2))
            if not self.disable_meta_caching and meta == self.meta_cache:
                meta = None  # device still holds this context
            else:
                self.meta_cache = meta
        elif self.disable_meta_caching:
            w0, w2 = D.tx_meta_words(0, 0, 0, 0, True)
            meta = (int(w0), int(w2))
            self.meta_cache = meta
        return word, meta, False

    def xmit(self, frames, offloads=None, now: float = 0.0) -> int:
        """Queue ``frames`` (bytes, or a list of byte segments each) and ring one doorbell.

        Returns how many were queued; stops at the first frame that does not fit the ring
        (``queue_stop``++). Frames larger than a slot are dropped (``prepare_ctx_err``++).
        """
        if offloads is None and all(isinstance(fr, (bytes, bytearray, memoryview))
                                    for fr in frames):
            frames = [bytes(fr) for fr in frames]
            lens = np.fromiter((len(f) for f in frames), np.int64, len(frames))
            offs = np.zeros(len(frames), np.int64)
            if len(frames) > 1:
                np.cumsum(lens[:-1], out=offs[1:])
            buf = np.frombuffer(b"".join(frames), np.uint8)
            return self.xmit_packed(buf, offs, lens, now)
        st = self.counts
        queued = 0
        for i, fr in enumerate(frames):
            segs = [bytes(s) for s in fr] if isinstance(fr, (list, tuple)) else [bytes(fr)]
            segs = [s for s in segs if s]
            length = sum(len(s) for s in segs)
            if length == 0 or length > self.slot_size:
                st.prepare_ctx_err += 1
                queued += 1  # consumed (dropped), like a failed skb
                continue
            if self.in_use.all():
                st.queue_stop += 1
                break
            off = offloads[i] if offloads is not None else None
            # worst case entries: meta + max_sgl descriptors
            nbufs_guess = min(len(segs), self.max_sgl) + 1
            need = nbufs_guess if self.llq is None else int(
                LK.llq_lines_for(nbufs_guess, self.nbh, self.line))
            if self.free_entries < need:
                st.queue_stop += 1
                break
            if R.reqid_take(self.free_ids, self.in_use, self.next_to_use, self.depth, 1,
                            self._rid) < 0:
                st.bad_req_id += 1
                break
            rid = int(self._rid[0])
            self.next_to_use = (self.next_to_use + 1) & 0xFFFF
            base = rid * self.slot_size
            data = b"".join(segs)
            self.buf[base:base + length] = np.frombuffer(data, np.uint8)
            word, meta, err = self._meta_for(base, length, off)
            if err:
                st.prepare_ctx_err += 1
                self.in_use[rid] = 0
                self.next_to_use = (self.next_to_use - 1) & 0xFFFF
                queued += 1
                continue
            used = self._write(rid, base, length, [len(s) for s in segs], word, meta)
            self.entries[rid] = used
            self.nbytes[rid] = length
            self.sent_at[rid] = now
            self.timed_out[rid] = 0
            st.cnt += 1
            st.bytes += length
            if meta is not None:
                st.meta_descs += 1
            queued += 1
        self.doorbell()
        return queued

    def xmit_packed(self, buf: np.ndarray, offs: np.ndarray, lens: np.ndarray,
                    now: float = 0.0) -> int:
        """Queue the frames ``buf[offs[i]:offs[i]+lens[i]]`` (one buffer each, no offloads)
        with one kernel call; doorbells (forced ones before the LLQ burst limit, then the
        final one) are written after the burst in order. Returns frames consumed."""
        n = int(lens.shape[0])
        if n == 0:
            return 0
        state = self.state
        t0 = int(state[DK.TS_TAIL])
        k = self.kcount
        sent0 = int(k[DK.TXK_CNT]) if self.disable_meta_caching else 0
        consumed, ndb = DK.tx_xmit_burst(buf, offs, lens, n, *self._burst_args, float(now),
                                         self._db, k)
        if self.disable_meta_caching and k[DK.TXK_CNT] != sent0:
            self.meta_cache = self._zero_meta
        if self.llq is not None:
            nlines = (int(state[DK.TS_TAIL]) - t0) & 0xFFFF
            if nlines:
                self._copy_lines(t0, nlines)
        if ndb:
            self._write_doorbells(self._db[:ndb])
        return int(consumed)

    def _write_doorbells(self, tails: np.ndarray) -> None:
        """Posted SQ doorbell writes, in order (one port call when the port batches)."""
        write32_run(self.port, self.sq.doorbell_offset, tails)
        self.counts.doorbells += int(tails.shape[0])

    def _buffers(self, base: int, seg_lens: list[int], skip: int):
        """DMA (addr, len) of the packet's buffers after ``skip`` pushed bytes."""
        bufs = []
        pos = 0
        for n in seg_lens:
            a, b = max(pos, skip), pos + n
            if b > a:
                bufs.append((self.buf_addr + base + a, b - a))
            pos += n
        if len(bufs) > self.max_sgl:  # skb_linearize
            self.counts.linearize += 1
            total = sum(n for _a, n in bufs)
            bufs = [(self.buf_addr + base + skip, total)]
        return bufs

    def _write(self, rid, base, length, seg_lens, word, meta) -> int:
        with_meta = meta is not None
        w0, w2 = meta if with_meta else (0, 0)
        if self.llq is None:
            bufs = self._buffers(base, seg_lens, 0)
            hdr = min(seg_lens[0], self.max_header_size, MAX_HEADER_FIELD)
            addrs = np.array([a for a, _ in bufs], np.int64)
            lens = np.array([n for _, n in bufs], np.int64)
            t = D.tx_write_packet(self.sq_ring, self.tail, self.depth, rid, True, word, hdr,
                                  addrs, lens, 0, len(bufs), with_meta, w0, w2)
            used = (int(t) - self.tail) & 0xFFFF
            self.tail = int(t)
            self.entries_since_db += used
            self.pending_db = True
            return used
        push = min(length, self.push_max)
        if push > seg_lens[0]:
            self.counts.llq_buffer_copy += 1
        bufs = self._buffers(base, seg_lens, push) or [(self.buf_addr + base + push, 0)]
        addrs = np.array([a for a, _ in bufs], np.int64)
        lens = np.array([n for _, n in bufs], np.int64)
        nd = len(bufs) + int(with_meta)
        if nd > self.scratch.shape[0]:
            self.scratch = np.zeros((nd, 4), np.uint32)
        depth_s = 1 << max(nd - 1, 1).bit_length()
        D.tx_write_packet(self.scratch, 0, depth_s, rid, True, word, push, addrs, lens, 0,
                          len(bufs), with_meta, w0, w2)
        lines = int(LK.llq_lines_for(nd, self.nbh, self.line))
        if self.burst_limit and self.entries_since_db + lines > self.burst_limit:
            self.doorbell()  # ena_com_is_doorbell_needed: burst budget exhausted
        t = LK.llq_write_packet(self.bounce, self.tail, self.depth, self.line, self.nbh,
                                self.scratch, 0, nd, self.buf, base, push)
        self._copy_lines(self.tail, lines)
        self.tail = int(t)
        self.entries_since_db += lines
        self.pending_db = True
        return lines

    def _copy_lines(self, start: int, n: int) -> None:
        """Write-combined copy of ``n`` lines from the bounce area into BAR2."""
        mask = self.depth - 1
        s = start & mask
        first = min(n, self.depth - s)
        ls = self.line
        off = self.sq.llq_descriptors_offset
        self.port.bar2_write(off + s * ls, self.bounce[s * ls:(s + first) * ls])
        if n > first:
            self.port.bar2_write(off, self.bounce[:(n - first) * ls])

    def doorbell(self) -> None:
        """Write the free-running tail to the SQ doorbell (``ena_com_write_sq_doorbell``)."""
        if not self.pending_db:
            return
        self.port.write32(self.sq.doorbell_offset, self.tail)
        self.counts.doorbells += 1
        self.pending_db = False
        self.entries_since_db = 0

    # ---------------------------------------------------------------------------- completion
    def clean(self, budget: int) -> tuple[int, int | None]:
        """``ena_clean_tx_irq``: up to ``budget`` completions → (work done, reset reason)."""
        n = int(DK.tx_clean_burst(self.cq_ring, self.depth, budget, self._done, self.check_mbz,
                                  self.free_ids, self.in_use, self.entries, self.sent_at,
                                  self.state, self.kcount))
        if n == D.ERR_MALFORMED:
            return 0, int(ResetReason.TX_DESCRIPTOR_MALFORMED)
        if n == D.ERR_BAD_REQ_ID:
            # process nothing of this batch: like Linux, the first bad id stops the clean
            return 0, int(ResetReason.INV_TX_REQ_ID)
        return max(n, 0), None

    def check_missing(self, now: float, timeout_s: float | None, threshold: int) -> int | None:
        """One queue's missing-completion check (1 Hz); returns MISS_TX_CMPL or None."""
        if timeout_s is None:
            return None
        late = (self.in_use != 0) & (now - self.sent_at > timeout_s)
        n = int(late.sum())
        self.counts.pending_timedout_pkts = n
        self.timed_out[late] = 1
        self.counts.missed_tx += n
        if n > threshold:
            return int(ResetReason.MISS_TX_CMPL)
        return None
