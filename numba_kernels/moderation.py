"""Moderation steps as kernels over per-queue state, for long virtual NAPI sweeps.

The rules live in ``enatool.driver.policy.moderation`` (2016 adaptive table, amzn-drivers
v1.0.0) and ``enatool.driver.policy.dim`` (net DIM as today's v2.17.0 driver uses it); these
kernels re-state them over arrays and are tested equal to the policy classes.
"""

from __future__ import annotations

import numpy as np

from numba_kernels.jit import njit

# -- 2016 adaptive table -----------------------------------------------------------------


@njit
def adaptive2016_decide(level, smoothed, pkts, nbytes, intervals, pkts_thr, bytes_thr, stride):
    """One decision -> (level, smoothed); see ``adaptive_2016_decide`` for the rule."""
    if pkts == 0 or nbytes == 0:
        return level, smoothed
    highest = intervals.shape[0] - 1
    new = level
    if level == 0:
        if pkts > pkts_thr[0] or nbytes > bytes_thr[0]:
            new = level + stride
    else:
        pred = max(level - stride, 0)
        if pkts <= pkts_thr[pred] or nbytes <= bytes_thr[pred]:
            new = pred
        elif (pkts > pkts_thr[level] or nbytes > bytes_thr[level]) and level != highest:
            new = level + stride
    if new > highest:
        new = level
    smoothed = (4 * int(intervals[new]) + 6 * smoothed + 5) // 10
    return new, smoothed


@njit(nogil=True)
def adaptive2016_step_queues(levels, smoothed, pkts, nbytes, intervals, pkts_thr, bytes_thr,
                             stride):
    """One NAPI completion on every queue at once (arrays updated in place)."""
    for q in range(levels.shape[0]):
        lv, sm = adaptive2016_decide(int(levels[q]), int(smoothed[q]), int(pkts[q]),
                                     int(nbytes[q]), intervals, pkts_thr, bytes_thr, stride)
        levels[q] = lv
        smoothed[q] = sm
    return levels


@njit(nogil=True)
def adaptive2016_run(level, smoothed, pkts, nbytes, intervals, pkts_thr, bytes_thr, stride,
                     out_level, out_smoothed):
    """A trace of NAPI completions on one queue; per cycle level and rx delay (units)."""
    lv = level
    sm = smoothed
    for i in range(pkts.shape[0]):
        lv, sm = adaptive2016_decide(lv, sm, int(pkts[i]), int(nbytes[i]), intervals,
                                     pkts_thr, bytes_thr, stride)
        out_level[i] = lv
        out_smoothed[i] = sm
    return lv, sm


# -- net DIM ---------------------------------------------------------------------------
# state row layout (int64): see DIM_FIELDS
DIM_STATE = 0
DIM_PROFILE_IX = 1
DIM_TUNE_STATE = 2
DIM_STEPS_RIGHT = 3
DIM_STEPS_LEFT = 4
DIM_TIRED = 5
DIM_PREV_PPMS = 6
DIM_PREV_BPMS = 7
DIM_PREV_EPMS = 8
DIM_START_TIME = 9
DIM_START_PKTS = 10
DIM_START_BYTES = 11
DIM_START_EVENTS = 12
DIM_NFIELDS = 13
DIM_FIELDS = ("state", "profile_ix", "tune_state", "steps_right", "steps_left", "tired",
              "prev_ppms", "prev_bpms", "prev_epms", "start_time_ns", "start_pkt_ctr",
              "start_byte_ctr", "start_event_ctr")


def dim_new_state(nqueues: int) -> np.ndarray:
    """Zero-initialised ``struct dim`` per queue (profile 0, start measure, parked on top)."""
    return np.zeros((nqueues, DIM_NFIELDS), dtype=np.int64)


@njit
def _dim_significant(val, ref):
    return (100 * abs(val - ref)) // ref > 10


@njit
def _dim_compare(ppms, bpms, epms, st):
    """2 better, 1 same, 0 worse (bytes, then packets, then fewer events)."""
    pb = st[DIM_PREV_BPMS]
    if pb == 0:
        return 2 if bpms else 1
    if _dim_significant(bpms, pb):
        return 2 if bpms > pb else 0
    pp = st[DIM_PREV_PPMS]
    if pp == 0:
        return 2 if ppms else 1
    if _dim_significant(ppms, pp):
        return 2 if ppms > pp else 0
    pe = st[DIM_PREV_EPMS]
    if pe == 0:
        return 1
    if _dim_significant(epms, pe):
        return 2 if epms < pe else 0
    return 1


