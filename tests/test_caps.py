"""The capability probe, its helpers (sysffi, bcc_headers, netdev) and the netns fixture."""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from enatool import bcc_headers, caps, netdev, sysffi
from enatool.errors import CapabilityError, InterfaceError

ROOT = Path(__file__).resolve().parents[1]
needs = pytest.mark.needs  # handled by tests/conftest.py: skips with the probe's reason


def _netns_names() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


def _links() -> set[str]:
    out = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True, check=True)
    return {line.split()[0].split("@")[0] for line in out.stdout.splitlines() if line.strip()}


# --- the record -------------------------------------------------------------------------------


def test_quick_probe_has_cheap_fields_only():
    record = caps.probe(quick=True)
    for name in ("python", "kernel", "root", "numpy", "click", "bpf_syscall", "btf", "busy_poll"):
        check = record.get(name)
        assert check is not None, name
        assert isinstance(check.ok, bool)
        assert isinstance(check.detail, str) and check.detail
        assert isinstance(check.fix, str)
        assert check.ok or check.fix, f"{name} failed without a fix"
    assert record.netns is None and record.bcc is None and record.numba is None
    assert record.python.ok


def test_probe_is_cached_and_frozen():
    a = caps.probe(quick=True)
    b = caps.probe(quick=True)
    assert a.python is b.python
    with pytest.raises(AttributeError):
        a.python = None  # type: ignore[misc]


def test_to_dict_and_names():
    record = caps.probe(quick=True)
    d = record.to_dict()
    assert set(d) <= set(caps.CHECKS)
    assert d["python"] == {"ok": True, "detail": record.python.detail, "fix": ""}
    with pytest.raises(KeyError):
        record.get("no_such_capability")
    with pytest.raises(KeyError):
        caps.probe(only=["no_such_capability"])


def test_unprobed_counts_as_missing():
    record = caps.Caps()
    assert not record.ok("bcc")
    assert record.missing("bcc")[0][1].detail == "not probed"


def test_require_names_missing_item_and_fix(monkeypatch):
    monkeypatch.setattr(
        caps, "_check_btf", lambda: caps.Check(False, "/sys/kernel/btf/vmlinux missing", "fix-it")
    )
    caps.reset_cache()
    try:
        with pytest.raises(CapabilityError) as ei:
            caps.require("python", "btf")
        err = ei.value
        assert "btf" in str(err) and "python" not in str(err).split("(")[0]
        assert "/sys/kernel/btf/vmlinux missing" in str(err)
        assert err.hint == "fix-it"
        assert err.exit_code == 3
        assert "\n" not in err.one_line()
    finally:
        caps.reset_cache()
    assert caps.require("python").python.ok


def test_iface_checks_read_only():
    record = caps.probe(iface="lo", only=["iface", "iface_zerocopy"])
    assert record.iface == "lo"
    assert record.get("iface").ok
    assert record.iface_zerocopy is not None
    with pytest.raises(InterfaceError):
        caps.probe(iface="nosuchif0", only=["iface"])


@needs("bpf_syscall")
def test_bpf_syscall_is_real():
    fd = sysffi.bpf_prog_load_xdp()
    try:
        retval, _ = sysffi.bpf_prog_test_run_xdp(fd, bytes(64), repeat=4)
        assert retval == sysffi.XDP_PASS
    finally:
        os.close(fd)


# --- the netns part leaves nothing behind ------------------------------------------------------


@needs("root", "pyroute2")
def test_xdp_probe_leaves_no_netns_or_veth():
    # other test runs may share this machine: look only at this process's names
    mine = f"{caps.PROBE_PREFIX}{os.getpid()}"
    caps.reset_cache()
    record = caps.probe(only=["netns", "xdp_native", "xdp_generic", "af_xdp"])
    assert record.netns.ok, record.netns.reason()
    assert mine in record.netns.detail
    assert mine not in _netns_names()
    assert not {n for n in _links() if n.startswith(mine)}
    from pyroute2 import netns

    assert mine not in netns.listnetns()


