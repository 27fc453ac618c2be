"""Every ctypes/syscall prototype enatool uses, in one place.

Why one module: the numbers and struct layouts below are copied from the kernel UAPI headers
(``linux/bpf.h``, ``linux/if_xdp.h``, ``asm-generic/socket.h``, x86-64 syscall table, as of
Linux 6.x) and must be reviewed together. The capability probe uses ``bpf_prog_load`` and
``bpf_prog_test_run``; the AF_XDP engine will use the XDP structs and will extend this file.
Nothing here allocates long-lived resources: callers own the returned fds.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform

# ---------------------------------------------------------------------------------------------
# libc and syscall numbers (x86-64 is the target; aarch64 numbers kept for Graviton hosts)

_SYSCALLS = {
    "x86_64": {"bpf": 321, "setns": 308},
    "aarch64": {"bpf": 280, "setns": 268},
}
SYS_bpf = _SYSCALLS.get(platform.machine(), _SYSCALLS["x86_64"])["bpf"]
SYS_setns = _SYSCALLS.get(platform.machine(), _SYSCALLS["x86_64"])["setns"]

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.bind.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32]
libc.bind.restype = ctypes.c_int
libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
libc.setns.restype = ctypes.c_int

CLONE_NEWNET = 0x40000000

# ---------------------------------------------------------------------------------------------
# bpf(2)

BPF_MAP_CREATE = 0
BPF_PROG_LOAD = 5
BPF_OBJ_GET_INFO_BY_FD = 15
BPF_PROG_TEST_RUN = 10  # a.k.a. BPF_PROG_RUN
BPF_LINK_CREATE = 28
BPF_LINK_UPDATE = 29
BPF_LINK_DETACH = 34

BPF_PROG_TYPE_XDP = 6
BPF_XDP = 37  # enum bpf_attach_type, for BPF_LINK_CREATE

BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1

# XDP actions
XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT = range(5)

# IFLA_XDP_FLAGS / BPF_LINK_CREATE flags for XDP
XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0
XDP_FLAGS_SKB_MODE = 1 << 1  # "xdpgeneric"
XDP_FLAGS_DRV_MODE = 1 << 2  # "xdp" (native)
XDP_FLAGS_HW_MODE = 1 << 3
XDP_FLAGS_REPLACE = 1 << 4

BPF_ATTR_SIZE = 144  # larger than any command we use; the kernel requires the tail to be zero


class bpf_insn(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint8),
        ("regs", ctypes.c_uint8),  # dst_reg:4 (low), src_reg:4 (high)
        ("off", ctypes.c_int16),
        ("imm", ctypes.c_int32),
    ]


class bpf_attr_prog_load(ctypes.Structure):
    _fields_ = [
        ("prog_type", ctypes.c_uint32),
        ("insn_cnt", ctypes.c_uint32),
        ("insns", ctypes.c_uint64),
        ("license", ctypes.c_uint64),
        ("log_level", ctypes.c_uint32),
        ("log_size", ctypes.c_uint32),
        ("log_buf", ctypes.c_uint64),
        ("kern_version", ctypes.c_uint32),
        ("prog_flags", ctypes.c_uint32),
        ("prog_name", ctypes.c_char * 16),
        ("prog_ifindex", ctypes.c_uint32),
        ("expected_attach_type", ctypes.c_uint32),
    ]


class bpf_attr_test_run(ctypes.Structure):
    _fields_ = [
        ("prog_fd", ctypes.c_uint32),
        ("retval", ctypes.c_uint32),
        ("data_size_in", ctypes.c_uint32),
        ("data_size_out", ctypes.c_uint32),
        ("data_in", ctypes.c_uint64),
        ("data_out", ctypes.c_uint64),
        ("repeat", ctypes.c_uint32),
        ("duration", ctypes.c_uint32),
        ("ctx_size_in", ctypes.c_uint32),
        ("ctx_size_out", ctypes.c_uint32),
        ("ctx_in", ctypes.c_uint64),
        ("ctx_out", ctypes.c_uint64),
        ("flags", ctypes.c_uint32),
        ("cpu", ctypes.c_uint32),
        ("batch_size", ctypes.c_uint32),
    ]


class bpf_attr_link_create(ctypes.Structure):
    _fields_ = [
        ("prog_fd", ctypes.c_uint32),
        ("target_ifindex", ctypes.c_uint32),
        ("attach_type", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
    ]


def bpf(cmd: int, attr: ctypes.Structure) -> int:
    """Raw bpf(2). Returns the syscall result; raises OSError with errno on failure."""
    buf = ctypes.create_string_buffer(BPF_ATTR_SIZE)
    ctypes.memmove(buf, ctypes.addressof(attr), ctypes.sizeof(attr))
    ret = libc.syscall(SYS_bpf, ctypes.c_int(cmd), buf, ctypes.c_uint(BPF_ATTR_SIZE))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bpf(cmd={cmd}): {os.strerror(err)}")
    ctypes.memmove(ctypes.addressof(attr), buf, ctypes.sizeof(attr))
    return ret


def trivial_xdp_insns(action: int = XDP_PASS) -> bytes:
    """``r0 = action; exit`` — the smallest valid XDP program."""
    mov = bpf_insn(code=0xB7, regs=0, off=0, imm=action)  # BPF_ALU64 | BPF_MOV | BPF_K, r0
    ex = bpf_insn(code=0x95, regs=0, off=0, imm=0)  # BPF_JMP | BPF_EXIT
    return bytes(mov) + bytes(ex)


def bpf_prog_load_xdp(insns: bytes | None = None, name: bytes = b"enatool_probe") -> int:
    """Load an XDP program from raw instructions; returns its fd (caller closes it).

    On EACCES/EINVAL the verifier log is attached to the OSError message.
    """
    insns = trivial_xdp_insns() if insns is None else insns
    ibuf = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(4096)
    attr = bpf_attr_prog_load(
        prog_type=BPF_PROG_TYPE_XDP,
        insn_cnt=len(insns) // ctypes.sizeof(bpf_insn),
        insns=ctypes.addressof(ibuf),
        license=ctypes.addressof(lic),
        log_level=1,
        log_size=len(log),
        log_buf=ctypes.addressof(log),
        prog_name=name[:15],
    )
    try:
        return bpf(BPF_PROG_LOAD, attr)
    except OSError as e:
        if e.errno == errno.ENOSPC:  # log too small: retry without a log
            attr.log_level, attr.log_size, attr.log_buf = 0, 0, 0
            return bpf(BPF_PROG_LOAD, attr)
        text = log.value.decode(errors="replace").strip()
        if text:
            raise OSError(e.errno, f"{e.strerror}; verifier: {text[-300:]}") from None
        raise


def bpf_prog_test_run_xdp(
    prog_fd: int, frame: bytes, repeat: int = 1, live_frames: bool = False
) -> tuple[int, int]:
    """BPF_PROG_RUN an XDP program on ``frame``; returns (retval, duration_ns per run).

    With ``live_frames`` the kernel really acts on the verdict (XDP_TX transmits), which is
    why the probe only runs it with an XDP_DROP program.
    """
    data = ctypes.create_string_buffer(frame, len(frame))
    attr = bpf_attr_test_run(
        prog_fd=prog_fd,
        data_size_in=len(frame),
        data_in=ctypes.addressof(data),
        repeat=repeat,
        flags=BPF_F_TEST_XDP_LIVE_FRAMES if live_frames else 0,
    )
    bpf(BPF_PROG_TEST_RUN, attr)
    return attr.retval, attr.duration


class xdp_md(ctypes.Structure):
    """``struct xdp_md`` as BPF_PROG_RUN's ``ctx_in`` (data offsets, ingress device/queue)."""

    _fields_ = [
        ("data", ctypes.c_uint32),
        ("data_end", ctypes.c_uint32),
        ("data_meta", ctypes.c_uint32),
        ("ingress_ifindex", ctypes.c_uint32),
        ("rx_queue_index", ctypes.c_uint32),
        ("egress_ifindex", ctypes.c_uint32),
    ]


