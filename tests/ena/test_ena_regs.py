"""regs: offsets, bit fields and reset reasons against INTERFACE.md §1 / §10."""

import pytest

from enatool.ena import bits, regs

pytestmark = pytest.mark.nojit

OFFSETS = {
    "VERSION": 0x00, "CONTROLLER_VERSION": 0x04, "CAPS": 0x08, "CAPS_EXT": 0x0C,
    "AQ_BASE_LO": 0x10, "AQ_BASE_HI": 0x14, "AQ_CAPS": 0x18, "ACQ_BASE_LO": 0x20,
    "ACQ_BASE_HI": 0x24, "ACQ_CAPS": 0x28, "AQ_DB": 0x2C, "ACQ_TAIL": 0x30,
    "AENQ_CAPS": 0x34, "AENQ_BASE_LO": 0x38, "AENQ_BASE_HI": 0x3C, "AENQ_HEAD_DB": 0x40,
    "AENQ_TAIL": 0x44, "INTR_MASK": 0x4C, "DEV_CTL": 0x54, "DEV_STS": 0x58,
    "MMIO_REG_READ": 0x5C, "MMIO_RESP_LO": 0x60, "MMIO_RESP_HI": 0x64,
    "RSS_IND_ENTRY_UPDATE": 0x68, "PHC_DB": 0x100,
}


@pytest.mark.parametrize("name,off", OFFSETS.items())
def test_offsets(name, off):
    assert getattr(regs, f"ENA_REGS_{name}_OFF") == off


def test_register_names_unique_and_complete():
    assert len(regs.REGISTER_NAMES) == len(OFFSETS)
    assert regs.REGISTER_NAMES[0x58] == "DEV_STS"


# (prefix, field, hi, lo) from §1.2
FIELDS = [
    ("VERSION", "MINOR_VERSION", 7, 0), ("VERSION", "MAJOR_VERSION", 15, 8),
    ("CONTROLLER_VERSION", "SUBMINOR_VERSION", 7, 0),
    ("CONTROLLER_VERSION", "MINOR_VERSION", 15, 8),
    ("CONTROLLER_VERSION", "MAJOR_VERSION", 23, 16),
    ("CONTROLLER_VERSION", "IMPL_ID", 31, 24),
    ("CAPS", "CONTIGUOUS_QUEUE_REQUIRED", 0, 0), ("CAPS", "RESET_TIMEOUT", 5, 1),
    ("CAPS", "DMA_ADDR_WIDTH", 15, 8), ("CAPS", "ADMIN_CMD_TO", 19, 16),
    ("AQ_CAPS", "AQ_DEPTH", 15, 0), ("AQ_CAPS", "AQ_ENTRY_SIZE", 31, 16),
    ("ACQ_CAPS", "ACQ_DEPTH", 15, 0), ("ACQ_CAPS", "ACQ_ENTRY_SIZE", 31, 16),
    ("AENQ_CAPS", "AENQ_DEPTH", 15, 0), ("AENQ_CAPS", "AENQ_ENTRY_SIZE", 31, 16),
    ("DEV_CTL", "DEV_RESET", 0, 0), ("DEV_CTL", "AQ_RESTART", 1, 1),
    ("DEV_CTL", "QUIESCENT", 2, 2), ("DEV_CTL", "IO_RESUME", 3, 3),
    ("DEV_CTL", "RESET_REASON_EXT", 27, 24), ("DEV_CTL", "RESET_REASON", 31, 28),
    ("DEV_STS", "READY", 0, 0), ("DEV_STS", "AQ_RESTART_IN_PROGRESS", 1, 1),
    ("DEV_STS", "AQ_RESTART_FINISHED", 2, 2), ("DEV_STS", "RESET_IN_PROGRESS", 3, 3),
    ("DEV_STS", "RESET_FINISHED", 4, 4), ("DEV_STS", "FATAL_ERROR", 5, 5),
    ("DEV_STS", "QUIESCENT_STATE_IN_PROGRESS", 6, 6),
    ("DEV_STS", "QUIESCENT_STATE_ACHIEVED", 7, 7),
    ("MMIO_REG_READ", "REQ_ID", 15, 0), ("MMIO_REG_READ", "REG_OFF", 31, 16),
    ("RSS_IND_ENTRY_UPDATE", "INDEX", 15, 0), ("RSS_IND_ENTRY_UPDATE", "CQ_IDX", 31, 16),
]


@pytest.mark.parametrize("reg,field,hi,lo", FIELDS)
def test_bit_fields(reg, field, hi, lo):
    mask = getattr(regs, f"ENA_REGS_{reg}_{field}_MASK")
    shift = getattr(regs, f"ENA_REGS_{reg}_{field}_SHIFT")
    assert shift == lo
    assert mask == ((1 << (hi - lo + 1)) - 1) << lo
    # all-ones field round-trips and touches nothing else
    ones = (1 << (hi - lo + 1)) - 1
    v = bits.field_set(0, mask, shift, ones)
    assert v == mask and bits.field_get(v, mask, shift) == ones


