"""IO interrupts of the software ENA device: per-vector masking, auto-mask and moderation delays.

INTERFACE.md §10, §13 item 9, §15. Queue pair i shares MSI-X vector i+1 (Tx CQ and Rx CQ are
created with the same vector); a CQ created with vector 0xFFFFFFFF or in polling mode never
interrupts. The unmask register of any CQ on a vector carries rx delay (14:0), tx delay
(29:15) in ``intr_delay_resolution`` µs units, the unmask bit (30) and "no moderation update"
(31). Linux writes only the Rx CQ's register (with both delays), so masking is per *vector*:

- creating a CQ masks its vector (a new CQ is masked until its first unmask write);
- an unmask write unmasks the vector; a write without the unmask bit only updates delays;
- after an interrupt fires the vector is masked again (auto-mask) until the next unmask write;
- an interrupt is posted no earlier than the programmed delay after the first completion
  since the unmask (Rx delay for Rx completions, Tx delay for Tx ones, whichever is due first);
- completions written while the vector was masked are remembered: the unmask write then
  starts the delay, so a completion that raced with the driver's unmask is never stranded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from enatool.ena.eth_io import (
    ENA_ETH_IO_INTR_REG_INTR_UNMASK_MASK,
    ENA_ETH_IO_INTR_REG_NO_MODERATION_UPDATE_MASK,
)

if TYPE_CHECKING:
    from .device import SoftEnaDevice
    from .io_queues import IoCq


@dataclass
class VectorState:
    masked: bool = True
    rx_delay: int = 0  # resolution units
    tx_delay: int = 0
    pending_rx: bool = False  # completions not yet signalled
    pending_tx: bool = False
    armed_rx: bool = False  # delay started for this kind since the unmask
    armed_tx: bool = False
    due_ns: int | None = None
    gen: int = 0  # invalidates scheduled callbacks


class IrqTimer:
    """A scheduled interrupt of one vector; stale once the vector's generation moved on."""

    __slots__ = ("engine", "vector", "gen")

    def __init__(self, engine: IrqEngine, vector: int, gen: int):
        self.engine, self.vector, self.gen = engine, vector, gen

    def __call__(self) -> None:
        self.engine._fire(self.vector, self.gen)


class IrqEngine:
    """Per-vector interrupt state; the datapath reports completions, BAR0 reports unmasks."""

    def __init__(self, dev: SoftEnaDevice):
        self.dev = dev
        self.vectors: dict[int, VectorState] = {}
        self._fire_now: set[int] = set()
        #: CQs per vector, built on first use; CQs come and go only by create/destroy/reset
        self._cqs: dict[int, list[IoCq]] = {}

    def reset(self) -> None:
        for v in self.vectors.values():
            v.gen += 1
        self.vectors.clear()
        self._fire_now.clear()
        self._cqs.clear()

    def _vec(self, v: int) -> VectorState:
        st = self.vectors.get(v)
        if st is None:
            st = self.vectors[v] = VectorState()
        return st

    def _cqs_on(self, v: int) -> list[IoCq]:
        cqs = self._cqs.get(v)
        if cqs is None:
            cqs = self._cqs[v] = [c for c in self.dev.io.cqs.values() if c.msix_vector == v]
        return cqs

    # --- events ---------------------------------------------------------------------------
    def cq_created(self, cq: IoCq) -> None:
        """A new CQ is masked until its first unmask write (§15): its vector is masked."""
        if cq.msix_vector is None:
            return
        self._cqs.clear()
        st = self._vec(cq.msix_vector)
        st.masked = True
        st.gen += 1
        st.due_ns = None
        st.armed_rx = st.armed_tx = False
        for c in self._cqs_on(cq.msix_vector):
            c.masked = True

    def cq_destroyed(self, cq: IoCq) -> None:
        """The last CQ of a vector gone: forget its pending interrupt."""
        v = cq.msix_vector
        self._cqs.clear()
        if v is None or v not in self.vectors or self._cqs_on(v):
            return
        self.vectors[v].gen += 1
        del self.vectors[v]

    def unmask_write(self, cq: IoCq, value: int) -> None:
        """The driver wrote ``cq``'s interrupt unmask register (already decoded into cq)."""
        v = cq.msix_vector
        if v is None:
            return
        st = self._vec(v)
        if not value & ENA_ETH_IO_INTR_REG_NO_MODERATION_UPDATE_MASK:
            st.rx_delay = cq.rx_delay
            st.tx_delay = cq.tx_delay
        if not value & ENA_ETH_IO_INTR_REG_INTR_UNMASK_MASK or not st.masked:
            return
        st.masked = False
        st.armed_rx = st.armed_tx = False
        st.due_ns = None
        for c in self._cqs_on(v):
            c.masked = False
        if st.pending_rx:
            self._arm(v, st, True)
        if st.pending_tx:
            self._arm(v, st, False)

    def completions(self, cq: IoCq, rx: bool) -> None:
        """The datapath wrote completions to ``cq`` at the current time."""
        v = cq.msix_vector
        if v is None:
            return
        st = self._vec(v)
        if rx:
            st.pending_rx = True
        else:
            st.pending_tx = True
        if not st.masked:
            self._arm(v, st, rx)

    # --- timing ---------------------------------------------------------------------------
    def _arm(self, v: int, st: VectorState, rx: bool) -> None:
        if rx:
            if st.armed_rx:
                return
            st.armed_rx = True
            units = st.rx_delay
        else:
            if st.armed_tx:
                return
            st.armed_tx = True
            units = st.tx_delay
        dev = self.dev
        now = dev.now_ns
        due = now + int(units) * max(1, int(dev.intr_delay_resolution)) * 1000
        if st.due_ns is not None and st.due_ns <= due:
            return
        st.due_ns = due
        if due <= now:
            self._fire_now.add(v)
        else:
            dev.schedule(due, IrqTimer(self, v, st.gen))

    def resume_timer(self, v: int) -> None:
        """Schedule vector ``v``'s pending interrupt (its state was advanced outside this
        engine, by the compiled cycle loop): a timer for the current generation at due_ns."""
        st = self.vectors.get(v)
        if st is not None and st.due_ns is not None and not st.masked:
            if st.due_ns <= self.dev.now_ns:
                self._fire_now.add(v)
            else:
                self.dev.schedule(st.due_ns, IrqTimer(self, v, st.gen))

    def flush(self) -> None:
        """Fire the interrupts that are due now (end of a datapath step)."""
        while self._fire_now:
            v = self._fire_now.pop()
            st = self.vectors.get(v)
            if st is not None:
                self._fire(v, st.gen)

    def _fire(self, v: int, gen: int) -> None:
        st = self.vectors.get(v)
        if st is None or st.gen != gen or st.masked or st.due_ns is None:
            return
        if st.due_ns > self.dev.now_ns:
            return
        st.gen += 1
        st.masked = True  # auto-mask until the next unmask write
        st.pending_rx = st.pending_tx = False
        st.armed_rx = st.armed_tx = False
        st.due_ns = None
        for c in self._cqs_on(v):
            c.masked = True
        self.dev.raise_irq(v)
