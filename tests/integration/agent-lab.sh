#!/usr/bin/env bash
# ikeheald against the real lab: `ikehealctl status` shows the gateway charon's version and SA
# counts read over VICI; ike-updown/child-updown events arrive when the client connects; charon
# killed → the agent sees the EOF at once; charon restarted → reconnect with backoff; a reload
# with a bad config is refused and the old config stays; SIGTERM stops cleanly. Runs the
# sanitizer build, so a leak or UB anywhere on these paths fails the test.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
B=${IKEHEAL_BUILD:-$top/build-san}
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
. "$top/tests/lab/lab.sh"

D=$(mktemp -d /tmp/ikh-agentlab-XXXXXX)
AP=
cleanup() {
        [ -n "$AP" ] && kill "$AP" 2>/dev/null && wait "$AP" 2>/dev/null
        lab_down "$D/lab" >/dev/null 2>&1
        rm -rf "$D"
}
trap cleanup EXIT
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
ctl() { "$B/ikehealctl" --socket "$D/ctl.sock" "$@"; }
jget() { python3 -c 'import json,sys
d=json.load(sys.stdin)
for k in sys.argv[1].split("."):
    d=d.get(k) if isinstance(d,dict) else None
print("" if d is None else d)' "$1"; }
wait_for() { # timeout_ms, command…
        local t=$1; shift
        for ((i = 0; i < t / 20; i++)); do "$@" && return 0; sleep 0.02; done
        return 1
}

lab_up "$D/lab" >/dev/null || { echo "lab did not come up"; exit 1; }
. "$D/lab/lab.env"
cat >"$D/c.yaml" <<YAML
agent:
  log_level: debug
  state_dir: $D/state
  last_good_after: 0s
control:
  socket: $D/ctl.sock
charon:
  vici_socket: $GW_VICI
  reconnect_min: 50ms
  reconnect_max: 400ms
YAML
chmod 0644 "$D/c.yaml"
"$B/ikeheald" -c "$D/c.yaml" --check-config && ok "--check-config accepts the lab config" || bad "--check-config"

"$B/ikeheald" -c "$D/c.yaml" --log-target=stderr >"$D/agent.log" 2>&1 &
AP=$!
wait_for 5000 test -S "$D/ctl.sock" && ok "control socket up" || bad "control socket never appeared"
wait_for 3000 sh -c "'$B/ikehealctl' --socket '$D/ctl.sock' status --json | grep -q '\"state\": \"connected\"'" \
        && ok "agent connected to charon" || bad "agent not connected"

s=$(ctl status --json)
want=$(lab_swanctl "$D/lab" gw --version --daemon | grep -o '[0-9][0-9.]*' | head -1)
[ -n "$want" ] && [ "$(echo "$s" | jget charon.version)" = "$want" ] \
        && ok "status shows charon version $(echo "$s" | jget charon.version) read over VICI" \
        || bad "charon version: $(echo "$s" | jget charon.version)"
[ "$(echo "$s" | jget ikesas.total)" = 0 ] && ok "0 IKE SAs before the client connects" || bad "ikesas before: $s"
mode=$(stat -c %a "$D/ctl.sock")
[ "$mode" = 660 ] && ok "control socket mode 0660" || bad "socket mode $mode"

t0=$(date +%s%N)
lab_connect "$D/lab" >/dev/null || bad "client could not connect"
wait_for 3000 sh -c "'$B/ikehealctl' --socket '$D/ctl.sock' status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"events\"][\"child_updown\"]>=1 else 1)'" \
        && ok "ike-updown/child-updown events received ($(( ($(date +%s%N) - t0) / 1000000 )) ms incl. connect)" \
        || bad "no updown events: $(ctl status --json)"
s=$(ctl status --json)
[ "$(echo "$s" | jget ikesas.total)" = 1 ] && [ "$(echo "$s" | jget childsas.total)" = 1 ] \
        && ok "status: 1 IKE SA, 1 CHILD SA" || bad "counts after connect: $s"
ctl status | grep -q '^IKE SAs: *1 total' && ok "text status shows the SA" || bad "text status: $(ctl status)"

# charon dies: the agent learns it from the socket EOF, not from a poll
kill -KILL "$GW_PID"
wait_for 2000 sh -c "'$B/ikehealctl' --socket '$D/ctl.sock' status --json | grep -q '\"state\": \"disconnected\"'" \
        && ok "charon SIGKILL seen as disconnected" || bad "disconnect not seen"
grep -q "lost connection to charon" "$D/agent.log" && ok "loss logged" || bad "loss not logged"
lab_start "$D/lab" gw >/dev/null || bad "charon restart"
wait_for 5000 sh -c "'$B/ikehealctl' --socket '$D/ctl.sock' status --json | grep -q '\"state\": \"connected\"'" \
        && ok "reconnected after charon restart" || bad "no reconnect"
[ "$(ctl status --json | jget events.connects)" = 2 ] && ok "2 connects counted" || bad "connects: $(ctl status --json | jget events.connects)"

# reload: a bad file is refused, the old config stays; a good edit is taken
cp "$D/c.yaml" "$D/good.yaml"
printf 'agent:\n  bogus_key: 1\n' >>"$D/c.yaml"
sed -i '0,/^agent:/!{/^agent:$/d}' "$D/c.yaml"
out=$(ctl reload 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "c.yaml:[0-9]*:[0-9]*: unknown key 'bogus_key'" \
        && ok "reload with a bad config refused with file:line:col ($out)" || bad "bad reload: rc=$rc $out"
[ "$(ctl status --json | jget reload_failures)" = 1 ] && ok "old config in force, failure counted" || bad "reload_failures"
kill -HUP "$AP"; sleep 0.3
grep -q "reload failed: .*keeping the old configuration" "$D/agent.log" && ok "SIGHUP reload refused too" || bad "SIGHUP refusal not logged"
sed 's/^control:$/control:\n  group: nogroup\n  reader_groups: [nogroup]/' "$D/good.yaml" >"$D/c.yaml"
ctl reload >/dev/null && [ "$(ctl status --json | jget reloads)" = 1 ] && ok "good reload accepted" || bad "good reload"

# a real second uid: 65534 in group nogroup. The reload above made nogroup the socket's group
# and a reader group, so it may read but not change state.
chmod 0755 "$D"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$B/ikehealctl" --socket "$D/ctl.sock" status 2>&1); rc=$?
[ $rc = 0 ] && echo "$out" | grep -q "^Charon: *connected" && ok "uid 65534 (reader group) gets status" || bad "reader status: rc=$rc $out"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$B/ikehealctl" --socket "$D/ctl.sock" reload 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "permission denied: uid 65534" && ok "uid 65534 refused reload: $out" || bad "uid 65534 reload: rc=$rc $out"
grep -q "refused\|denied" "$D/agent.log" && ok "refusal logged by the agent" || bad "refusal not logged"

kill -TERM "$AP"; wait "$AP"; rc=$?; AP=
[ $rc = 0 ] && ok "SIGTERM: clean exit" || bad "exit status $rc"
[ ! -e "$D/ctl.sock" ] && ok "control socket removed on exit" || bad "socket left behind"
grep -qE "ERROR: (Address|Undefined|Leak)Sanitizer|runtime error" "$D/agent.log" && bad "sanitizer report in agent log" || ok "no sanitizer report"
[ $fails -gt 0 ] && { echo "--- agent log"; tail -30 "$D/agent.log"; }
echo "$fails failed"
[ $fails = 0 ]
