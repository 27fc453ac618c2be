"""TSO end to end on the soft pair: the driver sends one large TCP frame with
``TxOffload(tso_mss=...)`` (meta descriptor with the MSS, tso_en), device A segments it by
MSS, device B and its driver receive MSS-sized segments with good checksum verdicts,
continuous sequence numbers, FIN/PSH only on the last and CWR only on the first (ECN rule),
incrementing IPv4 ids; byte for byte what ``numba_kernels.tso.tso_segment`` makes of it."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from naive import naive_datapath as nd

from enatool.backends.soft import SoftBackend
from enatool.driver.eth_tx import TxOffload
from numba_kernels import tso
from numba_kernels.packet import PK_NFIELDS

FIN, PSH, ACK, CWR = 0x01, 0x08, 0x10, 0x80


def _reference(frame: bytes, mss: int) -> list[bytes]:
    buf = np.frombuffer(frame, np.uint8).copy()
    out = np.zeros(len(frame) * 2 + 64 * 128, np.uint8)
    offs = np.zeros(128, np.int64)
    lens = np.zeros(128, np.int64)
    rec = np.zeros(PK_NFIELDS, np.int64)
    n = tso.tso_segment(buf, 0, len(frame), mss, out, offs, lens, rec)
    assert n > 0
    return [out[offs[i]:offs[i] + lens[i]].tobytes() for i in range(n)]


@pytest.mark.parametrize("llq", [True, False])
@pytest.mark.parametrize("ipv6,mss", [(False, 1448), (True, 1428), (False, 536)])
def test_tso_frame_arrives_as_mss_segments(llq, ipv6, mss):
    rng = np.random.default_rng(mss + ipv6)
    payload = rng.integers(0, 256, 7000, dtype=np.uint8).tobytes()
    seq0 = 0xFFFFF000  # the sequence numbers wrap inside the burst
    frame = nd.build_frame(ipv6=ipv6, proto=6, payload=payload, seq=seq0, ip_id=0xFFFE,
                           tcp_flags=CWR | ACK | PSH | FIN, tcp_opts=b"\x01\x01\x01\x01")
    with SoftBackend(queues=1, llq=llq, mtu=9000) as be:
        steady = [d.dma.live_allocations for d in be.devices]
        assert be.tx_burst(0, [frame], [TxOffload(csum=True, tso_mss=mss)]) == 1
        be.advance(0.01)
        pkts = be.rx_packets(0, end=1)
        assert be.drivers[0].napi[0].tx.outstanding == 0
        assert [d.dma.live_allocations for d in be.devices] == steady
    segs = [p.data for p in pkts]
    assert segs == _reference(frame, mss)
    assert len(segs) == -(-len(payload) // mss)
    assert all(p.csum == "good" for p in pkts)
    got_payload = b""
    for i, s in enumerate(segs):
        r = nd.parse(s)
        assert nd.checksums(s)[1] == 1 and nd.checksums(s)[0] in (-1, 1)
        body = s[r["l4"] + r["l4_hlen"]:r["ip_end"]]
        assert len(body) == (mss if i < len(segs) - 1 else len(payload) - i * mss)
        (seq,) = struct.unpack_from("!I", s, r["l4"] + 4)
        assert seq == (seq0 + len(got_payload)) & 0xFFFFFFFF
        flags = s[r["l4"] + 13]
        last, first = i == len(segs) - 1, i == 0
        assert bool(flags & FIN) == last and bool(flags & PSH) == last
        assert bool(flags & CWR) == first and flags & ACK
        if not ipv6:
            (ip_id,) = struct.unpack_from("!H", s, r["l3"] + 4)
            assert ip_id == (0xFFFE + i) & 0xFFFF
        got_payload += body
    assert got_payload == payload
    # the naive segmentation agrees as well
    assert segs == nd.tso(frame, mss)
