#!/usr/bin/env bash
# A measure in force for an incident that is still open when the agent dies and its engine.log
# is lost: started with --reset-state, the agent takes the measure back from its side record
# (state_dir/owed) and must not run the runbook again for that incident while the measure is in
# force — a second run would stack a second measure on a fault nobody has seen since the restart.
#
# Deterministic: the runbook's measure (log_level: charon's IKE log raised for a while) does not
# touch the fault (UDP 500/4500 dropped by nftables), so the firewall incident is open before the
# kill, at the restart and for as long as the test looks. A build without the guard in
# engine_incident() (584bf10) starts a second run of the runbook within a check interval of the
# restart and fails here.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-mreset-XXXXXX)
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
mkdir -p "$D/rb" "$D/strongswan.d"
echo "include $D/strongswan.d/*.conf" >>"$GW_CONF"
cat >"$D/rb/look.yaml" <<YAML
version: 1
name: fw-look
match: {class: firewall}
grade: auto
steps:
  - name: raise
    action: log_level
    params:
      subsystems: [ike=2]
      loggers: [charon.filelog.lab]
      dropin: $D/strongswan.d/zz-ikeheal-loglevel.conf
    expires_in: 60s
YAML
{ agent_yaml_head "$D" "$D/rb"; cat <<YAML
checks:
  - kind: firewall
    params: {netns: $GW_NS}
YAML
} >"$D/c.yaml"
mkdir -p "$D/reset"
printf '#!/bin/sh\nexec "%s/ikeheald" --reset-state "$@"\n' "$B" >"$D/reset/ikeheald"
chmod 0755 "$D/reset/ikeheald"
ln -s "$B/ikehealctl" "$D/reset/ikehealctl"
runs_of() { agent_ctl runs --json 2>/dev/null | python3 -c '
import json, sys
print(sum(1 for x in json.load(sys.stdin).get("runs") or [] if x["runbook"] == "fw-look"))'; }
measures_live() { agent_ctl measures --json 2>/dev/null | python3 -c '
import json, sys
print(sum(1 for x in json.load(sys.stdin).get("measures") or [] if x.get("state") == "active"))'; }

agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "the checks did not report"
gwnft add rule inet filter input udp dport { 500, 4500 } drop
agent_wait_run fw-look succeeded 20000 >/dev/null && ok "the runbook ran: its measure is in force" ||
        bad "no run: $(agent_run_of fw-look)"
[ "$(measures_live)" = 1 ] && ok "one measure in force" || bad "measures: $(agent_ctl measures all)"
agent_ctl incidents active | grep -q firewall && ok "the incident stays open (the measure does not touch the fault)" ||
        bad "incidents: $(agent_ctl incidents active)"
ls "$D/state/owed/" 2>/dev/null | grep -q '^measure-[0-9]*$' && ok "the measure has its side record" ||
        bad "no side record: $(ls -la "$D/state/owed" 2>&1)"

# the agent dies with the incident open; its engine.log is lost
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
AGENT_PID=
cp "$D/agent.log" "$D/agent-1.log"
: >"$D/state/engine.log"
agent_start "$D" "$D/c.yaml" "$D/reset" || exit 1
agent_ctl audit 100 | grep -q "recovery.*taken back from its side record" && ok "the measure is taken back from its side record" ||
        bad "audit lacks the recovery: $(agent_ctl audit 20)"
# the engine decides open incidents at the start and after every diagnosis (a check every 2 s)
sleep 5
agent_ctl incidents active | grep -q firewall && ok "the incident is still open after the restart" ||
        bad "incidents: $(agent_ctl incidents active)"
n=$(runs_of)
[ "$n" = 0 ] && ok "no new run for it while its measure is in force (runs of fw-look since the restart: $n)" ||
        bad "the runbook ran again: $n run(s): $(agent_ctl runs)"
[ "$(measures_live)" = 1 ] && ok "still one measure in force" || bad "measures: $(agent_ctl measures all)"
gwnft flush chain inet filter input
agent_stop && ok "agent stopped cleanly" || bad "agent exit status"
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D"/agent*.log && bad "sanitizer report" || ok "no sanitizer report"
testlib_end
