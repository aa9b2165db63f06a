#!/usr/bin/env bash
# The shipped clock-skew runbook and the engine's rule that certificate runbooks wait for the
# clock, on the real lab: a reference time server (tests/tools/sntp-server.py on loopback) two
# hours ahead and, at the same time, a gateway certificate that looks expired. ikeheald
# (sanitizer build, shipped runbooks) must notify the clock problem (a loopback webhook) and run
# nothing on the certificate; once the reference agrees again, the certificate problem is its
# own and cert-standby is proposed.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-rbclock-XXXXXX)
SINK_PID=
cleanup() {
        agent_stop
        [ -n "${SNTP_PID:-}" ] && kill "$SNTP_PID" 2>/dev/null && wait "$SNTP_PID" 2>/dev/null
        [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
        lab_down "$D/lab" >/dev/null 2>&1
        rm -rf "$D"
}
trap cleanup EXIT
lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
sntp_up "$D" || { echo "FAIL no time server"; exit 1; }
python3 "$top/tests/tools/webhook-sink.py" "$D/sink.port" "$D/sink.out" &
SINK_PID=$!
for _ in $(seq 100); do [ -s "$D/sink.port" ] && break; sleep 0.05; done
{ agent_yaml_head "$D" "$top/runbooks"; cat <<YAML
checks:
  - kind: certificate
    params: {swanctl_dir: $GW_SWANCTL_DIR, standby: [$STANDBY_DIR/gw-standby.pem, $STANDBY_DIR/gw-standby.key]}
  - kind: clock
    params: {servers: ["127.0.0.1:$SNTP_PORT"], timeout: 500ms, require_sync: false}
notify:
  webhooks:
    - {name: sink, url: "http://127.0.0.1:$(cat "$D/sink.port")/hook", timeout: 2s}
YAML
} >"$D/c.yaml"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 6000 || bad "checks did not all report"

sntp_shift -7200
lab_gw_cert "$D/lab" expired >/dev/null
agent_wait_incident clock global 8000 >/dev/null && ok "clock incident (reference 2 h off)" || bad "no clock incident"
for _ in $(seq 100); do grep -q '"clock_skew"' "$D/sink.out" 2>/dev/null && break; sleep 0.1; done
msg=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e=json.loads(l)
    if e["event"]=="clock_skew": print(e["text"]); break' "$D/sink.out" 2>/dev/null)
[ -n "$msg" ] && grep -q "Certificate actions are blocked" <<<"$msg" && ok "notified: $msg" | cut -c1-160 || bad "no clock notification: $(cat "$D/sink.out" 2>/dev/null)"
sleep 3 # two check intervals: time for a certificate runbook to (wrongly) start
n=$(agent_ctl runs --json | python3 -c 'import json,sys; r={str(x["id"]): x for x in json.load(sys.stdin).get("runs") or []}; print(sum(1 for v in r.values() if v["runbook"]=="cert-standby" and v["state"] in ("pending","running","succeeded")))')
[ "$n" = 0 ] && ok "no certificate runbook while the clock is wrong" || bad "cert-standby ran during the clock incident"

sntp_shift 0
agent_wait_resolved clock 8000 >/dev/null && ok "the reference agrees again: clock resolved" || bad "clock still active"
agent_wait_incident certificate - 8000 >/dev/null && ok "now the certificate is the problem on its own" || bad "no certificate incident"
for _ in $(seq 100); do agent_ctl pending | grep -q cert-standby && break; sleep 0.1; done
agent_ctl pending | grep -q cert-standby && ok "cert-standby proposed, now that the clock is right" || bad "pending: $(agent_ctl pending); $(agent_ctl incidents); $(agent_ctl incidents 3 | head -20)"

agent_stop && ok "agent stopped cleanly" || bad "agent exit status"
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D/agent.log" && bad "sanitizer report" || ok "no sanitizer report"
testlib_end
