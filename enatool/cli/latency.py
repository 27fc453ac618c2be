"""`enatool latency [IFACE] --dst ADDR[:PORT]`: probe RTT, HDR percentiles, loss."""

from __future__ import annotations

import sys

import click

from enatool.cli.common import command, echo_json, json_option, writable_file

MODE_LINE = "{mode}: {poll}, {pin}, {copy}, {pattern}"


def _line(s: dict) -> list[str]:
    how = s["how"]
    pin = f"pinned cpu {how['pinned_cpu']}" if how.get("pinned_cpu") is not None else "not pinned"
    poll = how["poll"] + ("-poll" if how["poll"] in ("busy",) else "")
    if how["poll"] == "block":
        poll = "blocking"
    out = [MODE_LINE.format(mode=s["mode"], poll=poll, pin=pin, copy=how.get("copy"),
                            pattern=how.get("pattern", "ping-pong"))]
    if s["mode"] == "soft":
        out[0] += f", virtual clock, coalesce {how['coalesce']}, adaptive {how['adaptive']}"
    out.append(f"  to {s['dst']}, size {s['size']} B (payload {s['payload']} B)"
               + (", interrupted" if s["interrupted"] else ""))
    out.append(f"  sent {s['sent']} received {s['received']} lost {s['lost']} "
               f"({s['loss_pct']}%) reordered {s['reordered']} duplicates {s['duplicates']}")
    for key, name in (("rtt_us", "RTT  "), ("rtt_half_us", "RTT/2")):
        d = s[key]
        out.append(f"  {name} us p50 {d['p50']:.2f} p90 {d['p90']:.2f} p99 {d['p99']:.2f} "
                   f"p99.9 {d['p99.9']:.2f} p99.99 {d['p99.99']:.2f}")
        out.append(f"           max {d['max']:.2f} mean {d['mean']:.2f} stddev {d['stddev']:.2f}")
    if s.get("split_us"):
        for name, d in s["split_us"].items():
            out.append(f"  split {name:<15} p50 {d['p50']:.2f} p99 {d['p99']:.2f} "
                       f"mean {d['mean']:.2f} us")
    return out


@command("latency")
@click.argument("iface", required=False)
@click.option("--dst", metavar="ADDR[:PORT]", help="The reflector (port default 7).")
@click.option("--mode", type=click.Choice(["socket", "afxdp", "both", "soft"]),
              default="socket", show_default=True,
              help="Path: kernel UDP socket, AF_XDP, both in one run, or the software device.")
@click.option("--poll", type=click.Choice(["busy", "block"]), default="busy",
              show_default=True, help="Busy-poll (spin) or block while waiting for answers.")
@click.option("-n", "--count", type=int, default=None, help="Measured probes (default 1000).")
@click.option("-d", "--duration", type=float, default=None, help="Seconds to measure.")
@click.option("--warmup", type=int, default=100, show_default=True,
              help="Probes sent first and not recorded.")
@click.option("--size", type=int, default=None, help="Frame size incl. FCS (default: smallest).")
@click.option("--rate", type=float, default=None,
              help="Open-loop probes/s (many outstanding); default ping-pong.")
@click.option("--timeout", type=float, default=0.2, show_default=True,
              help="Seconds to wait for an answer.")
@click.option("--cpu", type=int, default=None, help="Pin the probe loop to this CPU.")
@click.option("--netns", default=None, help="Network namespace of IFACE.")
@click.option("-q", "--queue", type=int, default=0, show_default=True, help="AF_XDP queue.")
@click.option("-C", "--copy", type=click.Choice(["copy", "zc", "auto"]), default="auto",
              show_default=True, help="AF_XDP bind mode.")
@click.option("-A", "--xdp-mode", type=click.Choice(["native", "skb", "auto"]), default="auto",
              show_default=True)
@click.option("--split", is_flag=True, help="XDP stamps split RTT into its parts.")
@click.option("--force", is_flag=True, help="Allow the interface with the default route.")
@click.option("--replace", is_flag=True, help="Replace an attached XDP program.")
@click.option("--rx-usecs", type=int, default=None, help="Software device: Rx moderation.")
@click.option("--tx-usecs", type=int, default=None, help="Software device: Tx moderation.")
@click.option("--adaptive", type=click.Choice(["off", "table", "dim"]), default="off",
              show_default=True, help="Software device: adaptive Rx moderation.")
@click.option("--hgrm", "hgrm_path", default=None, metavar="FILE", callback=writable_file,
              help="Write the RTT distribution in HdrHistogram .hgrm format (per mode).")
@click.option("--plot", "plot_path", default=None, metavar="FILE.png",
              callback=writable_file,
              help="CDF (log 1/(1-p)) and histogram of every mode in one PNG.")
@click.option("--quiet", is_flag=True, help="No live line.")
@json_option
def latency(iface, dst, mode, poll, count, duration, warmup, size, rate, timeout, cpu, netns,
            queue, copy, xdp_mode, split, force, replace, rx_usecs, tx_usecs, adaptive,
            hgrm_path, plot_path, quiet, as_json):
    """Measure round-trip latency to a reflector (`enatool reflect`, sockperf sr, or any
    UDP echo for --mode socket). Without IFACE and --dst: through the software ENA pair on
    its virtual clock, where --rx-usecs/--adaptive show their effect on RTT.

    \b
    Examples:
      enatool latency eth1 --dst 198.18.0.2:7 --mode both --cpu 1 --plot rtt.png
      enatool latency --rx-usecs 64 -n 1000
    Ctrl-C stops and prints the summary of what was measured."""
    from enatool.latency.program import LatencyConfig, run_latency

    if count is None and duration is None:
        count = 1000
    if mode == "socket" and iface is None and dst is None:
        mode = "soft"
    cfg = LatencyConfig(iface=iface, dst=dst, mode=mode, poll=poll, count=count,
                        duration=duration, warmup=warmup, size=size, rate=rate, timeout=timeout,
                        cpu=cpu, netns=netns, queue=queue, copy=copy, xdp_mode=xdp_mode,
                        split=split, force=force, replace=replace, rx_usecs=rx_usecs,
                        tx_usecs=tx_usecs, adaptive=adaptive)
    cfg.validate()
    if not quiet and not as_json:
        click.echo("probing; Ctrl-C to stop", err=True)
    res = run_latency(cfg, live=not quiet and not as_json)
    files = {}
    if hgrm_path:
        from enatool.report.hgrm import write_hgrm

        for m, rec in res["histograms"].items():
            path = hgrm_path if len(res["histograms"]) == 1 else \
                hgrm_path.replace(".hgrm", "") + f".{m}.hgrm"
            with open(path, "w") as f:
                write_hgrm(f, rec.hc)
            files[f"hgrm_{m}"] = path
    if plot_path:
        from enatool.report.plot import plot_latency

        drawn = plot_latency(plot_path, {m: r.hc for m, r in res["histograms"].items()})
        files["plot"] = plot_path
        files["plot_series"] = drawn["labels"]
    if as_json:
        echo_json({"program": "latency", "runs": res["runs"], "files": files})
    else:
        for s in res["runs"]:
            for line in _line(s):
                click.echo(line)
        for k, v in files.items():
            if k != "plot_series":
                click.echo(f"  wrote {v}")
    sys.stdout.flush()
