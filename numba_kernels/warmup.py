"""Call every kernel once on tiny inputs, so JIT compilation or cache loading happens before
any measurement (benchmarks and timed runs call ``warm_up()`` outside their timing)."""

from __future__ import annotations

import numpy as np

from numba_kernels import checksum, moderation, rss


def warm_up() -> None:
    key = np.arange(40, dtype=np.uint8)
    tables = rss.toeplitz_tables(key, 12)
    rows = np.zeros((2, 12), dtype=np.uint8)
    out = np.empty(2, dtype=np.uint32)
    rss.toeplitz_rows(rows, tables, 0xFFFFFFFF, out)
    u32 = np.zeros(2, dtype=np.uint32)
    u16 = np.zeros(2, dtype=np.uint16)
    rss.toeplitz_ipv4_batch(u32, u32, u16, u16, tables, 0xFFFFFFFF, True, True, True, out)
    rss.sort_rows(rows, 4, True, True)
    rss.crc32_rows(rows, rss.crc32c_table(), 0xFFFFFFFF, out)
    rss.replicate_low16(out, out)
    rss.queue_from_hash(out, np.zeros(128, dtype=np.uint16), np.empty(2, dtype=np.uint16))
    rss.toeplitz_window(key, 0)

    buf = np.zeros(64, dtype=np.uint8)
    checksum.inet_checksum(buf, 0, 21)
    checksum.ones_sum16(buf, 0, 20, 0)
    i64 = np.zeros(2, dtype=np.int64)
    checksum.inet_checksum_rows(np.zeros((2, 8), np.uint8), i64, i64, i64, u16)
    checksum.pseudo_sum_ipv4(1, 2, 17, 8)
    checksum.pseudo_sum_ipv6(buf[:16], buf[16:32], 6, 20)
    checksum.csum_update16(0x1234, 1, 2)

    intervals = np.array([0, 32, 80, 128, 192], dtype=np.int64)
    thr = np.array([3, 12, 48, 96, 128], dtype=np.int64)
    moderation.adaptive2016_step_queues(i64.copy(), i64.copy(), i64, i64, intervals, thr, thr, 1)
    moderation.adaptive2016_run(0, 0, i64, i64, intervals, thr, thr, 1, i64.copy(), i64.copy())
    st = moderation.dim_new_state(1)
    moderation.net_dim_run(st[0], i64, i64, i64, i64, i64.copy())
