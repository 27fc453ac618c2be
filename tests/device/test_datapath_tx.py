"""Tx datapath of SoftEnaDevice, driven through descriptor bytes, BAR2 lines and doorbells."""

from __future__ import annotations

import numpy as np
import pytest

from enatool.ena.admin import GetStatsType
from numba_kernels import descriptors as d
from numba_kernels import tso as ktso
from numba_kernels.packet import PK_NFIELDS
from tests.naive import naive_datapath as naive

from .conftest import payload
from .dp_helpers import TxQueue, set_llq, udp_frame

RNG = np.random.default_rng(7)


def rand_bytes(n: int) -> bytes:
    return RNG.integers(0, 256, n, dtype=np.uint8).tobytes()


def pad60(f: bytes) -> bytes:
    return f + bytes(max(0, 60 - len(f)))


def test_host_mode_single_and_multi_buffer_wrap_around(drv):
    dev = drv.dev
    depth = 16
    tx = TxQueue(drv, depth)
    sent = []
    expect_comps = []
    for i in range(3 * depth + 5):  # more than 2x depth: phases flip several times
        frame = udp_frame(sport=1000 + i, payload=rand_bytes(10 + 7 * i % 90))
        if i % 3 == 0:
            parts = [frame[:20], frame[20:41], frame[41:]]
        else:
            parts = [frame]
        req_id = (i * 7) % depth
        tx.post(parts, req_id)
        tx.doorbell()
        dev.process()
        sent.append(pad60(frame))
        expect_comps.append((req_id, tx.tail))
        got = tx.completions()
        assert got == [(req_id, tx.tail)]
    assert dev.wire.take() == sent
    assert dev.wire.take() == []
    assert dev.stats.tx_pkts == len(sent)
    assert dev.stats.tx_bytes == sum(map(len, sent))
    assert not dev.fatal


def test_burst_and_req_id_16_bits(drv):
    dev = drv.dev
    tx = TxQueue(drv, 64)
    frames = [udp_frame(sport=i, payload=b"p" * (50 + i)) for i in range(20)]
    ids = [0xFFFF - i * 1031 & 0xFFFF for i in range(20)]
    for f, r in zip(frames, ids, strict=True):
        tx.post([f], r)
    tx.doorbell()
    dev.process()
    assert dev.wire.take() == frames
    assert [c[0] for c in tx.completions()] == ids


def test_partial_packet_waits_for_its_last_descriptor(drv):
    dev = drv.dev
    tx = TxQueue(drv, 16)
    f = udp_frame(payload=b"a" * 100)
    tx.post([f[:50], f[50:]], 3)
    drv.w(tx.db_off, tx.tail - 1)  # doorbell covers only the first descriptor
    dev.process()
    assert dev.wire.take() == [] and tx.completions() == []
    tx.doorbell()
    dev.process()
    assert dev.wire.take() == [f] and tx.completions() == [(3, 2)]


@pytest.mark.parametrize("order", ["reverse", "random"])
def test_out_of_order_completions(drv, order):
    dev = drv.dev
    dev.tx_completion_order = order
    tx = TxQueue(drv, 64)
    ids = list(range(10, 40))
    for r in ids:
        tx.post([udp_frame(sport=r)], r)
    tx.doorbell()
    dev.process()
    got = [c[0] for c in tx.completions()]
    assert sorted(got) == ids
    if order == "reverse":
        assert got == ids[::-1]
    else:
        assert got != ids
    with pytest.raises(ValueError):
        dev.tx_completion_order = "sideways"


def _offload(l3=False, l4=False, partial=False, tso=False, ipv6=False, proto=17):
    return d.tx_offload_word(11 if ipv6 else 8, 0, tso, 12 if proto == 6 else 13, l3, l4, False,
                             partial)


def _zero_csums(frame: bytes, partial: bool) -> bytes:
    r = naive.parse(frame)
    f = bytearray(frame)
    if r["l3_proto"] == 8:
        f[r["l3"] + 10:r["l3"] + 12] = b"\0\0"
    fo = r["l4"] + (16 if r["l4_proto"] == 12 else 6)
    if partial:
        seg_len = r["ip_end"] - r["l4"]
        ph = naive.rfc1071(naive.pseudo_header(frame, r, seg_len))
        f[fo:fo + 2] = ph.to_bytes(2, "big")
    else:
        f[fo:fo + 2] = b"\0\0"
    return bytes(f)


