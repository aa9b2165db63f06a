#!/usr/bin/env bash
# The shipped runbook tunnel-reinitiate with the tunnel_initiate action, on the site-to-site lab
# (tests/lab/s2s.sh) with ikeheald (sanitizer build):
#
#   CHILD_SA deleted under a live IKE_SA   re-initiated under that same IKE_SA, verified
#                                          INSTALLED, incident resolved
#   the peer's charon killed, restarted    the tunnel re-initiated once the peer answers again,
#                                          verified, resolved
#   the peer down for good                 (the runbook with short waits) bounded attempts with
#                                          a doubling pause, then the run fails and the incident
#                                          goes to a human, with charon's last words
#
# and in every case the road warrior's SA on the same gateway is never touched (the action only
# initiates), and the action's plan says so.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
. "$top/tests/lab/s2s.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-rbtun-XXXXXX)
R=/run/ikh-rbtun-$$ # root-owned, 0755 all the way: a runbook directory the agent accepts
cleanup() {
        agent_stop
        lab_down "$D/lab" >/dev/null 2>&1
        [ -n "${KEEP:-}" ] || rm -rf "$D"
        rm -rf "$R"
}
trap cleanup EXIT
install -d -m 0755 "$R" "$R/shipped" "$R/short"
install -m 0644 "$top/runbooks/tunnel-reinitiate.yaml" "$R/shipped/"
sed -e 's/wait: 30s/wait: 2s/; s/backoff: 20s/backoff: 1s/; s/timeout: 3m/timeout: 30s/' \
        "$top/runbooks/tunnel-reinitiate.yaml" >"$R/short/tunnel-reinitiate.yaml"
chmod 0644 "$R/short/tunnel-reinitiate.yaml"

s2s_up "$D/lab" >/dev/null || { echo "s2s lab did not come up"; exit 1; }
. "$D/lab/lab.env"
lab_connect "$D/lab" 1 >/dev/null || bad "the road warrior could not connect"

config() { # RUNBOOK_DIR
        {
                agent_yaml_head "$D" "$1"
                cat <<YAML
checks:
  - kind: daemon
    params: {pidfile: $GW_PIDFILE}
  - kind: sas
  - kind: logs
  - kind: tunnels
    params: {swanctl_conf: $GW_SWANCTL_CONF, grace: 500ms}
policy:
  budget: {runs: 10, window: 1h}
  flap: {opens: 30, window: 10m}
YAML
        } >"$D/c.yaml"
}
ike_of() { lab_swanctl "$D/lab" gw --list-sas --ike "$1" 2>/dev/null | sed -n "s/^$1: #\([0-9]*\),.*/\1/p" | head -1; }
rw0=$(ike_of "$GW_CONN")
n_runs() { # RUNBOOK [STATE]
        agent_ctl runs --json | python3 -c '
import json, sys
r = {str(x["id"]): x for x in json.load(sys.stdin).get("runs") or []}
print(sum(1 for v in r.values() if v.get("runbook") == sys.argv[1] and (len(sys.argv) < 3 or v.get("state") == sys.argv[2])))' "$@"
}
incident_state() {
        ALL=1 _agent_incident tunnel | awk '{ print $5 }'
}

config "$R/shipped"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "checks did not all report"
agent_ctl plan 2>/dev/null >/dev/null
out=$(printf '{peers: %s, tunnels: [nothere/x]}\n' "$PEER_ID@$PEER_IP" >"$D/p.yaml" && "$B/tools/action-run" --vici "$GW_VICI" tunnel_initiate apply "$D/p.yaml" 2>&1)
grep -q "no SA is terminated" <<<"$out" && grep -q "nothing to initiate" <<<"$out" &&
        ok "the plan: initiate only, no SA terminated; a tunnel charon has not loaded is not initiated" || bad "plan: $out"

# --- the CHILD_SA deleted under a live IKE_SA -------------------------------------------------
ike0=$(ike_of "$S2S_CONN")
lab_swanctl "$D/lab" gw --terminate --child "$S2S_CHILD" --timeout 5 >/dev/null 2>&1
s2s_tunnel_up "$D/lab" && bad "the CHILD_SA is still there"
t0=$(date +%s%N)
res=$(agent_wait_run tunnel-reinitiate succeeded 20000) && ok "CHILD_SA deleted: run succeeded (${res##* })" ||
        bad "no successful run after the CHILD_SA was deleted"
