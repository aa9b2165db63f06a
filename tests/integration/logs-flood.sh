#!/usr/bin/env bash
# run: alone
# A flood of failed IKE_AUTH attempts in charon's file log must not stall the agent. ikeheald
# (plain build: its timing and memory are what is measured) on the lab, with a logs check
# tailing a charon file log; tests/tools/charon-flood.py writes FLOOD_RATE authentication failure
# lines a second (default 20,000) from FLOOD_PEERS identities (default 5,000) for FLOOD_S seconds
# (default 10) in charon's own line format, while `ikehealctl status` is asked again and again.
#
# Asserted (functional bounds): every status is answered, none slower than 3 s; the logs check
# consumes every line within a few seconds of the flood's end; the finding calls it a flood
# (reason flood) with a distinct-peer estimate within 25 % of the truth; one authentication
# incident, with at most one update record a second in the audit log; the agent's RSS grows by
# less than 8 MB; after the log is rotated, the new file's lines are read. Printed as figures: status latency p50/p99/max during the flood and idle,
# lines/s consumed, CPU per million lines, RSS growth (bench/flood.sh: the full-size flood).
# Status is asked every 20 ms by one python client (tests/tools/ctl-latency.py), so the figure
# is the agent's answer time, not the start of an ikehealctl process.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

B=${IKEHEAL_BUILD_PLAIN:-$B}
RATE=${FLOOD_RATE:-20000}
SECS=${FLOOD_S:-10}
PEERS=${FLOOD_PEERS:-5000}
D=$(mktemp -d /tmp/ikh-flood-XXXXXX)
FLOOD=
cleanup() {
        [ -n "$FLOOD" ] && kill "$FLOOD" 2>/dev/null && wait "$FLOOD" 2>/dev/null
        agent_stop
        lab_down "$D/lab" >/dev/null 2>&1
        [ -n "${IKH_KEEP:-}" ] && echo "kept $D" || rm -rf "$D"
}
trap cleanup EXIT

lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
: >"$D/charon.log"
{ agent_yaml_head "$D"; cat <<YAML
checks:
  - kind: logs
    interval: 1h
    params: {files: [$D/charon.log], window: 2m}
YAML
} >"$D/c.yaml"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 5000 || bad "the logs check did not report"

# status round trips (µs, or FAIL) on the control socket for SECONDS, one every 20 ms, from one
# python process (tests/tools/ctl-latency.py): the agent's latency, not an ikehealctl start
status_loop() { # OUT SECONDS
        python3 "$(dirname "$0")/../tools/ctl-latency.py" "$AGENT_SOCK" "$2" 0.02 >"$1"
}
pct() { # FILE → "p50 p99 max n" in ms
        grep -v FAIL "$1" | sort -n | awk '{ a[NR] = $1 } END {
                if (NR == 0) { print "- - - 0"; exit }
                i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
                i99 = int(NR * 0.99 + 0.999); if (i99 > NR) i99 = NR
                printf "%.1f %.1f %.1f %d\n", a[i50] / 1000, a[i99] / 1000, a[NR] / 1000, NR }'
}
logs_fact() { # KEY
        agent_ctl checks --json | python3 -c '
import json, sys
for name, c in ({str(x["name"]): x for x in json.load(sys.stdin).get("checks") or []}).items():
    if c.get("kind") == "logs":
        print((c.get("facts") or {}).get(sys.argv[1], ""))' "$1"
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$AGENT_PID/stat"; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$AGENT_PID/status"; }

status_loop "$D/idle.ms" 3
read -r i50 i99 imax in <<<"$(pct "$D/idle.ms")"
rss0=$(rss_kb)
cpu0=$(cpu_ticks)
lines0=$(logs_fact lines)

python3 "$(dirname "$0")/../tools/charon-flood.py" "$D/charon.log" "$RATE" "$SECS" "$PEERS" >"$D/flood.out" &
FLOOD=$!
status_loop "$D/flood.ms" "$SECS"
wait "$FLOOD"
FLOOD=
read -r f50 f99 fmax fn <<<"$(pct "$D/flood.ms")"
total=$(sed -n 's/^lines=\([0-9]*\).*/\1/p' "$D/flood.out")
echo "     flood: $(cat "$D/flood.out")"
fails=$(grep -c FAIL "$D/flood.ms")
[ "$fails" = 0 ] && [ "$fn" -gt 0 ] && awk -v m="$fmax" 'BEGIN { exit !(m < 3000) }' \
        && ok "control socket answered all $fn status requests during the flood (max ${fmax} ms)" \
        || bad "control socket during the flood: $fails unanswered, max ${fmax} ms"

# every line consumed, shortly after the flood's end
t0=$(date +%s%N)
want=$((lines0 + total))
while :; do # a functional bound: 30 s (the lag itself is a figure)
        got=$(logs_fact lines)
        [ "${got:-0}" -ge "$want" ] && break
        [ $(($(date +%s%N) - t0)) -gt 30000000000 ] && break
        sleep 0.1
