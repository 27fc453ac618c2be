"""Admin queue engine: fetch AQ entries, execute them, write ACQ completions (INTERFACE.md §2).

The driver writes 64-byte commands into the AQ ring (phase bit in byte 3 = 1 on its first
pass, flipping at every wrap) and then its free-running 16-bit tail to AQ_DB. At the next
``process()`` the device fetches every entry between its head and that tail, checks the
phase, executes the command and writes a 64-byte completion into the ACQ at its own tail:
command id (12 bits, echoed), status, extended status, sq_head_indx and the response, with
the phase byte written last; the ACQ phase also starts at 1 and flips at every wrap. New
completions raise the management vector (see ``SoftEnaDevice``).

Command handlers raise ``CommandError(status, extended_status)``; a DMA fault on a
driver-supplied address becomes ILLEGAL_PARAMETER with ``ExtendedStatus.DMA_ADDRESS``.
Nothing raised by a handler escapes the device.
"""

from __future__ import annotations

from collections import deque
from enum import IntEnum
from typing import TYPE_CHECKING

import numpy as np

from enatool.ena import regs
from enatool.ena.admin import (
    ENA_ADMIN_ACQ_CREATE_CQ_RESP_DESC,
    ENA_ADMIN_ACQ_CREATE_SQ_RESP_DESC,
    ENA_ADMIN_ACQ_ENTRY_SIZE,
    ENA_ADMIN_AQ_COMMON_DESC_COMMAND_ID_MASK,
    ENA_ADMIN_AQ_COMMON_DESC_PHASE_MASK,
    ENA_ADMIN_AQ_CREATE_CQ_CMD,
    ENA_ADMIN_AQ_CREATE_CQ_CMD_CQ_ENTRY_SIZE_WORDS_MASK,
    ENA_ADMIN_AQ_CREATE_CQ_CMD_INTERRUPT_MODE_ENABLED_MASK,
    ENA_ADMIN_AQ_CREATE_SQ_CMD,
    ENA_ADMIN_AQ_CREATE_SQ_CMD_COMPLETION_POLICY_MASK,
    ENA_ADMIN_AQ_CREATE_SQ_CMD_COMPLETION_POLICY_SHIFT,
    ENA_ADMIN_AQ_CREATE_SQ_CMD_IS_PHYSICALLY_CONTIGUOUS_MASK,
    ENA_ADMIN_AQ_CREATE_SQ_CMD_PLACEMENT_POLICY_MASK,
    ENA_ADMIN_AQ_CREATE_SQ_CMD_SQ_DIRECTION_MASK,
    ENA_ADMIN_AQ_CREATE_SQ_CMD_SQ_DIRECTION_SHIFT,
    ENA_ADMIN_AQ_DESTROY_CQ_CMD,
    ENA_ADMIN_AQ_DESTROY_SQ_CMD,
    ENA_ADMIN_AQ_ENTRY_SIZE,
    ENA_ADMIN_SQ_SQ_DIRECTION_MASK,
    ENA_ADMIN_SQ_SQ_DIRECTION_SHIFT,
    ENA_MSIX_VECTOR_NONE,
    AdminOpcode,
    AdminStatus,
    CompletionPolicy,
    PlacementPolicy,
    SqDirection,
)
from enatool.ena.bits import pack, unpack

from .dma import DmaFault
from .stats import get_stats

if TYPE_CHECKING:
    from .device import SoftEnaDevice

#: AQ flags bits 7:3 are reserved
AQ_FLAGS_RESERVED_MASK = 0xF8
#: command ids are 12 bits; bits 15:12 of the AQ command_id word are reserved
COMMAND_ID_RESERVED_MASK = 0xF000
#: deepest admin ring the device accepts (12-bit command ids)
MAX_ADMIN_DEPTH = 4096
#: CQ entry sizes in 32-bit words: Tx base 8 B, Rx base / Tx ext 16 B, Rx ext 32 B
TX_CQ_ENTRY_WORDS = (2, 4)
RX_CQ_ENTRY_WORDS = (4, 8)


