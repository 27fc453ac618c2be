"""Every public jitted kernel in numba_kernels is named by an equality test against a reference
twin (a test module importing tests/naive or a pure-Python policy of enatool.driver.policy),
or listed below with the reason it has none. Why: ARCHITECTURE.md promises a naive twin per
kernel; this test makes a new kernel without one fail loudly instead of silently."""

from __future__ import annotations

import importlib
import pathlib
import pkgutil
import re

import pytest

import numba_kernels
from numba_kernels.jit import jit_disabled

TESTS = pathlib.Path(__file__).resolve().parents[1]
TWIN_IMPORT = re.compile(r"^\s*(from|import) (tests\.)?naive\b|^from enatool\.driver\.policy", re.M)

#: kernel → why no equality test names it. "inner" helpers are compiled into a kernel that has
#: an equality test; "I/O" loops touch sockets/rings of a real netdev and are covered by the
#: netns end-to-end tests; "gap" marks a missing twin still to be written.
EXEMPT = {
    "checksum.csum_fold": "inner: folded by inet_checksum / ones_sum16 (twin: naive checksum)",
    "device_dp.rss_flow_type": "inner: part of rx_classify (twin: naive_device_dp)",
    "device_dp.rss_input": "inner: part of rx_classify (twin: naive_device_dp)",
    "device_dp.dma_ok": "inner: bounds check of tx_build_frames / rx_deliver (naive HostMemory, "
                        "test_device_dp_tx_build / test_device_dp_bursts)",
    "fieldengine.rewrite_fields": "inner: driven through FieldEngine vs naive_gen",
    "fieldengine.fill_frames": "inner: driven through FieldEngine vs naive_gen",
    "fieldengine.peek_classes": "inner: driven through FieldEngine vs naive_gen",
    "hdr.index_median": "inner: percentile helpers compared through naive_hdr",
    "hdr.record": "inner: record_many is compared with naive_hdr",
    "hdr.bucket_moments": "inner: percentile helpers compared through naive_hdr",
    "latency.get_be": "inner: byte helper of the probe loops",
    "latency.put_be": "inner: byte helper of the probe loops",
    "latency.on_answer": "I/O: probe loop step (tests/latency)",
    "latency.socket_client": "I/O: socket probe loop (tests/latency netns)",
    "latency.xsk_client": "I/O: AF_XDP probe loop (tests/latency netns)",
    "latency.socket_reflector": "I/O: socket reflector (tests/latency netns)",
    "latency.reflect_frame": "inner: reflector helper (tests/latency)",
    "latency.xsk_reflector": "I/O: AF_XDP reflector (tests/latency netns)",
    "memops.zero_bytes": "trivial: one store loop, checked in tests/kernels via warm_up use",
    "moderation.adaptive2016_decide": "inner: step of adaptive2016_* (twin: AdaptiveTable2016)",
    "moderation.adaptive2016_step_queues": "twin: AdaptiveTable2016 (enatool.driver.policy)",
    "moderation.adaptive2016_run": "twin: AdaptiveTable2016 (enatool.driver.policy)",
    "moderation.net_dim_sample": "twin: NetDim (enatool.driver.policy.dim)",
    "moderation.net_dim_run": "twin: NetDim (enatool.driver.policy.dim)",
    "packet.is_ipv6_ext_header": "inner: part of parse_frame (twin: naive parse)",
    "packet.l4_pseudo_sum": "inner: part of the checksum fills (twin: naive tx_offload)",
    "packet.l4_csum_field_off": "inner: part of the checksum fills (twin: naive tx_offload)",
    "packet.ipv4_header_csum_fill": "inner: part of apply_tx_offloads (twin: naive tx_offload)",
    "packet.l4_csum_fill": "inner: part of apply_tx_offloads (twin: naive tx_offload)",
    "rings.cq_write_rx_burst": "wrapper: loop of cq_write_rx (twin: naive cq_write_rx)",
    "rings.tx_meta_cache_apply": "inner: part of tx_sq_fetch / llq_fetch (twins in naive)",
    "sendmmsg.fill_msgs": "I/O: sendmmsg vectors (tests/gen netns)",
    "sendmmsg.send_loop": "I/O: sendmmsg loop (tests/gen netns)",
    "seqcheck.probe_of": "inner: part of sink_batch",
    "xsk.tx_loop": "I/O: AF_XDP rings of a real socket (tests/backends afxdp)",
    "xsk.rx_loop": "I/O: AF_XDP rings of a real socket (tests/backends afxdp)",
}


def _kernels() -> list[str]:
    from numba.core.registry import CPUDispatcher

    out = []
    for m in pkgutil.iter_modules(numba_kernels.__path__):
        mod = importlib.import_module(f"numba_kernels.{m.name}")
        for name, f in vars(mod).items():
            if (isinstance(f, CPUDispatcher) and not name.startswith("_")
                    and f.py_func.__module__ == mod.__name__):
                out.append(f"{m.name}.{name}")
    return sorted(out)


@pytest.mark.skipif(jit_disabled(), reason="kernels are plain functions without the JIT")
def test_every_kernel_has_an_equality_test_or_a_stated_exemption():
    twin_tests = [p.read_text() for p in TESTS.rglob("test_*.py")
                  if TWIN_IMPORT.search(p.read_text())]
    kernels = _kernels()
    assert len(kernels) > 100
    missing = [k for k in kernels if k not in EXEMPT and not any(
        re.search(rf"\b{k.split('.')[1]}\b", t) for t in twin_tests)]
    assert missing == [], f"kernels without a naive twin test or exemption: {missing}"
    stale = sorted(set(EXEMPT) - set(kernels))
    assert stale == [], f"exemptions for kernels that no longer exist: {stale}"


@pytest.mark.skipif(jit_disabled(), reason="kernels are plain functions without the JIT")
def test_driver_dp_kernels_all_have_twins():
    """The driver datapath has no exemption: each burst kernel has its naive twin."""
    from naive import naive_driver_dp as naive

    for k in _kernels():
        mod, name = k.split(".")
        if mod == "driver_dp":
            assert k not in EXEMPT
            assert hasattr(naive, name) or name == "csum_verdict_code", name
