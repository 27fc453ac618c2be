"""Fixtures: a SoftEnaDevice behind SoftDevicePort, and a probed EnaDriver on it."""

from __future__ import annotations

import pytest

from enatool.backends.soft_port import SoftDevicePort


def _device_cls():
    try:
        from enatool.device import SoftEnaDevice
    except ImportError:
        pytest.skip("enatool.device.SoftEnaDevice not available yet")
    return SoftEnaDevice


def _check_device_healthy(d) -> None:
    """The device never saw the driver break the interface."""
    st = d.stats
    assert d.internal_errors == []
    assert (st.dma_faults, st.aq_phase_mismatches, st.aq_bad_doorbells) == (0, 0, 0)
    assert st.aenq_bad_head_doorbells == 0


@pytest.fixture
def make_dev():
    cls = _device_cls()
    made = []

    def make(**kw):
        made.append(cls(**kw))
        return made[-1]

    yield make
    for d in made:
        _check_device_healthy(d)


@pytest.fixture
def dev(make_dev):
    return make_dev()


class RecordingPort(SoftDevicePort):
    """SoftDevicePort that logs every BAR0 write as (offset, value)."""

    def __init__(self, dev):
        super().__init__(dev)
        self.writes: list[tuple[int, int]] = []

    def write32(self, offset: int, value: int) -> None:
        self.writes.append((offset, int(value)))
        super().write32(offset, value)

    def values(self, offset: int) -> list[int]:
        return [v for o, v in self.writes if o == offset]


@pytest.fixture
def port(dev):
    return SoftDevicePort(dev)


@pytest.fixture
def drv(port):
    from enatool.driver import EnaDriver

    d = EnaDriver(port)
    d.probe()
    yield d
    d.close()


@pytest.fixture
def recording_port():
    return RecordingPort
