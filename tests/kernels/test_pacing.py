"""numba_kernels.pacing: exact credit, token bucket vs naive twin, achieved rate under a
synthetic clock, never over the bucket; the libc clock path."""

from __future__ import annotations

import time

import numpy as np
import pytest

from enatool.errors import UsageError
from enatool.gen.pacer import Pacer, libc_clock_gettime
from numba_kernels import pacing as kp
from tests.naive.naive_gen import NaivePacer

NS = 1_000_000_000


@pytest.mark.nojit
def test_credit_is_exact_for_large_values():
    rng = np.random.default_rng(1)
    for _ in range(300):
        e = int(rng.integers(0, 10**15))  # up to ~11 days
        r = int(rng.integers(1, 4 * 10**11))  # up to 400 Gbit/s
        assert kp.credit(e, r) == e * r // NS


def _simulate(pacer_state, rate, burst, seconds, rng, batch=64, costs_of=None, max_step=5000):
    """Drive the kernel with a jittery synthetic clock; return (times, cumulative units)."""
    t = 10**12 + int(rng.integers(0, 10**6))
    t_end = t + seconds * NS
    times, cum = [t], [0]
    total = 0
    while t < t_end:
        if costs_of is None:
            k = kp.grant_uniform(pacer_state, t, 1, batch)
            total += k
        else:
            costs = costs_of(batch)
            k = kp.grant(pacer_state, t, costs, batch)
            total += int(costs[:k].sum())
            costs_of.consume(k)
        times.append(t)
        cum.append(total)
        t += int(rng.integers(1, max_step))
    return np.array(times, np.int64), np.array(cum, np.int64)


def _max_window_excess(times, cum, rate):
    """max over t1 < t2 of sent(t1, t2] - rate * (t2 - t1): must stay within the bucket."""
    d = cum - np.array([kp.credit(int(t - times[0]), rate) for t in times])
    return int(np.max(d - np.minimum.accumulate(d)))


@pytest.mark.parametrize("rate", [100_000, 1_000_000])
def test_pps_within_one_percent_and_never_over_bucket(rate):
    rng = np.random.default_rng(rate)
    st = np.zeros(kp.PS_N, np.int64)
    burst = 32
    kp.pacer_init(st, rate, burst)
    times, cum = _simulate(st, rate, burst, 0.2, rng)
    achieved = cum[-1] / ((times[-1] - times[0]) / NS)
    assert abs(achieved - rate) / rate < 0.01
    assert _max_window_excess(times, cum, rate) <= burst + 1
    assert np.max(np.diff(cum)) <= burst


class _ImixCosts:
    def __init__(self, rng):
        sizes = np.array([60] * 7 + [590] * 4 + [1514], np.int64)
        self.bits = (rng.permutation(sizes) + 24) * 8
        self.pos = 0

    def __call__(self, n):
        idx = (self.pos + np.arange(n)) % len(self.bits)
        return self.bits[idx]

    def consume(self, k):
        self.pos += k


def test_bitrate_imix_within_one_percent():
    rng = np.random.default_rng(5)
    rate = 10 * 10**9
    burst = 32 * 1538 * 8
    st = np.zeros(kp.PS_N, np.int64)
    kp.pacer_init(st, rate, burst)
    times, cum = _simulate(st, rate, burst, 0.02, rng, costs_of=_ImixCosts(rng), max_step=2000)
    achieved = cum[-1] / ((times[-1] - times[0]) / NS)
    assert abs(achieved - rate) / rate < 0.01
    assert _max_window_excess(times, cum, rate) <= burst + 1


@pytest.mark.nojit
def test_kernel_matches_naive_bucket():
    rng = np.random.default_rng(9)
    for trial in range(20):
        rate = int(rng.integers(1, 10**7))
        burst = int(rng.integers(1, 5000))
        st = np.zeros(kp.PS_N, np.int64)
        kp.pacer_init(st, rate, burst)
        naive = NaivePacer(rate, burst)
        t = int(rng.integers(0, 10**15))
        for _ in range(200):
            costs = rng.integers(1, max(2, burst // 3), 8).astype(np.int64)
            n = int(rng.integers(0, 9))
            assert kp.grant(st, t, costs, n) == naive.grant(t, costs[:n].tolist()), trial
            t += int(rng.integers(0, 3 * NS // max(rate // 1000, 1)))


@pytest.mark.nojit
def test_idle_sender_earns_no_more_than_the_bucket():
    st = np.zeros(kp.PS_N, np.int64)
    kp.pacer_init(st, 1000, 10)
    assert kp.grant_uniform(st, 0, 1, 100) == 0  # starts empty
    assert kp.grant_uniform(st, 3600 * NS, 1, 100) == 10  # an hour idle: one bucket
    assert kp.grant_uniform(st, 3600 * NS, 1, 100) == 0


@pytest.mark.nojit
def test_next_time_is_the_first_instant_with_enough_tokens():
    rng = np.random.default_rng(2)
    for _ in range(50):
        rate = int(rng.integers(1, 10**9))
        st = np.zeros(kp.PS_N, np.int64)
        kp.pacer_init(st, rate, 10**6)
        t0 = int(rng.integers(0, 10**12))
        kp.grant_uniform(st, t0, 1, 0)  # start the clock
        cost = int(rng.integers(1, 1000))
        t = kp.next_time(st, cost)
        probe = st.copy()
        assert kp.tokens(probe, t) >= cost
        probe = st.copy()
        if t > t0:
            assert kp.tokens(probe, t - 1) < cost


@pytest.mark.nojit
def test_pacer_wrapper_validates_and_paces_bits():
    with pytest.raises(UsageError):
        Pacer()
    with pytest.raises(UsageError):
        Pacer(rate=10, bitrate=10)
    with pytest.raises(UsageError):
        Pacer(rate=0)
    p = Pacer(bitrate=672 * 1000, burst_frames=1, max_wire_bits=672)  # 1000 64 B frames/s
    bits = np.full(4, 672, np.int64)
    assert p.grant(0, 4, bits) == 0
    assert p.next_time(672) == NS // 1000
    assert p.grant(NS // 1000, 4, bits) == 1


@pytest.mark.nojit
def test_monotonic_clock_through_ctypes_and_spin_until():
    fn = libc_clock_gettime()
    ts = np.zeros(2, np.int64)
    a = time.monotonic_ns()
    b = kp.monotonic_ns(fn, ts)
    c = time.monotonic_ns()
    assert a <= b <= c  # the same clock as time.monotonic_ns (and bpf_ktime_get_ns)
    deadline = kp.monotonic_ns(fn, ts) + 200_000
    assert kp.spin_until(fn, ts, deadline) >= deadline
    assert time.monotonic_ns() >= deadline
