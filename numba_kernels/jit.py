"""Central JIT configuration for every kernel in ``numba_kernels``.

Why one place: ``cache=True`` must never be forgotten (a cold compile costs seconds on every
CLI start), ``NUMBA_DISABLE_JIT=1`` must turn every kernel back into plain Python (so the
naive-twin tests can step through them), and ``nogil`` is a per-kernel choice.

Rules for kernels (the on-disk cache freezes globals): module-level functions only, every
array and scalar passed as an argument, no global arrays captured.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def jit_disabled() -> bool:
    """True when NUMBA_DISABLE_JIT asks for plain Python (checked at decoration time)."""
    return os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0")


def njit(func: F | None = None, *, nogil: bool = False, leaf: bool = False) -> Any:
    """``numba.njit(cache=True)`` with an optional ``nogil``; identity when JIT is disabled.

    Usable bare (``@njit``) or with arguments (``@njit(nogil=True)``).

    ``leaf=True`` is for per-packet helpers that never allocate and never return an array:
    they are compiled without the reference-counting runtime (numba's ``_nrt=False``). Why:
    a helper with array arguments and more than one exit path keeps an atomic incref/decref
    pair per array argument (and per slice it takes) that numba's pruning cannot remove;
    measured ~45 ns per call with 7 arrays, more than the work of a 64-byte frame. Arrays
    passed in stay owned by the caller, so nothing is lost by not counting them here.
    """

    def decorate(f: F) -> F:
        if jit_disabled():
            return f
        import numba

        if leaf:
            return numba.njit(cache=True, nogil=nogil, _nrt=False)(f)
        return numba.njit(cache=True, nogil=nogil)(f)

    if func is not None:
        return decorate(func)
    return decorate
