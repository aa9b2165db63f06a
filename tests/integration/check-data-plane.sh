#!/usr/bin/env bash
# The tunnels check's data plane, passive, on the site-to-site lab (tests/lab/s2s.sh): per
# CHILD_SA counters and last use from list-sas. With traffic flowing (a ping from site A to
# site B), ESP dropped on the path while IKE still passes makes the tunnel one-way: a tunnel
# incident (reason one_way) with the counters as evidence — not the firewall of this host, not
# the daemon — resolved when ESP passes again. A tunnel listed in `traffic` that stays idle for
# idle_max is a warning (reason no_traffic).
set -u
. "$(dirname "$0")/../lab/testlib.sh"
. "$top/tests/lab/s2s.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-dp-XXXXXX)
PING_PID=
cleanup() {
        [ -n "$PING_PID" ] && kill "$PING_PID" 2>/dev/null && wait "$PING_PID" 2>/dev/null
        agent_stop
        lab_down "$D/lab" >/dev/null 2>&1
        [ -n "${KEEP:-}" ] || rm -rf "$D"
}
trap cleanup EXIT

s2s_up "$D/lab" >/dev/null || { echo "s2s lab did not come up"; exit 1; }
. "$D/lab/lab.env"
{
        agent_yaml_head "$D"
        cat <<YAML
checks:
  - kind: daemon
    params: {pidfile: $GW_PIDFILE}
  - kind: firewall
    params: {netns: $GW_NS}
  - kind: sas
  - kind: tunnels
    params: {swanctl_conf: $GW_SWANCTL_CONF, grace: 500ms, one_way_after: 3s, traffic: [$S2S_CONN/$S2S_CHILD], idle_max: 6s}
YAML
} >"$D/c.yaml"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "checks did not all report"
fact() { # CHECK KEY
        agent_ctl checks "$1" --json 2>/dev/null | python3 -c 'import json,sys
d={str(x["name"]): x for x in json.load(sys.stdin)["checks"] or []}[sys.argv[1]]
print(str(d.get("facts",{}).get(sys.argv[2],"")))' "$1" "$2"
}

ip netns exec "$S2S_SITE_A_NS" ping -n -q -i 0.2 "$S2S_SITE_B" >/dev/null 2>&1 &
PING_PID=$!
sleep 2
grep -q "in=[1-9]" <<<"$(fact tunnels "$S2S_CONN/$S2S_CHILD.counters")" && ok "counters read: $(fact tunnels "$S2S_CONN/$S2S_CHILD.counters")" ||
        bad "counters: '$(fact tunnels "$S2S_CONN/$S2S_CHILD.counters")'"

t0=$(date +%s%N)
s2s_fault "$D/lab" esp on
out=$(agent_wait_incident tunnel - 20000) && ok "ESP dropped on the path: $(sed 's/ opened_usec=.*//' <<<"$out")" || bad "no tunnel incident"
echo "figure: ESP dropped → one-way incident in $((($(date +%s%N) - t0) / 1000000)) ms (one_way_after 3 s)"
grep -q "reason=one_way" <<<"$out" && ok "reason one_way" || bad "reason: $out"
agent_ctl incidents active --json | grep -q "outbound grows" && ok "the counters are the evidence: $(agent_ctl incidents active --json | grep -o '[^"]*one-way for[^"]*' | head -1)" ||
        bad "no counters in the incident"
agent_ctl incidents active --json | grep -qE '"class": "(firewall|daemon)"' && bad "blamed on this host's firewall or the daemon" ||
        ok "not this host's firewall, not the daemon"
s2s_tunnel_up "$D/lab" && ok "the tunnel itself stays up (IKE passes)" || bad "the tunnel fell"
s2s_fault "$D/lab" esp off
out=$(agent_wait_resolved tunnel 20000) && ok "ESP back: resolved ($out)" || bad "one-way not resolved"

kill "$PING_PID" && wait "$PING_PID" 2>/dev/null
PING_PID=
reason_is() { [ "$(fact tunnels reason)" = "$1" ]; }
end=$(($(date +%s) + 20))
until reason_is no_traffic || [ "$(date +%s)" -ge $end ]; do sleep 0.2; done
reason_is no_traffic && ok "idle past idle_max: $(agent_ctl checks tunnels --json | python3 -c 'import json,sys; print({str(x["name"]): x for x in json.load(sys.stdin)["checks"] or []}["tunnels"]["summary"])')" ||
        bad "no no_traffic finding: reason '$(fact tunnels reason)'"
testlib_end