def bpf_prog_run_xdp_live(prog_fd: int, frame, repeat: int, ifindex: int, queue: int = 0,
                          batch_size: int = 0) -> None:
    """BPF_PROG_RUN ``frame`` (a ctypes buffer) ``repeat`` times as live frames received
    on ``ifindex``/``queue`` (resolved in the calling thread's netns): XDP_TX transmits
    out of that interface. OSError EINTR when a signal cut the run short."""
    ctx = xdp_md(data=0, data_end=len(frame), ingress_ifindex=ifindex, rx_queue_index=queue)
    attr = bpf_attr_test_run(
        prog_fd=prog_fd, data_size_in=len(frame), data_in=ctypes.addressof(frame),
        repeat=repeat, ctx_size_in=ctypes.sizeof(ctx), ctx_in=ctypes.addressof(ctx),
        flags=BPF_F_TEST_XDP_LIVE_FRAMES, batch_size=batch_size)
    bpf(BPF_PROG_TEST_RUN, attr)


def setns(fd: int, nstype: int = CLONE_NEWNET) -> None:
    """setns(2) for the calling thread only (Python's os.setns exists only from 3.12)."""
    if libc.setns(fd, nstype) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


# ---------------------------------------------------------------------------------------------
# AF_XDP (linux/if_xdp.h)

