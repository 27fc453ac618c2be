"""Run one compiled loop in a (pinned) worker thread while the main thread prints a live
line each second and turns Ctrl-C / SIGTERM into a graceful stop.

First Ctrl-C (or SIGTERM): ``stop[0] = 1`` (clients stop sending and wait for outstanding
answers up to their timeout; reflectors stop). A second one: ``stop[0] = 2`` (now).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from enatool.signals import sigterm_as_interrupt


def run_loop(fn: Callable[..., Any], args: tuple, stop: np.ndarray, cpu: int | None = None,
             live: Callable[[float], None] | None = None, interval: float = 1.0,
             ) -> tuple[Any, bool, float]:
    """``fn(*args)`` in a thread pinned to ``cpu``; returns (result, interrupted, seconds)."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def body() -> None:
        old = None
        try:
            if cpu is not None:
                old = os.sched_getaffinity(0)
                os.sched_setaffinity(0, {cpu})
            box["result"] = fn(*args)
        except BaseException as e:  # re-raised in the caller
            box["error"] = e
        finally:
            if old is not None:
                os.sched_setaffinity(0, old)
            done.set()

    t = threading.Thread(target=body, name="latency-loop", daemon=True)
    interrupted = False
    t0 = time.monotonic()
    next_tick = t0 + interval
    with sigterm_as_interrupt():
        t.start()
        try:
            # wait on an Event, not a timed Thread.join: on 3.11 a Ctrl-C inside a timed join
            # can mark a still-running nogil worker as stopped (its rings would be unmapped)
            while not done.is_set():
                try:
                    done.wait(min(0.05, max(next_tick - time.monotonic(), 0.001)))
                    if live is not None and time.monotonic() >= next_tick:
                        live(time.monotonic() - t0)
                        next_tick += interval
                except KeyboardInterrupt:
                    stop[0] = 2 if interrupted else 1
                    interrupted = True
        finally:
            if not done.is_set():
                stop[0] = 2
                done.wait()
    elapsed = time.monotonic() - t0
    if "error" in box:
        raise box["error"]
    return box.get("result"), interrupted, elapsed
