#!/usr/bin/env bash
# A temporary measure never becomes part of the last-good state (real lab: charon, nftables,
# ikeheald with the firewall check, last_good_after 0s, a runbook whose nft_open step expires).
#
#   healthy              the last-good ruleset is recorded (the baseline)
#   measure in force     a rule drops UDP 500/4500; nft_open inserts tagged accepts; every check
#                        is healthy again, but nothing is recorded: a rollback to a ruleset
#                        holding the measure's rules would keep them past the expiry, for good
#   agent killed (-9)    restarted with the measure still in force: held from the start
#   revert fails         one tagged rule changed by someone: the revert stops (revert_failed),
#                        its rules may still be there — still held, `accept` refused saying
#                        how to go on; the changed rule deleted by hand, `ikehealctl revert`
#                        tries the revert again
#   reverted             (as at its expiry) the tagged rules deleted, the drop
#                        is back: the ruleset of that moment (which drops IKE) is not recorded
#                        either — the recording waits for every check to have run since the
#                        measure ended
#   fixed by hand        the drop deleted: a fresh healthy stretch is recorded (the baseline)
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-lgm-XXXXXX)
cleanup() {
        agent_stop
        lab_down "$D/lab" >/dev/null 2>&1
        [ "${KEEP:-}" ] || rm -rf "$D"
}
trap cleanup EXIT

lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
gwnft() { ip netns exec "$GW_NS" nft "$@"; }
gwnft -f - <<'NFT'
table inet filter {
        chain input {
                type filter hook input priority 0; policy accept;
                ct state established,related accept
        }
}
NFT
mkdir -p "$D/rb"
cat >"$D/rb/open.yaml" <<'YAML'
version: 1
name: fw-open
match: {class: firewall}
grade: auto
steps:
  - name: open
    action: nft_open
    timeout: 30s
    expires_in: 10m
    verify: {action: true, within: 10s}
YAML
{ agent_yaml_head "$D" "$D/rb"; cat <<YAML
checks:
  - kind: firewall
    params: {netns: $GW_NS}
    interval: 1s
YAML
} >"$D/c.yaml"
SNAP=$D/state/snapshots/firewall.nft.txt
recorded() { grep -c 'recording the last-good state' "$D/agent.log"; }
held() { grep -c 'a temporary measure is in force: the last-good state is not recorded' "$D/agent.log"; }
wait_for() { # TIMEOUT_MS SHELL-CONDITION (evaluated afresh each time)
        local n=$(($1 / 50))
        for _ in $(seq "$n"); do eval "$2" && return 0; sleep 0.05; done
        return 1
}

agent_start "$D" "$D/c.yaml" "$B" || exit 1
wait_for 8000 'test -s "$D/state/snapshots/firewall.nft.hash"' && ok "healthy: the last-good ruleset is recorded" ||
        bad "no last-good snapshot: $(cat "$D/agent.log")"
cp "$SNAP" "$D/baseline.txt"

# --- a measure in force ----------------------------------------------------------------------
gwnft add rule inet filter input udp dport { 500, 4500 } drop
agent_wait_run fw-open succeeded 20000 >/dev/null && ok "nft_open ran and verified" || bad "no measure: $(agent_run_of fw-open)"
gwnft list ruleset | grep -q 'comment "ikeheal-open"' && ok "tagged accept rules in force" || bad "no tagged rules"
agent_wait_resolved firewall 10000 >/dev/null && ok "the incident resolved under the measure" || bad "incident not resolved"
wait_for 5000 'test "$(held)" -ge 1' && ok "every check healthy, nothing recorded: $(grep -m1 'measure is in force' "$D/agent.log" | cut -c1-120)" ||
        bad "no hold said: $(grep 'last-good' "$D/agent.log")"
cmp -s "$SNAP" "$D/baseline.txt" && ok "the last-good ruleset is still the baseline (no measure rule in it)" ||
        bad "the last-good ruleset changed under the measure: $(diff "$D/baseline.txt" "$SNAP")"

# --- killed with the measure in force, restarted: held from the start ------------------------
kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; AGENT_PID=
mv "$D/agent.log" "$D/agent-1.log"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_ctl measures | grep -q 'nft_open.*active' && ok "restarted: the measure is in force" || bad "measures: $(agent_ctl measures all)"
wait_for 5000 'test "$(held)" -ge 1' && ok "restarted: nothing recorded while it is in force" ||
        bad "restarted, no hold said: $(grep 'last-good' "$D/agent.log")"
cmp -s "$SNAP" "$D/baseline.txt" && ok "the last-good ruleset is still the baseline" || bad "changed: $(diff "$D/baseline.txt" "$SNAP")"

# --- reverted: the drop is back, its ruleset is not recorded ---------------------------------
# paused, so the incident after the revert gets a proposal, not a second measure
agent_ctl pause --reason "last-good test: no second measure" >/dev/null || bad "pause refused"
id=$(agent_ctl measures --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["measures"][0]["id"])')
h=$(gwnft -a list chain inet filter input | sed -n 's/.*comment "ikeheal-open" # handle \([0-9]*\)$/\1/p' | head -1)
gwnft replace rule inet filter input handle "$h" udp dport 500 counter accept comment '"ikeheal-open"'
agent_ctl revert "$id" >/dev/null || bad "revert $id refused"
wait_for 15000 'agent_ctl measures all | grep -q "nft_open .*revert_failed"' &&
        ok "a tagged rule changed by someone: the revert failed" || bad "measures: $(agent_ctl measures all)"
out=$(agent_ctl accept --reason "last-good test" 2>&1) && bad "accept took a state with a failed revert: $out" ||
        { grep -q "could not be reverted.*ikehealctl revert $id" <<<"$out" && ok "accept refused: $out" || bad "accept: $out"; }
[ "$(recorded)" = 0 ] && cmp -s "$SNAP" "$D/baseline.txt" && ok "still nothing recorded" || bad "recorded: $(grep 'last-good' "$D/agent.log")"
gwnft delete rule inet filter input handle "$h"
agent_ctl revert "$id" >/dev/null || bad "revert $id again refused"
wait_for 15000 'agent_ctl measures all | grep -q "nft_open .*reverted "' &&
        ok "the changed rule deleted by hand, the revert tried again: reverted" || bad "measures: $(agent_ctl measures all)"
gwnft list ruleset | grep -q 'ikeheal-open' && bad "tagged rules left: $(gwnft list ruleset)" || ok "no tagged rule left"
agent_wait_incident firewall global 10000 >/dev/null && ok "the drop is seen again" || bad "no incident after the expiry"
cmp -s "$SNAP" "$D/baseline.txt" && ok "the ruleset of the revert's moment (dropping IKE) was not recorded" ||
        bad "recorded at the revert: $(diff "$D/baseline.txt" "$SNAP"); $(grep 'last-good' "$D/agent.log")"
[ "$(recorded)" = 0 ] && ok "no recording since the restart" || bad "recorded: $(grep 'last-good' "$D/agent.log")"

# --- fixed by hand: a fresh healthy stretch is recorded --------------------------------------
h=$(gwnft -a list chain inet filter input | sed -n 's/.*udp dport { 500, 4500 } drop # handle \([0-9]*\)/\1/p')
gwnft delete rule inet filter input handle "$h"
wait_for 10000 'test "$(recorded)" -ge 1' && ok "healthy again: the last-good state recorded" ||
        bad "not recorded: $(grep 'last-good' "$D/agent.log")"
cmp -s "$SNAP" "$D/baseline.txt" && ok "and it is the baseline again" || bad "differs: $(diff "$D/baseline.txt" "$SNAP")"
testlib_end
