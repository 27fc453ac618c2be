"""numba_kernels.fieldengine vs the naive frame builder: byte-identical frames, valid
checksums, IMIX proportions, crafted RSS flows."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from enatool.errors import UsageError
from enatool.gen.engine import FieldEngine
from enatool.gen.templates import (
    PROBE_HDR,
    PROBE_MAGIC,
    GenSpec,
    build_templates,
    parse_sizes,
    wire_bits,
)
from numba_kernels import fieldengine as fe
from numba_kernels import packet as pk
from tests.naive import naive_gen

STRIDE = 2048


def _check_parses(umem, addrs, lens, n):
    rec = np.zeros(pk.PK_NFIELDS, np.int64)
    for i in range(n):
        assert pk.parse_frame(umem, addrs[i], lens[i], rec) == 0
        pk.verify_checksums(umem, addrs[i], rec)
        assert rec[pk.PK_L4_CSUM] == 1
        assert rec[pk.PK_L3_CSUM] in ((1,) if rec[pk.PK_L3_PROTO] == pk.L3_IPV4 else (-1,))
        assert rec[pk.PK_IP_END] == lens[i]


def _run(spec, mode, rounds, batch, n_slots, rng, ts=1_000_000_007):
    """Fill random slots for several rounds; compare every frame with the naive twin."""
    tset = build_templates(spec)
    eng = FieldEngine(tset, mode)
    umem = np.zeros(STRIDE * n_slots, np.uint8)
    slot_class = eng.slot_map(n_slots)
    lens = np.zeros(batch, np.uint32)
    seq_next: dict[int, int] = {}
    for r in range(rounds):
        addrs = rng.choice(n_slots, size=batch, replace=False).astype(np.int64) * STRIDE
        start = eng.frames
        nbytes = eng.fill(umem, addrs, lens, ts_ns=ts + r, stride=STRIDE,
                          slot_class=slot_class)
        want = naive_gen.frames_for(tset, batch, start=start, ts=ts + r, seq_next=seq_next)
        for i in range(batch):
            got = umem[addrs[i]:addrs[i] + lens[i]].tobytes()
            assert got == want[i], (spec, mode, r, i)
        assert nbytes == sum(len(w) for w in want)
        _check_parses(umem, addrs, lens, batch)
    return tset, eng


SPECS = [
    GenSpec(),
    GenSpec(size="imix", src="198.18.0.1-198.18.0.100", sport="1024-1030", flows=37),
    GenSpec(proto="tcp", size="64:3,128:2,1518:1", vlan=7, vlan_pcp=5, tcp_flags="PA",
            dport="80-82"),
    GenSpec(ipv6=True, size="70:1,594:4,1522:1", vlan=4095, mtu=1500,
            src="2001:2::1-2001:2::ff", dst="2001:2:0:1::1-2001:2:0:1::3"),
    GenSpec(ipv6=True, proto="tcp", size="102,103,1000", sport="1-65535", flows=5,
            flow_order="random", tos=0xB8, ttl=3, probe="full"),
    GenSpec(size="64:1,70:1,71:1", probe="off", dst="198.19.255.250-198.19.255.255"),
]


@pytest.mark.nojit
@pytest.mark.parametrize("mode", ["full", "fields"])
@pytest.mark.parametrize("k", range(len(SPECS)))
def test_frames_match_naive_and_verify(k, mode):
    _run(SPECS[k], mode, rounds=3, batch=8, n_slots=12, rng=np.random.default_rng(k))


def test_random_specs_match_naive():
    """Random families/sizes/flows, both modes, slots reused across classes and flows."""
    rng = np.random.default_rng(11)
    for trial, (ipv6, tcp, vlan, mode) in enumerate(
            itertools.product((False, True), (False, True), (False, True),
                              ("full", "fields"))):
        hdr = 14 + (4 if vlan else 0) + (40 if ipv6 else 20) + (20 if tcp else 8)
        lo = max(64, hdr + 4)
        sizes = sorted(set(int(s) for s in rng.integers(lo, 1518 + (4 if vlan else 0), 3)))
        spec = GenSpec(ipv6=ipv6, proto="tcp" if tcp else "udp",
                       vlan=int(rng.integers(0, 4096)) if vlan else None,
                       size=",".join(f"{s}:{int(rng.integers(1, 5))}" for s in sizes),
                       sport=f"{int(rng.integers(0, 60000))}-65535",
                       flows=int(rng.integers(1, 40)), seed=trial)
        _run(spec, mode, rounds=4, batch=16, n_slots=20, rng=rng,
             ts=int(rng.integers(0, 2**62)))


def _reuse_slots(spec, rounds, flow_idx_of, ts_of, seq_start=None, n_slots=6):
    """Refill the same slots every round (a LIFO free stack); compare with the naive twin.

    ``flow_idx_of(r)`` gives the flows of round r (None: the schedule), ``ts_of(r)`` its
    timestamp; ``seq_start`` (one value for every flow) starts the sequence numbers there.
    """
    tset = build_templates(spec)
    nf = len(tset.flows)
    seq = None if seq_start is None else np.full(nf, seq_start, np.int64)
    eng = FieldEngine(tset, "fields", seq_next=seq)
    want_seq = {} if seq_start is None else dict.fromkeys(range(nf), seq_start)
    umem = np.zeros(STRIDE * n_slots, np.uint8)
    smap = eng.slot_map(n_slots)
    addrs = np.arange(n_slots, dtype=np.int64)[::-1].copy() * STRIDE
    lens = np.zeros(n_slots, np.uint32)
    for r in range(rounds):
        idx = flow_idx_of(r)
        start = eng.frames
        eng.fill(umem, addrs, lens, ts_ns=ts_of(r), stride=STRIDE, slot_class=smap,
                 flow_idx=idx)
        want = naive_gen.frames_for(tset, n_slots, start=start, ts=ts_of(r),
                                    seq_next=want_seq, flow_idx=idx)
        got = [umem[a:a + n].tobytes() for a, n in zip(addrs, lens, strict=True)]
        assert got == want, (spec, r)
        _check_parses(umem, addrs, lens, n_slots)
    return smap


REUSE_SPECS = [
    GenSpec(size="70"),  # full probe with timestamp
    GenSpec(),  # 64 B: short probe
    GenSpec(size="64", proto="tcp"),  # no probe at all
    GenSpec(ipv6=True, size="100:2,1000:1", src="2001:2::1-2001:2::4"),
    GenSpec(proto="tcp", size="90", vlan=3, dport="80-82"),
]


@pytest.mark.nojit
@pytest.mark.parametrize("k", range(len(REUSE_SPECS)))
def test_same_slots_same_flows_only_probe_changes(k):
    """One or a few flows on the same slots: the fast path (sequence, timestamp, L4
    checksum only) with timestamps and sequences whose 16-bit words carry."""
    ts = [0, 0xFFFF, 0x10000, 2**48 - 1, 2**62 + 12345, 2**63 - 1, 1, 0]
    smap = _reuse_slots(REUSE_SPECS[k], len(ts), lambda r: None, lambda r: ts[r],
                        seq_start=0xFFFF - 7)
    assert (smap >= 0).all()


@pytest.mark.nojit
@pytest.mark.parametrize("seq_start", [0xFFFF - 2, 2**32 - 3, 2**48 - 2, 2**63 - 40])
def test_sequence_carries_across_words(seq_start):
    _reuse_slots(GenSpec(size="70", sport="1-2"), 5, lambda r: None,
                 lambda r: 10**18 + r, seq_start=seq_start)


@pytest.mark.nojit
@pytest.mark.parametrize("spec", [GenSpec(size="70", src="198.18.0.1-198.18.0.9"),
                                  GenSpec(ipv6=True, proto="tcp", size="120:1,86:1",
                                          src="2001:2::1-2001:2::9"),
                                  GenSpec(size="64:1,200:1", sport="1-9", probe="off")])
def test_same_slots_flows_change(spec):
    """Slots reused with another flow (and class): addresses, ports, flow id and both
    checksums follow; flows come back to slots that held them before."""
    rng = np.random.default_rng(5)
    nf = len(build_templates(spec).flows)
    plans = [np.full(6, 0, np.int32), np.full(6, 0, np.int32), np.arange(6, dtype=np.int32),
             np.arange(6, dtype=np.int32)[::-1].copy(), np.full(6, nf - 1, np.int32)]
    plans += [rng.integers(0, nf, 6).astype(np.int32) for _ in range(6)]
    _reuse_slots(spec, len(plans), lambda r: plans[r], lambda r: 2**40 * r + r,
                 seq_start=0xFFFE)
    _reuse_slots(spec, 12, lambda r: None, lambda r: r)  # schedule: shifts every batch


@pytest.mark.nojit
def test_flow_by_index_and_probe_fields():
    spec = GenSpec(size="128", src="198.18.0.1-198.18.0.9", sport="7")
    tset = build_templates(spec)
    eng = FieldEngine(tset, "full")
    umem = np.zeros(STRIDE * 4, np.uint8)
    addrs = np.arange(4, dtype=np.int64) * STRIDE
    lens = np.zeros(4, np.uint32)
    idx = np.array([3, 3, 8, 0], np.int32)
    eng.fill(umem, addrs, lens, ts_ns=42, flow_idx=idx)
    want = naive_gen.frames_for(tset, 4, ts=42, flow_idx=idx)
    assert [umem[a:a + n].tobytes() for a, n in zip(addrs, lens, strict=True)] == want
    po = int(tset.layout[fe.LY_PAYLOAD_OFF])
    probes = [np.frombuffer(umem[a + po:a + po + 24].tobytes(), PROBE_HDR)[0] for a in addrs]
    assert [int(p["magic"]) for p in probes] == [PROBE_MAGIC] * 4
    assert [(int(p["flow_id"]), int(p["seq"])) for p in probes] == [(3, 0), (3, 1), (8, 0),
                                                                    (0, 0)]
    assert all(int(p["tx_ns"]) == 42 for p in probes)
    with pytest.raises(ValueError):
        eng.fill(umem, addrs, lens, flow_idx=np.array([9, 0, 0, 0]))


@pytest.mark.nojit
def test_probe_sizes_and_conventions():
    t = build_templates(GenSpec(size="64"))  # IPv4/UDP: 60 B frame, 18 B payload
    assert list(t.frame_len) == [60] and list(t.probe_len) == [fe.PROBE_SHORT_LEN]
    assert int(wire_bits(60)) == 672
    t = build_templates(GenSpec(size="64", proto="tcp"))
    assert list(t.probe_len) == [0]
    t = build_templates(GenSpec(size="70"))
    assert list(t.probe_len) == [fe.PROBE_LEN]
    with pytest.raises(UsageError):
        build_templates(GenSpec(size="64", probe="full"))
    with pytest.raises(UsageError):
        build_templates(GenSpec(size="64", ipv6=True))  # 62 B of headers > 60
    with pytest.raises(UsageError):
        build_templates(GenSpec(size="1519"))  # MTU 1500 without VLAN: 1518 max
    assert build_templates(GenSpec(size="1522", vlan=1)).frame_len[0] == 1518
    with pytest.raises(UsageError):
        build_templates(GenSpec(flows=10))  # one tuple only
    with pytest.raises(UsageError):
        build_templates(GenSpec(src="2001:2::1"))


@pytest.mark.nojit
def test_imix_schedule_proportions_exact():
    assert parse_sizes("imix") == [(64, 7), (594, 4), (1518, 1)]
    assert parse_sizes("64:70,594:40,1518:10") == [(64, 7), (594, 4), (1518, 1)]
    for text in ("imix", "64:3,128:5", "100:1,200:1,300:2,1500:7"):
        t = build_templates(GenSpec(size=text, sport="1-13"))
        sizes = parse_sizes(text)
        period = len(t.size_sched)
        assert period == sum(w for _, w in sizes)
        eng = FieldEngine(t, "full")
        n = period * 5
        umem = np.zeros(STRIDE * n, np.uint8)
        lens = np.zeros(n, np.uint32)
        eng.fill(umem, np.arange(n, dtype=np.int64) * STRIDE, lens)
        for k in range(5):
            got = Counter(int(v) + 4 for v in lens[k * period:(k + 1) * period])
            assert got == dict(sizes)


@pytest.mark.nojit
def test_every_flow_meets_every_size_class():
    """12 flows x a 12-frame IMIX period: without the lcm shift flow f would see one size."""
    t = build_templates(GenSpec(size="imix", sport="1-12"))
    eng = FieldEngine(t, "full")
    n = 12 * 12
    umem = np.zeros(STRIDE * n, np.uint8)
    lens = np.zeros(n, np.uint32)
    eng.fill(umem, np.arange(n, dtype=np.int64) * STRIDE, lens)
    sport = [int.from_bytes(umem[i * STRIDE + 34:i * STRIDE + 36].tobytes(), "big")
             for i in range(n)]
    per_flow = Counter(zip(sport, (int(v) for v in lens), strict=True))
    for f in range(1, 13):
        assert {ln for (sp, ln) in per_flow if sp == f} == {60, 590, 1514}


@pytest.mark.nojit
def test_flow_ranges_spread():
    t = build_templates(GenSpec(src="198.18.0.1-198.18.0.100", sport="1024-2047", flows=100))
    srcs = {t.flows.tuple(i)[0] for i in range(100)}
    ports = {t.flows.tuple(i)[2] for i in range(100)}
    assert len({t.flows.tuple(i) for i in range(100)}) == 100
    assert len(srcs) > 50 and len(ports) > 50  # both fields vary, not just the fastest
    t = build_templates(GenSpec(src="198.18.0.1-198.18.0.2", sport="1-3"))
    assert len(t.flows) == 6


@pytest.mark.nojit
@pytest.mark.parametrize("ipv6,proto", [(False, "udp"), (False, "tcp"), (True, "udp")])
def test_crafted_flows_land_on_queues(ipv6, proto):
    from enatool.driver.policy.rss import FlowHashProto, RssConfig

    rss = RssConfig.linux_default(bytes(range(40)), num_queues=8)
    spec = GenSpec(ipv6=ipv6, proto=proto, to_queues=(1, 5, 6), flows=9, rss=rss)
    t = build_templates(spec)
    assert len(t.flows) == 9
    fp = {(False, "udp"): FlowHashProto.UDP4, (False, "tcp"): FlowHashProto.TCP4,
          (True, "udp"): FlowHashProto.UDP6}[(ipv6, proto)]
    for i in range(9):
        s, d, sp, dp = t.flows.tuple(i)
        assert rss.queue_for_tuple(s, d, sp, dp, fp) == t.flows.queue[i]
    assert list(t.flows.queue[:3]) == [1, 5, 6]  # interleaved: round-robin hits every queue
    assert Counter(t.flows.queue.tolist()) == {1: 3, 5: 3, 6: 3}
    with pytest.raises(UsageError):
        build_templates(GenSpec(to_queues=(1,)))  # no RSS config
