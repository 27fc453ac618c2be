"""Device reset handshake (ena_com's ``ena_com_dev_reset`` + ``wait_for_reset_state``).

Today's sequence (amzn-drivers v2.17.0, INTERFACE.md §1.4/§1.5):

1. read DEV_STS (``ready`` required) and CAPS (``reset_timeout`` must be non-zero);
2. write DEV_CTL = dev_reset | reason nibbles: low nibble in 31:28, high nibble in 27:24 only
   when the device has capability EXTENDED_RESET_REASONS, else a reason > 15 becomes GENERIC;
3. re-arm the read-less response address (the device may clear it on reset);
4. poll DEV_STS until reset_in_progress = 1, write DEV_CTL = 0, poll until it is 0 again,
   each within reset_timeout × 100 ms, with exponential back-off sleeps;
5. the admin completion timeout becomes CAPS.admin_cmd_to × 100 ms, or 3 s when 0.

The 2016 driver (v1.0.0) wrote no reason (DEV_CTL = reset bit only), slept a fixed 100 ms
between polls and used a fixed 1 s admin timeout.
"""

from __future__ import annotations

from dataclasses import dataclass

from enatool.driver.mmio import MmioRegs
from enatool.ena import regs
from enatool.ena.regs import ResetReason
from enatool.errors import ResetError

#: ``ADMIN_CMD_TIMEOUT_US`` today (CAPS.admin_cmd_to = 0)
DEFAULT_ADMIN_TIMEOUT_S = 3.0
#: 2016: ``ADMIN_CMD_TIMEOUT_US`` = 1 s, no CAPS field
ADMIN_TIMEOUT_2016_S = 1.0
#: back-off clamp (``ENA_MIN_ADMIN_POLL_US`` / ``ENA_MAX_ADMIN_POLL_US``) and exponent cap
MIN_POLL_US = 100
MAX_POLL_US = 5000
MAX_BACKOFF_EXP = 16
#: ``ena_min_poll_delay_us`` of the GitHub driver today (upstream: 100)
MIN_POLL_DELAY_US = 5000
#: 2016 polling: a fixed 100 ms ``msleep`` between checks
POLL_2016_S = 0.1


def backoff_s(exp: int, min_delay_us: int = MIN_POLL_DELAY_US) -> float:
    """``ena_delay_exponential_backoff_us``: clamp(min_delay × 2^exp, 100 µs, 5 ms)."""
    exp = min(exp, MAX_BACKOFF_EXP)
    delay = max(MIN_POLL_US, min_delay_us)
    return min(MAX_POLL_US, delay * (1 << exp)) * 1e-6


@dataclass
class ResetResult:
    reason_sent: int
    admin_timeout_s: float
    caps: int


def dev_ctl_value(reason: int, extended_ok: bool, era: str = "today") -> tuple[int, int]:
    """DEV_CTL value that starts a reset for ``reason``, and the reason the device will see."""
    val = regs.ENA_REGS_DEV_CTL_DEV_RESET_MASK
    if era == "2016":
        return val, int(ResetReason.NORMAL)
    reason = int(reason)
    if reason >= regs.ENA_RESET_REASON_LSB_LIMIT and not extended_ok:
        reason = int(ResetReason.GENERIC)
    return val | regs.dev_ctl_reset_reason_bits(reason), reason


def _wait_reset_state(mmio: MmioRegs, timeout_s: float, expect_set: bool, era: str) -> None:
    port = mmio.port
    deadline = port.now() + timeout_s
    exp = 0
    while True:
        sts = mmio.read32(regs.ENA_REGS_DEV_STS_OFF)
        if sts == regs.ENA_MMIO_READ_TIMEOUT:
            raise ResetError("DEV_STS read timed out during reset")
        in_progress = bool(sts & regs.ENA_REGS_DEV_STS_RESET_IN_PROGRESS_MASK)
        if in_progress == expect_set:
            return
        if port.now() >= deadline:
            state = "on" if expect_set else "off"
            raise ResetError(f"reset indication did not turn {state} within {timeout_s:g} s")
        port.sleep(POLL_2016_S if era == "2016" else backoff_s(exp))
        exp += 1


def dev_reset(mmio: MmioRegs, reason: int, extended_ok: bool, era: str = "today") -> ResetResult:
    """Run the reset handshake; raises ResetError when the device does not follow it."""
    sts = mmio.read32(regs.ENA_REGS_DEV_STS_OFF)
    caps = mmio.read32(regs.ENA_REGS_CAPS_OFF)
    if regs.ENA_MMIO_READ_TIMEOUT in (sts, caps):
        raise ResetError("register read timed out before reset", hint="is the device alive?")
    if not sts & regs.ENA_REGS_DEV_STS_READY_MASK:
        raise ResetError("device is not ready, cannot reset")
    timeout_units = (
        caps & regs.ENA_REGS_CAPS_RESET_TIMEOUT_MASK
    ) >> regs.ENA_REGS_CAPS_RESET_TIMEOUT_SHIFT
    if timeout_units == 0:
        raise ResetError("CAPS.reset_timeout is 0")
    timeout_s = timeout_units * regs.ENA_REGS_CAPS_TIMEOUT_UNIT_MS * 1e-3

    value, sent = dev_ctl_value(reason, extended_ok, era)
    mmio.write32(regs.ENA_REGS_DEV_CTL_OFF, value)
    mmio.write_resp_addr()
    _wait_reset_state(mmio, timeout_s, True, era)
    mmio.write32(regs.ENA_REGS_DEV_CTL_OFF, 0)
    _wait_reset_state(mmio, timeout_s, False, era)

    if era == "2016":
        admin_to = ADMIN_TIMEOUT_2016_S
    else:
        units = (
            caps & regs.ENA_REGS_CAPS_ADMIN_CMD_TO_MASK
        ) >> regs.ENA_REGS_CAPS_ADMIN_CMD_TO_SHIFT
        admin_to = (
            units * regs.ENA_REGS_CAPS_TIMEOUT_UNIT_MS * 1e-3 if units else DEFAULT_ADMIN_TIMEOUT_S
        )
    return ResetResult(reason_sent=sent, admin_timeout_s=admin_to, caps=caps)