@pytest.mark.parametrize("ipv6", [False, True])
@pytest.mark.parametrize("proto", [6, 17])
@pytest.mark.parametrize("partial", [False, True])
def test_checksum_offloads(drv, ipv6, proto, partial):
    dev = drv.dev
    tx = TxQueue(drv, 16)
    good = naive.build_frame(ipv6=ipv6, proto=proto, payload=bytes(range(77)))
    raw = _zero_csums(good, partial)
    assert naive.checksums(raw) != naive.checksums(good) or ipv6
    meta = d.tx_meta_words(0, 20 if not ipv6 else 40, 14, 5 if proto == 6 else 2, True)
    tx.post([raw[:30], raw[30:]], 1, offload=_offload(l3=not ipv6, l4=True, partial=partial,
                                                      ipv6=ipv6, proto=proto), meta=meta)
    tx.doorbell()
    dev.process()
    (out,) = dev.wire.take()
    assert out == good
    assert naive.checksums(out)[1] == 1


def test_meta_cache_reused_by_packet_without_meta(drv):
    """A TSO meta with meta_store is cached; the next packet (tso_en, no meta) reuses its MSS."""
    dev = drv.dev
    tx = TxQueue(drv, 32)
    big = naive.build_frame(proto=6, payload=rand_bytes(3000))
    mss = 1000
    meta = d.tx_meta_words(mss, 20, 14, 5, True)
    off = _offload(l3=True, l4=True, tso=True, proto=6)
    tx.post([big], 1, offload=off, meta=meta)
    tx.post([big], 2, offload=off)  # no meta descriptor: the cached one applies
    tx.doorbell()
    dev.process()
    frames = dev.wire.take()
    assert len(frames) == 6
    assert frames[:3] == frames[3:] == naive.tso(big, mss)
    assert [c[0] for c in tx.completions()] == [1, 2]
    assert dev.stats.tx_pkts == 6


def test_meta_without_store_is_not_cached(drv):
    dev = drv.dev
    tx = TxQueue(drv, 32)
    big = naive.build_frame(proto=6, payload=bytes(3000))
    off = _offload(l3=True, l4=True, tso=True, proto=6)
    tx.post([big], 1, offload=off, meta=d.tx_meta_words(1000, 20, 14, 5, False))
    tx.post([big], 2, offload=off)  # nothing cached: mss 0 → sent whole
    tx.doorbell()
    dev.process()
    frames = dev.wire.take()
    assert len(frames) == 4 and frames[3] == big


@pytest.mark.parametrize("ipv6", [False, True])
def test_tso_matches_kernel_reference_and_checksums_verify(drv, ipv6):
    dev = drv.dev
    tx = TxQueue(drv, 32)
    big = naive.build_frame(ipv6=ipv6, proto=6, payload=rand_bytes(9001),
                            tcp_flags=0x80 | 0x18 | 0x01)
    mss = 1448
    meta = d.tx_meta_words(mss, 40 if ipv6 else 20, 14, 5, True)
    # the driver leaves the pseudo-header sum; TSO recomputes every checksum anyway
    raw = _zero_csums(big, True)
    tx.post([raw[:54], raw[54:5000], raw[5000:]], 9,
            offload=_offload(l3=not ipv6, l4=True, tso=True, ipv6=ipv6, proto=6), meta=meta)
    tx.doorbell()
    dev.process()
    frames = dev.wire.take()
    buf = naive.as_u8(big)
    out = np.zeros(len(big) * 2 + 64 * 100, np.uint8)
    offs = np.zeros(64, np.int64)
    lens = np.zeros(64, np.int64)
    rec = np.zeros(PK_NFIELDS, np.int64)
    n = ktso.tso_segment(buf, 0, len(big), mss, out, offs, lens, rec)
    ref = [pad60(out[o:o + ln].tobytes()) for o, ln in zip(offs[:n], lens[:n], strict=True)]
    assert frames == ref and len(frames) == 7
    for f in frames:
        assert naive.checksums(f)[1] == 1
        if not ipv6:
            assert naive.checksums(f)[0] == 1
    flags = [f[14 + (40 if ipv6 else 20) + 13] for f in frames]
    assert flags[0] & 0x80 and not any(x & 0x80 for x in flags[1:])  # CWR only first
    assert flags[-1] & 0x09 == 0x09 and not any(x & 0x09 for x in flags[:-1])
    assert tx.completions() == [(9, 4)]  # meta + 3 data descriptors


