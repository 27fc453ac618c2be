"""net DIM moves as documented: climb while better, park after a turn-back or at an edge,
leave parking on a significant change, park tired after 10 steps."""

from __future__ import annotations

import pytest

from enatool.driver.policy.dim import (
    DIM_GOING_RIGHT,
    DIM_PARKING_ON_TOP,
    DIM_PARKING_TIRED,
    DimSample,
    DimStats,
    NetDim,
    calc_stats,
    is_significant_diff,
    stats_compare,
)

pytestmark = pytest.mark.nojit

MS = 1_000_000


class Feeder:
    """Drives one NetDim with one sample per 1 ms window of exactly 64 events."""

    def __init__(self, dim: NetDim):
        self.dim = dim
        self.t = 0
        self.ev = 0
        self.pkts = 0
        self.bytes = 0
        self.decisions: list[tuple[int, int]] = []  # (profile_ix, tune_state) per decision

    def window(self, nbytes: int, npkts: int = 1000) -> None:
        self.t += MS
        self.ev += 64
        self.pkts += npkts
        self.bytes += nbytes
        before = self.dim.decisions
        self.dim.sample(self.t, self.ev, self.pkts, self.bytes)
        if self.dim.decisions != before:
            self.decisions.append((self.dim.profile_ix, self.dim.tune_state))

    def until_decisions(self, n: int, rate) -> None:
        """Feed windows until n more decisions were taken; rate(profile_ix) -> bytes."""
        target = len(self.decisions) + n
        while len(self.decisions) < target:
            self.window(rate(self.dim.profile_ix))


def test_stats_helpers():
    assert is_significant_diff(111, 100) and not is_significant_diff(110, 100)
    assert not is_significant_diff(90, 100) and is_significant_diff(89, 100)
    s = calc_stats(DimSample(0, 0, 0, 0), DimSample(2_500_000, 10, 1001, 64))
    assert s == DimStats(ppms=4, bpms=401, epms=26)  # round-up divisions over 2500 us
    assert calc_stats(DimSample(0), DimSample(999)) is None  # no whole microsecond
    # u32 counters wrap
    s = calc_stats(DimSample(0, 0xFFFFFFF0, 0, 0), DimSample(1_000_000, 0x10, 0, 64))
    assert s.ppms == 32
    prev = DimStats(100, 1000, 64)
    assert stats_compare(DimStats(100, 1200, 64), prev) == 2  # more bytes: better
    assert stats_compare(DimStats(50, 1050, 64), prev) == 0  # bytes same, fewer pkts: worse
    assert stats_compare(DimStats(100, 1000, 30), prev) == 2  # fewer events: better
    assert stats_compare(DimStats(105, 1000, 64), prev) == 1
    assert stats_compare(DimStats(1, 1, 1), DimStats()) == 2


def test_initial_state_and_first_window_is_measure_start():
    dim = NetDim()
    assert (dim.profile_ix, dim.profile_usec, dim.tune_state) == (0, 1, DIM_PARKING_ON_TOP)
    f = Feeder(dim)
    f.window(10**6)  # start sample only
    assert f.decisions == []
    for _ in range(10):  # fewer than 64 events since the start: no decision
        dim.sample(f.t + 1, f.ev + 63, 0, 0)
    assert f.decisions == []


def test_steady_increase_steps_right_then_parks_at_edge():
    f = Feeder(NetDim())
    rate = {"v": 10**6}

    def growing(_ix):
        rate["v"] = rate["v"] * 12 // 10  # +20 % every window
        return rate["v"]

    f.until_decisions(5, growing)
    assert [ix for ix, _ in f.decisions] == [1, 2, 3, 4, 4]
    assert [ts for _, ts in f.decisions[:4]] == [DIM_GOING_RIGHT] * 4
    assert f.decisions[4][1] == DIM_PARKING_ON_TOP  # edge reached
    assert f.dim.rx_interval_usec == 256


PEAK_AT_2 = {0: 100_000, 1: 150_000, 2: 200_000, 3: 120_000, 4: 80_000}


def test_turn_back_parks_on_top():
    f = Feeder(NetDim())
    f.until_decisions(5, PEAK_AT_2.get)
    # 0 -> 1 -> 2 -> 3 (better each time), 3 is worse: turn, back to 2,
    # 2 is better again after a turn-back: park on top at 2.
    assert [ix for ix, _ in f.decisions] == [1, 2, 3, 2, 2]
    assert f.decisions[-1][1] == DIM_PARKING_ON_TOP
    f.until_decisions(5, PEAK_AT_2.get)  # same traffic: stays parked
    assert f.decisions[-5:] == [(2, DIM_PARKING_ON_TOP)] * 5
    assert f.dim.rx_interval_usec == 64


def test_significant_change_leaves_parking():
    f = Feeder(NetDim())
    f.until_decisions(5, PEAK_AT_2.get)
    f.until_decisions(1, lambda ix: PEAK_AT_2[ix] * 109 // 100)  # +9 %: not significant
    assert f.decisions[-1] == (2, DIM_PARKING_ON_TOP)
    f.until_decisions(1, lambda ix: PEAK_AT_2[ix] * 2)  # +100 %: leave, step left first
    assert f.decisions[-1][0] == 1
    assert f.decisions[-1][1] != DIM_PARKING_ON_TOP


def test_tired_after_ten_steps_for_ten_decisions():
    f = Feeder(NetDim())
    rate = {"v": 2 * 10**6}

    def shrinking(_ix):
        rate["v"] = rate["v"] * 8 // 10  # always 20 % worse: ping-pong 0 <-> 1
        return rate["v"]

    f.until_decisions(10, shrinking)
    assert [ix for ix, _ in f.decisions] == [1, 0] * 5  # ten steps, never parked
    assert f.dim.tired == 10
    f.until_decisions(1, shrinking)
    assert f.decisions[-1] == (0, DIM_PARKING_TIRED)  # 11th decision: too tired
    f.until_decisions(9, shrinking)
    assert f.decisions[-9:] == [(0, DIM_PARKING_TIRED)] * 9
    f.until_decisions(1, shrinking)  # 10th tired decision: leaves, steps right
    assert f.decisions[-1] == (1, DIM_GOING_RIGHT)


def test_manual_work_ignores_samples_until_applied():
    dim = NetDim(auto_apply=False)
    dim.sample(0, 0, 0, 0)
    assert dim.sample(MS, 64, 1000, 10**6) == 1
    assert dim.rx_interval_usec == 1  # not applied yet
    assert dim.sample(2 * MS, 128, 2000, 10**9) is None  # ignored while work is pending
    assert dim.work() == 8
    assert dim.sample(3 * MS, 192, 3000, 2 * 10**9) is None  # new start sample


def test_ena_feeding_counts_non_empty_napi_only():
    dim = NetDim()
    for i in range(200):
        dim.on_napi_complete(i * 10_000, 0, 0, 0)
    assert dim.non_empty_napi_events == 0
    for i in range(65):
        dim.on_napi_complete(i * 20_000, 1, i * 10, i * 15_000)
    assert dim.non_empty_napi_events == 65
    assert dim.profile_ix == 1  # one decision: out of parking, step right
