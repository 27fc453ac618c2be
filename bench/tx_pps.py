"""64 B transmit rate on a veth pair in two namespaces, every sender in the same run.

The peer drops and counts in native XDP (bpf/drop_count.c), so what is measured is what
arrives, not what a sender claims. Senders: `enatool gen` --engine afxdp (1 and 2 queues),
--engine xdp-live, --engine socket; dpdk-testpmd txonly over net_af_xdp (1 queue, and 2 with
one vdev per queue); a C sendmmsg loop compiled here (gcc) as the socket baseline (msg_name
per message; the same loop on a connected socket is reported beside it, since the socket
engine connects a socket that has one destination). Each is
counted over a fixed window after a warm-up; rounds alternate the senders and the median
is kept. Goals (ISSUE 5): afxdp >= 1.0x testpmd with 1 and 2 queues and enatool's
user-space CPU < 3 % of its data path's CPU (--fill static: prebuilt frames like
testpmd's txonly; the default per-frame --fill fields is reported beside it);
xdp-live >= 3.5x testpmd; socket >= 1.0x C sendmmsg.
The receiving veth's threaded-NAPI setting is reported (it changes absolute rates ~2x).

    .venv/bin/python bench/tx_pps.py [--window 3] [--rounds 2] [--threaded keep|on|off]
                                     [--only socket,c_sendmmsg,...]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _iface_bed as B  # noqa: E402

SCHEMA_VERSION = 1
CMD = ".venv/bin/python bench/tx_pps.py"
OUT = B.ROOT / "bench" / "results" / "tx_pps.json"

C_SENDMMSG = r"""
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static volatile sig_atomic_t stop;
static void on_signal(int s) { (void)s; stop = 1; }

/* usage: sendmmsg_loop SRC DST IFNAME [connect] -- 64 x 18-byte UDP payloads (60 B frames)
 * per call; "connect" connects the socket and sends without msg_name */
