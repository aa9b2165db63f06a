#!/usr/bin/env bash
# The IKE probe's cost per run, alone: ikeheald with only the ike_probe check (UDP 500 and 4500
# of the lab's gateway every 100 ms, no VICI, no other check) in a cgroup of its own, its CPU
# (cgroup v2 cpu.stat, exact) and its wake-ups (voluntary context switches) over WINDOW seconds,
# divided by the runs in that window. With BEFORE=DIR the build in DIR runs in the same lab,
# alternating window by window with BUILD (ROUNDS times each), and the ratio is printed: the
# machine is shared, so only ratios measured side by side mean anything.
#
#   bench/probe-run.sh [BUILD] [WINDOW]      (BUILD: plain build, default build/; WINDOW 20 s)
#   BEFORE=DIR ROUNDS=4 bench/probe-run.sh …
#   NETNS=1 bench/probe-run.sh …             the agent in the host's namespace, probing from the
#                                            lab's client namespace (the check's `netns`)
#
# Nothing is asserted.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$top/build}
WINDOW=${2:-20}
ROUNDS=${ROUNDS:-2}
INTERVAL_MS=100
[ "$(id -u)" = 0 ] || { echo "needs root (the lab)"; exit 1; }
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        CG_ROOT=/sys/fs/cgroup
elif [ -f /sys/fs/cgroup/unified/cgroup.procs ] && [ -w /sys/fs/cgroup/unified ]; then
        CG_ROOT=/sys/fs/cgroup/unified
else
        echo "needs a writable cgroup v2 hierarchy (the CPU counter of the agent's own cgroup)"
        exit 1
fi
. "$top/tests/lab/lab.sh"
D=$(mktemp -d /tmp/ikh-bench-probe-XXXXXX)
IKH= CG=
cleanup() {
        set +e
        [ -n "$IKH" ] && kill "$IKH" 2>/dev/null && wait "$IKH" 2>/dev/null
        [ -n "$CG" ] && rmdir "$CG" 2>/dev/null
        lab_down "$D/lab" >/dev/null 2>&1
        rm -rf "$D"
}
trap cleanup EXIT
lab_up "$D/lab" --clients 1 >/dev/null
. "$D/lab/lab.env"
cat >"$D/c.yaml" <<YAML
agent:
  log_level: warning
  state_dir: $D/state
control:
  socket: $D/ctl.sock
charon:
  vici_socket: $D/no-vici.sock
  unit: none
checks:
  - kind: ike_probe
    interval: ${INTERVAL_MS}ms
    params: {targets: [$GW_IP], timeout: 400ms${NETNS:+, netns: $CL_NS}}
YAML

window() { # BUILD N → "µs-per-run wakes-per-run"
        local a b w0 w1
        if [ -n "${NETNS:-}" ]; then
                "$1/ikeheald" -c "$D/c.yaml" --log-target=stderr >"$D/agent.log" 2>&1 &
        else
                ip netns exec "$CL_NS" "$1/ikeheald" -c "$D/c.yaml" --log-target=stderr >"$D/agent.log" 2>&1 &
        fi
        IKH=$!
        CG=$CG_ROOT/ikh-bench-probe-$$-$2
        mkdir "$CG"
        echo "$IKH" >"$CG/cgroup.procs"
        sleep 3 # started, the first runs made
        a=$(awk '/^usage_usec/ {print $2}' "$CG/cpu.stat")
        w0=$(awk '/^voluntary_ctxt_switches/ {print $2}' /proc/"$IKH"/status)
        sleep "$WINDOW"
        b=$(awk '/^usage_usec/ {print $2}' "$CG/cpu.stat")
        w1=$(awk '/^voluntary_ctxt_switches/ {print $2}' /proc/"$IKH"/status)
        kill "$IKH"
        wait "$IKH" 2>/dev/null || true
        IKH=
        rmdir "$CG"
        CG=
        python3 -c "r = $WINDOW * 1000 / $INTERVAL_MS; print('%.1f %.2f' % (($b - $a) / r, ($w1 - $w0) / r))"
}

echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1 | cut -c1-40); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "probe every ${INTERVAL_MS} ms, UDP 500 and 4500, ${WINDOW} s windows${NETNS:+, from the client namespace (netns)}"
n=0
for r in $(seq "$ROUNDS"); do
        for build in ${BEFORE:+"$BEFORE"} "$B"; do
                n=$((n + 1))
                set -- $(window "$build" "$n")
                printf '%-40s %8s µs CPU per run  %5s wake-ups per run\n' "$build" "$1" "$2"
                echo "$build $1 $2" >>"$D/results"
        done
done
[ -n "${BEFORE:-}" ] && python3 - "$D/results" "$BEFORE" "$B" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def med(build, i): return statistics.median(float(r[i]) for r in rows if r[0] == build)
b, a = sys.argv[2], sys.argv[3]
print("median: before %.1f µs, %.2f wake-ups; after %.1f µs, %.2f wake-ups; after/before %.2f (CPU)"
      % (med(b, 1), med(b, 2), med(a, 1), med(a, 2), med(a, 1) / med(b, 1)))
PY
exit 0