class ExtendedStatus(IntEnum):
    """Detail of an ILLEGAL_PARAMETER (or other) status in ``extended_status``.

    These codes are our device's own choice: the public sources define the field but
    not its values. Non-zero on every ILLEGAL_PARAMETER.
    """

    NONE = 0
    DEPTH = 1  # not a power of 2, zero, or above the maximum
    QUEUE_INDEX = 2  # unknown / busy CQ or SQ index
    MSIX_VECTOR = 3
    DIRECTION = 4
    PLACEMENT = 5
    COMPLETION_POLICY = 6
    ENTRY_SIZE = 7
    DMA_ADDRESS = 8  # a driver-supplied address is not mapped for the needed size
    VALUE = 9  # a feature value outside the supported range
    QUEUE_IN_USE = 10
    STATS_TYPE = 11
    RESERVED = 12  # reserved bits set (MALFORMED_REQUEST)
    CTRL_BUFFER = 13  # control-buffer length (MALFORMED_REQUEST)


class CommandError(Exception):
    def __init__(self, status: AdminStatus, extended: int = 0, why: str = ""):
        super().__init__(why or status.name)
        self.status = status
        self.extended = int(extended)


def illegal(extended: ExtendedStatus, why: str = "") -> CommandError:
    return CommandError(AdminStatus.ILLEGAL_PARAMETER, extended, why)


def malformed(extended: ExtendedStatus = ExtendedStatus.RESERVED, why: str = "") -> CommandError:
    return CommandError(AdminStatus.MALFORMED_REQUEST, extended, why)


def is_pow2(n: int) -> bool:
    return n > 0 and not n & (n - 1)


