"""`enatool gen IFACE` and `enatool sink IFACE` as a user runs them (the console script in a
subprocess) on a veth pair between two throwaway namespaces: exact counts with no loss,
frames the receiving kernel accepts, pacing measured by gen itself, the three engines,
clean stops (Ctrl-C, SIGTERM, an error, SIGKILL) leaving no XDP program and no AF_XDP
socket (/proc/net/protocols), RSS-crafted flows checked with `enatool rss hash`,
refusals and errors on one line, UMEMs in 2 MiB huge pages (--huge-pages) really backed by
the pool, and a clear refusal without one. Traffic stays on 198.18.0.0/15, bounded in count
and time."""

from __future__ import annotations

import inspect
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from udp_peer import UdpCollector, udp_snmp

from enatool.report.schema import missing_fields

needs = pytest.mark.needs
pytestmark = [pytest.mark.netns,
              needs("root", "bcc", "netns", "xdp_native", "xdp_generic", "af_xdp", "numba")]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(os.path.dirname(sys.executable), "enatool")
MAGIC = (0x454E4154).to_bytes(4, "big")


def _cmd(*args: str) -> list[str]:
    if os.path.exists(SCRIPT):
        return [SCRIPT, *args]
    return [sys.executable, "-c", "from enatool.cli.main import main; main()", *args]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(_cmd(*args), capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)


class Sink:
    """`enatool sink` on side b in the background; ``result()`` waits and parses its JSON."""

    def __init__(self, bed, *args: str):
        self.proc = subprocess.Popen(_cmd("sink", bed.if_b, "--netns", bed.ns_b, "--json",
                                          "--ring-size", "4096", *args), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=ROOT)
        self.started = self.proc.stderr.readline()  # the start line, once attached
        assert "Ctrl-C" in self.started, self.started + self.proc.stderr.read()

    def result(self, timeout: float = 90) -> dict:
        out, err = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode == 0, err
        return json.loads(out)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def sinks():
    made: list[Sink] = []

    def start(bed, *args: str) -> Sink:
        s = Sink(bed, *args)
        made.append(s)
        return s

    yield start
    for s in made:
        s.kill()


def _gen(bed, *args: str, timeout: float = 120) -> dict:
    p = run("gen", bed.if_a, "--netns", bed.ns_a, "--dst", bed.addr_b, "--json", *args,
            timeout=timeout)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def _no_xdp_left(bed) -> None:
    for ns, ifname in ((bed.ns_a, bed.if_a), (bed.ns_b, bed.if_b)):
        link = subprocess.run(["ip", "-n", ns, "link", "show", ifname], capture_output=True,
                              text=True, check=True).stdout
        assert "prog/xdp" not in link, link
        assert _xdp_sockets(ns) == 0


def _xdp_sockets(ns: str) -> int:
    """AF_XDP sockets open in ``ns``: the 'sockets' column of the XDP row of
    /proc/net/protocols (counted per netns by the kernel; `ss --xdp` needs xsk_diag)."""
    text = subprocess.run(["ip", "netns", "exec", ns, "cat", "/proc/net/protocols"],
                          capture_output=True, text=True, check=True).stdout
    for line in text.splitlines():
        cols = line.split()
        if cols and cols[0] == "XDP":
            return int(cols[2])
    return 0


