"""AENQ events: link change, keep-alive cadence, notifications, fatal error, full ring."""

from __future__ import annotations

from enatool.ena import regs as R
from enatool.ena.admin import (
    ENA_ADMIN_AENQ_KEEP_ALIVE_DESC,
    ENA_ADMIN_AENQ_LINK_CHANGE_DESC,
    ENA_ADMIN_FEATURE_AENQ_DESC,
    AenqGroup,
    FeatureId,
)
from enatool.ena.bits import pack, unpack

ALL = 0b11011111


def enable(drv, groups=ALL):
    c = drv.set_feature(FeatureId.AENQ_CONFIG, pack(ENA_ADMIN_FEATURE_AENQ_DESC,
                                                    enabled_groups=groups))
    assert c["status"] == 0


def test_no_events_before_configuration(dev):
    from .conftest import MiniDriver

    drv = MiniDriver(dev)
    dev.set_link(False)
    dev.notify_suspend()
    dev.advance(3)
    assert dev.stats.aenq_events == 0 and dev.stats.aenq_events_discarded == 2
    drv.bring_up()
    dev.notify_suspend()  # configured, but the group is not enabled
    dev.process()
    assert drv.events() == []


def test_link_change_on_group_0_enable_and_set_link(drv):
    dev = drv.dev
    enable(drv, 1 << AenqGroup.LINK_CHANGE)
    ev = drv.events()
    assert len(ev) == 1 and ev[0]["group"] == AenqGroup.LINK_CHANGE
    assert unpack(ENA_ADMIN_AENQ_LINK_CHANGE_DESC, ev[0]["raw"])["link_flags"] & 1 == 1
    dev.set_link(False)
    dev.process()
    ev = drv.events()
    assert unpack(ENA_ADMIN_AENQ_LINK_CHANGE_DESC, ev[0]["raw"])["link_flags"] & 1 == 0
    dev.advance(5)
    assert drv.events() == []  # keep-alive group not enabled


def test_keep_alive_cadence_timestamps_and_counters(drv):
    dev = drv.dev
    dev.stats.rx_drops = (5 << 32) | 7
    dev.stats.tx_drops = 3
    dev.stats.rx_overruns = 11
    enable(drv, 1 << AenqGroup.KEEP_ALIVE)
    assert drv.events() == []
    got = []
    for _ in range(10):  # the driver drains every second, like its timer service
        dev.advance(1.0)
        got += drv.events()
    assert [e["group"] for e in got] == [AenqGroup.KEEP_ALIVE] * 10
    assert [e["timestamp"] for e in got] == list(range(1, 11))
    ka = unpack(ENA_ADMIN_AENQ_KEEP_ALIVE_DESC, got[-1]["raw"])
    assert (ka["rx_drops_high"], ka["rx_drops_low"]) == (5, 7)
    assert (ka["tx_drops_low"], ka["rx_overruns_low"]) == (3, 11)
    # phases: 10 events in a 16-deep ring, all phase 1; the next 6 fill it, then phase 0
    assert all(e["flags"] & 1 == 1 for e in got)
    for _ in range(10):
        dev.advance(1.0)
        got += drv.events()
    assert [e["flags"] & 1 for e in got[16:]] == [0, 0, 0, 0]
    assert got[-1]["timestamp"] == 20


def test_keep_alive_ten_seconds_in_one_advance(drv):
    dev = drv.dev
    enable(drv, 1 << AenqGroup.KEEP_ALIVE)
    dev.advance(10)
    ev = drv.events()
    assert len(ev) == 10 and [e["timestamp"] for e in ev] == list(range(1, 11))
    assert abs(dev.now - 10.0) < 1e-9


def test_notifications_fatal_and_reset_request(drv):
    dev = drv.dev
    enable(drv)
    drv.events()
    dev.notify_suspend()
    dev.notify_resume()
    dev.request_reset()
    dev.fatal_error()
    dev.process()
    ev = drv.events()
    assert [(e["group"], e["syndrome"]) for e in ev] == [
        (AenqGroup.NOTIFICATION, 0), (AenqGroup.NOTIFICATION, 1),
        (AenqGroup.DEVICE_REQUEST_RESET, 0), (AenqGroup.FATAL_ERROR, 0)]
    assert dev.bar0.read32(R.ENA_REGS_DEV_STS_OFF) & R.ENA_REGS_DEV_STS_FATAL_ERROR_MASK
    drv.reset()
    assert not dev.bar0.read32(R.ENA_REGS_DEV_STS_OFF) & R.ENA_REGS_DEV_STS_FATAL_ERROR_MASK


def test_full_aenq_waits_for_head_doorbell(drv):
    dev = drv.dev
    enable(drv, 1 << AenqGroup.NOTIFICATION)
    for i in range(20):
        dev.notify_suspend() if i % 2 == 0 else dev.notify_resume()
    dev.process()
    first = drv.events(ack=False)
    assert len(first) == 16  # ring full; nothing overwritten
    dev.process()
    assert drv.events(ack=False) == []
    assert dev.aenq.tail == 16
    drv.w(R.ENA_REGS_AENQ_HEAD_DB_OFF, drv.aenq_head)  # give the space back
    dev.process()
    rest = drv.events()
    assert len(rest) == 4
    assert [e["syndrome"] for e in first + rest] == [i % 2 for i in range(20)]
    assert all(e["flags"] & 1 == 0 for e in rest)  # second lap: phase 0


def test_keep_alive_does_not_pile_up_while_full(drv):
    dev = drv.dev
    enable(drv, 1 << AenqGroup.KEEP_ALIVE)
    dev.advance(100)
    assert len(drv.events(ack=False)) == 16
    assert len(dev.aenq.backlog) == 1  # the waiting keep-alive is refreshed, not queued
    drv.w(R.ENA_REGS_AENQ_HEAD_DB_OFF, drv.aenq_head)
    dev.process()
    ev = drv.events()
    assert len(ev) == 1 and ev[0]["timestamp"] == 100


def test_bad_head_doorbell_ignored(drv):
    n = drv.dev.stats.aenq_bad_head_doorbells
    drv.w(R.ENA_REGS_AENQ_HEAD_DB_OFF, 1000)
    assert drv.dev.stats.aenq_bad_head_doorbells == n + 1
    assert drv.dev.aenq.head_db == 16


def test_disable_keep_alive_group_stops_timer(drv):
    dev = drv.dev
    enable(drv, 1 << AenqGroup.KEEP_ALIVE)
    dev.advance(2)
    enable(drv, 0)
    dev.advance(5)
    assert len(drv.events()) == 2


def test_update_hints_event(drv):
    from enatool.ena.admin import ENA_ADMIN_AENQ_UPDATE_HINTS_DESC

    dev = drv.dev
    enable(drv, 1 << AenqGroup.NOTIFICATION)
    dev.update_hints(driver_watchdog_timeout=3000, mmio_read_timeout=50)
    dev.process()
    ev = drv.events()
    assert (ev[0]["group"], ev[0]["syndrome"]) == (AenqGroup.NOTIFICATION, 2)
    h = unpack(ENA_ADMIN_AENQ_UPDATE_HINTS_DESC, ev[0]["raw"])
    assert h["driver_watchdog_timeout"] == 3000 and h["mmio_read_timeout"] == 50
    assert h["admin_completion_tx_timeout"] == 3000
