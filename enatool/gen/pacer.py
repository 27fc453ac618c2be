"""Validating wrapper around :mod:`numba_kernels.pacing` for ``--rate`` / ``--bitrate``.

``--rate`` is frames per second; ``--bitrate`` is bits per second *on the wire* (each frame
counts ``(frame_len + 24) * 8``: FCS, preamble+SFD, inter-frame gap), so ``--bitrate 10e9``
with 64 B frames paces to 14.88 Mpps. The bucket holds ``burst`` frames (default 32, at
least one of the largest size class), small enough that a queue never sees a long burst.
"""

from __future__ import annotations

import ctypes

import numpy as np

from enatool.errors import UsageError
from numba_kernels import pacing as kp

DEFAULT_BURST_FRAMES = 32


def libc_clock_gettime():
    """ctypes ``clock_gettime`` for :func:`numba_kernels.pacing.monotonic_ns` / ``spin_until``.

    Kept here until ``enatool.sysffi`` (the home of every prototype) grows it.
    """
    fn = ctypes.CDLL(None, use_errno=True).clock_gettime
    fn.argtypes = [ctypes.c_int, ctypes.c_void_p]
    fn.restype = ctypes.c_int
    return fn


class Pacer:
    """Token bucket in frames (``rate``) or wire bits (``bitrate``); exactly one is given."""

    def __init__(self, rate: float | None = None, bitrate: float | None = None,
                 burst_frames: int = DEFAULT_BURST_FRAMES, max_wire_bits: int = 1538 * 8):
        if (rate is None) == (bitrate is None):
            raise UsageError("give exactly one of --rate and --bitrate")
        value = rate if rate is not None else bitrate
        if value is None or value < 1:
            raise UsageError(f"rate {value} is too small", hint="at least 1 pps / 1 bps")
        if burst_frames < 1:
            raise UsageError("burst must be at least one frame")
        self.bits = bitrate is not None
        self.rate = int(value)
        burst = burst_frames * (int(max_wire_bits) if self.bits else 1)
        self.state = np.zeros(kp.PS_N, np.int64)
        kp.pacer_init(self.state, self.rate, burst)

    def grant(self, now_ns: int, n_max: int, wire_bits: np.ndarray | None = None) -> int:
        """Frames that may go at ``now_ns`` (``wire_bits`` of the next frames for bitrate)."""
        if self.bits:
            if wire_bits is None:
                raise ValueError("bitrate pacing needs the next frames' wire bits")
            return int(kp.grant(self.state, int(now_ns), wire_bits, min(n_max,
                                                                       len(wire_bits))))
        return int(kp.grant_uniform(self.state, int(now_ns), 1, n_max))

    def next_time(self, cost: int = 1) -> int:
        """Clock value (ns) when ``cost`` units (1 frame, or its wire bits) are available."""
        return int(kp.next_time(self.state, int(cost)))