int main(int argc, char **argv)
{
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(1024) };
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(9) };
	static char buf[64][18];
	struct iovec iov[64];
	struct mmsghdr msg[64];
	long sent = 0;
	int fd, i;

	int connected = argc == 5 && strcmp(argv[4], "connect") == 0;

	if (argc != 4 && !connected)
		return 2;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, argv[3], strlen(argv[3]));
	inet_pton(AF_INET, argv[1], &src.sin_addr);
	inet_pton(AF_INET, argv[2], &dst.sin_addr);
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)
		return 1;
	if (connected && connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0)
		return 1;
	memset(msg, 0, sizeof(msg));
	for (i = 0; i < 64; i++) {
		iov[i].iov_base = buf[i];
		iov[i].iov_len = sizeof(buf[i]);
		msg[i].msg_hdr.msg_name = connected ? NULL : &dst;
		msg[i].msg_hdr.msg_namelen = connected ? 0 : sizeof(dst);
		msg[i].msg_hdr.msg_iov = &iov[i];
		msg[i].msg_hdr.msg_iovlen = 1;
	}
	signal(SIGINT, on_signal);
	while (!stop) {
		int r = sendmmsg(fd, msg, 64, 0);

		if (r > 0)
			sent += r;
	}
	printf("%ld\n", sent);
	return 0;
}
"""


def compile_c(tmp: str) -> str:
    src = pathlib.Path(tmp) / "sendmmsg_loop.c"
    exe = pathlib.Path(tmp) / "sendmmsg_loop"
    src.write_text(C_SENDMMSG)
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(src)], check=True)
    return str(exe)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--window", type=float, default=3.0, help="counting window, seconds")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threaded", choices=["keep", "on", "off"], default="keep",
                    help="threaded NAPI on the receiving veth")
    ap.add_argument("--only", default="",
                    help="comma-separated senders to run (e.g. socket,c_sendmmsg); "
                         "ratios need both sides")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    cmd = (f"{CMD} --window {args.window:g} --rounds {args.rounds} "
           f"--threaded {args.threaded}")
    testpmd = B.ensure_testpmd()
    bed = B.make_bed("btx", 2)
    results: dict[str, list[dict]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            c_exe = compile_c(tmp)
            counter = B.PeerCounter(bed, 2)
            try:
                threaded = B.threaded_napi(
                    bed, None if args.threaded == "keep" else args.threaded == "on")
                # --fill static: prebuilt frames, as testpmd txonly sends; the default
                # (fields: per-frame sequence, timestamp, checksums) is measured too
                senders = {
                    "afxdp_1q": (lambda: B.popen(B.enatool_gen(
                        bed, "-b", "256", "--fill", "static")), B.gen_stop),
                    # pinned like testpmd's forwarding lcores (1@0, 2@1)
                    "afxdp_2q": (lambda: B.popen(B.enatool_gen(
                        bed, "-q", "2", "--flows", "2", "-b", "256", "--cpu", "0,1",
                        "--fill", "static")), B.gen_stop),
                    "afxdp_1q_fields": (lambda: B.popen(B.enatool_gen(bed, "-b", "256")),
                                        B.gen_stop),
                    "afxdp_2q_fields": (lambda: B.popen(B.enatool_gen(
                        bed, "-q", "2", "--flows", "2", "-b", "256", "--cpu", "0,1")),
                        B.gen_stop),
                    "xdp_live": (lambda: B.popen(B.enatool_gen(bed, "--engine", "xdp-live")),
                                 B.gen_stop),
                    "socket": (lambda: B.popen(B.enatool_gen(bed, "--engine", "socket")),
                               B.gen_stop),
                    "c_sendmmsg": (lambda: B.popen(["ip", "netns", "exec", bed.ns_a, c_exe,
                                                    bed.addr_a, bed.addr_b, bed.if_a]),
                                   lambda p: {"sent": B.interrupt(p)[0].strip()}),
                    # the same loop on a connected socket (what the socket engine does when a
                    # socket has one destination): reported beside it, for an honest reading
                    "c_sendmmsg_connected": (
                        lambda: B.popen(["ip", "netns", "exec", bed.ns_a, c_exe, bed.addr_a,
                                         bed.addr_b, bed.if_a, "connect"]),
                        lambda p: {"sent": B.interrupt(p)[0].strip()}),
                }
                if testpmd:
                    for q in (1, 2):
                        senders[f"testpmd_{q}q"] = (
                            lambda q=q: B.popen(B.testpmd_cmd(testpmd, bed, q, "txonly")),
                            lambda p: (B.interrupt(p), {})[1])
                if args.only:
                    keep = set(args.only.split(","))
                    unknown = keep - set(senders)
                    if unknown:
                        raise SystemExit(f"--only: unknown sender(s) {sorted(unknown)}; "
                                         f"known: {sorted(senders)}")
                    senders = {k: v for k, v in senders.items() if k in keep}
                for r in range(args.rounds):
                    for name, (start, stop) in senders.items():
                        res = B.measure(counter.total, start, stop, args.window)
                        results.setdefault(name, []).append(res)
                        print(f"round {r + 1}: {name:<11} {res['mpps']:6.3f} Mpps",
                              file=sys.stderr)
            finally:
                counter.close()
    finally:
        bed.destroy()
    med = {k: statistics.median(x["mpps"] for x in v) for k, v in results.items()}

    def ratio(a: str, b: str) -> float | None:
        return med[a] / med[b] if a in med and med.get(b) else None

    user_share = {k: statistics.median(
        (x["cpu"]["user_s"] / x["cpu"]["machine_busy_s"]) if x["cpu"].get("machine_busy_s")
        else 0.0 for x in results[k]) for k in ("afxdp_1q", "afxdp_2q") if k in results}
    user_of_process = {k: statistics.median(x["user_share_of_process"] or 0.0
                                            for x in results[k])
                       for k in ("afxdp_1q", "afxdp_2q") if k in results}
    user_of_datapath = {k: statistics.median((x.get("worker_cpu") or {}).get("user_share")
                                             or 0.0 for x in results[k])
                        for k in ("afxdp_1q", "afxdp_2q", "afxdp_1q_fields",
                                  "afxdp_2q_fields", "xdp_live", "socket") if k in results}
    ratios = {"afxdp_1q_vs_testpmd_1q": ratio("afxdp_1q", "testpmd_1q"),
              "afxdp_2q_vs_testpmd_2q": ratio("afxdp_2q", "testpmd_2q"),
              "afxdp_1q_fields_vs_testpmd_1q": ratio("afxdp_1q_fields", "testpmd_1q"),
              "afxdp_2q_fields_vs_testpmd_2q": ratio("afxdp_2q_fields", "testpmd_2q"),
              "xdp_live_vs_testpmd_1q": ratio("xdp_live", "testpmd_1q"),
              "socket_vs_c_sendmmsg": ratio("socket", "c_sendmmsg"),
              "socket_vs_c_sendmmsg_connected": ratio("socket", "c_sendmmsg_connected")}
    goals = {"afxdp_1q_vs_testpmd_1q": 1.0, "afxdp_2q_vs_testpmd_2q": 1.0,
             "afxdp_1q_fields_vs_testpmd_1q": 1.0, "afxdp_2q_fields_vs_testpmd_2q": 1.0,
             "xdp_live_vs_testpmd_1q": 3.5, "socket_vs_c_sendmmsg": 1.0}
    doc = {
        "schema_version": SCHEMA_VERSION, "bench": "tx_pps", "command": cmd,
        "frame": "64 B on the wire (60 B + FCS), UDP/IPv4",
        "testbed": {"veth_queues": 2, "peer": "bpf/drop_count.c, native XDP, counts+drops",
                    "threaded_napi_on_receiver": bool(threaded), "window_s": args.window,
                    "rounds": args.rounds, "testpmd": testpmd, **B.machine()},
        "mpps_median": med,
        "ratios": ratios,
        "goals": goals,
        "goals_met": {k: (v is not None and v >= goals[k]) for k, v in ratios.items()
                      if k in goals},
        "enatool_user_cpu_share_of_machine_busy": user_share,
        "enatool_user_cpu_share_of_own_cpu": user_of_process,
        "enatool_user_cpu_share_of_datapath_threads": user_of_datapath,
        "user_cpu_goal": 0.03,
        "user_cpu_goal_met": {k: v < 0.03 for k, v in user_of_datapath.items()},
        "runs": results,
    }
    path = pathlib.Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(json.dumps({k: doc[k] for k in ("mpps_median", "ratios", "goals_met",
                                          "enatool_user_cpu_share_of_machine_busy",
                                          "enatool_user_cpu_share_of_own_cpu",
                                          "enatool_user_cpu_share_of_datapath_threads")},
                     indent=2))
    print(f"threaded NAPI on the receiver: {'on' if threaded else 'off'}; results: {path}")
    print(f"reproduce: {cmd}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
