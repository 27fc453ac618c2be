"""The IO datapath of the software ENA device: Tx engine, Rx engine, port and IO interrupts.

Glue between the management plane (IO queue objects, BAR0 per-queue registers) and the burst
engines in ``tx.py``, ``rx.py``, ``wire.py`` and ``irq.py`` (INTERFACE.md §5, §6, §10, §15).
``SoftEnaDevice`` owns one ``Datapath``; its ``poll()`` runs inside ``process()``/``advance()``:
received frames that are due are delivered, Tx SQs whose tail moved are processed, and the
interrupts due now fire. Register hooks (``on_register_write``, ``on_cq_created``) come from
``IoQueues``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from enatool.ena.admin import SqDirection

from .irq import IrqEngine
from .rx import RxEngine
from .tx import TxEngine
from .wire import Wire

if TYPE_CHECKING:
    from .device import SoftEnaDevice
    from .io_queues import IoCq, IoSq

MAX_KEPT_ERRORS = 20
_TX = SqDirection.TX


class Datapath:
    def __init__(self, dev: SoftEnaDevice):
        self.dev = dev
        self.wire = Wire(dev)
        self.tx = TxEngine(dev)
        self.rx = RxEngine(dev)
        self.irq = IrqEngine(dev)
        self.errors: list[str] = []  # why the datapath declared fatal errors

    # --- hooks from the management plane ---------------------------------------------------
    def on_register_write(self, obj: object, method: str, value: int) -> None:
        if method == "ring_doorbell":
            if obj.direction == _TX:  # type: ignore[attr-defined]
                self.tx.doorbell(obj)  # type: ignore[arg-type]
        elif method == "write_unmask":
            self.irq.unmask_write(obj, value)  # type: ignore[arg-type]

    def on_doorbell_seq(self, sq: IoSq, values) -> None:
        """A run of doorbell writes to one SQ (``IoQueues.write_register_seq``)."""
        if sq.direction == _TX:
            self.tx.doorbell_seq(sq, values)

    def on_cq_created(self, cq: IoCq) -> None:
        self.irq.cq_created(cq)

    def on_cq_destroyed(self, cq: IoCq) -> None:
        self.irq.cq_destroyed(cq)

    def on_sq_destroyed(self, sq: IoSq) -> None:
        """DESTROY_SQ: the queue's device state (meta cache, counters) goes with it."""
        table = self.tx.queues if sq.direction == SqDirection.TX else self.rx.queues
        st = table.get(sq.idx)
        if st is not None and st.sq is sq:
            del table[sq.idx]

    def reset(self) -> None:
        """Device reset: queue state and vector state are gone; the cable stays plugged."""
        self.tx.reset()
        self.rx.reset()
        self.irq.reset()

    # --- the datapath step ------------------------------------------------------------------
    def has_work(self) -> bool:
        """Could ``poll`` do anything now: frames on the wire (due or not), an interrupt due
        or Tx work (``TxEngine.has_work``)."""
        if self.wire.rx_pending or self.irq._fire_now:
            return True
        return self.tx.has_work()

    def poll(self) -> bool:
        dev = self.dev
        progressed = False
        while True:
            batch = self.wire.due_frames(dev.now_ns)
            if batch is None:
                break
            progressed |= self.rx.receive(batch)
        progressed |= self.tx.poll()
        self.irq.flush()
        if len(self.errors) > MAX_KEPT_ERRORS:
            del self.errors[:-MAX_KEPT_ERRORS]
        return progressed

    # --- statistics -------------------------------------------------------------------------
    def queue_stats(self) -> dict[str, int]:
        """Per-queue counters, ``queue_<i>_tx_*`` / ``queue_<i>_rx_*`` (GET_STATS EXTENDED)."""
        out: dict[str, int] = {}
        for idx in sorted(self.tx.queues):
            for k, v in self.tx.queues[idx].counters.as_dict().items():
                out[f"queue_{idx}_tx_{k}"] = v
        for idx in sorted(self.rx.queues):
            for k, v in self.rx.queues[idx].counters.as_dict().items():
                out[f"queue_{idx}_rx_{k}"] = v
        return out
