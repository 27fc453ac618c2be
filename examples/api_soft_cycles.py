"""Flat-out 64 B traffic across the software pair with ``SoftBackend.run_cycles``: each cycle
queues a burst on end 0, lets 100 µs of virtual time pass and takes what end 1 received. In
the steady state the cycles run in one compiled loop (numba_kernels/softpair.py) that moves
the same rings, interrupts and DIM state as the Python path; anything else (the 1 Hz timer,
keep-alives) is handled by the Python path between compiled stretches."""

import time

import numpy as np

from enatool.backends.soft import SoftBackend


def csum(data: bytes) -> int:
    """Internet checksum (RFC 1071)."""
    s = sum(int.from_bytes(data[k:k + 2], "big") for k in range(0, len(data), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


# 256 UDP/IPv4 frames of 64 bytes on the wire (60 + FCS), 10.0.0.1 -> 10.0.0.2, ports 1024..
frames = []
src, dst = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
for i in range(256):
    ip = bytearray(bytes.fromhex("4500002e00000000401100000000000000000000"))
    ip[12:16], ip[16:20] = src, dst
    ip[10:12] = csum(bytes(ip)).to_bytes(2, "big")
    udp = bytearray((1024 + i).to_bytes(2, "big") + (9).to_bytes(2, "big")
                    + (26).to_bytes(2, "big") + bytes(2) + bytes(18))
    pseudo = src + dst + bytes([0, 17]) + (26).to_bytes(2, "big")
    udp[6:8] = csum(pseudo + bytes(udp)).to_bytes(2, "big")
    frames.append(bytes.fromhex("020000000002020000000001" "0800") + bytes(ip) + bytes(udp))
lens = np.array([len(f) for f in frames], np.int64)
offs = np.concatenate(([0], np.cumsum(lens)[:-1])).astype(np.int64)
buf = np.frombuffer(b"".join(frames), np.uint8).copy()

with SoftBackend(queues=1) as pair:
    pair.run_cycles(buf, offs, lens, 10)  # compiles the loop once (cached on disk after)
    t0 = time.perf_counter()
    r = pair.run_cycles(buf, offs, lens, 4000)  # 0.4 s of virtual time
    wall = time.perf_counter() - t0
    print(f"sent {r.sent}, received {r.rx_pkts} ({r.rx_csum_good} with a good checksum "
          f"verdict), {r.compiled_cycles}/{r.cycles} cycles compiled, "
          f"{r.rx_pkts / wall / 1e6:.1f} Mpps wall")
    stats = pair.stats(end=1)
    print("peer: rx_copybreak_pkt", stats["queue_0_rx_rx_copybreak_pkt"],
          "interrupts", stats["queue_0_tx_interrupts"], "rx_overruns", stats["rx_overruns"])
