"""Coalescing on a real netdev: ethtool netlink (pyroute2), the ethtool program as fallback,
queue IRQ rates from /proc/interrupts and softirq CPU time from /proc/stat.

Why netlink first: it returns the kernel's own refusal text (extack) in one line, e.g.
"cannot modify an unsupported parameter", where the ioctl only gives an errno. pyroute2 0.9
has no coalesce message, so the ``ETHTOOL_MSG_COALESCE_*`` layout of
``include/uapi/linux/ethtool_netlink.h`` is declared here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time

from enatool.errors import CapabilityError, DeviceError, InterfaceError

ETHTOOL_MSG_COALESCE_GET = 19
ETHTOOL_MSG_COALESCE_SET = 20
EOPNOTSUPP = 95

#: user-facing name -> (netlink attribute, kind)
_FIELDS = {
    "rx_usecs": ("ETHTOOL_A_COALESCE_RX_USECS", int),
    "rx_max_frames": ("ETHTOOL_A_COALESCE_RX_MAX_FRAMES", int),
    "tx_usecs": ("ETHTOOL_A_COALESCE_TX_USECS", int),
    "tx_max_frames": ("ETHTOOL_A_COALESCE_TX_MAX_FRAMES", int),
    "adaptive_rx": ("ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX", bool),
    "adaptive_tx": ("ETHTOOL_A_COALESCE_USE_ADAPTIVE_TX", bool),
}


def _msg_class():
    from pyroute2.netlink import genlmsg
    from pyroute2.netlink.generic.ethtool import ethtoolheader as header_nla

    class ethtool_coalesce_msg(genlmsg):
        nla_map = (
            ("ETHTOOL_A_COALESCE_UNSPEC", "none"),
            ("ETHTOOL_A_COALESCE_HEADER", "ethtoolheader"),
            ("ETHTOOL_A_COALESCE_RX_USECS", "uint32"),
            ("ETHTOOL_A_COALESCE_RX_MAX_FRAMES", "uint32"),
            ("ETHTOOL_A_COALESCE_RX_USECS_IRQ", "uint32"),
            ("ETHTOOL_A_COALESCE_RX_MAX_FRAMES_IRQ", "uint32"),
            ("ETHTOOL_A_COALESCE_TX_USECS", "uint32"),
            ("ETHTOOL_A_COALESCE_TX_MAX_FRAMES", "uint32"),
            ("ETHTOOL_A_COALESCE_TX_USECS_IRQ", "uint32"),
            ("ETHTOOL_A_COALESCE_TX_MAX_FRAMES_IRQ", "uint32"),
            ("ETHTOOL_A_COALESCE_STATS_BLOCK_USECS", "uint32"),
            ("ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX", "uint8"),
            ("ETHTOOL_A_COALESCE_USE_ADAPTIVE_TX", "uint8"),
        )
        ethtoolheader = header_nla

    return ethtool_coalesce_msg


def _nl_request(ifname: str, cmd: int, attrs: list) -> list:
    from pyroute2.netlink import NLM_F_ACK, NLM_F_REQUEST
    from pyroute2.netlink.generic import GenericNetlinkSocket

    msg_cls = _msg_class()
    msg = msg_cls()
    msg["cmd"] = cmd
    msg["version"] = 1
    msg["attrs"].append(("ETHTOOL_A_COALESCE_HEADER",
                         {"attrs": [["ETHTOOL_A_HEADER_DEV_NAME", ifname]]}))
    msg["attrs"].extend(attrs)
    flags = NLM_F_REQUEST | (NLM_F_ACK if cmd == ETHTOOL_MSG_COALESCE_SET else 0)
    with GenericNetlinkSocket(ext_ack=True) as sock:
        sock.bind("ethtool", msg_cls)
        return list(sock.nlm_request(msg, msg_type=sock.prid, msg_flags=flags))


def _nl_reason(err) -> str:
    """The kernel's extack text when present, else the errno's name."""
    text = str(getattr(err, "extra_msg", "") or "")
    if not text and len(getattr(err, "args", ())) > 1:
        text = str(err.args[1])
    return text or os.strerror(getattr(err, "code", 0) or 0)


def get_coalesce(ifname: str) -> dict:
    """{"supported", "source", "values" | "reason", "note"?} for ``ifname``."""
    try:
        from pyroute2.netlink.exceptions import NetlinkError
    except ImportError:  # pragma: no cover - pyroute2 is a dependency
        NetlinkError = OSError  # noqa: N806
    try:
        replies = _nl_request(ifname, ETHTOOL_MSG_COALESCE_GET, [])
    except NetlinkError as e:
        if e.code == EOPNOTSUPP:
            return {"supported": False, "source": "ethtool-netlink",
                    "reason": "the driver does not support interrupt coalescing "
                              "(EOPNOTSUPP)"}
        if e.code == 19:  # ENODEV
            raise InterfaceError(f"no interface {ifname!r}") from None
        return _fallback_get(ifname, f"ethtool netlink failed: {_nl_reason(e)}")
    except Exception as e:  # no genetlink family, old kernel, ...
        return _fallback_get(ifname, f"ethtool netlink unavailable ({type(e).__name__})")
    values: dict = {}
    for reply in replies:
        for key, (attr, kind) in _FIELDS.items():
            v = reply.get_attr(attr)
            if v is not None:
                values[key] = kind(v)
    return {"supported": True, "source": "ethtool-netlink", "values": values}


def _fallback_get(ifname: str, note: str) -> dict:
    from enatool import ethtool

    text = ethtool.coalesce(ifname)
    if text is None:
        return {"supported": False, "source": "ethtool -c", "note": note,
                "reason": "`ethtool -c` failed: the interface does not support coalescing"}
    values = {"rx_usecs": text.get("rx-usecs"), "tx_usecs": text.get("tx-usecs"),
              "adaptive_rx": text.get("adaptive-rx"), "adaptive_tx": text.get("adaptive-tx")}
    return {"supported": True, "source": "ethtool -c", "note": note,
            "values": {k: v for k, v in values.items() if v is not None}}


def set_coalesce(ifname: str, **changes) -> str:
    """Apply ``changes`` (rx_usecs, tx_usecs, adaptive_rx); returns the path used.

    A refusal raises DeviceError with the kernel's reason in one line."""
    from pyroute2.netlink.exceptions import NetlinkError

    attrs = []
    for key, value in changes.items():
        if value is None:
            continue
        attr, kind = _FIELDS[key]
        attrs.append((attr, int(value)))
    if not attrs:
        return "nothing to change"
    try:
        _nl_request(ifname, ETHTOOL_MSG_COALESCE_SET, attrs)
        return "ethtool-netlink"
    except NetlinkError as e:
        if e.code == EOPNOTSUPP:
            raise DeviceError(f"{ifname} does not support interrupt coalescing "
                              f"(kernel: {_nl_reason(e)})") from None
        raise DeviceError(f"the kernel refused the coalescing change on {ifname}: "
                          f"{_nl_reason(e)}") from None
    except Exception:
        return _fallback_set(ifname, changes)


