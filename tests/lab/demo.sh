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
  state_dir: $D/state
control:
  socket: $D/ctl.sock
charon:
  vici_socket: $GW_VICI
  reconnect_min: 50ms
  reconnect_max: 1s
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
lab_start "$D/lab" gw >/dev/null
say "charon restarted"
until_ok connected && say "agent reconnected (backoff)"
lab_disconnect "$D/lab" >/dev/null 2>&1
lab_connect "$D/lab" >/dev/null && ip netns exec "$CL_NS" ping -c1 -W2 "$LAN_IP" >/dev/null &&
        say "client re-initiated: tunnel up again, traffic flows"
sleep 0.2
ctl status | grep -E '^(Charon|IKE|CHILD|Events)' | sed 's/^/           /'
say "status as JSON (ikehealctl status --json):"
ctl status --json | sed 's/^/           /'
