"""Asynchronous event notification queue: the device's event producer (INTERFACE.md §4, §15).

The driver programs AENQ_BASE_LO/HI and AENQ_CAPS (depth, 64-byte entries) and enables
event groups with SET_FEATURE AENQ_CONFIG. The device then writes 64-byte entries
{group, syndrome, phase flag, timestamp, data} into the ring with a phase bit that starts at
1 and flips at every wrap, writing the phase byte last, and raises the management vector.

Space: the driver reports what it consumed by writing its free-running head to
AENQ_HEAD_DB; head = depth means "the whole ring is free" (which is also the device's
assumption right after AENQ_CAPS). When the ring is full, events wait in the device (none
is overwritten); a keep-alive that finds another keep-alive still waiting refreshes it
instead of queueing a second one.

Events exist only once the AENQ is configured and their group is enabled; enabling group 0
posts the current link state; enabling group 4 starts the keep-alive timer (one event per
virtual second, carrying the device-cumulative rx_drops / tx_drops / rx_overruns).
Timestamps are the device clock in whole seconds.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from enatool.ena import regs
from enatool.ena.admin import (
    ENA_ADMIN_AENQ_ENTRY,
    ENA_ADMIN_AENQ_ENTRY_SIZE,
    ENA_ADMIN_AENQ_KEEP_ALIVE_DESC,
    ENA_ADMIN_AENQ_LINK_CHANGE_DESC,
    AenqGroup,
)
from enatool.ena.bits import pack

from .dma import DmaFault

if TYPE_CHECKING:
    from .device import SoftEnaDevice

#: groups this device can produce (today's driver requests {0,1,2,3,4,6,7})
SUPPORTED_GROUPS = (
    (1 << AenqGroup.LINK_CHANGE)
    | (1 << AenqGroup.FATAL_ERROR)
    | (1 << AenqGroup.WARNING)
    | (1 << AenqGroup.NOTIFICATION)
    | (1 << AenqGroup.KEEP_ALIVE)
    | (1 << AenqGroup.CONF_NOTIFICATIONS)
    | (1 << AenqGroup.DEVICE_REQUEST_RESET)
)
KEEP_ALIVE_PERIOD_NS = 1_000_000_000
#: events waiting for ring space beyond this many are discarded (and counted)
MAX_BACKLOG = 256


class Aenq:
    def __init__(self, dev: SoftEnaDevice):
        self.dev = dev
        self.depth = 0  # 0 = not configured
        self.base = 0
        self.tail = 0  # free-running count of entries written
        self.phase = 1
        self.head_db = 0  # driver's free-running head: writable while tail < head_db
        self.enabled_groups = 0
        self.backlog: deque[tuple[int, int, bytes, int]] = deque()
        self._keep_alive_gen = 0  # bumps to cancel a running keep-alive timer

    # --- configuration ------------------------------------------------------------------
    @property
    def configured(self) -> bool:
        return self.depth > 0

    def configure(self, caps: int) -> None:
        """AENQ_CAPS write: (re)arm the ring with the latched base address."""
        depth = caps & regs.ENA_REGS_AENQ_CAPS_AENQ_DEPTH_MASK
        entry = caps >> regs.ENA_REGS_AENQ_CAPS_AENQ_ENTRY_SIZE_SHIFT
        bar = self.dev.bar0
        if depth == 0 or depth & (depth - 1) or entry != ENA_ADMIN_AENQ_ENTRY_SIZE:
            self.dev.stats.bad_queue_configs += 1
            self.depth = 0
            return
        self.depth = depth
        self.base = bar.latched_addr(regs.ENA_REGS_AENQ_BASE_LO_OFF, regs.ENA_REGS_AENQ_BASE_HI_OFF)
        self.tail = 0
        self.phase = 1
        self.head_db = depth
        self.backlog.clear()

    def head_doorbell(self, value: int) -> None:
        value &= 0xFFFF
        if not self.configured:
            self.dev.stats.aenq_bad_head_doorbells += 1
            return
        space = (value - self.tail) & 0xFFFF
        if space > self.depth:
            self.dev.stats.aenq_bad_head_doorbells += 1
            return
        self.head_db = value

    def reset(self) -> None:
        """Device reset: configuration, enabled groups and waiting events are forgotten."""
        self.depth = 0
        self.base = 0
        self.tail = 0
        self.phase = 1
        self.head_db = 0
        self.enabled_groups = 0
        self.backlog.clear()
        self._keep_alive_gen += 1

    def set_enabled_groups(self, groups: int) -> None:
        """SET_FEATURE AENQ_CONFIG: groups masked by the supported set."""
        old = self.enabled_groups
        new = groups & SUPPORTED_GROUPS
        self.enabled_groups = new
        rising = new & ~old
        if rising & (1 << AenqGroup.LINK_CHANGE):
            self.post_link_change(self.dev.link_up)
        if rising & (1 << AenqGroup.KEEP_ALIVE):
            self._start_keep_alive()
        if old & ~new & (1 << AenqGroup.KEEP_ALIVE):
            self._keep_alive_gen += 1

    # --- producing events ---------------------------------------------------------------
    def post(self, group: int, syndrome: int = 0, data: bytes = b"") -> bool:
        """Queue an event; False if it cannot exist (not configured / group disabled)."""
        if not self.configured or not self.enabled_groups >> group & 1:
            self.dev.stats.aenq_events_discarded += 1
            return False
        seconds = self.dev.now_ns // 1_000_000_000
        if group == AenqGroup.KEEP_ALIVE:
            for i, (g, _s, _d, _t) in enumerate(self.backlog):
                if g == AenqGroup.KEEP_ALIVE:
                    self.backlog[i] = (group, syndrome, data, seconds)
                    return True
        if len(self.backlog) >= MAX_BACKLOG:
            self.dev.stats.aenq_events_discarded += 1
            return False
        self.backlog.append((group, syndrome, data, seconds))
        return True

    def post_link_change(self, up: bool) -> bool:
        raw = pack(ENA_ADMIN_AENQ_LINK_CHANGE_DESC, link_flags=1 if up else 0)
        return self.post(AenqGroup.LINK_CHANGE, 0, raw[16:])

    def post_keep_alive(self) -> bool:
        st = self.dev.stats
        raw = pack(
            ENA_ADMIN_AENQ_KEEP_ALIVE_DESC,
            rx_drops_low=st.rx_drops & 0xFFFFFFFF,
            rx_drops_high=st.rx_drops >> 32 & 0xFFFFFFFF,
            tx_drops_low=st.tx_drops & 0xFFFFFFFF,
            tx_drops_high=st.tx_drops >> 32 & 0xFFFFFFFF,
            rx_overruns_low=st.rx_overruns & 0xFFFFFFFF,
            rx_overruns_high=st.rx_overruns >> 32 & 0xFFFFFFFF,
        )
        return self.post(AenqGroup.KEEP_ALIVE, 0, raw[16:])

    def _start_keep_alive(self) -> None:
        self._keep_alive_gen += 1
        gen = self._keep_alive_gen
        dev = self.dev

        def tick() -> None:
            if gen != self._keep_alive_gen:
                return  # cancelled by disable or reset
            if dev.faults.keep_alive:
                self.post_keep_alive()
            dev.schedule(dev.now_ns + KEEP_ALIVE_PERIOD_NS, tick)

        dev.schedule(dev.now_ns + KEEP_ALIVE_PERIOD_NS, tick)

    # --- writing to host memory ---------------------------------------------------------
    def has_work(self) -> bool:
        """Could ``flush`` write anything: events are waiting."""
        return bool(self.backlog)

    def flush(self) -> bool:
        """Write waiting events while the ring has space; True if any was written."""
        wrote = False
        while self.backlog and self.configured and (self.head_db - self.tail) & 0xFFFF:
            group, syndrome, data, seconds = self.backlog[0]
            slot = self.tail & (self.depth - 1)
            addr = self.base + slot * ENA_ADMIN_AENQ_ENTRY_SIZE
            try:
                entry = self.dev.dma.view(addr, ENA_ADMIN_AENQ_ENTRY_SIZE)
            except DmaFault:
                self.dev.stats.dma_faults += 1
                self.dev.fatal_error(post_event=False)
                self.depth = 0  # the ring is unusable until the driver re-arms it
                return wrote
            raw = np.frombuffer(
                pack(
                    ENA_ADMIN_AENQ_ENTRY,
                    group=group,
                    syndrome=syndrome,
                    flags=self.phase,
                    timestamp_low=seconds & 0xFFFFFFFF,
                    timestamp_high=seconds >> 32 & 0xFFFFFFFF,
                    data=data,
                ),
                np.uint8,
            )
            entry[:4] = raw[:4]
            entry[5:] = raw[5:]
            entry[4] = raw[4]  # flags with the phase bit: last
            self.backlog.popleft()
            self.tail = (self.tail + 1) & 0xFFFF
            if self.tail & (self.depth - 1) == 0:
                self.phase ^= 1
            self.dev.stats.aenq_events += 1
            self.dev.mgmt_pending = True
            wrote = True
        return wrote
