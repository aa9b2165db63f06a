#!/usr/bin/env bash
# A drill's fault goes by its deadline whatever happens to the agent (real lab, sanitizer build).
#
#   SIGKILL, restart after the deadline   config_swap (a syntax error) whose runbook waits for an
#                                         approval nobody gives: the agent is killed mid-drill,
#                                         the file stays broken while it is down; restarted after
#                                         the deadline, it restores the file byte for byte at once
#                                         (figure: ms from restart to removal), drill "aborted"
#   SIGKILL, restart before the deadline  the fault is removed at the restart, before its deadline
#   SIGKILL, agent stays down             nft_drop (no firewall check: nothing heals it first): the
#                                         kernel's element timeouts remove the fault on time with
#                                         no agent at all (the client connects)
#   removal fails                         charon down when the drill is aborted: the removal
#                                         fails, is retried with backoff (no other drill starts
#                                         meanwhile) and succeeds once charon is back
#   SIGTERM mid-drill                     the fault is removed before the agent exits
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-drcrash-XXXXXX)
trap 'agent_stop; lab_down "$D/lab" >/dev/null 2>&1; rm -rf "$D"' EXIT
trap 'exit 1' INT TERM HUP
now_ms() { echo $(($(date +%s%N) / 1000000)); }

lab_up "$D/lab" --clients 1 >/dev/null || { echo "FAIL lab did not come up"; exit 1; }
. "$D/lab/lab.env"
mkdir -p "$D/drills"
drill_yaml() { # NAME KIND PARAMS EXPIRES RUNBOOK CLASS
        cat >"$D/drills/$1.yaml" <<YAML
version: 1
name: $1
description: "crash test: $2"
steady_state: {checks: [config]}
fault:
  kind: $2
  params: $3
  expires_in: $4
expect:
  class: $6
  runbook: $5
  detect_within: 2s
  recover_within: $4
YAML
}
# recover_within is the fault's whole life: these cases end the drill themselves (a kill, an
# abort, a SIGTERM), never by its SLO giving up
drill_yaml syntax-20s config_swap "{append: \"ikeheal-drill-crash {\"}" 20s config-rollback daemon_config
drill_yaml syntax-60s config_swap "{append: \"ikeheal-drill-crash {\"}" 60s config-rollback daemon_config
# nothing checks the firewall here (so nothing heals the drop before the SIGKILL): the
# injector is told the gateway's namespace itself
drill_yaml drop-8s nft_drop "{udp_ports: [500, 4500], netns: $GW_NS}" 8s firewall-restore firewall
{ agent_yaml_head "$D" "$top/runbooks"; cat <<YAML
checks:
  - kind: config
    params: {swanctl_dir: $GW_SWANCTL_DIR, strongswan_conf: $GW_CONF}
  - kind: conns
drills:
  enabled: true
  dirs: [$D/drills]
YAML
} >"$D/c.yaml"
cp "$GW_SWANCTL_CONF" "$D/good.conf"
start() { agent_start "$D" "$D/c.yaml" "$B" && agent_wait_checks 8000; }
kill9() { kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; AGENT_PID=; }
last() { # field of the newest drill record
        agent_ctl drill report --json | python3 -c 'import json,sys; h={str(x["id"]): x for x in json.load(sys.stdin)["history"] or []}; d=h[max(h, key=int)]
v=d
for k in sys.argv[1].split("."): v=v[k]
print(v)' "$1"
}
broken() { grep -q "ikeheal-drill-crash" "$GW_SWANCTL_CONF"; }
run_drill() { # NAME: start it, retrying while the gateway settles after the previous case (30 s)
        local out
        for _ in $(seq 150); do
                out=$(agent_ctl drill run "$1" 2>&1) && return 0
                sleep 0.2
        done
        bad "drill $1 not started: $out"
        return 1
}
start || exit 1

