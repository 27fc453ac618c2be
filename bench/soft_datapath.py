"""Frames per second through the complete soft path, one core: array bursts vs naive twin.

Driver Tx (LLQ, packed burst) → device A → wire → device B (parse, checksum verify, RSS) → Rx
completions → driver B NAPI (copybreak on) → packed Rx batch, with interrupts and moderation
on the virtual clock (defaults of today's driver: DIM Rx, tx-usecs 64). One queue pair.
Cycles run through ``SoftBackend.run_cycles``: its steady state is one compiled loop
(numba_kernels/softpair.py, equal to the Python path: tests/backends/test_soft_cycles.py);
the 64 B cycles are also run with Python driving each kernel, for reference. A frame
counts when it arrives at the peer driver intact: right length and the device's IPv4 + UDP
checksum verdict "good" (the checksum covers the whole IP datagram); the last batch is also
compared byte by byte. The JIT is warmed up before timing. The naive pure-Python twin
(tests/naive/naive_soft_path.py: same per-packet work, bit-by-bit Toeplitz) runs on a
smaller N in the same process. Goal: >= 10 Mpps at 64 B and >= 50x the naive twin.

    .venv/bin/python bench/soft_datapath.py [--n 2000000] [--naive-n 3000] [--json] [--out F]
                                            [--breakdown]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from naive.naive_soft_path import NaiveSoftPath, udp4_frame  # noqa: E402

from enatool.backends.soft import SoftBackend  # noqa: E402
from numba_kernels.warmup import warm_up  # noqa: E402

SCHEMA_VERSION = 1
GOAL_MPPS = 10.0
GOAL_RATIO = 50.0
CMD = ".venv/bin/python bench/soft_datapath.py"


def _pack(frames: list[bytes]):
    lens = np.array([len(f) for f in frames], np.int64)
    offs = np.zeros(len(frames), np.int64)
    offs[1:] = np.cumsum(lens[:-1])
    return np.frombuffer(b"".join(frames), np.uint8).copy(), offs, lens


def run_fast(be: SoftBackend, size: int, n: int, burst: int, step: float,
             compiled: bool = True) -> dict:
    """``SoftBackend.run_cycles`` until ``n`` frames arrived intact: cycles of one Tx burst
    of ``burst`` frames, ``step`` virtual seconds, one Rx take. With ``compiled`` the steady
    state runs in the compiled cycle loop (``numba_kernels/softpair.py``), else every cycle
    goes through the Python path (the same kernels called one by one from Python)."""
    frames = [udp4_frame(size, 1024 + i) for i in range(burst)]
    buf, offs, lens = _pack(frames)
    sent = got = pkts = nbytes = cycles = compiled_cycles = 0
    last = None
    t0 = time.perf_counter()
    while got < n:
        want = max(1, min(2000, (n - got) // burst + 1))
        r = be.run_cycles(buf, offs, lens, want, step, compiled=compiled)
        sent += r.sent
        got += r.rx_csum_good
        pkts += r.rx_pkts
        nbytes += r.rx_bytes
        cycles += r.cycles
        compiled_cycles += r.compiled_cycles
        if r.last is not None and len(r.last):
            last = r.last
        if sent > 2 * n + 10 * burst:  # frames are being lost: stop rather than spin
            break
    dt = time.perf_counter() - t0
    want_frames = set(frames)
    exact = last is not None and all(f in want_frames for f in last.frames())
    return {"frame_bytes": size, "frames": got, "bad": pkts - got, "sent": sent,
            "seconds": dt, "mpps": got / dt / 1e6, "gbps": got * size * 8 / dt / 1e9,
            "last_batch_exact": bool(exact), "lengths_exact": nbytes == pkts * size,
            "cycles": cycles, "compiled_cycles": compiled_cycles}


#: the datapath kernels of one cycle, by module (what --breakdown times)
BREAKDOWN = {"numba_kernels.driver_dp": ("tx_xmit_burst", "napi_poll"),
             "numba_kernels.device_llq": ("llq_fetch_build_simple",),
             "numba_kernels.device_dp": ("llq_fetch_burst", "tx_build_frames",
                                         "rx_classify_fast", "rx_classify_rest", "rx_deliver"),
             "numba_kernels.rings": ("cq_write_tx",)}


def breakdown(be: SoftBackend, burst: int, step: float, cycles: int = 300) -> dict:
    """Wall time per cycle of ``burst`` 64 B frames (tx burst, advance, rx take) on the
    Python-driven path, split into each datapath kernel and the rest (the Python that drives
    them), best of 3 rounds. The
    kernels are timed by wrapping the module attributes the driver and device call."""
    import importlib

    acc: dict[str, int] = {}
    saved = []
    for mod_name, names in BREAKDOWN.items():
        mod = importlib.import_module(mod_name)
        for name in names:
            f = getattr(mod, name)
            saved.append((mod, name, f))

            def timed(*a, _f=f, _n=name):
                t = time.perf_counter_ns()
                r = _f(*a)
                acc[_n] = acc.get(_n, 0) + time.perf_counter_ns() - t
                return r
            setattr(mod, name, timed)
    frames = [udp4_frame(64, 1024 + i) for i in range(burst)]
    buf, offs, lens = _pack(frames)
    best: tuple[float, dict] | None = None
    try:
        for _ in range(3):
            acc.clear()
            t0 = time.perf_counter_ns()
            for _ in range(cycles):
                be.tx_burst_packed(0, buf, offs, lens)
                be.advance(step)
                be.rx_burst_packed(0, end=1)
            total = (time.perf_counter_ns() - t0) / cycles / 1e3
            if best is None or total < best[0]:
                best = (total, {k: v / cycles / 1e3 for k, v in acc.items()})
    finally:
        for mod, name, f in saved:
            setattr(mod, name, f)
    total, kern = best  # type: ignore[misc]
    scale = 1000 / burst
    return {"frames_per_cycle": burst, "us_per_1000_frames": total * scale,
            "kernels_us_per_1000_frames": {k: v * scale for k, v in sorted(kern.items())},
            "kernels_total_us": sum(kern.values()) * scale,
            "rest_us": (total - sum(kern.values())) * scale}


def run_naive(size: int, n: int, key: bytes, table: list[int]) -> dict:
    path = NaiveSoftPath(key, table)
    frames = [udp4_frame(size, 1024 + i) for i in range(64)]
    t0 = time.perf_counter()
    got = 0
    for k in range(0, n, 64):
        for data, _q, _h, good in path.send(frames[: min(64, n - k)]):
            got += int(good and len(data) == size)
    dt = time.perf_counter() - t0
    return {"frame_bytes": size, "frames": got, "seconds": dt, "mpps": got / dt / 1e6}


def toeplitz_rate() -> float | None:
    """Toeplitz hashes/s of the kernel (bench/rss_hash.py), small N so it stays cheap."""
    try:
        import importlib.util
        spec = importlib.util.spec_from_file_location("rss_hash", ROOT / "bench" / "rss_hash.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
        import contextlib
        import io
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            mod.main(["--n", "1000000", "--naive-n", "2000", "--repeat", "3", "--json"])
        return float(json.loads(out.getvalue())["kernel_hashes_per_s"])
    except Exception:
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2_000_000, help="64 B frames to receive")
    ap.add_argument("--n-large", type=int, default=500_000, help="1500 B frames to receive")
    ap.add_argument("--naive-n", type=int, default=3000, help="frames for the naive twin")
    ap.add_argument("--n-python", type=int, default=300_000,
                    help="64 B frames through the Python-driven path (reference)")
    ap.add_argument("--burst", type=int, default=1000, help="frames per tx burst (< ring)")
    ap.add_argument("--step", type=float, default=1e-4, help="virtual seconds per cycle")
    ap.add_argument("-j", "--json", action="store_true", help="print one JSON object")
    ap.add_argument("--breakdown", action="store_true",
                    help="also time each datapath kernel in the Python-driven loop (µs per "
                         "1000 frames)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "soft_datapath.json"),
                    help="also write the JSON result here ('' to skip)")
    args = ap.parse_args(argv)

    warm_up()
    with SoftBackend(queues=1) as be:
        # warm-up outside timing: JIT of every datapath kernel, rings in steady state
        run_fast(be, 64, 20 * args.burst, args.burst, args.step)
        run_fast(be, 1500, 5 * args.burst, args.burst, args.step)
        small = run_fast(be, 64, args.n, args.burst, args.step)
        large = run_fast(be, 1500, args.n_large, args.burst, args.step)
        # the same cycles with Python driving the kernels one call at a time, for reference
        py_small = run_fast(be, 64, args.n_python, args.burst, args.step, compiled=False)
        rss = be.get_rss(end=1)
        llq = be.drivers[0].llq_cfg.placement
        stats_b = be.stats(end=1)
        split = breakdown(be, args.burst, args.step) if args.breakdown else None
    naive_small = run_naive(64, args.naive_n, rss["key"], rss["table"])
    naive_large = run_naive(1500, max(args.naive_n // 3, 64), rss["key"], rss["table"])
    res = {
        "schema_version": SCHEMA_VERSION,
        "bench": "soft_datapath",
        "command": CMD + (" --json" if args.json else ""),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "placement": llq,
        "moderation": "driver defaults (DIM rx, tx-usecs 64), virtual clock",
        "fast": {"64": small, "1500": large},
        "python_path": {"64": py_small},
        "naive": {"64": naive_small, "1500": naive_large},
        "ratio_64": small["mpps"] / naive_small["mpps"] if naive_small["mpps"] else None,
        "ratio_1500": large["mpps"] / naive_large["mpps"] if naive_large["mpps"] else None,
        "goal_mpps_64": GOAL_MPPS,
        "goal_ratio": GOAL_RATIO,
        "peer_rx_copybreak_pkt": stats_b.get("queue_0_rx_rx_copybreak_pkt"),
        "toeplitz_hashes_per_s": toeplitz_rate(),
        "breakdown": split,
    }
    if args.out:
        out = pathlib.Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res, indent=2) + "\n")
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"soft datapath, 1 queue pair, {llq} placement, one core (reproduce: {CMD})")
    for size in ("64", "1500"):
        f, nv = res["fast"][size], res["naive"][size]
        print(f"  {size:>4} B: {f['mpps']:7.3f} Mpps ({f['gbps']:.2f} Gbit/s, {f['frames']} "
              f"frames, {f['bad']} bad, {f['compiled_cycles']}/{f['cycles']} cycles "
              f"compiled)  naive {nv['mpps'] * 1e3:7.2f} kpps  "
              f"ratio {f['mpps'] / nv['mpps']:.0f}x")
    print(f"    64 B with Python driving each kernel: {py_small['mpps']:.3f} Mpps")
    if res["toeplitz_hashes_per_s"]:
        print(f"  Toeplitz kernel: {res['toeplitz_hashes_per_s'] / 1e6:.1f} M hashes/s")
    if split:
        print(f"  Python-driven path, per 1000 frames: {split['us_per_1000_frames']:.0f} us = "
              f"kernels {split['kernels_total_us']:.0f} us + the rest (Python) "
              f"{split['rest_us']:.0f} us")
        print("    " + ", ".join(f"{k} {v:.1f}" for k, v in
                                 split["kernels_us_per_1000_frames"].items()))
    print(f"  goal: >= {GOAL_MPPS} Mpps at 64 B and >= {GOAL_RATIO:.0f}x naive")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