echo "figure: CHILD_SA deleted → re-initiated and verified in $((($(date +%s%N) - t0) / 1000000)) ms"
s2s_tunnel_up "$D/lab" && s2s_ping "$D/lab" && ok "the tunnel is back: site A reaches site B" || bad "tunnel not back"
[ "$(ike_of "$S2S_CONN")" = "$ike0" ] && ok "under the same IKE_SA (#$ike0): nothing was torn down" ||
        bad "IKE_SA changed: #$ike0 → #$(ike_of "$S2S_CONN")"
agent_wait_resolved tunnel 10000 >/dev/null && ok "incident resolved" || bad "incident not resolved"

# --- the peer's charon killed and restarted ---------------------------------------------------
lab_stop "$D/lab" peer KILL
out=$(agent_wait_incident tunnel - 25000) && ok "peer killed: $(sed 's/ opened_usec=.*//' <<<"$out")" || bad "no incident after the peer was killed"
lab_start "$D/lab" peer >/dev/null && . "$D/lab/lab.env" || bad "peer did not start again"
t0=$(date +%s%N)
wait_new_success() {
        local end=$(($(date +%s%N) / 1000000 + $1))
        while [ $(($(date +%s%N) / 1000000)) -lt $end ]; do
                [ "$(n_runs tunnel-reinitiate succeeded)" -gt 1 ] && return 0
                sleep 0.1
        done
        return 1
}
wait_new_success 60000 && ok "peer back: a new run succeeded ($(agent_run_of tunnel-reinitiate | cut -d' ' -f1,2))" ||
        bad "no second successful run: $(agent_run_of tunnel-reinitiate)"
echo "figure: peer restarted → tunnel re-initiated and verified in $((($(date +%s%N) - t0) / 1000000)) ms"
s2s_tunnel_up "$D/lab" && s2s_ping "$D/lab" && ok "the tunnel to the restarted peer carries traffic" || bad "tunnel not back"
agent_wait_resolved tunnel 10000 >/dev/null && ok "incident resolved" || bad "incident not resolved"
[ "$(ike_of "$GW_CONN")" = "$rw0" ] && ok "the road warrior's IKE_SA (#$rw0) was never touched" ||
        bad "road warrior's IKE_SA changed: #$rw0 → #$(ike_of "$GW_CONN")"

# --- the peer down for good: bounded attempts, then a human -----------------------------------
agent_stop
config "$R/short"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "checks did not all report"
mark=$(wc -l <"$GW_LOG")
runs0=$(n_runs tunnel-reinitiate)
lab_stop "$D/lab" peer KILL
out=$(agent_wait_incident tunnel - 25000) && ok "peer gone: $(sed 's/ opened_usec=.*//' <<<"$out")" || bad "no incident"
res=$(agent_wait_run tunnel-reinitiate failed 40000) && ok "run failed: ${res##* }" || bad "no failed run: $(agent_run_of tunnel-reinitiate)"
st=""
for _ in $(seq 100); do st=$(incident_state); [ "$st" = escalated ] && break; sleep 0.1; done
[ "$st" = escalated ] && ok "the incident went to a human" || bad "incident state '$st'"
inits=$(tail -n +"$((mark + 1))" "$GW_LOG" | grep -c "vici initiate CHILD_SA '$S2S_CHILD'")
[ "$inits" = 3 ] && ok "3 attempts (attempts: 3), not more: charon was asked $inits times" || bad "charon was asked $inits times"
grep -q "still down after 3 attempt" "$D/agent.log" && ok "the failure says how many attempts: $(grep -o 'still down after [^;]*' "$D/agent.log" | head -1)" ||
        bad "no attempts in the agent's log"
grep -q "notify: Tunnel(s) to $PEER_ID@$PEER_IP still down" "$D/agent.log" && grep "notify: Tunnel" "$D/agent.log" | grep -q "giving up after" &&
        ok "the human is told, with charon's last words ('giving up after …')" || bad "notification lacks charon's words"
sleep 3
[ "$(n_runs tunnel-reinitiate)" = $((runs0 + 1)) ] && ok "one run, no further one while escalated" ||
        bad "runs: $(n_runs tunnel-reinitiate), $runs0 before"
testlib_end
