"""AF_XDP on a real veth pair (copy mode) between two throwaway namespaces: the nogil Tx
kernel sends from one side, the Rx kernel receives on two queues of the other, the XDP
program's 5-tuple filter hands the rest to the kernel's UDP stack (which verifies the
checksums); byte-exact frames through the batch API; the reflector; the gen program over
the slot API. Traffic stays on 198.18.0.0/15, bounded in count and time."""

from __future__ import annotations

import shutil
import socket
import threading
import time

import numpy as np
import pytest
from udp_peer import UdpCollector, udp_snmp

needs = pytest.mark.needs
pytestmark = [pytest.mark.netns,
              needs("root", "bcc", "netns", "xdp_native", "xdp_generic", "af_xdp", "numba")]

MAGIC = (0x454E4154).to_bytes(4, "big")


def _spec(bed, dport="9", sport="1024-1027", size=64):
    from enatool.gen.templates import GenSpec

    return GenSpec(src_mac=bed.mac_a, dst_mac=bed.mac_b, src=bed.addr_a, dst=bed.addr_b,
                   sport=sport, dport=dport, size=size)


def _rx_in_thread(rxb, **kw):
    """run_rx in a thread; returns (thread, result dict, started event)."""
    res: dict = {}
    started = threading.Event()

    def tick(_snap):
        started.set()

    def body():
        try:
            res.update(rxb.run_rx(on_tick=tick, tick_interval=0.02, **kw))
        except BaseException as e:  # surfaced by the test
            res["error"] = e
        started.set()

    t = threading.Thread(target=body, daemon=True)
    t.start()
    assert started.wait(60), "the Rx kernel did not start"
    return t, res


def test_tx_kernel_to_rx_kernel_two_queues_exact_count(netns):
    from enatool.backends.afxdp.backend import AfxdpBackend
    from enatool.gen.templates import build_templates

    bed = netns(queues=2)
    tset = build_templates(_spec(bed, dport="9-10"))  # 8 flows: 4 to the XSKs, 4 to UDP
    n = 8000
    seq_next = np.zeros(len(tset.flows), np.int64)
    to_xsk = tset.flows.dport == 9
    udp = UdpCollector(bed, 10)
    snmp0 = udp_snmp(bed)
    try:
        with AfxdpBackend(bed.if_b, bed.ns_b, queues=[0, 1], tx=False, copy="auto",
                          filter={"proto": "udp", "dport": 9, "dst": bed.addr_b},
                          batch=64) as rxb, \
                AfxdpBackend(bed.if_a, bed.ns_a, queues=[0, 1], rx=False, copy="copy",
                             batch=256) as txb:
            assert rxb.bind_mode == "copy" and txb.bind_mode == "copy"  # veth: no zero-copy
            expect = n // 2  # round-robin over the flows of each queue: half go to port 9
            t, res = _rx_in_thread(rxb, n_flows=len(tset.flows), count=expect, duration=20)
            tx = txb.run_tx(tset, count=n, rate=50_000, seq_next=seq_next)
            t.join(30)
            assert "error" not in res, res.get("error")
            xdp = rxb.xdp_qstats()
        deadline = time.monotonic() + 5
        while len(udp.payloads) < n - expect and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        udp.close()
    assert tx["packets"] == tx["completed"] == n and not tx["stalled"]
    assert int(seq_next[to_xsk].sum()) == expect
    assert res["packets"] == expect == res["probes"]
    assert (res["lost"], res["duplicates"], res["csum_errors"], res["foreign"]) == (0, 0, 0, 0)
    per_q = {r["queue"]: r["rx_packets"] for r in res["per_queue"]}
    assert all(v > 0 for v in per_q.values()), per_q  # both queues carried traffic
    for q, got in per_q.items():
        assert xdp[q]["redirected"] == got  # the BPF map agrees with the sockets
    assert sum(xdp[q]["passed"] for q in (0, 1)) >= n - expect
    # flows the filter did not match reached the kernel, which accepted their checksums
    assert len(udp.payloads) == n - expect
    assert all(p.startswith(MAGIC) for p in udp.payloads)
    snmp1 = udp_snmp(bed)
    assert snmp1["InCsumErrors"] == snmp0["InCsumErrors"]
    assert snmp1["InDatagrams"] - snmp0["InDatagrams"] == n - expect
    # flow state: every port-9 flow seen once per sequence, per the Tx side's counts
    fs = res["fstate"].sum(axis=0)
    from numba_kernels import seqcheck as sc

    assert fs[to_xsk, sc.FS_RX].tolist() == seq_next[to_xsk].tolist()


