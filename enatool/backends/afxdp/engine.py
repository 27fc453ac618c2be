"""The AF_XDP engine's workers: one thread per queue running a nogil numba ring loop.

Python only builds the argument tuples, starts the threads, flips the shared ``stop`` flag
and reads the shared counter array live; every packet is handled inside
:func:`numba_kernels.xsk.tx_loop` / :func:`numba_kernels.xsk.rx_loop`. A worker pinned with
``cpu`` sets its own thread's affinity (``sched_setaffinity(0)`` acts on the calling thread)
and restores it before it ends.

Templates come in duck-typed (any object with the arrays of
``enatool.gen.templates.TemplateSet``): backends must not import the program layer.
"""

from __future__ import annotations

import math
import os
import resource
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from enatool import sysffi
from enatool.backends.afxdp.xsk import XskSocket
from enatool.errors import UsageError
from numba_kernels import fieldengine as fe
from numba_kernels import pacing as kp
from numba_kernels import packet as pk
from numba_kernels import seqcheck as sc
from numba_kernels import xsk as kx

WIRE_OVERHEAD = 24  # FCS + preamble/SFD + IFG bytes per frame (gen.templates.WIRE_OVERHEAD)
STALL_NS = 2_000_000_000
PACER_BURST = 32  # frames
#: the bucket also holds this much credit, so a worker descheduled for a while (2 vCPUs,
#: softirq on the same core) catches up instead of forfeiting rate; a catch-up burst is at
#: most 50 ms worth of frames (and only after such a stall)
PACER_WINDOW_S = 0.05


def pacer_burst(per_queue_rate: int, by_frames: bool, max_wire_bits: int) -> int:
    """Bucket depth (frames or wire bits) for one queue's pacer."""
    floor = PACER_BURST * (1 if by_frames else max_wire_bits)
    return max(floor, int(per_queue_rate * PACER_WINDOW_S))


class _Libc:
    """ctypes pointers handed to the kernels (created once per process)."""

    _inst: _Libc | None = None

    def __init__(self) -> None:
        self.sendto = sysffi.libc_sendto()
        self.recvfrom = sysffi.libc_recvfrom()
        self.poll = sysffi.libc_poll()
        self.clock = sysffi.libc_clock_gettime()

    @classmethod
    def get(cls) -> _Libc:
        if cls._inst is None:
            cls._inst = _Libc()
        return cls._inst


@dataclass
class Worker:
    """One queue's kernel call: ``fn(*args)`` in a thread, optionally pinned to ``cpu``."""

    queue: int
    fn: Callable[..., Any]
    args: tuple
    cpu: int | None = None
    result: Any = None
    error: BaseException | None = None
    thread: threading.Thread | None = field(default=None, repr=False)
    cpu_user_s: float = 0.0  # this thread's CPU time in the kernel call (RUSAGE_THREAD)
    cpu_sys_s: float = 0.0
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def _body(self) -> None:
        old = None
        ru0 = resource.getrusage(resource.RUSAGE_THREAD)
        try:
            if self.cpu is not None:
                old = os.sched_getaffinity(0)
                os.sched_setaffinity(0, {self.cpu})
            self.result = self.fn(*self.args)
        except BaseException as e:  # reported by join_all
            self.error = e
        finally:
            if old is not None:
                os.sched_setaffinity(0, old)
            ru1 = resource.getrusage(resource.RUSAGE_THREAD)
            self.cpu_user_s = ru1.ru_utime - ru0.ru_utime
            self.cpu_sys_s = ru1.ru_stime - ru0.ru_stime
            self.done.set()

    def start(self) -> None:
        self.thread = threading.Thread(target=self._body, name=f"xsk-q{self.queue}",
                                       daemon=True)
        self.thread.start()


def run_workers(workers: Sequence[Worker], stop: np.ndarray,
                on_poll: Callable[[], None] | None = None, poll_s: float = 0.05,
                interrupt_flag: int = kx.STOP_DRAIN) -> bool:
    """Start ``workers``, wait for all; Ctrl-C sets ``stop`` (a second one: STOP_NOW).
    Returns True if interrupted. Re-raises the first worker error.

    Waiting uses each worker's ``done`` event, never ``Thread.join(timeout)``: in CPython
    3.11 a KeyboardInterrupt landing inside a timed join can mark a thread that is still
    running as stopped (its tstate lock gets released), and the caller would then unmap
    rings the nogil loop is still using.
    """
    interrupted = False
    for w in workers:
        w.start()
    try:
        while not all(w.done.is_set() for w in workers):
            try:
                for w in workers:
                    w.done.wait(poll_s / max(len(workers), 1))
                if on_poll is not None:
                    on_poll()
            except KeyboardInterrupt:
                stop[0] = kx.STOP_NOW if interrupted else interrupt_flag
                interrupted = True
    finally:
        stop[0] = max(int(stop[0]), interrupt_flag)
        while not all(w.done.is_set() for w in workers):
            try:
                for w in workers:
                    w.done.wait(poll_s)
            except KeyboardInterrupt:
                stop[0] = kx.STOP_NOW
                interrupted = True
        for w in workers:
            if w.thread is not None:
                w.thread.join()
    for w in workers:
        if w.error is not None:
            raise w.error
    return interrupted


