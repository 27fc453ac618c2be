"""Naive pure-Python twins of numba_kernels.driver_dp (Tx xmit/clean, Rx refill/clean, NAPI).

Written for obviousness: ring state in a small object of plain ints and lists, descriptors
packed by ``enatool.ena.eth_io`` (through :mod:`naive.naive_datapath`), LLQ lines built by
the naive line builder, the checksum verdict re-derived from INTERFACE.md §5.7 field by
field. The kernels keep the same state in int64 arrays; the equality tests
(tests/kernels/test_driver_dp.py) convert both sides to :func:`snapshot` dicts.
"""

from __future__ import annotations

from enatool.ena import eth_io
from naive import naive_datapath as nd

# error codes the kernels return (numba_kernels.descriptors / driver_dp)
ERR_BAD_REQ_ID, ERR_TOO_MANY_DESCS, ERR_MALFORMED, ERR_STORE_FULL = -1, -2, -3, -30

TX_COUNTERS = ["cnt", "bytes", "queue_stop", "prepare_ctx_err", "bad_req_id", "meta_descs",
               "completed", "tx_poll"]
RX_COUNTERS = ["cnt", "bytes", "copybreak", "csum_good", "csum_bad", "csum_unchecked",
               "refil_partial", "bad_desc_num", "bad_req_id", "desc_malformed", "refills",
               "doorbells"]


class Ring:
    """One driver ring: free-running u16 indices, req_id free ring, counters."""

    def __init__(self, depth: int, start: int = 0, names=TX_COUNTERS):
        self.depth = depth
        self.ntu = self.ntc = self.tail = self.ntcomp = self.cq_head = start & 0xFFFF
        self.esd = 0
        self.pending = 0
        self.free_ids = list(range(depth))
        self.in_use = [0] * depth
        self.counters = {k: 0 for k in names}
        # Tx only
        self.entries = [0] * depth
        self.nbytes = [0] * depth
        self.sent_at = [0.0] * depth
        self.timed_out = [0] * depth


def u16(x: int) -> int:
    return x % 65536


def take_ids(r: Ring, n: int):
    """n req_ids from the free ring, or None (nothing taken) if one is bad/outstanding."""
    ids = [r.free_ids[(r.ntu + i) % r.depth] for i in range(n)]
    if any(not 0 <= x < r.depth or r.in_use[x] for x in ids) or len(set(ids)) != n:
        return None
    for x in ids:
        r.in_use[x] = 1
    r.ntu = u16(r.ntu + n)
    return ids


def put_ids(r: Ring, ids) -> bool:
    """Completed req_ids back to the free ring; False (nothing changed) on a bad one."""
    if any(not 0 <= x < r.depth or not r.in_use[x] for x in ids) or len(set(ids)) != len(ids):
        return False
    for i, x in enumerate(ids):
        r.in_use[x] = 0
        r.free_ids[(r.ntc + i) % r.depth] = x
    r.ntc = u16(r.ntc + len(ids))
    return True


