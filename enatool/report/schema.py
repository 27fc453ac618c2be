"""Versioned JSON summary schemas of ``enatool gen`` and ``enatool sink``.

Field names are a contract (ARCHITECTURE.md: names never change silently): add fields freely,
but renaming or removing one bumps ``SCHEMA_VERSION``. Every field is documented in
``GEN_FIELDS`` / ``SINK_FIELDS`` (every backend) and ``IFACE_FIELDS`` (what gen and sink on a
real interface add); :func:`missing_fields` is what the tests check.

Units: sizes and ``bytes`` are frame bytes without FCS (``size`` = frame + 4 B FCS);
``wire_bits`` and ``wire_bps`` count what occupies the wire: (frame + 24 B) * 8 (FCS 4,
preamble+SFD 8, inter-frame gap 12). Times are the backend's clock (virtual on ``soft``).
"""

from __future__ import annotations

from typing import Any, TypedDict

SCHEMA_VERSION = 1


class QueueCounters(TypedDict):
    queue: int
    packets: int
    bytes: int


class GenSummary(TypedDict):
    schema_version: int
    program: str
    backend: str
    end: int
    queues: list[int]
    fill_mode: str
    traffic: dict[str, Any]
    stopped_by: str
    duration_s: float
    packets: int
    bytes: int
    wire_bits: int
    probed: int
    pps: float
    wire_bps: float
    requested_pps: float | None
    requested_bps: float | None
    rate_ratio: float | None
    tx_ring_full: int
    drops: int
    errors: int
    per_queue: list[QueueCounters]


class SinkQueueCounters(TypedDict):
    queue: int
    packets: int
    bytes: int
    probes: int
    foreign: int
    unknown_flow: int
    csum_errors: int


class DelayStats(TypedDict):
    count: int
    min_ns: int | None
    mean_ns: float | None
    max_ns: int | None


class SinkSummary(TypedDict):
    schema_version: int
    program: str
    backend: str
    end: int
    queues: list[int]
    stopped_by: str
    duration_s: float
    packets: int
    bytes: int
    wire_bits: int
    pps: float
    wire_bps: float
    probes: int
    flows_seen: int
    lost: int
    reordered: int
    duplicates: int
    late: int
    loss_ratio: float | None
    foreign: int
    unknown_flow: int
    csum_errors: int
    drops: int
    errors: int
    one_way_delay: DelayStats
    per_queue: list[SinkQueueCounters]


_COMMON = {
    "schema_version": "version of this schema (bumped when a field changes meaning or goes)",
    "program": "'gen' or 'sink'",
    "backend": "backend name (soft, afxdp, ...)",
    "end": "which end of the backend (0 local, 1 peer)",
    "queues": "queue numbers used",
    "stopped_by": "'count', 'duration' or 'interrupt'",
    "duration_s": "backend-clock seconds the run took (from start to stop)",
    "packets": "frames handled",
    "bytes": "frame bytes handled (no FCS)",
    "wire_bits": "bits on the wire: (frame + 24 B) * 8 summed",
    "pps": "packets / duration_s",
    "wire_bps": "wire_bits / duration_s",
    "per_queue": "per-queue counters, one object per queue",
}

GEN_FIELDS: dict[str, str] = {
    **_COMMON,
    "fill_mode": "field engine mode: 'full' or 'fields'",
    "traffic": "what was sent: ipv6, proto, vlan, sizes [[size, weight]], flows",
    "probed": "frames that carried a probe header",
    "requested_pps": "--rate, or null",
    "requested_bps": "--bitrate (wire bits/s), or null",
    "rate_ratio": "achieved / requested (pps or wire bps), or null without a rate",
    "tx_ring_full": "times the backend took fewer frames than offered (retried, not lost)",
    "drops": "increase of the backend's *drop* counters during the run",
    "errors": "increase of the backend's *err* counters during the run",
}

SINK_FIELDS: dict[str, str] = {
    **_COMMON,
    "probes": "frames with an enatool probe header",
    "flows_seen": "flows with at least one probe",
    "lost": "sequence gaps not filled by later (reordered) arrivals",
    "reordered": "probes that arrived after a higher sequence of their flow",
    "duplicates": "probes whose sequence had already arrived",
    "late": "probes older than the reorder window (still counted lost)",
    "loss_ratio": "lost / (probes - duplicates - late + lost), or null without probes",
    "foreign": "frames without a probe header",
    "unknown_flow": "probes with a flow id beyond the sink's flow table",
    "csum_errors": "frames whose IPv4 or TCP/UDP checksum failed (when verified)",
    "drops": "increase of the backend's *drop* counters during the run",
    "errors": "increase of the backend's *err* counters during the run",
    "one_way_delay": "rx - tx timestamp of full probes: count, min_ns, mean_ns, max_ns",
}


# gen and sink on a real interface (enatool.gen.iface), every engine: null where the engine
# has no such thing (no XDP program, no AF_XDP socket, no UMEM)
IFACE_FIELDS: dict[str, str] = {
    "ifname": "the interface",
    "netns": "its network namespace, or null",
    "xdp_mode": "XDP attach mode ('native' or 'skb'), or null without an XDP program",
    "bind_mode": "AF_XDP bind ('zc' or 'copy'), or null without AF_XDP sockets",
    "umem_huge_pages": "true when every AF_XDP UMEM is in 2 MiB huge pages (--huge-pages), "
                       "false when not, null for engines without a UMEM",
    "batch": "frames per batch, or null",
}


# sink on a real interface adds the rate traffic arrived at (its run also waits for the sender)
SINK_IFACE_FIELDS: dict[str, str] = {
    "recv_window_s": "seconds from the first to the last received batch (0: one batch)",
    "achieved_pps": "packets / recv_window_s (the arrival rate), or null for one batch",
    "achieved_wire_bps": "wire_bits / recv_window_s, or null for one batch",
}


def missing_fields(summary: dict[str, Any], program: str, iface: bool = False) -> list[str]:
    """Documented fields absent from ``summary`` (empty when it conforms); ``iface``: it
    comes from a real interface, so ``IFACE_FIELDS`` are due too."""
    fields = GEN_FIELDS if program == "gen" else SINK_FIELDS
    if iface:
        fields = {**fields, **IFACE_FIELDS, **(SINK_IFACE_FIELDS if program == "sink" else {})}
    return [k for k in fields if k not in summary]
