"""The device's Ethernet port: what leaves the Tx side and what reaches the Rx side.

Frames travel in *batches* (one flat ``uint8`` buffer, offsets, lengths) so a burst put on the
wire by the Tx engine reaches a peer's Rx engine without a Python object per frame.

- ``dev.wire.inject(frame)``: a frame arrives from the network now; it is received at the next
  ``process()``/``advance()`` (INTERFACE.md §15: effects may appear at the next process).
- ``dev.wire.take()``: frames the device transmitted (as ``bytes``), then forgotten. When the
  port is connected to a peer, frames go to the peer instead (set ``capture = True`` to also
  keep them here).
- ``connect(a, b, rate_bps=None, delay=0.0)``: a back-to-back cable. A frame sent by one side
  reaches the other at the sender's virtual time + serialization (when a rate is given:
  ``(len + WIRE_OVERHEAD_BYTES) * 8 / rate``, frames queue behind each other) + ``delay``
  seconds. The receiver wakes up at that time (``dev.schedule``; no wake-up when its clock is
  already there) and processes it during its ``process()``/``advance()``. Each device keeps
  its own clock; drive both.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .device import SoftEnaDevice

#: preamble + SFD (8) + FCS (4) + inter-frame gap (12): what a frame costs on a link beyond
#: the bytes the device puts on the wire
WIRE_OVERHEAD_BYTES = 24


class FrameBatch:
    """Frames ``buf[offs[i] : offs[i] + lens[i]]``, arriving at ``due_ns[i]``."""

    __slots__ = ("buf", "offs", "lens", "due_ns", "pos")

    def __init__(self, buf: np.ndarray, offs: np.ndarray, lens: np.ndarray,
                 due_ns: np.ndarray | None = None):
        self.buf = buf
        self.offs = offs
        self.lens = lens
        self.due_ns = due_ns
        self.pos = 0  # frames already received

    @classmethod
    def from_frames(cls, frames: list[bytes]) -> FrameBatch:
        lens = np.fromiter((len(f) for f in frames), np.int64, len(frames))
        offs = np.zeros(len(frames), np.int64)
        if len(frames) > 1:
            np.cumsum(lens[:-1], out=offs[1:])
        buf = np.frombuffer(b"".join(frames), np.uint8).copy()
        return cls(buf, offs, lens)

    def __len__(self) -> int:
        return len(self.lens) - self.pos

    def frames(self) -> list[bytes]:
        b = self.buf
        offs = self.offs[self.pos:].tolist()
        lens = self.lens[self.pos:].tolist()
        return [b[o:o + n].tobytes() for o, n in zip(offs, lens, strict=True)]


class Wire:
    """One device's port."""

    def __init__(self, dev: SoftEnaDevice):
        self.dev = dev
        self.peer: Wire | None = None
        self.rate_bps: float | None = None
        self.delay_ns = 0
        self.capture = False
        self._busy_until_ns = 0.0  # transmitter busy (serialization) until this time
        self._sent: list[FrameBatch] = []
        self.rx_pending: deque[FrameBatch] = deque()

    # --- network side ---------------------------------------------------------------------
    def inject(self, frame: bytes) -> None:
        """A frame arrives from the network now (received at the next process/advance)."""
        self.inject_many([bytes(frame)])

    def inject_many(self, frames: list[bytes]) -> None:
        if frames:
            b = FrameBatch.from_frames([bytes(f) for f in frames])
            b.due_ns = np.full(len(frames), self.dev.now_ns, np.int64)
            self.rx_pending.append(b)

    def inject_batch(self, batch: FrameBatch) -> None:
        self.rx_pending.append(batch)

    def take(self) -> list[bytes]:
        """Frames transmitted since the last call, in wire order."""
        out: list[bytes] = []
        for b in self._sent:
            out.extend(b.frames())
        self._sent.clear()
        return out

    @property
    def pending_rx(self) -> int:
        return sum(len(b) for b in self.rx_pending)

    # --- device side ----------------------------------------------------------------------
    def transmit(self, batch: FrameBatch) -> None:
        """The Tx engine puts a burst on the wire."""
        peer = self.peer
        if peer is None or self.capture:
            self._sent.append(batch)
        if peer is None:
            return
        now = float(self.dev.now_ns)
        if self.rate_bps:
            bits = (batch.lens + WIRE_OVERHEAD_BYTES) * 8.0
            start = max(now, self._busy_until_ns)
            ends = start + np.cumsum(bits) * (1e9 / self.rate_bps)
            self._busy_until_ns = float(ends[-1])
            due = np.ceil(ends).astype(np.int64) + self.delay_ns
            first, last = int(due[0]), int(due[-1])
        else:
            first = last = int(now) + self.delay_ns
            due = np.empty(len(batch.lens), np.int64)
            due.fill(first)
        peer.rx_pending.append(FrameBatch(batch.buf, batch.offs, batch.lens, due))
        # wake the peer when frames become due; frames due already are received at its next
        # process()/advance() anyway (a wake-up in the past would only run it idle once more)
        pdev = peer.dev
        if first > pdev.now_ns:
            pdev.schedule(first, None)
        if last != first and last > pdev.now_ns:
            pdev.schedule(last, None)

    def due_frames(self, now_ns: int) -> FrameBatch | None:
        """Pop the next batch slice whose frames are due at ``now_ns`` (None if nothing)."""
        while self.rx_pending:
            b = self.rx_pending[0]
            if len(b) == 0:
                self.rx_pending.popleft()
                continue
            if b.due_ns is None:
                self.rx_pending.popleft()
                if b.pos == 0:
                    return b
                return FrameBatch(b.buf, b.offs[b.pos:], b.lens[b.pos:])
            if b.due_ns[-1] <= now_ns:
                self.rx_pending.popleft()
                if b.pos == 0:
                    return b
                return FrameBatch(b.buf, b.offs[b.pos:], b.lens[b.pos:])
            n = int(np.searchsorted(b.due_ns, now_ns, side="right"))
            if n <= b.pos:
                # not yet: make sure the device wakes up for it
                return None
            sl = slice(b.pos, n)
            b.pos = n
            if b.pos >= len(b.lens):
                self.rx_pending.popleft()
            return FrameBatch(b.buf, b.offs[sl], b.lens[sl])
        return None

    def next_due_ns(self) -> int | None:
        for b in self.rx_pending:
            if len(b):
                return None if b.due_ns is None else int(b.due_ns[b.pos])
        return None


def connect(a: SoftEnaDevice, b: SoftEnaDevice, rate_bps: float | None = None,
            delay: float = 0.0) -> None:
    """Join two devices back to back: what one transmits the other receives (see module doc)."""
    if rate_bps is not None and rate_bps <= 0:
        raise ValueError(f"rate_bps must be positive, not {rate_bps}")
    if delay < 0:
        raise ValueError(f"delay must be >= 0, not {delay}")
    for x, y in ((a, b), (b, a)):
        x.wire.peer = y.wire
        x.wire.rate_bps = float(rate_bps) if rate_bps else None
        x.wire.delay_ns = int(round(delay * 1e9))
        x.wire._busy_until_ns = 0.0


def disconnect(a: SoftEnaDevice) -> None:
    """Unplug ``a``'s cable (both ends)."""
    peer = a.wire.peer
    a.wire.peer = None
    if peer is not None:
        peer.peer = None
