"""One capability probe: what this machine (and an optional interface) can do.

Why one probe: the ENA driver grew a compatibility header checked in a hundred places; we
check once, record the answer (``ok``, ``detail``, ``fix`` per item) and let everything else
branch on that record, so ``doctor``, the backends and the test skips agree. Every check is
real: the bpf syscall loads a program, XDP modes are attached to a veth pair in a throwaway
network namespace, AF_XDP sockets are bound, bcc compiles, numba JITs.

Cheap checks always run; the expensive groups (``netns``, ``bcc``, ``numba``) run only when a
caller asks for them (``quick=False`` or ``only=``). Results are cached per process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import importlib
import importlib.metadata
import importlib.util
import mmap
import os
import platform
import re
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from enatool import sysffi
from enatool.errors import CapabilityError
from enatool.netdev import hold_signals
from enatool.netdev import ipr as ipr_in

PROBE_PREFIX = "enaprb"  # netns "enaprb<pid>", veths "enaprb<pid>a"/"enaprb<pid>b"
NETNS_RUN_DIR = "/run/netns"
ROOT_FIX = "run as root (sudo enatool ...) or grant CAP_NET_ADMIN + CAP_BPF"

CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_BPF = 12, 21, 39


@dataclass(frozen=True)
class Check:
    """One capability: ``ok``; what we saw (``detail``); how to fix it (``fix``)."""

    ok: bool
    detail: str
    fix: str = ""

    def reason(self) -> str:
        return f"{self.detail} -> {self.fix}" if self.fix else self.detail


# name -> (group, description). Order is the display order of `enatool doctor`.
CHECKS: dict[str, tuple[str, str]] = {
    "python": ("base", "Python >= 3.11"),
    "kernel": ("base", "Linux kernel >= 5.15"),
    "root": ("base", "root, or CAP_NET_ADMIN + CAP_BPF"),
    "numpy": ("base", "numpy importable"),
    "click": ("base", "click importable"),
    "pyroute2": ("base", "pyroute2 importable"),
    "numba": ("numba", "numba imports and JIT-compiles"),
    "numba_cache": ("numba", "numba cache directory writable"),
    "bpf_syscall": ("base", "bpf(2) loads an XDP program"),
    "btf": ("base", "kernel BTF (/sys/kernel/btf/vmlinux)"),
    "prog_run_live": ("base", "BPF_PROG_RUN with live frames (fastest TX)"),
    "busy_poll": ("base", "SO_BUSY_POLL / SO_PREFER_BUSY_POLL on sockets"),
    "netns": ("netns", "network namespace + veth pair"),
    "xdp_native": ("netns", "XDP native mode (veth)"),
    "xdp_generic": ("netns", "XDP generic mode (veth)"),
    "af_xdp": ("netns", "AF_XDP socket binds (copy mode on veth)"),
    "kernel_headers": ("bcc", "kernel headers for bcc"),
    "bcc": ("bcc", "bcc compiles and loads an XDP program"),
    "iface": ("iface", "the named interface"),
    "iface_xdp_native": ("iface", "driver supports native XDP"),
    "iface_zerocopy": ("iface", "driver supports AF_XDP zero-copy"),
}
GROUPS = ("iface", "base", "numba", "netns", "bcc")  # run order: a bad iface name fails fast
EXPENSIVE = frozenset({"numba", "netns", "bcc"})

# What needs what: used by doctor to say which commands a failure affects.
CORE = ("python", "numpy", "numba", "numba_cache", "click")
AFFECTS = {
    "core": (CORE, "every command (the software ENA device)"),
    "afxdp": (
        (
            "root",
            "pyroute2",
            "bpf_syscall",
            "xdp_native",
            "xdp_generic",
            "af_xdp",
            "bcc",
            "kernel_headers",
        ),
        "commands on a real interface (the afxdp backend)",
    ),
    "prog_run": (("prog_run_live",), "the BPF_PROG_RUN transmit path on a real interface"),
    "busy_poll": (("busy_poll",), "busy-polling latency mode"),
    "zerocopy": (("iface_zerocopy",), "zero-copy AF_XDP on that interface (copy mode works)"),
}


@dataclass(frozen=True)
class Caps:
    """The probe's record. A field is None when its group was not probed."""

    iface: str | None = None
    python: Check | None = None
    kernel: Check | None = None
    root: Check | None = None
    numpy: Check | None = None
    click: Check | None = None
    pyroute2: Check | None = None
    numba: Check | None = None
    numba_cache: Check | None = None
    bpf_syscall: Check | None = None
    btf: Check | None = None
    prog_run_live: Check | None = None
    busy_poll: Check | None = None
    netns: Check | None = None
    xdp_native: Check | None = None
    xdp_generic: Check | None = None
    af_xdp: Check | None = None
    kernel_headers: Check | None = None
    bcc: Check | None = None
    iface_xdp_native: Check | None = None
    iface_zerocopy: Check | None = None
    iface_check: Check | None = None  # the "iface" item (the field name iface is the name)

    def get(self, name: str) -> Check | None:
        if name not in CHECKS:
            raise KeyError(f"unknown capability {name!r}; known: {', '.join(CHECKS)}")
        return self.iface_check if name == "iface" else getattr(self, name)

    def items(self) -> Iterator[tuple[str, Check]]:
        """Probed checks in display order."""
        for name in CHECKS:
            c = self.get(name)
            if c is not None:
                yield name, c

    def missing(self, *names: str) -> list[tuple[str, Check]]:
        """The named checks that failed (a check that was not probed counts as failed)."""
        out = []
        for name in names:
            c = self.get(name)
            if c is None:
                out.append((name, Check(False, "not probed", f"probe(only=[{name!r}])")))
            elif not c.ok:
                out.append((name, c))
        return out

    def ok(self, *names: str) -> bool:
        return not self.missing(*names)

    def to_dict(self) -> dict[str, dict[str, object]]:
        return {n: {"ok": c.ok, "detail": c.detail, "fix": c.fix} for n, c in self.items()}


