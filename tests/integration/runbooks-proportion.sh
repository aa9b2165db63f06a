#!/usr/bin/env bash
# Proportion, on the real lab with the shipped runbooks: what still works is a warning, one
# cause is one incident, and a plan that cannot work is never offered. ikeheald (sanitizer
# build) watches the gateway with the certificate, config, revocation and conns checks; a CRL of
# the lab CA is served by an HTTP server on loopback and a fresh copy is cached in x509crl/.
# Each fault is real, and each case asserts the decision AND that nothing else changed:
#   - a gateway certificate without serverAuth/ikeIntermediate EKU: the client still connects;
#     a certificate warning (eku_missing), no runbook acts, no file changes;
#   - the gateway's key made 0644: ONE incident (daemon_config, unsafe_permissions, a warning,
#     the certificate check's view as its evidence); file-mode proposed at approve grade, its
#     plan naming the key only; approved, the key is 0600 again and every other file (content,
#     mode, owner) is as it was; config-rollback never proposed;
#   - the CRL distribution point down while the cached CRL is fresh: a warning
#     (crl_unreachable_cached) with the time the cache has left; crl-cache does not run;
#   - swanctl.conf broken on disk but not loaded: a warning (config_syntax) naming
#     FILE:LINE:COL; config-rollback not offered, the last-good manifest not replaced;
#   - a broken swanctl.conf on a gateway the agent never saw healthy (no last-good manifest):
#     config-rollback is escalated at once with the reason, never put up for approval, nothing
#     touched.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-proportion-XXXXXX)
HTTP=
cleanup() {
        agent_stop
        [ -n "$HTTP" ] && kill "$HTTP" 2>/dev/null && wait "$HTTP" 2>/dev/null
        lab_down "$D/lab" >/dev/null 2>&1
        [ "${KEEP:-}" ] || rm -rf "$D"
}
trap cleanup EXIT

lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
P=$((23000 + $$ % 9000))
mkdir -p "$D/www" "$GW_SWANCTL_DIR/x509crl"
pki --signcrl --cacert "$CA_CERT" --cakey "$PKI_DIR/ca.key" --lifetime 7 --outform der >"$D/www/ca.crl" 2>/dev/null ||
        { echo "pki --signcrl failed"; exit 1; }
cp "$D/www/ca.crl" "$GW_SWANCTL_DIR/x509crl/ca.crl"
http_start() {
        (cd "$D/www" && exec python3 -m http.server "$P" --bind 127.0.0.1) >/dev/null 2>&1 &
        HTTP=$!
        for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$P) 2>/dev/null && break; sleep 0.1; done
}
http_stop() { kill "$HTTP" 2>/dev/null; wait "$HTTP" 2>/dev/null; HTTP=; }
http_start
lab_swanctl "$D/lab" gw --load-creds --noprompt >/dev/null 2>&1

