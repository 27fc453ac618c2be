"""The compiled steady-state loop (``SoftBackend.run_cycles``) against the Python path.

Two identical pairs (same device seed, same RSS key) run the same cycles, one through
``numba_kernels.softpair.pair_cycles`` and one through the Python path; afterwards every
counter, interrupt count, vector state, DIM state, ring index and every byte of both
devices' DMA memory and BAR2 must be equal, and stay equal when both continue in Python.
"""

from __future__ import annotations

import numpy as np
import pytest
from naive.naive_soft_path import udp4_frame

from enatool.backends.soft import SoftBackend
from enatool.backends.soft_cycles import why_not_compiled
from enatool.ena.regs import ResetReason


def _pack(frames):
    lens = np.array([len(f) for f in frames], np.int64)
    offs = np.zeros(len(frames), np.int64)
    offs[1:] = np.cumsum(lens[:-1])
    return np.frombuffer(b"".join(frames), np.uint8).copy(), offs, lens


def _burst(size: int, n: int):
    return _pack([udp4_frame(size, 1024 + i) for i in range(n)])


def _pair(**kw) -> tuple[SoftBackend, SoftBackend]:
    bes = (SoftBackend(queues=1, seed=7, **kw), SoftBackend(queues=1, seed=7, **kw))
    for end in (0, 1):  # the driver's RSS key is random: give both pairs the same one
        key = bes[0].get_rss(end=end)["key"]
        for be in bes:
            be.set_rss(end=end, key=key)
    return bes


def _snapshot(be: SoftBackend) -> dict:
    out = {}
    for end in (0, 1):
        dev, drv = be.devices[end], be.drivers[end]
        ctx = drv.napi[0]
        dim = ctx.mod.dim
        out[end] = {
            "stats": be.stats(end=end),
            "arena": dev.dma.arena.copy(),
            "bar2": dev.bar2.mem.copy(),
            "bounce": None if ctx.tx.bounce is None else ctx.tx.bounce.copy(),
            "now": dev.now_ns,
            "irq": list(dev.irq_counts),
            "seen": list(drv.port._irq_seen),
            "vectors": {v: vars(s).copy() for v, s in dev.datapath.irq.vectors.items()},
            "dim": (dim.state, dim.tune_state, dim.profile_ix, dim.steps_right,
                    dim.steps_left, dim.tired, vars(dim.prev_stats).copy(),
                    vars(dim.start_sample).copy(), dim.decisions,
                    dim.non_empty_napi_events, dim.rx_interval_usec),
            "napi": (ctx.mod.last, ctx.mod.rx_interval, ctx.scheduled, ctx.unmask_writes,
                     ctx.napi_rx_pkts, vars(ctx.tx.stats).copy(), vars(ctx.rx.stats).copy()),
            "queues": dev.datapath.queue_stats(),
            "sqs": [(q.head, q.tail, q.doorbells)
                    for q in [*dev.io.tx_sqs.values(), *dev.io.rx_sqs.values()]],
            "cqs": [(c.tail, c.masked, c.rx_delay, c.tx_delay, c.unmask_writes)
                    for c in dev.io.cqs.values()],
            "dev": vars(dev.stats).copy(),
            "store": (len(ctx.rx.store), ctx.rx.store.side),
        }
    return out


def _assert_same(x: dict, y: dict) -> None:
    for end in (0, 1):
        for k, a in x[end].items():
            b = y[end][k]
            if isinstance(a, np.ndarray):
                assert np.array_equal(a, b), (end, k, int(np.count_nonzero(a != b)))
            else:
                assert a == b, (end, k)


def _compare(size=64, n=1000, cycles=200, seconds=None, set_up=None, **kw):
    buf, offs, lens = _burst(size, n)
    py, jit = _pair(**kw)
    try:
        if set_up is not None:
            set_up(py)
            set_up(jit)
        r_py = py.run_cycles(buf, offs, lens, cycles, seconds, compiled=False)
        r_jit = jit.run_cycles(buf, offs, lens, cycles, seconds)
        for f in ("cycles", "sent", "rx_pkts", "rx_csum_good", "rx_bytes"):
            assert getattr(r_py, f) == getattr(r_jit, f), f
        assert r_py.last.frames() == r_jit.last.frames()
        _assert_same(_snapshot(py), _snapshot(jit))
        # both go on in Python: nothing the compiled loop left behind makes them differ
        py.run_cycles(buf, offs, lens, 30, seconds, compiled=False)
        jit.run_cycles(buf, offs, lens, 30, seconds, compiled=False)
        _assert_same(_snapshot(py), _snapshot(jit))
        return r_py, r_jit
    finally:
        py.close()
        jit.close()


