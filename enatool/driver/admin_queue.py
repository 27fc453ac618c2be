"""Admin submission/completion queues (ena_com's AQ/ACQ machinery).

Reproduces today's ena_com (amzn-drivers v2.17.0, INTERFACE.md §2): 32-entry AQ and ACQ of
64-byte entries, phase bits starting at 1, a free-running 16-bit SQ tail written to AQ_DB,
command ids cycling 0..depth−1 with one completion context per id, and two wait modes:

* polling (INTR_MASK = 1, used during probe): consume the ACQ until the command completes,
  sleeping with exponential back-off (2016: fixed 100 ms sleeps);
* interrupt (INTR_MASK = 0): wait for management interrupts on vector 0; the interrupt
  handler (supplied by the driver, it also drains the AENQ) consumes the ACQ. On timeout the
  ACQ is polled once: a completion found there means the interrupt was lost
  ("missing admin interrupt"). With auto-polling off (Linux never turns it on) the queue
  then leaves running state; with it on, the queue switches to polling mode.

A queue that left running state refuses further commands (-ENODEV) until the driver resets
the device; the 1 Hz health check turns that into a reset with reason ADMIN_TO (2) or
MISSING_ADMIN_INTERRUPT (18).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from enatool.driver.mmio import MmioRegs
from enatool.driver.reset import POLL_2016_S, backoff_s
from enatool.ena import regs
from enatool.errors import AdminError, AdminTimeout, DeviceError

ADMIN_QUEUE_DEPTH = 32
ENTRY_SIZE = 64
CMD_ID_MASK = 0x0FFF
PHASE_MASK = 0x1

#: completion status → (status name, Linux errno name) as ``ena_com_admin_status_to_errno``
STATUS_ERRNO = {
    0: ("SUCCESS", ""),
    1: ("RESOURCE_ALLOCATION_FAILURE", "ENOMEM"),
    2: ("BAD_OPCODE", "EINVAL"),
    3: ("UNSUPPORTED_OPCODE", "EOPNOTSUPP"),
    4: ("MALFORMED_REQUEST", "EINVAL"),
    5: ("ILLEGAL_PARAMETER", "EINVAL"),
    6: ("UNKNOWN_ERROR", "EINVAL"),
    7: ("RESOURCE_BUSY", "EAGAIN"),
}


class AdminQueueDown(DeviceError):
    """The admin queue is not in running state (-ENODEV): a reset is needed."""


class AdminQueueFull(DeviceError):
    """All command contexts are in use (-ENOSPC)."""


class FeatureNotSupported(AdminError):
    """The driver refused a GET/SET for a feature the device does not advertise
    (-EOPNOTSUPP; nothing was sent)."""

    errno_name = "EOPNOTSUPP"

    def __init__(self, feature_id: int):
        super().__init__(f"feature {feature_id} is not supported by the device", status=3)
        self.feature_id = feature_id


def admin_error(opcode: int, status: int, ext_status: int = 0) -> AdminError:
    name, errno_name = STATUS_ERRNO.get(status, (f"STATUS_{status}", "EINVAL"))
    msg = f"admin command {opcode} failed: {name} (-{errno_name})"
    if ext_status:
        msg += f", extended status {ext_status:#x}"
    err = AdminError(msg, status=status)
    err.errno_name = errno_name  # type: ignore[attr-defined]
    err.extended_status = ext_status  # type: ignore[attr-defined]
    return err


class CmdState(enum.Enum):
    SUBMITTED = 1
    COMPLETED = 2
    ABORTED = 3


@dataclass
class CompCtx:
    """``struct ena_comp_ctx``: one per command id."""

    occupied: bool = False
    state: CmdState = CmdState.COMPLETED
    opcode: int = 0
    status: int = 0
    resp: bytes = b""


@dataclass
class AdminStats:
    """``ena_com_stats_admin`` (ethtool ``ena_admin_q_*``)."""

    aborted_cmd: int = 0
    submitted_cmd: int = 0
    completed_cmd: int = 0
    out_of_space: int = 0
    no_completion: int = 0


@dataclass
class AdminQueue:
    """AQ + ACQ for one device init. ``irq_service`` is the management interrupt handler
    the driver installs for interrupt mode (it must call :meth:`handle_completions`)."""

    mmio: MmioRegs
    timeout_s: float
    era: str = "today"
    depth: int = ADMIN_QUEUE_DEPTH
    irq_service: Callable[[], None] | None = None
    auto_polling: bool = False
    stats: AdminStats = field(default_factory=AdminStats)

    def __post_init__(self) -> None:
        port = self.mmio.port
        self.port = port
        size = self.depth * ENTRY_SIZE
        self.sq_addr = port.dma_alloc(size)
        self.cq_addr = None
        try:
            self.cq_addr = port.dma_alloc(size)
        except Exception:
            port.dma_free(self.sq_addr)
            raise
        self._sq = port.dma_view(self.sq_addr, size)
        self._cq = port.dma_view(self.cq_addr, size)
        self.sq_tail = 0
        self.sq_phase = 1
        self.cq_head = 0
        self.cq_phase = 1
        self.curr_cmd_id = 0
        self.ctx = [CompCtx() for _ in range(self.depth)]
        self.outstanding = 0
        self.running = False
        self.polling = False
        self.missing_interrupt = False

    # -- registers --------------------------------------------------------------------------
    def program_device(self) -> None:
        """Write AQ/ACQ base addresses and caps (part of ``ena_com_admin_init``)."""
        m = self.mmio
        m.write32(regs.ENA_REGS_AQ_BASE_LO_OFF, self.sq_addr & 0xFFFFFFFF)
        m.write32(regs.ENA_REGS_AQ_BASE_HI_OFF, self.sq_addr >> 32)
        m.write32(regs.ENA_REGS_ACQ_BASE_LO_OFF, self.cq_addr & 0xFFFFFFFF)
        m.write32(regs.ENA_REGS_ACQ_BASE_HI_OFF, self.cq_addr >> 32)
        caps = self.depth | (ENTRY_SIZE << regs.ENA_REGS_AQ_CAPS_AQ_ENTRY_SIZE_SHIFT)
        m.write32(regs.ENA_REGS_AQ_CAPS_OFF, caps)
        m.write32(regs.ENA_REGS_ACQ_CAPS_OFF, caps)
        self.running = True
        self.missing_interrupt = False

    def set_polling(self, polling: bool) -> None:
        """``ena_com_set_admin_polling_mode``: INTR_MASK 1 = masked (polling), 0 = interrupts."""
        self.mmio.write32(
            regs.ENA_REGS_INTR_MASK_OFF, regs.ENA_REGS_ADMIN_INTR_MASK if polling else 0
        )
        self.polling = polling

    def set_completion_timeout_ms(self, ms: int) -> None:
        """HW hint ``admin_completion_tx_timeout`` (0 = keep)."""
        if ms:
            self.timeout_s = ms * 1e-3

    # -- submission -------------------------------------------------------------------------
    def _submit(self, cmd: bytes) -> tuple[int, CompCtx]:
        if not self.running:
            raise AdminQueueDown("admin queue is not running (-ENODEV)")
        if self.outstanding >= self.depth:
            self.stats.out_of_space += 1
            self.running = False
            raise AdminQueueFull("admin queue is full (-ENOSPC)")
        cmd_id = self.curr_cmd_id
        ctx = self.ctx[cmd_id]
        if ctx.occupied:
            self.running = False
            raise AdminQueueDown(f"completion context {cmd_id} is occupied (-EINVAL)")
        ctx.occupied = True
        self.outstanding += 1
        ctx.state = CmdState.SUBMITTED
        ctx.opcode = cmd[2]
        ctx.status = 0
        ctx.resp = b""

        entry = bytearray(cmd.ljust(ENTRY_SIZE, b"\0")[:ENTRY_SIZE])
        cid = (entry[0] | entry[1] << 8) & ~CMD_ID_MASK | cmd_id
        entry[0], entry[1] = cid & 0xFF, cid >> 8
        entry[3] = (entry[3] & ~PHASE_MASK) | self.sq_phase
        slot = self.sq_tail & (self.depth - 1)
        self._sq[slot * ENTRY_SIZE : (slot + 1) * ENTRY_SIZE] = np.frombuffer(entry, np.uint8)

        self.curr_cmd_id = (self.curr_cmd_id + 1) & (self.depth - 1)
        self.sq_tail = (self.sq_tail + 1) & 0xFFFF
        self.stats.submitted_cmd += 1
        if self.sq_tail & (self.depth - 1) == 0:
            self.sq_phase ^= 1
        self.mmio.write32(regs.ENA_REGS_AQ_DB_OFF, self.sq_tail)
        return cmd_id, ctx

    def _release(self, ctx: CompCtx) -> None:
        if ctx.occupied:
            ctx.occupied = False
            self.outstanding -= 1

    # -- completion -------------------------------------------------------------------------
    def handle_completions(self) -> int:
        """Consume every new ACQ entry (``ena_com_handle_admin_completion``)."""
        head = self.cq_head & (self.depth - 1)
        phase = self.cq_phase
        n = 0
        cq = self._cq
        while (int(cq[head * ENTRY_SIZE + 3]) & PHASE_MASK) == phase:
            raw = cq[head * ENTRY_SIZE : (head + 1) * ENTRY_SIZE].tobytes()
            cmd_id = (raw[0] | raw[1] << 8) & CMD_ID_MASK
            if cmd_id >= self.depth:
                # a completion for an id we never issued: stop the queue (reset follows)
                self.running = False
            else:
                ctx = self.ctx[cmd_id]
                if ctx.occupied:
                    ctx.resp = raw
                ctx.status = raw[2]
                ctx.state = CmdState.COMPLETED
            head += 1
            n += 1
            if head == self.depth:
                head = 0
                phase ^= 1
        self.cq_head = (self.cq_head + n) & 0xFFFF
        self.cq_phase = phase
        self.stats.completed_cmd += n
        return n

    def pending_completion(self) -> bool:
        """Is a completion sitting in the ACQ (phase matches) without being consumed?"""
        head = self.cq_head & (self.depth - 1)
        return (int(self._cq[head * ENTRY_SIZE + 3]) & PHASE_MASK) == self.cq_phase

    def _poll_s(self, exp: int) -> float:
        return POLL_2016_S if self.era == "2016" else backoff_s(exp)

    def _wait_polling(self, ctx: CompCtx) -> None:
        deadline = self.port.now() + self.timeout_s
        exp = 0
        while True:
            self.handle_completions()
            if ctx.state != CmdState.SUBMITTED:
                return
            if self.port.now() >= deadline:
                self.stats.no_completion += 1
                self.running = False
                raise AdminTimeout(
                    f"admin command {ctx.opcode}: no completion within {self.timeout_s:g} s"
                    " (polling)"
                )
            self.port.sleep(self._poll_s(exp))
            exp += 1

    def _wait_interrupt(self, ctx: CompCtx) -> None:
        deadline = self.port.now() + self.timeout_s
        exp = 0
        service = self.irq_service or self._default_irq_service
        while True:
            service()
            if ctx.state != CmdState.SUBMITTED or self.port.now() >= deadline:
                break
            self.port.sleep(self._poll_s(exp))
            exp += 1
        if ctx.state != CmdState.SUBMITTED:
            return
        # timed out: find the root cause by polling the ACQ once
        self.handle_completions()
        self.stats.no_completion += 1
        if ctx.state != CmdState.COMPLETED:
            self.running = False
            raise AdminTimeout(
                f"admin command {ctx.opcode}: no completion within {self.timeout_s:g} s"
            )
        self.missing_interrupt = True
        if not self.auto_polling:
            self.running = False
            raise AdminTimeout(
                f"admin command {ctx.opcode} completed but the management interrupt was lost"
            )
        self.set_polling(True)

    def _default_irq_service(self) -> None:
        if self.port.irq_take(0):
            self.handle_completions()

    def execute(self, cmd: bytes) -> bytes:
        """Submit one 64-byte command and wait; returns the 64-byte ACQ entry.

        Raises AdminError (non-success status, with the Linux errno name), AdminTimeout,
        AdminQueueDown / AdminQueueFull; the context is always released.
        """
        _cmd_id, ctx = self._submit(bytes(cmd))
        try:
            if self.polling:
                self._wait_polling(ctx)
            else:
                self._wait_interrupt(ctx)
            if ctx.state == CmdState.ABORTED:
                self.stats.aborted_cmd += 1
                raise AdminQueueDown(f"admin command {ctx.opcode} was aborted (-ENODEV)")
            if ctx.status != 0:
                ext = ctx.resp[4] | ctx.resp[5] << 8 if ctx.resp else 0
                raise admin_error(ctx.opcode, ctx.status, ext)
            return ctx.resp
        finally:
            self._release(ctx)

    # -- teardown ---------------------------------------------------------------------------
    def abort_all(self) -> None:
        """``ena_com_abort_admin_commands``: every waiter sees ABORTED; contexts released."""
        for ctx in self.ctx:
            if ctx.occupied:
                ctx.state = CmdState.ABORTED
                self._release(ctx)

    def contexts_in_use(self) -> int:
        return sum(1 for c in self.ctx if c.occupied)

    def destroy(self) -> None:
        self.running = False
        self.abort_all()
        self._sq = self._cq = None
        for addr in (self.sq_addr, self.cq_addr):
            if addr is not None:
                self.port.dma_free(addr)
        self.sq_addr = self.cq_addr = None
