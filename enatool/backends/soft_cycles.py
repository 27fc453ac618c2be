"""Traffic cycles on the software pair: Python path, or the compiled steady-state loop.

A cycle is what a traffic loop on :class:`~enatool.backends.soft.SoftBackend` does: end 0
queues a burst on Tx queue 0, both ends advance the virtual clock, end 1's received packets
are taken. :func:`run_cycles` runs ``n`` of them and counts what arrived. When the pair is
in its steady state (:func:`why_not_compiled` says what that means) the cycles run inside
:func:`numba_kernels.softpair.pair_cycles`, which calls the same datapath kernels on the
same rings in the same order as the Python path and moves the same counters, interrupt and
moderation state; this module copies that scalar state out of the Python objects before the
call and back after it. Anything else — a management event due (keep-alive, 1 Hz timer,
admin completion), several queues, link pacing, faults, the 2016 adaptive table, a Tx
burst the compiled device path hands back (a drop, an error, a full buffer) — runs through
the Python path, cycle by cycle, so the two are interchangeable
(``tests/backends/test_soft_cycles.py`` runs both side by side and compares counters,
interrupts, DIM state and every byte of DMA memory).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from enatool.device.dma import DmaMemory
from enatool.device.irq import IrqTimer
from enatool.driver.napi import MAX_POLL_ROUNDS, napi_reset_reason
from enatool.ena.admin import PlacementPolicy
from enatool.errors import UsageError
from numba_kernels import device_dp as kdp
from numba_kernels import driver_dp as DK
from numba_kernels import moderation as KM
from numba_kernels import softpair as SP

NO_HORIZON = np.iinfo(np.int64).max // 4
#: device Tx queue counters (tx.py TxQueueCounters) and the deltas the loop sums for them
_TX_QUEUE_COUNTS = (("doorbells", SP.E_TXC_DOORBELLS_D), ("pkts", SP.E_TXC_PKTS_D),
                    ("bursts", SP.E_TXC_BURSTS_D), ("frames", SP.E_TXC_FRAMES_D),
                    ("bytes", SP.E_TXC_BYTES_D), ("completions", SP.E_TXC_COMPLETIONS_D),
                    ("llq_burst_violations", SP.E_TXC_BURST_VIOL_D))


@dataclass
class CycleResult:
    """What ``n`` cycles did: frames queued, packets taken from end 1 (all, with a good
    checksum verdict, their bytes), how many cycles ran compiled, and the last take."""

    cycles: int = 0
    sent: int = 0
    rx_pkts: int = 0
    rx_csum_good: int = 0
    rx_bytes: int = 0
    compiled_cycles: int = 0
    last: object = None  # the RxBatch of the last cycle's take
    fallback: str | None = None  # why a compiled run was not possible, when it was not

    def count(self, batch) -> None:
        self.rx_pkts += len(batch)
        self.rx_csum_good += int(np.count_nonzero(batch.csum == DK.CSUM_GOOD))
        self.rx_bytes += int(batch.lens.sum())
        self.last = batch


def why_not_compiled(be, lens: np.ndarray, seconds: float) -> str | None:
    """None when the next cycles may run compiled, else the reason they may not."""
    if be.num_queues != 1:
        return "more than one queue pair"
    if seconds <= 0:
        return "no time passes"
    for drv in be.drivers:
        if drv.state != "running" or drv._reset_pending is not None:
            return "a driver is not running"
        if drv.napi[0].mod.mode not in ("static", "dim"):
            return f"moderation mode {drv.napi[0].mod.mode}"
    devs = be.devices
    if devs[0].now_ns != devs[1].now_ns:
        return "the two clocks differ"
    for dev in devs:
        w = dev.wire
        if w.peer is None or w.rate_bps or w.delay_ns or w.capture or w.rx_pending:
            return "the cable is paced, delayed, captured or busy"
        if not dev.link_up or dev.fatal or dev.faults.tx_completion_hold:
            return "link down, device failed or a fault is set"
        if dev.tx_completion_order != "in-order":
            return "out-of-order completions"
        if dev.mgmt_pending or dev.aenq.has_work() or dev.admin.aq_head != dev.admin.aq_tail:
            return "management work pending"
        if dev.datapath.irq._fire_now or len(dev.io.tx_sqs) != 1 or len(dev.io.rx_sqs) != 1:
            return "device queues not in the steady state"
        for st in list(dev.datapath.tx.queues.values()) + list(dev.datapath.rx.queues.values()):
            if st.broken or getattr(st, "held", None):
                return "a device queue is broken or holds completions"
    tx = be.drivers[0].napi[0].tx
    sq = next(iter(devs[0].io.tx_sqs.values()))
    if tx.llq is None or sq.placement != PlacementPolicy.DEV:
        return "Tx queue not in LLQ placement"
    dbh = int(sq.llq_config["descs_before_header"])
    if dbh < (2 if tx.disable_meta_caching else 1):
        return "LLQ layout without room for the descriptors before the header"
    n = int(lens.shape[0])
    if n == 0 or n > devs[0].datapath.tx.out_off.shape[0]:
        return "burst size"
    lo, hi = int(lens.min()), int(lens.max())
    if lo < 1 or hi > tx.slot_size:
        return "frames the driver refuses (empty or beyond its buffers)"
    if n * max(60, hi) > devs[0].datapath.tx.out_buf.shape[0]:
        return "burst larger than the device's wire buffer"
    rss = devs[1].features.rss
    rsq = next(iter(devs[1].io.rx_sqs.values()))
    if rss.func != kdp.RSS_TOEPLITZ or getattr(devs[1], "rss_fixed_key", False):
        return "RSS function other than Toeplitz"
    if np.any(np.asarray(rss.table)[: 1 << rss.table_log] != rsq.idx):
        return "indirection table points elsewhere"
    return None


class _Plan:
    """The arguments of one ``pair_cycles`` call and the copy of state in and out."""

    def __init__(self, be, buf, offs, lens):
        self.be = be
        a_drv, b_drv = be.drivers
        a_dev, b_dev = be.devices
        self.ends = []
        for drv, dev in ((a_drv, a_dev), (b_drv, b_dev)):
            ctx = drv.napi[0]
            tsq = next(iter(dev.io.tx_sqs.values()))
            rsq = next(iter(dev.io.rx_sqs.values()))
            ucq = dev.io.registers[ctx.unmask_offset][0]
            v = ucq.msix_vector
            self.ends.append(dict(drv=drv, dev=dev, ctx=ctx, tsq=tsq, rsq=rsq, ucq=ucq, v=v,
                                  tst=(dev.datapath.tx.state(tsq) if drv is a_drv
                                       else dev.datapath.tx.queues.get(tsq.idx)),
                                  rst=(dev.datapath.rx.state(rsq) if drv is b_drv
                                       else dev.datapath.rx.queues.get(rsq.idx)),
                                  e=np.zeros(SP.E_LEN, np.int64),
                                  dim=np.zeros(KM.DIM_NFIELDS, np.int64),
                                  prof=np.array(ctx.mod.dim.profiles_usec, np.int64)))
        n = int(lens.shape[0])
        self.frames = (buf, offs, lens, n)
        A, B = self.ends
        tx = A["ctx"].tx
        eng = a_dev.datapath.tx
        tsq = A["tsq"]
        line = int(tsq.llq_line_size)
        arr = eng._arrays(tsq.depth, line)
        self.a_bar2 = a_dev.bar2.mem[tsq.llq_offset: tsq.llq_offset + tsq.depth * line]
        self.a_dev_tx = (A["tst"].meta_state, eng.out_buf, eng.out_off, eng.out_len,
                         arr["req_id"], arr["comp_req"], arr["sq_head"], arr["pkt_status"],
                         eng.counts, A["tst"].cq_ring, tsq.cq.depth, tsq.depth, line,
                         int(tsq.llq_config["descs_before_header"]))
        # tx_xmit_burst's arguments with BAR2 in the bounce buffer's place (index 10)
        self.a_burst = tx._burst_args[:10] + (self.a_bar2,) + tx._burst_args[11:]
        starts, ends = a_dev.dma.live_ranges()
        self.a_dev_gen = (a_dev.limits.max_per_packet_tx_descs, arr["descs"], arr["first_idx"],
                          arr["ndata"], arr["meta"], arr["headers"], arr["hdr_len"],
                          arr["status"], a_dev.dma.arena, DmaMemory.BUS_BASE, starts, ends,
                          eng.work, eng.seg_buf, eng.seg_off, eng.seg_len, eng.rec)
        self.a_tx = tx
        # end 1's Rx engine: the RSS inputs RxEngine.receive passes (Toeplitz: checked)
        rxe = b_dev.datapath.rx
        self.b_rss, self.b_rest, _toeplitz = rxe.classify_args()
        self.b_classify = tuple(rxe._outputs(n))
        self.b_sel = rxe._all(n)
        rsq, rst = B["rsq"], B["rst"]
        starts, ends = b_dev.dma.live_ranges()
        self.b_deliver = (rst.ring, rsq.depth, rst.cq_ring, rsq.cq.depth, b_dev.dma.arena,
                          DmaMemory.BUS_BASE, starts, ends, rxe.rx_offset(),
                          b_dev.limits.max_per_packet_rx_descs)
        self.b_rx_scratch = (rxe.ids, rxe.blens, rxe.counts)
        # the Rx store of end 1 must hold what one cycle can bring (a ring's worth on top
        # of what it holds): reserved now, where the Python path grows it when a poll finds
        # it full (the store's contents are the same either way)
        depth = B["ctx"].rx.depth
        B["ctx"].rx.store.reserve(depth + 1, (depth + 1) * max(60, int(lens.max())))
        self.res = np.zeros(SP.R_LEN, np.int64)

    # --- state in ----------------------------------------------------------------------
    def load(self) -> None:
        for end in self.ends:
            e, dev, ctx, drv = end["e"], end["dev"], end["ctx"], end["drv"]
            irq = dev.datapath.irq
            v = end["v"]
            vs = irq._vec(v)
            seen = drv.port._irq_seen
            if v >= len(seen):
                seen.extend([0] * (v + 1 - len(seen)))
            mod = ctx.mod
            dim = mod.dim
            e[:] = 0
            e[SP.E_NOW] = dev.now_ns
            e[SP.E_RES_NS] = max(1, int(dev.intr_delay_resolution)) * 1000
            e[SP.E_MASKED] = vs.masked
            e[SP.E_RXD] = vs.rx_delay
            e[SP.E_TXD] = vs.tx_delay
            e[SP.E_PEND_RX] = vs.pending_rx
            e[SP.E_PEND_TX] = vs.pending_tx
            e[SP.E_ARM_RX] = vs.armed_rx
            e[SP.E_ARM_TX] = vs.armed_tx
            e[SP.E_DUE] = -1 if vs.due_ns is None else vs.due_ns
            e[SP.E_GEN] = vs.gen
            e[SP.E_IRQ_COUNT] = dev.irq_counts[v]
            e[SP.E_IRQ_SEEN] = seen[v]
            e[SP.E_CQ_RXD] = end["ucq"].rx_delay
            e[SP.E_CQ_TXD] = end["ucq"].tx_delay
            e[SP.E_SCHEDULED] = ctx.scheduled
            e[SP.E_NAPI_RX_PKTS] = ctx.napi_rx_pkts
            e[SP.E_MODE] = SP.MODE_DIM if mod.mode == "dim" else SP.MODE_STATIC
            e[SP.E_STATIC_RX] = mod.coalesce.rx_interval
            e[SP.E_TX_INTERVAL] = mod.coalesce.tx_interval
            e[SP.E_LAST_RX], e[SP.E_LAST_TX] = mod.last if mod.last is not None else (-1, -1)
            e[SP.E_SAME_VALUE] = mod._same_value
            e[SP.E_ERA2016] = mod.era == "2016"
            e[SP.E_RX_INTERVAL] = mod.rx_interval
            e[SP.E_DIM_EVENTS] = dim.non_empty_napi_events
            e[SP.E_DIM_AUTO] = dim.auto_apply
            e[SP.E_DIM_RX_USEC] = dim.rx_interval_usec
            e[SP.E_RXCNT_BASE] = ctx.rx.counts.cnt
            e[SP.E_RXBYTES_BASE] = ctx.rx.counts.bytes
            end["dim"][:] = (dim.state, dim.profile_ix, dim.tune_state, dim.steps_right,
                             dim.steps_left, dim.tired, dim.prev_stats.ppms,
                             dim.prev_stats.bpms, dim.prev_stats.epms,
                             dim.start_sample.time_ns, dim.start_sample.pkt_ctr,
                             dim.start_sample.byte_ctr, dim.start_sample.event_ctr)
            tsq, tst, rsq = end["tsq"], end["tst"], end["rsq"]
            if tst is not None:  # the sending end (the other one's Tx queue stays idle)
                if tst.burst_limit < 0:
                    tst.burst_limit = dev.datapath.tx._burst_limit(tsq)
                e[SP.E_LAST_DB_TAIL] = tst.last_doorbell_tail
                e[SP.E_BURST_LIMIT] = tst.burst_limit
            e[SP.E_TXSQ_TAIL] = tsq.tail
            e[SP.E_TXSQ_HEAD] = tsq.head
            e[SP.E_TXCQ_TAIL] = tsq.cq.tail
            e[SP.E_TXSQ_IDX] = tsq.idx
            e[SP.E_RXSQ_HEAD] = rsq.head
            e[SP.E_RXSQ_TAIL] = rsq.tail
            e[SP.E_RXCQ_TAIL] = rsq.cq.tail
            e[SP.E_RXSQ_IDX] = rsq.idx
            e[SP.E_STORE_SIDE] = ctx.rx.store.side

    # --- state out -----------------------------------------------------------------------
    def store(self) -> None:
        for end in self.ends:
            e = end["e"].tolist()
            dev, ctx, drv, v = end["dev"], end["ctx"], end["drv"], end["v"]
            irq = dev.datapath.irq
            vs = irq._vec(v)
            dev.now_ns = e[SP.E_NOW]
            vs.masked = bool(e[SP.E_MASKED])
            vs.rx_delay, vs.tx_delay = e[SP.E_RXD], e[SP.E_TXD]
            vs.pending_rx, vs.pending_tx = bool(e[SP.E_PEND_RX]), bool(e[SP.E_PEND_TX])
            vs.armed_rx, vs.armed_tx = bool(e[SP.E_ARM_RX]), bool(e[SP.E_ARM_TX])
            vs.due_ns = None if e[SP.E_DUE] < 0 else e[SP.E_DUE]
            vs.gen = e[SP.E_GEN]
            for c in irq._cqs_on(v):
                c.masked = vs.masked
            irq.resume_timer(v)
            dev.irq_counts[v] = e[SP.E_IRQ_COUNT]
            drv.port._irq_seen[v] = e[SP.E_IRQ_SEEN]
            ucq = end["ucq"]
            ucq.rx_delay, ucq.tx_delay = e[SP.E_CQ_RXD], e[SP.E_CQ_TXD]
            ucq.unmask_writes += e[SP.E_CQ_UNMASK_D]
            ctx.scheduled = bool(e[SP.E_SCHEDULED])
            ctx.unmask_writes += e[SP.E_UNMASK_WRITES_D]
            ctx.napi_rx_pkts = e[SP.E_NAPI_RX_PKTS]
            tc = ctx.tx.counts
            tc.interrupts += e[SP.E_INTERRUPTS_D]
            tc.napi_comp += e[SP.E_NAPI_COMP_D]
            tc.unmask_interrupt += e[SP.E_UNMASK_INTR_D]
            tc.doorbells += e[SP.E_DRV_TX_DOORBELLS_D]
            mod = ctx.mod
            mod.rx_interval = e[SP.E_RX_INTERVAL]
            if e[SP.E_LAST_RX] >= 0:
                mod.last = (e[SP.E_LAST_RX], e[SP.E_LAST_TX])
                mod._same_value = e[SP.E_SAME_VALUE]
            dim = mod.dim
            d = end["dim"].tolist()
            (dim.state, dim.profile_ix, dim.tune_state, dim.steps_right, dim.steps_left,
             dim.tired) = d[:6]
            dim.prev_stats.ppms, dim.prev_stats.bpms, dim.prev_stats.epms = d[6:9]
            ss = dim.start_sample
            ss.time_ns, ss.pkt_ctr, ss.byte_ctr, ss.event_ctr = d[9:13]
            dim.decisions += e[SP.E_DIM_DECISIONS_D]
            dim.non_empty_napi_events = e[SP.E_DIM_EVENTS]
            dim.rx_interval_usec = e[SP.E_DIM_RX_USEC]
            tsq, tst, rsq, rst = end["tsq"], end["tst"], end["rsq"], end["rst"]
            tsq.tail, tsq.head = e[SP.E_TXSQ_TAIL], e[SP.E_TXSQ_HEAD]
            tsq.doorbells += e[SP.E_TXSQ_DOORBELLS_D]
            if tst is not None:
                for name, i in _TX_QUEUE_COUNTS:
                    setattr(tst.counters, name, getattr(tst.counters, name) + e[i])
                tst.last_doorbell_tail = e[SP.E_LAST_DB_TAIL]
            tsq.cq.tail = e[SP.E_TXCQ_TAIL]
            dev.stats.tx_pkts += e[SP.E_STATS_TX_PKTS_D]
            dev.stats.tx_bytes += e[SP.E_STATS_TX_BYTES_D]
            rsq.head, rsq.tail = e[SP.E_RXSQ_HEAD], e[SP.E_RXSQ_TAIL]
            rsq.doorbells += e[SP.E_RXSQ_DOORBELLS_D]
            if rst is not None:  # the receiving end (nothing arrives at the other one)
                dev.datapath.rx.account(rst, e[SP.E_RXN: SP.E_RXN + kdp.RXN_LEN])
            rsq.cq.tail = e[SP.E_RXCQ_TAIL]
            ctx.rx.store.side = e[SP.E_STORE_SIDE]

    def horizon_ns(self) -> int:
        """The earliest event only the Python path handles: a device timer that is not an
        IO interrupt, or an admin completion."""
        h = NO_HORIZON
        for end in self.ends:
            dev = end["dev"]
            for due, _seq, cb in dev._timers:
                if due < h and not isinstance(cb, IrqTimer):
                    h = due
            if dev.admin.pending:
                h = min(h, int(dev.admin.pending[0][0]))
        return h

    def run(self, ncycles: int, seconds: float) -> np.ndarray:
        A, B = self.ends
        self.load()
        B_ctx = B["ctx"]
        sets = B_ctx.rx.store._sets
        a_sets = A["ctx"].rx.store._sets[A["ctx"].rx.store.side]
        buf, offs, lens, n = self.frames
        tx = self.a_tx
        try:
            SP.pair_cycles(
                ncycles, float(seconds), float(self.be.step), self.horizon_ns(),
                float(A["drv"]._next_tick), float(B["drv"]._next_tick), buf, offs, lens, n,
                A["e"], self.a_burst, tx._db, tx.kcount, self.a_bar2, self.a_dev_tx,
                self.a_dev_gen,
                A["ctx"].napi_args(a_sets, MAX_POLL_ROUNDS, -1), A["ctx"]._rdb,
                A["ctx"]._rpk, A["dim"], A["prof"], A["ctx"].rx.kcount,
                B["e"], self.b_rss, self.b_rest, self.b_classify, self.b_sel,
                int(B["rsq"].idx), self.b_deliver, self.b_rx_scratch,
                B_ctx.napi_args(sets[0], MAX_POLL_ROUNDS, -1),
                B_ctx.napi_args(sets[1], MAX_POLL_ROUNDS, -1), B_ctx._rdb,
                B_ctx._rpk, B["dim"], B["prof"], B_ctx.rx.kcount, B_ctx.rx.store.fill,
                tuple(sets[0]), tuple(sets[1]), self.res)
        finally:
            tx.bounce[: self.a_bar2.size] = self.a_bar2  # what the Python path's copies leave
            self.store()
        return self.res


def _python_cycle(be, buf, offs, lens, seconds, out: CycleResult) -> None:
    out.sent += be.tx_burst_packed(0, buf, offs, lens)
    be.advance(seconds)
    out.count(be.rx_burst_packed(0, end=1))
    out.cycles += 1


def run_cycles(be, buf: np.ndarray, offs: np.ndarray, lens: np.ndarray, ncycles: int,
               seconds: float | None = None, *, compiled: bool = True) -> CycleResult:
    """``ncycles`` × (burst ``buf[offs[i]:offs[i]+lens[i]]`` on end 0 queue 0, advance
    ``seconds`` (default: the backend's step), take end 1 queue 0)."""
    if ncycles < 0:
        raise UsageError(f"cycles must be >= 0, not {ncycles}")
    seconds = be.step if seconds is None else float(seconds)
    buf = np.ascontiguousarray(buf, np.uint8)
    offs = np.ascontiguousarray(offs, np.int64)
    lens = np.ascontiguousarray(lens, np.int64)
    out = CycleResult()
    plan: _Plan | None = None
    while out.cycles < ncycles:
        why = why_not_compiled(be, lens, seconds) if compiled else "not asked for"
        if why is not None:
            out.fallback = out.fallback or why
            _python_cycle(be, buf, offs, lens, seconds, out)
            plan = None  # the Python path may have grown buffers the plan holds
            continue
        if plan is None:
            plan = _Plan(be, buf, offs, lens)
        res = plan.run(ncycles - out.cycles, seconds).tolist()
        done = res[SP.R_CYCLES]
        out.cycles += done
        out.compiled_cycles += done
        out.sent += res[SP.R_SENT]
        out.rx_pkts += res[SP.R_RX_PKTS]
        out.rx_csum_good += res[SP.R_RX_CSUM_GOOD]
        out.rx_bytes += res[SP.R_RX_BYTES]
        status = res[SP.R_STATUS]
        if status in (SP.ST_OK, SP.ST_HORIZON):
            if done:  # the last compiled cycle's take
                out.count(be.rx_burst_packed(0, end=1))
            if status == SP.ST_HORIZON and out.cycles < ncycles:
                _python_cycle(be, buf, offs, lens, seconds, out)
                plan = None
            continue
        # the compiled loop stopped inside a cycle: the Python path finishes that cycle
        plan = None
        end_s = res[SP.R_T0] / 1e9 + seconds
        if status == SP.ST_TX_PYTHON:  # device 0 takes the doorbells' packets itself
            be.devices[0].process()
        elif status == SP.ST_NAPI_ERR:
            drv = be.drivers[res[SP.R_END]]
            drv._trigger_reset(napi_reset_reason(res[SP.R_REASON], res[SP.R_ERR]))
        elif res[SP.R_ERR] == SP.ERR_OTHER_QUEUE:
            raise RuntimeError("compiled cycles: RSS steered a frame off queue 0")
        else:
            rx = be.devices[1].datapath.rx
            rx.deliver_failed(next(iter(be.devices[1].io.rx_sqs.values())), res[SP.R_ERR])
        be.advance_until(end_s)
        out.count(be.rx_burst_packed(0, end=1))
        out.cycles += 1
    return out