conf() { # STATE_DIR
        cat <<YAML
agent:
  state_dir: $1
  last_good_after: 0s
  runbook_dirs: [$top/runbooks]
control:
  socket: $D/ctl.sock
charon:
  vici_socket: $GW_VICI
  unit: none
check_defaults: {interval: 1s, timeout: 3s, rise: 1, fall: 1}
checks:
  - kind: certificate
    params: {swanctl_dir: $GW_SWANCTL_DIR, standby: [$STANDBY_DIR/gw-standby.pem, $STANDBY_DIR/gw-standby.key]}
  - kind: config
    params: {swanctl_dir: $GW_SWANCTL_DIR, strongswan_conf: $GW_CONF}
  - kind: revocation
    params: {swanctl_dir: $GW_SWANCTL_DIR, crl_urls: ["http://127.0.0.1:$P/ca.crl"], http_timeout: 1s}
  - kind: conns
    params: {expected: [rw]}
YAML
}
# every file of the swanctl tree: content hash, mode, owner
tree_state() { (cd "$GW_SWANCTL_DIR" && find . -type f -printf '%m %U:%G %p\n' | sort && find . -type f -exec sha256sum {} + | sort); }
# "state severity reason explains" of the active incident of CLASS
incident_of() {
        agent_ctl incidents active --json | python3 -c '
import json, sys
for i in ({str(x["id"]): x for x in json.load(sys.stdin).get("incidents") or []}).values():
    if i["class"] == sys.argv[1]:
        print(i["id"], i["state"], i.get("severity"), i.get("reason"), i.get("explains") or "-")' "$1"
}
n_active() { agent_ctl incidents active --json | python3 -c 'import json,sys; print(len({str(x["id"]): x for x in json.load(sys.stdin)["incidents"] or []}))'; }
runs_of() { agent_ctl runs --json | python3 -c '
import json, sys
r = {str(x["id"]): x for x in json.load(sys.stdin).get("runs") or []}
print(" ".join(sorted("%s:%s" % (v["runbook"], v["state"]) for v in r.values())) or "none")'; }
has_incident() { [ -n "$(incident_of "$1")" ]; }
active_is() { [ "$(n_active)" = "$1" ]; }
wait_for() { # TIMEOUT_MS COMMAND…
        local t0; t0=$(_agent_ms)
        until "${@:2}"; do [ $(($(_agent_ms) - t0)) -gt "$1" ] && return 1; sleep 0.1; done
}

conf "$D/state" >"$D/c.yaml"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "checks did not all report"
wait_for 10000 test -s "$D/state/snapshots/config.manifest" && wait_for 5000 active_is 0 &&
        ok "healthy: no incident, last-good manifest recorded" || bad "not healthy: $(agent_ctl incidents active | tr '\n' '|')"
lab_connect "$D/lab" 1 >/dev/null && ok "the client connects" || bad "client could not connect"
lab_disconnect "$D/lab" 1 >/dev/null

# --- a certificate without serverAuth / ikeIntermediate -------------------------------------
cp -p "$GW_CERT" "$D/gw.pem.good"
opts=("${LAB_GW_CERT_OPTS[@]}")
LAB_GW_CERT_OPTS=(--san "$LAB_GW_ID" --san "$LAB_GW_IP" --flag clientAuth)
lab_gw_cert "$D/lab" valid >/dev/null || bad "EKU-less certificate"
LAB_GW_CERT_OPTS=("${opts[@]}")
openssl x509 -in "$GW_CERT" -noout -ext extendedKeyUsage 2>/dev/null | grep -q "Server Authentication" &&
        bad "the certificate still has serverAuth" || ok "the gateway certificate's EKU is clientAuth only"
lab_connect "$D/lab" 1 >/dev/null && ok "…and IKE still works with it: the client connects" || bad "the client cannot connect"
before=$(tree_state)
wait_for 8000 has_incident certificate || bad "no certificate incident"
set -- $(incident_of certificate) x x x x x
[ "$3" = warn ] && [ "$4" = eku_missing ] && ok "a certificate warning, reason eku_missing (incident $1)" || bad "incident: $*"
sleep 3
[ "$(runs_of)" = none ] && ok "no runbook acts on it (runs: none)" || bad "runs: $(runs_of)"
[ "$(tree_state)" = "$before" ] && ok "nothing changed in the swanctl tree" || bad "the tree changed"
lab_disconnect "$D/lab" 1 >/dev/null
cp -p "$D/gw.pem.good" "$GW_CERT"
lab_swanctl "$D/lab" gw --load-creds --clear --noprompt >/dev/null 2>&1 && lab_reload "$D/lab" gw >/dev/null 2>&1
agent_wait_resolved certificate 10000 >/dev/null && ok "the good certificate back: resolved" || bad "certificate incident stays"

# --- the key made 0644: one incident, file_mode at approve grade ----------------------------
wait_for 10000 active_is 0 || bad "incidents left: $(agent_ctl incidents active | tr '\n' '|')"
before=$(tree_state)
chmod 0644 "$GW_KEY"
wait_for 8000 has_incident daemon_config || bad "no incident for the key's mode"
sleep 2
set -- $(incident_of daemon_config) x x x x x
[ "$3" = warn ] && [ "$4" = unsafe_permissions ] && grep -q certificate <<<"$5" &&
        ok "a warning, daemon_config/unsafe_permissions, the certificate check's view as its evidence (explains $5)" ||
        bad "incident: $*"
[ "$(n_active)" = 1 ] && ok "one cause, one incident" || bad "$(n_active) incidents: $(agent_ctl incidents active | tr '\n' '|')"
res=$(agent_wait_run file-mode pending 10000) && ok "file-mode proposed at approve grade" || bad "no pending file-mode: $(runs_of)"
plan=$(agent_ctl plan file-mode)
grep -q "$GW_KEY: mode 0644 owner 0:0 → last-good mode 0600" <<<"$plan" && ! grep "$GW_SWANCTL_DIR/" <<<"$plan" | grep -qv "$GW_KEY" &&
        ok "the plan names the key only: $(grep -o "$GW_KEY: .*" <<<"$plan" | cut -c1-100)" || bad "plan: $plan"
runs_of | grep -q config-rollback && bad "config-rollback proposed for a file mode" || ok "no configuration rollback proposed"
set -- $res
agent_ctl approve "$1" "$3" >/dev/null && ok "approved" || bad "approve"
agent_wait_run file-mode succeeded 15000 >/dev/null && ok "file-mode succeeded and verified" || bad "file-mode: $(agent_run_of file-mode)"
[ "$(stat -c %a "$GW_KEY")" = 600 ] && ok "the key is 0600 again" || bad "key mode $(stat -c %a "$GW_KEY")"
[ "$(tree_state)" = "$before" ] && ok "every file (content, mode, owner) is as before the fault: only the key's mode changed back" ||
        bad "the tree differs: $(diff <(echo "$before") <(tree_state) | head -4 | tr '\n' '|')"
agent_wait_resolved daemon_config 10000 >/dev/null && ok "incident resolved" || bad "incident not resolved"

# --- the distribution point down, the cached CRL fresh -------------------------------------
wait_for 10000 active_is 0 || bad "incidents left: $(agent_ctl incidents active | tr '\n' '|')"
before=$(tree_state)
http_stop
wait_for 8000 has_incident revocation || bad "no revocation incident"
set -- $(incident_of revocation) x x x x x
[ "$3" = warn ] && [ "$4" = crl_unreachable_cached ] && ok "a warning, crl_unreachable_cached (incident $1)" || bad "incident: $*"
sum=$(agent_ctl incidents "$1")
grep -q "fresh for another 6d23h" <<<"$sum" && ok "it says how long the cache has left: $(grep -o 'fresh for another [^ ]*' <<<"$sum" | head -1)" ||
        bad "no time left in: $sum"
sleep 4
runs_of | grep -q crl-cache && bad "crl-cache ran against the dead server: $(runs_of)" || ok "crl-cache does not run"
[ "$(tree_state)" = "$before" ] && ok "x509crl/ and the rest of the tree untouched" || bad "the tree changed"
http_start
agent_wait_resolved revocation 10000 >/dev/null && ok "distribution point back: resolved" || bad "revocation incident stays"

# --- swanctl.conf broken on disk, not loaded: a warning naming the place; charon untouched ---
wait_for 10000 active_is 0 || bad "incidents left: $(agent_ctl incidents active | tr '\n' '|')"
cp -p "$GW_SWANCTL_CONF" "$D/swanctl.conf.good"
good_manifest=$(sha256sum <"$D/state/snapshots/config.manifest")
line=$(($(wc -l <"$GW_SWANCTL_CONF") + 1))
echo "connections { rw { local_addrs = " >>"$GW_SWANCTL_CONF"
before=$(tree_state)
wait_for 8000 has_incident daemon_config || bad "no daemon_config incident"
set -- $(incident_of daemon_config) x x x x x
[ "$3" = warn ] && [ "$4" = config_syntax ] && ok "a warning, config_syntax (incident $1)" || bad "incident: $*"
sum=$(agent_ctl incidents "$1")
grep -q "swanctl.conf:$((line + 1)):1: 2 section(s) not closed at the end of the file" <<<"$sum" &&
        ok "it names the place: $(grep -o "swanctl.conf:[^:]*:[^:]*: [^:]*" <<<"$sum" | head -1)" || bad "no FILE:LINE:COL (end of file) in: $sum"
sleep 3
runs_of | grep -q config-rollback && bad "config-rollback offered for a file charon never loaded: $(runs_of)" ||
        ok "config-rollback not offered: charon still runs what it loaded"
lab_swanctl "$D/lab" gw --list-conns 2>/dev/null | grep -q "^rw:" && ok "rw still loaded in charon" || bad "rw gone"
[ "$(sha256sum <"$D/state/snapshots/config.manifest")" = "$good_manifest" ] && ok "the last-good manifest is untouched" ||
        bad "the last-good manifest changed"
[ "$(tree_state)" = "$before" ] && ok "nothing touched" || bad "the tree changed"
cp -p "$D/swanctl.conf.good" "$GW_SWANCTL_CONF"
agent_wait_resolved daemon_config 10000 >/dev/null && ok "the file fixed: resolved" || bad "daemon_config incident stays"

# --- no last-good manifest: config-rollback escalated at once, never offered ----------------
agent_stop || bad "agent exit status"
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D/agent.log" && bad "sanitizer report"
echo "connections { rw { local_addrs = " >>"$GW_SWANCTL_CONF"
# the whole output first: grep -q quitting at the first match would end swanctl by SIGPIPE before
# it unloads anything
out=$(lab_swanctl "$D/lab" gw --load-all --noprompt 2>&1)
grep -q "syntax error" <<<"$out" && grep -q "connections found, 1 unloaded" <<<"$out" &&
        ok "swanctl.conf broken and loaded: rw unloaded" || bad "swanctl: $out"
before=$(tree_state)
conf "$D/state2" >"$D/c2.yaml"
agent_start "$D" "$D/c2.yaml" "$B" || exit 1
wait_for 10000 has_incident daemon_config || bad "no daemon_config incident"
agent_wait_run config-rollback escalated 5000 >/dev/null && ok "config-rollback escalated at once" || bad "config-rollback: $(runs_of)"
agent_ctl runs --json | grep -q "no last-good configuration to go back to" && ok "…saying why: $(agent_ctl runs --json | grep -o 'step rollback cannot work: no last-good configuration[^(]*' | head -1)" ||
        bad "no reason in: $(agent_run_of config-rollback)"
agent_ctl audit 100 | grep -q "approval_requested" && bad "it was put up for approval" || ok "never put up for approval"
set -- $(incident_of daemon_config) x x x x x
[ "$2" = escalated ] && ok "the incident is a human's now" || bad "incident: $*"
sleep 1
[ "$(tree_state)" = "$before" ] && ok "nothing touched" || bad "the tree changed"

agent_stop || bad "agent exit status"
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D/agent.log" && bad "sanitizer report" || ok "no sanitizer report"
testlib_end
