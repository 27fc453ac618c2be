"""The DMA arena: alignment, zeroing, bounds, free list, leak counters."""

from __future__ import annotations

import numpy as np
import pytest

from enatool.device import DmaFault
from enatool.device.dma import DmaMemory, RangeAllocator


def test_alloc_alignment_zeroing_and_high_address_bits():
    m = DmaMemory(1 << 20)
    a = m.alloc(100)
    b = m.alloc(5000)
    assert a % 4096 == 0 and b % 4096 == 0 and a != 0
    assert a >> 32 != 0 and (a >> 32) < (1 << 16)  # exercises bits 47:32
    assert b - a == 4096
    m.write(a, b"\xff" * 100)
    m.free(a)
    c = m.alloc(64)
    assert c == a  # first fit reuses the hole
    assert m.read(c, 64) == bytes(64)  # zeroed on every alloc
    assert m.live_allocations == 2 and m.live_bytes == 5064
    m.free(b)
    m.free(c)
    assert m.live_allocations == 0 and m.live_bytes == 0


def test_bounds_and_faults():
    m = DmaMemory(1 << 20)
    a = m.alloc(100)
    m.read(a + 50, 50)
    with pytest.raises(DmaFault):
        m.read(a + 50, 51)  # beyond the requested size
    with pytest.raises(DmaFault):
        m.read(0x1000, 4)
    with pytest.raises(DmaFault):
        m.write(a - 8, b"x")
    with pytest.raises(DmaFault):
        m.free(a + 4096)
    m.free(a)
    with pytest.raises(DmaFault):
        m.read(a, 4)  # use after free
    with pytest.raises(DmaFault):
        m.free(a)  # double free
    with pytest.raises(ValueError):
        m.alloc(0)


def test_view_is_zero_copy_and_writable():
    m = DmaMemory(1 << 20)
    a = m.alloc(256)
    v = m.view(a, 256)
    assert v.dtype == np.uint8 and v.flags.writeable
    v[10] = 0xAB
    assert m.read(a + 10, 1) == b"\xab"
    m.write(a, np.arange(4, dtype=np.uint32))
    assert list(v[:8]) == [0, 0, 0, 0, 1, 0, 0, 0]


def test_exhaustion_and_coalescing():
    m = DmaMemory(16 * 4096)
    blocks = [m.alloc(4096) for _ in range(16)]
    with pytest.raises(MemoryError):
        m.alloc(1)
    for blk in blocks[4:8]:
        m.free(blk)
    big = m.alloc(4 * 4096)  # the four freed neighbours coalesced
    assert big == blocks[4]


def test_range_allocator_frees_merge_both_sides():
    r = RangeAllocator(10 * 64, 64)
    offs = [r.alloc(64) for _ in range(10)]
    r.free(offs[3])
    r.free(offs[5])
    r.free(offs[4])
    assert r.alloc(3 * 64) == offs[3]


def test_device_dma_api(dev):
    a = dev.dma.alloc(8192)
    assert dev.dma.live_allocations == 1
    dev.dma.write(a, b"abc")
    assert dev.dma.read(a, 3) == b"abc"
    assert dev.dma.view(a, 3).tobytes() == b"abc"
    dev.dma.free(a)
    assert dev.dma.live_allocations == 0
