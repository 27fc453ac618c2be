"""LLQ (Tx push mode) negotiation: ``ena_set_llq_configurations`` +
``ena_com_config_llq_info`` + ``ena_set_queues_placement_policy`` (INTERFACE.md §6).

Today's policy (amzn-drivers v2.17.0):

* host placement (policy 1) when feature 4 is unsupported, BAR2 is absent, the supported
  bitmaps cannot be satisfied, or SET LLQ fails;
* driver defaults: inline header, multiple descriptors per line, 2 descriptors before the
  header, 128-byte lines, or 256-byte lines under the large-LLQ policy (forced by the user,
  or — when unspecified — when the device supports 256 and recommends it);
* fallbacks per field when a default is not supported: stride multiple → single; entry size
  128 → 192 → 256; descriptors before header 2 → 1 → 4 → 8; the header location must be
  inline;
* accelerated mode: DISABLE_META_CACHING and LIMIT_TX_BURST are taken from the device's
  supported flags; the burst limit is max_tx_burst_size / line size lines.

The 2016 driver had no feature 4 (push mode was a module parameter); era "2016" here uses
host placement.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from enatool.ena import admin as A

TX_DESC_SIZE = 16
DEFAULT_RING_SIZE = 1024
DEFAULT_WIDE_LLQ_RING_SIZE = 512


@dataclass
class LlqConfig:
    placement: str = "host"  # "host" (policy 1) or "device" (policy 3, LLQ)
    why_host: str = ""
    header_location: str = ""
    header_location_ctrl: int = 0
    entry_size: int = 0
    entry_size_ctrl: int = 0
    descs_before_header: int = 0
    stride: str = ""
    stride_ctrl: int = 0
    descs_per_entry: int = 0
    max_push_header: int = 0
    large: bool = False
    disable_meta_caching: bool = False
    max_entries_in_tx_burst: int = 0
    max_tx_burst_bytes: int = 0
    max_llq_num: int = 0
    max_llq_depth: int = 0
    max_wide_llq_depth: int = 0

    @property
    def policy(self) -> int:
        return int(A.PlacementPolicy.DEV if self.placement == "device" else A.PlacementPolicy.HOST)

    def as_dict(self) -> dict:
        return asdict(self)


def host(why: str) -> LlqConfig:
    return LlqConfig(placement="host", why_host=why)


def use_large_llq(llq: dict, large_policy: bool | None) -> bool:
    """``ena_set_llq_configurations``: large (256 B) lines or not."""
    supported = bool(llq["entry_size_ctrl_supported"] & A.LlqRingEntrySize.E256)
    if large_policy is False or not supported:
        return False
    if large_policy is None:
        return llq["entry_size_recommended"] == A.LlqRingEntrySize.E256
    return True


def negotiate(llq: dict, large_policy: bool | None = None) -> LlqConfig:
    """Choose the LLQ parameters from a GET LLQ payload; raises ValueError (-EINVAL) when
    the device's bitmaps leave no valid choice (the caller then falls back to host)."""
    large = use_large_llq(llq, large_policy)
    cfg = LlqConfig(placement="device", large=large)
    cfg.max_llq_num = llq["max_llq_num"]
    cfg.max_llq_depth = llq["max_llq_depth"]
    cfg.max_wide_llq_depth = llq["max_wide_llq_depth"]

    sup = llq["header_location_ctrl_supported"]
    if not sup & A.LlqHeaderLocation.INLINE:
        raise ValueError(f"invalid header location control, supported {sup:#x}")
    cfg.header_location_ctrl = int(A.LlqHeaderLocation.INLINE)
    cfg.header_location = "inline"

    sup = llq["descriptors_stride_ctrl_supported"]
    for choice in (A.LlqStrideCtrl.MULTIPLE, A.LlqStrideCtrl.SINGLE):
        if sup & choice:
            cfg.stride_ctrl = int(choice)
            cfg.stride = choice.name.lower()
            break
    else:
        raise ValueError(f"invalid descriptor stride control, supported {sup:#x}")

    sup = llq["entry_size_ctrl_supported"]
    default = A.LlqRingEntrySize.E256 if large else A.LlqRingEntrySize.E128
    order = [default] + [
        e
        for e in (A.LlqRingEntrySize.E128, A.LlqRingEntrySize.E192, A.LlqRingEntrySize.E256)
        if e != default
    ]
    for choice in order:
        if sup & choice:
            cfg.entry_size_ctrl = int(choice)
            cfg.entry_size = A.LLQ_ENTRY_SIZE_BYTES[choice]
            break
    else:
        raise ValueError(f"invalid entry size control, supported {sup:#x}")
    if cfg.entry_size % 8:
        raise ValueError(f"illegal LLQ entry size {cfg.entry_size}")
    cfg.descs_per_entry = (
        cfg.entry_size // TX_DESC_SIZE if cfg.stride_ctrl == A.LlqStrideCtrl.MULTIPLE else 1
    )

    sup = llq["desc_num_before_header_supported"]
    for n in (
        A.LlqNumDescsBeforeHeader.TWO,
        A.LlqNumDescsBeforeHeader.ONE,
        A.LlqNumDescsBeforeHeader.FOUR,
        A.LlqNumDescsBeforeHeader.EIGHT,
    ):
        if sup & n:
            cfg.descs_before_header = int(n)
            break
    else:
        raise ValueError(f"invalid descs before header, supported {sup:#x}")
    cfg.max_push_header = cfg.entry_size - cfg.descs_before_header * TX_DESC_SIZE

    flags = llq["accel_mode_supported_flags"]
    cfg.disable_meta_caching = bool(flags & A.LlqAccelFlags.DISABLE_META_CACHING)
    if flags & A.LlqAccelFlags.LIMIT_TX_BURST:
        cfg.max_tx_burst_bytes = llq["accel_mode_max_tx_burst_size"]
        cfg.max_entries_in_tx_burst = cfg.max_tx_burst_bytes // cfg.entry_size
    return cfg


def max_tx_depth(cfg: LlqConfig, max_tx_cq_depth: int, max_tx_sq_depth: int) -> int:
    """``ena_calc_io_queue_size``'s Tx maximum (before rounding to a power of 2)."""
    depth = max_tx_cq_depth
    if cfg.placement == "device":
        depth = min(depth, cfg.max_llq_depth)
        if cfg.large:
            wide = depth // 2 if cfg.max_wide_llq_depth == 0 else min(depth, cfg.max_wide_llq_depth)
            depth = wide
    else:
        depth = min(depth, max_tx_sq_depth)
    return depth
