"""Moderation kernels equal the policy classes (the single source of the rules)."""

from __future__ import annotations

import numpy as np
import pytest

from enatool.driver.policy.dim import NetDim
from enatool.driver.policy.moderation import AdaptiveTable2016
from numba_kernels import moderation as km

pytestmark = pytest.mark.nojit

RNG = np.random.default_rng(2016)


def _table_arrays(mod: AdaptiveTable2016):
    t = mod.table
    return (np.array(t.intervals, np.int64), np.array(t.pkts, np.int64),
            np.array(t.bytes, np.int64))


def _random_cycles(n):
    # mix of idle, small, mid and line-rate cycles so every level is visited
    scale = RNG.choice([0, 5, 50, 150, 400], n)
    pkts = (RNG.random(n) * scale).astype(np.int64)
    nbytes = pkts * RNG.integers(60, 1500, n)
    nbytes[RNG.random(n) < 0.05] = 0
    return pkts, nbytes


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("resolution", [1, 3])
def test_adaptive2016_run_equals_policy(stride, resolution):
    pkts, nbytes = _random_cycles(400)
    mod = AdaptiveTable2016(resolution=resolution, stride=stride)
    mod.set_level("mid", 90, 40, 50000)  # an edited table too
    want = []
    for p, b in zip(pkts.tolist(), nbytes.tolist(), strict=True):
        mod.on_rx_clean(p, b)
        mod.on_napi_complete()
        want.append((mod.level, mod.smoothed))
    lv = np.empty(pkts.size, np.int64)
    sm = np.empty(pkts.size, np.int64)
    km.adaptive2016_run(0, 0, pkts, nbytes, *_table_arrays(mod), stride, lv, sm)
    assert list(zip(lv.tolist(), sm.tolist(), strict=True)) == want
    assert len(set(lv.tolist())) >= 3


def test_adaptive2016_step_queues_equals_policy():
    nq, ncycles = 8, 60
    mods = [AdaptiveTable2016() for _ in range(nq)]
    levels = np.zeros(nq, np.int64)
    smoothed = np.zeros(nq, np.int64)
    arrays = _table_arrays(mods[0])
    for _ in range(ncycles):
        pkts, nbytes = _random_cycles(nq)
        for q, m in enumerate(mods):
            m.on_rx_clean(int(pkts[q]), int(nbytes[q]))
            m.on_napi_complete()
        km.adaptive2016_step_queues(levels, smoothed, pkts, nbytes, *arrays, 1)
        assert levels.tolist() == [m.level for m in mods]
        assert smoothed.tolist() == [m.smoothed for m in mods]


def _dim_trace(n):
    """Samples with varying window lengths, event gaps, u16/u32 wrap-arounds, rate phases."""
    times = np.cumsum(RNG.integers(1, 400_000, n)).astype(np.int64)
    times[5] = times[4]  # a zero-microsecond window
    events = np.cumsum(RNG.integers(0, 40, n)).astype(np.int64) + 0xFF00  # wraps u16
    phase = (np.arange(n) // 150) % 4
    per = RNG.integers(1, 50, n) * (1 + phase * 3)
    pkts = np.cumsum(per).astype(np.int64) + 0xFFFFF000  # wraps u32
    nbytes = np.cumsum(per * RNG.integers(64, 9000, n)).astype(np.int64)
    return times, events, pkts, nbytes


def test_net_dim_kernel_equals_policy():
    n = 3000
    times, events, pkts, nbytes = _dim_trace(n)
    dim = NetDim()
    want = []
    for i in range(n):
        dim.sample(int(times[i]), int(events[i]), int(pkts[i]), int(nbytes[i]))
        want.append(dim.profile_ix)
    st = km.dim_new_state(1)
    out = np.empty(n, np.int64)
    km.net_dim_run(st[0], times, events, pkts, nbytes, out)
    assert out.tolist() == want
    assert dim.decisions > 20 and len(set(want)) >= 2
    row = dict(zip(km.DIM_FIELDS, st[0].tolist(), strict=True))
    assert row["tune_state"] == dim.tune_state
    assert (row["steps_right"], row["steps_left"], row["tired"]) == (
        dim.steps_right, dim.steps_left, dim.tired)
    assert (row["prev_ppms"], row["prev_bpms"], row["prev_epms"]) == (
        dim.prev_stats.ppms, dim.prev_stats.bpms, dim.prev_stats.epms)
    assert row["start_time_ns"] == dim.start_sample.time_ns


def test_net_dim_sample_return_value_and_pending_work():
    st = km.dim_new_state(1)[0]
    assert km.net_dim_sample(st, 0, 0, 0, 0, False) == -1
    assert km.net_dim_sample(st, 1_000_000, 64, 100, 10**6, False) == 1
    assert km.net_dim_sample(st, 2_000_000, 128, 200, 10**7, False) == -1  # work pending
    assert st[km.DIM_STATE] == 2
