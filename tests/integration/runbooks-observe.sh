#!/usr/bin/env bash
# The shipped observe runbooks on the real lab: a client's IKE proposals and then its traffic
# selectors are made to disagree with the gateway's; ikeheald (sanitizer build, the shipped
# runbooks/ directory) must notify a loopback webhook with the exact mismatch — the peer, what
# charon said — and change nothing. Also: the shipped runbooks lint clean.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-observe-XXXXXX)
SINK_PID=
cleanup() {
        agent_stop
        [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
        lab_down "$D/lab" >/dev/null 2>&1
        rm -rf "$D"
}
trap cleanup EXIT

"$B/ikehealctl" lint "$top"/runbooks/*.yaml >"$D/lint.out" 2>&1 && ok "shipped runbooks lint clean" || bad "lint: $(cat "$D/lint.out")"
lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
python3 "$top/tests/tools/webhook-sink.py" "$D/sink.port" "$D/sink.out" &
SINK_PID=$!
for _ in $(seq 100); do [ -s "$D/sink.port" ] && break; sleep 0.05; done
{ agent_yaml_head "$D" "$top/runbooks"; cat <<YAML
checks:
  - kind: daemon
  - kind: sas
  - kind: logs
    params: {window: 10m}
notify:
  webhooks:
    - {name: sink, url: "http://127.0.0.1:$(cat "$D/sink.port")/hook", timeout: 2s}
YAML
} >"$D/c.yaml"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "checks did not all report"
agent_ctl status --json | python3 -c 'import json,sys; assert json.load(sys.stdin)["runbooks"]["loaded"] >= 3' &&
        ok "the shipped runbooks are loaded" || bad "runbooks not loaded"

wait_event() { # EVENT TIMEOUT_MS → the message text
        local t0; t0=$(_agent_ms)
        while :; do
                python3 - "$D/sink.out" "$1" <<'PY' 2>/dev/null && return 0
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["event"] == sys.argv[2]:
        print(e["text"])
        sys.exit(0)
sys.exit(1)
PY
                [ $(($(_agent_ms) - t0)) -gt "$2" ] && return 1
                sleep 0.1
        done
}

P=$LAB_IKE_PROPOSALS
lab_set_proposals "$D/lab" 1 aes128-sha256-modp3072 >/dev/null
lab_connect "$D/lab" 1 >/dev/null 2>&1
agent_wait_incident proposal local 8000 >/dev/null && ok "proposal mismatch: incident" || bad "no proposal incident"
msg=$(wait_event proposal_mismatch 8000) && ok "notified: $msg" || bad "no proposal notification: $(cat "$D/sink.out" 2>/dev/null)"
grep -q "$CL_IP_1" <<<"$msg" && ok "the notification names the peer ($CL_IP_1)" || bad "peer not named"
grep -qi "proposal" <<<"$msg" && grep -q "Evidence: ." <<<"$msg" && ok "…and carries charon's evidence" || bad "no evidence in: $msg"
agent_ctl runs --json | grep -q '"state": "observed"' && ok "recorded as observed, nothing run" || bad "runs: $(agent_ctl runs)"
lab_set_proposals "$D/lab" 1 "$P" >/dev/null
lab_connect "$D/lab" 1 >/dev/null 2>&1 && ok "client connects again with matching proposals" || bad "reconnect"
agent_wait_resolved proposal 15000 >/dev/null || bad "proposal incident not resolved"

lab_disconnect "$D/lab" 1 >/dev/null 2>&1
lab_set_ts "$D/lab" 1 198.18.9.9/32 >/dev/null
lab_connect "$D/lab" 1 >/dev/null 2>&1
agent_wait_incident traffic_selectors local 8000 >/dev/null && ok "selector mismatch: incident" || bad "no selector incident"
msg=$(wait_event traffic_selectors_mismatch 8000) && ok "notified: $msg" || bad "no selector notification"
grep -q "$CL_IP_1" <<<"$msg" && ok "the notification names the peer" || bad "peer not named"
lab_set_ts "$D/lab" 1 "$LAB_LAN_IP/32" >/dev/null
lab_connect "$D/lab" 1 >/dev/null 2>&1
agent_wait_resolved traffic_selectors 15000 >/dev/null || bad "selector incident not resolved"

agent_stop && ok "agent stopped cleanly" || bad "agent exit status"
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D/agent.log" && bad "sanitizer report" || ok "no sanitizer report"
testlib_end
