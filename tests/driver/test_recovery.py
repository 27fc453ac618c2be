"""Health checks, resets and leak-free recovery on virtual time."""

from __future__ import annotations

import time

import pytest

from enatool.backends.soft_port import SoftDevicePort
from enatool.driver import EnaDriver
from enatool.ena.regs import ResetReason
from enatool.errors import AdminTimeout


def _steady(drv, dev):
    return dev.dma.live_allocations


def test_keep_alives_arrive_and_nothing_resets(drv, dev):
    drv.run(5)
    c = drv.counters
    assert c.keep_alive_rx >= 4
    assert c.total_resets == 0
    assert drv.link_up


def _no_wall_sleep(*_args):
    raise AssertionError("the driver slept on the wall clock; all waits must be virtual")


def test_keep_alive_watchdog(drv, dev, monkeypatch):
    steady = _steady(drv, dev)
    resets_before = dev.reset_count
    dev.faults.keep_alive = False
    # A 6 s watchdog runs on the virtual clock: nothing may sleep for real.
    monkeypatch.setattr(time, "sleep", _no_wall_sleep)
    t_virtual = dev.now
    drv.run(7)
    assert dev.now - t_virtual >= 7.0
    c = drv.counters
    assert c.wd_expired == 1 and c.total_resets == 1
    assert c.last_reset_reason == ResetReason.KEEP_ALIVE_TO
    # the device saw the KEEP_ALIVE_TO reset, then the NORMAL reset of the re-probe
    assert dev.reset_count == resets_before + 2
    assert drv.state == "running"
    assert dev.dma.live_allocations == steady
    assert drv.admin_contexts_in_use() == 0
    dev.faults.keep_alive = True
    ka = c.keep_alive_rx
    drv.run(3)
    assert drv.counters.keep_alive_rx >= ka + 2
    assert drv.counters.total_resets == 1


def test_2016_watchdog_is_3s(make_dev):
    dev = make_dev()
    with EnaDriver(SoftDevicePort(dev), era="2016") as drv:
        drv.probe()
        dev.faults.keep_alive = False
        drv.run(2.5)
        assert drv.counters.wd_expired == 0
        drv.run(2.0)
        assert drv.counters.wd_expired == 1


def test_admin_timeout_recovers(drv, dev):
    steady = _steady(drv, dev)
    dev.faults.admin_drop = 1
    with pytest.raises(AdminTimeout):
        drv.feat.get_offloads()
    assert not drv.aq.running
    drv.run(1.5)
    c = drv.counters
    assert c.admin_to == 1 and c.last_reset_reason == ResetReason.ADMIN_TO
    assert c.admin_q_no_completion >= 1 and c.admin_q_pause == 1
    assert drv.aq.running
    assert dev.dma.live_allocations == steady
    assert drv.admin_contexts_in_use() == 0
    drv.feat.get_offloads()  # works again


def test_admin_delay_beyond_timeout(drv, dev):
    dev.faults.admin_delay = drv.aq.timeout_s + 1.0
    with pytest.raises(AdminTimeout):
        drv.feat.get_offloads()
    dev.faults.admin_delay = 0.0
    drv.run(1.5)
    assert drv.counters.admin_to == 1
    assert drv.state == "running"


def test_lost_management_interrupt(drv, dev):
    steady = _steady(drv, dev)
    dev.faults.mgmt_irq = False
    with pytest.raises(AdminTimeout):
        drv.feat.get_offloads()
    assert drv.aq.missing_interrupt
    dev.faults.mgmt_irq = True
    drv.run(1.5)
    c = drv.counters
    assert c.missing_admin_interrupt == 1
    assert c.last_reset_reason == ResetReason.MISSING_ADMIN_INTERRUPT
    assert dev.dma.live_allocations == steady


def test_lost_interrupt_seen_by_keep_alive_watchdog(drv, dev):
    dev.faults.mgmt_irq = False
    drv.run(7.5)
    c = drv.counters
    # keep-alives pile up unprocessed in the AENQ: reason 18, not 1
    assert c.missing_admin_interrupt == 1 and c.wd_expired == 0
    assert c.last_reset_reason == ResetReason.MISSING_ADMIN_INTERRUPT


def test_auto_polling_policy(make_dev):
    dev = make_dev()
    with EnaDriver(SoftDevicePort(dev), auto_polling=True) as drv:
        drv.probe()
        dev.faults.mgmt_irq = False
        drv.feat.get_offloads()  # completes, switches to polling
        assert drv.aq.polling and drv.aq.running
        assert drv.counters.admin_q_no_completion == 1


def test_fatal_error(drv, dev):
    steady = _steady(drv, dev)
    dev.fatal_error()
    drv.run(1.5)
    c = drv.counters
    assert c.fatal_error == 1 and c.total_resets == 1
    assert c.last_reset_reason == ResetReason.GENERIC
    assert drv.state == "running"
    assert dev.dma.live_allocations == steady


def test_device_request_reset(drv, dev):
    dev.request_reset()
    drv.run(1.5)
    c = drv.counters
    assert c.device_request_reset == 1 and c.total_resets == 1
    assert c.last_reset_reason == ResetReason.DEVICE_REQUEST


def test_suspend_resume_link(drv, dev):
    dev.notify_suspend()
    dev.notify_resume()
    dev.set_link(False)
    drv.run(0.5)
    c = drv.counters
    assert (c.suspend, c.resume) == (1, 1)
    assert c.link_down == 1 and not drv.link_up
    dev.set_link(True)
    drv.run(0.5)
    assert drv.link_up and drv.counters.link_up >= 2


def test_many_recoveries_are_leak_free(drv, dev):
    drv.up()
    drv.run(1)
    steady = dev.dma.live_allocations
    n_queues = len(drv.queues)
    for i in range(5):
        drv.reset_and_recover(ResetReason.USER_TRIGGER)
        assert dev.dma.live_allocations == steady, i
        assert drv.admin_contexts_in_use() == 0
        assert len(drv.queues) == n_queues
    assert drv.counters.total_resets == 5
    drv.run(2)
    assert drv.counters.total_resets == 5
    drv.close()
    assert dev.dma.live_allocations == 0
