"""What the device sees: probe order, register sequences, reset reasons, hints."""

from __future__ import annotations

import pytest

from enatool.driver import EnaDriver
from enatool.driver.admin_queue import AdminQueue
from enatool.ena import admin as A
from enatool.ena import regs
from enatool.ena.bits import pack
from enatool.ena.regs import ResetReason

GET, SET, STATS = int(A.AdminOpcode.GET_FEATURE), int(A.AdminOpcode.SET_FEATURE), 11


@pytest.fixture
def admin_log(monkeypatch):
    log: list[tuple[int, int]] = []
    orig = AdminQueue.execute

    def execute(self, cmd):
        log.append((cmd[2], cmd[17] if cmd[2] in (GET, SET) else cmd[16]))
        return orig(self, cmd)

    monkeypatch.setattr(AdminQueue, "execute", execute)
    return log


def test_probe_admin_order(dev, admin_log, recording_port):
    with EnaDriver(recording_port(dev)) as drv:
        drv.probe()
    assert admin_log[:18] == [
        (SET, 28),  # step 3 host attributes
        (GET, 1), (GET, 7), (GET, 26), (GET, 11), (GET, 3), (GET, 4),  # step 4
        (STATS, 4),  # customer metrics (capability 2)
        (GET, 26), (SET, 26), (SET, 4),  # step 5
        (GET, 20), (GET, 12), (GET, 10), (SET, 10), (GET, 18), (SET, 18),  # step 7
        (GET, 27),
    ]


def test_probe_register_sequence(dev, recording_port):
    port = recording_port(dev)
    with EnaDriver(port) as drv:
        drv.probe()
        w = port.writes
        assert port.values(regs.ENA_REGS_DEV_CTL_OFF) == [1, 0]  # reset NORMAL, then release
        assert port.values(regs.ENA_REGS_INTR_MASK_OFF) == [1, 0]
        assert port.values(regs.ENA_REGS_AENQ_HEAD_DB_OFF)[0] == 16
        first_head = w.index((regs.ENA_REGS_AENQ_HEAD_DB_OFF, 16))
        assert w.index((regs.ENA_REGS_INTR_MASK_OFF, 0)) < first_head
        # MMIO response address written before the reset and again right after the reset bit
        lo = [i for i, (o, _) in enumerate(w) if o == regs.ENA_REGS_MMIO_RESP_LO_OFF]
        reset_at = w.index((regs.ENA_REGS_DEV_CTL_OFF, 1))
        assert lo[0] < reset_at < lo[1]
        aq_caps = port.values(regs.ENA_REGS_AQ_CAPS_OFF)
        assert aq_caps == [32 | 64 << 16]
        assert port.values(regs.ENA_REGS_AENQ_CAPS_OFF) == [16 | 64 << 16]


def test_extended_reason_sent_when_supported(dev, recording_port):
    port = recording_port(dev)
    with EnaDriver(port) as drv:
        drv.probe()
        drv.reset_and_recover(ResetReason.MISSING_ADMIN_INTERRUPT)
        ctl = [v for v in port.values(regs.ENA_REGS_DEV_CTL_OFF) if v & 1]
        assert [regs.dev_ctl_reset_reason(v) for v in ctl] == [0, 18, 0]


def test_extended_reason_falls_back_to_generic(make_dev, recording_port):
    dev = make_dev(capabilities=0)
    port = recording_port(dev)
    with EnaDriver(port) as drv:
        drv.probe()
        dev.request_reset()
        drv.run(1.5)
        assert drv.counters.device_request_reset == 1
        assert drv.counters.last_reset_reason == ResetReason.DEVICE_REQUEST
        ctl = [v for v in port.values(regs.ENA_REGS_DEV_CTL_OFF) if v & 1]
        assert [regs.dev_ctl_reset_reason(v) for v in ctl] == [0, 13, 0]


def test_2016_reset_carries_no_reason(make_dev, recording_port):
    dev = make_dev()
    port = recording_port(dev)
    with EnaDriver(port, era="2016") as drv:
        drv.probe()
        drv.reset_and_recover(ResetReason.KEEP_ALIVE_TO)
        assert [v for v in port.values(regs.ENA_REGS_DEV_CTL_OFF) if v & 1] == [1, 1, 1]


def test_watchdog_hint_disables_check(make_dev, recording_port):
    dev = make_dev()
    dev.hw_hints["driver_watchdog_timeout"] = A.ENA_HW_HINTS_NO_TIMEOUT
    with EnaDriver(recording_port(dev)) as drv:
        info = drv.probe()
        assert info.keep_alive_timeout_s is None
        dev.faults.keep_alive = False
        drv.run(10)
        assert drv.counters.total_resets == 0


def test_update_hints_event(drv, dev):
    hints = pack(A.ENA_ADMIN_HW_HINTS, driver_watchdog_timeout=2000,
                 admin_completion_tx_timeout=500)
    dev.aenq.post(A.AenqGroup.NOTIFICATION, A.AenqNotificationSyndrome.UPDATE_HINTS, hints)
    drv.run(0.5)
    assert drv.health.keep_alive_timeout_s == 2.0
    assert drv.aq.timeout_s == 0.5
    dev.faults.keep_alive = False
    drv.run(3.5)
    assert drv.counters.wd_expired == 1