AF_XDP = 44
SOL_XDP = 283

XDP_MMAP_OFFSETS = 1
XDP_RX_RING = 2
XDP_TX_RING = 3
XDP_UMEM_REG = 4
XDP_UMEM_FILL_RING = 5
XDP_UMEM_COMPLETION_RING = 6
XDP_STATISTICS = 7
XDP_OPTIONS = 8
XDP_MAX_TX_SKB_BUDGET = 9

# sockaddr_xdp.sxdp_flags
XDP_SHARED_UMEM = 1 << 0
XDP_COPY = 1 << 1
XDP_ZEROCOPY = 1 << 2
XDP_USE_NEED_WAKEUP = 1 << 3
XDP_USE_SG = 1 << 4

# xdp_umem_reg.flags
XDP_UMEM_UNALIGNED_CHUNK_FLAG = 1 << 0

# xdp_options.flags
XDP_OPTIONS_ZEROCOPY = 1 << 0

# ring flags word
XDP_RING_NEED_WAKEUP = 1 << 0

# mmap page offsets of the four rings
XDP_PGOFF_RX_RING = 0
XDP_PGOFF_TX_RING = 0x80000000
XDP_UMEM_PGOFF_FILL_RING = 0x100000000
XDP_UMEM_PGOFF_COMPLETION_RING = 0x180000000


class sockaddr_xdp(ctypes.Structure):
    _fields_ = [
        ("sxdp_family", ctypes.c_uint16),
        ("sxdp_flags", ctypes.c_uint16),
        ("sxdp_ifindex", ctypes.c_uint32),
        ("sxdp_queue_id", ctypes.c_uint32),
        ("sxdp_shared_umem_fd", ctypes.c_uint32),
    ]


