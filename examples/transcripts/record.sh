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
