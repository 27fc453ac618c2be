"""``--engine xdp-live``: transmit with BPF_PROG_RUN and ``BPF_F_TEST_XDP_LIVE_FRAMES``
(Linux 5.18+), the fastest transmit path on kernels that have it.

User space hands the kernel one template frame per size class and a repeat count; the
kernel runs ``bpf/xdp_live_tx.c`` on a page-pool copy of it ``repeat`` times, and every
``XDP_TX`` leaves through the interface named in the run's context. The program writes the
flow's ports and the probe (flow id, sequence, timestamp) and fixes the L4 checksum, so the
frames are what ``--engine afxdp`` would send. Nothing is attached to the interface.

Limits: flows may differ in ports only (one source and one destination address); IMIX is
sent in runs of one size class at a time (the weights hold per round, the order does not);
pacing is per run of frames (each call sets up a page pool, ~20 ms here, so runs are
``PACE_SLICE_S`` worth: exact on average, bursty within 50 ms; use afxdp for smooth
pacing); on veth the *peer* must have an XDP program or GRO enabled, otherwise the kernel
drops the frames (the same rule as any XDP redirect into a veth). Each ``-q`` queue is
one thread with its own slot in the program's state map and its own share of the flows.
"""

from __future__ import annotations

import ctypes
import errno
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from enatool import netdev, sysffi
from enatool.backends.afxdp import engine as eng
from enatool.backends.afxdp.xdp import NETNS_DIR, XdpProgram
from enatool.errors import CapabilityError, UsageError
from numba_kernels import fieldengine as fe
from numba_kernels import xsk as kx

CHUNK = 1 << 20  # frames per BPF_PROG_RUN call when not paced (~0.1 s at 10 Mpps)
PACE_SLICE_S = 0.05  # a call costs ~20 ms of page-pool set-up here: pace in 50 ms runs


