"""Naive twins of numba_kernels.xsk ring arithmetic: a ring is a dict of Python ints and a
list of entries; indices are free-running u32 values wrapped with ``% 2**32``."""

from __future__ import annotations

M = 2**32


class NaiveRing:
    """One AF_XDP ring as the kernel documents it: ``size`` entries, u32 producer/consumer."""

    def __init__(self, size: int, start: int = 0, desc: bool = False):
        self.size, self.prod, self.cons = size, start % M, start % M
        self.addr = [0] * size
        self.len = [0] * size if desc else None

    def used(self) -> int:
        return (self.prod - self.cons) % M

    def free(self) -> int:
        return self.size - self.used()

    def produce(self, addrs, lens=None) -> int:
        k = min(len(addrs), self.free())
        for i in range(k):
            slot = (self.prod + i) % M % self.size
            self.addr[slot] = addrs[i]
            if lens is not None:
                self.len[slot] = lens[i]
        self.prod = (self.prod + k) % M
        return k

    def peek(self, n: int) -> tuple[list[int], list[int]]:
        k = min(n, self.used())
        slots = [(self.cons + i) % M % self.size for i in range(k)]
        return [self.addr[s] for s in slots], [self.len[s] for s in slots] if self.len else []

    def consume(self, n: int) -> list[int]:
        addrs, _ = self.peek(n)
        self.cons = (self.cons + len(addrs)) % M
        return addrs


class NaiveStack:
    """The free-frame stack: last pushed is first popped."""

    def __init__(self, items=()):
        self.items = list(items)

    def pop(self, n: int) -> list[int]:
        k = min(n, len(self.items))
        out = [self.items.pop() for _ in range(k)]
        return out

    def push(self, addrs) -> None:
        self.items.extend(addrs)
