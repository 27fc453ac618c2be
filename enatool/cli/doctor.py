"""``enatool doctor``: what this machine (and optionally one interface) can do.

Runs the full capability probe (enatool.caps) and renders it; no logic of its own beyond the
exit policy: 0 when everything the requested work needs is OK (the software ENA device
always; the AF_XDP pieces too when an interface is named), 1 otherwise. Missing optional
pieces are reported with the commands they affect.
"""

from __future__ import annotations

import sys

import click

from enatool import caps as capsmod
from enatool.cli.common import command, echo_json, json_option


def _arrow() -> str:
    enc = (getattr(sys.stdout, "encoding", None) or "").lower()
    return "→" if "utf" in enc else "->"


def _verdict(record: capsmod.Caps) -> tuple[int, list[tuple[str, list[str], str]]]:
    """(exit code, [(area, missing check names, what it affects)])."""
    affected = []
    for area, (names, what) in capsmod.AFFECTS.items():
        probed = [n for n in names if record.get(n) is not None]
        bad = [n for n in probed if not record.get(n).ok]  # type: ignore[union-attr]
        if bad:
            affected.append((area, bad, what))
    required = list(capsmod.CORE)
    if record.iface is not None:
        required += list(capsmod.AFFECTS["afxdp"][0]) + ["iface", "iface_xdp_native"]
    code = 0 if record.ok(*required) else 1
    return code, affected


@command(
    "doctor",
    epilog="""\b
Examples:
  enatool doctor              every check for this machine
  enatool doctor eth1         also ask the eth1 driver about native XDP and zero-copy
  enatool doctor --json       the same as JSON (schema_version 1)

\b
Exit status: 0 when everything needed is OK (the software ENA device; with IFACE also
the AF_XDP backend), 1 when something needed is missing, 2 for an unknown IFACE.""",
)
@click.argument("iface", required=False)
@json_option
def doctor(iface: str | None, as_json: bool) -> None:
    """Check what this machine can do: BPF, XDP modes, AF_XDP, bcc, numba, busy-poll.

    Every check is real (it loads a program, attaches XDP to a veth pair in a throwaway
    network namespace, binds an AF_XDP socket, compiles with bcc) and leaves nothing behind.
    With IFACE, also reads that interface's driver and its advertised XDP features
    (read-only: nothing is attached to it).
    """
    record = capsmod.probe(iface=iface)
    code, affected = _verdict(record)
    if as_json:
        echo_json(
            {
                "iface": iface,
                "checks": record.to_dict(),
                "summary": {
                    "ok": code == 0,
                    "exit_code": code,
                    "affected": [{"area": a, "missing": m, "affects": w} for a, m, w in affected],
                },
            }
        )
        sys.exit(code)
    arrow = _arrow()
    width = max(len(n) for n in capsmod.CHECKS)
    items = list(record.items())
    for name, check in items:
        if check.ok:
            click.echo(f"OK  {name:<{width}}  {check.detail}")
        else:
            fix = f" {arrow} {check.fix}" if check.fix else ""
            click.echo(f"NO  {name:<{width}}  {check.detail}{fix}")
    n_ok = sum(1 for _, c in items if c.ok)
    click.echo(f"\n{n_ok}/{len(items)} checks OK.")
    for _area, missing, what in affected:
        click.echo(f"Missing {', '.join(missing)}: affects {what}.")
    if code == 0:
        click.echo("Everything needed is available.")
    else:
        click.echo("Something needed is missing (exit 1).")
    sys.exit(code)
