"""Shared fixtures: capability skips and network-namespace test beds.

Skips come only from ``enatool.caps.probe`` (xdp-tools style: tests skip honestly from the
same probe the CLI uses), so a skipped test prints the probe's own reason and fix.

Usage (do not ``from conftest import``: sub-directories have their own conftest.py)::

    needs = pytest.mark.needs

    @needs("xdp_native", "af_xdp")
    def test_something(netns):
        bed = netns(queues=4)   # two namespaces + veth pair, removed at teardown
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import uuid

import pytest

needs = pytest.mark.needs  # @needs("xdp_native", "af_xdp", "bcc")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "needs(*caps): skip unless enatool.caps.probe reports these capabilities"
    )


def _skip_reason(names: tuple[str, ...]) -> str | None:
    from enatool import caps

    record = caps.probe(only=names)
    missing = record.missing(*names)
    if not missing:
        return None
    return "; ".join(f"no {n}: {c.reason()}" for n, c in missing)


def pytest_runtest_setup(item):
    for mark in item.iter_markers(name="needs"):
        reason = _skip_reason(tuple(mark.args))
        if reason:
            pytest.skip(reason)


@pytest.fixture(scope="session")
def caps():
    """The full probe record, computed once per session (netns, bcc and numba included)."""
    from enatool import caps as capsmod

    return capsmod.probe()


# ---------------------------------------------------------------------------------------------
# netns test beds

BENCH_NET = ipaddress.ip_network("198.18.0.0/15")


class TestBed:
    """Two namespaces joined by a veth pair: ``ns_a``/``if_a`` <-> ``ns_b``/``if_b``."""

    __test__ = False  # not a test class

    def __init__(self, tag: str, queues: int, subnet: int):
        self.tag = tag
        self.ns_a, self.ns_b = f"enat{tag}a", f"enat{tag}b"
        self.if_a, self.if_b = f"enat{tag}a", f"enat{tag}b"
        self.queues = queues
        base = int(BENCH_NET.network_address) + subnet * 4
        self.addr_a = str(ipaddress.ip_address(base + 1))
        self.addr_b = str(ipaddress.ip_address(base + 2))
        self.prefixlen = 30
        self.index_a = self.index_b = 0
        self.mac_a = self.mac_b = ""

    def ipr(self, side: str = "a"):
        from enatool.netdev import ipr

        return ipr(self.ns_a if side == "a" else self.ns_b)

    def run(self, side: str, *cmd: str, **kw) -> subprocess.CompletedProcess:
        """Run a command inside one side's namespace (``ip netns exec``)."""
        ns = self.ns_a if side == "a" else self.ns_b
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("timeout", 30)
        return subprocess.run(["ip", "netns", "exec", ns, *cmd], **kw)

    def create(self) -> None:
        from pyroute2 import netns

        from enatool.netdev import hold_signals, ipr

        self.owner = os.getpid()
        with hold_signals():  # pyroute2 forks helpers: they must not see Ctrl-C
            netns.create(self.ns_a)
            netns.create(self.ns_b)
        with ipr(self.ns_a) as rt:
            rt.link(
                "add",
                ifname=self.if_a,
                kind="veth",
                num_rx_queues=self.queues,
                num_tx_queues=self.queues,
                peer={
                    "ifname": self.if_b,
                    "num_rx_queues": self.queues,
                    "num_tx_queues": self.queues,
                    "net_ns_fd": self.ns_b,
                },
            )
        for side, ns, ifname, addr in (
            ("a", self.ns_a, self.if_a, self.addr_a),
            ("b", self.ns_b, self.if_b, self.addr_b),
        ):
            with ipr(ns) as rt:
                idx = rt.link_lookup(ifname=ifname)[0]
                rt.addr("add", index=idx, address=addr, prefixlen=self.prefixlen)
                rt.link("set", index=idx, state="up")
                lo = rt.link_lookup(ifname="lo")[0]
                rt.link("set", index=lo, state="up")
                mac = rt.link("get", index=idx)[0].get("IFLA_ADDRESS")
                setattr(self, f"index_{side}", idx)
                setattr(self, f"mac_{side}", mac)
        # static neighbours: no ARP on the wire of a benchmark
        for ns, idx, dst, mac in (
            (self.ns_a, self.index_a, self.addr_b, self.mac_b),
            (self.ns_b, self.index_b, self.addr_a, self.mac_a),
        ):
            with ipr(ns) as rt:
                rt.neigh("replace", dst=dst, lladdr=mac, ifindex=idx, state=0x80)

    def destroy(self) -> None:
        from pyroute2 import netns

        if getattr(self, "owner", os.getpid()) != os.getpid():
            return  # a forked copy of this process must not tear down the parent's bed
        present = set(netns.listnetns())
        for ns in (self.ns_a, self.ns_b):
            if ns in present:
                netns.remove(ns)


@pytest.fixture
def netns():
    """Factory: ``bed = netns(queues=4)`` builds two namespaces joined by a veth pair with
    ``queues`` rx/tx queues in 198.18.0.0/15; all are removed at teardown, also on failure."""
    beds: list[TestBed] = []

    def make(queues: int = 1) -> TestBed:
        tag = f"{os.getpid() % 10000}{uuid.uuid4().hex[:3]}"
        bed = TestBed(tag, queues, subnet=len(beds) + (os.getpid() % 1000) * 8)
        beds.append(bed)
        try:
            bed.create()
        except BaseException:
            bed.destroy()
            beds.remove(bed)
            raise
        return bed

    try:
        yield make
    finally:
        errors = []
        for bed in beds:
            try:
                bed.destroy()
            except Exception as e:  # keep tearing down the others
                errors.append(e)
        if errors:
            raise errors[0]
