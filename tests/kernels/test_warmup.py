"""``warm_up()`` compiles (or loads) every kernel the software datapath runs: afterwards a
burst across the software pair compiles nothing new, so no command pays JIT inside a
measurement."""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest

import numba_kernels
from numba_kernels.jit import jit_disabled
from numba_kernels.warmup import warm_up


def _signatures() -> dict[str, int]:
    from numba.core.registry import CPUDispatcher

    out = {}
    for m in pkgutil.iter_modules(numba_kernels.__path__):
        mod = importlib.import_module(f"numba_kernels.{m.name}")
        for name, f in vars(mod).items():
            if isinstance(f, CPUDispatcher) and f.py_func.__module__ == mod.__name__:
                out[f"{m.name}.{name}"] = len(f.signatures)
    return out


def test_warm_up_runs_twice():
    warm_up()
    warm_up()  # second call: everything already compiled, still no error


@pytest.mark.skipif(jit_disabled(), reason="kernels are plain functions without the JIT")
@pytest.mark.parametrize("llq", [True, False])
def test_nothing_compiles_after_warm_up(llq):
    from enatool.backends.soft import SoftBackend

    warm_up()
    with SoftBackend(queues=2, llq=llq) as be:
        before = _signatures()
        frame = bytes.fromhex("02000000000102000000000208004500002e0000400040110000c6120001"
                              "c6120002040000090000000000") + bytes(18)
        buf = np.frombuffer(frame * 64, np.uint8).copy()
        offs = np.arange(64, dtype=np.int64) * len(frame)
        lens = np.full(64, len(frame), np.int64)
        for _ in range(3):
            be.tx_burst_packed(0, buf, offs, lens)
            be.advance(1e-4)
            be.rx_burst_packed(0, end=1)
        be.stats(end=1)
        new = {k: v for k, v in _signatures().items() if v != before.get(k)}
    assert new == {}
