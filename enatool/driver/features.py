"""Typed GET/SET_FEATURE helpers (ena_com's ``ena_com_get_feature_ex`` and friends).

Today's ena_com (amzn-drivers v2.17.0, INTERFACE.md §3): the AQ entry carries {select flags,
feature id, feature version} at bytes 16–18 and the payload from byte 20; the ACQ payload
starts at byte 8. A GET/SET of a feature whose bit is clear in ``supported_features`` is
refused by the driver (-EOPNOTSUPP) without touching the device; DEVICE_ATTRIBUTES (1) is
always allowed, and so is HOST_ATTR_CONFIG (28), which Linux sets before it has read the
bitmap. Commands with a control buffer carry the ctrl_data_indirect flag, as Linux does.
"""

from __future__ import annotations

import os
import platform

import numpy as np

from enatool.driver.admin_queue import AdminQueue, FeatureNotSupported
from enatool.ena import admin as A
from enatool.ena.bits import pack, unpack

F = A.FeatureId


def _version_tuple() -> tuple[int, int, int]:
    try:
        from enatool import __version__ as v  # type: ignore[attr-defined]
    except ImportError:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("enatool")
        except PackageNotFoundError:
            v = "0.0.0"
    parts = [int("".join(ch for ch in p if ch.isdigit()) or 0) for p in str(v).split(".")[:3]]
    while len(parts) < 3:
        parts.append(0)
    return parts[0], parts[1], parts[2]


def host_info_bytes(era: str = "today") -> bytes:
    """The 4 KB host-info page (``ena_config_host_info``) describing enatool's driver.

    driver_version carries enatool's own version with module type 'g' (we reproduce the
    GitHub driver); 2016 pages end at byte 184 (no spec version, BDF, CPUs, feature bits).
    """
    major, minor, sub = _version_tuple()
    fields = dict(
        os_type=int(A.OsType.LINUX),
        os_dist_str=b"enatool",
        kernel_ver_str=platform.release().encode()[:31],
        driver_version=(
            (major & 0xFF)
            | (minor & 0xFF) << A.ENA_ADMIN_HOST_INFO_MINOR_SHIFT
            | (sub & 0xFF) << A.ENA_ADMIN_HOST_INFO_SUB_MINOR_SHIFT
            | A.ENA_DRIVER_MODULE_TYPE_GITHUB << A.ENA_ADMIN_HOST_INFO_MODULE_TYPE_SHIFT
        ),
    )
    if era != "2016":
        fields.update(
            ena_spec_version=(
                A.ENA_COMMON_SPEC_VERSION_MAJOR << A.ENA_ADMIN_HOST_INFO_SPEC_MAJOR_SHIFT
            )
            | A.ENA_COMMON_SPEC_VERSION_MINOR,
            num_cpus=min(os.cpu_count() or 1, 0xFFFF),
            driver_supported_features=int(
                A.DriverSupportedFeatures.RX_OFFSET
                | A.DriverSupportedFeatures.INTERRUPT_MODERATION
                | A.DriverSupportedFeatures.RX_BUF_MIRRORING
                | A.DriverSupportedFeatures.RSS_CONFIGURABLE_FUNCTION_KEY
                | A.DriverSupportedFeatures.RX_PAGE_REUSE
                | A.DriverSupportedFeatures.TX_IPV6_CSUM_OFFLOAD
                | A.DriverSupportedFeatures.PHC
                | A.DriverSupportedFeatures.DEBUG_AREA_EXT
            ),
        )
    return pack(A.ENA_ADMIN_HOST_INFO, **fields)


