#!/usr/bin/env bash
# Broken swanctl.conf, end to end: the real gateway charon in the lab, ikeheald (sanitizer build)
# watching it with the `conns` check. A syntax error in swanctl.conf loaded with
# `swanctl --load-all` unloads every connection; the agent must open ONE incident of class
# daemon_config, scope global, reason conns_missing, show it in `diagnose` (impact global) and
# `incidents`, keep it across an agent restart, and resolve it once the good file is loaded.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-diagconf-XXXXXX)
cleanup() {
        agent_stop
        lab_down "$D/lab" >/dev/null 2>&1
        rm -rf "$D"
}
trap cleanup EXIT

lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
cat >"$D/c.yaml" <<YAML
agent:
  state_dir: $D/state
  last_good_after: 0s
control:
  socket: $D/ctl.sock
charon:
  vici_socket: $GW_VICI
  reconnect_min: 50ms
  reconnect_max: 400ms
check_defaults: {interval: 1s, timeout: 2s, rise: 1, fall: 1}
checks:
  - kind: conns
YAML
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 5000 && ok "checks reported" || bad "checks did not report"
# the last-good set is recorded once everything is healthy
for ((i = 0; i < 100; i++)); do [ -s "$D/state/snapshots/conns.conns" ] && break; sleep 0.05; done
grep -qx rw "$D/state/snapshots/conns.conns" && ok "last-good connections recorded: $(tr '\n' ' ' <"$D/state/snapshots/conns.conns")" \
        || bad "no last-good snapshot"
lab_connect "$D/lab" >/dev/null && ok "client connects" || bad "client could not connect"

cp "$GW_SWANCTL_DIR/swanctl.conf" "$D/swanctl.good"
echo "connections { rw { local_addrs = " >>"$GW_SWANCTL_DIR/swanctl.conf"
out=$(lab_swanctl "$D/lab" gw --load-all --noprompt 2>&1)
grep -q "syntax error" <<<"$out" && ok "swanctl: syntax error, loaded anyway" || bad "swanctl output: $out"

if res=$(agent_wait_incident daemon_config global 5000); then
        ok "incident daemon_config/global: $res"
        grep -q "reason=conns_missing" <<<"$res" && ok "reason conns_missing" || bad "reason: $res"
else
        bad "no daemon_config incident"
fi
n=$(agent_ctl incidents --json | python3 -c 'import json,sys; print(len({str(x["id"]): x for x in json.load(sys.stdin)["incidents"] or []}))')
[ "$n" = 1 ] && ok "one root cause, one incident" || bad "$n incidents"
js=$(agent_ctl diagnose --json)
python3 - "$js" <<'PY' && ok "diagnose: impact global, problem daemon_config with evidence" || bad "diagnose: $js"
import json, sys
d = json.loads(sys.argv[1])
p = d["problems"][0]
assert d["impact"] == "global", d["impact"]
assert p["class"] == "daemon_config" and p["scope"] == "global"
assert any("rw" in e for e in p["evidence"]), p["evidence"]
assert {c["name"]: c for c in d["checks"]}["conns"]["status"] == "fail"
PY
agent_ctl diagnose | grep -q "^Impact: *GLOBAL" && ok "text report leads with the impact" || bad "text diagnose"

# the incident outlives the agent: the same incident (same opening time), not a new one
before=$(ALL=1 _agent_incident daemon_config | cut -d' ' -f1,5,6)
agent_stop || bad "agent did not stop cleanly"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
id=$(ALL=1 _agent_incident daemon_config | cut -d' ' -f1,5,6)
[ "$id" = "$before" ] && ok "after a restart incident 1 is still open ($id)" || bad "after restart: '$id', before: '$before'"
agent_wait_checks 5000 >/dev/null
sleep 0.3
n=$(agent_ctl incidents --json | python3 -c 'import json,sys; print(len({str(x["id"]): x for x in json.load(sys.stdin)["incidents"] or []}))')
[ "$n" = 1 ] && ok "re-checked after the restart: still one incident, not a second" || bad "$n incidents after restart"

cp "$D/swanctl.good" "$GW_SWANCTL_DIR/swanctl.conf"
lab_reload "$D/lab" gw || bad "good config did not load"
if res=$(agent_wait_resolved daemon_config 5000); then ok "resolved after the good config is loaded ($res)"; else bad "not resolved"; fi
agent_ctl incidents 1 | grep -q "^Incident: *1 (resolved)" && ok "incident 1 shows resolved" || bad "$(agent_ctl incidents 1)"

agent_ctl audit | grep -q "detection.*incident 1 opened: daemon_config global" &&
        ok "audit log: the detection is on record ($(agent_ctl audit --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["records"])') records)" \
        || bad "audit: $(agent_ctl audit | tail -5)"
agent_stop || bad "agent did not stop cleanly"
A=$D/state/audit.log
out=$("$B/ikehealctl" audit verify "$A") && ok "audit verify: $out" || bad "audit verify: $out"
# an edit of the second record's text: the third record's link breaks
sed -i '2s/incident/INCIDENT/' "$A"
out=$("$B/ikehealctl" audit verify "$A"); rc=$?
[ $rc = 1 ] && grep -q "BROKEN at line 3" <<<"$out" && ok "an edited record is found: $out" || bad "tamper: rc=$rc $out"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
ls "$D"/state/audit.log.broken-* >/dev/null 2>&1 && head -1 "$A" | grep -q "audit_broken" &&
        ok "the agent keeps the broken log aside and starts a new chain saying why" || bad "broken log handling: $(head -2 "$A")"
agent_stop || bad "agent did not stop cleanly"
"$B/ikehealctl" audit verify "$A" >/dev/null && ok "the new chain verifies" || bad "new chain"

# a signing key: refused when others can read it; with it, records carry an HMAC
rm -f "$D"/state/audit.log*
head -c 32 /dev/urandom >"$D/audit.key"
chmod 0644 "$D/audit.key"
sed -i "s|^  state_dir: .*|&\n  audit_key_file: $D/audit.key|" "$D/c.yaml"
if agent_start "$D" "$D/c.yaml" "$B" 2>/dev/null; then
        sleep 0.3
        kill -0 "$AGENT_PID" 2>/dev/null && bad "the agent runs with a world-readable audit key"
        agent_stop
fi
# refused by the configuration check (the unit's ExecStartPre), before anything starts
grep -q "audit_key_file .* has mode 0644" "$D/check-config.out" && ok "a world-readable audit key is refused" \
        || bad "key perms: $(tail -3 "$D/check-config.out")"
chmod 0600 "$D/audit.key"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_stop
out=$("$B/ikehealctl" audit verify "$A" "$D/audit.key") && grep -q "chain and HMACs intact" <<<"$out" &&
        ok "signed records verify with the key: $(cut -d' ' -f2- <<<"$out" | cut -c1-40)…" || bad "keyed verify: $out"
out=$("$B/ikehealctl" audit verify "$A") && grep -q "HMACs NOT checked" <<<"$out" &&
        ok "…without it the chain verifies and the HMACs are said not checked" || bad "unkeyed verify of a signed log: $out"
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D/agent.log" && bad "sanitizer report"
[ $fails = 0 ] && echo "all passed" || { echo "$fails failed"; tail -30 "$D/agent.log"; }
[ $fails = 0 ]
