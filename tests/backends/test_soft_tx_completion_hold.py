"""faults.tx_completion_hold on the soft pair: packets leave, completions are withheld, the
driver's 1 Hz missing-Tx-completion check (5 s per packet, threshold 128, §7.6) resets with
MISS_TX_CMPL (3) and recovers without leaking req_ids or DMA memory; below the threshold it
only counts. Virtual time only (no timed assertions)."""

from __future__ import annotations

import struct

import pytest

from enatool.backends.soft import SoftBackend
from enatool.ena.regs import ResetReason


def _frames(n: int, size: int = 100) -> list[bytes]:
    out = []
    for i in range(n):
        payload = bytes([i & 0xFF]) * (size - 42)
        udp = struct.pack("!HHHH", 1000 + i, 2000, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0,
                         bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
        out.append(b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + udp)
    return out


def _tx_ring(be):
    return be.drivers[0].napi[0].tx


def _drain(be) -> list[bytes]:
    got = []
    while True:
        batch = be.rx_burst(0, end=1)
        if not batch:
            return got
        got += batch


@pytest.fixture
def be():
    with SoftBackend(queues=1, step=0.01) as b:
        yield b


def test_held_completions_reset_with_miss_tx_cmpl_and_recover(be):
    dev, drv = be.devices[0], be.drivers[0]
    steady = [d.dma.live_allocations for d in be.devices]
    dev.faults.tx_completion_hold = True
    frames = _frames(200)
    assert be.tx_burst(0, frames) == 200
    be.advance(0.05)
    assert len(_drain(be)) == 200  # sent on the wire …
    assert _tx_ring(be).outstanding == 200  # … but never completed
    be.advance(4.0)
    assert drv.counters.total_resets == 0  # not yet 5 s old
    be.advance(3.0)
    c = drv.counters
    assert c.missing_tx_cmpl == 1 and c.last_reset_reason == int(ResetReason.MISS_TX_CMPL)
    assert c.total_resets == 1
    assert be.drivers[1].counters.total_resets == 0
    dev.faults.tx_completion_hold = False
    # recovered: queues rebuilt, nothing outstanding, traffic flows and is completed again
    tx = _tx_ring(be)
    assert tx.outstanding == 0 and not tx.in_use.any()
    assert be.tx_burst(0, _frames(50)) == 50
    be.advance(0.05)
    assert len(_drain(be)) == 50
    assert _tx_ring(be).outstanding == 0
    assert be.stats(end=0)["queue_0_tx_completed"] == 50
    assert [d.dma.live_allocations for d in be.devices] == steady
    be.advance(8.0)
    assert drv.counters.total_resets == 1


def test_below_threshold_only_counts_and_release_completes_everything(be):
    dev, drv = be.devices[0], be.drivers[0]
    steady = [d.dma.live_allocations for d in be.devices]
    dev.faults.tx_completion_hold = True
    assert be.tx_burst(0, _frames(100)) == 100  # 100 ≤ 128: late, but no reset
    be.advance(7.0)
    tx = _tx_ring(be)
    assert drv.counters.total_resets == 0 and drv.counters.missing_tx_cmpl == 0
    assert tx.stats.missed_tx >= 100 and tx.outstanding == 100
    dev.faults.tx_completion_hold = False
    be.advance(0.05)
    assert tx.outstanding == 0 and not tx.in_use.any()
    assert sorted(tx.free_ids.tolist()) == list(range(tx.depth))
    assert len(_drain(be)) == 100
    assert [d.dma.live_allocations for d in be.devices] == steady
    be.advance(6.0)
    assert drv.counters.total_resets == 0
