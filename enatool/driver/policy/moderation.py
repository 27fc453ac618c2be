"""Interrupt moderation policy: static delays, unit conversion, and the 2016 adaptive table.

Reproduces two driver versions:

* "2016" = amzn-drivers v1.0.0 (same algorithm through 2.1.2 and upstream <= 5.4): Tx 196 us,
  Rx static value kept in the LOWEST row of a 5-level table, adaptive Rx on when the device
  supports feature 20 (INTERRUPT_MODERATION); the table step of ``ena_com_calculate_
  interrupt_delay`` with STRIDE 1 (GitHub) or 2 (some upstream 4.x-5.4 kernels); sysfs knobs
  ``intr_moderation_<level>``; ethtool refuses a new rx-usecs while adaptive stays on.
* "today" = amzn-drivers v2.17.0: Tx 64 us, Rx 20 us, adaptive Rx = net DIM (see ``dim.py``).

All intervals handed to the device are in *resolution units* (us / intr_delay_resolution);
the rx-delay field of the unmask register is 15 bits wide.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from enatool.errors import UsageError

ERAS = ("today", "2016")
RX_DELAY_MAX_UNITS = 0x7FFF  # intr_reg bits 14:0
U32_MAX = 0xFFFFFFFF

#: smoothing of ena_com_calculate_interrupt_delay: (4 * new + 6 * old + 5) / 10
INTR_DELAY_NEW_VALUE_WEIGHT = 4
INTR_DELAY_OLD_VALUE_WEIGHT = 6


def _check_era(era: str) -> str:
    if era not in ERAS:
        raise UsageError(f"unknown driver era {era!r}", hint="use 'today' or '2016'")
    return era


@dataclass(frozen=True)
class ModerationDefaults:
    """Static moderation values a freshly probed driver programs (microseconds)."""

    tx_usecs: int
    rx_usecs: int
    adaptive_rx: bool

    @classmethod
    def for_era(cls, era: str = "today", moderation_supported: bool = True) -> ModerationDefaults:
        """today: 64/20, adaptive (DIM) on; 2016: 196/0 (LOWEST row), adaptive on if the device
        supports feature 20. Without feature 20 nothing is adaptive."""
        if _check_era(era) == "today":
            return cls(64, 20, moderation_supported)
        return cls(196, 0, moderation_supported)


def effective_resolution(resolution: int) -> int:
    """The device reports intr_delay_resolution; 0 is illegal and treated as 1 us."""
    return resolution if resolution > 0 else 1


def usecs_to_units(usecs: int, resolution: int) -> int:
    """What the driver stores: usecs / resolution (integer division, as ena_com does)."""
    if usecs < 0:
        raise UsageError(f"interrupt delay {usecs} us is negative")
    return usecs // effective_resolution(resolution)


def units_to_usecs(units: int, resolution: int) -> int:
    """What ethtool -c / sysfs show: units * resolution."""
    return units * effective_resolution(resolution)


class IntrModerLevel(enum.IntEnum):
    """``ena_intr_moder_level`` of the 2016 table."""

    LOWEST = 0
    LOW = 1
    MID = 2
    HIGH = 3
    HIGHEST = 4


LEVEL_NAMES = {lvl: lvl.name.lower() for lvl in IntrModerLevel}

#: 2016 default table: (interval usec, pkts threshold, bytes threshold) per level.
DEFAULT_TABLE_2016 = {
    IntrModerLevel.LOWEST: (0, 3, 3048),
    IntrModerLevel.LOW: (32, 12, 16384),
    IntrModerLevel.MID: (80, 48, 65536),
    IntrModerLevel.HIGH: (128, 96, 131072),
    IntrModerLevel.HIGHEST: (192, 128, 196608),
}


def _level(name: str | int) -> IntrModerLevel:
    if isinstance(name, str):
        key = name.lower().removeprefix("intr_moderation_")
        for lvl, lname in LEVEL_NAMES.items():
            if lname == key:
                return lvl
        raise UsageError(f"unknown moderation level {name!r}",
                         hint="one of lowest, low, mid, high, highest")
    return IntrModerLevel(name)


def adaptive_2016_decide(level: int, smoothed: int, pkts: int, nbytes: int,
                         intervals: list[int], pkts_thr: list[int], bytes_thr: list[int],
                         stride: int = 1) -> tuple[int, int]:
    """One ``ena_com_calculate_interrupt_delay`` step -> (new level, new smoothed interval).

    The one home of the 2016 rule (``numba_kernels.moderation`` must equal it):
    no packets or no bytes -> keep everything; at LOWEST go up when pkts or bytes exceed the
    LOWEST thresholds; elsewhere go down when pkts or bytes are within the previous row's
    thresholds, else up when they exceed this row's and we are not at HIGHEST; then smooth.
    """
    if pkts == 0 or nbytes == 0:
        return level, smoothed
    highest = len(intervals) - 1
    new = level
    if level == 0:
        if pkts > pkts_thr[0] or nbytes > bytes_thr[0]:
            new = level + stride
    else:
        pred = max(level - stride, 0)
        if pkts <= pkts_thr[pred] or nbytes <= bytes_thr[pred]:
            new = pred
        elif (pkts > pkts_thr[level] or nbytes > bytes_thr[level]) and level != highest:
            new = level + stride
    if new > highest:  # only reachable with STRIDE 2 from an odd level; the driver would
        new = level    # index past the table, we stay put instead
    smoothed = (INTR_DELAY_NEW_VALUE_WEIGHT * intervals[new]
                + INTR_DELAY_OLD_VALUE_WEIGHT * smoothed + 5) // 10
    return new, smoothed


class ModerationTable2016:
    """The device-wide part (``ena_com_dev``): 5-level table in resolution units, adaptive flag.

    Intervals are stored divided by the resolution, like the driver; the sysfs texts show
    them multiplied back.
    """

    def __init__(self, resolution: int = 1, moderation_supported: bool = True):
        self.resolution = effective_resolution(resolution)
        self.moderation_supported = moderation_supported
        self.intervals: list[int] = []
        self.pkts: list[int] = []
        self.bytes: list[int] = []
        self.adaptive_enabled = moderation_supported
        self._load_defaults()

    def _load_defaults(self) -> None:
        self.intervals = [usecs_to_units(DEFAULT_TABLE_2016[lvl][0], self.resolution)
                          for lvl in IntrModerLevel]
        self.pkts = [DEFAULT_TABLE_2016[lvl][1] for lvl in IntrModerLevel]
        self.bytes = [DEFAULT_TABLE_2016[lvl][2] for lvl in IntrModerLevel]

    def restore_defaults(self) -> None:
        """sysfs ``intr_moderation_restore_default``: reload the table, enable adaptive."""
        self._load_defaults()
        self.adaptive_enabled = True

    @property
    def nonadaptive_rx_interval(self) -> int:
        """2016 keeps the static Rx value in the LOWEST row."""
        return self.intervals[IntrModerLevel.LOWEST]

    def set_level(self, name: str | int, interval_usec: int, pkts: int, nbytes: int) -> None:
        """Edit one row (sysfs ``intr_moderation_<level>``)."""
        lvl = _level(name)
        units = usecs_to_units(interval_usec, self.resolution)
        if units > RX_DELAY_MAX_UNITS:
            raise UsageError(f"interval {interval_usec} us does not fit the 15-bit rx delay",
                             hint=f"at most {units_to_usecs(RX_DELAY_MAX_UNITS, self.resolution)}")
        for what, v in (("pkts", pkts), ("bytes", nbytes)):
            if not 0 <= v <= U32_MAX:
                raise UsageError(f"{what} threshold {v} out of range 0..{U32_MAX}")
        self.intervals[lvl] = units
        self.pkts[lvl] = pkts
        self.bytes[lvl] = nbytes

    def level_sysfs_text(self, name: str | int) -> str:
        """What reading ``intr_moderation_<level>`` prints: "interval_usec pkts bytes"."""
        lvl = _level(name)
        usec = units_to_usecs(self.intervals[lvl], self.resolution)
        return f"{usec} {self.pkts[lvl]} {self.bytes[lvl]}\n"

    def store_level_sysfs_text(self, name: str | int, text: str) -> None:
        """Writing ``intr_moderation_<level>``."""
        self.set_level(name, *parse_level_sysfs_text(text))


def parse_level_sysfs_text(text: str) -> tuple[int, int, int]:
    """Parse "interval_usec pkts bytes" (three unsigned integers), else -EINVAL."""
    parts = text.split()
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise UsageError(f"invalid moderation entry {text.strip()!r}",
                         hint="write three unsigned numbers: interval_usec pkts bytes")
    a, b, c = (int(p) for p in parts)
    return a, b, c


class AdaptiveTable2016:
    """Per-Rx-queue 2016 adaptive moderation: accumulate per clean pass, decide per NAPI.

    ``table`` may be shared by all queues of a device (as ``ena_com_dev`` is); by default
    each instance owns one. ``stride`` 1 = GitHub driver, 2 = some upstream 4.x-5.4 kernels.
    """

    def __init__(self, resolution: int = 1, stride: int = 1,
                 table: ModerationTable2016 | None = None):
        if stride not in (1, 2):
            raise UsageError(f"moderation level stride {stride} must be 1 or 2")
        self.table = table if table is not None else ModerationTable2016(resolution)
        self.stride = stride
        self.level = int(IntrModerLevel.LOWEST)
        self.smoothed = self.table.nonadaptive_rx_interval
        self.pkts = 0
        self.bytes = 0

    # per clean pass: packets and bytes (first-buffer length when copied, else skb length)
    def on_rx_clean(self, pkts: int, nbytes: int) -> None:
        self.pkts += pkts
        self.bytes += nbytes

    def on_napi_complete(self) -> int:
        """Called only when NAPI completes, just before the unmask write; returns rx delay
        in resolution units."""
        if not self.table.adaptive_enabled:
            self.smoothed = self.table.nonadaptive_rx_interval
            return self.smoothed
        t = self.table
        self.level, self.smoothed = adaptive_2016_decide(
            self.level, self.smoothed, self.pkts, self.bytes, t.intervals, t.pkts, t.bytes,
            self.stride)
        self.pkts = 0
        self.bytes = 0
        return self.smoothed

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES[IntrModerLevel(self.level)]

    # convenience pass-throughs to the device-wide table
    def set_level(self, name: str | int, interval_usec: int, pkts: int, nbytes: int) -> None:
        self.table.set_level(name, interval_usec, pkts, nbytes)

    def restore_defaults(self) -> None:
        self.table.restore_defaults()

    def level_sysfs_text(self, name: str | int) -> str:
        return self.table.level_sysfs_text(name)


class CoalesceSettings:
    """ethtool -c/-C for one device: static Tx/Rx values and the adaptive-rx switch.

    2016: the Rx static value lives in the table's LOWEST row; a new rx-usecs while adaptive
    stays on is refused (-EINVAL); without feature 20 any change is -EOPNOTSUPP.
    today: tx-usecs, rx-usecs and adaptive-rx are independent.
    """

    def __init__(self, era: str = "today", resolution: int = 1,
                 moderation_supported: bool = True):
        self.era = _check_era(era)
        self.resolution = effective_resolution(resolution)
        self.moderation_supported = moderation_supported
        d = ModerationDefaults.for_era(era, moderation_supported)
        self.tx_interval = usecs_to_units(d.tx_usecs, self.resolution)
        self.table: ModerationTable2016 | None = None
        if era == "2016":
            self.table = ModerationTable2016(self.resolution, moderation_supported)
            self._rx_interval = 0
        else:
            self._rx_interval = usecs_to_units(d.rx_usecs, self.resolution)
        self._adaptive = d.adaptive_rx

    @property
    def adaptive_rx(self) -> bool:
        return self.table.adaptive_enabled if self.table is not None else self._adaptive

    @property
    def rx_interval(self) -> int:
        if self.table is not None:
            return self.table.nonadaptive_rx_interval
        return self._rx_interval

    def get_coalesce(self) -> dict[str, int | bool]:
        return {"tx_usecs": units_to_usecs(self.tx_interval, self.resolution),
                "rx_usecs": units_to_usecs(self.rx_interval, self.resolution),
                "adaptive_rx": self.adaptive_rx}

    def set_coalesce(self, tx_usecs: int | None = None, rx_usecs: int | None = None,
                     adaptive_rx: bool | None = None) -> None:
        if not self.moderation_supported:
            raise UsageError("interrupt moderation is not supported by this device (-EOPNOTSUPP)")
        cur = self.get_coalesce()
        tx = cur["tx_usecs"] if tx_usecs is None else tx_usecs
        rx = cur["rx_usecs"] if rx_usecs is None else rx_usecs
        adaptive = cur["adaptive_rx"] if adaptive_rx is None else adaptive_rx
        if self.era == "2016" and cur["adaptive_rx"] and adaptive and rx != cur["rx_usecs"]:
            raise UsageError("rx-usecs cannot change while adaptive-rx is on (-EINVAL)",
                             hint="turn adaptive-rx off first; only tx-usecs may change")
        self.tx_interval = usecs_to_units(int(tx), self.resolution)
        rx_units = usecs_to_units(int(rx), self.resolution)
        if self.table is not None:
            self.table.intervals[IntrModerLevel.LOWEST] = rx_units
            self.table.adaptive_enabled = bool(adaptive)
        else:
            self._rx_interval = rx_units
            self._adaptive = bool(adaptive)
