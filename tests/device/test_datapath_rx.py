"""Rx datapath of SoftEnaDevice: RSS steering, buffer scatter, cdesc bits, drops."""

from __future__ import annotations

import numpy as np
import pytest

from enatool.driver.policy.rss import FlowHashProto, RssConfig, RssFunction
from enatool.ena.admin import (
    ENA_ADMIN_AENQ_KEEP_ALIVE_DESC,
    ENA_ADMIN_BASIC_STATS,
    ENA_ADMIN_FEATURE_AENQ_DESC,
    ENA_ADMIN_FEATURE_RSS_FLOW_HASH_FUNCTION,
    ENA_ADMIN_FEATURE_RSS_IND_TABLE,
    ENA_ADMIN_HOST_INFO,
    ENA_ADMIN_RSS_IND_TABLE_NO_INLINE_INDEX,
    ENA_ADMIN_SET_FEATURE_HOST_ATTR_DESC,
    AenqGroup,
    DriverSupportedFeatures,
    FeatureId,
    GetStatsType,
    rss_ind_table_pack,
    rss_key_buffer_pack,
)
from enatool.ena.bits import pack, unpack
from tests.naive import naive_datapath as naive

from .conftest import payload
from .dp_helpers import RxQueue, ipv4_tcp, udp_frame

KEY = bytes.fromhex(
    "77d1c934a4c9bd876e35dd17b2e3239e396d8a932a95b4723ab37f568edeb60197af3b2f3a70e704")


def set_rss(drv, func=RssFunction.TOEPLITZ, key=KEY, init=0xFFFFFFFF, table=None):
    dev = drv.dev
    buf = dev.dma.alloc(48)
    dev.dma.write(buf, rss_key_buffer_pack(key))
    c = drv.set_feature(FeatureId.RSS_HASH_FUNCTION,
                        pack(ENA_ADMIN_FEATURE_RSS_FLOW_HASH_FUNCTION, selected_func=1 << func,
                             init_val=init), ctrl=(buf, 48))
    assert c["status"] == 0
    if table is not None:
        tb = dev.dma.alloc(4 * len(table))
        dev.dma.write(tb, rss_ind_table_pack(table))
        c = drv.set_feature(FeatureId.RSS_INDIRECTION_TABLE_CONFIG,
                            pack(ENA_ADMIN_FEATURE_RSS_IND_TABLE, size=7,
                                 inline_index=ENA_ADMIN_RSS_IND_TABLE_NO_INLINE_INDEX),
                            ctrl=(tb, 4 * len(table)))
        assert c["status"] == 0, c


def flows(n, seed=3):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        a = rng.integers(1, 255, 8)
        yield (".".join(map(str, a[:4])), ".".join(map(str, a[4:])),
               int(rng.integers(1, 65535)), int(rng.integers(1, 65535)))


@pytest.mark.parametrize("func", [RssFunction.TOEPLITZ, RssFunction.CRC32])
@pytest.mark.parametrize("proto", [6, 17])
def test_rss_steers_like_the_policy_predicts(drv, func, proto):
    dev = drv.dev
    nq = 4
    rxs = [RxQueue(drv, 64, vector=1 + i) for i in range(nq)]
    for q in rxs:
        q.post(64)
    table = [i % nq for i in range(128)]
    set_rss(drv, func=func, table=table)
    cfg = RssConfig(function=func, key=KEY, table=table)
    fp = FlowHashProto.TCP4 if proto == 6 else FlowHashProto.UDP4
    expect = {i: [] for i in range(nq)}
    for src, dst, sp, dp in flows(40):
        f = udp_frame(src=src, dst=dst, sport=sp, dport=dp, proto=proto)
        h = cfg.hash_tuple(src, dst, sp, dp, fp)
        expect[cfg.queue_for(h)].append((f, h))
        dev.wire.inject(f)
    dev.process()
    for i, q in enumerate(rxs):
        got = q.packets()
        assert [g[0] for g in got] == [e[0] for e in expect[i]]
        assert [g[1]["hash"] for g in got] == [e[1] for e in expect[i]]
        assert all(g[1]["sub_qid"] == q.sq_idx for g in got)
    assert dev.stats.rx_pkts == 40 and dev.stats.rx_drops == 0


