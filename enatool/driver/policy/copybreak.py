"""Rx copybreak: copy small packets into a fresh buffer and re-post the Rx buffer.

Reproduces "2016" = amzn-drivers v1.0.0 (``small_copy_len``, default 128 - NET_IP_ALIGN = 128
on x86/arm64; copy when the first buffer's length <= value; settable 0..MTU) and "today" =
v2.17.0 (``rx_copybreak``, default 256; copy only when the whole packet used exactly one
descriptor and its length <= value; settable 0..min(MTU, ENA_PAGE_SIZE), else -EINVAL).
Counter: ``rx_copybreak_pkt``.
"""

from __future__ import annotations

from enatool.errors import UsageError

ENA_PAGE_SIZE = 4096
RX_COPYBREAK_DEFAULT = {"today": 256, "2016": 128}


class CopybreakPolicy:
    """Decides, per received packet, whether the driver copies it (and counts those)."""

    def __init__(self, era: str = "today", value: int | None = None):
        if era not in RX_COPYBREAK_DEFAULT:
            raise UsageError(f"unknown driver era {era!r}", hint="use 'today' or '2016'")
        self.era = era
        self.value = RX_COPYBREAK_DEFAULT[era] if value is None else int(value)
        if self.value < 0:
            raise UsageError(f"rx_copybreak {self.value} out of range 0..")
        self._copied = 0
        # fold callbacks of the Rx rings whose kernels count copies: run before a read
        self._pending: list = []

    @property
    def rx_copybreak_pkt(self) -> int:
        """Packets copied so far, by this policy and by the attached Rx rings."""
        for fold in self._pending:
            fold()
        return self._copied

    def count_copied(self, n: int) -> None:
        self._copied += n

    def attach(self, fold) -> None:
        """An Rx ring counts copies in its kernels; ``fold()`` hands them to
        :meth:`count_copied` (called before every read of :attr:`rx_copybreak_pkt`)."""
        self._pending.append(fold)

    def detach(self, fold) -> None:
        self._pending.remove(fold)

    def limit(self, mtu: int, page_size: int = ENA_PAGE_SIZE) -> int:
        """Largest accepted value: MTU in 2016, min(MTU, page) today."""
        return mtu if self.era == "2016" else min(mtu, page_size)

    def set(self, value: int, mtu: int, page_size: int = ENA_PAGE_SIZE) -> None:
        """``ethtool --set-tunable rx-copybreak`` / sysfs; the kernel answers -EINVAL."""
        top = self.limit(mtu, page_size)
        if not 0 <= value <= top:
            raise UsageError(f"rx_copybreak {value} out of range 0..{top} (-EINVAL)",
                             hint=f"pick a value between 0 and {top}")
        self.value = int(value)

    def should_copy(self, length: int, ndescs: int = 1) -> bool:
        """``length``: packet length today, first-buffer length in 2016."""
        if self.era == "2016":
            return length <= self.value
        return ndescs == 1 and length <= self.value

    def on_rx(self, length: int, ndescs: int = 1) -> bool:
        """``should_copy`` that also bumps ``rx_copybreak_pkt`` when copying."""
        copy = self.should_copy(length, ndescs)
        if copy:
            self._copied += 1
        return copy
