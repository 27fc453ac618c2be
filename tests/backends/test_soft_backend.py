"""SoftBackend: two software ENA devices on a cable, each under its own EnaDriver."""

from __future__ import annotations

import ipaddress
import struct

import numpy as np
import pytest

from enatool.backends.base import Backend
from enatool.backends.soft import SoftBackend
from enatool.driver.policy.rss import FlowHashProto, RssConfig


def _udp4(src="10.0.0.1", dst="10.0.0.2", sport=1000, dport=2000, payload=b"p" * 58) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed)
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip + udp


def _frames(n, size=200, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        f = bytearray(_udp4(sport=1000 + i, payload=bytes(max(0, size - 42))))
        f[42:] = rng.integers(0, 256, len(f) - 42, dtype=np.uint8).tobytes()
        out.append(bytes(f))
    return out


def _leak_free(be):
    return [d.dma.live_allocations for d in be.devices]


def test_is_a_backend_and_closes_idempotently():
    be = SoftBackend(queues=2)
    assert isinstance(be, Backend)
    assert be.num_queues == 2 and be.num_ends == 2
    be.close()
    be.close()
    assert all(d.dma.live_allocations == 0 for d in be.devices)


def test_coalesce_and_rss_round_trip():
    with SoftBackend(queues=4) as be:
        be.set_coalesce(end=1, tx_usecs=100, rx_usecs=30, adaptive_rx=False)
        assert be.get_coalesce(end=1) == dict(tx_usecs=100, rx_usecs=30, adaptive_rx=False)
        rss = be.get_rss()
        assert rss["function"] == "toeplitz" and len(rss["key"]) == 40
        assert rss["table"][:5] == [0, 1, 2, 3, 0]
        table = [3] * len(rss["table"])
        be.set_rss(end=0, table=table, key=bytes(range(40)))
        got = be.get_rss()
        assert got["table"] == table and got["key"] == bytes(range(40))
        with pytest.raises(ValueError):
            be.set_rss(table=[9] * len(table))


@pytest.mark.parametrize("llq", [True, False])
def test_frames_sent_on_a_arrive_byte_identical_on_b(llq):
    with SoftBackend(queues=1, llq=llq, mtu=9000) as be:
        steady = _leak_free(be)
        frames = _frames(50, 300) + _frames(3, 9000, seed=1)
        frames.append([_udp4(payload=b"a" * 100), b"b" * 700, b"c" * 50])  # 3 segments
        assert be.tx_burst(0, frames) == len(frames)
        be.advance(0.005)
        got = be.rx_burst(0, end=1)
        want = [b"".join(f) if isinstance(f, list) else f for f in frames]
        # the device pads to 60; all frames here are longer
        assert got == want
        st = be.stats(end=0)
        assert st["queue_0_tx_cnt"] == len(frames) and st["queue_0_tx_completed"] == len(frames)
        assert be.drivers[0].napi[0].tx.outstanding == 0
        rx = be.stats(end=1)
        assert rx["queue_0_rx_cnt"] == len(frames)
        assert rx["queue_0_tx_interrupts"] >= 1
        assert _leak_free(be) == steady


KEY = bytes.fromhex("77d1c934a4c9bd876e35dd17b2e3239e396d8a932a95b4723ab37f568edeb601"
                    "97af3b2f3a70e704")


def test_rss_sends_a_flow_where_rss_config_predicts():
    with SoftBackend(queues=4) as be:
        be.set_rss(end=1, key=KEY)  # a fixed key: the result does not depend on luck
        rss = be.get_rss(end=1)
        assert rss["key"] == KEY
        cfg = RssConfig.linux_default(rss["key"], 4, len(rss["table"]))
        cfg.set_table(rss["table"])
        hits = {}
        for i in range(24):
            src, sport = f"10.1.{i}.{7 * i % 250 + 1}", 2000 + 37 * i
            f = _udp4(src=src, dst="10.2.0.2", sport=sport, dport=53)
            be.tx_burst(0, [f])
            be.advance(0.002)
            q = [k for k in range(4) if be.rx_burst(k, end=1)]
            assert len(q) == 1
            want = cfg.queue_for_tuple(src, "10.2.0.2", sport, 53, proto=FlowHashProto.UDP4)
            hits[(src, sport)] = (q[0], want)
        assert all(a == b for a, b in hits.values()), hits
        assert len({a for a, _ in hits.values()}) > 1


def test_copybreak_on_off_counts():
    with SoftBackend(queues=1) as be:
        be.tx_burst(0, _frames(10, 100))
        be.advance(0.002)
        assert be.stats(end=1)["queue_0_rx_rx_copybreak_pkt"] == 10
        be.drivers[1].set_copybreak(0)
        be.tx_burst(0, _frames(10, 100))
        be.advance(0.002)
        assert be.stats(end=1)["queue_0_rx_rx_copybreak_pkt"] == 10
        assert len(be.rx_burst(0, end=1)) == 20


def test_out_of_order_tx_completions_are_handled():
    with SoftBackend(queues=1) as be:
        dev = be.devices[0]
        if not hasattr(dev, "tx_completion_order"):
            pytest.fail("device has no tx_completion_order option")
        dev.tx_completion_order = "reverse"
        frames = _frames(40, 128)
        for _ in range(3):
            assert be.tx_burst(0, frames) == 40
            be.advance(0.003)
        assert be.drivers[0].napi[0].tx.outstanding == 0
        assert be.stats()["queue_0_tx_bad_req_id"] == 0
        assert len(be.rx_burst(0, end=1)) == 120


def test_link_rate_and_delay_pace_delivery():
    with SoftBackend(queues=1, link_rate=1e9, delay=0.001, step=1e-4) as be:
        be.tx_burst(0, _frames(10, 1000))
        be.advance(0.0005)
        assert be.rx_burst(0, end=1) == []
        be.advance(0.002)
        assert len(be.rx_burst(0, end=1)) == 10