def test_fields_of_one_register_do_not_overlap():
    by_reg = {}
    for reg, field, _hi, _lo in FIELDS:
        mask = getattr(regs, f"ENA_REGS_{reg}_{field}_MASK")
        assert by_reg.get(reg, 0) & mask == 0, (reg, field)
        by_reg[reg] = by_reg.get(reg, 0) | mask


def test_caps_example():
    # real-device-like CAPS: contiguous 0, reset timeout 3 s, 48-bit DMA, admin 3 s
    caps = 0
    caps = bits.field_set(caps, regs.ENA_REGS_CAPS_RESET_TIMEOUT_MASK,
                          regs.ENA_REGS_CAPS_RESET_TIMEOUT_SHIFT, 30)
    caps = bits.field_set(caps, regs.ENA_REGS_CAPS_DMA_ADDR_WIDTH_MASK,
                          regs.ENA_REGS_CAPS_DMA_ADDR_WIDTH_SHIFT, 48)
    caps = bits.field_set(caps, regs.ENA_REGS_CAPS_ADMIN_CMD_TO_MASK,
                          regs.ENA_REGS_CAPS_ADMIN_CMD_TO_SHIFT, 15)
    assert caps == (30 << 1) | (48 << 8) | (15 << 16) == 0xF303C
    with pytest.raises(ValueError):
        bits.field_set(caps, regs.ENA_REGS_CAPS_RESET_TIMEOUT_MASK,
                       regs.ENA_REGS_CAPS_RESET_TIMEOUT_SHIFT, 32)


RESET_REASONS = [
    "NORMAL", "KEEP_ALIVE_TO", "ADMIN_TO", "MISS_TX_CMPL", "INV_RX_REQ_ID", "INV_TX_REQ_ID",
    "TOO_MANY_RX_DESCS", "INIT_ERR", "DRIVER_INVALID_STATE", "OS_TRIGGER", "OS_NETDEV_WD",
    "SHUTDOWN", "USER_TRIGGER", "GENERIC", "MISS_INTERRUPT", "SUSPECTED_POLL_STARVATION",
    "RX_DESCRIPTOR_MALFORMED", "TX_DESCRIPTOR_MALFORMED", "MISSING_ADMIN_INTERRUPT",
    "DEVICE_REQUEST", "MISS_FIRST_INTERRUPT",
]


def test_reset_reasons_match_table():
    assert [r.name for r in regs.ResetReason] == RESET_REASONS
    assert [int(r) for r in regs.ResetReason] == list(range(21))


@pytest.mark.parametrize("reason", list(regs.ResetReason))
def test_dev_ctl_reason_roundtrip(reason):
    v = regs.ENA_REGS_DEV_CTL_DEV_RESET_MASK | regs.dev_ctl_reset_reason_bits(reason)
    assert regs.dev_ctl_reset_reason(v) == reason
    assert v & regs.ENA_REGS_DEV_CTL_DEV_RESET_MASK


def test_dev_ctl_reason_nibbles():
    # 19 = 0x13: low nibble 3 in 31:28, high nibble 1 in 27:24
    assert regs.dev_ctl_reset_reason_bits(19) == 0x3100_0000
    assert regs.dev_ctl_reset_reason_bits(regs.ResetReason.GENERIC) == 0xD000_0000
    with pytest.raises(ValueError):
        regs.dev_ctl_reset_reason_bits(256)


def test_mmio_read_resp_layout():
    dt = regs.ENA_MMIO_READ_RESP
    assert dt.itemsize == 8
    assert [dt.fields[n][1] for n in ("req_id", "reg_off", "reg_val")] == [0, 2, 4]
    data = bits.pack(dt, req_id=0xDEAD + 5, reg_off=regs.ENA_REGS_DEV_STS_OFF, reg_val=1)
    assert data == bytes.fromhex("b2de5800" "01000000")


def test_constants():
    assert regs.ENA_MMIO_READ_TIMEOUT == 0xFFFFFFFF
    assert regs.ENA_REG_READ_TIMEOUT_US == 200000
    assert regs.ENA_REGS_ADMIN_INTR_MASK == 1
    assert regs.PCI_VENDOR_ID_AMAZON == 0x1D0F
    assert {d.name: int(d) for d in regs.PciDeviceId} == {
        "PF": 0x0EC2, "LLQ_PF": 0x1EC2, "VF": 0xEC20, "LLQ_VF": 0xEC21}
