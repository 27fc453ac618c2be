"""Read a real netdev's settings through the `ethtool` program.

Debian 12's ethtool has no `--json` for most sub-commands, so its text output is parsed
here, once. Every reader returns None when the interface does not support the query
(veth has no coalescing, lo has no driver info): callers say "not supported" instead of
failing.
"""

from __future__ import annotations

import shutil
import subprocess

from enatool.errors import CapabilityError


def _run(args: list[str]) -> str | None:
    exe = shutil.which("ethtool")
    if exe is None:
        raise CapabilityError("the ethtool program is missing", hint="apt-get install ethtool")
    proc = subprocess.run([exe, *args], capture_output=True, text=True, timeout=10)
    if proc.returncode != 0:
        return None
    return proc.stdout


def _value(text: str):
    """ethtool prints numbers, on/off, n/a and free text; keep numbers as ints."""
    text = text.strip()
    if text.endswith("[fixed]"):
        text = text[: -len("[fixed]")].strip()
    if text in ("on", "off"):
        return text == "on"
    if text == "n/a" or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        return text


def _pairs(text: str) -> dict:
    out = {}
    for line in text.splitlines():
        if ":" not in line or line.rstrip().endswith(":"):
            continue
        key, _, val = line.partition(":")
        out[key.strip()] = _value(val)
    return out


def _max_and_current(text: str) -> dict | None:
    """Channel and ring output: a 'Pre-set maximums' block then a 'Current' block."""
    parts = text.split("Current hardware settings:")
    if len(parts) != 2:
        return None
    maximum = _pairs(parts[0].split("maximums:", 1)[-1])
    return {"max": maximum, "current": _pairs(parts[1])}


def driver_info(ifname: str) -> dict | None:
    text = _run(["-i", ifname])
    return None if text is None else _pairs(text)


def channels(ifname: str) -> dict | None:
    text = _run(["-l", ifname])
    return None if text is None else _max_and_current(text)


def rings(ifname: str) -> dict | None:
    text = _run(["-g", ifname])
    return None if text is None else _max_and_current(text)


def coalesce(ifname: str) -> dict | None:
    text = _run(["-c", ifname])
    if text is None:
        return None
    values = _pairs(text)
    # "Adaptive RX: on  TX: off" and "CQE mode RX: n/a  TX: n/a" hold two settings each
    for line in text.splitlines():
        if " RX:" in line and "TX:" in line:
            name, _, rest = line.partition(" RX:")
            rx, _, tx = rest.partition("TX:")
            values.pop(f"{name} RX", None)
            key = name.strip().lower().replace(" ", "-")
            values[f"{key}-rx"] = _value(rx)
            values[f"{key}-tx"] = _value(tx)
    return values


def features(ifname: str) -> dict | None:
    text = _run(["-k", ifname])
    if text is None:
        return None
    return {k: v for k, v in _pairs(text).items() if isinstance(v, bool)}


def statistics(ifname: str) -> dict | None:
    text = _run(["-S", ifname])
    return None if text is None else _pairs(text)


# Counters the ENA driver exports that explain throttling on EC2 (INTERFACE.md §9).
ENA_ALLOWANCE_COUNTERS = (
    "bw_in_allowance_exceeded",
    "bw_out_allowance_exceeded",
    "pps_allowance_exceeded",
    "conntrack_allowance_exceeded",
    "linklocal_allowance_exceeded",
    "conntrack_allowance_available",
)


def rss(ifname: str) -> dict | None:
    """`ethtool -x`: indirection table, key and hash function."""
    text = _run(["-x", ifname])
    if text is None:
        return None
    table: list[int] = []
    key_lines: list[str] = []
    functions: dict[str, bool] = {}
    section = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("RX flow hash indirection table"):
            section = "table"
        elif line.startswith("RSS hash key"):
            section = "key"
        elif line.startswith("RSS hash function"):
            section = "func"
        elif not line:
            continue
        elif section == "table" and ":" in line:
            table.extend(int(x) for x in line.split(":", 1)[1].split())
        elif section == "key":
            key_lines.append(line)
        elif section == "func" and ":" in line:
            name, _, state = line.partition(":")
            functions[name.strip()] = state.strip() == "on"
    key = "".join(key_lines)
    return {"table": table, "table_size": len(table),
            "key": None if key in ("", "Operation not supported") else key,
            "functions": functions}
