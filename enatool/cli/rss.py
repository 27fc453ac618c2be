"""`enatool rss hash|flows|show`: RSS as an ENA device computes it."""

from __future__ import annotations

import functools
import json

import click

from enatool.cli.common import EnatoolCommand, EnatoolGroup, json_option

_CTX = {"help_option_names": ["-h", "--help"]}


def _int_auto(text):
    try:
        return int(str(text), 0)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a number") from None


def config_options(func):
    """The RSS configuration options every sub-command shares (defaults: today's Linux)."""
    options = [
        click.option("--key", default=None, metavar="HEX",
                     help="40-byte key as 'aa:bb:..' (as ethtool -x shows it). "
                          "Default: the Toeplitz test key of INTERFACE.md §8."),
        click.option("--fixed-key", is_flag=True,
                     help="Instances that cannot change the key: fixed key, 16-bit "
                          "replicated hash, symmetric."),
        click.option("--function", type=click.Choice(["toeplitz", "crc32"]),
                     default="toeplitz", show_default=True),
        click.option("--convention", type=click.Choice(["linux", "standard"]),
                     default="linux", show_default=True,
                     help="linux: key written as-is, the device applies it byte-reversed; "
                          "standard: DPDK/FreeBSD, standard Toeplitz."),
        click.option("--init", "init_value", default=None, metavar="N",
                     help="Hash init value (default 0xffffffff, as Linux).",
                     callback=lambda c, p, v: None if v is None else _int_auto(v)),
        click.option("--queues", type=int, default=8, show_default=True,
                     help="Rx queues in the default indirection table."),
        click.option("--table-size", type=int, default=128, show_default=True),
        click.option("--table", default=None, metavar="Q,Q,..",
                     help="Explicit indirection table (replaces the default fill)."),
        click.option("--no-sort", is_flag=True,
                     help="Disable L3/L4 sorting (Linux always enables it)."),
    ]
    for option in reversed(options):
        func = option(func)

    @functools.wraps(func)
    def wrapper(*args, key, fixed_key, function, convention, init_value, queues,
                table_size, table, no_sort, **kwargs):
        from enatool.rss import program

        config = program.build_config(
            key=key, fixed_key=fixed_key, function=function, convention=convention,
            init_value=init_value, queues=queues, table_size=table_size, table=table,
            sort=not no_sort)
        return func(*args, config=config, **kwargs)

    return wrapper


def _emit(report: dict, as_json: bool, lines) -> None:
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        for line in lines(report):
            click.echo(line)


@click.group("rss", cls=EnatoolGroup, context_settings=_CTX)
def rss():
    """RSS: the hash and receive queue of a flow, flows crafted to land on chosen queues,
    and a device's RSS settings.

    \b
    Examples:
      enatool rss hash 1.2.3.4:7000 1.2.3.5:7000 --init 0
      enatool rss hash 10.100.0.40 10.100.0.36 --fixed-key --proto ip
      enatool rss flows --to-queue 3 --count 4 198.18.0.1 198.18.0.2:4791
      enatool rss show                  software device, as the driver set it up
      enatool rss show eth0             a real interface (ethtool -x)
    """


@rss.command("hash", cls=EnatoolCommand, context_settings=_CTX)
@click.argument("src")
@click.argument("dst")
@click.option("--proto", type=click.Choice(["udp", "tcp", "ip"]), default="udp",
              show_default=True, help="Flow type (selects the hash-input fields).")
@click.option("--sport", type=click.IntRange(0, 65535), default=None)
@click.option("--dport", type=click.IntRange(0, 65535), default=None)
@config_options
@json_option
def hash_cmd(src, dst, proto, sport, dport, config, as_json):
    """Hash one flow: SRC and DST as ADDR[:PORT] ([ADDR]:PORT for IPv6).

    \b
    Example (INTERFACE.md §8, Linux convention, init 0):
      $ enatool rss hash 1.2.3.4:7000 1.2.3.5:7000 --init 0
      hash 0xa4a1471a  index 26  queue 2
    """
    from enatool.rss import program

    report = program.hash_report(config, src, dst, proto, sport, dport)

    def lines(r):
        f = r["flow"]
        yield (f"{f['proto']} {f['src']}:{f['sport']} -> {f['dst']}:{f['dport']}")
        yield f"hash 0x{int(r['hash'], 16):08x}  index {r['table_index']}  queue {r['queue']}"
        c = r["config"]
        yield (f"({c['function']}, {c['key_convention']} key, init {c['init_value']}, "
               f"table {c['table_size']})")

    _emit(report, as_json, lines)


@rss.command("flows", cls=EnatoolCommand, context_settings=_CTX)
@click.argument("src")
@click.argument("dst")
@click.option("--to-queue", "to_queues", type=int, multiple=True, required=True,
              help="Receive queue the flows must land on (repeatable).")
@click.option("--count", type=click.IntRange(1, 65536), default=8, show_default=True,
              help="Flows per queue.")
@click.option("--proto", type=click.Choice(["udp", "tcp"]), default="udp", show_default=True)
@click.option("--vary", type=click.Choice(["src_port", "src_ip"]), default="src_port",
              show_default=True, help="Which field the search walks.")
@config_options
@json_option
def flows_cmd(src, dst, to_queues, count, proto, vary, config, as_json):
    """Craft flows from SRC[:PORT] to DST[:PORT] that land on the chosen queues.

    \b
    Example:
      enatool rss flows --to-queue 0 --to-queue 5 --count 2 198.18.0.1 198.18.0.2:4791
    """
    from enatool.rss import program

    report = program.flows_report(config, list(to_queues), count, src, dst, proto, vary)

    def lines(r):
        yield f"{'queue':>5}  {'source':<22} {'destination':<22} hash"
        for f in r["flows"]:
            yield (f"{f['queue']:>5}  {f['src'] + ':' + str(f['sport']):<22} "
                   f"{f['dst'] + ':' + str(f['dport']):<22} {f['hash']}")

    _emit(report, as_json, lines)


@rss.command("show", cls=EnatoolCommand, context_settings=_CTX)
@click.argument("iface", required=False)
@json_option
def show_cmd(iface, as_json):
    """Key, function and indirection table of IFACE, or of the software device."""
    from enatool.rss import program

    report = program.show_netdev(iface) if iface else program.show_software_device()

    def lines(r):
        if r.get("supported") is False:
            yield f"{r['ifname']}: RSS settings not supported by this interface"
            return
        if "function" in r:
            yield f"function  {r['function']}"
            yield f"init      {r['init_value']}"
            yield f"sort      {', '.join(r['input_sort']) or 'none'}"
        else:
            on = [k for k, v in r["functions"].items() if v]
            yield f"function  {', '.join(on) or 'n/a'}"
        yield f"key       {r['key'] or 'n/a'}"
        table = r["table"]
        if not table:
            yield "table     n/a (not supported by this interface)"
            return
        yield f"table     {r['table_size']} entries"
        for i in range(0, len(table), 16):
            yield f"  {i:4}: " + " ".join(f"{q:2}" for q in table[i:i + 16])

    _emit(report, as_json, lines)
