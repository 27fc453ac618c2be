"""XDP program life cycle: compile (bcc) -> load -> attach in the interface's own netns.

Why a BPF link first: an XDP program attached through ``BPF_LINK_CREATE`` (Linux 5.9+)
stays attached only while the link fd is open, so a process killed with SIGKILL leaves
nothing behind. The syscall resolves the ifindex in the calling thread's network namespace,
so for an interface in another namespace a short-lived helper thread ``setns``-es there
first (setns(CLONE_NEWNET) changes only the calling thread). Kernels without XDP links get
the netlink attach (pyroute2, ``IFLA_XDP``) with a detach in ``finally`` and on SIGTERM.

Modes follow xdp-tools' ``-A``: ``native`` (driver mode, ``xdp``), ``skb`` (generic,
``xdpgeneric``), ``auto`` (native, else generic with a warning). An interface that already
has an XDP program is refused, naming the program id, unless ``replace=True``; the one that
carries the default route is refused unless ``force=True`` (``netdev.check_safe``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from enatool import netdev, sysffi
from enatool.errors import CapabilityError, DeviceError, InterfaceError, UsageError

BPF_DIR = Path(__file__).resolve().parents[3] / "bpf"
PROGRAMS = ("xsk_redirect", "drop_count", "xdp_live_tx")
MAX_QUEUES = 64  # ENAT_MAX_QUEUES in bpf/include/enat_parse.h
QSTATS_FIELDS = ("rx_packets", "rx_bytes", "redirected", "passed", "dropped")
MODES = {"native": sysffi.XDP_FLAGS_DRV_MODE, "skb": sysffi.XDP_FLAGS_SKB_MODE}
NETNS_DIR = "/run/netns"

# xsk_redirect's filter flags (bpf/xsk_redirect.c)
FILTER_PROTO = 1 << 0
FILTER_SPORT = 1 << 1
FILTER_DPORT = 1 << 2
FILTER_SADDR = 1 << 3
FILTER_DADDR = 1 << 4
FILTER_IPV6 = 1 << 5
FILTER_DROP_UNBOUND = 1 << 6


def run_in_netns(netns: str | None, fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn(*args)`` in a helper thread that entered ``netns`` (None: call directly).

    Sockets and BPF links created there belong to that namespace; their fds stay usable
    from every thread of the process.
    """
    if not netns:
        return fn(*args)
    box: dict[str, Any] = {}

    def body() -> None:
        try:
            fd = os.open(os.path.join(NETNS_DIR, netns), os.O_RDONLY | os.O_CLOEXEC)
            try:
                sysffi.setns(fd)
            finally:
                os.close(fd)
            box["value"] = fn(*args)
        except BaseException as e:  # handed to the caller's thread
            box["error"] = e

    t = threading.Thread(target=body, name=f"netns-{netns}", daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class XdpProgram:
    """One XDP function of ``bpf/`` compiled by bcc and loaded (not attached). Closes with
    ``close()``; maps are reachable as ``prog.bpf[name]``.

    ``name`` is the function; ``src`` the file (``bpf/<src>.c``) when it is not named after
    its function (``XdpProgram("lat_steer", {...}, src="latency")``). Without ``src``,
    ``name`` must be one of ``PROGRAMS``. ``defines`` become ``-Dk=v`` in that order.
    """

    def __init__(self, name: str, defines: dict[str, int] | None = None,
                 src: str | None = None):
        if src is None:
            if name not in PROGRAMS:
                raise UsageError(f"unknown XDP program {name!r}", hint=f"one of {PROGRAMS}")
            src, what = name, f"bpf/{name}.c"
        else:
            if not (BPF_DIR / f"{src}.c").is_file():
                raise UsageError(f"no XDP program file bpf/{src}.c")
            what = f"{name} of bpf/{src}.c"
        from enatool.bcc_headers import use_headers

        use_headers()
        try:
            from bcc import BPF
        except ImportError as e:
            raise CapabilityError(f"bcc is not importable ({e})",
                                  hint="apt-get install python3-bpfcc libbpfcc") from None
        cflags = [f"-I{BPF_DIR / 'include'}", f"-DENAT_MAX_QUEUES={MAX_QUEUES}"]
        cflags += [f"-D{k}={int(v)}" for k, v in (defines or {}).items()]
        self.name = name
        try:
            self.bpf = BPF(src_file=str(BPF_DIR / f"{src}.c").encode(), cflags=cflags)
        except Exception as e:
            raise CapabilityError(f"bcc could not compile bpf/{src}.c: {e}",
                                  hint="check kernel headers with `enatool doctor`") from None
        try:
            self.fd = self.bpf.load_func(name.encode(), BPF.XDP).fd
        except Exception as e:
            self.bpf.cleanup()
            raise CapabilityError(f"the kernel refused {what}: {e}",
                                  hint="run as root") from None

    def qstats(self, queues: int = MAX_QUEUES) -> np.ndarray:
        """Per-Rx-queue counters ``int64[queues, 5]`` (QSTATS_FIELDS), CPUs summed."""
        out = np.zeros((queues, len(QSTATS_FIELDS)), np.int64)
        table = self.bpf[b"qstats"]
        for q in range(min(queues, MAX_QUEUES)):
            for leaf in table[table.Key(q)]:
                out[q] += np.array([getattr(leaf, f) for f in QSTATS_FIELDS], np.int64)
        return out

    def set_filter(self, flags: int = 0, proto: int = 0, sport: int = 0, dport: int = 0,
                   saddr: bytes = b"", daddr: bytes = b"") -> None:
        """Write xsk_redirect's 5-tuple filter (ports host order, addresses packed)."""
        table = self.bpf[b"filter"]
        leaf = table.Leaf()
        leaf.flags, leaf.proto = flags, proto
        leaf.sport = int.from_bytes(sport.to_bytes(2, "big"), sys.byteorder)
        leaf.dport = int.from_bytes(dport.to_bytes(2, "big"), sys.byteorder)
        for name, raw in (("saddr", saddr), ("daddr", daddr)):
            words = np.frombuffer(raw.ljust(16, b"\0"), np.uint32)
            arr = getattr(leaf, name)
            for i in range(4):
                arr[i] = int(words[i])
        table[table.Key(0)] = leaf

    def set_xsk(self, queue: int, fd: int) -> None:
        """Point XSKMAP slot ``queue`` at an AF_XDP socket."""
        table = self.bpf[b"xsks"]
        table[table.Key(queue)] = table.Leaf(fd)

    def close(self) -> None:
        bpf, self.bpf = getattr(self, "bpf", None), None
        if bpf is not None:
            bpf.cleanup()

    def __enter__(self) -> XdpProgram:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def xdp_state(ifname: str, netns: str | None = None) -> tuple[str | None, int]:
    """(attach mode as the kernel names it, program id) of ``ifname``; (None, 0) if none."""
    with netdev.ipr(netns) as ipr:
        idx = ipr.link_lookup(ifname=ifname)
        if not idx:
            raise InterfaceError(f"no interface named {ifname}")
        link = ipr.link("get", index=idx[0])[0]
    xdp = link.get("IFLA_XDP")
    if xdp is None:
        return None, 0
    attached = xdp.get("IFLA_XDP_ATTACHED")
    prog_id = xdp.get("IFLA_XDP_PROG_ID") or xdp.get("IFLA_XDP_DRV_PROG_ID") or \
        xdp.get("IFLA_XDP_SKB_PROG_ID") or 0
    if attached in (None, "none", 0) and not prog_id:
        return None, 0
    return str(attached), int(prog_id)


def _netlink_set(ifname: str, netns: str | None, fd: int, flags: int) -> None:
    with netdev.ipr(netns) as ipr:
        idx = ipr.link_lookup(ifname=ifname)[0]
        ipr.link("set", index=idx, xdp={"attrs": [("IFLA_XDP_FD", fd),
                                                   ("IFLA_XDP_FLAGS", flags)]})


def _warn(msg: str) -> None:
    print(f"enatool: warning: {msg}", file=sys.stderr)


class XdpAttach:
    """Context manager: ``prog_fd`` attached to ``ifname`` (in ``netns``) while inside.

    After ``__enter__``: ``mode`` is 'native' or 'skb', ``how`` is 'link' or 'netlink',
    ``prog_id`` the kernel's id for the attached program.
    """

    def __init__(self, prog_fd: int, ifname: str, netns: str | None = None,
                 mode: str = "auto", replace: bool = False, force: bool = False,
                 use_link: bool = True, warn: Callable[[str], None] = _warn):
        if mode not in ("native", "skb", "auto"):
            raise UsageError(f"unknown XDP mode {mode!r}", hint="use native, skb or auto")
        self.prog_fd, self.ifname, self.netns = prog_fd, ifname, netns
        self.want, self.replace, self.force = mode, replace, force
        self.use_link, self.warn = use_link, warn
        self.mode: str | None = None
        self.how: str | None = None
        self.prog_id = 0
        self._link_fd = -1
        self._old_sigterm: Any = None

    # -- attach -------------------------------------------------------------------------------
    def __enter__(self) -> XdpAttach:
        dev = netdev.check_safe(self.ifname, self.force, self.netns)
        self.ifindex = dev.index
        attached, prog_id = xdp_state(self.ifname, self.netns)
        if prog_id:
            if not self.replace:
                raise InterfaceError(
                    f"{self.ifname} already has XDP program id {prog_id} attached "
                    f"({attached}); pass replace=True (--replace) to take it over",
                    hint=f"inspect it with `bpftool prog show id {prog_id}`")
            self._detach_foreign(attached, prog_id)
        try:
            self._attach()
        except BaseException:
            self.close()
            raise
        self.prog_id = xdp_state(self.ifname, self.netns)[1]
        return self

    def _detach_foreign(self, attached: str | None, prog_id: int) -> None:
        flags = sysffi.XDP_FLAGS_SKB_MODE if attached == "xdpgeneric" else \
            sysffi.XDP_FLAGS_DRV_MODE
        try:
            _netlink_set(self.ifname, self.netns, -1, flags)
        except Exception as e:
            raise InterfaceError(
                f"cannot detach XDP program id {prog_id} from {self.ifname} ({e}): a BPF link "
                "of another process holds it", hint="stop the process that owns the link "
                "(`bpftool link show` names it)") from None
        if xdp_state(self.ifname, self.netns)[1]:
            raise InterfaceError(f"XDP program id {prog_id} is still attached to {self.ifname}",
                                 hint="stop the process that owns it")

    def _attach(self) -> None:
        modes = ["native", "skb"] if self.want == "auto" else [self.want]
        last: OSError | None = None
        for i, mode in enumerate(modes):
            try:
                self._attach_mode(mode)
                self.mode = mode
                if i > 0:
                    self.warn(f"{self.ifname}: native XDP refused ({last.strerror if last else '?'}"
                              "); using generic (skb) mode, which is slower")
                return
            except OSError as e:
                last = e
                if e.errno in (errno.EEXIST, errno.EBUSY):
                    break
        assert last is not None
        raise DeviceError(f"cannot attach XDP to {self.ifname} in {self.want} mode: "
                          f"{last.strerror}", hint=sysffi.errno_advice(last))

    def _attach_mode(self, mode: str) -> None:
        flags = MODES[mode]
        if self.use_link:
            try:
                self._link_fd = run_in_netns(self.netns, sysffi.bpf_link_create_xdp,
                                             self.prog_fd, self.ifindex, flags)
                self.how = "link"
                return
            except OSError as e:
                # EINVAL with a valid mode: a kernel without XDP links (< 5.9)
                if e.errno != errno.EINVAL or mode == "native":
                    raise
        self._netlink_attach(flags)

    def _netlink_attach(self, flags: int) -> None:
        try:
            _netlink_set(self.ifname, self.netns, self.prog_fd,
                         flags | sysffi.XDP_FLAGS_UPDATE_IF_NOEXIST)
        except Exception as e:
            code = getattr(e, "code", None) or getattr(e, "errno", None) or errno.EINVAL
            raise OSError(code, os.strerror(code)) from None
        self.how = "netlink"
        self._netlink_flags = flags
        if threading.current_thread() is threading.main_thread():
            # a netlink attach outlives the process: turn SIGTERM into an exception so the
            # `finally`/`__exit__` of the owner detaches (SIGKILL cannot be helped here)
            def _term(signum: int, frame: Any) -> None:
                raise SystemExit(128 + signum)

            self._old_sigterm = signal.signal(signal.SIGTERM, _term)

    # -- detach -------------------------------------------------------------------------------
    def close(self) -> None:
        """Detach (idempotent)."""
        if self._link_fd >= 0:
            fd, self._link_fd = self._link_fd, -1
            os.close(fd)
        if self.how == "netlink":
            self.how = None
            with contextlib.suppress(Exception):
                _netlink_set(self.ifname, self.netns, -1, self._netlink_flags)
            if self._old_sigterm is not None:
                with contextlib.suppress(ValueError):
                    signal.signal(signal.SIGTERM, self._old_sigterm)
                self._old_sigterm = None

    def __exit__(self, *exc: Any) -> None:
        self.close()
