"""The one validating wrapper around :func:`numba_kernels.fieldengine.fill_frames`.

Owns the engine state (schedule position, per-flow sequence numbers) so several buffers or
queues can share one sequence space per flow; checks array types once per call (per batch,
never per frame) so the kernel itself does no validation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from enatool.errors import UsageError
from enatool.gen.templates import TemplateSet
from numba_kernels import fieldengine as fe

MODES = {"full": fe.MODE_FULL, "fields": fe.MODE_FIELDS, "fields-only": fe.MODE_FIELDS}
_EMPTY_I32 = np.zeros(0, np.int32)
_EMPTY_I64 = np.zeros(0, np.int64)


class FieldEngine:
    """Fill frame slots from a :class:`TemplateSet`.

    ``mode``: 'full' copies the template into every slot; 'fields' (alias 'fields-only')
    copies only into slots that do not already hold that size class and otherwise rewrites
    just the mutable fields, skipping addresses and ports when the slot already holds that
    flow (both tracked per buffer by a :meth:`slot_map`).
    """

    def __init__(self, tset: TemplateSet, mode: str = "fields",
                 seq_next: np.ndarray | None = None):
        if mode not in MODES:
            raise UsageError(f"unknown fill mode {mode!r}", hint="use full or fields")
        if tset.n_classes > fe.SL_MAX_CLASSES:
            raise UsageError(f"{tset.n_classes} frame sizes", hint=f"at most {fe.SL_MAX_CLASSES}")
        self.tset = tset
        self.mode = MODES[mode]
        self.state = np.zeros(fe.ST_N, np.int64)
        if seq_next is None:
            seq_next = np.zeros(len(tset.flows), np.int64)
        if seq_next.dtype != np.int64 or seq_next.shape[0] != len(tset.flows):
            raise TypeError("seq_next must be int64, one entry per flow")
        self.seq_next = seq_next  # may be shared by engines that own disjoint flows
        self._class_bits = tset.class_wire_bits
        self._peek = np.zeros(0, np.int32)

    @property
    def frames(self) -> int:
        return int(self.state[fe.ST_PKT])

    @property
    def frame_bytes(self) -> int:
        return int(self.state[fe.ST_BYTES])

    @property
    def probed(self) -> int:
        return int(self.state[fe.ST_PROBED])

    @staticmethod
    def slot_map(n_slots: int) -> np.ndarray:
        """Per-slot 'which size class and flow does this slot hold' array (-1: unknown;
        int64 entries packed as :data:`numba_kernels.fieldengine.SL_CLASS_SHIFT` says)."""
        return np.full(n_slots, -1, np.int64)

    def fill(self, umem: np.ndarray, addrs: np.ndarray, lens_out: np.ndarray,
             n: int | None = None, ts_ns: int = 0, stride: int = 1,
             slot_class: np.ndarray | None = None, flow_idx: Any = None) -> int:
        """Fill ``n`` frames at byte offsets ``addrs`` of the 1-D uint8 ``umem``.

        Lengths go to ``lens_out``; returns the frame bytes written. In 'fields' mode
        ``slot_class``, the slot map of ``umem`` (from :meth:`slot_map`, one entry per
        ``stride`` bytes; it records the flow too, despite the name), is required.
        ``flow_idx`` picks the flow of each frame instead of the schedule.
        """
        if umem.dtype != np.uint8 or umem.ndim != 1:
            raise TypeError("umem must be a 1-D uint8 array")
        if addrs.dtype != np.int64:
            raise TypeError("addrs must be int64 byte offsets")
        n = int(addrs.shape[0] if n is None else n)
        if n > addrs.shape[0] or n > lens_out.shape[0]:
            raise ValueError("n exceeds addrs/lens_out")
        if n == 0:
            return 0
        if int(addrs[:n].max()) + self.tset.max_frame_len > umem.shape[0]:
            raise ValueError("a slot runs past the end of umem")
        if self.mode == fe.MODE_FIELDS:
            if slot_class is None or slot_class.dtype != np.int64 or slot_class.ndim != 1:
                raise TypeError("fields mode needs an int64 slot_class map (slot_map())")
            if stride < self.tset.max_frame_len:
                raise ValueError(f"stride {stride} is shorter than a frame")
            if int(addrs[:n].max()) // stride >= slot_class.shape[0]:
                raise ValueError("slot_class map is too short for these addresses")
        else:
            slot_class = _EMPTY_I64
            stride = max(stride, 1)
        if flow_idx is None:
            fidx = _EMPTY_I32
        else:
            fidx = np.ascontiguousarray(flow_idx, np.int32)
            if fidx.shape[0] < n or (n and (fidx[:n].min() < 0
                                            or fidx[:n].max() >= len(self.tset.flows))):
                raise ValueError("flow_idx must name a flow for each of the n frames")
        t = self.tset
        return int(fe.fill_frames(umem, addrs, lens_out, n, t.templates, t.frame_len,
                                  t.probe_len, t.layout, t.flows.src, t.flows.dst,
                                  t.flows.sport, t.flows.dport, t.size_sched, t.flow_sched,
                                  t.sched_lcm, fidx, self.seq_next, self.state, slot_class,
                                  stride, int(ts_ns), self.mode))

    def next_wire_bits(self, n: int) -> np.ndarray:
        """Wire bits of the next ``n`` frames the schedule will produce (for --bitrate)."""
        if self._peek.shape[0] < n:
            self._peek = np.zeros(n, np.int32)
        cls = fe.peek_classes(self.tset.size_sched, self.frames, n, self._peek)
        return self._class_bits[cls[:n]]