@pytest.mark.parametrize("line", [128, 256])
def test_llq_lines_with_pushed_header(drv, line):
    dev = drv.dev
    set_llq(drv, line, 2)
    tx = TxQueue(drv, 32, llq=(line, 2))
    sent = []
    for i in range(80):  # > 2x depth in lines
        frame = udp_frame(sport=i, payload=rand_bytes(40 + i))
        push = min(len(frame), 42 + i % 30)
        rest = frame[push:]
        parts = [rest[:25], rest[25:]] if len(rest) > 25 and i % 2 else ([rest] if rest else [])
        meta = d.tx_meta_words(0, 20, 14, 2, True) if i % 4 == 0 else None
        tx.post(parts, i % 32, push=frame[:push], meta=meta,
                offload=_offload(l3=True, l4=True, partial=False) if meta else 0)
        tx.doorbell()
        dev.process()
        sent.append(pad60(frame))
        assert tx.completions() == [(i % 32, tx.tail)]
    assert dev.wire.take() == sent
    assert not dev.fatal


def test_llq_whole_packet_pushed_and_many_descs(drv):
    dev = drv.dev
    set_llq(drv, 128, 2)
    tx = TxQueue(drv, 32, llq=(128, 2))
    small = udp_frame(payload=b"s" * 10)
    tx.post([], 5, push=small)  # one zero-length descriptor, everything in the line
    frame = udp_frame(payload=bytes(range(200)))
    parts = [frame[64 + 10 * k: 64 + 10 * (k + 1)] for k in range(18)]
    parts[-1] = frame[64 + 170:]
    tx.post(parts, 6, push=frame[:64])  # 18 descriptors: continuation lines
    tx.doorbell()
    dev.process()
    assert dev.wire.take() == [pad60(small), frame]
    assert [c[0] for c in tx.completions()] == [5, 6]


def test_llq_oversized_header_dropped_and_counted(drv):
    dev = drv.dev
    set_llq(drv, 128, 2)
    tx = TxQueue(drv, 16, llq=(128, 2))
    frame = udp_frame(payload=bytes(200))
    # 97 bytes > 128 - 2*16 cannot be pushed: emulate a driver that pushes 96 bytes and
    # claims header_length 97 in the first data descriptor
    tx.post([frame[96:]], 1, push=frame[:96])
    line0 = (tx.tail - 1) & 15
    raw = bytearray(tx.shadow[line0 * 128:(line0 + 1) * 128].tobytes())
    w3 = int.from_bytes(raw[12:16], "little")
    raw[12:16] = ((w3 & 0x00FFFFFF) | (97 << 24)).to_bytes(4, "little")
    dev.bar2.write(tx.llq_off + line0 * 128, bytes(raw))
    tx.post([frame[64:]], 2, push=frame[:64])
    tx.doorbell()
    dev.process()
    assert dev.wire.take() == [frame]
    assert [c[0] for c in tx.completions()] == [1, 2]  # the dropped one is completed too
    assert dev.stats.tx_drops == 1 and dev.stats.tx_pkts == 1
    q = dev.datapath.tx.queues[tx.sq_idx].counters
    assert q.llq_header_drops == 1
    c = drv.get_stats(GetStatsType.BASIC)
    from enatool.ena.admin import ENA_ADMIN_BASIC_STATS

    st = payload(c, ENA_ADMIN_BASIC_STATS)
    assert st["tx_drops"] == 1 and st["tx_pkts"] == 1


def test_llq_burst_limit_violation_counted(drv):
    dev = drv.dev
    set_llq(drv, 128, 2, accel=2)  # LIMIT_TX_BURST: 2048 B / 128 B = 16 lines per doorbell
    tx = TxQueue(drv, 64, llq=(128, 2))
    for i in range(20):
        tx.post([], i, push=udp_frame(sport=i))
    tx.doorbell()
    dev.process()
    assert len(dev.wire.take()) == 20
    assert dev.datapath.tx.queues[tx.sq_idx].counters.llq_burst_violations == 1


def test_malformed_stream_is_fatal_not_exception(drv):
    dev = drv.dev
    tx = TxQueue(drv, 16)
    f = udp_frame()
    tx.post([f], 1)
    tx.ring[0, 0] &= ~np.uint32(d.CTRL_FIRST)  # packet without 'first'
    tx.doorbell()
    dev.process()
    assert dev.fatal and dev.wire.take() == [] and tx.completions() == []
    assert dev.datapath.errors