# ---------------------------------------------------------------------------------------------
# base group: cheap, no side effects beyond a loaded-and-closed BPF program


def _check_python() -> Check:
    v = sys.version_info
    ok = v >= (3, 11)
    return Check(
        ok,
        f"{platform.python_implementation()} {platform.python_version()}",
        "" if ok else "use Python 3.11 or newer",
    )


def _kernel_version() -> tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", platform.release())
    return (int(m[1]), int(m[2])) if m else (0, 0)


def _check_kernel() -> Check:
    ok = _kernel_version() >= (5, 15)
    return Check(
        ok,
        f"Linux {platform.release()} {platform.machine()}",
        "" if ok else "use a 5.15+ kernel (6.x recommended)",
    )


def _effective_caps() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def _check_root() -> Check:
    if os.geteuid() == 0:
        return Check(True, "euid 0")
    eff = _effective_caps()
    net_admin = bool(eff >> CAP_NET_ADMIN & 1)
    bpf = bool(eff >> CAP_BPF & 1 or eff >> CAP_SYS_ADMIN & 1)
    if net_admin and bpf:
        return Check(True, f"euid {os.geteuid()} with CAP_NET_ADMIN + CAP_BPF")
    have = [n for n, b in (("CAP_NET_ADMIN", net_admin), ("CAP_BPF", bpf)) if b]
    return Check(False, f"euid {os.geteuid()}, capabilities: {', '.join(have) or 'none'}", ROOT_FIX)


def _check_import(module: str, fix: str) -> Check:
    try:
        mod = importlib.import_module(module)
    except Exception as e:  # ImportError, or a broken install raising anything
        return Check(False, f"import {module} failed: {e}", fix)
    try:
        version = importlib.metadata.version(module)
    except importlib.metadata.PackageNotFoundError:
        version = getattr(mod, "__version__", "?")
    return Check(True, f"{module} {version}")


