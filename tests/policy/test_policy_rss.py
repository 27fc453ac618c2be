"""RSS policy: the five INTERFACE.md section 8 vectors, conventions, fields, tables, crafting."""

from __future__ import annotations

import ipaddress

import numpy as np
import pytest
from naive import rss as naive

from enatool.driver.policy.rss import (
    DEFAULT_HASH_FIELDS,
    FIXED_KEY,
    FlowHashProto,
    HashField,
    RssConfig,
    RssFunction,
    crc32_hash,
    default_indirection_table,
    effective_key,
    flows_to_queue,
    parse_key,
)
from enatool.errors import UsageError

pytestmark = pytest.mark.nojit

K = parse_key("77:d1:c9:34:a4:c9:bd:87:6e:35:dd:17:b2:e3:23:9e:39:6d:8a:93:"
              "2a:95:b4:72:3a:b3:7f:56:8e:de:b6:01:97:af:3b:2f:3a:70:e7:04")
TABLE128 = list(range(128))


def _cfg(**kw) -> RssConfig:
    kw.setdefault("table", TABLE128)
    return RssConfig(**kw)


# -- the five test vectors ------------------------------------------------------------
def test_vector_standard_toeplitz_dpdk_freebsd():
    c = _cfg(key=K, key_convention="standard", init_value=0)
    h = c.hash_tuple("1.2.3.4", "1.2.3.5", 7000, 7000)
    assert (h, c.queue_for(h)) == (0xA9828BD4, 84)


def test_vector_linux_reversed_key_init0():
    c = _cfg(key=K, key_convention="linux", init_value=0)
    h = c.hash_tuple("1.2.3.4", "1.2.3.5", 7000, 7000)
    assert (h, c.queue_for(h)) == (0xA4A1471A, 26)


def test_vector_linux_reversed_key_init_ffffffff():
    c = _cfg(key=K)  # Linux today: convention linux, init 0xFFFFFFFF
    h = c.hash_tuple("1.2.3.4", "1.2.3.5", 7000, 7000)
    assert (h, c.queue_for(h)) == (0x5B5EB8E5, 101)


@pytest.mark.parametrize("src,dst", [("10.100.0.40", "10.100.0.36"),
                                     ("10.100.0.36", "10.100.0.40")])
def test_vector_fixed_key_symmetric(src, dst):
    c = RssConfig.fixed_key(128)
    h = c.hash_tuple(src, dst, 0, 0)
    assert (h, c.queue_for(h)) == (0x0A7B0A7B, 123)


def test_vector_fixed_key_second():
    c = RssConfig.fixed_key(128)
    h = c.hash_tuple("10.100.0.42", "10.100.0.41", 0, 0)
    assert (h, c.queue_for(h)) == (0x10F110F1, 113)


def test_vectors_through_the_batch_kernel():
    src = np.array([int(ipaddress.ip_address("1.2.3.4"))], np.uint32)
    dst = np.array([int(ipaddress.ip_address("1.2.3.5"))], np.uint32)
    port = np.array([7000], np.uint16)
    for conv, init, want in (("standard", 0, 0xA9828BD4), ("linux", 0, 0xA4A1471A),
                             ("linux", 0xFFFFFFFF, 0x5B5EB8E5)):
        c = _cfg(key=K, key_convention=conv, init_value=init)
        assert c.hash_ipv4_batch(src, dst, port, port)[0] == want
    c = RssConfig.fixed_key(128)
    a = int(ipaddress.ip_address("10.100.0.40"))
    b = int(ipaddress.ip_address("10.100.0.36"))
    h = c.hash_ipv4_batch(np.array([a, b], np.uint32), np.array([b, a], np.uint32))
    assert h.tolist() == [0x0A7B0A7B] * 2
    assert c.queues_for_hashes(h).tolist() == [123, 123]


# -- conventions and building blocks ----------------------------------------------------
def test_effective_key_conventions():
    assert effective_key(K, "linux") == K[::-1]
    assert effective_key(K, "dpdk") == effective_key(K, "standard") == K
    with pytest.raises(UsageError):
        effective_key(K[:39])
    with pytest.raises(UsageError):
        effective_key(K, "windows")
    assert RssConfig.fixed_key(4).effective_key == FIXED_KEY


