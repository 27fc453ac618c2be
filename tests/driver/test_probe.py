"""Probe end to end against the software device (INTERFACE.md §12 steps 1–7)."""

from __future__ import annotations

import json

from enatool.backends.soft_port import SoftDevicePort
from enatool.driver import EnaDriver


def test_probe_negotiates_device_defaults(drv, dev):
    info = drv.info
    assert info.pci_id == dev.pci_id
    assert info.io_queues == 8
    assert info.max_mtu == 9216
    assert info.controller_version == "0.0.1" and info.device_version == "0.10"
    assert info.dma_width == 48 or 32 <= info.dma_width <= 48
    llq = info.llq
    assert llq["placement"] == "device"
    assert llq["header_location"] == "inline" and llq["stride"] == "multiple"
    assert llq["descs_before_header"] == 2
    assert llq["entry_size"] in (128, 256)
    assert llq["max_push_header"] == llq["entry_size"] - 32
    rss = info.rss
    assert rss["function"] == "TOEPLITZ"
    assert rss["init_val"] == "0xffffffff"
    assert len(bytes.fromhex(rss["key"])) == 40
    assert rss["table_log"] == 7
    assert rss["input_sort"] == ["L3", "L4"]
    assert set(rss["hash_inputs"]["TCP4"]) == {"L3_DA", "L3_SA", "L4_DP", "L4_SP"}
    assert info.moderation["supported"] and info.moderation["resolution_us"] >= 1
    assert set(info.aenq_enabled_groups) <= {0, 1, 2, 3, 4, 6, 7}
    assert 4 in info.aenq_enabled_groups and 0 in info.aenq_enabled_groups
    assert set(info.aenq_enabled_groups) <= set(info.aenq_supported_groups)
    assert info.keep_alive_timeout_s == 6.0
    assert info.offloads["tx"]
    json.dumps(info.as_dict())  # JSON-able for `enatool info -j`
    assert drv.admin_contexts_in_use() == 0
    assert not drv.aq.polling  # interrupt mode after probe
    c = drv.counters
    assert c.admin_q_submitted_cmd == c.admin_q_completed_cmd > 10
    assert c.total_resets == 0


def test_probe_with_plain_reads(make_dev):
    dev = make_dev(readless=False)
    port = SoftDevicePort(dev)
    assert port.pci_revision & 1
    with EnaDriver(port) as drv:
        info = drv.probe()
        assert not info.readless_mmio
        assert info.io_queues == 8
        assert drv.mmio.timeouts == 0


def test_llq_fallback_to_host(make_dev):
    dev = make_dev(llq=False)
    with EnaDriver(SoftDevicePort(dev)) as drv:
        info = drv.probe()
        assert info.llq["placement"] == "host"
        assert info.llq["why_host"]
        assert info.tx_ring_size == 1024


def test_up_creates_queues_and_down_destroys(drv, dev):
    base = dev.dma.live_allocations
    drv.up()
    assert len(drv.queues) == drv.info.io_queues
    assert all(q.rx_sq is not None and q.tx_sq is not None for q in drv.queues)
    assert drv.info.rss["table"][:9] == [0, 1, 2, 3, 4, 5, 6, 7, 0]
    assert dev.dma.live_allocations > base
    drv.down()
    assert dev.dma.live_allocations == base
    assert drv.admin_contexts_in_use() == 0


def test_close_frees_everything(dev):
    port = SoftDevicePort(dev)
    drv = EnaDriver(port)
    drv.probe()
    drv.up()
    drv.close()
    assert dev.dma.live_allocations == 0
    assert drv.state == "closed"
    assert dev.last_reset_reason == 11  # SHUTDOWN


def test_2016_era_probe(make_dev):
    dev = make_dev()
    with EnaDriver(SoftDevicePort(dev), era="2016") as drv:
        info = drv.probe()
        assert drv.aenq.depth == 4
        assert info.keep_alive_timeout_s == 3.0
        assert info.admin_timeout_s == 1.0
        assert info.llq["placement"] == "host"
        assert info.rss.get("function") in ("CRC32", "")


def test_large_llq_forced(dev):
    with EnaDriver(SoftDevicePort(dev), large_llq=True) as drv:
        info = drv.probe()
        assert info.llq["entry_size"] == 256 and info.llq["large"]
        assert info.llq["max_push_header"] == 224
        assert info.tx_ring_size == 512  # ENA_DEFAULT_WIDE_LLQ_RING_SIZE
        drv.up()
        assert all(q.tx_sq.placement == 3 for q in drv.queues)
