"""One AF_XDP socket (XSK) bound to one queue of a netdev, its UMEM and its four rings.

Set-up order (``linux/if_xdp.h``, Linux 5.4+ ABI): ``socket(AF_XDP)`` in the interface's
netns -> ``XDP_UMEM_REG`` -> fill_ring / comp_ring / rx_ring / tx_ring sizes ->
``XDP_MMAP_OFFSETS`` -> mmap each ring at its page offset -> ``bind`` (zero-copy, copy, or
zero-copy-then-copy for ``auto``; veth only does copy) -> optional busy-poll and
``XDP_MAX_TX_SKB_BUDGET``. Ring memory is shared with the kernel and exposed as numpy
views: ``producer``/``consumer``/``flags`` u32[1] and the descriptor fields.

Frames: the first ``rx_frames`` chunks of the UMEM are lent to the kernel through the
fill_ring, the rest are Tx frames kept on a free-frame stack and recycled from the
comp_ring. The per-packet loops live in :mod:`numba_kernels.xsk`; the methods here work one
batch per call (the ``Backend`` slot/burst API and tests).
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import socket
from dataclasses import dataclass
from typing import Any

import numpy as np

from enatool import sysffi
from enatool.backends.afxdp.umem import Umem
from enatool.backends.afxdp.xdp import run_in_netns
from enatool.errors import CapabilityError, DeviceError, UsageError
from numba_kernels import xsk as kx

COPY_MODES = ("copy", "zc", "auto")
TX_BUDGET_MIN = 32  # the kernel's lower bound for XDP_MAX_TX_SKB_BUDGET


@dataclass
class Ring:
    """numpy views of one mmapped ring. ``addr``/``len`` are the descriptor fields (for
    the fill_ring and comp_ring ``len`` is unused and ``addr`` is the whole entry)."""

    mm: mmap.mmap | None
    size: int
    producer: np.ndarray
    consumer: np.ndarray
    flags: np.ndarray
    addr: np.ndarray
    len: np.ndarray

    @property
    def mask(self) -> int:
        return self.size - 1

    def close(self) -> None:
        mm, self.mm = self.mm, None
        for name in ("producer", "consumer", "flags", "addr", "len"):
            setattr(self, name, None)
        if mm is not None:
            with contextlib.suppress(BufferError):
                mm.close()


def _map_ring(fd: int, off: sysffi.xdp_ring_offset, size: int, desc: bool,
              pgoff: int) -> Ring:
    entry = 16 if desc else 8
    length = off.desc + size * entry
    mm = mmap.mmap(fd, length, flags=mmap.MAP_SHARED | mmap.MAP_POPULATE,
                   prot=mmap.PROT_READ | mmap.PROT_WRITE, offset=pgoff)

    def u32(at: int) -> np.ndarray:
        return np.ndarray((1,), np.uint32, buffer=mm, offset=at)

    addr = np.ndarray((size,), np.uint64, buffer=mm, offset=off.desc, strides=(entry,))
    if desc:
        ln = np.ndarray((size,), np.uint32, buffer=mm, offset=off.desc + 8, strides=(entry,))
    else:
        ln = np.zeros(1, np.uint32)
    return Ring(mm, size, u32(off.producer), u32(off.consumer), u32(off.flags), addr, ln)


def _pow2(n: int, what: str) -> int:
    if n < 2 or n & (n - 1):
        raise UsageError(f"{what} {n} must be a power of two >= 2")
    return n


class XskSocket:
    """An AF_XDP socket on ``queue`` of interface ``ifindex`` (in ``netns``).

    ``copy``: 'copy', 'zc' or 'auto' (zero-copy, else copy; ``zerocopy`` says which).
    ``batch`` sets ``XDP_MAX_TX_SKB_BUDGET`` (clamped to 32..ring size). ``busy_poll``
    sets SO_PREFER_BUSY_POLL / SO_BUSY_POLL(usecs) / SO_BUSY_POLL_BUDGET(batch).
    """

    def __init__(self, ifindex: int, queue: int, netns: str | None = None, *,
                 rx: bool = True, tx: bool = True, ring_size: int = 2048,
                 frame_size: int = 4096, copy: str = "auto", need_wakeup: bool = True,
                 busy_poll: bool = False, busy_poll_usecs: int = 20, batch: int = 64,
                 huge: bool = False):
        if copy not in COPY_MODES:
            raise UsageError(f"unknown copy mode {copy!r}", hint="use copy, zc or auto")
        if not (rx or tx):
            raise UsageError("an XSK needs rx, tx or both")
        _pow2(ring_size, "ring size")
        self.queue, self.ifindex, self.netns = queue, ifindex, netns
        self.ring_size, self.batch, self.need_wakeup = ring_size, batch, need_wakeup
        self.busy_poll = busy_poll
        self.rx_frames = ring_size if rx else 0
        self.tx_frames = ring_size if tx else 0
        self.sock: socket.socket | None = None
        self.umem: Umem | None = None
        self.rings: dict[str, Ring] = {}
        self.tx_budget: int | None = None
        try:
            self._open(rx, tx, frame_size, copy, busy_poll_usecs, huge)
        except BaseException:
            self.close()
            raise

    # -- set-up -------------------------------------------------------------------------------
    def _setopt(self, level: int, opt: int, value: Any) -> None:
        assert self.sock is not None
        self.sock.setsockopt(level, opt, value)

    def _open(self, rx: bool, tx: bool, frame_size: int, copy: str, busy_usecs: int,
              huge: bool) -> None:
        try:
            self.sock = run_in_netns(self.netns, socket.socket, sysffi.AF_XDP,
                                     socket.SOCK_RAW, 0)
        except OSError as e:
            raise CapabilityError(f"cannot create an AF_XDP socket: {e.strerror}",
                                  hint=sysffi.errno_advice(e)) from None
        self.fd = self.sock.fileno()
        self.umem = Umem(self.rx_frames + self.tx_frames, frame_size, huge)
        n = self.ring_size
        x = sysffi.SOL_XDP
        try:
            self._setopt(x, sysffi.XDP_UMEM_REG, bytes(self.umem.reg()))
            self._setopt(x, sysffi.XDP_UMEM_FILL_RING, n)
            self._setopt(x, sysffi.XDP_UMEM_COMPLETION_RING, n)
            if rx:
                self._setopt(x, sysffi.XDP_RX_RING, n)
            if tx:
                self._setopt(x, sysffi.XDP_TX_RING, n)
            raw = self.sock.getsockopt(x, sysffi.XDP_MMAP_OFFSETS,
                                       ctypes.sizeof(sysffi.xdp_mmap_offsets))
        except OSError as e:
            raise DeviceError(f"AF_XDP set-up failed: {e.strerror}",
                              hint=sysffi.errno_advice(e)) from None
        off = sysffi.xdp_mmap_offsets.from_buffer_copy(raw)
        self.rings["fill"] = _map_ring(self.fd, off.fr, n, False,
                                       sysffi.XDP_UMEM_PGOFF_FILL_RING)
        self.rings["comp"] = _map_ring(self.fd, off.cr, n, False,
                                       sysffi.XDP_UMEM_PGOFF_COMPLETION_RING)
        if rx:
            self.rings["rx"] = _map_ring(self.fd, off.rx, n, True, sysffi.XDP_PGOFF_RX_RING)
        if tx:
            self.rings["tx"] = _map_ring(self.fd, off.tx, n, True, sysffi.XDP_PGOFF_TX_RING)
        # all Rx frames go to the kernel; Tx frames start on the free stack
        fill = self.rings["fill"]
        kx.produce_addrs(fill.producer, fill.consumer, fill.addr, fill.mask,
                         self.umem.frame_addrs(0, self.rx_frames), self.rx_frames)
        self.tx_stack = np.zeros(max(self.tx_frames, 1), np.int64)
        self.tx_stack[:self.tx_frames] = self.umem.frame_addrs(self.rx_frames, self.tx_frames)
        self.tx_depth = np.array([self.tx_frames], np.int64)
        self._bind(copy)
        if tx:
            budget = max(TX_BUDGET_MIN, min(self.batch, n))
            with contextlib.suppress(OSError):  # kernels before 6.6 lack it: default 32
                self._setopt(x, sysffi.XDP_MAX_TX_SKB_BUDGET, budget)
                self.tx_budget = budget
        if self.busy_poll:
            so = socket.SOL_SOCKET
            try:
                self._setopt(so, sysffi.SO_PREFER_BUSY_POLL, 1)
                self._setopt(so, sysffi.SO_BUSY_POLL, busy_usecs)
                self._setopt(so, sysffi.SO_BUSY_POLL_BUDGET, self.batch)
            except OSError as e:
                raise CapabilityError(f"busy-poll socket options refused: {e.strerror}",
                                      hint=sysffi.errno_advice(e)) from None
        # Python-side scratch for the batch API
        self._peek_addrs = np.zeros(n, np.int64)
        self._peek_lens = np.zeros(n, np.int64)
        self._peeked = 0

    def _bind(self, copy: str) -> None:
        wake = sysffi.XDP_USE_NEED_WAKEUP if self.need_wakeup else 0
        tries = {"zc": [sysffi.XDP_ZEROCOPY], "copy": [sysffi.XDP_COPY],
                 "auto": [sysffi.XDP_ZEROCOPY, sysffi.XDP_COPY]}[copy]
        last: OSError | None = None
        for mode in tries:
            try:
                sysffi.xsk_bind(self.fd, self.ifindex, self.queue, mode | wake)
                break
            except OSError as e:
                last = e
        else:
            assert last is not None
            what = "zero-copy" if copy == "zc" else "copy" if copy == "copy" else "any"
            raise DeviceError(f"AF_XDP bind to queue {self.queue} ({what} mode) failed: "
                              f"{last.strerror}", hint=sysffi.errno_advice(last))
        raw = self.sock.getsockopt(sysffi.SOL_XDP, sysffi.XDP_OPTIONS, 4)  # type: ignore
        self.zerocopy = bool(int.from_bytes(raw, "little") & sysffi.XDP_OPTIONS_ZEROCOPY)

    # -- batch API (one call per batch; the per-packet work is in numba_kernels.xsk) ----------
    @property
    def bind_mode(self) -> str:
        return "zc" if self.zerocopy else "copy"

    def reap(self) -> int:
        """comp_ring -> free Tx frames; returns how many completed."""
        comp = self.rings["comp"]
        return int(kx._reap(comp.producer, comp.consumer, comp.addr, comp.mask,
                            self.tx_stack, self.tx_depth))

    def kick_tx(self) -> None:
        """``sendto(fd, NULL, 0, MSG_DONTWAIT)``: copy mode transmits only when kicked."""
        with contextlib.suppress(BlockingIOError, InterruptedError, OSError):
            self.sock.send(b"", socket.MSG_DONTWAIT)  # type: ignore[union-attr]

    def wake_rx(self) -> None:
        """Let the kernel refill from the fill_ring / run NAPI (need_wakeup or busy-poll)."""
        with contextlib.suppress(BlockingIOError, InterruptedError, OSError):
            self.sock.recv(0, socket.MSG_DONTWAIT)  # type: ignore[union-attr]

    def tx_slots(self, n: int) -> np.ndarray:
        """Up to ``n`` free Tx frame addresses (not taken yet: see :meth:`tx_submit`)."""
        self.reap()
        tx = self.rings["tx"]
        k = min(n, int(self.tx_depth[0]),
                int(kx.ring_free(int(tx.producer[0]), int(tx.consumer[0]), tx.size)))
        top = int(self.tx_depth[0])
        return self.tx_stack[top - k:top][::-1].copy()

    def tx_submit(self, addrs: np.ndarray, lens: np.ndarray, n: int) -> None:
        """Queue the first ``n`` of the slots :meth:`tx_slots` returned, then kick."""
        top = int(self.tx_depth[0])
        if n > top or not np.array_equal(self.tx_stack[top - n:top][::-1], addrs[:n]):
            raise ValueError("tx_submit: addresses are not the slots tx_slots returned")
        self.tx_depth[0] = top - n
        tx = self.rings["tx"]
        k = kx.produce_descs(tx.producer, tx.consumer, tx.addr, tx.len, tx.mask,
                             np.ascontiguousarray(addrs[:n], np.int64),
                             np.ascontiguousarray(lens[:n], np.int64), n)
        if k != n:
            raise DeviceError("tx_ring full after tx_slots said it had room")
        self.kick_tx()

    def tx_burst(self, frames: list[bytes]) -> int:
        """Copy ``frames`` into free Tx frames and queue them; returns how many were taken."""
        addrs = self.tx_slots(len(frames))
        k = len(addrs)
        lens = np.zeros(k, np.int64)
        limit = self.umem.frame_size  # type: ignore[union-attr]
        buf = self.umem.buf  # type: ignore[union-attr]
        for i in range(k):
            f = frames[i]
            if len(f) > limit:
                raise UsageError(f"frame of {len(f)} bytes exceeds the UMEM frame size {limit}")
            a = int(addrs[i])
            buf[a:a + len(f)] = np.frombuffer(f, np.uint8)
            lens[i] = len(f)
        if k:
            self.tx_submit(addrs, lens, k)
        return k

    def rx_slots(self, max_n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Received frames ``(umem, addrs, lens, n)`` still owned by the caller."""
        rx = self.rings["rx"]
        max_n = min(max_n, self.ring_size)
        n = int(kx.peek_descs(rx.producer, rx.consumer, rx.addr, rx.len, rx.mask,
                              self._peek_addrs, self._peek_lens, max_n))
        if n == 0:
            fill = self.rings["fill"]
            if self.busy_poll or (self.need_wakeup
                                  and fill.flags[0] & kx.XDP_RING_NEED_WAKEUP):
                self.wake_rx()
        self._peeked = n
        return self.umem.buf, self._peek_addrs[:n], self._peek_lens[:n], n  # type: ignore

    def rx_release(self, n: int) -> None:
        """Give the first ``n`` frames of the last :meth:`rx_slots` back to the kernel."""
        if n > self._peeked:
            raise ValueError(f"rx_release({n}) after rx_slots returned {self._peeked}")
        rx, fill = self.rings["rx"], self.rings["fill"]
        kx.release(rx.consumer, n)
        chunks = self._peek_addrs[:n] & ~np.int64(self.umem.frame_size - 1)  # type: ignore
        kx.produce_addrs(fill.producer, fill.consumer, fill.addr, fill.mask, chunks, n)
        self._peeked = 0

    def rx_burst(self, max_n: int) -> list[bytes]:
        """Copies of up to ``max_n`` received frames, oldest first."""
        buf, addrs, lens, n = self.rx_slots(max_n)
        out = [buf[int(a):int(a) + int(ln)].tobytes() for a, ln in zip(addrs, lens,
                                                                       strict=True)]
        self.rx_release(n)
        return out

    def statistics(self) -> dict[str, int]:
        """The kernel's ``XDP_STATISTICS`` for this socket."""
        st = sysffi.xdp_statistics()
        raw = self.sock.getsockopt(sysffi.SOL_XDP, sysffi.XDP_STATISTICS,  # type: ignore
                                   ctypes.sizeof(st))
        ctypes.memmove(ctypes.addressof(st), raw, len(raw))
        return {name: int(getattr(st, name)) for name, _ in st._fields_}

    # -- tear-down ----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the socket (the kernel unbinds it), unmap the rings and the UMEM."""
        if self.sock is not None:
            sock, self.sock = self.sock, None
            with contextlib.suppress(OSError):
                sock.close()
        for ring in self.rings.values():
            ring.close()
        self.rings = {}
        if self.umem is not None:
            self.umem.close()
            self.umem = None

    def __enter__(self) -> XskSocket:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
