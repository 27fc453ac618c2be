"""Naive pure-Python twins of numba_kernels.device_dp: Rx classify (status, RSS hash, queue),
byte copy and the 16-bit ones'-complement sum. Re-derived from INTERFACE.md §5.7 / §8 with
the naive parser and checksums of :mod:`naive.naive_datapath` and bit-by-bit Toeplitz."""

from __future__ import annotations

from naive import naive_datapath as nd
from naive import rss as nrss

# §8 flow types and field bits (same numbers as the device's hash-input table)
FLOW_TCP4, FLOW_UDP4, FLOW_TCP6, FLOW_UDP6, FLOW_IP4, FLOW_IP6, FLOW_IP4_FRAG = 0, 1, 2, 3, 4, 5, 6
FLOW_NOT_IP, FLOW_IP6_EX = 7, 9
L2_DA, L2_SA, L3_DA, L3_SA, L4_DP, L4_SP = 1, 2, 4, 8, 16, 32


def copy_bytes(dst: bytearray, doff: int, src: bytes, soff: int, n: int) -> None:
    dst[doff:doff + n] = src[soff:soff + n]


def sum_be16(data: bytes, acc: int = 0) -> int:
    """Unfolded sum of big-endian words (odd byte padded)."""
    if len(data) % 2:
        data = data + b"\0"
    return acc + sum((data[i] << 8) | data[i + 1] for i in range(0, len(data), 2))


def status_word(frame: bytes) -> int:
    """Rx cdesc parse bits (§5.7) the device reports for ``frame``."""
    r = nd.parse(frame)
    if r is None:
        # a frame the device cannot parse: only what the Ethernet header tells
        return 0
    l3, l4 = nd.checksums(frame)
    s = r["l3_proto"] | (r["vlan"] << 5) | (r["l4_proto"] << 8)
    if r["l3_proto"] == 8 and l3 == 0:
        s |= 1 << 13
    if l4 == 0:
        s |= 1 << 14
    if r["frag"]:
        s |= 1 << 15
    if l4 >= 0:
        s |= 1 << 16
    return s


def flow_type(r: dict | None) -> int:
    if r is None or r["l3_proto"] == 0:
        return FLOW_NOT_IP
    if r["l3_proto"] == 8:
        if r["frag"]:
            return FLOW_IP4_FRAG
        return {12: FLOW_TCP4, 13: FLOW_UDP4}.get(r["l4_proto"], FLOW_IP4)
    if r["v6ext"]:
        return FLOW_IP6_EX
    return {12: FLOW_TCP6, 13: FLOW_UDP6}.get(r["l4_proto"], FLOW_IP6)


def hash_input(frame: bytes, fields, sort_l3: bool, sort_l4: bool) -> bytes:
    r = nd.parse(frame)
    flow = flow_type(r)
    f = int(fields[flow])
    if flow == FLOW_NOT_IP:
        if len(frame) < 12:
            return b""
        return (frame[6:12] if f & L2_SA else b"") + (frame[0:6] if f & L2_DA else b"")
    a = r["addr_len"]
    s, d = frame[r["src"]:r["src"] + a], frame[r["src"] + a:r["src"] + 2 * a]
    ports = frame[r["l4"]:r["l4"] + 4] if r["l4"] and r["l4_proto"] else b"\0" * 4
    sp, dp = ports[:2], ports[2:]
    if sort_l3 and d < s:
        s, d = d, s
    if sort_l4 and dp < sp:
        sp, dp = dp, sp
    return ((s if f & L3_SA else b"") + (d if f & L3_DA else b"") + (sp if f & L4_SP else b"")
            + (dp if f & L4_DP else b""))


def rx_classify(frames, eff_key: bytes, init_value: int, fields, sort_l3: bool, sort_l4: bool,
                replicate16: bool, table):
    """[(status bits, hash, queue)] per frame with Toeplitz RSS."""
    out = []
    for fr in frames:
        h = nrss.toeplitz(eff_key, hash_input(fr, fields, sort_l3, sort_l4), init_value)
        h &= 0xFFFFFFFF
        if replicate16:
            h = ((h & 0xFFFF) << 16) | (h & 0xFFFF)
        out.append((status_word(fr), h, int(table[h % len(table)])))
    return out


# ---- Tx: packet info and LLQ burst fetch ------------------------------------------------------
def tx_packet_info(sq, depth: int, first_idx, ndata):
    """Host mode: [(req_id, comp_req, SQ head after the packet)] from each packet's first data
    descriptor (free-running index ``first_idx[p]``)."""
    from enatool.ena import eth_io

    out = []
    for fi, n in zip(first_idx, ndata, strict=True):
        d = eth_io.tx_desc_unpack(sq[fi % depth])
        out.append((d["req_id"], d["comp_req"], (fi + n) & 0xFFFF))
    return out