def test_batch_api_frames_byte_exact(netns):
    from enatool.backends.afxdp.backend import AfxdpBackend
    from enatool.gen.engine import FieldEngine
    from enatool.gen.templates import build_templates

    bed = netns(queues=2)
    tset = build_templates(_spec(bed, size="64,128,1518"))
    eng = FieldEngine(tset, "full")
    stride = 2048
    buf = np.zeros(48 * stride, np.uint8)
    addrs = np.arange(48, dtype=np.int64) * stride
    lens = np.zeros(48, np.uint32)
    eng.fill(buf, addrs, lens, 48, ts_ns=123)
    frames = [buf[a:a + ln].tobytes() for a, ln in zip(addrs, lens, strict=True)]
    with AfxdpBackend(bed.if_b, bed.ns_b, queues=[0, 1], tx=False, xdp_mode="skb",
                      filter={"proto": "udp", "dport": 9}) as rxb, \
            AfxdpBackend(bed.if_a, bed.ns_a, queues=[0], rx=False) as txb:
        assert rxb.xdp_mode == "skb"
        sent = 0
        while sent < len(frames):
            sent += txb.tx_burst(0, frames[sent:sent + 16])
            txb.advance(0.001)
        got: list[bytes] = []
        deadline = time.monotonic() + 5
        while len(got) < len(frames) and time.monotonic() < deadline:
            for q in (0, 1):
                got += rxb.rx_burst(q, 64)
            rxb.advance(0.001)
        stats = rxb.stats()
    assert got == frames  # same bytes, same order (one Tx queue -> one Rx queue on veth)
    assert stats["queue_0_xdp_redirected"] == len(frames)
    assert stats["queue_0_xsk_rx_dropped"] == 0


def test_gen_program_over_slot_api(netns):
    from enatool.backends.afxdp.backend import AfxdpBackend
    from enatool.gen.program import SlotRx, SlotTx, run_gen

    bed = netns(queues=1)
    spec = _spec(bed)
    with AfxdpBackend(bed.if_b, bed.ns_b, tx=False, filter={"proto": "udp", "dport": 9}) as rxb, \
            AfxdpBackend(bed.if_a, bed.ns_a, rx=False) as txb:
        assert isinstance(txb, SlotTx) and isinstance(rxb, SlotRx)
        t, res = _rx_in_thread(rxb, n_flows=4, count=2000, duration=20)
        out = run_gen(txb, spec, count=2000, rate=40_000)
        t.join(30)
    assert out["packets"] == 2000
    assert res["packets"] == 2000 and res["lost"] == 0 and res["csum_errors"] == 0


@pytest.mark.parametrize("mode", ["skb", "native"])
def test_reflect_returns_probe_packets_only(netns, mode):
    from enatool.backends.afxdp.xdp import XdpAttach, XdpProgram, run_in_netns

    bed = netns()
    if mode == "native":  # veth XDP_TX needs NAPI on the peer: an XDP_PASS-ish program there
        peer = XdpProgram("xsk_redirect")
    with XdpProgram("lat_reflect", {"LAT_PORT": 7}, src="latency") as prog, \
            XdpAttach(prog.fd, bed.if_b, bed.ns_b, mode=mode), \
            (XdpAttach(peer.fd, bed.if_a, bed.ns_a, mode="native") if mode == "native"
             else _nullctx()):
        # a local UDP socket leaves the checksum to "offload" (CHECKSUM_PARTIAL); native
        # XDP_TX turns the frame back into plain bytes, so let the stack fill it in
        # (without ethtool: send with no UDP checksum at all, SO_NO_CHECK)
        have_ethtool = shutil.which("ethtool") is not None
        if have_ethtool:
            bed.run("a", "ethtool", "-K", bed.if_a, "tx", "off", check=True)
        s = run_in_netns(bed.ns_a, socket.socket, socket.AF_INET, socket.SOCK_DGRAM)
        if not have_ethtool:
            s.setsockopt(socket.SOL_SOCKET, 11, 1)  # SO_NO_CHECK
        try:
            s.bind((bed.addr_a, 40000))
            s.settimeout(2)
            probe = MAGIC + bytes(range(20))
            s.sendto(probe, (bed.addr_b, 7))
            data, src = s.recvfrom(2048)
            assert data == probe and src == (bed.addr_b, 7)
            s.settimeout(0.3)
            s.sendto(b"not a probe", (bed.addr_b, 7))  # passes to b's stack: no reply
            with pytest.raises(TimeoutError):
                s.recvfrom(2048)
        finally:
            s.close()
        st = prog.qstats(1)[0]
    if mode == "native":
        peer.close()
    assert st[2] == 1 and st[3] >= 1  # reflected one, passed the other


class _nullctx:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None
