#!/usr/bin/env bash
# ikeheald in the lab, for integration tests and `make demo`: start the agent on a config,
# talk to it with ikehealctl, wait for an incident of a class and scope, wait for it to be
# resolved. A bash library (source it after tests/lab/lab.sh); functions return non-zero with a
# message on stderr, never exit. Needs python3 for JSON.
#
#   agent_start DIR CONFIG [BUILD]   start ikeheald (BUILD/ikeheald, default $IKEHEAL_BUILD) with
#                                    its log in DIR/agent.log; AGENT_PID, AGENT_SOCK are set
#   agent_stop                       SIGTERM, wait (by PID)
#   agent_ctl ARGS…                  ikehealctl on the agent's socket
#   agent_wait_incident CLASS SCOPE TIMEOUT_MS
#                                    wait until an active incident of CLASS has SCOPE (or any
#                                    scope if SCOPE is "-"); prints its JSON and the elapsed ms
#                                    on stdout as "ms=N id=N scope=S reason=R peers=P
#                                    opened_usec=T" (T: the agent's CLOCK_REALTIME µs of opening,
#                                    to measure detection latency against `date +%s%N`)
#   agent_wait_resolved CLASS TIMEOUT_MS
#                                    wait until no incident of CLASS is active
#   agent_wait_checks TIMEOUT_MS     wait until every check has reported once
#   agent_yaml_head DIR [RUNBOOK_DIR] the agent:, control:, charon: and check_defaults: sections
#                                    every lab test starts its config with (state and socket in
#                                    DIR, the lab gateway's charon, no systemd unit, 2 s checks)
#   agent_run_of RUNBOOK             the newest run of RUNBOOK as "id state plan_hash note"
#   agent_wait_run RUNBOOK STATE TIMEOUT_MS
#                                    wait until that newest run is in STATE; prints agent_run_of

AGENT_PID=
AGENT_SOCK=
AGENT_BUILD=

_agent_err() { echo "agent: $*" >&2; }
_agent_ms() { local t; t=$(date +%s%N); echo $((t / 1000000)); }

agent_start() { # DIR CONFIG [BUILD]
        local dir=$1 conf=$2 b=${3:-${IKEHEAL_BUILD:-}}
        [ -x "$b/ikeheald" ] || { _agent_err "no ikeheald in '$b'"; return 1; }
        AGENT_BUILD=$b
        AGENT_SOCK=$(sed -n 's/^  socket: *//p' "$conf" | head -1)
        [ -n "$AGENT_SOCK" ] || { _agent_err "config $conf has no control.socket"; return 1; }
        chmod 0644 "$conf"
        "$b/ikeheald" -c "$conf" --check-config >"$dir/check-config.out" 2>&1 ||
                { _agent_err "--check-config refused $conf:"; sed 's/^/agent:   | /' "$dir/check-config.out" >&2; return 1; }
        "$b/ikeheald" -c "$conf" --log-target=stderr >"$dir/agent.log" 2>&1 &
        AGENT_PID=$!
        local t0; t0=$(_agent_ms)
        # a socket left by a killed agent exists before the new one listens: wait for an answer.
        # How fast the sanitizer build starts is not what any test asserts: on a loaded 2-core
        # machine it took over 5 s (the ASan runtime, the state logs replayed and synced), while
        # the process lived and then answered. So the wait lasts while the agent lives, up to 30 s
        # (a start that hangs still fails), and a slow start is said as a figure.
        until [ -S "$AGENT_SOCK" ] && "$b/ikehealctl" --socket "$AGENT_SOCK" --timeout 1 status >/dev/null 2>&1; do
                kill -0 "$AGENT_PID" 2>/dev/null || { _agent_err "ikeheald exited:"; tail -20 "$dir/agent.log" >&2; AGENT_PID=; return 1; }
                [ $(($(_agent_ms) - t0)) -gt 30000 ] && { _agent_err "no answer on the control socket after 30 s"; return 1; }
                sleep 0.02
        done
        [ $(($(_agent_ms) - t0)) -gt 5000 ] && echo "figure: ikeheald answered $(($(_agent_ms) - t0)) ms after its start (a slow start)"
        return 0
}

