"""XDP life cycle on a real veth inside throwaway namespaces: compile, attach/detach in both
modes, refusal of a foreign program (named by id), replace, the default-route guard, and
nothing left attached after an exception, SIGTERM or SIGKILL of the attaching process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from enatool.errors import InterfaceError

needs = pytest.mark.needs
pytestmark = [pytest.mark.netns, needs("root", "bcc", "netns", "xdp_native", "xdp_generic")]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _state(bed):
    from enatool.backends.afxdp.xdp import xdp_state

    return xdp_state(bed.if_b, bed.ns_b)


def _ip_link_has_xdp(bed) -> bool:
    out = subprocess.run(["ip", "-n", bed.ns_b, "link", "show", bed.if_b],
                         capture_output=True, text=True, check=True).stdout
    return "prog/xdp" in out


@pytest.mark.parametrize("name,src", [("xsk_redirect", None), ("drop_count", None),
                                      ("lat_reflect", "latency"), ("lat_steer", "latency")])
def test_bcc_compiles_and_loads(name, src):
    from enatool.backends.afxdp.xdp import XdpProgram

    with XdpProgram(name, None, src=src) as prog:
        assert prog.fd > 0
        assert prog.qstats(4).shape == (4, 5)


@pytest.mark.parametrize("mode,kernel_name", [("native", "xdp"), ("skb", "xdpgeneric"),
                                               ("auto", "xdp")])
def test_attach_detach_modes(netns, mode, kernel_name):
    from enatool.backends.afxdp.xdp import XdpAttach, XdpProgram

    bed = netns(queues=2)
    with XdpProgram("drop_count") as prog:
        with XdpAttach(prog.fd, bed.if_b, bed.ns_b, mode=mode) as at:
            assert at.how == "link"
            assert at.mode == ("native" if mode == "auto" else mode)
            attached, prog_id = _state(bed)
            assert attached == kernel_name and prog_id == at.prog_id > 0
            assert _ip_link_has_xdp(bed)
        assert _state(bed) == (None, 0)
        assert not _ip_link_has_xdp(bed)


def test_netlink_fallback_detaches(netns):
    from enatool.backends.afxdp.xdp import XdpAttach, XdpProgram

    bed = netns()
    with XdpProgram("drop_count") as prog:
        with XdpAttach(prog.fd, bed.if_b, bed.ns_b, mode="skb", use_link=False) as at:
            assert at.how == "netlink" and _state(bed)[0] == "xdpgeneric"
        assert _state(bed) == (None, 0)


def test_refuses_foreign_program_then_replace(netns):
    from enatool.backends.afxdp.xdp import XdpAttach, XdpProgram

    bed = netns()
    # someone else's program, attached the classic way (netlink)
    with XdpProgram("drop_count") as other, XdpProgram("xsk_redirect") as mine, \
            XdpAttach(other.fd, bed.if_b, bed.ns_b, mode="native", use_link=False) as theirs:
        their_id = theirs.prog_id
        with pytest.raises(InterfaceError, match=f"program id {their_id}"):
            XdpAttach(mine.fd, bed.if_b, bed.ns_b).__enter__()
        assert _state(bed)[1] == their_id  # the refusal changed nothing
        with XdpAttach(mine.fd, bed.if_b, bed.ns_b, replace=True) as at:
            assert at.prog_id != their_id and _state(bed)[1] == at.prog_id
        assert _state(bed) == (None, 0)


def test_refuses_program_held_by_a_link(netns):
    from enatool.backends.afxdp.xdp import XdpAttach, XdpProgram

    bed = netns()
    with XdpProgram("drop_count") as prog, XdpAttach(prog.fd, bed.if_b, bed.ns_b) as first:
        with pytest.raises(InterfaceError, match=f"program id {first.prog_id}"):
            XdpAttach(prog.fd, bed.if_b, bed.ns_b).__enter__()
        with pytest.raises(InterfaceError, match="link"):
            XdpAttach(prog.fd, bed.if_b, bed.ns_b, replace=True).__enter__()
        assert _state(bed)[1] == first.prog_id


def test_default_route_refused_unless_forced(netns):
    from enatool.backends.afxdp.xdp import XdpAttach, XdpProgram

    bed = netns()
    with bed.ipr("b") as rt:
        rt.route("add", dst="0.0.0.0/0", gateway=bed.addr_a, oif=bed.index_b)
    with XdpProgram("drop_count") as prog:
        with pytest.raises(InterfaceError, match="default route"):
            XdpAttach(prog.fd, bed.if_b, bed.ns_b).__enter__()
        assert _state(bed) == (None, 0)
        with XdpAttach(prog.fd, bed.if_b, bed.ns_b, force=True) as at:
            assert at.prog_id
    assert _state(bed) == (None, 0)


def test_nothing_attached_after_an_exception(netns):
    from enatool.backends.afxdp.xdp import XdpAttach, XdpProgram

    bed = netns()
    with pytest.raises(RuntimeError, match="boom"), XdpProgram("drop_count") as prog, \
            XdpAttach(prog.fd, bed.if_b, bed.ns_b, mode="skb"):
        assert _state(bed)[1]
        raise RuntimeError("boom")
    assert _state(bed) == (None, 0)


CHILD = textwrap.dedent("""
    import sys, time
    from enatool.backends.afxdp.xdp import XdpAttach, XdpProgram
    prog = XdpProgram("xsk_redirect")
    at = XdpAttach(prog.fd, sys.argv[1], sys.argv[2], mode=sys.argv[3]).__enter__()
    print("attached", at.prog_id, flush=True)
    time.sleep(60)
""")


@pytest.mark.parametrize("sig,mode", [(signal.SIGKILL, "native"), (signal.SIGTERM, "skb")])
def test_killed_process_leaves_nothing_attached(netns, sig, mode):
    bed = netns()
    child = subprocess.Popen([sys.executable, "-c", CHILD, bed.if_b, bed.ns_b, mode],
                             stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = child.stdout.readline()
        assert line.startswith("attached"), line
        assert _state(bed)[1] == int(line.split()[1])
        child.send_signal(sig)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
    assert child.returncode == -sig
    assert _state(bed) == (None, 0)
    assert not _ip_link_has_xdp(bed)
