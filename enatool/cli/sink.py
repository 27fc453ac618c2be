"""`enatool sink IFACE`: receive on every queue of a real interface (AF_XDP), count per queue
and per flow, check sequences (loss, reorder, duplicates) and one-way delay."""

from __future__ import annotations

import sys

import click

from enatool.cli.common import command, json_option, writable_file
from enatool.cli.iface import xsk_options


@command("sink")
@click.argument("iface")
@click.option("-c", "--count", type=click.IntRange(1), default=None,
              help="Stop after this many frames (default: --duration, or Ctrl-C).")
@click.option("-d", "--duration", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds to run (wall clock).")
@click.option("-q", "--queues", type=click.IntRange(1, 64), default=None,
              help="Receive on queues 0..N-1 (default: every Rx queue).")
@click.option("-b", "--batch", type=click.IntRange(1, 4096), default=256, show_default=True)
@click.option("--ring-size", type=click.Choice(["1024", "2048", "4096", "8192"]),
              default="2048", show_default=True,
              help="AF_XDP ring entries (and Rx frames) per queue: room for bursts.")
@xsk_options
@click.option("--proto", type=click.Choice(["udp", "tcp"]), default=None,
              help="Filter: only this protocol goes to enatool (the rest to the kernel).")
@click.option("--src", default=None, help="Filter: source address.")
@click.option("--dst", default=None, help="Filter: destination address.")
@click.option("--sport", type=click.IntRange(0, 65535), default=None, help="Filter: port.")
@click.option("--dport", type=click.IntRange(0, 65535), default=None, help="Filter: port.")
@click.option("--flows", type=click.IntRange(1, 1 << 20), default=65536, show_default=True,
              help="Size of the per-flow table (flow ids of the probe header).")
@click.option("--window", type=click.IntRange(64, 1 << 16), default=1024, show_default=True,
              help="Reorder window in sequences (multiple of 64).")
@click.option("--no-verify", is_flag=True, help="Do not verify IPv4/L4 checksums.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None,
              callback=writable_file,
              help="Write a per-second time series to this CSV file.")
@click.option("--live/--no-live", default=None,
              help="One line of stats per second (default: on a terminal).")
@json_option
def sink(iface, count, duration, queues, batch, ring_size, copy_mode, busy_poll, attach_mode,
         huge_pages, cpus, netns, force, replace, proto, src, dst, sport, dport, flows, window,
         no_verify, csv_path, live, as_json):
    """Receive on IFACE through AF_XDP (an XDP program redirects to one socket per queue).

    With filter options only matching UDP/TCP traffic goes to enatool; ARP, SSH and the
    rest keep reaching the kernel. Counts per queue and per flow, sequence gaps (loss),
    reordering, duplicates, and the one-way delay from the probe's send timestamp (valid
    when sender and receiver share CLOCK_MONOTONIC: the same host or VM). On an `ena`
    interface the allowance counters (ethtool -S) are reported before/after.

    \b
    Examples:
      enatool sink eth1 -d 10 --proto udp --dport 9     UDP port 9 only, 10 s
      enatool sink veth1 --netns b -c 1000000 --json
      enatool sink eth1 -d 10 --huge-pages              UMEM in 2 MiB huge pages
    """
    from enatool import netdev
    from enatool.cli.iface import doctor_hint, parse_cpus, require_root
    from enatool.errors import UsageError
    from enatool.gen.iface import run_sink_iface
    from enatool.report.csvout import CsvSeries
    from enatool.report.stats import LiveStats
    from enatool.signals import sigterm_as_interrupt

    cpu_list = parse_cpus(cpus)
    if window % 64:
        raise UsageError(f"--window {window} must be a multiple of 64")
    require_root(iface)
    dev = netdev.lookup(iface, netns)
    have = netdev.rx_queue_count(iface, netns) or dev.num_rx_queues or 1
    nq = queues or have
    if nq > have:
        raise UsageError(f"{iface} has {have} Rx queue(s) in use, not {nq}",
                         hint=f"use -q {have} or raise them with `ethtool -L {iface} rx N`")
    flt = {k: v for k, v in (("proto", proto), ("src", src), ("dst", dst), ("sport", sport),
                             ("dport", dport)) if v is not None}
    qs = list(range(nq))
    csv = CsvSeries(csv_path, qs, program="sink") if csv_path else None
    show = (sys.stdout.isatty() and not as_json) if live is None else live
    ticker = LiveStats(sys.stderr if as_json else sys.stdout, force=bool(show), csv=csv)
    on_tick = ticker if (show or csv) else None
    from enatool.backends.afxdp.backend import AfxdpBackend  # the CLI picks the backend

    try:
        with sigterm_as_interrupt(), doctor_hint(iface), AfxdpBackend(
                iface, netns, queues=qs, rx=True, tx=False, batch=batch, copy=copy_mode,
                ring_size=int(ring_size),
                busy_poll=busy_poll, xdp_mode=attach_mode, huge=huge_pages,
                filter=flt or None,
                replace=replace, force=force, cpus=cpu_list) as rx:
            # the start line always goes out (stderr unless live on stdout): scripts wait
            # for it before they send
            huge = ", UMEM 2 MiB pages" if rx.umem_huge_pages else ""
            start = (f"sink on {iface}, {nq} queue(s), XDP {rx.xdp_mode}, AF_XDP "
                     f"{rx.bind_mode}{huge}. Ctrl-C to stop.")
            click.echo(start, err=not show)
            sys.stderr.flush()
            summary = run_sink_iface(rx, flows, count, duration, verify=not no_verify,
                                     window=window, on_tick=on_tick)
    finally:
        if csv is not None:
            csv.close()
    _print(summary, as_json)


def _print(summary, as_json):
    from enatool.cli.iface import allowance_lines, emit, mode_line
    from enatool.report.stats import si, summary_lines

    def lines(s):
        out = summary_lines(s)
        out.insert(1, mode_line(s))
        if s.get("achieved_pps"):
            out.insert(3, f"  arrived over the {s['recv_window_s']:.3f} s receive window: "
                          f"{si(s['achieved_pps'], 'pps')}, "
                          f"{si(s['achieved_wire_bps'], 'b/s')}")
        rows = s.get("per_flow") or []
        if rows:
            out.append(f"  flows ({len(rows)} shown"
                       + (f", {s['per_flow_truncated']} more" if s["per_flow_truncated"] else "")
                       + "):")
            for r in rows[:16]:
                d = r["delay_mean_ns"]
                out.append(f"    flow {r['flow']:>6}: {r['probes']:>10} probes  lost "
                           f"{r['lost']}  reord {r['reordered']}  dup {r['duplicates']}"
                           + (f"  delay {d / 1e3:.1f} us" if d is not None else ""))
            if len(rows) > 16:
                out.append(f"    ... {len(rows) - 16} more in --json")
        return [ln[:79] for ln in out] + allowance_lines(s)

    emit(summary, as_json, lines)
