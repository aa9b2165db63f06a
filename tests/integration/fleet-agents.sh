#!/usr/bin/env bash
# Two ikeheald agents watching the lab gateway's firewall, coordinated through a real 3-member
# etcd cluster on loopback (fleet: slots {fleet: 1}, lease TTL 2 s). The fault (UDP 500/4500
# dropped in the gateway's namespace) is healed by an auto runbook whose exec step is
# disruptive, so it needs a fleet slot:
#   both agents keep a record under their lease (<prefix>gateways/<name>)
#   the same fault on both → one takes the slot and heals, the other waits (audit names the
#        holder), then takes it and runs its step; the two steps never overlap
#   the agent holding the slot SIGKILLed mid-step → its lease lapses → the other proceeds
#   ikehealctl fleet status (JSON), fleet pause (seen through the agent's watch of the key, the
#        auto runbook only proposed, a drill refused), fleet resume (the proposed run decided again at its own
#        grade: it runs after the resume, audited)
#   the watch's etcd member restarted → the stream ends, is reopened, and a later pause is seen
#        through it
#   both agents asked to drill at once (a fault in a namespace of each agent's own) while the
#        test holds the fleet's drill slot → both wait (drill status, audit); released → one drill
#        runs, the other waits for it, then runs; the two never overlap
#   the fleet's drill schedule (<prefix>drills/schedule, every 1h) written → one agent claims
#        and runs the drill, the other does not; rewritten → neither runs it again within every;
#        both paused, the record deleted → a claimed start refused gives its claim back; a bad
#        value → refused, said in fleet status; a bad file → refused by ikehealctl's agent
#   etcd without quorum (2 of 3 members stopped) → a drill is refused (etcd unavailable); the step
#        is held, the agent says why, no step is taken, and the run is escalated at
#        fleet.slot_wait; a reload that names the runbook in fleet.on_partition lets a held step go on
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root
[ -x /usr/bin/etcd ] || { echo "etcd-server not installed (make deps)"; exit 77; }
. "$top/tests/lab/etcd.sh"

D=$(mktemp -d /tmp/ikh-fleet-agents-XXXXXX)
R=/run/ikh-fleet-$$ # root-owned, 0755 all the way: scripts may run from here
PREFIX=/ikh-fa-$$/
declare -A PID SOCK PORT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT[gwa]=$(free_port)
PORT[gwb]=$(free_port)
cleanup() {
        local n
        for n in "${!PID[@]}"; do [ -n "${PID[$n]}" ] && kill -TERM "${PID[$n]}" 2>/dev/null && wait "${PID[$n]}" 2>/dev/null; done
        [ -s "$R/marks/hold.pid" ] && kill "$(cat "$R/marks/hold.pid")" 2>/dev/null
        [ -n "${GW_NS:-}" ] && ip netns exec "$GW_NS" nft delete table inet ikhfault 2>/dev/null
        lab_down "$D/lab" >/dev/null 2>&1
        ip netns del "ikhfd-gwa-$$" 2>/dev/null
        ip netns del "ikhfd-gwb-$$" 2>/dev/null
        etcd_down "$D/etcd"
        [ "${KEEP:-}" ] || rm -rf "$D" "$R"
}
trap cleanup EXIT
ms() { echo $(($(date +%s%N) / 1000000)); }
wait_for() { local end=$(($(ms) + $1)); shift; until "$@"; do [ "$(ms)" -ge $end ] && return 1; sleep 0.1; done; }

etcd_up "$D/etcd" || { echo "etcd cluster did not come up"; exit 1; }
lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
install -d -m 0755 "$R" "$R/scripts" "$R/runbooks" "$R/marks"

fault_on() {
        ip netns exec "$GW_NS" nft -f - <<'NFT'
table inet ikhfault {
        chain input {
                type filter hook input priority -10; policy accept;
                udp dport { 500, 4500 } drop
        }
}
NFT
}
fault_off() { ip netns exec "$GW_NS" nft delete table inet ikhfault 2>/dev/null; true; }
# the step: say when it starts and ends; with marks/hold, hang (the holder is killed meanwhile)
cat >"$R/scripts/slow-fix.sh" <<SH
#!/bin/sh
echo "start \$1 \$(date +%s%N)" >>$R/marks/steps
if [ -e $R/marks/hold ]; then echo \$\$ >$R/marks/hold.pid; sleep 60; fi
sleep 1
ip netns exec $GW_NS nft delete table inet ikhfault 2>/dev/null
echo "end \$1 \$(date +%s%N)" >>$R/marks/steps
exit 0
SH
chmod 0755 "$R/scripts/slow-fix.sh"
printf '#!/bin/sh\nsleep 2\nip netns exec "$1" nft delete table inet ikeheal_drill\n' >"$R/scripts/fd-fix.sh"
chmod 0755 "$R/scripts/fd-fix.sh"
cat >"$R/runbooks/fw-fleet.yaml" <<YAML
version: 1
name: fw-fleet
description: the IKE ports dropped — a disruptive fix that needs a fleet slot
match:
  class: firewall
