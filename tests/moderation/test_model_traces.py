"""The moderation model is checked, not assumed.

* 2016 table: scripted bursts through the real software device pair (driver Tx -> device A
  -> wire -> device B -> interrupt -> NAPI -> policy -> unmask register) produce the level
  transitions and intervals hand-computed from INTERFACE.md §7.4, and the next interrupt
  fires exactly that programmed interval after the burst;
* the sweep model's kernel replays the same trace and agrees with the SoftBackend on a
  short request/response run (interrupt counts, RTT);
* net DIM makes its documented moves (§7.5).
"""

from __future__ import annotations

import numpy as np
import pytest

from enatool.driver.policy.dim import (
    DIM_GOING_LEFT,
    DIM_GOING_RIGHT,
    DIM_PARKING_ON_TOP,
    NetDim,
)
from enatool.moderation.model import ModelParams, Setting, Traffic, run_cell

# (pkts, frame bytes) per burst -> (level, smoothed rx delay) after its NAPI completion.
# Default table: intervals 0/32/80/128/192, pkts 3/12/48/96/128, bytes 3048/16384/...
# smoothed = (4 * interval[new] + 6 * old + 5) // 10
TRACE_2016 = [
    ((10, 1000), (1, 13)),  # LOWEST: 10 > 3 pkts -> LOW; (128 + 0 + 5) // 10
    ((10, 1000), (1, 21)),  # LOW: not <= 3 pkts / 3048 B, not > 12 / 16384 -> stay
    ((20, 1000), (2, 45)),  # LOW: 20 > 12 -> MID; (320 + 126 + 5) // 10
    ((60, 1000), (3, 78)),  # MID: 60 > 48 -> HIGH; (512 + 270 + 5) // 10
    ((2, 1000), (2, 79)),   # HIGH: 2 <= 48 (MID row) -> MID; (320 + 468 + 5) // 10
    ((2, 1000), (1, 60)),   # MID: 2 <= 12 -> LOW; (128 + 474 + 5) // 10
    ((2, 100), (0, 36)),    # LOW: 2 <= 3 -> LOWEST; (0 + 360 + 5) // 10
]


def _burst(be, n, size):
    buf = np.zeros(n * size, np.uint8)
    offs = np.arange(n, dtype=np.int64) * size
    lens = np.full(n, size, np.int64)
    assert be.tx_burst_packed(0, buf, offs, lens, end=0) == n


def test_2016_table_trace_through_soft_pair():
    from enatool.backends.soft import SoftBackend

    with SoftBackend(queues=1, link_rate=None, step=1e-6) as be:
        be.drivers[1].set_moderation_mode(0, "adaptive2016")
        mod = be.drivers[1].napi[0].mod
        vector = be.devices[1].datapath.irq.vectors[1]
        programmed = 0  # LOWEST interval written by the first unmask at ena_up
        for (n, size), (level, smoothed) in TRACE_2016:
            _burst(be, n, size)
            t0 = be.now()
            irq0 = be.stats(end=1)["queue_0_tx_interrupts"]
            fired_after = None
            for _ in range(300):
                be.advance(1e-6)
                if fired_after is None and be.stats(end=1)["queue_0_tx_interrupts"] > irq0:
                    fired_after = be.now() - t0
            got = be.rx_burst_packed(0, end=1)
            assert len(got.lens) == n
            assert be.stats(end=1)["queue_0_tx_interrupts"] - irq0 == 1  # one NAPI per burst
            assert (mod.adaptive.level, mod.adaptive.smoothed) == (level, smoothed)
            assert vector.rx_delay == smoothed  # what the unmask register now holds
            # the interrupt for this burst came the previously programmed delay later
            # (observed at the next 1 us poll step)
            assert programmed * 1e-6 <= fired_after <= (programmed + 1.5) * 1e-6
            programmed = smoothed


def test_model_kernel_replays_the_2016_trace():
    """Same bursts on the sweep model: its trace of unmask writes holds the same delays."""
    times, sizes = [], []
    t = 1_000_000
    for (n, size), _ in TRACE_2016:
        times += [t] * n
        sizes += [size] * n
        t += 1_000_000
    k = len(times)
    tr = Traffic(time_ns=np.array(times, np.int64), end=np.zeros(k, np.int64),
                 size=np.array(sizes, np.int64), kind=np.zeros(k, np.int64),
                 resp=np.zeros(k, np.int64), duration_ns=t)
    params = ModelParams(link_rate_bps=0, delay_us=0, cost_irq_us=0, cost_rx_pkt_us=0,
                         cost_tx_pkt_us=0, overhead_bytes=0)
    r = run_cell(Setting(mode="table", tx_usecs=64), tr, params, trace=64)
    rx_end = [v for (_, e, v) in r["trace"] if e == 1]
    assert rx_end == [s for _, (_, s) in TRACE_2016]
    assert r["ends"][1]["interrupts"] == len(TRACE_2016)


