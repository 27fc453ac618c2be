#!/usr/bin/env bash
# Re-record the CLI transcripts in this folder: each command's output, as a user sees it.
# Usage: examples/transcripts/record.sh   (from the repository root, after `make setup`)
set -u
cd "$(dirname "$0")/../.."
E=.venv/bin/enatool
rec() {  # rec FILE "comment" CMD...
  local file=$1 note=$2; shift 2
  { echo "# $note"; echo "\$ enatool ${*:2}"; "$@" 2>&1; echo; } >> "examples/transcripts/$file"
}
for f in info doctor rss gen latency; do : > "examples/transcripts/$f.txt"; done
rec info.txt "Probe the software ENA device through the driver layer." $E info
rec info.txt "Same device, no LLQ offered: the driver falls back to host placement." \
  $E info --no-llq --queues 2
rec info.txt "Unknown interface: one line, exit 2." $E info nosuchif0
rec doctor.txt "What this machine can do, with the fix for anything missing." $E doctor
rec rss.txt "INTERFACE.md §8 vector, Linux convention (key applied byte-reversed), init 0." \
  $E rss hash 1.2.3.4:7000 1.2.3.5:7000 --init 0
rec rss.txt "Same flow, standard Toeplitz (DPDK/FreeBSD convention)." \
  $E rss hash 1.2.3.4:7000 1.2.3.5:7000 --init 0 --convention standard
rec rss.txt "Fixed-key instances hash symmetrically and replicate the low 16 bits." \
  $E rss hash 10.100.0.40 10.100.0.36 --fixed-key --proto ip
rec rss.txt "Flows crafted to land on receive queue 3." \
  $E rss flows --to-queue 3 --count 4 198.18.0.1 198.18.0.2:4791
rec rss.txt "RSS as the driver configured the software device." $E rss show
rec gen.txt "64 B frames at line rate across the software pair: the receiver drops some (DIM moderation)." \
  $E gen -c 100000
rec gen.txt "IMIX over 64 flows on 4 queue pairs; RSS spreads them on the receiver." \
  $E gen --size imix --flows 64 -q 4 -c 100000
rec gen.txt "Flows crafted so that the receiver's RSS puts them on queues 1 and 3." \
  $E gen -q 4 --to-queues 1,3 -c 20000
rec latency.txt "RTT through the software ENA pair, no Rx moderation." \
  $E latency --rx-usecs 0 --adaptive off -n 1000
rec latency.txt "Same, rx-usecs 64: every answer waits for the moderation timer." \
  $E latency --rx-usecs 64 --adaptive off -n 1000
rec latency.txt "Bad input: one line, exit 2." $E latency --rx-usecs -5

# A real interface: a veth pair between two namespaces (root only; removed on exit).
if [ "$(id -u)" = 0 ]; then
  : > examples/transcripts/veth.txt
  A=enat-rec-a B=enat-rec-b
  cleanup() { ip netns del $A 2>/dev/null; ip netns del $B 2>/dev/null; }
  trap cleanup EXIT INT TERM
  cleanup
  ip netns add $A && ip netns add $B
  ip -n $A link add veth0 numtxqueues 2 numrxqueues 2 type veth peer name veth1 \
    numtxqueues 2 numrxqueues 2 netns $B
  ip -n $A addr add 198.18.0.1/24 dev veth0 && ip -n $B addr add 198.18.0.2/24 dev veth1
  ip -n $A link set veth0 up && ip -n $B link set veth1 up
  MAC_B=$(ip -n $B -br link show veth1 | awk '{print $3}')
  ip -n $A neigh replace 198.18.0.2 lladdr "$MAC_B" dev veth0 nud permanent
  { echo "# A veth pair in two namespaces (set up by record.sh): veth0 in $A, veth1 in $B."
    echo; } >> examples/transcripts/veth.txt
  # the sink runs in the background; its summary follows gen's in the file
  $E sink veth1 --netns $B -c 200000 -d 30 --proto udp --dport 9 > /tmp/enat-rec-sink.txt 2>&1 &
  SINK=$!
  sleep 3
  rec veth.txt "AF_XDP transmit, 2 queues, 200 k 128-byte frames over 8 flows at 500 kpps." \
    $E gen veth0 --netns $A --dst 198.18.0.2 -q 2 --flows 8 --size 128 -c 200000 --rate 500k
  wait $SINK
  { echo "# ... and what \`enatool sink veth1 --netns $B -c 200000 -d 30 --proto udp --dport 9\`"
    echo "# printed on the other end (sequence check per flow, one-way delay):"
    cat /tmp/enat-rec-sink.txt; echo; } >> examples/transcripts/veth.txt
  rm -f /tmp/enat-rec-sink.txt
  rec veth.txt "The kernel-socket baseline on the same pair (connected UDP sockets, sendmmsg)." \
    $E gen veth0 --netns $A --dst 198.18.0.2 --engine socket -c 100000
  rec veth.txt "The interface carrying this machine's default route is refused." \
    $E gen "$(ip -o route show default | awk '{print $5; exit}')" --dst 198.18.0.2 -c 10
  rec veth.txt "No huge pages reserved: one line naming the fix." \
    $E gen veth0 --netns $A --dst 198.18.0.2 --huge-pages -c 10
fi
