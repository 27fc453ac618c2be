"""IO queue admin commands: CREATE/DESTROY SQ and CQ (``ena_com_create_io_sq/cq`` and
``ena_com_destroy_io_sq/cq``), INTERFACE.md §2.6 and §5.1.

Only the control plane lives here: the driver allocates the ring memory, the device answers
with its own queue index and the BAR0 offsets of the SQ doorbell, the CQ interrupt-unmask
register and the optional NUMA register (and, for LLQ, the queue's offset in BAR2). The
data path that uses them comes later. Order as in Linux: CQ before its SQ on creation, SQ
before its CQ on destruction; Linux always asks for one completion per descriptor, an
interrupt-mode CQ and a physically contiguous SQ.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from enatool.driver.admin_queue import AdminQueue
from enatool.ena import admin as A
from enatool.ena.bits import pack, unpack

#: CQ entry sizes in bytes → size field in 32-bit words (Tx base 8, Rx base 16)
TX_CDESC_SIZE = 8
RX_CDESC_SIZE = 16


@dataclass
class IoCq:
    idx: int
    depth: int
    entry_size: int
    msix_vector: int
    base: int
    unmask_offset: int
    numa_offset: int
    head_db_offset: int

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class IoSq:
    idx: int
    direction: str  # "tx" or "rx"
    depth: int
    cq_idx: int
    placement: int
    base: int  # host ring address (0 for LLQ)
    doorbell_offset: int
    llq_descriptors_offset: int
    llq_headers_offset: int

    def as_dict(self) -> dict:
        return asdict(self)


def create_cq(aq: AdminQueue, depth: int, entry_size: int, msix_vector: int, base: int) -> IoCq:
    cmd = pack(
        A.ENA_ADMIN_AQ_CREATE_CQ_CMD,
        opcode=int(A.AdminOpcode.CREATE_CQ),
        cq_caps_1=A.ENA_ADMIN_AQ_CREATE_CQ_CMD_INTERRUPT_MODE_ENABLED_MASK,
        cq_caps_2=(entry_size // 4) & A.ENA_ADMIN_AQ_CREATE_CQ_CMD_CQ_ENTRY_SIZE_WORDS_MASK,
        cq_depth=depth,
        msix_vector=msix_vector,
        cq_ba=base,
    )
    r = unpack(A.ENA_ADMIN_ACQ_CREATE_CQ_RESP_DESC, aq.execute(cmd))
    return IoCq(
        idx=r["cq_idx"],
        depth=r["cq_actual_depth"],
        entry_size=entry_size,
        msix_vector=msix_vector,
        base=base,
        unmask_offset=r["cq_interrupt_unmask_register_offset"],
        numa_offset=r["numa_node_register_offset"],
        head_db_offset=r["cq_head_db_register_offset"],
    )


def create_sq(
    aq: AdminQueue, direction: str, cq_idx: int, depth: int, placement: int, base: int = 0
) -> IoSq:
    dir_val = A.SqDirection.TX if direction == "tx" else A.SqDirection.RX
    fields = dict(
        opcode=int(A.AdminOpcode.CREATE_SQ),
        sq_identity=int(dir_val) << A.ENA_ADMIN_AQ_CREATE_SQ_CMD_SQ_DIRECTION_SHIFT,
        sq_caps_2=(int(placement) & A.ENA_ADMIN_AQ_CREATE_SQ_CMD_PLACEMENT_POLICY_MASK)
        | (int(A.CompletionPolicy.DESC) << A.ENA_ADMIN_AQ_CREATE_SQ_CMD_COMPLETION_POLICY_SHIFT),
        sq_caps_3=A.ENA_ADMIN_AQ_CREATE_SQ_CMD_IS_PHYSICALLY_CONTIGUOUS_MASK,
        cq_idx=cq_idx,
        sq_depth=depth,
    )
    if placement == A.PlacementPolicy.HOST:
        fields["sq_ba"] = base
    r = unpack(
        A.ENA_ADMIN_ACQ_CREATE_SQ_RESP_DESC,
        aq.execute(pack(A.ENA_ADMIN_AQ_CREATE_SQ_CMD, **fields)),
    )
    return IoSq(
        idx=r["sq_idx"],
        direction=direction,
        depth=depth,
        cq_idx=cq_idx,
        placement=int(placement),
        base=base if placement == A.PlacementPolicy.HOST else 0,
        doorbell_offset=r["sq_doorbell_offset"],
        llq_descriptors_offset=r["llq_descriptors_offset"],
        llq_headers_offset=r["llq_headers_offset"],
    )


def destroy_sq(aq: AdminQueue, sq: IoSq) -> None:
    dir_val = A.SqDirection.TX if sq.direction == "tx" else A.SqDirection.RX
    cmd = pack(
        A.ENA_ADMIN_AQ_DESTROY_SQ_CMD,
        opcode=int(A.AdminOpcode.DESTROY_SQ),
        sq_idx=sq.idx,
        sq_identity=int(dir_val) << A.ENA_ADMIN_SQ_SQ_DIRECTION_SHIFT,
    )
    aq.execute(cmd)


def destroy_cq(aq: AdminQueue, cq: IoCq) -> None:
    cmd = pack(A.ENA_ADMIN_AQ_DESTROY_CQ_CMD, opcode=int(A.AdminOpcode.DESTROY_CQ), cq_idx=cq.idx)
    aq.execute(cmd)
