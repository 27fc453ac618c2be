"""net DIM through the soft pair: a scripted rate pattern (bursts every 200 µs of virtual
time, growing, then dropping, then back up) moves the receiving queue's DIM profile as
net_dim dictates: steps right toward longer intervals while each window is better, turns back
when the rate drops and parks on top after the turn-back; the same samples fed to a fresh
``NetDim`` give the identical trajectory, and the unmask writes carry its usecs."""

from __future__ import annotations

import struct

from enatool.backends.soft import SoftBackend
from enatool.driver.policy.dim import (
    DIM_GOING_LEFT,
    DIM_GOING_RIGHT,
    DIM_PARKING_ON_TOP,
    NetDim,
)

PATTERN = [1, 2, 3, 1, 1, 3, 3]  # frames per burst, one phase of 100 bursts each
PERIOD = 2e-4


def _frames(n: int, size: int = 400) -> list[bytes]:
    out = []
    for i in range(n):
        payload = bytes(size - 42)
        udp = struct.pack("!HHHH", 1000 + i, 2000, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0,
                         bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
        out.append(b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + udp)
    return out


def _run():
    """(samples fed to DIM, (profile, tune state) after each, phase index of each)."""
    with SoftBackend(queues=1, step=1e-4) as be:
        drv = be.drivers[1]
        drv.set_moderation_mode(0, "dim")
        mod = drv.napi[0].mod
        dim = mod.dim
        samples, traj, phases, intervals = [], [], [], []
        feed = dim.on_napi_complete
        phase = [0]

        def spy(now_ns, napi_pkts, rx_cnt, rx_bytes):
            samples.append((now_ns, napi_pkts, rx_cnt, rx_bytes))
            r = feed(now_ns, napi_pkts, rx_cnt, rx_bytes)
            traj.append((dim.profile_ix, dim.tune_state))
            phases.append(phase[0])
            return r

        dim.on_napi_complete = spy
        received = 0
        for k, burst in enumerate(PATTERN):
            phase[0] = k
            for _ in range(100):
                be.tx_burst(0, _frames(burst))
                be.advance(PERIOD)
                received += len(be.rx_burst(0, end=1))
                intervals.append((mod.rx_interval, dim.profile_usec))
        be.advance(0.01)
        received += len(be.rx_burst(0, end=1))
        assert received == 100 * sum(PATTERN)
        return samples, traj, phases, intervals


def test_dim_profile_follows_net_dim_through_the_soft_pair():
    samples, traj, phases, intervals = _run()
    # replay: a fresh NetDim fed the same samples walks the same way
    ref = NetDim()
    want = []
    for s in samples:
        ref.on_napi_complete(*s)
        want.append((ref.profile_ix, ref.tune_state))
    assert traj == want
    assert ref.decisions >= 6
    # the queue's Rx interval (next unmask write) is the applied profile's usec
    assert all(a == b for a, b in intervals)
    # steady growth (phases 0-2): only steps right, from 1 µs up to a long interval
    growth = [t for t, p in zip(traj, phases, strict=True) if p <= 2]
    ix = [t[0] for t in growth]
    assert ix == sorted(ix) and ix[0] == 0 and ix[-1] >= 3
    assert all(s in (DIM_PARKING_ON_TOP, DIM_GOING_RIGHT) for _i, s in growth)
    # the rate drops: DIM turns back (steps left) ...
    turn = next(i for i, t in enumerate(traj) if t[1] == DIM_GOING_LEFT)
    assert phases[turn] >= 3 and traj[turn][0] < ix[-1]
    # ... and after the turn-back it parks on top
    assert any(s == DIM_PARKING_ON_TOP for _i, s in traj[turn:])
