"""bits helpers: MASK/SHIFT arithmetic, 48-bit addresses, dtype pack/unpack."""

import numpy as np
import pytest

from enatool.ena import bits
from enatool.ena.bits import make_dtype

pytestmark = pytest.mark.nojit


def test_field_get_set_roundtrip():
    v = bits.field_set(0xFFFFFFFF, 0x3F0000, 16, 0x2A)
    assert v == (0xFFFFFFFF & ~0x3F0000) | (0x2A << 16)
    assert bits.field_get(v, 0x3F0000, 16) == 0x2A
    assert bits.field_get(0x12345678, 0xFF00, 8) == 0x56


@pytest.mark.parametrize("field", [0x40, -1, 1 << 40])
def test_field_set_overflow_raises(field):
    with pytest.raises(ValueError):
        bits.field_set(0, 0x3F0000, 16, field)


def test_field_set_all_ones_fits():
    assert bits.field_set(0, 0xFFC00000, 22, 0x3FF) == 0xFFC00000


def test_addr48_split_join():
    lo, hi = bits.addr48_split(0xABCD_1234_5678)
    assert (lo, hi) == (0x1234_5678, 0xABCD)
    assert bits.addr48_join(lo, hi) == 0xABCD_1234_5678
    assert bits.addr48_split((1 << 48) - 1) == (0xFFFFFFFF, 0xFFFF)
    with pytest.raises(ValueError):
        bits.addr48_split(1 << 48)
    with pytest.raises(ValueError):
        bits.addr48_split(-1)


DT = make_dtype(
    24,
    ("a", "<u2", 0),
    ("b", "u1", 2),
    ("x_lo", "<u4", 4),
    ("x_hi", "<u2", 8),
    ("raw", ("u1", 6), 10),
    ("w", ("<u2", 2), 16),
)


def test_pack_named_and_address_fields():
    data = bits.pack(DT, a=0x1234, x=0xBEEF_CAFE_F00D, raw=b"\x01\x02")
    assert len(data) == 24
    assert data[0:2] == b"\x34\x12"
    assert data[2] == 0  # unnamed field zero
    assert data[4:8] == (0xCAFE_F00D).to_bytes(4, "little")
    assert data[8:10] == b"\xef\xbe"
    assert data[10:16] == b"\x01\x02\x00\x00\x00\x00"
    d = bits.unpack(DT, data)
    assert d["a"] == 0x1234 and d["x"] == 0xBEEF_CAFE_F00D
    assert d["raw"] == b"\x01\x02\x00\x00\x00\x00"
    assert isinstance(d["a"], int)


def test_pack_rejects_unknown_and_overflow():
    with pytest.raises(KeyError):
        bits.pack(DT, nope=1)
    with pytest.raises(ValueError):
        bits.pack(DT, b=256)
    with pytest.raises(ValueError):
        bits.pack(DT, a=-1)
    with pytest.raises(ValueError):
        bits.pack(DT, raw=b"1234567")


def test_unpack_accepts_longer_rejects_shorter():
    data = bits.pack(DT, b=7) + b"\xff" * 10
    assert bits.unpack(DT, data)["b"] == 7
    with pytest.raises(ValueError):
        bits.unpack(DT, data[:10])
    # numpy arrays are accepted too
    assert bits.unpack(DT, np.frombuffer(data, np.uint8))["b"] == 7


def test_unpack_non_byte_array_field():
    d = bits.unpack(DT, bits.pack(DT, w=[0x1111, 0x2222]))
    assert list(d["w"]) == [0x1111, 0x2222]


def test_make_dtype_rejects_overrun():
    with pytest.raises(ValueError):
        make_dtype(4, ("a", "<u4", 2))