agent_stop() {
        [ -n "$AGENT_PID" ] || return 0
        kill -TERM "$AGENT_PID" 2>/dev/null
        wait "$AGENT_PID" 2>/dev/null
        local rc=$?
        AGENT_PID=
        return $rc
}

agent_ctl() {
        "$AGENT_BUILD/ikehealctl" --socket "$AGENT_SOCK" "$@"
}

# Print "id scope reason peers state" of the newest incident of CLASS (active ones only unless
# ALL=1), or nothing.
_agent_incident() { # CLASS
        agent_ctl incidents --json 2>/dev/null | python3 -c '
import json, sys, os
from datetime import datetime, timedelta, timezone
cls = sys.argv[1]
want_all = os.environ.get("ALL") == "1"
try:
    d = json.load(sys.stdin)
except Exception:
    sys.exit(0)
def usec(t):  # RFC 3339 (with µs) -> µs since the epoch
    return (datetime.fromisoformat(t.replace("Z", "+00:00")) - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
for i in sorted(d.get("incidents") or [], key=lambda x: -x["id"]):
    if i.get("class") != cls:
        continue
    if not want_all and i.get("state") == "resolved":
        continue
    print(i.get("id"), i.get("scope"), i.get("reason") or "-", i.get("peers") or "-", i.get("state"),
          usec(i["opened"]) if i.get("opened") else 0)
    break
' "$1"
}

agent_wait_incident() { # CLASS SCOPE TIMEOUT_MS
        local cls=$1 scope=$2 timeout=$3 t0 line
        t0=$(_agent_ms)
        while :; do
                line=$(_agent_incident "$cls")
                if [ -n "$line" ]; then
                        set -- $line
                        if [ "$scope" = - ] || [ "$2" = "$scope" ]; then
                                echo "ms=$(($(_agent_ms) - t0)) id=$1 scope=$2 reason=$3 peers=$4 opened_usec=$6"
                                return 0
                        fi
                fi
                [ $(($(_agent_ms) - t0)) -gt "$timeout" ] && {
                        _agent_err "no active $cls incident with scope $scope after ${timeout} ms (last: ${line:-none})"
                        return 1
                }
                sleep 0.05
        done
}

agent_wait_resolved() { # CLASS TIMEOUT_MS
        local cls=$1 timeout=$2 t0
        t0=$(_agent_ms)
        while [ -n "$(_agent_incident "$cls")" ]; do
                [ $(($(_agent_ms) - t0)) -gt "$timeout" ] && {
                        _agent_err "$cls incident still active after ${timeout} ms"
                        return 1
                }
                sleep 0.05
        done
        echo "ms=$(($(_agent_ms) - t0))"
}

agent_wait_checks() { # TIMEOUT_MS
        local timeout=$1 t0
        t0=$(_agent_ms)
        until agent_ctl checks --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin).get("checks") or []
sys.exit(0 if d and all("last" in c for c in d) else 1)'; do
                [ $(($(_agent_ms) - t0)) -gt "$timeout" ] && { _agent_err "checks not all reported after ${timeout} ms"; return 1; }
                sleep 0.05
        done
}

agent_yaml_head() { # DIR [RUNBOOK_DIR]
        cat <<YAML
agent:
  state_dir: $1/state
  last_good_after: 0s
${2:+  runbook_dirs: [$2]
}control:
  socket: $1/ctl.sock
charon:
  vici_socket: $GW_VICI
  unit: none
check_defaults: {interval: 2s, timeout: 3s, rise: 1, fall: 1}
YAML
}

agent_run_of() { # RUNBOOK
        agent_ctl runs --json 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin).get("runs") or []
for x in sorted(r, key=lambda x: -x["id"]):
    if x["runbook"] == sys.argv[1]:
        print(x["id"], x["state"], x.get("plan_hash", ""), (x.get("note") or "-").replace(" ", "_"))
        break' "$1" 2>/dev/null
}

agent_wait_run() { # RUNBOOK STATE TIMEOUT_MS
        local t0 line
        t0=$(_agent_ms)
        while :; do
                line=$(agent_run_of "$1")
                [ "$(echo "$line" | cut -d' ' -f2)" = "$2" ] && { echo "$line"; return 0; }
                [ $(($(_agent_ms) - t0)) -gt "$3" ] && { _agent_err "last run of $1: ${line:-none}, wanted $2"; return 1; }
                sleep 0.05
        done
}