def test_rss_symmetric_and_table_entries_are_rx_sq_indices(drv):
    dev = drv.dev
    rxs = [RxQueue(drv, 16, vector=1 + i) for i in range(2)]
    for q in rxs:
        q.post(16)
    set_rss(drv, table=[1] * 128)  # everything to Rx SQ 1
    dev.wire.inject(udp_frame(src="1.2.3.4", dst="1.2.3.5", sport=7000, dport=7000))
    dev.wire.inject(udp_frame(src="1.2.3.5", dst="1.2.3.4", sport=7000, dport=7000))
    dev.process()
    assert rxs[0].packets() == []
    got = rxs[1].packets()
    assert len(got) == 2 and got[0][1]["hash"] == got[1][1]["hash"]  # L3/L4 sort


def test_fixed_key_mode_vectors(drv):
    """§8 fixed-key instance vectors: 16-bit replicated, symmetric."""
    dev = drv.dev
    dev.rss_fixed_key = True
    rx = RxQueue(drv, 16)
    rx.post(16)
    set_rss(drv, table=[0] * 128)
    for src, dst, h in (("10.100.0.40", "10.100.0.36", 0x0A7B0A7B),
                        ("10.100.0.36", "10.100.0.40", 0x0A7B0A7B),
                        ("10.100.0.42", "10.100.0.41", 0x10F110F1)):
        dev.wire.inject(udp_frame(src=src, dst=dst, sport=0, dport=0))
        dev.process()
        ((_, c),) = rx.packets()
        assert c["hash"] == h
        assert RssConfig.fixed_key(1).hash_tuple(src, dst, 0, 0, FlowHashProto.UDP4) == h


def test_multi_buffer_frame_first_last_lengths(drv):
    dev = drv.dev
    rx = RxQueue(drv, 16, buf_size=512)
    rx.post(16)
    set_rss(drv, table=[0] * 128)
    big = ipv4_tcp(payload=bytes(range(256)) * 5 + b"end")  # 54 + 1283 = 1337 bytes
    small = udp_frame()
    dev.wire.inject(big)
    dev.wire.inject(small)
    dev.process()
    cds = rx.cdescs()
    assert [(c["first"], c["last"], c["len"]) for c in cds] == [
        (1, 0, 512), (0, 0, 512), (0, 1, 313), (1, 1, len(small))]
    assert [c["req_id"] for c in cds] == [0, 1, 2, 3]
    # parse results only in the last cdesc of a packet
    assert cds[0]["l3"] == 0 and cds[2]["l3"] == 8 and cds[2]["l4"] == 12
    data = b"".join(dev.dma.read(rx.addr(c["req_id"]), c["len"]) for c in cds[:3])
    assert data == big
    assert all(c["mbz"] == 0 and c["offset"] == 0 for c in cds)


def test_too_many_buffers_dropped(drv):
    dev = drv.dev
    rx = RxQueue(drv, 64, buf_size=64)
    rx.post(64)
    set_rss(drv, table=[0] * 128)
    dev.wire.inject(udp_frame(payload=bytes(64 * 19)))  # > 19 buffers
    dev.process()
    assert rx.cdescs() == [] and dev.stats.rx_drops == 1


def test_checksum_result_bits(drv):
    dev = drv.dev
    rx = RxQueue(drv, 32)
    rx.post(32)
    set_rss(drv, table=[0] * 128)
    good_tcp = ipv4_tcp(payload=b"hello world")
    bad_l4 = bytearray(good_tcp)
    bad_l4[-1] ^= 0xFF
    bad_l3 = bytearray(good_tcp)
    bad_l3[24] ^= 0x01  # IPv4 header checksum
    frag = naive.build_frame(proto=17, payload=b"frag", frag=0x2000)
    v6 = naive.build_frame(ipv6=True, proto=17, payload=b"six")
    bad_v6 = bytearray(v6)
    bad_v6[-1] ^= 1
    for f in (good_tcp, bytes(bad_l4), bytes(bad_l3), frag, v6, bytes(bad_v6)):
        dev.wire.inject(f)
    dev.process()
    got = [c for _, c in rx.packets()]
    bits = [(c["l3"], c["l4"], c["l3_err"], c["l4_err"], c["checked"], c["frag"]) for c in got]
    assert bits == [
        (8, 12, 0, 0, 1, 0),
        (8, 12, 0, 1, 1, 0),
        (8, 12, 1, 0, 1, 0),
        (8, 13, 0, 0, 0, 1),
        (11, 13, 0, 0, 1, 0),
        (11, 13, 0, 1, 1, 0),
    ]


def _enable_keep_alive(drv):
    c = drv.set_feature(FeatureId.AENQ_CONFIG, pack(ENA_ADMIN_FEATURE_AENQ_DESC,
                                                    enabled_groups=1 << AenqGroup.KEEP_ALIVE))
    assert c["status"] == 0


