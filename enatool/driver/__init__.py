"""Driver layer: the OS-neutral ENA device communication (ena_com) behind a narrow port.

| module | responsibility (ena_com / ena_netdev equivalent) |
|---|---|
| ``port`` | what the driver may do to a device (the platform header) |
| ``mmio`` | register access, read-less reads (``ena_com_reg_bar_read32``) |
| ``reset`` | reset handshake with reason nibbles (``ena_com_dev_reset``) |
| ``admin_queue`` | AQ/ACQ submission, completion contexts, polling/interrupt waits |
| ``aenq`` | async event queue and the per-group handlers |
| ``features`` | typed GET/SET_FEATURE helpers, host-info page |
| ``llq`` | LLQ negotiation and placement fallback |
| ``io_queues`` | CREATE/DESTROY SQ/CQ admin wrappers |
| ``health`` | the 1 Hz timer service checks (keep-alive, admin state, fatal error) |
| ``driver`` | ``EnaDriver``: probe, run, reset/recovery, close |
| ``policy`` | copybreak, moderation, RSS policies (separate owner) |
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from enatool.driver.driver import DriverCounters, EnaDriver, Negotiated

__all__ = ["EnaDriver", "Negotiated", "DriverCounters"]


def __getattr__(name: str):
    if name in __all__:
        from enatool.driver import driver

        return getattr(driver, name)
    raise AttributeError(name)
