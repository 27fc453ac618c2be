"""The `enatool rss` program: builds an RssConfig from user choices, hashes tuples,
crafts flows for chosen queues, and shows a device's RSS state.

All hashing is the one RSS policy (`enatool.driver.policy.rss`); nothing here re-implements
Toeplitz or the table lookup.
"""

from __future__ import annotations

import ipaddress

from enatool.driver.policy import rss as policy
from enatool.errors import UsageError

SCHEMA_VERSION = 1

#: The Toeplitz verification key of INTERFACE.md §8 (used when no key is given, so that
#: results are reproducible and comparable with the published vectors).
TEST_KEY = bytes.fromhex(
    "77d1c934a4c9bd876e35dd17b2e3239e396d8a932a95b4723ab37f568edeb60197af3b2f3a70e704"
)

PROTOS = {
    "tcp": (policy.FlowHashProto.TCP4, policy.FlowHashProto.TCP6),
    "udp": (policy.FlowHashProto.UDP4, policy.FlowHashProto.UDP6),
    "ip": (policy.FlowHashProto.IP4, policy.FlowHashProto.IP6),
}


def parse_endpoint(text: str, what: str) -> tuple[str, int | None]:
    """'1.2.3.4', '1.2.3.4:80', '2001:2::1', '[2001:2::1]:80' -> (address, port or None)."""
    host, port = text, None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise UsageError(f"bad {what} {text!r}", hint="use [ADDR]:PORT for IPv6")
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise UsageError(f"bad {what} address {host!r}") from None
    if port is not None:
        if not port.isdigit() or int(port) > 65535:
            raise UsageError(f"bad {what} port {port!r}", hint="ports are 0..65535")
        port = int(port)
    return str(addr), port


def build_config(*, key: str | None, fixed_key: bool, function: str, convention: str,
                 init_value: int | None, queues: int, table_size: int,
                 table: str | None, sort: bool) -> policy.RssConfig:
    """An RssConfig from CLI choices (defaults: today's Linux driver)."""
    if queues < 1:
        raise UsageError("--queues must be at least 1")
    if table_size < 1 or table_size & (table_size - 1):
        raise UsageError(f"--table-size {table_size} is not a power of two")
    if fixed_key:
        if key is not None:
            raise UsageError("--fixed-key and --key exclude each other")
        config = policy.RssConfig.fixed_key(queues, table_size)
    else:
        user_key = policy.parse_key(key) if key is not None else TEST_KEY
        config = policy.RssConfig(
            function=policy.RssFunction[function.upper()],
            key=user_key,
            key_convention=convention,
            init_value=policy.RSS_INIT_LINUX if init_value is None else init_value,
            sort_l3=sort,
            sort_l4=sort,
            table=policy.default_indirection_table(queues, table_size),
        )
    if table is not None:
        try:
            config.set_table(int(q) for q in table.replace(",", " ").split())
        except ValueError:
            raise UsageError(f"bad --table {table!r}", hint="queue ids, e.g. '0,1,2,3'") from None
    return config


def _proto(name: str, v6: bool) -> policy.FlowHashProto:
    return PROTOS[name][1 if v6 else 0]


def describe(config: policy.RssConfig) -> dict:
    return {
        "function": config.function.name.lower(),
        "key": config.key.hex(":"),
        "key_convention": "fixed" if config.replicate16 else config.key_convention,
        "effective_key": config.effective_key.hex(":"),
        "init_value": f"0x{config.init_value:08x}",
        "sort": {"l3": config.sort_l3, "l4": config.sort_l4},
        "replicate16": config.replicate16,
        "table_size": len(config.table),
    }


def hash_report(config: policy.RssConfig, src: str, dst: str, proto: str,
                sport: int | None, dport: int | None) -> dict:
    s_addr, s_port = parse_endpoint(src, "source")
    d_addr, d_port = parse_endpoint(dst, "destination")
    v6 = ipaddress.ip_address(s_addr).version == 6
    if v6 != (ipaddress.ip_address(d_addr).version == 6):
        raise UsageError("source and destination must both be IPv4 or both IPv6")
    sp = sport if sport is not None else (s_port or 0)
    dp = dport if dport is not None else (d_port or 0)
    fp = _proto(proto, v6)
    h = config.hash_tuple(s_addr, d_addr, sp, dp, fp)
    index = h % len(config.table)
    return {
        "schema_version": SCHEMA_VERSION,
        "flow": {"src": s_addr, "dst": d_addr, "sport": sp, "dport": dp, "proto": fp.name},
        "input": config.hash_input(s_addr, d_addr, sp, dp, fp).hex(":"),
        "hash": f"0x{h:08x}",
        "table_index": index,
        "queue": config.table[index],
        "config": describe(config),
    }


def flows_report(config: policy.RssConfig, queues: list[int], count: int, src: str,
                 dst: str, proto: str, vary: str) -> dict:
    s_addr, s_port = parse_endpoint(src, "source")
    d_addr, d_port = parse_endpoint(dst, "destination")
    v6 = ipaddress.ip_address(s_addr).version == 6
    fp = _proto(proto, v6)
    if count < 1:
        raise UsageError("--count must be at least 1")
    flows = []
    for q in queues:
        for s, d, sp, dp in policy.flows_to_queue(
            config, q, count, s_addr, d_addr, s_port if s_port is not None else 1024,
            d_port if d_port is not None else 4791, fp, vary,
        ):
            h = config.hash_tuple(s, d, sp, dp, fp)
            flows.append({"queue": q, "src": str(s), "dst": str(d), "sport": sp, "dport": dp,
                          "hash": f"0x{h:08x}"})
    return {"schema_version": SCHEMA_VERSION, "proto": fp.name, "flows": flows,
            "config": describe(config)}


def show_software_device(**device_options) -> dict:
    """RSS as the driver configured it on a freshly probed software device."""
    from enatool.backends.base import open_driver

    driver, _device = open_driver("soft", **device_options)
    try:
        rss = driver.probe().as_dict()["rss"]
        queues = driver.info.io_queues
    finally:
        driver.close()
    table = policy.default_indirection_table(queues, rss["table_size"])
    return {"schema_version": SCHEMA_VERSION, "source": "software-device",
            "function": rss["function"].lower(), "key": rss["key"],
            "init_value": rss["init_val"], "input_sort": rss["input_sort"],
            "hash_inputs": rss["hash_inputs"], "table_size": rss["table_size"],
            "table": table}


def show_netdev(ifname: str) -> dict:
    """`ethtool -x` of a real interface, parsed."""
    from enatool import ethtool, netdev

    netdev.lookup(ifname)
    parsed = ethtool.rss(ifname)
    if parsed is None:
        return {"schema_version": SCHEMA_VERSION, "source": "netdev", "ifname": ifname,
                "supported": False}
    return {"schema_version": SCHEMA_VERSION, "source": "netdev", "ifname": ifname,
            "supported": True, **parsed}
