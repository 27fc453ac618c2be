"""`enatool reflect IFACE`: answer latency probes (XDP, AF_XDP or a UDP socket)."""

from __future__ import annotations

import click

from enatool.cli.common import command, echo_json, json_option


@command("reflect")
@click.argument("iface", required=False)
@click.option("--mode", type=click.Choice(["xdp", "afxdp", "socket"]), default="xdp",
              show_default=True, help="In-driver XDP_TX, user-space AF_XDP, or a UDP echo.")
@click.option("--port", type=int, default=7, show_default=True, help="UDP port of the probes.")
@click.option("--netns", default=None, help="Network namespace of IFACE.")
@click.option("-q", "--queue", "queues", type=int, multiple=True, help="AF_XDP queue.")
@click.option("-C", "--copy", type=click.Choice(["copy", "zc", "auto"]), default="auto",
              show_default=True, help="AF_XDP bind mode.")
@click.option("-B", "--busy-poll/--no-busy-poll", "busy", default=True, show_default=True,
              help="Busy-poll (afxdp, socket) instead of sleeping.")
@click.option("-A", "--xdp-mode", type=click.Choice(["native", "skb", "auto"]), default="auto",
              show_default=True)
@click.option("--cpu", type=int, default=None, help="Pin the reflector loop to this CPU.")
@click.option("--force", is_flag=True, help="Allow the interface with the default route.")
@click.option("--replace", is_flag=True, help="Replace an attached XDP program.")
@click.option("--drop-every", type=int, default=0, metavar="N",
              help="Test hook: drop every N-th probe.")
@click.option("-d", "--duration", type=float, default=None, help="Stop after this many seconds.")
@click.option("--bind", default=None, help="Socket mode: local address (default any).")
@click.option("--quiet", is_flag=True, help="No live counters.")
@json_option
def reflect(iface, mode, port, netns, queues, copy, busy, xdp_mode, cpu, force, replace,
            drop_every, duration, bind, quiet, as_json):
    """Reflect `enatool latency` probes until Ctrl-C (or --duration); detaches on exit.

    \b
    Examples:
      enatool reflect eth1                     XDP reflector for probes to UDP port 7
      enatool reflect eth1 --mode socket --cpu 1
    """
    from enatool.latency.reflect import ReflectConfig, run_reflect

    cfg = ReflectConfig(iface=iface, mode=mode, port=port, netns=netns,
                        queues=list(queues) or None, copy=copy, busy=busy, xdp_mode=xdp_mode,
                        cpu=cpu, force=force, replace=replace, drop_every=drop_every,
                        duration=duration, bind=bind)
    res = run_reflect(cfg, live=not quiet and not as_json)
    if as_json:
        echo_json({"program": "reflect", **res})
    else:
        click.echo(f"{res['mode']}: rx {res['rx']} reflected {res['reflected']} "
                   f"dropped {res['dropped']}" + (" (interrupted)" if res["interrupted"] else ""))
