#!/usr/bin/env bash
# Certificates and the clock, end to end: the lab's gateway certificate replaced by an expired,
# a not-yet-valid and a chain-incomplete one; ikeheald (sanitizer build) with the certificate,
# clock, logs, sas and daemon checks must open ONE certificate incident (global) each time —
# the peers' authentication failures in charon's log are its evidence, not incidents of their
# own — and resolve it when the valid certificate is back. Then the clock: a reference server
# (tests/tools/sntp-server.py on loopback) that is two hours ahead makes the clock the cause,
# and an expired-looking certificate at the same time is explained by it (clock first).
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-diagcert-XXXXXX)
cleanup() {
        agent_stop
        [ -n "${SNTP_PID:-}" ] && kill "$SNTP_PID" 2>/dev/null && wait "$SNTP_PID" 2>/dev/null
        lab_down "$D/lab" >/dev/null 2>&1
        rm -rf "$D"
}
trap cleanup EXIT
n_active() { agent_ctl incidents active --json | python3 -c 'import json,sys; print(len({str(x["id"]): x for x in json.load(sys.stdin)["incidents"] or []}))'; }
lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
sntp_up "$D" || { echo "FAIL no time server"; exit 1; }
cat >"$D/c.yaml" <<YAML
agent:
  state_dir: $D/state
  last_good_after: 0s
control:
  socket: $D/ctl.sock
charon:
  vici_socket: $GW_VICI
  reconnect_min: 50ms
  unit: none
check_defaults: {interval: 2s, timeout: 3s, rise: 1, fall: 1}
checks:
  - kind: daemon
  - kind: sas
  - kind: certificate
    params: {swanctl_dir: $GW_SWANCTL_DIR, standby: [$D/lab/standby/gw-standby.pem, $D/lab/standby/gw-standby.key]}
  - kind: clock
    params: {servers: ["127.0.0.1:$SNTP_PORT"], timeout: 500ms, require_sync: false}
  - kind: logs
YAML
agent_start "$D" "$D/c.yaml" "$B" || exit 1
lab_connect "$D/lab" 1 >/dev/null || bad "client could not connect"
agent_wait_checks 6000 || bad "checks did not all report"
sleep 0.5
[ "$(n_active)" = 0 ] && ok "healthy: no incident" || bad "incidents while healthy: $(agent_ctl incidents active)"

for kind in expired notyet chain-incomplete; do
        case $kind in
        expired) want=expired ;;
        notyet) want=not_yet_valid ;;
        chain-incomplete) want=chain_incomplete ;;
        esac
        lab_disconnect "$D/lab" 1 >/dev/null 2>&1
        lab_gw_cert "$D/lab" "$kind" >/dev/null || bad "lab_gw_cert $kind"
        lab_connect "$D/lab" 1 >/dev/null 2>&1 && bad "$kind: the client connected anyway"
        sleep 0.5
        if res=$(agent_wait_incident certificate global 4000); then
                grep -q "reason=$want " <<<"$res" && ok "gateway cert $kind: certificate/global ($res)" \
                        || bad "gateway cert $kind: $res (wanted reason $want)"
        else
                bad "gateway cert $kind: no certificate incident: $(agent_ctl incidents active | tr '\n' '|')"
        fi
        [ "$(n_active)" = 1 ] && ok "gateway cert $kind: one incident; the peers' failures are its evidence" \
                || bad "gateway cert $kind: $(n_active) active: $(agent_ctl incidents active | tr '\n' '|')"
        lab_gw_cert "$D/lab" valid >/dev/null || bad "lab_gw_cert valid"
        lab_connect "$D/lab" 1 >/dev/null || bad "$kind: no reconnect with the valid cert"
        res=$(agent_wait_resolved certificate 6000) && ok "gateway cert $kind repaired: resolved ($res)" \
                || bad "gateway cert $kind: still active"
        agent_wait_resolved authentication 6000 >/dev/null || bad "$kind: an authentication incident stayed"
done

# the clock: skewed against the reference, with an "expired" certificate at the same time
sntp_shift -7200
if res=$(agent_wait_incident clock global 5000); then
        grep -q "reason=skew " <<<"$res" && ok "reference 2 h off: clock/global skew ($res)" || bad "clock: $res"
else
        bad "no clock incident; the clock check now: $(agent_ctl checks | grep -i clock | tr -s ' ' | cut -c1-300)"
fi
lab_gw_cert "$D/lab" expired >/dev/null
sleep 1
agent_ctl incidents active --json | python3 -c '
import json, sys
d = {str(x["id"]): x for x in json.load(sys.stdin)["incidents"] or []}
classes = sorted(i["class"] for i in d.values())
assert classes == ["clock"], classes
(c,) = d.values()
assert "certificate" in c["explains"], c
' && ok "skewed clock + expired-looking cert: one clock incident explaining the certificate" \
        || bad "clock+cert: $(agent_ctl incidents active | tr '\n' '|')"
agent_ctl diagnose | grep -q "explains: .*certificate" && ok "diagnose shows what the clock explains" || bad "diagnose: $(agent_ctl diagnose)"
lab_gw_cert "$D/lab" valid >/dev/null
sntp_shift 0
res=$(agent_wait_resolved clock 6000) && ok "reference agrees again: clock resolved ($res)" || bad "clock still active"

agent_stop || bad "agent did not stop cleanly"
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D/agent.log" && bad "sanitizer report"
[ $fails = 0 ] && echo "all passed" || { echo "$fails failed"; grep -E "incident|check .*: (fail|ok|warn)" "$D/agent.log" | tail -30; }
[ $fails = 0 ]