done
lag=$((($(date +%s%N) - t0) / 1000000))
[ "${got:-0}" -ge "$want" ] && ok "all $total lines consumed (${lag} ms after the flood ended)" \
        || bad "lines consumed: ${got:-?} of $want"
cpu1=$(cpu_ticks)
rss1=$(rss_kb)

sleep 0.4 # the coalesced run after the last line
reason=$(logs_fact reason)
distinct=$(logs_fact distinct_peers)
summary=$(agent_ctl checks --json | python3 -c '
import json, sys
for c in ({str(x["name"]): x for x in json.load(sys.stdin).get("checks") or []}).values():
    if c.get("kind") == "logs": print(c.get("summary", ""))')
n=${distinct#\~}
[ "$reason" = flood ] && [ -n "$n" ] && [ "$n" -gt $((PEERS * 3 / 4)) ] && [ "$n" -lt $((PEERS * 5 / 4)) ] \
        && ok "the finding names a flood: $summary" \
        || bad "finding: reason=$reason distinct=$distinct: $summary"
inc=$(agent_wait_incident authentication - 2000) && grep -q "reason=flood " <<<"$inc" \
        && ok "one authentication incident, reason flood ($inc)" || bad "incident: $inc"
[ "$(agent_ctl incidents active --json | python3 -c 'import json,sys; print(len({str(x["id"]): x for x in json.load(sys.stdin)["incidents"] or []}))')" = 1 ] \
        || bad "more than one active incident: $(agent_ctl incidents active | tr '\n' '|')"
# the audit log: the opening plus at most one update record a second
upd=$(awk -F'\t' '$3 == "incident" && $6 ~ /^incident [0-9]+ updated/' "$D/state/audit.log" | wc -l)
[ "$upd" -le $((SECS + 3)) ] && ok "audit log: $upd update records for a ${SECS} s flood" \
        || bad "audit log: $upd update records for a ${SECS} s flood"
growth=$((rss1 - rss0))
[ "$growth" -lt 8192 ] && ok "RSS grew by ${growth} KiB" || bad "RSS grew by ${growth} KiB"

# the log rotated (logrotate's create: renamed, a new file in its place): the lines written to
# the new file are read — the first found by the once-a-second look at the path, which from then
# on watches the new file too (figures: both latencies, each with the check's coalesced run
# that publishes the count)
rotated_line() { # N: one authentication failure line from a peer of its own, to the new file
        printf '%s 12[IKE1] <rw|9%05d> tried 1 shared key for '"'"'gw.lab.test'"'"' - '"'"'rot%d.test'"'"', but MAC mismatched\n' \
                "$(date +%Y-%m-%dT%H:%M:%S.000)" "$1" "$1" >>"$D/charon.log"
}
seen_after() { # WANT_LINES: ms until the logs check has read that many lines (bound 5 s)
        local t0 got; t0=$(date +%s%N)
        while :; do
                got=$(logs_fact lines)
                [ "${got:-0}" -ge "$1" ] && { echo $((($(date +%s%N) - t0) / 1000000)); return 0; }
                [ $(($(date +%s%N) - t0)) -gt 5000000000 ] && { echo "only ${got:-?} of $1"; return 1; }
                sleep 0.01
        done
}
n0=$(logs_fact lines)
mv "$D/charon.log" "$D/charon.log.1" && : >"$D/charon.log"
rotated_line 1
r1=$(seen_after $((n0 + 1))) && ok "the log rotated: the new file's first line read in $r1 ms" ||
        bad "the log rotated: the new file's first line: $r1"
rotated_line 2
r2=$(seen_after $((n0 + 2))) && ok "and the next line in $r2 ms" ||
        bad "the new file's next line: $r2"
echo "     figure: after a rotation, the first line counted in $r1 ms, the next in $r2 ms (with the check's coalesced run)"

hz=$(getconf CLK_TCK)
python3 - "$i50" "$i99" "$imax" "$f50" "$f99" "$fmax" "$total" "$((cpu1 - cpu0))" "$hz" "$SECS" "$lag" "$growth" <<'PY'
import sys
i50, i99, imax, f50, f99, fmax = sys.argv[1:7]
total, ticks, hz, secs, lag, growth = map(int, sys.argv[7:])
cpu = ticks / hz
print(f"figure: status latency idle p50 {i50} ms, p99 {i99} ms, max {imax} ms")
print(f"figure: status latency during the flood p50 {f50} ms, p99 {f99} ms, max {fmax} ms")
print(f"figure: {total / (secs + lag / 1000):,.0f} lines/s consumed, agent CPU {cpu:.2f} s "
      f"= {cpu / max(total, 1) * 1e6:.2f} core-s per million lines, RSS growth {growth} KiB")
PY
testlib_end
