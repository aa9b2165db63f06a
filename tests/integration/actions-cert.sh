#!/usr/bin/env bash
# The cert_standby action and the shipped cert-standby runbook on the real lab: the gateway's
# certificate expires (a real expired certificate from the lab's CA, loaded into charon); the
# client cannot authenticate the gateway any more. ikeheald (sanitizer build, shipped runbooks)
# opens a certificate incident and proposes the standby certificate at approve grade; approved,
# the validated standby pair replaces the live one atomically, credentials and connections are
# reloaded, and the client's tunnel comes back. The action's revert puts the replaced pair back
# (action-run); a standby that does not chain to the trusted CAs is refused, nothing changed.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-actcert-XXXXXX)
cleanup() {
        agent_stop
        lab_down "$D/lab" >/dev/null 2>&1
        [ "${KEEP:-}" ] || rm -rf "$D"
}
trap cleanup EXIT

lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
SB_CERT=$STANDBY_DIR/gw-standby.pem SB_KEY=$STANDBY_DIR/gw-standby.key
{ agent_yaml_head "$D" "$top/runbooks"; cat <<YAML
checks:
  - kind: certificate
    params: {swanctl_dir: $GW_SWANCTL_DIR, standby: [$SB_CERT, $SB_KEY]}
  - kind: conns
YAML
} >"$D/c.yaml"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "checks did not all report"
lab_connect "$D/lab" 1 >/dev/null && ok "client connected" || bad "client could not connect"
lab_disconnect "$D/lab" 1 >/dev/null

lab_gw_cert "$D/lab" expired >/dev/null && ok "the gateway's certificate is now an expired one" || bad "lab_gw_cert expired"
lab_connect "$D/lab" 1 >/dev/null 2>&1 && bad "the client accepted an expired gateway certificate?" || ok "the client cannot connect"
agent_wait_incident certificate - 10000 >/dev/null && ok "certificate incident" || bad "no certificate incident"
run_of() { agent_run_of cert-standby; }
wait_run() { agent_wait_run cert-standby "$1" 30000; }
res=$(wait_run pending) && ok "cert-standby proposed at approve grade" || bad "no pending cert-standby"
plan=$(agent_ctl plan cert-standby)
grep -q "replace $GW_CERT by the standby $SB_CERT" <<<"$plan" && grep -q "validated" <<<"$plan" &&
        ok "the plan names the pair it replaces and the validated standby" || bad "plan: $plan"
set -- $res
agent_ctl approve "$1" "$3" >/dev/null && ok "approved" || bad "approve"
wait_run succeeded >/dev/null && ok "standby swapped in, credentials and connections reloaded, verified" || bad "cert-standby: $(run_of)"
cmp -s "$SB_CERT" "$GW_CERT" && cmp -s "$SB_KEY" "$GW_KEY" && [ "$(stat -c %a "$GW_KEY")" = 600 ] &&
        ok "the live pair is the standby's (key still 0600)" || bad "live pair not swapped"
lab_connect "$D/lab" 1 >/dev/null && ok "the client's tunnel is up again" || bad "client still cannot connect"
agent_wait_resolved certificate 15000 >/dev/null && ok "certificate incident resolved" || bad "incident not resolved"

# --- the action alone: revert, and a standby that does not chain ------------------------------
agent_ctl pause --reason "action tests" >/dev/null
agent_stop
printf 'cert: %s\nkey: %s\n' "$SB_CERT" "$SB_KEY" >"$D/p.yaml"
A=("$B/tools/action-run" --state-dir "$D/state" --vici "$GW_VICI" --param "certificate.swanctl_dir=$GW_SWANCTL_DIR")
"${A[@]}" cert_standby revert "$D/p.yaml" >"$D/rev.out" 2>&1 && ! cmp -s "$SB_CERT" "$GW_CERT" &&
        openssl x509 -in "$GW_CERT" -noout -checkend 0 >/dev/null 2>&1; rc=$?
[ $rc = 1 ] && ok "revert: the expired certificate is back ($(grep detail "$D/rev.out" | cut -c1-120))" || bad "revert: $(cat "$D/rev.out")"
printf 'cert: %s\nkey: %s\n' "$PKI_DIR/foreign-ca.pem" "$SB_KEY" >"$D/bad.yaml"
cp "$GW_CERT" "$D/before.pem"
"${A[@]}" cert_standby apply "$D/bad.yaml" >"$D/bad.out" 2>&1 && bad "an unfit standby was swapped in" ||
        { grep -q "refused, nothing changed" "$D/bad.out" && cmp -s "$D/before.pem" "$GW_CERT" &&
                ok "an unfit standby is refused, nothing changed: $(grep -o 'refused, nothing.*' "$D/bad.out" | head -1 | cut -c1-100)" ||
                bad "unfit standby: $(cat "$D/bad.out")"; }

# --- a short-lived certificate from an on-box standby CA the peers also trust -----------------
pki --gen --type ecdsa --size 256 --outform pem >"$D/sca.key" 2>/dev/null &&
        pki --self --ca --lifetime 365 --in "$D/sca.key" --dn "O=ikeheal lab, CN=standby CA" --outform pem >"$D/sca.pem" 2>/dev/null ||
        bad "standby CA"
sw1=$(_lab_role_get "$D/lab" 1 SWANCTL_DIR)
cp "$D/sca.pem" "$sw1/x509ca/standby-ca.pem" && lab_swanctl "$D/lab" 1 --load-creds --noprompt >/dev/null 2>&1 &&
        ok "the client also trusts the standby CA (provisioned beforehand)" || bad "client trust"
printf 'ca_cert: %s\nca_key: %s\nlifetime: 2d\n' "$D/sca.pem" "$D/sca.key" >"$D/issue.yaml"
lab_disconnect "$D/lab" 1 >/dev/null
lab_connect "$D/lab" 1 >/dev/null 2>&1 && bad "connected with the expired certificate?" || ok "expired gateway certificate again: no tunnel"
out=$("${A[@]}" cert_issue apply "$D/issue.yaml" 2>&1) && ok "cert_issue: $(grep -o 'reissued[^;]*' <<<"$out")" || bad "cert_issue: $out"
openssl x509 -in "$GW_CERT" -noout -checkend 0 >/dev/null 2>&1 && ! openssl x509 -in "$GW_CERT" -noout -checkend 259200 >/dev/null 2>&1 &&
        openssl x509 -in "$GW_CERT" -noout -issuer | grep -q "standby CA" && ok "the live certificate: valid now, for about 2 days, issued by the standby CA" ||
        bad "issued certificate: $(openssl x509 -in "$GW_CERT" -noout -issuer -dates 2>&1)"
openssl x509 -in "$GW_CERT" -noout -ext subjectAltName 2>/dev/null | grep -q "$GW_ID" && ok "names kept ($GW_ID)" || bad "SAN lost"
lab_connect "$D/lab" 1 >/dev/null && ok "the client's tunnel is up with the short-lived certificate" || bad "client cannot connect"
out=$("${A[@]}" cert_issue revert "$D/issue.yaml" 2>&1) && ! openssl x509 -in "$GW_CERT" -noout -checkend 0 >/dev/null 2>&1 &&
        ok "revert: the replaced certificate is back" || bad "cert_issue revert: $out"

grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D/agent.log" && bad "sanitizer report" || ok "no sanitizer report"
testlib_end