class Features:
    """GET/SET_FEATURE over one admin queue, gated by the device's ``supported_features``."""

    def __init__(self, aq: AdminQueue):
        self.aq = aq
        self.supported_features = 0
        self.capabilities = 0

    # -- generic ----------------------------------------------------------------------------
    def supported(self, fid: int) -> bool:
        return fid == F.DEVICE_ATTRIBUTES or bool(self.supported_features >> int(fid) & 1)

    def _check(self, fid: int) -> None:
        if not self.supported(fid):
            raise FeatureNotSupported(int(fid))

    @staticmethod
    def _cmd(opcode, fid, version, payload: bytes, ctrl: tuple[int, int] | None) -> bytes:
        fields = dict(
            opcode=int(opcode),
            feature_id=int(fid),
            feature_version=int(version),
            payload=payload,
        )
        if ctrl is not None and ctrl[1]:
            fields.update(
                flags=A.ENA_ADMIN_AQ_COMMON_DESC_CTRL_DATA_INDIRECT_MASK,
                ctrl_address=ctrl[0],
                ctrl_length=ctrl[1],
            )
        return pack(A.ENA_ADMIN_AQ_GET_FEAT_CMD, **fields)

    def get_raw(self, fid: int, version: int = 0, ctrl: tuple[int, int] | None = None) -> bytes:
        """56-byte response payload of GET_FEATURE ``fid``."""
        self._check(fid)
        resp = self.aq.execute(self._cmd(A.AdminOpcode.GET_FEATURE, fid, version, b"", ctrl))
        return resp[8:64]

    def get(self, fid: int, version: int = 0, ctrl: tuple[int, int] | None = None) -> dict:
        return unpack(A.FEATURE_PAYLOAD_DTYPES[F(fid)], self.get_raw(fid, version, ctrl))

    def set(
        self,
        fid: int,
        payload: bytes = b"",
        ctrl: tuple[int, int] | None = None,
        *,
        check: bool = True,
        version: int = 0,
    ) -> bytes:
        if check:
            self._check(fid)
        cmd = self._cmd(A.AdminOpcode.SET_FEATURE, fid, version, payload, ctrl)
        return self.aq.execute(cmd)

    # -- probe-time GETs --------------------------------------------------------------------
    def get_device_attributes(self) -> dict:
        attr = self.get(F.DEVICE_ATTRIBUTES)
        self.supported_features = attr["supported_features"]
        self.capabilities = attr["capabilities"]
        return attr

    def has_capability(self, cap: int) -> bool:
        return bool(self.capabilities >> int(cap) & 1)

    def get_max_queues(self) -> dict:
        """MAX_QUEUES_EXT (version 1) when supported, else MAX_QUEUES_NUM; the result has
        the EXT field names either way plus ``source`` (7 or 2)."""
        if self.supported(F.MAX_QUEUES_EXT):
            q = self.get(F.MAX_QUEUES_EXT, version=A.ENA_FEATURE_MAX_QUEUE_EXT_VER)
            if q["version"] != A.ENA_FEATURE_MAX_QUEUE_EXT_VER:
                raise ValueError(f"MAX_QUEUES_EXT version {q['version']} != 1 (-EINVAL)")
            q["source"] = int(F.MAX_QUEUES_EXT)
            return q
        q = self.get(F.MAX_QUEUES_NUM)
        return dict(
            source=int(F.MAX_QUEUES_NUM),
            max_tx_sq_num=q["max_sq_num"],
            max_tx_cq_num=q["max_cq_num"],
            max_rx_sq_num=min(q["max_sq_num"], q["max_cq_num"]),
            max_rx_cq_num=min(q["max_sq_num"], q["max_cq_num"]),
            max_tx_sq_depth=q["max_sq_depth"],
            max_tx_cq_depth=q["max_cq_depth"],
            max_rx_sq_depth=q["max_sq_depth"],
            max_rx_cq_depth=q["max_cq_depth"],
            max_tx_header_size=q["max_header_size"],
            max_per_packet_tx_descs=q["max_packet_tx_descs"],
            max_per_packet_rx_descs=q["max_packet_rx_descs"],
        )

    def get_aenq_config(self) -> dict:
        return self.get(F.AENQ_CONFIG)

    def set_aenq_config(self, groups: int) -> None:
        """``ena_com_set_aenq_config``: GET first, refuse groups the device lacks."""
        supported = self.get_aenq_config()["supported_groups"]
        if supported & groups != groups:
            raise FeatureNotSupported(int(F.AENQ_CONFIG))
        self.set(F.AENQ_CONFIG, pack(A.ENA_ADMIN_FEATURE_AENQ_DESC, enabled_groups=groups))

    def get_offloads(self) -> dict:
        return self.get(F.STATELESS_OFFLOAD_CONFIG)

    def get_hw_hints(self) -> dict | None:
        """HW_HINTS, or None when unsupported (the driver then uses its defaults)."""
        if not self.supported(F.HW_HINTS):
            return None
        return self.get(F.HW_HINTS)

    def get_llq(self) -> dict | None:
        if not self.supported(F.LLQ):
            return None
        return self.get(F.LLQ, version=A.ENA_ADMIN_LLQ_FEATURE_VERSION_1)

    def set_llq(
        self, header_location: int, entry_size_ctrl: int, descs_before_header: int, stride_ctrl: int
    ) -> None:
        """``ena_com_set_llq``: only the *enabled* fields, both accel flags always set."""
        payload = pack(
            A.ENA_ADMIN_FEATURE_LLQ_DESC,
            header_location_ctrl_enabled=header_location,
            entry_size_ctrl_enabled=entry_size_ctrl,
            desc_num_before_header_enabled=descs_before_header,
            descriptors_stride_ctrl_enabled=stride_ctrl,
            accel_mode_enabled_flags=int(
                A.LlqAccelFlags.DISABLE_META_CACHING | A.LlqAccelFlags.LIMIT_TX_BURST
            ),
        )
        self.set(F.LLQ, payload)

    def get_link_config(self) -> dict | None:
        if not self.supported(F.LINK_CONFIG):
            return None
        return self.get(F.LINK_CONFIG)

    def get_intr_moderation(self) -> dict | None:
        if not self.supported(F.INTERRUPT_MODERATION):
            return None
        return self.get(F.INTERRUPT_MODERATION)

    def set_mtu(self, mtu: int) -> None:
        self.set(F.MTU, pack(A.ENA_ADMIN_SET_FEATURE_MTU_DESC, mtu=mtu))

    def set_host_attr(self, host_info_addr: int, debug_addr: int = 0, debug_size: int = 0):
        """HOST_ATTR_CONFIG, sent before DEVICE_ATTRIBUTES is known (no support check)."""
        payload = pack(
            A.ENA_ADMIN_SET_FEATURE_HOST_ATTR_DESC,
            os_info_ba=host_info_addr,
            debug_ba=debug_addr,
            debug_area_size=debug_size,
        )
        self.set(F.HOST_ATTR_CONFIG, payload, check=False)

    # -- RSS --------------------------------------------------------------------------------
    def get_rss_ind_table(self, ctrl: tuple[int, int] | None = None) -> dict:
        return self.get(F.RSS_INDIRECTION_TABLE_CONFIG, ctrl=ctrl)

    def set_rss_ind_table(self, log_size: int, ctrl: tuple[int, int]) -> None:
        payload = pack(
            A.ENA_ADMIN_FEATURE_RSS_IND_TABLE,
            size=log_size,
            inline_index=A.ENA_ADMIN_RSS_IND_TABLE_NO_INLINE_INDEX,
        )
        self.set(F.RSS_INDIRECTION_TABLE_CONFIG, payload, ctrl)

    def get_rss_hash_function(self, key_ctrl: tuple[int, int] | None = None) -> dict:
        return self.get(F.RSS_HASH_FUNCTION, ctrl=key_ctrl)

    def set_rss_hash_function(self, func: int, init_val: int, key_ctrl: tuple[int, int]):
        payload = pack(
            A.ENA_ADMIN_FEATURE_RSS_FLOW_HASH_FUNCTION,
            selected_func=1 << int(func),
            init_val=init_val,
        )
        self.set(F.RSS_HASH_FUNCTION, payload, key_ctrl)

    def get_rss_hash_input(self, ctrl: tuple[int, int]) -> dict:
        return self.get(F.RSS_HASH_INPUT, ctrl=ctrl)

    def set_rss_hash_input(self, sort: int, ctrl: tuple[int, int]) -> None:
        payload = pack(A.ENA_ADMIN_FEATURE_RSS_HASH_INPUT, enabled_input_sort=sort)
        self.set(F.RSS_HASH_INPUT, payload, ctrl)


def bit_names(value: int, flag_cls) -> list[str]:
    """Names of the set bits of ``value`` according to an IntFlag/IntEnum of bit masks."""
    return [m.name for m in flag_cls if int(value) & int(m)]


def mac_str(mac: bytes | np.ndarray) -> str:
    return ":".join(f"{b:02x}" for b in bytes(mac))
