"""BAR0 register map of the ENA device: mirrors ``ena_regs_defs.h``.

Today's layout (amzn-drivers v2.17.0); the 2016 driver (v1.0.0) had the same offsets
without PHC_DB, CAPS.admin_cmd_to, the DEV_CTL reset-reason nibbles and the reasons table.
See INTERFACE.md §1 and §10.
"""

from __future__ import annotations

from enum import IntEnum

from enatool.ena.bits import make_dtype

# --- register offsets (§1.1) ---------------------------------------------------------------
ENA_REGS_VERSION_OFF = 0x00
ENA_REGS_CONTROLLER_VERSION_OFF = 0x04
ENA_REGS_CAPS_OFF = 0x08
ENA_REGS_CAPS_EXT_OFF = 0x0C
ENA_REGS_AQ_BASE_LO_OFF = 0x10
ENA_REGS_AQ_BASE_HI_OFF = 0x14
ENA_REGS_AQ_CAPS_OFF = 0x18
ENA_REGS_ACQ_BASE_LO_OFF = 0x20
ENA_REGS_ACQ_BASE_HI_OFF = 0x24
ENA_REGS_ACQ_CAPS_OFF = 0x28
ENA_REGS_AQ_DB_OFF = 0x2C
ENA_REGS_ACQ_TAIL_OFF = 0x30
ENA_REGS_AENQ_CAPS_OFF = 0x34
ENA_REGS_AENQ_BASE_LO_OFF = 0x38
ENA_REGS_AENQ_BASE_HI_OFF = 0x3C
ENA_REGS_AENQ_HEAD_DB_OFF = 0x40
ENA_REGS_AENQ_TAIL_OFF = 0x44
ENA_REGS_INTR_MASK_OFF = 0x4C
ENA_REGS_DEV_CTL_OFF = 0x54
ENA_REGS_DEV_STS_OFF = 0x58
ENA_REGS_MMIO_REG_READ_OFF = 0x5C
ENA_REGS_MMIO_RESP_LO_OFF = 0x60
ENA_REGS_MMIO_RESP_HI_OFF = 0x64
ENA_REGS_RSS_IND_ENTRY_UPDATE_OFF = 0x68
ENA_REGS_PHC_DB_OFF = 0x100  # today only; the real offset comes from the PHC feature

#: every fixed register offset by name (handy for device dispatch tables and dumps)
REGISTER_NAMES = {
    v: k[len("ENA_REGS_") : -len("_OFF")]
    for k, v in dict(globals()).items()
    if k.startswith("ENA_REGS_") and k.endswith("_OFF")
}

#: size of BAR0 on real devices
ENA_BAR0_SIZE = 8 * 1024

# --- VERSION -------------------------------------------------------------------------------
ENA_REGS_VERSION_MINOR_VERSION_MASK = 0xFF
ENA_REGS_VERSION_MINOR_VERSION_SHIFT = 0
ENA_REGS_VERSION_MAJOR_VERSION_SHIFT = 8
ENA_REGS_VERSION_MAJOR_VERSION_MASK = 0xFF00

# --- CONTROLLER_VERSION --------------------------------------------------------------------
ENA_REGS_CONTROLLER_VERSION_SUBMINOR_VERSION_MASK = 0xFF
ENA_REGS_CONTROLLER_VERSION_SUBMINOR_VERSION_SHIFT = 0
ENA_REGS_CONTROLLER_VERSION_MINOR_VERSION_SHIFT = 8
ENA_REGS_CONTROLLER_VERSION_MINOR_VERSION_MASK = 0xFF00
ENA_REGS_CONTROLLER_VERSION_MAJOR_VERSION_SHIFT = 16
ENA_REGS_CONTROLLER_VERSION_MAJOR_VERSION_MASK = 0xFF0000
ENA_REGS_CONTROLLER_VERSION_IMPL_ID_SHIFT = 24
ENA_REGS_CONTROLLER_VERSION_IMPL_ID_MASK = 0xFF000000

# --- CAPS ----------------------------------------------------------------------------------
ENA_REGS_CAPS_CONTIGUOUS_QUEUE_REQUIRED_MASK = 0x1
ENA_REGS_CAPS_CONTIGUOUS_QUEUE_REQUIRED_SHIFT = 0
ENA_REGS_CAPS_RESET_TIMEOUT_SHIFT = 1
ENA_REGS_CAPS_RESET_TIMEOUT_MASK = 0x3E
ENA_REGS_CAPS_DMA_ADDR_WIDTH_SHIFT = 8
ENA_REGS_CAPS_DMA_ADDR_WIDTH_MASK = 0xFF00
ENA_REGS_CAPS_ADMIN_CMD_TO_SHIFT = 16
ENA_REGS_CAPS_ADMIN_CMD_TO_MASK = 0xF0000

