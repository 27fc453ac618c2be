"""`enatool info [IFACE]`: what the driver negotiated with a device."""

from __future__ import annotations

import click

from enatool.cli.common import command, json_option


@command("info")
@click.argument("iface", required=False)
@click.option(
    "--queues",
    type=click.IntRange(1, 128),
    default=None,
    help="Software device only: number of IO queue pairs it offers (default 8).",
)
@click.option("--no-llq", is_flag=True, help="Software device only: offer no LLQ (host placement).")
@json_option
def info(iface, queues, no_llq, as_json):
    """Probe a device and print what the driver negotiated.

    With no IFACE a software ENA device is probed through enatool's driver layer exactly as
    the Linux driver probes hardware: reset, versions, admin queue, features, LLQ, RSS,
    moderation, AENQ. With IFACE the real netdev is described (driver, channels, coalescing,
    rings, offloads; allowance counters on the ena driver).

    \b
    Examples:
      enatool info                  software ENA device (no root, no network)
      enatool info --json           same, as a versioned JSON object
      enatool info --no-llq         a device without LLQ: host placement is negotiated
      enatool info eth0             a real interface
    """
    from enatool import info as program
    from enatool.report.text import render_sections

    if iface:
        if queues is not None or no_llq:
            raise click.UsageError("--queues/--no-llq apply only to the software device")
        report = program.netdev_report(iface)
    else:
        options = {"llq": not no_llq}
        if queues is not None:
            options["num_queues"] = queues
        report = program.software_device_report(**options)
    if as_json:
        import json

        click.echo(json.dumps(report, indent=2, default=str))
    else:
        click.echo(render_sections(_for_terminal(report)))


def _for_terminal(report: dict) -> dict:
    """The text view drops unsupported (None) values and lists only enabled offloads;
    --json keeps everything."""
    if report.get("source") != "netdev":
        return report
    out = dict(report)
    offloads = report.get("offloads")
    if offloads is not None:
        out["offloads"] = {"enabled": sorted(k for k, v in offloads.items() if v)}
    for key in ("moderation",):
        if report.get(key) is not None:
            out[key] = {k: v for k, v in report[key].items() if v is not None}
    queues = {}
    for name, block in (report.get("queues") or {}).items():
        if block is None:
            queues[name] = "not supported"
            continue
        cur = {k: v for k, v in block["current"].items() if v is not None}
        mx = {k: v for k, v in block["max"].items() if v is not None}
        queues[name] = f"{cur} (max {mx})".replace("'", "")
    out["queues"] = queues
    return out
