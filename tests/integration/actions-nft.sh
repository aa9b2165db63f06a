#!/usr/bin/env bash
# The nftables actions and the shipped firewall runbooks healing a real outage: a strongSwan
# gateway and client in network namespaces, the gateway's nftables, ikeheald (sanitizer build)
# with the shipped runbooks/ and the firewall check looking into the gateway's namespace.
#
#   an update-like change drops UDP 500/4500 (a new table, and a rule appended to the existing
#   chain)   → firewall-restore (auto) deletes that table and puts that chain back, in one
#              transaction → byte-identical to before → the client's tunnel comes up again
#              (figures printed)
#   no last-good snapshot → restore fails → escalates to firewall-open-ports (approve) →
#              approved → tagged accept rules at the top of the dropping chains → the client
#              connects through the still-broken ruleset → `revert` deletes exactly those rules
# The agent starts without the firewall check (libnftnl and libmnl are not mapped) and gets it
# by a reload (they are mapped after its first run).
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-actnft-XXXXXX)
cleanup() {
        agent_stop
        lab_down "$D/lab" >/dev/null 2>&1
        [ "${KEEP:-}" ] || rm -rf "$D"
}
trap cleanup EXIT
ms() { local t; t=$(date +%s%N); echo $((t / 1000000)); }

lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
gwnft() { ip netns exec "$GW_NS" nft "$@"; }
# the gateway's own ruleset, as a real one would have one
gwnft -f - <<'NFT'
table inet filter {
        chain input {
                type filter hook input priority 0; policy accept;
                ct state established,related accept
                tcp dport { 22, 443 } accept comment "admin"
        }
}
NFT
gwnft list ruleset >"$D/good.nft"

write_config() { # [FIREWALL_CHECK]
        local fw=""
        [ "${1:-}" ] && fw="  - kind: firewall
    params: {netns: $GW_NS}"
cat >"$D/c.yaml" <<YAML
agent:
  state_dir: $D/state
  last_good_after: 1s
  runbook_dirs: [$top/runbooks]
control:
  socket: $D/ctl.sock
charon:
  vici_socket: $GW_VICI
  unit: none
check_defaults: {interval: 2s, timeout: 3s, rise: 1, fall: 1}
checks:
$fw
  - kind: daemon
YAML
}
# first without the firewall check: nothing then talks to nftables
write_config
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "checks did not all report"
mapped() { grep -q "/$1\.so" "/proc/$AGENT_PID/maps"; }
mapped libnftnl || mapped libmnl && bad "libnftnl or libmnl mapped, though nothing configured talks to nftables" ||
        ok "no libnftnl, no libmnl in the agent before a firewall check is configured"
write_config firewall
out=$(agent_ctl reload 2>&1) || bad "reload with the firewall check: $out"
agent_wait_checks 8000 || bad "checks did not all report"
mapped libnftnl && mapped libmnl && ok "libnftnl and libmnl loaded by the first firewall check" ||
        bad "libnftnl/libmnl not mapped after the firewall check ran"
# nothing here asks systemd or the journal (charon.unit: none): libsystemd is never loaded
mapped libsystemd && bad "libsystemd mapped, though nothing configured needs it" ||
        ok "no libsystemd in the agent: nothing configured needs the system bus or the journal"
t0=$(ms)
# the hash is written last of the snapshot's files; the restore's record slot right after it
until [ -s "$D/state/snapshots/firewall.nft.hash" ] && [ -s "$D/state/snapshots/firewall.nft.restore" ]; do
        [ $(($(ms) - t0)) -gt 8000 ] && break
        sleep 0.1
done
[ -s "$D/state/snapshots/firewall.nft.bin" ] && ok "healthy: last-good ruleset recorded" || bad "no snapshot"
[ -s "$D/state/snapshots/firewall.nft.restore" ] && ok "with the slot the restore's record goes to" || bad "no record slot made at mark_good"
lab_connect "$D/lab" 1 >/dev/null && ok "client connected" || bad "client could not connect"
lab_disconnect "$D/lab" 1 >/dev/null

newest_run() { agent_run_of "$1"; }
wait_state() { agent_wait_run "$@"; }

# --- the case study: an update tightens the firewall --------------------------------------
# one transaction, as an update applies its ruleset: as two, the restore may land between them
# (it heals the first alone, and the second is a new fault)
t_fault=$(ms)
gwnft -f - <<'NFT'
table inet vendor_hardening {
        chain input {
                type filter hook input priority -5; policy accept;
                udp dport 4500 drop
        }
}
add rule inet filter input udp dport 500 drop
NFT
wait_state firewall-restore succeeded 20000 >/dev/null && ok "firewall-restore ran and verified" || bad "restore did not succeed"
t_healed=$(ms)
gwnft list ruleset | diff "$D/good.nft" - >/dev/null && ok "the ruleset is byte-identical to the last-good one" ||
        bad "ruleset differs: $(gwnft list ruleset | diff "$D/good.nft" - | head -5)"
