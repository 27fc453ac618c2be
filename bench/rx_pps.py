"""Receive rate on a veth pair in two namespaces: `enatool sink` vs dpdk-testpmd rxonly,
both over AF_XDP (copy mode) on every queue, fed by the same sender in the same run.

Sender: `enatool gen --engine xdp-live -q 2 --cpu 0,1` (BPF_PROG_RUN live frames, 64 flows),
flat out. A veth delivers an XDP-transmitted frame to the peer queue of the sending CPU, so
with two vCPUs two of the four queues carry traffic. Measured: 64 B Mpps of `enatool sink`
on 4 queues (its own count over its run) vs testpmd rxonly with one net_af_xdp vdev per
queue (median of its per-second Rx-pps), goal >= 1.0x; IMIX (7:4:1) Gbps on the wire at
the sink; 2-queue scaling (sink on queues 0..1 vs queue 0 alone, the other queue's frames
then go to the kernel). Threaded NAPI on the receiver is reported.

    .venv/bin/python bench/rx_pps.py [--window 3] [--threaded keep|on|off]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _iface_bed as B  # noqa: E402

SCHEMA_VERSION = 1
CMD = ".venv/bin/python bench/rx_pps.py"
OUT = B.ROOT / "bench" / "results" / "rx_pps.json"


def sender(bed, size: str):
    return B.popen(B.enatool_gen(bed, "--engine", "xdp-live", "-q", "2", "--cpu", "0,1",
                                 "--flows", "64", "--size", size))


def sink_run(bed, queues: int, window: float) -> dict:
    p = B.popen([B.ENATOOL, "sink", bed.if_b, "--netns", bed.ns_b, "--json", "-q",
                 str(queues), "-d", str(window), "--flows", "64"])
    out, err = p.communicate(timeout=window + 60)
    if p.returncode != 0:
        raise RuntimeError(f"enatool sink failed: {err.strip()[-400:]}")
    s = json.loads(out)
    return {"mpps": s["pps"] / 1e6, "gbps_wire": s["wire_bps"] / 1e9,
            "per_queue": {q["queue"]: q["packets"] for q in s["per_queue"]},
            "drops": s["drops"], "csum_errors": s["csum_errors"],
            "bind_mode": s["bind_mode"], "xdp_mode": s["xdp_mode"]}


def testpmd_run(exe: str, bed, queues: int, window: float, busy_budget=None) -> dict:
    p = B.popen(B.testpmd_cmd(exe, bed, queues, "rxonly", side="b",
                              busy_budget=busy_budget))
    time.sleep(window + 4.0)
    out, _ = B.interrupt(p)
    samples = B.testpmd_rx_pps(out)[2:]  # skip start-up periods
    if not samples:
        raise RuntimeError("testpmd printed no Rx-pps")
    return {"mpps": statistics.median(samples) / 1e6, "samples": samples}


def with_sender(bed, size: str, fn):
    s = sender(bed, size)
    try:
        time.sleep(2.0)  # the sender is up (its frames drop until a receiver attaches)
        return fn()
    finally:
        B.gen_stop(s)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--window", type=float, default=3.0)
    ap.add_argument("--threaded", choices=["keep", "on", "off"], default="keep")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    cmd = f"{CMD} --window {args.window:g} --threaded {args.threaded}"
    testpmd = B.ensure_testpmd()
    bed = B.make_bed("brx", 4)
    res: dict[str, dict] = {}
    try:
        threaded = B.threaded_napi(
            bed, None if args.threaded == "keep" else args.threaded == "on")
        w = args.window
        res["sink_4q_64B"] = with_sender(bed, "64", lambda: sink_run(bed, 4, w))
        if testpmd:
            res["testpmd_4q_64B"] = with_sender(bed, "64",
                                                lambda: testpmd_run(testpmd, bed, 4, w))
            # the PMD's default is preferred busy polling; also without it (sink's mode)
            res["testpmd_4q_64B_no_busy_poll"] = with_sender(
                bed, "64", lambda: testpmd_run(testpmd, bed, 4, w, busy_budget=0))
        res["sink_4q_imix"] = with_sender(bed, "imix", lambda: sink_run(bed, 4, w))
        res["sink_1q_64B"] = with_sender(bed, "64", lambda: sink_run(bed, 1, w))
        res["sink_2q_64B"] = with_sender(bed, "64", lambda: sink_run(bed, 2, w))
        for k, v in res.items():
            print(f"{k:<16} {v['mpps']:6.3f} Mpps", file=sys.stderr)
    finally:
        bed.destroy()
    best_pmd = max((v["mpps"] for k, v in res.items() if k.startswith("testpmd")),
                   default=None)
    ratio = res["sink_4q_64B"]["mpps"] / best_pmd if best_pmd else None
    scaling = res["sink_2q_64B"]["mpps"] / res["sink_1q_64B"]["mpps"]
    doc = {
        "schema_version": SCHEMA_VERSION, "bench": "rx_pps", "command": cmd,
        "testbed": {"veth_queues": 4, "sender": "enatool gen --engine xdp-live -q 2 --cpu 0,1"
                    " --flows 64", "threaded_napi_on_receiver": bool(threaded),
                    "window_s": args.window, "testpmd": testpmd, **B.machine()},
        "mpps": {k: v["mpps"] for k, v in res.items()},
        "sink_vs_testpmd_4q": ratio,
        "ratio_basis": "sink 4 queues / the better of testpmd's two runs",
        "goal": 1.0,
        "goal_met": ratio is not None and ratio >= 1.0,
        "imix_gbps_wire": res["sink_4q_imix"]["gbps_wire"],
        "scaling_2q_over_1q": scaling,
        "runs": res,
    }
    path = pathlib.Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(json.dumps({k: doc[k] for k in ("mpps", "sink_vs_testpmd_4q", "goal_met",
                                          "imix_gbps_wire", "scaling_2q_over_1q")}, indent=2))
    print(f"threaded NAPI on the receiver: {'on' if threaded else 'off'}; results: {path}")
    print(f"reproduce: {cmd}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
