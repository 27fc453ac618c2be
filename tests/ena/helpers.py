"""Shared checks for dtype layouts: random/edge round trips through bits.pack/unpack."""

import numpy as np

from enatool.ena import bits


def _overlapping(dtype):
    """Fields that share bytes with an earlier field (C unions); skipped when packing."""
    seen, skip = [], set()
    for name in dtype.names:
        fd, off = dtype.fields[name][:2]
        span = set(range(off, off + fd.itemsize))
        if any(span & s for s in seen):
            skip.add(name)
        seen.append(span)
    return skip


def field_values(dtype, rng, mode):
    """Values for every packable field: mode 'random', 'ones' (all bits set) or 'zero'."""
    out = {}
    skip = _overlapping(dtype)
    for name in dtype.names:
        if name in skip:
            continue
        fd = dtype.fields[name][0]
        if fd.names is not None or (fd.subdtype and fd.subdtype[0].names is not None):
            continue  # nested structs are tested by hand
        if fd.subdtype is not None:
            base, shape = fd.subdtype
            n = int(np.prod(shape))
            if base == np.uint8:
                if mode == "random":
                    out[name] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
                else:
                    out[name] = bytes([0xFF if mode == "ones" else 0]) * n
            else:
                top = np.iinfo(base).max
                vals = rng.integers(0, top, n, dtype=base, endpoint=True) if mode == "random" \
                    else np.full(n, top if mode == "ones" else 0, dtype=base)
                out[name] = vals.reshape(shape)
            continue
        top = np.iinfo(fd).max
        if mode == "random":
            out[name] = int(rng.integers(0, top, dtype=np.uint64, endpoint=True))
        else:
            out[name] = top if mode == "ones" else 0
    return out


def check_roundtrip(dtype, seed=0):
    rng = np.random.default_rng(seed)
    for mode in ("random", "ones", "zero", "random"):
        values = field_values(dtype, rng, mode)
        data = bits.pack(dtype, **values)
        assert len(data) == dtype.itemsize
        got = bits.unpack(dtype, data)
        for name, value in values.items():
            if isinstance(value, np.ndarray):
                assert np.array_equal(got[name], value), name
            else:
                assert got[name] == value, name
        # byte-exact: each scalar sits at its stated offset, little-endian
        for name, value in values.items():
            fd, off = dtype.fields[name][:2]
            if fd.subdtype is None:
                assert data[off:off + fd.itemsize] == int(value).to_bytes(fd.itemsize, "little")
        if mode == "ones":
            # every byte a field covers is 0xFF, reserved bytes stay zero
            covered = set()
            for name in values:
                fd, off = dtype.fields[name][:2]
                covered.update(range(off, off + fd.itemsize))
            for i, b in enumerate(data):
                assert b == (0xFF if i in covered else 0), (i, b)
