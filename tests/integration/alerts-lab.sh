#!/usr/bin/env bash
# POST /alerts of the real agent on the real lab, fed by a real Alertmanager
# (tests/lab/alertmanager.sh, loopback only) whose webhook receiver is the agent, with a bearer
# token:
#
#   intake        an external blackbox alert (UDP 500 unreachable from the internet) posted to
#                 Alertmanager reaches the agent as an external finding; the gateway's own view
#                 is clean, so diagnosis names the boundary firewall (firewall/global,
#                 boundary_or_path) with high confidence; the alert resolved in Alertmanager
#                 clears it and the incident resolves
#   refusals      no token 401, a wrong token 403, a malformed body 400 (at its line:col), an
#                 oversized body 413, an alert whose labels map to nothing 422 — each refusal,
#                 and each alert taken, on the audit trail with the sender's address
#   without a token file POST /alerts is not served at all (404)
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root
for b in curl python3; do command -v $b >/dev/null || { echo "SKIP: missing $b"; exit 77; }; done
command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null || { echo "SKIP: missing alertmanager"; exit 77; }

D=$(mktemp -d /tmp/ikh-alerts-XXXXXX)
cleanup() {
        "$top/tests/lab/alertmanager.sh" stop "$D/am" 2>/dev/null
        agent_stop
        lab_down "$D/lab" >/dev/null 2>&1
        [ -n "${IKH_KEEP:-}" ] && echo "kept $D" || rm -rf "$D"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
am() { "$top/tests/lab/alertmanager.sh" "$@"; }
code() { curl -s -o "$D/body" -w '%{http_code}' --max-time 5 "$@"; }
# a record of KIND whose text starts with TEXT on the audit trail (<state_dir>/audit.log)
audit_has() { awk -F'\t' -v k="$1" -v t="$2" '$3 == k && index($6, t) == 1 {f = 1} END {exit !f}' "$D/state/audit.log"; }
wait_audit() { for _ in $(seq 100); do audit_has "$1" "$2" && return 0; sleep 0.1; done; return 1; }
# an alert for Alertmanager's v2 API: NAME ENDS_AT(empty: firing) [extra labels as k=v …]
alert_json() {
        python3 - "$@" <<'PY'
import json, sys, datetime
name, ends = sys.argv[1], sys.argv[2]
labels = {"alertname": name, "instance": "gw.example", "job": "blackbox"}
for kv in sys.argv[3:]:
    k, v = kv.split("=", 1); labels[k] = v
a = {"labels": labels, "annotations": {"summary": "UDP 500 of gw.example unreachable from the internet"},
     "startsAt": datetime.datetime.now(datetime.timezone.utc).isoformat()}
if ends:
    a["endsAt"] = ends
print(json.dumps([a]))
PY
}

lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
port=$(free_port)
token=am-$RANDOM$RANDOM$RANDOM
printf '%s\n' "$token" > "$D/alerts.token"
chmod 0600 "$D/alerts.token"
config() { # [token line]
        cat <<YAML
agent:
  state_dir: $D/state
  last_good_after: 0s
control:
  socket: $D/ctl.sock
charon:
  vici_socket: $GW_VICI
  reconnect_min: 50ms
  reconnect_max: 400ms
  unit: none
check_defaults: {interval: 1s, timeout: 3s, rise: 1, fall: 1}
checks:
  - kind: firewall
    params: {netns: $GW_NS}
  - kind: daemon
  - kind: sas
  - kind: alerts
    interval: 1h
    params: {instance: gw.example}
http:
  listen: ["127.0.0.1:$port"]
  max_body_kib: 16
${1:-}
YAML
}
config > "$D/c.yaml"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
c=$(code -X POST --data-binary '[]' "http://127.0.0.1:$port/alerts")
[ "$c" = 404 ] && ok "without alerts_token_file POST /alerts is not served (404)" || bad "no token file: $c"
config "  alerts_token_file: $D/alerts.token" > "$D/c.yaml"
out=$(agent_ctl reload 2>&1) || bad "reload: $out"
lab_connect "$D/lab" 1 >/dev/null || bad "the client could not connect"
agent_wait_checks 8000 || bad "checks did not all report"
sleep 1.2
js=$(agent_ctl diagnose --json)
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["impact"]=="none", d' "$js" && ok "healthy to begin with" ||
        bad "not healthy: $js"

# --- a real Alertmanager posts to the agent ---
mkdir -p "$D/am"
am start "$D/am" "http://127.0.0.1:$port/alerts" "$D/alerts.token" || { bad "alertmanager did not start"; exit 1; }
alert_json BlackboxIkeUnreachable "" ikeheal_class=reachability ikeheal_reason=udp500_silent severity=critical > "$D/firing.json"
t0=$(date +%s%N)
am post "$D/am" "$D/firing.json" >/dev/null && ok "Alertmanager took the alert" || bad "posting to Alertmanager failed"
if res=$(agent_wait_incident firewall global 30000); then
        ok "the external alert became a diagnosis: firewall/global ($res)"
        echo "figure: alert posted to Alertmanager → incident $(( ($(date +%s%N) - t0) / 1000000 )) ms (group_wait 1 s)"
        grep -q "reason=boundary_or_path " <<<"$res" && ok "reason boundary_or_path: nothing on the gateway drops IKE" ||
                bad "reason: $res"
        id=$(sed 's/.*id=\([0-9]*\).*/\1/' <<<"$res")
        conf=$(agent_ctl incidents --json | python3 -c 'import json,sys; print({str(x["id"]): x for x in json.load(sys.stdin)["incidents"] or []}[sys.argv[1]]["confidence"])' "$id" 2>/dev/null)
        [ "${conf:-0}" -ge 80 ] && ok "with high confidence: $conf%" || bad "confidence: '$conf'"
else
        bad "no incident from the external alert: $(agent_ctl checks | grep alerts)"
fi
wait_audit alert "firing BlackboxIkeUnreachable from 127.0.0.1 (receiver 'ikeheal', class reachability" &&
        ok "the alert taken is on the audit trail" || bad "no audit record of the alert"
# resolved in Alertmanager → sent resolved → the finding clears
# the same alert with an end (now: after its start), as a monitor resolves it
python3 -c 'import json,sys,datetime; a=json.load(open(sys.argv[1])); a[0]["endsAt"]=datetime.datetime.now(datetime.timezone.utc).isoformat(); print(json.dumps(a))' "$D/firing.json" > "$D/resolved.json"
am post "$D/am" "$D/resolved.json" >/dev/null
agent_wait_resolved firewall 30000 >/dev/null && ok "the alert resolved in Alertmanager: the incident resolved" ||
        bad "still active: $(agent_ctl checks | grep alerts)"
wait_audit alert "resolved BlackboxIkeUnreachable from 127.0.0.1" && ok "the resolved alert is on the audit trail" ||
        bad "no audit record of the resolution"
am stop "$D/am"

# --- refusals, each audited ---
good=$(cat "$D/firing.json" | python3 -c '
import json,sys
a=json.load(sys.stdin)[0]; a["status"]="firing"; a["endsAt"]="0001-01-01T00:00:00Z"; a["fingerprint"]="f1"
print(json.dumps({"version":"4","status":"firing","receiver":"manual","groupKey":"{}","alerts":[a]}))')
c=$(code -X POST --data-binary "$good" "http://127.0.0.1:$port/alerts")
[ "$c" = 401 ] && wait_audit http_refused "401 127.0.0.1 POST /alerts" && ok "no token: 401, audited" || bad "no token: $c"
c=$(code -X POST -H "Authorization: Bearer wrong" --data-binary "$good" "http://127.0.0.1:$port/alerts")
[ "$c" = 403 ] && wait_audit http_refused "403 127.0.0.1 POST /alerts: wrong bearer token" && ok "wrong token: 403, audited" ||
        bad "wrong token: $c"
printf '{\n "version": "4",\n "alerts": [1,}' > "$D/bad.json"
c=$(code -X POST -H "Authorization: Bearer $token" --data-binary @"$D/bad.json" "http://127.0.0.1:$port/alerts")
[ "$c" = 400 ] && grep -q "^400 3:" "$D/body" && wait_audit alert_refused "400 127.0.0.1 POST /alerts: 3:" &&
        ok "malformed body: 400 at $(cat "$D/body"), audited" || bad "malformed: $c $(cat "$D/body")"
head -c 40000 /dev/zero | tr '\0' ' ' > "$D/big.json"
c=$(code -X POST -H "Authorization: Bearer $token" --data-binary @"$D/big.json" "http://127.0.0.1:$port/alerts")
[ "$c" = 413 ] && wait_audit http_refused "413 127.0.0.1 POST /alerts" && ok "oversized body: 413, audited" || bad "oversized: $c"
other=$(sed 's/"gw.example"/"other.example"/' <<<"$good")
c=$(code -X POST -H "Authorization: Bearer $token" --data-binary "$other" "http://127.0.0.1:$port/alerts")
[ "$c" = 422 ] && wait_audit alert_refused "firing BlackboxIkeUnreachable from 127.0.0.1 (receiver 'manual') refused: instance 'other.example' is not this gateway" &&
        ok "an alert about another instance: 422, audited" || bad "other instance: $c $(cat "$D/body")"
badcls=$(sed 's/"reachability"/"weather"/' <<<"$good")
c=$(code -X POST -H "Authorization: Bearer $token" --data-binary "$badcls" "http://127.0.0.1:$port/alerts")
[ "$c" = 422 ] && wait_audit alert_refused "firing BlackboxIkeUnreachable from 127.0.0.1 (receiver 'manual') refused: ikeheal_class 'weather' is no fault class" && ok "an unknown ikeheal_class: 422, audited" ||
        bad "unknown class: $c"
[ "$(agent_ctl incidents active --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["incidents"] or []))')" = 0 ] &&
        ok "no refused alert made an incident" || bad "an incident from a refused alert"

agent_stop || bad "agent did not stop cleanly"
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D/agent.log" && bad "sanitizer report"
testlib_end