def _check_bpf_syscall() -> Check:
    try:
        t = time.monotonic()
        fd = sysffi.bpf_prog_load_xdp()
        dt = time.monotonic() - t
        os.close(fd)
    except OSError as e:
        return Check(False, f"BPF_PROG_LOAD: {e.strerror}", sysffi.errno_advice(e))
    return Check(True, f"trivial XDP program loaded and verified in {dt * 1e3:.2f} ms")


def _check_btf() -> Check:
    path = "/sys/kernel/btf/vmlinux"
    if os.path.exists(path):
        return Check(True, f"{path} ({os.path.getsize(path) // 1024} KiB)")
    return Check(False, f"{path} missing", "use a kernel built with CONFIG_DEBUG_INFO_BTF=y")


def _check_prog_run_live() -> Check:
    # An XDP_DROP program: live frames really execute the verdict, and a drop sends nothing.
    try:
        fd = sysffi.bpf_prog_load_xdp(sysffi.trivial_xdp_insns(sysffi.XDP_DROP))
    except OSError as e:
        return Check(False, f"BPF_PROG_LOAD: {e.strerror}", sysffi.errno_advice(e))
    try:
        sysffi.bpf_prog_test_run_xdp(fd, bytes(64), repeat=1, live_frames=True)
    except OSError as e:
        fix = "needs Linux 5.18+" if e.errno == errno.EINVAL else sysffi.errno_advice(e)
        return Check(False, f"BPF_F_TEST_XDP_LIVE_FRAMES: {e.strerror}", fix)
    finally:
        os.close(fd)
    return Check(True, "XDP program ran on a live frame (XDP_DROP)")


def _check_busy_poll() -> Check:
    try:
        with open("/proc/sys/net/core/busy_poll") as f:
            sysctl = f.read().strip()
    except OSError:
        sysctl = "?"
    done = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for name, opt, val in (
            ("SO_BUSY_POLL", sysffi.SO_BUSY_POLL, 50),
            ("PREFER", sysffi.SO_PREFER_BUSY_POLL, 1),
            ("BUDGET", sysffi.SO_BUSY_POLL_BUDGET, 64),
        ):
            try:
                s.setsockopt(socket.SOL_SOCKET, opt, val)
                done.append(name)
            except OSError as e:
                return Check(
                    False,
                    f"setsockopt {name}: {e.strerror} (sysctl busy_poll={sysctl})",
                    sysffi.errno_advice(e),
                )
    return Check(True, f"{'/'.join(done)} accepted; sysctl busy_poll={sysctl}")


def _probe_base() -> dict[str, Check]:
    return {
        "python": _check_python(),
        "kernel": _check_kernel(),
        "root": _check_root(),
        "numpy": _check_import("numpy", "pip install 'numpy>=2.0,<2.4' in the venv"),
        "click": _check_import("click", "pip install 'click>=8.1' in the venv"),
        "pyroute2": _check_import("pyroute2", "pip install 'pyroute2>=0.7' in the venv"),
        "bpf_syscall": _check_bpf_syscall(),
        "btf": _check_btf(),
        "prog_run_live": _check_prog_run_live(),
        "busy_poll": _check_busy_poll(),
    }


# ---------------------------------------------------------------------------------------------
# numba group


def _numba_cache_dir() -> str:
    env = os.environ.get("NUMBA_CACHE_DIR")
    if env:
        return env
    spec = importlib.util.find_spec("numba_kernels")
    if spec and spec.submodule_search_locations:
        return os.path.join(list(spec.submodule_search_locations)[0], "__pycache__")
    return os.path.join(tempfile.gettempdir(), "numba_cache")