def test_set_key_refreshes_batch_tables():
    c = _cfg(key=FIXED_KEY, init_value=0)
    src = np.array([int(ipaddress.ip_address("1.2.3.4"))], np.uint32)
    dst = np.array([int(ipaddress.ip_address("1.2.3.5"))], np.uint32)
    port = np.array([7000], np.uint16)
    c.hash_ipv4_batch(src, dst, port, port)
    c.set_key(K, "standard")
    assert c.hash_ipv4_batch(src, dst, port, port)[0] == 0xA9828BD4
    with pytest.raises(UsageError):
        c.set_key(K[:8])


def test_scalar_toeplitz_equals_naive():
    rng = np.random.default_rng(7)
    for _ in range(20):
        key = bytes(rng.integers(0, 256, 40, dtype=np.uint8))
        data = bytes(rng.integers(0, 256, int(rng.integers(0, 37)), dtype=np.uint8))
        c = _cfg(key=key, key_convention="standard", init_value=0x0BADF00D)
        assert c.hash_bytes(data) == naive.toeplitz(key, data, 0x0BADF00D)


def test_crc32_function():
    assert crc32_hash(b"123456789") == 0xE3069283  # CRC-32C check value
    c = _cfg(function=RssFunction.CRC32, key=K)
    data = c.hash_input("1.2.3.4", "1.2.3.5", 7000, 7000)
    assert c.hash_bytes(data) == naive.crc32c(data)
    assert c.hash_rows(np.frombuffer(data, np.uint8).reshape(1, -1))[0] == naive.crc32c(data)


def test_default_hash_fields_today():
    l3l4 = HashField.L3_SA | HashField.L3_DA | HashField.L4_SP | HashField.L4_DP
    for p in (FlowHashProto.TCP4, FlowHashProto.UDP4, FlowHashProto.TCP6, FlowHashProto.UDP6):
        assert DEFAULT_HASH_FIELDS[p] == l3l4
    for p in (FlowHashProto.IP4, FlowHashProto.IP6, FlowHashProto.IP4_FRAG):
        assert DEFAULT_HASH_FIELDS[p] == HashField.L3_SA | HashField.L3_DA
    assert DEFAULT_HASH_FIELDS[FlowHashProto.NOT_IP] == HashField.L2_SA | HashField.L2_DA
    assert int(HashField.L4_SP) == 32 and int(FlowHashProto.IP6_EX) == 9


def test_input_bytes_order_and_selection():
    c = _cfg(key=K, sort_l3=False, sort_l4=False)
    assert c.hash_input("1.2.3.5", "1.2.3.4", 7001, 7000) == bytes(
        [1, 2, 3, 5, 1, 2, 3, 4, 0x1B, 0x59, 0x1B, 0x58])
    assert c.hash_input("1.2.3.5", "1.2.3.4", 7001, 7000, FlowHashProto.IP4) == bytes(
        [1, 2, 3, 5, 1, 2, 3, 4])
    v6 = c.hash_input("2001:db8::1", "2001:db8::2", 1, 2, FlowHashProto.TCP6)
    assert len(v6) == 36 and v6[:16] == ipaddress.ip_address("2001:db8::1").packed
    mac = c.hash_input(b"\x02" * 6, b"\x04" * 6, proto=FlowHashProto.NOT_IP)
    assert mac == b"\x02" * 6 + b"\x04" * 6
    c.hash_fields[FlowHashProto.UDP4] = HashField.L3_DA | HashField.L4_DP
    assert c.hash_input("1.2.3.5", "1.2.3.4", 7001, 7000, FlowHashProto.UDP4) == bytes(
        [1, 2, 3, 4, 0x1B, 0x58])


def test_sort_is_unsigned_and_independent():
    c = _cfg(key=K)
    # addresses sorted one way, ports the other: both end up smaller-first
    assert c.hash_input("200.0.0.1", "10.0.0.1", 1000, 65535) == bytes(
        [10, 0, 0, 1, 200, 0, 0, 1, 0x03, 0xE8, 0xFF, 0xFF])
    assert c.hash_tuple("200.0.0.1", "10.0.0.1", 1000, 65535) == \
        c.hash_tuple("10.0.0.1", "200.0.0.1", 65535, 1000)
    a, b = "2001:db8::ff", "2001:db8::1:0"
    assert c.hash_tuple(a, b, 5, 6, FlowHashProto.UDP6) == \
        c.hash_tuple(b, a, 6, 5, FlowHashProto.UDP6)


