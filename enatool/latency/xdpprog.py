"""``bpf/latency.c`` (``lat_reflect`` / ``lat_steer``) loaded through the AF_XDP backend's
:class:`~enatool.backends.afxdp.xdp.XdpProgram` (compile -> load -> ``close``, ``qstats``,
``set_xsk``), so :class:`~enatool.backends.afxdp.xdp.XdpAttach` attaches it unchanged. The
latency program already reaches the AF_XDP backend directly (``XdpAttach``, ``XskSocket``,
``run_in_netns``); this module only adds the latency file's defines and its ``cfg`` map.
"""

from __future__ import annotations

from enatool.backends.afxdp.xdp import XdpProgram

FUNCS = ("lat_reflect", "lat_steer")


class LatencyProgram(XdpProgram):
    """``func`` of bpf/latency.c compiled with ``LAT_PORT=port`` (and extra defines)."""

    def __init__(self, func: str, port: int, defines: dict[str, int] | None = None):
        assert func in FUNCS
        super().__init__(func, {"LAT_PORT": int(port), **(defines or {})}, src="latency")

    def set_drop_every(self, n: int) -> None:
        table = self.bpf[b"cfg"]
        leaf = table.Leaf()
        leaf.drop_every = int(n)
        table[table.Key(0)] = leaf
