"""UMEM: the packet memory one AF_XDP socket shares with the kernel (``XDP_UMEM_REG``).

An anonymous private mapping, optionally of 2 MiB huge pages, split into ``n_frames``
chunks of ``frame_size`` bytes (aligned mode: a descriptor address may point anywhere in a
chunk; the fill_ring takes chunk starts). Registered with headroom 0, so in copy mode a
received frame starts 256 bytes (XDP_PACKET_HEADROOM) into its chunk. The buffer is exposed
as one flat ``uint8`` numpy array, the shape the field engine and the sink kernels take.
"""

from __future__ import annotations

import contextlib
import mmap

import numpy as np

from enatool import sysffi
from enatool.errors import CapabilityError, UsageError

HUGE_PAGE = 2 << 20
MAP_HUGETLB = getattr(mmap, "MAP_HUGETLB", 0x40000)
MAP_POPULATE = getattr(mmap, "MAP_POPULATE", 0x8000)


def _free_huge_pages() -> str:
    """HugePages_Free of /proc/meminfo ('?' when unreadable)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("HugePages_Free:"):
                    return line.split()[1]
    except OSError:
        pass
    return "?"


class Umem:
    """``n_frames`` × ``frame_size`` bytes of frame memory; ``buf`` is its numpy view."""

    def __init__(self, n_frames: int, frame_size: int = 4096, huge: bool = False):
        if frame_size not in (2048, 4096):
            raise UsageError(f"frame size {frame_size} unsupported", hint="use 2048 or 4096")
        if n_frames < 2 or n_frames & (n_frames - 1):
            raise UsageError(f"UMEM frame count {n_frames} must be a power of two >= 2")
        self.n_frames, self.frame_size, self.huge = n_frames, frame_size, huge
        size = n_frames * frame_size
        flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_POPULATE
        if huge:
            size = (size + HUGE_PAGE - 1) // HUGE_PAGE * HUGE_PAGE
            flags |= MAP_HUGETLB
        self.size = size
        try:
            self._mm = mmap.mmap(-1, size, flags=flags, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError as e:
            if huge:
                pages = size // HUGE_PAGE
                err = CapabilityError(
                    f"no 2 MiB huge pages for a {size >> 20} MiB UMEM ({e.strerror}; "
                    f"HugePages_Free {_free_huge_pages()})",
                    hint=f"reserve them first: sysctl vm.nr_hugepages=N ({pages} for this "
                         "UMEM, one UMEM per queue), or drop --huge-pages")
                err.self_explained = True  # the hint is the whole fix (no doctor check)
                raise err from None
            raise
        self.buf = np.frombuffer(self._mm, np.uint8)
        self.addr = int(self.buf.ctypes.data)

    def reg(self) -> sysffi.xdp_umem_reg:
        """The ``XDP_UMEM_REG`` argument for this memory."""
        return sysffi.xdp_umem_reg(addr=self.addr, len=self.n_frames * self.frame_size,
                                   chunk_size=self.frame_size, headroom=0, flags=0)

    def frame_addrs(self, first: int, count: int) -> np.ndarray:
        """UMEM offsets of frames ``first .. first + count - 1``."""
        return np.arange(first, first + count, dtype=np.int64) * self.frame_size

    def close(self) -> None:
        """Unmap once nobody else holds a view (a live numpy view keeps it mapped)."""
        mm = getattr(self, "_mm", None)
        if mm is None:
            return
        self.buf = None  # type: ignore[assignment]
        self._mm = None
        with contextlib.suppress(BufferError):
            mm.close()
