#!/usr/bin/env bash
# Fleet slots on a real 3-member etcd cluster on loopback (tests/lab/etcd.sh), through the
# agent's etcd client (common/etcd_client.c) driven by tests/tools/fleet-member:
#   K=1, two members with the same disruptive step: one takes the slot, the other waits (and
#        says so, naming the holder), then takes it once it is freed
#   the holder SIGKILLed: its lease (TTL 2 s) lapses, the slot frees itself, the waiter proceeds
#   quorum lost (2 of 3 members stopped): no slot is taken; the member says etcd is unavailable
#        and escalates at its deadline
set -u
. "$(dirname "$0")/../lab/testlib.sh"
[ -x /usr/bin/etcd ] || { echo "etcd-server not installed (make deps)"; exit 77; }
. "$top/tests/lab/etcd.sh"
FM=$B/tools/fleet-member
[ -x "$FM" ] || { echo "no $FM"; exit 1; }

D=$(mktemp -d /tmp/ikh-fleet-XXXXXX)
PIDS=()
cleanup() {
        local p
        for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
        etcd_down "$D/etcd"
        rm -rf "$D"
}
trap cleanup EXIT
ms() { echo $(($(date +%s%N) / 1000000)); }
wait_for() { local end=$(($(ms) + $1)); shift; until "$@"; do [ "$(ms)" -ge $end ] && return 1; sleep 0.05; done; }

etcd_up "$D/etcd" || { echo "etcd cluster did not come up"; exit 1; }

# --- K=1: one heals, the other waits, then heals ------------------------------------------------
"$FM" "$ETCD_ENDPOINTS" /ikh/ gw1 1 2 3 30 >"$D/a.out" 2>&1 &
a=$!; PIDS+=("$a")
wait_for 5000 grep -q "^acquired" "$D/a.out" || bad "gw1 took no slot: $(cat "$D/a.out")"
"$FM" "$ETCD_ENDPOINTS" /ikh/ gw2 1 2 1 30 >"$D/b.out" 2>&1 &
b=$!; PIDS+=("$b")
wait "$a"; ra=$?
wait "$b"; rb=$?
[ $ra = 0 ] && grep -q "^acquired slot 0" "$D/a.out" && ok "gw1 took the slot and released it" || bad "gw1: rc $ra, $(cat "$D/a.out")"
grep -q "^waiting: all 1 slot(s) held (slot 0: gw1)" "$D/b.out" && ok "gw2 waited, naming the holder" || bad "gw2 did not say it waited: $(cat "$D/b.out")"
[ $rb = 0 ] && grep -q "^acquired slot 0" "$D/b.out" && ok "gw2 took the slot after gw1 ($(grep ^acquired "$D/b.out"))" ||
        bad "gw2: rc $rb, $(cat "$D/b.out")"

# --- the holder dies: its lease lapses, the slot frees itself ------------------------------------
"$FM" "$ETCD_ENDPOINTS" /ikh/ gw3 1 2 60 30 >"$D/c.out" 2>&1 &
c=$!; PIDS+=("$c")
wait_for 5000 grep -q "^acquired" "$D/c.out" || bad "gw3 took no slot"
"$FM" "$ETCD_ENDPOINTS" /ikh/ gw4 1 2 1 30 >"$D/d.out" 2>&1 &
d=$!; PIDS+=("$d")
wait_for 5000 grep -q "^waiting" "$D/d.out" || bad "gw4 is not waiting: $(cat "$D/d.out")"
t0=$(ms)
kill -KILL "$c"; wait "$c" 2>/dev/null
wait_for 15000 grep -q "^acquired" "$D/d.out" && ok "gw3 SIGKILLed: gw4 took the slot $(($(ms) - t0)) ms later (lease TTL 2 s)" ||
        bad "gw4 never got the slot: $(cat "$D/d.out")"
wait "$d"

# --- quorum lost: nothing is taken, and the member says why -------------------------------------
etcd_stop_member "$D/etcd" 2
etcd_stop_member "$D/etcd" 3
"$FM" "$ETCD_ENDPOINTS" /ikh/ gw5 1 2 1 8 >"$D/e.out" 2>&1 &
e=$!; PIDS+=("$e")
wait "$e"; re=$?
grep -q "^held: etcd unavailable" "$D/e.out" && ok "no quorum: the step is held ($(grep -m1 ^held "$D/e.out" | cut -c1-120))" ||
        bad "no 'held' line: $(cat "$D/e.out")"
! grep -q "^acquired" "$D/e.out" && [ $re = 2 ] && grep -q "^escalated" "$D/e.out" &&
        ok "no slot taken without quorum; escalated at the deadline" || bad "rc $re: $(cat "$D/e.out")"
testlib_end
