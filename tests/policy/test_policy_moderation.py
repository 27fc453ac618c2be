"""Static moderation values and the 2016 5-level adaptive table, with hand-computed traces.

Default table (resolution 1): interval 0/32/80/128/192, pkts 3/12/48/96/128,
bytes 3048/16384/65536/131072/196608; smoothed' = (4*interval[new] + 6*smoothed + 5) // 10.
"""

from __future__ import annotations

import pytest

from enatool.driver.policy.moderation import (
    AdaptiveTable2016,
    CoalesceSettings,
    ModerationDefaults,
    ModerationTable2016,
    parse_level_sysfs_text,
    units_to_usecs,
    usecs_to_units,
)
from enatool.errors import UsageError

pytestmark = pytest.mark.nojit


def test_defaults_per_era():
    assert ModerationDefaults.for_era("today") == ModerationDefaults(64, 20, True)
    assert ModerationDefaults.for_era("2016") == ModerationDefaults(196, 0, True)
    assert ModerationDefaults.for_era("2016", moderation_supported=False).adaptive_rx is False


def test_unit_conversion():
    assert usecs_to_units(196, 1) == 196
    assert usecs_to_units(196, 0) == 196  # resolution 0 is treated as 1
    assert usecs_to_units(197, 2) == 98  # integer division, like ena_com
    assert units_to_usecs(98, 2) == 196
    with pytest.raises(UsageError):
        usecs_to_units(-1, 1)


# (pkts, bytes) per NAPI cycle -> expected (level, smoothed); arithmetic in the comments.
TRACE_STRIDE1 = [
    ((2, 1000), (0, 0)),          # LOWEST: 2>3 no, 1000>3048 no; (0+0+5)//10 = 0
    ((10, 5000), (1, 13)),        # 10>3 -> LOW; (4*32+0+5)//10 = 133//10 = 13
    ((20, 20000), (2, 40)),       # pred LOWEST no; 20>12 -> MID; (320+78+5)//10 = 40
    ((0, 0), (2, 40)),            # no packets: keep everything
    ((100, 10000), (1, 37)),      # bytes 10000 <= LOW.bytes 16384 -> LOW; (128+240+5)//10
    ((200, 300000), (2, 54)),     # up; (320+222+5)//10 = 547//10 = 54
    ((200, 300000), (3, 84)),     # up; (512+324+5)//10 = 841//10 = 84
    ((200, 300000), (4, 127)),    # up; (768+504+5)//10 = 1277//10 = 127
    ((200, 300000), (4, 153)),    # HIGHEST stays; (768+762+5)//10 = 1535//10 = 153
    ((50, 300000), (3, 143)),     # pkts 50 <= HIGH.pkts 96 -> down; (512+918+5)//10 = 143
    ((3, 3048), (2, 118)),        # 3 <= MID.pkts -> down; (320+858+5)//10 = 1183//10 = 118
    ((1, 100), (1, 84)),          # down; (128+708+5)//10 = 841//10 = 84
    ((1, 100), (0, 50)),          # down to LOWEST; (0+504+5)//10 = 50
    ((3, 3048), (0, 30)),         # LOWEST needs strictly more: stay; (0+300+5)//10 = 30
    ((3, 3049), (1, 31)),         # 3049 > 3048 -> LOW; (128+180+5)//10 = 31
]


def _run(mod, trace):
    got = []
    for (pkts, nbytes), _ in trace:
        mod.on_rx_clean(pkts, nbytes)
        delay = mod.on_napi_complete()
        assert delay == mod.smoothed
        got.append((mod.level, mod.smoothed))
    return got


def test_hand_trace_stride1():
    mod = AdaptiveTable2016()
    assert (mod.level, mod.smoothed) == (0, 0)
    assert _run(mod, TRACE_STRIDE1) == [want for _, want in TRACE_STRIDE1]


def test_counters_accumulate_over_clean_passes_and_reset():
    mod = AdaptiveTable2016()
    mod.on_rx_clean(2, 1000)
    mod.on_rx_clean(2, 1000)  # 4 pkts in total: > 3
    assert mod.on_napi_complete() == 13 and mod.level == 1
    assert (mod.pkts, mod.bytes) == (0, 0)
    mod.on_rx_clean(1, 64)
    mod.on_napi_complete()
    assert mod.level == 0  # the previous cycle's 4 packets were not carried over


