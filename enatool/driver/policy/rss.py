"""RSS policy: which Rx queue a flow lands on, exactly as an ENA device hashes it.

Reproduces the Linux ENA driver *today* (amzn-drivers v2.17.0): Toeplitz selected at probe,
init value 0xFFFFFFFF, L3+L4 sort (symmetric) always requested, 40-byte key written as-is,
which the device applies byte-reversed. The 2016 driver (v1.0.0) selected CRC32 instead.
Also the fixed-key instances (older Nitro): a listed key used as is, init 0xFFFFFFFF,
symmetric, low 16 bits replicated into the upper 16.

CRC32 variant: ENA's polynomial is unpublished. We use CRC-32C (Castagnoli, reflected
0x82F63B78), register preloaded with the init value (Linux: 0xFFFFFFFF) and complemented at
the end, because it is the polynomial NIC and CPU hash engines implement (SSE4.2 ``crc32``,
DPDK ``rte_hash_crc``) and, with the Linux seed, it equals the published CRC-32C check values.

Hash input (our decision where the sources are silent, following Microsoft's RSS spec):
only the selected fields, concatenated in the order src L3, dst L3, src L4, dst L4 (for
NOT_IP: src MAC, dst MAC), network byte order, bits consumed MSB first.

Pure Python objects; the batch methods load ``numba_kernels.rss`` lazily.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from enatool.ena.admin import DEFAULT_HASH_FIELDS as _DEFAULT_HASH_FIELDS
from enatool.ena.admin import FlowHashFields, FlowHashProto, HashFunction
from enatool.errors import UsageError

RSS_KEY_SIZE = 40
RSS_TABLE_LOG2_DEFAULT = 7
RSS_TABLE_SIZE_DEFAULT = 1 << RSS_TABLE_LOG2_DEFAULT
RSS_INIT_LINUX = 0xFFFFFFFF
RSS_INIT_DPDK = 0

#: Key of instances that cannot change it; the device uses it as listed (not reversed).
FIXED_KEY = bytes.fromhex(
    "beac01fa6a42b73b8030f20c77cb2da3ae7b30b4d0ca2bcb43a38fb04167253d255b0ec26d5a56da"
)


# ``ena_admin_hash_functions`` (ids; the feature bitmaps use ``1 << id``),
# ``ena_admin_flow_hash_proto`` (index into the hash-input field arrays) and
# ``ena_admin_flow_hash_fields`` bits: defined once in enatool.ena.admin.
RssFunction = HashFunction
HashField = FlowHashFields

_L3 = HashField.L3_SA | HashField.L3_DA
_L4 = HashField.L4_SP | HashField.L4_DP

#: Today's driver defaults (``ena_com_set_default_hash_ctrl``); 8 and 9 are left empty.
DEFAULT_HASH_FIELDS: Mapping[FlowHashProto, HashField] = {
    p: _DEFAULT_HASH_FIELDS.get(p, HashField(0)) for p in FlowHashProto
}

_IPV6_PROTOS = (FlowHashProto.TCP6, FlowHashProto.UDP6, FlowHashProto.IP6,
                FlowHashProto.TCP6_EX, FlowHashProto.IP6_EX)


def effective_key(user_key: bytes | Sequence[int], convention: str = "linux") -> bytes:
    """The key the device actually applies.

    The device reads the key buffer byte-reversed. Linux writes the user's key as is, so
    the device uses ``reverse(user_key)``; DPDK and FreeBSD ("standard") reverse before
    writing, so the device ends up with standard Toeplitz over ``user_key``.
    """
    key = bytes(user_key)
    if len(key) != RSS_KEY_SIZE:
        raise UsageError(f"RSS key must be {RSS_KEY_SIZE} bytes, got {len(key)}")
    if convention == "linux":
        return key[::-1]
    if convention in ("standard", "dpdk", "freebsd"):
        return key
    raise UsageError(f"unknown RSS key convention {convention!r}",
                     hint="use 'linux' or 'standard'")


def parse_key(text: str) -> bytes:
    """Parse ``ethtool -x`` style "aa:bb:..." (or plain hex) into 40 bytes."""
    try:
        key = bytes.fromhex(text.replace(":", ""))
    except ValueError as exc:
        raise UsageError(f"bad RSS key {text!r}: {exc}") from None
    if len(key) != RSS_KEY_SIZE:
        raise UsageError(f"RSS key must be {RSS_KEY_SIZE} bytes, got {len(key)}")
    return key


def default_indirection_table(num_queues: int, size: int = RSS_TABLE_SIZE_DEFAULT) -> list[int]:
    """``ethtool_rxfh_indir_default``: entry i -> queue i mod N."""
    if num_queues < 1:
        raise UsageError(f"RSS needs at least one Rx queue, got {num_queues}")
    return [i % num_queues for i in range(size)]


def toeplitz_hash(eff_key: bytes, data: bytes, init_value: int = 0) -> int:
    """ENA Toeplitz: start at ``init_value``; for each set input bit (MSB first) XOR the
    32-bit window of the effective key starting at that bit (key as a ring)."""
    k = int.from_bytes(eff_key, "big")
    nbits = len(eff_key) * 8
    ring = (k << 32) | (k >> (nbits - 32))  # first 32 bits appended: windows never wrap
    total = nbits + 32
    h = init_value & 0xFFFFFFFF
    bit = 0
    for byte in data:
        for i in range(8):
            if byte & (0x80 >> i):
                pos = bit % nbits
                h ^= (ring >> (total - 32 - pos)) & 0xFFFFFFFF
            bit += 1
    return h


def _crc32c_table() -> list[int]:
    table = []
    for v in range(256):
        c = v
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32_hash(data: bytes, init_value: int = RSS_INIT_LINUX) -> int:
    """CRC-32C, register preloaded with ``init_value``, final complement (see module doc)."""
    c = init_value & 0xFFFFFFFF
    for byte in data:
        c = _CRC32C[(c ^ byte) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def replicate_low16(h: int) -> int:
    """Fixed-key mode: low 16 bits copied into the upper 16 (hashes look like 0xABCDABCD)."""
    lo = h & 0xFFFF
    return (lo << 16) | lo


def _addr_bytes(addr: Any, v6: bool) -> bytes:
    if isinstance(addr, bytes | bytearray):
        b = bytes(addr)
    elif isinstance(addr, int):
        b = addr.to_bytes(16 if v6 else 4, "big")
    else:
        b = ipaddress.ip_address(addr).packed
    if len(b) != (16 if v6 else 4):
        raise UsageError(f"address {addr!r} does not fit an IPv{'6' if v6 else '4'} flow")
    return b


@dataclass
class RssConfig:
    """Everything the device needs to pick a queue: function, key, init, sort, fields, table.

    ``key`` is the user's key (what ``ethtool -x`` shows); ``key_convention`` says how the
    driver wrote it (see :func:`effective_key`). ``replicate16`` is the fixed-key mode.
    """

    function: RssFunction = RssFunction.TOEPLITZ
    key: bytes = FIXED_KEY
    init_value: int = RSS_INIT_LINUX
    sort_l3: bool = True
    sort_l4: bool = True
    hash_fields: dict[FlowHashProto, HashField] = field(
        default_factory=lambda: dict(DEFAULT_HASH_FIELDS))
    table: list[int] = field(default_factory=lambda: default_indirection_table(1))
    key_convention: str = "linux"
    replicate16: bool = False

    def __post_init__(self) -> None:
        self.function = RssFunction(self.function)
        self.key = bytes(self.key)
        self._eff_key = effective_key(self.key, self.key_convention)
        self.set_table(self.table)
        self._tables_cache: dict[int, Any] = {}

    # -- construction helpers -------------------------------------------------------------
    @classmethod
    def linux_default(cls, key: bytes, num_queues: int,
                      table_size: int = RSS_TABLE_SIZE_DEFAULT) -> RssConfig:
        """Today's Linux driver after probe: Toeplitz, init 0xFFFFFFFF, symmetric."""
        return cls(key=key, table=default_indirection_table(num_queues, table_size))

    @classmethod
    def linux_2016_default(cls, num_queues: int) -> RssConfig:
        """The 2016 driver after probe: CRC32, init 0xFFFFFFFF, key buffer never filled
        (zeros). Its broken hash-input enums are not reproduced: today's fields are used."""
        return cls(function=RssFunction.CRC32, key=bytes(RSS_KEY_SIZE),
                   table=default_indirection_table(num_queues))

    @classmethod
    def fixed_key(cls, num_queues: int, table_size: int = RSS_TABLE_SIZE_DEFAULT) -> RssConfig:
        """Instances that cannot change the key (fixed key, 16-bit replicated hash)."""
        return cls(key=FIXED_KEY, key_convention="standard", replicate16=True,
                   table=default_indirection_table(num_queues, table_size))

    @property
    def effective_key(self) -> bytes:
        return self._eff_key

    def set_key(self, user_key: bytes, convention: str | None = None) -> None:
        """``ethtool -X DEV hkey ...``: new key (and optionally convention); drops the tables."""
        conv = self.key_convention if convention is None else convention
        self._eff_key = effective_key(user_key, conv)
        self.key, self.key_convention = bytes(user_key), conv
        self._tables_cache.clear()

    def set_table(self, entries: Iterable[int]) -> None:
        """User table (``ethtool -X ... weight/equal``); size must be a power of two."""
        table = [int(q) for q in entries]
        n = len(table)
        if n == 0 or n & (n - 1):
            raise UsageError(f"RSS table size {n} is not a power of two")
        if any(q < 0 or q > 0xFFFF for q in table):
            raise UsageError("RSS table entries must be queue ids 0..65535")
        self.table = table

    # -- scalar path ----------------------------------------------------------------------
    def hash_input(self, src_ip: Any, dst_ip: Any, src_port: int = 0, dst_port: int = 0,
                   proto: FlowHashProto = FlowHashProto.TCP4) -> bytes:
        """The bytes the device hashes for this flow (after sorting and field selection)."""
        proto = FlowHashProto(proto)
        fields = self.hash_fields.get(proto, HashField(0))
        if proto == FlowHashProto.NOT_IP:
            # src_ip/dst_ip carry MAC addresses here (6 bytes each).
            sa, da = bytes(src_ip), bytes(dst_ip)
            return ((sa if fields & HashField.L2_SA else b"")
                    + (da if fields & HashField.L2_DA else b""))
        v6 = proto in _IPV6_PROTOS
        s, d = _addr_bytes(src_ip, v6), _addr_bytes(dst_ip, v6)
        sp, dp = int(src_port) & 0xFFFF, int(dst_port) & 0xFFFF
        if self.sort_l3 and d < s:
            s, d = d, s
        if self.sort_l4 and dp < sp:
            sp, dp = dp, sp
        out = b""
        if fields & HashField.L3_SA:
            out += s
        if fields & HashField.L3_DA:
            out += d
        if fields & HashField.L4_SP:
            out += sp.to_bytes(2, "big")
        if fields & HashField.L4_DP:
            out += dp.to_bytes(2, "big")
        return out

    def hash_bytes(self, data: bytes) -> int:
        """Hash an already-built input (see :meth:`hash_input`)."""
        if self.function == RssFunction.TOEPLITZ:
            h = toeplitz_hash(self._eff_key, data, self.init_value)
        else:
            h = crc32_hash(data, self.init_value)
        return replicate_low16(h) if self.replicate16 else h

    def hash_tuple(self, src_ip: Any, dst_ip: Any, src_port: int = 0, dst_port: int = 0,
                   proto: FlowHashProto = FlowHashProto.TCP4) -> int:
        return self.hash_bytes(self.hash_input(src_ip, dst_ip, src_port, dst_port, proto))

    def queue_for(self, h: int) -> int:
        return self.table[h % len(self.table)]

    def queue_for_tuple(self, src_ip: Any, dst_ip: Any, src_port: int = 0, dst_port: int = 0,
                        proto: FlowHashProto = FlowHashProto.TCP4) -> int:
        return self.queue_for(self.hash_tuple(src_ip, dst_ip, src_port, dst_port, proto))

    # -- batch path (numba kernels) -------------------------------------------------------
    def toeplitz_tables(self, nbytes: int) -> Any:
        """Per-key lookup tables for the Toeplitz kernels (cached per input length)."""
        tables = self._tables_cache.get(nbytes)
        if tables is None:
            import numpy as np

            from numba_kernels import rss as krss

            key = np.frombuffer(self._eff_key, dtype=np.uint8).copy()
            tables = krss.toeplitz_tables(key, max(nbytes, 1))
            self._tables_cache[nbytes] = tables
        return tables

    def hash_rows(self, rows: Any) -> Any:
        """Hash uint8[n, L] rows of prepared input bytes (already sorted/selected)."""
        import numpy as np

        from numba_kernels import rss as krss

        rows = np.ascontiguousarray(rows, dtype=np.uint8)
        out = np.empty(rows.shape[0], dtype=np.uint32)
        if self.function == RssFunction.TOEPLITZ:
            krss.toeplitz_rows(rows, self.toeplitz_tables(rows.shape[1]), self.init_value, out)
        else:
            krss.crc32_rows(rows, krss.crc32c_table(), self.init_value, out)
        if self.replicate16:
            krss.replicate_low16(out, out)
        return out

    def hash_ipv4_batch(self, src_ip: Any, dst_ip: Any, src_port: Any = None,
                        dst_port: Any = None, proto: FlowHashProto = FlowHashProto.TCP4) -> Any:
        """Hash IPv4 flows given as arrays (addresses as u32, ports as u16) -> uint32[n]."""
        import numpy as np

        from numba_kernels import rss as krss

        proto = FlowHashProto(proto)
        fields = self.hash_fields.get(proto, HashField(0))
        src_ip = np.ascontiguousarray(src_ip, dtype=np.uint32)
        dst_ip = np.ascontiguousarray(dst_ip, dtype=np.uint32)
        n = src_ip.shape[0]
        src_port = np.zeros(n, np.uint16) if src_port is None else np.asarray(src_port, np.uint16)
        dst_port = np.zeros(n, np.uint16) if dst_port is None else np.asarray(dst_port, np.uint16)
        if (self.function == RssFunction.TOEPLITZ and fields & _L3 == _L3
                and fields & _L4 in (_L4, HashField(0))):
            out = np.empty(n, dtype=np.uint32)
            krss.toeplitz_ipv4_batch(src_ip, dst_ip, src_port, dst_port,
                                     self.toeplitz_tables(12), self.init_value,
                                     self.sort_l3, self.sort_l4, bool(fields & _L4), out)
            if self.replicate16:
                krss.replicate_low16(out, out)
            return out
        return self.hash_rows(self.ipv4_rows(src_ip, dst_ip, src_port, dst_port, proto))

    def ipv4_rows(self, src_ip: Any, dst_ip: Any, src_port: Any, dst_port: Any,
                  proto: FlowHashProto = FlowHashProto.TCP4) -> Any:
        """Sorted, field-selected input rows for IPv4 flows (addresses as u32)."""
        import numpy as np

        n = len(src_ip)
        src = np.asarray(src_ip, ">u4").reshape(n, 1).view(np.uint8)
        dst = np.asarray(dst_ip, ">u4").reshape(n, 1).view(np.uint8)
        return self._tuple_rows(src, dst, src_port, dst_port, proto)

    def hash_ipv6_batch(self, src_ip: Any, dst_ip: Any, src_port: Any = None,
                        dst_port: Any = None, proto: FlowHashProto = FlowHashProto.TCP6) -> Any:
        """Hash IPv6 flows: addresses as uint8[n, 16] (network order), ports as u16."""
        import numpy as np

        src = np.ascontiguousarray(src_ip, dtype=np.uint8).reshape(-1, 16)
        dst = np.ascontiguousarray(dst_ip, dtype=np.uint8).reshape(-1, 16)
        n = src.shape[0]
        sp = np.zeros(n, np.uint16) if src_port is None else src_port
        dp = np.zeros(n, np.uint16) if dst_port is None else dst_port
        return self.hash_rows(self._tuple_rows(src, dst, sp, dp, proto))

    def _tuple_rows(self, src: Any, dst: Any, src_port: Any, dst_port: Any,
                    proto: FlowHashProto) -> Any:
        import numpy as np

        from numba_kernels import rss as krss

        n, alen = src.shape
        full = np.empty((n, 2 * alen + 4), dtype=np.uint8)
        full[:, :alen] = src
        full[:, alen:2 * alen] = dst
        full[:, 2 * alen:2 * alen + 2] = np.asarray(src_port, ">u2").reshape(n, 1).view(np.uint8)
        full[:, 2 * alen + 2:] = np.asarray(dst_port, ">u2").reshape(n, 1).view(np.uint8)
        krss.sort_rows(full, alen, self.sort_l3, self.sort_l4)
        return np.ascontiguousarray(full[:, self._column_mask(FlowHashProto(proto), alen)])

    def _column_mask(self, proto: FlowHashProto, alen: int) -> list[int]:
        fields = self.hash_fields.get(proto, HashField(0))
        cols: list[int] = []
        if fields & HashField.L3_SA:
            cols += range(0, alen)
        if fields & HashField.L3_DA:
            cols += range(alen, 2 * alen)
        if fields & HashField.L4_SP:
            cols += range(2 * alen, 2 * alen + 2)
        if fields & HashField.L4_DP:
            cols += range(2 * alen + 2, 2 * alen + 4)
        return cols

    def queues_for_hashes(self, hashes: Any) -> Any:
        import numpy as np

        from numba_kernels import rss as krss

        table = np.asarray(self.table, dtype=np.uint16)
        out = np.empty(len(hashes), dtype=np.uint16)
        return krss.queue_from_hash(np.asarray(hashes, dtype=np.uint32), table, out)


