"""Naive pure-Python twins of numba_kernels.device_dp: Rx classify (status, RSS hash, queue),
Tx packet info, LLQ burst fetch and frame build (gather, checksum/TSO offloads, padding,
wire layout), Rx scatter, byte copy and the 16-bit ones'-complement sum. Re-derived from
INTERFACE.md §5–§8, §15 with the naive parser, checksums, Tx offload and TSO of
:mod:`naive.naive_datapath` and bit-by-bit Toeplitz."""

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


# ---- Tx: gather, offload and wire layout ------------------------------------------------------
TXS_OK, TXS_DROP_HEADER, TXS_DROP_TOO_BIG, TXS_OFFLOAD_ERR = 0, 1, 2, 3  # pkt_status / counts
MIN_FRAME = 60  # shortest frame on the wire (§15): shorter ones are zero-padded


def tso_segments(frame: bytes, mss: int, max_segs: int, seg_cap: int) -> list[bytes] | None:
    """TSO of ``frame`` by ``mss`` (naive GSO), or None when the device cannot segment it:
    not unfragmented TCP over IPv4/IPv6, or more than ``max_segs`` segments / ``seg_cap``
    bytes of segments."""
    r = nd.parse(frame)
    if r is None or r["l4_proto"] != 12 or r["frag"]:
        return None
    segs = nd.tso(frame, mss)
    if len(segs) > max_segs or sum(len(s) for s in segs) > seg_cap:
        return None
    return segs


def csum_offloads(frame: bytes, l3: bool, l4: bool, partial: bool) -> tuple[bytes, bool]:
    """(frame after the descriptor's checksum offloads, applied?). A frame that does not
    parse, or an L4 checksum asked for a non-TCP/UDP packet or an IPv4 fragment, is sent
    unchanged (no offload at all) and reported."""
    if not (l3 or l4):
        return frame, True
    r = nd.parse(frame)
    if r is None or (l4 and (not r["l4_proto"] or r["frag"])):
        return frame, False
    return bytes(nd.tx_offload(frame, l3, l4, partial)), True


def tx_build_frames(descs, mask: int, pkts, use_headers: bool, start_pkt: int,
                    mem: HostMemory, work_cap: int, max_segs: int, seg_cap: int,
                    out: bytearray, out_cap: int, frames: list, max_frames: int,
                    pkt_status: list, counts: list):
    """Wire frames of packets ``pkts[start_pkt:]`` (§5.3, §5.4, §6, §15), appended to ``out``
    (at most ``out_cap`` bytes) with their (offset, length) appended to ``frames`` (at most
    ``max_frames``). A packet is dict(first, ndata, meta=(w0, w2), header, status): its
    data descriptors are ``descs[(first + k) & mask]``; ``status < 0`` is an LLQ header
    drop. The frame is the pushed header (``use_headers``) and the data buffers read from
    ``mem`` (zero-length buffers are not read); more than ``work_cap`` bytes is a drop. The
    first data descriptor's tso_en with the meta's MSS > 0 sends the TSO segments; a frame
    that cannot be segmented is reported and sent as one frame with the checksum offloads.
    ``pkt_status[p]``/``counts`` get TXS_* codes. Returns ``(next packet, None)`` when done,
    ``(p, "out_full")`` when packet p's frames do not fit (nothing of p written: call again
    from p with more room) or ``(p, "dma")`` for a buffer outside ``mem``."""
    from enatool.ena import eth_io

    for p in range(start_pkt, len(pkts)):
        pk = pkts[p]
        if pk["status"] < 0:
            pkt_status[p] = TXS_DROP_HEADER
            counts[TXS_DROP_HEADER] += 1
            continue
        rows = [eth_io.tx_desc_unpack(descs[(pk["first"] + k) & mask])
                for k in range(pk["ndata"])]
        data = bytearray(pk["header"] if use_headers else b"")
        too_big = False
        for dsc in rows:
            n = dsc["length"]
            if n == 0:
                continue
            off = dsc["addr"] - mem.bus_base
            if not mem.ok(off, n):
                return p, "dma"
            if len(data) + n > work_cap:
                too_big = True
                break
            data += mem.arena[off:off + n]
        if too_big:
            pkt_status[p] = TXS_DROP_TOO_BIG
            counts[TXS_DROP_TOO_BIG] += 1
            continue
        first = rows[0]
        mss = eth_io.tx_meta_desc_unpack([pk["meta"][0], 0, pk["meta"][1], 0])["mss"]
        status = TXS_OK
        wire = None
        if first["tso_en"] and mss > 0:
            wire = tso_segments(bytes(data), mss, max_segs, seg_cap)
            if wire is None:
                status = TXS_OFFLOAD_ERR
        if wire is None:
            frame, ok = csum_offloads(bytes(data), bool(first["l3_csum_en"]),
                                      bool(first["l4_csum_en"]),
                                      bool(first["l4_csum_partial"]))
            if not ok:
                status = TXS_OFFLOAD_ERR
            wire = [frame]
        wire = [w.ljust(MIN_FRAME, b"\0") for w in wire]
        if (len(out) + sum(len(w) for w in wire) > out_cap
                or len(frames) + len(wire) > max_frames):
            return p, "out_full"
        for w in wire:
            frames.append((len(out), len(w)))
            out += w
        pkt_status[p] = status
        counts[status] += 1
    return len(pkts), None


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


# ---- Tx: the LLQ fast path (numba_kernels.device_llq) -----------------------------------------
def llq_fetch_build_simple(area: bytes, head: int, tail: int, depth: int, line_size: int,
                           n_before: int, max_pkts: int, cache: dict):
    """The leading run of header-only one-line packets from line ``head``: an optional meta
    descriptor (first) then one data descriptor with last, buffer length 0, no offload bit,
    everything in the phase of its line, a header of 1..line - 16 N bytes. Returns
    ([(req_id, comp_req, sq_head, wire frame)], new head); the frame is the header
    zero-padded to MIN_FRAME. A meta with meta_store goes to ``cache['meta']`` (w0, w2)."""
    from enatool.ena import eth_io

    def words_at(off):
        return [int.from_bytes(area[off + 4 * i: off + 4 * i + 4], "little") for i in range(4)]

    out = []
    h = head
    if n_before < 1:
        return out, h
    while len(out) < max_pkts and h != tail:
        base = (h % depth) * line_size
        phase = nd.phase_of(h, depth)
        first = eth_io.tx_desc_unpack(words_at(base))
        meta = None
        if first["meta_desc"]:
            if n_before < 2:
                break
            meta = words_at(base)
            d = eth_io.tx_desc_unpack(words_at(base + 16))
        else:
            d = first
        hl = d["header_length"]
        if (first["phase"] != phase or not first["first"] or d["phase"] != phase
                or d["meta_desc"] or not d["last"] or d["length"] != 0
                or d["tso_en"] or d["l3_csum_en"] or d["l4_csum_en"]
                or not 0 < hl <= line_size - 16 * n_before):
            break
        if meta is not None and eth_io.tx_meta_desc_unpack(meta)["meta_store"]:
            cache["meta"] = (meta[0], meta[2])
        start = base + 16 * n_before
        frame = bytes(area[start:start + hl]).ljust(MIN_FRAME, b"\0")
        h = (h + 1) & 0xFFFF
        out.append((d["req_id"], d["comp_req"], h, frame))
    return out, h
