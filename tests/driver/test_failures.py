"""Unresponsive device and failed restores: bounded waits, retries, no leaks."""

from __future__ import annotations

import pytest

from enatool.backends.soft_port import SoftDevicePort
from enatool.driver import EnaDriver
from enatool.driver.driver import EnaDriver as _Drv
from enatool.ena import regs
from enatool.ena.regs import ResetReason
from enatool.errors import DeviceError, ResetError


class DeafPort(SoftDevicePort):
    """Drops read-less read requests while ``deaf`` is set (the device never answers)."""

    deaf = False
    calls = 0

    def write32(self, offset, value):
        if self.deaf and offset == regs.ENA_REGS_MMIO_REG_READ_OFF:
            return
        super().write32(offset, value)

    def sleep(self, seconds):
        self.calls += 1
        super().sleep(seconds)


def test_unanswered_reads_fail_probe_quickly_and_cleanly(dev):
    port = DeafPort(dev)
    port.deaf = True
    drv = EnaDriver(port)
    with pytest.raises(ResetError):
        drv.probe()
    assert port.calls < 1000  # a 200 ms read budget polled with back-off, not 200000 spins
    assert dev.dma.live_allocations == 0
    assert drv.state == "failed_probe"


def test_reset_skipped_while_firmware_unresponsive(dev):
    port = DeafPort(dev)
    drv = EnaDriver(port)
    drv.probe()
    resets = dev.reset_count
    dev.faults.keep_alive = False
    port.deaf = True
    drv.run(8)
    assert drv.counters.wd_expired == 1
    assert dev.reset_count == resets  # "FW isn't responsive, skipping reset routine"
    port.deaf = False
    dev.faults.keep_alive = True
    drv.run(1.5)
    assert dev.reset_count == resets + 2
    assert drv.counters.total_resets == 1 and drv.state == "running"
    drv.close()
    assert dev.dma.live_allocations == 0


def test_failed_restore_is_retried(drv, dev, monkeypatch):
    steady = dev.dma.live_allocations
    orig = _Drv._device_init
    calls = {"n": 0}

    def flaky(self, info):
        calls["n"] += 1
        if calls["n"] == 1:
            raise DeviceError("injected init failure")
        return orig(self, info)

    monkeypatch.setattr(_Drv, "_device_init", flaky)
    drv.reset_and_recover(ResetReason.USER_TRIGGER)
    assert drv.state == "failed" and drv.counters.reset_fail == 1
    assert drv.admin_contexts_in_use() == 0
    drv.run(1.5)
    assert drv.state == "running"
    c = drv.counters
    assert c.total_resets == 1 and c.last_reset_reason == ResetReason.USER_TRIGGER
    assert dev.dma.live_allocations == steady