TRACE_STRIDE2 = [
    ((10, 5000), (2, 32)),        # LOWEST -> MID (+2); (320+0+5)//10 = 32
    ((200, 300000), (4, 96)),     # pred LOWEST no; 200>48 -> HIGHEST; (768+192+5)//10 = 96
    ((200, 300000), (4, 134)),    # HIGHEST stays; (768+576+5)//10 = 134
    ((20, 20000), (2, 112)),      # pred MID: 20<=48 -> MID; (320+804+5)//10 = 1129//10 = 112
    ((2, 1000), (0, 67)),         # pred LOWEST: 2<=3 -> LOWEST; (0+672+5)//10 = 67
]


def test_hand_trace_stride2():
    mod = AdaptiveTable2016(stride=2)
    assert _run(mod, TRACE_STRIDE2) == [want for _, want in TRACE_STRIDE2]
    with pytest.raises(UsageError):
        AdaptiveTable2016(stride=3)


def test_resolution_scales_stored_intervals():
    mod = AdaptiveTable2016(resolution=2)
    assert mod.table.intervals == [0, 16, 40, 64, 96]
    mod.on_rx_clean(10, 5000)
    assert mod.on_napi_complete() == (4 * 16 + 5) // 10  # = 6 units = 12 us
    assert mod.level_sysfs_text("low") == "32 12 16384\n"
    assert AdaptiveTable2016(resolution=0).table.resolution == 1


def test_edited_table_and_restore_defaults():
    mod = AdaptiveTable2016()
    mod.set_level("low", 100, 5, 1000)
    assert mod.level_sysfs_text("intr_moderation_low") == "100 5 1000\n"
    mod.on_rx_clean(6, 500)  # 6 > LOWEST.pkts 3 -> LOW, now 100 us
    assert mod.on_napi_complete() == (4 * 100 + 5) // 10 == 40
    mod.on_rx_clean(6, 2000)  # pred LOWEST: 6 > 3 and 2000 <= 3048 -> down
    assert mod.on_napi_complete() == (0 + 6 * 40 + 5) // 10 == 24 and mod.level == 0
    mod.table.adaptive_enabled = False
    mod.restore_defaults()
    assert mod.table.adaptive_enabled
    assert mod.level_sysfs_text("low") == "32 12 16384\n"


def test_sysfs_text_round_trip_and_errors():
    t = ModerationTable2016(resolution=4)
    t.store_level_sysfs_text("mid", "100 40 60000\n")
    assert t.intervals[2] == 25
    assert t.level_sysfs_text("mid") == "100 40 60000\n"
    assert parse_level_sysfs_text(" 1 2 3 ") == (1, 2, 3)
    for bad in ("1 2", "1 2 3 4", "a b c", "-1 2 3", ""):
        with pytest.raises(UsageError):
            parse_level_sysfs_text(bad)
    with pytest.raises(UsageError):
        t.set_level("middle", 1, 2, 3)
    with pytest.raises(UsageError):
        t.set_level("low", 4 * 0x8000, 2, 3)  # does not fit the 15-bit rx delay
    with pytest.raises(UsageError):
        t.set_level("low", 1, 2**32, 3)


def test_non_adaptive_uses_lowest_row():
    settings = CoalesceSettings("2016")
    mod = AdaptiveTable2016(table=settings.table)
    settings.set_coalesce(rx_usecs=50, adaptive_rx=False)
    mod.on_rx_clean(500, 500000)
    assert mod.on_napi_complete() == 50 and mod.level == 0
    assert settings.table.intervals[0] == 50


def test_2016_ethtool_rules():
    s = CoalesceSettings("2016")
    assert s.get_coalesce() == {"tx_usecs": 196, "rx_usecs": 0, "adaptive_rx": True}
    s.set_coalesce(tx_usecs=100)  # only tx may change while adaptive is on
    assert s.get_coalesce()["tx_usecs"] == 100
    with pytest.raises(UsageError, match="-EINVAL"):
        s.set_coalesce(rx_usecs=30)
    assert s.get_coalesce()["tx_usecs"] == 100
    s.set_coalesce(rx_usecs=30, adaptive_rx=False)
    assert s.get_coalesce() == {"tx_usecs": 100, "rx_usecs": 30, "adaptive_rx": False}
    with pytest.raises(UsageError, match="EOPNOTSUPP"):
        CoalesceSettings("2016", moderation_supported=False).set_coalesce(tx_usecs=1)


def test_today_ethtool_rules():
    s = CoalesceSettings("today", resolution=2)
    assert s.get_coalesce() == {"tx_usecs": 64, "rx_usecs": 20, "adaptive_rx": True}
    assert (s.tx_interval, s.rx_interval) == (32, 10)
    s.set_coalesce(rx_usecs=40)  # allowed today even with adaptive on
    assert s.rx_interval == 20