# -- exact delivery ------------------------------------------------------------------------------
def test_gen_count_sink_exact_and_kernel_accepts_the_rest(netns, sinks):
    bed = netns(queues=2)
    n = 20_000
    udp = UdpCollector(bed, 10)
    snmp0 = udp_snmp(bed)
    try:
        sink = sinks(bed, "--proto", "udp", "--dport", "9", "-c", str(n // 2), "-d", "30")
        tx = _gen(bed, "-c", str(n), "--rate", "20k", "--dport", "9-10", "--flows", "8",
                  "--size", "64,128,1518")
        rx = sink.result()
        udp.wait(n // 2)
    finally:
        udp.close()
    assert missing_fields(tx, "gen", iface=True) == []
    assert missing_fields(rx, "sink", iface=True) == []
    assert tx["umem_huge_pages"] is False and rx["umem_huge_pages"] is False
    assert tx["schema_version"] == rx["schema_version"] == 1
    assert (tx["packets"], tx["completed"], tx["stopped_by"]) == (n, n, "count")
    assert tx["engine"] == "afxdp" and tx["bind_mode"] == "copy"  # veth: copy mode only
    assert rx["bind_mode"] == "copy" and rx["xdp_mode"] == "native"
    # every port-9 frame arrived once, in order, checksums verified by the sink
    assert rx["packets"] == rx["probes"] == n // 2
    assert (rx["lost"], rx["duplicates"], rx["reordered"], rx["csum_errors"],
            rx["foreign"], rx["drops"]) == (0, 0, 0, 0, 0, 0)
    assert rx["flows_seen"] == 4
    # the arrival rate is measured over the receive window, not the wait for the sender
    assert 0 < rx["recv_window_s"] < rx["duration_s"] and rx["achieved_pps"] > rx["pps"]
    sent = tx["per_flow_sent"]
    to_9 = [i for i, f in enumerate(tx["traffic"]["flow_table"]) if f[3] == 9]
    assert {r["flow"]: r["probes"] for r in rx["per_flow"]} == {i: sent[i] for i in to_9}
    # the port-10 half went to the kernel, which accepted every checksum
    assert len(udp.payloads) == n // 2
    assert all(p.startswith(MAGIC) for p in udp.payloads)
    snmp1 = udp_snmp(bed)
    assert snmp1["InCsumErrors"] == snmp0["InCsumErrors"]
    assert snmp1["InDatagrams"] - snmp0["InDatagrams"] == n // 2
    _no_xdp_left(bed)


@pytest.mark.parametrize("engine", ["socket", "xdp-live"])
def test_other_engines_send_what_they_claim(netns, sinks, engine):
    bed = netns(queues=1)
    n = 10_000
    # paced so a sink on a busy 2-vCPU machine keeps up (xdp-live sends 50 ms bursts)
    # the kernel leaves the UDP checksum to veth's Tx offload, which never computes it:
    # on the peer the frame carries the partial sum (the receiving kernel trusts veth)
    verify = ["--no-verify"] if engine == "socket" else []
    sink = sinks(bed, "-c", str(n), "-d", "30", "--proto", "udp", "--dport", "9", *verify)
    tx = _gen(bed, "--engine", engine, "-c", str(n), "--flows", "4", "--size", "128",
              "--rate", "20k")
    rx = sink.result()
    assert tx["engine"] == engine and tx["packets"] == n
    assert missing_fields(tx, "gen", iface=True) == []
    assert tx["umem_huge_pages"] is None  # no UMEM in this engine
    assert rx["probes"] == n and rx["flows_seen"] == 4
    assert (rx["lost"], rx["duplicates"], rx["csum_errors"], rx["drops"]) == (0, 0, 0, 0)
    assert [r["probes"] for r in rx["per_flow"]] == tx["per_flow_sent"]
    if engine == "socket":  # one source port per flow, one destination each: connected
        assert [(q["sockets"], q["connected"]) for q in tx["per_queue"]] == [(4, 4)]
    _no_xdp_left(bed)


def test_socket_engine_one_socket_many_destinations(netns, sinks):
    """One source port, four destination ports: the socket cannot be connected, so every
    message names its destination (the other path of the socket engine)."""
    bed = netns(queues=1)
    n = 4000
    sink = sinks(bed, "-c", str(n), "-d", "30", "--proto", "udp", "--no-verify")
    tx = _gen(bed, "--engine", "socket", "-c", str(n), "--sport", "1024", "--dport", "9-12",
              "--flows", "4", "--size", "128", "--rate", "20k")
    rx = sink.result()
    assert tx["packets"] == n and rx["probes"] == n and rx["flows_seen"] == 4
    assert [r["probes"] for r in rx["per_flow"]] == tx["per_flow_sent"]
    assert rx["lost"] == 0
    assert [(q["sockets"], q["connected"]) for q in tx["per_queue"]] == [(1, 0)]


def test_fill_static_sends_prebuilt_frames(netns, sinks):
    bed = netns(queues=1)
    n = 10_000
    sink = sinks(bed, "-c", str(n), "-d", "30", "--proto", "udp", "--dport", "9")
    tx = _gen(bed, "--fill", "static", "-c", str(n), "--flows", "4", "--size", "64,1518",
              "--rate", "20k")
    rx = sink.result()
    assert tx["fill_mode"] == "static" and tx["packets"] == tx["completed"] == n
    assert tx["probed"] == 0  # no probe header: nothing per frame is written
    assert rx["packets"] == rx["foreign"] == n and rx["csum_errors"] == 0
    assert rx["bytes"] == tx["bytes"]
    _no_xdp_left(bed)


def test_socket_engine_refuses_tcp(netns):
    bed = netns()
    p = run("gen", bed.if_a, "--netns", bed.ns_a, "--dst", bed.addr_b, "--engine", "socket",
            "--proto", "tcp", "-c", "10")
    assert p.returncode == 2 and p.stdout == ""
    assert len(p.stderr.strip().splitlines()) == 1 and "UDP only" in p.stderr


# -- pacing ------------------------------------------------------------------------------------
def _peer_drops(bed):
    from enatool.backends.afxdp.xdp import XdpAttach, XdpProgram

    prog = XdpProgram("drop_count")
    return prog, XdpAttach(prog.fd, bed.if_b, bed.ns_b, mode="native")


@pytest.mark.parametrize("rate", [100_000, 1_000_000])
def test_pacing_within_one_percent(netns, rate):
    bed = netns()
    prog, attach = _peer_drops(bed)
    with prog, attach:
        if rate >= 1_000_000:  # probe what this machine can do before asking for it
            flat = _gen(bed, "-d", "1", "-b", "256")
            if flat["achieved_pps"] < 1.15 * rate:
                pytest.skip(f"this machine sends {flat['achieved_pps'] / 1e6:.2f} Mpps flat "
                            f"out over AF_XDP copy mode, too close to {rate / 1e6:.1f} Mpps "
                            "to judge pacing")
        tx = _gen(bed, "--rate", str(rate), "-d", "1.5")
    assert tx["send_window_s"] >= 1.0
    assert tx["requested_pps"] == rate
    assert abs(tx["rate_ratio"] - 1) < 0.01, tx["rate_ratio"]


# -- RSS-crafted flows ---------------------------------------------------------------------------
def test_to_queues_flows_match_rss_hash(netns, sinks):
    bed = netns(queues=2)
    # UDP only: the kernel's own frames on a fresh link (IPv6 neighbour discovery, MLD)
    # would otherwise count towards -c and stop the sink one probe short
    sink = sinks(bed, "-c", "64", "-d", "30", "--proto", "udp")
    tx = _gen(bed, "--to-queues", "1,3", "--rss-queues", "4", "--flows", "8", "-c", "64",
              "--rate", "20k")
    rx = sink.result()
    assert rx["probes"] == 64 and rx["lost"] == 0
    table = tx["traffic"]["flow_table"]
    assert sorted({f[4] for f in table}) == [1, 3]
    for src, dst, sport, dport, queue in table:
        p = run("rss", "hash", f"{src}:{sport}", f"{dst}:{dport}", "--queues", "4", "--json")
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["queue"] == queue


# -- clean stops ---------------------------------------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_cleanly_with_summary(netns, sig):
    bed = netns(queues=2)
    sink = Sink(bed, "-d", "60")
    gen = subprocess.Popen(_cmd("gen", bed.if_a, "--netns", bed.ns_a, "--dst", bed.addr_b,
                                "--json", "-d", "60", "--rate", "20k", "--flows", "2",
                                "-q", "2", "--live"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           cwd=ROOT)
    try:
        line = gen.stderr.readline()  # --live with --json: the start line on stderr
        assert "Ctrl-C" in line, line + gen.stderr.read()
        gen.stderr.readline()  # one live line: frames are flowing
        gen.send_signal(sig)
        sink.proc.send_signal(sig)
        out, err = gen.communicate(timeout=30)
        rx = sink.result(timeout=30)
    finally:
        for p in (gen, sink.proc):
            if p.poll() is None:
                p.kill()
                p.communicate()
    assert gen.returncode == 0, err
    tx = json.loads(out)
    assert tx["stopped_by"] == "interrupt" and tx["packets"] > 0
    assert tx["packets"] == tx["completed"]
    assert rx["stopped_by"] == "interrupt" and rx["packets"] > 0
    assert rx["lost"] == 0
    _no_xdp_left(bed)


def test_sigkill_leaves_nothing(netns):
    bed = netns(queues=2)
    sink = Sink(bed, "-d", "60")
    try:
        link = subprocess.run(["ip", "-n", bed.ns_b, "link", "show", bed.if_b],
                              capture_output=True, text=True, check=True).stdout
        assert "prog/xdp" in link
        assert _xdp_sockets(bed.ns_b) == 2  # one per queue
        sink.proc.send_signal(signal.SIGKILL)
        sink.proc.communicate(timeout=30)
    finally:
        sink.kill()
    assert sink.proc.returncode == -signal.SIGKILL
    _no_xdp_left(bed)


def test_error_mid_run_leaves_nothing(netns):
    from enatool.backends.afxdp.backend import AfxdpBackend
    from enatool.gen.iface import run_sink_iface

    bed = netns(queues=2)

    def boom(_snap):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"), \
            AfxdpBackend(bed.if_b, bed.ns_b, queues=[0, 1], tx=False) as rx:
        run_sink_iface(rx, 16, duration=5, on_tick=boom)
    _no_xdp_left(bed)


# -- refusals and errors ---------------------------------------------------------------------
def test_default_route_refused_unless_forced(netns):
    bed = netns()
    with bed.ipr("a") as rt:
        rt.route("add", dst="0.0.0.0/0", gateway=bed.addr_b, oif=bed.index_a)
    p = run("gen", bed.if_a, "--netns", bed.ns_a, "--dst", bed.addr_b, "-c", "10")
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and "default route" in p.stderr and "--force" in p.stderr
    p = run("sink", bed.if_a, "--netns", bed.ns_a, "-c", "1", "-d", "0.2")
    assert p.returncode == 2 and "default route" in p.stderr
    # the refusal comes first, before anything else that may be wrong (here: no neighbour)
    p = run("gen", bed.if_a, "--netns", bed.ns_a, "--dst", "198.19.255.254", "-c", "10")
    assert p.returncode == 2 and "default route" in p.stderr and "neighbour" not in p.stderr
    forced = _gen(bed, "-c", "10", "--force", "--engine", "socket")
    assert forced["packets"] == 10
    _no_xdp_left(bed)


@pytest.mark.parametrize("args,needle", [
    (["gen", "IF", "--engine", "bogus"], "bogus"),
    (["gen", "--engine", "socket"], "need an interface"),
    (["gen", "--huge-pages"], "need an interface"),
    (["gen", "IF", "--netns", "NS", "--dst", "DST", "--engine", "socket", "--huge-pages"],
     "--huge-pages applies to --engine afxdp"),
    (["gen", "IF", "--netns", "NS", "--dst", "DST", "--engine", "xdp-live", "--huge-pages"],
     "--huge-pages applies to --engine afxdp"),
    (["gen", "IF", "--netns", "NS", "--dst", "DST", "--rate", "1M", "--bitrate", "1G"],
     "exclude"),
    (["gen", "IF", "--netns", "NS", "--dst", "DST", "--link-rate", "1G"], "software"),
    (["gen", "IF", "--netns", "NS"], "--dst"),
    (["gen", "IF", "--netns", "NS", "--dst", "198.18.255.254"], "--dst-mac"),
    (["sink"], "IFACE"),
    (["sink", "IF", "--netns", "NS", "-q", "9"], "queue"),
    (["sink", "IF", "--netns", "NS", "--window", "100"], "multiple of 64"),
])
def test_bad_options_one_line_exit_2(netns, args, needle):
    bed = netns()
    sub = {"IF": bed.if_a, "NS": bed.ns_a, "DST": bed.addr_b}
    p = run(*[sub.get(a, a) for a in args])
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert p.stdout == "" and p.stderr.count("\n") == 1, p.stderr
    assert p.stderr.startswith("enatool: error:") and needle in p.stderr


def test_without_root_points_to_doctor(netns):
    bed = netns()
    cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
           *_cmd("gen", bed.if_a, "--netns", bed.ns_a, "--dst", bed.addr_b, "-c", "1")]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd="/",
                       env={**os.environ, "HOME": "/tmp", "NUMBA_CACHE_DIR": "/tmp"})
    assert p.returncode == 3, p.stderr
    assert p.stderr.count("\n") == 1
    assert "root" in p.stderr and f"enatool doctor {bed.if_a}" in p.stderr


# -- UMEM in 2 MiB huge pages (--huge-pages) -----------------------------------------------------
NR_HUGE = "/proc/sys/vm/nr_hugepages"
NR_OVERCOMMIT = "/proc/sys/vm/nr_overcommit_hugepages"
HUGE_PAGE = 2 << 20


def _read_int(path: str) -> int:
    with open(path) as f:
        return int(f.read())


def _write_int(path: str, value: int) -> None:
    with open(path, "w") as f:
        f.write(f"{value}\n")


def _huge_used() -> int:
    """2 MiB pages of the pool in use right now (HugePages_Total - HugePages_Free)."""
    info = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, _, rest = line.partition(":")
            info[key] = rest.split()[0] if rest.split() else ""
    return int(info["HugePages_Total"]) - int(info["HugePages_Free"])


def _backend_default(name: str) -> int:
    """A default of AfxdpBackend (what the CLI gets unless it passes the option)."""
    from enatool.backends.afxdp.backend import AfxdpBackend

    return inspect.signature(AfxdpBackend).parameters[name].default


def _umem_pages(frames: int) -> int:
    """2 MiB pages one UMEM of ``frames`` frames takes (Umem rounds up to whole pages)."""
    return -(-frames * _backend_default("frame_size") // HUGE_PAGE)


@pytest.fixture
def hugepages():
    """``reserve(n)`` sets the 2 MiB huge page pool to ``n`` pages (no overcommit, so the pool
    is all there is); the old pool and overcommit come back at teardown, also on failure."""
    old = {p: _read_int(p) for p in (NR_HUGE, NR_OVERCOMMIT)}

    def reserve(n: int) -> None:
        _write_int(NR_OVERCOMMIT, 0)
        _write_int(NR_HUGE, n)
        if _read_int(NR_HUGE) < n:  # fragmented memory: compact once, then ask again
            _write_int("/proc/sys/vm/compact_memory", 1)
            _write_int(NR_HUGE, n)
        assert _read_int(NR_HUGE) == n, f"the kernel gave {_read_int(NR_HUGE)} of {n} pages"

    try:
        yield reserve
    finally:
        _write_int(NR_HUGE, old[NR_HUGE])
        _write_int(NR_OVERCOMMIT, old[NR_OVERCOMMIT])
        assert _read_int(NR_HUGE) == old[NR_HUGE]


def test_huge_pages_umem_exact_delivery(hugepages, netns, sinks):
    bed = netns(queues=2)
    ring = _backend_default("ring_size")  # gen does not pass one: its Tx ring
    sink_pages = 2 * _umem_pages(4096)  # Sink passes --ring-size 4096: Rx frames, 2 queues
    gen_pages = 2 * _umem_pages(ring)  # -q 2, Tx frames only
    base_pages = _read_int(NR_HUGE)
    hugepages(base_pages + sink_pages + gen_pages)  # 24 pages (48 MiB) with today's sizes
    base = _huge_used()
    n = 10_000
    sink = sinks(bed, "--huge-pages", "-c", str(n), "-d", "30", "--proto", "udp",
                 "--dport", "9")
    assert "UMEM 2 MiB pages" in sink.started
    # the UMEMs are mapped with MAP_POPULATE before the start line: their pages are taken
    assert _huge_used() - base >= sink_pages
    peak = [0]
    done = threading.Event()

    def watch() -> None:  # gen's UMEMs live only while gen runs: sample the pool meanwhile
        while not done.is_set():
            peak[0] = max(peak[0], _huge_used() - base)
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        tx = _gen(bed, "--huge-pages", "-q", "2", "-c", str(n), "--rate", "20k",
                  "--flows", "8", "--size", "64,1518")
    finally:
        done.set()
        watcher.join()
    rx = sink.result()
    assert peak[0] >= sink_pages + gen_pages, (peak[0], sink_pages, gen_pages)
    assert missing_fields(tx, "gen", iface=True) == []
    assert missing_fields(rx, "sink", iface=True) == []
    assert tx["umem_huge_pages"] is True and rx["umem_huge_pages"] is True
    assert (tx["packets"], tx["completed"], tx["stopped_by"]) == (n, n, "count")
    assert rx["packets"] == rx["probes"] == n
    assert (rx["lost"], rx["duplicates"], rx["reordered"], rx["csum_errors"],
            rx["foreign"], rx["drops"]) == (0, 0, 0, 0, 0, 0)
    assert [r["probes"] for r in rx["per_flow"]] == tx["per_flow_sent"]
    # the text summary says so on its mode line
    p = run("gen", bed.if_a, "--netns", bed.ns_a, "--dst", bed.addr_b, "--huge-pages",
            "-c", "100", "--no-live")
    assert p.returncode == 0, p.stderr
    assert "UMEM 2 MiB pages" in p.stdout.splitlines()[1], p.stdout
    _no_xdp_left(bed)
    assert _huge_used() == base  # every UMEM unmapped


@pytest.mark.parametrize("program", ["gen", "sink"])
def test_huge_pages_none_reserved_one_line(hugepages, netns, program):
    bed = netns()
    hugepages(0)
    if program == "gen":
        p = run("gen", bed.if_a, "--netns", bed.ns_a, "--dst", bed.addr_b, "--huge-pages",
                "-c", "10")
    else:  # the XDP program is attached before the sockets: it must go again
        p = run("sink", bed.if_b, "--netns", bed.ns_b, "--huge-pages", "-c", "1", "-d", "1")
    assert p.returncode == 3, (p.returncode, p.stderr)  # CapabilityError: the machine lacks
    assert p.stdout == "" and p.stderr.count("\n") == 1, p.stderr
    assert p.stderr.startswith("enatool: error: no 2 MiB huge pages"), p.stderr
    assert "vm.nr_hugepages" in p.stderr and "--huge-pages" in p.stderr
    assert "doctor" not in p.stderr  # the hint is the fix; doctor does not check the pool
    _no_xdp_left(bed)
