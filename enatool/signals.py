"""SIGTERM as Ctrl-C: one rule for every long-running command (gen, sink, latency, reflect).

Inside :func:`sigterm_as_interrupt` a SIGTERM raises ``KeyboardInterrupt`` in the main
thread, so ``kill`` stops a run the way Ctrl-C does: resources are released on the way out
and the summary is still printed. Outside the main thread (where Python cannot install
handlers) it does nothing.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt in the main thread while inside."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, _term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
