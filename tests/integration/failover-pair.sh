#!/usr/bin/env bash
# Failover in a real keepalived pair (tests/lab/pair.sh), the agent on gateway A with the vrrp
# check (keepalived's notify FIFO) and the shipped runbook runbooks/failover.yaml (grade auto,
# an 8 s hold and a 10 min expiry for the test: the VIP can only come back early):
#
#   role fact           the vrrp check says MASTER on A (the FIFO's lines since keepalived began)
#   standby unhealthy   B's charon stopped, A's charon crash-loops: the failover step asks B's
#                       health URL, is refused, writes nothing; the VIP stays on A; the run fails
#                       and the incident goes to a human
#   failover            B healthy, the same crash loop: weight -100 → VIP on B, the role fact
#                       turns BACKUP, the client reconnects to the VIP and lands on B
#   hand back early     A's charon still down: the measure stays in force; started again: the
#                       measure ends early (audited), and its revert holds; A's charon killed
#                       within the hold: the VIP stays on B; started again: the VIP comes back
#                       only after A was healthy for the whole hold (8 s), long before the expiry
#   not healed in time  runbooks/failover-unhealed.yaml (open_for 3 s, grade auto, expiry 10 s)
#                       beside a local runbook that heals nothing: one crash (not a loop), the
#                       local runbook runs at once, the failover only once the incident is 3 s
#                       old; the VIP moves
#   hand back at expiry the measure expires while A's charon is still down: the revert waits (VIP
#                       stays on B); A's charon started again: the VIP comes back after the hold
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root
[ -x /usr/sbin/keepalived ] || { echo "keepalived not installed (make deps)"; exit 77; }
. "$top/tests/lab/pair.sh"

