#!/usr/bin/env bash
# Benchmark of a log flood: ikeheald (plain -O2 build) on the lab with a logs check tailing a
# charon file log, while tests/tools/charon-flood.py writes RATE authentication failure lines a
# second (default 50,000) from PEERS identities (default 20,000) for SECONDS (default 30), in
# charon's own line format. Printed, side by side with the idle figures: the `status` latency
# p50/p99/max (asked every 20 ms on the control socket by tests/tools/ctl-latency.py, a fresh
# connection each time), lines per second consumed, the agent's CPU per million lines, and its
# RSS growth. Nothing asserted here: tests/integration/logs-flood.sh is the same run, smaller,
# with functional bounds.
#
#   bench/flood.sh [BUILD] [RATE] [SECONDS] [PEERS]      (BUILD: plain build, default build/)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$top/build}
[ -x "$B/ikeheald" ] || { echo "build first: make BUILD=$B"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "needs root (the lab)"; exit 1; }
echo "flood: ${2:-50000} authentication failure lines/s from ${4:-20000} peers for ${3:-30} s"
IKEHEAL_BUILD_PLAIN=$B FLOOD_RATE=${2:-50000} FLOOD_S=${3:-30} FLOOD_PEERS=${4:-20000} \
        "$top/tests/integration/logs-flood.sh" | grep -E '^(figure:|     flood:)' | sed 's/^figure: /  /; s/^     flood: /  generator: /' || true
