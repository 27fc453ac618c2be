"""Naive pure-Python twins of numba_kernels.descriptors/rings/llq/packet/tso.

Written for obviousness, not speed: bytes, dicts, lists, struct. Descriptor encodings come
from the reference pack/unpack in ``enatool.ena.eth_io`` (which is itself tested against the
layout tables); everything else (phase, packet grouping, LLQ lines, frame parsing, RFC 1071
checksums, TSO) is re-derived here independently of the kernels.
"""

from __future__ import annotations

import struct

import numpy as np

from enatool.ena import eth_io

# ---- ring basics ----


def phase_of(idx: int, depth: int) -> int:
    """Phase 1 on even passes over the ring, 0 on odd ones."""
    return 1 if idx % (2 * depth) < depth else 0


# ---- descriptors ----


def tx_packet_descs(phase_at, tail, req_id, comp_req, offload: dict, header_length, bufs,
                    meta: dict | None):
    """List of (free-running index, 4 words) Linux would write for one packet."""
    out = []
    t = tail
    if meta is not None:
        out.append((t, eth_io.tx_meta_desc_pack(phase=phase_at(t), first=1, **meta)))
        t = (t + 1) & 0xFFFF
    for i, (addr, length) in enumerate(bufs):
        first_data = i == 0
        kw = dict(offload) if first_data else {}
        words = eth_io.tx_desc_pack(
            length=length, req_id=req_id if first_data else 0,
            first=int(first_data and meta is None), last=int(i == len(bufs) - 1),
            comp_req=int(comp_req and first_data), phase=phase_at(t), addr=addr,
            header_length=header_length if first_data else 0, **kw)
        out.append((t, words))
        t = (t + 1) & 0xFFFF
    return out, t


def rx_post(ring, tail, depth, addrs, lengths, req_ids):
    for i, (a, ln, r) in enumerate(zip(addrs, lengths, req_ids, strict=True)):
        idx = (tail + i) & 0xFFFF
        ring[idx % depth] = eth_io.rx_desc_pack(length=ln & 0xFFFF, req_id=r, addr=a,
                                                phase=phase_of(idx, depth))
    return (tail + len(addrs)) & 0xFFFF


# ---- CQ consumers / producers ----


def cq_poll_tx(cq, head, depth, max_n, check_mbz):
    ids = []
    for n in range(max_n):
        idx = (head + n) & 0xFFFF
        d = eth_io.tx_cdesc_unpack(cq[idx % depth])
        if d["phase"] != phase_of(idx, depth):
            break
        if check_mbz and d["mbz"]:
            return "malformed"
        ids.append(d["req_id"])
    return ids


def cq_poll_rx(cq, head, depth, max_pkts, max_descs, cap):
    """Returns (packets, consumed) or (error string, consumed)."""
    pkts = []
    used = 0
    while len(pkts) < max_pkts:
        run = []
        complete = False
        while True:
            idx = (head + used + len(run)) & 0xFFFF
            d = eth_io.rx_cdesc_unpack(cq[idx % depth])
            if d["phase"] != phase_of(idx, depth):
                break
            if d["mbz7"] or d["mbz17"] or (run and d["first"]):
                return "malformed", used
            if d["req_id"] >= depth:
                return "bad_req_id", used
            run.append(d)
            if len(run) > max_descs:
                return "too_many", used
            if d["last"]:
                complete = True
                break
        if not complete or sum(len(p["req_ids"]) for p in pkts) + len(run) > cap:
            break
        pkts.append(dict(req_ids=[d["req_id"] for d in run], lengths=[d["length"] for d in run],
                         status=run[-1]["status"], hash=run[-1]["hash"],
                         offset=run[0]["offset"]))
        used += len(run)
    return pkts, used


