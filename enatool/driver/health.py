"""The 1 Hz timer service's device-health checks (ena_netdev.c ``ena_timer_service``).

Checks, in this order, each asking for a reset through the driver's first-reason-wins
trigger (``ena_reset_device`` with its ``try_lock``):

1. DEV_STS.fatal_error set → GENERIC (13). **Not in Linux**: it never reads the bit and has
   no FATAL_ERROR AENQ handler, so it would notice only through a keep-alive timeout. We
   follow the illumos ENA driver's watchdog, which resets with GENERIC on this bit (there is
   no dedicated reason code).
2. No KEEP_ALIVE event for ``keep_alive_timeout`` → KEEP_ALIVE_TO (1), or
   MISSING_ADMIN_INTERRUPT (18) when a keep-alive is sitting unprocessed in the AENQ (Linux
   today; 2016 had no reasons).
3. Admin queue left running state → MISSING_ADMIN_INTERRUPT (18) if a lost interrupt was
   detected, else ADMIN_TO (2); each time counts ``admin_q_pause`` (Linux today).

Keep-alive timeout: 6 s today (``ENA_DEVICE_KALIVE_TIMEOUT`` = 6 × HZ), 3 s in 2016;
the HW hint ``driver_watchdog_timeout`` (ms) overrides it and 0xFFFF disables the check. The
check runs only when the KEEP_ALIVE group was enabled (``wd_state``).
Missing-Tx-completion and lost-IO-interrupt checks belong to the data path (later).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from enatool.ena import admin as A
from enatool.ena import regs
from enatool.ena.regs import ResetReason

KEEP_ALIVE_TIMEOUT_S = 6.0
KEEP_ALIVE_TIMEOUT_2016_S = 3.0
TIMER_PERIOD_S = 1.0


@dataclass
class HealthConfig:
    era: str = "today"
    keep_alive_timeout_s: float | None = KEEP_ALIVE_TIMEOUT_S  # None = check disabled
    wd_state: bool = True
    check_fatal_error: bool = True

    @classmethod
    def for_era(cls, era: str) -> HealthConfig:
        t = KEEP_ALIVE_TIMEOUT_2016_S if era == "2016" else KEEP_ALIVE_TIMEOUT_S
        return cls(era=era, keep_alive_timeout_s=t)

    def apply_watchdog_hint(self, ms: int) -> None:
        """HW hint ``driver_watchdog_timeout``: 0 keeps, 0xFFFF disables."""
        if ms == A.ENA_HW_HINTS_NO_TIMEOUT:
            self.keep_alive_timeout_s = None
        elif ms:
            self.keep_alive_timeout_s = ms * 1e-3


def check_fatal_error(dev_sts: int) -> int | None:
    if dev_sts != regs.ENA_MMIO_READ_TIMEOUT and dev_sts & regs.ENA_REGS_DEV_STS_FATAL_ERROR_MASK:
        return int(ResetReason.GENERIC)
    return None


def check_keep_alive(
    cfg: HealthConfig, now: float, last_keep_alive: float, aenq_has_keep_alive: Callable[[], bool]
) -> int | None:
    if not cfg.wd_state or cfg.keep_alive_timeout_s is None:
        return None
    if now - last_keep_alive <= cfg.keep_alive_timeout_s:
        return None
    if aenq_has_keep_alive():
        return int(ResetReason.MISSING_ADMIN_INTERRUPT)
    return int(ResetReason.KEEP_ALIVE_TO)


def check_admin_state(running: bool, missing_interrupt: bool) -> int | None:
    if running:
        return None
    if missing_interrupt:
        return int(ResetReason.MISSING_ADMIN_INTERRUPT)
    return int(ResetReason.ADMIN_TO)
