"""Call every kernel once on tiny inputs, so JIT compilation or cache loading happens before
any measurement (benchmarks and timed runs call ``warm_up()`` outside their timing)."""

from __future__ import annotations

import numpy as np

from numba_kernels import (
    checksum,
    descriptors,
    device_dp,
    device_llq,
    driver_dp,
    llq,
    memops,
    moderation,
    rings,
    rss,
)
from numba_kernels.packet import PK_NFIELDS


def _warm_datapath() -> None:
    """Every driver and device burst kernel once, with the argument types the driver
    (``enatool.driver.eth_tx/eth_rx/napi``) and the device (``enatool.device.tx/rx``) pass,
    so the specializations they run are the ones compiled (or loaded) here."""
    d = 8
    u8 = np.zeros(4096, np.uint8)
    i64 = np.zeros(d + 2, np.int64)
    ring = np.zeros((d, 4), np.uint32)
    cq2 = np.zeros((d, 2), np.uint32)
    free_ids = np.zeros(d, np.int64)
    in_use = np.zeros(d, np.uint8)
    rings.reqid_init(free_ids, in_use)
    rings.sq_free_entries(0, 0, d)  # ring set-up and ethtool -S, from Python
    llq.llq_max_header(2, 128)
    ts = np.zeros(driver_dp.TS_LEN, np.int64)
    txk = np.zeros(driver_dp.TXK_LEN, np.int64)
    f64 = np.zeros(d, np.float64)
    frames = np.zeros(128, np.uint8)
    offs = np.zeros(1, np.int64)
    lens = np.full(1, 64, np.int64)
    bounce = np.zeros(d * 128, np.uint8)
    for llq_mode in (True, False):
        driver_dp.tx_xmit_burst(frames, offs, lens, 1, u8, 256, 0x1000, free_ids, in_use, d, ts,
                                llq_mode, ring, 96, bounce, 128, 2, 96, 0, False, i64.copy(),
                                i64.copy(), f64, in_use.copy(), 0.0, i64.copy(), txk)
    driver_dp.tx_clean_burst(cq2, d, 2, i64.copy(), False, free_ids, in_use, i64.copy(), f64, ts,
                             txk)
    # device Tx: LLQ fetch, host fetch, frame build, completions
    a = {k: np.zeros(d, np.int64) for k in ("fi", "nd", "nm", "rid", "cr", "sh", "st", "ps",
                                            "hl")}
    meta = np.zeros((d, 2), np.int64)
    headers = np.zeros((d, 128), np.uint8)
    descs = np.zeros((d * 8 + 64, 4), np.uint32)
    ms = np.zeros(rings.META_STATE_LEN, np.int64)
    device_dp.llq_fetch_burst(bounce, 0, 0, d, 128, 2, d, 32, ms, descs, a["fi"], a["nd"], meta,
                              headers, a["hl"], a["st"], a["rid"], a["cr"], a["sh"])
    device_llq.llq_fetch_build_simple(bounce, 0, 0, d, 128, 2, d, ms, u8.copy(), 0, a["fi"].copy(),
                                      a["nd"].copy(), 0, a["rid"], a["cr"], a["sh"], a["ps"],
                                      np.zeros(device_dp.TXS_N, np.int64))
    rings.tx_sq_fetch(ring, 0, 0, d, d, 32, ms, a["fi"], a["nd"], a["nm"], meta)
    device_dp.tx_packet_info(ring, d - 1, a["fi"], a["nd"], 0, a["rid"], a["cr"], a["sh"])
    rec = np.zeros(PK_NFIELDS, np.int64)
    starts = np.zeros(1, np.int64)
    ends = np.full(1, 4096, np.int64)
    out_off = np.zeros(4, np.int64)
    counts = np.zeros(device_dp.TXS_N, np.int64)
    for dsc, mask, use_hdr in ((descs, 0x7FFFFFFF, True), (ring, d - 1, False)):
        device_dp.tx_build_frames(dsc, mask, a["fi"], a["nd"], meta, headers, a["hl"], use_hdr,
                                  a["st"], 0, 0, u8, 0, starts, ends, u8, u8, out_off,
                                  out_off.copy(), rec, u8.copy(), 0, out_off.copy(),
                                  out_off.copy(), 0, a["ps"], counts)
    rings.cq_write_tx(cq2, 0, d, a["rid"][:0], a["sh"][:0], 0)
    # device Rx: classify, deliver
    tables = rss.toeplitz_tables(np.arange(40, dtype=np.uint8), 36)
    fields = np.zeros(16, np.uint16)
    table = np.zeros(128, np.uint16)
    # the two halves as enatool/device/rx.py calls them (numba compiles a kernel called from
    # another kernel separately from the dispatcher Python calls)
    device_dp.rx_classify_fast(frames, offs, lens, 0, tables, 0xFFFFFFFF, fields, True, True,
                               False, table, 128, i64.copy(), i64.copy(), i64.copy())
    device_dp.rx_classify_rest(frames, offs, lens, 0, rec, 1, tables, rss.crc32c_table(),
                               0xFFFFFFFF, fields, True, True, False, table, 128, i64.copy(),
                               i64.copy(), i64.copy(), True)
    rxn = np.zeros(device_dp.RXN_LEN, np.int64)
    device_dp.rx_deliver(frames, offs, lens, np.arange(0, dtype=np.int64), i64, i64, ring, d, 0,
                         0, ring.copy(), d, 0, u8, 0, starts, ends, 0, 19, 0, i64.copy(),
                         i64.copy(), rxn)
    # driver Rx: refill, clean, NAPI
    rs = np.zeros(driver_dp.RS_LEN, np.int64)
    rxk = np.zeros(driver_dp.RXK_LEN, np.int64)
    pages = np.zeros(d * 4096, np.uint8)
    rfree = np.zeros(d, np.int64)
    ruse = np.zeros(d, np.uint8)
    rings.reqid_init(rfree, ruse)
    driver_dp.rx_refill(ring, d, rs, rfree, ruse, i64.copy(), 0x2000, 4096, 64, 3712, 0, rxk)
    store = [np.zeros(4096, np.uint8), np.zeros(d, np.int64), np.zeros(d, np.int64),
             np.zeros(d, np.int64), np.zeros(d, np.int64), np.zeros(d, np.int8),
             np.zeros(d, np.int64), np.zeros(d, np.uint8)]
    fill = np.zeros(2, np.int64)
    cq4 = np.zeros((d, 4), np.uint32)
    bufs = [np.zeros(64 * 19, np.int64), np.zeros(64 * 19, np.int64)] + [
        np.zeros(64, np.int64) for _ in range(4)]
    driver_dp.rx_clean_burst(cq4, d, 64, 19, *bufs, rfree, ruse, rs, pages, 4096, 64, 256,
                             False, *store, fill, rxk)
    rpk = np.zeros(64, np.int64)
    driver_dp.napi_poll(64, 2, 64, cq2, d, i64.copy(), False, free_ids, in_use, i64.copy(), f64,
                        ts, txk, cq4, ring, d, 19, *bufs, rfree, ruse, i64.copy(), rs, pages,
                        0x2000, 4096, 64, 3712, 1, 256, False, *store, fill, rxk, rpk,
                        rpk.copy(), np.zeros(65, np.int64), -1)
    memops.copy_bytes(u8, 0, frames, 0, 64)
    memops.zero_bytes(u8, 0, 64)
    llq.llq_lines_for(2, 2, 128)
    descriptors.tx_meta_words(0, 0, 0, 0, True)


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
    _warm_datapath()
