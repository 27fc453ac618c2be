"""numba_kernels.xsk ring arithmetic against the naive twins, across the u32 wrap-around."""

from __future__ import annotations

import numpy as np
import pytest

from numba_kernels import xsk as kx
from tests.naive.naive_xsk import NaiveRing, NaiveStack

pytestmark = pytest.mark.nojit

RNG = np.random.default_rng(5)


class Ring:
    """numpy views shaped like the mmapped rings (descriptors strided like xdp_desc)."""

    def __init__(self, size: int, start: int, desc: bool):
        self.mem = np.zeros(size * 2 if desc else size, np.uint64)
        self.prod = np.array([start % 2**32], np.uint32)
        self.cons = np.array([start % 2**32], np.uint32)
        self.flags = np.zeros(1, np.uint32)
        self.mask = size - 1
        if desc:
            self.addr = self.mem[0::2]
            self.len = self.mem.view(np.uint32)[2::4]
        else:
            self.addr = self.mem
            self.len = np.zeros(1, np.uint32)


@pytest.mark.parametrize("start", [0, 2**32 - 5, 2**32 - 1, 12345])
def test_ring_used_free(start):
    for used in (0, 1, 7, 8):
        p = (start + used) % 2**32
        assert kx.ring_used(p, start) == used
        assert kx.ring_free(p, start, 8) == 8 - used


@pytest.mark.parametrize("start", [0, 2**32 - 37, 2**32 - 1])
def test_fill_and_comp_rings_wrap(start):
    size = 16
    ring, twin = Ring(size, start, False), NaiveRing(size, start)
    out = np.zeros(size, np.int64)
    for _ in range(300):
        n = int(RNG.integers(0, size + 4))
        addrs = RNG.integers(0, 1 << 40, n).astype(np.int64)
        assert kx.produce_addrs(ring.prod, ring.cons, ring.addr, ring.mask, addrs, n) == \
            twin.produce(addrs.tolist())
        m = int(RNG.integers(0, size + 4))
        k = kx.consume_addrs(ring.prod, ring.cons, ring.addr, ring.mask, out, m)
        assert out[:k].tolist() == twin.consume(m)
        assert (int(ring.prod[0]), int(ring.cons[0])) == (twin.prod, twin.cons)
    assert twin.prod != start  # we did cross the wrap for the high starts


@pytest.mark.parametrize("start", [2**32 - 100, 7])
def test_tx_and_rx_descriptor_rings_wrap(start):
    size = 32
    ring, twin = Ring(size, start, True), NaiveRing(size, start, desc=True)
    a_out, l_out = np.zeros(size, np.int64), np.zeros(size, np.int64)
    for _ in range(300):
        n = int(RNG.integers(0, size + 8))
        addrs = RNG.integers(0, 1 << 40, n).astype(np.int64)
        lens = RNG.integers(60, 4096, n).astype(np.int64)
        got = kx.produce_descs(ring.prod, ring.cons, ring.addr, ring.len, ring.mask, addrs,
                               lens, n)
        assert got == twin.produce(addrs.tolist(), lens.tolist())
        m = int(RNG.integers(0, size + 8))
        k = kx.peek_descs(ring.prod, ring.cons, ring.addr, ring.len, ring.mask, a_out, l_out, m)
        ta, tl = twin.peek(m)
        assert (a_out[:k].tolist(), l_out[:k].tolist()) == (ta, tl)
        r = int(RNG.integers(0, k + 1))
        kx.release(ring.cons, r)
        twin.consume(r)
        assert (int(ring.prod[0]), int(ring.cons[0])) == (twin.prod, twin.cons)
    # the options word next to len stays zero (the kernel rejects descriptors with options)
    assert not ring.mem.view(np.uint32)[3::4].any()


def test_free_stack_and_reap():
    stack = np.zeros(64, np.int64)
    depth = np.zeros(1, np.int64)
    twin = NaiveStack()
    out = np.zeros(64, np.int64)
    for _ in range(200):
        n = int(RNG.integers(0, 10))
        if RNG.random() < 0.5 and depth[0] + n <= 64:
            addrs = RNG.integers(0, 1 << 30, n).astype(np.int64)
            kx.stack_push(stack, depth, addrs, n)
            twin.push(addrs.tolist())
        else:
            k = kx.stack_pop(stack, depth, out, n)
            assert out[:k].tolist() == twin.pop(n)
        assert depth[0] == len(twin.items)
    # comp_ring -> stack, across the wrap
    ring, tw = Ring(8, 2**32 - 3, False), NaiveRing(8, 2**32 - 3)
    addrs = np.arange(6, dtype=np.int64) * 4096
    kx.produce_addrs(ring.prod, ring.cons, ring.addr, ring.mask, addrs, 6)
    tw.produce(addrs.tolist())
    st = np.zeros(16, np.int64)
    d = np.zeros(1, np.int64)
    assert kx._reap(ring.prod, ring.cons, ring.addr, ring.mask, st, d) == 6
    assert st[:6].tolist() == tw.consume(6)
    assert int(ring.cons[0]) == tw.cons == (2**32 - 3 + 6) % 2**32
