"""numba_kernels.modsim.simulate (the moderation sweep's virtual-clock model) against its naive
twin (tests/naive/naive_modsim.py) on short traces: every per-end counter (interrupts, NAPI
rounds, frames, drops, CPU), level hits, the unmask trace and the RTT histogram counts must
be equal, over static / 2016 table / DIM settings, asymmetric ends, polling quanta, zero CPU
costs, tiny rings (Tx blocked, Rx drops) and an unpaced link."""

from __future__ import annotations

from collections import Counter

import pytest
from naive import naive_hdr
from naive import naive_modsim as naive

from enatool.driver.policy.dim import RX_EQE_PROFILES_USEC
from enatool.moderation.model import ModelParams, Setting, kernel_inputs
from enatool.moderation.profiles import BUILTIN_PROFILES, build_traffic
from numba_kernels import hdr
from numba_kernels import modsim as sk

pytestmark = pytest.mark.nojit

TRACE = 400


def _run_both(settings, traffic, p: ModelParams):
    k = kernel_inputs(tuple(settings), traffic, p, TRACE)
    prm, res, ns_per_byte = k.prm, int(k.prm[sk.P_RESOLUTION]), k.ns_per_byte
    mode, rx_units, tx_units = k.mode, k.rx_units, k.tx_units
    intervals, pkts_thr, bytes_thr = k.intervals, k.pkts_thr, k.bytes_thr
    cnt, hits, h_counts, h_stats = k.cnt, k.hits, k.h_counts, k.h_stats
    tr_time, tr_val = k.tr_time, k.tr_val
    ntr = k.simulate()
    sends = list(zip(traffic.time_ns.tolist(), traffic.end.tolist(), traffic.size.tolist(),
                     traffic.kind.tolist(), traffic.resp.tolist(), strict=True))
    want = naive.simulate(
        sends, duration=int(prm[sk.P_DURATION]), delay=int(prm[sk.P_DELAY]),
        tx_depth=p.tx_depth, rx_depth=p.rx_depth, quantum=int(prm[sk.P_QUANTUM]),
        cost_irq=int(prm[sk.P_COST_IRQ]), cost_rx=int(prm[sk.P_COST_RX]),
        cost_tx=int(prm[sk.P_COST_TX]), resolution=res, rx_budget=64,
        refill_thr=int(prm[sk.P_REFILL_THR]), overhead=p.overhead_bytes,
        ns_per_byte=ns_per_byte, modes=mode.tolist(), rx_units=rx_units.tolist(),
        tx_units=tx_units.tolist(), intervals=intervals.tolist(), pkts_thr=pkts_thr.tolist(),
        bytes_thr=bytes_thr.tolist(), dim_profiles=list(RX_EQE_PROFILES_USEC),
        trace_len=TRACE)
    # counters in the kernel's column order
    cols = [sk.C_IRQS, sk.C_ROUNDS, sk.C_COMPLETE, sk.C_RX_PKTS, sk.C_RX_BYTES, sk.C_RX_DROPS,
            sk.C_TX_BLOCKED, sk.C_CPU_NS, sk.C_TX_PKTS, sk.C_RTT_LOST]
    assert cnt[:, cols].tolist() == want["cnt"]
    assert hits.tolist() == want["hits"]
    got_trace = [(int(t), int(v >> 40), int(v & ((1 << 40) - 1)))
                 for t, v in zip(tr_time[:ntr].tolist(), tr_val[:ntr].tolist(), strict=True)]
    assert got_trace == want["trace"]
    # the RTT histogram: per-bucket counts (bucket = lowest value of its range) and stats
    rtts = want["rtts"]
    got_hist = {int(hdr.index_lowest(i)): int(c) for i, c in enumerate(h_counts.tolist()) if c}
    assert got_hist == dict(Counter(naive_hdr.bucket_range(v)[0] for v in rtts))
    assert int(h_stats[hdr.ST_COUNT]) == len(rtts)
    assert int(h_stats[hdr.ST_SUM]) == sum(rtts)
    if rtts:
        assert (int(h_stats[hdr.ST_MIN]), int(h_stats[hdr.ST_MAX])) == (min(rtts), max(rtts))
    return cnt, hits, rtts


STATIC0 = Setting(rx_usecs=0, tx_usecs=64)
STATIC20 = Setting(rx_usecs=20, tx_usecs=64)
STATIC_TX0 = Setting(rx_usecs=8, tx_usecs=0)
TABLE = Setting(mode="table")
DIM = Setting(mode="dim", tx_usecs=32)


@pytest.mark.parametrize("profile", ["rr", "bulk", "bursty", "mixed"])
@pytest.mark.parametrize("settings", [(STATIC0, STATIC0), (STATIC20, STATIC20),
                                      (TABLE, TABLE), (DIM, DIM), (TABLE, STATIC_TX0)],
                         ids=["rx0", "rx20", "table", "dim", "table+static"])
