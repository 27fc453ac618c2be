"""``AfxdpBackend``: the Backend interface over a real netdev (ENA on EC2, veth here).

What it owns, in order (a context manager; ``close()`` undoes everything in reverse):
the safety check (no takeover of the default-route interface without ``force``), the
``xsk_redirect`` XDP program compiled by bcc and attached (BPF link) in the interface's
netns, and one AF_XDP socket per queue registered in the program's XSKMAP.

Two ways to move packets:

* the Backend calls (``tx_burst``/``rx_burst``) and the gen program's slot protocol
  (``tx_slots``/``tx_submit``, ``rx_slots``/``rx_release``): one Python call per batch;
* ``run_tx`` / ``run_rx``: the whole loop in nogil numba, one thread per queue — what
  ``enatool gen``/``sink`` use for line rate.

Flags mean what they mean in every enatool tool (xdp-tools model): ``queues`` (-q),
``batch`` (-b), ``copy`` (-C copy|zc|auto), ``busy_poll`` (-B), ``xdp_mode``
(-A native|skb|auto), ``duration`` (-d). Coalescing and RSS changes need ethtool ioctls on
the real device and are out of scope here (CapabilityError).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from enatool import netdev
from enatool.backends.afxdp import engine as eng
from enatool.backends.afxdp.xdp import (
    FILTER_DADDR,
    FILTER_DPORT,
    FILTER_DROP_UNBOUND,
    FILTER_IPV6,
    FILTER_PROTO,
    FILTER_SADDR,
    FILTER_SPORT,
    QSTATS_FIELDS,
    XdpAttach,
    XdpProgram,
)
from enatool.backends.afxdp.xsk import XskSocket
from enatool.backends.base import Backend
from enatool.errors import CapabilityError, UsageError
from numba_kernels import fieldengine as fe
from numba_kernels import seqcheck as sc
from numba_kernels import xsk as kx

FILL_MODES = {"full": fe.MODE_FULL, "fields": fe.MODE_FIELDS, "fields-only": fe.MODE_FIELDS,
              "static": kx.MODE_STATIC}
PROTOS = {"udp": 17, "tcp": 6}


def _filter_args(flt: dict[str, Any] | None) -> dict[str, Any]:
    """{'proto','sport','dport','src','dst','drop_unbound'} -> XdpProgram.set_filter kwargs."""
    import ipaddress

    if not flt:
        return {}
    unknown = set(flt) - {"proto", "sport", "dport", "src", "dst", "drop_unbound"}
    if unknown:
        raise UsageError(f"unknown filter field(s) {sorted(unknown)}")
    flags, kw = 0, {}
    if flt.get("proto") is not None:
        flags |= FILTER_PROTO
        kw["proto"] = PROTOS.get(str(flt["proto"]).lower(), flt["proto"])
    for key, bit in (("sport", FILTER_SPORT), ("dport", FILTER_DPORT)):
        if flt.get(key) is not None:
            flags |= bit
            kw[key] = int(flt[key])
    for key, arg, bit in (("src", "saddr", FILTER_SADDR), ("dst", "daddr", FILTER_DADDR)):
        if flt.get(key) is not None:
            a = ipaddress.ip_address(flt[key])
            flags |= bit | (FILTER_IPV6 if a.version == 6 else 0)
            kw[arg] = a.packed
    if flt.get("drop_unbound"):
        flags |= FILTER_DROP_UNBOUND
    kw["flags"] = flags
    return kw


class AfxdpBackend(Backend):
    """AF_XDP on ``ifname`` (in ``netns``), one XSK per queue in ``queues`` (default 0).

    ``rx``/``tx`` choose which rings the sockets get (Tx-only needs no XDP program).
    ``filter``: which traffic goes to the sockets (other traffic reaches the kernel):
    ``{'proto': 'udp', 'dport': 9, 'src': ..., 'dst': ..., 'sport': ...}``.
    """

    name = "afxdp"
    num_ends = 1

    def __init__(self, ifname: str, netns: str | None = None, *,
                 queues: Sequence[int] | None = None, rx: bool = True, tx: bool = True,
                 batch: int = 64, copy: str = "auto", busy_poll: bool = False,
                 xdp_mode: str = "auto", ring_size: int = 2048, frame_size: int = 4096,
                 huge: bool = False, need_wakeup: bool = True,
                 filter: dict[str, Any] | None = None, replace: bool = False,
                 force: bool = False, cpus: Sequence[int] | None = None,
                 warn: Callable[[str], None] | None = None):
        if batch < 1 or batch > ring_size:
            raise UsageError(f"batch {batch} must be 1..ring size {ring_size}")
        self.ifname, self.netns, self.batch = ifname, netns, batch
        self.cpus = list(cpus) if cpus else None
        self._closed = False
        self.prog: XdpProgram | None = None
        self.attach: XdpAttach | None = None
        self.socks: dict[int, XskSocket] = {}
        self._stack = contextlib.ExitStack()
        try:
            self.dev = netdev.check_safe(ifname, force, netns)
            nq = self.dev.num_rx_queues or 1
            qs = list(queues) if queues else [0]
            for q in qs:
                if not 0 <= q < nq:
                    raise UsageError(f"queue {q} does not exist on {ifname}",
                                     hint=f"it has queues 0..{nq - 1}")
            if len(set(qs)) != len(qs):
                raise UsageError("a queue is listed twice")
            self.queues = qs
            if rx:
                self.prog = self._stack.enter_context(XdpProgram("xsk_redirect"))
                self.prog.set_filter(**_filter_args(filter))
                kw = {"warn": warn} if warn else {}
                self.attach = self._stack.enter_context(
                    XdpAttach(self.prog.fd, ifname, netns, mode=xdp_mode, replace=replace,
                              force=force, **kw))
            for q in qs:
                s = XskSocket(self.dev.index, q, netns, rx=rx, tx=tx, ring_size=ring_size,
                              frame_size=frame_size, copy=copy, need_wakeup=need_wakeup,
                              busy_poll=busy_poll, batch=batch, huge=huge)
                self.socks[q] = s
                self._stack.callback(s.close)
                if self.prog is not None:
                    self.prog.set_xsk(q, s.fd)
        except BaseException:
            self.close()
            raise

    # -- Backend interface --------------------------------------------------------------------
    @property
    def num_queues(self) -> int:
        return max(self.queues) + 1

    def _sock(self, queue: int, end: int) -> XskSocket:
        if end != 0:
            raise UsageError("the afxdp backend has one end (0)")
        if queue not in self.socks:
            raise UsageError(f"queue {queue} has no AF_XDP socket",
                             hint=f"open the backend with queues including {queue}")
        return self.socks[queue]

    def tx_burst(self, queue: int, frames, offloads=None, *, end: int = 0) -> int:
        if offloads:
            raise CapabilityError("AF_XDP copy mode has no Tx offloads",
                                  hint="send frames with their checksums filled in")
        return self._sock(queue, end).tx_burst(list(frames))

    def rx_burst(self, queue: int, max_n: int | None = None, *, end: int = 0) -> list[bytes]:
        return self._sock(queue, end).rx_burst(max_n or self.batch)

    # SlotTx / SlotRx (enatool.gen.program)
    def tx_slots(self, queue: int, n: int, *, end: int = 0
                 ) -> tuple[np.ndarray, np.ndarray, int]:
        s = self._sock(queue, end)
        return s.umem.buf, s.tx_slots(n), s.umem.frame_size  # type: ignore[union-attr]

    def tx_submit(self, queue: int, addrs: np.ndarray, lengths: np.ndarray, n: int, *,
                  end: int = 0) -> None:
        self._sock(queue, end).tx_submit(addrs, lengths, n)

    def rx_slots(self, queue: int, max_n: int, *, end: int = 0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        return self._sock(queue, end).rx_slots(max_n)

    def rx_release(self, queue: int, n: int, *, end: int = 0) -> None:
        self._sock(queue, end).rx_release(n)

    def xdp_qstats(self) -> dict[int, dict[str, int]]:
        """The XDP program's per-queue counters (what reached each queue, what went where)."""
        if self.prog is None:
            return {}
        arr = self.prog.qstats(self.dev.num_rx_queues or self.num_queues)
        return {q: dict(zip(QSTATS_FIELDS, map(int, arr[q]), strict=True))
                for q in range(arr.shape[0])}

    def stats(self, *, end: int = 0) -> dict[str, int]:
        if end != 0:
            raise UsageError("the afxdp backend has one end (0)")
        out: dict[str, int] = {}
        for q, d in self.xdp_qstats().items():
            for k, v in d.items():
                out[f"queue_{q}_xdp_{k}"] = v
        for q, s in self.socks.items():
            for k, v in s.statistics().items():
                out[f"queue_{q}_xsk_{k}"] = v
        return out

    def _no_ethtool(self, what: str):
        raise CapabilityError(f"{what} on a real interface is not supported by the afxdp "
                              "backend yet", hint=f"use `ethtool` on {self.ifname} directly")

    def get_coalesce(self, *, end: int = 0) -> dict:
        self._no_ethtool("reading interrupt coalescing")

    def set_coalesce(self, *, end: int = 0, tx_usecs=None, rx_usecs=None,
                     adaptive_rx=None) -> None:
        self._no_ethtool("changing interrupt coalescing")

    def get_rss(self, *, end: int = 0) -> dict:
        self._no_ethtool("reading the RSS configuration")

    def set_rss(self, *, end: int = 0, key=None, function=None, table=None) -> None:
        self._no_ethtool("changing the RSS configuration")

    def now(self) -> float:
        return time.monotonic()

    def advance(self, seconds: float) -> None:
        """Real time passes: kick Tx, reap completions, wake Rx, then sleep."""
        for s in self.socks.values():
            if "tx" in s.rings:
                s.reap()
                s.kick_tx()
        if seconds > 0:
            time.sleep(seconds)

    @property
    def xdp_mode(self) -> str | None:
        return self.attach.mode if self.attach else None

    @property
    def bind_mode(self) -> str:
        return next(iter(self.socks.values())).bind_mode if self.socks else "none"

    @property
    def umem_huge_pages(self) -> bool:
        """Whether every socket's UMEM is backed by 2 MiB huge pages (MAP_HUGETLB)."""
        return bool(self.socks) and all(s.umem is not None and s.umem.huge
                                        for s in self.socks.values())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stack.close()
        self.socks = {}

    # -- run loops (the data path of enatool gen / sink) --------------------------------------
    def _cpu(self, i: int) -> int | None:
        return self.cpus[i % len(self.cpus)] if self.cpus else None

    def run_tx(self, tset: Any, count: int | None = None, duration: float | None = None,
               rate: float | None = None, bitrate: float | None = None,
               fill_mode: str = "fields", seq_next: np.ndarray | None = None,
               on_tick: Callable[[dict[str, Any]], None] | None = None,
               tick_interval: float = 1.0) -> dict[str, Any]:
        """Send ``tset`` (a ``gen.templates.TemplateSet``) on every queue until ``count``
        frames in total, ``duration`` s or Ctrl-C; ``rate`` pps / ``bitrate`` wire bps
        for the aggregate. Returns counters (frames are counted when produced; the run
        waits for their completions, see ``completed`` and ``stalled``)."""
        if fill_mode not in FILL_MODES:
            raise UsageError(f"unknown fill mode {fill_mode!r}",
                             hint="use full, fields or static")
        if rate is not None and bitrate is not None:
            raise UsageError("give at most one of rate and bitrate")
        socks = [self.socks[q] for q in self.queues]
        if any("tx" not in s.rings for s in socks):
            raise UsageError("this backend was opened without Tx rings (tx=False)")
        states, paced = eng.tx_states(tset, socks, self.batch, rate, bitrate)
        if seq_next is None:
            seq_next = np.zeros(len(tset.flows), np.int64)
        if fill_mode == "static":
            for s, st in zip(socks, states, strict=True):
                eng.build_static(tset, s, st, np.zeros(len(tset.flows), np.int64))
        libc = eng._Libc.get()
        nq = len(socks)
        counters = np.zeros((nq, kx.C_N), np.int64)
        stop = np.zeros(1, np.uint8)
        mode = FILL_MODES[fill_mode]
        # compile (or load from the cache) before the clock starts
        stop[0] = kx.STOP_NOW
        kx.tx_loop(*eng.tx_args(socks[0], states[0], tset, seq_next, mode, paced, 0, 0, stop,
                                self.batch, counters, 0, libc, np.zeros(2, np.int64)))
        stop[0] = kx.RUN
        counts = eng.split(count, nq)
        t0 = time.monotonic_ns()
        deadline = t0 + int(duration * 1e9) if duration else 0
        workers = [eng.Worker(q, kx.tx_loop, eng.tx_args(
            s, st, tset, seq_next, mode, paced, counts[i], deadline, stop, self.batch,
            counters, i, libc, np.zeros(2, np.int64)), self._cpu(i))
            for i, (q, s, st) in enumerate(zip(self.queues, socks, states, strict=True))]
        ticker = _Ticker(on_tick, tick_interval, t0, lambda: self._tx_snapshot(counters))
        try:
            interrupted = eng.run_workers(workers, stop, ticker.poll)
        finally:
            for s, st in zip(socks, states, strict=True):  # static frames back to the stack
                n = len(st.static_addrs)
                if n:
                    top = int(s.tx_depth[0])
                    s.tx_stack[top:top + n] = st.static_addrs
                    s.tx_depth[0] = top + n
        t1 = time.monotonic_ns()
        ticker.final()
        return {**self._tx_summary(counters, t1 - t0, interrupted, tset, states),
                "worker_cpu": eng.worker_cpu(workers)}

    def _tx_snapshot(self, counters: np.ndarray) -> dict[str, Any]:
        c = counters.copy()
        return {"packets": int(c[:, kx.C_TX_PACKETS].sum()),
                "bytes": int(c[:, kx.C_TX_BYTES].sum()),
                "completed": int(c[:, kx.C_TX_COMPLETED].sum()),
                "queues": {q: int(c[i, kx.C_TX_PACKETS]) for i, q in enumerate(self.queues)}}

    def _tx_summary(self, counters: np.ndarray, dur_ns: int, interrupted: bool, tset: Any,
                    states: list[eng.TxQueueState]) -> dict[str, Any]:
        c = counters
        dur = dur_ns / 1e9
        pk, by = int(c[:, kx.C_TX_PACKETS].sum()), int(c[:, kx.C_TX_BYTES].sum())
        return {
            "backend": self.name, "ifname": self.ifname, "xdp_mode": self.xdp_mode,
            "bind_mode": self.bind_mode, "umem_huge_pages": self.umem_huge_pages,
            "batch": self.batch, "interrupted": interrupted, "duration_s": dur,
            "packets": pk, "bytes": by, "completed": int(c[:, kx.C_TX_COMPLETED].sum()),
            "wire_bits": (by + eng.WIRE_OVERHEAD * pk) * 8,
            "probed": int(sum(int(s.fe_state[fe.ST_PROBED]) for s in states)),
            "pps": pk / dur if dur > 0 else 0.0,
            "send_window_s": eng.send_window(c[:, kx.C_T_FIRST], c[:, kx.C_T_LAST]),
            "stalled": bool(c[:, kx.C_STALLED].any()),
            "per_queue": [self._qrow(q, c[i]) for i, q in enumerate(self.queues)],
        }

    @staticmethod
    def _qrow(q: int, row: np.ndarray) -> dict[str, int]:
        names = ("tx_packets", "tx_bytes", "tx_completed", "rx_packets", "rx_bytes", "kicks",
                 "kick_again", "tx_ring_full", "pacer_waits", "idle", "stalled", "loops")
        return {"queue": q, **{n: int(row[k]) for k, n in enumerate(names)}}

    def run_rx(self, n_flows: int = 65536, count: int | None = None,
               duration: float | None = None, verify: bool = True, window: int = 1024,
               idle_ms: int = 10, on_tick: Callable[[dict[str, Any]], None] | None = None,
               tick_interval: float = 1.0) -> dict[str, Any]:
        """Receive on every queue until ``count`` frames in total, ``duration`` s or Ctrl-C;
        parse, count and sequence-check every frame (flows ``0..n_flows-1`` of enatool's
        probe header; sequence state is per queue, exact when a flow stays on one queue,
        as RSS guarantees). Returns counters, per-queue sink counters and the flow state
        (``fstate``: int64[queues, n_flows, seqcheck.FS_N])."""
        socks = [self.socks[q] for q in self.queues]
        if any("rx" not in s.rings for s in socks):
            raise UsageError("this backend was opened without Rx rings (rx=False)")
        libc = eng._Libc.get()
        nq = len(socks)
        states = [eng.rx_state(s, n_flows, window, self.batch) for s in socks]
        counters = np.zeros((nq, kx.C_N), np.int64)
        qstats = np.zeros((nq, sc.QS_N), np.int64)
        stop = np.zeros(1, np.uint8)
        stop[0] = kx.STOP_NOW  # compile before the clock starts
        kx.rx_loop(*eng.rx_args(socks[0], states[0], verify, qstats, -1, 0, stop, self.batch,
                                idle_ms, counters, 0, libc, np.zeros(2, np.int64)))
        stop[0] = kx.RUN
        t0 = time.monotonic_ns()
        deadline = t0 + int(duration * 1e9) if duration else 0
        limit = -1 if count is None else int(count)
        workers = [eng.Worker(q, kx.rx_loop, eng.rx_args(
            s, st, verify, qstats, limit, deadline, stop, self.batch, idle_ms, counters, i,
            libc, np.zeros(2, np.int64)), self._cpu(i))
            for i, (q, s, st) in enumerate(zip(self.queues, socks, states, strict=True))]
        ticker = _Ticker(on_tick, tick_interval, t0, lambda: self._rx_snapshot(counters))
        interrupted = eng.run_workers(workers, stop, ticker.poll, interrupt_flag=kx.STOP_NOW)
        t1 = time.monotonic_ns()
        ticker.final()
        dur = (t1 - t0) / 1e9
        fstate = np.stack([st.fstate for st in states])
        pk = int(counters[:, kx.C_RX_PACKETS].sum())
        by = int(counters[:, kx.C_RX_BYTES].sum())
        return {
            "backend": self.name, "ifname": self.ifname, "xdp_mode": self.xdp_mode,
            "bind_mode": self.bind_mode, "umem_huge_pages": self.umem_huge_pages,
            "batch": self.batch, "interrupted": interrupted,
            "duration_s": dur, "packets": pk, "bytes": by,
            "wire_bits": (by + eng.WIRE_OVERHEAD * pk) * 8,
            "pps": pk / dur if dur > 0 else 0.0,
            "recv_window_s": eng.send_window(counters[:, kx.C_RX_T_FIRST],
                                             counters[:, kx.C_RX_T_LAST]),
            "probes": int(qstats[:, sc.QS_PROBES].sum()),
            "foreign": int(qstats[:, sc.QS_FOREIGN].sum()),
            "unknown_flow": int(qstats[:, sc.QS_BAD_FLOW].sum()),
            "csum_errors": int(qstats[:, sc.QS_CSUM_ERR].sum()),
            "lost": int(fstate[:, :, sc.FS_LOST].sum()),
            "reordered": int(fstate[:, :, sc.FS_REORDERED].sum()),
            "duplicates": int(fstate[:, :, sc.FS_DUP].sum()),
            "per_queue": [{**self._qrow(q, counters[i]), "probes": int(qstats[i, sc.QS_PROBES]),
                           "csum_errors": int(qstats[i, sc.QS_CSUM_ERR])}
                          for i, q in enumerate(self.queues)],
            "fstate": fstate,
        }

    def _rx_snapshot(self, counters: np.ndarray) -> dict[str, Any]:
        c = counters.copy()
        return {"packets": int(c[:, kx.C_RX_PACKETS].sum()),
                "bytes": int(c[:, kx.C_RX_BYTES].sum()),
                "queues": {q: int(c[i, kx.C_RX_PACKETS]) for i, q in enumerate(self.queues)}}


class _Ticker:
    """Calls ``on_tick({'t': seconds, **snapshot()})`` every ``interval`` while workers run."""

    def __init__(self, on_tick, interval: float, t0: int, snapshot):
        self.on_tick, self.step, self.t0, self.snapshot = on_tick, interval, t0, snapshot
        self.next = t0 + int(interval * 1e9)

    def poll(self) -> None:
        now = time.monotonic_ns()
        if self.on_tick is not None and now >= self.next:
            self.next += int(self.step * 1e9)
            self.on_tick({"t": (now - self.t0) / 1e9, **self.snapshot()})

    def final(self) -> None:
        if self.on_tick is not None:
            self.on_tick({"t": (time.monotonic_ns() - self.t0) / 1e9, **self.snapshot()})