def _fallback_set(ifname: str, changes: dict) -> str:
    exe = shutil.which("ethtool")
    if exe is None:
        raise CapabilityError("neither ethtool netlink nor the ethtool program is usable",
                              hint="apt-get install ethtool")
    args = [exe, "-C", ifname]
    names = {"rx_usecs": "rx-usecs", "tx_usecs": "tx-usecs", "adaptive_rx": "adaptive-rx"}
    for key, value in changes.items():
        if value is None:
            continue
        args += [names[key], ("on" if value else "off") if isinstance(value, bool) else str(value)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=10)
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["refused"])[-1]
        raise DeviceError(f"the kernel refused the coalescing change on {ifname}: {reason}")
    return "ethtool -C (fallback)"


# -- IRQs and CPU ----------------------------------------------------------------------------

def queue_irqs(ifname: str, text: str | None = None) -> dict[str, int]:
    """``{"<if>-Tx-Rx-<i>": count summed over CPUs}`` from /proc/interrupts (ENA names its
    queue vectors so; other drivers' ``<if>-...`` vectors are included as well)."""
    if text is None:
        try:
            with open("/proc/interrupts") as f:
                text = f.read()
        except OSError:
            return {}
    out: dict[str, int] = {}
    pat = re.compile(rf"\s({re.escape(ifname)}[-_][\w-]+)\s*$")
    for line in text.splitlines()[1:]:
        m = pat.search(line)
        if not m:
            continue
        fields = line.split(":", 1)[1].split()
        out[m.group(1)] = sum(int(x) for x in fields if x.isdigit())
    return out


def softirq_seconds(text: str | None = None) -> float:
    """Total softirq CPU time (all CPUs) from the ``cpu`` line of /proc/stat."""
    if text is None:
        with open("/proc/stat") as f:
            text = f.read()
    for line in text.splitlines():
        if line.startswith("cpu "):
            fields = line.split()
            return int(fields[7]) / os.sysconf("SC_CLK_TCK")
    return 0.0


def irq_rates(ifname: str, sample_s: float = 0.5) -> dict[str, float]:
    """Interrupts per second of each queue vector over a short sample."""
    a = queue_irqs(ifname)
    if not a:
        return {}
    time.sleep(sample_s)
    b = queue_irqs(ifname)
    return {k: (b.get(k, v) - v) / sample_s for k, v in a.items()}