# --- SIGKILL, restart after the deadline -----------------------------------------------------
run_drill syntax-20s && ok "drill started (fault: a syntax error, deadline 20 s)"
t0=$(now_ms)
for _ in $(seq 50); do broken && break; sleep 0.1; done
broken && ok "fault in place" || bad "no fault"
for _ in $(seq 50); do [ -n "$(agent_run_of config-rollback)" ] && break; sleep 0.1; done
r=$(agent_run_of config-rollback | cut -d' ' -f2)
kill9
[ "$r" = pending ] && ok "agent SIGKILLed mid-drill (config-rollback pending, no approval given)" || bad "config-rollback: '$r', not pending"
sleep 2
broken && ok "while the agent is down the fault stays (it is not magic)" || bad "fault gone without the agent?"
while [ $(($(now_ms) - t0)) -lt 21000 ]; do sleep 0.2; done
t1=$(now_ms)
start || bad "agent did not restart"
for _ in $(seq 100); do cmp -s "$D/good.conf" "$GW_SWANCTL_CONF" && break; sleep 0.02; done
t2=$(now_ms)
cmp -s "$D/good.conf" "$GW_SWANCTL_CONF" && ok "restarted $((t1 - t0)) ms after injection (past the 20 s deadline): swanctl.conf restored byte for byte $((t2 - t1)) ms after the restart" ||
        bad "swanctl.conf not restored after the restart"
for _ in $(seq 50); do [ "$(last phase)" = aborted ] && break; sleep 0.1; done
[ "$(last phase)" = aborted ] && [ "$(last fault.state)" = removed ] && ok "drill recorded: aborted, $(last note | cut -c1-90)" ||
        bad "record: $(last phase) $(last fault.state) $(last note)"
agent_ctl audit 200 | grep -q "recovery.*drill [0-9]* (syntax-20s) interrupted" && ok "audit: the recovery is recorded" || bad "audit lacks the recovery"
r=$(agent_run_of config-rollback); [ "$(cut -d' ' -f2 <<<"$r")" = pending ] && agent_ctl deny "${r%% *}" --reason test >/dev/null 2>&1
agent_wait_resolved daemon_config 30000 >/dev/null || bad "daemon_config still active"

# --- SIGKILL, restart before the deadline ----------------------------------------------------
run_drill syntax-60s
for _ in $(seq 50); do broken && break; sleep 0.1; done
broken || bad "no fault for the restart-before-deadline case"
t0=$(now_ms)
kill9
start || bad "agent did not restart"
for _ in $(seq 100); do cmp -s "$D/good.conf" "$GW_SWANCTL_CONF" && break; sleep 0.02; done
cmp -s "$D/good.conf" "$GW_SWANCTL_CONF" && ok "restart $(($(now_ms) - t0)) ms after a SIGKILL: fault removed at once, 60 s before its deadline" ||
        bad "fault not removed at the restart"
r=$(agent_run_of config-rollback); [ "$(cut -d' ' -f2 <<<"$r")" = pending ] && agent_ctl deny "${r%% *}" --reason test >/dev/null 2>&1
agent_wait_resolved daemon_config 30000 >/dev/null || bad "daemon_config still active"

# --- SIGKILL, the agent stays down: nftables expires the fault itself -------------------------
lab_disconnect "$D/lab" 1 >/dev/null 2>&1 # the client starts from nothing (a DELETE through the drop would hang)
run_drill drop-8s
t0=$(now_ms)
for _ in $(seq 50); do ip netns exec "$GW_NS" nft list set inet ikeheal_drill ports 2>/dev/null | grep -q 4500 && break; sleep 0.05; done
ip netns exec "$GW_NS" nft list set inet ikeheal_drill ports 2>/dev/null | grep -q 4500 ||
        bad "no drop in place: drill $(last phase): $(last note)"
kill9
# the attempt must end before the elements time out (8 s after injection) to say anything
t1=$(now_ms)
if LAB_CONNECT_TIMEOUT=2 lab_connect "$D/lab" 1 >/dev/null 2>&1; then
        [ $(($(now_ms) - t0)) -lt 8000 ] && bad "the client connected through the drop" ||
                echo "note: the connect attempt began $((t1 - t0)) ms after injection and ended after the deadline: nothing shown"
