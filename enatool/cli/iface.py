"""Options and plumbing shared by the commands that drive a real interface (gen, sink, and
later latency/reflect): one flag vocabulary (xdp-tools model), one capability check, one way
to run with Ctrl-C/SIGTERM turned into a clean stop, one way to print the result.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator

import click

from enatool.errors import CapabilityError, DeviceError, UsageError


def xsk_options(func):
    """``-C``, ``-B``, ``-A``, ``--huge-pages``, ``--cpu``, ``--netns``, ``--force``,
    ``--replace``."""
    options = [
        click.option("-C", "--copy-mode", "copy_mode", type=click.Choice(["auto", "copy", "zc"]),
                     default="auto", show_default=True,
                     help="AF_XDP bind: zero-copy, copy, or zero-copy then copy (reported)."),
        click.option("-B", "--busy-poll", is_flag=True, help="Busy-poll socket options."),
        click.option("-A", "--attach-mode", "attach_mode",
                     type=click.Choice(["native", "skb", "auto"]), default="auto",
                     show_default=True, help="XDP attach mode (auto: native, else skb + "
                                             "warning)."),
        click.option("--huge-pages", "huge_pages", is_flag=True,
                     help="UMEM in 2 MiB huge pages (reserve them first: sysctl "
                          "vm.nr_hugepages=N)."),
        click.option("--cpu", "cpus", default=None, metavar="N,N,..",
                     help="Pin queue i's worker to the i-th CPU of this list."),
        click.option("--netns", default=None, metavar="NS",
                     help="The interface lives in this network namespace."),
        click.option("--force", is_flag=True,
                     help="Allow the interface that carries the default route."),
        click.option("--replace", is_flag=True,
                     help="Replace an XDP program someone else attached."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def parse_cpus(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        cpus = [int(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise UsageError(f"bad --cpu {text!r}", hint="e.g. --cpu 0,1") from None
    import os

    allowed = os.sched_getaffinity(0)
    bad = [c for c in cpus if c not in allowed]
    if bad:
        raise UsageError(f"CPU(s) {bad} are not available", hint=f"use {sorted(allowed)}")
    return cpus


def require_root(iface: str) -> None:
    """One line naming what is missing, pointing to ``enatool doctor IFACE``."""
    from enatool import caps

    rec = caps.probe(only=("root",))
    missing = rec.missing("root")
    if missing:
        c = missing[0][1]
        raise CapabilityError(f"driving {iface} needs root or CAP_NET_ADMIN+CAP_BPF "
                              f"({c.detail})", hint=f"run as root; `enatool doctor {iface}` "
                                                    "explains")


def doctor_hint(iface: str):
    """Decorator-free wrapper: re-raise capability/device errors with the doctor hint
    (not those marked ``self_explained``: their own hint is the whole fix)."""

    @contextlib.contextmanager
    def ctx() -> Iterator[None]:
        try:
            yield
        except (CapabilityError, DeviceError) as e:
            if getattr(e, "self_explained", False):
                raise
            hint = e.hint or ""
            more = f"`enatool doctor {iface}` explains"
            if "doctor" not in hint:
                hint = f"{hint}; {more}" if hint else more
            e.hint = hint
            raise

    return ctx()


def emit(summary: dict, as_json: bool, lines) -> None:
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=_plain))
    else:
        for line in lines(summary):
            click.echo(line)
    sys.stdout.flush()


def _plain(v):
    try:
        import numpy as np

        if isinstance(v, np.integer):
            return int(v)
        if isinstance(v, np.floating):
            return float(v)
        if isinstance(v, np.ndarray):
            return v.tolist()
    except ImportError:
        pass
    return str(v)


def mode_line(s: dict) -> str:
    parts = [f"engine {s.get('engine') or s.get('backend')}"]
    if s.get("xdp_mode"):
        parts.append(f"XDP {s['xdp_mode']}")
    if s.get("bind_mode"):
        parts.append(f"AF_XDP {s['bind_mode']}")
    if s.get("umem_huge_pages"):
        parts.append("UMEM 2 MiB pages")
    if s.get("batch"):
        parts.append(f"batch {s['batch']}")
    where = s.get("ifname") or "?"
    if s.get("netns"):
        where += f" (netns {s['netns']})"
    return f"  {where}: " + ", ".join(parts)


def allowance_lines(s: dict) -> list[str]:
    a = s.get("ena_allowance")
    if not a:
        return []
    out = ["  ENA allowance counters (increase during the run):"]
    for k, v in a["delta"].items():
        out.append(f"    {k:<32} {v:>12}")
    return out
