"""Load ``bpf/latency.c`` (``lat_reflect`` / ``lat_steer``) with bcc.

The AF_XDP backend's :class:`~enatool.backends.afxdp.xdp.XdpProgram` knows a fixed list of
programs (one function per file); this loader does the same compile -> load for the two
functions of the latency file and exposes the same ``fd``/``bpf``/``qstats``/``close``
shape, so :class:`~enatool.backends.afxdp.xdp.XdpAttach` attaches it unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from enatool.backends.afxdp.xdp import BPF_DIR, MAX_QUEUES, QSTATS_FIELDS
from enatool.errors import CapabilityError

FUNCS = ("lat_reflect", "lat_steer")


class LatencyProgram:
    """``func`` of bpf/latency.c compiled with ``LAT_PORT=port`` (and extra defines)."""

    def __init__(self, func: str, port: int, defines: dict[str, int] | None = None):
        assert func in FUNCS
        from enatool.bcc_headers import use_headers

        use_headers()
        try:
            from bcc import BPF
        except ImportError as e:
            raise CapabilityError(f"bcc is not importable ({e})",
                                  hint="apt-get install python3-bpfcc libbpfcc") from None
        cflags = [f"-I{BPF_DIR / 'include'}", f"-DENAT_MAX_QUEUES={MAX_QUEUES}",
                  f"-DLAT_PORT={int(port)}"]
        cflags += [f"-D{k}={int(v)}" for k, v in (defines or {}).items()]
        self.name = func
        try:
            self.bpf = BPF(src_file=str(BPF_DIR / "latency.c").encode(), cflags=cflags)
        except Exception as e:
            raise CapabilityError(f"bcc could not compile bpf/latency.c: {e}",
                                  hint="check kernel headers with `enatool doctor`") from None
        try:
            self.fd = self.bpf.load_func(func.encode(), BPF.XDP).fd
        except Exception as e:
            self.bpf.cleanup()
            raise CapabilityError(f"the kernel refused {func} of bpf/latency.c: {e}",
                                  hint="run as root") from None

    def set_drop_every(self, n: int) -> None:
        table = self.bpf[b"cfg"]
        leaf = table.Leaf()
        leaf.drop_every = int(n)
        table[table.Key(0)] = leaf

    def set_xsk(self, queue: int, fd: int) -> None:
        table = self.bpf[b"xsks"]
        table[table.Key(queue)] = table.Leaf(fd)

    def qstats(self, queues: int = MAX_QUEUES) -> np.ndarray:
        """Per-Rx-queue counters ``int64[queues, 5]`` (QSTATS_FIELDS), CPUs summed."""
        out = np.zeros((queues, len(QSTATS_FIELDS)), np.int64)
        table = self.bpf[b"qstats"]
        for q in range(min(queues, MAX_QUEUES)):
            for leaf in table[table.Key(q)]:
                out[q] += np.array([getattr(leaf, f) for f in QSTATS_FIELDS], np.int64)
        return out

    def close(self) -> None:
        bpf, self.bpf = getattr(self, "bpf", None), None
        if bpf is not None:
            bpf.cleanup()

    def __enter__(self) -> LatencyProgram:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
