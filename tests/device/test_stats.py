"""GET_STATS: basic, ENI, customer metrics, extended; both device ids and scopes."""

from __future__ import annotations

import numpy as np
import pytest

from enatool.ena.admin import (
    ENA_ADMIN_BASIC_STATS,
    ENA_ADMIN_CUSTOMER_METRICS,
    ENA_ADMIN_ENI_STATS,
    GetStatsType,
)

from .conftest import payload


@pytest.mark.parametrize("device_id,scope", [(0xFFFF, 1), (0, 0)])
def test_basic_stats(drv, device_id, scope):
    st = drv.dev.stats
    st.tx_bytes, st.tx_pkts, st.rx_bytes, st.rx_pkts = 1 << 40, 2, 3, 4
    st.rx_drops, st.tx_drops, st.rx_overruns = 5, 6, 7
    c = drv.get_stats(GetStatsType.BASIC, device_id=device_id, scope=scope)
    assert c["status"] == 0
    p = payload(c, ENA_ADMIN_BASIC_STATS)
    assert p == {"tx_bytes": 1 << 40, "tx_pkts": 2, "rx_bytes": 3, "rx_pkts": 4, "rx_drops": 5,
                 "tx_drops": 6, "rx_overruns": 7}


def test_eni_stats(drv):
    drv.dev.stats.pps_allowance_exceeded = 42
    p = payload(drv.get_stats(GetStatsType.ENI, device_id=0), ENA_ADMIN_ENI_STATS)
    assert p["pps_allowance_exceeded"] == 42 and p["bw_in_allowance_exceeded"] == 0


def test_customer_metrics(drv):
    dev = drv.dev
    dev.stats.bw_out_allowance_exceeded = 9
    dev.stats.conntrack_allowance_available = 1234
    # probe: no buffer, learn what is supported
    c = drv.get_stats(GetStatsType.CUSTOMER_METRICS, requested_metrics=0xFF)
    assert payload(c, ENA_ADMIN_CUSTOMER_METRICS)["reported_metrics"] == 0x3F
    buf = dev.dma.alloc(512)
    c = drv.get_stats(GetStatsType.CUSTOMER_METRICS, requested_metrics=0x22,
                      ctrl_length=512, ctrl_address=buf)
    assert payload(c, ENA_ADMIN_CUSTOMER_METRICS)["reported_metrics"] == 0x22
    vals = np.frombuffer(dev.dma.read(buf, 16), "<u8")
    assert list(vals) == [9, 1234]
    c = drv.get_stats(GetStatsType.CUSTOMER_METRICS, requested_metrics=0x3F,
                      ctrl_length=16, ctrl_address=buf)
    assert c["status"] == 4  # buffer too small for six values


def test_extended_stats_text(drv):
    dev = drv.dev
    buf = dev.dma.alloc(4096)
    dev.stats.rx_drops = 77
    c = drv.get_stats(GetStatsType.EXTENDED, ctrl_length=4096, ctrl_address=buf)
    assert c["status"] == 0
    text = dev.dma.read(buf, 4096).split(b"\0")[0].decode()
    assert "rx_drops 77" in text.splitlines()
    assert "admin_commands" in text
