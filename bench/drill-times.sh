#!/usr/bin/env bash
# Time to detect and time to recover of every drill the lab hosts (tests/lab/drills.sh), over
# REPS repetitions each (default 20): median and p95 of TTD and TTR as ikeheald itself measured
# them (the drill timeline: injection → incident opened; injection → steady state back), with
# the check interval stated — side by side with the interval, because detection that waits for
# a poll is bounded by it while detection pushed by the kernel or inotify is not (the ratio
# TTD / interval says which a drill is). Plain -O2 build. Nothing is asserted; figures printed.
#
#   bench/drill-times.sh [BUILD] [REPS] [INTERVAL] [DRILL…]
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$top/build}" && pwd)
REPS=${2:-20}
IV=${3:-1s}
shift $(($# < 3 ? $# : 3))
[ "$(id -u)" = 0 ] || { echo "needs root (the lab)"; exit 1; }
. "$top/tests/lab/lab.sh"
. "$top/tests/lab/agent.sh"
. "$top/tests/lab/drills.sh"
D=$(mktemp -d /tmp/ikh-bench-drills-XXXXXX)
trap 'dlab_down; rm -rf "$D"' EXIT
trap 'exit 1' INT TERM HUP
DRILLS=${*:-$DLAB_DRILLS}

echo "drill TTD/TTR: $REPS repetitions per drill, every check (ike_probe included) at a $IV interval, $(nproc) cores"
dlab_up "$D" "$B" "$IV" >/dev/null || { echo "lab did not come up"; exit 1; }
: >"$D/times"
for n in $DRILLS; do
        for i in $(seq "$REPS"); do
                v=$(dlab_drill "$n" 300) || { echo "$n rep $i: no verdict" >&2; continue; }
                echo "$n $v" >>"$D/times"
        done
done
python3 - "$D/times" "$IV" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    name, phase, ttd, ttr = f[0], f[2], f[3], f[4]
    rows.setdefault(name, []).append((phase, ttd, ttr, f[5] if len(f) > 5 else ""))
iv = sys.argv[2]
ivs = float(iv[:-2]) / 1000 if iv.endswith("ms") else float(iv[:-1]) * (60 if iv.endswith("m") else 1)
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
print(f"{'drill':22} {'runs':>4} {'pass':>4}  {'TTD med':>8} {'TTD p95':>8} {'TTR med':>8} {'TTR p95':>8}  {'TTD/interval':>12}")
for name, rs in rows.items():
    ttd = [int(r[1]) for r in rs if r[1] != "-"]
    ttr = [int(r[2]) for r in rs if r[2] != "-"]
    ok = sum(1 for r in rs if r[0] == "passed")
    if not ttd or not ttr:
        print(f"{name:22} {len(rs):4} {ok:4}  (no complete timeline)")
        continue
    md = statistics.median(ttd)
    print(f"{name:22} {len(rs):4} {ok:4}  {md:8.0f} {pct(ttd, 95):8} {statistics.median(ttr):8.0f} {pct(ttr, 95):8}  {md / (ivs * 1000):12.2f}")
print(f"(ms; check interval {iv}; a person doing this by hand: 30-60 min per the field notes)")
for name, rs in rows.items():
    bad = [r for r in rs if r[0] != "passed"]
    for r in bad[:3]:
        print(f"{name} {r[0]}: {r[3].replace('_', ' ')}")
PY