#: units of CAPS.reset_timeout and CAPS.admin_cmd_to
ENA_REGS_CAPS_TIMEOUT_UNIT_MS = 100

# --- AQ_CAPS / ACQ_CAPS / AENQ_CAPS --------------------------------------------------------
ENA_REGS_AQ_CAPS_AQ_DEPTH_MASK = 0xFFFF
ENA_REGS_AQ_CAPS_AQ_DEPTH_SHIFT = 0
ENA_REGS_AQ_CAPS_AQ_ENTRY_SIZE_SHIFT = 16
ENA_REGS_AQ_CAPS_AQ_ENTRY_SIZE_MASK = 0xFFFF0000
ENA_REGS_ACQ_CAPS_ACQ_DEPTH_MASK = 0xFFFF
ENA_REGS_ACQ_CAPS_ACQ_DEPTH_SHIFT = 0
ENA_REGS_ACQ_CAPS_ACQ_ENTRY_SIZE_SHIFT = 16
ENA_REGS_ACQ_CAPS_ACQ_ENTRY_SIZE_MASK = 0xFFFF0000
ENA_REGS_AENQ_CAPS_AENQ_DEPTH_MASK = 0xFFFF
ENA_REGS_AENQ_CAPS_AENQ_DEPTH_SHIFT = 0
ENA_REGS_AENQ_CAPS_AENQ_ENTRY_SIZE_SHIFT = 16
ENA_REGS_AENQ_CAPS_AENQ_ENTRY_SIZE_MASK = 0xFFFF0000

# --- DEV_CTL -------------------------------------------------------------------------------
ENA_REGS_DEV_CTL_DEV_RESET_MASK = 0x1
ENA_REGS_DEV_CTL_DEV_RESET_SHIFT = 0
ENA_REGS_DEV_CTL_AQ_RESTART_SHIFT = 1
ENA_REGS_DEV_CTL_AQ_RESTART_MASK = 0x2
ENA_REGS_DEV_CTL_QUIESCENT_SHIFT = 2
ENA_REGS_DEV_CTL_QUIESCENT_MASK = 0x4
ENA_REGS_DEV_CTL_IO_RESUME_SHIFT = 3
ENA_REGS_DEV_CTL_IO_RESUME_MASK = 0x8
ENA_REGS_DEV_CTL_RESET_REASON_EXT_SHIFT = 24
ENA_REGS_DEV_CTL_RESET_REASON_EXT_MASK = 0xF000000
ENA_REGS_DEV_CTL_RESET_REASON_SHIFT = 28
ENA_REGS_DEV_CTL_RESET_REASON_MASK = 0xF0000000

#: reasons >= this need the EXT nibble (and device capability EXTENDED_RESET_REASONS)
ENA_RESET_REASON_LSB_LIMIT = 1 << 4

# --- DEV_STS -------------------------------------------------------------------------------
ENA_REGS_DEV_STS_READY_MASK = 0x1
ENA_REGS_DEV_STS_READY_SHIFT = 0
ENA_REGS_DEV_STS_AQ_RESTART_IN_PROGRESS_SHIFT = 1
ENA_REGS_DEV_STS_AQ_RESTART_IN_PROGRESS_MASK = 0x2
ENA_REGS_DEV_STS_AQ_RESTART_FINISHED_SHIFT = 2
ENA_REGS_DEV_STS_AQ_RESTART_FINISHED_MASK = 0x4
ENA_REGS_DEV_STS_RESET_IN_PROGRESS_SHIFT = 3
ENA_REGS_DEV_STS_RESET_IN_PROGRESS_MASK = 0x8
ENA_REGS_DEV_STS_RESET_FINISHED_SHIFT = 4
ENA_REGS_DEV_STS_RESET_FINISHED_MASK = 0x10
ENA_REGS_DEV_STS_FATAL_ERROR_SHIFT = 5
ENA_REGS_DEV_STS_FATAL_ERROR_MASK = 0x20
ENA_REGS_DEV_STS_QUIESCENT_STATE_IN_PROGRESS_SHIFT = 6
ENA_REGS_DEV_STS_QUIESCENT_STATE_IN_PROGRESS_MASK = 0x40
ENA_REGS_DEV_STS_QUIESCENT_STATE_ACHIEVED_SHIFT = 7
ENA_REGS_DEV_STS_QUIESCENT_STATE_ACHIEVED_MASK = 0x80