def worker_cpu(workers: Sequence[Worker]) -> dict[str, float]:
    """User and system CPU seconds the data-path threads used (setup excluded)."""
    user = sum(w.cpu_user_s for w in workers)
    sys_ = sum(w.cpu_sys_s for w in workers)
    return {"user_s": user, "sys_s": sys_,
            "user_share": user / (user + sys_) if user + sys_ > 0 else None}


def send_window(first_ns: np.ndarray, last_ns: np.ndarray) -> float:
    """Seconds from the first to the last batch (sent, or received) over all queues (0 if
    none)."""
    used = first_ns > 0
    if not used.any():
        return 0.0
    return float(int(last_ns[used].max()) - int(first_ns[used].min())) / 1e9


def split(total: int | None, parts: int) -> list[int]:
    """``total`` spread over ``parts`` (-1 each when unlimited)."""
    if total is None:
        return [-1] * parts
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


# ---------------------------------------------------------------------------------------------
# Tx


@dataclass
class TxQueueState:
    """Field-engine and pacer state of one Tx queue (its own slice of the flow schedule)."""

    flow_sched: np.ndarray
    sched_lcm: int
    fe_state: np.ndarray
    slot_map: np.ndarray  # fieldengine slot map: int64 per UMEM frame
    pstate: np.ndarray
    addrs: np.ndarray
    lens: np.ndarray
    cost: np.ndarray
    static_addrs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    static_lens: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def build_static(tset: Any, s: XskSocket, st: TxQueueState, seq_next: np.ndarray) -> None:
    """Prebuild one frame per schedule position of this queue in its own Tx frames (taken
    off the free stack for the run) for MODE_STATIC. The period is lcm(sizes, flows)."""
    if s.zerocopy:
        raise UsageError("--fill static needs copy mode (zero-copy sends the frame itself)",
                         hint="use -C copy, or --fill fields")
    period = int(st.sched_lcm)
    if period > int(s.tx_depth[0]) // 2:
        raise UsageError(f"--fill static needs {period} prebuilt frames (sizes x flows), "
                         f"more than half of the {int(s.tx_depth[0])} Tx frames",
                         hint="fewer --flows or sizes, or --fill fields")
    umem = s.umem
    assert umem is not None
    top = int(s.tx_depth[0])
    addrs = s.tx_stack[top - period:top][::-1].copy()
    s.tx_depth[0] = top - period
    lens = np.zeros(period, np.int64)
    fe.fill_frames(umem.buf, addrs, lens, period, tset.templates, tset.frame_len,
                   tset.probe_len, tset.layout, tset.flows.src, tset.flows.dst,
                   tset.flows.sport, tset.flows.dport, tset.size_sched, st.flow_sched,
                   st.sched_lcm, np.zeros(0, np.int32), seq_next, st.fe_state,
                   st.slot_map, umem.frame_size, 0, fe.MODE_FULL)
    st.fe_state[:] = 0
    st.static_addrs, st.static_lens = addrs, lens


