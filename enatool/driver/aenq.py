"""Asynchronous event notification queue and its per-group handlers.

Queue mechanics follow ena_com (``ena_com_admin_init_aenq``, ``ena_com_aenq_intr_handler``,
``ena_com_aenq_has_keep_alive``; INTERFACE.md §2.7 and §4): 64-byte entries, the driver's head
starts at *depth* (free-running u16), expected phase 1 flipping at wrap, and after a batch the
head is written to AENQ_HEAD_DB. Depth is 16 today, 4 in the 2016 driver.

Handlers reproduce ena_netdev.c's table (today) with one addition from the 2016 driver:

| group | handler |
|---|---|
| 0 LINK_CHANGE | link up/down (+ counters) |
| 3 NOTIFICATION | syndrome 2 UPDATE_HINTS applies HW hints; 0 SUSPEND / 1 RESUME are |
| | counted (2016's io_suspend/io_resume; today's Linux logs them as invalid) |
| 4 KEEP_ALIVE | records the time; stores the device-cumulative rx_drops / tx_drops / rx_overruns |
| 5 REFRESH_CAPABILITIES | reset to re-negotiate (no reason, i.e. NORMAL) |
| 6 CONF_NOTIFICATIONS | remembers the "sub-optimal configuration" codes (bit + 1) |
| 7 DEVICE_REQUEST_RESET | reset with reason DEVICE_REQUEST (19) |
| anything else (1 FATAL_ERROR, 2 WARNING, unknown) | counted as unimplemented, like Linux |
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from enatool.driver.mmio import MmioRegs
from enatool.ena import regs
from enatool.ena.admin import AenqGroup, AenqNotificationSyndrome
from enatool.ena.regs import ResetReason

AENQ_DEPTH = 16
AENQ_DEPTH_2016 = 4
ENTRY_SIZE = 64
PHASE_MASK = 0x1

# groups (``enum ena_admin_aenq_group``) and NOTIFICATION syndromes: enatool.ena.admin
G = AenqGroup
S = AenqNotificationSyndrome


class Aenq:
    """The AENQ ring of one device init."""

    def __init__(self, mmio: MmioRegs, depth: int = AENQ_DEPTH):
        self.mmio = mmio
        self.port = mmio.port
        self.depth = depth
        size = depth * ENTRY_SIZE
        self.addr = self.port.dma_alloc(size)
        self._q = self.port.dma_view(self.addr, size)
        self.head = depth
        self.phase = 1
        self.processed = 0

    def program_device(self) -> None:
        m = self.mmio
        m.write32(regs.ENA_REGS_AENQ_BASE_LO_OFF, self.addr & 0xFFFFFFFF)
        m.write32(regs.ENA_REGS_AENQ_BASE_HI_OFF, self.addr >> 32)
        m.write32(
            regs.ENA_REGS_AENQ_CAPS_OFF,
            self.depth | (ENTRY_SIZE << regs.ENA_REGS_AENQ_CAPS_AENQ_ENTRY_SIZE_SHIFT),
        )

    def enable(self) -> None:
        """``ena_com_admin_aenq_enable``: head doorbell = depth (all entries free)."""
        self.mmio.write32(regs.ENA_REGS_AENQ_HEAD_DB_OFF, self.head)

    def _entries(self):
        """Yield (slot, raw entry) for every new entry without consuming it."""
        slot = self.head & (self.depth - 1)
        phase = self.phase
        for _ in range(self.depth):
            if (int(self._q[slot * ENTRY_SIZE + 4]) & PHASE_MASK) != phase:
                return
            yield self._q[slot * ENTRY_SIZE : (slot + 1) * ENTRY_SIZE].tobytes()
            slot += 1
            if slot == self.depth:
                slot = 0
                phase ^= 1

    def has_keep_alive(self) -> bool:
        """Is a KEEP_ALIVE event sitting unprocessed in the queue?"""
        return any(struct.unpack_from("<H", e, 0)[0] == G.KEEP_ALIVE for e in self._entries())

    def pending(self) -> int:
        return sum(1 for _ in self._entries())

    def process(self, dispatch: Callable[[bytes], None]) -> int:
        """Hand every new entry to ``dispatch`` and ring the head doorbell once."""
        n = 0
        for raw in list(self._entries()):
            dispatch(raw)
            n += 1
        if not n:
            return 0
        slot = (self.head & (self.depth - 1)) + n
        self.phase ^= (slot // self.depth) & 1
        self.head = (self.head + n) & 0xFFFF
        self.processed += n
        self.mmio.write32(regs.ENA_REGS_AENQ_HEAD_DB_OFF, self.head)
        return n

    def destroy(self) -> None:
        self._q = None
        if self.addr is not None:
            self.port.dma_free(self.addr)
        self.addr = None


@dataclass
class AenqState:
    """What the handlers learned; owned by the driver and kept across resets."""

    link_up: bool = False
    last_keep_alive: float = 0.0
    keep_alive_rx: int = 0
    rx_drops: int = 0
    tx_drops: int = 0
    rx_overruns: int = 0
    link_up_events: int = 0
    link_down_events: int = 0
    suspend: int = 0
    resume: int = 0
    hints_updates: int = 0
    conf_notifications: list[int] = field(default_factory=list)
    refresh_capabilities: int = 0
    fatal_error_events: int = 0
    unimplemented: int = 0
    events: int = 0


class AenqHandlers:
    """The driver's handler table (``struct ena_aenq_handlers``)."""

    def __init__(
        self,
        state: AenqState,
        now: Callable[[], float],
        apply_hints: Callable[[bytes], None],
        trigger_reset: Callable[[int], None],
    ):
        self.state = state
        self.now = now
        self.apply_hints = apply_hints
        self.trigger_reset = trigger_reset
        self.table: dict[int, Callable[[bytes], None]] = {
            G.LINK_CHANGE: self.link_change,
            G.NOTIFICATION: self.notification,
            G.KEEP_ALIVE: self.keep_alive,
            G.REFRESH_CAPABILITIES: self.refresh_capabilities,
            G.CONF_NOTIFICATIONS: self.conf_notification,
            G.DEVICE_REQUEST_RESET: self.device_request_reset,
        }

    def __call__(self, raw: bytes) -> None:
        group = struct.unpack_from("<H", raw, 0)[0]
        self.state.events += 1
        self.table.get(group, self.unimplemented)(raw)

    def link_change(self, raw: bytes) -> None:
        up = bool(struct.unpack_from("<I", raw, 16)[0] & 1)
        if up:
            self.state.link_up_events += 1
        else:
            self.state.link_down_events += 1
        self.state.link_up = up

    def keep_alive(self, raw: bytes) -> None:
        st = self.state
        st.last_keep_alive = self.now()
        st.keep_alive_rx += 1
        lo, hi, tlo, thi, olo, ohi = struct.unpack_from("<6I", raw, 16)
        st.rx_drops = hi << 32 | lo
        st.tx_drops = thi << 32 | tlo
        st.rx_overruns = ohi << 32 | olo

    def notification(self, raw: bytes) -> None:
        syndrome = struct.unpack_from("<H", raw, 2)[0]
        if syndrome == S.UPDATE_HINTS:
            self.state.hints_updates += 1
            self.apply_hints(raw[16:48])
        elif syndrome == S.SUSPEND:
            self.state.suspend += 1
        elif syndrome == S.RESUME:
            self.state.resume += 1
        else:
            self.state.unimplemented += 1

    def refresh_capabilities(self, raw: bytes) -> None:
        self.state.refresh_capabilities += 1
        self.trigger_reset(int(ResetReason.NORMAL))

    def conf_notification(self, raw: bytes) -> None:
        bitmap = struct.unpack_from("<Q", raw, 16)[0]
        self.state.conf_notifications = [b + 1 for b in range(64) if bitmap >> b & 1]

    def device_request_reset(self, raw: bytes) -> None:
        self.trigger_reset(int(ResetReason.DEVICE_REQUEST))

    def unimplemented(self, raw: bytes) -> None:
        group = struct.unpack_from("<H", raw, 0)[0]
        if group == G.FATAL_ERROR:
            self.state.fatal_error_events += 1
        self.state.unimplemented += 1