def _probe_numba() -> dict[str, Check]:
    out: dict[str, Check] = {}
    try:
        t = time.monotonic()
        import numba

        def _add(a, b):
            return a + b

        jitted = numba.njit(_add)
        if jitted(2, 3) != 5:
            raise RuntimeError("JIT returned a wrong result")
        took = f"tiny JIT in {time.monotonic() - t:.2f} s"
        if os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"):
            took = "NUMBA_DISABLE_JIT set: kernels run as plain Python (slow)"
        out["numba"] = Check(True, f"numba {numba.__version__}, {took}")
    except Exception as e:
        out["numba"] = Check(
            False,
            f"numba JIT failed: {e}",
            "pip install 'numba>=0.61' in the venv (needs llvmlite)",
        )
    where = _numba_cache_dir()
    try:
        os.makedirs(where, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=where, prefix=".enatool-probe-"):
            pass
        out["numba_cache"] = Check(True, where)
    except OSError as e:
        out["numba_cache"] = Check(
            False, f"{where}: {e.strerror}", "set NUMBA_CACHE_DIR to a writable directory"
        )
    return out


# ---------------------------------------------------------------------------------------------
# bcc group


def _probe_bcc() -> dict[str, Check]:
    from enatool import bcc_headers

    out: dict[str, Check] = {}
    try:
        h = bcc_headers.use_headers()
        how = {"merged-debian": "merged", "modules-build": "/lib/modules", "env": "env"}[h.how]
        out["kernel_headers"] = Check(True, f"{h.path} ({how})")
    except CapabilityError as e:
        out["kernel_headers"] = Check(False, str(e), e.hint or "")
        out["bcc"] = Check(False, "no kernel headers", e.hint or "")
        return out
    if not _check_root().ok:
        out["bcc"] = Check(False, "loading BPF programs needs privileges", ROOT_FIX)
        return out
    try:
        r = bcc_headers.compile_test()
        out["bcc"] = Check(
            True,
            f"minimal XDP program compiled in {r.compile_s:.2f} s, "
            f"loaded in {r.load_s * 1e3:.1f} ms",
        )
    except CapabilityError as e:
        out["bcc"] = Check(False, str(e), e.hint or "")
    return out


# ---------------------------------------------------------------------------------------------
# netns group: a throwaway namespace with a veth pair; nothing survives the probe


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_netns() -> list[str]:
    """Remove probe namespaces left by processes that died (SIGKILL cannot be caught)."""
    removed = []
    try:
        names = os.listdir(NETNS_RUN_DIR)
    except OSError:
        return removed
    for name in names:
        m = re.fullmatch(PROBE_PREFIX + r"(\d+)", name)
        if m and int(m[1]) != os.getpid() and not _pid_alive(int(m[1])):
            with contextlib.suppress(OSError):
                _remove_netns(name)
                removed.append(name)
    return removed


def _remove_netns(name: str) -> None:
    from pyroute2 import netns

    netns.remove(name)


