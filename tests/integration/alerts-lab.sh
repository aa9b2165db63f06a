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
#   out           the incident (no runbook matches it) is pushed back to the same Alertmanager
#                 (notify.alertmanager): it shows in Alertmanager's /api/v2/alerts with its labels
#                 and is gone from there once resolved; Alertmanager routing it back to the
#                 agent's intake is refused (the agent's own alert is no finding); a webhook
#                 receiver (python3 on loopback) gets incident_opened and incident_resolved with
#                 class, scope, severity, reason and peers, each signed with a valid HMAC-SHA256
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root
for b in curl python3; do command -v $b >/dev/null || { echo "SKIP: missing $b"; exit 77; }; done
command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null || { echo "SKIP: missing alertmanager"; exit 77; }

D=$(mktemp -d /tmp/ikh-alerts-XXXXXX)
cleanup() {
        "$top/tests/lab/alertmanager.sh" stop "$D/am" 2>/dev/null
        agent_stop
        [ -n "${SINK_PID:-}" ] && kill "$SINK_PID" 2>/dev/null
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
head -c 32 /dev/urandom > "$D/hook.key"
chmod 0600 "$D/alerts.token" "$D/hook.key"
# a webhook receiver: one JSON line per POST, {"sig": its signature header, "body": the body}
python3 - "$D/sink.port" "$D/sink.out" <<'PY' &
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(sys.argv[2], "a") as f:
            f.write(json.dumps({"sig": self.headers.get("X-Ikeheal-Signature", ""), "body": body.decode()}) + "\n")
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
SINK_PID=$!
for _ in $(seq 100); do [ -s "$D/sink.port" ] && break; sleep 0.05; done
# the real Alertmanager: its receiver is the agent's intake
mkdir -p "$D/am"
am start "$D/am" "http://127.0.0.1:$port/alerts" "$D/alerts.token" || { bad "alertmanager did not start"; exit 1; }
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
notify:
  webhooks:
    - {name: sink, url: "http://127.0.0.1:$(cat "$D/sink.port")/hook", timeout: 2s, signing_key_file: $D/hook.key}
  alertmanager: {url: "http://127.0.0.1:$(cat "$D/am/port")", resend: 2s, instance: gw.example, timeout: 2s}
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
# the incident goes out: to Alertmanager as an alert, to the webhook (no runbook matches it)
am_incident() { # ID: "labels…" of the active IkehealIncident alert for incident ID in Alertmanager, or nothing
        am alerts "$D/am" 2>/dev/null | python3 -c '
import json, sys
for a in json.load(sys.stdin):
    l = a["labels"]
    if l.get("alertname") == "IkehealIncident" and l.get("incident") == sys.argv[1]:
        print(" ".join("%s=%s" % kv for kv in sorted(l.items())), "| runbook:", a["annotations"].get("runbook"))' "$1"
}
t1=$(date +%s%N) found=
for _ in $(seq 100); do found=$(am_incident "${id:-0}"); [ -n "$found" ] && break; sleep 0.1; done
if [ -n "$found" ]; then
        ok "the incident is an alert in Alertmanager: $found"
        echo "figure: incident seen → alert listed by Alertmanager $(( ($(date +%s%N) - t1) / 1000000 )) ms"
        grep -q "class=firewall incident=$id instance=gw.example reason=boundary_or_path scope=global severity=critical" <<<"$found" &&
                grep -q "runbook: none matches" <<<"$found" && ok "with class, scope, severity, reason, instance; no runbook matches" ||
                bad "labels: $found"
else
        bad "incident ${id:-?} not in Alertmanager: $(am alerts "$D/am" 2>&1 | head -c 600)"
fi
wait_audit alert_refused "firing IkehealIncident from 127.0.0.1 (receiver 'ikeheal') refused: IkehealIncident is this agent's own" &&
        ok "routed back by Alertmanager, the agent's own alert is refused at the intake" || bad "own alert not refused"
# EVENT: the webhook message of EVENT for incident ID, its signature checked (prints the body)
hook_msg() {
        python3 - "$D/sink.out" "$D/hook.key" "$1" "${id:-0}" <<'PY'
import hashlib, hmac, json, sys
key = open(sys.argv[2], "rb").read()
for line in open(sys.argv[1]):
    m = json.loads(line); b = json.loads(m["body"])
    if b.get("event") == sys.argv[3] and str(b.get("incident")) == sys.argv[4]:
        want = "sha256=" + hmac.new(key, m["body"].encode(), hashlib.sha256).hexdigest()
        print(("signed " if hmac.compare_digest(m["sig"], want) else "BAD SIGNATURE ") + m["body"])
        sys.exit(0)
sys.exit(1)
PY
}
wait_hook() { for _ in $(seq 50); do hook_msg "$1" && return 0; sleep 0.1; done; return 1; }
if msg=$(wait_hook incident_opened); then
        python3 -c '
import json, sys
s = sys.argv[1]; assert s.startswith("signed "), s
b = json.loads(s[7:])
assert (b["class"], b["scope"], b["reason"]) == ("firewall", "global", "boundary_or_path"), b
assert b["severity"] in ("fail", "warn") and isinstance(b["peers"], list) and "run" not in b, b' "$msg" &&
                ok "webhook incident_opened, validly signed, with class, scope, severity, reason, peers" || bad "webhook: $msg"
else
        bad "no incident_opened webhook: $(cat "$D/sink.out" 2>/dev/null | head -c 600)"
fi
# resolved in Alertmanager → sent resolved → the finding clears
# the same alert with an end (now: after its start), as a monitor resolves it
python3 -c 'import json,sys,datetime; a=json.load(open(sys.argv[1])); a[0]["endsAt"]=datetime.datetime.now(datetime.timezone.utc).isoformat(); print(json.dumps(a))' "$D/firing.json" > "$D/resolved.json"
am post "$D/am" "$D/resolved.json" >/dev/null
agent_wait_resolved firewall 30000 >/dev/null && ok "the alert resolved in Alertmanager: the incident resolved" ||
        bad "still active: $(agent_ctl checks | grep alerts)"
wait_audit alert "resolved BlackboxIkeUnreachable from 127.0.0.1" && ok "the resolved alert is on the audit trail" ||
        bad "no audit record of the resolution"
for _ in $(seq 100); do [ -z "$(am_incident "${id:-0}")" ] && break; sleep 0.1; done
[ -z "$(am_incident "${id:-0}")" ] && ok "the incident resolved: its alert is resolved in Alertmanager" ||
        bad "still active in Alertmanager: $(am_incident "${id:-0}")"
msg=$(wait_hook incident_resolved) && grep -q '^signed .*"class":"firewall"' <<<"$msg" &&
        ok "webhook incident_resolved, validly signed" || bad "no signed incident_resolved webhook: ${msg:-$(tail -c 600 "$D/sink.out")}"
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
