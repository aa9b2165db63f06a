#!/usr/bin/env bash
# Benchmark of one full check cycle: ikeheald (plain -O2 build) on the lab with connected peers
# and every check kind configured (probe from a client namespace, firewall, daemon, conns, SAs,
# certificate, revocation, clock against a loopback SNTP server, NAT/MTU, config, logs).
# `ikehealctl diagnose` runs every check and waits for all of them; it is run CYCLES times
# (default 50) at each peer count of PEERS (default "2 20 200"). Printed per count: the agent's
# CPU time per cycle (user+system from /proc, its reaped children's included), the wall time
# per diagnose, and the agent's RSS (current and peak) — side by side with the baseline: the same checklist done the way a person
# does it by hand, with the standard tools (swanctl --list-sas/--list-conns, nft list ruleset,
# openssl x509 -checkend and verify, chronyc-less date, ls -l of the keys), CPU per cycle
# measured the same way.
#
# Peers: the lab's two clients, then more IKE_SAs (each with its CHILD_SA) from client 1, each
# under its own identity — a certificate of the lab CA on client 1's key — initiated one after
# the other (charon's per-IP half-open limits stay out of the way).
#
#   bench/check-cycle.sh [BUILD] [CYCLES] [PEERS]      (BUILD: plain build, default build/)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$top/build}
CYCLES=${2:-50}
PEERS=${3:-2 20 200}
[ "$(id -u)" = 0 ] || { echo "needs root (the lab)"; exit 1; }
. "$top/tests/lab/lab.sh"
. "$top/tests/lab/agent.sh"
D=$(mktemp -d /tmp/ikh-bench-cycle-XXXXXX)
SNTP=
cleanup() {
        set +e # every step, whatever the one before returned (a killed server's wait is 143)
        agent_stop
        [ -n "$SNTP" ] && kill "$SNTP" 2>/dev/null && wait "$SNTP" 2>/dev/null
        lab_down "$D/lab" >/dev/null 2>&1
        rm -rf "$D"
}
trap cleanup EXIT
lab_up "$D/lab" --clients 2 >/dev/null
. "$D/lab/lab.env"
lab_connect "$D/lab" 1 >/dev/null && lab_connect "$D/lab" 2 >/dev/null

. "$top/bench/lab-peers.sh"
python3 "$top/tests/tools/sntp-server.py" 0 0 >"$D/sntp.port" &
SNTP=$!
for _ in $(seq 200); do [ -s "$D/sntp.port" ] && break; sleep 0.05; done
port=$(cat "$D/sntp.port")
cat >"$D/c.yaml" <<YAML
agent:
  log_level: warning
  state_dir: $D/state
control:
  socket: $D/ctl.sock
charon:
  vici_socket: $GW_VICI
  unit: none
check_defaults: {interval: 1h, timeout: 5s, rise: 1, fall: 1}
checks:
  - kind: ike_probe
    params: {targets: [$GW_IP], netns: $CL_NS_2, timeout: 500ms}
  - kind: firewall
    params: {netns: $GW_NS}
  - kind: daemon
  - kind: conns
  - kind: sas
  - kind: certificate
    params: {swanctl_dir: $GW_SWANCTL_DIR}
  - kind: revocation
    params: {swanctl_dir: $GW_SWANCTL_DIR}
  - kind: clock
    params: {servers: ["127.0.0.1:$port"], require_sync: false}
  - kind: nat_mtu
  - kind: config
    params: {swanctl_dir: $GW_SWANCTL_DIR, strongswan_conf: $(dirname "$GW_SWANCTL_DIR")/strongswan.conf}
  - kind: logs
YAML
agent_start "$D" "$D/c.yaml" "$B"
agent_wait_checks 10000
agent_ctl diagnose >/dev/null
ticks=$(getconf CLK_TCK)
# the agent's own CPU and its children's once reaped (the certificate check surveys in a child)
cpu() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }

