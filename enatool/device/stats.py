"""Device-side counters and the GET_STATS command that reports them.

Traffic counters (packets, bytes, drops, overruns) feed GET_STATS and the keep-alive
AENQ event; they are cumulative over the device's life (a driver reset does not clear
them). The allowance counters stand in for the instance shaping counters that real devices
report through GET_STATS ENI / CUSTOMER_METRICS; tests may set them. The rest count
management events so tests can see what the device did with odd input.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from enatool.ena.admin import (
    ENA_ADMIN_AQ_GET_STATS_CMD,
    ENA_ADMIN_BASIC_STATS,
    ENA_ADMIN_CUSTOMER_METRICS,
    ENA_ADMIN_CUSTOMER_METRICS_ALL,
    ENA_ADMIN_ENA_SRD_INFO,
    ENA_ADMIN_ENI_STATS,
    ENA_ADMIN_STATS_DEVICE_ID_SELF,
    AdminStatus,
    CustomerMetric,
    DeviceCapability,
    GetStatsScope,
    GetStatsType,
)
from enatool.ena.bits import pack, unpack

if TYPE_CHECKING:
    from .device import SoftEnaDevice

U64 = (1 << 64) - 1


@dataclass
class DeviceStats:
    # --- traffic (GET_STATS BASIC, keep-alive) ---------------------------------------------
    tx_pkts: int = 0
    tx_bytes: int = 0
    rx_pkts: int = 0
    rx_bytes: int = 0
    rx_drops: int = 0
    tx_drops: int = 0
    rx_overruns: int = 0
    # --- instance allowances (GET_STATS ENI / CUSTOMER_METRICS) ------------------------------
    bw_in_allowance_exceeded: int = 0
    bw_out_allowance_exceeded: int = 0
    pps_allowance_exceeded: int = 0
    conntrack_allowance_exceeded: int = 0
    linklocal_allowance_exceeded: int = 0
    conntrack_allowance_available: int = 0
    # --- ENA Express (GET_STATS ENA_SRD; only with capability ENA_SRD_INFO) ----------------
    ena_srd_tx_pkts: int = 0
    ena_srd_eligible_tx_pkts: int = 0
    ena_srd_rx_pkts: int = 0
    # --- management plane ---------------------------------------------------------------
    admin_commands: int = 0  # AQ entries fetched and executed
    admin_errors: int = 0  # completions with a non-zero status
    admin_completions_dropped: int = 0  # by fault injection
    aq_phase_mismatches: int = 0  # doorbell pointed at an entry with the wrong phase
    aq_bad_doorbells: int = 0  # tail more than a queue depth ahead
    aenq_events: int = 0  # entries written to the AENQ
    aenq_events_discarded: int = 0  # group disabled / AENQ not configured / backlog full
    aenq_bad_head_doorbells: int = 0
    mgmt_irqs_suppressed: int = 0  # vector-0 interrupts lost by fault injection
    mmio_reads: int = 0  # read-less reads answered
    mmio_reads_ignored: int = 0  # no response address / read-less unsupported
    ignored_register_writes: int = 0  # unknown offsets, unaligned, read-only registers
    bad_queue_configs: int = 0  # AQ/ACQ/AENQ caps with bad depth or entry size
    dma_faults: int = 0  # device accesses to addresses the driver never allocated
    internal_errors: int = 0  # bugs in the device model (must stay 0)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


# --- the GET_STATS admin command (INTERFACE.md §2.6) -------------------------------------------
def get_stats(dev: SoftEnaDevice, raw: bytes) -> bytes:
    """Execute GET_STATS; returns the response bytes from ACQ byte 8.

    Accepts device_id 0 or 0xFFFF and either scope (DPDK sends 0/0/0); a per-queue request
    gets the device totals. BASIC/ENI/ENA_SRD answer inline; CUSTOMER_METRICS reports
    ``requested & supported`` and, with a control buffer, writes one u64 per reported metric
    in bit order; EXTENDED writes "name value" text lines into the control buffer (if any).
    ENI, ENA_SRD and CUSTOMER_METRICS need their DEVICE_ATTRIBUTES capability, else
    UNSUPPORTED_OPCODE.
    """
    from .admin import CommandError, ExtendedStatus, illegal, malformed

    cmd = unpack(ENA_ADMIN_AQ_GET_STATS_CMD, raw)
    st = dev.stats
    if cmd["scope"] not in (GetStatsScope.SPECIFIC_QUEUE, GetStatsScope.ETH_TRAFFIC):
        raise illegal(ExtendedStatus.VALUE, f"scope {cmd['scope']}")
    if cmd["device_id"] not in (0, ENA_ADMIN_STATS_DEVICE_ID_SELF):
        raise illegal(ExtendedStatus.VALUE, f"device_id {cmd['device_id']}")
    kind = cmd["type"]
    if kind not in GetStatsType.__members__.values():
        raise illegal(ExtendedStatus.STATS_TYPE, f"stats type {kind}")
    kind = GetStatsType(kind)
    cap = {
        GetStatsType.ENI: DeviceCapability.ENI_STATS,
        GetStatsType.ENA_SRD: DeviceCapability.ENA_SRD_INFO,
        GetStatsType.CUSTOMER_METRICS: DeviceCapability.CUSTOMER_METRICS,
    }.get(kind)
    if cap is not None and not dev.capabilities >> cap & 1:
        raise CommandError(AdminStatus.UNSUPPORTED_OPCODE, 0, f"stats type {kind.name}")
    if kind == GetStatsType.BASIC:
        return pack(
            ENA_ADMIN_BASIC_STATS,
            **{n: getattr(st, n) & U64 for n in ENA_ADMIN_BASIC_STATS.names},
        )
    if kind == GetStatsType.ENI:
        return pack(
            ENA_ADMIN_ENI_STATS, **{n: getattr(st, n) & U64 for n in ENA_ADMIN_ENI_STATS.names}
        )
    if kind == GetStatsType.ENA_SRD:
        return pack(
            ENA_ADMIN_ENA_SRD_INFO,
            flags=0,
            ena_srd_tx_pkts=st.ena_srd_tx_pkts & U64,
            ena_srd_eligible_tx_pkts=st.ena_srd_eligible_tx_pkts & U64,
            ena_srd_rx_pkts=st.ena_srd_rx_pkts & U64,
            ena_srd_resource_utilization=0,
        )
    if kind == GetStatsType.CUSTOMER_METRICS:
        reported = cmd["requested_metrics"] & ENA_ADMIN_CUSTOMER_METRICS_ALL
        if cmd["ctrl_length"]:
            values = [
                getattr(st, m.name.lower()) & U64 for m in CustomerMetric if reported >> m & 1
            ]
            if cmd["ctrl_length"] < 8 * len(values) or cmd["ctrl_length"] > 4096:
                raise malformed(ExtendedStatus.CTRL_BUFFER, f"buffer of {cmd['ctrl_length']}")
            dev.dma.write(cmd["ctrl_address"], np.array(values, "<u8").tobytes())
        return pack(ENA_ADMIN_CUSTOMER_METRICS, reported_metrics=reported)
    # EXTENDED: free-form text in the control buffer
    if cmd["ctrl_length"]:
        items = {**st.as_dict(), **dev.datapath.queue_stats()}
        text = "".join(f"{k} {v}\n" for k, v in items.items()).encode() + b"\0"
        n = min(len(text), cmd["ctrl_length"])
        dev.dma.write(cmd["ctrl_address"], text[:n])
    return b""