def test_batch_matches_scalar_for_every_ipv4_proto():
    rng = np.random.default_rng(11)
    n = 50
    src = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    dst = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    sp = rng.integers(0, 2**16, n).astype(np.uint16)
    dp = rng.integers(0, 2**16, n).astype(np.uint16)
    src[0], sp[0], dp[0] = 0xFFFFFFFF, 0xFFFF, 0xFFFF
    for cfg in (_cfg(key=K), _cfg(key=K, sort_l3=False, sort_l4=False),
                RssConfig.fixed_key(128), _cfg(function=RssFunction.CRC32, key=K)):
        cfg.hash_fields[FlowHashProto.UDP4] = HashField.L3_SA | HashField.L4_DP
        for proto in (FlowHashProto.TCP4, FlowHashProto.UDP4, FlowHashProto.IP4):
            got = cfg.hash_ipv4_batch(src, dst, sp, dp, proto)
            want = [cfg.hash_tuple(int(src[i]), int(dst[i]), int(sp[i]), int(dp[i]), proto)
                    for i in range(n)]
            assert got.tolist() == want


def test_ipv6_batch_matches_scalar():
    rng = np.random.default_rng(6)
    n = 20
    src = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    dst = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    dst[0] = src[0]
    dst[0, 15] ^= 1  # differ in the last byte only
    src[1] = 0xFF
    sp = rng.integers(0, 2**16, n).astype(np.uint16)
    dp = rng.integers(0, 2**16, n).astype(np.uint16)
    for cfg in (_cfg(key=K), RssConfig.linux_2016_default(4)):
        for proto in (FlowHashProto.TCP6, FlowHashProto.IP6):
            got = cfg.hash_ipv6_batch(src, dst, sp, dp, proto)
            want = [cfg.hash_tuple(bytes(src[i]), bytes(dst[i]), int(sp[i]), int(dp[i]), proto)
                    for i in range(n)]
            assert got.tolist() == want


def test_indirection_tables():
    assert default_indirection_table(3, 8) == [0, 1, 2, 0, 1, 2, 0, 1]
    c = RssConfig.linux_default(K, 4)
    assert len(c.table) == 128 and c.table[5] == 1
    assert c.queue_for(0x5B5EB8E5) == 101 % 4
    c.set_table([7] * 16)
    assert c.queue_for(12345) == 7
    for bad in ([], [0, 1, 2], [-1, 0], [0x10000, 0]):
        with pytest.raises(UsageError):
            c.set_table(bad)
    with pytest.raises(UsageError):
        default_indirection_table(0)


@pytest.mark.parametrize("vary", ["src_port", "src_ip"])
def test_flows_to_queue(vary):
    c = RssConfig.linux_default(K, 8)
    flows = flows_to_queue(c, 5, 6, "10.0.0.1", "10.0.0.2", 40000, 80,
                           FlowHashProto.UDP4, vary=vary)
    assert len(flows) == 6 and len(set(flows)) == 6
    for s, d, sp, dp in flows:
        assert c.queue_for_tuple(s, d, sp, dp, FlowHashProto.UDP4) == 5
    with pytest.raises(UsageError):
        flows_to_queue(c, 9, 1, "10.0.0.1", "10.0.0.2")
    with pytest.raises(UsageError):
        flows_to_queue(c, 1, 1, "10.0.0.1", "10.0.0.2", vary="tos")


def test_flows_to_queue_reports_exhaustion():
    c = RssConfig.linux_default(K, 2)
    c.hash_fields[FlowHashProto.UDP4] = HashField.L3_SA | HashField.L3_DA  # ports ignored
    q = c.queue_for_tuple("10.0.0.1", "10.0.0.2", 0, 0, FlowHashProto.UDP4)
    with pytest.raises(UsageError, match="only 0 of 1"):
        flows_to_queue(c, 1 - q, 1, "10.0.0.1", "10.0.0.2", proto=FlowHashProto.UDP4)
