"""`enatool gen [IFACE]`: generate UDP/TCP traffic.

Without IFACE the traffic crosses the software ENA device pair (driver Tx -> device A ->
wire -> device B with RSS -> driver Rx) and both ends are reported.
"""

from __future__ import annotations

import functools
import json
import sys
import time

import click

from enatool.cli.common import command, json_option, writable_file
from enatool.cli.iface import xsk_options
from enatool.errors import UsageError

SOFT_CLOCK_STEP = 2e-6  # seconds of virtual time per driver service step


def _rate(text):
    """'1M', '100k', '2.5G', '1e6' -> float."""
    if text is None:
        return None
    scale = {"k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6, "g": 1e9, "G": 1e9}
    t = str(text).strip()
    try:
        if t and t[-1] in scale:
            return float(t[:-1]) * scale[t[-1]]
        return float(t)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a rate (e.g. 100k, 1.5M, 10G)") from None


def traffic_options(func):
    """Traffic-shape options shared by gen (and later sink/latency)."""
    options = [
        click.option("--size", default=None, metavar="N|imix|N:W,..",
                     help="Frame size incl. FCS (64..MTU+18), 'imix' (7:4:1 of "
                          "64/594/1518) or a custom mix '64:7,594:4,1518:1'."),
        click.option("--proto", type=click.Choice(["udp", "tcp"]), default="udp",
                     show_default=True),
        click.option("--ipv6", is_flag=True, help="IPv6 instead of IPv4."),
        click.option("--vlan", type=click.IntRange(0, 4094), default=None,
                     help="802.1Q VLAN id."),
        click.option("--src", default=None, metavar="A[-B]", help="Source address range."),
        click.option("--dst", default=None, metavar="A[-B]",
                     help="Destination address range."),
        click.option("--sport", default=None, metavar="P[-Q]", help="Source port range."),
        click.option("--dport", default=None, metavar="P[-Q]",
                     help="Destination port range (default 9)."),
        click.option("--flows", type=click.IntRange(1, 1 << 20), default=None,
                     help="Number of flows (spread over source ports unless ranges say "
                          "otherwise)."),
        click.option("--to-queues", default=None, metavar="Q,Q,..",
                     help="Craft flows with the receiver's RSS so they land on these Rx "
                          "queues."),
    ]
    for option in reversed(options):
        func = option(func)

    @functools.wraps(func)
    def wrapper(*args, size, proto, ipv6, vlan, src, dst, sport, dport, flows, to_queues,
                **kwargs):
        from enatool.gen.templates import GenSpec

        fields = {"proto": proto, "ipv6": ipv6, "vlan": vlan, "flows": flows}
        if size is not None:
            fields["size"] = size
        for name, value in (("src", src), ("dst", dst), ("sport", sport), ("dport", dport)):
            if value is not None:
                fields[name] = value
        if flows and flows > 1 and sport is None and not to_queues:
            # N flows by default means N source ports (TRex style), not an error
            fields["sport"] = f"1024-{1024 + flows - 1}" if flows <= 64512 else "1024-65535"
        if to_queues:
            try:
                fields["to_queues"] = tuple(int(q) for q in to_queues.split(","))
            except ValueError:
                raise UsageError(f"bad --to-queues {to_queues!r}", hint="e.g. 0,2,3") from None
            if sport is None:
                fields["sport"] = "1024-65535"
        return func(*args, spec=GenSpec(**fields), **kwargs)

    return wrapper


@command("gen")
@click.argument("iface", required=False)
@traffic_options
@click.option("-c", "--count", type=click.IntRange(1), default=None,
              help="Frames to send (default 1,000,000 on the software device).")
@click.option("-d", "--duration", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds to run (wall clock; see --virtual).")
@click.option("--rate", default=None, metavar="PPS", help="Pace at this many frames/s.")
@click.option("--bitrate", default=None, metavar="BPS",
              help="Pace at this many bits/s on the wire (frame + 24 B overhead).")
@click.option("-q", "--queues", type=click.IntRange(1, 128), default=1, show_default=True,
              help="Queues to send on (software device: queue pairs of each device).")
@click.option("-b", "--batch", type=click.IntRange(1, 4096), default=None,
              help="Frames per batch (default 64; 256 on an interface).")
@click.option("--fill", type=click.Choice(["fields", "full", "static"]), default=None,
              help="IFACE afxdp: per-frame field rewrite (default: sequence, timestamp, "
                   "checksums), full template copy, or static prebuilt frames (no probe "
                   "header, least CPU).")
@click.option("--engine", type=click.Choice(["afxdp", "xdp-live", "socket"]), default=None,
              help="IFACE only: AF_XDP Tx loop (default), BPF_PROG_RUN live frames, or "
                   "kernel UDP sendmmsg.")
@xsk_options
@click.option("--src-mac", default=None, help="IFACE only: source MAC (default: IFACE's).")
@click.option("--dst-mac", default=None,
              help="IFACE only: destination MAC (default: the neighbour entry of --dst).")
@click.option("--rss-key", default=None, metavar="HEX",
              help="--to-queues on IFACE: the receiver's RSS key (default: the Toeplitz "
                   "test key, as `enatool rss`).")
@click.option("--rss-queues", type=click.IntRange(1, 128), default=None,
              help="--to-queues on IFACE: the receiver's Rx queue count (default -q).")
@click.option("--rss-table", default=None, metavar="Q,Q,..",
              help="--to-queues on IFACE: the receiver's indirection table.")
@click.option("--rss-function", type=click.Choice(["toeplitz", "crc32"]), default="toeplitz",
              show_default=True)
@click.option("--link-rate", default="100G", show_default=True,
              help="Software device only: rate of the virtual wire (bps, 0 = unlimited).")
@click.option("--no-llq", is_flag=True, help="Software device only: host placement.")
@click.option("--virtual", is_flag=True,
              help="Software device only: --duration counts virtual seconds.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None,
              callback=writable_file,
              help="Write a per-second time series to this CSV file.")
@click.option("--live/--no-live", default=None,
              help="One line of stats per interval (default: on a terminal).")
@json_option
def gen(iface, spec, count, duration, rate, bitrate, queues, batch, fill, engine, copy_mode,
        busy_poll, attach_mode, huge_pages, cpus, netns, force, replace, src_mac, dst_mac,
        rss_key, rss_queues, rss_table, rss_function, link_rate, no_llq, virtual, csv_path,
        live, as_json):
    """Generate UDP/TCP frames: flat out or paced, many flows, sizes or IMIX.

    Without IFACE the frames cross the software ENA device pair and the receiving side is
    reported too: Rx distribution over queues (RSS), copybreak, interrupts, drops, loss.

    With IFACE the frames leave a real interface (an ENA netdev on EC2, veth here) through
    --engine afxdp (AF_XDP sockets, one nogil numba loop per -q queue), xdp-live
    (BPF_PROG_RUN live frames: fastest; flows may differ in ports only, IMIX in runs of one
    size, pacing in 50 ms bursts; a veth peer needs XDP or GRO) or socket (kernel UDP
    sendmmsg, the baseline; UDP only, the kernel writes the headers). --dst is required;
    the source defaults to IFACE's MAC and address. On an `ena` interface the allowance
    counters (ethtool -S) are reported before/after.

    \b
    Examples:
      enatool gen                                   1M x 64 B on the software pair
      enatool gen --size imix --flows 64 -q 4       IMIX over 64 flows, 4 queues
      enatool gen -q 4 --to-queues 1,3 -c 10000     flows crafted to land on Rx 1 and 3
      enatool gen --rate 1M -d 2 --virtual          1 Mpps for 2 virtual seconds
      enatool gen --json > run.json                 summary as JSON
      enatool gen eth1 --dst 10.0.0.2 --rate 1M -d 5    1 Mpps for 5 s on eth1
      enatool gen veth0 --netns a --dst 198.18.0.2 --engine xdp-live -c 10M
    """
    iface_only = {"--engine": engine is not None, "--fill": fill is not None,
                  "-C": copy_mode != "auto",
                  "-B": busy_poll, "-A": attach_mode != "auto", "--huge-pages": huge_pages,
                  "--cpu": cpus is not None,
                  "--netns": netns is not None, "--force": force, "--replace": replace,
                  "--src-mac": src_mac is not None, "--dst-mac": dst_mac is not None,
                  "--rss-key": rss_key is not None, "--rss-queues": rss_queues is not None,
                  "--rss-table": rss_table is not None}
    if iface:
        soft_only = {"--link-rate": link_rate != "100G", "--no-llq": no_llq,
                     "--virtual": virtual}
        used = [k for k, v in soft_only.items() if v]
        if used:
            raise UsageError(f"{', '.join(used)} apply to the software device only",
                             hint="drop them, or drop IFACE")
        rate_v, bitrate_v = _rates(rate, bitrate)
        if count is None and duration is None:
            count = 1_000_000
        if fill is not None and (engine or "afxdp") != "afxdp":
            raise UsageError("--fill applies to --engine afxdp")
        if huge_pages and (engine or "afxdp") != "afxdp":
            raise UsageError("--huge-pages applies to --engine afxdp")
        if fill == "static":
            import dataclasses

            spec = dataclasses.replace(spec, probe="off")
        _run_iface(iface, spec, count, duration, rate_v, bitrate_v, queues, batch or 256,
                   fill or "fields", engine or "afxdp", copy_mode, busy_poll, attach_mode,
                   huge_pages, cpus, netns, force, replace, src_mac, dst_mac,
                   (rss_key, rss_queues, rss_table, rss_function), csv_path, live, as_json)
        return
    used = [k for k, v in iface_only.items() if v]
    if used:
        raise UsageError(f"{', '.join(used)} need an interface (IFACE)",
                         hint="e.g. enatool gen eth1 --dst 10.0.0.2 ...")
    batch = batch or 64
    if virtual and duration is None:
        raise UsageError("--virtual needs --duration")
    rate_v, bitrate_v = _rates(rate, bitrate)
    link = _rate(link_rate)
    if count is None and duration is None:
        count = 1_000_000
    _run_soft(spec, count, duration, rate_v, bitrate_v, queues, batch, link or None,
              not no_llq, virtual, csv_path, live, as_json)


def _rates(rate, bitrate):
    rate_v, bitrate_v = _rate(rate), _rate(bitrate)
    if rate_v is not None and bitrate_v is not None:
        raise UsageError("--rate and --bitrate exclude each other")
    for name, v in (("--rate", rate_v), ("--bitrate", bitrate_v)):
        if v is not None and v <= 0:
            raise UsageError(f"{name} must be positive")
    return rate_v, bitrate_v


def _iface_spec(spec, iface, netns, src_mac, dst_mac, rss, queues):
    """Fill what the interface knows: source MAC/address, destination MAC, RSS config."""
    import dataclasses
    import ipaddress

    from enatool import netdev
    from enatool.gen.templates import parse_addr_range, parse_mac

    if spec.dst is None:
        raise UsageError("gen IFACE needs --dst (the receiver's address)",
                         hint="e.g. --dst 198.18.0.2")
    mac, addrs = netdev.link_addresses(iface, netns)
    fields = {}
    if spec.src is None:
        want = 6 if spec.ipv6 else 4
        mine = [a for a in addrs if ipaddress.ip_address(a).version == want]
        if mine:
            fields["src"] = mine[0]
    fields["src_mac"] = src_mac or mac or spec.src_mac
    if dst_mac is None:
        lo, _ = parse_addr_range(spec.dst, spec.ipv6)
        first = str(ipaddress.ip_address(lo))
        dst_mac = netdev.neighbour_mac(iface, first, netns)
        if dst_mac is None:
            where = f"ip -n {netns} neigh" if netns else "ip neigh"
            raise UsageError(f"no neighbour entry for {first} on {iface}",
                             hint=f"pass --dst-mac, or add one (`{where} replace {first} "
                                  f"lladdr MAC dev {iface}`)")
    fields["dst_mac"] = dst_mac
    for m in (fields["src_mac"], fields["dst_mac"]):
        parse_mac(m)
    if spec.to_queues:
        from enatool.rss import program as rssprog

        key, nq, table, function = rss
        fields["rss"] = rssprog.build_config(
            key=key, fixed_key=False, function=function, convention="linux",
            init_value=None, queues=nq or queues, table_size=128, table=table, sort=True)
    return dataclasses.replace(spec, **fields)


def _run_iface(iface, spec, count, duration, rate, bitrate, queues, batch, fill, engine,
               copy_mode, busy_poll, attach_mode, huge_pages, cpus, netns, force, replace,
               src_mac, dst_mac, rss, csv_path, live, as_json):
    from enatool import netdev
    from enatool.cli.iface import doctor_hint, parse_cpus, require_root
    from enatool.gen.iface import run_gen_iface
    from enatool.gen.templates import build_templates
    from enatool.report.csvout import CsvSeries
    from enatool.report.stats import LiveStats
    from enatool.signals import sigterm_as_interrupt

    cpu_list = parse_cpus(cpus)
    require_root(iface)
    # the safety refusal first: it matters more than anything else wrong with the command
    netdev.check_safe(iface, force, netns)
    spec = _iface_spec(spec, iface, netns, src_mac, dst_mac, rss, queues)
    tset = build_templates(spec)
    qs = list(range(queues))
    csv = CsvSeries(csv_path, qs) if csv_path else None
    show = (sys.stdout.isatty() and not as_json) if live is None else live
    ticker = LiveStats(sys.stderr if as_json else sys.stdout, force=bool(show), csv=csv)
    on_tick = ticker if (show or csv) else None
    try:
        with sigterm_as_interrupt(), doctor_hint(iface), _tx_engine(
                engine, iface, netns, qs, batch, copy_mode, busy_poll, attach_mode,
                huge_pages, force, replace, cpu_list) as tx:
            if show:
                ticker.start(f"gen on {iface} ({engine})")
            summary = run_gen_iface(tx, spec, count, duration, rate, bitrate,
                                    fill_mode=fill, on_tick=on_tick, tset=tset)
    finally:
        if csv is not None:
            csv.close()
    _print_iface(summary, as_json)


def _tx_engine(engine, iface, netns, qs, batch, copy_mode, busy_poll, attach_mode, huge,
               force, replace, cpus):
    """The CLI picks the backend (programs never import one)."""
    if engine == "afxdp":
        from enatool.backends.afxdp.backend import AfxdpBackend

        return AfxdpBackend(iface, netns, queues=qs, rx=False, tx=True, batch=batch,
                            copy=copy_mode, busy_poll=busy_poll, xdp_mode=attach_mode,
                            huge=huge, replace=replace, force=force, cpus=cpus)
    if engine == "xdp-live":
        from enatool.backends.afxdp.xdp_live import XdpLiveTx

        return XdpLiveTx(iface, netns, queues=qs, force=force, cpus=cpus)
    from enatool.backends.udpsock import SocketTx

    return SocketTx(iface, netns, queues=qs, batch=batch, force=force, cpus=cpus)


def _print_iface(summary, as_json):
    from enatool.cli.iface import allowance_lines, emit, mode_line
    from enatool.report.stats import si, summary_lines

    def lines(s):
        out = summary_lines(s)
        out.insert(1, mode_line(s))
        if s.get("requested_pps") or s.get("requested_bps"):
            out.insert(3, f"  achieved over the {s['send_window_s']:.3f} s sending window: "
                          f"{si(s['achieved_pps'], 'pps')}, "
                          f"{si(s['achieved_wire_bps'], 'b/s')}")
        c = s.get("cpu") or {}
        if c:
            share = c.get("user_share")
            out.append(f"  cpu: user {c['user_s']:.2f} s, system {c['sys_s']:.2f} s"
                       + (f" ({100 * share:.1f} % of machine busy time in user space)"
                          if share is not None else ""))
        return out + allowance_lines(s)

    emit(summary, as_json, lines)


def _run_soft(spec, count, duration, rate, bitrate, queues, batch, link_rate, llq, virtual,
              csv_path, live, as_json):
    from enatool.backends.soft import SoftBackend
    from enatool.gen.program import run_pair
    from enatool.report.csvout import CsvSeries
    from enatool.report.stats import LiveStats, summary_lines

    csv = CsvSeries(csv_path, list(range(queues))) if csv_path else None
    show = (sys.stdout.isatty() and not as_json) if live is None else live
    ticker = LiveStats(sys.stderr if as_json else sys.stdout, force=bool(show), csv=csv)
    on_tick = ticker if (show or csv) else None
    wall0 = time.perf_counter()
    stop = None
    if duration is not None and not virtual:
        deadline = wall0 + duration
        stop = lambda: time.perf_counter() >= deadline  # noqa: E731
        duration = None
    try:
        # A 2 us clock step: drivers service interrupts at that granularity, fine enough
        # for moderation delays (default rx-usecs 20) to show in drops and delays.
        with SoftBackend(queues=queues, llq=llq, link_rate=link_rate,
                         step=SOFT_CLOCK_STEP) as backend:
            # settings saved by `enatool moderation set` apply to the software pair
            from enatool.moderation import state as moderation_state

            moderation = "driver defaults"
            if moderation_state.state_path().exists():
                moderation = moderation_state.apply_to_backend(backend)
            if show:
                ticker.start("gen on the software ENA device pair")
            report = run_pair(backend, spec, count, duration, rate=rate, bitrate=bitrate,
                              queues=list(range(queues)), batch=batch, on_tick=on_tick,
                              stop=stop)
    finally:
        if csv is not None:
            csv.close()
    wall = time.perf_counter() - wall0
    report["moderation"] = moderation
    report["wall_s"] = wall
    report["simulated_pps"] = report["rx"]["packets"] / wall if wall > 0 else 0.0
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for line in summary_lines(report["tx"]) + summary_lines(report["rx"]):
        click.echo(line)
    click.echo("driver counters (receiving end):")
    click.echo(f"  {'queue':>5} {'rx':>10} {'copybreak':>10} {'csum-good':>10} "
               f"{'interrupts':>10}")
    for q in report["devices"]["rx_end"]["per_queue"]:
        click.echo(f"  {q['queue']:>5} {q['rx_cnt']:>10} {q['rx_copybreak_pkt']:>10} "
                   f"{q['rx_csum_good']:>10} {q['interrupts']:>10}")
    rx_end = report["devices"]["rx_end"]
    click.echo(f"  rx_drops {rx_end['rx_drops']}  rx_overruns {rx_end['rx_overruns']}  "
               f"resets {rx_end['resets']}")
    mod = report["moderation"]
    if isinstance(mod, dict):
        mod = (f"saved by `enatool moderation set`: mode {mod['mode']}, rx-usecs "
               f"{mod['rx_usecs']}, tx-usecs {mod['tx_usecs']}")
    click.echo(f"moderation: {mod}")
    click.echo(f"simulation: {wall:.2f} s wall, {report['simulated_pps'] / 1e6:.2f} M frames "
               f"per wall second")
