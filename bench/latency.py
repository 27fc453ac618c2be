"""Latency side by side with sockperf on one veth pair in two namespaces, in one run.

1. sockperf ping-pong (``--nonblocked``, busy) and blocking, pinned with taskset, against
   ``sockperf sr`` pinned on the other CPU;
2. ``enatool latency --mode socket`` against ``enatool reflect --mode socket`` (sockperf sr
   answers only sockperf's own messages), pinned and polling the same way (goal: within
   10 % of sockperf);
3. ``enatool latency --mode afxdp`` against ``enatool reflect --mode xdp`` (goal: p50 and
   p99.9 at most sockperf busy-poll's).

sockperf reports one-way latency as RTT/2; we compare it with our ``rtt_half_us``.
Payload 24 bytes everywhere (sockperf ``-m 24`` = our 70 B frame). Prints the command that
reproduces the run and writes JSON (``--out``). Needs root, sockperf (apt-get install -y
sockperf) and bcc. Traffic stays on 198.18.250.0/30 inside two private namespaces.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

NS_A, NS_B, IF_A, IF_B = "enatlatA", "enatlatB", "enatlata", "enatlatb"
ADDR_A, ADDR_B = "198.18.250.1", "198.18.250.2"
SOCKPERF_PORT = 11111
CLI = [sys.executable, "-c", "from enatool.cli.main import main; main()"]


def sh(*cmd: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), check=True, capture_output=True, text=True, **kw)


def setup() -> None:
    teardown()
    sh("ip", "netns", "add", NS_A)
    sh("ip", "netns", "add", NS_B)
    sh("ip", "-n", NS_A, "link", "add", IF_A, "type", "veth", "peer", "name", IF_B,
       "netns", NS_B)
    for ns, ifn, addr in ((NS_A, IF_A, ADDR_A), (NS_B, IF_B, ADDR_B)):
        sh("ip", "-n", ns, "addr", "add", f"{addr}/30", "dev", ifn)
        sh("ip", "-n", ns, "link", "set", ifn, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    mac = {ns: sh("ip", "-n", ns, "-br", "link", "show", ifn).stdout.split()[2]
           for ns, ifn in ((NS_A, IF_A), (NS_B, IF_B))}
    sh("ip", "-n", NS_A, "neigh", "replace", ADDR_B, "lladdr", mac[NS_B], "dev", IF_A,
       "nud", "permanent")
    sh("ip", "-n", NS_B, "neigh", "replace", ADDR_A, "lladdr", mac[NS_A], "dev", IF_B,
       "nud", "permanent")


def teardown() -> None:
    for ns in (NS_A, NS_B):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def in_ns(ns: str, cpu: int | None, *cmd: str) -> list[str]:
    pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
    return ["ip", "netns", "exec", ns, *pin, *cmd]


def sockperf_pp(seconds: float, nonblocked: bool) -> dict:
    cmd = in_ns(NS_A, 0, "sockperf", "pp", "-i", ADDR_B, "-p", str(SOCKPERF_PORT), "-m", "24",
                "-t", str(int(seconds)), *(["--nonblocked"] if nonblocked else []))
    out = sh(*cmd, timeout=seconds + 30).stdout
    res = {"cmd": " ".join(cmd)}
    for m in re.finditer(r"percentile\s+([\d.]+)\s*=\s*([\d.]+)", out):
        res[f"p{float(m.group(1)):g}"] = float(m.group(2))
    m = re.search(r"<MAX> observation\s*=\s*([\d.]+)", out)
    res["max"] = float(m.group(1)) if m else None
    m = re.search(r"avg-latency=([\d.]+).*std-dev=([\d.]+)", out)
    if m:
        res["mean"], res["stddev"] = float(m.group(1)), float(m.group(2))
    return res


def enatool_latency(args: list[str]) -> dict:
    cmd = [*CLI, "latency", IF_A, "--netns", NS_A, "--json", *args]
    out = sh(*cmd, timeout=300, cwd=os.path.dirname(os.path.dirname(__file__)) or ".").stdout
    run = json.loads(out)["runs"][0]
    return {"cmd": "enatool " + " ".join(cmd[3:]), "how": run["how"],
            "received": run["received"], "lost": run["lost"], **run["rtt_half_us"]}


def ratio(a: float | None, b: float | None) -> float | None:
    return None if not a or not b else float(f"{a / b:.4g}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--out", default=None, help="JSON file (default: stdout only)")
    a = ap.parse_args()
    if shutil.which("sockperf") is None:
        print("sockperf missing: apt-get install -y sockperf", file=sys.stderr)
        return 2
    print("reproduce: sudo .venv/bin/python bench/latency.py --seconds", a.seconds,
          file=sys.stderr)
    setup()
    procs: list[subprocess.Popen] = []
    res: dict = {"schema_version": 1, "bench": "latency", "seconds": a.seconds,
                 "unit": "us, one-way (RTT/2)", "payload_bytes": 24,
                 "cpus": {"client": 0, "server": 1}, "results": {}}
    try:
        sr = subprocess.Popen(in_ns(NS_B, 1, "sockperf", "sr", "-i", ADDR_B, "-p",
                                    str(SOCKPERF_PORT), "--nonblocked"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(sr)
        time.sleep(1.0)
        r = res["results"]
        dur = ["-d", str(a.seconds), "--warmup", "1000", "--cpu", "0"]
        r["sockperf_busy"] = sockperf_pp(a.seconds, True)
        r["sockperf_block"] = sockperf_pp(a.seconds, False)
        sr.terminate()
        sr.wait(10)
        # sockperf sr answers only sockperf's own messages: our socket client talks to our
        # UDP echo, pinned and polling the same way
        # the server busy-polls in both, as sockperf sr --nonblocked did for both sockperf runs
        for poll, flag in (("busy", "--busy-poll"), ("block", "--busy-poll")):
            echo = subprocess.Popen([*CLI, "reflect", IF_B, "--netns", NS_B, "--mode", "socket",
                                     "--port", str(SOCKPERF_PORT), "--cpu", "1", flag,
                                     "--quiet"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            procs.append(echo)
            time.sleep(2.0)
            r[f"enatool_socket_{poll}"] = enatool_latency(
                ["--dst", f"{ADDR_B}:{SOCKPERF_PORT}", "--mode", "socket", "--poll", poll,
                 *dur])
            echo.send_signal(2)
            echo.wait(15)
        ref = subprocess.Popen([*CLI, "reflect", IF_B, "--netns", NS_B, "--quiet"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(ref)
        time.sleep(3.0)
        r["enatool_afxdp_busy"] = enatool_latency(["--dst", f"{ADDR_B}:7", "--mode", "afxdp",
                                                   "--poll", "busy", *dur])
        sb, eb = r["sockperf_busy"], r["enatool_socket_busy"]
        sk, ek = r["sockperf_block"], r["enatool_socket_block"]
        ax = r["enatool_afxdp_busy"]
        res["ratios"] = {
            "afxdp_p50_vs_sockperf_busy": ratio(ax["p50"], sb.get("p50")),
            "afxdp_p99.9_vs_sockperf_busy": ratio(ax["p99.9"], sb.get("p99.9")),
            "socket_busy_p50_vs_sockperf_busy": ratio(eb["p50"], sb.get("p50")),
            "socket_busy_p99.9_vs_sockperf_busy": ratio(eb["p99.9"], sb.get("p99.9")),
            "socket_block_p50_vs_sockperf_block": ratio(ek["p50"], sk.get("p50")),
            "socket_block_p99.9_vs_sockperf_block": ratio(ek["p99.9"], sk.get("p99.9")),
        }
        q = res["ratios"]

        def ok(key: str, lo: float, hi: float) -> bool:
            return q[key] is not None and lo <= q[key] <= hi

        res["goals_met"] = {
            "afxdp_p50<=1.0": ok("afxdp_p50_vs_sockperf_busy", 0, 1.0),
            "afxdp_p99.9<=1.0": ok("afxdp_p99.9_vs_sockperf_busy", 0, 1.0),
            "socket_busy_p50_within_10%": ok("socket_busy_p50_vs_sockperf_busy", 0.9, 1.1),
            "socket_block_p50_within_10%": ok("socket_block_p50_vs_sockperf_block", 0.9, 1.1),
        }
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(2)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
        teardown()
    text = json.dumps(res, indent=2)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
