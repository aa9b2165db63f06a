#!/usr/bin/env bash
# The shipped auth-rollback runbook on the real lab: an edit switches the gateway to a PSK that
# no client has, and every client fails to authenticate (a global authentication incident).
# ikeheald (sanitizer build, shipped runbooks) proposes rolling the configuration back at
# approve grade; approved, the last-good swanctl tree is restored and loaded, and both clients
# connect again.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-actauth-XXXXXX)
cleanup() {
        agent_stop
        lab_down "$D/lab" >/dev/null 2>&1
        rm -rf "$D"
}
trap cleanup EXIT

lab_up "$D/lab" --clients 2 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
{ agent_yaml_head "$D" "$top/runbooks"; cat <<YAML
checks:
  - kind: logs
    params: {window: 10m}
  - kind: sas
  - kind: config
    params: {swanctl_dir: $GW_SWANCTL_DIR, strongswan_conf: $GW_CONF}
YAML
} >"$D/c.yaml"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "checks did not all report"
for _ in $(seq 100); do [ -s "$D/state/snapshots/config.manifest" ] && break; sleep 0.1; done
[ -s "$D/state/snapshots/config.manifest" ] && ok "last-good configuration stored" || bad "no manifest"
cp "$GW_SWANCTL_CONF" "$D/good.conf"

lab_set_psk "$D/lab" gw "an-edit-nobody-told-the-clients" >/dev/null && ok "an edit: the gateway now wants a PSK" || bad "lab_set_psk gw"
lab_connect "$D/lab" 1 >/dev/null 2>&1; lab_connect "$D/lab" 2 >/dev/null 2>&1
agent_wait_incident authentication global 10000 >/dev/null && ok "global authentication incident" || bad "no global authentication incident: $(agent_ctl incidents active)"
run_of() { agent_run_of auth-rollback; }
wait_run() { agent_wait_run auth-rollback "$1" 30000; }
res=$(wait_run pending) && ok "auth-rollback proposed at approve grade" || bad "no pending auth-rollback"
set -- $res
agent_ctl approve "$1" "$3" >/dev/null && ok "approved" || bad "approve"
wait_run succeeded >/dev/null && ok "configuration rolled back and loaded" || bad "rollback: $(agent_ctl runs | head -12)"
cmp -s "$D/good.conf" "$GW_SWANCTL_CONF" && ok "swanctl.conf is the last-good one" || bad "swanctl.conf differs"
lab_connect "$D/lab" 1 >/dev/null && lab_connect "$D/lab" 2 >/dev/null && ok "both clients connect again" || bad "clients cannot connect"
agent_wait_resolved authentication 15000 >/dev/null && ok "incident resolved" || bad "incident not resolved"

agent_stop && ok "agent stopped cleanly" || bad "agent exit status"
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D/agent.log" && bad "sanitizer report" || ok "no sanitizer report"
testlib_end
