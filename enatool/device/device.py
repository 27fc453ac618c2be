"""The software ENA device: what sits behind the PCI functions a driver probes.

``SoftEnaDevice`` behaves like the hardware behind a real ENA interface (today's devices,
INTERFACE.md §1–4, §10, §13–15): a PCI identity, BAR0 registers, BAR2 LLQ memory, host memory
it reaches by DMA, MSI-X vectors (0 = management, 1+i = queue pair i) and a clock. A driver
drives it only through ``bar0.read32/write32``, ``bar2.write`` and DMA memory, exactly as it
would drive hardware; nothing else is needed.

Time is virtual (integer nanoseconds). Register writes latch at once; queue work happens in
``process()`` ("run until idle at the current time"), timers (keep-alive, delayed admin
completions) fire as ``advance(seconds)`` moves the clock. No exception ever leaves
``write32``, ``process`` or ``advance`` because of what a driver wrote: bad input becomes an
error status, a counter, or a device fatal error; a bug in the model itself is counted in
``stats.internal_errors`` (tests assert it stays 0).

Management interrupt: whenever a processing step wrote ACQ or AENQ entries and INTR_MASK is
0, vector 0 fires once for that batch (``irq_counts[0] += 1``). Vector 0 is never
auto-masked (§14); while INTR_MASK is 1 nothing fires and nothing is latched for later.
"""

from __future__ import annotations

import heapq
import itertools
import traceback
from collections.abc import Callable

import numpy as np

from enatool.ena import regs
from enatool.ena.admin import (
    ENA_ADMIN_AENQ_UPDATE_HINTS_DESC,
    AenqGroup,
    AenqNotificationSyndrome,
    DeviceCapability,
)
from enatool.ena.bits import pack
from enatool.ena.regs import PCI_VENDOR_ID_AMAZON, ResetReason

from .admin import AdminQueue
from .aenq import Aenq
from .bar import Bar0, Bar2
from .datapath import Datapath
from .dma import DmaMemory
from .faults import Faults
from .features import DeviceLimits, FeatureSet, default_supported_features
from .io_queues import MAX_QUEUE_PAIRS, IoQueues
from .mmio import ReadlessResponder
from .stats import DeviceStats
from .tx import COMPLETION_ORDERS

BAR2_SIZE = 4 * 1024 * 1024
DEFAULT_CAPABILITIES = (
    (1 << DeviceCapability.ENI_STATS)
    | (1 << DeviceCapability.CUSTOMER_METRICS)
    | (1 << DeviceCapability.EXTENDED_RESET_REASONS)
)
#: HW_HINTS the device reports: the values today's Linux driver uses by default
DEFAULT_HW_HINTS = {
    "mmio_read_timeout": 200,  # ms
    "driver_watchdog_timeout": 6000,  # ms
    "missing_tx_completion_timeout": 5000,  # ms
    "missed_tx_completion_count_threshold_to_reset": 128,
    "admin_completion_tx_timeout": 3000,  # ms
    "netdev_wd_timeout": 5000,  # ms
    "max_tx_sgl_size": 0,  # 0 = driver default
    "max_rx_sgl_size": 0,
}
MAX_PROCESS_ROUNDS = 10_000
MAX_KEPT_INTERNAL_ERRORS = 10


def _parse_mac(mac) -> bytes:
    if isinstance(mac, str):
        parts = mac.replace("-", ":").split(":")
        raw = bytes(int(p, 16) for p in parts)
    else:
        raw = bytes(mac)
    if len(raw) != 6:
        raise ValueError(f"MAC address {mac!r} is not 6 bytes")
    return raw


