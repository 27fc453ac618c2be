"""CREATE/DESTROY of IO queues and the per-queue registers they hand out."""

from __future__ import annotations

from enatool.device import SoftEnaDevice
from enatool.ena.admin import (
    ENA_ADMIN_ACQ_CREATE_CQ_RESP_DESC,
    ENA_ADMIN_ACQ_CREATE_SQ_RESP_DESC,
    ENA_ADMIN_AQ_DESTROY_CQ_CMD,
    ENA_ADMIN_AQ_DESTROY_SQ_CMD,
    ENA_ADMIN_FEATURE_LLQ_DESC,
    AdminOpcode,
    AdminStatus,
    FeatureId,
)
from enatool.ena.bits import pack, unpack
from enatool.ena.eth_io import intr_reg_value

from .conftest import MiniDriver
from .test_admin_errors import create_cq, create_sq


def resp(c, dt):
    return unpack(dt, c["raw"])


def bring_up_pair(drv, i, depth=256, tx_placement=1):
    cq_tx = resp(create_cq(drv, depth, 2, vector=i + 1), ENA_ADMIN_ACQ_CREATE_CQ_RESP_DESC)
    sq_tx = resp(create_sq(drv, cq_tx["cq_idx"], depth, 1, tx_placement),
                 ENA_ADMIN_ACQ_CREATE_SQ_RESP_DESC)
    cq_rx = resp(create_cq(drv, depth, 4, vector=i + 1), ENA_ADMIN_ACQ_CREATE_CQ_RESP_DESC)
    sq_rx = resp(create_sq(drv, cq_rx["cq_idx"], depth, 2), ENA_ADMIN_ACQ_CREATE_SQ_RESP_DESC)
    for r in (cq_tx, sq_tx, cq_rx, sq_rx):
        assert r["status"] == 0, r
    return cq_tx, sq_tx, cq_rx, sq_rx


def test_create_queues_all_pairs_unique_offsets(drv):
    dev = drv.dev
    offsets = set()
    for i in range(8):
        cq_tx, sq_tx, cq_rx, sq_rx = bring_up_pair(drv, i)
        assert sq_tx["sq_idx"] == i and sq_rx["sq_idx"] == i
        assert cq_tx["cq_actual_depth"] == 256
        for off in (sq_tx["sq_doorbell_offset"], sq_rx["sq_doorbell_offset"],
                    cq_tx["cq_interrupt_unmask_register_offset"],
                    cq_rx["cq_interrupt_unmask_register_offset"],
                    cq_tx["numa_node_register_offset"]):
            assert 0x1000 <= off < 0x2000 and off % 4 == 0 and off not in offsets
            offsets.add(off)
    assert len(dev.io.tx_sqs) == len(dev.io.rx_sqs) == 8 and len(dev.io.cqs) == 16
    # a 9th Tx queue does not exist
    c = create_cq(drv)
    assert c["status"] == AdminStatus.RESOURCE_ALLOCATION_FAILURE
    # doorbell and unmask registers reach the queue objects
    sq = dev.io.tx_sqs[3]
    drv.w(sq.doorbell_offset, 0x1_0005)
    assert sq.tail == 5
    cq = dev.io.cqs[0]
    assert cq.masked
    drv.w(cq.unmask_offset, intr_reg_value(rx_delay=3, tx_delay=64, unmask=True))
    assert not cq.masked and cq.rx_delay == 3 and cq.tx_delay == 64
    drv.w(cq.unmask_offset, intr_reg_value(rx_delay=9, tx_delay=9, unmask=True,
                                           no_moderation_update=True))
    assert cq.rx_delay == 3 and cq.tx_delay == 64
    drv.w(cq.numa_offset, (1 << 31) | 1)
    assert cq.numa_node == 1