def test_model_agrees_with_soft_backend_on_rr():
    """Request/response at 5k/s for 20 ms, static rx 30 / tx 64 on both ends: interrupts
    and RTTs of the SoftBackend (1 us poll step) and of the model (quantum 1 us)."""
    from enatool.backends.soft import SoftBackend

    rng = np.random.default_rng(3)
    dur = 0.02
    sends = np.sort(rng.uniform(0.0005, dur - 0.002, 100))
    soft_rtt = []
    with SoftBackend(queues=1, link_rate=None, step=1e-6) as be:
        for end in (0, 1):
            be.set_coalesce(end=end, rx_usecs=30, tx_usecs=64, adaptive_rx=False)
        i0 = [be.stats(end=e)["queue_0_tx_interrupts"] for e in (0, 1)]
        t_start = be.now()
        pending = []
        si = 0
        while be.now() - t_start < dur:
            now = be.now() - t_start
            while si < len(sends) and sends[si] <= now + 1e-9:
                _burst(be, 1, 64)
                pending.append(be.now())
                si += 1
            be.advance(1e-6)
            got = be.rx_burst_packed(0, end=1)
            if len(got.lens):
                _burst_end1(be, len(got.lens))
            back = be.rx_burst_packed(0, end=0)
            for _ in range(len(back.lens)):
                soft_rtt.append(be.now() - pending.pop(0))
        soft_irq = [be.stats(end=e)["queue_0_tx_interrupts"] - i0[e] for e in (0, 1)]
    times = ((sends - 0) * 1e9).astype(np.int64)
    times = (np.ceil(times / 1000) * 1000).astype(np.int64)  # sent at poll-step boundaries
    k = len(times)
    tr = Traffic(time_ns=times, end=np.zeros(k, np.int64), size=np.full(k, 64, np.int64),
                 kind=np.ones(k, np.int64), resp=np.full(k, 64, np.int64),
                 duration_ns=int(dur * 1e9))
    params = ModelParams(link_rate_bps=0, delay_us=0, cost_irq_us=0, cost_rx_pkt_us=0,
                         cost_tx_pkt_us=0, quantum_us=1.0, overhead_bytes=0)
    r = run_cell(Setting(mode="static", rx_usecs=30, tx_usecs=64), tr, params)
    model_irq = [r["ends"][e]["interrupts"] for e in (0, 1)]
    assert len(soft_rtt) == r["rtt"]["count"] == k
    for s, m in zip(soft_irq, model_irq, strict=True):
        assert abs(s - m) <= max(3, 0.05 * m)
    soft_p50 = float(np.percentile(np.array(soft_rtt) * 1e6, 50))
    # two Rx delays of 30 us plus poll-step rounding on each side
    assert 59.5 <= soft_p50 <= 66
    assert abs(soft_p50 - r["rtt"]["p50_us"]) <= 3


def _burst_end1(be, n):
    buf = np.zeros(n * 64, np.uint8)
    offs = np.arange(n, dtype=np.int64) * 64
    assert be.tx_burst_packed(0, buf, offs, np.full(n, 64, np.int64), end=1) == n


@pytest.mark.nojit
def test_dim_documented_moves():
    """Start at profile 0 parked; a significant byte-rate change exits parking going right
    (left is impossible at 0); better keeps the direction; worse turns back; better right
    after the turn-back parks "on top"; a >10 % change leaves parking (left when not at 0)."""
    dim = NetDim()
    t, pk, by, ev = 0, 0, 0, 0

    def window(bytes_per_event, usec=1000):
        """Feed events at a steady rate until DIM makes its next decision."""
        nonlocal t, pk, by, ev
        before = dim.decisions
        for _ in range(200):
            t += usec * 1000 // 64
            ev += 1
            pk += 1
            by += bytes_per_event
            dim.sample(t, ev, pk, by)
            if dim.decisions > before:
                return
        raise AssertionError("no decision")

    dim.sample(0, 0, 0, 0)  # start measuring
    window(1000)  # first decision: no previous bytes -> better -> exit parking, step right
    assert dim.profile_ix == 1 and dim.tune_state == DIM_GOING_RIGHT
    window(2000)  # 2x bytes: better -> keep going right
    assert dim.profile_ix == 2 and dim.tune_state == DIM_GOING_RIGHT
    window(1000)  # worse -> turn left and step
    assert dim.profile_ix == 1 and dim.tune_state == DIM_GOING_LEFT
    # better after one step back, having gone right twice: "on top" -> park at profile 1
    window(1500)
    assert dim.tune_state == DIM_PARKING_ON_TOP and dim.profile_ix == 1
    window(1520)  # within 10 %: stays parked
    assert dim.tune_state == DIM_PARKING_ON_TOP and dim.profile_ix == 1
    window(3000)  # significant change: leave parking, going left from profile 1
    assert dim.tune_state == DIM_GOING_LEFT and dim.profile_ix == 0
    parked_at = dim.profile_ix
    assert dim.profile_usec == (1, 8, 64, 128, 256)[parked_at]