class AdminQueue:
    def __init__(self, dev: SoftEnaDevice):
        self.dev = dev
        # AQ (driver -> device)
        self.aq_depth = 0  # 0 = not configured
        self.aq_base = 0
        self.aq_head = 0  # free-running: entries fetched
        self.aq_phase = 1  # phase expected in the next entry
        self.aq_tail = 0  # last AQ_DB value
        # ACQ (device -> driver)
        self.acq_depth = 0
        self.acq_base = 0
        self.acq_tail = 0
        self.acq_phase = 1
        # fetched commands waiting for their completion time: (due_ns, raw, sq_head)
        self.pending: deque[tuple[int, bytes, int]] = deque()
        #: last few (opcode, status) pairs, newest last, for debugging and `info`
        self.history: deque[tuple[int, int]] = deque(maxlen=64)

    # --- configuration registers --------------------------------------------------------
    def _valid_caps(self, caps: int) -> int:
        depth = caps & regs.ENA_REGS_AQ_CAPS_AQ_DEPTH_MASK
        entry = caps >> regs.ENA_REGS_AQ_CAPS_AQ_ENTRY_SIZE_SHIFT
        if not is_pow2(depth) or depth > MAX_ADMIN_DEPTH or entry != ENA_ADMIN_AQ_ENTRY_SIZE:
            self.dev.stats.bad_queue_configs += 1
            return 0
        return depth

    def configure_aq(self, caps: int) -> None:
        self.aq_depth = self._valid_caps(caps)
        self.aq_base = self.dev.bar0.latched_addr(
            regs.ENA_REGS_AQ_BASE_LO_OFF, regs.ENA_REGS_AQ_BASE_HI_OFF
        )
        self.aq_head = 0
        self.aq_tail = 0
        self.aq_phase = 1
        self.pending.clear()

    def configure_acq(self, caps: int) -> None:
        self.acq_depth = self._valid_caps(caps)
        self.acq_base = self.dev.bar0.latched_addr(
            regs.ENA_REGS_ACQ_BASE_LO_OFF, regs.ENA_REGS_ACQ_BASE_HI_OFF
        )
        self.acq_tail = 0
        self.acq_phase = 1

    def doorbell(self, value: int) -> None:
        """AQ_DB write: the driver's free-running tail."""
        value &= 0xFFFF
        if self.aq_depth and (value - self.aq_head) & 0xFFFF > self.aq_depth:
            self.dev.stats.aq_bad_doorbells += 1
            return
        self.aq_tail = value

    def reset(self) -> None:
        self.aq_depth = self.acq_depth = 0
        self.aq_base = self.acq_base = 0
        self.aq_head = self.aq_tail = self.acq_tail = 0
        self.aq_phase = self.acq_phase = 1
        self.pending.clear()

    def restart(self) -> None:
        """DEV_CTL.aq_restart: rings restart from slot 0 with phase 1, configuration kept."""
        self.aq_head = self.aq_tail = self.acq_tail = 0
        self.aq_phase = self.acq_phase = 1
        self.pending.clear()

    # --- the engine ---------------------------------------------------------------------
    def has_work(self, now_ns: int) -> bool:
        """Would ``poll`` do anything at ``now_ns``: entries to fetch or a completion due."""
        if self.aq_head != self.aq_tail and self.aq_depth and self.acq_depth:
            return True
        return bool(self.pending) and self.pending[0][0] <= now_ns

    def poll(self) -> bool:
        """Fetch new commands and complete due ones; True if anything happened."""
        progressed = self._fetch()
        now = self.dev.now_ns
        while self.pending and self.pending[0][0] <= now:
            _due, raw, sq_head = self.pending.popleft()
            self._complete(raw, sq_head)
            progressed = True
        return progressed

    def _fetch(self) -> bool:
        dev = self.dev
        if not self.aq_depth or not self.acq_depth:
            return False
        fetched = False
        while self.aq_head != self.aq_tail:
            slot = self.aq_head & (self.aq_depth - 1)
            try:
                raw = dev.dma.read(self.aq_base + slot * ENA_ADMIN_AQ_ENTRY_SIZE,
                                   ENA_ADMIN_AQ_ENTRY_SIZE)
            except DmaFault:
                dev.stats.dma_faults += 1
                dev.fatal_error(post_event=True)
                self.aq_depth = 0  # dead until the driver resets the device
                return fetched
            if raw[3] & ENA_ADMIN_AQ_COMMON_DESC_PHASE_MASK != self.aq_phase:
                # not (yet) a valid entry: wait for the next doorbell
                dev.stats.aq_phase_mismatches += 1
                self.aq_tail = self.aq_head
                break
            self.aq_head = (self.aq_head + 1) & 0xFFFF
            if self.aq_head & (self.aq_depth - 1) == 0:
                self.aq_phase ^= 1
            delay_ns = int(round(max(0.0, float(dev.faults.admin_delay)) * 1e9))
            due = dev.now_ns + delay_ns
            self.pending.append((due, raw, self.aq_head))
            if delay_ns:
                dev.schedule(due, None)
            fetched = True
        return fetched

    def _complete(self, raw: bytes, sq_head: int) -> None:
        dev = self.dev
        dev.stats.admin_commands += 1
        command_id = int.from_bytes(raw[0:2], "little")
        opcode = raw[2]
        status, extended, body = self.execute(raw)
        self.history.append((opcode, int(status)))
        if status != AdminStatus.SUCCESS:
            dev.stats.admin_errors += 1
        if dev.faults.admin_drop > 0:
            dev.faults.admin_drop -= 1
            dev.stats.admin_completions_dropped += 1
            return
        entry = bytearray(ENA_ADMIN_ACQ_ENTRY_SIZE)
        entry[0:2] = (command_id & ENA_ADMIN_AQ_COMMON_DESC_COMMAND_ID_MASK).to_bytes(2, "little")
        entry[2] = int(status)
        entry[3] = self.acq_phase
        entry[4:6] = (extended & 0xFFFF).to_bytes(2, "little")
        entry[6:8] = (sq_head & 0xFFFF).to_bytes(2, "little")
        body = bytes(body)[: ENA_ADMIN_ACQ_ENTRY_SIZE - 8]
        entry[8 : 8 + len(body)] = body
        slot = self.acq_tail & (self.acq_depth - 1)
        try:
            dst = dev.dma.view(self.acq_base + slot * ENA_ADMIN_ACQ_ENTRY_SIZE,
                               ENA_ADMIN_ACQ_ENTRY_SIZE)
        except DmaFault:
            dev.stats.dma_faults += 1
            dev.fatal_error(post_event=True)
            self.acq_depth = 0
            return
        src = np.frombuffer(bytes(entry), np.uint8)
        dst[:3] = src[:3]
        dst[4:] = src[4:]
        dst[3] = src[3]  # flags with the phase bit: last
        self.acq_tail = (self.acq_tail + 1) & 0xFFFF
        if self.acq_tail & (self.acq_depth - 1) == 0:
            self.acq_phase ^= 1
        dev.mgmt_pending = True

    def execute(self, raw: bytes) -> tuple[AdminStatus, int, bytes]:
        """Run one AQ entry; returns (status, extended_status, response bytes 8..63)."""
        try:
            if raw[3] & AQ_FLAGS_RESERVED_MASK or int.from_bytes(raw[0:2], "little") & (
                COMMAND_ID_RESERVED_MASK
            ):
                raise malformed(why="reserved bits in the common descriptor")
            handler = self._handlers.get(raw[2])
            if handler is None:
                raise CommandError(AdminStatus.BAD_OPCODE, 0, f"opcode {raw[2]}")
            body = handler(self, raw)
            return AdminStatus.SUCCESS, 0, body
        except CommandError as e:
            return e.status, e.extended, b""
        except DmaFault:
            self.dev.stats.dma_faults += 1
            return AdminStatus.ILLEGAL_PARAMETER, ExtendedStatus.DMA_ADDRESS, b""
        except Exception:
            self.dev._internal_error()
            return AdminStatus.UNKNOWN_ERROR, 0, b""

    # --- opcode handlers ----------------------------------------------------------------
    def _create_cq(self, raw: bytes) -> bytes:
        dev = self.dev
        cmd = unpack(ENA_ADMIN_AQ_CREATE_CQ_CMD, raw)
        caps1, caps2 = cmd["cq_caps_1"], cmd["cq_caps_2"]
        if caps1 & ~ENA_ADMIN_AQ_CREATE_CQ_CMD_INTERRUPT_MODE_ENABLED_MASK & 0xFF:
            raise malformed(why="cq_caps_1 reserved bits")
        if caps2 & ~ENA_ADMIN_AQ_CREATE_CQ_CMD_CQ_ENTRY_SIZE_WORDS_MASK & 0xFF:
            raise malformed(why="cq_caps_2 reserved bits")
        words = caps2 & ENA_ADMIN_AQ_CREATE_CQ_CMD_CQ_ENTRY_SIZE_WORDS_MASK
        if words not in (2, 4, 8):
            raise illegal(ExtendedStatus.ENTRY_SIZE, f"cq entry of {words} words")
        depth = cmd["cq_depth"]
        if not is_pow2(depth) or depth > dev.limits.max_cq_depth:
            raise illegal(ExtendedStatus.DEPTH, f"cq depth {depth}")
        vector = cmd["msix_vector"]
        if caps1 & ENA_ADMIN_AQ_CREATE_CQ_CMD_INTERRUPT_MODE_ENABLED_MASK:
            if vector != ENA_MSIX_VECTOR_NONE and vector >= dev.msix_count:
                raise illegal(ExtendedStatus.MSIX_VECTOR, f"msix vector {vector}")
        else:
            vector = None  # polling CQ
        base = cmd["cq_ba"]
        if not dev.dma.contains(base, depth * words * 4):
            raise illegal(ExtendedStatus.DMA_ADDRESS, f"cq base {base:#x}")
        cq = dev.io.add_cq(depth, words * 4, base, vector)
        if cq is None:
            raise CommandError(AdminStatus.RESOURCE_ALLOCATION_FAILURE, 0, "no free CQ")
        return pack(
            ENA_ADMIN_ACQ_CREATE_CQ_RESP_DESC,
            cq_idx=cq.idx,
            cq_actual_depth=cq.depth,
            numa_node_register_offset=cq.numa_offset,
            cq_head_db_register_offset=cq.head_db_offset,
            cq_interrupt_unmask_register_offset=cq.unmask_offset,
        )[8:]

    def _create_sq(self, raw: bytes) -> bytes:
        dev = self.dev
        cmd = unpack(ENA_ADMIN_AQ_CREATE_SQ_CMD, raw)
        ident, caps2, caps3 = cmd["sq_identity"], cmd["sq_caps_2"], cmd["sq_caps_3"]
        if ident & ~ENA_ADMIN_AQ_CREATE_SQ_CMD_SQ_DIRECTION_MASK & 0xFF or caps2 & 0x80 or (
            caps3 & ~ENA_ADMIN_AQ_CREATE_SQ_CMD_IS_PHYSICALLY_CONTIGUOUS_MASK & 0xFF
        ):
            raise malformed(why="create_sq reserved bits")
        direction = (ident & ENA_ADMIN_AQ_CREATE_SQ_CMD_SQ_DIRECTION_MASK) >> (
            ENA_ADMIN_AQ_CREATE_SQ_CMD_SQ_DIRECTION_SHIFT
        )
        if direction not in (SqDirection.TX, SqDirection.RX):
            raise illegal(ExtendedStatus.DIRECTION, f"direction {direction}")
        direction = SqDirection(direction)
        placement = caps2 & ENA_ADMIN_AQ_CREATE_SQ_CMD_PLACEMENT_POLICY_MASK
        llq_ok = dev.llq and direction == SqDirection.TX
        if placement != PlacementPolicy.HOST and not (placement == PlacementPolicy.DEV and llq_ok):
            raise illegal(ExtendedStatus.PLACEMENT, f"placement {placement}")
        placement = PlacementPolicy(placement)
        completion = (caps2 & ENA_ADMIN_AQ_CREATE_SQ_CMD_COMPLETION_POLICY_MASK) >> (
            ENA_ADMIN_AQ_CREATE_SQ_CMD_COMPLETION_POLICY_SHIFT
        )
        if completion != CompletionPolicy.DESC:
            raise illegal(ExtendedStatus.COMPLETION_POLICY, f"completion policy {completion}")
        cq = dev.io.cqs.get(cmd["cq_idx"])
        if cq is None or cq.sq is not None:
            raise illegal(ExtendedStatus.QUEUE_INDEX, f"cq {cmd['cq_idx']} missing or bound")
        words = cq.entry_size // 4
        if words not in (TX_CQ_ENTRY_WORDS if direction == SqDirection.TX else RX_CQ_ENTRY_WORDS):
            raise illegal(ExtendedStatus.ENTRY_SIZE, "cq entry size does not fit the direction")
        depth = cmd["sq_depth"]
        line_size = 0
        llq_config = None
        if placement == PlacementPolicy.DEV:
            llq_config = dev.features.llq_enabled()
            line_size = llq_config["line_size"]
            max_depth = dev.limits.max_llq_depth if line_size <= 128 else (
                dev.limits.max_wide_llq_depth
            )
        elif direction == SqDirection.TX:
            max_depth = dev.limits.max_tx_sq_depth
        else:
            max_depth = dev.limits.max_rx_sq_depth
        if not is_pow2(depth) or depth > max_depth:
            raise illegal(ExtendedStatus.DEPTH, f"sq depth {depth}")
        base = cmd["sq_ba"]
        if placement == PlacementPolicy.HOST and not dev.dma.contains(base, depth * 16):
            raise illegal(ExtendedStatus.DMA_ADDRESS, f"sq base {base:#x}")
        sq = dev.io.add_sq(direction, placement, completion, depth, cq, base, line_size,
                           llq_config)
        if sq is None:
            raise CommandError(AdminStatus.RESOURCE_ALLOCATION_FAILURE, 0, "no free SQ")
        return pack(
            ENA_ADMIN_ACQ_CREATE_SQ_RESP_DESC,
            sq_idx=sq.idx,
            sq_doorbell_offset=sq.doorbell_offset,
            llq_descriptors_offset=sq.llq_offset,
            llq_headers_offset=0,
        )[8:]

    def _destroy_sq(self, raw: bytes) -> bytes:
        cmd = unpack(ENA_ADMIN_AQ_DESTROY_SQ_CMD, raw)
        ident = cmd["sq_identity"]
        if ident & ~ENA_ADMIN_SQ_SQ_DIRECTION_MASK & 0xFF:
            raise malformed(why="destroy_sq reserved bits")
        direction = (ident & ENA_ADMIN_SQ_SQ_DIRECTION_MASK) >> ENA_ADMIN_SQ_SQ_DIRECTION_SHIFT
        if direction not in (SqDirection.TX, SqDirection.RX):
            raise illegal(ExtendedStatus.DIRECTION, f"direction {direction}")
        sq = self.dev.io.sqs(SqDirection(direction)).get(cmd["sq_idx"])
        if sq is None:
            raise illegal(ExtendedStatus.QUEUE_INDEX, f"no sq {cmd['sq_idx']}")
        self.dev.io.remove_sq(sq)
        return b""

    def _destroy_cq(self, raw: bytes) -> bytes:
        cmd = unpack(ENA_ADMIN_AQ_DESTROY_CQ_CMD, raw)
        cq = self.dev.io.cqs.get(cmd["cq_idx"])
        if cq is None:
            raise illegal(ExtendedStatus.QUEUE_INDEX, f"no cq {cmd['cq_idx']}")
        if cq.sq is not None:
            raise illegal(ExtendedStatus.QUEUE_IN_USE, f"cq {cq.idx} still has an SQ")
        self.dev.io.remove_cq(cq)
        return b""

    def _get_feature(self, raw: bytes) -> bytes:
        return self.dev.features.get(raw)

    def _set_feature(self, raw: bytes) -> bytes:
        return self.dev.features.set(raw)

    def _get_stats(self, raw: bytes) -> bytes:
        return get_stats(self.dev, raw)

    _handlers = {
        AdminOpcode.CREATE_SQ: _create_sq,
        AdminOpcode.DESTROY_SQ: _destroy_sq,
        AdminOpcode.CREATE_CQ: _create_cq,
        AdminOpcode.DESTROY_CQ: _destroy_cq,
        AdminOpcode.GET_FEATURE: _get_feature,
        AdminOpcode.SET_FEATURE: _set_feature,
        AdminOpcode.GET_STATS: _get_stats,
    }
