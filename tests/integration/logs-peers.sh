#!/usr/bin/env bash
# Failing peers named by their IKE identity, and an authentication incident that resolves on
# evidence, not on a quiet log. The lab in PSK mode with two clients; ikeheald (sanitizer build)
# with the sas and logs checks (window 8 s). Client 2 gets a wrong PSK and tries three times,
# 7 s apart (less than the window: the retry window is learnt from the gaps):
#
#   the incident names client2's identity and address (client2.lab.test@ADDR), scope local
#   the agent restarts and the log stays quiet for longer than the window: the incident stays
#     open (the refused peer is remembered; its retry window is three times its longest gap)
#   the agent stopped, client 2 repaired and connected meanwhile: the restarted agent resolves
#     it from charon's list of IKE_SAs, saying so
#   wrong again, one attempt, repaired and connected: resolved, the note says it established
#   wrong again, one attempt, then nothing for its retry window (the window): resolved, the
#     note says it made no attempt for that long
set -u
. "$(dirname "$0")/../lab/testlib.sh"
testlib_need_root

D=$(mktemp -d /tmp/ikh-logspeers-XXXXXX)
cleanup() {
        agent_stop
        lab_down "$D/lab" >/dev/null 2>&1
        [ -n "${IKH_KEEP:-}" ] && echo "kept $D" || rm -rf "$D"
}
trap cleanup EXIT

lab_up "$D/lab" --clients 2 >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
for r in gw 1 2; do lab_set_psk "$D/lab" $r right >/dev/null || bad "PSK mode ($r)"; done
lab_connect "$D/lab" 1 >/dev/null && lab_connect "$D/lab" 2 >/dev/null && lab_disconnect "$D/lab" 2 >/dev/null \
        && ok "PSK mode: both clients connect" || bad "PSK mode: clients cannot connect"
{ agent_yaml_head "$D"; cat <<YAML
checks:
  - kind: sas
  - kind: logs
    interval: 1s
    params: {window: 8s}
YAML
} >"$D/c.yaml"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "checks did not all report"

# "state|peers|note" of the newest authentication incident (resolved ones too)
auth_incident() {
        agent_ctl incidents --json 2>/dev/null | python3 -c '
import json, sys
items = {str(x["id"]): x for x in json.load(sys.stdin).get("incidents") or []}
for k in sorted(items, key=lambda x: -int(x)):
    i = items[k]
    if i.get("class") == "authentication":
        print("%s|%s|%s|%s" % (i.get("state"), i.get("scope"), i.get("peers"), i.get("note")))
        break'
}
wait_state() { # STATE TIMEOUT_MS → prints the incident line
        local t0 line; t0=$(date +%s%N)
        while :; do
                line=$(auth_incident)
                case $line in "$1"\|*) echo "$line"; return 0 ;; esac
                [ $((($(date +%s%N) - t0) / 1000000)) -gt "$2" ] && { echo "$line"; return 1; }
                sleep 0.1
        done
}

lab_set_psk "$D/lab" 2 wrong >/dev/null
for k in 1 2 3; do
        lab_connect "$D/lab" 2 >/dev/null 2>&1 && bad "client 2 connected with a wrong PSK"
        [ $k -lt 3 ] && sleep 7
done
last=$(date +%s%N)
line=$(wait_state open 4000)
case $line in
open\|local\|*"$CL_ID_2@$CL_IP_2"*) ok "incident names the peer by identity and address, scope local: $line" ;;
*) bad "incident: $line" ;;
esac
grep -q "$CL_ID_1" <<<"$line" && bad "the working client is named too: $line"

# The agent restarts, and the log stays quiet for longer than the window (8 s) — within client
# 2's retry window (three times its ~8 s gaps)
agent_stop || bad "agent did not stop cleanly"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
agent_wait_checks 8000 || bad "checks did not all report after the restart"
sleep 2.5 # the first complete diagnosis after the restart, and another check round
while [ $((($(date +%s%N) - last) / 1000000)) -lt 9000 ]; do sleep 0.2; done
quiet=$((($(date +%s%N) - last) / 1000000))
line=$(auth_incident)
case $line in open\|*"$CL_ID_2@$CL_IP_2"*) ok "agent restarted, log quiet for ${quiet} ms (window 8 s): still open, the peer remembered" ;;
*) bad "after the restart, log quiet for ${quiet} ms: $line" ;; esac

# established while the agent was down (still within client 2's retry window): charon's list of
# IKE_SAs tells the restarted agent
agent_stop || bad "agent did not stop cleanly"
lab_set_psk "$D/lab" 2 right >/dev/null
lab_connect "$D/lab" 2 >/dev/null || bad "client 2 cannot connect with the right PSK"
agent_start "$D" "$D/c.yaml" "$B" || exit 1
if line=$(wait_state resolved 8000); then
        case $line in *"$CL_ID_2@$CL_IP_2 is established (charon's list of IKE_SAs)"*)
                ok "established while the agent was down: resolved from charon's list of SAs: $line" ;;
        *) bad "resolved, but not from the list of SAs: $line" ;; esac
else
        bad "not resolved though the peer is established: $line"
fi

# wrong again, one attempt; repaired and connected while the agent watches
lab_disconnect "$D/lab" 2 >/dev/null
lab_set_psk "$D/lab" 2 wrong >/dev/null
lab_connect "$D/lab" 2 >/dev/null 2>&1
wait_state open 4000 >/dev/null || bad "no new incident for the second wrong PSK"
lab_set_psk "$D/lab" 2 right >/dev/null
lab_connect "$D/lab" 2 >/dev/null || bad "client 2 cannot connect with the right PSK"
if line=$(wait_state resolved 5000); then
        case $line in *"$CL_ID_2@$CL_IP_2 established an IKE_SA"*) ok "resolved when the peer established: $line" ;;
        *) bad "resolved, but the note does not say the peer established: $line" ;; esac
else
        bad "not resolved after the peer established: $line"
fi

# wrong again, one attempt, then nothing
lab_disconnect "$D/lab" 2 >/dev/null
lab_set_psk "$D/lab" 2 wrong >/dev/null
lab_connect "$D/lab" 2 >/dev/null 2>&1
wait_state open 4000 >/dev/null || bad "no new incident for the third wrong PSK"
t0=$(date +%s%N)
if line=$(wait_state resolved 16000); then
        ms=$((($(date +%s%N) - t0) / 1000000))
        case $line in *"made no attempt for 8s (its retry window)"*)
                ok "one attempt, then quiet for its retry window: resolved after ${ms} ms, saying so: $line" ;;
        *) bad "resolved, but the note does not say it stopped trying: $line" ;; esac
else
        bad "not resolved after the peer stopped trying: $line"
fi
agent_stop || bad "agent did not stop cleanly"
testlib_end
