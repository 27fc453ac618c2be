"""The kernel's side of a veth test bed: a UDP socket on side b drained by a thread, and the
UDP counters of /proc/net/snmp (what the receiving kernel accepted or rejected)."""

from __future__ import annotations

import socket
import threading
import time


def udp_snmp(bed) -> dict[str, int]:
    """The ``Udp:`` counters of side b's namespace (InDatagrams, InCsumErrors, ...)."""
    lines = [ln.split() for ln in bed.run("b", "cat", "/proc/net/snmp").stdout.splitlines()
             if ln.startswith("Udp:")]
    return dict(zip(lines[0][1:], map(int, lines[1][1:]), strict=True))


class UdpCollector:
    """A kernel UDP socket on side b (the share an XDP filter leaves to the kernel)."""

    def __init__(self, bed, port: int):
        from enatool.backends.afxdp.xdp import run_in_netns

        self.sock = run_in_netns(bed.ns_b, socket.socket, socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((bed.addr_b, port))
        self.sock.settimeout(0.2)
        self.payloads: list[bytes] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.is_set():
            try:
                self.payloads.append(self.sock.recv(2048))
            except TimeoutError:
                continue

    def wait(self, n: int, timeout: float = 10) -> None:
        """Until ``n`` payloads arrived or ``timeout`` seconds passed."""
        end = time.monotonic() + timeout
        while len(self.payloads) < n and time.monotonic() < end:
            time.sleep(0.02)

    def close(self) -> None:
        self.done.set()
        self.thread.join()
        self.sock.close()