grade: auto
cooldown: 0s
steps:
  - name: bounce
    action: exec
    params: {script: $R/scripts/slow-fix.sh, args: [NAME], disruptive: true}
    timeout: 90s
    verify: {check: firewall, within: 10s}
YAML

start() { # NAME
        local n=$1
        mkdir -p "$D/$n"
        # each agent names itself in its step's argument: its own runbook directory
        install -d -m 0755 "$R/rb-$n"
        sed "s/args: \[NAME\]/args: [$n]/" "$R/runbooks/fw-fleet.yaml" >"$R/rb-$n/fw-fleet.yaml"
        # its drill: IKE dropped in a namespace of its own (the other agent does not see it),
        # healed by a runbook of its own that takes 2 s (not disruptive: no fleet slot)
        ip netns add "ikhfd-$n-$$" || return 1
        cat >"$R/rb-$n/fd-fix.yaml" <<YAML
version: 1
name: fd-fix
match: {check: fwdrill}
priority: 90
grade: auto
steps:
  - name: fix
    action: exec
    params: {script: $R/scripts/fd-fix.sh, args: [ikhfd-$n-$$]}
    timeout: 20s
    verify: {check: fwdrill, within: 10s}
YAML
        mkdir -p "$D/$n/drills"
        cat >"$D/$n/drills/fd.yaml" <<YAML
version: 1
name: fd
description: "fleet test: IKE dropped in the agent's own namespace"
class: firewall
steady_state: {checks: [fwdrill], within: 20s}
fault:
  kind: nft_drop
  params: {netns: ikhfd-$n-$$, udp_ports: [500, 4500]}
  expires_in: 2m
expect:
  class: firewall
  runbook: fd-fix
  detect_within: 15s
  recover_within: 30s
abort: {after: 1m}
YAML
        cat >"$D/$n/c.yaml" <<YAML
agent:
  state_dir: $D/$n/state
  last_good_after: 0s
  runbook_dirs: [$R/rb-$n]
  exec_dir: $R/scripts
control:
  socket: $R/$n.sock
charon:
  vici_socket: $GW_VICI
  unit: none
check_defaults: {interval: 1s, timeout: 3s, rise: 1, fall: 1}
checks:
  - kind: firewall
    params: {netns: $GW_NS}
  - kind: firewall
    name: fwdrill
    params: {netns: ikhfd-$n-$$}
drills:
  enabled: true
  dirs: [$D/$n/drills]
http:
  listen: ["127.0.0.1:${PORT[$n]}"]
policy:
  budget: {runs: 20, window: 1h}
  flap: {opens: 30, window: 10m}
  blast_radius: {max_sas: 1000}
fleet:
  endpoints: [$(sed 's/,/, /g' <<<"$ETCD_ENDPOINTS")]
  prefix: $PREFIX
  name: $n
  lease_ttl: 2s
  timeout: 500ms
  slots: {fleet: 1}
  slot_wait: 8s
  drill_wait: 1m
YAML
        agent_start "$D/$n" "$D/$n/c.yaml" "$B" || return 1
        PID[$n]=$AGENT_PID SOCK[$n]=$AGENT_SOCK
        AGENT_PID=
}
ctl() { "$B/ikehealctl" --socket "${SOCK[$1]}" "${@:2}"; }
etcd_keys() { ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" --command-timeout=2s get --prefix "$1" --keys-only 2>/dev/null | grep -v '^$'; }
audit_has() { ctl "$1" audit 200 2>/dev/null | grep -q -- "$2"; }
run_state() { # NAME → state of its newest fw-fleet run
        ctl "$1" runs --json 2>/dev/null | python3 -c '
import json, sys
r = [x for x in json.load(sys.stdin).get("runs") or [] if x["runbook"] == "fw-fleet"]
print(max(r, key=lambda x: x["id"])["state"] if r else "none")'
}
starts() { awk '/^start/ {n++} END {print n + 0}' "$R/marks/steps" 2>/dev/null; }

start gwa || exit 1
start gwb || exit 1
wait_for 8000 eval '[ "$(etcd_keys "${PREFIX}gateways/" | wc -l)" = 2 ]' &&
        ok "both agents keep a record: $(etcd_keys "${PREFIX}gateways/" | tr '\n' ' ')" ||
        bad "records: $(etcd_keys "$PREFIX" | tr '\n' ' ') $(tail -5 "$D/gwa/agent.log")"
rec=$(ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" get "${PREFIX}gateways/gwa" --print-value-only 2>/dev/null)
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["name"]=="gwa" and r["health"] in ("healthy","degraded") and "incidents" in r and "vrrp_role" in r' "$rec" 2>/dev/null &&
        ok "the record says health, incidents, VRRP role: $(cut -c1-140 <<<"$rec")" || bad "record: $rec"
gauge() { # NAME METRIC → its value in NAME's /metrics
        curl -fsS --max-time 5 "http://127.0.0.1:${PORT[$1]}/metrics" 2>/dev/null | awk -v m="$2" '$1 == m {print $2}'; }
# The records are counted at the start and then every 30 s: gwa may have counted itself alone,
# gwb (started once gwa was up) normally counts both at once, at the latest 30 s later.
wait_for 35000 eval '[ "$(gauge gwb ikeheal_fleet_gateways)" = 2 ]' && [ "$(gauge gwb ikeheal_fleet_lease_alive)" = 1 ] &&
        [ "$(gauge gwb ikeheal_fleet_paused)" = 0 ] && [ "$(gauge gwb ikeheal_fleet_slots_held)" = 0 ] &&
        ok "/metrics: fleet gauges ($(curl -fsS "http://127.0.0.1:${PORT[gwb]}/metrics" | grep '^ikeheal_fleet' | tr '\n' ' ' | cut -c1-230))" ||
        bad "fleet gauges: $(curl -fsS "http://127.0.0.1:${PORT[gwb]}/metrics" | grep '^ikeheal_fleet' | tr '\n' ' ')"
if command -v promtool >/dev/null; then
        curl -fsS --max-time 5 "http://127.0.0.1:${PORT[gwa]}/metrics" >"$D/metrics" && promtool check metrics <"$D/metrics" >"$D/promtool" 2>&1 &&
                ok "promtool check metrics: clean with the fleet's gauges" || bad "promtool: $(head -5 "$D/promtool")"
fi

# --- the same fault on both, K=1: one heals, the other waits, then runs ----------------------------
: >"$R/marks/steps"
t0=$(ms)
fault_on
wait_for 30000 eval '[ "$(grep -c ^end "$R/marks/steps" 2>/dev/null)" = 2 ]' || bad "not both steps ran: $(cat "$R/marks/steps")"
first=$(awk '/^start/ {print $2; exit}' "$R/marks/steps")
second=$( [ "$first" = gwa ] && echo gwb || echo gwa)
python3 - "$R/marks/steps" <<'PY' && ok "the two steps did not overlap: $(tr '\n' ' ' <"$R/marks/steps" | cut -c1-160)" || bad "overlap: $(cat "$R/marks/steps")"
import sys
ev = [l.split() for l in open(sys.argv[1]) if l.strip()]
order = [(e[0], e[1]) for e in ev]
a, b = order[0][1], order[2][1] if len(order) > 2 else None
sys.exit(0 if len(order) == 4 and order[0][0] == "start" and order[1] == ("end", a) and order[2][0] == "start" and order[3] == ("end", b) and a != b else 1)
PY
audit_has "$second" "waits: waiting for a fleet slot: all 1 slot(s) held (slot 0: $first/run" &&
        ok "$second waited, naming the holder: $(ctl "$second" audit 200 | grep -m1 'waits: waiting for a fleet slot: all' | grep -o 'run [0-9]* runbook.*' | cut -c1-150)" ||
        bad "$second's audit: $(ctl "$second" audit 30 | grep -E 'gate|fleet' | tail -5)"
audit_has "$second" "took fleet slot" && audit_has "$first" "gives back its fleet slot" &&
        ok "$first gave its slot back, $second took it ($(ctl "$second" audit 200 | grep -o 'took fleet slot.*' | tail -1))" || bad "no slot hand-over in the audit"
wait_for 15000 eval '[ "$(run_state gwa)" = succeeded ] && [ "$(run_state gwb)" = succeeded ]' &&
        ok "both runs succeeded (figure: $(($(ms) - t0)) ms for both)" || bad "runs: gwa $(run_state gwa), gwb $(run_state gwb)"

# --- drills: one at a time in the fleet ---------------------------------------------------------------
active() { ctl "$1" incidents --json | python3 -c '
import json, sys
print(sum(1 for x in json.load(sys.stdin).get("incidents") or [] if x.get("state") != "resolved"))'; }
drill_json() { ctl "$1" drill "${@:2}" --json 2>/dev/null; }
wait_for 15000 eval '[ "$(active gwa)" = 0 ] && [ "$(active gwb)" = 0 ]' || bad "incidents still active before the drills"
# the test holds the drill slot itself first, so that both requests wait and are seen waiting
# (a wait only the first drill's few seconds long can pass between two polls on a loaded machine)
ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" --command-timeout=3s put "${PREFIX}slots/drill/0" "test/hold" >/dev/null ||
        bad "put of the drill slot"
td=$(ms)
ctl gwa drill run fd >"$D/drill-gwa.out" 2>&1 &
pa=$!
ctl gwb drill run fd >"$D/drill-gwb.out" 2>&1 &
pb=$!
wait $pa && wait $pb && ok "both agents took a drill request at once ($(head -c 100 "$D/drill-gwa.out") | $(head -c 100 "$D/drill-gwb.out"))" ||
        bad "drill requests: $(cat "$D/drill-gwa.out" "$D/drill-gwb.out")"
both_wait() { drill_json gwa status | grep -q '"waiting"' && drill_json gwb status | grep -q '"waiting"'; }
wait_for 10000 both_wait &&
        ok "both wait while the slot is held (drill status: $(drill_json gwa status | python3 -c 'import json,sys; print(json.load(sys.stdin)["waiting"]["why"])' | cut -c1-120))" ||
        bad "not both waiting: $(drill_json gwa status | head -c 300) $(drill_json gwb status | head -c 300)"
ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" --command-timeout=3s del "${PREFIX}slots/drill/0" >/dev/null ||
        bad "delete of the drill slot"
drilled() { drill_json "$1" report | python3 -c '
import json, sys
h = [x for x in json.load(sys.stdin).get("history") or [] if x["drill"] == "fd"]
print(h[0]["phase"] if h else "")'; }
wait_for 60000 eval '[ "$(drilled gwa)" = passed ] && [ "$(drilled gwb)" = passed ]' &&
        ok "both drills passed, one after the other (figure: $(($(ms) - td)) ms for both)" ||
        bad "drills: gwa '$(drilled gwa)', gwb '$(drilled gwb)'; $(ctl gwa audit 20 | grep -i drill | tail -3)"
python3 - "$(drill_json gwa report)" "$(drill_json gwb report)" <<'PY' && ok "the two drills did not overlap" || bad "the drills overlapped"
import json, sys
from datetime import datetime
ts = lambda x: datetime.fromisoformat(x.replace("Z", "+00:00")).timestamp()
span = []
for doc in sys.argv[1:]:
    h = [x for x in json.loads(doc).get("history") or [] if x["drill"] == "fd"][0]
    span.append((ts(h["started"]), ts(h["finished"])))
span.sort()
print("    spans:", [(round(a % 1000, 2), round(b % 1000, 2)) for a, b in span])
sys.exit(0 if span[0][1] <= span[1][0] else 1)
PY
# the second to run: the one whose drill started later; it took the slot after waiting
w=$(python3 - "$(drill_json gwa report)" "$(drill_json gwb report)" <<'PY'
import json, sys
st = [[x for x in json.loads(d).get("history") or [] if x["drill"] == "fd"][0]["started"] for d in sys.argv[1:]]
print("gwa" if st[0] > st[1] else "gwb")
PY
)
o=$( [ "$w" = gwa ] && echo gwb || echo gwa)
audit_has "$w" "drill fd waits: waiting for the fleet's drill slot: all 1 slot(s) held (slot 0: test/hold)" &&
        audit_has "$w" "drill fd took the fleet's drill slot after" &&
        audit_has "$o" "drill fd gives back the fleet's drill slot" &&
        ok "the audit shows the wait and the hand-over ($(ctl "$w" audit 200 | grep -o 'drill fd waits: .*' | head -1 | cut -c1-110); $(ctl "$w" audit 200 | grep -o 'took the fleet.s drill slot after.*' | tail -1))" ||
        bad "audit: $(ctl "$w" audit 40 | grep -i 'drill' | tail -5)"

fleet_field() { # NAME FIELD → its value in fleet status --json
        ctl "$1" fleet status --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1]))' "$2"; }
# --- the fleet's drill schedule: one gateway runs it, every holds fleet-wide ----------------------
fd_count() { drill_json "$1" report | python3 -c '
import json, sys
print(sum(1 for x in json.load(sys.stdin).get("history") or [] if x["drill"] == "fd"))'; }
wait_for 15000 eval '[ "$(active gwa)" = 0 ] && [ "$(active gwb)" = 0 ]' || bad "incidents still active before the schedule"
na=$(fd_count gwa) nb=$(fd_count gwb)
sched='- drill: fd
  every: 1h
  window: {days: [sun, mon, tue, wed, thu, fri, sat], from: "00:00", to: "24:00", timezone: utc}'
ts=$(ms)
ctl gwa fleet drill-schedule set - <<<"$sched" >/dev/null || bad "fleet drill-schedule set refused"
wait_for 20000 eval '[ $(($(fd_count gwa) + $(fd_count gwb))) -gt $((na + nb)) ]' ||
        bad "no fleet-scheduled drill started: $(ctl gwa fleet drills | tr '\n' ' ') $(ctl gwa audit 20 | grep -i drill | tail -3)"
runner=$( [ "$(fd_count gwa)" -gt "$na" ] && echo gwa || echo gwb)
idle=$( [ "$runner" = gwa ] && echo gwb || echo gwa)
echo "    figure: fleet-scheduled drill started $(drill_json "$runner" report | python3 -c '
import json, sys
from datetime import datetime
h = [x for x in json.load(sys.stdin).get("history") or [] if x["drill"] == "fd"][0]
print(int(datetime.fromisoformat(h["started"].replace("Z", "+00:00")).timestamp() * 1000) - int(sys.argv[1]))' "$ts") ms after the schedule was written (its record's start)"
wait_for 60000 eval '[ "$(drilled "$runner")" = passed ]' &&
        ok "the schedule key written: $runner ran drill fd ($(drill_json "$runner" report | python3 -c '
import json, sys
h = [x for x in json.load(sys.stdin).get("history") or [] if x["drill"] == "fd"][0]
print("requested by", h.get("requested_by"), "scheduled", h.get("scheduled"))'))" || bad "$runner's drill: '$(drilled "$runner")'"
audit_has "$runner" "fleet-scheduled drill fd claimed for this gateway" && ok "… claimed in etcd first (audited)" ||
        bad "no claim in $runner's audit"
[ "$(fd_count "$idle")" = "$( [ "$idle" = gwa ] && echo "$na" || echo "$nb")" ] &&
        ok "$idle did not run it: $(ctl "$idle" fleet drills --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["schedule"][0].get("fleet"))')" ||
        bad "$idle ran it too"
last=$(ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" get "${PREFIX}drills/last/fd" --print-value-only 2>/dev/null)
[ "${last#* }" = "$runner" ] && ok "the fleet's record of its start: ${PREFIX}drills/last/fd = $last" || bad "record: '$last'"
# the key rewritten (both agents look again at once): within every, nobody runs it again
ctl gwb fleet drill-schedule set - <<<"$sched
# rewritten" >/dev/null || bad "second set refused"
wait_for 5000 eval 'ctl gwa fleet drills --json | grep -q "# rewritten" && ctl gwb fleet drills --json | grep -q "# rewritten"' ||
        bad "the rewritten key not seen"
sleep 3
[ $(($(fd_count gwa) + $(fd_count gwb))) = $((na + nb + 1)) ] &&
        ok "rewritten within every: neither agent runs it again ($idle: $(ctl "$idle" fleet drills --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["schedule"][0].get("fleet"))'))" ||
        bad "a drill ran again within every: gwa $(fd_count gwa), gwb $(fd_count gwb)"
# a claimed start refused here gives its claim back: both agents paused locally (a drill is
# refused while paused), the record deleted (due again), the key rewritten (both look at once)
ctl gwa pause --reason "give-back test" >/dev/null && ctl gwb pause --reason "give-back test" >/dev/null || bad "local pause refused"
ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" --command-timeout=3s del "${PREFIX}drills/last/fd" >/dev/null || bad "delete of the record"
ctl gwa fleet drill-schedule set - <<<"$sched
# while paused" >/dev/null || bad "third set refused"
record() { ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" --command-timeout=3s get "${PREFIX}drills/last/fd" --print-value-only 2>/dev/null; }
gave_back() { audit_has gwa "the claim is given back" || audit_has gwb "the claim is given back"; }
wait_for 15000 gave_back && wait_for 5000 eval '[ -z "$(record)" ]' &&
        ok "a claimed start refused here (paused) gives its claim back: the record is gone again ($(ctl gwa audit 200 | grep -o 'fleet-scheduled drill fd not started: refused: automatic.*' | tail -1 | cut -c1-90))" ||
        bad "give-back: record '$(record)'; $(ctl gwa audit 20 | grep -i -E 'drill|claim' | tail -3 | cut -c1-160)"
[ $(($(fd_count gwa) + $(fd_count gwb))) = $((na + nb + 1)) ] && ok "… and no drill ran while paused" || bad "a drill ran while paused"
ctl gwa resume >/dev/null && ctl gwb resume >/dev/null || bad "resume refused"
# a value that does not parse: refused, said in fleet status, nothing of it applied
ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" --command-timeout=3s put -- "${PREFIX}drills/schedule" \
        '- drill: fd
  every: 10m
  window: {days: [sun], from: "02:00", to: "04:00"}' >/dev/null || bad "put of a bad schedule"
sched_err() { fleet_field "$1" drill_schedule_error; }
wait_for 5000 eval 'sched_err gwa | grep -q refused && sched_err gwb | grep -q refused' &&
        ok "a bad value refused, said in fleet status: $(sched_err gwa | cut -c1-150)" || bad "bad value: '$(sched_err gwa)'"
[ "$(fleet_field gwa drill_schedule)" = 0 ] && ok "… nothing of it in force (0 entries)" || bad "entries: $(fleet_field gwa drill_schedule)"
audit_has gwb "the drill schedule is refused" && ok "… and audited" || bad "no audit of the refusal"
printf -- '- drill: ../x\n  every: 1h\n' >"$D/bad-schedule.yaml"
! ctl gwa fleet drill-schedule set "$D/bad-schedule.yaml" >"$D/set-bad.out" 2>&1 && grep -q "refused, nothing written" "$D/set-bad.out" &&
        ok "fleet drill-schedule set of a bad file: refused by the agent ($(head -c 150 "$D/set-bad.out"))" || bad "set bad: $(cat "$D/set-bad.out")"
ctl gwa fleet drill-schedule clear >/dev/null || bad "clear refused"
wait_for 5000 eval '[ "$(sched_err gwa)" = None ] && [ "$(sched_err gwb)" = None ]' && ok "fleet drill-schedule clear: no schedule, no error" ||
        bad "after clear: $(sched_err gwa)"

# --- the holder dies mid-step: its lease lapses, the other proceeds --------------------------------
: >"$R/marks/steps"
touch "$R/marks/hold"
fault_on
wait_for 15000 test -s "$R/marks/hold.pid" || bad "no step started"
holder=$(awk '/^start/ {print $2; exit}' "$R/marks/steps")
other=$( [ "$holder" = gwa ] && echo gwb || echo gwa)
wait_for 10000 audit_has "$other" "waits: waiting for a fleet slot: all 1 slot(s) held (slot 0: $holder/run" &&
        ok "$other waits for $holder's slot" || bad "$other is not waiting: $(ctl "$other" audit 20 | tail -4)"
rm -f "$R/marks/hold"
t1=$(ms)
kill -KILL "${PID[$holder]}"; wait "${PID[$holder]}" 2>/dev/null; PID[$holder]=
kill "$(cat "$R/marks/hold.pid")" 2>/dev/null; rm -f "$R/marks/hold.pid"
wait_for 15000 eval 'grep -q "^end $other" "$R/marks/steps"' &&
        ok "$holder SIGKILLed: $other took the slot and healed (figure: $(($(ms) - t1)) ms after the kill, lease TTL 2 s)" ||
        bad "$other never ran its step: $(cat "$R/marks/steps"); $(ctl "$other" audit 20 | tail -5)"
wait_for 15000 eval '[ "$(run_state "$other")" = succeeded ]' || bad "$other's run: $(run_state "$other")"

# --- ikehealctl fleet: status, and a fleet-wide pause raising the grade ---------------------------
ctl "$other" fleet status --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["enabled"] is True and d["name"] == sys.argv[1] and d["lease_alive"] is True and isinstance(d["lease"], int), d
assert d["slots_held"] == 0 and d["waiting"] == 0 and d["paused"] is False, d' "$other" &&
        ok "fleet status --json: $(ctl "$other" fleet status --json | tr -d '\n ' | cut -c1-150)" || bad "fleet status: $(ctl "$other" fleet status --json)"
wait_for 10000 eval '[ "$(fleet_field "$other" watching)" = True ]' && ok "$other watches the pause and freeze keys" ||
        bad "no watch open: $(ctl "$other" fleet status --json | tr -d '\n ')"
# when the agent applied the last pause: its audit record's time (the test's polling not counted)
audit_file=$(ctl "$other" audit --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["path"])')
pause_usec() { awk -F'\t' '$3 == "fleet_pause" {t = $2} END {print (t == "" ? 0 : t)}' "$audit_file"; }
us() { date +%s%6N; }
ev0=$(fleet_field "$other" watch_events)
t2=$(us)
ctl "$other" fleet pause --reason "fleet test" >/dev/null || bad "fleet pause refused"
wait_for 10000 audit_has "$other" "fleet_pause" &&
        echo "    figure: pause seen in $((($(pause_usec) - t2) / 1000)) ms from the command (renewal every 667 ms)" ||
        bad "no fleet_pause record"
wait_for 5000 eval '[ "$(fleet_field "$other" watch_events)" -gt "$ev0" ]' &&
        ok "fleet pause reached the agent through its watch (watch_events $ev0 → $(fleet_field "$other" watch_events))" ||
        bad "the watch brought no event: $(ctl "$other" fleet status --json | tr -d '\n ')"
wait_for 15000 eval '[ "$(active "$other")" = 0 ]' || bad "an incident still active before the drill"
! ctl "$other" drill run fd >"$D/drill-paused.out" 2>&1 && grep -q "paused fleet-wide" "$D/drill-paused.out" &&
        ok "paused fleet-wide: a drill is refused ($(cut -c1-100 "$D/drill-paused.out"))" || bad "drill while paused fleet-wide: $(cat "$D/drill-paused.out")"
: >"$R/marks/steps"
fault_on
wait_for 15000 eval '[ "$(run_state "$other")" = proposed ]' &&
        ok "paused fleet-wide: the auto runbook is only proposed" || bad "while paused: $(run_state "$other")"
ctl "$other" fleet status | grep -q "paused: yes" && ok "fleet status says paused" || bad "status: $(ctl "$other" fleet status)"
[ "$(gauge "$other" ikeheal_fleet_paused)" = 1 ] && ok "/metrics: ikeheal_fleet_paused 1" || bad "paused gauge: $(gauge "$other" ikeheal_fleet_paused)"
[ "$(starts)" = 0 ] && ok "nothing ran while paused" || bad "steps while paused: $(cat "$R/marks/steps")"
tr=$(date +%s%N)
ctl "$other" fleet resume >/dev/null || bad "fleet resume refused"
wait_for 10000 audit_has "$other" "fleet_resume" && ok "fleet resume reached the agent" || bad "no fleet_resume record"
# what the pause only proposed is decided again at its own grade (auto): it runs and heals
wait_for 20000 eval '[ "$(run_state "$other")" = succeeded ]' &&
        ok "resumed: the run proposed during the pause was decided again at its own grade and healed" ||
        bad "after the resume: $(run_state "$other"); $(ctl "$other" audit 10 | tail -4)"
audit_has "$other" "was only proposed while paused: the fleet's pause or freeze lifted, decided again at its own grade (auto)" &&
        ok "… audited ($(ctl "$other" audit 200 | grep -o 'run [0-9]* runbook fw-fleet (incident [0-9]*) was only proposed.*' | tail -1 | cut -c1-150))" ||
        bad "no 'decided again' record: $(ctl "$other" audit 20 | grep -i -E 'plan|fleet' | tail -4)"
[ "$(starts)" = 1 ] && [ "$(awk '/^start/ {print $3; exit}' "$R/marks/steps")" -gt "$tr" ] &&
        ok "its step ran once, after the resume" || bad "steps: $(cat "$R/marks/steps") (resume at $tr)"
fault_off

# --- the watch stream cut (its etcd member restarted): reopened, a later pause is still seen ------
pauses() { ctl "$other" audit 200 2>/dev/null | grep -c "fleet_pause"; }
etcd_stop_member "$D/etcd" 1
etcd_start_member "$D/etcd" 1
wait_for 10000 grep -q "the watch of ${PREFIX}pause ended" "$D/$other/agent.log" &&
        ok "the watch's stream ended with its member: $(grep -m1 -o "the watch of ${PREFIX}pause ended.*" "$D/$other/agent.log" | cut -c1-140)" ||
        bad "no end of the watch said: $(grep -i watch "$D/$other/agent.log" | tail -3)"
wait_for 15000 eval '[ "$(fleet_field "$other" watching)" = True ]' && ok "… and reopened" ||
        bad "the watch was not reopened: $(ctl "$other" fleet status --json | tr -d '\n ')"
wait_for 20000 eval 'ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" --command-timeout=2s endpoint health >/dev/null 2>&1' ||
        bad "the cluster is not healthy again"
ev0=$(fleet_field "$other" watch_events) p0=$(pauses)
t3=$(us)
ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" --command-timeout=3s put "${PREFIX}pause" "after the cut" >/dev/null || bad "put of the pause key"
wait_for 10000 eval '[ "$(pauses)" -gt "$p0" ]' &&
        echo "    figure: pause seen in $((($(pause_usec) - t3) / 1000)) ms from etcdctl put, the stream reopened" ||
        bad "the later pause was not seen"
wait_for 5000 eval '[ "$(fleet_field "$other" watch_events)" -gt "$ev0" ]' && ctl "$other" fleet status | grep -q "after the cut" &&
        ok "a pause after the cut is seen through the reopened watch" || bad "not through the watch: $(ctl "$other" fleet status --json | tr -d '\n ')"
ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" --command-timeout=3s del "${PREFIX}pause" >/dev/null || bad "delete of the pause key"
wait_for 10000 eval '[ "$(fleet_field "$other" paused)" = False ]' && ok "… and its deletion" || bad "still paused"

# --- no quorum: the step is held, said, never taken, then escalated -------------------------------
etcd_stop_member "$D/etcd" 2
etcd_stop_member "$D/etcd" 3
lease_dead() { ctl "$other" fleet status --json | python3 -c 'import json,sys; sys.exit(1 if json.load(sys.stdin)["lease_alive"] else 0)'; }
wait_for 10000 lease_dead || bad "the lease still counts as alive without quorum"
fds=$(drill_json "$other" report | grep -c '"drill": "fd"')
drill_refused() { ! ctl "$other" drill run fd >"$D/drill-nq.out" 2>&1 && grep -q "etcd unavailable" "$D/drill-nq.out"; }
drill_refused && ok "no quorum: a drill is refused ($(cut -c1-140 "$D/drill-nq.out"))" ||
        bad "drill without quorum: $(cat "$D/drill-nq.out")"
[ "$(drill_json "$other" report | grep -c '"drill": "fd"')" = "$fds" ] && ok "… and not started" || bad "a drill started without quorum"
: >"$R/marks/steps"
fault_on
wait_for 20000 audit_has "$other" "waits: held: etcd unavailable" &&
        ok "no quorum: $other holds the step and says why ($(ctl "$other" audit 200 | grep -o 'waits: held: etcd unavailable.*' | tail -1 | cut -c1-150))" ||
        bad "no 'held' record: $(ctl "$other" audit 20 | tail -6)"
wait_for 20000 eval '[ "$(run_state "$other")" = escalated ]' &&
        ok "escalated at fleet.slot_wait: $(ctl "$other" runs --json | grep -o '"note": "[^"]*slot_wait[^"]*' | tail -1 | cut -c10-160)" ||
        bad "run: $(run_state "$other")"
[ "$(starts)" = 0 ] && ok "no fleet-gated step was taken without quorum" || bad "steps taken: $(cat "$R/marks/steps")"

# --- fleet.on_partition (added by a reload): a step held for etcd goes on ---------------------------
wait_for 15000 eval '[ "$(run_state "$other")" = escalated ]' || true
fault_off
wait_for 15000 eval '[ "$(active "$other")" = 0 ]' || bad "the incident did not resolve"
fault_on
wait_for 20000 eval '[ "$(ctl "$other" audit 200 | grep -c "waits: held: etcd unavailable")" -ge 2 ]' ||
        bad "the second hold was not said: $(ctl "$other" audit 20 | tail -4)"
echo "  on_partition: [fw-fleet]" >>"$D/$other/c.yaml"
kill -HUP "${PID[$other]}"
wait_for 15000 eval 'grep -q "^end $other" "$R/marks/steps"' &&
        ok "fleet.on_partition names the runbook (a reload): the held step went on without etcd ($(ctl "$other" audit 200 | grep -o 'goes on: etcd unavailable.*' | tail -1 | cut -c1-120))" ||
        bad "still held: $(run_state "$other"); $(ctl "$other" audit 10 | tail -4)"
wait_for 15000 eval '[ "$(run_state "$other")" = succeeded ]' || bad "the run let through: $(run_state "$other")"
fault_off

kill -TERM "${PID[$other]}"; wait "${PID[$other]}"; rc=$?; PID[$other]=
[ $rc = 0 ] && ok "$other stopped cleanly" || bad "$other exit status $rc"
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D"/gw*/agent.log && bad "sanitizer report" || ok "no sanitizer report"
testlib_end
