#!/usr/bin/env bash
# The psk_temp action on the real lab, through the example psk-fallback runbook (its peer and
# expiry set for the lab): a client loses its certificate (it is switched to PSK with a secret
# the gateway does not have) and fails to authenticate. ikeheald proposes the PSK fallback at
# approve grade; approved, a 0600 file with a connection inheriting the gateway's `rw` (PSK, that
# peer only) and a fresh random secret is loaded; `ikehealctl psk show` gives the secret to an
# approver only (audited); the client uses it and connects; at the expiry the fallback is
# removed and unloaded, the client cannot connect any more, and the incident goes to a human.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-actpsk-XXXXXX)
GOP=ikh-pop-$$
R=/run/ikh-psk-$$ # 0755: a second uid can reach the socket
cleanup() {
        agent_stop
        lab_down "$D/lab" >/dev/null 2>&1
        groupdel "$GOP" 2>/dev/null
        rm -rf "$R"
        [ "${KEEP:-}" ] || rm -rf "$D"
}
trap cleanup EXIT
groupadd -r "$GOP" || exit 1
install -d -m 0755 "$R"

lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
# as Debian's swanctl.conf does
mkdir -p "$GW_SWANCTL_DIR/conf.d" && echo 'include conf.d/*.conf' >>"$GW_SWANCTL_CONF"
mkdir -p "$D/runbooks"
sed -e "s/peers: \[client1.example.org\]/peers: [$CL_ID_1]/" -e 's/expires_in: 4h/expires_in: 15s/' \
        "$top/runbooks/examples/psk-fallback.yaml" >"$D/runbooks/psk-fallback.yaml"
cat >"$D/c.yaml" <<YAML
agent:
  state_dir: $D/state
  last_good_after: 0s
  runbook_dirs: [$D/runbooks]
control:
  socket: $R/ctl.sock
  group: $GOP
  operator_groups: [$GOP]
charon:
  vici_socket: $GW_VICI
  unit: none
check_defaults: {interval: 2s, timeout: 3s, rise: 1, fall: 1}
checks:
  - kind: logs
    params: {window: 10m}
  - kind: sas
  - kind: config
    params: {swanctl_dir: $GW_SWANCTL_DIR, strongswan_conf: $GW_CONF}
YAML
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "checks did not all report"

lab_set_psk "$D/lab" 1 "not-the-gateways-secret" >/dev/null
lab_connect "$D/lab" 1 >/dev/null 2>&1 && bad "the client connected without a credential?" || ok "the client cannot authenticate"
agent_wait_incident authentication - 10000 >/dev/null && ok "authentication incident" || bad "no authentication incident"
run_of() { agent_run_of psk-fallback; }
wait_run() { agent_wait_run psk-fallback "$1" 30000; }
res=$(wait_run pending) && ok "PSK fallback proposed at approve grade" || bad "no pending psk-fallback"
set -- $res
agent_ctl approve "$1" "$3" >/dev/null && ok "approved" || bad "approve"
wait_run succeeded >/dev/null && ok "fallback written and loaded" || bad "psk run: $(agent_ctl runs | head -20)"
F=$GW_SWANCTL_DIR/conf.d/ikeheal-psk.conf
[ "$(stat -c %a "$F" 2>/dev/null)" = 600 ] && grep -q "id = $CL_ID_1" "$F" && ok "0600 file, limited to $CL_ID_1" || bad "fallback file"
M=$(agent_ctl measures --json | python3 -c 'import json,sys; print(next(iter({str(x["id"]): x for x in json.load(sys.stdin)["measures"] or []})))')
out=$(setpriv --reuid=65534 --regid=65534 --groups="$(getent group "$GOP" | cut -d: -f3)" "$B/ikehealctl" --socket "$AGENT_SOCK" psk show "$M" 2>&1) &&
        bad "a non-approver saw the secret" ||
        { grep -q "not an approver" <<<"$out" && ok "psk show refused for a non-approver (an operator)" || bad "refusal: $out"; }
SECRET=$(agent_ctl psk show "$M") && [ ${#SECRET} -ge 40 ] && ok "psk show (root): a ${#SECRET}-character secret" || bad "psk show: $SECRET"
agent_ctl audit 30 | grep -q "psk_show" && agent_ctl audit 30 | grep -q "psk_refused" && ok "both audited" || bad "psk audit"
lab_set_psk "$D/lab" 1 "0s$SECRET" >/dev/null
lab_connect "$D/lab" 1 >/dev/null && ok "the client connects with the fallback secret" || bad "client cannot use the fallback"
grep -q "selected peer config 'ikeheal-psk-1'" "$GW_LOG" && ok "through the ikeheal-psk-1 connection" || bad "which connection?"
lab_disconnect "$D/lab" 1 >/dev/null
for _ in $(seq 300); do [ -e "$F" ] || break; sleep 0.1; done
[ -e "$F" ] && bad "fallback still there after its expiry" || ok "expired: the fallback file is gone"
# the file goes first, then charon unloads it: the measure is "reverted" once that returned
for _ in $(seq 100); do agent_ctl measures all | grep -q "psk_temp .*reverted " && break; sleep 0.1; done
agent_ctl measures all | grep -q "psk_temp .*reverted " && ok "measure reverted" || bad "measures: $(agent_ctl measures all)"
lab_connect "$D/lab" 1 >/dev/null 2>&1 && bad "the client still connects with the expired secret" || ok "the expired secret no longer works"
[ -e "$D/state/psk/ikeheal-psk" ] && bad "the stored secret remains" || ok "the stored secret is gone too"

agent_stop && ok "agent stopped cleanly" || bad "agent exit status"
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D/agent.log" && bad "sanitizer report" || ok "no sanitizer report"
testlib_end