class xdp_umem_reg(ctypes.Structure):
    _fields_ = [
        ("addr", ctypes.c_uint64),
        ("len", ctypes.c_uint64),
        ("chunk_size", ctypes.c_uint32),
        ("headroom", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("tx_metadata_len", ctypes.c_uint32),  # 6.8+; must be 0 on older kernels
    ]


class xdp_ring_offset(ctypes.Structure):
    _fields_ = [
        ("producer", ctypes.c_uint64),
        ("consumer", ctypes.c_uint64),
        ("desc", ctypes.c_uint64),
        ("flags", ctypes.c_uint64),
    ]


class xdp_mmap_offsets(ctypes.Structure):
    _fields_ = [
        ("rx", xdp_ring_offset),
        ("tx", xdp_ring_offset),
        ("fr", xdp_ring_offset),  # fill ring
        ("cr", xdp_ring_offset),  # completion ring
    ]


class xdp_desc(ctypes.Structure):
    _fields_ = [("addr", ctypes.c_uint64), ("len", ctypes.c_uint32), ("options", ctypes.c_uint32)]


class xdp_statistics(ctypes.Structure):
    _fields_ = [
        ("rx_dropped", ctypes.c_uint64),
        ("rx_invalid_descs", ctypes.c_uint64),
        ("tx_invalid_descs", ctypes.c_uint64),
        ("rx_ring_full", ctypes.c_uint64),
        ("rx_fill_ring_empty_descs", ctypes.c_uint64),
        ("tx_ring_empty_descs", ctypes.c_uint64),
    ]


def xsk_bind(fd: int, ifindex: int, queue_id: int = 0, flags: int = 0) -> None:
    """bind(2) an AF_XDP socket; Python's socket module cannot build a sockaddr_xdp."""
    sa = sockaddr_xdp(AF_XDP, flags, ifindex, queue_id, 0)
    if libc.bind(fd, ctypes.byref(sa), ctypes.sizeof(sa)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bind(AF_XDP): {os.strerror(err)}")


# ---------------------------------------------------------------------------------------------
# socket options (asm-generic/socket.h)

SO_BUSY_POLL = 46
SO_PREFER_BUSY_POLL = 69
SO_BUSY_POLL_BUDGET = 70


# ---------------------------------------------------------------------------------------------
# errno -> advice (bcc-tools style: tell the user what to do, not only what failed)

_ADVICE = {
    errno.EPERM: "run as root (or grant CAP_BPF + CAP_NET_ADMIN)",
    errno.EACCES: "the verifier or a permission check refused it; run as root and check the "
    "value range",
    errno.ENOMEM: "raise the locked-memory limit (ulimit -l unlimited) or use smaller rings",
    errno.EOPNOTSUPP: "the driver does not support this mode; use copy / xdpgeneric mode",
    errno.EBUSY: "another XDP program or AF_XDP socket already uses this interface/queue; "
    "detach it (ip link set dev IFACE xdp off) or pick another queue",
    errno.EEXIST: "an XDP program is already attached; detach it first",
    errno.ENODEV: "no such interface (check `ip link`)",
    errno.ENOENT: "not found (kernel feature missing or object gone)",
    errno.EINVAL: "the kernel rejected the arguments; it may be too old for this feature",
    errno.ENOSYS: "the kernel lacks this system call (CONFIG_BPF_SYSCALL)",
    errno.EAFNOSUPPORT: "the kernel lacks AF_XDP (CONFIG_XDP_SOCKETS)",
    errno.E2BIG: "the value is larger than the kernel accepts",
}


def errno_advice(err: int | OSError) -> str:
    """A one-line fix for an errno (or an OSError carrying one)."""
    code = err.errno if isinstance(err, OSError) else err
    return _ADVICE.get(code or 0, f"unexpected {errno.errorcode.get(code or 0, code)}")


# ---------------------------------------------------------------------------------------------
# BPF links (additive: used by the afxdp backend to attach XDP programs that the kernel
# detaches by itself when the last fd of the link closes, i.e. when the process dies)


def bpf_link_create_xdp(prog_fd: int, ifindex: int, flags: int = 0) -> int:
    """BPF_LINK_CREATE with attach type BPF_XDP; ``ifindex`` is resolved in the calling
    thread's network namespace. Returns the link fd (closing it detaches)."""
    attr = bpf_attr_link_create(prog_fd=prog_fd, target_ifindex=ifindex, attach_type=BPF_XDP,
                                flags=flags)
    return bpf(BPF_LINK_CREATE, attr)


# ---------------------------------------------------------------------------------------------
# libc entry points handed to numba kernels as ctypes function pointers (kernels cannot
# capture them as globals: the on-disk cache freezes globals)


def _libc_fn(name: str, restype, *argtypes):
    fn = getattr(ctypes.CDLL(None, use_errno=True), name)
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


def libc_sendto():
    """``ssize_t sendto(int, const void *, size_t, int, const void *, socklen_t)``."""
    return _libc_fn("sendto", ctypes.c_ssize_t, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t,
                    ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32)


def libc_recvfrom():
    """``ssize_t recvfrom(int, void *, size_t, int, void *, void *)``."""
    return _libc_fn("recvfrom", ctypes.c_ssize_t, ctypes.c_int, ctypes.c_void_p,
                    ctypes.c_size_t, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


def libc_poll():
    """``int poll(struct pollfd *, nfds_t, int)``."""
    return _libc_fn("poll", ctypes.c_int, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int)


def libc_clock_gettime():
    """``int clock_gettime(clockid_t, struct timespec *)``."""
    return _libc_fn("clock_gettime", ctypes.c_int, ctypes.c_int, ctypes.c_void_p)


def libc_sendmmsg():
    """``int sendmmsg(int, struct mmsghdr *, unsigned int, int)``."""
    return _libc_fn("sendmmsg", ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_uint,
                    ctypes.c_int)
