"""Small helpers over pyroute2 for real network interfaces.

Why here: every command that touches a real netdev must first find it, learn its driver
(``ena`` on EC2) and refuse to take over the interface that carries this machine's default
route unless the user says ``--force``. The per-driver XDP/AF_XDP feature bits come from the
kernel's ``netdev`` generic-netlink family (Linux 6.3+), a read-only query.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from enatool.errors import InterfaceError

# netdev genetlink (include/uapi/linux/netdev.h)
NETDEV_CMD_DEV_GET = 1
NETDEV_XDP_ACT = {
    "basic": 1 << 0,
    "redirect": 1 << 1,
    "ndo_xmit": 1 << 2,
    "xsk_zerocopy": 1 << 3,
    "hw_offload": 1 << 4,
    "rx_sg": 1 << 5,
    "ndo_xmit_sg": 1 << 6,
}


@dataclass(frozen=True)
class NetDev:
    """What enatool needs to know about one interface."""

    ifname: str
    index: int
    netns: str | None  # None = the current namespace
    driver: str | None
    up: bool
    num_rx_queues: int | None
    num_tx_queues: int | None
    xdp_attached: str | None  # "xdp", "xdpgeneric", ... or None


@contextlib.contextmanager
def hold_signals() -> Iterator[None]:
    """Block SIGINT/SIGTERM in this thread for a short critical section.

    pyroute2 forks a helper to open a socket in another namespace (and to create one). A
    forked helper that receives Ctrl-C would raise KeyboardInterrupt and unwind a *copy* of
    our stack, running our cleanup twice. Forking with the signals blocked means the helper
    never sees them (it ends with os._exit); we get them right after.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def ipr(netns: str | None = None):
    """An IPRoute for ``netns`` (None = current), created fork-safely."""
    from pyroute2 import IPRoute

    if not netns:
        return IPRoute()
    with hold_signals():
        return IPRoute(netns=netns)


_ipr = ipr


def driver_of(ifname: str) -> str | None:
    """Driver name from sysfs (what ``ethtool -i`` reports); None for virtual devices
    without a bus driver (veth, bridges) or interfaces in another namespace."""
    link = f"/sys/class/net/{ifname}/device/driver"
    try:
        return os.path.basename(os.readlink(link))
    except OSError:
        pass
    try:
        with open(f"/sys/class/net/{ifname}/uevent") as f:
            for line in f:
                if line.startswith("DEVTYPE="):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return None


def lookup(ifname: str, netns: str | None = None) -> NetDev:
    """Find ``ifname`` (in ``netns`` or the current namespace); InterfaceError if absent."""
    if not ifname or len(ifname) >= 16 or "/" in ifname:
        raise InterfaceError(f"invalid interface name {ifname!r}", hint="see `ip link`")
    with _ipr(netns) as ipr:
        idx = ipr.link_lookup(ifname=ifname)
        if not idx:
            where = f" in netns {netns}" if netns else ""
            raise InterfaceError(
                f"no interface named {ifname}{where}",
                hint="list interfaces with `ip -br link`" + (f" (ip -n {netns})" if netns else ""),
            )
        link = ipr.link("get", index=idx[0])[0]
    xdp = link.get("IFLA_XDP")
    attached = xdp.get("IFLA_XDP_ATTACHED") if xdp is not None else None
    info = link.get("IFLA_LINKINFO")
    kind = info.get("IFLA_INFO_KIND") if info is not None else None
    driver = (driver_of(ifname) if netns is None else None) or kind
    return NetDev(
        ifname=ifname,
        index=idx[0],
        netns=netns,
        driver=driver,
        up=bool(link["flags"] & 1),
        num_rx_queues=link.get("IFLA_NUM_RX_QUEUES"),
        num_tx_queues=link.get("IFLA_NUM_TX_QUEUES"),
        xdp_attached=attached if attached not in (None, "none") else None,
    )


def carries_default_route(ifname: str, netns: str | None = None) -> bool:
    """True if an IPv4 or IPv6 default route (any table) leaves through ``ifname``."""
    with _ipr(netns) as ipr:
        idx = ipr.link_lookup(ifname=ifname)
        if not idx:
            return False
        for family in (socket.AF_INET, socket.AF_INET6):
            for route in ipr.get_routes(family=family, table=None):
                if route["dst_len"] != 0 or route.get("RTA_DST") is not None:
                    continue
                if route.get("RTA_OIF") == idx[0]:
                    return True
                mp = route.get("RTA_MULTIPATH") or []
                if any(hop["oif"] == idx[0] for hop in mp):
                    return True
    return False


