#!/usr/bin/env bash
# `make demo`: the built-in lab with a real ikeheald and the shipped runbooks, told with
# timestamps. charon dies and comes back (detection); the seeds' case study — an update tightens
# the firewall, UDP 4500 is dropped — is detected and healed by the firewall-restore runbook, and
# the client's tunnel comes back; the gateway's certificate expires and the agent proposes the
# standby certificate, which the demo approves; then, with no last-good ruleset to go back to, the agent
# proposes opening the ports at approve grade, the demo approves through ikehealctl, and the
# temporary measure is reverted on time (its expiry shortened for the demo), its incident going
# to a human. It ends with the audit trail verified and where the time went. Everything is
# cleaned up on exit. Last, a client loses its certificate: a temporary PSK fallback for that
# client is approved, its secret handed out with `ikehealctl psk show`, and it is removed on
# time (15 s in the demo).
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
mkdir -p "$D/runbooks"
sed -e "s/peers: \[client1.example.org\]/peers: [$CL_ID_1]/" -e 's/expires_in: 4h/expires_in: 15s/' \
        "$top/runbooks/examples/psk-fallback.yaml" >"$D/runbooks/psk-fallback.yaml"
mkdir -p "$GW_SWANCTL_DIR/conf.d" && echo 'include conf.d/*.conf' >>"$GW_SWANCTL_DIR/swanctl.conf"
# the shipped runbooks, with demo timings: a 20 s measure and a short cooldown
mkdir -p "$D/runbooks"
cp "$top"/runbooks/*.yaml "$D/runbooks/"
sed -i 's/expires_in: 1h/expires_in: 20s/' "$D/runbooks/firewall-open-ports.yaml"
sed -i 's/cooldown: 2m/cooldown: 5s/' "$D/runbooks/firewall-restore.yaml"
# the PSK fallback example, for the lab's client and with a 15 s expiry
cat >"$D/ikeheal.yaml" <<YAML
agent:
  log_level: notice
  state_dir: $D/state
  last_good_after: 2s
  runbook_dirs: [$D/runbooks]
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
    params: {swanctl_dir: $GW_SWANCTL_DIR, standby: [$STANDBY_DIR/gw-standby.pem, $STANDBY_DIR/gw-standby.key]}
  - kind: config
    params: {swanctl_dir: $GW_SWANCTL_DIR, strongswan_conf: $GW_CONF}
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
say "(the lab's charon runs under no systemd unit, so the daemon-restart runbook hands it to a human;"
say " under real systemd the agent restarts the unit itself: tests/integration/systemd-agent.sh)"
lab_start "$D/lab" gw >/dev/null
say "charon restarted by hand"
until_ok connected && say "agent reconnected (backoff)"
lab_disconnect "$D/lab" >/dev/null 2>&1
lab_connect "$D/lab" >/dev/null && ip netns exec "$CL_NS" ping -c1 -W2 "$LAN_IP" >/dev/null &&
        say "client re-initiated: tunnel up again, traffic flows"
sleep 0.2
ctl status | grep -E '^(Charon|IKE|CHILD|Events)' | sed 's/^/           /'
until_ok sh -c "! '$B/ikehealctl' --socket '$D/ctl.sock' incidents active | grep -q daemon" &&
        say "the daemon incident is resolved: charon answers again"

ms() { local t; t=$(date +%s%N); echo $((t / 1000000)); }
run_state() { ctl runs --json | python3 -c '
import json, sys
r = {str(x["id"]): x for x in json.load(sys.stdin).get("runs") or []}
for k in sorted(r, key=lambda x: -int(x)):
    if r[k]["runbook"] == sys.argv[1]:
        print(k, r[k]["state"], r[k].get("plan_hash", "")); break' "$1"; }
wait_run() { for _ in $(seq 600); do [ "$(run_state "$1" | cut -d' ' -f2)" = "$2" ] && return 0; sleep 0.05; done; return 1; }

until_ok test -s "$D/state/snapshots/firewall.nft.hash" && say "healthy for 2 s (30 s by default): the agent keeps the last-good nftables ruleset"
lab_disconnect "$D/lab" >/dev/null 2>&1
say "── the case study: an unattended update tightens the firewall: UDP 4500 dropped"
T0=$(ms)
ip netns exec "$GW_NS" nft -f - <<NFT
table inet vendor_hardening {
        chain input {
                type filter hook input priority -5; policy accept;
                udp dport 4500 drop
        }
}
NFT
until_ok sh -c "'$B/ikehealctl' --socket '$D/ctl.sock' incidents active | grep -q firewall"
T1=$(ms); say "detected: firewall incident (nftables push)"
wait_run firewall-restore succeeded
T2=$(ms); say "healed: runbook firewall-restore (auto) put the last-good ruleset back in one transaction, verified"
ctl runs | sed -n '1,12p' | sed 's/^/           /'
lab_connect "$D/lab" >/dev/null && ip netns exec "$CL_NS" ping -c1 -W2 "$LAN_IP" >/dev/null
T3=$(ms); say "the client's tunnel is up again, traffic flows to $LAN_IP"
until_ok sh -c "! '$B/ikehealctl' --socket '$D/ctl.sock' incidents active | grep -q firewall" && say "incident resolved"

say "── the gateway's certificate expires (a real expired certificate, loaded into charon)"
lab_disconnect "$D/lab" >/dev/null 2>&1
T8=$(ms)
lab_gw_cert "$D/lab" expired >/dev/null
lab_connect "$D/lab" >/dev/null 2>&1 || say "the client cannot authenticate the gateway any more"
wait_run cert-standby pending
T9=$(ms); say "detected; the agent proposes the standby certificate at approve grade:"
ctl pending | sed -n '1,16p' | sed 's/^/           /'
set -- $(run_state cert-standby)
say "the operator approves: ikehealctl approve $1 ${3:0:16}"
ctl approve "$1" "${3:0:16}" | sed 's/^/           /'
wait_run cert-standby succeeded
T10=$(ms); say "standby validated and swapped in, credentials and connections reloaded"
lab_connect "$D/lab" >/dev/null && ip netns exec "$CL_NS" ping -c1 -W2 "$LAN_IP" >/dev/null &&
        say "the client's tunnel is up again with the standby certificate"
T11=$(ms)
until_ok sh -c "! '$B/ikehealctl' --socket '$D/ctl.sock' incidents active | grep -q certificate" && say "certificate incident resolved"

say "── no last-good ruleset this time (as on a gateway where ikeheal arrived after the change)"
rm -f "$D"/state/snapshots/firewall.nft.*
lab_disconnect "$D/lab" >/dev/null 2>&1
sleep 5 # firewall-restore's (demo) cooldown
T4=$(ms)
ip netns exec "$GW_NS" nft -f - <<NFT
table inet vendor_hardening {
        chain input {
                type filter hook input priority -5; policy accept;
                udp dport 4500 drop
        }
}
NFT
wait_run firewall-open-ports pending
T5=$(ms); say "restore impossible → escalated to firewall-open-ports, which waits for an approver:"
ctl pending | sed 's/^/           /'
set -- $(run_state firewall-open-ports)
say "the operator approves the plan it read: ikehealctl approve $1 ${3:0:16}"
ctl approve "$1" "${3:0:16}" | sed 's/^/           /'
wait_run firewall-open-ports succeeded
T6=$(ms); say "ports opened: tagged accept rules at the top of the dropping chain, a temporary measure:"
ctl measures | sed 's/^/           /'
lab_connect "$D/lab" >/dev/null && ip netns exec "$CL_NS" ping -c1 -W2 "$LAN_IP" >/dev/null &&
        say "the client's tunnel is up through the opened ports"
until_ok_long() { for _ in $(seq 900); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done; return 1; }
until_ok_long sh -c "'$B/ikehealctl' --socket '$D/ctl.sock' measures all | grep -q reverted"
T7=$(ms); say "the measure expired and was reverted on time (the tagged rules are gone):"
ctl measures all | sed 's/^/           /'
until_ok_long sh -c "'$B/ikehealctl' --socket '$D/ctl.sock' incidents active | grep -q escalated" &&
        say "the fault it papered over is back: the incident goes to a human, the measure is not re-applied"
ctl incidents active | sed 's/^/           /'
ip netns exec "$GW_NS" nft delete table inet vendor_hardening
until_ok_long sh -c "! '$B/ikehealctl' --socket '$D/ctl.sock' incidents active | grep -q firewall" &&
        say "the human removes the offending table for good; the firewall incident is resolved"

say "── a client loses its certificate (it now only has a key the gateway does not know)"
lab_disconnect "$D/lab" >/dev/null 2>&1
T12=$(ms)
lab_set_psk "$D/lab" 1 "a-secret-the-gateway-never-had" >/dev/null
lab_connect "$D/lab" >/dev/null 2>&1 || say "the client fails to authenticate"
wait_run psk-fallback pending
T13=$(ms); say "the agent proposes a temporary PSK fallback for that client only, at approve grade"
set -- $(run_state psk-fallback)
say "the operator approves: ikehealctl approve $1 ${3:0:16}"
ctl approve "$1" "${3:0:16}" | sed 's/^/           /'
wait_run psk-fallback succeeded
M=$(ctl measures --json | python3 -c 'import json,sys; m={str(x["id"]): x for x in json.load(sys.stdin)["measures"] or []}; print(max(m, key=int))')
SECRET=$(ctl psk show "$M")
T14=$(ms); say "fallback loaded; the approver reads the secret (ikehealctl psk show $M, audited) and gives it to the client"
lab_set_psk "$D/lab" 1 "0s$SECRET" >/dev/null
lab_connect "$D/lab" >/dev/null && ip netns exec "$CL_NS" ping -c1 -W2 "$LAN_IP" >/dev/null &&
        say "the client's tunnel is up on the PSK fallback"
ctl measures | sed 's/^/           /'
lab_disconnect "$D/lab" >/dev/null 2>&1
until_ok_long sh -c "'$B/ikehealctl' --socket '$D/ctl.sock' measures all | grep -q 'psk_temp .*reverted'"
T15=$(ms); say "15 s later the PSK fallback expired: removed from disk and unloaded from charon, on time"
lab_connect "$D/lab" >/dev/null 2>&1 || say "the client's temporary secret no longer works: a bypass never stays for good"

ctl pause --reason "end of the demo" >/dev/null

say "── the audit trail (last records) and its verification"
ctl audit 12 | sed 's/^/           /'
kill "$AP" 2>/dev/null && wait "$AP" 2>/dev/null; AP=
"$B/ikehealctl" audit verify "$D/state/audit.log" | sed 's/^/           /'
say "where the time went:"
printf '           case study: detect %5d ms, restore+verify %5d ms, client reconnect %5d ms\n' $((T1 - T0)) $((T2 - T1)) $((T3 - T2))
printf '           certificate: expiry → standby proposed %5d ms, approval → swapped and reloaded %5d ms, client reconnect %5d ms\n' \
        $((T9 - T8)) $((T10 - T9)) $((T11 - T10))
printf '           psk fallback: failure → proposed %5d ms, approval → loaded %5d ms, loaded → removed at expiry %5d ms\n' \
        $((T13 - T12)) $((T14 - T13)) $((T15 - T14))
printf '           escalation: fault → approval requested %5d ms, approval → ports open %5d ms, open → reverted at expiry %5d ms\n' \
        $((T5 - T4)) $((T6 - T5)) $((T7 - T6))