# --- MMIO_REG_READ -------------------------------------------------------------------------
ENA_REGS_MMIO_REG_READ_REQ_ID_MASK = 0xFFFF
ENA_REGS_MMIO_REG_READ_REQ_ID_SHIFT = 0
ENA_REGS_MMIO_REG_READ_REG_OFF_SHIFT = 16
ENA_REGS_MMIO_REG_READ_REG_OFF_MASK = 0xFFFF0000

# --- RSS_IND_ENTRY_UPDATE ------------------------------------------------------------------
ENA_REGS_RSS_IND_ENTRY_UPDATE_INDEX_MASK = 0xFFFF
ENA_REGS_RSS_IND_ENTRY_UPDATE_INDEX_SHIFT = 0
ENA_REGS_RSS_IND_ENTRY_UPDATE_CQ_IDX_SHIFT = 16
ENA_REGS_RSS_IND_ENTRY_UPDATE_CQ_IDX_MASK = 0xFFFF0000

# --- PHC_DB --------------------------------------------------------------------------------
ENA_REGS_PHC_DB_REQ_ID_MASK = 0xFFFF
ENA_REGS_PHC_DB_REQ_ID_SHIFT = 0

# --- INTR_MASK -----------------------------------------------------------------------------
#: INTR_MASK value that masks the management (admin + AENQ) interrupt: polling mode
ENA_REGS_ADMIN_INTR_MASK = 1


class ResetReason(IntEnum):
    """``enum ena_regs_reset_reason_types`` (§1.5); the value travels in DEV_CTL."""

    NORMAL = 0
    KEEP_ALIVE_TO = 1
    ADMIN_TO = 2
    MISS_TX_CMPL = 3
    INV_RX_REQ_ID = 4
    INV_TX_REQ_ID = 5
    TOO_MANY_RX_DESCS = 6
    INIT_ERR = 7
    DRIVER_INVALID_STATE = 8
    OS_TRIGGER = 9
    OS_NETDEV_WD = 10
    SHUTDOWN = 11
    USER_TRIGGER = 12
    GENERIC = 13
    MISS_INTERRUPT = 14
    SUSPECTED_POLL_STARVATION = 15
    RX_DESCRIPTOR_MALFORMED = 16
    TX_DESCRIPTOR_MALFORMED = 17
    MISSING_ADMIN_INTERRUPT = 18
    DEVICE_REQUEST = 19
    MISS_FIRST_INTERRUPT = 20


def dev_ctl_reset_reason_bits(reason: int) -> int:
    """DEV_CTL bits carrying ``reason``: low nibble in 31:28, high nibble in 27:24."""
    reason = int(reason)
    if not 0 <= reason <= 0xFF:
        raise ValueError(f"reset reason {reason} out of range")
    return ((reason & 0xF) << ENA_REGS_DEV_CTL_RESET_REASON_SHIFT) | (
        (reason >> 4) << ENA_REGS_DEV_CTL_RESET_REASON_EXT_SHIFT
    )


def dev_ctl_reset_reason(dev_ctl: int) -> int:
    """Reset reason encoded in a DEV_CTL value (inverse of dev_ctl_reset_reason_bits)."""
    lo = (dev_ctl & ENA_REGS_DEV_CTL_RESET_REASON_MASK) >> ENA_REGS_DEV_CTL_RESET_REASON_SHIFT
    hi = (
        dev_ctl & ENA_REGS_DEV_CTL_RESET_REASON_EXT_MASK
    ) >> ENA_REGS_DEV_CTL_RESET_REASON_EXT_SHIFT
    return hi << 4 | lo


# --- read-less MMIO reads (§1.3) -----------------------------------------------------------
#: what the device DMA-writes to the MMIO response buffer
#: (``struct ena_admin_ena_mmio_req_read_less_resp``)
ENA_MMIO_READ_RESP = make_dtype(
    8,
    ("req_id", "<u2", 0),
    ("reg_off", "<u2", 2),
    ("reg_val", "<u4", 4),
)
#: value a read returns when the device never answered
ENA_MMIO_READ_TIMEOUT = 0xFFFFFFFF
#: poll budget (1 µs steps) for a read-less read
ENA_REG_READ_TIMEOUT_US = 200000
#: the driver pre-fills req_id with seq + this so a stale buffer never matches
ENA_MMIO_READ_STALE_MAGIC = 0xDEAD

# --- PCI identity (§10) --------------------------------------------------------------------
PCI_VENDOR_ID_AMAZON = 0x1D0F


class PciDeviceId(IntEnum):
    PF = 0x0EC2
    LLQ_PF = 0x1EC2
    VF = 0xEC20
    LLQ_VF = 0xEC21


#: PCI revision-id bit 0 set = read-less MMIO unsupported, use plain reads
ENA_PCI_REVISION_MMIO_READLESS_DISABLED = 0x1
