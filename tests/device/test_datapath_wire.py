"""connect(a, b, rate, delay): frames sent by one device reach the other at the right time."""

from __future__ import annotations

import pytest

from enatool.device import SoftEnaDevice, connect
from enatool.device.wire import WIRE_OVERHEAD_BYTES

from .conftest import MiniDriver
from .dp_helpers import RxQueue, TxQueue, udp_frame
from .test_datapath_rx import set_rss


@pytest.fixture
def two():
    a, b = SoftEnaDevice(seed=1), SoftEnaDevice(seed=2)
    da, db = MiniDriver(a).bring_up(), MiniDriver(b).bring_up()
    yield da, db
    assert a.stats.internal_errors == 0, a.internal_errors
    assert b.stats.internal_errors == 0, b.internal_errors


def setup(da, db, n=64):
    tx = TxQueue(da, n)
    rx = RxQueue(db, n)
    rx.post(n)
    set_rss(db, table=[rx.sq_idx] * 128)
    return tx, rx


def test_back_to_back_with_rate_and_delay(two):
    da, db = two
    a, b = da.dev, db.dev
    tx, rx = setup(da, db)
    rate, delay = 1e9, 2e-6
    connect(a, b, rate_bps=rate, delay=delay)
    frames = [udp_frame(sport=i, payload=bytes(958)) for i in range(3)]  # 1000-byte frames
    for i, f in enumerate(frames):
        tx.post([f], i)
    tx.doorbell()
    a.process()
    assert [c[0] for c in tx.completions()] == [0, 1, 2]
    assert a.wire.take() == []  # went to the peer, not to the capture list
    per = (1000 + WIRE_OVERHEAD_BYTES) * 8  # ns at 1 Gb/s
    arrivals = [per * (k + 1) + 2000 for k in range(3)]
    b.advance((arrivals[0] - 1) / 1e9)
    assert rx.packets() == []
    b.advance(1e-9)
    assert [p[0] for p in rx.packets()] == frames[:1]
    b.advance((arrivals[2] - arrivals[0] - 1) / 1e9)
    assert [p[0] for p in rx.packets()] == frames[1:2]
    b.advance(1e-9)
    assert [p[0] for p in rx.packets()] == frames[2:]
    assert b.stats.rx_pkts == 3 and a.stats.tx_pkts == 3


def test_no_rate_arrives_after_delay_and_both_directions(two):
    da, db = two
    a, b = da.dev, db.dev
    tx, rx = setup(da, db)
    tx_b, rx_a = setup(db, da)
    connect(a, b, delay=5e-6)
    f = udp_frame(payload=b"ping")
    tx.post([f], 0)
    tx.doorbell()
    a.process()
    b.advance(4.999e-6)
    assert rx.packets() == []
    b.advance(1e-9)
    assert len(f) < 60 and [p[0] for p in rx.packets()] == [f + bytes(60 - len(f))]
    g = udp_frame(payload=b"pong" * 20)
    tx_b.post([g], 0)
    tx_b.doorbell()
    b.process()
    a.advance(b.now - a.now + 5e-6)
    assert [p[0] for p in rx_a.packets()] == [g]


def test_unconnected_capture_and_inject(two):
    da, _db = two
    a = da.dev
    tx = TxQueue(da, 16)
    tx.post([udp_frame()], 0)
    tx.doorbell()
    a.process()
    assert a.wire.take() == [udp_frame()]
    with pytest.raises(ValueError):
        connect(a, _db.dev, rate_bps=0)
