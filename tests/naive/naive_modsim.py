"""Naive twin of numba_kernels.modsim.simulate: the same virtual-clock model written as plain
Python objects (an interrupt vector, a NAPI context and FIFOs per end), with the moderation
decisions taken by the driver's pure-Python policies (``adaptive_2016_decide``, ``NetDim``)
and RTTs kept as raw samples instead of a histogram.

Event order at equal times (the kernel's, stated once here): app send, then per end 0, 1
(arrival from that end, then its Tx completion), then interrupts of end 0, 1, then NAPI of
end 0, 1. The run stops at the first event later than the duration.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from enatool.driver.policy.dim import NetDim
from enatool.driver.policy.moderation import adaptive_2016_decide

DATA, REQUEST, RESPONSE = 0, 1, 2
STATIC, TABLE, DIM = 0, 1, 2
MAX_DELAY = 0x7FFF
COUNTERS = ("irqs", "rounds", "complete", "rx_pkts", "rx_bytes", "rx_drops", "tx_blocked",
            "cpu_ns", "tx_pkts", "rtt_lost")


@dataclass
class Frame:
    size: int
    kind: int
    tag: int  # send time of the request it belongs to
    resp: int  # response size a request asks for


@dataclass
class Vector:
    """``enatool/device/irq.py``: auto-masked on fire; first completion of a kind after the
    unmask arms its delay, the earliest due time wins; masked completions are remembered."""

    rx_delay: int = 0
    tx_delay: int = 0
    masked: bool = False
    pending: dict = field(default_factory=lambda: {"rx": False, "tx": False})
    armed: dict = field(default_factory=lambda: {"rx": False, "tx": False})
    due: int | None = None

    def arm(self, what: str, t: int, resolution: int) -> None:
        if self.armed[what]:
            return
        self.armed[what] = True
        units = self.rx_delay if what == "rx" else self.tx_delay
        d = t + units * resolution * 1000
        if self.due is None or d < self.due:
            self.due = d

    def completion(self, what: str, t: int, resolution: int) -> None:
        self.pending[what] = True
        if not self.masked:
            self.arm(what, t, resolution)

    def fire(self) -> None:
        self.masked = True
        self.pending = {"rx": False, "tx": False}
        self.armed = {"rx": False, "tx": False}
        self.due = None

    def unmask(self, t: int, resolution: int) -> None:
        if not self.masked:
            return
        self.masked = False
        self.armed = {"rx": False, "tx": False}
        self.due = None
        for what in ("rx", "tx"):
            if self.pending[what]:
                self.arm(what, t, resolution)


@dataclass
class End:
    wire: deque = field(default_factory=deque)  # (arrival time, Frame) towards the peer
    tx_done: deque = field(default_factory=deque)  # departure times (Tx completion writes)
    rx_queue: deque = field(default_factory=deque)  # received Frames waiting for NAPI
    rx_posted: int = 0
    rx_unrefilled: int = 0
    tx_inuse: int = 0
    txc_ready: int = 0
    wire_free: int = 0
    vec: Vector = field(default_factory=Vector)
    napi_at: int | None = None
    napi_round_running: bool = False
    napi_first: bool = False
    napi_more: bool = False
    napi_rx: int = 0
    acc_pkts: int = 0
    acc_bytes: int = 0
    level: int = 0
    smoothed: int = 0
    dim: NetDim | None = None
    rx_tot: int = 0
    rx_btot: int = 0
    cnt: dict = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    hits: list = field(default_factory=lambda: [0] * 5)


def simulate(sends, *, duration, delay, tx_depth, rx_depth, quantum, cost_irq, cost_rx,
             cost_tx, resolution, rx_budget, refill_thr, overhead, ns_per_byte, modes,
             rx_units, tx_units, intervals, pkts_thr, bytes_thr, dim_profiles, trace_len=0):
    """``sends``: [(time, end, size, kind, resp)] sorted by time. Returns a dict of
    per-end counters, level hits, the RTT samples in recording order and the trace."""
    ends = [End(), End()]
    tx_budget = max(1, tx_depth // 4)
    rtts: list[int] = []
    trace: list[tuple[int, int, int]] = []

    def xmit(e: int, t: int, fr: Frame) -> None:
        me = ends[e]
        if me.tx_inuse >= tx_depth - 1:
            me.cnt["tx_blocked"] += 1
            if fr.kind == REQUEST:
                me.cnt["rtt_lost"] += 1
            return
        me.tx_inuse += 1
        me.cnt["tx_pkts"] += 1
        dep = max(t, me.wire_free) + int(ns_per_byte * (fr.size + overhead) + 0.5)
        me.wire_free = dep
        me.wire.append((dep + delay, fr))
        me.tx_done.append(dep)

    def napi_round(me: End, e: int, t: int) -> None:
        """One ``ena_io_poll`` round over what is there now; it takes ``cost`` of CPU."""
        cost = cost_irq if me.napi_first else 0
        me.napi_first = False
        m = min(me.txc_ready, tx_budget)
        me.txc_ready -= m
        me.tx_inuse -= m
        cost += m * cost_tx
        n = min(len(me.rx_queue), rx_budget)
        nbytes = 0
        for _ in range(n):
            fr = me.rx_queue.popleft()
            cost += cost_rx
            nbytes += fr.size
            if fr.kind == REQUEST:
                xmit(e, t + cost, Frame(fr.resp, RESPONSE, fr.tag, 0))
            elif fr.kind == RESPONSE:
                rtts.append(t + cost - fr.tag)
        me.cnt["rx_pkts"] += n
        me.cnt["rx_bytes"] += nbytes
        me.rx_tot += n
        me.rx_btot += nbytes
        me.napi_rx += n
        me.acc_pkts += n
        me.acc_bytes += nbytes
        me.rx_unrefilled += n
        if me.rx_unrefilled >= refill_thr:
            me.rx_posted += me.rx_unrefilled
            me.rx_unrefilled = 0
        me.cnt["rounds"] += 1
        me.cnt["cpu_ns"] += cost
        me.napi_more = n >= rx_budget or m >= tx_budget
        me.napi_at = t + cost
        me.napi_round_running = True

    def napi_complete(me: End, e: int, t: int) -> None:
        """``napi_complete_done``: the moderation decision, then the unmask write."""
        me.cnt["complete"] += 1
        me.napi_at = None
        if modes[e] == TABLE:
            me.level, me.smoothed = adaptive_2016_decide(
                me.level, me.smoothed, me.acc_pkts, me.acc_bytes, list(intervals[e]),
                list(pkts_thr[e]), list(bytes_thr[e]), 1)
            me.acc_pkts = me.acc_bytes = 0
            new_rx = me.smoothed
            me.hits[me.level] += 1
        elif modes[e] == DIM:
            me.dim.on_napi_complete(t, me.napi_rx, me.rx_tot, me.rx_btot)
            new_rx = me.dim.profile_usec  # DIM's usec is written raw, as the driver does
            me.hits[me.dim.profile_ix] += 1
        else:
            new_rx = rx_units[e]
        me.napi_rx = 0
        me.vec.rx_delay = min(new_rx, MAX_DELAY)
        me.vec.tx_delay = min(tx_units[e], MAX_DELAY)
        if len(trace) < trace_len:
            trace.append((t, e, me.vec.rx_delay))
        me.vec.unmask(t, resolution)

    for e, me in enumerate(ends):
        me.rx_posted = rx_depth - 1
        if modes[e] == STATIC:
            me.vec.rx_delay = rx_units[e]
        elif modes[e] == TABLE:
            me.smoothed = intervals[e][0]
            me.vec.rx_delay = me.smoothed
        else:
            me.dim = NetDim(tuple(dim_profiles))
            me.vec.rx_delay = me.dim.profile_usec
        me.vec.rx_delay = min(me.vec.rx_delay, MAX_DELAY)
        me.vec.tx_delay = tx_units[e]

    si = 0
    while True:
        cands = []  # (time, rank, what, end); the rank breaks ties
        if si < len(sends):
            cands.append((sends[si][0], 0, "send", 0))
        for e, me in enumerate(ends):
            if me.wire:
                cands.append((me.wire[0][0], 1 + 2 * e, "arrive", e))
            if me.tx_done:
                cands.append((me.tx_done[0], 2 + 2 * e, "txc", e))
            if not me.vec.masked and me.vec.due is not None:
                cands.append((me.vec.due, 5 + e, "irq", e))
            if me.napi_at is not None:
                cands.append((me.napi_at, 7 + e, "napi", e))
        if not cands:
            break
        t, _, what, e = min(cands)
        if t > duration:
            break
        me = ends[e]
        if what == "send":
            _, e, size, kind, resp = sends[si]
            xmit(e, t, Frame(size, kind, t, resp))
            si += 1
        elif what == "arrive":
            _, fr = me.wire.popleft()
            peer = ends[1 - e]
            if peer.rx_posted == 0:
                peer.cnt["rx_drops"] += 1
                if fr.kind != DATA:
                    peer.cnt["rtt_lost"] += 1
            else:
                peer.rx_posted -= 1
                peer.rx_queue.append(fr)
                peer.vec.completion("rx", t, resolution)
        elif what == "txc":
            me.tx_done.popleft()
            me.txc_ready += 1
            me.vec.completion("tx", t, resolution)
        elif what == "irq":
            me.vec.fire()
            me.cnt["irqs"] += 1
            if me.napi_at is None:
                me.napi_at = -(-t // quantum) * quantum if quantum > 0 else t
                me.napi_round_running = False
                me.napi_first = True
        elif not me.napi_round_running:
            napi_round(me, e, t)
        elif me.napi_more:
            me.napi_round_running = False
        else:
            napi_complete(me, e, t)

    return dict(cnt=[[me.cnt[k] for k in COUNTERS] for me in ends],
                hits=[me.hits for me in ends], rtts=rtts, trace=trace)