def test_simulate_matches_naive_on_builtin_profiles(profile, settings):
    p = ModelParams()
    traffic = build_traffic(BUILTIN_PROFILES[profile], 400e-6, p, seed=3)
    cnt, _, _ = _run_both(settings, traffic, p)
    assert cnt[:, sk.C_RX_PKTS].sum() > 0


@pytest.mark.parametrize("params", [
    ModelParams(quantum_us=5.0),
    ModelParams(cost_irq_us=0.0, cost_rx_pkt_us=0.0, cost_tx_pkt_us=0.0, delay_us=0.0),
    ModelParams(tx_depth=16, rx_depth=16, link_rate_bps=1e9),  # Tx blocked, Rx drops
    ModelParams(link_rate_bps=0.0, resolution_us=2, cost_irq_us=7.5),
], ids=["quantum", "free-cpu", "tiny-rings", "unpaced"])
@pytest.mark.parametrize("settings", [(STATIC20, TABLE), (DIM, STATIC0)], ids=["a", "b"])
def test_simulate_matches_naive_across_params(params, settings):
    prof = {"streams": [{"kind": "rr", "rate": 200_000, "size": 64, "resp_size": 512},
                        {"kind": "onoff", "burst": 40, "period_us": 100, "size": 1500}]}
    traffic = build_traffic(prof, 500e-6, params, seed=11)
    _run_both(settings, traffic, params)


def test_tiny_rings_really_block_and_drop():
    """The edge the tiny-ring case is there for is reached (else it proves little)."""
    p = ModelParams(tx_depth=16, rx_depth=16, link_rate_bps=1e9)
    prof = {"streams": [{"kind": "onoff", "burst": 40, "period_us": 100, "size": 1500}]}
    cnt, _, _ = _run_both((STATIC20, STATIC20), build_traffic(prof, 500e-6, p, seed=1), p)
    assert cnt[0, sk.C_TX_BLOCKED] > 0
    p = ModelParams(tx_depth=1024, rx_depth=16, cost_rx_pkt_us=2.0)
    cnt, _, _ = _run_both((STATIC20, STATIC20), build_traffic(prof, 500e-6, p, seed=1), p)
    assert cnt[1, sk.C_RX_DROPS] > 0


def test_dim_and_table_move_within_a_short_trace():
    """A dense trace long enough for DIM decisions and table level changes; still equal."""
    p = ModelParams(cost_irq_us=0.5, cost_rx_pkt_us=0.05)
    prof = {"streams": [{"kind": "rr", "rate": 400_000, "size": 64, "resp_size": 64},
                        {"kind": "onoff", "burst": 64, "period_us": 150, "size": 1500}]}
    traffic = build_traffic(prof, 3e-3, p, seed=5)
    _, hits, _ = _run_both((DIM, TABLE), traffic, p)
    assert hits[0, 1:].sum() > 0  # DIM left profile 0
    assert hits[1, 1:].sum() > 0  # the table left LOWEST


def test_empty_traffic():
    p = ModelParams()
    prof = {"streams": [{"kind": "bulk", "rate": 1, "size": 64}]}
    traffic = build_traffic(prof, 100e-6, p)
    traffic.time_ns = traffic.time_ns[:0]
    for a in ("end", "size", "kind", "resp"):
        setattr(traffic, a, getattr(traffic, a)[:0])
    cnt, hits, rtts = _run_both((TABLE, DIM), traffic, p)
    assert cnt.sum() == 0 and hits.sum() == 0 and rtts == []


@pytest.mark.parametrize("quantum", [0.0, 2.0])
@pytest.mark.parametrize("settings", [(Setting(rx_usecs=0, tx_usecs=0),) * 2,
                                      (Setting(rx_usecs=2, tx_usecs=1), TABLE)],
                         ids=["zero-delays", "grid-delays"])
def test_simultaneous_events_break_ties_alike(quantum, settings):
    """Everything on a 1 us grid (fixed arrivals, unpaced link, integer costs and delays):
    sends, arrivals, Tx completions, interrupts and NAPI rounds land on the same instants,
    so the event order at equal times is compared too."""
    p = ModelParams(link_rate_bps=0.0, delay_us=1.0, cost_irq_us=1.0, cost_rx_pkt_us=0.0,
                    cost_tx_pkt_us=0.0, quantum_us=quantum)
    prof = {"streams": [{"kind": "rr", "rate": 250_000, "arrival": "fixed", "size": 64,
                         "resp_size": 64},
                        {"kind": "onoff", "burst": 8, "period_us": 10, "size": 1500}]}
    _run_both(settings, build_traffic(prof, 300e-6, p), p)
