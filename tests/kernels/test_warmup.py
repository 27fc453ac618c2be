"""``warm_up()`` calls every datapath kernel once without error (compiles or loads them)."""

from __future__ import annotations

from numba_kernels.warmup import warm_up


def test_warm_up_runs_twice():
    warm_up()
    warm_up()  # second call: everything already compiled, still no error