# ---- Tx ---------------------------------------------------------------------------------------
def tx_xmit_burst(tx: Ring, frames, slots: bytearray, slot_size, buf_addr, *, llq, sq,
                  max_header_size, bounce: bytearray, line, nbh, push_max, burst_limit,
                  meta_every, now):
    """Returns (consumed, doorbell tails); ``sq`` is a list of 4-word rows (host mode)."""
    c = tx.counters
    depth = tx.depth
    dbs = []
    consumed = 0
    meta = {} if meta_every else None  # all-zero context with meta_store (DISABLE_META_CACHING)
    for f in frames:
        n = len(f)
        if n == 0 or n > slot_size:
            c["prepare_ctx_err"] += 1
            consumed += 1
            continue
        if u16(tx.ntu - tx.ntc) >= depth:
            c["queue_stop"] += 1
            break
        free = depth - 1 - u16(tx.tail - tx.ntcomp)
        need = 2 if not llq else eth_io.llq_lines_for_packet(2, line, nbh)
        if free < need:
            c["queue_stop"] += 1
            break
        ids = take_ids(tx, 1)
        if ids is None:
            c["bad_req_id"] += 1
            break
        rid = ids[0]
        base = rid * slot_size
        slots[base:base + n] = f
        if llq:
            push = min(n, push_max)
            descs, _ = nd.tx_packet_descs(lambda t: 1, 0, rid, True, {}, push,
                                          [(buf_addr + base + push, n - push)], meta)
            words = [w for _t, w in descs]
            used = eth_io.llq_lines_for_packet(len(words), line, nbh)
            if burst_limit > 0 and tx.pending and tx.esd + used > burst_limit:
                dbs.append(tx.tail)
                tx.esd = 0
                tx.pending = 0
            tx.tail = nd.llq_write(bounce, tx.tail, depth, line, nbh, words, bytes(f[:push]))
        else:
            hdr = min(n, max_header_size, 255)
            descs, t = nd.tx_packet_descs(lambda t: nd.phase_of(t, depth), tx.tail, rid, True,
                                          {}, hdr, [(buf_addr + base, n)], meta)
            for idx, w in descs:
                sq[idx % depth] = [int(x) for x in w]
            used = u16(t - tx.tail)
            tx.tail = t
        tx.esd += used
        tx.pending = 1
        tx.entries[rid] = used
        tx.nbytes[rid] = n
        tx.sent_at[rid] = now
        tx.timed_out[rid] = 0
        c["cnt"] += 1
        c["bytes"] += n
        if meta is not None:
            c["meta_descs"] += 1
        consumed += 1
    if tx.pending:
        dbs.append(tx.tail)
        tx.esd = 0
        tx.pending = 0
    return consumed, dbs


def tx_clean_burst(tx: Ring, cq, budget, check_mbz):
    """Completed count, ERR_MALFORMED or ERR_BAD_REQ_ID (then nothing is consumed)."""
    tx.counters["tx_poll"] += 1
    ids = nd.cq_poll_tx(cq, tx.cq_head, tx.depth, budget, check_mbz)
    if ids == "malformed":
        return ERR_MALFORMED
    if not ids:
        return 0
    if not put_ids(tx, ids):
        tx.counters["bad_req_id"] += 1
        return ERR_BAD_REQ_ID
    for x in ids:
        tx.ntcomp = u16(tx.ntcomp + tx.entries[x])
        tx.sent_at[x] = 0.0
    tx.cq_head = u16(tx.cq_head + len(ids))
    tx.counters["completed"] += len(ids)
    return len(ids)


# ---- Rx ---------------------------------------------------------------------------------------
def csum_verdict(status: int):
    """``ena_rx_checksum`` (§5.7): ("good" | "bad" | "none", device left TCP/UDP unchecked)."""
    d = eth_io.rx_cdesc_unpack([status, 0, 0, 0])
    tcp_udp = d["l4_proto_idx"] in (12, 13)
    if d["ipv4_frag"]:
        return "none", False
    if d["l3_proto_idx"] == 8 and d["l3_csum_err"]:
        return "bad", False
    if tcp_udp and d["l4_csum_err"]:
        return "bad", False
    if tcp_udp and d["l4_csum_checked"]:
        return "good", False
    return "none", tcp_udp


CSUM_CODE = {"none": 0, "good": 1, "bad": 2}


def rx_refill(rx: Ring, sq, buf_addr, page_size, headroom, buf_len, n):
    if n <= 0:
        return 0
    ids = take_ids(rx, n)
    if ids is None:
        rx.counters["refil_partial"] += 1
        return 0
    addrs = [buf_addr + x * page_size + headroom for x in ids]
    rx.tail = nd.rx_post(sq, rx.tail, rx.depth, addrs, [buf_len] * n, ids)
    rx.counters["refills"] += 1
    rx.counters["doorbells"] += 1
    return n


class Store:
    """The Rx "skbs": one bytes blob plus a record per packet, with fixed capacities."""

    def __init__(self, max_pkts: int, max_bytes: int):
        self.max_pkts = max_pkts
        self.max_bytes = max_bytes
        self.buf = bytearray()
        self.pkts: list[dict] = []