t1=$(ms)
lab_connect "$D/lab" 1 >/dev/null && ok "the client's tunnel is up again" || bad "client still cannot connect"
t_tunnel=$(ms)
echo "figure: fault → last-good ruleset restored and verified in $((t_healed - t_fault)) ms; the client's connect after that $((t_tunnel - t1)) ms"
agent_wait_resolved firewall 15000 >/dev/null && ok "firewall incident resolved" || bad "incident not resolved"
agent_ctl audit 50 | grep -q "restored from the last-good snapshot: put back chain inet filter input; delete table inet vendor_hardening" && ok "the restore is on the audit trail" || bad "audit lacks the restore"
lab_disconnect "$D/lab" 1 >/dev/null

# --- no last-good snapshot: escalate to opening the ports, at approve grade ----------------
# (firewall-restore has a 2 min cooldown: an operator runs it for this incident instead)
rm -f "$D"/state/snapshots/firewall.nft.*
gwnft add rule inet filter input udp dport { 500, 4500 } drop
inc=$(agent_wait_incident firewall - 10000 | sed 's/.* id=\([0-9]*\).*/\1/')
agent_ctl run firewall-restore "$inc" >/dev/null && ok "operator runs firewall-restore for incident $inc" || bad "run"
res=$(wait_state firewall-open-ports pending 20000) && ok "restore impossible: escalated to firewall-open-ports, waiting for approval" ||
        bad "no pending open-ports run: $(newest_run firewall-restore)"
newest_run firewall-restore | grep -q "no_last-good_snapshot" && ok "the failed restore says why (no snapshot)" || bad "restore note: $(newest_run firewall-restore)"
RUN=${res%% *}
HASH0=$(agent_ctl pending --json | python3 -c 'import json,sys; print({str(x["id"]): x for x in json.load(sys.stdin)["runs"] or []}[sys.argv[1]]["plan_hash"])' "$RUN")
# the incident changes while the escalation waits (one more dropping rule): still the same
# escalation, not a plan superseded by the runbook that has just failed
gwnft add rule inet filter input udp dport 4500 counter drop
sleep 3 # more than a check interval: the firewall check has seen the change
[ "$(newest_run firewall-open-ports | cut -d' ' -f1-2)" = "$RUN pending" ] &&
        ok "the incident changed: the escalation (run $RUN) still waits for approval" ||
        bad "the escalation did not survive a change of the incident: $(newest_run firewall-open-ports)"
# the plan names the ruleset's generation: the one shown before the change cannot be approved
out=$(agent_ctl approve "$RUN" "$HASH0" 2>&1) && bad "approved a plan made for another ruleset: $out" ||
        { grep -q "the plan changed since it was shown" <<<"$out" && ok "the ruleset changed under the plan: its approval is refused, look again" ||
                bad "approve of the old plan: $out"; }
HASH=$(agent_ctl pending --json | python3 -c 'import json,sys; print({str(x["id"]): x for x in json.load(sys.stdin)["runs"] or []}[sys.argv[1]]["plan_hash"])' "$RUN")
agent_ctl plan firewall-open-ports | grep -q "insert at the top of inet filter input" && ok "the plan names the chain to open" || bad "plan: $(agent_ctl plan firewall-open-ports)"
out=$(timeout 60 "$AGENT_BUILD/ikehealctl" --socket "$AGENT_SOCK" approve "$RUN" "$HASH" --wait 2>&1); rc=$?
[ $rc = 0 ] && grep -q "^run $RUN: firewall-open-ports .*, succeeded" <<<"$out" && ok "approved; approve --wait returned when the run succeeded" ||
        bad "approve --wait: rc=$rc: $out"
wait_state firewall-open-ports succeeded 20000 >/dev/null && ok "ports opened and verified" || bad "open-ports did not succeed"
[ "$(gwnft list ruleset | grep -c 'comment "ikeheal-open"')" = 3 ] && ok "three tagged accept rules, at the top of the dropping chain" ||
        bad "tagged rules: $(gwnft -a list ruleset | grep ikeheal-open)"
lab_connect "$D/lab" 1 >/dev/null && ok "the client connects through the opened ports" || bad "client cannot connect with ports open"
agent_ctl measures | grep -q "nft_open.*active" && ok "a temporary measure with its expiry" || bad "measures: $(agent_ctl measures)"
M=$(agent_ctl measures --json | python3 -c 'import json,sys; print(next(iter({str(x["id"]): x for x in json.load(sys.stdin)["measures"] or []})))')
agent_ctl revert "$M" >/dev/null && ok "measure reverted on request" || bad "revert"
t0=$(ms)
while gwnft list ruleset | grep -q ikeheal-open; do [ $(($(ms) - t0)) -gt 5000 ] && break; sleep 0.05; done
gwnft list ruleset | grep -q ikeheal-open && bad "tagged rules still there" || ok "exactly the tagged rules are gone"
gwnft list ruleset | grep -q 'udp dport { 500, 4500 } drop' && ok "the operator's drop rule is untouched" || bad "revert touched other rules"

agent_ctl pause --reason "end of test" >/dev/null
agent_stop && ok "agent stopped cleanly" || bad "agent exit status"
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D/agent.log" && bad "sanitizer report" || ok "no sanitizer report"
testlib_end