def test_buffer_outside_host_memory_is_fatal(drv):
    dev = drv.dev
    tx = TxQueue(drv, 16)
    tx.post([udp_frame()], 1)
    tx.ring[0, 3] = (tx.ring[0, 3] & np.uint32(0xFF000000)) | np.uint32(0x7FFF)
    tx.doorbell()
    dev.process()
    assert dev.fatal and dev.wire.take() == []


def test_reset_forgets_queue_state(drv):
    dev = drv.dev
    tx = TxQueue(drv, 16)
    tx.post([udp_frame()], 1)
    tx.doorbell()
    dev.process()
    assert len(dev.wire.take()) == 1
    drv.reset()
    drv.program_queues()
    assert dev.datapath.tx.queues == {}
    tx2 = TxQueue(drv, 16)
    tx2.post([udp_frame(sport=9)], 2)
    tx2.doorbell()
    dev.process()
    assert dev.wire.take() == [udp_frame(sport=9)] and tx2.completions() == [(2, 1)]


def test_extended_stats_carry_per_queue_counters(drv):
    dev = drv.dev
    tx = TxQueue(drv, 16)
    for i in range(3):
        tx.post([udp_frame(sport=i)], i)
    tx.doorbell()
    dev.process()
    buf = dev.dma.alloc(8192)
    c = drv.get_stats(GetStatsType.EXTENDED, ctrl_length=8192, ctrl_address=buf)
    assert c["status"] == 0
    lines = dev.dma.read(buf, 8192).split(b"\0")[0].decode().splitlines()
    q = tx.sq_idx
    assert f"queue_{q}_tx_pkts 3" in lines and f"queue_{q}_tx_completions 3" in lines
    assert "tx_pkts 3" in lines


def test_freed_buffer_is_a_dma_fault(drv):
    """Inside the arena but not a live allocation: fatal error, like an IOMMU fault."""
    dev = drv.dev
    tx = TxQueue(drv, 16)
    tx.post([udp_frame()], 1)
    dev.dma.free(tx.bufs[-1])
    tx.doorbell()
    dev.process()
    assert dev.fatal and dev.wire.take() == []


def test_burst_limit_counts_per_doorbell(drv):
    dev = drv.dev
    set_llq(drv, 128, 2, accel=2)  # 16 lines per doorbell
    tx = TxQueue(drv, 64, llq=(128, 2))
    for i in range(20):
        tx.post([], i, push=udp_frame(sport=i))
        if i == 9:
            tx.doorbell()  # 10 lines, then 10 more: both within the limit
    tx.doorbell()
    dev.process()
    assert len(dev.wire.take()) == 20
    assert dev.datapath.tx.queues[tx.sq_idx].counters.llq_burst_violations == 0


def test_destroy_drops_queue_state_and_meta_cache(drv):
    from enatool.ena.admin import (
        ENA_ADMIN_AQ_DESTROY_CQ_CMD,
        ENA_ADMIN_AQ_DESTROY_SQ_CMD,
        AdminOpcode,
    )
    from enatool.ena.bits import pack

    dev = drv.dev
    tx = TxQueue(drv, 16)
    big = naive.build_frame(proto=6, payload=bytes(3000))
    off = _offload(l3=True, l4=True, tso=True, proto=6)
    tx.post([big], 1, offload=off, meta=d.tx_meta_words(1000, 20, 14, 5, True))
    tx.doorbell()
    dev.process()
    assert len(dev.wire.take()) == 3
    assert drv.cmd(pack(ENA_ADMIN_AQ_DESTROY_SQ_CMD, opcode=AdminOpcode.DESTROY_SQ,
                        sq_idx=tx.sq_idx, sq_identity=1 << 5))["status"] == 0
    assert drv.cmd(pack(ENA_ADMIN_AQ_DESTROY_CQ_CMD, opcode=AdminOpcode.DESTROY_CQ,
                        cq_idx=tx.cq_idx))["status"] == 0
    assert tx.sq_idx not in dev.datapath.tx.queues
    tx2 = TxQueue(drv, 16)
    tx2.post([big], 2, offload=off)  # no meta and the new queue has no cached one
    tx2.doorbell()
    dev.process()
    assert dev.wire.take() == [big]
