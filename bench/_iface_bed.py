"""Shared pieces of bench/tx_pps.py and bench/rx_pps.py: the veth test bed in two namespaces
(tests/conftest.TestBed), the peer counter (bpf/drop_count.c in native XDP), dpdk-testpmd
over net_af_xdp, and `enatool gen/sink` as subprocesses. Each measurement runs the sender,
waits until the peer sees frames, skips a short warm-up and counts over a fixed window."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
ENATOOL = str(pathlib.Path(sys.executable).with_name("enatool"))
TESTPMD_PKGS = ("dpdk", "dpdk-dev", "librte-net-af-xdp23")  # dpdk-testpmd is in dpdk-dev


def ensure_testpmd() -> str | None:
    """dpdk-testpmd's path; installs the Debian packages when missing (root + apt)."""
    exe = shutil.which("dpdk-testpmd")
    if exe:
        return exe
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"installing {' '.join(TESTPMD_PKGS)} ...", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-qq", *TESTPMD_PKGS],
                       capture_output=True)
        exe = shutil.which("dpdk-testpmd")
    if not exe:
        print(f"dpdk-testpmd missing: apt-get install {' '.join(TESTPMD_PKGS)}",
              file=sys.stderr)
    return exe


def make_bed(tag: str, queues: int):
    from conftest import TestBed

    bed = TestBed(tag, queues, subnet=7000 + (os.getpid() % 500))
    bed.create()
    return bed


def threaded_napi(bed, enable: bool | None) -> int:
    """Set (when ``enable`` is not None) and return /sys/class/net/<if_b>/threaded."""
    path = f"/sys/class/net/{bed.if_b}/threaded"
    if enable is not None:
        bed.run("b", "sh", "-c", f"echo {int(enable)} > {path}")
    return int(bed.run("b", "cat", path).stdout.strip() or 0)


class PeerCounter:
    """drop_count attached (native XDP) on the peer: frames received per Rx queue."""

    def __init__(self, bed, queues: int):
        from enatool.backends.afxdp.xdp import XdpAttach, XdpProgram

        self.queues = queues
        self.prog = XdpProgram("drop_count")
        self.attach = XdpAttach(self.prog.fd, bed.if_b, bed.ns_b, mode="native").__enter__()

    def total(self) -> int:
        return int(self.prog.qstats(self.queues)[:, 0].sum())

    def close(self) -> None:
        self.attach.close()
        self.prog.close()


def measure(counter, start, stop, window: float, warmup: float = 0.5,
            timeout: float = 60) -> dict:
    """Start a sender, wait for frames at ``counter``, count for ``window`` s, stop it."""
    handle = start()
    try:
        res = _count(counter, window, warmup, timeout)
    except BaseException:
        with contextlib.suppress(Exception):
            stop(handle)
        raise
    return {**res, **(stop(handle) or {})}


def _count(counter, window: float, warmup: float, timeout: float) -> dict:
    base = counter()
    end = time.monotonic() + timeout
    while counter() - base < 10_000:  # stray frames (IPv6 ND) do not count as a start
        if time.monotonic() > end:
            raise RuntimeError("the sender sent nothing")
        time.sleep(0.01)
    time.sleep(warmup)
    c0, t0 = counter(), time.monotonic()
    time.sleep(window)
    c1, t1 = counter(), time.monotonic()
    return {"mpps": (c1 - c0) / (t1 - t0) / 1e6, "frames": c1 - c0, "window_s": t1 - t0}


def popen(cmd: list[str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, start_new_session=True)


def interrupt(p: subprocess.Popen, timeout: float = 30) -> tuple[str, str]:
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    return out, err


def enatool_gen(bed, *args: str) -> list[str]:
    return [ENATOOL, "gen", bed.if_a, "--netns", bed.ns_a, "--dst", bed.addr_b, "--json",
            "-d", "120", *args]


def gen_stop(p: subprocess.Popen) -> dict:
    out, err = interrupt(p)
    try:
        s = json.loads(out)
    except json.JSONDecodeError:
        raise RuntimeError(f"enatool gen failed: {err.strip()[-400:]}") from None
    cpu = s.get("cpu") or {}
    own = (cpu.get("user_s") or 0) + (cpu.get("sys_s") or 0)
    return {"gen_reported_mpps": s["pps"] / 1e6, "cpu": cpu,
            "worker_cpu": s.get("worker_cpu"),
            "user_share_of_process": (cpu.get("user_s", 0) / own) if own else None,
            "bind_mode": s.get("bind_mode"), "engine": s.get("engine")}


def testpmd_cmd(exe: str, bed, queues: int, mode: str, side: str = "a",
                pkt: int = 60, busy_budget: int | None = None) -> list[str]:
    """dpdk-testpmd over net_af_xdp, one vdev per queue (veth has no combined channels).
    ``busy_budget`` 0 turns the PMD's preferred busy polling off (its default is 64)."""
    ifname = bed.if_a if side == "a" else bed.if_b
    ns = bed.ns_a if side == "a" else bed.ns_b
    cmd = ["ip", "netns", "exec", ns, exe, "--no-huge", "-m", "512", "--no-pci",
           "--file-prefix", f"enb{os.getpid()}{side}"]
    for q in range(queues):
        bb = "" if busy_budget is None else f",busy_budget={busy_budget}"
        cmd += ["--vdev", f"net_af_xdp{q},iface={ifname},start_queue={q},queue_count=1{bb}"]
    if queues > 1:
        lcores = ",".join(["0@0"] + [f"{i + 1}@{i % 2}" for i in range(min(queues, 2))])
        cmd += ["--lcores", lcores]
    cmd += ["--", f"--forward-mode={mode}", "--total-num-mbufs=16384",
            "--stats-period", "1"]
    if mode == "txonly":
        cmd.append(f"--txpkts={pkt}")
    if queues > 1:
        cmd.append(f"--nb-cores={min(queues, 2)}")
    return cmd


def testpmd_rx_pps(out: str) -> list[float]:
    """Per-period sums of 'Rx-pps' over ports from testpmd's --stats-period output."""
    samples, cur = [], 0.0
    for block in out.split("Port statistics"):
        vals = [float(v) for v in re.findall(r"Rx-pps:\s+(\d+)", block)]
        if vals:
            cur = sum(vals)
            samples.append(cur)
    return samples


def machine() -> dict:
    import platform

    return {"kernel": platform.release(), "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_at_start": os.getloadavg()}
