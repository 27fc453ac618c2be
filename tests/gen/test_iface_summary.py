"""gen/sink on an interface, the program layer alone: ENA allowance counters read from
`ethtool -S` text and reported as deltas, and engine counters shaped into the documented
summaries (no network, no root)."""

from __future__ import annotations

import subprocess

import numpy as np

from enatool.gen import iface
from enatool.gen.templates import GenSpec, build_templates
from enatool.report.schema import missing_fields
from numba_kernels import seqcheck as sc

ETHTOOL_S = """NIC statistics:
     tx_timeout: 0
     bw_in_allowance_exceeded: 12
     bw_out_allowance_exceeded: 0
     pps_allowance_exceeded: 7
     conntrack_allowance_exceeded: 0
     linklocal_allowance_exceeded: 1
     conntrack_allowance_available: 400000
     queue_0_tx_cnt: 5
"""


def test_ena_allowance_parsed_and_delta(monkeypatch):
    calls = []

    def fake_run(cmd, **kw):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, ETHTOOL_S, "")

    monkeypatch.setattr(iface.shutil, "which", lambda name: f"/usr/sbin/{name}")
    monkeypatch.setattr(iface.subprocess, "run", fake_run)
    before = iface.ena_allowance("eth1", "ns1")
    assert calls[0] == ["ip", "netns", "exec", "ns1", "/usr/sbin/ethtool", "-S", "eth1"]
    assert before == {"bw_in_allowance_exceeded": 12, "bw_out_allowance_exceeded": 0,
                      "pps_allowance_exceeded": 7, "conntrack_allowance_exceeded": 0,
                      "linklocal_allowance_exceeded": 1,
                      "conntrack_allowance_available": 400000}
    after = {**before, "pps_allowance_exceeded": 10}
    d = iface.allowance_delta(before, after)
    assert d["delta"]["pps_allowance_exceeded"] == 3 and d["delta"]["bw_in_allowance_exceeded"] == 0
    assert iface.allowance_delta(None, after) is None


def test_gen_summary_schema_and_rate_ratio():
    tset = build_templates(GenSpec(sport="1024-1027"))
    raw = {"backend": "afxdp", "ifname": "veth0", "interrupted": False, "duration_s": 1.1,
           "send_window_s": 1.0, "packets": 100_000, "bytes": 6_000_000, "completed": 100_000,
           "per_queue": [{"queue": 0, "tx_packets": 100_000, "tx_bytes": 6_000_000,
                          "tx_ring_full": 3}]}
    s = iface.gen_summary(raw, tset, count=100_000, rate=100_000.0, bitrate=None,
                          fill_mode="fields", seq_next=np.full(4, 25_000, np.int64))
    assert missing_fields(s, "gen") == []
    assert s["rate_ratio"] == 1.0 and s["stopped_by"] == "count" and s["tx_ring_full"] == 3
    assert s["per_flow_sent"] == [25_000] * 4 and len(s["traffic"]["flow_table"]) == 4


def test_sink_summary_schema_per_flow_and_drops():
    fs = np.zeros((2, 8, sc.FS_N), np.int64)
    fs[:, :, sc.FS_MAX_SEQ] = -1
    fs[0, 3, [sc.FS_RX, sc.FS_MAX_SEQ, sc.FS_LOST]] = [10, 10, 1]
    fs[1, 5, [sc.FS_RX, sc.FS_MAX_SEQ, sc.FS_DELAY_N, sc.FS_DELAY_SUM, sc.FS_DELAY_MIN,
              sc.FS_DELAY_MAX]] = [4, 3, 4, 400, 50, 200]
    raw = {"backend": "afxdp", "interrupted": True, "duration_s": 2.0, "packets": 14,
           "bytes": 840, "probes": 14, "foreign": 0, "unknown_flow": 0, "csum_errors": 0,
           "fstate": fs,
           "per_queue": [{"queue": q, "rx_packets": 7, "rx_bytes": 420, "probes": 7,
                          "csum_errors": 0} for q in (0, 1)]}
    s = iface.sink_summary(raw, count=None, xdp={0: {"dropped": 2}},
                           xsk={1: {"rx_dropped": 1, "rx_ring_full": 0}})
    assert missing_fields(s, "sink") == []
    assert s["stopped_by"] == "interrupt" and s["flows_seen"] == 2 and s["lost"] == 1
    assert [r["flow"] for r in s["per_flow"]] == [3, 5]
    assert s["per_flow"][1]["delay_mean_ns"] == 100.0
    assert s["one_way_delay"] == {"count": 4, "min_ns": 50, "mean_ns": 100.0, "max_ns": 200}
    assert s["drops"] == 3