class SoftEnaDevice:
    """A software ENA PCI function (default: VF with LLQ, 1d0f:ec21)."""

    def __init__(
        self,
        *,
        pci_device: int = regs.PciDeviceId.LLQ_VF,
        num_queues: int = 8,
        max_mtu: int = 9216,
        mac: str | bytes | None = None,
        seed: int | None = None,
        readless: bool = True,
        llq: bool = True,
        supported_features: int | None = None,
        capabilities: int = DEFAULT_CAPABILITIES,
        intr_delay_resolution: int = 1,
        link_speed_mbps: int = 100_000,
        dma_size: int = 256 * 1024 * 1024,
    ):
        if not 1 <= num_queues <= MAX_QUEUE_PAIRS:
            raise ValueError(f"num_queues must be 1..{MAX_QUEUE_PAIRS}, not {num_queues}")
        if not 128 <= max_mtu <= 0xFFFF:
            raise ValueError(f"max_mtu {max_mtu} out of range")
        if not 0 <= intr_delay_resolution <= 0xFFFF:
            raise ValueError(f"intr_delay_resolution {intr_delay_resolution} out of range")
        # --- identity -----------------------------------------------------------------------
        self.pci_vendor = PCI_VENDOR_ID_AMAZON
        self.pci_device = int(pci_device)
        self.pci_id = f"{self.pci_vendor:04x}:{self.pci_device:04x}"
        self.readless = bool(readless)
        self.pci_revision = 0 if readless else regs.ENA_PCI_REVISION_MMIO_READLESS_DISABLED
        self.num_queues = int(num_queues)
        self.msix_count = 1 + self.num_queues
        self.max_mtu = int(max_mtu)
        self.llq = bool(llq)
        self.supported_features = (
            default_supported_features(self.llq)
            if supported_features is None
            else int(supported_features) & 0xFFFFFFFF
        )
        self.capabilities = int(capabilities) & 0xFFFFFFFF
        self.intr_delay_resolution = int(intr_delay_resolution)
        self.link_speed_mbps = int(link_speed_mbps)
        self.limits = DeviceLimits(num_queues=self.num_queues)
        self.hw_hints = dict(DEFAULT_HW_HINTS)
        self._rng = np.random.default_rng(seed)
        if mac is None:
            raw = bytearray(self._rng.integers(0, 256, 6, dtype=np.uint8).tobytes())
            raw[0] = (raw[0] & 0xFC) | 0x02  # locally administered, unicast
            self.mac_bytes = bytes(raw)
        else:
            self.mac_bytes = _parse_mac(mac)
        # --- hardware blocks ----------------------------------------------------------------
        self.stats = DeviceStats()
        self.faults = Faults()
        self.dma = DmaMemory(dma_size)
        self.bar0 = Bar0(self)
        self.bar2 = Bar2(self, BAR2_SIZE if self.llq else 0)
        self.mmio = ReadlessResponder(self)
        self.admin = AdminQueue(self)
        self.aenq = Aenq(self)
        self.features = FeatureSet(self)
        self.io = IoQueues(self.num_queues, self.bar2.size)
        # --- datapath (tx.py, rx.py, wire.py, irq.py) ----------------------------------------
        self.datapath = Datapath(self)
        self.io.listener = self.datapath
        self.wire = self.datapath.wire
        self._tx_completion_order = "in-order"
        #: older instances: fixed RSS key as listed, 16-bit replicated hash (§8)
        self.rss_fixed_key = False
        #: packet offset in the first Rx buffer when the host advertised RX_OFFSET (§15)
        self.rx_offset = 0
        # --- device state ---------------------------------------------------------------------
        self.now_ns = 0
        self._timers: list[tuple[int, int, Callable[[], None] | None]] = []
        self._timer_seq = itertools.count()
        self.irq_counts = [0] * self.msix_count
        self.intr_mask = regs.ENA_REGS_ADMIN_INTR_MASK
        self.mgmt_pending = False  # ACQ/AENQ entries written since the last interrupt
        self.link_up = True
        self.fatal = False
        self.reset_in_progress = False
        self.reset_finished = False
        self.aq_restart_finished = False
        self.reset_count = 0
        self.last_reset_reason: ResetReason | int | None = None
        self.internal_errors: list[str] = []

    # --- identity helpers ---------------------------------------------------------------
    @property
    def mac(self) -> str:
        return ":".join(f"{b:02x}" for b in self.mac_bytes)

    @property
    def now(self) -> float:
        """Virtual time in seconds."""
        return self.now_ns / 1e9

    @property
    def host_info(self) -> dict | None:
        """What the driver last reported in its host-info page (HOST_ATTR_CONFIG)."""
        return self.features.host_info

    @property
    def mtu(self) -> int:
        return self.features.mtu

    @property
    def tx_completion_order(self) -> str:
        """Order of Tx completions within a burst: "in-order", "reverse" or "random"."""
        return self._tx_completion_order

    @tx_completion_order.setter
    def tx_completion_order(self, value: str) -> None:
        if value not in COMPLETION_ORDERS:
            raise ValueError(f"tx_completion_order must be one of {COMPLETION_ORDERS}")
        self._tx_completion_order = value

    # --- clock and scheduler --------------------------------------------------------------
    def schedule(self, due_ns: int, callback: Callable[[], None] | None) -> None:
        """Run ``callback`` (None = just wake up and process) when the clock reaches due_ns."""
        heapq.heappush(self._timers, (int(due_ns), next(self._timer_seq), callback))

    def process(self) -> None:
        """Run the device until it is idle at the current virtual time."""
        try:
            timers = self._timers
            if timers and timers[0][0] <= self.now_ns:
                self._run_timers(self.now_ns)
            self._run()
        except Exception:
            self._internal_error()

    def advance(self, seconds: float) -> None:
        """Move the virtual clock forward by ``seconds``, firing timers on the way."""
        if seconds < 0:
            raise ValueError(f"cannot go back in time ({seconds} s)")
        target = self.now_ns + int(round(seconds * 1e9))
        try:
            self._run()
            while self._timers and self._timers[0][0] <= target:
                self.now_ns = max(self.now_ns, self._timers[0][0])
                self._run_timers(self.now_ns)
                self._run()
            self.now_ns = target
            self._run()
        except Exception:
            self.now_ns = max(self.now_ns, target)
            self._internal_error()

    def _run_timers(self, now_ns: int) -> None:
        while self._timers and self._timers[0][0] <= now_ns:
            _due, _seq, callback = heapq.heappop(self._timers)
            if callback is not None:
                callback()

    def _run(self) -> None:
        admin, datapath, aenq = self.admin, self.datapath, self.aenq
        rounds = 0
        # most wake-ups find nothing to do: a round that would change nothing is skipped
        # after a cheap look instead of running every engine's poll
        while datapath.has_work() or admin.has_work(self.now_ns) or aenq.has_work():
            progressed = admin.poll()
            progressed |= datapath.poll()
            progressed |= aenq.flush()
            rounds += 1
            if not progressed or rounds >= MAX_PROCESS_ROUNDS:
                break
        if self.mgmt_pending:
            self._raise_mgmt_irq()

    # --- interrupts -------------------------------------------------------------------------
    def _raise_mgmt_irq(self) -> None:
        if not self.mgmt_pending:
            return
        self.mgmt_pending = False
        if self.intr_mask & regs.ENA_REGS_ADMIN_INTR_MASK:
            return
        if not self.faults.mgmt_irq:
            self.stats.mgmt_irqs_suppressed += 1
            return
        self.irq_counts[0] += 1

    def raise_irq(self, vector: int) -> None:
        """Fire MSI-X ``vector`` (used by the IO datapath)."""
        if 0 <= vector < self.msix_count:
            self.irq_counts[vector] += 1

    # --- DEV_CTL / DEV_STS ------------------------------------------------------------------
    def dev_sts(self) -> int:
        sts = regs.ENA_REGS_DEV_STS_READY_MASK
        if self.aq_restart_finished:
            sts |= regs.ENA_REGS_DEV_STS_AQ_RESTART_FINISHED_MASK
        if self.reset_in_progress:
            sts |= regs.ENA_REGS_DEV_STS_RESET_IN_PROGRESS_MASK
        if self.reset_finished:
            sts |= regs.ENA_REGS_DEV_STS_RESET_FINISHED_MASK
        if self.fatal:
            sts |= regs.ENA_REGS_DEV_STS_FATAL_ERROR_MASK
        return sts

    def _dev_ctl_write(self, value: int) -> None:
        if value & regs.ENA_REGS_DEV_CTL_DEV_RESET_MASK:
            reason = regs.dev_ctl_reset_reason(value)
            try:
                self.last_reset_reason = ResetReason(reason)
            except ValueError:
                self.last_reset_reason = reason
            self._reset()
            self.reset_in_progress = True
            self.reset_finished = False
            return
        if self.reset_in_progress:
            self.reset_in_progress = False
            self.reset_finished = True
        if value & regs.ENA_REGS_DEV_CTL_AQ_RESTART_MASK:
            self.admin.restart()
            self.aq_restart_finished = True

    def _reset(self) -> None:
        """Function-level reset: what the device forgets (§15)."""
        self.reset_count += 1
        self.io.destroy_all()
        self.datapath.reset()
        self.admin.reset()
        self.aenq.reset()
        self.features.reset()
        self.mmio.forget()
        self.bar0.forget_queue_config()
        self.intr_mask = regs.ENA_REGS_ADMIN_INTR_MASK
        self.mgmt_pending = False
        self.fatal = False
        self.aq_restart_finished = False
        # pending wake-ups of the old configuration are harmless; keep-alive is cancelled
        # by the AENQ reset (generation counter)

    # --- device-originated events (fault injection and environment) ----------------------
    def fatal_error(self, post_event: bool = True) -> None:
        """The device hits a fatal error: DEV_STS.fatal_error and a FATAL_ERROR event."""
        self.fatal = True
        if post_event:
            self.aenq.post(AenqGroup.FATAL_ERROR)

    def request_reset(self) -> None:
        """Ask the driver for a reset (AENQ DEVICE_REQUEST_RESET, driver reason 19)."""
        self.aenq.post(AenqGroup.DEVICE_REQUEST_RESET)

    def notify_suspend(self) -> None:
        self.aenq.post(AenqGroup.NOTIFICATION, AenqNotificationSyndrome.SUSPEND)

    def notify_resume(self) -> None:
        self.aenq.post(AenqGroup.NOTIFICATION, AenqNotificationSyndrome.RESUME)

    def update_hints(self, **hints: int) -> None:
        """Change HW hints and tell the driver (NOTIFICATION / UPDATE_HINTS with the hints)."""
        for name, value in hints.items():
            if name not in self.hw_hints:
                raise KeyError(f"unknown HW hint {name!r}")
            self.hw_hints[name] = int(value) & 0xFFFF
        raw = pack(ENA_ADMIN_AENQ_UPDATE_HINTS_DESC, **self.hw_hints)
        self.aenq.post(AenqGroup.NOTIFICATION, AenqNotificationSyndrome.UPDATE_HINTS, raw[16:])

    def set_link(self, up: bool) -> None:
        """Carrier change: remembered and reported with a LINK_CHANGE event."""
        self.link_up = bool(up)
        self.aenq.post_link_change(self.link_up)

    # --- model health -----------------------------------------------------------------------
    def _internal_error(self) -> None:
        self.stats.internal_errors += 1
        if len(self.internal_errors) < MAX_KEPT_INTERNAL_ERRORS:
            self.internal_errors.append(traceback.format_exc())
