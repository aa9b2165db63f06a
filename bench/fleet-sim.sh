#!/usr/bin/env bash
# The fleet simulation: a real 3-member etcd cluster on loopback (tests/lab/etcd.sh), then
# tests/tools/fleet-sim (the agent's etcd client) with N = 10, 100, 1000 simulated gateways
# (or the N given), K = N/10 slots (at least 1). Prints the "figure:" lines: etcd requests/s,
# slot acquisition latency, time for a fleet pause to reach every gateway — "pause seen by all
# through their watches" (one watch stream per gateway, as each agent keeps) and by polling.
#
#   bench/fleet-sim.sh [BUILD] [N…]
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
b=${1:-$top/build}
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10 100 1000)
[ -x "$b/tools/fleet-sim" ] || { echo "no $b/tools/fleet-sim (make tests)"; exit 1; }
. "$top/tests/lab/etcd.sh"
d=$(mktemp -d /tmp/ikh-fleetsim-XXXXXX)
trap 'etcd_down "$d/etcd"; rm -rf "$d"' EXIT
etcd_up "$d/etcd" || exit 1
rc=0
for n in "${sizes[@]}"; do
        k=$((n / 10)); [ $k -ge 1 ] || k=1; [ $k -le 64 ] || k=64
        "$b/tools/fleet-sim" "$ETCD_ENDPOINTS" "/sim$n/" "$n" "$k" || rc=1
done
exit $rc
