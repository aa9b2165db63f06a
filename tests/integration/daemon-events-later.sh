#!/usr/bin/env bash
# The daemon check alone, as in the defaults: the only listener of charon's events is one that
# can wait for its next request, so the agent leaves them in the VICI socket instead of waking
# for each (common/vici.h, vici_client_defer_events). What that must not change, on the real lab:
#   idle                 charon's log lines still arrive (at the heartbeat's answer)
#   SIGTERM              "stopped (orderly shutdown)"
#   SIGKILL              "died without shutting down", seen at once: the close (EPOLLRDHUP,
#                        EPOLLHUP) wakes the agent while the events wait
# Exit 0 pass, 1 fail.
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-evlater-XXXXXX)
cleanup() {
        agent_stop
        lab_down "$D/lab" >/dev/null 2>&1
        [ -n "${IKH_KEEP:-}" ] && echo "kept $D" || rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

lab_up "$D/lab" --clients 1 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"

cat >"$D/c.yaml" <<YAML
agent:
  state_dir: $D/state
  last_good_after: 0s
control:
  socket: $D/ctl.sock
charon:
  vici_socket: $GW_VICI
  reconnect_min: 50ms
  reconnect_max: 400ms
  unit: none
checks:
  - kind: daemon
    interval: 1h
    params: {pidfile: $D/lab/gw/charon.pid}
YAML
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "the daemon check did not report"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
status_of() { agent_ctl checks daemon --json 2>/dev/null | python3 -c 'import json,sys
c={str(x["name"]): x for x in json.load(sys.stdin)["checks"] or []}["daemon"]
print(c.get("status",""), c.get("summary",""))'; }
logs_seen() { agent_ctl status --json 2>/dev/null | python3 -c 'import json,sys
print(json.load(sys.stdin).get("events",{}).get("log",0))'; }
wait_for() { # TIMEOUT_MS CMD…
        local end=$(($(now_ms) + $1)); shift
        while [ "$(now_ms)" -lt $end ]; do "$@" && return 0; sleep 0.02; done
        "$@"
}

# charon logs as a client connects; the lines reach the agent at the next heartbeat's answer
l0=$(logs_seen)
lab_connect "$D/lab" 1 >/dev/null || bad "client could not connect"
more_logs() { [ "$(logs_seen)" -gt "$l0" ]; }
daemon_says() { agent_ctl checks daemon 2>/dev/null | grep -q "$1"; }
wait_for 3000 more_logs \
        && ok "charon's log lines still reach the agent ($(($(logs_seen) - l0)) lines)" \
        || bad "no log line after the client connected ($(logs_seen) lines, $l0 before)"

for sig in TERM KILL; do
        t0=$(now_ms)
        # SIGKILL by hand: lab_stop would remove the socket file a crash leaves behind
        if [ $sig = TERM ]; then lab_stop "$D/lab" gw TERM >/dev/null; else kill -KILL "$GW_PID"; fi
        want="charon was stopped (orderly shutdown)"
        [ $sig = KILL ] && want="charon died without shutting down"
        if wait_for 3000 daemon_says "$want"; then
                ok "SIG$sig: '$want'"
                echo "figure: SIG$sig → daemon finding in $(($(now_ms) - t0)) ms (heartbeat 1 s)"
        else
                bad "SIG$sig: daemon check says '$(status_of)', wanted '$want'"
        fi
        lab_start "$D/lab" gw >/dev/null || bad "charon restart"
        . "$D/lab/lab.env"
        wait_for 5000 daemon_says "answers on VICI" \
                || bad "after SIG$sig: charon back, but the daemon check says '$(status_of)'"
done
testlib_end