def cq_write_tx(cq, tail, depth, req_ids, sq_heads, sub_qid):
    for i, (r, h) in enumerate(zip(req_ids, sq_heads, strict=True)):
        idx = (tail + i) & 0xFFFF
        cq[idx % depth] = eth_io.tx_cdesc_pack(req_id=r, phase=phase_of(idx, depth),
                                               sub_qid=sub_qid, sq_head_idx=h)
    return (tail + len(req_ids)) & 0xFFFF


def cq_write_rx(cq, tail, depth, bufs, parse: dict, rss_hash, sub_qid, offset):
    """bufs: [(req_id, length)]; parse: rx_cdesc_pack keyword fields for the last cdesc."""
    n = len(bufs)
    for k, (r, ln) in enumerate(bufs):
        idx = (tail + k) & 0xFFFF
        last = k == n - 1
        kw = dict(parse) if last else {}
        cq[idx % depth] = eth_io.rx_cdesc_pack(
            length=ln, req_id=r, phase=phase_of(idx, depth), first=int(k == 0), last=int(last),
            buffer=1, hash=rss_hash if last else 0, sub_qid=sub_qid,
            offset=offset if k == 0 else 0, **kw)
    return (tail + n) & 0xFFFF


# ---- SQ consumers ----


def tx_sq_fetch(sq, head, tail, depth, max_pkts, max_descs, cache: dict):
    """Returns (packets, new_head) or (error string, head_of_bad). cache: {'meta': (w0, w2)}."""
    pkts = []
    h = head
    while len(pkts) < max_pkts and h != tail:
        i = h
        d0 = eth_io.tx_desc_unpack(sq[i % depth])
        if d0["phase"] != phase_of(i, depth):
            return "phase", h
        if not d0["first"]:
            return "no_first", h
        meta = None
        if d0["meta_desc"]:
            meta = (int(sq[i % depth][0]), int(sq[i % depth][2]))
            i = (i + 1) & 0xFFFF
        first_data = i
        count = 0
        done = False
        while i != tail:
            d = eth_io.tx_desc_unpack(sq[i % depth])
            if d["phase"] != phase_of(i, depth):
                return "phase", h
            if d["meta_desc"] or (d["first"] and (meta is not None or count)):
                return "malformed", h
            count += 1
            if count > max_descs:
                return "too_many", h
            i = (i + 1) & 0xFFFF
            if d["last"]:
                done = True
                break
        if not done:
            break
        if meta is not None:
            eff = meta
            if eth_io.tx_meta_desc_unpack([meta[0], 0, meta[1], 0])["meta_store"]:
                cache["meta"] = meta
        else:
            eff = cache.get("meta", (0, 0))
        pkts.append(dict(first=first_data, ndata=count, nmeta=int(meta is not None), meta=eff))
        h = i
    return pkts, h


def rx_sq_fetch(sq, head, tail, depth, max_n):
    out = []
    n = min(max_n, (tail - head) & 0xFFFF)
    for i in range(n):
        idx = (head + i) & 0xFFFF
        d = eth_io.rx_desc_unpack(sq[idx % depth])
        if d["phase"] != phase_of(idx, depth):
            return "phase", idx
        out.append((d["addr"], d["length"] or 65536, d["req_id"]))
    return out, (head + n) & 0xFFFF


# ---- req_id free ring ----


class ReqIdRing:
    """The driver's free_ids array with next_to_use / next_to_clean (§5.8)."""

    def __init__(self, depth: int):
        self.depth = depth
        self.free_ids = list(range(depth))
        self.outstanding: set[int] = set()
        self.ntu = 0
        self.ntc = 0

    def take(self, n):
        ids = [self.free_ids[(self.ntu + i) % self.depth] for i in range(n)]
        self.outstanding.update(ids)
        self.ntu = (self.ntu + n) & 0xFFFF
        return ids

    def put(self, ids):
        seen = set()
        for r in ids:
            if r >= self.depth or r not in self.outstanding or r in seen:
                return "bad_req_id"
            seen.add(r)
        for i, r in enumerate(ids):
            self.free_ids[(self.ntc + i) % self.depth] = r
            self.outstanding.discard(r)
        self.ntc = (self.ntc + len(ids)) & 0xFFFF
        return self.ntc