def flows_to_queue(config: RssConfig, queue: int, count: int, src_ip: Any, dst_ip: Any,
                   src_port: int = 1024, dst_port: int = 80,
                   proto: FlowHashProto = FlowHashProto.UDP4,
                   vary: str = "src_port") -> list[tuple[Any, Any, int, int]]:
    """Craft ``count`` flows that the device will steer to Rx ``queue``.

    Walks source ports upward from ``src_port`` (``vary="src_port"``, wrapping after 65535)
    or source addresses upward from ``src_ip`` (``vary="src_ip"``) and keeps the tuples whose
    hash selects ``queue``. Raises UsageError when the search space has too few of them.
    """
    if queue not in config.table:
        raise UsageError(f"queue {queue} is not in the RSS indirection table")
    proto = FlowHashProto(proto)
    v6 = proto in _IPV6_PROTOS
    found: list[tuple[Any, Any, int, int]] = []
    if vary == "src_port":
        for k in range(65536):
            sp = (src_port + k) & 0xFFFF
            if config.queue_for_tuple(src_ip, dst_ip, sp, dst_port, proto) == queue:
                found.append((src_ip, dst_ip, sp, dst_port))
                if len(found) == count:
                    return found
    elif vary == "src_ip":
        base = int.from_bytes(_addr_bytes(src_ip, v6), "big")
        top = (1 << (128 if v6 else 32)) - 1
        for k in range(1 << 20):
            if base + k > top:
                break
            ip = ipaddress.ip_address(base + k)
            if config.queue_for_tuple(ip, dst_ip, src_port, dst_port, proto) == queue:
                found.append((str(ip), dst_ip, src_port, dst_port))
                if len(found) == count:
                    return found
    else:
        raise UsageError(f"cannot vary {vary!r}", hint="use src_port or src_ip")
    raise UsageError(f"only {len(found)} of {count} flows reach queue {queue}",
                     hint="vary another field or lower the count")