class _Terminated(BaseException):
    """SIGTERM turned into an exception so that ``finally`` blocks run."""


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """While active (main thread only), SIGTERM raises instead of killing the process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    owner = os.getpid()

    def _raise(signum, frame):
        # pyroute2 forks helpers that inherit this handler; a helper must just die, not
        # unwind the parent's stack (and its cleanup) in a copy of the process
        if os.getpid() != owner:
            os._exit(128 + signum)
        raise _Terminated(signum)

    old = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    except _Terminated:
        signal.signal(signal.SIGTERM, old)
        raise SystemExit(128 + signal.SIGTERM) from None
    finally:
        signal.signal(signal.SIGTERM, old)


@dataclass
class ScratchNet:
    """A veth pair ``a``/``b`` inside the throwaway namespace ``name``."""

    name: str
    a: str
    b: str
    a_index: int
    b_index: int


@contextlib.contextmanager
def scratch_netns() -> Iterator[ScratchNet]:
    """Create ``enaprb<pid>`` with a veth pair (both up); delete it on any exit."""
    from pyroute2 import netns

    sweep_stale_netns()
    owner = os.getpid()
    name = f"{PROBE_PREFIX}{owner}"
    a, b = f"{name}a", f"{name}b"
    created = False
    with sigterm_raises():
        try:
            with hold_signals():  # creation is short; do not leave a half-made netns
                if name in netns.listnetns():
                    _remove_netns(name)
                netns.create(name)
                created = True
            with ipr_in(name) as ipr:
                ipr.link("add", ifname=a, kind="veth", peer={"ifname": b})
                ia = ipr.link_lookup(ifname=a)[0]
                ib = ipr.link_lookup(ifname=b)[0]
                ipr.link("set", index=ia, state="up")
                ipr.link("set", index=ib, state="up")
            yield ScratchNet(name, a, b, ia, ib)
        finally:
            # only the creating process cleans up, never a forked copy of it
            if created and os.getpid() == owner:
                with hold_signals():
                    _remove_netns(name)


def _xdp_attach_test(net: ScratchNet, prog_fd: int, flags: int) -> str:
    """Attach in a mode, confirm the kernel reports it, detach. Returns the reported mode."""
    with ipr_in(net.name) as ipr:
        ipr.link(
            "set",
            index=net.a_index,
            xdp={"attrs": [("IFLA_XDP_FD", prog_fd), ("IFLA_XDP_FLAGS", flags)]},
        )
        try:
            xdp = ipr.link("get", index=net.a_index)[0].get("IFLA_XDP")
            return xdp.get("IFLA_XDP_ATTACHED") if xdp is not None else "none"
        finally:
            ipr.link(
                "set",
                index=net.a_index,
                xdp={"attrs": [("IFLA_XDP_FD", -1), ("IFLA_XDP_FLAGS", flags)]},
            )


def _in_netns(name: str, fn):
    """Run ``fn()`` in a helper thread that has entered netns ``name`` (setns is per
    thread, so the rest of the process never changes namespace). Sockets keep the
    namespace they were created in."""
    result: dict[str, object] = {}

    def run():
        try:
            with (
                open(os.path.join(NETNS_RUN_DIR, name)) as target,
                open("/proc/thread-self/ns/net") as home,
            ):
                sysffi.setns(target.fileno())
                try:
                    result["value"] = fn()
                finally:
                    sysffi.setns(home.fileno())
        except BaseException as e:  # re-raised in the caller
            result["error"] = e

    t = threading.Thread(target=run, name="enatool-netns")
    t.start()
    t.join()
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result["value"]


def xsk_bind_test(ifindex: int, flags: int, queue_id: int = 0) -> None:
    """Create an AF_XDP socket with a tiny UMEM and rings and bind it; raises OSError.

    Must run in the namespace that owns ``ifindex``. Everything is closed on return.
    """
    frames, frame_size = 16, 4096
    umem = mmap.mmap(-1, frames * frame_size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        with socket.socket(sysffi.AF_XDP, socket.SOCK_RAW, 0) as s:
            addr = ctypes_addr(umem)
            reg = sysffi.xdp_umem_reg(addr=addr, len=frames * frame_size, chunk_size=frame_size)
            s.setsockopt(sysffi.SOL_XDP, sysffi.XDP_UMEM_REG, bytes(reg))
            s.setsockopt(sysffi.SOL_XDP, sysffi.XDP_UMEM_FILL_RING, frames)
            s.setsockopt(sysffi.SOL_XDP, sysffi.XDP_UMEM_COMPLETION_RING, frames)
            s.setsockopt(sysffi.SOL_XDP, sysffi.XDP_RX_RING, frames)
            s.setsockopt(sysffi.SOL_XDP, sysffi.XDP_TX_RING, frames)
            sysffi.xsk_bind(s.fileno(), ifindex, queue_id, flags)
    finally:
        umem.close()


def ctypes_addr(buf: mmap.mmap) -> int:
    """Address of an mmap's memory (the kernel pins the pages at XDP_UMEM_REG)."""
    import ctypes

    c = ctypes.c_char.from_buffer(buf)
    try:
        return ctypes.addressof(c)
    finally:
        del c