@needs("xdp_native", "xdp_generic", "af_xdp")
def test_xdp_and_af_xdp_details():
    record = caps.probe(only=["xdp_native", "xdp_generic", "af_xdp"])
    assert "xdp " in record.xdp_native.detail
    assert "xdpgeneric" in record.xdp_generic.detail
    assert "EOPNOTSUPP" in record.af_xdp.detail  # veth has no zero-copy


_INTERRUPTED_PROBE = textwrap.dedent(
    """
    import sys, time
    from enatool import caps

    def stuck(*args, **kwargs):
        print("ready", flush=True)
        time.sleep(60)

    caps._xdp_attach_test = stuck
    caps.probe(only=["xdp_native"])
    """
)


@needs("root", "pyroute2", "netns")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_probe_cleans_up_when_killed(sig):
    proc = subprocess.Popen(
        [sys.executable, "-c", _INTERRUPTED_PROBE],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    name = f"{caps.PROBE_PREFIX}{proc.pid}"
    try:
        assert proc.stdout.readline().strip() == "ready"
        assert name in _netns_names()
        proc.send_signal(sig)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if name in _netns_names():  # do not leave our own mess even when the test fails
            subprocess.run(["ip", "netns", "delete", name], check=False)
    assert proc.returncode != 0
    if sig == signal.SIGTERM:
        assert proc.returncode == 128 + signal.SIGTERM
    assert name not in _netns_names()


@needs("root", "pyroute2")
def test_sweep_removes_netns_of_dead_process():
    from pyroute2 import netns

    proc = subprocess.Popen(["true"])
    proc.wait()
    name = f"{caps.PROBE_PREFIX}{proc.pid}"
    netns.create(name)
    try:
        assert name in caps.sweep_stale_netns()
    finally:
        if name in netns.listnetns():
            netns.remove(name)
    assert name not in _netns_names()


# --- sysffi -----------------------------------------------------------------------------------


def test_sysffi_layouts_match_uapi():
    assert ctypes.sizeof(sysffi.sockaddr_xdp) == 16
    assert ctypes.sizeof(sysffi.xdp_umem_reg) == 32
    assert ctypes.sizeof(sysffi.xdp_mmap_offsets) == 128
    assert ctypes.sizeof(sysffi.xdp_desc) == 16
    assert ctypes.sizeof(sysffi.bpf_insn) == 8
    assert (sysffi.AF_XDP, sysffi.SOL_XDP, sysffi.XDP_MAX_TX_SKB_BUDGET) == (44, 283, 9)
    assert sysffi.XDP_UMEM_PGOFF_COMPLETION_RING == 0x180000000
    assert len(sysffi.trivial_xdp_insns()) == 16


def test_errno_advice():
    assert "root" in sysffi.errno_advice(errno.EPERM)
    assert "copy" in sysffi.errno_advice(OSError(errno.EOPNOTSUPP, "x"))
    assert "unexpected" in sysffi.errno_advice(errno.EXDEV)


# --- bcc headers ------------------------------------------------------------------------------


def _fake_usr_src(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    common = src / "linux-headers-6.1.0-9-common"
    arch = src / "linux-headers-6.1.0-9-amd64"
    (common / "include" / "linux").mkdir(parents=True)
    (arch / "include" / "generated").mkdir(parents=True)
    (common / "include" / "linux" / "a.h").write_text("common a")
    (common / "Makefile").write_text("common makefile")
    (arch / "Makefile").write_text("arch makefile")
    (arch / "include" / "generated" / "g.h").write_text("arch g")
    (src / "linux-headers-6.1.0-9-cloud-amd64").mkdir()
    return src


def test_merged_tree_arch_on_top_and_idempotent(tmp_path, monkeypatch):
    monkeypatch.setattr(bcc_headers, "_FLAVOUR", "amd64")
    src = _fake_usr_src(tmp_path)
    cache = tmp_path / "cache"
    trees = bcc_headers._debian_trees(src)
    assert trees[0][0] == "6.1.0-9-amd64"  # the plain flavour wins over cloud-amd64
    out = bcc_headers.merged_tree(*trees[0], cache=cache)
    assert out == cache / "kernel-src-6.1.0-9-amd64"
    assert (out / "Makefile").read_text() == "arch makefile"
    assert (out / "include" / "linux" / "a.h").read_text() == "common a"
    assert (out / "include" / "generated" / "g.h").read_text() == "arch g"
    assert (out / "Makefile").is_symlink()
    mtime = out.stat().st_mtime_ns
    assert bcc_headers.merged_tree(*trees[0], cache=cache) == out
    assert out.stat().st_mtime_ns == mtime
    assert [p.name for p in cache.iterdir()] == [out.name]  # no temporary left


def test_find_headers_without_any_tree_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("BCC_KERNEL_SOURCE", raising=False)
    if Path("/lib/modules", os.uname().release, "build", "include").is_dir():
        pytest.skip("this machine has /lib/modules/<release>/build")
    with pytest.raises(CapabilityError) as ei:
        bcc_headers.find_headers(usr_src=tmp_path / "empty", cache=tmp_path / "cache")
    assert "apt-get install linux-headers-amd64" in ei.value.one_line()


@needs("bcc")
def test_bcc_compile_test_is_real():
    r = bcc_headers.compile_test()
    assert r.compile_s > 0 and r.load_s >= 0
    assert (r.headers.path / "include").is_dir()


# --- netdev and the netns fixture -------------------------------------------------------------


def test_lookup_lo_and_unknown():
    lo = netdev.lookup("lo")
    assert lo.index == 1 and lo.up
    with pytest.raises(InterfaceError) as ei:
        netdev.lookup("nosuchif0")
    assert ei.value.exit_code == 2
    assert not netdev.carries_default_route("lo")


@needs("netns")
def test_netns_bed_and_default_route_guard(netns):
    bed = netns(queues=4)
    with bed.ipr("a") as ipr:
        link = ipr.link("get", index=bed.index_a)[0]
        assert link.get("IFLA_NUM_RX_QUEUES") == 4
        ipr.route("add", dst="0.0.0.0/0", gateway=bed.addr_b, oif=bed.index_a)
    assert netdev.carries_default_route(bed.if_a, netns=bed.ns_a)
    with pytest.raises(InterfaceError) as ei:
        netdev.check_safe(bed.if_a, netns=bed.ns_a)
    assert "carries the default route" in str(ei.value) and "--force" in str(ei.value)
    assert netdev.check_safe(bed.if_a, force=True, netns=bed.ns_a).index == bed.index_a
    assert not netdev.carries_default_route(bed.if_b, netns=bed.ns_b)
    dev = netdev.lookup(bed.if_b, netns=bed.ns_b)
    assert dev.driver == "veth" and dev.num_rx_queues == 4
    feats = netdev.xdp_features(bed.index_b, netns=bed.ns_b)
    if feats is not None:
        assert feats["basic"] and not feats["xsk_zerocopy"]


@needs("netns")
def test_netns_bed_carries_udp_inside_its_namespaces(netns):
    bed = netns()
    recv = subprocess.Popen(
        ["ip", "netns", "exec", bed.ns_b, sys.executable, "-c",
         "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM);"
         f"s.bind(('{bed.addr_b}', 9999)); s.settimeout(10); print('up', flush=True);"
         "print(s.recv(64).decode(), flush=True)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert recv.stdout.readline().strip() == "up"
        send = bed.run(
            "a", sys.executable, "-c",
            "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM);"
            f"s.sendto(b'hello', ('{bed.addr_b}', 9999))",
        )  # fmt: skip
        assert send.returncode == 0, send.stderr
        assert recv.stdout.readline().strip() == "hello"
    finally:
        recv.kill()
        recv.wait()


@needs("netns")
def test_testbed_destroy_removes_everything(netns):
    bed = netns(queues=2)
    assert {bed.ns_a, bed.ns_b} <= _netns_names()
    bed.destroy()  # the fixture's finalizer does this too; destroy is idempotent
    assert not {bed.ns_a, bed.ns_b} & _netns_names()