def tx_states(tset: Any, socks: Sequence[XskSocket], batch: int, rate: float | None,
              bitrate: float | None) -> tuple[list[TxQueueState], int]:
    """Per-queue engine state; each queue owns flows ``flow_sched[i::Q]`` so a flow never
    spans two queues (no reordering, and ``seq_next`` is never shared between threads)."""
    nq = len(socks)
    if tset.n_classes > fe.SL_MAX_CLASSES:
        raise UsageError(f"{tset.n_classes} frame sizes", hint=f"at most {fe.SL_MAX_CLASSES}")
    if len(tset.flows) < nq:
        raise UsageError(f"{len(tset.flows)} flow(s) for {nq} Tx queues",
                         hint="use at least as many flows as queues (--flows)")
    paced_rate = rate if rate is not None else bitrate
    out = []
    for i, s in enumerate(socks):
        sched = np.ascontiguousarray(tset.flow_sched[i::nq]) if nq > 1 else tset.flow_sched
        pstate = np.zeros(kp.PS_N, np.int64)
        if paced_rate is not None:
            per_q = max(int(paced_rate) // nq + (1 if i < int(paced_rate) % nq else 0), 1)
            kp.pacer_init(pstate, per_q, pacer_burst(per_q, rate is not None,
                                                     int(tset.class_wire_bits.max())))
        umem = s.umem
        assert umem is not None
        if tset.max_frame_len > umem.frame_size:
            raise UsageError(f"frames of {tset.max_frame_len} B do not fit {umem.frame_size} B "
                             "UMEM frames")
        out.append(TxQueueState(
            flow_sched=sched,
            sched_lcm=math.lcm(len(tset.size_sched), len(sched)),
            fe_state=np.zeros(fe.ST_N, np.int64),
            slot_map=np.full(umem.n_frames, -1, np.int64),
            pstate=pstate,
            addrs=np.zeros(batch, np.int64),
            lens=np.zeros(batch, np.int64),
            cost=np.zeros(batch, np.int64)))
    return out, (0 if paced_rate is None else 1 if rate is not None else 2)


def tx_args(s: XskSocket, st: TxQueueState, tset: Any, seq_next: np.ndarray, fill_mode: int,
            paced: int, count: int, deadline_ns: int, stop: np.ndarray, batch: int,
            counters: np.ndarray, row: int, libc: _Libc, ts: np.ndarray) -> tuple:
    tx, comp = s.rings["tx"], s.rings["comp"]
    f = tset.flows
    umem = s.umem
    assert umem is not None
    return (umem.buf, tx.producer, tx.consumer, tx.flags, tx.addr, tx.len, tx.mask,
            comp.producer, comp.consumer, comp.addr, comp.mask, s.tx_stack, s.tx_depth,
            st.addrs, st.lens, tset.templates, tset.frame_len, tset.probe_len, tset.layout,
            f.src, f.dst, f.sport, f.dport, tset.size_sched, st.flow_sched, st.sched_lcm,
            np.zeros(0, np.int32), seq_next, st.fe_state, st.slot_map, umem.frame_size,
            fill_mode, st.pstate, paced, np.ascontiguousarray(tset.class_wire_bits, np.int64),
            st.cost, count, deadline_ns, STALL_NS, stop, batch, int(s.need_wakeup), s.fd,
            libc.sendto, libc.clock, ts, counters, row, st.static_addrs, st.static_lens)


# ---------------------------------------------------------------------------------------------
# Rx


@dataclass
class RxQueueState:
    """Sequence-check state of one Rx queue (flows are accounted per queue)."""

    fstate: np.ndarray
    bitmap: np.ndarray
    rec: np.ndarray
    addrs: np.ndarray
    lens: np.ndarray
    pollfd: np.ndarray


def rx_state(s: XskSocket, n_flows: int, window: int, batch: int) -> RxQueueState:
    if window < 64 or window % 64:
        raise UsageError(f"reorder window {window} must be a positive multiple of 64")
    fstate = np.zeros((n_flows, sc.FS_N), np.int64)
    bitmap = np.zeros((n_flows, window // 64), np.uint64)
    sc.flow_state_init(fstate, bitmap)
    return RxQueueState(fstate, bitmap, np.zeros(pk.PK_NFIELDS, np.int64),
                        np.zeros(batch, np.int64), np.zeros(batch, np.int64),
                        np.array([s.fd, 0], np.int32))


def rx_args(s: XskSocket, st: RxQueueState, verify: bool, qstats: np.ndarray, count: int,
            deadline_ns: int, stop: np.ndarray, batch: int, idle_ms: int,
            counters: np.ndarray, row: int, libc: _Libc, ts: np.ndarray) -> tuple:
    rx, fill = s.rings["rx"], s.rings["fill"]
    umem = s.umem
    assert umem is not None
    return (umem.buf, rx.producer, rx.consumer, rx.addr, rx.len, rx.mask, fill.producer,
            fill.consumer, fill.flags, fill.addr, fill.mask, ~np.int64(umem.frame_size - 1),
            st.addrs, st.lens, row, verify, st.rec, st.fstate, st.bitmap, qstats, count,
            deadline_ns, stop, batch, int(s.need_wakeup), int(s.busy_poll), st.pollfd,
            idle_ms, libc.poll, libc.recvfrom, libc.clock, ts, counters, row)


def monotonic_ns() -> int:
    return time.monotonic_ns()