class XdpLiveTx:
    """Transmit-only engine on ``ifname`` (in ``netns``); one thread per entry of ``queues``."""

    name = "xdp-live"

    def __init__(self, ifname: str, netns: str | None = None, *,
                 queues: Sequence[int] | None = None, force: bool = False,
                 cpus: Sequence[int] | None = None, batch: int = 0):
        self.ifname, self.netns = ifname, netns
        self.dev = netdev.check_safe(ifname, force, netns)
        nq = self.dev.num_rx_queues or 1
        self.queues = list(queues) if queues else [0]
        for q in self.queues:
            if not 0 <= q < nq:
                raise UsageError(f"queue {q} does not exist on {ifname}",
                                 hint=f"it has queues 0..{nq - 1}")
        self.cpus = list(cpus) if cpus else None
        self.batch = batch  # the kernel's live-frame batch (0: its default, 64)
        self.prog: XdpProgram | None = None
        self.xdp_mode = None
        self.bind_mode = None

    def __enter__(self) -> XdpLiveTx:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self.prog is not None:
            self.prog.close()
            self.prog = None

    # -- set-up ------------------------------------------------------------------------------
    def _load(self, tset: Any) -> None:
        f = tset.flows
        if len(f) > 1 and (np.any(f.src != f.src[0]) or np.any(f.dst != f.dst[0])):
            raise UsageError("--engine xdp-live varies ports only, these flows vary addresses",
                             hint="use one --src/--dst address, or --engine afxdp")
        ly = tset.layout
        max_flows = 1 << max(int(len(f) - 1).bit_length(), 0)
        self.close()
        self.prog = XdpProgram("xdp_live_tx", {
            "L4_OFF": int(ly[fe.LY_L4_OFF]), "PAYLOAD_OFF": int(ly[fe.LY_PAYLOAD_OFF]),
            "L4_CSUM_OFF": int(ly[fe.LY_L4_CSUM_OFF]), "IS_UDP": int(ly[fe.LY_UDP]),
            "MAX_FLOWS": max(max_flows, 1)})
        table = self.prog.bpf[b"flows"]
        for i in range(len(f)):
            leaf = table.Leaf()
            leaf.sport = int.from_bytes(int(f.sport[i]).to_bytes(2, "big"), "little")
            leaf.dport = int.from_bytes(int(f.dport[i]).to_bytes(2, "big"), "little")
            table[table.Key(i)] = leaf
        nq = len(self.queues)
        lq = self.prog.bpf[b"lqueues"]
        for i, q in enumerate(self.queues):
            leaf = lq.Leaf()
            leaf.k, leaf.first, leaf.stride = 0, i, nq
            leaf.n = (len(f) - i + nq - 1) // nq
            lq[lq.Key(q)] = leaf

    def _k(self, q: int) -> int:
        assert self.prog is not None
        lq = self.prog.bpf[b"lqueues"]
        return int(lq[lq.Key(q)].k)

    # -- the run -------------------------------------------------------------------------------
    def run_tx(self, tset: Any, count: int | None = None, duration: float | None = None,
               rate: float | None = None, bitrate: float | None = None,
               fill_mode: str = "fields", seq_next: np.ndarray | None = None,
               on_tick: Callable[[dict[str, Any]], None] | None = None,
               tick_interval: float = 1.0) -> dict[str, Any]:
        """Send ``tset`` until ``count`` frames, ``duration`` s or Ctrl-C (see module doc)."""
        nq = len(self.queues)
        if len(tset.flows) < nq:
            raise UsageError(f"{len(tset.flows)} flow(s) for {nq} queues",
                             hint="use at least as many flows as queues (--flows)")
        self._load(tset)
        assert self.prog is not None
        frames = [ctypes.create_string_buffer(
            tset.templates[c, :int(tset.frame_len[c])].tobytes(), int(tset.frame_len[c]))
            for c in range(tset.n_classes)]
        weights = np.bincount(tset.size_sched, minlength=tset.n_classes).astype(np.int64)
        bits = tset.class_wire_bits.astype(np.int64)
        counters = np.zeros((nq, 5), np.int64)  # packets, bytes, wire bits, first/last ns
        stop = np.zeros(1, np.uint8)
        counts = eng.split(count, nq)
        paced = rate if rate is not None else bitrate
        t0 = time.monotonic_ns()
        deadline = t0 + int(duration * 1e9) if duration else 0
        workers = []
        for i, q in enumerate(self.queues):
            per_rate = None if paced is None else float(paced) / nq
            args = (i, q, frames, weights, tset.frame_len.astype(np.int64), bits, counts[i],
                    deadline, per_rate, bitrate is not None, stop, counters)
            cpu = self.cpus[i % len(self.cpus)] if self.cpus else None
            workers.append(eng.Worker(q, self._worker, args, cpu))
        last = [t0 + int(tick_interval * 1e9)]

        def poll() -> None:
            now = time.monotonic_ns()
            if on_tick is not None and now >= last[0]:
                last[0] += int(tick_interval * 1e9)
                on_tick(self._snapshot(counters, now - t0))

        interrupted = eng.run_workers(workers, stop, poll)
        t1 = time.monotonic_ns()
        if on_tick is not None:
            on_tick(self._snapshot(counters, t1 - t0))
        if seq_next is not None:
            self._seq_counts(tset, seq_next)
        pk, by = int(counters[:, 0].sum()), int(counters[:, 1].sum())
        dur = (t1 - t0) / 1e9
        probed = pk if int(tset.probe_len.min()) > 0 else 0
        return {
            "backend": self.name, "ifname": self.ifname, "xdp_mode": None,
            "bind_mode": None, "batch": self.batch or 64, "interrupted": interrupted,
            "duration_s": dur, "packets": pk, "bytes": by, "completed": pk,
            "wire_bits": int(counters[:, 2].sum()), "probed": probed,
            "pps": pk / dur if dur > 0 else 0.0, "stalled": False,
            "send_window_s": eng.send_window(counters[:, 3], counters[:, 4]),
            "worker_cpu": eng.worker_cpu(workers),
            "per_queue": [{"queue": q, "tx_packets": int(counters[i, 0]),
                           "tx_bytes": int(counters[i, 1])}
                          for i, q in enumerate(self.queues)],
        }

    def _seq_counts(self, tset: Any, seq_next: np.ndarray) -> None:
        """Frames per flow (= next sequence number) from the per-queue counters."""
        nq = len(self.queues)
        for i, q in enumerate(self.queues):
            k = self._k(q)
            n = (len(tset.flows) - i + nq - 1) // nq
            for j in range(n):
                seq_next[i + j * nq] = k // n + (1 if j < k % n else 0)

    @staticmethod
    def _snapshot(counters: np.ndarray, elapsed_ns: int) -> dict[str, Any]:
        c = counters.copy()
        return {"t": elapsed_ns / 1e9, "packets": int(c[:, 0].sum()),
                "bytes": int(c[:, 1].sum()), "wire_bits": int(c[:, 2].sum()),
                "queues": {i: int(c[i, 0]) for i in range(c.shape[0])}}

    def _worker(self, row: int, q: int, frames: list, weights: np.ndarray,
                lens: np.ndarray, bits: np.ndarray, count: int, deadline: int,
                rate: float | None, by_bits: bool, stop: np.ndarray,
                counters: np.ndarray) -> None:
        """One queue: runs of each size class in turn, ``weights`` apart, until a limit."""
        if self.netns:
            fd = os.open(os.path.join(NETNS_DIR, self.netns), os.O_RDONLY | os.O_CLOEXEC)
            try:
                sysffi.setns(fd)
            finally:
                os.close(fd)
        assert self.prog is not None
        prog_fd, ifindex = self.prog.fd, self.dev.index
        ctr = counters[row]
        t0 = time.monotonic_ns()
        wsum = int(weights.sum())
        if rate is None:
            unit = max(CHUNK // wsum, 1)
        else:  # a round is about PACE_SLICE_S worth of frames
            per_frame = float(bits.mean()) if by_bits else 1.0
            unit = max(int(rate * PACE_SLICE_S / per_frame / wsum), 1)
        k_prev = self._k(q)
        classes = [c for c in range(len(frames)) if weights[c] > 0]
        owed = dict.fromkeys(classes, 0)  # frames of each class due in this round
        while True:
            now = time.monotonic_ns()
            if stop[0] != kx.RUN or (deadline and now >= deadline):
                return
            if 0 <= count <= ctr[0]:
                return
            if max(owed.values()) <= 0:
                for c in classes:
                    owed[c] = max(owed[c], 0) + int(weights[c]) * unit
            c = max(classes, key=owed.__getitem__)
            n = owed[c]
            if count >= 0:
                n = min(n, count - int(ctr[0]))
            if deadline and rate is None and ctr[0] > 0:  # end near the deadline
                pps = ctr[0] / max(now - t0, 1) * 1e9
                n = max(min(n, int(pps * (deadline - now) / 1e9) + 1), 1)
            if rate is not None:
                due = rate * (now - t0) / 1e9 - (ctr[2] if by_bits else ctr[0])
                cost = int(bits[c]) if by_bits else 1
                n = min(n, int(due // cost))
                if n <= 0:
                    wait = max(cost - due, 1) / rate
                    time.sleep(min(max(wait, 0.001), PACE_SLICE_S))
                    continue
            if ctr[3] == 0:
                ctr[3] = now
            try:
                sysffi.bpf_prog_run_xdp_live(prog_fd, frames[c], int(n), ifindex, q,
                                             self.batch)
            except OSError as e:
                if e.errno != errno.EINTR:
                    if e.errno in (errno.EINVAL, errno.EOPNOTSUPP):
                        raise CapabilityError(
                            f"BPF_PROG_RUN with live frames refused: {e.strerror}",
                            hint="needs Linux 5.18+; see `enatool doctor`") from None
                    raise
            k = self._k(q)
            done = k - k_prev
            k_prev = k
            owed[c] -= done
            ctr[0] += done
            ctr[1] += done * int(lens[c])
            ctr[2] += done * int(bits[c])
            ctr[4] = time.monotonic_ns()  # a run is a burst: the window ends after it