def rx_clean_burst(rx: Ring, cq, budget, max_sgl, cap, pages: bytes, page_size, headroom,
                   copybreak, era2016, store: Store):
    """(packets, moderation bytes, err); ``cap`` = room for cdescs in one call."""
    c = rx.counters
    pkts, used = nd.cq_poll_rx(cq, rx.cq_head, rx.depth, budget, max_sgl, cap)
    if isinstance(pkts, str):
        c[{"bad_req_id": "bad_req_id", "too_many": "bad_desc_num",
           "malformed": "desc_malformed"}[pkts]] += 1
        return 0, 0, {"bad_req_id": ERR_BAD_REQ_ID, "too_many": ERR_TOO_MANY_DESCS,
                      "malformed": ERR_MALFORMED}[pkts]
    if not pkts:
        return 0, 0, 0
    total = sum(sum(p["lengths"]) for p in pkts)
    if len(store.pkts) + len(pkts) > store.max_pkts or len(store.buf) + total > store.max_bytes:
        return 0, 0, ERR_STORE_FULL
    if not put_ids(rx, [x for p in pkts for x in p["req_ids"]]):
        c["bad_req_id"] += 1
        return 0, 0, ERR_BAD_REQ_ID
    mod_bytes = 0
    for p in pkts:
        data = b""
        for j, (x, ln) in enumerate(zip(p["req_ids"], p["lengths"], strict=True)):
            s = x * page_size + headroom + (p["offset"] if j == 0 else 0)
            data += bytes(pages[s:s + ln])
        first_len = p["lengths"][0]
        if era2016:
            copied = first_len <= copybreak
        else:
            copied = len(p["req_ids"]) == 1 and len(data) <= copybreak
        verdict, unchecked = csum_verdict(p["status"])
        c["copybreak"] += int(copied)
        if verdict == "good":
            c["csum_good"] += 1
        elif verdict == "bad":
            c["csum_bad"] += 1
        elif unchecked:
            c["csum_unchecked"] += 1
        store.pkts.append(dict(off=len(store.buf), len=len(data), hash=p["hash"] & 0xFFFFFFFF,
                               status=p["status"], csum=CSUM_CODE[verdict],
                               nd=len(p["req_ids"]), flags=int(copied)))
        store.buf += data
        mod_bytes += first_len if copied else len(data)
        c["bytes"] += len(data)
    c["cnt"] += len(pkts)
    rx.cq_head = u16(rx.cq_head + used)
    rx.ntcomp = u16(rx.ntcomp + used)
    return len(pkts), mod_bytes, 0


def napi_poll(tx: Ring, tx_cq, check_mbz, rx: Ring, rx_cq, rx_sq, max_sgl, cap, pages, buf_addr,
              page_size, headroom, buf_len, refill_threshold, copybreak, era2016, store: Store,
              *, max_rounds, tx_budget, rx_budget, resume_tx_work=-1):
    """``ena_io_poll`` until NAPI completes → (rounds, completed, err_kind, err, rx doorbell
    tails, {round: pkts}, {round: bytes})."""
    dbs, rp, rb = [], {}, {}
    for rnd in range(max_rounds):
        if rnd == 0 and resume_tx_work >= 0:
            tx_work = resume_tx_work
        else:
            tx_work = tx_clean_burst(tx, tx_cq, tx_budget, check_mbz)
        if tx_work < 0:
            return rnd, False, 1, tx_work, dbs, rp, rb
        npk, mb, err = rx_clean_burst(rx, rx_cq, rx_budget, max_sgl, cap, pages, page_size,
                                      headroom, copybreak, era2016, store)
        if err:
            rp[rnd] = tx_work
            return rnd, False, 2, err, dbs, rp, rb
        if npk > 0:
            free = rx.depth - 1 - u16(rx.tail - rx.ntcomp)
            if free > refill_threshold and rx_refill(rx, rx_sq, buf_addr, page_size, headroom,
                                                     buf_len, free) > 0:
                dbs.append(rx.tail)
        rp[rnd] = npk
        rb[rnd] = mb
        if tx_work < tx_budget and npk < rx_budget:
            return rnd + 1, True, 0, 0, dbs, rp, rb
    return max_rounds, False, 0, 0, dbs, rp, rb


def snapshot(r: Ring, tx: bool = True) -> dict:
    """Everything a kernel leaves behind in one ring's state, as plain values."""
    d = dict(ntu=r.ntu, ntc=r.ntc, tail=r.tail, ntcomp=r.ntcomp, cq_head=r.cq_head,
             free_ids=list(r.free_ids), in_use=list(r.in_use), counters=dict(r.counters))
    if tx:
        d.update(esd=r.esd, pending=r.pending, entries=list(r.entries),
                 nbytes=list(r.nbytes), sent_at=list(r.sent_at), timed_out=list(r.timed_out))
    return d
