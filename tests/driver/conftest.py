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


@pytest.fixture
def make_dev():
    cls = _device_cls()
    return lambda **kw: cls(**kw)


@pytest.fixture
def dev(make_dev):
    return make_dev()


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
