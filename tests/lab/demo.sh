#!/usr/bin/env bash
# `make demo`: the built-in lab with a real ikeheald watching it, told with timestamps.
# Today it shows the foundation: the agent talks VICI to the lab gateway's charon, sees the
# client's tunnel come up as pushed events, sees charon die and come back. The healing story
# (firewall drop → restore, certificate → standby, PSK expiry) joins as the runbook and action
# issues land. Everything is cleaned up on exit.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build}; case $B in /*) ;; *) B=$top/$B ;; esac
. "$top/tests/lab/lab.sh"
D=$(mktemp -d /tmp/ikh-demo-XXXXXX)
AP=
t0=$(date +%s%N)
say() { printf '[%7.3fs] %s\n' "$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN{print (b-a)/1e9}')" "$*"; }
cleanup() {
        [ -n "$AP" ] && kill "$AP" 2>/dev/null && wait "$AP" 2>/dev/null
        lab_down "$D/lab" >/dev/null 2>&1
        rm -rf "$D"
        say "lab torn down, nothing left behind"
}
trap cleanup EXIT
ctl() { "$B/ikehealctl" --socket "$D/ctl.sock" "$@"; }
until_ok() { for _ in $(seq 250); do "$@" >/dev/null 2>&1 && return 0; sleep 0.02; done; return 1; }
connected() { ctl status --json | grep -q '"state": "connected"'; }
disconnected() { ctl status --json | grep -q '"state": "disconnected"'; }

say "bringing up the lab: gateway + 1 client in network namespaces, real strongSwan, real PKI"
lab_up "$D/lab" >/dev/null || exit 1
. "$D/lab/lab.env"
say "lab up: gateway $GW_IP (ns $GW_NS), client $CL_IP (ns $CL_NS), LAN $LAN_IP"
cat >"$D/ikeheal.yaml" <<YAML
agent:
  log_level: notice
  state_dir: $D/state
control:
  socket: $D/ctl.sock
charon:
  vici_socket: $GW_VICI
  reconnect_min: 50ms
  reconnect_max: 1s
  unit: none
check_defaults: {interval: 5s, timeout: 3s, rise: 1, fall: 1}
checks:
  - kind: ike_probe
    params: {targets: [$GW_IP], netns: $CL_NS, timeout: 500ms}
  - kind: firewall
    params: {netns: $GW_NS}
  - kind: daemon
  - kind: conns
  - kind: sas
  - kind: certificate
    params: {swanctl_dir: $GW_SWANCTL_DIR}
  - kind: logs
YAML
chmod 0644 "$D/ikeheal.yaml"
"$B/ikeheald" -c "$D/ikeheal.yaml" --log-target=stderr 2> >(sed 's/^/           agent | /') &
AP=$!
until_ok connected || { say "agent did not connect"; exit 1; }
say "ikeheald running (pid $AP), connected to the gateway's charon:"
ctl status | sed 's/^/           /'

say "client initiates its tunnel"
lab_connect "$D/lab" >/dev/null || { say "client could not connect"; exit 1; }
ip netns exec "$CL_NS" ping -c1 -W2 "$LAN_IP" >/dev/null && say "traffic flows through the tunnel to $LAN_IP"
sleep 0.2
ctl status | grep -E '^(IKE|CHILD|Events)' | sed 's/^/           /'

say "fault: the gateway's charon is killed (SIGKILL)"
kill -KILL "$GW_PID"; wait "$GW_PID" 2>/dev/null
until_ok disconnected && say "agent saw charon vanish (VICI socket EOF, no polling)"
until_ok sh -c "'$B/ikehealctl' --socket '$D/ctl.sock' incidents active | grep -q daemon" &&
        say "incident opened (ikehealctl incidents active):"
ctl incidents active | sed 's/^/           /'
lab_start "$D/lab" gw >/dev/null
say "charon restarted"
until_ok connected && say "agent reconnected (backoff)"
lab_disconnect "$D/lab" >/dev/null 2>&1
lab_connect "$D/lab" >/dev/null && ip netns exec "$CL_NS" ping -c1 -W2 "$LAN_IP" >/dev/null &&
        say "client re-initiated: tunnel up again, traffic flows"
sleep 0.2
ctl status | grep -E '^(Charon|IKE|CHILD|Events)' | sed 's/^/           /'
until_ok sh -c "! '$B/ikehealctl' --socket '$D/ctl.sock' incidents active | grep -q daemon" &&
        say "the daemon incident is resolved: charon answers again"

say "fault: a firewall change drops UDP 4500 on the gateway (nftables, a second base chain)"
ip netns exec "$GW_NS" nft -f - <<NFT
table inet demo_tightened { chain input { type filter hook input priority -5; udp dport 4500 drop; }; }
NFT
until_ok sh -c "'$B/ikehealctl' --socket '$D/ctl.sock' incidents active | grep -q firewall" &&
        say "incident opened; the triage report (ikehealctl diagnose):"
ctl diagnose | sed 's/^/           /'
ip netns exec "$GW_NS" nft delete table inet demo_tightened
say "the rule is removed (by hand, until the runbook issue lands)"
until_ok sh -c "! '$B/ikehealctl' --socket '$D/ctl.sock' incidents active | grep -q firewall" &&
        say "firewall incident resolved"
say "incidents so far (kept in the state log, across agent restarts):"
ctl incidents | sed 's/^/           /'
