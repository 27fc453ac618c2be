"""reflect + latency end to end on a veth pair in two namespaces: socket and AF_XDP
paths, exact loss with --drop-every, Ctrl-C / SIGTERM leave nothing attached."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.cli.runner import ROOT

needs = pytest.mark.needs
pytestmark = [pytest.mark.netns,
              needs("root", "bcc", "netns", "xdp_native", "af_xdp", "numba")]


def _cli(*args):
    return [sys.executable, "-c", "from enatool.cli.main import main; main()", *args]


class Reflector:
    """``enatool reflect`` in a subprocess; ready once it printed its start line."""

    def __init__(self, bed, *args):
        self.p = subprocess.Popen(_cli("reflect", bed.if_b, "--netns", bed.ns_b, "--json",
                                       "-d", "60", *args),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  cwd=ROOT)
        self.bed = bed

    def wait_ready(self):
        # --json silences the live line; the program is ready when its XDP/socket exists,
        # so poll for the attach (xdp/afxdp) or give the socket a moment (bounded)
        from enatool.backends.afxdp.xdp import xdp_state

        for _ in range(200):
            if self.p.poll() is not None:
                raise AssertionError(self.p.stderr.read())
            if xdp_state(self.bed.if_b, self.bed.ns_b)[1]:
                return
            time.sleep(0.05)

    def stop(self):
        self.p.send_signal(signal.SIGINT)
        out, err = self.p.communicate(timeout=30)
        assert self.p.returncode == 0, err
        return json.loads(out)


def _latency(bed, *args):
    from enatool.latency.program import LatencyConfig, run_latency

    kw = dict(iface=bed.if_a, netns=bed.ns_a, dst=f"{bed.addr_b}:7", timeout=0.05)
    kw.update(args[0] if args else {})
    return run_latency(LatencyConfig(**kw))["runs"]


def _ordered(run):
    d = run["rtt_us"]
    assert 0 < d["min"] <= d["p50"] <= d["p90"] <= d["p99"] <= d["p99.9"] <= d["p99.99"]
    assert d["max"] >= d["min"] and d["mean"] > 0


def test_socket_and_afxdp_against_xdp_reflector(netns):
    from enatool.backends.afxdp.xdp import xdp_state

    bed = netns(queues=1)
    ref = Reflector(bed)
    ref.wait_ready()
    try:
        (af,) = _latency(bed, dict(mode="afxdp", count=300, warmup=20, split=True))
        (so,) = _latency(bed, dict(mode="socket", count=300, warmup=20, split=True))
    finally:
        res = ref.stop()
    for run in (af, so):
        assert run["sent"] == run["received"] == 300 and run["lost"] == 0
        assert run["duplicates"] == 0
        _ordered(run)
        assert run["split_us"] is not None
    assert af["how"]["copy"] in ("copy", "zc") and af["how"]["poll"] == "busy"
    assert res["reflected"] == 2 * 320 and res["dropped"] == 0
    assert xdp_state(bed.if_a, bed.ns_a)[1] == 0 and xdp_state(bed.if_b, bed.ns_b)[1] == 0


def test_socket_reflector_and_open_loop(netns):
    bed = netns(queues=1)
    ref = Reflector(bed, "--mode", "socket", "--cpu", "1")
    time.sleep(1.5)  # socket set-up has no attach to poll for
    try:
        (pp,) = _latency(bed, dict(mode="socket", count=200, warmup=10, cpu=0))
        (ol,) = _latency(bed, dict(mode="socket", count=400, warmup=10, rate=20000,
                                   poll="block"))
    finally:
        res = ref.stop()
    assert pp["sent"] == pp["received"] == 200 and pp["how"]["pinned_cpu"] == 0
    assert ol["sent"] == ol["received"] == 400 and ol["how"]["pattern"] == "open-loop"
    _ordered(pp)
    _ordered(ol)
    assert res["rx"] == res["reflected"] == 620


@pytest.mark.parametrize("mode,client", [("xdp", "afxdp"), ("socket", "socket"),
                                         ("afxdp", "socket")])
def test_loss_is_exact(netns, mode, client):
    bed = netns(queues=1)
    ref = Reflector(bed, "--mode", mode, "--drop-every", "7")
    if mode == "socket":
        time.sleep(1.5)
    else:
        ref.wait_ready()
    try:
        (run,) = _latency(bed, dict(mode=client, count=140, warmup=0, timeout=0.02,
                                    split=(client == "socket" and mode == "afxdp")))
    finally:
        res = ref.stop()
    assert run["sent"] == 140
    assert run["lost"] == 20 == res["dropped"]
    assert run["received"] == 120 and run["timeouts"] >= 19  # the 140th ends in the drain


def test_ctrl_c_prints_partial_summary_and_detaches(netns):
    from enatool.backends.afxdp.xdp import xdp_state

    bed = netns(queues=1)
    ref = Reflector(bed)
    ref.wait_ready()
    p = subprocess.Popen(_cli("latency", bed.if_a, "--netns", bed.ns_a, "--dst",
                              f"{bed.addr_b}:7", "--mode", "afxdp", "-d", "60", "--json"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        for _ in range(200):
            if xdp_state(bed.if_a, bed.ns_a)[1]:
                break
            time.sleep(0.05)
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
        ref.p.send_signal(signal.SIGTERM)
        rout, _ = ref.p.communicate(timeout=30)
    assert p.returncode == 0, err
    (run,) = json.loads(out)["runs"]
    assert run["interrupted"] and run["received"] > 0 and run["lost"] == 0
    assert json.loads(rout)["interrupted"]
    assert xdp_state(bed.if_a, bed.ns_a)[1] == 0 and xdp_state(bed.if_b, bed.ns_b)[1] == 0