else
        ok "agent dead, UDP 500/4500 dropped: the client cannot connect"
fi
while [ $(($(now_ms) - t0)) -lt 8500 ]; do sleep 0.1; done
els=$(ip netns exec "$GW_NS" nft list set inet ikeheal_drill ports 2>/dev/null | grep -c 'elements')
lab_disconnect "$D/lab" 1 >/dev/null 2>&1 # the failed attempt's half-open IKE_SA would swallow the next initiate
lab_connect "$D/lab" 1 >/dev/null 2>&1 && ok "$(($(now_ms) - t0)) ms after injection, agent still down: the kernel timed the elements out, the client connects" ||
        bad "the client still cannot connect after the deadline (set lines with elements: $els): $(tail -4 "$D/lab/cl1/initiate.log" | tr '\n' '|')"
start || bad "agent did not restart"
for _ in $(seq 100); do ip netns exec "$GW_NS" nft list table inet ikeheal_drill >/dev/null 2>&1 || break; sleep 0.05; done
ip netns exec "$GW_NS" nft list table inet ikeheal_drill >/dev/null 2>&1 && bad "the empty drill table is left" ||
        ok "restarted: the emptied drill table removed too"

# --- a removal that fails is tried again -----------------------------------------------------
run_drill syntax-60s
for _ in $(seq 50); do broken && break; sleep 0.1; done
lab_stop "$D/lab" gw >/dev/null 2>&1 # charon down: the restored file cannot be loaded
agent_ctl drill abort --reason "test: removal while charon is down" >/dev/null 2>&1 || bad "abort refused"
# (what the assertion reads, polled: the drill in progress, not the newest finished one)
active_fault() { agent_ctl drill status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["active"]["fault"]["state"])' 2>/dev/null; }
t0=$(now_ms)
until [ "$(active_fault)" = revert_failed ] || [ $(($(now_ms) - t0)) -gt 20000 ]; do sleep 0.1; done
[ "$(active_fault)" = revert_failed ] &&
        ok "charon down: the removal failed, the drill stays in progress (revert_failed)" || bad "no failed removal: $(agent_ctl drill status 2>&1 | head -5)"
agent_ctl drill run syntax-20s >/dev/null 2>&1 && bad "a second drill started while a fault is stuck" || ok "no other drill starts meanwhile"
lab_start "$D/lab" gw >/dev/null 2>&1 || bad "gateway charon did not start again"
for _ in $(seq 200); do [ "$(last fault.state)" = removed ] && break; sleep 0.1; done
[ "$(last phase)" = aborted ] && [ "$(last fault.state)" = removed ] && cmp -s "$D/good.conf" "$GW_SWANCTL_CONF" &&
        last note | grep -q "could not be removed at the first attempt" &&
        ok "charon back: the retry removed the fault, byte for byte; $(last note | cut -c1-100)" ||
        bad "after the retry: $(last phase) $(last fault.state) $(last note)"
r=$(agent_run_of config-rollback); [ "$(cut -d' ' -f2 <<<"$r")" = pending ] && agent_ctl deny "${r%% *}" --reason test >/dev/null 2>&1
agent_wait_resolved daemon_config 30000 >/dev/null || bad "daemon_config still active"

# --- SIGTERM mid-drill -----------------------------------------------------------------------
run_drill syntax-60s
for _ in $(seq 50); do broken && break; sleep 0.1; done
broken || bad "no fault for the SIGTERM case"
agent_stop && ok "SIGTERM: the agent stopped cleanly" || bad "agent exit status"
cmp -s "$D/good.conf" "$GW_SWANCTL_CONF" && ok "SIGTERM mid-drill: the fault was removed before the agent exited" || bad "fault left after SIGTERM"
grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error" "$D/agent.log" && bad "sanitizer report" || ok "no sanitizer report"
testlib_end
