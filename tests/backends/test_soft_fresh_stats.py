"""Backend stats carry the device's drop counters fresh (GET_STATS BASIC on demand), not only
the copy of the last keep-alive."""

from __future__ import annotations

from naive.naive_soft_path import udp4_frame

from enatool.backends.soft import SoftBackend


def test_rx_drops_for_lack_of_buffers_appear_immediately():
    with SoftBackend(queues=1) as be:
        be.advance(1.5)  # a keep-alive has come and gone: its copy says 0 drops
        assert be.stats(end=1)["rx_drops"] == 0
        rx_depth = be.drivers[1].napi[0].rx.depth
        # more frames than end 1 has Rx buffers arrive from the network at once, before its
        # NAPI can refill
        frames = [udp4_frame(64, 100 + i) for i in range(2 * rx_depth)]
        sent = len(frames)
        dev_b = be.devices[1]
        dev_b.wire.inject_many(frames)
        dev_b.process()
        assert dev_b.stats.rx_drops > 0  # the device dropped some
        st = be.stats(end=1)
        kept_alive = be.drivers[1].counters.rx_drops  # last keep-alive copy: still stale
        assert kept_alive == 0
        assert st["rx_drops"] == dev_b.stats.rx_drops  # fresh, through the admin queue
        assert st["dev_rx_pkts"] == dev_b.stats.rx_pkts
        assert st["dev_rx_pkts"] + st["rx_drops"] == sent


def test_stats_do_not_move_the_clock():
    with SoftBackend(queues=1) as be:
        t = be.now()
        be.stats(end=0)
        be.stats(end=1)
        assert be.now() == t
