"""Rx copybreak rules and validation for both driver eras."""

from __future__ import annotations

import pytest

from enatool.driver.policy.copybreak import CopybreakPolicy
from enatool.errors import UsageError

pytestmark = pytest.mark.nojit


def test_defaults():
    assert CopybreakPolicy().value == 256
    assert CopybreakPolicy("2016").value == 128
    assert CopybreakPolicy("today", 64).value == 64


def test_today_needs_one_descriptor():
    p = CopybreakPolicy("today")
    assert p.should_copy(256, 1)
    assert not p.should_copy(257, 1)
    assert not p.should_copy(100, 2)  # small but split over two buffers
    assert p.should_copy(0, 1)


def test_2016_looks_at_first_buffer_only():
    p = CopybreakPolicy("2016")
    assert p.should_copy(128, 3)  # first buffer short: copied whatever follows
    assert not p.should_copy(129, 1)


def test_counter_counts_copies_only():
    p = CopybreakPolicy("today")
    for length, nd in ((60, 1), (1500, 1), (200, 2), (256, 1)):
        p.on_rx(length, nd)
    assert p.rx_copybreak_pkt == 2


def test_today_range_is_min_mtu_page():
    p = CopybreakPolicy("today")
    p.set(4096, mtu=9001)
    assert p.value == 4096
    with pytest.raises(UsageError, match=r"rx_copybreak 4097 out of range 0\.\.4096"):
        p.set(4097, mtu=9001)
    with pytest.raises(UsageError, match=r"out of range 0\.\.1500"):
        p.set(1501, mtu=1500)
    with pytest.raises(UsageError):
        p.set(-1, mtu=1500)
    p.set(0, mtu=1500)
    assert not p.should_copy(1, 1) and p.should_copy(0, 1)


def test_2016_range_is_mtu():
    p = CopybreakPolicy("2016")
    p.set(9001, mtu=9001)  # above a page: fine in 2016
    with pytest.raises(UsageError, match=r"rx_copybreak 9002 out of range 0\.\.9001"):
        p.set(9002, mtu=9001)


def test_failed_set_keeps_value():
    p = CopybreakPolicy("today")
    with pytest.raises(UsageError):
        p.set(5000, mtu=9001)
    assert p.value == 256


def test_unknown_era():
    with pytest.raises(UsageError):
        CopybreakPolicy("2020")
