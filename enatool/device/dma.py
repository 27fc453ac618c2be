"""Host memory the software ENA device can reach by DMA.

On a real machine the driver allocates coherent DMA memory and hands the device bus
addresses; the device reads descriptors and writes completions there. Here that memory is
one contiguous numpy ``uint8`` arena (``np.zeros``, so untouched pages are never committed)
and a bus address is ``BUS_BASE + offset``. ``BUS_BASE`` sets bits in 47:32 so that every
48-bit address a driver encodes ({u32 low, u16 high}) exercises the high half.

The allocator is a first-fit free list of 4 KiB-aligned extents; memory is zeroed on every
allocation (like ``dma_alloc_coherent``). Every access must lie inside one live allocation,
otherwise ``DmaFault`` is raised: the device turns faults on driver-supplied addresses into
an admin error status (or, on the datapath, a fatal device error), never an exception to the
caller of a register write.
"""

from __future__ import annotations

import bisect

import numpy as np

PAGE_SIZE = 4096


class DmaFault(Exception):
    """An access to a bus address that is not inside a live allocation."""


class RangeAllocator:
    """First-fit allocator over ``[0, size)`` with ``align``-sized granules.

    Used for the DMA arena and for carving LLQ areas out of BAR2.
    """

    def __init__(self, size: int, align: int = PAGE_SIZE):
        if size <= 0 or size % align:
            raise ValueError(f"size {size} must be a positive multiple of {align}")
        self.size = size
        self.align = align
        self._free: list[list[int]] = [[0, size]]  # sorted [offset, length] extents
        self.used: dict[int, int] = {}  # offset -> reserved length

    def alloc(self, nbytes: int) -> int | None:
        """Offset of a new extent of at least ``nbytes`` (rounded up), or None if full."""
        length = max(self.align, -(-int(nbytes) // self.align) * self.align)
        for i, (off, free_len) in enumerate(self._free):
            if free_len >= length:
                if free_len == length:
                    del self._free[i]
                else:
                    self._free[i] = [off + length, free_len - length]
                self.used[off] = length
                return off
        return None

    def free(self, offset: int) -> int:
        """Release the extent starting at ``offset``; returns its length. KeyError if none."""
        length = self.used.pop(offset)
        starts = [f[0] for f in self._free]
        i = bisect.bisect_left(starts, offset)
        self._free.insert(i, [offset, length])
        # coalesce with the next, then the previous neighbour
        if i + 1 < len(self._free) and offset + length == self._free[i + 1][0]:
            self._free[i][1] += self._free[i + 1][1]
            del self._free[i + 1]
        if i > 0 and self._free[i - 1][0] + self._free[i - 1][1] == offset:
            self._free[i - 1][1] += self._free[i][1]
            del self._free[i]
        return length

    def reset(self) -> None:
        self._free = [[0, self.size]]
        self.used.clear()


class DmaMemory:
    """The host-memory arena plus its allocator, addressed by bus address."""

    #: bus address of arena offset 0 (bits 47:32 = 0x00A5, 4 KiB aligned, never 0)
    BUS_BASE = 0x00A5_0000_0000

    def __init__(self, size: int = 256 * 1024 * 1024):
        size = -(-int(size) // PAGE_SIZE) * PAGE_SIZE
        self.size = size
        # page-aligned like host memory: a frame at a page offset then shares cache lines the
        # way it would on hardware (numpy's own alignment is 16 bytes: every 64-byte frame
        # would straddle two lines)
        raw = np.zeros(size + PAGE_SIZE, dtype=np.uint8)
        skip = -raw.ctypes.data % PAGE_SIZE
        self.arena = raw[skip:skip + size]
        self._alloc = RangeAllocator(size, PAGE_SIZE)
        self._starts: list[int] = []  # sorted arena offsets of live allocations
        self._lengths: dict[int, int] = {}  # arena offset -> requested length
        #: bumped on every alloc/free (the datapath caches the live ranges per generation)
        self.generation = 0
        self._ranges: tuple[int, np.ndarray, np.ndarray] | None = None

    # --- allocation ---------------------------------------------------------------------
    def alloc(self, nbytes: int) -> int:
        """Zeroed memory of ``nbytes``; returns its 4 KiB-aligned bus address."""
        nbytes = int(nbytes)
        if nbytes <= 0:
            raise ValueError(f"DMA allocation of {nbytes} bytes")
        off = self._alloc.alloc(nbytes)
        if off is None:
            raise MemoryError(
                f"DMA arena exhausted: {nbytes} bytes requested, {self.live_bytes} live "
                f"of {self.size}"
            )
        self.arena[off : off + self._alloc.used[off]] = 0
        bisect.insort(self._starts, off)
        self._lengths[off] = nbytes
        self.generation += 1
        return self.BUS_BASE + off

    def free(self, addr: int) -> None:
        """Give back an allocation; ``addr`` must be exactly what ``alloc`` returned."""
        off = int(addr) - self.BUS_BASE
        if off not in self._lengths:
            raise DmaFault(f"free of {int(addr):#x}: not the start of a live allocation")
        del self._lengths[off]
        del self._starts[bisect.bisect_left(self._starts, off)]
        self._alloc.free(off)
        self.generation += 1

    @property
    def live_allocations(self) -> int:
        return len(self._lengths)

    @property
    def live_bytes(self) -> int:
        """Sum of the requested sizes of live allocations."""
        return sum(self._lengths.values())

    def live_ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted arena offsets (starts, ends) of live allocations, for datapath kernels."""
        r = self._ranges
        if r is None or r[0] != self.generation:
            starts = np.array(self._starts, np.int64)
            ends = starts + np.array([self._lengths[s] for s in self._starts], np.int64)
            r = self._ranges = (self.generation, starts, ends)
        return r[1], r[2]

    # --- access -------------------------------------------------------------------------
    def _offset(self, addr: int, n: int) -> int:
        """Arena offset of ``[addr, addr+n)``; DmaFault unless inside one live allocation."""
        addr = int(addr)
        n = int(n)
        off = addr - self.BUS_BASE
        i = bisect.bisect_right(self._starts, off) - 1
        if n < 0 or i < 0 or off < 0:
            raise DmaFault(f"DMA access {addr:#x}+{n}: no live allocation there")
        start = self._starts[i]
        if off + n > start + self._lengths[start]:
            raise DmaFault(
                f"DMA access {addr:#x}+{n} outside allocation "
                f"{self.BUS_BASE + start:#x}+{self._lengths[start]}"
            )
        return off

    def read(self, addr: int, n: int) -> bytes:
        off = self._offset(addr, n)
        return self.arena[off : off + int(n)].tobytes()

    def write(self, addr: int, data) -> None:
        src = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else (
            data.reshape(-1).view(np.uint8)
        )
        off = self._offset(addr, src.size)
        self.arena[off : off + src.size] = src

    def view(self, addr: int, n: int) -> np.ndarray:
        """Writable zero-copy uint8 view of ``[addr, addr+n)``."""
        off = self._offset(addr, n)
        return self.arena[off : off + int(n)]

    def contains(self, addr: int, n: int) -> bool:
        """True if ``[addr, addr+n)`` lies inside one live allocation."""
        try:
            self._offset(addr, n)
        except DmaFault:
            return False
        return True