# the baseline: the checklist by hand, as a shell script, CYCLES times; its own CPU (children)
cat >"$D/manual.sh" <<SH
swanctl --list-sas --uri "$GW_URI" >/dev/null
swanctl --list-conns --uri "$GW_URI" >/dev/null
ip netns exec "$GW_NS" nft list ruleset >/dev/null
openssl x509 -in "$GW_SWANCTL_DIR/x509/gw.pem" -noout -checkend 2592000 >/dev/null
openssl verify -CAfile "$GW_SWANCTL_DIR/x509ca/ca.pem" "$GW_SWANCTL_DIR/x509/gw.pem" >/dev/null
ls -l "$GW_SWANCTL_DIR/private" >/dev/null
sha256sum "$GW_SWANCTL_DIR/swanctl.conf" >/dev/null
tail -n 200 "$GW_LOG" | grep -cE 'AUTHENTICATION_FAILED|NO_PROPOSAL_CHOSEN|TS_UNACCEPTABLE' >/dev/null || true
date >/dev/null
SH

one_count() { # PEERS
        local c0 c1 t0 t1 m0 m1 rss hwm checks manual_cpu_ms
        c0=$(cpu "$AGENT_PID")
        t0=$(date +%s%N)
        for ((i = 0; i < CYCLES; i++)); do
                agent_ctl diagnose --json | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["complete"] is True else 1)' \
                        || { echo "diagnose incomplete"; exit 1; }
        done
        t1=$(date +%s%N)
        c1=$(cpu "$AGENT_PID")
        rss=$(awk '/^VmRSS/ {print $2}' "/proc/$AGENT_PID/status")
        hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$AGENT_PID/status")
        checks=$(agent_ctl checks --json | python3 -c 'import json,sys; print(len({str(x["name"]): x for x in json.load(sys.stdin)["checks"] or []}))')

        m0=$(date +%s%N)
        bash -c "for ((i = 0; i < $CYCLES; i++)); do bash '$D/manual.sh'; done; times" >"$D/times" 2>&1
        m1=$(date +%s%N)
        # `times`: second line is the children's user and system time, e.g. "0m1.234s 0m0.567s"
        manual_cpu_ms=$(sed -n 2p "$D/times" | python3 -c 'import re,sys
t=re.findall(r"(\d+)m([\d.]+)s", sys.stdin.read())
print(int(sum(int(m)*60000+float(s)*1000 for m,s in t)))')

        python3 - "$1" "$CYCLES" "$checks" "$((c1 - c0))" "$ticks" "$(((t1 - t0) / 1000000))" "$rss" "$hwm" \
                "$manual_cpu_ms" "$(((m1 - m0) / 1000000))" <<'PY'
import sys
peers, cycles, checks, dticks, hz, wall, rss, hwm, mcpu, mwall = map(int, sys.argv[1:])
ours = dticks * 1000 / hz / cycles
print(f"{peers} peers: {cycles} full cycles of {checks} checks (ikehealctl diagnose, each waiting for every check)")
print(f"  ikeheald     : {ours:7.2f} ms CPU per cycle, {wall / cycles:7.1f} ms wall per diagnose; RSS {rss} KiB (peak {hwm} KiB)")
print(f"  by hand (sh) : {mcpu / cycles:7.2f} ms CPU per cycle, {mwall / cycles:7.1f} ms wall (swanctl, nft, openssl, grep; fewer checks)")
print(f"  ratio CPU by-hand/ikeheald: {mcpu / max(dticks * 1000 / hz, 1):.1f}")
PY
}

echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
have=2
for n in $PEERS; do
        add_peers "$have" "$n" || exit 1
        [ "$n" -gt "$have" ] && have=$n
        sas=$(lab_swanctl "$D/lab" gw --list-sas 2>/dev/null | grep -c ESTABLISHED || true)
        [ "$sas" -ge "$n" ] || { echo "only $sas IKE_SAs up at the gateway, wanted $n"; exit 1; }
        agent_ctl diagnose >/dev/null # the new peers seen once before the timed cycles
        one_count "$n"
done