def _af_xdp_test(net: ScratchNet) -> Check:
    def run() -> Check:
        try:
            socket.socket(sysffi.AF_XDP, socket.SOCK_RAW, 0).close()
        except OSError as e:
            return Check(False, f"socket(AF_XDP): {e.strerror}", sysffi.errno_advice(e))
        # zero-copy first: a failed bind leaves nothing behind, while a released copy-mode
        # socket frees its queue asynchronously (an immediate second bind sees EBUSY)
        try:
            xsk_bind_test(net.a_index, sysffi.XDP_ZEROCOPY)
            zc = "zero-copy also binds on veth"
        except OSError as e:
            if e.errno != errno.EOPNOTSUPP:
                return Check(
                    False,
                    f"zero-copy bind on veth: {e.strerror} (expected EOPNOTSUPP)",
                    sysffi.errno_advice(e),
                )
            zc = "zero-copy EOPNOTSUPP on veth as expected"
        try:
            xsk_bind_test(net.a_index, sysffi.XDP_COPY)
        except OSError as e:
            return Check(False, f"copy-mode bind on veth: {e.strerror}", sysffi.errno_advice(e))
        return Check(True, f"copy-mode bind OK; {zc}")

    return _in_netns(net.name, run)


def _probe_netns() -> dict[str, Check]:
    names = ("netns", "xdp_native", "xdp_generic", "af_xdp")
    root = _check_root()
    if not root.ok:
        return {n: Check(False, "needs privileges", ROOT_FIX) for n in names}
    try:
        import pyroute2  # noqa: F401
    except ImportError as e:
        return {n: Check(False, f"pyroute2 missing ({e})", "pip install pyroute2") for n in names}
    out: dict[str, Check] = {}
    t0 = time.monotonic()
    try:
        prog_fd = sysffi.bpf_prog_load_xdp()
    except OSError as e:
        prog_fd = -1
        bpf_err = Check(False, f"cannot load a program: {e.strerror}", sysffi.errno_advice(e))
    try:
        with scratch_netns() as net:
            out["netns"] = Check(True, f"{net.name} + veth pair made")
            for name, flags, want in (
                ("xdp_native", sysffi.XDP_FLAGS_DRV_MODE, "xdp"),
                ("xdp_generic", sysffi.XDP_FLAGS_SKB_MODE, "xdpgeneric"),
            ):
                if prog_fd < 0:
                    out[name] = bpf_err
                    continue
                try:
                    got = _xdp_attach_test(net, prog_fd, flags)
                    out[name] = (
                        Check(True, f"attached as {got} on veth, detached")
                        if got == want
                        else Check(
                            False, f"kernel reports {got!r}, wanted {want!r}", "report this kernel"
                        )
                    )
                except Exception as e:
                    code = getattr(e, "code", None) or getattr(e, "errno", None)
                    out[name] = Check(False, f"attach failed: {e}", sysffi.errno_advice(code or 0))
            out["af_xdp"] = _af_xdp_test(net)
    except OSError as e:
        for n in names:
            out.setdefault(n, Check(False, f"netns/veth setup failed: {e}", sysffi.errno_advice(e)))
    finally:
        if prog_fd >= 0:
            os.close(prog_fd)
    if out["netns"].ok:
        took = f" and removed in {time.monotonic() - t0:.2f} s"
        out["netns"] = dataclasses.replace(out["netns"], detail=out["netns"].detail + took)
    return out


# ---------------------------------------------------------------------------------------------
# iface group: read-only questions about a real interface


