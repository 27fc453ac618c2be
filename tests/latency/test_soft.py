"""latency on the software ENA pair (virtual clock, deterministic) and CLI input errors."""

from __future__ import annotations

import json

import pytest

from enatool.errors import UsageError
from enatool.latency.program import LatencyConfig, run_latency
from tests.cli.runner import enatool


def _p50(**kw):
    res = run_latency(LatencyConfig(count=60, warmup=5, **kw))
    run = res["runs"][0]
    assert run["mode"] == "soft" and run["how"]["clock"] == "virtual"
    assert run["sent"] == run["received"] == 60 and run["lost"] == 0
    return run["rtt_us"]["p50"], run


def test_rx_usecs_raises_rtt_deterministically():
    low, r0 = _p50(rx_usecs=0)
    high, r1 = _p50(rx_usecs=64)
    assert high > low + 50
    again, _ = _p50(rx_usecs=64)
    assert again == high
    assert r1["how"]["coalesce"]["rx_usecs"] == 64
    d = r1["rtt_us"]
    assert 0 < d["p50"] <= d["p90"] <= d["p99"] <= d["p99.9"] <= d["p99.99"]
    assert r1["rtt_half_us"]["p50"] == pytest.approx(d["p50"] / 2, abs=0.01)


def test_adaptive_modes_run():
    for mode in ("table", "dim"):
        p50, run = _p50(adaptive=mode)
        assert p50 > 0 and run["how"]["adaptive"] == mode


def test_cli_soft_json_and_hgrm(tmp_path):
    h = tmp_path / "soft.hgrm"
    r = enatool("latency", "-n", "40", "--warmup", "2", "--rx-usecs", "16", "--json",
                "--hgrm", str(h))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema_version"] == 1 and doc["runs"][0]["received"] == 40
    assert "Percentile" in h.read_text()


@pytest.mark.parametrize("args", [
    ["--dst", "not-an-ip", "eth0"],
    ["-n", "0"],
    ["--mode", "afxdp"],
    ["--rx-usecs", "-3"],
    ["--size", "20", "--rx-usecs", "1"],
    ["--mode", "bogus"],
    ["--rate", "100"],
])
def test_cli_bad_input_one_line_exit_2(args):
    r = enatool("latency", *args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("enatool: error:")


def test_reflect_bad_input():
    r = enatool("reflect", "--mode", "xdp")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    r = enatool("reflect", "--mode", "socket", "--port", "0")
    assert r.returncode == 2 and r.stderr.count("\n") == 1


def test_config_validation():
    with pytest.raises(UsageError):
        LatencyConfig(iface="x", dst=None).validate()
    with pytest.raises(UsageError):
        LatencyConfig(split=True).validate()
