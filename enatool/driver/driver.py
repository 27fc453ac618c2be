"""``EnaDriver``: probe, health service, reset/recovery and teardown of one ENA device.

This is the OS-neutral part of ena_netdev.c's life cycle over ena_com (amzn-drivers
v2.17.0, "today"; ``era="2016"`` selects driver v1.0.0 defaults where they differ: AENQ depth
4, 3 s keep-alive watchdog, 1 s admin timeout, device version ≥ 0.10 required, no reset
reasons, fixed 100 ms polling, CRC32 RSS, no HW hints / LLQ / MAX_QUEUES_EXT).

Probe order (INTERFACE.md §12 steps 1–7, what a device model sees):

1. arm MMIO_RESP; reset with reason NORMAL; read VERSION / CONTROLLER_VERSION / CAPS
   (controller ≥ 0.0.1, DMA width 32..48);
2. DEV_STS.ready; AQ/ACQ/AENQ bases and caps; INTR_MASK = 1 (admin polling);
3. SET HOST_ATTR_CONFIG (host-info page);
4. GET features 1, 7 (or 2), 26, 11, 3 (optional), 4 (optional); GET_STATS customer metrics
   when the device has that capability;
5. SET AENQ_CONFIG ({0,1,2,3,4,6,7} ∩ supported); LLQ negotiation + SET LLQ;
6. INTR_MASK = 0 (management interrupts), AENQ_HEAD_DB = depth;
7. GET INTERRUPT_MODERATION; RSS defaults: GET indirection-table sizes, GET+SET hash function
   (Toeplitz, init 0xFFFFFFFF, random 40-byte key), GET+SET hash inputs (today's defaults,
   L3+L4 sort); then GET LINK_CONFIG if supported (for ``info`` only).

Recovery (``ena_destroy_device`` + ``ena_restore_device``): stop the admin queue, reset with
the reason, free the per-init memory (MMIO response buffer, AQ, ACQ, AENQ, host-info page),
then probe steps 1–6 again (the device sees a second reset, reason NORMAL, as with Linux),
re-create the IO queues that existed and re-apply RSS. Memory that lives from probe to
close (RSS key / hash-input / indirection-table buffers, customer-metrics buffer) is kept.

Decisions where Linux and our needs differ (also in the closing report):

* DEV_STS.fatal_error → reset with GENERIC (13) from the 1 Hz check (see ``health``).
* ``close()`` follows the PCI remove path: destroy IO queues through the admin queue, reset
  with reason SHUTDOWN (11), free everything.
* Missing management interrupt: auto-polling is off by default, like Linux (the admin queue
  stops and the health check resets with reason 18); ``auto_polling=True`` switches the
  admin queue to polling instead, as ena_com allows.
* A failed restore is retried at the next 1 Hz tick (Linux leaves the interface down until
  the user intervenes); every attempt is counted in ``reset_fail``.
* RSS key: Linux GETs the hash function *with the key buffer*, which lets the device
  overwrite the freshly generated random key before the SET; we GET into the buffer and then
  write the random key, so the key we send is the random one (what Linux intends).
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from enatool.driver import features as featmod
from enatool.driver import health, io_queues, llq
from enatool.driver.admin_queue import AdminQueue, AdminStats, FeatureNotSupported
from enatool.driver.aenq import AENQ_DEPTH, AENQ_DEPTH_2016, Aenq, AenqHandlers, AenqState
from enatool.driver.eth_rx import RxBatch, RxPacket, RxRing, batch_packets
from enatool.driver.eth_tx import (
    MISSING_TX_COMP_THRESHOLD,
    MISSING_TX_COMP_TIMEOUT_S,
    MONITORED_TX_QUEUES,
    TxOffload,
    TxRing,
)
from enatool.driver.mmio import MmioRegs
from enatool.driver.napi import MAX_POLL_ROUNDS, MODES, QueueModeration, QueueNapi
from enatool.driver.policy.copybreak import CopybreakPolicy
from enatool.driver.policy.moderation import CoalesceSettings
from enatool.driver.port import DevicePort
from enatool.driver.reset import dev_reset
from enatool.ena import admin as A
from enatool.ena import regs
from enatool.ena.bits import pack, unpack
from enatool.ena.regs import ResetReason
from enatool.errors import AdminError, DeviceError, ResetError

F = A.FeatureId
MAX_NUM_IO_QUEUES = 128  # ENA_MAX_NUM_IO_QUEUES
MIN_RING_SIZE = 256
DEFAULT_RING_SIZE = 1024
MIN_CTRL_VERSION = 0x000001  # 0.0.1 (major 23:16, minor 15:8, subminor 7:0)
MIN_DEVICE_VERSION_2016 = 0x000A  # 0.10
MAX_INDIR_TABLE_LOG = 16  # ENA_MAX_INDIR_TABLE_LOG_SIZE
RSS_INIT_VAL = 0xFFFFFFFF
AENQ_GROUPS_TODAY = (0, 1, 2, 3, 4, 6, 7)
AENQ_GROUPS_2016 = (0, 1, 2, 3, 4)
HASH_KEY_BUF = A.ENA_ADMIN_RSS_HASH_KEY_BUFFER
HASH_INPUT_BUF = A.ENA_ADMIN_RSS_HASH_INPUT_BUFFER

#: ``ena_com_set_default_hash_ctrl`` (today), as plain ints
DEFAULT_HASH_FIELDS = {p: int(f) for p, f in A.DEFAULT_HASH_FIELDS.items()}
RESET_COUNTER = {
    ResetReason.KEEP_ALIVE_TO: "wd_expired",
    ResetReason.ADMIN_TO: "admin_to",
    ResetReason.MISSING_ADMIN_INTERRUPT: "missing_admin_interrupt",
    ResetReason.DEVICE_REQUEST: "device_request_reset",
    ResetReason.MISS_TX_CMPL: "missing_tx_cmpl",
    ResetReason.INV_TX_REQ_ID: "bad_tx_req_id",
    ResetReason.INV_RX_REQ_ID: "bad_rx_req_id",
    ResetReason.TOO_MANY_RX_DESCS: "bad_rx_desc_num",
    ResetReason.RX_DESCRIPTOR_MALFORMED: "rx_desc_malformed",
    ResetReason.TX_DESCRIPTOR_MALFORMED: "tx_desc_malformed",
}
VLAN_ETH_HLEN = 18  # Ethernet header + one VLAN tag: frame = MTU + 18

_TX_OFFLOAD_NAMES = [
    (A.ENA_ADMIN_FEATURE_OFFLOAD_DESC_TX_L3_CSUM_IPV4_MASK, "tx_l3_csum_ipv4"),
    (A.ENA_ADMIN_FEATURE_OFFLOAD_DESC_TX_L4_IPV4_CSUM_PART_MASK, "tx_l4_ipv4_csum_part"),
    (A.ENA_ADMIN_FEATURE_OFFLOAD_DESC_TX_L4_IPV4_CSUM_FULL_MASK, "tx_l4_ipv4_csum_full"),
    (A.ENA_ADMIN_FEATURE_OFFLOAD_DESC_TX_L4_IPV6_CSUM_PART_MASK, "tx_l4_ipv6_csum_part"),
    (A.ENA_ADMIN_FEATURE_OFFLOAD_DESC_TX_L4_IPV6_CSUM_FULL_MASK, "tx_l4_ipv6_csum_full"),
    (A.ENA_ADMIN_FEATURE_OFFLOAD_DESC_TSO_IPV4_MASK, "tso_ipv4"),
    (A.ENA_ADMIN_FEATURE_OFFLOAD_DESC_TSO_IPV6_MASK, "tso_ipv6"),
    (A.ENA_ADMIN_FEATURE_OFFLOAD_DESC_TSO_ECN_MASK, "tso_ecn"),
]
_RX_OFFLOAD_NAMES = [
    (A.ENA_ADMIN_FEATURE_OFFLOAD_DESC_RX_L3_CSUM_IPV4_MASK, "rx_l3_csum_ipv4"),
    (A.ENA_ADMIN_FEATURE_OFFLOAD_DESC_RX_L4_IPV4_CSUM_MASK, "rx_l4_ipv4_csum"),
    (A.ENA_ADMIN_FEATURE_OFFLOAD_DESC_RX_L4_IPV6_CSUM_MASK, "rx_l4_ipv6_csum"),
    (A.ENA_ADMIN_FEATURE_OFFLOAD_DESC_RX_HASH_MASK, "rx_hash"),
]


def _names(value: int, table) -> list[str]:
    return [name for mask, name in table if value & mask]


def _rounddown_pow2(n: int) -> int:
    return 1 << (int(n).bit_length() - 1) if n > 0 else 0


# ---------------------------------------------------------------------------------------------
# Results and counters
# ---------------------------------------------------------------------------------------------
@dataclass
class Negotiated:
    """Everything ``enatool info`` prints about a probed device."""

    era: str = "today"
    pci_id: str = ""
    pci_revision: int = 0
    readless_mmio: bool = True
    device_version: str = ""
    controller_version: str = ""
    impl_id: int = 0
    dma_width: int = 0
    mac: str = ""
    mtu: int = 0
    max_mtu: int = 0
    supported_features: list[int] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=list)
    queue_limits: dict = field(default_factory=dict)
    io_queues: int = 0
    msix_count: int = 0
    tx_ring_size: int = 0
    rx_ring_size: int = 0
    max_tx_ring_size: int = 0
    max_rx_ring_size: int = 0
    max_tx_sgl: int = 0
    max_rx_sgl: int = 0
    llq: dict = field(default_factory=dict)
    offloads: dict = field(default_factory=dict)
    rss: dict = field(default_factory=dict)
    moderation: dict = field(default_factory=dict)
    aenq_supported_groups: list[int] = field(default_factory=list)
    aenq_enabled_groups: list[int] = field(default_factory=list)
    hw_hints: dict = field(default_factory=dict)
    keep_alive_timeout_s: float | None = None
    admin_timeout_s: float = 0.0
    link: dict = field(default_factory=dict)
    customer_metrics: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class DriverCounters:
    """Global counters (ethtool -S names where Linux has one)."""

    total_resets: int = 0
    reset_fail: int = 0
    last_reset_reason: int | None = None
    wd_expired: int = 0
    admin_to: int = 0
    missing_admin_interrupt: int = 0
    device_request_reset: int = 0
    missing_tx_cmpl: int = 0
    bad_tx_req_id: int = 0
    bad_rx_req_id: int = 0
    bad_rx_desc_num: int = 0
    rx_desc_malformed: int = 0
    tx_desc_malformed: int = 0
    fatal_error: int = 0
    admin_q_pause: int = 0
    suspend: int = 0
    resume: int = 0
    link_up: int = 0
    link_down: int = 0
    keep_alive_rx: int = 0
    rx_drops: int = 0
    tx_drops: int = 0
    rx_overruns: int = 0
    aenq_events: int = 0
    aenq_unimplemented: int = 0
    admin_q_aborted_cmd: int = 0
    admin_q_submitted_cmd: int = 0
    admin_q_completed_cmd: int = 0
    admin_q_out_of_space: int = 0
    admin_q_no_completion: int = 0
    interface_up: int = 0
    interface_down: int = 0

    @property
    def reset_count(self) -> int:
        return self.total_resets

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class _QueuePair:
    """Control-plane record of one IO queue pair (ring memory + device handles)."""

    index: int
    tx_cq: io_queues.IoCq | None = None
    tx_sq: io_queues.IoSq | None = None
    rx_cq: io_queues.IoCq | None = None
    rx_sq: io_queues.IoSq | None = None
    mem: list[int] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
class EnaDriver:
    """One ENA device driven through a :class:`DevicePort`."""

    def __init__(
        self,
        port: DevicePort,
        era: str = "today",
        *,
        num_io_queues: int | None = None,
        large_llq: bool | None = None,
        auto_polling: bool = False,
        mtu: int | None = None,
        tx_ring_size: int | None = None,
        rx_ring_size: int | None = None,
        rss_key: bytes | None = None,
    ):
        if era not in ("today", "2016"):
            raise ValueError(f"era must be 'today' or '2016', not {era!r}")
        self.port = port
        self.era = era
        self.requested_queues = num_io_queues
        self.large_llq = large_llq
        self.auto_polling = auto_polling
        self.requested_mtu = mtu
        self.requested_tx_ring = tx_ring_size
        self.requested_rx_ring = rx_ring_size
        self.rss_key = rss_key if rss_key is not None else secrets.token_bytes(A.ENA_HASH_KEY_SIZE)
        if len(self.rss_key) != A.ENA_HASH_KEY_SIZE:
            raise ValueError("RSS key must be 40 bytes")

        self.state = "new"  # new → running → (failed) → closed
        self.info: Negotiated | None = None
        self._c = DriverCounters()
        self._admin_stats = AdminStats()
        self.aenq_state = AenqState()
        self.health = health.HealthConfig.for_era(era)
        self._reset_pending: int | None = None
        self._next_tick = 0.0
        self._queues_before_reset = 0
        self.last_reset_reason_sent: int | None = None
        self._handlers = AenqHandlers(
            self.aenq_state, port.now, self._apply_hints_raw, self._trigger_reset
        )

        # per device-init objects
        self.mmio: MmioRegs | None = None
        self.aq: AdminQueue | None = None
        self.aenq: Aenq | None = None
        self.feat: featmod.Features | None = None
        self._host_info_addr: int | None = None
        self._extended_reset_ok = False
        self._hints: dict = {}
        self.llq_cfg: llq.LlqConfig = llq.host("not probed")

        # probe → close objects
        self._rss_key_addr: int | None = None
        self._rss_input_addr: int | None = None
        self._rss_table_addr: int | None = None
        self._metrics_addr: int | None = None
        self.rss_table_log = 0
        self.rss_func: int = 0
        self.rss_host_table: np.ndarray | None = None
        self.rss_user_table: list[int] | None = None
        self.queues: list[_QueuePair] = []

        # data path (eth_tx / eth_rx / napi); rings live from up() to down() or a reset
        self.copybreak = CopybreakPolicy(era)
        self.coalesce: CoalesceSettings | None = None
        self.napi: list[QueueNapi] = []
        self.moderation_modes: dict[int, str] = {}
        self._missing_rr = 0

    # =========================================================================================
    # public API
    # =========================================================================================
    @property
    def counters(self) -> DriverCounters:
        c = self._c
        s = self.aenq_state
        c.suspend, c.resume = s.suspend, s.resume
        c.link_up, c.link_down = s.link_up_events, s.link_down_events
        c.keep_alive_rx = s.keep_alive_rx
        c.rx_drops, c.tx_drops, c.rx_overruns = s.rx_drops, s.tx_drops, s.rx_overruns
        c.aenq_events, c.aenq_unimplemented = s.events, s.unimplemented
        a = self._admin_stats
        c.admin_q_aborted_cmd = a.aborted_cmd
        c.admin_q_submitted_cmd = a.submitted_cmd
        c.admin_q_completed_cmd = a.completed_cmd
        c.admin_q_out_of_space = a.out_of_space
        c.admin_q_no_completion = a.no_completion
        return DriverCounters(**c.as_dict())

    @property
    def link_up(self) -> bool:
        return self.aenq_state.link_up

    def admin_contexts_in_use(self) -> int:
        return self.aq.contexts_in_use() if self.aq is not None else 0

    def probe(self) -> Negotiated:
        """Bring the device up to "probed" (§12 steps 1–7) and return what was negotiated."""
        if self.state != "new":
            raise DeviceError(f"probe() on a driver in state {self.state!r}")
        info = Negotiated(era=self.era)
        try:
            self._device_init(info)
            self._enable_mgmt_interrupts()
            self._post_init(info)
        except BaseException:
            self._free_all()
            self.state = "failed_probe"
            raise
        self.info = info
        self.state = "running"
        self._start_timer()
        return info

    def up(self, num_queues: int | None = None) -> None:
        """Create the IO queue pairs (CQ then SQ, Tx then Rx), SET RSS and MTU.

        Control plane only: rings are allocated and registered with the device, the data
        path that fills them comes later.
        """
        self._require_running()
        if self.queues:
            return
        n = self.info.io_queues if num_queues is None else min(num_queues, self.info.io_queues)
        self._create_io_queues(n)
        self._rss_configure()
        if self.feat.supported(F.MTU):
            self.feat.set_mtu(self.info.mtu)
        self._c.interface_up += 1

    def down(self) -> None:
        """Destroy the IO queues through the admin queue and free their memory."""
        if not self.queues:
            return
        for qp in self.queues:
            for sq, cq in ((qp.tx_sq, qp.tx_cq), (qp.rx_sq, qp.rx_cq)):
                try:
                    if sq is not None:
                        io_queues.destroy_sq(self.aq, sq)
                    if cq is not None:
                        io_queues.destroy_cq(self.aq, cq)
                except (AdminError, DeviceError):
                    pass  # like Linux: logged, memory is freed regardless
        self._free_queue_memory()
        self._c.interface_down += 1

    def run(self, seconds: float, step: float = 0.01) -> None:
        """Let ``seconds`` pass on the device clock in ``step`` sleeps: service management
        interrupts (admin completions + AENQ) and the 1 Hz timer service, which resets
        and recovers the device when a check fails."""
        if self.state not in ("running", "failed"):
            raise DeviceError(f"run() on a driver in state {self.state!r}")
        port = self.port
        now = port.now()
        end = now + seconds
        while now < end - 1e-12:
            port.sleep(min(step, end - now))
            if self.state == "running":
                self._mgmt_isr()
                self._napi_service()
            now = port.now()
            if now >= self._next_tick - 1e-12:
                self._next_tick += health.TIMER_PERIOD_S
                self._timer_service()
                now = port.now()

    def reset_and_recover(self, reason: int = ResetReason.USER_TRIGGER) -> None:
        """Reset the device with ``reason`` and rebuild everything (counted like Linux)."""
        self._require_started()
        self._trigger_reset(int(reason))
        self._do_reset()

    # -- data path ----------------------------------------------------------------------------
    def tx_burst(self, queue: int, frames, offloads: list[TxOffload | None] | None = None) -> int:
        """Queue ``frames`` on Tx queue ``queue`` with one doorbell (``xmit_more`` batching).

        A frame is ``bytes`` or a list of byte segments (one buffer each, like skb frags).
        Returns how many frames were consumed; fewer than given when the ring is full.
        """
        self._require_up(queue)
        return self.napi[queue].tx.xmit(frames, offloads, self.port.now())

    def rx_packets(self, queue: int, max_n: int | None = None) -> list[RxPacket]:
        """Received packets of ``queue`` (with hash / checksum verdict), oldest first."""
        if not 0 <= queue < len(self.napi):
            return []
        return batch_packets(self.napi[queue].rx.store.take(queue, max_n))

    def rx_burst(self, queue: int, max_n: int | None = None) -> list[bytes]:
        """Frames received on ``queue`` (NAPI must have run: ``poll()`` or ``run()``)."""
        if not 0 <= queue < len(self.napi):
            return []
        return self.napi[queue].rx.store.take(queue, max_n).frames()

    def tx_burst_packed(self, queue: int, buf: np.ndarray, offs: np.ndarray,
                        lens: np.ndarray) -> int:
        """Array form of :meth:`tx_burst`: frames ``buf[offs[i]:offs[i]+lens[i]]`` (uint8
        buffer, int64 offsets/lengths), one buffer each, no offloads; one kernel call."""
        if self.state != "running" or not 0 <= queue < len(self.napi):
            self._require_up(queue)  # raises
        return self.napi[queue].tx.xmit_packed(buf, offs, lens, self.port.now())

    def rx_burst_packed(self, queue: int, max_n: int | None = None) -> RxBatch:
        """Array form of :meth:`rx_burst`: an :class:`RxBatch` (valid until the second-next
        call for this queue; copy what must live longer)."""
        if not 0 <= queue < len(self.napi):
            raise DeviceError(f"no IO queue {queue} (have {len(self.napi)})", hint="call up()")
        return self.napi[queue].rx.store.take(queue, max_n)

    def busy_poll(self, queue: int) -> int:
        """Run NAPI on ``queue`` without waiting for its interrupt (2016 ``ena_busy_poll``
        / DPDK-style polling); returns packets stored. Moderation still runs at completion."""
        self._require_up(queue)
        if self._reset_pending is not None:
            return 0
        ctx = self.napi[queue]
        before = len(ctx.rx.store)
        done, reason = ctx.poll_rounds(MAX_POLL_ROUNDS)
        if done:
            ctx.scheduled = False
        if reason is not None:
            self._trigger_reset(reason)
        return len(ctx.rx.store) - before

    def poll(self) -> int:
        """Run NAPI for every queue whose vector fired (or that is still scheduled); a
        datapath error asks for a reset, done by the next 1 Hz service. Returns packets
        received in this call."""
        stores = [ctx.rx.store for ctx in self.napi]
        before = sum(len(st) for st in stores)
        self._napi_service()
        return sum(len(st) for st in stores) - before

    def _napi_service(self) -> None:
        """:meth:`poll` without counting what arrived (the path :meth:`run` takes)."""
        if self.state != "running" or self._reset_pending is not None:
            return
        irq_take = self.port.irq_take
        for i, ctx in enumerate(self.napi):
            reason = ctx.service(irq_take(i + 1))
            if reason is not None:
                self._trigger_reset(reason)
                break

    def queue_stats(self) -> dict[str, int]:
        """Per-queue counters with ``ethtool -S`` names (``queue_N_tx_*``, ``queue_N_rx_*``)."""
        out: dict[str, int] = {}
        for i, ctx in enumerate(self.napi):
            out.update({f"queue_{i}_tx_{k}": v for k, v in ctx.tx.stats.as_dict().items()})
            out.update({f"queue_{i}_rx_{k}": v for k, v in ctx.rx.stats.as_dict().items()})
        return out

    def get_coalesce(self) -> dict:
        """ethtool -c: tx-usecs, rx-usecs, adaptive-rx."""
        self._require_started()
        return self.coalesce.get_coalesce()

    def set_coalesce(self, tx_usecs=None, rx_usecs=None, adaptive_rx=None) -> None:
        """ethtool -C (2016 rules included); adaptive-rx switches every queue between the
        era's adaptive mode (DIM today, 5-level table in 2016) and static."""
        self._require_started()
        self.coalesce.set_coalesce(tx_usecs, rx_usecs, adaptive_rx)
        if adaptive_rx is not None:
            self.moderation_modes.clear()
            for ctx in self.napi:
                ctx.mod.mode = self._default_mode()

    def set_moderation_mode(self, queue: int, mode: str) -> None:
        """Per-queue moderation: "static", "adaptive2016" or "dim" (kept across resets)."""
        if mode not in MODES:
            raise ValueError(f"moderation mode must be one of {MODES}")
        self.moderation_modes[queue] = mode
        if queue < len(self.napi):
            self.napi[queue].mod.mode = mode

    def set_copybreak(self, value: int) -> None:
        """ethtool --set-tunable rx-copybreak (range checked like the driver)."""
        self.copybreak.set(value, self.info.mtu if self.info else 1500)

    def get_rss(self) -> dict:
        """ethtool -x: key (as the user wrote it), function, indirection table (queues)."""
        self._require_started()
        func = A.HashFunction(self.rss_func).name.lower() if self.rss_func else ""
        table = [] if self.rss_host_table is None else [int(q) for q in self.rss_host_table]
        return dict(key=self.rss_key, function=func, table=table)

    def set_rss(self, key: bytes | None = None, function: str | None = None,
                table: list[int] | None = None) -> None:
        """ethtool -X: new key and/or function (SET RSS_HASH_FUNCTION with the key buffer),
        new table (SET RSS_INDIRECTION_TABLE); entries are queue numbers."""
        self._require_running()
        if key is not None:
            if len(key) != A.ENA_HASH_KEY_SIZE:
                raise ValueError("RSS key must be 40 bytes")
            self.rss_key = bytes(key)
        if function is not None:
            self.rss_func = int(A.HashFunction[function.upper()])
        if (key is not None or function is not None) and self._rss_key_addr is not None:
            self.port.dma_write(self._rss_key_addr, self._key_buffer())
            self.feat.set_rss_hash_function(
                self.rss_func, RSS_INIT_VAL, (self._rss_key_addr, HASH_KEY_BUF.itemsize)
            )
        if table is not None:
            size = 1 << self.rss_table_log if self.rss_table_log else len(table)
            if len(table) != size or any(not 0 <= q < len(self.queues) for q in table):
                top = len(self.queues) - 1
                raise ValueError(f"RSS table needs {size} entries of queues 0..{top}")
            self.rss_user_table = [int(q) for q in table]
            self._rss_configure()

    def close(self) -> None:
        """PCI-remove path: destroy IO queues, reset with reason SHUTDOWN, free all DMA."""
        if self.state == "closed":
            return
        try:
            if self.state == "running" and self.aq is not None and self.aq.running:
                self.down()
                self._reset_device(int(ResetReason.SHUTDOWN))
        except (DeviceError, AdminError):
            pass
        finally:
            self._free_all()
            self.state = "closed"

    def __enter__(self) -> EnaDriver:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # =========================================================================================
    # probe pieces
    # =========================================================================================
    def _device_init(self, info: Negotiated) -> None:
        """``ena_device_init``: steps 1–5."""
        port = self.port
        info.pci_id = port.pci_id
        info.pci_revision = port.pci_revision
        readless = not (port.pci_revision & regs.ENA_PCI_REVISION_MMIO_READLESS_DISABLED)
        info.readless_mmio = readless
        self.mmio = MmioRegs(port, readless)
        self._extended_reset_ok = False  # capabilities unknown before DEVICE_ATTRIBUTES
        res = dev_reset(self.mmio, int(ResetReason.NORMAL), False, self.era)
        self._validate_version(info)
        caps = res.caps
        width = (
            caps & regs.ENA_REGS_CAPS_DMA_ADDR_WIDTH_MASK
        ) >> regs.ENA_REGS_CAPS_DMA_ADDR_WIDTH_SHIFT
        if not 32 <= width <= 48:
            raise DeviceError(f"DMA width {width} outside 32..48")
        info.dma_width = width

        # admin init (step 2)
        sts = self.mmio.read32(regs.ENA_REGS_DEV_STS_OFF)
        if sts == regs.ENA_MMIO_READ_TIMEOUT:
            raise DeviceError("DEV_STS read timed out")
        if not sts & regs.ENA_REGS_DEV_STS_READY_MASK:
            raise DeviceError("device is not ready")
        self.aq = AdminQueue(
            self.mmio,
            res.admin_timeout_s,
            era=self.era,
            stats=self._admin_stats,
            irq_service=self._mgmt_isr,
            auto_polling=self.auto_polling,
        )
        self.aq.program_device()
        self.aenq = Aenq(self.mmio, AENQ_DEPTH_2016 if self.era == "2016" else AENQ_DEPTH)
        self.aenq.program_device()
        self.aq.set_polling(True)
        self.feat = featmod.Features(self.aq)
        info.admin_timeout_s = self.aq.timeout_s

        # step 3: host info (failure is not fatal, like ena_config_host_info)
        self._host_info_addr = port.dma_alloc(A.ENA_ADMIN_HOST_INFO_PAGE_SIZE)
        port.dma_write(self._host_info_addr, featmod.host_info_bytes(self.era))
        try:
            self.feat.set_host_attr(self._host_info_addr)
        except AdminError:
            port.dma_free(self._host_info_addr)
            self._host_info_addr = None

        # step 4: device attributes and limits
        attr = self.feat.get_device_attributes()
        self._extended_reset_ok = self.feat.has_capability(
            A.DeviceCapability.EXTENDED_RESET_REASONS
        )
        info.impl_id = attr["impl_id"]
        info.mac = featmod.mac_str(attr["mac_addr"])
        info.max_mtu = attr["max_mtu"]
        info.supported_features = [i for i in range(32) if attr["supported_features"] >> i & 1]
        info.capabilities = [c.name for c in A.DeviceCapability if attr["capabilities"] >> c & 1]
        if self.era == "2016":
            # the 2016 driver knew only MAX_QUEUES_NUM and no hints / LLQ feature
            self.feat.supported_features &= ~(
                (1 << F.MAX_QUEUES_EXT) | (1 << F.HW_HINTS) | (1 << F.LLQ)
            )
        qlim = self.feat.get_max_queues()
        info.queue_limits = qlim
        aenq_cfg = self.feat.get_aenq_config()
        offl = self.feat.get_offloads()
        info.offloads = dict(
            tx=_names(offl["tx"], _TX_OFFLOAD_NAMES),
            rx_supported=_names(offl["rx_supported"], _RX_OFFLOAD_NAMES),
            rx_enabled=_names(offl["rx_enabled"], _RX_OFFLOAD_NAMES),
            tx_bits=offl["tx"],
            rx_supported_bits=offl["rx_supported"],
        )
        hints = self.feat.get_hw_hints()
        llq_get = self.feat.get_llq()
        if self.feat.has_capability(A.DeviceCapability.CUSTOMER_METRICS):
            info.customer_metrics = self._get_customer_metrics_support()
        elif self.era != "2016":
            info.customer_metrics = A.ENA_ADMIN_CUSTOMER_METRICS_LEGACY

        # step 5: AENQ groups, LLQ
        wanted = AENQ_GROUPS_2016 if self.era == "2016" else AENQ_GROUPS_TODAY
        groups = sum(1 << g for g in wanted) & aenq_cfg["supported_groups"]
        self.feat.set_aenq_config(groups)
        self.health.wd_state = bool(groups >> A.AenqGroup.KEEP_ALIVE & 1)
        info.aenq_supported_groups = [g for g in range(32) if aenq_cfg["supported_groups"] >> g & 1]
        info.aenq_enabled_groups = [g for g in range(32) if groups >> g & 1]
        self.llq_cfg = self._set_queue_placement(llq_get)
        info.llq = self.llq_cfg.as_dict()

        self._hints = hints or {}
        self._apply_hints(self._hints)
        info.hw_hints = dict(self._hints)
        info.keep_alive_timeout_s = (
            self.health.keep_alive_timeout_s if self.health.wd_state else None
        )
        info.admin_timeout_s = self.aq.timeout_s
        self._calc_queues(info, qlim)

    def _validate_version(self, info: Negotiated) -> None:
        ver = self.mmio.read32(regs.ENA_REGS_VERSION_OFF)
        ctrl = self.mmio.read32(regs.ENA_REGS_CONTROLLER_VERSION_OFF)
        if regs.ENA_MMIO_READ_TIMEOUT in (ver, ctrl):
            raise DeviceError("version register read timed out (-ETIME)")
        major = (
            ver & regs.ENA_REGS_VERSION_MAJOR_VERSION_MASK
        ) >> regs.ENA_REGS_VERSION_MAJOR_VERSION_SHIFT
        minor = ver & regs.ENA_REGS_VERSION_MINOR_VERSION_MASK
        info.device_version = f"{major}.{minor}"
        c_major = (ctrl & regs.ENA_REGS_CONTROLLER_VERSION_MAJOR_VERSION_MASK) >> 16
        c_minor = (ctrl & regs.ENA_REGS_CONTROLLER_VERSION_MINOR_VERSION_MASK) >> 8
        c_sub = ctrl & regs.ENA_REGS_CONTROLLER_VERSION_SUBMINOR_VERSION_MASK
        info.controller_version = f"{c_major}.{c_minor}.{c_sub}"
        info.impl_id = (ctrl & regs.ENA_REGS_CONTROLLER_VERSION_IMPL_ID_MASK) >> 24
        if ctrl & 0xFFFFFF < MIN_CTRL_VERSION:
            raise DeviceError(f"controller version {info.controller_version} < 0.0.1")
        if self.era == "2016" and (ver & 0xFFFF) < MIN_DEVICE_VERSION_2016:
            raise DeviceError(f"device version {info.device_version} < 0.10 (2016 driver)")

    def get_basic_stats(self) -> dict[str, int] | None:
        """GET_STATS BASIC through the admin queue (``ena_com_get_dev_basic_stats``), what
        ``ethtool -S`` / ``ip -s link`` make the Linux driver ask for on demand: the device's
        cumulative tx/rx packets and bytes, rx_drops, tx_drops and rx_overruns as of now
        (the keep-alive copy can be up to a second old). None when the device cannot answer
        (not started, or the command failed)."""
        if self.aq is None or self.state != "running":
            return None
        cmd = pack(
            A.ENA_ADMIN_AQ_GET_STATS_CMD,
            opcode=int(A.AdminOpcode.GET_STATS),
            type=int(A.GetStatsType.BASIC),
            scope=int(A.GetStatsScope.ETH_TRAFFIC),
            device_id=A.ENA_ADMIN_STATS_DEVICE_ID_SELF,
        )
        try:
            resp = self.aq.execute(cmd)
        except AdminError:
            return None
        rec = unpack(A.ENA_ADMIN_BASIC_STATS, resp[8:64])
        return {k: int(v) for k, v in rec.items()}

    def _get_customer_metrics_support(self) -> int:
        """GET_STATS CUSTOMER_METRICS: which metrics the device reports."""
        size = A.ENA_ADMIN_CUSTOMER_METRICS_BUF_SIZE
        if self._metrics_addr is None:
            self._metrics_addr = self.port.dma_alloc(size)
        cmd = pack(
            A.ENA_ADMIN_AQ_GET_STATS_CMD,
            opcode=int(A.AdminOpcode.GET_STATS),
            ctrl_length=size,
            ctrl_address=self._metrics_addr,
            type=int(A.GetStatsType.CUSTOMER_METRICS),
            scope=int(A.GetStatsScope.ETH_TRAFFIC),
            device_id=A.ENA_ADMIN_STATS_DEVICE_ID_SELF,
            requested_metrics=A.ENA_ADMIN_CUSTOMER_METRICS_ALL,
        )
        try:
            resp = self.aq.execute(cmd)
        except AdminError:
            return A.ENA_ADMIN_CUSTOMER_METRICS_LEGACY
        return unpack(A.ENA_ADMIN_CUSTOMER_METRICS, resp[8:16])["reported_metrics"]

    def _set_queue_placement(self, llq_get: dict | None) -> llq.LlqConfig:
        """``ena_set_queues_placement_policy``: LLQ when possible, else host memory."""
        if llq_get is None:
            return llq.host("LLQ feature not supported")
        if self.port.bar2_size <= 0:
            return llq.host("no LLQ memory BAR")
        try:
            cfg = llq.negotiate(llq_get, self.large_llq)
        except ValueError as e:
            return llq.host(f"LLQ negotiation failed: {e}")
        try:
            self.feat.set_llq(
                cfg.header_location_ctrl,
                cfg.entry_size_ctrl,
                cfg.descs_before_header,
                cfg.stride_ctrl,
            )
        except AdminError as e:
            return llq.host(f"SET LLQ failed: {e}")
        return cfg

    def _apply_hints(self, hints: dict) -> None:
        """``ena_update_hints``: the driver-wide timeouts the device may override."""
        if not hints:
            return
        self.mmio.set_read_timeout_ms(hints.get("mmio_read_timeout", 0))
        self.aq.set_completion_timeout_ms(hints.get("admin_completion_tx_timeout", 0))
        self.health.apply_watchdog_hint(hints.get("driver_watchdog_timeout", 0))

    def _apply_hints_raw(self, raw: bytes) -> None:
        hints = unpack(A.ENA_ADMIN_HW_HINTS, raw)
        self._hints = hints
        if self.info is not None:
            self.info.hw_hints = dict(hints)
        if self.mmio is not None and self.aq is not None:
            self._apply_hints(hints)
        if self.info is not None:
            self.info.keep_alive_timeout_s = self.health.keep_alive_timeout_s
            self.info.admin_timeout_s = self.aq.timeout_s if self.aq else self.info.admin_timeout_s

    def _calc_queues(self, info: Negotiated, q: dict) -> None:
        """``ena_calc_max_io_queue_num`` + ``ena_calc_io_queue_size``."""
        rx_num = min(q["max_rx_sq_num"], q["max_rx_cq_num"])
        tx_sq = q["max_tx_sq_num"]
        if self.llq_cfg.placement == "device":
            tx_sq = self.llq_cfg.max_llq_num
        n = min(MAX_NUM_IO_QUEUES, rx_num, tx_sq, q["max_tx_cq_num"], self.port.msix_count - 1)
        if self.requested_queues is not None:
            n = min(n, max(1, self.requested_queues))
        if n < 1:
            raise DeviceError("device offers no IO queue (limits or MSI-X)")
        info.io_queues = n
        info.msix_count = self.port.msix_count

        max_rx = _rounddown_pow2(min(q["max_rx_cq_depth"], q["max_rx_sq_depth"]))
        max_tx = _rounddown_pow2(
            llq.max_tx_depth(self.llq_cfg, q["max_tx_cq_depth"], q["max_tx_sq_depth"])
        )
        if self.requested_tx_ring:
            tx = self.requested_tx_ring
        elif self.llq_cfg.placement == "device" and self.llq_cfg.large:
            tx = llq.DEFAULT_WIDE_LLQ_RING_SIZE
        else:
            tx = DEFAULT_RING_SIZE
        rx = self.requested_rx_ring or DEFAULT_RING_SIZE
        info.max_tx_ring_size, info.max_rx_ring_size = max_tx, max_rx
        info.tx_ring_size = _rounddown_pow2(max(min(tx, max_tx), min(MIN_RING_SIZE, max_tx)))
        info.rx_ring_size = _rounddown_pow2(max(min(rx, max_rx), min(MIN_RING_SIZE, max_rx)))
        info.max_tx_sgl = min(19, q["max_per_packet_tx_descs"])
        info.max_rx_sgl = min(19, q["max_per_packet_rx_descs"])
        mtu = self.requested_mtu if self.requested_mtu is not None else min(1500, info.max_mtu)
        info.mtu = max(A.ENA_MIN_MTU, min(mtu, info.max_mtu))

    def _enable_mgmt_interrupts(self) -> None:
        """Step 6 (``ena_enable_msix_and_set_admin_interrupts``)."""
        self.port.irq_take(0)  # vector 0 "requested": forget anything from before
        self.aq.set_polling(False)
        self.aenq.enable()

    def _post_init(self, info: Negotiated) -> None:
        """Step 7: moderation, RSS defaults, link."""
        mod = self.feat.get_intr_moderation()
        if mod is None:
            info.moderation = dict(supported=False, resolution_us=1)
        else:
            res = mod["intr_delay_resolution"] or 1
            info.moderation = dict(supported=True, resolution_us=res)
        self.coalesce = CoalesceSettings(
            self.era, info.moderation["resolution_us"], info.moderation["supported"]
        )
        self._rss_init_default(info)
        try:
            link = self.feat.get_link_config()
        except AdminError:
            link = None
        if link is not None:
            info.link = dict(
                speed_mbps=link["speed"],
                supported=[s.name for s in A.LinkSpeed if link["supported"] & s],
                autoneg=bool(link["flags"] & A.ENA_ADMIN_GET_FEATURE_LINK_DESC_AUTONEG_MASK),
                full_duplex=bool(link["flags"] & A.ENA_ADMIN_GET_FEATURE_LINK_DESC_DUPLEX_MASK),
            )

    # -- RSS --------------------------------------------------------------------------------
    def _rss_init_default(self, info: Negotiated) -> None:
        """``ena_rss_init_default`` (probe) minus the table SET, which needs Rx queues."""
        feat = self.feat
        rss: dict = dict(supported=feat.supported(F.RSS_INDIRECTION_TABLE_CONFIG))
        info.rss = rss
        if not rss["supported"]:
            return
        t = feat.get_rss_ind_table()
        log = t["max_size"] if self.era != "2016" else 7
        if log > MAX_INDIR_TABLE_LOG:
            raise DeviceError(f"RSS indirection table log size {log} too large")
        self.rss_table_log = log
        rss.update(
            table_log_min=t["min_size"],
            table_log_max=t["max_size"],
            table_log=log,
            table_size=1 << log,
        )
        if self._rss_table_addr is None:
            self._rss_table_addr = self.port.dma_alloc((1 << log) * 4)
        if self._rss_input_addr is None:
            self._rss_input_addr = self.port.dma_alloc(HASH_INPUT_BUF.itemsize)

        # hash function and key
        func = A.HashFunction.CRC32 if self.era == "2016" else A.HashFunction.TOEPLITZ
        if feat.supported(F.RSS_HASH_FUNCTION):
            if self._rss_key_addr is None:
                self._rss_key_addr = self.port.dma_alloc(HASH_KEY_BUF.itemsize)
            key_ctrl = (self._rss_key_addr, HASH_KEY_BUF.itemsize)
            cur = feat.get_rss_hash_function(key_ctrl)
            rss["supported_functions"] = [
                h.name for h in A.HashFunction if cur["supported_func"] >> h & 1
            ]
            if cur["supported_func"] >> func & 1:
                if self.era != "2016":
                    self.port.dma_write(self._rss_key_addr, self._key_buffer())
                feat.set_rss_hash_function(func, RSS_INIT_VAL, key_ctrl)
                self.rss_func = int(func)
            rss.update(
                function=A.HashFunction(self.rss_func).name if self.rss_func else "",
                init_val=f"{RSS_INIT_VAL:#010x}",
                key=self.rss_key.hex(),
            )

        # hash inputs
        if feat.supported(F.RSS_HASH_INPUT):
            in_ctrl = (self._rss_input_addr, HASH_INPUT_BUF.itemsize)
            cur = feat.get_rss_hash_input(in_ctrl)
            buf = np.frombuffer(self.port.dma_read(*in_ctrl), HASH_INPUT_BUF, count=1).copy()
            sup = buf["supported_fields"]["fields"][0]
            sel = buf["selected_fields"]["fields"][0]
            for proto, fields_ in DEFAULT_HASH_FIELDS.items():
                sel[int(proto)] = fields_
            ok = all(
                (int(sel[p]) & int(sup[p])) == int(sel[p]) for p in map(int, DEFAULT_HASH_FIELDS)
            )
            sort = int(A.RssHashInputSort.L3_SORT | A.RssHashInputSort.L4_SORT)
            if ok:
                self.port.dma_write(self._rss_input_addr, buf.tobytes())
                feat.set_rss_hash_input(sort, in_ctrl)
            rss.update(
                hash_inputs={
                    p.name: [f.name for f in A.FlowHashFields if int(sel[int(p)]) & f]
                    for p in DEFAULT_HASH_FIELDS
                }
                if ok
                else {},
                input_sort=["L3", "L4"] if ok else [],
                supported_input_sort=cur["supported_input_sort"],
            )

    def _key_buffer(self) -> bytes:
        return pack(
            HASH_KEY_BUF,
            key_parts=A.ENA_ADMIN_RSS_KEY_PARTS,
            key=np.frombuffer(self.rss_key, "<u4"),
        )

    def _rss_configure(self) -> None:
        """``ena_rss_configure`` (ifup / after reset): table, function, inputs."""
        feat = self.feat
        if self.rss_table_log and self.queues and feat.supported(F.RSS_INDIRECTION_TABLE_CONFIG):
            size = 1 << self.rss_table_log
            n = len(self.queues)
            table = np.zeros(size, A.ENA_ADMIN_RSS_IND_TABLE_ENTRY)
            host = np.arange(size) % n
            if self.rss_user_table is not None and len(self.rss_user_table) == size:
                host = np.array(self.rss_user_table) % n
            table["cq_idx"] = [self.queues[int(q)].rx_sq.idx for q in host]
            self.rss_host_table = host
            self.port.dma_write(self._rss_table_addr, table.tobytes())
            with contextlib.suppress(FeatureNotSupported):
                feat.set_rss_ind_table(self.rss_table_log, (self._rss_table_addr, size * 4))
            if self.info is not None:
                self.info.rss["table"] = self.rss_host_table.tolist()
        if self.rss_func and feat.supported(F.RSS_HASH_FUNCTION):
            feat.set_rss_hash_function(
                self.rss_func, RSS_INIT_VAL, (self._rss_key_addr, HASH_KEY_BUF.itemsize)
            )
        if (
            self.info is not None
            and self.info.rss.get("input_sort")
            and feat.supported(F.RSS_HASH_INPUT)
        ):
            feat.set_rss_hash_input(
                int(A.RssHashInputSort.L3_SORT | A.RssHashInputSort.L4_SORT),
                (self._rss_input_addr, HASH_INPUT_BUF.itemsize),
            )

    # -- IO queues --------------------------------------------------------------------------
    def _create_io_queues(self, n: int) -> None:
        info = self.info
        placement = self.llq_cfg.policy
        try:
            for i in range(n):
                qp = _QueuePair(index=i)
                self.queues.append(qp)
                vec = i + 1
                tx_cq_mem = self._qalloc(qp, info.tx_ring_size * io_queues.TX_CDESC_SIZE)
                qp.tx_cq = io_queues.create_cq(
                    self.aq, info.tx_ring_size, io_queues.TX_CDESC_SIZE, vec, tx_cq_mem
                )
                tx_sq_mem = 0
                if placement == A.PlacementPolicy.HOST:
                    tx_sq_mem = self._qalloc(qp, info.tx_ring_size * 16)
                qp.tx_sq = io_queues.create_sq(
                    self.aq, "tx", qp.tx_cq.idx, info.tx_ring_size, placement, tx_sq_mem
                )
            for qp in self.queues:
                vec = qp.index + 1
                rx_cq_mem = self._qalloc(qp, info.rx_ring_size * io_queues.RX_CDESC_SIZE)
                qp.rx_cq = io_queues.create_cq(
                    self.aq, info.rx_ring_size, io_queues.RX_CDESC_SIZE, vec, rx_cq_mem
                )
                rx_sq_mem = self._qalloc(qp, info.rx_ring_size * 16)
                qp.rx_sq = io_queues.create_sq(
                    self.aq,
                    "rx",
                    qp.rx_cq.idx,
                    info.rx_ring_size,
                    A.PlacementPolicy.HOST,
                    rx_sq_mem,
                )
            self._datapath_up()
        except BaseException:
            self.down()
            raise

    # -- data path rings ---------------------------------------------------------------------
    def _default_mode(self) -> str:
        if self.coalesce is None or not self.coalesce.adaptive_rx:
            return "static"
        return "adaptive2016" if self.era == "2016" else "dim"

    def _datapath_up(self) -> None:
        """Rings, buffers and NAPI contexts for the IO queues just created (``ena_up``): post
        Rx buffers (depth − 1) and do the first unmask write per queue."""
        info = self.info
        if self.coalesce is None:
            self.coalesce = CoalesceSettings(self.era)
        res = info.moderation.get("resolution_us", 1) if info.moderation else 1
        check_mbz = self.feat.has_capability(A.DeviceCapability.CDESC_MBZ)
        max_hdr = info.queue_limits.get("max_tx_header_size", 0) if info.queue_limits else 0
        for qp in self.queues[len(self.napi):]:
            tx = TxRing(self.port, qp.index, qp.tx_sq, qp.tx_cq, self.llq_cfg,
                        max_frame=info.mtu + VLAN_ETH_HLEN, max_sgl=info.max_tx_sgl or 19,
                        max_header_size=max_hdr, check_mbz=check_mbz)
            rx = RxRing(self.port, qp.index, qp.rx_sq, qp.rx_cq, copybreak=self.copybreak,
                        era=self.era, max_sgl=info.max_rx_sgl or 19)
            mode = self.moderation_modes.get(qp.index, self._default_mode())
            mod = QueueModeration(self.coalesce, mode, self.era, res,
                                  table=self.coalesce.table)
            ctx = QueueNapi(self.port, qp.index, tx, rx, mod, qp.rx_cq.unmask_offset)
            self.napi.append(ctx)
            rx.refill()
            ctx.unmask()

    def _datapath_free(self) -> None:
        """``ena_free_all_io_tx/rx_resources``: outstanding Tx packets are dropped."""
        for ctx in self.napi:
            ctx.tx.free()
            ctx.rx.free()
        self.napi = []

    def _check_missing_tx(self) -> None:
        """``check_for_missing_completions``: 4 queues per tick, round robin (§7.6)."""
        if not self.napi:
            return
        ms = self._hints.get("missing_tx_completion_timeout", 0)
        timeout = None if ms == A.ENA_HW_HINTS_NO_TIMEOUT else (
            ms * 1e-3 if ms else MISSING_TX_COMP_TIMEOUT_S)
        thr = self._hints.get("missed_tx_completion_count_threshold_to_reset", 0)
        thr = thr or MISSING_TX_COMP_THRESHOLD
        now = self.port.now()
        n = len(self.napi)
        for k in range(min(MONITORED_TX_QUEUES, n)):
            ctx = self.napi[(self._missing_rr + k) % n]
            reason = ctx.tx.check_missing(now, timeout, thr)
            if reason is not None:
                self._trigger_reset(reason)
                break
        self._missing_rr = (self._missing_rr + MONITORED_TX_QUEUES) % n

    def _require_up(self, queue: int) -> None:
        self._require_running()
        if not 0 <= queue < len(self.napi):
            raise DeviceError(f"no IO queue {queue} (have {len(self.napi)})", hint="call up()")

    def _qalloc(self, qp: _QueuePair, nbytes: int) -> int:
        addr = self.port.dma_alloc(nbytes)
        qp.mem.append(addr)
        return addr

    def _free_queue_memory(self) -> None:
        self._datapath_free()
        for qp in self.queues:
            for addr in qp.mem:
                self.port.dma_free(addr)
            qp.mem.clear()
        self.queues = []

    # =========================================================================================
    # interrupts, timer service, reset
    # =========================================================================================
    def _mgmt_isr(self) -> int:
        """Management vector 0 (``ena_intr_msix_mgmnt``): admin completions, then AENQ."""
        n = self.port.irq_take(0)
        if n and self.aq is not None:
            self.aq.handle_completions()
            if self.aenq is not None and self.state != "resetting":
                self.aenq.process(self._handlers)
        return n

    def _start_timer(self) -> None:
        now = self.port.now()
        self.aenq_state.last_keep_alive = now
        self._next_tick = now + health.TIMER_PERIOD_S

    def _trigger_reset(self, reason: int) -> None:
        """``ena_reset_device``: the first reason wins until the reset is done."""
        if self._reset_pending is not None:
            return
        self._reset_pending = int(reason)
        self._c.total_resets += 1
        try:
            name = RESET_COUNTER.get(ResetReason(reason))
        except ValueError:
            name = None
        if name:
            setattr(self._c, name, getattr(self._c, name) + 1)

    def _timer_service(self) -> None:
        """``ena_timer_service``: health checks, then the reset task if one was asked for."""
        if self.state == "failed":
            self._do_reset()
            return
        if self.state != "running":
            return
        if self._reset_pending is None:
            if self.health.check_fatal_error:
                sts = self.mmio.read32(regs.ENA_REGS_DEV_STS_OFF)
                reason = health.check_fatal_error(sts)
                if reason is not None:
                    self._c.fatal_error += 1
                    self._trigger_reset(reason)
            reason = health.check_keep_alive(
                self.health,
                self.port.now(),
                self.aenq_state.last_keep_alive,
                self.aenq.has_keep_alive,
            )
            if reason is not None:
                self._trigger_reset(reason)
            if not self.aq.running:
                self._c.admin_q_pause += 1
                self._trigger_reset(health.check_admin_state(False, self.aq.missing_interrupt))
            self._check_missing_tx()
        if self._reset_pending is not None:
            ver = self.mmio.read32(regs.ENA_REGS_VERSION_OFF)
            if ver == regs.ENA_MMIO_READ_TIMEOUT:
                return  # "FW isn't responsive, skipping reset routine" – retry next tick
            self._do_reset()

    def _reset_device(self, reason: int) -> None:
        res = dev_reset(self.mmio, reason, self._extended_reset_ok, self.era)
        self.last_reset_reason_sent = res.reason_sent

    def _do_reset(self) -> None:
        """``ena_fw_reset_device``: destroy (reset with the reason) then restore."""
        reason = self._reset_pending if self._reset_pending is not None else 0
        if self.state == "running":
            # a fresh reset (a retry after a failed restore keeps the original reason)
            self._c.last_reset_reason = reason
            self._destroy_device(reason)
        had_queues = self._queues_before_reset
        try:
            info = Negotiated(era=self.era)
            self._device_init(info)
            self._enable_mgmt_interrupts()
            if self.info is not None:
                # keep probe-time results that a re-init does not recompute
                info.moderation, info.rss, info.link = (
                    self.info.moderation,
                    self.info.rss,
                    self.info.link,
                )
            if had_queues:
                self._create_io_queues(min(had_queues, info.io_queues))
                self._rss_configure()
                if self.feat.supported(F.MTU):
                    self.feat.set_mtu(info.mtu)
            self.info = info
        except (DeviceError, AdminError, ResetError, ValueError):
            self._c.reset_fail += 1
            try:
                if self.mmio is not None:
                    dev_reset(
                        self.mmio,
                        int(ResetReason.DRIVER_INVALID_STATE),
                        self._extended_reset_ok,
                        self.era,
                    )
            except (DeviceError, ResetError):
                pass
            self._free_device_memory()
            self._free_queue_memory()
            self.state = "failed"
            self._reset_pending = int(ResetReason.NORMAL)
            return
        self._queues_before_reset = 0
        self._reset_pending = None
        self.state = "running"
        self._start_timer()

    def _destroy_device(self, reason: int) -> None:
        """``ena_destroy_device(graceful=false)``: reset first, then free; IO queues die with
        the reset (no admin commands to a device that is being reset)."""
        self.state = "resetting"
        self._queues_before_reset = len(self.queues)
        if self.aq is not None:
            self.aq.running = False
        with contextlib.suppress(DeviceError, ResetError):
            self._reset_device(reason)
        self.port.irq_take(0)
        self._free_queue_memory()
        self._free_device_memory()

    def _free_device_memory(self) -> None:
        """Per-init memory: AQ/ACQ, AENQ, host info, MMIO response buffer."""
        if self.aq is not None:
            self.aq.destroy()
            self.aq = None
        if self.aenq is not None:
            self.aenq.destroy()
            self.aenq = None
        if self._host_info_addr is not None:
            self.port.dma_free(self._host_info_addr)
            self._host_info_addr = None
        if self.mmio is not None:
            self.mmio.destroy()
            self.mmio = None

    def _free_all(self) -> None:
        self._free_queue_memory()
        self._free_device_memory()
        for name in ("_rss_key_addr", "_rss_input_addr", "_rss_table_addr", "_metrics_addr"):
            addr = getattr(self, name)
            if addr is not None:
                self.port.dma_free(addr)
                setattr(self, name, None)

    def _require_started(self) -> None:
        if self.state not in ("running", "failed"):
            raise DeviceError(f"driver is {self.state}, not running", hint="call probe() first")

    def _require_running(self) -> None:
        if self.state != "running":
            raise DeviceError(f"driver is {self.state}, not running", hint="call probe() first")


__all__ = ["EnaDriver", "Negotiated", "DriverCounters"]