def test_default_pair_runs_compiled_and_equals_python():
    r_py, r_jit = _compare()
    assert r_jit.compiled_cycles == 200 and r_py.compiled_cycles == 0
    assert r_jit.rx_csum_good > 150_000  # traffic arrived (DIM drops a few % at 10 Mpps)
    assert r_jit.rx_csum_good == r_jit.rx_pkts


def test_across_keep_alive_and_the_1hz_timer():
    # 1.3 s of virtual time: keep-alives, health ticks and GET_STATS-free timer work run
    # in Python between compiled stretches
    r_py, r_jit = _compare(n=200, cycles=2600, seconds=5e-4)
    assert 0 < r_jit.compiled_cycles < r_jit.cycles


@pytest.mark.parametrize("usecs", [(0, 0), (0, 200), (300, 64), (1000, 1000)])
def test_static_moderation_delays(usecs):
    rx, tx = usecs

    def set_up(be):
        for end in (0, 1):
            be.set_coalesce(end=end, rx_usecs=rx, tx_usecs=tx, adaptive_rx=False)

    r_py, r_jit = _compare(n=600, cycles=150, set_up=set_up)
    assert r_jit.compiled_cycles == 150


def test_several_slices_per_cycle_and_short_bursts():
    _compare(n=64, cycles=120, seconds=3.5e-4)


def test_2016_driver_runs_in_python():
    # the 2016 driver has no LLQ: host placement is the Python path's
    def set_up(be):
        for end in (0, 1):
            be.drivers[end].set_moderation_mode(0, "static")

    r_py, r_jit = _compare(n=500, cycles=40, era="2016", set_up=set_up)
    assert r_jit.compiled_cycles == 0 and "LLQ" in r_jit.fallback


def test_large_llq_lines():
    _compare(size=200, n=300, cycles=80, large_llq=True)


def test_frames_beyond_the_llq_header_room():
    # header + buffer descriptor per packet: the device's general LLQ fetch and gather
    r_py, r_jit = _compare(size=1500, n=400, cycles=60)
    assert r_jit.compiled_cycles == 60 and r_jit.rx_csum_good > 0


def test_mixed_sizes_switch_between_the_fast_and_the_general_device_path():
    frames = [udp4_frame(size, 1024 + i)
              for i, size in enumerate([64, 96, 97, 200, 1500, 64, 64, 1000, 60] * 60)]
    buf, offs, lens = _pack(frames)
    py, jit = _pair()
    try:
        r_py = py.run_cycles(buf, offs, lens, 80, compiled=False)
        r_jit = jit.run_cycles(buf, offs, lens, 80)
        assert r_jit.compiled_cycles == 80
        assert (r_py.rx_pkts, r_py.rx_bytes) == (r_jit.rx_pkts, r_jit.rx_bytes)
        assert r_py.last.frames() == r_jit.last.frames()
        _assert_same(_snapshot(py), _snapshot(jit))
    finally:
        py.close()
        jit.close()


def test_falls_back_where_the_loop_does_not_apply():
    # a paced link: the Python path runs every cycle
    r_py, r_jit = _compare(size=64, n=200, cycles=30, link_rate=25e9)
    assert r_jit.compiled_cycles == 0 and "paced" in r_jit.fallback


def test_why_not_names_the_reason():
    be = SoftBackend(queues=2)
    try:
        _, _, lens = _burst(64, 10)
        assert why_not_compiled(be, lens, 1e-4) == "more than one queue pair"
    finally:
        be.close()
    be = SoftBackend(queues=1, link_rate=10e9)
    try:
        assert "paced" in why_not_compiled(be, lens, 1e-4)
        be.devices[0].wire.rate_bps = None
        be.devices[1].wire.rate_bps = None
        assert why_not_compiled(be, lens, 1e-4) is None
        be.drivers[1].set_moderation_mode(0, "adaptive2016")
        assert "adaptive2016" in why_not_compiled(be, lens, 1e-4)
    finally:
        be.close()


@pytest.mark.nojit
def test_small_run_equals_python_also_without_the_jit():
    r_py, r_jit = _compare(n=24, cycles=6)
    assert r_jit.compiled_cycles == 6 and r_jit.rx_pkts == 6 * 24


