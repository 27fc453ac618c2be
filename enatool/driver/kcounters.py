"""Counters the datapath kernels keep in int64 arrays, folded into a ring's Python counters.

The kernels only ever add to their array, so folding when the counters are read gives the
same sums as folding after every call, at a fraction of the cost (one ``tolist`` instead of
an ``int()`` per counter per burst)."""

from __future__ import annotations

from typing import Any

import numpy as np


def fold(kcount: np.ndarray, counts: Any, names: tuple[tuple[int, str], ...]) -> list[int] | None:
    """Add ``kcount[i]`` to ``counts.<name>`` for every ``(i, name)``, zero ``kcount`` and
    return the values folded (None when there was nothing to fold)."""
    vals = kcount.tolist()
    if not any(vals):
        return None
    for i, name in names:
        v = vals[i]
        if v:
            setattr(counts, name, getattr(counts, name) + v)
    kcount.fill(0)
    return vals