def check_safe(ifname: str, force: bool = False, netns: str | None = None) -> NetDev:
    """Refuse an interface whose takeover would cut this machine off the network."""
    dev = lookup(ifname, netns)
    if not force and carries_default_route(ifname, netns):
        raise InterfaceError(
            f"{ifname} carries the default route; enatool would cut this machine off the "
            "network. Use --force to override",
            hint="run on a secondary ENA interface, or pass --force if you have console access",
        )
    return dev


def xdp_features(ifindex: int, netns: str | None = None) -> dict[str, bool] | None:
    """The driver's advertised XDP features (netdev genetlink, Linux 6.3+); None when the
    kernel does not have the ``netdev`` family."""
    from pyroute2.netlink import NLM_F_REQUEST, genlmsg
    from pyroute2.netlink.generic import GenericNetlinkSocket

    class netdev_msg(genlmsg):
        prefix = "NETDEV_A_DEV_"
        nla_map = (
            ("NETDEV_A_DEV_UNSPEC", "none"),
            ("NETDEV_A_DEV_IFINDEX", "uint32"),
            ("NETDEV_A_DEV_PAD", "none"),
            ("NETDEV_A_DEV_XDP_FEATURES", "uint64"),
            ("NETDEV_A_DEV_XDP_ZC_MAX_SEGS", "uint32"),
            ("NETDEV_A_DEV_XDP_RX_METADATA_FEATURES", "uint64"),
            ("NETDEV_A_DEV_XSK_FEATURES", "uint64"),
        )

    kw = {"netns": netns} if netns else {}
    with hold_signals():
        sock = GenericNetlinkSocket(**kw)
    try:
        try:
            sock.bind("netdev", netdev_msg)
        except Exception:
            return None
        msg = netdev_msg()
        msg["cmd"] = NETDEV_CMD_DEV_GET
        msg["version"] = 1
        msg["attrs"] = [("NETDEV_A_DEV_IFINDEX", ifindex)]
        reply = list(sock.nlm_request(msg, msg_type=sock.prid, msg_flags=NLM_F_REQUEST))
        bits = reply[0].get("NETDEV_A_DEV_XDP_FEATURES") or 0
    finally:
        sock.close()
    return {name: bool(bits & bit) for name, bit in NETDEV_XDP_ACT.items()}


def link_addresses(ifname: str, netns: str | None = None) -> tuple[str | None, list[str]]:
    """(MAC, IP addresses) of ``ifname``: what ``gen IFACE`` uses as default source."""
    with _ipr(netns) as ipr:
        idx = ipr.link_lookup(ifname=ifname)
        if not idx:
            raise InterfaceError(f"no interface named {ifname}", hint="see `ip -br link`")
        mac = ipr.link("get", index=idx[0])[0].get("IFLA_ADDRESS")
        addrs = [a.get("IFA_ADDRESS") for a in ipr.get_addr(index=idx[0])]
    return mac, [a for a in addrs if a and not a.startswith("fe80:")]


def neighbour_mac(ifname: str, addr: str, netns: str | None = None) -> str | None:
    """The neighbour table's MAC for ``addr`` on ``ifname`` (None when there is none)."""
    import ipaddress

    want = ipaddress.ip_address(addr)
    family = socket.AF_INET6 if want.version == 6 else socket.AF_INET
    with _ipr(netns) as ipr:
        idx = ipr.link_lookup(ifname=ifname)
        if not idx:
            return None
        for n in ipr.get_neighbours(family=family, ifindex=idx[0]):
            dst = n.get("NDA_DST")
            if dst and ipaddress.ip_address(dst) == want and n.get("NDA_LLADDR"):
                if n["state"] & 0x20:  # NUD_FAILED
                    continue
                return str(n.get("NDA_LLADDR"))
    return None


def rx_queue_count(ifname: str, netns: str | None = None) -> int | None:
    """Rx queues in use (``ethtool -l`` current RX + combined; the netlink queue count is
    the maximum, which a veth may exceed). None when ethtool cannot tell."""
    import shutil
    import subprocess

    exe = shutil.which("ethtool")
    if exe is None:
        return None
    cmd = [exe, "-l", ifname]
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    if proc.returncode != 0 or "Current hardware settings:" not in proc.stdout:
        return None
    cur = proc.stdout.split("Current hardware settings:", 1)[1]
    total = 0
    for line in cur.splitlines():
        key, _, val = line.partition(":")
        if key.strip() in ("RX", "Combined") and val.strip().isdigit():
            total += int(val)
    return total or None

