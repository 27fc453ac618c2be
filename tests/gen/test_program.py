"""run_gen / run_sink over the in-memory loopback backend (and a soft-backend smoke test)."""

from __future__ import annotations

import numpy as np
import pytest

from enatool.errors import UsageError
from enatool.gen.program import SlotTx, run_gen, run_sink
from enatool.gen.templates import GenSpec
from enatool.report.schema import SCHEMA_VERSION, missing_fields
from numba_kernels import packet as pk
from tests.gen.loopback import LoopbackBackend, SlotLoopback
from tests.naive.naive_gen import NaiveSeqCheck

pytestmark = pytest.mark.nojit


def _verify_all(frames):
    rec = np.zeros(pk.PK_NFIELDS, np.int64)
    for f in frames:
        buf = np.frombuffer(f, np.uint8)
        assert pk.parse_frame(buf, 0, len(f), rec) == 0
        pk.verify_checksums(buf, 0, rec)
        assert rec[pk.PK_L4_CSUM] == 1


def test_count_exact_and_sink_sees_no_loss_despite_ring_full():
    be = LoopbackBackend(queues=2, ring=10)  # ring smaller than a batch: retries
    spec = GenSpec(size="imix", sport="1-7")
    s = run_gen(be, spec, count=500, queues=[0, 1], batch=16)
    assert s["packets"] == 500 and s["stopped_by"] == "count"
    assert s["tx_ring_full"] > 0 and s["probed"] == 500
    assert sum(q["packets"] for q in s["per_queue"]) == 500
    assert missing_fields(s, "gen") == [] and s["schema_version"] == SCHEMA_VERSION
    _verify_all(be.rx[(1, 0)] + be.rx[(1, 1)])
    k = run_sink(be, spec, count=500)
    assert missing_fields(k, "sink") == []
    assert (k["packets"], k["probes"], k["lost"], k["duplicates"], k["reordered"]) == (
        500, 500, 0, 0, 0)
    assert k["flows_seen"] == 7 and k["loss_ratio"] == 0.0


@pytest.mark.parametrize("rate", [100_000, 1_000_000])
def test_rate_achieved_in_virtual_time(rate):
    be = LoopbackBackend()
    s = run_gen(be, GenSpec(), count=20_000, rate=rate, batch=256)
    assert abs(s["rate_ratio"] - 1) < 0.01
    assert s["requested_pps"] == rate


def test_bitrate_counts_wire_bits():
    be = LoopbackBackend()
    s = run_gen(be, GenSpec(size="imix"), duration=0.01, bitrate=1e9, batch=64)
    assert s["stopped_by"] == "duration"
    assert abs(s["rate_ratio"] - 1) < 0.01
    assert s["wire_bits"] == (s["bytes"] + 24 * s["packets"]) * 8


def test_duration_and_ticks():
    be = LoopbackBackend()
    ticks = []
    s = run_gen(be, GenSpec(), duration=3.5, rate=1000, on_tick=ticks.append)
    assert s["stopped_by"] == "duration" and abs(s["packets"] - 3500) <= 1
    assert [round(t["t"], 3) for t in ticks[:3]] == [1.0, 2.0, 3.0]
    assert ticks[-1]["packets"] == s["packets"]  # final partial interval
    assert all(set(t) >= {"packets", "bytes", "wire_bits", "drops", "errors", "queues"}
               for t in ticks)


def test_ctrl_c_stops_cleanly_with_a_summary():
    be = LoopbackBackend(interrupt_after=50)
    s = run_gen(be, GenSpec(), rate=1000, batch=8)
    assert s["stopped_by"] == "interrupt" and s["packets"] > 0
    be2 = LoopbackBackend(interrupt_after=3)
    k = run_sink(be2, GenSpec())
    assert k["stopped_by"] == "interrupt" and k["packets"] == 0 and k["loss_ratio"] is None


def test_crafted_flows_reach_their_queues_through_rss():
    from enatool.driver.policy.rss import RssConfig

    rss = RssConfig.linux_default(bytes(range(40)), num_queues=4)
    be = LoopbackBackend(queues=4, rss=rss)
    spec = GenSpec(to_queues=(1, 3), flows=6)
    s = run_gen(be, spec, count=600)  # the backend's RSS state, read by run_gen
    assert s["packets"] == 600
    k = run_sink(be, spec, count=600)
    per_q = {q["queue"]: q["packets"] for q in k["per_queue"]}
    assert per_q == {0: 0, 1: 300, 2: 0, 3: 300}
    assert k["lost"] == 0 and k["flows_seen"] == 6


def test_sink_counts_injected_loss_duplicates_and_reordering():
    held = []

    def fate(i, frame):
        if i % 10 == 9:
            return []  # drop every 10th
        if i % 50 == 0:
            return [frame, frame]  # duplicate
        if i % 7 == 3:
            held.append(frame)  # hold back, deliver after the next one
            return []
        out = [frame] + held
        held.clear()
        return out

    be = LoopbackBackend(fate=fate)
    run_gen(be, GenSpec(size="128"), count=1000)
    delivered = list(be.rx[(1, 0)])
    naive = NaiveSeqCheck(1024)
    for f in delivered:  # IPv4/UDP: the probe sits at 42, its sequence at 42 + 8
        naive.add(0, int.from_bytes(f[50:58], "big"))
    want = naive.flows[0]
    k = run_sink(be, GenSpec(size="128"), duration=0.01)
    assert k["stopped_by"] == "duration" and k["packets"] == len(delivered)
    assert (k["lost"], k["duplicates"], k["reordered"]) == (want["lost"], want["dup"],
                                                            want["reordered"])
    assert k["lost"] >= 99 and k["duplicates"] == 20 and k["reordered"] > 100


def test_slot_path_fields_mode_matches_list_path():
    spec = GenSpec(size="imix", sport="1-5", vlan=3)
    fast = SlotLoopback(n_slots=24)
    assert isinstance(fast, SlotTx)
    slow = LoopbackBackend()
    for be in (fast, slow):
        run_gen(be, spec, count=300, batch=16, fill_mode="fields")
    assert fast.submits > 0
    # timestamps differ only through the clock, which both advance identically (no waits)
    assert fast.rx[(1, 0)] == slow.rx[(1, 0)]
    _verify_all(fast.rx[(1, 0)])


def test_usage_errors():
    be = LoopbackBackend(queues=2)
    with pytest.raises(UsageError):
        run_gen(be, GenSpec(), count=1, queues=[2])
    with pytest.raises(UsageError):
        run_gen(be, GenSpec(), count=0)
    with pytest.raises(UsageError):
        run_gen(be, GenSpec(), count=1, rate=1, bitrate=1)
    with pytest.raises(UsageError):
        run_sink(be, None, duration=-1)


def test_soft_backend_gen_to_sink():
    """The real product path: two software ENA devices, RSS-crafted flows, probes verified."""
    from enatool.backends.soft import SoftBackend

    with SoftBackend(queues=2) as be:
        spec = GenSpec(size="imix", to_queues=(0, 1), flows=4)
        s = run_gen(be, spec, count=200, queues=[0, 1], rate=200_000)
        assert s["packets"] == 200 and s["errors"] == 0 and s["backend"] == "soft"
        k = run_sink(be, spec, count=200, duration=0.05)
        assert k["packets"] == 200 and k["probes"] == 200 and k["lost"] == 0
        assert k["csum_errors"] == 0
        assert [q["packets"] for q in k["per_queue"]] == [100, 100]