@njit
def _dim_step(st, nprofiles):
    """0 stepped, 1 too tired, 2 on edge."""
    if st[DIM_TIRED] == nprofiles * 2:
        return 1
    ts = st[DIM_TUNE_STATE]
    if ts == 2:
        if st[DIM_PROFILE_IX] == nprofiles - 1:
            return 2
        st[DIM_PROFILE_IX] += 1
        st[DIM_STEPS_RIGHT] += 1
    elif ts == 3:
        if st[DIM_PROFILE_IX] == 0:
            return 2
        st[DIM_PROFILE_IX] -= 1
        st[DIM_STEPS_LEFT] += 1
    st[DIM_TIRED] += 1
    return 0


@njit
def _dim_park_on_top(st):
    st[DIM_STEPS_RIGHT] = 0
    st[DIM_STEPS_LEFT] = 0
    st[DIM_TIRED] = 0
    st[DIM_TUNE_STATE] = 0


@njit
def _dim_decision(st, ppms, bpms, epms, nprofiles):
    prev_state = st[DIM_TUNE_STATE]
    prev_ix = st[DIM_PROFILE_IX]
    ts = prev_state
    if ts == 0:  # parking on top
        if _dim_compare(ppms, bpms, epms, st) != 1:
            st[DIM_TUNE_STATE] = 3 if st[DIM_PROFILE_IX] else 2
            _dim_step(st, nprofiles)
    elif ts == 1:  # parking tired
        st[DIM_TIRED] -= 1
        if st[DIM_TIRED] == 0:
            st[DIM_TUNE_STATE] = 3 if st[DIM_PROFILE_IX] else 2
            _dim_step(st, nprofiles)
    else:
        if _dim_compare(ppms, bpms, epms, st) != 2:  # turn
            if ts == 2:
                st[DIM_TUNE_STATE] = 3
                st[DIM_STEPS_LEFT] = 0
            else:
                st[DIM_TUNE_STATE] = 2
                st[DIM_STEPS_RIGHT] = 0
        ts = st[DIM_TUNE_STATE]
        if ts == 2:
            on_top = st[DIM_STEPS_LEFT] > 1 and st[DIM_STEPS_RIGHT] == 1
        else:
            on_top = st[DIM_STEPS_RIGHT] > 1 and st[DIM_STEPS_LEFT] == 1
        if on_top:
            _dim_park_on_top(st)
        else:
            res = _dim_step(st, nprofiles)
            if res == 2:
                _dim_park_on_top(st)
            elif res == 1:  # park tired
                st[DIM_STEPS_RIGHT] = 0
                st[DIM_STEPS_LEFT] = 0
                st[DIM_TUNE_STATE] = 1
    if prev_state != 0 or st[DIM_TUNE_STATE] != 0:
        st[DIM_PREV_PPMS] = ppms
        st[DIM_PREV_BPMS] = bpms
        st[DIM_PREV_EPMS] = epms
    return st[DIM_PROFILE_IX] != prev_ix


@njit
def net_dim_sample(st, now_ns, event_ctr, pkt_ctr, byte_ctr, auto_apply):
    """``net_dim()`` on one state row; returns the new profile index or -1.

    With ``auto_apply`` ENA's work item runs at once (state back to "start measure").
    """
    nprofiles = 5
    ev = event_ctr & 0xFFFF
    pk = pkt_ctr & 0xFFFFFFFF
    by = byte_ctr & 0xFFFFFFFF
    state = st[DIM_STATE]
    if state == 2:
        return -1
    if state == 1:
        if ((ev - st[DIM_START_EVENTS]) & 0xFFFF) < 64:
            return -1
        delta_us = ((now_ns - st[DIM_START_TIME]) // 1000) & 0xFFFFFFFF
        if delta_us == 0:
            return -1
        npkts = (pk - st[DIM_START_PKTS]) & 0xFFFFFFFF
        nbytes = (by - st[DIM_START_BYTES]) & 0xFFFFFFFF
        ppms = (npkts * 1000 + delta_us - 1) // delta_us
        bpms = (nbytes * 1000 + delta_us - 1) // delta_us
        epms = (64 * 1000 + delta_us - 1) // delta_us
        if _dim_decision(st, ppms, bpms, epms, nprofiles):
            st[DIM_STATE] = 0 if auto_apply else 2
            return st[DIM_PROFILE_IX]
    st[DIM_START_TIME] = now_ns
    st[DIM_START_PKTS] = pk
    st[DIM_START_BYTES] = by
    st[DIM_START_EVENTS] = ev
    st[DIM_STATE] = 1
    return -1


@njit(nogil=True)
def net_dim_run(st, times_ns, events, pkts, nbytes, out_profile):
    """Feed a trace of samples to one queue; out_profile[i] = profile index after sample i."""
    for i in range(times_ns.shape[0]):
        net_dim_sample(st, times_ns[i], events[i], pkts[i], nbytes[i], True)
        out_profile[i] = st[DIM_PROFILE_IX]
    return out_profile