D=$(mktemp -d /tmp/ikh-fo-XXXXXX)
HP=
cleanup() {
        agent_stop >/dev/null 2>&1
        [ -n "$HP" ] && kill "$HP" 2>/dev/null && wait "$HP" 2>/dev/null
        pair_down "$D/p" >/dev/null 2>&1
        [ "${KEEP:-}" ] || rm -rf "$D"
}
trap cleanup EXIT
ms() { echo $(($(date +%s%N) / 1000000)); }
wait_for() { # timeout_ms, command… (by the clock: a slow command does not stretch the wait)
        local end=$(($(ms) + $1)); shift
        until "$@"; do
                [ "$(ms)" -ge $end ] && return 1
                sleep 0.05
        done
}
fact() { # CHECK KEY
        agent_ctl checks "$1" --json 2>/dev/null | python3 -c 'import json,sys
d={str(x["name"]): x for x in json.load(sys.stdin)["checks"] or []}[sys.argv[1]]
print(d.get("facts",{}).get(sys.argv[2],""))' "$1" "$2" 2>/dev/null
}
role_is() { [ "$(fact vrrp role)" = "$1" ]; }
gone() { ! kill -0 "$1" 2>/dev/null; }
daemon_incident() { [ -n "$(_agent_incident daemon)" ]; }
no_daemon_incident() { [ -z "$(_agent_incident daemon)" ]; }
crash_loop() { # charon A: killed three times within the daemon check's window (flap_max 2); left down
        local k
        for k in 1 2 3; do
                kill -KILL "$GW_PID"
                wait_for 3000 gone "$GW_PID"
                wait_for 3000 daemon_incident || bad "crash $k: no daemon incident"
                if [ $k -lt 3 ]; then
                        lab_start "$D/p" gw >/dev/null || bad "charon restart $k"
                        . "$D/p/lab.env"
                        wait_for 10000 no_daemon_incident || bad "crash $k: incident not resolved after the restart"
                fi
        done
}
measure_state() { agent_ctl measures all --json 2>/dev/null | python3 -c 'import json,sys
m=json.load(sys.stdin).get("measures") or []
print(max(m, key=lambda x: int(x["id"]))["state"] if m else "")'; }

pair_up "$D/p" --clients 1 || { echo "pair did not come up"; exit 1; }
. "$D/p/lab.env"; . "$D/p/pair.env"
lab_connect "$D/p" 1 || bad "client does not connect to the VIP"

python3 "$top/tests/tools/standby-health.py" "$D/health.port" "$GB_VICI" "$GB_CONF" 600 &
HP=$!
wait_for 20000 test -s "$D/health.port" || { echo "health endpoint did not start"; exit 1; }
URL=http://127.0.0.1:$(cat "$D/health.port")/healthz

mkdir -p "$D/rb"
sed -e 's/^grade: approve/grade: auto/' -e 's/params: {hold: 2m}/params: {hold: 8s}/' -e 's/expires_in: 30m/expires_in: 10m/' \
        -e 's/^budget: .*/budget: {runs: 5, window: 1h}/' "$top/runbooks/failover.yaml" >"$D/rb/failover.yaml"
grep -q "hold: 8s" "$D/rb/failover.yaml" && grep -q "expires_in: 10m" "$D/rb/failover.yaml" || bad "runbook not adapted for the test"
{
        agent_yaml_head "$D" "$D/rb" | sed 's/^  unit: none/  unit: none\n  reconnect_min: 50ms\n  reconnect_max: 400ms/'
        cat <<YAML
checks:
  - kind: daemon
    params: {pidfile: $D/p/gw/charon.pid, flap_max: 2, flap_window: 2m}
  - kind: sas
  - kind: vrrp
    params: {fifo: $GW_FIFO, vip: $VIP, netns: $GW_NS, weight_file: $GW_WEIGHT, standby_url: "$URL"}
policy:
  budget: {runs: 10, window: 1h}
  flap: {opens: 30, window: 10m}
  blast_radius: {max_sas: 0}
YAML
} >"$D/c.yaml"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "checks did not all report"
wait_for 5000 role_is MASTER && [ "$(fact vrrp role_from)" = fifo ] && ok "role fact: MASTER on A (from keepalived's FIFO)" ||
        bad "role fact '$(fact vrrp role)' from '$(fact vrrp role_from)'"

# --- the standby is unhealthy: no failover ------------------------------------------------------
pair_swanctl "$D/p" gb --stats >/dev/null && ok "B answers before the test" || bad "B's charon not answering"
kill -TERM "$(cat "$D/p/gb/charon.pid")"
wait_for 5000 test ! -S "$GB_VICI"
crash_loop
wait_for 15000 eval '[ "$(agent_run_of failover | cut -d" " -f2)" = failed ]' &&
        ok "B unhealthy: the failover run failed ($(agent_run_of failover | cut -d' ' -f4 | cut -c1-120))" ||
        bad "failover run: $(agent_run_of failover)"
agent_run_of failover | grep -q "not_healthy" && ok "… saying the standby is not healthy" || bad "reason: $(agent_run_of failover)"
[ "$(cat "$GW_WEIGHT")" = 0 ] && [ "$(pair_role "$D/p" gw)" = MASTER ] && ok "weight still 0, the VIP stays on A" ||
        bad "weight $(cat "$GW_WEIGHT"), A $(pair_role "$D/p" gw)"
escalated() { agent_ctl incidents active --json | python3 -c 'import json,sys
sys.exit(0 if any(i["class"]=="daemon" and i["state"]=="escalated" for i in json.load(sys.stdin)["incidents"] or []) else 1)'; }
wait_for 5000 escalated && ok "the crash-loop incident is escalated to a human" || bad "incident: $(agent_ctl incidents active | head -3 | tr '\n' '|')"

# back to a healthy pair
_lab_start_charon "$D/p" gb "$GB_NS" && _lab_wait_charon "$D/p" gb && pair_swanctl "$D/p" gb --load-all --noprompt >/dev/null ||
        bad "B's charon restart"
lab_start "$D/p" gw >/dev/null || bad "A's charon restart"
. "$D/p/lab.env"
# a fresh agent (its state wiped: the crash history, the tripped breaker) for the second part
# the client's IKE_SA with A's charon of before its restarts is stale (its DPD has not cleared it
# yet on a fast run): dropped here, else the initiate meets "existing duplicate" CHILD_SA
lab_swanctl "$D/p" 1 --terminate --ike "$CL_CONN" --force >/dev/null 2>&1
lab_connect "$D/p" 1 >/dev/null 2>&1 || lab_connect "$D/p" 1 || bad "client reconnect to A"
agent_stop
rm -rf "$D/state"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "checks did not all report"
wait_for 5000 role_is MASTER && [ "$(fact vrrp role_from)" = address ] &&
        ok "a new agent, keepalived silent: role MASTER from where the VIP is" ||
        bad "role '$(fact vrrp role)' from '$(fact vrrp role_from)'"

# --- failover ------------------------------------------------------------------------------------
crash_loop
t0=$(ms)
wait_for 15000 eval '[ "$(agent_run_of failover | cut -d" " -f2)" = succeeded ]' &&
        ok "crash loop on the master: failover run succeeded" || bad "failover run: $(agent_run_of failover)"
[ "$(cat "$GW_WEIGHT")" = -100 ] && ok "weight file -100" || bad "weight file: $(cat "$GW_WEIGHT")"
pair_wait_role "$D/p" gb MASTER 15000 && ok "VIP on B ($(($(ms) - t0)) ms after the crash loop was seen)" || bad "VIP not on B"
wait_for 5000 role_is BACKUP && ok "role fact: BACKUP on A" || bad "role fact '$(fact vrrp role)'"
lab_swanctl "$D/p" 1 --terminate --ike "$CL_CONN" --force >/dev/null 2>&1
t1=$(ms)
lab_connect "$D/p" 1 && [ "$(pair_swanctl "$D/p" gb --list-sas | grep -c INSTALLED)" -ge 1 ] &&
        ok "the client reconnects to the VIP and lands on B ($(($(ms) - t1)) ms)" || bad "client not on B"

# --- hand back early: once A is healthy, after the hold, long before the 10 min expiry --------
sleep 3 # more than the measure's hold check period (2 s): A still down must not end it
[ "$(measure_state)" = active ] && [ "$(cat "$GW_WEIGHT")" = -100 ] &&
        ok "A still down: the measure stays in force (weight -100, VIP on B)" ||
        bad "measure '$(measure_state)', weight $(cat "$GW_WEIGHT")"
lab_start "$D/p" gw >/dev/null || bad "A's charon restart"
. "$D/p/lab.env"
th=$(ms)
wait_for 15000 eval '[ "$(measure_state)" = reverting ]' && ok "A healthy again: the measure ends early ($(($(ms) - th)) ms)" ||
        bad "measure state '$(measure_state)' after A healed"
# heals and fails again within the hold: the hold starts again, the VIP stays on B (killed as
# soon as the revert is seen: the hold is 8 s, the test's own look may lag a few seconds)
tk=$(ms)
[ "$(cat "$GW_WEIGHT")" = -100 ] || bad "the revert ended before the test could break A again (weight $(cat "$GW_WEIGHT"))"
kill -KILL "$GW_PID"
wait_for 3000 gone "$GW_PID"
agent_ctl audit 200 2>/dev/null | grep -q "this gateway healthy again.*reverted early, VIP back after hold" &&
        ok "… audited: this gateway healthy again, reverted early, VIP back after hold" || bad "no early-revert audit record"
left=$((9 - ($(ms) - tk) / 1000)) # past the end of the first hold (8 s from the revert's start)
[ "$left" -gt 0 ] && sleep "$left"
[ "$(cat "$GW_WEIGHT")" = -100 ] && [ "$(pair_role "$D/p" gb)" = MASTER ] &&
        ok "A failed again within the hold: weight stays -100, the VIP stays on B" ||
        bad "flap bounced the VIP: weight $(cat "$GW_WEIGHT"), B $(pair_role "$D/p" gb)"
lab_start "$D/p" gw >/dev/null || bad "A's charon restart"
. "$D/p/lab.env"
th=$(ms)
pair_wait_role "$D/p" gw MASTER 40000 && back=$(($(ms) - th)) || { back=-1; bad "VIP did not come back to A"; }
[ "$back" -ge 8000 ] && ok "VIP back on A $back ms after charon came back (hold 8 s, expiry 10 min)" ||
        bad "VIP back after $back ms, before the hold"
echo "figure: VIP back $(((back + 500) / 1000)) s after charon healed (hold 8 s)"
[ "$(cat "$GW_WEIGHT")" = 0 ] && ok "weight file 0 again" || bad "weight file $(cat "$GW_WEIGHT")"
wait_for 5000 eval '[ "$(measure_state)" = reverted ]' && ok "measure reverted" || bad "measure state '$(measure_state)'"
wait_for 5000 role_is MASTER && ok "role fact: MASTER again" || bad "role fact '$(fact vrrp role)'"
agent_ctl audit 200 2>/dev/null | grep -i "failover" | tail -4 | cut -c1-220 | sed 's/^/     | /'

# --- not healed locally in time: failover-unhealed (open_for 3 s) --------------------------------
# A fresh agent (no crash history: one crash is not a loop) with a local runbook that only tells
# (it heals nothing) and the shipped failover-unhealed, open_for 3 s, grade auto.
agent_stop || bad "agent exit status"
rm -rf "$D/state"
sed -e 's/^grade: approve/grade: auto/' -e 's/open_for: 2m/open_for: 3s/' -e 's/params: {hold: 2m}/params: {hold: 5s}/' \
        -e 's/expires_in: 30m/expires_in: 10s/' "$top/runbooks/failover-unhealed.yaml" >"$D/rb/failover-unhealed.yaml"
grep -q "open_for: 3s" "$D/rb/failover-unhealed.yaml" || bad "failover-unhealed not adapted for the test"
cat >"$D/rb/crashed-tell.yaml" <<'RB'
version: 1
name: crashed-tell
match: {class: daemon, not: {reason: crash_loop}}
grade: observe
steps: [{name: tell, action: notify, params: {message: "charon down: ${incident.summary}"}}]
RB
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "checks did not all report"
wait_for 5000 role_is MASTER || bad "role fact '$(fact vrrp role)'"
kill -KILL "$GW_PID"
tk=$(ms)
wait_for 5000 daemon_incident || bad "no daemon incident after the crash"
wait_for 5000 eval '[ "$(agent_run_of crashed-tell | cut -d" " -f2)" = observed ]' &&
        ok "the local runbook ran first (observed: it heals nothing)" || bad "local run: $(agent_run_of crashed-tell)"
wait_for 15000 eval '[ -n "$(agent_run_of failover-unhealed)" ]'
tu=$(ms)
# the incident's opening (µs) and the run's creation (s): created no earlier than opened + 3 s
read -r opened_ms created_s < <( { agent_ctl incidents --json; echo; agent_ctl runs --json; } 2>/dev/null | python3 -c '
import json, sys
from datetime import datetime
t, dec, docs, i = sys.stdin.read(), json.JSONDecoder(), [], 0
while len(docs) < 2:
    while t[i].isspace():
        i += 1
    d, i = dec.raw_decode(t, i)
    docs.append(d)
inc = [i for i in docs[0]["incidents"] or [] if i["class"] == "daemon"][0]
run = [r for r in docs[1]["runs"] or [] if r["runbook"] == "failover-unhealed"][0]
ts = lambda x: datetime.fromisoformat(x.replace("Z", "+00:00")).timestamp()
print(int(ts(inc["opened"]) * 1000), int(ts(run["created"])))')
[ -n "$created_s" ] && [ "$created_s" -ge $((opened_ms / 1000 + 3)) ] &&
        ok "failover-unhealed decided once the incident was 3 s old (open_for)" ||
        bad "failover-unhealed: opened ${opened_ms:-?} ms, created ${created_s:-?} s: $(agent_run_of failover-unhealed)"
echo "figure: failover-unhealed run created $((created_s - opened_ms / 1000)) s (whole seconds) after its incident opened (open_for 3 s); seen by this test's poll $((tu - tk)) ms after the crash"
wait_for 15000 eval '[ "$(agent_run_of failover-unhealed | cut -d" " -f2)" = succeeded ]' &&
        ok "failover-unhealed run succeeded" || bad "failover-unhealed run: $(agent_run_of failover-unhealed)"
[ "$(cat "$GW_WEIGHT")" = -100 ] && pair_wait_role "$D/p" gb MASTER 15000 && ok "weight -100, VIP on B" ||
        bad "weight $(cat "$GW_WEIGHT"), B $(pair_role "$D/p" gb)"
[ "$(agent_run_of crashed-tell | cut -d" " -f2)" = observed ] && ok "the local run is still there, untouched" ||
        bad "local run now: $(agent_run_of crashed-tell)"
agent_ctl audit 200 2>/dev/null | grep -i "failover-unhealed" | head -3 | cut -c1-220 | sed 's/^/     | /'

# --- hand back at the expiry: not before A is healthy, and only after the hold ------------------
wait_for 20000 eval '[ "$(measure_state)" = reverting ]' && ok "measure expired: reverting while A's charon is down" ||
        bad "measure state '$(measure_state)'"
sleep 3
[ "$(cat "$GW_WEIGHT")" = -100 ] && [ "$(pair_role "$D/p" gb)" = MASTER ] &&
        ok "A still down 3 s into the revert: weight stays -100, the VIP stays on B" ||
        bad "revert did not wait: weight $(cat "$GW_WEIGHT"), B $(pair_role "$D/p" gb)"
lab_start "$D/p" gw >/dev/null || bad "A's charon restart"
. "$D/p/lab.env"
th=$(ms)
pair_wait_role "$D/p" gw MASTER 30000 && back=$(($(ms) - th)) || { back=-1; bad "VIP did not come back to A"; }
[ "$back" -ge 5000 ] && ok "VIP back on A $back ms after charon came back (hold 5 s)" || bad "VIP back after $back ms, before the hold"
wait_for 5000 eval '[ "$(measure_state)" = reverted ]' && ok "measure reverted" || bad "measure state '$(measure_state)'"
agent_stop || bad "agent exit status"
grep -E "ERROR: (Address|Leak|Undefined)Sanitizer|runtime error" "$D/agent.log" && bad "sanitizer report in agent.log"
testlib_end