def test_a_ring_error_resets_like_the_python_path(monkeypatch):
    # the receiver's driver forgets which Rx buffers it posted: its next Rx clean meets
    # req_ids not in use -> INV_RX_REQ_ID, the reset at the next 1 Hz tick and recovery. The
    # compiled loop stops at that poll and the Python path finishes the cycle.
    from enatool.backends import soft_cycles

    seen = []
    real = soft_cycles.napi_reset_reason
    monkeypatch.setattr(soft_cycles, "napi_reset_reason",
                        lambda kind, err: seen.append(kind) or real(kind, err))
    buf, offs, lens = _burst(64, 300)
    py, jit = _pair()
    try:
        for be in (py, jit):
            be.run_cycles(buf, offs, lens, 20, compiled=False)
            be.drivers[1].napi[0].rx.in_use[:] = 0
        r_py = py.run_cycles(buf, offs, lens, 12000, compiled=False)
        r_jit = jit.run_cycles(buf, offs, lens, 12000)
        assert seen == [2]  # the compiled loop met it (NAPI_RX_ERR), once
        assert r_jit.compiled_cycles > 0  # and ran again after the recovery
        for f in ("cycles", "sent", "rx_pkts", "rx_csum_good", "rx_bytes"):
            assert getattr(r_py, f) == getattr(r_jit, f), f
        _assert_same(_snapshot(py), _snapshot(jit))  # (stats() asks the device: both)
        drv = jit.drivers[1].counters
        assert drv.last_reset_reason == int(ResetReason.INV_RX_REQ_ID)
        assert drv.last_reset_reason == py.drivers[1].counters.last_reset_reason
    finally:
        py.close()
        jit.close()


def test_a_burst_the_compiled_device_hands_back_is_finished_in_python(monkeypatch):
    # the device's wire buffer too small for the burst (the guard normally prevents it):
    # tx_build_frames reports it full, the loop stops before committing anything and the
    # Python device takes the burst, growing its buffer
    from enatool.backends import soft_cycles

    buf, offs, lens = _burst(1500, 300)
    py, jit = _pair()
    try:
        monkeypatch.setattr(soft_cycles, "why_not_compiled", lambda *a: None)
        for be in (py, jit):
            eng = be.devices[0].datapath.tx
            eng.out_buf = np.zeros(64 * 1024, np.uint8)
        r_py = py.run_cycles(buf, offs, lens, 10, compiled=False)
        r_jit = jit.run_cycles(buf, offs, lens, 10)
        assert r_jit.rx_pkts == r_py.rx_pkts > 0
        assert jit.devices[0].datapath.tx.out_buf.size > 64 * 1024  # grown by Python
        assert r_py.last.frames() == r_jit.last.frames()
        _assert_same(_snapshot(py), _snapshot(jit))
    finally:
        py.close()
        jit.close()


def test_a_device_error_fails_the_queue_like_the_python_path(monkeypatch):
    # a posted Rx descriptor with the wrong phase: the receiving device stops the queue and
    # declares a fatal error in the middle of a compiled cycle; Python finishes the cycle
    import sys

    from enatool.device.rx import RxEngine
    from numba_kernels.descriptors import CTRL_PHASE

    callers = []
    real = RxEngine.deliver_failed
    monkeypatch.setattr(RxEngine, "deliver_failed", lambda self, sq, err: (
        callers.append(sys._getframe(1).f_code.co_name), real(self, sq, err))[1])
    buf, offs, lens = _burst(64, 300)
    py, jit = _pair()
    try:
        for be in (py, jit):
            be.run_cycles(buf, offs, lens, 20, compiled=False)
            rx = be.drivers[1].napi[0].rx
            sq = next(iter(be.devices[1].io.rx_sqs.values()))
            rx.sq_ring[(sq.head + 100) & (rx.depth - 1), 0] ^= CTRL_PHASE
        r_py = py.run_cycles(buf, offs, lens, 50, compiled=False)
        r_jit = jit.run_cycles(buf, offs, lens, 50)
        assert jit.devices[1].fatal and jit.devices[1].datapath.errors
        assert callers == ["receive", "run_cycles"]  # Python's pair, then the compiled one
        for f in ("cycles", "sent", "rx_pkts", "rx_csum_good", "rx_bytes"):
            assert getattr(r_py, f) == getattr(r_jit, f), f
        _assert_same(_snapshot(py), _snapshot(jit))
        assert py.devices[1].datapath.errors == jit.devices[1].datapath.errors
    finally:
        py.close()
        jit.close()
