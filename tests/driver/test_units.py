"""Device-free pieces of the driver layer: reset encoding, back-off, LLQ negotiation,
health decisions, host-info page."""

from __future__ import annotations

import pytest

from enatool.driver import health, llq
from enatool.driver.features import host_info_bytes
from enatool.driver.reset import backoff_s, dev_ctl_value
from enatool.ena import admin as A
from enatool.ena import regs
from enatool.ena.bits import unpack
from enatool.ena.regs import ResetReason


def test_reset_reason_nibbles():
    val, sent = dev_ctl_value(ResetReason.KEEP_ALIVE_TO, extended_ok=False)
    assert val == 1 | (1 << 28) and sent == 1
    val, sent = dev_ctl_value(ResetReason.DEVICE_REQUEST, extended_ok=True)
    assert sent == 19 and val == 1 | (3 << 28) | (1 << 24)
    assert regs.dev_ctl_reset_reason(val) == 19


def test_extended_reason_falls_back_to_generic():
    val, sent = dev_ctl_value(ResetReason.MISSING_ADMIN_INTERRUPT, extended_ok=False)
    assert sent == ResetReason.GENERIC
    assert val == 1 | (13 << 28)


def test_2016_sends_no_reason():
    assert dev_ctl_value(ResetReason.KEEP_ALIVE_TO, True, era="2016") == (1, 0)


def test_backoff_clamps():
    assert backoff_s(0) == pytest.approx(5e-3)  # GitHub min delay 5 ms, capped at 5 ms
    assert backoff_s(0, 100) == pytest.approx(100e-6)
    assert backoff_s(3, 100) == pytest.approx(800e-6)
    assert backoff_s(40, 100) == pytest.approx(5e-3)


def _llq(**over):
    base = dict(
        max_llq_num=8, max_llq_depth=1024, max_wide_llq_depth=0,
        header_location_ctrl_supported=1, entry_size_ctrl_supported=0x7,
        desc_num_before_header_supported=0x1F, descriptors_stride_ctrl_supported=0x3,
        entry_size_recommended=1, accel_mode_supported_flags=0x3,
        accel_mode_max_tx_burst_size=1024,
    )
    base.update(over)
    return base


def test_llq_defaults():
    cfg = llq.negotiate(_llq())
    assert (cfg.entry_size, cfg.descs_before_header, cfg.stride) == (128, 2, "multiple")
    assert cfg.max_push_header == 96 and cfg.descs_per_entry == 8
    assert cfg.disable_meta_caching and cfg.max_entries_in_tx_burst == 8
    assert not cfg.large


def test_llq_large_when_recommended_or_forced():
    cfg = llq.negotiate(_llq(entry_size_recommended=4))
    assert cfg.large and cfg.entry_size == 256 and cfg.max_push_header == 224
    assert llq.negotiate(_llq(), large_policy=True).entry_size == 256
    assert llq.negotiate(_llq(entry_size_recommended=4), large_policy=False).entry_size == 128
    # large asked but unsupported: normal
    assert llq.negotiate(_llq(entry_size_ctrl_supported=1), large_policy=True).entry_size == 128
    # wide LLQ halves the Tx depth unless the device reports one
    cfg = llq.negotiate(_llq(entry_size_recommended=4))
    assert llq.max_tx_depth(cfg, 1024, 1024) == 512
    cfg.max_wide_llq_depth = 256
    assert llq.max_tx_depth(cfg, 1024, 1024) == 256


def test_llq_fallback_order():
    cfg = llq.negotiate(_llq(entry_size_ctrl_supported=0x6, desc_num_before_header_supported=0xA,
                             descriptors_stride_ctrl_supported=0x1))
    assert cfg.entry_size == 192 and cfg.descs_before_header == 2 and cfg.stride == "single"
    assert cfg.descs_per_entry == 1
    assert llq.negotiate(_llq(desc_num_before_header_supported=0x9)).descs_before_header == 1
    assert llq.negotiate(_llq(desc_num_before_header_supported=0xC)).descs_before_header == 4
    with pytest.raises(ValueError):
        llq.negotiate(_llq(header_location_ctrl_supported=2))
    with pytest.raises(ValueError):
        llq.negotiate(_llq(entry_size_ctrl_supported=0))


def test_health_keep_alive_decisions():
    cfg = health.HealthConfig.for_era("today")
    assert cfg.keep_alive_timeout_s == 6.0
    assert health.HealthConfig.for_era("2016").keep_alive_timeout_s == 3.0
    assert health.check_keep_alive(cfg, 10.0, 5.0, lambda: False) is None
    assert health.check_keep_alive(cfg, 11.5, 5.0, lambda: False) == ResetReason.KEEP_ALIVE_TO
    assert (health.check_keep_alive(cfg, 11.5, 5.0, lambda: True)
            == ResetReason.MISSING_ADMIN_INTERRUPT)
    cfg.apply_watchdog_hint(2000)
    assert cfg.keep_alive_timeout_s == 2.0
    cfg.apply_watchdog_hint(0)
    assert cfg.keep_alive_timeout_s == 2.0
    cfg.apply_watchdog_hint(0xFFFF)
    assert health.check_keep_alive(cfg, 1e9, 0.0, lambda: False) is None


def test_health_admin_and_fatal():
    assert health.check_admin_state(True, False) is None
    assert health.check_admin_state(False, False) == ResetReason.ADMIN_TO
    assert health.check_admin_state(False, True) == ResetReason.MISSING_ADMIN_INTERRUPT
    assert health.check_fatal_error(0x21) == ResetReason.GENERIC
    assert health.check_fatal_error(0x01) is None
    assert health.check_fatal_error(0xFFFFFFFF) is None


def test_host_info_page():
    page = unpack(A.ENA_ADMIN_HOST_INFO, host_info_bytes())
    assert page["os_type"] == A.OsType.LINUX
    assert page["ena_spec_version"] == 0x0200
    assert page["driver_version"] >> 24 == ord("g")
    assert page["driver_supported_features"] == 0x3DE
    old = unpack(A.ENA_ADMIN_HOST_INFO, host_info_bytes("2016"))
    assert old["ena_spec_version"] == 0 and old["driver_supported_features"] == 0
