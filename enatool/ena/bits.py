"""Bit-field and structured-dtype helpers for the ENA interface definitions.

The driver headers describe every field as a MASK/SHIFT pair and every structure as a C
struct; here the structs are numpy structured dtypes. These helpers are for the management
plane (admin commands, features, registers): simple, not vectorised. Hot-path descriptor
work belongs in numba_kernels.
"""

from __future__ import annotations

import numpy as np

ADDR48_MASK = (1 << 48) - 1


def field_get(value: int, mask: int, shift: int) -> int:
    """Extract the field selected by ``mask`` (already shifted) and move it down by ``shift``."""
    return (int(value) & mask) >> shift


def field_set(value: int, mask: int, shift: int, field: int) -> int:
    """Return ``value`` with the masked field replaced by ``field``.

    Raises ValueError if ``field`` is negative or does not fit in the mask.
    """
    field = int(field)
    if field < 0 or (field << shift) & ~mask:
        raise ValueError(f"value {field:#x} does not fit mask {mask:#x} (shift {shift})")
    return (int(value) & ~mask) | (field << shift)


def addr48_split(addr: int) -> tuple[int, int]:
    """Split a 48-bit DMA address into (low u32, high u16) as the ENA structs store it."""
    addr = int(addr)
    if addr < 0 or addr > ADDR48_MASK:
        raise ValueError(f"address {addr:#x} is not a 48-bit address")
    return addr & 0xFFFFFFFF, addr >> 32


def addr48_join(lo: int, hi: int) -> int:
    """Inverse of addr48_split (only the low 16 bits of ``hi`` are significant)."""
    return (int(hi) & 0xFFFF) << 32 | (int(lo) & 0xFFFFFFFF)


def _addr_pairs(dtype: np.dtype) -> list[str]:
    """Base names X for which the dtype has both X_lo and X_hi fields."""
    names = dtype.names or ()
    return [n[:-3] for n in names if n.endswith("_lo") and n[:-3] + "_hi" in names]


def _assign(arr: np.ndarray, name: str, value) -> None:
    fdtype = arr.dtype.fields[name][0]
    sub = fdtype.subdtype
    if sub is not None and sub[0] == np.uint8 and isinstance(value, bytes | bytearray | memoryview):
        # byte arrays (payloads, MAC addresses, strings) accept shorter bytes, zero-padded
        size = int(np.prod(sub[1]))
        raw = bytes(value)
        if len(raw) > size:
            raise ValueError(f"{name}: {len(raw)} bytes do not fit {size}")
        buf = np.zeros(size, np.uint8)
        buf[: len(raw)] = np.frombuffer(raw, np.uint8)
        arr[name][0] = buf.reshape(sub[1])
        return
    if sub is None and fdtype.kind in "ui":
        info = np.iinfo(fdtype)
        v = int(value)
        if v < info.min or v > info.max:
            raise ValueError(f"{name}: {v:#x} does not fit {fdtype}")
    arr[name][0] = value


def pack(dtype: np.dtype, **fields) -> bytes:
    """Build the bytes of one ``dtype`` item; fields not named are zero.

    For a dtype holding ``X_lo``/``X_hi`` a 48-bit address may be given as ``X=addr``.
    Byte-array fields (u1[N]) accept ``bytes`` shorter than N (zero padded).
    Out-of-range integers raise ValueError instead of wrapping silently.
    """
    arr = np.zeros(1, dtype)
    names = dtype.names or ()
    pairs = _addr_pairs(dtype)
    for key, value in fields.items():
        if key in names:
            _assign(arr, key, value)
        elif key in pairs:
            lo, hi = addr48_split(value)
            arr[key + "_lo"][0] = lo
            arr[key + "_hi"][0] = hi
        else:
            raise KeyError(f"{key!r} is not a field of this dtype")
    return arr.tobytes()


def unpack(dtype: np.dtype, data) -> dict:
    """Decode the first ``dtype.itemsize`` bytes of ``data`` into a dict of plain values.

    Scalars become int, u1[N] arrays become bytes, other arrays numpy copies. For every
    ``X_lo``/``X_hi`` pair the joined 48-bit address is added as ``X``.
    """
    raw = bytes(data) if not isinstance(data, np.ndarray) else data.tobytes()
    if len(raw) < dtype.itemsize:
        raise ValueError(f"need {dtype.itemsize} bytes, got {len(raw)}")
    item = np.frombuffer(raw, dtype, count=1)[0]
    out: dict = {}
    for name in dtype.names or ():
        fdtype = dtype.fields[name][0]
        value = item[name]
        if fdtype.subdtype is not None:
            out[name] = value.tobytes() if fdtype.subdtype[0] == np.uint8 else value.copy()
        elif fdtype.names is not None:
            out[name] = value.copy()
        else:
            out[name] = int(value)
    for base in _addr_pairs(dtype):
        out[base] = addr48_join(out[base + "_lo"], out[base + "_hi"])
    return out


def make_dtype(itemsize: int, *fields: tuple) -> np.dtype:
    """Little-endian structured dtype from (name, format, offset) triples, exact itemsize.

    Used by the definition modules so every layout states its byte offsets explicitly.
    """
    names = [f[0] for f in fields]
    formats = [f[1] for f in fields]
    offsets = [f[2] for f in fields]
    dt = np.dtype(
        {"names": names, "formats": formats, "offsets": offsets, "itemsize": itemsize}
    )
    for name, _fmt, off in fields:
        fd = dt.fields[name][0]
        if off + fd.itemsize > itemsize:
            raise ValueError(f"field {name} overruns itemsize {itemsize}")
    return dt