def llq_fetch_burst(area: bytes, head: int, tail: int, depth: int, line_size: int,
                    n_before: int, max_pkts: int, max_descs: int, cache: dict):
    """LLQ packets between lines ``head`` and ``tail`` (§6): ([packet dict], new head) or
    (error string, head of the bad packet). A packet whose pushed header does not fit the
    first line is reported with status "header_too_long" (req_id/comp_req only, meta cache
    untouched); an incomplete last packet ends the burst. cache: {'meta': (w0, w2)}."""
    from enatool.ena import eth_io

    pkts = []
    h = head
    while len(pkts) < max_pkts and h != tail:
        descs, header, used = nd.llq_read(area, h, depth, line_size, n_before)
        if used > ((tail - h) & 0xFFFF):
            break  # its last line is not written yet
        nh = (h + used) & 0xFFFF
        has_meta = bool(eth_io.tx_desc_unpack(descs[0])["meta_desc"])
        data = descs[1:] if has_meta else descs
        first = eth_io.tx_desc_unpack(data[0])
        p = dict(req_id=first["req_id"], comp_req=first["comp_req"], sq_head=nh)
        if first["header_length"] > line_size - 16 * n_before:
            p.update(status="header_too_long")
            pkts.append(p)
            h = nh
            continue
        if len(data) > max_descs:
            return "too_many", h
        if has_meta:
            meta = (descs[0][0], descs[0][2])
            if eth_io.tx_meta_desc_unpack([meta[0], 0, meta[1], 0])["meta_store"]:
                cache["meta"] = meta
        else:
            meta = cache.get("meta", (0, 0))
        p.update(status="ok", descs=data, meta=meta, header=header)
        pkts.append(p)
        h = nh
    return pkts, h


# ---- Rx: scatter over posted buffers ----------------------------------------------------------
RX_COUNTERS = ("pkts", "bytes", "drops", "overruns", "too_many_bufs", "cdescs")
PARSE_FIELDS = ("l3_proto_idx", "src_vlan_cnt", "l4_proto_idx", "l3_csum_err", "l4_csum_err",
                "ipv4_frag", "l4_csum_checked", "l3_csum2")


class HostMemory:
    """DMA-able host memory: a byte arena at ``bus_base`` with live allocations
    [(start, end)) in arena offsets; an access must lie inside one allocation."""

    def __init__(self, arena: bytearray, bus_base: int, allocations):
        self.arena, self.bus_base, self.allocations = arena, bus_base, list(allocations)

    def ok(self, off: int, n: int) -> bool:
        return any(s <= off and off + n <= e for s, e in self.allocations)


def rx_deliver(frames, sel, status, hashes, sq, sq_depth, sq_head, sq_tail, cq, cq_depth,
               cq_tail, mem: HostMemory, rx_offset, max_bufs, sub_qid, counts: dict):
    """Frames ``sel`` (indices into ``frames``) over the posted buffers (§5.6, §5.7, §15):
    each takes buffers from the head until they hold it (the first one ``rx_offset`` bytes
    in), one completion per buffer; a frame that does not fit the posted buffers, or needs
    more than ``max_bufs``, is dropped without consuming any. Returns (sq_head, cq_tail,
    error or None)."""
    from enatool.ena import eth_io

    h, t = sq_head, cq_tail
    for f in sel:
        frame = frames[f]
        need = len(frame)
        avail = (sq_tail - h) & 0xFFFF
        if avail == 0:
            counts["drops"] += 1
            continue
        bufs = []  # (bus address, room, req_id, skip)
        room_total = 0
        for k in range(min(avail, max_bufs + 1)):
            if room_total >= need:
                break
            idx = (h + k) & 0xFFFF
            d = eth_io.rx_desc_unpack(sq[idx % sq_depth])
            if d["phase"] != nd.phase_of(idx, sq_depth):
                return h, t, "malformed"
            size = d["length"] or 65536
            skip = rx_offset if k == 0 else 0
            room = max(size - skip, 0)
            bufs.append((d["addr"], room, d["req_id"], skip))
            room_total += room
        if room_total < need:
            counts["drops"] += 1
            counts["too_many_bufs" if len(bufs) > max_bufs else "overruns"] += 1
            continue
        if len(bufs) > max_bufs:
            counts["drops"] += 1
            counts["too_many_bufs"] += 1
            continue
        done = []
        pos = 0
        for addr, room, rid, skip in bufs:
            c = min(room, need - pos)
            off = addr - mem.bus_base + skip
            if not mem.ok(off, c):
                return h, t, "dma"
            mem.arena[off:off + c] = frame[pos:pos + c]
            pos += c
            done.append((rid, c))
        parse = {k: v for k, v in eth_io.rx_cdesc_unpack([status[f], 0, 0, 0]).items()
                 if k in PARSE_FIELDS}
        t = nd.cq_write_rx(cq, t, cq_depth, done, parse, hashes[f], sub_qid, rx_offset)
        h = (h + len(bufs)) & 0xFFFF
        counts["pkts"] += 1
        counts["bytes"] += need
        counts["cdescs"] += len(bufs)
    return h, t, None