def _probe_iface(iface: str) -> dict[str, Check]:
    from enatool import netdev

    dev = netdev.lookup(iface)  # InterfaceError propagates: an unknown name is a usage error
    route = " default route," if netdev.carries_default_route(iface) else ""
    out = {
        "iface": Check(
            True,
            f"{iface} #{dev.index} {dev.driver or '?'} {'up' if dev.up else 'down'}, "
            f"{dev.num_rx_queues}/{dev.num_tx_queues} queues,{route} "
            f"XDP {dev.xdp_attached or 'none'}",
        ),
    }
    try:
        feats = netdev.xdp_features(dev.index)
    except Exception as e:
        feats = None
        why = f"netdev netlink query failed: {e}"
    else:
        why = "kernel lacks the netdev netlink family (Linux < 6.3): unknown"
    if feats is None:
        out["iface_xdp_native"] = Check(False, why, "try: enatool doctor on Linux 6.3+")
        out["iface_zerocopy"] = Check(False, why, "copy mode (-C copy) still works")
        return out
    listed = ", ".join(k for k, v in feats.items() if v) or "none"
    drv = dev.driver or "this driver"
    out["iface_xdp_native"] = (
        Check(True, f"{drv} advertises: {listed}")
        if feats["basic"]
        else Check(False, f"{drv} has no native XDP", "xdpgeneric mode (-A skb) still works")
    )
    out["iface_zerocopy"] = (
        Check(True, f"{drv} advertises xsk_zerocopy")
        if feats["xsk_zerocopy"]
        else Check(
            False,
            f"{drv} does not advertise xsk_zerocopy",
            "copy mode (-C copy) works; ena needs driver 2.9+ / Linux 6.x for zero-copy",
        )
    )
    return out


# ---------------------------------------------------------------------------------------------
# the probe

_CACHE: dict[tuple[str, str | None], dict[str, Check]] = {}
_LOCK = threading.RLock()


def _run_group(group: str, iface: str | None) -> dict[str, Check]:
    key = (group, iface if group == "iface" else None)
    with _LOCK:
        if key not in _CACHE:
            if group == "base":
                _CACHE[key] = _probe_base()
            elif group == "numba":
                _CACHE[key] = _probe_numba()
            elif group == "bcc":
                _CACHE[key] = _probe_bcc()
            elif group == "netns":
                _CACHE[key] = _probe_netns()
            elif group == "iface":
                _CACHE[key] = _probe_iface(iface)  # type: ignore[arg-type]
        return _CACHE[key]


def probe(iface: str | None = None, quick: bool = False, only=None) -> Caps:
    """Run the checks and return the record (cached per process).

    ``quick`` skips the expensive groups (netns, bcc, numba); ``only`` names the checks you
    need and runs just their groups. ``iface`` adds read-only checks of that interface and
    raises InterfaceError if it does not exist.
    """
    if only is not None:
        unknown = [n for n in only if n not in CHECKS]
        if unknown:
            raise KeyError(f"unknown capability {unknown}; known: {', '.join(CHECKS)}")
        groups = {CHECKS[n][0] for n in only}
        if "iface" in groups and iface is None:
            raise ValueError("interface checks need iface=")
    else:
        groups = {g for g in GROUPS if not (quick and g in EXPENSIVE)}
        if iface is None:
            groups.discard("iface")
    fields: dict[str, Check] = {}
    for g in GROUPS:
        if g in groups:
            fields.update(_run_group(g, iface))
    if "iface" in fields:
        fields["iface_check"] = fields.pop("iface")
    return Caps(iface=iface, **fields)


def reset_cache() -> None:
    """Forget cached results (tests; or after the user fixed something)."""
    with _LOCK:
        _CACHE.clear()


def require(*names: str, iface: str | None = None) -> Caps:
    """Probe what ``names`` need; raise CapabilityError naming every missing item."""
    caps = probe(iface=iface, only=names)
    missing = caps.missing(*names)
    if missing:
        what = "; ".join(f"{n}: {c.detail}" for n, c in missing)
        fixes = "; ".join(dict.fromkeys(c.fix for _, c in missing if c.fix))
        raise CapabilityError(
            f"this needs {', '.join(n for n, _ in missing)} ({what})", hint=fixes or None
        )
    return caps
