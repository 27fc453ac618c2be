"""TESTS ONLY: an in-memory two-end backend to exercise the gen/sink loops without a device.

End 0's Tx queues feed end 1's Rx queues (and back). The Rx queue is chosen by RSS over the
frame's tuple when ``rss`` is set (the one policy, via the packet parser), else the same
queue number. A virtual clock moves only in :meth:`advance`. Knobs: a Tx ring capacity
that refills on ``advance`` (to force ring-full retries), a per-frame fate hook (drop,
duplicate, hold back to reorder), and an interrupt after N ``advance`` calls (Ctrl-C).
"""

from __future__ import annotations

import numpy as np

from numba_kernels import packet as pk


class LoopbackBackend:
    name = "loopback"
    num_ends = 2

    def __init__(self, queues: int = 1, *, ring: int = 1 << 30, rss=None, fate=None,
                 interrupt_after: int | None = None):
        self._nq = queues
        self.ring = ring
        self.room = {(e, q): ring for e in (0, 1) for q in range(queues)}
        self.rx = {(e, q): [] for e in (0, 1) for q in range(queues)}
        self.rss = rss
        self.fate = fate  # fate(index, frame) -> list of frames to deliver now
        self.interrupt_after = interrupt_after
        self.t = 1000.0  # seconds; not zero, to catch code that assumes a zero start
        self.advances = 0
        self.sent = 0
        self.tx_calls = 0
        self.counters = {"tx_drops": 0, "rx_errors": 0}
        self._rec = np.zeros(pk.PK_NFIELDS, np.int64)

    @property
    def num_queues(self) -> int:
        return self._nq

    def _rx_queue(self, frame: bytes, q: int) -> int:
        if self.rss is None:
            return q
        from enatool.driver.policy.rss import FlowHashProto

        buf = np.frombuffer(frame, np.uint8)
        pk.parse_frame(buf, 0, len(frame), self._rec)
        tup = np.zeros(40, np.uint8)
        n = pk.rss_tuple(buf, 0, self._rec, True, tup)
        alen = (n - 4) // 2
        v6 = alen == 16
        udp = self._rec[pk.PK_L4_PROTO] == pk.L4_UDP
        proto = {(False, True): FlowHashProto.UDP4, (False, False): FlowHashProto.TCP4,
                 (True, True): FlowHashProto.UDP6, (True, False): FlowHashProto.TCP6}[(v6, udp)]
        sp = int.from_bytes(bytes(tup[2 * alen:2 * alen + 2]), "big")
        dp = int.from_bytes(bytes(tup[2 * alen + 2:2 * alen + 4]), "big")
        return self.rss.queue_for_tuple(bytes(tup[:alen]), bytes(tup[alen:2 * alen]), sp, dp,
                                        proto)

    def tx_burst(self, queue, frames, offloads=None, *, end=0):
        self.tx_calls += 1
        k = min(len(frames), self.room[(end, queue)])
        self.room[(end, queue)] -= k
        for frame in frames[:k]:
            frame = bytes(frame)
            out = [frame] if self.fate is None else self.fate(self.sent, frame)
            self.sent += 1
            for f in out:
                self.rx[(1 - end, self._rx_queue(f, queue))].append(f)
        return k

    def rx_burst(self, queue, max_n=None, *, end=0):
        got = self.rx[(end, queue)]
        n = len(got) if max_n is None else min(max_n, len(got))
        self.rx[(end, queue)] = got[n:]
        return got[:n]

    def stats(self, *, end=0):
        return dict(self.counters)

    def get_rss(self, *, end=0):
        return {"function": "toeplitz", "key": self.rss.key, "table": list(self.rss.table)}

    def now(self):
        return self.t

    def advance(self, seconds):
        self.advances += 1
        if self.interrupt_after is not None and self.advances >= self.interrupt_after:
            raise KeyboardInterrupt
        self.t += seconds
        for key in self.room:
            self.room[key] = self.ring

    def close(self):
        pass


class SlotLoopback(LoopbackBackend):
    """Adds the SlotTx fast path over a small UMEM (frames copied out on submit)."""

    def __init__(self, *args, n_slots: int = 32, stride: int = 2048, **kwargs):
        super().__init__(*args, **kwargs)
        self.stride = stride
        self.umem = np.zeros(n_slots * stride, np.uint8)
        self.free = list(range(n_slots))
        self.submits = 0

    def tx_slots(self, queue, n, *, end=0):
        k = min(n, self.room[(end, queue)], len(self.free))
        return self.umem, np.array(self.free[:k], np.int64) * self.stride, self.stride

    def tx_submit(self, queue, addrs, lengths, n, *, end=0):
        self.submits += 1
        frames = [self.umem[a:a + ln].tobytes() for a, ln in zip(addrs[:n], lengths[:n],
                                                                  strict=True)]
        assert self.tx_burst(queue, frames, end=end) == n
        # rotate the free list so slots get reused with other classes and flows
        self.free = self.free[n:] + self.free[:n]
