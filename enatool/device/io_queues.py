"""IO submission and completion queues of the software ENA device (INTERFACE.md §2.6, §5, §6).

CREATE_CQ / CREATE_SQ allocate device queue indices and the per-queue registers the driver
learns from the responses; DESTROY_SQ / DESTROY_CQ and a device reset give them back.
Queue state lives here so the datapath (Tx/Rx descriptor processing, LLQ line parsing,
per-CQ interrupts with moderation delays) can extend these objects without touching the
admin engine.

Index spaces (our device's choice, matching how real devices number queues):
- Tx SQs and Rx SQs are numbered separately, 0..num_queues-1 each (DESTROY_SQ names the
  direction); RSS indirection entries hold Rx SQ indices;
- CQs are numbered 0..2*num_queues-1;
- lowest free index first, so the Linux bring-up order (Tx CQ+SQ for every queue, then
  Rx CQ+SQ) yields Tx SQ i / Rx SQ i for ring i.

Per-queue BAR0 registers (8 KiB BAR0 for up to 128 queue pairs):
- SQ doorbells from 0x1000: Tx SQ i at 0x1000 + 8i, Rx SQ i at 0x1004 + 8i;
- CQ j: interrupt unmask at 0x1400 + 8j, NUMA config at 0x1404 + 8j;
- CQ j head doorbell (2016 drivers) at 0x1C00 + 4j.
LLQ descriptor areas (placement policy DEV) are carved out of BAR2, depth × line size each.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from enatool.ena.admin import ENA_MSIX_VECTOR_NONE, PlacementPolicy, SqDirection
from enatool.ena.eth_io import (
    ENA_ETH_IO_INTR_REG_INTR_UNMASK_MASK,
    ENA_ETH_IO_INTR_REG_NO_MODERATION_UPDATE_MASK,
    ENA_ETH_IO_INTR_REG_RX_INTR_DELAY_MASK,
    ENA_ETH_IO_INTR_REG_TX_INTR_DELAY_MASK,
    ENA_ETH_IO_INTR_REG_TX_INTR_DELAY_SHIFT,
    ENA_ETH_IO_NUMA_NODE_CFG_REG_ENABLED_MASK,
    ENA_ETH_IO_NUMA_NODE_CFG_REG_NUMA_MASK,
)

from .dma import RangeAllocator

SQ_DOORBELL_BASE = 0x1000
CQ_REGS_BASE = 0x1400
CQ_HEAD_DB_BASE = 0x1C00
PER_QUEUE_END = 0x2000
MAX_QUEUE_PAIRS = 128



@dataclass
class IoCq:
    """A completion queue in host memory; the device writes completions with a phase bit."""

    idx: int
    depth: int
    entry_size: int  # bytes (4 × cq_entry_size_words)
    base: int  # bus address
    msix_vector: int | None  # None = never interrupt (polling CQ or vector 0xFFFFFFFF)
    unmask_offset: int
    numa_offset: int
    head_db_offset: int
    # device producer state: free-running tail, current phase (starts 1, flips on wrap)
    tail: int = 0
    phase: int = 1
    # interrupt state: masked until the driver's first unmask write (§15)
    masked: bool = True
    rx_delay: int = 0  # in intr_delay_resolution units
    tx_delay: int = 0
    unmask_writes: int = 0
    numa_node: int | None = None
    head_db: int = 0  # last value written to the 2016-style head doorbell
    sq: IoSq | None = None  # the SQ bound to this CQ

    def write_unmask(self, value: int) -> None:
        """Interrupt unmask register: delays (unless no_moderation_update) and unmask bit."""
        if not value & ENA_ETH_IO_INTR_REG_NO_MODERATION_UPDATE_MASK:
            self.rx_delay = value & ENA_ETH_IO_INTR_REG_RX_INTR_DELAY_MASK
            self.tx_delay = (value & ENA_ETH_IO_INTR_REG_TX_INTR_DELAY_MASK) >> (
                ENA_ETH_IO_INTR_REG_TX_INTR_DELAY_SHIFT
            )
        if value & ENA_ETH_IO_INTR_REG_INTR_UNMASK_MASK:
            self.masked = False
        self.unmask_writes += 1

    def write_head_db(self, value: int) -> None:
        """2016-style CQ head doorbell: recorded only (today's drivers never write it)."""
        self.head_db = value

    def write_numa(self, value: int) -> None:
        enabled = value & ENA_ETH_IO_NUMA_NODE_CFG_REG_ENABLED_MASK
        self.numa_node = value & ENA_ETH_IO_NUMA_NODE_CFG_REG_NUMA_MASK if enabled else None


@dataclass
class IoSq:
    """A submission queue: descriptors in host memory, or LLQ lines pushed into BAR2."""

    idx: int
    direction: SqDirection
    placement: PlacementPolicy
    completion_policy: int
    depth: int
    cq: IoCq
    doorbell_offset: int
    base: int = 0  # bus address (host placement)
    llq_offset: int = 0  # BAR2 offset (device placement)
    llq_line_size: int = 0  # bytes per LLQ line (device placement)
    llq_config: dict = field(default_factory=dict)  # LLQ settings when created
    # driver-written free-running tail (doorbell) and device consumer state
    tail: int = 0
    head: int = 0
    phase: int = 1
    doorbells: int = 0

    def ring_doorbell(self, value: int) -> None:
        self.tail = value & 0xFFFF
        self.doorbells += 1


class IoQueues:
    """All IO queues of the device and the BAR0/BAR2 resources they own."""

    def __init__(self, num_queues: int, bar2_size: int):
        self.num_queues = num_queues
        self.tx_sqs: dict[int, IoSq] = {}
        self.rx_sqs: dict[int, IoSq] = {}
        self.cqs: dict[int, IoCq] = {}
        self._bar2 = RangeAllocator(bar2_size, 64) if bar2_size else None
        # BAR0 offset -> (queue object, method name) for the per-queue registers
        self.registers: dict[int, tuple[object, str]] = {}
        #: the datapath: told about register writes and new CQs (interrupt state)
        self.listener = None

    # --- index allocation -----------------------------------------------------------------
    @staticmethod
    def _lowest_free(used: dict, limit: int) -> int | None:
        for i in range(limit):
            if i not in used:
                return i
        return None

    def sqs(self, direction: SqDirection) -> dict[int, IoSq]:
        return self.tx_sqs if direction == SqDirection.TX else self.rx_sqs

    # --- create / destroy (validated by the admin command handlers) -----------------------
    def add_cq(self, depth: int, entry_size: int, base: int, vector: int | None) -> IoCq | None:
        idx = self._lowest_free(self.cqs, 2 * self.num_queues)
        if idx is None:
            return None
        cq = IoCq(
            idx=idx,
            depth=depth,
            entry_size=entry_size,
            base=base,
            msix_vector=None if vector in (None, ENA_MSIX_VECTOR_NONE) else vector,
            unmask_offset=CQ_REGS_BASE + 8 * idx,
            numa_offset=CQ_REGS_BASE + 8 * idx + 4,
            head_db_offset=CQ_HEAD_DB_BASE + 4 * idx,
        )
        self.cqs[idx] = cq
        self.registers[cq.unmask_offset] = (cq, "write_unmask")
        self.registers[cq.numa_offset] = (cq, "write_numa")
        self.registers[cq.head_db_offset] = (cq, "write_head_db")
        if self.listener is not None:
            self.listener.on_cq_created(cq)
        return cq

    def add_sq(
        self,
        direction: SqDirection,
        placement: PlacementPolicy,
        completion_policy: int,
        depth: int,
        cq: IoCq,
        base: int,
        llq_line_size: int = 0,
        llq_config: dict | None = None,
    ) -> IoSq | None:
        """New SQ bound to ``cq``; None when out of indices or of LLQ memory."""
        table = self.sqs(direction)
        idx = self._lowest_free(table, self.num_queues)
        if idx is None:
            return None
        llq_offset = 0
        if placement == PlacementPolicy.DEV:
            if self._bar2 is None:
                return None
            off = self._bar2.alloc(depth * llq_line_size)
            if off is None:
                return None
            llq_offset = off
        doorbell = SQ_DOORBELL_BASE + 8 * idx + (0 if direction == SqDirection.TX else 4)
        sq = IoSq(
            idx=idx,
            direction=direction,
            placement=placement,
            completion_policy=completion_policy,
            depth=depth,
            cq=cq,
            doorbell_offset=doorbell,
            base=base if placement == PlacementPolicy.HOST else 0,
            llq_offset=llq_offset,
            llq_line_size=llq_line_size,
            llq_config=dict(llq_config or {}),
        )
        table[idx] = sq
        cq.sq = sq
        self.registers[doorbell] = (sq, "ring_doorbell")
        return sq

    def remove_sq(self, sq: IoSq) -> None:
        if self.listener is not None:
            self.listener.on_sq_destroyed(sq)
        del self.sqs(sq.direction)[sq.idx]
        self.registers.pop(sq.doorbell_offset, None)
        if sq.placement == PlacementPolicy.DEV and self._bar2 is not None:
            self._bar2.free(sq.llq_offset)
        sq.cq.sq = None

    def remove_cq(self, cq: IoCq) -> None:
        del self.cqs[cq.idx]
        if self.listener is not None:
            self.listener.on_cq_destroyed(cq)
        for off in (cq.unmask_offset, cq.numa_offset, cq.head_db_offset):
            self.registers.pop(off, None)

    def destroy_all(self) -> None:
        """Device reset: every IO queue disappears."""
        for table in (self.tx_sqs, self.rx_sqs):
            for sq in list(table.values()):
                self.remove_sq(sq)
        for cq in list(self.cqs.values()):
            self.remove_cq(cq)
        self.registers.clear()
        if self._bar2 is not None:
            self._bar2.reset()

    # --- datapath ------------------------------------------------------------------------
    def poll(self) -> bool:
        """Process doorbells (Tx fetch, Rx buffer posting, completions, interrupts).

        Kept for compatibility: the device runs ``Datapath.poll`` (datapath.py) instead.
        """
        return False

    # --- BAR0 per-queue registers ---------------------------------------------------------
    def write_register(self, offset: int, value: int) -> bool:
        """Dispatch a BAR0 write in the per-queue area; False if nothing lives there."""
        target = self.registers.get(offset)
        if target is None:
            return False
        obj, method = target
        getattr(obj, method)(value)
        if self.listener is not None:
            self.listener.on_register_write(obj, method, value)
        return True

    def write_register_seq(self, offset: int, values) -> bool:
        """A run of writes to one SQ doorbell register (int64 array, in order): the tail
        ends at the last value, every value counts as a doorbell. False when ``offset`` is
        not an SQ doorbell (the caller then writes the values one by one)."""
        target = self.registers.get(offset)
        if target is None or target[1] != "ring_doorbell":
            return False
        sq = target[0]
        n = int(values.shape[0])
        sq.ring_doorbell(int(values[n - 1]))
        sq.doorbells += n - 1
        if self.listener is not None:
            self.listener.on_doorbell_seq(sq, values)
        return True

    def read_register(self, offset: int) -> int:
        """Per-queue registers are write-only; reads return the last meaningful value."""
        target = self.registers.get(offset)
        if target is None:
            return 0
        obj, what = target
        if what == "ring_doorbell":
            return obj.tail  # type: ignore[attr-defined]
        if what == "write_head_db":
            return obj.head_db  # type: ignore[attr-defined]
        return 0