def test_no_buffer_drops_and_overruns_in_stats_and_keep_alive(drv):
    dev = drv.dev
    rx = RxQueue(drv, 16, buf_size=512)
    set_rss(drv, table=[0] * 128)
    _enable_keep_alive(drv)
    for _ in range(3):
        dev.wire.inject(udp_frame())  # nothing posted
    dev.process()
    assert dev.stats.rx_drops == 3 and dev.stats.rx_overruns == 0
    rx.post(1)
    dev.wire.inject(ipv4_tcp(payload=bytes(1000)))  # needs 2 buffers, only 1 posted
    dev.process()
    assert dev.stats.rx_drops == 4 and dev.stats.rx_overruns == 1
    dev.wire.inject(udp_frame())  # the untouched buffer still takes a small frame
    dev.process()
    assert len(rx.packets()) == 1
    st = payload(drv.get_stats(GetStatsType.BASIC), ENA_ADMIN_BASIC_STATS)
    assert st["rx_drops"] == 4 and st["rx_pkts"] == 1 and st["rx_overruns"] == 1
    dev.advance(1.0)
    ev = [e for e in drv.events() if e["group"] == AenqGroup.KEEP_ALIVE]
    ka = unpack(ENA_ADMIN_AENQ_KEEP_ALIVE_DESC, ev[-1]["raw"])
    assert ka["rx_drops_low"] == 4 and ka["rx_overruns_low"] == 1
    q = dev.datapath.queue_stats()
    assert q[f"queue_{rx.sq_idx}_rx_drops"] == 4 and q[f"queue_{rx.sq_idx}_rx_pkts"] == 1


def test_rx_offset_only_when_host_advertises_it(drv):
    dev = drv.dev
    dev.rx_offset = 16
    rx = RxQueue(drv, 16, buf_size=256)
    rx.post(16)
    set_rss(drv, table=[0] * 128)
    f = udp_frame(payload=bytes(range(200)))
    dev.wire.inject(f)
    dev.process()
    ((data, c),) = rx.packets()
    assert c["offset"] == 0 and data == f
    page = dev.dma.alloc(4096)
    info = np.zeros(1, ENA_ADMIN_HOST_INFO)
    info["driver_supported_features"] = DriverSupportedFeatures.RX_OFFSET
    dev.dma.write(page, info.tobytes())
    assert drv.set_feature(FeatureId.HOST_ATTR_CONFIG, pack(
        ENA_ADMIN_SET_FEATURE_HOST_ATTR_DESC, os_info_ba=page))["status"] == 0
    dev.wire.inject(f)
    dev.process()
    cds = rx.cdescs()
    assert [(c["first"], c["last"], c["offset"] if c["first"] else 0, c["len"]) for c in cds] \
        == [(1, 0, 16, 240), (0, 1, 0, len(f) - 240)]
    data = dev.dma.read(rx.addr(cds[0]["req_id"]) + 16, 240) + dev.dma.read(
        rx.addr(cds[1]["req_id"]), len(f) - 240)
    assert data == f


def test_link_down_drops(drv):
    dev = drv.dev
    rx = RxQueue(drv, 16)
    rx.post(16)
    set_rss(drv, table=[0] * 128)
    dev.set_link(False)
    dev.wire.inject(udp_frame())
    dev.process()
    assert rx.packets() == [] and dev.stats.rx_drops == 1


def test_rss_ipv6_and_non_ip_hash_like_the_policy(drv):
    import ipaddress

    dev = drv.dev
    rx = RxQueue(drv, 16)
    rx.post(16)
    set_rss(drv, table=[0] * 128)
    cfg = RssConfig(key=KEY, table=[0] * 128)
    v6 = naive.build_frame(ipv6=True, proto=6, payload=b"six", sport=4000, dport=22)
    src = ipaddress.IPv6Address(bytes(range(1, 17)))
    dst = ipaddress.IPv6Address(bytes(range(17, 33)))
    arp = bytes.fromhex("ffffffffffff" "020000000009" "0806") + bytes(46)
    dev.wire.inject(v6)
    dev.wire.inject(arp)
    dev.process()
    (_, c6), (_, c2) = rx.packets()
    assert c6["hash"] == cfg.hash_tuple(str(src), str(dst), 4000, 22, FlowHashProto.TCP6)
    assert c6["l3"] == 11 and c6["l4"] == 12
    assert c2["hash"] == cfg.hash_tuple(arp[6:12], arp[0:6], proto=FlowHashProto.NOT_IP)
    assert c2["l3"] == 0 and c2["l4"] == 0
