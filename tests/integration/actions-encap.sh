#!/usr/bin/env bash
# The encap action (forced UDP encapsulation) against the site-to-site lab's real charon
# (tests/lab/s2s.sh), then as a measure of the agent:
#
#   by hand (tests/tools/action-run): apply writes conf.d/zz-ikeheal-encap.conf with exactly
#   `encap = yes` for s2s, swanctl --load-conns makes charon replace s2s only (rw "updated",
#   unchanged), the old IKE_SA is terminated and a new one set up, its CHILD_SA INSTALLED and
#   UDP-encapsulated, traffic through it; verify passes; a second apply is refused (one owner);
#   revert removes the override and reloads (s2s replaced again, and set up anew by charon: it
#   starts by itself); a file not ikeheald's at that path is neither replaced nor removed.
#   by the agent: a manual runbook's step with expires_in 3s: applied, the measure in force,
#   reverted at its expiry; applied again, the agent killed (-9), the next start reverts it.
#
# The lab's kernel has no ESP, so both gateways use kernel-libipsec, which always carries ESP in
# UDP: the SA is UDP-encapsulated before the action too, and that "traffic is back after forcing
# encapsulation" cannot be shown here (runbooks-data-plane shows the refusal that follows).
set -u
. "$(dirname "$0")/../lab/testlib.sh"
. "$top/tests/lab/s2s.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-encap-XXXXXX)
R=/run/ikh-encap-$$ # root-owned, 0755 all the way: a runbook directory the agent accepts
cleanup() {
        agent_stop
        lab_down "$D/lab" >/dev/null 2>&1
        [ -n "${KEEP:-}" ] || rm -rf "$D"
        rm -rf "$R"
}
trap cleanup EXIT
install -d -m 0755 "$R"

t0=$(date +%s%N)
s2s_up "$D/lab" >/dev/null || { echo "s2s lab did not come up"; exit 1; }
. "$D/lab/lab.env"
echo "figure: s2s lab up in $((($(date +%s%N) - t0) / 1000000)) ms"
OVR=$GW_SWANCTL_DIR/conf.d/zz-ikeheal-encap.conf
GWLOG=$(dirname "$GW_VICI")/charon.log

ike_id() { lab_swanctl "$D/lab" gw --list-sas --ike "$S2S_CONN" --raw 2>/dev/null | grep -o 'uniqueid=[0-9]*' | head -1; }
child_encap() { lab_swanctl "$D/lab" gw --list-sas --ike "$S2S_CONN" --raw 2>/dev/null | grep -q "name=$S2S_CHILD [^}]*state=INSTALLED [^}]*encap=yes"; }
replaced() { grep -c "replaced vici connection: $S2S_CONN" "$GWLOG"; }
wait_replaced() { # N: charon's log says it replaced s2s N times (its file log may lag a little)
        for _ in $(seq 40); do [ "$(replaced)" -ge "$1" ] && break; sleep 0.05; done
        [ "$(replaced)" = "$1" ]
}
run_action() { # OP
        "$B/tools/action-run" --vici "$GW_VICI" --param "tunnels.swanctl_conf=$GW_SWANCTL_CONF" encap "$1" "$D/encap.yaml"
}
printf 'conn: [%s]\nwait: 15s\n' "$S2S_CONN" >"$D/encap.yaml"

# --- by hand ------------------------------------------------------------------------------
# The lab's connection says encap = yes (kernel-libipsec needs ESP in UDP); here it says no, so
# that charon's loaded connection changes when the override comes and goes (its list-conns does
# not report encap: its log's "replaced vici connection" does). kernel-libipsec still
# encapsulates: the tunnel stays up.
sed -i 's/^\( *\)encap = yes/\1encap = no/' "$GW_SWANCTL_DIR/conf.d/s2s.conf"
lab_swanctl "$D/lab" gw --load-conns >/dev/null && s2s_wait_tunnel "$D/lab" 10000 &&
        ok "s2s loaded with encap = no, tunnel up" || bad "reload with encap = no"
id0=$(ike_id)
rep0=$(replaced)
t0=$(date +%s%N)
out=$(run_action apply) && ok "apply: $(grep detail <<<"$out")" || bad "apply: $out"
echo "figure: encap apply (override, load-conns, IKE_SA set up again) $((($(date +%s%N) - t0) / 1000000)) ms"
grep -q "disruptive\|terminate the IKE_SAs of $S2S_CONN" <<<"$out" && ok "the plan says the IKE_SA is set up again" || bad "plan: $out"
[ "$(sed -n '/^connections {/,$p' "$OVR" 2>/dev/null | tr -d ' \n')" = "connections{$S2S_CONN{encap=yes}}" ] &&
        ok "override: exactly encap = yes for $S2S_CONN" || bad "override: $(cat "$OVR" 2>&1)"
wait_replaced $((rep0 + 1)) && ok "charon replaced connection $S2S_CONN (its settings changed)" ||
        bad "replaced $(replaced) times (was $rep0): $(grep 'vici connection' "$GWLOG" | tail -3)"
