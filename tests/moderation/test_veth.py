"""veth has no interrupt coalescing: show/set say so; sweep still measures latency and
throughput against a socket reflector in the peer namespace."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.cli.runner import ROOT

needs = pytest.mark.needs


def _run(bed, *args, timeout=180):
    cmd = ["ip", "netns", "exec", bed.ns_a, sys.executable, "-c",
           "from enatool.cli.main import main; main()", "moderation", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@needs("netns")
def test_veth_show_set_unsupported(netns):
    bed = netns()
    p = _run(bed, "show", bed.if_a, "--sample", "0.1")
    assert p.returncode == 0, p.stderr
    assert "does not support interrupt coalescing" in p.stdout
    doc = json.loads(_run(bed, "show", bed.if_a, "--json", "--sample", "0").stdout)
    assert doc["supported"] is False and doc["driver"] == "veth"
    p = _run(bed, "set", bed.if_a, "--rx-usecs", "10")
    assert p.returncode == 2
    assert len(p.stderr.strip().splitlines()) == 1
    assert "does not support interrupt coalescing" in p.stderr


@needs("netns", "numba")
def test_veth_sweep_runs_latency_and_throughput(netns):
    bed = netns()
    p = _run(bed, "sweep", bed.if_a, "--peer", f"{bed.addr_b}:7007", "--peer-netns",
             bed.ns_b, "-d", "1", "-p", "rr,bulk", "--no-progress", "--json", timeout=240)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert any("does not support interrupt coalescing" in n for n in doc["notes"])
    cells = doc["cells"]
    assert [c["profile"] for c in cells] == ["rr", "bulk"]
    for c in cells:
        assert c["setting"]["mode"] == "unsupported"
        assert c["rtt"]["count"] > 20 and c["rtt"]["p99_us"] > 0
        assert c["cpu_pct"] is not None
    assert cells[1]["throughput_gbps"] > cells[0]["throughput_gbps"]
