"""Token-bucket pacing for ``--rate PPS`` / ``--bitrate BPS`` with exact integer credit.

Units are frames (``--rate``, every frame costs 1) or bits on the wire (``--bitrate``, a
frame costs ``(frame_len + 24) * 8``: FCS 4 + preamble/SFD 8 + inter-frame gap 12 bytes).
Credit since the start is ``floor(elapsed_ns * rate / 1e9)``, computed exactly in int64
(rate split into whole and fractional units per ns), so the long-run rate has no drift and
the kernels are deterministic under a synthetic clock. The bucket holds at most ``burst``
units; credit that would overflow it is forfeited (an idle sender does not earn a burst).
It starts empty, so the rate measured from the first frame is exact (no initial burst).

Clock: nogil code reads CLOCK_MONOTONIC (the clock of ``time.monotonic_ns`` and
``bpf_ktime_get_ns``) by calling libc ``clock_gettime`` through a ctypes function pointer
passed as an argument (verified here with numba 0.68: ``cache=True`` works because the
pointer is an argument, not a captured global; ~1 µs per call from Python including the
dispatcher, tens of ns inside a compiled loop). The same code runs with NUMBA_DISABLE_JIT.
"""

from __future__ import annotations

import numpy as np

from numba_kernels.jit import njit

NS_PER_S = 1_000_000_000
CLOCK_MONOTONIC = 1

# pacer state (int64[PS_N])
PS_T0 = 0  # clock value at the first call (-1: not started)
PS_RATE = 1  # units per second
PS_BURST = 2  # bucket depth in units
PS_SPENT = 3  # units consumed since the start, including forfeited credit
PS_N = 4


@njit
def pacer_init(state, rate, burst):
    """Reset ``state`` for ``rate`` units/s and a bucket of ``burst`` units (starts empty)."""
    state[PS_T0] = -1
    state[PS_RATE] = rate
    state[PS_BURST] = burst
    state[PS_SPENT] = 0


@njit
def credit(elapsed_ns, rate):
    """Exact ``floor(elapsed_ns * rate / 1e9)`` without int64 overflow for sane inputs."""
    rq = rate // NS_PER_S
    rr = rate % NS_PER_S
    eq = elapsed_ns // NS_PER_S
    er = elapsed_ns % NS_PER_S
    return elapsed_ns * rq + eq * rr + (er * rr) // NS_PER_S


@njit
def tokens(state, now_ns):
    """Units available at ``now_ns`` (forfeits credit beyond the bucket depth)."""
    if state[PS_T0] < 0:
        state[PS_T0] = now_ns
    c = credit(now_ns - state[PS_T0], state[PS_RATE])
    avail = c - state[PS_SPENT]
    if avail > state[PS_BURST]:
        state[PS_SPENT] = c - state[PS_BURST]
        avail = state[PS_BURST]
    return avail


@njit(nogil=True)
def grant_uniform(state, now_ns, cost, n_max):
    """How many frames of equal ``cost`` may go now (at most ``n_max``); consumes them."""
    avail = tokens(state, now_ns)
    k = avail // cost if avail > 0 else 0
    if k > n_max:
        k = n_max
    state[PS_SPENT] += k * cost
    return k


@njit(nogil=True)
def grant(state, now_ns, costs, n_max):
    """How many of the next frames (per-frame ``costs``, in order) may go now; consumes them.

    Stops at the first frame that does not fit, so sizes never get reordered.
    """
    avail = tokens(state, now_ns)
    k = 0
    spent = 0
    while k < n_max and costs[k] <= avail - spent:
        spent += costs[k]
        k += 1
    state[PS_SPENT] += spent
    return k


@njit
def next_time(state, cost):
    """Earliest clock value at which ``cost`` units are available (state must be started)."""
    target = state[PS_SPENT] + cost
    rate = state[PS_RATE]
    if target <= 0:
        return state[PS_T0]
    e = np.int64(np.ceil(float(target) * NS_PER_S / rate))
    while credit(e, rate) < target:
        e += 1
    while e > 0 and credit(e - 1, rate) >= target:
        e -= 1
    return state[PS_T0] + e


@njit(nogil=True)
def monotonic_ns(clock_fn, ts):
    """CLOCK_MONOTONIC in ns via libc ``clock_gettime`` (ctypes pointer), ``ts`` int64[2]."""
    clock_fn(CLOCK_MONOTONIC, ts.ctypes.data)
    return ts[0] * NS_PER_S + ts[1]


@njit(nogil=True)
def spin_until(clock_fn, ts, deadline_ns):
    """Busy-wait (no syscall sleeps, GIL released when compiled) until the deadline."""
    now = monotonic_ns(clock_fn, ts)
    while now < deadline_ns:
        now = monotonic_ns(clock_fn, ts)
    return now
