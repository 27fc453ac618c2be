"""Device Tx paced by the link rate (virtual time): the wire never carries more than the
link allows, the driver sees ring-full backpressure, completions follow the wire."""

from __future__ import annotations

import numpy as np
import pytest
from naive.naive_soft_path import udp4_frame

from enatool.backends.soft import SoftBackend
from enatool.device.tx import TX_FIFO_BYTES
from enatool.device.wire import WIRE_OVERHEAD_BYTES


def _pack(frames):
    lens = np.array([len(f) for f in frames], np.int64)
    offs = np.concatenate([[0], np.cumsum(lens[:-1])]).astype(np.int64)
    return np.frombuffer(b"".join(frames), np.uint8).copy(), offs, lens


@pytest.mark.parametrize("llq", [True, False])
@pytest.mark.parametrize("size", [64, 1500])
def test_generator_rate_never_exceeds_link_rate(llq, size):
    rate = 1e9
    burst = _pack([udp4_frame(size, 3000 + i) for i in range(256)])
    with SoftBackend(queues=1, llq=llq, link_rate=rate) as be:
        t0 = be.now()
        offered = accepted = 0
        for _ in range(60):
            offered += 256
            accepted += be.tx_burst_packed(0, *burst)
            be.advance(50e-6)
        elapsed = be.now() - t0
        dev_a = be.devices[0]
        wire_bits = (max(size, 60) + WIRE_OVERHEAD_BYTES) * 8
        fifo_frames = TX_FIFO_BYTES // (max(size, 60) + WIRE_OVERHEAD_BYTES) + 1
        on_wire = dev_a.stats.tx_pkts
        # frames left the device no faster than the link serializes them
        assert on_wire * wire_bits <= rate * elapsed + fifo_frames * wire_bits
        # and the link was kept busy (the driver offered far more)
        assert on_wire * wire_bits >= 0.8 * rate * elapsed
        # backpressure: the driver's ring filled up and it took fewer than offered
        st = be.stats(end=0)
        assert accepted < offered and st["queue_0_tx_queue_stop"] > 0
        # completions only for what went on the wire (plus what is still in the FIFO)
        assert st["queue_0_tx_completed"] <= on_wire
        # the generator's view: accepted frames per virtual second bounded by the link
        ring = be.drivers[0].napi[0].tx.depth
        assert (accepted - ring - fifo_frames) * wire_bits <= rate * elapsed
        # what arrives at the peer is intact
        be.advance(0.001)
        got = be.rx_burst_packed(0, end=1)
        assert len(got) > 0 and set(got.frames()) <= set(
            udp4_frame(size, 3000 + i) for i in range(256))


def test_unpaced_link_unchanged():
    """No rate: the device takes everything the driver rings, as before."""
    burst = _pack([udp4_frame(64, 10 + i) for i in range(300)])
    with SoftBackend(queues=1) as be:
        assert be.tx_burst_packed(0, *burst) == 300
        assert be.devices[0].stats.tx_pkts == 300