def test_destroy_and_recreate(drv):
    dev = drv.dev
    cq_tx, sq_tx, _cq_rx, _sq_rx = bring_up_pair(drv, 0)
    # CQ with its SQ still alive cannot go
    c = drv.cmd(pack(ENA_ADMIN_AQ_DESTROY_CQ_CMD, opcode=AdminOpcode.DESTROY_CQ,
                     cq_idx=cq_tx["cq_idx"]))
    assert c["status"] == AdminStatus.ILLEGAL_PARAMETER
    # wrong direction = unknown SQ... Rx SQ 0 exists, so use index 1
    c = drv.cmd(pack(ENA_ADMIN_AQ_DESTROY_SQ_CMD, opcode=AdminOpcode.DESTROY_SQ, sq_idx=1,
                     sq_identity=2 << 5))
    assert c["status"] == AdminStatus.ILLEGAL_PARAMETER
    c = drv.cmd(pack(ENA_ADMIN_AQ_DESTROY_SQ_CMD, opcode=AdminOpcode.DESTROY_SQ,
                     sq_idx=sq_tx["sq_idx"], sq_identity=1 << 5))
    assert c["status"] == 0
    c = drv.cmd(pack(ENA_ADMIN_AQ_DESTROY_CQ_CMD, opcode=AdminOpcode.DESTROY_CQ,
                     cq_idx=cq_tx["cq_idx"]))
    assert c["status"] == 0
    assert 0 not in dev.io.tx_sqs and cq_tx["cq_idx"] not in dev.io.cqs
    n = dev.stats.ignored_register_writes
    drv.w(sq_tx["sq_doorbell_offset"], 1)  # the doorbell is gone
    assert dev.stats.ignored_register_writes == n + 1
    cq2, sq2, _, _ = bring_up_pair(drv, 1)
    assert cq2["cq_idx"] == cq_tx["cq_idx"] and sq2["sq_idx"] == 0  # lowest free reused


def test_no_interrupt_vector_and_polling_cq(drv):
    c = create_cq(drv, vector=0xFFFFFFFF)
    assert c["status"] == 0
    assert drv.dev.io.cqs[c["raw"][8]].msix_vector is None
    c = create_cq(drv, vector=12345, caps1=0)  # polling CQ: vector ignored
    assert c["status"] == 0
    assert drv.dev.io.cqs[c["raw"][8]].msix_vector is None


def test_llq_sq_gets_bar2_area(drv):
    dev = drv.dev
    areas = []
    for _ in range(3):
        cq = resp(create_cq(drv, 1024, 2), ENA_ADMIN_ACQ_CREATE_CQ_RESP_DESC)
        sq = resp(create_sq(drv, cq["cq_idx"], 1024, 1, placement=3, base=0),
                  ENA_ADMIN_ACQ_CREATE_SQ_RESP_DESC)
        assert sq["status"] == 0
        areas.append(sq["llq_descriptors_offset"])
        q = dev.io.tx_sqs[sq["sq_idx"]]
        assert q.llq_line_size == 128 and q.llq_config["descs_before_header"] == 2
    ends = sorted(areas)
    assert all(b - a >= 1024 * 128 for a, b in zip(ends, ends[1:], strict=False))
    assert ends[-1] + 1024 * 128 <= dev.bar2.size
    dev.bar2.write(areas[0], bytes(range(128)))
    assert dev.bar2.read(areas[0], 128) == bytes(range(128))
    # wide lines: depth limited to max_wide_llq_depth (512)
    llq = pack(ENA_ADMIN_FEATURE_LLQ_DESC, header_location_ctrl_enabled=1,
               entry_size_ctrl_enabled=4, desc_num_before_header_enabled=2,
               descriptors_stride_ctrl_enabled=2, accel_mode_enabled_flags=3)
    assert drv.set_feature(FeatureId.LLQ, llq)["status"] == 0
    cq = resp(create_cq(drv, 1024, 2), ENA_ADMIN_ACQ_CREATE_CQ_RESP_DESC)
    assert create_sq(drv, cq["cq_idx"], 1024, 1, placement=3, base=0)["status"] == 5
    sq = resp(create_sq(drv, cq["cq_idx"], 512, 1, placement=3, base=0),
              ENA_ADMIN_ACQ_CREATE_SQ_RESP_DESC)
    assert sq["status"] == 0 and dev.io.tx_sqs[sq["sq_idx"]].llq_line_size == 256


def test_llq_placement_refused_without_llq():
    drv = MiniDriver(SoftEnaDevice(llq=False)).bring_up()
    cq = create_cq(drv)
    assert create_sq(drv, cq["raw"][8], placement=3, base=0)["status"] == 5


def test_reset_destroys_io_queues(drv):
    dev = drv.dev
    bring_up_pair(drv, 0)
    bring_up_pair(drv, 1)
    drv.reset(reason=11)
    assert not dev.io.cqs and not dev.io.tx_sqs and not dev.io.rx_sqs
    drv.program_queues()
    cq, sq, _, _ = bring_up_pair(drv, 0)
    assert cq["cq_idx"] == 0 and sq["sq_idx"] == 0