# ---- LLQ ----


def llq_lines(descs: list[bytes], header: bytes, n_before: int, line_size: int) -> list[bytes]:
    """Lines (without phase handling) for one packet: first line, then continuation lines."""
    first = b"".join(descs[:n_before]).ljust(16 * n_before, b"\0") + header
    lines = [first.ljust(line_size, b"\0")]
    rest = descs[n_before:]
    per = line_size // 16
    for k in range(0, len(rest), per):
        lines.append(b"".join(rest[k:k + per]).ljust(line_size, b"\0"))
    return lines


def desc_bytes(words, phase: int) -> bytes:
    w = [int(x) for x in words]
    w[0] = (w[0] & ~(1 << 24)) | (phase << 24)
    return struct.pack("<4I", *w)


def llq_write(area: bytearray, tail, depth, line_size, n_before, desc_words, header):
    if len(header) > line_size - 16 * n_before:
        return "header_too_long"
    per = line_size // 16
    # line of each descriptor: first n_before in line 0, then per line
    line_of = [0 if k < n_before else 1 + (k - n_before) // per for k in range(len(desc_words))]
    descs = [desc_bytes(w, phase_of((tail + line_of[k]) & 0xFFFF, depth))
             for k, w in enumerate(desc_words)]
    lines = llq_lines(descs, bytes(header), n_before, line_size)
    for j, line in enumerate(lines):
        slot = ((tail + j) & 0xFFFF) % depth
        area[slot * line_size:(slot + 1) * line_size] = line
    return (tail + len(lines)) & 0xFFFF


def llq_read(area: bytes, head, depth, line_size, n_before):
    """(list of 4-word descriptors, header bytes, lines used) of the packet at ``head``."""
    per = line_size // 16
    descs = []
    line = head
    positions = [(line, k) for k in range(n_before)]
    hdr_len = None
    j = 0
    while True:
        if j >= len(positions):
            line = (line + 1) & 0xFFFF
            positions += [(line, k) for k in range(per)]
        ln, k = positions[j]
        slot = ln % depth
        off = slot * line_size + 16 * k
        w = list(struct.unpack("<4I", bytes(area[off:off + 16])))
        descs.append(w)
        is_meta = (w[0] >> 23) & 1
        if hdr_len is None and not is_meta:
            hdr_len = w[3] >> 24
        j += 1
        if (w[0] >> 27) & 1 and not is_meta:
            break
    base = (head % depth) * line_size + 16 * n_before
    return descs, bytes(area[base:base + hdr_len]), ((line - head) & 0xFFFF) + 1


# ---- frames ----


def rfc1071(data: bytes) -> int:
    """Folded ones'-complement sum (not complemented)."""
    if len(data) % 2:
        data = data + b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def parse(frame: bytes) -> dict | None:
    """Minimal parse: None on anything short/malformed; dict of offsets otherwise."""
    if len(frame) < 14:
        return None
    off = 12
    vlan = 0
    (et,) = struct.unpack_from("!H", frame, off)
    if et in (0x8100, 0x88A8):
        if len(frame) < 18:
            return None
        vlan = 1
        off = 16
        (et,) = struct.unpack_from("!H", frame, off)
    l3 = off + 2
    r = dict(vlan=vlan, ethertype=et, l3=l3, l3_proto=0, l4_proto=0, frag=0, df=0, l4=0,
             l4_hlen=0, ip_proto=-1, v6ext=0, addr_len=0, sport=0, dport=0)
    if et == 0x0800:
        if len(frame) < l3 + 20:
            return None
        ihl = (frame[l3] & 15) * 4
        (tot,) = struct.unpack_from("!H", frame, l3 + 2)
        if frame[l3] >> 4 != 4 or ihl < 20 or tot < ihl or l3 + tot > len(frame):
            return None
        (fr,) = struct.unpack_from("!H", frame, l3 + 6)
        r.update(l3_proto=8, l3_hlen=ihl, ip_end=l3 + tot, ip_proto=frame[l3 + 9],
                 frag=int(bool(fr & 0x3FFF)), df=(fr >> 14) & 1, src=l3 + 12, addr_len=4)
        l4 = l3 + ihl if (fr & 0x1FFF) == 0 else 0
    elif et == 0x86DD:
        if len(frame) < l3 + 40 or frame[l3] >> 4 != 6:
            return None
        (pl,) = struct.unpack_from("!H", frame, l3 + 4)
        if l3 + 40 + pl > len(frame):
            return None
        nh = frame[l3 + 6]
        ext = nh in (0, 43, 44, 50, 51, 60, 135, 139, 140, 253, 254)
        r.update(l3_proto=11, l3_hlen=40, ip_end=l3 + 40 + pl, ip_proto=nh, src=l3 + 8,
                 addr_len=16, v6ext=int(ext))
        l4 = 0 if ext else l3 + 40
    else:
        return r
    if l4 and r["ip_proto"] in (6, 17):
        if r["ip_proto"] == 6:
            if l4 + 20 > r["ip_end"]:
                return None
            hl = (frame[l4 + 12] >> 4) * 4
            if hl < 20 or l4 + hl > r["ip_end"]:
                return None
        else:
            hl = 8
            if l4 + 8 > r["ip_end"]:
                return None
        sp, dp = struct.unpack_from("!HH", frame, l4)
        r.update(l4=l4, l4_hlen=hl, l4_proto=12 if r["ip_proto"] == 6 else 13, sport=sp,
                 dport=dp)
    return r


def pseudo_header(frame: bytes, r: dict, l4_len: int) -> bytes:
    a = r["addr_len"]
    addrs = frame[r["src"]:r["src"] + 2 * a]
    if a == 4:
        return addrs + struct.pack("!BBH", 0, r["ip_proto"], l4_len)
    return addrs + struct.pack("!IxxxB", l4_len, r["ip_proto"])


def checksums(frame: bytes):
    """(l3 result, l4 result): 1 ok, 0 bad, -1 not applicable / not checked."""
    r = parse(frame)
    if r is None:
        return -1, -1
    l3 = -1
    if r["l3_proto"] == 8:
        l3 = int(rfc1071(frame[r["l3"]:r["l3"] + r["l3_hlen"]]) == 0xFFFF)
    if not r["l4_proto"] or r["frag"]:
        return l3, -1
    seg = frame[r["l4"]:r["ip_end"]]
    if r["l4_proto"] == 13 and seg[6:8] == b"\0\0":
        return l3, (-1 if r["l3_proto"] == 8 else 0)
    return l3, int(rfc1071(pseudo_header(frame, r, len(seg)) + seg) == 0xFFFF)


def tx_offload(frame: bytes, l3_csum_en: bool, l4_csum_en: bool, partial: bool) -> bytes:
    f = bytearray(frame)
    r = parse(frame)
    if r is None:
        return f
    if l3_csum_en and r["l3_proto"] == 8:
        a = r["l3"]
        f[a + 10:a + 12] = b"\0\0"
        f[a + 10:a + 12] = struct.pack("!H", 0xFFFF ^ rfc1071(bytes(f[a:a + r["l3_hlen"]])))
    if l4_csum_en and r["l4_proto"] and not r["frag"]:
        fo = r["l4"] + (16 if r["l4_proto"] == 12 else 6)
        if not partial:
            f[fo:fo + 2] = b"\0\0"
        seg = bytes(f[r["l4"]:r["ip_end"]])
        pre = b"" if partial else pseudo_header(bytes(f), r, len(seg))
        c = 0xFFFF ^ rfc1071(pre + seg)
        if c == 0 and r["l4_proto"] == 13:
            c = 0xFFFF
        f[fo:fo + 2] = struct.pack("!H", c)
    return f


def tso(frame: bytes, mss: int) -> list[bytes]:
    """Linux-GSO style segmentation of a TCP frame (headers copied and fixed per segment)."""
    r = parse(frame)
    l3, l4 = r["l3"], r["l4"]
    hdr = l4 + r["l4_hlen"]
    payload = frame[hdr:r["ip_end"]]
    chunks = [payload[i:i + mss] for i in range(0, len(payload), mss)] or [b""]
    (seq,) = struct.unpack_from("!I", frame, l4 + 4)
    (ip_id,) = struct.unpack_from("!H", frame, l3 + 4)
    segs = []
    for i, ch in enumerate(chunks):
        h = bytearray(frame[:hdr])
        if r["l3_proto"] == 8:
            struct.pack_into("!HH", h, l3 + 2, hdr - l3 + len(ch), (ip_id + i) & 0xFFFF)
            struct.pack_into("!H", h, l3 + 10, 0)
            struct.pack_into("!H", h, l3 + 10, 0xFFFF ^ rfc1071(bytes(h[l3:l3 + r["l3_hlen"]])))
        else:
            struct.pack_into("!H", h, l3 + 4, hdr - l3 - 40 + len(ch))
        struct.pack_into("!I", h, l4 + 4, (seq + i * mss) & 0xFFFFFFFF)
        flags = h[l4 + 13]
        if i < len(chunks) - 1:
            flags &= ~0x09
        if i > 0:
            flags &= ~0x80
        h[l4 + 13] = flags
        h[l4 + 16:l4 + 18] = b"\0\0"
        seg = bytes(h[l4:]) + ch
        c = 0xFFFF ^ rfc1071(pseudo_header(bytes(h), r, len(seg)) + seg)
        struct.pack_into("!H", h, l4 + 16, c)
        segs.append(bytes(h) + ch)
    return segs


# ---- frame builders used by the tests ----


def build_frame(*, ipv6=False, vlan=False, proto=6, payload=b"", ip_opts=b"", tcp_opts=b"",
                frag=0, tcp_flags=0x18, seq=1000, ip_id=0x1234, sport=1234, dport=80,
                pad=0, fill_csums=True, df=True, nh=None) -> bytes:
    """Ethernet (+VLAN) / IPv4|IPv6 / TCP|UDP frame with correct checksums."""
    eth = bytes.fromhex("020000000001020000000002")
    if vlan:
        eth += struct.pack("!HH", 0x8100, 42)
    eth += struct.pack("!H", 0x86DD if ipv6 else 0x0800)
    if proto == 6:
        doff = (20 + len(tcp_opts)) // 4
        l4 = struct.pack("!HHIIBBHHH", sport, dport, seq, 7, doff << 4, tcp_flags, 65535, 0,
                         0) + tcp_opts
    elif proto == 17:
        l4 = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    else:
        l4 = b""
    seg = l4 + payload
    if ipv6:
        ip = struct.pack("!IHBB", 6 << 28, len(seg), proto if nh is None else nh, 64)
        ip += bytes(range(1, 17)) + bytes(range(17, 33))
    else:
        ihl = (20 + len(ip_opts)) // 4
        fr = frag | (0x4000 if df else 0)
        ip = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(seg), ip_id, fr, 64,
                         proto, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) + ip_opts
    frame = eth + ip + seg + b"\0" * pad
    if fill_csums:
        frame = bytes(tx_offload(frame, True, proto in (6, 17), False))
    return frame


def as_u8(data: bytes, extra: int = 0) -> np.ndarray:
    a = np.zeros(len(data) + extra, dtype=np.uint8)
    a[:len(data)] = np.frombuffer(bytes(data), dtype=np.uint8)
    return a
