"""Sink-side counters: the validating wrapper around :mod:`numba_kernels.seqcheck`.

Owns the per-flow sequence state, the reorder window bitmaps and the per-queue counters;
accepts a batch either as one buffer with offsets (slot backends) or as a list of ``bytes``
(the ``Backend.rx_burst`` shape, joined once per batch, never touched per frame in Python).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from enatool.errors import UsageError
from enatool.gen.templates import WIRE_OVERHEAD
from numba_kernels import packet as pk
from numba_kernels import seqcheck as sc


class SinkCounters:
    """Per-flow loss/reorder/duplicate/delay and per-queue counters for ``n_flows`` flows."""

    def __init__(self, n_flows: int, n_queues: int, window: int = 1024, verify: bool = True):
        if window < 64 or window % 64:
            raise UsageError(f"reorder window {window} must be a positive multiple of 64")
        if n_flows < 1 or n_queues < 1:
            raise UsageError("the sink needs at least one flow and one queue")
        self.fstate = np.zeros((n_flows, sc.FS_N), np.int64)
        self.bitmap = np.zeros((n_flows, window // 64), np.uint64)
        sc.flow_state_init(self.fstate, self.bitmap)
        self.qstats = np.zeros((n_queues, sc.QS_N), np.int64)
        self.verify = bool(verify)
        self._rec = np.zeros(pk.PK_NFIELDS, np.int64)

    def add_buffer(self, buf: np.ndarray, addrs: np.ndarray, lengths: np.ndarray, n: int,
                   queue: int, rx_ns: int) -> None:
        """Account ``n`` frames at ``buf[addrs[i]:addrs[i]+lengths[i]]`` received on ``queue``."""
        sc.sink_batch(buf, addrs, lengths, int(n), int(queue), int(rx_ns), self.verify,
                      self._rec, self.fstate, self.bitmap, self.qstats)

    def add_frames(self, frames: list[bytes], queue: int, rx_ns: int) -> None:
        """Account a ``rx_burst`` result (list of bytes)."""
        if not frames:
            return
        lengths = np.fromiter(map(len, frames), np.int64, len(frames))
        addrs = np.zeros(len(frames), np.int64)
        np.cumsum(lengths[:-1], out=addrs[1:])
        buf = np.frombuffer(b"".join(frames), np.uint8)
        self.add_buffer(buf, addrs, lengths, len(frames), queue, rx_ns)

    def totals(self) -> dict[str, Any]:
        """Summary counters (names of :data:`enatool.report.schema.SINK_FIELDS`)."""
        fs, qs = self.fstate, self.qstats
        seen = fs[:, sc.FS_MAX_SEQ] >= 0
        probes_known = int(fs[:, sc.FS_RX].sum())
        lost = int(fs[:, sc.FS_LOST].sum())
        dup = int(fs[:, sc.FS_DUP].sum())
        late = int(fs[:, sc.FS_LATE].sum())
        unique = probes_known - dup - late
        n_delay = int(fs[:, sc.FS_DELAY_N].sum())
        has = fs[:, sc.FS_DELAY_N] > 0
        delay = {"count": n_delay, "min_ns": None, "mean_ns": None, "max_ns": None}
        if n_delay:
            delay.update(min_ns=int(fs[has, sc.FS_DELAY_MIN].min()),
                         mean_ns=float(fs[:, sc.FS_DELAY_SUM].sum()) / n_delay,
                         max_ns=int(fs[has, sc.FS_DELAY_MAX].max()))
        return {
            "packets": int(qs[:, sc.QS_FRAMES].sum()),
            "bytes": int(qs[:, sc.QS_BYTES].sum()),
            "wire_bits": int((qs[:, sc.QS_BYTES].sum() + WIRE_OVERHEAD
                              * qs[:, sc.QS_FRAMES].sum()) * 8),
            "probes": int(qs[:, sc.QS_PROBES].sum()),
            "flows_seen": int(seen.sum()),
            "lost": lost,
            "reordered": int(fs[:, sc.FS_REORDERED].sum()),
            "duplicates": dup,
            "late": late,
            "loss_ratio": (lost / (unique + lost)) if unique + lost > 0 else None,
            "foreign": int(qs[:, sc.QS_FOREIGN].sum()),
            "unknown_flow": int(qs[:, sc.QS_BAD_FLOW].sum()),
            "csum_errors": int(qs[:, sc.QS_CSUM_ERR].sum()),
            "one_way_delay": delay,
        }

    def per_queue(self, queues: list[int]) -> list[dict[str, int]]:
        qs = self.qstats
        return [{"queue": q, "packets": int(qs[q, sc.QS_FRAMES]),
                 "bytes": int(qs[q, sc.QS_BYTES]), "probes": int(qs[q, sc.QS_PROBES]),
                 "foreign": int(qs[q, sc.QS_FOREIGN]),
                 "unknown_flow": int(qs[q, sc.QS_BAD_FLOW]),
                 "csum_errors": int(qs[q, sc.QS_CSUM_ERR])} for q in queues]