tail -20 "$GWLOG" | grep -q "replaced vici connection: rw" && bad "rw replaced too" || ok "rw left as it was (unchanged)"
id1=$(ike_id)
[ -n "$id1" ] && [ "$id1" != "$id0" ] && ok "IKE_SA set up again ($id0 → $id1)" || bad "IKE_SA: $id0 → $id1"
child_encap && ok "CHILD_SA $S2S_CHILD INSTALLED, encap=yes" || bad "CHILD_SA: $(lab_swanctl "$D/lab" gw --list-sas --raw 2>&1 | head -c 600)"
s2s_ping "$D/lab" && ok "traffic through the tunnel" || bad "no traffic through the tunnel after apply"
out=$(run_action verify) && ok "verify: $(grep detail <<<"$out")" || bad "verify: $out"
out=$(run_action apply) && bad "a second apply replaced the override" ||
        { grep -q "exists already" <<<"$out" && ok "a second apply refused: one override, one owner" || bad "second apply: $out"; }
out=$(run_action revert) && ok "revert: $(grep detail <<<"$out" | cut -c1-160)" || bad "revert: $out"
[ -e "$OVR" ] && bad "override still there" || ok "override removed"
wait_replaced $((rep0 + 2)) && ok "charon replaced $S2S_CONN again (as configured)" || bad "replaced $(replaced) times"
s2s_wait_tunnel "$D/lab" 10000 && [ "$(ike_id)" != "$id1" ] && ok "charon set s2s up anew as configured ($id1 → $(ike_id))" ||
        bad "IKE_SA after revert: $(ike_id)"
s2s_ping "$D/lab" && ok "traffic through the tunnel after the revert" || bad "no traffic after the revert"
out=$(run_action verify) && bad "verify passed without the override" || ok "verify fails without the override"
out=$(run_action revert) && ok "revert again: idempotent" || bad "second revert: $out"
echo "# mine" >"$OVR"
out=$(run_action apply) && bad "apply replaced a file not ikeheald's" || ok "apply refused over a file not ikeheald's"
out=$(run_action revert) && bad "revert removed a file not ikeheald's" ||
        { [ "$(cat "$OVR")" = "# mine" ] && ok "revert left a file not ikeheald's alone" || bad "revert: $out"; }
rm -f "$OVR"

# --- as the agent's measure -----------------------------------------------------------------
cat >"$R/encap-test.yaml" <<YAML
version: 1
name: encap-test
description: force UDP encapsulation for s2s for a few seconds
match:
  class: tunnel
grade: manual
steps:
  - name: encap
    action: encap
    params: {conn: [$S2S_CONN], wait: 15s}
    timeout: 30s
    expires_in: 3s
    verify: {action: true, within: 10s}
YAML
chmod 0644 "$R/encap-test.yaml"
{ agent_yaml_head "$D" "$R"; cat <<YAML
checks:
  - kind: sas
  - kind: config
    params: {swanctl_dir: $GW_SWANCTL_DIR, strongswan_conf: $GW_CONF}
YAML
} >"$D/c.yaml"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "checks did not all report"
t0=$(date +%s%N)
agent_ctl run encap-test --wait >"$D/run.out" 2>&1 && ok "encap-test run succeeded" || bad "run: $(cat "$D/run.out")"
[ -e "$OVR" ] && child_encap && ok "override in place, CHILD_SA UDP-encapsulated" || bad "after the run: $(ls "$GW_SWANCTL_DIR/conf.d")"
# the override is the measure's, not a change of the configuration: no drift, counted apart
cfg=$(agent_ctl checks config --json 2>/dev/null | python3 -c 'import json,sys
d={str(x["name"]): x for x in json.load(sys.stdin)["checks"] or []}["config"]
f=d.get("facts",{}); v=f.get("drift","-")
print(d.get("status"), f.get("measure_files",""), "no" if v in (False, "no") else v)')
[ "$cfg" = "ok 1 no" ] && ok "config check: ok, the override counted as a measure's file, no drift" ||
        bad "config check while the override is in force: $cfg ($(agent_ctl checks config))"
for _ in $(seq 150); do agent_ctl measures all | grep -q "encap .*reverted " && break; sleep 0.1; done
agent_ctl measures all | grep -q "encap .*reverted " && ok "measure reverted at its expiry" || bad "measures: $(agent_ctl measures all)"
echo "figure: encap run to revert $((($(date +%s%N) - t0) / 1000000)) ms (expires_in 3s)"
[ -e "$OVR" ] && bad "override still there after the expiry" || ok "override removed at the expiry"

agent_ctl run encap-test --wait >"$D/run.out" 2>&1 && [ -e "$OVR" ] && ok "applied again" || bad "second run: $(cat "$D/run.out")"
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
AGENT_PID=
sleep 3.5
[ -e "$OVR" ] && ok "agent killed (-9): the override outlives it past its expiry" || bad "override gone without an agent?"
mv "$D/agent.log" "$D/agent.log.1"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
for _ in $(seq 100); do [ -e "$OVR" ] || break; sleep 0.1; done
[ -e "$OVR" ] && bad "the restarted agent left the override" || ok "the restarted agent reverted it"
for _ in $(seq 100); do [ "$(agent_ctl measures all | grep -c "encap .*reverted ")" = 2 ] && break; sleep 0.1; done
agent_ctl audit 40 | grep -q "expired while the agent was down" && ok "audited as expired while the agent was down" ||
        bad "audit: $(agent_ctl audit 20)"
s2s_wait_tunnel "$D/lab" 10000 && ok "the tunnel is up" || bad "tunnel down at the end"
testlib_end
