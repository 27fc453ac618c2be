"""Toeplitz RSS hashes per second on IPv4 5-tuples, one core: Numba kernel vs naive twin.

Uses the ENA Linux conventions (key applied byte-reversed, init 0xFFFFFFFF, L3+L4 sort).
The kernel is warmed up (JIT or cache load) before timing; both sides hash the same tuples
and the first results are cross-checked. Goal: >= 30 M hashes/s for the kernel.

    .venv/bin/python bench/rss_hash.py [--n 4000000] [--naive-n 20000] [--repeat 5] [--json]
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

from naive import rss as naive  # noqa: E402

from enatool.driver.policy.rss import RssConfig  # noqa: E402
from numba_kernels import rss as krss  # noqa: E402
from numba_kernels.warmup import warm_up  # noqa: E402

SCHEMA_VERSION = 1
GOAL = 30e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4_000_000, help="tuples per kernel run")
    ap.add_argument("--naive-n", type=int, default=20_000, help="tuples for the naive twin")
    ap.add_argument("--repeat", type=int, default=5, help="kernel runs; the best one counts")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("-j", "--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    key = bytes(rng.integers(0, 256, 40, dtype=np.uint8))
    cfg = RssConfig.linux_default(key, num_queues=8)
    src = rng.integers(0, 2**32, args.n, dtype=np.uint64).astype(np.uint32)
    dst = rng.integers(0, 2**32, args.n, dtype=np.uint64).astype(np.uint32)
    sport = rng.integers(0, 2**16, args.n).astype(np.uint16)
    dport = rng.integers(0, 2**16, args.n).astype(np.uint16)
    out = np.empty(args.n, dtype=np.uint32)
    tables = cfg.toeplitz_tables(12)  # built once per key, outside the timing

    warm_up()
    krss.toeplitz_ipv4_batch(src[:1024], dst[:1024], sport[:1024], dport[:1024], tables,
                             cfg.init_value, True, True, True, out[:1024])
    best = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        krss.toeplitz_ipv4_batch(src, dst, sport, dport, tables, cfg.init_value,
                                 True, True, True, out)
        best = min(best, time.perf_counter() - t0)
    kernel_rate = args.n / best

    eff = cfg.effective_key
    m = min(args.naive_n, args.n)
    t0 = time.perf_counter()
    ref = []
    for i in range(m):
        row = naive.sort_row(naive.ipv4_tuple_bytes(int(src[i]), int(dst[i]), int(sport[i]),
                                                    int(dport[i])), 4, True, True)
        ref.append(naive.toeplitz(eff, row, cfg.init_value))
    naive_rate = m / (time.perf_counter() - t0)
    if out[:m].tolist() != ref:
        print("kernel and naive twin disagree", file=sys.stderr)
        return 1

    result = {
        "schema_version": SCHEMA_VERSION,
        "bench": "rss_hash",
        "hash": "toeplitz-ena-linux-ipv4-4tuple",
        "jit": os.environ.get("NUMBA_DISABLE_JIT", "0") in ("", "0"),
        "tuples": args.n,
        "kernel_hashes_per_s": round(kernel_rate),
        "naive_tuples": m,
        "naive_hashes_per_s": round(naive_rate),
        "speedup": round(kernel_rate / naive_rate, 1),
        "goal_hashes_per_s": int(GOAL),
        "goal_met": kernel_rate >= GOAL,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"kernel  {kernel_rate / 1e6:8.1f} M hashes/s  ({args.n} tuples, best of "
              f"{args.repeat})")
        print(f"naive   {naive_rate / 1e6:8.3f} M hashes/s  ({m} tuples)")
        print(f"speedup {result['speedup']:8.1f}x   goal {GOAL / 1e6:.0f} M/s: "
              f"{'met' if result['goal_met'] else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
